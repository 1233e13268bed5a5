"""Reflections come with crops, as cuda-convnet's providers did: training on asymmetric images, the
images the net receives are checked for mirrors, with and without --crop, --flip and --no-flip."""
import pickle

import numpy as np
import pytest

from convnet.net import Net
from convnet.session import DEFAULTS
from convnet.trainer import Trainer
from convnet.session import config_texts
from tests.training import TINY


def asymmetric_batches(folder, batches=2, per_batch=60):
    """cuda-convnet batches of images whose left half is bright and right half dark (plus noise):
    any mirrored image the net receives is seen at once from the mean of its columns."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    images = np.zeros((3, 32, 32, per_batch), dtype=np.uint8)
    for n in range(1, batches + 1):
        images[:] = rng.integers(0, 20, images.shape)
        images[:, :, :16] += 60
        blob = {"data": images.reshape(3072, per_batch).copy(),
                "labels": list(map(int, rng.integers(0, 10, per_batch)))}
        (folder / f"data_batch_{n}").write_bytes(pickle.dumps(blob, protocol=2))
    meta = {"data_mean": np.full((3072, 1), 40.0), "label_names": [f"c{i}" for i in range(10)], "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def received(tmp_path, monkeypatch, **options):
    """The training images every forward pass received: (mirrored images, images) counted over a run."""
    seen = []
    forward = Net.forward

    def spy(self, data, train=False, **kw):
        if train:
            seen.append(np.array(data[0]))
        return forward(self, data, train=train, **kw)

    monkeypatch.setattr(Net, "forward", spy)
    o = {**DEFAULTS, "data_provider": "cifar", "data_path": str(asymmetric_batches(tmp_path / "data")),
         "train_range": "1", "test_range": "2", "mini": 20, "epochs": 2, **options}
    configs = config_texts(TINY[1], TINY[3])
    Trainer(o, configs, echo=lambda *a: None, save_path=str(tmp_path / "run")).run()
    images = np.concatenate(seen, axis=-1)
    width = images.shape[2]
    left, right = images[:, :, :width // 2].mean(axis=(0, 1, 2)), images[:, :, width - width // 2:].mean(axis=(0, 1, 2))
    assert np.all(np.abs(left - right) > 40)          # every image is clearly one way or the other
    return int((left < right).sum()), images.shape[-1]


def test_without_crop_no_image_is_reflected(tmp_path, monkeypatch):
    mirrored, total = received(tmp_path, monkeypatch)
    assert total == 120 and mirrored == 0


def test_with_crop_about_half_are_reflected(tmp_path, monkeypatch):
    mirrored, total = received(tmp_path, monkeypatch, crop=28)
    assert total == 120 and 35 <= mirrored <= 85


def test_no_flip_turns_them_off_under_crops(tmp_path, monkeypatch):
    assert received(tmp_path, monkeypatch, crop=28, flip=False)[0] == 0


def test_flip_asks_for_them_without_crops(tmp_path, monkeypatch):
    mirrored, total = received(tmp_path, monkeypatch, flip=True)
    assert 35 <= mirrored <= 85


@pytest.mark.parametrize("flip,expected", [(None, "crops and reflections"), (False, "crops, no reflections")])
def test_the_run_says_what_it_does(tmp_path, flip, expected):
    from tests.training import convnet
    out = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", asymmetric_batches(tmp_path / "d"),
                  "--train-range", "1", "--test-range", "2", "--mini", "30", "--epochs", "1", "--crop", "28",
                  *(["--no-flip"] if flip is False else []), "--save-path", tmp_path / "run")
    assert expected in out.stdout
