"""What conv and local layers share: their keys, the geometry of their filter positions, random sparse
connections between groups, and checks.

Per input i: `channels` maps come in; filters of filterSize x filterSize see channels/groups of them;
`filters` is counted per group, as in cuda-convnet, so the layer makes filters*groups maps. Filter
positions: 1 + ceil((2*padding + size - filterSize) / stride) along each axis; positions past the
edge read zeros. With several inputs the per-input results are summed, so every input must give the
same output size and number of maps.

randSparse=1 (the 2012 code's random sparse connectivity, layer.py gen_rand_conns): group g sees
filterChannels maps, conns[g*filterChannels ... (g+1)*filterChannels - 1], where conns is
groups*filterChannels/channels random permutations of the channels one after the other (or what
initCFunc returns). The layer gathers those maps into a stacked input of groups*filterChannels maps
and convolves it group by group as a dense grouped input; the backward sums the stacked gradient
back onto the maps (a map seen by several groups gets each group's part).
"""
from types import SimpleNamespace

import numpy as np

from .config import Key, boolean, non_negative_integer, positive_integer, text
from .initfunc import FromCheckpoint, InitFunc, checked_conns
from .kernels import ELEMENTWISE, UNFOLD, i32, image_lanes, kernels, row_sums
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
    Key("randSparse", boolean, default=False, per_input=True,
        doc="each group sees filterChannels maps chosen at random (random sparse connectivity)"),
    Key("filterChannels", positive_integer, default=None, per_input=True,
        doc="with randSparse: the maps each group sees (default channels/groups)"),
    Key("initCFunc", text, default=None, doc="module.func(params): a Python function gives randSparse's connections"),
) + WEIGHT_KEYS


