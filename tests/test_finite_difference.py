"""Finite-difference checks of convscope's backward rules, independent of torch.

For a few representative ops the analytic gradient (``Tensor.backward`` with a random upstream
gradient ``G``) of ``sum(op(inputs) * G)`` is compared with central differences
``(f(x + eps) - f(x - eps)) / (2 eps)`` in float64, ``eps = 1e-6``, one element at a time; the
forward passes for the differences run on plain NumPy arrays.  Inputs are tiny (a few hundred
elements), so the whole file runs in seconds.
"""
from __future__ import annotations

import numpy as np
import pytest

import convscope.functional as CF
from convscope import Tensor

EPS = 1e-6
RTOL = 1e-6


def numeric_grad(f, arrays: dict, name: str) -> np.ndarray:
    """Central differences of the scalar ``f(**arrays)`` with respect to ``arrays[name]``."""
    x = arrays[name]
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        original = x[index]
        x[index] = original + EPS
        plus = f(**arrays)
        x[index] = original - EPS
        minus = f(**arrays)
        x[index] = original
        grad[index] = (plus - minus) / (2 * EPS)
    return grad


def check_fd(cfg, op, arrays: dict, seed: int, wrt=None):
    """Analytic gradients of ``sum(op(**arrays) * G)`` against central differences for every
    input named in ``wrt`` (default: all)."""
    rng = np.random.default_rng(seed)
    arrays = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
    out = op(**arrays)
    assert isinstance(out, np.ndarray), f"array inputs must give an array, got {type(out)}; config={cfg}"
    G = rng.standard_normal(out.shape)

    def f(**values):
        return float(np.sum(op(**values) * G))

    wrt = list(arrays) if wrt is None else wrt
    leaves = {k: Tensor(v.copy(), requires_grad=k in wrt) for k, v in arrays.items()}
    result = op(**leaves)
    assert isinstance(result, Tensor) and result.requires_grad, cfg
    np.testing.assert_allclose(result.data, out, rtol=1e-12, atol=1e-12, err_msg=f"forward; config={cfg}")
    result.backward(G)
    for name in wrt:
        expected = numeric_grad(f, arrays, name)
        got = leaves[name].grad
        assert got is not None, f"no gradient for {name}; config={cfg}"
        scale = max(float(np.abs(expected).max()), 1e-3)
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale,
                                   err_msg=f"grad of {name} vs central differences; config={cfg}")


def distinct_values(rng, shape, gap=0.01):
    """Values at least ``gap`` apart (a shuffled grid, plus jitter far smaller than the gap), so
    no finite-difference step can reorder a maximum."""
    count = int(np.prod(shape))
    values = (rng.permutation(count) - count / 2) * gap + rng.uniform(-gap / 10, gap / 10, size=count)
    return values.reshape(shape)


def test_conv2d_fd():
    rng = np.random.default_rng(1)
    cfg = dict(op="conv2d", stride=2, padding=1, dilation=2, groups=2)
    arrays = dict(x=rng.standard_normal((2, 4, 6, 6)), w=rng.standard_normal((4, 2, 3, 3)), b=rng.standard_normal(4))
    check_fd(cfg, lambda x, w, b: CF.conv2d(x, w, b, stride=2, padding=1, dilation=2, groups=2), arrays, seed=2)


def test_conv_transpose2d_fd():
    rng = np.random.default_rng(3)
    cfg = dict(op="conv_transpose2d", stride=2, padding=1, output_padding=1)
    arrays = dict(x=rng.standard_normal((2, 2, 3, 4)), w=rng.standard_normal((2, 3, 3, 2)), b=rng.standard_normal(3))
    check_fd(cfg, lambda x, w, b: CF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1), arrays, seed=4)


def test_avg_pool2d_fd():
    rng = np.random.default_rng(5)
    cfg = dict(op="avg_pool2d", kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    check_fd(cfg, lambda x: CF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
             dict(x=rng.standard_normal((2, 2, 6, 7))), seed=6)


def test_max_pool2d_fd():
    rng = np.random.default_rng(7)
    cfg = dict(op="max_pool2d", kernel_size=3, stride=2, padding=1, ceil_mode=True)  # overlapping windows
    check_fd(cfg, lambda x: CF.max_pool2d(x, 3, 2, 1, ceil_mode=True), dict(x=distinct_values(rng, (2, 2, 6, 7))),
             seed=8)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("kw", [dict(size=(7, 3), align_corners=False), dict(size=(7, 3), align_corners=True),
                                dict(scale_factor=0.5, antialias=True)], ids=str)
def test_interpolate_fd(mode, kw):
    rng = np.random.default_rng(9)
    cfg = dict(op="interpolate", mode=mode, **kw)
    check_fd(cfg, lambda x: CF.interpolate(x, mode=mode, **kw), dict(x=rng.standard_normal((1, 2, 6, 5))), seed=10)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_fd(affine):
    rng = np.random.default_rng(11)
    cfg = dict(op="batch_norm", training=True, affine=affine)
    arrays = dict(x=rng.standard_normal((4, 3, 2, 3)) * 1.5 + 0.5)
    if affine:
        arrays.update(w=rng.standard_normal(3), b=rng.standard_normal(3))
        op = lambda x, w, b: CF.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    else:
        op = lambda x: CF.batch_norm(x, None, None, training=True)  # noqa: E731
    check_fd(cfg, op, arrays, seed=12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_label_smoothing_fd(reduction):
    rng = np.random.default_rng(13)
    target = np.array([0, 3, -1, 2, 1, 3])
    weight = np.array([0.5, 1.0, 2.0, 0.7])
    cfg = dict(op="cross_entropy", label_smoothing=0.2, weight=weight.tolist(), ignore_index=-1, reduction=reduction)
    check_fd(cfg, lambda x: CF.cross_entropy(x, target, weight, ignore_index=-1, reduction=reduction,
                                             label_smoothing=0.2),
             dict(x=rng.standard_normal((6, 4)) * 2), seed=14)


def test_cross_entropy_probabilities_label_smoothing_fd():
    rng = np.random.default_rng(15)
    logits = rng.standard_normal((5, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cfg = dict(op="cross_entropy", target="probabilities", label_smoothing=0.1)
    check_fd(cfg, lambda x: CF.cross_entropy(x, probs, label_smoothing=0.1), dict(x=rng.standard_normal((5, 4))),
             seed=16)
