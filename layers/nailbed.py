"""nailbed: a bed of nails, every stride-th pixel of each map, as the 2012 code's NailbedLayer."""
import numpy as np

from convnet.config import Key, positive_integer
from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "nailbed.cu")


@register("nailbed")
class Nailbed(Layer):
    """y[c, oy, ox] = x[c, start + oy * stride, start + ox * stride], with ceil(size / stride) nails per
    axis centred in the image: start = (size - stride * (outputs - 1)) // 2 (NailbedLayerParser).
    The backward puts each gradient back on its nail and zeros elsewhere.

    Config keys: channels, stride.
    """
    n_inputs = 1
    keys = (
        Key("channels", positive_integer, doc="maps in the input"),
        Key("stride", positive_integer, doc="pixels between nails"),
    )

    def infer(self, shapes):
        c = self.conf
        self.image = C, H, W = self.image_shape(0, c.channels)
        self.outputs = tuple(-(-n // c.stride) for n in (H, W))
        self.start = tuple((n - c.stride * (o - 1)) // 2 for n, o in zip((H, W), self.outputs))
        return (C,) + self.outputs

    def _windows(self):
        s = self.conf.stride
        return tuple(slice(b, b + s * (o - 1) + 1, s) for b, o in zip(self.start, self.outputs))

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        rows, cols = self._windows()
        return x[:, rows, cols].copy()

    def backward_cpu(self, xs, y, dy, need, ctx):
        dx = np.zeros(self.image + dy.shape[-1:], dtype=dy.dtype)
        rows, cols = self._windows()
        dx[:, rows, cols] = dy
        return [dx]

    def _geometry(self, N):
        return tuple(map(i32, self.image + (N,) + self.outputs + self.start + (self.conf.stride,)))

    def forward_gpu(self, xs, ctx):
        x = xs[0]
        N = x.shape[-1]
        y = self.be.empty(self.output_shape + (N,))
        kernels(self.be, CU).nailbed_forward.launch(y.size, x, y, *self._geometry(N), i32(y.size))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        N = dy.shape[-1]
        dx = self.be.empty(self.image + (N,))
        kernels(self.be, CU).nailbed_backward.launch(dx.size, dy, dx, *self._geometry(N), i32(dx.size))
        return [dx]
