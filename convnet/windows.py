"""Sliding windows on the (channels, rows, cols, images) layout, in NumPy, vectorized.

Window o along an axis covers [start + o*stride, start + o*stride + size) of the input, where
start is -padding for convolutions and `start` for pooling. Windows that pass the image's edge read
`fill` there (zeros for convolution, so padded and ceil-rounded windows read zeros).

The loops here run over the offsets inside one window (size*size of them), never over pixels or images.
"""
import math

import numpy as np


def conv_output_size(size, padding, filter_size, stride):
    """cuda-convnet's count of filter positions: 1 + ceil((2*padding + size - filterSize) / stride)."""
    return 1 + math.ceil((2 * padding + size - filter_size) / stride)


def pool_output_size(size, start, size_x, stride):
    """cuda-convnet's count of pooling windows: 1 + ceil((size - start - sizeX) / stride)."""
    return 1 + math.ceil((size - start - size_x) / stride)


def framed(x, start, size, stride, outputs, fill=0.0):
    """x (C, H, W, N) placed in a frame where window (oy, ox) starts at (oy*stride, ox*stride)
    along both spatial axes; cells outside the image hold `fill`."""
    C, H, W, N = x.shape
    (sy, sx), (oy, ox) = _pair(start), _pair(outputs)
    hy, hx = (oy - 1) * stride + size, (ox - 1) * stride + size
    out = np.full((C, hy, hx, N), fill, dtype=x.dtype)
    # The part of the image inside the frame: frame row r is image row r + sy.
    r0, r1 = max(0, -sy), min(hy, H - sy)
    c0, c1 = max(0, -sx), min(hx, W - sx)
    if r1 > r0 and c1 > c0:
        out[:, r0:r1, c0:c1] = x[:, r0 + sy:r1 + sy, c0 + sx:c1 + sx]
    return out


def unframed(frame, shape, start):
    """The inverse of framed for gradients: the frame's image part, zeros where the frame missed."""
    C, H, W, N = shape
    sy, sx = _pair(start)
    hy, hx = frame.shape[1:3]
    out = np.zeros(shape, dtype=frame.dtype)
    r0, r1 = max(0, -sy), min(hy, H - sy)
    c0, c1 = max(0, -sx), min(hx, W - sx)
    if r1 > r0 and c1 > c0:
        out[:, r0 + sy:r1 + sy, c0 + sx:c1 + sx] = frame[:, r0:r1, c0:c1]
    return out


def offsets(size, stride, outputs):
    """(ky, kx, rows, cols): for each offset in the window, the slices of a frame that it reads for
    every window at once."""
    oy, ox = _pair(outputs)
    for ky in range(size):
        for kx in range(size):
            yield ky, kx, slice(ky, ky + stride * (oy - 1) + 1, stride), \
                slice(kx, kx + stride * (ox - 1) + 1, stride)


def unfold(x, size, stride, padding, outputs):
    """The unfolded input of a convolution: (C, size, size, oy, ox, N), so that a filter bank
    (F, C*size*size) times its (C*size*size, oy*ox*N) reshape gives the (F, oy, ox, N) output."""
    C, N = x.shape[0], x.shape[3]
    oy, ox = _pair(outputs)
    frame = framed(x, -padding, size, stride, outputs)
    cols = np.empty((C, size, size, oy, ox, N), dtype=x.dtype)
    for ky, kx, rows, cols_ in offsets(size, stride, outputs):
        cols[:, ky, kx] = frame[:, rows, cols_]
    return cols


def fold(dcols, shape, size, stride, padding, outputs):
    """The adjoint of unfold: sums each unfolded entry back onto the input pixel it came from."""
    C, N = shape[0], shape[3]
    oy, ox = _pair(outputs)
    frame = np.zeros((C, (oy - 1) * stride + size, (ox - 1) * stride + size, N), dtype=dcols.dtype)
    for ky, kx, rows, cols_ in offsets(size, stride, outputs):
        frame[:, rows, cols_] += dcols[:, ky, kx]
    return unframed(frame, shape, -padding)


def box_sum(a, axis, size, start):
    """out[i] = sum of a[j] for j in [i + start, i + start + size), clipped to the array, along axis."""
    n = a.shape[axis]
    before, after = max(0, -start), max(0, start + size - 1)
    pad = [(0, 0)] * a.ndim
    pad[axis] = (before, after)
    p = np.pad(a, pad)
    out = np.zeros_like(a)
    for d in range(size):
        lo = start + d + before
        out += _slice(p, axis, lo, lo + n)
    return out


def box_sum_adjoint(a, axis, size, start):
    """The adjoint of box_sum: out[j] = sum of a[i] over the windows i that contain j."""
    return box_sum(a, axis, size, -(start + size - 1))


def box_sum_2d(a, size, start):
    """Sum over the size x size window at (r + start, c + start) of each map of a (C, H, W, N),
    clipped to the image."""
    return box_sum(box_sum(a, 1, size, start), 2, size, start)


def box_sum_2d_adjoint(a, size, start):
    return box_sum_adjoint(box_sum_adjoint(a, 1, size, start), 2, size, start)


def _slice(a, axis, lo, hi):
    index = [slice(None)] * a.ndim
    index[axis] = slice(lo, hi)
    return a[tuple(index)]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)
