"""`convnet inspect`: what each layer's activations, output gradients and parameters look like, over a
few minibatches of a checkpoint: the figures people watch for vanishing, exploding and dying.

Per layer: the activations' mean, standard deviation, min, max, the fraction of exact zeros (dead
relus, pooled zeros) and of saturated units (logistic and tanh within 1% of their bounds, brelu at its
bounds); the gradient of the cost with respect to the layer's output: its norm and mean |g| (per
minibatch, averaged). A cost layer's row is its cost per image: the mean over the minibatches, and
their spread, least and most. Per parameter: the norms of the weights, of the gradient of the
batch-mean cost (what the update uses) and of the momentum buffer, and the update-to-weight ratio
eps * |grad| / |W|.
In training mode (the default) the minibatches are the training stream's next ones, with dropout on,
as training would see them; --test takes the test range's, without.
"""
import numpy as np

from .notes import note
from convnet.data.loader import TrainStream


class _Moments:
    """Running sums over several minibatches of one array."""

    def __init__(self):
        self.n = self.zeros = self.saturated = 0
        self.sum = self.sumsq = 0.0
        self.min, self.max = np.inf, -np.inf

    def add(self, a, saturated=0):
        a = np.asarray(a, dtype=np.float64)
        self.n += a.size
        self.sum += a.sum()
        self.sumsq += (a * a).sum()
        self.min, self.max = min(self.min, a.min()), max(self.max, a.max())
        self.zeros += int(np.count_nonzero(a == 0))
        self.saturated += int(saturated)

    def summary(self):
        mean = self.sum / max(self.n, 1)
        return dict(mean=mean, std=float(np.sqrt(max(self.sumsq / max(self.n, 1) - mean * mean, 0.0))),
                    min=float(self.min), max=float(self.max), zero_fraction=self.zeros / max(self.n, 1),
                    saturated_fraction=self.saturated / max(self.n, 1))


def saturated(layer, y):
    """How many of a neuron layer's outputs sit at (or within 1% of) a bound of its function."""
    kind = getattr(layer, "kind", None)
    if kind == "logistic":
        return np.count_nonzero((y < 0.01) | (y > 0.99))
    if kind == "tanh":
        a = layer.p[0]
        return np.count_nonzero(np.abs(y) > 0.99 * abs(a))
    if kind == "brelu":
        return np.count_nonzero((y <= 0) | (y >= layer.p[0]))
    return 0


def next_position(data, options, checkpoint):
    """(epoch, minibatch) where the checkpoint's training goes on (resuming.place_in_this_plan)."""
    from .resuming import place_in_this_plan
    return checkpoint.epoch, place_in_this_plan(checkpoint, data, options)


def progress_at(data, options, epoch, start):
    """The run's progress at the update of minibatch `start` of `epoch`, as the trainer reckons it for its
    schedules (trainer._train_step, after the 2012 convnet.py): the data batches trained before that
    minibatch's, over all of the run's; 1 past its end."""
    from convnet.data.loader import epoch_plan
    from .schedule import run_progress
    per_epoch = len(data.train)
    plan = epoch_plan(data.provider, data.train, options["mini"], options["seed"], epoch,
                      getattr(data.augmentation, "ordered", False))
    done = plan[start][2] if start < len(plan) else per_epoch
    return min(run_progress(epoch, done, per_epoch, max(options["epochs"], 1)), 1.0)


def minibatches(data, options, checkpoint, count, train, start=None):
    """The next `count` minibatches of training (from where the checkpoint stopped, or from minibatch
    `start` of its epoch) or of the test range."""
    if not train:
        asked = count
        for batch in data.test_minibatches(options["mini"]):
            yield batch
            count -= 1
            if count == 0:
                return
        if count:
            note(f"--batches {asked}: the test range holds {asked - count} minibatches of {options['mini']}; "
                 f"these are all inspected")
        return
    epoch, start = next_position(data, options, checkpoint) if start is None else (checkpoint.epoch, start)
    while count > 0:
        stream = TrainStream(data.provider, data.train, data.augmentation, options["mini"], options["seed"], epoch,
                             start=start, threads=1)
        try:
            for _, batch in stream:
                yield batch
                count -= 1
                if count == 0:
                    return
        finally:
            stream.close()
        epoch, start = epoch + 1, 0


