"""eltmax: the elementwise maximum of inputs of one size."""
import numpy as np

from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

from .eltsum import check_same_sizes


CU = beside(__file__, "eltmax.cu")


@register("eltmax")
class EltwiseMax(Layer):
    """y = max_i x_i elementwise; the gradient goes to every input equal to the maximum (ties share),
    as cuda-convnet. At least two inputs; no other config keys."""

    def infer(self, shapes):
        if len(shapes) < 2:
            raise self.cfg.error("inputs", "an eltmax layer takes at least 2 inputs")
        return check_same_sizes(self, shapes)

    def kink_pattern(self, xs, y, ctx):
        """Which inputs are the maximum (for the gradient checker)."""
        return np.stack([x.reshape(y.shape) == y for x in xs])

    def forward_cpu(self, xs, ctx):
        y = xs[0].copy()
        for x in xs[1:]:
            np.maximum(y, x.reshape(y.shape), out=y)
        return y.reshape(self.output_shape + y.shape[-1:])

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [dy * (x.reshape(y.shape) == y) if needed else None for x, needed in zip(xs, need)]

    def forward_gpu(self, xs, ctx):
        y = self.be.empty(self.output_shape + xs[0].shape[-1:])
        self.be.copy_into(y, xs[0])
        for x in xs[1:]:
            kernels(self.be, CU).eltmax_forward.launch(y.size, x, y, i32(y.size))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        grads = []
        for x, needed in zip(xs, need):
            dx = None
            if needed:
                dx = self.be.empty(x.shape)
                kernels(self.be, CU).eltmax_backward.launch(dx.size, x, y, dy, dx, i32(dx.size))
            grads.append(dx)
        return grads
