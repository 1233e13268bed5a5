"""Layers whose CPU math runs in pieces (convnet/chunks.py) give the same numbers, bit for bit, in one
piece and in pieces of one index each; the layers' own tests check the math against references."""
import numpy as np
import pytest

from convnet import chunks, cpu_parallel
from tests.helpers import TRAIN, make_layer

CASES = {
    "pool max": ("pool", dict(pool="max", sizeX=3, stride=2, channels=3)),
    "pool avg, clipped windows": ("pool", dict(pool="avg", sizeX=3, stride=2, channels=3)),
    "pool maxabs, start -1": ("pool", dict(pool="maxabs", sizeX=2, stride=2, start=-1, channels=3)),
    "cmrnorm": ("cmrnorm", dict(channels=3, size=5, scale=0.5, pow=0.75, minDiv=2)),
    "rnorm": ("rnorm", dict(channels=3, size=3, scale=0.5, pow=0.75)),
    "neuron relu": ("neuron", dict(neuron="relu")),
    "neuron nrelu, with its noise": ("neuron", dict(neuron="nrelu")),
    "neuron tanh": ("neuron", dict(neuron="tanh[1.7,0.66]")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_pieces_give_the_numbers_of_one_piece(case, monkeypatch):
    kind, keys = CASES[case]
    monkeypatch.setattr(cpu_parallel, "SHARED_BYTES", 0)        # the pieces of these small arrays on every thread
    layer = make_layer(kind, [(3, 7, 7)], keys)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7, 7, 4)).astype(np.float32)
    results = []
    for budget in (2 ** 30, 1):
        monkeypatch.setattr(chunks, "CHUNK_BYTES", budget)
        y = layer.forward([x], TRAIN)
        dy = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
        results.append((y, layer.backward([x], y, dy, [True], TRAIN)[0]))
    assert len(chunks.spans(7, x[:, 0].nbytes)) == 7          # the second run really was in pieces
    for one, pieces in zip(*results):
        np.testing.assert_array_equal(pieces, one)
