"""CIFAR-10's and CIFAR-100's binary versions (cifar-10-batches-bin, cifar-100-binary), the downloads
offered "for C programs" beside the python ones, read by the cifar provider as they are.

A file is a run of records, one an image: its label byte (CIFAR-100: the coarse label's, then the fine
label's), then its 3072 pixels, the red plane, the green, the blue, each 32 rows of 32: the channel,
row, column order of the engine. CIFAR-10's are data_batch_1.bin ... data_batch_5.bin and
test_batch.bin, read as batches 1-5 and 6 as its python version is, with a class name a line in
batches.meta.txt; CIFAR-100's are train.bin and test.bin, batches 1 and 2, read with their fine
labels and fine_label_names.txt, as its python version is.
"""
import os
import re
from dataclasses import dataclass

import numpy as np

from convnet.errors import DataError
from convnet.files import describe

IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32


@dataclass
class Layout:
    name: str             # "CIFAR-10" or "CIFAR-100"
    files: dict           # {batch number: file name}
    names_file: str       # the class names, one a line
    label_bytes: int      # label bytes at the start of a record
    label_at: int         # which of them is the label read


def layout(path):
    """The Layout of a folder of either binary version, or None."""
    names = set(os.listdir(path))
    if {"train.bin", "test.bin"} <= names:
        return Layout("CIFAR-100", {1: "train.bin", 2: "test.bin"}, "fine_label_names.txt", 2, 1)
    files = {int(m.group(1)): n for n in names if (m := re.fullmatch(r"data_batch_(\d+)\.bin", n))}
    if not files:
        return None
    if "test_batch.bin" in names:
        files[max(files) + 1] = "test_batch.bin"
    return Layout("CIFAR-10", files, "batches.meta.txt", 1, 0)


def label_names(path, layout):
    """The class names, or [] where their file is not there (the labels are then the classes' numbers)."""
    file = os.path.join(path, layout.names_file)
    try:
        with open(file, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{file}: cannot read it ({describe(e)})") from None


def read(file, layout):
    """(data (3072, images) uint8, one image a column; labels (images,) int64) of one file."""
    try:
        raw = np.fromfile(file, np.uint8)
    except FileNotFoundError:
        raise DataError(f"{file}: no such file") from None
    except OSError as e:
        raise DataError(f"{file}: cannot read it ({describe(e)})") from None
    size = layout.label_bytes + PIXELS
    if raw.size % size:
        labels = "a label byte" if layout.label_bytes == 1 else f"{layout.label_bytes} label bytes"
        raise DataError(f"{file}: {raw.size} bytes is not a whole number of {layout.name} records ({size} bytes: "
                        f"{labels} and {PIXELS} pixels); the file is cut short or not {layout.name}'s binary version")
    records = raw.reshape(-1, size)
    return records[:, layout.label_bytes:].T, records[:, layout.label_at].astype(np.int64)
