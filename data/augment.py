"""From a provider's stored uint8 images to the net's float32 input, as the paper prepared them
(section 4.1), for any provider:

- the training set's mean image is subtracted from every image;
- training: a random crop of inner x inner pixels and, with probability 1/2, its horizontal
  reflection; and PCA colour noise: every pixel of an image gets P (alpha * sigma) added, where the
  columns of P are the principal components of the training pixels' RGB values, sigma the standard
  deviation along each, and alpha ~ N(0, c^2) drawn once per image per use, c = --color-noise (the
  paper: 0.1). The paper's text says eigenvalues; its 2012 code scaled by the standard deviations,
  which is what this does;
- test: the centre crop; multiview: the four corner crops and the centre crop and their
  reflections, ten views whose softmax outputs are averaged.

Images stay in the engine's layout, (channels, rows, cols, images).
"""
import numpy as np


class Augmentation:
    def __init__(self, mean, crop=None, color_noise=0.0, pca=None):
        self.mean = mean.astype(np.float32)[..., None]
        C, H, W = mean.shape
        self.crop = crop or min(H, W)
        if self.crop > min(H, W):
            from convnet.errors import DataError
            raise DataError(f"--crop {crop} is larger than the {H}x{W} images")
        self.border = (H - self.crop, W - self.crop)
        self.color_noise = color_noise
        self.pca = pca

    @property
    def shape(self):
        """The per-image shape the net sees."""
        return (self.mean.shape[0], self.crop, self.crop)

    def _centred(self, images):
        return images.astype(np.float32) - self.mean

    def train(self, images, rng):
        """Random crops, random reflections and colour noise; rng drives every draw."""
        x = self._centred(images)
        n = x.shape[3]
        oy = rng.integers(0, self.border[0] + 1, n)
        ox = rng.integers(0, self.border[1] + 1, n)
        flip = rng.integers(0, 2, n).astype(bool)
        steps = np.arange(self.crop)
        rows = oy[None, :] + steps[:, None]                                    # (crop, n)
        cols = ox[None, :] + np.where(flip[None, :], self.crop - 1 - steps[:, None], steps[:, None])
        out = x[:, rows[:, None, :], cols[None, :, :], np.arange(n)[None, None, :]]
        if self.color_noise > 0:
            stdevs, vectors = self.pca
            alpha = rng.normal(0.0, self.color_noise, (3, n)).astype(np.float32)
            out += (vectors @ (alpha * stdevs[:, None]))[:, None, None, :]
        return np.ascontiguousarray(out)

    def _crop(self, x, y0, x0):
        return x[:, y0:y0 + self.crop, x0:x0 + self.crop, :]

    def test(self, images):
        """The centre crop."""
        x = self._centred(images)
        return np.ascontiguousarray(self._crop(x, self.border[0] // 2, self.border[1] // 2))

    def views(self, images):
        """The ten views of the multiview test: four corners and the centre, then their reflections."""
        x = self._centred(images)
        by, bx = self.border
        corners = [(0, 0), (0, bx), (by // 2, bx // 2), (by, 0), (by, bx)]
        crops = [self._crop(x, y0, x0) for y0, x0 in corners]
        return [np.ascontiguousarray(c) for c in crops] + [np.ascontiguousarray(c[:, :, ::-1]) for c in crops]
