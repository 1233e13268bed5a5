"""The test protocol: cost, top-1 and top-k error on a range of batches, from the centre crop or
averaged over the ten views of the multiview test (section 4.1 of the paper).

The numbers are computed here, on the host in float64, from what feeds the net's classifying cost
layer (classifying_layer), so that a test point during training and `convnet test` on its checkpoint
agree. They are the layer's own: k is a cost.logreg's topk or a cost.msm's setSize (a cost.crossent
counts no top-k error), ties count as fractions, the cost leaves out coeff and a cost.crossent's log
is its safelog, as the 2012 code reported them.
"""
import numpy as np

from convnet.data.loader import evaluation_minibatches, labels_row
from convnet.errors import ConvnetError, OptionError
from convnet.layers.cost_crossent import safelog
from convnet.layers.cost_logreg import correct_fractions
from convnet.layers.cost_msm import set_marginals
from convnet.session import fed_labels


def classifying_layer(net):
    """The cost layer whose errors the training line, the test and best.h5 go by: the first
    cost.logreg, else the first cost.crossent on class numbers, else the first cost.msm (the 2012 code
    counted their errors too: CrossEntCostLayer::fpropActs and MultiSoftmaxCostLayer::computeCost in
    src/layer.cu); None in a net where no cost layer counts errors."""
    costs = net.graph.cost_layers
    return (next((c for c in costs if c.type == "cost.logreg"), None) or
            next((c for c in costs if c.type == "cost.crossent" and c.indices), None) or
            next((c for c in costs if c.type == "cost.msm"), None))


def topk_of(layer):
    """The k of the layer's top-k error: a cost.logreg's topk, a cost.msm's setSize; None for a layer
    that counts none."""
    if layer is None:
        return None
    return layer.conf.setSize if layer.type == "cost.msm" else getattr(layer.conf, "topk", None)


def class_scores(net, layer):
    """(probabilities, ranks) (classes, images), float64, of the net's last forward pass: what the test
    averages over views and nets, the first for the cost, the second to rank the classes by (None: by the
    probabilities). For a cost.logreg or cost.crossent, the softmax it reads and None. For a cost.msm,
    P(class in the set), from its energies, and the energies themselves: the 2012 code ranked by the
    energies, which round less than the probabilities (kMultiSoftmaxCost_engs in src/layer_kernels.cu)."""
    x = net.activation(layer.inputs[1]).astype(np.float64)
    if layer.type != "cost.msm":
        return x, None
    energies = x.reshape(layer.classes, -1)
    return set_marginals(energies - energies.max(axis=0), layer.conf.setSize)[1], energies


def _kind(layer):
    """What a net's scores are, for model averaging: a softmax, or a cost.msm's marginals over sets of k."""
    return f"cost.msm with setSize={layer.conf.setSize}" if layer.type == "cost.msm" else "softmax"


def net_weights(text, count):
    """--weights W1,W2,...: one number per net, >= 0 and not all 0, made to sum to 1 (float64). The 2012
    code's avg-test.py summed its nets' outputs times such coefficients as given (avg-test.py:12); scaled
    to sum 1, they rank the classes as they did, and the average is still a probability, whose cost is
    a cost. None: the plain mean."""
    if text is None:
        return None
    try:
        weights = np.array([float(w) for w in text.split(",")], np.float64)
    except ValueError:
        raise OptionError(f"--weights {text!r}: give one number per checkpoint, comma-separated") from None
    if weights.size != count:
        raise OptionError(f"--weights {text!r}: {weights.size} weight{'s' * (weights.size != 1)} for {count} "
                          f"checkpoint{'s' * (count != 1)}: give one per checkpoint of --load, in its order")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not weights.sum() > 0:
        raise OptionError(f"--weights {text!r}: the weights must be finite, 0 or more, and not all 0")
    return weights / weights.sum()


def shares_of(weights, count):
    """Each of count nets' share: weights (net_weights), or 1 each for the plain mean (None)."""
    return np.ones(count) if weights is None else weights


def view_sums(net, layer, views, labels):
    """(probabilities, ranks) (classes, images), float64: the net's class_scores summed over the views of
    the same images (ranks None where they are the probabilities): one net's part of an average."""
    probs = ranks = None
    for view in views:
        net.forward([view, labels_row(labels)], train=False)
        p, r = class_scores(net, layer)
        probs = p if probs is None else probs + p
        if r is not None:
            ranks = r if ranks is None else ranks + r
    return probs, ranks


def combined_scores(sums, view_count, weights=None):
    """(probabilities, ranks), float64: the average of the nets' view_sums (each over view_count views;
    None for a net weighted 0), each net's by its share in weights (summing to 1; None: equal shares)."""
    # the plain mean sums and divides once, as before there were weights (1.0 * p is p, bit for bit)
    shares, total = shares_of(weights, len(sums)), view_count * (len(sums) if weights is None else 1)
    probs = ranks = None
    for (p, r), share in ((one, share) for one, share in zip(sums, shares) if share):
        if probs is not None and p.shape != probs.shape:
            raise ConvnetError(f"the nets give {probs.shape[0]} and {p.shape[0]} probabilities per image: "
                               f"only nets over the same classes can be averaged")
        probs = share * p if probs is None else probs + share * p
        if r is not None:
            ranks = share * r if ranks is None else ranks + share * r
    probs /= total
    return probs, probs if ranks is None else ranks / total


