"""convnet train, test and features through the console script: behaviour and every failure mode."""
import itertools
import json
import os

import h5py
import numpy as np
import pytest

from convnet.checkpoint import Checkpoint
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet, evaluate, parse_test_lines


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    out = convnet("train", *TINY, *FAST, "--epochs", "2", "--test-freq", "10", "--save-path", path)
    return path, out.stdout


def test_a_run_prints_test_lines_and_keeps_latest_and_best(run):
    path, stdout = run
    lines = parse_test_lines(stdout)
    assert [l[0] for l in lines] == ["1.10", "1.20", "2.10", "2.20"]
    assert sorted(os.listdir(path)) == [".lock", "best.h5", "latest.h5"]      # .lock: the run's hold on the folder
    history = Checkpoint(path / "latest.h5").history
    assert len(history) == 4 and [(h["step"], h["epoch"]) for h in history] == [(10, 0.5), (20, 1.0), (30, 1.5),
                                                                                 (40, 2.0)]
    best = min(range(4), key=lambda i: (history[i]["test_top1"], i))
    assert Checkpoint(path / "best.h5").step == history[best]["step"]
    assert lines[-1][3] < lines[0][3] and lines[-1][4] < 88     # it learns a little in 40 minibatches


def test_training_steps_run_in_training_mode_each_with_its_own_step_and_tests_do_not(tmp_path, monkeypatch):
    """The trainer's forward passes: each training minibatch in training mode (dropout, the tiny net's
    hs, draws its masks) with the step that numbers its noise, 0, 1, 2, ...; a test point's without."""
    from click.testing import CliRunner
    from convnet.cli import main
    from convnet.net import Net
    passes, forward = [], Net.forward

    def recorded(self, data, train=False, step=0, **given):
        passes.append((train, step) if train else "test")
        return forward(self, data, train=train, step=step, **given)
    monkeypatch.setattr(Net, "forward", recorded)
    result = CliRunner().invoke(main, ["train", *TINY, *FAST, "--epochs", "2", "--test-freq", "15",
                                       "--save-path", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    training = [p for p in passes if p != "test"]
    assert training == [(True, k) for k in range(40)]
    tests = [i for i, p in enumerate(passes) if p == "test"]       # 20 minibatches of 100 at each test point
    assert len(tests) == 3 * 20 and tests[0] == 15 and tests[20] == 30 + 20 and tests[40] == 40 + 40


def test_a_test_freq_that_does_not_divide_the_run_still_tests_its_end(tmp_path):
    """Every 15 steps of 40 (two epochs of 20): at 15 and 30, and at the last step, where the run ends."""
    convnet("train", *TINY, *FAST, "--epochs", "2", "--test-freq", "15", "--save-path", tmp_path / "r")
    history = Checkpoint(tmp_path / "r/latest.h5").history
    assert [(h["step"], h["epoch"]) for h in history] == [(15, 0.75), (30, 1.5), (40, 2.0)]


def test_convnet_test_agrees_with_the_last_test_line(run):
    path, stdout = run
    last = parse_test_lines(stdout)[-1]
    result = evaluate(path / "latest.h5")
    assert result["cases"] == 2000
    assert round(result["cost"], 4) == last[3]
    assert round(100 * result["top1_error"], 2) == last[4] and round(100 * result["topk_error"], 2) == last[5]
    h = Checkpoint(path / "latest.h5").history[-1]
    assert (h["test_cost"], h["test_top1"], h["test_topk"]) == (result["cost"], result["top1_error"], result["topk_error"])


def test_multiview_test(run):
    path, _ = run
    out = convnet("test", "--load", path / "latest.h5", "--multiview")
    assert "multiview (10 views)" in out.stdout and "2000 images" in out.stdout
    # the run trained on whole images: no crops to take, only the reflection differs
    assert "convnet: note: --multiview on whole images (the net sees them uncropped): its 10 views are the same " \
           "image and its reflection, again and again" in out.stderr


def test_features(run, tmp_path):
    path, _ = run
    out = convnet("features", "--load", path / "latest.h5", "--layer", "pool1", "--out", tmp_path / "f.h5")
    assert "2000 x 512" in out.stdout
    with h5py.File(tmp_path / "f.h5") as f:
        assert f["features"].shape == (2000, 8 * 8 * 8) and f["labels"].shape == (2000,)
        from convnet.data import get_provider
        np.testing.assert_array_equal(f["labels"][()], get_provider("default").read_batch(6)[1])
    # drop1's test-mode outputs (hs: times keep, no units dropped), from the images as the net reads them
    convnet("features", "--load", path / "latest.h5", "--layer", "drop1", "--out", tmp_path / "d.h5")
    import convnet as package
    net, data = package.load(path / "latest.h5")
    images, labels = data.provider.read_batch(6)
    first = images[..., :100].astype(np.float32) - data.provider.mean_image(data.train)[..., None]
    net.forward([first, labels[None, :100].astype(np.float32)], train=False)
    with h5py.File(tmp_path / "d.h5") as f:
        np.testing.assert_allclose(f["features"][:100], net.activation("drop1").reshape(-1, 100).T, rtol=1e-5,
                                   atol=1e-6)
    bad = convnet("features", "--load", path / "latest.h5", "--layer", "pool9", "--out", tmp_path / "g.h5", check=False)
    assert bad.returncode == 2 and "--layer: no layer named 'pool9'" in bad.stderr
    cost = convnet("features", "--load", path / "latest.h5", "--layer", "logprob", "--out", tmp_path / "g.h5", check=False)
    assert cost.returncode == 2 and "--layer logprob: a cost layer gives its minibatch's summed cost" in cost.stderr
    assert "the features of probs are per image" in cost.stderr and not (tmp_path / "g.h5").exists()


def test_features_out_dir_writes_a_file_per_test_batch_and_only_those_not_there(run, tmp_path):
    path, _ = run
    args = ["features", "--load", path / "latest.h5", "--layer", "pool1", "--test-range", "5-6"]
    convnet(*args, "--out", tmp_path / "f.h5")
    out = convnet(*args, "--out-dir", tmp_path / "d").stdout
    assert "2 test batches: 0 already written there, 2 to write" in out and "(2 of 2)" in out
    with h5py.File(tmp_path / "f.h5") as f, h5py.File(tmp_path / "d/features_batch_5.h5") as five, \
            h5py.File(tmp_path / "d/features_batch_6.h5") as six:
        np.testing.assert_array_equal(np.concatenate([five["features"][()], six["features"][()]]), f["features"][()])
        np.testing.assert_array_equal(np.concatenate([five["labels"][()], six["labels"][()]]), f["labels"][()])
        assert six.attrs["batch"] == 6 and six.attrs["layer"] == "pool1" and list(six.attrs["shape"]) == [8, 8, 8]
    kept = (tmp_path / "d/features_batch_6.h5").stat().st_ino
    (tmp_path / "d/features_batch_5.h5").unlink()          # as a kill after batch 6 would have left it
    again = convnet(*args, "--out-dir", tmp_path / "d").stdout
    assert "1 already written there, 1 to write" in again and (tmp_path / "d/features_batch_5.h5").exists()
    assert (tmp_path / "d/features_batch_6.h5").stat().st_ino == kept
    other = convnet(*args[:4], "fc10", *args[5:], "--out-dir", tmp_path / "d", check=False)
    one_line(other, "features_batch_5.h5 holds another layer's outputs (not fc10's); give another --out-dir")
    (tmp_path / "e").mkdir()
    (tmp_path / "e/features_batch_6.h5").write_text("notes of mine")
    one_line(convnet(*args, "--out-dir", tmp_path / "e", check=False), "features_batch_6.h5 holds no features of ours")
    assert (tmp_path / "e/features_batch_6.h5").read_text() == "notes of mine"
    one_line(convnet(*args, check=False), "give --out FILE.h5 (one file) or --out-dir FOLDER")


def one_line(run, fragment):
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr, run.stderr
    assert fragment in run.stderr, run.stderr


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint(run, tmp_path, damage):
    path, _ = run
    broken = tmp_path / "broken.h5"
    data = (path / "latest.h5").read_bytes()
    broken.write_bytes(data[: len(data) // 3] if damage == "truncate" else os.urandom(4096))
    before = {p: (path / p).read_bytes() for p in os.listdir(path)}
    said = "unreadable or truncated checkpoint" if damage == "truncate" else "it does not begin as HDF5 files do"
    one_line(convnet("train", "--load", broken, check=False), said)
    one_line(convnet("test", "--load", broken, check=False), said)
    assert {p: (path / p).read_bytes() for p in os.listdir(path)} == before


def test_missing_data_folder(tmp_path):
    one_line(convnet("train", *TINY, "--data-provider", "cifar", "--data-path", tmp_path / "nowhere", check=False),
             "nowhere: no such folder")


def test_a_net_with_more_outputs_than_the_data_has_classes_is_noted_at_its_start_only(tmp_path):
    layers = tmp_path / "twelve.cfg"
    layers.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("outputs=10", "outputs=12"))
    params = ROOT / "tests/configs/tiny-params.cfg"
    first = convnet("train", "--layers", layers, "--params", params, *FAST, "--epochs", "1", "--save-path",
                    tmp_path / "r")
    assert first.stderr == (f"convnet: note: [probs] gives 12 probabilities and the data has 10 classes: classes "
                            f"11-12 are never a label, yet the top-5 error and predict can still name them (for a "
                            f"net of the data's size, give [fc10] outputs=10 in {layers})\n")
    again = convnet("train", "--load", tmp_path / "r/latest.h5", "--epochs", "2")
    assert "never a label" not in again.stderr and parse_test_lines(again.stdout)
    assert "never a label" not in convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "ten").stderr


def test_wrong_sized_data_for_the_config(tmp_path):
    run = convnet("train", "--layers", ROOT / "configs/alexnet.cfg", "--params", ROOT / "configs/alexnet-params.cfg",
                  "--save-path", tmp_path, check=False)
    one_line(run, "the net does not fit the data's 3x32x32 images")
    assert "--image-size 256 --crop 224" in run.stderr
    assert os.listdir(tmp_path) == []


def test_divergence_stops_and_keeps_the_last_good_checkpoint(run, tmp_path):
    path, _ = run
    resumed = tmp_path / "resumed"
    convnet("train", "--load", path / "latest.h5", "--epochs", "3", "--save-path", resumed, "--test-freq", "5")
    good = (resumed / "latest.h5").read_bytes()
    wild = tmp_path / "wild.cfg"
    wild.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("epsW=0.001", "epsW=1e6"))
    run = convnet("train", "--load", resumed / "latest.h5", "--params", wild, "--epochs", "4",
                  "--test-freq", "1000", check=False)
    one_line(run, "training stopped; the last good checkpoint is")
    assert "the cost became" in run.stderr
    assert (resumed / "latest.h5").read_bytes() == good


def test_a_run_resumed_with_another_mini_still_tests_at_the_end_of_each_epoch(tmp_path):
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")          # 20 steps of 100
    out = convnet("train", "--load", tmp_path / "r/latest.h5", "--epochs", "3", "--mini", "300").stdout  # 7 of 300
    assert [row[0] for row in parse_test_lines(out)] == ["2.7", "3.7"]
    assert [h["epoch"] for h in Checkpoint(tmp_path / "r/latest.h5").history] == [1.0, 2.0, 3.0]


def test_a_run_stopped_mid_epoch_resumed_with_another_mini_or_range_goes_on_after_the_images_it_trained(tmp_path):
    """A position is an index into the epoch's minibatches; another --mini or --train-range makes other
    ones (the run went on forever, doing nothing, when the index was past the new epoch's end)."""
    import subprocess
    import sys
    import convnet as package
    from convnet.checkpoint import save
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")          # 20 steps of 100
    c = Checkpoint(tmp_path / "r/latest.h5")
    net, _ = package.load(tmp_path / "r/latest.h5")
    for name in ("mini", "range", "same"):            # stopped after minibatch 10 of epoch 2: 1000 images
        (tmp_path / name).mkdir()
        save(str(tmp_path / name / "latest.h5"), net, (2, 10, 30), c.configs, c.options, c.state, c.history)
    (tmp_path / "remade").mkdir()                    # after minibatch 25 of 20: its data made again since
    save(str(tmp_path / "remade/latest.h5"), net, (2, 25, 45), c.configs, c.options, c.state, c.history)

    def resume(name, *args):
        run = subprocess.run([sys.executable, "-m", "convnet", "train", "--load", str(tmp_path / name / "latest.h5"),
                              "--epochs", "2", *args], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        return run, Checkpoint(tmp_path / name / "latest.h5")
    run, done = resume("mini", "--mini", "200")
    assert "stopped after minibatch 10 of epoch 2; with --mini changed the epoch has other minibatches (it had " \
           "trained 1000 of the epoch's images): it goes on with minibatch 6 of 10" in run.stderr
    assert (done.epoch, done.batch, done.step) == (3, 0, 35) and parse_test_lines(run.stdout)[-1][0] == "2.10"
    run, done = resume("range", "--train-range", "2")
    assert "with --train-range changed the epoch has other minibatches (it had trained 1000 of the epoch's " \
           "images): it goes on with minibatch 11 of 20" in run.stderr
    assert (done.epoch, done.batch, done.step) == (3, 0, 40)
    run, done = resume("same")
    assert "other minibatches" not in run.stderr and (done.epoch, done.batch, done.step) == (3, 0, 40)
    run, done = resume("remade")
    assert "stopped after minibatch 25 of epoch 2, but the epoch has 20 now (its data was made again): it goes " \
           "on with the last" in run.stderr and (done.epoch, done.batch, done.step) == (3, 0, 46)


def test_plateau_divides_the_rates(tmp_path):
    frozen = tmp_path / "frozen.cfg"      # nothing learns, so the test error never improves
    frozen.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text()
                      .replace("epsW=0.001", "epsW=0").replace("epsB=0.002", "epsB=0"))
    out = convnet("train", "--layers", ROOT / "tests/configs/tiny.cfg", "--params", frozen, *FAST, "--epochs", "1",
                  "--test-freq", "4", "--lr-plateau", "2", "--lr-drops", "1", "--save-path", tmp_path / "r")
    assert out.stdout.count("every learning rate divided by 10") == 1
    assert "now x0.1, drop 1 of 1" in out.stdout
    assert Checkpoint(tmp_path / "r/latest.h5").history[-1]["lr_scale"] == pytest.approx(0.1)
    # new rates by hand on resume go on under the drops: said, as they would be lower than written
    resumed = convnet("train", "--load", tmp_path / "r/latest.h5", "--params", ROOT / "tests/configs/tiny-params.cfg",
                      "--epochs", "2")
    assert f"convnet: note: the rates of {ROOT / 'tests/configs/tiny-params.cfg'} go on multiplied by 0.1, as " \
           f"{tmp_path / 'r/latest.h5'}'s were after its --lr-plateau drops (1 of them; --lr-scale 1 takes them as " \
           f"written)" in resumed.stderr
    assert "go on multiplied" not in convnet("train", "--load", tmp_path / "r/latest.h5", "--epochs", "3").stderr
    # --lr-scale 1: the rates as written, and from then on (it is not kept as an option of the run)
    taken = convnet("train", "--load", tmp_path / "r/latest.h5", "--params", ROOT / "tests/configs/tiny-params.cfg",
                    "--lr-scale", "1", "--epochs", "4", "--test-freq", "20")
    assert "go on multiplied" not in taken.stderr
    convnet("train", "--load", tmp_path / "r/latest.h5", "--epochs", "5")
    scales = [h["lr_scale"] for h in Checkpoint(tmp_path / "r/latest.h5").history]
    assert scales[-3:] == pytest.approx([0.1, 1.0, 1.0])      # the end of epoch 3, under the drop; epochs 4 and 5
    refused = convnet("train", *TINY, "--lr-scale", "1", "--save-path", tmp_path / "new", check=False)
    assert refused.returncode == 2 and "--lr-scale goes with --load" in refused.stderr


def test_after_a_drop_the_plateau_waits_k_test_points_again(tmp_path):
    """The count of test points without improvement starts again at each drop: a run stuck at one error
    drops its rates after test points 3, 5 and 7 with K=2 (not after 3, 4 and 5), and then no more."""
    frozen = tmp_path / "frozen.cfg"      # nothing learns: every test point after the first is no better
    frozen.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text()
                      .replace("epsW=0.001", "epsW=0").replace("epsB=0.002", "epsB=0"))
    out = convnet("train", "--layers", ROOT / "tests/configs/tiny.cfg", "--params", frozen, *FAST, "--epochs", "1",
                  "--test-freq", "2", "--lr-plateau", "2", "--lr-drops", "3", "--save-path", tmp_path / "r")
    history = Checkpoint(tmp_path / "r/latest.h5").history
    assert len(history) == 10 and len({h["test_top1"] for h in history}) == 1
    # a point's lr_scale is the one it trained under: the drop after point i shows from point i + 1
    assert [h["lr_scale"] for h in history] == pytest.approx([1, 1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.001])
    assert out.stdout.count("every learning rate divided by 10") == 3 and "drop 3 of 3" in out.stdout


