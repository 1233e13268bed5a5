"""The numpy backend's compiled kernels: C++ files beside this one (conv_direct.cpp, pool_direct.cpp),
each built once per machine with the host's C++ compiler (-O3 -march=native), cached like the emulated
backend's kernels, and called through ctypes, which lets go of the GIL: the layers' pieces run on
every core (cpu_parallel.py).

They are optional. Without a compiler, when a build fails, or with CONVNET_NATIVE=0, library()
returns None and why, and the layers run their NumPy code: the same function.
"""
import ctypes
import os
import platform
import shutil
import threading

from . import native_build
from .native_build import BuildError, build, library_path, read

FLAGS = ["-O3", "-march=native", "-std=c++14", "-shared", "-fPIC"]
P, L, I = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
KERNELS = {  # file: {function: argument types}, every function returning nothing; what each is for
    "conv_direct.cpp": ({"conv_forward": [P, L, L, I, I, P, P, L, I, I, I, I, I, I, I],
                         "conv_weight_grad": [P, L, L, I, I, P, L, I, I, I, I, I, I, P]},
                        "the direct convolution"),
    "pool_direct.cpp": ({"pool_equal_backward": [P, P, P, P] + [I] * 9}, "max pooling's gradient"),
}

_lock = threading.Lock()
_loaded = {}


def library(name):
    """(the ctypes library built from convnet/<name>, one of KERNELS, or None, and why not)."""
    with _lock:
        if name not in _loaded:
            _loaded[name] = _load(name, KERNELS[name][0])
        return _loaded[name]


def describe():
    """One line for reports: the compiled kernels the numpy backend runs, or why none."""
    loaded = [(name, library(name)) for name in KERNELS]
    ok = [f"{name} ({KERNELS[name][1]})" for name, (lib, _) in loaded if lib is not None]
    missing = [f"{name}: {why}" for name, (lib, why) in loaded if lib is None]
    return "; ".join(ok + [f"not {m}" for m in missing]) if ok else f"none, NumPy code only ({loaded[0][1][1]})"


def reset():
    """Forget every library (tests that change CONVNET_NATIVE, CXX or CONVNET_CACHE)."""
    with _lock:
        _loaded.clear()


def _load(name, signatures):
    if os.environ.get("CONVNET_NATIVE", "1") == "0":
        return None, "CONVNET_NATIVE=0"
    compiler = native_build.compiler()
    if not compiler or not shutil.which(compiler):
        return None, "no C++ compiler found (install g++ or set CXX)"
    try:
        program = read(os.path.join(os.path.dirname(os.path.abspath(__file__)), name))
        # -march=native: the library is for this CPU; one cache may serve several machines.
        path = library_path("native", os.path.splitext(name)[0], program, compiler, FLAGS, [_cpu()])
        if not os.path.exists(path):
            build(program, compiler, FLAGS, path)
        lib = ctypes.CDLL(path)
    except (BuildError, OSError) as e:
        return None, f"{os.path.basename(compiler)} could not build {name}: {e}"
    for function, argtypes in signatures.items():
        fn = getattr(lib, function)
        fn.argtypes, fn.restype = argtypes, None
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
