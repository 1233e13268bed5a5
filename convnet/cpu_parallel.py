"""The numpy backend's threads: a layer's independent pieces of work on every core at once.

NumPy runs one core per call and OpenBLAS splits each GEMM over all of them; between GEMMs its idle
workers spin, taking the cores the next NumPy call needs, and the data a GEMM split between cores
must move back to the core that touches it next (measured on 2 cores: the unfold after a 2-thread
GEMM ran 10 times slower than alone). So the CPU layers cut their work into pieces with disjoint
outputs (rows of a convolution, maps of a pooling, columns of a product) and run them here: each
core takes a contiguous share of the pieces, in order, with its own buffers, and OpenBLAS runs one
thread per call (set once, when the workers start: every core is already busy). Which core computes
a piece never changes a number: the pieces write disjoint outputs, and what is summed over pieces (a
weight gradient) is summed by the caller in piece order.

CONVNET_THREADS sets the number of threads (default: the cores this process may run on).
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .blas_info import set_threads

_inside = threading.local()


def cores():
    try:
        n = int(os.environ.get("CONVNET_THREADS", "0"))
    except ValueError:
        n = 0
    if n > 0:
        return n
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Workers:
    def __init__(self, n=None):
        self.n = n or cores()
        self._executor = ThreadPoolExecutor(self.n - 1, thread_name_prefix="convnet-cpu") if self.n > 1 else None
        if self.n > 1:
            set_threads(1)

    def run(self, fn, parts, nbytes=None):
        """[fn(part) for part in parts], the parts shared among the threads in contiguous runs (the
        calling thread takes the first). Inside a piece, run() is sequential; so is work of fewer than
        SHARED_BYTES (nbytes: what the parts read in all), where handing it over costs more."""
        parts = list(parts)
        small = nbytes is not None and nbytes < SHARED_BYTES
        if self.n == 1 or len(parts) < 2 or small or getattr(_inside, "active", False):
            return [fn(p) for p in parts]
        n = min(self.n, len(parts))
        bounds = [len(parts) * t // n for t in range(n + 1)]
        shares = [parts[bounds[t]:bounds[t + 1]] for t in range(n)]
        futures = [self._executor.submit(_run_share, fn, share) for share in shares[1:]]
        results = _run_share(fn, shares[0])
        for f in futures:
            results += f.result()
        return results

    def matmul(self, a, b, out=None):
        """a @ b for 2-D arrays, in pieces of at most PIECE columns of the product (or rows, when it has
        few columns). The pieces do not depend on the number of threads: OpenBLAS's result for one
        element can depend on the shape of the product it is part of."""
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
        if a.shape[0] * a.shape[1] * b.shape[1] < SMALL_GEMM:
            return np.matmul(a, b, out=out)
        by_columns = b.shape[1] >= a.shape[0]
        n = out.shape[1] if by_columns else out.shape[0]
        cuts = [slice(lo, min(n, lo + PIECE)) for lo in range(0, n, PIECE)]
        if by_columns:
            self.run(lambda c: np.matmul(a, b[:, c], out=out[:, c]), cuts)
        else:
            self.run(lambda c: np.matmul(a[c], b, out=out[c]), cuts)
        return out


SHARED_BYTES = 256 * 2 ** 10    # work below this stays on the calling thread
SMALL_GEMM = 2 ** 21            # multiply-adds below which the product is one piece
PIECE = 256                     # columns (or rows) of a product per piece


def _run_share(fn, share):
    _inside.active = True
    try:
        return [fn(p) for p in share]
    finally:
        _inside.active = False


_workers = []


def workers():
    """The process's Workers (made on first use)."""
    if not _workers:
        _workers.append(Workers())
    return _workers[0]
