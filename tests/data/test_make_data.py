"""convnet make-data on a generated ImageNet-shaped tree, and the imagenet provider that reads its output."""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from convnet.data import get_provider
from convnet.data.make_data import load_image, make_data
from convnet.data.sample_tree import CLASSES, make_tree
from convnet.errors import DataError
from tests.helpers import ROOT
from tests.training import TINY, assert_same_arrays, convnet, evaluate, parse_test_lines


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    return root, make_tree(root)


@pytest.fixture(scope="module")
def made(tree, tmp_path_factory):
    root, expected = tree
    out = tmp_path_factory.mktemp("out")
    make_data(str(root / "train"), str(out), str(root / "val"), str(root / "val_labels.csv"), size=64, workers=2,
              batch_size=4, echo=lambda *_: None)
    return out, expected


def batches(out):
    with h5py.File(out / "meta.h5") as m:
        numbers = list(m["train_batches"][()]) + list(m["val_batches"][()])
    for n in numbers:
        with h5py.File(out / f"data_batch_{n}.h5") as f:
            yield n, f.attrs["split"], f["images"][()], f["labels"][()], [s.decode() for s in f["names"][()]]


def test_shapes_labels_and_the_resize_and_crop(made, tree):
    out, _ = made
    root, _ = tree
    seen = {}
    for _, split, images, labels, names in batches(out):
        assert images.shape == (len(names), 3, 64, 64) and images.dtype == np.uint8 and len(labels) == len(names)
        for i, (name, label) in enumerate(zip(names, labels)):
            seen[name] = split
            if split == "train":
                assert CLASSES[label] == name.split("/")[0]
            expected, _ = load_image(str(root / split / name), 64)
            np.testing.assert_array_equal(images[i], expected)
    assert sum(s == "train" for s in seen.values()) == 15 and sum(s == "val" for s in seen.values()) == 5


def test_validation_labels_come_from_the_labels_file(made):
    out, _ = made
    for _, split, _, labels, names in batches(out):
        if split == "val":
            for name, label in zip(names, labels):
                index = int(name.split("_")[-1].split(".")[0]) - 1
                assert label == index % 3


def test_training_batches_mix_the_classes(made):
    out, _ = made
    first = next(b for b in batches(out) if b[1] == "train")
    assert len(set(first[3])) > 1


def test_mean_and_colour_covariance_against_a_direct_computation(made):
    out, _ = made
    train = np.concatenate([images for _, split, images, _, _ in batches(out) if split == "train"])
    train = train.transpose(1, 2, 3, 0).astype(np.float64)
    p = get_provider("imagenet", str(out))
    np.testing.assert_allclose(p.mean_image(p.default_train_range), train.mean(axis=3), rtol=1e-5)
    stdevs, vectors = p.color_pca(p.default_train_range)
    values, direct = np.linalg.eigh(np.cov(train.reshape(3, -1), bias=True))
    np.testing.assert_allclose(stdevs, np.sqrt(values[::-1]), rtol=1e-4)
    for i in range(3):
        assert abs(abs(vectors[:, i] @ direct[:, 2 - i]) - 1) < 1e-4


def test_broken_files_are_reported_and_the_counts_add_up(made):
    out, expected = made
    report = (out / "report.txt").read_text().splitlines()
    assert report[0] == f"{expected['found']} images found, 20 written, 3 skipped, 3 converted"
    for name, why in expected["skipped"].items():
        assert any(line.startswith("skipped") and line.endswith(f"{name}: {why}") for line in report), name
    for name, note in expected["converted"].items():
        assert any(line.startswith("converted") and line.endswith(f"{name}: {note}") for line in report), name
    with h5py.File(out / "meta.h5") as m:
        assert m.attrs["found"] == m.attrs["written"] + m.attrs["skipped"] == expected["found"]


def test_the_provider(made):
    out, _ = made
    p = get_provider("imagenet", str(out))
    assert p.image_shape == (3, 64, 64) and p.num_classes == 3 and p.label_names == CLASSES
    # 18 training files (3 of them unreadable) in batches of 4, then 5 validation files
    assert p.default_train_range == [1, 2, 3, 4, 5] and p.default_test_range == [6, 7]
    sizes = [p.batch_size(n) for n in p.batch_numbers]
    assert sum(sizes[:5]) == 15 and sizes[5:] == [4, 1] and p.default_crop == 56 and type(p.default_crop) is int
    images, labels = p.read_batch(6)
    assert images.shape == (4, 3, 64, 64) and labels.dtype == np.int64 and p.images_first


