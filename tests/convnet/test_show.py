"""convnet show: filters, predictions and learning curves, drawn into one PNG."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from convnet.checkpoint import Checkpoint
from convnet.show import filter_tiles
from tests.helpers import make_layer, WEIGHT_PARAMS
from tests.training import FAST, TINY, convnet, restored


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("show")
    convnet("train", *TINY, *FAST, "--epochs", "1", "--test-freq", "7", "--save-path", path)
    return path / "latest.h5"


def on_one_scale(w, everything):
    """shownet's shades: w from the lowest to the highest value of everything, 0 to 255."""
    lo, hi = float(np.min(everything)), float(np.max(everything))
    return np.round((np.asarray(w, np.float64) - lo) / (hi - lo) * 255).astype(np.uint8)


def unzoomed(tile, size):
    return tile[::tile.shape[0] // size, ::tile.shape[0] // size]


def test_a_layers_rgb_filters_share_one_scale_as_shownet_drew_them():
    """shownet.py (plot_filters) scaled every filter of the layer together: a weak filter looks faint
    beside a strong one (each tile was stretched to its own range, which showed a dead filter's noise at
    full contrast)."""
    layer = make_layer("conv", [(3, 8, 8)], dict(channels=3, filters=4, filterSize=5), WEIGHT_PARAMS)
    w = layer.params[0].value
    w[1] = 0.1 * w[0]                               # a tenth as strong
    tiles, columns = filter_tiles(layer)
    assert len(tiles) == 4 and columns == 16
    for f in range(4):
        np.testing.assert_array_equal(unzoomed(tiles[f], 5), on_one_scale(w[f].transpose(1, 2, 0), w))
    assert min(t.min() for t in tiles) == 0 and max(t.max() for t in tiles) == 255
    assert np.ptp(tiles[1].astype(int)) <= 0.1 * np.ptp(tiles[0].astype(int)) + 2


def test_norm_filters_standardises_each_filter_first():
    """shownet's --norm-filters: each filter less its mean over channels and pixels, over its standard
    deviation, then the one scale: a filter and a tenth of it, shifted, look the same."""
    layer = make_layer("conv", [(3, 8, 8)], dict(channels=3, filters=4, filterSize=5), WEIGHT_PARAMS)
    w = layer.params[0].value
    w[1] = 0.1 * w[0] + 0.3
    tiles, _ = filter_tiles(layer, norm=True)
    np.testing.assert_array_equal(tiles[0], tiles[1])
    standard = [(w[f] - w[f].mean()) / w[f].std() for f in range(4)]
    for f in range(4):
        np.testing.assert_array_equal(unzoomed(tiles[f], 5), on_one_scale(standard[f].transpose(1, 2, 0), standard))


def test_no_rgb_draws_each_channel_of_a_colour_filter_grey():
    """shownet's --no-rgb: a filter that sees 3 channels as 3 grey tiles, on the layer's one scale."""
    layer = make_layer("conv", [(3, 8, 8)], dict(channels=3, filters=4, filterSize=5), WEIGHT_PARAMS)
    w = layer.params[0].value
    tiles, columns = filter_tiles(layer, rgb=False)
    assert columns == 3 and len(tiles) == 4 * 3 and tiles[0].ndim == 2
    for f in range(4):
        for c in range(3):
            np.testing.assert_array_equal(unzoomed(tiles[3 * f + c], 5), on_one_scale(w[f, c], w))
    local = make_layer("local", [(3, 8, 8)], dict(channels=3, filters=2, filterSize=3, stride=2), WEIGHT_PARAMS)
    plane, _ = filter_tiles(local, plane=1, rgb=False)        # a position's 3 channels side by side
    zoom = plane[0].shape[0] // 3
    assert plane[0].shape == (3 * zoom, 3 * 3 * zoom + 2)


def test_yuv_to_rgb_takes_the_filters_of_a_yuv_net_back_to_rgb():
    """shownet's --yuv-to-rgb: filters made as the rgb2yuv matrix times known RGB filters are drawn as
    those RGB filters."""
    from convnet.layers.rgb2yuv import YUV
    layer = make_layer("conv", [(3, 8, 8)], dict(channels=3, filters=4, filterSize=5), WEIGHT_PARAMS)
    rgb = np.random.default_rng(3).standard_normal(layer.params[0].value.shape)
    for f in range(4):
        for y in range(5):
            for x in range(5):
                layer.params[0].value[f, :, y, x] = YUV @ rgb[f, :, y, x]
    tiles, _ = filter_tiles(layer, yuv=True)
    for f in range(4):
        np.testing.assert_array_equal(unzoomed(tiles[f], 5), on_one_scale(rgb[f].transpose(1, 2, 0), rgb))
    assert not np.array_equal(filter_tiles(layer)[0][0], tiles[0])


def test_grey_tiles_per_filter_and_channel():
    layer = make_layer("conv", [(20, 8, 8)], dict(channels=20, filters=40, filterSize=3), WEIGHT_PARAMS)
    tiles, columns = filter_tiles(layer)
    assert columns == 16 and len(tiles) == 32 * 16 and tiles[0].ndim == 2
    w = layer.params[0].value                       # the scale of all 40 filters, 32 of them shown
    np.testing.assert_array_equal(unzoomed(tiles[16 * 3 + 7], 3), on_one_scale(w[3, 7], w))


class Net:
    """What filters_panel reads of a net: its layers by name."""

    def __init__(self, **layers):
        self.graph = SimpleNamespace(by_name=layers)

    def __getitem__(self, name):
        return self.graph.by_name[name]


def test_each_filter_panel_is_titled_with_its_layer_input_and_the_filters_it_shows(monkeypatch):
    import convnet.show as show
    titles = []
    monkeypatch.setattr(show, "titled", lambda image, title: titles.append(title) or image)
    two = make_layer("conv", [(3, 8, 8), (20, 8, 8)], dict(channels="3,20", filters="4,4", filterSize="3,3",
                     padding="1,1", stride="1,1", initW="0.1,0.1"), dict(WEIGHT_PARAMS, epsW="0.01,0.01",
                                                                            momW="0.9,0.9", wc="0,0"))
    big = make_layer("conv", [(2, 8, 8)], dict(channels=2, filters=40, filterSize=3, initW=0.1), WEIGHT_PARAMS)
    loc = make_layer("local", [(3, 6, 8)], dict(channels=3, filters=2, filterSize=3, initW=0.1), WEIGHT_PARAMS)
    net = Net(two=two, big=big, loc=loc)
    show.filters_panel(net, ["two", "two[1]", "big", "loc"])
    # grey filters: 32 of them at most, each a row of its channels
    assert titles == ["two[0]: 4 filters", "two[1]: 4 filters", "big: filters 0-31 of 40",
                      "loc: 2 filters at position (2, 3)"]           # a 4x6 grid of positions: its middle
    same = make_layer("conv", [(3, 8, 8)], dict(channels=3, filters=2, filterSize=3), WEIGHT_PARAMS)
    same.params[0].value = loc.params[0].value[2, 3]                  # what the title says is drawn
    for a, b in zip(show.filter_tiles(loc, 0)[0], show.filter_tiles(same, 0)[0], strict=True):
        np.testing.assert_array_equal(a, b)
    titles.clear()
    show.filters_panel(net, ["loc"], plane=1)
    assert titles == ["loc: filter 1 at each of its 4x6 positions"]


def test_a_layers_other_inputs_have_their_own_filters():
    layer = make_layer("conv", [(3, 8, 8), (20, 8, 8)], dict(channels="3,20", filters=4, filterSize=3),
                       WEIGHT_PARAMS)
    tiles, columns = filter_tiles(layer, 1)
    w = layer.params[1].value                       # (4 filters, 20 channels, 3, 3): grey, 16 channels shown
    assert columns == 16 and len(tiles) == 4 * 16
    np.testing.assert_array_equal(unzoomed(tiles[16 + 5], 3), on_one_scale(w[1, 5], w))


def test_a_local_plane_is_one_filter_at_every_position():
    layer = make_layer("local", [(3, 8, 8)], dict(channels=3, filters=4, filterSize=3, stride=2), WEIGHT_PARAMS)
    w = layer.params[0].value                       # (rows, cols, filters, channels, 3, 3)
    rows, cols = w.shape[:2]
    tiles, columns = filter_tiles(layer, plane=2)
    assert columns == cols and len(tiles) == rows * cols
    np.testing.assert_array_equal(unzoomed(tiles[cols + 1], 3), on_one_scale(w[1, 1, 2].transpose(1, 2, 0), w[:, :, 2]))
    middle, _ = filter_tiles(layer)                 # without a plane: every filter at the middle position
    centre = w[rows // 2, cols // 2]
    np.testing.assert_array_equal(unzoomed(middle[3], 3), on_one_scale(centre[3].transpose(1, 2, 0), centre))


def test_a_grey_local_plane_puts_a_positions_channels_side_by_side():
    layer = make_layer("local", [(5, 6, 6)], dict(channels=5, filters=2, filterSize=3), WEIGHT_PARAMS)
    w = layer.params[0].value
    tiles, columns = filter_tiles(layer, plane=1)
    zoom = tiles[0].shape[0] // 3
    assert columns == w.shape[1] and tiles[0].shape == (3 * zoom, 5 * 3 * zoom + 4)
    channel4 = tiles[w.shape[1] + 2][:, 4 * (3 * zoom + 1):]    # position (1, 2), channel 4
    np.testing.assert_array_equal(unzoomed(channel4, 3), on_one_scale(w[1, 2, 1, 4], w[:, :, 1]))


def test_show_draws_a_local_plane_and_names_the_filters_a_local_layer_has(tmp_path):
    convnet("train", *TINY, *FAST, "--epochs", "1", "--conv-to-local", "conv1", "--save-path", tmp_path / "run")
    load, out = tmp_path / "run" / "latest.h5", tmp_path / "plane.png"
    assert convnet("show", "--load", load, "--filters", "conv1", "--local-plane", "7", "--out", out).returncode == 0
    assert Image.open(out).size[0] > 17 * 40          # 17 positions a row, each a 3x3 RGB filter zoomed to 42 pixels
    result = convnet("show", "--load", load, "--filters", "conv1", "--local-plane", "8", "--out", out, check=False)
    assert result.returncode == 2 and "--local-plane 8: [conv1] has 8 filters (0 to 7)" in result.stderr


def test_every_panel(run, tmp_path):
    out = tmp_path / "all.png"
    convnet("show", "--load", run, "--filters", "conv1", "--preds", "--cost", "--out", out)
    image = Image.open(out)
    assert image.format == "PNG" and image.width >= 8 * 200 and image.height > 400
    normed = tmp_path / "normed.png"
    convnet("show", "--load", run, "--filters", "conv1", "--norm-filters", "--out", normed)
    alone = tmp_path / "filters.png"
    convnet("show", "--load", run, "--filters", "conv1", "--out", alone)
    assert Image.open(normed).size == Image.open(alone).size and normed.read_bytes() != alone.read_bytes()
    only_cost = tmp_path / "cost.png"
    convnet("show", "--load", run, "--cost", "--out", only_cost)
    assert Image.open(only_cost).size == (420 + legend("train cost", "test cost") + 420 +
                                          legend("train top-1 error", "test top-1 error", "test top-5 error"), 220)


def legend(*labels):
    """The width of a plot's legend column: its widest label and a margin."""
    from convnet.show import FONT
    return math.ceil(max(FONT.getlength(label) for label in labels)) + 12


def test_the_cost_panel_of_a_net_without_errors_is_its_costs_alone():
    from convnet.show import cost_panel
    nan = float("nan")
    history = [dict(epoch=e, train_cost=c, test_cost=c + 0.1, train_error=nan, test_top1=nan, test_topk=nan)
               for e, c in ((0.5, 2.0), (1.0, 1.5))]
    assert cost_panel(history).size == (420 + legend("train cost", "test cost"), 220)
    history[1].update(train_error=0.5, test_top1=0.6, test_topk=0.1)
    assert cost_panel(history).size == (840 + legend("train cost", "test cost") +
                                        legend("train top-1 error", "test top-1 error", "test top-5 error"), 220)


def test_a_plots_legend_is_beside_its_lines_and_its_x_axis_says_where_it_ends():
    """The legend has a column of its own (a line through the plot's top right corner, where the last
    point of a falling cost is, leaves it as it is), and the x axis gives its last value as well as its first."""
    from convnet.show import BACKGROUND, _plot
    blue, red = (40, 90, 200), (200, 70, 40)

    def plot(last_x, red_top):
        return np.asarray(_plot([1, 5, last_x], [("a label of some length", [3, 2, 1], blue),
                                                ("b", [1, 2, 3] if red_top else [0, 0, 0], red)], "title"))
    high, low = plot(90, True), plot(90, False)
    assert high.shape == (220, 420 + legend("a label of some length", "b"), 3)
    assert np.array_equal(high[:, 420:], low[:, 420:]) and not np.array_equal(high[:, :420], low[:, :420])
    assert (high[:, 420:] != BACKGROUND).any()                                # the labels are there
    axis = lambda image: image[190:]                                          # under the plot: the x axis' labels
    other = plot(50, True)
    assert not np.array_equal(axis(high)[:, 300:420], axis(other)[:, 300:420])   # it ends at 90, not 50
    assert np.array_equal(axis(high)[:, :100], axis(other)[:, :100])             # and starts at 1 in both


def test_a_legend_taller_than_the_plot_makes_it_taller():
    from convnet.show import _plot
    series = [(f"layer {i}", [i, i + 1], (40, 90, 200)) for i in range(20)]
    assert _plot([1, 2], series, "many").size[1] == 20 + 14 * 20 + 30


def test_preds_names_each_images_label_then_its_five_likeliest_classes_likeliest_first(run, monkeypatch):
    import convnet.show as show
    from convnet.evaluate import classifying_layer
    net, data = restored(run)
    named, real = [], show.class_name
    monkeypatch.setattr(show, "class_name", lambda data, k: named.append(int(k)) or real(data, k))
    bars, real_draw = [], show.ImageDraw.Draw

    def draw(image):          # the bars: (length, colour)
        d = real_draw(image)
        rectangle = d.rectangle
        d.rectangle = lambda xy, fill=None: bars.append((xy[2] - xy[0], fill)) or rectangle(xy, fill=fill)
        return d
    monkeypatch.setattr(show.ImageDraw, "Draw", draw)
    show.preds_panel(net, data, count=4, mini=100)
    _, labels, probs, _ = show._predictions(net, classifying_layer(net), data, 4, False, 100)
    green, red = (60, 160, 60), (200, 90, 60)
    for j in range(4):
        likeliest = sorted(range(probs.shape[0]), key=lambda k: -probs[k, j])[:5]
        assert named[6 * j:6 * j + 6] == [int(labels[j])] + likeliest
        assert bars[5 * j:5 * j + 5] == [(int(90 * probs[k, j]), green if k == labels[j] else red) for k in likeliest]
    assert len(named) == 24 and len(bars) == 20 and {c for _, c in bars} == {green, red}


@pytest.mark.parametrize("crop, start", [(None, 0), (24, 4)])
def test_a_test_image_is_shown_as_it_was_stored_its_centre_crop_with_the_mean_added_back(crop, start):
    from convnet.session import DEFAULTS, Data
    from convnet.show import _mean_view, _picture, first_test_views
    data = Data(dict(DEFAULTS, crop=crop), need_train=False)
    views, _, images = first_test_views(data, 2)
    size = views.shape[1]
    for j in range(2):
        shown = np.asarray(_picture(views[..., j], _mean_view(data, images), width=size))
        np.testing.assert_array_equal(shown, images[:, start:start + size, start:start + size, j].transpose(1, 2, 0))


def test_preds_with_errors_are_the_first_test_images_the_net_gets_wrong(run, tmp_path):
    from convnet.evaluate import classifying_layer
    from convnet.show import _predictions
    net, data = restored(run)
    images, labels = data.provider.read_batch(data.test[0])      # the whole first test batch
    from convnet.data.loader import labels_row
    predicted = []
    for i in range(0, 2000, 100):       # in the same minibatches, so that the sums are the same bits
        net.forward([data.augmentation.test(images[..., i:i + 100]), labels_row(labels[i:i + 100])], train=False)
        predicted.append(np.argmax(net.activation("probs"), axis=0))
    wrong = np.flatnonzero(np.concatenate(predicted) != labels)[:8]
    assert wrong.size == 8 and not np.array_equal(wrong, np.arange(8))
    view, chosen, probs, _ = _predictions(net, classifying_layer(net), data, 8, errors=True, mini=100)
    np.testing.assert_array_equal(chosen, labels[wrong])
    np.testing.assert_array_equal(view, data.augmentation.test(images)[..., wrong])
    assert np.all(np.argmax(probs, axis=0) != chosen)
    out = convnet("show", "--load", run, "--preds", "--errors", "--out", tmp_path / "errors.png")
    assert "wrote" in out.stdout and Image.open(tmp_path / "errors.png").width >= 8 * 200


def test_maps_are_a_layers_outputs_for_the_first_test_images_on_one_grey_scale(run, tmp_path):
    from convnet.data.loader import labels_row
    from convnet.opening import open_checkpoint
    from convnet.show import maps_panel
    _, data, net, _ = open_checkpoint(run, {})
    panel = np.asarray(maps_panel(net, data, "drop1", count=2, maps=3))    # hs: as at test, times keep
    images, labels = data.provider.read_batch(data.test[0])
    net.forward([data.augmentation.test(images[..., :2]), labels_row(labels[:2])], train=False)
    acts = net.activation("drop1")[:3].astype(np.float64)                  # (3 maps, 8, 8, 2 images)
    expected = np.round((acts - acts.min()) / (acts.max() - acts.min()) * 255).astype(np.uint8)
    zoom, size = 48 // 8, 8 * (48 // 8)
    row_height = size + 4
    for j in range(2):
        for m in range(3):
            x, y = row_height + 4 + 2 + m * (size + 2), 16 + j * (row_height + 8) + 2
            tile = panel[y:y + size, x:x + size, 0]
            np.testing.assert_array_equal(tile[::zoom, ::zoom], expected[m, :, :, j])
    out = tmp_path / "maps.png"
    convnet("show", "--load", run, "--maps", "conv1_neuron", "--out", out)
    assert Image.open(out).height == 16 + 8 * (17 * 2 + 4) + 7 * 8          # 8 images of 17x17 maps, zoom 2


def test_similar_finds_the_training_images_nearest_in_a_layers_outputs(run):
    """The streamed search against every distance computed at once: the run's net on its training batch."""
    from convnet.opening import open_checkpoint
    from convnet.similar import nearest, query_features
    _, data, net, _ = open_checkpoint(run, {}, need_train=True)
    _, _, queries = query_features(net, data, ["pool1"], 3)
    _, _, both = query_features(net, data, ["pool1", "fc10"], 3)     # two layers' outputs side by side
    np.testing.assert_array_equal(both[:, :512], queries)
    np.testing.assert_array_equal(both[:, 512:], query_features(net, data, ["fc10"], 3)[2])
    found = nearest(net, data, ["pool1"], queries, k=4, mini=64)
    images, labels = data.provider.read_batch(1)
    rows = []
    for start in range(0, images.shape[-1], 500):
        indices = np.arange(start, min(start + 500, images.shape[-1]))
        net.forward([data.augmentation.test(data.augmentation.select(images, indices)), labels[indices][None]],
                    train=False)
        rows.append(net.activation("pool1").reshape(-1, indices.size).T.astype(np.float64))
    train = np.concatenate(rows)
    for q, neighbours in zip(queries, found):
        distances = np.linalg.norm(train - q, axis=1)
        expected = np.argsort(distances, kind="stable")[:4]
        assert [(b, i) for _, b, i in neighbours] == [(1, int(i)) for i in expected]
        np.testing.assert_allclose([d for d, _, _ in neighbours], distances[expected], rtol=1e-5)


def test_a_test_image_that_is_also_a_training_image_is_its_own_nearest(run):
    from convnet.opening import open_checkpoint
    from convnet.similar import nearest, query_features
    from convnet.notes import Note
    with pytest.warns(Note, match="batch 1 is in both the training and the test range"):
        _, data, net, _ = open_checkpoint(run, {"test_range": "1"}, need_train=True)
    _, _, queries = query_features(net, data, ["fc10"], 4)
    for j, neighbours in enumerate(nearest(net, data, ["fc10"], queries, k=2)):
        (d0, b0, i0), (d1, _, _) = neighbours
        assert (b0, i0) == (1, j) and d0 < 1e-4 * d1


def test_the_similar_panel_is_titled_with_its_layers(run, monkeypatch):
    import convnet.show
    from convnet.opening import open_checkpoint
    from convnet.similar import similar_panel
    titles = []
    monkeypatch.setattr(convnet.show, "titled", lambda image, title: titles.append(title) or image)
    _, data, net, _ = open_checkpoint(run, {"train_range": "2"}, need_train=True)
    similar_panel(net, data, ["pool1", "fc10"], count=2, k=3)
    assert titles == ["pool1+fc10: the 3 training images nearest each test image in its 522 values (Euclidean "
                      "distance below), of 2000 searched"]


def test_similar_draws_a_row_per_test_image(run, tmp_path):
    out = tmp_path / "similar.png"
    convnet("show", "--load", run, "--similar", "data", "--out", out)
    width, height = Image.open(out).size
    assert (width, height) == (7 * 104 + 8, 16 + 5 * (96 + 30) + 4 * 8)     # 5 rows of 1 + 6 pictures, titled


@pytest.mark.parametrize("title", ["a title much longer than the image is wide, " * 3, "short"])
def test_a_title_fits_its_panel_which_it_widens_no_more_than_it_needs(title):
    from convnet.show import BACKGROUND, titled
    out = np.asarray(titled(Image.new("RGB", (100, 10), (0, 0, 0)), title))
    ink = np.flatnonzero((out[:16] != BACKGROUND).any(axis=(0, 2)))        # the columns the title band inks
    assert out.shape[0] == 16 + 10 and ink[0] >= 2
    if len(title) > 20:
        assert 1 <= out.shape[1] - 1 - ink[-1] <= 8         # the whole title, and a margin after it
    else:
        assert out.shape[1] == 100 and ink[-1] < 50


@pytest.mark.parametrize("args,fragment", [([], "choose what to show"), (["--filters", "conv9"], "no layer named 'conv9'"),
                                           (["--filters", "pool1"], "pool layer: it has no filters"),
                                           (["--filters", "conv1[1]"], "[conv1] has 1 input (0 to 0)"),
                                           (["--maps", "fc10"], "fc layer of 10 flat features: it has no maps"),
                                           (["--maps", "logprob"], "a cost layer: it has no maps"),
                                           (["--similar", "logprob"], "layer 'logprob' is a cost layer"),
                                           (["--similar", "fc9"], "--similar: no layer named 'fc9' (the net has: data,"),
                                           (["--errors", "--cost"], "--errors goes with --preds"),
                                           (["--local-plane", "0", "--cost"], "--local-plane goes with --filters"),
                                           (["--norm-filters", "--cost"], "--norm-filters goes with --filters"),
                                           (["--no-rgb", "--cost"], "--no-rgb goes with --filters"),
                                           (["--filters", "fc10", "--yuv-to-rgb"],
                                            "--yuv-to-rgb: the filters of fc10 see no 3 channels"),
                                           (["--filters", "conv1", "--local-plane", "1"],
                                            "none of conv1 is a local layer")])
def test_show_errors(run, tmp_path, args, fragment):
    result = convnet("show", "--load", run, *args, "--out", tmp_path / "x.png", check=False)
    assert result.returncode == 2 and fragment in result.stderr and result.stderr.count("\n") == 1


def test_checkpoints_keep_an_absolute_data_path(tmp_path):
    from tests.data.test_cifar import make_batches
    make_batches(tmp_path / "batches")
    convnet("train", *TINY, "--data-provider", "cifar", "--data-path", "batches", "--epochs", "1", "--mini", "100",
            "--save-path", tmp_path / "run", cwd=tmp_path)
    assert Checkpoint(tmp_path / "run/latest.h5").options["data_path"] == str(tmp_path / "batches")
    convnet("test", "--load", tmp_path / "run/latest.h5")          # from another directory
    (tmp_path / "batches").rename(tmp_path / "moved")
    for command in (["test"], ["train", "--epochs", "2"]):
        run = convnet(*command, "--load", tmp_path / "run/latest.h5", check=False)
        assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
        assert f"{tmp_path / 'batches'}: no such folder: {tmp_path / 'run/latest.h5'} was trained on the data there; " \
               f"give --data-path where it is now" in run.stderr
    convnet("test", "--load", tmp_path / "run/latest.h5", "--data-path", tmp_path / "moved")


def test_the_filters_that_see_colours_are_those_of_3_channels():
    """What --no-rgb and --yuv-to-rgb take: a conv's or local's filters over 3 channels, an fc's over an
    input of 3 maps; not over 4 maps of 3 x 3, nor 3 flat features."""
    from convnet.show import _sees_colours
    made = lambda kind, shape, **keys: make_layer(kind, [shape], keys, WEIGHT_PARAMS)
    sees = {"conv 3": made("conv", (3, 8, 8), channels=3, filters=4, filterSize=3),
            "conv 4": made("conv", (4, 3, 3), channels=4, filters=4, filterSize=3),
            "local 3": made("local", (3, 8, 8), channels=3, filters=2, filterSize=3, stride=2),
            "local 4": made("local", (4, 3, 3), channels=4, filters=2, filterSize=3),
            "fc 3 maps": made("fc", (3, 4, 4), outputs=5),
            "fc 4 maps of 3x3": made("fc", (4, 3, 3), outputs=5),
            "fc 3 flat": made("fc", (3,), outputs=5)}
    assert {name: _sees_colours(layer, 0) for name, layer in sees.items()} == {
        "conv 3": True, "conv 4": False, "local 3": True, "local 4": False, "fc 3 maps": True,
        "fc 4 maps of 3x3": False, "fc 3 flat": False}
