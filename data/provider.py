"""The provider interface: numbered batches of uint8 images with labels, the training mean image,
and the principal components of the training pixels' RGB colours."""
import os
import re
import zlib

import numpy as np

from convnet.errors import DataError, OptionError

from . import cifar_binary


def batch_checksum(images, labels):
    """CRC-32 of a batch's images and labels, as stored: written by make-data, checked at each read
    (4-6 GB/s here: 2-3% of what the loader does with a batch, its read and its augmentation;
    bench/results/2026-12-01-cpu-2cores-crc.md), so that a damaged disk or copy is an error
    and not images gone black in silence (HDF5 keeps no checksum of its own)."""
    crc = zlib.crc32(np.ascontiguousarray(images).data)
    return zlib.crc32(np.ascontiguousarray(labels).data, crc)


class Provider:
    name = None
    image_shape = None          # (channels, rows, cols) as stored
    images_first = False        # batches are (images, C, H, W) rather than the engine's (C, H, W, images)
    num_classes = 0
    label_names = ()
    class_tree = None           # (tree {node: [children]}, root), for treefc: the 2012 batches.meta's
    batch_numbers = ()
    default_train_range = default_test_range = ()
    unlabelled_batches = frozenset()   # batches whose images have no labels (label -1): ILSVRC's test images
    style_2012 = "cifar"        # which 2012 provider --augment 2012 follows: "cifar" or "imagenet"

    def data_info(self):
        """What some layers need from the provider (graph.load_graph's data_info)."""
        tree, root = self.class_tree or (None, None)
        return {"classes": self.num_classes, "tree": tree, "root": root, "need_tree": True}

    def read_batch(self, number):
        """(images uint8 (C, H, W, N), or (N, C, H, W) when images_first, labels int64 (N,))."""
        raise NotImplementedError

    def batch_size(self, number):
        return self.read_batch(number)[1].size

    def fingerprint(self, number):
        """A CRC-32 of batch `number`'s images and labels: kept in checkpoints, so that a batch made
        again with other images (or embedded data drawn otherwise) is noticed when the run goes on."""
        return batch_checksum(*self.read_batch(number))

    def mean_image(self, train_batches):
        """The mean training image, float32 (C, H, W): what the paper subtracts from every image."""
        key = ("mean", tuple(train_batches))
        if key not in self._stats:
            total, count = np.zeros(self.image_shape, dtype=np.float64), 0
            for n in train_batches:
                images, labels = self.read_batch(n)
                total += images.sum(axis=0 if self.images_first else 3, dtype=np.float64)
                count += labels.size
            self._stats[key] = (total / max(count, 1)).astype(np.float32)
        return self._stats[key]

    def color_pca(self, train_batches):
        """(stdevs (3,), vectors (3, 3)): the principal components of the RGB values of every
        training pixel, columns of `vectors`, and the standard deviation along each."""
        key = ("pca", tuple(train_batches))
        if key not in self._stats:
            if self.image_shape[0] != 3:
                raise DataError(f"colour noise needs RGB images; the {self.name} data has "
                                f"{self.image_shape[0]} channels")
            s, ss, count = np.zeros(3), np.zeros((3, 3)), 0
            for n in train_batches:
                images = self.read_batch(n)[0]
                pixels = (images.transpose(1, 0, 2, 3) if self.images_first else images).reshape(3, -1).astype(np.float64)
                s += pixels.sum(axis=1)
                ss += pixels @ pixels.T
                count += pixels.shape[1]
            mean = s / count
            cov = ss / count - np.outer(mean, mean)
            values, vectors = np.linalg.eigh(cov)
            order = np.argsort(values)[::-1]
            self._stats[key] = (np.sqrt(np.maximum(values[order], 0)).astype(np.float32),
                                vectors[:, order].astype(np.float32))
        return self._stats[key]

    @property
    def _stats(self):
        if "_stats_cache" not in self.__dict__:
            self.__dict__["_stats_cache"] = {}
        return self.__dict__["_stats_cache"]

    def parse_range(self, text, option):
        """'1-5' -> [1, 2, 3, 4, 5]; '6' -> [6]; '1-3,7' -> [1, 2, 3, 7]; checked against the batches."""
        numbers = []
        for part in str(text).split(","):
            m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if not m:
                raise OptionError(f"{option} {text!r}: expected batch numbers like 1-5 or 6 or 1-3,7")
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            if hi < lo:
                raise OptionError(f"{option} {text!r}: {lo}-{hi} is an empty range")
            numbers.extend(range(lo, hi + 1))
        missing = [n for n in numbers if n not in self.batch_numbers]
        if missing:
            raise OptionError(f"{option} {text}: batch {missing[0]} is not in the {self.name} data "
                            f"(it has {format_range(self.batch_numbers)})")
        return numbers


CIFAR100_FILES = ("train", "test", "meta")      # CIFAR-100's python download (cifar-100-python)


def not_a_folder(path):
    """Why --data-path is no folder to read: it does not exist, or it is a file (a batch, meta.h5, a
    .tar) where its folder was meant."""
    if os.path.exists(path):
        return DataError(f"{path}: is a file, not a folder: --data-path takes the folder of the batches")
    return DataError(f"{path}: no such folder")


def other_kind_of_folder(path, wanted):
    """What a data folder given to the wrong provider holds, as a hint ('' when it is none of ours)."""
    names = set(os.listdir(path))
    if wanted != "imagenet" and "meta.h5" in names:
        return "; it holds make-data's batches (meta.h5): give --data-provider imagenet"
    if wanted != "cifar" and "batches.meta" in names:
        return "; it holds cuda-convnet batch files (batches.meta): give --data-provider cifar"
    if wanted != "cifar" and set(CIFAR100_FILES) <= names:
        return "; it holds CIFAR-100's python download (train, test, meta): give --data-provider cifar"
    binary = cifar_binary.layout(path) if wanted != "cifar" else None
    if binary is not None:
        return f"; it holds {binary.name}'s binary version: give --data-provider cifar"
    if any(os.path.isdir(os.path.join(path, n)) for n in names):
        return ("; if it holds folders of images, make batches of them first: convnet make-data --images "
                f"{path} --out BATCHES")
    return ""


def format_range(numbers):
    numbers = sorted(numbers)
    if not numbers:
        return "no batches"
    parts, start = [], numbers[0]
    for a, b in zip(numbers, numbers[1:] + [None]):
        if b != a + 1:
            parts.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ",".join(parts)
