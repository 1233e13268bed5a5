"""eltsum: a weighted elementwise sum of inputs of one size."""
from convnet.config import Key, number
from convnet.kernels import ELEMENTWISE, f32, i32, kernels
from convnet.layer import Layer
from convnet.registry import register


@register("eltsum")
class EltwiseSum(Layer):
    """y = sum_i coeffs[i] * x_i.  Config keys: coeffs (per input, default 1)."""
    keys = (Key("coeffs", number, default=1.0, per_input=True, doc="each input's weight"),)

    def infer(self, shapes):
        return check_same_sizes(self, shapes)

    def forward_cpu(self, xs, ctx):
        y = self.conf.coeffs[0] * xs[0]
        for c, x in zip(self.conf.coeffs[1:], xs[1:]):
            y += c * x.reshape(y.shape)
        return y.reshape(self.output_shape + y.shape[-1:])

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [c * dy if needed else None for c, needed in zip(self.conf.coeffs, need)]

    def forward_gpu(self, xs, ctx):
        k = kernels(self.be, ELEMENTWISE)
        n = xs[0].size
        y = self.be.empty(self.output_shape + xs[0].shape[-1:])
        k.scale.launch(n, xs[0], y, f32(self.conf.coeffs[0]), i32(n))
        for c, x in zip(self.conf.coeffs[1:], xs[1:]):
            k.axpby.launch(n, x, y, f32(c), f32(1.0), i32(n))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        grads = []
        for c, needed in zip(self.conf.coeffs, need):
            dx = None
            if needed:
                dx = self.be.empty(dy.shape)
                kernels(self.be, ELEMENTWISE).scale.launch(dy.size, dy, dx, f32(c), i32(dy.size))
            grads.append(dx)
        return grads


def check_same_sizes(layer, shapes):
    sizes = {layer.size(s) for s in shapes}
    if len(sizes) > 1:
        listed = ", ".join(f"'{n}' {layer.size(s)}" for n, s in zip(layer.inputs, shapes))
        raise layer.cfg.error("inputs", f"all inputs must have the same size; got {listed}")
    return shapes[0]
