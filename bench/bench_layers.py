"""convscope vs torch: forward time of CNN layers, same machine, same run, same threads.

Run with `make bench` (which unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for this command only).
Prints markdown tables: best and median times per call and the ratios convscope / torch.  Both
libraries share the process's malloc, set to keep freed memory for the next array
(`convscope.ops.allocator`, as `convscope`'s command line does); `--default-malloc` keeps glibc's
defaults, under which every call's large arrays land on fresh pages.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as TF

import convscope.functional as F
from convscope.arith import conv_geometry
from convscope.ops.allocator import keep_freed_memory

PAUSE = 0.3  # seconds of rest before each timed block
MIN_BLOCK_SECONDS = 0.05  # a timed block of fast calls lasts at least this long

# name, op, input shape, weight shape, keyword arguments
CONV_CASES = [
    ("ResNet-50 conv1 7x7 s2 3->64 @224", "conv2d", (8, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3)),
    ("1x1 256->64 @56", "conv2d", (8, 256, 56, 56), (64, 256, 1, 1), {}),
    ("3x3 64->64 @56", "conv2d", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1)),
    ("3x3 128->128 s2 @56", "conv2d", (8, 128, 56, 56), (128, 128, 3, 3), dict(stride=2, padding=1)),
    ("1x1 1024->256 @14", "conv2d", (8, 1024, 14, 14), (256, 1024, 1, 1), {}),
    ("3x3 512->512 @7", "conv2d", (8, 512, 7, 7), (512, 512, 3, 3), dict(padding=1)),
    ("dilated 3x3 d2 256->256 @28", "conv2d", (8, 256, 28, 28), (256, 256, 3, 3), dict(padding=2, dilation=2)),
    ("grouped 3x3 64->64 g8 @56", "conv2d", (8, 64, 56, 56), (64, 8, 3, 3), dict(padding=1, groups=8)),
    ("depthwise 3x3 144 @56", "conv2d", (8, 144, 56, 56), (144, 1, 3, 3), dict(padding=1, groups=144)),
    ("ConvTranspose2d 4x4 s2 128->64 28->56", "conv_transpose2d", (8, 128, 28, 28), (128, 64, 4, 4),
     dict(stride=2, padding=1)),
    ("Conv1d k3 256->256 L4096", "conv1d", (8, 256, 4096), (256, 256, 3), dict(padding=1)),
    ("Conv3d 3x3x3 32->32 @16x56x56", "conv3d", (8, 32, 16, 56, 56), (32, 32, 3, 3, 3), dict(padding=1)),
]

# name, op, input shape, keyword arguments (the same call for both libraries)
POOL_CASES = [
    ("max_pool2d 3x3 s2 p1 8x64x112x112", "max_pool2d", (8, 64, 112, 112), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d 2x2 8x256x56x56", "avg_pool2d", (8, 256, 56, 56), dict(kernel_size=2)),
    ("adaptive_avg_pool2d ->1 8x2048x7x7", "adaptive_avg_pool2d", (8, 2048, 7, 7), dict(output_size=1)),
    ("bilinear x2 8x64x56x56", "interpolate", (8, 64, 56, 56),
     dict(scale_factor=2, mode="bilinear", align_corners=False)),
    ("nearest x2 8x64x56x56", "interpolate", (8, 64, 56, 56), dict(scale_factor=2, mode="nearest")),
    ("max_unpool2d 2x2 8x64x56x56 (from 28x28)", "max_unpool2d", (8, 64, 56, 56), dict(kernel_size=2)),
]


def _compare(ours, theirs, rounds: int, calls: int) -> tuple[list[float], list[float]]:
    """Per-call times of both libraries over interleaved rounds.

    This machine's speed drifts (shared host), so the two are timed in alternating rounds
    rather than one after the other.  Each library's idle BLAS/OpenMP threads spin for a
    while after a call and would slow the other's; a pause before each block lets them sleep.
    """
    t0 = time.perf_counter()
    ours(), theirs()  # warm-up
    # Sub-millisecond calls need more samples than a few: at least MIN_BLOCK_SECONDS per block.
    calls = max(calls, math.ceil(MIN_BLOCK_SECONDS / max(time.perf_counter() - t0, 1e-6)))
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        for fn, times in ((theirs, t_theirs), (ours, t_ours)):
            time.sleep(PAUSE)
            fn()
            for _ in range(calls):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
    return t_ours, t_theirs


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
        infos = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} x{i.get('num_threads')}"
                 for i in threadpool_info() if i.get("user_api") == "blas"]
        return "; ".join(infos) or "unknown"
    except ImportError:
        return "threadpoolctl not installed"


def _row(name: str, t_ours: list[float], t_torch: list[float], extra: str = "") -> str:
    best_o, best_t = min(t_ours), min(t_torch)
    med_o, med_t = statistics.median(t_ours), statistics.median(t_torch)
    return (f"| {name} | {best_o * 1e3:.2f} | {best_t * 1e3:.2f} | {best_o / best_t:.2f} | {med_o * 1e3:.2f} "
            f"| {med_t * 1e3:.2f} | {med_o / med_t:.2f} |{extra}")


def _check(name: str, got, expected, exact: bool = False) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    if exact:
        assert np.array_equal(got, expected), f"{name}: results differ"
        return
    err = np.abs(got - expected).max() / max(1e-30, np.abs(expected).max())
    assert err < 1e-4, f"{name}: relative error {err}"


def bench_conv(args, rng) -> None:
    print("### Convolutions (batch 8, float32, with bias)\n")
    print("| case | convscope best | torch best | ratio best | convscope median | torch median | ratio median "
          "| convscope GFLOP/s (best) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, op, x_shape, w_shape, kwargs in CONV_CASES:
        if args.filter not in name:
            continue
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32) * 0.1
        b = rng.standard_normal(w_shape[1] * kwargs.get("groups", 1) if op.startswith("conv_transpose")
                                else w_shape[0], dtype=np.float32)
        ours, theirs = getattr(F, op), getattr(TF, op)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        with torch.no_grad():
            _check(name, ours(x, w, b, **kwargs), theirs(tx, tw, tb, **kwargs).numpy())
            t_ours, t_torch = _compare(lambda: ours(x, w, b, **kwargs), lambda: theirs(tx, tw, tb, **kwargs),
                                       args.rounds, args.calls)
        macs = conv_geometry(x.shape, w.shape, n=len(w_shape) - 2, transposed=op.startswith("conv_transpose"),
                             **kwargs).macs()
        print(_row(name, t_ours, t_torch, f" {2 * macs / min(t_ours) / 1e9:.0f} |"), flush=True)


def bench_pool(args, rng) -> None:
    print("\n### Pooling, unpooling and upsampling (float32)\n")
    print("| case | convscope best | torch best | ratio best | convscope median | torch median | ratio median |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, op, x_shape, kwargs in POOL_CASES:
        if args.filter not in name:
            continue
        x = rng.standard_normal(x_shape, dtype=np.float32)
        tx = torch.from_numpy(x)
        ours, theirs = getattr(F, op), getattr(TF, op)
        with torch.no_grad():
            if op == "max_unpool2d":  # unpool what a 2x2 max pooling of x produced
                values, indices = TF.max_pool2d(tx, 2, return_indices=True)
                v, i = values.numpy(), indices.numpy()
                call_ours = lambda: ours(v, i, **kwargs)  # noqa: E731
                call_theirs = lambda: theirs(values, indices, **kwargs)  # noqa: E731
            else:
                call_ours = lambda: ours(x, **kwargs)  # noqa: E731
                call_theirs = lambda: theirs(tx, **kwargs)  # noqa: E731
            _check(name, call_ours(), call_theirs().numpy(), exact=op in ("max_pool2d", "max_unpool2d"))
            t_ours, t_torch = _compare(call_ours, call_theirs, args.rounds, args.calls)
        print(_row(name, t_ours, t_torch), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per case")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per library and round")
    parser.add_argument("--filter", default="", help="run only cases whose name contains this")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--only", choices=("conv", "pool"), help="run one table only")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default mmap/trim thresholds (fresh pages for every large array)")
    args = parser.parse_args()

    # Both libraries allocate through the same malloc: with glibc's defaults each call's large arrays
    # land on fresh pages, whose page faults dominate some layers (torch's 7x7 stem: 19-24 ms, 6.7 tuned)
    tuned = not args.default_malloc and keep_freed_memory()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; threads: torch {torch.get_num_threads()}, "
          f"numpy BLAS: {blas_info()}")
    print(f"numpy {np.__version__}, torch {torch.__version__}; OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; malloc: "
          f"{'freed memory kept (convscope.ops.allocator)' if tuned else 'glibc defaults'}")
    print("Times per call in ms: the best and the median over all timed calls; ratio = convscope / torch.\n")
    rng = np.random.default_rng(0)
    if args.only != "pool":
        bench_conv(args, rng)
    if args.only != "conv":
        bench_pool(args, rng)


if __name__ == "__main__":
    main()
