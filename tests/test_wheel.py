"""A non-editable install carries every kernel: the wheel, installed in a fresh virtual environment,
compiles and runs the GPU path's kernels (on the emulated backend) and the numpy backend's compiled
kernels from its own files."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import DATA_LAYERS, ROOT, SOFTMAX_COST

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import convnet
    from convnet.backends import get_backend
    from convnet.graph import load_graph
    from convnet.net import Net
    from convnet.solver import Solver
    assert convnet.__file__.startswith(sys.prefix), convnet.__file__     # the wheel's copy, not the source tree
    net = Net(load_graph(sys.argv[1], sys.argv[2], [(3, 12, 12), (1,)]), backend="emulated", seed=1)
    rng = np.random.default_rng(0)
    batch = [rng.standard_normal((3, 12, 12, 4)).astype(np.float32), rng.integers(0, 3, (1, 4)).astype(np.float32)]
    cost = net.forward(batch, train=True)["cost"]
    net.backward()
    Solver(net).update(4, 0.0)
    print("cost", float(cost[0]))
    from convnet import native
    numpy_net = Net(load_graph(sys.argv[1], sys.argv[2], [(3, 12, 12), (1,)]), backend="numpy", seed=1)
    batch16 = [rng.standard_normal((3, 12, 12, 16)).astype(np.float32), rng.integers(0, 3, (1, 16)).astype(np.float32)]
    numpy_net.forward(batch16, train=True)
    numpy_net.backward()
    print("compiled", native.describe())
""")

LAYERS = DATA_LAYERS + """
[conv]
type=conv
inputs=data
channels=3
filters=4
filterSize=3
padding=1
initW=0.1
neuron=relu
[pool]
type=pool
pool=max
inputs=conv
sizeX=2
stride=2
channels=4
[norm]
type=cmrnorm
inputs=pool
channels=4
size=3
[fc]
type=fc
inputs=norm
outputs=3
initW=0.1
""" + SOFTMAX_COST
PARAMS = """
[conv]
epsW=0.01
epsB=0.01
momW=0.9
momB=0.9
wc=0.001
[fc]
epsW=0.01
epsB=0.01
momW=0.9
momB=0.9
wc=0.001
[norm]
scale=0.001
pow=0.75
[cost]
coeff=1
"""


def clean_copy(dst):
    """The source tree as a fresh clone has it: no build/ or egg-info whose file lists would stand in
    for package_data."""
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                             ".pytest_cache", "runs"))
    return dst


def test_the_wheel_runs_the_kernels_from_a_fresh_venv(tmp_path):
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    source = clean_copy(tmp_path / "source")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel, = wheels.glob("convnet-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    (tmp_path / "layers.cfg").write_text(LAYERS)
    (tmp_path / "params.cfg").write_text(PARAMS)
    (tmp_path / "run.py").write_text(SCRIPT)
    # The dependencies from this environment's site-packages (as a path, so no .pth file, and with it
    # no editable install of the source tree, is processed); a kernel cache of its own.
    env = dict(os.environ, PYTHONPATH=str(Path(np.__file__).parents[1]), CONVNET_CACHE=str(tmp_path / "cache"))
    run = subprocess.run([str(python), "run.py", "layers.cfg", "params.cfg"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("cost ")
    if shutil.which(os.environ.get("CXX") or "g++"):
        assert "compiled conv_direct.cpp (the direct convolution); pool_direct.cpp" in run.stdout, run.stdout
        assert len(list((tmp_path / "cache" / "native").glob("*_direct-*.so"))) == 2
    built = {p.name.split("-")[0] for p in (tmp_path / "cache" / "emulated").iterdir()}
    assert {"elementwise.cu", "unfold.cu", "solver.cu", "pool.cu", "cmrnorm.cu", "softmax.cu"} <= built
