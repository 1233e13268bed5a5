"""--fit-weights: the weights of a model average that make the fewest top-k errors on the test range,
found as the 2012 code's avg-valid.py found them (find_coeffs, avg-valid.py:49-71) on the validation
images before avg-test.py applied them to the test images.

Its search: every coefficient starts at 0.5; a pass tries each net's coefficient at 0, 0.05, ..., 1 in
turn, the others held, and keeps a value only where the error is strictly lower; at most 5 passes, and
the search ends as soon as it comes back to the coefficient it changed last without having changed
another since (a whole round of the nets with no gain), or after a pass that changed nothing (the 2012
code ran the passes left, which repeat it). The coefficients are given as --weights takes them; the
average scales them to sum to 1.
"""
import numpy as np

from convnet.layers.cost_logreg import correct_fractions

STEPS = 20          # the grid 0, 0.05, ..., 1 (avg-valid.py's cmin=0, cmax=1, step=0.05)
PASSES = 5
CHUNK = 4096        # images per sum: ImageNet's 50,000 validation images x 1000 classes would be 400 MB


def net_scores(nets, data, multiview, mini, on_batch=None):
    """Each net's (probabilities, ranks) (classes, images) float64 on the test range, summed over its views
    (ranks None where they are the probabilities), and the labels: what the search weighs, and what
    evaluate's recorded takes to test the weights found without running the nets again."""
    from convnet.evaluate import evaluate
    record = []
    evaluate(nets, data, multiview=multiview, mini=mini, record=record, on_batch=on_batch)
    labels = np.concatenate([l for l, _ in record])
    scores = []
    for i in range(len(nets)):                  # net by net, each one's minibatches let go once joined
        probs = np.concatenate([sums[i][0] for _, sums in record], axis=1)
        ranks = None if record[0][1][i][1] is None else np.concatenate([sums[i][1] for _, sums in record], axis=1)
        for _, sums in record:
            sums[i] = None
        scores.append((probs, ranks))
    return scores, labels


def weighted_error(scores, labels, k, coefficients):
    """The top-k error (ties as fractions, as the test counts them) of the average weighted by
    coefficients (any scale: it ranks the classes alike)."""
    missed = 0.0
    for start in range(0, labels.size, CHUNK):
        part = slice(start, start + CHUNK)
        ranks = sum(c * (r if r is not None else p)[:, part].astype(np.float64)
                    for c, (p, r) in zip(coefficients, scores) if c)
        missed += float(labels[part].size - correct_fractions(ranks, labels[part], k).sum())
    return missed / labels.size


def fit_weights(scores, labels, k, on_pass=None):
    """(coefficients, error): avg-valid.py's find_coeffs over the nets' scores, minimising the top-k
    error. on_pass(number, error, coefficients) after each pass."""
    coefficients = [STEPS // 2] * len(scores)          # in 20ths: 0.5 each, exact on the grid
    best = weighted_error(scores, labels, k, [c / STEPS for c in coefficients])
    changed = None                                      # the coefficient changed last
    for number in range(1, PASSES + 1):
        before = list(coefficients)
        for i in range(len(scores)):
            if changed == i:                            # back to it with no gain since: a whole round
                break
            for step in range(STEPS + 1):
                trial = coefficients[:i] + [step] + coefficients[i + 1:]
                if not any(trial):
                    continue                            # an average of no net
                error = weighted_error(scores, labels, k, [c / STEPS for c in trial])
                if error < best:
                    best, coefficients, changed = error, trial, i
        if on_pass:
            on_pass(number, best, [c / STEPS for c in coefficients])
        # a pass with no change at all (a whole round reached included) would be followed by the same
        # pass again (the 2012 code ran them)
        if coefficients == before:
            break
    return [c / STEPS for c in coefficients], best


def weights_text(coefficients):
    """The coefficients as --weights takes them: 0.5,0.35,1."""
    return ",".join(f"{c:g}" for c in coefficients)
