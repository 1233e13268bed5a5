"""convnet describe: the table and the JSON object, on every 2012 file pair."""
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