class Watch:
    """Statistics gathered from the net's current state (its last forward and backward pass), over
    one or more passes; rows() gives them as inspect prints them."""

    def __init__(self, net, names=None):
        self.net = net
        self.layers = [l for l in net.layers if not l.is_data and (names is None or l.name in names)]
        self.acts = {l.name: _Moments() for l in self.layers}
        self.grads = {l.name: [] for l in self.layers}
        self.params = {p.path: {"weights": 0.0, "grad": 0.0, "inc": 0.0, "ratio": 0.0, "n": 0}
                       for l in self.layers for p in l.params if p.source is None}

    def observe(self, solver, mini, progress, step, arrays=None):
        net = self.net
        for layer in self.layers:
            y = net.activation(layer.name)
            if layer.is_cost:        # [cost summed over the cases, errors...]: its row is the cost per image
                self.acts[layer.name].add(np.asarray(y, dtype=np.float64).reshape(-1)[:1] / mini)
            else:
                self.acts[layer.name].add(y, saturated(layer, y))
            g = net.gradient(layer.name)
            if arrays is not None:
                arrays["activations"][layer.name] = y
            if g is not None:
                g = np.asarray(g, dtype=np.float64)
                self.grads[layer.name].append((float(np.linalg.norm(g)), float(np.abs(g).mean())))
                if arrays is not None:
                    arrays["output_grads"][layer.name] = g.astype(np.float32)
            for p in layer.params:
                if p.source is not None or p.grad is None:
                    continue
                w = np.asarray(net.backend.to_host(p.value, layer.device), dtype=np.float64)
                g = np.asarray(net.backend.to_host(p.grad, layer.device), dtype=np.float64) / mini
                inc = np.asarray(net.backend.to_host(p.inc, layer.device), dtype=np.float64)
                eps = solver.rate(p, progress, step) if p.eps.base else 0.0
                row = self.params[p.path]
                norm_w, norm_g = np.linalg.norm(w), np.linalg.norm(g)
                row["weights"] += norm_w
                row["grad"] += norm_g
                row["inc"] += np.linalg.norm(inc)
                row["ratio"] += _update_ratio(eps * norm_g, norm_w)
                row["n"] += 1
                if arrays is not None:
                    arrays["param_grads"][p.path] = g.astype(np.float32)

    def rows(self):
        layer_rows = []
        for layer in self.layers:
            row = dict(layer=layer.name, type=layer.type, **self.acts[layer.name].summary())
            g = self.grads[layer.name]
            row["grad_norm"] = float(np.mean([a for a, _ in g])) if g else None
            row["grad_mean_abs"] = float(np.mean([b for _, b in g])) if g else None
            layer_rows.append(row)
        param_rows = [dict(parameter=path, weight_norm=r["weights"] / r["n"], grad_norm=r["grad"] / r["n"],
                           momentum_norm=r["inc"] / r["n"],
                           update_ratio=None if np.isnan(r["ratio"]) else r["ratio"] / r["n"])
                      for path, r in self.params.items() if r["n"]]
        return layer_rows, param_rows


def _update_ratio(step, norm_w):
    """step / |W|: 0 where nothing moves (eps = 0, or no gradient), NaN (no value: "-" in the table,
    null in JSON) where weights that are all zero move, as biases do at their first step."""
    if step == 0:
        return 0.0
    return step / norm_w if norm_w > 0 else float("nan")


def inspect(net, solver, batches, train=True, names=None, progress=0.0, step=0):
    """(layer rows, parameter rows, arrays of the last minibatch) over the given minibatches."""
    watch = Watch(net, names)
    arrays = {}
    for batch in batches:
        with np.errstate(all="ignore"):
            net.forward(batch, train=train, step=step)
            net.backward()
        arrays = {"activations": {}, "output_grads": {}, "param_grads": {}}
        watch.observe(solver, batch[1].shape[-1], progress, step, arrays)
    return watch.rows() + (arrays,)


def table(layer_rows, param_rows):
    lines = [f"{'layer':<16} {'type':<12} {'mean':>10} {'std':>10} {'min':>10} {'max':>10} {'zeros':>7} "
             f"{'sat.':>6} {'|dC/dy|':>10} {'mean|g|':>10}"]
    for r in layer_rows:
        g = "-" if r["grad_norm"] is None else f"{r['grad_norm']:10.3e}"
        m = "-" if r["grad_mean_abs"] is None else f"{r['grad_mean_abs']:10.3e}"
        lines.append(f"{r['layer']:<16} {r['type']:<12} {r['mean']:10.3e} {r['std']:10.3e} {r['min']:10.3e} "
                     f"{r['max']:10.3e} {100 * r['zero_fraction']:6.1f}% {100 * r['saturated_fraction']:5.1f}% "
                     f"{g:>10} {m:>10}")
    lines.append("")
    lines.append(f"{'parameter':<24} {'|W|':>10} {'|grad|':>10} {'|momentum|':>10} {'eps|grad|/|W|':>14}")
    for r in param_rows:
        ratio = "-" if r["update_ratio"] is None else f"{r['update_ratio']:14.3e}"
        lines.append(f"{r['parameter']:<24} {r['weight_norm']:10.3e} {r['grad_norm']:10.3e} {r['momentum_norm']:10.3e} "
                     f"{ratio:>14}")
    return "\n".join(lines)


def write_arrays(path, arrays):
    """/activations/<layer>, /output_grads/<layer>, /param_grads/<layer>/<param>: the last minibatch's."""
    from .files import write_hdf5

    def fill(f):
        for group, values in arrays.items():
            for name, a in values.items():
                f[f"{group}/{name}"] = a
    write_hdf5(path, fill)
