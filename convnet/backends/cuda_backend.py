"""The cuda backend: CuPy arrays on NVIDIA GPUs, the layers' raw CUDA kernels (cupy.RawModule, compiled
once per device and cached), and cuBLAS for the GEMMs.

Each logical device has its own stream on its physical GPU, so layers on different devices run
concurrently. An array that crosses devices is copied on the destination's stream after an event
recorded on the source's stream: peer to peer (cudaMemcpyPeerAsync) between GPUs, with peer access
enabled where deviceCanAccessPeer allows, and device to device within one GPU. Gradients go back the
same way. Float32 throughout; TF32 in cuBLAS only when asked for (`tf32 = True`, `--tf32`).
"""
import os

import numpy as np

from ..errors import BackendError
from ..host_copy import copy_into
from .gpu_path import GpuPathBackend

_D2D = 3                      # cudaMemcpyDeviceToDevice
_PEER_ALREADY_ENABLED = 704   # cudaErrorPeerAccessAlreadyEnabled


class _Context:
    """Entered: a physical GPU is current, and a stream on it."""

    def __init__(self, cupy, physical, stream):
        self.device, self.stream = cupy.cuda.Device(physical), stream

    def __enter__(self):
        self.device.__enter__()
        self.stream.__enter__()

    def __exit__(self, *exc):
        self.stream.__exit__(*exc)
        self.device.__exit__(*exc)


