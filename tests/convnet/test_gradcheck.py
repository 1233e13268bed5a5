"""convnet check-grads: passes on layers.gc.cfg and on the every-layer config; fails on a broken layer."""
import numpy as np
import pytest
from click.testing import CliRunner

from convnet.cli import main
from convnet.gradcheck import check_gradients
from convnet.registry import layer_class
from convnet.layers.neuron import NEURONS
from tests.helpers import DATA_LAYERS, REFERENCE, ROOT, SOFTMAX_COST, write

EVERY = (ROOT / "configs/every-layer.cfg", ROOT / "configs/every-layer-params.cfg")


def test_gc_config_passes_on_the_cli():
    result = CliRunner().invoke(main, ["check-grads", "--layers", str(REFERENCE / "cifar/layers.gc.cfg"),
                                       "--params", str(REFERENCE / "cifar/layer-params.gc.cfg")])
    assert result.exit_code == 0, result.output
    assert "all 16 layers within the tolerance 1e-06" in result.output


def test_every_layer_config_uses_every_type_and_neuron_and_passes():
    from convnet.graph import load_graph
    from convnet.registry import layer_types
    graph = load_graph(*EVERY, [(3, 9, 9), (1,)], data_info={"classes": 10})
    assert {layer.type for layer in graph.layers} == set(layer_types())
    used = {layer.kind for layer in graph.layers if layer.type == "neuron"}
    assert used == set(NEURONS)
    result = CliRunner().invoke(main, ["check-grads", "--layers", str(EVERY[0]), "--params", str(EVERY[1]),
                                       "--input-size", "9"])
    assert result.exit_code == 0, result.output


NORMS = DATA_LAYERS + """
[conv1]
type=conv
inputs=data
channels=3
filters=8
filterSize=3
padding=1
initW=0.3
initB=0.1
neuron=tanh[1.5,0.7]

[rnorm1]
type=rnorm
inputs=conv1
channels=8
size=4

[cmr1]
type=cmrnorm
inputs=rnorm1
channels=8
size=4

[cmr2]
type=cmrnorm
inputs=rnorm1
channels=8
size=3
blocked=1

[fc]
type=fc
inputs=cmr1,cmr2
outputs=10
initW=0.1,0.1
""" + SOFTMAX_COST

NORMS_PARAMS = """
[conv1]
epsW=0.01
epsB=0.02
momW=0.9
momB=0.9
wc=0.0005

[fc]
epsW=0.01,0.01
epsB=0.02
momW=0.9,0.9
momB=0.9
wc=0.0005,0.0005

[rnorm1]
scale=2
pow=0.75
minDiv=1.5

[cmr1]
scale=2
pow=0.75
minDiv=2

[cmr2]
scale=1
pow=0.6
"""


@pytest.fixture
def norms(tmp_path):
    """A small net of every-layer.cfg's normalizations (rnorm and cmrnorm of size 4, a blocked cmrnorm
    of size 3 beside it): a broken backward in one of them must fail there."""
    return write(tmp_path, "norms.cfg", NORMS), write(tmp_path, "norms-params.cfg", NORMS_PARAMS)


def test_the_norms_net_passes(norms):
    rows, tolerance = check_gradients(*norms, input_size=9)
    assert [r.name for r in rows] == ["conv1", "conv1_neuron", "rnorm1", "cmr1", "cmr2", "fc", "probs", "cost"]
    assert all(r.ok for r in rows), [(r.name, r.error) for r in rows if not r.ok]


def test_an_off_by_one_window_fails(monkeypatch, norms):
    """cmrnorm's backward summing over W(c) instead of its transpose: wrong only for even sizes
    (cmr1 has size=4), and the checker must see it."""
    cls = layer_class("cmrnorm")
    original = cls._window_sum
    monkeypatch.setattr(cls, "_window_sum", lambda self, a, adjoint=False: original(self, a, False))
    rows, _ = check_gradients(*norms, input_size=9)
    failed = [r.name for r in rows if not r.ok]
    assert failed[-1] == "cmr1"          # the topmost failure is the broken layer; those below inherit it
    assert "cmr2" not in failed          # cmr2 shares cmr1's input, but its own backward is checked
    assert all(np.isfinite(r.error) for r in rows)


def test_a_dropped_term_fails(monkeypatch, norms):
    """rnorm's backward without the divisor's term."""
    cls = layer_class("rnorm")
    monkeypatch.setattr(cls, "backward_cpu", lambda self, xs, y, dy, need, ctx:
                        [dy * self._divisor(self.as_image(xs[0])) ** -self.conf.pow])
    rows, _ = check_gradients(*norms, input_size=9)
    failed = [r.name for r in rows if not r.ok]
    assert failed[-1] == "rnorm1" and set(failed) <= {"conv1", "conv1_neuron", "rnorm1"}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_check_grads_passes_the_quick_start_net_whatever_the_seed(seed):
    """relu, max pooling, small weights: every stencil that crosses a kink is skipped, and every step
    moves the cost by far more than its rounding, so a correct net passes for any seed."""
    rows, tolerance = check_gradients(ROOT / "configs/layers.cfg", ROOT / "configs/params.cfg", input_size=8, seed=seed)
    assert all(r.ok for r in rows), [(r.name, r.error) for r in rows if not r.ok]
    assert max(r.error for r in rows) < tolerance / 5
    assert all(c[2] > 0 for r in rows for c in r.checks)       # every tensor had smooth samples


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_check_grads_passes_every_layer_type_with_other_seeds(seed):
    rows, tolerance = check_gradients(*EVERY, input_size=9, seed=seed)
    assert all(r.ok for r in rows), [(r.name, r.error) for r in rows if not r.ok]
