"""convnet ablate: a base net and a variant trained in pairs of seeds, the comparison computed from
their checkpoints, and a second call that reuses or continues the runs."""

import numpy as np
import pytest

from convnet.checkpoint import Checkpoint
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet, strict_json

pytestmark = pytest.mark.slow


def test_ablate_compares_seed_by_seed_and_resumes(tmp_path):
    variant = tmp_path / "tiny-nonoverlap.cfg"
    variant.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("sizeX=3\nstride=2", "sizeX=2\nstride=2"))
    out = tmp_path / "out"
    args = ["ablate", *TINY, "--variant", f"{variant}:{TINY[3]}", "--seeds", "2", *FAST[:-2], "--out", out]
    first = convnet(*args, "--epochs", "1").stdout
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
    run = convnet("ablate", *TINY, "--out", tmp_path, check=False)
    assert run.returncode == 2 and "one --variant or more" in run.stderr
