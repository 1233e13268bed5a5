"""The 2012 code's data pipeline (`--augment 2012`), for reproducing its runs exactly, beside the
paper's text that data/augment.py follows (`--augment paper`, the default).

What the 2012 providers did differently (convdata.py, CroppedImageNetDP; convdata_cifar.py,
CroppedCIFARDataProvider):

- the mean subtracted from every crop, whatever its position, is the centre crop of the mean image
  (data_mean_crop), not the window of the mean under the crop, and from a reflected crop as it is:
  the image is reflected, not the mean (in training and in the multiview test's reflected views);
- ImageNet-style data: one crop position and one reflection are drawn per chunk of 32 images
  (crop_chunk = 32), not per image; CIFAR-style data: per image, as here by default;
- colour noise is added and the image, noise included, then divided by 1 + c (c = --color-noise),
  "so that the overall scale of the training data doesn't become too different from the test data";
- the data come in a fixed order: the training batches as the range lists them, the images of a
  batch as stored (data/loader.py's `ordered`);
- the multiview test of ImageNet-style data takes the same ten views as the paper (corners, centre,
  reflections) but subtracts the centre-crop mean from each; that of CIFAR-style data takes nine
  positions, a 3x3 grid of offsets (0, border, 2 border) in each direction, and no reflections.

Which style a provider is: `style_2012` on the provider ("imagenet" or "cifar").
"""
import numpy as np

from .augment import Augmentation

CHUNK = {"imagenet": 32, "cifar": 1}


class Augmentation2012(Augmentation):
    ordered = True       # the 2012 providers' fixed data order

    def __init__(self, mean, crop=None, color_noise=0.0, pca=None, images_first=False, flip=None, style="imagenet"):
        super().__init__(mean, crop, color_noise, pca, images_first, flip)
        self.style, self.chunk = style, CHUNK[style]
        by, bx = self.border
        self.mean_centre = np.ascontiguousarray(
            self.mean_image[:, by // 2:by // 2 + self.crop, bx // 2:bx // 2 + self.crop])

    def describe(self):
        cropping = self.cropping
        what = "2012 pipeline: " + ("whole images" if not cropping else
                                    "crops" + (f" (one position per {self.chunk} images)" if self.chunk > 1 else ""))
        what += (" and reflections" if self.flip and cropping else ", reflections" if self.flip else "")
        what += ", centre-crop mean"
        if self.color_noise > 0:
            what += f", colour noise {self.color_noise:g} then 1/(1+{self.color_noise:g})"
        return what + ", fixed order"

    def train(self, images, rng):
        n = images.shape[0] if self.images_first else images.shape[3]
        chunks = -(-n // self.chunk)
        oy = np.repeat(rng.integers(0, self.border[0] + 1, chunks), self.chunk)[:n]
        ox = np.repeat(rng.integers(0, self.border[1] + 1, chunks), self.chunk)[:n]
        flip = np.repeat(rng.integers(0, 2, chunks).astype(bool), self.chunk)[:n] & self.flip
        c = self.crop
        out = np.empty((3, c, c, n), dtype=np.float32)
        for j in range(n):
            image = images[j] if self.images_first else images[..., j]
            window = image[:, oy[j]:oy[j] + c, ox[j]:ox[j] + c]
            np.subtract(window[..., ::-1] if flip[j] else window, self.mean_centre, out=out[..., j])
        if self.color_noise > 0:
            alpha = rng.normal(0.0, self.color_noise, (3, n)).astype(np.float32)
            out += self._noise(alpha)[:, None, None, :]
            out /= np.float32(1.0 + self.color_noise)
        return out

    def _view(self, images, y0, x0, flip=False):
        c = self.crop
        window = (slice(None), slice(y0, y0 + c), slice(x0, x0 + c))
        if self.images_first:
            crop = images[(slice(None),) + window].astype(np.float32).transpose(1, 2, 3, 0)
        else:
            crop = images[window].astype(np.float32)
        # The image reflected, not the mean: convdata.py reflects the window (pic[:,:,::-1,:], line 247) and
        # then subtracts data_mean_crop as it is from every view (subtract_mean, line 225), as in training.
        crop = (crop[:, :, ::-1] if flip else crop) - self.mean_centre[..., None]
        return np.ascontiguousarray(crop)

    @property
    def view_count(self):
        return 9 if self.style == "cifar" else 10

    def views(self, images):
        by, bx = self.border
        if self.style == "cifar":
            return [self._view(images, y0, x0) for y0 in (0, by // 2, by) for x0 in (0, bx // 2, bx)]
        corners = [(0, 0), (0, bx), (by // 2, bx // 2), (by, 0), (by, bx)]
        return [self._view(images, y0, x0, flip) for flip in (False, True) for y0, x0 in corners]
