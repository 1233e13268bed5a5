"""hs, dropout and dropout2: train and test behaviour, and masks that depend only on seed, layer and step."""
import numpy as np
import pytest

from convnet.graph import load_graph
from convnet.layer import Pass
from convnet.net import Net
from convnet.random import GOLDEN, fmix32_int, uniform
from tests.helpers import DATA_LAYERS, SOFTMAX_COST, TRAIN, TEST, check_layer_gradients, make_layer, write

X = np.random.default_rng(0).standard_normal((50, 40)) + 3.0       # no zeros: a zero means dropped


@pytest.mark.parametrize("kind,train_scale,test_scale", [("hs", 1.0, 0.6), ("dropout2", 1.0, 0.6),
                                                         ("dropout", 1 / 0.6, 1.0)])
def test_train_and_test(kind, train_scale, test_scale):
    layer = make_layer(kind, [(50,)], dict(keep=0.6))
    y = layer.forward([X], TRAIN)
    kept = y != 0
    assert abs(kept.mean() - 0.6) < 0.03                 # 2000 draws: 4.5 standard deviations
    np.testing.assert_allclose(y[kept], X[kept] * train_scale, rtol=1e-15)
    np.testing.assert_allclose(layer.forward([X], TEST), X * test_scale, rtol=1e-15)
    (dx,) = layer.backward([X], y, np.ones_like(X), [True], TRAIN)
    np.testing.assert_array_equal(dx != 0, kept)         # the backward uses the forward's mask
    check_layer_gradients(layer, [X])
    check_layer_gradients(layer, [X], ctx=TEST)


def test_masks_depend_on_the_step_and_the_seed_only():
    a, b = make_layer("hs", [(50,)], dict(keep=0.5)), make_layer("hs", [(50,)], dict(keep=0.5))
    same = [a.forward([X], Pass(True, 7)), b.forward([X], Pass(True, 7))]
    np.testing.assert_array_equal(same[0], same[1])
    assert np.any(a.forward([X], Pass(True, 8)) != same[0])
    b.seed = 12345
    assert np.any(b.forward([X], Pass(True, 7)) != same[0])


def test_disabled_hs_scales_by_keep_in_training_too_as_the_2012_code():
    layer = make_layer("hs", [(50,)], dict(keep=0.5), params=dict(enable="false"))
    for ctx in (TRAIN, TEST):
        np.testing.assert_array_equal(layer.forward([X], ctx), X * 0.5)
        np.testing.assert_array_equal(layer.backward([X], None, np.ones_like(X), [True], ctx)[0], np.full_like(X, 0.5))
    check_layer_gradients(layer, [X])


@pytest.mark.parametrize("kind", ["dropout", "dropout2"])
def test_disabled_cuda_convnet2_dropouts_pass_their_input(kind):
    layer = make_layer(kind, [(50,)], dict(keep=0.5), params=dict(enable="false"))
    for ctx in (TRAIN, TEST):
        np.testing.assert_array_equal(layer.forward([X], ctx), X)


def test_uniform_numbers_match_a_plain_python_hash():
    key = 0xDEADBEEF
    expected = [(fmix32_int((i * GOLDEN + key) & 0xFFFFFFFF) >> 8) / 2 ** 24 for i in range(1000)]
    np.testing.assert_array_equal(uniform(key, 1000), np.array(expected, dtype=np.float32))
    u = uniform(99, 100000)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.003


TWO_COLUMNS = DATA_LAYERS + """
[fcA]
type=fc
inputs=data
outputs=40
initW=0.1
initB=1
[fcB]
type=fc
inputs=data
outputs=40
initW=0.1
initB=1
[dropA]
type=hs
inputs=fcA
keep=0.5
[dropB]
type=hs
inputs=fcB
keep=0.5
[fc]
type=fc
inputs=dropA,dropB
outputs=3
initW=0.1,0.1
""" + SOFTMAX_COST
TWO_PARAMS = "".join(f"[{n}]\nepsW={w}\nepsB=0.1\nmomW={m}\nmomB=0.9\n" for n, w, m in
                     (("fcA", 0.1, 0.9), ("fcB", 0.1, 0.9), ("fc", "0.1,0.1", "0.9,0.9")))


def test_two_dropout_layers_of_one_shape_draw_their_own_masks(tmp_path):
    """Each layer's draws are keyed by the run's seed and the layer's name: the paper's two columns,
    whose dropout layers have the same shape, do not drop the same units (a key without the name would
    give both one mask); the same seed gives the same masks again, another seed others."""
    graph = load_graph(write(tmp_path, "l.cfg", TWO_COLUMNS), write(tmp_path, "p.cfg", TWO_PARAMS), [(3, 4, 4), (1,)])
    data = [np.random.default_rng(1).standard_normal((3, 4, 4, 25)).astype(np.float32), np.zeros((1, 25), np.float32)]

    def masks(seed):
        net = Net(graph, seed=seed)
        net.forward(data, train=True, step=3)
        return [net.activation(name) != 0 for name in ("dropA", "dropB")]
    a, b = masks(5)
    assert 0.4 < a.mean() < 0.6 and 0.4 < b.mean() < 0.6     # initB=1: fc outputs near 1, none zero but the dropped
    assert np.mean(a == b) < 0.65                                 # independent halves agree about half the time
    again = masks(5)
    np.testing.assert_array_equal(again[0], a)
    np.testing.assert_array_equal(again[1], b)
    assert np.mean(masks(6)[0] == a) < 0.65
