"""softmax + cost.logreg (or cost.crossent), and a logistic neuron + cost.crossent2, on one device: one
joint gradient, the outputs minus the targets, as the 2012 code took it (src/layer.cu,
SoftmaxLayer::bpropActs and NeuronLayer::bpropActs): the same numbers as the two backwards in turn,
and finite where an output rounds to 0 (or a logistic's to 1) in float32, where -1/p (or 1/(1 - y))
is not."""
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
CROSSENT_NET = NET.replace("cost.logreg", "cost.crossent")
LOGISTIC_NET = NET.replace("type=softmax", "type=neuron\nneuron=logistic").replace("cost.logreg", "cost.crossent2")
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


def make(tmp_path, backend="numpy", dtype=np.float64, text=NET, targets=(1,)):
    layers, params = write(tmp_path, "net.cfg", text), write(tmp_path, "params.cfg", PARAMS)
    return Net(load_graph(layers, params, [(4,), targets]), backend=backend, dtype=dtype, seed=3)


def batch(scale=1.0):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 6)) * scale, np.array([[0, 1, 2, 3, 4, 0]], dtype=np.float64)]


def grads(net, data, joint):
    with np.errstate(divide="ignore"):           # the cost itself is inf where a probability is 0
        net.forward(data, train=True)
    net.backward(joint=joint)
    return [net.backend.to_host(p.grad, p.layer.device) for p in net.parameters()]


@pytest.mark.parametrize("text", [NET, CROSSENT_NET], ids=["logreg", "crossent"])
def test_the_joint_gradient_equals_the_two_backwards(tmp_path, text):
    net = make(tmp_path, text=text)
    for a, b in zip(grads(net, batch(), True), grads(net, batch(), False)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert net._joint_pairs() == {"cost": "probs"}


@pytest.mark.parametrize("text", [NET, CROSSENT_NET], ids=["logreg", "crossent"])
def test_the_joint_gradient_is_finite_where_a_probability_underflows(tmp_path, text):
    """Scores 2000 apart: the labels' probabilities are 0 in float32 (exp(-2000)), the cost inf."""
    net = make(tmp_path, dtype=np.float32, text=text)
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
    assert net._joint_pairs() == {}


@pytest.mark.parametrize("text", [NET, CROSSENT_NET], ids=["logreg", "crossent"])
def test_the_joint_kernel_matches_numpy(tmp_path, text):
    cpu = make(tmp_path, dtype=np.float32, text=text)
    gpu = make(tmp_path, backend="emulated", dtype=np.float32, text=text)
    data = [x.astype(np.float32) for x in batch()]
    for a, b in zip(grads(cpu, data, True), grads(gpu, data, True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_logistic_crossent2_gradient_equals_the_two_backwards(tmp_path):
    net = make(tmp_path, text=LOGISTIC_NET)
    assert net._joint_pairs() == {"cost": "probs"}
    for a, b in zip(grads(net, batch(), True), grads(net, batch(), False)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_the_logistic_crossent2_gradient_is_finite_where_an_output_rounds_to_1(tmp_path):
    """Scores in the hundreds: logistic outputs of exactly 0 and 1 in float32, where the cost's own
    gradient divides by 0 (training stopped at a NaN in the weights)."""
    net = make(tmp_path, dtype=np.float32, text=LOGISTIC_NET)
    data = [x.astype(np.float32) for x in batch(scale=1000.0)]
    net.forward(data, train=True)
    y = net.activation("probs")
    assert (y == 1).any() and (y == 0).any()
    joint = grads(net, data, True)
    assert all(np.all(np.isfinite(g)) for g in joint)
    with np.errstate(all="ignore"):
        separate = grads(net, data, False)
    assert not all(np.all(np.isfinite(g)) for g in separate)
    t = (np.arange(5)[:, None] == data[1].astype(int)).astype(np.float64)     # y - t, by hand: the biases'
    np.testing.assert_allclose(joint[1].reshape(-1), 0.5 * (y - t).sum(axis=1), rtol=1e-5, atol=1e-6)


def test_a_neuron_that_is_not_logistic_takes_the_two_backwards(tmp_path):
    net = make(tmp_path, text=LOGISTIC_NET.replace("neuron=logistic", "neuron=relu"))
    assert net._joint_pairs() == {}


def test_the_logistic_crossent2_kernel_matches_numpy(tmp_path):
    cpu = make(tmp_path, dtype=np.float32, text=LOGISTIC_NET)
    gpu = make(tmp_path, backend="emulated", dtype=np.float32, text=LOGISTIC_NET)
    data = [x.astype(np.float32) for x in batch()]
    for a, b in zip(grads(cpu, data, True), grads(gpu, data, True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "emulated"])
def test_the_crossent_softmax_gradient_takes_target_distributions(tmp_path, backend):
    """Targets per class (the 2012 providers' label probabilities), summing to other than 1 per image:
    the joint step is coeff (p sum_j t_j - t), the two backwards' numbers (float64 on numpy, float32
    against them in the emulator)."""
    data = batch()
    data[1] = np.random.default_rng(1).uniform(0, 0.5, (5, 6))
    reference = make(tmp_path, text=CROSSENT_NET, targets=(5,))
    assert reference._joint_pairs() == {"cost": "probs"}
    separate = grads(reference, data, False)
    dtype = np.float64 if backend == "numpy" else np.float32
    net = make(tmp_path, backend=backend, dtype=dtype, text=CROSSENT_NET, targets=(5,))
    joint = grads(net, [x.astype(dtype) for x in data], True)
    for a, b in zip(joint, separate):
        np.testing.assert_allclose(a, b, rtol=1e-12 if backend == "numpy" else 1e-5, atol=1e-14 if backend == "numpy" else 1e-6)
