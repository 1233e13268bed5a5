"""rnorm: response normalization within each map, over a square neighbourhood of pixels."""
from convnet.norm import SpatialNormLayer, divisor_powers
from convnet.registry import register
from convnet.windows import box_sum_2d, box_sum_2d_adjoint


@register("rnorm")
class ResponseNorm(SpatialNormLayer):
    """y = x * (minDiv + scale/size^2 * sum of x^2 over the size x size window around it)^-pow

    The window of pixel (r, c) covers rows r - size//2 ... r - size//2 + size - 1 (the same for
    columns) of the same map, clipped to the image.

    Config keys: channels, size (sizeX in older files), scale, pow, minDiv (default 1).
    """

    def _divisor(self, x):
        return self.conf.minDiv + self.s * box_sum_2d(x * x, self.n, self.start)

    def forward_cpu(self, xs, ctx):
        x = self.as_image(xs[0])
        return x * self._divisor(x) ** -self.conf.pow

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = self.as_image(xs[0])
        p = self.conf.pow
        dp, dp1 = divisor_powers(self._divisor(x), p)
        # Through the divisor: x_j is in the windows of its neighbours i, each scaling x_j^2 by s.
        t = box_sum_2d_adjoint(dy * x * dp1, self.n, self.start)
        return [dy * dp - (2 * self.s * p) * x * t]
