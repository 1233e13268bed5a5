"""Gradient checking: every layer's analytic gradients against central differences in float64.

Two copies of the net start from the same weights: one on the backend under test (float64 on numpy,
float32 on the GPU backends) gives the analytic gradients of the summed cost; one in float64 on NumPy
gives the 4-point central difference for sampled elements of every weight, every bias, and every
layer's input. A layer's input is perturbed as that layer alone reads it, so each row checks the layer's own
backward: a broken layer is the topmost failing row, and the rows below it inherit its error.
Dropout masks are fixed by the step, so every evaluation sees the same function; the net runs without
training's deliberate noise (nrelu's noise, float16 quantization), which no backward differentiates.

The error of a tensor is ||analytic - numeric|| / max(||analytic||, ||numeric||) over its samples.
Elements at a kink (relu at 0, tied maxima) are skipped and counted, as Caffe's checker skips them:
a stencil is a kink when one of its points changes any layer's activation pattern (a layer's
kink_pattern: relu's signs, a max's winners...), or when its second differences betray one; a tensor
with no smooth sample reports NaN and fails.

Through a deep net of small weights (the paper's, at initW 0.01) the cost's gradient at the first
layers is 1e-12 and less: no step moves the cost by more than its rounding there, and the differences
measure noise. A tensor whose largest analytic element is below what the net's cost can resolve is
checked on its layer alone: the objective is the layer's output dotted with the gradient (dy) that
its analytic backward was given, whose derivative is what that backward computes from dy, rounded to
1e-16 of its own terms. So is a tensor none of whose stencils through the net is smooth: a weight of
an early convolution moves thousands of units, and through the later layers some relu changes sign or
some max its winner at any step that moves the cost by more than its rounding (cuda-convnet's CIFAR
nets, 18pct to conv-local-12pct, at conv1 or conv3). Those tensors say "alone" (UNRESOLVED) or "alone
after kinks" (KINKED); they check the layer's backward given its dy, not dy itself, which the rows above
them check.
"""
from types import SimpleNamespace

import numpy as np

from .graph import load_graph
from .net import Net

