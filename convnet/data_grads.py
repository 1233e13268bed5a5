"""`convnet show --data-grads`: the first test images, each above the gradient of the net's cost with
respect to its pixels: where a change of the image would change the cost most (a saliency map).

The 2012 shownet.py drew it (--show-data-grad, do_show_data_grad), though its GPU side was left
commented out in that release (src/worker.cu, DataGradWorker::run); the picture is drawn as shownet drew
it: per image, the gradient less its mean, the values within 3 standard deviations of the mean set to
0, then scaled from the lowest value to the highest, its three channels as RGB. The cost is the
training objective on the true labels (every cost layer, by its coeff), with the net as the test runs
it (no dropout, no noise).
"""
import numpy as np
from PIL import Image, ImageDraw

from .errors import OptionError


def data_gradients(net, data, count):
    """(views, labels, gradients, the batch's images): the first `count` test images and the gradient of
    the cost with respect to each, in the views' layout (channels, rows, cols, images)."""
    from convnet.data.loader import labels_row
    from .show import first_test_views
    inputs = [layer for layer in net.graph.data_layers if layer.conf.dataIdx == 0]
    if not inputs:
        raise OptionError("--data-grads: the net has no data layer of images (dataIdx=0)")
    view, labels, images = first_test_views(data, count)
    net.forward([view, labels_row(labels)], train=False)
    net.backward(data_grads=True)
    return view, labels, net.gradient(inputs[0].name), images


def shownet_shades(gradient):
    """One image's gradient (channels, rows, cols) as uint8 shades, as shownet drew it."""
    from .show import _scaled
    g = np.asarray(gradient, np.float64) - np.mean(gradient)
    g[np.abs(g) < 3 * g.std()] = 0
    return _scaled(g)


def data_grads_panel(net, data, count=8):
    from .show import BACKGROUND, FONT, INK, _mean_view, _picture, class_name, titled
    view, labels, grads, images = data_gradients(net, data, count)
    mean, width = _mean_view(data, images), 96
    cells = []
    for j in range(view.shape[-1]):
        picture = _picture(view[..., j], mean, width)
        shades = shownet_shades(grads[..., j]).transpose(1, 2, 0)
        gradient = Image.fromarray(shades if shades.shape[2] == 3 else shades[..., 0]).convert("RGB")
        gradient = gradient.resize(picture.size, Image.Resampling.NEAREST)
        cell = Image.new("RGB", (width + 8, 2 * picture.height + 20), BACKGROUND)
        cell.paste(picture, (0, 0))
        cell.paste(gradient, (0, picture.height + 4))
        ImageDraw.Draw(cell).text((2, 2 * picture.height + 6), class_name(data, int(labels[j]))[:15], fill=INK, font=FONT)
        cells.append(cell)
    row = Image.new("RGB", (sum(c.width for c in cells), cells[0].height), BACKGROUND)
    for i, cell in enumerate(cells):
        row.paste(cell, (i * cells[0].width, 0))
    return titled(row, "the first test images over the gradient of the cost in their pixels (shownet's --show-data-grad)")
