"""The 2012 code's other costs: cost.crossent, cost.crossent2, cost.rflickr, cost.gsum2, cost.tica and
cost.msm, against sums and brute-force enumerations written here, gradients against central
differences, the GPU path against NumPy."""
import itertools
import math

import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.errors import ConfigError
from convnet.kernels import f32, i32, kernels
from tests.conftest import GPU_BACKENDS
from tests.helpers import TRAIN, check_cost_gradients, check_parity, gpu_twin, make_layer

RNG = np.random.default_rng(0)


def probabilities(K, N):
    p = RNG.uniform(0.05, 1, (K, N))
    return p / p.sum(axis=0)


def test_crossent_with_distributions_and_with_class_numbers():
    layer = make_layer("cost.crossent", [(4,), (4,)], params=dict(coeff=2))
    p = probabilities(4, 3)
    t = probabilities(4, 3)
    cost, errors = layer.forward([t, p], TRAIN)
    assert cost == pytest.approx(-(t * np.log(p)).sum(), rel=1e-13)
    right = [1.0 if t[np.argmax(p[:, n]), n] > 0 else 0.0 for n in range(3)]
    assert errors == pytest.approx(3 - sum(right))
    check_cost_gradients(layer, [t, p], inputs=[1])
    numbers = make_layer("cost.crossent", [(1,), (4,)])
    labels = np.array([[2.0, 0.0, 3.0]])
    one_hot = np.eye(4)[:, [2, 0, 3]]
    np.testing.assert_allclose(numbers.forward([labels, p], TRAIN), layer.forward([one_hot, p], TRAIN))


def test_crossent_counts_ties_at_the_top_as_fractions():
    layer = make_layer("cost.crossent", [(1,), (3,)])
    p = np.array([[0.4], [0.4], [0.2]])
    assert layer.forward([np.array([[1.0]]), p], TRAIN)[1] == pytest.approx(0.5)
    assert layer.forward([np.array([[2.0]]), p], TRAIN)[1] == pytest.approx(1.0)


def test_crossent2_and_rflickr():
    y = RNG.uniform(0.05, 0.95, (5, 3))
    t = (RNG.uniform(size=(5, 3)) > 0.5).astype(float)
    ce = make_layer("cost.crossent2", [(5,), (5,)], params=dict(coeff=0.7))
    assert ce.forward([t, y], TRAIN)[0] == pytest.approx(-(t * np.log(y) + (1 - t) * np.log(1 - y)).sum(), rel=1e-13)
    check_cost_gradients(ce, [t, y], inputs=[1])
    rf = make_layer("cost.rflickr", [(5,), (5,)], params=dict(coeff=0.7))
    assert rf.forward([t, y], TRAIN)[0] == pytest.approx(np.log(1 + (y - t) ** 2).sum(), rel=1e-13)
    check_cost_gradients(rf, [t, y], inputs=[1])


def test_crossent2_after_a_logistic_is_outputs_minus_targets():
    """The 2012 code folded the logistic's backward into coeff * (y - t); the exact gradient gives it."""
    ce = make_layer("cost.crossent2", [(5,), (5,)], params=dict(coeff=0.7))
    x = RNG.standard_normal((5, 3))
    y = 1 / (1 + np.exp(-x))
    t = (RNG.uniform(size=(5, 3)) > 0.5).astype(float)
    dy = ce.backward([t, y], None, None, [False, True], TRAIN)[1]
    np.testing.assert_allclose(dy * y * (1 - y), 0.7 * (y - t), rtol=1e-12)


def test_targets_of_the_wrong_size_are_refused():
    with pytest.raises(ConfigError) as e:
        make_layer("cost.crossent2", [(3,), (5,)])
    assert "one per class" in str(e.value)


