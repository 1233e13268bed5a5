"""A checkpoint keeps a CRC-32 of the first training and the first test batch it saw; a batch that is
another one now (made again, replaced, embedded shapes drawn otherwise) is said when the run is
tested or resumed, rather than give other numbers in silence."""
import pickle

import numpy as np

from convnet.checkpoint import Checkpoint
from convnet.data.provider import batch_checksum
from tests.data.test_cifar import make_batches
from tests.training import TINY, convnet


def test_the_checkpoint_keeps_the_batches_crc(tmp_path):
    from convnet.session import DEFAULTS, Data
    convnet("train", *TINY, "--train-range", "2-3", "--mini", "100", "--epochs", "1", "--save-path", tmp_path)
    data = Data({**DEFAULTS, "train_range": "2-3"})
    kept = Checkpoint(tmp_path / "latest.h5").options["data_fingerprint"]
    assert kept == {str(n): batch_checksum(*data.provider.read_batch(n)) for n in (2, 6)}


def test_a_batch_made_again_is_said_at_test_and_at_resume(tmp_path):
    batches = make_batches(tmp_path / "b", per_batch=200)
    args = [*TINY, "--data-provider", "cifar", "--data-path", batches, "--mini", "100"]
    convnet("train", *args, "--epochs", "1", "--save-path", tmp_path / "run")
    latest = tmp_path / "run/latest.h5"
    assert "is not the one" not in convnet("test", "--load", latest).stderr
    for number in (1, 3):                     # the first training batch and the test batch, other images now
        path = batches / f"data_batch_{number}"
        batch = pickle.loads(path.read_bytes())
        batch["data"] = np.ascontiguousarray(batch["data"][:, ::-1])
        path.write_bytes(pickle.dumps(batch, protocol=2))
    tested = convnet("test", "--load", latest)
    assert tested.stderr.count("\n") == 1 and (
        f"{latest}: batch 3 of cuda-convnet batches in {batches} is not the one it was tested on (its images or "
        f"labels differ: the data was made again, or its files replaced); these numbers are not those" in tested.stderr)
    resumed = convnet("train", "--load", latest, "--epochs", "2")
    assert "batch 1 of" in resumed.stderr and "is not the one it trained on" in resumed.stderr
    assert "training goes on with the data as it is now" in resumed.stderr and "batch 3 of" in resumed.stderr
    assert "is not the one" not in convnet("test", "--load", latest).stderr      # its new checkpoint: this data


def test_embedded_shapes_drawn_otherwise_name_numpy(tmp_path, monkeypatch):
    from convnet.data.default import DefaultProvider
    from convnet.notes import send_notes_to
    from convnet.opening import open_checkpoint
    convnet("train", *TINY, "--train-range", "1", "--mini", "100", "--epochs", "1", "--save-path", tmp_path)
    monkeypatch.setattr(DefaultProvider, "fingerprint", lambda self, n: 12345)      # as another NumPy would
    said = []
    send_notes_to(said.append)
    try:
        open_checkpoint(tmp_path / "latest.h5", {})
    finally:
        send_notes_to(None)
    assert len(said) == 1 and "batch 6 of the embedded shapes, 32x32 is not the one it was tested on" in said[0]
    assert f"drawn otherwise here than where the run was: another NumPy (here {np.__version__}) or convnet" in said[0]


def test_other_data_given_on_purpose_is_not_compared(tmp_path):
    batches = make_batches(tmp_path / "b", per_batch=200)
    other = make_batches(tmp_path / "elsewhere", per_batch=200, seed=1)
    convnet("train", *TINY, "--data-provider", "cifar", "--data-path", batches, "--mini", "100", "--epochs", "1",
            "--save-path", tmp_path / "run")
    assert "is not the one" not in convnet("test", "--load", tmp_path / "run/latest.h5", "--data-path", other).stderr


def test_imagenet_batches_give_make_datas_own_crc_without_reading_their_images(tmp_path):
    import h5py
    from convnet.data import get_provider
    from tests.convnet.test_bad_inputs import _tree, invoke
    jpegs = _tree(tmp_path)
    assert invoke("make-data", "--images", jpegs / "train", "--out", tmp_path / "b", "--size", "32",
                  "--workers", "1").exit_code == 0
    provider = get_provider("imagenet", str(tmp_path / "b"))
    with h5py.File(tmp_path / "b/data_batch_1.h5", "r") as f:
        stored, computed = int(f.attrs["crc32"]), batch_checksum(f["images"][()], f["labels"][()])
    assert provider.fingerprint(1) == stored == computed
    with h5py.File(tmp_path / "b/data_batch_1.h5", "r+") as f:
        del f.attrs["crc32"]                    # a batch of before the CRC: computed from what is read
    assert provider.fingerprint(1) == batch_checksum(*get_provider("imagenet", str(tmp_path / "b")).read_batch(1))
