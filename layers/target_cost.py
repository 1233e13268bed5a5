"""What the per-element costs against a target per class share (cost.crossent2, cost.rflickr): the
shapes, the targets, and the GPU path, a kernel for the terms summed into the value and one for the
gradient."""
import numpy as np

from convnet.config import Key, number
from convnet.kernels import f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.targets import check_targets, targets_gpu, targets_numpy


class TargetCost(Layer):
    """Subclasses give CU (their .cu, with kernels PREFIX_terms and PREFIX_backward), PREFIX, and
    terms(y, t) and grad(y, t) on NumPy arrays (grad without coeff)."""
    n_inputs = 2
    is_cost = True
    keys = (Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),)
    CU = PREFIX = None

    def infer(self, shapes):
        self.classes = self.size(shapes[1])
        check_targets(self, shapes, self.classes)
        return (1,)

    def _yt(self, xs):
        y = xs[1].reshape(self.classes, -1)
        return y, targets_numpy(xs[0], self.classes, y.dtype)

    def forward_cpu(self, xs, ctx):
        y, t = self._yt(xs)
        return np.array([self.terms(y, t).sum()], dtype=y.dtype)

    def backward_cpu(self, xs, out, dy, need, ctx):
        return [None, self.conf.coeff * self.grad(*self._yt(xs))]

    def forward_gpu(self, xs, ctx):
        y = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        terms = self.be.empty((1, y.size))
        getattr(kernels(self.be, self.CU), f"{self.PREFIX}_terms").launch(y.size, t, y, terms, i32(y.size))
        total = self.be.empty((1, 1))
        row_sums(self.be, terms, total)
        return total.reshape(1)

    def backward_gpu(self, xs, out, dy, need, ctx):
        y = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        grad = self.be.empty(y.shape)
        getattr(kernels(self.be, self.CU), f"{self.PREFIX}_backward").launch(
            y.size, t, y, grad, f32(self.conf.coeff), i32(y.size))
        return [None, grad]