def _tiny_with(tmp_path, cost, frozen=False, topk=5):
    """The tiny net, without dropout, with another cost for its cost.logreg: cost.crossent (on the same
    softmax), cost.crossent2 (on logistic outputs: a net with no error to count), or cost.msm (on the
    energies, with setSize topk)."""
    layers = (ROOT / "tests/configs/tiny.cfg").read_text().replace("type=cost.logreg", f"type={cost}")
    layers = layers.replace("[drop1]\ntype=hs\ninputs=pool1\nkeep=0.8\n\n", "").replace("inputs=drop1", "inputs=pool1")
    if cost == "cost.crossent2":
        layers = layers.replace("[probs]\ntype=softmax\n", "[probs]\ntype=neuron\nneuron=logistic\n")
    if cost == "cost.msm":
        layers = layers.replace("[probs]\ntype=softmax\ninputs=fc10\n\n", "").replace("labels,probs", "labels,fc10")
    params = (ROOT / "tests/configs/tiny-params.cfg").read_text()
    params = params.replace("topk=5\n", "" if cost in ("cost.crossent", "cost.crossent2") else
                            f"setSize={topk}\n" if cost == "cost.msm" else f"topk={topk}\n")
    if cost == "cost.crossent2":       # its 10 terms per image, all of one sign at first, need a smaller step
        params = params.replace("coeff=1\n", "coeff=0.03\n")
    if frozen:
        params = params.replace("epsW=0.001", "epsW=0").replace("epsB=0.002", "epsB=0")
    name = f"{cost.replace('.', '-')}-{topk}"
    (tmp_path / f"{name}.cfg").write_text(layers)
    (tmp_path / f"{name}-params.cfg").write_text(params)
    return ["--layers", tmp_path / f"{name}.cfg", "--params", tmp_path / f"{name}-params.cfg"]


