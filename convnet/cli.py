"""The `convnet` command. Every user error is one line on stderr and a non-zero exit, never a traceback."""
import math
import os
import sys
import time

import click
from click.core import ParameterSource

from .errors import ConvnetError, DataError, OptionError
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


def config_options(f):
    f = click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False),
                     help="The layer params file (learning rates and the like).")(f)
    f = click.option("--layers", "layers_file", required=True, type=click.Path(dir_okay=False),
                     help="The layer definition file.")(f)
    return f


@main.command()
@click.option("--layers", "layers_file", type=click.Path(dir_okay=False), help="The layer definition file.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False), help="The layer params file.")
@click.option("--load", help="A checkpoint: its net (as changed by --conv-to-local and the like) on its data.")
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
    from .gradcheck import check_gradients
    rows, tolerance = check_gradients(layers_file, params_file, input_size=input_size, channels=channels,
                                      mini=mini, backend=backend, samples=samples, seed=seed, classes=classes)
    click.echo(f"{'layer':<16} {'type':<12} {'rel. error':>10}  checked (tensor: error, elements[, kinks skipped])")
    for r in rows:
        parts = []
        for tensor, err, count, kinks in r.checks:
            parts.append(f"{tensor}: {err:.1e}, {count}" + (f", {kinks} kinks" if kinks else ""))
        status = "ok" if r.ok else "FAIL"
        click.echo(f"{r.name:<16} {r.type:<12} {r.error:>10.2e}  {status:<4} {'; '.join(parts)}")
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


@main.command()
@click.option("--layers", "layers_file", type=click.Path(dir_okay=False), help="The layer definition file.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False), help="The layer params file.")
@data_options
@click.option("--save-path", type=click.Path(file_okay=False), help="Where checkpoints go (default: runs/<config>-<time>).")
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True, help="Passes over the training range.")
@click.option("--test-freq", type=click.IntRange(1), help="Minibatches between test points (default: one epoch).")
@click.option("--save-freq", type=click.IntRange(1),
              help="Minibatches between checkpoints (latest.h5) besides those of the test points, so that a "
                   "kill loses less (default: at test points only).")
@click.option("--color-noise", type=NonNegative(), default=0.0, show_default=True,
              help="PCA colour noise: the standard deviation of alpha (the paper: 0.1).")
@click.option("--flip/--no-flip", default=None,
              help="Random horizontal reflections of the training images (default: with --crop only, as cuda-convnet).")
@click.option("--scalar-mean", is_flag=True,
              help="Subtract one number, the mean of every training pixel, rather than the mean image "
                   "(cuda-convnet's --scalar-mean).")
@click.option("--augment", type=click.Choice(["paper", "2012"]), default="paper", show_default=True,
              help="paper: per-image crops and reflections, each window's mean, shuffled data (section 4.1); "
                   "2012: the 2012 code's pipeline (centre-crop mean, one crop per 32 ImageNet images, colour "
                   "noise then 1/(1+c), fixed order, CIFAR's 9-view test).")
@click.option("--lr-plateau", type=click.IntRange(0), default=0, show_default=True,
              help="Divide every learning rate by 10 when the test error has not improved for this many test points (0: never).")
@click.option("--lr-drops", type=click.IntRange(0), default=3, show_default=True, help="At most this many divisions.")
@click.option("--wupdate-freq", type=click.IntRange(1), default=1, show_default=True,
              help="Update the weights every N minibatches, by the sum of their batch-mean gradients "
                   "(cuda-convnet's --wupdate-freq).")
@click.option("--watch", is_flag=True, default=None,
              help="At every test point, record inspect's statistics of the last minibatch in the checkpoint "
                   "(convnet show --grads draws them).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the weights, the data order, augmentation and dropout.")
@click.option("--load", help="Resume from this checkpoint, exactly where it stopped.")
@click.option("--conv-to-local", "conv_to_local", metavar="LAYERS",
              help="Make these conv layers (comma-separated) locally connected, each position starting from the "
                   "conv's filters (cuda-convnet's --conv-to-local; with --load, the run goes on in a new folder).")
@click.option("--unshare-weights", "unshare_weights", metavar="LAYERS",
              help="Give these layers (layer, or layer[i] for input i's matrix) their own copy of the weights they "
                   "share by weightSource (cuda-convnet's --unshare-weights; with --load, in a new folder).")
@click.option("--lr-scale", type=click.FloatRange(min=0, min_open=True),
              help="With --load: the factor the run's learning rates go on with, in place of the one its "
                   "--lr-plateau drops left (1: the params file's rates as written).")
def train(layers_file, params_file, save_path, load, conv_to_local, unshare_weights, lr_scale, **given):
    """Train a net: a line of numbers and a checkpoint at every test point."""
    from .checkpoint import Checkpoint
    from .opening import fit_to_this_machine
    from .session import DEFAULTS, config_texts
    from .config import read_text
    from .surgery import Changes
    from .trainer import Trainer
    changes = Changes(conv_to_local, unshare_weights)
    ctx = click.get_current_context()
    explicit = {k for k in given if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    checkpoint, fresh_folder = None, False
    if load:
        checkpoint = Checkpoint(load)
        options = {**DEFAULTS, **checkpoint.options, **{k: given[k] for k in explicit}}
        fit_to_this_machine(load, options, explicit, resuming=True)
        if layers_file:           # the command that started the run, --load added: the same net is fine
            _same_net(layers_file, checkpoint)
        configs = checkpoint.configs
        if params_file:
            configs = configs[:2] + (params_file, read_text(params_file))
            scale = checkpoint.state.get("lr_scale", 1.0)
            if scale != 1.0 and lr_scale is None:
                note(f"the rates of {params_file} go on multiplied by {scale:g}, as {load}'s were after its "
                     f"--lr-plateau drops ({checkpoint.state.get('drops', 0)} of them; --lr-scale 1 takes them "
                     f"as written)")
        if changes:      # another net: the checkpoint's folder keeps its run
            if checkpoint.epoch > options["epochs"]:      # refused before a folder is made for it
                done = checkpoint.epoch - 1
                raise OptionError(f"{load} has trained {done} epoch{'s' * (done != 1)}, all of --epochs "
                                  f"{options['epochs']}: give more (--epochs {checkpoint.epoch + 9}) for the changed "
                                  f"net to train")
            save_path, fresh_folder = _changed_net_folder(save_path, load, checkpoint)
        save_path = save_path or os.path.dirname(os.path.abspath(load))
    else:
        if not layers_file or not params_file:
            raise OptionError("give --layers and --params (or --load a checkpoint to resume)")
        if lr_scale is not None:
            raise OptionError("--lr-scale goes with --load: a new run's rates are its params file's")
        options = {**DEFAULTS, **{k: given[k] for k in TRAIN_OPTIONS}}
        configs = config_texts(layers_file, params_file)
        fresh_folder = not save_path
        save_path = save_path or _new_run_folder(layers_file)
    if options["data_path"]:         # a checkpoint must find its data from anywhere
        options["data_path"] = os.path.abspath(options["data_path"])
    code = Trainer(options, configs, checkpoint, echo=click.echo, save_path=save_path, fresh_folder=fresh_folder,
                   changes=changes, lr_scale=lr_scale).run()
    sys.exit(code)


@main.command(name="import")
@click.argument("source", type=click.Path())
@click.option("--layers", "layers_file", required=True, type=click.Path(dir_okay=False),
              help="The layer definition file of the cuda-convnet run.")
@click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False),
              help="The layer params file to go on with (its rates; the weights come from SOURCE).")
