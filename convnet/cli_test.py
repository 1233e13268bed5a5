"""convnet test and predict: a checkpoint's errors and classes, or those of several averaged."""
import click

from .cli import _open_checkpoint, data_options, main, run_folder_latest, weights_option
from .errors import DataError, OptionError
from .notes import note
from .progress import Progress, progress_of


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


@main.command()
@click.option("--load", callback=run_folder_latest, required=True,
              help="The checkpoint to test (or a run's folder: its latest.h5); several, comma-separated, average "
                   "their softmax outputs (the paper's several CNNs).")
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
    with progress_of("testing", data) as testing:
        result = evaluate(nets, data, multiview=multiview, mini=options["mini"], predictions=kept, weights=weights,
                          recorded=recorded, on_batch=testing.advance)
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
    views = (f"multiview ({data.augmentation.view_count} views)" if multiview else
             "centre crop" if data.augmentation.cropping else "uncropped")
    cost = "n/a" if result["cost"] is None else f"{result['cost']:.4f}"
    top1 = "n/a" if result["top1_error"] is None else f"{100 * result['top1_error']:.2f}%"
    # a net that counts no top-k error (a cost.crossent) has no such part; one without labels, n/a
    topk = "" if result["topk"] is None else f", top-{result['topk']} error " + (
        "n/a" if result["topk_error"] is None else f"{100 * result['topk_error']:.2f}%")
    images = f"{result['cases']} images{' (no labels)' if data.unlabelled else ''}"
    click.echo(f"{paths[0]} (epoch {checkpoint.history[-1]['epoch']:.2f}): cost {cost}, "
               f"top-1 error {top1}{topk} on {images}, {views}"
               if checkpoint.history else
               f"{paths[0] if len(paths) == 1 else _average_of(weights, len(paths))}: cost {cost}, "
               f"top-1 error {top1}{topk} on {images}, {views}")


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
    with progress_of(f"scoring {len(nets)} nets", data) as scoring:
        scores, labels = net_scores(nets, data, multiview, mini, on_batch=scoring.advance)
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
    if multiview and not data.augmentation.cropping:
        note(f"--multiview on whole images (the net sees them uncropped): its {data.augmentation.view_count} views "
             f"are the same image{' and its reflection' if data.augmentation.view_count == 10 else ''}, "
             f"again and again")
    # digests, not the arrays: five nets of the paper's size would hold 1.2 GB more
    earlier = {checkpoint.arrays_digest: paths[0]} if len(paths) > 1 else {}
    nets = [net] + [_restore_for(path, data, options, checkpoint, earlier) for path in paths[1:]]
    return checkpoint, data, nets, options


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--load", callback=run_folder_latest, required=True,
              help="The checkpoint (or a run's folder: its latest.h5); several, comma-separated, average their "
                   "softmax outputs (as test).")
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
    with Progress("reading and classifying", len(files)) as bar:
        found = run(nets, data, files, k, multiview, options["mini"], weights, on_batch=bar.advance)
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
