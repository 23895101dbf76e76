"""Differential tests: ``convscope.functional.pad`` / ``unfold`` / ``fold`` against torch.

Generated cases use ``numpy.random.default_rng(seed)`` with the seed in the test id; every
assertion message carries the configuration.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convscope.functional as CF

MODES = ("constant", "reflect", "replicate", "circular")


def T(a):
    return torch.from_numpy(np.array(a, order="C", copy=True))


def assert_same(ours, ref, cfg, exact=True):
    ref = ref.numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert isinstance(ours, np.ndarray), cfg
    assert ours.dtype == ref.dtype, f"dtype {ours.dtype} != torch {ref.dtype}; config={cfg}"
    assert ours.shape == ref.shape, f"shape {ours.shape} != torch {ref.shape}; config={cfg}"
    if exact:
        np.testing.assert_array_equal(ours, ref, err_msg=f"config={cfg}")
    else:
        tol = 1e-5 if ours.dtype == np.float32 else 1e-12
        scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol * scale, err_msg=f"config={cfg}")


def flat(pairs):
    """(low, high) pairs, first padded dim first -> torch's last-dim-first flat tuple."""
    out = []
    for lo, hi in reversed(pairs):
        out += [lo, hi]
    return tuple(out)


# --------------------------------------------------------------------------- pad

def legal_pair(rng, mode, size):
    """A (low, high) pair torch accepts for ``mode`` on a dimension of ``size``, including
    negative (cropping) amounts and the extreme legal amounts."""
    while True:
        if mode == "constant":
            lo, hi = (int(v) for v in rng.integers(-size, 4, size=2))
            if size + lo + hi >= 0 and lo >= -size and hi >= -size:
                return lo, hi
        elif mode == "reflect":  # each amount < size, output non-empty
            lo, hi = (int(v) for v in rng.integers(-(size - 1), size, size=2))
            if size + lo + hi >= 1:
                return lo, hi
        elif mode == "replicate":  # any amounts, output non-empty
            lo, hi = (int(v) for v in rng.integers(-(size - 1), size + 3, size=2))
            if size + lo + hi >= 1:
                return lo, hi
        else:  # circular: crop first, then wrap at most once around what is left
            lo, hi = (int(v) for v in rng.integers(-(size - 1), size + 1, size=2))
            kept = size - max(-lo, 0) - max(-hi, 0)
            if kept >= 1 and lo <= kept and hi <= kept:
                return lo, hi


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("mode", MODES)
def test_pad_random(mode, seed):
    rng = np.random.default_rng(seed)
    dtype = ["float32", "float64"][seed % 2]
    npad = int(rng.integers(1, 4))
    if mode == "constant":
        ndim = int(rng.integers(npad, 6))
        npad = min(npad + int(rng.integers(0, 3)), ndim)  # sometimes pad every dimension
    else:
        ndim = npad + int(rng.integers(1, 3))  # unbatched (C, *s) or batched (N, C, *s)
    shape = tuple(int(rng.integers(1, 5)) for _ in range(ndim))
    pairs = [legal_pair(rng, mode, s) for s in shape[ndim - npad:]]
    value = None
    if mode == "constant" and rng.random() < 0.6:
        value = float(np.round(rng.standard_normal(), 3))
    x = rng.standard_normal(shape).astype(dtype)
    if rng.random() < 0.3 and ndim >= 2:
        x = np.swapaxes(np.swapaxes(x, 0, -1).copy(), 0, -1)  # non-contiguous view, same values
    cfg = dict(seed=seed, mode=mode, shape=shape, pad=flat(pairs), value=value, dtype=dtype)
    kw = {} if value is None else {"value": value}
    ours = CF.pad(x, flat(pairs), mode=mode, **kw)
    ref = F.pad(T(x), flat(pairs), mode=mode, **kw)
    assert_same(ours, ref, cfg)


