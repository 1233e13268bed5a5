"""Stream-order probes and the costs of the host path, on a real GPU (bench/gpu.sh runs it).

Probes 1-4 hold one stream busy with a spin kernel (about 0.2 s) so that a missing wait shows as
wrong numbers every time, not by chance: each cross-stream pattern the engine relies on (a host read,
a gradient summed from two devices, a copy's source freed at once, GEMMs on two streams) must read
what was written. 5-7 time the batch upload and the GEMMs at the paper's shapes.

    PYTHONPATH=. python3 bench/gpu_probe.py [--json]       (exit 1 if a probe fails)

With --backend emulated (no spin, no timings) the probes run in CI, where the emulator checks that
they themselves order what they should.
"""
import argparse
import json
import sys
import time
from types import SimpleNamespace

import numpy as np

from convnet.backends import get_backend
from convnet.devices import Device, transfer
from convnet.kernels import ELEMENTWISE, f32, i32, kernels
from convnet.net import Net

CYCLES = np.int64(400_000_000)                          # about 0.2 s at 2 GHz
N = 1 << 22
results = {"probes": {}, "timings_ms": {}}
be = dev0 = dev1 = SPIN = None


def setup(backend):
    global be, dev0, dev1, SPIN, N
    be = get_backend(backend)
    physical = be.physical_devices()[0]
    dev0, dev1 = Device(0, be, physical), Device(1, be, physical)    # two logical devices on one GPU (--gpu 0)
    if backend == "cuda":
        SPIN = be.cupy.RawKernel(r'''extern "C" __global__ void spin(long long cycles) {
    long long t0 = clock64(); while (clock64() - t0 < cycles) {} }''', "spin")
    else:
        N = 1 << 12


def fill(a, v):
    kernels(be, ELEMENTWISE).fill.launch(a.size, a, f32(v), i32(a.size))


def hold(dev):
    """Keep dev's stream busy for a while: work queued behind it runs late."""
    if SPIN is not None:
        with dev.activate():
            SPIN((1,), (1,), (CYCLES,))


def verdict(name, host, want):
    wrong = int(np.count_nonzero(host != want))
    results["probes"][name] = "ok" if wrong == 0 else f"RACE: {wrong} of {host.size} elements are not {want}"
    print(f"{name}: {results['probes'][name]}")


def probe_host_read():
    with dev0.activate():
        x = be.zeros((N,))
    hold(dev0)
    with dev0.activate():
        fill(x, 1.0)
    verdict("1a host read on the device's stream", be.to_host(x, dev0), 1.0)
    hold(dev0)
    with dev0.activate():
        fill(x, 2.0)
    verdict("1b host read without a device (every stream waited for)", be.to_host(x), 2.0)


def probe_accumulate():
    net = SimpleNamespace(graph={"x": SimpleNamespace(device_index=0, quant_backward=False)}, devices=[dev0, dev1],
                          backend=be, grads={}, ctx=SimpleNamespace(noise=False))
    with dev0.activate():
        g0 = be.empty((N,))
        fill(g0, 1.0)
    Net._accumulate(net, "x", g0, dev0)
    hold(dev1)
    with dev1.activate():
        g1 = be.empty((N,))
        fill(g1, 2.0)
    Net._accumulate(net, "x", g1, dev1)          # copied 1 -> 0, then summed on device 0's stream
    verdict("2 a gradient summed from two logical devices", be.to_host(net.grads["x"], dev0), 3.0)


def probe_copy_source():
    hold(dev1)                                   # the reader's stream is busy
    with dev0.activate():
        g = be.empty((N,))
        fill(g, 5.0)
    out = transfer(g, dev0, dev1)
    del g                                        # freed at once, as Net._accumulate lets go of it
    with dev0.activate():
        h = be.empty((N,))                       # the pool may hand g's block to this allocation
        fill(h, 7.0)
    verdict("3 a copy's source freed before the copy ran", be.to_host(out, dev1), 5.0)


def probe_gemm_streams():
    rng = np.random.default_rng(0)
    size = 1024 if SPIN is not None else 64
    a = [transfer(rng.standard_normal((size, size)).astype(np.float32), None, dev0) for _ in range(2)]
    runs = []
    for _ in range(3):
        outs = []
        for dev in (dev0, dev1):
            with dev.activate():
                if dev is dev1:
                    be._wait(be.stream(dev1), be._record(be.stream(dev0)))     # a[] was uploaded on dev0's stream
                o = be.empty((size, size))
                be.gemm(a[0], a[1], o)
                outs.append(o)
        runs.append([be.to_host(o, d) for o, d in zip(outs, (dev0, dev1))])
    same = all(np.array_equal(runs[0][0], r[k]) for r in runs for k in range(2))
    results["probes"]["4 one GEMM on two streams, 3 times"] = "ok" if same else "DIFFERS"
    print(f"4 one GEMM on two streams, 3 times: {'bit-identical' if same else 'DIFFERS'}")


def timed(fn, dev, reps=10):
    cupy = be.cupy
    with dev.activate():
        fn()
        be.synchronize()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) / reps


def time_upload():
    batch = np.random.default_rng(0).standard_normal((3, 224, 224, 128)).astype(np.float32)
    be.synchronize()
    t0 = time.perf_counter()
    for dev in (dev0, dev1):
        transfer(batch, None, dev)
    be.synchronize()
    ms = 1000 * (time.perf_counter() - t0)
    results["timings_ms"]["batch upload (77 MB) to two logical devices"] = ms
    print(f"5 the batch (77 MB, pageable) to two logical devices: {ms:.1f} ms")


def time_gemms():
    shapes = {"conv1 fwd": (48, 363, 387200), "conv1 dW": (48, 387200, 363), "conv2 fwd": (128, 1200, 93312),
              "conv2 dX": (1200, 128, 93312), "conv4 fwd": (192, 1728, 21632), "fc6 fwd": (2048, 4608, 128)}
    for tf32 in (False, True):
        be.tf32 = tf32
        for name, (m, k, n) in shapes.items():
            with dev0.activate():
                if name.endswith("dW"):
                    A, B, C = be.empty((m, k)), be.empty((n, k)), be.empty((m, n))
                    fn = lambda A=A, B=B, C=C: be.gemm(A, B, C, trans_b=True)        # noqa: E731
                elif name.endswith("dX"):
                    A, B, C = be.empty((k, m)), be.empty((k, n)), be.empty((m, n))
                    fn = lambda A=A, B=B, C=C: be.gemm(A, B, C, trans_a=True)        # noqa: E731
                else:
                    A, B, C = be.empty((m, k)), be.empty((k, n)), be.empty((m, n))
                    fn = lambda A=A, B=B, C=C: be.gemm(A, B, C)                      # noqa: E731
                fill(A, 0.01)
                fill(B, 0.01)
            ms = timed(fn, dev0)
            key = f"{'TF32' if tf32 else 'FP32'} {name} {m}x{k}x{n}"
            results["timings_ms"][key] = ms
            print(f"6 {key}: {ms:.3f} ms, {2 * m * k * n / ms / 1e9:.1f} TFLOP/s")
    be.tf32 = False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="cuda", choices=("cuda", "emulated"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    setup(args.backend)
    for probe in (probe_host_read, probe_accumulate, probe_copy_source, probe_gemm_streams):
        probe()
        be.synchronize()
    if args.backend == "cuda":
        time_upload()
        time_gemms()
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if all(v == "ok" for v in results["probes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
