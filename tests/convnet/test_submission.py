"""convnet test --submission: ILSVRC's submission text, as the 2012 code's txt-preds.py printed it."""

import numpy as np

from convnet.submission import submission_text, top_classes, write_submission


def txt_preds_line(scores):
    """txt-preds.py's loop for one image, written out: the last five of a stable ascending sort of
    (class, score) by score, reversed, each class + 1."""
    ranked = sorted(enumerate(scores), key=lambda x: x[1])
    return " ".join(str(c + 1) for c, _ in reversed(ranked[-5:]))


def test_each_line_is_the_five_best_classes_one_based_best_first():
    ranks = np.array([[0.1, 0.0, 0.3, 0.05, 0.2, 0.15, 0.2],
                      [0.9, 0.01, 0.02, 0.03, 0.01, 0.02, 0.01]], np.float32)
    assert submission_text(ranks) == "3 7 5 6 1\n1 4 6 3 7\n"


def test_ties_are_broken_as_txt_preds_broke_them():
    rng = np.random.default_rng(3)
    ranks = rng.integers(0, 4, size=(200, 12)).astype(np.float32)        # many equal scores
    lines = submission_text(ranks).splitlines()
    assert lines == [txt_preds_line(list(row)) for row in ranks]
    # the other rule (of equal scores, the lower class first) gives other lines: the rule is what is tested
    assert any(line != " ".join(str(c + 1) for c in np.argsort(-row, kind="stable")[:5])
               for line, row in zip(lines, ranks))


def test_fewer_than_five_classes_give_every_class():
    assert top_classes(np.array([[0.2, 0.5, 0.3]])).tolist() == [[1, 2, 0]]
    assert submission_text(np.array([[0.2, 0.5, 0.3]])) == "2 3 1\n"


def test_the_file_holds_the_minibatches_in_order_ranked_by_ranks_where_given(tmp_path):
    probs = np.array([[0.7, 0.2], [0.2, 0.7], [0.1, 0.1]], np.float32)          # (classes, images)
    energies = np.array([[0.0], [5.0], [1.0]], np.float32)                      # a cost.msm's ranks
    kept = [(probs, np.array([0, 1]), None), (probs[:, :1], np.array([2]), energies)]
    assert write_submission(tmp_path / "s.txt", kept) == 3
    assert (tmp_path / "s.txt").read_text() == "1 2 3\n2 1 3\n2 3 1\n"
