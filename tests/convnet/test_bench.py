"""convnet bench runs and reports on the CPU backends (its GPU figures come from a GPU machine)."""
import pytest
from click.testing import CliRunner

from convnet.cli import main
from tests.helpers import ROOT
from tests.training import strict_json


def test_bench_reports_steps_layers_and_peak():
    result = CliRunner().invoke(main, ["bench", "--layers", str(ROOT / "tests/configs/tiny.cfg"), "--params",
                                       str(ROOT / "tests/configs/tiny-params.cfg"), "--input-size", "32", "--mini",
                                       "16", "--backend", "emulated", "--warmup", "1", "--repeat", "2", "--json"])
    assert result.exit_code == 0, result.output
    r = strict_json(result.output)
    assert len(r["steps_ms"]) == 2 and r["step_ms"] > 0 and r["images_per_s"] == 16 / (r["step_ms"] / 1000)
    assert r["back_to_back_step_ms"] > 0 and r["back_to_back_images_per_s"] == 16 / (r["back_to_back_step_ms"] / 1000)
    assert set(r["per_layer"]) == {"conv1", "conv1_neuron", "pool1", "drop1", "fc10", "probs", "logprob"}
    assert 0 < r["share_of_peak"] < 1 and r["backend"] == "emulated"


def test_the_work_of_a_step_counts_only_the_gradients_computed():
    """tiny.cfg: conv1 (3->8 maps, 5x5, stride 2, 17x17 outputs as cuda-convnet counts them) reads the
    images, so it has a forward and a weight gradient but no input gradient; fc10 (8x8x8 -> 10) all three."""
    from convnet.bench import training_macs
    from convnet.graph import load_graph
    from convnet.net import Net
    net = Net(load_graph(ROOT / "tests/configs/tiny.cfg", ROOT / "tests/configs/tiny-params.cfg",
                         [(3, 32, 32), (1,)]), seed=0)
    conv = 8 * 17 * 17 * 3 * 5 * 5
    fc = 10 * 8 * 8 * 8
    assert training_macs(net) == 2 * conv + 3 * fc


def test_fp32_lanes_by_architecture():
    from convnet.bench import fp32_lanes
    assert [fp32_lanes(c) for c in ("70", "75", "80", "86", "89", "90", "100")] == [64, 64, 64, 128, 128, 128, 128]


def test_the_default_backend_is_cuda_where_a_gpu_is_usable_else_numpy(monkeypatch):
    from convnet import bench
    from convnet.errors import BackendError

    def no_gpu(name):
        raise BackendError("CuPy is not installed")
    monkeypatch.setattr(bench, "get_backend", no_gpu)
    assert bench.choose_backend("auto") == ("numpy", "auto: no usable GPU (CuPy is not installed)")
    monkeypatch.setattr(bench, "get_backend", lambda name: object())
    assert bench.choose_backend("auto") == ("cuda", "auto: a GPU is usable")
    assert bench.choose_backend("emulated") == ("emulated", "")


def test_the_profile_names_update_blas_and_memory(monkeypatch):
    """Without --backend on a machine without CuPy: numpy, said so; the update, BLAS and peak memory lines."""
    from convnet import bench
    from convnet.errors import BackendError

    def no_gpu(name):
        raise BackendError("no GPU here")
    monkeypatch.setattr(bench, "get_backend", no_gpu)
    args = ["bench", "--layers", str(ROOT / "tests/configs/tiny.cfg"), "--params", str(ROOT / "tests/configs/tiny-params.cfg"),
            "--input-size", "32", "--mini", "16", "--warmup", "1", "--repeat", "3"]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "backend numpy (auto: no usable GPU (no GPU here))" in text.output
    for line in ("BLAS: ", "compiled kernels: ", "peak memory ", "update ", "the rest of a step ", "loader: "):
        assert line in text.output
    r = strict_json(CliRunner().invoke(main, args + ["--json", "--no-profile"]).output)
    assert r["per_layer"] == {} and 0 < r["update_ms"] < r["step_ms"] and r["peak_memory_mib"] > 10
    assert r["loader_ms"] is None                            # --no-profile: the step alone


def test_the_loader_time_is_the_papers_augmentation_of_a_minibatch():
    from convnet.bench import augmentation_ms
    from convnet.graph import load_graph
    graph = load_graph(ROOT / "tests/configs/tiny.cfg", ROOT / "tests/configs/tiny-params.cfg", [(3, 32, 32), (1,)])
    assert 0 < augmentation_ms(graph, 16, repeat=1) < 1000


def test_the_blas_report_asks_openblas_itself():
    """NumPy's wheels carry OpenBLAS: its kernels (the corename) are the ones its config string names."""
    from convnet.blas_info import blas_report
    reports = blas_report()
    openblas = [r for r in reports if "openblas" in r["library"].lower()]
    if not openblas:
        import pytest
        pytest.skip(f"NumPy here does not use OpenBLAS: {reports}")
    r = openblas[0]
    assert r["config"].startswith("OpenBLAS") and r["kernels"] != "unknown" and r["kernels"] in r["config"]
    assert r["threads"] >= 1


