"""The cuda backend's own calls into cuBLAS and the CUDA runtime, checked without a GPU.

A stand-in for the few CuPy functions the backend calls does what NVIDIA's documentation says each
does, on host memory through raw pointers: sgemm and sgemmStridedBatched column-major with leading
dimensions and strides, memcpyAsync byte for byte. So the argument mapping of row-major arrays onto
column-major cuBLAS (the first thing that gives wrong numbers on a first GPU run) is checked here
against NumPy, for every transposition.
"""
import ctypes
import sys
import types

import numpy as np
import pytest

from convnet.devices import make_devices, transfer
from convnet.errors import BackendError


def _matrix(ptr, rows, cols, ld):
    """The column-major rows x cols matrix at ptr with leading dimension ld, as a NumPy view."""
    flat = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(ld * (cols - 1) + rows,))
    return np.lib.stride_tricks.as_strided(flat, shape=(rows, cols), strides=(4, 4 * ld))


def _scalar(ptr):
    return ctypes.c_float.from_address(ptr).value


class FakeCublas(types.ModuleType):
    def __init__(self):
        super().__init__("cupy_backends.cuda.libs.cublas")
        self.handles, self.calls = [], []

    def create(self):
        self.handles.append({"stream": None, "math": 0})
        return len(self.handles) - 1

    def setStream(self, handle, ptr):
        self.handles[handle]["stream"] = ptr

    def setPointerMode(self, handle, mode):
        assert mode == 0

    def setMathMode(self, handle, mode):
        self.handles[handle]["math"] = mode

    def sgemm(self, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
        self.sgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1)

    def sgemmStridedBatched(self, handle, transa, transb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                            count):
        self.calls.append((handle, self.handles[handle]["stream"], self.handles[handle]["math"]))
        for i in range(count):
            a = _matrix(A + 4 * i * sa, *((k, m) if transa else (m, k)), lda)
            b = _matrix(B + 4 * i * sb, *((n, k) if transb else (k, n)), ldb)
            c = _matrix(C + 4 * i * sc, m, n, ldc)
            product = (a.T if transa else a).astype(np.float64) @ (b.T if transb else b)
            c[...] = _scalar(alpha) * product + (_scalar(beta) * c if _scalar(beta) else 0)


class FakeArray(np.ndarray):
    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)

    def get(self, stream=None):
        return np.array(self)

    def set(self, host, stream=None):
        np.copyto(self, host)


class FakeStream:
    count = 0

    def __init__(self, non_blocking=False, ptr=None):
        FakeStream.count += 1
        self.ptr = FakeStream.count if ptr is None else ptr

    def __enter__(self):
        CURRENT.append(self)

    def __exit__(self, *exc):
        CURRENT.pop()

    def synchronize(self):
        pass

    def wait_event(self, event):
        pass


CURRENT = []
NULL = FakeStream(ptr=0)


def fake_cupy():
    cupy = types.ModuleType("cupy")
    cuda = types.SimpleNamespace()
    cupy.cuda, cupy.ndarray = cuda, FakeArray
    cupy.empty = lambda shape, dtype=np.float32: np.empty(shape, dtype).view(FakeArray)
    cupy.zeros = lambda shape, dtype=np.float32: np.zeros(shape, dtype).view(FakeArray)
    cupy.asarray = lambda x: np.array(x).view(FakeArray)
    cupy.ascontiguousarray = lambda x: np.ascontiguousarray(x).view(FakeArray)

    class Device:
        def __init__(self, i=0):
            self.attributes, self.compute_capability = {"MultiProcessorCount": 4}, "90"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    class Event:
        done = True

        def __init__(self, disable_timing=False):
            pass

        def record(self, stream=None):
            pass

        def synchronize(self):
            pass

    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1, getDevice=lambda: 0, deviceCanAccessPeer=lambda a, b: 0,
        memcpyAsync=lambda dst, src, n, kind, stream: ctypes.memmove(dst, src, n),
        memcpyPeerAsync=lambda dst, dd, src, sd, n, stream: ctypes.memmove(dst, src, n),
        CUDARuntimeError=RuntimeError)
    cuda.Device, cuda.Stream, cuda.Event, cuda.runtime = Device, FakeStream, Event, runtime
    cuda.get_current_stream = lambda: CURRENT[-1] if CURRENT else NULL
    cuda.compiler = types.SimpleNamespace(CompileException=type("CompileException", (Exception,), {}))
    return cupy


@pytest.fixture
def cuda(monkeypatch):
    cupy, cublas = fake_cupy(), FakeCublas()
    libs = types.ModuleType("cupy_backends.cuda.libs")
    libs.cublas = cublas
    for name, module in (("cupy", cupy), ("cupy_backends", types.ModuleType("cupy_backends")),
                         ("cupy_backends.cuda", types.ModuleType("cupy_backends.cuda")),
                         ("cupy_backends.cuda.libs", libs), ("cupy_backends.cuda.libs.cublas", cublas)):
        monkeypatch.setitem(sys.modules, name, module)
    from convnet.backends.cuda_backend import CudaBackend
    return CudaBackend()


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 2.0)])
def test_gemm_maps_row_major_onto_column_major_cublas(cuda, trans_a, trans_b, alpha, beta):
    rng = np.random.default_rng(0)
    m, k, n = 3, 5, 4
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    out = cuda.cupy.asarray(c)
    cuda.gemm(cuda.cupy.asarray(a), cuda.cupy.asarray(b), out, trans_a, trans_b, alpha, beta)
    want = alpha * (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b) + beta * c
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_matmul_is_one_strided_batched_gemm_with_transposed_views(cuda, ta, tb):
    """As the locally connected layer calls it: (P, G, ...) batches, transposed views of the last axes."""
    rng = np.random.default_rng(1)
    P, G, m, k, n = 3, 2, 4, 5, 6
    a = rng.standard_normal((P, G, k, m) if ta else (P, G, m, k)).astype(np.float32)
    b = rng.standard_normal((P, G, n, k) if tb else (P, G, k, n)).astype(np.float32)
    x, y = cuda.cupy.asarray(a), cuda.cupy.asarray(b)
    x, y = (x.transpose(0, 1, 3, 2) if ta else x), (y.transpose(0, 1, 3, 2) if tb else y)
    out = cuda.matmul(x, y)
    np.testing.assert_allclose(out, np.matmul(np.asarray(x, np.float64), np.asarray(y, np.float64)), rtol=1e-5)
    assert len(cuda.cublas.calls) == 1


