"""A whole net against PyTorch: every layer's output, the cost and every weight gradient of one batch,
convnet (float32; the numpy backend by default, cuda on a GPU) against the same graph written here in
PyTorch (float64, autograd), with convnet's weights.

    python bench/pytorch_parity.py [--layers configs/alexnet.cfg --params configs/alexnet-params.cfg]
                                   [--input-size 224] [--mini 8] [--backend numpy|cuda|emulated] [--max 1e-5] [--json]

The PyTorch side is an independent writing of each layer type's math, from the README's definitions
(cuda-convnet's): conv with ceil output sizes (the last window reads zeros past the edge) and its
per-input sums; cross-map LRN as torch's local_response_norm (alpha/size per term, k = minDiv);
within-map norm (rnorm) from a box sum of squares; max and average pooling over windows clipped
to the image (ceil_mode), average dividing by the in-bounds count, max giving its gradient to every
input equal to the maximum (as the 2012 code did); fc as the sum over its inputs of W_i x_i; relu; hs at test time (x * keep); softmax;
and cost.logreg's summed -log p(label). The pass is in test mode, so dropout draws nothing. A layer
type it does not know stops it, naming the type.

PyTorch is not a dependency of convnet: install it yourself to run this.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))     # the checkout's convnet
from convnet.graph import load_graph  # noqa: E402
from convnet.net import Net  # noqa: E402


def nchw(a):
    """convnet's (C, H, W, N) or (features, N) as PyTorch's (N, C, H, W) or (N, features), float64."""
    a = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    return a.permute(3, 0, 1, 2) if a.dim() == 4 else a.t()


def ceil_padding(size, window, stride, padding):
    """The zeros after the image that make floor's count of windows convnet's ceil count."""
    outputs = 1 + math.ceil((2 * padding + size - window) / stride)
    return (outputs - 1) * stride + window - (size + 2 * padding)


def conv(layer, xs, weights):
    c = layer.conf
    out = 0
    for i, x in enumerate(xs):
        k, s, p = c.filterSize[i], c.stride[i], c.padding[i]
        extra = ceil_padding(x.shape[2], k, s, p)
        x = F.pad(x, (p, p + extra, p, p + extra))
        out = out + F.conv2d(x, weights[f"weights/{i}"], stride=s, groups=c.groups[i])
    return out + weights["biases"].reshape(1, -1, 1, 1)


def pool(layer, xs, weights):
    c = layer.conf
    if c.start or c.outputsX:
        raise SystemExit(f"[{layer.name}]: pool start/outputsX are not written here")
    if c.pool == "max":
        return max_pool_2012(xs[0], c.sizeX, c.stride)
    # avg over the in-bounds part of each window (ceil_mode windows clipped to the image)
    return F.avg_pool2d(xs[0], c.sizeX, c.stride, ceil_mode=True, count_include_pad=False)


def max_pool_2012(x, size, stride):
    """Max pooling whose gradient goes, whole, to every input equal to its window's maximum, as the
    2012 code's kLocalMaxUndo gave it (PyTorch's goes to one of them): after a relu, windows of zeros
    are common."""
    _, _, h, w = x.shape
    rows, cols = (1 + math.ceil((n - size) / stride) for n in (h, w))
    padded = F.pad(x, (0, (cols - 1) * stride + size - w, 0, (rows - 1) * stride + size - h), value=-math.inf)
    windows = padded.unfold(2, size, stride).unfold(3, size, stride)
    top = windows.amax(dim=(-1, -2))
    tied = windows == top[..., None, None]
    picked = torch.where(tied, windows, torch.zeros_like(windows)).sum(dim=(-1, -2))
    return picked - (tied.sum(dim=(-1, -2)) - 1) * top.detach()        # the value is top


def fc(layer, xs, weights):
    return sum(x.reshape(x.shape[0], -1) @ weights[f"weights/{i}"].t() for i, x in enumerate(xs)) + weights["biases"]


NEURONS = {"ident": lambda x: x, "relu": torch.relu, "logistic": torch.sigmoid, "abs": torch.abs,
           "square": lambda x: x * x, "tanh": lambda x, a, b: a * torch.tanh(b * x),
           "linear": lambda x, a, b: a * x + b, "brelu": lambda x, a: torch.clamp(x, 0, a),
           "softrelu": F.softplus}


def neuron(layer, xs, weights):
    kind, parameters = layer.conf.neuron
    if kind not in NEURONS:
        raise SystemExit(f"[{layer.name}]: neuron {kind} is not written here")
    return NEURONS[kind](xs[0], *parameters)


def cmrnorm(layer, xs, weights):
    c = layer.conf
    return F.local_response_norm(xs[0], c.size, alpha=c.scale, beta=c.pow, k=c.minDiv)


def rnorm(layer, xs, weights):
    """Within each map: minDiv + scale/size^2 * the sum of squares over the size x size window that
    starts size//2 before the pixel, zeros past the edges."""
    c, x = layer.conf, xs[0]
    size = c.size or c.sizeX                        # older files: sizeX
    before, after = size // 2, size - 1 - size // 2
    sums = F.avg_pool2d(F.pad(x * x, (before, after, before, after)), size, 1) * size ** 2
    return x * (c.minDiv + c.scale / size ** 2 * sums) ** -c.pow


def logreg(layer, xs, weights):
    labels, probs = xs
    return -torch.log(probs[torch.arange(probs.shape[0]), labels[:, 0].long()]).sum()


