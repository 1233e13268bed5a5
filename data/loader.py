"""Minibatches in a deterministic order, prepared in a background thread.

An epoch visits the training batches in an order drawn from (seed, epoch), and the images of each
batch in an order drawn the same way, mini at a time; minibatch k of epoch e is augmented with a
generator seeded by (seed, e, k). So any minibatch can be made again from three numbers: a resumed
run sees exactly what an uninterrupted run would have, whichever thread prepared it.
"""
import queue
import threading

import numpy as np

ORDER, AUGMENT = 0x0BDE, 0xA06E


def epoch_plan(provider, batches, mini, seed, epoch):
    """[(batch number, image indices)] for every minibatch of the epoch, in order."""
    rng = np.random.default_rng([seed, epoch, ORDER])
    plan = []
    for number in rng.permutation(np.asarray(batches)):
        order = rng.permutation(provider.batch_size(int(number)))
        plan.extend((int(number), order[i:i + mini]) for i in range(0, order.size, mini))
    return plan


def labels_row(labels):
    return labels.astype(np.float32).reshape(1, -1)


class TrainStream:
    """The training minibatches of one epoch from minibatch `start` on: (k, [images, labels])."""

    def __init__(self, provider, batches, augmentation, mini, seed, epoch, start=0, prefetch=2):
        self.plan = epoch_plan(provider, batches, mini, seed, epoch)
        self.provider, self.augmentation = provider, augmentation
        self.seed, self.epoch, self.start = seed, epoch, start
        self._queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, daemon=True, name="convnet-loader")
        self._thread.start()

    def __len__(self):
        return len(self.plan)

    def make(self, k):
        number, indices = self.plan[k]
        images, labels = self.provider.read_batch(number)
        rng = np.random.default_rng([self.seed, self.epoch, k, AUGMENT])
        return [self.augmentation.train(images[..., indices], rng), labels_row(labels[indices])]

    def _produce(self):
        try:
            for k in range(self.start, len(self.plan)):
                item = (k, self.make(k))
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as e:        # handed to the consumer, raised there
            self._queue.put(e)
            return
        self._queue.put(None)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


def evaluation_minibatches(provider, batches, mini):
    """(batch number, image indices) of the test range, in order."""
    for number in batches:
        size = provider.batch_size(number)
        for i in range(0, size, mini):
            yield number, np.arange(i, min(i + mini, size))
