"""cuda-convnet's batch files, as cifar-10-py-colmajor has them, and CIFAR-10's and CIFAR-100's own
python downloads.

A folder of `data_batch_N` pickles, each a dict with 'data' (num_vis x images, uint8, one image a
column in channel, row, col order: the engine's layout already) and 'labels'; and `batches.meta`
with 'data_mean' (num_vis x 1), 'label_names' and 'num_vis', and for treefc the class tree as the
2012 providers wrote it ('tree': {node: [children]}, 'all_wnids': {'gproot': root}). cuda-convnet
wrote them with Python 2: they are read with encoding latin1, and by an unpickler that only builds
NumPy arrays and plain containers, so a data file cannot run code.

CIFAR-10's python version (cifar-10-batches-py, what torchvision downloads) holds the same pixels one
image a row (images x num_vis), no data_mean (the mean of the training range is computed), and its
test set as `test_batch`: read as the batch after the last data_batch_N (6), which is where
cifar-10-py-colmajor has it, so that the default ranges are the standard split either way.
CIFAR-100's (cifar-100-python) holds `train` and `test`, one batch each, read as batches 1 and 2,
with the 100 fine labels ('fine_labels', names from `meta`'s 'fine_label_names'). Their binary
versions read the same way (cifar_binary.py).
"""
import math
import os
import pickle
import re
import threading

import numpy as np

from convnet.errors import DataError
from convnet.files import describe
from convnet.safe_pickle import SafeUnpickler

from . import cifar_binary, register_provider
from .provider import CIFAR100_FILES, Provider, not_a_folder, other_kind_of_folder


def unpickle(path):
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f).load()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({describe(e)})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise DataError(f"{path}: not a readable cuda-convnet batch file ({e})") from None


def _is_cifar100(path):
    """CIFAR-100's python download (cifar-100-python): train, test and meta, no batches.meta."""
    return not os.path.exists(os.path.join(path, "batches.meta")) and \
        all(os.path.isfile(os.path.join(path, n)) for n in CIFAR100_FILES)


def _cifar_folder_inside(path):
    """A folder in path that the cifar provider reads (torchvision's root holds cifar-10-batches-py), or None."""
    for name in sorted(os.listdir(path)):
        inner = os.path.join(path, name)
        try:
            if os.path.isdir(inner) and (os.path.exists(os.path.join(inner, "batches.meta")) or _is_cifar100(inner)
                                         or cifar_binary.layout(inner) is not None):
                return inner
        except OSError:          # a folder that cannot be listed is none of these
            continue
    return None


