"""The CPU convolution. Two paths, the same function:

- compiled (conv_native.py, conv_direct.cpp), for float32 batches of a multiple of 16 images where a
  C++ compiler is at hand: a direct convolution over the zero-bordered frame, with no unfolded copy;
  the input gradient at stride 1 is the same direct convolution of dy by the filters turned 180
  degrees (_transposed). Measured 1.5-3x the NumPy path's speed on the quick start's layers.
- NumPy: the input padded once into a zero-bordered frame, then, for each group and each chunk of
  output rows, the chunk's unfolded input (about 2 MiB, still in cache when the GEMM reads it) and one
  GEMM writing its rows of the output in place.

The NumPy path is windows.unfold/fold's math (y = W @ unfold(x), dW = dy @ unfold(x)^T, dx = fold(W^T @
dy)) in pieces: nothing the size of a whole unfolded batch is ever made (conv1 of the paper's net
unfolds to 363 x 387,200 floats, 560 MB). The backward frames its input again (a copy the size of the
input) and unfolds each chunk again, sums the weight gradient over the chunks in chunk order, and at
stride 1 takes dx as the transposed convolution (dy convolved with the filters turned 180 degrees),
whose pieces write disjoint rows of dx where a fold's would overlap. The frame and chunk buffers are
one set per thread, kept from step to step (a Workspace), so a step allocates only what it returns. A
chunk's GEMM on cached data also runs nearer the machine's peak than one GEMM over the whole batch
(measured: 147 against 72 GFLOP/s at the quick start's conv2). On either path the pieces run on every
core (cpu_parallel.py), and the weight gradient is summed over pieces that do not depend on the number
of threads.
"""
import threading
from types import SimpleNamespace

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import conv_native
from .cpu_parallel import workers

CHUNK_BYTES = 2 * 2 ** 20      # the unfolded rows one GEMM reads: about a core's L2 (measured: 2 MiB best of 1-8)


class Workspace:
    """Buffers kept from step to step, by name, made again only to grow. Only for what is used inside
    one call: never for what a layer returns."""

    def __init__(self):
        self._arrays = {}

    def flat(self, name, shape, dtype):
        """A C-contiguous array of `shape` at the start of a buffer that only grows: chunks of varying
        size share it."""
        size = int(np.prod(shape))
        a = self._arrays.get(name)
        if a is None or a.size < size or a.dtype != dtype:
            a = np.empty(size, dtype)
            self._arrays[name] = a
        return a[:size].reshape(shape)


def frame_shape(g, N):
    """The frame that holds every tap of every filter position: (C, (oy-1)*s + k, (ox-1)*s + k, N)."""
    return (g.C, (g.oy - 1) * g.s + g.k, (g.ox - 1) * g.s + g.k, N)


def _inside(g, frame_hw):
    """Rows and columns of the frame that hold the image: frame row r is image row r - p."""
    (hf, wf), (H, W), p = frame_hw, (g.H, g.W), g.p
    return (slice(p, min(hf, p + H)), slice(p, min(wf, p + W))), (slice(0, min(hf - p, H)), slice(0, min(wf - p, W)))


_local = threading.local()


def workspace():
    """This thread's Workspace: the conv layers run one at a time in a thread."""
    if not hasattr(_local, "work"):
        _local.work = Workspace()
    return _local.work


def framed(x, g, work):
    """x (C, H, W, N) in a zero-bordered frame. Without padding, when every tap is inside the image, x
    itself (a view). The frame is the workspace's: its border is zeroed here, its inside written."""
    N = x.shape[-1]
    shape = frame_shape(g, N)
    if g.p == 0 and shape[1] <= g.H and shape[2] <= g.W:
        return x[:, :shape[1], :shape[2]]
    frame = work.flat("frame", shape, x.dtype)
    (fr, fc), (xr, xc) = _inside(g, shape[1:3])
    _zero_border(frame, fr, fc)
    np.copyto(frame[:, fr, fc], x[:, xr, xc])
    return frame


def _zero_border(frame, rows, cols):
    frame[:, :rows.start] = 0
    frame[:, rows.stop:] = 0
    frame[:, rows, :cols.start] = 0
    frame[:, rows, cols.stop:] = 0


