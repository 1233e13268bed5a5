"""convnet ablate: a base net and a variant trained in pairs of seeds, the comparison computed from
their checkpoints, and a second call that reuses or continues the runs."""

import numpy as np
import pytest

from convnet.checkpoint import Checkpoint
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet, strict_json

pytestmark = pytest.mark.slow


def another_tiny():
    """The tiny net with another dropout: a variant as fast to train as the base."""
    text = (ROOT / "tests/configs/tiny.cfg").read_text()
    assert "keep=0.8" in text
    return text.replace("keep=0.8", "keep=0.7")


def test_ablate_compares_seed_by_seed_and_resumes(tmp_path):
    variant = tmp_path / "tiny-nonoverlap.cfg"
    variant.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("sizeX=3\nstride=2", "sizeX=2\nstride=2"))
    out = tmp_path / "out"
    args = ["ablate", *TINY, "--variant", f"{variant}:{TINY[3]}", "--seeds", "2", *FAST[:-2], "--out", out]
    first = convnet(*args, "--epochs", "1").stdout
    assert [line.split(": ")[0] + line[line.rindex(" ("):] for line in first.splitlines() if "(run " in line] == [
        f"{name}, seed {seed} (run {n} of 4)" for n, (name, seed) in
        enumerate([("base", 0), ("base", 1), ("nonoverlap", 0), ("nonoverlap", 1)], 1)]
    rows = {r["name"]: r for r in strict_json((out / "ablation.json").read_text())["rows"]}
    top1 = {name: np.array([100 * Checkpoint(out / name / f"seed-{s}/latest.h5").history[-1]["test_top1"]
                            for s in (0, 1)]) for name in ("base", "nonoverlap")}
    assert rows["base"]["top1"] == pytest.approx(top1["base"].mean())
    assert rows["nonoverlap"]["top1_sd"] == pytest.approx(top1["nonoverlap"].std(ddof=1))
    diff = top1["nonoverlap"] - top1["base"]
    assert rows["nonoverlap"]["diff_top1"] == pytest.approx(diff.mean())
    assert rows["nonoverlap"]["diff_top1_sd"] == pytest.approx(diff.std(ddof=1))
    assert (rows["nonoverlap"]["paper_top1"], rows["nonoverlap"]["paper_topk"]) == (0.4, 0.3)
    assert Checkpoint(out / "nonoverlap/seed-1/latest.h5").options["seed"] == 1
    table = (out / "ablation.md").read_text()
    assert "| nonoverlap |" in table and "+0.4 / +0.3" in table and table.strip() in first
    assert (out / "ablation.png").stat().st_size > 1000
    again = convnet(*args, "--epochs", "1").stdout
    assert again.count("done earlier") == 4 and table.strip() in again
    longer = convnet(*args, "--epochs", "2").stdout
    assert "done earlier" not in longer
    assert Checkpoint(out / "base/seed-0/latest.h5").epoch == 3


def test_ablate_needs_a_base_and_a_variant(tmp_path):
    said = "convnet: error: give --layers (and --params) for the base net and one --variant or more\n"
    for args in (TINY, ["--variant", TINY[1]]):            # a base without variants, variants without a base
        run = convnet("ablate", *args, "--out", tmp_path / "out", check=False)
        assert run.returncode == 2 and run.stderr == said, run.stderr
    assert not (tmp_path / "out").exists()


def test_two_nets_of_one_name_are_refused(tmp_path):
    """Two nets whose runs would share a folder (and a row of the table) are refused before training."""
    for folder, filters in (("a", 6), ("b", 4)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "tiny-nolrn.cfg").write_text((ROOT / "tests/configs/tiny.cfg").read_text()
                                                          .replace("filters=8", f"filters={filters}"))
    run = convnet("ablate", *TINY, "--variant", f"{tmp_path / 'a/tiny-nolrn.cfg'}:{TINY[3]}",
                  "--variant", f"{tmp_path / 'b/tiny-nolrn.cfg'}:{TINY[3]}", "--out", tmp_path / "out", check=False)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert f"--variant {tmp_path / 'b/tiny-nolrn.cfg'}:{TINY[3]}: its runs would go to nolrn/, as those of " \
           f"{tmp_path / 'a/tiny-nolrn.cfg'}" in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_net_without_a_logreg_is_refused(tmp_path):
    """Its top-k error would be NaN (a cost.crossent counts only top-1 errors): half a table, after all the
    training."""
    crossent = tmp_path / "tiny-crossent.cfg"
    crossent.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("type=cost.logreg", "type=cost.crossent"))
    run = convnet("ablate", *TINY, "--variant", f"{crossent}:{TINY[3]}", "--out", tmp_path / "out", check=False)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert f"{crossent}: no cost.logreg layer; ablate compares top-1 and top-k errors" in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("variant", ["the base", "a copy", "no params", "no layers"])
