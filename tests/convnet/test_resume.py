"""A run stopped by SIGKILL or Ctrl-C and resumed with --load ends with the weights, bit for bit, of
the same run never stopped: the data order, the crops, the colour noise and the dropout masks are all
drawn again exactly."""
import signal
import time

from convnet.checkpoint import Checkpoint
from tests.training import FAST, TINY, arrays, assert_same_arrays, convnet, start

ARGS = [*TINY, *FAST, "--epochs", "3", "--test-freq", "7", "--crop", "28", "--color-noise", "0.1"]
TOTAL_STEPS = 3 * 20


def wait_for_checkpoint(proc, path, timeout=120):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.005)


def test_sigkill_then_resume_equals_the_uninterrupted_run(tmp_path):
    convnet("train", *ARGS, "--save-path", tmp_path / "whole")
    proc = start("train", *ARGS, "--save-path", tmp_path / "cut")
    latest = tmp_path / "cut/latest.h5"
    wait_for_checkpoint(proc, latest)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    stopped_at = Checkpoint(latest).step
    assert 7 <= stopped_at < TOTAL_STEPS
    convnet("train", "--load", latest)
    assert Checkpoint(latest).step == TOTAL_STEPS
    assert_same_arrays(tmp_path / "whole/latest.h5", latest)
    assert Checkpoint(latest).history == Checkpoint(tmp_path / "whole/latest.h5").history


def test_ctrl_c_saves_and_the_resumed_run_ends_the_same(tmp_path):
    convnet("train", *ARGS, "--save-path", tmp_path / "whole")
    proc = start("train", *ARGS, "--save-path", tmp_path / "cut")
    latest = tmp_path / "cut/latest.h5"
    wait_for_checkpoint(proc, latest)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 130, stderr
    assert "interrupted (Ctrl-C): saved" in stdout and "Traceback" not in stderr
    assert Checkpoint(latest).step < TOTAL_STEPS
    convnet("train", "--load", latest)
    assert_same_arrays(tmp_path / "whole/latest.h5", latest)


def test_a_supereps_run_resumed_equals_the_uninterrupted_one(tmp_path):
    """superEps steps by the gradient over its running standard deviation: the running means are part
    of what a checkpoint holds (resumed without them, the first step divided by sqrt(superEps) and the
    run diverged)."""
    params = tmp_path / "super.cfg"
    params.write_text(open(TINY[3]).read().replace("wc=", "superEps=0.001\nwc=").replace("epsW=0.001", "epsW=0.0001"))
    args = [TINY[0], TINY[1], "--params", params, *FAST]
    convnet("train", *args, "--epochs", "2", "--save-path", tmp_path / "whole")
    convnet("train", *args, "--epochs", "1", "--save-path", tmp_path / "cut")
    assert "conv1/weights_grad_mean_square/0" in arrays(tmp_path / "cut/latest.h5")[0]
    import shutil
    shutil.copytree(tmp_path / "cut", tmp_path / "once")
    convnet("train", "--load", tmp_path / "cut/latest.h5", "--epochs", "2")
    assert_same_arrays(tmp_path / "whole/latest.h5", tmp_path / "cut/latest.h5")
    # resumed updating every step, the sums saved go into the first update, and none is kept after it
    convnet("train", "--load", tmp_path / "once/latest.h5", "--epochs", "2", "--wupdate-freq", "1")
    assert not [k for k in arrays(tmp_path / "once/latest.h5")[0] if "grad_sum" in k]


def test_a_run_saved_between_two_updates_of_wupdate_freq_resumes_exactly(tmp_path):
    """At --mini 300 an epoch is 7 minibatches: with --wupdate-freq 2 the first epoch ends between two
    updates, and its checkpoint holds the gradients summed so far."""
    args = [*TINY, "--train-range", "1", "--mini", "300", "--wupdate-freq", "2", "--seed", "5"]
    convnet("train", *args, "--epochs", "2", "--save-path", tmp_path / "whole")
    convnet("train", *args, "--epochs", "1", "--save-path", tmp_path / "cut")
    saved, attrs = arrays(tmp_path / "cut/latest.h5")
    assert attrs["step"] == 7 and "fc10/weights_grad_sum/0" in saved and "fc10/biases_grad_sum" in saved
    import shutil
    shutil.copytree(tmp_path / "cut", tmp_path / "once")
    convnet("train", "--load", tmp_path / "cut/latest.h5", "--epochs", "2")
    assert_same_arrays(tmp_path / "whole/latest.h5", tmp_path / "cut/latest.h5")
    # resumed updating every step, the sums saved go into the first update, and none is kept after it
    convnet("train", "--load", tmp_path / "once/latest.h5", "--epochs", "2", "--wupdate-freq", "1")
    assert not [k for k in arrays(tmp_path / "once/latest.h5")[0] if "grad_sum" in k]


def test_a_checkpoint_of_save_freq_between_test_points_resumes_exactly(tmp_path):
    """--save-freq 2 with test points 7 apart: killed as soon as its first checkpoint is there (step 2,
    or a few later), the run resumes from a checkpoint that is no test point, and ends as the run never
    stopped, test points and all."""
    convnet("train", *ARGS, "--save-path", tmp_path / "whole")
    proc = start("train", *ARGS, "--save-freq", "2", "--save-path", tmp_path / "cut")
    latest = tmp_path / "cut/latest.h5"
    wait_for_checkpoint(proc, latest)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    saved = Checkpoint(latest)
    assert saved.step % 2 == 0 and saved.step < 7 and saved.history == []
    assert not (tmp_path / "cut/best.h5").exists()          # best.h5 is a test point's
    convnet("train", "--load", latest)
    assert_same_arrays(tmp_path / "whole/latest.h5", latest)
    assert Checkpoint(latest).history == Checkpoint(tmp_path / "whole/latest.h5").history
    assert Checkpoint(latest).options["save_freq"] == 2     # kept for the resumed run
