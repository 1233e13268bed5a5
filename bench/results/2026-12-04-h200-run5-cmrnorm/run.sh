# cmrnorm.cu's *_runs kernels, side by side with HEAD before them (.base), on one GPU, alternating
set -u; export PYTHONUNBUFFERED=1 CONVNET_REQUIRE_GPU=1
NEW=$PWD; BASE=$PWD/.base; W=$OUT/w; mkdir -p $W
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
(timeout 100 python3 -m pytest -p no:cacheprovider -m gpu -q -n 8 tests/layers/test_gpu_parity.py tests/convnet/test_gpu_net.py 2>&1 | tail -3) || echo "gpu tests rc=$?"
timeout 60 compute-sanitizer --tool memcheck --error-exitcode 9 python3 -m pytest -p no:cacheprovider -m gpu -q tests/layers/test_gpu_parity.py -k cmrnorm 2>&1 | tail -2
for t in base new; do d=$BASE; [ $t = new ] && d=$NEW
  (cd $d && PYTHONPATH=$d timeout 60 python3 bench/kernel_bandwidth.py --json > $W/kernels-$t.json) || echo "kernels $t failed"
done
A="--layers configs/alexnet.cfg --params configs/alexnet-params.cfg --backend cuda --gpu 0 --mini 128"
for flag in "" --tf32; do s=${flag:+-tf32}
  for t in base new; do d=$BASE; [ $t = new ] && d=$NEW
    (cd $d && PYTHONPATH=$d timeout 90 python3 -m convnet bench $A $flag --json > $W/bench-$t$s.json) || echo "bench $t $flag failed"
  done
  PYTHONPATH=$NEW timeout 90 python3 bench/pytorch_alexnet.py --mini 128 $flag --json > $W/pytorch$s.json || echo "pytorch $flag failed"
done
PYTHONPATH=$NEW timeout 70 ncu --clock-control none -k 'regex:pool_backward|pool_forward|cmrnorm_forward_runs|cmrnorm_backward_runs|unfold_forward' --launch-count 15 --section SpeedOfLight --section Occupancy python3 bench/kernel_bandwidth.py --repeat 1 > $W/ncu.txt 2>&1 || echo "ncu rc=$?"
grep -E "^  [a-z_]+\(|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Duration" $W/ncu.txt | head -100
python3 - <<'PY'
import json, os
w = os.environ["OUT"] + "/w"
for t in ("base", "new"):
    k = json.load(open(f"{w}/kernels-{t}.json"))
    print(t, "copy", round(k["copy_gb_per_s"]), "; ".join(f"{r['kernel']} {r['ms']:.3f} ms {100*r['share_of_copy']:.0f}%" for r in k["kernels"] if "cmrnorm" in r["kernel"] or "pool" in r["kernel"]))
for f in ("", "-tf32"):
    a, b, p = (json.load(open(f"{w}/{n}{f}.json")) for n in ("bench-base", "bench-new", "pytorch"))
    print(f"{f or 'fp32'}: step base {a['step_ms']:.2f} new {b['step_ms']:.2f} pytorch {p['step_ms']:.2f}; back to back base {a['back_to_back_step_ms']:.2f} new {b['back_to_back_step_ms']:.2f} pytorch {p['back_to_back_step_ms']:.2f}")
    for name in a["per_layer"]:
        if "rnorm" in name:
            x, y = a["per_layer"][name], b["per_layer"][name]
            print(f"  {name}: fwd {x['forward_ms']:.3f} -> {y['forward_ms']:.3f}, bwd {x['backward_ms']:.3f} -> {y['backward_ms']:.3f}")
PY
tar czf $OUT/results.tar.gz -C $OUT w && rm -rf $W
