"""The raw CUDA kernels: loading them once per device and launching them, the same way on the cuda
backend (CuPy RawModule on a GPU) and on the emulated backend (the host compiler on the CPU).

A .cu file declares its kernels `extern "C" __global__ void name(params)`. Their signatures are read
from the source, so every launch is checked before it happens: arrays must be C-contiguous arrays of
the backend with the parameter's element type, scalars exactly numpy.int32, numpy.uint32 or
numpy.float32 (what the kernel's parameter is), and sizes must fit the kernels' int indices.
"""
import os
import re

import numpy as np

INCLUDE = os.path.dirname(os.path.abspath(__file__))       # common.cuh lives here
BLOCK = 256
INT_LIMIT = 2 ** 31       # the kernels index with int
IMAGES_PER_THREAD = 8     # common.cuh's: the images of one pixel that a thread of unfold.cu or pool.cu takes
SHARED_LIMIT = 48 * 1024  # dynamic shared memory a launch gets without opting in (cudaFuncSetAttribute)

_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_INCLUDE = re.compile(r'#include\s+"([^"]+)"')
_INCLUDE_LINE = re.compile(r'^[ \t]*#include\s+"([^"]+)"[^\n]*$', re.M)
_TYPES = {"float": np.float32, "int": np.int32, "unsigned int": np.uint32, "unsigned": np.uint32}


class Param:
    def __init__(self, text):
        words = text.replace("*", " * ").split()
        self.name = words[-1]
        self.pointer = "*" in words
        self.const = "const" in words        # a const pointer is only read (the emulator checks the order of accesses)
        base = " ".join(w for w in words[:-1] if w not in ("const", "*", "__restrict__"))
        if base not in _TYPES:
            raise ValueError(f"kernel parameter type {base!r} is not supported (float, int, unsigned int)")
        self.dtype = np.dtype(_TYPES[base])

    def describe(self):
        return f"{self.dtype.name}* array" if self.pointer else f"numpy.{self.dtype.name}"


class Source:
    """A .cu file: its text and the parameters of each of its kernels."""

    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.text = f.read()
        self.kernels = {name: [Param(p) for p in params.split(",") if p.strip()]
                        for name, params in _SIGNATURE.findall(self.text)}
        if not self.kernels:
            raise ValueError(f"{path}: no extern \"C\" __global__ kernels")

    def includes(self):
        """The files this one includes (for cache keys)."""
        return [os.path.join(INCLUDE, name) for name in _INCLUDE.findall(self.text)]

    def expanded(self):
        """The text with every #include "..." replaced by the file's text (once each, as #pragma once):
        what NVRTC compiles, so that CuPy's kernel cache, keyed by the source text alone, sees an edit
        of an included file."""
        seen = set()

        def expand(text):
            def include(match):
                path = os.path.join(INCLUDE, match.group(1))
                if path in seen:
                    return ""
                seen.add(path)
                with open(path, encoding="utf-8") as f:
                    return expand(f.read().replace("#pragma once", ""))
            return _INCLUDE_LINE.sub(include, text)
        return expand(self.text)


_sources = {}


def source(path):
    if path not in _sources:
        _sources[path] = Source(path)
    return _sources[path]


class Kernel:
    def __init__(self, backend, name, params, launcher):
        self.backend, self.name, self.params, self.launcher = backend, name, params, launcher

    def __call__(self, grid, block, *args, shared=0):
        """One launch; `shared`: the bytes of dynamic shared memory each block gets (extern __shared__)."""
        self.check(args)
        if type(shared) is not int or not 0 <= shared <= SHARED_LIMIT:
            raise ValueError(f"kernel {self.name}: shared={shared!r}: a block's dynamic shared memory is 0 to "
                             f"{SHARED_LIMIT} bytes")
        self.launcher(grid, block, args, shared)

    def launch(self, n, *args):
        """One thread per element of n, in a 1-D grid-stride launch."""
        if n >= INT_LIMIT:
            raise ValueError(f"kernel {self.name}: {n} elements is more than its int indices reach")
        if n > 0:
            grid = self.backend.grid_size(n, BLOCK)
            if n + grid * BLOCK >= INT_LIMIT:    # FOR_EACH's last i += stride must not overflow an int
                raise ValueError(f"kernel {self.name}: {n} elements and a stride of {grid * BLOCK} threads "
                                 f"overflow its int indices")
            self((grid, 1, 1), (BLOCK, 1, 1), *args)

    def check(self, args):
        if len(args) != len(self.params):
            raise TypeError(f"kernel {self.name} takes {len(self.params)} arguments, got {len(args)}")
        for i, (p, a) in enumerate(zip(self.params, args)):
            if p.pointer:
                ok = (isinstance(a, self.backend.array_types) and a.dtype == p.dtype and a.flags.c_contiguous)
            else:
                ok = type(a) is p.dtype.type
            if not ok and p.pointer and isinstance(a, np.ndarray) and not isinstance(a, self.backend.array_types):
                raise TypeError(f"kernel {self.name}: argument {i} ({p.name}) is host memory (a numpy array): "
                                f"a kernel takes the backend's device arrays (backend.from_host)")
            if ok and p.pointer and a.size >= INT_LIMIT:
                raise ValueError(f"kernel {self.name}: argument {i} ({p.name}) has {a.size} elements, more than "
                                 f"its int indices reach")
            if not ok:
                got = (f"{type(a).__name__} {getattr(a, 'dtype', '')}"
                       f"{' (not contiguous)' if hasattr(a, 'flags') and not a.flags.c_contiguous else ''}")
                raise TypeError(f"kernel {self.name}: argument {i} ({p.name}) must be a {p.describe()}, got {got}")


class Module:
    def __init__(self, backend, src, launchers):
        for name, params in src.kernels.items():
            setattr(self, name, Kernel(backend, name, params, launchers[name]))


_modules = {}


def kernels(backend, path):
    """The kernels of the .cu file at path, compiled and loaded once per backend and device."""
    key = (backend.name, backend.current_device(), path)
    if key not in _modules:
        src = source(path)
        _modules[key] = Module(backend, src, backend.compile(src))
    return _modules[key]


def beside(module_file, name):
    """The path of the .cu file `name` beside a Python module (a layer's own kernels)."""
    return os.path.join(os.path.dirname(os.path.abspath(module_file)), name)


ELEMENTWISE = beside(__file__, "elementwise.cu")
UNFOLD = beside(__file__, "unfold.cu")


def image_lanes(N):
    """The threads that share a pixel's (or an unfolded row's) N images, IMAGES_PER_THREAD each."""
    return -(-N // IMAGES_PER_THREAD)


def i32(v):
    return np.int32(v)


def f32(v):
    return np.float32(v)


_ones = {}


def ones(backend, n):
    """A cached (n, 1) column of ones on the current device: a GEMM with it sums rows."""
    key = (backend.name, backend.current_device(), n)
    if key not in _ones:
        column = backend.empty((n, 1))
        kernels(backend, ELEMENTWISE).fill.launch(n, column, f32(1.0), i32(n))
        backend.synchronize()            # filled on this stream, read later from any stream of the device
        _ones[key] = column
    return _ones[key]


def row_sums(backend, a, out):
    """out (rows, 1) = the sums of the rows of a 2-D array, as a GEMM with ones (cuBLAS on a GPU)."""
    backend.gemm(a, ones(backend, a.shape[1]), out)
