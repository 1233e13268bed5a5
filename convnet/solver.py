"""The paper's stochastic gradient descent (section 5), written out by hand for every weight matrix:

    inc = momW * inc - wc * epsW * W - epsW * grad
    W  += inc

with grad the batch mean of the cost's gradient, and epsW, momW, wc per weight matrix (per input of
a layer) from the params file; biases the same with epsB and momB and no decay. A parameter whose
rate is 0 is left alone (its momentum too), as cuda-convnet did. With wball > 0, each filter's mean
squared weight is bounded by wball after the step: a filter over it is scaled back onto it.
"""
import numpy as np

from .kernels import beside, f32, i32, kernels

SOLVER = beside(__file__, "solver.cu")


class Solver:
    def __init__(self, net, lr_scale=1.0):
        self.net = net
        self.lr_scale = lr_scale       # the plateau heuristic divides it by 10

    def rate(self, param, progress):
        return param.eps.rate(progress) * self.lr_scale

    def update(self, batch_size, progress):
        """One step, after a backward pass over a batch of batch_size images."""
        for p in self.net.parameters():
            eps = self.rate(p, progress)
            if eps == 0 or p.grad is None:
                continue
            with p.layer.device.activate():
                if self.net.backend.gpu_path:
                    self._update_gpu(p, eps, batch_size)
                else:
                    self._update_cpu(p, eps, batch_size)
                if p.wball > 0:
                    self._bound_filters(p, self.net.backend.xp)

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
    def _bound_filters(p, xp):
        filters = p.value.reshape(int(np.prod(p.value.shape[:p.filter_axes])), -1)
        mean_square = (filters * filters).mean(axis=1, keepdims=True)
        scale = xp.sqrt(xp.minimum(1, p.wball / xp.maximum(mean_square, 1e-30)))
        filters *= scale.astype(filters.dtype)
