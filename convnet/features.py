"""`convnet features`: a layer's outputs on the test range, written to HDF5 for analysis."""
import numpy as np

from .errors import OptionError
from .files import write_hdf5
from convnet.data.loader import evaluation_minibatches, labels_row


def extract(net, data, layer, mini=128):
    """(features (cases, dims), labels (cases,)) of `layer` on the test range, centre crops."""
    if layer not in net.graph.by_name:
        names = ", ".join(l.name for l in net.layers)
        raise OptionError(f"--layer: no layer named {layer!r} (the net has: {names})")
    if net[layer].is_cost:            # its output: the minibatch's sums, not one row per image
        inputs = " or ".join(i for i in net[layer].inputs if not net[i].is_data) or "another layer"
        raise OptionError(f"--layer {layer}: a cost layer gives its minibatch's summed cost and errors, not a "
                          f"feature per image (convnet test gives them; the features of {inputs} are per image)")
    features, labels = [], []
    for number, indices in evaluation_minibatches(data.provider, data.test, mini):
        images, batch_labels = data.provider.read_batch(number)
        images, batch_labels = data.augmentation.select(images, indices), batch_labels[indices]
        net.forward([data.augmentation.test(images), labels_row(batch_labels)], train=False)
        out = net.activation(layer)
        features.append(out.reshape(-1, out.shape[-1]).T.astype(np.float32))
        labels.append(batch_labels)
    return np.concatenate(features), np.concatenate(labels)


def write_features(path, features, labels, layer, shape):
    def fill(f):
        f["features"], f["labels"] = features, labels
        f.attrs["layer"], f.attrs["shape"] = layer, list(shape)
    write_hdf5(path, fill)
