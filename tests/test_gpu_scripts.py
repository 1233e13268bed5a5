"""The GPU verification scripts, as far as a machine without a GPU can run them: bench/gpu.sh refuses
to report anything when the cuda backend does not load, runs its steps within a budget and packs
their results into three files, the stream probes pass on the emulated backend (whose order checks
cover the probes themselves), and the comparison of two runs."""
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

from convnet.checkpoint import HISTORY_FIELDS
from tests.conftest import HAS_GPU
from tests.helpers import ROOT


@pytest.mark.skipif(HAS_GPU, reason="a machine without a working cuda backend")
def test_gpu_sh_stops_when_the_cuda_backend_does_not_load(tmp_path):
    run = subprocess.run(["bash", str(ROOT / "bench/gpu.sh"), "tests"], capture_output=True, text=True,
                         env=dict(os.environ, OUT=str(tmp_path)))
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu.sh: the cuda backend does not load, nothing was run: "), lines
    assert not list(tmp_path.iterdir())


def _gpu_run():
    spec = importlib.util.spec_from_file_location("gpu_run", ROOT / "bench/gpu_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_steps_run_in_order_within_their_caps_and_the_budget(tmp_path):
    """A step past its cap is stopped with everything it started; a step that would start with less
    than the least left is not started; a failure does not stop the steps after it."""
    gpu_run = _gpu_run()
    Step = gpu_run.Step
    steps = [Step("fails", "a", 10, "echo bad things >&2; exit 3"),
             Step("hangs", "a", 2, "sleep 60 & echo $! > {work}/child; wait"),
             Step("passes", "b", 10, "echo $GREETING; sleep 2; echo the end"),
             Step("left-over", "b", 10, "true")]
    steps[2].env = {"GREETING": "hello"}
    start = time.monotonic()
    results = gpu_run.run_steps(steps, tmp_path, budget=5, least=2)
    assert time.monotonic() - start < 15
    assert [r["verdict"] for r in results] == ["FAILED (exit 3)", "TIMED OUT at 2 s", "passed", "not run (out of time)"]
    assert results[0]["last"] == "bad things" and results[2]["last"] == "the end"
    assert (tmp_path / "passes.log").read_text() == "hello\nthe end\n"
    child = int((tmp_path / "child").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert 1.9 < results[1]["seconds"] < 8


def test_the_results_are_three_files_with_every_step_in_the_summary(tmp_path):
    gpu_run = _gpu_run()
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    for i in range(12):                                   # more files than the device sends back
        (work / f"result-{i}.json").write_text("{}")
    (work / "broken.log").write_text("".join(f"line {i}\n" for i in range(40)))
    (work / "train-alexnet").mkdir()
    (work / "train-alexnet" / "latest.h5").write_bytes(b"checkpoint")     # checkpoints never travel back
    (work / "huge.json").write_bytes(b" " * (3 << 20))
    bench = {"mini": 128, "device": "NVIDIA H200", "step_ms": 100.0, "images_per_s": 1280.0, "gpu_memory_mib": 3000.0,
             "per_layer": {"conv1": {"forward_ms": 1.0, "backward_ms": 2.0}}}
    (work / "bench-convnet-fp32.json").write_text(json.dumps(bench))       # from before the back-to-back steps
    (work / "bench-pytorch-fp32.json").write_text(json.dumps(dict(bench, framework="PyTorch 2.11 + cuDNN",
                                                                   images_per_s=2560.0, step_ms=50.0)))
    both = dict(back_to_back_step_ms=40.0, back_to_back_images_per_s=3200.0)
    (work / "bench-convnet-tf32.json").write_text(json.dumps(dict(bench, **both)))
    (work / "bench-pytorch-tf32.json").write_text(json.dumps(dict(bench, framework="PyTorch 2.11 + cuDNN",
                                                                   back_to_back_step_ms=20.0,
                                                                   back_to_back_images_per_s=6400.0)))
    results = [dict(name="ok", group="a", verdict="passed", rc=0, seconds=3.0, last="1 passed"),
               dict(name="broken", group="a", verdict="FAILED (exit 1)", rc=1, seconds=2.0, last="line 39"),
               dict(name="later", group="b", verdict="not run (out of time)", rc=None, seconds=0.0, last="")]
    text = gpu_run.summary(results, work, ["# header"])
    gpu_run.pack(results, work, out, text)
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "status.json", "summary.md"]
    summary = (out / "summary.md").read_text()
    assert "| ok | passed | 3 | 1 passed |" in summary and "| later | not run (out of time) | 0 |  |" in summary
    assert "`bash bench/gpu.sh later`" in summary
    assert "line 25\nline 26" in summary and "line 24\n" not in summary          # the failed log's last 15 lines
    assert "| convnet | 100.0 | 1280 | 0.50 | - | - | - | 3,000 |" in summary and "| conv1 | 1.00 | 2.00 |" in summary
    assert "| convnet | 100.0 | 1280 | 1.00 | 40.0 | 3200 | 0.50 | 3,000 |" in summary
    assert "| PyTorch 2.11 + cuDNN | 100.0 | 1280 | 1.00 | 20.0 | 6400 | 1.00 | 3,000 |" in summary
    status = json.loads((out / "status.json").read_text())
    assert status["steps"] == results
    assert sorted(status["left_out"]) == [f"gpu-run/huge.json ({3 << 20} bytes)",
                                          "gpu-run/train-alexnet/latest.h5 (10 bytes)"]
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = tar.getnames()
    assert len([n for n in names if n.startswith("gpu-run/result-")]) == 12 and "gpu-run/broken.log" in names
    assert "gpu-run/huge.json" not in names and "gpu-run/train-alexnet/latest.h5" not in names


def test_every_step_names_files_that_exist_and_the_selection_keeps_the_order():
    gpu_run = _gpu_run()
    steps = gpu_run.all_steps("-n 8")
    assert len({s.name for s in steps}) == len(steps)
    for s in steps:
        for word in s.command.replace("'", " ").split():
            if "/" in word and "{work}" not in word and not word.startswith("-"):
                assert (ROOT / word).exists(), f"{s.name}: {word}"
    assert steps[0].name == "gpu-tests" and "-n 8" in steps[0].command
    chosen = gpu_run.select(steps, ["probe", "bench"])
    assert [s.name for s in chosen] == [s.name for s in steps if s.group == "bench" or s.name == "probe"]
    with pytest.raises(ValueError, match="unknown step or group nosuch"):
        gpu_run.select(steps, ["nosuch"])
    plan = subprocess.run(["bash", str(ROOT / "bench/gpu.sh"), "--plan", "train"], capture_output=True, text=True)
    assert plan.returncode == 0 and plan.stdout.splitlines()[0].startswith("train-quickstart-cuda")
    wrong = subprocess.run(["bash", str(ROOT / "bench/gpu.sh"), "--plan", "nosuch"], capture_output=True, text=True)
    assert wrong.returncode == 2 and wrong.stderr.startswith("gpu.sh: unknown step or group nosuch")


def test_the_stream_probes_pass_on_the_emulated_backend():
    run = subprocess.run([sys.executable, str(ROOT / "bench/gpu_probe.py"), "--backend", "emulated"],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": ok") == 4 and "bit-identical" in run.stdout


def _checkpoint(path, test_costs):
    import h5py
    with h5py.File(path, "w") as f:
        n = len(test_costs)
        for field in HISTORY_FIELDS:
            f[f"history/{field}"] = np.arange(1, n + 1, dtype=np.float64) * (10 if field == "step" else 0.1)
        del f["history/test_cost"]
        f["history/test_cost"] = np.asarray(test_costs, dtype=np.float64)


@pytest.mark.parametrize("b_costs,ok", [([2.3, 2.0], True), ([2.3, 2.01], False)])
def test_compare_runs_reports_the_largest_difference(tmp_path, b_costs, ok):
    _checkpoint(tmp_path / "a.h5", [2.3, 2.0001])
    _checkpoint(tmp_path / "b.h5", b_costs)
    run = subprocess.run([sys.executable, str(ROOT / "bench/compare_runs.py"), str(tmp_path / "a.h5"),
                          str(tmp_path / "b.h5"), "--tol", "1e-3"], capture_output=True, text=True)
    assert (run.returncode == 0) == ok, run.stdout + run.stderr
    worst = abs(2.0001 - b_costs[1]) / max(2.0001, b_costs[1])
    assert f"largest relative difference of the test cost: {worst:.2e}" in run.stdout
