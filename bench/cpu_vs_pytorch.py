"""convnet's numpy backend against PyTorch on the CPU, the same nets side by side, run pair by pair.

    python bench/cpu_vs_pytorch.py [--torch-python /path/to/python] [--pairs 3] [--threads 1,2]
                                   [--nets quickstart,18pct,alexnet:64,alexnet:128] [--out bench/results/NAME]

Each measurement is a fresh process (`convnet bench --backend numpy --no-profile --json` or
bench/pytorch_alexnet.py --json, the same warm-up and timed steps), pinned to the first T cores and
told to use T threads (CONVNET_THREADS and OPENBLAS_NUM_THREADS for convnet, torch.set_num_threads
for PyTorch). The two alternate pair by pair, the first of a pair swapping every pair, so that a
machine that slows down or speeds up during the run weighs on both alike. Reported per net and
thread count: images per second (the median over pairs of each run's median step, and the lowest
and highest), the ratio convnet / PyTorch of every pair (median and range), and each process's peak
resident memory. Writes NAME.md and NAME.json; PyTorch runs from --torch-python (a separate
environment: PyTorch is not a dependency of convnet).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference", "alexnet-2012", "cifar")
NETS = {   # name: (layers, params, input size, the default batch)
    "quickstart": ("configs/layers.cfg", "configs/params.cfg", 32),
    "18pct": (os.path.join(REFERENCE, "layers-18pct.cfg"), os.path.join(REFERENCE, "layer-params-18pct.cfg"), 32),
    "alexnet": ("configs/alexnet.cfg", "configs/alexnet-params.cfg", 224),
}
STEPS = {"quickstart": (3, 20), "18pct": (3, 20), "alexnet": (1, 3)}      # warm-up, timed


def pinned(threads):
    cores = sorted(os.sched_getaffinity(0))[:threads]
    return lambda: os.sched_setaffinity(0, cores)


def run_convnet(net, mini, threads):
    layers, params, size = NETS[net]
    warmup, repeat = STEPS[net]
    env = dict(os.environ, CONVNET_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "convnet", "bench", "--layers", layers, "--params", params, "--input-size", str(size),
           "--mini", str(mini), "--backend", "numpy", "--warmup", str(warmup), "--repeat", str(repeat), "--no-profile",
           "--json"]
    return _json(subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, preexec_fn=pinned(threads)))


def run_pytorch(python, net, mini, threads):
    warmup, repeat = STEPS[net]
    cmd = [python, "bench/pytorch_alexnet.py", "--net", net, "--device", "cpu", "--mini", str(mini), "--threads",
           str(threads), "--warmup", str(warmup), "--repeat", str(repeat), "--no-profile", "--json"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    return _json(subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, preexec_fn=pinned(threads)))


def _json(done):
    if done.returncode != 0:
        sys.exit(f"{' '.join(done.args[:4])}... failed: {(done.stderr.strip().splitlines() or [''])[-1]}")
    return json.loads(done.stdout)


def compare(python, net, mini, threads, pairs, echo):
    ours, theirs = [], []
    for k in range(pairs):
        order = ("convnet", "pytorch") if k % 2 == 0 else ("pytorch", "convnet")
        for who in order:
            if who == "convnet":
                ours.append(run_convnet(net, mini, threads))
            else:
                theirs.append(run_pytorch(python, net, mini, threads))
        echo(f"  {net} batch {mini}, {threads} thread(s), pair {k + 1}: convnet {ours[-1]['images_per_s']:.1f}, "
             f"PyTorch {theirs[-1]['images_per_s']:.1f} images/s")
    ratios = [a["images_per_s"] / b["images_per_s"] for a, b in zip(ours, theirs)]
    rates = lambda runs: [r["images_per_s"] for r in runs]
    memory = lambda runs: max(r["peak_memory_mib"] for r in runs)
    return {"net": net, "mini": mini, "threads": threads, "pairs": pairs,
            "convnet_images_per_s": rates(ours), "pytorch_images_per_s": rates(theirs), "ratios": ratios,
            "convnet_peak_mib": memory(ours), "pytorch_peak_mib": memory(theirs),
            "blas": ours[0].get("blas"), "pytorch": theirs[0].get("framework")}


def table(rows):
    lines = ["| net | batch | threads | convnet images/s | PyTorch images/s | ratio (median, range) | "
             "peak memory convnet / PyTorch (MiB) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        spread = lambda v: f"{statistics.median(v):,.1f} ({min(v):,.1f}-{max(v):,.1f})"
        lines.append(f"| {r['net']} | {r['mini']} | {r['threads']} | {spread(r['convnet_images_per_s'])} | "
                     f"{spread(r['pytorch_images_per_s'])} | {statistics.median(r['ratios']):.2f} "
                     f"({min(r['ratios']):.2f}-{max(r['ratios']):.2f}) | "
                     f"{r['convnet_peak_mib']:,.0f} / {r['pytorch_peak_mib']:,.0f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--torch-python", default=sys.executable, help="a Python that has PyTorch")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--nets", default="quickstart:128,18pct:128,alexnet:64,alexnet:128")
    parser.add_argument("--out", help="write OUT.md and OUT.json")
    args = parser.parse_args()
    nets = [(n.split(":")[0], int(n.split(":")[1]) if ":" in n else 128) for n in args.nets.split(",")]
    for net, _ in nets:
        if net not in NETS:
            sys.exit(f"--nets: unknown net {net!r}; choose from {', '.join(NETS)}")
    threads = [int(t) for t in args.threads.split(",")]
    if max(threads) > len(os.sched_getaffinity(0)):
        sys.exit(f"--threads: this process may use {len(os.sched_getaffinity(0))} cores")
    rows = []
    for net, mini in nets:
        for t in threads:
            rows.append(compare(args.torch_python, net, mini, t, args.pairs, lambda s: print(s, flush=True)))
    blas = rows[0]["blas"][0] if rows and rows[0]["blas"] else {}
    head = (f"CPU {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores; "
            f"{datetime.date.today().isoformat()}; convnet's BLAS: {blas.get('config', '?')}, kernels "
            f"{blas.get('kernels', '?')}; {rows[0]['pytorch'] if rows else ''}")
    text = f"{head}\n\n{table(rows)}\n"
    print(text)
    if args.out:
        with open(args.out + ".md", "w") as f:
            f.write(text)
        with open(args.out + ".json", "w") as f:
            json.dump({"machine": head, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