def averaged_scores(nets, layers, views, labels=None, weights=None):
    """(probabilities, ranks) (classes, images), float64: class_scores averaged over the nets (with
    their classifying layers; weights, summing to 1: each net's share, None: equal shares) and the
    views of the same images. labels: what the cost layers read (any class where the images have none:
    the scores do not depend on them)."""
    labels = np.zeros(views[0].shape[-1], np.int64) if labels is None else labels
    return combined_scores(nets_view_sums(nets, layers, views, labels, weights), len(views), weights)


def nets_view_sums(nets, layers, views, labels, weights=None):
    """Each net's view_sums, None for a net weighted 0: it adds nothing, so it is not run."""
    return [view_sums(one, layer, views, labels) if share else None
            for one, layer, share in zip(nets, layers, shares_of(weights, len(nets)))]


def evaluate(net, data, batches=None, multiview=False, mini=128, on_batch=None, predictions=None, weights=None,
             record=None, recorded=None):
    """{"cost", "top1_error", "topk_error", "topk", "cases"}: the cost and errors per image (None for
    the unlabelled test images, which only give their predictions).

    net may be a list of nets (model averaging, the paper's rows for several CNNs and the 2012 code's
    avg-test): their softmax outputs (class_scores), over every view, are averaged before the errors are
    counted, each net's by its share in weights (net_weights; None: equal shares). predictions, a list,
    receives each minibatch's (averaged probabilities (classes, images), labels, ranks): ranks, what the
    classes are ranked by, is None where that is the probabilities (a cost.msm ranks by its energies).

    record, a list, receives each minibatch's (labels, [each net's view_sums]); recorded, each net's
    view_sums over the whole range, in this order (record's, joined), stands in for running the nets:
    --fit-weights runs them once, for its search and its test."""
    nets = list(net) if isinstance(net, (list, tuple)) else [net]
    layers = [classifying_layer(n) for n in nets]
    cost_layer = layers[0]
    if len(nets) > 1 and any(layer is None for layer in layers):
        raise ConvnetError("model averaging averages softmax outputs: every net needs a cost.logreg "
                           "(or a cost.crossent, or a cost.msm) layer")
    if len(nets) > 1 and len({_kind(layer) for layer in layers}) > 1:
        raise ConvnetError(f"model averaging averages like with like: these nets give "
                           f"{' and '.join(sorted({_kind(layer) for layer in layers}))} probabilities")
    k = topk_of(cost_layer)
    unlabelled = getattr(data, "unlabelled", False)
    if unlabelled and cost_layer is None:
        raise ConvnetError("the unlabelled test images have no cost or errors to count, and the net has no "
                           "classifying cost layer to give their class probabilities")
    totals = dict(cost=0.0, top1=0.0, topk=0.0, cases=0)
    for number, indices in evaluation_minibatches(data.provider, batches or data.test, mini):
        images, labels = data.provider.read_batch(number)
        images, labels = data.augmentation.select(images, indices), labels[indices]
        views = data.augmentation.views(images) if multiview else [data.augmentation.test(images)]
        if cost_layer is None:                  # one net: a list of several needs classifying layers
            for view in views:
                costs = nets[0].forward([view, labels_row(labels)], train=False)
                totals["cost"] += sum(float(v[0]) for v in costs.values()) / len(views)
        else:
            if recorded is None:
                sums = nets_view_sums(nets, layers, views, fed_labels(labels), weights)
            else:                               # this minibatch's columns
                part = slice(totals["cases"], totals["cases"] + labels.size)
                sums = [(p[:, part], None if r is None else r[:, part]) if share else None
                        for (p, r), share in zip(recorded, shares_of(weights, len(nets)))]
            if record is not None:
                record.append((labels, sums))
            probs, ranks = combined_scores(sums, len(views), weights)
            if not unlabelled:                  # the unlabelled test images have their scores only
                p_true = probs[labels, np.arange(labels.size)]
                with np.errstate(divide="ignore"):
                    log = safelog(p_true) if cost_layer.type == "cost.crossent" else np.log(p_true)
                totals["cost"] += float(-log.sum())
                totals["top1"] += float(labels.size - correct_fractions(ranks, labels, 1).sum())
                if k is not None:
                    totals["topk"] += float(labels.size - correct_fractions(ranks, labels, k).sum())
            if predictions is not None:
                predictions.append((probs.astype(np.float32), labels,
                                    None if ranks is probs else ranks.astype(np.float32)))
        totals["cases"] += labels.size
        if on_batch:
            on_batch(labels.size)
    n = max(totals["cases"], 1)
    if unlabelled:
        return {"cost": None, "top1_error": None, "topk_error": None, "topk": k, "cases": totals["cases"]}
    return {"cost": totals["cost"] / n,
            "top1_error": totals["top1"] / n if cost_layer else None,
            "topk_error": totals["topk"] / n if k is not None else None, "topk": k,
            "cases": totals["cases"]}


def write_predictions(path, predictions, checkpoints, multiview, weights=None):
    """/probs (images, classes) float32, the averaged softmax of every test image; /labels (images,);
    the checkpoints, their weights (summing to 1) and whether the test was multiview as attributes."""
    from .files import write_hdf5
    probs = np.concatenate([p.T for p, _, _ in predictions]) if predictions else np.zeros((0, 0), np.float32)
    labels = np.concatenate([l for _, l, _ in predictions]) if predictions else np.zeros(0, np.int64)

    def fill(f):
        f["probs"], f["labels"] = probs, labels.astype(np.int64)
        f.attrs["checkpoints"], f.attrs["multiview"] = ",".join(map(str, checkpoints)), bool(multiview)
        f.attrs["weights"] = np.full(len(checkpoints), 1 / len(checkpoints)) if weights is None else weights
    write_hdf5(path, fill)
    return probs.shape
