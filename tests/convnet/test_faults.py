"""Faults injected into the real command, in subprocesses: a full disk (RLIMIT_FSIZE in the child:
a write past it fails with EFBIG, as on a full disk), signals at random moments, two runs on one
folder, a diverging run and its recovery. Each ends in one line, a non-zero exit, the earlier files
intact and no temporary file left."""
import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest

from convnet.checkpoint import Checkpoint
from tests.helpers import ROOT
from tests.training import FAST, TINY, assert_same_arrays, convnet, start

pytestmark = pytest.mark.slow

ARGS = [*TINY, *FAST, "--test-freq", "5"]


def limited(*args, max_bytes):
    """convnet with files limited to max_bytes, as a disk with that much space left."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    # no bytecode written: a file cut short by the limit would be renamed into the tests' shared cache
    return subprocess.run([sys.executable, "-m", "convnet", *map(str, args)], capture_output=True, text=True,
                          preexec_fn=limit, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def one_line(run, *fragments):
    lines = [line for line in run.stderr.strip().splitlines() if not line.startswith("convnet: note:")]
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
    assert len(lines) == 1 and lines[0].startswith("convnet: error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def temporaries(folder):
    return [name for name in os.listdir(folder) if ".tmp-" in name]


def wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.005)


# ---- full disks -----------------------------------------------------------------------------------

def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path):
    convnet("train", *ARGS, "--epochs", "1", "--save-path", tmp_path)
    latest = tmp_path / "latest.h5"
    before = latest.read_bytes()
    run = limited("train", "--load", latest, "--epochs", "2", max_bytes=len(before) // 2)
    one_line(run, f"{latest}: cannot write it (file too large)", "the previous checkpoint is kept")
    assert latest.read_bytes() == before and temporaries(tmp_path) == []


def test_a_folder_that_cannot_be_written_stops_before_the_first_minibatch(tmp_path):
    start_time = time.time()
    run = limited("train", *ARGS, "--epochs", "1", "--save-path", tmp_path / "run", max_bytes=1000)
    one_line(run, f"{tmp_path / 'run'}: cannot write in the save folder (file too large)")
    assert "epoch" not in run.stdout and time.time() - start_time < 60
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = convnet("train", *ARGS, "--epochs", "1", "--save-path", blocker / "run", check=False)
    one_line(run, f"{blocker / 'run'}: cannot create the save folder (not a directory)")


def test_features_show_and_make_data_on_a_full_disk(tmp_path):
    convnet("train", *ARGS, "--epochs", "1", "--save-path", tmp_path / "run")
    latest = tmp_path / "run/latest.h5"
    run = limited("features", "--load", latest, "--layer", "fc10", "--out", tmp_path / "f.h5", max_bytes=20_000)
    one_line(run, f"{tmp_path / 'f.h5'}: cannot write it (file too large)")
    run = limited("show", "--load", latest, "--filters", "conv1", "--preds", "--out", tmp_path / "s.png",
                  max_bytes=5_000)
    one_line(run, f"{tmp_path / 's.png'}: cannot write it (file too large)")
    from convnet.data.sample_tree import make_tree
    make_tree(tmp_path / "jpegs")
    run = limited("make-data", "--images", tmp_path / "jpegs/train", "--out", tmp_path / "batches", "--size", "32",
                  "--workers", "1", max_bytes=20_000)
    one_line(run, "cannot write it (file too large)")
    assert temporaries(tmp_path) == [] and temporaries(tmp_path / "batches") == []
    run = convnet("show", "--load", latest, "--cost", "--out", tmp_path / "x.txt", check=False)
    assert run.returncode == 2 and "show writes a PNG" in one_line(run)


# ---- signals and kills ----------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_like_ctrl_c(tmp_path, sig):
    whole = tmp_path / "whole"
    convnet("train", *ARGS, "--epochs", "2", "--save-path", whole)
    proc = start("train", *ARGS, "--epochs", "2", "--save-path", tmp_path / "cut")
    wait_for(tmp_path / "cut/latest.h5", proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 128 + sig, stderr
    assert f"interrupted ({signal.Signals(sig).name}): saved" in stdout and "Traceback" not in stderr
    convnet("train", "--load", tmp_path / "cut/latest.h5")
    assert_same_arrays(whole / "latest.h5", tmp_path / "cut/latest.h5")


def test_kills_at_random_moments_leave_a_checkpoint_that_loads_and_no_temporary(tmp_path):
    rng = random.Random(5)
    folder = tmp_path / "run"
    for attempt in range(6):
        args = ["--load", folder / "latest.h5"] if (folder / "latest.h5").exists() else [*ARGS, "--save-path", folder]
        proc = start("train", *args, "--epochs", str(50 + attempt))
        time.sleep(1.5 + rng.random() * 2.0)           # start-up, then somewhere in training or in a write
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if (folder / "latest.h5").exists():
            Checkpoint(folder / "latest.h5")           # loads: never half a file
    (folder / f"latest.h5.tmp-{2 ** 22 + 17}").write_bytes(b"left by a dead process")
    proc = start("train", "--load", folder / "latest.h5", "--epochs", "60")
    deadline = time.time() + 60
    while temporaries(folder) and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    assert not [t for t in temporaries(folder) if t.endswith(str(2 ** 22 + 17))]


def test_a_second_run_on_the_same_folder_is_refused_until_the_first_ends(tmp_path):
    folder = tmp_path / "run"
    first = start("train", *ARGS, "--epochs", "100", "--save-path", folder)
    wait_for(folder / "latest.h5", first)
    second = convnet("train", *ARGS, "--epochs", "1", "--save-path", folder, check=False)
    line = one_line(second, f"{folder}: in use (pid {first.pid}: ")
    assert "--save-path" in line
    first.send_signal(signal.SIGKILL)
    first.communicate()
    convnet("train", "--load", folder / "latest.h5", "--epochs", "1", "--save-path", folder)   # the lock went with it


# ---- divergence -----------------------------------------------------------------------------------

def test_a_diverging_run_keeps_its_last_finite_checkpoint_and_resumes_with_lower_rates(tmp_path):
    folder = tmp_path / "run"
    convnet("train", *ARGS, "--epochs", "1", "--save-path", folder)
    good = (folder / "latest.h5").read_bytes()
    wild = tmp_path / "wild.cfg"
    wild.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("epsW=0.001", "epsW=50"))
    run = convnet("train", "--load", folder / "latest.h5", "--params", wild, "--epochs", "2", check=False)
    line = one_line(run, f"training stopped; the last good checkpoint is {folder / 'latest.h5'}")
    assert "NaN" in line or "nan" in line or "inf" in line
    assert (folder / "latest.h5").read_bytes() == good
    convnet("train", "--load", folder / "latest.h5", "--params", ROOT / "tests/configs/tiny-params.cfg",
            "--epochs", "2")
    assert Checkpoint(folder / "latest.h5").epoch == 3
    nan = tmp_path / "nan.cfg"
    nan.write_text((ROOT / "tests/configs/tiny-params.cfg").read_text().replace("epsW=0.001", "epsW=nan"))
    run = convnet("train", "--load", folder / "latest.h5", "--params", nan, "--epochs", "3", check=False)
    assert run.returncode == 2 and "epsW" in one_line(run)
    early = convnet("train", "--layers", TINY[1], "--params", wild, *FAST, "--save-path", tmp_path / "new", check=False)
    one_line(early, "training stopped; no checkpoint was written yet. Lower the learning rates (epsW, epsB) and "
                    "start again.")


# ---- resuming with the command that started the run -----------------------------------------------

def test_resume_with_the_same_command_and_load_added(tmp_path):
    folder = tmp_path / "run"
    convnet("train", *ARGS, "--epochs", "1", "--save-path", folder)
    run = convnet("train", "--load", folder / "latest.h5", "--epochs", "1")
    assert f"{folder / 'latest.h5'} has already trained its 1 epoch: nothing to do." in run.stdout
    convnet("train", *ARGS, "--epochs", "2", "--save-path", folder, "--load", folder / "latest.h5")
    assert Checkpoint(folder / "latest.h5").epoch == 3
    other = tmp_path / "other.cfg"
    other.write_text((ROOT / "tests/configs/tiny.cfg").read_text().replace("filters=8", "filters=16"))
    run = convnet("train", "--layers", other, "--params", TINY[3], "--load", folder / "latest.h5", "--epochs", "3",
                  check=False)
    assert run.returncode == 2
    one_line(run, f"--layers {other}: [conv1] differs from the net of {folder / 'latest.h5'}")
    run = convnet("train", "--load", folder / "latest.h5", "--epochs", "2")
    assert "has already trained its 2 epochs" in run.stdout and "--epochs" in run.stdout
    run = convnet("train", "--load", folder / "latest.h5", "--epochs", "1")
    assert f"{folder / 'latest.h5'} has trained 2 epochs, more than the 1 of --epochs: nothing to do. To train " \
           f"longer, resume with --epochs 12" in run.stdout


def test_a_new_run_never_overwrites_the_checkpoints_of_another(tmp_path):
    """The same command run twice, or a resumed run pointed at another run's folder, is refused
    before training: it would overwrite that run's latest.h5 and best.h5 at its first test point."""
    folder, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    convnet("train", *ARGS, "--epochs", "1", "--save-path", folder)
    convnet("train", *ARGS, "--epochs", "1", "--seed", "3", "--save-path", elsewhere)
    kept = {name: (folder / name).read_bytes() for name in ("latest.h5", "best.h5")}
    again = convnet("train", *ARGS, "--epochs", "1", "--save-path", folder, check=False)
    assert again.returncode == 2
    one_line(again, f"{folder} already holds a run ({folder / 'latest.h5'}); resume it with --load "
                    f"{folder / 'latest.h5'}, or give this run its own --save-path")
    moved = convnet("train", "--load", elsewhere / "latest.h5", "--epochs", "2", "--save-path", folder, check=False)
    assert moved.returncode == 2 and f"{folder} already holds a run" in moved.stderr
    assert {name: (folder / name).read_bytes() for name in kept} == kept
    # resuming the folder's own run, from latest.h5 or from best.h5, is what the folder is for
    convnet("train", "--load", folder / "best.h5", "--epochs", "2", "--save-path", folder)
    assert Checkpoint(folder / "latest.h5").epoch == 3
    done = convnet("train", "--load", folder / "best.h5", "--epochs", "2")
    assert f"{folder / 'best.h5'} has already trained its 2 epochs" in done.stdout


