# side by side: .old (main before the change) and the working tree, on one GPU, alternating
set -u; export PYTHONUNBUFFERED=1 CONVNET_REQUIRE_GPU=1
NEW=$PWD; OLD=$PWD/.old
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
(timeout 150 python3 -m pytest -p no:cacheprovider -m gpu -q -n 8 tests 2>&1 | tail -4) || echo "gpu tests rc=$?"
A="--layers configs/alexnet.cfg --params configs/alexnet-params.cfg --backend cuda --gpu 0 --mini 128"
for flag in "" --tf32; do for t in old new; do
  d=$OLD; [ $t = new ] && d=$NEW
  (cd $d && PYTHONPATH=$d timeout 90 python3 -m convnet bench $A $flag --json > $OUT/bench-$t${flag:+-tf32}.json) || echo "bench $t $flag failed"
done; done
for t in old new; do d=$OLD; [ $t = new ] && d=$NEW
  (cd $d && PYTHONPATH=$d timeout 60 python3 bench/kernel_bandwidth.py --json > $OUT/kernels-$t.json) || echo "kernels $t failed"
done
PYTHONPATH=$NEW timeout 90 python3 bench/step_host.py --gpu 0 > $OUT/step-host.txt 2>&1 || echo "step_host failed"
head -40 $OUT/step-host.txt
python3 - <<'PY'
import json, os
o = os.environ["OUT"]
for f in ("", "-tf32"):
    a, b = (json.load(open(f"{o}/bench-{t}{f}.json")) for t in ("old", "new"))
    print(f"step{f or ' fp32'}: old {a['step_ms']:.2f} ms, new {b['step_ms']:.2f} ms")
    for name in a["per_layer"]:
        x, y = a["per_layer"][name], b["per_layer"][name]
        if abs(x["forward_ms"] - y["forward_ms"]) + abs(x["backward_ms"] - y["backward_ms"]) > 0.05:
            print(f"  {name}: fwd {x['forward_ms']:.2f} -> {y['forward_ms']:.2f}, bwd {x['backward_ms']:.2f} -> {y['backward_ms']:.2f}")
for t in ("old", "new"):
    k = json.load(open(f"{o}/kernels-{t}.json"))
    print(t, "copy", round(k["copy_gb_per_s"]), "; ".join(f"{r['kernel']} {r['ms']:.3f} ms {100*r['share_of_copy']:.0f}%" for r in k["kernels"]))
PY
