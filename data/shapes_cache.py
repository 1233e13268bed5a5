"""A disk cache of the embedded shapes' batches: drawing one takes 0.4 s (a batch of 2000 at 32x32), and
every command on the embedded data (train, test, show, inspect, each test of the suite) drew its
batches again. A batch is kept as it was drawn, in the folder of the compiled kernels
($CONVNET_CACHE, default ~/.cache/convnet) under shapes/, named by the image size, the batch number
and a digest of the generator's source and NumPy's version: another generator or another NumPy, which
may draw other numbers, never reads them.

The cache can only save time: a file that cannot be written is not kept, and one that does not read
back whole (its CRC-32 stored beside the pixels) is drawn again and replaced.
"""
import hashlib
import io
import os
import zlib

import numpy as np

_KEY = None


def folder():
    from convnet.native_build import cache_dir
    return os.path.join(cache_dir(), "shapes")


def _key():
    global _KEY
    if _KEY is None:
        from . import default
        with open(default.__file__, "rb") as f:
            _KEY = hashlib.sha256(f.read() + np.__version__.encode()).hexdigest()[:16]
    return _KEY


def path(number, size):
    return os.path.join(folder(), f"{size}px-batch{number}-{_key()}.npz")


def load(number, size, count):
    """(images, labels) kept for this batch, or None (not kept, another shape, damaged)."""
    file = path(number, size)
    if not os.path.isfile(file):
        return None
    try:
        with np.load(file) as kept:
            images, labels, crc = kept["images"], kept["labels"], int(kept["crc"])
    except Exception:                 # unreadable, truncated, not ours: drawn again
        return None
    if (images.shape != (3, size, size, count) or images.dtype != np.uint8 or labels.shape != (count,)
            or crc != zlib.crc32(images.tobytes()) ^ zlib.crc32(labels.tobytes())):
        return None
    return images, labels.astype(np.int64)


def keep(number, size, images, labels):
    """Write the batch for later commands; nothing when it cannot be written (a read-only or full disk)."""
    from convnet.files import WriteError, write_buffer
    file = path(number, size)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels, crc=zlib.crc32(images.tobytes()) ^ zlib.crc32(labels.tobytes()))
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        write_buffer(file, buffer)
    except (OSError, WriteError):
        pass
