"""cuda-convnet's own checkpoints, read into a net: `convnet import`.

The 2012 code saved a run as a folder (ConvNet__<time>/) of files named <epoch>.<batch>, each a
pickled {"model_state": ..., "op": its options} (gpumodel.py's save_state; util.py's pickle: with
--zip-save a zip file holding the pickle as "data"). Given the folder, it loaded the file that sorts
last with its numbers read as numbers (gpumodel.py's load_checkpoint and util.py's alphanum_key; those
two files are not in ../shared/reference, but are in every copy of the release). model_state["layers"]
maps each layer's name to its dict (layer.py:278-319, parse_layers), which holds, for the layers with
weights, "weights" and "weightsInc" (a matrix per input) and "biases" and "biasesInc", in the 2012
code's matrix layouts, the very ones its initWFunc returned: each layer converts them to its own
(weights_from_2012, biases_from_2012), as for initWFunc. "filterConns" holds a randSparse input's
connections. Its momentum buffer (weightsInc) is ours (inc): the 2012 code's weight gradient is the
negative of the cost's (kLogregCostGrad, src/layer_kernels.cu), so that its inc += rate * grad
(src/weights.cu:152) is our inc -= eps * grad. Its superEps running averages were never copied to the
host, so they start again.
"""
import gzip
import io
import os
import re
import zipfile

import numpy as np

from .errors import CheckpointError
from .files import SIGNATURES, describe
from .initfunc import checked_conns
from .safe_pickle import loads

_SAVED_NAME = re.compile(r"^\d+\.\d+$")           # <epoch>.<batch>


def _alphanumeric(name):
    """util.py's alphanum_key: digit runs compare as numbers (10.2 after 9.30)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def checkpoint_file(path):
    """The file to read: path itself, or in a ConvNet__<time> folder the latest of its <epoch>.<batch>
    files, as the 2012 code chose it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such cuda-convnet checkpoint (file or ConvNet__<time> folder)")
    if not os.path.isdir(path):
        return path
    try:
        names = [n for n in os.listdir(path) if _SAVED_NAME.match(n) and os.path.isfile(os.path.join(path, n))]
    except OSError as e:
        raise CheckpointError(f"{path}: cannot list it ({describe(e)})") from None
    if not names:
        raise CheckpointError(f"{path}: a folder without cuda-convnet checkpoints (files named <epoch>.<batch>, "
                              f"such as 12.345)")
    return os.path.join(path, max(names, key=_alphanumeric))