def test_resuming_from_an_earlier_checkpoint_keeps_the_later_latest(tmp_path):
    """--load best.h5 (or an older copy) in its own folder goes back there, as asked; the training after
    it, in latest.h5 (and best.h5 if it came later), is kept under a name with its step rather than
    replaced at the first test point."""
    import shutil
    folder = tmp_path / "run"
    convnet("train", *ARGS, "--epochs", "1", "--save-path", folder)
    shutil.copy(folder / "latest.h5", folder / "epoch-1.h5")
    convnet("train", "--load", folder / "latest.h5", "--epochs", "2")
    later = (folder / "latest.h5").read_bytes()
    shutil.copy(folder / "latest.h5", folder / "best.h5")     # the best was found by the later training
    best = (folder / "best.h5").read_bytes()
    run = convnet("train", "--load", folder / "epoch-1.h5", "--epochs", "3")
    kept = folder / "latest-step-40.h5"
    assert f"epoch-1.h5 is behind {folder / 'latest.h5'} (step 20, not 40): the run goes on from it, and the " \
           f"later checkpoint is kept as {kept}" in run.stderr
    assert kept.read_bytes() == later and Checkpoint(folder / "latest.h5").epoch == 4
    # the first test point better than epoch-1.h5's best would have replaced it, perhaps with a worse one
    assert (folder / "best-step-40.h5").read_bytes() == best
    assert f"is behind {folder / 'best.h5'} (step 20, not 40): the run goes on from it, and the later " \
           f"checkpoint is kept as {folder / 'best-step-40.h5'}" in run.stderr
    again = convnet("train", "--load", folder / "latest.h5", "--epochs", "4")      # behind nothing: no note
    assert "is behind" not in again.stderr
    assert sorted(p.name for p in folder.glob("*.h5")) == sorted(
        ["best.h5", "best-step-40.h5", "epoch-1.h5", "latest-step-40.h5", "latest.h5"])