def chunk_rows(g, N, itemsize):
    """Output rows per chunk: as many as fit CHUNK_BYTES of unfolded input, at least one."""
    row = g.Cg * g.k * g.k * g.ox * N * itemsize
    return max(1, min(g.oy, CHUNK_BYTES // row))


def unfold_rows(frame, r0, rows, g, out):
    """The unfolded input of output rows r0 ... r0 + rows - 1 of one group's frame (Cg, Hf, Wf, N):
    out (Cg*k*k, rows*ox*N) with out[c, ky, kx, py, px, n] = frame[c, (r0+py)*s + ky, px*s + kx, n]."""
    Cg, N = frame.shape[0], frame.shape[3]
    sc, sh, sw, sn = frame.strides
    taps = as_strided(frame[:, r0 * g.s:], shape=(Cg, g.k, g.k, rows, g.ox, N),
                      strides=(sc, sh, sw, g.s * sh, g.s * sw, sn), writeable=False)
    np.copyto(out.reshape(Cg, g.k, g.k, rows, g.ox, N), taps)


def fold_rows(dcols, dframe, r0, rows, g):
    """The adjoint of unfold_rows: adds each unfolded entry's gradient onto the frame cell it came from."""
    Cg, N = dframe.shape[0], dframe.shape[3]
    d = dcols.reshape(Cg, g.k, g.k, rows, g.ox, N)
    for ky in range(g.k):
        y0 = r0 * g.s + ky
        for kx in range(g.k):
            cells = dframe[:, y0:y0 + (rows - 1) * g.s + 1:g.s, kx:kx + (g.ox - 1) * g.s + 1:g.s]
            np.add(cells, d[:, ky, kx], out=cells)


def _chunks(g, N, itemsize):
    """(group, first row, rows, the rows' columns of a (maps, oy*ox*N) matrix) for every piece."""
    step = chunk_rows(g, N, itemsize)
    return [(grp, r0, rows, slice(r0 * g.ox * N, (r0 + rows) * g.ox * N))
            for grp in range(g.G) for r0 in range(0, g.oy, step) for rows in [min(step, g.oy - r0)]]


def _unfolded_piece(frame, part, g, N):
    """The unfolded input of one piece, in this thread's buffer: (Cg*k*k, rows*ox*N)."""
    grp, r0, rows, _ = part
    cols = workspace().flat("cols", (g.Cg * g.k * g.k, rows * g.ox * N), frame.dtype)
    unfold_rows(frame[grp * g.Cg:(grp + 1) * g.Cg], r0, rows, g, cols)
    return cols


def _unfolded_bytes(g, N, itemsize):
    return g.G * g.Cg * g.k * g.k * g.oy * g.ox * N * itemsize


def forward(x, w, g, out, accumulate):
    """out (F, oy*ox*N) = (or +=, accumulate) the convolution of x (C, H, W, N) by w (F, Cg, k, k).
    The pieces (a group's chunk of rows) write disjoint rows of out and run on every core."""
    N, ckk = x.shape[-1], g.Cg * g.k * g.k
    frame = framed(x, g, workspace())
    if _direct(x, out, g):
        return _forward_direct(frame, w, g, out, accumulate)

    def piece(part):
        grp, _, _, span = part
        cols = _unfolded_piece(frame, part, g, N)
        wg = w[grp * g.Fg:(grp + 1) * g.Fg].reshape(g.Fg, ckk)
        target = out[grp * g.Fg:(grp + 1) * g.Fg, span]
        if accumulate:
            product = workspace().flat("product", target.shape, x.dtype)
            np.matmul(wg, cols, out=product)
            np.add(target, product, out=target)
        else:
            np.matmul(wg, cols, out=target)
    workers().run(piece, _chunks(g, N, x.itemsize), nbytes=_unfolded_bytes(g, N, x.itemsize))


def backward(x, w, dy, g, need_input):
    """(dw (F, Cg, k, k), dx (C, H, W, N) or None) for dy (F, oy*ox*N). dw is a sum over the pieces,
    each piece's part computed on some core and the parts summed in piece order (the same numbers on
    any number of cores); dx is the transposed convolution (stride 1) or a fold."""
    N, ckk = x.shape[-1], g.Cg * g.k * g.k
    frame = framed(x, g, workspace())
    parts, weight_part = (_weight_grad_direct if _direct(x, dy, g) else _weight_grad_gemm)(frame, dy, g)
    dw = np.zeros((g.F, ckk), x.dtype)
    for (grp, *_), d in zip(parts, workers().run(weight_part, parts, nbytes=_unfolded_bytes(g, N, x.itemsize))):
        rows = dw[grp * g.Fg:(grp + 1) * g.Fg]
        np.add(rows, d.reshape(rows.shape), out=rows)
    dx = None
    if need_input:
        dx = _transposed(dy, w, g, N) if g.s == 1 and g.p <= g.k - 1 else _folded(frame, w, dy, g, N, x.dtype)
    return dw.reshape(w.shape), dx


def _direct(x, other, g):
    """Whether the compiled direct convolution takes x (and the output or gradient beside it)."""
    return conv_native.usable(x, g) and x.flags.c_contiguous and other.flags.c_contiguous


def _forward_direct(frame, w, g, out, accumulate):
    """forward() by conv_direct.cpp: one piece per group and output row (every output is the same sum
    whichever piece computes it)."""
    packs = [conv_native.packed(w[grp * g.Fg:(grp + 1) * g.Fg]) for grp in range(g.G)]

    def piece(part):
        grp, y = part
        conv_native.forward_rows(frame[grp * g.Cg:(grp + 1) * g.Cg], packs[grp], out[grp * g.Fg:(grp + 1) * g.Fg],
                                 g, y, y + 1, accumulate)
    workers().run(piece, [(grp, y) for grp in range(g.G) for y in range(g.oy)], nbytes=frame.nbytes + out.nbytes)


def _weight_grad_gemm(frame, dy, g):
    """(pieces, the weight gradient of a piece) by the unfold and a GEMM: a piece is a chunk of rows."""
    N = frame.shape[-1]

    def weight_part(part):
        grp, _, _, span = part
        return np.matmul(dy[grp * g.Fg:(grp + 1) * g.Fg, span], _unfolded_piece(frame, part, g, N).T)
    return _chunks(g, N, frame.itemsize), weight_part


def _weight_grad_direct(frame, dy, g):
    """(pieces, the weight gradient of a piece) by conv_direct.cpp: a piece is a group's run of at
    most DIRECT_PIECES-th of the output rows, whatever the number of threads."""
    step = -(-g.oy // DIRECT_PIECES)
    parts = [(grp, y, min(g.oy, y + step)) for grp in range(g.G) for y in range(0, g.oy, step)]

    def weight_part(part):
        grp, y0, y1 = part
        return conv_native.weight_grad_rows(frame[grp * g.Cg:(grp + 1) * g.Cg], dy[grp * g.Fg:(grp + 1) * g.Fg],
                                            g, y0, y1)
    return parts, weight_part


DIRECT_PIECES = 16      # the weight gradient's pieces per group: enough for 16 cores, few partial sums to add


def _transposed(dy, w, g, N):
    """dx for stride 1: the convolution of dy, padded by k-1-p, by the filters turned 180 degrees with
    maps and filters swapped within each group. Every piece writes its own rows of dx: no fold."""
    k = g.k
    flipped = np.empty((g.C, g.Fg, k, k), w.dtype)
    for grp in range(g.G):
        flipped[grp * g.Cg:(grp + 1) * g.Cg] = w[grp * g.Fg:(grp + 1) * g.Fg, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    t = SimpleNamespace(C=g.F, H=g.oy, W=g.ox, G=g.G, Cg=g.Fg, F=g.C, Fg=g.Cg, k=k, s=1, p=k - 1 - g.p,
                        oy=g.H, ox=g.W)
    dx = np.empty((g.C, g.H * g.W * N), w.dtype)
    forward(dy.reshape(g.F, g.oy, g.ox, N), flipped, t, dx, False)
    return dx.reshape(g.C, g.H, g.W, N)


def _folded(frame, w, dy, g, N, dtype):
    """dx as the adjoint of the unfold, for strides above 1: one piece after the other (the chunks'
    windows overlap in the frame)."""
    ckk = g.Cg * g.k * g.k
    work = workspace()
    dframe = work.flat("dframe", frame_shape(g, N), dtype)
    dframe.fill(0)
    for grp, r0, rows, span in _chunks(g, N, np.dtype(dtype).itemsize):
        fs, cs = slice(grp * g.Fg, (grp + 1) * g.Fg), slice(grp * g.Cg, (grp + 1) * g.Cg)
        dcols = work.flat("dcols", (ckk, rows * g.ox * N), dtype)
        np.matmul(w[fs].reshape(g.Fg, ckk).T, dy[fs, span], out=dcols)
        fold_rows(dcols, dframe[cs], r0, rows, g)
    dx = np.zeros((g.C, g.H, g.W, N), dtype) if _frame_misses(g) else np.empty((g.C, g.H, g.W, N), dtype)
    (fr, fc), (xr, xc) = _inside(g, dframe.shape[1:3])
    np.copyto(dx[:, xr, xc], dframe[:, fr, fc])
    return dx


def _frame_misses(g):
    """Whether some image pixels are read by no filter position (the frame ends before the image)."""
    return (g.oy - 1) * g.s + g.k - g.p < g.H or (g.ox - 1) * g.s + g.k - g.p < g.W
