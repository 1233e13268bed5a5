"""Every 2012 file pair loads unmodified with the expected shapes; the graph's structure."""
import pytest

from convnet.graph import load_graph
from tests.helpers import REFERENCE

IMAGENET = ["145", "147", "148", "150", "145-half"]
CIFAR = ["18pct", "19pct", "80sec", "conv-local-12pct", "conv-local-13pct"]


def imagenet(n, size=224):
    return load_graph(REFERENCE / f"imagenet/layers-{n}.cfg", REFERENCE / f"imagenet/layer-params-{n}.cfg",
                      [(3, size, size), (1,)])


def shapes(graph, types=("conv", "pool", "local")):
    return {layer.name: layer.output_shape for layer in graph.layers if layer.type in types}


def test_paper_net_sizes_224_55_27_13_13_13_6():
    s = shapes(imagenet("145"))
    for column in "ab":
        assert [s[f"conv1{column}"], s[f"pool1{column}"], s[f"conv2{column}"], s[f"pool2{column}"],
                s[f"conv3{column}"], s[f"conv4{column}"], s[f"conv5{column}"], s[f"pool3{column}"]] == [
            (48, 55, 55), (48, 27, 27), (128, 27, 27), (128, 13, 13),
            (192, 13, 13), (192, 13, 13), (128, 13, 13), (128, 6, 6)]


def test_paper_net_parameters_and_devices():
    g = imagenet("145")
    from convnet.describe import parameter_count
    assert sum(parameter_count(layer) for layer in g.layers) == 60_965_224
    assert g.n_devices == 2
    assert g["conv1a"].device_index == 0 and g["conv1b"].device_index == 1
    assert g["rnorm1b"].device_index == 1               # no gpu=: sits with its first input
    assert g["fc2048bb"].device_index == 1 and g["fc1000"].device_index == 0


@pytest.mark.parametrize("n,pool1,pool3", [("147", 28, 6), ("148", 27, 6), ("150", 27, 6), ("145-half", 27, 6)])
def test_ablations(n, pool1, pool3):
    s = shapes(imagenet(n))
    assert s["pool1a"][1] == pool1 and s["pool3a"][1] == pool3
    if n == "148":
        assert not any(layer.type.endswith("norm") for layer in imagenet(n).layers)


@pytest.mark.parametrize("name", CIFAR + ["gc"])
def test_cifar_files(name):
    layers = REFERENCE / ("cifar/layers.gc.cfg" if name == "gc" else f"cifar/layers-{name}.cfg")
    params = REFERENCE / ("cifar/layer-params.gc.cfg" if name == "gc" else f"cifar/layer-params-{name}.cfg")
    g = load_graph(layers, params, [(3, 32, 32), (1,)])
    s = shapes(g)
    if name == "gc":
        assert s["conv32a"] == (16, 30, 30) and g.n_devices == 3
    else:
        assert s["conv1"][1:] == (32, 32) and s["pool1"][1:] == (16, 16) and s["pool2"][1:] == (8, 8)
    if "local" in name:
        assert s["local3"] == (32, 8, 8) and s["local4"] == (32, 8, 8)


def test_old_dialect_rnorm_reads_sizex_and_scale_from_the_definition_file():
    g = load_graph(REFERENCE / "cifar/layers-18pct.cfg", REFERENCE / "cifar/layer-params-18pct.cfg",
                   [(3, 32, 32), (1,)])
    rnorm = g["rnorm1"]
    assert rnorm.n == 3 and rnorm.conf.scale == 0.00005 and rnorm.conf.pow == 0.75


def test_neuron_becomes_a_hidden_layer_and_consumers_read_it():
    g = imagenet("145")
    names = [layer.name for layer in g.layers]
    assert names.index("conv2a_neuron") == names.index("conv2a") + 1
    assert g["conv2a_neuron"].type == "neuron" and g["conv2a_neuron"].inputs == ["conv2a"]
    assert g["rnorm2a"].inputs == ["conv2a_neuron"]
    assert g["conv3a"].inputs == ["pool2a", "pool2b"]            # pool2 has no neuron
    assert g["fc2048a"].inputs == ["pool3a_neuron", "pool3b_neuron"]
    assert g["conv2a_neuron"].device_index == 0 and g["conv2b_neuron"].device_index == 1


@pytest.mark.parametrize("taken,expected", [(["fc_neuron"], "fc_neuron.1"), (["fc_neuron", "fc_neuron.1"], "fc_neuron.2")])
def test_a_hidden_neuron_layer_takes_the_first_unused_name(tmp_path, taken, expected):
    """layer.py's get_unused_layer_name (lines 599-606): <name>_neuron, else <name>_neuron.1, .2, ..."""
    chain = "".join(f"[{n}]\ntype=fc\ninputs={i}\noutputs=3\n" for n, i in zip(taken, ["data"] + taken))
    layers = tmp_path / "l.cfg"
    layers.write_text("[data]\ntype=data\ndataIdx=0\n[labels]\ntype=data\ndataIdx=1\n" + chain +
                      f"[fc]\ntype=fc\ninputs={taken[-1]}\noutputs=3\nneuron=relu\n"
                      "[probs]\ntype=softmax\ninputs=fc\n[cost]\ntype=cost.logreg\ninputs=labels,probs\n")
    params = tmp_path / "p.cfg"
    params.write_text("".join(f"[{n}]\nepsW=0.1\nepsB=0.1\nmomW=0.9\nmomB=0.9\n" for n in taken + ["fc"]))
    g = load_graph(layers, params, [(3, 2, 2), (1,)])
    assert g[expected].type == "neuron" and g[expected].inputs == ["fc"]
    assert g["probs"].inputs == [expected] and g["fc_neuron"].type == "fc"


def test_the_cost_layers_are_the_types_named_cost():
    """As the 2012 parser (layer.py:302): a layer whose type starts with 'cost.' is a cost, which may end
    the net; every other layer must feed one. Each of convnet's layer classes says it with is_cost."""
    from convnet.registry import layer_class, layer_types
    costs = {t for t in layer_types() if layer_class(t).is_cost}
    assert costs == {t for t in layer_types() if t.startswith("cost.")}
    assert {"cost.logreg", "cost.msm", "cost.crossent", "cost.crossent2", "cost.sum2", "cost.gsum2",
            "cost.tica", "cost.rflickr"} <= costs
