"""Computing a layer's CPU math in pieces along an axis the math does not mix, so that its temporaries
stay in cache and come from memory malloc keeps (host_memory.py) instead of being mapped, faulted in
and zeroed by the kernel for every array, and so that the pieces run on every core (cpu_parallel.py):
cmrnorm's rows (its windows run across maps), the maps of pooling and rnorm (their windows stay
within a map). The numbers are the same as in one piece: every output element is computed by the
same operations in the same order.
"""
import numpy as np

from .cpu_parallel import workers

CHUNK_BYTES = 2 * 2 ** 20       # the largest input piece: its few temporaries fit in L2 + a share of L3


def spans(n, bytes_per_index):
    """Slices covering range(n), each of at most CHUNK_BYTES (at least one index), and at least one per
    thread where n allows."""
    step = max(1, CHUNK_BYTES // max(1, bytes_per_index))
    step = min(step, -(-n // workers().n))
    return [slice(lo, min(n, lo + step)) for lo in range(0, n, step)]


def by_chunks(fn, arrays, axis, out_shape=None, dtype=None):
    """out[..., piece, ...] = fn(*(a[..., piece, ...] for a in arrays)) for pieces along `axis`, which
    every array and the output share (the output is shaped like arrays[0] unless out_shape says)."""
    first = arrays[0]
    out = np.empty(first.shape if out_shape is None else out_shape, dtype or first.dtype)
    n = first.shape[axis]
    per_index = first.nbytes // max(1, n)
    lead = (slice(None),) * axis

    def run(piece):
        out[lead + (piece,)] = fn(*(a[lead + (piece,)] for a in arrays))
    workers().run(run, spans(n, per_index), nbytes=first.nbytes)      # small work stays on this thread
    return out
