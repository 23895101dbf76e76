"""Differential tests of the newer APIs against torch 2.13 (CPU): fractional max pooling (functional,
modules, gradients), the ``*_with_indices`` pooling aliases, the deprecated ``upsample*`` functions,
channel shuffle, the padding modules, ``Fold``/``Unfold`` modules and the lazy convolutions.

Every generated case comes from ``numpy.random.default_rng(seed)`` with the seed in the test id, and
every assertion message carries the full configuration.  Max-pool values (NaN positions and signs of
zeros included) and int64 indices are compared exactly.

Facts about torch 2.13 (CPU) these tests rely on, checked against torch itself:

* ``fractional_max_pool2d`` reads ``_random_samples[:, :, 0]`` for W and ``[:, :, 1]`` for H; the
  3-d version ``(T, H, W)``.  The 2-d kernel accepts ``output + kernel - 1 == input``, the 3-d one
  raises (``pool time 2 too large relative to input time 5``).
* ``F.fractional_max_pool2d`` crashes on a bare float ``output_ratio`` (``len(float)``), the 3-d one
  and the modules broadcast it; the *functional* forms silently prefer ``output_size`` when both
  are given (the modules raise ValueError) - convscope raises in both places.
* ``nn.FractionalMaxPool2d(kernel_size=0)`` is accepted by torch and pools garbage (all -inf values,
  indices past the plane); convscope raises ValueError there, as torch's 3-d module does.
* Padding may crop a dimension to nothing in constant *and* circular modes (an empty result);
  replicate/reflect raise there.  A circular pad larger than what the opposite crop leaves (but not
  than the original size) reads uninitialized memory in torch, so the generator avoids it.
* The padding modules raise ``RuntimeError``/``NotImplementedError``/``ValueError`` on bad inputs;
  convscope raises ValueError (checked: some exception with a message, whatever torch raises).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F

import convscope
import convscope.functional as CF
import convscope.nn as cnn
from convscope.autograd import Tensor
from oracle_arrays import to_np

pytestmark = [pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:Lazy modules are a new feature"),
              pytest.mark.filterwarnings("ignore:.*is deprecated. Use `nn.functional.interpolate`"),
              pytest.mark.filterwarnings("ignore:Using padding='same'")]

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
LAZY_TOL = 1e-4  # float32 convolutions of a few hundred terms, summed in different orders


# --------------------------------------------------------------------------- helpers

def T(a):
    """Oracle copy of an array as a torch tensor (torch cannot view negative strides)."""
    return None if a is None else torch.from_numpy(np.array(a, order="C", copy=True))


def per_dim(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def maybe_scalar(rng, values):
    """Pass a per-dim tuple, or a bare int when all entries agree (half of the time)."""
    values = tuple(int(v) for v in values)
    if len(set(values)) == 1 and rng.random() < 0.5:
        return values[0]
    return values


def make_input(rng, shape, dtype, kind="normal", layout="c"):
    """A float array of ``shape``: ``normal`` values; ``ties``: integers in [-2, 2] (the first-maximum
    rule matters); ``nan``/``nan_ties``: ~20% NaN; ``inf``: some +-inf; ``neginf``: ~60% -inf among
    ties (whole windows of -inf); ``signed_zeros``: mostly 0.0 and -0.0."""
    shape = tuple(int(s) for s in shape)
    if layout == "strided" and len(shape) > 0:
        base = rng.standard_normal(shape[:-1] + (2 * shape[-1] + 1,))[..., 1::2]
    else:
        base = rng.standard_normal(shape)
    if kind in ("ties", "nan_ties", "neginf"):
        base[...] = rng.integers(-2, 3, size=shape)
    if kind in ("nan", "nan_ties"):
        base[rng.random(shape) < 0.2] = np.nan
    if kind == "inf":
        r = rng.random(shape)
        base[r < 0.15] = -np.inf
        base[r > 0.9] = np.inf
    if kind == "neginf":
        base[rng.random(shape) < 0.6] = -np.inf
    if kind == "signed_zeros":
        base[...] = rng.choice([0.0, -0.0, -0.0, -1.0], size=shape)
    out = base.astype(dtype, copy=layout == "c")
    if layout == "reversed":
        out = np.ascontiguousarray(out[..., ::-1])[..., ::-1]
    assert out.shape == shape and out.dtype == np.dtype(dtype)
    return out


def assert_matches(got, ref, cfg, what="", exact=False, dtype=None):
    """``got`` is a NumPy array equal to torch's ``ref`` (exactly, signs of zeros included, or to the
    dtype's tolerance relative to the output magnitude); NaN and +-inf at the same places."""
    ref = to_np(ref)
    msg = f"{what} config={cfg}"
    assert isinstance(got, np.ndarray), f"result is {type(got)}; {msg}"
    dtype = ref.dtype if dtype is None else np.dtype(dtype)
    assert got.dtype == dtype, f"result dtype {got.dtype} != {dtype}; {msg}"
    assert got.shape == ref.shape, f"shape {got.shape} != torch {ref.shape}; {msg}"
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, ref, err_msg=msg)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"NaN mask differs; {msg}")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref), err_msg=f"+inf mask differs; {msg}")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref), err_msg=f"-inf mask differs; {msg}")
    if exact:
        np.testing.assert_array_equal(got, ref, err_msg=f"values differ (exact); {msg}")
        number = ~np.isnan(ref)
        np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(ref[number]),
                                      err_msg=f"signs of zeros differ; {msg}")
        return
    tol = TOL[got.dtype]
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.abs(ref[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale, equal_nan=True, err_msg=msg)


def assert_indices(got, ref, cfg, what="indices"):
    ref = to_np(ref)
    msg = f"{what}; config={cfg}"
    assert isinstance(got, np.ndarray), f"indices are {type(got)}; {msg}"
    assert got.dtype == np.int64, f"indices dtype {got.dtype} != int64; {msg}"
    assert got.shape == ref.shape, f"indices shape {got.shape} != torch {ref.shape}; {msg}"
    np.testing.assert_array_equal(got, ref, err_msg=msg)


def assert_pair(got, ref, cfg, what):
    """``(values, indices)`` of a max pooling equal torch's exactly."""
    assert isinstance(got, tuple) and len(got) == 2, f"{what}: expected (values, indices), got {type(got)}; {cfg}"
    assert_matches(got[0], ref[0], cfg, f"{what} values", exact=True)
    assert_indices(got[1], ref[1], cfg, f"{what} indices")


def outcome(fn):
    """``("ok", result)`` or ``("raised", exception)``."""
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome to compare
        return "raised", exc


def assert_raises_like_torch(ours_fn, torch_fn, cfg, allowed=(ValueError,)):
    """torch raises on this input, and convscope raises one of ``allowed`` with a message."""
    kind, ref = outcome(torch_fn)
    assert kind == "raised", f"torch accepted it (so should convscope): {ref!r}; config={cfg}"
    with pytest.raises(allowed) as info:
        ours_fn()
    assert str(info.value), f"{type(info.value).__name__} without a message; config={cfg}"
    return info.value, ref


def accepted(fn, ref, cfg):
    """``fn()``, which must not raise where torch returned ``ref``."""
    kind, got = outcome(fn)
    assert kind == "ok", f"convscope raised {got!r} where torch returned shape {tuple(ref.shape)}; config={cfg}"
    return got


def torch_grad(fn, x, g):
    """torch's gradient of ``sum(fn(x) * g)`` with respect to ``x`` (float64)."""
    xt = torch.tensor(np.array(x, copy=True), dtype=torch.float64, requires_grad=True)
    y = fn(xt)
    y.backward(torch.from_numpy(np.array(g, copy=True)))
    return y.detach().numpy(), xt.grad.numpy()


def our_grad(fn, x, g):
    """convscope's gradient of ``sum(fn(x) * g)`` with respect to ``x``, via ``Tensor.backward``."""
    xo = Tensor(np.array(x, dtype=np.float64, copy=True), requires_grad=True)
    y = fn(xo)
    assert isinstance(y, Tensor), f"result on a Tensor input is {type(y)}, not a Tensor"
    assert y.requires_grad, "result does not require grad"
    (y * Tensor(np.asarray(g, dtype=np.float64))).sum().backward()
    assert xo.grad is not None, "no gradient reached the input"
    return y.data, to_np(xo.grad)


def assert_grad_close(got, ref, cfg, what="grad"):
    msg = f"{what}; config={cfg}"
    assert got.shape == ref.shape, f"{what} shape {got.shape} != torch {ref.shape}; {msg}"
    assert got.dtype == ref.dtype, f"{what} dtype {got.dtype} != torch {ref.dtype}; {msg}"
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * scale, err_msg=msg)


# --------------------------------------------------------------------------- fractional max pooling

FRAC_KINDS = ("normal", "ties", "ties", "nan", "nan_ties", "inf", "neginf", "signed_zeros")


