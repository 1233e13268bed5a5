"""cost.sum2: the sum of squares of its input, a cost for regression and for tests."""
import numpy as np

from convnet.config import Key, number
from convnet.kernels import ELEMENTWISE, f32, i32, kernels
from convnet.layer import Layer
from convnet.registry import register


@register("cost.sum2")
class SumOfSquaresCost(Layer):
    """cost = coeff * sum over the batch and every value of x^2;  dx = 2 * coeff * x.

    Its value is [sum of x^2], without coeff, as the 2012 code reported it. Params: coeff (default 1).
    """
    n_inputs = 1
    is_cost = True
    keys = (Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),)

    def infer(self, shapes):
        return (1,)

    def forward_cpu(self, xs, ctx):
        x = xs[0]
        return np.array([np.vdot(x, x)], dtype=x.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [(2 * self.conf.coeff) * xs[0]]

    def forward_gpu(self, xs, ctx):
        x = xs[0].reshape(1, -1)
        out = self.be.empty((1, 1))
        self.be.gemm(x, x, out, trans_b=True)        # x . x, by cuBLAS
        return out.reshape(1)

    def backward_gpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        dx = self.be.empty(x.shape)
        kernels(self.be, ELEMENTWISE).scale.launch(x.size, x, dx, f32(2 * self.conf.coeff), i32(x.size))
        return [dx]
