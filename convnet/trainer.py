"""The training loop of `convnet train`: epochs over the training range in minibatches, a test point
every test_freq minibatches (a line of numbers and a checkpoint), the plateau heuristic, Ctrl-C, and
divergence. A run resumed from a checkpoint continues exactly as if it had never stopped.
"""
import math
import os
import signal
import time

import numpy as np

from .checkpoint import NonFinite, save
from .cost_tally import CostTally
from .errors import DataError, DivergenceError
from .files import WriteError, copy_file
from .inspect import Watch
from .notes import note
from .progress import Progress, progress_of
from .resuming import keep_later_checkpoints, place_in_this_plan, refuse_another_run
from .save_folder import SaveFolder
from .schedule import run_progress
from .evaluate import classifying_layer, evaluate, topk_of
from .session import Data, build_net
from .solver import Solver
from convnet.data.loader import TrainStream


class Trainer:
    def __init__(self, options, configs, checkpoint=None, echo=print, save_path=None, fresh_folder=False,
                 changes=None, lr_scale=None, arrays_given=False):
        """changes: a surgery.Changes (--conv-to-local, --unshare-weights) made to the net as it is loaded.
        lr_scale (--lr-scale): the factor a resumed run's rates go on with, in place of its own; it is not
        an option of the run (a later resume goes on with the factor the run has then). arrays_given: the
        caller sets the net's arrays (convnet import), so initWFunc and the like are not called."""
        self.o, self.echo = options, echo
        self.data = Data(options)
        if checkpoint is not None:
            self.data.note_changed(checkpoint, options, resuming=True)
        self.o["data_fingerprint"] = self.data.fingerprints()       # kept in its checkpoints
        changed = []
        if changes:
            from .surgery import changed_net
            self.net, configs, changed = changed_net(self.data, configs, options, checkpoint, changes)
        else:
            self.net = build_net(self.data, *configs, options, restoring=checkpoint is not None or arrays_given)
        self.configs = configs
        self.folder = SaveFolder(save_path, fresh_folder)   # writable, ours alone: before the first minibatch
        try:
            refuse_another_run(self.folder, checkpoint)
            keep_later_checkpoints(self.folder, checkpoint)
            for line in changed:
                note(line)
            self.solver = Solver(self.net)
            self.cost_layer = classifying_layer(self.net)
            self.tally = CostTally(self.net)
            self.epoch, self.batch, self.step = 1, 0, 0
            self.history, self.watch = [], []
            self.state = dict(lr_scale=1.0, best=None, since_best=0, drops=0, cost=0.0, errors=0, cases=0)
            if checkpoint is not None:
                if not changes:          # changed_net has restored it
                    checkpoint.restore(self.net)
                self.epoch, self.batch, self.step = checkpoint.epoch, checkpoint.batch, checkpoint.step
                self.batch = place_in_this_plan(checkpoint, self.data, self.o)
                self.history, self.state = checkpoint.history, checkpoint.state
                if changes:          # best.h5 in the new folder is the changed net's best
                    self.state.update(best=None, since_best=0)
                self.watch = checkpoint.watch
            self._keep_best_comparable()
            if lr_scale is not None:
                self.state["lr_scale"] = lr_scale
            self.solver.lr_scale = self.state["lr_scale"]
            self._saved_step = self.step          # what latest.h5 holds (nothing yet in a new run)
            self.save_dir = self.folder.path
            self.latest, self.best = self.folder.file("latest.h5"), self.folder.file("best.h5")
            self.loaded = checkpoint.path if checkpoint is not None else self.latest
            self._stop_requested = None         # the signal that asked to stop
            self._timer = (time.perf_counter(), 0)
            self._bar = None                    # the epoch's progress line
        except BaseException:
            self.folder.release()
            raise

    # ---- the loop ---------------------------------------------------------------------------

    def run(self):
        """0 when done; 128 + the signal's number when a signal (Ctrl-C, SIGTERM, SIGHUP) stopped it
        after saving."""
        owed = self.state.pop("test_owed", False)       # a test point that an unreadable test batch stopped
        if self.epoch > self.o["epochs"] and not owed:
            self.folder.release()
            done = self.epoch - 1
            so_far = _count(done, "epoch")
            if self.batch:
                so_far += f" and {_count(self.batch, 'minibatch', 'minibatches')}"
            trained = (f"has already trained its {so_far}" if so_far == _count(self.o["epochs"], "epoch") else
                       f"has trained {so_far}, more than the {self.o['epochs']} of --epochs")
            self.echo(f"{self.loaded} {trained}: nothing to do. To train longer, resume with --epochs {done + 10} "
                      f"(or as many as you want)")
            return 0
        previous = {s: signal.signal(s, self._on_interrupt) for s in STOP_SIGNALS}
        try:
            self._header()
            if owed:
                self._test_point(watch=False)      # its --watch record was saved before the test failed
            while self.epoch <= self.o["epochs"]:
                self._train_epoch()
                if self._stop_requested:
                    self.echo(f"interrupted ({_signal_name(self._stop_requested)}): saved {self.latest} at {self._label()}; "
                              f"continue with --load {self.latest}")
                    return 128 + self._stop_requested
            return 0
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.folder.release()

    def _train_epoch(self):
        stream = TrainStream(self.data.provider, self.data.train, self.data.augmentation, self.o["mini"],
                             self.o["seed"], self.epoch, start=self.batch)
        try:
            for k, batch in self._each_minibatch(stream):
                self._train_step(batch, k, stream.batches_done(k))
                self._progress(k + 1, len(stream))
                last = self.epoch == self.o["epochs"] and k == len(stream) - 1
                self.batch = k + 1
                if self.batch == len(stream):
                    self.epoch, self.batch = self.epoch + 1, 0
                # every --test-freq steps, or at the end of each epoch (by position, not by step: a run
                # resumed with another --mini has other steps per epoch)
                every = self.o["test_freq"]
                if (self.step % every == 0 if every else self.batch == 0) or last:
                    self._test_point()
                elif self._stop_requested or self._save_due():
                    self._save()
                if self._stop_requested:
                    return
        finally:
            self._clear_progress()              # the next epoch's bar is its own
            stream.close()

    def _save_due(self):
        """--save-freq N: a checkpoint every N minibatches between test points (on ImageNet an epoch, hours,
        apart), which resumes exactly as one of a test point: the training costs since the last test point
        are in it."""
        every = self.o.get("save_freq")
        return bool(every) and self.step % every == 0

    def _each_minibatch(self, stream):
        """The stream's minibatches; a training batch that cannot be read (damaged, removed) stops the run
        after saving what trained since the last checkpoint: on ImageNet a test point is an epoch apart."""
        try:
            yield from stream
        except DataError as e:
            if self.step == self._saved_step:
                raise DataError(f"{e}. The run stopped at {self._label()}, where {self.latest} resumes it"
                                if os.path.exists(self.latest) else str(e)) from None
            self._save()
            raise DataError(f"{e}. The run stopped at {self._label()}, saved in {self.latest}: once the batch is "
                            f"mended, continue with --load {self.latest}") from None

    def _train_step(self, batch, k, batches_done):
        n = batch[1].shape[1]
        where = f"{self.epoch}.{k + 1} (step {self.step + 1})"
        with np.errstate(all="ignore"):        # a diverging run is reported below, in one line
            self.net.forward(batch, train=True, step=self.step, read_costs=False)
        self.tally.add(where)
        if not self.net.backend.gpu_path:      # a host read costs nothing here: a NaN stops the run at once
            self._read_tally()
        with np.errstate(all="ignore"):
            # Each output goes as soon as the backward is past it (the step's peak memory); --watch
            # reads them after the step.
            self.net.backward(release=not self.o.get("watch"))
        # As the 2012 code (convnet.py): the data batches trained before this one, over all of the run's.
        per_epoch = len(self.data.train)
        self._progress_done = run_progress(self.epoch, batches_done, per_epoch, self.o["epochs"])
        self.solver.update(n, self._progress_done, self.step, every=self.o.get("wupdate_freq", 1))
        self.step += 1
        self.state["cases"] += n
        self._last_mini = n
        start, images = self._timer
        self._timer = (start, images + n)

    def _read_tally(self):
        """The training costs of the steps since the last read, each checked for NaN and summed. On a
        GPU they stay on the device until a test point or a save: a read waits for the GPU, which then
        could not run ahead of the host; on the CPU they are read after every step."""
        if not self.tally.steps:
            return
        for where, costs in self.tally.read():
            self._check_finite(np.concatenate(list(costs.values())), f"at minibatch {where}")
            if self.cost_layer is not None:
                self.state["cost"] += float(costs[self.cost_layer.name][0])
                self.state["errors"] += float(costs[self.cost_layer.name][1])
            else:           # the test cost of such a net is their sum too (evaluate)
                self.state["cost"] += sum(float(c[0]) for c in costs.values())

    def _check_finite(self, values, where):
        if not np.all(np.isfinite(values)):
            self._diverged(f"the cost became {values[~np.isfinite(values)][0]} {where}")

    # ---- test points ------------------------------------------------------------------------

    def _test_point(self, watch=True):
        start, images = self._timer
        rate = images / max(time.perf_counter() - start, 1e-9)
        self._clear_progress()
        self._read_tally()
        if self.o.get("watch") and watch:
            self._watch()
        try:
            with progress_of("testing", self.data) as self._bar:      # a Ctrl-C's line wipes it first
                result = evaluate(self.net, self.data, mini=self.o["mini"], on_batch=self._bar.advance)
        except DataError as e:     # the training since the last test point is kept, the test point owed
            self.state["test_owed"] = True
            self._save()
            raise DataError(f"{e}. The test point at {self._label()} could not be made; the training until there "
                            f"is saved in {self.latest}: once the batch is mended, --load {self.latest} makes the "
                            f"test point and goes on") from None
        s = self.state
        cases = max(s["cases"], 1)
        point = dict(epoch=self._epoch_float(),
                     step=self.step, train_cost=s["cost"] / cases,
                     train_error=s["errors"] / cases if self.cost_layer is not None else float("nan"),
                     test_cost=result["cost"], test_top1=_nan(result["top1_error"]),
                     test_topk=_nan(result["topk_error"]), lr_scale=self.solver.lr_scale)
        self.history.append(point)
        s.update(cost=0.0, errors=0, cases=0)
        measure = point[self._measure()[0]]
        # not finite: a run of a version that kept a net's NaN top-1 error when it had no cost.logreg
        improved = s["best"] is None or not math.isfinite(s["best"]) or measure < s["best"]
        if improved:
            s["best"], s["since_best"] = measure, 0
        else:
            s["since_best"] += 1
        if not math.isfinite(point["test_cost"]):
            self._diverged(f"the test cost became {point['test_cost']} at {self._label()}")
        self._save()
        if improved:
            copy_file(self.latest, self.best)
        self.echo(f"{self._label():>8} {point['train_cost']:>10.4f} {_percent(point['train_error'])} "
                  f"{point['test_cost']:>10.4f} {_percent(point['test_top1'])} {_percent(point['test_topk'])} "
                  f"{rate:>9.0f}" + ("   best" if improved else ""))
        self._plateau()
        self._timer = (time.perf_counter(), 0)

    def _watch(self):
        """--watch: inspect's statistics of the last training minibatch (its forward and backward are
        still in the net), kept with the test point."""
        watch = Watch(self.net)
        watch.observe(self.solver, self._last_mini, self._progress_done, self.step - 1)
        layers, params = watch.rows()
        self.watch.append(dict(epoch=self._epoch_float(), step=self.step, layers=layers, parameters=params))

    def _plateau(self):
        """--lr-plateau K: every rate divided by 10 when the test error has not improved for K test
        points, at most --lr-drops times: the paper's heuristic (section 5), automated."""
        s, k = self.state, self.o["lr_plateau"]
        if k and s["since_best"] >= k and s["drops"] < self.o["lr_drops"]:
            self.solver.lr_scale /= 10
            s["lr_scale"], s["since_best"], s["drops"] = self.solver.lr_scale, 0, s["drops"] + 1
            self.echo(f"{self._measure()[1]} has not improved for {k} test points: every learning rate divided by 10 "
                      f"(now x{self.solver.lr_scale:g}, drop {s['drops']} of {self.o['lr_drops']})")

    def _measure(self):
        """What best.h5 and --lr-plateau go by: the test top-1 error, or the test cost of a net with no
        error to count (no cost.logreg, cost.crossent or cost.msm)."""
        key = "test_top1" if self.cost_layer is not None else "test_cost"
        return key, MEASURES[key]

    def _keep_best_comparable(self):
        """A best kept in another measure than this run's is no best to beat: a checkpoint of a version
        that kept a cost.crossent net's best test cost, before its test error was counted."""
        measure = self._measure()[0]
        logreg = any(c.type == "cost.logreg" for c in self.net.graph.cost_layers)
        kept = self.state.setdefault("best_of", "test_top1" if logreg else "test_cost")   # before best_of was kept
        if kept != measure:
            if self.state["best"] is not None:
                note(f"best.h5 now goes by the {MEASURES[measure]}, not the {MEASURES[kept]}: the next test point "
                     f"is the best so far")
            self.state.update(best=None, since_best=0, best_of=measure)

    def save_start(self):
        """latest.h5 of the run before its first minibatch, and the folder released: `convnet import`'s
        run, whose arrays come from a cuda-convnet checkpoint."""
        try:
            self._save()
        finally:
            self.folder.release()

    def _save(self):
        """latest.h5, never with a NaN or an infinity in it: a checkpoint must be one to resume from."""
        self._read_tally()
        self.state["lr_scale"] = self.solver.lr_scale
        try:
            save(self.latest, self.net, (self.epoch, self.batch, self.step), self.configs, self.o,
                 self.state, self.history, self.watch)
            self._saved_step = self.step
        except NonFinite as e:
            self._diverged(f"{e} holds a NaN or an infinity at {self._label()}")
        except WriteError as e:
            kept = "the previous checkpoint is kept" if os.path.exists(self.latest) else "no checkpoint was written yet"
            raise WriteError(f"{e}; {kept}") from None

    def _diverged(self, what):
        if os.path.exists(self.latest):
            then = (f"the last good checkpoint is {self.latest}. Lower the learning rates (epsW, epsB) and "
                    f"resume from it")
        else:
            then = "no checkpoint was written yet. Lower the learning rates (epsW, epsB) and start again"
        raise DivergenceError(f"{what}: training stopped; {then}.")

    # ---- output -----------------------------------------------------------------------------

    def _epoch_float(self):
        """Epochs done: the position (epoch, next minibatch) as one number."""
        return self.epoch - 1 + self.batch / self._per_epoch()

    def _per_epoch(self):
        if not hasattr(self, "_minibatches"):
            mini = self.o["mini"]
            self._minibatches = sum(math.ceil(self.data.provider.batch_size(n) / mini) for n in self.data.train)
        return self._minibatches

    def _label(self):
        """epoch.minibatch, as cuda-convnet printed epoch.batch: the last minibatch trained."""
        if self.batch == 0:
            return f"{self.epoch - 1}.{self._per_epoch()}" if self.epoch > 1 else "0.0"
        return f"{self.epoch}.{self.batch}"

    def _header(self):
        o = self.o
        self.echo(f"training {self.configs[0]} on {self.data.describe()}")
        largest = max(self.data.provider.batch_size(n) for n in self.data.train)
        # a minibatch never spans two batches (cuda-convnet's DataProvider::getNumMinibatches)
        size = (o['mini'] if o['mini'] < largest
                else f"{largest} (whole batches: --mini {o['mini']} is more than a batch holds)")
        epochs = f"{o['epochs']} epoch{'s' if o['epochs'] != 1 else ''}"
        self.echo(f"{epochs} of {self._per_epoch()} minibatches of {size}, on {o['backend']}; "
                  f"checkpoints in {self.save_dir}")
        every, steps = o.get("wupdate_freq", 1), o["epochs"] * self._per_epoch()
        if every > steps:
            note(f"--wupdate-freq {every} is more than the run's {steps} minibatches: its weights will not move "
                 f"(an update comes every {every} minibatches)")
        others = [f"[{c.name}]" for c in self.net.graph.cost_layers if c is not self.cost_layer]
        if self.cost_layer is not None and others:
            note(f"the line's cost and errors are [{self.cost_layer.name}]'s; {', '.join(others)} "
                 f"train{'s' * (len(others) == 1)} the net too, by {'its' if len(others) == 1 else 'their'} coeff, "
                 f"and {'is' if len(others) == 1 else 'are'} not in it (convnet inspect gives each cost layer's cost "
                 f"per image)")
        elif len(others) > 1:
            note(f"the line's cost is the sum of {', '.join(others)}'s (without coeff); convnet inspect gives each "
                 f"one's cost per image")
        k = topk_of(self.cost_layer) or "k"         # a net that counts no top-k error (n/a): no k to name
        self.echo(f"{'epoch':>8} {'train cost':>10} {'train err':>10} {'test cost':>10} {'top-1 err':>10} "
                  f"{f'top-{k} err':>10} {'images/s':>9}")

    def _progress(self, done, total):
        """The epoch's minibatches done, at the training's images/s since the last test point."""
        label = f"epoch {self.epoch}"
        if self._bar is None or (self._bar.label, self._bar.total) != (label, total):   # not a test point's
            self._bar = Progress(label, total)
        start, images = self._timer
        self._bar.show(done, rate=images / max(time.perf_counter() - start, 1e-9))

    def _clear_progress(self):
        if self._bar is not None:
            self._bar.clear()
            self._bar = None

    def _on_interrupt(self, signum, frame):
        if self._stop_requested:          # a second signal: stop now, without saving
            raise KeyboardInterrupt
        self._stop_requested = signum
        self._clear_progress()
        self.echo(f"{_signal_name(signum)}: finishing this minibatch, then saving "
                  f"({'Ctrl-C' if signum == signal.SIGINT else 'a second signal'} again to quit without saving)")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _signal_name(signum):
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


MEASURES = {"test_top1": "test error", "test_cost": "test cost"}   # what best.h5 can go by


def _nan(value):
    return float("nan") if value is None else float(value)


def _percent(error):
    """An error column of the line: n/a, as convnet test says it, where the net counts none (no
    classifying layer; a cost.crossent's top-k): NaN in the history, but a 'nan%' read as a broken run."""
    return f"{100 * error:>9.2f}%" if math.isfinite(error) else f"{'n/a':>10}"


def _count(n, noun, plural=None):
    """"1 epoch", "2 epochs"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