def test_the_cost_of_the_batch_before_and_after_the_steps():
    """Before the steps: -sum(log p(label)) / images, computed here from the probabilities of a net made
    with the same seed on the same batch; after steps on that one batch: lower."""
    import numpy as np
    from convnet import bench
    from convnet.graph import load_graph
    from convnet.net import Net
    layers, params = ROOT / "tests/configs/tiny.cfg", ROOT / "tests/configs/tiny-params.cfg"
    r = bench.run(layers, params, input_size=32, mini=16, backend="numpy", warmup=1, repeat=2, profile=False)
    graph = load_graph(layers, params, [(3, 32, 32), (1,)])
    images, labels = bench.random_batch(graph, 16, np.random.default_rng(0))
    net = Net(graph, seed=0)
    net.forward([images, labels])
    probs = net.activation("probs").astype(np.float64)
    want = -np.log(probs[labels[0].astype(int), np.arange(16)]).sum() / 16
    assert r["initial_cost"] == pytest.approx(want, rel=1e-5)
    assert r["final_cost"] < 0.8 * r["initial_cost"] and r["gpu_memory_mib"] is None


def test_every_timed_step_trains_with_a_step_number_of_its_own(monkeypatch):
    """warmup 2 + repeat 3 timed steps, then 3 back to back: 8 training passes (dropout on), steps 0 to 7,
    and the rate, the work and the share of peak follow from the median step."""
    from convnet import bench
    from convnet.net import Net
    seen, forward = [], Net.forward

    def recording(self, inputs, train=False, step=0, **kwargs):
        if kwargs.get("read_costs") is False:          # the steps' passes (the costs read before and after: not)
            seen.append((train, step))
        return forward(self, inputs, train=train, step=step, **kwargs)
    monkeypatch.setattr(Net, "forward", recording)
    layers, params = ROOT / "tests/configs/tiny.cfg", ROOT / "tests/configs/tiny-params.cfg"
    r = bench.run(layers, params, input_size=32, mini=16, backend="numpy", warmup=2, repeat=3, profile=False)
    assert seen == [(True, step) for step in range(8)]
    work = 2 * (2 * 8 * 17 * 17 * 3 * 5 * 5 + 3 * 10 * 8 * 8 * 8) * 16        # flops of a step (the MACs above)
    assert r["images_per_s"] == pytest.approx(16 / (r["step_ms"] / 1000))
    assert r["tflops"] == pytest.approx(work / (r["step_ms"] / 1000) / 1e12)
    assert r["share_of_peak"] == pytest.approx(r["tflops"] / r["peak_tflops"])


def test_the_report_splits_a_step_into_its_layers_its_update_and_the_rest():
    from convnet.bench import report
    result = {"device": "CPU x", "backend": "numpy", "backend_choice": "", "mini": 16, "input_size": 32, "tf32": False,
              "blas": [], "compiled": None, "step_ms": 10.0, "steps_ms": [9.0, 10.0, 11.0], "images_per_s": 1600.0,
              "tflops": 0.5, "share_of_peak": 0.25, "peak_tflops": 2.0, "peak_kind": "a peak",
              "back_to_back_step_ms": 8.0, "back_to_back_images_per_s": 2000.0, "initial_cost": 2.3,
              "final_cost": 1.5, "peak_memory_mib": 100.0, "gpu_memory_mib": None, "loader_ms": 0.5,
              "update_ms": 1.0, "per_layer": {"conv1": {"forward_ms": 2.0, "backward_ms": 3.0},
                                              "fc10": {"forward_ms": 1.0, "backward_ms": 1.0}}}
    lines = report(result).splitlines()
    assert next(line for line in lines if line.startswith("training step")) == "training step 10.0 ms (median of 3), 1600 images/s, 0.50 TFLOP/s = 25.0% of 2.00 TFLOP/s (a peak)"
    table = lines[lines.index(f"{'layer':<18} {'forward ms':>11} {'backward ms':>12} {'share':>6}") + 1:]
    assert table[:4] == [f"{'conv1':<18} {2:>11.2f} {3:>12.2f} {50:>5.1f}%",
                         f"{'fc10':<18} {1:>11.2f} {1:>12.2f} {20:>5.1f}%",
                         f"{'update':<18} {1:>24.2f} {10:>5.1f}%",
                         f"{'the rest of a step':<18} {2:>24.2f} {20:>5.1f}%  (step - layers - update; layers "
                         f"timed alone, so it can be negative)"]
    assert table[4].startswith("loader: 0.5 ms a minibatch for crops from 64x64") and "5.0% of a step" in table[4]
