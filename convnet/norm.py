"""What the normalization layers (cmrnorm, rnorm, cnorm) share: their keys and the algebra of

    y = x * d^-pow,   d = minDiv + s * (a window sum of squares),

with s = scale/size for cmrnorm and scale/size^2 for rnorm and cnorm, as cuda-convnet scaled it. The
paper's "k = 2, n = 5, alpha = 1e-4, beta = 0.75" is minDiv=2, size=5, scale=0.0001, pow=0.75.
Older files wrote scale and pow in the definition file; both files are accepted.
"""
from .config import Key, boolean, non_negative_number, number, positive_integer
from .kernels import ELEMENTWISE, f32, i32, kernels
from .layer import Layer

SCALE_KEYS = (
    Key("scale", non_negative_number, where="either", doc="alpha: the sum of squares is scaled by scale/size (cmrnorm) or scale/size^2"),
    Key("pow", number, where="either", doc="beta: the exponent of the divisor"),
    Key("minDiv", non_negative_number, default=1.0, where="either", doc="k: added to the scaled sum"),
)


class NormLayer(Layer):
    """Base of the norm layers: one input of `channels` maps, output the same shape."""
    n_inputs = 1
    keys = (Key("channels", positive_integer, doc="maps in the input"),) + SCALE_KEYS

    def norm_size(self):
        return self.conf.size

    def infer(self, shapes):
        self.image = self.image_shape(0, self.conf.channels)
        return self.image

    def as_image(self, x):
        return x.reshape(self.image + x.shape[-1:])

    # The GPU twins keep the divisor d (and cnorm its centred values) from a training forward for the
    # backward of the same pass.
    _kept = (None, None)

    def keep(self, ctx, *arrays):
        if ctx.train:
            self._kept = (ctx, arrays)

    def kept(self, ctx, recompute):
        owner, arrays = self._kept
        self._kept = (None, None)
        return arrays if owner is ctx else recompute()

    def forward_gpu(self, xs, ctx):
        """_forward_gpu gives (y, what the backward needs): kept for this pass's backward."""
        y, *kept = self._forward_gpu(xs[0])
        self.keep(ctx, *kept)
        return y

    def ratio(self, x, dy, d):
        """r = dy * x * d^(-pow-1), elementwise.cu's norm_ratio."""
        r = self.be.empty(x.shape)
        kernels(self.be, ELEMENTWISE).norm_ratio.launch(x.size, x, dy, d, r, f32(self.conf.pow), i32(x.size))
        return r


class SpatialNormLayer(NormLayer):
    """rnorm and cnorm: windows of size x size pixels within a map, starting at (r - size//2, c - size//2).
    The older files called the size sizeX."""
    keys = NormLayer.keys + (
        Key("size", positive_integer, default=None, doc="the window is size x size pixels"),
        Key("sizeX", positive_integer, default=None, doc="older name of size"),
        Key("blocked", boolean, default=False, doc="ignored for rnorm/cnorm (a cmrnorm option)"),
    )

    def norm_size(self):
        c = self.conf
        if (c.size is None) == (c.sizeX is None):
            raise self.cfg.error("size", "give the window size once, as size (or sizeX in older files)")
        return c.size or c.sizeX

    def infer(self, shapes):
        self.n = self.norm_size()
        self.start = -(self.n // 2)
        self.s = self.conf.scale / (self.n * self.n)
        return super().infer(shapes)

    def macs(self):
        return self.size(self.output_shape) * self.n * self.n


def divisor_powers(d, p):
    """(d^-p, d^(-p-1)), computed once for forward and backward."""
    dp = d ** -p
    return dp, dp / d
