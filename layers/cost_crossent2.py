"""cost.crossent2: the elementwise (multi-label) cross-entropy of logistic outputs against 0/1 targets
(the 2012 code's CrossEnt2CostLayer, for its Flickr tags)."""
import numpy as np

from convnet.config import Key, number
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register
from convnet.targets import check_targets, targets_gpu, targets_numpy

from .cost_crossent import safelog

CU = beside(__file__, "cost_crossent2.cu")


@register("cost.crossent2")
class CrossEnt2Cost(Layer):
    """inputs=labels,outputs.  cost = -coeff * sum (t log y + (1 - t) log(1 - y))   (log: safelog)

    dy = coeff * ((1 - t) / (1 - y) - t / y), the exact gradient (the 2012 code's operator for outputs
    that are not logistic had + where - belongs; after a logistic neuron it folded the two into
    coeff * (y - t), which is what this gives through the logistic's backward). t is a 0/1 target per
    class (the 2012 Flickr provider's tags: a (classes,) data layer), or class numbers standing for
    one-hot rows. The outputs are meant to be probabilities (a logistic neuron). Its value is [the cost
    without coeff].

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
        t = targets_numpy(xs[0], self.classes, y.dtype)
        return np.array([-(t * safelog(y) + (1 - t) * safelog(1 - y)).sum()], dtype=y.dtype)

    def backward_cpu(self, xs, out, dy, need, ctx):
        y = xs[1].reshape(self.classes, -1)
        t = targets_numpy(xs[0], self.classes, y.dtype)
        return [None, self.conf.coeff * ((1 - t) / (1 - y) - t / y)]

    def forward_gpu(self, xs, ctx):
        y = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        terms = self.be.empty((1, y.size))
        kernels(self.be, CU).crossent2_terms.launch(y.size, t, y, terms, i32(y.size))
        total = self.be.empty((1, 1))
        row_sums(self.be, terms, total)
        return total.reshape(1)

    def backward_gpu(self, xs, out, dy, need, ctx):
        y = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        grad = self.be.empty(y.shape)
        kernels(self.be, CU).crossent2_backward.launch(y.size, t, y, grad, f32(self.conf.coeff), i32(y.size))
        return [None, grad]
