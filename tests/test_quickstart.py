"""The README's promises, run as the README writes them (slow: minutes)."""
import glob
import re

import pytest

from tests.helpers import ROOT
from tests.training import convnet, evaluate, parse_test_lines


def readme_command(name):
    """The README's command that starts with `convnet <name>`, as written there."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^(convnet {name} [^\n]*)$", text, re.M)
    assert m, f"the README has no `convnet {name}` command"
    return m.group(1).split()[1:]


@pytest.mark.slow
def test_quick_start_reaches_90_percent_and_convnet_test_agrees(tmp_path):
    args = readme_command("train --layers configs/layers.cfg")
    out = convnet(*[str(ROOT / a) if a.startswith("configs/") else a for a in args], cwd=tmp_path)
    last = parse_test_lines(out.stdout)[-1]
    assert last[4] <= 10.0, out.stdout                   # top-1 error of the last test line
    (checkpoint,) = glob.glob(str(tmp_path / "runs/*/latest.h5"))
    result = evaluate(checkpoint)
    assert (round(result["cost"], 4), round(100 * result["top1_error"], 2)) == (last[3], last[4])


@pytest.mark.slow
def test_softmax_regression_on_raw_pixels_stays_under_50_percent(tmp_path):
    out = convnet("train", "--layers", ROOT / "configs/softmax-regression.cfg",
                  "--params", ROOT / "configs/softmax-regression-params.cfg", "--epochs", "10",
                  "--save-path", tmp_path)
    accuracy = 100 - min(line[4] for line in parse_test_lines(out.stdout))
    assert accuracy < 50, out.stdout


@pytest.mark.slow
def test_the_readme_imagenet_commands(tmp_path):
    """Generate the sample tree, prepare it, train the paper's net on it for a few minibatches, test it
    with --multiview, and write the submission for its unlabelled test images, with the README's
    commands as written."""
    import subprocess
    import sys
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## ImageNet"):]
    block = block[block.index("```") + 3:]
    commands = block[:block.index("```")].split("\n")
    commands = [c.split() for c in commands if c.strip()]
    assert [c[:2] for c in commands] == [["python", "-m"], ["convnet", "make-data"], ["convnet", "train"],
                                          ["convnet", "test"], ["convnet", "test"]]
    subprocess.run([sys.executable, *commands[0][1:]], cwd=tmp_path, check=True, capture_output=True)
    out = convnet(*commands[1][1:], cwd=tmp_path).stdout
    assert "27 images found, 24 written, 3 skipped, 3 converted" in out
    assert "test batches 3: the unlabelled test images" in out       # the range the last command tests
    out = convnet(*[str(ROOT / a) if a.startswith("configs/") else a for a in commands[2][1:]], cwd=tmp_path).stdout
    assert "net input 3x224x224" in out and len(parse_test_lines(out)) == 1
    out = convnet(*commands[3][1:], cwd=tmp_path).stdout
    assert "multiview (10 views)" in out and "on 5 images" in out
    out = convnet(*commands[4][1:], cwd=tmp_path).stdout
    assert "on 4 images (no labels)" in out
    lines = (tmp_path / "sample-submission.txt").read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split()) == 5 for line in lines)
