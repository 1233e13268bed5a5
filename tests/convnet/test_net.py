"""The net: forward and backward over the graph; logical devices do not change the numbers."""
import numpy as np
import pytest

from convnet.graph import load_graph
from convnet.net import Net
from tests.helpers import REFERENCE, write

GC = (REFERENCE / "cifar/layers.gc.cfg", REFERENCE / "cifar/layer-params.gc.cfg")


def batch(size=8, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, size, size, n)).astype(np.float32),
            rng.integers(0, 10, (1, n)).astype(np.float32)]


def run(layers_file, params_file, **kw):
    net = Net(load_graph(layers_file, params_file, [(3, 8, 8), (1,)]), seed=5, **kw)
    costs = net.forward(batch(), train=True, step=2)
    net.backward(data_grads=True)
    return net, costs


def test_logical_devices_give_the_numbers_of_one_device(tmp_path):
    text = GC[0].read_text()
    one_device = write(tmp_path, "one.cfg", "\n".join(l for l in text.splitlines() if not l.startswith("gpu=")))
    multi, costs_multi = run(*GC)
    single, costs_single = run(one_device, GC[1])
    assert multi.graph.n_devices == 3 and single.graph.n_devices == 1
    np.testing.assert_array_equal(costs_multi["logreg"], costs_single["logreg"])
    for p, q in zip(multi.parameters(), single.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)
    np.testing.assert_array_equal(multi.gradient("data"), single.gradient("data"))


def test_devices_hold_separate_copies(tmp_path):
    net, _ = run(*GC)
    # fc16b (device 1) reads rnorm1a (device 0) through a copy, not the same memory.
    copy = net._copies[("rnorm1a", 1)]
    assert copy is not net.acts["rnorm1a"] and np.array_equal(copy, net.acts["rnorm1a"])


def test_gradients_are_summed_where_a_layer_feeds_several():
    net, _ = run(*GC)
    # rnorm1a feeds fc16a, fc16b and twice fc16c: its gradient is the sum of the four contributions.
    g = net.graph
    contributions = 0
    for consumer in ("fc16a", "fc16b", "fc16c"):
        layer = g[consumer]
        dy = net.gradient(consumer)
        for inp, p in zip(layer.inputs, layer.params):
            if inp == "rnorm1a":
                contributions = contributions + (p.value.T @ dy).reshape(net.acts["rnorm1a"].shape)
    np.testing.assert_allclose(net.gradient("rnorm1a"), contributions, rtol=1e-5, atol=1e-7)


def test_every_activation_and_gradient_is_reachable_by_name():
    net, costs = run(*GC)
    for layer in net.layers:
        assert net.activation(layer.name) is not None
        if not layer.is_cost and layer.name != "labels":
            assert net.gradient(layer.name) is not None, layer.name
    cost, errors, _ = costs["logreg"]
    assert cost > 0 and 0 <= errors <= 4


def test_same_seed_same_weights_and_float64_copies_float32_exactly():
    a = Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=3)
    b = Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=3, dtype=np.float64)
    for p, q in zip(a.parameters(), b.parameters()):
        assert q.value.dtype == np.float64
        np.testing.assert_array_equal(p.value, q.value)


def test_a_releasing_backward_gives_the_same_gradients_and_lets_outputs_go_early():
    """backward(release=True) (the CPU trainer's): the same parameter gradients, bit for bit, while each
    output (and each cross-device copy) is gone once no backward still to come reads it; nothing is
    left after it."""
    import weakref
    keep = Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=5)
    keep.forward(batch(), train=True, step=2)
    keep.backward()
    net = Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=5)
    net.forward(batch(), train=True, step=2)
    top = [l.name for l in net.layers if not l.is_data][-3:]            # read by no layer below them
    refs = {name: weakref.ref(net.acts[name]) for name in top}
    copies = {key: weakref.ref(c) for key, c in net._copies.items()}
    first = next(l for l in net.layers if not l.is_data and l.params)   # its backward runs among the last
    seen = {}
    original = first.backward

    def spy(*args):
        seen.update({name: ref() is None for name, ref in refs.items()})
        seen.update({key: ref() is None for key, ref in copies.items() if key[0] not in first.inputs})
        return original(*args)
    first.backward = spy
    net.backward(release=True)
    assert seen and all(seen.values()), seen
    assert net.acts == {} and net.grads == {} and net._copies == {}
    for p, q in zip(net.parameters(), keep.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_a_pass_that_reuses_the_outputs_before_a_changed_layer_gives_the_full_passs_numbers():
    """forward(reuse=...) (the gradient checker's): with a weight of a middle layer moved, the layers
    before it taken from the unchanged pass, the costs are those of a whole pass, bit for bit."""
    net = Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=5, dtype=np.float64)
    data = batch()
    net.forward(data, train=True, step=1)
    before = dict(net.acts)
    names = [layer.name for layer in net.layers]
    middle = next(l for l in net.layers[len(names) // 2:] if l.params)
    middle.params[0].value.reshape(-1)[3] += 0.01
    whole = net.forward(data, train=True, step=1)
    reuse = {name: before[name] for name in names[:names.index(middle.name)]}
    reused = net.forward(data, train=True, step=1, reuse=reuse)
    assert whole.keys() == reused.keys() and all(np.array_equal(whole[k], reused[k]) for k in whole)
    assert not np.array_equal(whole["logreg"], Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=5,
                                                   dtype=np.float64).forward(data, train=True, step=1)["logreg"])
    assert all(net.acts[name] is before[name] for name in reuse)          # taken, not computed again


@pytest.mark.parametrize("backend", ["numpy", "emulated"])
def test_the_net_keeps_its_own_copy_of_the_batch(backend):
    """The loader's threads may fill the next minibatch into memory the net was given: a batch
    changed after the forward pass leaves the backward's weight gradients as they were."""
    images, labels = batch()
    kept = Net(load_graph(*GC, [(3, 8, 8), (1,)]), backend=backend, seed=5)
    kept.forward([images.copy(), labels.copy()], train=True, step=2)
    kept.backward()
    given = [images.copy(), labels.copy()]
    net = Net(load_graph(*GC, [(3, 8, 8), (1,)]), backend=backend, seed=5)
    net.forward(given, train=True, step=2)
    given[0][:] = 0
    given[1][:] = 1
    net.backward()
    for p, q in zip(net.parameters(), kept.parameters()):
        np.testing.assert_array_equal(net.backend.to_host(p.grad), kept.backend.to_host(q.grad), err_msg=p.path)
