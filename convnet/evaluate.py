"""The test protocol: cost, top-1 and top-k error on a range of batches, from the centre crop or
averaged over the ten views of the multiview test (section 4.1 of the paper).

The numbers are computed here, on the host in float64, from the softmax that feeds the first
cost.logreg layer, so that a test point during training and `convnet test` on its checkpoint agree.
They are the layer's own: k is its topk, ties count as fractions, and the cost leaves out coeff, as
the 2012 code reported them.
"""
import numpy as np

from convnet.data.loader import evaluation_minibatches, labels_row
from convnet.layers.cost_logreg import correct_fractions


def logreg_layer(net):
    for layer in net.graph.cost_layers:
        if layer.type == "cost.logreg":
            return layer
    return None


def evaluate(net, data, batches=None, multiview=False, mini=128, on_batch=None):
    """{"cost", "top1_error", "topk_error", "topk", "cases"}: the cost and errors per image."""
    cost_layer = logreg_layer(net)
    k = cost_layer.conf.topk if cost_layer else None
    totals = dict(cost=0.0, top1=0.0, topk=0.0, cases=0)
    for number, indices in evaluation_minibatches(data.provider, batches or data.test, mini):
        images, labels = data.provider.read_batch(number)
        images, labels = data.augmentation.select(images, indices), labels[indices]
        views = data.augmentation.views(images) if multiview else [data.augmentation.test(images)]
        probs = None
        for view in views:
            costs = net.forward([view, labels_row(labels)], train=False)
            if cost_layer is None:
                totals["cost"] += sum(float(v[0]) for v in costs.values()) / len(views)
                continue
            p = net.activation(cost_layer.inputs[1]).astype(np.float64)
            probs = p if probs is None else probs + p
        if cost_layer is not None:
            probs /= len(views)
            p_true = probs[labels, np.arange(labels.size)]
            with np.errstate(divide="ignore"):
                totals["cost"] += float(-np.log(p_true).sum())
            totals["top1"] += float(labels.size - correct_fractions(probs, labels, 1).sum())
            totals["topk"] += float(labels.size - correct_fractions(probs, labels, k).sum())
        totals["cases"] += labels.size
        if on_batch:
            on_batch(labels.size)
    n = max(totals["cases"], 1)
    return {"cost": totals["cost"] / n,
            "top1_error": totals["top1"] / n if cost_layer else None,
            "topk_error": totals["topk"] / n if cost_layer else None, "topk": k,
            "cases": totals["cases"]}
