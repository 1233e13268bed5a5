"""--fit-weights: avg-valid.py's search for the weights of a model average, against a line-by-line
transcription of find_coeffs (avg-valid.py:49-71 of the 2012 code) with a top-k error counted in loops."""
import numpy as np
import pytest

from convnet.fit_weights import fit_weights, weighted_error, weights_text


def topk_error_by_loops(preds, labels, k):
    """compute_top5 of avg-valid.py, for k: per image, take the best class k times; scores without ties."""
    missed = 0
    for i in range(labels.size):
        column = [float(v) for v in preds[:, i]]
        best = sorted(range(len(column)), key=lambda c: -column[c])[:k]
        missed += labels[i] not in best
    return missed / labels.size


def find_coeffs(nets, labels, k, passes=5, cmin=0.0, cmax=1.0, step=0.05):
    """find_coeffs as the 2012 code wrote it, on a list of (classes, images) score arrays; how many passes
    it began and how many averages it scored."""
    scored = []

    def do_avg(coeffs):
        scored.append(list(coeffs))
        return topk_error_by_loops(sum(c * d.astype(np.float64) for c, d in zip(coeffs, nets)), labels, k)
    coeffs = [(cmax - cmin) / 2 for _ in nets]
    best1 = do_avg(coeffs)
    changed = -1
    for begun in range(1, passes + 1):
        for i in range(len(coeffs)):
            if changed == i:
                changed = -2
                break
            for c in [cmin + c * step for c in range(1 + int((cmax - cmin) / step))]:
                oldc = coeffs[i]
                coeffs[i] = c
                err = do_avg(coeffs) if any(coeffs) else 1.0
                if err < best1:
                    best1 = err
                    changed = i
                else:
                    coeffs[i] = oldc
        if changed == -2:
            break
    return coeffs, best1, begun, len(scored)


