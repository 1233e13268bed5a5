"""The compiled direct convolution (conv_direct.cpp through conv_native.py): the forward, the weight
gradient and the input gradient of float32 batches of 16k images against float64 references written
here, and the NumPy path taking over where the compiled one does not apply or cannot be built."""
import numpy as np
import pytest

from convnet import conv_cpu, conv_native, native, session
from convnet.notes import send_notes_to
from convnet.session import DEFAULTS, Data
from tests.helpers import TRAIN, WEIGHT_PARAMS, compiled_or_skip, make_layer
from tests.training import TINY

compiled_or_skip("conv_direct.cpp", "convolution")

CASES = {  # channels, size, filters per group, filterSize, padding, stride, groups
    "3x3, filters not a multiple of the 8 in a tile": (3, 9, 12, 3, 1, 1, 1),
    "5x5 taps in one tile, two groups of 6 filters": (4, 11, 6, 5, 2, 1, 2),
    "7x7 taps as 5 + 2, stride 2, 5 filters": (3, 20, 5, 7, 0, 2, 1),
    "11x11 at stride 4 reading past the edge (conv1 of the paper)": (2, 24, 3, 11, 0, 4, 1),
    "1x1": (5, 6, 9, 1, 0, 1, 1),
    "padding past the filter size: windows of padding alone": (2, 5, 4, 3, 4, 2, 1),
}


def padded(x, g):
    """x (C, H, W, N) in float64 inside zeros covering every filter position (cuda-convnet's ceil)."""
    C, H, W, N = x.shape
    rows, cols = (g.oy - 1) * g.s + g.k, (g.ox - 1) * g.s + g.k
    out = np.zeros((C, max(rows, g.p + H), max(cols, g.p + W), N))
    out[:, g.p:g.p + H, g.p:g.p + W] = x
    return out


def taps(xp, g, ky, kx):
    """Every filter position's (ky, kx) tap: (C, oy, ox, N)."""
    return xp[:, ky:ky + (g.oy - 1) * g.s + 1:g.s, kx:kx + (g.ox - 1) * g.s + 1:g.s]


def reference(x, w, dy, g):
    """(y, dw, dx) in float64: sums over taps, one (ky, kx) at a time, each group by itself."""
    xp = padded(x, g)
    y = np.zeros((g.F, g.oy, g.ox, x.shape[-1]))
    dw = np.zeros(w.shape)
    dxp = np.zeros(xp.shape)
    for grp in range(g.G):
        fs, cs = slice(grp * g.Fg, (grp + 1) * g.Fg), slice(grp * g.Cg, (grp + 1) * g.Cg)
        for ky in range(g.k):
            for kx in range(g.k):
                t = taps(xp, g, ky, kx)[cs]
                y[fs] += np.einsum("fc,cyxn->fyxn", w[fs, :, ky, kx], t)
                dw[fs, :, ky, kx] = np.einsum("fyxn,cyxn->fc", dy[fs], t)
                taps(dxp, g, ky, kx)[cs] += np.einsum("fc,fyxn->cyxn", w[fs, :, ky, kx], dy[fs])
    H, W = x.shape[1:3]
    return y, dw, dxp[:, g.p:g.p + H, g.p:g.p + W]


def layer_and_data(case, N, seed=0):
    C, S, F, k, p, s, G = CASES[case]
    layer = make_layer("conv", [(C, S, S)], dict(channels=C, filters=F, filterSize=k, padding=p, stride=s,
                                                 groups=G, initW=0.5), WEIGHT_PARAMS, dtype=np.float32)
    rng = np.random.default_rng(seed)
    g = layer.geo[0]
    x = rng.standard_normal((C, S, S, N)).astype(np.float32)
    dy = rng.standard_normal((g.F, g.oy, g.ox, N)).astype(np.float32)
    return layer, g, x, dy


def close(actual, expected):
    """float32 sums of up to a few hundred terms of unit size against float64."""
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=2e-5 * np.abs(expected).max())


@pytest.fixture
def counted(monkeypatch):
    """Counts the compiled calls, to know which path ran."""
    calls = {"forward": 0, "weight": 0}
    forward, weight = conv_native.forward_rows, conv_native.weight_grad_rows

    def count_forward(*a):
        calls["forward"] += 1
        return forward(*a)

    def count_weight(*a):
        calls["weight"] += 1
        return weight(*a)
    monkeypatch.setattr(conv_native, "forward_rows", count_forward)
    monkeypatch.setattr(conv_native, "weight_grad_rows", count_weight)
    return calls