def gen_frac_config(rng, n):
    """A valid fractional max pooling configuration.  2-d needs ``o + k - 1 <= i``, 3-d ``o + k - 1 < i``;
    a third of the outputs sit exactly at that limit."""
    strict = int(n == 3)
    kernel = tuple(int(rng.integers(1, 5)) for _ in range(n))
    mode = str(rng.choice(["size_int", "size_tuple", "ratio_float", "ratio_tuple"]))
    grow = 7 if n == 2 else 4
    spatial = [k + strict + int(rng.integers(0, grow)) for k in kernel]
    output_size = output_ratio = None
    if mode.startswith("ratio"):
        ratios = [float(rng.uniform(0.15, 0.95))] * n if mode == "ratio_float" else \
            [float(rng.uniform(0.15, 0.95)) for _ in range(n)]
        for j in range(n):  # grow the input until int(i * r) windows of k fit
            while int(spatial[j] * ratios[j]) + kernel[j] - 1 + strict > spatial[j]:
                spatial[j] += 1
        output_ratio = ratios[0] if mode == "ratio_float" else tuple(ratios)
    else:
        limits = [i - k + 1 - strict for i, k in zip(spatial, kernel)]
        at_limit = rng.random() < 0.35
        if mode == "size_int":
            lim = min(limits)
            output_size = lim if at_limit else int(rng.integers(1, lim + 1))
        else:
            output_size = tuple(lim if at_limit else int(rng.integers(1, lim + 1)) for lim in limits)
    batch = [None, 1, 2, 3][int(rng.integers(0, 4))]
    extra = 0 if batch is None else int(rng.integers(0, 3))  # N' > batch: rows past the batch are unused
    return dict(n=n, kernel=maybe_scalar(rng, kernel), output_size=output_size, output_ratio=output_ratio,
                spatial=tuple(spatial), batch=batch, channels=int(rng.integers(1, 4)), samples_rows=
                (1 if batch is None else batch) + extra, dtype=str(rng.choice(["float32", "float64"])),
                data=str(rng.choice(FRAC_KINDS)), layout=str(rng.choice(["c", "c", "strided", "reversed"])),
                edge_samples=bool(rng.random() < 0.3))


def frac_lead(cfg):
    return (cfg["channels"],) if cfg["batch"] is None else (cfg["batch"], cfg["channels"])


def make_samples(rng, cfg):
    """``(N', C, n)`` uniform [0, 1) samples of the input's dtype; ``edge_samples`` puts some at 0 and
    at the largest value below 1."""
    dtype = np.dtype(cfg["dtype"])
    s = rng.random((cfg["samples_rows"], cfg["channels"], cfg["n"])).astype(dtype)
    if cfg.get("edge_samples"):
        r = rng.random(s.shape)
        s[r < 0.25] = 0
        s[r > 0.75] = np.nextafter(dtype.type(1), dtype.type(0))
    return s


def torch_ratio(cfg):
    """torch's functional 2-d form crashes on a bare float ratio (``len(float)``): give it a tuple."""
    r = cfg["output_ratio"]
    return r if r is None or isinstance(r, tuple) or cfg["n"] == 3 else (r,) * cfg["n"]


def frac_kwargs(cfg):
    return dict(output_size=cfg["output_size"], output_ratio=cfg["output_ratio"])


def check_frac(cfg, seed):
    n = cfg["n"]
    rng = np.random.default_rng(seed)
    x = make_input(rng, frac_lead(cfg) + cfg["spatial"], cfg["dtype"], cfg["data"], cfg["layout"])
    s = make_samples(rng, cfg)
    before_x, before_s = x.copy(), s.copy()
    ours, ours_wi = getattr(CF, f"fractional_max_pool{n}d"), getattr(CF, f"fractional_max_pool{n}d_with_indices")
    tfn, tfn_wi = getattr(F, f"fractional_max_pool{n}d"), getattr(F, f"fractional_max_pool{n}d_with_indices")
    tkw = dict(output_size=cfg["output_size"], output_ratio=torch_ratio(cfg))
    ref = tfn(T(x), cfg["kernel"], **tkw, return_indices=True, _random_samples=T(s))
    got = ours(x, cfg["kernel"], **frac_kwargs(cfg), return_indices=True, _random_samples=s)
    assert_pair(got, ref, cfg, "fractional_max_pool(return_indices=True)")
    plain = ours(x, cfg["kernel"], **frac_kwargs(cfg), _random_samples=s)
    assert_matches(plain, tfn(T(x), cfg["kernel"], **tkw, _random_samples=T(s)), cfg, "values only", exact=True)
    # *_with_indices returns the pair whatever return_indices says, like torch's
    got_wi = ours_wi(x, cfg["kernel"], **frac_kwargs(cfg), return_indices=False, _random_samples=s)
    ref_wi = tfn_wi(T(x), cfg["kernel"], **tkw, return_indices=False, _random_samples=T(s))
    assert_pair(got_wi, ref_wi, cfg, f"fractional_max_pool{n}d_with_indices")
    np.testing.assert_array_equal(x, before_x, err_msg=f"input modified; config={cfg}")
    np.testing.assert_array_equal(s, before_s, err_msg=f"samples modified; config={cfg}")
    return got


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_random(n, seed):
    cfg = gen_frac_config(np.random.default_rng(1000 * n + seed), n)
    cfg["seed"] = 1000 * n + seed
    check_frac(cfg, cfg["seed"])


def _fcfg(n, **kw):
    base = dict(n=n, kernel=2, output_size=None, output_ratio=None, spatial=(7, 6, 8)[:n], batch=2, channels=2,
                samples_rows=2, dtype="float64", data="ties", layout="c", edge_samples=False)
    base.update(kw)
    if base["output_size"] is None and base["output_ratio"] is None:
        base["output_size"] = 3
    if base["batch"] is None:
        base["samples_rows"] = kw.get("samples_rows", 1)
    return base


EXPLICIT_FRAC = [
    # 2-d output at the limit o + k - 1 == i (torch's 2-d kernel accepts the equality)
    _fcfg(2, kernel=(2, 3), output_size=(6, 4), spatial=(7, 6)),
    _fcfg(2, kernel=4, output_size=(4, 3), spatial=(7, 6), dtype="float32", data="nan_ties"),
    # kernel as large as the input, one window
    _fcfg(2, kernel=(7, 6), output_size=1, spatial=(7, 6), data="normal"),
    # 1x1 kernels: pure subsampling at pseudo-random positions
    _fcfg(2, kernel=1, output_size=(5, 2), spatial=(7, 6)),
    _fcfg(3, kernel=1, output_size=(2, 5, 7), spatial=(7, 6, 8), dtype="float32"),
    # non-square kernels, 3-d at its limit o + k - 1 == i - 1
    _fcfg(2, kernel=(1, 4), output_size=(7, 3), spatial=(7, 6)),
    _fcfg(3, kernel=(2, 3, 4), output_size=(5, 3, 4), spatial=(7, 6, 8), data="nan"),
    _fcfg(3, kernel=(4, 1, 2), output_size=(3, 5, 6), spatial=(7, 6, 8), dtype="float32", data="signed_zeros"),
    # N' larger than the batch; unbatched with samples (1, C, n)
    _fcfg(2, samples_rows=5, data="normal"),
    _fcfg(3, samples_rows=4, kernel=(1, 2, 3), output_size=(3, 2, 2), spatial=(4, 4, 5)),
    _fcfg(2, batch=None, channels=3, kernel=3, output_ratio=0.5, spatial=(9, 10), dtype="float32"),
    _fcfg(3, batch=None, channels=2, kernel=2, output_ratio=(0.5, 0.3, 0.6), spatial=(6, 9, 7)),
    # output_ratio as float and tuple; int() truncates
    _fcfg(2, kernel=3, output_ratio=0.5, spatial=(50, 32), batch=1, samples_rows=1, channels=1),
    _fcfg(2, kernel=(2, 3), output_ratio=(0.7, 0.45), spatial=(11, 13), dtype="float32", data="inf"),
    _fcfg(3, kernel=2, output_ratio=0.5, spatial=(6, 7, 9), data="neginf"),
    # all -inf windows: the window's first position is reported
    _fcfg(2, kernel=3, output_size=(3, 2), spatial=(6, 5), data="neginf"),
    # extreme samples (0 and the largest value below 1) in both precisions
    _fcfg(2, kernel=2, output_size=(5, 4), spatial=(11, 9), dtype="float32", edge_samples=True, data="normal"),
    _fcfg(3, kernel=(2, 1, 3), output_size=(4, 3, 3), spatial=(9, 5, 7), edge_samples=True, data="normal"),
    # a big alpha (steps of several elements)
    _fcfg(2, kernel=2, output_size=(3, 2), spatial=(40, 33), dtype="float32", data="normal", channels=3),
]


@pytest.mark.parametrize("k", range(len(EXPLICIT_FRAC)),
                         ids=lambda k: "frac{n}d-k{kernel}-o{output_size}-r{output_ratio}-in{spatial}-b{batch}-"
                         "rows{samples_rows}-{dtype}-{data}".format(**EXPLICIT_FRAC[k]))
def test_fractional_max_pool_explicit(k):
    cfg = dict(EXPLICIT_FRAC[k], seed=50 + k)
    check_frac(cfg, 50 + k)


