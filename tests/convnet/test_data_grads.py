"""show --data-grads: the gradient of the cost with respect to the test images' pixels, against float64
finite differences of the cost, and drawn as shownet drew it."""
import numpy as np
from PIL import Image

from convnet.data.loader import labels_row
from convnet.data_grads import data_gradients, shownet_shades
from convnet.graph import load_graph
from convnet.net import Net
from convnet.session import DEFAULTS, Data
from tests.helpers import DATA_LAYERS, ROOT, SOFTMAX_COST, write
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


TWO_COLUMNS = DATA_LAYERS + """
[convA]
type=conv
inputs=data
channels=3
filters=4
filterSize=3
padding=1
initW=0.3
neuron=tanh[1,1]
[convB]
type=conv
inputs=data
channels=3
filters=4
filterSize=5
padding=2
initW=0.3
neuron=tanh[1,1]
[fc]
type=fc
inputs=convA,convB
outputs=5
initW=0.1,0.1
""" + SOFTMAX_COST


def test_the_data_gradient_sums_every_layer_that_reads_the_images(tmp_path):
    """The images feed two columns (the paper's conv1a and conv1b): their gradient is the sum of both
    columns' parts, as float64 finite differences of the cost say, not one column's, nor their difference."""
    params = "".join(f"[{n}]\nepsW={w}\nepsB=0.1\nmomW={m}\nmomB=0.9\n"
                     for n, w, m in (("convA", 0.1, 0.9), ("convB", 0.1, 0.9), ("fc", "0.1,0.1", "0.9,0.9")))
    graph = load_graph(write(tmp_path, "l.cfg", TWO_COLUMNS), write(tmp_path, "p.cfg", params), [(3, 6, 6), (1,)])
    net = Net(graph, dtype=np.float64, seed=2)
    rng = np.random.default_rng(3)
    images, labels = rng.standard_normal((3, 6, 6, 4)), np.array([[0, 3, 1, 4]], np.float64)
    net.forward([images, labels], train=False)
    net.backward(data_grads=True)
    grads = net.gradient("data")
    assert grads.shape == images.shape

    def cost(delta, where):
        moved = images.copy()
        moved[where] += delta
        return float(net.forward([moved, labels], train=False)["cost"][0])

    for _ in range(8):
        where = tuple(int(rng.integers(n)) for n in images.shape)
        numeric = (cost(1e-4, where) - cost(-1e-4, where)) / 2e-4
        np.testing.assert_allclose(grads[where], numeric, rtol=1e-6, atol=1e-9 * np.abs(grads).max())


def test_shownet_keeps_only_the_values_3_standard_deviations_from_the_mean():
    g = np.random.default_rng(1).normal(0, 0.01, (3, 10, 10))
    g[0, 2, 3], g[2, 7, 7] = 10.0, -10.0
    shades = shownet_shades(g)
    centre = shades[1, 5, 5]                        # the mean, where every small value went
    assert shades[0, 2, 3] == 255 and shades[2, 7, 7] == 0
    assert set(np.unique(shades)) == {0, int(centre), 255} and abs(int(centre) - 128) <= 1


def test_the_threshold_is_3_standard_deviations_of_the_images_own_gradient():
    """96 zeros and +-10, +-3: the standard deviation is sqrt(2 (100 + 9) / 100) = 1.48, so 3 is under
    3 deviations (4.43) and goes to the mean with the zeros, while 10 stays."""
    g = np.zeros((1, 10, 10))
    g[0, 0, :4] = 10.0, -10.0, 3.0, -3.0
    shades = shownet_shades(g)
    assert list(shades[0, 0, :5]) == [255, 0, 128, 128, 128]
    assert set(np.unique(shades)) == {0, 128, 255}


def test_show_draws_the_first_test_images_over_their_gradients(tmp_path):
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    out = tmp_path / "grads.png"
    convnet("show", "--load", tmp_path / "r/latest.h5", "--data-grads", "--out", out)
    image = Image.open(out)
    assert image.width >= 8 * 104 and image.height == 16 + 2 * 96 + 20


def test_each_test_image_is_drawn_above_its_gradient():
    """The panel, cell by cell (104 pixels apart, under the 16-pixel title): the picture at the top, 4
    pixels of background, the gradient's shades scaled 3 times (32 to 96 pixels), then the class name."""
    from convnet.data_grads import data_grads_panel
    from convnet.show import BACKGROUND, _mean_view, _picture
    data = Data(dict(DEFAULTS), need_train=False)
    net = Net(load_graph(ROOT / "tests/configs/tiny.cfg", ROOT / "tests/configs/tiny-params.cfg",
                         [data.augmentation.shape, (1,)]), seed=4)
    panel = np.asarray(data_grads_panel(net, data, 3))
    view, labels, grads, images = data_gradients(net, data, 3)
    mean = _mean_view(data, images)
    assert panel.shape[0] == 16 + 2 * 96 + 20
    for j in range(3):
        cell = panel[16:, 104 * j:104 * (j + 1)]
        np.testing.assert_array_equal(cell[:96, :96], np.asarray(_picture(view[..., j], mean)))
        assert (cell[96:100] == BACKGROUND).all() and (cell[:, 96:] == BACKGROUND).all()
        shades = shownet_shades(grads[..., j]).transpose(1, 2, 0)
        np.testing.assert_array_equal(cell[100:196, :96], shades.repeat(3, axis=0).repeat(3, axis=1))
        assert (cell[196:] != BACKGROUND).any()                     # the class name under it