def test_a_file_system_without_locks_is_said_and_not_taken_for_a_folder_in_use(tmp_path, monkeypatch):
    """Lustre without -o flock, NFS without lockd: flock fails with another errno than a held lock's;
    the run goes on there (unguarded, with a note) rather than be refused as if another held it."""
    import errno
    import fcntl
    from convnet import notes
    from convnet.save_folder import FolderInUse, SaveFolder
    said = []
    monkeypatch.setattr(notes, "_sink", said.append)

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")
    with monkeypatch.context() as m:
        m.setattr(fcntl, "flock", no_locks)
        folder = SaveFolder(tmp_path / "run")
    folder.release()
    assert any("its file system takes no locks (no locks available): nothing stops a second process" in s
               for s in said), said
    held = SaveFolder(tmp_path / "run")         # a held lock is still a folder in use
    with pytest.raises(FolderInUse, match=r"run: in use \(pid \d+: "):
        SaveFolder(tmp_path / "run")
    held.release()


def test_runs_started_in_the_same_second_without_a_save_path_each_get_a_folder(tmp_path):
    """Seeds launched in parallel (a loop of `&`, a Slurm array) start in the same second: the
    default folder runs/<config>-<time> of the first is taken, so the others get <time>-2, -3..."""
    from convnet.save_folder import SaveFolder
    taken = tmp_path / "runs/tiny-20261202-010203"
    first, second, third = (SaveFolder(taken, fresh=True) for _ in range(3))
    assert [f.path for f in (first, second, third)] == [str(taken), f"{taken}-2", f"{taken}-3"]
    for f in (first, second, third):
        f.release()
    now = time.time()        # every default name of the next two minutes taken: the run must take another
    names = {time.strftime("tiny-%Y%m%d-%H%M%S", time.localtime(now + t)) for t in range(120)}
    for name in names:
        (tmp_path / "runs" / name).mkdir()
    run = convnet("train", *ARGS, "--epochs", "1", cwd=tmp_path)
    made = sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name not in names | {taken.name} and
                  not p.name.startswith(taken.name))
    assert len(made) == 1 and made[0].endswith("-2") and made[0][:-2] in names
    assert f"checkpoints in runs/{made[0]}" in run.stdout
    assert (tmp_path / "runs" / made[0] / "latest.h5").exists()


