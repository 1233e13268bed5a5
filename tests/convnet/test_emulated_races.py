"""The emulated backend's race check (CONVNET_EMULATED_RACECHECK=on, convnet/backends/emu_race.h): two
threads of a launch that touch one word, one of them writing, with nothing ordering them, stop the
launch with one line naming both threads, the word and both source lines, in either thread order,
for global memory (one block or two), __shared__ variables and dynamic shared memory; barriers,
warp operations (within a warp) and atomics order what they should, and nothing is reported where
nothing races. Every result here is the same in both thread orders, so the order alone cannot tell a
race; no kernel of ours has one; and the check finds the race a missing barrier in softmax.cu makes."""
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.backends.emulated import EmulatedBackend
from convnet.errors import BackendError
from convnet.graph import load_graph
from convnet.kernels import i32, kernels, source
from convnet.net import Net
from convnet.solver import Solver
from tests.helpers import ROOT, source_line

RACE_KERNELS = Path(__file__).with_name("race_kernels.cu")
BLOCK_KERNELS = Path(__file__).with_name("race_block_kernels.cu")
ORDERS = ["forward", "reverse"]
NO_BARRIER = "with no __syncthreads between them: a race"
BETWEEN_BLOCKS = r"\(the blocks of a launch run in no set order\): a race"


@pytest.fixture
def be():
    return get_backend("emulated")


@pytest.fixture
def checked(monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "on")


@pytest.fixture(params=ORDERS)
def order(request, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", request.param)
    return request.param


def device(be, values, dtype=np.float32):
    values = np.asarray(values, dtype)
    return be.from_host_int(values, None) if dtype == np.int32 else be.from_host(values, None)


def race(be, path, name, grid, block, *args, shared=0):
    getattr(kernels(be, str(path)), name)(grid, block, *args, shared=shared)


def places(path, this, other):
    """The failure's end: where this access and the other one are (a regex)."""
    file = re.escape(path.name)
    return (rf", at {file}:{source_line(path, this)} \(the other access, at {file}:"
            rf"{source_line(path, other)}\)$")


# ---- races in global memory ---------------------------------------------------------------------

@pytest.mark.usefixtures("checked")
@pytest.mark.parametrize("order,threads", [("forward", ("1", "0")), ("reverse", ("62", "63"))], indirect=["order"])
def test_two_threads_writing_one_word(be, order, threads):
    now, before = threads
    with pytest.raises(BackendError, match=rf"^kernel one_place: block \(0,0,0\): thread \({now},0,0\) writes element 0 "
                                           rf"of argument 0 \(out\), which thread \({before},0,0\) wrote {NO_BARRIER}"
                                           + places(RACE_KERNELS, "out[0] = 1.0f", "out[0] = 1.0f")):
        race(be, RACE_KERNELS, "one_place", (1, 1, 1), (64, 1, 1), be.empty(4))


@pytest.mark.usefixtures("checked")
def test_a_read_of_what_another_thread_wrote_and_a_write_of_what_another_read(be, order):
    """Thread i reads out[i - 1]: in thread order the read comes after the neighbour's write, in reverse
    order the write after the neighbour's read; both are the race."""
    if order == "forward":
        expected = (r"thread \(1,0,0\) reads element 0 of argument 1 \(out\), which thread \(0,0,0\) wrote "
                    + NO_BARRIER + places(RACE_KERNELS, "out[i] += out[i - 1]", "out[i] = x[i];"))
    else:
        expected = (r"thread \(62,0,0\) writes element 62 of argument 1 \(out\), which thread \(63,0,0\) read "
                    + NO_BARRIER + places(RACE_KERNELS, "out[i] = x[i];", "out[i] += out[i - 1]"))
    with pytest.raises(BackendError, match=expected):
        race(be, RACE_KERNELS, "prefix_step", (1, 1, 1), (64, 1, 1), device(be, np.arange(64)), be.empty(64), i32(64))


@pytest.mark.usefixtures("checked")
@pytest.mark.parametrize("order,blocks", [("forward", ("1", "0")), ("reverse", ("0", "1"))], indirect=["order"])
def test_two_blocks_writing_the_same_words(be, order, blocks):
    now, before = blocks
    thread = "0" if order == "forward" else "63"
    with pytest.raises(BackendError, match=rf"^kernel every_block_the_same: block \({now},0,0\): thread \({thread},0,0\) "
                                           rf"writes element {thread} of argument 0 \(out\), which thread "
                                           rf"\({thread},0,0\) of block \({before},0,0\) wrote {BETWEEN_BLOCKS}"):
        race(be, RACE_KERNELS, "every_block_the_same", (2, 1, 1), (64, 1, 1), be.empty(64))


@pytest.mark.usefixtures("checked")
def test_a_wide_store_covers_each_of_its_words(be):
    with pytest.raises(BackendError, match=r"thread \(1,0,0\) writes element 1 of argument 0 \(out\), which thread "
                                           rf"\(0,0,0\) wrote {NO_BARRIER}"):
        race(be, RACE_KERNELS, "wide_store", (1, 1, 1), (2, 1, 1), be.empty(2))


def test_overlapping_scratch_slices_give_the_right_sums_and_are_a_race(be, monkeypatch):
    """cost.msm's kind of bug: each thread's workspace slice overlaps the next one's. One thread after
    another, every sum is right in either order; only the check sees the race."""
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    for order in ORDERS:
        monkeypatch.setenv("CONVNET_EMULATED_ORDER", order)
        out = be.empty(8)
        race(be, RACE_KERNELS, "scratch_slices", (1, 1, 1), (8, 1, 1), be.empty(64), out, i32(8), i32(7))
        np.testing.assert_array_equal(be.to_host(out), 36)
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "on")
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", "forward")
    with pytest.raises(BackendError, match=r"thread \(1,0,0\) writes element 7 of argument 0 \(work\), which thread "
                                           rf"\(0,0,0\) wrote {NO_BARRIER}"):
        race(be, RACE_KERNELS, "scratch_slices", (1, 1, 1), (8, 1, 1), be.empty(64), be.empty(8), i32(8), i32(7))
    out = be.empty(8)                                            # slices of their own: no race
    race(be, RACE_KERNELS, "scratch_slices", (1, 1, 1), (8, 1, 1), be.empty(64), out, i32(8), i32(8))
    np.testing.assert_array_equal(be.to_host(out), 36)


