"""The `convnet` command. Every user error is one line on stderr and a non-zero exit, never a traceback."""
import sys

import click

from .errors import ConvnetError


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConvnetError as e:
            click.echo(f"convnet: error: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="convnet")
def main():
    """cuda-convnet, the program that trained AlexNet, re-created in Python on CuPy."""


def config_options(f):
    f = click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False),
                     help="The layer params file (learning rates and the like).")(f)
    f = click.option("--layers", "layers_file", required=True, type=click.Path(dir_okay=False),
                     help="The layer definition file.")(f)
    return f


@main.command()
@config_options
@click.option("--input-size", type=click.IntRange(1), help="Images are SIZE x SIZE (when no data provider says).")
@click.option("--channels", type=click.IntRange(1), default=3, show_default=True, help="Channels of the input images.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def describe(layers_file, params_file, input_size, channels, as_json):
    """The net's layers: type, inputs, device, output shape, parameters and multiply-adds per image."""
    from .describe import describe_json, describe_table
    from .graph import load_graph
    if input_size is None:
        raise ConvnetError("give the image size with --input-size (224 for the paper's nets, 32 for CIFAR)")
    graph = load_graph(layers_file, params_file, [(channels, input_size, input_size), (1,)])
    click.echo(describe_json(graph) if as_json else describe_table(graph))


@main.command("check-grads")
@config_options
@click.option("--input-size", type=click.IntRange(1), default=8, show_default=True, help="Images are SIZE x SIZE.")
@click.option("--channels", type=click.IntRange(1), default=3, show_default=True, help="Channels of the input images.")
@click.option("--mini", type=click.IntRange(1), default=3, show_default=True, help="Images in the random batch.")
@click.option("--backend", type=click.Choice(["numpy", "emulated", "cuda"]), default="numpy", show_default=True,
              help="Whose analytic gradients to check (numpy in float64; emulated and cuda in float32).")
@click.option("--samples", type=click.IntRange(1), default=12, show_default=True, help="Elements checked per tensor.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the weights and the batch.")
def check_grads(layers_file, params_file, input_size, channels, mini, backend, samples, seed):
    """Analytic gradients against float64 central differences, for every layer; exit 1 on a failure."""
    from .gradcheck import check_gradients
    rows, tolerance = check_gradients(layers_file, params_file, input_size=input_size, channels=channels,
                                      mini=mini, backend=backend, samples=samples, seed=seed)
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
