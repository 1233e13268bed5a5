"""`convnet test --submission F.txt`: the test range's top-5 classes as ILSVRC's submission text.

One line per test image, in the order the test reads them: the five classes the net ranks highest,
best first, as 1-based numbers in the order of the data's class names, separated by spaces. That is
what the 2012 code's txt-preds.py printed from its test predictions (`x[0] + 1`, "to convert from
0-based indices to 1-based"). Ties are broken as txt-preds.py broke them: of equal scores, the
higher class number comes first (it took the last five of a stable ascending sort).
"""
import numpy as np

from .files import write_bytes

TOP = 5


def top_classes(ranks, top=TOP):
    """(images, min(top, classes)) int: each image's best classes, 0-based, best first.
    ranks: (images, classes), larger is better."""
    ascending = np.argsort(ranks, axis=1, kind="stable")
    return ascending[:, ::-1][:, :min(top, ranks.shape[1])]


def submission_text(ranks, top=TOP):
    """The submission's text for ranks (images, classes)."""
    return "".join(" ".join(str(c + 1) for c in row) + "\n" for row in top_classes(ranks, top))


def write_submission(path, predictions):
    """predictions: evaluate's list of (probabilities, labels, ranks) per minibatch. Returns the number
    of lines written."""
    ranks = [(p if r is None else r).T for p, _, r in predictions]
    ranks = np.concatenate(ranks) if ranks else np.zeros((0, 0), np.float32)
    write_bytes(path, submission_text(ranks).encode("ascii"))
    return ranks.shape[0]
