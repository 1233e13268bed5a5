"""treefc: a fully connected layer whose class weights follow a class tree (the 2012 code's TreeFCLayer)."""
import numpy as np

from convnet.filtering import add_biases, bias_gradient
from convnet.layer import Layer
from convnet.registry import register
from convnet.weights import WEIGHT_KEYS, WeightLayerMixin, make_weight_params


def flat_tree(classes):
    """Every class a child of one root: (tree, root)."""
    tree = {c: [] for c in range(classes)}
    tree[classes] = list(range(classes))
    return tree, classes


def check_tree(tree, root, classes):
    """A class tree as the 2012 providers wrote it (batches.meta 'tree': {node: [children]}, the
    root in 'all_wnids'['gproot']): nodes 0 .. M-1, the classes 0 .. classes-1 its leaves, every node
    reached once from the root. Returns (nodes M, the ancestors of each class, the leaves under each
    node), or raises ValueError."""
    nodes = len(tree)
    if sorted(tree) != list(range(nodes)):
        raise ValueError(f"its nodes must be numbered 0 to {nodes - 1}")
    leaves = sorted(n for n, children in tree.items() if not children)
    if leaves != list(range(classes)):
        raise ValueError(f"its leaves must be the {classes} classes, numbered 0 to {classes - 1}")
    parent, seen, order = {}, {root}, [root]
    for node in order:
        for child in tree[node]:
            if child in seen:
                raise ValueError(f"node {child} is reached twice")
            seen.add(child)
            parent[child] = node
            order.append(child)
    if len(seen) != nodes:
        raise ValueError(f"{nodes - len(seen)} nodes are not under the root {root}")
    ancestors = []
    for leaf in range(classes):
        path, node = [leaf], leaf
        while node in parent:
            node = parent[node]
            path.append(node)
        ancestors.append(path)
    under = np.zeros(nodes)
    for path in ancestors:
        under[path] += 1
    return nodes, ancestors, under


@register("treefc")
class TreeFC(WeightLayerMixin, Layer):
    """y = b + W_eff x, where class c's weight vector is the sum of the vectors of every node on the
    class tree from the root down to c: W_eff = A W, A[c, node] = 1 on c's path. So classes that share
    ancestors share those vectors. The gradient of W is A^T (the gradient of W_eff): a node's is the sum
    of its classes'. The solver moves node r at eps / n_r with decay wc / n_r, n_r the classes under it
    (the 2012 code's kSoftmaxTreeUpdateWeights). Internal nodes start at 0, the classes at initW.

    The tree comes from the data provider (batches.meta's 'tree' and 'all_wnids'['gproot'], as the 2012
    parser read them); without one (describe and check-grads without a provider) the tree is flat:
    every class a child of one root. The outputs are the provider's classes.

    Config keys: inputs (one), initW, initB, initWFunc, initBFunc. Params: epsW, epsB, momW, momB, wc.
    Weights: (nodes, inputs); biases (classes,).
    """
    n_inputs = 1
    keys = WEIGHT_KEYS

    def infer(self, shapes):
        info = self.data_info
        classes, tree, root = info.get("classes"), info.get("tree"), info.get("root")
        if classes is None:
            raise self.cfg.error("type", "treefc makes one output per class: give a data provider (or describe "
                                         "--classes)")
        if tree is None:
            if info.get("need_tree"):
                raise self.cfg.error("type", "treefc needs the class tree, and the data provider has none (the "
                                             "2012 providers gave it in batches.meta: 'tree' and 'all_wnids')")
            tree, root = flat_tree(classes)
        if any(self.conf.weightSource):
            raise self.cfg.error("weightSource", "weight sharing is not allowed in treefc layers (as in the 2012 code)")
        try:
            self.nodes, ancestors, under = check_tree(tree, root, classes)
        except ValueError as e:
            raise self.cfg.error("type", f"the data provider's class tree: {e}") from None
        self.classes, self.in_size = classes, self.size(shapes[0])
        self.paths = np.zeros((classes, self.nodes), dtype=np.float32)
        for c, path in enumerate(ancestors):
            self.paths[c, path] = 1
        self.row_scale = (1.0 / under).astype(np.float32)
        return (classes,)

    def param_shapes(self):
        return [(self.nodes, self.in_size), (self.classes,)]

    def macs(self):
        return self.classes * self.in_size

    def init_params(self, rng, dtype):
        shapes = self.param_shapes()
        self.params = make_weight_params(self, rng, dtype, shapes[:-1], shapes[-1], row_scale=self.row_scale)
        w = self.params[0]
        if not self.conf.initWFunc:
            w.value[self.classes:] = 0                   # internal nodes start at 0 (TreeFCLayerParser)

    # the 2012 matrices (initWFunc): weights (inputs, nodes), biases (1, classes)
    def weights_2012_shape(self, i):
        return (self.in_size, self.nodes)

    def _paths(self, dtype):
        if not self.be.gpu_path:
            return self.paths.astype(dtype)
        if getattr(self, "_paths_on", None) is not self.device:
            self._device_paths = self.be.from_host(self.paths, self.device)
            self._paths_on = self.device
        return self._device_paths

    def forward_cpu(self, xs, ctx):
        N = xs[0].shape[-1]
        w = self._paths(xs[0].dtype) @ self.params[0].value
        return w @ xs[0].reshape(self.in_size, N) + self.params[1].value[:, None]

    def backward_cpu(self, xs, y, dy, need, ctx):
        N = dy.shape[-1]
        paths = self._paths(dy.dtype)
        x = xs[0].reshape(self.in_size, N)
        self.params[0].grad = paths.T @ (dy @ x.T)
        self.params[1].grad = dy.sum(axis=1)
        return [(paths @ self.params[0].value).T @ dy if need[0] else None]

    # ---- the GPU twin: cuBLAS GEMMs with the path matrix ----------------------------------------------

    def _effective_gpu(self):
        w_eff = self.be.empty((self.classes, self.in_size))
        self.be.gemm(self._paths(None), self.params[0].value, w_eff)
        return w_eff

    def forward_gpu(self, xs, ctx):
        be, N = self.be, xs[0].shape[-1]
        y = be.empty((self.classes, N))
        be.gemm(self._effective_gpu(), xs[0].reshape(self.in_size, N), y)
        add_biases(be, y, self.params[1].value, 1, False)
        return y

    def backward_gpu(self, xs, y, dy, need, ctx):
        be, N = self.be, dy.shape[-1]
        x = xs[0].reshape(self.in_size, N)
        leaf_grad = be.empty((self.classes, self.in_size))
        be.gemm(dy, x, leaf_grad, trans_b=True)
        grad = be.empty((self.nodes, self.in_size))
        be.gemm(self._paths(None), leaf_grad, grad, trans_a=True)
        self.params[0].grad = grad
        self.params[1].grad = bias_gradient(be, dy, self.params[1].value)
        dx = None
        if need[0]:
            dx = be.empty((self.in_size, N))
            be.gemm(self._effective_gpu(), dy, dx, trans_a=True)
        return [dx]
