"""The numpy backend's threads (convnet/cpu_parallel.py): pieces in order, and the same numbers, bit for
bit, on one thread and on several."""
import threading

import numpy as np
import pytest

from convnet import chunks, conv_cpu, cpu_parallel
from tests.helpers import TRAIN, WEIGHT_PARAMS, make_layer


def test_run_returns_results_in_order_from_contiguous_shares():
    workers = cpu_parallel.Workers(3)
    seen = {}

    def piece(i):
        seen[i] = threading.get_ident()
        return i * i
    assert workers.run(piece, range(10)) == [i * i for i in range(10)]
    # three shares, 0-2 (the calling thread's), 3-5 and 6-9, each run by one thread in order
    assert {seen[i] for i in range(3)} == {threading.get_ident()}
    assert len({seen[i] for i in range(3, 6)}) == 1 and len({seen[i] for i in range(6, 10)}) == 1


def test_small_work_stays_on_the_calling_thread():
    workers = cpu_parallel.Workers(2)
    me = threading.get_ident()
    assert workers.run(lambda i: threading.get_ident(), range(4), nbytes=cpu_parallel.SHARED_BYTES - 1) == [me] * 4
    assert set(workers.run(lambda i: threading.get_ident(), range(4), nbytes=cpu_parallel.SHARED_BYTES)) != {me}


def test_a_piece_that_runs_pieces_runs_them_itself():
    workers = cpu_parallel.Workers(2)

    def outer(i):
        me = threading.get_ident()
        return workers.run(lambda j: threading.get_ident() == me, range(4))
    assert workers.run(outer, range(2)) == [[True] * 4, [True] * 4]


@pytest.mark.parametrize("shape", [(7, 300, 600), (600, 7, 5)])       # split by columns, by rows
def test_matmul_in_pieces_is_the_product(shape, monkeypatch):
    """Integer-valued operands: every sum is exact, so any order gives the one right answer."""
    monkeypatch.setattr(cpu_parallel, "SMALL_GEMM", 0)
    monkeypatch.setattr(cpu_parallel, "PIECE", 256)
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.integers(-8, 8, (m, k)).astype(np.float64), rng.integers(-8, 8, (k, n)).astype(np.float64)
    expected = np.einsum("ik,kj->ij", a, b)
    for threads in (1, 2, 3):
        np.testing.assert_array_equal(cpu_parallel.Workers(threads).matmul(a, b), expected)
        np.testing.assert_array_equal(cpu_parallel.Workers(threads).matmul(b.T, a.T), expected.T)   # strided views


LAYERS = {
    "conv, rows in pieces, input gradient by the transposed convolution":
        ("conv", [(3, 9, 9)], dict(channels=3, filters=4, filterSize=3, padding=1, stride=1, groups=1, initW=0.5)),
    "conv, stride 2 (input gradient by the fold), two groups":
        ("conv", [(4, 9, 9)], dict(channels=4, filters=2, filterSize=3, padding=1, stride=2, groups=2, initW=0.5)),
    "conv compiled (32 images), weight gradient in pieces of rows summed in order":
        ("conv", [(3, 9, 9)], dict(channels=3, filters=12, filterSize=3, padding=1, stride=1, groups=1, initW=0.5), 32),
    "fc, products in pieces": ("fc", [(5, 4, 4)], dict(outputs=6, initW=0.5)),
    "pool": ("pool", [(3, 9, 9)], dict(pool="max", sizeX=3, stride=2, channels=3)),
    "cmrnorm": ("cmrnorm", [(3, 9, 9)], dict(channels=3, size=5, scale=0.5, pow=0.75, minDiv=2)),
}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_one_thread_and_three_give_the_same_bits(case, monkeypatch):
    kind, shapes, keys, *images = LAYERS[case]
    monkeypatch.setattr(conv_cpu, "CHUNK_BYTES", 1)
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1)
    monkeypatch.setattr(cpu_parallel, "SMALL_GEMM", 0)
    monkeypatch.setattr(cpu_parallel, "PIECE", 2)
    monkeypatch.setattr(cpu_parallel, "SHARED_BYTES", 0)        # these small arrays shared among threads too
    x = np.random.default_rng(1).standard_normal(shapes[0] + (images[0] if images else 6,)).astype(np.float32)
    results = []
    for threads in (1, 3):
        monkeypatch.setattr(cpu_parallel, "_workers", [cpu_parallel.Workers(threads)])
        layer = make_layer(kind, shapes, keys, WEIGHT_PARAMS if kind in ("conv", "fc") else None, dtype=np.float32)
        y = layer.forward([x], TRAIN)
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
        (dx,) = layer.backward([x], y, dy, [True], TRAIN)
        results.append([y, dx] + [p.grad for p in layer.params])
    for one, three in zip(*results):
        np.testing.assert_array_equal(three, one)
