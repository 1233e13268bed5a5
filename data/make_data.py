"""`convnet make-data`: from ILSVRC JPEG folders to HDF5 batches that the imagenet provider reads.

Training images are read from one folder per class (named by synset; classes in sorted order),
validation images from one folder with a labels file (or with class subfolders). Each image is
rescaled so that its shorter side is `size` and the centre size x size is cropped (section 2 of the
paper), by parallel worker processes that each make whole batches (no pixel crosses between
processes). Batches of `batch_size` images (the training images shuffled once, with a fixed seed, so
that each batch mixes the classes) are written as OUT/data_batch_N.h5:

    images (n, 3, size, size) uint8, each image contiguous (so that a minibatch is a contiguous
    selection and each crop a slice); labels (n,) int32; names (n,) relative paths
    attrs: split, digest (of the batch's file list), skipped and converted (JSON)
    sums for the statistics: pixel_sum (3, size, size), rgb_sum (3,), rgb_outer (3, 3), pixel_count

ILSVRC's test images, which come without labels (a flat folder, --test-images), make the last batches,
labels -1, in the order of their names: the order of the lines of a submission. Then OUT/meta.h5
with the class names, the mean training image, and the eigenvalues and eigenvectors of
the RGB covariance of the training pixels; OUT/report.txt lists every image skipped or converted.
A rerun continues where a crash stopped: batches whose file holds the same digest are not redone;
an earlier make-data's batches of other images or options are replaced only with --overwrite
(earlier_output.py).
One make-data at a time writes into a folder (an OS lock on OUT/.lock, as a training's save folder);
meta.h5 is removed before any batch is remade and written last, so it never describes other batches.
"""
import hashlib
import json
import os
import warnings
from multiprocessing import Pool

import h5py
import numpy as np
from PIL import Image, ImageOps

from convnet.errors import DataError
from convnet.notes import note
from convnet.progress import Progress
from convnet.data.earlier_output import batch_state, check_nothing_foreign, check_overwrite, earlier_batches_beyond
from convnet.data.provider import batch_checksum, format_range
from convnet.files import (check_writable, printable, read_hdf5, remove_file, remove_stale_temporaries, write_bytes,
                           write_hdf5)
from convnet.save_folder import FolderLock

# the images make-data takes, by name: those torchvision's ImageFolder takes, all of which Pillow reads
EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
NAMED = ", ".join(EXTENSIONS[:-1]) + " or " + EXTENSIONS[-1]
SHUFFLE_SEED = 1281167            # ILSVRC-2012's training images: any fixed number would do
UNLABELLED = -1                   # the label of a test image: ILSVRC gives none


def list_images(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(EXTENSIONS)
                  and os.path.isfile(os.path.join(folder, f)))


def discover_training(images):
    if not os.path.isdir(images):
        raise DataError(f"{images}: no such folder")
    classes = sorted(d for d in os.listdir(images) if os.path.isdir(os.path.join(images, d)))
    if not classes:
        tars = [f for f in os.listdir(images) if f.lower().endswith(".tar")]
        hint = (f"; it holds {len(tars)} .tar file{'s' * (len(tars) != 1)}: ILSVRC2012_img_train.tar holds a .tar "
                f"of each synset's images, to unpack into a folder of its name (n01440764.tar into n01440764/)"
                if tars else "")
        raise DataError(f"{images}: no class folders (expected one folder of images per synset){hint}")
    files = [(os.path.join(c, f), label) for label, c in enumerate(classes) for f in list_images(os.path.join(images, c))]
    if not files:
        raise DataError(f"{images}: the class folders hold no images (make-data reads the files named {NAMED} "
                        f"of each class folder itself, not those of its subfolders)")
    have = {label for _, label in files}
    for label, c in enumerate(classes):
        if label not in have:
            note(f"{os.path.join(images, c)}: no images{_what_is_there(os.path.join(images, c))}; class {label} "
                 f"is kept, so that the numbers of the others do not change, but nothing will teach it")
    return classes, files