def test_fractional_max_pool_all_nan_and_single_nan_windows():
    """A NaN wins a window (torch keeps the last NaN it meets)."""
    x = np.full((1, 2, 6, 6), np.nan)
    x[0, 1] = np.arange(36.0).reshape(6, 6)
    x[0, 1, 2, 3] = x[0, 1, 4, 1] = np.nan
    s = np.array([[[0.3, 0.6], [0.1, 0.9]]])
    for out in [(3, 3), (5, 5), (2, 4)]:
        cfg = dict(case="nan windows", output_size=out)
        ref = F.fractional_max_pool2d(T(x), 2, output_size=out, return_indices=True, _random_samples=T(s))
        assert_pair(CF.fractional_max_pool2d(x, 2, output_size=out, return_indices=True, _random_samples=s),
                    ref, cfg, "fractional_max_pool2d")


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fractional_max_pool_output_size_zero(n, dtype):
    """An output size of 0 in some dimension gives an empty result of torch's shape."""
    rng = np.random.default_rng(7 + n)
    x = rng.standard_normal((2, 3) + (6, 7, 5)[:n]).astype(dtype)
    s = rng.random((2, 3, n)).astype(dtype)
    for out in ([(0, 3), (0, 0), (4, 0)] if n == 2 else [(0, 2, 2), (2, 0, 1), (0, 0, 0)]):
        cfg = dict(n=n, dtype=dtype, output_size=out)
        ref = getattr(F, f"fractional_max_pool{n}d")(T(x), 2, output_size=out, return_indices=True,
                                                     _random_samples=T(s))
        got = getattr(CF, f"fractional_max_pool{n}d")(x, 2, output_size=out, return_indices=True, _random_samples=s)
        assert got[0].size == 0
        assert_pair(got, ref, cfg, "empty fractional pooling")
    # a ratio small enough to truncate to 0
    cfg = dict(n=n, dtype=dtype, output_ratio=0.1)
    ref = getattr(F, f"fractional_max_pool{n}d")(T(x), 2, output_ratio=(0.1,) * n, return_indices=True,
                                                 _random_samples=T(s))
    got = getattr(CF, f"fractional_max_pool{n}d")(x, 2, output_ratio=0.1, return_indices=True, _random_samples=s)
    assert_pair(got, ref, cfg, "ratio truncated to an empty output")


def test_fractional_max_pool3d_rejects_output_plus_kernel_minus_one_equal_to_input():
    """3-d: ``o + k - 1 == i`` is an error in torch (and convscope: ValueError); the 2-d equality is fine."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 6, 7))
    s = rng.random((2, 2, 3))
    for kernel, out in [(2, (4, 3, 3)), (2, (3, 5, 3)), (2, (3, 3, 6)), ((1, 3, 2), (4, 4, 6)), (3, (3, 3, 5))]:
        cfg = dict(kernel=kernel, output_size=out, input=x.shape)
        assert_raises_like_torch(
            lambda: CF.fractional_max_pool3d(x, kernel, output_size=out, _random_samples=s),
            lambda: F.fractional_max_pool3d(T(x), kernel, output_size=out, _random_samples=T(s)), cfg)
        # one less is accepted by both, and agrees
        smaller = tuple(o - (o + k - 1 == i) for o, k, i in zip(out, per_dim(kernel, 3), x.shape[2:]))
        ref = F.fractional_max_pool3d(T(x), kernel, output_size=smaller, return_indices=True, _random_samples=T(s))
        got = CF.fractional_max_pool3d(x, kernel, output_size=smaller, return_indices=True, _random_samples=s)
        assert_pair(got, ref, dict(cfg, output_size=smaller), "3-d just below the limit")
    # 2-d equality accepted by both
    x2 = rng.standard_normal((2, 2, 5, 6))
    s2 = rng.random((2, 2, 2))
    ref = F.fractional_max_pool2d(T(x2), 2, output_size=(4, 5), return_indices=True, _random_samples=T(s2))
    assert_pair(CF.fractional_max_pool2d(x2, 2, output_size=(4, 5), return_indices=True, _random_samples=s2),
                ref, "2-d at the limit", "2-d equality")


# ---- without _random_samples

def check_window_property(x, vals, idx, kernel, cfg):
    """Every value sits at its index (``plane.flat[index] == value``) and is the maximum of some
    ``kernel``-sized window inside the plane that contains that index."""
    spatial = x.shape[2:]
    n = len(spatial)
    for b, c in np.ndindex(*x.shape[:2]):
        plane = x[b, c]
        flat = plane.ravel()
        for pos in np.ndindex(*vals.shape[2:]):
            i, v = int(idx[(b, c) + pos]), vals[(b, c) + pos]
            where = f"batch {b} channel {c} output {pos} index {i} value {v}; config={cfg}"
            assert 0 <= i < flat.size, f"index outside the plane: {where}"
            assert flat[i] == v or (np.isnan(v) and np.isnan(flat[i])), f"value is not at its index: {where}"
            coords = np.unravel_index(i, spatial)
            ranges = [range(max(0, co - k + 1), min(co, size - k) + 1) for co, k, size in zip(coords, kernel, spatial)]
            found = False
            for start in np.ndindex(*[len(r) for r in ranges]):
                lo = [ranges[j][start[j]] for j in range(n)]
                window = plane[tuple(slice(a, a + k) for a, k in zip(lo, kernel))]
                m = np.max(window)
                if m == v or (np.isnan(m) and np.isnan(v)):
                    found = True
                    break
            assert found, f"value is not the maximum of any window holding its index: {where}"


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_unseeded_windows_shapes_and_reproducibility(n, seed):
    cfg = gen_frac_config(np.random.default_rng(5000 + 100 * n + seed), n)
    cfg.update(seed=5000 + 100 * n + seed, data=["normal", "ties", "nan"][seed % 3])
    rng = np.random.default_rng(cfg["seed"])
    x = make_input(rng, frac_lead(cfg) + cfg["spatial"], cfg["dtype"], cfg["data"])
    fn = getattr(CF, f"fractional_max_pool{n}d")
    ref_v, ref_i = getattr(F, f"fractional_max_pool{n}d")(T(x), cfg["kernel"], output_size=cfg["output_size"],
                                                          output_ratio=torch_ratio(cfg), return_indices=True)
    convscope.random.manual_seed(cfg["seed"])
    vals, idx = fn(x, cfg["kernel"], **frac_kwargs(cfg), return_indices=True)
    assert vals.shape == tuple(ref_v.shape) and idx.shape == tuple(ref_i.shape), \
        f"shapes {vals.shape}/{idx.shape} != torch {tuple(ref_v.shape)}/{tuple(ref_i.shape)}; config={cfg}"
    assert vals.dtype == to_np(ref_v).dtype and idx.dtype == np.int64 == to_np(ref_i).dtype, \
        f"dtypes {vals.dtype}/{idx.dtype}; config={cfg}"
    xb = x if cfg["batch"] is not None else x[None]
    vb, ib = (vals, idx) if cfg["batch"] is not None else (vals[None], idx[None])
    kernel = per_dim(cfg["kernel"], n)
    check_window_property(xb, vb, ib, kernel, cfg)
    check_window_property(xb.astype(np.float64), to_np(ref_v).reshape(vb.shape).astype(np.float64),
                          to_np(ref_i).reshape(ib.shape), kernel, dict(cfg, who="torch (sanity)"))
    # the same seed draws the same windows
    convscope.random.manual_seed(cfg["seed"])
    again_v, again_i = fn(x, cfg["kernel"], **frac_kwargs(cfg), return_indices=True)
    np.testing.assert_array_equal(again_v, vals, err_msg=f"manual_seed does not reproduce values; config={cfg}")
    np.testing.assert_array_equal(again_i, idx, err_msg=f"manual_seed does not reproduce indices; config={cfg}")


def test_fractional_max_pool_unseeded_draws_vary_and_cover_the_input():
    """Without samples the windows change from call to call (as torch's), and the last window of
    every plane ends at the input's end (so the last row/column of outputs comes from it)."""
    x = np.arange(2 * 3 * 20 * 20, dtype=np.float64).reshape(2, 3, 20, 20)  # increasing: max at window's end
    convscope.random.manual_seed(11)
    draws = {CF.fractional_max_pool2d(x, 2, output_size=8, return_indices=True)[1].tobytes() for _ in range(6)}
    tdraws = {F.fractional_max_pool2d(T(x), 2, output_size=8, return_indices=True)[1].numpy().tobytes()
              for _ in range(6)}
    assert len(tdraws) > 1 and len(draws) > 1, f"draws do not vary: ours {len(draws)}, torch {len(tdraws)}"
    _, idx = CF.fractional_max_pool2d(x, 2, output_size=8, return_indices=True)
    _, tidx = F.fractional_max_pool2d(T(x), 2, output_size=8, return_indices=True)
    # increasing values: a window's maximum is its last element; the first window starts at 0 and
    # the last one ends at the input's end, in both libraries
    for name, ix in (("ours", idx), ("torch", tidx.numpy())):
        assert (ix[..., -1, -1] == 20 * 20 - 1).all(), f"{name}: last window does not end at the end: {ix}"
        assert (ix[..., 0, 0] == 21).all(), f"{name}: first window does not start at 0: {ix}"
        assert (ix[..., 0, :] // 20 == 1).all() and (ix[..., :, 0] % 20 == 1).all(), f"{name}: {ix}"


# ---- errors

def _err_case(n=2):
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 3) + (7, 6, 8)[:n])
    return x, rng.random((2, 3, n))


