"""File and folder names that are not UTF-8 (written under another system's encoding: Latin-1 on an old
share, a camera's card): Python holds their bytes as surrogates, which open the file but cannot be
written to a UTF-8 file, an HDF5 string or a strict terminal. They are read and trained on like any
other, and written as \\xNN."""
import os

import h5py
import numpy as np
import pytest
from PIL import Image

from convnet.data.make_data import make_data
from convnet.files import printable
from tests.training import TINY

ODD = os.fsdecode(b"caf\xe9")          # "café" in Latin-1: not UTF-8


def test_printable_writes_the_bytes_that_are_not_utf8_as_escapes():
    assert ODD == "caf\udce9" and printable(ODD) == "caf\\xe9"
    assert printable("café/ünï.jpg") == "café/ünï.jpg"          # UTF-8 names are kept as they are
    printable(ODD).encode("utf-8")                             # writable anywhere


@pytest.mark.filterwarnings("ignore:no --val-images")
def test_make_data_reads_them_names_them_escaped_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    for folder, name in (("n01", "a.jpg"), ("n01", ODD + ".jpg"), (ODD, "b.jpg"), (ODD, "c.jpg")):
        os.makedirs(tmp_path / "train" / folder, exist_ok=True)
        pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "train" / folder / name)
    (tmp_path / "train" / ODD / (ODD + ".jpg")).write_text("not an image")
    out = tmp_path / "out"
    lines = []
    make_data(str(tmp_path / "train"), str(out), size=32, workers=1, batch_size=8, echo=lines.append)
    with h5py.File(out / "data_batch_1.h5") as f:
        names = sorted(f["names"].asstr()[()])
    assert names == ["caf\\xe9/b.jpg", "caf\\xe9/c.jpg", "n01/a.jpg", "n01/caf\\xe9.jpg"]
    with h5py.File(out / "meta.h5") as f:
        assert list(f["class_names"].asstr()[()]) == ["caf\\xe9", "n01"]
    assert "skipped   caf\\xe9/caf\\xe9.jpg: not an image" in (out / "report.txt").read_text(encoding="utf-8")
    again = []
    make_data(str(tmp_path / "train"), str(out), size=32, workers=1, batch_size=8, echo=again.append)
    assert any("1 already done, 0 to make" in line for line in again), again


def test_a_save_path_that_is_not_utf8_trains_and_tests_on_a_strict_terminal(tmp_path):
    folder = os.path.join(os.fsdecode(bytes(tmp_path)), ODD)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    import subprocess
    import sys

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "convnet", *args], capture_output=True, env=env)
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode("utf-8", "replace")
        return done.stdout
    configs = os.path.join(os.fsdecode(bytes(tmp_path)), ODD + "-configs")      # the checkpoint names them
    os.makedirs(configs)
    layers, params = os.path.join(configs, "tiny.cfg"), os.path.join(configs, "tiny-params.cfg")
    for path, given in ((layers, TINY[1]), (params, TINY[3])):
        with open(path, "w") as f:
            f.write(open(given).read())
    out = run("train", "--layers", layers, "--params", params, "--train-range", "1", "--epochs", "1",
              "--save-path", folder)
    assert os.fsencode(folder) + b"\n" in out                  # the folder printed as its own bytes, as ls does
    assert run("test", "--load", os.path.join(folder, "latest.h5")).startswith(os.fsencode(folder))
