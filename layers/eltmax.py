"""eltmax: the elementwise maximum of inputs of one size."""
import numpy as np

from convnet.registry import register
from convnet.layer import Layer

from .eltsum import check_same_sizes


@register("eltmax")
class EltwiseMax(Layer):
    """y = max_i x_i elementwise; the gradient goes to every input equal to the maximum (ties share),
    as cuda-convnet. At least two inputs; no other config keys."""

    def infer(self, shapes):
        if len(shapes) < 2:
            raise self.cfg.error("inputs", "an eltmax layer takes at least 2 inputs")
        return check_same_sizes(self, shapes)

    def forward_cpu(self, xs, ctx):
        y = xs[0].copy()
        for x in xs[1:]:
            np.maximum(y, x.reshape(y.shape), out=y)
        return y.reshape(self.output_shape + y.shape[-1:])

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [dy * (x.reshape(y.shape) == y) if needed else None for x, needed in zip(xs, need)]
