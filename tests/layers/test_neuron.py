"""neuron: every type against its closed form in scalar math, and its gradient."""
import math

import numpy as np
import pytest

from convnet.errors import ConfigError
from tests.helpers import TRAIN, check_layer_gradients, make_layer

CLOSED_FORMS = {
    "ident": lambda v: v,
    "relu": lambda v: max(0.0, v),
    "brelu[1.5]": lambda v: min(1.5, max(0.0, v)),
    "softrelu": lambda v: math.log1p(math.exp(v)),
    "logistic": lambda v: 1 / (1 + math.exp(-v)),
    "tanh[1.7159,0.6666]": lambda v: 1.7159 * math.tanh(0.6666 * v),
    "abs": abs,
    "square": lambda v: v * v,
    "sqrt": math.sqrt,
    "linear[0.5,-2]": lambda v: 0.5 * v - 2,
}


@pytest.mark.parametrize("spec", CLOSED_FORMS)
def test_forward_and_gradient(spec):
    layer = make_layer("neuron", [(4, 3, 3)], dict(neuron=spec))
    x = np.random.default_rng(0).standard_normal((4, 3, 3, 2)) * 2
    if spec == "sqrt":
        x = np.abs(x) + 0.1
    expected = np.vectorize(CLOSED_FORMS[spec])(x)
    np.testing.assert_allclose(layer.forward([x], TRAIN), expected, rtol=1e-14, atol=1e-15)
    check_layer_gradients(layer, [x])


def test_extreme_inputs_do_not_overflow():
    x = np.array([-1000.0, 1000.0]).reshape(2, 1).astype(np.float32)
    for spec, expected in [("logistic", [0, 1]), ("softrelu", [0, 1000])]:
        y = make_layer("neuron", [(2,)], dict(neuron=spec), dtype=np.float32).forward([x], TRAIN)
        np.testing.assert_allclose(y.reshape(-1), expected)


@pytest.mark.parametrize("spec,fragment", [("relux", "unknown neuron"), ("tanh[1]", "takes 2 parameters"),
                                           ("linear[a,b]", "must be numbers")])
def test_bad_neuron_spec(spec, fragment):
    with pytest.raises(ConfigError) as e:
        make_layer("neuron", [(4,)], dict(neuron=spec))
    assert e.value.key == "neuron" and fragment in str(e.value)
