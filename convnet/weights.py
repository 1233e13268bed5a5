"""What the weight layers (conv, local, fc, treefc) share: their init and learning-param keys, and the
making of their Parameters.

Weights start as zero-mean Gaussians with standard deviation initW, biases at initB, unless
initWFunc/initBFunc name a function (convnet.initfunc), or weightSource makes a matrix another's.
The learning params are the 2012 code's (layer.py, WeightLayerParser.add_params): epsW, momW, wc,
wball per input; epsB, momB; schedW/schedB (or the older sched) for the shape of the rates over the
run (convnet.schedule); superEps/superMom.
"""
import re

import numpy as np

from .config import Key, non_negative_number, number, text
from .initfunc import FromCheckpoint, InitFunc, checked_array
from .layer import Parameter
from .schedule import schedule, schedule_2012

UNSET = ""              # a key's default that says "not given" (a schedule of "default" is None)


def source_list(value):
    return value.strip()


INIT_KEYS = (
    Key("initW", non_negative_number, default=0.01, per_input=True,
        doc="standard deviation of the Gaussian the weights start from"),
    Key("initB", number, default=0.0, doc="the biases' starting value"),
    Key("initWFunc", text, default=None,
        doc="module.func(params): a Python function gives the starting weights (see the README)"),
    Key("initBFunc", text, default=None, doc="module.func(params): a Python function gives the starting biases"),
    Key("weightSource", source_list, default="", per_input=True,
        doc="layer or layer[i]: input i uses (shares) that layer's weight matrix i instead of its own"),
)

LEARNING_KEYS = (
    Key("epsW", schedule, per_input=True, where="params", doc="weight learning rate (or convnet's schedule)"),
    Key("epsB", schedule, where="params", doc="bias learning rate (or convnet's schedule)"),
    Key("momW", non_negative_number, per_input=True, where="params", doc="weight momentum"),
    Key("momB", non_negative_number, where="params", doc="bias momentum"),
    Key("wc", non_negative_number, default=0.0, per_input=True, where="params", doc="weight decay"),
    Key("wball", non_negative_number, default=0.0, per_input=True, where="params",
        doc="bound on each filter's norm, in units of its number of weights (0: none)"),
    Key("schedW", schedule_2012, default=UNSET, where="params",
        doc="the 2012 code's schedule of every epsW: default, linear[..], exp[..], dexp[..], jdexp[..]"),
    Key("schedB", schedule_2012, default=UNSET, where="params", doc="the same for epsB"),
    Key("sched", schedule_2012, default=UNSET, where="params", doc="older files: schedW and schedB at once"),
    Key("superEps", non_negative_number, default=0.0, where="params",
        doc="> 0: the 2012 code's update by the gradient over its running standard deviation"),
    Key("superMom", non_negative_number, default=0.0, where="params", doc="accepted and unused, as in the 2012 code"),
)

WEIGHT_KEYS = INIT_KEYS + LEARNING_KEYS
_SOURCE = re.compile(r"^\s*([^\s\[]+)(?:\[(\d+)\])?\s*$")


def gaussian(rng, shape, std, dtype):
    """Weights drawn in float32 whatever the dtype, so a float64 net for gradient checks starts from
    exactly the values a float32 net would."""
    w = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return w.astype(dtype)


def parse_source(layer, i):
    """(source layer name, matrix index) of input i's weightSource, or None."""
    value = layer.conf.weightSource[i]
    if not value:
        return None
    m = _SOURCE.match(value)
    if not m:
        raise layer.cfg.error("weightSource", f"cannot read {value!r}: write layer or layer[index]")
    return m.group(1), int(m.group(2) or 0)


def rates(layer):
    """([the schedule of each weight matrix], the biases' schedule): epsW/epsB, shaped by schedW/schedB."""
    c = layer.conf
    shape_w = c.schedW if c.schedW is not UNSET else (c.sched if c.sched is not UNSET else None)
    shape_b = c.schedB if c.schedB is not UNSET else (c.sched if c.sched is not UNSET else None)

    def shaped(eps, shape, key, sched_key):
        if shape is None:
            return eps
        if eps.form != "const":
            raise layer.cfg.error(key, f"gives a schedule and {sched_key} another: give the base rate in {key} "
                                       f"and the schedule in {sched_key}, or convnet's schedule in {key} alone", "params")
        return shape.with_base(eps.base)

    w_key = "schedW" if c.schedW is not UNSET else "sched"
    b_key = "schedB" if c.schedB is not UNSET else "sched"
    return ([shaped(e, shape_w, "epsW", w_key) for e in c.epsW], shaped(c.epsB, shape_b, "epsB", b_key))


