"""The embedded dataset: deterministic, balanced, at any size."""
import numpy as np

import pytest

from convnet.data import get_provider
from convnet.data.default import CLASSES


@pytest.fixture(autouse=True)
def drawn_here(tmp_path, monkeypatch):
    """An empty disk cache: these tests are of the drawing, not of batches kept by earlier runs."""
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path))


def test_every_batch_is_the_same_made_alone_or_after_others(tmp_path, monkeypatch):
    a = get_provider("default").read_batch(4)
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path / "another"))       # drawn again, not read back
    p = get_provider("default")
    for n in (1, 2, 3):
        p.read_batch(n)
    b = p.read_batch(4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_shapes_sizes_and_classes():
    p = get_provider("default")
    images, labels = p.read_batch(6)
    assert images.shape == (3, 32, 32, 2000) and images.dtype == np.uint8
    counts = np.bincount(labels, minlength=10)
    assert len(CLASSES) == 10 and counts.min() > 150
    big = get_provider("default", image_size=256)
    images, labels = big.read_batch(1)
    assert images.shape == (3, 256, 256, 64)
    assert big.default_train_range == [1, 2, 3, 4, 5] and big.default_test_range == [6]


def test_batches_differ():
    p = get_provider("default")
    assert not np.array_equal(p.read_batch(1)[0], p.read_batch(2)[0])
