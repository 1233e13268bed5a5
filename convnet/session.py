"""What train, test and features share: the data (provider, ranges, augmentation) and the net built
for it, from options or from a checkpoint."""
import os

import numpy as np

from .config import read_text
from .errors import ConvnetError, DataError, OptionError, ShapeError
from .graph import load_graph
from .net import Net
from .notes import note

DEFAULTS = dict(data_provider="default", data_path=None, image_size=32, crop=None, train_range=None,
                test_range=None, mini=128, epochs=10, test_freq=None, color_noise=0.0, flip=None, augment="paper", lr_plateau=0,
                lr_drops=3, backend="numpy", gpu=None, tf32=False, seed=0, save_path=None, watch=False,
                wupdate_freq=1, scalar_mean=False, save_freq=None)


class Data:
    """The provider with its training and test batches and the augmentation the net sees."""

    def __init__(self, options, need_train=True, unlabelled_ok=False):
        from convnet.data import get_provider
        from convnet.data.augment import Augmentation
        o = options
        extra = {"image_size": o["image_size"]} if o["data_provider"] == "default" else {}
        self.provider = get_provider(o["data_provider"], o["data_path"], **extra)
        p = self.provider
        self.train = p.parse_range(o["train_range"], "--train-range") if o["train_range"] else list(p.default_train_range)
        self.test = p.parse_range(o["test_range"], "--test-range") if o["test_range"] else list(p.default_test_range)
        for option, batches in (("--train-range", self.train), ("--test-range", self.test)):
            if not sum(p.batch_size(n) for n in batches):    # an epoch of no minibatches never ends
                from convnet.data.provider import format_range
                raise DataError(f"{option} {format_range(batches)}: its batches in {p.describe()} hold no images")
        self._check_labels(unlabelled_ok)
        shared = sorted(set(self.train) & set(self.test))
        if shared:
            which = f"batch {shared[0]} is" if len(shared) == 1 else f"batches {', '.join(map(str, shared))} are"
            note(f"{which} in both the training and the test range: the test error there measures what the net "
                 f"saw in training")
        crop = o["crop"] if o["crop"] is not None else getattr(p, "default_crop", None)
        pca = p.color_pca(self.train) if o["color_noise"] > 0 and need_train else None
        mean = p.mean_image(self.train)
        # --scalar-mean: one number, the mean of every pixel and channel, for the whole image (the 2012
        # code's option of that name, convdata_jpeg.py:96: data_mean.mean())
        self.scalar_mean = float(np.mean(mean, dtype=np.float64)) if o.get("scalar_mean") else None
        if self.scalar_mean is not None:
            mean = np.full(mean.shape, self.scalar_mean, dtype=np.float32)
        if o.get("augment", "paper") == "2012":
            from convnet.data.augment_2012 import Augmentation2012
            self.augmentation = Augmentation2012(mean, crop, o["color_noise"], pca,
                                                 p.images_first, flip=o.get("flip"), style=p.style_2012)
        else:
            self.augmentation = Augmentation(mean, crop, o["color_noise"], pca, p.images_first, flip=o.get("flip"))

    def _check_labels(self, unlabelled_ok):
        """Batches without labels (make-data --test-images) can be neither learned from nor scored:
        only a test that writes predictions or a submission, and features, take them, and then the
        whole test range (the scores of some images and the errors of others would be one muddle)."""
        from convnet.data.provider import format_range
        unlabelled = self.provider.unlabelled_batches
        where = self.provider.describe()
        learned = [n for n in self.train if n in unlabelled]
        if learned:
            raise DataError(f"--train-range {format_range(self.train)}: batch{'es' * (len(learned) > 1)} "
                            f"{format_range(learned)} hold{'s' * (len(learned) == 1)} the unlabelled test images "
                            f"(make-data --test-images; {where}): a net cannot learn from images without labels")
        tested = [n for n in self.test if n in unlabelled]
        if not tested:
            return
        if not unlabelled_ok:
            raise DataError(f"--test-range {format_range(self.test)}: batch{'es' * (len(tested) > 1)} "
                            f"{format_range(tested)} hold{'s' * (len(tested) == 1)} the unlabelled test images "
                            f"(make-data --test-images; {where}), which have no errors to count: convnet test "
                            f"--submission S.txt (or --predictions P.h5) and convnet features take them")
        if len(tested) < len(self.test):
            labelled = [n for n in self.test if n not in unlabelled]
            raise DataError(f"--test-range {format_range(self.test)}: mixes batches with labels "
                            f"({format_range(labelled)}) and the unlabelled test images ({format_range(tested)}): "
                            f"test them apart")

    @property
    def unlabelled(self):
        """Whether the test range is the unlabelled test images (then every batch of it is)."""
        return any(n in self.provider.unlabelled_batches for n in self.test)

    def fingerprints(self):
        """{batch number: CRC-32} of the first training and the first test batch: what a checkpoint
        keeps of the data it saw (options' data_fingerprint)."""
        return {str(n): self.provider.fingerprint(n) for n in dict.fromkeys(self.train[:1] + self.test[:1])}

    def note_changed(self, checkpoint, options, resuming):
        """A note for each batch of the checkpoint's fingerprint that is not the same here (the data made
        again, other files under the same folder, embedded shapes drawn otherwise by another NumPy).
        Only the test range unless resuming; not when the data is another source than the run's."""
        saved = checkpoint.options.get("data_fingerprint") or {}
        if any(checkpoint.options.get(k) != options.get(k) for k in ("data_provider", "data_path", "image_size")):
            return
        for number, crc in saved.items():
            n = int(number)
            if n not in self.test and not (resuming and n in self.train) or n not in self.provider.batch_numbers:
                continue
            if self.provider.fingerprint(n) != crc:
                why = (f"the embedded shapes are drawn otherwise here than where the run was: another NumPy "
                       f"(here {np.__version__}) or convnet"
                       if options["data_provider"] == "default" else "the data was made again, or its files replaced")
                then = ("training goes on with the data as it is now" if resuming else
                        "these numbers are not those of the data it was trained and tested with")
                note(f"{checkpoint.path}: batch {n} of {self.provider.describe()} is not the one it "
                     f"{'trained' if n in self.train else 'was tested'} on (its images or labels differ: {why}); {then}")

    def test_minibatches(self, mini=128):
        """[images, labels] of the test range in order, centre crops, mini images at a time: what
        net.forward takes."""
        for _, _, batch in self.test_views(self.test, mini):
            yield batch

    def test_views(self, batches, mini=128):
        """(batch number, image indices, [images, labels]) of these batches in order, as the test sees
        them (centre crops), mini images at a time."""
        from convnet.data.loader import evaluation_minibatches, labels_row
        for number, indices in evaluation_minibatches(self.provider, batches, mini):
            images, labels = self.provider.read_batch(number)
            yield number, indices, [self.augmentation.test(self.augmentation.select(images, indices)),
                                    labels_row(fed_labels(labels[indices]))]

    def images_in(self, batches):
        """How many images these batches hold."""
        return sum(self.provider.batch_size(n) for n in batches)

    def describe(self):
        from convnet.data.provider import format_range
        shape = "x".join(map(str, self.augmentation.shape))
        return (f"{self.provider.describe()} (train {format_range(self.train)}: {self.images_in(self.train)} "
                f"images, test {format_range(self.test)}: {self.images_in(self.test)}), net input {shape}, "
                f"{self.augmentation.describe()}"
                + (f", the scalar mean {self.scalar_mean:.2f} subtracted" if self.scalar_mean is not None else ""))


