"""cost.logreg: the multinomial logistic regression cost, the paper's objective, and its errors."""
import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.layer import Layer
from convnet.registry import register


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
