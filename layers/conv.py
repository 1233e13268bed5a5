"""conv: a convolution, the same filters at every position (paper sections 3.5 and Figure 2)."""
import numpy as np

from convnet.config import Key, boolean, integer
from convnet.filtering import GEOMETRY_KEYS, FilterLayer
from convnet.registry import register
from convnet.weights import WeightLayerMixin
from convnet.windows import fold, unfold


@register("conv")
class Conv(WeightLayerMixin, FilterLayer):
    """y[f, oy, ox, n] = b + sum_i sum_{c, ky, kx} W_i[f, c, ky, kx] * x_i[g*Cg + c, oy*s - p + ky, ox*s - p + kx, n]

    for filter f of group g = f // Fg. As one GEMM per group: the filters (Fg, Cg*k*k) times the
    unfolded input (Cg*k*k, oy*ox*N) give the output (Fg, oy, ox, N) in place.

    Config keys: channels, filters, filterSize, padding, stride, groups (per input), sharedBiases
    (one bias per filter, or one per filter and position), initW, initB; partialSum is accepted and
    ignored (it tuned cuda-convnet's kernels). Params: epsW, epsB, momW, momB, wc, wball.
    Weights: (filters, channels/groups, filterSize, filterSize) per input.
    """
    keys = GEOMETRY_KEYS + (
        Key("sharedBiases", boolean, default=True, doc="one bias per filter (1) or per filter and position (0)"),
        Key("partialSum", integer, default=0, doc="ignored: a tuning knob of cuda-convnet's kernels"),
    )

    def param_shapes(self):
        g0 = self.geo[0]
        bias = (g0.F,) if self.conf.sharedBiases else (g0.F, g0.oy, g0.ox)
        return [(g.F, g.Cg, g.k, g.k) for g in self.geo] + [bias]

    _cache = (None, {})

    def _unfolded(self, i, x, ctx):
        """Input i unfolded and grouped: (G, Cg*k*k, oy*ox*N). A training forward keeps it for the
        backward of the same pass (the same ctx object), which saves unfolding twice."""
        owner, kept = self._cache
        if owner is ctx and i in kept:
            return kept[i]
        g, N = self.geo[i], x.shape[-1]
        cols = unfold(x.reshape(g.C, g.H, g.W, N), g.k, g.s, g.p, (g.oy, g.ox))
        cols = cols.reshape(g.G, g.Cg * g.k * g.k, g.oy * g.ox * N)
        if ctx.train:
            self._cache = (ctx, {**(kept if owner is ctx else {}), i: cols})
        return cols

    def forward_cpu(self, xs, ctx):
        N = xs[0].shape[-1]
        y = None
        for i, x in enumerate(xs):
            g = self.geo[i]
            w = self.params[i].value.reshape(g.G, g.Fg, g.Cg * g.k * g.k)
            out = np.matmul(w, self._unfolded(i, x, ctx)).reshape(g.F, g.oy, g.ox, N)
            y = out if y is None else y + out
        b = self.params[-1].value
        y += b[:, None, None, None] if b.ndim == 1 else b[..., None]
        return y

    def backward_cpu(self, xs, y, dy, need, ctx):
        N = dy.shape[-1]
        grads = []
        for i, x in enumerate(xs):
            g, w = self.geo[i], self.params[i]
            cols = self._unfolded(i, x, ctx)
            dyg = dy.reshape(g.G, g.Fg, g.oy * g.ox * N)
            w.grad = np.matmul(dyg, cols.transpose(0, 2, 1)).reshape(w.value.shape)
            if need[i]:
                wg = w.value.reshape(g.G, g.Fg, g.Cg * g.k * g.k)
                dcols = np.matmul(wg.transpose(0, 2, 1), dyg).reshape(g.C, g.k, g.k, g.oy, g.ox, N)
                grads.append(fold(dcols, (g.C, g.H, g.W, N), g.k, g.s, g.p, (g.oy, g.ox)))
            else:
                grads.append(None)
        b = self.params[-1]
        b.grad = dy.sum(axis=(1, 2, 3)) if b.value.ndim == 1 else dy.sum(axis=3)
        self._cache = (None, {})
        return grads