def test_a_batch_of_other_images_than_meta_h5_says_is_an_error(made, tmp_path):
    """A batch of another make-data run (another --image-size) copied in, or of another type, is
    refused, naming what it holds and what meta.h5 says (batches of older versions have no CRC-32)."""
    import shutil
    out, _ = made
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    n2, n3 = (get_provider("imagenet", str(out)).batch_size(n) for n in (2, 3))
    for number, images in ((2, np.zeros((n2, 3, 32, 32), np.uint8)), (3, np.zeros((n3, 3, 64, 64), np.float32))):
        path = copy / f"data_batch_{number}.h5"
        with h5py.File(path, "r+") as f:
            del f["images"]
            f["images"] = images
            f.attrs.pop("crc32", None)
    p = get_provider("imagenet", str(copy))
    with pytest.raises(DataError) as e:
        p.read_batch(2)
    assert str(e.value) == (f"{copy / 'data_batch_2.h5'}: holds uint8 ({n2}, 3, 32, 32), meta.h5 says uint8 "
                            f"({n2}, 3, 64, 64)")
    with pytest.raises(DataError) as e:
        p.read_batch(3)
    assert str(e.value).endswith(f"data_batch_3.h5: holds float32 ({n3}, 3, 64, 64), meta.h5 says uint8 ({n3}, 3, 64, 64)")


