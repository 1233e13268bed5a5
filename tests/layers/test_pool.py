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
    ("max", 7, 3, 2, -1, 0),      # a negative start: 4 windows, from rows -1, 1, 3 and 5
    ("avg", 8, 3, 2, 1, 0),       # a positive start: 3 windows, from rows 1, 3 and 5
]


@pytest.mark.parametrize("kind,S,k,s,start,outputs", CASES)
def test_forward_matches_loops(kind, S, k, s, start, outputs):
    layer = make_layer("pool", [(3, S, S)], dict(pool=kind, sizeX=k, stride=s, start=start,
                                                 outputsX=outputs, channels=3))
    n_out = outputs or 1 + math.ceil((S - start - k) / s)       # layer.py:1167
    assert (S, start, outputs) != (7, -1, 0) or n_out == 4
    assert (S, start, outputs) != (8, 1, 0) or n_out == 3
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


@pytest.mark.parametrize("start,outputs", [(0, 5), (0, 4), (-2, 3)])
def test_empty_window_is_a_config_error(start, outputs):
    """Windows of 2 by 2 on 6 rows: from 0, the 4th starts at row 6 (and the 5th at 8), past the
    image; from -2, the first covers rows -2 and -1."""
    with pytest.raises(ConfigError) as e:
        make_layer("pool", [(1, 6, 6)], dict(pool="avg", sizeX=2, stride=2, start=start, outputsX=outputs, channels=1))
    assert e.value.key == "outputsX" and "a window would be empty" in str(e.value)


@pytest.mark.parametrize("start,outputs,first,last", [(0, 3, 2, 2), (-1, 4, 1, 1)])
def test_windows_with_one_row_inside_are_pooled(start, outputs, first, last):
    """The edge cases beside the empty ones: from 0, the 3rd window covers rows 4-5; from -1, the
    first covers row 0 alone and the 4th row 5 alone; avg divides by the rows inside."""
    layer = make_layer("pool", [(1, 6, 6)], dict(pool="avg", sizeX=2, stride=2, start=start, outputsX=outputs,
                                                  channels=1))
    x = np.ones((1, 6, 6, 1))
    y = layer.forward([x], TRAIN).reshape(outputs, outputs)
    np.testing.assert_allclose(y, 1.0)
    assert (layer.extent[0][0], layer.extent[0][-1]) == (first, last)


def naive_maxabs(x, size, stride, outputs):
    """The 2012 code's MaxAbsPooler, in raster order: acc = |acc| > |v| ? acc : v, from 0."""
    C, H, W, N = x.shape
    y = np.zeros((C, outputs, outputs, N))
    for ch in range(C):
        for n in range(N):
            for r in range(outputs):
                for c in range(outputs):
                    acc = 0.0
                    for yy in range(r * stride, min(H, r * stride + size)):
                        for xx in range(c * stride, min(W, c * stride + size)):
                            v = x[ch, yy, xx, n]
                            acc = acc if abs(acc) > abs(v) else v
                    y[ch, r, c, n] = acc
    return y


def test_maxabs_keeps_the_sign_of_the_largest_magnitude():
    layer = make_layer("pool", [(2, 7, 7)], dict(pool="maxabs", sizeX=3, stride=2, channels=2))
    x = np.random.default_rng(4).standard_normal((2, 7, 7, 3))
    x[0, 0, 0, 0], x[0, 0, 1, 0] = -5.0, 5.0                     # a tie in magnitude: the later one
    y = layer.forward([x], TRAIN)
    np.testing.assert_array_equal(y, naive_maxabs(x, 3, 2, 3))
    assert y[0, 0, 0, 0] == 5.0 and np.any(y < 0)
    check_layer_gradients(layer, [np.round(x, 1) + np.random.default_rng(5).uniform(-0.01, 0.01, x.shape)])


def test_rand_draws_an_in_bounds_value_of_each_window_and_averages_at_test():
    from tests.helpers import TEST
    layer = make_layer("pool", [(1, 5, 5)], dict(pool="rand", sizeX=3, stride=2, channels=1))
    layer.seed = 77
    x = np.arange(25.0).reshape(1, 5, 5, 1) * np.ones((1, 1, 1, 4000))       # every value tells its cell
    y = layer.forward([x], TRAIN)
    for r in range(2):
        for c in range(2):
            cells = x[0, 2 * r:2 * r + 3, 2 * c:2 * c + 3, 0].ravel()
            drawn = y[0, r, c]
            assert set(np.unique(drawn)) == set(cells)                  # only the window's cells
            counts = np.array([(drawn == v).sum() for v in cells])
            assert counts.min() > 4000 / 9 * 0.8 and counts.max() < 4000 / 9 * 1.2
    np.testing.assert_allclose(layer.forward([x], TEST)[..., 0], naive_pool(x[..., :1], "avg", 3, 2, 0, 2)[..., 0])
    same = make_layer("pool", [(1, 5, 5)], dict(pool="rand", sizeX=3, stride=2, channels=1))
    same.seed = 77
    np.testing.assert_array_equal(same.forward([x], TRAIN), y)       # the same seed and step, the same draws
    dy = np.random.default_rng(1).standard_normal(y.shape)
    (dx,) = layer.backward([x[..., :3]], y[..., :3], dy[..., :3], [True], TRAIN)
    for n in range(3):                                               # the gradient goes to the drawn cell
        for r in range(2):
            for c in range(2):
                cell = int(y[0, r, c, n])
                assert dx[0, cell // 5, cell % 5, n] != 0


def test_rand_gradients_and_domax():
    from tests.helpers import TEST
    layer = make_layer("pool", [(2, 6, 6)], dict(pool="rand", sizeX=3, stride=2, channels=2))
    x = np.random.default_rng(6).standard_normal((2, 6, 6, 3))
    check_layer_gradients(layer, [x])
    check_layer_gradients(layer, [x], ctx=TEST)
    domax = make_layer("pool", [(2, 6, 6)], dict(pool="rand", sizeX=3, stride=2, channels=2), params=dict(doMax=1))
    plain = make_layer("pool", [(2, 6, 6)], dict(pool="max", sizeX=3, stride=2, channels=2))
    np.testing.assert_array_equal(domax.forward([x], TRAIN), plain.forward([x], TRAIN))
    with pytest.raises(ConfigError) as e:
        make_layer("pool", [(2, 6, 6)], dict(pool="max", sizeX=3, stride=2, channels=2), params=dict(doMax=1))
    assert e.value.key == "doMax"