TOLERANCE = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}
KINK = 1e-3   # |D(2h) - 4 D(h)| above this fraction of the slope's change over h marks a kink
FLOOR = 1e-6  # the first step changes the cost by at least this fraction of it (rounding: 1e-10 of that)
MAX_STEP = 1e-2
CURVED = 1e-4  # central differences at s and 2s further apart than this: s is large beside f's curvature
UNRESOLVED, KINKED = "unresolved", "kinked"   # why a tensor was checked on its layer alone


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
                    samples=12, h=1e-4, seed=0, progress=None, classes=10):
    """Rows (one per layer) with the worst error over its tensors; each row's `checks` lists
    (tensor, error, elements checked). Returns (rows, tolerance). progress(layer, done, total) before
    each layer is checked: the layers done, of total."""
    shapes = [(channels, input_size, input_size), (1,)]
    dtype = np.dtype(np.float64 if backend == "numpy" else np.float32)
    info = {"classes": classes}
    net = Net(load_graph(layers_file, params_file, shapes, data_info=info), backend=backend, dtype=dtype, seed=seed)
    ref = Net(load_graph(layers_file, params_file, shapes, data_info=info), backend="numpy", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed + 1)
    data = random_batch(ref.graph, mini, rng)

    net.forward(data, train=True, step=1, noise=False)
    net.backward(data_grads=True, keep_input_grads=True)
    ref.forward(data, train=True, step=1, noise=False)
    acts = {name: a.copy() for name, a in ref.acts.items()}

    order = {layer.name: n for n, layer in enumerate(ref.layers)}

    def total_cost(override_inputs=None, changed=None):
        """The cost, the layers before `changed` (whose input or weights a stencil point moves) taken
        from the unchanged pass: the same numbers, in a fraction of the time on a deep net."""
        reuse = None if changed is None else {name: a for name, a in acts.items() if order[name] < order[changed]}
        with np.errstate(invalid="ignore", divide="ignore"):
            costs = ref.forward(data, train=True, step=1, override_inputs=override_inputs, noise=False, reuse=reuse)
        # a cost's value leaves out its coeff, which its gradient carries (as the 2012 code)
        return sum(ref[name].conf.coeff * float(v[0]) for name, v in costs.items())

    kinked = [layer for layer in ref.layers if hasattr(layer, "kink_pattern")]

    def patterns(changed=None):
        """The activation pattern (relu signs, max winners...) in the last pass of every layer from
        `changed` on (those before it reused the unchanged pass's): a stencil point that changes one
        has crossed a kink of the cost, however small its effect."""
        out = {}
        for layer in kinked:
            if changed is None or order[layer.name] >= order[changed]:
                xs = [ref._input(i, layer.device) for i in layer.inputs]
                out[layer.name] = np.asarray(layer.kink_pattern(xs, ref.acts[layer.name], ref.ctx))
        return out

    f0 = total_cost()
    base = patterns()

    def through_the_net(changed):
        """The objective of a row: the net's cost, recomputed from the layer `changed` on."""
        def value(override_inputs):
            f = total_cost(override_inputs, changed)
            return f, any(not np.array_equal(base[name], a) for name, a in patterns(changed).items())
        return SimpleNamespace(value=value, f0=f0, scale=abs(f0), alone="")

    def layer_alone(name, why=UNRESOLVED):
        """The objective of a tensor whose gradient the net's cost cannot resolve, or none of whose stencils
        through the net is smooth: <dy, y(x)>, the layer's own output dotted with the gradient (dy) that
        its analytic backward was given. Its derivative is what that backward computes from dy; it is
        rounded to 1e-16 of the terms' sizes, however small dy is, and its kinks are the layer's own.
        why: UNRESOLVED or KINKED, which the row says. None for a layer without a dy of its own: a cost, or a softmax whose gradient its cost takes."""
        layer = ref[name]
        dy = net.gradient(name) if name not in net._joint.values() and not layer.is_cost else None
        if dy is None:
            return None
        dy = np.asarray(dy, dtype=np.float64).reshape(-1)

        def run(override_inputs):
            xs = [override_inputs.get((name, i), acts[inp]) for i, inp in enumerate(layer.inputs)]
            with layer.device.activate(), np.errstate(invalid="ignore", divide="ignore"):
                y = layer.forward(xs, ref.ctx)
            pattern = layer.kink_pattern(xs, y, ref.ctx) if hasattr(layer, "kink_pattern") else np.zeros(0)
            return np.asarray(y, dtype=np.float64).reshape(-1), np.asarray(pattern)
        y0, pattern0 = run({})

        def value(override_inputs):
            y, pattern = run(override_inputs or {})
            return float(dy @ y), not np.array_equal(pattern, pattern0)
        return SimpleNamespace(value=value, f0=float(dy @ y0), scale=float(np.abs(dy) @ np.abs(y0)), alone=why)

    def numeric(array, index, rebuild, objective, slope=0.0):
        """The derivative of the objective at one element by the 4-point stencil
            (-f(v+2s) + 8 f(v+s) - 8 f(v-s) + f(v-2s)) / 12s,
        or None where f has a kink within 2s of v (a max with ties, relu at 0): where a stencil point
        changes any layer's activation pattern, or where the second differences D(k) = f(v+k) -
        2 f(v) + f(v-k) break D(2s) = 4 D(s), which holds up to O(s^4) for a smooth f.

        The step s: f is rounded to about 1e-16 of its scale, so s must change f by far more than that
        (a pixel's gradient through a deep net of small weights can be 1e-7 of the cost's): s starts
        at h, or larger, up to MAX_STEP, until the analytic slope moves f by FLOOR of its scale. And s
        must be small beside f's own scale (log p near p = 0): while the two central differences at
        s and 2s disagree by more than CURVED of their value, or the stencil leaves f's domain, s is
        divided by 10, down to the rounding limit."""
        flat = array.reshape(-1)
        old = float(flat[index])
        f0, scale = objective.f0, objective.scale
        noise = 100 * np.finfo(np.float64).eps * scale     # rounding in a combination of values of f
        step = min(max(h, FLOOR * scale / slope if slope else h), MAX_STEP)
        finest = max(1e-3 * FLOOR * scale / slope if slope else 0.0, 1e-12)
        while True:
            f, crossed = {}, False
            for k in (-2, -1, 1, 2):
                flat[index] = old + k * step
                f[k], kinked = objective.value(rebuild())
                crossed = crossed or kinked
            flat[index] = old
            finite = all(np.isfinite(v) for v in f.values())
            if finite:
                near, far = (f[1] - f[-1]) / 2, (f[2] - f[-2]) / 4
                if abs(near - far) <= CURVED * max(abs(near), abs(far)) + noise:
                    break
            if step / 10 < finest:
                break
            step /= 10
        if crossed or not finite:
            return None
        change = max(abs(f[1] - f[-1]), abs(f[2] - f[-2]) / 2)
        d1, d2 = f[1] - 2 * f0 + f[-1], f[2] - 2 * f0 + f[-2]
        if abs(d2 - 4 * d1) > KINK * change + noise:
            return None
        return (8 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12 * step)

    def compare(analytic, array, rebuild, changed, alone_possible=True):
        """(error, elements checked, kinks skipped, why the layer alone was the objective: "" where it
        was not). Through the net, unless even the largest element of the analytic gradient would need
        a step over MAX_STEP to move the cost by FLOOR of itself: there the cost's rounding is all the
        net's differences would measure (the paper's net at its initial weights: 1e-12 at conv1), and
        the layer alone is checked (UNRESOLVED); so it is when every stencil through the net crossed a
        kink (KINKED), with the kinks of its own pass. alone_possible=False for a matrix that other
        layers share: their parts of its gradient are not in this layer's output."""
        a = np.asarray(analytic, dtype=np.float64).reshape(-1)
        objective = through_the_net(changed)
        if alone_possible and a.size and np.max(np.abs(a)) * MAX_STEP < FLOOR * abs(f0):
            objective = layer_alone(changed) or objective
        checked, kinks = sample(a, array, rebuild, objective)
        if not checked and not objective.alone and alone_possible:
            alone = layer_alone(changed, KINKED)
            if alone is not None:
                objective = alone
                checked, kinks = sample(a, array, rebuild, objective)
        if not checked:
            return float("nan"), 0, kinks, objective.alone
        an, nu = np.array(checked).T
        scale = max(np.linalg.norm(an), np.linalg.norm(nu))
        return (np.linalg.norm(an - nu) / scale if scale > 0 else 0.0), len(checked), kinks, objective.alone

    def sample(a, array, rebuild, objective):
        """([(analytic, numeric)] for up to `samples` smooth elements, kinks skipped). Candidates: first
        where the analytic gradient is largest (a sparse gradient cannot pass on zeros alone), then at
        random, 3 x samples at most."""
        largest = np.argsort(-np.abs(a), kind="stable")[:samples // 2]
        rest = rng.permutation(np.setdiff1d(np.arange(a.size), largest))
        checked, kinks = [], 0
        for i in np.concatenate([largest, rest])[:3 * samples]:
            n = numeric(array, i, rebuild, objective, abs(a[i]))
            if n is None:
                kinks += 1
            else:
                checked.append((a[i], n))
            if len(checked) == samples:
                break
        return checked, kinks

    shared = {id(p.source) for p in ref.shared_parameters()}
    rows = []
    total = sum(not layer.is_data for layer in net.layers)
    for layer, ref_layer in zip(net.layers, ref.layers):
        if layer.is_data:
            continue
        if progress:
            progress(layer.name, len(rows), total)
        checks = []
        for i, inp in enumerate(layer.inputs):
            analytic = net.input_grads.get((layer.name, i))
            if analytic is not None:
                x = acts[inp].copy()
                checks.append((f"input {inp}",) + compare(analytic, x, lambda x=x, i=i, name=layer.name: {(name, i): x},
                                                          layer.name))
        for p, ref_p in zip(layer.params, ref_layer.params):
            if p.source is None:     # a shared matrix is checked once, in its owner's row, with every user's part
                # (its users come after it: weightSource names this layer or an earlier one)
                checks.append((p.name,) + compare(net.backend.to_host(p.grad, p.layer.device), ref_p.value,
                                                  lambda: {}, layer.name, id(ref_p) not in shared))
        worst = worst_error(checks)
        rows.append(SimpleNamespace(name=layer.name, type=layer.type, checks=checks, error=worst,
                                    ok=bool(worst <= TOLERANCE[dtype])))
    return rows, TOLERANCE[dtype]


def worst_error(checks):
    """A row's error: its worst tensor's, NaN (no smooth sample) if any tensor's is, so that it fails
    (max() keeps whichever comes first of a number and a NaN)."""
    return float(np.max([c[1] for c in checks])) if checks else 0.0