def _extreme_cases():
    cases = []
    for npad in (1, 2, 3):
        shape = (2, 3) + (5, 4, 3)[:npad]
        sizes = shape[2:]
        # reflect: pad = size - 1 on both sides; circular: pad = size on both sides
        cases.append(("reflect", shape, flat([(s - 1, s - 1) for s in sizes])))
        cases.append(("reflect", shape[1:], flat([(s - 1, 0) for s in sizes])))  # unbatched
        cases.append(("circular", shape, flat([(s, s) for s in sizes])))
        cases.append(("circular", shape[1:], flat([(0, s) for s in sizes])))
        cases.append(("replicate", shape, flat([(2 * s, s + 1) for s in sizes])))
        cases.append(("replicate", shape[1:], flat([(-(s - 1), 1) for s in sizes])))
        # cropping
        cases.append(("reflect", shape, flat([(-1, s - 1) for s in sizes])))
        cases.append(("circular", shape, flat([(-1, s - 1) for s in sizes])))  # wraps all that is left
        cases.append(("circular", shape, flat([(-(s - 1), 1) for s in sizes])))
        cases.append(("constant", shape, flat([(-s, s) for s in sizes])))
        cases.append(("constant", shape, flat([(-1, -(s - 1)) for s in sizes])))  # empty result
    cases.append(("constant", (2, 3, 4, 5, 2), (1, 2, 0, 1, 2, 0, 1, 1, 0, 3)))  # all five dims
    cases.append(("constant", (3,), (2, 1)))
    cases.append(("constant", (2, 3, 4, 5, 2, 3), (1, 1, 1, 1, 1, 1, 1, 1)))  # four of six dims
    cases.append(("constant", (2, 3), ()))  # no padding at all
    cases.append(("reflect", (1, 2), (1, 1)))
    cases.append(("circular", (1, 1), (1, 1)))
    return cases


@pytest.mark.parametrize("mode,shape,pad", _extreme_cases(), ids=lambda v: str(v))
def test_pad_extremes(mode, shape, pad):
    rng = np.random.default_rng(sum(shape) + len(pad))
    x = rng.standard_normal(shape)
    assert_same(CF.pad(x, pad, mode=mode), F.pad(T(x), pad, mode=mode), (mode, shape, pad))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 1), (-1, 0)), ((2, 2, 3), (-2, -1)), ((1, 2, 3, 3), (0, 0, -3, 0)),
                                       ((1, 2, 3, 3), (-3, 0, 0, 0)), ((1, 2, 3, 3), (1, 1, -3, 0)),
                                       ((1, 1, 3, 3, 3), (0, 0, -3, 0, 0, 0)), ((1, 2, 3), (-4, 0))])
def test_pad_crop_to_empty(mode, shape, pad):
    """A crop may leave an empty dimension, as in torch -- except in its 1-d reflect/replicate
    kernels, which reject it; a negative size is an error everywhere.  Gradients flow (as zeros)."""
    from convscope.autograd import Tensor
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    tx = T(x).requires_grad_()
    try:
        ref = F.pad(tx, pad, mode=mode)
    except (RuntimeError, NotImplementedError):
        with pytest.raises(ValueError):
            CF.pad(x, pad, mode=mode)
        return
    assert_same(CF.pad(x, pad, mode=mode), ref.detach(), (mode, shape, pad))
    t = Tensor(x, requires_grad=True)
    y = CF.pad(t, pad, mode=mode)
    y.backward(np.ones(y.shape))
    # torch leaves the gradient of a fully cropped input uninitialized; its true value is zero
    np.testing.assert_array_equal(t.grad, np.zeros(shape))


@pytest.mark.parametrize("value", [0.0, 2.5, -np.inf, np.nan])
def test_pad_constant_value_many_dims(value):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 3, 2, 2)).astype(np.float32)
    pad = (1, 0, 2, 1, 0, 3, 1, 1, 2, 2)
    ours = CF.pad(x, pad, mode="constant", value=value)
    ref = F.pad(T(x), pad, mode="constant", value=value).numpy()
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("dtype,value", [(np.float32, 1e300), (np.float32, -1e39), (np.float32, 3.4e38),
                                         (np.float64, 1e300), (np.float32, np.inf)])
