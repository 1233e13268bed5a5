"""convnet.files: the temporaries a killed process left are removed, and those of live ones kept."""
import errno
import os
import subprocess
import sys

from convnet.files import describe, remove_stale_temporaries


def dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_the_temporaries_of_ended_processes_are_removed(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {"dead": f"latest.h5.tmp-{dead_pid()}", "live": f"latest.h5.tmp-{live.pid}",
                 "mine": f"best.h5.tmp-{os.getpid()}", "other": "notes.tmp-x", "plain": "latest.h5"}
        for name in names.values():
            (tmp_path / name).write_bytes(b"x")
        assert remove_stale_temporaries(tmp_path) == [names["dead"]]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for k, n in names.items() if k != "dead")
    finally:
        live.kill()
        live.wait()
    assert remove_stale_temporaries(tmp_path / "no such folder") == []


def test_an_os_error_is_described_by_its_cause():
    assert describe(OSError(errno.ENOSPC, "No space left on device", "x.h5")) == "no space left on device"
    assert describe(ValueError("bad\nsecond line")) == "bad" and describe(KeyError()) == "KeyError"
