"""local: a locally connected layer, like conv but with its own filters at every position."""
import numpy as np

from convnet.filtering import GEOMETRY_KEYS, FilterLayer
from convnet.registry import register
from convnet.weights import WeightLayerMixin
from convnet.windows import fold, unfold


@register("local")
class Local(WeightLayerMixin, FilterLayer):
    """y[f, oy, ox, n] = b[f, oy, ox] + sum_i sum_{c, ky, kx} W_i[oy, ox, f, c, ky, kx] * x_i[g*Cg + c, oy*s - p + ky, ox*s - p + kx, n]

    As a batch of GEMMs, one per position and group: (Fg, Cg*k*k) times (Cg*k*k, N).

    Config keys: channels, filters, filterSize, padding, stride, groups (per input), initW, initB.
    Params: epsW, epsB, momW, momB, wc, wball.
    Weights: (out_rows, out_cols, filters, channels/groups, filterSize, filterSize) per input;
    biases (filters, out_rows, out_cols).
    """
    keys = GEOMETRY_KEYS

    filter_axes = 3

    def param_shapes(self):
        g0 = self.geo[0]
        return [(g.oy, g.ox, g.F, g.Cg, g.k, g.k) for g in self.geo] + [(g0.F, g0.oy, g0.ox)]

    def _unfolded(self, i, x):
        """Input i unfolded per position and group: (P, G, Cg*k*k, N), P = oy*ox."""
        g, N = self.geo[i], x.shape[-1]
        cols = unfold(x.reshape(g.C, g.H, g.W, N), g.k, g.s, g.p, (g.oy, g.ox))
        cols = cols.reshape(g.G, g.Cg * g.k * g.k, g.oy * g.ox, N)
        return cols.transpose(2, 0, 1, 3)

    def _filters(self, i):
        g = self.geo[i]
        return self.params[i].value.reshape(g.oy * g.ox, g.G, g.Fg, g.Cg * g.k * g.k)

    def forward_cpu(self, xs, ctx):
        N = xs[0].shape[-1]
        g0 = self.geo[0]
        y = np.zeros((g0.oy * g0.ox, g0.F, N), dtype=xs[0].dtype)
        for i, x in enumerate(xs):
            y += np.matmul(self._filters(i), self._unfolded(i, x)).reshape(y.shape)
        y = y.transpose(1, 0, 2).reshape(g0.F, g0.oy, g0.ox, N)
        return y + self.params[-1].value[..., None]

    def backward_cpu(self, xs, y, dy, need, ctx):
        N = dy.shape[-1]
        grads = []
        for i, x in enumerate(xs):
            g, w = self.geo[i], self.params[i]
            dyg = dy.reshape(g.G, g.Fg, g.oy * g.ox, N).transpose(2, 0, 1, 3)        # (P, G, Fg, N)
            cols = self._unfolded(i, x)
            w.grad = np.matmul(dyg, cols.transpose(0, 1, 3, 2)).reshape(w.value.shape)
            if need[i]:
                dcols = np.matmul(self._filters(i).transpose(0, 1, 3, 2), dyg)          # (P, G, Ckk, N)
                dcols = dcols.transpose(1, 2, 0, 3).reshape(g.C, g.k, g.k, g.oy, g.ox, N)
                grads.append(fold(dcols, (g.C, g.H, g.W, N), g.k, g.s, g.p, (g.oy, g.ox)))
            else:
                grads.append(None)
        self.params[-1].grad = dy.sum(axis=3)
        return grads
