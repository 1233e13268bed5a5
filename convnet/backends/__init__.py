"""Backends: where arrays live and which path the layers take.

numpy     the CPU reference: the layers' forward_cpu/backward_cpu. Runs everywhere.
cuda      CuPy arrays; the layers' forward_gpu/backward_gpu, raw CUDA kernels and cuBLAS.
emulated  the cuda backend's code path and .cu sources run on the CPU (see emulated.py): NumPy
          arrays, kernels compiled by the host C++ compiler, NumPy GEMMs for cuBLAS. For tests.
"""
from ..errors import BackendError

NAMES = ("numpy", "cuda", "emulated")
_instances = {}


def get_backend(name):
    if name not in NAMES:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    if name not in _instances:
        if name == "numpy":
            from .numpy_backend import NumpyBackend as cls
        elif name == "cuda":
            from .cuda_backend import CudaBackend as cls
        else:
            from .emulated import EmulatedBackend as cls
        _instances[name] = cls()
    return _instances[name]
