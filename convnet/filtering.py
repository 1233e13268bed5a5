"""What conv and local layers share: their keys, the geometry of their filter positions, and checks.

Per input i: `channels` maps come in; filters of filterSize x filterSize see channels/groups of them;
`filters` is counted per group, as in cuda-convnet, so the layer makes filters*groups maps. Filter
positions: 1 + ceil((2*padding + size - filterSize) / stride) along each axis; positions past the
edge read zeros. With several inputs the per-input results are summed, so every input must give the
same output size and number of maps.
"""
from types import SimpleNamespace

from .config import Key, boolean, non_negative_integer, positive_integer
from .kernels import ELEMENTWISE, UNFOLD, i32, kernels, row_sums
from .layer import Layer
from .weights import WEIGHT_KEYS
from .windows import conv_output_size

GEOMETRY_KEYS = (
    Key("channels", positive_integer, per_input=True, doc="maps in input i"),
    Key("filters", positive_integer, per_input=True, doc="filters per group (the layer makes filters*groups maps)"),
    Key("filterSize", positive_integer, per_input=True, doc="filters are filterSize x filterSize"),
    Key("padding", non_negative_integer, default=0, per_input=True, doc="zeros around the image"),
    Key("stride", positive_integer, default=1, per_input=True, doc="step between filter positions"),
    Key("groups", positive_integer, default=1, per_input=True, doc="channel groups, each with its own filters"),
    Key("randSparse", boolean, default=False, per_input=True, doc="must be 0: random sparse groups are not supported"),
) + WEIGHT_KEYS


class FilterLayer(Layer):
    """Base of conv and local: infers `self.geo`, one namespace per input with
    C, H, W (input), G (groups), Cg (channels per group), F (maps out), Fg (maps per group),
    k (filterSize), s (stride), p (padding), oy, ox (output size)."""

    def infer(self, shapes):
        c = self.conf
        self.geo = []
        for i in range(len(shapes)):
            C, H, W = self.image_shape(i, c.channels[i])
            G, k, p, s = c.groups[i], c.filterSize[i], c.padding[i], c.stride[i]
            if c.randSparse[i]:
                raise self.cfg.error("randSparse", "random sparse connectivity is not supported; use 0")
            if C % G:
                raise self.cfg.error("groups", f"{G} groups do not divide the {C} channels of input "
                                               f"'{self.inputs[i]}'")
            if k > min(H, W) + 2 * p:
                raise self.cfg.error("filterSize", f"is {k}, larger than input '{self.inputs[i]}' "
                                                   f"({H}x{W}) with padding {p}")
            self.geo.append(SimpleNamespace(
                C=C, H=H, W=W, G=G, Cg=C // G, F=c.filters[i] * G, Fg=c.filters[i], k=k, s=s, p=p,
                oy=conv_output_size(H, p, k, s), ox=conv_output_size(W, p, k, s)))
        outs = {(g.F, g.oy, g.ox) for g in self.geo}
        if len(outs) > 1:
            sizes = ", ".join(f"{g.F}x{g.oy}x{g.ox}" for g in self.geo)
            raise self.cfg.error("filters", f"every input must give equally sized outputs; they give {sizes}")
        g = self.geo[0]
        return (g.F, g.oy, g.ox)

    def macs(self):
        return sum(g.F * g.oy * g.ox * g.Cg * g.k * g.k for g in self.geo)


def unfold_gpu(be, x, g, out, positions_outer=0, channels=None):
    """The unfolded input on the GPU path (unfold.cu): (C, k, k, oy, ox, N) or, with positions_outer,
    (oy, ox, C, k, k, N). x is one input's (C, H, W, N), or a group's slice of its channels."""
    C = channels or g.C
    N = x.size // (C * g.H * g.W)
    kernels(be, UNFOLD).unfold_forward.launch(out.size, x, out, *map(i32, (C, g.H, g.W, N, g.k, g.s, g.p, g.oy,
                                                                             g.ox, positions_outer, out.size)))
    return out


def fold_gpu(be, dcols, g, dx, positions_outer=0, channels=None):
    """The adjoint of unfold_gpu, into dx: each pixel gathers the unfolded entries that read it."""
    C = channels or g.C
    N = dx.size // (C * g.H * g.W)
    kernels(be, UNFOLD).unfold_backward.launch(dx.size, dcols, dx, *map(i32, (C, g.H, g.W, N, g.k, g.s, g.p, g.oy,
                                                                                g.ox, positions_outer, dx.size)))


def add_biases(be, y, b, positions, per_position):
    """y (F, positions, N) += b, one bias per filter or per filter and position."""
    N = y.size // (b.shape[0] * positions)
    kernels(be, ELEMENTWISE).bias_add.launch(y.size, y, b, i32(positions), i32(N), i32(per_position), i32(y.size))


def bias_gradient(be, dy, b, positions, per_position):
    """The biases' gradient: dy summed over images (and positions when shared), as a GEMM with ones."""
    grad = be.empty(b.shape)
    rows = grad.size
    row_sums(be, dy.reshape(rows, dy.size // rows), grad.reshape(rows, 1))
    return grad
