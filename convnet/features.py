"""`convnet features`: a layer's outputs on the test range, written to HDF5 for analysis."""
import numpy as np

from .errors import OptionError
from .files import write_hdf5


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
    for batch in data.test_minibatches(mini):
        net.forward(batch, train=False)
        out = net.activation(layer)
        features.append(out.reshape(-1, out.shape[-1]).T.astype(np.float32))
        labels.append(batch[1][0].astype(np.int64))        # the row of class numbers, as the provider's
    return np.concatenate(features), np.concatenate(labels)


def write_features(path, features, labels, layer, shape):
    def fill(f):
        f["features"], f["labels"] = features, labels
        f.attrs["layer"], f.attrs["shape"] = layer, list(shape)
    write_hdf5(path, fill)
