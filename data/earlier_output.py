"""What an --out folder holds before make-data writes there, and what this make-data may replace.

A rerun of the same command after a crash finds its own finished batches (their digests match) and
continues. Anything else it would replace is someone's work: another make-data's batches (a finished
ImageNet is hours of decoding), or a user's own files under make-data's names. A user's file is never
replaced; an earlier make-data's batches only with --overwrite.
"""
import json
import os
import re

from convnet.errors import DataError
from convnet.files import read_hdf5

BATCH_NAME = re.compile(r"data_batch_(\d+)\.h5")
REPORT_HEAD = re.compile(r"\d+ images found, \d+ written, \d+ skipped, \d+ converted")


def batch_state(path, expected_digest):
    """'missing', 'done' (this make-data's, whole), 'damaged' (not readable as HDF5: remade), 'earlier'
    (a make-data batch of other images or options) or 'foreign' (an HDF5 file that make-data did not write)."""
    if not os.path.lexists(path):
        return "missing"
    try:
        with read_hdf5(path) as f:
            if f.attrs.get("digest") == expected_digest and "images" in f:
                return "done"
            return "earlier" if _is_batch(f) else "foreign"
    except OSError:
        return "damaged"


def _is_batch(f):
    return "digest" in f.attrs and "split" in f.attrs


def earlier_batches_beyond(out, count):
    """The data_batch_N.h5 in out with N > count that an earlier make-data wrote, in number order."""
    numbers = sorted(int(m.group(1)) for m in map(BATCH_NAME.fullmatch, os.listdir(out)) if m and int(m.group(1)) > count)
    return [f"data_batch_{n}.h5" for n in numbers if made_here(os.path.join(out, f"data_batch_{n}.h5"))]


def made_here(path):
    """Whether path is a batch of make-data's (its digest and split): no other file is ever removed."""
    try:
        with read_hdf5(path) as f:
            return _is_batch(f)
    except OSError:
        return False


def check_nothing_foreign(out, states):
    """A user's own file where make-data writes: refused before anything is written."""
    for name, state in states.items():
        if state == "foreign":
            raise DataError(f"{os.path.join(out, name)}: an HDF5 file that make-data did not write (it has no "
                            f"batch digest), where this make-data writes a batch: move it, or give another --out")
    meta = os.path.join(out, "meta.h5")
    if os.path.isfile(meta):
        try:
            with read_hdf5(meta) as f:
                ours = "class_names" in f and "batch_sizes" in f
        except OSError:
            ours = True              # a damaged meta.h5 of make-data's: it is written again last
        if not ours:
            raise DataError(f"{meta}: an HDF5 file that is not make-data's meta.h5, which make-data writes there: "
                            f"move it, or give another --out")
    report = os.path.join(out, "report.txt")
    if os.path.lexists(report):
        try:
            with open(report, encoding="utf-8") as f:
                ours = REPORT_HEAD.fullmatch(f.readline().rstrip("\n")) is not None
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise DataError(f"{report}: not a make-data report, which make-data writes there: move it, or give "
                            f"another --out")


def check_overwrite(out, states, extra, batches, size, overwrite):
    """Without --overwrite, refuse to replace or remove the batches of an earlier make-data with other
    images or options. batches: this make-data's plan, [(number, split, files)]."""
    replaced = [name for name, state in states.items() if state == "earlier"]
    if overwrite or not (replaced or extra):
        return
    what = " and ".join(part for part in (f"replace {len(replaced)}" if replaced else "",
                                          f"remove {len(extra)}" if extra else "") if part)
    theirs = _batches_of(out, (replaced + extra)[0])
    ours = _describe(len(batches), len(batches[0][2]), size)
    raise DataError(f"{out}: holds the batches of an earlier make-data with other images or options (there: {theirs}; "
                    f"this one: {ours}), of which this one would {what}: give --overwrite for that, or another "
                    f"--out")


def _batches_of(out, example):
    """The earlier make-data's batches in a few words, from what its files say of themselves."""
    numbers = [int(m.group(1)) for m in map(BATCH_NAME.fullmatch, os.listdir(out)) if m]
    count = max(n for n in numbers if made_here(os.path.join(out, f"data_batch_{n}.h5")))
    with read_hdf5(os.path.join(out, example)) as f:
        size = int(f.attrs.get("size", 0))
    first = os.path.join(out, "data_batch_1.h5")
    if not made_here(first):
        return f"{count} batches of {size}x{size} images"
    with read_hdf5(first) as f:
        files = int(f["labels"].shape[0]) + len(json.loads(f.attrs["skipped"]))
    return _describe(count, files, size)


def _describe(count, first, size):
    return f"{count} batch{'es' * (count != 1)} of {size}x{size} images, {first} in the first"
