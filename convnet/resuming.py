"""Resuming a run: the folder it goes on in and the place in the epoch where it goes on.

A run resumes in its own folder (never over another run's checkpoints), keeps the checkpoints of
training it goes back behind, and goes on at the minibatch of its epoch that follows the images it
had trained, whatever --mini or --train-range it is resumed with.
"""
import os

import numpy as np

from .errors import OptionError
from .files import copy_file, read_hdf5
from .notes import note
from convnet.data.loader import epoch_plan


def refuse_another_run(folder, checkpoint):
    """A run writes its checkpoints into a folder that holds none, or resumes the run whose folder it
    is: a new run (or one resumed from elsewhere) in the folder of another would overwrite its
    latest.h5 and best.h5 at the first test point, days of training perhaps."""
    latest = folder.file("latest.h5")
    if not os.path.exists(latest):
        return
    if checkpoint is not None and os.path.samefile(os.path.dirname(os.path.abspath(checkpoint.path)),
                                                   folder.path):
        return
    raise OptionError(f"{folder.path} already holds a run ({latest}); resume it with --load {latest}, or give "
                      f"this run its own --save-path")


def keep_later_checkpoints(folder, checkpoint):
    """Resuming a folder's run from a checkpoint behind its latest.h5 (best.h5, an older copy): the
    first test point replaces latest.h5, and with it the training done after the checkpoint, and the
    first one better than the checkpoint's best replaces a best.h5 of later training, perhaps better
    still. Each is kept first, under a name that says its step (a hard link where it can be)."""
    if checkpoint is None:
        return
    for name in ("latest", "best"):
        path = folder.file(f"{name}.h5")
        if not os.path.exists(path) or os.path.samefile(path, checkpoint.path):
            continue
        try:
            with read_hdf5(path) as f:
                step = int(f.attrs["step"])
        except Exception:              # a damaged checkpoint holds nothing to keep
            continue
        if step <= checkpoint.step:
            continue
        kept = folder.file(f"{name}-step-{step}.h5")
        if not os.path.exists(kept):
            try:
                os.link(path, kept)
            except OSError:
                copy_file(path, kept)
        note(f"{checkpoint.path} is behind {path} (step {checkpoint.step}, not {step}): the run goes on from it, "
             f"and the later checkpoint is kept as {kept}")


# What makes an epoch's minibatches (epoch_plan): the data, the training range, the minibatch size, the order.
DATA_OPTIONS = ("data_provider", "data_path", "image_size")
PLAN_OPTIONS = DATA_OPTIONS + ("train_range", "mini", "augment", "seed")


def place_in_this_plan(checkpoint, data, options):
    """The minibatch of this run's epoch where a run stopped mid-epoch goes on. A position is an index
    into the epoch's minibatches, which another --mini or --train-range (or other data) makes
    others: there the run goes on after as many of the epoch's images as it had trained (the
    order of the images does not depend on --mini), at the minibatch that holds the next one."""
    if checkpoint.batch == 0:
        return 0
    old, ordered = checkpoint.options, getattr(data.augmentation, "ordered", False)
    plan = epoch_plan(data.provider, data.train, options["mini"], options["seed"], checkpoint.epoch, ordered)
    changed = [key for key in PLAN_OPTIONS if old.get(key) != options.get(key)]
    if not changed:
        if checkpoint.batch < len(plan):
            return checkpoint.batch
        note(f"{checkpoint.path} stopped after minibatch {checkpoint.batch} of epoch {checkpoint.epoch}, but the "
             f"epoch has {len(plan)} now (its data was made again): it goes on with the last")
        return len(plan) - 1
    done, k = 0, 0
    if not set(changed) & set(DATA_OPTIONS):
        p = data.provider
        train = p.parse_range(old["train_range"], "--train-range") if old.get("train_range") else \
            list(p.default_train_range)
        before = epoch_plan(p, train, old["mini"], old["seed"], checkpoint.epoch, old.get("augment") == "2012")
        done = sum(len(indices) for _, indices, _ in before[:checkpoint.batch])
        starts = np.cumsum([0] + [len(indices) for _, indices, _ in plan])
        k = min(int(np.searchsorted(starts, done, side="right")) - 1, len(plan) - 1)    # the one with image done
    where = f"it had trained {done} of the epoch's images" if done else "other data: from the epoch's start"
    note(f"{checkpoint.path} stopped after minibatch {checkpoint.batch} of epoch {checkpoint.epoch}; with "
         f"--{changed[0].replace('_', '-')} changed the epoch has other minibatches ({where}): it goes on with "
         f"minibatch {k + 1} of {len(plan)}")
    return k
