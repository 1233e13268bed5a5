"""cuda-convnet batch files (as cifar-10-py-colmajor has them), generated in the real format."""
import pickle

import numpy as np
import pytest

from convnet.data import get_provider
from convnet.errors import DataError
from tests.helpers import ROOT
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
    ("empty", "--test-range 3: its batches in cuda-convnet batches in"),       # an epoch of it never ended
    ("empty train", "--train-range 3: its batches in cuda-convnet batches in"),
])
def test_bad_folders(tmp_path, damage, fragment):
    folder = make_batches(tmp_path / "b")
    if damage == "no meta":
        (folder / "batches.meta").unlink()
    elif damage == "corrupt":
        (folder / "data_batch_2").write_bytes(b"\x80\x02}q\x00(U\x04data")
    elif damage == "code":
        (folder / "data_batch_2").write_bytes(b"cos\nsystem\n(S'echo hacked'\ntR.")
    elif damage.startswith("empty"):
        (folder / "data_batch_3").write_bytes(pickle.dumps({"data": np.zeros((3072, 0), np.uint8), "labels": []}))
    ranges = {"range": "1-9", "empty train": "3"}
    run = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", folder, "--train-range",
                  ranges.get(damage, "1-2"), "--test-range", "1" if damage == "empty train" else "3",
                  "--save-path", tmp_path / "r", check=False)
    assert run.returncode == (2 if damage == "range" else 1), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert fragment in run.stderr, run.stderr


def test_needs_a_path():
    with pytest.raises(DataError):
        get_provider("cifar")


