"""How much of a training step the host spends issuing it: where that is close to the step's time, the
GPU waits on Python and faster kernels cannot shorten the step.

    python bench/step_host.py [--layers configs/alexnet.cfg --params configs/alexnet-params.cfg]
                              [--backend cuda] [--gpu 0] [--mini 128] [--repeat 10] [--json]

A step as `convnet bench` runs it (forward, backward, update, on one random batch), three ways: the
wall time from its start to its end with the wait for the GPU (the step), the wall time until the
host has issued its last launch (the host's part), and the kernel launches and GEMMs it issues. Then
cProfile over a few steps, its functions by their own time and by their time with what they call.
"""
import argparse
import cProfile
import io
import json
import pstats
import statistics
import time

import numpy as np

from convnet import kernels as kernel_module
from convnet.bench import random_batch
from convnet.graph import load_graph
from convnet.net import Net
from convnet.solver import Solver


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="configs/alexnet.cfg")
    parser.add_argument("--params", default="configs/alexnet-params.cfg")
    parser.add_argument("--backend", default="cuda")
    parser.add_argument("--gpu", default="0")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--mini", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    graph = load_graph(args.layers, args.params, [(3, args.input_size, args.input_size), (1,)])
    gpus = [int(g) for g in args.gpu.split(",")] if args.backend == "cuda" else None
    net = Net(graph, backend=args.backend, gpus=gpus, seed=0)
    solver = Solver(net)
    batch = random_batch(graph, args.mini, np.random.default_rng(0))
    be = net.backend
    sync = be.synchronize if hasattr(be, "synchronize") else (lambda: None)

    def issue(i):
        net.forward(batch, train=True, step=i, read_costs=False)
        net.backward(release=True)
        solver.update(args.mini, 0.0)

    for i in range(3):
        issue(i)
    sync()
    launches = {"kernels": 0, "gemms": 0}
    call, gemm = kernel_module.Kernel.__call__, be.gemm

    def counted_call(self, *a, **k):
        launches["kernels"] += 1
        return call(self, *a, **k)

    def counted_gemm(*a, **k):
        launches["gemms"] += 1
        return gemm(*a, **k)
    kernel_module.Kernel.__call__, be.gemm = counted_call, counted_gemm
    issue(3)
    sync()
    kernel_module.Kernel.__call__, be.gemm = call, gemm
    host, step = [], []
    for i in range(args.repeat):
        start = time.perf_counter()
        issue(4 + i)
        issued = time.perf_counter()
        sync()
        end = time.perf_counter()
        host.append((issued - start) * 1000)
        step.append((end - start) * 1000)
    profile = cProfile.Profile()
    profile.enable()
    for i in range(3):
        issue(100 + i)
    sync()
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(25)
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(25)
    result = {"backend": be.name, "layers": args.layers, "mini": args.mini, "step_ms": statistics.median(step),
              "host_ms": statistics.median(host), "launches_per_step": launches}
    if args.json:
        print(json.dumps(dict(result, profile=text.getvalue()), indent=1))
        return
    print(f"step {result['step_ms']:.1f} ms, of which the host issues for {result['host_ms']:.1f} ms; "
          f"{launches['kernels']} kernel launches and {launches['gemms']} GEMMs a step")
    print(text.getvalue())


if __name__ == "__main__":
    main()