def _no_gpu_here():
    from convnet.backends import get_backend
    from convnet.errors import BackendError
    try:
        get_backend("cuda")
    except BackendError:
        return True
    return False


@pytest.mark.skipif(not _no_gpu_here(), reason="needs a machine where the cuda backend cannot run")
def test_a_checkpoint_trained_on_a_gpu_opened_where_there_is_none(tmp_path):
    """The cluster's run, looked at on a laptop: test (features, inspect, show) computes it on numpy
    with a note, and gives the numbers numpy gives; resuming it says how to go on on the CPU."""
    import h5py
    import json
    import shutil
    convnet("train", *ARGS, "--epochs", "1", "--save-path", tmp_path / "run")
    gpu = tmp_path / "gpu.h5"
    shutil.copy(tmp_path / "run/latest.h5", gpu)
    with h5py.File(gpu, "r+") as f:                   # as the cuda backend would have saved it
        options = json.loads(f.attrs["options"])
        f.attrs["options"] = json.dumps({**options, "backend": "cuda", "gpu": "0"})
        del f.attrs["digest"]
    on_numpy = convnet("test", "--load", tmp_path / "run/latest.h5", "--json").stdout
    looked = convnet("test", "--load", gpu, "--json")
    assert json.loads(looked.stdout) == json.loads(on_numpy)
    assert f"convnet: note: {gpu} was trained on cuda, and " in looked.stderr
    assert "numpy computes it here (--backend to choose)" in looked.stderr
    assert looked.stderr.count("convnet: note:") == 1, looked.stderr        # no word of --gpu or --tf32 on numpy
    resumed = convnet("train", "--load", gpu, "--epochs", "2", "--save-path", tmp_path / "more", check=False)
    assert resumed.returncode == 1
    one_line(resumed, f"{gpu} was trained on cuda, and ", "give --backend numpy to resume it on the CPU")
    assert not (tmp_path / "more").exists()
    convnet("train", "--load", gpu, "--epochs", "2", "--save-path", tmp_path / "more", "--backend", "numpy")
