"""convnet inspect, features and show: what a trained net holds and does."""
from contextlib import nullcontext

import click

from .cli import _open_checkpoint, data_options, main, run_folder_latest
from .errors import OptionError
from .progress import progress_of


@main.command()
@click.option("--load", callback=run_folder_latest, required=True,
              help="The checkpoint (or a run's folder: its latest.h5).")
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
    from .notes import unsaid
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
    # the rates are those of the run's next update, where its training goes on (a note says where, when
    # the options moved it; not for --test, which looks at no training minibatch)
    with unsaid() if test_mode else nullcontext():
        epoch, start = look.next_position(data, options, checkpoint)
    layer_rows, param_rows, arrays = look.inspect(
        net, solver, look.minibatches(data, options, checkpoint, batches, not test_mode, start),
        train=not test_mode, names=wanted, progress=look.progress_at(data, options, epoch, start),
        step=checkpoint.step)
    if out:
        look.write_arrays(out, arrays)
    if as_json:
        click.echo(json_text.dumps({"layers": layer_rows, "parameters": param_rows}))
    else:
        click.echo(look.table(layer_rows, param_rows))
    if out:
        click.echo(f"wrote {out}: /activations, /output_grads, /param_grads of the last minibatch", err=as_json)


@main.command()
@click.option("--load", callback=run_folder_latest, required=True,
              help="The checkpoint (or a run's folder: its latest.h5).")
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
    with progress_of(f"features of {layer}", data) as bar:
        feats, labels = extract(net, data, layer, options["mini"], on_batch=bar.advance)
    write_features(out, feats, labels, layer, net[layer].output_shape)
    click.echo(f"wrote {out}: /features {feats.shape[0]} x {feats.shape[1]} of layer {layer}, /labels")


@main.command()
@click.option("--load", callback=run_folder_latest, required=True,
              help="The checkpoint (or a run's folder: its latest.h5).")
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
