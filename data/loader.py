"""Minibatches in a deterministic order, prepared by background threads.

An epoch visits the training batches in an order drawn from (seed, epoch), and the images of each
batch in an order drawn the same way, mini at a time (or, with --augment 2012, in the fixed order of
the 2012 providers); minibatch k of epoch e is augmented with a
generator seeded by (seed, e, k). So any minibatch can be made again from three numbers: a resumed
run sees exactly what an uninterrupted run would have, whichever thread prepared it and however many
threads there are. The threads work ahead of the trainer (NumPy releases the GIL in its copies and
arithmetic), and the trainer takes their minibatches in order.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ORDER, AUGMENT = 0x0BDE, 0xA06E


def epoch_plan(provider, batches, mini, seed, epoch, ordered=False):
    """[(batch number, image indices, position of the batch in the epoch)] for every minibatch of
    the epoch, in order. ordered: the batches as listed and their images as stored, every epoch
    (the 2012 providers' order, --augment 2012)."""
    rng = np.random.default_rng([seed, epoch, ORDER])
    plan = []
    numbers = np.asarray(batches) if ordered else rng.permutation(np.asarray(batches))
    for position, number in enumerate(numbers):
        size = provider.batch_size(int(number))
        order = np.arange(size) if ordered else rng.permutation(size)
        plan.extend((int(number), order[i:i + mini], position) for i in range(0, order.size, mini))
    return plan


def labels_row(labels):
    return labels.astype(np.float32).reshape(1, -1)


def default_threads():
    """One loader thread per core but one, at most eight."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class TrainStream:
    """The training minibatches of one epoch from minibatch `start` on: (k, [images, labels])."""

    def __init__(self, provider, batches, augmentation, mini, seed, epoch, start=0, threads=None):
        self.plan = epoch_plan(provider, batches, mini, seed, epoch, getattr(augmentation, "ordered", False))
        self.provider, self.augmentation = provider, augmentation
        self.seed, self.epoch, self.start = seed, epoch, start
        self.threads = threads or default_threads()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="convnet-loader")

    def __len__(self):
        return len(self.plan)

    def batches_done(self, k):
        """The data batches of this epoch trained before minibatch k's (for the 2012 progress)."""
        return self.plan[k][2]

    def make(self, k):
        number, indices, _ = self.plan[k]
        images, labels = self.provider.read_batch(number)
        rng = np.random.default_rng([self.seed, self.epoch, k, AUGMENT])
        return [self.augmentation.train(self.augmentation.select(images, indices), rng),
                labels_row(labels[indices])]

    def __iter__(self):
        ahead = 2 * self.threads           # minibatches in the making at once
        pending = {}
        for k in range(self.start, len(self.plan)):
            for j in range(k, min(k + ahead, len(self.plan))):
                if j not in pending:
                    pending[j] = self._pool.submit(self.make, j)
            yield k, pending.pop(k).result()           # an error in a loader thread is raised here

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


def evaluation_minibatches(provider, batches, mini):
    """(batch number, image indices) of the test range, in order."""
    for number in batches:
        size = provider.batch_size(number)
        for i in range(0, size, mini):
            yield number, np.arange(i, min(i + mini, size))