def test_a_damaged_batch_is_an_error_not_black_images(made, tmp_path):
    """Bytes zeroed inside a batch's images (a damaged disk or copy) read without complaint from HDF5;
    the CRC-32 make-data writes with the batch finds them. Batches of older versions, without it, read."""
    import shutil
    out, _ = made
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    with h5py.File(copy / "data_batch_2.h5", "r") as f:
        offset, length = f["images"].id.get_offset(), f["images"].id.get_storage_size()
    with open(copy / "data_batch_2.h5", "r+b") as f:
        f.seek(offset + length // 2)
        f.write(bytes(64))
    p = get_provider("imagenet", str(copy))
    p.read_batch(1)
    with pytest.raises(DataError, match=r"data_batch_2.h5: corrupt: its images or labels do not match the CRC-32"):
        p.read_batch(2)
    with h5py.File(copy / "data_batch_2.h5", "r+") as f:
        del f.attrs["crc32"]
    images, _ = get_provider("imagenet", str(copy)).read_batch(2)
    assert images.shape == (p.batch_size(2), 3, 64, 64)


def rewritten(made, tmp_path, number=None, labels=None, **meta):
    """A copy of the made batches with batch `number`'s labels replaced by labels(old) (its CRC-32
    dropped, as in a batch of before it, so that the labels' own check is what speaks) and meta.h5's
    arrays given in meta replaced."""
    import shutil
    copy = tmp_path / "out"
    shutil.copytree(made[0], copy)
    if number is not None:
        with h5py.File(copy / f"data_batch_{number}.h5", "r+") as f:
            new = labels(f["labels"][()])
            del f["labels"], f.attrs["crc32"]
            f["labels"] = new
    with h5py.File(copy / "meta.h5", "r+") as f:
        for key, value in meta.items():
            del f[key]
            f[key] = np.array(value, dtype=np.int64)
    return get_provider("imagenet", str(copy))


def with_label(i, value):
    return lambda labels: np.where(np.arange(labels.size) == i, value, labels)


@pytest.mark.parametrize("labels", [with_label(1, 3), with_label(2, -1), lambda labels: labels[:-1]],
                         ids=["one past the classes", "-1 in a labelled batch", "one label too few"])
def test_labels_that_are_not_class_numbers_are_an_error(made, tmp_path, labels):
    p = rewritten(made, tmp_path, 2, labels)
    p.read_batch(1)
    with pytest.raises(DataError, match=r"data_batch_2.h5: its labels must be 3 class numbers in 0..2; run make-data "
                                        r"again to remake it$"):
        p.read_batch(2)


def test_a_test_batchs_labels_must_all_be_minus_1(made, tmp_path):
    """Batch 7, the last validation batch, made a test batch in meta.h5: its labels are classes, not -1;
    with -1 written in, it reads."""
    with pytest.raises(DataError, match=r"data_batch_7.h5: a test batch's labels must be 1 times -1 \(no label\); "
                                        r"run make-data again to remake it$"):
        rewritten(made, tmp_path / "classes", val_batches=[6], test_batches=[7]).read_batch(7)
    p = rewritten(made, tmp_path / "unlabelled", 7, lambda labels: np.full_like(labels, -1), val_batches=[6],
                  test_batches=[7])
    assert p.read_batch(7)[1].tolist() == [-1] and p.unlabelled_batches == {7} and p.default_test_range == [6]


def test_without_validation_batches_the_last_training_batch_is_the_test_range(made, tmp_path):
    p = rewritten(made, tmp_path, val_batches=np.zeros(0), test_batches=np.zeros(0))
    assert p.default_train_range == [1, 2, 3, 4, 5] and p.default_test_range == [5]


def zero_some_images(batch):
    """64 bytes in the middle of a batch's images zeroed, as a damaged disk or copy does."""
    with h5py.File(batch, "r") as f:
        offset, length = f["images"].id.get_offset(), f["images"].id.get_storage_size()
    with open(batch, "r+b") as f:
        f.seek(offset + length // 2)
        f.write(bytes(64))


def gentle_run(tmp_path):
    """train's arguments for the tiny net on the sample batches, its steps small enough for them."""
    gentle = tmp_path / "gentle.cfg"          # these pictures have large flat areas: smaller steps
    gentle.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("epsW=0.001", "epsW=0.0001"))
    return [TINY[0], TINY[1], "--params", gentle, "--crop", "32", "--mini", "2", "--epochs", "2", "--seed", "1"]


def test_a_batch_damaged_during_a_run_stops_it_with_what_it_trained_saved(made, tmp_path):
    """On ImageNet a test point, and its checkpoint, is an epoch apart: a training batch that cannot be
    read mid-epoch stops the run after saving where it is, and once the batch is mended the run resumed
    there ends with the weights of the run never stopped."""
    import shutil
    out, _ = made
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    damaged = copy / "data_batch_3.h5"
    zero_some_images(damaged)
    args = gentle_run(tmp_path)
    convnet("train", *args, "--data-provider", "imagenet", "--data-path", out, "--save-path", tmp_path / "whole")
    run = convnet("train", *args, "--data-provider", "imagenet", "--data-path", copy, "--save-path",
                  tmp_path / "cut", check=False)
    latest = tmp_path / "cut/latest.h5"
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "data_batch_3.h5: corrupt" in run.stderr and f"saved in {latest}: once the batch is mended, " \
        f"continue with --load {latest}" in run.stderr
    from convnet.checkpoint import Checkpoint
    stopped = Checkpoint(latest)
    assert stopped.epoch == 1 and 0 < stopped.step == stopped.batch and not stopped.history   # mid-epoch
    tested = convnet("train", *args, "--data-provider", "imagenet", "--data-path", copy, "--test-freq", "1",
                     "--save-path", tmp_path / "tested", check=False)      # nothing trained since a test point
    assert tested.returncode == 1 and f"where {tmp_path / 'tested/latest.h5'} resumes it" in tested.stderr
    assert Checkpoint(tmp_path / "tested/latest.h5").step == stopped.step
    shutil.copy(out / "data_batch_3.h5", damaged)
    convnet("train", "--load", latest)
    assert_same_arrays(tmp_path / "cut/latest.h5", tmp_path / "whole/latest.h5")


def test_a_test_batch_damaged_during_a_run_keeps_the_epoch_and_owes_its_test_point(made, tmp_path):
    import shutil
    out, _ = made
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    zero_some_images(copy / "data_batch_6.h5")
    args = gentle_run(tmp_path) + ["--watch"]     # the owed point's --watch record is saved before its test
    convnet("train", *args, "--data-provider", "imagenet", "--data-path", out, "--save-path", tmp_path / "whole")
    run = convnet("train", *args, "--data-provider", "imagenet", "--data-path", copy, "--save-path",
                  tmp_path / "cut", check=False)
    latest = tmp_path / "cut/latest.h5"
    assert run.returncode == 1 and "data_batch_6.h5: corrupt" in run.stderr
    assert f"The test point at 1.9 could not be made; the training until there is saved in {latest}" in run.stderr
    from convnet.checkpoint import Checkpoint
    stopped = Checkpoint(latest)
    assert (stopped.epoch, stopped.batch, stopped.history) == (2, 0, []) and stopped.state["test_owed"]
    shutil.copy(out / "data_batch_6.h5", copy / "data_batch_6.h5")
    resumed = convnet("train", "--load", latest).stdout
    assert [row[0] for row in parse_test_lines(resumed)] == ["1.9", "2.9"]       # the owed one first
    assert_same_arrays(latest, tmp_path / "whole/latest.h5")
    assert Checkpoint(latest).history == Checkpoint(tmp_path / "whole/latest.h5").history     # the owed point too
    watched = [[w["step"] for w in Checkpoint(path).watch] for path in (latest, tmp_path / "whole/latest.h5")]
    assert watched[0] == watched[1] and len(watched[0]) == 2                        # a record a test point


def test_train_and_multiview_test_through_the_provider(made, tmp_path):
    out, _ = made
    gentle = tmp_path / "gentle.cfg"          # these pictures have large flat areas: smaller steps
    gentle.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("epsW=0.001", "epsW=0.0001"))
    convnet("train", TINY[0], TINY[1], "--params", gentle, "--data-provider", "imagenet", "--data-path", out,
            "--crop", "32", "--mini", "4", "--epochs", "2", "--color-noise", "0.1", "--save-path", tmp_path / "run")
    tmp_path = tmp_path / "run"
    single, multi = evaluate(tmp_path / "latest.h5"), evaluate(tmp_path / "latest.h5", "--multiview")
    assert single["cases"] == multi["cases"] == 5 and single["cost"] != multi["cost"]
    assert "whole images" not in convnet("test", "--load", tmp_path / "latest.h5", "--multiview").stderr   # crops


