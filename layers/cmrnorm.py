"""cmrnorm: response normalization across maps, the paper's "local response normalization" (section 3.3)."""
import numpy as np

from convnet.chunks import by_chunks
from convnet.config import Key, boolean, positive_integer
from convnet.kernels import beside, f32, i32, kernels
from convnet.norm import NormLayer, divisor_powers
from convnet.registry import register
from convnet.windows import box_sum, box_sum_adjoint

CU = beside(__file__, "cmrnorm.cu")


@register("cmrnorm")
class CrossMapNorm(NormLayer):
    """y[c] = x[c] * (minDiv + scale/size * sum_{j in W(c)} x[j]^2)^-pow   at each pixel and image,

    W(c) = maps c - size//2 ... c - size//2 + size - 1, clipped to the maps that exist; with
    blocked=1 the maps fall into consecutive blocks of `size` and W(c) is c's block. The paper's
    k=2, n=5, alpha=1e-4, beta=0.75 is minDiv=2, size=5, scale=0.0001, pow=0.75: each of the n
    squares is weighted alpha/n, as cuda-convnet computed it.

    Config keys: channels, size, blocked; scale, pow, minDiv (default 1) in either file.
    """
    keys = NormLayer.keys + (
        Key("size", positive_integer, doc="maps in each window"),
        Key("blocked", boolean, default=False, doc="windows are disjoint blocks of size maps"),
    )

    def infer(self, shapes):
        self.s = self.conf.scale / self.conf.size
        return super().infer(shapes)

    def macs(self):
        return self.size(self.output_shape) * self.conf.size

    def _window_sum(self, a, adjoint=False):
        """Over axis 0 (maps): the sum over W(c), or its adjoint (the sum over the c whose W holds j)."""
        n = self.conf.size
        if self.conf.blocked:                     # blocks are symmetric: the adjoint is the same sum
            C = a.shape[0]
            blocks = -(-C // n)
            padded = np.zeros((blocks * n,) + a.shape[1:], dtype=a.dtype)
            padded[:C] = a
            sums = padded.reshape((blocks, n) + a.shape[1:]).sum(axis=1, keepdims=True)
            return np.broadcast_to(sums, (blocks, n) + a.shape[1:]).reshape(padded.shape)[:C].copy()
        return (box_sum_adjoint if adjoint else box_sum)(a, 0, n, -(n // 2))

    # The CPU math runs on pieces of rows (chunks.py): the windows run across maps, never across rows.
    def forward_cpu(self, xs, ctx):
        return by_chunks(self._forward_piece, [self.as_image(xs[0])], axis=1)

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = self.as_image(xs[0])
        return [by_chunks(self._backward_piece, [x, dy.reshape(x.shape)], axis=1)]

    def _forward_piece(self, x):
        d = self.conf.minDiv + self.s * self._window_sum(x * x)
        return x * d ** -self.conf.pow

    def _backward_piece(self, x, dy):
        p = self.conf.pow
        dp, dp1 = divisor_powers(self.conf.minDiv + self.s * self._window_sum(x * x), p)
        t = self._window_sum(dy * x * dp1, adjoint=True)
        return dy * dp - (2 * self.s * p) * x * t

    def _forward_gpu(self, x):
        c = self.conf
        C, Q = self.image[0], x.size // self.image[0]
        y, d = self.be.empty(x.shape), self.be.empty(x.shape)
        kernels(self.be, CU).cmrnorm_forward.launch(x.size, x, y, d, i32(C), i32(Q), i32(c.size), i32(c.blocked),
                                                    f32(self.s), f32(c.minDiv), f32(c.pow))
        return y, d

    def backward_gpu(self, xs, y, dy, need, ctx):
        x, c = xs[0], self.conf
        (d,) = self.kept(ctx, lambda: self._forward_gpu(x)[1:])
        r = self.ratio(x, dy, d)
        dx = self.be.empty(x.shape)
        C, Q = self.image[0], x.size // self.image[0]
        kernels(self.be, CU).cmrnorm_backward.launch(x.size, x, dy, d, r, dx, i32(C), i32(Q), i32(c.size),
                                                     i32(c.blocked), f32(self.s), f32(c.pow))
        return [dx]
