"""dropout: cuda-convnet2's inverted dropout, and the base of hs and dropout2."""
import numpy as np

from convnet.config import Key, boolean, probability
from convnet.kernels import ELEMENTWISE, beside, f32, i32, kernels
from convnet.layer import Layer
from convnet.random import mix_key, uniform
from convnet.registry import register

CU = beside(__file__, "dropout.cu")


class DropoutBase(Layer):
    """In training each value is kept with probability `keep` (mask m = u < keep, u uniform from
    convnet.random, a function of the run's seed, the layer and the step) and zeroed otherwise:
        train: y = x * m * train_scale         test: y = x * test_scale
    With enable=false (params file) the layer does in training what it does at test (hs: the 2012
    code's HiddenSexLayer, so that enabling dropout mid-run keeps the scale), or passes its input
    through unchanged (disabled_scale = 1: dropout, dropout2).
    """
    n_inputs = 1
    keys = (
        Key("keep", probability, doc="the probability of keeping each value"),
        Key("enable", boolean, default=True, where="params", doc="false: pass the input through"),
    )
    train_scale = test_scale = 1.0
    disabled_scale = 1.0           # "test": a disabled layer scales as at test
    seed = 0               # the net sets its own seed mixed with the layer's name

    def infer(self, shapes):
        return shapes[0]

    def scales(self):
        """(train scale, test scale, disabled scale)."""
        keep = self.conf.keep
        test = keep if self.test_scale == "keep" else 1.0
        return (1.0 / keep if self.train_scale == "1/keep" else 1.0, test,
                test if self.disabled_scale == "test" else 1.0)

    def mask_key(self, step):
        return mix_key(self.seed, step)

    def mask(self, x, step):
        return (uniform(self.mask_key(step), x.size) < np.float32(self.conf.keep)).reshape(x.shape)

    def forward_cpu(self, xs, ctx):
        x = xs[0]
        train, test, disabled = self.scales()
        if not self.conf.enable:
            return x * x.dtype.type(disabled)
        if ctx.train:
            return x * self.mask(x, ctx.step) * x.dtype.type(train)
        return x * x.dtype.type(test)

    def backward_cpu(self, xs, y, dy, need, ctx):
        train, test, disabled = self.scales()
        if not self.conf.enable:
            return [dy * dy.dtype.type(disabled)]
        if ctx.train:
            return [dy * self.mask(dy, ctx.step) * dy.dtype.type(train)]
        return [dy * dy.dtype.type(test)]

    def _apply_gpu(self, a, ctx):
        """The forward and the backward are the same map: mask (training) or scale (test)."""
        out = self.be.empty(a.shape)
        train, test, disabled = self.scales()
        if not self.conf.enable:
            kernels(self.be, ELEMENTWISE).scale.launch(a.size, a, out, f32(disabled), i32(a.size))
            return out
        if ctx.train:
            kernels(self.be, CU).dropout_apply.launch(a.size, a, out, np.uint32(self.mask_key(ctx.step)),
                                                      f32(self.conf.keep), f32(train), i32(a.size))
        else:
            kernels(self.be, ELEMENTWISE).scale.launch(a.size, a, out, f32(test), i32(a.size))
        return out

    def forward_gpu(self, xs, ctx):
        return self._apply_gpu(xs[0], ctx)

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [self._apply_gpu(dy, ctx)]


@register("dropout")
class Dropout(DropoutBase):
    """Inverted dropout (cuda-convnet2): train y = x * m / keep; test y = x.
    Config keys: keep. Params: enable."""
    train_scale = "1/keep"
