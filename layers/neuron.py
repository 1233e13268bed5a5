"""neuron: an elementwise activation function, f(x) applied to every value.

`neuron=relu` on any other layer makes a hidden layer `<name>_neuron` of this type after it.
"""
import re

import numpy as np

from convnet.chunks import by_chunks
from convnet.config import Key
from convnet.kernels import beside, f32, i32, kernels
from convnet.layer import Layer
from convnet.random import mix_key, normal, second_key
from convnet.registry import register

CU = beside(__file__, "neuron.cu")

# name -> (parameter names, formula). The order gives each type its code in neuron.cu.
NEURONS = {
    "ident": ((), "f(x) = x"),
    "relu": ((), "f(x) = max(0, x)"),
    "brelu": (("a",), "f(x) = min(a, max(0, x))"),
    "softrelu": ((), "f(x) = log(1 + e^x), and x above 4 (as the 2012 code)"),
    "logistic": ((), "f(x) = 1 / (1 + e^-x)"),
    "tanh": (("a", "b"), "f(x) = a * tanh(b * x)"),
    "abs": ((), "f(x) = |x|"),
    "square": ((), "f(x) = x^2"),
    "sqrt": ((), "f(x) = sqrt(x)"),
    "linear": (("a", "b"), "f(x) = a * x + b"),
    "nrelu": ((), "f(x) = max(0, r + r z) with r = max(0, x), z ~ N(0, 1), in training; max(0, x) at test"),
    "drelu": (("a",), "f(x) = x - a * tanh(x / a)"),
}
_SPEC = re.compile(r"^\s*(\w+)\s*(?:\[([^\]]*)\])?\s*$")


def parse_neuron(spec):
    """'tanh[1.7159,0.6666]' -> ('tanh', (1.7159, 0.6666)). ValueError with the valid types."""
    m = _SPEC.match(spec)
    name = m.group(1) if m else None
    if name not in NEURONS:
        valid = ", ".join(n + (f"[{','.join(p)}]" if p else "") for n, (p, _) in NEURONS.items())
        raise ValueError(f"unknown neuron {spec.strip()!r} (valid: {valid})")
    names = NEURONS[name][0]
    values = [v.strip() for v in m.group(2).split(",")] if m.group(2) is not None else []
    if len(values) != len(names):
        form = f"{name}[{','.join(names)}]" if names else name
        raise ValueError(f"neuron {name} takes {len(names)} parameters, written {form}; got {spec.strip()!r}")
    try:
        return name, tuple(float(v) for v in values)
    except ValueError:
        raise ValueError(f"neuron parameters must be numbers, got {spec.strip()!r}") from None


def neuron_key():
    return Key("neuron", lambda s: parse_neuron(s), doc="the activation: " +
               "; ".join(f"{n}: {f}" for n, (_, f) in NEURONS.items()))


def forward_numpy(name, p, x, z=None):
    """f(x); z: nrelu's standard normals (None: no noise)."""
    if name == "ident":
        return x.copy()
    if name == "relu" or (name == "nrelu" and z is None):
        return np.maximum(x, 0)
    if name == "nrelu":
        r = np.maximum(x, 0)
        return np.maximum(r + r * z.reshape(x.shape).astype(x.dtype), 0)
    if name == "drelu":
        a = x.dtype.type(p[0])
        return x - a * np.tanh(x / a)
    if name == "brelu":
        return np.minimum(np.maximum(x, 0), x.dtype.type(p[0]))
    if name == "softrelu":
        return np.where(x > 4, x, np.log1p(np.exp(np.minimum(x, 4))))
    if name == "logistic":
        return 0.5 * np.tanh(0.5 * x) + 0.5          # = 1/(1+e^-x), without overflow
    if name == "tanh":
        return x.dtype.type(p[0]) * np.tanh(x.dtype.type(p[1]) * x)
    if name == "abs":
        return np.abs(x)
    if name == "square":
        return x * x
    if name == "sqrt":
        return np.sqrt(x)
    return x.dtype.type(p[0]) * x + x.dtype.type(p[1])   # linear


