"""Stream order on the GPU path, checked by the emulated backend (convnet/backends/ordering.py).

Each fix in gpu_path.py and net.py has a test that runs it, and one that removes it and finds the
race it prevents: a GPU would give wrong numbers there, at random; the emulator fails every time.
"""
import gc

import numpy as np
import pytest
from click.testing import CliRunner

from convnet.backends import get_backend
from convnet.backends.gpu_path import GpuPathBackend
from convnet.backends.ordering import StreamRaceError
from convnet.cli import main
from convnet.cost_tally import CostTally
from convnet.devices import make_devices, transfer
from convnet.graph import load_graph
from convnet.kernels import ELEMENTWISE, f32, i32, kernels
from convnet.net import Net
from convnet.solver import Solver
from tests.helpers import ROOT

TWO = (ROOT / "tests/configs/two-columns.cfg", ROOT / "tests/configs/two-columns-params.cfg")
SHAPES = [(3, 32, 32), (1,)]


@pytest.fixture
def be():
    backend = get_backend("emulated")
    backend.synchronize()
    gc.collect()
    backend_ordering().raise_pending()
    yield backend
    gc.collect()
    backend.synchronize()        # a race found by the garbage collector belongs to the test that made it


def backend_ordering():
    from convnet.backends.emulated_memory import ORDERING
    return ORDERING


def fill(be, device, x, value):
    with device.activate():
        kernels(be, ELEMENTWISE).fill.launch(x.size, x, f32(value), i32(x.size))


def scale(be, device, x, y, alpha=2.0):
    with device.activate():
        kernels(be, ELEMENTWISE).scale.launch(x.size, x, y, f32(alpha), i32(x.size))


# ---- the checker itself ------------------------------------------------------------------------

def test_a_read_on_another_stream_needs_a_wait(be):
    d0, d1 = make_devices(be, 2)
    with d0.activate():
        x, y = be.empty(16), be.empty(16)
    fill(be, d0, x, 3.0)
    with pytest.raises(StreamRaceError, match="kernel scale on the stream of logical device 1 reads .* that "
                                              "kernel fill on the stream of logical device 0 wrote"):
        scale(be, d1, x, y)
    fill(be, d0, x, 3.0)
    with d1.activate():
        be._wait(be.stream(d1), be._record(be.stream(d0)))
    scale(be, d1, x, y)                                      # ordered by the event: no race
    assert np.all(be.to_host(y, d1) == 6)


def test_a_write_while_another_stream_reads_is_a_race(be):
    d0, d1 = make_devices(be, 2)
    with d0.activate():
        x = be.zeros(8)
    with d1.activate():
        y = be.empty(8)
        be._wait(be.stream(d1), be._record(be.stream(d0)))
    scale(be, d1, x, y)
    with pytest.raises(StreamRaceError, match="kernel fill on the stream of logical device 0 writes"):
        fill(be, d0, x, 1.0)
    be.synchronize()


def test_a_host_read_waits_for_the_writer(be):
    d0, _ = make_devices(be, 2)
    with d0.activate():
        x = be.empty(4)
    fill(be, d0, x, 5.0)
    with pytest.raises(StreamRaceError, match="a copy to the host on the null stream reads"):
        be._download(x, None)                 # CuPy's asnumpy outside the device's context, without a wait
    assert np.all(be.to_host(x, d0) == 5)     # on the device's stream, then waited for
    fill(be, d0, x, 6.0)
    assert np.all(be.to_host(x) == 6)         # without a device: after every stream


def test_memory_freed_while_another_stream_reads_it_is_a_race(be):
    d0, d1 = make_devices(be, 2)
    with d0.activate():
        x = be.empty(32)
    fill(be, d0, x, 1.0)
    with d1.activate():
        be._wait(be.stream(d1), be._record(be.stream(d0)))
        y = be.empty(32)
    scale(be, d1, x, y)
    del x                                       # back to d0's pool while d1 may still read it
    gc.collect()
    with pytest.raises(StreamRaceError, match="allocated on the stream of logical device 0, was freed while "
                                              "kernel scale on the stream of logical device 1 may still use it"):
        be.synchronize()


# ---- the fixes -----------------------------------------------------------------------------------

def test_a_copys_source_lives_until_the_reader_has_passed_it(be):
    d0, d1 = make_devices(be, 2)
    with d0.activate():
        temporary = be.empty(64)
    fill(be, d0, temporary, 7.0)
    copied = transfer(temporary, d0, d1)
    del temporary                              # the caller lets go at once, as Net._accumulate does
    gc.collect()
    with d0.activate():
        again = be.empty(64)                   # d0 allocates and writes again
    fill(be, d0, again, 0.0)
    assert np.all(be.to_host(copied, d1) == 7)


