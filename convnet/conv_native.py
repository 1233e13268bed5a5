"""The direct convolution of conv_direct.cpp (a compiled kernel, native.py) for conv_cpu: which
batches and geometries it takes, the packing of its weights, and its two calls.

Measured on the development machine (AMD EPYC, AVX-512, one core): 70-100 GFLOP/s forward and weight
gradient on the quick start's and the 18pct net's layers, where their unfold + OpenBLAS GEMMs reach
25-80 (GEMMs with 16-64 rows run well below OpenBLAS's large-GEMM rate). On long sums over (c, ky, kx)
with many filters, such as the paper's conv3-5, the GEMM is faster and keeps them (usable).

The compiled path takes float32 batches of a multiple of 16 images; other batches, and every batch
where the library cannot be built (available() says why), take the NumPy path.
"""
import numpy as np

from . import native

LANES = 16                  # the images of a batch come in multiples of this (the widest vector)
GEMM_ROWS, LONG_SUM = 128, 1536    # filters per group and terms (c, ky, kx) per output where the GEMM wins


def available():
    """(the library or None, why not)."""
    return native.library("conv_direct.cpp")


def usable(x, g):
    """Whether the compiled path takes this batch and geometry: float32, images a multiple of LANES,
    and not a GEMM of at least GEMM_ROWS rows over more than LONG_SUM terms (where OpenBLAS is at its
    best). Measured, 2 threads, AVX-512, GFLOP/s forward and weight gradient, direct against GEMM:
    32 filters over 64 maps 5x5: 161/141 vs 94/81; 48 over 128 maps 5x5: 135/142 vs 113/95; 128 over
    48 maps 5x5 (1,200 terms): 158/180 vs 134/123; 128 over 192 maps 3x3 (1,728): 132/128 vs 136/132;
    192 over 256 maps 3x3 (2,304): 133/119 vs 154/139."""
    if x.dtype != np.float32 or x.shape[-1] % LANES or available()[0] is None:
        return False
    return g.Fg < GEMM_ROWS or g.Cg * g.k * g.k <= LONG_SUM


def packed(w):
    """Filters (F, Cg, k, k) in the library's blocks of B filters, each (Cg, k, k, B): a forward step's
    B weights adjacent. Zeros past the last filter."""
    F, B = w.shape[0], available()[0].conv_filter_block()
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

