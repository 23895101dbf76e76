"""Work on all cores: NumPy's copies run on one core, its BLAS on all of them.

Two ways to use the other cores, both on worker threads (NumPy releases the GIL in its copies and
GEMMs):

- :func:`split_rows` splits one large copy (max unpooling's scatter, nearest upsampling) into
  contiguous pieces, claimed in turn by the caller and one worker per other core.
- :func:`split_samples` splits a batch between the cores, each part computed whole (copies and
  GEMMs) with the BLAS on one thread per worker.  A layer's GEMMs then run side by side instead
  of one after another on all cores, and so do the copies around them, which otherwise leave the
  other cores idle.

The work runs on worker threads of convscope's own, one per CPU the process may use and pinned to
it (a batch's parts while the caller waits).  Unpinned, Linux wakes a thread on its waker's CPU
when it deems that cache-friendly and moves it away only at a later load balancing: measured on
the 3x3 128->128 s2 layer, the first three or four calls after a pause ran both parts on one CPU
while the other idled (12–16 ms a call against 7.3–7.5; pinned: 8.7 for the first, then 7.3–7.5).

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
import itertools
import os
import queue
import threading
from concurrent.futures import Future
from typing import Callable, NamedTuple, TypeVar

import numpy as np

__all__ = ["split_rows", "split_samples", "worker_count", "PARALLEL_MIN_BYTES"]

T = TypeVar("T")

#: Below this many output bytes a copy is not worth splitting across threads.
PARALLEL_MIN_BYTES = 4 * 2**20
#: Pieces per thread in :func:`split_rows`, claimed in turn by whichever thread is free.
ROW_PIECES_PER_WORKER = 4
#: Whether :func:`split_samples` splits at all.  A split call's GEMMs run on one-thread BLAS, whose
#: results OpenBLAS may round differently from its multi-threaded ones in the last bits, and whether a
#: call splits depends on what else runs at the time: set ``CONVSCOPE_SPLIT=0`` (or this to False)
#: for results that never depend on that.
SPLIT_SAMPLES = os.environ.get("CONVSCOPE_SPLIT", "1") != "0"

_workers: list[queue.SimpleQueue] | None = None  # one task queue per worker thread
_worker_cpus: list[int | None] = []  # the CPU each worker is pinned to
_worker_ids: set[int] = set()  # their native thread ids
_workers_lock = threading.Lock()
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


def _cpus() -> list[int | None]:
    """The CPUs the worker threads are pinned to (None: not pinned, where the platform cannot)."""
    if hasattr(os, "sched_getaffinity") and hasattr(os, "sched_setaffinity"):
        return sorted(os.sched_getaffinity(0))
    return [None] * (os.cpu_count() or 1)


def _worker(tasks: queue.SimpleQueue, cpu: int | None) -> None:
    _worker_ids.add(threading.get_native_id())
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:  # the CPU was taken from the process meanwhile: run unpinned
            pass
    _inside.active = True  # work submitted from a part runs on that part's thread
    while True:
        fn, lo, hi, future, float_errors = tasks.get()
        try:
            # NumPy's floating-point error handling is per thread: the caller's (an op's silenced
            # warnings for NaN and inf) holds for its parts too
            with np.errstate(**float_errors):
                future.set_result(fn(lo, hi))
        except BaseException as error:  # handed to the caller, which raises it
            future.set_exception(error)


def _worker_queues() -> list[queue.SimpleQueue]:
    global _workers, _worker_cpus
    with _workers_lock:
        if _workers is None:
            _workers, _worker_cpus = [], _cpus()
            for cpu in _worker_cpus:
                tasks: queue.SimpleQueue = queue.SimpleQueue()
                threading.Thread(target=_worker, args=(tasks, cpu), daemon=True,
                                 name=f"convscope-{len(_workers)}").start()
                _workers.append(tasks)
        return _workers


@functools.lru_cache(maxsize=1)
def _sched_getcpu() -> Callable[[], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (OSError, AttributeError, TypeError):  # not glibc/Linux
        return None


def _queues_beside_caller() -> list[queue.SimpleQueue]:
    """The task queues of the workers pinned to CPUs other than the one the caller runs on (all
    but the last worker's where that is unknown): a worker on the caller's CPU would share it."""
    workers = _worker_queues()
    getcpu = _sched_getcpu()
    cpu = getcpu() if getcpu is not None else -1
    if cpu in _worker_cpus:
        return [tasks for tasks, worker_cpu in zip(workers, _worker_cpus) if worker_cpu != cpu]
    return workers[:-1]


def _forget_workers() -> None:
    """In a forked child the worker threads do not exist: start new ones on first use (with fresh
    locks: a parent's thread may have held one at the fork)."""
    global _workers, _workers_lock, _split_lock, _thread_states
    _workers = None
    _worker_ids.clear()
    _workers_lock, _split_lock = threading.Lock(), threading.Lock()
    _thread_states.close()  # its files are the parent's threads'
    _thread_states = _ThreadStates()


class _ThreadStates:
    """The run state of this process's threads, read from ``/proc`` through files kept open.

    Opening a ``/proc`` file costs about 8 µs on this virtual machine, reading an open one again
    (``pread`` from offset 0, which regenerates it) about 3: with torch loaded (three other
    threads) the check went from 45 to about 17 µs, paid by every split.  The thread count in
    ``/proc/self/stat`` tells when to list the threads again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process_fd: int | None = None
        self.count = -1
        self.fds: dict[int, int] = {}  # native thread id -> its open stat file

    def close(self) -> None:
        for fd in ([self.process_fd] if self.process_fd is not None else []) + list(self.fds.values()):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process_fd, self.count, self.fds = None, -1, {}

    def _thread_count(self) -> int:
        if self.process_fd is None:
            self.process_fd = os.open("/proc/self/stat", os.O_RDONLY)
        line = os.pread(self.process_fd, 1024, 0)
        return int(line[line.rindex(b")") + 2:].split()[17])  # field 20, num_threads

    def _relist(self, count: int) -> None:
        alive = {int(name) for name in os.listdir("/proc/self/task")}
        for tid in [tid for tid in self.fds if tid not in alive]:
            os.close(self.fds.pop(tid))
        for tid in alive - self.fds.keys():
            try:
                self.fds[tid] = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY)
            except OSError:  # the thread ended meanwhile
                pass
        self.count = count

    def other_running(self, own: set[int]) -> bool:
        if not self.lock.acquire(blocking=False):
            return True  # another thread is checking: it is running
        try:
            count = self._thread_count()
            if count != self.count:
                self._relist(count)
            for _ in range(2):
                ended = False
                for tid, fd in self.fds.items():
                    if tid in own:
                        continue
                    try:
                        line = os.pread(fd, 512, 0)
                    except OSError:  # the thread ended (another may have started in its place)
                        ended = True
                        continue
                    if line[line.rindex(b")") + 2:][:1] == b"R":
                        return True
                if not ended:
                    return False
                self._relist(count)
            return False
        finally:
            self.lock.release()


_thread_states = _ThreadStates()


def _another_thread_running() -> bool:
    """Whether a thread of this process other than the caller and the workers is running now (Linux;
    elsewhere False).  Typically the BLAS's own worker: OpenBLAS's threads keep spinning for about
    0.1 s after each multi-threaded call, and a split's workers would share their CPUs with it
    (LeNet's 5x5 16->32, median ms: split 2.8 alone and 5.1–5.3 right after a two-thread GEMM,
    unsplit 3.0 either way)."""
    try:
        return _thread_states.other_running(_worker_ids | {threading.get_native_id()})
    except (OSError, ValueError, IndexError):  # no /proc (not Linux), or a format not understood
        return False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _run_parts(work: Callable[[int, int], T], bounds: list[int]) -> list[T]:
    """``work`` over each ``[bounds[k], bounds[k + 1])`` on the worker threads, one part each, results
    in order.  A part's exception is raised here, after every part has finished."""
    workers = _worker_queues()
    futures: list[Future] = []
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        futures.append(Future())
        workers[k % len(workers)].put((work, lo, hi, futures[-1], np.geterr()))
    errors = [future.exception() for future in futures]
    for error in errors:
        if error is not None:
            raise error
    return [future.result() for future in futures]


def _bounds(total: int, workers: int) -> list[int]:
    return [total * k // workers for k in range(workers + 1)]


def split_rows(fill: Callable[[int, int], None], rows: int, nbytes: int,
               min_bytes: int | None = None, pieces_per_worker: int = ROW_PIECES_PER_WORKER,
               first: Callable[[], None] | None = None) -> None:
    """Call ``fill(lo, hi)`` over contiguous pieces that cover ``[0, rows)`` once, split across the
    machine's cores when at least ``min_bytes`` are written (``PARALLEL_MIN_BYTES`` when None; a
    caller's own measured break-even otherwise).  For NumPy copies only, which release the GIL: a
    single-threaded copy leaves the other cores idle while PyTorch's kernels use them all.  Inside
    a split's part (already one core's share) it runs on the calling thread.

    ``first()``, when given, runs on the caller before any piece of its own, while the woken workers
    start (some 40 µs): work that must be done once, such as checking the input.  If it raises, the
    workers stop claiming pieces and the error is raised once they have finished theirs (they may
    have written into the caller's arrays).

    The caller fills pieces too, beside one worker per other CPU, each thread claiming the next piece
    as it finishes one.  A woken worker starts late, and on this shared machine one CPU often ran
    about 30% slower than the other, which a fixed half per thread waits for.  Measured against two
    fixed halves on the workers (best / median ms): nearest x2 of 8x64x56x56 float32 1.06 / 1.37
    against 1.20 / 1.56, float64 4.33 / 6.18 against 6.67 / 8.82, x3 5.54 / 6.79 against 8.83 / 11.98;
    max unpooling into 8x64x112x112 2.56 / 3.37 against 2.99 / 3.86.  Every piece costs GIL handovers
    between its NumPy calls, each a thread wake-up when the other thread holds the GIL: a caller
    whose pieces are several short calls wants fewer of them (``pieces_per_worker``)."""
    workers = min(worker_count(), len(_cpus()), rows)
    threshold = PARALLEL_MIN_BYTES if min_bytes is None else min_bytes
    if (workers < 2 or nbytes < threshold or getattr(_inside, "active", False)
            or _another_thread_running()):
        if first is not None:
            first()
        fill(0, rows)
        return
    pieces = min(rows, max(1, pieces_per_worker) * workers)
    bounds = _bounds(rows, pieces)
    claims = itertools.count()  # its next() is atomic: each piece is claimed once
    stopped = False

    def drain(_lo: int = 0, _hi: int = 0) -> None:
        for piece in claims:
            if piece >= pieces or stopped:
                return
            fill(bounds[piece], bounds[piece + 1])

    futures = []
    for tasks in _queues_beside_caller()[:workers - 1]:
        futures.append(Future())
        tasks.put((drain, 0, 0, futures[-1], np.geterr()))
    _inside.active = True  # what fill submits runs here
    try:
        if first is not None:
            try:
                first()
            except BaseException:
                stopped = True
                raise
        drain()
    finally:
        _inside.active = False
        errors = [future.exception() for future in futures]  # the workers write into the caller's arrays
    for error in errors:
        if error is not None:
            raise error


def split_samples(work: Callable[[int, int], T], batch: int, unit: int = 1) -> list[T]:
    """``[work(b0, b1) for each part]`` of the batch ``[0, batch)``: one contiguous part per worker
    thread (:func:`worker_count`), each run with a single-threaded BLAS, or ``[work(0, batch)]`` on
    the calling thread where that cannot be done or is not wanted (``SPLIT_SAMPLES`` false, one
    worker or block, no OpenBLAS thread setting found, another thread running, another split
    running, or called from inside a split).  Parts start at multiples of ``unit`` samples (the
    caller's blocks: each part then computes the same blocks, and so the same bits at the same BLAS
    thread count, as one call for the whole batch)."""
    blas = _openblas()
    blocks = -(-batch // max(1, unit))
    workers = min(worker_count(), len(_cpus()), blocks)
    if (not SPLIT_SAMPLES or workers < 2 or blas is None or getattr(_inside, "active", False)
            or _another_thread_running() or not _split_lock.acquire(blocking=False)):
        return [work(0, batch)]
    try:
        threads = blas.get()
        blas.set(1)
        try:
            return _run_parts(work, [min(batch, unit * b) for b in _bounds(blocks, workers)])
        finally:
            blas.set(threads)
    finally:
        _split_lock.release()