@data_options
@click.option("--save-path", type=click.Path(file_okay=False),
              help="Where the run's latest.h5 goes (default: runs/<config>-<time>).")
@click.option("--scalar-mean", is_flag=True, help="As for train: a run trained with cuda-convnet's --scalar-mean.")
@click.option("--augment", type=click.Choice(["paper", "2012"]), default="paper", show_default=True,
              help="As for train (2012: its multiview test, its crops' mean).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the data order, augmentation and "
                                                                       "dropout of the training that follows.")
@click.option("--conv-to-local", "conv_to_local", metavar="LAYERS",
              help="The conv layers that the run's own --conv-to-local made local (its checkpoint holds them so).")
@click.option("--unshare-weights", "unshare_weights", metavar="LAYERS",
              help="The matrices that the run's own --unshare-weights gave their own copy.")
def import_checkpoint(source, layers_file, params_file, save_path, conv_to_local, unshare_weights, **given):
    """Make a cuda-convnet checkpoint (a ConvNet__<time> folder or one of its files) a convnet run: its
    weights, biases and momentum in a latest.h5, for test, show, features and train --load."""
    from .import_2012 import import_run
    from .session import DEFAULTS, config_texts
    from .surgery import Changes
    changes = Changes(conv_to_local, unshare_weights)
    options = {**DEFAULTS, **given}
    if options["data_path"]:
        options["data_path"] = os.path.abspath(options["data_path"])
    import_run(source, options, config_texts(layers_file, params_file), save_path or _new_run_folder(layers_file),
               not save_path, click.echo, changes)


