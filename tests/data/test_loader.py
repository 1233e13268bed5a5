"""Minibatch order and preparation depend only on (seed, epoch, minibatch)."""
import itertools

import numpy as np

from convnet.data import get_provider
from convnet.data.augment import Augmentation
from convnet.data.loader import TrainStream, epoch_plan

P = get_provider("default")


def test_an_epoch_visits_every_training_image_once():
    plan = epoch_plan(P, [1, 2, 3], 128, seed=4, epoch=1)
    seen = sorted((n, int(i)) for n, idx, _ in plan for i in idx)
    assert seen == sorted((n, i) for n in (1, 2, 3) for i in range(P.batch_size(n)))
    assert len(plan) == 3 * 16           # 2000 images a batch: 15 of 128 and one of 80
    # each batch's minibatches together, and its position in the epoch (for the 2012 progress)
    assert [position for _, _, position in plan] == [p for p in range(3) for _ in range(16)]
    assert len({number for number, _, position in plan if position == 1}) == 1


def test_the_order_depends_on_seed_and_epoch_only():
    first = epoch_plan(P, [1, 2], 100, seed=4, epoch=1)
    again = epoch_plan(P, [1, 2], 100, seed=4, epoch=1)
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    other = epoch_plan(P, [1, 2], 100, seed=4, epoch=2)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other))


def test_a_stream_started_midway_prepares_the_same_minibatches():
    aug = Augmentation(P.mean_image([1]), crop=28)
    full = TrainStream(P, [1], aug, 256, seed=1, epoch=3)
    batches = dict(full)
    late = TrainStream(P, [1], aug, 256, seed=1, epoch=3, start=5)
    for k, (images, labels) in late:
        np.testing.assert_array_equal(images, batches[k][0])
        np.testing.assert_array_equal(labels, batches[k][1])
    assert sorted(batches) == list(range(8))


def test_an_error_in_the_loader_thread_reaches_the_trainer():
    class Broken:
        batch_size = P.batch_size

        def read_batch(self, n):
            raise OSError("disk on fire")
    stream = TrainStream(Broken(), [1], Augmentation(P.mean_image([1])), 256, seed=1, epoch=1, threads=3)
    try:
        next(iter(stream))
    except OSError as e:
        assert "disk on fire" in str(e)
    else:
        raise AssertionError("no error")


def test_the_number_of_loader_threads_does_not_change_the_minibatches():
    aug = Augmentation(P.mean_image([1]), crop=28, color_noise=0.1, pca=P.color_pca([1]))
    one = dict(TrainStream(P, [1, 2], aug, 300, seed=2, epoch=1, threads=1))
    four = dict(TrainStream(P, [1, 2], aug, 300, seed=2, epoch=1, threads=4))
    assert sorted(one) == sorted(four) == list(range(14))
    for k in one:
        np.testing.assert_array_equal(one[k][0], four[k][0])


def test_every_minibatch_and_epoch_draws_its_own_augmentation():
    """Colour noise alone (whole images, no reflections) adds one RGB shift to each image, which the test
    reads back: no two of 2 epochs x 6 minibatches x 50 images share one, and an image seen in both
    epochs gets two. A draw keyed without the epoch or the minibatch would repeat them."""
    aug = Augmentation(P.mean_image([1]), color_noise=0.1, pca=P.color_pca([1]), flip=False)
    images, _ = P.read_batch(1)
    shifts = {}
    for epoch in (1, 2):
        stream = TrainStream(P, [1], aug, 50, seed=3, epoch=epoch, threads=2)
        for k, (x, _) in itertools.islice(iter(stream), 6):
            _, indices, _ = stream.plan[k]
            plain = images[..., indices].astype(np.float32) - aug.mean
            shift = (x - plain).reshape(3, -1, len(indices))
            assert np.abs(shift - shift[:, :1]).max() < 1e-4                      # one shift per image
            for j, i in enumerate(indices):
                shifts[(epoch, int(i))] = tuple(np.round(shift[:, 0, j], 5))
        stream.close()
    assert len(set(shifts.values())) == len(shifts) == 2 * 6 * 50
    both = [i for e, i in shifts if e == 1 and (2, i) in shifts]
    assert all(shifts[(1, i)] != shifts[(2, i)] for i in both)
