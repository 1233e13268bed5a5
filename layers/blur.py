"""blur: a Gaussian blur of each map, as the 2012 code's GaussianBlurLayer."""
import math

import numpy as np

from convnet.config import Key, number, one_of, positive_integer
from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "blur.cu")


def gaussian_filter(size, stdev):
    """The 2012 parser's filter (GaussianBlurLayerParser): exp(-(size//2 - i)^2 / (2 stdev^2)) for
    i = 0 .. size-1, normalized to sum 1."""
    f = np.array([math.exp(-(size // 2 - i) ** 2 / (2.0 * stdev ** 2)) for i in range(size)], dtype=np.float32)
    return f / f.sum()


@register("blur")
class GaussianBlur(Layer):
    """y = V H x: H convolves each row of each map with the normalized Gaussian f of filterSize taps
    (y[c] = sum_d f[R + d] x[c + d], R = filterSize // 2), V each column the same way; pixels past the
    edge are zeros (so the border darkens, as in the 2012 code's kGaussianBlur). f is symmetric, so
    the backward applies the same two passes to the gradient.

    Config keys: channels, filterSize (3, 5, 7 or 9), stdev.
    """
    n_inputs = 1
    keys = (
        Key("channels", positive_integer, doc="maps in the input"),
        Key("filterSize", lambda t: int(one_of("3", "5", "7", "9")(t)), doc="taps of the filter: 3, 5, 7 or 9"),
        Key("stdev", number, doc="standard deviation of the Gaussian, in pixels"),
    )

    def infer(self, shapes):
        c = self.conf
        if not c.stdev > 0:
            raise self.cfg.error("stdev", f"must be positive, got {c.stdev:g}")
        self.image = self.image_shape(0, c.channels)
        if c.filterSize > min(self.image[1:]):
            raise self.cfg.error("filterSize", f"is {c.filterSize}, larger than the {self.image[1]}x{self.image[2]} images")
        self.filter = gaussian_filter(c.filterSize, c.stdev)
        return self.image

    def macs(self):
        return 2 * self.size(self.output_shape) * self.conf.filterSize

    def _pass(self, a, axis):
        f = self.filter.astype(a.dtype)
        R = len(f) // 2
        pad = [(0, 0)] * a.ndim
        pad[axis] = (R, R)
        p = np.pad(a, pad)
        n = a.shape[axis]
        out = np.zeros_like(a)
        for d in range(-R, R + 1):
            out += f[R + d] * np.take(p, range(R + d, R + d + n), axis=axis)
        return out

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        return self._pass(self._pass(x, 2), 1)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [self._pass(self._pass(dy.reshape(self.image + dy.shape[-1:]), 1), 2)]

    # ---- the GPU twin: blur.cu, one pass per axis --------------------------------------------------

    def _blur_gpu(self, a, first, second):
        k = kernels(self.be, CU)
        f = self._device_filter()
        C, H, W = self.image
        N = a.size // (C * H * W)
        tmp, out = self.be.empty(a.shape), self.be.empty(a.shape)
        geometry = tuple(map(i32, (C, H, W, N, len(self.filter))))
        k.blur_pass.launch(a.size, a, f, tmp, *geometry, i32(first), i32(a.size))
        k.blur_pass.launch(a.size, tmp, f, out, *geometry, i32(second), i32(a.size))
        return out.reshape(self.image + (N,))

    def _device_filter(self):
        if getattr(self, "_filter_on", None) is not self.device:
            self._filter = self.be.from_host(self.filter, self.device)
            self._filter_on = self.device
        return self._filter

    def forward_gpu(self, xs, ctx):
        return self._blur_gpu(xs[0], 1, 0)          # along rows (horizontal), then columns

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [self._blur_gpu(dy, 0, 1)]
