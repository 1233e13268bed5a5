"""Checkpoints: exact round trips, atomic writes, and one clear line for a broken file."""
import re

import h5py
import numpy as np
import pytest

from convnet.checkpoint import Checkpoint, save
from convnet.errors import CheckpointError
from convnet.graph import load_graph
from convnet.net import Net
from tests.helpers import REFERENCE

GC = (REFERENCE / "cifar/layers.gc.cfg", REFERENCE / "cifar/layer-params.gc.cfg")
HISTORY = [dict(epoch=1.0, step=10, train_cost=2.1, train_error=0.8, test_cost=2.0, test_top1=0.7,
                test_topk=0.2, lr_scale=1.0)]


def make_net(seed):
    return Net(load_graph(*GC, [(3, 8, 8), (1,)]), seed=seed)


def write_checkpoint(path, net):
    save(str(path), net, (2, 5, 17), ("l.cfg", GC[0].read_text(), "p.cfg", GC[1].read_text()),
         {"seed": 3}, {"lr_scale": 0.1}, HISTORY)


def test_round_trip(tmp_path):
    a, b = make_net(1), make_net(2)
    for p in a.parameters():
        p.inc = np.random.default_rng(0).standard_normal(p.value.shape).astype(np.float32)
    write_checkpoint(tmp_path / "c.h5", a)
    c = Checkpoint(tmp_path / "c.h5")
    assert (c.epoch, c.batch, c.step, c.seed) == (2, 5, 17, 1)
    assert c.options == {"seed": 3} and c.state == {"lr_scale": 0.1} and c.history == HISTORY
    assert c.configs == ("l.cfg", GC[0].read_text(), "p.cfg", GC[1].read_text())
    c.restore(b)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
        np.testing.assert_array_equal(p.inc, q.inc)
    with h5py.File(tmp_path / "c.h5") as f:
        assert f["layers/conv32a/weights/0"].shape == (16, 3, 3, 3)
        assert f["layers/fc16c/weights/2"].shape == (16, 16 * 6 * 6)
        assert f["layers/fc10/biases_inc"].shape == (10,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]       # no temporary left behind


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "missing"])
def test_broken_checkpoints(tmp_path, damage):
    path = tmp_path / "c.h5"
    write_checkpoint(path, make_net(1))
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an hdf5 file" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(CheckpointError) as e:
        Checkpoint(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.h5"
    write_checkpoint(path, make_net(1))
    before = path.read_bytes()
    net = make_net(2)
    monkeypatch.setattr(net.backend, "to_host", lambda x, device=None: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_checkpoint(path, net)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]


@pytest.mark.parametrize("write", ["hdf5", "png"])
def test_a_failed_write_releases_the_memory_file_it_was_built_in(tmp_path, write):
    """A WriteError held (pytest.raises, a notebook's last exception) keeps the writer's frames; a view
    of the BytesIO left in one kept that BytesIO from closing ("BufferError: Existing exports of data",
    which Python 3.13 printed at garbage collection)."""
    import io
    from PIL import Image
    from convnet.files import WriteError, write_hdf5
    from convnet.show import save
    target = tmp_path / "no-such-folder" / "f"
    with pytest.raises(WriteError) as e:
        if write == "hdf5":
            write_hdf5(target, lambda f: f.create_dataset("a", data=np.arange(3)))
        else:
            save(Image.new("RGB", (4, 4)), target)
    tb, buffers = e.value.__traceback__, []
    while tb is not None:
        buffers += [v for v in tb.tb_frame.f_locals.values() if isinstance(v, io.BytesIO)]
        tb = tb.tb_next
    assert buffers
    for buffer in buffers:
        buffer.close()                     # BufferError while a view of it is alive


def test_checkpoint_of_another_net(tmp_path):
    write_checkpoint(tmp_path / "c.h5", make_net(1))
    other = Net(load_graph(REFERENCE / "cifar/layers-80sec.cfg", REFERENCE / "cifar/layer-params-80sec.cfg",
                           [(3, 32, 32), (1,)]))
    with pytest.raises(CheckpointError) as e:
        Checkpoint(tmp_path / "c.h5").restore(other)
    assert "another net" in str(e.value)


def test_files_are_read_while_another_program_holds_them_locked(tmp_path):
    """HDF5's file lock fails while another program has the file open for writing, and on file systems
    without flock (NFS, Lustre): the checkpoint and the batches are read without it (convnet never
    writes a file in place), not reported as 'unreadable or truncated'."""
    import fcntl
    import os
    from tests.training import FAST, TINY, convnet
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "run")
    latest = tmp_path / "run/latest.h5"
    fd = os.open(latest, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)           # as h5py.File(latest, "a") in a notebook holds it
        assert Checkpoint(latest).epoch == 2
        assert "cost" in convnet("test", "--load", latest).stdout
    finally:
        os.close(fd)


