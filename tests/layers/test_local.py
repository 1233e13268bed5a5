"""local: unshared filters, forward against loops, gradients against central differences."""
import math

import numpy as np
import pytest

from tests.helpers import TRAIN, WEIGHT_PARAMS, check_layer_gradients, make_layer


def naive_local(x, w, b, groups, pad, stride):
    C, H, W, N = x.shape
    oy, ox, F, Cg, k, _ = w.shape
    y = np.zeros((F, oy, ox, N))
    for f in range(F):
        g = f // (F // groups)
        for r in range(oy):
            for c in range(ox):
                acc = np.full(N, b[f, r, c])
                for cc in range(Cg):
                    for ky in range(k):
                        for kx in range(k):
                            yy, xx = r * stride - pad + ky, c * stride - pad + kx
                            if 0 <= yy < H and 0 <= xx < W:
                                acc += w[r, c, f, cc, ky, kx] * x[g * Cg + cc, yy, xx]
                y[f, r, c] = acc
    return y


@pytest.mark.parametrize("C,S,F,k,p,s,G", [(3, 6, 4, 3, 1, 1, 1), (4, 7, 2, 3, 0, 2, 2), (2, 5, 3, 2, 1, 2, 1),
                                            (2, 5, 2, 2, 3, 1, 1)])                  # padding past the filter
def test_forward_and_gradients(C, S, F, k, p, s, G):
    layer = make_layer("local", [(C, S, S)], dict(channels=C, filters=F, filterSize=k, padding=p, stride=s,
                                                  groups=G, initW=0.5, initB=0.2), WEIGHT_PARAMS)
    oy = 1 + math.ceil((2 * p + S - k) / s)
    assert layer.params[0].value.shape == (oy, oy, F * G, C // G, k, k)
    assert layer.params[1].value.shape == (F * G, oy, oy)
    x = np.random.default_rng(5).standard_normal((C, S, S, 2))
    layer.params[1].value += np.random.default_rng(6).standard_normal(layer.params[1].value.shape)
    expected = naive_local(x, layer.params[0].value, layer.params[1].value, G, p, s)
    np.testing.assert_allclose(layer.forward([x], TRAIN), expected, rtol=1e-12, atol=1e-12)
    check_layer_gradients(layer, [x])