class WeightLayerMixin:
    """init_params for a layer whose param_shapes() are its weights per input and then its biases.

    filter_axes: the leading axes of a weight array that index its filters (for wball and wcNorm).
    The layer converts the 2012 code's matrices (from initWFunc/initBFunc) with weights_2012_shape,
    weights_from_2012, biases_2012_shape and biases_from_2012; the defaults are fc's.
    """
    filter_axes = 1
    restoring = False          # set by the net: weights come from a checkpoint, init functions are not called
    weight_sources = {}        # input -> (layer, matrix): set by the graph from weightSource

    def init_params(self, rng, dtype):
        if hasattr(self, "init_connections"):        # randSparse's, drawn first, as the 2012 parser did
            self.init_connections(rng)
        shapes = self.param_shapes()
        self.params = make_weight_params(self, rng, dtype, shapes[:-1], shapes[-1], self.filter_axes)

    # fc's layout: the 2012 code's (inputs, outputs) matrix is the transpose of ours; biases (1, outputs).
    def weights_2012_shape(self, i):
        rows, cols = self.param_shapes()[i]
        return (cols, rows)

    def weights_from_2012(self, i, a):
        return a.T

    def biases_2012_shape(self):
        return (1,) + tuple(self.param_shapes()[-1])

    def biases_from_2012(self, a):
        return a.reshape(self.param_shapes()[-1])

    def parameter_extras(self, i):
        """Keyword arguments of weight matrix i's Parameter beyond the common ones (conv: wc_norm)."""
        return {}


def _initial_weights(layer, rng, dtype, i, shape):
    c = layer.conf
    if c.initWFunc and not layer.restoring:
        init = InitFunc(layer, "initWFunc", c.initWFunc)
        result = init.call(i, layer.weights_2012_shape(i))
        if isinstance(result, FromCheckpoint):
            return checked_array(init, result.array, shape, f"weights of input {i}").astype(dtype)
        array = checked_array(init, result, layer.weights_2012_shape(i), f"weights of input {i}")
        return np.ascontiguousarray(layer.weights_from_2012(i, array).reshape(shape)).astype(dtype)
    return gaussian(rng, shape, c.initW[i], dtype)


def _initial_biases(layer, dtype, shape):
    c = layer.conf
    if c.initBFunc and not layer.restoring:
        init = InitFunc(layer, "initBFunc", c.initBFunc)
        result = init.call(layer.biases_2012_shape())
        if isinstance(result, FromCheckpoint):
            return checked_array(init, result.array, shape, "biases").astype(dtype)
        array = checked_array(init, result, layer.biases_2012_shape(), "biases")
        return np.ascontiguousarray(layer.biases_from_2012(array).reshape(shape)).astype(dtype)
    return np.full(shape, c.initB, dtype=dtype)


def make_weight_params(layer, rng, dtype, weight_shapes, bias_shape, filter_axes=1, row_scale=None):
    """Parameters 'weights/i' (one per input) and 'biases', with the layer's learning params. A shared
    matrix (weightSource) gets no values of its own: the net points it at its owner's."""
    c = layer.conf
    w_rates, b_rate = rates(layer)
    params = []
    for i, shape in enumerate(weight_shapes):
        shared = i in layer.weight_sources
        value = None if shared else _initial_weights(layer, rng, dtype, i, shape)
        per_filter = int(np.prod(shape[filter_axes:]))
        params.append(Parameter(layer, f"weights/{i}", value, eps=w_rates[i], mom=c.momW[i], wc=c.wc[i],
                                wball=c.wball[i] * per_filter, filter_axes=filter_axes, super_eps=c.superEps,
                                row_scale=row_scale, **layer.parameter_extras(i)))
    params.append(Parameter(layer, "biases", _initial_biases(layer, dtype, bias_shape), eps=b_rate, mom=c.momB,
                            super_eps=c.superEps))
    return params
