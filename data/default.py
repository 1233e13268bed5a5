"""The embedded default dataset: ten classes of shapes, generated here, so nothing is downloaded.

Each image shows one shape (disc, ring, square, square outline, triangle, plus, cross, two bars
across, two bars down, T) of random size, place, small rotation and colour, on a background of
another random colour with a random gradient and pixel noise. The shapes are easy for a convnet and
hard for a linear classifier, which cannot see through the position and the colours (the README gives
both figures). Everything is drawn from generators seeded by the batch number and the image size,
so every batch is the same on every machine and can be made alone.

Batches 1-5 are for training and 6 for testing. Images are size x size (32 by default; 256 so the
paper's nets can run on it), 2000 a batch at 32 (fewer at larger sizes, the same bytes a batch).
"""
import threading

import numpy as np

from .provider import Provider
from . import register_provider

CLASSES = ("disc", "ring", "square", "outline", "triangle", "plus", "cross", "bars", "columns", "tee")
SEED = 20121203      # the NIPS 2012 conference: any fixed number would do


def _box(u, v, half_u, half_v):
    """Signed distance (approximate) to an axis-aligned box centred at 0."""
    return np.maximum(np.abs(u) - half_u, np.abs(v) - half_v)


def _plus(u, v):
    return np.minimum(_box(u, v, 0.25, 0.95), _box(u, v, 0.95, 0.25))


def _distance(kind, u, v):
    """Signed distance, in units of the shape's radius, from (u, v) to the shape: negative inside."""
    if kind == 0:
        return np.hypot(u, v) - 1
    if kind == 1:
        return np.abs(np.hypot(u, v) - 0.78) - 0.22
    if kind == 2:
        return _box(u, v, 0.85, 0.85)
    if kind == 3:
        return np.abs(_box(u, v, 0.78, 0.78)) - 0.2
    if kind == 4:      # apex up (image rows grow downwards)
        side = (1.7 * np.abs(u) - 0.95 * v - 0.95) / np.hypot(1.7, 0.95)
        return np.maximum(v - 0.7, side)
    if kind == 5:
        return _plus(u, v)
    if kind == 6:
        return _plus((u - v) / np.sqrt(2), (u + v) / np.sqrt(2))
    if kind == 7:
        return np.maximum(np.abs(u) - 0.95, np.abs(np.abs(v) - 0.45) - 0.2)
    if kind == 8:
        return np.maximum(np.abs(v) - 0.95, np.abs(np.abs(u) - 0.45) - 0.2)
    return np.minimum(_box(u, v + 0.72, 0.95, 0.22), _box(u, v, 0.22, 0.95))


def render(rng, n, size):
    """n images (uint8, 3 x size x size x n) and their labels, drawn from rng."""
    labels = rng.integers(0, len(CLASSES), n)
    centre = rng.uniform(0.32, 0.68, (2, n)) * size
    radius = rng.uniform(0.17, 0.3, n) * size
    angle = rng.uniform(-np.pi / 8, np.pi / 8, n)
    foreground = rng.uniform(0, 255, (3, n))
    background = rng.uniform(0, 255, (3, n))
    # Keep the shape visible: push the colours apart where they are too alike.
    gap = foreground - background
    close = np.linalg.norm(gap, axis=0) < 90
    background[:, close] = np.where(foreground[:, close] > 127, foreground[:, close] - 110,
                                    foreground[:, close] + 110)
    slope = rng.normal(0, 40, (2, n))
    noise = rng.normal(0, 12, (3, size, size, n)).astype(np.float32)

    grid = (np.arange(size, dtype=np.float32) + 0.5)
    y, x = grid[:, None, None], grid[None, :, None]
    dx, dy = (x - centre[0]) / radius, (y - centre[1]) / radius
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    d = np.empty((size, size, n), dtype=np.float32)
    for kind in range(len(CLASSES)):
        mine = labels == kind
        if mine.any():
            d[..., mine] = _distance(kind, u[..., mine], v[..., mine])
    alpha = np.clip(0.5 - d * radius, 0, 1)            # a one-pixel antialiased edge
    ramp = (slope[0] * (x / size - 0.5) + slope[1] * (y / size - 0.5))
    images = (background[:, None, None, :] + ramp) * (1 - alpha) + foreground[:, None, None, :] * alpha
    images += noise
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), labels.astype(np.int64)


@register_provider("default")
class DefaultProvider(Provider):
    """The embedded shapes. Options: image_size (32)."""

    def __init__(self, path=None, image_size=32):
        if path is not None:
            from convnet.errors import DataError
            raise DataError("the default provider is generated, not read: give --data-path only "
                            "with --data-provider cifar or imagenet")
        self.size = int(image_size)
        self.image_shape = (3, self.size, self.size)
        self.num_classes = len(CLASSES)
        self.label_names = CLASSES
        self.batch_numbers = [1, 2, 3, 4, 5, 6]
        self.default_train_range, self.default_test_range = [1, 2, 3, 4, 5], [6]
        self.per_batch = max(64, 2000 * 32 * 32 // (self.size * self.size))
        self._cache = {}
        self._lock = threading.Lock()        # the background loader and the tests both read

    @property
    def style_2012(self):
        """At ImageNet sizes the embedded data stands in for ImageNet, below for CIFAR."""
        return "imagenet" if self.size > 64 else "cifar"

    def describe(self):
        return f"the embedded shapes, {self.size}x{self.size}"

    def read_batch(self, number):
        with self._lock:
            if number not in self._cache:
                from . import shapes_cache
                batch = shapes_cache.load(number, self.size, self.per_batch)
                if batch is None:
                    batch = render(np.random.default_rng([SEED, number, self.size]), self.per_batch, self.size)
                    shapes_cache.keep(number, self.size, *batch)
                if self.size > 64:      # large images: keep one batch, not six
                    self._cache.clear()
                self._cache[number] = batch
            return self._cache[number]

    def batch_size(self, number):
        return self.per_batch
