"""Random damage to real inputs: config files, cuda-convnet batch files and their meta, make-data's
HDF5 batches and checkpoints. Every outcome is a clean result or one line with exit 1 or 2 (a
ConvnetError), never another exception. Seeded, so a failure here repeats."""
import pickle
import random

import numpy as np
import pytest
from click.testing import CliRunner

from convnet.checkpoint import Checkpoint
from convnet.cli import main
from convnet.data import get_provider
from convnet.errors import ConvnetError
from tests.data.test_cifar import make_batches
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet

pytestmark = pytest.mark.slow

TOKENS = ["", "nan", "inf", "-1", "0", "1e999", "abc", "3,3", "[", "conv1", "relu", "=", "\x00", "9" * 30]


def mutate_text(text, rng):
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        kind = rng.randrange(6)
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif kind == 2 and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "=" + rng.choice(TOKENS)
        elif kind == 3 and "=" in lines[i]:
            lines[i] = rng.choice(TOKENS) + "=" + lines[i].split("=", 1)[1]
        elif kind == 4:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        else:
            lines[i] = "".join(chr(rng.randrange(1, 256)) for _ in range(rng.randrange(1, 12)))
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


def mutate_bytes(data, rng):
    b = bytearray(data)
    for _ in range(rng.choice([1, 4, 40])):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    if rng.random() < 0.2:
        b = b[: rng.randrange(len(b))]
    return bytes(b)


def test_damaged_configs_give_one_line(tmp_path):
    rng = random.Random(11)
    layers, params = (ROOT / "configs/layers.cfg").read_text(), (ROOT / "configs/params.cfg").read_text()
    outcomes = {}
    for trial in range(120):
        l_text, p_text = (mutate_text(layers, rng), params) if trial % 2 else (layers, mutate_text(params, rng))
        (tmp_path / "l.cfg").write_text(l_text, encoding="utf-8", errors="surrogateescape")
        (tmp_path / "p.cfg").write_text(p_text, encoding="utf-8", errors="surrogateescape")
        result = CliRunner().invoke(main, ["describe", "--layers", str(tmp_path / "l.cfg"), "--params",
                                           str(tmp_path / "p.cfg"), "--input-size", "32"])
        assert isinstance(result.exception, (SystemExit, type(None))), (l_text, p_text, result.exception)
        outcomes[result.exit_code] = outcomes.get(result.exit_code, 0) + 1
        if result.exit_code:
            assert result.output.count("convnet: error:") == 1, result.output
    assert set(outcomes) <= {0, 1, 2} and outcomes.get(2, 0) > 20


def test_damaged_cuda_convnet_batches_give_one_line(tmp_path):
    rng = random.Random(12)
    good = make_batches(tmp_path / "good", batches=2, per_batch=20)
    for trial in range(60):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        for name in ("data_batch_1", "data_batch_2", "batches.meta"):
            data = (good / name).read_bytes()
            target = ["data_batch_1", "batches.meta"][trial % 2]
            (folder / name).write_bytes(mutate_bytes(data, rng) if name == target else data)
        try:
            provider = get_provider("cifar", str(folder))
            provider.read_batch(1)
        except ConvnetError:
            pass


def test_cuda_convnet_batches_of_the_wrong_kind_give_one_line(tmp_path):
    good = make_batches(tmp_path / "good", batches=2, per_batch=20)
    meta = pickle.loads((good / "batches.meta").read_bytes())
    cases = {
        "num_vis wrong": dict(meta, num_vis=3000),
        "num_vis zero": dict(meta, num_vis=0),
        "num_vis text": dict(meta, num_vis="many"),
        "data_mean size": dict(meta, data_mean=np.zeros((10, 1))),
    }
    for what, bad in cases.items():
        (good / "batches.meta").write_bytes(pickle.dumps(bad, protocol=2))
        with pytest.raises(ConvnetError):
            get_provider("cifar", str(good)).read_batch(1)
    (good / "batches.meta").unlink()
    (good / "batches.meta").mkdir()
    with pytest.raises(ConvnetError, match="cannot read it"):
        get_provider("cifar", str(good))
    (good / "batches.meta").rmdir()
    (good / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    batch = pickle.loads((good / "data_batch_1").read_bytes())
    (good / "data_batch_1").write_bytes(pickle.dumps(dict(batch, data=batch["data"].astype(np.float64) / 255)))
    with pytest.raises(ConvnetError, match="data is float64; cuda-convnet batches hold pixels as uint8"):
        get_provider("cifar", str(good)).read_batch(1)


def test_damaged_checkpoints_give_one_line(tmp_path):
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "run")
    data = (tmp_path / "run/latest.h5").read_bytes()
    rng = random.Random(13)
    loaded = 0
    for trial in range(40):
        path = tmp_path / f"c{trial}.h5"
        path.write_bytes(mutate_bytes(data, rng))
        try:
            Checkpoint(path)
            loaded += 1                      # flipped bits in unused space: the contents are intact
        except ConvnetError:
            pass
    assert loaded < 20


def test_damaged_make_data_batches_give_one_line(tmp_path):
    from convnet.data.sample_tree import make_tree
    make_tree(tmp_path / "jpegs")
    convnet("make-data", "--images", tmp_path / "jpegs/train", "--val-images", tmp_path / "jpegs/val",
            "--val-labels", tmp_path / "jpegs/val_labels.csv", "--out", tmp_path / "b", "--size", "32",
            "--workers", "1")
    data = (tmp_path / "b/data_batch_1.h5").read_bytes()
    rng = random.Random(14)
    for trial in range(30):
        (tmp_path / "b/data_batch_1.h5").write_bytes(mutate_bytes(data, rng))
        try:
            images, labels = get_provider("imagenet", str(tmp_path / "b")).read_batch(1)
            assert images.dtype == np.uint8 and labels.min() >= 0
        except ConvnetError:
            pass