def test_each_stream_its_own_handle_bound_to_it_and_tf32_per_call(cuda):
    d0, d1 = make_devices(cuda, 2)
    a = cuda.cupy.asarray(np.eye(2, dtype=np.float32))
    for d in (d0, d1, d0):
        with d.activate():
            cuda.tf32 = d is d1
            cuda.gemm(a, a, cuda.empty((2, 2)))
    (h0, s0, m0), (h1, s1, m1), (h2, s2, m2) = cuda.cublas.calls
    assert h0 == h2 != h1 and s0 == cuda.stream(d0).ptr and s1 == cuda.stream(d1).ptr
    assert (m0, m1, m2) == (0, 3, 0)


def test_copies_and_host_reads(cuda):
    d0, d1 = make_devices(cuda, 2)
    x = transfer(np.arange(6, dtype=np.float32).reshape(2, 3), None, d0)
    y = transfer(x, d0, d1)
    assert y.data.ptr != x.data.ptr
    np.testing.assert_array_equal(cuda.to_host(y, d1), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(cuda.to_host(x), np.arange(6).reshape(2, 3))


def test_kernel_build_failures_are_one_line(cuda, monkeypatch):
    from convnet.kernels import ELEMENTWISE, source

    def failing(error):
        class Module:
            def __init__(self, code, options):
                assert '#include "common.cuh"' not in code        # includes inlined for CuPy's cache key
                raise error
        return Module
    monkeypatch.setattr(cuda.cupy, "RawModule", failing(cuda.cupy.cuda.compiler.CompileException("x.cu(3): error: bad\nmore")),
                        raising=False)
    with pytest.raises(BackendError, match=r"elementwise.cu: NVRTC: x.cu\(3\): error: bad$"):
        cuda.compile(source(ELEMENTWISE))
    monkeypatch.setattr(cuda.cupy, "RawModule", failing(RuntimeError("cannot find the CUDA headers\nat ...")))
    with pytest.raises(BackendError, match="CuPy could not build or load its kernels: RuntimeError: cannot find the CUDA headers$"):
        cuda.compile(source(ELEMENTWISE))


def test_a_cupy_that_cannot_load_its_libraries_is_one_line(monkeypatch):
    from convnet.backends.cuda_backend import CudaBackend
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    broken = types.ModuleType("cupy_backends.cuda.libs")

    def missing(name):
        raise ImportError("libcublas.so.12: cannot open shared object file")
    broken.__getattr__ = missing
    for name, module in (("cupy_backends", types.ModuleType("cupy_backends")),
                         ("cupy_backends.cuda", types.ModuleType("cupy_backends.cuda")),
                         ("cupy_backends.cuda.libs", broken)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "cupy_backends.cuda.libs.cublas", raising=False)
    with pytest.raises(BackendError, match="CuPy cannot load its CUDA libraries: libcublas.so.12"):
        CudaBackend()
    monkeypatch.setitem(sys.modules, "cupy", None)             # not installed
    with pytest.raises(BackendError, match="the cuda backend needs CuPy"):
        CudaBackend()


def test_a_launch_gives_cupy_its_dynamic_shared_memory(cuda, monkeypatch):
    """Kernel(..., shared=bytes) reaches CuPy's shared_mem (the bytes each block gets); 0 by default."""
    from convnet.kernels import ELEMENTWISE, source
    calls = []

    class Module:
        def __init__(self, code, options):
            pass

        def get_function(self, name):
            return lambda grid, block, args, shared_mem=None: calls.append((name, grid, block, shared_mem))
    monkeypatch.setattr(cuda.cupy, "RawModule", Module, raising=False)
    launchers = cuda.compile(source(ELEMENTWISE))
    launchers["fill"]((2, 1, 1), (256, 1, 1), (), 384)
    launchers["fill"]((1, 1, 1), (32, 1, 1), ())
    assert calls == [("fill", (2, 1, 1), (256, 1, 1), 384), ("fill", (1, 1, 1), (32, 1, 1), 0)]


def test_the_memory_held_is_the_pool_of_every_gpu_with_a_stream_of_ours(cuda, monkeypatch):
    """CuPy's pool answers for the current device: the backend makes each GPU it has streams on current
    in turn and adds up what the pool holds there (here GPUs 0 and 2, not 1)."""
    current, held = [0], {0: 3 << 20, 1: 100 << 20, 2: 5 << 20}

    class Device:
        def __init__(self, i=0):
            self.i = i

        def __enter__(self):
            current.append(self.i)

        def __exit__(self, *exc):
            current.pop()
    monkeypatch.setattr(cuda.cupy.cuda, "Device", Device)
    monkeypatch.setattr(cuda.cupy, "get_default_memory_pool",
                        lambda: types.SimpleNamespace(total_bytes=lambda: held[current[-1]]), raising=False)
    assert cuda.memory_held() == 3 << 20                  # no stream yet: the current GPU
    for physical in (2, 0, 2):
        cuda._new_stream(physical, "test")
    assert cuda.memory_held() == 8 << 20
