"""local: a locally connected layer, like conv but with its own filters at every position."""
import numpy as np

from convnet.filtering import GEOMETRY_KEYS, FilterLayer, add_biases, bias_gradient, fold_gpu, unfold_gpu
from convnet.kernels import ELEMENTWISE, i32, kernels
from convnet.registry import register
from convnet.weights import WeightLayerMixin
from convnet.windows import fold, unfold


@register("local")
class Local(WeightLayerMixin, FilterLayer):
    """y[f, oy, ox, n] = b[f, oy, ox] + sum_i sum_{c, ky, kx} W_i[oy, ox, f, c, ky, kx] * x_i[g*Cg + c, oy*s - p + ky, ox*s - p + kx, n]

    As a batch of GEMMs, one per position and group: (Fg, Cg*k*k) times (Cg*k*k, N).

    Config keys: channels, filters, filterSize, padding, stride, groups (per input), randSparse,
    filterChannels, initCFunc (random sparse groups, convnet.filtering), initW, initB, initWFunc,
    initBFunc, weightSource. Params: epsW, epsB, momW, momB, wc, wball, schedW, schedB.
    Weights: (out_rows, out_cols, filters, channels/groups, filterSize, filterSize) per input;
    biases (filters, out_rows, out_cols).
    """
    keys = GEOMETRY_KEYS

    filter_axes = 3

    # The 2012 code's matrices (initWFunc/initBFunc): weights (positions * filterChannels *
    # filterSize^2, filters), biases (filters * positions, 1).
    def weights_2012_shape(self, i):
        g = self.geo[i]
        return (g.oy * g.ox * g.Cg * g.k * g.k, g.F)

    def weights_from_2012(self, i, a):
        g = self.geo[i]
        return a.reshape(g.oy, g.ox, g.Cg, g.k, g.k, g.F).transpose(0, 1, 5, 2, 3, 4)

    def biases_2012_shape(self):
        return (int(np.prod(self.param_shapes()[-1])), 1)

    def param_shapes(self):
        g0 = self.geo[0]
        return [(g.oy, g.ox, g.F, g.Cg, g.k, g.k) for g in self.geo] + [(g0.F, g0.oy, g0.ox)]

    def _unfolded(self, i, x):
        """Input i unfolded per position and group: (P, G, Cg*k*k, N), P = oy*ox."""
        g, N = self.geo[i], x.shape[-1]
        cols = unfold(self.stacked(i, x), g.k, g.s, g.p, (g.oy, g.ox))
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
                grads.append(self.unstacked(i, fold(dcols, (g.C, g.H, g.W, N), g.k, g.s, g.p, (g.oy, g.ox)), N))
            else:
                grads.append(None)
        self.params[-1].grad = dy.sum(axis=3)
        return grads

    # ---- the GPU twin: unfold.cu by positions, and a batched GEMM per position and group -----

    def _unfolded_gpu(self, i, x):
        g, N = self.geo[i], x.shape[-1]
        cols = unfold_gpu(self.be, self.stacked(i, x), g, self.be.empty((g.oy * g.ox, g.C * g.k * g.k, N)),
                          positions_outer=1)
        return cols.reshape(g.oy * g.ox, g.G, g.Cg * g.k * g.k, N)

    def _swap(self, a, A, B, N):
        """(A, B, N) -> (B, A, N): positions-outer to filters-outer and back."""
        out = self.be.empty((B, A, N))
        kernels(self.be, ELEMENTWISE).swap_outer.launch(out.size, a, out, i32(A), i32(B), i32(N), i32(out.size))
        return out

    def forward_gpu(self, xs, ctx):
        be, g0, N = self.be, self.geo[0], xs[0].shape[-1]
        P = g0.oy * g0.ox
        acc = None
        for i, x in enumerate(xs):
            part = be.matmul(self._filters(i), self._unfolded_gpu(i, x)).reshape(P, g0.F, N)
            if acc is None:
                acc = part
            else:
                kernels(be, ELEMENTWISE).axpby.launch(acc.size, part, acc, np.float32(1), np.float32(1), i32(acc.size))
        y = self._swap(acc, P, g0.F, N)
        add_biases(be, y, self.params[-1].value, P, True)
        return y.reshape(g0.F, g0.oy, g0.ox, N)

    def backward_gpu(self, xs, y, dy, need, ctx):
        be, g0, N = self.be, self.geo[0], dy.shape[-1]
        P = g0.oy * g0.ox
        swapped = self._swap(dy, g0.F, P, N)
        grads = []
        for i, x in enumerate(xs):
            g, w = self.geo[i], self.params[i]
            dyp = swapped.reshape(P, g.G, g.Fg, N)          # each input's own grouping of the maps
            cols = self._unfolded_gpu(i, x)
            w.grad = be.empty(w.value.shape)
            be.matmul(dyp, cols.transpose(0, 1, 3, 2), out=w.grad.reshape(P, g.G, g.Fg, g.Cg * g.k * g.k))
            dx = None
            if need[i]:
                dcols = be.matmul(self._filters(i).transpose(0, 1, 3, 2), dyp)      # (P, G, Ckk, N)
                dx = be.empty((g.C, g.H, g.W, N))
                fold_gpu(be, be.xp.ascontiguousarray(dcols), g, dx, positions_outer=1)
                dx = self.unstacked(i, dx, N)
            grads.append(dx)
        b = self.params[-1]
        b.grad = bias_gradient(be, dy, b.value)
        return grads
