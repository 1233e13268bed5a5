"""The progress line of long work (an epoch, a test, the scoring of --fit-weights, features): drawn in
place on a terminal's stderr, wiped before the result line, and absent from a log or a pipe."""
import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from convnet import progress
from convnet.progress import Progress
from tests.training import FAST, TINY, convnet, strict_json, tiny_checkpoint


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_line_shows_the_bar_the_count_the_rate_and_the_time_left_and_is_wiped_by_clear(monkeypatch):
    clock = iter([10.0, 11.0, 12.0, 12.05, 14.0])        # the start (not 0: rates are since it), then each show
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = Terminal()
    bar = Progress("testing", 400, stream=out)
    bar.advance(100)                                     # 100 images in 1 s: no pace yet for the time left
    bar.advance(100)                                     # 100 more in 1 s: 200 to go, 2 s
    bar.advance(100)                                     # 0.05 s after the last: not drawn
    bar.advance(100)                                     # the end is always drawn
    first = "  testing [=======                       ] 100/400 100 images/s "
    second = "  testing [===============               ] 200/400 100 images/s, 0m02s left "
    last = "  testing [==============================] 400/400 100 images/s ".ljust(len(second))
    assert out.getvalue() == "\r" + first + "\r" + second + "\r" + last
    bar.clear()
    assert out.getvalue().endswith(last + "\r" + " " * len(second) + "\r")
    bar.clear()                                          # nothing left to wipe
    assert out.getvalue().endswith(last + "\r" + " " * len(second) + "\r")


def test_the_time_left_is_in_minutes_and_seconds_and_from_an_hour_on_in_hours_and_minutes():
    assert [progress._duration(s) for s in (0, 59.9, 245, 3599, 3600, 7620, 90061)] == \
        ["0m00s", "0m59s", "4m05s", "59m59s", "1h00m", "2h07m", "25h01m"]


def test_a_shorter_line_covers_the_longer_one_before_it():
    out = Terminal()
    bar = Progress("epoch 1", 100, stream=out)
    bar.show(100, rate=12345)
    bar.drawn = None
    bar.show(100, rate=5)
    long, short = out.getvalue().split("\r")[1:]
    assert len(short) == len(long) and short.rstrip().endswith("100/100 5 images/s")


@pytest.mark.parametrize("columns, bar", [(200, 30), (80, 30), (60, 21), (45, 6), (43, 0), (30, 0)])
def test_the_line_fits_the_terminal_the_bar_giving_way_first(monkeypatch, columns, bar):
    monkeypatch.setattr(Progress, "_columns", lambda self: columns)
    out = Terminal()
    Progress("testing", 50000, stream=out).show(12345, rate=987)
    line = out.getvalue()[1:]
    assert len(line) <= columns - 1                      # the last column left free: no wrap
    if bar:
        filled = int(bar * 12345 / 50000)
        assert line == f"  testing [{'=' * filled}{' ' * (bar - filled)}] 12345/50000 987 images/s "
    else:
        assert "[" not in line and line == "  testing 12345/50000 987 images/s "[:columns - 1]


def test_a_log_or_a_pipe_gets_nothing():
    out = io.StringIO()
    bar = Progress("testing", 10, stream=out)
    bar.advance(5)
    bar.clear()
    assert out.getvalue() == "" and bar.done == 5


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory)


def on_a_terminal(*args):
    """convnet with its stderr on a terminal (a pseudo-terminal): (stdout, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))    # 200 columns: room for all
    run = subprocess.Popen([sys.executable, "-m", "convnet", *map(str, args)], stdout=subprocess.PIPE,
                           stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:                  # the child has closed its end
            break
        if not chunk:
            break
        seen += chunk
    stdout = run.stdout.read()
    assert run.wait() == 0, seen
    os.close(master)
    return stdout, seen.decode()


def wiped(text, label):
    """Each of label's lines ends wiped: the last drawing of it, then spaces as long, then a return."""
    drawn = [part for part in text.split("\r") if part.startswith(f"  {label} [")]
    assert drawn, text
    return f"\r{drawn[-1]}\r{' ' * len(drawn[-1])}\r" in text


