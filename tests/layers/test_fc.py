"""fc: forward against explicit sums, gradients against central differences."""
import numpy as np

from tests.helpers import TRAIN, WEIGHT_PARAMS, check_layer_gradients, make_layer


def test_two_inputs_flattened_in_channel_row_col_order():
    layer = make_layer("fc", [(2, 3, 3), (5,)], dict(outputs=4, initW="0.3,0.3", initB=0.5), WEIGHT_PARAMS)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((5, 3))]
    w0, w1, b = (p.value for p in layer.params)
    assert w0.shape == (4, 18) and w1.shape == (4, 5) and b.shape == (4,)
    expected = np.zeros((4, 3))
    for o in range(4):
        for n in range(3):
            i = 0
            for c in range(2):
                for r in range(3):
                    for q in range(3):
                        expected[o, n] += w0[o, i] * xs[0][c, r, q, n]
                        i += 1
            expected[o, n] += sum(w1[o, j] * xs[1][j, n] for j in range(5)) + b[o]
    np.testing.assert_allclose(layer.forward(xs, TRAIN), expected, rtol=1e-12)
    check_layer_gradients(layer, xs)


def test_multiply_adds_per_image():
    layer = make_layer("fc", [(2, 3, 3), (5,)], dict(outputs=4), WEIGHT_PARAMS)
    assert layer.macs() == 4 * (18 + 5)
