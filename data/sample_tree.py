"""A small ImageNet-shaped tree, to try make-data (and to test it): class folders of JPEGs of varied
sizes and aspect ratios, a validation folder with a labels file, a folder of unlabelled test images
(as ILSVRC's), and every kind of broken file that make-data must handle (truncated, CMYK, greyscale,
PNG under a .JPEG name, empty, not an image).

    python -m convnet.data.sample_tree DIR [--per-class 4] [--val 5] [--test 4]
"""
import argparse
import os
import pathlib

import numpy as np
from PIL import Image

CLASSES = ["n01440764", "n01443537", "n01484850"]
SIZES = [(300, 200), (180, 400), (256, 256), (512, 300), (90, 140), (333, 333), (640, 480)]


def picture(rng, w, h, label):
    """A smooth picture with a class-coloured square, so that crops and means are not just noise."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, np.full((h, w), 60 * label + 40)], axis=2)
    base += rng.normal(0, 10, base.shape)
    base[h // 4:h // 2, w // 4:w // 2] = [200 * (label == 0), 200 * (label == 1), 200 * (label == 2)]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def make_tree(root, per_class=4, val=5, seed=0, test=4):
    """root/train/<synset>/*.JPEG, root/val/*.JPEG, root/val_labels.csv and root/test/*.JPEG (test images
    of the three classes in turn, without labels). Returns what was broken on purpose, and `found`:
    the images of train/ and val/."""
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    train, valdir = root / "train", root / "val"
    for label, c in enumerate(CLASSES):
        os.makedirs(train / c)
        for i in range(per_class):
            w, h = SIZES[(label + i) % len(SIZES)]
            picture(rng, w, h, label).save(train / c / f"{c}_{i}.JPEG", quality=90)
    c0, c1 = train / CLASSES[0], train / CLASSES[1]
    picture(rng, 200, 300, 0).convert("CMYK").save(c0 / "cmyk.JPEG")                      # converted
    picture(rng, 300, 200, 1).convert("L").save(c1 / "grey.JPEG")                           # converted
    picture(rng, 260, 260, 1).save(c1 / "png_inside.JPEG", format="PNG")                    # converted
    good = (c0 / f"{CLASSES[0]}_0.JPEG").read_bytes()
    (c0 / "truncated.JPEG").write_bytes(good[: len(good) // 2])                            # skipped
    (c1 / "empty.JPEG").write_bytes(b"")                                                    # skipped
    (train / CLASSES[2] / "text.JPEG").write_text("this is not an image")                  # skipped
    os.makedirs(valdir)
    labels = []
    for i in range(val):
        label = i % 3
        picture(rng, *SIZES[i % len(SIZES)], label).save(valdir / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
        labels.append(f"ILSVRC2012_val_{i + 1:08d},{CLASSES[label]} 10 20 30 40")
    (root / "val_labels.csv").write_text("ImageId,PredictionString\n" + "\n".join(labels) + "\n")
    os.makedirs(root / "test")
    for i in range(test):      # class i % 3, which a test of the submission can check; ILSVRC says none
        picture(rng, *SIZES[(i + 3) % len(SIZES)], i % 3).save(root / "test" / f"ILSVRC2012_test_{i + 1:08d}.JPEG")
    found = len(CLASSES) * per_class + 6 + val
    return dict(found=found, test=test, skipped={"truncated.JPEG": "truncated file", "empty.JPEG": "empty file",
                                      "text.JPEG": "not an image"},
                converted={"cmyk.JPEG": "converted from CMYK", "grey.JPEG": "converted from L",
                           "png_inside.JPEG": "PNG data in a .jpeg file"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--val", type=int, default=5)
    parser.add_argument("--test", type=int, default=4)
    args = parser.parse_args()
    made = make_tree(args.root, args.per_class, args.val, test=args.test)
    print(f"{args.root}: {len(CLASSES)} classes in train/, {args.val} images in val/ with val_labels.csv, "
          f"{args.test} unlabelled in test/; {made['found'] + args.test} images, {len(made['skipped'])} unreadable "
          f"and {len(made['converted'])} to convert on purpose")
