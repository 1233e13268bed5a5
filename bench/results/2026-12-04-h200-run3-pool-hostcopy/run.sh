# side by side: .old (main before the changes, d32de4e) and the working tree, on one GPU, alternating
set -u; export PYTHONUNBUFFERED=1 CONVNET_REQUIRE_GPU=1
NEW=$PWD; OLD=$PWD/.old
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader; nproc
(timeout 150 python3 -m pytest -p no:cacheprovider -m gpu -q -n 8 tests 2>&1 | tail -4) || echo "gpu tests rc=$?"
A="--layers configs/alexnet.cfg --params configs/alexnet-params.cfg --backend cuda --gpu 0 --mini 128"
for flag in "" --tf32; do s=${flag:+-tf32}
  for t in old new; do d=$OLD; [ $t = new ] && d=$NEW
    (cd $d && PYTHONPATH=$d timeout 90 python3 -m convnet bench $A $flag --json > $OUT/bench-$t$s.json) || echo "bench $t $flag failed"
  done
  PYTHONPATH=$NEW timeout 90 python3 bench/pytorch_alexnet.py --mini 128 $flag --json > $OUT/pytorch$s.json || echo "pytorch $flag failed"
done
PYTHONPATH=$NEW timeout 60 python3 bench/kernel_bandwidth.py --json > $OUT/kernels-new.json || echo "kernels failed"
PYTHONPATH=$NEW timeout 90 python3 bench/step_host.py --gpu 0 > $OUT/step-host.txt 2>&1 || echo "step_host failed"
head -12 $OUT/step-host.txt
python3 - <<'PY'
import json, os
o = os.environ["OUT"]
for f in ("", "-tf32"):
    a, b, p = (json.load(open(f"{o}/{n}{f}.json")) for n in ("bench-old", "bench-new", "pytorch"))
    g = lambda r: r.get("back_to_back_step_ms") or float("nan")
    print(f"{f or 'fp32'}: step old {a['step_ms']:.2f} new {b['step_ms']:.2f} pytorch {p['step_ms']:.2f}; "
          f"back to back new {g(b):.2f} pytorch {g(p):.2f}; memory new {b['gpu_memory_mib']:.0f} pytorch {p['gpu_memory_mib']:.0f}")
    for name in a["per_layer"]:
        x, y = a["per_layer"][name], b["per_layer"][name]
        if abs(x["forward_ms"] - y["forward_ms"]) + abs(x["backward_ms"] - y["backward_ms"]) > 0.03:
            print(f"  {name}: fwd {x['forward_ms']:.2f} -> {y['forward_ms']:.2f}, bwd {x['backward_ms']:.2f} -> {y['backward_ms']:.2f}")
k = json.load(open(f"{o}/kernels-new.json"))
print("copy", round(k["copy_gb_per_s"]), "; ".join(f"{r['kernel']} {r['ms']:.3f} ms {100*r['share_of_copy']:.0f}%" for r in k["kernels"]))
PY
