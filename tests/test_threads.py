"""Work split between the cores (``convscope.ops.threads``) and the convolutions that split their batch.

The split changes the BLAS's thread count while it runs: these tests check that the count is one
inside every part and is put back afterwards (also after an error), that nested and concurrent
splits run on their caller's thread, and that split convolutions agree with torch and give the
serial call's bits at the same BLAS thread count.
"""
import os
import threading
import time
import warnings

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import convscope.functional as F
from convscope import arith
from convscope.ops import conv, flat, threads

TF = torch.nn.functional


@pytest.fixture(autouse=True)
def _no_other_thread_running(monkeypatch):
    """torch's own threads (other tests) may still spin when a test starts: splits must not wait on that."""
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)


blas_found = pytest.mark.skipif(threads._openblas() is None and not threads._numpy_openblas_paths(),
                                reason="NumPy is built on a BLAS other than OpenBLAS: splits run serially")
two_cpus = pytest.mark.skipif(len(threads._cpus()) < 2, reason="one CPU: there is no other core to split onto")


def test_numpy_openblas_is_found_when_bundled():
    """Where NumPy's wheel bundles an OpenBLAS, its thread setting is the one ``threadpoolctl`` sees."""
    if not threads._numpy_openblas_paths():
        assert threads.worker_count() >= 1
        return
    assert threads._openblas() is not None
    with threadpool_limits(1, user_api="blas"):
        assert threads.worker_count() == 1
    assert threads.worker_count() == threads._openblas().get()


