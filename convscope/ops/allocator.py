"""glibc's allocator and arrays of megabytes: keep freed memory for the next array.

By default glibc serves a request of at least its mmap threshold (128 KiB, raised after frees up to
32 MiB) with fresh pages from the system, and hands freed memory at the top of its heap back beyond
its trim threshold (twice the mmap threshold).  A training step, or a layer's call, allocates and
frees arrays of megabytes each time, so each time they land on fresh pages, and every first write to
a fresh page faults.  Measured on this 2-core virtual machine: a LeNet training step (batch 128) took
5,377 page faults and 11 ms of system time, 35 ms in all; with both thresholds set here, 0.5 faults
and 24 ms.  torch's allocations on the CPU go through the same malloc: its 7x7 s2 3->64 layer at
224x224 (batch 8) took 19-24 ms by default and 6.7 ms with these settings.

Setting the thresholds changes the whole process and lasts, so the library never does it by itself:
convscope's command line does (the training job included), and so do the benchmarks, for both
libraries alike.  The cost: up to ``TRIM_THRESHOLD`` of freed memory stays with the process.
"""
from __future__ import annotations

import ctypes
import functools

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: Arrays below this size come from the heap and reuse freed memory (the benchmarks' largest
#: outputs, Conv1d's and Conv3d's, are 34 and 51 MB).
MMAP_THRESHOLD = 64 * 2**20
#: Freed memory at the top of the heap that the process keeps.
TRIM_THRESHOLD = 256 * 2**20

# mallopt's parameters in glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process (once); True where that was done,
    False where the C library has no ``mallopt`` (macOS, Windows) or refused the settings."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