@pytest.mark.parametrize("N", [16, 48], ids=["16 images: one vector", "48: a tile of 32 and one of 16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_gradients_against_float64(case, N, counted):
    layer, g, x, dy = layer_and_data(case, N)
    w = layer.params[0].value
    y_ref, dw_ref, dx_ref = reference(x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64), g)
    y = layer.forward([x], TRAIN)
    close(y, y_ref + layer.params[1].value[:, None, None, None])
    (dx,) = layer.backward([x], y, dy, [True], TRAIN)
    close(layer.params[0].grad, dw_ref)
    close(dx, dx_ref)
    assert counted["forward"] >= g.oy and counted["weight"] >= 1      # the compiled path ran


def test_a_second_input_is_added_to_the_first(counted):
    """accumulate: the compiled forward adds onto what the first input's convolution wrote."""
    keys = dict(channels="2,3", filters="12,12", filterSize="3,5", padding="1,2", stride="1,1", initW="0.5,0.5")
    layer = make_layer("conv", [(2, 7, 7), (3, 7, 7)], keys, WEIGHT_PARAMS, dtype=np.float32)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((2, 7, 7, 32)).astype(np.float32), rng.standard_normal((3, 7, 7, 32)).astype(np.float32)]
    zero = np.zeros((12, 7, 7, 32))
    expected = sum(reference(x.astype(np.float64), layer.params[i].value.astype(np.float64), zero, layer.geo[i])[0]
                   for i, x in enumerate(xs))
    close(layer.forward(xs, TRAIN), expected)
    assert counted["forward"] == 2 * 7


def test_weight_gradient_of_some_rows_is_theirs_alone():
    """Each piece's weight gradient is the sum over its own output rows: rows 2-4 of 9 here."""
    _, g, x, dy = layer_and_data("3x3, filters not a multiple of the 8 in a tile", 16)
    w = np.zeros((g.F, g.Cg, g.k, g.k), np.float32)
    part = np.zeros_like(dy)
    part[:, 2:5] = dy[:, 2:5]
    _, dw_ref, _ = reference(x.astype(np.float64), w.astype(np.float64), part.astype(np.float64), g)
    frame = conv_cpu.framed(x, g, conv_cpu.Workspace())
    close(conv_native.weight_grad_rows(frame, dy.reshape(g.F, -1), g, 2, 5), dw_ref)


def test_a_piece_of_output_rows_writes_those_rows_alone():
    """Pieces of rows run at once on every core, each writing into one output array: the forward of
    rows 2-3 of 12 filters (a full tile of 8 and a part-stored one of 4), into a view of an array of
    NaNs twice as wide, changes no float outside those rows and filters."""
    _, g, x, _ = layer_and_data("3x3, filters not a multiple of the 8 in a tile", 32)
    w = np.random.default_rng(3).standard_normal((g.F, g.Cg, g.k, g.k)).astype(np.float32)
    frame = conv_cpu.framed(x, g, conv_cpu.Workspace())
    wide = np.full((g.F + 1, 2 * g.oy * g.ox * 32), np.nan, np.float32)
    out = wide[:g.F, :g.oy * g.ox * 32]
    conv_native.forward_rows(frame, conv_native.packed(w), out, g, 2, 4, False)
    y_ref = reference(x.astype(np.float64), w.astype(np.float64), np.zeros((g.F, g.oy, g.ox, 32)), g)[0]
    rows = out.reshape(g.F, g.oy, g.ox * 32)
    close(rows[:, 2:4].reshape(g.F, 2, g.ox, 32), y_ref[:, 2:4])
    rows[:, 2:4] = np.nan
    assert np.isnan(wide).all()


@pytest.mark.parametrize("N", [20, 1], ids=["20 images", "one image"])
def test_batches_not_a_multiple_of_16_take_the_numpy_path(N, counted):
    layer, g, x, dy = layer_and_data("5x5 taps in one tile, two groups of 6 filters", N)
    y_ref, dw_ref, dx_ref = reference(x.astype(np.float64), layer.params[0].value.astype(np.float64),
                                      dy.astype(np.float64), g)
    y = layer.forward([x], TRAIN)
    (dx,) = layer.backward([x], y, dy, [True], TRAIN)
    close(y - layer.params[1].value[:, None, None, None], y_ref)
    close(layer.params[0].grad, dw_ref)
    close(dx, dx_ref)
    assert counted == {"forward": 0, "weight": 0}


def test_long_sums_over_many_filters_take_the_numpy_path(counted):
    """128 filters summing over more than LONG_SUM terms each (64 maps x 5x5 = 1,600): the GEMM is
    faster and runs."""
    layer = make_layer("conv", [(64, 5, 5)], dict(channels=64, filters=128, filterSize=5, padding=2, initW=0.1),
                       WEIGHT_PARAMS, dtype=np.float32)
    x = np.random.default_rng(8).standard_normal((64, 5, 5, 16)).astype(np.float32)
    y = layer.forward([x], TRAIN)
    y_ref = reference(x.astype(np.float64), layer.params[0].value.astype(np.float64), np.zeros(y.shape), layer.geo[0])[0]
    close(y, y_ref)
    assert counted["forward"] == 0


