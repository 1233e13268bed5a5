"""--weights: each net's share of a model average (the 2012 code's avg-test.py coefficients), against
sums written out by hand for made-up nets whose softmax outputs are fixed."""
import numpy as np
import pytest

from convnet.errors import OptionError
from convnet.evaluate import averaged_scores, net_weights


class FixedNet:
    """A stand-in for a net: each forward pass gives the next of its views' softmax outputs."""

    def __init__(self, outputs):
        self.outputs, self.passes = outputs, 0

    def forward(self, inputs, train):
        assert not train
        self.passes += 1

    def activation(self, name):
        assert name == "probs"
        return self.outputs[(self.passes - 1) % len(self.outputs)]


class Softmax:
    type, inputs = "cost.logreg", ("labels", "probs")


def softmax_outputs(seed, views, classes=4, images=3):
    rng = np.random.default_rng(seed)
    out = [rng.random((classes, images), dtype=np.float32) for _ in range(views)]
    return [o / o.sum(axis=0) for o in out]


def test_the_weights_are_scaled_to_sum_to_one():
    np.testing.assert_array_equal(net_weights("3,1", 2), [0.75, 0.25])
    np.testing.assert_array_equal(net_weights("0, 2 ,2", 3), [0, 0.5, 0.5])
    assert net_weights(None, 4) is None


@pytest.mark.parametrize("text, said", [
    ("1", "1 weight for 2 checkpoints: give one per checkpoint of --load, in its order"),
    ("1,2,3", "3 weights for 2 checkpoints"),
    ("a,1", "give one number per checkpoint, comma-separated"),
    ("1,,", "give one number per checkpoint"),
    ("-1,2", "the weights must be finite, 0 or more, and not all 0"),
    ("0,0", "not all 0"), ("nan,1", "finite"), ("inf,1", "finite"), ("1e400,1", "finite")])
def test_weights_that_cannot_work_are_refused(text, said):
    with pytest.raises(OptionError) as error:
        net_weights(text, 2)
    assert str(error.value).startswith(f"--weights {text!r}: ") and said in str(error.value)


def test_each_net_counts_by_its_weight_and_each_view_equally():
    views = 2
    a, b = softmax_outputs(1, views), softmax_outputs(2, views)
    probs, ranks = averaged_scores([FixedNet(a), FixedNet(b)], [Softmax, Softmax], [np.zeros((5, 3))] * views,
                                   weights=net_weights("3,1", 2))
    by_hand = np.zeros((4, 3))
    for i in range(3):
        for c in range(4):
            ta, tb = float(a[0][c, i]) + float(a[1][c, i]), float(b[0][c, i]) + float(b[1][c, i])
            by_hand[c, i] = 0.75 * ta / 2 + 0.25 * tb / 2
    np.testing.assert_allclose(probs, by_hand, rtol=1e-15)
    np.testing.assert_allclose(probs.sum(axis=0), 1, rtol=1e-6)
    assert ranks is probs


def test_a_net_weighted_zero_is_not_run_and_the_other_is_given_bit_for_bit():
    a, b = FixedNet(softmax_outputs(1, 1)), FixedNet(softmax_outputs(2, 1))
    probs, _ = averaged_scores([a, b], [Softmax, Softmax], [np.zeros((5, 3))], weights=net_weights("0,7", 2))
    assert a.passes == 0 and b.passes == 1
    np.testing.assert_array_equal(probs, b.outputs[0].astype(np.float64))


def test_without_weights_the_average_is_the_plain_mean():
    a, b = softmax_outputs(1, 1), softmax_outputs(2, 1)
    probs, _ = averaged_scores([FixedNet(a), FixedNet(b)], [Softmax, Softmax], [np.zeros((5, 3))])
    np.testing.assert_array_equal(probs, (a[0].astype(np.float64) + b[0]) / 2)
