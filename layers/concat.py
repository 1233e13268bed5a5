"""concat: its inputs stacked along the features (the maps, for images of one size)."""
import numpy as np

from convnet.layer import Layer
from convnet.registry import register


@register("concat")
class Concat(Layer):
    """y = [x_1; x_2; ...] along the first axis. Images of one size give (sum of channels, rows, cols);
    anything else gives flat features in input order. No config keys besides inputs."""

    def infer(self, shapes):
        self.sizes = [self.size(s) for s in shapes]
        if all(len(s) == 3 for s in shapes) and len({s[1:] for s in shapes}) == 1:
            return (sum(s[0] for s in shapes),) + shapes[0][1:]
        return (sum(self.sizes),)

    def forward_cpu(self, xs, ctx):
        N = xs[0].shape[-1]
        y = np.concatenate([x.reshape(d, N) for x, d in zip(xs, self.sizes)], axis=0)
        return y.reshape(self.output_shape + (N,))

    def backward_cpu(self, xs, y, dy, need, ctx):
        dy = dy.reshape(-1, dy.shape[-1])
        bounds = np.cumsum([0] + self.sizes)
        return [dy[a:b].copy() if needed else None for a, b, needed in zip(bounds, bounds[1:], need)]

    # The GPU twin is device-to-device copies into and out of the stacked array: no kernel needed.

    def forward_gpu(self, xs, ctx):
        N = xs[0].shape[-1]
        y = self.be.empty((sum(self.sizes), N))
        start = 0
        for x, d in zip(xs, self.sizes):
            self.be.copy_into(y[start:start + d], x)
            start += d
        return y.reshape(self.output_shape + (N,))

    def backward_gpu(self, xs, y, dy, need, ctx):
        dy = dy.reshape(-1, dy.shape[-1])
        grads, start = [], 0
        for d, needed in zip(self.sizes, need):
            dx = None
            if needed:
                dx = self.be.empty((d, dy.shape[1]))
                self.be.copy_into(dx, dy[start:start + d])
            grads.append(dx)
            start += d
        return grads