def make_python_download(folder, per_batch=200, seed=1):
    """CIFAR-10's own python version (cifar-10-batches-py): data_batch_1..5 and test_batch, 'data' one
    image a row (images x 3072), batches.meta without data_mean."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    raw = {}
    for name in [f"data_batch_{n}" for n in range(1, 6)] + ["test_batch"]:
        raw[name] = (rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8), list(map(int, rng.integers(0, 10, per_batch))))
        (folder / name).write_bytes(pickle.dumps({"batch_label": name, "labels": raw[name][1], "data": raw[name][0],
                                                  "filenames": [f"{i}.png" for i in range(per_batch)]}, protocol=2))
    meta = {"num_cases_per_batch": per_batch, "label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return raw


def test_reads_cifar10s_own_python_download(tmp_path):
    raw = make_python_download(tmp_path / "cifar-10-batches-py")
    p = get_provider("cifar", str(tmp_path / "cifar-10-batches-py"))
    assert p.batch_numbers == [1, 2, 3, 4, 5, 6]
    assert p.default_train_range == [1, 2, 3, 4, 5] and p.default_test_range == [6]      # the standard split
    for number, name in ((2, "data_batch_2"), (6, "test_batch")):
        images, labels = p.read_batch(number)
        assert images.shape == (3, 32, 32, 200)
        # image i is row i, in channel, row, column order: pixel (c, y, x) at c * 1024 + y * 32 + x
        i, c, y, x = 7, 2, 5, 30
        assert images[c, y, x, i] == raw[name][0][i, c * 1024 + y * 32 + x]
        np.testing.assert_array_equal(labels, raw[name][1])
    train = np.concatenate([raw[f"data_batch_{n}"][0] for n in range(1, 6)]).astype(np.float64)
    np.testing.assert_allclose(p.mean_image([1, 2, 3, 4, 5]), train.mean(axis=0).reshape(3, 32, 32), rtol=1e-5)
    out = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", tmp_path / "cifar-10-batches-py",
                  "--epochs", "1", "--mini", "100", "--save-path", tmp_path / "run")
    assert "(its test_batch as batch 6) (train 1-5: 1000 images, test 6: 200)" in out.stdout


def test_reads_cifar100s_own_python_download(tmp_path):
    """cifar-100-python: train and test, one image a row, the 100 fine labels (and 20 coarse ones)."""
    folder, rng = tmp_path / "cifar-100-python", np.random.default_rng(3)
    folder.mkdir()
    raw = {}
    for name, n in (("train", 500), ("test", 100)):
        raw[name] = (rng.integers(0, 256, (n, 3072)).astype(np.uint8), list(map(int, rng.integers(0, 100, n))))
        (folder / name).write_bytes(pickle.dumps({"data": raw[name][0], "fine_labels": raw[name][1],
                                                  "coarse_labels": [f // 5 for f in raw[name][1]]}, protocol=2))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"fine{i}" for i in range(100)],
                                                "coarse_label_names": [f"coarse{i}" for i in range(20)]}, protocol=2))
    p = get_provider("cifar", str(folder))
    assert (p.batch_numbers, p.default_train_range, p.default_test_range) == ([1, 2], [1], [2])
    assert p.num_classes == 100 and p.label_names[99] == "fine99"
    images, labels = p.read_batch(2)
    i, c, y, x = 11, 1, 31, 4
    assert images.shape == (3, 32, 32, 100) and images[c, y, x, i] == raw["test"][0][i, c * 1024 + y * 32 + x]
    np.testing.assert_array_equal(labels, raw["test"][1])
    np.testing.assert_allclose(p.mean_image([1]), raw["train"][0].mean(axis=0).reshape(3, 32, 32), rtol=1e-5)
    hundred = tmp_path / "tiny-100.cfg"
    hundred.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("outputs=10", "outputs=100"))
    out = convnet("train", "--layers", hundred, "--params", TINY[3], "--data-provider", "cifar", "--data-path", folder,
                  "--epochs", "1", "--mini", "100", "--save-path", tmp_path / "run")
    assert f"CIFAR-100 in {folder} (train as batch 1, test as batch 2, the 100 fine labels) (train 1: 500 images, " \
           f"test 2: 100)" in out.stdout
    ten = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", folder, "--save-path", tmp_path / "r2",
                  check=False)
    assert ten.returncode != 0 and "the data has 100 classes but [probs] gives 10 probabilities" in ten.stderr


def write_binary(folder, files, label_bytes):
    """CIFAR's binary version: {name: (data (images, 3072), labels (images, label_bytes))} as records of
    the label bytes and the 3072 pixels."""
    folder.mkdir()
    for name, (data, labels) in files.items():
        (folder / name).write_bytes(np.concatenate([np.asarray(labels, np.uint8).reshape(-1, label_bytes), data],
                                                   axis=1).tobytes())


def test_reads_cifar10s_binary_version_as_its_python_version(tmp_path):
    raw = make_python_download(tmp_path / "cifar-10-batches-py")
    binary = tmp_path / "cifar-10-batches-bin"
    write_binary(binary, {f"{name}.bin": (data, labels) for name, (data, labels) in raw.items()}, 1)
    (binary / "batches.meta.txt").write_text("".join(f"class{i}\n" for i in range(10)) + "\n")
    (binary / "readme.html").write_text("<html></html>")
    p, py = get_provider("cifar", str(binary)), get_provider("cifar", str(tmp_path / "cifar-10-batches-py"))
    assert (p.batch_numbers, p.default_train_range, p.default_test_range) == ([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5], [6])
    assert p.label_names == [f"class{i}" for i in range(10)] and p.image_shape == (3, 32, 32)
    for number, name in ((1, "data_batch_1"), (6, "test_batch")):
        images, labels = p.read_batch(number)
        i, c, y, x = 3, 0, 17, 2             # record i's pixel byte 1 + c * 1024 + y * 32 + x
        assert images.shape == (3, 32, 32, 200) and images[c, y, x, i] == raw[name][0][i, c * 1024 + y * 32 + x]
        np.testing.assert_array_equal(labels, raw[name][1])
        for mine, theirs in zip((images, labels), py.read_batch(number)):
            np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(p.mean_image([1, 2, 3, 4, 5]), py.mean_image([1, 2, 3, 4, 5]))
    out = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", binary, "--epochs", "1", "--mini", "100",
                  "--save-path", tmp_path / "run")
    assert f"CIFAR-10's binary version in {binary} (test_batch.bin as batch 6) (train 1-5: 1000 images, test 6: " \
           f"200)" in out.stdout


def test_reads_cifar100s_binary_version_with_its_fine_labels(tmp_path):
    rng, folder = np.random.default_rng(5), tmp_path / "cifar-100-binary"
    files = {}
    for name, n in (("train.bin", 300), ("test.bin", 50)):
        fine = rng.integers(0, 100, n)
        files[name] = (rng.integers(0, 256, (n, 3072)).astype(np.uint8), np.stack([fine // 5, fine], axis=1))
    write_binary(folder, files, 2)
    (folder / "fine_label_names.txt").write_text("".join(f"fine{i}\n" for i in range(100)))
    (folder / "coarse_label_names.txt").write_text("".join(f"coarse{i}\n" for i in range(20)))
    p = get_provider("cifar", str(folder))
    assert (p.batch_numbers, p.default_train_range, p.default_test_range) == ([1, 2], [1], [2])
    assert p.num_classes == 100 and p.label_names[42] == "fine42"
    images, labels = p.read_batch(2)
    np.testing.assert_array_equal(labels, files["test.bin"][1][:, 1])         # the fine label, not the coarse
    i, c, y, x = 49, 2, 31, 31
    assert images.shape == (3, 32, 32, 50) and images[c, y, x, i] == files["test.bin"][0][i, c * 1024 + y * 32 + x]
    assert p.describe() == f"CIFAR-100's binary version in {folder} (train.bin as batch 1, test.bin as batch 2)"


def test_a_binary_file_cut_short_is_one_line_and_its_folder_is_named_to_the_other_providers(tmp_path):
    folder = tmp_path / "bin"
    write_binary(folder, {f"data_batch_{n}.bin": (np.zeros((10, 3072), np.uint8), np.zeros((10, 1), np.uint8))
                          for n in (1, 2)}, 1)
    (folder / "data_batch_2.bin").write_bytes((folder / "data_batch_2.bin").read_bytes()[:-100])
    run = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", folder, "--save-path", tmp_path / "r",
                  check=False)
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert f"{folder / 'data_batch_2.bin'}: 30630 bytes is not a whole number of CIFAR-10 records (3073 bytes: a " \
           f"label byte and 3072 pixels)" in run.stderr
    run = convnet("train", *TINY, "--data-provider", "imagenet", "--data-path", folder, check=False)
    assert run.returncode == 1 and "it holds CIFAR-10's binary version: give --data-provider cifar" in run.stderr


def test_a_folder_that_holds_the_download_names_it(tmp_path):
    """torchvision's root (--data-path data) holds the folder the download unpacked, not the batches."""
    (tmp_path / "data").mkdir()
    make_python_download(tmp_path / "data" / "cifar-10-batches-py")
    (tmp_path / "data" / "cifar-10-python.tar.gz").write_bytes(b"")
    run = convnet("train", *TINY, "--data-provider", "cifar", "--data-path", tmp_path / "data", check=False)
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert f"{tmp_path / 'data' / 'batches.meta'}: no such file; give --data-path " \
           f"{tmp_path / 'data' / 'cifar-10-batches-py'}, the folder the download unpacked" in run.stderr