@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_bad_samples(n):
    x, s = _err_case(n)
    fn, tfn = getattr(CF, f"fractional_max_pool{n}d"), getattr(F, f"fractional_max_pool{n}d")
    cases = {
        "dtype float32 for float64 input": (s.astype(np.float32), TypeError),
        "ndim 2": (s[:, :, 0], ValueError),
        "ndim 4": (s[..., None], ValueError),
        "channels 2 for 3": (s[:, :2], ValueError),
        "channels 4 for 3": (np.concatenate([s, s[:, :1]], axis=1), ValueError),
        "columns n+1": (np.concatenate([s, s[..., :1]], axis=2), ValueError),
        "columns n-1": (s[..., :-1], ValueError),
        "N' 1 < batch 2": (s[:1], ValueError),
    }
    for name, (bad, err) in cases.items():
        cfg = dict(n=n, case=name, samples=bad.shape, dtype=str(bad.dtype))
        assert_raises_like_torch(lambda: fn(x, 2, output_size=3, _random_samples=bad),
                                 lambda: tfn(T(x), 2, output_size=3, _random_samples=T(bad)), cfg, err)
    # float32 input with float64 samples too
    x32 = x.astype(np.float32)
    assert_raises_like_torch(lambda: fn(x32, 2, output_size=3, _random_samples=s),
                             lambda: tfn(T(x32), 2, output_size=3, _random_samples=T(s)),
                             dict(n=n, case="float64 samples for float32 input"), TypeError)
    # unbatched input with samples for 2 rows is fine (N' >= 1), with 0 rows is not
    xu = x[0]
    ref = tfn(T(xu), 2, output_size=3, return_indices=True, _random_samples=T(s))
    assert_pair(fn(xu, 2, output_size=3, return_indices=True, _random_samples=s), ref, dict(n=n, case="unbatched N'=2"),
                "unbatched with extra sample rows")
    assert_raises_like_torch(lambda: fn(xu, 2, output_size=3, _random_samples=s[:0]),
                             lambda: tfn(T(xu), 2, output_size=3, _random_samples=T(s[:0])),
                             dict(n=n, case="unbatched, N'=0"))


@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_bad_arguments(n):
    x, s = _err_case(n)
    fn, tfn = getattr(CF, f"fractional_max_pool{n}d"), getattr(F, f"fractional_max_pool{n}d")
    # neither output_size nor output_ratio: both raise ValueError
    with pytest.raises(ValueError):
        tfn(T(x), 2)
    with pytest.raises(ValueError):
        fn(x, 2)
    # both: torch's functional silently uses output_size, its module raises ValueError; convscope raises
    with pytest.raises(ValueError):
        getattr(tnn, f"FractionalMaxPool{n}d")(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError):
        fn(x, 2, output_size=3, output_ratio=(0.5,) * n)
    # kernel too large for the requested output / the input
    for kernel, out in [(7, 1), (4, 4), ((2, 9, 2)[:n], 1), (3, (6, 1) if n == 2 else (5, 1, 1))]:
        cfg = dict(n=n, kernel=kernel, output_size=out, input=x.shape)
        assert_raises_like_torch(lambda: fn(x, kernel, output_size=out, _random_samples=s),
                                 lambda: tfn(T(x), kernel, output_size=out, _random_samples=T(s)), cfg)
    # integer input: TypeError (torch: "not implemented for 'Long'")
    xi = np.arange(2 * 3 * 7 * 6 * (8 if n == 3 else 1), dtype=np.int64).reshape(x.shape)
    assert_raises_like_torch(lambda: fn(xi, 2, output_size=3),
                             lambda: tfn(T(xi), 2, output_size=3), dict(n=n, case="int64 input"), TypeError)
    # wrong rank
    assert_raises_like_torch(lambda: fn(x[0, 0], 2, output_size=1),
                             lambda: tfn(T(x[0, 0]), 2, output_size=1), dict(n=n, case="rank n input"))


# ---- gradients

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_gradient(n, seed):
    """Overlapping windows (kernel larger than the step) accumulate into x.grad as in torch."""
    rng = np.random.default_rng(7000 + 100 * n + seed)
    kernel = tuple(int(rng.integers(2, 5)) for _ in range(n))
    spatial = tuple(k + int(rng.integers(2, 6)) for k in kernel)
    strict = int(n == 3)
    out = tuple(i - k + 1 - strict - int(rng.integers(0, 2)) for i, k in zip(spatial, kernel))  # alpha <= 1
    batched = seed % 3 != 0
    lead = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if batched else (int(rng.integers(1, 3)),)
    x = rng.standard_normal(lead + spatial)
    s = rng.random(((lead[0] if batched else 1) + int(rng.integers(0, 2)), lead[-1], n))
    g = rng.standard_normal(lead + out)
    cfg = dict(n=n, seed=7000 + 100 * n + seed, kernel=kernel, output_size=out, shape=x.shape, samples=s.shape)
    y_ref, grad_ref = torch_grad(lambda t: getattr(F, f"fractional_max_pool{n}d")(
        t, kernel, output_size=out, _random_samples=T(s)), x, g)
    y, grad = our_grad(lambda t: getattr(CF, f"fractional_max_pool{n}d")(t, kernel, output_size=out,
                                                                        _random_samples=s), x, g)
    assert_matches(y, y_ref, cfg, "forward on Tensor", exact=True)
    assert_grad_close(grad, grad_ref, cfg)


def test_fractional_max_pool_gradient_accumulates_on_overlaps():
    """A global maximum covered by several windows receives all of their gradients."""
    x = np.zeros((1, 1, 6, 6))
    x[0, 0, 2, 2] = 5.0
    x[0, 0] += np.linspace(0, 0.1, 36).reshape(6, 6)[::-1, ::-1]  # break ties
    s = np.array([[[0.4, 0.7]]])
    g = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    _, ref = torch_grad(lambda t: F.fractional_max_pool2d(t, 3, output_size=4, _random_samples=T(s)), x, g)
    _, got = our_grad(lambda t: CF.fractional_max_pool2d(t, 3, output_size=4, _random_samples=s), x, g)
    assert ref[0, 0, 2, 2] > g.max(), "the case must make windows overlap on the maximum"
    assert_grad_close(got, ref, "overlap accumulation")
    # and through the module, with indices returned
    m = cnn.FractionalMaxPool2d(3, output_size=4, return_indices=True, _random_samples=s)
    tm = tnn.FractionalMaxPool2d(3, output_size=4, return_indices=True, _random_samples=T(s))
    xo = Tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (yo, io), (yt, it) = m(xo), tm(xt)
    assert_indices(to_np(io), it, "module indices on a Tensor")
    (yo * Tensor(g)).sum().backward()
    yt.backward(torch.from_numpy(g))
    assert_grad_close(to_np(xo.grad), xt.grad.numpy(), "module gradient")


# ---- modules

@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_module_random(n, seed):
    cfg = gen_frac_config(np.random.default_rng(9000 + 100 * n + seed), n)
    cfg.update(seed=9000 + 100 * n + seed, return_indices=bool(seed % 2))
    rng = np.random.default_rng(cfg["seed"])
    x = make_input(rng, frac_lead(cfg) + cfg["spatial"], cfg["dtype"], cfg["data"])
    s = make_samples(rng, cfg)
    kw = dict(output_size=cfg["output_size"], output_ratio=cfg["output_ratio"], return_indices=cfg["return_indices"])
    ratio = cfg["output_ratio"]
    assert ratio is None or all(0 < r < 1 for r in per_dim(ratio, n)), f"generator's ratio; config={cfg}"
    tm = getattr(tnn, f"FractionalMaxPool{n}d")(cfg["kernel"], **kw, _random_samples=T(s))
    m = getattr(cnn, f"FractionalMaxPool{n}d")(cfg["kernel"], **kw, _random_samples=s)
    assert repr(m) == repr(tm), f"repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    ref, got = tm(T(x)), m(x)
    if cfg["return_indices"]:
        assert_pair(got, ref, cfg, "module")
    else:
        assert_matches(got, ref, cfg, "module values", exact=True)
    # without fixed samples: torch's shapes
    m2 = getattr(cnn, f"FractionalMaxPool{n}d")(cfg["kernel"], **kw)
    tm2 = getattr(tnn, f"FractionalMaxPool{n}d")(cfg["kernel"], **kw)
    got2, ref2 = m2(x), tm2(T(x))
    if cfg["return_indices"]:
        assert got2[0].shape == tuple(ref2[0].shape) and got2[1].shape == tuple(ref2[1].shape), cfg
        assert got2[1].dtype == np.int64
    else:
        assert got2.shape == tuple(ref2.shape) and got2.dtype == to_np(ref2).dtype, cfg


@pytest.mark.parametrize("n", [2, 3])
def test_fractional_max_pool_module_constructor_errors(n):
    cls, tcls = getattr(cnn, f"FractionalMaxPool{n}d"), getattr(tnn, f"FractionalMaxPool{n}d")
    bad = [dict(kernel_size=2), dict(kernel_size=2, output_size=3, output_ratio=0.5),
           dict(kernel_size=2, output_ratio=1.0), dict(kernel_size=2, output_ratio=0.0),
           dict(kernel_size=2, output_ratio=-0.5), dict(kernel_size=2, output_ratio=1.5),
           dict(kernel_size=2, output_ratio=(0.5,) * (n - 1) + (1.0,))]
    if n == 3:  # torch's 3-d module checks the kernel size; its 2-d one does not (see below)
        bad += [dict(kernel_size=0, output_size=3), dict(kernel_size=-1, output_size=3),
                dict(kernel_size=(2, 0, 2), output_size=3)]
    for kw in bad:
        with pytest.raises(ValueError):
            tcls(**kw)
        with pytest.raises(ValueError):
            cls(**kw)
    for kw in [dict(kernel_size=2, output_size=3), dict(kernel_size=(1, 2, 3)[:n], output_ratio=0.5),
               dict(kernel_size=2, output_ratio=(0.25, 0.5, 0.75)[:n], return_indices=True)]:
        assert repr(cls(**kw)) == repr(tcls(**kw)), kw


