"""Images with other rows than columns: a layer whose windows are square treats rows and columns
alike, so the image transposed gives the output transposed (and the gradient likewise); convolution
with its filters transposed too. The loops of the other tests are written for square images."""
import numpy as np
import pytest

from tests.helpers import TRAIN, WEIGHT_PARAMS, make_layer

RNG = np.random.default_rng(3)


def transposed(a):
    """(C, H, W, N) -> (C, W, H, N)."""
    return np.ascontiguousarray(a.transpose(0, 2, 1, 3))


@pytest.mark.parametrize("kind,C,keys,params", [
    ("pool", 3, dict(pool="max", sizeX=3, stride=2, channels=3), None),
    ("pool", 3, dict(pool="avg", sizeX=3, stride=2, start=-1, channels=3), None),
    ("pool", 3, dict(pool="maxabs", sizeX=2, stride=3, channels=3), None),
    ("rnorm", 2, dict(channels=2, size=3), dict(scale=2.0, pow=0.6, minDiv=1.5)),
    ("cnorm", 2, dict(channels=2, size=4), dict(scale=2.0, pow=0.6, minDiv=1.5)),
    ("cmrnorm", 5, dict(channels=5, size=3), dict(scale=2.0, pow=0.6, minDiv=1.5)),
    ("conv", 3, dict(channels=3, filters=4, filterSize=3, padding=1, stride=2, initW=0.3, initB=0.1), WEIGHT_PARAMS),
])
def test_the_image_transposed_gives_the_output_transposed(kind, C, keys, params):
    wide = make_layer(kind, [(C, 7, 10)], keys, params)
    tall = make_layer(kind, [(C, 10, 7)], keys, params)
    assert tall.output_shape == (wide.output_shape[0], wide.output_shape[2], wide.output_shape[1])
    assert wide.output_shape[1] != wide.output_shape[2]
    if kind == "conv":                    # (filters, channels, rows, cols): the filters transposed
        tall.params[0].value = np.ascontiguousarray(wide.params[0].value.transpose(0, 1, 3, 2))
        tall.params[1].value = wide.params[1].value.copy()
    x = RNG.standard_normal((C, 7, 10, 4))
    y = wide.forward([x], TRAIN)
    np.testing.assert_allclose(tall.forward([transposed(x)], TRAIN), transposed(y), rtol=1e-12, atol=1e-14)
    dy = RNG.standard_normal(y.shape)
    (dx,) = wide.backward([x], y, dy, [True], TRAIN)
    (dx_tall,) = tall.backward([transposed(x)], transposed(y), transposed(dy), [True], TRAIN)
    np.testing.assert_allclose(dx_tall, transposed(dx), rtol=1e-12, atol=1e-14)
    if kind == "conv":
        np.testing.assert_allclose(tall.params[0].grad, wide.params[0].grad.transpose(0, 1, 3, 2), rtol=1e-12)
