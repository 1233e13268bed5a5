"""The emulated backend: the cuda backend's code path and .cu sources, run on the CPU.

Each .cu file is compiled by the host C++ compiler into a library with a launcher per kernel that
runs every thread of the grid (emulated_program.py); launchers are called through ctypes on NumPy
memory, and NumPy stands in for cuBLAS. It exists so that CI, which has no GPU, executes every
kernel. It is slow, and only for tests. CONVNET_EMULATED_ORDER=reverse runs the blocks and the threads
of each block in reverse order: a race between threads changes results. Every launch checks its
arrays' bounds with a guard page after each (CONVNET_EMULATED_GUARD=start: before each; off: none),
emu_guard.h; a failure names its source line. CONVNET_EMULATED_RACECHECK=on also checks every launch
for races between its threads, in global and shared memory, whatever the order (emu_race.h), with
the kernels built again for it (ThreadSanitizer's instrumentation; slower still).

Compiled libraries are cached in $CONVNET_CACHE (default ~/.cache/convnet), keyed by a hash of
everything that went into them.
"""
import contextlib
import ctypes
import os
import shutil
import subprocess
import threading

import numpy as np

from ..errors import BackendError
from ..host_copy import copy_into
from ..native_build import BuildError, build, compiler, library_path
from . import emulated_memory as memory
from .emulated_memory import ORDERING, XP, DeviceArray
from .emulated_program import HEADERS, program, without_checks
from .gpu_path import GpuPathBackend
from .ordering import Buffer, Stream

_GUARDS = {"off": 0, "end": 1, "start": 2}           # emu_guard.h's modes
_EMULATOR_HEADERS = {os.path.basename(h) for h in HEADERS}
_GUARDED = threading.Lock()                          # a guarded launch installs a process-wide fault handler
_CTYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.int32): ctypes.c_int,
           np.dtype(np.uint32): ctypes.c_uint}


def _guard():
    """Where the arrays' guard pages go (CONVNET_EMULATED_GUARD): after each array's last element
    (end, the default), before its first (start), or nowhere (off)."""
    guard = os.environ.get("CONVNET_EMULATED_GUARD") or "end"
    if guard not in _GUARDS:
        raise BackendError(f"CONVNET_EMULATED_GUARD={guard}: expected end, start or off")
    return _GUARDS[guard]


