"""Bad inputs that used to crash or pass in silence: each is now one line (exit 1 or 2), or a note."""
import os

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from convnet.cli import main
from convnet.data import get_provider
from convnet.errors import ConvnetError
from tests.helpers import ROOT
from tests.training import FAST, TINY

pytestmark = pytest.mark.slow


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line(result, code, *fragments):
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("convnet: error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("option,value", [("--seed", "-5"), ("--seed", "99999999999999999999999"),
                                          ("--image-size", "100000"), ("--mini", "0"), ("--color-noise", "-0.1"),
                                          ("--color-noise", "nan"), ("--color-noise", "inf"), ("--wupdate-freq", "0")])
def test_option_values_out_of_range(tmp_path, option, value):
    one_line(invoke("train", *TINY, option, value, "--save-path", tmp_path), 2, f"'{option}'")
    if option == "--color-noise":
        one_line(invoke("ablate", *TINY, option, value, "--out", tmp_path), 2, f"'{option}'")


@pytest.mark.parametrize("args,fragment", [
    (["--crop", "40"], "--crop 40 is larger than the 32x32 images"),
    (["--train-range", "5-1"], "--train-range '5-1': 5-1 is an empty range"),
    (["--train-range", "1-x"], "--train-range '1-x': expected batch numbers"),
    (["--test-range", "9"], "--test-range 9: batch 9 is not in the default data (it has 1-6)"),
    (["--gpu", "0,a"], "--gpu '0,a': expected GPU numbers"),
])
def test_option_values_that_do_not_fit_the_data_are_exit_2(tmp_path, args, fragment):
    one_line(invoke("train", *TINY, *args, "--save-path", tmp_path), 2, fragment)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("provider", ["imagenet", "cifar"])
def test_a_data_path_that_is_a_file_is_said_to_be_one(tmp_path, provider):
    (tmp_path / "meta.h5").write_bytes(b"")
    for path, said in ((tmp_path / "meta.h5", "is a file, not a folder: --data-path takes the folder of the batches"),
                       (tmp_path / "none", "no such folder")):
        one_line(invoke("train", *TINY, "--data-provider", provider, "--data-path", path, "--save-path",
                        tmp_path / "run"), 1, f"{path}: {said}")


def test_a_missing_option_is_exit_2():
    one_line(invoke("train"), 2, "give --layers and --params")
    one_line(invoke("describe", *TINY), 2, "--input-size")
    one_line(invoke("make-data", "--images", ROOT, "--val-labels", ROOT / "README.md", "--out", ROOT / "nothing"), 2,
             "--val-labels needs --val-images")


@pytest.mark.parametrize("command,option,fragment", [
    ("train", "-f", "No such option '-f'; for cuda-convnet's -f, use --load CHECKPOINT"),
    ("train", "--layer-params=new.cfg", "for cuda-convnet's --layer-params, use --params, on resume too"),
    ("train", "--test-only=1", "for cuda-convnet's --test-only, use convnet test --load CHECKPOINT"),
    ("test", "--multiview-test=1", "for cuda-convnet's --multiview-test, use convnet test --multiview"),
    ("show", "--show-filters=conv1", "for cuda-convnet's --show-filters, use convnet show --filters LAYER"),
    ("show", "--show-data-grad=1", "for cuda-convnet's --show-data-grad, use convnet show --data-grads"),
    ("show", "--webcam=probs", "for cuda-convnet's --webcam, use convnet predict --load CHECKPOINT FRAME.jpg..."),
    ("show", "--channels=3", "for cuda-convnet's --channels, use convnet show --filters LAYER, which takes an fc "
                             "layer's channels from the shape of its input"),
    ("train", "--conserve-mem=1", "cuda-convnet's --conserve-mem has nothing to do here: it traded speed for GPU memory"),
    ("train", "--pca-noise=0.1", "cuda-convnet's --pca-noise has nothing to do here: the 2012 code read it and used "
                                 "it nowhere (convdata.py); the paper's PCA colour noise is --color-noise"),
])
def test_cuda_convnets_option_names_say_what_does_their_work_here(command, option, fragment):
    """As the 2012 scripts typed them (run4.sh, test.sh): the line names ours, not click's guess."""
    one_line(invoke(command, option, "x"), 2, fragment, f"(convnet {command} -h for help)")
    result = invoke("train", "--made-up")
    one_line(result, 2, "No such option '--made-up'")
    assert "cuda-convnet" not in result.output


