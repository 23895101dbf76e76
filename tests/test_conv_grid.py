"""The stride-phase wide-grid path of convolution (``convscope.ops.grid``) against torch.

The grid is what ``conv_forward`` uses for larger feature maps; the differential suite mostly
reaches the plain im2col path with its small inputs, so the grid is driven directly here, in both
layouts (plain and stacked taps) and with chunk budgets down to one output row per GEMM.
"""
import numpy as np
import pytest
import torch

import convscope.functional as F
from convscope import arith
from convscope.ops import conv, grid

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
    x = rng.standard_normal((int(rng.integers(1, 3)), cin) + size).astype(dtype)
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
        plan = grid.plan_grid(g, x.itemsize, chunk_bytes, stacked, canvas_bytes)
        assert plan.slab_rows % plan.rows == 0 or plan.slab_rows == g.output_size[0]
        out = np.full(ref.shape, np.nan, dtype=dtype)
        grid.conv_grid(x, w, b, g, out, plan)
        np.testing.assert_allclose(out, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} {plan}")


@pytest.mark.parametrize("seed", range(12))
def test_grid_is_the_path_for_large_maps(seed, monkeypatch):
    """Through the public function: a feature map large enough for the grid takes it."""
    rng = np.random.default_rng(100 + seed)
    n, x, w, b, kw = _random_case(rng, np.float64)
    size = tuple(40 if j == 0 else 24 for j in range(n))
    x = rng.standard_normal(x.shape[:2] + size)
    g = arith.conv_geometry(x.shape, w.shape, n=n, **kw)
    taken = []
    monkeypatch.setattr(conv, "conv_grid", lambda *a: (taken.append(a[-1]), grid.conv_grid(*a)))
    got = getattr(F, f"conv{n}d")(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    expected_plan = conv._grid_plan(g, x.itemsize)
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