def test_a_net_without_an_error_to_count_reports_its_training_cost(tmp_path):
    """Frozen, and trained on its test batch without dropout: the training cost of its one epoch is the
    test cost of the same images (it was 0 when only a cost.logreg's cost was summed)."""
    convnet("train", *_tiny_with(tmp_path, "cost.crossent2", frozen=True), *FAST, "--test-range", "1", "--epochs", "1",
            "--save-path", tmp_path / "r")
    (point,) = Checkpoint(tmp_path / "r/latest.h5").history
    assert point["train_cost"] > 1 and point["train_cost"] == pytest.approx(point["test_cost"], rel=1e-6)
    assert np.isnan(point["train_error"]) and np.isnan(point["test_top1"])


def test_a_crossent_net_counts_the_errors_of_its_logreg_twin(tmp_path):
    """cost.crossent on class numbers is cost.logreg's cost and top-1 error (CrossEntCostLayer::fpropActs
    in the 2012 src/layer.cu): frozen, the two nets' lines agree, but for the top-k error it does not
    count (they were NaN, and best.h5 went by the test cost)."""
    lines = {}
    for cost in ("cost.logreg", "cost.crossent"):
        out = convnet("train", *_tiny_with(tmp_path, cost, frozen=True), *FAST, "--test-range", "1", "--epochs", "1",
                      "--test-freq", "10", "--save-path", tmp_path / cost)
        lines[cost] = parse_test_lines(out.stdout)
    assert len(lines["cost.logreg"]) == 2
    for logreg, crossent in zip(lines["cost.logreg"], lines["cost.crossent"]):
        assert crossent[:5] == logreg[:5] and 0 < crossent[2] < 100 and 0 < crossent[4] < 100
        assert np.isnan(crossent[5]) and not np.isnan(logreg[5])
    point = Checkpoint(tmp_path / "cost.crossent/latest.h5").history[-1]
    assert point["test_top1"] == evaluate(tmp_path / "cost.crossent/latest.h5")["top1_error"]


