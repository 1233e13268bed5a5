"""conv: forward against a loop over every output, gradients against central differences."""
import math

import numpy as np
import pytest

from convnet import conv_cpu
from convnet.errors import ConfigError
from tests.helpers import TRAIN, WEIGHT_PARAMS, check_layer_gradients, make_layer


def naive_conv(x, w, b, groups, pad, stride, shared):
    """y[f, oy, ox, n]: a loop over every output and every filter tap, zeros outside the image."""
    C, H, W, N = x.shape
    F, Cg, k, _ = w.shape
    oy = 1 + math.ceil((2 * pad + H - k) / stride)
    ox = 1 + math.ceil((2 * pad + W - k) / stride)
    y = np.zeros((F, oy, ox, N))
    for f in range(F):
        g = f // (F // groups)
        for r in range(oy):
            for c in range(ox):
                acc = np.zeros(N)
                for cc in range(Cg):
                    for ky in range(k):
                        for kx in range(k):
                            yy, xx = r * stride - pad + ky, c * stride - pad + kx
                            if 0 <= yy < H and 0 <= xx < W:
                                acc += w[f, cc, ky, kx] * x[g * Cg + cc, yy, xx]
                y[f, r, c] = acc + (b[f] if shared else b[f, r, c])
    return y


CASES = [  # channels, size, filters (per group), filterSize, padding, stride, groups, sharedBiases
    (3, 7, 4, 3, 0, 1, 1, 1),
    (3, 8, 2, 3, 1, 2, 1, 1),     # ceil: the last window reads the padding past the edge
    (4, 9, 3, 5, 2, 3, 2, 0),     # groups, stride 3, a bias per filter and position
    (2, 6, 2, 6, 0, 1, 1, 1),     # the filter as large as the image: a 1x1 output
    (2, 5, 2, 2, 2, 1, 1, 1),     # padding past the filter size (layer.py:994 allows any): windows of padding alone
    (2, 5, 2, 3, 4, 2, 1, 0),     # the same with stride 2, a bias per filter and position
]


# The CPU path works in chunks of output rows (conv_cpu.CHUNK_BYTES); 1 byte makes every row a chunk.
CHUNKS = pytest.mark.parametrize("chunk_bytes", [conv_cpu.CHUNK_BYTES, 1], ids=["one-chunk", "row-chunks"])


@CHUNKS
@pytest.mark.parametrize("C,S,F,k,p,s,G,shared", CASES)
def test_forward_matches_loops(C, S, F, k, p, s, G, shared, chunk_bytes, monkeypatch):
    monkeypatch.setattr(conv_cpu, "CHUNK_BYTES", chunk_bytes)
    layer = make_layer("conv", [(C, S, S)], dict(channels=C, filters=F, filterSize=k, padding=p, stride=s,
                                                 groups=G, sharedBiases=shared, initW=0.5, initB=0.3),
                       WEIGHT_PARAMS)
    x = np.random.default_rng(1).standard_normal((C, S, S, 3))
    b = layer.params[-1].value
    b += np.random.default_rng(2).standard_normal(b.shape)
    y = layer.forward([x], TRAIN)
    expected = naive_conv(x, layer.params[0].value, b, G, p, s, shared)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@CHUNKS
@pytest.mark.parametrize("C,S,F,k,p,s,G,shared", CASES)
def test_gradients(C, S, F, k, p, s, G, shared, chunk_bytes, monkeypatch):
    monkeypatch.setattr(conv_cpu, "CHUNK_BYTES", chunk_bytes)
    layer = make_layer("conv", [(C, S, S)], dict(channels=C, filters=F, filterSize=k, padding=p, stride=s,
                                                 groups=G, sharedBiases=shared, initW=0.5), WEIGHT_PARAMS)
    x = np.random.default_rng(3).standard_normal((C, S, S, 2))
    check_layer_gradients(layer, [x])


def test_several_inputs_are_summed():
    keys = dict(channels="2,3", filters="4,4", filterSize="3,5", padding="1,2", stride="1,1", initW="0.5,0.5")
    layer = make_layer("conv", [(2, 6, 6), (3, 6, 6)], keys, WEIGHT_PARAMS)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((2, 6, 6, 2)), rng.standard_normal((3, 6, 6, 2))]
    zero = np.zeros(4)
    expected = (naive_conv(xs[0], layer.params[0].value, zero, 1, 1, 1, True)
                + naive_conv(xs[1], layer.params[1].value, zero, 1, 2, 1, True))
    np.testing.assert_allclose(layer.forward(xs, TRAIN), expected, rtol=1e-12, atol=1e-12)
    check_layer_gradients(layer, xs)


def test_flat_input_is_read_as_square_images():
    layer = make_layer("conv", [(3 * 5 * 5,)], dict(channels=3, filters=2, filterSize=3), WEIGHT_PARAMS)
    assert layer.output_shape == (2, 3, 3)


def test_weight_and_bias_shapes():
    layer = make_layer("conv", [(4, 9, 9)], dict(channels=4, filters=3, filterSize=5, groups=2, sharedBiases=0),
                       WEIGHT_PARAMS)
    assert layer.params[0].value.shape == (6, 2, 5, 5)
    assert layer.params[1].value.shape == (6, 5, 5)


