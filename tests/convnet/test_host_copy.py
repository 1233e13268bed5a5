"""host_copy.copy_into: the batch into pinned memory on several threads, every element once."""
import numpy as np
import pytest

from convnet import host_copy


@pytest.mark.parametrize("shape", [(3, 5), (3, 224, 224, 128), (7, 1_000_003)])
def test_the_copy_is_the_array(shape, monkeypatch):
    """A small array on one thread, the paper's batch (77 MB) and a size that no thread count divides,
    with 8 threads as on a GPU machine whatever this machine has."""
    monkeypatch.setattr(host_copy, "_threads", lambda: 8)
    monkeypatch.setattr(host_copy, "_pool", [])
    src = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    dst = np.full(shape, np.nan, np.float32)
    host_copy.copy_into(dst, src)
    np.testing.assert_array_equal(dst, src)


def test_a_non_contiguous_source_and_another_dtype_are_converted():
    src = np.arange(24, dtype=np.float64).reshape(4, 6).T
    dst = np.empty((6, 4), np.float32)
    host_copy.copy_into(dst, src)
    np.testing.assert_array_equal(dst, src.astype(np.float32))


def test_a_destination_it_cannot_write_in_place_is_refused():
    with pytest.raises(ValueError, match="shapes"):
        host_copy.copy_into(np.empty((2, 3), np.float32), np.empty((3, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        host_copy.copy_into(np.empty((3, 2), np.float32).T, np.empty((2, 3), np.float32))
