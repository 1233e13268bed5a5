"""`convnet show --similar LAYER[,LAYER]`: the paper's Figure 4 (right). The first test images, each
beside the training images whose outputs in the layers (side by side; the paper: the last hidden
layer, 4096 values, fc7a,fc7b here) lie nearest its own in Euclidean distance, as the 2012 code's
findsimilar.py searched its features of every training batch. Every image is seen as the test sees it
(centre crop, no reflection, no noise).

The search streams: one minibatch of training images at a time, each query keeping its k nearest so
far, so that the training range need not fit in memory (ImageNet's 1.2 million images are one forward
pass over the training set; --train-range searches fewer).
"""
import numpy as np
from PIL import Image, ImageDraw

from .errors import OptionError
from .progress import progress_of


def query_features(net, data, layers, count):
    """(views, labels, features (count, dims) float64) of the first `count` images of the first test batch:
    the outputs of `layers` side by side (the paper's last hidden layer is fc7a and fc7b, one per GPU)."""
    from convnet.data.loader import labels_row
    from .show import first_test_views
    view, labels, _ = first_test_views(data, count)
    net.forward([view, labels_row(labels)], train=False)
    return view, labels, _rows(net, layers)


def _rows(net, layers):
    outs = [net.activation(layer) for layer in layers]
    return np.concatenate([out.reshape(-1, out.shape[-1]).T.astype(np.float64) for out in outs], axis=1)


def nearest(net, data, layers, queries, k=6, mini=128, on_batch=None):
    """For each row of queries: its k nearest training images as [(distance, batch, index)], nearest
    first (ties: the earlier image first), over the training range. on_batch(images) after each minibatch."""
    q2 = (queries ** 2).sum(axis=1)[:, None]
    best_d = np.full((len(queries), 0), np.inf)
    best_where = np.zeros((len(queries), 0, 2), np.int64)
    for number, indices, batch in data.test_views(data.train, mini):
        net.forward(batch, train=False)
        x = _rows(net, layers)
        d2 = np.maximum(q2 + (x ** 2).sum(axis=1)[None, :] - 2 * queries @ x.T, 0)
        where = np.broadcast_to(np.stack([np.full(indices.size, number), indices], axis=1), d2.shape + (2,))
        best_d = np.concatenate([best_d, d2], axis=1)          # the kept ones come first: ties keep them
        best_where = np.concatenate([best_where, where], axis=1)
        order = np.argsort(best_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(best_d, order, axis=1)
        best_where = np.take_along_axis(best_where, order[..., None], axis=1)
        if on_batch:
            on_batch(indices.size)
    return [[(float(np.sqrt(d)), int(b), int(i)) for d, (b, i) in zip(ds, ws)] for ds, ws in zip(best_d, best_where)]


def check_layers(net, names):
    for name in names:
        if name not in net.graph.by_name:
            raise OptionError(f"--similar: no layer named {name!r} (the net has: "
                              f"{', '.join(l.name for l in net.layers)})")
        if net[name].is_cost:
            raise OptionError(f"--similar: layer '{name}' is a cost layer: it gives its minibatch's summed cost, not "
                              f"a feature vector per image (the paper compares the last hidden layer's outputs)")


def similar_panel(net, data, names, count=5, k=6, mini=128):
    """Each of the first `count` test images, then its k nearest training images in the outputs of the
    layers `names`, side by side."""
    from .show import BACKGROUND, FONT, INK, _mean_view, _picture, class_name, stack, titled
    check_layers(net, names)
    view, labels, queries = query_features(net, data, names, count)
    with progress_of("searching the training images", data, data.train) as bar:
        found = nearest(net, data, names, queries, k, mini, on_batch=bar.advance)
    label = lambda c: class_name(data, c)[:15]
    test_mean = _mean_view(data, data.provider.read_batch(data.test[0])[0])
    rows = []
    for j, neighbours in enumerate(found):
        cells = [(_picture(view[..., j], test_mean), label(int(labels[j])), "test")]
        for distance, number, index in neighbours:
            images, train_labels = data.provider.read_batch(number)
            one = data.augmentation.test(data.augmentation.select(images, [index]))[..., 0]
            cells.append((_picture(one, _mean_view(data, images)), label(int(train_labels[index])),
                          f"{distance:.3g}"))
        width = cells[0][0].width + 8
        row = Image.new("RGB", (width * len(cells) + 8, cells[0][0].height + 30), BACKGROUND)
        draw = ImageDraw.Draw(row)
        for c, (picture, text, below) in enumerate(cells):
            x = c * width + (8 if c else 0)          # a gap between the test image and its neighbours
            row.paste(picture, (x, 0))
            draw.text((x, picture.height + 2), text, fill=INK, font=FONT)
            draw.text((x, picture.height + 15), below, fill=INK, font=FONT)
        rows.append(row)
    searched = sum(data.provider.batch_size(n) for n in data.train)
    dims = queries.shape[1]
    return titled(stack(rows), f"{'+'.join(names)}: the {k} training images nearest each test image in its {dims} "
                               f"value{'s' * (dims != 1)} (Euclidean distance below), of {searched} searched")
