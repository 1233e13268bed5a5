#!/usr/bin/env bash
# On a lent GPU machine (CuPy, PyTorch, h5py, click, pillow, pytest; nothing can be installed), from the
# repository root, with nothing to install:
#     bash bench/gpu.sh [--budget SECONDS] [STEP or GROUP ...]       (default: every step, 420 s)
# bench/gpu_run.py runs the steps of bench/gpu_steps.py, most important first, within the budget, and
# leaves summary.md, status.json and logs.tar.gz in $OUT; `python3 bench/gpu_run.py --plan` lists them.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec python3 bench/gpu_run.py "$@"