def test_initial_weights_have_the_asked_spread():
    layer = make_layer("conv", [(64, 8, 8)], dict(channels=64, filters=64, filterSize=5, initW=0.03, initB=1),
                       WEIGHT_PARAMS)
    w = layer.params[0].value
    assert abs(w.std() - 0.03) < 0.001 and abs(w.mean()) < 0.001
    assert np.all(layer.params[1].value == 1)


@pytest.mark.parametrize("keys,key,fragment", [
    (dict(channels=4, filters=2, filterSize=3), "channels", "is 4 but input 'in0' has 3 channels"),
    (dict(channels=3, filters=2, filterSize=9, padding=0), "filterSize", "larger than input"),
    (dict(channels=3, filters=2, filterSize=11, padding=1), "filterSize", "is 11, larger than input 'in0' (8x8) with "
                                                                          "padding 1"),
    (dict(channels=3, filters=2, filterSize=3, groups=2), "groups", "do not divide"),
])
def test_config_that_does_not_fit_the_input(keys, key, fragment):
    with pytest.raises(ConfigError) as e:
        make_layer("conv", [(3, 8, 8)], keys, WEIGHT_PARAMS)
    assert e.value.key == key and fragment in str(e.value)


def test_filters_as_large_as_the_padded_input_fit_and_inputs_must_give_outputs_of_one_size():
    """layer.py:1025 refuses filterSize > imgSize + 2 * padding only; layer.py:1011, outputs of two sizes."""
    keys = dict(channels=3, filters=2, filterSize=10, padding=1)
    assert make_layer("conv", [(3, 8, 8)], keys, WEIGHT_PARAMS).output_shape == (2, 1, 1)
    assert make_layer("conv", [(3, 8, 12)], keys, WEIGHT_PARAMS).output_shape == (2, 1, 5)     # rows decide
    with pytest.raises(ConfigError) as e:
        make_layer("conv", [(3, 12, 8)], dict(keys, filterSize=11), WEIGHT_PARAMS)
    assert str(e.value).endswith("[layer] filterSize: is 11, larger than input 'in0' (12x8) with padding 1")
    two = dict(channels="3,3", filters="2,2", filterSize="3,3", padding="0,0", stride="1,1", initW="0.1,0.1")
    params = dict(WEIGHT_PARAMS, epsW="0.01,0.01", momW="0.9,0.9")
    assert make_layer("conv", [(3, 8, 8), (3, 8, 8)], two, params).output_shape == (2, 6, 6)
    with pytest.raises(ConfigError) as e:
        make_layer("conv", [(3, 8, 8), (3, 6, 6)], two, params)
    assert e.value.key == "filters"
    assert "every input must give equally sized outputs; they give 2x6x6, 2x4x4" in str(e.value)


def test_backward_refills_the_frame_another_pass_overwrote():
    """The forward's padded frame serves the backward of the same pass only: after a forward of another
    pass on other data, the backward of the first pass frames its own input again."""
    from convnet.layer import Pass
    keys = dict(channels=3, filters=4, filterSize=3, padding=1, stride=1, initW=0.5)
    layer = make_layer("conv", [(3, 6, 6)], keys, WEIGHT_PARAMS)
    rng = np.random.default_rng(5)
    x1, x2, dy = rng.standard_normal((3, 6, 6, 2)), rng.standard_normal((3, 6, 6, 2)), rng.standard_normal((4, 6, 6, 2))
    first, other = Pass(True, 1), Pass(True, 2)
    y = layer.forward([x1], first)
    (expected,) = layer.backward([x1], y, dy, [True], first)
    expected_w = layer.params[0].grad.copy()
    y = layer.forward([x1], first)
    layer.forward([x2], other)
    (dx,) = layer.backward([x1], y, dy, [True], first)
    np.testing.assert_array_equal(dx, expected)
    np.testing.assert_array_equal(layer.params[0].grad, expected_w)


def test_the_multiply_adds_of_a_grouped_convolution_are_its_groups_own():
    """describe's count: each of the 6 filters (3 per group) sees its group's 2 channels at 25 positions."""
    layer = make_layer("conv", [(4, 5, 5)], dict(channels=4, filters=3, filterSize=3, padding=1, groups=2),
                       WEIGHT_PARAMS)
    assert layer.output_shape == (6, 5, 5) and layer.macs() == 6 * 25 * 2 * 9


def test_a_flat_input_is_read_as_square_images_or_refused():
    """As cuda-convnet read a flat input (layer.py's imgPixels, imgSize = sqrt): 27 values of 3 channels
    are 3x3x3 images; 24 (8 a channel) and 10 (not a multiple of 3) are no square images."""
    keys = dict(channels=3, filters=2, filterSize=2)
    assert make_layer("conv", [(27,)], keys, WEIGHT_PARAMS).output_shape == (2, 2, 2)
    assert make_layer("conv", [(3,)], dict(keys, filterSize=1), WEIGHT_PARAMS).output_shape == (2, 1, 1)   # 1x1
    for features in (24, 10):
        with pytest.raises(ConfigError) as e:
            make_layer("conv", [(features,)], keys, WEIGHT_PARAMS)
        assert e.value.key == "channels" and str(e.value).endswith(
            f"input 'in0' gives {features} values per image, not interpretable as 3-channel square images")
