"""A lent GPU's checks and figures in one command that fits the device's time (bench/gpu.sh calls it).

A lent GPU has 15 minutes in all, its start (a minute or two) and every idle wait included, and one
command may run 10. So this runs the steps of bench/gpu_steps.py in their order of need, each stopped
at its own cap, all of them within one budget (--budget, seconds): the command ends by itself, with
its results, and leaves time to run again what failed. A step that cannot start with 20 seconds
left is not started, and the summary says so and how to run the rest.

What comes back from the device is at most 8 files, so everything goes to a work folder and then
into three files in --out ($OUT on the device): summary.md (every step with its verdict, seconds and
last line, the end of each failed log, the bench tables), status.json, logs.tar.gz (every log and
result but checkpoints and files over 2 MiB). The summary is printed last: the device's reply carries
the end of the output.

    bash bench/gpu.sh [--budget 420] [STEP or GROUP ...]      (default: every step)
    python3 bench/gpu_run.py --plan                          the steps and their caps; nothing runs
"""
import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]
from gpu_steps import Step, steps as all_steps   # noqa: E402,F401
import gpu_summary                          # noqa: E402

LEAST_TO_START = 20          # seconds: a step is not started with less of the budget left
FAILED_LOG_LINES = 15
LARGEST_KEPT = 2 << 20       # bytes: a larger result file stays out of logs.tar.gz


def run_step(step, work, seconds):
    """(verdict, rc, seconds taken): the step's command under bash in a process group of its own, so
    that a timeout stops everything it started (pytest's workers, compute-sanitizer's target)."""
    start = time.monotonic()
    with open(work / f"{step.name}.log", "wb") as log:
        process = subprocess.Popen(["bash", "-c", step.command.format(work=work)], cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=dict(os.environ, **step.env))
        try:
            rc = process.wait(timeout=seconds)
            verdict = "passed" if rc == 0 else f"FAILED (exit {rc})"
        except subprocess.TimeoutExpired:
            _stop(process)
            rc, verdict = None, f"TIMED OUT at {seconds:.0f} s"
    return verdict, rc, time.monotonic() - start


def _stop(process):
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


def run_steps(steps, work, budget, least=LEAST_TO_START):
    """[{name, group, verdict, rc, seconds, last}] for every step, in order, within `budget` seconds;
    none is started with less than `least` left."""
    deadline = time.monotonic() + budget
    results = []
    for step in steps:
        left = deadline - time.monotonic()
        if left < least:
            results.append(dict(name=step.name, group=step.group, verdict="not run (out of time)", rc=None,
                                seconds=0.0, last=""))
            continue
        verdict, rc, seconds = run_step(step, work, min(step.cap, left))
        results.append(dict(name=step.name, group=step.group, verdict=verdict, rc=rc, seconds=round(seconds, 1),
                            last=_last_line(work / f"{step.name}.log")))
        print(f"{step.name}: {verdict} in {seconds:.0f} s", flush=True)
    return results


def _tail(path, n):
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.strip()][-n:]


def _last_line(path):
    last = _tail(path, 1)
    return last[0][:160] if last else ""


def summary(results, work, header):
    lines = header + ["", "| step | verdict | s | last line |", "|---|---|---:|---|"]
    lines += [f"| {r['name']} | {r['verdict']} | {r['seconds']:.0f} | {r['last'].replace('|', '/')} |"
              for r in results]
    rest = [r["name"] for r in results if r["verdict"].startswith("not run")]
    if rest:
        lines += ["", "Not run for lack of time: `bash bench/gpu.sh " + " ".join(rest) + "`"]
    for r in results:
        if r["verdict"] != "passed" and not r["verdict"].startswith("not run"):
            lines += ["", f"### {r['name']}: {r['verdict']}", "```"] + _tail(work / f"{r['name']}.log",
                                                                             FAILED_LOG_LINES) + ["```"]
    tables = gpu_summary.summary(work)
    if tables:
        lines += ["", tables]
    return "\n".join(lines) + "\n"


