"""cnorm: contrast normalization within each map, as cuda-convnet's 2012 code computed it."""
import numpy as np

from convnet.kernels import beside, f32, i32, kernels
from convnet.norm import SpatialNormLayer, divisor_powers
from convnet.registry import register
from convnet.windows import box_sum_2d, box_sum_2d_adjoint

CU = beside(__file__, "cnorm.cu")


@register("cnorm")
class ContrastNorm(SpatialNormLayer):
    """m = x - mean(x over the window),  d = minDiv + scale/size^2 * sum of m^2 over the window,
    y = x * d^-pow.

    The window of pixel (r, c) covers rows r - size//2 ... r - size//2 + size - 1 (the same for
    columns) of the same map, clipped to the image; the mean divides by the in-bounds count. Note that
    the numerator is x itself, not m: only the divisor sees the mean-subtracted values (this is what
    cuda-convnet's ContrastNormLayer computed). The backward is the exact gradient of this function,
    through the mean too.

    Config keys: channels, size (sizeX in older files), scale, pow, minDiv (default 1).
    """

    def infer(self, shapes):
        shape = super().infer(shapes)
        ones = np.ones((1,) + self.image[1:] + (1,))
        self.counts = box_sum_2d(ones, self.n, self.start)
        return shape

    def _parts(self, x):
        counts = self.counts.astype(x.dtype)
        m = x - box_sum_2d(x, self.n, self.start) / counts
        d = self.conf.minDiv + self.s * box_sum_2d(m * m, self.n, self.start)
        return m, d, counts

    def forward_cpu(self, xs, ctx):
        x = self.as_image(xs[0])
        return x * self._parts(x)[1] ** -self.conf.pow

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = self.as_image(xs[0])
        p = self.conf.pow
        m, d, counts = self._parts(x)
        dp, dp1 = divisor_powers(d, p)
        dd = -p * dy * x * dp1                                   # dcost/dd
        dm = 2 * self.s * m * box_sum_2d_adjoint(dd, self.n, self.start)
        # m = x - A(x) with A the windowed mean, so dcost/dx gains dm - A^T(dm).
        return [dy * dp + dm - box_sum_2d_adjoint(dm / counts, self.n, self.start)]

    def _forward_gpu(self, x):
        c, k = self.conf, kernels(self.be, CU)
        geometry = tuple(map(i32, self.image + (x.shape[-1], self.n)))
        centred, squares = self.be.empty(x.shape), self.be.empty(x.shape)
        k.cnorm_centre.launch(x.size, x, centred, squares, *geometry, i32(x.size))
        y, d = self.be.empty(x.shape), self.be.empty(x.shape)
        k.cnorm_forward.launch(x.size, x, squares, y, d, *geometry, f32(self.s), f32(c.minDiv), f32(c.pow),
                               i32(x.size))
        return y, d, centred

    def backward_gpu(self, xs, y, dy, need, ctx):
        x, k = xs[0], kernels(self.be, CU)
        d, centred = self.kept(ctx, lambda: self._forward_gpu(x)[1:])
        geometry = tuple(map(i32, self.image + (x.shape[-1], self.n)))
        r = self.ratio(x, dy, d)
        dcentred, dx = self.be.empty(x.shape), self.be.empty(x.shape)
        k.cnorm_backward_centred.launch(x.size, centred, r, dcentred, *geometry, f32(self.s), f32(self.conf.pow),
                                        i32(x.size))
        k.cnorm_backward.launch(x.size, dy, d, dcentred, dx, *geometry, f32(self.conf.pow), i32(x.size))
        return [dx]
