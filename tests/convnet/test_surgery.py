"""--conv-to-local and --unshare-weights (convnet.surgery): a net changed as it is loaded computes what
it computed before the change, and from there trains in its new form."""
import numpy as np
import pytest

from convnet.checkpoint import Checkpoint, save
from convnet.config import read_ini
from convnet.errors import OptionError
from convnet.session import DEFAULTS, Data, build_net
from convnet.solver import Solver
from convnet.surgery import Changes, changed_net
from tests.helpers import DATA_LAYERS, SOFTMAX_COST
from tests.training import FAST, TINY, convnet, strict_json

def conv(name, filters, keys):
    """A conv section on the 3x8x8 data: 3x3 filters, padding 1, stride 2 (4x4 positions)."""
    return (f"[{name}]\ntype=conv\ninputs=data\nchannels=3\nfilters={filters}\nfilterSize=3\npadding=1\nstride=2\n"
            + "".join(f"{key}\n" for key in keys))


SPARSE = ("groups=6", "randSparse=1", "filterChannels=1")
LAYERS = (DATA_LAYERS + conv("convA", 4, ("partialSum=2", "initW=0.01", "initB=0.1"))
          + conv("convB", 4, ("sharedBiases=0", "weightSource=convA"))
          + conv("convC", 6, SPARSE + ("initW=0.01",)) + conv("convD", 6, SPARSE + ("weightSource=convC",))
          + "[join]\ntype=concat\ninputs=convA,convB,convC,convD\n"
          + "[fc]\ntype=fc\ninputs=join\noutputs=10\ninitW=0.01\n" + SOFTMAX_COST)
LEARN = "epsW=0.001\nepsB=0.001\nmomW=0.9\nmomB=0.9\n"
PARAMS = (f"[convA]\n{LEARN}wcNormMax=1000\n[convB]\n{LEARN}[convC]\n{LEARN}[convD]\n{LEARN}"
          f"[fc]\n{LEARN}[cost]\ncoeff=1\n")
OPTIONS = {**DEFAULTS, "image_size": 8, "seed": 3}


@pytest.fixture(scope="module")
def data():
    return Data(OPTIONS)


@pytest.fixture
def trained(tmp_path, data):
    """(configs, the net after one step, its checkpoint, a batch): momentum buffers that are not zero."""
    configs = ("l.cfg", LAYERS, "p.cfg", PARAMS)
    net = build_net(data, *configs, OPTIONS)
    batch = next(iter(data.test_minibatches(16)))
    net.forward(batch, train=True)
    net.backward()
    Solver(net).update(16, 0.0)
    path = tmp_path / "c.h5"
    save(path, net, (1, 1, 1), configs, OPTIONS, {}, [])
    return configs, net, Checkpoint(path), batch


def forward_and_backward(net, batch):
    net.forward(batch, train=False)
    net.backward()


def test_a_conv_made_local_computes_what_it_computed_and_then_learns_per_position(trained, data):
    configs, before, checkpoint, batch = trained
    net, changed, said = changed_net(data, configs, OPTIONS, checkpoint, Changes("convA"))
    assert any(line.startswith("convA: made local") for line in said)
    assert any(line.startswith("convB is made local too: it shares weights with convA") for line in said)
    assert any(line.startswith("convA: wcNormMax and wcNormMin constrain conv filters") for line in said)
    assert [layer.type for layer in net.layers if layer.name.startswith("conv")] == ["local", "local", "conv", "conv"]
    layers, params = read_ini(*changed[:2]), read_ini(*changed[2:])
    assert "partialsum" not in layers["convA"] and "sharedbiases" not in layers["convB"]
    assert "wcnormmax" not in params["convA"] and params["convA"].items["epsw"] == "0.001"
    assert "# type=conv until --conv-to-local made it local" in changed[1]
    # convB had no wcNorm keys: its params section is as it was, and the comment is said once, for convA
    assert params["convB"].items == read_ini(*configs[2:])["convB"].items
    assert changed[3].count("wcNormMax and wcNormMin removed by --conv-to-local") == 1

    a, arrays = net["convA"], checkpoint.arrays
    np.testing.assert_array_equal(a.params[0].value[2, 3], arrays["convA/weights/0"])      # each position
    np.testing.assert_array_equal(a.params[1].value[:, 1, 2], arrays["convA/biases"])
    assert not a.params[0].inc.any() and not a.params[1].inc.any()        # momentum from zero, as the 2012 code
    assert net["convB"].params[0].source is a.params[0]                    # still shared
    np.testing.assert_array_equal(net["convB"].params[1].inc, arrays["convB/biases_inc"])  # its own biases kept
    for key in ("convC/weights/0", "convC/weights_inc/0", "fc/weights_inc/0", "fc/biases"):
        layer, name = key.split("/", 1)
        p = next(p for p in net[layer].params if p.name == name.replace("_inc", ""))
        np.testing.assert_array_equal(p.inc if "_inc" in key else p.value, arrays[key])
    np.testing.assert_array_equal(net["convD"].conns[0], before["convC"].conns[0])

    forward_and_backward(before, batch)
    forward_and_backward(net, batch)
    for name in ("convA", "convB", "fc", "probs"):
        np.testing.assert_allclose(net.activation(name), before.activation(name), rtol=1e-5, atol=1e-6)
    # the positions' gradients add up to the conv's: the same function of the same weights
    np.testing.assert_allclose(a.params[0].grad.sum(axis=(0, 1)), before["convA"].params[0].grad, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.params[1].grad.sum(axis=(1, 2)), before["convA"].params[1].grad, rtol=1e-4, atol=1e-6)
    Solver(net).update(16, 0.0)
    w = a.params[0].value
    assert not np.allclose(w[0, 0], w[3, 3])         # trained apart from here


