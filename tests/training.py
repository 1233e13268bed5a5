"""Running the real `convnet` console script in tests."""
import json
import re
import subprocess
import sys

import h5py
import numpy as np

from tests.helpers import ROOT

TINY = ["--layers", str(ROOT / "tests/configs/tiny.cfg"), "--params", str(ROOT / "tests/configs/tiny-params.cfg")]
FAST = ["--train-range", "1", "--mini", "100", "--seed", "7"]


def convnet(*args, cwd=None, check=True):
    run = subprocess.run([sys.executable, "-m", "convnet", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if check and run.returncode != 0:
        raise AssertionError(f"convnet {' '.join(map(str, args))} exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    return run


def tiny_checkpoint(tmp_path_factory):
    """The checkpoint of the tiny net trained one epoch of FAST: for module fixtures."""
    folder = tmp_path_factory.mktemp("run")
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", folder)
    return folder / "latest.h5"


def restored(checkpoint):
    """(net, data) of a checkpoint, opened as the commands open it (convnet.opening)."""
    from convnet.opening import open_checkpoint
    _, data, net, _ = open_checkpoint(checkpoint, {})
    return net, data


def tiny_variant(folder, layers=(), params=()):
    """--layers and --params of the tiny net with these (old, new) replacements made in its two files
    (each old text must be there), written as n.cfg and p.cfg in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for (source, name), changes in zip(((TINY[1], "n.cfg"), (TINY[3], "p.cfg")), (layers, params)):
        text = open(source).read()
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        (folder / name).write_text(text)
        files.append(folder / name)
    return ["--layers", files[0], "--params", files[1]]


def start(*args, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "convnet", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def parse_test_lines(stdout):
    """The numbers of each test line: (epoch label, train cost, train err, test cost, top-1, top-5), an
    error that the net does not count (n/a) as NaN."""
    rows = []
    err = r"(?:([\d.]+)%|(n/a))"
    for line in stdout.splitlines():
        m = re.match(rf"\s*(\d+\.\d+)\s+([\d.]+)\s+{err}\s+([\d.]+)\s+{err}\s+{err}", line)
        if m:
            g = m.groups()
            pick = lambda number, na: float("nan") if na else float(number)
            rows.append((g[0], float(g[1]), pick(g[2], g[3]), float(g[4]), pick(g[5], g[6]), pick(g[7], g[8])))
    return rows


def strict_json(text):
    """json.loads as strict parsers (jq, JavaScript) read: NaN and Infinity are not JSON."""
    def refuse(name):
        raise AssertionError(f"{name} in JSON output: {text[:200]}")
    return json.loads(text, parse_constant=refuse)


def evaluate(checkpoint, *extra):
    return strict_json(convnet("test", "--load", checkpoint, "--json", *extra).stdout)


def arrays(path):
    with h5py.File(path) as f:
        out = {}
        f["layers"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        return out, dict(f.attrs)


def assert_same_arrays(a, b):
    (x, ax), (y, ay) = arrays(a), arrays(b)
    assert sorted(x) == sorted(y)
    for k in x:
        assert np.array_equal(x[k], y[k]), f"{k} differs"
    assert (ax["epoch"], ax["batch"], ax["step"]) == (ay["epoch"], ay["batch"], ay["step"])
