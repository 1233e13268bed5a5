"""Which BLAS NumPy's GEMMs run on, which kernels it chose for this CPU and how many threads it uses:
speed, and the last bits of every product, depend on them (what threadpoolctl reports, without it).

The libraries are the ones mapped into this process (/proc/self/maps on Linux); OpenBLAS, including
the symbol-prefixed builds NumPy's wheels ship (scipy_openblas), is asked through its own functions;
other libraries are named with what NumPy's build configuration says.
"""
import ctypes
import os
import re

import numpy as np

_BLAS_FILE = re.compile(r"(openblas|mkl_rt|libmkl|blis|flexiblas|libblas|libcblas|accelerate)", re.I)


def loaded_blas_files():
    """Paths of the BLAS libraries mapped into this process (empty where /proc is not there)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return []
    return sorted(p for p in paths if _BLAS_FILE.search(os.path.basename(p)))


def _openblas_function(lib, name, restype, argtypes=()):
    """OpenBLAS's function `name`, under its plain name or a wheel's prefixed one; None if absent."""
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_"):
            fn = getattr(lib, f"{prefix}{name}{suffix}", None)
            if fn is not None:
                fn.restype, fn.argtypes = restype, list(argtypes)
                return fn
    return None


def _openblas_call(lib, name, restype):
    fn = _openblas_function(lib, name, restype)
    return None if fn is None else fn()


def describe_openblas(path):
    """{"library", "config", "kernels", "threads"} of an OpenBLAS, or None if it is not one."""
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    config = _openblas_call(lib, "openblas_get_config", ctypes.c_char_p)
    if config is None:
        return None
    kernels = _openblas_call(lib, "openblas_get_corename", ctypes.c_char_p)
    threads = _openblas_call(lib, "openblas_get_num_threads", ctypes.c_int)
    return {"library": os.path.basename(path), "config": config.decode(errors="replace").strip(),
            "kernels": kernels.decode(errors="replace") if kernels else "unknown", "threads": threads}


def blas_report():
    """One dict per BLAS library in use: OpenBLAS's own report, or NumPy's build information."""
    np.ones((2, 2), np.float32) @ np.ones((2, 2), np.float32)      # NumPy loads its BLAS lazily on some builds
    found = []
    for path in loaded_blas_files():
        info = describe_openblas(path)
        found.append(info or {"library": os.path.basename(path), "config": _numpy_build_blas(), "kernels": "unknown",
                              "threads": None})
    return found or [{"library": "none found in the process", "config": _numpy_build_blas(), "kernels": "unknown",
                      "threads": None}]


def _numpy_build_blas():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:                 # older NumPy: no dict mode
        return "unknown"


def summary(reports):
    """One line: 'OpenBLAS 0.3.31 ... kernels Haswell, 2 threads'."""
    return "; ".join(f"{r['config']}, kernels {r['kernels']}"
                     + (f", {r['threads']} threads" if r.get("threads") else "") for r in reports)


def set_threads(n):
    """Sets the threads of the OpenBLAS NumPy uses (openblas_set_num_threads); False where there is none."""
    for path in loaded_blas_files():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        put = _openblas_function(lib, "openblas_set_num_threads", None, [ctypes.c_int])
        if put is not None:
            put(int(n))
            return True
    return False