def test_make_data_refuses_an_out_inside_its_images(tmp_path):
    jpegs = _tree(tmp_path)
    one_line(invoke("make-data", "--images", jpegs / "train", "--out", jpegs / "train/batches"), 2,
             f"--out {jpegs / 'train/batches'} is inside --images {jpegs / 'train'}")
    one_line(invoke("make-data", "--images", jpegs / "train", "--val-images", jpegs / "val", "--val-labels",
                    jpegs / "val_labels.csv", "--out", jpegs / "val"), 2, f"is inside --val-images {jpegs / 'val'}")
    assert not (jpegs / "train/batches").exists()
    result = invoke("make-data", "--images", jpegs / "train", "--out", jpegs / "train-batches")   # a sibling is fine
    assert result.exit_code == 0, result.output


def test_a_config_that_does_not_fit_the_data_is_exit_2_with_the_hint_only_where_it_applies(tmp_path):
    one_line(invoke("train", "--layers", ROOT / "configs/alexnet.cfg", "--params", ROOT / "configs/alexnet-params.cfg",
                    "--save-path", tmp_path / "a"), 2, "--image-size 256 --crop 224")
    params = tmp_path / "p.cfg"
    params.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("topk=5", "topk=99"))
    result = invoke("train", *TINY[:2], "--params", params, "--save-path", tmp_path / "b")
    one_line(result, 2, "topk")
    assert "--image-size 256" not in result.output


@pytest.mark.parametrize("command,option,name", [("test", "--predictions", "p.h5"), ("test", "--submission", "s.txt"),
                                                 ("inspect", "--out", "i.h5"), ("features", "--out", "f.h5"),
                                                 ("show", "--out", "s.png")])
def test_an_output_file_that_cannot_be_written_is_refused_before_any_work(tmp_path, command, option, name):
    extra = {"features": ["--layer", "conv1"], "show": ["--cost"]}.get(command, [])
    # the checkpoint does not exist: the output is checked first, before anything is read or computed
    missing = tmp_path / "missing.h5"
    one_line(invoke(command, "--load", missing, *extra, option, tmp_path / "nodir" / name), 1,
             f"{option} {tmp_path / 'nodir' / name}: cannot write it (no folder {tmp_path / 'nodir'}); nothing was done")
    one_line(invoke(command, "--load", missing, *extra, option, tmp_path), 2, f"'{option}'", "is a directory")
    (tmp_path / "a-file").write_text("")
    one_line(invoke(command, "--load", missing, *extra, option, tmp_path / "a-file" / name), 1,
             f"cannot write it (not a folder {tmp_path / 'a-file'}); nothing was done")
    (tmp_path / "ro").mkdir(mode=0o500)
    if os.access(tmp_path / "ro", os.W_OK):          # root writes anywhere
        return
    one_line(invoke(command, "--load", missing, *extra, option, tmp_path / "ro" / name), 1, "permission denied")


@pytest.mark.parametrize("command,option", [("test", "--predictions"), ("test", "--submission"), ("inspect", "--out"),
                                            ("features", "--out")])
def test_an_output_file_never_replaces_a_checkpoint_or_a_batch(tmp_path, command, option):
    """--out latest.h5, typed in a run's folder, replaced the checkpoint with the features."""
    extra = {"features": ["--layer", "conv1"]}.get(command, [])
    kinds = {"latest.h5": "a checkpoint", "data_batch_1.h5": "a batch of make-data's", "meta.h5": "make-data's meta.h5"}
    with h5py.File(tmp_path / "latest.h5", "w") as f:
        f.attrs["format"] = "convnet-checkpoint"
    with h5py.File(tmp_path / "data_batch_1.h5", "w") as f:
        f.attrs["digest"], f["images"] = "0" * 64, np.zeros((1, 3, 8, 8), np.uint8)
    with h5py.File(tmp_path / "meta.h5", "w") as f:
        f["class_names"], f["batch_sizes"] = np.array([b"a"]), np.array([1])
    for name, kind in kinds.items():
        before = (tmp_path / name).read_bytes()
        one_line(invoke(command, "--load", tmp_path / "latest.h5", *extra, option, tmp_path / name), 2,
                 f"{option} {tmp_path / name}: is {kind}, which this would replace; give another name")
        assert (tmp_path / name).read_bytes() == before


@pytest.mark.parametrize("command,option,name", [("test", "--predictions", "p.h5"), ("test", "--submission", "s.txt"),
                                                 ("inspect", "--out", "i.h5"), ("features", "--out", "f.h5"),
                                                 ("show", "--out", "s.png")])