def test_fractional_max_pool2d_module_nonpositive_kernel():
    """torch's 2-d module accepts kernel_size <= 0 and pools garbage (all -inf, indices outside the
    plane); convscope raises ValueError, as torch's 3-d module does."""
    x = np.random.default_rng(0).standard_normal((1, 1, 6, 6)).astype(np.float32)
    for k in (0, -1, (2, 0)):
        v, _ = tnn.FractionalMaxPool2d(k, output_size=3, return_indices=True)(T(x))
        # x is finite: an all -inf result is no pooling of x, so there is nothing to match
        assert bool(torch.isneginf(v).all()), f"torch 2.13 now pools kernel_size={k}: {v}"
        with pytest.raises(ValueError):
            cnn.FractionalMaxPool2d(k, output_size=3)
        with pytest.raises(ValueError):
            CF.fractional_max_pool2d(x, k, output_size=3)
    with pytest.raises(ValueError):
        tnn.FractionalMaxPool3d(0, output_size=3)


# --------------------------------------------------------------------------- *_with_indices aliases

POOL_KINDS = ("normal", "ties", "nan_ties", "neginf")


def gen_max_config(rng, n):
    kmax = {1: 5, 2: 4, 3: 3}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(n))
    stride = None if rng.random() < 0.25 else tuple(int(rng.integers(1, 4)) for _ in range(n))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    spatial = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5))
                    for k, d, p in zip(kernel, dilation, padding))
    return dict(n=n, kernel=maybe_scalar(rng, kernel), stride=None if stride is None else maybe_scalar(rng, stride),
                padding=maybe_scalar(rng, padding), dilation=maybe_scalar(rng, dilation),
                ceil_mode=bool(rng.random() < 0.5), spatial=spatial, batch=[None, 1, 2][int(rng.integers(0, 3))],
                channels=int(rng.integers(1, 4)), dtype=str(rng.choice(["float32", "float64"])),
                data=str(rng.choice(POOL_KINDS)), return_indices=bool(rng.random() < 0.5))


def lead_shape(cfg):
    return (cfg["channels"],) if cfg["batch"] is None else (cfg["batch"], cfg["channels"])


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_pool_with_indices_random(n, seed):
    cfg = gen_max_config(np.random.default_rng(11000 + 100 * n + seed), n)
    cfg["seed"] = 11000 + 100 * n + seed
    x = make_input(np.random.default_rng(cfg["seed"]), lead_shape(cfg) + cfg["spatial"], cfg["dtype"], cfg["data"])
    args = (cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"])
    name = f"max_pool{n}d_with_indices"
    ref = getattr(F, name)(T(x), *args, return_indices=cfg["return_indices"])
    assert_pair(getattr(CF, name)(x, *args, return_indices=cfg["return_indices"]), ref, cfg, name)
    assert_pair(getattr(CF, name)(x, *args), ref, cfg, f"{name} (default return_indices)")
    assert_pair(getattr(CF, name)(x, kernel_size=args[0], stride=args[1], padding=args[2], dilation=args[3],
                                  ceil_mode=args[4]), ref, cfg, f"{name} (keywords)")


def gen_adaptive_config(rng, n):
    spatial = tuple(int(rng.integers(1, 9)) for _ in range(n))
    out = [int(rng.integers(1, 2 * s + 2)) for s in spatial]
    if n > 1 and rng.random() < 0.3:  # None keeps that dimension's input size
        out[int(rng.integers(0, n))] = None
    output_size = out[0] if n == 1 or (len(set(out)) == 1 and out[0] is not None and rng.random() < 0.5) \
        else tuple(out)
    return dict(n=n, output_size=output_size, spatial=spatial, batch=[None, 1, 2][int(rng.integers(0, 3))],
                channels=int(rng.integers(1, 4)), dtype=str(rng.choice(["float32", "float64"])),
                data=str(rng.choice(POOL_KINDS)), return_indices=bool(rng.random() < 0.5))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_max_pool_with_indices_random(n, seed):
    cfg = gen_adaptive_config(np.random.default_rng(12000 + 100 * n + seed), n)
    cfg["seed"] = 12000 + 100 * n + seed
    x = make_input(np.random.default_rng(cfg["seed"]), lead_shape(cfg) + cfg["spatial"], cfg["dtype"], cfg["data"])
    name = f"adaptive_max_pool{n}d_with_indices"
    ref = getattr(F, name)(T(x), cfg["output_size"], return_indices=cfg["return_indices"])
    assert_pair(getattr(CF, name)(x, cfg["output_size"], return_indices=cfg["return_indices"]), ref, cfg, name)
    assert_pair(getattr(CF, name)(x, cfg["output_size"]), ref, cfg, f"{name} (default return_indices)")
    assert_pair(getattr(CF, name)(x, output_size=cfg["output_size"], return_indices=False), ref, cfg,
                f"{name} (return_indices=False)")


# --------------------------------------------------------------------------- upsample*

def gen_upsample_config(rng, fn):
    if fn == "upsample_bilinear":
        n = 2
    else:
        n = int(rng.integers(1, 4))
    if fn == "upsample":
        mode = str(rng.choice({1: ["nearest", "linear", "area", "nearest-exact"],
                               2: ["nearest", "bilinear", "bicubic", "area", "nearest-exact"],
                               3: ["nearest", "trilinear", "area", "nearest-exact"]}[n]))
    else:
        mode = None
    spatial = tuple(int(rng.integers(1, 7)) for _ in range(n))
    if rng.random() < 0.5:
        sizes = tuple(int(rng.integers(1, 12)) for _ in range(n))
        size, scale = maybe_scalar(rng, sizes), None
    else:
        factors = [float(rng.choice([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 1.7])) for _ in range(n)]
        scale = factors[0] if rng.random() < 0.5 else tuple(factors)
        size = None
        # at least one output element per dimension
        spatial = tuple(max(s, 2) for s in spatial)
    align = None
    if mode in ("linear", "bilinear", "bicubic", "trilinear") and rng.random() < 0.6:
        align = bool(rng.random() < 0.5)
    return dict(fn=fn, n=n, mode=mode, size=size, scale_factor=scale, align_corners=align, spatial=spatial,
                batch=int(rng.integers(1, 3)), channels=int(rng.integers(1, 4)),
                dtype=str(rng.choice(["float32", "float64"])))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("fn", ["upsample", "upsample_nearest", "upsample_bilinear"])
def test_upsample_functions_random(fn, seed):
    cfg = gen_upsample_config(np.random.default_rng(13000 + 100 * len(fn) + seed), fn)
    cfg["seed"] = 13000 + 100 * len(fn) + seed
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["batch"], cfg["channels"]) + cfg["spatial"]).astype(cfg["dtype"])
    kw = dict(size=cfg["size"], scale_factor=cfg["scale_factor"])
    if fn == "upsample":
        kw.update(mode=cfg["mode"], align_corners=cfg["align_corners"])
    ref = getattr(F, fn)(T(x), **kw)
    assert_matches(getattr(CF, fn)(x, **kw), ref, cfg, fn, dtype=cfg["dtype"])
    if fn != "upsample":  # positional (input, size, scale_factor)
        assert_matches(getattr(CF, fn)(x, cfg["size"], cfg["scale_factor"]), ref, cfg, f"{fn} positional",
                       dtype=cfg["dtype"])


@pytest.mark.parametrize("fn,args", [
    ("upsample_nearest", dict(scale_factor=2)),
    ("upsample_nearest", dict(size=(5, 3))),
    ("upsample_bilinear", dict(scale_factor=2)),
    ("upsample_bilinear", dict(size=(7, 2))),
    ("upsample", dict(scale_factor=(2.0, 0.5), mode="bilinear")),
    ("upsample", dict(size=9, mode="bicubic", align_corners=True)),
    ("upsample", dict(scale_factor=1.5, mode="nearest-exact")),
], ids=lambda v: str(v))
def test_upsample_functions_explicit(fn, args):
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 6))
    ref = getattr(F, fn)(T(x), **args)
    assert_matches(getattr(CF, fn)(x, **args), ref, dict(fn=fn, **args), fn)
    # errors: neither size nor scale_factor
    with pytest.raises(ValueError):
        getattr(F, fn)(T(x))
    with pytest.raises(ValueError):
        getattr(CF, fn)(x)


def test_upsample_bilinear_needs_4d_input():
    x = np.random.default_rng(6).standard_normal((2, 3, 5))
    assert_raises_like_torch(lambda: CF.upsample_bilinear(x, scale_factor=2),
                             lambda: F.upsample_bilinear(T(x), scale_factor=2), "upsample_bilinear on 3-D input",
                             (ValueError, NotImplementedError))


# --------------------------------------------------------------------------- channel shuffle

