"""Markers: `gpu` tests need a real NVIDIA GPU with CuPy and are skipped cleanly without one."""
import pytest


def _has_gpu():
    try:
        from convnet.backends import get_backend
        get_backend("cuda")
        return True
    except Exception:
        return False


HAS_GPU = _has_gpu()


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU and CuPy")
    for item in items:
        if "gpu" in item.keywords and not HAS_GPU:
            item.add_marker(skip)


# The GPU code paths: the emulated backend everywhere, the real one where there is a GPU.
GPU_BACKENDS = [pytest.param("emulated"), pytest.param("cuda", marks=pytest.mark.gpu)]
