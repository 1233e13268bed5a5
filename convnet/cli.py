"""The `convnet` command. Every user error is one line on stderr and a non-zero exit, never a traceback."""
import math
import os
import sys
from contextlib import nullcontext

import click
from click.core import ParameterSource

from .errors import ConvnetError, OptionError
from .notes import note, send_notes_to


class Group(click.Group):
    def main(self, *args, **kwargs):
        """click's own usage errors (a bad option value, a missing option) as one line too, naming
        the option, with where to find help; exit 2 as click's."""
        if hasattr(sys.stdout, "reconfigure"):
            # a file name that is not UTF-8 (Python holds its bytes as surrogates) is printed as its bytes,
            # as ls prints it, where a UTF-8 locale's strict stdout would stop the command with a traceback
            sys.stdout.reconfigure(errors="surrogateescape")
        try:
            kwargs.pop("standalone_mode", None)
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as e:      # `convnet` alone: its help
            click.echo(e.format_message())
            sys.exit(0)
        except click.ClickException as e:
            where = f" (convnet {e.ctx.info_name} -h for help)" if getattr(e, "ctx", None) and e.ctx.parent else ""
            message = e.format_message()
            if isinstance(e, click.exceptions.NoSuchOption):
                from .old_options import hint
                if hint(e.option_name):     # its guess ('Did you mean --layers?') is beside the point
                    message = f"No such option {e.option_name!r}; {hint(e.option_name)}."
            click.echo(f"convnet: error: {message}{where}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("convnet: interrupted", err=True)
            sys.exit(130)

    def invoke(self, ctx):
        # restored after: a command invoked in-process (click's CliRunner, a notebook) leaves the notes of
        # later library calls to Python's warnings
        before = send_notes_to(lambda message: click.echo(f"convnet: note: {message}", err=True))
        try:
            return super().invoke(ctx)
        except ConvnetError as e:
            click.echo(f"convnet: error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:        # outside the training loop, which saves first
            click.echo("convnet: interrupted", err=True)
            sys.exit(130)
        except EOFError as e:
            # click takes an EOFError for Ctrl-D at a prompt and says 'interrupted' (exit 130); here none
            # prompts, so one is a file that ended early where no check caught it: shown as what it is
            raise RuntimeError(f"EOFError: {e}") from e
        except MemoryError as e:
            click.echo(f"convnet: error: not enough memory for this ({str(e) or 'MemoryError'}); "
                       f"try a smaller --mini, --image-size or net", err=True)
            sys.exit(1)
        finally:
            send_notes_to(before)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="convnet")
def main():
    """cuda-convnet, the program that trained AlexNet, re-created in Python on CuPy."""


SEED = click.IntRange(0, 2 ** 63 - 1)       # what numpy's generators and the checkpoint's int64 take


class NonNegative(click.FloatRange):
    """A finite number >= 0: FloatRange(0) lets nan through (nan < 0 is false), and inf would fill the
    images with it."""

    def __init__(self):
        super().__init__(0)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def run_folder_latest(ctx, param, value):
    """--load's checkpoints (comma-separated), a run's folder read as its latest.h5 (checkpoint.latest_of)."""
    from .checkpoint import latest_of
    return None if value is None else ",".join(latest_of(p.strip()) if p.strip() else p for p in value.split(","))


def config_options(f):
    f = click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False),
                     help="The layer params file (learning rates and the like).")(f)
    f = click.option("--layers", "layers_file", required=True, type=click.Path(dir_okay=False),
                     help="The layer definition file.")(f)
    return f


