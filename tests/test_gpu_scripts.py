"""The GPU verification scripts, as far as a machine without a GPU can run them: bench/gpu.sh refuses
to report anything when the cuda backend does not load, the stream probes pass on the emulated
backend (whose order checks cover the probes themselves), and the comparison of two runs."""
import os
import subprocess
import sys

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
    assert not list(tmp_path.glob("tests-*.log"))


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
