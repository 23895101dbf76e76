"""The rows path of stride-1 2-d transposed convolution (``convscope.ops.rows``) against torch.

The path multiplies the input, widened to the full output's row pitch and shifted once per kernel
column, and adds each kernel row's products into the output rows it reaches; the padding then crops
that full output.  The cases force the path on random configurations (paddings that crop any part
of the full output, output padding past it, dilation, groups, strided inputs, bias, blocks of one
sample and of several) and check where it is chosen, non-finite inputs and the input gradient of
an unpadded convolution through autograd.
"""
import numpy as np
import pytest
import torch

import convscope.functional as F
from convscope import arith
from convscope.autograd import Tensor
from convscope.ops import conv, rows

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


def test_rows_samples_per_block_stay_in_budget():
    g = arith.conv_geometry((128, 32, 10, 10), (32, 16, 5, 5), n=2, transposed=True)
    samples = rows.rows_plan(g, 4, 128)
    columns = g.input_size[0] * (g.input_size[1] + 4)
    assert 1 < samples < 128
    assert samples * max(32 * 5, 16 * 5) * columns * 4 <= rows.ROWS_BLOCK_BYTES


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
    got = rows.conv_transpose_rows(x, w, None, g, 2)
    ref = _torch(x, w, None, kw)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_input_gradient_of_an_unpadded_conv_through_autograd(seed):
    """The input gradient of an unpadded 5x5 convolution (LeNet's conv2) is a transposed convolution
    on this path."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((int(rng.integers(1, 9)), 4, 10, 10)).astype(np.float32)
    w = rng.standard_normal((6, 4, 5, 5)).astype(np.float32)
    upstream = rng.standard_normal((x.shape[0], 6, 6, 6)).astype(np.float32)
    xc = Tensor(x, requires_grad=True)
    F.conv2d(xc, w).backward(upstream)
    xt = torch.from_numpy(x).requires_grad_(True)
    TF.conv2d(xt, torch.from_numpy(w)).backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(xc.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
