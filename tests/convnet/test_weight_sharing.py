"""weightSource: a layer's weight matrix shared with another's (or its own earlier one), as the 2012
code shared them: one matrix, the gradients of every user, updates by its owner only."""
import numpy as np
import pytest

from convnet.checkpoint import Checkpoint, save
from convnet.errors import CheckpointError, ConfigError
from convnet.gradcheck import check_gradients
from convnet.graph import load_graph
from convnet.net import Net
from convnet.solver import Solver
from tests.helpers import DATA_LAYERS, SOFTMAX_COST, write

LAYERS = DATA_LAYERS + """
[fcA]
type=fc
inputs=data
outputs=4
initW=0.5
[fcB]
type=fc
inputs=data,data
outputs=4
initW=0.5,0.5
weightSource=fcA,fcB[0]
[sum]
type=eltsum
inputs=fcA,fcB
neuron=tanh[1,1]
[probs]
type=softmax
inputs=sum
[cost]
type=cost.logreg
inputs=labels,probs
"""
PARAMS = "[fcA]\nepsW=0.1\nepsB=0.1\nmomW=0.5\nmomB=0.5\n[fcB]\nepsW=0.1,0.1\nepsB=0.1\nmomW=0.5,0.5\nmomB=0.5\n"


def files(tmp_path, layers=LAYERS, params=PARAMS):
    return write(tmp_path, "l.cfg", layers), write(tmp_path, "p.cfg", params)


def test_one_matrix_three_users_and_the_gradient_of_all(tmp_path):
    net = Net(load_graph(*files(tmp_path), [(3, 2, 2), (1,)]), seed=1)
    a, b = net["fcA"].params[0], net["fcB"].params
    assert b[0].value is a.value and b[1].value is a.value          # fcB's two matrices are fcA's
    assert [p.path for p in net.parameters()] == ["fcA/weights/0", "fcA/biases", "fcB/biases"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2, 5)).astype(np.float32)
    net.forward([x, rng.integers(0, 4, (1, 5)).astype(np.float32)], train=True)
    # y = tanh(W x + bA + W x + W x + bB): fcA's share is a third of the matrix's gradient
    net.backward()
    np.testing.assert_allclose(a.grad, 3 * net.gradient("sum") @ x.reshape(12, 5).T, rtol=1e-5)
    before = a.value.copy()
    Solver(net).update(5, 0.0)
    np.testing.assert_allclose(a.value, before - 0.1 * a.grad / 5, rtol=1e-5, atol=1e-7)   # updated once


def test_a_user_with_a_rate_of_0_adds_nothing_to_the_shared_gradient(tmp_path):
    """The 2012 code computed a weight gradient only where the user's own base rate is above 0
    (WeightLayer::bpropCommon, src/layer.cu:587): with fcB[0] at epsW=0, the owner's gradient is fcA's
    and fcB[1]'s parts, two thirds of what all three give."""
    params = PARAMS.replace("epsW=0.1,0.1", "epsW=0,0.1")
    net = Net(load_graph(*files(tmp_path, params=params), [(3, 2, 2), (1,)]), seed=1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2, 5)).astype(np.float32)
    net.forward([x, rng.integers(0, 4, (1, 5)).astype(np.float32)], train=True)
    net.backward()
    np.testing.assert_allclose(net["fcA"].params[0].grad, 2 * net.gradient("sum") @ x.reshape(12, 5).T, rtol=1e-5)


def test_check_grads_passes_with_shared_matrices(tmp_path):
    rows, tolerance = check_gradients(*files(tmp_path), input_size=2)
    assert all(r.ok for r in rows), [(r.name, r.error) for r in rows]
    assert not any(c[0].startswith("weights") for r in rows if r.name == "fcB" for c in r.checks)


def test_a_checkpoint_keeps_the_owner_and_restores_the_sharing(tmp_path):
    graph = load_graph(*files(tmp_path), [(3, 2, 2), (1,)])
    net = Net(graph, seed=1)
    net["fcA"].params[0].value[:] = 7
    path = tmp_path / "c.h5"
    save(path, net, (1, 0, 0), ("l", "", "p", ""), {}, {}, [])
    other = Net(load_graph(*files(tmp_path), [(3, 2, 2), (1,)]), seed=2)
    Checkpoint(path).restore(other)
    assert np.all(other["fcB"].params[1].value == 7) and other["fcB"].params[1].value is other["fcA"].params[0].value


@pytest.mark.parametrize("source,fragment", [("nothere", "does not exist"), ("labels", "is of type data"),
                                             ("fcA[1]", "not a weight matrix"), ("fcB[1],fcA", "not a weight matrix"),
                                             ("fcA,fcB[1]", "not a weight matrix"),   # input 1 sharing itself
                                             ("fcA[x]", "cannot read")])