@pytest.mark.usefixtures("checked")
def test_arguments_that_overlap_share_their_words(be, order):
    """dst is src moved by one element (two views of one array): thread i writes the word thread i + 1
    reads. The word is named by the argument the access could go through: a write by dst."""
    a = device(be, np.arange(65))
    if order == "forward":
        expected = r"thread \(1,0,0\) reads element 1 of argument 0 \(src\), which thread \(0,0,0\) wrote "
    else:
        expected = r"thread \(62,0,0\) writes element 62 of argument 1 \(dst\), which thread \(63,0,0\) read "
    with pytest.raises(BackendError, match=expected + NO_BARRIER):
        race(be, RACE_KERNELS, "copy_over", (1, 1, 1), (64, 1, 1), a[:64], a[1:], i32(64))
    race(be, RACE_KERNELS, "copy_over", (1, 1, 1), (64, 1, 1), a, a, i32(65))        # in place: each its own
    np.testing.assert_array_equal(be.to_host(a), np.arange(65))


@pytest.mark.usefixtures("checked")
def test_reads_alone_and_atomic_updates_do_not_race(be, order):
    out = be.empty(128)
    race(be, RACE_KERNELS, "broadcast", (2, 1, 1), (64, 1, 1), device(be, [5.0]), out, i32(128))
    np.testing.assert_array_equal(be.to_host(out), 5 + np.arange(128))
    count, total = device(be, [0], np.int32), be.zeros(1)
    race(be, RACE_KERNELS, "count_threads", (2, 1, 1), (64, 1, 1), count, total, device(be, np.zeros(128), np.int32), i32(0))
    assert be.to_host(count).tolist() == [128] and be.to_host(total).tolist() == [128.0]


@pytest.mark.usefixtures("checked")
def test_a_write_races_with_a_read_by_another_thread_of_its_group(be, order):
    """Every thread of one warp reads out[0] (and keeps it in out[1 + t]), and thread 1 then writes it:
    thread 1's own read does not stand for the others'."""
    other = "0" if order == "forward" else r"([02-9]|[1-5]\d|6[0-3])"
    with pytest.raises(BackendError, match=rf"thread \(1,0,0\) writes element 0 of argument 0 \(out\), which thread "
                                           rf"\({other},0,0\) read {NO_BARRIER}"):
        race(be, RACE_KERNELS, "read_then_one_writes", (1, 1, 1), (32, 1, 1), device(be, np.full(33, 3.0)))


