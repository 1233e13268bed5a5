"""convnet test --load a.h5,b.h5: the paper's several CNNs, their softmax outputs averaged; and
--predictions, every test image's probabilities."""

import h5py
import numpy as np
import pytest

from tests.training import FAST, TINY, convnet, strict_json, tiny_variant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    paths = []
    for seed in (1, 2):
        convnet("train", *TINY, *FAST[:-2], "--seed", seed, "--epochs", "1", "--save-path", root / f"s{seed}")
        paths.append(root / f"s{seed}/latest.h5")
    return root, paths


def predictions(root, name, *loads, extra=()):
    out = root / f"{name}.h5"
    result = strict_json(convnet("test", "--load", ",".join(map(str, loads)), "--predictions", out, "--json",
                                *extra).stdout)
    with h5py.File(out) as f:
        return result, f["probs"][()], f["labels"][()]


def test_the_average_of_two_nets_is_the_mean_of_their_probabilities(two_runs):
    root, (a, b) = two_runs
    ra, pa, labels = predictions(root, "a", a)
    rb, pb, _ = predictions(root, "b", b)
    both, p, same_labels = predictions(root, "ab", a, b)
    np.testing.assert_array_equal(labels, same_labels)
    np.testing.assert_allclose(p, (pa.astype(np.float64) + pb) / 2, rtol=1e-6, atol=1e-7)
    assert p.shape == (labels.size, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    top1 = np.mean(np.argmax(p, axis=1) != labels)          # no ties in float sums of two nets
    assert both["top1_error"] == pytest.approx(top1)
    assert both["cost"] == pytest.approx(-np.mean(np.log(p[np.arange(labels.size), labels])), rel=1e-5)
    assert both["checkpoints"] == [str(a), str(b)] and both["cases"] == labels.size
    with h5py.File(root / "ab.h5") as f:                    # the plain mean: each net's share a half
        np.testing.assert_array_equal(f.attrs["weights"], [0.5, 0.5])
    assert both["top1_error"] <= max(ra["top1_error"], rb["top1_error"])


def test_averaging_with_the_multiview_test(two_runs):
    root, (a, b) = two_runs
    result, p, labels = predictions(root, "mv", a, b, extra=("--multiview",))
    assert result["cases"] == labels.size and p.shape == (labels.size, 10)
    out = convnet("test", "--load", f"{a},{b}", "--multiview").stdout
    assert out.startswith("the average of 2 nets: cost") and "multiview" in out


def test_a_net_trained_on_other_data_is_noted(two_runs, tmp_path):
    root, (a, b) = two_runs
    assert "trained on other data" not in convnet("test", "--load", f"{a},{b}").stderr
    convnet("train", *TINY, *FAST[:-2], "--image-size", "40", "--crop", "32", "--epochs", "1",
            "--save-path", tmp_path / "big")
    other = tmp_path / "big/latest.h5"
    run = convnet("test", "--load", f"{a},{other}")
    assert f"convnet: note: {other} was trained on other data than {a} (--image-size 40, not 32); all are tested " \
           f"on the same images" in run.stderr
    assert run.stdout.startswith("the average of 2 nets")


def test_a_net_given_twice_is_noted(two_runs, tmp_path):
    import shutil
    root, (a, b) = two_runs
    shutil.copy(a, tmp_path / "copy.h5")
    run = convnet("test", "--load", f"{a},{b},{tmp_path / 'copy.h5'}")
    assert f"convnet: note: {tmp_path / 'copy.h5'} holds the same weights as {a}: the average counts that net " \
           f"twice" in run.stderr
    assert "same weights" not in convnet("test", "--load", f"{a},{b}").stderr
    assert f"{tmp_path / 'copy.h5'} holds the same weights as {a}" in \
        convnet("test", "--load", f"{a},{tmp_path / 'copy.h5'}").stderr
    assert convnet("test", "--load", f"{a},").stdout.startswith(f"{a} (epoch 1.00)")


def test_the_submission_is_the_top_five_of_the_written_probabilities(two_runs):
    """--submission: a line per test image, in the order of /probs, its 5 best classes 1-based; its
    top-5 error, counted from the text, is the test's."""
    root, (a, b) = two_runs
    out = root / "s.txt"
    run = convnet("test", "--load", f"{a},{b}", "--predictions", root / "sp.h5", "--submission", out, "--json")
    result = strict_json(run.stdout)
    assert f"wrote {out}: the 5 best classes of {result['cases']} images, a line each" in run.stderr
    with h5py.File(root / "sp.h5") as f:
        probs, labels = f["probs"][()], f["labels"][()]
    lines = out.read_text().splitlines()
    assert len(lines) == labels.size == result["cases"] and result["topk"] == 5
    for line, p in zip(lines, probs):
        best = sorted(range(p.size), key=lambda c: -p[c])[:5]            # no ties in float sums of two nets
        assert line == " ".join(str(c + 1) for c in best)
    missed = np.mean([label + 1 not in map(int, line.split()) for line, label in zip(lines, labels)])
    assert missed == pytest.approx(result["topk_error"])


def test_a_net_without_class_probabilities_writes_no_predictions(two_runs, tmp_path):
    """A net whose only cost is a cost.sum2 gives no probabilities: --predictions and --submission say
    so before the test runs, and write nothing (an empty file would read as a result); averaged with
    another net, it has nothing to average."""
    configs = tiny_variant(tmp_path, [("[labels]\ntype=data\ndataIdx=1\n\n", ""),
                                      ("[logprob]\ntype=cost.logreg\ninputs=labels,probs",
                                       "[energy]\ntype=cost.sum2\ninputs=probs")],
                           [("[logprob]\ncoeff=1\ntopk=5", "[energy]\ncoeff=0.0001")])
    convnet("train", *configs, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    for option, name in (("--predictions", "p.h5"), ("--submission", "s.txt")):
        run = convnet("test", "--load", tmp_path / "r/latest.h5", option, tmp_path / name, check=False)
        assert run.returncode == 1 and run.stderr == (f"convnet: error: {option}: the net has no cost.logreg, "
                                                      f"cost.crossent or cost.msm layer: it gives no class "
                                                      f"probabilities to write\n")
        assert not (tmp_path / name).exists()
    mixed = convnet("test", "--load", f"{two_runs[1][0]},{tmp_path / 'r/latest.h5'}", check=False)
    assert mixed.returncode == 1 and mixed.stderr == ("convnet: error: model averaging averages softmax outputs: "
                                                      "every net needs a cost.logreg (or a cost.crossent, or a "
                                                      "cost.msm) layer\n")


def test_weights_give_each_net_its_share_of_the_average(two_runs):
    """--weights 3,1: the probabilities are 3/4 of the first net's and 1/4 of the second's (as the 2012
    code's avg-test.py weighted them, scaled to sum 1); 1,0 gives the first net alone, bit for bit."""
    root, (a, b) = two_runs
    _, pa, labels = predictions(root, "wa", a)
    _, pb, _ = predictions(root, "wb", b)
    result, p, _ = predictions(root, "w31", a, b, extra=("--weights", "3,1"))
    np.testing.assert_allclose(p, 0.75 * pa.astype(np.float64) + 0.25 * pb, rtol=1e-6, atol=1e-7)
    assert result["weights"] == [0.75, 0.25] and result["checkpoints"] == [str(a), str(b)]
    assert result["cost"] == pytest.approx(-np.mean(np.log(p[np.arange(labels.size), labels])), rel=1e-5)
    with h5py.File(root / "w31.h5") as f:
        np.testing.assert_array_equal(f.attrs["weights"], [0.75, 0.25])
    with h5py.File(root / "wa.h5") as f:
        np.testing.assert_array_equal(f.attrs["weights"], [1.0])
    alone, p10, _ = predictions(root, "w10", a, b, extra=("--weights", "1,0"))
    np.testing.assert_array_equal(p10, pa)
    first = strict_json(convnet("test", "--load", a, "--json").stdout)
    assert {k: alone[k] for k in first} == first
    line = convnet("test", "--load", f"{a},{b}", "--weights", "3,1").stdout
    assert line.startswith("the weighted average of 2 nets (0.75, 0.25): cost ")


def test_weights_that_do_not_fit_the_checkpoints_are_refused_before_anything_runs(two_runs, tmp_path):
    root, (a, b) = two_runs
    for weights, said in (("1", "1 weight for 2 checkpoints: give one per checkpoint of --load, in its order"),
                          ("1,-1", "the weights must be finite, 0 or more, and not all 0")):
        run = convnet("test", "--load", f"{a},{b}", "--weights", weights, "--predictions", tmp_path / "p.h5",
                      check=False)
        assert run.returncode == 2 and run.stdout == ""
        assert run.stderr == f"convnet: error: --weights '{weights}': {said}\n"
        assert not (tmp_path / "p.h5").exists()


def test_fitted_weights_are_those_that_test_with_the_same_numbers(two_runs, tmp_path):
    """--fit-weights: the search's lines (on stderr with --json), the weights as --weights takes them, and a
    result that --weights with those weights gives again, number for number; never worse than equal
    weights on these images."""
    root, (a, b) = two_runs
    run = convnet("test", "--load", f"{a},{b}", "--fit-weights", "--json")
    fitted = strict_json(run.stdout)
    lines = run.stderr.splitlines()
    assert lines[0].startswith("fitting the weights of 2 nets to the top-5 error on these 2000 images (the 2012 "
                               "code's avg-valid.py): equal weights ")
    assert lines[1].startswith("  pass 1: ") and lines[-1] == (
        f"fitted --weights {fitted['fitted_weights']}: an error on the images they were fitted to is optimistic; "
        f"test them on others")
    again = strict_json(convnet("test", "--load", f"{a},{b}", "--weights", fitted["fitted_weights"], "--json").stdout)
    assert {k: v for k, v in fitted.items() if k != "fitted_weights"} == again
    equal = strict_json(convnet("test", "--load", f"{a},{b}", "--json").stdout)
    assert fitted["topk_error"] <= equal["topk_error"]
    assert f"equal weights {100 * equal['topk_error']:.2f}%" in lines[0]
    for extra, said in ((("--weights", "1,1"), "--fit-weights finds the weights that --weights gives: give one of "
                                               "them"),
                        ((), None)):
        load = f"{a},{b}" if extra else str(a)
        run = convnet("test", "--load", load, "--fit-weights", *extra, check=False)
        said = said or "--fit-weights weights the nets of an average: give --load several checkpoints"
        assert run.returncode == 2 and run.stderr == f"convnet: error: {said}\n"


def test_the_cost_layers_k_names_the_test_error_and_the_fitted_one(tmp_path):
    """A cost.logreg's topk is the k of the test's line; a cost.crossent counts no top-k error, and its
    nets' weights are fitted to the top-1 error (the error it counts)."""
    configs = tiny_variant(tmp_path / "k3", params=[("topk=5", "topk=3")])
    convnet("train", *configs, *FAST, "--epochs", "1", "--save-path", tmp_path / "k3/run")
    load = tmp_path / "k3/run/latest.h5"
    result = strict_json(convnet("test", "--load", load, "--json").stdout)
    assert result["topk"] == 3
    assert f"top-3 error {100 * result['topk_error']:.2f}% on 2000 images" in convnet("test", "--load", load).stdout
    configs = tiny_variant(tmp_path / "ce", [("type=cost.logreg\n", "type=cost.crossent\n")],
                           [("[logprob]\ncoeff=1\ntopk=5", "[logprob]\ncoeff=1\n")])
    loads = []
    for seed in (1, 2):
        trained = convnet("train", *configs, *FAST[:-2], "--seed", seed, "--epochs", "1", "--save-path",
                          tmp_path / f"ce/{seed}").stdout
        assert "top-1 err  top-k err" in trained and "top-5" not in trained        # its column is n/a
        loads.append(str(tmp_path / f"ce/{seed}/latest.h5"))
    equal = strict_json(convnet("test", "--load", ",".join(loads), "--json").stdout)
    assert equal["topk"] is None and equal["topk_error"] is None
    line = convnet("test", "--load", ",".join(loads)).stdout.strip()
    assert line.endswith(f"top-1 error {100 * equal['top1_error']:.2f}% on 2000 images, uncropped")
    assert "top-5" not in line and "n/a" not in line
    lines = convnet("test", "--load", ",".join(loads), "--fit-weights").stdout.splitlines()
    assert lines[0] == (f"fitting the weights of 2 nets to the top-1 error on these 2000 images (the 2012 code's "
                        f"avg-valid.py): equal weights {100 * equal['top1_error']:.2f}%")
    assert lines[-1].startswith("the weighted average of 2 nets") and " top-1 error " in lines[-1]
