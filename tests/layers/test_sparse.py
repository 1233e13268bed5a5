"""randSparse=1: random sparse connections between channel groups (conv and local), against a loop over
the connections written here, gradients against central differences, and the 2012 parser's checks."""
import numpy as np
import pytest

from convnet.errors import ConfigError
from tests.conftest import GPU_BACKENDS
from tests.helpers import TRAIN, WEIGHT_PARAMS, check_layer_gradients, check_parity, gpu_twin, make_layer
from tests.layers.test_conv import naive_conv
from tests.layers.test_local import naive_local

SPARSE = dict(channels=4, filters=3, filterSize=3, padding=1, stride=1, groups=4, randSparse=1, filterChannels=2,
              initW=0.5, initB=0.2)


def test_connections_are_permutations_of_the_channels():
    layer = make_layer("conv", [(4, 5, 5)], SPARSE, WEIGHT_PARAMS, seed=3)
    conns = layer.conns[0]
    assert conns.dtype == np.int32 and conns.shape == (8,)           # 4 groups x 2 maps: 2 permutations of 4
    assert sorted(conns[:4]) == [0, 1, 2, 3] and sorted(conns[4:]) == [0, 1, 2, 3]
    assert layer.params[0].value.shape == (12, 2, 3, 3)              # each filter sees filterChannels maps
    other = make_layer("conv", [(4, 5, 5)], SPARSE, WEIGHT_PARAMS, seed=4)
    assert not np.array_equal(other.conns[0], conns)                 # drawn from the net's seed


@pytest.mark.parametrize("kind", ["conv", "local"])
def test_forward_sees_the_connected_maps_and_gradients_are_exact(kind):
    layer = make_layer(kind, [(4, 5, 5)], SPARSE, WEIGHT_PARAMS, seed=3)
    x = np.random.default_rng(1).standard_normal((4, 5, 5, 2))
    stacked = x[layer.conns[0]]                                      # group g: maps conns[2g], conns[2g + 1]
    w, b = layer.params[0].value, layer.params[1].value
    expected = (naive_conv(stacked, w, b, 4, 1, 1, True) if kind == "conv" else naive_local(stacked, w, b, 4, 1, 1))
    np.testing.assert_allclose(layer.forward([x], TRAIN), expected, rtol=1e-12, atol=1e-12)
    check_layer_gradients(layer, [x])


@pytest.mark.parametrize("keys,key,fragment", [
    (dict(groups=1), "groups", "more than 1"),
    (dict(filterChannels=3), "filterChannels", "must divide"),
    (dict(randSparse=0), "filterChannels", "without randSparse"),
])
def test_the_2012_parsers_checks(keys, key, fragment):
    with pytest.raises(ConfigError) as e:
        make_layer("conv", [(4, 5, 5)], {**SPARSE, **keys}, WEIGHT_PARAMS)
    assert e.value.key == key and fragment in str(e.value)


@pytest.fixture(params=GPU_BACKENDS)
def backend(request):
    return request.param


@pytest.mark.parametrize("kind", ["conv", "local"])
def test_gpu_path(backend, kind):
    keys = {**SPARSE, "channels": "4,3", "filters": "3,12", "filterSize": "3,3", "padding": "1,1", "stride": "1,1",
            "groups": "4,1", "randSparse": "1,0", "filterChannels": "2,3", "initW": "0.5,0.5"}
    cpu, gpu = gpu_twin(kind, [(4, 5, 5), (3, 5, 5)], keys, WEIGHT_PARAMS, backend)
    assert np.array_equal(cpu.conns[0], gpu.conns[0])
    x = np.random.default_rng(2).standard_normal((4, 5, 5, 3)).astype(np.float32)
    check_parity(cpu, gpu, [x, np.random.default_rng(3).standard_normal((3, 5, 5, 3))])
