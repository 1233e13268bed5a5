"""The paper's update, written out in the test, and the learning-rate schedules."""

import numpy as np
import pytest

from convnet.graph import load_graph
from convnet.net import Net
from convnet.schedule import schedule, schedule_2012
from convnet.solver import Solver
from tests.helpers import DATA_LAYERS, ROOT, write

LAYERS = DATA_LAYERS + """
[fc1]
type=fc
inputs=data
outputs=4
initW=0.5
initB=0.2
[probs]
type=softmax
inputs=fc1
[cost]
type=cost.logreg
inputs=labels,probs
"""


def net_with(tmp_path, params):
    g = load_graph(write(tmp_path, "l.cfg", LAYERS), write(tmp_path, "p.cfg", params), [(3, 2, 2), (1,)])
    return Net(g, seed=1)


def step(net, solver, rng, n=5, progress=0.0):
    data = [rng.standard_normal((3, 2, 2, n)).astype(np.float32), rng.integers(0, 4, (1, n)).astype(np.float32)]
    net.forward(data, train=True)
    net.backward()
    solver.update(n, progress)


def test_momentum_and_weight_decay_as_the_paper_writes_them(tmp_path):
    net = net_with(tmp_path, "[fc1]\nepsW=0.1\nepsB=0.3\nmomW=0.9\nmomB=0.5\nwc=0.01\n")
    solver = Solver(net)
    w, b = net.parameters()
    rng = np.random.default_rng(0)
    W, B = w.value.astype(np.float64), b.value.astype(np.float64)
    incW, incB = np.zeros_like(W), np.zeros_like(B)
    for _ in range(3):
        state = np.random.default_rng(rng.integers(1 << 30))
        data_rng = np.random.default_rng(state.integers(1 << 30))
        step(net, solver, data_rng)
        gW, gB = w.grad / 5, b.grad / 5                       # the batch mean of the gradient
        incW = 0.9 * incW - 0.01 * 0.1 * W - 0.1 * gW
        incB = 0.5 * incB - 0.3 * gB                          # biases: no decay
        W, B = W + incW, B + incB
        np.testing.assert_allclose(w.value, W, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b.value, B, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(w.inc, incW, rtol=1e-4, atol=1e-7)


def test_the_plateaus_scale_multiplies_every_rate(tmp_path):
    """--lr-plateau's drops (and --lr-scale) scale the rates: a step at lr_scale 0.1 is a tenth of the
    step at 1, weight decay's share too (wc * eps)."""
    moved = []
    for scale in (1.0, 0.1):
        net = net_with(tmp_path, "[fc1]\nepsW=0.1\nepsB=0.3\nmomW=0.9\nmomB=0.5\nwc=0.01\n")
        before = [p.value.astype(np.float64) for p in net.parameters()]
        step(net, Solver(net, lr_scale=scale), np.random.default_rng(4))
        moved.append([p.value - b for p, b in zip(net.parameters(), before)])
    for full, tenth in zip(*moved):
        assert np.abs(full).max() > 1e-3
        np.testing.assert_allclose(tenth, 0.1 * full, rtol=1e-3, atol=1e-7)


def test_an_update_every_third_step_takes_the_sum_of_three_batch_means(tmp_path):
    """--wupdate-freq 3: the weights stay put at steps 0 and 1 and move at step 2 (steps count from 0,
    src/convnet.cu:246), by the paper's update with the sum of the three batch means for the gradient;
    then again at step 5."""
    net = net_with(tmp_path, "[fc1]\nepsW=0.1\nepsB=0.3\nmomW=0.9\nmomB=0.5\nwc=0.01\n")
    solver = Solver(net)
    w, b = net.parameters()
    W, B = w.value.astype(np.float64), b.value.astype(np.float64)
    W0, incW, incB, sumW, sumB = W, np.zeros_like(W), np.zeros_like(B), 0.0, 0.0
    rng = np.random.default_rng(6)
    for s in range(6):
        n = 3 + s                                          # the minibatches need not be equal
        data = [rng.standard_normal((3, 2, 2, n)).astype(np.float32), rng.integers(0, 4, (1, n)).astype(np.float32)]
        net.forward(data, train=True)
        net.backward()
        sumW, sumB = sumW + w.grad.astype(np.float64) / n, sumB + b.grad.astype(np.float64) / n
        solver.update(n, 0.0, step=s, every=3)
        if s % 3 == 2:
            incW = 0.9 * incW - 0.01 * 0.1 * W - 0.1 * sumW
            incB = 0.5 * incB - 0.3 * sumB
            W, B, sumW, sumB = W + incW, B + incB, 0.0, 0.0
        np.testing.assert_allclose(w.value, W, rtol=1e-5, atol=1e-7, err_msg=f"step {s}")
        np.testing.assert_allclose(b.value, B, rtol=1e-5, atol=1e-7, err_msg=f"step {s}")
    assert np.abs(W - W0).max() > 1e-3                     # two updates moved them


def test_zero_rate_leaves_a_parameter_alone(tmp_path):
    """Weights::update (src/weights.cu:148) updates only a base rate > 0, and constrainWeights
    (src/layer.cu:679) bounds only those: a matrix frozen by epsW=0 keeps its values and its momentum,
    even with a momentum left from earlier training and filters over the wball bound."""
    net = net_with(tmp_path, "[fc1]\nepsW=0\nepsB=0.3\nmomW=0.9\nmomB=0.9\nwc=0.1\nwball=0.05\n")
    w = net.parameters()[0]
    w.value *= 10                                           # every filter far over its bound, 0.05 x 12
    assert np.all(np.linalg.norm(w.value, axis=1) > 0.6)
    w.inc[:] = np.random.default_rng(3).standard_normal(w.inc.shape).astype(w.inc.dtype)   # as resumed
    before, inc = w.value.copy(), w.inc.copy()
    step(net, Solver(net), np.random.default_rng(1))
    np.testing.assert_array_equal(w.value, before)
    np.testing.assert_array_equal(w.inc, inc)


def test_wball_bounds_each_filters_norm_as_the_2012_code(tmp_path):
    """layer.py's wballNormed = wball * weights per filter; WeightConstraintOperator scales a filter
    whose norm exceeds it back onto it (not "mean square <= wball")."""
    net = net_with(tmp_path, "[fc1]\nepsW=10\nepsB=0\nmomW=0\nmomB=0\nwball=0.05\n")
    w = net.parameters()[0]
    rng = np.random.default_rng(2)
    step(net, Solver(net), rng)
    norms = np.linalg.norm(w.value.astype(np.float64), axis=1)
    bound = 0.05 * 12                                     # 12 = 3 x 2 x 2 inputs per output filter
    assert np.all(norms <= bound * (1 + 1e-6)) and np.any(norms > bound * (1 - 1e-6))
    small = net_with(tmp_path, "[fc1]\nepsW=0.0001\nepsB=0\nmomW=0\nmomB=0\nwball=1\n")
    before = small.parameters()[0].value.copy()
    step(small, Solver(small), np.random.default_rng(2))
    assert np.linalg.norm(small.parameters()[0].value - before) < 1e-3     # under the bound: untouched


def test_wball_scales_exactly_the_filters_over_the_bound_onto_it(tmp_path):
    """WeightConstraintOperator (include/layer.cuh:61-69) on the squared norm a of each filter:
    a > bound^2 gives the factor bound / sqrt(a), else 1. Norms on both sides of the bound (0.6) and
    between it and sqrt(0.6), where comparing a with the bound instead of its square would differ."""
    net = net_with(tmp_path, "[fc1]\nepsW=1e-12\nepsB=0\nmomW=0\nmomB=0\nwball=0.05\n")
    w = net.parameters()[0]
    rng = np.random.default_rng(5)
    directions = rng.standard_normal((4, 12))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    norms = np.array([0.3, 0.7, 1.8, 0.59])                 # bound 0.05 x 12 = 0.6; sqrt(0.6) = 0.775
    w.value[:] = directions * norms[:, None]
    step(net, Solver(net), rng)                             # a step of 1e-12: only the bound moves them
    expected = directions * np.minimum(norms, 0.6)[:, None]
    np.testing.assert_allclose(w.value, expected, rtol=1e-5, atol=1e-7)


def test_schedules():
    assert schedule("0.01").rate(0.7) == 0.01
    lin = schedule("linear[0.01;10]")
    assert lin.rate(0) == pytest.approx(0.01) and lin.rate(1) == pytest.approx(0.001)
    assert lin.rate(0.5) == pytest.approx(0.0055)
    ex = schedule("exp[base=0.01;tgtFactor=100]")
    assert ex.rate(0.5) == pytest.approx(0.001) and ex.rate(1) == pytest.approx(0.0001)
    d = schedule("dexp[0.01;1000;4]")           # four steps: 0.01, 0.001, 0.0001, 0.00001
    rates = [d.rate(p) for p in (0.1, 0.3, 0.6, 0.99)]
    assert rates == pytest.approx([0.01, 0.001, 0.0001, 0.00001])
    assert d.rate(0.25) == pytest.approx(0.01) and d.rate(0.2501) == pytest.approx(0.001)
    # progress is held within [0, 1], as the 2012 code held it (convnet.py:107): past the end, the final rate
    assert lin.rate(1.5) == lin.rate(1) and ex.rate(3) == ex.rate(1) and d.rate(2) == d.rate(1)
    assert lin.rate(-0.5) == lin.rate(0) and ex.rate(-1) == ex.rate(0)
    # a base of 0 (a layer frozen, as epsW=0 freezes it) is a rate of 0 throughout
    assert all(schedule(f"{form}[0;10{rest}]").rate(p) == 0 for form, rest in (("linear", ""), ("exp", ""),
                                                                               ("dexp", ";3")) for p in (0, 0.5, 1))


@pytest.mark.parametrize("text,fragment", [("fast", "expected a number"), ("exp", "expected a number"),
                                           ("exp[0.1]", "needs tgtFactor"),
                                           ("dexp[0.1;10;1]", "numSteps >= 2"), ("-1", "must be a finite number"),
                                           ("nan", "must be a finite number"), ("exp[base=1;speed=2]", "no argument 'speed'")])
def test_bad_schedules(text, fragment):
    with pytest.raises(ValueError) as e:
        schedule(text)
    assert fragment in str(e.value)


def exp_rate(base, tgt, p):
    """ExpLRS in src/lr.cu: base^(1 + p * (log(base / tgt) / log(base) - 1)), written out."""
    power = np.log(base / tgt) / np.log(base) - 1
    return base ** (1 + p * power)


def test_2012_schedules_named_and_positional():
    for text in ("exp[tgtFactor=1000,noiseStdev=0]", "exp[1000]", "exp[1000,0]", "exp[ tgtFactor = 1000 ]"):
        shape = schedule_2012(text)
        for p in (0, 0.3, 1):
            assert shape.with_base(0.04).rate(p) == pytest.approx(exp_rate(0.04, 1000, p), rel=1e-12)
    lin = schedule_2012("linear[tgtFactor=10,noiseStdev=0]").with_base(0.01)
    assert lin.rate(0.25) == pytest.approx(0.01 * 0.75 + 0.001 * 0.25)
    # DiscreteExpLRS: numSteps - 1 rates from ExpLRS at i / (numSteps - 1), then the final rate; step i
    # serves progress up to (i + 1) / numSteps
    d = schedule_2012("dexp[250,0,4]").with_base(0.01)
    steps = [exp_rate(0.01, 250, i / 3) for i in range(3)] + [0.01 / 250]
    for p, i in [(0, 0), (0.25, 0), (0.2501, 1), (0.5, 1), (0.7, 2), (0.75, 2), (0.76, 3), (1, 3)]:
        assert d.rate(p) == pytest.approx(steps[i], rel=1e-12), p
    # the two-value form of the files from before rate noise (layer-params-153..160): tgtFactor, numSteps
    older = schedule_2012("dexp[250,4]").with_base(0.01)
    for p in (0, 0.3, 0.6, 1):
        assert older.rate(p) == d.rate(p)
    # JumpyDiscreteExpLRS: past the middle of a step (and 0.2 < p < 0.9), the geometric mean of this
    # step's rate and the previous one's
    j = schedule_2012("jdexp[tgtFactor=250,noiseStdev=0,numSteps=4]").with_base(0.01)
    assert j.rate(0.3) == pytest.approx(steps[1])                       # before the middle of step 1
    assert j.rate(0.45) == pytest.approx(np.sqrt(steps[1] * steps[0]))  # after it
    assert j.rate(0.95) == pytest.approx(steps[3])                      # p >= 0.9: no jump
    assert schedule_2012("default") is None


def test_rate_noise_multiplies_by_one_plus_abs_normal():
    shape = schedule_2012("exp[tgtFactor=10,noiseStdev=0.5]").with_base(0.1)
    assert shape.rate(0.5, lambda: -2.0) == pytest.approx(0.1 * 10 ** -0.5 * (1 + 2.0 * 0.5))
    assert shape.rate(0.5) == pytest.approx(0.1 * 10 ** -0.5)          # no draw, no noise


@pytest.mark.parametrize("text,fragment", [("exp[tgtFactor=0]", "tgtFactor > 0"), ("dexp[250]", "needs numSteps"), ("dexp[250,0]", "whole numSteps"),
                                           ("dexp[250,0,2.5]", "whole numSteps"), ("tanh[10]", "expected default"),
                                           ("exp[1,2,3]", "at most 2"), ("default[1]", "no arguments"),
                                           ("exp[tgtFactor=1,tgtFactor=2]", "twice")])
def test_bad_2012_schedules(text, fragment):
    with pytest.raises(ValueError) as e:
        schedule_2012(text)
    assert fragment in str(e.value)


def test_schedw_shapes_every_epsw_and_the_solver_follows_it(tmp_path):
    params = ("[fc1]\nepsW=0.04\nepsB=0.08\nmomW=0\nmomB=0\n"
              "schedW=exp[tgtFactor=1000,noiseStdev=0]\nschedB=dexp[tgtFactor=10,noiseStdev=0,numSteps=2]\n")
    net = net_with(tmp_path, params)
    w, b = net.parameters()
    solver = Solver(net)
    assert solver.rate(w, 0.5) == pytest.approx(exp_rate(0.04, 1000, 0.5))
    assert solver.rate(b, 0.5) == pytest.approx(0.08) and solver.rate(b, 0.51) == pytest.approx(0.008)
    before = w.value.astype(np.float64)
    step(net, solver, np.random.default_rng(3), progress=0.5)
    np.testing.assert_allclose(w.value, before - exp_rate(0.04, 1000, 0.5) * w.grad / 5, rtol=1e-5, atol=1e-8)
    older = net_with(tmp_path, "[fc1]\nepsW=0.04\nepsB=0.08\nmomW=0\nmomB=0\nsched=exp[1000]\n")
    assert [Solver(older).rate(p, 1) for p in older.parameters()] == pytest.approx([0.04e-3, 0.08e-3])


def test_noisy_rates_are_drawn_from_the_seed_and_step(tmp_path):
    net = net_with(tmp_path, "[fc1]\nepsW=0.1\nepsB=0\nmomW=0\nmomB=0\nschedW=linear[tgtFactor=1,noiseStdev=1]\n")
    w, solver = net.parameters()[0], Solver(net)
    draws = [solver.rate(w, 0.3, step) for step in range(200)]
    assert draws == [solver.rate(w, 0.3, step) for step in range(200)]        # the same step, the same rate
    assert min(draws) >= 0.1 and len(set(draws)) == 200
    # 1 + |z|: the mean of |z| is sqrt(2 / pi)
    assert np.mean(draws) == pytest.approx(0.1 * (1 + np.sqrt(2 / np.pi)), rel=0.12)


def test_a_schedule_given_twice_is_a_config_error(tmp_path):
    from convnet.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        net_with(tmp_path, "[fc1]\nepsW=exp[0.1;10]\nepsB=0\nmomW=0\nmomB=0\nschedW=exp[10]\n")
    assert e.value.key == "epsW" and "schedW" in str(e.value)


CONV = DATA_LAYERS + """
[conv]
type=conv
inputs=data
channels=3
filters=4
filterSize=2
initW=0.5
[probs]
type=softmax
inputs=conv
[cost]
type=cost.logreg
inputs=labels,probs
"""


@pytest.mark.parametrize("low, high", [(0.05, 0.1), (0.0, 0.1), (0.0, 0.0)])
def test_wcnorm_scales_each_filters_spread_into_its_range(tmp_path, low, high):
    """ConvLayer::constrainWeights: a = sqrt(sum (w - mean)^2) / n, n = weights per filter; a filter
    with a above wcNormMax is scaled by wcNormMax / a (its mean too), below wcNormMin by wcNormMin / a,
    and one within the range is left as it is. wcNormMax > 0 turns it on (src/layer.cu:909), whatever
    wcNormMin is (0, its default: no filter is too small); at 0, its default, no filter is scaled."""
    g = load_graph(write(tmp_path, "l.cfg", CONV), write(tmp_path, "p.cfg", "[conv]\nepsW=1e-9\nepsB=0\nmomW=0\nmomB=0\n"
                                                                             f"wcNormMax={high}\nwcNormMin={low}\n"), [(3, 2, 2), (1,)])
    net = Net(g, seed=3)
    w = net.parameters()[0]
    spread = lambda f: np.sqrt(((f - f.mean()) ** 2).sum()) / 12
    filters = w.value.reshape(4, 12)
    for f, a in enumerate((0.01, 0.07, 0.3, 0.09)):      # below, within, above, within the range
        filters[f] *= np.float32(a / spread(filters[f].astype(np.float64)))
    before = w.value.astype(np.float64).reshape(4, 12)
    step(net, Solver(net), np.random.default_rng(1))
    after = w.value.astype(np.float64).reshape(4, 12)
    for f in range(4):
        a = spread(before[f])
        target = a if high == 0 else low if a < low else high if a > high else a
        np.testing.assert_allclose(after[f], before[f] * target / a, rtol=1e-5)
        assert spread(after[f]) == pytest.approx(target, rel=1e-5)


def test_wcnormmin_above_max_is_a_config_error(tmp_path):
    from convnet.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        load_graph(write(tmp_path, "l.cfg", CONV), write(tmp_path, "p.cfg", "[conv]\nepsW=0.1\nepsB=0\nmomW=0\nmomB=0\n"
                                                                           "wcNormMax=0.1\nwcNormMin=0.5\n"), [(3, 2, 2), (1,)])
    assert e.value.key == "wcNormMin"


def test_supereps_divides_by_the_running_standard_deviation(tmp_path):
    """superMomUpdate (src/weights.cu:130-139): the running means G, G2 of the gradient and its square take
    momW (Weights::update, 161-162), the step's own momentum is 0.9 whatever momW says (its /*mom*/
    commented out), and superMom is read and unused (layer.py:733). momW=0.8 tells the two apart."""
    net = net_with(tmp_path, "[fc1]\nepsW=0.1\nepsB=0\nmomW=0.8\nmomB=0\nwc=0.01\nsuperEps=0.001\nsuperMom=0.5\n")
    solver = Solver(net)
    w = net.parameters()[0]
    W = w.value.astype(np.float64)
    inc, mean, square = np.zeros_like(W), np.zeros_like(W), np.zeros_like(W)
    rng = np.random.default_rng(4)
    for _ in range(3):
        step(net, solver, np.random.default_rng(rng.integers(1 << 30)))
        g = w.grad.astype(np.float64) / 5
        mean = 0.8 * mean + 0.2 * g
        square = 0.8 * square + 0.2 * g * g
        inc = 0.9 * inc - 0.1 * g / np.sqrt(square - mean ** 2 + 0.001) - 0.01 * 0.1 * W
        W = W + inc
        np.testing.assert_allclose(w.value, W, rtol=1e-4, atol=1e-6)


def _smooth_tiny(tmp_path):
    """The tiny net without its dropout layer, with tanh for its relu and average pooling for max, and its
    params with the decay off at half and whole rates: a net whose step depends only on the images and
    the rates, and smoothly on the weights. Two ways of summing the same gradient differ by float32
    rounding; at a kink (a relu at 0, two equal maxima) that difference picks another branch and the
    runs part by a whole unit's gradient (the relu net parted so at its 18th update on one machine)."""
    text = (ROOT / "tests/configs/tiny.cfg").read_text()
    text = text.replace("[drop1]\ntype=hs\ninputs=pool1\nkeep=0.8\n\n", "").replace("inputs=drop1", "inputs=pool1")
    text = text.replace("neuron=relu", "neuron=tanh[1,1]").replace("pool=max", "pool=avg")
    assert "drop1" not in text and "relu" not in text and "pool=max" not in text
    (tmp_path / "nodrop.cfg").write_text(text)
    params = (ROOT / "tests/configs/tiny-params.cfg").read_text().replace("wc=0.004", "wc=0").replace("wc=0.01", "wc=0")
    (tmp_path / "p1.cfg").write_text(params.replace("epsW=0.001", "epsW=0.0005").replace("epsB=0.002", "epsB=0.001"))
    (tmp_path / "p2.cfg").write_text(params)
    return tmp_path / "nodrop.cfg"


def test_wupdate_freq_sums_the_batch_mean_gradients_of_its_minibatches(tmp_path):
    """--wupdate-freq 2 at --mini 50 moves the weights by the sum of two batch means, every second
    step: the step of --mini 100 (the same images: their order does not depend on --mini) at twice
    the rates, with momentum, the weights unchanged between the two halves."""
    from tests.training import arrays, convnet
    layers = _smooth_tiny(tmp_path)
    common = ["--layers", layers, "--train-range", "1", "--epochs", "2", "--seed", "3"]
    convnet("train", *common, "--params", tmp_path / "p1.cfg", "--mini", "50", "--wupdate-freq", "2",
            "--save-path", tmp_path / "halves")
    convnet("train", *common, "--params", tmp_path / "p2.cfg", "--mini", "100", "--save-path", tmp_path / "whole")
    (a, attrs_a), (b, _) = arrays(tmp_path / "halves/latest.h5"), arrays(tmp_path / "whole/latest.h5")
    assert attrs_a["step"] == 80 and "conv1/weights_grad_sum/0" not in a     # 40 updates, none half done
    for key in ("conv1/weights/0", "conv1/biases", "fc10/weights/0", "fc10/biases"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # without the sums (an update every step of 50) the weights end elsewhere, far beyond that tolerance
    convnet("train", *common, "--params", tmp_path / "p1.cfg", "--mini", "50", "--save-path", tmp_path / "every")
    c, _ = arrays(tmp_path / "every/latest.h5")
    assert np.abs(c["fc10/weights/0"] - b["fc10/weights/0"]).max() > 100 * np.abs(a["fc10/weights/0"] -
                                                                                    b["fc10/weights/0"]).max()
