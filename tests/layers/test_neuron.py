"""neuron: every type against its closed form in scalar math, and its gradient; the 2012 code's
details (softrelu above 4, abs at 0, nrelu's noise and its gradient)."""
import math

import numpy as np
import pytest

from convnet.errors import ConfigError
from convnet.layer import Pass
from tests.helpers import TEST, TRAIN, check_layer_gradients, make_layer

CLOSED_FORMS = {
    "ident": lambda v: v,
    "relu": lambda v: max(0.0, v),
    "brelu[1.5]": lambda v: min(1.5, max(0.0, v)),
    "softrelu": lambda v: v if v > 4 else math.log1p(math.exp(v)),
    "logistic": lambda v: 1 / (1 + math.exp(-v)),
    "tanh[1.7159,0.6666]": lambda v: 1.7159 * math.tanh(0.6666 * v),
    "abs": abs,
    "square": lambda v: v * v,
    "sqrt": math.sqrt,
    "linear[0.5,-2]": lambda v: 0.5 * v - 2,
    "nrelu": lambda v: max(0.0, v),                      # at test, and in training without noise
    "drelu[1.5]": lambda v: v - 1.5 * math.tanh(v / 1.5),
}
EXACT = Pass(train=True, step=3, noise=False)


@pytest.mark.parametrize("spec", CLOSED_FORMS)
def test_forward_and_gradient(spec):
    layer = make_layer("neuron", [(4, 3, 3)], dict(neuron=spec))
    x = np.random.default_rng(0).standard_normal((4, 3, 3, 2)) * 3
    if spec == "sqrt":
        x = np.abs(x) + 0.1
    expected = np.vectorize(CLOSED_FORMS[spec])(x)
    np.testing.assert_allclose(layer.forward([x], EXACT), expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(layer.forward([x], TEST), expected, rtol=1e-14, atol=1e-15)
    check_layer_gradients(layer, [x], ctx=EXACT)


def test_softrelu_is_x_above_4_with_gradient_1():
    layer = make_layer("neuron", [(3,)], dict(neuron="softrelu"))
    x = np.array([[3.999], [4.0], [4.5]])
    y = layer.forward([x], TEST)
    np.testing.assert_allclose(y.ravel(), [math.log1p(math.exp(3.999)), math.log1p(math.exp(4.0)), 4.5])
    dx = layer.backward([x], y, np.ones_like(x), [True], TEST)[0]
    np.testing.assert_allclose(dx.ravel(), [1 / (1 + math.exp(-3.999)), 1 / (1 + math.exp(-4.0)), 1.0])


def test_abs_gradient_at_zero_is_minus_one():
    layer = make_layer("neuron", [(3,)], dict(neuron="abs"))
    x = np.array([[-1.0], [0.0], [2.0]])
    dx = layer.backward([x], layer.forward([x], TEST), np.ones_like(x), [True], TEST)[0]
    np.testing.assert_array_equal(dx.ravel(), [-1, -1, 1])


def test_nrelu_noise_in_training_has_standard_deviation_max0x():
    layer = make_layer("neuron", [(1,)], dict(neuron="nrelu"))
    layer.seed = 99
    x = np.full((1, 200000), 2.0)
    y = layer.forward([x], TRAIN)
    # y = max(0, 2 + 2 z): mean and spread of a rectified N(2, 4), from the normal's closed form
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    mean = 2 * (1 - 0.5 * math.erfc(1 / math.sqrt(2))) + 2 * phi
    assert abs(y.mean() - mean) < 0.02
    assert np.all(y >= 0) and 0.14 < (y == 0).mean() < 0.18          # P(z < -1) = 0.159
    assert np.array_equal(y, layer.forward([x], TRAIN))              # the same step, the same noise
    assert not np.array_equal(y, layer.forward([x], Pass(True, 4)))
    negative = layer.forward([-x], TRAIN)
    assert np.all(negative == 0)                                     # no noise where x <= 0


def test_nrelu_gradient_holds_the_noise_fixed():
    layer = make_layer("neuron", [(6,)], dict(neuron="nrelu"))
    x = np.random.default_rng(1).standard_normal((6, 50))
    y = layer.forward([x], TRAIN)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward([x], y, dy, [True], TRAIN)[0], dy * (y > 0))


@pytest.mark.parametrize("spec,fragment", [("relux", "unknown neuron"), ("tanh[1]", "takes 2 parameters"),
                                           ("linear[a,b]", "must be numbers"), ("drelu[0]", "a != 0")])
def test_bad_neuron_spec(spec, fragment):
    with pytest.raises(ConfigError) as e:
        make_layer("neuron", [(4,)], dict(neuron=spec))
    assert e.value.key == "neuron" and fragment in str(e.value)


def test_extreme_inputs_do_not_overflow():
    x = np.array([-1000.0, 1000.0]).reshape(2, 1).astype(np.float32)
    for spec, expected in [("logistic", [0, 1]), ("softrelu", [0, 1000]), ("drelu[2]", [-998, 998])]:
        y = make_layer("neuron", [(2,)], dict(neuron=spec), dtype=np.float32).forward([x], TRAIN)
        np.testing.assert_allclose(y.reshape(-1), expected)
