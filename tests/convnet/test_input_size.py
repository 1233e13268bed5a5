"""A net too large for the image size given on the command line: the error names the smallest size it takes."""
from click.testing import CliRunner

from convnet.cli import main
from tests.helpers import DATA_LAYERS, ROOT, SOFTMAX_COST, write

# conv1 (5x5, no padding, stride 1) leaves SIZE-4; conv2 (3x3) needs 3 of them: the smallest size is 7
SMALL = DATA_LAYERS + """
[conv1]
type=conv
inputs=data
channels=3
filters=4
filterSize=5
initW=0.1

[conv2]
type=conv
inputs=conv1
channels=4
filters=4
filterSize=3
initW=0.1

[fc]
type=fc
inputs=conv2
outputs=10
initW=0.1
""" + SOFTMAX_COST

PARAMS = """
[conv1]
epsW=0.01
epsB=0.02
momW=0.9
momB=0.9
wc=0

[conv2]
epsW=0.01
epsB=0.02
momW=0.9
momB=0.9
wc=0

[fc]
epsW=0.01
epsB=0.02
momW=0.9
momB=0.9
wc=0

[unused]
epsW=0.01
"""


def run(*args):
    return CliRunner().invoke(main, list(args))


def files(tmp_path):
    return write(tmp_path, "small.cfg", SMALL), write(tmp_path, "small-params.cfg", PARAMS)


def test_a_size_too_small_names_the_smallest_the_net_takes(tmp_path):
    layers, params = files(tmp_path)
    for command in (["check-grads"], ["describe"], ["bench", "--mini", "2"]):
        result = run(*command, "--layers", layers, "--params", params, "--input-size", "6")
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if "error" in line]
        assert errors == [f"convnet: error: {layers}: [conv2] filterSize: is 3, larger than input 'conv1' (2x2) with padding 0 "
                          f"(at --input-size 6; the smallest size this net takes is 7)"], result.output
    assert run("describe", "--layers", layers, "--params", params, "--input-size", "7").exit_code == 0


def test_the_notes_of_the_sizes_tried_are_not_printed(tmp_path):
    """The params file's [unused] section gets its note once, from the load at the size given."""
    layers, params = files(tmp_path)
    result = run("describe", "--layers", layers, "--params", params, "--input-size", "2")
    assert result.exit_code == 2
    assert result.output.count("[unused]") == 1, result.output
    assert result.output.splitlines()[-1].endswith("(at --input-size 2; the smallest size this net takes is 7)")


def test_the_paper_net_at_check_grads_default_size(tmp_path):
    result = run("check-grads", "--layers", str(ROOT / "configs/alexnet.cfg"),
                 "--params", str(ROOT / "configs/alexnet-params.cfg"))
    assert result.exit_code == 2
    assert result.output.rstrip().endswith("(at --input-size 8; the smallest size this net takes is 36)")
    assert run("describe", "--layers", str(ROOT / "configs/alexnet.cfg"), "--params",
               str(ROOT / "configs/alexnet-params.cfg"), "--input-size", "36").exit_code == 0


def test_no_size_is_named_where_none_fits(tmp_path):
    """A shape error that no size mends (the net wants 3 channels, the images have 1) is said as it was."""
    layers, params = files(tmp_path)
    result = run("check-grads", "--layers", layers, "--params", params, "--channels", "1")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (f"convnet: error: {layers}: [conv1] channels: is 3 but input 'data' "
                                              f"has 1 channels")
