"""What the 2012 code's multi-class costs (cost.crossent, cost.crossent2, cost.rflickr) compare with:
a target value per class and image. The 2012 providers made them (a (classes, images) matrix: label
probabilities, or the Flickr tags); convnet's providers give class numbers (one value per image),
which stand for their one-hot rows. Both are accepted."""
import numpy as np

from .kernels import ELEMENTWISE, i32, kernels


def check_targets(layer, shapes, classes):
    """The first input's size: classes (a target per class) or 1 (a class number). ConfigError else."""
    size = layer.size(shapes[0])
    if size not in (1, classes):
        raise layer.cfg.error("inputs", f"the first input gives {size} values per image: it must give one per class "
                                        f"({classes}, as the 2012 providers' label matrices) or a class number (1)")
    return size == 1


def targets_numpy(labels, classes, dtype):
    """(classes, N): labels itself, or the one-hot rows of class numbers (1, N)."""
    labels = labels.reshape(-1, labels.shape[-1])
    if labels.shape[0] == classes:
        return labels.astype(dtype)
    return (np.arange(classes)[:, None] == labels.astype(np.int64)).astype(dtype)


def targets_gpu(be, labels, classes):
    """The same on the GPU path."""
    N = labels.shape[-1]
    if labels.size == classes * N:
        return labels.reshape(classes, N)
    out = be.empty((classes, N))
    kernels(be, ELEMENTWISE).one_hot.launch(out.size, labels, out, i32(N), i32(out.size))
    return out


