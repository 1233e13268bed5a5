"""pool: max and avg against loops over clipped windows; ceil output sizes; ties share the gradient."""
import math

import numpy as np
import pytest

from convnet.errors import ConfigError
from tests.helpers import TRAIN, check_layer_gradients, make_layer


def naive_pool(x, kind, size, stride, start, outputs):
    C, H, W, N = x.shape
    y = np.zeros((C, outputs, outputs, N))
    for r in range(outputs):
        for c in range(outputs):
            r0, c0 = start + r * stride, start + c * stride
            win = x[:, max(0, r0):min(H, r0 + size), max(0, c0):min(W, c0 + size)]
            y[:, r, c] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return y


CASES = [  # pool, size, sizeX, stride, start, outputsX
    ("max", 13, 3, 2, 0, 0),      # the paper's overlapping pooling: 6 windows
    ("avg", 8, 3, 2, 0, 0),       # ceil: the last window is clipped to 2 columns
    ("max", 9, 2, 2, 0, 0),
    ("avg", 7, 3, 2, -1, 4),      # a negative start and outputsX
    ("max", 6, 4, 3, 1, 2),
]


@pytest.mark.parametrize("kind,S,k,s,start,outputs", CASES)
def test_forward_matches_loops(kind, S, k, s, start, outputs):
    layer = make_layer("pool", [(3, S, S)], dict(pool=kind, sizeX=k, stride=s, start=start,
                                                 outputsX=outputs, channels=3))
    n_out = outputs or 1 + math.ceil((S - start - k) / s)
    assert layer.output_shape == (3, n_out, n_out)
    x = np.random.default_rng(0).standard_normal((3, S, S, 2))
    np.testing.assert_allclose(layer.forward([x], TRAIN), naive_pool(x, kind, k, s, start, n_out), rtol=1e-13)


@pytest.mark.parametrize("kind,S,k,s,start,outputs", CASES)
def test_gradients(kind, S, k, s, start, outputs):
    layer = make_layer("pool", [(3, S, S)], dict(pool=kind, sizeX=k, stride=s, start=start,
                                                 outputsX=outputs, channels=3))
    x = np.random.default_rng(1).standard_normal((3, S, S, 2))
    check_layer_gradients(layer, [x])


def test_paper_sizes():
    assert make_layer("pool", [(96, 55, 55)], dict(pool="max", sizeX=3, stride=2, channels=96)).output_shape == (96, 27, 27)
    assert make_layer("pool", [(256, 13, 13)], dict(pool="max", sizeX=3, stride=2, channels=256)).output_shape == (256, 6, 6)


def test_tied_maxima_all_receive_the_gradient():
    layer = make_layer("pool", [(1, 2, 2)], dict(pool="max", sizeX=2, stride=2, channels=1))
    x = np.array([1.0, 3.0, 3.0, 2.0]).reshape(1, 2, 2, 1)
    y = layer.forward([x], TRAIN)
    (dx,) = layer.backward([x], y, np.full(y.shape, 5.0), [True], TRAIN)
    np.testing.assert_array_equal(dx.reshape(-1), [0, 5, 5, 0])


def test_empty_window_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        make_layer("pool", [(1, 6, 6)], dict(pool="avg", sizeX=2, stride=2, outputsX=5, channels=1))
    assert e.value.key == "outputsX"
