"""cost.tica: topographic ICA's sparsity cost, the square roots of windowed sums of squares (the 2012
code's TICACostLayer)."""
import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register
from convnet.windows import box_sum_2d, box_sum_2d_adjoint

CU = beside(__file__, "cost_tica.cu")
EPS = 1e-6


@register("cost.tica")
class TICACost(Layer):
    """cost = coeff * sum over maps, pixels and images of sqrt(S + 1e-6), S the sum of x^2 over the
    sizeX x sizeX window of the map starting at (r - sizeX//2, c - sizeX//2) (clipped), and
    dx = coeff * x * (the sum of 1 / sqrt(S + 1e-6) over the windows that hold x).

    The 2012 code (convTICA, kTICAGrad_manyfilter in cuda-convnet's conv_util.cu) stored
    1 / (0.001 + sqrt(S)), took -x times its sum over the window at x (the same windows for odd sizeX)
    as the gradient, and reported the sum of those reciprocals as the cost, a number its own comment
    calls wrong. convnet reports the cost above (without coeff) and its exact gradient, which differs
    from the 2012 one by the placement of the small constant. It takes no labels.

    Config keys: channels, sizeX. Params: coeff (default 1).
    """
    n_inputs = 1
    is_cost = True
    keys = (
        Key("channels", positive_integer, doc="maps in the input"),
        Key("sizeX", positive_integer, doc="the window is sizeX x sizeX pixels"),
        Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),
    )

    def infer(self, shapes):
        self.image = self.image_shape(0, self.conf.channels)
        self.start = -(self.conf.sizeX // 2)
        return (1,)

    def _roots(self, x):
        return np.sqrt(box_sum_2d(x * x, self.conf.sizeX, self.start) + x.dtype.type(EPS))

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        return np.array([self._roots(x).sum()], dtype=x.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        return [self.conf.coeff * x * box_sum_2d_adjoint(1 / self._roots(x), self.conf.sizeX, self.start)]

    def _geometry(self, N):
        return tuple(map(i32, self.image + (N, self.conf.sizeX)))

    def _roots_gpu(self, x):
        roots = self.be.empty((1, x.size))
        kernels(self.be, CU).tica_roots.launch(x.size, x, roots, *self._geometry(x.shape[-1]), f32(EPS), i32(x.size))
        return roots

    def forward_gpu(self, xs, ctx):
        total = self.be.empty((1, 1))
        row_sums(self.be, self._roots_gpu(xs[0]), total)
        return total.reshape(1)

    def backward_gpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        roots = self._roots_gpu(x)
        dx = self.be.empty(x.shape)
        kernels(self.be, CU).tica_backward.launch(x.size, x, roots, dx, *self._geometry(x.shape[-1]),
                                                  f32(self.conf.coeff), i32(x.size))
        return [dx]
