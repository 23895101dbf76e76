"""The flat path of stride-1 2-d convolution (``convscope.ops.flat``) against torch.

The flat path reads each tap's columns straight from the input's rows and zeroes the products
that wrap around a row's end; the cases here put those wraps everywhere: asymmetric and
negative-free paddings up to the kernel's extent, dilation, groups, outputs narrower than the
input, blocks of one row and of several samples, both GEMM layouts, and non-finite inputs.
"""
import numpy as np
import pytest
import torch

import convscope.functional as F
from convscope import arith
from convscope.ops import conv, flat, rows

from conv_cases import random_channels_and_kernel

TF = torch.nn.functional


def _random_case(rng, dtype):
    groups, cin, cout, k, d = random_channels_and_kernel(rng)
    extent = [(kk - 1) * dd for kk, dd in zip(k, d)]
    # the last dimension's padding may not widen the output past the input (the flat condition)
    lo_w = int(rng.integers(0, extent[1] + 1))
    hi_w = int(rng.integers(0, extent[1] - lo_w + 1))
    pad = ((int(rng.integers(0, 4)), int(rng.integers(0, 4))), (lo_w, hi_w))
    size = (int(extent[0] + 1 + rng.integers(0, 7)), int(extent[1] + 1 + rng.integers(0, 7)))
    x = rng.standard_normal((int(rng.integers(1, 6)), cin) + size).astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if rng.random() < 0.5 else None
    return x, w, b, dict(stride=(1, 1), padding=pad, dilation=d, groups=groups)


def _torch_conv(x, w, b, kw):
    flat_pad = tuple(v for lo_hi in reversed(kw["padding"]) for v in lo_hi)
    return TF.conv2d(TF.pad(torch.from_numpy(x), flat_pad), torch.from_numpy(w),
                     None if b is None else torch.from_numpy(b), dilation=kw["dilation"], groups=kw["groups"]).numpy()


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_flat_matches_torch(seed, stacked):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if seed % 4 else np.float32
    x, w, b, kw = _random_case(rng, dtype)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    assert flat.flat_applies(x, w, g)
    ref = _torch_conv(x, w, b, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    # budgets: several samples per GEMM; whole samples; one output row per GEMM
    for chunk_bytes, batch in ((1 << 23, x.shape[0]), (1 << 23, 1), (1, x.shape[0])):
        plan = flat.plan_flat(g, x.itemsize, chunk_bytes, stacked, batch)
        out = np.full(ref.shape, np.nan, dtype=dtype)
        flat.conv_flat(x, w, b, g, out, plan)
        np.testing.assert_allclose(out, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} {plan}")


def test_flat_several_samples_per_gemm():
    """Small maps put several samples one after the other along the GEMM's columns (three per GEMM
    here, by the chunk budget: the last GEMM gets one)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 4, 6, 5))
    w = rng.standard_normal((3, 4, 3, 3))
    kw = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    for stacked in (False, True):
        one = flat.plan_flat(g, x.itemsize, 1 << 23, stacked, batch=1)
        per_row = max(4 * (3 if stacked else 9), 3 * (3 if stacked else 1)) * 5 * x.itemsize
        plan = flat.plan_flat(g, x.itemsize, 3 * per_row * 6, stacked, batch=7)
        assert one.samples == 1 and plan.samples == 3 and plan.rows == 6
        out = np.full((7, 3, 6, 5), np.nan)
        flat.conv_flat(x, w, None, g, out, plan)
        np.testing.assert_allclose(out, _torch_conv(x, w, None, kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_flat_non_finite_input_matches_torch(value, stacked):
    """An inf or NaN next to a row's end is read by the wrapped positions of the neighbouring row;
    their zeroed products must not let it through (torch reads the zero padding there)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 8))
    x[0, 1, 4, 0] = value        # first column: wrapped into by row 3's right taps
    x[1, 2, 2, 7] = value        # last column: wrapped into by row 3's left taps
    x[1, 0, 0, 3] = value        # first row: the clipped rows above the input
    w = rng.standard_normal((4, 3, 3, 5))
    kw = dict(stride=(1, 1), padding=((1, 1), (2, 2)), dilation=(1, 1), groups=1)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    plan = flat.plan_flat(g, x.itemsize, 1 << 23, stacked, batch=2)
    out = np.full((2, 4, 9, 8), 7.0)
    with np.errstate(invalid="ignore"):
        flat.conv_flat(x, w, None, g, out, plan)
    ref = _torch_conv(x, w, None, kw)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-10, atol=1e-10)


