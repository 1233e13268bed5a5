"""cost.crossent: the cross-entropy of a softmax against target distributions (the 2012 code's
CrossEntCostLayer)."""
import numpy as np

from convnet.config import Key, number
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register
from convnet.targets import check_targets, targets_gpu, targets_numpy

CU = beside(__file__, "cost_crossent.cu")


def safelog(p):
    """The 2012 code's safelog: log p, and -50 where p is not positive."""
    return np.where(p > 0, np.log(np.where(p > 0, p, 1)), -50).astype(p.dtype)


@register("cost.crossent")
class CrossEntCost(Layer):
    """inputs=labels,probs.  cost = -coeff * sum_n sum_k t[k, n] log p[k, n],   dp = -coeff * t / p

    t is a distribution over the classes per image: a (classes,) input, as the 2012 providers made it
    (convdata.py's 'labelprobs'), or class numbers (one value per image, as convnet's providers give),
    which stand for one-hot rows. log is the 2012 code's safelog (-50 at 0). Its value is [the cost
    without coeff, errors]: an image is right, by a fraction 1/(classes tied at the top), when a class
    of largest probability has t > 0 (kCrossEntCost).

    The second input must be a softmax; when nothing else reads it, on its device, the net takes the
    two gradients in one step, coeff * (p sum_j t_j - t) (joint_gradient: finite where a probability
    underflows to 0, where t / p is not). The 2012 code meant to (kCrossEntSoftmaxGrad), but there the
    cost wrote no gradient when its softmax had no other reader, and SoftmaxLayer::bpropActs took the
    joint step only for a cost.logreg (src/layer.cu).
    Params: coeff (default 1).
    """
    n_inputs = 2
    is_cost = True
    keys = (Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),)

    def infer(self, shapes):
        self.classes = self.size(shapes[1])
        self.indices = check_targets(self, shapes, self.classes)
        return (2,)

    def check_input_layers(self, input_layers):
        if input_layers[1].type != "softmax":
            raise self.cfg.error("inputs", f"the second input must be a softmax layer; "
                                           f"'{self.inputs[1]}' is {input_layers[1].type}")

    def joins(self, producer):
        return producer.type == "softmax"

    def joint_gradient(self, producer, labels, p):
        K, N = p.shape
        if not self.be.gpu_path:
            t = targets_numpy(labels, K, p.dtype)
            return self.conf.coeff * (p * t.sum(axis=0) - t)
        t = targets_gpu(self.be, labels, K)
        dx = self.be.empty((K, N))
        kernels(self.be, CU).crossent_softmax_grad.launch(K * N, t, p, dx, f32(self.conf.coeff), i32(K), i32(N))
        return dx

    def forward_cpu(self, xs, ctx):
        p = xs[1].reshape(self.classes, -1)
        t = targets_numpy(xs[0], self.classes, p.dtype)
        top = p == p.max(axis=0)
        right = np.any(top & (t > 0), axis=0) / top.sum(axis=0)
        return np.array([-(t * safelog(p)).sum(), p.shape[1] - right.sum()], dtype=p.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        p = xs[1].reshape(self.classes, -1)
        t = targets_numpy(xs[0], self.classes, p.dtype)
        return [None, -self.conf.coeff * t / p]

    def forward_gpu(self, xs, ctx):
        p = xs[1]
        K, N = self.classes, p.shape[-1]
        t = targets_gpu(self.be, xs[0], K)
        per_image = self.be.empty((2, N))
        kernels(self.be, CU).crossent_forward.launch(N, t, p, per_image, i32(K), i32(N))
        totals = self.be.empty((2, 1))
        row_sums(self.be, per_image, totals)
        return totals.reshape(2)

    def backward_gpu(self, xs, y, dy, need, ctx):
        p = xs[1]
        t = targets_gpu(self.be, xs[0], self.classes)
        dp = self.be.empty(p.shape)
        kernels(self.be, CU).crossent_backward.launch(p.size, t, p, dp, f32(self.conf.coeff), i32(p.size))
        return [None, dp]