def _what_is_there(folder):
    """What a class folder without images holds instead: images are read from the folder itself (as
    ILSVRC's are), by their extension, so a tree one level deeper or .bmp files are not taken."""
    entries = os.listdir(folder)
    folders = sum(os.path.isdir(os.path.join(folder, e)) for e in entries)
    others = len(entries) - folders
    parts = [f"{others} file{'s' * (others != 1)} not named {NAMED}"] if others else []
    parts += [f"{folders} subfolder{'s' * (folders != 1)}, whose images are not read"] if folders else []
    return f" ({' and '.join(parts)})" if parts else ""


def discover_test(folder):
    """[(name, -1)] of ILSVRC's test images, which have no labels: one flat folder, in name order (the
    order of a submission's lines, as the 2012 code's test batches 3000-3097 held them)."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder")
    names = list_images(folder)
    if not names:
        subfolders = [d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))]
        hint = (f"; it holds {len(subfolders)} subfolder{'s' * (len(subfolders) != 1)}, whose images are not read: "
                f"the test images are one flat folder (ILSVRC2012_img_test.tar unpacks into one)" if subfolders else "")
        raise DataError(f"{folder}: no test images (make-data reads the files named {NAMED} there){hint}")
    return [(name, UNLABELLED) for name in names]


def discover_validation(folder, labels_file, classes):
    """[(relative path, label)]: from class subfolders, or from a labels file whose lines are
    `name synset` or `name class-number` (commas or spaces; a header line is skipped), or one synset
    per line for the images in sorted order."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder")
    index = {c: i for i, c in enumerate(classes)}
    subfolders = [d for d in sorted(os.listdir(folder)) if os.path.isdir(os.path.join(folder, d))]
    if subfolders and not labels_file:
        unknown = [d for d in subfolders if d not in index]
        if unknown:
            raise DataError(f"{folder}: class folder {unknown[0]} is not among the training classes")
        return [(os.path.join(d, f), index[d]) for d in subfolders for f in list_images(os.path.join(folder, d))]
    if not labels_file:
        raise DataError(f"{folder}: give --val-labels (or put the validation images in class subfolders)")
    names = list_images(folder)
    try:
        with open(labels_file, encoding="utf-8") as f:
            lines = [line.replace(",", " ").split() for line in f if line.strip()]
    except OSError as e:
        raise DataError(f"{labels_file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{labels_file}: not a text file (expected lines 'name synset')") from None

    def label_of(word, where):
        if word in index:
            return index[word]
        if word.isdigit() and int(word) < len(classes):
            return int(word)
        raise DataError(f"{labels_file}:{where}: {word!r} is neither a training synset nor a class number "
                        f"below {len(classes)}")

    if all(len(line) == 1 for line in lines):
        if len(lines) != len(names):
            raise DataError(f"{labels_file}: {len(lines)} labels for {len(names)} images in {folder}")
        return [(n, label_of(line[0], i + 1)) for i, (n, line) in enumerate(zip(names, lines))]
    by_stem = {os.path.splitext(n)[0]: n for n in names}
    out = []
    for i, line in enumerate(lines):
        stem = os.path.splitext(line[0])[0]
        if i == 0 and stem not in by_stem:        # a header, as in LOC_val_solution.csv
            continue
        if stem not in by_stem:
            raise DataError(f"{labels_file}:{i + 1}: no image {line[0]!r} in {folder}")
        if len(line) < 2:
            raise DataError(f"{labels_file}:{i + 1}: {line[0]!r} has no label (expected 'name synset')")
        out.append((by_stem[stem], label_of(line[1], i + 1)))
    return sorted(out)


EXIF_ORIENTATION = 0x0112


