"""The compiled gradient of max, maxabs and random pooling (convnet/pool_direct.cpp): every input equal
to its window's output gets the window's gradient, against loops written here and bit for bit
against the NumPy code it stands in for."""
import numpy as np
import pytest

from convnet import native
from convnet.layers import pool
from tests.helpers import TEST, TRAIN, compiled_or_skip, make_layer

compiled_or_skip("pool_direct.cpp", "pooling")

CASES = {  # pool, size, sizeX, stride, start, outputsX
    "the paper's overlapping windows, the last past the edge": ("max", 8, 3, 2, 0, 0),
    "a negative start and outputsX": ("max", 7, 3, 2, -1, 4),
    "gaps between windows": ("max", 10, 2, 3, 0, 0),
    "windows that leave the last rows out": ("max", 9, 3, 2, 0, 2),
    "maxabs": ("maxabs", 8, 3, 2, 0, 0),
    "rand": ("rand", 8, 3, 2, 0, 0),
}


def naive_equal_gradient(x, y, dy, size, stride, start):
    """Loops over the windows: each window's gradient to every in-image input equal to its output."""
    C, H, W, N = x.shape
    dx = np.zeros(x.shape)
    for wy in range(y.shape[1]):
        for wx in range(y.shape[2]):
            r0, c0 = start + wy * stride, start + wx * stride
            for r in range(max(0, r0), min(H, r0 + size)):
                for q in range(max(0, c0), min(W, c0 + size)):
                    dx[:, r, q] += np.where(x[:, r, q] == y[:, wy, wx], dy[:, wy, wx], 0)
    return dx


def layer_and_data(case, N):
    kind, S, k, s, start, outputs = CASES[case]
    layer = make_layer("pool", [(3, S, S)], dict(pool=kind, sizeX=k, stride=s, start=start, outputsX=outputs,
                                                 channels=3), dtype=np.float32)
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, (3, S, S, N)).astype(np.float32)          # small integers: many ties
    return layer, x, k, s, start


@pytest.mark.parametrize("N", [5, 16])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_against_loops_and_the_numpy_code(case, N, monkeypatch):
    layer, x, k, s, start = layer_and_data(case, N)
    y = layer.forward([x], TRAIN)
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)

    def numpy_code_ran(*args):
        raise AssertionError("the NumPy code ran")
    with monkeypatch.context() as m:
        m.setattr(pool.Pool, "_unpool", numpy_code_ran)
        (dx,) = layer.backward([x], y, dy, [True], TRAIN)
    np.testing.assert_allclose(dx, naive_equal_gradient(x, y, dy, k, s, start), rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(native, "library", lambda name: (None, "test"))
    (numpy_dx,) = layer.backward([x], y, dy, [True], TRAIN)
    np.testing.assert_array_equal(dx, numpy_dx)


def test_avg_and_float64_keep_the_numpy_code():
    calls = []
    for kind, dtype in (("avg", np.float32), ("max", np.float64)):
        layer = make_layer("pool", [(2, 6, 6)], dict(pool=kind, sizeX=3, stride=2, channels=2), dtype=dtype)
        x = np.random.default_rng(3).standard_normal((2, 6, 6, 4)).astype(dtype)
        y = layer.forward([x], TEST)
        original = layer._unpool
        layer._unpool = lambda *a: calls.append(kind) or original(*a)
        layer.backward([x], y, np.ones_like(y), [True], TEST)
    assert calls == ["avg", "avg", "max", "max"]        # one piece per map, on the NumPy code


def guarded(a, fill, margin):
    """A copy of a in the middle of a larger array of `fill`: (the copy, the whole)."""
    whole = np.full(a.size + 2 * margin, fill, np.float32)
    inner = whole[margin:margin + a.size].reshape(a.shape)
    inner[...] = a
    return inner, whole


def test_a_piece_of_maps_writes_its_own_gradient_alone():
    """Pieces of maps run at once on every core, each on its part of x, y, dy and dx: the gradient of
    maps 1-2 of 4 touches nothing outside them. Around x and y are equal values and around dy ones,
    so that a read past them would add a 1 to what is around dx."""
    layer, x, k, s, start = layer_and_data("a negative start and outputsX", 16)
    x = np.concatenate([x, x[:1]])                                   # 4 maps
    layer = make_layer("pool", [(4,) + x.shape[1:3]], dict(pool="max", sizeX=k, stride=s, start=start,
                                                           outputsX=4, channels=4), dtype=np.float32)
    y = layer.forward([x], TRAIN)
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    C, H, W, N = x.shape
    margin = H * W * N
    (xs, _), (ys, _), (dys, _) = guarded(x[1:3], 0, margin), guarded(y[1:3], 0, margin), guarded(dy[1:3], 1, margin)
    dx, around = guarded(np.full(x[1:3].shape, 5), 7, margin)
    native.library("pool_direct.cpp")[0].pool_equal_backward(xs.ctypes.data, ys.ctypes.data, dys.ctypes.data,
                                                             dx.ctypes.data, 2, H, W, N, k, start, s, *y.shape[1:3])
    np.testing.assert_allclose(dx, naive_equal_gradient(x, y, dy, k, s, start)[1:3], rtol=1e-6, atol=1e-6)
    dx[...] = 7
    assert (around == 7).all()