def test_bad_sources_are_config_errors(tmp_path, source, fragment):
    layers = LAYERS.replace("weightSource=fcA,fcB[0]", f"weightSource={source}" if "," in source else
                            f"weightSource={source},{source}")
    with pytest.raises(ConfigError) as e:
        load_graph(*files(tmp_path, layers), [(3, 2, 2), (1,)])
    assert e.value.key == "weightSource" and fragment in str(e.value)


def test_a_source_of_another_shape_is_refused(tmp_path):
    layers = LAYERS.replace("inputs=data,data\noutputs=4", "inputs=data,data\noutputs=5").replace(
        "[sum]\ntype=eltsum", "[sum]\ntype=concat")
    with pytest.raises(ConfigError) as e:
        load_graph(*files(tmp_path, layers), [(3, 2, 2), (1,)])
    assert "has shape (4, 12)" in str(e.value)


def test_describe_counts_a_shared_matrix_once(tmp_path):
    from convnet.describe import layer_rows
    rows = {r["name"]: r["params"] for r in layer_rows(load_graph(*files(tmp_path), [(3, 2, 2), (1,)]))}
    assert rows["fcA"] == 4 * 12 + 4 and rows["fcB"] == 4


SPARSE_CONV = "type=conv\ninputs=data\nchannels=4\nfilters=4\nfilterSize=3\npadding=1\ngroups=2\nrandSparse=1\nfilterChannels=2\n"
SPARSE = (DATA_LAYERS + "[convA]\n" + SPARSE_CONV + "[convB]\n" + SPARSE_CONV + "weightSource=convA\n"
          + "[fc]\ntype=fc\ninputs=convA,convB\noutputs=3\n" + SOFTMAX_COST)
SPARSE_PARAMS = ("[convA]\nepsW=0.1\nepsB=0.1\nmomW=0\nmomB=0\n[convB]\nepsW=0.1\nepsB=0.1\nmomW=0\nmomB=0\n"
                 "[fc]\nepsW=0.1,0.1\nepsB=0.1\nmomW=0,0\nmomB=0\n")


def test_a_restored_sparse_matrix_gives_its_sharers_the_checkpoints_connections(tmp_path):
    """randSparse's connections come with the matrix they index: the sharer of a restored matrix reads
    the checkpoint's, not those drawn when its net was built (another seed here; an initCFunc, which a
    restored net does not call, in a resumed run)."""
    paths = files(tmp_path, SPARSE, SPARSE_PARAMS)
    net = Net(load_graph(*paths, [(4, 5, 5), (1,)]), seed=1)
    path = tmp_path / "c.h5"
    save(path, net, (1, 0, 0), ("l", "", "p", ""), {}, {}, [])
    other = Net(load_graph(*paths, [(4, 5, 5), (1,)]), seed=5, restoring=True)
    assert not np.array_equal(other["convA"].conns[0], net["convA"].conns[0])     # drawn otherwise
    Checkpoint(path).restore(other)
    for name in ("convA", "convB"):
        np.testing.assert_array_equal(other[name].conns[0], net["convA"].conns[0])
    rng = np.random.default_rng(0)
    batch = [rng.standard_normal((4, 5, 5, 3)).astype(np.float32), np.array([[0, 1, 2]], dtype=np.float32)]
    np.testing.assert_array_equal(net.forward(batch)["cost"], other.forward(batch)["cost"])
    np.testing.assert_array_equal(other.activation("convB"), net.activation("convB"))


def test_connections_of_another_length_are_refused_in_one_line(tmp_path):
    """4 filters in each of 2 groups and 2 in each of 4, filterChannels=2, have weights of one shape,
    (8, 2, 3, 3), but 4 and 8 connections: the checkpoint's cannot index the other net's groups, and
    its restore says so."""
    net = Net(load_graph(*files(tmp_path, SPARSE, SPARSE_PARAMS), [(4, 5, 5), (1,)]), seed=1)
    path = tmp_path / "c.h5"
    four = files(tmp_path, SPARSE.replace("filters=4\n", "filters=2\n").replace("groups=2", "groups=4"), SPARSE_PARAMS)
    other = Net(load_graph(*four, [(4, 5, 5), (1,)]), seed=1, restoring=True)
    save(path, net, (1, 0, 0), ("l", "", "p", ""), {}, {}, [])
    assert [p.value.shape for p in other["convA"].params] == [p.value.shape for p in net["convA"].params]
    assert net["convA"].conns[0].shape == (4,) and other["convA"].conns[0].shape == (8,)
    with pytest.raises(CheckpointError) as e:
        Checkpoint(path).restore(other)
    assert str(e.value) == f"{path}: convA/conns/0 is (4,), the net needs (8,)"
