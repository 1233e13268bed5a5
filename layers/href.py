"""href: each image reflected left to right, as the 2012 code's HorizontalReflectionLayer."""
from convnet.config import Key, positive_integer
from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "href.cu")


@register("href")
class HorizontalReflection(Layer):
    """y[c, r, q] = x[c, r, W - 1 - q]; the backward reflects the gradient the same way.

    Config keys: channels (the 2012 kernel took 1 to 3; any number works here).
    """
    n_inputs = 1
    keys = (Key("channels", positive_integer, doc="maps in the input"),)

    def infer(self, shapes):
        self.image = self.image_shape(0, self.conf.channels)
        return self.image

    def forward_cpu(self, xs, ctx):
        return xs[0].reshape(self.image + xs[0].shape[-1:])[:, :, ::-1].copy()

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [dy.reshape(self.image + dy.shape[-1:])[:, :, ::-1].copy()]

    def _reflect_gpu(self, a):
        out = self.be.empty(self.image + (a.shape[-1],))
        C, H, W = self.image
        kernels(self.be, CU).href_reflect.launch(out.size, a, out, i32(W), i32(a.shape[-1]), i32(out.size))
        return out

    def forward_gpu(self, xs, ctx):
        return self._reflect_gpu(xs[0])

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [self._reflect_gpu(dy)]
