"""The indices and dimensions each thread sees on the emulated backend (and on a GPU where there is
one), in 3-D grids of 3-D blocks, with its threads run in a loop and as fibers; and the order the
emulator runs a block's threads in, which CONVNET_EMULATED_ORDER=reverse turns round."""
from pathlib import Path

import numpy as np
import pytest

from convnet.backends import get_backend
from convnet.kernels import kernels
from tests.conftest import GPU_BACKENDS

HERE = Path(__file__).parent
GRID, BLOCK = (3, 2, 2), (4, 3, 2)


def expected_indices():
    """(block x, y, z, thread x, y, z) of every thread, x fastest, block by block, as written here."""
    rows = [(bx, by, bz, tx, ty, tz)
            for bz in range(GRID[2]) for by in range(GRID[1]) for bx in range(GRID[0])
            for tz in range(BLOCK[2]) for ty in range(BLOCK[1]) for tx in range(BLOCK[0])]
    return np.array(rows, np.int32)


@pytest.mark.parametrize("source, name", [("index_kernels.cu", "where_am_i"),
                                          ("block_kernels.cu", "where_am_i_at_a_barrier")])
@pytest.mark.parametrize("order", ["forward", "reverse"])
@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_every_thread_of_a_3d_grid_of_3d_blocks_knows_where_it_is(backend, order, source, name, monkeypatch):
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", order)
    be = get_backend(backend)
    count = int(np.prod(GRID) * np.prod(BLOCK))
    out, dims = be.from_host_int(np.full(6 * count, -1), None), be.from_host_int(np.full(6, -1), None)
    getattr(kernels(be, str(HERE / source)), name)(GRID, BLOCK, out, dims)
    np.testing.assert_array_equal(be.to_host(out).reshape(count, 6), expected_indices())
    assert be.to_host(dims).tolist() == [*GRID, *BLOCK]


@pytest.mark.parametrize("order, winner", [("forward", 63), ("reverse", 0)])
def test_a_blocks_threads_run_in_order_or_in_reverse(order, winner, monkeypatch):
    """Without a barrier the threads of a block run one after another: the last to write wins (a race,
    which the race check would stop: it is off)."""
    monkeypatch.setenv("CONVNET_EMULATED_ORDER", order)
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    be = get_backend("emulated")
    out = be.from_host_int(np.full(1, -1), None)
    kernels(be, str(HERE / "index_kernels.cu")).last_writer((1, 1, 1), (64, 1, 1), out)
    assert be.to_host(out).tolist() == [winner]