@pytest.mark.usefixtures("checked")
def test_a_plain_read_then_an_atomic_add_by_one_thread(be, order):
    """Thread 0 reads total plainly, then adds to it atomically, as every thread does: its atomic
    operations (a load and a compare-and-swap) do not stand for its plain read, which races with the
    other threads' adds."""
    if order == "forward":
        expected = (r"thread \(1,0,0\) updates element 0 of argument 0 \(total\) atomically, which thread \(0,0,0\) "
                    rf"read {NO_BARRIER}")
    else:
        expected = rf"thread \(0,0,0\) reads element 0 of argument 0 \(total\), which thread \(\d+,0,0\) updated atomically"
    with pytest.raises(BackendError, match=expected):
        race(be, RACE_KERNELS, "read_then_add", (1, 1, 1), (64, 1, 1), be.zeros(1), be.empty(1))


@pytest.mark.usefixtures("checked")
def test_a_plain_read_races_with_other_threads_atomic_updates(be):
    with pytest.raises(BackendError, match=r"^kernel count_threads: block \(0,0,0\): thread \(1,0,0\) updates element 0 of "
                                           r"argument 0 \(count\) atomically, which thread \(0,0,0\) read "
                                           + NO_BARRIER + places(RACE_KERNELS, "atomicAdd(count, 1)",
                                                                 "seen[t] = *count")):
        race(be, RACE_KERNELS, "count_threads", (2, 1, 1), (64, 1, 1), device(be, [0], np.int32), be.zeros(1),
             device(be, np.zeros(128), np.int32), i32(1))


# ---- races in shared memory, barriers and warps -----------------------------------------------------

@pytest.mark.usefixtures("checked")
def test_shared_memory_read_without_a_barrier(be, order):
    x = device(be, np.arange(128))
    if order == "forward":
        expected = (r"block \(0,0,0\): thread \(1,0,0\) writes element 1 of __shared__ s, which thread \(0,0,0\) read "
                    + NO_BARRIER + places(BLOCK_KERNELS, "s[t] = x[blockIdx.x * n + t]", "s[(t + 1) % n]"))
    else:
        expected = (r"block \(1,0,0\): thread \(62,0,0\) reads element 63 of __shared__ s, which thread \(63,0,0\) wrote "
                    + NO_BARRIER + places(BLOCK_KERNELS, "s[(t + 1) % n]", "s[t] = x[blockIdx.x * n + t]"))
    with pytest.raises(BackendError, match=expected):
        race(be, BLOCK_KERNELS, "neighbour_through_shared", (2, 1, 1), (64, 1, 1), x, be.empty(128), i32(0))


@pytest.mark.usefixtures("checked")
def test_a_barrier_orders_the_block_and_each_block_has_its_own_shared_memory(be, order):
    out = be.empty(128)
    race(be, BLOCK_KERNELS, "neighbour_through_shared", (2, 1, 1), (64, 1, 1), device(be, np.arange(128)), out, i32(1))
    expected = np.arange(128).reshape(2, 64)
    np.testing.assert_array_equal(be.to_host(out), np.roll(expected, -1, axis=1).ravel())


@pytest.mark.usefixtures("checked")
def test_dynamic_shared_memory(be, order):
    x = device(be, np.arange(64))
    byte, verb = ("4", "writes") if order == "forward" else ("252", "reads")
    with pytest.raises(BackendError, match=rf"thread \((1|62),0,0\) {verb} byte {byte} of the dynamic shared memory, "
                                           rf"which thread \((0|63),0,0\) (read|wrote) {NO_BARRIER}"):
        race(be, BLOCK_KERNELS, "neighbour_through_dynamic", (1, 1, 1), (64, 1, 1), x, be.empty(64), i32(0), shared=256)
    out = be.empty(64)
    race(be, BLOCK_KERNELS, "neighbour_through_dynamic", (1, 1, 1), (64, 1, 1), x, out, i32(1), shared=256)
    np.testing.assert_array_equal(be.to_host(out), np.roll(np.arange(64), -1))


