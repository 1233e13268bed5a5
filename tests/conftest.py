"""Markers: `gpu` tests need a real NVIDIA GPU with CuPy and are skipped cleanly without one.

With CONVNET_REQUIRE_GPU=1 (bench/gpu.sh sets it) a cuda backend that does not load stops the run
at once, with its reason, instead of skipping every GPU test: a GPU run cannot pass by skipping."""
import atexit
import os
import shutil
import tempfile

import pytest

# The tests run the `convnet` command in a child process hundreds of times. Where the machine sets
# PYTHONDONTWRITEBYTECODE (this project's machines do), every child compiled the package's modules
# from source again: 0.2 s of the 1 s a small command takes. The children keep their bytecode in one
# folder of the session instead, outside the checkout, removed at the end. (A child run with a file
# size limit must not write there: Python renames a bytecode file cut short by the limit into place,
# and every later child fails to import it: test_faults.limited writes none.)
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None and "PYTHONPYCACHEPREFIX" not in os.environ:
    os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="convnet-tests-pycache-")
    atexit.register(shutil.rmtree, os.environ["PYTHONPYCACHEPREFIX"], ignore_errors=True)


def _cuda_problem():
    try:
        from convnet.backends import get_backend
        get_backend("cuda")
        return None
    except Exception as e:
        return f"{type(e).__name__}: {e}"


CUDA_PROBLEM = _cuda_problem()
HAS_GPU = CUDA_PROBLEM is None


def pytest_collection_modifyitems(config, items):
    if not HAS_GPU and os.environ.get("CONVNET_REQUIRE_GPU") == "1":
        raise pytest.UsageError(f"CONVNET_REQUIRE_GPU=1 but the cuda backend does not load: {CUDA_PROBLEM}")
    skip = pytest.mark.skip(reason=f"needs an NVIDIA GPU and CuPy ({CUDA_PROBLEM})")
    for item in items:
        if "gpu" in item.keywords and not HAS_GPU:
            item.add_marker(skip)


# The GPU code paths: the emulated backend everywhere, the real one where there is a GPU.
GPU_BACKENDS = [pytest.param("emulated"), pytest.param("cuda", marks=pytest.mark.gpu)]