def test_flat_conditions():
    """Where the flat path does not apply, the canvas grid (or im2col) runs instead."""
    x = np.zeros((2, 3, 20, 20))
    w = np.ones((4, 3, 3, 3))

    def applies(x, w, **kw):
        return flat.flat_applies(x, w, arith.conv_geometry(x.shape, w.shape, n=2, **kw))

    assert applies(x, w, padding=1)
    assert applies(x, w, padding=0)                            # narrower output: its extra columns are dropped
    assert not applies(x, w, padding=2)                        # output wider than the input's rows (widened:
                                                               # test_widened_rows_*)
    assert not applies(x, w, padding=1, stride=2)
    assert not applies(x[:, :, :, ::2], w, padding=1)          # strided columns: a plane is not one run
    assert not applies(x[:, :, ::2], w, padding=1)             # strided rows: neither
    assert applies(x[:, ::2], w[:, ::2], padding=1)            # strided channels and samples are fine
    w_inf = w.copy()
    w_inf[0, 0, 1, 1] = np.inf
    assert not applies(x, w_inf, padding=1)                    # inf * padding's zero is NaN in torch
    x1, w1 = np.zeros((2, 3, 20)), np.ones((4, 3, 3))
    assert not flat.flat_applies(x1, w1, arith.conv_geometry(x1.shape, w1.shape, n=1, padding=1))