@pytest.mark.usefixtures("checked")
def test_a_syncwarp_orders_a_warp_and_not_two(be, order):
    x, out = device(be, np.arange(64)), be.empty(64)
    race(be, BLOCK_KERNELS, "partner_after_syncwarp", (1, 1, 1), (64, 1, 1), x, out, i32(1))
    np.testing.assert_array_equal(be.to_host(out), np.arange(64) ^ 1)
    with pytest.raises(BackendError, match=r"reads element (32|31) of __shared__ s, which thread \((32|31),0,0\) wrote "
                                           + NO_BARRIER):
        race(be, BLOCK_KERNELS, "partner_after_syncwarp", (1, 1, 1), (64, 1, 1), x, out, i32(32))


@pytest.mark.usefixtures("checked")
def test_every_reader_of_a_word_counts_where_a_warp_operation_orders_some(be, order):
    """64 threads read s[0], then thread 0 overwrites it after a __syncwarp: its own warp's reads are
    ordered before the write, the other warp's race with it (however many reads came between)."""
    x, out = device(be, [7.0]), be.empty(64)
    with pytest.raises(BackendError, match=r"thread \(0,0,0\) writes element 0 of __shared__ s, which thread "
                                           rf"\((3[2-9]|[4-5]\d|6[0-3]),0,0\) read {NO_BARRIER}"):
        race(be, BLOCK_KERNELS, "read_then_overwrite", (1, 1, 1), (64, 1, 1), x, out, i32(0))
    race(be, BLOCK_KERNELS, "read_then_overwrite", (1, 1, 1), (64, 1, 1), x, out, i32(1))
    np.testing.assert_array_equal(be.to_host(out), 7)


@pytest.mark.usefixtures("checked")
def test_a_read_after_a_barrier_races_with_another_blocks_atomic_adds(be, order):
    """The last block's read of the count follows its own block's adds (a barrier), not block 0's; with
    one block, nothing races."""
    if order == "forward":
        expected = (r"block \(1,0,0\): thread \(0,0,0\) reads element 0 of argument 0 \(count\), which thread "
                    rf"\(\d+,0,0\) of block \(0,0,0\) updated atomically {BETWEEN_BLOCKS}")
    else:
        expected = (r"block \(0,0,0\): thread \(63,0,0\) updates element 0 of argument 0 \(count\) atomically, which "
                    rf"thread \(0,0,0\) of block \(1,0,0\) read {BETWEEN_BLOCKS}")
    with pytest.raises(BackendError, match=expected):
        race(be, BLOCK_KERNELS, "count_then_read", (2, 1, 1), (64, 1, 1), device(be, [0], np.int32),
             device(be, [0], np.int32))
    count, seen = device(be, [0], np.int32), device(be, [0], np.int32)
    race(be, BLOCK_KERNELS, "count_then_read", (1, 1, 1), (64, 1, 1), count, seen)
    assert be.to_host(count).tolist() == [64] and be.to_host(seen).tolist() == [64]


@pytest.mark.usefixtures("checked")
def test_atomic_adds_to_shared_memory_between_barriers(be, order):
    out = be.empty(2)
    race(be, BLOCK_KERNELS, "shared_atomic_sum", (2, 1, 1), (64, 1, 1), device(be, np.arange(64)), out)
    np.testing.assert_array_equal(be.to_host(out), [2016, 2016])


# ---- our kernels ----------------------------------------------------------------------------------

def every_layer_step(seed):
    """A training step of configs/every-layer.cfg (it reaches every .cu file): costs and new weights."""
    rng = np.random.default_rng(4)
    batch = [rng.standard_normal((3, 9, 9, 8)).astype(np.float32), rng.integers(0, 5, (1, 8)).astype(np.float32)]
    net = Net(load_graph(ROOT / "configs/every-layer.cfg", ROOT / "configs/every-layer-params.cfg",
                         [(3, 9, 9), (1,)], data_info={"classes": 10}), backend="emulated", seed=seed)
    costs = net.forward(batch, train=True, step=1)
    net.backward(data_grads=True)
    Solver(net).update(8, 0.0)
    return costs, [net.backend.to_host(p.value) for p in net.parameters()]


