"""Keeping freed host memory for the next training step instead of giving it back to the kernel.

A training step allocates and frees the same arrays every time. glibc's malloc returns large freed
blocks to the kernel (munmap, or trimming the top of the heap), and the kernel then has to zero every
page again on the next step's first touch: measured on the quick-start net, a quarter of a step's
time. Raising the mmap threshold to glibc's maximum (32 MiB on 64-bit) and never trimming keeps those
blocks in the process for reuse. Arrays above 32 MiB are still mapped and unmapped each time. This
changes only where memory comes from, never a number; on a libc without mallopt it does nothing.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024          # glibc's ceiling on 64-bit (4 MiB * sizeof(long))
_done = []


def keep_freed_memory():
    """Tune malloc once per process; True where it took effect."""
    if _done:
        return _done[0]
    ok = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX))
        ok = bool(mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1)) and ok
        ok = bool(mallopt(M_TOP_PAD, 64 * 1024 * 1024)) and ok
    _done.append(ok)
    return ok
