"""convnet inspect: per-layer activation and gradient statistics and per-parameter update ratios,
checked against the same numbers computed here from the net itself."""
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from convnet.inspect import inspect, saturated, table
from convnet.checkpoint import Checkpoint
from convnet.solver import Solver
from tests.training import FAST, TINY, convnet, restored, strict_json, tiny_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory)


def test_the_statistics_are_those_of_the_arrays(run):
    net, _ = restored(run)
    rng = np.random.default_rng(0)
    batch = [rng.standard_normal((3, 32, 32, 16)).astype(np.float32) * 40,
             rng.integers(0, 10, (1, 16)).astype(np.float32)]
    solver = Solver(net)
    layers, params, arrays = inspect(net, solver, [batch], train=False, progress=0.5, step=7)
    by_name = {r["layer"]: r for r in layers}
    y = net.activation("conv1_neuron").astype(np.float64)          # the one batch's, still in the net
    row = by_name["conv1_neuron"]
    assert row["mean"] == pytest.approx(y.mean()) and row["std"] == pytest.approx(y.std(), rel=1e-6)
    assert row["zero_fraction"] == pytest.approx(np.mean(y == 0)) and row["max"] == pytest.approx(y.max())
    assert row["min"] == y.min() == 0 and row["saturated_fraction"] == 0             # a relu's
    g = net.gradient("pool1").astype(np.float64)
    assert by_name["pool1"]["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-6)
    assert by_name["pool1"]["grad_mean_abs"] == pytest.approx(np.abs(g).mean(), rel=1e-6)
    p = net["fc10"].params[0]
    want = solver.rate(p, 0.5, 7) * np.linalg.norm(p.grad / 16) / np.linalg.norm(p.value)
    row = {r["parameter"]: r for r in params}["fc10/weights/0"]
    assert row["update_ratio"] == pytest.approx(want, rel=1e-6)
    assert row["momentum_norm"] == pytest.approx(np.linalg.norm(p.inc), rel=1e-6)
    np.testing.assert_array_equal(arrays["activations"]["conv1_neuron"], net.activation("conv1_neuron"))
    probs = net.activation("probs").astype(np.float64)               # the cost row: -log p(label) per image
    cost = -np.mean(np.log(probs[batch[1][0].astype(int), np.arange(16)]))
    assert by_name["logprob"]["mean"] == pytest.approx(cost, rel=1e-6)
    assert by_name["logprob"]["min"] == by_name["logprob"]["max"] == pytest.approx(cost, rel=1e-6)


def test_over_several_minibatches_each_parameter_row_is_the_mean_of_theirs(run):
    """inspect changes no weight: the rows of two minibatches together are the means of their rows apart."""
    net, _ = restored(run)
    rng = np.random.default_rng(1)
    a, b = ([rng.standard_normal((3, 32, 32, 8)).astype(np.float32) * 40,
             rng.integers(0, 10, (1, 8)).astype(np.float32)] for _ in range(2))
    solver = Solver(net)
    rows = [{r["parameter"]: r for r in inspect(net, solver, batches, progress=0.5, step=7)[1]}
            for batches in ([a], [b], [a, b])]
    for name, both in rows[2].items():
        for key in ("weight_norm", "grad_norm", "momentum_norm", "update_ratio"):
            if both[key] is not None:
                mean = (rows[0][name][key] + rows[1][name][key]) / 2
                assert both[key] == pytest.approx(mean, rel=1e-9), (name, key)
    assert rows[0]["fc10/weights/0"]["grad_norm"] != rows[1]["fc10/weights/0"]["grad_norm"]


def test_the_update_ratio_of_zero_weights_has_no_value_and_of_frozen_weights_is_zero(run):
    net, _ = restored(run)
    bias = net["fc10"].params[1]
    bias.value[...] = 0                                   # as initB=0 biases are before their first step
    frozen = net["conv1"].params[0]
    frozen.eps = frozen.eps.with_base(0.0)                # epsW=0, as conv1 in the 2012 layer-params-145.cfg
    still = net["conv1"].params[1]                         # zero and frozen: nothing moves, a ratio of 0
    still.value[...] = 0
    still.eps = still.eps.with_base(0.0)
    batch = [np.random.default_rng(1).standard_normal((3, 32, 32, 8)).astype(np.float32),
             np.arange(8, dtype=np.float32)[None] % 10]
    layers, params, _ = inspect(net, Solver(net), [batch, batch])
    rows = {r["parameter"]: r for r in params}
    assert rows["fc10/biases"]["grad_norm"] > 0 and rows["fc10/biases"]["update_ratio"] is None
    assert rows["conv1/weights/0"]["grad_norm"] > 0 and rows["conv1/weights/0"]["update_ratio"] == 0.0
    assert rows["conv1/biases"]["weight_norm"] == 0 and rows["conv1/biases"]["update_ratio"] == 0.0
    assert rows["fc10/weights/0"]["update_ratio"] > 0
    line = next(l for l in table(layers, params).splitlines() if l.startswith("fc10/biases"))
    assert line.split()[-1] == "-"


def test_saturation_by_neuron():
    logistic = SimpleNamespace(kind="logistic", p=())
    assert saturated(logistic, np.array([0.001, 0.5, 0.995, 0.2])) == 2
    tanh = SimpleNamespace(kind="tanh", p=(2.0, 1.0))                  # a*tanh(b*x): the bounds are +-a
    assert saturated(tanh, np.array([1.99, -1.985, 0.5, 1.2])) == 2
    brelu = SimpleNamespace(kind="brelu", p=(6.0,))
    assert saturated(brelu, np.array([0.0, 6.0, 3.0])) == 2
    assert saturated(SimpleNamespace(kind="relu", p=()), np.zeros(4)) == 0


def test_the_saturated_fraction_is_of_every_output_seen():
    from convnet.inspect import _Moments
    moments = _Moments()
    moments.add(np.array([0.001, 0.5, 0.995, 0.2]), saturated=2)
    moments.add(np.array([[0.3, 0.999], [0.4, 0.6]]), saturated=1)
    summary = moments.summary()
    assert summary["saturated_fraction"] == 3 / 8 and summary["zero_fraction"] == 0
    assert (summary["min"], summary["max"]) == (0.001, 0.999)


def test_the_minibatches_past_the_end_of_an_epoch_are_the_next_epochs_first(run, tmp_path):
    """inspect --batches 3 from the last minibatch of epoch 2: that one, then epoch 3's first two."""
    from convnet.checkpoint import save
    from convnet.data.loader import TrainStream
    from convnet.inspect import minibatches
    from convnet.opening import open_checkpoint
    checkpoint, data, net, options = open_checkpoint(run, {})
    per_epoch = sum(data.provider.batch_size(n) for n in data.train) // options["mini"]
    stopped = tmp_path / "stopped.h5"
    save(stopped, net, (2, per_epoch - 1, 99), checkpoint.configs, checkpoint.options, checkpoint.state,
         checkpoint.history)
    seen = list(minibatches(data, options, Checkpoint(stopped), 3, train=True))
    expected = []
    for epoch, start, count in ((2, per_epoch - 1, 1), (3, 0, 2)):
        stream = TrainStream(data.provider, data.train, data.augmentation, options["mini"], options["seed"], epoch,
                             start=start, threads=1)
        expected += [batch for _, batch in zip(range(count), (b for _, b in stream))]
        stream.close()
    assert len(seen) == 3
    for ours, theirs in zip(seen, expected):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_the_command(run, tmp_path):
    out = tmp_path / "arrays.h5"
    result = strict_json(convnet("inspect", "--load", run, "--batches", "2", "--json", "--out", out).stdout)
    names = [r["layer"] for r in result["layers"]]
    assert names[0] == "conv1" and "logprob" in names
    assert {r["parameter"] for r in result["parameters"]} >= {"conv1/weights/0", "fc10/biases"}
    assert all(0 <= r["zero_fraction"] <= 1 for r in result["layers"])
    with h5py.File(out) as f:
        assert set(f) == {"activations", "output_grads", "param_grads"}
        assert f["activations/conv1"].shape[-1] == 100          # --mini 100 from the run
        assert "weights" in f["param_grads/conv1"]
    text = convnet("inspect", "--load", run, "--test", "--layers", "conv1,fc10").stdout
    assert text.splitlines()[1].startswith("conv1") and "eps|grad|/|W|" in text
    bad = convnet("inspect", "--load", run, "--layers", "nope", check=False)
    assert bad.returncode == 2 and "no layer named 'nope'" in bad.stderr
    more = convnet("inspect", "--load", run, "--test", "--batches", "30", "--layers", "fc10").stderr
    assert "--batches 30: the test range holds 20 minibatches of 100; these are all inspected" in more
    assert "these are all" not in convnet("inspect", "--load", run, "--test", "--batches", "20", "--layers", "fc10").stderr


def test_watch_records_the_statistics_at_every_test_point_and_show_draws_them(tmp_path):
    folder = tmp_path / "run"
    convnet("train", *TINY, *FAST, "--epochs", "1", "--test-freq", "5", "--watch", "--save-path", folder)
    watch = Checkpoint(folder / "latest.h5").watch
    assert [w["step"] for w in watch] == [5, 10, 15, 20]
    rows = {r["layer"]: r for r in watch[-1]["layers"]}
    assert 0 < rows["conv1_neuron"]["zero_fraction"] < 1 and rows["fc10"]["grad_norm"] > 0
    assert {p["parameter"] for p in watch[-1]["parameters"]} >= {"conv1/weights/0", "fc10/weights/0"}
    convnet("train", "--load", folder / "latest.h5", "--epochs", "2")          # --watch stays on when resuming
    assert len(Checkpoint(folder / "latest.h5").watch) == 8
    out = convnet("show", "--load", folder / "latest.h5", "--grads", "--out", tmp_path / "g.png").stdout
    assert "wrote" in out and (tmp_path / "g.png").stat().st_size > 1000
    plain = tmp_path / "plain"
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", plain)
    run = convnet("show", "--load", plain / "latest.h5", "--grads", "--out", tmp_path / "h.png", check=False)
    assert run.returncode == 1 and "train (or resume) with --watch" in run.stderr



def test_a_checkpoint_stopped_mid_epoch_is_inspected_on_the_images_training_would_see_next(run, tmp_path):
    """At another --mini, the minibatch that follows the images the checkpoint had trained (where a
    resumed run goes on), not the minibatch of the same index in the new epoch's plan."""
    from convnet.checkpoint import save
    from convnet.data.loader import TrainStream
    from convnet.opening import open_checkpoint
    checkpoint, data, net, options = open_checkpoint(run, {})
    stopped = tmp_path / "stopped.h5"           # the run as if stopped after 7 minibatches of 100 of epoch 2
    save(stopped, net, (2, 7, 27), checkpoint.configs, checkpoint.options, checkpoint.state, checkpoint.history)
    out = tmp_path / "arrays.h5"
    result = convnet("inspect", "--load", stopped, "--mini", "50", "--layers", "conv1", "--out", out)
    assert "it goes on with minibatch 15 of 40" in result.stderr
    stream = TrainStream(data.provider, data.train, data.augmentation, 50, options["seed"], 2, start=14, threads=1)
    _, batch = next(iter(stream))
    stream.close()
    net.forward(batch, train=True)
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["activations/conv1"][()], net.activation("conv1"))


