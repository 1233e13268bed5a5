"""convnet predict: a net's classes for image files, against what `convnet test` computes for the same
images in its batches."""
import h5py
import numpy as np
import pytest
from PIL import Image

from convnet.data import get_provider
from tests.training import FAST, TINY, convnet, strict_json

COUNT = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny net trained on 28x28 crops (so the ten views differ), and the first test images of its data
    as lossless files of their own size (make-data's rescaling leaves them as they are)."""
    path = tmp_path_factory.mktemp("predict")
    convnet("train", *TINY, *FAST, "--crop", "28", "--epochs", "1", "--save-path", path / "run")
    images, labels = get_provider("default", None, image_size=32).read_batch(6)
    (path / "images").mkdir()
    files = []
    for i in range(COUNT):
        files.append(path / "images" / f"{i:02d}.png")
        Image.fromarray(np.ascontiguousarray(images[..., i].transpose(1, 2, 0))).save(files[-1])
    return path / "run/latest.h5", files


def _test_probs(checkpoint, tmp_path, *extra):
    """convnet test's averaged probabilities of the first test images (rows of /probs)."""
    convnet("test", "--load", checkpoint, "--predictions", tmp_path / "p.h5", *extra)
    with h5py.File(tmp_path / "p.h5") as f:
        return f["probs"][:COUNT].astype(np.float64)


@pytest.mark.parametrize("multiview", [False, True])
def test_the_probabilities_are_those_of_the_test_on_the_same_images(run, tmp_path, multiview):
    checkpoint, files = run
    extra = ["--multiview"] if multiview else []
    out = strict_json(convnet("predict", "--load", checkpoint, "--top", "10", "--json", *extra, *files).stdout)
    expected = _test_probs(checkpoint, tmp_path, *extra)
    names = get_provider("default", None, image_size=32).label_names
    assert out["views"] == (10 if multiview else 1) and [i["file"] for i in out["images"]] == list(map(str, files))
    for image, p in zip(out["images"], expected):
        got = np.zeros(10)
        for entry in image["top"]:
            got[entry["class"]] = entry["probability"]
            assert entry["name"] == names[entry["class"]]
        assert len(image["top"]) == 10
        np.testing.assert_allclose(got, p, rtol=1e-5, atol=1e-7)
        ranked = [entry["probability"] for entry in image["top"]]
        assert ranked == sorted(ranked, reverse=True)


def test_two_nets_average_and_a_folder_gives_its_images_in_order_minibatch_by_minibatch(run, tmp_path):
    checkpoint, files = run
    convnet("train", *TINY, *FAST, "--seed", "8", "--crop", "28", "--epochs", "1", "--save-path", tmp_path / "b")
    both = f"{checkpoint},{tmp_path / 'b/latest.h5'}"
    out = convnet("predict", "--load", both, "--top", "3", "--mini", "7", files[0].parent).stdout.splitlines()
    expected = _test_probs(both, tmp_path)
    names = get_provider("default", None, image_size=32).label_names
    assert len(out) == COUNT
    for line, f, p in zip(out, files, expected):
        best = np.argsort(-p, kind="stable")[:3]
        assert line == f"{f}: " + ", ".join(f"{names[c]} {100 * p[c]:.1f}%" for c in best)


def test_what_cannot_be_read_is_named_in_one_line(run, tmp_path):
    checkpoint, files = run
    (tmp_path / "empty").mkdir()
    for given, said in ((tmp_path / "gone.jpg", f"{tmp_path / 'gone.jpg'}: no such file or folder"),
                        (tmp_path / "empty", f"{tmp_path / 'empty'}: a folder without images")):
        out = convnet("predict", "--load", checkpoint, files[0], given, check=False)
        assert out.returncode == 1 and out.stdout == ""
        assert out.stderr.startswith(f"convnet: error: {said}") and out.stderr.count("\n") == 1, out.stderr
    out = convnet("predict", "--load", checkpoint, check=False)
    assert out.returncode == 2 and "Missing argument 'IMAGES...'" in out.stderr


def test_a_file_that_is_not_an_image_is_skipped_and_named_and_the_others_are_given(run, tmp_path):
    """As make-data skips such files: a folder of photos with one broken file still gives the others."""
    checkpoint, files = run
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "cut.png").write_bytes(files[1].read_bytes()[:100])
    given = [files[0], tmp_path / "notes.png", files[1], tmp_path / "cut.png"]
    out = convnet("predict", "--load", checkpoint, *given, check=False)
    alone = [convnet("predict", "--load", checkpoint, f).stdout for f in files[:2]]
    assert out.returncode == 1 and out.stdout == "".join(alone)
    assert out.stderr.splitlines() == [
        f"convnet: note: {tmp_path / 'notes.png'}: skipped (not an image)",
        f"convnet: note: {tmp_path / 'cut.png'}: skipped (truncated file)",
        "convnet: error: 2 of 4 files could not be read as images (named above); the others' classes are given"]
    out = convnet("predict", "--load", checkpoint, "--json", tmp_path / "notes.png", files[0], check=False)
    images = strict_json(out.stdout)["images"]
    assert out.returncode == 1 and images[0] == {"file": str(tmp_path / "notes.png"), "skipped": "not an image"}
    assert [e["class"] for e in images[1]["top"]] and "skipped" not in images[1]
    out = convnet("predict", "--load", checkpoint, tmp_path / "notes.png", check=False)
    assert out.returncode == 1 and out.stdout == "" and out.stderr.splitlines()[-1] == \
        "convnet: error: 1 of 1 file could not be read as an image (named above)"


def test_weights_give_each_net_its_share_as_in_the_test(run, tmp_path):
    checkpoint, files = run
    convnet("train", *TINY, *FAST, "--seed", "9", "--crop", "28", "--epochs", "1", "--save-path", tmp_path / "b")
    both = f"{checkpoint},{tmp_path / 'b/latest.h5'}"
    out = strict_json(convnet("predict", "--load", both, "--weights", "1,3", "--top", "10", "--json",
                              *files[:4]).stdout)
    expected = _test_probs(both, tmp_path, "--weights", "1,3")
    assert out["weights"] == [0.25, 0.75]
    for image, p in zip(out["images"], expected):
        got = np.zeros(10)
        for entry in image["top"]:
            got[entry["class"]] = entry["probability"]
        np.testing.assert_allclose(got, p, rtol=1e-5, atol=1e-7)
    single = _test_probs(checkpoint, tmp_path)
    assert not np.allclose(expected[:4], single[:4], rtol=1e-3)       # the second net's share shows


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 32, 24)])
def test_data_other_than_square_colour_images_is_refused(run, shape):
    """predict prepares files as make-data does (3 x S x S): a net of other images (the cifar provider
    reads any channel count, in Python) is told so rather than fed images of the wrong shape."""
    import convnet
    from convnet.errors import DataError
    from convnet.predict import predict
    checkpoint, files = run
    net, data = convnet.load(checkpoint)
    data.provider.image_shape = shape
    with pytest.raises(DataError, match=rf"trained on {shape[0]}x{shape[1]}x{shape[2]} images; predict prepares"):
        predict([net], data, files[:1], 1)
