"""Checkpoints: one HDF5 file, written to a temporary name and renamed, so a crash never leaves half
a file and the previous checkpoint survives until the new one is whole.

/                       attrs: format, version, epoch, batch (the next minibatch of the epoch), step
                        (minibatches trained), seed, the two config files' names and text, options
                        (JSON), state (JSON: learning-rate scale, plateau counters, running sums, test_owed
                        when a test batch could not be read at the test point of this position)
/layers/<name>/weights/<i>, /layers/<name>/biases                 learned arrays (float32)
/layers/<name>/weights_inc/<i>, /layers/<name>/biases_inc         momentum buffers
/layers/<name>/weights_grad_mean/<i>, .../weights_grad_mean_square/<i> (and biases_...)   superEps's running
                        means of the gradient and its square, once the parameter has stepped
/layers/<name>/weights_grad_sum/<i> (and biases_grad_sum)   --wupdate-freq's gradients summed since the
                        last update, when saved between two
/layers/<name>/conns/<i>                                         randSparse's connections (int32)
/history/<field>        one value per test point: epoch, step, train_cost, train_error, test_cost,
                        test_top1, test_topk (the cost layer's topk; test_top5 before version 2), lr_scale

Weight shapes: conv (filters, channels/groups, size, size); fc (outputs, inputs of input i); local
(rows, cols, filters, channels/groups, size, size). Biases (filters,), or (filters, rows, cols).
Everything needed to continue the run exactly is here: the random streams are counter-based, drawn
from (seed, epoch, batch, step).
"""
import hashlib
import json
import os

import h5py
import numpy as np

from .errors import CheckpointError
from .files import SIGNATURES, describe, printable, read_hdf5, write_hdf5

FORMAT, VERSION = "convnet-checkpoint", 2
HISTORY_FIELDS = ("epoch", "step", "train_cost", "train_error", "test_cost", "test_top1", "test_topk", "lr_scale")
RENAMED = {"test_topk": "test_top5"}         # version 1's names


def _buffer_name(param_name, suffix="inc"):
    """weights/0 -> weights_inc/0, biases -> biases_inc: a parameter's buffer of that kind."""
    kind, _, index = param_name.partition("/")
    return f"{kind}_{suffix}/{index}" if index else f"{kind}_{suffix}"


# superEps's running means of the gradient and of its square (Parameter.averages), once it has stepped
AVERAGES = ("grad_mean", "grad_mean_square")


def save(path, net, position, configs, options, state, history, watch=None):
    """Write a checkpoint atomically (files.write_hdf5). position: (epoch, batch, step); configs:
    (layers name, layers text, params name, params text). NonFinite, and nothing written, if a
    learned array holds a NaN or an infinity."""
    arrays = {}
    for p in net.parameters():
        group = f"layers/{p.layer.name}"
        arrays[f"{group}/{p.name}"] = net.backend.to_host(p.value, p.layer.device)
        if not np.all(np.isfinite(arrays[f"{group}/{p.name}"])):
            raise NonFinite(f"{p.layer.name}/{p.name}")
        arrays[f"{group}/{_buffer_name(p.name)}"] = net.backend.to_host(p.inc, p.layer.device)
        for suffix, average in zip(AVERAGES, p.averages or ()):
            arrays[f"{group}/{_buffer_name(p.name, suffix)}"] = net.backend.to_host(average, p.layer.device)
        if p.grad_sum is not None:        # saved between two updates of --wupdate-freq
            arrays[f"{group}/{_buffer_name(p.name, 'grad_sum')}"] = net.backend.to_host(p.grad_sum, p.layer.device)
    for layer in net.layers:
        for name, array in getattr(layer, "state_arrays", dict)().items():
            arrays[f"layers/{layer.name}/{name}"] = array

    attrs = dict(format=FORMAT, version=VERSION, epoch=position[0], batch=position[1], step=position[2],
                 seed=net.seed, layers_file=printable(configs[0]), layers_cfg=configs[1],
                 params_file=printable(configs[2]), params_cfg=configs[3], options=json.dumps(options),
                 state=json.dumps(state))
    for field in HISTORY_FIELDS:
        arrays[f"history/{field}"] = np.array([h[field] for h in history], dtype=np.float64)
    if watch:              # --watch's statistics per test point, as UTF-8 JSON
        arrays["watch"] = np.frombuffer(json.dumps(watch).encode("utf-8"), dtype=np.uint8)

    def fill(f):
        for key, value in attrs.items():
            f.attrs[key] = value
        f.attrs["digest"] = _digest(attrs, arrays)
        for key, array in arrays.items():
            f[key] = array
    write_hdf5(path, fill)