def test_a_msm_net_of_sets_of_one_counts_the_errors_of_its_logreg_twin(tmp_path):
    """cost.msm with setSize=1 is the softmax's logistic regression: frozen, its lines agree with those of
    the cost.logreg net with topk=1 (they were NaN, as in a net with no error to count)."""
    lines = {}
    for cost in ("cost.logreg", "cost.msm"):
        out = convnet("train", *_tiny_with(tmp_path, cost, frozen=True, topk=1), *FAST, "--test-range", "1",
                      "--epochs", "1", "--test-freq", "10", "--save-path", tmp_path / cost)
        lines[cost] = parse_test_lines(out.stdout)
    assert len(lines["cost.msm"]) == 2 and "top-1 err" in out.stdout
    for logreg, msm in zip(lines["cost.logreg"], lines["cost.msm"]):
        assert msm == logreg and 0 < msm[4] < 100


def _sets_of(k, classes=10):
    return np.array(list(itertools.combinations(range(classes), k)))


def _msm_reference(energies, labels, k):
    """(-mean log P(label in S), P(class in S) (images, classes)) over every set S of k classes, with
    P(S) proportional to exp(the sum of its energies), by enumeration."""
    sets = _sets_of(k)
    e = energies.astype(np.float64)
    weight = np.exp(e[:, sets].sum(axis=2) - e.max(axis=1, keepdims=True) * k)     # (images, sets)
    weight /= weight.sum(axis=1, keepdims=True)
    holds = np.stack([(sets == c).any(axis=1) for c in range(e.shape[1])], axis=1)   # (sets, classes)
    marginals = weight @ holds
    return -np.log(marginals[np.arange(labels.size), labels]).mean(), marginals