def test_pad_constant_value_the_dtype_cannot_hold(dtype, value):
    """A finite fill beyond the dtype's range is an error in torch (not a silent inf)."""
    x = np.ones((1, 2, 3), dtype)
    try:
        ref = F.pad(T(x), (1, 1), value=value).numpy()
    except RuntimeError as exc:
        assert "without overflow" in str(exc)
        with pytest.raises(ValueError, match="cannot be converted to float32 without overflow"):
            CF.pad(x, (1, 1), value=value)
    else:
        np.testing.assert_array_equal(CF.pad(x, (1, 1), value=value), ref)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_pad_constant_keeps_non_float_dtypes(dtype):
    x = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    ours = CF.pad(x, (1, 2, -1, 1), value=1)
    ref = F.pad(torch.from_numpy(x), (1, 2, -1, 1), value=1).numpy()
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_list_argument(mode):
    x = np.arange(10.0).reshape(1, 2, 5)
    assert_same(CF.pad(x, [2, 1], mode=mode), F.pad(T(x), [2, 1], mode=mode), mode)


# --------------------------------------------------------------------------- unfold / fold

def gen_fold_config(rng):
    k = tuple(int(v) for v in rng.integers(1, 4, size=2))
    d = tuple(int(v) for v in rng.integers(1, 3, size=2))
    s = tuple(int(v) for v in rng.integers(1, 4, size=2))
    kind = rng.choice(["int", "tuple", "pairs"])
    if kind == "int":
        p = int(rng.integers(0, 3))
        padding, pairs = p, ((p, p),) * 2
    elif kind == "tuple":
        padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
        pairs = tuple((q, q) for q in padding)
    else:
        pairs = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(2, 2)))
        padding = pairs
    size = tuple(max(1, dd * (kk - 1) + 1 - lo - hi) + int(rng.integers(0, 5))
                 for kk, dd, (lo, hi) in zip(k, d, pairs))
    batch = [None, 1, 2, 3][int(rng.integers(0, 4))]
    dtype = str(rng.choice(["float32", "float64"]))
    channels = int(rng.integers(1, 4))
    return dict(kernel_size=k if k[0] != k[1] else k[0], dilation=d, stride=s, padding=padding,
                size=size, batch=batch, dtype=dtype, channels=channels, kind=str(kind))


def _is_pairs(padding):
    return isinstance(padding, tuple) and isinstance(padding[0], tuple)


def torch_unfold(x, cfg):
    kw = dict(kernel_size=cfg["kernel_size"], dilation=cfg["dilation"], stride=cfg["stride"])
    if _is_pairs(cfg["padding"]):
        return F.unfold(F.pad(x, flat(cfg["padding"])), padding=0, **kw)
    return F.unfold(x, padding=cfg["padding"], **kw)


def torch_fold(cols, cfg):
    """torch's fold; (low, high) pairs: fold onto the padded size with padding 0, then crop."""
    kw = dict(kernel_size=cfg["kernel_size"], dilation=cfg["dilation"], stride=cfg["stride"])
    if _is_pairs(cfg["padding"]):
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(cfg["size"], cfg["padding"]))
        out = F.fold(cols, padded, padding=0, **kw)
        (lo0, _), (lo1, _) = cfg["padding"]
        return out[..., lo0:lo0 + cfg["size"][0], lo1:lo1 + cfg["size"][1]]
    return F.fold(cols, cfg["size"], padding=cfg["padding"], **kw)


def _unfold_args(cfg):
    return dict(kernel_size=cfg["kernel_size"], dilation=cfg["dilation"], padding=cfg["padding"],
                stride=cfg["stride"])


