"""cmrnorm, rnorm, cnorm against loops written from their definitions. Scales are near 1 and
windows even-sized, so that every term and every window edge matters."""
import numpy as np
import pytest

from tests.helpers import TRAIN, check_layer_gradients, make_layer

RNG = np.random.default_rng(0)


def naive_cmrnorm(x, size, scale, power, k, blocked):
    C = x.shape[0]
    y = np.empty_like(x)
    for c in range(C):
        lo = (c // size) * size if blocked else c - size // 2
        window = range(max(0, lo), min(C, lo + size))
        d = k + scale / size * sum(x[j] ** 2 for j in window)
        y[c] = x[c] * d ** -power
    return y


def spatial_windows(H, W, size):
    for r in range(H):
        for c in range(W):
            r0, c0 = r - size // 2, c - size // 2
            yield r, c, slice(max(0, r0), min(H, r0 + size)), slice(max(0, c0), min(W, c0 + size))


def naive_rnorm(x, size, scale, power, k):
    y = np.empty_like(x)
    for r, c, rows, cols in spatial_windows(x.shape[1], x.shape[2], size):
        d = k + scale / size ** 2 * (x[:, rows, cols] ** 2).sum(axis=(1, 2))
        y[:, r, c] = x[:, r, c] * d ** -power
    return y


def naive_cnorm(x, size, scale, power, k):
    m = np.empty_like(x)
    for r, c, rows, cols in spatial_windows(x.shape[1], x.shape[2], size):
        m[:, r, c] = x[:, r, c] - x[:, rows, cols].mean(axis=(1, 2))
    y = np.empty_like(x)
    for r, c, rows, cols in spatial_windows(x.shape[1], x.shape[2], size):
        d = k + scale / size ** 2 * (m[:, rows, cols] ** 2).sum(axis=(1, 2))
        y[:, r, c] = x[:, r, c] * d ** -power
    return y


@pytest.mark.parametrize("size,blocked", [(5, 0), (4, 0), (3, 1), (1, 0), (9, 0)])
def test_cmrnorm(size, blocked):
    params = dict(scale=1.3, pow=0.75, minDiv=2)
    layer = make_layer("cmrnorm", [(7, 3, 3)], dict(channels=7, size=size, blocked=blocked), params)
    x = RNG.standard_normal((7, 3, 3, 2))
    np.testing.assert_allclose(layer.forward([x], TRAIN), naive_cmrnorm(x, size, 1.3, 0.75, 2, blocked), rtol=1e-13)
    check_layer_gradients(layer, [x])


@pytest.mark.parametrize("size", [3, 4])
def test_rnorm(size):
    layer = make_layer("rnorm", [(2, 5, 5)], dict(channels=2, size=size), dict(scale=2.0, pow=0.6, minDiv=1.5))
    x = RNG.standard_normal((2, 5, 5, 2))
    np.testing.assert_allclose(layer.forward([x], TRAIN), naive_rnorm(x, size, 2.0, 0.6, 1.5), rtol=1e-13)
    check_layer_gradients(layer, [x])


def test_rnorm_in_the_older_dialect():
    """cuda-convnet's older files: sizeX instead of size, scale and pow in the definition file."""
    layer = make_layer("rnorm", [(2, 4, 4)], dict(channels=2, sizeX=3, scale=0.9, pow=0.75))
    x = RNG.standard_normal((2, 4, 4, 1))
    np.testing.assert_allclose(layer.forward([x], TRAIN), naive_rnorm(x, 3, 0.9, 0.75, 1.0), rtol=1e-13)


@pytest.mark.parametrize("size", [3, 4])
def test_cnorm(size):
    layer = make_layer("cnorm", [(2, 5, 5)], dict(channels=2, size=size), dict(scale=3.0, pow=0.5))
    x = RNG.standard_normal((2, 5, 5, 2))
    np.testing.assert_allclose(layer.forward([x], TRAIN), naive_cnorm(x, size, 3.0, 0.5, 1.0), rtol=1e-13)
    check_layer_gradients(layer, [x])


def test_paper_lrn_hyperparameters_act_as_alpha_over_n():
    """k=2, n=5, alpha=1e-4, beta=0.75: a lone value v in its window gives v * (2 + 1e-4/5 * v^2)^-0.75."""
    layer = make_layer("cmrnorm", [(5, 1, 1)], dict(channels=5, size=5), dict(scale=0.0001, pow=0.75, minDiv=2))
    x = np.zeros((5, 1, 1, 1))
    x[2] = 10.0
    y = layer.forward([x], TRAIN)
    assert y[2, 0, 0, 0] == pytest.approx(10 * (2 + 1e-4 / 5 * 100) ** -0.75, rel=1e-14)


def test_cmrnorm_windows_slide_unless_blocked_is_given():
    """blocked defaults to 0 (layer.py:1193): the paper's windows centred on each map."""
    x = np.random.default_rng(4).uniform(-2, 2, (7, 2, 2, 3))
    params = dict(scale=1.3, pow=0.75, minDiv=2)
    y = make_layer("cmrnorm", [(7, 2, 2)], dict(channels=7, size=3), params).forward([x], TRAIN)
    np.testing.assert_allclose(y, naive_cmrnorm(x, 3, 1.3, 0.75, 2, blocked=False), rtol=1e-13)
    assert not np.allclose(y, naive_cmrnorm(x, 3, 1.3, 0.75, 2, blocked=True))
