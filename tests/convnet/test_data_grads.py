"""show --data-grads: the gradient of the cost with respect to the test images' pixels, against float64
finite differences of the cost, and drawn as shownet drew it."""
import numpy as np
from PIL import Image

from convnet.data.loader import labels_row
from convnet.data_grads import data_gradients, shownet_shades
from convnet.graph import load_graph
from convnet.net import Net
from convnet.session import DEFAULTS, Data
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet


def test_the_gradient_is_the_costs_rate_of_change_with_each_pixel():
    data = Data(dict(DEFAULTS), need_train=False)
    graph = load_graph(ROOT / "tests/configs/tiny.cfg", ROOT / "tests/configs/tiny-params.cfg",
                       [data.augmentation.shape, (1,)])
    net = Net(graph, dtype=np.float64, seed=4)
    view, labels, grads, _ = data_gradients(net, data, 3)
    assert grads.shape == view.shape == (3, 32, 32, 3) and np.abs(grads).max() > 0
    batch = labels_row(labels)

    def cost(delta, where):
        moved = view.astype(np.float64)
        moved[where] += delta
        return float(net.forward([moved, batch])["logprob"][0])       # coeff 1: the cost the gradient is of

    rng = np.random.default_rng(0)
    for _ in range(6):
        where = tuple(int(rng.integers(n)) for n in view.shape)
        numeric = (cost(1e-3, where) - cost(-1e-3, where)) / 2e-3
        np.testing.assert_allclose(grads[where], numeric, rtol=1e-5, atol=1e-9 * np.abs(grads).max())


def test_shownet_keeps_only_the_values_3_standard_deviations_from_the_mean():
    g = np.random.default_rng(1).normal(0, 0.01, (3, 10, 10))
    g[0, 2, 3], g[2, 7, 7] = 10.0, -10.0
    shades = shownet_shades(g)
    centre = shades[1, 5, 5]                        # the mean, where every small value went
    assert shades[0, 2, 3] == 255 and shades[2, 7, 7] == 0
    assert set(np.unique(shades)) == {0, int(centre), 255} and abs(int(centre) - 128) <= 1


def test_show_draws_the_first_test_images_over_their_gradients(tmp_path):
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    out = tmp_path / "grads.png"
    convnet("show", "--load", tmp_path / "r/latest.h5", "--data-grads", "--out", out)
    image = Image.open(out)
    assert image.width >= 8 * 104 and image.height == 16 + 2 * 96 + 20