def _source_line(library, offset):
    """", at file.cu:line" for the instruction at `offset` in the library (from its debug information,
    by addr2line), or "" when offset is 0 or the line cannot be found. Where the instruction is the
    emulator's own (an atomic function inlined into a kernel), the line is the kernel's that called it."""
    addr2line = shutil.which("addr2line")
    if not offset or not addr2line:
        return ""
    try:
        run = subprocess.run([addr2line, "-i", "-e", library._name, hex(offset)], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    places = run.stdout.strip().splitlines()          # -i: the innermost first, then where each was inlined
    places = [p for p in places if os.path.basename(p.rpartition(":")[0]) not in _EMULATOR_HEADERS] or places
    place = places[0] if places else ""
    path, _, line = place.rpartition(":")
    line = line.split()[0] if line else ""
    return f", at {os.path.basename(path)}:{line}" if path and path != "??" and line.isdigit() else ""


def _failure_place(library):
    """Where the library's last launch failed: ", at file.cu:line" for the instruction that faulted or
    made the access that races, and for a race the other access's line after it ("" where unknown)."""
    here = _source_line(library, library.emu_fault_offset())
    other = _source_line(library, library.emu_race_other_offset())
    return f"{here} (the other access{other})" if here and other else here


def _racecheck():
    """Whether launches are checked for races between their threads (CONVNET_EMULATED_RACECHECK=on),
    which needs the arrays' guarded copies: the check keeps its record beside them."""
    check = os.environ.get("CONVNET_EMULATED_RACECHECK") or "off"
    if check not in ("on", "off"):
        raise BackendError(f"CONVNET_EMULATED_RACECHECK={check}: expected on or off")
    if check == "on" and not _guard():
        raise BackendError("CONVNET_EMULATED_RACECHECK=on checks the arrays' guarded copies: set "
                           "CONVNET_EMULATED_GUARD to end or start, not off")
    return check == "on"


def _order():
    """Whether the emulated threads run in reverse order (CONVNET_EMULATED_ORDER=reverse): a kernel
    whose results change with the order has a race."""
    order = os.environ.get("CONVNET_EMULATED_ORDER") or "forward"
    if order not in ("forward", "reverse"):
        raise BackendError(f"CONVNET_EMULATED_ORDER={order}: expected forward or reverse")
    return order == "reverse"


class EmulatedBackend(GpuPathBackend):
    name = "emulated"
    xp = XP
    dtypes = (np.float32,)
    array_types = (DeviceArray,)

    def __init__(self):
        super().__init__()
        self.compiler = compiler()
        if not self.compiler:
            raise BackendError("the emulated backend compiles the CUDA kernels with a C++ compiler; "
                               "none found (install g++ or set CXX)")
        self._lock = threading.Lock()
        self.tf32 = False
        self._pinned = {}            # id of a pinned host array -> its Buffer

    # ---- devices and streams (the primitives of GpuPathBackend) ------------------------------

    def current_device(self):
        return 0

    def physical_devices(self):
        return ["cpu"]

    def _new_stream(self, physical, label):
        return Stream(f"the stream of {label}")

    def _enter(self, physical, stream):
        return memory.stream_context(stream)

    def _current_stream(self):
        return memory.current_stream()

    def _sync(self, stream):
        ORDERING.synchronize(stream)

    def _record(self, stream):
        return ORDERING.record(stream)

    def _wait(self, stream, event):
        ORDERING.wait(stream, event)

    def _done(self, event):
        # The schedule that exposes most: an event is done only when the host already knows it is
        # (a query that found it done on a GPU would order the host after it, by timing alone).
        return ORDERING.known(event)

    def _host_wait(self, event):
        ORDERING.observe(event)

    def _pinned_empty(self, shape, dtype):
        """Page-locked host memory: the host writes it, copies to the device read it asynchronously."""
        pinned = np.empty(shape, dtype=dtype)
        self._pinned[id(pinned)] = Buffer(ORDERING.null, shape, "pinned host memory")
        return pinned

    def _host_write(self, pinned, x):
        ORDERING.host_write(self._pinned[id(pinned)], "a host write")
        copy_into(pinned, x)

    def _upload_async(self, out, pinned, stream):
        ORDERING.op(stream, "an upload from pinned memory", reads=[self._pinned[id(pinned)]], writes=[out._buffer])
        np.copyto(memory.plain(out), pinned)

    def _memcpy(self, out, x, src, dst, stream):
        with memory.stream_context(stream):
            ORDERING.op(stream, "a copy between devices", reads=[memory.buffer_of(x)], writes=[out._buffer])
        np.copyto(memory.plain(out), memory.plain(x))

    def _download(self, x, stream):
        return x.get(stream)

    def _new_handle(self, stream):
        return _Handle(stream)

    # ---- memory ------------------------------------------------------------------------------

    def empty(self, shape):
        return memory.empty(shape)

    def zeros(self, shape):
        out = memory.empty(shape, what="zeros")
        out.fill(0)
        return out

    def from_host(self, x, device):
        return self._upload(np.asarray(x, dtype=np.float32))

    def from_host_int(self, x, device):
        """An int32 array (index tables for kernels) on the device."""
        return self._upload(np.asarray(x, dtype=np.int32))

    def _upload(self, x):
        out = memory.empty(x.shape, x.dtype, what="a copy from the host")
        ORDERING.op(memory.current_stream(), "a copy from the host", writes=[out._buffer])
        np.copyto(memory.plain(out), x)
        return out

    def copy_into(self, dst, src):
        memory.run_op("a copy", [src], [dst], lambda: np.copyto(memory.plain(dst), memory.plain(src).reshape(dst.shape)))

    # ---- cuBLAS stand-ins ------------------------------------------------------------------

    def gemm(self, a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """out = alpha * op(a) @ op(b) + beta * out, for 2-D float32 arrays."""
        handle = self._gemm_handle()
        a, b = handle.operand(a), handle.operand(b)

        def compute():
            product = (a.T if trans_a else a) @ (b.T if trans_b else b)
            o = memory.plain(out)
            if beta == 0:
                np.multiply(product, np.float32(alpha), out=o) if alpha != 1 else np.copyto(o, product)
            else:
                o *= np.float32(beta)
                o += np.float32(alpha) * product if alpha != 1 else product
        memory.run_op("sgemm", [a, b] + ([out] if beta else []), [out, handle.workspace], compute)

    def matmul(self, a, b, out=None):
        """Batched products over the leading axes (cuBLAS strided-batched GEMM)."""
        handle = self._gemm_handle()
        x, y = handle.operand(a), handle.operand(b)
        if out is None:
            out = memory.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]),
                               what="sgemmStridedBatched")
        memory.run_op("sgemmStridedBatched", [x, y], [out, handle.workspace],
                      lambda: np.matmul(memory.plain(x), memory.plain(y), out=memory.plain(out)))
        return out

    def _gemm_handle(self):
        handle = self.blas_handle()
        handle.tf32 = self.tf32           # cublasSetMathMode on the handle the GEMM uses
        return handle

    # ---- kernels -------------------------------------------------------------------------

    def grid_size(self, n, block):
        # Few blocks: each emulated thread then loops over many elements, which costs less here.
        return max(1, min(-(-n // block), 64))

    def compile(self, src):
        """{kernel name: launcher(grid, block, args, shared)} for a kernels.Source. The library with the
        race check is built the first time a launch asks for it."""
        libraries, functions = {False: self._library(src, racecheck=False)}, {}

        def function(name, params, racecheck):
            if (name, racecheck) not in functions:
                if racecheck not in libraries:
                    libraries[racecheck] = self._library(src, racecheck)
                fn = getattr(libraries[racecheck], f"emu_{name}")
                fn.restype = ctypes.c_char_p
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p] + [ctypes.c_uint] * 7 + \
                    [ctypes.c_void_p if p.pointer else _CTYPES[p.dtype] for p in params]
                functions[name, racecheck] = fn, libraries[racecheck]
            return functions[name, racecheck]
        return {name: self._launcher(name, params, function) for name, params in src.kernels.items()}

    @staticmethod
    def _launcher(name, params, function):
        def launch(grid, block, args, shared=0):
            reads = [memory.buffer_of(a) for p, a in zip(params, args) if p.pointer and p.const]
            writes = [memory.buffer_of(a) for p, a in zip(params, args) if p.pointer and not p.const]
            ORDERING.op(memory.current_stream(), f"kernel {name}", reads, writes)
            converted = [a.ctypes.data if p.pointer else a.item() for p, a in zip(params, args)]
            sizes = [a.nbytes for p, a in zip(params, args) if p.pointer]
            guard = _guard()
            fn, library = function(name, params, _racecheck())
            with _GUARDED if guard else contextlib.nullcontext():
                failure = fn(_order(), guard, (ctypes.c_longlong * max(len(sizes), 1))(*sizes), shared, *grid, *block,
                             *converted)
            if failure:
                raise BackendError(f"kernel {name}: {failure.decode()}{_failure_place(library)}")
        return launch

    def _library(self, src, racecheck):
        try:
            text, flags, libraries, depends = program(src, racecheck)
        except ValueError as e:
            raise BackendError(f"the emulated backend cannot run {src.path}: {e}") from None
        path = library_path("emulated", os.path.basename(src.path), text, self.compiler, flags + libraries, depends)
        with self._lock:
            if not os.path.exists(path):
                try:
                    build(text, self.compiler, flags, path, fallback_flags=without_checks(flags), libraries=libraries)
                except BuildError as e:
                    check = " with the race check (GCC's -fsanitize=thread)" if racecheck else ""
                    raise BackendError(f"the emulated backend could not compile {src.path}{check}: {e}") from None
            library = ctypes.CDLL(path)
            library.emu_fault_offset.restype = ctypes.c_ulonglong
            library.emu_race_other_offset.restype = ctypes.c_ulonglong
            return library


class _Handle:
    """A cuBLAS handle: bound to a stream, with its workspace (device memory every GEMM on the handle
    writes) and its math mode. TF32 rounds the operands to TF32's 10-bit mantissa, as a GPU's tensor
    cores do, so that a mode that leaks to another user of a handle changes numbers."""

    def __init__(self, stream):
        self.stream, self.tf32 = stream, False
        self.workspace = memory.empty((1,), what="a cuBLAS workspace")

    def operand(self, x):
        return memory.round_to_tf32(x) if self.tf32 else x
