"""The base class of every layer: config keys, shape inference, and the forward/backward dispatch.

A layer type is one file in layers/: a subclass with a `keys` schema, `infer` (the output shape from
the input shapes, validating the config against them), and a NumPy forward/backward pair
(`forward_cpu`, `backward_cpu`) with its GPU twin (`forward_gpu`, `backward_gpu`) that launches the
kernels of the .cu file beside it. The base class alone picks the path, from the backend.

Shapes are per image: (channels, rows, cols) for images, (features,) otherwise. Arrays add the
images as the innermost axis: (channels, rows, cols, images) or (features, images).
"""
import math
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from .config import Key, name_list, non_negative_integer, one_of, text
from .notes import note


class Pass(NamedTuple):
    """What a forward pass is: training (dropout on) or test, and the step that seeds random masks.

    noise=False turns off what training adds on purpose and no backward differentiates: nrelu's
    noise and the float16 rounding of quantF/quantB. The gradient check runs so, to compare each
    backward with the derivative of a deterministic, exact forward."""
    train: bool
    step: int = 0
    noise: bool = True


class Parameter:
    """A learned array with its gradient (of the batch's summed cost), its momentum buffer, and its
    learning params from the params file.

    eps: a schedule.Schedule. wball: the bound on each filter's norm (wball * weights per filter, as
    the 2012 code normed it; 0: none). filter_axes: how many leading axes index the filters; the rest
    is one filter, for wball and wcNorm. wc_norm: (wcNormMin, wcNormMax) of a conv filter, or None.
    super_eps: the 2012 code's superEps update (0: the plain one). row_scale: per leading index, a
    factor of the rate and of the decay (treefc's 1 / leaves under each node), or None.

    A shared matrix (weightSource) is a Parameter whose `source` is the owner's: it reads the owner's
    value and momentum buffer, has a gradient of its own (added to the owner's after each backward
    pass), and only the owner is updated, as the 2012 code did.
    """

    def __init__(self, layer, name, value, eps, mom, wc=0.0, wball=0.0, filter_axes=1, wc_norm=None,
                 super_eps=0.0, row_scale=None):
        self.layer, self.name, self._value = layer, name, value
        self.eps, self.mom, self.wc, self.wball = eps, mom, wc, wball
        self.filter_axes, self.wc_norm, self.super_eps, self.row_scale = filter_axes, wc_norm, super_eps, row_scale
        self.source = None
        self.grad = None
        self._inc = None
        self.averages = None       # superEps: the running means of the gradient and its square
        self.grad_sum = None       # --wupdate-freq: the batch-mean gradients summed since the last update

    @property
    def path(self):
        return f"{self.layer.name}/{self.name}"

    @property
    def value(self):
        return self.source.value if self.source is not None else self._value

    @value.setter
    def value(self, v):
        if self.source is not None:
            raise AttributeError(f"{self.path} shares {self.source.path}: set the owner's value")
        self._value = v

    @property
    def inc(self):
        return self.source.inc if self.source is not None else self._inc

    @inc.setter
    def inc(self, v):
        if self.source is None:
            self._inc = v

    def share(self, owner):
        """Make this matrix read owner's (weightSource): the same values and momentum buffer."""
        while owner.source is not None:
            owner = owner.source
        self.source, self._value, self._inc = owner, None, None


# Every layer's keys in the params file (the 2012 code's LayerParser.add_params): how its output and
# the gradient of its output cross to another device. half: rounded to float16 on the way (the 2012
# code did so where the copy went through the host; convnet wherever it crosses logical devices, so
# that the numbers do not depend on the mapping onto physical GPUs).
QUANT_KEYS = (
    Key("quantF", one_of("default", "half"), default="default", where="params",
        doc="half: the output crosses to other devices as float16"),
    Key("quantB", one_of("default", "half"), default="default", where="params",
        doc="half: the gradient of the output comes back from other devices as float16"),
)