def _new_run_folder(layers_file):
    """runs/<config>-<time>: a new run's default folder (SaveFolder adds -2, -3 when it is taken)."""
    stem = os.path.splitext(os.path.basename(layers_file))[0]
    return os.path.join("runs", f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def _changed_net_folder(save_path, load, checkpoint):
    """(folder, fresh): where a checkpoint's net, changed by --conv-to-local or --unshare-weights, trains
    on: --save-path, or a new folder as a new run's; never the checkpoint's own, whose run would lose
    its latest.h5 to a checkpoint of another net."""
    own = os.path.dirname(os.path.abspath(load))
    if save_path is None:
        return _new_run_folder(checkpoint.layers_file), True
    if os.path.isdir(save_path) and os.path.samefile(save_path, own):
        raise OptionError(f"--save-path {save_path}: the folder of {load}, whose run would lose its checkpoints to "
                          f"those of the changed net; give the changed net another --save-path (or none: a new folder)")
    return save_path, False


@main.command()
@click.option("--layers", "layers_file", type=click.Path(dir_okay=False),
              help="The base net (default: configs/alexnet.cfg and its -nolrn, -nonoverlap, -onecolumn variants).")
@click.option("--params", "params_file", type=click.Path(dir_okay=False), help="The base net's params file.")
@click.option("--variant", "variants", multiple=True,
              help="A variant: LAYERS or LAYERS:PARAMS (default params: LAYERS' stem + -params.cfg). Repeat it.")
@data_options
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True, help="Passes over the training range.")
@click.option("--seeds", type=click.IntRange(1), default=3, show_default=True, help="Runs per net, seeds 0..N-1.")
@click.option("--test-freq", type=click.IntRange(1), help="Minibatches between test points (default: one epoch).")
@click.option("--save-freq", type=click.IntRange(1),
              help="Minibatches between checkpoints (latest.h5) besides those of the test points, so that a "
                   "kill loses less (default: at test points only).")
@click.option("--color-noise", type=NonNegative(), default=0.0, show_default=True, help="As for train.")
@click.option("--flip/--no-flip", default=None, help="As for train.")
@click.option("--wupdate-freq", type=click.IntRange(1), default=1, show_default=True, help="As for train.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="runs/ablation", show_default=True,
              help="Where the runs and ablation.md, .json and .png go.")