def test_a_variant_that_is_the_base_or_names_no_file_is_refused(tmp_path, variant):
    copy = tmp_path / "tiny-copy.cfg"          # another file, the same net: comments and spacing do not count
    copy.write_text("# a copy\n" + (ROOT / "tests/configs/tiny.cfg").read_text().replace("=", " = "))
    given = {"the base": f"{TINY[1]}:{TINY[3]}", "a copy": f"{copy}:{TINY[3]}", "no params": f"{copy}:",
             "no layers": f":{TINY[3]}"}[variant]
    run = convnet("ablate", *TINY, "--variant", given, "--out", tmp_path / "out", check=False)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    if variant.startswith("no"):
        assert f"--variant '{given}': give LAYERS or LAYERS:PARAMS, two file names" in run.stderr
    else:
        assert f"--variant {given}: the same net and params as the base net {TINY[1]}" in run.stderr
    if variant == "the base":      # --layers alone: its params file is the one beside it, tiny-params.cfg
        alone = convnet("ablate", *TINY[:2], "--variant", given, "--out", tmp_path / "out", check=False)
        assert alone.returncode == 2 and alone.stderr == run.stderr
    assert not (tmp_path / "out").exists()


def test_a_second_call_reuses_only_the_runs_it_asks_for(tmp_path):
    """Runs left in --out by another net, other options or more epochs are refused before anything
    trains, naming the folder and the difference: reused, they would put another experiment's numbers
    in the table."""
    variant, params = tmp_path / "tiny-nolrn.cfg", tmp_path / "tiny-nolrn-params.cfg"
    variant.write_text(another_tiny())
    params.write_text(open(TINY[3]).read())
    out = tmp_path / "out"
    args = ["ablate", *TINY, "--variant", f"{variant}:{params}", "--seeds", "1", *FAST[:-2], "--out", out]
    convnet(*args, "--epochs", "2")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.h5")}

    def refused(*extra, fragment):
        run = convnet(*args, *extra, check=False)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert run.stderr.count("\n") == 1 and fragment in run.stderr, run.stderr
        assert "seed 0:" not in run.stdout                   # refused before the first run
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*.h5")} == before

    refused("--epochs", "2", "--mini", "50", fragment=f"{out}/base/seed-0 was trained with --mini 100, not --mini 50")
    refused("--epochs", "2", "--flip", fragment="was trained with the default, not --flip")
    refused("--epochs", "2", "--wupdate-freq", "2", fragment="was trained with --wupdate-freq 1, not --wupdate-freq 2")
    refused("--epochs", "1", fragment=f"{out}/base/seed-0 has trained 2 epochs, more than --epochs 1; give --epochs 2")
    variant.write_text(another_tiny().replace("sizeX=3\nstride=2", "sizeX=2\nstride=2"))
    refused("--epochs", "2", fragment=f"{out}/nolrn/seed-0 holds a run of another net: [pool1] of {variant} "
                                      f"differs from the one it was trained with")
    variant.write_text(another_tiny())
    params.write_text(open(TINY[3]).read().replace("epsW=0.001", "epsW=0.002", 1))       # conv1's rate
    refused("--epochs", "2", fragment=f"{out}/nolrn/seed-0 holds a run of another net: [conv1] of {params} "
                                      f"differs from the one it was trained with")
    params.write_text(open(TINY[3]).read())
    variant.write_text(another_tiny() + "\n# a comment changes nothing\n")
    assert convnet(*args, "--epochs", "2").stdout.count("done earlier") == 2
    # a run saved before --wupdate-freq existed was trained with 1: reused as that
    import convnet as package
    from convnet.checkpoint import save
    old = Checkpoint(out / "base/seed-0/latest.h5")
    net, _ = package.load(out / "base/seed-0/latest.h5")
    options = {k: v for k, v in old.options.items() if k != "wupdate_freq"}
    save(str(out / "base/seed-0/latest.h5"), net, (old.epoch, old.batch, old.step), old.configs, options, old.state,
         old.history)
    assert convnet(*args, "--epochs", "2").stdout.count("done earlier") == 2
    # a run that stopped after minibatch 1 of epoch 2 has trained into epoch 2: more than --epochs 1
    save(str(out / "base/seed-0/latest.h5"), net, (2, 1, old.step), old.configs, old.options, old.state, old.history)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.h5")}
    refused("--epochs", "1", fragment=f"{out}/base/seed-0 has trained into epoch 2, more than --epochs 1; give "
                                      f"--epochs 2")


