"""The markdown summary of bench/gpu.sh's bench stage: convnet against PyTorch+cuDNN on the paper's
net (FP32 and TF32), the per-layer forward and backward times of both, and each memory-bound kernel
against the copy bandwidth.      python3 bench/gpu_summary.py <the stage's folder>
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


def main(folder):
    lines = []
    for precision in ("fp32", "tf32"):
        c, t = load(folder, f"bench-convnet-{precision}.json"), load(folder, f"bench-pytorch-{precision}.json")
        if not c or not t:
            lines.append(f"{precision}: missing results")
            continue
        lines += [f"## {precision.upper()}, the paper's net, batch {c['mini']}, {c['device']}", "",
                  "| | step ms | images/s | ratio |", "|---|---|---|---|",
                  f"| convnet | {c['step_ms']:.1f} | {c['images_per_s']:.0f} | "
                  f"{c['images_per_s'] / t['images_per_s']:.2f} |",
                  f"| {t['framework']} | {t['step_ms']:.1f} | {t['images_per_s']:.0f} | 1.00 |", ""]
        for who, r in (("convnet", c), (t["framework"], t)):
            lines += [f"{who}, per layer (each timed alone):", "", "| layer | forward ms | backward ms |", "|---|---|---|"]
            lines += [f"| {n} | {v['forward_ms']:.2f} | {v['backward_ms']:.2f} |"
                      for n, v in sorted(r.get("per_layer", {}).items(),
                                         key=lambda kv: -(kv[1]["forward_ms"] + kv[1]["backward_ms"]))]
            lines.append("")
        lines.append("")
    k = load(folder, "bench-kernels.json")
    if k:
        lines += [f"## Memory-bound kernels (copy: {k['copy_gb_per_s']:.0f} GB/s)", "",
                  "| kernel | ms | GB/s | of copy |", "|---|---|---|---|"]
        lines += [f"| {r['kernel']} | {r['ms']:.3f} | {r['gb_per_s']:.0f} | {100 * r['share_of_copy']:.0f}% |"
                  for r in k["kernels"]]
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