@two_cpus
@blas_found
@pytest.mark.parametrize("batch", [2, 3, 8])
def test_parts_cover_the_batch_with_one_blas_thread(batch, monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    before = threads._openblas().get()
    seen = []

    def work(b0, b1):
        seen.append((b0, b1, threads._openblas().get(), threading.current_thread().name))
        return b1 - b0
    sizes = threads.split_samples(work, batch)
    assert sizes == [batch // 2, batch - batch // 2] and sum(sizes) == batch
    assert sorted(s[:2] for s in seen) == [(0, batch // 2), (batch // 2, batch)]
    assert all(s[2] == 1 for s in seen)
    assert threads._openblas().get() == before
    # each part on a worker thread of its own, the caller waiting
    names = {s[3] for s in seen}
    assert len(names) == 2 and threading.current_thread().name not in names


@two_cpus
@blas_found
def test_an_error_in_a_part_is_raised_after_every_part_and_the_setting_is_restored(monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    before = threads._openblas().get()
    finished = []

    def work(b0, b1):
        if b0 == 0:
            raise ValueError("part 0 failed")
        finished.append(b0)
    with pytest.raises(ValueError, match="part 0 failed"):
        threads.split_samples(work, 4)
    assert finished == [2]
    assert threads._openblas().get() == before
    # the lock was released: the next split runs in parts again
    assert len(threads.split_samples(lambda b0, b1: b0, 4)) == 2


@two_cpus
@blas_found
def test_nested_work_runs_on_the_callers_thread(monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    inner = []

    def work(b0, b1):
        inner.append(threads.split_samples(lambda c0, c1: (c0, c1), b1 - b0))
        rows = []
        threads.split_rows(lambda r0, r1: rows.append((r0, r1)), 10, nbytes=1 << 30)
        return rows
    rows = threads.split_samples(work, 4)
    assert inner == [[(0, 2)], [(0, 2)]]
    assert rows == [[(0, 10)], [(0, 10)]]


@two_cpus
@pytest.mark.parametrize("rows", [2, 7, 64])
def test_split_rows_covers_every_row_once_in_contiguous_pieces(rows, monkeypatch):
    """The caller and a worker claim pieces in turn: each row is filled once, whoever fills it."""
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    pieces, lock = [], threading.Lock()

    def fill(lo, hi):
        time.sleep(0.005)  # time for the worker to wake and claim pieces too
        with lock:
            pieces.append((lo, hi, threading.current_thread().name))
    threads.split_rows(fill, rows, nbytes=1 << 30)
    spans = sorted(p[:2] for p in pieces)
    assert spans[0][0] == 0 and spans[-1][1] == rows
    assert all(lo < hi for lo, hi in spans) and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert len(spans) == min(rows, 2 * threads.ROW_PIECES_PER_WORKER)
    names = {p[2] for p in pieces}
    assert threading.current_thread().name in names and len(names) == 2
    assert not getattr(threads._inside, "active", False)  # the caller may split again


@two_cpus
def test_split_rows_raises_a_pieces_error_after_the_other_pieces(monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    done, lock = [], threading.Lock()

    def fill(lo, hi):
        time.sleep(0.005)
        if lo == 0:
            raise ValueError("piece 0 failed")
        with lock:
            done.append(lo)
    with pytest.raises(ValueError, match="piece 0 failed"):
        threads.split_rows(fill, 16, nbytes=1 << 30)
    assert sorted(done) == list(range(2, 16, 2))  # 8 pieces of 2 rows: every other one finished
    assert not getattr(threads._inside, "active", False)


@two_cpus
@pytest.mark.parametrize("per_worker", [1, 2, 3])
def test_split_rows_runs_first_on_the_caller_before_its_pieces(per_worker, monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)
    events, lock = [], threading.Lock()

    def first():
        time.sleep(0.005)  # the worker claims pieces meanwhile
        with lock:
            events.append(("first", threading.current_thread().name))

    def fill(lo, hi):
        time.sleep(0.002)
        with lock:
            events.append(((lo, hi), threading.current_thread().name))
    threads.split_rows(fill, 12, nbytes=1 << 30, pieces_per_worker=per_worker, first=first)
    caller = threading.current_thread().name
    assert [e for e in events if e[0] == "first"] == [("first", caller)]
    own = [k for k, e in enumerate(events) if e[1] == caller]
    assert events[own[0]][0] == "first"  # before any of the caller's pieces
    spans = sorted(e[0] for e in events if e[0] != "first")
    assert len(spans) == 2 * per_worker and spans[0][0] == 0 and spans[-1][1] == 12
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


@two_cpus
def test_split_rows_stops_the_workers_when_first_raises(monkeypatch):
    """The error is raised once the worker has finished the piece it holds, and no piece starts after
    the failure."""
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)
    started, finished, lock = [], [], threading.Lock()

    def first():
        time.sleep(0.02)
        raise ValueError("bad input")

    def fill(lo, hi):
        with lock:
            started.append(lo)
        time.sleep(0.01)
        with lock:
            finished.append(lo)
    with pytest.raises(ValueError, match="bad input"):
        threads.split_rows(fill, 64, nbytes=1 << 30, first=first)
    assert sorted(started) == sorted(finished)  # nothing still writing after the raise
    assert len(started) < 8  # 8 pieces: the worker stopped claiming
    time.sleep(0.03)
    assert len(started) == len(finished)
    assert not getattr(threads._inside, "active", False)


def test_split_rows_runs_first_when_it_does_not_split(monkeypatch):
    calls = []
    threads.split_rows(lambda lo, hi: calls.append((lo, hi)), 5, nbytes=1, first=lambda: calls.append("first"))
    assert calls == ["first", (0, 5)]


@two_cpus
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or threads._sched_getcpu() is None,
                    reason="the caller's CPU is not known here")
def test_split_rows_leaves_the_callers_cpu_to_the_caller():
    """A worker pinned to the caller's CPU would share it with the caller while another CPU idles."""
    cpus, workers = threads._cpus(), threads._worker_queues()
    before = os.sched_getaffinity(0)
    try:
        for k, cpu in enumerate(cpus):
            os.sched_setaffinity(0, {cpu})
            beside = threads._queues_beside_caller()
            assert len(beside) == len(cpus) - 1 and workers[k] not in beside
    finally:
        os.sched_setaffinity(0, before)


@two_cpus
@blas_found
def test_a_second_split_meanwhile_runs_on_its_callers_thread(monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    started, release = threading.Event(), threading.Event()
    others = []

    def slow(b0, b1):
        started.set()
        release.wait(10)

    def other():
        started.wait(10)
        others.append(threads.split_samples(lambda b0, b1: (b0, b1), 6))
        release.set()
    thread = threading.Thread(target=other)
    thread.start()
    threads.split_samples(slow, 4)
    thread.join(10)
    assert others == [[(0, 6)]]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="the platform cannot pin threads")
def test_workers_are_pinned_to_distinct_cpus():
    """Unpinned, Linux may run both parts on one CPU for several calls while the other idles."""
    cpus = sorted(os.sched_getaffinity(0))
    affinities = threads._run_parts(lambda lo, hi: os.sched_getaffinity(0), list(range(len(cpus) + 1)))
    assert affinities == [{cpu} for cpu in cpus]


def test_workers_are_started_again_after_a_fork():
    """A forked child has none of its parent's threads: it starts its own on first use."""
    before = threads._worker_queues()
    threads._forget_workers()
    assert threads._run_parts(lambda lo, hi: hi - lo, [0, 3, 7]) == [3, 4]
    assert threads._worker_queues() is not before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_splits_work():
    threads._run_parts(lambda lo, hi: None, [0, 1, 2])  # the parent's workers exist
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a split must not wait for the parent's threads
        try:
            os.write(write, repr(threads._run_parts(lambda lo, hi: (lo, hi), [0, 2, 5])).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        assert pipe.read() == "[(0, 2), (2, 5)]"


def _spin_without_the_gil(stop: threading.Event, spinning: threading.Event) -> None:
    """Keep a CPU busy as a BLAS thread does, without holding the GIL (a pure-Python loop waits for
    the GIL, asleep, whenever the checking thread holds it): sorts of 2 million floats, about 0.1 s
    each, during which NumPy has released the GIL."""
    values = np.random.default_rng(0).random(2_000_000)
    spinning.set()
    while not stop.is_set():
        np.sort(values)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="thread states are read from /proc")
def test_a_running_thread_keeps_the_work_on_the_callers_thread(monkeypatch):
    """A thread that spins (as OpenBLAS's do for a while after each multi-threaded call) would share
    a CPU with a worker: the split then runs on the caller's thread, and so does split_rows."""
    monkeypatch.undo()  # the real check, not the fixture's
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    stop, spinning = threading.Event(), threading.Event()
    spinner = threading.Thread(target=_spin_without_the_gil, args=(stop, spinning))
    spinner.start()
    try:
        spinning.wait(10)
        assert threads._another_thread_running()
        assert threads.split_samples(lambda b0, b1: (b0, b1), 8) == [(0, 8)]
        rows = []
        threads.split_rows(lambda r0, r1: rows.append((r0, r1)), 10, nbytes=1 << 30)
        assert rows == [(0, 10)]
    finally:
        stop.set()
        spinner.join(10)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="thread states are read from /proc")
def test_thread_check_follows_threads_that_come_and_go(monkeypatch):
    """The check keeps the threads' /proc files open between calls: a thread that ends and another
    that starts in its place (the same thread count) are both noticed, and no file is left open
    for a thread that has gone."""
    monkeypatch.undo()
    open_files = len(os.listdir("/proc/self/fd"))
    for _ in range(6):
        stop, spinning = threading.Event(), threading.Event()
        spinner = threading.Thread(target=_spin_without_the_gil, args=(stop, spinning))
        spinner.start()
        spinning.wait(10)
        assert threads._another_thread_running()
        stop.set()
        spinner.join(10)
    threads._another_thread_running()
    assert len(os.listdir("/proc/self/fd")) <= open_files + 2


def test_without_a_blas_setting_everything_runs_serially(monkeypatch):
    monkeypatch.setattr(threads, "_openblas", lambda: None)
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    names = []
    assert threads.split_samples(lambda b0, b1: names.append(threading.current_thread().name) or (b0, b1), 8) \
        == [(0, 8)]
    assert names == [threading.current_thread().name]


def test_splits_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "SPLIT_SAMPLES", False)
    assert threads.split_samples(lambda b0, b1: (b0, b1), 8) == [(0, 8)]


def test_one_worker_or_one_sample_runs_serially(monkeypatch):
    monkeypatch.setattr(threads, "worker_count", lambda: 1)
    assert threads.split_samples(lambda b0, b1: (b0, b1), 8) == [(0, 8)]
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    assert threads.split_samples(lambda b0, b1: (b0, b1), 1) == [(0, 1)]


def _geometry(x_shape, w_shape, **kw):
    return arith.conv_geometry(x_shape, w_shape, n=len(w_shape) - 2, **kw)


@pytest.mark.parametrize("x_shape, w_shape, kw, expected", [
    ((8, 128, 56, 56), (128, 128, 3, 3), dict(stride=2, padding=1), True),    # the benchmark's s2 layer
    ((8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), True),                 # on the input's own rows
    ((8, 64, 56, 56), (64, 8, 3, 3), dict(padding=1, groups=8), True),        # grouped
    ((128, 16, 14, 14), (32, 16, 5, 5), dict(padding=2), True),               # LeNet's second layer
    ((2, 128, 56, 56), (128, 128, 3, 3), dict(stride=2, padding=1), True),    # 115 million MACs a part
    ((8, 128, 56, 56), (128, 128, 1, 1), dict(stride=2), True),               # 1x1 s2 is not pointwise
    ((128, 1, 28, 28), (16, 1, 5, 5), dict(padding=2), False),                # 20 million MACs a part
    ((8, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3), True),       # compact blocks: 1.8 MB of columns
    ((8, 64, 224, 224), (64, 64, 7, 7), dict(stride=2, padding=3), True),     # 40 MB a sample, grid blocks of 4 MiB
    ((8, 32, 16, 56, 56), (32, 32, 3, 3, 3), dict(padding=1), True),          # Conv3d: 58 MB a sample, blocks of a plane
    ((8, 144, 56, 56), (144, 1, 3, 3), dict(padding=1, groups=144), False),   # depthwise: 16 million
    ((8, 256, 56, 56), (64, 256, 1, 1), {}, False),                           # pointwise
    ((1, 512, 56, 56), (512, 512, 3, 3), dict(padding=1), False),             # one sample
])
def test_which_convolutions_split_their_batch(x_shape, w_shape, kw, expected, monkeypatch):
    monkeypatch.setattr(conv, "worker_count", lambda: 2)
    x = np.empty(x_shape, dtype=np.float32)
    assert conv._splits_batch(_geometry(x_shape, w_shape, **kw), x) is expected


def _random_case(rng, dtype):
    n = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 5))
    k = tuple(int(v) for v in rng.integers(1, 4, n))
    s = tuple(int(v) for v in rng.integers(1, 4, n))
    if n == 2 and rng.random() < 0.4:  # stride 1 in 2-d: the input's own rows
        s = (1, 1)
    if all(v == 1 for v in k + s):  # not pointwise: that is one batched GEMM, never split
        k = (2,) + k[1:]
    d = tuple(int(v) for v in rng.integers(1, 3, n))
    pad = tuple(int(rng.integers(0, kk)) for kk in k)
    size = tuple(int((kk - 1) * dd + 1 + rng.integers(4, 12)) for kk, dd in zip(k, d))
    x = rng.standard_normal((int(rng.integers(2, 8)), cin) + size).astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if rng.random() < 0.5 else None
    return n, x, w, b, dict(stride=s, padding=pad, dilation=d, groups=groups)


@pytest.mark.parametrize("seed", range(40))
def test_split_convolutions_match_torch_and_serial(seed, monkeypatch):
    """Random convolutions, with the split's thresholds out of the way, on every path (the grid's
    forced for odd seeds): each splits its batch, agrees with torch, and gives the serial call's bits
    at the same BLAS thread count."""
    rng = np.random.default_rng(seed)
    dtype = np.float32 if seed % 3 else np.float64
    n, x, w, b, kw = _random_case(rng, dtype)
    g = _geometry(x.shape, w.shape, **kw)
    monkeypatch.setattr(conv, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(conv, "SPLIT_MIN_PART_MACS", 0)
    monkeypatch.setattr(conv, "SPLIT_MAX_SAMPLE_COLUMN_BYTES", float("inf"))
    # small blocks (one sample, or row slabs of one) for two seeds in three: more parts to split into
    monkeypatch.setattr(conv, "CHUNK_BYTES", (1 << 23, 1 << 12, 1 << 15)[seed % 3])
    if seed % 2:  # the stride-phase grid for every map, not only large ones
        monkeypatch.setattr(conv, "GRID_MIN_LENGTH", 0)
        monkeypatch.setattr(conv, "GRID_MIN_SAMPLE_BYTES", 0)
        monkeypatch.setattr(conv, "GRID_MAX_WASTE", float("inf"))
    assert conv._splits_batch(g, x)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)
    split = conv.conv_forward(x, w, b, g)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: True)  # unsplit, the same blocks
    serial = conv.conv_forward(x, w, b, g)
    monkeypatch.setattr(conv, "SPLIT_MIN_PART_MACS", float("inf"))  # unsplit, blocks for the whole batch
    np.testing.assert_allclose(conv.conv_forward(x, w, b, g), serial, rtol=1e-10 if dtype == np.float64 else 1e-4,
                               atol=1e-10 if dtype == np.float64 else 1e-4)
    monkeypatch.setattr(conv, "SPLIT_MIN_PART_MACS", 0)
    blas = threads._openblas()
    if blas is not None:  # the unsplit call with the parts' one-thread BLAS
        threads_before = blas.get()
        blas.set(1)
        try:
            serial_one_thread = conv.conv_forward(x, w, b, g)
        finally:
            blas.set(threads_before)
    ref = getattr(TF, f"conv{n}d")(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                                  **kw).numpy()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(split, ref, **tol)
    np.testing.assert_allclose(split, serial, **tol)
    # Each part computes the blocks the call computes unsplit (planned for one part's samples), so the
    # split gives the bits of the unsplit call at the same BLAS thread count; OpenBLAS's one- and two-thread GEMMs may round differently
    # (measured: 2 of 600 random configurations, both 3-d).  A batch of one block is not split.
    plan_batch = -(-x.shape[0] // 2)
    parts = min(-(-x.shape[0] // conv._block_samples(x, g, flat.flat_geometry(x, w, g), plan_batch)),
                len(threads._cpus()))
    if parts < 2:
        np.testing.assert_array_equal(split, serial)
    elif blas is not None:
        np.testing.assert_array_equal(split, serial_one_thread)


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("layout", ["shared", "separate", "flat"])
def test_split_transposed_convolutions_match_torch_and_serial(seed, layout, monkeypatch):
    """Sub-pixel transposed convolutions with the split's thresholds out of the way: each part runs
    every phase on its samples, by the whole batch's plans (shared canvas, phases on their own grids,
    or on the input's rows), agrees with torch, and gives the bits of the same plans run unsplit at
    the same BLAS thread count."""
    monkeypatch.setattr(conv, "GRID_MAX_WASTE", float("inf"))
    monkeypatch.setattr(conv, "SUBPIXEL_MAX_WASTE", float("inf"))
    monkeypatch.setattr(conv, "GRID_MIN_LENGTH", 0)
    monkeypatch.setattr(conv, "GRID_MIN_SAMPLE_BYTES", 0)
    monkeypatch.setattr(conv, "SUBPIXEL_FLAT", layout == "flat")
    if layout == "separate":
        monkeypatch.setattr(conv, "_shared_subpixel_canvas", lambda *a: None)
    monkeypatch.setattr(conv, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)
    monkeypatch.setattr(conv, "SPLIT_MAX_SAMPLE_COLUMN_BYTES", float("inf"))
    monkeypatch.setattr(conv, "CHUNK_BYTES", (1 << 23, 1 << 12, 1 << 15)[seed % 3])
    rng = np.random.default_rng(3000 + seed)
    dtype = np.float32 if seed % 3 == 0 else np.float64
    n = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(2, 5, n))
    s = tuple(int(v) for v in rng.integers(2, 4, n))
    pad = tuple(int(rng.integers(0, kk)) for kk in k)
    size = tuple(int(v) for v in rng.integers(3, 9, n))
    x = rng.standard_normal((int(rng.integers(2, 7)), cin) + size).astype(dtype)
    w = rng.standard_normal((cin, cout // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if seed % 2 else None
    g = arith.conv_geometry(x.shape, w.shape, n=n, stride=s, padding=pad, groups=groups, transposed=True)
    parts = []
    split_samples = conv.split_samples
    monkeypatch.setattr(conv, "split_samples", lambda work, batch, unit=1: split_samples(
        lambda b0, b1: parts.append((b0, b1)) or work(b0, b1), batch, unit))
    monkeypatch.setattr(conv, "SPLIT_MIN_PART_MACS", 0)
    split = conv.conv_transpose_forward(x, w, b, g)
    assert parts, "the split was not reached"
    split_parts = len(parts)
    # unsplit, as when another thread is running: the same plans (made for one part's samples), whole
    monkeypatch.setattr(threads, "_another_thread_running", lambda: True)
    serial = conv.conv_transpose_forward(x, w, b, g)
    ref = getattr(TF, f"conv_transpose{n}d")(torch.from_numpy(x), torch.from_numpy(w),
                                             None if b is None else torch.from_numpy(b), s, pad, 0, groups).numpy()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(split, ref, **tol)
    blas = threads._openblas()
    if split_parts < 2:  # one block: run whole on the caller's thread
        np.testing.assert_array_equal(split, serial)
    elif blas is not None:
        threads_before = blas.get()
        blas.set(1)
        try:
            np.testing.assert_array_equal(split, conv.conv_transpose_forward(x, w, b, g))
        finally:
            blas.set(threads_before)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((8, 128, 2, 8, 8), (128, 128, 2, 4, 4), dict(stride=2, padding=1)),
    ((2, 512, 7, 70), (512, 64, 3, 3), dict(stride=3, padding=1, output_padding=(0, 1), groups=4, dilation=2)),
    ((8, 128, 8, 8), (128, 128, 4, 4), dict(stride=2, padding=1)),
])
def test_transposed_layers_whose_part_plans_have_no_layout(x_shape, w_shape, kw, monkeypatch):
    """Planned for one part's samples (4), a phase can lose the grid that the whole batch (8) had (too
    few columns side by side): the call then takes the GEMM plus scatter-adds instead of failing
    (found by an audit: 'NoneType' object has no attribute 'stacked')."""
    monkeypatch.setattr(conv, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)
    rng = np.random.default_rng(9)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    n = len(x_shape) - 2
    got = getattr(F, f"conv_transpose{n}d")(x, w, **kw)
    ref = getattr(TF, f"conv_transpose{n}d")(torch.from_numpy(x), torch.from_numpy(w), **kw).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@two_cpus
@blas_found
def test_workers_take_the_callers_floating_point_error_handling(monkeypatch):
    """NumPy's error handling (``np.errstate``) is per thread: each part runs under its caller's."""
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)

    def divide(b0, b1):
        return (np.ones(b1 - b0) / np.zeros(b1 - b0)).tolist()
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            threads.split_samples(divide, 4)
        with pytest.raises(FloatingPointError):
            threads.split_rows(lambda lo, hi: divide(lo, hi), 8, nbytes=1 << 30)
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert threads.split_samples(divide, 4) == [[np.inf] * 2, [np.inf] * 2]


