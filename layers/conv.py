"""conv: a convolution, the same filters at every position (paper sections 3.5 and Figure 2)."""
import numpy as np

from convnet import conv_cpu
from convnet.config import Key, boolean, integer, non_negative_number, retired_zeros
from convnet.filtering import GEOMETRY_KEYS, FilterLayer, add_biases, bias_gradient, fold_gpu, unfold_gpu
from convnet.registry import register
from convnet.weights import WeightLayerMixin


@register("conv")
class Conv(WeightLayerMixin, FilterLayer):
    """y[f, oy, ox, n] = b + sum_i sum_{c, ky, kx} W_i[f, c, ky, kx] * x_i[g*Cg + c, oy*s - p + ky, ox*s - p + kx, n]

    for filter f of group g = f // Fg. As one GEMM per group: the filters (Fg, Cg*k*k) times the
    unfolded input (Cg*k*k, oy*ox*N) give the output (Fg, oy, ox, N) in place.

    Config keys: channels, filters, filterSize, padding, stride, groups (per input), randSparse,
    filterChannels, initCFunc (random sparse groups, convnet.filtering), sharedBiases (one bias per
    filter, or one per filter and position), initW, initB, initWFunc, initBFunc, weightSource;
    partialSum is accepted and ignored (it tuned cuda-convnet's kernels). Params: epsW, epsB, momW,
    momB, wc, wball, schedW, schedB, wcNormMax, wcNormMin (the solver's filter constraints).
    Weights: (filters, channels/groups, filterSize, filterSize) per input.
    """
    keys = GEOMETRY_KEYS + (
        Key("sharedBiases", boolean, default=True, doc="one bias per filter (1) or per filter and position (0)"),
        Key("partialSum", integer, default=0, doc="ignored: a tuning knob of cuda-convnet's kernels"),
        Key("wcNormMax", non_negative_number, default=0.0, per_input=True, where="params",
            doc="> 0: after each step, scale filters whose spread sqrt(sum (w - mean)^2) / n exceeds it"),
        Key("wcNormMin", non_negative_number, default=0.0, per_input=True, where="params",
            doc="with wcNormMax: scale filters whose spread is below it up to it"),
        Key("wcNorm", retired_zeros, default=0.0, where="params",
            doc="older files' key (wcnorm=0), read by no released 2012 code: accepted as 0 only"),
    )

    def infer(self, shapes):
        shape = super().infer(shapes)
        for i, (low, high) in enumerate(zip(self.conf.wcNormMin, self.conf.wcNormMax)):
            if low > high:
                raise self.cfg.error("wcNormMin", f"is {low:g}, above wcNormMax ({high:g}) of input {i}", "params")
        return shape

    def parameter_extras(self, i):
        return {"wc_norm": (self.conf.wcNormMin[i], self.conf.wcNormMax[i])}

    # The 2012 code's matrices (initWFunc/initBFunc): weights (filterChannels * filterSize^2, filters),
    # rows in (channel, row, col) order; biases (filters, 1), or (filters * positions, 1) unshared.
    def weights_2012_shape(self, i):
        g = self.geo[i]
        return (g.Cg * g.k * g.k, g.F)

    def weights_from_2012(self, i, a):
        g = self.geo[i]
        return a.T.reshape(g.F, g.Cg, g.k, g.k)

    def biases_2012_shape(self):
        return (int(np.prod(self.param_shapes()[-1])), 1)

    def param_shapes(self):
        g0 = self.geo[0]
        bias = (g0.F,) if self.conf.sharedBiases else (g0.F, g0.oy, g0.ox)
        return [(g.F, g.Cg, g.k, g.k) for g in self.geo] + [bias]

    _cache = (None, {})

    def forward_cpu(self, xs, ctx):
        g0, N = self.geo[0], xs[0].shape[-1]
        y = np.empty((g0.F, g0.oy * g0.ox * N), dtype=xs[0].dtype)
        for i, x in enumerate(xs):
            conv_cpu.forward(self.stacked(i, x), self.params[i].value, self.geo[i], y, i > 0)
        b = self.params[-1].value
        y = y.reshape(g0.F, g0.oy, g0.ox, N)
        y += b[:, None, None, None] if b.ndim == 1 else b[..., None]
        return y

    def backward_cpu(self, xs, y, dy, need, ctx):
        N = dy.shape[-1]
        dy2 = dy.reshape(dy.shape[0], -1)
        grads = []
        for i, x in enumerate(xs):
            w = self.params[i]
            w.grad, dx = conv_cpu.backward(self.stacked(i, x), w.value, dy2, self.geo[i], need[i])
            grads.append(None if dx is None else self.unstacked(i, dx, N))
        b = self.params[-1]
        b.grad = dy2.sum(axis=1) if b.value.ndim == 1 else dy.sum(axis=3)
        return grads

    # ---- the GPU twin: unfold.cu and one cuBLAS GEMM per group ------------------------------

    def _unfolded_gpu(self, i, grp, x, ctx):
        """Group grp of input i unfolded: (Cg*k*k, oy*ox*N); kept from a training forward. x is the
        stacked input (FilterLayer.stacked)."""
        owner, kept = self._cache
        if owner is ctx and (i, grp) in kept:
            return kept[i, grp]
        g, N = self.geo[i], x.shape[-1]
        channels = x.reshape(g.C, -1)[grp * g.Cg:(grp + 1) * g.Cg]
        cols = unfold_gpu(self.be, channels, g, self.be.empty((g.Cg * g.k * g.k, g.oy * g.ox * N)), channels=g.Cg)
        if ctx.train:
            self._cache = (ctx, {**(kept if owner is ctx else {}), (i, grp): cols})
        return cols

    def forward_gpu(self, xs, ctx):
        be, g0, N = self.be, self.geo[0], xs[0].shape[-1]
        y = be.empty((g0.F, g0.oy * g0.ox * N))
        for i, x in enumerate(xs):
            g, x = self.geo[i], self.stacked(i, x)
            w = self.params[i].value.reshape(g.G, g.Fg, g.Cg * g.k * g.k)
            for grp in range(g.G):
                # beta=1 sums the inputs' products in place
                be.gemm(w[grp], self._unfolded_gpu(i, grp, x, ctx), y[grp * g.Fg:(grp + 1) * g.Fg],
                        beta=0.0 if i == 0 else 1.0)
        b = self.params[-1].value
        add_biases(be, y, b, g0.oy * g0.ox, b.ndim > 1)
        return y.reshape(g0.F, g0.oy, g0.ox, N)

    def backward_gpu(self, xs, y, dy, need, ctx):
        be, N = self.be, dy.shape[-1]
        dy2 = dy.reshape(dy.shape[0], -1)
        grads = []
        for i, x in enumerate(xs):
            g, w = self.geo[i], self.params[i]
            ckk = g.Cg * g.k * g.k
            w.grad = be.empty(w.value.shape)
            wg, wgrad = w.value.reshape(g.G, g.Fg, ckk), w.grad.reshape(g.G, g.Fg, ckk)
            dx = be.empty((g.C, g.H, g.W, N)) if need[i] else None
            owner, kept = self._cache
            stacked = None if owner is ctx and (i, 0) in kept else self.stacked(i, x)
            for grp in range(g.G):
                cols = self._unfolded_gpu(i, grp, stacked, ctx)
                dyg = dy2[grp * g.Fg:(grp + 1) * g.Fg]
                be.gemm(dyg, cols, wgrad[grp], trans_b=True)
                if need[i]:
                    dcols = be.empty((ckk, g.oy * g.ox * N))
                    be.gemm(wg[grp], dyg, dcols, trans_a=True)
                    fold_gpu(be, dcols, g, dx.reshape(g.C, -1)[grp * g.Cg:(grp + 1) * g.Cg], channels=g.Cg)
            grads.append(None if dx is None else self.unstacked(i, dx, N))
        b = self.params[-1]
        b.grad = bias_gradient(be, dy, b.value)
        self._cache = (None, {})
        return grads
