"""The direct convolution of conv_direct.cpp, compiled once per machine with the host's C++ compiler
(-O3 -march=native, cached like the emulated backend's kernels) and called through ctypes, which lets
go of the GIL: the pieces run on every core (cpu_parallel.py).

Measured on the development machine (AMD EPYC, AVX-512, one core): 70-100 GFLOP/s forward and weight
gradient on the quick start's and the 18pct net's layers, where their unfold + OpenBLAS GEMMs reach
25-80 (GEMMs with 16-64 rows run well below OpenBLAS's large-GEMM rate). On long sums over (c, ky, kx),
with many filters, such as the paper's conv3-5, the GEMM is faster and keeps them (usable).

Without a compiler, or when it fails, or with CONVNET_NATIVE=0, conv_cpu keeps its NumPy path:
available() says why. The compiled path takes float32 batches of a multiple of 16 images; other
batches take the NumPy path.
"""
import ctypes
import os
import platform
import shutil
import threading

import numpy as np

from .native_build import BuildError, build, library_path, read

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_direct.cpp")
FLAGS = ["-O3", "-march=native", "-std=c++14", "-shared", "-fPIC"]
LANES = 16                  # the images of a batch come in multiples of this (the widest vector)
GEMM_ROWS, LONG_SUM = 128, 1536    # filters per group and terms (c, ky, kx) per output where the GEMM wins

_lock = threading.Lock()
_state = {}


def available():
    """(the library or None, why not)."""
    with _lock:
        if "lib" not in _state:
            _state["lib"], _state["why"] = _load()
        return _state["lib"], _state["why"]


def reset():
    """Forget the library (tests that change CONVNET_NATIVE or CXX)."""
    with _lock:
        _state.clear()


def describe():
    """One line for reports: which convolution the numpy backend runs."""
    lib, why = available()
    return "direct (compiled, conv_direct.cpp)" if lib else f"unfold + BLAS GEMM ({why})"


def _load():
    if os.environ.get("CONVNET_NATIVE", "1") == "0":
        return None, "CONVNET_NATIVE=0"
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not compiler or not shutil.which(compiler):
        return None, "no C++ compiler found (install g++ or set CXX)"
    try:
        program = read(SOURCE)
        # -march=native: the library is for this CPU; one cache may serve several machines.
        path = library_path("native", "conv_direct", program, compiler, FLAGS, [_cpu()])
        if not os.path.exists(path):
            build(program, compiler, FLAGS, path)
        lib = ctypes.CDLL(path)
    except (BuildError, OSError) as e:
        return None, f"{os.path.basename(compiler)} could not build conv_direct.cpp: {e}"
    P, L, I = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
    lib.conv_forward.argtypes = [P, L, L, I, I, P, P, L, I, I, I, I, I, I, I]
    lib.conv_weight_grad.argtypes = [P, L, L, I, I, P, L, I, I, I, I, I, I, P]
    lib.conv_forward.restype = lib.conv_weight_grad.restype = None
    lib.filter_block = lib.conv_filter_block()        # the packing its forward expects
    return lib, None


def _cpu():
    """What -march=native compiled for: the CPU's model and flags."""
    text = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = "".join(line for line in f.read().split("\n\n")[0].splitlines(True)
                           if line.startswith(("model name", "flags", "Features", "CPU part")))
    except OSError:
        pass
    return platform.machine() + platform.processor() + text


def usable(x, dtype, g):
    """Whether the compiled path takes this batch and geometry: float32, images a multiple of LANES,
    and not a GEMM of at least GEMM_ROWS rows over more than LONG_SUM terms (where OpenBLAS is at its
    best). Measured, 2 threads, AVX-512, GFLOP/s forward and weight gradient, direct against GEMM:
    32 filters over 64 maps 5x5: 161/141 vs 94/81; 48 over 128 maps 5x5: 135/142 vs 113/95; 128 over
    48 maps 5x5 (1,200 terms): 158/180 vs 134/123; 128 over 192 maps 3x3 (1,728): 132/128 vs 136/132;
    192 over 256 maps 3x3 (2,304): 133/119 vs 154/139."""
    if dtype != np.float32 or x.shape[-1] % LANES or available()[0] is None:
        return False
    return g.Fg < GEMM_ROWS or g.Cg * g.k * g.k <= LONG_SUM


def packed(w):
    """Filters (F, Cg, k, k) in the library's blocks of B filters, each (Cg, k, k, B): a forward step's
    B weights adjacent. Zeros past the last filter."""
    F, B = w.shape[0], available()[0].filter_block
    blocks = -(-F // B)
    out = np.zeros((blocks * B,) + w.shape[1:], np.float32)
    out[:F] = w
    return np.ascontiguousarray(out.reshape(blocks, B, -1).transpose(0, 2, 1))


def _strides(frame):
    """(data pointer, channel stride, row stride) in floats of a (C, rows, cols, N) view whose images
    are contiguous and whose columns are N apart."""
    item = frame.itemsize
    assert frame.strides[3] == item and frame.strides[2] == frame.shape[3] * item, "frame layout"
    return frame.ctypes.data, frame.strides[0] // item, frame.strides[1] // item


def forward_rows(frame, wpacked, out, g, y0, y1, accumulate):
    """out (Fg maps, oy*ox*N, a view of rows) (+)= one group's convolution for output rows y0 ... y1-1.
    frame: the group's (Cg, Hf, Wf, N)."""
    data, cs, rs = _strides(frame)
    assert out.strides[1] == out.itemsize
    available()[0].conv_forward(data, cs, rs, frame.shape[0], frame.shape[3], wpacked.ctypes.data,
                                out.ctypes.data, out.strides[0] // out.itemsize, out.shape[0], g.ox,
                                g.k, g.s, y0, y1, int(accumulate))


def weight_grad_rows(frame, dy, g, y0, y1):
    """One group's (Fg, Cg, k, k) weight gradient from output rows y0 ... y1-1 of dy (Fg, oy*ox*N)."""
    data, cs, rs = _strides(frame)
    assert dy.strides[1] == dy.itemsize
    dw = np.empty((dy.shape[0], frame.shape[0], g.k, g.k), np.float32)
    available()[0].conv_weight_grad(data, cs, rs, frame.shape[0], frame.shape[3], dy.ctypes.data,
                                    dy.strides[0] // dy.itemsize, dy.shape[0], g.ox, g.k, g.s, y0, y1,
                                    dw.ctypes.data)
    return dw