def test_gsum2():
    layer = make_layer("cost.gsum2", [(1,), (2, 2, 2)], params=dict(coeff=0.3))
    g, x = RNG.uniform(0, 1, (1, 4)), RNG.standard_normal((2, 2, 2, 4))
    assert layer.forward([g, x], TRAIN)[0] == pytest.approx(sum(g[0, n] * (x[..., n] ** 2).sum() for n in range(4)))
    check_cost_gradients(layer, [g, x])
    with pytest.raises(ConfigError):
        make_layer("cost.gsum2", [(2,), (5,)])


@pytest.mark.parametrize("size", [3, 2])
def test_tica(size):
    layer = make_layer("cost.tica", [(2, 5, 5)], dict(channels=2, sizeX=size), params=dict(coeff=0.5))
    x = RNG.standard_normal((2, 5, 5, 2))
    expected = 0.0
    for c, r, q, n in itertools.product(range(2), range(5), range(5), range(2)):
        r0, q0 = r - size // 2, q - size // 2
        window = x[c, max(0, r0):r0 + size, max(0, q0):q0 + size, n]
        expected += math.sqrt((window ** 2).sum() + 1e-6)
    assert layer.forward([x], TRAIN)[0] == pytest.approx(expected, rel=1e-12)
    check_cost_gradients(layer, [x])


@pytest.mark.parametrize("k", [1, 2, 4])
def test_msm_against_every_set(k):
    layer = make_layer("cost.msm", [(1,), (6,)], params=dict(setSize=k, coeff=1.5))
    e = RNG.standard_normal((6, 4)) * 2
    labels = np.array([[0.0, 3.0, 5.0, 2.0]])
    expected = 0.0
    for n in range(4):
        sets = list(itertools.combinations(range(6), k))
        w = np.array([math.exp(e[list(s), n].sum()) for s in sets])
        expected -= math.log(w[[int(labels[0, n]) in s for s in sets]].sum() / w.sum())
    cost, top1, topk = layer.forward([labels, e], TRAIN)
    assert cost == pytest.approx(expected, rel=1e-12)
    ranks = [(e[:, n] > e[int(labels[0, n]), n]).sum() for n in range(4)]
    assert top1 == sum(r >= 1 for r in ranks) and topk == sum(r >= k for r in ranks)
    check_cost_gradients(layer, [labels, e], inputs=[1])
    if k == 1:        # the softmax's logistic regression
        p = np.exp(e) / np.exp(e).sum(axis=0)
        grad = layer.backward([labels, e], None, None, [False, True], TRAIN)[1]
        np.testing.assert_allclose(grad, 1.5 * (p - np.eye(6)[:, [0, 3, 5, 2]]), rtol=1e-10)


def test_msm_checks_its_set_size():
    with pytest.raises(ConfigError) as e:
        make_layer("cost.msm", [(1,), (6,)], params=dict(setSize=6))
    assert e.value.key == "setSize"


def test_msm_takes_up_to_32_threads():
    """layer.py:1308: threads in 1-32 (read and unused: the 2012 code's CPU threads)."""
    assert make_layer("cost.msm", [(1,), (6,)], params=dict(setSize=2, threads=32)).conf.threads == 32
    with pytest.raises(ConfigError) as e:
        make_layer("cost.msm", [(1,), (6,)], params=dict(setSize=2, threads=33))
    assert e.value.key == "threads"


COSTS = [
    ("cost.crossent", [(7,), (7,)], dict(coeff=1.3)),
    ("cost.crossent", [(1,), (7,)], dict(coeff=1.3)),
    ("cost.crossent2", [(7,), (7,)], dict(coeff=0.6)),
    ("cost.crossent2", [(1,), (7,)], dict(coeff=0.6)),
    ("cost.rflickr", [(7,), (7,)], dict(coeff=0.6)),
    ("cost.gsum2", [(1,), (2, 3, 3)], dict(coeff=0.4)),
    ("cost.tica", [(3, 4, 4)], dict(coeff=0.4)),
    ("cost.msm", [(1,), (7,)], dict(coeff=1.2, setSize=3)),
]


def keys_of(kind):
    return dict(channels=3, sizeX=3) if kind == "cost.tica" else None


