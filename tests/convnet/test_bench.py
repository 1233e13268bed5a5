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