def fed_labels(labels):
    """What the net's cost layers read for these labels: an unlabelled image's -1 as class 0, since a
    cost layer indexes its probabilities by the label (-1 would read the last class in NumPy and
    outside the array on the GPU); nothing computed from an unlabelled image's cost is reported."""
    return np.where(labels < 0, 0, labels)


def _fits(layers_file, params_file, layers_text, params_text, shape):
    """Whether the net would take images of this shape (for a hint that applies)."""
    try:
        load_graph(layers_file, params_file, [shape, (1,)], layers_text, params_text)
        return True
    except ConvnetError:
        return False


def build_net(data, layers_file, layers_text, params_file, params_text, options, restoring=False):
    """The net for this data's images; a net that does not fit them is one clear line. restoring:
    its arrays will come from a checkpoint, so initWFunc and the like are not called."""
    shape = data.augmentation.shape
    try:
        graph = load_graph(layers_file, params_file, [shape, (1,)], layers_text, params_text,
                           data_info=data.provider.data_info())
    except ShapeError as e:
        hint = ""
        if options["data_provider"] == "default" and shape[1] < 224 and \
                _fits(layers_file, params_file, layers_text, params_text, (shape[0], 224, 224)):
            hint = " (the paper's nets take --image-size 256 --crop 224 on the embedded data)"
        raise ShapeError(f"the net does not fit the data's {'x'.join(map(str, shape))} images: {e}{hint}") from None
    for cost in graph.cost_layers:
        if hasattr(cost, "classes") and data.provider.num_classes > cost.classes:
            raise ShapeError(f"the data has {data.provider.num_classes} classes but [{cost.inputs[1]}] gives "
                             f"{cost.classes} probabilities (in {layers_file})")
    if not restoring:
        _note_unused_outputs(graph, data.provider.num_classes, layers_file)
    net = Net(graph, backend=options["backend"], gpus=parse_gpus(options["gpu"]), seed=options["seed"],
              restoring=restoring)
    net.backend.tf32 = bool(options["tf32"])
    if not net.backend.gpu_path and (options["gpu"] or options["tf32"]):
        note(f"{'--gpu' if options['gpu'] else '--tf32'} applies to the cuda backend; on {net.backend.name} it "
             f"changes nothing (add --backend cuda)")
    _note_uncompiled(net)
    return net