def read_2012(path):
    """(layers {name: dict}, epoch, batch, file) of a cuda-convnet checkpoint (file or folder)."""
    file = checkpoint_file(path)
    try:
        with open(file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(f"{file}: cannot read it ({describe(e)})") from None
    if data.startswith(SIGNATURES["HDF5"]):
        raise CheckpointError(f"{file}: an HDF5 file, not a cuda-convnet checkpoint (a pickle): a convnet "
                              f"checkpoint needs no import, give it to --load")
    try:
        if data[:2] == b"\x1f\x8b":                    # util.py's unpickle read gzip too
            data = gzip.decompress(data)
        elif data[:4] == b"PK\x03\x04":                # --zip-save
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = z.read("data")
        saved = loads(data, stand_ins=True)
    except Exception as e:           # a pickle, zip or gzip damaged in any of many ways
        other = (f"; it is the latest of {path}: give one of the folder's other files to import that one"
                 if file != os.fspath(path) else "")
        raise CheckpointError(f"{file}: not a readable cuda-convnet checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'damaged'}){other}") from None
    state = saved.get("model_state") if isinstance(saved, dict) else None
    layers = state.get("layers") if isinstance(state, dict) else None
    if not isinstance(layers, dict):
        raise CheckpointError(f"{file}: not a cuda-convnet checkpoint (it holds no model_state with its layers)")
    return layers, state.get("epoch"), state.get("batchnum"), file


def load_into(net, layers, file):
    """Every weighted layer's weights, biases and momentum buffers (and randSparse's connections) from
    the 2012 checkpoint's layers into net; one line naming the layer and the key for anything that does
    not fit. The names of the layers it set."""
    from .devices import transfer
    done = []
    for layer in net.layers:
        if not hasattr(layer, "weights_from_2012"):
            continue
        saved = layers.get(layer.name)
        where = f"{file}: [{layer.name}]"
        if not isinstance(saved, dict):
            raise CheckpointError(f"{where}: no such layer in the cuda-convnet checkpoint (it has: "
                                  f"{', '.join(sorted(layers))}): give the net it was saved from")
        if saved.get("type") != layer.type:
            hint = (f" (the run's --conv-to-local made it local: import with --conv-to-local {layer.name})"
                    if (saved.get("type"), layer.type) == ("local", "conv") else "")
            raise CheckpointError(f"{where}: is {saved.get('type')} in the cuda-convnet checkpoint, {layer.type} here"
                                  f"{hint}: give the net it was saved from")
        for p in layer.params:
            kind, _, index = p.name.partition("/")
            if kind == "weights" and int(index) in layer.weight_sources:
                _check_shared(layer, int(index), saved, layers, where)
                continue                            # its owner's matrix (weightSource)
            for attr, key in ((("value", "weights"), ("inc", "weightsInc")) if kind == "weights" else
                              (("value", "biases"), ("inc", "biasesInc"))):
                array = _matrix(saved, key, None if kind == "biases" else int(index), where)
                if kind == "weights":
                    i = int(index)
                    array = layer.weights_from_2012(i, _shaped(array, layer.weights_2012_shape(i), where, key, i))
                else:
                    array = layer.biases_from_2012(_shaped(array, layer.biases_2012_shape(), where, key))
                array = np.ascontiguousarray(np.reshape(array, p.value.shape), dtype=net.dtype)
                setattr(p, attr, transfer(array, None, layer.device))
            p.averages, p.grad_sum = None, None
        _load_connections(layer, saved, where)
        done.append(layer.name)
    return done


def _check_shared(layer, i, saved, layers, where):
    """A matrix the layer file shares (weightSource) must be its owner's in the checkpoint too (the 2012
    code held the very same array): one of its own there was given it by the run's --unshare-weights."""
    owner, j = layer.weight_sources[i]
    ours, theirs = (saved.get("weights") or [None] * (i + 1)), (layers.get(owner) or {}).get("weights") or []
    mine = ours[i] if i < len(ours) else None
    source = theirs[j] if j < len(theirs) else None
    if isinstance(mine, np.ndarray) and isinstance(source, np.ndarray) and not (
            mine is source or (mine.shape == source.shape and np.array_equal(mine, source))):
        raise CheckpointError(f"{where} weights[{i}]: a matrix of its own in the cuda-convnet checkpoint, "
                              f"{owner}[{j}]'s here (weightSource): the run's --unshare-weights gave it its own: "
                              f"import with --unshare-weights {layer.name}[{i}]")


def _matrix(saved, key, index, where):
    value = saved.get(key)
    if index is not None:
        if not isinstance(value, (list, tuple)) or index >= len(value):
            raise CheckpointError(f"{where} {key}: the cuda-convnet checkpoint has no matrix for input {index}")
        value = value[index]
    if not isinstance(value, np.ndarray):
        raise CheckpointError(f"{where} {key}: not an array in the cuda-convnet checkpoint")
    return value


def _shaped(array, shape, where, key, index=None):
    what = key if index is None else f"{key}[{index}]"
    if tuple(array.shape) != tuple(shape):
        raise CheckpointError(f"{where} {what}: {tuple(array.shape)} in the cuda-convnet checkpoint, the layer "
                              f"here needs {tuple(shape)}: give the net it was saved from")
    if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
        raise CheckpointError(f"{where} {what}: not finite floats in the cuda-convnet checkpoint")
    return array


class _Complaint:
    """What initfunc's checks call to say what is wrong (init.error), said of the checkpoint's key."""

    def __init__(self, where):
        self.where = where

    def error(self, message):
        return CheckpointError(f"{self.where} in the cuda-convnet checkpoint: {message}")


def _load_connections(layer, saved, where):
    """randSparse's connections (filterConns per input), checked as initCFunc's are (gen_rand_conns's
    runs of channel permutations)."""
    conns = getattr(layer, "conns", None)
    if not conns:
        return
    found = {}
    for i in conns:
        if i in layer.weight_sources:
            continue
        value = saved.get("filterConns")
        value = value[i] if isinstance(value, (list, tuple)) and i < len(value) else None
        g = layer.geo[i]
        found[f"conns/{i}"] = checked_conns(_Complaint(f"{where} filterConns[{i}]"), value if value is not None
                                            else [], g.G, g.C_in, g.Cg)
    if found:
        layer.load_state_arrays(found)


def import_run(source, options, configs, save_path, fresh_folder, echo, changes=None):
    """`convnet import`: a run at its start (latest.h5 in save_path) whose net is configs' and whose
    arrays are the cuda-convnet checkpoint's. changes (--conv-to-local, --unshare-weights, as the 2012
    run was given them): written into the configs, as the 2012 code made them to its layer dicts.
    Everything is checked on a net of its own first, so that a checkpoint that does not fit leaves no
    folder behind."""
    from .notes import note
    from .session import Data, build_net
    from .trainer import Trainer
    layers, epoch, batch, file = read_2012(source)
    data = Data(options)
    if changes:
        from .surgery import changed_configs
        configs, said = changed_configs(data, configs, options, changes)
        for line in said:
            note(line)
    load_into(build_net(data, *configs, options, restoring=True), layers, file)
    trainer = Trainer(options, configs, echo=echo, save_path=save_path, fresh_folder=fresh_folder,
                      arrays_given=True)
    done = load_into(trainer.net, layers, file)
    trainer.save_start()
    where = f" (epoch {epoch}, batch {batch} of its run)" if epoch is not None and batch is not None else ""
    echo(f"{file}{where}: the weights, biases and momentum of {len(done)} layer{'s' * (len(done) != 1)} "
         f"({', '.join(done)}) are in {trainer.latest}, a run at its start")
    echo(f"test it with convnet test --load {trainer.latest}; train on with convnet train --load "
         f"{trainer.latest} --epochs N")
    return trainer.latest