def _top_errors(scores, labels, k):
    """The fraction of images whose label is not among their k highest scores (no ties here)."""
    wrong = 0
    for row, label in zip(scores, labels):
        assert len(set(row.tolist())) == row.size
        wrong += label not in np.argsort(-row)[:k]
    return wrong / labels.size


def _energies(checkpoint, tmp_path):
    convnet("features", "--load", checkpoint, "--layer", "fc10", "--out", tmp_path / "e.h5")
    with h5py.File(tmp_path / "e.h5") as f:
        return f["features"][()], f["labels"][()].astype(np.int64)


def test_a_msm_net_counts_its_top_set_size_errors_by_its_energies(tmp_path):
    """setSize=3: the test cost is -log P(label in the set) and the errors are the top-1 and top-3 of the
    energies (MultiSoftmaxCostLayer::computeCost, kMultiSoftmaxCost_engs in the 2012 code), against
    every one of the 120 sets."""
    out = convnet("train", *_tiny_with(tmp_path, "cost.msm", topk=3), *FAST, "--epochs", "1",
                  "--save-path", tmp_path / "r").stdout
    assert "top-3 err" in out
    energies, labels = _energies(tmp_path / "r/latest.h5", tmp_path)
    cost, _ = _msm_reference(energies, labels, 3)
    result = evaluate(tmp_path / "r/latest.h5")
    assert result["topk"] == 3 and result["cases"] == 2000
    assert result["cost"] == pytest.approx(cost, rel=1e-6)
    assert result["top1_error"] == _top_errors(energies, labels, 1)
    assert 0 < result["topk_error"] == _top_errors(energies, labels, 3) < result["top1_error"] < 1
    last = parse_test_lines(out)[-1]
    assert last[3:] == (round(cost, 4), round(100 * result["top1_error"], 2), round(100 * result["topk_error"], 2))
    assert Checkpoint(tmp_path / "r/best.h5").state["best_of"] == "test_top1"