@register_provider("cifar")
class CifarProvider(Provider):
    """Options: channels (3)."""

    def __init__(self, path=None, channels=3, **_):
        if path is None:
            raise DataError("the cifar provider reads a folder of data_batch_N files: give --data-path")
        if not os.path.isdir(path):
            raise not_a_folder(path)
        self.path = path
        self._label_key, self._binary = "labels", None
        if _is_cifar100(path):
            self._read_cifar100(path)
            return
        if not os.path.exists(os.path.join(path, "batches.meta")):
            binary = cifar_binary.layout(path)
            if binary is not None:
                self._read_binary(path, binary)
                return
            inside = _cifar_folder_inside(path)
            hint = f"; give --data-path {inside}, the folder the download unpacked" if inside else \
                other_kind_of_folder(path, "cifar")
            raise DataError(f"{os.path.join(path, 'batches.meta')}: no such file{hint}")
        meta = unpickle(os.path.join(path, "batches.meta"))
        if not isinstance(meta, dict) or "num_vis" not in meta:
            raise DataError(f"{os.path.join(path, 'batches.meta')}: has no num_vis")
        meta_path = os.path.join(path, "batches.meta")
        try:
            num_vis = int(meta["num_vis"])
        except (TypeError, ValueError):
            raise DataError(f"{meta_path}: num_vis must be a number, got {meta['num_vis']!r}"[:300]) from None
        side = math.isqrt(max(num_vis, 0) // channels)
        if num_vis <= 0 or channels * side * side != num_vis:
            raise DataError(f"{path}: num_vis {num_vis} is not {channels}-channel square images")
        self.image_shape = (channels, side, side)
        self.label_names = [str(n) for n in meta.get("label_names", [])]
        self.num_classes = len(self.label_names)
        tree, wnids = meta.get("tree"), meta.get("all_wnids")
        if tree is not None:             # for treefc, as the 2012 providers gave it
            try:
                self.class_tree = ({int(k): [int(c) for c in v] for k, v in dict(tree).items()}, int(wnids["gproot"]))
            except (TypeError, ValueError, KeyError, AttributeError):
                raise DataError(f"{os.path.join(path, 'batches.meta')}: 'tree' must map nodes to lists of children, "
                                f"with the root in 'all_wnids'['gproot']") from None
        mean = meta.get("data_mean")
        try:
            self._mean = None if mean is None else np.asarray(mean, dtype=np.float32).reshape(self.image_shape)
        except (TypeError, ValueError):
            size = np.size(mean) if isinstance(mean, (np.ndarray, list, tuple)) else "not an array"
            raise DataError(f"{meta_path}: data_mean must hold {num_vis} values (num_vis), it holds {size}") from None
        self._files = {int(m.group(1)): f for f in os.listdir(path)
                       if (m := re.fullmatch(r"data_batch_(\d+)", f))}
        if not self._files:
            raise DataError(f"{path}: no data_batch_N files")
        self.test_batch = None
        if os.path.isfile(os.path.join(path, "test_batch")):      # CIFAR-10's python version
            self.test_batch = max(self._files) + 1
            self._files[self.test_batch] = "test_batch"
        self._number_batches()

    def _read_cifar100(self, path):
        """CIFAR-100's python download: `train` is batch 1 and `test` batch 2, with its 100 fine labels."""
        meta = unpickle(os.path.join(path, "meta"))
        names = meta.get("fine_label_names") if isinstance(meta, dict) else None
        if not names:
            raise DataError(f"{os.path.join(path, 'meta')}: has no fine_label_names (CIFAR-100's meta file)")
        self.image_shape, self.label_names = (3, 32, 32), [str(n) for n in names]
        self.num_classes, self._label_key, self._mean = len(self.label_names), "fine_labels", None
        self._files, self.test_batch = {1: "train", 2: "test"}, None
        self._number_batches()

    def _read_binary(self, path, layout):
        """CIFAR-10's or CIFAR-100's binary version: batches as their python versions number them."""
        self._binary, self._mean = layout, None
        self.image_shape, self.label_names = cifar_binary.IMAGE_SHAPE, cifar_binary.label_names(path, layout)
        self.num_classes, self._files = len(self.label_names), layout.files
        self._number_batches()

    def _number_batches(self):
        """The batches of self._files: by default the last is the test range and the others train."""
        self.batch_numbers = sorted(self._files)
        self.default_train_range = self.batch_numbers[:-1] or self.batch_numbers
        self.default_test_range = self.batch_numbers[-1:]
        self._cache, self._lock = {}, threading.Lock()

    def describe(self):
        if self._binary is not None:
            batches = ", ".join(f"{n} as batch {k}" for k, n in sorted(self._files.items())
                                if n in ("train.bin", "test.bin", "test_batch.bin"))
            return f"{self._binary.name}'s binary version in {self.path}" + (f" ({batches})" if batches else "")
        if self._label_key == "fine_labels":
            return f"CIFAR-100 in {self.path} (train as batch 1, test as batch 2, the 100 fine labels)"
        test = f" (its test_batch as batch {self.test_batch})" if self.test_batch else ""
        return f"cuda-convnet batches in {self.path}{test}"

    def read_batch(self, number):
        with self._lock:
            if number not in self._cache:
                self._cache[number] = self._load(number)
            return self._cache[number]

    def _load(self, number):
        path = os.path.join(self.path, self._files.get(number, f"data_batch_{number}"))
        data, labels = cifar_binary.read(path, self._binary) if self._binary else self._unpickled(path)
        size = int(np.prod(self.image_shape))
        if data.ndim == 2 and data.shape == (labels.size, size) != (size, labels.size):
            data = data.T                # one image a row, as CIFAR-10's python version has them
        if data.ndim != 2 or data.shape[0] != size or data.shape[1] != labels.size:
            raise DataError(f"{path}: data is {data.shape}, expected ({size}, {labels.size}) "
                            f"for {labels.size} labels")
        if data.dtype != np.uint8:
            if data.dtype.kind not in "ui" or (data.size and (data.min() < 0 or data.max() > 255)):
                raise DataError(f"{path}: data is {data.dtype}; cuda-convnet batches hold pixels as uint8 (0..255)")
        if labels.size and (labels.min() < 0 or (self.num_classes and labels.max() >= self.num_classes)):
            raise DataError(f"{path}: labels must lie in 0..{self.num_classes - 1}")
        self.num_classes = max(self.num_classes, int(labels.max()) + 1 if labels.size else 0)
        return np.ascontiguousarray(data, dtype=np.uint8).reshape(self.image_shape + (labels.size,)), labels

    def _unpickled(self, path):
        batch = unpickle(path)
        try:
            return np.asarray(batch["data"]), np.asarray(batch[self._label_key], dtype=np.int64).reshape(-1)
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: needs 'data' and '{self._label_key}'") from None

    def mean_image(self, train_batches):
        """batches.meta's data_mean, as cuda-convnet subtracted it; else computed."""
        return self._mean if self._mean is not None else super().mean_image(train_batches)