OPS = {"conv": conv, "pool": pool, "fc": fc, "neuron": neuron, "cmrnorm": cmrnorm, "rnorm": rnorm,
       "hs": lambda layer, xs, w: xs[0] * layer.conf.keep,
       "softmax": lambda layer, xs, w: torch.softmax(xs[0], dim=1), "cost.logreg": logreg}


def op(layer, xs, weights):
    if layer.type not in OPS:
        raise SystemExit(f"[{layer.name}]: layer type {layer.type} is not written here")
    return OPS[layer.type](layer, xs, weights)


def host(t):
    """PyTorch's (N, C, H, W) or (N, features) back in convnet's layout."""
    t = t.detach()
    return (t.permute(1, 2, 3, 0) if t.dim() == 4 else t.t()).numpy()


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def compare(layers_file, params_file, size, mini, seed=0, backend="numpy"):
    """Forward, end to end: PyTorch's chain from the images alone, every output against convnet's.
    Backward, layer by layer: each layer on convnet's own inputs and output gradient, so that a
    maximum that float32 and float64 order differently (two values of a window within rounding of
    each other) sends the gradient the same way on both sides; each weight gradient, and each output
    gradient (the sum over the layers that read it), against convnet's."""
    graph = load_graph(layers_file, params_file, [(3, size, size), (1,)])
    net = Net(graph, backend=backend, seed=seed)

    def on_host(layer, array):
        return np.asarray(net.backend.to_host(array, layer.device))
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((3, size, size, mini)).astype(np.float32) * 50
    cost_layer = graph.cost_layers[0]
    classes = graph[cost_layer.inputs[1]].output_shape[0]
    labels = rng.integers(0, classes, (1, mini)).astype(np.float32)
    costs = net.forward([images, labels], train=False)
    net.backward()

    def leaves(layer):
        return {p.name: torch.from_numpy(on_host(layer, p.value).astype(np.float64)).requires_grad_()
                for p in layer.params}
    chain = {}
    with torch.no_grad():
        for layer in net.layers:
            chain[layer.name] = nchw(images if layer.conf.dataIdx == 0 else labels) if layer.is_data else \
                op(layer, [chain[i] for i in layer.inputs], leaves(layer))

    rows, into = {}, {}
    for layer in reversed(net.layers):
        if layer.is_data:
            continue
        xs = [nchw(net.activation(i)).requires_grad_() for i in layer.inputs]
        weights = leaves(layer)
        y = op(layer, xs, weights)
        if layer.is_cost:
            y.backward()
        else:
            dy = net.gradient(layer.name)
            if dy is None:
                continue
            y.backward(nchw(dy))
        for name, x in zip(layer.inputs, xs):
            if not graph[name].is_data:
                into[name] = into.get(name, 0) + x.grad
        row = rows.setdefault(layer.name, {"layer": layer.name, "type": layer.type})
        for p in layer.params:
            row[p.name] = rel(on_host(layer, p.grad), weights[p.name].grad.numpy())
    out = []
    for layer in net.layers:
        if layer.is_data or layer.is_cost:
            continue
        row = {"layer": layer.name, "type": layer.type, "output": rel(net.activation(layer.name),
                                                                      host(chain[layer.name]))}
        if layer.name in into:
            row["dC/dy"] = rel(net.gradient(layer.name), host(into[layer.name]))
        row.update({k: v for k, v in rows.get(layer.name, {}).items() if k not in row})
        out.append(row)
    cost = float(costs[cost_layer.name][0])
    ref_cost = float(chain[cost_layer.name])
    return {"layers_file": layers_file, "backend": backend, "size": size, "mini": mini, "cost": cost, "torch_cost": ref_cost,
            "cost_rel": abs(cost - ref_cost) / abs(ref_cost), "rows": out}


def report(r):
    lines = [f"{r['layers_file']} on {r['backend']}, {r['mini']} images of {r['size']}x{r['size']}: cost {r['cost']:.6f} "
             f"(PyTorch, float64: {r['torch_cost']:.6f}; relative difference {r['cost_rel']:.1e})",
             "largest |convnet - PyTorch| / largest |PyTorch|: outputs end to end; output and weight "
             "gradients layer by layer",
             f"{'layer':<16} {'type':<10} {'output':>9}  gradients"]
    for row in r["rows"]:
        grads = ", ".join(f"{k} {v:.1e}" for k, v in row.items() if k not in ("layer", "type", "output"))
        lines.append(f"{row['layer']:<16} {row['type']:<10} {row['output']:>9.1e}  {grads}")
    lines.append(f"worst: {worst(r):.1e}")
    return "\n".join(lines)


def worst(r):
    return max(max(v for k, v in row.items() if k not in ("layer", "type")) for row in r["rows"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="configs/alexnet.cfg")
    parser.add_argument("--params", default="configs/alexnet-params.cfg")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--mini", type=int, default=8)
    parser.add_argument("--backend", choices=["numpy", "cuda", "emulated"], default="numpy")
    parser.add_argument("--max", type=float, help="exit 1 when the worst difference is larger")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = compare(args.layers, args.params, args.input_size, args.mini, backend=args.backend)
    print(json.dumps(result, indent=1) if args.json else report(result))
    if args.max is not None and worst(result) > args.max:
        sys.exit(1)


if __name__ == "__main__":
    main()
