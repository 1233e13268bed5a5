"""configs/alexnet*.cfg: the paper's net in our files, its parameter count, and a few minibatches of
training on the embedded data at 256x256 (slow)."""

import pytest
from click.testing import CliRunner

from convnet.cli import main
from tests.helpers import REFERENCE, ROOT
from tests.training import convnet, strict_json

VARIANTS = ["alexnet", "alexnet-nolrn", "alexnet-nonoverlap", "alexnet-onecolumn"]


def describe(layers, params):
    out = CliRunner().invoke(main, ["describe", "--layers", str(layers), "--params", str(params),
                                    "--input-size", "224", "--json"])
    assert out.exit_code == 0, out.output
    return strict_json(out.output)


@pytest.mark.parametrize("variant,reference", [("alexnet", "145"), ("alexnet-nolrn", "148"),
                                               ("alexnet-nonoverlap", "147"), ("alexnet-onecolumn", "145-half")])
def test_parameter_counts_match_the_2012_files(variant, reference):
    ours = describe(ROOT / f"configs/{variant}.cfg", ROOT / f"configs/{variant}-params.cfg")
    theirs = describe(REFERENCE / f"imagenet/layers-{reference}.cfg", REFERENCE / f"imagenet/layer-params-{reference}.cfg")
    assert ours["total_params"] == theirs["total_params"]
    sizes = {r["name"]: r["output_shape"] for r in ours["layers"]}
    assert sizes["pool2a"][1:] == [13, 13] and sizes["pool5a"][1:] == [6, 6] and sizes["fc8"] == [1000]


def test_the_paper_net_is_two_columns_that_meet_at_conv3_and_the_fc_layers():
    rows = {r["name"]: r for r in describe(ROOT / "configs/alexnet.cfg", ROOT / "configs/alexnet-params.cfg")["layers"]}
    assert rows["conv3a"]["inputs"] == ["pool2a", "pool2b"] and rows["conv3b"]["inputs"] == ["pool2b", "pool2a"]
    assert rows["conv4a"]["inputs"] == ["conv3a_neuron"]
    assert rows["conv1a"]["gpu"] == 0 and rows["conv1b"]["gpu"] == 1 and rows["fc8"]["gpu"] == 0


def test_alexnet_2012_is_layers_145_but_for_the_starting_rates():
    # every key of every layer as the 2012 file has it, but epsW/epsB (the 2012 params file holds the
    # rates as they ended) and partialSum (a tuning knob of cuda-convnet's kernels, ignored)
    from convnet.graph import load_graph
    shapes, info = [(3, 224, 224), (1,)], {"classes": 1000}
    ours = load_graph(ROOT / "configs/alexnet-2012.cfg", ROOT / "configs/alexnet-2012-params.cfg", shapes, data_info=info)
    theirs = load_graph(REFERENCE / "imagenet/layers-145.cfg", REFERENCE / "imagenet/layer-params-145.cfg", shapes,
                        data_info=info)
    assert {layer.name for layer in ours.layers} == {layer.name for layer in theirs.layers}
    for layer in ours.layers:
        ref = theirs[layer.name]
        assert (layer.type, layer.inputs, layer.device_index, layer.output_shape, layer.neuron) == \
            (ref.type, ref.inputs, ref.device_index, ref.output_shape, ref.neuron), layer.name
        mine, its = vars(layer.conf), vars(ref.conf)
        for key in set(mine) - {"epsW", "epsB", "partialSum"}:
            assert mine[key] == its[key], (layer.name, key)
        if "epsW" in mine:
            assert [s.base for s in mine["epsW"]] == [0.01] * len(layer.inputs) and mine["epsB"].base == 0.02
    assert ours["conv1a"].neuron is None and ours["pool1a"].neuron == "relu"   # normalized before the ReLU


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_few_minibatches_on_the_embedded_data_at_256(variant, tmp_path):
    # One epoch over batch 1 (64 images at 256x256): 4 minibatches of 16, a test point at the end (the 64
    # images of batch 6), and for the base net one in the middle too. A test point writes the net's 480 MB
    # of weights and momentum, twice when it is the best: with 8 minibatches and a test point every 4, the
    # four nets took 78 s of the suite, 65 s so.
    middle = ["--test-freq", "2"] if variant == "alexnet" else []
    out = convnet("train", "--layers", ROOT / f"configs/{variant}.cfg", "--params", ROOT / f"configs/{variant}-params.cfg",
                  "--image-size", "256", "--crop", "224", "--mini", "16", "--train-range", "1", "--test-range", "6",
                  "--epochs", "1", *middle, "--color-noise", "0.1", "--save-path", tmp_path, check=False)
    assert out.returncode == 0, out.stderr
    assert "net input 3x224x224" in out.stdout and (tmp_path / "latest.h5").exists()
    assert len([line for line in out.stdout.splitlines() if line.strip().startswith("1.")]) == (2 if middle else 1)