def cost_inputs(kind, shapes, N=6):
    """Inputs each cost reads: labels or targets, then what it scores (the maps alone for cost.tica)."""
    if kind == "cost.tica":
        return [RNG.standard_normal((3, 4, 4, N))]
    if kind == "cost.gsum2":
        return [RNG.uniform(0, 1, (1, N)), RNG.standard_normal((2, 3, 3, N))]
    if shapes[0] == (1,):
        return [RNG.integers(0, 7, (1, N)).astype(float),
                probabilities(7, N) if "msm" not in kind else RNG.standard_normal((7, N))]
    return [probabilities(7, N) if kind == "cost.crossent" else (RNG.uniform(size=(7, N)) > 0.5).astype(float),
            probabilities(7, N) if kind == "cost.crossent" else RNG.uniform(0.05, 0.95, (7, N))]


def needed(kind):
    return [True] if kind == "cost.tica" else [kind == "cost.gsum2", True]


@pytest.mark.parametrize("kind,shapes,params", [COSTS[i] for i in (0, 2, 4, 5, 6, 7)])
def test_a_cost_without_coeff_weighs_its_gradient_by_one(kind, shapes, params):
    """The 2012 parser required coeff (layer.py:1231); here it defaults to 1: the gradient of coeff=1."""
    xs = cost_inputs(kind, shapes)
    unweighted = {k: v for k, v in params.items() if k != "coeff"}
    grads = []
    for p in (unweighted, dict(unweighted, coeff=1), dict(unweighted, coeff=3)):
        layer = make_layer(kind, shapes, keys_of(kind), p or None)
        grads.append(layer.backward(xs, layer.forward(xs, TRAIN), None, needed(kind), TRAIN)[-1])
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_allclose(grads[2], 3 * grads[1], rtol=1e-12)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
@pytest.mark.parametrize("kind,shapes,params", COSTS)
def test_gpu_path(backend, kind, shapes, params):
    cpu, gpu = gpu_twin(kind, shapes, keys_of(kind), params, backend)
    xs = cost_inputs(kind, shapes)
    need = needed(kind)
    errors = check_parity(cpu, gpu, xs, need=need)
    assert f"input {len(xs) - 1}" in errors                     # the gradient was compared too


def forward_on_both_paths(backend, kind, shapes, xs):
    """The cost layer's value from the NumPy path and from the GPU path (float32), same inputs."""
    cpu, gpu = gpu_twin(kind, shapes, backend=backend)
    xs = [np.asarray(x, np.float32) for x in xs]
    return cpu.forward(xs, TRAIN), gpu.be.to_host(gpu.forward([gpu.be.from_host(x, gpu.device) for x in xs], TRAIN))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_crossent_at_probabilities_of_0_and_ties_at_the_top(backend):
    """Images as columns. 0: classes 0 and 1 tied at the top, the target 1 among them (half an error);
    1: a target of 0.5 on a probability of exactly 0 (safelog's -50) and a tie of classes 1 and 2, a
    target on 1 (half an error); 2: class 1 alone at the top, the target elsewhere (an error)."""
    p = [[0.5, 0.0, 0.2], [0.5, 0.5, 0.6], [0.0, 0.5, 0.2]]
    t = [[0.0, 0.5, 1.0], [1.0, 0.5, 0.0], [0.0, 0.0, 0.0]]
    cost = -math.log(0.5) + (25 - 0.5 * math.log(0.5)) - math.log(0.2)
    for value in forward_on_both_paths(backend, "cost.crossent", [(3,), (3,)], [t, p]):
        np.testing.assert_allclose(value, [cost, 0.5 + 0.5 + 1], rtol=1e-6)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_crossent2_at_outputs_of_exactly_0_and_1(backend):
    """safelog(0) = -50 on either side: an output of 1 where the target is 0 costs 50, and of 0 where it
    is 1; an output equal to its 0/1 target costs 0."""
    y = [[1.0], [0.0], [0.0], [1.0], [0.5]]                 # 5 classes of one image
    t = [[0.0], [1.0], [0.0], [1.0], [1.0]]
    for value in forward_on_both_paths(backend, "cost.crossent2", [(5,), (5,)], [t, y]):
        np.testing.assert_allclose(value, [50 + 50 + 0 + 0 - math.log(0.5)], rtol=1e-6)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_tica_on_the_gpu_path_with_wide_windows_over_zeros(backend):
    """sizeX=5 (windows from 2 rows and columns before the pixel, where 3's start 1 before) on maps with
    a corner of zeros, where a window holds nothing but eps: its root is sqrt(eps)."""
    cpu, gpu = gpu_twin("cost.tica", [(2, 7, 7)], dict(channels=2, sizeX=5), dict(coeff=0.4), backend)
    x = RNG.standard_normal((2, 7, 7, 4))
    x[:, :4, :4] = 0
    check_parity(cpu, gpu, [x], need=[True])
    alone = cpu.forward([np.zeros((2, 7, 7, 1))], TRAIN)[0]
    assert alone == pytest.approx(2 * 49 * math.sqrt(1e-6), rel=1e-6)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
