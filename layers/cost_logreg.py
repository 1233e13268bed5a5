"""cost.logreg: the multinomial logistic regression cost, the paper's objective, and its errors."""
import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "cost_logreg.cu")


@register("cost.logreg")
class LogregCost(Layer):
    """inputs=labels,probs.  cost = -coeff * sum_n log probs[label_n, n]   (a sum over the batch)

    Its value is [cost, top-1 errors, top-k errors], counts over the batch: an image is a top-k error
    when k or more classes have a probability strictly above its label's.

    Config keys: inputs (labels, then a softmax). Params: coeff (default 1), topk (default 1).
    """
    n_inputs = 2
    is_cost = True
    keys = (
        Key("coeff", number, default=1.0, where="params", doc="the cost's weight"),
        Key("topk", positive_integer, default=1, where="params", doc="k of the top-k error"),
    )

    def infer(self, shapes):
        if self.size(shapes[0]) != 1:
            raise self.cfg.error("inputs", f"the first input must be the labels (one value per image); "
                                           f"'{self.inputs[0]}' gives {self.size(shapes[0])}")
        self.classes = self.size(shapes[1])
        if self.conf.topk > self.classes:
            raise self.cfg.error("topk", f"is {self.conf.topk}, more than the {self.classes} classes")
        return (3,)

    def check_input_layers(self, input_layers):
        if input_layers[1].type != "softmax":
            raise self.cfg.error("inputs", f"the second input must be a softmax layer; "
                                           f"'{self.inputs[1]}' is {input_layers[1].type}")

    def forward_cpu(self, xs, ctx):
        labels, probs = xs[0].reshape(-1).astype(np.int64), xs[1]
        p_true = probs[labels, np.arange(probs.shape[1])]
        above = (probs > p_true).sum(axis=0)
        cost = -self.conf.coeff * np.log(p_true).sum()
        return np.array([cost, (above >= 1).sum(), (above >= self.conf.topk).sum()], dtype=probs.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        labels, probs = xs[0].reshape(-1).astype(np.int64), xs[1]
        cases = np.arange(probs.shape[1])
        dprobs = np.zeros_like(probs)
        dprobs[labels, cases] = -self.conf.coeff / probs[labels, cases]
        return [None, dprobs]

    def forward_gpu(self, xs, ctx):
        labels, probs = xs[0], xs[1]
        K, N = probs.shape
        per_image = self.be.empty((3, N))
        kernels(self.be, CU).logreg_forward.launch(N, labels, probs, per_image, i32(K), i32(N),
                                                   i32(self.conf.topk), f32(self.conf.coeff))
        totals = self.be.empty((3, 1))
        row_sums(self.be, per_image, totals)
        return totals.reshape(3)

    def backward_gpu(self, xs, y, dy, need, ctx):
        labels, probs = xs[0], xs[1]
        K, N = probs.shape
        dprobs = self.be.empty((K, N))
        kernels(self.be, CU).logreg_backward.launch(K * N, labels, probs, dprobs, i32(K), i32(N), f32(self.conf.coeff))
        return [None, dprobs]
