"""`convnet features`: a layer's outputs on the test range, written to HDF5 for analysis: one file,
or with --out-dir a file per test batch."""
import json
import os

import numpy as np

from .errors import OptionError
from .files import write_hdf5


def extract(net, data, layer, mini=128, batches=None, on_batch=None):
    """(features (cases, dims), labels (cases,)) of `layer` on the test range (or these of its batches),
    centre crops; the labels are -1 for the unlabelled test images. on_batch(images) after each minibatch."""
    check_layer(net, layer)
    features, labels = [], []
    for number, indices, batch in data.test_views(batches or data.test, mini):
        net.forward(batch, train=False)
        if on_batch:
            on_batch(indices.size)
        out = net.activation(layer)
        features.append(out.reshape(-1, out.shape[-1]).T.astype(np.float32))
        # the provider's own labels: -1 for an unlabelled test image, where the net was fed class 0
        labels.append(data.provider.read_batch(number)[1][indices].astype(np.int64))
    return np.concatenate(features), np.concatenate(labels)


def check_layer(net, layer):
    if layer not in net.graph.by_name:
        names = ", ".join(l.name for l in net.layers)
        raise OptionError(f"--layer: no layer named {layer!r} (the net has: {names})")
    if net[layer].is_cost:            # its output: the minibatch's sums, not one row per image
        inputs = " or ".join(i for i in net[layer].inputs if not net[i].is_data) or "another layer"
        raise OptionError(f"--layer {layer}: a cost layer gives its minibatch's summed cost and errors, not a "
                          f"feature per image (convnet test gives them; the features of {inputs} are per image)")


def write_features(path, features, labels, layer, shape):
    def fill(f):
        f["features"], f["labels"] = features, labels
        f.attrs["layer"], f.attrs["shape"] = layer, list(shape)
    write_hdf5(path, fill)


# What makes two features files of one batch the same: the net's learned arrays, the layer, and what
# the net saw (the view of the images).
VIEW_OPTIONS = ("data_provider", "data_path", "image_size", "crop", "scalar_mean", "augment")


def batch_file(folder, number):
    return os.path.join(folder, f"features_batch_{number}.h5")


def write_per_batch(folder, net, data, layer, mini, source, options, echo):
    """--out-dir: a features file per test batch (as shownet's --write-features wrote a file per batch),
    so that a range too large for memory is written a batch at a time, and a second call after a kill
    writes only the batches not there yet. A file there from another checkpoint, layer or view is
    refused rather than mixed in. source: the checkpoint's arrays_digest."""
    check_layer(net, layer)
    identity = dict(layer=layer, source=source, view=json.dumps({k: options.get(k) for k in VIEW_OPTIONS}))
    todo = []
    for number in data.test:
        path = batch_file(folder, number)
        if not os.path.exists(path):
            todo.append(number)
            continue
        found = _identity(path)
        if found != identity:
            what = next(k for k in ("source", "layer", "view") if (found or {}).get(k) != identity[k])
            because = {"source": "another checkpoint's net", "layer": f"another layer's outputs (not {layer}'s)",
                       "view": "the images seen otherwise (another --crop, --image-size or data)"}[what]
            raise OptionError(f"--out-dir {folder}: {path} holds {because if found else 'no features of ours'}; "
                              f"give another --out-dir (or remove it)")
    echo(f"{len(data.test)} test batch{'es' * (len(data.test) != 1)}: {len(data.test) - len(todo)} already "
         f"written there, {len(todo)} to write")
    shape = net[layer].output_shape
    for k, number in enumerate(todo, 1):
        features, labels = extract(net, data, layer, mini, batches=[number])

        def fill(f, features=features, labels=labels, number=number):
            f["features"], f["labels"] = features, labels
            f.attrs["layer"], f.attrs["shape"], f.attrs["batch"] = layer, list(shape), number
            f.attrs["source"], f.attrs["view"] = identity["source"], identity["view"]
        write_hdf5(batch_file(folder, number), fill)
        echo(f"wrote {batch_file(folder, number)}: /features {features.shape[0]} x {features.shape[1]} "
             f"({k} of {len(todo)})")


def _identity(path):
    from .files import read_hdf5
    try:
        with read_hdf5(path) as f:
            return {k: str(f.attrs[k]) for k in ("layer", "source", "view")}
    except Exception:        # not HDF5, not ours, or damaged: refused, never replaced
        return None