def test_convnet_test_shows_its_images_on_a_terminal_and_prints_the_same_result(checkpoint):
    stdout, terminal = on_a_terminal("test", "--load", checkpoint, "--json")
    assert "  testing [==============================] 2000/2000 " in terminal and wiped(terminal, "testing")
    assert strict_json(stdout) == strict_json(convnet("test", "--load", checkpoint, "--json").stdout)


def test_training_shows_its_epoch_and_its_test_points_on_a_terminal(tmp_path):
    stdout, terminal = on_a_terminal("train", *TINY, *FAST, "--epochs", "1", "--save-path", tmp_path / "r")
    assert "  epoch 1 [==============================] 20/20 " in terminal and wiped(terminal, "epoch 1")
    assert "  testing [==============================] 2000/2000 " in terminal and wiped(terminal, "testing")
    assert "\r" not in stdout and "images/s " not in stdout        # the lines of a log, and nothing else
    assert [line.split()[0] for line in stdout.splitlines()[3:]] == ["1.20"]


def test_features_show_their_images_on_a_terminal(checkpoint, tmp_path):
    stdout, terminal = on_a_terminal("features", "--load", checkpoint, "--layer", "fc10", "--out", tmp_path / "f.h5")
    assert "  features of fc10 [==============================] 2000/2000 " in terminal
    assert wiped(terminal, "features of fc10") and stdout.startswith("wrote ")


def test_the_search_for_similar_images_shows_the_training_images_on_a_terminal(checkpoint, tmp_path):
    stdout, terminal = on_a_terminal("show", "--load", checkpoint, "--similar", "fc10", "--out", tmp_path / "s.png")
    assert "  searching the training images [==============================] 2000/2000 " in terminal
    assert wiped(terminal, "searching the training images") and stdout.startswith("wrote ")


def test_predict_shows_its_files_on_a_terminal(checkpoint, tmp_path):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    stdout, terminal = on_a_terminal("predict", "--load", checkpoint, tmp_path)
    assert "  reading and classifying [==============================] 3/3 " in terminal
    assert wiped(terminal, "reading and classifying") and len(stdout.splitlines()) == 3


def test_make_data_shows_its_images_on_a_terminal(tmp_path):
    subprocess.run([sys.executable, "-m", "convnet.data.sample_tree", tmp_path / "tree"], check=True,
                   capture_output=True)
    stdout, terminal = on_a_terminal("make-data", "--images", tmp_path / "tree/train", "--out", tmp_path / "b",
                                     "--size", 32, "--batch-size", 6, "--workers", 1)
    assert "  making batches [" in terminal and wiped(terminal, "making batches")
    drawn = [part for part in terminal.split("\r") if part.startswith("  making batches [")]
    assert drawn[-1].startswith("  making batches [==============================] 18/18 ")
    assert "18 images found, 15 written" in stdout


def test_bench_shows_its_steps_on_a_terminal():
    stdout, terminal = on_a_terminal("bench", *TINY, "--input-size", 32, "--mini", 16, "--backend", "numpy",
                                     "--warmup", 1, "--repeat", 2)
    # 1 warm-up step, 2 timed, 2 back to back, 3 passes of the per-layer series: 8 of 16 images
    assert "  timing training steps [==============================] 128/128 " in terminal
    assert wiped(terminal, "timing training steps") and "images/s" in stdout


def test_a_count_without_a_rate_says_what_is_under_way_and_cuts_that_first(monkeypatch):
    monkeypatch.setattr(Progress, "_columns", lambda self: 70)
    out = Terminal()
    Progress("checking gradients", 13, stream=out, unit=None).show(4, doing="conv2_neuron_of_a_long_name")
    line = out.getvalue()[1:]
    assert line == "  checking gradients [=========                     ] 4/13: conv2_neu" and len(line) == 69


def test_check_grads_shows_its_layers_on_a_terminal():
    stdout, terminal = on_a_terminal("check-grads", *TINY)
    drawn = [part for part in terminal.split("\r") if part.startswith("  checking gradients [")]
    assert drawn[0].startswith("  checking gradients [                              ] 0/7: conv1 ")
    assert wiped(terminal, "checking gradients") and stdout.splitlines()[-1].startswith("all 7 layers within")