def load_image(path, size):
    """(pixels uint8 (3, size, size), note) or (None, why it was skipped)."""
    try:
        if os.path.getsize(path) == 0:
            return None, "empty file"
        with warnings.catch_warnings():      # Pillow only warns between its limit and twice it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            notes = []
            extension = os.path.splitext(path)[1].lower()
            if img.format == "PNG" and extension != ".png":
                notes.append(f"PNG data in a {extension} file")
            mode, kind = img.mode, img.format      # a turned copy below has no format
            if kind == "JPEG":
                img.draft("RGB" if mode == "RGB" else mode, (size, size))   # decode at a reduced scale
            img.load()
            # A camera held on its side stores the picture turned and says so in EXIF (0x0112); viewers
            # turn it back, and so does this, so that a photo is seen as its taker saw it.
            orientation = img.getexif().get(EXIF_ORIENTATION, 1)
            if orientation in range(2, 9):
                img = ImageOps.exif_transpose(img)
                notes.append(f"turned upright by its EXIF orientation ({orientation})")
            # 16-bit grey (Pillow's I;16, or I for a PNG before Pillow 10): the same range in 8 bits, where
            # convert("RGB") would clip everything above 255 to white; other I and F images have no range
            sixteen = mode.startswith("I;16") or (mode == "I" and kind == "PNG")
            if sixteen:
                img = Image.fromarray(np.round(np.asarray(img, dtype=np.float64) / 257).astype(np.uint8), "L")
                notes.append(f"converted from {mode}, 16 bits a pixel scaled to 8")
            elif mode in ("I", "F"):
                kind = "32-bit integer" if mode == "I" else "floating-point"
                return None, f"{kind} pixels (mode {mode}), with no fixed range to map to 0-255: convert them to 8 bits"
            if img.mode != "RGB":
                if not sixteen:
                    notes.append(f"converted from {mode}")
                img = img.convert("RGB")
            w, h = img.size
            scale = size / min(w, h)
            new = (max(size, round(w * scale)), max(size, round(h * scale)))
            img = img.resize(new, Image.Resampling.LANCZOS)
            left, top = (new[0] - size) // 2, (new[1] - size) // 2
            pixels = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)
            return np.ascontiguousarray(pixels.transpose(2, 0, 1)), "; ".join(notes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, "too many pixels (over Pillow's decompression-bomb limit)"
    except (OSError, SyntaxError, ValueError) as e:
        text = str(e)
        if "truncated" in text:
            return None, "truncated file"
        if "cannot identify image file" in text:
            return None, "not an image"
        return None, f"unreadable ({text.splitlines()[0][:80] if text else type(e).__name__})"


def load_with_sums(path, size):
    """The image, its note, and its RGB sums for the colour covariance."""
    pixels, note = load_image(path, size)
    if pixels is None:
        return None, note, None
    rgb = pixels.reshape(3, -1).astype(np.float64)
    return pixels, note, (rgb.sum(axis=1), rgb @ rgb.T)


def _make_batch(job):
    """In a worker: a whole batch, read and written there, so that no pixel crosses between processes.
    Returns (number of files, written, skipped, converted)."""
    path, split, root, files, size, expected_digest = job
    results = [load_with_sums(os.path.join(root, name), size) for name, _ in files]
    return (len(files),) + write_batch(path, split, files, results, size, expected_digest)


def plan_batches(train, val, batch_size, test=()):
    """[(number, split, [(relative path, label)])]: the training files shuffled once, then the validation
    files, then the unlabelled test files in their order."""
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(train))
    train = [train[i] for i in order]
    batches = []
    for split, files in (("train", train), ("val", val), ("test", list(test))):
        for i in range(0, len(files), batch_size):
            batches.append((len(batches) + 1, split, files[i:i + batch_size]))
    return batches