@pytest.mark.parametrize("seed", range(12))
def test_public_conv2d_takes_the_flat_path(seed, monkeypatch):
    """Through ``conv2d``: maps large enough for the grid take the flat path."""
    rng = np.random.default_rng(200 + seed)
    x, w, b, kw = _random_case(rng, np.float64)
    x = rng.standard_normal(x.shape[:2] + (40, 24))
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    taken = []
    original = flat.conv_flat
    monkeypatch.setattr(conv, "conv_flat", lambda *a: (taken.append(a[-1]), original(*a)))
    got = F.conv2d(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    expected = conv._grid_plan(g, x.itemsize, x.shape[0], flat=True)
    assert taken == ([expected] if expected is not None else [])
    np.testing.assert_allclose(got, _torch_conv(x, w, b, kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(12))
def test_input_gradient_takes_the_flat_path(seed, monkeypatch):
    """The input gradient of a stride-1 convolution is a stride-1 transposed convolution: one
    sub-pixel phase, a stride-1 convolution of the output gradient, on the flat path (its rows
    widened where the padding goes beyond 'same')."""
    from convscope.autograd import Tensor
    rng = np.random.default_rng(300 + seed)
    dtype = np.float64 if seed % 2 else np.float32
    groups = int(rng.choice([1, 2]))
    k = tuple(int(v) for v in rng.integers(2, 6, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    pad = tuple(int(rng.integers(0, (kk - 1) * dd // 2 + 1)) for kk, dd in zip(k, d))  # output within the input
    x = rng.standard_normal((int(rng.integers(1, 4)), groups * int(rng.integers(16, 25)), 36, 30)).astype(dtype)
    w = rng.standard_normal((groups * int(rng.integers(4, 9)), x.shape[1] // groups) + k).astype(dtype)
    kw = dict(dilation=d, groups=groups)
    taken = []
    original = flat.conv_flat
    monkeypatch.setattr(conv, "conv_flat", lambda *a: (taken.append(1), original(*a)))
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    out = TF.conv2d(xt, wt, padding=pad, dilation=kw["dilation"], groups=kw["groups"])
    grad = rng.standard_normal(out.shape).astype(x.dtype)
    out.backward(torch.from_numpy(grad))
    xc, wc = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    F.conv2d(xc, wc, None, 1, pad, kw["dilation"], kw["groups"]).backward(grad)
    # the forward, and the input gradient: on the output gradient's own rows for 'same' widths, on
    # a widened copy of them otherwise
    assert len(taken) == 2
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(xc.grad, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(wc.grad, wt.grad.numpy(), **tol)


@pytest.mark.parametrize("kernel,dilation,pad_w,stacked,bias_in_gemm,direct", [
    ((3, 3), (1, 1), (1, 1), False, False, True),    # plain, one sample, o_w = W: GEMM into the output
    ((3, 3), (1, 1), (0, 1), False, False, False),   # plain, o_w < W: through the product
    ((3, 3), (1, 1), (1, 1), True, True, False),     # stacked: the middle tap's block carries the bias
    ((3, 2), (1, 2), (1, 1), True, False, False),    # stacked, taps at -1 and +1 both wrap: bias added after
])
def test_flat_bias_and_output_routes(kernel, dilation, pad_w, stacked, bias_in_gemm, direct, monkeypatch):
    """The bias in the GEMM (stacked: its weight is a copy anyway) or after it, and the GEMM into the
    output or into the product."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 12, 9, 8))
    w = rng.standard_normal((4, 12) + kernel)
    b = rng.standard_normal(4)
    kw = dict(stride=(1, 1), padding=((1, 1), pad_w), dilation=dilation, groups=1)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    plan = flat.plan_flat(g, x.itemsize, 1 << 23, stacked, batch=1)
    assert plan.stacked == stacked and plan.samples == 1
    inner = 12 * (kernel[0] if stacked else kernel[0] * kernel[1])
    assert flat._weight_matrix(w, b, g, plan, inner)[1] == bias_in_gemm
    directs = []
    original = flat._as_gemm_output
    monkeypatch.setattr(flat, "_as_gemm_output", lambda t: directs.append(original(t)) or directs[-1])
    out = np.full((2, 4) + g.output_size, np.nan)
    flat.conv_flat(x, w, b, g, out, plan)
    assert any(d is not None for d in directs) == direct
    np.testing.assert_allclose(out, _torch_conv(x, w, b, kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stacked", [False, True])
def test_flat_into_a_strided_output(stacked):
    """The output may be any strided view (a transposed convolution's sub-pixel phase writes one)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 6, 10, 9))
    w = rng.standard_normal((4, 6, 3, 3))
    b = rng.standard_normal(4)
    kw = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    canvas = np.full((1, 4, 20, 18), 7.0)
    flat.conv_flat(x, w, b, g, canvas[:, :, 1::2, ::2], flat.plan_flat(g, x.itemsize, 1 << 23, stacked, batch=1))
    np.testing.assert_allclose(canvas[:, :, 1::2, ::2], _torch_conv(x, w, b, kw), rtol=1e-10, atol=1e-10)
    assert (canvas[:, :, ::2] == 7.0).all() and (canvas[:, :, :, 1::2] == 7.0).all()


# -- the weight gradient on the input's rows ------------------------------------------------------

def _torch_weight_grad(x, w, grad, kw):
    flat_pad = tuple(v for lo_hi in reversed(kw["padding"]) for v in lo_hi)
    wt = torch.from_numpy(w).requires_grad_()
    out = TF.conv2d(TF.pad(torch.from_numpy(x), flat_pad), wt, dilation=kw["dilation"], groups=kw["groups"])
    out.backward(torch.from_numpy(grad))
    return wt.grad.numpy()


@pytest.mark.parametrize("seed", range(40))
def test_weight_grad_flat_matches_torch(seed):
    """Every layout: several samples per GEMM, one, one output row; outputs as wide as the input's
    rows and narrower (the gradient then sits on the wider rows with zeros past ``o_w``)."""
    rng = np.random.default_rng(400 + seed)
    dtype = np.float64 if seed % 4 else np.float32
    x, w, _, kw = _random_case(rng, dtype)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    grad = rng.standard_normal((x.shape[0], w.shape[0]) + g.output_size).astype(dtype)
    ref = _torch_weight_grad(x, w, grad, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for chunk_bytes, batch in ((1 << 23, x.shape[0]), (1 << 23, 1), (1, x.shape[0])):
        plan = flat.plan_flat(g, x.itemsize, chunk_bytes, False, batch)
        got = flat.conv_weight_grad_flat(x, grad, g, plan)
        assert got.shape == w.shape and got.dtype == dtype
        np.testing.assert_allclose(got, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} {plan}")


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_weight_grad_path_choice_and_non_finite(value, monkeypatch):
    """'Same' widths take the flat path, one input channel included, and non-finite inputs too: no
    position there pairs an input value with a made-up zero gradient, and the wrapped positions
    are zeroed columns (the padding), so an inf next to a row's end gives what torch gives."""
    taken = []
    original = flat.conv_weight_grad_flat
    monkeypatch.setattr(conv, "conv_weight_grad_flat", lambda *a: (taken.append(a[-1]), original(*a))[1])
    rng = np.random.default_rng(7)
    for x_shape, w_shape, pad in (((16, 1, 28, 28), (16, 1, 5, 5), 2), ((2, 64, 7, 7), (64, 64, 3, 3), 1),
                                  ((2, 8, 20, 20), (8, 8, 3, 3), 1)):
        x = rng.standard_normal(x_shape)
        x[-1, -1, 4, -1] = value    # read by the wrapped positions of the next row's left taps
        x[0, 0, 3, 0] = value
        w = rng.standard_normal(w_shape)
        kw = dict(stride=(1, 1), padding=((pad, pad), (pad, pad)), dilation=(1, 1), groups=1)
        g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
        grad = rng.standard_normal((x.shape[0], w.shape[0]) + g.output_size)
        taken.clear()
        with np.errstate(invalid="ignore"):
            got = conv.conv_weight_grad(x, grad, g)
        assert len(taken) == 1 and taken[0].samples >= 1
        ref = _torch_weight_grad(x, w, grad, kw)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-10, atol=1e-10)
    x, w = rng.standard_normal((2, 8, 20, 20)), rng.standard_normal((8, 8, 3, 3))
    g = arith.conv_geometry(x.shape, w.shape, n=2)   # narrower rows: not the flat path
    taken.clear()
    conv.conv_weight_grad(x, rng.standard_normal((2, 8) + g.output_size), g)
    assert not taken


# -- outputs wider than the input: widened rows ----------------------------------------------------

@pytest.mark.parametrize("seed", range(30))
def test_widened_rows_match_torch(seed, monkeypatch):
    """Padding beyond 'same' (the output rows wider than the input's) runs flat on a copy of the
    input with zero columns appended: forward and transposed (one phase), against torch."""
    rng = np.random.default_rng(600 + seed)
    dtype = np.float64 if seed % 3 else np.float32
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 5))
    k = tuple(int(v) for v in rng.integers(2, 6, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    extent = [(kk - 1) * dd for kk, dd in zip(k, d)]
    lo_w = int(rng.integers(0, extent[1] + 1))
    hi_w = int(rng.integers(max(0, extent[1] - lo_w + 1), extent[1] + 3))   # wider than the input
    pad = ((int(rng.integers(0, extent[0] + 1)), int(rng.integers(0, extent[0] + 1))), (lo_w, hi_w))
    x = rng.standard_normal((int(rng.integers(1, 5)), cin, extent[0] + int(rng.integers(1, 9)), int(rng.integers(3, 12))))
    x = x.astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if seed % 2 else None
    kw = dict(stride=(1, 1), padding=pad, dilation=d, groups=groups)
    g = arith.conv_geometry(x.shape, w.shape, n=2, **kw)
    assert g.output_size[1] > x.shape[-1]
    run = flat.flat_input(x, w, g)
    assert run is not None and run[0].shape[-1] == g.output_size[1] and run[1].output_size == g.output_size
    taken = []
    original = flat.conv_flat
    monkeypatch.setattr(conv, "conv_flat", lambda *a: (taken.append(1), original(*a)))
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(F.conv2d(x, w, b, 1, pad, d, groups), _torch_conv(x, w, b, kw), **tol)
    assert taken
    # a stride-1 transposed convolution whose one phase widens: 'full' padding (small maps take the
    # sub-pixel path here only with the grid's size rules lifted, and the rows path turned off:
    # tests/test_conv_rows.py covers that one)
    monkeypatch.setattr(rows, "ROWS_MAX_COLUMN_SHARE", 0.0)
    monkeypatch.setattr(conv, "GRID_MIN_LENGTH", 0)
    monkeypatch.setattr(conv, "GRID_MIN_SAMPLE_BYTES", 0)
    monkeypatch.setattr(conv, "SUBPIXEL_MAX_WASTE", float("inf"))
    taken.clear()
    wt = rng.standard_normal((cin, cout // groups) + k).astype(dtype)
    got = F.conv_transpose2d(x, wt, b, 1, 0, 0, groups, d)
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt), None if b is None else torch.from_numpy(b),
                              1, 0, 0, groups, d).numpy()
    np.testing.assert_allclose(got, ref, **tol)
    assert taken


def test_widened_rows_conditions(monkeypatch):
    """No copy beyond WIDEN_MAX_BYTES (the grid's bounded canvas takes it), none for a non-finite
    weight (the grid's real zeros give torch's NaN), none for strides."""
    x = np.ones((2, 3, 10, 10))
    w = np.ones((4, 3, 3, 3))
    g = arith.conv_geometry(x.shape, w.shape, n=2, padding=2)
    assert flat.flat_input(x, w, g) is not None
    monkeypatch.setattr(flat, "WIDEN_MAX_BYTES", 2 * 3 * 10 * 12 * 8 - 1)
    assert flat.flat_input(x, w, g) is None
    monkeypatch.setattr(flat, "WIDEN_MAX_BYTES", 2 * 3 * 10 * 12 * 8)
    assert flat.flat_input(x, w, g) is not None
    w_inf = w.copy()
    w_inf[1, 2, 0, 0] = -np.inf
    assert flat.flat_input(x, w_inf, g) is None
    g2 = arith.conv_geometry(x.shape, w.shape, n=2, padding=2, stride=2)
    assert flat.flat_input(x, w, g2) is None
    ref = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w_inf), padding=2).numpy()
    with np.errstate(invalid="ignore"):
        got = F.conv2d(x, w_inf, None, padding=2)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))


def test_small_transposed_maps_take_the_flat_subpixel_path(monkeypatch):
    """Phases on the input's own rows waste no columns, so small maps, which the grid's canvas
    refuses (too much waste), take the sub-pixel path too (4x4 s2 on 7x7: 3.1 -> 1.8 ms measured)."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((16, 32, 7, 7)).astype(np.float32)
    w = rng.standard_normal((32, 16, 4, 4)).astype(np.float32)
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).numpy()
    taken, phases = [], []
    subpixel, original = conv._conv_transpose_subpixel, flat.conv_flat
    def recorded(*args):
        out = subpixel(*args)
        taken.append(out is not None)  # None: a phase had no layout, the GEMM plus scatter-adds ran
        return out
    monkeypatch.setattr(conv, "_conv_transpose_subpixel", recorded)
    monkeypatch.setattr(conv, "conv_flat", lambda *a: (phases.append(1), original(*a)))
    np.testing.assert_allclose(F.conv_transpose2d(x, w, stride=2, padding=1), ref, rtol=1e-4, atol=1e-4)
    assert taken == [True] and len(phases) == 4
    taken.clear()
    monkeypatch.setattr(conv, "SUBPIXEL_FLAT", False)   # the canvas alone: the GEMM plus scatter-adds
    np.testing.assert_allclose(F.conv_transpose2d(x, w, stride=2, padding=1), ref, rtol=1e-4, atol=1e-4)
    assert taken == [False]


@pytest.mark.parametrize("seed", range(40))
def test_gather_through_the_padded_buffer_equals_per_tap(seed, monkeypatch):
    """The one-copy gather of equally spaced taps (through a zero-padded copy of the rows they read)
    gives exactly the per-tap gather: taps before the plane, past it, both, and neither."""
    rng = np.random.default_rng(seed)
    groups, cin_g, nb = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(2, 5))
    dy, dx = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    h, w = int(rng.integers(1, 9)), int(rng.integers((kw - 1) * dx + 1, 12))  # rows of taps apart
    y_first, x_first = int(rng.integers(-3, 2)), int(rng.integers(-3, 2))
    a_y = [y_first + i * dy for i in range(kh)]
    a_x = [x_first + k * dx for k in range(kw)]
    starts = [ay * w + ax for ay in a_y for ax in a_x]
    batch = nb + int(rng.integers(0, 2))
    x = rng.standard_normal((batch + 1, groups * cin_g + 1, h, w))[1:, 1:]  # strided samples and channels
    b0, y0 = batch - nb, int(rng.integers(0, h))
    span = int(rng.integers(1, 2 * h * w))
    got = np.full((groups, cin_g, len(starts), nb, span), np.nan)
    monkeypatch.setattr(flat, "PADDED_MIN_TAPS", 1)
    buffers = []
    scratch = flat.scratch
    monkeypatch.setattr(flat, "scratch", lambda *a, **k: buffers.append(k.get("slot")) or scratch(*a, **k))
    flat.gather_plane_slices(x, got, b0, y0, starts)
    reads_outside = y0 * w + min(starts) < 0 or y0 * w + max(starts) + span > h * w
    assert buffers == ([flat.PADDED_SLOT] if reads_outside else [])
    expected = np.full_like(got, np.nan)
    monkeypatch.setattr(flat, "PADDED_MIN_TAPS", 10**9)
    flat.gather_plane_slices(x, expected, b0, y0, starts)
    np.testing.assert_array_equal(got, expected)


def test_starts_as_a_grid():
    assert flat._as_grid((0, 1, 2, 10, 11, 12)) == (2, 3, 10, 1)
    assert flat._as_grid((-5, -3, -1)) == (1, 3, 0, 2)
    assert flat._as_grid((0, 1, 2, 3)) == (1, 4, 0, 1)
    assert flat._as_grid((0, 1, 5, 7)) is None       # the spacing changes within a row
    assert flat._as_grid((3, 2, 1)) is None          # descending
    assert flat._as_grid((0,)) is None
