"""What the CRC-32 of a make-data batch costs at each read, beside what the loader does with the batch:
one batch of 1,024 images of 256x256 (make-data's default), read from the page cache, its checksum,
and the paper's augmentation of its images (224 crops, reflections, PCA colour noise), each the
median of 5.

    python bench/batch_checksum.py [--images 1024] [--json]
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

from convnet.data.augment import Augmentation
from convnet.data.provider import batch_checksum
from convnet.files import read_hdf5, write_hdf5


def median_time(f, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 3, 256, 256), dtype=np.uint8)
    labels = rng.integers(0, 1000, args.images).astype(np.int32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data_batch_1.h5")

        def fill(f):
            f["images"], f["labels"] = images, labels
        write_hdf5(path, fill)

        def read():
            with read_hdf5(path) as f:
                return f["images"][()], f["labels"][()]
        read_s = median_time(read)
    crc_s = median_time(lambda: batch_checksum(images, labels))
    pca = (np.ones(3, np.float32), np.eye(3, dtype=np.float32))
    aug = Augmentation(images.mean(axis=0).astype(np.float32), crop=224, color_noise=0.1, pca=pca,
                       images_first=True)
    augment_s = median_time(lambda: aug.train(images, np.random.default_rng(1)))
    result = {"images": args.images, "bytes": images.nbytes, "read_s": read_s, "crc32_s": crc_s,
              "crc32_gb_per_s": images.nbytes / crc_s / 1e9, "augment_s": augment_s,
              "crc32_share_of_read_and_augment": crc_s / (read_s + augment_s)}
    print(json.dumps(result, indent=2) if args.json else
          f"{args.images} images of 256x256: read {1000 * read_s:.0f} ms, CRC-32 {1000 * crc_s:.0f} ms "
          f"({result['crc32_gb_per_s']:.1f} GB/s), augmentation {1000 * augment_s:.0f} ms: the checksum adds "
          f"{100 * result['crc32_share_of_read_and_augment']:.1f}% to the read and the augmentation")


if __name__ == "__main__":
    main()
