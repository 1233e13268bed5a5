"""What the weight layers (conv, local, fc) share: their init and learning-param keys, and the making
of their Parameters. Weights start as zero-mean Gaussians with standard deviation initW; biases at initB.
"""
import numpy as np

from .config import Key, non_negative_number, number
from .layer import Parameter
from .schedule import schedule

INIT_KEYS = (
    Key("initW", non_negative_number, default=0.01, per_input=True,
        doc="standard deviation of the Gaussian the weights start from"),
    Key("initB", number, default=0.0, doc="the biases' starting value"),
)

LEARNING_KEYS = (
    Key("epsW", schedule, per_input=True, where="params", doc="weight learning rate (or schedule)"),
    Key("epsB", schedule, where="params", doc="bias learning rate (or schedule)"),
    Key("momW", non_negative_number, per_input=True, where="params", doc="weight momentum"),
    Key("momB", non_negative_number, where="params", doc="bias momentum"),
    Key("wc", non_negative_number, default=0.0, per_input=True, where="params", doc="weight decay"),
    Key("wball", non_negative_number, default=0.0, per_input=True, where="params",
        doc="bound on each filter's mean squared weight (0: none)"),
)

WEIGHT_KEYS = INIT_KEYS + LEARNING_KEYS


def gaussian(rng, shape, std, dtype):
    """Weights drawn in float32 whatever the dtype, so a float64 net for gradient checks starts from
    exactly the values a float32 net would."""
    w = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return w.astype(dtype)


class WeightLayerMixin:
    """init_params for a layer whose param_shapes() are its weights per input and then its biases.
    filter_axes: the leading axes of a weight array that index its filters (for wball)."""
    filter_axes = 1

    def init_params(self, rng, dtype):
        shapes = self.param_shapes()
        self.params = make_weight_params(self, rng, dtype, shapes[:-1], shapes[-1], self.filter_axes)


def make_weight_params(layer, rng, dtype, weight_shapes, bias_shape, filter_axes=1):
    """Parameters 'weights/i' (one per input) and 'biases', with the layer's learning params."""
    c = layer.conf
    params = []
    for i, shape in enumerate(weight_shapes):
        params.append(Parameter(layer, f"weights/{i}", gaussian(rng, shape, c.initW[i], dtype),
                                eps=c.epsW[i], mom=c.momW[i], wc=c.wc[i], wball=c.wball[i],
                                filter_axes=filter_axes))
    params.append(Parameter(layer, "biases", np.full(bias_shape, c.initB, dtype=dtype),
                            eps=c.epsB, mom=c.momB))
    return params
