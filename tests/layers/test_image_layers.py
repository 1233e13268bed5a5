"""blur, nailbed, href, rgb2yuv, rgb2lab, resize, rscale: forward against loops and closed forms written
here, gradients against central differences, the GPU path against NumPy."""
import math

import numpy as np
import pytest

from convnet.errors import ConfigError
from convnet.layer import Pass
from tests.conftest import GPU_BACKENDS
from tests.helpers import TEST, TRAIN, check_layer_gradients, check_parity, gpu_twin, make_layer

RNG = np.random.default_rng(0)


def images(C, S, N=2):
    return RNG.standard_normal((C, S, S, N))


def test_blur_is_a_zero_padded_normalized_gaussian():
    layer = make_layer("blur", [(2, 9, 9)], dict(channels=2, filterSize=5, stdev=1.5))
    assert layer.macs() == 2 * (2 * 9 * 9) * 5          # a pass along each axis: five taps an output each
    x = images(2, 9)
    taps = np.array([math.exp(-(2 - i) ** 2 / (2 * 1.5 ** 2)) for i in range(5)])
    taps /= taps.sum()
    y = np.zeros_like(x)
    for r in range(9):
        for q in range(9):
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    if 0 <= r + dy < 9 and 0 <= q + dx < 9:
                        y[:, r, q] += taps[2 + dy] * taps[2 + dx] * x[:, r + dy, q + dx]
    np.testing.assert_allclose(layer.forward([x], TRAIN), y, rtol=1e-6, atol=1e-7)
    check_layer_gradients(layer, [x])


@pytest.mark.parametrize("shape, keys, key, fragment", [
    ((2, 9, 9), dict(filterSize=5, stdev=0), "stdev", "must be positive, got 0"),
    ((2, 9, 9), dict(filterSize=5, stdev=-1), "stdev", "must be positive, got -1"),
    ((2, 7, 7), dict(filterSize=9, stdev=2), "filterSize", "is 9, larger than the 7x7 images"),
    ((2, 7, 12), dict(filterSize=9, stdev=2), "filterSize", "is 9, larger than the 7x12 images"),
])
def test_a_blur_that_cannot_be_is_refused_naming_its_key(shape, keys, key, fragment):
    with pytest.raises(ConfigError, match=fragment) as e:
        make_layer("blur", [shape], dict(channels=2, **keys))
    assert e.value.key == key


def test_a_blur_as_wide_as_the_images_or_of_a_small_stdev_is_made():
    x = images(2, 7)
    for stdev in (0.5, 1):
        layer = make_layer("blur", [(2, 7, 7)], dict(channels=2, filterSize=7, stdev=stdev))
        check_layer_gradients(layer, [x])


def test_nailbed_picks_centred_nails():
    layer = make_layer("nailbed", [(3, 10, 10)], dict(channels=3, stride=4))
    assert layer.output_shape == (3, 3, 3)          # ceil(10 / 4) nails per axis, from (10 - 8) // 2 = 1
    x = images(3, 10)
    np.testing.assert_array_equal(layer.forward([x], TRAIN), x[:, 1::4, 1::4])
    check_layer_gradients(layer, [x])


def test_href_reverses_every_row():
    layer = make_layer("href", [(2, 5, 6)], dict(channels=2))
    x = RNG.standard_normal((2, 5, 6, 3))
    np.testing.assert_array_equal(layer.forward([x], TRAIN), x[:, :, ::-1])
    check_layer_gradients(layer, [x])


def test_rgb2yuv_matrix():
    layer = make_layer("rgb2yuv", [(3, 4, 4)])
    x = images(3, 4)
    r, g, b = x
    np.testing.assert_allclose(layer.forward([x], TRAIN)[0], 0.2126 * r + 0.7152 * g + 0.0722 * b, rtol=1e-13)
    np.testing.assert_allclose(layer.forward([x], TRAIN)[2], 0.615 * r - 0.55861 * g - 0.05639 * b, rtol=1e-13)
    check_layer_gradients(layer, [x])


@pytest.mark.parametrize("center", [0, 1])
def test_rgb2lab_against_scalar_formulas(center):
    layer = make_layer("rgb2lab", [(3, 3, 3)], dict(center=center))
    x = RNG.uniform(0, 1, (3, 3, 3, 2))
    x[:, 0, 0] = 0.001                                   # below the knee of f
    f = lambda t: t ** 0.3333 if t > 0.0088564517 else 7.787037 * t + 0.13793103
    y = layer.forward([x], TRAIN)
    for idx in np.ndindex(3, 3, 2):
        R, G, B = x[(slice(None),) + idx]
        X, Y, Z = 0.49 * R + 0.31 * G + 0.2 * B, 0.17697 * R + 0.8124 * G + 0.01063 * B, 0.01 * G + 0.99 * B
        expected = [116 * f(Y) - 16 - 50 * center, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))]
        np.testing.assert_allclose(y[(slice(None),) + idx], expected, rtol=1e-12, atol=1e-12)
    check_layer_gradients(layer, [x])


