"""The emulated backend's memory checks: a kernel that reads or writes past an array's last element,
or before its first, or indexes an array it declares past its size, stops with one error naming the
thread, the argument and element, and the source line (convnet/backends/emu_guard.h); arrays that
overlap stay aliased; no kernel of ours reaches past its arrays; new device memory reads as NaN, so
a read of memory nobody wrote shows."""
from pathlib import Path

import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.errors import BackendError
from convnet.graph import load_graph
from convnet.kernels import i32, kernels
from convnet.net import Net
from convnet.solver import Solver
from tests.helpers import ROOT, source_line

BOUNDS_KERNELS = str(Path(__file__).with_name("bounds_kernels.cu"))


def at(text):
    """The place a failure names: ", at bounds_kernels.cu:<the line holding text>" (a regex)."""
    return rf", at bounds_kernels\.cu:{source_line(BOUNDS_KERNELS, text)}$"


@pytest.fixture
def be():
    return get_backend("emulated")


def launch(be, name, n, *args):
    getattr(kernels(be, BOUNDS_KERNELS), name).launch(n, *args)


@pytest.mark.parametrize("guard", ["end", "start"])
def test_within_bounds_nothing_is_reported(be, guard, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", guard)
    x = be.from_host(np.arange(1000, dtype=np.float32), None)
    out = be.from_host(np.zeros(999, np.float32), None)
    launch(be, "shifted_copy", 999, x, out, i32(999), i32(1))
    np.testing.assert_array_equal(be.to_host(out), np.arange(1, 1000))


@pytest.mark.parametrize("guard,shift,element", [("end", 1, 1000), ("start", -1, -1)])
def test_a_read_past_an_array_names_thread_argument_and_element(be, guard, shift, element, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", guard)
    x = be.from_host(np.arange(1000, dtype=np.float32), None)
    out = be.from_host(np.full(1000, 7, np.float32), None)
    thread = 999 if shift > 0 else 0          # the one thread that crosses (one block of 256 loops over i)
    with pytest.raises(BackendError, match=rf"kernel shifted_copy: block \(\d+,0,0\): thread \({thread % 256},0,0\) "
                                           rf"reads element {element} of argument 0 \(x\), which has 1000"
                                           + at("out[i] = x[i + shift]")):
        launch(be, "shifted_copy", 1000, x, out, i32(1000), i32(shift))
    np.testing.assert_array_equal(be.to_host(out), 7)        # a failed launch writes nothing back


@pytest.mark.parametrize("guard,shift,element", [("end", 1, 1000), ("start", -1, -1)])
def test_a_write_past_an_array(be, guard, shift, element, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", guard)
    x = be.from_host(np.arange(1000, dtype=np.float32), None)
    out = be.empty(1000)
    with pytest.raises(BackendError, match=rf"writes element {element} of argument 1 \(out\), which has 1000"
                                           + at("out[i + shift] = x[i]")):
        launch(be, "shifted_store", 1000, x, out, i32(1000), i32(shift))


def test_without_the_guard_the_same_read_goes_unseen(be, monkeypatch):
    """What the check is for: off, the kernel reads the memory after x and reports nothing."""
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", "off")
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")        # which needs the guard
    x = be.from_host(np.arange(1000, dtype=np.float32), None)
    out = be.empty(1000)
    launch(be, "shifted_copy", 1000, x, out, i32(1000), i32(1))
    np.testing.assert_array_equal(be.to_host(out)[:999], np.arange(1, 1000))


@pytest.mark.parametrize("guard", ["end", "start", "off"])
def test_overlapping_arguments_stay_aliased(be, guard, monkeypatch):
    """dst = the array from element 1, src = the array to its last but one: thread by thread each copy
    reads the one before, so the first value runs through the whole array, as on a device (a race the
    race check would stop: it is off)."""
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", guard)
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    whole = be.from_host(np.arange(50, dtype=np.float32), None)
    launch(be, "serial_copy", 1, whole[:-1], whole[1:], i32(49))
    np.testing.assert_array_equal(be.to_host(whole), np.zeros(50))


@pytest.mark.parametrize("guard,name,shift,element", [("end", "shifted_copy", 1, 999), ("end", "shifted_store", 1, 999),
                                                   ("start", "shifted_copy", -1, -1), ("start", "shifted_store", -1, -1)])
def test_past_one_of_two_overlapping_arguments_names_that_one(be, guard, name, shift, element, monkeypatch):
    """x and out are two views of one array, one from its element 1 and one to its last but one, so
    they share one guarded copy: the failure names the argument whose own edge is the copy's edge (the
    view that ends at the array's end, or starts at its start), whichever argument it is. (Each thread
    reads what another writes: the race check, which would stop the launch there first, is off.)"""
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", guard)
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    whole = be.from_host(np.arange(1000, dtype=np.float32), None)
    head, tail = whole[:-1], whole[1:]
    reader = name == "shifted_copy"
    # the view whose edge is crossed: x (argument 0) for the read, out (argument 1) for the write
    crossed = tail if guard == "end" else head
    other = head if guard == "end" else tail
    x, out = (crossed, other) if reader else (other, crossed)
    verb, arg = ("reads", r"argument 0 \(x\)") if reader else ("writes", r"argument 1 \(out\)")
    with pytest.raises(BackendError, match=rf" {verb} element {element} of {arg}, which has 999, at "):
        launch(be, name, 999, x, out, i32(999), i32(shift))


@pytest.mark.parametrize("guard", ["end", "start"])
def test_an_empty_array_faults_at_its_first_element(be, guard, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", guard)
    with pytest.raises(BackendError, match=r"reads element 0 of argument 0 \(x\), which has 0"
                                           + at("out[i] = x[i + shift]")):
        launch(be, "shifted_copy", 1, be.empty(0), be.empty(1), i32(1), i32(0))


def test_an_unknown_guard_is_one_line(be, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", "both")
    with pytest.raises(BackendError, match="CONVNET_EMULATED_GUARD=both: expected end, start or off"):
        launch(be, "serial_copy", 1, be.empty(2), be.empty(2), i32(2))


def test_no_kernel_of_ours_reaches_before_its_arrays(monkeypatch):
    """Every layer type (configs/every-layer.cfg reaches every .cu file), forward, backward with the
    data gradients, and update, with the guard pages before each array (the rest of the suite runs with
    them after each, the default)."""
    monkeypatch.setenv("CONVNET_EMULATED_GUARD", "start")
    layers, params = ROOT / "configs/every-layer.cfg", ROOT / "configs/every-layer-params.cfg"
    rng = np.random.default_rng(5)
    batch = [rng.standard_normal((3, 9, 9, 8)).astype(np.float32), rng.integers(0, 5, (1, 8)).astype(np.float32)]
    net = Net(load_graph(layers, params, [(3, 9, 9), (1,)], data_info={"classes": 10}), backend="emulated", seed=3)
    costs = net.forward(batch, train=True, step=1)
    net.backward(data_grads=True)
    Solver(net).update(8, 0.0)
    assert len(costs) > 5 and all(np.isfinite(v).all() for v in costs.values())


def test_a_fault_in_a_block_of_fibers(be):
    """A kernel with a barrier runs each block's threads as fibers: the fault is caught on a fiber's
    stack, the launch stops with its line, and the next launch runs whole."""
    x = be.from_host(np.arange(64, dtype=np.float32), None)
    out = be.from_host(np.zeros(128, np.float32), None)
    with pytest.raises(BackendError, match=r"kernel reversed_through_shared: block \([01],0,0\): thread \(63,0,0\) "
                                           r"reads element 64 of argument 0 \(x\), which has 64"
                                           + at("s[63 - t] + x[t + shift]")):
        getattr(kernels(be, BOUNDS_KERNELS), "reversed_through_shared")((2, 1, 1), (64, 1, 1), x, out, i32(1))
    getattr(kernels(be, BOUNDS_KERNELS), "reversed_through_shared")((2, 1, 1), (64, 1, 1), x, out, i32(0))
    np.testing.assert_array_equal(be.to_host(out), np.tile(np.full(64, 63.0), 2))


def test_memory_nobody_wrote_reads_as_nan(be):
    """A kernel that adds to new memory instead of zeroed memory: on a GPU it gets whatever was there
    (often zeros, so the bug hides); on the emulator every element is a NaN."""
    x = be.from_host(np.arange(10, dtype=np.float32), None)
    fresh, zeroed = be.empty(10), be.zeros(10)
    launch(be, "accumulate", 10, x, fresh, i32(10))
    launch(be, "accumulate", 10, x, zeroed, i32(10))
    assert np.isnan(be.to_host(fresh)).all()
    np.testing.assert_array_equal(be.to_host(zeroed), np.arange(10))
    assert (be.to_host(be.from_host_int(np.zeros(3), None)) == 0).all()        # uploads are what was sent
    assert (be.xp.empty(3, np.int32).view(np.ndarray) == np.iinfo(np.int32).min).all()
    through_xp = be.xp.zeros(10)                  # cupy.zeros' twin: device memory, and zeroed
    launch(be, "accumulate", 10, x, through_xp, i32(10))
    np.testing.assert_array_equal(be.to_host(through_xp), np.arange(10))


@pytest.mark.parametrize("past,thread,line", [(1, 63, "// the __shared__ array"), (2, 0, "// the local array")])
def test_an_index_past_an_array_the_kernel_declares(be, past, thread, line):
    """__shared__ and local arrays: the compiler's own bounds checks, each naming its line."""
    x = be.from_host(np.arange(64, dtype=np.float32), None)
    out = be.empty(64)
    kernel = getattr(kernels(be, BOUNDS_KERNELS), "declared_arrays")
    with pytest.raises(BackendError, match=rf"kernel declared_arrays: block \(0,0,0\): thread \({thread},0,0\) "
                                           rf"indexes an array it declares \(__shared__ or local\) past its size"
                                           + at(line)):
        kernel((1, 1, 1), (64, 1, 1), x, out, i32(past))
    kernel((1, 1, 1), (64, 1, 1), x, out, i32(0))
    t = np.arange(64)
    np.testing.assert_array_equal(be.to_host(out), t + t % 4 + 1)       # s[t] = x[t] = t, local[t % 4] = t % 4 + 1
