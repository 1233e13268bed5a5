"""convnet import: cuda-convnet's checkpoints, written here as the 2012 code wrote them (a pickled
{"model_state", "op"}, its layers' matrices in the 2012 layouts), made into convnet runs that compute
what the net they came from computes."""
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from convnet.checkpoint import Checkpoint
from convnet.errors import CheckpointError
from convnet.graph import load_graph
from convnet.import_2012 import checkpoint_file, load_into, read_2012
from convnet.net import Net
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet, parse_test_lines, strict_json, tiny_checkpoint

EVERY = ROOT / "configs/every-layer.cfg", ROOT / "configs/every-layer-params.cfg"


def as_2012(kind, name, array):
    """Our array as the 2012 code held it, written from its own sources rather than from our layers'
    conversions: a conv's weights (filterChannels * filterSize^2, filters), rows in (channel, row, col)
    order (shownet.py:162, 133); a local layer's (positions * filterChannels * filterSize^2, filters)
    (shownet.py:167); an fc's and a treefc's (inputs, outputs) in Fortran order (layer.py:883, 903); biases
    (filters [* positions], 1), filter-major (layer.py:1073, 1087, and conv_to_local's repeat, layer.py:935),
    or (1, outputs) (layer.py:884)."""
    if name == "biases":
        return np.ascontiguousarray(array.reshape(-1, 1) if kind in ("conv", "local") else array.reshape(1, -1))
    if kind == "conv":
        return np.ascontiguousarray(array.reshape(array.shape[0], -1).T)
    if kind == "local":
        return np.ascontiguousarray(array.transpose(0, 1, 3, 4, 5, 2).reshape(-1, array.shape[2]))
    return np.asfortranarray(array.T)


def layers_2012(types_of, arrays):
    """model_state["layers"] for our arrays ({"layer/weights/0": ...}, as a checkpoint holds them): the
    weight layers' dicts, with a shared matrix (weightSource) the very object of its owner's."""
    layers = {}
    for key in sorted(arrays):
        layer, _, name = key.partition("/")
        kind = types_of[layer]
        d = layers.setdefault(layer, {"name": layer, "type": kind, "weights": [], "weightsInc": [], "inputs": [0],
                                      "epsW": [0.01], "neuron": {"type": "relu", "params": {}}, "gpu": 0})
        if name.startswith("weights/") or name.startswith("weights_inc/"):
            what, index = ("weights", int(name[8:])) if name.startswith("weights/") else ("weightsInc", int(name[12:]))
            d[what] += [None] * (index + 1 - len(d[what]))
            d[what][index] = as_2012(kind, "weights", arrays[key])
        elif name in ("biases", "biases_inc"):
            d["biases" if name == "biases" else "biasesInc"] = as_2012(kind, "biases", arrays[key])
        elif name.startswith("conns/"):
            d.setdefault("filterConns", [[], []])[int(name[6:])] = [int(c) for c in arrays[key]]
    return layers


def write_2012(path, layers, epoch=3, batch=2, zip_save=False, py2_names=True):
    """The file save_state wrote: {"model_state", "op"}, op an instance of the 2012 code's options module's
    OptionsParser (a module we do not have: it must read without it)."""
    options = types.ModuleType("options")

    OptionsParser = type("OptionsParser", (), {"__module__": "options", "__qualname__": "OptionsParser"})
    options.OptionsParser = OptionsParser
    op = OptionsParser()
    op.options = {"layer_def": "layers-145.cfg", "mini": 128}
    sys.modules["options"] = options
    try:
        blob = pickle.dumps({"model_state": {"layers": layers, "epoch": epoch, "batchnum": batch,
                                             "train_outputs": [({"logprob": [2.3, 0.9]}, 128)], "test_outputs": []},
                             "op": op}, protocol=2)
    finally:
        del sys.modules["options"]
    if py2_names:                 # what NumPy 1.x under Python 2 wrote
        blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    if zip_save:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("data", blob)
    else:
        path.write_bytes(blob)
    return path


def every_layer_net(seed):
    graph = load_graph(*EVERY, [(3, 9, 9), (1,)], data_info={"classes": 10})
    return Net(graph, backend="numpy", seed=seed)


def net_arrays(net, rng):
    """{"layer/weights/0": ...} of a net's weight layers, with momentum buffers drawn at random (a fresh
    net's are zero, which would hide a buffer read from the wrong place)."""
    out = {}
    for p in net.parameters():
        if p.value is None or getattr(p, "source", None) is not None:
            continue
        kind, _, index = p.name.partition("/")
        inc = f"{kind}_inc/{index}" if index else f"{kind}_inc"
        p.inc = rng.standard_normal(p.value.shape).astype(np.float32)
        out[f"{p.layer.name}/{p.name}"], out[f"{p.layer.name}/{inc}"] = p.value, p.inc
    for layer in net.layers:
        for name, array in getattr(layer, "state_arrays", dict)().items():
            out[f"{layer.name}/{name}"] = array
    return out


