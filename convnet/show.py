"""`convnet show`: pictures of what a net learned, drawn with Pillow into one PNG.

--filters L1,L2   each layer's filters as tiles: RGB tiles where they see 3 channels (the paper's
                  Figure 3 is --filters conv1a,conv1b), otherwise a grey tile per filter and channel
                  (the first 16 channels of the first 32 filters), all on one scale from the layer's
                  lowest weight to its highest, as shownet drew them (a weak filter looks faint);
                  --norm-filters standardises each filter first (shownet's --norm-filters). A local
                  layer's are those at its middle position; --local-plane N draws its filter N at every
                  position instead (shownet's --local-plane)
--maps L          the first test images, each with the first 16 feature maps of layer L (shownet's
                  --show-maps), on one grey scale
--preds           test images (centre crops) with their true label and the top 5 predicted classes
                  as bars of probability (the paper's Figure 4, left)
--similar L       the first test images, each with its nearest training images in layer L (similar.py)
--data-grads      the first test images, each above the gradient of the cost with respect to its
                  pixels (data_grads.py)
--cost            train and test cost, and top-1 error, at each test point of the run
--grads           what --watch recorded: gradient norms, update ratios, dead units
Panels are stacked in that order.
"""
import io
import math
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import ConvnetError, OptionError
from .files import write_buffer
from .layers.rgb2yuv import YUV

BACKGROUND, INK, GRID = (255, 255, 255), (20, 20, 20), (210, 210, 210)
FONT = ImageFont.load_default()


def _scaled(a):
    lo, hi = float(a.min()), float(a.max())
    return np.zeros(a.shape, np.uint8) if hi == lo else np.round((a - lo) / (hi - lo) * 255).astype(np.uint8)


def _filter_shades(w, norm, yuv=False):
    """Filters (count, channels, fy, fx) as uint8 shades on shownet's scale (shownet.py, plot_filters): one
    for all of them, from the lowest weight to the highest, so that a weak filter looks faint beside a
    strong one (the paper's Figure 3). norm (shownet's --norm-filters): each filter first standardised, its
    mean 0 and its variance 1 over its channels and pixels, so that each shows its pattern at full strength.
    yuv (shownet's --yuv-to-rgb): 3-channel filters of a net that sees YUV (an rgb2yuv layer) first taken
    back to RGB as shownet did, by the inverse of the rgb2yuv matrix, as if each were a YUV image."""
    w = np.asarray(w, np.float64)
    if yuv and w.shape[1] == 3:
        w = np.einsum("ck,fkyx->fcyx", np.linalg.inv(YUV), w)
    if norm:
        axes = tuple(range(1, w.ndim))
        spread = w.std(axis=axes, keepdims=True)
        w = (w - w.mean(axis=axes, keepdims=True)) / np.where(spread > 0, spread, 1)
    return _scaled(w)


