"""`convnet bench`: the speed of full training steps (forward, backward, update) on random data.

Warm-up steps first (kernel compilation, cuBLAS handles, memory pools), then the median of repeated
steps: timed with CUDA events on the GPU and the host clock on the CPU. A second series times each
layer's forward and backward on its own. The FP32 work is the multiply-adds of describe (x2 FLOPs) of
the forward, the weight gradients and the input gradients that are computed (training_macs); the share
of peak divides the achieved rate by the GPU's FP32 peak (SMs x FP32 lanes x clock x 2) or, on the
CPU, by the measured rate of one large float32 GEMM.

The profile: each layer's forward and backward (timed alone, a second series), the update and what
is left of the step (the net's own bookkeeping); the BLAS library, the kernels it chose and its
threads; the process's peak resident memory (ru_maxrss: what `bench/pytorch_alexnet.py` reports for
PyTorch); and the loader's work per minibatch: the paper's augmentation (random crops of (S+32)^2
images to S^2, reflections, PCA colour noise) timed alone on one thread, which the trainer's loader
threads do beside the steps (the step itself trains on random arrays; bench/loader_speed.py times
the whole loader, reading HDF5 batches included).
"""
import resource
import statistics
import sys
import time

import numpy as np

from .backends import get_backend
from .errors import BackendError
from .graph import load_graph
from .net import Net
from .progress import Progress
from .solver import Solver


class Clock:
    """Elapsed milliseconds between marks: CUDA events on the cuda backend, the host clock elsewhere."""

    def __init__(self, backend):
        self.backend = backend
        self.cuda = backend.name == "cuda"

    def mark(self):
        if self.cuda:
            event = self.backend.cupy.cuda.Event()
            event.record(self.backend.cupy.cuda.get_current_stream())
            return event
        return time.perf_counter()

    def between(self, start, end):
        if self.cuda:
            end.synchronize()
            return self.backend.cupy.cuda.get_elapsed_time(start, end)
        return (end - start) * 1000.0

    def sync(self):
        self.backend.synchronize() if hasattr(self.backend, "synchronize") else None


def random_batch(graph, mini, rng):
    images = rng.standard_normal(graph.data_layers[0].output_shape + (mini,)).astype(np.float32) * 50
    classes = min((c.classes for c in graph.cost_layers if hasattr(c, "classes")), default=2)
    return [images, rng.integers(0, classes, (1, mini)).astype(np.float32)]


def choose_backend(name):
    """(backend name, why): "auto" is cuda where CuPy finds a usable GPU, else numpy."""
    if name != "auto":
        return name, ""
    try:
        get_backend("cuda")
        return "cuda", "auto: a GPU is usable"
    except BackendError as e:
        return "numpy", f"auto: no usable GPU ({e})"