def test_every_weighted_layer_type_reads_back_what_was_saved(tmp_path):
    """conv (shared and unshared biases, randSparse, a weightSource), local, fc and treefc: every array
    and momentum buffer, and the connections, come back in our layouts; the net computes the same."""
    source = every_layer_net(seed=1)
    saved = net_arrays(source, np.random.default_rng(0))
    types_of = {layer.name: layer.type for layer in source.layers}
    assert {"conv", "local", "fc", "treefc"} <= {types_of[k.split("/")[0]] for k in saved}
    assert any("/conns/" in k for k in saved)
    dicts = with_shared(source, layers_2012(types_of, saved))
    assert any(d["weights"][0] is dicts["sparse1"]["weights"][1] for d in dicts.values() if d["name"] == "shared1")
    layers, epoch, batch, file = read_2012(write_2012(tmp_path / "3.2", dicts))
    assert (epoch, batch, file) == (3, 2, str(tmp_path / "3.2"))
    target = every_layer_net(seed=2)
    done = load_into(target, layers, file)
    assert set(done) == {k.split("/")[0] for k in saved}
    got = net_arrays_unchanged(target)
    for key, array in saved.items():
        np.testing.assert_array_equal(got[key], array, err_msg=key)
    rng = np.random.default_rng(4)
    batch = [rng.standard_normal((3, 9, 9, 6)).astype(np.float32), rng.integers(0, 5, (1, 6)).astype(np.float32)]
    a, b = source.forward(batch, train=False), target.forward(batch, train=False)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def with_shared(net, dicts, copy=False):
    """dicts with each shared matrix (weightSource) its owner's very array, as layer.py:800 held it, or
    (copy) an equal array of its own, as a pickle written elsewhere might hold it."""
    for layer in net.layers:
        for i, (owner, j) in getattr(layer, "weight_sources", {}).items():
            d = dicts.setdefault(layer.name, {"name": layer.name, "type": layer.type, "weights": [], "weightsInc": []})
            for key in ("weights", "weightsInc"):
                d[key] += [None] * (i + 1 - len(d[key]))
                d[key][i] = dicts[owner][key][j].copy() if copy else dicts[owner][key][j]
    return dicts


def every_layer_2012(tmp_path, change=None, copy=False):
    """The every-layer net's arrays written as a 2012 checkpoint, after change(dicts); loaded into
    another every-layer net: (the net it came from, the net loaded)."""
    source = every_layer_net(seed=1)
    dicts = with_shared(source, layers_2012({layer.name: layer.type for layer in source.layers},
                                            net_arrays(source, np.random.default_rng(0))), copy)
    if change:
        change(dicts)
    target = every_layer_net(seed=2)
    load_into(target, *read_2012(write_2012(tmp_path / "3.2", dicts))[::3])
    return source, target


def test_a_gzipped_checkpoint_and_a_shared_matrix_held_as_an_equal_copy_read(tmp_path):
    """util.py's unpickle read gzip files too; a copy of the owner's matrix is the owner's."""
    import gzip
    source, target = every_layer_2012(tmp_path, copy=True)
    np.testing.assert_array_equal(target["shared1"].params[0].value, source["shared1"].params[0].value)
    (tmp_path / "3.3").write_bytes(gzip.compress((tmp_path / "3.2").read_bytes()))
    assert read_2012(tmp_path / "3.3")[1:3] == (3, 2)


@pytest.mark.parametrize("change,said", [
    (lambda d: d["fc1"]["weights"][0].__setitem__((0, 0), np.nan), "[fc1] weights[0]: not finite floats in"),
    (lambda d: d["fc1"]["weights"].__setitem__(0, d["fc1"]["weights"][0].astype(np.int32)),
     "[fc1] weights[0]: not finite floats in"),
    (lambda d: d["sparse1"]["weights"].pop(), "[sparse1] weights: the cuda-convnet checkpoint has no matrix for "
                                              "input 1"),
    (lambda d: d["shared1"]["weights"].__setitem__(0, d["shared1"]["weights"][0] + 1),
     "[shared1] weights[0]: a matrix of its own in the cuda-convnet checkpoint, sparse1[1]'s here"),
])
def test_a_checkpoint_of_broken_or_missing_matrices_is_one_line(tmp_path, change, said):
    with pytest.raises(CheckpointError) as e:
        every_layer_2012(tmp_path, change, copy=True)
    assert str(e.value).startswith(f"{tmp_path / '3.2'}") and said in str(e.value), str(e.value)


