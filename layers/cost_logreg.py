"""cost.logreg: the multinomial logistic regression cost, the paper's objective, and its errors."""
import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "cost_logreg.cu")


def correct_fractions(probs, labels, k):
    """Per image, how much of a top-k hit it is, counting ties as the 2012 code did
    (kMultiSoftmaxCost, kLogregCost in src/layer_kernels.cu): with b classes strictly more probable
    than the label and e classes (the label included) exactly as probable, k - b slots are left for
    e candidates, so the hit is clip(k - b, 0, e) / e. A unique top class gives 1 or 0."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    p_true = probs[labels, np.arange(labels.size)]
    bigger = (probs > p_true).sum(axis=0)
    equal = (probs == p_true).sum(axis=0)
    return np.clip(k - bigger, 0, equal) / equal


@register("cost.logreg")
class LogregCost(Layer):
    """inputs=labels,probs.  cost = -coeff * sum_n log probs[label_n, n]   (a sum over the batch)

    Its value is [-sum_n log probs[label_n, n], top-1 errors, top-k errors] over the batch, as the
    2012 code reported it: without coeff (which scales only the gradient), and with ties counted as
    fractions (an image whose label ties with 2 other classes for the top is a third right).

    Config keys: inputs (labels, then a softmax). Params: coeff (default 1), topk (default 1; the
    third value and the trainer's third error column are top-k errors).
    """
    n_inputs = 2
    is_cost = True
    keys = (
        Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),
        Key("topk", positive_integer, default=1, where="params", doc="k of the reported top-k error"),
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

    def joins(self, producer):
        return producer.type == "softmax"       # src/layer.cu, SoftmaxLayer::bpropActs

    def joint_gradient(self, producer, labels, y):
        return producer.logreg_gradient(labels, y, self.conf.coeff)

    def forward_cpu(self, xs, ctx):
        labels, probs = xs[0].reshape(-1).astype(np.int64), xs[1]
        p_true = probs[labels, np.arange(probs.shape[1])]
        n = labels.size
        top1 = correct_fractions(probs, labels, 1).sum()
        topk = correct_fractions(probs, labels, self.conf.topk).sum()
        with np.errstate(divide="ignore"):       # a probability that underflowed to 0: an infinite cost,
            cost = -np.log(p_true).sum()         # which the trainer reports in one line, not a warning
        return np.array([cost, n - top1, n - topk], dtype=probs.dtype)

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
        kernels(self.be, CU).logreg_forward.launch(N, labels, probs, per_image, i32(K), i32(N), i32(self.conf.topk))
        totals = self.be.empty((3, 1))
        row_sums(self.be, per_image, totals)
        return totals.reshape(3)

    def backward_gpu(self, xs, y, dy, need, ctx):
        labels, probs = xs[0], xs[1]
        K, N = probs.shape
        dprobs = self.be.empty((K, N))
        kernels(self.be, CU).logreg_backward.launch(K * N, labels, probs, dprobs, i32(K), i32(N), f32(self.conf.coeff))
        return [None, dprobs]
