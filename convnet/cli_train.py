"""convnet train, import and ablate: the commands that make runs."""
import os
import sys
import time

import click
from click.core import ParameterSource

from .cli import SEED, TRAIN_OPTIONS, NonNegative, data_options, main, run_folder_latest
from .errors import OptionError
from .notes import note


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
@click.option("--load", callback=run_folder_latest,
              help="Resume from this checkpoint (or a run's folder: its latest.h5), exactly where it stopped.")
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
    for number, (name, lf, configs, seed, folder) in enumerate(runs, 1):
        click.echo(f"{name}, seed {seed}: {lf} (run {number} of {len(runs)})")

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
