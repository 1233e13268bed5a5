"""Keeping freed host memory for the next training step instead of giving it back to the kernel.

A training step allocates and frees the same arrays every time. glibc's malloc maps blocks above its
mmap threshold (at most 32 MiB) on their own and unmaps them when freed, and trims freed memory at the
top of the heap; the kernel then zeroes every page again on the next step's first touch: measured, a
quarter of a quick-start step and 2 of the 7 seconds of a step of the paper's net (whose activations
are up to 148 MB). So all blocks come from the heap (no mmap: threads' arenas fall back to the main
one for blocks larger than theirs) and freed memory is never trimmed, which keeps it in the process
for the next step; the peak is what it was. This changes only where memory comes from, never a
number; on a libc without mallopt it does nothing.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
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
        ok = bool(mallopt(M_MMAP_MAX, 0))
        ok = bool(mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1)) and ok
        ok = bool(mallopt(M_TOP_PAD, 64 * 1024 * 1024)) and ok
    _done.append(ok)
    return ok
