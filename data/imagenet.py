"""imagenet: the HDF5 batches that `convnet make-data` writes (see make_data.py for the format).

Batches 1..T are the training images, T+1.. the validation images, and after them the unlabelled
test images where make-data had --test-images (meta.h5's test_batches; labels -1, which only
`convnet test --submission/--predictions` and `convnet features` read); the mean image and the colour
principal components come from meta.h5. Training takes random crops of 7/8 of the size (224 of 256,
as the paper) unless --crop says otherwise. Batches are read whole, images first (n, 3, S, S), by the
loader's threads, and the last three are kept.
"""
import os
import re
import threading
from collections import OrderedDict

import numpy as np

from convnet.errors import DataError
from convnet.files import read_hdf5

from . import register_provider
from .provider import Provider, batch_checksum, not_a_folder, other_kind_of_folder


@register_provider("imagenet")
class ImagenetProvider(Provider):
    images_first = True
    style_2012 = "imagenet"

    def __init__(self, path=None, **_):
        if path is None:
            raise DataError("the imagenet provider reads what convnet make-data wrote: give --data-path")
        if not os.path.isdir(path):
            raise not_a_folder(path)
        meta = os.path.join(path, "meta.h5")
        if not os.path.exists(meta):
            hint = other_kind_of_folder(path, "imagenet")
            if hint or not any(re.fullmatch(r"data_batch_\d+\.h5", n) for n in os.listdir(path)):
                raise DataError(f"{path}: no meta.h5: not an output of convnet make-data{hint}")
            raise DataError(f"{path}: no meta.h5: make-data has not finished there (run it again to continue)")
        try:
            with read_hdf5(meta) as f:
                self.label_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["class_names"][()]]
                self._mean = f["mean"][()].astype(np.float32)
                values, vectors = f["eigenvalues"][()], f["eigenvectors"][()]
                sizes = f["batch_sizes"][()]
                train, val = list(map(int, f["train_batches"][()])), list(map(int, f["val_batches"][()]))
                test = list(map(int, f["test_batches"][()])) if "test_batches" in f else []   # older metas: none
        except (OSError, KeyError) as e:
            raise DataError(f"{meta}: unreadable ({str(e).splitlines()[0]})") from None
        self.path = path
        self.image_shape = tuple(self._mean.shape)
        self.num_classes = len(self.label_names)
        self._pca = (np.sqrt(np.maximum(values, 0)).astype(np.float32), vectors.astype(np.float32))
        self.batch_numbers = train + val + test
        self.unlabelled_batches = frozenset(test)
        self._sizes = dict(zip(self.batch_numbers, map(int, sizes)))
        self.default_train_range = train
        self.default_test_range = val or train[-1:]
        self.default_crop = self.image_shape[1] * 7 // 8
        self._cache, self._lock = OrderedDict(), threading.Lock()

    def describe(self):
        return f"ImageNet batches in {self.path}, {self.image_shape[1]}x{self.image_shape[2]}"

    def batch_size(self, number):
        return self._sizes[number]

    def fingerprint(self, number):
        """make-data's own CRC-32 of the batch, read without its images (batches made before it: computed)."""
        try:
            with read_hdf5(os.path.join(self.path, f"data_batch_{number}.h5")) as f:
                crc = f.attrs.get("crc32")
        except Exception:             # unreadable: read_batch says how
            crc = None
        return int(crc) if crc is not None else super().fingerprint(number)

    def read_batch(self, number):
        """(images uint8 (n, 3, S, S), labels int64 (n,)). One read at a time: h5py serializes them anyway,
        and a batch that several loader threads want is read once."""
        with self._lock:
            if number in self._cache:
                self._cache.move_to_end(number)
                return self._cache[number]
            path = os.path.join(self.path, f"data_batch_{number}.h5")
            try:
                with read_hdf5(path) as f:
                    batch, attrs = (f["images"][()], f["labels"][()]), dict(f.attrs)
            except Exception as e:           # h5py's errors on damaged files are of many kinds
                raise DataError(f"{path}: unreadable ({(str(e).splitlines() or [type(e).__name__])[0]}); "
                                f"run make-data again to remake it") from None
            if "crc32" in attrs and batch_checksum(*batch) != int(attrs["crc32"]):
                raise DataError(f"{path}: corrupt: its images or labels do not match the CRC-32 make-data wrote "
                                f"with them (a damaged disk or copy); remove it and run make-data again to "
                                f"remake it")
            expected = (self._sizes[number],) + self.image_shape
            if batch[0].shape != expected or batch[0].dtype != np.uint8:
                raise DataError(f"{path}: holds {batch[0].dtype} {batch[0].shape}, meta.h5 says uint8 {expected}")
            batch = batch[0], batch[1].astype(np.int64)
            labels = batch[1]
            if number in self.unlabelled_batches:
                if labels.shape != (expected[0],) or (labels != -1).any():
                    raise DataError(f"{path}: a test batch's labels must be {expected[0]} times -1 (no label); "
                                    f"run make-data again to remake it")
            elif labels.shape != (expected[0],) or (labels.size and (labels.min() < 0 or labels.max() >= self.num_classes)):
                raise DataError(f"{path}: its labels must be {expected[0]} class numbers in 0..{self.num_classes - 1}; "
                                f"run make-data again to remake it")
            self._cache[number] = batch
            while len(self._cache) > 3:
                self._cache.popitem(last=False)
            return batch

    def mean_image(self, train_batches):
        return self._mean

    def color_pca(self, train_batches):
        return self._pca