def test_colour_layers_need_rgb():
    with pytest.raises(ConfigError) as e:
        make_layer("rgb2yuv", [(4, 3, 3)])
    assert e.value.key == "inputs" and "3-channel" in str(e.value)


def bilinear(x, T, scale, offset, start=(0, 0), clamp=True):
    """The 2012 kernel written out per output pixel (float32 sample positions, as it computed them)."""
    C, S, _, N = x.shape
    y = np.zeros((C, T, T, N))
    for py in range(T):
        for px in range(T):
            sy = np.float32(py + start[0]) * np.float32(scale) + np.float32(offset)
            sx = np.float32(px + start[1]) * np.float32(scale) + np.float32(offset)
            if clamp:
                sy = min(max(sy, np.float32(0)), np.float32(S) - np.float32(1.01))
                sx = min(max(sx, np.float32(0)), np.float32(S) - np.float32(1.01))
            u, w = float(np.floor(sx + np.float32(1)) - sx), float(sy - np.floor(sy))
            r0, q0 = int(np.floor(sy)), int(np.floor(sx))
            r1, q1 = min(r0 + 1, S - 1), min(q0 + 1, S - 1)
            top = u * x[:, r0, q0] + (1 - u) * x[:, r0, q1]
            bottom = u * x[:, r1, q0] + (1 - u) * x[:, r1, q1]
            y[:, py, px] = (1 - w) * top + w * bottom
    return y


@pytest.mark.parametrize("S,scale", [(12, 1.5), (10, 0.8), (9, 2.0), (2, 0.5)])
def test_resize_samples_as_the_2012_kernel(S, scale):
    layer = make_layer("resize", [(2, S, S)], dict(channels=2, scale=scale))
    T = int(math.floor(S / scale))
    assert layer.output_shape == (2, T, T) and layer.macs() == 4 * 2 * T * T       # four taps an output
    x = images(2, S)
    np.testing.assert_allclose(layer.forward([x], TRAIN), bilinear(x, T, scale, S / 2 - T / 2 * scale), rtol=1e-6, atol=1e-6)
    check_layer_gradients(layer, [x])


def test_resize_of_one_pixel_copies_it_and_a_scale_outside_half_to_two_is_refused():
    """Clamped to size - 1.01 as the larger maps are, a 1x1 map's sample would be -0.01, before the map:
    a pixel alone is its own bilinear sample. Scales from 0.5 to 2, both included, are taken (the 2012
    parser's range, layer.py:505)."""
    x = images(2, 1)
    for scale, T in ((0.5, 2), (1.0, 1)):
        y = make_layer("resize", [(2, 1, 1)], dict(channels=2, scale=scale)).forward([x], TRAIN)
        np.testing.assert_array_equal(y, np.broadcast_to(x, (2, T, T, x.shape[-1])))
    for scale in (0.49, 2.01):
        with pytest.raises(ConfigError) as e:
            make_layer("resize", [(2, 8, 8)], dict(channels=2, scale=scale))
        assert e.value.key == "scale" and str(e.value).endswith(f"must be in the range 0.5-2, got {scale:g}")


def test_rscale_draws_sizes_by_their_crops_and_crops_at_test():
    layer = make_layer("rscale", [(1, 10, 10)], dict(channels=1, maxScale=1.25, tgtSize=8))
    x = images(1, 10, 1)
    np.testing.assert_array_equal(layer.forward([x], TEST), x[:, 1:9, 1:9])
    sizes, starts = [], []
    for step in range(1500):
        ay, ax = layer.axes(Pass(True, step))
        if np.all(ay.a == 1) and np.all(ax.a == 1):          # a plain crop: the size drawn was the image's
            sizes.append(10)
            starts += [ay.i0[0], ax.i0[0]]
            y = layer.forward([x], Pass(True, step))
            np.testing.assert_array_equal(y, x[:, ay.i0[0]:ay.i0[0] + 8, ax.i0[0]:ax.i0[0] + 8])
        else:
            sizes.append(8 if ay.i0[-1] - ay.i0[0] >= 8 else 9)
    # sizes 8, 9, 10 hold 1, 4 and 9 crops of 8: drawn with probabilities 1/14, 4/14, 9/14
    assert abs(sizes.count(10) / 1500 - 9 / 14) < 0.04
    # its crop starts, rand() % (1 + maxStart) (layer.cu:1408): 0, 1 and 2 alike
    shares = np.bincount(starts, minlength=3) / len(starts)
    assert shares.size == 3 and np.abs(shares - 1 / 3).max() < 0.05
    check_layer_gradients(layer, [images(1, 10)])
    check_layer_gradients(layer, [images(1, 10)], ctx=Pass(True, 5))


