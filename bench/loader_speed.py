"""The imagenet provider's training minibatches per second with the paper's augmentation (random 224
crops of 256, reflections, PCA colour noise), as the trainer's background loader makes them.

    python bench/loader_speed.py [--images 2048] [--mini 128] [--json]

Compare with the images per second that `convnet bench` reports for the paper's net on a GPU: the
loader must keep ahead of it.
"""
import argparse
import json
import os
import tempfile
import time

from convnet.data import get_provider
from convnet.data.augment import Augmentation
from convnet.data.loader import TrainStream
from convnet.data.make_data import make_data

from make_data_speed import generate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--mini", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="loader threads (default: the trainer's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(os.path.join(tmp, "train"), args.images)
        make_data(os.path.join(tmp, "train"), os.path.join(tmp, "out"), batch_size=1024, echo=lambda *_: None)
        p = get_provider("imagenet", os.path.join(tmp, "out"))
        aug = Augmentation(p.mean_image(p.default_train_range), crop=224, color_noise=0.1,
                           pca=p.color_pca(p.default_train_range), images_first=p.images_first)
        rates = []
        for epoch in (1, 2, 3):
            stream = TrainStream(p, p.default_train_range, aug, args.mini, seed=1, epoch=epoch, threads=args.threads)
            start, count = time.perf_counter(), 0
            for _, (_, labels) in stream:
                count += labels.shape[1]
            rates.append(count / (time.perf_counter() - start))
            stream.close()
    result = {"images": args.images, "mini": args.mini, "cores": os.cpu_count(), "threads": stream.threads,
              "images_per_s": sorted(rates)[1], "epochs_images_per_s": rates}
    print(json.dumps(result, indent=2) if args.json else
          f"loader: {result['images_per_s']:.0f} images/s ({result['images_per_s'] / args.mini:.1f} minibatches of "
          f"{args.mini}/s), median of 3 epochs over {args.images} images, {result['threads']} loader threads, "
          f"{result['cores']} cores")


if __name__ == "__main__":
    main()
