"""cuda-convnet batch files (as cifar-10-py-colmajor has them), generated in the real format."""
import pickle

import numpy as np
import pytest

from convnet.data import get_provider
from convnet.errors import DataError
from tests.training import TINY, convnet, evaluate


def make_batches(folder, batches=3, per_batch=300, classes=10, seed=0, py2_names=False):
    """data_batch_1..N and batches.meta: 'data' is (3072, images) uint8, one image a column."""
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    total = np.zeros((3072, 1))
    for n in range(1, batches + 1):
        data = rng.integers(0, 256, (3072, per_batch)).astype(np.uint8)
        total += data.sum(axis=1, keepdims=True)
        blob = pickle.dumps({"data": data, "labels": list(map(int, rng.integers(0, classes, per_batch))),
                             "batch_label": f"batch {n}"}, protocol=2)
        if py2_names:        # what NumPy 1.x under Python 2 wrote
            blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        (folder / f"data_batch_{n}").write_bytes(blob)
    meta = {"data_mean": total / (batches * per_batch), "label_names": [f"class{i}" for i in range(classes)],
            "num_vis": 3072, "num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


@pytest.mark.parametrize("py2_names", [False, True])
def test_reads_the_format(tmp_path, py2_names):
    folder = make_batches(tmp_path / "b", py2_names=py2_names)
    p = get_provider("cifar", str(folder))
    assert p.image_shape == (3, 32, 32) and p.num_classes == 10 and p.batch_numbers == [1, 2, 3]
    assert p.default_train_range == [1, 2] and p.default_test_range == [3]
    images, labels = p.read_batch(2)
    raw = pickle.loads((folder / "data_batch_2").read_bytes().replace(b"numpy.core.multiarray", b"numpy._core.multiarray"))
    np.testing.assert_array_equal(images.reshape(3072, -1), raw["data"])     # column n is image n
    np.testing.assert_array_equal(labels, raw["labels"])
    assert p.mean_image([1, 2]).shape == (3, 32, 32)


def test_trains_and_tests(tmp_path):
    folder = make_batches(tmp_path / "b")
    out = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", folder, "--train-range", "1-2",
                  "--test-range", "3", "--epochs", "1", "--mini", "100", "--save-path", tmp_path / "run")
    assert "cuda-convnet batches" in out.stdout and "train 1-2: 600 images, test 3: 300" in out.stdout
    result = evaluate(tmp_path / "run/latest.h5")
    assert result["cases"] == 300


@pytest.mark.parametrize("damage,fragment", [
    ("no meta", "batches.meta: no such file"),
    ("corrupt", "data_batch_2: not a readable cuda-convnet batch file"),
    ("code", "refusing to load os.system"),
    ("range", "batch 4 is not in the cifar data (it has 1-3)"),
])
def test_bad_folders(tmp_path, damage, fragment):
    folder = make_batches(tmp_path / "b")
    if damage == "no meta":
        (folder / "batches.meta").unlink()
    elif damage == "corrupt":
        (folder / "data_batch_2").write_bytes(b"\x80\x02}q\x00(U\x04data")
    elif damage == "code":
        (folder / "data_batch_2").write_bytes(b"cos\nsystem\n(S'echo hacked'\ntR.")
    run = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", folder,
                  "--train-range", "1-9" if damage == "range" else "1-2", "--save-path", tmp_path / "r", check=False)
    assert run.returncode == (2 if damage == "range" else 1), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert fragment in run.stderr, run.stderr


def test_needs_a_path():
    with pytest.raises(DataError):
        get_provider("cifar")
