"""softmax + cost.logreg on one device: one joint gradient, probs minus the one-hot labels, as the
2012 code took it (src/layer.cu, SoftmaxLayer::bpropActs): the same numbers as the two backwards in
turn, and finite where a probability underflows in float32, where -1/p is not."""
import numpy as np
import pytest

from convnet.graph import load_graph
from convnet.net import Net
from tests.helpers import DATA_LAYERS, SOFTMAX_COST, write

NET = DATA_LAYERS + """
[fc]
type=fc
inputs=data
outputs=5
initW=0.5
""" + SOFTMAX_COST
PARAMS = """
[fc]
epsW=0.1
epsB=0.1
momW=0
momB=0
wc=0
[cost]
coeff=0.5
"""


def make(tmp_path, backend="numpy", dtype=np.float64, text=NET):
    layers, params = write(tmp_path, "net.cfg", text), write(tmp_path, "params.cfg", PARAMS)
    return Net(load_graph(layers, params, [(4,), (1,)]), backend=backend, dtype=dtype, seed=3)


def batch(scale=1.0):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 6)) * scale, np.array([[0, 1, 2, 3, 4, 0]], dtype=np.float64)]


def grads(net, data, joint):
    with np.errstate(divide="ignore"):           # the cost itself is inf where a probability is 0
        net.forward(data, train=True)
    net.backward(joint=joint)
    return [net.backend.to_host(p.grad, p.layer.device) for p in net.parameters()]


def test_the_joint_gradient_equals_the_two_backwards(tmp_path):
    net = make(tmp_path)
    for a, b in zip(grads(net, batch(), True), grads(net, batch(), False)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert net._logreg_softmax_pairs() == {"cost": "probs"}


def test_the_joint_gradient_is_finite_where_a_probability_underflows(tmp_path):
    """Scores 2000 apart: the labels' probabilities are 0 in float32 (exp(-2000)), the cost inf."""
    net = make(tmp_path, dtype=np.float32)
    data = [x.astype(np.float32) for x in batch(scale=1000.0)]
    with np.errstate(divide="ignore"):
        net.forward(data, train=True)
    probs = net.activation("probs")
    assert (probs[data[1].astype(int)[0], np.arange(6)] == 0).any()
    joint = grads(net, data, True)
    assert all(np.all(np.isfinite(g)) for g in joint)
    with np.errstate(all="ignore"):
        separate = grads(net, data, False)
    assert not all(np.all(np.isfinite(g)) for g in separate)
    # probs - onehot, by hand: the fc biases' gradient is coeff * sum over images
    y = probs.astype(np.float64)
    y[data[1].astype(int)[0], np.arange(6)] -= 1
    np.testing.assert_allclose(joint[1].reshape(-1), 0.5 * y.sum(axis=1), rtol=1e-5, atol=1e-6)


def test_a_softmax_with_another_reader_takes_the_two_backwards(tmp_path):
    text = NET + """
[cost2]
type=cost.sum2
inputs=probs
"""
    net = make(tmp_path, text=text)
    assert net._logreg_softmax_pairs() == {}


def test_the_joint_kernel_matches_numpy(tmp_path):
    cpu, gpu = make(tmp_path, dtype=np.float32), make(tmp_path, backend="emulated", dtype=np.float32)
    data = [x.astype(np.float32) for x in batch()]
    for a, b in zip(grads(cpu, data, True), grads(gpu, data, True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
