"""convnet describe: the table and the JSON object, on every 2012 file pair."""
import numpy as np
import pytest
from click.testing import CliRunner

from convnet.cli import main
from tests.helpers import REFERENCE, ROOT
from tests.training import strict_json

PAIRS = [(f"imagenet/layers-{n}.cfg", f"imagenet/layer-params-{n}.cfg", 224) for n in
         ["145", "147", "148", "150", "145-half"]] + \
        [(f"cifar/layers-{n}.cfg", f"cifar/layer-params-{n}.cfg", 32) for n in
         ["18pct", "19pct", "80sec", "conv-local-12pct", "conv-local-13pct"]] + \
        [("cifar/layers.gc.cfg", "cifar/layer-params.gc.cfg", 32)]


def describe(layers, params, size, *extra):
    return CliRunner().invoke(main, ["describe", "--layers", str(REFERENCE / layers), "--params",
                                     str(REFERENCE / params), "--input-size", str(size), *extra])


@pytest.mark.parametrize("layers,params,size", PAIRS, ids=[p[0] for p in PAIRS])
def test_every_reference_pair(layers, params, size):
    result = describe(layers, params, size)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("total")


def test_json_for_the_paper_net():
    result = describe("imagenet/layers-145.cfg", "imagenet/layer-params-145.cfg", 224, "--json")
    out = strict_json(result.output)
    rows = {r["name"]: r for r in out["layers"]}
    assert out["total_params"] == 60_965_224
    assert [rows[n]["output_shape"] for n in ("conv1a", "pool1a", "pool2a", "conv3a", "conv5a", "pool3a")] == [
        [48, 55, 55], [48, 27, 27], [128, 13, 13], [192, 13, 13], [128, 13, 13], [128, 6, 6]]
    assert rows["fc1000"]["output_shape"] == [1000] and rows["data"]["gpu"] is None
    assert rows["conv1a"] == {"name": "conv1a", "type": "conv", "inputs": ["data"], "gpu": 0,
                              "output_shape": [48, 55, 55], "params": 48 * 3 * 121 + 48,
                              "macs": 48 * 55 * 55 * 3 * 121}
    assert rows["fc2048a"]["params"] == 2048 * 9216 + 2048
    assert out["total_macs"] == sum(r["macs"] for r in out["layers"])
    # filters x positions x (channels x filter pixels) seen by each; fc: inputs x outputs
    by_hand = {"conv2a": 128 * 27 * 27 * 48 * 25, "conv3a": 192 * 13 * 13 * 256 * 9, "conv4b": 192 * 13 * 13 * 192 * 9,
               "conv5a": 128 * 13 * 13 * 192 * 9, "fc2048b": 9216 * 2048, "fc2048ba": 4096 * 2048, "fc1000": 4096 * 1000,
               "rnorm1a": 48 * 55 * 55 * 5, "pool1a": 0}
    assert {name: rows[name]["macs"] for name in by_hand} == by_hand
    weights = sum(r["macs"] for r in out["layers"] if r["type"] in ("conv", "fc"))
    assert weights == 2 * (52_707_600 + 111_974_400 + 74_760_192 + 56_070_144 + 37_380_096 + 18_874_368
                           + 8_388_608) + 4_096_000 == 724_406_816          # the paper net's 0.72 G multiply-adds