def rerun(tree, out, **options):
    root, _ = tree
    lines = []
    make_data(str(root / "train"), str(out), str(root / "val"), str(root / "val_labels.csv"), echo=lines.append,
              **{"size": 64, "workers": 2, "batch_size": 4, **options})
    return lines


def snapshot(out):
    return {n: (images.tobytes(), labels.tobytes(), names) for n, _, images, labels, names in batches(out)}


def test_rerun_makes_only_what_is_missing_or_broken(tree, made, tmp_path):
    out = tmp_path / "out"
    rerun(tree, out)
    before = snapshot(out)
    mtimes = {p: os.path.getmtime(out / p) for p in os.listdir(out)}
    time.sleep(0.05)
    os.remove(out / "data_batch_3.h5")
    meta = (out / "meta.h5").read_bytes()
    (out / "meta.h5").write_bytes(meta[: len(meta) // 2])                  # damaged (by a disk, a copy cut short)
    data = (out / "data_batch_5.h5").read_bytes()
    (out / "data_batch_5.h5").write_bytes(data[: len(data) // 2])       # a half-written batch
    (out / "data_batch_6.h5.tmp-999").write_bytes(b"left by a crash")
    lines = rerun(tree, out)
    assert "7 batches of 4; 5 already done, 2 to make" in lines[0]
    assert not (out / "data_batch_6.h5.tmp-999").exists()
    for name in ("data_batch_1.h5", "data_batch_2.h5", "data_batch_4.h5", "data_batch_6.h5", "data_batch_7.h5"):
        assert os.path.getmtime(out / name) == mtimes[name], name
    assert snapshot(out) == before
    assert (out / "meta.h5").read_bytes() != meta[: len(meta) // 2]
    with h5py.File(out / "meta.h5") as m:                                     # written again, whole
        assert "class_names" in m and "batch_sizes" in m


def test_sigkill_then_rerun_gives_what_one_run_gives(tmp_path, made):
    root = tmp_path / "big"
    make_tree(root, per_class=40, val=10)
    args = ["make-data", "--images", root / "train", "--val-images", root / "val", "--val-labels",
            root / "val_labels.csv", "--size", "128", "--batch-size", "8", "--workers", "1"]
    convnet(*args, "--out", tmp_path / "whole")
    proc = subprocess.Popen([sys.executable, "-m", "convnet", *map(str, args), "--out", str(tmp_path / "cut")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not (tmp_path / "cut/data_batch_2.h5").exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not (tmp_path / "cut/meta.h5").exists()
    out = convnet(*args, "--out", tmp_path / "cut").stdout
    assert "already done" in out and " 0 already done" not in out
    assert snapshot(tmp_path / "cut") == snapshot(tmp_path / "whole")


def test_a_remake_with_other_options_is_refused_without_overwrite(tree, tmp_path):
    """A finished ImageNet in --out is hours of decoding: another --size or --batch-size there (a typo of
    --out) must not replace it in silence."""
    out = tmp_path / "out"
    rerun(tree, out)
    before, files = snapshot(out), {p.name: p.read_bytes() for p in out.iterdir()}
    root, _ = tree
    run = convnet("make-data", "--images", root / "train", "--val-images", root / "val", "--val-labels",
                  root / "val_labels.csv", "--size", "64", "--batch-size", "8", "--out", out, check=False)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (f"convnet: error: {out}: holds the batches of an earlier make-data with other images or "
                          f"options (there: 7 batches of 64x64 images, 4 in the first; this one: 4 batches of 64x64 "
                          f"images, 8 in the first), of which this one would replace 4 and remove 3: give --overwrite "
                          f"for that, or another --out\n")
    with pytest.raises(DataError, match=r"\(there: 7 batches of 64x64 images, 4 in the first; this one: 7 batches of "
                                        r"32x32 images, 4 in the first\), of which this one would replace 7: give"):
        rerun(tree, out, size=32)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files and snapshot(out) == before


def test_a_remake_with_overwrite_leaves_only_its_own_batches(tree, tmp_path, monkeypatch):
    root, _ = tree
    out = tmp_path / "out"
    rerun(tree, out)
    assert len(list(out.glob("data_batch_*.h5"))) == 7
    (out / "data_batch_9.h5").write_bytes(b"not make-data's")        # a user's file: never removed
    import convnet.data.make_data as md

    def killed(*args):
        raise KeyboardInterrupt
    remake = dict(size=64, workers=2, batch_size=8, overwrite=True)
    with monkeypatch.context() as m:           # a kill after the new batches, before their meta.h5
        m.setattr(md, "combine", killed)
        with pytest.raises(KeyboardInterrupt):
            make_data(str(root / "train"), str(out), str(root / "val"), str(root / "val_labels.csv"),
                      echo=lambda *_: None, **remake)
    assert not (out / "meta.h5").exists()       # not the old one, which describes other batches
    with pytest.raises(DataError, match="make-data has not finished there"):
        get_provider("imagenet", str(out))
    lines = []
    make_data(str(root / "train"), str(out), str(root / "val"), str(root / "val_labels.csv"), echo=lines.append,
              **remake)
    assert "4 batches of 8; 4 already done, 0 to make" in lines[0]
    assert lines[1] == ("removed 3 batches of an earlier make-data there with other options "
                        "(data_batch_5.h5 to data_batch_7.h5)")
    assert sorted(p.name for p in out.glob("data_batch_*.h5")) == [f"data_batch_{n}.h5" for n in (1, 2, 3, 4, 9)]
    assert sum(len(names) for *_, names in batches(out)) == 20
    assert "4 batches of 8; 4 already done, 0 to make" in rerun(tree, out, batch_size=8)[0]   # no --overwrite needed


FOREIGN_BATCH = ("an HDF5 file that make-data did not write (it has no batch digest), where this make-data "
                 "writes a batch")
FOREIGN_META = "an HDF5 file that is not make-data's meta.h5, which make-data writes there"


@pytest.mark.parametrize("name, content, why", [
    ("data_batch_2.h5", "hdf5", FOREIGN_BATCH),
    ("data_batch_2.h5", "hdf5 split", FOREIGN_BATCH),          # one of make-data's two marks is not its batch
    ("data_batch_2.h5", "hdf5 digest", FOREIGN_BATCH),
    ("meta.h5", "hdf5", FOREIGN_META),
    ("meta.h5", "hdf5 class_names", FOREIGN_META),             # nor one of its meta.h5's two datasets
    ("meta.h5", "hdf5 batch_sizes", FOREIGN_META),
    ("report.txt", "my notes\n", "not a make-data report, which make-data writes there"),
])
def test_a_users_own_file_under_a_name_make_data_writes_is_never_replaced(tree, tmp_path, name, content, why):
    out = tmp_path / "out"
    out.mkdir()
    if content.startswith("hdf5"):
        with h5py.File(out / name, "w") as f:
            f["mine"] = np.arange(3)
            for mark in content.split()[1:]:
                if name == "meta.h5":
                    f[mark] = np.arange(2)
                else:
                    f.attrs[mark] = "mine"
    else:
        (out / name).write_text(content)
    kept = (out / name).read_bytes()
    with pytest.raises(DataError) as e:
        rerun(tree, out, overwrite=True)
    assert str(e.value) == f"{out / name}: {why}: move it, or give another --out"
    assert (out / name).read_bytes() == kept and sorted(os.listdir(out)) == [".lock", name]   # nothing written


@pytest.mark.parametrize("split", ["train", "val"])
def test_no_readable_image_in_a_split_is_an_error_with_its_report(tmp_path, split):
    """A test range of no images gave 0% error, and "best", at every test point; a training range of
    none, an epoch that never ended."""
    root = tmp_path / "tree"
    make_tree(root)
    for image in (root / split).rglob("*.JPEG"):
        image.write_bytes(b"not an image")
    with pytest.raises(DataError, match=f"no {'training' if split == 'train' else 'validation'} image could be read "
                                        f"\\(see {tmp_path / 'out/report.txt'}\\)"):
        make_data(str(root / "train"), str(tmp_path / "out"), str(root / "val"), str(root / "val_labels.csv"),
                  size=32, workers=1, batch_size=8, echo=lambda *_: None)
    assert "skipped   " in (tmp_path / "out/report.txt").read_text() and not (tmp_path / "out/meta.h5").exists()


def test_a_second_make_data_on_the_same_folder_is_refused(tree, tmp_path):
    from convnet.save_folder import FolderLock
    root, _ = tree
    (tmp_path / "out").mkdir()
    hold = FolderLock(tmp_path / "out", "wait")
    try:
        run = convnet("make-data", "--images", root / "train", "--out", tmp_path / "out", check=False)
    finally:
        hold.release()
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{tmp_path / 'out'}: in use (pid {os.getpid()}: " in run.stderr
    assert not list((tmp_path / "out").glob("data_batch_*"))


@pytest.mark.parametrize("labels,fragment", [
    ("ILSVRC2012_val_00000001 n99999999\n", "neither a training synset nor a class number"),
    ("ILSVRC2012_val_00000001 n01440764\nmissing_image n01440764\n", "no image 'missing_image'"),
    ("n01440764\n", "1 labels for 5 images"),
    # class numbers count from 0: 3 classes are 0, 1 and 2; the line named is the file's, from 1
    ("ILSVRC2012_val_00000001 2\nILSVRC2012_val_00000002 3\n",
     "labels.txt:2: '3' is neither a training synset nor a class number below 3"),
    ("n01440764\n" * 3 + "3\nn01440764\n", "labels.txt:4: '3' is neither a training synset nor a class number below 3"),
    (None, "give --val-labels (or put the validation images in class subfolders)"),
])
def test_bad_validation_labels(tree, tmp_path, labels, fragment):
    root, _ = tree
    if labels is not None:
        (tmp_path / "labels.txt").write_text(labels)
    with pytest.raises(DataError) as e:
        make_data(str(root / "train"), str(tmp_path / "o"), str(root / "val"),
                  None if labels is None else str(tmp_path / "labels.txt"), size=32, workers=1, echo=lambda *_: None)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_validation_in_class_subfolders_and_one_synset_per_line(tree, tmp_path):
    root, _ = tree
    val = tmp_path / "val"
    for i, c in enumerate(CLASSES):
        os.makedirs(val / c)
        (val / c / "a.JPEG").write_bytes((root / "val" / f"ILSVRC2012_val_{i + 1:08d}.JPEG").read_bytes())
    make_data(str(root / "train"), str(tmp_path / "o1"), str(val), None, size=32, workers=1, echo=lambda *_: None)
    (tmp_path / "synsets.txt").write_text("\n".join(CLASSES[i % 3] for i in range(5)) + "\n")
    make_data(str(root / "train"), str(tmp_path / "o2"), str(root / "val"), str(tmp_path / "synsets.txt"), size=32,
              workers=1, echo=lambda *_: None)
    for out in ("o1", "o2"):
        p = get_provider("imagenet", str(tmp_path / out))
        labels = np.concatenate([p.read_batch(n)[1] for n in p.default_test_range])
        assert sorted(labels) == ([0, 1, 2] if out == "o1" else [0, 0, 1, 1, 2])


def test_missing_folders_and_unfinished_output(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        make_data(str(tmp_path / "none"), str(tmp_path / "o"), echo=lambda *_: None)
    (tmp_path / "tars").mkdir()
    for synset in ("n01440764", "n01443537"):      # ILSVRC2012_img_train.tar unpacked once, not twice
        (tmp_path / "tars" / f"{synset}.tar").write_bytes(b"")
    with pytest.raises(DataError, match=r"no class folders \(expected one folder of images per synset\); it holds 2 "
                                        r"\.tar files: ILSVRC2012_img_train\.tar holds a \.tar of each synset's"):
        make_data(str(tmp_path / "tars"), str(tmp_path / "o"), echo=lambda *_: None)
    os.makedirs(tmp_path / "half")
    with pytest.raises(DataError, match="no meta.h5: not an output of convnet make-data$"):
        get_provider("imagenet", str(tmp_path / "half"))
    (tmp_path / "half/data_batch_1.h5").write_bytes(b"")        # one batch written, meta.h5 not yet
    with pytest.raises(DataError, match="make-data has not finished there"):
        get_provider("imagenet", str(tmp_path / "half"))


def test_class_folders_without_images_say_what_they_hold_instead(tmp_path):
    from convnet.data.make_data import NAMED, discover_training
    from convnet.notes import send_notes_to
    from PIL import Image
    for name in ("a/x.jpg", "b/deeper/y.jpg"):
        (tmp_path / "t" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "t" / name)
    (tmp_path / "t/b/z.gif").write_bytes(b"GIF89a")
    for name in ("c/p.bmp", "c/q.TIF"):                 # what torchvision's ImageFolder takes too
        (tmp_path / "t" / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "t" / name)
    said = []
    send_notes_to(said.append)
    try:
        classes, files = discover_training(str(tmp_path / "t"))
    finally:
        send_notes_to(None)
    assert classes == ["a", "b", "c"]
    assert files == [(os.path.join("a", "x.jpg"), 0), (os.path.join("c", "p.bmp"), 2), (os.path.join("c", "q.TIF"), 2)]
    assert said == [f"{tmp_path / 't' / 'b'}: no images (1 file not named {NAMED} and 1 subfolder, "
                    f"whose images are not read); class 1 is kept, so that the numbers of the others do not "
                    f"change, but nothing will teach it"]
    for name in ("a/x.jpg", "c/p.bmp", "c/q.TIF"):
        os.remove(tmp_path / "t" / name)
    with pytest.raises(DataError, match=r"hold no images \(make-data reads the files named \.jpeg, \.jpg, .* or "
                                        r"\.pgm of each class folder itself, not those of its subfolders\)"):
        discover_training(str(tmp_path / "t"))


def test_a_folder_given_to_the_wrong_provider_says_which_one_reads_it(made, tree, tmp_path):
    from tests.data.test_cifar import make_batches
    out, _ = made
    root, _ = tree
    cifar = make_batches(tmp_path / "cifar")
    with pytest.raises(DataError, match="holds cuda-convnet batch files .batches.meta.: give --data-provider cifar"):
        get_provider("imagenet", str(cifar))
    with pytest.raises(DataError, match="holds make-data's batches .meta.h5.: give --data-provider imagenet"):
        get_provider("cifar", str(out))
    (tmp_path / "c100").mkdir()
    for name in ("train", "test", "meta"):
        (tmp_path / "c100" / name).write_bytes(b"")
    with pytest.raises(DataError, match="holds CIFAR-100's python download .train, test, meta.: give --data-provider "
                                        "cifar"):
        get_provider("imagenet", str(tmp_path / "c100"))
    for provider in ("cifar", "imagenet"):
        with pytest.raises(DataError, match=f"make batches of them first: convnet make-data --images {root}/train"):
            get_provider(provider, str(root / "train"))


def test_16_bit_images_are_scaled_to_8_and_pixels_without_a_range_are_skipped(tmp_path):
    """Pillow's convert("RGB") clips a 16-bit grey image at 255 (nearly all white) and a float one to 0
    or 1 (black): make-data scales 16 bits to 8 and skips what has no fixed range, saying why."""
    from PIL import Image
    grey = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "sixteen.png")
    pixels, said = load_image(str(tmp_path / "sixteen.png"), 32)
    assert said == "converted from I;16, 16 bits a pixel scaled to 8"
    for channel in pixels:
        np.testing.assert_array_equal(channel, np.round(grey / 257).astype(np.uint8))
    Image.fromarray(np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)).save(tmp_path / "float.tif")
    assert load_image(str(tmp_path / "float.tif"), 32) == (
        None, "floating-point pixels (mode F), with no fixed range to map to 0-255: convert them to 8 bits")


STORED = {2: lambda u: u[:, ::-1], 3: lambda u: u[::-1, ::-1], 4: lambda u: u[::-1],          # EXIF 2.3, 0x0112:
          5: lambda u: u.transpose(1, 0, 2), 6: lambda u: np.rot90(u, 1),                    # how a camera stores
          7: lambda u: u[::-1, ::-1].transpose(1, 0, 2), 8: lambda u: np.rot90(u, -1)}      # the upright picture


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_a_photo_with_an_exif_orientation_is_read_upright(tmp_path, orientation):
    """A picture stored turned or mirrored, with the EXIF orientation that says how (6: taken with the
    camera on its side, shown turned 90 degrees clockwise), is read as it is shown, by make-data and so
    by predict, and its report line says so."""
    from PIL import Image
    colours = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)
    upright = np.repeat(np.repeat(colours, 32, axis=0), 24, axis=1)          # 64 high, 48 wide: 4 quadrants
    stored = STORED.get(orientation, lambda u: u)(upright)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "photo.jpg", quality=95, exif=exif)
    pixels, said = load_image(str(tmp_path / "photo.jpg"), 32)
    assert said == ("" if orientation == 1 else f"turned upright by its EXIF orientation ({orientation})")
    # 48 x 64 made 32 x 43, its centre 32 x 32: each quadrant's middle 8 x 8 holds its colour
    for (r, c), colour in np.ndenumerate(np.arange(4).reshape(2, 2)):
        patch = pixels[:, 4 + 16 * r:12 + 16 * r, 4 + 16 * c:12 + 16 * c].reshape(3, -1)
        np.testing.assert_allclose(patch.mean(axis=1), colours[r, c], atol=8)


@pytest.mark.parametrize("wide", [True, False])
def test_the_shorter_side_is_scaled_to_the_size_and_the_centre_square_cut(tmp_path, wide):
    """Section 2 of the paper: rescaled so that the shorter side is 10 (by 1/3 here), then the central
    10 x 10. Red rises 2 a pixel along the longer side, green 4 a pixel along the shorter: resampling
    keeps a linear ramp, so output pixel j, whose centre is the source's 3j + 1, holds 2 (3(j + 15) + 1)
    along the longer side (the crop starts 15 pixels into the 40 the rescaling left) and 4 (3j + 1)
    along the shorter."""
    from PIL import Image
    long, short = np.meshgrid(np.arange(120), np.arange(30))               # (30, 120): rows along the short side
    image = np.stack([2 * long, 4 * short, np.full_like(long, 7)], axis=-1).astype(np.uint8)
    if not wide:
        image = image.transpose(1, 0, 2)                                    # 120 high, 30 wide
    Image.fromarray(np.ascontiguousarray(image)).save(tmp_path / "ramp.png")
    pixels, said = load_image(str(tmp_path / "ramp.png"), 10)
    assert said == "" and pixels.shape == (3, 10, 10)
    j = np.arange(10)
    along_long, along_short = 2 * (3 * (j + 15) + 1), 4 * (3 * j + 1)
    red, green = (pixels[0], pixels[1]) if wide else (pixels[0].T, pixels[1].T)   # as (short, long)
    np.testing.assert_allclose(red, np.broadcast_to(along_long, (10, 10)), atol=1)
    # the short side's edges read a clipped kernel; inside it the ramp is exact to a level
    np.testing.assert_allclose(green[1:-1], np.broadcast_to(along_short[1:-1, None], (8, 10)), atol=1)
    assert abs(int(green[0, 0]) - along_short[0]) <= 4 and abs(int(green[-1, 0]) - along_short[-1]) <= 4
    np.testing.assert_array_equal(pixels[2], 7)