def net_arrays_unchanged(net):
    out = {}
    for p in net.parameters():
        if p.value is None or getattr(p, "source", None) is not None:
            continue
        kind, _, index = p.name.partition("/")
        out[f"{p.layer.name}/{p.name}"] = p.value
        out[f"{p.layer.name}/{kind}_inc/{index}" if index else f"{p.layer.name}/{kind}_inc"] = p.inc
    for layer in net.layers:
        for name, array in getattr(layer, "state_arrays", dict)().items():
            out[f"{layer.name}/{name}"] = array
    return out


def test_a_folder_gives_its_latest_file_by_the_numbers_and_zip_save_reads(tmp_path):
    folder = tmp_path / "ConvNet__2012-09-13_03.43.56"
    folder.mkdir()
    for name in ("9.30", "10.2", "2.100"):
        write_2012(folder / name, {}, epoch=int(name.split(".")[0]), batch=int(name.split(".")[1]),
                   zip_save=name == "10.2")
    (folder / "notes.txt").write_text("not a checkpoint")
    assert checkpoint_file(str(folder)) == str(folder / "10.2")             # not 9.30, as text would sort
    assert read_2012(str(folder))[1:3] == (10, 2)
    (folder / "11.1").write_bytes((folder / "9.30").read_bytes()[:40])    # killed while it saved
    with pytest.raises(CheckpointError) as e:
        read_2012(folder)
    assert str(e.value).startswith(f"{folder / '11.1'}: not a readable cuda-convnet checkpoint (") and \
        str(e.value).endswith(f"; it is the latest of {folder}: give one of the folder's other files to import "
                              f"that one")
    assert read_2012(folder / "10.2")[1:3] == (10, 2)


@pytest.mark.parametrize("content, said", [
    (b"", "not a readable cuda-convnet checkpoint"),
    (b"[conv1]\ntype=conv\n", "not a readable cuda-convnet checkpoint"),
    (pickle.dumps({"layers": {}}, protocol=2), "not a cuda-convnet checkpoint (it holds no model_state"),
    (b"cos\nsystem\n(S'touch ran'\ntR.", "not a cuda-convnet checkpoint"),     # os.system("touch ran")
])
def test_what_is_not_a_checkpoint_is_one_line(tmp_path, content, said, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "1.1").write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        read_2012(str(tmp_path / "1.1"))
    assert str(e.value).startswith(f"{tmp_path / '1.1'}: {said}"), str(e.value)
    assert not (tmp_path / "ran").exists()                  # a pickle runs no code


def test_a_convnet_checkpoint_needs_no_import(tmp_path):
    import h5py
    with h5py.File(tmp_path / "latest.h5", "w") as f:
        f.attrs["format"] = "convnet-checkpoint"
    with pytest.raises(CheckpointError) as e:
        read_2012(tmp_path / "latest.h5")
    assert str(e.value) == (f"{tmp_path / 'latest.h5'}: an HDF5 file, not a cuda-convnet checkpoint (a pickle): a "
                            f"convnet checkpoint needs no import, give it to --load")


