"""resize: bilinear rescaling of every map, as the 2012 code's ResizeLayer (kResizeBilinear)."""
import math

import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "resize.cu")


class Axis:
    """Where the outputs of one axis sample the input, as kResizeBilinear computes it in float32:
    output o reads s = clamp(o' * scale + offset, 0, size - 1.01), o' = o + crop start, from the
    pixels i0 = floor(s) and i0 + 1 with weights a and 1 - a. So an output is a linear function of
    the input, separable by axis; inverse[i] lists the outputs that read input pixel i (the backward).
    """

    def __init__(self, size, outputs, scale, offset, start=0, row_weights=False, clamp=True):
        o = (np.arange(outputs, dtype=np.float32) + np.float32(start)) * np.float32(scale) + np.float32(offset)
        s = np.clip(o, np.float32(0), np.float32(size) - np.float32(1.01)) if clamp and size > 1 else o
        self.i0 = np.floor(s).astype(np.int32)
        # kResizeBilinear weighs columns by u = floor(s + 1) - s and rows by 1 - w, w = s - floor(s)
        a = (np.float32(1) - (s - np.floor(s))) if row_weights else (np.floor(s + np.float32(1)) - s)
        self.a = a.astype(np.float32)
        self.size, self.outputs = size, outputs
        i1 = np.minimum(self.i0 + 1, size - 1)
        self.lo = np.array([np.searchsorted(i1, i, "left") for i in range(size)], dtype=np.int32)
        self.hi = np.array([np.searchsorted(self.i0, i, "right") for i in range(size)], dtype=np.int32)

    @classmethod
    def crop(cls, size, outputs, start):
        """Output o reads input start + o alone (weight 1), as the 2012 code's convCrop."""
        return cls(size, outputs, 1.0, 0.0, start, clamp=False)

    def matrix(self, dtype):
        """(outputs, size): the weights of the inputs in each output."""
        m = np.zeros((self.outputs, self.size), dtype=dtype)
        rows = np.arange(self.outputs)
        np.add.at(m, (rows, self.i0), self.a.astype(dtype))
        np.add.at(m, (rows, np.minimum(self.i0 + 1, self.size - 1)), (1 - self.a).astype(dtype))
        return m


def resample_numpy(x, ay, ax):
    """x (C, H, W, N) sampled along both axes: (C, oy, ox, N)."""
    y = np.tensordot(ay.matrix(x.dtype), x, axes=([1], [1])).transpose(1, 0, 2, 3)
    return np.tensordot(ax.matrix(x.dtype), y, axes=([1], [2])).transpose(1, 2, 0, 3)


def resample_adjoint_numpy(dy, ay, ax):
    d = np.tensordot(ax.matrix(dy.dtype).T, dy, axes=([1], [2])).transpose(1, 2, 0, 3)
    return np.tensordot(ay.matrix(dy.dtype).T, d, axes=([1], [1])).transpose(1, 0, 2, 3)


def _tables(be, device, axis):
    return (be.from_host_int(axis.i0, device), be.from_host(axis.a, device), be.from_host_int(axis.lo, device),
            be.from_host_int(axis.hi, device))


def resample_gpu(be, device, x, C, ay, ax):
    N = x.shape[-1]
    y = be.empty((C, ay.outputs, ax.outputs, N))
    (y0, wy, _, _), (x0, wx, _, _) = _tables(be, device, ay), _tables(be, device, ax)
    kernels(be, CU).resample_forward.launch(y.size, x, y, y0, wy, x0, wx, *map(i32, (C, ay.size, ax.size, N, ay.outputs,
                                                                                       ax.outputs, y.size)))
    return y


def resample_adjoint_gpu(be, device, dy, C, ay, ax):
    N = dy.shape[-1]
    dx = be.empty((C, ay.size, ax.size, N))
    (y0, wy, ylo, yhi), (x0, wx, xlo, xhi) = _tables(be, device, ay), _tables(be, device, ax)
    kernels(be, CU).resample_backward.launch(dx.size, dy, dx, y0, wy, ylo, yhi, x0, wx, xlo, xhi,
                                             *map(i32, (C, ay.size, ax.size, N, ay.outputs, ax.outputs, dx.size)))
    return dx


@register("resize")
class Resize(Layer):
    """Maps of size S become maps of size T = floor(S / scale), by bilinear interpolation: output
    pixel o samples the input at o * scale + S/2 - T/2 * scale (clamped to the image), as the 2012
    code's kResizeBilinear. The 2012 layer had no backward (its parser kept it off layers with weights
    below); this one has the exact one, the adjoint of the interpolation.

    Config keys: channels, scale (0.5 to 2, as the 2012 parser allowed).
    """
    n_inputs = 1
    keys = (
        Key("channels", positive_integer, doc="maps in the input"),
        Key("scale", number, doc="input size / output size, 0.5 to 2"),
    )

    def infer(self, shapes):
        c = self.conf
        if not 0.5 <= c.scale <= 2:
            raise self.cfg.error("scale", f"must be in the range 0.5-2, got {c.scale:g}")
        self.image = C, H, W = self.image_shape(0, c.channels)
        T = int(math.floor(H / c.scale))
        offset = H * 0.5 - T * 0.5 * c.scale
        self.axes = (Axis(H, T, c.scale, offset, row_weights=True), Axis(W, T, c.scale, offset))
        return (C, T, T)

    def macs(self):
        return 4 * self.size(self.output_shape)

    def forward_cpu(self, xs, ctx):
        return resample_numpy(xs[0].reshape(self.image + xs[0].shape[-1:]), *self.axes)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [resample_adjoint_numpy(dy, *self.axes)]

    def forward_gpu(self, xs, ctx):
        return resample_gpu(self.be, self.device, xs[0], self.image[0], *self.axes)

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [resample_adjoint_gpu(self.be, self.device, dy, self.image[0], *self.axes)]
