"""The paper's update, written out in the test, and the learning-rate schedules."""

import numpy as np
import pytest

from convnet.graph import load_graph
from convnet.net import Net
from convnet.schedule import schedule
from convnet.solver import Solver
from tests.helpers import write

LAYERS = """
[data]
type=data
dataIdx=0
[labels]
type=data
dataIdx=1
[fc1]
type=fc
inputs=data
outputs=4
initW=0.5
initB=0.2
[probs]
type=softmax
inputs=fc1
[cost]
type=cost.logreg
inputs=labels,probs
"""


def net_with(tmp_path, params):
    g = load_graph(write(tmp_path, "l.cfg", LAYERS), write(tmp_path, "p.cfg", params), [(3, 2, 2), (1,)])
    return Net(g, seed=1)


def step(net, solver, rng, n=5, progress=0.0):
    data = [rng.standard_normal((3, 2, 2, n)).astype(np.float32), rng.integers(0, 4, (1, n)).astype(np.float32)]
    net.forward(data, train=True)
    net.backward()
    solver.update(n, progress)


def test_momentum_and_weight_decay_as_the_paper_writes_them(tmp_path):
    net = net_with(tmp_path, "[fc1]\nepsW=0.1\nepsB=0.3\nmomW=0.9\nmomB=0.5\nwc=0.01\n")
    solver = Solver(net)
    w, b = net.parameters()
    rng = np.random.default_rng(0)
    W, B = w.value.astype(np.float64), b.value.astype(np.float64)
    incW, incB = np.zeros_like(W), np.zeros_like(B)
    for _ in range(3):
        state = np.random.default_rng(rng.integers(1 << 30))
        data_rng = np.random.default_rng(state.integers(1 << 30))
        step(net, solver, data_rng)
        gW, gB = w.grad / 5, b.grad / 5                       # the batch mean of the gradient
        incW = 0.9 * incW - 0.01 * 0.1 * W - 0.1 * gW
        incB = 0.5 * incB - 0.3 * gB                          # biases: no decay
        W, B = W + incW, B + incB
        np.testing.assert_allclose(w.value, W, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b.value, B, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(w.inc, incW, rtol=1e-4, atol=1e-7)


def test_zero_rate_leaves_a_parameter_alone(tmp_path):
    net = net_with(tmp_path, "[fc1]\nepsW=0\nepsB=0.3\nmomW=0.9\nmomB=0.9\nwc=0.1\n")
    w = net.parameters()[0]
    before = w.value.copy()
    step(net, Solver(net), np.random.default_rng(1))
    np.testing.assert_array_equal(w.value, before)
    assert not np.any(w.inc)


def test_wball_bounds_each_filters_mean_square(tmp_path):
    net = net_with(tmp_path, "[fc1]\nepsW=10\nepsB=0\nmomW=0\nmomB=0\nwball=0.05\n")
    step(net, Solver(net), np.random.default_rng(2))
    w = net.parameters()[0].value
    mean_square = (w.astype(np.float64) ** 2).mean(axis=1)
    assert np.all(mean_square <= 0.05 * (1 + 1e-5)) and np.any(mean_square > 0.05 * 0.999)


def test_schedules():
    assert schedule("0.01").rate(0.7) == 0.01
    lin = schedule("linear[0.01;10]")
    assert lin.rate(0) == pytest.approx(0.01) and lin.rate(1) == pytest.approx(0.001)
    assert lin.rate(0.5) == pytest.approx(0.0055)
    ex = schedule("exp[base=0.01;tgtFactor=100]")
    assert ex.rate(0.5) == pytest.approx(0.001) and ex.rate(1) == pytest.approx(0.0001)
    d = schedule("dexp[0.01;1000;4]")           # four steps: 0.01, 0.001, 0.0001, 0.00001
    rates = [d.rate(p) for p in (0.1, 0.3, 0.6, 0.99)]
    assert rates == pytest.approx([0.01, 0.001, 0.0001, 0.00001])
    assert d.rate(0.25) == pytest.approx(0.01) and d.rate(0.2501) == pytest.approx(0.001)


@pytest.mark.parametrize("text,fragment", [("fast", "expected a number"), ("exp[0.1]", "takes 2 values"),
                                           ("dexp[0.1;10;1]", "numSteps >= 2"), ("-1", "must not be negative"),
                                           ("exp[base=1;speed=2]", "no argument 'speed'")])
def test_bad_schedules(text, fragment):
    with pytest.raises(ValueError) as e:
        schedule(text)
    assert fragment in str(e.value)