@main.command()
@click.option("--layers", "layers_file", type=click.Path(dir_okay=False), help="The layer definition file.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False), help="The layer params file.")
@click.option("--load", callback=run_folder_latest,
              help="A checkpoint (or a run's folder: its latest.h5): its net (as changed by --conv-to-local and "
                   "the like) on its data.")
@click.option("--input-size", type=click.IntRange(1), help="Images are SIZE x SIZE (when no data provider says).")
@click.option("--channels", type=click.IntRange(1), default=3, show_default=True, help="Channels of the input images.")
@click.option("--data-provider", help="Take the image size from this provider (and --data-path, --crop).")
@click.option("--data-path", type=click.Path(), help="The provider's folder.")
@click.option("--image-size", type=click.IntRange(8, 1024), help="The embedded data's image size.")
@click.option("--crop", type=click.IntRange(1), help="The crop the net sees.")
@click.option("--classes", type=click.IntRange(1), help="Classes, for layers whose size follows them (treefc; "
                                                          "default: the provider's, else 1000 with a note).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def describe(layers_file, params_file, load, input_size, channels, data_provider, data_path, image_size, crop,
             classes, as_json):
    """The net's layers: type, inputs, device, output shape, parameters and multiply-adds per image."""
    from .describe import describe_json, describe_table
    from .graph import load_graph
    from .input_size import size_hint
    if load:
        if layers_file or params_file:
            raise OptionError("give --load, or --layers and --params: the checkpoint holds its net's two files")
        from .opening import describe_checkpoint
        graph = describe_checkpoint(load)
        click.echo(describe_json(graph) if as_json else describe_table(graph))
        return
    if not layers_file or not params_file:
        raise OptionError("give --layers and --params (or --load a checkpoint)")
    info = None
    if data_provider or data_path:
        from .session import DEFAULTS, Data
        options = {**DEFAULTS, "data_provider": data_provider or "default", "data_path": data_path,
                   "image_size": image_size or DEFAULTS["image_size"], "crop": crop}
        data = Data(options, need_train=False)
        shape, info = data.augmentation.shape, {**data.provider.data_info(), "need_tree": False}
        if classes:
            info["classes"] = classes
    elif input_size is not None:
        shape = (channels, input_size, input_size)
    else:
        raise OptionError("give the image size with --input-size (224 for the paper's nets, 32 for CIFAR), "
                           "or a --data-provider to take it from")
    assumed = info is None and not classes
    labels = (1,) if info is not None else None   # None: sized by what the net needs (graph._infer)
    info = info or {"classes": classes or 1000}
    given = input_size is not None and not (data_provider or data_path)    # the size of --input-size
    with size_hint(layers_file, params_file, channels, input_size, info) if given else nullcontext():
        graph = load_graph(layers_file, params_file, [shape, labels], data_info=info)
    if assumed and any(layer.type == "treefc" for layer in graph.layers):
        note("treefc makes one output per class: 1000 classes (ILSVRC) and a flat class tree assumed; "
             "give --classes or a --data-provider")
    click.echo(describe_json(graph) if as_json else describe_table(graph))


@main.command("check-grads")
@config_options
@click.option("--input-size", type=click.IntRange(1), default=8, show_default=True, help="Images are SIZE x SIZE.")
@click.option("--channels", type=click.IntRange(1), default=3, show_default=True, help="Channels of the input images.")
@click.option("--mini", type=click.IntRange(1), default=3, show_default=True, help="Images in the random batch.")
@click.option("--backend", type=click.Choice(["numpy", "emulated", "cuda"]), default="numpy", show_default=True,
              help="Whose analytic gradients to check (numpy in float64; emulated and cuda in float32).")
@click.option("--samples", type=click.IntRange(1), default=12, show_default=True, help="Elements checked per tensor.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the weights and the batch.")
@click.option("--classes", type=click.IntRange(2), default=10, show_default=True,
              help="Classes, for layers whose size follows them (treefc, with a flat class tree).")
def check_grads(layers_file, params_file, input_size, channels, mini, backend, samples, seed, classes):
    """Analytic gradients against float64 central differences, for every layer; exit 1 on a failure."""
    from .gradcheck import KINKED, UNRESOLVED, check_gradients
    from .input_size import size_hint
    from .progress import Progress
    bar = None              # made at the first layer, when the count is known

    def progress(layer, done, total):
        nonlocal bar
        bar = bar or Progress("checking gradients", total, unit=None)
        bar.show(done, doing=layer)
    try:
        with size_hint(layers_file, params_file, channels, input_size, {"classes": classes}):
            rows, tolerance = check_gradients(layers_file, params_file, input_size=input_size, channels=channels,
                                              mini=mini, backend=backend, samples=samples, seed=seed,
                                              classes=classes, progress=progress)
    finally:
        if bar is not None:
            bar.clear()
    click.echo(f"{'layer':<16} {'type':<12} {'rel. error':>10}  checked (tensor: error, elements[, kinks skipped])")
    alone_because = {   # what a row says of a tensor checked on its layer alone, and the line that says why
        UNRESOLVED: ("alone", "the cost moves too little for float64 to resolve these gradients through the net "
                              "(at the paper's initial weights, 1e-12 at conv1)"),
        KINKED: ("alone after kinks", "every stencil through the net crossed a kink (a relu's sign, a max's "
                                      "winner changed in a later layer)")}
    for r in rows:
        parts = []
        for tensor, err, count, kinks, alone in r.checks:
            parts.append(f"{tensor}: {err:.1e}, {count}" + (f", {kinks} kinks" if kinks else "") + (f", {alone_because[alone][0]}" if alone else ""))
        status = "ok" if r.ok else "FAIL"
        click.echo(f"{r.name:<16} {r.type:<12} {r.error:>10.2e}  {status:<4} {'; '.join(parts)}")
    reasons = {c[4] for r in rows for c in r.checks}
    for reason, (mark, why) in alone_because.items():
        if reason in reasons:
            click.echo(f"{mark}: {why}; each is checked on its layer alone, as the derivative of the layer's "
                       f"output dotted with the gradient its backward was given")
    failed = [r.name for r in rows if not r.ok]
    if failed:
        click.echo(f"FAILED: {len(failed)} of {len(rows)} layers above the tolerance {tolerance:g}. "
                   f"Look first at '{failed[-1]}', the failing layer nearest the cost: the layers "
                   f"below a wrong backward inherit its error.", err=True)
        sys.exit(1)
    click.echo(f"all {len(rows)} layers within the tolerance {tolerance:g}")


# ---- training -------------------------------------------------------------------------------

TRAIN_OPTIONS = ("data_provider", "data_path", "image_size", "crop", "train_range", "test_range", "mini",
                 "epochs", "test_freq", "color_noise", "flip", "augment", "lr_plateau", "lr_drops", "backend", "gpu", "tf32", "seed", "watch",
                 "wupdate_freq", "scalar_mean", "save_freq")


weights_option = click.option(
    "--weights", "weights_text", metavar="W1,W2,...",
    help="With several checkpoints: each one's share of the average, in --load's order (scaled to sum to 1; "
         "default: equal), as the 2012 code's avg-test.py weighted its nets.")


def data_options(f):
    for option in reversed([
        click.option("--data-provider", default="default", show_default=True,
                     help="default (the embedded shapes), cifar (cuda-convnet batch files) or imagenet (HDF5 batches)."),
        click.option("--data-path", type=click.Path(), help="The provider's folder (not for default)."),
        click.option("--image-size", type=click.IntRange(8, 1024), default=32, show_default=True,
                     help="The embedded data's image size (256 for the paper's nets)."),
        click.option("--crop", type=click.IntRange(1), help="Train on random crops of this size, test on the centre crop."),
        click.option("--train-range", help="Training batches, e.g. 1-5 (default: the provider's)."),
        click.option("--test-range", help="Test batches, e.g. 6 (default: the provider's)."),
        click.option("--mini", type=click.IntRange(1), default=128, show_default=True, help="Images per minibatch."),
        click.option("--backend", type=click.Choice(["numpy", "cuda", "emulated"]), default="numpy", show_default=True,
                     help="numpy (CPU), cuda (GPU), emulated (the GPU code on the CPU, for tests)."),
        click.option("--gpu", help="Physical GPUs for the logical ones, e.g. 0,1 (several may share one)."),
        click.option("--tf32", is_flag=True, help="Allow TF32 in cuBLAS on the cuda backend (default: FP32)."),
    ]):
        f = option(f)
    return f


def _open_checkpoint(load, overrides, need_train=False, unlabelled_ok=False):
    """(checkpoint, data, net, options) for test and features: the checkpoint's net and data, as overridden
    by the options given on the command line. unlabelled_ok: the test range may be the unlabelled test
    images (for what writes scores or features, not errors)."""
    from .opening import open_checkpoint
    ctx = click.get_current_context()
    given = {k: v for k, v in overrides.items() if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    return open_checkpoint(load, given, need_train, unlabelled_ok)


@main.command()
@config_options
@click.option("--input-size", type=click.IntRange(1), default=224, show_default=True, help="Images are SIZE x SIZE.")
@click.option("--mini", type=click.IntRange(1), default=128, show_default=True, help="Images per minibatch.")
@click.option("--backend", type=click.Choice(["auto", "numpy", "cuda", "emulated"]), default="auto", show_default=True,
              help="auto: cuda where a GPU is usable, else numpy (the report says which and why).")
@click.option("--gpu", help="Physical GPUs for the logical ones, e.g. 0 (both columns on one GPU) or 0,1.")
@click.option("--warmup", type=click.IntRange(0), default=3, show_default=True, help="Untimed steps first.")
@click.option("--repeat", type=click.IntRange(1), default=10, show_default=True, help="Timed steps (the median is reported).")
@click.option("--tf32", is_flag=True, help="Allow TF32 in cuBLAS (default: FP32).")
@click.option("--no-profile", is_flag=True, help="Only the step: skip the per-layer series.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(layers_file, params_file, input_size, mini, backend, gpu, warmup, repeat, tf32, no_profile, as_json):
    """Time full training steps (forward, backward, update): per-layer milliseconds, the update, images/s,
    share of peak, the BLAS and its kernels, peak memory."""
    from . import json_text
    from .bench import report, run
    from .input_size import size_hint
    from .session import parse_gpus
    with size_hint(layers_file, params_file, 3, input_size):
        result = run(layers_file, params_file, input_size, mini, backend, parse_gpus(gpu), warmup, repeat, tf32,
                     profile=not no_profile)
    click.echo(json_text.dumps(result, indent=2) if as_json else report(result))


@main.command("make-data")
@click.option("--images", required=True, type=click.Path(), help="The training images: one folder per class (synset).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Where the HDF5 batches go.")
@click.option("--val-images", type=click.Path(), help="The validation images (a folder; or one with class subfolders).")
@click.option("--val-labels", type=click.Path(dir_okay=False),
              help="Validation labels: lines 'name synset' (or 'name class-number'), or one synset per line.")
@click.option("--test-images", type=click.Path(),
              help="ILSVRC's unlabelled test images (one flat folder): the last batches, labels -1, in name order, "
                   "for convnet test --submission.")
@click.option("--size", type=click.IntRange(8, 2048), default=256, show_default=True, help="Images are rescaled and cropped to SIZE x SIZE.")
@click.option("--workers", type=click.IntRange(1), help="Decoding processes (default: one per core).")
@click.option("--batch-size", type=click.IntRange(1), default=1024, show_default=True, help="Images per batch file.")
@click.option("--overwrite", is_flag=True,
              help="Replace the batches that an earlier make-data with other images or options left in --out.")
def make_data(images, out, val_images, val_labels, test_images, size, workers, batch_size, overwrite):
    """Prepare ImageNet-style JPEG folders: rescale, centre-crop, and write HDF5 batches (resumable)."""
    from convnet.data.make_data import make_data as run
    if val_labels and not val_images:
        raise OptionError("--val-labels needs --val-images")
    for option, folder in (("--images", images), ("--val-images", val_images), ("--test-images", test_images)):
        # the batches would be a folder of that tree on the next run (resumed, or the same command): a
        # class of their own among the training images, a stray folder among the others
        if folder and os.path.commonpath([os.path.abspath(out), os.path.abspath(folder)]) == os.path.abspath(folder):
            why = "read as images there (a class of their own)" if option == "--images" else "among the images there"
            raise OptionError(f"--out {out} is inside {option} {folder}: its batches would be {why}; give an "
                              f"--out outside it")
    run(images, out, val_images, val_labels, size, workers, batch_size, echo=click.echo, test_images=test_images,
        overwrite=overwrite)


# the commands of their own modules, registered on main as they are imported
from . import cli_inspect, cli_test, cli_train  # noqa: E402,F401
