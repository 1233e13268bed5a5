"""initWFunc, initBFunc, initCFunc: a module beside the config is called as the 2012 code called it,
its result converted from the 2012 layouts and checked; convnet.from_checkpoint starts a layer from a
checkpoint."""
import numpy as np
import pytest

from convnet.checkpoint import save
from convnet.errors import ConfigError
from convnet.graph import load_graph
from convnet.net import Net
from tests.helpers import DATA_LAYERS, SOFTMAX_COST, write

MODULE = '''
import numpy as np
CALLS = []

def makew(name, idx, shapes, params=None):
    CALLS.append(("w", name, idx, shapes, params))
    rows, cols = shapes
    return (np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) * float(params[0]) + idx)

def makeb(name, shapes, params=None):
    CALLS.append(("b", name, shapes, params))
    return np.full(shapes, 0.5, dtype=np.float32)

def makec(name, idx, shapes, params=None):
    groups, channels, filter_channels = shapes
    return list(range(channels))[::-1] * (groups * filter_channels // channels)

def wrong_shape(name, idx, shapes, params=None):
    return np.zeros((2, 2), dtype=np.float32)

def doubles(name, idx, shapes, params=None):
    return np.zeros(shapes)

def nans(name, idx, shapes, params=None):
    return np.full(shapes, np.nan, dtype=np.float32)

def broken(name, idx, shapes, params=None):
    raise RuntimeError("no such weights")
'''

LAYERS = DATA_LAYERS + """
[conv]
type=conv
inputs=data
channels=4
filters=2
filterSize=3
groups=2
randSparse=1
filterChannels=2
padding=1
initWFunc=initmod.makew(0.5)
initBFunc=initmod.makeb
initCFunc=initmod.makec
[fc]
type=fc
inputs=conv,data
outputs=3
initWFunc=initmod.makew(2,x)
""" + SOFTMAX_COST
PARAMS = ("[conv]\nepsW=0.1\nepsB=0.1\nmomW=0\nmomB=0\n"
          "[fc]\nepsW=0.1,0.1\nepsB=0.1\nmomW=0,0\nmomB=0\n")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "initmod.py").write_text(MODULE)
    monkeypatch.delitem(__import__("sys").modules, "initmod", raising=False)
    return tmp_path


def build(folder, layers=LAYERS, seed=0, restoring=False):
    graph = load_graph(write(folder, "l.cfg", layers), write(folder, "p.cfg", PARAMS), [(4, 3, 3), (1,)])
    return Net(graph, seed=seed, restoring=restoring)


def test_the_functions_are_called_as_the_2012_code_called_them(folder):
    net = build(folder)
    calls = __import__("initmod").CALLS
    # conv weights: (filterChannels * filterSize^2, filters); fc weights (inputs, outputs) per input
    assert ("w", "conv", 0, (18, 4), ["0.5"]) in calls and ("b", "conv", (4, 1), []) in calls
    assert ("w", "fc", 0, (36, 3), ["2", "x"]) in calls and ("w", "fc", 1, (36, 3), ["2", "x"]) in calls
    w = net["conv"].params[0].value
    # the 2012 matrix M (rows: channel, row, col of a filter; columns: filters) is our W[f] = M[:, f]
    m = np.arange(18 * 4, dtype=np.float32).reshape(18, 4) * 0.5
    np.testing.assert_array_equal(w, m.T.reshape(4, 2, 3, 3))
    np.testing.assert_array_equal(net["fc"].params[1].value, (np.arange(108, dtype=np.float32).reshape(36, 3) * 2 + 1).T)
    assert np.all(net["conv"].params[-1].value == 0.5)
    np.testing.assert_array_equal(net["conv"].conns[0], [3, 2, 1, 0])


@pytest.mark.parametrize("func,fragment", [("wrong_shape", "shape (2, 2); the layer needs (36, 3)"),
                                           ("doubles", "float32"), ("nans", "NaN"),
                                           ("broken", "raised RuntimeError: no such weights"),
                                           ("nothere", "has no function nothere")])
def test_bad_results_are_one_line_naming_the_key(folder, func, fragment):
    with pytest.raises(ConfigError) as e:
        build(folder, LAYERS.replace("initWFunc=initmod.makew(2,x)", f"initWFunc=initmod.{func}"))
    assert e.value.key == "initWFunc" and e.value.section == "fc" and fragment in str(e.value)


def test_a_missing_module_and_a_bad_form(folder):
    with pytest.raises(ConfigError) as e:
        build(folder, LAYERS.replace("initmod.makew(2,x)", "nomodule.makew"))
    assert "cannot import nomodule" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build(folder, LAYERS.replace("initmod.makew(2,x)", "makew"))
    assert "moduleName.functionName" in str(e.value)


def test_from_checkpoint_starts_a_layer_from_a_trained_one(folder):
    net = build(folder, seed=5)
    path = folder / "trained.h5"
    save(path, net, (1, 0, 0), ("l", "", "p", ""), {}, {}, [])
    layers = LAYERS.replace("initmod.makew(2,x)", f"convnet.from_checkpoint({path})").replace(
        "initWFunc=initmod.makew(0.5)", f"initWFunc=convnet.from_checkpoint({path},conv)").replace(
        "initCFunc=initmod.makec", f"initCFunc=convnet.from_checkpoint({path})")
    other = build(folder, layers, seed=9)
    for a, b in zip(net.parameters(), other.parameters()):
        if a.name.startswith("weights"):
            np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(other["conv"].conns[0], net["conv"].conns[0])
    with pytest.raises(ConfigError) as e:
        build(folder, layers.replace(f"convnet.from_checkpoint({path},conv)", f"convnet.from_checkpoint({path},fc,7)"))
    assert "has no fc/weights/7" in str(e.value)


def test_restoring_does_not_call_them(folder):
    build(folder, LAYERS.replace("initmod.makew(2,x)", "initmod.broken"), restoring=True)


def test_a_checkpoint_is_tested_and_resumed_without_its_init_module(tmp_path):
    """The functions start a run; its checkpoint holds the arrays they gave. Tested or resumed after the
    module has gone (another machine, a tidied folder), the net is rebuilt without calling them."""
    from tests.training import FAST, convnet, strict_json, tiny_variant
    (tmp_path / "initmod.py").write_text("import numpy as np\n"
                                         "def w(name, idx, shapes, params=None):\n"
                                         "    return np.full(shapes, 0.01, dtype=np.float32)\n")
    configs = tiny_variant(tmp_path, [("outputs=10\ninitW=0.01\n", "outputs=10\ninitWFunc=initmod.w\n")])
    convnet("train", *configs, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    before = strict_json(convnet("test", "--load", tmp_path / "r/latest.h5", "--json").stdout)
    (tmp_path / "initmod.py").unlink()
    after = strict_json(convnet("test", "--load", tmp_path / "r/latest.h5", "--json").stdout)
    assert after == before and before["cost"] > 0
    convnet("train", "--load", tmp_path / "r/latest.h5", "--epochs", "2")
