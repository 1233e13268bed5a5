"""A training run's folder: checked for writing before any work, held by one run at a time, and
cleared of the temporary files that killed runs left behind.

The hold is an OS lock (flock) on `<folder>/.lock`, which the kernel releases when the process ends,
however it ends (SIGKILL included): no stale lock to remove by hand. The lock file names the holder
(pid and command), so that a second run can say which run it would have overwritten.
"""
import errno
import fcntl
import itertools
import os
import sys

from .errors import ConvnetError
from .files import WriteError, check_writable, describe, remove_stale_temporaries
from .notes import note

LOCK = ".lock"


class FolderInUse(ConvnetError):
    """Another process (a training, a make-data) holds the folder."""


class FolderLock:
    """A folder held by this process alone until release() or its end. advice: what to do instead when
    another process holds it (the message names that process and its command: a training, a make-data)."""

    def __init__(self, path, advice):
        self.path = os.fspath(path)
        self._fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                # a file system without locks (NFS without lockd, Lustre without -o flock): work goes on
                # there, unguarded, rather than be refused as if the folder were in use
                note(f"{self.path}: its file system takes no locks ({describe(e)}): nothing stops a second "
                     f"process from writing here at the same time")
            else:
                holder = os.read(self._fd, 1000).decode("utf-8", "replace").strip() or "another process"
                os.close(self._fd)
                raise FolderInUse(f"{self.path}: in use ({holder}); {advice}") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"pid {os.getpid()}: {' '.join(sys.argv)}".encode("utf-8", "surrogateescape"))

    def release(self):
        if self._fd is not None:
            os.close(self._fd)            # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class SaveFolder(FolderLock):
    """fresh: path is a default name (runs/<config>-<time>): if it is taken, path-2, path-3, ... is
    made instead, so that runs started in the same second (seeds launched in parallel) each get one."""

    def __init__(self, path, fresh=False):
        path = _unused(os.fspath(path)) if fresh else os.fspath(path)
        check_writable(path)
        super().__init__(path, "wait for it to end, or give this one its own --save-path")
        self.removed = remove_stale_temporaries(self.path)

    def file(self, name):
        return os.path.join(self.path, name)


def _unused(path):
    """path or path-N, the first that did not exist, created now: mkdir is atomic, so two processes
    never get the same one."""
    check_writable(os.path.dirname(path) or ".", "the folder of runs")
    for n in itertools.count(1):
        candidate = path if n == 1 else f"{path}-{n}"
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            continue
        except OSError as e:
            raise WriteError(f"{candidate}: cannot create the save folder ({describe(e)})") from None
