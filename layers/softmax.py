"""softmax: turns scores into probabilities over the classes, per image."""
import numpy as np

from convnet.layer import Layer
from convnet.registry import register


@register("softmax")
class Softmax(Layer):
    """y[k, n] = exp(x[k, n]) / sum_j exp(x[j, n])   (computed with the maximum subtracted)

    Backward: dx = y * (dy - sum_k dy[k] y[k]). No config keys besides inputs.
    """
    n_inputs = 1

    def infer(self, shapes):
        return (self.size(shapes[0]),)

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.output_shape + xs[0].shape[-1:])
        e = np.exp(x - x.max(axis=0))
        return e / e.sum(axis=0)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [y * (dy - (dy * y).sum(axis=0))]
