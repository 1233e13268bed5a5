"""pool: max or average pooling over square windows of each map (paper section 3.4)."""
import numpy as np

from convnet.config import Key, integer, non_negative_integer, one_of, positive_integer
from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register
from convnet.windows import framed, offsets, pool_output_size, unframed

CU = beside(__file__, "pool.cu")


@register("pool")
class Pool(Layer):
    """Window (oy, ox) covers rows start + oy*stride ... + sizeX - 1 (and the same for columns),
    clipped to the image:  max:  y = max over the window;  avg:  y = sum over the window / its
    in-bounds count. There are 1 + ceil((size - start - sizeX) / stride) windows per axis unless
    outputsX says otherwise. Overlapping windows (stride < sizeX) are the paper's choice.

    The max gradient goes to every input equal to the window's maximum (ties share), as cuda-convnet.

    Config keys: pool (max, avg), sizeX, stride, start, outputsX, channels.
    """
    n_inputs = 1
    keys = (
        Key("pool", one_of("max", "avg"), doc="max or avg"),
        Key("sizeX", positive_integer, doc="windows are sizeX x sizeX"),
        Key("stride", positive_integer, doc="step between windows"),
        Key("start", integer, default=0, doc="where the first window starts (may be negative)"),
        Key("outputsX", non_negative_integer, default=0, doc="windows per axis (0: as many as fit)"),
        Key("channels", positive_integer, doc="maps in the input"),
    )

    def infer(self, shapes):
        c = self.conf
        C, H, W = self.image_shape(0, c.channels)
        outs = [c.outputsX or pool_output_size(n, c.start, c.sizeX, c.stride) for n in (H, W)]
        for n, o in zip((H, W), outs):
            if o < 1:
                raise self.cfg.error("sizeX", f"is {c.sizeX}, larger than the {H}x{W} input from start {c.start}")
            if c.start + (o - 1) * c.stride >= n or c.start + c.sizeX <= 0:
                raise self.cfg.error("outputsX", f"{o} windows of {c.sizeX} from {c.start} by {c.stride} "
                                                 f"leave the {H}x{W} image: a window would be empty")
        self.image, self.outputs = (C, H, W), tuple(outs)
        # In-bounds count of each window along one axis, for avg: (oy,) and (ox,).
        counts = [np.array([min(n, c.start + o * c.stride + c.sizeX) - max(0, c.start + o * c.stride)
                            for o in range(out)]) for n, out in zip((H, W), outs)]
        self.counts = np.outer(*counts)[None, :, :, None]
        return (C,) + self.outputs

    def macs(self):
        c = self.conf
        return self.size(self.output_shape) * c.sizeX * c.sizeX if c.pool == "avg" else 0

    def forward_cpu(self, xs, ctx):
        c, x = self.conf, xs[0]
        x = x.reshape(self.image + x.shape[-1:])
        fill = -np.inf if c.pool == "max" else 0
        frame = framed(x, c.start, c.sizeX, c.stride, self.outputs, fill)
        y = None
        for _, _, rows, cols in offsets(c.sizeX, c.stride, self.outputs):
            v = frame[:, rows, cols]
            y = v.copy() if y is None else (np.maximum(y, v) if c.pool == "max" else y + v)
        return y if c.pool == "max" else y / self.counts.astype(x.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        c, x = self.conf, xs[0]
        shape = self.image + x.shape[-1:]
        x = x.reshape(shape)
        if c.pool == "max":
            frame = framed(x, c.start, c.sizeX, c.stride, self.outputs, -np.inf)
        else:
            dy = dy / self.counts.astype(dy.dtype)
        dframe = np.zeros((shape[0],) + tuple((o - 1) * c.stride + c.sizeX for o in self.outputs)
                          + shape[-1:], dtype=dy.dtype)
        for _, _, rows, cols in offsets(c.sizeX, c.stride, self.outputs):
            dframe[:, rows, cols] += dy * (frame[:, rows, cols] == y) if c.pool == "max" else dy
        return [unframed(dframe, shape, c.start)]

    def _geometry(self, N):
        c = self.conf
        C, H, W = self.image
        return tuple(map(i32, (C, H, W, N, c.sizeX, c.start, c.stride) + self.outputs + (c.pool == "max",)))

    def forward_gpu(self, xs, ctx):
        x = xs[0]
        N = x.shape[-1]
        y = self.be.empty(self.output_shape + (N,))
        kernels(self.be, CU).pool_forward.launch(y.size, x, y, *self._geometry(N), i32(y.size))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        dx = self.be.empty(x.shape)
        kernels(self.be, CU).pool_backward.launch(dx.size, x, y, dy, dx, *self._geometry(x.shape[-1]), i32(dx.size))
        return [dx]
