"""Two runs of the same command on different backends, test point by test point: the costs and errors
of both and their relative differences. Exit 1 when a test cost differs by more than --tol.

    python3 bench/compare_runs.py runs/cuda/latest.h5 runs/numpy/latest.h5 [--tol 1e-3]

Float32 sums in another order (cuBLAS against OpenBLAS) differ in the last bits, and training
amplifies the differences: the first test points agree closely, later ones drift apart.
"""
import argparse
import sys

import h5py
import numpy as np

FIELDS = ("train_cost", "test_cost", "test_top1")


def history(path):
    with h5py.File(path, "r") as f:
        return {k: np.asarray(f["history"][k]) for k in ("step",) + FIELDS}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tol", type=float, default=1e-3)
    args = parser.parse_args()
    a, b = history(args.a), history(args.b)
    if not np.array_equal(a["step"], b["step"]):
        print(f"the runs' test points differ: steps {a['step'].tolist()} and {b['step'].tolist()}")
        return 1
    print(f"{'step':>6} " + " ".join(f"{f + ' a':>14} {f + ' b':>14} {'rel diff':>9}" for f in FIELDS))
    worst = 0.0
    for i, step in enumerate(a["step"]):
        cells = []
        for f in FIELDS:
            x, y = a[f][i], b[f][i]
            rel = abs(x - y) / max(abs(x), abs(y), 1e-12)
            if f == "test_cost":
                worst = max(worst, rel)
            cells.append(f"{x:>14.6f} {y:>14.6f} {rel:>9.2e}")
        print(f"{int(step):>6} " + " ".join(cells))
    print(f"largest relative difference of the test cost: {worst:.2e} (tolerance {args.tol:g})")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