@pytest.mark.parametrize("seed", range(30))
def test_unfold_random(seed):
    rng = np.random.default_rng(100 + seed)
    cfg = gen_fold_config(rng)
    cfg["seed"] = 100 + seed
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = rng.standard_normal(lead + (cfg["channels"],) + cfg["size"]).astype(cfg["dtype"])
    if seed % 3 == 0:
        x = np.swapaxes(np.swapaxes(x, -1, -2).copy(), -1, -2)
    assert_same(CF.unfold(x, **_unfold_args(cfg)), torch_unfold(T(x), cfg), cfg)


@pytest.mark.parametrize("seed", range(30))
def test_fold_random(seed):
    rng = np.random.default_rng(200 + seed)
    cfg = gen_fold_config(rng)
    cfg["seed"] = 200 + seed
    k = cfg["kernel_size"] if isinstance(cfg["kernel_size"], tuple) else (cfg["kernel_size"],) * 2
    pairs = cfg["padding"] if _is_pairs(cfg["padding"]) else \
        tuple((p, p) for p in (cfg["padding"] if isinstance(cfg["padding"], tuple) else (cfg["padding"],) * 2))
    blocks = [(s + lo + hi - d * (kk - 1) - 1) // st + 1
              for s, (lo, hi), d, kk, st in zip(cfg["size"], pairs, cfg["dilation"], k, cfg["stride"])]
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    cols = rng.standard_normal(lead + (cfg["channels"] * math.prod(k), math.prod(blocks))).astype(cfg["dtype"])
    ours = CF.fold(cols, cfg["size"], **_unfold_args(cfg))
    assert_same(ours, torch_fold(T(cols), cfg), cfg, exact=False)


@pytest.mark.parametrize("seed", range(10))
def test_fold_unfold_round_trip(seed):
    """fold(unfold(x)) multiplies each pixel by the number of blocks covering it, as in torch."""
    rng = np.random.default_rng(300 + seed)
    cfg = gen_fold_config(rng)
    cfg["seed"] = 300 + seed
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = rng.standard_normal(lead + (cfg["channels"],) + cfg["size"])
    args = _unfold_args(cfg)
    ours = CF.fold(CF.unfold(x, **args), cfg["size"], **args)
    ref = torch_fold(torch_unfold(T(x), cfg), cfg)
    assert_same(ours, ref, cfg, exact=False)
    counts = CF.fold(CF.unfold(np.ones_like(x), **args), cfg["size"], **args)
    np.testing.assert_allclose(ours, x * counts, rtol=1e-12, atol=1e-12, err_msg=str(cfg))
    # every pixel covered exactly once (kernel == stride, no padding, no dilation): identity
    y = rng.standard_normal((2, 3, 6, 4))
    assert_same(CF.fold(CF.unfold(y, (3, 2), stride=(3, 2)), (6, 4), (3, 2), stride=(3, 2)), T(y), "tiling")


def test_unfold_row_layout():
    """Row ``c*kH*kW + kh*kW + kw``, column ``oh*L_w + ow`` (torch's layout)."""
    x = np.arange(2 * 4 * 5, dtype=np.float64).reshape(2, 4, 5)
    ours = CF.unfold(x, (2, 3), padding=1, stride=(2, 1))
    assert ours.shape == (12, 3 * 5)
    assert_same(ours, F.unfold(T(x), (2, 3), padding=1, stride=(2, 1)), "layout")


@pytest.mark.parametrize("shape", [(1, 0, 4), (4, 0), (0, 4), (0, 4, 4)])
def test_fold_empty_dimensions_as_torch(shape):
    """Only the batch may be empty (torch raises for an empty channel or block dimension)."""
    try:
        ref = F.fold(torch.zeros(shape, dtype=torch.float64), (3, 3), 2).numpy()
    except RuntimeError:
        with pytest.raises(ValueError, match="non-zero sizes"):
            CF.fold(np.zeros(shape), (3, 3), 2)
    else:
        assert CF.fold(np.zeros(shape), (3, 3), 2).shape == ref.shape