class CudaBackend(GpuPathBackend):
    name = "cuda"
    dtypes = (np.float32,)

    def __init__(self):
        super().__init__()
        try:
            import cupy
            from cupy_backends.cuda.libs import cublas
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in ("cupy", "cupy_backends"):
                raise BackendError(f"CuPy cannot load: {_first_line(e)}") from None
            raise BackendError(f"the cuda backend needs CuPy (pip install -e '.[cuda]'): {e}") from None
        except Exception as e:               # CuPy is there, but a CUDA library it loads (libcublas...) is not
            raise BackendError(f"CuPy cannot load its CUDA libraries: {_first_line(e)}") from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:               # no driver, no device
            raise BackendError(f"no usable NVIDIA GPU ({str(e).splitlines()[0]})") from None
        if count == 0:
            raise BackendError("no NVIDIA GPU found")
        self.cupy, self.xp, self.cublas = cupy, cupy, cublas
        self.array_types = (cupy.ndarray,)
        self.tf32 = False
        self.check_launches = os.environ.get("CONVNET_SYNC") == "1"
        self._peers, self._sm, self._stream_device = set(), {}, {}

    # ---- devices and streams (the primitives of GpuPathBackend) ------------------------------

    def physical_devices(self):
        return list(range(self.cupy.cuda.runtime.getDeviceCount()))

    def current_device(self):
        return self.cupy.cuda.runtime.getDevice()

    def _new_stream(self, physical, label):
        with self.cupy.cuda.Device(physical):
            stream = self.cupy.cuda.Stream(non_blocking=True)
        self._stream_device[stream.ptr] = physical
        return stream

    def _enter(self, physical, stream):
        return _Context(self.cupy, physical, stream)

    def _current_stream(self):
        """(device, stream pointer): a key that does not depend on which Python object wraps the stream."""
        return self.current_device(), self.cupy.cuda.get_current_stream().ptr

    def _sync(self, stream):
        stream.synchronize()

    def _record(self, stream):
        with self.cupy.cuda.Device(self._stream_device[stream.ptr]):     # an event belongs to its device
            event = self.cupy.cuda.Event(disable_timing=True)
            event.record(stream)
        return event

    def _wait(self, stream, event):
        stream.wait_event(event)

    def _done(self, event):
        return event.done

    def _host_wait(self, event):
        event.synchronize()

    def _pinned_empty(self, shape, dtype):
        import cupyx
        return cupyx.empty_pinned(shape, dtype=dtype)

    def _host_write(self, pinned, x):
        copy_into(pinned, x)                  # on several cores: one moves a paper-sized batch in 12 ms

    def _upload_async(self, out, pinned, stream):
        out.set(pinned, stream=stream)        # from pinned memory: asynchronous, on the copy engine

    def _memcpy(self, out, x, src, dst, stream):
        runtime = self.cupy.cuda.runtime
        if src.physical == dst.physical:
            runtime.memcpyAsync(out.data.ptr, x.data.ptr, x.nbytes, _D2D, stream.ptr)
        else:
            self._enable_peer(dst.physical, src.physical)
            runtime.memcpyPeerAsync(out.data.ptr, dst.physical, x.data.ptr, src.physical, x.nbytes, stream.ptr)

    def _download(self, x, stream):
        stream = stream or self.cupy.cuda.get_current_stream()
        host = x.get(stream=stream)
        stream.synchronize()
        return host

    def _new_handle(self, stream):
        """A cuBLAS handle of our own for this stream: never CuPy's (shared by every stream of the
        device), so that neither its workspace nor its math mode is shared."""
        cublas = self.cublas
        handle = cublas.create()
        cublas.setStream(handle, stream[1])
        cublas.setPointerMode(handle, 0)                         # CUBLAS_POINTER_MODE_HOST
        return handle

    def _enable_peer(self, device, peer):
        if (device, peer) in self._peers:
            return
        runtime = self.cupy.cuda.runtime
        if runtime.deviceCanAccessPeer(device, peer):
            with self.cupy.cuda.Device(device):
                try:
                    runtime.deviceEnablePeerAccess(peer)
                except runtime.CUDARuntimeError as e:
                    if getattr(e, "status", None) != _PEER_ALREADY_ENABLED:
                        raise
        self._peers.add((device, peer))     # without peer access the copy still works, staged by the driver

    # ---- memory ---------------------------------------------------------------------------

    def empty(self, shape):
        return self.cupy.empty(shape, dtype=np.float32)

    def zeros(self, shape):
        return self.cupy.zeros(shape, dtype=np.float32)

    def from_host(self, x, device):
        return self.cupy.asarray(np.ascontiguousarray(x, dtype=np.float32))

    def from_host_int(self, x, device):
        """An int32 array (index tables for kernels) on the device."""
        return self.cupy.asarray(np.ascontiguousarray(x, dtype=np.int32))

    def memory_held(self):
        """Bytes that CuPy's memory pool holds on the GPUs with streams of ours, added up. The pool keeps
        every block it was given (it returns none to the driver unless asked to), so after a run this is
        the run's peak, as PyTorch's max_memory_reserved is for its caching allocator."""
        pool = self.cupy.get_default_memory_pool()
        total = 0
        for physical in sorted(set(self._stream_device.values())) or [self.current_device()]:
            with self.cupy.cuda.Device(physical):
                total += pool.total_bytes()
        return total

    def copy_into(self, dst, src):
        self.cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes, _D2D,
                                           self.cupy.cuda.get_current_stream().ptr)

    # ---- cuBLAS ---------------------------------------------------------------------------

    def gemm(self, a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """out (m, n) = alpha * op(a) (m, k) @ op(b) (k, n) + beta * out, all row-major float32.

        cuBLAS is column-major, where a row-major (r, c) array is its (c, r) transpose with leading
        dimension c. So this asks cuBLAS for out^T = op(b)^T op(a)^T: op(b)^T is b's buffer as it is
        when b is not transposed (and transposed when it is), and the same for a."""
        for name, arr in (("a", a), ("b", b), ("out", out)):
            if arr.dtype != np.float32 or not arr.flags.c_contiguous or arr.ndim != 2:
                raise TypeError(f"gemm: {name} must be a 2-D C-contiguous float32 array")
        m, n, k = _gemm_shape(a, b, out, trans_a, trans_b)
        scalars = np.array([alpha, beta], dtype=np.float32)
        handle = self._gemm_handle()
        self.cublas.sgemm(handle, int(trans_b), int(trans_a), n, m, k, scalars.ctypes.data,
                          b.data.ptr, b.shape[1], a.data.ptr, a.shape[1], scalars.ctypes.data + 4, out.data.ptr, n)

    def matmul(self, a, b, out=None):
        """a @ b over equal leading (batch) axes, as one cuBLAS strided-batched GEMM on this stream's
        handle. An operand whose last two axes are a transposed view is passed as transposed."""
        if a.shape[:-2] != b.shape[:-2]:
            raise ValueError(f"matmul: batch shapes {a.shape[:-2]} and {b.shape[:-2]} differ")
        batch = a.shape[:-2]
        count = int(np.prod(batch, dtype=np.int64))
        (a2, ta), (b2, tb) = _operand(self.cupy, a), _operand(self.cupy, b)
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        if out is None:
            out = self.cupy.empty(batch + (m, n), dtype=np.float32)
        elif out.shape != batch + (m, n) or not out.flags.c_contiguous or out.dtype != np.float32:
            raise ValueError(f"matmul: out must be a C-contiguous float32 {batch + (m, n)} array")
        scalars = np.array([1.0, 0.0], dtype=np.float32)
        self.cublas.sgemmStridedBatched(
            self._gemm_handle(), int(tb), int(ta), n, m, k, scalars.ctypes.data,
            b2.data.ptr, b2.shape[-1], k * n, a2.data.ptr, a2.shape[-1], m * k,
            scalars.ctypes.data + 4, out.data.ptr, n, m * n, count)
        return out

    def _gemm_handle(self):
        handle = self.blas_handle()
        self.cublas.setMathMode(handle, 3 if self.tf32 else 0)     # CUBLAS_TF32_TENSOR_OP_MATH / DEFAULT
        return handle

    # ---- kernels ---------------------------------------------------------------------------

    def grid_size(self, n, block):
        device = self.current_device()
        if device not in self._sm:
            self._sm[device] = self.cupy.cuda.Device(device).attributes["MultiProcessorCount"]
        return max(1, min(-(-n // block), self._sm[device] * 32))

    def compile(self, src):
        """{kernel name: launcher(grid, block, args, shared)}, compiled by NVRTC for the current device from the
        source with its includes inlined (CuPy's cache key is the text: an edited header recompiles)."""
        cupy = self.cupy
        launchers = {}
        try:
            module = cupy.RawModule(code=src.expanded(), options=("--std=c++14",))
            for name in src.kernels:
                launchers[name] = self._launcher(name, module.get_function(name))
        except cupy.cuda.compiler.CompileException as e:
            raise BackendError(f"{src.path}: NVRTC: {_first_line(e)}") from None
        except Exception as e:           # NVRTC or its headers missing, a module the driver cannot load
            raise BackendError(f"{src.path}: CuPy could not build or load its kernels: "
                               f"{type(e).__name__}: {_first_line(e)}") from None
        return launchers

    def _launcher(self, name, fn):
        def launch(grid, block, args, shared=0):
            fn(grid, block, args, shared_mem=shared)
            if self.check_launches:          # CONVNET_SYNC=1: find the kernel that faults
                try:
                    self.cupy.cuda.get_current_stream().synchronize()
                except Exception as e:
                    raise BackendError(f"kernel {name} failed: {e}") from None
        return launch


def _first_line(e):
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _gemm_shape(a, b, out, trans_a, trans_b):
    m, n = out.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if (b.shape[1] if trans_b else b.shape[0]) != k or (a.shape[1] if trans_a else a.shape[0]) != m or \
            (b.shape[0] if trans_b else b.shape[1]) != n:
        raise ValueError(f"gemm: shapes {a.shape}{'^T' if trans_a else ''} @ {b.shape}"
                         f"{'^T' if trans_b else ''} -> {out.shape} do not agree")
    return m, n, k


def _operand(cupy, x):
    """(buffer, transposed): x itself when C-contiguous, the buffer under x when x is a transposed
    view of its last two axes, else a contiguous copy."""
    if x.flags.c_contiguous:
        return x, False
    swapped = x.swapaxes(-1, -2)
    if swapped.flags.c_contiguous:
        return swapped, True
    return cupy.ascontiguousarray(x), False
