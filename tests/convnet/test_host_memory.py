"""host_memory.keep_freed_memory: a freed block of an activation's size stays resident in the process
for the next step, where without it glibc unmaps it on free. Each case runs in a process of its own,
since malloc's settings are the whole process's. (Whether the heap's top is trimmed is not seen here:
this block is not at the top.)"""
import os
import subprocess
import sys

import pytest

BLOCK = 50_000_000          # bytes: above glibc's largest mmap threshold (32 MiB), as activations are

SCRIPT = f"""
import sys
import numpy as np
from convnet.host_memory import keep_freed_memory

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * {os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0}

if sys.argv[1] == "keep":
    print(keep_freed_memory(), keep_freed_memory())
base = resident()
block = np.ones({BLOCK} // 8)           # touched: every page resident
used = resident() - base
del block
print(used, resident() - base)
"""

pytestmark = pytest.mark.skipif(not (sys.platform.startswith("linux") and os.path.exists("/proc/self/statm")
                                     and "CS_GNU_LIBC_VERSION" in os.confstr_names
                                     and os.confstr("CS_GNU_LIBC_VERSION")),
                                reason="glibc's malloc on Linux, whose resident memory /proc tells")


def run(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_a_freed_block_stays_for_the_next_step():
    took, again, used, kept = run("keep")
    assert took == again == "True"                    # it took effect, and a second call says so again
    assert int(used) >= 0.95 * BLOCK and int(kept) >= 0.95 * BLOCK


def test_without_it_glibc_gives_the_block_back():
    """What the test above tells apart: the same block, freed in a process that did not ask."""
    used, kept = run("plain")
    assert int(used) >= 0.95 * BLOCK and int(kept) < 0.05 * BLOCK