def test_a_relative_data_path_is_kept_absolute(tmp_path):
    from tests.data.test_cifar import make_batches
    make_batches(tmp_path / "batches")
    variant = tmp_path / "tiny-other.cfg"
    variant.write_text(another_tiny())
    convnet("ablate", *TINY, "--variant", f"{variant}:{TINY[3]}", "--seeds", "1", "--epochs", "1", "--mini", "100",
            "--data-provider", "cifar", "--data-path", "batches", "--out", "out", cwd=tmp_path)
    assert Checkpoint(tmp_path / "out/base/seed-0/latest.h5").options["data_path"] == str(tmp_path / "batches")
    convnet("test", "--load", tmp_path / "out/base/seed-0/latest.h5")          # from another directory


def test_runs_on_batches_made_again_are_not_reused(tmp_path):
    """The same options on other images (make-data run again, files replaced): the run left in --out
    saw other data, and its numbers are not this experiment's."""
    import pickle
    from tests.data.test_cifar import make_batches
    batches = make_batches(tmp_path / "batches", per_batch=200)
    variant = tmp_path / "tiny-other.cfg"
    variant.write_text(another_tiny())
    args = ["ablate", *TINY, "--variant", f"{variant}:{TINY[3]}", "--seeds", "1", "--epochs", "1", "--mini", "100",
            "--data-provider", "cifar", "--data-path", batches, "--out", tmp_path / "out"]
    convnet(*args)
    assert convnet(*args).stdout.count("done earlier") == 2          # the same images: reused
    batch = pickle.loads((batches / "data_batch_1").read_bytes())
    batch["data"] = batch["data"][:, ::-1].copy()
    (batches / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    run = convnet(*args, check=False)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert f"{tmp_path / 'out/base/seed-0'} was trained on other images: batch 1 is not the one it saw" in run.stderr


def test_one_seed_claims_no_spread(tmp_path):
    from convnet.ablate import markdown, summarize
    history = lambda top1: [{"test_top1": top1, "test_topk": top1 / 2}]
    rows = summarize({"base": {0: history(0.30)}, "nolrn": {0: history(0.32)}}, "base")
    assert rows[1]["diff_top1"] == pytest.approx(2.0) and rows[1]["diff_top1_sd"] is None and rows[0]["top1_sd"] is None
    table = markdown(rows, 5, 3, "x.cfg")
    assert "| nolrn | 32.00 | 16.00 | +2.00 | +1.00 |" in table and "±" not in table.split("\n", 1)[1]
    assert "one seed: no spread over seeds" in table
    two = summarize({"base": {0: history(0.30), 1: history(0.40)}, "nolrn": {0: history(0.32), 1: history(0.44)}},
                    "base")
    assert "| nolrn | 38.00 ± 8.49 | 19.00 ± 4.24 | +3.00 ± 1.41 | +1.50 ± 0.71 |" in markdown(two, 5, 3, "x.cfg")


def test_a_run_continued_takes_how_it_runs_from_the_command(tmp_path):
    """--save-freq (and --backend, --gpu, --tf32) given to the call that continues a run apply to it, as
    to train --load (a continued run went on with the options of its first call); left out, the run
    keeps its own."""
    variant = tmp_path / "tiny-other.cfg"
    variant.write_text(another_tiny())
    out = tmp_path / "out"
    args = ["ablate", *TINY, "--variant", f"{variant}:{TINY[3]}", "--seeds", "1", *FAST[:-2], "--out", out]
    convnet(*args, "--epochs", "1", "--save-freq", "3")
    saved = lambda: Checkpoint(out / "other/seed-0/latest.h5").options["save_freq"]
    assert saved() == 3
    convnet(*args, "--epochs", "2", "--save-freq", "7")
    assert saved() == 7 and Checkpoint(out / "other/seed-0/latest.h5").epoch == 3
    convnet(*args, "--epochs", "3")
    assert saved() == 7 and Checkpoint(out / "base/seed-0/latest.h5").options["save_freq"] == 7
