"""softmax, cost.logreg and cost.sum2 against closed forms and hand-worked numbers."""
import numpy as np
import pytest

from convnet.errors import ConfigError
from tests.helpers import TRAIN, check_layer_gradients, make_layer, rel_error, numeric_grad


def test_softmax_closed_form_and_gradient():
    layer = make_layer("softmax", [(5,)])
    x = np.random.default_rng(0).standard_normal((5, 3)) * 3
    e = np.exp(x)
    np.testing.assert_allclose(layer.forward([x], TRAIN), e / e.sum(axis=0), rtol=1e-14)
    check_layer_gradients(layer, [x])


def test_softmax_of_large_scores_is_finite():
    x = np.array([[1000.0], [999.0]], dtype=np.float32)
    y = make_layer("softmax", [(2,)], dtype=np.float32).forward([x], TRAIN)
    np.testing.assert_allclose(y.reshape(-1), [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))], rtol=1e-6)


def test_logreg_cost_and_errors_by_hand():
    layer = make_layer("cost.logreg", [(1,), (4,)], params=dict(coeff=2, topk=2))
    probs = np.array([[0.1, 0.5, 0.25, 0.3],
                      [0.6, 0.2, 0.25, 0.3],
                      [0.2, 0.2, 0.25, 0.3],
                      [0.1, 0.1, 0.25, 0.1]])
    labels = np.array([[1.0, 1.0, 3.0, 2.0]])
    cost, top1, top2 = layer.forward([labels, probs], TRAIN)
    # the value leaves out coeff, as the 2012 code reported it
    assert cost == pytest.approx(-(np.log(0.6) + np.log(0.2) + np.log(0.25) + np.log(0.3)), rel=1e-14)
    # image 0: the label is the unique top -> right; image 1: 0.5 above it, and it ties with class 2
    #   for second place -> top-1 wrong, half a top-2 hit; image 2: four-way tie -> a quarter of a
    #   top-1 hit, half a top-2 hit; image 3: three-way tie at the top -> a third of a top-1 hit, two
    #   thirds of a top-2 hit (the 2012 code's fractions).
    assert top1 == pytest.approx(0 + 1 + 0.75 + 2 / 3, rel=1e-14)
    assert top2 == pytest.approx(0 + 0.5 + 0.5 + 1 / 3, rel=1e-14)


def test_a_true_class_probability_of_zero_is_an_infinite_cost_without_a_warning():
    """A float32 softmax underflows to 0 past a score gap of about 104: the cost is inf, which the trainer
    reports in its own line (a NumPy RuntimeWarning printed over the training lines would say nothing)."""
    import warnings
    layer = make_layer("cost.logreg", [(1,), (2,)], dtype=np.float32)
    probs = np.array([[1.0, 0.5], [0.0, 0.5]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost, top1, _ = layer.forward([np.array([[1.0, 0.0]]), probs], TRAIN)
    assert cost == np.inf and top1 == pytest.approx(1.5)


def test_logreg_gradient():
    layer = make_layer("cost.logreg", [(1,), (4,)], params=dict(coeff=1.5))
    probs = np.random.default_rng(1).uniform(0.1, 1, (4, 3))
    labels = np.array([[0.0, 3.0, 2.0]])
    _, dprobs = layer.backward([labels, probs], layer.forward([labels, probs], TRAIN), None, [False, True], TRAIN)
    numeric = numeric_grad(lambda: 1.5 * float(layer.forward([labels, probs], TRAIN)[0]), probs)
    assert rel_error(dprobs, numeric) < 1e-8


def test_logreg_checks_its_inputs():
    with pytest.raises(ConfigError) as e:
        make_layer("cost.logreg", [(2,), (4,)])
    assert "labels" in str(e.value)
    with pytest.raises(ConfigError) as e:
        make_layer("cost.logreg", [(1,), (4,)], params=dict(topk=5))
    assert e.value.key == "topk"
    assert make_layer("cost.logreg", [(1,), (4,)], params=dict(topk=4)).conf.topk == 4     # every class


def test_logreg_counts_top_1_as_its_top_k_without_topk():
    """layer.py:1257: topk defaults to 1, so the third value is the top-1 error again."""
    layer = make_layer("cost.logreg", [(1,), (4,)])
    probs = np.array([[0.1, 0.6], [0.2, 0.1], [0.3, 0.2], [0.4, 0.1]])
    cost, top1, topk = layer.forward([np.array([[3.0, 2.0]]), probs], TRAIN)
    assert layer.conf.topk == 1 and top1 == topk == 1     # image 0 right, image 1 second: a top-2 hit, no top-1


def test_sum_of_squares():
    layer = make_layer("cost.sum2", [(3, 2, 2)], params=dict(coeff=0.25))
    x = np.random.default_rng(2).standard_normal((3, 2, 2, 2))
    (cost,) = layer.forward([x], TRAIN)
    assert cost == pytest.approx(np.sum(x ** 2), rel=1e-14)                 # without coeff
    (dx,) = layer.backward([x], None, None, [True], TRAIN)
    np.testing.assert_allclose(dx, 0.5 * x)