def _digest(attrs, arrays):
    """SHA-256 over every attribute and array: flipped bits that HDF5 reads without complaint (a weight,
    an epoch number) are found when the checkpoint is read."""
    h = hashlib.sha256()
    for key in sorted(attrs):
        h.update(f"{key}={attrs[key]}\n".encode())
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# The other HDF5 files convnet writes, by a dataset only they hold: a user who passes one for a
# checkpoint is told what it is and where it belongs.
OTHER_FILES = (("class_names", "make-data's meta.h5: its folder is a --data-path"),
               ("images", "a make-data batch: its folder is a --data-path"),
               ("probs", "test --predictions' output"),
               ("features", "convnet features' output"),
               ("activations", "inspect --out's output"))


def _what_else(f):
    for key, what in OTHER_FILES:
        if key in f:
            return f" (it is {what})"
    return ""


def _an_hdf5_file(path):
    """A file that does not begin as HDF5 files do is no checkpoint, truncated or whole: say what it
    looks like (a config file given for --load) rather than pass on HDF5's 'file signature not found'."""
    try:
        with open(path, "rb") as f:
            start = f.read(512)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read it ({describe(e)})") from None
    if start.startswith(SIGNATURES["HDF5"]):
        return
    if not start:
        raise CheckpointError(f"{path}: not a convnet checkpoint (it is empty)")
    if start[:2] == b"\x80\x02" or start[:4] == b"PK\x03\x04":      # what the 2012 code's util.pickle wrote
        raise CheckpointError(f"{path}: not a convnet checkpoint but a pickle or a zip file{_if_2012(path)}")
    if b"\0" not in start and "\ufffd" not in start.decode("utf-8", errors="replace"):
        config = b"[" in start and b"=" in start
        raise CheckpointError(f"{path}: not a convnet checkpoint but a text file{' (a config file?)' * config}; give "
                              f"a run's latest.h5 or best.h5")
    raise CheckpointError(f"{path}: not a convnet checkpoint, or one damaged at its start: it does not begin as "
                          f"HDF5 files do")


def _if_2012(path):
    """The hint for a cuda-convnet checkpoint given where ours is wanted: how to make it a run."""
    from .import_2012 import checkpoint_file
    try:
        checkpoint_file(path)
    except CheckpointError:
        return ""
    return (f" (a cuda-convnet checkpoint? convnet import {path} --layers L --params P makes it a convnet run, "
            f"with the layer files it was trained with)")


def latest_of(path):
    """path, or for a run's folder its latest.h5: the 2012 code's -f took a run's save folder for its
    latest checkpoint (run4.sh:3). A folder with no latest.h5 (a cuda-convnet ConvNet__ folder, an
    empty one) stays as it is, for Checkpoint's own line to name."""
    latest = os.path.join(path, "latest.h5")
    return latest if os.path.isdir(path) and os.path.isfile(latest) else path


class NonFinite(ValueError):
    """A learned array with a NaN or an infinity: save() writes no such checkpoint (its message: the array)."""


