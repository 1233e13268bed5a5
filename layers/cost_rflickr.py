"""cost.rflickr: a robust squared error, log(1 + (y - t)^2) (the 2012 code's RobustFlickrCost)."""
import numpy as np

from convnet.config import Key, number
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register
from convnet.targets import check_targets, targets_gpu, targets_numpy

CU = beside(__file__, "cost_rflickr.cu")


@register("cost.rflickr")
class RobustFlickrCost(Layer):
    """inputs=labels,outputs.  cost = coeff * sum log(1 + (y - t)^2),   dy = coeff * 2 (y - t) / (1 + (y - t)^2)

    t as for cost.crossent2: a target per class (the 2012 Flickr provider's tags) or class numbers
    standing for one-hot rows. Its value is [the cost without coeff].

    Params: coeff (default 1).
    """
    n_inputs = 2
    is_cost = True
    keys = (Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),)

    def infer(self, shapes):
        self.classes = self.size(shapes[1])
        check_targets(self, shapes, self.classes)
        return (1,)

    def forward_cpu(self, xs, ctx):
        y = xs[1].reshape(self.classes, -1)
        d = y - targets_numpy(xs[0], self.classes, y.dtype)
        return np.array([np.log1p(d * d).sum()], dtype=y.dtype)

    def backward_cpu(self, xs, out, dy, need, ctx):
        y = xs[1].reshape(self.classes, -1)
        d = y - targets_numpy(xs[0], self.classes, y.dtype)
        return [None, self.conf.coeff * 2 * d / (1 + d * d)]

    def forward_gpu(self, xs, ctx):
        y = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        terms = self.be.empty((1, y.size))
        kernels(self.be, CU).rflickr_terms.launch(y.size, t, y, terms, i32(y.size))
        total = self.be.empty((1, 1))
        row_sums(self.be, terms, total)
        return total.reshape(1)

    def backward_gpu(self, xs, out, dy, need, ctx):
        y = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        grad = self.be.empty(y.shape)
        kernels(self.be, CU).rflickr_backward.launch(y.size, t, y, grad, f32(self.conf.coeff), i32(y.size))
        return [None, grad]