def test_without_keeping_the_source_the_copy_races(be, monkeypatch):
    monkeypatch.setattr(GpuPathBackend, "_keep_until_passed", lambda self, x, stream: None)
    d0, d1 = make_devices(be, 2)
    with d0.activate():
        temporary = be.empty(64)
    fill(be, d0, temporary, 7.0)
    transfer(temporary, d0, d1)
    del temporary
    gc.collect()
    with pytest.raises(StreamRaceError, match="was freed while a copy between devices"):
        be.synchronize()


def test_each_stream_has_its_own_blas_handle(be):
    d0, d1 = make_devices(be, 2)
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    b = np.arange(8, dtype=np.float32).reshape(4, 2) / 3
    outs = []
    for d in (d0, d1):
        with d.activate():
            out = be.empty((3, 2))
            be.gemm(be.from_host(a, d), be.from_host(b, d), out)    # concurrently: no shared workspace
            outs.append(out)
    with d0.activate():
        h0 = be.blas_handle()
    with d1.activate():
        h1 = be.blas_handle()
    assert h0 is not h1
    for d, out in zip((d0, d1), outs):
        np.testing.assert_allclose(be.to_host(out, d), a @ b, rtol=1e-6)


def test_one_handle_for_two_streams_races(be, monkeypatch):
    shared = {}
    monkeypatch.setattr(GpuPathBackend, "blas_handle",
                        lambda self: shared.setdefault("handle", self._new_handle(self._current_stream())))
    d0, d1 = make_devices(be, 2)
    with pytest.raises(StreamRaceError, match="a cuBLAS workspace"):
        for d in (d0, d1):
            with d.activate():
                be.gemm(be.from_host(np.ones((2, 2)), d), be.from_host(np.ones((2, 2)), d), be.empty((2, 2)))


def test_tf32_is_asked_for_on_each_gemm_and_does_not_stay(be):
    """TF32 rounds the operands' mantissas to 10 bits; a GEMM after it, with TF32 off, is exact again."""
    d0, = make_devices(be, 1)
    a = np.float32([[1 + 2 ** -20]])
    with d0.activate():
        x, out = be.from_host(a, d0), be.empty((1, 1))
        try:
            be.tf32 = True
            be.gemm(x, x, out)
            assert be.to_host(out, d0)[0, 0] == 1.0
            be.tf32 = False
            be.gemm(x, x, out)
            assert be.to_host(out, d0)[0, 0] == np.float32(a[0, 0] * a[0, 0])
        finally:
            be.tf32 = False


# ---- whole nets on two logical devices ----------------------------------------------------------

def _pass(backend, devices_cfg, steps=2):
    net = Net(load_graph(*devices_cfg, SHAPES), backend=backend, seed=4)
    rng = np.random.default_rng(1)
    costs = []
    for step in range(steps):
        batch = [rng.standard_normal((3, 32, 32, 8)).astype(np.float32) * 50,
                 rng.integers(0, 10, (1, 8)).astype(np.float32)]
        costs.append(net.forward(batch, train=True, step=step)["logprob"])
        net.backward()
        Solver(net).update(8, 0.0, step)
    return net, costs


def one_device(tmp_path):
    text = "\n".join(l for l in TWO[0].read_text().splitlines() if not l.startswith("gpu="))
    path = tmp_path / "one-device.cfg"
    path.write_text(text)
    return path, TWO[1]


def test_two_logical_devices_train_as_one(be, tmp_path):
    two, costs_two = _pass("emulated", TWO)
    one, costs_one = _pass("emulated", one_device(tmp_path))
    assert two.graph.n_devices == 2
    np.testing.assert_array_equal(costs_two, costs_one)
    for p, q in zip(two.parameters(), one.parameters()):
        np.testing.assert_array_equal(two.backend.to_host(p.value, p.layer.device),
                                      one.backend.to_host(q.value, q.layer.device), err_msg=p.path)


def test_a_gradient_summed_off_the_producers_stream_races(be, monkeypatch):
    """pool1 is read on both devices: its gradient is the sum of one computed on device 0 and one
    copied from device 1. Summed outside the device's context (the null stream), it races."""
    def on_the_null_stream(self, name, g, device):
        producer = self.graph[name]
        dst = self.devices[producer.device_index]
        if dst is not device:
            g = transfer(g, device, dst)
        self.grads[name] = self.grads[name] + g if name in self.grads else g
    monkeypatch.setattr(Net, "_accumulate", on_the_null_stream)
    with pytest.raises(StreamRaceError, match="on the null stream reads"):
        _pass("emulated", TWO, steps=1)


def test_costs_read_without_waiting_race(be, monkeypatch):
    monkeypatch.setattr(GpuPathBackend, "to_host", lambda self, x, device=None: self._download(x, None))
    with pytest.raises(StreamRaceError, match="a copy to the host on the null stream"):
        _pass("emulated", TWO, steps=1)