def noisy_nets(seed, count, classes=6, images=300):
    """count nets that each know the labels through their own amount of noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, images)
    truth = np.eye(classes)[:, labels]
    nets = []
    for noise in rng.uniform(0.5, 3, count):
        scores = np.exp(truth + noise * rng.standard_normal((classes, images)))
        nets.append((scores / scores.sum(axis=0)).astype(np.float32))
    return nets, labels


# seed 10: five nets whose search gains in every one of its 5 passes, ended by the cap on passes
@pytest.mark.parametrize("seed, count, k", [(0, 2, 1), (1, 3, 2), (2, 4, 1), (3, 3, 3), (10, 5, 1)])
def test_the_search_finds_what_find_coeffs_finds(seed, count, k, monkeypatch):
    import convnet.fit_weights as module
    nets, labels = noisy_nets(seed, count)
    expected, expected_error, begun, averages = find_coeffs(nets, labels, k)
    scored, error_of = [], module.weighted_error
    monkeypatch.setattr(module, "weighted_error", lambda *a: scored.append(a) or error_of(*a))
    passes = []
    found, error = fit_weights([(n, None) for n in nets], labels, k, lambda *a: passes.append(a))
    np.testing.assert_allclose(found, expected, atol=1e-12)
    assert error == pytest.approx(expected_error, abs=1e-12)
    assert error < topk_error_by_loops(sum(n.astype(np.float64) for n in nets), labels, k)   # better than equal
    assert expected != [0.5] * count and [p[0] for p in passes] == list(range(1, begun + 1))
    assert passes[-1][1] == error
    assert len(scored) == averages              # and it stops where find_coeffs stops, not a pass later


def test_a_search_that_finds_no_gain_ends_after_one_pass():
    """Equal weights already best: the 2012 code ran its 4 other passes, which repeat the first."""
    labels = np.arange(4)
    right = np.eye(4, dtype=np.float32) + 0.1
    passes = []
    assert fit_weights([(right, None), (right, None)], labels, 1, lambda *a: passes.append(a)) == ([0.5, 0.5], 0)
    assert find_coeffs([right, right], labels, 1)[:3] == ([0.5, 0.5], 0, 5) and len(passes) == 1


def test_a_net_that_only_adds_noise_is_weighted_down():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 5, 200)
    good = np.eye(5, dtype=np.float32)[:, labels] * 0.6 + 0.08          # always right: 0.68 against 0.08
    noise = rng.dirichlet(np.ones(5), 200).T.astype(np.float32)          # right a fifth of the time
    found, error = fit_weights([(good, None), (noise, None)], labels, 1)
    assert error == 0 and found[0] > found[1]
    assert weighted_error([(good, None), (noise, None)], labels, 1, [0.5, 0.5]) > 0


def test_the_ranks_are_weighed_where_a_net_has_them():
    """A cost.msm ranks by its energies, not its probabilities: the search weighs the ranks."""
    labels = np.array([0, 1])
    probs = np.array([[0.1, 0.9], [0.9, 0.1]], np.float32)             # wrong on both
    ranks = np.array([[2.0, 0.0], [0.0, 2.0]], np.float32)             # right on both
    assert weighted_error([(probs, ranks)], labels, 1, [1]) == 0
    assert weighted_error([(probs, None)], labels, 1, [1]) == 1


def test_the_error_sums_over_chunks_as_over_all(monkeypatch):
    import convnet.fit_weights as module
    nets, labels = noisy_nets(4, 2, images=50)
    whole = weighted_error([(n, None) for n in nets], labels, 2, [0.3, 0.7])
    monkeypatch.setattr(module, "CHUNK", 7)
    assert weighted_error([(n, None) for n in nets], labels, 2, [0.3, 0.7]) == pytest.approx(whole, abs=1e-15)
    assert whole == pytest.approx(topk_error_by_loops(0.3 * nets[0].astype(np.float64) + 0.7 * nets[1], labels, 2))


def test_the_coefficients_are_written_as_weights_takes_them():
    assert weights_text([0.5, 0.35, 0.0, 1.0]) == "0.5,0.35,0,1"


class CountingNet:
    """A stand-in for a net over 4 classes: its softmax is that of fixed weights times the images, and it
    counts its forward passes."""

    def __init__(self, seed):
        self.weights = np.random.default_rng(seed).normal(size=(4, 6)).astype(np.float32)
        self.passes, self.graph = 0, self

    cost_layers = [type("Logreg", (), {"type": "cost.logreg", "inputs": ("labels", "probs"),
                                       "conf": type("Conf", (), {"topk": 2})})]

    def forward(self, inputs, train):
        assert not train
        self.passes += 1
        scores = self.weights @ inputs[0]
        e = np.exp(scores - scores.max(axis=0))
        self.probs = (e / e.sum(axis=0)).astype(np.float32)

    def activation(self, name):
        assert name == "probs"
        return self.probs


class TwoViews:
    """A test range of two batches (50 and 30 images of 6 numbers), seen in two views: as they are and
    reversed."""

    def __init__(self):
        rng = np.random.default_rng(7)
        self.batches = {n: (rng.normal(size=(6, size)).astype(np.float32), rng.integers(0, 4, size))
                        for n, size in ((1, 50), (2, 30))}
        self.test, self.unlabelled, self.provider, self.augmentation = [1, 2], False, self, self

    def batch_size(self, number):
        return self.batches[number][1].size

    def read_batch(self, number):
        return self.batches[number]

    def select(self, images, indices):
        return images[:, indices]

    def views(self, images):
        return [images, images[::-1].copy()]


def test_the_weights_found_are_tested_on_the_scores_of_the_search_without_running_the_nets_again():
    from convnet.evaluate import evaluate, net_weights
    from convnet.fit_weights import net_scores
    nets, data = [CountingNet(seed) for seed in (1, 2, 3)], TwoViews()
    scores, labels = net_scores(nets, data, multiview=True, mini=16)
    passes = 2 * (4 + 2)                        # 2 views of 4 + 2 minibatches of at most 16
    assert [net.passes for net in nets] == [passes] * 3
    np.testing.assert_array_equal(labels, np.concatenate([data.batches[1][1], data.batches[2][1]]))
    assert all(p.shape == (4, 80) and p.dtype == np.float64 and r is None for p, r in scores)
    weights = net_weights("0.5,0,1", 3)
    kept, again = [], []
    found = evaluate(nets, data, multiview=True, mini=16, weights=weights, recorded=scores, predictions=kept)
    assert [net.passes for net in nets] == [passes] * 3
    fresh = evaluate(nets, data, multiview=True, mini=16, weights=weights, predictions=again)
    assert [net.passes for net in nets] == [2 * passes, passes, 2 * passes]
    assert found == fresh and found["cases"] == 80
    for (p, l, r), (p2, l2, r2) in zip(kept, again, strict=True):
        np.testing.assert_array_equal(p, p2)
        np.testing.assert_array_equal(l, l2)
    # and the recorded scores are each net's views summed: its two views' softmax, image by image
    images = np.concatenate([data.batches[1][0], data.batches[2][0]], axis=1)
    for net, (p, _) in zip(nets, scores):
        by_views = 0
        for view in (images, images[::-1]):
            net.forward([view], train=False)
            by_views = by_views + net.probs.astype(np.float64)
        np.testing.assert_allclose(p, by_views, rtol=1e-12)


class EnergyNet(CountingNet):
    """The stand-in with a cost.msm over sets of 2: its scores are energies, which rank the classes."""
    cost_layers = [type("Msm", (), {"type": "cost.msm", "inputs": ("labels", "energies"), "classes": 4,
                                    "conf": type("Conf", (), {"setSize": 2})})]

    def forward(self, inputs, train):
        self.passes += 1
        self.energies = self.weights @ inputs[0]

    def activation(self, name):
        assert name == "energies"
        return self.energies


def test_the_search_records_the_ranks_of_nets_that_rank_by_their_energies():
    """What --fit-weights weighs for cost.msm nets: each net's energies summed over its views, image by
    image in the test range's order, beside its set probabilities."""
    from convnet.fit_weights import net_scores
    nets, data = [EnergyNet(seed) for seed in (1, 2)], TwoViews()
    scores, labels = net_scores(nets, data, multiview=True, mini=16)
    images = np.concatenate([data.batches[1][0], data.batches[2][0]], axis=1).astype(np.float64)
    for net, (p, r) in zip(nets, scores, strict=True):
        by_views = sum(net.weights.astype(np.float64) @ view for view in (images, images[::-1]))
        np.testing.assert_allclose(r, by_views, rtol=1e-5, atol=1e-5)
        assert p.shape == (4, 80) and np.all(p >= 0)
        np.testing.assert_allclose(p.sum(axis=0), 2 * 2, rtol=1e-6)   # 2 views of P(class in the set): 2 each