def test_an_empty_folder_and_a_missing_path(tmp_path):
    with pytest.raises(CheckpointError, match="a folder without cuda-convnet checkpoints"):
        checkpoint_file(str(tmp_path))
    with pytest.raises(CheckpointError, match="no such cuda-convnet checkpoint"):
        checkpoint_file(str(tmp_path / "gone"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A trained tiny net's checkpoint and the same net as a cuda-convnet checkpoint."""
    path = tiny_checkpoint(tmp_path_factory)
    checkpoint = Checkpoint(path)
    types_of = {"conv1": "conv", "fc10": "fc"}
    saved = {k: v for k, v in checkpoint.arrays.items() if k.split("/")[0] in types_of}
    folder = tmp_path_factory.mktemp("ConvNet__2012")
    write_2012(folder / "1.1", layers_2012(types_of, saved), epoch=1, batch=1)
    return path, folder, saved


@pytest.mark.slow
def test_the_imported_run_tests_as_the_net_it_came_from_and_trains_on(tiny, tmp_path):
    path, folder, saved = tiny
    # the run's options: the mean image subtracted is its training range's, and --mini groups the sums
    run = convnet("import", folder, *TINY, *FAST, "--save-path", tmp_path / "imported")
    latest = tmp_path / "imported/latest.h5"
    assert run.stdout.splitlines() == [
        f"{folder / '1.1'} (epoch 1, batch 1 of its run): the weights, biases and momentum of 2 layers (conv1, "
        f"fc10) are in {latest}, a run at its start",
        f"test it with convnet test --load {latest}; train on with convnet train --load {latest} --epochs N"]
    imported = Checkpoint(latest)
    for key, array in saved.items():
        np.testing.assert_array_equal(imported.arrays[key], array, err_msg=key)
    assert (imported.epoch, imported.batch, imported.step) == (1, 0, 0)
    assert strict_json(convnet("test", "--load", latest, "--json").stdout) == \
        strict_json(convnet("test", "--load", path, "--json").stdout)
    out = convnet("train", "--load", latest, "--epochs", "1").stdout            # the import's options go on
    assert "(train 1: 2000 images, test 6: 2000)" in out and [r[0] for r in parse_test_lines(out)] == ["1.20"]
    assert Checkpoint(latest).step == 20
    again = convnet("import", folder, *TINY, "--save-path", tmp_path / "imported", check=False)
    assert again.returncode == 2 and "already holds a run" in again.stderr


@pytest.mark.slow
def test_a_checkpoint_of_another_net_is_refused_and_leaves_no_folder(tiny, tmp_path):
    path, folder, saved = tiny
    other = tmp_path / "other.cfg"
    text = (ROOT / "tests/configs/tiny.cfg").read_text()
    assert "filterSize=5\npadding=2\n" in text
    other.write_text(text.replace("filterSize=5\npadding=2\n", "filterSize=3\npadding=1\n"))     # 17x17 out still
    run = convnet("import", folder, "--layers", other, "--params", TINY[3], "--save-path", tmp_path / "r",
                  check=False)
    assert run.returncode == 1 and run.stderr == (
        f"convnet: error: {folder / '1.1'}: [conv1] weights[0]: (75, 8) in the cuda-convnet checkpoint, the layer "
        f"here needs (27, 8): give the net it was saved from\n")
    assert not (tmp_path / "r").exists()
    local = tmp_path / "local.cfg"
    local.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("[fc10]\ntype=fc", "[fc11]\ntype=fc")
                     .replace("inputs=fc10", "inputs=fc11"))
    run = convnet("import", folder, "--layers", local, "--params", tmp_path / "p.cfg", "--save-path", tmp_path / "r",
                  check=False)
    assert run.returncode == 2            # the params file does not exist: a config error, before any reading
    (tmp_path / "p.cfg").write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("[fc10]", "[fc11]"))
    run = convnet("import", folder, "--layers", local, "--params", tmp_path / "p.cfg", "--save-path", tmp_path / "r",
                  check=False)
    assert run.returncode == 1 and run.stderr == (
        f"convnet: error: {folder / '1.1'}: [fc11]: no such layer in the cuda-convnet checkpoint (it has: conv1, "
        f"fc10): give the net it was saved from\n")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("zip_save", [False, True])
def test_one_given_where_a_convnet_checkpoint_is_wanted_is_told_how_to_import_it(tmp_path, zip_save):
    folder = tmp_path / "ConvNet__2012-09-13_03.43.56"
    folder.mkdir()
    write_2012(folder / "45.1253", {}, zip_save=zip_save)
    hint = "(a cuda-convnet checkpoint? convnet import {} --layers L --params P makes it a convnet run, with the " \
           "layer files it was trained with)"
    with pytest.raises(CheckpointError) as e:
        Checkpoint(folder)
    assert str(e.value) == f"{folder}: is a folder, not a checkpoint {hint.format(folder)}"
    with pytest.raises(CheckpointError) as e:
        Checkpoint(folder / "45.1253")
    assert str(e.value) == (f"{folder / '45.1253'}: not a convnet checkpoint but a pickle or a zip file "
                            f"{hint.format(folder / '45.1253')}")
    with pytest.raises(CheckpointError) as e:
        Checkpoint(tmp_path / "ConvNet__2012-09-13_03.43.56" / ".." )
    assert "cuda-convnet" not in str(e.value)          # a folder of other things: no such hint


@pytest.mark.slow
def test_the_init_functions_of_the_layer_file_are_not_called(tiny, tmp_path):
    """The arrays come from the checkpoint: an initWFunc whose module is not here (the 2012 code's initw.py
    read a checkpoint on its authors' disks) is not imported."""
    path, folder, saved = tiny
    layers = tmp_path / "tiny.cfg"
    layers.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace(
        "[conv1]\ntype=conv\n", "[conv1]\ntype=conv\ninitWFunc=initw.makew(conv1)\ninitBFunc=initw.makeb(conv1)\n"))
    convnet("import", folder, "--layers", layers, "--params", TINY[3], *FAST, "--save-path", tmp_path / "r")
    np.testing.assert_array_equal(Checkpoint(tmp_path / "r/latest.h5").arrays["conv1/weights/0"],
                                  saved["conv1/weights/0"])


