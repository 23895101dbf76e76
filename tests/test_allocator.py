"""``convscope.ops.allocator``: with glibc's thresholds set, arrays of megabytes reuse freed memory
instead of faulting in fresh pages.  Checked in child processes (the setting lasts for the process)."""
import ctypes
import subprocess
import sys

import pytest

from convscope import cli
from convscope.ops import allocator

SCRIPT = """
import resource, sys
import numpy as np
from convscope.ops.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None

def step():  # a training step's pattern: activations of a few MB kept alive together, then all freed
    kept = [np.ones(n) for n in (800_000, 200_000, 800_000, 400_000, 800_000, 100_000)]
    del kept

for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _has_mallopt() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "mallopt") and sys.platform.startswith("linux")
    except OSError:
        return False


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not _has_mallopt(), reason="glibc's mallopt is not available here")
def test_freed_memory_is_reused_instead_of_faulting_in_fresh_pages():
    applied, kept = _faults("keep")
    assert applied == "True"
    _, default = _faults("default")
    # 50 steps of 25 MB: about 100,000 fresh pages by default (measured), none once freed memory is kept
    assert kept < 1_000 and default > 20_000, (kept, default)


def test_the_command_line_keeps_freed_memory(monkeypatch):
    """The library never changes the allocator by itself; ``convscope`` (the main job) does."""
    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True))
    assert cli.main(["shape", "conv2d", "--input", "1,3,32,32", "--kernel", "3"]) == 0
    assert calls == [True]
    assert allocator.MMAP_THRESHOLD <= allocator.TRIM_THRESHOLD