@two_cpus
@blas_found
def test_split_convolutions_with_nan_and_inf_warn_nothing(monkeypatch):
    """NaN and inf propagate silently, as in PyTorch, in the split parts too (an audit saw the workers'
    GEMMs warn 'invalid value encountered in matmul': their threads did not share the caller's
    silenced error handling, test_workers_take_the_callers_floating_point_error_handling)."""
    monkeypatch.setattr(conv, "SPLIT_MIN_PART_MACS", 0)
    monkeypatch.setattr(conv, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "worker_count", lambda: 2)
    monkeypatch.setattr(threads, "_another_thread_running", lambda: False)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 128, 8, 8)).astype(np.float32)
    x[0, 0, 0, 0], x[7, 0, 3, 3] = np.inf, np.nan
    w = rng.standard_normal((128, 128, 4, 4)).astype(np.float32)
    xc = rng.standard_normal((8, 64, 28, 28)).astype(np.float32)
    xc[0, 0, 0, 0], xc[7, 0, 3, 3] = np.inf, np.nan
    wc = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    parts = []
    split_samples = conv.split_samples
    monkeypatch.setattr(conv, "split_samples", lambda work, batch, unit=1: split_samples(
        lambda b0, b1: parts.append((b0, b1)) or work(b0, b1), batch, unit))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = F.conv_transpose2d(x, w, stride=2, padding=1)
        got_c = F.conv2d(xc, wc, stride=2, padding=1)
    assert [str(w.message) for w in caught] == []
    assert len(parts) == 4  # both split in two
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).numpy()
    ref_c = TF.conv2d(torch.from_numpy(xc), torch.from_numpy(wc), stride=2, padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isnan(got_c), np.isnan(ref_c))


def test_the_benchmark_layer_splits_and_matches_torch(monkeypatch):
    """The layer the split is for, at its real size, through the public function."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 128, 56, 56), dtype=np.float32)
    w = rng.standard_normal((128, 128, 3, 3), dtype=np.float32) * 0.1
    b = rng.standard_normal(128, dtype=np.float32)
    g = _geometry(x.shape, w.shape, stride=2, padding=1)
    calls = []
    original = conv.split_samples
    monkeypatch.setattr(conv, "split_samples",
                        lambda work, batch, unit=1: calls.append(batch) or original(work, batch, unit))
    out = conv.conv_forward(x, w, b, g)
    assert calls == ([8] if threads.worker_count() >= 2 else [])
    ref = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=2, padding=1).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
