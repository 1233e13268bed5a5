"""The GPU code path on whole nets: gradient checks, training against NumPy, and logical devices."""
import numpy as np
import pytest
from click.testing import CliRunner

from convnet.cli import main
from convnet.graph import load_graph
from convnet.net import Net
from convnet.solver import Solver
from tests.conftest import GPU_BACKENDS
from tests.helpers import REFERENCE, ROOT, rel_error, write

GC = (REFERENCE / "cifar/layers.gc.cfg", REFERENCE / "cifar/layer-params.gc.cfg")


@pytest.mark.parametrize("backend", GPU_BACKENDS)
@pytest.mark.parametrize("config,size", [(GC, 8), ((ROOT / "configs/every-layer.cfg",
                                                    ROOT / "configs/every-layer-params.cfg"), 9)])
def test_check_grads_on_the_gpu_path(backend, config, size):
    result = CliRunner().invoke(main, ["check-grads", "--layers", str(config[0]), "--params", str(config[1]),
                                       "--input-size", str(size), "--backend", backend])
    assert result.exit_code == 0, result.output
    assert "within the tolerance 0.0001" in result.output


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_training_steps_match_numpy(backend):
    """Five steps of the quick-start net: every weight within float32 reach of the NumPy path's."""
    nets = [Net(load_graph(ROOT / "configs/layers.cfg", ROOT / "configs/params.cfg", [(3, 32, 32), (1,)]),
                backend=b, seed=3) for b in ("numpy", backend)]
    rng = np.random.default_rng(0)
    for step in range(5):
        batch = [rng.standard_normal((3, 32, 32, 16)).astype(np.float32) * 50,
                 rng.integers(0, 10, (1, 16)).astype(np.float32)]
        costs = []
        for net in nets:
            costs.append(net.forward(batch, train=True, step=step)["logprob"])
            net.backward()
            Solver(net).update(16, 0.0)
        assert rel_error(costs[0], costs[1]) < 1e-5
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert rel_error(p.value, nets[1].backend.to_host(q.value)) < 1e-5, p.path


def without_gpu_lines(tmp_path, path):
    return write(tmp_path, "one-device.cfg", "\n".join(l for l in path.read_text().splitlines()
                                                      if not l.startswith("gpu=")))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_paper_net_on_two_logical_gpus_gives_the_numbers_of_one(backend, tmp_path):
    """layers-145 at a small batch: the two columns on logical GPUs 0 and 1 (copies where they meet),
    and everything on one device."""
    layers, params = REFERENCE / "imagenet/layers-145.cfg", REFERENCE / "imagenet/layer-params-145.cfg"
    shapes = [(3, 224, 224), (1,)]
    two = Net(load_graph(layers, params, shapes), backend=backend, seed=1)
    one = Net(load_graph(without_gpu_lines(tmp_path, layers), params, shapes), backend=backend, seed=1)
    assert two.graph.n_devices == 2 and one.graph.n_devices == 1
    rng = np.random.default_rng(2)
    batch = [rng.standard_normal((3, 224, 224, 2)).astype(np.float32) * 50,
             rng.integers(0, 1000, (1, 2)).astype(np.float32)]
    for net in (two, one):
        net.forward(batch, train=True, step=5)
        net.backward()
    np.testing.assert_array_equal(two.costs()["logprob"], one.costs()["logprob"])
    for p, q in zip(two.parameters(), one.parameters()):
        np.testing.assert_array_equal(two.backend.to_host(p.grad), one.backend.to_host(q.grad), err_msg=p.path)
