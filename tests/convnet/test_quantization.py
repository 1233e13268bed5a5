"""quantF/quantB=half: a layer's output, and the gradient of its output, cross to other logical devices
rounded to float16 (the 2012 code's HalfQuantizer on its host copies), and stay exact on one device."""
import numpy as np
import pytest

from convnet.gradcheck import check_gradients
from convnet.graph import load_graph
from convnet.net import Net
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
