#!/usr/bin/env bash
# On a lent GPU machine (CuPy, PyTorch, h5py, click, pillow, pytest; nothing can be installed), from the
# repository root:   bash bench/gpu.sh [stage...]      stages: tests probe train sanitize bench (default: all)
#
# Runs from the checkout itself (PYTHONPATH, no install). Stops at once, with one line, when the cuda
# backend does not load: it never reports success with the GPU tests skipped. Each stage stays under
# the device's 10 minutes per command; results go to $OUT (default bench/results/gpu-<date>).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" CONVNET_REQUIRE_GPU=1
OUT=${OUT:-bench/results/gpu-$(date +%F)}
mkdir -p "$OUT"
T="timeout 540"
stages=${*:-tests probe train sanitize bench}
failed=0

problem=$(python3 - 2>&1 <<'PY'
import sys
try:
    from convnet.backends import get_backend
    get_backend("cuda")
except Exception as e:
    print(f"{type(e).__name__}: {e}".splitlines()[0])
PY
)
if [ -n "$problem" ]; then
    echo "gpu.sh: the cuda backend does not load, nothing was run: $problem"
    exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > "$OUT/device.txt" 2>&1
echo "device: $(cat "$OUT/device.txt")"

for stage in $stages; do case $stage in
tests)
    # The GPU tests file by file (a failure in one does not hide the others), with what was skipped.
    for f in $(grep -l "GPU_BACKENDS\|mark.gpu" tests/*/test_*.py tests/test_*.py); do
        log="$OUT/tests-$(basename "$f" .py).log"
        $T python3 -m pytest -p no:cacheprovider -m gpu -q -rs "$f" > "$log" 2>&1
        rc=$?
        summary=$(tail -1 "$log")
        echo "$f: $summary"
        grep "^SKIPPED" "$log" | head -5
        if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then failed=1; fi          # 5: no gpu test in the file
    done
    # The two logical devices bit for bit, with a sync after every launch (names a faulting kernel)
    CONVNET_SYNC=1 $T python3 -m pytest -p no:cacheprovider -m gpu -q tests/convnet/test_gpu_net.py -k two_logical \
        > "$OUT/tests-sync.log" 2>&1 || failed=1
    echo "two logical devices with CONVNET_SYNC=1: $(tail -1 "$OUT/tests-sync.log")"
    # Whole nets on cuda against the same graph in PyTorch (float64): outputs, gradients (FP32 cuBLAS).
    for net in configs/layers.cfg:configs/params.cfg:32 \
               tests/reference/alexnet-2012/imagenet/layers-145.cfg:tests/reference/alexnet-2012/imagenet/layer-params-145.cfg:224; do
        IFS=: read -r layers params size <<< "$net"
        log="$OUT/parity-$(basename "$layers" .cfg).txt"
        $T python3 bench/pytorch_parity.py --backend cuda --layers "$layers" --params "$params" --input-size "$size" \
            --max 1e-5 > "$log" 2>&1 || failed=1
        echo "$(head -1 "$log" | cut -c1-150); $(tail -1 "$log")"
    done
    ;;
probe)
    $T python3 bench/gpu_probe.py --json > "$OUT/probe.json" 2> "$OUT/probe.err" || failed=1
    sed -n '/^[0-9]/p' "$OUT/probe.json"
    ;;
train)
    # The quick-start net, one epoch, the same seed on cuda and on numpy: the test costs side by side.
    for backend in cuda numpy; do
        $T python3 -m convnet train --layers configs/layers.cfg --params configs/params.cfg --flip --epochs 1 \
            --test-freq 20 --backend "$backend" --save-path "$OUT/train-$backend" > "$OUT/train-$backend.log" 2>&1 \
            || { failed=1; tail -2 "$OUT/train-$backend.log"; }
    done
    python3 bench/compare_runs.py "$OUT/train-cuda/latest.h5" "$OUT/train-numpy/latest.h5" | tee "$OUT/train-compare.txt" \
        || failed=1
    # The paper's net on one GPU (two logical devices), a few hundred steps, with its peak memory.
    $T python3 -m convnet train --layers configs/alexnet.cfg --params configs/alexnet-params.cfg --image-size 256 \
        --crop 224 --gpu 0 --backend cuda --epochs 1 --train-range 1-3 --test-range 6 \
        --save-path "$OUT/train-alexnet" > "$OUT/train-alexnet.log" 2>&1 || failed=1
    tail -3 "$OUT/train-alexnet.log"
    ;;
sanitize)
    if command -v compute-sanitizer > /dev/null; then
        for tool in memcheck racecheck; do
            $T compute-sanitizer --tool $tool --error-exitcode 9 python3 -m pytest -p no:cacheprovider -m gpu -q -x \
                tests/layers/test_gpu_parity.py -k "conv or pool or cmrnorm or softmax" > "$OUT/sanitize-$tool.log" 2>&1 \
                || failed=1
            echo "compute-sanitizer $tool: $(grep -E "ERROR SUMMARY|passed|failed" "$OUT/sanitize-$tool.log" | tail -2 | tr '\n' ' ')"
        done
        # The kernels with shared memory, barriers, warp operations and atomics that the emulator's tests
        # run on the GPU too: races in shared memory, and barriers or warp masks used wrongly.
        for tool in racecheck synccheck; do
            $T compute-sanitizer --tool $tool --error-exitcode 9 python3 -m pytest -p no:cacheprovider -m gpu -q \
                tests/convnet/test_emulated_blocks.py tests/convnet/test_emulated_atomics.py \
                -k "tree or transpose or warp or sized_at_launch or static_shared or atomics" > "$OUT/sanitize-blocks-$tool.log" 2>&1 \
                || failed=1
            echo "compute-sanitizer $tool, block kernels: $(grep -E "ERROR SUMMARY|passed|failed" "$OUT/sanitize-blocks-$tool.log" | tail -2 | tr '\n' ' ')"
        done
    else
        echo "compute-sanitizer: not on this machine"
    fi
    ;;
bench)
    for precision in fp32 tf32; do
        flag=$([ $precision = tf32 ] && echo --tf32)
        $T python3 -m convnet bench --layers configs/alexnet.cfg --params configs/alexnet-params.cfg --backend cuda --gpu 0 --mini 128 \
            $flag --json > "$OUT/bench-convnet-$precision.json" 2> "$OUT/bench-convnet-$precision.err" || failed=1
        $T python3 bench/pytorch_alexnet.py --mini 128 $flag --json > "$OUT/bench-pytorch-$precision.json" \
            2> "$OUT/bench-pytorch-$precision.err" || failed=1
    done
    $T python3 bench/kernel_bandwidth.py --json > "$OUT/bench-kernels.json" 2> "$OUT/bench-kernels.err" || failed=1
    python3 bench/gpu_summary.py "$OUT" | tee "$OUT/summary.md"
    ;;
*)
    echo "gpu.sh: unknown stage $stage (tests probe train sanitize bench)"; exit 2 ;;
esac; done

[ $failed -eq 0 ] && echo "gpu.sh: every stage passed ($stages)" || echo "gpu.sh: FAILED (logs in $OUT)"
exit $failed
