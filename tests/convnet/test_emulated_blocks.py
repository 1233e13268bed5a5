"""What a block's threads share, on the emulated backend (and on a GPU where there is one): __shared__
memory (fixed and dynamic), __syncthreads and the warp operations, against results computed here in
NumPy; what CUDA leaves undefined is one clear error; CONVNET_EMULATED_ORDER=reverse exposes a race,
and no kernel of ours has one."""
from pathlib import Path

import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.errors import BackendError
from convnet.graph import load_graph
from convnet.kernels import i32, kernels
from convnet.net import Net
from convnet.solver import Solver
from tests.conftest import GPU_BACKENDS
from tests.helpers import ROOT, source_line

BLOCK_KERNELS = Path(__file__).with_name("block_kernels.cu")
ORDERS = ["forward", "reverse"]


def line_of(text):
    return source_line(BLOCK_KERNELS, text)


@pytest.fixture
def order(request, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", request.param)
    return request.param


def run(backend, name, grid, block, *args):
    be = get_backend(backend)
    getattr(kernels(be, str(BLOCK_KERNELS)), name)(grid, block, *args)
    return be


def integers(shape, seed=0):
    """Integer-valued floats: their sums are exact in any order, so results compare bit for bit."""
    return np.random.default_rng(seed).integers(-50, 51, shape).astype(np.float32)


@pytest.mark.parametrize("order", ORDERS, indirect=True)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_a_tree_in_shared_memory_sums_each_block(backend, order):
    x = integers(5 * 128)
    be = get_backend(backend)
    sums = be.empty(5)
    run(backend, "block_sums", (5, 1, 1), (128, 1, 1), be.from_host(x, None), sums)
    np.testing.assert_array_equal(be.to_host(sums), x.reshape(5, 128).sum(axis=1))


def test_a_missing_barrier_gives_other_results_in_the_other_order(monkeypatch):
    """racy_block_sums reads partial sums other threads have not written yet: in thread order thread 0
    adds 8 of the 128 values; in reverse order every thread finishes before a lower one reads it. (The
    race check, which would stop the launch, is off: this is what the order alone shows.)"""
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    x = integers(2 * 128)
    be = get_backend("emulated")
    results = {}
    for order in ORDERS:
        monkeypatch.setenv("CONVNET_EMULATED_ORDER", order)
        sums = be.empty(2)
        run("emulated", "racy_block_sums", (2, 1, 1), (128, 1, 1), be.from_host(x, None), sums)
        results[order] = be.to_host(sums)
    blocks = x.reshape(2, 128)
    np.testing.assert_array_equal(results["forward"], blocks[:, [0, 64, 32, 16, 8, 4, 2, 1]].sum(axis=1))
    np.testing.assert_array_equal(results["reverse"], blocks.sum(axis=1))


@pytest.mark.parametrize("order", ORDERS, indirect=True)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_a_transpose_through_a_tile_with_2d_blocks(backend, order):
    rows, cols = 37, 21
    x = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    be = get_backend(backend)
    out = be.empty((cols, rows))
    run(backend, "transpose", (2, 3, 1), (16, 16, 1), be.from_host(x, None), out, i32(rows), i32(cols))
    np.testing.assert_array_equal(be.to_host(out), x.T)


def warp_ops_reference(x, threads, n):
    """What warp_ops writes, lane by lane: loops over each warp written for this test."""
    out = np.zeros((n, 10), np.float32)
    v = np.concatenate([x, np.zeros(-len(x) % threads, np.float32)])
    for block_start in range(0, len(v), threads):
        for first in range(0, threads, 32):
            lanes = min(32, threads - first)
            w = v[block_start + first: block_start + first + lanes].astype(np.float64)
            down = w.copy()
            for d in (16, 8, 4, 2, 1):
                down = np.array([down[i] + down[i + d] if i + d < lanes else down[i] for i in range(lanes)])
            scan = np.array([w[i - i % 8: i + 1].sum() for i in range(lanes)])
            ballot = sum(1 << i for i in range(lanes) if w[i] > 0)
            for i in range(lanes):
                k = block_start + first + i
                if k < n:
                    out[k] = [w.sum() if lanes == 32 else w[i], down[i], scan[i], w[0], w[(i + 1) % lanes],
                              ballot & 0xffff, ballot >> 16, int(np.any(w > 100)) + 2 * int(np.all(w > -100)),
                              w[i - i % 8: i - i % 8 + 8].sum(), w[i - 8] if i % 16 >= 8 else w[i]]
    return out


@pytest.mark.parametrize("order", ORDERS, indirect=True)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_warp_shuffles_votes_and_partial_warps(backend, order):
    """Blocks of 80 threads: two whole warps and one of 16 lanes (its mask 0xffff); one warp holds a
    value above 100 (any) and one a value below -100 (all)."""
    threads, n = 80, 230
    x = integers(n, seed=1)
    x[5], x[100] = 200, -200
    be = get_backend(backend)
    out = be.empty(10 * n)
    run(backend, "warp_ops", (3, 1, 1), (threads, 1, 1), be.from_host(x, None), out, i32(n))
    got = be.to_host(out).reshape(n, 10)
    np.testing.assert_array_equal(got, warp_ops_reference(x, threads, n))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_shuffles_whose_source_is_past_the_edge_of_their_group(backend):
    """CUDA's rules, lane by lane: shfl_down and shfl_up do not wrap at the width (the lanes whose source
    lies past it keep their own value); shfl takes its source lane modulo the width, in the lane's group."""
    be = get_backend(backend)
    out = be.empty(6 * 32)
    run(backend, "shuffles_at_the_edges", (1, 1, 1), (32, 1, 1), out)
    expected = []
    for i in range(32):
        first = i - i % 8
        expected.append([i + 3 if i + 3 < 32 else i, i + 3 if i % 8 + 3 < 8 else i,
                         i - 3 if i >= 3 else i, i - 3 if i % 8 >= 3 else i, 37 % 32, first + 9 % 8])
    np.testing.assert_array_equal(be.to_host(out).reshape(32, 6), 100 + np.array(expected, np.float32))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_a_shuffle_from_outside_its_mask(backend):
    """Defined lanes get their neighbour's value; on the emulator the undefined ones get a NaN."""
    be = get_backend(backend)
    out = be.from_host(np.zeros(16, np.float32), None)
    run(backend, "shuffle_outside_mask", (1, 1, 1), (32, 1, 1), out)
    got = be.to_host(out)
    np.testing.assert_array_equal(got[:8], np.arange(8, 16))
    if backend == "emulated":
        assert np.isnan(got[8:]).all()


UNDEFINED = [
    ("barrier_some_skip", 32, r"block \(0,0,0\): thread \(0,0,0\) waits at the __syncthreads on line {}, which "
                              r"thread \(16,0,0\) never reaches \(it has returned\)",
     ["threadIdx.x < 16) __syncthreads"]),
    ("barriers_apart", 8, r"block \(0,0,0\): thread \(0,0,0\) waits at the __syncthreads on line {}, thread "
                          r"\(1,0,0\) at the one on line {}", ["// even threads", "// odd threads"]),
    ("warp_ops_apart", 32, r"block \(0,0,0\): thread \(0,0,0\) __shfl_xor_sync \(line {}, mask 0xffffffff\): lane 1, "
                           r"which the mask names, waits in another warp operation \(line {}\)",
     ["// even lanes", "// odd lanes"]),
    ("warp_op_kinds_apart", 32, r"block \(0,0,0\): thread \(0,0,0\) __shfl_xor_sync \(line {}, mask 0xffffffff\): "
                                r"lane 1, which the mask names, waits in another warp operation \(line {}\)",
     ["__shfl_sync(~0u, v, 0) :", "__shfl_sync(~0u, v, 0) :"]),
    ("warp_masks_apart", 32, r"block \(0,0,0\): thread \(0,0,0\) __shfl_xor_sync \(line {}, mask 0x00000003\): lane 1, "
                             r"which the mask names, waits in another warp operation \(line {}\)",
     ["__shfl_xor_sync(mask, (float)", "__shfl_xor_sync(mask, (float)"]),
    ("mask_without_own_lane", 32, r"block \(0,0,0\): thread \(0,0,0\) __shfl_sync \(line {}\): its mask 0x00000002 "
                                  r"leaves out its own lane 0", ["__shfl_sync(0x2u"]),
    ("mask_past_the_block", 16, r"block \(0,0,0\): thread \(0,0,0\) __shfl_xor_sync \(line {}\): its mask 0xffffffff "
                                r"names lane 16, which this block's last warp \(16 threads\) does not have",
     ["__shfl_xor_sync(0xff"]),
]


@pytest.mark.parametrize("order", ["forward"], indirect=True)
@pytest.mark.parametrize("name,threads,message,fragments", UNDEFINED, ids=[u[0] for u in UNDEFINED])
def test_what_cuda_leaves_undefined_stops_the_launch_with_one_line(name, threads, message, fragments, order):
    be = get_backend("emulated")
    out = be.from_host(np.zeros(threads, np.float32), None)
    expected = f"kernel {name}: " + message.format(*[line_of(f) for f in fragments])
    with pytest.raises(BackendError, match=expected):
        run("emulated", name, (1, 1, 1), (threads, 1, 1), out)
    # The failure was this launch's: the next one of the same library runs.
    x = integers(128)
    sums = be.empty(1)
    run("emulated", "block_sums", (1, 1, 1), (128, 1, 1), be.from_host(x, None), sums)
    assert be.to_host(sums)[0] == x.sum()


@pytest.mark.parametrize("order", ORDERS, indirect=True)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_dynamic_shared_memory_sized_at_launch(backend, order):
    """Blocks of 96 threads (not a power of 2), 96 floats of dynamic shared memory each."""
    x = np.arange(3 * 96, dtype=np.float32)
    be = get_backend(backend)
    out = be.empty(3 * 96)
    kernel = getattr(kernels(be, str(BLOCK_KERNELS)), "reverse_each_block")
    kernel((3, 1, 1), (96, 1, 1), be.from_host(x, None), out, shared=96 * 4)
    np.testing.assert_array_equal(be.to_host(out), x.reshape(3, 96)[:, ::-1].ravel())


def test_past_the_dynamic_shared_memory(monkeypatch):
    """64 floats for 96 threads: thread 64 is the first to write past them (threads run in order)."""
    be = get_backend("emulated")
    kernel = getattr(kernels(be, str(BLOCK_KERNELS)), "reverse_each_block")
    with pytest.raises(BackendError, match=rf"kernel reverse_each_block: block \(0,0,0\): thread \(64,0,0\) writes "
                                           rf"byte 256 of the dynamic shared memory, which has 256 bytes, at "
                                           rf"block_kernels\.cu:{line_of('values[t] = x[base + t]')}$"):
        kernel((1, 1, 1), (96, 1, 1), be.from_host(np.zeros(96, np.float32), None), be.empty(96), shared=64 * 4)


def test_dynamic_shared_memory_nobody_wrote_reads_as_nan():
    be = get_backend("emulated")
    out = be.from_host(np.zeros(32, np.float32), None)
    getattr(kernels(be, str(BLOCK_KERNELS)), "read_unwritten")((1, 1, 1), (32, 1, 1), out, shared=32 * 4)
    assert np.isnan(be.to_host(out)).all()


@pytest.mark.parametrize("order", ORDERS, indirect=True)
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_static_shared_memory_nobody_wrote_is_undefined_in_every_block(backend, order):
    """A first launch writes every slot of four static __shared__ variables in each of 6 blocks; a second
    writes only the first 32 slots. On the emulator the others read as all bits set (NaN, -1 for the
    ints) in every block: not zero, not what the first launch or an earlier block on the same CPU
    thread left there."""
    be = get_backend(backend)
    kernel = getattr(kernels(be, str(BLOCK_KERNELS)), "read_static_shared")
    blocks, t = 6, np.arange(64)
    values = np.arange(blocks * 64, dtype=np.float32).reshape(blocks, 64)
    for written in (64, 32):
        out, counts = be.empty(blocks * 3 * 64), be.from_host_int(np.zeros(blocks * 64, np.int32), None)
        kernel((blocks, 1, 1), (64, 1, 1), out, counts, i32(written))
        out, counts = be.to_host(out).reshape(blocks, 3, 64), be.to_host(counts).reshape(blocks, 64)
        kept = t < written
        np.testing.assert_array_equal(out[:, 0, kept], values[:, kept])
        np.testing.assert_array_equal(out[:, 1, kept], values[:, kept] + 0.5)
        np.testing.assert_array_equal(counts[:, kept], values[:, kept].astype(np.int32))
        if written == 64:
            np.testing.assert_array_equal(out[:, 2, 0], 7.0)
        elif backend == "emulated":
            assert np.isnan(out[:, :2, ~kept]).all() and np.isnan(out[:, 2, 0]).all()
            assert (counts[:, ~kept] == -1).all()


@pytest.mark.parametrize("shared", [-4, 48 * 1024 + 4, 2.0])
def test_a_launch_asks_for_what_a_block_can_have(shared):
    be = get_backend("emulated")
    kernel = getattr(kernels(be, str(BLOCK_KERNELS)), "read_unwritten")
    with pytest.raises(ValueError, match=rf"kernel read_unwritten: shared={shared!r}: a block's dynamic shared memory "
                                         r"is 0 to 49152 bytes"):
        kernel((1, 1, 1), (32, 1, 1), be.empty(32), shared=shared)


def test_a_launch_may_ask_for_all_of_it():
    """48 KiB, the most a launch gets without opting in, is given (and read: NaN, as nobody wrote it)."""
    be = get_backend("emulated")
    out = be.from_host(np.zeros(32, np.float32), None)
    getattr(kernels(be, str(BLOCK_KERNELS)), "read_unwritten")((1, 1, 1), (32, 1, 1), out, shared=48 * 1024)
    assert np.isnan(be.to_host(out)).all()


def test_dynamic_shared_memory_declared_outside_a_kernel_is_one_line(tmp_path):
    path = tmp_path / "file_scope.cu"
    path.write_text('extern __shared__ float s[];\n'
                    'extern "C" __global__ void f(float* out) {\n    out[threadIdx.x] = s[0];\n}\n')
    with pytest.raises(BackendError, match=r"file_scope.cu: line 1: declare __shared__ variables inside the "
                                           r"kernel"):
        kernels(get_backend("emulated"), str(path))


@pytest.mark.parametrize("declaration,message", [
    ("__shared__ float s[4];\n", r"line 1: declare __shared__ variables inside the kernel"),
    ("", r"line 3: write each __shared__ variable in a declaration of its own"),
], ids=["file scope", "two in one"])
def test_a_static_shared_declaration_the_emulator_cannot_follow_is_one_line(tmp_path, declaration, message):
    path = tmp_path / "static_shared.cu"
    path.write_text(f'{declaration}extern "C" __global__ void f(float* out) {{\n'
                    f'    // __shared__ in a comment counts for nothing\n'
                    f'    __shared__ float a[4], b[4];\n    out[threadIdx.x] = a[0] + b[0];\n}}\n')
    with pytest.raises(BackendError, match=rf"static_shared.cu: {message}"):
        kernels(get_backend("emulated"), str(path))


def test_an_unknown_order_is_one_line(monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", "sideways")
    be = get_backend("emulated")
    with pytest.raises(BackendError, match="CONVNET_EMULATED_ORDER=sideways: expected forward or reverse"):
        run("emulated", "block_sums", (1, 1, 1), (128, 1, 1), be.from_host(integers(128), None), be.empty(1))


def test_no_kernel_of_ours_depends_on_the_order_of_threads(monkeypatch):
    """Every layer type (configs/every-layer.cfg, which reaches every .cu file): a training step with the
    threads and blocks in reverse order gives the same bits as in thread order."""
    layers, params = ROOT / "configs/every-layer.cfg", ROOT / "configs/every-layer-params.cfg"
    rng = np.random.default_rng(4)
    batch = [rng.standard_normal((3, 9, 9, 8)).astype(np.float32) * 20, rng.integers(0, 5, (1, 8)).astype(np.float32)]
    results = []
    for order in ORDERS:
        monkeypatch.setenv("CONVNET_EMULATED_ORDER", order)
        net = Net(load_graph(layers, params, [(3, 9, 9), (1,)], data_info={"classes": 10}), backend="emulated", seed=2)
        costs = net.forward(batch, train=True, step=1)
        net.backward(data_grads=True)
        Solver(net).update(8, 0.0)
        results.append((costs, [net.backend.to_host(p.value) for p in net.parameters()]))
    (costs_a, weights_a), (costs_b, weights_b) = results
    assert costs_a.keys() == costs_b.keys() and len(weights_a) > 10
    for name in costs_a:
        np.testing.assert_array_equal(costs_a[name], costs_b[name], err_msg=name)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