def test_rscale_rescales_by_a_factor_of_its_size_then_crops_within_it():
    """Training on ramps (channel 0: row r holds r; channel 1: column c holds c), which bilinear sampling
    keeps: output o holds s = (o + start) f + S/2 - R/2 f (kResizeBilinear, layer.cu:1397-1417), so
    its slope is the factor f, which lies in [max(1, S/(R+1)), S/R] for the size R drawn, and its
    start is a whole number in 0..R - T; each of them is drawn. (R = S, a plain crop, is tested above.)"""
    S, T = 10, 8                                      # maxScale 1.25: sizes 8, 9 and 10
    layer = make_layer("rscale", [(2, S, S)], dict(channels=2, maxScale=1.25, tgtSize=T))
    ramp = np.arange(S, dtype=np.float64)
    x = np.stack([np.repeat(ramp[:, None], S, 1), np.repeat(ramp[None, :], S, 0)])[..., None]
    starts = {8: set(), 9: set()}
    for step in range(400):
        y = layer.forward([x], Pass(True, step))[..., 0]
        rows, cols = y[0, :-1, 0], y[1, 0, :-1]      # (the last output may be clamped at S - 1.01)
        f = rows[1] - rows[0]
        if abs(f - 1) < 1e-6 and abs(rows[0] - round(rows[0])) < 1e-4:
            continue                                  # R = S
        np.testing.assert_allclose(np.diff(rows), f, atol=1e-4)
        np.testing.assert_allclose(np.diff(cols), f, atol=1e-4)          # one factor for both axes
        R = next(R for R in (8, 9) if max(1, S / (R + 1)) - 1e-6 <= f <= S / R + 1e-6)
        start = [(line[0] - S / 2) / f + R / 2 for line in (rows, cols)]
        assert all(abs(v - round(v)) < 1e-3 and 0 <= round(v) <= R - T for v in start), (step, f, R, start)
        starts[R].add(tuple(round(v) for v in start))
    assert starts == {8: {(0, 0)}, 9: {(0, 0), (0, 1), (1, 0), (1, 1)}}


@pytest.fixture(params=GPU_BACKENDS)
def backend(request):
    return request.param


@pytest.mark.parametrize("kind,shape,keys", [
    ("blur", (3, 9, 9), dict(channels=3, filterSize=7, stdev=2)),
    ("nailbed", (3, 11, 11), dict(channels=3, stride=3)),
    ("href", (2, 5, 7), dict(channels=2)),
    ("rgb2yuv", (3, 4, 5), {}),
    ("rgb2lab", (3, 4, 4), dict(center=1)),
    ("resize", (2, 11, 11), dict(channels=2, scale=1.3)),
    ("resize", (2, 8, 8), dict(channels=2, scale=0.7)),
    ("resize", (2, 1, 1), dict(channels=2, scale=0.5)),
    ("rscale", (2, 12, 12), dict(channels=2, maxScale=1.5, tgtSize=9)),
])
@pytest.mark.parametrize("ctx", [TRAIN, TEST], ids=["train", "test"])
def test_gpu_path(backend, kind, shape, keys, ctx):
    cpu, gpu = gpu_twin(kind, [shape], keys, backend=backend)
    x = RNG.uniform(0, 1, shape + (3,)) if kind == "rgb2lab" else RNG.standard_normal(shape + (3,))
    for step in range(3):
        check_parity(cpu, gpu, [x], ctx=Pass(ctx.train, step))


@pytest.mark.parametrize("kind", ["rgb2yuv", "rgb2lab"])
def test_colour_conversions_take_three_channel_images_only(kind):
    assert make_layer(kind, [(3, 4, 5)]).output_shape == (3, 4, 5)
    assert make_layer(kind, [(12,)]).output_shape == (3, 2, 2)           # flat: 3 maps of 2x2
    for shape, said in (((4, 2, 2), "4x2x2"), ((10,), "10")):
        with pytest.raises(ConfigError) as e:
            make_layer(kind, [shape])
        assert e.value.key == "inputs" and f"needs 3-channel (RGB) images; 'in0' gives {said}" in str(e.value)
