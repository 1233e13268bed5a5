"""Gradient checking: every layer's analytic gradients against central differences in float64.

Two copies of the net start from the same weights: one on the backend under test (float64 on numpy,
float32 on the GPU backends) gives the analytic gradients of the summed cost; one in float64 on NumPy
gives (f(v + h) - f(v - h)) / 2h for sampled elements of every weight, every bias, and every layer's
input (the gradient reaching each layer's input is checked by perturbing that input's values).
Dropout masks are fixed by the step, so every evaluation sees the same function.

The error of a tensor is ||analytic - numeric|| / max(||analytic||, ||numeric||) over its samples.
Elements at a kink (relu at 0, tied maxima), where the one-sided differences disagree, are skipped
and counted, as Caffe's checker skips them; a tensor with no smooth sample reports NaN and fails.
"""
from types import SimpleNamespace

import numpy as np

from .graph import load_graph
from .net import Net

TOLERANCE = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}
KINK = 1e-2   # one-sided differences further apart than this (relative) mark a kink


def random_batch(graph, mini, rng):
    """Images ~ N(0, 1) and labels uniform over the classes of the net's logreg costs."""
    images = labels = None
    for layer in graph.data_layers:
        shape = layer.output_shape
        if layer.conf.dataIdx == 0:
            images = rng.standard_normal(shape + (mini,)).astype(np.float32)
    classes = min((c.classes for c in graph.cost_layers if hasattr(c, "classes")), default=2)
    labels = rng.integers(0, classes, size=(1, mini)).astype(np.float32)
    return [images, labels]


def check_gradients(layers_file, params_file, input_size=8, channels=3, mini=3, backend="numpy",
                    samples=12, h=1e-6, seed=0, progress=None):
    """Rows (one per layer) with the worst error over its tensors; each row's `checks` lists
    (tensor, error, elements checked). Returns (rows, tolerance)."""
    shapes = [(channels, input_size, input_size), (1,)]
    dtype = np.dtype(np.float64 if backend == "numpy" else np.float32)
    net = Net(load_graph(layers_file, params_file, shapes), backend=backend, dtype=dtype, seed=seed)
    ref = Net(load_graph(layers_file, params_file, shapes), backend="numpy", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed + 1)
    data = random_batch(ref.graph, mini, rng)

    net.forward(data, train=True, step=1)
    net.backward(data_grads=True)
    ref.forward(data, train=True, step=1)
    acts = {name: a.copy() for name, a in ref.acts.items()}

    def total_cost(override=None):
        with np.errstate(invalid="ignore", divide="ignore"):
            costs = ref.forward(data, train=True, step=1, override=override)
        return sum(float(v[0]) for v in costs.values())

    f0 = total_cost()

    def numeric(array, index, rebuild):
        """The central difference at one element, or None at a kink (a max with ties, relu at 0),
        where the two one-sided differences disagree and no derivative exists. Where the step h
        leaves the function's domain (log p with p < h), the step is taken relative to the value."""
        flat = array.reshape(-1)
        old = flat[index]
        for step in (h, h * abs(old)):
            if step == 0:
                return None
            flat[index] = old + step
            plus = total_cost(rebuild())
            flat[index] = old - step
            minus = total_cost(rebuild())
            flat[index] = old
            if np.isfinite(plus) and np.isfinite(minus):
                break
        else:
            return None
        forward, backward = (plus - f0) / step, (f0 - minus) / step
        if abs(forward - backward) > KINK * max(abs(forward), abs(backward)) + 1e-6:
            return None
        return (plus - minus) / (2 * step)

    def compare(analytic, array, rebuild):
        """(error, elements checked, kinks skipped). Candidates: first where the analytic gradient
        is largest (a sparse gradient cannot pass on zeros alone), then at random."""
        a = np.asarray(analytic, dtype=np.float64).reshape(-1)
        largest = np.argsort(-np.abs(a), kind="stable")[:samples // 2]
        rest = rng.permutation(np.setdiff1d(np.arange(a.size), largest))
        checked, kinks = [], 0
        for i in np.concatenate([largest, rest])[:3 * samples]:
            n = numeric(array, i, rebuild)
            if n is None:
                kinks += 1
            else:
                checked.append((a[i], n))
            if len(checked) == samples:
                break
        if not checked:
            return float("nan"), 0, kinks
        an, nu = np.array(checked).T
        scale = max(np.linalg.norm(an), np.linalg.norm(nu))
        return (np.linalg.norm(an - nu) / scale if scale > 0 else 0.0), len(checked), kinks

    input_errors = {}
    rows = []
    for layer, ref_layer in zip(net.layers, ref.layers):
        if layer.is_data:
            continue
        if progress:
            progress(layer.name)
        checks = []
        for inp in dict.fromkeys(layer.inputs):
            if inp not in input_errors and net.gradient(inp) is not None:
                input_errors[inp] = compare(net.gradient(inp), acts[inp], lambda inp=inp: {inp: acts[inp]})
            if inp in input_errors:
                checks.append((f"input {inp}",) + input_errors[inp])
        for p, ref_p in zip(layer.params, ref_layer.params):
            checks.append((p.name,) + compare(net.backend.to_host(p.grad), ref_p.value, lambda: None))
        worst = max((c[1] for c in checks), default=0.0)
        rows.append(SimpleNamespace(name=layer.name, type=layer.type, checks=checks, error=worst,
                                    ok=bool(worst <= TOLERANCE[dtype])))
    return rows, TOLERANCE[dtype]
