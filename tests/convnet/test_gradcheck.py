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
    # every input of every layer (the images' too) and every parameter, 12 elements each or all it has
    assert {r.name: [(c[0], c[2]) for c in r.checks] for r in rows} == {
        "conv1": [("input data", 12), ("weights/0", 12), ("biases", 8)], "conv1_neuron": [("input conv1", 12)],
        "rnorm1": [("input conv1_neuron", 12)], "cmr1": [("input rnorm1", 12)], "cmr2": [("input rnorm1", 12)],
        "fc": [("input cmr1", 12), ("input cmr2", 12), ("weights/0", 12), ("weights/1", 12), ("biases", 10)],
        "probs": [("input fc", 12)], "cost": []}


def test_a_gradient_wrong_only_at_its_largest_element_fails(monkeypatch, norms):
    """The samples start where the analytic gradient is largest: fc's first weight gradient 10% off at its
    largest element alone (1 of its 2,000) fails its row, and no other."""
    cls = layer_class("fc")
    original = cls.backward_cpu

    def off_at_the_largest(self, xs, y, dy, need, ctx):
        grads = original(self, xs, y, dy, need, ctx)
        g = self.params[0].grad.copy()
        g.flat[np.argmax(np.abs(g))] *= 1.1
        self.params[0].grad = g
        return grads
    monkeypatch.setattr(cls, "backward_cpu", off_at_the_largest)
    rows, _ = check_gradients(*norms, input_size=9)
    assert [r.name for r in rows if not r.ok] == ["fc"]
    fc = {c[0]: c for c in next(r for r in rows if r.name == "fc").checks}
    assert fc["weights/0"][1] > 1e-3 and fc["weights/1"][1] < 1e-6


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


def test_a_broken_layer_fails_on_the_cli_naming_the_failure_nearest_the_cost(monkeypatch, norms):
    """The command's verdict: exit 1, FAIL on the broken layer's row, and a last line that counts the
    failures and sends the reader to the topmost one (those below inherit its error)."""
    cls = layer_class("rnorm")
    monkeypatch.setattr(cls, "backward_cpu", lambda self, xs, y, dy, need, ctx:
                        [dy * self._divisor(self.as_image(xs[0])) ** -self.conf.pow])
    result = CliRunner().invoke(main, ["check-grads", "--layers", str(norms[0]), "--params", str(norms[1]),
                                       "--input-size", "9"])
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line.split()[3] for line in result.stdout.splitlines()[1:]}
    assert list(rows) == ["conv1", "conv1_neuron", "rnorm1", "cmr1", "cmr2", "fc", "probs", "cost"]
    failed = [name for name, status in rows.items() if status == "FAIL"]
    assert failed[-1] == "rnorm1" and set(rows.values()) == {"ok", "FAIL"}
    assert result.stderr.strip() == (
        f"FAILED: {len(failed)} of 8 layers above the tolerance 1e-06. Look first at 'rnorm1', the failing "
        f"layer nearest the cost: the layers below a wrong backward inherit its error.")
    assert "within the tolerance" not in result.stdout


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


# A deep net of the paper's small initial weights (initW=0.01): at conv1 the cost's gradient is far
# below what float64's rounding of the cost lets central differences through the net measure.
CONV = """
[conv{n}]
type=conv
inputs={source}
channels=8
filters=8
filterSize=3
padding=1
initW=0.01
initB=0.1
neuron=relu
"""
DEEP = DATA_LAYERS + CONV.format(n=1, source="data").replace("channels=8", "channels=3") + """
[rnorm1]
type=cmrnorm
inputs=conv1
channels=8
size=4
""" + CONV.format(n=2, source="rnorm1") + CONV.format(n=3, source="conv2") + """
[pool3]
type=pool
pool=max
inputs=conv3
channels=8
sizeX=3
stride=2
""" + CONV.format(n=4, source="pool3") + """
[fc]
type=fc
inputs=conv4
outputs=10
initW=0.01
""" + SOFTMAX_COST

DEEP_PARAMS = "".join(f"[conv{n}]\nepsW=0.01\nepsB=0.02\nmomW=0.9\nmomB=0.9\nwc=0.0005\n\n" for n in range(1, 5)) + """
[fc]
epsW=0.01
epsB=0.02
momW=0.9
momB=0.9
wc=0.0005

[rnorm1]
scale=2
pow=0.75
minDiv=2
"""


@pytest.fixture
def deep(tmp_path):
    return write(tmp_path, "deep.cfg", DEEP), write(tmp_path, "deep-params.cfg", DEEP_PARAMS)