def _grid(tiles, columns, gap=2):
    """One image from equal-sized HxW or HxWx3 uint8 tiles, `columns` wide."""
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    out = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        out[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = \
            t if t.ndim == 3 else t[..., None]
    return Image.fromarray(out)


def filter_tiles(layer, i=0, plane=None, norm=False, rgb=True, yuv=False):
    """The filters of the layer's input i as tiles: (tiles, columns). A local layer's filters are those at
    its middle position, or with `plane` (shownet's --local-plane) that one filter at every position, a row
    of tiles per row of positions. Filters that see 3 channels are colour tiles, or with rgb=False
    (shownet's --no-rgb) a grey tile per channel, as filters that see other numbers of channels are.
    norm, yuv: _filter_shades'."""
    w = layer.be.to_host(layer.params[i].value, layer.device) if layer.params else np.asarray(None)
    if layer.type == "local" and plane is not None:
        return _plane_tiles(w, plane, norm, rgb, yuv), w.shape[1]
    if layer.type == "local":                       # the filters at the middle position
        w = w[w.shape[0] // 2, w.shape[1] // 2]
    elif layer.type == "fc":
        shape = layer.input_shapes[i]
        if len(shape) != 3:
            raise OptionError(f"--filters: layer '{layer.name}' reads flat features: it has no filters to show")
        w = w.reshape((w.shape[0],) + shape)
    elif layer.type != "conv":
        raise OptionError(f"--filters: layer '{layer.name}' is a {layer.type} layer: it has no filters to show")
    zoom = max(1, 44 // w.shape[-1])
    grow = lambda t: np.kron(t, np.ones((zoom, zoom) + (1,) * (t.ndim - 2), np.uint8))
    shades = _filter_shades(w, norm, yuv)
    if w.shape[1] == 3 and rgb:
        return [grow(f.transpose(1, 2, 0)) for f in shades], 16
    channels = min(w.shape[1], 16)
    return [grow(shades[f, c]) for f in range(min(w.shape[0], 32)) for c in range(channels)], channels


def _sees_colours(layer, i):
    """Whether the filters of the layer's input i see 3 channels (conv, local: (..., channels, fy, fx);
    fc: its input's shape)."""
    if layer.type == "fc":
        shape = layer.input_shapes[i]
        return len(shape) == 3 and shape[0] == 3
    return layer.type in ("conv", "local") and layer.params[i].value.shape[-3] == 3


def _plane_tiles(w, plane, norm, rgb=True, yuv=False):
    """Filter `plane` of local weights (rows, cols, filters, channels, fy, fx) at each position: an RGB
    tile where it sees 3 channels (unless rgb is False), else its first 16 channels side by side; the
    positions' filters on one scale (_filter_shades)."""
    shades = _filter_shades(w[:, :, plane].reshape((-1,) + w.shape[3:]), norm, yuv)
    channels, size = shades.shape[1], shades.shape[-1]
    colour = channels == 3 and rgb
    shown = 1 if colour else min(channels, 16)
    zoom = max(1, min(44 // size, 200 // (shown * size)))     # a position's tile at most ~200 pixels wide
    grow = lambda t: np.kron(t, np.ones((zoom, zoom) + (1,) * (t.ndim - 2), np.uint8))
    if colour:
        return [grow(f.transpose(1, 2, 0)) for f in shades]
    gap = np.full((size * zoom, 1), 255, np.uint8)
    return [np.hstack([x for c in range(shown) for x in (grow(f[c]), gap)][:-1]) for f in shades]


def titled(image, title):
    """image under a line of title, widened where the title is longer than the image is wide."""
    out = Image.new("RGB", (max(image.width, math.ceil(FONT.getlength(title)) + 8), image.height + 16), BACKGROUND)
    ImageDraw.Draw(out).text((4, 2), title, fill=INK, font=FONT)
    out.paste(image, (0, 16))
    return out


def filters_panel(net, names, plane=None, norm=False, rgb=True, yuv=False):
    """Each named layer's filters: `layer` for those of its first input, `layer[i]` for input i's (shownet's
    --input-idx); with `plane`, a local layer's filter of that number at every position; norm: each filter
    standardised before the layer's one scale (shownet's --norm-filters); rgb=False, yuv: filter_tiles'
    (shownet's --no-rgb, --yuv-to-rgb), for the layers whose filters see 3 channels."""
    panels, local, colour = [], False, False
    for given in names:
        m = re.fullmatch(r"(.+?)(?:\[(\d+)\])?", given)
        name, i = m.group(1), int(m.group(2) or 0)
        if name not in net.graph.by_name:
            raise OptionError(f"--filters: no layer named {name!r}")
        layer = net[name]
        if layer.params and i >= len(layer.inputs):
            raise OptionError(f"--filters {given}: [{name}] has {len(layer.inputs)} input{'s' * (len(layer.inputs) != 1)} "
                              f"(0 to {len(layer.inputs) - 1})")
        shape = layer.params[i].value.shape if layer.params else ()   # local: (rows, cols, filters, ...)
        if layer.type == "local" and plane is not None and plane >= shape[2]:
            raise OptionError(f"--local-plane {plane}: [{name}] has {shape[2]} filters (0 to {shape[2] - 1})")
        local |= layer.type == "local"
        colour |= _sees_colours(layer, i)
        tiles, columns = filter_tiles(layer, i, plane, norm, rgb, yuv)
        which = f"{name}[{i}]" if len(layer.inputs) > 1 else name
        if layer.type == "local" and plane is not None:
            count = f"filter {plane} at each of its {shape[0]}x{shape[1]} positions"
        else:
            total = shape[2] if layer.type == "local" else shape[0]
            shown = len(tiles) // columns if tiles[0].ndim == 2 else len(tiles)     # grey: a row per filter
            count = f"{total} filters" if shown == total else f"filters 0-{shown - 1} of {total}"
            if layer.type == "local":
                count += f" at position ({shape[0] // 2}, {shape[1] // 2})"
        panels.append(titled(_grid(tiles, columns), f"{which}: {count}"))
    if plane is not None and not local:
        raise OptionError(f"--local-plane {plane}: none of {', '.join(names)} is a local layer (it chooses which "
                          f"of a local layer's filters to show)")
    for option, given in (("--no-rgb", not rgb), ("--yuv-to-rgb", yuv)):
        if given and not colour:
            raise OptionError(f"{option}: the filters of {', '.join(names)} see no 3 channels (it is for filters "
                              f"that see an image's colours)")
    return stack(panels)


def first_test_views(data, count):
    """(views, labels, the batch's images): the centre views of the first `count` images of the first test
    batch, as the test sees them, and their labels."""
    number = data.test[0]
    images, labels = data.provider.read_batch(number)
    indices = np.arange(min(count, data.provider.batch_size(number)))
    return data.augmentation.test(data.augmentation.select(images, indices)), labels[indices], images


def class_name(data, k):
    """The provider's name of class k, or its number where it names none."""
    names = data.provider.label_names
    return names[k] if k < len(names) else str(k)


def _mean_view(data, images):
    """The mean that the test view subtracted, as an image, to add back for showing."""
    return -data.augmentation.test(np.zeros_like(data.augmentation.select(images, [0])))[..., 0]


def _picture(view, mean, width=96):
    """A centre view as the RGB picture it came from, width pixels wide."""
    picture = np.clip(view + mean, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    picture = Image.fromarray(picture if picture.shape[2] == 3 else picture[..., 0]).convert("RGB")
    return picture.resize((width, width * picture.height // picture.width), Image.Resampling.NEAREST)


def maps_panel(net, data, name, count=8, maps=16):
    """The first `count` test images, each followed by the first `maps` feature maps of layer `name`
    (shownet.py's --show-maps), on one grey scale from the lowest value shown to the highest, so that
    maps and images compare (shownet cut the negatives, for relus: name a layer's _neuron for that)."""
    from convnet.data.loader import labels_row
    if name not in net.graph.by_name:
        raise OptionError(f"--maps: no layer named {name!r}")
    layer = net[name]
    shape = layer.output_shape
    if layer.is_cost or len(shape) != 3:
        n = int(np.prod(shape))
        what = "a cost layer" if layer.is_cost else f"a {layer.type} layer of {n} flat feature{'s' * (n != 1)}"
        raise OptionError(f"--maps: layer '{name}' is {what}: it has no maps to show (give a layer of images: "
                          f"conv, pool, a norm, their _neuron)")
    view, labels, images = first_test_views(data, count)
    net.forward([view, labels_row(labels)], train=False)
    acts = net.activation(name)[:maps]
    shades = _scaled(acts)
    zoom = max(1, 48 // max(shape[1:]))
    rows, mean = [], _mean_view(data, images)
    for j in range(view.shape[-1]):
        tiles = [np.kron(shades[m, :, :, j], np.ones((zoom, zoom), np.uint8)) for m in range(acts.shape[0])]
        row = _grid(tiles, len(tiles))
        picture = _picture(view[..., j], mean, width=row.height)
        out = Image.new("RGB", (picture.width + 4 + row.width, max(picture.height, row.height)), BACKGROUND)
        out.paste(picture, (0, 0))
        out.paste(row, (picture.width + 4, 0))
        rows.append(out)
    title = (f"{name}: maps 0-{acts.shape[0] - 1} of {shape[0]} ({shape[1]}x{shape[2]}) of the first test images, "
             f"black {float(acts.min()):.3g}, white {float(acts.max()):.3g}")
    return titled(stack(rows), title)


def _predictions(net, cost, data, count, errors, mini):
    """(centre views, labels, probabilities, the mean crop) of the first `count` images of the first test batch, or
    with errors of the first `count` whose top-1 prediction is wrong (shownet.py's --only-errors, in
    order rather than drawn at random), looked for in minibatches of `mini`."""
    from convnet.data.loader import evaluation_minibatches, labels_row
    from .evaluate import class_scores
    number = data.test[0]
    images, labels = data.provider.read_batch(number)
    kept = []
    for _, indices in evaluation_minibatches(data.provider, [number], count if not errors else mini):
        view = data.augmentation.test(data.augmentation.select(images, indices))
        net.forward([view, labels_row(labels[indices])], train=False)
        probs, ranks = class_scores(net, cost)
        ranks = probs if ranks is None else ranks
        chosen = np.flatnonzero(np.argmax(ranks, axis=0) != labels[indices]) if errors else np.arange(indices.size)
        kept += [(view[..., j], labels[indices][j], probs[:, j]) for j in chosen]
        if len(kept) >= count or not errors:
            break
    if not kept:
        raise ConvnetError(f"--errors: the net makes no top-1 mistake on test batch {number} "
                           f"({data.provider.batch_size(number)} images): nothing to show")
    kept = kept[:count]
    mean = _mean_view(data, images)
    return (np.stack([v for v, _, _ in kept], axis=-1), np.array([l for _, l, _ in kept]),
            np.stack([p for _, _, p in kept], axis=-1), mean)


def preds_panel(net, data, count=8, errors=False, mini=128):
    """The first `count` test images (with errors, the first `count` the net gets wrong) with their
    top-5 predictions."""
    from .evaluate import classifying_layer
    cost = classifying_layer(net)
    if cost is None:
        raise OptionError("--preds needs a net with a cost.logreg (or a cost.crossent, or a cost.msm) layer: the "
                          "probabilities it reads")
    view, labels, probs, mean = _predictions(net, cost, data, count, errors, mini)
    cells = []
    for j in range(view.shape[-1]):
        picture = _picture(view[..., j], mean)
        cell = Image.new("RGB", (200, picture.height + 92), BACKGROUND)
        cell.paste(picture, (52, 0))
        draw = ImageDraw.Draw(cell)
        draw.text((4, picture.height + 2), class_name(data, int(labels[j]))[:32], fill=INK, font=FONT)
        for rank, k in enumerate(np.argsort(-probs[:, j])[:5]):
            y = picture.height + 18 + 14 * rank
            colour = (60, 160, 60) if k == labels[j] else (200, 90, 60)
            draw.rectangle([4, y, 4 + int(90 * probs[k, j]), y + 10], fill=colour)
            draw.text((98, y), class_name(data, int(k))[:16], fill=INK, font=FONT)
        cells.append(cell)
    row = Image.new("RGB", (sum(c.width for c in cells), max(c.height for c in cells)), BACKGROUND)
    for i, c in enumerate(cells):
        row.paste(c, (i * c.width, 0))
    which = "the first test images the net gets wrong" if errors else "the first test images"
    return titled(row, f"predictions on {which} (true label, then the top 5)")


def _plot(points, series, title, height=220, width=420, from_zero=True):
    """A line plot of one or more series against the x values (the y axis from 0 up, or, with
    from_zero=False, over the values' own range: logarithms), `width` wide, with its legend in a column
    to the right of it (where it hides no line) and as tall as its legend needs."""
    legend = math.ceil(max(FONT.getlength(label) for label, _, _ in series)) + 12
    height = max(height, 20 + 14 * len(series) + 30)
    image = Image.new("RGB", (width + legend, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 48, width - 10, 20, height - 30
    xs = np.asarray(points, float)
    ys = np.concatenate([np.asarray(v, float) for _, v, _ in series])
    ys = ys[np.isfinite(ys)]
    x0, x1 = xs.min(), max(xs.max(), xs.min() + 1e-9)
    if ys.size == 0:
        y0, y1 = 0.0, 1.0
    elif from_zero:
        y0, y1 = min(0.0, ys.min()), max(ys.max(), 1e-9)
    else:
        y0, y1 = ys.min() - 0.05 * (np.ptp(ys) or 1), ys.max() + 0.05 * (np.ptp(ys) or 1)
    px = lambda x: left + (x - x0) / (x1 - x0) * (right - left)
    py = lambda y: bottom - (y - y0) / (y1 - y0) * (bottom - top)
    for k in range(5):
        y = y0 + (y1 - y0) * k / 4
        draw.line([left, py(y), right, py(y)], fill=GRID)
        draw.text((4, py(y) - 6), f"{y:.3g}", fill=INK, font=FONT)
    draw.text((left, 4), title, fill=INK, font=FONT)
    draw.text((left, bottom + 4), f"{x0:.3g}", fill=INK, font=FONT)          # the first and the last epoch
    if xs.max() > x0:
        last = f"{xs.max():.3g}"
        draw.text((right - FONT.getlength(last), bottom + 4), last, fill=INK, font=FONT)
    draw.text(((left + right - FONT.getlength("epochs")) / 2, bottom + 12), "epochs", fill=INK, font=FONT)
    for i, (label, values, colour) in enumerate(series):
        line = [(px(x), py(y)) for x, y in zip(xs, values) if np.isfinite(y)]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for p in line:
            draw.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=colour)
        draw.text((width + 2, top + 14 * i), label, fill=colour, font=FONT)
    return image


def cost_panel(history, topk=5):
    if not history:
        raise ConvnetError("the checkpoint has no test points yet: nothing to plot")
    epochs = [h["epoch"] for h in history]
    cost = _plot(epochs, [("train cost", [h["train_cost"] for h in history], (40, 90, 200)),
                          ("test cost", [h["test_cost"] for h in history], (200, 70, 40))], "cost")
    if all(np.isnan(h["test_top1"]) for h in history):     # no cost.logreg nor cost.crossent: no errors counted
        return cost
    series = [("train top-1 error", [h["train_error"] for h in history], (40, 90, 200)),
              ("test top-1 error", [h["test_top1"] for h in history], (200, 70, 40)),
              (f"test top-{topk} error", [h["test_topk"] for h in history], (120, 120, 120))]
    # a cost.crossent counts no top-k error
    error = _plot(epochs, [s for s in series if not all(np.isnan(s[1]))], "error")
    both = Image.new("RGB", (cost.width + error.width, cost.height), BACKGROUND)
    both.paste(cost, (0, 0))
    both.paste(error, (cost.width, 0))
    return both


def _palette(n):
    """n distinguishable colours."""
    base = [(40, 90, 200), (200, 70, 40), (60, 160, 60), (150, 60, 170), (220, 150, 30), (40, 170, 180),
            (120, 120, 120), (180, 40, 110), (100, 140, 40), (90, 60, 30)]
    return [base[i % len(base)] for i in range(n)]


def grads_panel(watch):
    """--watch's statistics over training: log10 of each weighted layer's output-gradient norm, log10
    of each weight matrix's update-to-weight ratio, and each neuron layer's fraction of zeros (dead
    relus): vanishing, exploding and dying at a glance."""
    if not watch:
        raise ConvnetError("the checkpoint has no --watch statistics: train (or resume) with --watch")
    epochs = [w["epoch"] for w in watch]
    first = watch[-1]
    weighted = [r["layer"] for r in first["layers"] if r["grad_norm"] is not None and
                any(p["parameter"].startswith(r["layer"] + "/") for p in first["parameters"])]
    neurons = [r["layer"] for r in first["layers"] if r["type"] == "neuron"]
    weights = [p["parameter"] for p in first["parameters"] if "/weights" in p["parameter"]]

    def series(names, rows, key, transform):
        out = []
        for name, colour in zip(names, _palette(len(names))):
            values = []
            for w in watch:
                row = next((r for r in w[rows] if r.get("layer", r.get("parameter")) == name), None)
                v = None if row is None else row[key]
                values.append(transform(v) if v is not None and v > 0 else float("nan"))
            out.append((name, values, colour))
        return out
    plots = [_plot(epochs, series(weighted, "layers", "grad_norm", np.log10), "log10 |dC/dy| per layer",
                   from_zero=False),
             _plot(epochs, series(weights, "parameters", "update_ratio", np.log10), "log10 eps|grad|/|W|",
                   from_zero=False),
             _plot(epochs, series(neurons, "layers", "zero_fraction", float), "fraction of zeros (dead units)")]
    out = Image.new("RGB", (sum(p.width for p in plots), max(p.height for p in plots)), BACKGROUND)
    x = 0
    for p in plots:
        out.paste(p, (x, 0))
        x += p.width
    return out


def stack(panels):
    out = Image.new("RGB", (max(p.width for p in panels), sum(p.height for p in panels) + 8 * (len(panels) - 1)),
                    BACKGROUND)
    y = 0
    for p in panels:
        out.paste(p, (0, y))
        y += p.height + 8
    return out


def save(image, path):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_buffer(path, buffer)