@pytest.mark.parametrize("seed", range(15))
def test_channel_shuffle_random(seed):
    rng = np.random.default_rng(14000 + seed)
    rank = int(rng.integers(3, 6))
    groups = int(rng.integers(1, 5))
    channels = groups * int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 3)), channels) + tuple(int(rng.integers(1, 4)) for _ in range(rank - 2))
    dtype = str(rng.choice(["float32", "float64", "int64"]))
    x = rng.standard_normal(shape).astype(dtype) if dtype != "int64" else rng.integers(-50, 50, size=shape)
    if seed % 4 == 1:  # non-contiguous input
        x = np.swapaxes(np.swapaxes(x, 0, -1).copy(), 0, -1)
    cfg = dict(seed=14000 + seed, shape=shape, groups=groups, dtype=dtype)
    ref = F.channel_shuffle(T(x), groups)
    assert_matches(CF.channel_shuffle(x, groups), ref, cfg, "channel_shuffle", exact=True)
    assert_matches(CF.native_channel_shuffle(x, groups), F.native_channel_shuffle(T(x), groups), cfg,
                   "native_channel_shuffle", exact=True)
    m, tm = cnn.ChannelShuffle(groups), tnn.ChannelShuffle(groups)
    assert repr(m) == repr(tm), f"{repr(m)!r} != torch {repr(tm)!r}"
    assert_matches(m(x), tm(T(x)), cfg, "ChannelShuffle module", exact=True)
    if dtype == "float64":
        g = rng.standard_normal(shape)
        y_ref, grad_ref = torch_grad(lambda t: F.channel_shuffle(t, groups), x, g)
        y, grad = our_grad(lambda t: CF.channel_shuffle(t, groups), x, g)
        assert_matches(y, y_ref, cfg, "forward on Tensor", exact=True)
        assert_grad_close(grad, grad_ref, cfg)


@pytest.mark.parametrize("rank", [3, 4, 5])
def test_channel_shuffle_gradient(rank):
    rng = np.random.default_rng(140 + rank)
    shape = (2, 6) + (3, 2, 2)[:rank - 2]
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    for groups in (1, 2, 3, 6):
        cfg = dict(shape=shape, groups=groups)
        _, ref = torch_grad(lambda t: tnn.ChannelShuffle(groups)(t), x, g)
        _, got = our_grad(lambda t: cnn.ChannelShuffle(groups)(t), x, g)
        assert_grad_close(got, ref, cfg, "module grad")
        _, got = our_grad(lambda t: CF.native_channel_shuffle(t, groups), x, g)
        assert_grad_close(got, ref, cfg, "native_channel_shuffle grad")


def test_channel_shuffle_errors():
    x = np.random.default_rng(1).standard_normal((2, 6, 3))
    cases = [("groups 0", x, 0), ("groups -1", x, -1), ("6 channels, 4 groups", x, 4),
             ("6 channels, 12 groups", x, 12), ("2-D input", x[0], 2), ("1-D input", x[0, 0], 1)]
    for name, a, groups in cases:
        for fn, tfn in ((CF.channel_shuffle, F.channel_shuffle), (CF.native_channel_shuffle, F.native_channel_shuffle),
                        (lambda a, g: cnn.ChannelShuffle(g)(a), lambda a, g: tnn.ChannelShuffle(g)(a))):
            assert_raises_like_torch(lambda: fn(a, groups), lambda: tfn(T(a), groups),
                                     dict(case=name, shape=a.shape, groups=groups))


# --------------------------------------------------------------------------- padding modules

PAD_FAMILIES = ("Zero", "Constant", "Reflection", "Replication", "Circular")


