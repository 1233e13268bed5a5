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
from ..kernels import INCLUDE

_D2D = 3                      # cudaMemcpyDeviceToDevice
_PEER_ALREADY_ENABLED = 704   # cudaErrorPeerAccessAlreadyEnabled


class _Context:
    """Entered: the logical device's GPU is current, and its stream."""

    def __init__(self, backend, device):
        self.device, self.stream = backend.cupy.cuda.Device(device.physical), backend.stream(device)

    def __enter__(self):
        self.device.__enter__()
        self.stream.__enter__()

    def __exit__(self, *exc):
        self.stream.__exit__(*exc)
        self.device.__exit__(*exc)


class CudaBackend:
    name = "cuda"
    gpu_path = True
    dtypes = (np.float32,)

    def __init__(self):
        try:
            import cupy
            from cupy_backends.cuda.libs import cublas
        except ImportError as e:
            raise BackendError(f"the cuda backend needs CuPy (pip install -e '.[cuda]'): {e}") from None
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
        self._streams, self._peers, self._sm = {}, set(), {}

    # ---- devices and streams ----------------------------------------------------------------

    def physical_devices(self):
        return list(range(self.cupy.cuda.runtime.getDeviceCount()))

    def stream(self, device):
        if device.index not in self._streams:
            with self.cupy.cuda.Device(device.physical):
                self._streams[device.index] = self.cupy.cuda.Stream(non_blocking=True)
        return self._streams[device.index]

    def use_device(self, device):
        return _Context(self, device)

    def current_device(self):
        return self.cupy.cuda.runtime.getDevice()

    def synchronize(self):
        for stream in self._streams.values():
            stream.synchronize()

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

    def to_host(self, x):
        return self.cupy.asnumpy(x) if isinstance(x, self.cupy.ndarray) else np.asarray(x)

    def copy(self, x, src, dst):
        """x (on logical device src) on dst, in dst's context: ordered after src's pending work."""
        cupy = self.cupy
        with cupy.cuda.Device(src.physical):         # an event belongs to the device it is recorded on
            done = cupy.cuda.Event(disable_timing=True)
            done.record(self.stream(src))
        stream = self.stream(dst)
        stream.wait_event(done)
        out = cupy.empty_like(x)
        if src.physical == dst.physical:
            cupy.cuda.runtime.memcpyAsync(out.data.ptr, x.data.ptr, x.nbytes, _D2D, stream.ptr)
        else:
            self._enable_peer(dst.physical, src.physical)
            cupy.cuda.runtime.memcpyPeerAsync(out.data.ptr, dst.physical, x.data.ptr, src.physical, x.nbytes,
                                              stream.ptr)
        return out

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

    def copy_into(self, dst, src):
        self.cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes, _D2D,
                                           self.cupy.cuda.get_current_stream().ptr)

    # ---- cuBLAS ---------------------------------------------------------------------------

    def gemm(self, a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """out (m, n) = alpha * op(a) (m, k) @ op(b) (k, n) + beta * out, all row-major float32.

        cuBLAS is column-major, where a row-major (r, c) array is its (c, r) transpose with leading
        dimension c. So this asks cuBLAS for out^T = op(b)^T op(a)^T: op(b)^T is b's buffer as it is
        when b is not transposed (and transposed when it is), and the same for a."""
        m, n = out.shape
        k = a.shape[0] if trans_a else a.shape[1]
        for name, arr in (("a", a), ("b", b), ("out", out)):
            if arr.dtype != np.float32 or not arr.flags.c_contiguous or arr.ndim != 2:
                raise TypeError(f"gemm: {name} must be a 2-D C-contiguous float32 array")
        if (b.shape[1] if trans_b else b.shape[0]) != k or (a.shape[1] if trans_a else a.shape[0]) != m or \
                (b.shape[0] if trans_b else b.shape[1]) != n:
            raise ValueError(f"gemm: shapes {a.shape}{'^T' if trans_a else ''} @ {b.shape}"
                             f"{'^T' if trans_b else ''} -> {out.shape} do not agree")
        cublas = self.cublas
        handle = self.cupy.cuda.device.get_cublas_handle()
        cublas.setStream(handle, self.cupy.cuda.get_current_stream().ptr)
        cublas.setMathMode(handle, 3 if self.tf32 else 0)       # CUBLAS_TF32_TENSOR_OP_MATH / DEFAULT
        scalars = np.array([alpha, beta], dtype=np.float32)
        mode = cublas.getPointerMode(handle)
        cublas.setPointerMode(handle, 0)                         # CUBLAS_POINTER_MODE_HOST
        try:
            cublas.sgemm(handle, 1 if trans_b else 0, 1 if trans_a else 0, n, m, k,
                         scalars.ctypes.data, b.data.ptr, b.shape[1], a.data.ptr, a.shape[1],
                         scalars.ctypes.data + 4, out.data.ptr, n)
        finally:
            cublas.setPointerMode(handle, mode)

    def matmul(self, a, b, out=None):
        """Batched products over the leading axes (cuBLAS strided-batched GEMM through CuPy)."""
        return self.cupy.matmul(a, b, out=out)

    # ---- kernels ---------------------------------------------------------------------------

    def grid_size(self, n, block):
        device = self.current_device()
        if device not in self._sm:
            self._sm[device] = self.cupy.cuda.Device(device).attributes["MultiProcessorCount"]
        return max(1, min(-(-n // block), self._sm[device] * 32))

    def compile(self, src):
        """{kernel name: launcher(grid, block, args)}, compiled by NVRTC for the current device."""
        cupy = self.cupy
        module = cupy.RawModule(code=src.text, options=(f"-I{INCLUDE}", "--std=c++14"))
        launchers = {}
        for name in src.kernels:
            try:
                fn = module.get_function(name)
            except cupy.cuda.compiler.CompileException as e:
                raise BackendError(f"{src.path}: NVRTC: {str(e).strip().splitlines()[0]}") from None
            launchers[name] = self._launcher(name, fn)
        return launchers

    def _launcher(self, name, fn):
        def launch(grid, block, args):
            fn(grid, block, args)
            if self.check_launches:          # CONVNET_SYNC=1: find the kernel that faults
                try:
                    self.cupy.cuda.get_current_stream().synchronize()
                except Exception as e:
                    raise BackendError(f"kernel {name} failed: {e}") from None
        return launch
