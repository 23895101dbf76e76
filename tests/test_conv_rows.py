"""The rows paths (``convscope.ops.rows``) against torch: stride-1 2-d transposed convolution, and
the weight gradient of stride-1 2-d convolutions whose output rows are narrower than the input's.

The transposed path multiplies the input, widened to the full output's row pitch and shifted once
per kernel column, and adds each kernel row's products into the output rows it reaches; the padding
then crops that full output.  The cases force it on random configurations (paddings that crop any
part of the full output, output padding past it, dilation, groups, strided inputs, bias, blocks of
one sample and of several) and check where it is chosen, non-finite inputs and the input gradient
of an unpadded convolution through autograd.  The weight-gradient path multiplies the output
gradient shifted once per kernel column by the input's rows shifted once per kernel row; its cases
cover row padding, dilation, groups and blocks, where it is chosen, and autograd.
"""
import numpy as np
import pytest
import torch

import convscope.functional as F
from convscope import arith
from convscope.autograd import Tensor
from convscope.ops import conv, rows
from convscope.ops._arrays import copy_rows

from conv_cases import random_channels_and_kernel

TF = torch.nn.functional


def _random_case(rng, dtype):
    groups, cin, cout, k, d = random_channels_and_kernel(rng)
    size = tuple(int(v) for v in rng.integers(1, 8, 2))
    # the padding crops up to the kernel's extent from each side of the full output, leaving at least
    # one position; output padding (below the dilation, the stride being 1) adds positions past it
    full = [n + (kk - 1) * dd for n, kk, dd in zip(size, k, d)]
    pad = tuple(int(rng.integers(0, min((kk - 1) * dd, (f - 1) // 2) + 1)) for kk, dd, f in zip(k, d, full))
    out_pad = tuple(int(rng.integers(0, dd)) for dd in d)
    x = rng.standard_normal((int(rng.integers(1, 6)), cin) + size).astype(dtype)
    if rng.random() < 0.3:  # a strided view
        x = x[..., ::-1]
    w = rng.standard_normal((cin, cout // groups) + k).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if rng.random() < 0.5 else None
    return x, w, b, dict(padding=pad, dilation=d, groups=groups, output_padding=out_pad)


def _assert_same_with_nonfinite(got, ref, tol):
    """NaN and inf exactly where torch has them, the finite values within ``tol``."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=tol, atol=tol)


def _torch(x, w, b, kw):
    return TF.conv_transpose2d(torch.from_numpy(x.copy()), torch.from_numpy(w),
                               None if b is None else torch.from_numpy(b), **kw).numpy()


@pytest.mark.parametrize("seed", range(60))
def test_rows_matches_torch(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if seed % 3 else np.float32
    x, w, b, kw = _random_case(rng, dtype)
    g = arith.conv_geometry(x.shape, w.shape, n=2, transposed=True, **kw)
    ref = _torch(x, w, b, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for samples in (1, 2, x.shape[0]):
        out = rows.conv_transpose_rows(x, w, b, g, samples)
        np.testing.assert_allclose(out, ref, **tol, err_msg=f"{kw} k={w.shape[2:]} in={x.shape} samples={samples}")
    # and through the public op, the path forced
    monkeypatch.setattr(rows, "ROWS_MAX_COLUMN_SHARE", 1e9)
    assert rows.rows_plan(g, x.itemsize, x.shape[0]) is not None
    np.testing.assert_allclose(F.conv_transpose2d(x, w, b, **kw), ref, **tol)


@pytest.mark.parametrize("x_shape, w_shape, kwargs, expected", [
    ((128, 32, 10, 10), (32, 16, 5, 5), {}, True),                      # LeNet's conv2 input gradient
    ((16, 64, 8, 8), (64, 64, 7, 7), {}, True),                          # 8 -> 14
    ((64, 32, 6, 6), (32, 32, 3, 3), dict(dilation=2), True),           # 6 -> 10
    ((8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), False),          # 'same': nothing saved
    ((32, 32, 26, 26), (32, 16, 3, 3), {}, False),                      # 26 -> 28: too little saved
    ((8, 128, 28, 28), (128, 64, 4, 4), dict(stride=2, padding=1), False),  # stride 2: sub-pixel
    ((1, 512, 40, 40), (512, 512, 9, 9), {}, False),                    # one sample over the budget
])
def test_rows_path_choice(x_shape, w_shape, kwargs, expected):
    g = arith.conv_geometry(x_shape, w_shape, n=2, transposed=True, **kwargs)
    assert (rows.rows_plan(g, 4, x_shape[0]) is not None) == expected


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((128, 32, 10, 10), (32, 16, 5, 5), {}),
    ((4096, 2, 1, 3), (2, 64, 3, 3), dict(dilation=(60, 1))),  # few rows, a wide dilation: the full output is largest
])
def test_rows_samples_per_block_stay_in_budget(x_shape, w_shape, kwargs):
    """A block's columns, product and full output each stay within ROWS_BLOCK_BYTES."""
    g = arith.conv_geometry(x_shape, w_shape, n=2, transposed=True, **kwargs)
    samples = rows.rows_plan(g, 4, x_shape[0])
    assert samples is not None and 1 < samples < x_shape[0]
    (h, w), (kh, kw), (dh, dw) = g.input_size, g.kernel_size, g.dilation
    full_h, pitch = h + dh * (kh - 1), w + dw * (kw - 1)
    for per_sample in (g.in_channels * kw * h * pitch, g.out_channels * kh * h * pitch, g.out_channels * full_h * pitch):
        assert samples * per_sample * 4 <= rows.ROWS_BLOCK_BYTES


def test_rows_path_is_taken_and_inf_weights_avoid_it(monkeypatch):
    """The op takes the rows path where it pays; an inf weight would meet the widened input's zero
    columns (``inf * 0``), so such a weight takes the scatter path, which torch matches."""
    calls = []
    real = conv.conv_transpose_rows
    monkeypatch.setattr(conv, "conv_transpose_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5, 5)).astype(np.float32)
    w = rng.standard_normal((6, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(F.conv_transpose2d(x, w), _torch(x, w, None, {}), rtol=1e-4, atol=1e-4)
    assert calls == [1]
    w[0, 1, 2, 3] = np.inf
    np.testing.assert_allclose(F.conv_transpose2d(x, w), _torch(x, w, None, {}), rtol=1e-4, atol=1e-4)
    assert calls == [1]


def test_rows_propagates_nan_and_inf_only_to_their_outputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6, 5))
    x[0, 1, 2, 4] = np.nan
    x[2, 3, 5, 0] = np.inf
    x[1, 0, 0, 0] = -np.inf
    w = rng.standard_normal((4, 2, 3, 4))
    kw = dict(padding=(1, 2), dilation=(2, 1))
    g = arith.conv_geometry(x.shape, w.shape, n=2, transposed=True, **kw)
    _assert_same_with_nonfinite(rows.conv_transpose_rows(x, w, None, g, 2), _torch(x, w, None, kw), 1e-10)


# -- the weight gradient on the input's rows -----------------------------------------------------

def _random_weight_grad_case(rng, dtype):
    """A stride-1 convolution without padding along the rows' width, its rows padded or not, and its
    output gradient."""
    groups, cin, cout, k, d = random_channels_and_kernel(rng)
    size = (int((k[0] - 1) * d[0] + 1 + rng.integers(0, 8)), int((k[1] - 1) * d[1] + 2 + rng.integers(0, 8)))
    pad = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))), (0, 0))
    x = rng.standard_normal((int(rng.integers(1, 6)), cin) + size).astype(dtype)
    w_shape = (cout, cin // groups) + k
    g = arith.conv_geometry(x.shape, w_shape, n=2, padding=pad, dilation=d, groups=groups)
    grad = rng.standard_normal((x.shape[0], cout) + g.output_size).astype(dtype)
    return x, w_shape, g, grad, dict(padding=pad, dilation=d, groups=groups)


def _torch_weight_grad(x, w_shape, grad, kw):
    flat_pad = tuple(v for lo_hi in reversed(kw["padding"]) for v in lo_hi)
    wt = torch.zeros(w_shape, dtype=torch.from_numpy(x).dtype, requires_grad=True)
    TF.conv2d(TF.pad(torch.from_numpy(x), flat_pad), wt, dilation=kw["dilation"], groups=kw["groups"]).backward(
        torch.from_numpy(grad))
    return wt.grad.numpy()


@pytest.mark.parametrize("seed", range(60))
def test_rows_weight_grad_matches_torch(seed):
    rng = np.random.default_rng(1000 + seed)
    dtype = np.float64 if seed % 3 else np.float32
    x, w_shape, g, grad, kw = _random_weight_grad_case(rng, dtype)
    ref = _torch_weight_grad(x, w_shape, grad, kw)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for samples in (1, 2, x.shape[0]):
        got = rows.conv_weight_grad_rows(x, grad, g, samples)
        np.testing.assert_allclose(got, ref, **tol, err_msg=f"{kw} w={w_shape} in={x.shape} samples={samples}")


@pytest.mark.parametrize("x_shape, w_shape, kwargs, expected", [
    ((128, 16, 14, 14), (32, 16, 5, 5), {}, True),                    # LeNet's conv2
    ((16, 64, 30, 30), (64, 64, 3, 3), {}, True),
    ((16, 64, 30, 30), (64, 64, 3, 3), dict(padding=((1, 1), (0, 0))), True),  # rows padded only
    ((16, 64, 30, 30), (64, 64, 3, 3), dict(padding=1), False),       # 'same' widths: the flat path
    ((16, 64, 30, 30), (64, 64, 3, 3), dict(padding=((0, 0), (1, 0))), False),  # padded along the rows
    ((16, 64, 30, 30), (64, 64, 3, 3), dict(stride=2), False),
    ((8, 3, 38, 38), (64, 3, 7, 7), {}, False),                      # more copied rows than the grid's
    ((1, 512, 90, 90), (512, 512, 3, 3), {}, False),                  # one sample over the budget
])
def test_rows_weight_grad_path_choice(x_shape, w_shape, kwargs, expected):
    x = np.zeros(x_shape, dtype=np.float32)
    g = arith.conv_geometry(x_shape, w_shape, n=2, **kwargs)
    assert (rows.rows_weight_grad_plan(x, g) is not None) == expected


def test_rows_weight_grad_needs_a_finite_input():
    """The input's values meet the gradient's zero margins: an inf there would give NaN where torch's
    sum has none, so such an input takes another path, which matches torch."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 16, 14, 14)).astype(np.float32)
    g = arith.conv_geometry(x.shape, (32, 16, 5, 5), n=2)
    assert rows.rows_weight_grad_plan(x, g) is not None
    x[1, 3, 13, 13] = np.inf  # the last column: tap (4, 4) of output (9, 9) reads it
    x[2, 5, 0, 12] = np.inf
    assert rows.rows_weight_grad_plan(x, g) is None
    grad = rng.standard_normal((4, 32, 10, 10)).astype(np.float32)
    ref = _torch_weight_grad(x, (32, 16, 5, 5), grad, dict(padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1))
    _assert_same_with_nonfinite(conv.conv_weight_grad(x, grad, g), ref, 1e-4)


@pytest.mark.parametrize("seed", range(6))
def test_gradients_of_an_unpadded_conv_through_autograd(seed):
    """LeNet's conv2 (unpadded 5x5 16->32 at 14x14) trains on both rows paths: its input gradient is a
    transposed convolution on the first, its weight gradient the second; both match torch's."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((int(rng.integers(1, 40)), 16, 14, 14)).astype(np.float32)
    w = rng.standard_normal((32, 16, 5, 5)).astype(np.float32)
    g = arith.conv_geometry(x.shape, w.shape, n=2)
    assert rows.rows_weight_grad_plan(x, g) is not None
    assert rows.rows_plan(conv._swap(g), x.itemsize, x.shape[0]) is not None
    upstream = rng.standard_normal((x.shape[0], 32, 10, 10)).astype(np.float32)
    xc, wc = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    F.conv2d(xc, wc).backward(upstream)
    xt, wt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(w).requires_grad_(True)
    TF.conv2d(xt, wt).backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(xc.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wc.grad, wt.grad.numpy(), rtol=1e-4, atol=1e-3)


# -- the row copy the crops into the output use -------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_rows_is_a_copy(dtype):
    """``copy_rows`` moves a crop of wider rows into a strided output bit for bit (NaN payloads and
    signed zeros included), and falls back to ``np.copyto`` where a last axis is not contiguous, is
    one element wide, or the rows follow each other in both arrays (NumPy joins them)."""
    rng = np.random.default_rng(0)
    wide = rng.standard_normal((3, 4, 5, 9)).astype(dtype)
    wide[0, 1, 2, 3] = np.nan
    wide[1, 2, 3, 4] = -0.0
    source = wide[..., 1:7]
    out = np.zeros((4, 3, 5, 6), dtype=dtype)
    target = np.moveaxis(out, 1, 0)  # strided, last axis contiguous
    copy_rows(target, source)
    assert np.array_equal(target.view(f"u{out.itemsize}"), np.ascontiguousarray(source).view(f"u{out.itemsize}"))
    # last axis strided in the target, one element wide, broadcast source
    for target, source in [(np.zeros((3, 4, 5, 12), dtype)[..., ::2], wide[..., :6]),
                           (np.zeros((3, 4, 5, 1), dtype), wide[..., 2:3]),
                           (np.zeros((3, 4, 5, 6), dtype), np.broadcast_to(wide[:1, :1, :1, :6], (3, 4, 5, 6))),
                           (np.zeros((3, 4, 5, 6), dtype), np.ascontiguousarray(wide[..., :6]))]:
        copy_rows(target, source)
        np.testing.assert_array_equal(target, source)
    empty = np.zeros((0, 6), dtype)
    copy_rows(empty, np.zeros((0, 6), dtype))


# -- per-channel operands (bias, batch norm) -----------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 3, 7), (5, 3), (1, 3, 4, 4), (3, 2, 1, 1), (2, 4, 3, 2, 5),
                                   (2, 65, 64, 64)])  # the last one's samples exceed PER_CHANNEL_SAMPLE_BYTES
@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply])
@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64)])
def test_per_channel_is_the_channel_broadcast(shape, ufunc, dtypes):
    """Bit for bit the broadcast of ``values.reshape(1, C, 1, ...)`` (NaN, inf and signed zeros too),
    with NumPy's dtype promotion, in place or into a new array."""
    from convscope.ops._arrays import per_channel
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtypes[0])
    x.flat[0], x.flat[-1] = np.nan, -0.0
    values = rng.standard_normal(shape[1]).astype(dtypes[1])
    values[0] = np.inf
    expected = ufunc(x, values.reshape((1, -1) + (1,) * (x.ndim - 2)))
    got = per_channel(ufunc, x, values)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got.view(f"u{got.itemsize}"), expected.view(f"u{got.itemsize}"))
    if expected.dtype == x.dtype:
        inplace = x.copy()
        assert per_channel(ufunc, inplace, values, out=inplace) is inplace
        assert np.array_equal(inplace.view(f"u{x.itemsize}"), expected.view(f"u{x.itemsize}"))
