"""fc: a fully connected layer; with several inputs, the sum of one product per input."""

from convnet.config import Key, positive_integer
from convnet.cpu_parallel import workers
from convnet.filtering import add_biases, bias_gradient
from convnet.layer import Layer
from convnet.registry import register
from convnet.weights import WEIGHT_KEYS, WeightLayerMixin


@register("fc")
class FullyConnected(WeightLayerMixin, Layer):
    """y = b + sum_i W_i x_i, each input flattened to (channel, row, col) order: x_i is (D_i, N).

    Config keys: outputs, initW (per input), initB. Params: epsW, epsB, momW, momB, wc, wball.
    Weights: (outputs, D_i) per input; biases (outputs,).
    """
    keys = (Key("outputs", positive_integer, doc="number of output units"),) + WEIGHT_KEYS

    def infer(self, shapes):
        self.in_sizes = [self.size(s) for s in shapes]
        return (self.conf.outputs,)

    def param_shapes(self):
        return [(self.conf.outputs, d) for d in self.in_sizes] + [(self.conf.outputs,)]

    def macs(self):
        return self.conf.outputs * sum(self.in_sizes)

    # The CPU products run one piece per core (cpu_parallel.Workers.matmul).
    def forward_cpu(self, xs, ctx):
        N, matmul = xs[0].shape[-1], workers().matmul
        y = sum(matmul(w.value, x.reshape(d, N)) for w, x, d in zip(self.params, xs, self.in_sizes))
        return y + self.params[-1].value[:, None]

    def backward_cpu(self, xs, y, dy, need, ctx):
        N, matmul = dy.shape[-1], workers().matmul
        grads = []
        for w, x, d, needed in zip(self.params, xs, self.in_sizes, need):
            w.grad = matmul(dy, x.reshape(d, N).T)
            grads.append(matmul(w.value.T, dy) if needed else None)
        self.params[-1].grad = dy.sum(axis=1)
        return grads

    # ---- the GPU twin: cuBLAS GEMMs, beta=1 summing the inputs in place ----------------------

    def forward_gpu(self, xs, ctx):
        be, N = self.be, xs[0].shape[-1]
        y = be.empty((self.conf.outputs, N))
        for i, (w, x, d) in enumerate(zip(self.params, xs, self.in_sizes)):
            be.gemm(w.value, x.reshape(d, N), y, beta=0.0 if i == 0 else 1.0)
        add_biases(be, y, self.params[-1].value, 1, False)
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        be, N = self.be, dy.shape[-1]
        grads = []
        for w, x, d, needed in zip(self.params, xs, self.in_sizes, need):
            w.grad = be.empty(w.value.shape)
            be.gemm(dy, x.reshape(d, N), w.grad, trans_b=True)
            dx = None
            if needed:
                dx = be.empty((d, N))
                be.gemm(w.value, dy, dx, trans_a=True)
            grads.append(dx)
        b = self.params[-1]
        b.grad = bias_gradient(be, dy, b.value)
        return grads
