"""cost.gsum2: a sum of squares gated per image (the 2012 code's GatedSumOfSquaresCostLayer)."""
import numpy as np

from convnet.config import Key, number
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "cost_gsum2.cu")


@register("cost.gsum2")
class GatedSumOfSquaresCost(Layer):
    """inputs=gates,x.  cost = coeff * sum_n g_n sum_d x[d, n]^2
        dg_n = coeff * sum_d x[d, n]^2,   dx = 2 coeff g x

    The gates are one value per image: the 2012 DummyConvNetLogRegDP gave them as a third data array
    ('gates', dataIdx=2); any layer of one value per image will do (a logistic unit, say). Its value is
    [the cost without coeff].

    Params: coeff (default 1).
    """
    n_inputs = 2
    is_cost = True
    keys = (Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),)

    def infer(self, shapes):
        if self.size(shapes[0]) != 1:
            raise self.cfg.error("inputs", f"the first input must be the gates, one value per image; "
                                           f"'{self.inputs[0]}' gives {self.size(shapes[0])}")
        self.dims = self.size(shapes[1])
        return (1,)

    def forward_cpu(self, xs, ctx):
        g, x = xs[0].reshape(1, -1), xs[1].reshape(self.dims, -1)
        return np.array([(g * (x * x)).sum()], dtype=x.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        g, x = xs[0].reshape(1, -1), xs[1].reshape(self.dims, -1)
        c = self.conf.coeff
        return [c * (x * x).sum(axis=0, keepdims=True), 2 * c * g * x]

    def forward_gpu(self, xs, ctx):
        g, x = xs[0], xs[1]
        N = x.shape[-1]
        k = kernels(self.be, CU)
        gated = self.be.empty((1, N))
        k.gsum2_squares.launch(N, x, g, gated, f32(1.0), i32(self.dims), i32(N))
        total = self.be.empty((1, 1))
        row_sums(self.be, gated, total)
        return total.reshape(1)

    def backward_gpu(self, xs, y, dy, need, ctx):
        g, x = xs[0], xs[1]
        N = x.shape[-1]
        k = kernels(self.be, CU)
        dg = self.be.empty((1, N))
        k.gsum2_squares.launch(N, x, self._ones(N), dg, f32(self.conf.coeff), i32(self.dims), i32(N))
        dx = self.be.empty(x.shape)
        k.gsum2_backward.launch(x.size, g, x, dx, f32(self.conf.coeff), i32(N), i32(x.size))
        return [dg, dx]

    def _ones(self, N):
        from convnet.kernels import ones
        return ones(self.be, N).reshape(1, N)
