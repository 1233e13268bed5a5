"""rscale: a random rescaling and crop of every training image, as the 2012 code's RandomScaleLayer."""
import math

import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.layer import Layer
from convnet.random import mix_key, uniform
from convnet.registry import register

from .resize import Axis, resample_adjoint_gpu, resample_gpu, resample_adjoint_numpy, resample_numpy


@register("rscale")
class RandomScale(Layer):
    """Images of size S become tgtSize x tgtSize. In training, once per minibatch (as the 2012 code,
    src/layer.cu RandomScaleLayer::fpropActs): a size R in tgtSize .. tgtSize + S - floor(S / maxScale)
    is drawn with probability proportional to (R - tgtSize + 1)^2 (the number of crops each size
    holds), the images are rescaled to R by a factor drawn uniformly between max(1, S / (R + 1)) and
    S / R (bilinear, as resize), and a tgtSize crop is taken at a uniform position; when R is S the
    crop is taken from the images as they are. At test, the centre crop (the 2012 code's multiview
    pass copied its input instead, a size mismatch; here multiview is the centre crop too). The
    draws are counter-based (the run's seed, the layer and the step). The 2012 layer had no backward;
    this one has the exact one for the pass's draws, the adjoint of the rescaling and crop.

    Config keys: channels, maxScale (1 to 2), tgtSize.
    """
    n_inputs = 1
    keys = (
        Key("channels", positive_integer, doc="maps in the input"),
        Key("maxScale", number, doc="the largest downscaling, 1 to 2"),
        Key("tgtSize", positive_integer, doc="the output's size"),
    )
    seed = 0

    def infer(self, shapes):
        c = self.conf
        if not 1 <= c.maxScale <= 2:
            raise self.cfg.error("maxScale", f"must be in the range 1-2, got {c.maxScale:g}")
        self.image = C, S, W = self.image_shape(0, c.channels)
        if S != W:
            raise self.cfg.error("inputs", f"needs square images; '{self.inputs[0]}' gives {S}x{W}")
        smallest = int(math.floor(S / c.maxScale))
        if not smallest <= c.tgtSize <= S:
            raise self.cfg.error("tgtSize", f"must lie between the smallest size after rescaling ({smallest}) "
                                            f"and the image size ({S}); got {c.tgtSize}")
        scales = S - smallest + 1
        crops = scales * (scales + 1) * (2 * scales + 1) // 6
        self.cumulative = np.cumsum([(s + 1) ** 2 / crops for s in range(scales)])
        return (C, c.tgtSize, c.tgtSize)

    def axes(self, ctx):
        """(rows, columns): the pass's sampling tables (resize.Axis)."""
        S, T = self.image[1], self.conf.tgtSize
        if not ctx.train:
            start = (S - T) // 2
            return Axis.crop(S, T, start), Axis.crop(S, T, start)
        u = uniform(mix_key(self.seed, ctx.step), 4).astype(np.float64)
        hits = np.nonzero(u[0] <= self.cumulative)[0]
        size, factor = (T + int(hits[0]), None) if hits.size else (T, self.conf.maxScale)
        if hits.size:
            end, begin = S / size, max(1.0, S / (1.0 + size))
            factor = begin + u[1] * (end - begin)
        room = size - T
        y0, x0 = (min(room, int(v * (1 + room))) for v in u[2:])
        if size == S:
            return Axis.crop(S, T, y0), Axis.crop(S, T, x0)
        offset = S * 0.5 - size * 0.5 * factor
        return (Axis(S, T, factor, offset, start=y0, row_weights=True), Axis(S, T, factor, offset, start=x0))

    def forward_cpu(self, xs, ctx):
        return resample_numpy(xs[0].reshape(self.image + xs[0].shape[-1:]), *self.axes(ctx))

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [resample_adjoint_numpy(dy, *self.axes(ctx))]

    def forward_gpu(self, xs, ctx):
        return resample_gpu(self.be, self.device, xs[0], self.image[0], *self.axes(ctx))

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [resample_adjoint_gpu(self.be, self.device, dy, self.image[0], *self.axes(ctx))]
