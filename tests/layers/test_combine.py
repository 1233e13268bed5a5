"""concat, eltsum and eltmax against closed forms."""
import numpy as np
import pytest

from convnet.errors import ConfigError
from tests.helpers import TRAIN, check_layer_gradients, make_layer

RNG = np.random.default_rng(0)


def test_concat_of_images_stacks_the_maps():
    layer = make_layer("concat", [(2, 3, 3), (5, 3, 3)])
    assert layer.output_shape == (7, 3, 3)
    xs = [RNG.standard_normal((2, 3, 3, 2)), RNG.standard_normal((5, 3, 3, 2))]
    np.testing.assert_array_equal(layer.forward(xs, TRAIN), np.concatenate(xs, axis=0))
    check_layer_gradients(layer, xs)


def test_concat_of_mixed_shapes_is_flat():
    layer = make_layer("concat", [(2, 3, 3), (5,)])
    assert layer.output_shape == (23,)
    assert make_layer("concat", [(2, 3, 3), (2, 4, 4)]).output_shape == (50,)      # images of two sizes


def test_eltsum_with_coefficients():
    layer = make_layer("eltsum", [(3, 2, 2), (12,)], dict(coeffs="0.5,-2"))
    xs = [RNG.standard_normal((3, 2, 2, 2)), RNG.standard_normal((12, 2))]
    np.testing.assert_allclose(layer.forward(xs, TRAIN), 0.5 * xs[0] - 2 * xs[1].reshape(3, 2, 2, 2))
    check_layer_gradients(layer, xs)


def test_eltsum_without_coefficients_is_the_plain_sum():
    """layer.py's default, coeffs=[1.0] * inputs."""
    layer = make_layer("eltsum", [(4,), (4,), (4,)])
    xs = [RNG.standard_normal((4, 3)) for _ in range(3)]
    np.testing.assert_allclose(layer.forward(xs, TRAIN), xs[0] + xs[1] + xs[2], rtol=1e-15)


def test_eltmax_and_its_ties():
    layer = make_layer("eltmax", [(4,), (4,), (4,)])
    xs = [RNG.standard_normal((4, 3)) for _ in range(3)]
    np.testing.assert_array_equal(layer.forward(xs, TRAIN), np.maximum(np.maximum(xs[0], xs[1]), xs[2]))
    check_layer_gradients(layer, xs)
    tie = np.ones((4, 1))
    grads = layer.backward([tie, tie, tie * 0], tie, tie * 3, [True] * 3, TRAIN)
    assert [g.sum() for g in grads] == [12, 12, 0]


@pytest.mark.parametrize("kind", ["eltsum", "eltmax"])
def test_inputs_of_different_sizes(kind):
    with pytest.raises(ConfigError) as e:
        make_layer(kind, [(4,), (5,)])
    assert "same size" in str(e.value)
