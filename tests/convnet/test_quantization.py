"""quantF/quantB=half: a layer's output, and the gradient of its output, cross to other logical devices
rounded to float16 (the 2012 code's HalfQuantizer on its host copies), and stay exact on one device."""
import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.gradcheck import check_gradients
from convnet.graph import load_graph
from convnet.kernels import ELEMENTWISE, i32, kernels
from convnet.net import Net
from tests.conftest import GPU_BACKENDS
from tests.helpers import DATA_LAYERS, write

LAYERS = DATA_LAYERS + """
[fcA]
type=fc
inputs=data
outputs=6
initW=0.7
gpu=0
[fcB]
type=fc
inputs=fcA
outputs=4
initW=0.7
gpu={gpu}
[probs]
type=softmax
inputs=fcB
[cost]
type=cost.logreg
inputs=labels,probs
"""
PARAMS = ("[fcA]\nepsW=0.1\nepsB=0.1\nmomW=0\nmomB=0\nquantF=half\nquantB=half\n"
          "[fcB]\nepsW=0.1\nepsB=0.1\nmomW=0\nmomB=0\n")


def net(tmp_path, gpu, backend="numpy"):
    g = load_graph(write(tmp_path, "l.cfg", LAYERS.format(gpu=gpu)), write(tmp_path, "p.cfg", PARAMS), [(5,), (1,)])
    return Net(g, backend=backend, seed=3)


def batch():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((5, 7)).astype(np.float32), rng.integers(0, 4, (1, 7)).astype(np.float32)]


@pytest.mark.parametrize("backend", ["numpy", "emulated"])
def test_crossing_devices_rounds_both_ways(tmp_path, backend):
    two = net(tmp_path, gpu=1, backend=backend)
    two.forward(batch(), train=True)
    received = two._copies["fcA", 1]
    a = two.activation("fcA")
    np.testing.assert_array_equal(received, a.astype(np.float16).astype(np.float32))
    assert not np.array_equal(received, a)
    two.backward()
    w = two.backend.to_host(two["fcB"].params[0].value)
    sent = w.T @ two.gradient("fcB")                               # the gradient fcB sends back to fcA
    np.testing.assert_allclose(two.gradient("fcA"), sent.astype(np.float16).astype(np.float32), rtol=1e-6, atol=1e-9)
    assert np.all(two.gradient("fcA") == two.gradient("fcA").astype(np.float16).astype(np.float32))


def test_one_device_and_the_gradient_check_are_exact(tmp_path):
    one = net(tmp_path, gpu=0)
    one.forward(batch(), train=True)
    assert ("fcA", 0) not in one._copies                          # nothing crosses: nothing rounded
    two = net(tmp_path, gpu=1)
    two.forward(batch(), train=True, noise=False)
    np.testing.assert_array_equal(two._copies["fcA", 1], two.activation("fcA"))
    rows, _ = check_gradients(write(tmp_path, "l.cfg", LAYERS.format(gpu=1)), write(tmp_path, "p.cfg", PARAMS),
                              input_size=1, channels=5)
    assert all(r.ok for r in rows)


def halves_and_between():
    """float32 values that take every path of a rounding to float16: every finite half; the midpoint
    of every two neighbours (ties: to the even one) and a float32 step either side of it; values of
    every exponent from far below the smallest subnormal half to past the largest half; the edge of
    overflow (65504 is the largest half, 65520 the first value that rounds to inf); and 0, -0, inf."""
    halves = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    halves = np.unique(halves[np.isfinite(halves)].astype(np.float32))          # ascending, -0 gone
    mids = (halves[:-1] + halves[1:]) / 2                                          # exact in float32
    rng = np.random.default_rng(5)
    spread = np.exp2(rng.uniform(-30, 17, 20_000)).astype(np.float32) * rng.choice([-1, 1], 20_000)
    edges = np.array([65504, 65519.996, 65520, 65536, 1e6, 3e38, 2.0 ** -24, 2.0 ** -25, 2.0 ** -26,
                      3 * 2.0 ** -26, 0.0, -0.0, np.inf, -np.inf], np.float32)
    return np.concatenate([halves, mids, np.nextafter(mids, np.float32(np.inf)),
                           np.nextafter(mids, np.float32(-np.inf)), spread, edges, -edges])


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_the_rounding_kernel_is_numpys_astype_float16_bit_for_bit(backend):
    be = get_backend(backend)
    x = halves_and_between()
    out = be.empty(x.shape)
    kernels(be, ELEMENTWISE).round_to_half.launch(x.size, be.from_host(x, None), out, i32(x.size))
    with np.errstate(over="ignore"):                                  # past 65520: inf, as asked
        expected = x.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(be.to_host(out).view(np.uint32), expected.view(np.uint32))   # -0 and inf too
    nan = be.empty((3,))
    kernels(be, ELEMENTWISE).round_to_half.launch(3, be.from_host(np.array([np.nan, -np.nan, 1], np.float32), None),
                                                  nan, i32(3))
    assert np.isnan(be.to_host(nan)[:2]).all() and be.to_host(nan)[2] == 1
