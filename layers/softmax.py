"""softmax: turns scores into probabilities over the classes, per image."""
import numpy as np

from convnet.kernels import beside, f32, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "softmax.cu")
CLASS_ROWS = 32          # softmax.cu's: the threads of a block that share one image's classes


def softmax_blocks(be, name, N, *args):
    """A launch of softmax.cu's kernel `name`: a block of 32 x CLASS_ROWS threads per 32 images."""
    kernel = getattr(kernels(be, CU), name)
    kernel((be.grid_size(N, 32), 1, 1), (32, CLASS_ROWS, 1), *args)


@register("softmax")
class Softmax(Layer):
    """y[k, n] = exp(x[k, n]) / sum_j exp(x[j, n])   (computed with the maximum subtracted)

    Backward: dx = y * (dy - sum_k dy[k] y[k]). No config keys besides inputs. When a cost.logreg on
    the same device is its only reader, the net takes both gradients in one step instead
    (logreg_gradient), as the 2012 code did (src/layer.cu, SoftmaxLayer::bpropActs); a cost.crossent
    too (its joint_gradient).
    """
    n_inputs = 1

    def infer(self, shapes):
        return (self.size(shapes[0]),)

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.output_shape + xs[0].shape[-1:])
        e = np.exp(x - x.max(axis=0))
        return e / e.sum(axis=0)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [y * (dy - (dy * y).sum(axis=0))]

    def forward_gpu(self, xs, ctx):
        K, N = self.output_shape[0], xs[0].shape[-1]
        y = self.be.empty((K, N))
        softmax_blocks(self.be, "softmax_forward", N, xs[0], y, i32(K), i32(N))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        K, N = y.shape
        dx = self.be.empty((K, N))
        softmax_blocks(self.be, "softmax_backward", N, y, dy, dx, i32(K), i32(N))
        return [dx]

    def logreg_gradient(self, labels, y, coeff):
        """d/dx of cost.logreg's -coeff * sum_n log y[label_n, n]: coeff * (y - onehot(labels)), with
        no division by y (finite where a probability underflows to 0)."""
        K, N = y.shape
        if not self.be.gpu_path:
            dx = coeff * y
            dx[labels.reshape(-1).astype(np.int64), np.arange(N)] -= coeff
            return dx
        dx = self.be.empty((K, N))
        kernels(self.be, CU).logreg_softmax_grad.launch(K * N, labels, y, dx, i32(K), i32(N), f32(coeff))
        return dx
