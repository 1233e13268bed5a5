"""Every file convnet writes goes through here: whole or not at all, and one line when it cannot.

A file is built in memory (an HDF5 file through h5py on a BytesIO, a PNG into bytes), then written
with plain file I/O to `<path>.tmp-<pid>`, fsynced and renamed over `path`. HDF5 itself never
touches the disk: its C library does not survive a failed write (a full disk or `ulimit -f` in the
middle of H5Fclose ends in a segfault, after pages of HDF5 errors), while a plain write fails with
an OSError that names its cause. On any failure the temporary file is removed, the earlier file at
`path` is intact, and WriteError says which file and why ("no space left on device").

Temporary files of processes that died in the middle (SIGKILL) are removed by `remove_stale_temporaries`
when a run starts in the same folder.
"""
import errno
import io
import os
import re

import h5py

from .errors import ConvnetError, OptionError


class WriteError(ConvnetError):
    """A file that could not be written: the disk, a quota, permissions."""


def describe(e):
    """An OSError's cause in words: 'no space left on device', 'permission denied'..."""
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno).lower()
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def printable(path):
    """A path as text that UTF-8 files, HDF5 strings and any terminal take: bytes of a name that are not
    UTF-8 (written under another system's encoding), which Python holds as surrogates to open the file
    by, are written as \\xNN."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_bytes(path, data):
    """data (bytes or a buffer) as the file at path, atomically."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _remove_quietly(tmp)
        raise WriteError(f"{path}: cannot write it ({describe(e)}); nothing was changed there") from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def write_buffer(path, buffer):
    """A BytesIO's contents as the file at path, atomically, without copying them. The view of its
    memory is released however the write ends: one kept alive by a traceback (a caller holding the
    WriteError) made the BytesIO's close at garbage collection fail ("BufferError: Existing exports
    of data", printed by Python 3.13)."""
    with buffer.getbuffer() as view:
        write_bytes(path, view)


def write_hdf5(path, fill):
    """An HDF5 file at path: fill(f) writes into an h5py.File built in memory."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        fill(f)
    write_buffer(path, buffer)


def remove_file(path):
    """Remove the file at path if there is one; WriteError if it cannot be removed."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise WriteError(f"{path}: cannot remove it ({describe(e)})") from None


def read_hdf5(path):
    """An HDF5 file open for reading, without HDF5's file lock. Every file convnet writes is built whole
    and renamed into place, so a reader never meets one half written; the lock only fails: on file
    systems without flock (NFS, Lustre as clusters often mount them: 'unable to lock file') and while
    another program holds the file open for writing (h5py in a notebook, HDFView)."""
    return h5py.File(path, "r", locking=False)


def copy_file(src, dst):
    """dst as a copy of src, atomically (the best checkpoint)."""
    with open(src, "rb") as f:
        data = f.read()
    write_bytes(dst, data)


def check_writable(folder, what="the save folder"):
    """Create folder if needed and prove that a file can be written there, before any work."""
    folder = os.fspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise WriteError(f"{folder}: cannot create {what} ({describe(e)})") from None
    if not os.path.isdir(folder):
        raise WriteError(f"{folder}: {what} is a file, not a folder")
    try:
        _probe(folder)
    except OSError as e:
        raise WriteError(f"{folder}: cannot write in {what} ({describe(e)})") from None


# How the files convnet writes begin: an existing file that does not is no earlier output of ours.
SIGNATURES = {"HDF5": b"\x89HDF\r\n\x1a\n", "PNG": b"\x89PNG\r\n\x1a\n"}
# What an earlier output of each format begins with: the signatures, and the one text file convnet
# writes (test --submission: lines of class numbers).
STARTS = {**{kind: re.compile(re.escape(signature)) for kind, signature in SIGNATURES.items()},
          "submission text": re.compile(rb"\d+( \d+)*\r?\n")}


def check_output_file(path, option, writes="HDF5"):
    """Prove that the file an option names can be written (its folder exists and takes a file)
    before the work whose result it holds: a features pass over the test range is not thrown away
    for a mistyped folder. writes: the format written, which an existing file must have (a config
    or a script given as --out by mistake is not replaced)."""
    path = os.fspath(path)
    kind = _precious(path) or _another_format(path, writes)
    if kind:
        raise OptionError(f"{option} {path}: is {kind}, which this would replace; give another name; nothing "
                          f"was done")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        _probe(folder)
    except OSError as e:
        if os.path.isdir(folder):
            cause = describe(e)
        else:
            cause = f"{'not a folder' if os.path.exists(folder) else 'no folder'} {os.path.dirname(path)}"
        raise WriteError(f"{option} {path}: cannot write it ({cause}); nothing was done") from None


def _precious(path):
    """What an existing file at path holds that no output may replace: a checkpoint, a make-data batch
    or its meta.h5 (an HDF5 file by its attributes and datasets); None for anything else."""
    from .checkpoint import FORMAT
    if not os.path.isfile(path):
        return None
    try:
        with read_hdf5(path) as f:
            if f.attrs.get("format") == FORMAT:
                return "a checkpoint"
            if "digest" in f.attrs and "images" in f:
                return "a batch of make-data's"
            if "class_names" in f and "batch_sizes" in f:
                return "make-data's meta.h5"
    except Exception:          # not HDF5, or unreadable: nothing of ours
        return None
    return None


def _another_format(path, writes):
    """'a file that is not <format>' for an existing, non-empty file that does not begin as `writes` does."""
    try:
        with open(path, "rb") as f:
            start = f.read(256)
    except OSError:             # not there (or unreadable: the write says why)
        return None
    if not start or STARTS[writes].match(start):
        return None
    return f"a file that is not {writes}"


def _probe(folder):
    """Write, sync and remove a small file in folder (OSError if it cannot)."""
    probe = os.path.join(folder, f".convnet-write-test-{os.getpid()}")
    try:
        with open(probe, "wb") as f:
            f.write(b"0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    finally:
        _remove_quietly(probe)


_TEMPORARY = re.compile(r"^(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def remove_stale_temporaries(folder):
    """Remove `*.tmp-<pid>` files left in folder by processes that are no longer running."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if match and not _alive(int(match.group("pid"))):
            _remove_quietly(os.path.join(folder, name))
            removed.append(name)
    return removed


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:            # someone else's process
        return True
    except OSError as e:
        return e.errno != errno.ESRCH
    return True


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass
