"""The paper's stochastic gradient descent (section 5), written out by hand for every weight matrix:

    inc = momW * inc - wc * epsW * W - epsW * grad
    W  += inc

with grad the batch mean of the cost's gradient, and epsW, momW, wc per weight matrix (per input of
a layer) from the params file; biases the same with epsB and momB and no decay. As the 2012 code
(src/weights.cu, src/layer.cu):

- epsW follows its schedule (schedW, convnet.schedule) over the run's progress, with its rate noise;
  a matrix whose base rate is 0 is left alone (its momentum too);
- only the owner of a shared matrix (weightSource) is updated, with the gradients of every layer
  that uses it;
- after the step, conv filters with wcNormMax > 0 are scaled so that sqrt(sum (w - mean w)^2) /
  n lies in [wcNormMin, wcNormMax] (n: the filter's weights), and then every filter whose norm
  exceeds wball * n is scaled back onto that norm (wball's bound, `Parameter.wball`);
- superEps > 0 replaces the step by inc = 0.9 * inc - eps * grad / sqrt(G2 - G^2 + superEps), with
  G and G2 the running means (momentum momW) of the gradient and its square;
- treefc's nodes learn at eps / (leaves under the node) with decay wc / (leaves under the node).
"""
import numpy as np

from .kernels import beside, f32, i32, kernels
from .random import mix_key, name_id, normal

SOLVER = beside(__file__, "solver.cu")
RATE_NOISE = 0x1A7E


class Solver:
    def __init__(self, net, lr_scale=1.0):
        self.net = net
        self.lr_scale = lr_scale       # the plateau heuristic divides it by 10

    def rate(self, param, progress, step=0):
        """The rate of this update: the schedule at progress, its noise drawn from (seed, step, param)."""
        key = mix_key(self.net.seed, step, name_id(param.path), RATE_NOISE)
        return param.eps.rate(progress, lambda: float(normal(key, 1)[0])) * self.lr_scale

    def update(self, batch_size, progress, step=0, every=1):
        """One step, after a backward pass over a batch of batch_size images. every > 1 (--wupdate-freq):
        each minibatch's batch-mean gradient is added to the parameter's grad_sum, and the weights move
        by that sum at every `every`-th step (step counting from 0), as the 2012 code
        (src/convnet.cu:246, src/layer.cu:598: the gradients of the passes between two updates add up,
        each scaled by 1 / its cases, and the update is the usual one)."""
        # a run resumed with another N, or 1, may hold sums saved between two updates: they go into its next
        if every > 1 or any(p.grad_sum is not None for p in self.net.parameters()):
            self._add_to_sums(batch_size)
            if (step + 1) % every:
                return
            for p in self.net.parameters():
                if p.grad_sum is not None:
                    p.grad, p.grad_sum = p.grad_sum, None
            batch_size = 1                 # grad now holds the sum of batch means
        xp = self.net.backend.xp
        for p in self.net.parameters():
            if p.eps.base == 0 or p.grad is None:
                continue
            eps = self.rate(p, progress, step)
            with p.layer.device.activate():
                if p.super_eps > 0:
                    self._update_super(p, eps, batch_size, xp)
                elif p.row_scale is not None:
                    self._update_rows(p, eps, batch_size, xp)
                elif self.net.backend.gpu_path:
                    self._update_gpu(p, eps, batch_size)
                else:
                    self._update_cpu(p, eps, batch_size)
                if p.wc_norm is not None and p.wc_norm[1] > 0:
                    self._contrast_norm_filters(p, xp)
                if p.wball > 0:
                    self._bound_filters(p, xp)

    def _add_to_sums(self, batch_size):
        for p in self.net.parameters():
            if p.eps.base == 0 or p.grad is None:
                continue
            with p.layer.device.activate():
                mean = p.grad * p.grad.dtype.type(1.0 / batch_size)
                if p.grad_sum is None:
                    p.grad_sum = mean
                else:
                    p.grad_sum += mean     # in place: no new array the size of fc6's weights every step

    @staticmethod
    def _update_cpu(p, eps, batch_size):
        t = p.value.dtype.type
        p.inc *= t(p.mom)
        if p.wc:
            p.inc -= t(p.wc * eps) * p.value
        p.inc -= t(eps / batch_size) * p.grad
        p.value += p.inc

    def _update_gpu(self, p, eps, batch_size):
        """solver.cu's sgd_update: the same arithmetic in one pass over w, inc and grad."""
        kernels(self.net.backend, SOLVER).sgd_update.launch(
            p.value.size, p.value, p.inc, p.grad, f32(p.mom), f32(p.wc * eps), f32(eps / batch_size), i32(p.value.size))

    @staticmethod
    def _update_rows(p, eps, batch_size, xp):
        """treefc (src/softmaxtree.cu, kSoftmaxTreeUpdateWeights): row r learns at eps * s_r with decay
        wc * s_r, s_r = 1 / (leaves under node r)."""
        t = p.value.dtype.type
        s = xp.asarray(p.row_scale, dtype=p.value.dtype).reshape((-1,) + (1,) * (p.value.ndim - 1))
        rate = t(eps) * s
        p.inc *= t(p.mom)
        p.inc -= rate * (p.grad * t(1.0 / batch_size) + t(p.wc) * s * p.value)
        p.value += p.inc

    @staticmethod
    def _update_super(p, eps, batch_size, xp):
        """superMomUpdate (src/weights.cu): the step over the gradient's running standard deviation.
        The 2012 kernel subtracts G where its comment (and the standard deviation) has G^2."""
        t = p.value.dtype.type
        g = p.grad * t(1.0 / batch_size)
        if p.averages is None:
            p.averages = (xp.zeros_like(g), xp.zeros_like(g))
        mean, mean_square = p.averages
        mean *= t(p.mom)
        mean += t(1 - p.mom) * g
        mean_square *= t(p.mom)
        mean_square += t(1 - p.mom) * g * g
        p.inc *= t(0.9)
        p.inc -= t(eps) * g / xp.sqrt(xp.maximum(mean_square - mean * mean, 0) + t(p.super_eps))
        if p.wc:
            p.inc -= t(p.wc * eps) * p.value
        p.value += p.inc

    @staticmethod
    def _filters(p):
        return p.value.reshape(int(np.prod(p.value.shape[:p.filter_axes])), -1)

    def _contrast_norm_filters(self, p, xp):
        """ConvLayer::constrainWeights (src/layer.cu): a = sqrt(sum of the filter's squared deviations
        from its mean) / n; a filter with a below wcNormMin or above wcNormMax is scaled by min/a or max/a."""
        low, high = p.wc_norm
        filters = self._filters(p)
        n = filters.shape[1]
        centred = filters - filters.mean(axis=1, keepdims=True)
        a = xp.sqrt((centred * centred).sum(axis=1, keepdims=True)) / n
        safe = xp.maximum(a, 1e-30)
        scale = xp.where(a < low, low / safe, xp.where(a > high, high / safe, 1.0))
        filters *= scale.astype(filters.dtype)

    def _bound_filters(self, p, xp):
        """WeightConstraintOperator (include/layer.cuh): a filter whose norm exceeds wball * n is
        scaled by (wball * n) / norm."""
        filters = self._filters(p)
        norm2 = (filters * filters).sum(axis=1, keepdims=True)
        scale = xp.where(norm2 > p.wball ** 2, p.wball / xp.sqrt(xp.maximum(norm2, 1e-30)), 1.0)
        filters *= scale.astype(filters.dtype)
