"""The test protocol: cost, top-1 and top-5 error on a range of batches, from the centre crop or
averaged over the ten views of the multiview test (section 4.1 of the paper).

The numbers are computed here, on the host in float64, from the softmax that feeds the first
cost.logreg layer, so that a test point during training and `convnet test` on its checkpoint agree.
"""
import numpy as np

from convnet.data.loader import evaluation_minibatches, labels_row


def logreg_layer(net):
    for layer in net.graph.cost_layers:
        if layer.type == "cost.logreg":
            return layer
    return None


def evaluate(net, data, batches=None, multiview=False, mini=128, on_batch=None):
    """{"cost", "top1_error", "top5_error", "cases"}: cost is per image (with the layer's coeff)."""
    cost_layer = logreg_layer(net)
    totals = dict(cost=0.0, top1=0, top5=0, cases=0)
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
            above = (probs > p_true).sum(axis=0)
            with np.errstate(divide="ignore"):
                totals["cost"] += float(-cost_layer.conf.coeff * np.log(p_true).sum())
            totals["top1"] += int((above >= 1).sum())
            totals["top5"] += int((above >= 5).sum())
        totals["cases"] += labels.size
        if on_batch:
            on_batch(labels.size)
    n = max(totals["cases"], 1)
    return {"cost": totals["cost"] / n,
            "top1_error": totals["top1"] / n if cost_layer else None,
            "top5_error": totals["top5"] / n if cost_layer else None,
            "cases": totals["cases"]}
