"""A training run's folder: checked for writing before any work, held by one run at a time, and
cleared of the temporary files that killed runs left behind.

The hold is an OS lock (flock) on `<folder>/.lock`, which the kernel releases when the process ends,
however it ends (SIGKILL included): no stale lock to remove by hand. The lock file names the holder
(pid and command), so that a second run can say which run it would have overwritten.
"""
import fcntl
import os
import sys

from .errors import ConvnetError
from .files import check_writable, remove_stale_temporaries

LOCK = ".lock"


class FolderInUse(ConvnetError):
    """Another run trains into the same folder."""


class SaveFolder:
    def __init__(self, path):
        self.path = os.fspath(path)
        check_writable(self.path)
        self._fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(self._fd, 1000).decode("utf-8", "replace").strip() or "another process"
            os.close(self._fd)
            raise FolderInUse(f"{self.path}: another training is saving here ({holder}); wait for it to end, "
                              f"or give this one its own --save-path") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"pid {os.getpid()}: {' '.join(sys.argv)}".encode())
        self.removed = remove_stale_temporaries(self.path)

    def release(self):
        if self._fd is not None:
            os.close(self._fd)            # closing the descriptor releases the lock
            self._fd = None

    def file(self, name):
        return os.path.join(self.path, name)
