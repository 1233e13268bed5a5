"""convnet bench runs and reports on the CPU backends (its GPU figures come from a GPU machine)."""
import json

from click.testing import CliRunner

from convnet.cli import main
from tests.helpers import ROOT


def test_bench_reports_steps_layers_and_peak():
    result = CliRunner().invoke(main, ["bench", "--layers", str(ROOT / "tests/configs/tiny.cfg"), "--params",
                                       str(ROOT / "tests/configs/tiny-params.cfg"), "--input-size", "32", "--mini",
                                       "16", "--backend", "emulated", "--warmup", "1", "--repeat", "2", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert len(r["steps_ms"]) == 2 and r["step_ms"] > 0 and r["images_per_s"] == 16 / (r["step_ms"] / 1000)
    assert set(r["per_layer"]) == {"conv1", "conv1_neuron", "pool1", "drop1", "fc10", "probs", "logprob"}
    assert 0 < r["share_of_peak"] < 1 and r["backend"] == "emulated"