def test_the_changed_nets_checkpoint_resumes_it(trained, data, tmp_path):
    configs, _, checkpoint, batch = trained
    net, changed, _ = changed_net(data, configs, OPTIONS, checkpoint, Changes("convA", "convD"))
    path = tmp_path / "changed.h5"
    save(path, net, (1, 1, 1), changed, OPTIONS, {}, [])
    again = build_net(data, *Checkpoint(path).configs, OPTIONS, restoring=True)
    Checkpoint(path).restore(again)
    net.forward(batch)
    again.forward(batch)
    np.testing.assert_array_equal(again.activation("probs"), net.activation("probs"))


def test_an_unshared_matrix_is_a_copy_that_learns_by_its_own_gradient(trained, data):
    configs, before, checkpoint, batch = trained
    net, changed, said = changed_net(data, configs, OPTIONS, checkpoint, Changes(None, "convB,convD[0]"))
    assert said == ["convB[0]: its own copy of convA[0] now (--unshare-weights), its momentum from zero",
                    "convD[0]: its own copy of convC[0] now (--unshare-weights), its momentum from zero"]
    assert "weightsource" not in read_ini(*changed[:2])["convB"].items
    b, a = net["convB"].params[0], net["convA"].params[0]
    assert b.source is None and b.value is not a.value
    np.testing.assert_array_equal(b.value, checkpoint.arrays["convA/weights/0"])
    assert not b.inc.any() and a.inc.any()
    np.testing.assert_array_equal(net["convD"].conns[0], net["convC"].conns[0])    # randSparse's connections
    forward_and_backward(before, batch)
    forward_and_backward(net, batch)
    np.testing.assert_allclose(net.activation("probs"), before.activation("probs"), rtol=1e-5, atol=1e-7)
    start, gradient = b.value.copy(), b.grad.copy()
    Solver(net).update(16, 0.0)
    np.testing.assert_allclose(b.value, start - 0.001 * gradient / 16, rtol=1e-5, atol=1e-7)   # inc was zero


def test_summed_gradients_of_a_changed_matrix_start_from_zero_the_others_are_kept(data, tmp_path):
    """Saved between two updates of --wupdate-freq 2: a conv's sum over its positions (or a shared matrix's
    over its sharers) has no per-position (per-sharer) parts to give the changed matrix."""
    configs = ("l.cfg", LAYERS, "p.cfg", PARAMS)
    net = build_net(data, *configs, OPTIONS)
    net.forward(next(iter(data.test_minibatches(16))), train=True)
    net.backward()
    Solver(net).update(16, 0.0, step=0, every=2)              # summed, not applied
    save(tmp_path / "c.h5", net, (1, 1, 1), configs, OPTIONS, {}, [])
    checkpoint = Checkpoint(tmp_path / "c.h5")
    assert "convA/weights_grad_sum/0" in checkpoint.arrays
    changed, _, _ = changed_net(data, configs, OPTIONS, checkpoint, Changes("convA", "convD[0]"))
    assert changed["convA"].params[0].grad_sum is None and changed["convD"].params[0].grad_sum is None
    for layer in ("convC", "fc"):
        np.testing.assert_array_equal(changed[layer].params[0].grad_sum, checkpoint.arrays[f"{layer}/weights_grad_sum/0"])


@pytest.mark.parametrize("to_local,unshare,fragment", [
    ("nothere", None, "--conv-to-local nothere: no layer of that name in l.cfg"),
    ("fc", None, "[fc] is a fc layer; only conv layers are made local"),
    ("convA,,convB", None, "an empty name"),
    (None, "nothere", "--unshare-weights nothere: no layer of that name"),
    (None, "join", "[join] is a concat layer, with no weights"),
    (None, "convA", "[convA] has no weightSource: its weights are its own already"),
    (None, "convB[1]", "[convB] has 1 weight matrices (0 to 0)"),
    (None, "convB[x", "write a layer, or layer[i]"),
])
def test_what_cannot_be_changed_is_one_clear_error(trained, data, to_local, unshare, fragment):
    configs, _, checkpoint, _ = trained
    with pytest.raises(OptionError) as e:
        changed_net(data, configs, OPTIONS, checkpoint, Changes(to_local, unshare))
    assert fragment in str(e.value)


def test_a_changed_checkpoint_trains_on_in_a_new_folder_and_the_old_run_keeps_its_own(tmp_path):
    first = tmp_path / "first"
    convnet("train", *TINY, *FAST, "--epochs", "1", "--save-path", first)
    kept = (first / "latest.h5").read_bytes()
    done = convnet("train", "--load", first / "latest.h5", "--conv-to-local", "conv1", cwd=tmp_path, check=False)
    assert done.returncode == 2 and done.stderr == (
        f"convnet: error: {first / 'latest.h5'} has trained 1 epoch, all of --epochs 1: give more (--epochs 11) "
        f"for the changed net to train\n")
    assert not (tmp_path / "runs").exists()                # refused before a folder was made
    run = convnet("train", "--load", first / "latest.h5", "--conv-to-local", "conv1", "--epochs", "2", cwd=tmp_path)
    assert "conv1: made local (--conv-to-local), 17x17 positions" in run.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    changed = Checkpoint(folder / "latest.h5")
    assert "type=local" in changed.layers_cfg and changed.arrays["conv1/weights/0"].shape == (17, 17, 8, 3, 5, 5)
    assert changed.history[:1] == Checkpoint(first / "latest.h5").history and len(changed.history) == 2
    assert (first / "latest.h5").read_bytes() == kept
    assert Checkpoint(folder / "best.h5").step == changed.step       # the changed net's best, from its first test
    refused = convnet("train", "--load", first / "latest.h5", "--conv-to-local", "conv1", "--epochs", "2",
                      "--save-path", first, check=False)
    assert refused.returncode == 2 and "whose run would lose its checkpoints" in refused.stderr
    assert (first / "latest.h5").read_bytes() == kept
    described = strict_json(convnet("describe", "--load", folder / "latest.h5", "--json").stdout)
    conv1 = next(r for r in described["layers"] if r["name"] == "conv1")
    assert conv1["type"] == "local" and conv1["params"] == 17 * 17 * 8 * (3 * 5 * 5 + 1)     # weights and biases
    convnet("train", "--load", folder / "latest.h5", "--epochs", "3")          # resumed as any run
    assert Checkpoint(folder / "latest.h5").step == 3 * changed.step // 2


def test_unsharing_one_matrix_of_a_layer_keeps_its_others_shared(data):
    """fcB reads both its matrices by weightSource; --unshare-weights fcB[1],fcC frees fcB's second and
    fcC's only one: fcB keeps fcA for its first, and each comment names the layer's own inputs."""
    from convnet.surgery import changed_configs
    fc = "[{0}]\ntype=fc\ninputs={1}\noutputs=10\n{2}\n"
    layers = (DATA_LAYERS + fc.format("fcA", "data", "initW=0.01")
              + fc.format("fcB", "data,data", "weightSource=fcA,fcA") + fc.format("fcC", "data", "weightSource=fcA") + "[sum]\ntype=eltsum\ninputs=fcA,fcB,fcC\n"
              + SOFTMAX_COST.replace("inputs=fc", "inputs=sum"))
    params = f"[fcA]\n{LEARN}[fcB]\n{LEARN}[fcC]\n{LEARN}[cost]\ncoeff=1\n"
    configs, said = changed_configs(data, ("l.cfg", layers, "p.cfg", params), OPTIONS, Changes(None, "fcB[1],fcC"))
    sections = read_ini(*configs[:2])
    assert sections["fcB"].items["weightsource"] == "fcA," and "weightsource" not in sections["fcC"].items
    assert "# weightSource of input 1 removed by --unshare-weights" in configs[1].split("[fcC]")[0]
    assert "# weightSource of input 0 removed by --unshare-weights" in configs[1].split("[fcC]")[1]
    net = build_net(data, *configs, OPTIONS)                     # the edited text reads as that net
    assert net["fcB"].weight_sources == {0: ("fcA", 0)} and net["fcC"].weight_sources == {}
