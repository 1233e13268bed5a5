"""rnorm: response normalization within each map, over a square neighbourhood of pixels."""
from convnet.chunks import by_chunks
from convnet.kernels import beside, f32, i32, kernels
from convnet.norm import SpatialNormLayer, divisor_powers
from convnet.registry import register
from convnet.windows import box_sum_2d, box_sum_2d_adjoint

CU = beside(__file__, "rnorm.cu")


@register("rnorm")
class ResponseNorm(SpatialNormLayer):
    """y = x * (minDiv + scale/size^2 * sum of x^2 over the size x size window around it)^-pow

    The window of pixel (r, c) covers rows r - size//2 ... r - size//2 + size - 1 (the same for
    columns) of the same map, clipped to the image.

    Config keys: channels, size (sizeX in older files), scale, pow, minDiv (default 1).
    """

    def _divisor(self, x):
        return self.conf.minDiv + self.s * box_sum_2d(x * x, self.n, self.start)

    # The CPU math runs on pieces of maps (chunks.py): the windows stay within a map.
    def forward_cpu(self, xs, ctx):
        return by_chunks(self._forward_piece, [self.as_image(xs[0])], axis=0)

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = self.as_image(xs[0])
        return [by_chunks(self._backward_piece, [x, dy.reshape(x.shape)], axis=0)]

    def _forward_piece(self, x):
        return x * self._divisor(x) ** -self.conf.pow

    def _backward_piece(self, x, dy):
        p = self.conf.pow
        dp, dp1 = divisor_powers(self._divisor(x), p)
        # Through the divisor: x_j is in the windows of its neighbours i, each scaling x_j^2 by s.
        t = box_sum_2d_adjoint(dy * x * dp1, self.n, self.start)
        return dy * dp - (2 * self.s * p) * x * t

    def _geometry(self, x):
        return tuple(map(i32, self.image + (x.shape[-1], self.n)))

    def _forward_gpu(self, x):
        c = self.conf
        y, d = self.be.empty(x.shape), self.be.empty(x.shape)
        kernels(self.be, CU).rnorm_forward.launch(x.size, x, y, d, *self._geometry(x), f32(self.s), f32(c.minDiv),
                                                  f32(c.pow), i32(x.size))
        return y, d

    def backward_gpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        (d,) = self.kept(ctx, lambda: self._forward_gpu(x)[1:])
        r = self.ratio(x, dy, d)
        dx = self.be.empty(x.shape)
        kernels(self.be, CU).rnorm_backward.launch(x.size, x, dy, d, r, dx, *self._geometry(x), f32(self.s),
                                                   f32(self.conf.pow), i32(x.size))
        return [dx]