def ablate(layers_file, params_file, variants, epochs, seeds, out_dir, **given):
    """Train a base net and its variants with the same data and seeds; print and write the paper's
    comparison (top-1 and top-k error, the difference from the base, the paper's difference)."""
    from . import ablate as ab
    from .session import DEFAULTS
    from .trainer import Trainer
    if layers_file is None and not variants:
        layers_file, params_file, variants = ab.DEFAULT
    if layers_file is None or not variants:
        raise OptionError("give --layers (and --params) for the base net and one --variant or more")
    base = (layers_file, params_file or ab.params_beside(layers_file))
    for v in variants:
        if not all(v.split(":", 1)):
            raise OptionError(f"--variant {v!r}: give LAYERS or LAYERS:PARAMS, two file names")
    pairs = ab.load_pairs(base, [tuple(v.split(":", 1)) if ":" in v else (v, ab.params_beside(v)) for v in variants])
    options = {**DEFAULTS, **{k: v for k, v in given.items() if k in TRAIN_OPTIONS}, "epochs": epochs}
    if options["data_path"]:         # a checkpoint must find its data from anywhere
        options["data_path"] = os.path.abspath(options["data_path"])
    runs = [(name, lf, configs, seed, os.path.join(out_dir, name, f"seed-{seed}"))
            for name, lf, pf, configs in pairs for seed in range(seeds)]
    from .session import Data
    fingerprints = Data(options, need_train=False).fingerprints() if any(
        os.path.exists(os.path.join(folder, "latest.h5")) for *_, folder in runs) else None
    found = {folder: ab.reusable(folder, configs, options, epochs, fingerprints) for _, _, configs, _, folder in runs}
    ctx = click.get_current_context()
    # a run continued goes on as it was trained (reusable checked what makes it the same run), but for
    # what says how this command runs it, as for train --load
    here = {k: given[k] for k in ab.RUN_HERE if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    results = {}
    for name, lf, configs, seed, folder in runs:
        click.echo(f"{name}, seed {seed}: {lf}")

        def factory(path, checkpoint, seed=seed, configs=configs):
            if checkpoint is None:
                return Trainer({**options, "seed": seed}, configs, None, echo=click.echo, save_path=path)
            from .opening import fit_to_this_machine
            resumed = {**DEFAULTS, **checkpoint.options, "epochs": epochs, **here}
            fit_to_this_machine(checkpoint.path, resumed, here, resuming=True)
            return Trainer(resumed, checkpoint.configs, checkpoint, echo=click.echo, save_path=path)
        results.setdefault(name, {})[seed] = ab.run_one(factory, folder, found[folder], epochs, click.echo)
    from .config import read_ini
    k = next((s.get("topk") for s in read_ini(pairs[0][3][2], pairs[0][3][3]).values() if "topk" in s), "1")
    rows = ab.summarize(results, "base")
    table = ab.markdown(rows, k, epochs, pairs[0][1])
    ab.write_results(out_dir, rows, results, table)
    click.echo("")
    click.echo(table)
    click.echo(f"\nwrote {os.path.join(out_dir, 'ablation.md')}, ablation.json and ablation.png")


def _same_net(layers_file, checkpoint):
    """A resumed run keeps its net: --layers may name it again, but not another."""
    from .config import first_difference, read_text
    difference = first_difference(layers_file, read_text(layers_file), checkpoint.layers_file, checkpoint.layers_cfg)
    if difference:
        name, where = difference
        raise OptionError(f"--layers {layers_file}: [{name}] {where} the net of {checkpoint.path}; a resumed run "
                          f"keeps its net (leave out --layers, or start a new run with its own --save-path)")


# What says which data a net was trained on; nets averaged in one test should share it.
_TRAINING_DATA = ("data_provider", "data_path", "image_size")


def _restore_for(path, data, options, first, earlier):
    """Another checkpoint's net on the same data (model averaging); a note when it was trained on
    other data than the first checkpoint (another dataset gives numbers, but not those of the paper's
    averaged nets), and when it is one of the earlier nets again (a path given twice, a copy): earlier
    maps the weights' digests of those to their paths."""
    from .checkpoint import Checkpoint
    from .opening import restored_net
    checkpoint = Checkpoint(path)
    digest = checkpoint.arrays_digest
    if digest in earlier:
        note(f"{path} holds the same weights as {earlier[digest]}: the average counts that net twice")
    earlier.setdefault(digest, path)
    differs = [k for k in _TRAINING_DATA if checkpoint.options.get(k) != first.options.get(k)]
    if differs:
        flag = "--" + differs[0].replace("_", "-")
        note(f"{path} was trained on other data than {first.path} ({flag} {checkpoint.options.get(differs[0])}, "
             f"not {first.options.get(differs[0])}); all are tested on the same images")
    return restored_net(checkpoint, data, {**options, "seed": checkpoint.seed})


def _open_checkpoint(load, overrides, need_train=False, unlabelled_ok=False):
    """(checkpoint, data, net, options) for test and features: the checkpoint's net and data, as overridden
    by the options given on the command line. unlabelled_ok: the test range may be the unlabelled test
    images (for what writes scores or features, not errors)."""
    from .opening import open_checkpoint
    ctx = click.get_current_context()
    given = {k: v for k, v in overrides.items() if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    return open_checkpoint(load, given, need_train, unlabelled_ok)


@main.command()
@click.option("--load", required=True, help="The checkpoint to test; several, comma-separated, average their "
                                            "softmax outputs (the paper's several CNNs).")
@data_options
@click.option("--multiview", is_flag=True, help="Average the softmax over ten views: 4 corners, centre, and reflections "
                                                 "(a run trained with --augment 2012 on CIFAR-style data: 9 positions, as the 2012 code).")
@click.option("--predictions", type=click.Path(dir_okay=False),
              help="Write every test image's (averaged) probabilities to this HDF5 file: /probs, /labels.")
@click.option("--submission", type=click.Path(dir_okay=False),
              help="Write every test image's 5 best classes (1-based, best first) to this text file, a line "
                   "each: ILSVRC's submission format (the 2012 code's txt-preds.py).")
@weights_option
@click.option("--fit-weights", is_flag=True,
              help="With several checkpoints: find the weights with the fewest top-k errors on the test range (the "
                   "validation batches), as the 2012 code's avg-valid.py did, and test with them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def test(load, weights_text, fit_weights, multiview, predictions, submission, as_json, **overrides):
    """Cost, top-1 and top-5 error of a checkpoint (or the average of several) on the test range."""
    from . import json_text
    from .evaluate import classifying_layer, evaluate, net_weights, write_predictions
    from .files import check_output_file
    paths = _checkpoint_paths(load)
    weights = net_weights(weights_text, len(paths))
    if fit_weights and weights is not None:
        raise OptionError("--fit-weights finds the weights that --weights gives: give one of them")
    if fit_weights and len(paths) < 2:
        raise OptionError("--fit-weights weights the nets of an average: give --load several checkpoints")
    if predictions:
        check_output_file(predictions, "--predictions")
    if submission:
        check_output_file(submission, "--submission", writes="submission text")
    checkpoint, data, nets, options = _open_nets(paths, overrides, multiview,
                                                 unlabelled_ok=bool(predictions or submission or fit_weights))
    fitted = recorded = None
    if fit_weights:
        weights, fitted, recorded = _fitted_weights(nets, data, multiview, options["mini"], as_json)
    if (predictions or submission) and classifying_layer(nets[0]) is None:
        raise DataError(f"{'--predictions' if predictions else '--submission'}: the net has no cost.logreg, "
                        f"cost.crossent or cost.msm layer: it gives no class probabilities to write")
    kept = [] if predictions or submission else None
    result = evaluate(nets, data, multiview=multiview, mini=options["mini"], predictions=kept, weights=weights,
                      recorded=recorded)
    if predictions:
        shape = write_predictions(predictions, kept, paths, multiview, weights)
        click.echo(f"wrote {predictions}: /probs {shape[0]} x {shape[1]}, /labels", err=as_json)
    if submission:
        from .submission import write_submission
        lines = write_submission(submission, kept)
        click.echo(f"wrote {submission}: the 5 best classes of {lines} images, a line each", err=as_json)
    if len(paths) > 1:
        result["checkpoints"] = paths
    if weights is not None:
        result["weights"] = weights.tolist()
    if fit_weights:
        result["fitted_weights"] = fitted
    if as_json:
        click.echo(json_text.dumps(result))
        return
    if len(paths) > 1:
        checkpoint.history = []          # no one epoch to name
    views = f"multiview ({data.augmentation.view_count} views)" if multiview else "centre crop"
    cost = "n/a" if result["cost"] is None else f"{result['cost']:.4f}"
    top1 = "n/a" if result["top1_error"] is None else f"{100 * result['top1_error']:.2f}%"
    topk = "n/a" if result["topk_error"] is None else f"{100 * result['topk_error']:.2f}%"
    k = result["topk"] or 5
    images = f"{result['cases']} images{' (no labels)' if data.unlabelled else ''}"
    click.echo(f"{paths[0]} (epoch {checkpoint.history[-1]['epoch']:.2f}): cost {cost}, "
               f"top-1 error {top1}, top-{k} error {topk} on {images}, {views}"
               if checkpoint.history else
               f"{paths[0] if len(paths) == 1 else _average_of(weights, len(paths))}: cost {cost}, "
               f"top-1 error {top1}, top-{k} error {topk} on {images}, {views}")


def _fitted_weights(nets, data, multiview, mini, as_json):
    """(weights, the --weights text, the nets' scores): fit_weights on the test range, each pass said in a
    line; the scores, for evaluate's recorded, test the weights without running the nets again."""
    from .evaluate import classifying_layer, net_weights, topk_of
    from .fit_weights import fit_weights, net_scores, weighted_error, weights_text
    layers = [classifying_layer(net) for net in nets]
    if any(layer is None for layer in layers):
        raise DataError("--fit-weights: every net needs a cost.logreg (or a cost.crossent, or a cost.msm) layer, "
                        "whose errors the weights are fitted to")
    if data.unlabelled:
        from .data.provider import format_range
        raise DataError(f"--fit-weights: the test range {format_range(data.test)} is the unlabelled test images: fit "
                        f"the weights on labelled ones (the validation batches), then give them with --weights")
    k = topk_of(layers[0]) or 1
    scores, labels = net_scores(nets, data, multiview, mini)
    say = lambda text: click.echo(text, err=as_json)
    equal = weighted_error(scores, labels, k, [1] * len(nets))
    say(f"fitting the weights of {len(nets)} nets to the top-{k} error on these {labels.size} images "
        f"(the 2012 code's avg-valid.py): equal weights {100 * equal:.2f}%")
    coefficients, _ = fit_weights(scores, labels, k, lambda number, error, found: say(
        f"  pass {number}: {100 * error:.2f}% with --weights {weights_text(found)}"))
    text = weights_text(coefficients)
    say(f"fitted --weights {text}: an error on the images they were fitted to is optimistic; test them on others")
    return net_weights(text, len(nets)), text, scores


def _average_of(weights, count):
    """How the test's line names an average of nets."""
    if weights is None:
        return f"the average of {count} nets"
    return f"the weighted average of {count} nets ({', '.join(f'{w:.4g}' for w in weights)})"


def _checkpoint_paths(load):
    """--load's comma-separated checkpoints (several: model averaging)."""
    paths = [p.strip() for p in load.split(",") if p.strip()]
    if not paths:
        raise OptionError("--load: give a checkpoint")
    return paths


def _open_nets(paths, overrides, multiview, unlabelled_ok=False):
    """(the first checkpoint, data, [the nets of every checkpoint], options) for test and predict."""
    checkpoint, data, net, options = _open_checkpoint(paths[0], overrides, unlabelled_ok=unlabelled_ok)
    if multiview and data.augmentation.border == (0, 0):
        note(f"--multiview on whole images (the net sees them uncropped): its {data.augmentation.view_count} views "
             f"are the same image{' and its reflection' if data.augmentation.view_count == 10 else ''}, "
             f"again and again")
    # digests, not the arrays: five nets of the paper's size would hold 1.2 GB more
    earlier = {checkpoint.arrays_digest: paths[0]} if len(paths) > 1 else {}
    nets = [net] + [_restore_for(path, data, options, checkpoint, earlier) for path in paths[1:]]
    return checkpoint, data, nets, options


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--load", required=True, help="The checkpoint; several, comma-separated, average their softmax "
                                            "outputs (as test).")
@click.option("--top", "k", type=click.IntRange(1), default=5, show_default=True, help="Classes shown per image.")
@click.option("--multiview", is_flag=True, help="Average over the ten views of the multiview test.")
@weights_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@data_options
def predict(images, load, weights_text, k, multiview, as_json, **overrides):
    """The top classes of image files (or folders of them), each prepared as make-data prepares an image
    and seen as the test sees its data."""
    from . import json_text
    from .predict import image_files, predict as run
    from .evaluate import net_weights
    from .show import class_name
    paths = _checkpoint_paths(load)
    weights = net_weights(weights_text, len(paths))
    files = image_files(images)
    _, data, nets, options = _open_nets(paths, overrides, multiview)
    found = run(nets, data, files, k, multiview, options["mini"], weights)
    skipped = [(f, why) for f, why in zip(files, found) if isinstance(why, str)]
    if as_json:
        click.echo(json_text.dumps({
            "checkpoints": paths, "views": data.augmentation.view_count if multiview else 1,
            **({} if weights is None else {"weights": weights.tolist()}),
            "images": [{"file": f, "skipped": row} if isinstance(row, str) else
                       {"file": f, "top": [{"class": c, "name": class_name(data, c), "probability": p} for c, p in row]}
                       for f, row in zip(files, found)]}))
    else:
        for f, row in zip(files, found):
            if not isinstance(row, str):
                click.echo(f"{f}: " + ", ".join(f"{class_name(data, c)} {100 * p:.1f}%" for c, p in row))
    for f, why in skipped:
        note(f"{f}: skipped ({why})")
    if skipped:
        others = "; the others' classes are given" if len(skipped) < len(files) else ""
        raise DataError(f"{len(skipped)} of {len(files)} file{'s' * (len(files) != 1)} could not be read as "
                        f"{'images' if len(files) != 1 else 'an image'} (named above){others}")


@main.command()
@click.option("--load", required=True, help="The checkpoint.")
@click.option("--layers", "names", help="Only these layers, comma-separated (default: every layer).")
@click.option("--batches", type=click.IntRange(1), default=1, show_default=True, help="Minibatches to look at.")
@click.option("--test", "test_mode", is_flag=True, help="Test-range minibatches in test mode (default: the next "
                                                         "training minibatches, dropout on, as training sees them).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: {layers: [...], parameters: [...]}.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the last minibatch's arrays to this HDF5 file.")
@data_options
def inspect(load, names, batches, test_mode, as_json, out, **overrides):
    """Per layer: activation statistics, dead and saturated units, output-gradient norms; per parameter:
    weight, gradient and momentum norms and the update-to-weight ratio."""
    from . import json_text
    from . import inspect as look
    from .solver import Solver
    if out:
        from .files import check_output_file
        check_output_file(out, "--out")
    checkpoint, data, net, options = _open_checkpoint(load, overrides, need_train=not test_mode)
    wanted = None
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in net.graph.by_name]
        if unknown:
            raise OptionError(f"--layers: no layer named {unknown[0]!r} (the net has: "
                              f"{', '.join(l.name for l in net.layers)})")
    solver = Solver(net, lr_scale=checkpoint.state.get("lr_scale", 1.0))
    progress = min(max(checkpoint.epoch - 1, 0) / max(options["epochs"], 1), 1.0)
    layer_rows, param_rows, arrays = look.inspect(
        net, solver, look.minibatches(data, options, checkpoint, batches, not test_mode), train=not test_mode,
        names=wanted, progress=progress, step=checkpoint.step)
    if out:
        look.write_arrays(out, arrays)
    if as_json:
        click.echo(json_text.dumps({"layers": layer_rows, "parameters": param_rows}))
    else:
        click.echo(look.table(layer_rows, param_rows))
    if out:
        click.echo(f"wrote {out}: /activations, /output_grads, /param_grads of the last minibatch", err=as_json)


@main.command()
@click.option("--load", required=True, help="The checkpoint.")
@click.option("--layer", required=True, help="The layer whose outputs to write.")
@click.option("--out", type=click.Path(dir_okay=False), help="The HDF5 file to write.")
@click.option("--out-dir", type=click.Path(file_okay=False),
              help="Instead of --out: a file per test batch in this folder, features_batch_N.h5 (for ranges too "
                   "large for memory; a second call writes only the batches not there).")
@data_options
def features(load, layer, out, out_dir, **overrides):
    """Write a layer's outputs on the test range to HDF5: /features (cases, dims) and /labels."""
    from .features import extract, write_features, write_per_batch
    from .files import check_output_file, check_writable
    if bool(out) == bool(out_dir):
        raise OptionError("give --out FILE.h5 (one file) or --out-dir FOLDER (a file per test batch)")
    if out:
        check_output_file(out, "--out")
    else:
        check_writable(out_dir, "--out-dir")
    checkpoint, data, net, options = _open_checkpoint(load, overrides, unlabelled_ok=True)
    if out_dir:
        write_per_batch(out_dir, net, data, layer, options["mini"], checkpoint.arrays_digest, options, click.echo)
        return
    feats, labels = extract(net, data, layer, options["mini"])
    write_features(out, feats, labels, layer, net[layer].output_shape)
    click.echo(f"wrote {out}: /features {feats.shape[0]} x {feats.shape[1]} of layer {layer}, /labels")


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
    from .session import parse_gpus
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
def make_data(images, out, val_images, val_labels, test_images, size, workers, batch_size):
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
    run(images, out, val_images, val_labels, size, workers, batch_size, echo=click.echo, test_images=test_images)


@main.command()
@click.option("--load", required=True, help="The checkpoint.")
@click.option("--filters", help="Layers whose filters to draw, e.g. conv1a,conv1b (the paper's Figure 3), each "
                                 "layer's on one scale from its lowest weight to its highest, as shownet drew them.")
@click.option("--norm-filters", is_flag=True,
              help="With --filters: each filter standardised (mean 0, variance 1) before the layer's one scale, so "
                   "that weak filters show their pattern too (shownet's --norm-filters).")
@click.option("--no-rgb", is_flag=True,
              help="With --filters: filters that see 3 channels drawn as a grey tile per channel, not in colour "
                   "(shownet's --no-rgb).")
@click.option("--yuv-to-rgb", is_flag=True,
              help="With --filters: 3-channel filters of a net that sees YUV (an rgb2yuv layer) taken back to RGB "
                   "before they are drawn (shownet's --yuv-to-rgb).")
@click.option("--local-plane", type=click.IntRange(min=0),
              help="With --filters on a local layer: its filter N at every position (shownet's --local-plane).")
@click.option("--maps", help="A layer whose feature maps to draw for the first test images (shownet's --show-maps).")
@click.option("--preds", is_flag=True, help="Test images with their top-5 predictions (the paper's Figure 4).")
@click.option("--similar", metavar="LAYERS",
              help="The first test images, each with the 6 training images nearest it in these layers' outputs, "
                   "side by side (the paper's Figure 4, right: its last hidden layer, fc7a,fc7b; --train-range to "
                   "search fewer).")
@click.option("--errors", is_flag=True, help="With --preds: only images the net gets wrong (shownet's --only-errors).")
@click.option("--data-grads", is_flag=True,
              help="The first test images, each above the gradient of the cost with respect to its pixels "
                   "(shownet's --show-data-grad).")
@click.option("--cost", is_flag=True, help="Train and test cost and error over the run.")
@click.option("--grads", is_flag=True, help="Gradient norms, update ratios and dead units over the run (--watch).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The PNG to write.")
@data_options
def show(load, filters, norm_filters, no_rgb, yuv_to_rgb, local_plane, maps, preds, similar, errors, data_grads, cost, grads, out,
         **overrides):
    """Draw what a net learned into a PNG: its filters, feature maps, predictions, learning curves."""
    from . import show as draw
    if not (filters or maps or preds or similar or data_grads or cost or grads):
        raise OptionError("choose what to show: --filters LAYER, --maps LAYER, --preds, --similar LAYER, "
                          "--data-grads, --cost and/or --grads")
    if not out.lower().endswith(".png"):
        raise OptionError(f"--out {out}: show writes a PNG; give a name that ends in .png")
    if errors and not preds:
        raise OptionError("--errors goes with --preds: it chooses which test images they show")
    if local_plane is not None and not filters:
        raise OptionError("--local-plane goes with --filters: it chooses which of a local layer's filters they show")
    for option, given in (("--norm-filters", norm_filters), ("--no-rgb", no_rgb), ("--yuv-to-rgb", yuv_to_rgb)):
        if given and not filters:
            raise OptionError(f"{option} goes with --filters: it chooses how their weights are drawn")
    from .files import check_output_file
    check_output_file(out, "--out", writes="PNG")
    checkpoint, data, net, options = _open_checkpoint(load, overrides, need_train=bool(similar))
    panels = []
    if filters:
        panels.append(draw.filters_panel(net, [n.strip() for n in filters.split(",")], local_plane, norm_filters,
                                         rgb=not no_rgb, yuv=yuv_to_rgb))
    if maps:
        panels.append(draw.maps_panel(net, data, maps.strip()))
    if preds:
        panels.append(draw.preds_panel(net, data, errors=errors, mini=options["mini"]))
    if similar:
        from .similar import similar_panel
        panels.append(similar_panel(net, data, [n.strip() for n in similar.split(",")], mini=options["mini"]))
    if data_grads:
        from .data_grads import data_grads_panel
        panels.append(data_grads_panel(net, data))
    if cost:
        from .evaluate import classifying_layer, topk_of
        panels.append(draw.cost_panel(checkpoint.history, topk_of(classifying_layer(net)) or 5))
    if grads:
        panels.append(draw.grads_panel(checkpoint.watch))
    draw.save(draw.stack(panels), out)
    click.echo(f"wrote {out}")
