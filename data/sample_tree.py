"""A small ImageNet-shaped tree, to try make-data (and to test it): class folders of JPEGs of varied
sizes and aspect ratios, a validation folder with a labels file, a folder of unlabelled test images
(as ILSVRC's), and every kind of broken file that make-data must handle (truncated, CMYK, greyscale,
PNG under a .JPEG name, empty, not an image).

    python -m convnet.data.sample_tree DIR [--per-class 4] [--val 5] [--test 4]
"""
import argparse
import os
import pathlib
import shutil

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


def same_tree(a, b):
    """Whether folders a and b hold the same files with the same bytes."""
    def files(root):
        return {os.path.relpath(os.path.join(d, f), root): os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}
    fa, fb = files(a), files(b)
    return fa.keys() == fb.keys() and all(pathlib.Path(fa[k]).read_bytes() == pathlib.Path(fb[k]).read_bytes() for k in fa)


def write_tree(root, per_class, val, test):
    """make_tree into a new folder, whole or not at all: built beside it and renamed. Run again with the
    same options, it finds the same tree there (the pictures are drawn from a fixed seed) and says so;
    a folder that holds anything else is left as it is. Returns (what make_tree returns, already there)."""
    root = os.path.abspath(root)
    temporary = f"{root}.tmp-{os.getpid()}"
    try:
        made = make_tree(temporary, per_class, val, test=test)
        if not os.path.lexists(root) or (os.path.isdir(root) and not os.listdir(root)):
            os.replace(temporary, root)
            return made, False
        if not os.path.isdir(root):
            raise SystemExit(f"sample_tree: error: {root}: is a file; give a new folder for the sample tree")
        if same_tree(temporary, root):
            return made, True
        raise SystemExit(f"sample_tree: error: {root}: holds files other than this sample tree's; give a new "
                         f"folder for the sample tree")
    except OSError as e:
        raise SystemExit(f"sample_tree: error: {root}: cannot write the sample tree there ({e.strerror})") from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _count(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="sample_tree", description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--per-class", type=_count, default=4)
    parser.add_argument("--val", type=_count, default=5)
    parser.add_argument("--test", type=_count, default=4)
    args = parser.parse_args()
    made, there = write_tree(args.root, args.per_class, args.val, args.test)
    print(f"{args.root}: {'already holds this sample tree: ' * there}{len(CLASSES)} classes in train/, {args.val} "
          f"images in val/ with val_labels.csv, {args.test} unlabelled in test/; {made['found'] + args.test} images, "
          f"{len(made['skipped'])} unreadable and {len(made['converted'])} to convert on purpose")