def test_msm_nets_average_their_set_probabilities_and_their_energies(tmp_path):
    """Two msm nets (seeds 7 and 8) tested together: the cost of the mean P(class in the set), the errors
    of the mean energies; /probs holds the mean probabilities, which sum to setSize. A logreg net is not
    averaged with them."""
    net = _tiny_with(tmp_path, "cost.msm", topk=3)
    for seed in ("7", "8"):
        convnet("train", *net, *FAST, "--seed", seed, "--epochs", "1", "--save-path", tmp_path / seed)
    (tmp_path / "7/e").mkdir(), (tmp_path / "8/e").mkdir()
    (e7, labels), (e8, _) = _energies(tmp_path / "7/latest.h5", tmp_path / "7/e"), _energies(tmp_path / "8/latest.h5", tmp_path / "8/e")
    p = (_msm_reference(e7, labels, 3)[1] + _msm_reference(e8, labels, 3)[1]) / 2
    result = evaluate(f"{tmp_path / '7/latest.h5'},{tmp_path / '8/latest.h5'}", "--predictions", tmp_path / "p.h5")
    assert result["cost"] == pytest.approx(-np.log(p[np.arange(labels.size), labels]).mean(), rel=1e-6)
    mean = (e7.astype(np.float64) + e8) / 2
    assert (result["top1_error"], result["topk_error"]) == (_top_errors(mean, labels, 1), _top_errors(mean, labels, 3))
    with h5py.File(tmp_path / "p.h5") as f:
        np.testing.assert_allclose(f["probs"][()], p, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(f["probs"][()].sum(axis=1), 3, rtol=1e-5)
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "logreg")
    mixed = convnet("test", "--load", f"{tmp_path / '7/latest.h5'},{tmp_path / 'logreg/latest.h5'}", check=False)
    assert mixed.returncode != 0 and mixed.stderr.strip() == (
        "convnet: error: model averaging averages like with like: these nets give cost.msm with setSize=3 and "
        "softmax probabilities")


def test_a_crossent_net_keeps_its_lowest_test_error_as_best(tmp_path):
    out = convnet("train", *_tiny_with(tmp_path, "cost.crossent"), *FAST, "--epochs", "2", "--test-freq", "5",
                  "--save-path", tmp_path / "r").stdout
    history = Checkpoint(tmp_path / "r/latest.h5").history
    errors = [h["test_top1"] for h in history]
    best = [i for i, e in enumerate(errors) if e < min(errors[:i], default=np.inf)]
    assert len(best) >= 2
    assert [i for i, line in enumerate(l for l in out.splitlines() if " n/a " in l) if line.endswith("best")] == best
    assert Checkpoint(tmp_path / "r/best.h5").step == history[best[-1]]["step"]


