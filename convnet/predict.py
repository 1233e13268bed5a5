"""`convnet predict`: a trained net's top classes for image files of one's own.

Each image is prepared as make-data prepares a training image (data/make_data.py's load_image: the
shorter side rescaled to the size of the checkpoint's data, the centre square cut out), then seen as
the test sees its data: the training mean subtracted and the centre crop, or the ten views with
--multiview. Several checkpoints average their class probabilities, as `convnet test` does.
"""
import os

import numpy as np

from .errors import DataError


def image_files(paths):
    """The files named, and the images of the folders named (their files with an image extension,
    sorted, as make-data takes them), in order."""
    from convnet.data.make_data import NAMED, list_images
    files = []
    for path in paths:
        if os.path.isdir(path):
            inside = list_images(path)
            if not inside:
                raise DataError(f"{path}: a folder without images (files named {NAMED})")
            files += [os.path.join(path, name) for name in inside]
        elif os.path.exists(path):
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files


def read_images(files, data):
    """(the images that read, as a batch of the checkpoint's data: uint8 in its provider's layout, or
    None; {position in files: why it did not read})."""
    from convnet.data.make_data import load_image
    images, failed = [], {}
    for i, path in enumerate(files):
        pixels, why = load_image(path, data.provider.image_shape[1])
        if pixels is None:
            failed[i] = why
        else:
            images.append(pixels)
    if not images:
        return None, failed
    return (np.stack(images) if data.provider.images_first else np.stack(images, axis=-1)), failed


def predict(nets, data, files, k, multiview=False, mini=128, weights=None, on_batch=None):
    """Per file, [(class, probability)] * k: the nets' average over the views (weighted by weights, as
    the test's), the k classes ranked first (by a cost.msm's energies, else by the probabilities; ties:
    the lower class first); or for a file that is not an image it can read, why (a str), as make-data
    skips it. Only these are kept, mini images at a time: a folder of ImageNet's size holds no (images,
    classes) array. on_batch(files) after each minibatch of them."""
    from .evaluate import averaged_scores, classifying_layer
    layers = [classifying_layer(net) for net in nets]
    if any(layer is None for layer in layers):
        raise DataError("the net has no cost.logreg, cost.crossent or cost.msm layer: it gives no class "
                        "probabilities to predict with")
    channels, rows, cols = data.provider.image_shape
    if channels != 3 or rows != cols:
        raise DataError(f"the net was trained on {channels}x{rows}x{cols} images; predict prepares image files as "
                        f"make-data does, for data of 3 x S x S")
    found = []
    for start in range(0, len(files), mini):
        batch = files[start:start + mini]
        images, failed = read_images(batch, data)
        tops = []
        if images is not None:
            aug = data.augmentation
            probs, ranks = averaged_scores(nets, layers, aug.views(images) if multiview else [aug.test(images)],
                                           weights=weights)
            order = np.argsort(-ranks, axis=0, kind="stable")[:k]
            tops = [[(int(c), float(probs[c, i])) for c in order[:, i]] for i in range(probs.shape[1])]
        tops = iter(tops)                 # in file order, past the files that failed
        found += [failed[i] if i in failed else next(tops) for i in range(len(batch))]
        if on_batch:
            on_batch(len(batch))
    return found
