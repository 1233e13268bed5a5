"""The embedded shapes' disk cache: what it keeps reads back as drawn, and it never stands in the way."""
import numpy as np
import pytest

from convnet.data import get_provider, shapes_cache
from convnet.data.default import SEED, render


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "shapes"


def drawn(number, size=32, count=2000):
    return render(np.random.default_rng([SEED, number, size]), count, size)


def test_a_batch_is_kept_and_read_back_as_drawn(cache):
    images, labels = get_provider("default").read_batch(6)
    (kept,) = cache.iterdir()
    assert kept.name.startswith("32px-batch6-") and kept.suffix == ".npz"
    again = get_provider("default").read_batch(6)           # a new provider: from the file
    expected = drawn(6)
    for a, b in zip((images, labels) + again, expected * 2):
        np.testing.assert_array_equal(a, b)
    assert again[1].dtype == np.int64 and shapes_cache.load(6, 32, 2000) is not None


@pytest.mark.parametrize("damage", ["flipped pixel", "truncated", "garbage"])
def test_a_damaged_file_is_drawn_again_and_replaced(cache, damage):
    get_provider("default").read_batch(2)
    (kept,) = cache.iterdir()
    data = bytearray(kept.read_bytes())
    if damage == "flipped pixel":
        data[len(data) // 2] ^= 1                 # inside the pixels: only the CRC sees it
    kept.write_bytes(bytes(data[:len(data) // 3]) if damage == "truncated" else
                     b"not a batch" if damage == "garbage" else bytes(data))
    assert shapes_cache.load(2, 32, 2000) is None
    images, labels = get_provider("default").read_batch(2)
    np.testing.assert_array_equal(images, drawn(2)[0])
    assert shapes_cache.load(2, 32, 2000) is not None          # replaced by the batch drawn again


def test_a_cache_that_cannot_be_written_only_costs_the_drawing(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path / "a-file"))     # no folder can be made there
    images, _ = get_provider("default", image_size=8).read_batch(1)
    np.testing.assert_array_equal(images, drawn(1, 8, get_provider("default", image_size=8).per_batch)[0])


def test_another_numpy_never_reads_the_batches_of_this_one(cache, monkeypatch):
    before = shapes_cache.path(1, 32)
    monkeypatch.setattr(shapes_cache, "_KEY", None)
    monkeypatch.setattr(np, "__version__", "0.0.1")
    assert shapes_cache.path(1, 32) != before