@pytest.mark.parametrize("k", [1, 2, 6])
def test_msm_on_the_gpu_path_with_ties_and_every_kind_of_set_size(backend, k):
    """setSize 1 (the given lattice is of 0-sets: the softmax's logistic regression), 2 and classes - 1;
    energies of three values only, so that labels tie with other classes (fractions of a hit)."""
    cpu, gpu = gpu_twin("cost.msm", [(1,), (7,)], params=dict(coeff=1.2, setSize=k), backend=backend)
    e = RNG.choice([0.0, 1.0, 2.5], (7, 40))
    labels = RNG.integers(0, 7, (1, 40)).astype(float)
    check_parity(cpu, gpu, [labels, e], need=[False, True])
    _, top1, topk = cpu.forward([labels, e], TRAIN)
    assert top1 != round(top1) and (k == 6 or topk != round(topk))        # ties were counted as fractions


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_msm_gives_each_image_its_own_lattices(backend):
    """One thread per image builds its lattices in its own (K + 2, k + 1) slice of four workspaces; run
    at once on a GPU, images whose slices overlapped would overwrite each other's (the emulator runs
    the threads one after another, so the costs alone would not show it). After the launch every slice
    holds its own image's lattices: F, B for sets of k; F2, B2 for sets of k - 1 without the label."""
    from convnet.layers.cost_msm import CU, lattices
    K, N, k = 5, 6, 2
    be = get_backend(backend)
    e = RNG.standard_normal((K, N)).astype(np.float32)
    labels = RNG.integers(0, K, (1, N)).astype(np.float32)
    work = [be.empty((N, K + 2, k + 1)) for _ in range(4)]
    kernels(be, CU).msm_image.launch(N, be.from_host(labels, None), be.from_host(e, None), *work, be.empty((3, N)),
                                     be.empty((K, N)), i32(K), i32(N), i32(k), f32(1))
    shifted = (e - e.max(axis=0)).astype(np.float64)
    given = shifted.copy()
    given[labels[0].astype(int), np.arange(N)] = -np.inf
    for got, want, sets in zip(work, lattices(shifted, k) + lattices(given, k - 1), (k, k, k - 1, k - 1)):
        rows = want.shape[0]
        got = be.to_host(got).reshape(N, -1)[:, :(K + 2) * (sets + 1)].reshape(N, K + 2, sets + 1)
        np.testing.assert_allclose(got[:, :rows], want.transpose(2, 0, 1), rtol=1e-5, atol=1e-6)


def test_safelog_is_log_and_minus_50_where_p_is_not_positive():
    """include/layer_kernels.cuh:40-41: x > 0 ? log(x) : -50."""
    from convnet.layers.cost_crossent import safelog
    np.testing.assert_allclose(safelog(np.array([0.0, -1.0, math.e, 1.0, 1e-30])), [-50, -50, 1, 0, math.log(1e-30)],
                               rtol=1e-12)