def gen_pad_config(rng, family, n):
    """Mostly valid configurations; invalid ones (which torch rejects) are compared as errors."""
    form = str(rng.choice(["int", "tuple", "tuple", "short"] if n > 1 else ["int", "tuple", "tuple"]))
    spatial = tuple(int(rng.integers(1, 6)) for _ in range(n))
    grow = 4 if family in ("Zero", "Constant") else 3

    def entry():
        return int(rng.integers(-2, 0)) if rng.random() < 0.15 else int(rng.integers(0, grow))
    if form == "int":
        padding = int(rng.integers(0, grow))
    elif form == "tuple":
        padding = tuple(entry() for _ in range(2 * n))
    else:  # fewer pairs than the module's dims: torch pads only the last dim(s)
        padding = tuple(entry() for _ in range(2 * int(rng.integers(1, n))))
    if family == "Reflection":  # reflect pads must stay below the size: grow the input mostly
        pairs = per_dim(padding, 2 * n)
        for j in range(min(n, len(pairs) // 2)):
            need = max(pairs[2 * j], pairs[2 * j + 1]) + 1
            dim = n - 1 - j
            if rng.random() < 0.9 and spatial[dim] < need:
                spatial = spatial[:dim] + (need,) + spatial[dim + 1:]
    if family == "Circular":
        # torch only checks each amount against the size *before* cropping: a pad larger than what
        # the other side's crop leaves (e.g. (2, -1) on 2 elements) reads uninitialized memory in
        # torch 2.13, so there is nothing to compare; keep every amount within what is left
        pairs = per_dim(padding, 2 * n)
        for j in range(min(n, len(pairs) // 2)):
            lo, hi = pairs[2 * j], pairs[2 * j + 1]
            need = max(-lo, 0) + max(-hi, 0) + max(lo, hi, 0)
            dim = n - 1 - j
            if spatial[dim] < need:
                spatial = spatial[:dim] + (need,) + spatial[dim + 1:]
    rank = n + (2 if rng.random() < 0.5 else 1)
    if family in ("Zero", "Constant") and rng.random() < 0.15:
        rank = n  # constant padding also takes an input with no channel dimension
    value = float(rng.choice([3.5, -1.25, 0.0])) if family == "Constant" else None
    if family == "Constant" and rng.random() < 0.2:
        value = int(rng.integers(-3, 4))
    lead = (2, 3)[:rank - n] if rank > n else ()
    return dict(family=family, n=n, padding=padding, value=value, shape=lead[-(rank - n):] + spatial
                if rank > n else spatial, dtype=str(rng.choice(["float32", "float64"])))


def pad_module(lib, cfg):
    cls = getattr(lib, f"{cfg['family']}Pad{cfg['n']}d")
    return cls(cfg["padding"], cfg["value"]) if cfg["family"] == "Constant" else cls(cfg["padding"])


PAD_OUTCOMES = {"ok": 0, "raised": 0}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("family", PAD_FAMILIES)
def test_padding_module_random(family, n, seed):
    cfg = gen_pad_config(np.random.default_rng(15000 + 1000 * PAD_FAMILIES.index(family) + 100 * n + seed),
                         family, n)
    cfg["seed"] = 15000 + 1000 * PAD_FAMILIES.index(family) + 100 * n + seed
    x = np.random.default_rng(cfg["seed"]).standard_normal(cfg["shape"]).astype(cfg["dtype"])
    m, tm = pad_module(cnn, cfg), pad_module(tnn, cfg)
    assert repr(m) == repr(tm), f"repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    kind, ref = outcome(lambda: tm(T(x)))
    PAD_OUTCOMES[kind] += 1
    if kind == "ok":
        assert_matches(accepted(lambda: m(x), ref, cfg), ref, cfg, "padding module", exact=True)
    else:
        with pytest.raises((ValueError, TypeError, NotImplementedError)) as info:
            m(x)
        assert str(info.value), f"no message; config={cfg}"


def test_padding_generator_is_mostly_valid():
    """Guard on the generator above: most cases are compared values, not errors (needs torch only)."""
    ok = raised = 0
    for family in PAD_FAMILIES:
        for n in (1, 2, 3):
            for seed in range(8):
                cfg = gen_pad_config(np.random.default_rng(15000 + 1000 * PAD_FAMILIES.index(family) + 100 * n + seed),
                                     family, n)
                x = torch.zeros(cfg["shape"])
                if outcome(lambda: pad_module(tnn, cfg)(x))[0] == "ok":
                    ok += 1
                else:
                    raised += 1
    assert ok >= 3 * raised and raised >= 3, (ok, raised)


PAD_EXPLICIT = [
    ("Zero", 2, (1, 2, 3, 4), (2, 3, 4, 5)),
    ("Zero", 2, (1, 1), (3, 4, 5)),             # 2 entries to a 2-d module: last dim only
    ("Zero", 2, (-1, 1, 2, -2), (2, 3, 4, 5)),  # negative entries crop
    ("Zero", 1, 2, (5,)),                       # 1-D input: no channel dimension
    ("Constant", 1, (2, 2), (2, 3, 4)),
    ("Constant", 3, (1, 0, -1, 2, 0, 1), (2, 3, 4, 5)),
    ("Constant", 2, (3, -1), (1, 2, 3, 4)),
    ("Reflection", 1, (2, 1), (2, 3, 4)),
    ("Reflection", 2, (1, 1), (3, 4, 5)),
    ("Reflection", 2, (-1, 1, 2, -2), (2, 3, 4, 5)),
    ("Reflection", 3, (1, 2, 0, 1, 2, 0), (1, 2, 3, 4, 5)),
    ("Replication", 1, (3, 0), (3, 2)),
    ("Replication", 2, (4, -1, 0, 5), (1, 2, 3, 4)),
    ("Replication", 3, 2, (2, 2, 2, 2)),
    ("Circular", 1, (3, 3), (1, 2, 3)),         # wrap exactly once
    ("Circular", 2, (1, 2, 0, 3), (2, 3, 4)),
    ("Circular", 2, (-1, 1, 2, -1), (2, 3, 4, 5)),
    ("Circular", 3, 1, (2, 2, 3, 4)),
    ("Circular", 2, (0, 0, -2, 1), (2, 3, 4)),  # crop one side, wrap the other (within what is left)
    # cropping everything: torch returns an empty result (as constant padding does)
    ("Circular", 1, (-1, 0), (2, 1)),
    ("Circular", 1, (-2, -1), (2, 2, 3)),
    ("Constant", 1, (-2, -1), (2, 2, 3)),
]


@pytest.mark.parametrize("case", PAD_EXPLICIT, ids=lambda c: f"{c[0]}Pad{c[1]}d-{c[2]}-{c[3]}")
def test_padding_module_explicit(case):
    family, n, padding, shape = case
    cfg = dict(family=family, n=n, padding=padding, value=2.5 if family == "Constant" else None, shape=shape)
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    m, tm = pad_module(cnn, cfg), pad_module(tnn, cfg)
    assert repr(m) == repr(tm), f"repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    ref = tm(T(x))
    assert_matches(accepted(lambda: m(x), ref, cfg), ref, cfg, "padding module", exact=True)


def test_padding_module_reprs():
    for ours, ref in [(cnn.ZeroPad2d((1, 2, 3, 4)), "ZeroPad2d((1, 2, 3, 4))"),
                      (cnn.ConstantPad1d((2, 2), 3.5), "ConstantPad1d(padding=(2, 2), value=3.5)")]:
        assert repr(ours) == ref
    for family in PAD_FAMILIES:
        for n in (1, 2, 3):
            for padding in (0, 3, tuple(range(1, 2 * n + 1)), (1, 2)):
                for value in ((1.5, -2, 0) if family == "Constant" else (None,)):
                    cfg = dict(family=family, n=n, padding=padding, value=value)
                    assert repr(pad_module(cnn, cfg)) == repr(pad_module(tnn, cfg)), cfg


PAD_BAD_INPUTS = [
    ("Circular", 1, 1, (5,)),            # 1-D input to CircularPad1d
    ("Circular", 2, 1, (4, 5)),
    ("Circular", 1, 4, (1, 2, 3)),       # wraps more than once
    ("Reflection", 1, 3, (1, 2, 3)),     # reflect pad not smaller than the size
    ("Reflection", 2, (0, 0, 2, 1), (1, 2, 2, 5)),
    ("Reflection", 1, 2, (5,)),          # torch: NotImplementedError (pad size 2 for a 1-D input)
    ("Replication", 1, 2, (5,)),
    ("Replication", 3, 1, (2, 3, 3)),    # 3-d replicate on a 3-D input
    ("Zero", 2, (1, 2, 3), (1, 2, 3, 3)),  # odd padding length
    ("Zero", 1, (-3, -3), (1, 2, 3)),    # crops more than the size
    ("Constant", 3, 1, (3, 3)),          # more padded dims than the input has
]


@pytest.mark.parametrize("case", PAD_BAD_INPUTS, ids=lambda c: f"{c[0]}Pad{c[1]}d-{c[2]}-{c[3]}")
def test_padding_module_bad_inputs(case):
    family, n, padding, shape = case
    cfg = dict(family=family, n=n, padding=padding, value=1.0 if family == "Constant" else None, shape=shape)
    x = np.zeros(shape)
    exc, ref = assert_raises_like_torch(lambda: pad_module(cnn, cfg)(x), lambda: pad_module(tnn, cfg)(T(x)), cfg,
                                        (ValueError, TypeError, NotImplementedError))
    # convscope reports a ValueError in every one of these cases (torch: RuntimeError/NotImplementedError/...)
    assert isinstance(exc, ValueError), f"convscope raised {type(exc).__name__}, torch {type(ref).__name__}: {cfg}"


# --------------------------------------------------------------------------- Fold / Unfold modules

def gen_unfold_module_config(rng):
    kernel = tuple(int(v) for v in rng.integers(1, 4, size=2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
    padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5))
                 for k, d, p in zip(kernel, dilation, padding))
    return dict(kernel_size=maybe_scalar(rng, kernel), dilation=maybe_scalar(rng, dilation),
                padding=maybe_scalar(rng, padding), stride=maybe_scalar(rng, stride), size=size,
                batch=[None, 1, 2, 3][int(rng.integers(0, 4))], channels=int(rng.integers(1, 4)),
                dtype=str(rng.choice(["float32", "float64"])))


def _fold_kw(cfg):
    return dict(kernel_size=cfg["kernel_size"], dilation=cfg["dilation"], padding=cfg["padding"], stride=cfg["stride"])


@pytest.mark.parametrize("seed", range(20))
def test_unfold_module_random(seed):
    cfg = gen_unfold_module_config(np.random.default_rng(16000 + seed))
    cfg["seed"] = 16000 + seed
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = np.random.default_rng(cfg["seed"]).standard_normal(lead + (cfg["channels"],) + cfg["size"]).astype(cfg["dtype"])
    m, tm = cnn.Unfold(**_fold_kw(cfg)), tnn.Unfold(**_fold_kw(cfg))
    assert repr(m) == repr(tm), f"repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    assert_matches(m(x), tm(T(x)), cfg, "Unfold", exact=True)


@pytest.mark.parametrize("seed", range(20))
def test_fold_module_random(seed):
    cfg = gen_unfold_module_config(np.random.default_rng(17000 + seed))
    cfg["seed"] = 17000 + seed
    k, d, p, s = (per_dim(cfg[a], 2) for a in ("kernel_size", "dilation", "padding", "stride"))
    blocks = [(sz + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for sz, pp, dd, kk, ss in zip(cfg["size"], p, d, k, s)]
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    rng = np.random.default_rng(cfg["seed"])
    cols = rng.standard_normal(lead + (cfg["channels"] * math.prod(k), math.prod(blocks))).astype(cfg["dtype"])
    output_size = cfg["size"] if cfg["size"][0] != cfg["size"][1] or seed % 2 else cfg["size"][0]
    m, tm = cnn.Fold(output_size, **_fold_kw(cfg)), tnn.Fold(output_size, **_fold_kw(cfg))
    assert repr(m) == repr(tm), f"repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    assert_matches(m(cols), tm(T(cols)), dict(cfg, output_size=output_size), "Fold")
    # wrong number of blocks: both raise
    bad = cols[..., :-1] if cols.shape[-1] > 1 else np.concatenate([cols, cols], axis=-1)
    assert_raises_like_torch(lambda: m(bad), lambda: tm(T(bad)), dict(cfg, blocks=bad.shape[-1]))


# --------------------------------------------------------------------------- lazy convolutions

def gen_lazy_config(rng, n, transposed):
    groups = int(rng.choice([1, 1, 2, 3]))
    in_channels = groups * int(rng.integers(1, 3))
    out_channels = groups * int(rng.integers(1, 3))
    kernel = tuple(int(rng.integers(1, 4)) for _ in range(n))
    stride = tuple(int(rng.integers(1, 3)) for _ in range(n))
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(n))
    padding = tuple(int(rng.integers(0, 3)) for _ in range(n))
    kw = dict(stride=maybe_scalar(rng, stride), padding=maybe_scalar(rng, padding),
              dilation=maybe_scalar(rng, dilation), groups=groups, bias=bool(rng.random() < 0.7))
    output_size_extra = None
    if transposed:
        kw["output_padding"] = maybe_scalar(rng, [int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation)])
        if rng.random() < 0.4:  # forward(input, output_size=...) instead (output_padding must then be 0)
            kw["output_padding"] = 0
            output_size_extra = tuple(int(rng.integers(0, s)) for s in stride)
        spatial = []
        for k, s, d, p in zip(kernel, stride, dilation, padding):  # grow until the output is non-empty
            i = int(rng.integers(1, 5))
            while (i - 1) * s - 2 * p + d * (k - 1) + 1 < 1:
                i += 1
            spatial.append(i)
        spatial = tuple(spatial)
    else:
        kw["padding_mode"] = str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"]))
        # the input must hold one dilated kernel after padding, and reflect pads stay below the size
        spatial = tuple(max(d * (k - 1) + 1 - 2 * p, p + 1) + int(rng.integers(0, 4))
                        for k, d, p in zip(kernel, dilation, padding))
    return dict(n=n, transposed=transposed, out_channels=out_channels, kernel_size=maybe_scalar(rng, kernel),
                kwargs=kw, in_channels=in_channels, spatial=spatial, batch=[None, 1, 2][int(rng.integers(0, 3))],
                output_size_extra=output_size_extra)


def lazy_classes(n, transposed):
    name = f"LazyConvTranspose{n}d" if transposed else f"LazyConv{n}d"
    eager = f"ConvTranspose{n}d" if transposed else f"Conv{n}d"
    return getattr(cnn, name), getattr(tnn, name), getattr(cnn, eager)


def lazy_output_size(cfg, x_shape):
    """The default transposed output size plus ``output_size_extra`` (< stride), or None."""
    if cfg["output_size_extra"] is None:
        return None
    n, kw = cfg["n"], cfg["kwargs"]
    k, s, p, d = (per_dim(v, n) for v in (cfg["kernel_size"], kw["stride"], kw["padding"], kw["dilation"]))
    return tuple((i - 1) * ss - 2 * pp + dd * (kk - 1) + 1 + e
                 for i, ss, pp, dd, kk, e in zip(x_shape[-n:], s, p, d, k, cfg["output_size_extra"]))


def call(m, x, output_size):
    return m(x) if output_size is None else m(x, output_size=output_size)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_lazy_conv_random(n, transposed, seed):
    cfg = gen_lazy_config(np.random.default_rng(18000 + 1000 * transposed + 100 * n + seed), n, transposed)
    cfg["seed"] = seed_ = 18000 + 1000 * transposed + 100 * n + seed
    ours_cls, torch_cls, eager = lazy_classes(n, transposed)
    m, tm = ours_cls(cfg["out_channels"], cfg["kernel_size"], **cfg["kwargs"]), \
        torch_cls(cfg["out_channels"], cfg["kernel_size"], **cfg["kwargs"])
    assert repr(m) == repr(tm), f"lazy repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    assert m.in_channels == 0 == tm.in_channels, f"in_channels before the first call; config={cfg}"
    lead = (cfg["in_channels"],) if cfg["batch"] is None else (cfg["batch"], cfg["in_channels"])
    x = np.random.default_rng(seed_).standard_normal(lead + cfg["spatial"]).astype(np.float32)
    output_size = lazy_output_size(cfg, x.shape)
    cfg["output_size"] = output_size

    convscope.random.manual_seed(seed_)
    y0 = call(m, x, output_size)
    torch.manual_seed(seed_)
    t0 = call(tm, T(x), output_size)
    assert type(m) is eager, f"after the first call the module is {type(m).__name__}, not {eager.__name__}; {cfg}"
    assert m.in_channels == cfg["in_channels"] == tm.in_channels, \
        f"in_channels {m.in_channels} (torch {tm.in_channels}); config={cfg}"
    assert m.weight.shape == tuple(tm.weight.shape), f"weight {m.weight.shape} != torch {tuple(tm.weight.shape)}; {cfg}"
    assert (m.bias is None) == (tm.bias is None), f"bias presence differs; config={cfg}"
    if m.bias is not None:
        assert m.bias.shape == tuple(tm.bias.shape), f"bias {m.bias.shape} != torch {tuple(tm.bias.shape)}; {cfg}"
    assert np.asarray(y0).shape == tuple(t0.shape) and np.asarray(y0).dtype == np.float32, \
        f"first output {np.asarray(y0).shape} != torch {tuple(t0.shape)}; config={cfg}"
    assert repr(m) == repr(tm), f"materialized repr {repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
    # torch's default init bound, U(+-1/sqrt(fan_in)) with fan_in from the weight's dim 1
    fan_in = tm.weight.shape[1] * math.prod(tm.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    tw = tm.weight.detach().numpy()
    assert np.abs(tw).max() <= bound  # the oracle's bound (sanity)
    for name, p in (("weight", m.weight), ("bias", m.bias)):
        if p is not None:
            a = np.asarray(p.data if hasattr(p, "data") else p)
            assert a.dtype == np.float32 and np.abs(a).max() <= bound * (1 + 1e-6), \
                f"initial {name} outside U(+-{bound}): max |{name}| {np.abs(a).max()}; config={cfg}"
    # same seed, same initial weights
    again = ours_cls(cfg["out_channels"], cfg["kernel_size"], **cfg["kwargs"])
    convscope.random.manual_seed(seed_)
    call(again, x, output_size)
    np.testing.assert_array_equal(np.asarray(again.weight.data), np.asarray(m.weight.data),
                                  err_msg=f"manual_seed does not reproduce the lazy init; config={cfg}")
    # torch's weights in ours: same outputs
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    got, ref = call(m, x, output_size), call(tm, T(x), output_size)
    ref = ref.detach().numpy()
    assert got.shape == ref.shape, f"output {got.shape} != torch {ref.shape}; config={cfg}"
    np.testing.assert_allclose(got, ref, rtol=LAZY_TOL, atol=LAZY_TOL * max(1.0, float(np.abs(ref).max())),
                               err_msg=f"outputs with torch's weights; config={cfg}")


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_lazy_conv_errors(n, transposed):
    ours_cls, torch_cls, _ = lazy_classes(n, transposed)
    rng = np.random.default_rng(19 + n)
    spatial = (5,) * n
    # channels not divisible by groups: ValueError in both; the module stays lazy
    x = rng.standard_normal((2, 5) + spatial).astype(np.float32)
    m, tm = ours_cls(4, 3, groups=2), torch_cls(4, 3, groups=2)
    with pytest.raises(ValueError):
        tm(T(x))
    with pytest.raises(ValueError):
        m(x)
    assert type(m) is ours_cls and type(tm) is torch_cls and m.in_channels == 0
    # wrong rank: torch RuntimeError, convscope ValueError; still lazy, and usable afterwards
    for shape in [(2, 2, 2) + spatial, spatial[1:] or (5,)]:
        if len(shape) in (n + 1, n + 2):
            continue
        bad = rng.standard_normal(shape).astype(np.float32)
        m, tm = ours_cls(4, 3), torch_cls(4, 3)
        assert_raises_like_torch(lambda: m(bad), lambda: tm(T(bad)), dict(n=n, transposed=transposed, shape=shape))
        assert type(m) is ours_cls and type(tm) is torch_cls, "a failed first call must leave the module lazy"
        good = rng.standard_normal((3,) + spatial).astype(np.float32)  # unbatched
        y, ty = m(good), tm(T(good))
        assert np.asarray(y).shape == tuple(ty.shape) and m.in_channels == 3 == tm.in_channels


@pytest.mark.parametrize("n", [1, 2, 3])
def test_lazy_conv_explicit_options(n):
    """padding_mode='reflect' with groups, unbatched input; transposed with output_padding and with
    forward(input, output_size=...) given as the full (N, C, *spatial) shape."""
    rng = np.random.default_rng(200 + n)
    cases = [
        (False, dict(out_channels=4, kernel_size=3, padding=1, padding_mode="reflect", groups=2), (4,) + (5,) * n,
         None),
        (False, dict(out_channels=6, kernel_size=2, stride=2, dilation=1, padding=1, padding_mode="circular",
                     groups=3, bias=False), (2, 3) + (4,) * n, None),
        (True, dict(out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2),
         (2, 4) + (3,) * n, None),
        (True, dict(out_channels=2, kernel_size=2, stride=3, dilation=2), (1, 3) + (3,) * n, "full"),
        (True, dict(out_channels=3, kernel_size=3, stride=2, padding=1), (2,) + (4,) * n, "spatial"),
    ]
    for transposed, kw, shape, size_form in cases:
        cfg = dict(n=n, transposed=transposed, kwargs=kw, shape=shape, output_size=size_form)
        ours_cls, torch_cls, eager = lazy_classes(n, transposed)
        m, tm = ours_cls(**kw), torch_cls(**kw)
        assert repr(m) == repr(tm), f"{repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
        x = rng.standard_normal(shape).astype(np.float32)
        output_size = None
        if size_form is not None:
            k, s, d, p = (per_dim(kw.get(a, dflt), n) for a, dflt in
                          (("kernel_size", 1), ("stride", 1), ("dilation", 1), ("padding", 0)))
            spatial_out = tuple((i - 1) * ss - 2 * pp + dd * (kk - 1) + 1 + (ss - 1)
                                for i, ss, pp, dd, kk in zip(shape[-n:], s, p, d, k))
            output_size = spatial_out if size_form == "spatial" else shape[:-n - 1] + (kw["out_channels"],) + \
                spatial_out
        t0 = call(tm, T(x), output_size)
        y0 = call(m, x, output_size)
        assert type(m) is eager and m.in_channels == tm.in_channels == shape[-n - 1], cfg
        assert np.asarray(y0).shape == tuple(t0.shape), f"{np.asarray(y0).shape} != {tuple(t0.shape)}; {cfg}"
        assert repr(m) == repr(tm), f"{repr(m)!r} != torch {repr(tm)!r}; config={cfg}"
        m.load_state_dict({key: v.detach().numpy() for key, v in tm.state_dict().items()})
        ref = call(tm, T(x), output_size).detach().numpy()
        np.testing.assert_allclose(call(m, x, output_size), ref, rtol=LAZY_TOL,
                                   atol=LAZY_TOL * max(1.0, float(np.abs(ref).max())), err_msg=str(cfg))


def test_lazy_conv_init_bound_is_tight():
    """Over many draws the initial weights fill torch's U(+-1/sqrt(fan_in)) (not a narrower range)."""
    convscope.random.manual_seed(123)
    m = cnn.LazyConv2d(64, 3)
    m(np.zeros((1, 8, 5, 5), np.float32))
    tm = tnn.LazyConv2d(64, 3)
    tm(torch.zeros(1, 8, 5, 5))
    bound = 1 / math.sqrt(8 * 9)
    w, tw = np.asarray(m.weight.data), tm.weight.detach().numpy()
    for a in (w, tw):
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.95 * bound
        assert abs(float(a.mean())) < 0.05 * bound and abs(float(a.std()) - bound / math.sqrt(3)) < 0.05 * bound
