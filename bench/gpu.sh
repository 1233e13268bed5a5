#!/usr/bin/env bash
# On a lent GPU machine (its image has CuPy, PyTorch, h5py, click and pytest; nothing can be fetched):
# install convnet in place, run the GPU tests and the benchmarks, and write the figures to $OUT
# (or bench/results). From the repository root:  bash bench/gpu.sh
set -uo pipefail
out=${OUT:-bench/results}
stamp=$(date +%F)
mkdir -p "$out"
python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/$stamp-gpu-device.txt"
python3 -m pytest -m gpu -q -p no:cacheprovider tests > "$out/$stamp-gpu-tests.log" 2>&1; echo "gpu tests: exit $?"
tail -3 "$out/$stamp-gpu-tests.log"
python3 -m convnet bench --layers configs/alexnet.cfg --params configs/alexnet-params.cfg --gpu 0 --mini 128 \
    --json > "$out/$stamp-gpu-convnet-alexnet.json" && echo "convnet bench done"
python3 bench/pytorch_alexnet.py --mini 128 --json > "$out/$stamp-gpu-pytorch-alexnet.json" && echo "pytorch bench done"
PYTHONPATH=. python3 bench/kernel_bandwidth.py --json > "$out/$stamp-gpu-kernel-bandwidth.json" && echo "kernel bench done"
python3 - "$out" "$stamp" <<'PY'
import json, sys
out, stamp = sys.argv[1:]
c = json.load(open(f"{out}/{stamp}-gpu-convnet-alexnet.json"))
t = json.load(open(f"{out}/{stamp}-gpu-pytorch-alexnet.json"))
print(f"{c['device']}: convnet {c['images_per_s']:.0f} images/s ({c['step_ms']:.1f} ms), "
      f"{t['framework']} {t['images_per_s']:.0f} images/s ({t['step_ms']:.1f} ms)")
k = json.load(open(f"{out}/{stamp}-gpu-kernel-bandwidth.json"))
for r in k["kernels"]:
    print(f"{r['kernel']:<40} {100 * r['share_of_copy']:5.1f}% of copy")
PY
