"""The markdown tables of bench/gpu.sh's figures: convnet against PyTorch+cuDNN on the paper's net
(FP32 and TF32) with the GPU memory of both, the per-layer forward and backward times of both, the
paper's net over a few hundred steps, and each memory-bound kernel against the copy bandwidth.

    python3 bench/gpu_summary.py <the folder of the results>
"""
import json
import os
import sys


def load(folder, name):
    try:
        with open(os.path.join(folder, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def memory(result):
    """The GPU memory a run held at its peak, in MiB: convnet's CuPy pool, PyTorch's caching allocator
    (both keep what they were given), or '-' where the run did not say."""
    mib = result.get("gpu_memory_mib")
    return "-" if mib is None else f"{mib:,.0f}"


def back_to_back(result, reference):
    """'ms | images/s | ratio' of the steps run back to back ('- | - | -' for results from before them)."""
    if result.get("back_to_back_step_ms") is None or reference.get("back_to_back_images_per_s") is None:
        return "- | - | -"
    return (f"{result['back_to_back_step_ms']:.1f} | {result['back_to_back_images_per_s']:.0f} | "
            f"{result['back_to_back_images_per_s'] / reference['back_to_back_images_per_s']:.2f}")


def number(value):
    return "-" if value is None else f"{value:.4f}"


def summary(folder):
    """The tables for what `folder` holds; empty when it holds no figures."""
    lines = []
    for precision in ("fp32", "tf32"):
        c, t = load(folder, f"bench-convnet-{precision}.json"), load(folder, f"bench-pytorch-{precision}.json")
        if not c and not t:
            continue
        if not c or not t:
            lines += [f"{precision}: only {'convnet' if c else 'PyTorch'}'s results", ""]
            continue
        lines += [f"## {precision.upper()}, the paper's net, batch {c['mini']}, {c['device']}", "",
                  "Step: timed alone, waiting for the GPU after it. Back to back: steps issued as a training "
                  "loop issues them, without waiting between them (training's throughput).", "",
                  "| | step ms | images/s | ratio | back to back ms | images/s | ratio | GPU memory MiB |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| convnet | {c['step_ms']:.1f} | {c['images_per_s']:.0f} | "
                  f"{c['images_per_s'] / t['images_per_s']:.2f} | {back_to_back(c, t)} | {memory(c)} |",
                  f"| {t['framework']} | {t['step_ms']:.1f} | {t['images_per_s']:.0f} | 1.00 | "
                  f"{back_to_back(t, t)} | {memory(t)} |", ""]
        for who, r in (("convnet", c), (t["framework"], t)):
            lines += [f"{who}, per layer (each timed alone):", "", "| layer | forward ms | backward ms |", "|---|---|---|"]
            lines += [f"| {n} | {v['forward_ms']:.2f} | {v['backward_ms']:.2f} |"
                      for n, v in sorted(r.get("per_layer", {}).items(),
                                         key=lambda kv: -(kv[1]["forward_ms"] + kv[1]["backward_ms"]))]
            lines.append("")
    steps = load(folder, "alexnet-300-steps.json")
    if steps:
        times = steps["steps_ms"]
        lines += [f"## The paper's net, {len(times)} steps of batch {steps['mini']} (FP32, --gpu 0)", "",
                  f"median {steps['step_ms']:.1f} ms ({steps['images_per_s']:.0f} images/s), "
                  f"first {times[0]:.1f} ms, last {times[-1]:.1f} ms, slowest {max(times):.1f} ms; "
                  f"GPU memory {memory(steps)} MiB; the cost of its batch {number(steps.get('initial_cost'))} "
                  f"before the steps, {number(steps.get('final_cost'))} after", ""]
    k = load(folder, "bench-kernels.json")
    if k:
        lines += [f"## Memory-bound kernels (copy: {k['copy_gb_per_s']:.0f} GB/s)", "",
                  "| kernel | ms | GB/s | of copy |", "|---|---|---|---|"]
        lines += [f"| {r['kernel']} | {r['ms']:.3f} | {r['gb_per_s']:.0f} | {100 * r['share_of_copy']:.0f}% |"
                  for r in k["kernels"]]
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    print(summary(sys.argv[1]))
