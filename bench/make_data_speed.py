"""make-data's images per second, per worker process, beside a plain single-process Pillow loop doing
the same resize (shorter side to 256, Lanczos) and centre crop; and the scaling with workers.

    python bench/make_data_speed.py [--images 480] [--workers 1,2] [--json]

The images are generated: photo-like JPEGs (smooth shapes, gradients and noise, quality 90) at the sizes
ILSVRC's training images mostly have (500x375, 500x333, 375x500, 500x500).
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
from PIL import Image

from convnet.data.make_data import make_data

SIZES = [(500, 375), (500, 333), (375, 500), (500, 500)]


def generate(root, n, classes=8, seed=0):
    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        folder = os.path.join(root, f"n{i % classes:08d}")
        os.makedirs(folder, exist_ok=True)
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h) + rng.uniform(0, 128)], axis=2)
        cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(0.1, 0.3) * min(w, h)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 8, img.shape)
        path = os.path.join(folder, f"{i}.JPEG")
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
        files.append(path)
    return files


def plain_loop(files, size=256):
    start = time.perf_counter()
    for path in files:
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            scale = size / min(w, h)
            new = (max(size, round(w * scale)), max(size, round(h * scale)))
            img = img.resize(new, Image.Resampling.LANCZOS)
            left, top = (new[0] - size) // 2, (new[1] - size) // 2
            np.asarray(img.crop((left, top, left + size, top + size)))
    return len(files) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=480)
    parser.add_argument("--workers", default=",".join(str(w) for w in sorted({1, os.cpu_count()})))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(os.path.join(tmp, "train"), args.images)
        plain_loop(files[:20])                       # warm the page cache and Pillow
        result = {"images": args.images, "cores": os.cpu_count(), "plain_pillow_loop": plain_loop(files), "make_data": {}}
        for workers in map(int, args.workers.split(",")):
            out = os.path.join(tmp, f"out{workers}")
            start = time.perf_counter()
            make_data(os.path.join(tmp, "train"), out, workers=workers, batch_size=128, echo=lambda *_: None)
            rate = args.images / (time.perf_counter() - start)
            result["make_data"][workers] = {"images_per_s": rate, "per_worker": rate / workers}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.images} generated JPEGs, {result['cores']} cores")
    print(f"plain single-process Pillow loop (open, RGB, resize, crop): {result['plain_pillow_loop']:.0f} images/s")
    for workers, r in result["make_data"].items():
        print(f"make-data, {workers} worker(s): {r['images_per_s']:.0f} images/s, {r['per_worker']:.0f} per worker "
              f"(whole run: decoding, HDF5 batches, statistics)")


if __name__ == "__main__":
    main()
