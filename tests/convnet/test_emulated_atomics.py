"""Atomic functions on the emulated backend (and on a GPU where there is one): many blocks update the
same addresses at once, and every call returns what the address held before it, checked against
results computed here. On the emulator the blocks run on several CPU threads at once."""
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.kernels import i32, kernels
from tests.conftest import GPU_BACKENDS

ATOMIC_KERNELS = str(Path(__file__).with_name("atomic_kernels.cu"))
N = 200_000
GRID, BLOCK = (40, 1, 1), (128, 1, 1)         # 5,120 threads, each taking about 40 of the N


@pytest.fixture(params=["forward", "reverse"])
def order(request, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", request.param)


def launch(backend, name, *args):
    be = get_backend(backend)
    getattr(kernels(be, ATOMIC_KERNELS), name)(GRID, BLOCK, *args)
    return be


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_adds_lose_no_update(backend, order):
    rng = np.random.default_rng(0)
    bins, x = rng.integers(0, 7, N), rng.integers(-20, 21, N).astype(np.float32)
    be = get_backend(backend)
    counts, total = be.from_host_int(np.zeros(7), None), be.from_host(np.full(1, 0.5), None)
    launch(backend, "histogram_and_sum", be.from_host_int(bins, None), be.from_host(x, None), counts, total, i32(N))
    np.testing.assert_array_equal(be.to_host(counts), np.bincount(bins, minlength=7))
    assert be.to_host(total)[0] == 0.5 + x.sum(dtype=np.float64)


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_min_max_sub_and_the_bitwise_ones(backend, order):
    v = np.random.default_rng(1).integers(-10 ** 6, 10 ** 6, N)
    be = get_backend(backend)
    results = be.from_host_int(np.array([0, 0, 1000, 12345]), None)
    bits = be.from_host_int(np.array([0, -1, 0]), None)
    launch(backend, "reductions", be.from_host_int(v, None), results, bits, i32(N))
    assert be.to_host(results).tolist() == [min(0, v.min()), max(0, v.max()), 1000 - v.sum(),
                                             int(np.bitwise_xor.reduce(np.append(v, 12345)))]
    # every bit or'ed in; bits 0-30 and'ed out (31 is never cleared); the largest i, unsigned
    assert be.to_host(bits).view(np.uint32).tolist() == [2 ** 32 - 1, 2 ** 31, N - 1]


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_compare_and_swap_and_exchange_return_what_was_there(backend, order):
    m = 97
    be = get_backend(backend)
    slots, last = be.from_host_int(np.full(m, -1), None), be.from_host_int(np.full(1, -1), None)
    claimed, swapped = be.from_host_int(np.zeros(N), None), be.from_host_int(np.zeros(N), None)
    last_float, swapped_float = be.from_host(np.full(1, -1.0), None), be.empty(N)
    launch(backend, "claims", slots, claimed, last, swapped, last_float, swapped_float, i32(m), i32(N))
    slots, claimed = be.to_host(slots), be.to_host(claimed)
    winners = np.flatnonzero(claimed == -1)                 # the one claim per slot that found it free
    assert sorted(winners % m) == list(range(m)) and (slots[winners % m] == winners).all()
    losers = np.flatnonzero(claimed != -1)
    assert (claimed[losers] == slots[losers % m]).all()     # the others saw the winner
    # exchanges form one chain: what each took out, and what is left, is -1 and every i exactly once
    for chain in (np.append(be.to_host(swapped), be.to_host(last)), np.append(be.to_host(swapped_float),
                                                                             be.to_host(last_float))):
        assert Counter(chain.astype(np.int64).tolist()) == Counter([-1] + list(range(N)))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_a_float_add_returns_what_was_there_before_it(backend, order):
    """N adds of 1 from 0.5 (exact in float32): the values returned are 0.5, 1.5, ..., each once."""
    be = get_backend(backend)
    counter, seen = be.from_host(np.full(1, 0.5), None), be.empty(N)
    launch(backend, "counted_float_adds", counter, seen, i32(N))
    np.testing.assert_array_equal(np.sort(be.to_host(seen)), np.arange(N) + 0.5)
    assert be.to_host(counter)[0] == N + 0.5


def wrapped(start, limit, step, calls):
    """(the values `calls` calls of CUDA's atomicInc (step 1) or atomicDec (-1) return, from start, in
    order; the value left): ((old >= limit) ? 0 : old + 1) and ((old == 0 || old > limit) ? limit : old - 1)."""
    seen, value = [], start
    for _ in range(calls):
        seen.append(value)
        if step > 0:
            value = 0 if value >= limit else value + 1
        else:
            value = limit if value == 0 or value > limit else value - 1
    return seen, value


@pytest.mark.parametrize("start", [(0, 0), (12, 20)])      # from 0, and from above the limit
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_counters_that_wrap(backend, order, start):
    """Whatever the order of the calls, each value comes back as often as it does one call after
    another (the calls on one address are one sequence)."""
    limit = 9
    be = get_backend(backend)
    counters = be.from_host_int(np.array(start), None)
    seen_inc, seen_dec = be.from_host_int(np.zeros(N), None), be.from_host_int(np.zeros(N), None)
    launch(backend, "wrapping_counters", counters, seen_inc, seen_dec, np.uint32(limit), i32(N))
    (incs, inc_left), (decs, dec_left) = wrapped(start[0], limit, 1, N), wrapped(start[1], limit, -1, N)
    assert Counter(be.to_host(seen_inc).tolist()) == Counter(incs)
    assert Counter(be.to_host(seen_dec).tolist()) == Counter(decs)
    assert be.to_host(counters).tolist() == [inc_left, dec_left]
    if start == (0, 0):     # N calls from 0: each value 0..limit N / (limit + 1) times
        assert Counter(incs) == Counter(decs) == Counter({k: N // (limit + 1) for k in range(limit + 1)})


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_a_double_in_shared_memory_then_one_add_per_block(backend, order):
    x = np.random.default_rng(2).integers(-20, 21, N).astype(np.float32)
    be = get_backend(backend)
    out = be.from_host(np.zeros(1), None)
    getattr(kernels(be, ATOMIC_KERNELS), "block_double_sums")(((N + 127) // 128, 1, 1), BLOCK, be.from_host(x, None),
                                                              out, i32(N))
    assert be.to_host(out)[0] == x.sum(dtype=np.float64)