def test_train_test_features_and_show_on_two_logical_devices(be, tmp_path):
    """The commands, without a synchronization per step: every array read where it is ordered."""
    run = CliRunner()
    save = tmp_path / "run"
    result = run.invoke(main, ["train", "--layers", str(TWO[0]), "--params", str(TWO[1]), "--backend", "emulated",
                               "--epochs", "1", "--train-range", "1", "--test-range", "6", "--save-path", str(save)])
    assert result.exit_code == 0, result.output
    latest = str(save / "latest.h5")
    for args in (["test", "--load", latest], ["features", "--load", latest, "--layer", "fcb",
                                               "--out", str(tmp_path / "f.h5")],
                 ["show", "--load", latest, "--filters", "conv1", "--out", str(tmp_path / "s.png")]):
        result = run.invoke(main, args + ["--backend", "emulated"])
        assert result.exit_code == 0, (args, result.output)


# ---- the host path: uploads through pinned memory, costs read at test points --------------------

def _steps_without_reading(net, steps, mini=8):
    rng = np.random.default_rng(3)
    for step in range(steps):
        batch = [rng.standard_normal((3, 32, 32, mini)).astype(np.float32) * 50,
                 rng.integers(0, 10, (1, mini)).astype(np.float32)]
        net.forward(batch, train=True, step=step, read_costs=False)
        net.backward()
        Solver(net).update(mini, 0.0, step)


def test_the_batch_is_uploaded_once_per_physical_device_and_overlaps(be, monkeypatch):
    """Two logical devices on one physical: one upload per pass; four passes without a host wait
    (no cost read) are ordered by events alone."""
    uploads = []
    original = type(be)._upload_async
    monkeypatch.setattr(type(be), "_upload_async", lambda self, out, pinned, stream: (uploads.append(stream),
                                                                                       original(self, out, pinned, stream)))
    net = Net(load_graph(*TWO, SHAPES), backend="emulated", seed=4)
    _steps_without_reading(net, 4)
    assert len(uploads) == 4 * 2                       # images and labels, once per pass
    assert {s.name for s in uploads} == {"the stream of uploads to cpu"}
    be.synchronize()


def test_without_the_fences_the_next_upload_overwrites_a_batch_in_use(be, monkeypatch):
    from convnet.upload import Uploader
    monkeypatch.setattr(Uploader, "new_pass", lambda self: (setattr(self, "passes", self.passes + 1),
                                                            setattr(self, "uploaded", {})))
    net = Net(load_graph(*TWO, SHAPES), backend="emulated", seed=4)
    with pytest.raises(StreamRaceError, match="an upload from pinned memory on the stream of uploads to cpu writes"):
        _steps_without_reading(net, 3)
    be.synchronize()


def test_without_waiting_for_the_last_copy_the_host_overwrites_pinned_memory(be, monkeypatch):
    monkeypatch.setattr(type(be), "_host_wait", lambda self, event: None)
    net = Net(load_graph(*TWO, SHAPES), backend="emulated", seed=4)
    with pytest.raises(StreamRaceError, match="a host write to a .* buffer \\(pinned host memory\\) while an upload"):
        _steps_without_reading(net, 3)
    be.synchronize()


def test_training_reads_the_costs_at_test_points_and_names_a_divergence(be, tmp_path, monkeypatch):
    """On the GPU path the costs are read when a test point comes: the same numbers as reading them
    every step (numpy does), and a NaN still named at its minibatch."""
    reads = []
    original = CostTally.read
    monkeypatch.setattr(CostTally, "read", lambda self: reads.append(self.steps) or original(self))
    save = tmp_path / "run"
    args = ["train", "--layers", str(TWO[0]), "--params", str(TWO[1]), "--epochs", "1", "--train-range", "1",
            "--test-range", "6", "--test-freq", "5", "--mini", "100"]
    result = CliRunner().invoke(main, args + ["--backend", "emulated", "--save-path", str(save)])
    assert result.exit_code == 0, result.output
    assert reads == [5, 5, 5, 5]                        # 20 minibatches, a test point every 5
    numpy_run = CliRunner().invoke(main, args + ["--backend", "numpy", "--save-path", str(tmp_path / "numpy")])
    import h5py
    with h5py.File(save / "latest.h5") as f, h5py.File(tmp_path / "numpy/latest.h5") as g:
        np.testing.assert_allclose(f["history/train_cost"][:], g["history/train_cost"][:], rtol=1e-5)
        assert numpy_run.exit_code == 0
    wild = tmp_path / "wild.cfg"
    wild.write_text(TWO[1].read_text().replace("epsW=0.001", "epsW=1e9"))
    result = CliRunner().invoke(main, ["train", "--layers", str(TWO[0]), "--params", str(wild), "--epochs", "1",
                                       "--train-range", "1", "--test-range", "6", "--test-freq", "5", "--mini", "100",
                                       "--backend", "emulated", "--save-path", str(tmp_path / "wild")])
    assert result.exit_code == 1
    assert "the cost became" in result.output and "at minibatch 1." in result.output
    assert not (tmp_path / "wild/latest.h5").exists()
