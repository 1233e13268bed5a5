"""Each memory-bound kernel's achieved bandwidth against the GPU's device-to-device copy bandwidth.

    python bench/kernel_bandwidth.py [--backend cuda] [--mini 128] [--json]

Layers at the paper's sizes (conv1's output for the norm, pool and neuron; fc8 for softmax; fc6 for
dropout; fc6's weights for the update). Bytes are the fewest any implementation must move: every input
read once, every output written once. Times are medians over repeats, with CUDA events on the GPU.
The target (issue 4): 70% or more of the measured copy bandwidth.
"""
import argparse
import json
import statistics
from types import SimpleNamespace

import numpy as np

from convnet.backends import get_backend
from convnet.bench import Clock
from convnet.devices import Device
from convnet.filtering import fold_gpu, unfold_gpu
from convnet.layer import Pass, Parameter
from convnet.solver import Solver
from tests.helpers import WEIGHT_PARAMS, make_layer     # the same one-layer builder the tests use


def median_ms(clock, fn, repeat):
    times = []
    for _ in range(repeat + 2):
        clock.sync()
        start = clock.mark()
        fn()
        clock.sync()
        times.append(clock.between(start, clock.mark()))
    return statistics.median(times[2:])


def copy_bandwidth(be, clock, nbytes, repeat):
    a = be.empty((nbytes // 4,))
    b = be.empty((nbytes // 4,))
    ms = median_ms(clock, lambda: be.copy_into(b, a), repeat)
    return 2 * nbytes / (ms / 1000)


CASES = [  # name, layer type, input shape (per image), definition keys, params keys, bytes per element (fwd, bwd)
    ("cmrnorm (conv1 output)", "cmrnorm", (96, 55, 55), dict(channels=96, size=5),
     dict(scale=0.0001, pow=0.75, minDiv=2), (3, 5)),      # fwd: x -> y, d; bwd: x, dy, d -> r; x, dy, d, r -> dx
    ("max pool 3/2 (conv1 output)", "pool", (96, 55, 55), dict(pool="max", sizeX=3, stride=2, channels=96), None,
     (1 + 0.25, 2 + 0.5)),                                  # fwd: x -> y (a quarter of x); bwd: x, y, dy -> dx
    ("relu (conv1 output)", "neuron", (96, 55, 55), dict(neuron="relu"), None, (2, 3)),
    ("softmax (fc8)", "softmax", (1000,), {}, None, (2, 3)),
    ("dropout (fc6)", "hs", (4096,), dict(keep=0.5), None, (2, 2)),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="cuda")
    parser.add_argument("--mini", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    be = get_backend(args.backend)
    device = Device(0, be, be.physical_devices()[0])
    rows = []
    with device.activate():
        clock = Clock(be)
        copy = copy_bandwidth(be, clock, 1 << 30 if be.name == "cuda" else 1 << 24, args.repeat)
        rng = np.random.default_rng(0)
        for name, kind, shape, keys, params, (fwd_bytes, bwd_bytes) in CASES:
            layer = make_layer(kind, [shape], keys, params, backend=be.name, dtype=np.float32)
            x = be.from_host(rng.standard_normal(shape + (args.mini,)).astype(np.float32), device)
            ctx = Pass(True, 1)
            y = layer.forward([x], ctx)
            dy = be.from_host(rng.standard_normal(y.shape).astype(np.float32), device)
            n = x.size * 4
            kept = getattr(layer, "_kept", None)      # what the norms' forward keeps for their backward

            def forward(layer=layer, x=x, ctx=ctx):
                return layer.forward([x], ctx)

            def backward(layer=layer, x=x, y=y, dy=dy, ctx=ctx, kept=kept):
                if kept is not None:                   # the backward alone, as in training: not the forward again
                    layer._kept = kept
                return layer.backward([x], y, dy, [True], ctx)
            for direction, fn, nbytes in (("forward", forward, fwd_bytes * n), ("backward", backward, bwd_bytes * n)):
                ms = median_ms(clock, fn, args.repeat)
                rows.append(dict(kernel=f"{name} {direction}", ms=ms, gb_per_s=nbytes / (ms / 1000) / 1e9,
                                 share_of_copy=nbytes / (ms / 1000) / copy))
        # The convolution's unfold (unfold.cu) on conv1's input, and its adjoint on conv2's: bytes are
        # the unfolded matrix once and the image batch once.
        for name, shape, keys, direction in (
                ("unfold (conv1 input, 11x11 stride 4)", (3, 224, 224), dict(filterSize=11, padding=0, stride=4),
                 "forward"),
                ("unfold (conv2 input, 5x5 pad 2)", (48, 27, 27), dict(filterSize=5, padding=2, stride=1),
                 "backward")):
            layer = make_layer("conv", [shape], dict(keys, channels=shape[0], filters=16), WEIGHT_PARAMS, backend=be.name,
                               dtype=np.float32)
            g = layer.geo[0]
            x = be.from_host(rng.standard_normal(shape + (args.mini,)).astype(np.float32), device)
            cols = be.empty((g.C * g.k * g.k, g.oy * g.ox * args.mini))
            if direction == "forward":
                ms = median_ms(clock, lambda: unfold_gpu(be, x, g, cols), args.repeat)
            else:
                ms = median_ms(clock, lambda: fold_gpu(be, cols, g, x), args.repeat)
            nbytes = (cols.size + x.size) * 4
            rows.append(dict(kernel=f"{name} {direction}", ms=ms, gb_per_s=nbytes / (ms / 1000) / 1e9,
                             share_of_copy=nbytes / (ms / 1000) / copy))
        # The update (solver.cu): reads w, inc and grad, writes w and inc.
        w = be.from_host(rng.standard_normal((4096, 9216)).astype(np.float32), device)
        p = Parameter(SimpleNamespace(device=device), "weights/0", w, eps=None, mom=0.9, wc=0.0005)
        p.inc, p.grad = be.zeros(w.shape), be.from_host(rng.standard_normal(w.shape).astype(np.float32), device)
        solver = Solver(SimpleNamespace(backend=be))
        ms = median_ms(clock, lambda: solver._update_gpu(p, 0.01, args.mini), args.repeat)
        rows.append(dict(kernel="sgd update (fc6 weights)", ms=ms, gb_per_s=5 * w.size * 4 / (ms / 1000) / 1e9,
                         share_of_copy=5 * w.size * 4 / (ms / 1000) / copy))
    result = {"backend": be.name, "mini": args.mini, "copy_gb_per_s": copy / 1e9, "kernels": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"device-to-device copy: {copy / 1e9:.0f} GB/s (bytes read + written)")
    for r in rows:
        print(f"{r['kernel']:<44} {r['ms']:8.3f} ms {r['gb_per_s']:8.1f} GB/s {100 * r['share_of_copy']:5.1f}% of copy")


if __name__ == "__main__":
    main()