def test_an_output_file_never_replaces_a_file_of_another_format(tmp_path, command, option, name):
    """features --out configs/layers.cfg replaced the config with the features: an existing file that
    is not what the command writes (HDF5, show's PNG, test's submission text) is not an earlier output
    of it. One that is, or an empty one, is replaced."""
    extra = {"features": ["--layer", "conv1"], "show": ["--cost"]}.get(command, [])
    writes = {".png": "PNG", ".txt": "submission text"}.get(os.path.splitext(name)[1], "HDF5")
    target = tmp_path / name
    target.write_text("[conv1]\ntype=conv\n")
    one_line(invoke(command, "--load", tmp_path / "missing.h5", *extra, option, target), 2,
             f"{option} {target}: is a file that is not {writes}, which this would replace; give another name")
    assert target.read_text() == "[conv1]\ntype=conv\n"
    begins = {"HDF5": b"\x89HDF\r\n\x1a\n", "PNG": b"\x89PNG\r\n\x1a\n", "submission text": b"7 1 10 2 3\n"}
    for earlier in (b"", begins[writes] + b"rest"):
        target.write_bytes(earlier)       # past the output check: the missing checkpoint stops it
        one_line(invoke(command, "--load", tmp_path / "missing.h5", *extra, option, target), 1, "missing.h5")


def test_a_minibatch_larger_than_a_batch_says_what_it_is(tmp_path):
    result = invoke("train", *TINY, "--train-range", "1-2", "--mini", "5000", "--epochs", "1", "--save-path", tmp_path)
    assert result.exit_code == 0, result.output
    assert "1 epoch of 2 minibatches of 2000 (whole batches: --mini 5000 is more than a batch holds)" in result.output


def test_notes_for_what_changes_nothing_or_measures_the_wrong_thing(tmp_path):
    result = invoke("train", *TINY, *FAST, "--epochs", "1", "--test-range", "1", "--tf32", "--save-path", tmp_path)
    assert result.exit_code == 0, result.output
    assert "convnet: note: batch 1 is in both the training and the test range" in result.output
    assert "convnet: note: --tf32 applies to the cuda backend" in result.output
    assert "wupdate" not in result.output
    never = invoke("train", *TINY, *FAST, "--epochs", "1", "--wupdate-freq", "21", "--save-path", tmp_path / "w")
    assert "convnet: note: --wupdate-freq 21 is more than the run's 20 minibatches: its weights will not move" \
        in never.output


def _tree(tmp_path):
    from convnet.data.sample_tree import make_tree
    make_tree(tmp_path / "jpegs")
    return tmp_path / "jpegs"


def test_make_data_labels_files_and_folders(tmp_path):
    jpegs = _tree(tmp_path)
    binary = tmp_path / "labels.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    one_line(invoke("make-data", "--images", jpegs / "train", "--val-images", jpegs / "val", "--val-labels", binary,
                    "--out", tmp_path / "o1", "--size", "32", "--workers", "1"), 1, "not a text file")
    lines = (jpegs / "val_labels.csv").read_text().splitlines()
    lines[2] = lines[2].split(",")[0]
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines) + "\n")
    one_line(invoke("make-data", "--images", jpegs / "train", "--val-images", jpegs / "val", "--val-labels", short,
                    "--out", tmp_path / "o2", "--size", "32", "--workers", "1"), 1, f"{short}:3:", "has no label")
    empty = jpegs / "train" / "n99999999"
    empty.mkdir()
    big = Image.new("RGB", (1, 1))
    Image.MAX_IMAGE_PIXELS, saved = 40_000, Image.MAX_IMAGE_PIXELS     # the 90x140 pictures pass, the rest do not
    try:
        result = invoke("make-data", "--images", jpegs / "train", "--out", tmp_path / "o3", "--size", "32",
                        "--workers", "1")
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    assert result.exit_code == 0, result.output
    assert f"convnet: note: {empty}: no images" in result.output
    assert "convnet: note: no --val-images" in result.output
    assert big.size == (1, 1)
    report = (tmp_path / "o3/report.txt").read_text()
    assert "too many pixels" in report and "written" in report