def test_gradients_the_cost_cannot_resolve_are_checked_on_their_layer_alone(deep):
    """Through the net, conv1's differences are the cost's rounding (the paper's net failed at conv1, its
    relu and its normalization for that reason alone); each such tensor is checked as the derivative of
    its layer's output dotted with the gradient its backward was given, and passes to 1e-10."""
    from convnet.graph import load_graph
    from convnet.net import Net
    from convnet.gradcheck import FLOOR, MAX_STEP, random_batch
    graph = load_graph(*deep, [(3, 9, 9), (1,)], data_info={"classes": 10})
    net = Net(graph, backend="numpy", dtype=np.float64, seed=0)
    data = random_batch(graph, 3, np.random.default_rng(1))
    cost = net.forward(data, train=True, step=1, noise=False)["cost"][0]
    net.backward(keep_input_grads=True)
    largest = np.abs(net.input_grads["conv1_neuron", 0]).max()
    assert largest * MAX_STEP < 1e-2 * FLOOR * cost        # a hundred times below what the net resolves
    rows, tolerance = check_gradients(*deep, input_size=9)
    assert all(r.ok for r in rows), [(r.name, r.error) for r in rows if not r.ok]
    alone = {r.name for r in rows if any(c[4] for c in r.checks)}
    assert {"conv1", "conv1_neuron", "rnorm1", "conv2"} <= alone and not alone & {"fc", "probs", "cost"}
    assert max(c[1] for r in rows for c in r.checks if c[4]) < 1e-10
    assert all(c[2] > 0 for r in rows for c in r.checks)


def test_a_broken_layer_checked_alone_fails(monkeypatch, deep):
    cls = layer_class("cmrnorm")
    original = cls._window_sum
    monkeypatch.setattr(cls, "_window_sum", lambda self, a, adjoint=False: original(self, a, False))
    rows, _ = check_gradients(*deep, input_size=9)
    failed = {r.name: r for r in rows if not r.ok}
    assert list(failed) == ["rnorm1"] and failed["rnorm1"].checks[0][4] and failed["rnorm1"].error > 1e-3


def test_the_alone_rows_are_said_on_the_cli(deep):
    result = CliRunner().invoke(main, ["check-grads", "--layers", str(deep[0]), "--params", str(deep[1]),
                                       "--input-size", "9"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("conv1 ") and lines[1].endswith(", alone") and " ok " in lines[1]
    assert lines[-2].startswith("alone: the cost moves too little for float64 to resolve these gradients")
    assert lines[-1] == "all 13 layers within the tolerance 1e-06"


def test_a_tensor_without_a_smooth_sample_fails_its_row_wherever_it_comes():
    from convnet.gradcheck import worst_error
    nan = float("nan")
    assert np.isnan(worst_error([("input data", 2.7e-7, 12, 8, False), ("weights/0", nan, 0, 36, False)]))
    assert np.isnan(worst_error([("weights/0", nan, 0, 36, False), ("input data", 2.7e-7, 12, 8, False)]))
    assert worst_error([("input data", 2.7e-7, 12, 8, False), ("biases", 3e-8, 12, 0, True)]) == 2.7e-7
    assert worst_error([]) == 0.0


CIFAR_NETS = ["18pct", "19pct", "80sec", "conv-local-12pct", "conv-local-13pct"]


@pytest.mark.parametrize("name", CIFAR_NETS)
def test_cuda_convnets_cifar_nets_pass(name):
    """cuda-convnet's own CIFAR nets at their initial weights. Through the net, every stencil of conv1's
    weights (80sec, conv-local) or of conv3's input (18pct, 19pct) changes some relu's sign or some max's
    winner in a later layer: those tensors had no smooth sample, so their rows said NaN and failed.
    They are checked on their layer alone, and pass there to 1e-12."""
    from convnet.gradcheck import KINKED
    layers, params = REFERENCE / f"cifar/layers-{name}.cfg", REFERENCE / f"cifar/layer-params-{name}.cfg"
    rows, tolerance = check_gradients(layers, params)
    assert all(r.ok for r in rows), [(r.name, r.error) for r in rows if not r.ok]
    kinked = [c for r in rows for c in r.checks if c[4] == KINKED]
    assert kinked and all(c[2] == 12 and c[1] < 1e-12 for c in kinked)


def test_a_wrong_weight_gradient_checked_alone_after_kinks_fails(monkeypatch):
    """80sec's conv1 weights are checked on their layer alone (every stencil through the net crosses a
    kink): a weight gradient 1% too large fails there."""
    from convnet.gradcheck import KINKED
    cls = layer_class("conv")
    original = cls.backward_cpu

    def too_large(self, xs, y, dy, need, ctx):
        grads = original(self, xs, y, dy, need, ctx)
        self.params[0].grad = self.params[0].grad * 1.01
        return grads
    monkeypatch.setattr(cls, "backward_cpu", too_large)
    rows, _ = check_gradients(REFERENCE / "cifar/layers-80sec.cfg", REFERENCE / "cifar/layer-params-80sec.cfg")
    conv1 = {c[0]: c for c in next(r for r in rows if r.name == "conv1").checks}
    assert conv1["weights/0"][4] == KINKED and 1e-3 < conv1["weights/0"][1] < 1e-1
    assert {r.name for r in rows if not r.ok} == {"conv1", "conv2", "conv3"}


def test_the_rows_alone_after_kinks_are_said_on_the_cli():
    result = CliRunner().invoke(main, ["check-grads", "--layers", str(REFERENCE / "cifar/layers-80sec.cfg"),
                                       "--params", str(REFERENCE / "cifar/layer-params-80sec.cfg")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("conv1 ") and "weights/0: " in lines[1] and lines[1].endswith(", alone after kinks")
    assert lines[-2].startswith("alone after kinks: every stencil through the net crossed a kink")
    assert lines[-1] == "all 15 layers within the tolerance 1e-06"
