"""The stride-phase wide-grid path of convolution (``convscope.ops.grid``) against torch.

The grid is what ``conv_forward`` uses for larger feature maps; the differential suite mostly
reaches the plain im2col path with its small inputs, so the grid is driven directly here, in both
layouts (plain and stacked taps) and with chunk budgets down to one output row per GEMM.
"""
import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

import convscope.functional as F
from convscope import arith
from convscope.ops import conv, grid, rows

TF = torch.nn.functional


def _random_case(rng, dtype):
    n = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 5, n))
    s = tuple(int(v) for v in rng.integers(1, 4, n))
    d = tuple(int(v) for v in rng.integers(1, 3, n))
    pad = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(n))
    size = tuple(int((kk - 1) * dd + 1 + rng.integers(0, 8)) for kk, dd in zip(k, d))
    x = rng.standard_normal((int(rng.integers(1, 6)), cin) + size).astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if rng.random() < 0.5 else None
    return n, x, w, b, dict(stride=s, padding=pad, dilation=d, groups=groups)


def _torch_conv(n, x, w, b, kw):
    flat_pad = tuple(v for lo_hi in reversed(kw["padding"]) for v in lo_hi)
    return getattr(TF, f"conv{n}d")(TF.pad(torch.from_numpy(x), flat_pad), torch.from_numpy(w),
                                    None if b is None else torch.from_numpy(b), stride=kw["stride"],
                                    dilation=kw["dilation"], groups=kw["groups"]).numpy()


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_grid_matches_torch(seed, stacked):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if seed % 4 else np.float32
    n, x, w, b, kw = _random_case(rng, dtype)
    g = arith.conv_geometry(x.shape, w.shape, n=n, **kw)
    ref = _torch_conv(n, x, w, b, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    # budgets: whole samples; about one row per GEMM; one row per GEMM and per canvas fill
    for chunk_bytes, canvas_bytes in ((1 << 23, None), (1 << 10, 1 << 14), (1, 1)):
        plan = grid.plan_grid(g, x.itemsize, chunk_bytes, stacked, canvas_bytes, batch=x.shape[0])
        assert plan.slab_rows % plan.rows == 0 or plan.slab_rows == g.output_size[0]
        out = np.full(ref.shape, np.nan, dtype=dtype)
        grid.conv_grid(x, w, b, g, out, plan)
        np.testing.assert_allclose(out, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} {plan}")


@pytest.mark.parametrize("seed", range(40))
def test_compact_columns_match_torch(seed):
    """Compact columns (the output's own positions; the GEMM writes into the output) for every
    geometry, with blocks of one row up to whole samples and canvas slabs of several blocks."""
    rng = np.random.default_rng(500 + seed)
    dtype = np.float64 if seed % 4 else np.float32
    n, x, w, b, kw = _random_case(rng, dtype)
    g = arith.conv_geometry(x.shape, w.shape, n=n, **kw)
    ref = _torch_conv(n, x, w, b, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    wide = grid.plan_grid(g, x.itemsize, 1 << 23, False)
    out_rows = g.output_size[0]
    for rows in sorted({1, max(1, out_rows // 3), out_rows}):
        plan = dataclasses.replace(wide, compact=True, rows=rows, slab_rows=max(rows, out_rows // rows * rows))
        assert plan.length(rows) == rows * math.prod(g.output_size[1:])
        out = np.full(ref.shape, np.nan, dtype=dtype)
        grid.conv_grid(x, w, b, g, out, plan)
        np.testing.assert_allclose(out, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} {plan}")


@pytest.mark.parametrize("seed", range(16))
def test_compact_columns_through_conv_forward(seed, monkeypatch):
    """With the width threshold out of the way, the public function takes compact plans (split
    between the cores or not) and agrees with torch."""
    rng = np.random.default_rng(700 + seed)
    n, x, w, b, kw = _random_case(rng, np.float64)
    x = rng.standard_normal(x.shape[:2] + tuple(40 if j == 0 else 24 for j in range(n)))
    g = arith.conv_geometry(x.shape, w.shape, n=n, **kw)
    monkeypatch.setattr(conv, "COMPACT_MIN_WIDTH", 0)
    monkeypatch.setattr(conv, "COMPACT_BLOCK_BYTES", (1, 1 << 12, 1 << 21)[seed % 3])
    monkeypatch.setattr(conv, "SPLIT_MIN_PART_MACS", 0 if seed % 2 else float("inf"))
    taken = []
    original = conv._conv_planned
    monkeypatch.setattr(conv, "_conv_planned", lambda *a: (taken.append(a[-1]), original(*a)))
    got = getattr(F, f"conv{n}d")(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    np.testing.assert_allclose(got, _torch_conv(n, x, w, b, kw), rtol=1e-10, atol=1e-10)
    plan = conv._grid_plan(g, x.itemsize, x.shape[0], flat=conv.flat_applies(x, w, g), compact=True)
    if isinstance(plan, grid.GridPlan) and not plan.stacked and plan.samples == 1:
        assert plan.compact and taken and all(p == plan for p in taken)


@pytest.mark.parametrize("batch", [2, 5, 7])
@pytest.mark.parametrize("stacked", [False, True])
def test_samples_side_by_side(batch, stacked, monkeypatch):
    """Small maps put several samples side by side along the last dimension, one GEMM for all (the
    batch's last group may hold fewer: two samples per GEMM here)."""
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 3, 9, 7, 10))
    w = rng.standard_normal((4, 3, 3, 2, 3))
    b = rng.standard_normal(4)
    kw = dict(stride=(1, 2, 1), padding=((1, 0), (1, 1), (2, 1)), dilation=(1, 1, 2), groups=1)
    g = arith.conv_geometry(x.shape, w.shape, n=3, **kw)
    one = grid.plan_grid(g, x.itemsize, 1 << 23, stacked)
    monkeypatch.setattr(grid, "FOLD_LENGTH", 2 * one.rows * one.pitch)
    plan = grid.plan_grid(g, x.itemsize, 1 << 23, stacked, batch=batch)
    assert plan.samples == 2 and plan.rows == g.output_size[0]
    out = np.full((batch, 4) + g.output_size, np.nan)
    grid.conv_grid(x, w, b, g, out, plan)
    np.testing.assert_allclose(out, _torch_conv(3, x, w, b, kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(12))
def test_grid_is_the_path_for_large_maps(seed, monkeypatch):
    """Through the public function: a feature map large enough for the grid takes it."""
    rng = np.random.default_rng(100 + seed)
    n, x, w, b, kw = _random_case(rng, np.float64)
    size = tuple(40 if j == 0 else 24 for j in range(n))
    x = rng.standard_normal(x.shape[:2] + size)
    g = arith.conv_geometry(x.shape, w.shape, n=n, **kw)
    taken = []
    original = conv._conv_planned
    monkeypatch.setattr(conv, "_conv_planned", lambda *a: (taken.append(a[-1]), original(*a)))
    got = getattr(F, f"conv{n}d")(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    expected_plan = conv._grid_plan(g, x.itemsize, x.shape[0], flat=conv.flat_applies(x, w, g), compact=True)
    assert taken == ([expected_plan] if expected_plan is not None else [])
    np.testing.assert_allclose(got, _torch_conv(n, x, w, b, kw), rtol=1e-10, atol=1e-10)


def test_plan_choice_on_benchmark_layers():
    """The layouts the planner picks for the layers measured in docs/benchmarks.md."""
    def plan(x_shape, w_shape, **kw):
        g = arith.conv_geometry(x_shape, w_shape, n=len(w_shape) - 2, **kw)
        p = conv._grid_plan(g, 4)
        return None if p is None else ("stacked" if p.stacked else "plain")

    assert plan((8, 64, 56, 56), (64, 64, 3, 3), padding=1) == "stacked"
    assert plan((8, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1) == "stacked"
    assert plan((8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == "plain"   # K = 21 per tap row
    assert plan((8, 512, 7, 7), (512, 512, 3, 3), padding=1) is None               # 29% waste
    assert plan((8, 32, 16, 56, 56), (32, 32, 3, 3, 3), padding=1) == "stacked"
    assert plan((8, 256, 28, 28), (256, 256, 3, 3), padding=2, dilation=2) == "stacked"
    assert plan((8, 256, 4096), (256, 256, 3), padding=1) == "plain"
    assert plan((8, 512, 14, 14), (512, 512, 3, 3), stride=2, padding=1) is None   # 57 columns a sample
    assert plan((128, 1, 28, 28), (16, 1, 5, 5), padding=2) is None                  # LeNet: 88 KiB a sample

    def compact(x_shape, w_shape, **kw):
        g = arith.conv_geometry(x_shape, w_shape, n=len(w_shape) - 2, **kw)
        p = conv._grid_plan(g, 4, x_shape[0], compact=True)
        return p.compact, p.rows
    # the stem's columns: 3*49 taps and the bias's row of ones, 31 rows of 112 (1.8 MiB) a block
    assert compact((8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == (True, 31)
    assert compact((8, 256, 4096), (256, 256, 3), padding=1) == (True, 681)
    assert compact((8, 3, 224, 64), (64, 3, 7, 7), stride=2, padding=3)[0] is False   # rows of 32
    assert compact((8, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1)[0] is False  # stacked


def test_single_tap_reads_the_phase_image_without_copy():
    """A 1x1 stride-2 convolution (ResNet's downsampling shortcut) is one GEMM on phase (0, 0)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 30, 30))
    w = rng.standard_normal((4, 8, 1, 1))
    got = F.conv2d(x, w, stride=2)
    np.testing.assert_allclose(got, TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=2).numpy(),
                               rtol=1e-12, atol=1e-12)


def test_grid_propagates_nan_and_inf_only_to_their_windows():
    x = np.zeros((1, 2, 40, 40))
    x[0, 0, 10, 10], x[0, 1, 30, 5] = np.nan, np.inf
    w = np.ones((3, 2, 3, 3))
    got = F.conv2d(x, w, padding=1)
    ref = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    assert np.isnan(got).sum() == 27 and np.isinf(got).sum() == 27


# -- transposed convolution as one grid convolution per output phase (sub-pixel) ----------------

def _record_subpixel(monkeypatch, taken: list) -> None:
    """Append to ``taken`` each time the sub-pixel path computes a transposed convolution (it returns
    None, and the GEMM plus scatter-adds run, where some phase has no layout)."""
    original = conv._conv_transpose_subpixel

    def recorded(*args):
        out = original(*args)
        if out is not None:
            taken.append(1)
        return out
    monkeypatch.setattr(conv, "_conv_transpose_subpixel", recorded)


def _random_transposed_case(rng):
    n = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 5, n))
    s = tuple(int(v) for v in rng.integers(1, 5, n))           # strides beyond the kernel: empty phases
    d = tuple(int(v) for v in rng.integers(1, 4, n))
    pad = tuple(int(rng.integers(0, (kk - 1) * dd + 1)) for kk, dd in zip(k, d))
    out_pad = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
    size = tuple(int(v) for v in rng.integers(1, 7, n))
    return n, (groups, cin, cout, k, s, d, pad, out_pad, size)


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("layout", ["shared", "separate", "flat"])
def test_transposed_subpixel_matches_torch(seed, layout, monkeypatch):
    """Every phase on the grid: the phases on one shared canvas, each on its own, or (2-d, where
    every phase allows it) each on the input's own rows."""
    monkeypatch.setattr(conv, "GRID_MAX_WASTE", float("inf"))   # every phase takes the grid
    monkeypatch.setattr(conv, "SUBPIXEL_MAX_WASTE", float("inf"))
    monkeypatch.setattr(conv, "GRID_MIN_LENGTH", 0)
    monkeypatch.setattr(conv, "GRID_MIN_SAMPLE_BYTES", 0)
    monkeypatch.setattr(conv, "SUBPIXEL_FLAT", layout == "flat")
    shared = layout == "shared"
    taken, canvases, flats = [], [], []
    _record_subpixel(monkeypatch, taken)
    flat_conv = conv.conv_flat
    monkeypatch.setattr(conv, "conv_flat", lambda *a: flats.append(1) or flat_conv(*a))
    if shared:
        walk = conv.conv_grid_shared
        monkeypatch.setattr(conv, "conv_grid_shared", lambda *a: canvases.append(len(a[3])) or walk(*a))
    elif layout == "separate":
        monkeypatch.setattr(conv, "_shared_subpixel_canvas", lambda *a: None)
    rng = np.random.default_rng(1000 + seed)
    dtype = np.float32 if seed % 3 == 0 else np.float64
    while True:  # a configuration torch accepts (its output size must be positive)
        n, (groups, cin, cout, k, s, d, pad, out_pad, size) = _random_transposed_case(rng)
        if all((i - 1) * ss - 2 * p + dd * (kk - 1) + op + 1 > 0
               for i, ss, p, dd, kk, op in zip(size, s, pad, d, k, out_pad)) and all(
                op < max(ss, dd) for op, ss, dd in zip(out_pad, s, d)):
            break
    x = rng.standard_normal((2, cin) + size).astype(dtype)
    w = rng.standard_normal((cin, cout // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if seed % 2 else None
    got = getattr(F, f"conv_transpose{n}d")(x, w, b, s, pad, out_pad, groups, d)
    ref = getattr(TF, f"conv_transpose{n}d")(torch.from_numpy(x), torch.from_numpy(w),
                                             None if b is None else torch.from_numpy(b), s, pad, out_pad,
                                             groups, d).numpy()
    assert taken, "the sub-pixel path was not taken"
    phases = [conv_g for _, conv_g, _ in conv._subpixel_classes(
        arith.conv_geometry(x.shape, w.shape, n=n, stride=s, padding=pad, output_padding=out_pad, groups=groups,
                            dilation=d, transposed=True)) if conv_g is not None]
    if shared:
        assert canvases == ([len(phases)] if len(phases) > 1 else []), canvases
    if layout != "flat":
        assert not flats
    elif all(conv.flat_layout_applies(x, conv_g) for conv_g in phases):
        assert len(flats) == len(phases)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, ref, **tol, err_msg=f"k={k} s={s} d={d} p={pad} op={out_pad} in={size}")


@pytest.mark.parametrize("stride,kernel,dilation,pad,out_pad,size", [
    (2, 4, 1, 1, 0, 7), (3, 2, 1, 0, 2, 5), (2, 3, 2, 2, 1, 6), (4, 3, 3, 4, 3, 4), (1, 3, 1, 1, 0, 9)])
def test_subpixel_phases_partition_the_output(stride, kernel, dilation, pad, out_pad, size):
    """Every output position belongs to exactly one phase, and the phase's taps are the ones that
    reach it: ``o + p = i*s + t*d``."""
    g = arith.conv_geometry((1, 1, size), (1, 1, kernel), n=1, stride=stride, padding=pad, dilation=dilation,
                            output_padding=out_pad, transposed=True)
    seen = np.zeros(g.output_size[0], int)
    for (where,), conv_g, taps in conv._subpixel_classes(g):
        seen[where] += 1
        for o in range(g.output_size[0])[where]:
            reaching = sorted(t for t in range(kernel) if (o + pad - t * dilation) % stride == 0)
            assert sorted(taps[0] if conv_g is not None else []) == reaching
    assert (seen == 1).all()


def test_transposed_layer_of_the_benchmark_takes_the_subpixel_path(monkeypatch):
    taken = []
    _record_subpixel(monkeypatch, taken)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 128, 28, 28)).astype(np.float32)
    w = rng.standard_normal((128, 64, 4, 4)).astype(np.float32)
    got = F.conv_transpose2d(x, w, stride=2, padding=1)
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).numpy()
    assert taken
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x_shape,w_shape,kwargs", [
    ((16, 32, 10, 10), (32, 16, 5, 5), {}),               # LeNet's input gradient: 18/14 = 1.29 waste
    ((16, 64, 7, 7), (64, 16, 3, 3), dict(padding=1, groups=4)),
])
def test_small_transposed_layers_take_the_subpixel_path(x_shape, w_shape, kwargs, monkeypatch):
    """Up to SUBPIXEL_MAX_WASTE the sub-pixel grid replaces the GEMM plus scatter-adds (the rows path,
    which LeNet's input gradient takes first, turned off: tests/test_conv_rows.py)."""
    monkeypatch.setattr(rows, "ROWS_MAX_COLUMN_SHARE", 0.0)
    taken = []
    _record_subpixel(monkeypatch, taken)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    got = F.conv_transpose2d(x, w, **kwargs)
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), **kwargs).numpy()
    assert taken
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


# -- the weight gradient on the wide grid ---------------------------------------------------------

def _torch_weight_grad(n, x, w, grad, kw):
    """dL/dweight from torch's autograd, for the (low, high) padding the grid takes."""
    flat_pad = tuple(v for lo_hi in reversed(kw["padding"]) for v in lo_hi)
    xt = TF.pad(torch.from_numpy(x), flat_pad)
    wt = torch.from_numpy(w).requires_grad_()
    out = getattr(TF, f"conv{n}d")(xt, wt, None, stride=kw["stride"], dilation=kw["dilation"], groups=kw["groups"])
    out.backward(torch.from_numpy(grad))
    return wt.grad.numpy()


@pytest.mark.parametrize("seed", range(40))
def test_weight_grad_grid_matches_torch(seed):
    """Every layout the planner makes (whole samples, samples side by side with a shorter last group,
    one output row per GEMM, one row per canvas fill), 1d/2d/3d, strides, dilations, groups, padding."""
    rng = np.random.default_rng(1000 + seed)
    dtype = np.float64 if seed % 4 else np.float32
    n, x, w, _, kw = _random_case(rng, dtype)
    g = arith.conv_geometry(x.shape, w.shape, n=n, **kw)
    grad = rng.standard_normal((x.shape[0], w.shape[0]) + g.output_size).astype(dtype)
    ref = _torch_weight_grad(n, x, w, grad, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for chunk_bytes, canvas_bytes in ((1 << 23, None), (1 << 12, 1 << 14), (1, 1)):
        plan = grid.plan_grid(g, x.itemsize, chunk_bytes, False, canvas_bytes, batch=x.shape[0])
        got = grid.conv_weight_grad_grid(x, grad, g, plan)
        assert got.shape == w.shape and got.dtype == dtype
        np.testing.assert_allclose(got, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} {plan}")


@pytest.mark.parametrize("batch", [2, 5])
def test_weight_grad_grid_samples_side_by_side(batch, monkeypatch):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 3, 9, 7, 10))
    w = rng.standard_normal((4, 3, 3, 2, 3))
    kw = dict(stride=(1, 2, 1), padding=((1, 0), (1, 1), (2, 1)), dilation=(1, 1, 2), groups=1)
    g = arith.conv_geometry(x.shape, w.shape, n=3, **kw)
    one = grid.plan_grid(g, x.itemsize, 1 << 23, False)
    monkeypatch.setattr(grid, "FOLD_LENGTH", 2 * one.rows * one.pitch)
    plan = grid.plan_grid(g, x.itemsize, 1 << 23, False, batch=batch)
    assert plan.samples == 2
    grad = rng.standard_normal((batch, 4) + g.output_size)
    np.testing.assert_allclose(grid.conv_weight_grad_grid(x, grad, g, plan),
                               _torch_weight_grad(3, x, w, grad, kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("columns_first_max", [0, 10**9])
def test_weight_grad_both_gemm_orientations(columns_first_max, monkeypatch):
    """``columns @ grad^T`` and ``grad @ columns^T`` give the same gradient, on both paths."""
    monkeypatch.setattr(grid, "WGRAD_COLUMNS_FIRST_MAX", columns_first_max)
    rng = np.random.default_rng(7)
    cases = [((3, 4, 30, 26), (6, 2, 3, 3), dict(stride=1, padding=((1, 1), (1, 1)), dilation=1, groups=2)),
             ((2, 5, 6, 6), (7, 5, 3, 2), dict(stride=(2, 1), padding=((0, 1), (1, 0)), dilation=(1, 2), groups=1))]
    for x_shape, w_shape, kw in cases:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
        grad = rng.standard_normal((x.shape[0], w.shape[0]) + g.output_size)
        np.testing.assert_allclose(conv.conv_weight_grad(x, grad, g), _torch_weight_grad(2, x, w, grad, kw),
                                   rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("groups, cout_g, inner, length", [
    (1, 16, 25, 41552),   # LeNet's conv1: pieces and a remainder
    (3, 4, 9, 4096),      # groups; pieces only (two of them)
    (2, 8, 9, 2047),      # too short: one GEMM
    (1, 1, 9, 5000),      # one output row: one GEMM
    (1, 32, 75, 5000),    # too many outputs: one GEMM
])
def test_weight_grad_product_in_pieces(groups, cout_g, inner, length):
    """The weight-gradient GEMM, split along its inner dimension into pieces (small outputs) or not,
    equals the float64 contraction; the gradient operand may be a strided view."""
    rng = np.random.default_rng(length)
    columns = rng.standard_normal((groups, inner, length)).astype(np.float32)
    grad = rng.standard_normal((cout_g, groups, length)).astype(np.float32).transpose(1, 0, 2)
    ref = np.einsum("gkl,gml->gmk", columns.astype(np.float64), grad.astype(np.float64))
    got = grid.weight_grad_product(columns, grad)
    assert got.shape == (groups, cout_g, inner)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.sqrt(length))


def test_weight_grad_path_choice(monkeypatch):
    """Large maps whose output rows are narrower than the input's take the grid (at most 1.5 wasted
    columns, at least 512 per GEMM, several input channels; 'same' widths take the flat path, see
    ``test_conv_flat.py``); one input channel, small maps with many channels and a non-finite input
    keep the im2col, whose products never pair an inf with a wide position's zero gradient.  (The
    rows path, which takes unpadded narrower widths first where it copies fewer rows, is turned off
    here: tests/test_conv_rows.py.)"""
    monkeypatch.setattr(conv, "rows_weight_grad_plan", lambda x, g: None)
    taken = []
    original = grid.conv_weight_grad_grid
    monkeypatch.setattr(conv, "conv_weight_grad_grid", lambda *a: (taken.append(a[-1]), original(*a))[1])
    rng = np.random.default_rng(3)

    def run(x_shape, w_shape, **kw):
        taken.clear()
        x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
        g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
        grad = rng.standard_normal((x.shape[0], w.shape[0]) + g.output_size).astype(np.float32)
        conv.conv_weight_grad(x, grad, g)
        return bool(taken)

    assert run((16, 16, 14, 14), (32, 16, 5, 5))                     # LeNet's second layer
    assert run((2, 8, 56, 56), (8, 8, 3, 3))
    assert run((2, 8, 56, 56), (8, 8, 3, 3), stride=2, padding=1)
    assert not run((16, 1, 28, 28), (16, 1, 5, 5))                   # one input channel
    assert not run((2, 64, 7, 7), (64, 64, 3, 3), stride=(1, 2))     # few columns per GEMM
    x = rng.standard_normal((2, 8, 56, 56)).astype(np.float32)
    x[1, 3, 10, 55] = np.inf                                         # read at wide positions too
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    g = arith.conv_geometry(x.shape, w.shape, n=2)
    grad = rng.standard_normal((2, 8) + g.output_size).astype(np.float32)
    taken.clear()
    got = conv.conv_weight_grad(x, grad, g)
    assert not taken
    ref = _torch_weight_grad(2, x, w, grad, dict(stride=1, padding=((0, 0), (0, 0)), dilation=1, groups=1))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


@pytest.mark.parametrize("seed", range(16))
def test_weight_grad_through_autograd_on_large_maps(seed):
    """Through ``F.conv{n}d`` and backward: maps large enough for the weight-gradient grid (at least
    512 columns a block), both GEMM orientations (``C_out/G`` up to 64 and up to 200), against torch."""
    from convscope.autograd import Tensor
    rng = np.random.default_rng(500 + seed)
    n = seed % 3 + 1
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(2, 5)), groups * int(rng.integers(1, 65 if seed % 2 else 200))
    k = tuple(int(v) for v in rng.integers(1, 4, n))
    s = tuple(int(v) for v in rng.integers(1, 3, n))
    d = tuple(int(v) for v in rng.integers(1, 3, n))
    p = tuple(int(v) for v in rng.integers(0, 3, n))
    size = {1: (int(rng.integers(600, 900)),), 2: (int(rng.integers(24, 40)),) * 2, 3: (10, 12, 14)}[n]
    dtype = np.float64 if seed % 4 else np.float32
    x = rng.standard_normal((int(rng.integers(1, 4)), cin) + size).astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    out = getattr(TF, f"conv{n}d")(xt, wt, stride=s, padding=p, dilation=d, groups=groups)
    G = rng.standard_normal(out.shape).astype(dtype)
    out.backward(torch.from_numpy(G))
    xc, wc = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    getattr(F, f"conv{n}d")(xc, wc, None, s, p, d, groups).backward(G)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(wc.grad, wt.grad.numpy(), **tol)
    np.testing.assert_allclose(xc.grad, xt.grad.numpy(), **tol)


@pytest.mark.parametrize("seed", range(60))
def test_tap_blocks_cover_every_tap_once_at_its_offset(seed):
    """Each tap block is the taps of one phase combination at equally spaced canvas offsets, a slice
    of the kernel: every tap falls in exactly one block, at the offset and phase of its own (as
    listing the taps one by one gives them)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 8, n))
    s = tuple(int(v) for v in rng.integers(1, 4, n))
    d = tuple(int(v) for v in rng.integers(1, 4, n))
    size = tuple(int((kk - 1) * dd + 1 + rng.integers(0, 9)) for kk, dd in zip(k, d))
    g = arith.conv_geometry((2, 3) + size, (4, 3) + k, n=n, stride=s, dilation=d)
    plan = grid.plan_grid(g, 8, 1 << 20, stacked=False, batch=int(rng.integers(1, 4)))
    strides = plan.flat_strides()
    seen = {}
    for block in grid._tap_blocks(plan, g, n):
        taps = list(itertools.product(*(range(sl.start, sl.stop, sl.step) for sl in block.kernel)))
        assert len(taps) == int(np.prod(block.counts))
        for i, tap in enumerate(taps):
            index = np.unravel_index(i, block.counts)
            offset = block.offset + sum(int(c) * st for c, st in zip(index, block.steps))
            assert tap not in seen
            seen[tap] = (block.combo, offset)
    expected = {tap: (tuple(plan.phase[j][t] for j, t in enumerate(tap)),
                      sum(plan.shift[j][t] * strides[j] for j, t in enumerate(tap))) for tap in np.ndindex(*k)}
    assert seen == expected


def test_tap_runs_split_where_the_spacing_changes():
    assert grid._runs_of([0, 1, 2, 3], (0, 2, 4, 5)) == [(0, 3, 2, [0, 1, 2]), (5, 1, 0, [3])]
    assert grid._runs_of([0, 2], (0, 1, 1)) == [(0, 2, 1, [0, 2])]
    # equally spaced shifts, unequally spaced taps: a slice of the kernel cannot hold them
    assert grid._runs_of([0, 1, 3], (0, 1, 2, 2)) == [(0, 2, 1, [0, 1]), (2, 1, 0, [3])]
