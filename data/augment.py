"""From a provider's stored uint8 images to the net's float32 input, as the paper prepared them
(section 4.1), for any provider:

- the training set's mean image is subtracted from every image;
- training: a random crop of inner x inner pixels and, with probability 1/2, its horizontal
  reflection, as cuda-convnet's providers did: reflections come with crops, so a net trained on
  whole images (no --crop) sees them as they are, unless flip=True asks for reflections anyway
  (--flip; --no-flip turns them off under crops); and PCA colour noise: every pixel of an image
  gets P (alpha * sigma) added, where the columns of P are the principal components of the training
  pixels' RGB values, sigma the standard deviation along each, and alpha ~ N(0, c^2) drawn once per
  image per use, c = --color-noise (the paper: 0.1). The paper's text says eigenvalues; its 2012 code scaled by the standard deviations,
  which is what this does;
- test: the centre crop; multiview: the four corner crops and the centre crop and their
  reflections, ten views whose softmax outputs are averaged.

What comes out is in the engine's layout, (channels, rows, cols, images), float32. What goes in is a
provider's batch: the same layout, or images first, (images, channels, rows, cols), which is faster for
large images (a minibatch is a contiguous selection, each crop a slice, and only the crop is converted).
Both layouts draw the same numbers in the same order, so a seed gives the same crops either way.
"""
import numpy as np


class Augmentation:
    def __init__(self, mean, crop=None, color_noise=0.0, pca=None, images_first=False, flip=None):
        self.images_first = images_first
        self.mean_image = mean.astype(np.float32)
        self.mean = self.mean_image[..., None]
        C, H, W = mean.shape
        self.crop = crop or min(H, W)
        if self.crop > min(H, W):
            from convnet.errors import OptionError
            raise OptionError(f"--crop {crop} is larger than the {H}x{W} images")
        self.border = (H - self.crop, W - self.crop)
        # None: reflect exactly when cropping, as cuda-convnet did (convdata_cifar.py, convdata.py); images
        # wider than tall are cropped along their columns even at a crop of their height
        self.flip = self.cropping if flip is None else bool(flip)
        self.color_noise = color_noise
        self.pca = pca

    @property
    def cropping(self):
        """Whether the net sees crops of the images rather than the whole images."""
        return self.border != (0, 0)

    @property
    def shape(self):
        """The per-image shape the net sees."""
        return (self.mean.shape[0], self.crop, self.crop)

    def describe(self):
        """What training does to the images, in a few words (for the run's header)."""
        cropping = self.cropping
        what = ("crops" if cropping else "whole images") + (
            " and reflections" if self.flip and cropping else ", reflections" if self.flip else
            ", no reflections" if cropping else "")
        return what + (f", colour noise {self.color_noise:g}" if self.color_noise > 0 else "")

    def select(self, images, indices):
        """The images `indices` of a provider's batch, in its layout."""
        return images[indices] if self.images_first else images[..., indices]

    def _centred(self, images):
        return images.astype(np.float32) - self.mean

    def train(self, images, rng):
        """Random crops, random reflections and colour noise; rng drives every draw."""
        n = images.shape[0] if self.images_first else images.shape[3]
        oy = rng.integers(0, self.border[0] + 1, n)
        ox = rng.integers(0, self.border[1] + 1, n)
        flip = rng.integers(0, 2, n).astype(bool) & self.flip     # drawn either way: the same crops
        alpha = rng.normal(0.0, self.color_noise, (3, n)).astype(np.float32) if self.color_noise > 0 else None
        if self.images_first:
            return self._train_images_first(images, oy, ox, flip, alpha)
        x = self._centred(images)
        steps = np.arange(self.crop)
        rows = oy[None, :] + steps[:, None]                                    # (crop, n)
        cols = ox[None, :] + np.where(flip[None, :], self.crop - 1 - steps[:, None], steps[:, None])
        out = x[:, rows[:, None, :], cols[None, :, :], np.arange(n)[None, None, :]]
        if alpha is not None:
            out += self._noise(alpha)[:, None, None, :]
        return np.ascontiguousarray(out)

    def _noise(self, alpha):
        """(3, n): P (alpha * sigma) for each image."""
        stdevs, vectors = self.pca
        return vectors @ (alpha * stdevs[:, None])

    def _train_images_first(self, images, oy, ox, flip, alpha):
        c = self.crop
        noise = self._noise(alpha) if alpha is not None else None
        out = np.empty((len(images), 3, c, c), dtype=np.float32)
        for j in range(len(images)):          # a slice per image: no gather, only the crop converted
            window = (slice(None), slice(oy[j], oy[j] + c), slice(ox[j], ox[j] + c))
            image, mean = images[j][window], self.mean_image[window]
            if flip[j]:
                image, mean = image[..., ::-1], mean[..., ::-1]
            np.subtract(image, mean, out=out[j])
            if noise is not None:
                out[j] += noise[:, j, None, None]
        return np.ascontiguousarray(out.transpose(1, 2, 3, 0))

    def _crop(self, images, y0, x0, flip=False):
        """One window of every image, mean subtracted, in the engine's layout."""
        c = self.crop
        window = (slice(None), slice(y0, y0 + c), slice(x0, x0 + c))
        mean = self.mean_image[window]
        if self.images_first:
            crop = images[(slice(None),) + window].astype(np.float32) - mean
            crop = crop.transpose(1, 2, 3, 0)
        else:
            crop = images[window].astype(np.float32) - mean[..., None]
        return np.ascontiguousarray(crop[:, :, ::-1] if flip else crop)

    def test(self, images):
        """The centre crop."""
        return self._crop(images, self.border[0] // 2, self.border[1] // 2)

    view_count = 10

    def views(self, images):
        """The ten views of the multiview test: four corners and the centre, then their reflections."""
        by, bx = self.border
        corners = [(0, 0), (0, bx), (by // 2, bx // 2), (by, 0), (by, bx)]
        return [self._crop(images, y0, x0, flip) for flip in (False, True) for y0, x0 in corners]