def peak_memory_mib():
    """The process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2 ** 20 if sys.platform == "darwin" else 1024)


def batch_cost(net, batch, mini):
    """The cost per image of the bench's batch, test mode: the steps train on that one batch, so after
    them it is finite and lower than before (NaN, null in JSON, where the net has no cost layer)."""
    costs = net.forward(batch, train=False)
    return sum(float(value[0]) for value in costs.values()) / mini if costs else float("nan")


def gpu_memory_mib(backend):
    """The GPU memory the net held at its peak (CuPy's pool, every GPU it uses), or None off the GPU."""
    return backend.memory_held() / 2 ** 20 if backend.name == "cuda" else None


def run(layers_file, params_file, input_size=224, mini=128, backend="numpy", gpus=None, warmup=3, repeat=10,
        tf32=False, profile=True):
    # the progress line moves between timed stretches, never inside one
    passes = warmup + 2 * repeat + (max(3, repeat // 2) if profile else 0)
    with Progress("timing training steps", passes * mini) as bar:
        return _run(layers_file, params_file, input_size, mini, backend, gpus, warmup, repeat, tf32, profile,
                    bar.advance)


def _run(layers_file, params_file, input_size, mini, backend, gpus, warmup, repeat, tf32, profile, advance):
    backend, why = choose_backend(backend)
    graph = load_graph(layers_file, params_file, [(3, input_size, input_size), (1,)])
    net = Net(graph, backend=backend, gpus=gpus, seed=0)
    net.backend.tf32 = tf32
    solver = Solver(net)
    batch = random_batch(graph, mini, np.random.default_rng(0))
    clock = Clock(net.backend)

    def step(i):
        net.forward(batch, train=True, step=i, read_costs=False)
        net.backward(release=True)          # as the trainer does
        clock.sync()
        before_update = clock.mark()
        solver.update(mini, 0.0)
        return before_update

    initial_cost = batch_cost(net, batch, mini)
    for i in range(warmup):
        step(i)
        advance(mini)
    clock.sync()
    steps, updates = [], []
    for i in range(repeat):
        start = clock.mark()
        before_update = step(warmup + i)
        clock.sync()
        end = clock.mark()
        steps.append(clock.between(start, end))
        updates.append(clock.between(before_update, end))
        advance(mini)
    back_to_back = steps_back_to_back(net, solver, batch, mini, clock, warmup + repeat, repeat)
    advance(repeat * mini)
    final_cost = batch_cost(net, batch, mini)
    per_layer = time_layers(net, batch, clock, repeat=max(3, repeat // 2), after_pass=lambda: advance(mini)) \
        if profile else {}
    loader = augmentation_ms(graph, mini) if profile else None
    median = statistics.median(steps)
    flops = 2 * training_macs(net) * mini
    peak, peak_kind = peak_flops(net.backend)
    return {
        "device": device_name(net.backend), "backend": backend, "backend_choice": why, "layers": str(layers_file),
        "mini": mini, "threads": _threads(net.backend), "blas": _blas(net.backend),
        "compiled": _compiled(net.backend),
        "update_ms": statistics.median(updates), "peak_memory_mib": peak_memory_mib(),
        "gpu_memory_mib": gpu_memory_mib(net.backend), "loader_ms": loader,
        "initial_cost": initial_cost, "final_cost": final_cost,
        "input_size": input_size, "tf32": tf32, "step_ms": median, "steps_ms": steps,
        "images_per_s": mini / (median / 1000), "tflops": flops / (median / 1000) / 1e12,
        "back_to_back_step_ms": back_to_back, "back_to_back_images_per_s": mini / (back_to_back / 1000),
        "peak_tflops": peak / 1e12, "peak_kind": peak_kind, "share_of_peak": flops / (median / 1000) / peak,
        "per_layer": per_layer,
    }


def steps_back_to_back(net, solver, batch, mini, clock, first, repeat):
    """Milliseconds a step, host clock, over `repeat` steps issued as the trainer issues them: without
    waiting for the GPU between steps, so that the host prepares step i + 1 (its batch into pinned
    memory, its launches) while the GPU computes step i. Training's throughput; the timed steps above
    wait for the GPU after each, so they add the host's part to the GPU's."""
    clock.sync()
    start = time.perf_counter()
    for i in range(repeat):
        net.forward(batch, train=True, step=first + i, read_costs=False)
        net.backward(release=True)
        solver.update(mini, 0.0)
    clock.sync()
    return (time.perf_counter() - start) * 1000 / repeat


def augmentation_ms(graph, mini, repeat=3):
    """Milliseconds for the paper's augmentation of one minibatch of S x S crops (None if the net does
    not read 3-channel square images)."""
    from .data.augment import Augmentation
    shape = graph.data_layers[0].output_shape
    if len(shape) != 3 or shape[0] != 3 or shape[1] != shape[2]:
        return None
    S = shape[1]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (mini, 3, S + 32, S + 32), dtype=np.uint8)
    vectors = np.linalg.qr(rng.standard_normal((3, 3)))[0].astype(np.float32)
    aug = Augmentation(images.mean(axis=0), crop=S, color_noise=0.1, pca=(np.ones(3, np.float32), vectors),
                       images_first=True)
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        aug.train(images, rng)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:])


def _blas(backend):
    if backend.name == "cuda":
        return [{"library": "cuBLAS", "config": "cuBLAS through CuPy", "kernels": "chosen per call", "threads": None}]
    from .blas_info import blas_report
    return blas_report()


def _compiled(backend):
    """The numpy backend's compiled kernels (native.py), or why none; None on the other backends."""
    if backend.name != "numpy":
        return None
    from .native import describe
    return describe()


def _threads(backend):
    from .cpu_parallel import cores
    return None if backend.name == "cuda" else cores()


def training_macs(net):
    """Multiply-adds per image of a training step: each layer's forward, its weight gradient when it
    has weights, its input gradient when an input needs one (not conv1's: nothing below it learns)."""
    needs = net._needs_grad(False)
    total = 0
    for layer in net.layers:
        if layer.is_data:
            continue
        macs = layer.macs()
        total += macs + (macs if layer.params else 0) + (macs if any(needs[i] for i in layer.inputs) else 0)
    return total


def time_layers(net, batch, clock, repeat, after_pass=None):
    """{layer: {"forward_ms", "backward_ms"}}: each layer timed alone, its median over `repeat` passes.
    after_pass() after each pass."""
    times = {layer.name: {"forward_ms": [], "backward_ms": []} for layer in net.layers if not layer.is_data}
    originals = {}
    for layer in net.layers:
        if layer.is_data:
            continue
        originals[layer.name] = (layer.forward, layer.backward)

        def timed(fn, name, key):
            def wrapper(*args):
                clock.sync()
                start = clock.mark()
                out = fn(*args)
                clock.sync()
                times[name][key].append(clock.between(start, clock.mark()))
                return out
            return wrapper
        layer.forward = timed(layer.forward, layer.name, "forward_ms")
        layer.backward = timed(layer.backward, layer.name, "backward_ms")
    try:
        for i in range(repeat):
            net.forward(batch, train=True, step=i)
            net.backward(release=True)
            if after_pass:
                after_pass()
    finally:
        for layer in net.layers:
            if layer.name in originals:
                layer.forward, layer.backward = originals[layer.name]
    return {name: {k: (statistics.median(v) if v else 0.0) for k, v in t.items()} for name, t in times.items()}


def peak_flops(backend):
    if backend.name == "cuda":
        cupy = backend.cupy
        attrs = cupy.cuda.Device(backend.current_device()).attributes
        capability = cupy.cuda.Device(backend.current_device()).compute_capability     # e.g. "90"
        lanes = fp32_lanes(capability)
        clock_khz = attrs.get("ClockRate") or _nvidia_smi_max_clock_khz()
        if not clock_khz:
            return float("nan"), "GPU FP32 peak unknown (no clock rate)"
        return attrs["MultiProcessorCount"] * lanes * clock_khz * 1e3 * 2, "GPU FP32 peak (SMs x lanes x clock x 2)"
    from .cpu_parallel import workers
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    matmul = workers().matmul            # every core, as the layers use them
    matmul(a, a)
    start = time.perf_counter()
    for _ in range(3):
        matmul(a, a)
    return 3 * 2 * 2048 ** 3 / (time.perf_counter() - start), "measured CPU float32 GEMM (2048^3), every core"


def _nvidia_smi_max_clock_khz():
    """The SM clock from nvidia-smi, where the CUDA runtime no longer reports it (CUDA 13)."""
    import subprocess
    try:
        run = subprocess.run(["nvidia-smi", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=20)
        return float(run.stdout.split()[0]) * 1000 if run.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def fp32_lanes(capability):
    """FP32 lanes per SM by compute capability ("80", "86", "90"...): 64 on sm_70/75 and sm_80 (V100,
    T4, A100), 128 on sm_86/87/89 (RTX 30x0, Orin, RTX 40x0, L4, L40) and sm_90 (H100, H200) and later."""
    major, minor = int(capability[:-1]), int(capability[-1])
    return 64 if major < 8 or (major, minor) == (8, 0) else 128


def device_name(backend):
    if backend.name == "cuda":
        props = backend.cupy.cuda.runtime.getDeviceProperties(backend.current_device())
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else name
    import os
    import platform
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def report(result):
    from .blas_info import summary
    why = f" ({result['backend_choice']})" if result.get("backend_choice") else ""
    lines = [f"{result['device']}, backend {result['backend']}{why}, batch {result['mini']}, "
             f"{result['input_size']}x{result['input_size']} input, {'TF32' if result['tf32'] else 'FP32'}",
             f"BLAS: {summary(result['blas'])}",
             *([f"compiled kernels: {result['compiled']}"] if result.get("compiled") else []),
             f"training step {result['step_ms']:.1f} ms (median of {len(result['steps_ms'])}), "
             f"{result['images_per_s']:.0f} images/s, {result['tflops']:.2f} TFLOP/s = "
             f"{100 * result['share_of_peak']:.1f}% of {result['peak_tflops']:.2f} TFLOP/s ({result['peak_kind']})",
             f"steps back to back (as the trainer runs them, no wait for the device between them): "
             f"{result['back_to_back_step_ms']:.1f} ms a step, {result['back_to_back_images_per_s']:.0f} images/s",
             f"cost of the batch (test mode) {result['initial_cost']:.4f} before the steps, "
             f"{result['final_cost']:.4f} after",
             f"peak memory {result['peak_memory_mib']:.0f} MiB (resident, the whole process)"
             + (f"; GPU memory {result['gpu_memory_mib']:.0f} MiB (CuPy's pool at its peak)"
                if result.get("gpu_memory_mib") is not None else "")]
    if result["per_layer"]:
        lines.append(f"{'layer':<18} {'forward ms':>11} {'backward ms':>12} {'share':>6}")
        step = result["step_ms"]
        for name, t in result["per_layer"].items():
            share = (t["forward_ms"] + t["backward_ms"]) / step
            lines.append(f"{name:<18} {t['forward_ms']:>11.2f} {t['backward_ms']:>12.2f} {100 * share:>5.1f}%")
        layers = sum(t["forward_ms"] + t["backward_ms"] for t in result["per_layer"].values())
        lines.append(f"{'update':<18} {result['update_ms']:>24.2f} {100 * result['update_ms'] / step:>5.1f}%")
        rest = step - layers - result["update_ms"]
        lines.append(f"{'the rest of a step':<18} {rest:>24.2f} {100 * rest / step:>5.1f}%  "
                     f"(step - layers - update; layers timed alone, so it can be negative)")
    if result.get("loader_ms") is not None:
        lines.append(f"loader: {result['loader_ms']:.1f} ms a minibatch for crops from "
                     f"{result['input_size'] + 32}x{result['input_size'] + 32}, reflections and colour noise (one "
                     f"thread, timed alone), {100 * result['loader_ms'] / result['step_ms']:.1f}% of a step; "
                     f"the trainer's loader threads do it beside the steps")
    return "\n".join(lines)