_said_unused = set()


def _note_unused_outputs(graph, classes, layers_file):
    """A note when a cost layer reads more probabilities than the data has classes (the paper's 1000-way
    net on CIFAR-10, or on a sample of ImageNet): the extra outputs are never a label, and only learn
    to be unlikely, but a test's top-5 and predict can still name them. Once a file (ablate's seeds)."""
    for cost in graph.cost_layers:
        if getattr(cost, "classes", 0) > classes > 0 and layers_file not in _said_unused:
            _said_unused.add(layers_file)
            probs = graph.by_name.get(cost.inputs[1])
            under = probs.inputs[0] if probs is not None and probs.type == "softmax" and probs.inputs else None
            fix = f"[{under}] outputs={classes}" if under else f"outputs={classes} to the layer it reads"
            note(f"[{cost.inputs[1]}] gives {cost.classes} probabilities and the data has {classes} classes: "
                 f"classes {classes + 1}-{cost.classes} are never a label, yet the top-5 error and predict can "
                 f"still name them (for a net of the data's size, give {fix} in {layers_file})")
            return


_said_uncompiled = []


def _note_uncompiled(net):
    """One line, once, when the numpy backend's compiled kernels cannot be built (no C++ compiler, a
    failed build) for a net that would use them: the same numbers come out, more slowly, and the user
    should know why. Not for CONVNET_NATIVE=0, which asks for exactly that."""
    from . import native
    if net.backend.name != "numpy" or os.environ.get("CONVNET_NATIVE", "1") == "0" or _said_uncompiled:
        return
    if not any(layer.type in ("conv", "pool") for layer in net.layers):
        return
    missing = [why for lib, why in map(native.library, native.KERNELS) if lib is None]
    if missing:
        _said_uncompiled.append(missing[0])
        note(f"the compiled CPU kernels are not in use ({missing[0]}): the convolution and max pooling's "
             f"gradient run in NumPy, with the same results, more slowly (a quick-start step takes about 1.6 times as long)")


def parse_gpus(text):
    """'0,1' -> [0, 1]: the physical GPUs that the logical ones map onto."""
    if text in (None, ""):
        return None
    try:
        return [int(g) for g in str(text).split(",")]
    except ValueError:
        raise OptionError(f"--gpu {text!r}: expected GPU numbers like 0 or 0,1") from None


def config_texts(layers_file, params_file):
    return layers_file, read_text(layers_file), params_file, read_text(params_file)