class FilterLayer(Layer):
    """Base of conv and local: infers `self.geo`, one namespace per input with
    C_in (maps in), C (maps the groups see: C_in, or groups*filterChannels with randSparse), H, W,
    G (groups), Cg (maps per group), F (maps out), Fg (maps per group), k (filterSize), s (stride),
    p (padding), oy, ox (output size), sparse."""

    def infer(self, shapes):
        c = self.conf
        self.geo = []
        for i in range(len(shapes)):
            C, H, W = self.image_shape(i, c.channels[i])
            G, k, p, s = c.groups[i], c.filterSize[i], c.padding[i], c.stride[i]
            sparse = c.randSparse[i]
            Cg = c.filterChannels[i] if c.filterChannels[i] is not None else C // G
            if sparse:
                if G == 1:
                    raise self.cfg.error("groups", "must be more than 1 with random sparse connectivity (randSparse=1)")
                if C % Cg or (G * Cg) % C:
                    raise self.cfg.error("filterChannels", f"{Cg} maps per group must divide the {C} channels of "
                                                           f"input '{self.inputs[i]}', and groups * filterChannels "
                                                           f"({G * Cg}) must be a multiple of them")
            else:
                if C % G:
                    raise self.cfg.error("groups", f"{G} groups do not divide the {C} channels of input "
                                                   f"'{self.inputs[i]}'")
                if Cg != C // G:
                    raise self.cfg.error("filterChannels", f"is {Cg}, but without randSparse each of the {G} groups "
                                                           f"sees channels/groups = {C // G} maps")
            if k > min(H, W) + 2 * p:
                raise self.cfg.error("filterSize", f"is {k}, larger than input '{self.inputs[i]}' "
                                                   f"({H}x{W}) with padding {p}")
            self.geo.append(SimpleNamespace(
                C_in=C, C=G * Cg, H=H, W=W, G=G, Cg=Cg, F=c.filters[i] * G, Fg=c.filters[i], k=k, s=s, p=p,
                oy=conv_output_size(H, p, k, s), ox=conv_output_size(W, p, k, s), sparse=sparse))
        if c.initCFunc is not None and not any(c.randSparse):
            raise self.cfg.error("initCFunc", "gives connections, but no input has randSparse=1")
        outs = {(g.F, g.oy, g.ox) for g in self.geo}
        if len(outs) > 1:
            sizes = ", ".join(f"{g.F}x{g.oy}x{g.ox}" for g in self.geo)
            raise self.cfg.error("filters", f"every input must give equally sized outputs; they give {sizes}")
        g = self.geo[0]
        return (g.F, g.oy, g.ox)

    def macs(self):
        return sum(g.F * g.oy * g.ox * g.Cg * g.k * g.k for g in self.geo)

    # ---- random sparse connections --------------------------------------------------------------

    conns = {}           # input -> int32 (G * Cg,): the maps the groups see, one after the other

    def check_weight_source(self, i, source, j):
        """A shared matrix of a randSparse input shares its connections too (the 2012 parser's check)."""
        mine, theirs = self.geo[i], source.geo[j]
        if mine.sparse != theirs.sparse or (mine.sparse and (mine.G, mine.C_in, mine.Cg) != (theirs.G, theirs.C_in, theirs.Cg)):
            raise self.cfg.error("weightSource", f"randSparse, groups, channels and filterChannels must match those of "
                                                 f"'{source.name}[{j}]'", "layers")

    def init_connections(self, rng):
        """conns for every randSparse input: random permutations of the channels, initCFunc's, or a
        weight source's."""
        self.conns, self._device_conns = {}, {}
        for i, g in enumerate(self.geo):
            if not g.sparse:
                continue
            shared = self.weight_sources.get(i)
            if shared is not None:
                continue                          # the net copies the source's (Net.__init__)
            if self.conf.initCFunc and not self.restoring:
                init = InitFunc(self, "initCFunc", self.conf.initCFunc)
                result = init.call(i, (g.G, g.C_in, g.Cg))
                if isinstance(result, FromCheckpoint):
                    result = result.array
                self.conns[i] = checked_conns(init, result, g.G, g.C_in, g.Cg)
            else:
                over = g.G * g.Cg // g.C_in
                self.conns[i] = np.concatenate([rng.permutation(g.C_in) for _ in range(over)]).astype(np.int32)

    def state_arrays(self):
        """Arrays besides the parameters that a checkpoint keeps: the connections."""
        return {f"conns/{i}": c for i, c in self.conns.items() if i not in self.weight_sources}

    def load_state_arrays(self, arrays):
        for name, array in arrays.items():
            i = int(name.split("/")[1])
            # in place: a layer sharing this matrix (weightSource) holds this very array of connections,
            # and must read the restored ones, not those its net was built with
            self.conns[i][...] = np.asarray(array, dtype=np.int32)
        self._device_conns = {}

    def stacked(self, i, x):
        """Input i as the maps the groups see, (C, H, W, N): x itself, or its maps gathered by conns."""
        g, N = self.geo[i], x.shape[-1]
        x = x.reshape(g.C_in, g.H, g.W, N)
        if not g.sparse:
            return x
        if not self.be.gpu_path:
            return x[self.conns[i]]
        out = self.be.empty((g.C, g.H, g.W, N))
        conns, _ = self._gpu_conns(i)
        plane = g.H * g.W * N
        kernels(self.be, UNFOLD).gather_maps.launch(out.size, x, conns, out, i32(plane), i32(out.size))
        return out

    def unstacked(self, i, dstacked, N):
        """The gradient of the stacked input back on input i's maps: summed over the groups that see each."""
        g = self.geo[i]
        if not g.sparse:
            return dstacked
        if not self.be.gpu_path:
            dx = np.zeros((g.C_in, g.H, g.W, N), dtype=dstacked.dtype)
            np.add.at(dx, self.conns[i], dstacked.reshape(g.C, g.H, g.W, N))
            return dx
        dx = self.be.empty((g.C_in, g.H, g.W, N))
        _, inverse = self._gpu_conns(i)
        plane = g.H * g.W * N
        kernels(self.be, UNFOLD).sum_maps_back.launch(dx.size, dstacked, inverse, dx, i32(g.G * g.Cg // g.C_in),
                                                      i32(plane), i32(dx.size))
        return dx

    def _gpu_conns(self, i):
        """conns and its inverse (for each map, the places of the stacked input that hold it) on the device."""
        if i not in self._device_conns:
            conns = self.conns[i]
            inverse = np.argsort(conns, kind="stable").astype(np.int32)   # map c's places, in groups of `over`
            self._device_conns[i] = (self.be.from_host_int(conns, self.device), self.be.from_host_int(inverse, self.device))
        return self._device_conns[i]


def unfold_gpu(be, x, g, out, positions_outer=0, channels=None):
    """The unfolded input on the GPU path (unfold.cu): (C, k, k, oy, ox, N) or, with positions_outer,
    (oy, ox, C, k, k, N). x is one input's (C, H, W, N), or a group's slice of its channels."""
    C = channels or g.C
    N = x.size // (C * g.H * g.W)
    lanes = image_lanes(N)
    total = out.size // N * lanes
    kernels(be, UNFOLD).unfold_forward.launch(total, x, out, *map(i32, (C, g.H, g.W, N, g.k, g.s, g.p, g.oy, g.ox,
                                                                          positions_outer, lanes, total)))
    return out


def fold_gpu(be, dcols, g, dx, positions_outer=0, channels=None):
    """The adjoint of unfold_gpu, into dx: each pixel gathers the unfolded entries that read it."""
    C = channels or g.C
    N = dx.size // (C * g.H * g.W)
    lanes = image_lanes(N)
    total = dx.size // N * lanes
    kernels(be, UNFOLD).unfold_backward.launch(total, dcols, dx, *map(i32, (C, g.H, g.W, N, g.k, g.s, g.p, g.oy,
                                                                              g.ox, positions_outer, lanes, total)))



def add_biases(be, y, b, positions, per_position):
    """y (F, positions, N) += b, one bias per filter or per filter and position."""
    N = y.size // (b.shape[0] * positions)
    kernels(be, ELEMENTWISE).bias_add.launch(y.size, y, b, i32(positions), i32(N), i32(per_position), i32(y.size))


def bias_gradient(be, dy, b):
    """The biases' gradient: dy summed over images (and positions when shared), as a GEMM with ones.
    b's shape says which: (F,) sums each filter's positions too, (F, positions...) keeps them."""
    grad = be.empty(b.shape)
    rows = grad.size
    row_sums(be, dy.reshape(rows, dy.size // rows), grad.reshape(rows, 1))
    return grad
