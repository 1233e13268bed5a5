"""The CPU reference backend: NumPy arrays, the layers' NumPy forward and backward."""
import contextlib

import numpy as np

from ..host_memory import keep_freed_memory


class NumpyBackend:
    name = "numpy"
    gpu_path = False
    xp = np
    dtypes = (np.float32, np.float64)

    array_types = (np.ndarray,)

    def __init__(self):
        keep_freed_memory()           # a step's arrays reuse the last step's memory (host_memory.py)

    def use_device(self, device):
        return contextlib.nullcontext()

    def current_device(self):
        return 0

    def from_host(self, x, device):
        return np.array(x, copy=True)

    def from_host_int(self, x, device):
        """An int32 array (index tables for kernels) on the device."""
        return np.array(x, dtype=np.int32, copy=True)

    def to_host(self, x, device=None):
        return np.asarray(x)

    def copy(self, x, src, dst):
        """Logical devices on the CPU are separate copies, so no layer can see another's memory."""
        return x.copy()

    def physical_devices(self):
        return ["cpu"]

    def synchronize(self):
        pass