def test_a_folder_given_for_a_checkpoint_names_its_latest(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint, and holds no run's latest.h5$"):
        Checkpoint(tmp_path)
    (tmp_path / "latest.h5").write_bytes(b"")
    with pytest.raises(CheckpointError, match=f"is a folder, not a checkpoint: its run's checkpoint is "
                                              f"{tmp_path / 'latest.h5'}"):
        Checkpoint(tmp_path)


@pytest.mark.parametrize("key, what", [("class_names", "make-data's meta.h5"), ("images", "a make-data batch"),
                                       ("probs", "test --predictions' output"), ("features", "convnet features'"),
                                       ("activations", "inspect --out's output")])
def test_another_convnet_file_given_for_a_checkpoint_is_named(tmp_path, key, what):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f[key] = np.zeros(3)
    with pytest.raises(CheckpointError, match=f"not a convnet checkpoint \\(it is {what}"):
        Checkpoint(tmp_path / "f.h5")
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(CheckpointError, match="not a convnet checkpoint$"):
        Checkpoint(tmp_path / "g.h5")


def test_every_command_reads_a_runs_folder_as_its_latest(tmp_path):
    """As cuda-convnet's -f took a run's save folder (ConvNet__<time>) for its latest checkpoint."""
    from tests.training import FAST, TINY, convnet, strict_json
    run = tmp_path / "run"
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", run)
    latest = run / "latest.h5"
    tested = strict_json(convnet("test", "--load", latest, "--json").stdout)
    assert strict_json(convnet("test", "--load", run, "--json").stdout) == tested
    assert strict_json(convnet("test", "--load", f"{run},{latest}", "--json").stdout)["checkpoints"] == \
        [str(latest)] * 2
    assert convnet("test", "--load", f"{run}/").stdout.startswith(f"{latest} (epoch ")
    resumed = convnet("train", "--load", run, "--epochs", "2").stdout
    assert f"checkpoints in {run}" in resumed and Checkpoint(latest).epoch == 3
    for command in (["inspect"], ["features", "--layer", "fc10", "--out", tmp_path / "f.h5"],
                    ["show", "--filters", "conv1", "--out", tmp_path / "s.png"], ["describe"]):
        convnet(*command, "--load", run)
    image = tmp_path / "one.png"
    import PIL.Image
    PIL.Image.new("RGB", (40, 40), (200, 30, 30)).save(image)
    assert convnet("predict", image, "--load", run).stdout.startswith(f"{image}: ")
    import convnet as library
    net, data = library.load(run)                    # the library as the commands
    images, labels = next(data.test_minibatches(100))
    same = library.load(latest)[0]
    assert np.array_equal(net.forward([images, labels])["logprob"], same.forward([images, labels])["logprob"])
    (tmp_path / "empty").mkdir()
    result = convnet("test", "--load", tmp_path / "empty", check=False)
    assert result.returncode == 1 and result.stderr == (f"convnet: error: {tmp_path / 'empty'}: is a folder, not a "
                                                        f"checkpoint, and holds no run's latest.h5\n")


def test_a_file_that_is_not_hdf5_is_named_for_what_it_looks_like(tmp_path):
    """--load configs/layers.cfg said 'unreadable or truncated checkpoint (... file signature not found)'."""
    cases = {"layers.cfg": (b"[conv1]\ntype=conv\n", "not a convnet checkpoint but a text file (a config file?)"),
             "notes.txt": (b"a run on the shapes\n", "not a convnet checkpoint but a text file; give"),
             "cites.txt": (b"see [1]\n", "not a convnet checkpoint but a text file; give"),      # no '='
             "sums.txt": (b"2 + 2 = 4\n", "not a convnet checkpoint but a text file; give"),     # no '['
             "45.1253": (b"\x80\x02}q\x00(U\x05model" + bytes(range(256)), "not a convnet checkpoint but a pickle"),
             "run.zip": (b"PK\x03\x04\x14\x00" + bytes(range(256)), "not a convnet checkpoint but a pickle or a zip"),
             "empty.h5": (b"", "not a convnet checkpoint (it is empty)"),
             "zeroed.h5": (b"\0" * 600, "not a convnet checkpoint, or one damaged at its start")}
    for name, (content, said) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path / name}: {said}")):
            Checkpoint(tmp_path / name)