def test_a_checkpoint_that_kept_another_measure_for_best_starts_its_best_again(tmp_path):
    """A checkpoint of a version that kept a cost.crossent net's best test cost: its test error is not
    compared with that cost; the next test point is the best so far."""
    net = _tiny_with(tmp_path, "cost.crossent")
    convnet("train", *net, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    with h5py.File(tmp_path / "r/latest.h5", "r+") as f:
        state = json.loads(f.attrs["state"])
        del state["best_of"]
        state["best"] = 1e-9            # a test cost no error beats
        f.attrs["state"] = json.dumps(state)
        del f.attrs["digest"]           # as such a version wrote it: before the checksum, too
    resumed = convnet("train", "--load", tmp_path / "r/latest.h5", "--epochs", "2")
    assert "convnet: note: best.h5 now goes by the test error, not the test cost: the next test point is the best " \
           "so far" in resumed.stderr
    assert parse_test_lines(resumed.stdout) and resumed.stdout.rstrip().endswith("best")
    assert Checkpoint(tmp_path / "r/best.h5").step == Checkpoint(tmp_path / "r/latest.h5").step
    assert Checkpoint(tmp_path / "r/latest.h5").state["best_of"] == "test_top1"


def test_a_net_without_an_error_to_count_keeps_its_lowest_test_cost_as_best(tmp_path):
    """Its best.h5 and --lr-plateau go by the test cost: its top-1 error is NaN, which never compared as
    lower (best.h5 stayed the first test point, and every K test points dropped the rates)."""
    out = convnet("train", *_tiny_with(tmp_path, "cost.crossent2"), *FAST, "--epochs", "3", "--test-freq", "5",
                  "--lr-plateau", "2", "--save-path", tmp_path / "r").stdout
    history = Checkpoint(tmp_path / "r/latest.h5").history
    costs = [h["test_cost"] for h in history]
    best = [i for i, c in enumerate(costs) if c < min(costs[:i], default=np.inf)]
    assert len(best) >= 2 and len(best) < len(costs)          # it improves, and not at every point
    marked = [i for i, line in enumerate(l for l in out.splitlines() if " n/a " in l) if line.endswith("best")]
    assert marked == best
    assert Checkpoint(tmp_path / "r/best.h5").step == history[best[-1]]["step"]
    since, drops = 0, []                        # the plateau rule, replayed on the test costs
    for i, c in enumerate(costs):
        since = 0 if i in best else since + 1
        if since >= 2 and len(drops) < 3:
            drops.append(i)
            since = 0
    assert out.count("test cost has not improved for 2 test points") == len(drops) >= 1
    assert [h["lr_scale"] for h in history] == pytest.approx([0.1 ** sum(d < i for d in drops) for i in range(len(costs))])


def test_cost_layers_beside_the_logreg_are_named_as_not_in_the_line(tmp_path):
    (tmp_path / "two.cfg").write_text((ROOT / "tests/configs/tiny.cfg").read_text()
                                      + "\n[energy]\ntype=cost.sum2\ninputs=fc10\n")
    (tmp_path / "two-params.cfg").write_text((ROOT / "tests/configs/tiny-params.cfg").read_text()
                                             + "\n[energy]\ncoeff=0.0001\n")
    out = convnet("train", "--layers", tmp_path / "two.cfg", "--params", tmp_path / "two-params.cfg", *FAST,
                  "--epochs", "1", "--save-path", tmp_path / "r")
    assert out.stderr.count("convnet: note:") == 1
    assert "note: the line's cost and errors are [logprob]'s; [energy] trains the net too, by its coeff, and is " \
           "not in it" in out.stderr
    (point,) = Checkpoint(tmp_path / "r/latest.h5").history       # the logreg's alone: its test cost agrees
    assert point["train_cost"] < 5 and point["test_cost"] == pytest.approx(evaluate(tmp_path / "r/latest.h5")["cost"])


def test_layers_and_params_are_needed():
    one_line(convnet("train", check=False), "give --layers and --params")
    for given in (TINY[:2], TINY[2:]):                  # one of the two
        one_line(convnet("train", *given, check=False), "give --layers and --params")


@pytest.mark.parametrize("option,size", [("--crop", "24"), ("--image-size", "40")])
def test_another_input_size_given_to_a_checkpoint_is_named_as_the_cause(run, tmp_path, option, size):
    """Its fc layer's weights are of another shape: the line says which option made the input another size."""
    path, _ = run
    for command in (["test"], ["features", "--layer", "fc10", "--out", tmp_path / "f.h5"]):
        result = convnet(*command, "--load", path / "best.h5", option, size, check=False)
        assert result.returncode == 1 and result.stderr.count("convnet: error:") == 1, result.stderr
        assert f"fc10/weights/0 is (10, 512), the net needs (10, {8 * (int(size) // 4) ** 2}): with {option} {size} " \
               f"the net reads 3x{size}x{size} inputs, which is not what it was trained on" in result.stderr


def test_test_json_fields(run):
    path, _ = run
    assert set(evaluate(path / "best.h5")) == {"cost", "top1_error", "topk_error", "topk", "cases"}


def test_a_checkpoint_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    """A full disk at a test point: one line, and the previous checkpoint stays whole."""
    from click.testing import CliRunner
    import convnet.trainer
    from convnet.cli import main
    args = ["train", *TINY, *FAST, "--epochs", "1", "--test-freq", "10", "--save-path", str(tmp_path)]
    import convnet.files
    calls = []
    real = os.fsync

    def full_disk(fd):               # the disk fills up while the second checkpoint is written
        if "latest.h5.tmp" in os.readlink(f"/proc/self/fd/{fd}"):
            calls.append(fd)
            if len(calls) > 1:
                raise OSError(28, "No space left on device")
        real(fd)
    monkeypatch.setattr(convnet.files.os, "fsync", full_disk)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert (f"{tmp_path / 'latest.h5'}: cannot write it (no space left on device); nothing was changed there; "
            f"the previous checkpoint is kept") in result.output
    assert Checkpoint(tmp_path / "latest.h5").step == 10
    assert [name for name in os.listdir(tmp_path) if ".tmp" in name] == []


def test_the_schedules_progress_counts_the_data_batches_trained_before_each_minibatch(tmp_path, monkeypatch):
    """convnet.py:107 of the 2012 code: (data batches done - 1) / all the run's, the current one not
    counted. Two data batches of 4 minibatches each, two epochs: 0 x 4, 1/4 x 4, 1/2 x 4, 3/4 x 4."""
    from click.testing import CliRunner
    from convnet.cli import main
    from convnet.solver import Solver
    seen, update = [], Solver.update
    monkeypatch.setattr(Solver, "update", lambda self, n, progress, *a, **k: (seen.append(progress),
                                                                                update(self, n, progress, *a, **k)))
    result = CliRunner().invoke(main, ["train", *TINY, "--train-range", "1-2", "--mini", "500", "--seed", "7",
                                       "--epochs", "2", "--save-path", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert seen == [0.0] * 4 + [0.25] * 4 + [0.5] * 4 + [0.75] * 4


def recorded_tally(monkeypatch):
    """The list that every training step's (where, {cost layer: values}) joins as the trainer reads it."""
    from convnet.cost_tally import CostTally
    steps, read = [], CostTally.read

    def recorded(self):
        got = read(self)
        steps.extend(got)
        return got
    monkeypatch.setattr(CostTally, "read", recorded)
    return steps


def test_the_train_columns_are_the_sums_of_the_steps_since_the_last_test_point(tmp_path, monkeypatch):
    """Each test point's train cost and error: the logreg's summed values of the steps since the one
    before, over their images (the sums start again at every test point)."""
    from click.testing import CliRunner
    from convnet.cli import main
    steps = recorded_tally(monkeypatch)
    result = CliRunner().invoke(main, ["train", *TINY, *FAST, "--epochs", "2", "--test-freq", "15",
                                       "--save-path", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert len(steps) == 40
    history = Checkpoint(tmp_path / "r/latest.h5").history
    for point, part in zip(history, (steps[:15], steps[15:30], steps[30:])):
        cost, errors = np.sum([costs["logprob"][:2] for _, costs in part], axis=0)
        assert point["train_cost"] == pytest.approx(cost / (100 * len(part)), rel=1e-12)
        assert point["train_error"] == pytest.approx(errors / (100 * len(part)), rel=1e-12)


def test_a_short_last_minibatch_is_a_step_of_its_own_size(tmp_path, monkeypatch):
    """2000 images by 300: six minibatches of 300 and one of 200, whose update is the mean over its 200
    (the 2012 code's too: a data batch's last minibatch held what was left); the train cost is per image."""
    from click.testing import CliRunner
    from convnet.cli import main
    from convnet.solver import Solver
    sizes, update = [], Solver.update
    monkeypatch.setattr(Solver, "update", lambda self, n, *a, **k: (sizes.append(n), update(self, n, *a, **k)))
    steps = recorded_tally(monkeypatch)
    result = CliRunner().invoke(main, ["train", *TINY, "--train-range", "1", "--mini", "300", "--seed", "7",
                                       "--epochs", "1", "--save-path", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    costs = [c["logprob"][0] for _, c in steps]
    assert sizes == [300] * 6 + [200] and len(costs) == 7
    (point,) = Checkpoint(tmp_path / "r/latest.h5").history
    assert point["train_cost"] == pytest.approx(sum(costs) / 2000, rel=1e-12)