def digest(split, files, size):
    h = hashlib.sha256(f"{split} {size}\n".encode())
    for path, label in files:
        h.update(f"{path}\t{label}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def write_batch(path, split, files, results, size, expected_digest):
    """Write one batch atomically from the workers' (pixels, note, RGB sums); return (written, skipped,
    converted)."""
    kept = [(name, label, pixels) for (name, label), (pixels, _, _) in zip(files, results) if pixels is not None]
    skipped = [(printable(name), why) for (name, _), (pixels, why, _) in zip(files, results) if pixels is None]
    converted = [(printable(name), note) for (name, _), (pixels, note, _) in zip(files, results)
                 if pixels is not None and note]
    sums = [s for _, _, s in results if s is not None]
    images = np.empty((len(kept), 3, size, size), dtype=np.uint8)
    for i, (_, _, pixels) in enumerate(kept):
        images[i] = pixels
    labels = np.array([label for _, label, _ in kept], dtype=np.int32)

    def fill(f):
        f["images"] = images
        f["labels"] = labels
        f["names"] = np.array([printable(name) for name, _, _ in kept], dtype=h5py.string_dtype())
        f.attrs["split"], f.attrs["size"] = split, size
        f.attrs["skipped"], f.attrs["converted"] = json.dumps(skipped), json.dumps(converted)
        if split == "train":     # the sums for the mean image and the colour covariance
            f["pixel_sum"] = images.sum(axis=0, dtype=np.uint64).astype(np.float64)
            f["rgb_sum"] = np.sum([s for s, _ in sums], axis=0) if sums else np.zeros(3)
            f["rgb_outer"] = np.sum([o for _, o in sums], axis=0) if sums else np.zeros((3, 3))
            f.attrs["pixel_count"] = len(kept) * size * size
        f.attrs["crc32"] = batch_checksum(images, labels)
        f.attrs["digest"] = expected_digest          # last: a batch with its digest is whole
    write_hdf5(path, fill)
    return len(kept), skipped, converted


def combine(out, batches, classes, size, found):
    """meta.h5 and report.txt from the finished batches' sums and lists; returns (written, skipped,
    converted, the test images skipped)."""
    pixel_sum, rgb_sum, rgb_outer, pixels, images = 0.0, 0.0, 0.0, 0, 0
    counts, skipped, converted, lost = [], [], [], 0
    for number, split, _ in batches:
        with read_hdf5(os.path.join(out, f"data_batch_{number}.h5")) as f:
            counts.append(int(f["labels"].shape[0]))
            skipped_here = json.loads(f.attrs["skipped"])
            skipped += skipped_here
            lost += len(skipped_here) if split == "test" else 0
            converted += json.loads(f.attrs["converted"])
            if split == "train":
                pixel_sum = pixel_sum + f["pixel_sum"][()]
                rgb_sum, rgb_outer = rgb_sum + f["rgb_sum"][()], rgb_outer + f["rgb_outer"][()]
                pixels += int(f.attrs["pixel_count"])
                images += counts[-1]
    report = [f"{found} images found, {sum(counts)} written, {len(skipped)} skipped, {len(converted)} converted\n"]
    report += [f"skipped   {name}: {why}\n" for name, why in skipped]
    report += [f"converted {name}: {note}\n" for name, note in converted]
    write_bytes(os.path.join(out, "report.txt"), "".join(report).encode("utf-8"))     # first: it says why, below
    read = {s: sum(c for c, (_, split, _) in zip(counts, batches) if split == s) for s in ("train", "val", "test")}
    for split, name in (("train", "training"), ("val", "validation"), ("test", "test")):
        if read[split] == 0 and (split == "train" or any(s == split for _, s, _ in batches)):
            raise DataError(f"{out}: no {name} image could be read (see {os.path.join(out, 'report.txt')})")
    mean_rgb = rgb_sum / pixels
    values, vectors = np.linalg.eigh(rgb_outer / pixels - np.outer(mean_rgb, mean_rgb))
    order = np.argsort(values)[::-1]

    def fill(f):
        f["class_names"] = np.array([printable(c) for c in classes], dtype=h5py.string_dtype())
        f["mean"] = (pixel_sum / images).astype(np.float32)
        f["eigenvalues"], f["eigenvectors"] = values[order], vectors[:, order]
        f["batch_sizes"] = np.array(counts, dtype=np.int64)
        f["train_batches"] = np.array([n for n, s, _ in batches if s == "train"], dtype=np.int64)
        f["val_batches"] = np.array([n for n, s, _ in batches if s == "val"], dtype=np.int64)
        f["test_batches"] = np.array([n for n, s, _ in batches if s == "test"], dtype=np.int64)   # labels -1
        f.attrs["size"], f.attrs["found"], f.attrs["written"], f.attrs["skipped"] = size, found, sum(counts), len(skipped)
    write_hdf5(os.path.join(out, "meta.h5"), fill)
    return sum(counts), skipped, converted, lost


def make_data(images, out, val_images=None, val_labels=None, size=256, workers=None, batch_size=1024, echo=print,
              test_images=None, overwrite=False):
    classes, train = discover_training(images)
    val = discover_validation(val_images, val_labels, classes) if val_images else []
    test = discover_test(test_images) if test_images else []
    if not val_images:
        note("no --val-images: every batch is a training batch, and a test on one of them measures what the net "
             "saw in training; give --val-images for a fair test")
    roots = {"train": images, "val": val_images, "test": test_images}
    batches = plan_batches(train, val, batch_size, test)
    check_writable(out, "the output folder")
    with FolderLock(out, "wait for it to end, or give this one its own --out"):
        remove_stale_temporaries(out)         # what a crash mid-write left
        states = {f"data_batch_{n}.h5": batch_state(os.path.join(out, f"data_batch_{n}.h5"), digest(s, files, size))
                  for n, s, files in batches}
        extra = earlier_batches_beyond(out, len(batches))
        check_nothing_foreign(out, states)
        check_overwrite(out, states, extra, batches, size, overwrite)
        todo = [(n, s, files) for n, s, files in batches if states[f"data_batch_{n}.h5"] != "done"]
        if todo:           # meta.h5 describes the batches of the finished run: until this one ends there is none
            remove_file(os.path.join(out, "meta.h5"))
        found = len(train) + len(val) + len(test)
        tested = f", {len(test)} unlabelled test images" if test else ""
        echo(f"{len(classes)} classes, {len(train)} training and {len(val)} validation images{tested}: {len(batches)} "
             f"batch{'es' * (len(batches) != 1)} of {batch_size}; {len(batches) - len(todo)} already done, {len(todo)} to make")
        jobs = [(os.path.join(out, f"data_batch_{number}.h5"), split, roots[split], files, size,
                 digest(split, files, size)) for number, split, files in todo]
        with Pool(min(workers or os.cpu_count(), max(len(jobs), 1))) as pool, \
                Progress("making batches", sum(len(f) for _, _, f in todo)) as progress:
            try:
                for done in pool.imap_unordered(_make_batch, jobs):
                    progress.advance(done[0])
            except OSError as e:           # a full disk, a vanished folder: the batches written so far stay
                raise DataError(f"{out}: cannot write a batch ({e.strerror or e}); run make-data again to "
                                f"continue") from None
        written, skipped, converted, lost = combine(out, batches, classes, size, found)
        for name in extra:                 # an earlier make-data's, with other options: not in meta.h5
            remove_file(os.path.join(out, name))
        if extra:
            echo(f"removed {len(extra)} batches of an earlier make-data there with other options "
                 f"({extra[0]}{f' to {extra[-1]}' if len(extra) > 1 else ''})")
    echo(f"{found} images found, {written} written, {len(skipped)} skipped, {len(converted)} converted "
         f"(report: {os.path.join(out, 'report.txt')})")
    if test:
        numbers = [n for n, s, _ in batches if s == "test"]
        echo(f"test batches {format_range(numbers)}: the unlabelled test images, in name order (convnet test "
             f"--test-range {format_range(numbers)} --submission S.txt)")
        if lost:
            note(f"{lost} test image{'s' * (lost != 1)} could not be read (see the report): a submission from these "
                 f"batches has no line for {'them' if lost != 1 else 'it'}, and the lines after it move up")
    return written, skipped, converted
