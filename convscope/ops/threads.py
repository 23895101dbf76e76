"""Work on all cores: NumPy's copies run on one core, its BLAS on all of them.

Two ways to use the other cores, both on worker threads (NumPy releases the GIL in its copies and
GEMMs):

- :func:`split_rows` splits one large copy (max unpooling's scatter, nearest upsampling) into
  contiguous pieces, one per core.
- :func:`split_samples` splits a batch between the cores, each part computed whole (copies and
  GEMMs) with the BLAS on one thread per worker.  A layer's GEMMs then run side by side instead
  of one after another on all cores, and so do the copies around them, which otherwise leave the
  other cores idle.

The BLAS's thread count is OpenBLAS's own setting (``openblas_set_num_threads``), reached through
``ctypes`` in the OpenBLAS that NumPy's wheels bundle.  Where none is found (NumPy built on another
BLAS), :func:`split_samples` runs its work on the calling thread, as before.  The setting is global
to the process: it is changed only while a split runs, under a lock, and put back afterwards; a
second split started meanwhile (from another thread) runs on its caller's thread.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple, TypeVar

import numpy as np

__all__ = ["split_rows", "split_samples", "worker_count", "PARALLEL_MIN_BYTES"]

T = TypeVar("T")

#: Below this many output bytes a copy is not worth splitting across threads.
PARALLEL_MIN_BYTES = 4 * 2**20

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_split_lock = threading.Lock()
_inside = threading.local()  # set in a worker while it runs a split's part


class _BlasThreads(NamedTuple):
    get: Callable[[], int]
    set: Callable[[int], None]


# (set, get) symbol pairs of OpenBLAS builds: NumPy >= 2's scipy-openblas (64-bit integers or not),
# NumPy 1.x's openblas64_, and a plain build.
_OPENBLAS_SYMBOLS = [("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                     ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                     ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                     ("openblas_set_num_threads", "openblas_get_num_threads")]


def _numpy_openblas_paths() -> list[str]:
    """The OpenBLAS libraries bundled with NumPy's wheels (``numpy.libs`` on Linux and Windows,
    ``numpy/.dylibs`` on macOS)."""
    package = os.path.dirname(np.__file__)
    patterns = [os.path.join(package, os.pardir, "numpy.libs", "*openblas*"),
                os.path.join(package, ".dylibs", "*openblas*")]
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


@functools.lru_cache(maxsize=1)
def _openblas() -> _BlasThreads | None:
    """NumPy's OpenBLAS thread setting, or None where NumPy does not bundle an OpenBLAS with one."""
    for path in _numpy_openblas_paths():
        try:
            library = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same library
        except OSError:
            continue
        for set_name, get_name in _OPENBLAS_SYMBOLS:
            setter, getter = getattr(library, set_name, None), getattr(library, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.argtypes, getter.restype = [ctypes.c_int], None, [], ctypes.c_int
                return _BlasThreads(getter, setter)
    return None


def worker_count() -> int:
    """Threads for a split: the BLAS's own thread count (so ``OPENBLAS_NUM_THREADS`` or a
    ``threadpoolctl`` limit applies here too), or the machine's cores where that is unknown."""
    blas = _openblas()
    return max(1, blas.get()) if blas is not None else (os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="convscope")
        return _pool


def _run_parts(work: Callable[[int, int], T], bounds: list[int]) -> list[T]:
    """``work`` over each ``[bounds[k], bounds[k + 1])``, results in order: the first part on the
    calling thread, the others on the pool's (one thread fewer to wake, and the caller's caches
    stay warm).  A part's exception is raised here, after every part has finished."""
    def part(lo: int, hi: int) -> T:
        _inside.active = True
        try:
            return work(lo, hi)
        finally:
            _inside.active = False
    futures = [_executor().submit(part, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    try:
        first = part(bounds[0], bounds[1])
    finally:
        errors = [future.exception() for future in futures]
    for error in errors:
        if error is not None:
            raise error
    return [first] + [future.result() for future in futures]


def _bounds(total: int, workers: int) -> list[int]:
    return [total * k // workers for k in range(workers + 1)]


def split_rows(fill: Callable[[int, int], None], rows: int, nbytes: int) -> None:
    """Call ``fill(lo, hi)`` over ``[0, rows)``, split across the machine's cores when the work is
    large.  For NumPy copies only, which release the GIL: a single-threaded copy leaves the
    other cores idle while PyTorch's kernels use them all.  Inside a split's part (already one
    core's share) it runs on the calling thread."""
    workers = min(worker_count(), os.cpu_count() or 1, rows)
    if workers < 2 or nbytes < PARALLEL_MIN_BYTES or getattr(_inside, "active", False):
        fill(0, rows)
        return
    _run_parts(fill, _bounds(rows, workers))


def split_samples(work: Callable[[int, int], T], batch: int) -> list[T]:
    """``[work(b0, b1) for each part]`` of the batch ``[0, batch)``: one contiguous part per worker
    thread (:func:`worker_count`), each run with a single-threaded BLAS, or ``[work(0, batch)]`` on
    the calling thread where that cannot be done (one worker or sample, no OpenBLAS thread
    setting found, another split running, or called from inside a split)."""
    blas = _openblas()
    workers = min(worker_count(), os.cpu_count() or 1, batch)
    if workers < 2 or blas is None or getattr(_inside, "active", False) or not _split_lock.acquire(blocking=False):
        return [work(0, batch)]
    try:
        threads = blas.get()
        blas.set(1)
        try:
            return _run_parts(work, _bounds(batch, workers))
        finally:
            blas.set(threads)
    finally:
        _split_lock.release()