def test_both_paths_agree_on_the_quick_start_conv2(monkeypatch):
    """The quick start's conv2 (16 -> 32 maps, 5x5, 16x16, 128 images): compiled and NumPy paths within
    float32 rounding of each other."""
    layer = make_layer("conv", [(16, 16, 16)], dict(channels=16, filters=32, filterSize=5, padding=2, initW=0.1),
                       WEIGHT_PARAMS, dtype=np.float32)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 16, 16, 128)).astype(np.float32)
    dy = rng.standard_normal((32, 16, 16, 128)).astype(np.float32)
    results = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(conv_native, "available", lambda: (None, "test"))
        y = layer.forward([x], TRAIN)
        (dx,) = layer.backward([x], y, dy, [True], TRAIN)
        results.append((y, dx, layer.params[0].grad.copy()))
    for compiled, numpy_path in zip(*results):
        close(compiled, numpy_path.astype(np.float64))


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """conv_native loads again under the test's environment, and again after it."""
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path))
    native.reset()
    yield monkeypatch
    native.reset()


def test_without_a_compiler_the_numpy_path_runs_and_says_why(fresh, counted):
    fresh.setenv("CXX", "/nonexistent/c++")
    lib, why = conv_native.available()
    assert lib is None and why == "no C++ compiler found (install g++ or set CXX)"
    assert native.describe() == "none, NumPy code only (no C++ compiler found (install g++ or set CXX))"
    layer, g, x, dy = layer_and_data("1x1", 16)
    y_ref = reference(x.astype(np.float64), layer.params[0].value.astype(np.float64), dy.astype(np.float64), g)[0]
    close(layer.forward([x], TRAIN) - layer.params[1].value[:, None, None, None], y_ref)
    assert counted["forward"] == 0


def test_a_net_without_the_compiled_kernels_says_so_once(fresh):
    notes = []
    send_notes_to(notes.append)
    fresh.setattr(session, "_said_uncompiled", [])
    try:
        options = {**DEFAULTS, **dict(zip(["layers", "params"], TINY[1::2]))}
        data = Data(options, need_train=False)
        fresh.setenv("CONVNET_NATIVE", "0")
        session.build_net(data, TINY[1], None, TINY[3], None, options)
        assert notes == []                                  # asked for: no note
        fresh.delenv("CONVNET_NATIVE")
        native.reset()
        fresh.setenv("CXX", "/nonexistent/c++")
        for _ in range(2):
            session.build_net(data, TINY[1], None, TINY[3], None, options)
        assert notes == ["the compiled CPU kernels are not in use (no C++ compiler found (install g++ or set CXX)): "
                         "the convolution and max pooling's gradient run in NumPy, with the same results, more "
                         "slowly (a quick-start step takes about 1.6 times as long)"]
    finally:
        send_notes_to(None)


def test_a_compiler_that_fails_is_reported(fresh, tmp_path):
    broken = tmp_path / "broken-c++"
    broken.write_text("#!/bin/sh\necho 'error: this compiler is broken' >&2\nexit 1\n")
    broken.chmod(0o755)
    fresh.setenv("CXX", str(broken))
    lib, why = conv_native.available()
    assert lib is None and why == "broken-c++ could not build conv_direct.cpp: error: this compiler is broken"
    assert not list((tmp_path / "native").glob("*.so"))       # nothing half-built left in the cache


def test_a_compiler_that_fails_silently_is_reported_with_its_status(fresh):
    fresh.setenv("CXX", "false")
    assert conv_native.available() == (None, "false could not build conv_direct.cpp: exit status 1, no message")


def test_convnet_native_0_turns_it_off(fresh):
    fresh.setenv("CONVNET_NATIVE", "0")
    assert conv_native.available() == (None, "CONVNET_NATIVE=0")
    assert native.describe() == "none, NumPy code only (CONVNET_NATIVE=0)"


def test_the_report_names_each_compiled_kernel(fresh):
    assert native.describe() == ("conv_direct.cpp (the direct convolution); "
                                 "pool_direct.cpp (max pooling's gradient)")


def test_the_library_is_built_once_into_the_cache(fresh, tmp_path):
    lib, why = conv_native.available()
    assert lib is not None, why
    built = list((tmp_path / "native").glob("conv_direct-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    native.reset()
    assert conv_native.available()[0] is not None
    assert built[0].stat().st_mtime_ns == stamp and len(list((tmp_path / "native").iterdir())) == 1
