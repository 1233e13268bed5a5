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
    assert len(CLASSES) == 10 and counts.min() > 150 and p.batch_numbers == [1, 2, 3, 4, 5, 6]
    big = get_provider("default", image_size=256)
    images, labels = big.read_batch(1)
    assert images.shape == (3, 256, 256, 64)
    assert big.default_train_range == [1, 2, 3, 4, 5] and big.default_test_range == [6]


def test_batches_differ():
    p = get_provider("default")
    assert not np.array_equal(p.read_batch(1)[0], p.read_batch(2)[0])


# Points of each shape (inside) and beside it (outside), in units of its radius, v downwards.
SHAPE_POINTS = {
    "disc": ([(0, 0), (0.9, 0), (0, -0.9), (0.6, 0.6)], [(1.1, 0), (0.75, 0.75)]),
    "ring": ([(0.78, 0), (0, -0.95), (0.55, 0.55)], [(0, 0), (0.5, 0), (1.05, 0)]),
    "square": ([(0, 0), (0.8, 0.8), (-0.8, 0.8)], [(0.9, 0), (0, -0.9)]),
    "outline": ([(0.78, 0), (0.78, 0.78), (0, -0.9)], [(0, 0), (0.5, 0.5), (1.0, 0)]),
    "triangle": ([(0, 0), (0, -0.9), (0.8, 0.6), (-0.8, 0.6)], [(0, -1.1), (0, 0.75), (0.95, 0.6), (0.6, -0.6)]),
    "plus": ([(0, 0), (0.9, 0), (0, 0.9), (-0.9, 0)], [(0.6, 0.6), (-0.6, -0.6)]),
    "cross": ([(0, 0), (0.6, 0.6), (-0.6, 0.6), (0.6, -0.6)], [(0.9, 0), (0, 0.9), (0.6, 0.22)]),   # arms 0.5 wide
    "bars": ([(0, 0.45), (0.9, -0.45), (-0.9, 0.6)], [(0, 0), (0, 0.8), (1.0, 0.45)]),
    "columns": ([(0.45, 0), (-0.45, 0.9), (0.6, -0.9)], [(0, 0), (0.8, 0), (0.45, 1.0)]),
    "tee": ([(0, 0.5), (0.8, -0.72), (-0.8, -0.72), (0, -0.72)], [(0.8, 0.5), (-0.5, 0), (0, 1.0)]),
}


def test_each_class_is_the_shape_its_name_says():
    from convnet.data.default import _distance
    assert set(SHAPE_POINTS) == set(CLASSES)
    for kind, name in enumerate(CLASSES):
        inside, outside = (np.array(points, dtype=np.float64).T for points in SHAPE_POINTS[name])
        assert np.all(_distance(kind, *inside) < 0), name
        assert np.all(_distance(kind, *outside) > 0), name


class Scripted:
    """An rng whose draws are given: each call returns the next value, after checking the range asked."""

    def __init__(self, *draws):
        self.draws, self.asked = list(draws), []

    def _next(self, *asked):
        self.asked.append(asked)
        return np.asarray(self.draws.pop(0), dtype=np.float64)

    def integers(self, lo, hi, n):
        return self._next("integers", lo, hi, n).astype(np.int64)

    def uniform(self, lo, hi, shape):
        return self._next("uniform", lo, hi, shape)

    def normal(self, mean, sd, shape):
        given = self._next("normal", mean, sd, shape)
        return np.zeros(shape) if given.ndim == 0 else given


def test_an_image_is_its_shape_in_its_colour_on_the_background():
    """Two 32x32 images drawn with given numbers: a disc of radius 8 at row 16, column 12 and a square turned
    by pi/8 at the centre, whose background colour is too near its own and is set 110 away from it."""
    from convnet.data.default import render
    rng = Scripted([0, 2], [[12 / 32, 0.5], [0.5, 0.5]], [0.25, 0.25],        # centres and radii in image sizes
                   [0, np.pi / 8], [[200, 100], [30, 140], [60, 100]], [[10, 120], [240, 120], [70, 60]],
                   [[40, 0], [-20, 0]], None)                              # the slopes of the gradient; no noise
    images, labels = render(rng, 2, 32)
    assert labels.tolist() == [0, 2]
    disc, square = images[..., 0].astype(int), images[..., 1].astype(int)
    grid = np.arange(32) + 0.5
    inside = np.hypot(grid[None, :] - 12, grid[:, None] - 16) < 7.5
    outside = np.hypot(grid[None, :] - 12, grid[:, None] - 16) > 8.5
    assert np.all(disc[:, inside] == np.array([200, 30, 60])[:, None])
    ramp = 40 * (grid[None, :] / 32 - 0.5) - 20 * (grid[:, None] / 32 - 0.5)      # across, then down
    assert np.all(disc[2][outside] == np.rint(70 + ramp)[outside])
    # the square's background (120, 120, 60) is 49 from its colour (100, 140, 100): it becomes its colour
    # + 110 in each channel, - 110 in a channel above 127
    assert square[:, 0, 0].tolist() == [210, 30, 210] and square[:, 16, 16].tolist() == [100, 140, 100]
    c, s = np.cos(np.pi / 8), np.sin(np.pi / 8)
    u = (c * (grid[None, :] - 16) + s * (grid[:, None] - 16)) / 8      # the square's own axes
    v = (-s * (grid[None, :] - 16) + c * (grid[:, None] - 16)) / 8
    assert np.all(square[0][np.maximum(abs(u), abs(v)) < 0.85 - 1 / 8] == 100)
    assert np.all(square[0][np.maximum(abs(u), abs(v)) > 0.85 + 1 / 8] == 210)
    assert [a[0] for a in rng.asked] == ["integers", "uniform", "uniform", "uniform", "uniform", "uniform",
                                         "normal", "normal"]
    assert rng.asked[1][1:3] == (0.32, 0.68) and rng.asked[2][1:3] == (0.17, 0.3)
    assert rng.asked[4][1:3] == rng.asked[5][1:3] == (0, 255)
    assert rng.asked[6][1:3] == (0, 40) and rng.asked[7][1:3] == (0, 12)