class Checkpoint:
    """A checkpoint read whole into memory; every problem is a one-line CheckpointError."""

    def __init__(self, path):
        self.path = str(path)
        if not os.path.exists(path):
            raise CheckpointError(f"{path}: no such checkpoint")
        if os.path.isdir(path):          # a run's folder given for its checkpoint
            latest = os.path.join(path, "latest.h5")
            hint = (f": its run's checkpoint is {latest}" if os.path.isfile(latest) else _if_2012(path)
                    or ", and holds no run's latest.h5")
            raise CheckpointError(f"{path}: is a folder, not a checkpoint{hint}")
        _an_hdf5_file(path)
        try:
            with read_hdf5(path) as f:
                if f.attrs.get("format") != FORMAT:
                    raise CheckpointError(f"{path}: not a convnet checkpoint{_what_else(f)}")
                if int(f.attrs["version"]) > VERSION:
                    raise CheckpointError(f"{path}: written by a newer convnet (format {f.attrs['version']})")
                self.epoch, self.batch, self.step = (int(f.attrs[k]) for k in ("epoch", "batch", "step"))
                self.seed = int(f.attrs["seed"])
                self.layers_file, self.layers_cfg = str(f.attrs["layers_file"]), str(f.attrs["layers_cfg"])
                self.params_file, self.params_cfg = str(f.attrs["params_file"]), str(f.attrs["params_cfg"])
                self.options = json.loads(f.attrs["options"])
                self.state = json.loads(f.attrs["state"])
                self.arrays = {}
                f["layers"].visititems(lambda name, obj: self.arrays.__setitem__(name, obj[()])
                                       if isinstance(obj, h5py.Dataset) else None)
                columns = {field: f[f"history/{field if field in f['history'] else RENAMED.get(field, field)}"][()]
                           for field in HISTORY_FIELDS}
                self.history = [{field: float(columns[field][i]) for field in HISTORY_FIELDS}
                                for i in range(len(columns["epoch"]))]
                self.watch = json.loads(bytes(f["watch"][()]).decode("utf-8")) if "watch" in f else []
                if "digest" in f.attrs:            # checkpoints from before it have none
                    attrs = {k: v for k, v in f.attrs.items() if k != "digest"}
                    arrays = {f"layers/{k}": v for k, v in self.arrays.items()}
                    arrays.update({f"history/{k}": f[f"history/{k}"][()] for k in f["history"]})
                    if "watch" in f:
                        arrays["watch"] = f["watch"][()]
                    if _digest({k: _attr(v) for k, v in attrs.items()}, arrays) != _attr(f.attrs["digest"]):
                        raise CheckpointError(f"{path}: corrupt: its contents do not match the checksum written "
                                              f"with them (a damaged disk or copy); use an earlier checkpoint")
        except CheckpointError:
            raise
        except Exception as e:              # h5py's errors on damaged files are of many kinds
            raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({_short(e)})") from None

    @property
    def arrays_digest(self):
        """The SHA-256 of the learned arrays alone: the same net (a path given twice, a copy) has the same."""
        return _digest({}, self.arrays)

    @property
    def configs(self):
        """(layers name, layers text, params name, params text): the net it was saved from."""
        return self.layers_file, self.layers_cfg, self.params_file, self.params_cfg

    def restore(self, net):
        """Copy the learned arrays, momentum buffers, superEps's averages and --wupdate-freq's sums into net,
        checking every shape."""
        from .devices import transfer
        for p in net.parameters():
            for attr, name in (("value", p.name), ("inc", _buffer_name(p.name))):
                key = f"{p.layer.name}/{name}"
                if key not in self.arrays:
                    raise CheckpointError(f"{self.path}: has no {key}: it was saved from another net")
                array = self.arrays[key]
                if array.shape != tuple(p.value.shape):
                    raise CheckpointError(f"{self.path}: {key} is {array.shape}, the net needs "
                                          f"{tuple(p.value.shape)}")
                setattr(p, attr, transfer(array.astype(net.dtype), None, p.layer.device))
            keys = [f"{p.layer.name}/{_buffer_name(p.name, suffix)}" for suffix in AVERAGES]
            p.averages = tuple(transfer(self.arrays[k].astype(net.dtype), None, p.layer.device) for k in keys) \
                if all(k in self.arrays for k in keys) else None     # superEps before its first step: none
            key = f"{p.layer.name}/{_buffer_name(p.name, 'grad_sum')}"
            p.grad_sum = transfer(self.arrays[key].astype(net.dtype), None, p.layer.device) \
                if key in self.arrays else None
        for layer in net.layers:
            wanted = getattr(layer, "state_arrays", dict)()
            found = {name: self.arrays[f"{layer.name}/{name}"] for name in wanted if f"{layer.name}/{name}" in self.arrays}
            if len(found) != len(wanted):
                missing = next(name for name in wanted if name not in found)
                raise CheckpointError(f"{self.path}: has no {layer.name}/{missing}: it was saved from another net")
            for name, array in found.items():
                if array.shape != np.shape(wanted[name]):
                    raise CheckpointError(f"{self.path}: {layer.name}/{name} is {array.shape}, the net needs "
                                          f"{np.shape(wanted[name])}")
            if found:
                layer.load_state_arrays(found)


def _attr(value):
    """An attribute as it was written (h5py gives numpy scalars and str back)."""
    return value.item() if isinstance(value, np.generic) else value


def _short(e):
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:160]