def pack(results, work, out, text):
    """summary.md, status.json and logs.tar.gz in `out`: three files, whatever the steps wrote. The
    checkpoints (the paper's net's, weights and momenta, is 465 MiB) and any other file over 2 MiB stay out of the
    archive, which the device would not send back over 16 MiB; status.json names them."""
    out.mkdir(parents=True, exist_ok=True)
    left_out = []

    def small(info):
        if info.isfile() and (info.name.endswith(".h5") or info.size > LARGEST_KEPT):
            left_out.append(f"{info.name} ({info.size} bytes)")
            return None
        return info
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        tar.add(work, arcname="gpu-run", filter=small)
    (out / "summary.md").write_text(text)
    (out / "status.json").write_text(json.dumps({"steps": results, "left_out": left_out}, indent=1))


def select(steps, names):
    """The steps named, by step or by group, in their own order; an unknown name is an error."""
    known = {s.name for s in steps} | {s.group for s in steps}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown step or group {', '.join(unknown)} (steps: {', '.join(s.name for s in steps)})")
    return [s for s in steps if not names or s.name in names or s.group in names]


CUDA_CHECK = """
try:
    from convnet.backends import get_backend
    get_backend("cuda")
except Exception as e:
    print(f"{type(e).__name__}: {e}".splitlines()[0])
"""


def cuda_problem():
    """None when the cuda backend loads, else its one-line reason. Asked in a process of its own, so
    that this one holds no CUDA context (and no GPU memory) while the steps run."""
    check = subprocess.run([sys.executable, "-c", CUDA_CHECK], cwd=ROOT, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
    lines = (check.stdout + check.stderr).strip().splitlines()
    if lines:
        return lines[-1]
    return f"the check exited with {check.returncode}" if check.returncode else None


def machine_header():
    query = "name,driver_version,memory.total,clocks.max.sm"
    try:
        smi = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        smi = f"nvidia-smi: {e}"
    versions = []
    for module in ("cupy", "torch", "numpy"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except Exception:
            versions.append(f"{module} -")
    return [f"# bench/gpu.sh, {time.strftime('%Y-%m-%d %H:%M')}", "", f"- device: {smi}",
            f"- python {sys.version.split()[0]}, " + ", ".join(versions)]


def parallel_option():
    """pytest-xdist's option for the GPU tests where it is installed: 8 processes share the GPU."""
    return "-n 8" if importlib.util.find_spec("xdist") else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="STEP", help="steps or groups to run (default: all)")
    parser.add_argument("--budget", type=float, default=420, help="seconds for all the steps together")
    parser.add_argument("--out", default=os.environ.get("OUT") or f"bench/results/gpu-{time.strftime('%F')}")
    parser.add_argument("--plan", action="store_true", help="list the steps and their caps; run nothing")
    args = parser.parse_args()
    try:
        chosen = select(all_steps(parallel_option()), args.names)
    except ValueError as e:
        print(f"gpu.sh: {e}", file=sys.stderr)
        return 2
    if args.plan:
        for s in chosen:
            print(f"{s.name:<24} {s.group:<10} {s.cap:>4} s  {s.command}")
        print(f"caps add up to {sum(s.cap for s in chosen)} s; budget {args.budget:.0f} s")
        return 0
    problem = cuda_problem()
    if problem:
        print(f"gpu.sh: the cuda backend does not load, nothing was run: {problem}")
        return 1
    os.environ["PYTHONPATH"] = f"{ROOT}{os.pathsep}{os.environ['PYTHONPATH']}" if os.environ.get("PYTHONPATH") \
        else str(ROOT)
    os.environ["CONVNET_REQUIRE_GPU"] = "1"
    header = machine_header()
    print("\n".join(header), flush=True)
    work = Path(tempfile.mkdtemp(prefix="convnet-gpu-"))
    results = run_steps(chosen, work, args.budget)
    text = summary(results, work, header)
    pack(results, work, Path(args.out), text)
    print(text)
    ok = all(r["verdict"] == "passed" for r in results)
    print(f"gpu.sh: {'every step passed' if ok else 'NOT every step passed'}; results in {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
