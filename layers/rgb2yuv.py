"""rgb2yuv: RGB images to YUV, as the 2012 code's RGBToYUVLayer."""
import numpy as np

from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "rgb2yuv.cu")

# kRGBToYUV (the cuda-convnet kernels): the BT.709 luma and the chroma differences
YUV = np.array([[0.2126, 0.7152, 0.0722],
                [-0.09991, -0.33609, 0.436],
                [0.615, -0.55861, -0.05639]])


@register("rgb2yuv")
class RGBToYUV(Layer):
    """(Y, U, V) = YUV (R, G, B) at every pixel, YUV the 2012 kernel's matrix; the backward is YUV^T.
    The input is 3-channel images. No config keys besides inputs."""
    n_inputs = 1

    def infer(self, shapes):
        shape = shapes[0]
        if (len(shape) == 3 and shape[0] != 3) or (len(shape) == 1 and shape[0] % 3):
            raise self.cfg.error("inputs", f"needs 3-channel (RGB) images; '{self.inputs[0]}' gives {'x'.join(map(str, shape))}")
        self.image = self.image_shape(0, 3, key="inputs")
        return self.image

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        return np.tensordot(YUV.astype(x.dtype), x, axes=1)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [np.tensordot(YUV.T.astype(dy.dtype), dy.reshape(self.image + dy.shape[-1:]), axes=1)]

    def _apply_gpu(self, a, transpose):
        out = self.be.empty(self.image + (a.shape[-1],))
        plane = out.size // 3
        kernels(self.be, CU).rgb2yuv_apply.launch(plane, a, out, i32(transpose), i32(plane))
        return out

    def forward_gpu(self, xs, ctx):
        return self._apply_gpu(xs[0], 0)

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [self._apply_gpu(dy, 1)]