def backward_numpy(name, p, x, y, dy):
    if name == "ident":
        return dy.copy()
    if name in ("relu", "nrelu"):       # nrelu: the noise held fixed, as the 2012 code
        return dy * (y > 0)
    if name == "drelu":
        t = np.tanh(x / x.dtype.type(p[0]))
        return dy * t * t
    if name == "brelu":
        return dy * ((y > 0) & (y < p[0]))
    if name == "softrelu":                            # 1 above 4, where f is x; logistic(x) below
        return dy * np.where(x > 4, 1, 0.5 * np.tanh(0.5 * np.minimum(x, 4)) + 0.5)
    if name == "logistic":
        return dy * y * (1 - y)
    if name == "tanh":
        t = np.tanh(x.dtype.type(p[1]) * x)
        return dy * x.dtype.type(p[0] * p[1]) * (1 - t * t)
    if name == "abs":                                 # -1 at 0, as the 2012 code
        return dy * np.where(x > 0, 1, -1).astype(dy.dtype)
    if name == "square":
        return 2 * x * dy
    if name == "sqrt":
        return dy / (2 * y)
    return dy * x.dtype.type(p[0])                    # linear


@register("neuron")
class Neuron(Layer):
    """y = f(x) elementwise, f one of NEURONS (for example relu, tanh[a,b], linear[a,b]).

    Config keys: neuron. As the 2012 code (include/neuron.cuh): the gradient of relu, brelu, logistic
    and sqrt is computed from the output, relu's at exactly 0 is 0, abs's at 0 is -1, softrelu is x
    above 4 with gradient 1. nrelu adds Gaussian noise of standard deviation max(0, x) in training
    (the 2012 code added it at test too) and its gradient holds the noise fixed: dy where y > 0. The
    noise is counter-based (convnet.random), a function of the run's seed, the layer and the step.
    """
    n_inputs = 1
    keys = (neuron_key(),)
    source = None      # the layer whose `neuron=` made this one, if any

    def infer(self, shapes):
        self.kind, self.p = self.conf.neuron
        if self.kind == "drelu" and self.p[0] == 0:
            raise self.cfg.error("neuron", "drelu[a] needs a != 0 (it computes tanh(x / a))")
        return shapes[0]

    def noise_keys(self, ctx):
        """nrelu's two noise keys for this pass, or None when it adds no noise."""
        if self.kind != "nrelu" or not (ctx.train and ctx.noise):
            return None
        key = mix_key(self.seed, ctx.step)
        return key, second_key(key)

    # Elementwise: the CPU math runs in pieces on every core (chunks.py).
    def forward_cpu(self, xs, ctx):
        keys, x = self.noise_keys(ctx), xs[0]
        if keys is None:
            return by_chunks(lambda a: forward_numpy(self.kind, self.p, a), [x], axis=0)
        z = normal(keys[0], x.size).reshape(x.shape)
        return by_chunks(lambda a, b: forward_numpy(self.kind, self.p, a, b), [x, z], axis=0)

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        return [by_chunks(lambda a, b, c: backward_numpy(self.kind, self.p, a, b, c),
                          [x, y.reshape(x.shape), dy.reshape(x.shape)], axis=0)]

    seed = 0               # the net sets its own seed mixed with the layer's name

    def kink_pattern(self, xs, y, ctx):
        """Where f has kinks, which side of them each value is on (for the gradient checker)."""
        x = xs[0]
        if self.kind in ("relu", "nrelu", "abs"):
            return x > 0
        if self.kind == "brelu":
            return (x > 0).astype(np.int8) + (x >= self.p[0])
        if self.kind == "softrelu":
            return x > 4
        return np.zeros(0)

    def _codes(self):
        a, b = (tuple(self.p) + (0.0, 0.0))[:2]
        return i32(list(NEURONS).index(self.kind)), f32(a), f32(b)

    def forward_gpu(self, xs, ctx):
        x = xs[0]
        y = self.be.empty(x.shape)
        keys = self.noise_keys(ctx)
        noise = (i32(1), np.uint32(keys[0]), np.uint32(keys[1])) if keys else (i32(0), np.uint32(0), np.uint32(0))
        kernels(self.be, CU).neuron_forward.launch(x.size, x, y, *self._codes(), *noise, i32(x.size))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        dx = self.be.empty(dy.shape)
        kernels(self.be, CU).neuron_backward.launch(dy.size, xs[0], y, dy, dx, *self._codes(), i32(dy.size))
        return [dx]