@pytest.mark.slow
def test_a_run_its_conv_to_local_changed_imports_with_the_same_option(tiny, tmp_path):
    """The 2012 code's --conv-to-local made conv1 local in its layer dicts: its checkpoint holds a local
    layer's arrays for a layer file that says conv."""
    path, _, _ = tiny
    convnet("train", "--load", path, "--conv-to-local", "conv1", "--epochs", "2", "--save-path", tmp_path / "local")
    changed = Checkpoint(tmp_path / "local/latest.h5")
    saved = {k: v for k, v in changed.arrays.items() if k.split("/")[0] in ("conv1", "fc10")}
    folder = tmp_path / "ConvNet__2012"
    folder.mkdir()
    write_2012(folder / "2.1", layers_2012({"conv1": "local", "fc10": "fc"}, saved), epoch=2, batch=1)
    run = convnet("import", folder, *TINY, *FAST, "--save-path", tmp_path / "r", check=False)
    assert run.returncode == 1 and run.stderr == (
        f"convnet: error: {folder / '2.1'}: [conv1]: is local in the cuda-convnet checkpoint, conv here (the run's "
        f"--conv-to-local made it local: import with --conv-to-local conv1): give the net it was saved from\n")
    convnet("import", folder, *TINY, *FAST, "--conv-to-local", "conv1", "--save-path", tmp_path / "r")
    imported = Checkpoint(tmp_path / "r/latest.h5")
    assert "type=local" in imported.layers_cfg and imported.layers_cfg == changed.layers_cfg
    assert strict_json(convnet("test", "--load", tmp_path / "r/latest.h5", "--json").stdout) == \
        strict_json(convnet("test", "--load", tmp_path / "local/latest.h5", "--json").stdout)


@pytest.mark.slow
def test_a_run_its_unshare_weights_changed_imports_with_the_same_option(tmp_path):
    """A second fc reads the first's matrix (weightSource) until the run's --unshare-weights gave it its own:
    its checkpoint holds that matrix, which an import without the option would not read."""
    layers = tmp_path / "shared.cfg"
    layers.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace(
        "[probs]\ntype=softmax\ninputs=fc10\n",
        "[fc10b]\ntype=fc\ninputs=drop1\noutputs=10\nweightSource=fc10\n\n[both]\ntype=eltsum\ninputs=fc10,fc10b\n"
        "coeffs=0.5,0.5\n\n[probs]\ntype=softmax\ninputs=both\n"))
    params = tmp_path / "shared-params.cfg"
    params.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text() +
                      "\n[fc10b]\nepsW=0.001\nepsB=0.002\nmomW=0.9\nmomB=0.9\nwc=0.01\n")
    convnet("train", "--layers", layers, "--params", params, *FAST, "--epochs", "1", "--save-path", tmp_path / "a")
    convnet("train", "--load", tmp_path / "a/latest.h5", "--unshare-weights", "fc10b", "--epochs", "2",
            "--save-path", tmp_path / "b")
    changed = Checkpoint(tmp_path / "b/latest.h5")
    assert not np.array_equal(changed.arrays["fc10/weights/0"], changed.arrays["fc10b/weights/0"])
    types_of = {"conv1": "conv", "fc10": "fc", "fc10b": "fc"}
    folder = tmp_path / "ConvNet__2012"
    folder.mkdir()
    write_2012(folder / "2.1", layers_2012(types_of, {k: v for k, v in changed.arrays.items()
                                                      if k.split("/")[0] in types_of}))
    convnet("import", folder, "--layers", layers, "--params", params, *FAST, "--unshare-weights", "fc10b",
            "--save-path", tmp_path / "r")
    assert strict_json(convnet("test", "--load", tmp_path / "r/latest.h5", "--json").stdout) == \
        strict_json(convnet("test", "--load", tmp_path / "b/latest.h5", "--json").stdout)
    run = convnet("import", folder, "--layers", layers, "--params", params, *FAST, "--save-path", tmp_path / "s",
                  check=False)
    assert run.returncode == 1 and run.stderr == (
        f"convnet: error: {folder / '2.1'}: [fc10b] weights[0]: a matrix of its own in the cuda-convnet checkpoint, "
        f"fc10[0]'s here (weightSource): the run's --unshare-weights gave it its own: import with --unshare-weights "
        f"fc10b[0]\n")
    assert not (tmp_path / "s").exists()