def test_an_imagenet_batch_with_a_label_outside_the_classes(tmp_path):
    jpegs = _tree(tmp_path)
    result = invoke("make-data", "--images", jpegs / "train", "--val-images", jpegs / "val", "--val-labels",
                    jpegs / "val_labels.csv", "--out", tmp_path / "b", "--size", "32", "--workers", "1")
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "b/data_batch_1.h5", "r+") as f:
        labels = f["labels"][()]
        labels[0] = 1000
        f["labels"][...] = labels
        from convnet.data.provider import batch_checksum      # a whole batch, as its writer meant it
        f.attrs["crc32"] = batch_checksum(f["images"][()], labels)
    with pytest.raises(ConvnetError, match=r"labels must be \d+ class numbers in 0\.\.2"):
        get_provider("imagenet", str(tmp_path / "b")).read_batch(1)
    assert np.all(labels[1:] < 3)


def test_ctrl_c_outside_training_is_interrupted_and_an_eof_error_is_not(monkeypatch):
    import convnet.graph
    args = ["describe", "--layers", ROOT / "configs/layers.cfg", "--params", ROOT / "configs/params.cfg",
            "--input-size", "32"]
    for raised in (KeyboardInterrupt(), EOFError("marshal data too short")):
        def stop(*_args, raised=raised, **_kwargs):
            raise raised
        monkeypatch.setattr(convnet.graph, "load_graph", stop)
        result = invoke(*args)
        if isinstance(raised, KeyboardInterrupt):
            assert result.exit_code == 130 and result.stderr == "convnet: interrupted\n" and result.stdout == ""
        else:           # click would say 'interrupted' too: an EOFError is a file cut short, not a Ctrl-C
            assert result.exit_code == 1 and "interrupted" not in result.output, result.output
            assert str(result.exception) == "EOFError: marshal data too short"


def test_running_out_of_memory_is_one_line_that_says_what_to_shrink(monkeypatch):
    import convnet.graph
    args = ["describe", "--layers", ROOT / "configs/layers.cfg", "--params", ROOT / "configs/params.cfg",
            "--input-size", "32"]
    for raised, said in ((MemoryError("Unable to allocate 3.20 GiB for an array with shape (363, 2367488)"),
                          "Unable to allocate 3.20 GiB for an array with shape (363, 2367488)"),
                         (MemoryError(), "MemoryError")):
        def stop(*_args, raised=raised, **_kwargs):
            raise raised
        monkeypatch.setattr(convnet.graph, "load_graph", stop)
        result = invoke(*args)
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr == (f"convnet: error: not enough memory for this ({said}); try a smaller --mini, "
                                 f"--image-size or net\n")


def test_convnet_alone_shows_its_help_and_an_unknown_command_is_one_line():
    from importlib.metadata import version
    alone = CliRunner().invoke(main, [], prog_name="convnet")
    assert alone.exit_code == 0 and alone.stdout.startswith("Usage: convnet [OPTIONS] COMMAND [ARGS]...")
    assert all(f"  {command} " in alone.stdout for command in ("train", "test", "describe", "check-grads", "show"))
    said = CliRunner().invoke(main, ["--version"], prog_name="convnet")
    assert said.exit_code == 0 and said.stdout == f"convnet, version {version('convnet')}\n"
    unknown = invoke("trian", *TINY)          # on stderr, and no "-h for help" of a command there is none of
    assert unknown.exit_code == 2 and unknown.stdout == "" and unknown.stderr.count("\n") == 1
    assert unknown.stderr.startswith("convnet: error: No such command 'trian'") and "-h for help" not in unknown.stderr


def test_a_usage_error_of_a_command_is_one_line_on_stderr_that_says_where_its_help_is(tmp_path):
    """click's own errors (their words are click's): a missing option, a folder for a file, a seed past
    int64 (the checkpoint's)."""
    for args, words in ((["--layers", TINY[1]], ["'--params'"]),
                        (["--layers", tmp_path, "--params", TINY[3]], ["'--layers'", str(tmp_path), "directory"]),
                        ([*TINY, "--seed", str(2 ** 63)], ["'--seed'", str(2 ** 63), "9223372036854775807"])):
        run = invoke("check-grads", *args)
        assert run.exit_code == 2 and run.stdout == "" and run.stderr.count("\n") == 1, run.output
        assert run.stderr.startswith("convnet: error: ") and run.stderr.endswith(" (convnet check-grads -h for help)\n")
        assert all(word in run.stderr for word in words), run.stderr


def test_the_largest_seed_is_taken():
    run = invoke("check-grads", *TINY, "--seed", str(2 ** 63 - 1), "--samples", "2")
    assert run.exit_code == 0 and "layers within the tolerance" in run.stdout, run.output
