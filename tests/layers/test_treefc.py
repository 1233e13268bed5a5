"""treefc: class weights summed down a class tree, against the sums written out here; gradients; the
solver's per-node rates; the tree's checks; the GPU path."""
import numpy as np
import pytest

from convnet.errors import ConfigError
from convnet.solver import Solver
from tests.conftest import GPU_BACKENDS
from tests.helpers import TRAIN, WEIGHT_PARAMS, check_layer_gradients, check_parity, gpu_twin, make_layer

# four classes: 0 and 1 under node 4, 2 and 3 under node 5, both under the root 6
TREE = {0: [], 1: [], 2: [], 3: [], 4: [0, 1], 5: [2, 3], 6: [4, 5]}
INFO = dict(classes=4, tree=TREE, root=6)


def test_class_weights_are_sums_down_the_tree():
    layer = make_layer("treefc", [(5,)], dict(initW=0.3), WEIGHT_PARAMS, data_info=INFO)
    w = layer.params[0].value
    assert w.shape == (7, 5) and np.all(w[4:] == 0)            # internal nodes start at 0
    assert layer.macs() == 4 * 5           # an image meets the summed weights; the sums are per minibatch
    w[:] = np.random.default_rng(1).standard_normal(w.shape)
    b = layer.params[1].value
    x = np.random.default_rng(2).standard_normal((5, 3))
    effective = np.stack([w[0] + w[4] + w[6], w[1] + w[4] + w[6], w[2] + w[5] + w[6], w[3] + w[5] + w[6]])
    np.testing.assert_allclose(layer.forward([x], TRAIN), effective @ x + b[:, None], rtol=1e-13)
    check_layer_gradients(layer, [x])


def test_nodes_learn_at_eps_over_their_classes():
    layer = make_layer("treefc", [(5,)], dict(initW=0.3), dict(WEIGHT_PARAMS, wc=0.1, momW=0), data_info=INFO)
    w = layer.params[0]
    np.testing.assert_array_equal(w.row_scale, [1, 1, 1, 1, 0.5, 0.5, 0.25])
    net = type("Net", (), {"parameters": lambda self: [w], "seed": 0, "backend": layer.be})()
    w.grad, w.inc = np.ones_like(w.value), np.zeros_like(w.value)
    w.value[:] = np.random.default_rng(3).standard_normal(w.value.shape)    # the nodes too: their decay counts
    before = w.value.copy()
    Solver(net).update(2, 0.0)
    s = w.row_scale[:, None].astype(np.float64)
    np.testing.assert_allclose(w.value, before - 0.01 * s * (0.5 + 0.1 * s * before), rtol=1e-12)


def test_without_a_tree_it_is_flat_unless_training_needs_one():
    flat = make_layer("treefc", [(5,)], dict(initW=0.3), WEIGHT_PARAMS, data_info=dict(classes=3))
    assert flat.params[0].value.shape == (4, 5) and flat.output_shape == (3,)
    with pytest.raises(ConfigError) as e:
        make_layer("treefc", [(5,)], dict(initW=0.3), WEIGHT_PARAMS, data_info=dict(classes=3, need_tree=True))
    assert "class tree" in str(e.value)
    with pytest.raises(ConfigError) as e:
        make_layer("treefc", [(5,)], dict(initW=0.3), WEIGHT_PARAMS)
    assert "one output per class" in str(e.value)


@pytest.mark.parametrize("tree,root,fragment", [
    ({0: [], 1: [], 3: [0, 1]}, 3, "numbered 0 to 2"),
    ({0: [], 1: [], 2: [0, 1], 3: []}, 2, "leaves must be"),
    ({0: [], 1: [], 2: [0], 3: [1]}, 2, "not under the root"),
    ({0: [], 1: [], 2: [0, 1], 3: [2, 1]}, 3, "reached twice"),
])
def test_bad_trees(tree, root, fragment):
    with pytest.raises(ConfigError) as e:
        make_layer("treefc", [(5,)], {}, WEIGHT_PARAMS, data_info=dict(classes=2, tree=tree, root=root))
    assert fragment in str(e.value)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_gpu_path(backend):
    cpu, gpu = gpu_twin("treefc", [(2, 3, 3)], dict(initW=0.3, initB=0.1), WEIGHT_PARAMS, backend, data_info=INFO)
    rng = np.random.default_rng(3)
    for p, q in zip(cpu.params, gpu.params):
        p.value[:] = rng.standard_normal(p.value.shape)
        q.value = gpu.be.from_host(p.value, gpu.device)
    # 5 images, not 4: with as many images as classes, N read from the classes' axis passed
    check_parity(cpu, gpu, [rng.standard_normal((2, 3, 3, 5)).astype(np.float32)])
