"""Every layer's GPU forward and backward against its NumPy twin, at several shapes, on every GPU
backend present: the emulated one (the .cu kernels compiled for the CPU) always, cuda on a GPU."""
import numpy as np
import pytest

from tests.conftest import GPU_BACKENDS
from tests.helpers import PARITY, TEST, TRAIN, WEIGHT_PARAMS, check_parity, gpu_twin

RNG = np.random.default_rng(0)


def data(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.fixture(params=GPU_BACKENDS)
def backend(request):
    return request.param


@pytest.mark.parametrize("kind,S,k,s,start,outputs", [
    ("max", 13, 3, 2, 0, 0), ("avg", 8, 3, 2, 0, 0), ("max", 9, 2, 2, 0, 0), ("avg", 7, 3, 2, -1, 4),
    ("max", 6, 4, 3, 1, 2), ("avg", 11, 3, 1, 0, 0)])
def test_pool(backend, kind, S, k, s, start, outputs):
    cpu, gpu = gpu_twin("pool", [(3, S, S)], dict(pool=kind, sizeX=k, stride=s, start=start, outputsX=outputs,
                                                  channels=3), backend=backend)
    check_parity(cpu, gpu, [data(3, S, S, 5)])


@pytest.mark.parametrize("kind", ["maxabs", "rand"])
@pytest.mark.parametrize("ctx", [TRAIN, TEST], ids=["train", "test"])
def test_pool_2012_kinds(backend, kind, ctx):
    cpu, gpu = gpu_twin("pool", [(3, 9, 9)], dict(pool=kind, sizeX=3, stride=2, start=-1, channels=3), backend=backend)
    cpu.seed = gpu.seed = 99
    errors = check_parity(cpu, gpu, [data(3, 9, 9, 5)], ctx=ctx)
    assert kind == "rand" and ctx is TEST or errors["output"] == 0      # the same cells, bit for bit


@pytest.mark.parametrize("N", [8, 19, 64])
@pytest.mark.parametrize("kind", ["max", "avg", "maxabs", "rand"])
def test_pool_at_batches_a_thread_shares(backend, kind, N):
    """pool.cu gives each thread 8 images of a pixel (as unfold.cu does a row): one thread's images,
    a last thread short of them, and 8 threads; rand draws the same cells, image by image."""
    cpu, gpu = gpu_twin("pool", [(2, 7, 7)], dict(pool=kind, sizeX=3, stride=2, start=-1, channels=2),
                        backend=backend)
    cpu.seed = gpu.seed = 7
    x = np.round(data(2, 7, 7, N) * 2)          # ties too
    errors = check_parity(cpu, gpu, [x], ctx=TRAIN)
    assert errors["output"] == 0


def test_pool_ties(backend):
    cpu, gpu = gpu_twin("pool", [(2, 4, 4)], dict(pool="max", sizeX=2, stride=2, channels=2), backend=backend)
    x = np.round(data(2, 4, 4, 3))              # many equal values: the tie rule is compared too
    check_parity(cpu, gpu, [x])


@pytest.mark.parametrize("C,S,F,k,p,s,G,shared", [
    (3, 7, 4, 3, 0, 1, 1, 1), (3, 8, 2, 3, 1, 2, 1, 1), (4, 9, 3, 5, 2, 3, 2, 0), (2, 6, 2, 6, 0, 1, 1, 1),
    (6, 11, 4, 3, 1, 2, 3, 1), (2, 5, 2, 2, 2, 1, 1, 1), (2, 5, 2, 3, 4, 2, 1, 0)])   # the last two: padding >= filterSize
def test_conv(backend, C, S, F, k, p, s, G, shared):
    cpu, gpu = gpu_twin("conv", [(C, S, S)], dict(channels=C, filters=F, filterSize=k, padding=p, stride=s, groups=G,
                                                  sharedBiases=shared, initW=0.3, initB=0.1), WEIGHT_PARAMS, backend)
    check_parity(cpu, gpu, [data(C, S, S, 3)])


@pytest.mark.parametrize("N", [8, 19, 64])
def test_conv_and_local_at_batches_a_thread_shares(backend, N):
    """unfold.cu gives each thread 8 images of a row, the row shared by ceil(N / 8) threads: a batch of
    exactly one thread's images, one that leaves the last thread short, and one of 8 threads."""
    keys = dict(channels=3, filters=4, filterSize=3, padding=1, stride=2, initW=0.3, initB=0.1)
    for kind in ("conv", "local"):
        cpu, gpu = gpu_twin(kind, [(3, 7, 7)], keys, WEIGHT_PARAMS, backend)
        check_parity(cpu, gpu, [data(3, 7, 7, N)])


def test_conv_with_two_inputs(backend):
    keys = dict(channels="2,4", filters="3,6", groups="2,1", filterSize="3,5", padding="1,2", stride="1,1",
                initW="0.3,0.3")
    cpu, gpu = gpu_twin("conv", [(2, 6, 6), (4, 6, 6)], keys, WEIGHT_PARAMS, backend)
    check_parity(cpu, gpu, [data(2, 6, 6, 2), data(4, 6, 6, 2)])
    check_parity(cpu, gpu, [data(2, 6, 6, 2), data(4, 6, 6, 2)], need=[False, True])


@pytest.mark.parametrize("C,S,F,k,p,s,G", [(3, 6, 4, 3, 1, 1, 1), (4, 7, 2, 3, 0, 2, 2), (2, 5, 3, 2, 1, 2, 1),
                                            (2, 5, 2, 2, 3, 1, 1)])                  # padding past the filter
def test_local(backend, C, S, F, k, p, s, G):
    cpu, gpu = gpu_twin("local", [(C, S, S)], dict(channels=C, filters=F, filterSize=k, padding=p, stride=s,
                                                   groups=G, initW=0.3, initB=0.1), WEIGHT_PARAMS, backend)
    check_parity(cpu, gpu, [data(C, S, S, 3)])


def test_local_with_two_inputs(backend):
    keys = dict(channels="2,3", filters="4,4", filterSize="3,3", padding="1,1", stride="1,1", initW="0.3,0.3")
    cpu, gpu = gpu_twin("local", [(2, 5, 5), (3, 5, 5)], keys, WEIGHT_PARAMS, backend)
    check_parity(cpu, gpu, [data(2, 5, 5, 2), data(3, 5, 5, 2)])


def test_fc(backend):
    cpu, gpu = gpu_twin("fc", [(2, 3, 3), (7,)], dict(outputs=5, initW="0.3,0.3", initB=0.2), WEIGHT_PARAMS, backend)
    check_parity(cpu, gpu, [data(2, 3, 3, 4), data(7, 4)])


NEURONS = ["ident", "relu", "brelu[1.5]", "softrelu", "logistic", "tanh[1.7159,0.6666]", "abs", "square", "sqrt",
           "linear[0.5,-2]", "nrelu", "drelu[1.5]"]


@pytest.mark.parametrize("spec", NEURONS)
@pytest.mark.parametrize("ctx", [TRAIN, TEST], ids=["train", "test"])
def test_neuron(backend, spec, ctx):
    cpu, gpu = gpu_twin("neuron", [(4, 3, 3)], dict(neuron=spec), backend=backend)
    gpu.seed = cpu.seed = 4321
    x = data(4, 3, 3, 5) * 3
    x[0, 0, 0] = 0                                        # abs at 0
    x[0, 0, 1] = 4                                        # softrelu's edge: log(1 + e^4) there, x above
    check_parity(cpu, gpu, [np.abs(x) + 0.1 if spec == "sqrt" else x], ctx=ctx)


@pytest.mark.parametrize("K,N", [(10, 7), (1000, 70), (3, 33), (5, 2100)])
def test_softmax(backend, K, N):
    """softmax.cu: 32 images a block, the classes strided over 32 rows of threads: fewer classes than
    rows, more than a block's images with the last block short, and (N = 2100) more images than the
    emulator's 64 blocks hold, so that its blocks loop."""
    cpu, gpu = gpu_twin("softmax", [(K,)], backend=backend)
    check_parity(cpu, gpu, [data(K, N) * 4])


def test_softmax_of_scores_far_from_zero(backend):
    """Scores near +-300, where exp overflows (or underflows) float32, and in every third image one
    class 120 above the others (e^120 is past float32 too, whichever score is subtracted but the
    largest): with the maximum subtracted first, both paths give the closed form, computed here in
    float64 from the scores' differences."""
    cpu, gpu = gpu_twin("softmax", [(5,)], backend=backend)
    x = data(5, 40) + np.where(np.arange(40) % 2, 300, -300).astype(np.float32)
    x[3, ::3] += 120
    d = x.astype(np.float64) - x.max(axis=0)
    expected = np.exp(d) / np.exp(d).sum(axis=0)
    np.testing.assert_allclose(cpu.forward([x], TRAIN), expected, rtol=1e-5, atol=1e-7)
    check_parity(cpu, gpu, [x])


def test_logreg(backend):
    cpu, gpu = gpu_twin("cost.logreg", [(1,), (6,)], params=dict(coeff=1.5, topk=3), backend=backend)
    probs = RNG.uniform(0.05, 1, (6, 40)).astype(np.float32)
    probs /= probs.sum(axis=0)
    labels = RNG.integers(0, 6, (1, 40)).astype(np.float32)
    errors = check_parity(cpu, gpu, [labels, probs], need=[False, True])
    assert errors["output"] < PARITY


def test_logreg_counts_ties_as_the_2012_code(backend):
    """Probabilities of three values only, so that the label often ties with other classes: a hit shared
    by a tie counts as a fraction (the label tied with 2 others for the top is a third of a top-1 hit),
    on both paths; image 0's is worked by hand."""
    cpu, gpu = gpu_twin("cost.logreg", [(1,), (6,)], params=dict(topk=3), backend=backend)
    probs = RNG.choice(np.array([1, 2, 4], np.float32), (6, 64))
    probs[:, 0] = [4, 4, 4, 1, 2, 1]                      # label 1 ties with classes 0 and 2
    probs /= probs.sum(axis=0)
    labels = RNG.integers(0, 6, (1, 64)).astype(np.float32)
    labels[0, 0] = 1
    y = cpu.forward([labels, probs], TEST)
    errors = check_parity(cpu, gpu, [labels, probs], need=[False, True])
    assert errors["output"] < PARITY
    single = cpu.forward([labels[:, :1], probs[:, :1]], TEST)
    np.testing.assert_allclose(single[1:], [2 / 3, 0], atol=1e-7)          # top-1: a third right; top-3: right
    assert 0 < y[1] < 64 and y[1] != np.round(y[1])                        # fractions elsewhere too


def test_sum_of_squares(backend):
    cpu, gpu = gpu_twin("cost.sum2", [(3, 4, 4)], params=dict(coeff=0.3), backend=backend)
    check_parity(cpu, gpu, [data(3, 4, 4, 6)])


@pytest.mark.parametrize("kind", ["hs", "dropout", "dropout2"])
@pytest.mark.parametrize("ctx", [TRAIN, TEST], ids=["train", "test"])
def test_dropout(backend, kind, ctx):
    cpu, gpu = gpu_twin(kind, [(50,)], dict(keep=0.6), backend=backend)
    gpu.seed = cpu.seed = 1234
    errors = check_parity(cpu, gpu, [data(50, 30) + 3], ctx=ctx)
    assert errors["output"] == 0          # the same mask, bit for bit: the same counter-based numbers


def test_dropout_disabled(backend):
    cpu, gpu = gpu_twin("hs", [(50,)], dict(keep=0.6), params=dict(enable="false"), backend=backend)
    check_parity(cpu, gpu, [data(50, 3)])


def test_concat(backend):
    cpu, gpu = gpu_twin("concat", [(2, 3, 3), (5,), (4, 3, 3)], backend=backend)
    check_parity(cpu, gpu, [data(2, 3, 3, 4), data(5, 4), data(4, 3, 3, 4)], need=[True, False, True])


def test_eltsum(backend):
    cpu, gpu = gpu_twin("eltsum", [(3, 2, 2), (12,), (12,)], dict(coeffs="0.5,-2,1.25"), backend=backend)
    check_parity(cpu, gpu, [data(3, 2, 2, 4), data(12, 4), data(12, 4)])


def test_eltmax(backend):
    cpu, gpu = gpu_twin("eltmax", [(6,), (6,), (6,)], backend=backend)
    check_parity(cpu, gpu, [np.round(data(6, 5)), np.round(data(6, 5)), data(6, 5)])


@pytest.mark.parametrize("size,blocked", [(5, 0), (4, 0), (3, 1), (1, 0), (9, 0)])
def test_cmrnorm(backend, size, blocked):
    cpu, gpu = gpu_twin("cmrnorm", [(7, 3, 3)], dict(channels=7, size=size, blocked=blocked),
                        dict(scale=1.3, pow=0.75, minDiv=2), backend)
    check_parity(cpu, gpu, [data(7, 3, 3, 4)])


@pytest.mark.parametrize("kind", ["rnorm", "cnorm"])
@pytest.mark.parametrize("size", [3, 4, 1])
def test_spatial_norms(backend, kind, size):
    cpu, gpu = gpu_twin(kind, [(2, 5, 6)[:1] + (5, 5)], dict(channels=2, size=size),
                        dict(scale=2.0, pow=0.6, minDiv=1.5), backend)
    check_parity(cpu, gpu, [data(2, 5, 5, 3)])


@pytest.mark.parametrize("kind", ["cmrnorm", "rnorm", "cnorm"])
def test_norm_backward_without_the_forwards_divisor(backend, kind):
    """A backward in a pass whose forward kept nothing (a test-mode forward) recomputes it."""
    keys = dict(channels=4, size=3)
    cpu, gpu = gpu_twin(kind, [(4, 4, 4)], keys, dict(scale=1.0, pow=0.75), backend)
    check_parity(cpu, gpu, [data(4, 4, 4, 2)], ctx=TEST)


@pytest.mark.parametrize("kind,shape,keys,params", [
    ("pool", (3, 7, 9), dict(pool="max", sizeX=3, stride=2, channels=3), None),
    ("pool", (3, 7, 9), dict(pool="avg", sizeX=3, stride=2, start=-1, channels=3), None),
    ("conv", (3, 7, 9), dict(channels=3, filters=4, filterSize=3, padding=1, stride=2, initW=0.3, initB=0.1),
     WEIGHT_PARAMS),
    ("conv", (3, 7, 9), dict(channels=3, filters=4, filterSize=3, padding=1, stride=1, sharedBiases=0, initW=0.3,
                             initB=0.1), WEIGHT_PARAMS),
    ("local", (3, 6, 8), dict(channels=3, filters=2, filterSize=3, padding=1, stride=1, initW=0.3, initB=0.1),
     WEIGHT_PARAMS),
    ("rnorm", (2, 5, 7), dict(channels=2, size=3), dict(scale=2.0, pow=0.6, minDiv=1.5)),
    ("cnorm", (2, 5, 7), dict(channels=2, size=3), dict(scale=2.0, pow=0.6, minDiv=1.5)),
    ("cmrnorm", (5, 3, 4), dict(channels=5, size=3), dict(scale=2.0, pow=0.6, minDiv=1.5)),
    ("href", (3, 6, 8), dict(channels=3), None),
], ids=lambda v: v if isinstance(v, str) else None)
def test_images_of_other_rows_than_columns(backend, kind, shape, keys, params):
    """Every other case here is square, where a kernel that swapped rows and columns would agree."""
    cpu, gpu = gpu_twin(kind, [shape], keys, params, backend)
    assert cpu.output_shape[1] != cpu.output_shape[2]
    check_parity(cpu, gpu, [data(*shape, 3)])


NORM_PARAMS = dict(scale=2.0, pow=0.75, minDiv=1.5)


@pytest.mark.parametrize("kind,keys,params", [
    ("conv", dict(channels=3, filters=4, filterSize=3, padding=1, stride=1, initW=0.5), WEIGHT_PARAMS),
    ("local", dict(channels=3, filters=4, filterSize=3, padding=1, stride=1, initW=0.5), WEIGHT_PARAMS),
    ("cmrnorm", dict(channels=3, size=3), NORM_PARAMS), ("rnorm", dict(channels=3, size=3), NORM_PARAMS),
    ("cnorm", dict(channels=3, size=3), NORM_PARAMS)], ids=["conv", "local", "cmrnorm", "rnorm", "cnorm"])
def test_a_backward_after_another_passs_forward_reads_its_own_pass(backend, kind, keys, params):
    """What a training forward keeps (a convolution's unfolded input, a norm's denominators) serves the
    backward of its own pass only (as on the CPU, test_conv.py): a forward of another pass on other data
    computes its own, and the first pass's backward then gives what it gave with nothing between."""
    from convnet.layer import Pass
    cpu, gpu = gpu_twin(kind, [(3, 6, 6)], keys, params, backend)
    be = gpu.be
    host = [data(3, 6, 6, 2), data(3, 6, 6, 2), data(*cpu.output_shape, 2)]
    x1, x2, dy = (be.from_host(a, gpu.device) for a in host)
    first, other = Pass(True, 1), Pass(True, 2)
    grads = lambda dx: [be.to_host(dx)] + [be.to_host(p.grad) for p in gpu.params]
    y = gpu.forward([x1], first)
    expected = grads(gpu.backward([x1], y, dy, [True], first)[0])
    y = gpu.forward([x1], first)
    y2 = be.to_host(gpu.forward([x2], other))                   # its own input's, not the kept one's
    np.testing.assert_allclose(y2, cpu.forward([host[1]], other), rtol=PARITY, atol=PARITY)
    for a, b in zip(grads(gpu.backward([x1], y, dy, [True], first)[0]), expected):
        np.testing.assert_array_equal(a, b)