def test_the_update_ratio_uses_the_rate_at_the_checkpoints_point_of_its_run(tmp_path):
    """fc10's epsW=exp[0.002;100] (0.002 * 100^-progress) at a checkpoint after epoch 1 of 4 (progress 1/4),
    whose rates were halved (a plateau's drop, --lr-scale): the ratio is that rate times |grad| / |W|
    of the one minibatch looked at."""
    import json
    from tests.training import tiny_variant
    configs = tiny_variant(tmp_path, params=[("[fc10]\nepsW=0.001\n", "[fc10]\nepsW=exp[0.002;100]\n")])
    convnet("train", *configs, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    path = tmp_path / "r/latest.h5"
    with h5py.File(path, "r+") as f:                  # as if the run were to go on for 4 epochs, at half its rates
        assert int(f.attrs["epoch"]) == 2 and int(f.attrs["batch"]) == 0
        f.attrs["options"] = json.dumps({**json.loads(f.attrs["options"]), "epochs": 4})
        f.attrs["state"] = json.dumps({**json.loads(f.attrs["state"]), "lr_scale": 0.5})
        del f.attrs["digest"]
    rows = {r["parameter"]: r for r in strict_json(convnet("inspect", "--load", path, "--json").stdout)["parameters"]}
    row = rows["fc10/weights/0"]
    rate = 0.5 * 0.002 * 100 ** -0.25
    assert row["update_ratio"] == pytest.approx(rate * row["grad_norm"] / row["weight_norm"], rel=1e-6)


def test_the_rate_of_a_checkpoint_mid_epoch_is_that_of_its_next_update(tmp_path):
    """A checkpoint that stopped mid-epoch (--save-freq, a Ctrl-C) goes on with a minibatch of its third
    data batch of epoch 2, of 4 epochs of 3 batches: the trainer's progress there is (3 + 2) / 12, and
    so is inspect's, not the epoch's start (3 / 12)."""
    import json
    from convnet.data import get_provider
    from convnet.data.loader import epoch_plan
    from tests.training import tiny_variant
    configs = tiny_variant(tmp_path, params=[("[fc10]\nepsW=0.001\n", "[fc10]\nepsW=exp[0.002;100]\n")])
    convnet("train", *configs, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    plan = epoch_plan(get_provider("default", None), [1, 2, 3], 100, 7, 2)
    k = next(k for k, (_, _, position) in enumerate(plan) if position == 2)
    path = tmp_path / "r/latest.h5"
    with h5py.File(path, "r+") as f:
        f.attrs["options"] = json.dumps({**json.loads(f.attrs["options"]), "epochs": 4, "train_range": "1-3"})
        f.attrs["epoch"], f.attrs["batch"] = 2, k
        del f.attrs["digest"]
    result = convnet("inspect", "--load", path, "--json")
    assert "convnet: note" not in result.stderr                # the plan is the checkpoint's: it goes on at k
    row = {r["parameter"]: r for r in strict_json(result.stdout)["parameters"]}["fc10/weights/0"]
    assert row["update_ratio"] == pytest.approx(0.002 * 100 ** (-5 / 12) * row["grad_norm"] / row["weight_norm"],
                                                rel=1e-6)


def test_a_minibatch_of_one_image_is_taken(run, tmp_path):
    """--mini 1, the smallest --mini of every command that reads data: one image's activations."""
    convnet("inspect", "--load", run, "--mini", "1", "--out", tmp_path / "one.h5")
    with h5py.File(tmp_path / "one.h5") as f:
        assert f["activations/conv1"].shape == (8, 17, 17, 1)