def _rewrite(folder, name, **changes):
    path = folder / name
    content = pickle.loads(path.read_bytes())
    content.update(changes)
    path.write_bytes(pickle.dumps(content, protocol=2))


@pytest.mark.parametrize("data,labels,fragment", [
    (np.full((3072, 300), 7.0, np.float32), None, "data_batch_2: data is float32; cuda-convnet batches hold pixels as uint8"),
    (np.full((3072, 300), -1, np.int16), None, "data_batch_2: data is int16; cuda-convnet batches hold pixels as uint8"),
    (np.full((3072, 300), 256, np.int16), None, "data_batch_2: data is int16; cuda-convnet batches hold pixels as uint8"),
    (np.zeros((3072, 301), np.uint8), None, "data_batch_2: data is (3072, 301), expected (3072, 300) for 300 labels"),
    (np.zeros((3072, 300, 1), np.uint8), None, "data_batch_2: data is (3072, 300, 1), expected (3072, 300)"),
    (np.zeros((3000, 300), np.uint8), None, "data_batch_2: data is (3000, 300), expected (3072, 300)"),
    (None, [10] + [0] * 299, "data_batch_2: labels must lie in 0..9"),
    (None, [0] * 299 + [-1], "data_batch_2: labels must lie in 0..9"),
])
def test_a_batch_whose_pixels_or_labels_do_not_fit_is_one_line(tmp_path, data, labels, fragment):
    folder = make_batches(tmp_path / "b")
    _rewrite(folder, "data_batch_2", **({"data": data} if data is not None else {}),
             **({"labels": labels} if labels is not None else {}))
    p = get_provider("cifar", str(folder))
    p.read_batch(1)
    with pytest.raises(DataError) as e:
        p.read_batch(2)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_pixels_of_another_integer_type_within_0_255_read_as_uint8(tmp_path):
    folder = make_batches(tmp_path / "b")
    raw = pickle.loads((folder / "data_batch_2").read_bytes())["data"]
    _rewrite(folder, "data_batch_2", data=raw.astype(np.int64))
    images, _ = get_provider("cifar", str(folder)).read_batch(2)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(3072, -1), raw)


def test_without_label_names_the_classes_are_the_labels_seen(tmp_path):
    folder = make_batches(tmp_path / "b", classes=5)
    _rewrite(folder, "batches.meta", label_names=[])
    p = get_provider("cifar", str(folder))
    p.read_batch(1)
    assert p.num_classes == 5


@pytest.mark.parametrize("meta,fragment", [
    ({"num_vis": None}, "num_vis must be a number"),
    ({"num_vis": 0}, "num_vis 0 is not 3-channel square images"),
    ({"num_vis": 3000}, "num_vis 3000 is not 3-channel square images"),
    ({"num_vis": 1}, "num_vis 1 is not 3-channel square images"),
])
def test_a_meta_whose_image_size_is_not_square_images_is_one_line(tmp_path, meta, fragment):
    folder = make_batches(tmp_path / "b")
    _rewrite(folder, "batches.meta", **meta)
    with pytest.raises(DataError) as e:
        get_provider("cifar", str(folder))
    assert fragment in str(e.value)


def test_a_meta_without_num_vis_is_one_line(tmp_path):
    folder = make_batches(tmp_path / "b")
    meta = pickle.loads((folder / "batches.meta").read_bytes())
    del meta["num_vis"]
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    with pytest.raises(DataError) as e:
        get_provider("cifar", str(folder))
    assert "batches.meta: has no num_vis" in str(e.value)
