"""make-data --test-images: ILSVRC's unlabelled test images as the last batches (labels -1, in name
order), the provider that reads them, what may read them (a test that writes a submission or
predictions, features) and what may not (training, a test that counts errors)."""
import os
import re
import shutil

import h5py
import numpy as np
import pytest

from convnet.data import get_provider
from convnet.data.make_data import load_image, make_data
from convnet.data.sample_tree import make_tree
from convnet.errors import DataError
from convnet.submission import top_classes
from tests.training import TINY, convnet, strict_json

TEST = 6          # test images in the tree: two batches of 4, the last one short


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    make_tree(root, test=TEST)
    return root


def made_into(tree, out, echo=None, test=True, batch_size=4):
    lines = []
    make_data(str(tree / "train"), str(out), str(tree / "val"), str(tree / "val_labels.csv"), size=48, workers=2,
              batch_size=batch_size, echo=echo or lines.append, test_images=str(tree / "test") if test else None)
    return lines


@pytest.fixture(scope="module")
def made(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, made_into(tree, out)


@pytest.fixture(scope="module")
def trained(made, tmp_path_factory):
    out, _ = made
    run = tmp_path_factory.mktemp("run")
    convnet("train", *TINY, "--data-provider", "imagenet", "--data-path", out, "--crop", "32", "--mini", "4",
            "--epochs", "1", "--save-path", run)
    return run / "latest.h5"


def meta(out):
    with h5py.File(out / "meta.h5") as m:
        return {k: list(map(int, m[k][()])) for k in ("train_batches", "val_batches", "test_batches")}


def test_the_test_batches_come_last_in_name_order_with_labels_minus_one(made, tree):
    out, lines = made
    numbers = meta(out)
    assert numbers["train_batches"] == [1, 2, 3, 4, 5] and numbers["val_batches"] == [6, 7]
    assert numbers["test_batches"] == [8, 9]
    names, seen = sorted(os.listdir(tree / "test")), []
    for n in numbers["test_batches"]:
        with h5py.File(out / f"data_batch_{n}.h5") as f:
            assert f.attrs["split"] == "test" and f["labels"].dtype == np.int32
            assert list(f["labels"][()]) == [-1] * len(f["labels"])
            batch_names = [s.decode() for s in f["names"][()]]
            for image, name in zip(f["images"][()], batch_names):
                np.testing.assert_array_equal(image, load_image(str(tree / "test" / name), 48)[0])
            seen += batch_names
    assert seen == names and len(names) == TEST
    assert "18 training and 5 validation images, 6 unlabelled test images: 9 batches of 4" in lines[0]
    assert lines[-1].startswith("test batches 8-9: the unlabelled test images, in name order (convnet test "
                                "--test-range 8-9 --submission S.txt)")


def test_the_provider_reads_them_and_defaults_to_the_labelled_batches(made):
    out, _ = made
    p = get_provider("imagenet", str(out))
    assert p.unlabelled_batches == {8, 9} and list(p.batch_numbers) == list(range(1, 10))
    assert list(p.default_train_range) == [1, 2, 3, 4, 5] and list(p.default_test_range) == [6, 7]
    images, labels = p.read_batch(9)
    assert images.shape == (2, 3, 48, 48) and list(labels) == [-1, -1]


def test_the_net_is_fed_class_zero_for_them(made):
    """A cost layer indexes its probabilities by the label: -1 would read the last class in NumPy and
    before the array on a GPU. The test views feed 0, and the provider keeps its -1."""
    from convnet.session import DEFAULTS, Data
    out, _ = made
    data = Data(dict(DEFAULTS, data_provider="imagenet", data_path=str(out), crop=32, test_range="8-9"),
                need_train=False, unlabelled_ok=True)
    fed = np.concatenate([batch[1][0] for _, _, batch in data.test_views(data.test, mini=4)])
    assert data.unlabelled and list(fed) == [0] * TEST


def test_labels_that_do_not_belong_to_their_split_are_an_error(made, tmp_path):
    """A test batch with class numbers, and a labelled batch with -1, are damaged, not test images."""
    out, _ = made
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for n, labels in ((9, [0, 1]), (7, None)):
        with h5py.File(copy / f"data_batch_{n}.h5", "a") as f:
            new = np.array(labels if labels else [-1] * len(f["labels"]), dtype=np.int32)
            del f["labels"]
            f["labels"] = new
            del f.attrs["crc32"]                # as a batch made before the checksum: the labels are checked
    p = get_provider("imagenet", str(copy))
    with pytest.raises(DataError, match="a test batch's labels must be 2 times -1"):
        p.read_batch(9)
    with pytest.raises(DataError, match="its labels must be 1 class numbers in 0..2"):
        p.read_batch(7)


def test_a_meta_from_before_the_test_batches_still_reads(made, tmp_path):
    out, _ = made
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with h5py.File(copy / "meta.h5", "a") as m:
        del m["test_batches"]
    p = get_provider("imagenet", str(copy))
    assert p.unlabelled_batches == frozenset() and list(p.batch_numbers) == list(range(1, 8))


def test_adding_the_test_images_keeps_the_batches_made_before(tree, tmp_path):
    out = tmp_path / "out"
    made_into(tree, out, test=False)
    mtimes = {n: os.path.getmtime(out / f"data_batch_{n}.h5") for n in range(1, 8)}
    lines = made_into(tree, out)
    assert "9 batches of 4; 7 already done, 2 to make" in lines[0]
    assert {n: os.path.getmtime(out / f"data_batch_{n}.h5") for n in range(1, 8)} == mtimes
    assert meta(out)["test_batches"] == [8, 9]


def test_test_image_folders_that_hold_none(tree, tmp_path):
    empty, nested = tmp_path / "empty", tmp_path / "nested"
    empty.mkdir()
    (nested / "part1").mkdir(parents=True)
    shutil.copy(tree / "test" / "ILSVRC2012_test_00000001.JPEG", nested / "part1")
    for folder, fragment in ((empty, "no test images"), (nested, "holds 1 subfolder, whose images are not read"),
                             (tmp_path / "missing", "no such folder")):
        with pytest.raises(DataError, match=fragment):
            make_data(str(tree / "train"), str(tmp_path / "out"), test_images=str(folder), echo=lambda *_: None)
    run = convnet("make-data", "--images", tree / "train", "--test-images", tree / "test", "--out",
                  tree / "test" / "batches", check=False)
    assert run.returncode == 2 and "is inside --test-images" in run.stderr and "Traceback" not in run.stderr
    assert not (tree / "test" / "batches").exists()


def test_unreadable_test_images_are_reported_as_missing_lines(tree, tmp_path):
    folder = tmp_path / "test"
    shutil.copytree(tree / "test", folder)
    (folder / "ILSVRC2012_test_00000002.JPEG").write_bytes(b"not an image")
    run = convnet("make-data", "--images", tree / "train", "--test-images", folder, "--out", tmp_path / "out",
                  "--size", "32", "--workers", "1")
    assert "1 test image could not be read (see the report): a submission from these batches has no line " \
           "for it" in run.stderr
    # every image found, test images included, was written or skipped
    found, written, skipped = map(int, re.match(r"(\d+) images found, (\d+) written, (\d+) skipped",
                                                (tmp_path / "out/report.txt").read_text()).groups())
    assert found == written + skipped and skipped >= 1
    for image in folder.iterdir():
        image.write_bytes(b"not an image")
    run = convnet("make-data", "--images", tree / "train", "--test-images", folder, "--out", tmp_path / "out2",
                  "--size", "32", "--workers", "1", check=False)
    assert run.returncode == 1 and "no test image could be read" in run.stderr


def test_training_and_error_counting_refuse_them_in_one_line(made, trained, tmp_path):
    out, _ = made
    refusals = [
        (["train", *TINY, "--data-provider", "imagenet", "--data-path", out, "--crop", "32", "--train-range", "1-9",
          "--save-path", tmp_path / "r1"], "--train-range 1-9: batches 8-9 hold the unlabelled test images"),
        (["train", *TINY, "--data-provider", "imagenet", "--data-path", out, "--crop", "32", "--test-range", "9",
          "--save-path", tmp_path / "r2"], "--test-range 9: batch 9 holds the unlabelled test images"),
        (["test", "--load", trained, "--test-range", "8-9"], "which have no errors to count: convnet test "
                                                            "--submission S.txt (or --predictions P.h5)"),
        (["test", "--load", trained, "--test-range", "7-8", "--submission", tmp_path / "s.txt"],
         "--test-range 7-8: mixes batches with labels (7) and the unlabelled test images (8)"),
    ]
    for args, fragment in refusals:
        run = convnet(*args, check=False)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1 and fragment in lines[0], run.stderr
    assert not (tmp_path / "s.txt").exists() and not (tmp_path / "r1").exists()
    run = convnet("test", "--load", f"{trained},{trained}", "--test-range", "8-9", "--fit-weights",
                  "--submission", tmp_path / "s.txt", check=False)
    assert run.returncode == 1 and run.stderr.splitlines()[-1] == (
        "convnet: error: --fit-weights: the test range 8-9 is the unlabelled test images: fit the weights on "
        "labelled ones (the validation batches), then give them with --weights")
    assert not (tmp_path / "s.txt").exists()


def test_the_submission_is_the_top_five_of_the_predictions_and_of_the_same_images_with_labels(made, trained,
                                                                                                 tree, tmp_path):
    """The scores of an unlabelled image do not depend on the label fed for it: the same images made
    into a labelled validation split (labels from the sample tree's classes) get the same probabilities."""
    out, _ = made
    run = convnet("test", "--load", trained, "--test-range", "8-9", "--submission", tmp_path / "s.txt",
                  "--predictions", tmp_path / "p.h5")
    assert "cost n/a, top-1 error n/a, top-5 error n/a on 6 images (no labels), centre crop" in run.stdout
    with h5py.File(tmp_path / "p.h5") as f:
        probs, labels = f["probs"][()], f["labels"][()]
    assert probs.shape == (6, 10) and list(labels) == [-1] * 6
    lines = (tmp_path / "s.txt").read_text().splitlines()
    assert lines == [" ".join(str(c + 1) for c in row) for row in top_classes(probs)]
    result = strict_json(convnet("test", "--load", trained, "--test-range", "8-9", "--submission",
                                 tmp_path / "s2.txt", "--json").stdout)
    assert result == {"cost": None, "top1_error": None, "topk_error": None, "topk": 5, "cases": 6}
    # the same images as validation images, with labels
    names = sorted(os.listdir(tree / "test"))
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    (labelled / "labels.txt").write_text("".join(f"{n} {i % 3}\n" for i, n in enumerate(names)))
    make_data(str(tree / "train"), str(labelled / "out"), str(tree / "test"), str(labelled / "labels.txt"), size=48,
              workers=2, batch_size=4, echo=lambda *_: None)
    convnet("test", "--load", trained, "--data-path", labelled / "out", "--test-range", "6-7",
            "--predictions", tmp_path / "q.h5")
    with h5py.File(tmp_path / "q.h5") as f:
        np.testing.assert_array_equal(f["probs"][()], probs)
        assert list(f["labels"][()]) == [i % 3 for i in range(6)]


def test_features_of_the_test_images_carry_their_minus_one(made, trained, tmp_path):
    convnet("features", "--load", trained, "--layer", "fc10", "--test-range", "8-9", "--out", tmp_path / "f.h5")
    with h5py.File(tmp_path / "f.h5") as f:
        assert f["features"].shape == (6, 10) and list(f["labels"][()]) == [-1] * 6
    convnet("features", "--load", trained, "--layer", "fc10", "--test-range", "8-9", "--out-dir", tmp_path / "d")
    with h5py.File(tmp_path / "d/features_batch_9.h5") as f:
        assert list(f["labels"][()]) == [-1, -1]

