"""C++ compiled on the user's machine into a shared library, once: the emulated backend's kernels and
the numpy backend's direct convolution.

Libraries are cached in $CONVNET_CACHE (default ~/.cache/convnet), named by a hash of everything that
went into them (the program, the compiler, its flags, and whatever else the caller says the result
depends on, such as the CPU a -march=native build is for). A build goes to a temporary file that is
renamed into place, so two processes building the same library at once both end with a whole one.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile

from .files import describe


class BuildError(Exception):
    """The compiler failed: the message is its first error line."""


def compiler():
    """The host C++ compiler: $CXX, else g++, else c++ (None when there is none)."""
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def cache_dir():
    return os.environ.get("CONVNET_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "convnet")


def library_path(kind, name, program, compiler, flags, depends=()):
    """Where the library built from `program` lives in the cache (it may not exist yet)."""
    digest = hashlib.sha256()
    for part in [program, compiler, " ".join(flags), *depends]:
        digest.update(part.encode())
    return os.path.join(cache_dir(), kind, f"{name}-{digest.hexdigest()[:16]}.so")


def build(program, compiler, flags, path, fallback_flags=None, libraries=()):
    """Compile `program` (C++ text) into the shared library `path`, linked with `libraries` (-l flags,
    which go after the program). When the compiler rejects `flags` and fallback_flags is given, tries
    those (a compiler without OpenMP, say). A cache or temporary folder that cannot be written, or a
    compiler that cannot be run, is a BuildError naming it."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as e:
        raise _unwritable_cache(e) from None
    try:
        tmp = tempfile.mkdtemp()
    except OSError as e:
        raise BuildError(f"no temporary folder in {tempfile.gettempdir()} ({describe(e)}): set TMPDIR to "
                         f"another") from None
    try:
        _build(program, compiler, flags, path, fallback_flags, list(libraries), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unwritable_cache(e):
    return BuildError(f"the kernel cache {cache_dir()} cannot be written ({describe(e)}): set CONVNET_CACHE to a "
                      f"folder that can")


def _build(program, compiler, flags, path, fallback_flags, libraries, tmp):
    cpp, out = os.path.join(tmp, "program.cpp"), os.path.join(tmp, "program.so")
    try:
        with open(cpp, "w") as f:
            f.write(program)
    except OSError as e:
        raise BuildError(f"{cpp}: {describe(e)} (the build's temporary folder; set TMPDIR to another)") from None
    try:
        run = subprocess.run([compiler, *flags, cpp, *libraries, "-o", out], capture_output=True, text=True)
        if run.returncode != 0 and fallback_flags is not None:
            run = subprocess.run([compiler, *fallback_flags, cpp, *libraries, "-o", out], capture_output=True,
                                 text=True)
    except OSError as e:
        raise BuildError(f"{compiler}: {describe(e)}") from None
    if run.returncode != 0:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line] or lines or [f"exit status {run.returncode}, no message"]
        raise BuildError(errors[0].strip())
    # Into the cache's folder first (the temporary folder may be on another file system), then
    # renamed: a reader never sees half a library.
    partial = f"{path}.{os.getpid()}.partial"
    try:
        shutil.move(out, partial)
        os.replace(partial, path)
    except OSError as e:
        raise _unwritable_cache(e) from None
    finally:
        if os.path.exists(partial):         # a full disk: nothing half-written stays behind
            os.remove(partial)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()
