"""convnet.load in Python: a checkpoint's net and data, the numbers `convnet test` prints, and every
layer's output and gradient by name."""
import h5py
import numpy as np
import pytest

import convnet
from convnet.errors import CheckpointError, OptionError
from tests.training import convnet as run_convnet, strict_json, tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory)


def test_the_net_has_the_checkpoints_arrays_and_gives_what_convnet_test_prints(checkpoint):
    net, data = convnet.load(checkpoint)
    with h5py.File(checkpoint) as f:
        np.testing.assert_array_equal(net["conv1"].params[0].value, f["layers/conv1/weights/0"][()])
        np.testing.assert_array_equal(net["fc10"].params[1].value, f["layers/fc10/biases"][()])
    cost = top1 = cases = 0
    for images, labels in data.test_minibatches(300):
        costs = net.forward([images, labels])["logprob"]
        cost, top1, cases = cost + float(costs[0]), top1 + float(costs[1]), cases + labels.size
    printed = strict_json(run_convnet("test", "--load", checkpoint, "--json").stdout)
    assert cases == printed["cases"] == 2000
    assert cost / cases == pytest.approx(printed["cost"], rel=1e-5)
    assert top1 / cases == pytest.approx(printed["top1_error"], abs=1e-9)


def test_layer_outputs_and_gradients_by_name(checkpoint):
    net, data = convnet.load(checkpoint)
    images, labels = next(data.test_minibatches(50))
    net.forward([images, labels])
    net.backward()
    probs = net.activation("probs").astype(np.float64)
    onehot = np.zeros_like(probs)
    onehot[labels[0].astype(int), np.arange(50)] = 1
    # the summed cost -sum(log p_label) through the softmax: p - onehot with respect to fc10's output
    np.testing.assert_allclose(net.gradient("fc10"), probs - onehot, atol=1e-6)
    assert net.activation("conv1").shape == net.gradient("conv1").shape == (8, 17, 17, 50)  # 1 + ceil(31 / 2)
    # neuron=relu is the layer conv1_neuron after conv1, as cuda-convnet's layer.py:627 detached it
    np.testing.assert_array_equal(net.activation("conv1_neuron"), np.maximum(net.activation("conv1"), 0))


def test_options_replace_the_checkpoints_and_unknown_ones_are_named(checkpoint):
    _, data = convnet.load(checkpoint, test_range="2")
    assert data.test == [2] and sum(b[1].size for b in data.test_minibatches()) == 2000
    with pytest.raises(OptionError, match="no option 'bakend'"):
        convnet.load(checkpoint, bakend="numpy")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        convnet.load(checkpoint.parent / "nothing.h5")