class Layer:
    type = None            # the config type; set by @register
    keys = ()              # the Keys this type reads, besides type/inputs/gpu/neuron and QUANT_KEYS
    n_inputs = None        # None: one or more; an int: exactly that many
    is_data = False
    is_cost = False

    def __init__(self, name, cfg):
        self.name, self.cfg = name, cfg
        cfg.raw("type")
        self.inputs = [] if self.is_data else cfg.read(Key("inputs", name_list))
        if self.n_inputs is not None and not self.is_data and len(self.inputs) != self.n_inputs:
            raise cfg.error("inputs", f"a {self.type} layer takes {self.n_inputs} input"
                            f"{'s' if self.n_inputs > 1 else ''}, got {len(self.inputs)}")
        self.gpu = cfg.read(Key("gpu", non_negative_integer, default=None))
        self.neuron = None
        if not (self.is_data or self.is_cost or self.type == "neuron"):
            self.neuron = cfg.read(Key("neuron", text, default=None)) or None
        self.conf = SimpleNamespace(**{k.name: cfg.read(k, max(1, len(self.inputs))) for k in self.keys})
        self.quant_forward, self.quant_backward = (cfg.read(k) == "half" for k in QUANT_KEYS)
        if self.is_cost and not any(k.name == "topk" for k in self.keys) and cfg.has("topk", "params"):
            # the 2012 files set topk beside every cost's coeff (layer-params-flickr-102.cfg on a
            # cost.crossent2); only cost.logreg read it (layer.py, LogregCostParser)
            cfg.raw("topk", "params")
            note(f"[{name}] topk: ignored, as the 2012 code did: a {self.type} layer reports no top-k error")
        self.params = []
        self.input_shapes = self.output_shape = None
        self.be = self.device = None
        self.device_index = None   # the logical device, set when the graph is built
        self.data_info = {}        # what the data provider tells some layers (graph.load_graph)

    # ---- building ---------------------------------------------------------------------------

    def setup(self, input_shapes):
        """Infer and remember the output shape; ConfigError if the inputs do not fit the config."""
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.output_shape = tuple(self.infer(self.input_shapes))
        return self.output_shape

    def infer(self, shapes):
        raise NotImplementedError

    def check_input_layers(self, input_layers):
        """Checks that need the input layers themselves, not only their shapes."""

    def joins(self, producer):
        """For a cost layer: whether its gradient and that of `producer`, its second input, are taken
        in one step (joint_gradient) when nothing else reads the producer: the 2012 code's shortcuts."""
        return False

    def joint_gradient(self, producer, labels, y):
        """The gradient of this cost with respect to the producer's input, y the producer's output."""
        raise NotImplementedError

    def param_shapes(self):
        """The shapes of the layer's learned arrays: weights per input, then biases."""
        return []

    def init_params(self, rng, dtype):
        """Create self.params (weights drawn from rng); layers without weights have none."""

    def macs(self):
        """Forward multiply-accumulates per image (weighted sums and window sums; 0 if elementwise)."""
        return 0

    def bind(self, backend, device):
        self.be, self.device = backend, device

    # ---- shape helpers ------------------------------------------------------------------------

    def image_shape(self, i, channels, key="channels"):
        """Input i as (channels, rows, cols): flat inputs are square images, as cuda-convnet read them."""
        shape, src = self.input_shapes[i], self.inputs[i]
        if len(shape) == 3:
            if shape[0] != channels:
                raise self.cfg.error(key, f"is {channels} but input '{src}' has {shape[0]} channels")
            return shape
        features = shape[0]
        side = math.isqrt(features // channels) if features % channels == 0 else 0
        if side == 0 or channels * side * side != features:
            raise self.cfg.error(key, f"input '{src}' gives {features} values per image, "
                                      f"not interpretable as {channels}-channel square images")
        return (channels, side, side)

    @staticmethod
    def size(shape):
        return int(np.prod(shape))

    # ---- forward and backward -----------------------------------------------------------------

    def forward(self, xs, ctx):
        """The output for inputs xs (arrays with the images innermost)."""
        return self.forward_gpu(xs, ctx) if self.be.gpu_path else self.forward_cpu(xs, ctx)

    def backward(self, xs, y, dy, need, ctx):
        """Gradients of the cost with respect to each input for which need[i], else None; sets each
        parameter's .grad. dy is the gradient with respect to y (None for cost layers)."""
        method = self.backward_gpu if self.be.gpu_path else self.backward_cpu
        grads = method(xs, y, dy, need, ctx)
        return [None if g is None else g.reshape(x.shape) for g, x in zip(grads, xs)]

    def forward_cpu(self, xs, ctx):
        raise NotImplementedError(f"{self.type}: no NumPy forward")

    def backward_cpu(self, xs, y, dy, need, ctx):
        raise NotImplementedError(f"{self.type}: no NumPy backward")

    def forward_gpu(self, xs, ctx):
        raise NotImplementedError(f"{self.type}: no GPU forward")

    def backward_gpu(self, xs, y, dy, need, ctx):
        raise NotImplementedError(f"{self.type}: no GPU backward")

    def __repr__(self):
        return f"<{self.type} layer {self.name!r}>"