def test_image_size_from_a_data_provider(tmp_path):
    from tests.data.test_cifar import make_batches
    make_batches(tmp_path / "b")
    result = CliRunner().invoke(main, ["describe", "--layers", str(REFERENCE / "cifar/layers-18pct.cfg"), "--params",
                                       str(REFERENCE / "cifar/layer-params-18pct.cfg"), "--data-provider", "cifar",
                                       "--data-path", str(tmp_path / "b"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in strict_json(result.output)["layers"]}
    assert rows["data"]["output_shape"] == [3, 32, 32] and rows["conv1"]["output_shape"] == [32, 32, 32]
    result = CliRunner().invoke(main, ["describe", "--layers", str(ROOT / "configs/alexnet.cfg"), "--params",
                                       str(ROOT / "configs/alexnet-params.cfg"), "--data-provider", "default",
                                       "--image-size", "256", "--crop", "224", "--json"])
    assert strict_json(result.output)["layers"][0]["output_shape"] == [3, 224, 224]


def test_input_size_is_needed():
    result = CliRunner().invoke(main, ["describe", "--layers", str(REFERENCE / "cifar/layers-18pct.cfg"),
                                       "--params", str(REFERENCE / "cifar/layer-params-18pct.cfg")])
    assert result.exit_code == 2 and "--input-size" in result.output


def test_too_small_an_image_for_the_paper_net():
    result = describe("imagenet/layers-145.cfg", "imagenet/layer-params-145.cfg", 32)
    assert result.exit_code == 2
    assert "[pool3a] sizeX: is 3, larger than the 1x1 input" in result.output


EVERY = (str(ROOT / "configs/every-layer.cfg"), str(ROOT / "configs/every-layer-params.cfg"))


def test_a_treefc_net_without_classes_assumes_ilsvrcs_and_says_so():
    """treefc makes one output per class: with only --input-size there is no provider to count them, so
    describe takes ILSVRC's 1000 and says it in a note; --classes gives the count, and no note."""
    def tree1(*extra):
        result = CliRunner().invoke(main, ["describe", "--layers", EVERY[0], "--params", EVERY[1],
                                           "--input-size", "9", "--json", *extra])
        assert result.exit_code == 0, result.output
        rows = {r["name"]: r for r in strict_json(result.stdout)["layers"]}
        return rows["tree1"]["output_shape"], result.stderr
    shape, said = tree1()
    assert shape == [1000] and said == ("convnet: note: treefc makes one output per class: 1000 classes (ILSVRC) "
                                        "and a flat class tree assumed; give --classes or a --data-provider\n")
    assert tree1("--classes", "10") == ([10], "")


def test_channels_gives_the_images_depth(tmp_path):
    """A net of grey images (conv1 reads 1 channel) is described at --channels 1, and its data row says
    1 x 8 x 8; at the default 3 the conv's channels do not fit."""
    from tests.helpers import DATA_LAYERS, SOFTMAX_COST, write
    layers = write(tmp_path, "grey.cfg", DATA_LAYERS + "[conv1]\ntype=conv\ninputs=data\nchannels=1\nfilters=4\n"
                   "filterSize=3\ninitW=0.1\n[fc]\ntype=fc\ninputs=conv1\noutputs=10\ninitW=0.1\n" + SOFTMAX_COST)
    params = write(tmp_path, "grey-params.cfg", "".join(f"[{n}]\nepsW=0.1\nepsB=0.1\nmomW=0.9\nmomB=0.9\n"
                                                         for n in ("conv1", "fc")))
    run = lambda *extra: CliRunner().invoke(main, ["describe", "--layers", layers, "--params", params,
                                                   "--input-size", "8", "--json", *extra])
    result = run("--channels", "1")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in strict_json(result.stdout)["layers"]}
    assert rows["data"]["output_shape"] == [1, 8, 8] and rows["conv1"]["params"] == 4 * 9 + 4
    result = run()
    assert result.exit_code == 2 and "[conv1] channels: is 1 but input 'data' has 3 channels" in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--load", "run", "--layers", "l.cfg"], "give --load, or --layers and --params: the checkpoint holds its net's two files"),
    (["--load", "run", "--params", "p.cfg"], "give --load, or --layers and --params: the checkpoint holds its net's two files"),
    (["--layers", "l.cfg", "--input-size", "32"], "give --layers and --params (or --load a checkpoint)"),
    (["--params", "p.cfg", "--input-size", "32"], "give --layers and --params (or --load a checkpoint)"),
])
def test_describe_takes_a_checkpoint_or_both_files(tmp_path, args, fragment):
    result = CliRunner().invoke(main, ["describe", *args])
    assert result.exit_code == 2 and result.stderr == f"convnet: error: {fragment}\n" and result.stdout == ""


def test_the_window_layers_count_a_multiply_add_per_window_element():
    """every-layer.cfg at 9x9: per output value, rnorm1 sums a 4x4 window of squares, cnorm1 a 3x3 one,
    the avg pool1 a 3x3 window, cmr1 4 maps' squares, the blur two 3-tap passes, the resize 4
    neighbours (bilinear); a max pool multiplies nothing."""
    result = CliRunner().invoke(main, ["describe", "--layers", EVERY[0], "--params", EVERY[1], "--input-size", "9",
                                       "--classes", "10", "--json"])
    rows = {r["name"]: r for r in strict_json(result.stdout)["layers"]}
    per_value = {"rnorm1": 4 * 4, "cnorm1": 3 * 3, "pool1": 3 * 3, "cmr1": 4, "cmr2": 3, "blur1": 2 * 3,
                 "resize1": 4, "pool2": 0}
    values = {name: int(np.prod(rows[name]["output_shape"])) for name in per_value}
    assert values == {"rnorm1": 6 * 9 * 9, "cnorm1": 6 * 9 * 9, "pool1": 6 * 5 * 5, "cmr1": 8 * 5 * 5,
                      "cmr2": 8 * 5 * 5, "blur1": 3 * 9 * 9, "resize1": 3 * 7 * 7, "pool2": 8 * 2 * 2}
    assert {name: rows[name]["macs"] for name in per_value} == {n: values[n] * per_value[n] for n in per_value}


def test_the_table_of_the_tiny_net():
    """Columns padded to their widest cell, numbers to the right; conv1: 8 filters of 3x5x5 and 8 biases,
    8x17x17 outputs of 75 multiply-adds each; fc10: 10 x 512 and 10 biases."""
    result = CliRunner().invoke(main, ["describe", "--layers", str(ROOT / "tests/configs/tiny.cfg"), "--params",
                                       str(ROOT / "tests/configs/tiny-params.cfg"), "--input-size", "32"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "layer         type         inputs        gpu  output   params  MACs/image",
        "data          data         -             -    3x32x32       0           0",
        "labels        data         -             -    1             0           0",
        "conv1         conv         data          0    8x17x17     608     173,400",
        "conv1_neuron  neuron       conv1         0    8x17x17       0           0",
        "pool1         pool         conv1_neuron  0    8x8x8         0           0",
        "drop1         hs           pool1         0    8x8x8         0           0",
        "fc10          fc           drop1         0    10        5,130       5,120",
        "probs         softmax      fc10          0    10            0           0",
        "logprob       cost.logreg  labels,probs  0    3             0           0",
        "------------  -----------  ------------  ---  -------  ------  ----------",
        "total                                                   5,738     178,520"]
