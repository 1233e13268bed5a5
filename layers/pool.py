"""pool: max, avg, maxabs or random pooling over square windows of each map (paper section 3.4)."""
import numpy as np

from convnet import native
from convnet.chunks import by_chunks, spans
from convnet.cpu_parallel import workers
from convnet.config import Key, boolean, integer, non_negative_integer, one_of, positive_integer
from convnet.kernels import beside, i32, image_lanes, kernels
from convnet.layer import Layer
from convnet.random import mix_key, uniform
from convnet.registry import register
from convnet.windows import framed, offsets, pool_output_size, unframed

CU = beside(__file__, "pool.cu")
MODES = {"avg": 0, "max": 1, "maxabs": 2, "rand": 3}


@register("pool")
class Pool(Layer):
    """Window (oy, ox) covers rows start + oy*stride ... + sizeX - 1 (and the same for columns),
    clipped to the image:
        max:    y = the window's maximum;
        avg:    y = the sum over the window / its in-bounds count;
        maxabs: y = the window's value of largest magnitude, with its sign (the last in raster
                order on ties, as the 2012 code's MaxAbsPooler);
        rand:   in training, one in-bounds value of the window drawn uniformly (counter-based, from
                the run's seed, the layer and the step); at test, the window's average, which is what
                training's draw gives on average. With doMax=1 (params file) it is max pooling.
    There are 1 + ceil((size - start - sizeX) / stride) windows per axis unless outputsX says
    otherwise. Overlapping windows (stride < sizeX) are the paper's choice.

    The gradient of max, maxabs and rand goes to every input equal to the window's output (ties
    share), as cuda-convnet's convLocalMaxUndo; avg's is spread over the window.

    Config keys: pool (max, avg, maxabs, rand), sizeX, stride, start, outputsX, channels; doMax (params).
    """
    n_inputs = 1
    keys = (
        Key("pool", one_of("max", "avg", "maxabs", "rand"), doc="max, avg, maxabs or rand"),
        Key("sizeX", positive_integer, doc="windows are sizeX x sizeX"),
        Key("stride", positive_integer, doc="step between windows"),
        Key("start", integer, default=0, doc="where the first window starts (may be negative)"),
        Key("outputsX", non_negative_integer, default=0, doc="windows per axis (0: as many as fit)"),
        Key("channels", positive_integer, doc="maps in the input"),
        Key("doMax", boolean, default=False, where="params", doc="pool=rand: pool by the maximum instead"),
    )
    seed = 0               # the net sets its own seed mixed with the layer's name

    def infer(self, shapes):
        c = self.conf
        if c.doMax and c.pool != "rand":
            raise self.cfg.error("doMax", "is an option of pool=rand", "params")
        self.kind = "max" if c.pool == "rand" and c.doMax else c.pool
        C, H, W = self.image_shape(0, c.channels)
        outs = [c.outputsX or pool_output_size(n, c.start, c.sizeX, c.stride) for n in (H, W)]
        for n, o in zip((H, W), outs):
            if o < 1:
                raise self.cfg.error("sizeX", f"is {c.sizeX}, larger than the {H}x{W} input from start {c.start}")
            if c.start + (o - 1) * c.stride >= n or c.start + c.sizeX <= 0:
                raise self.cfg.error("outputsX", f"{o} windows of {c.sizeX} from {c.start} by {c.stride} "
                                                 f"leave the {H}x{W} image: a window would be empty")
        self.image, self.outputs = (C, H, W), tuple(outs)
        # Each window's first in-bounds row and column and its in-bounds size along one axis.
        self.lo = [np.array([max(0, c.start + o * c.stride) for o in range(out)]) for out in outs]
        self.extent = [np.array([min(n, c.start + o * c.stride + c.sizeX) - max(0, c.start + o * c.stride)
                                 for o in range(out)]) for n, out in zip((H, W), outs)]
        self.counts = np.outer(*self.extent)[None, :, :, None]
        return (C,) + self.outputs

    def macs(self):
        c = self.conf
        return self.size(self.output_shape) * c.sizeX * c.sizeX if self.kind == "avg" else 0

    def mode(self, ctx):
        """How this pass pools: rand averages at test."""
        return "avg" if self.kind == "rand" and not ctx.train else self.kind

    def draw_key(self, ctx):
        return mix_key(self.seed, ctx.step)

    def kink_pattern(self, xs, y, ctx):
        """Which inputs equal their window's output (the max's winners; for the gradient checker)."""
        if self.mode(ctx) == "avg":
            return np.zeros(0)
        c = self.conf
        frame = framed(xs[0].reshape(self.image + xs[0].shape[-1:]), c.start, c.sizeX, c.stride, self.outputs, np.nan)
        return np.stack([frame[:, rows, cols] == y for _, _, rows, cols in offsets(c.sizeX, c.stride, self.outputs)])

    # ---- NumPy ---------------------------------------------------------------------------------

    def _picks(self, x, ctx):
        """rand: the (row, col) each output draws, as (C, oy, ox, N) index arrays into x."""
        N = x.shape[-1]
        shape = self.output_shape + (N,)
        u = uniform(self.draw_key(ctx), int(np.prod(shape))).reshape(shape)
        ey, ex = (e.astype(np.float32) for e in self.extent)
        cols = self.extent[1][None, None, :, None]
        # floor(u * count) in float32, as pool.cu computes it
        k = np.minimum((u * (ey[:, None] * ex[None, :])[None, :, :, None]).astype(np.int64), self.counts - 1)
        rows = self.lo[0][None, :, None, None] + k // cols
        cols = self.lo[1][None, None, :, None] + k % cols
        return rows, cols

    def forward_cpu(self, xs, ctx):
        x = xs[0]
        x = x.reshape(self.image + x.shape[-1:])
        mode = self.mode(ctx)
        if mode == "rand":
            rows, cols = self._picks(x, ctx)
            C, N = x.shape[0], x.shape[-1]
            return x[np.arange(C)[:, None, None, None], rows, cols, np.arange(N)[None, None, None, :]]
        # In pieces of maps (chunks.py): the windows stay within a map.
        return by_chunks(lambda piece: self._pool(piece, mode), [x], axis=0,
                         out_shape=self.output_shape + x.shape[-1:])

    def _pool(self, x, mode):
        c = self.conf
        fill = -np.inf if mode == "max" else 0
        frame = framed(x, c.start, c.sizeX, c.stride, self.outputs, fill)
        y = None
        for _, _, rows, cols in offsets(c.sizeX, c.stride, self.outputs):
            v = frame[:, rows, cols]
            if y is None:
                y = v.copy()
            elif mode == "max":
                np.maximum(y, v, out=y)
            elif mode == "maxabs":               # the later value unless the earlier is strictly larger
                y = np.where(np.abs(y) > np.abs(v), y, v)
            else:
                y += v
        return y / self.counts.astype(x.dtype) if mode == "avg" else y

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        shape = self.image + x.shape[-1:]
        out_shape = self.output_shape + x.shape[-1:]
        mode = self.mode(ctx)
        arrays = [x.reshape(shape), y.reshape(out_shape), dy.reshape(out_shape)]
        lib = native.library("pool_direct.cpp")[0] if mode != "avg" else None
        if lib is not None and all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays):
            return [self._unpool_compiled(lib, *arrays)]
        return [by_chunks(lambda *pieces: self._unpool(*pieces, mode), arrays, axis=0)]

    def _unpool_compiled(self, lib, x, y, dy):
        """_unpool's gradient to the inputs equal to their window's output, by pool_direct.cpp: the same
        sums in the same order, in one pass; pieces of maps on every core."""
        c = self.conf
        dx = np.empty_like(x)
        C, H, W, N = x.shape

        def piece(maps):
            lib.pool_equal_backward(x[maps].ctypes.data, y[maps].ctypes.data, dy[maps].ctypes.data,
                                    dx[maps].ctypes.data, maps.stop - maps.start, H, W, N, c.sizeX, c.start,
                                    c.stride, *self.outputs)
        workers().run(piece, spans(C, x.nbytes // C), nbytes=x.nbytes)
        return dx

    def _unpool(self, x, y, dy, mode):
        c = self.conf
        if mode == "avg":
            dy = dy / self.counts.astype(dy.dtype)
        else:                                     # to every input equal to the output
            frame = framed(x, c.start, c.sizeX, c.stride, self.outputs, np.nan)
        dframe = np.zeros((x.shape[0],) + tuple((o - 1) * c.stride + c.sizeX for o in self.outputs)
                          + x.shape[-1:], dtype=dy.dtype)
        for _, _, rows, cols in offsets(c.sizeX, c.stride, self.outputs):
            dframe[:, rows, cols] += dy if mode == "avg" else dy * (frame[:, rows, cols] == y)
        return unframed(dframe, x.shape, c.start)

    # ---- the GPU twin ----------------------------------------------------------------------------

    def _geometry(self, N, ctx):
        c = self.conf
        C, H, W = self.image
        return tuple(map(i32, (C, H, W, N, c.sizeX, c.start, c.stride) + self.outputs + (MODES[self.mode(ctx)],))) + (
            np.uint32(self.draw_key(ctx) if self.mode(ctx) == "rand" else 0),)

    def forward_gpu(self, xs, ctx):
        x = xs[0]
        N = x.shape[-1]
        y = self.be.empty(self.output_shape + (N,))
        lanes = image_lanes(N)
        total = y.size // N * lanes
        kernels(self.be, CU).pool_forward.launch(total, x, y, *self._geometry(N, ctx), i32(lanes), i32(total))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        dx = self.be.empty(x.shape)
        geometry = self._geometry(x.shape[-1], ctx)[:-1]
        lanes = image_lanes(x.shape[-1])
        total = dx.size // x.shape[-1] * lanes
        kernels(self.be, CU).pool_backward.launch(total, x, y, dy, dx, *geometry, i32(lanes), i32(total))
        return [dx]
