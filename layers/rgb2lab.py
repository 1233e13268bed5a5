"""rgb2lab: RGB images to CIE L*a*b*, as the 2012 code's RGBToLABLayer."""
import numpy as np

from convnet.config import Key, boolean
from convnet.kernels import beside, i32, kernels
from convnet.layer import Layer
from convnet.registry import register

CU = beside(__file__, "rgb2lab.cu")

# kRGBToLAB (the cuda-convnet kernels): RGB -> XYZ, then f(t) = t^0.3333 above 0.0088564517 and
# 7.787037 t + 0.13793103 below (the exponent is 0.3333 there, not 1/3), and
# L = 116 f(Y) - 16 (- 50 with center), a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z)).
XYZ = np.array([[0.49, 0.31, 0.2],
                [0.17697, 0.8124, 0.01063],
                [0.0, 0.01, 0.99]])
KNEE, POWER, SLOPE, OFFSET = 0.0088564517, 0.3333, 7.787037, 0.13793103


def lab_f(t):
    """f and its derivative."""
    above = t > KNEE
    safe = np.where(above, t, 1)
    f = np.where(above, safe ** POWER, SLOPE * t + OFFSET)
    return f, np.where(above, POWER * safe ** (POWER - 1), SLOPE)


@register("rgb2lab")
class RGBToLAB(Layer):
    """(L*, a*, b*) of the RGB values at every pixel, with the 2012 kernel's constants (the input is
    meant to be in 0-1, without the mean subtracted); center=1 subtracts 50 from L*. The backward is
    the exact derivative. The input is 3-channel images.

    Config keys: center.
    """
    n_inputs = 1
    keys = (Key("center", boolean, default=False, doc="1: L* in [-50, 50] instead of [0, 100]"),)

    def infer(self, shapes):
        shape = shapes[0]
        if (len(shape) == 3 and shape[0] != 3) or (len(shape) == 1 and shape[0] % 3):
            raise self.cfg.error("inputs", f"needs 3-channel (RGB) images; '{self.inputs[0]}' gives {'x'.join(map(str, shape))}")
        self.image = self.image_shape(0, 3, key="inputs")
        return self.image

    def kink_pattern(self, xs, y, ctx):
        """Which side of f's knee each X, Y, Z is on (for the gradient checker)."""
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        return np.tensordot(XYZ, x, axes=1) > KNEE

    def forward_cpu(self, xs, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        fx, fy, fz = lab_f(np.tensordot(XYZ.astype(x.dtype), x, axes=1))[0]
        t = x.dtype.type
        return np.stack([t(116) * fy - t(16 + 50 * self.conf.center), t(500) * (fx - fy), t(200) * (fy - fz)])

    def backward_cpu(self, xs, y, dy, need, ctx):
        x = xs[0].reshape(self.image + xs[0].shape[-1:])
        _, (dfx, dfy, dfz) = lab_f(np.tensordot(XYZ.astype(x.dtype), x, axes=1))
        dL, da, db = dy.reshape(self.image + dy.shape[-1:])
        dxyz = np.stack([500 * da * dfx, (116 * dL - 500 * da + 200 * db) * dfy, -200 * db * dfz])
        return [np.tensordot(XYZ.T.astype(dy.dtype), dxyz.astype(dy.dtype), axes=1)]

    def forward_gpu(self, xs, ctx):
        x = xs[0]
        y = self.be.empty(self.image + (x.shape[-1],))
        plane = y.size // 3
        kernels(self.be, CU).rgb2lab_forward.launch(plane, x, y, i32(self.conf.center), i32(plane))
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        x = xs[0]
        dx = self.be.empty(self.image + (x.shape[-1],))
        plane = dx.size // 3
        kernels(self.be, CU).rgb2lab_backward.launch(plane, x, dy, dx, i32(plane))
        return [dx]