def test_no_kernel_of_ours_races(monkeypatch):
    """Every layer type, forward, backward with the data gradients, and update, with the race check: no
    race, and the same bits as without the check."""
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    plain_costs, plain_weights = every_layer_step(seed=6)
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "on")
    costs, weights = every_layer_step(seed=6)
    assert costs.keys() == plain_costs.keys() and len(costs) > 5 and len(weights) > 10
    for name in costs:
        assert np.isfinite(costs[name]).all(), name
        np.testing.assert_array_equal(costs[name], plain_costs[name], err_msg=name)
    for a, b in zip(weights, plain_weights):
        np.testing.assert_array_equal(a, b)


def test_the_barrier_softmax_needs_is_found_missing(be, tmp_path, monkeypatch):
    """softmax.cu with the __syncthreads after row 0 is read taken out: the next reduction's write of row
    0 races with the other rows' reads of it."""
    barrier = "    __syncthreads();                       // every thread has read row 0 before part is written again\n"
    text = (ROOT / "layers/softmax.cu").read_text()
    assert text.count(barrier) == 1
    broken = tmp_path / "softmax.cu"
    broken.write_text(text.replace(barrier, "\n"))
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "on")
    K, N = 40, 32
    x = device(be, np.random.default_rng(0).standard_normal((K, N)))
    with pytest.raises(BackendError, match=r"kernel softmax_forward: block \(0,0,0\): thread \(\d+,\d+,0\) \w+ element "
                                           rf"\d+ of __shared__ part, which thread \(\d+,\d+,0\) \w+ {NO_BARRIER}"
                                           r", at softmax\.cu:\d+"):
        race(be, broken, "softmax_forward", (1, 1, 1), (32, 32, 1), x, be.empty(K * N), i32(K), i32(N))
    y = be.empty(K * N)                                          # the file as it is: no race
    race(be, ROOT / "layers/softmax.cu", "softmax_forward", (1, 1, 1), (32, 32, 1), x, y, i32(K), i32(N))
    np.testing.assert_allclose(be.to_host(y).reshape(K, N).sum(axis=0), 1, rtol=1e-5)


# ---- settings -------------------------------------------------------------------------------------

def test_without_the_check_the_race_goes_unseen(be, monkeypatch):
    """The check is off unless asked for."""
    monkeypatch.delenv("CONVNET_EMULATED_RACECHECK", raising=False)
    out = be.empty(4)
    race(be, RACE_KERNELS, "one_place", (1, 1, 1), (64, 1, 1), out)
    assert be.to_host(out)[0] == 1


@pytest.mark.parametrize("settings,message", [
    ({"CONVNET_EMULATED_RACECHECK": "yes"}, "CONVNET_EMULATED_RACECHECK=yes: expected on or off"),
    ({"CONVNET_EMULATED_RACECHECK": "on", "CONVNET_EMULATED_GUARD": "off"},
     "CONVNET_EMULATED_RACECHECK=on checks the arrays' guarded copies: set CONVNET_EMULATED_GUARD to end or "
     "start, not off"),
], ids=["an unknown value", "with the guard off"])
def test_a_setting_the_check_cannot_take_is_one_line(be, settings, message, monkeypatch):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(BackendError, match=f"^{re.escape(message)}$"):
        race(be, RACE_KERNELS, "one_place", (1, 1, 1), (64, 1, 1), be.empty(4))


def test_a_compiler_without_the_instrumentation_is_one_line(tmp_path, monkeypatch):
    """The race check needs GCC's -fsanitize=thread: a compiler that rejects it fails the launch that asks
    for the check, naming the file, and the same kernels still run without it."""
    fake = tmp_path / "c++"
    fake.write_text('#!/bin/sh\ncase "$*" in *-fsanitize=thread*) echo "c++: error: unsupported option '
                    '\'-fsanitize=thread\'" >&2; exit 1;; esac\nexec g++ "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CXX", str(fake))
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path / "cache"))
    be = EmulatedBackend()
    module = be.compile(source(str(RACE_KERNELS)))
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "on")
    with pytest.raises(BackendError, match=rf"^the emulated backend could not compile {re.escape(str(RACE_KERNELS))} "
                                           r"with the race check \(GCC's -fsanitize=thread\): c\+\+: error: "
                                           r"unsupported option '-fsanitize=thread'$"):
        module["one_place"]((1, 1, 1), (64, 1, 1), [be.empty(4)])
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    out = be.empty(4)
    module["one_place"]((1, 1, 1), (64, 1, 1), [out])
    assert be.to_host(out)[0] == 1
