"""Differential tests: ``convscope.functional`` pooling / unpooling against ``torch.nn.functional``.

Every generated case comes from ``numpy.random.default_rng(seed)`` with the seed in the test id,
and every assertion message carries the full configuration, so a failure is reproducible with
``gen_*_config(np.random.default_rng(seed), n)``.

Facts about torch 2.13 (CPU) that the generators rely on, checked against torch itself:

* max/avg pooling padding must satisfy ``p <= k // 2`` for the *undilated* kernel size
  (``pool2d_shape_check``/``pool3d_shape_check``/``max_pool1d``), which is stricter than the
  ``p <= ((k-1)*d + 1) / 2`` check in ``pooling_output_shape``.
* ``lp_pool`` with ``norm_type=+-inf`` is ``max_pool(|x|)`` / ``-max_pool(-|x|)``; other norm types
  go through ``avg_pool(x**p) * prod(k)`` (so a ceil_mode partial window is scaled up), and a
  negative sum or a negative base with a fractional power is NaN.
* ``max_unpool``'s explicit ``output_size`` may be the spatial sizes or ``(N, C, *spatial)``
  (the first two entries are ignored); it must lie strictly within ``default +- stride``; an index
  is only checked against the flat size of the output plane.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convscope.functional as CF
from oracle_arrays import to_np

pytestmark = [pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")]

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
N_SEEDS = 20  # per dimensionality: 60 generated cases per op family
LAYOUTS = ("c", "c", "c", "strided", "reversed")
DATA_KINDS = ("normal", "normal", "ties", "ties", "nan", "nan_ties", "inf", "neginf_windows")


# --------------------------------------------------------------------------- helpers

def ours(name):
    """``convscope.functional.<name>``, looked up at call time (a missing function fails the test)."""
    return getattr(CF, name)


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
    """A float array of ``shape``: ``normal`` values; ``ties``: integers in [-2, 2] (many exact
    duplicates, so the first-maximum rule matters); ``nan``/``nan_ties``: ~20% NaN; ``inf``: some
    +-inf; ``neginf_windows``: ~60% -inf among ties, so whole windows are -inf; ``signed_zeros``:
    mostly 0.0 and -0.0 (equal, so which one a maximum returns is the first-maximum rule too)."""
    shape = tuple(int(s) for s in shape)
    if layout == "strided" and len(shape) > 0:
        big = rng.standard_normal(shape[:-1] + (2 * shape[-1] + 1,))
        base = big[..., 1::2]
    else:
        base = rng.standard_normal(shape)
    if kind in ("ties", "nan_ties", "neginf_windows"):
        base[...] = rng.integers(-2, 3, size=shape)
    if kind in ("nan", "nan_ties"):
        base[rng.random(shape) < 0.2] = np.nan
    if kind == "inf":
        r = rng.random(shape)
        base[r < 0.15] = -np.inf
        base[r > 0.93] = np.inf
    if kind == "neginf_windows":
        base[rng.random(shape) < 0.6] = -np.inf
    if kind == "signed_zeros":
        base[...] = rng.choice([0.0, -0.0, -0.0, -1.0], size=shape)
    out = base.astype(dtype, copy=layout == "c")
    if layout == "reversed":
        out = np.ascontiguousarray(out[..., ::-1])[..., ::-1]
    assert out.shape == shape and out.dtype == np.dtype(dtype)
    return out


def assert_matches(got, ref, dtype, cfg, what="", exact=False):
    """``got`` is a NumPy array of ``dtype`` equal to torch's ``ref`` (exactly, or to the dtype's
    tolerance relative to the output magnitude); NaN and +-inf must be at the same places."""
    dtype = np.dtype(dtype)
    ref = to_np(ref)
    msg = f"{what} config={cfg}"
    assert isinstance(got, np.ndarray), f"result is {type(got)}; {msg}"
    assert got.dtype == dtype, f"result dtype {got.dtype} != input dtype {dtype}; {msg}"
    assert got.shape == ref.shape, f"shape {got.shape} != torch {ref.shape}; {msg}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"NaN mask differs; {msg}")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref), err_msg=f"+inf mask differs; {msg}")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref), err_msg=f"-inf mask differs; {msg}")
    if exact:
        np.testing.assert_array_equal(got, ref, err_msg=f"values differ (exact); {msg}")
        number = ~np.isnan(ref)
        np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(ref[number]),
                                      err_msg=f"signs of zeros differ; {msg}")
        return
    tol = TOL[dtype]
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


def lead_shape(cfg):
    return (cfg["channels"],) if cfg["batch"] is None else (cfg["batch"], cfg["channels"])


def _unchanged(x, before, cfg):
    np.testing.assert_array_equal(x, before, err_msg=f"input modified; config={cfg}")


# --------------------------------------------------------------------------- max pooling

def gen_max_config(rng, n):
    kmax, dmax, smax = {1: (5, 3, 9), 2: (4, 3, 6), 3: (3, 2, 4)}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    dilation = tuple(int(rng.integers(1, dmax + 1)) for _ in range(n))
    stride = None if rng.random() < 0.25 else tuple(int(rng.integers(1, 4)) for _ in range(n))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    spatial = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, smax))
                    for k, d, p in zip(kernel, dilation, padding))
    return dict(
        n=n, kernel=maybe_scalar(rng, kernel), stride=None if stride is None else maybe_scalar(rng, stride),
        padding=maybe_scalar(rng, padding), dilation=maybe_scalar(rng, dilation),
        ceil_mode=bool(rng.random() < 0.5), spatial=spatial, batch=[None, 1, 2][int(rng.integers(0, 3))],
        channels=int(rng.integers(1, 4)), dtype=str(rng.choice(["float32", "float64"])),
        data=str(rng.choice(DATA_KINDS)), layout=str(rng.choice(LAYOUTS)),
        positional=bool(rng.random() < 0.5),
    )


def check_max(cfg, x=None, seed=0):
    n = cfg["n"]
    if x is None:
        x = make_input(np.random.default_rng(seed), lead_shape(cfg) + cfg["spatial"], cfg["dtype"],
                       cfg["data"], cfg["layout"])
    before = x.copy()
    args = (cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["ceil_mode"])
    fn, tfn = ours(f"max_pool{n}d"), getattr(F, f"max_pool{n}d")
    if cfg.get("positional"):
        got = fn(x, *args, True)
    else:
        got = fn(x, kernel_size=args[0], stride=args[1], padding=args[2], dilation=args[3], ceil_mode=args[4],
                 return_indices=True)
    _unchanged(x, before, cfg)
    assert isinstance(got, tuple) and len(got) == 2, f"return_indices=True must give (values, indices); {cfg}"
    ref_v, ref_i = tfn(T(x), *args, return_indices=True)
    assert_matches(got[0], ref_v, cfg["dtype"], cfg, "values", exact=True)
    assert_indices(got[1], ref_i, cfg)
    # without indices: torch takes a different kernel (max_pool1d_impl / max_pool2d); same values
    plain = fn(x, *args)
    assert_matches(plain, tfn(T(x), *args), cfg["dtype"], cfg, "values (return_indices=False)", exact=True)
    return got


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_pool_random(n, seed):
    rng = np.random.default_rng(100 + seed)
    cfg = gen_max_config(rng, n)
    cfg["seed"] = 100 + seed
    check_max(cfg, seed=100 + seed)


def _mcfg(n, **kw):
    base = dict(n=n, kernel=3, stride=None, padding=0, dilation=1, ceil_mode=False, spatial=(7, 6, 5)[:n],
                batch=2, channels=2, dtype="float64", data="normal", layout="c")
    base.update(kw)
    return base


EXPLICIT_MAX = [
    # ceil_mode: the last window would start in the right padding -> torch drops it
    _mcfg(1, kernel=2, stride=2, padding=1, spatial=(5,), ceil_mode=True),     # 5 -> 4 (not 5)
    _mcfg(2, kernel=2, stride=2, padding=1, spatial=(5, 7), ceil_mode=True),
    _mcfg(2, kernel=4, stride=3, padding=2, spatial=(4, 7), ceil_mode=True),
    _mcfg(3, kernel=2, stride=2, padding=1, spatial=(3, 5, 1), ceil_mode=True),
    # ceil_mode keeps a partial window that starts inside the input
    _mcfg(1, kernel=3, stride=2, spatial=(6,), ceil_mode=True),
    _mcfg(2, kernel=(3, 2), stride=(2, 3), spatial=(6, 7), ceil_mode=True, dilation=(1, 2)),
    # padding exactly k // 2, with dilation (allowed because the bound uses the undilated kernel)
    _mcfg(2, kernel=(3, 4), padding=(1, 2), dilation=(2, 3), stride=1, spatial=(5, 8)),
    _mcfg(1, kernel=5, padding=2, dilation=2, stride=1, spatial=(5,)),
    _mcfg(3, kernel=(2, 3, 2), padding=1, dilation=(1, 2, 2), stride=(1, 2, 1), spatial=(3, 4, 2)),
    # kernel 1, stride larger than kernel
    _mcfg(2, kernel=1, stride=3, spatial=(7, 5)),
    _mcfg(2, kernel=2, stride=4, spatial=(9, 9), ceil_mode=True),
    # ties everywhere: first maximum in scan order wins
    _mcfg(2, kernel=3, stride=1, padding=1, data="ties"),
    _mcfg(3, kernel=2, stride=1, padding=1, data="ties", spatial=(3, 3, 3)),
    _mcfg(1, kernel=4, stride=1, padding=2, dilation=2, data="ties", spatial=(9,)),
    # NaN (several NaNs in a window: torch returns the index of the last one) and -inf
    _mcfg(2, kernel=3, stride=1, padding=1, data="nan_ties"),
    _mcfg(1, kernel=5, stride=1, padding=2, data="nan", spatial=(11,)),
    _mcfg(2, kernel=2, stride=1, padding=1, data="neginf_windows", dtype="float32"),
    _mcfg(3, kernel=3, stride=2, padding=1, data="neginf_windows", spatial=(4, 5, 3)),
    # unbatched, batch 1, float32, non-contiguous
    _mcfg(2, batch=None, kernel=2, ceil_mode=True, dtype="float32", layout="strided"),
    _mcfg(3, batch=1, kernel=(1, 2, 3), dtype="float32", layout="reversed"),
    _mcfg(1, batch=None, channels=3, kernel=2, stride=1, data="ties"),
    # window covering the whole padded input
    _mcfg(2, kernel=(4, 5), padding=2, spatial=(1, 1)),
    # 0.0 and -0.0 tie: the first of them is the maximum returned (tiling windows, overlapping ones)
    _mcfg(2, kernel=2, data="signed_zeros", dtype="float32", spatial=(8, 10)),
    _mcfg(2, kernel=3, stride=2, padding=1, data="signed_zeros", spatial=(9, 8)),
    _mcfg(1, kernel=4, stride=1, padding=2, dilation=2, data="signed_zeros", spatial=(9,)),
    _mcfg(3, kernel=2, data="signed_zeros", dtype="float32", spatial=(4, 4, 6)),
    _mcfg(3, kernel=2, stride=1, padding=1, ceil_mode=True, data="signed_zeros", spatial=(3, 4, 5)),
]


@pytest.mark.parametrize("cfg", EXPLICIT_MAX, ids=lambda c: f"max{c['n']}d-k{c['kernel']}-s{c['stride']}-"
                         f"p{c['padding']}-d{c['dilation']}-{'ceil' if c['ceil_mode'] else 'floor'}-{c['data']}")
def test_max_pool_explicit(cfg):
    check_max(cfg, seed=7)


def test_max_pool_all_neg_inf_window_index_is_first_valid_position():
    """A window holding only -inf (and padding) reports the first in-bounds position."""
    x = np.full((1, 1, 3, 4), -np.inf)
    x[0, 0, 2, 3] = 1.0
    cfg = _mcfg(2, kernel=3, stride=2, padding=1, spatial=(3, 4), batch=1, channels=1, data="explicit")
    check_max(cfg, x=x)


def test_max_pool_all_nan_and_mixed_nan_inf():
    x = np.array([[[np.nan, np.nan, 1.0, -np.inf, np.inf, np.nan, -np.inf, -np.inf, 2.0]]])
    for k, s, p in [(2, 1, 1), (3, 2, 1), (4, 3, 2), (9, 1, 4)]:
        cfg = _mcfg(1, kernel=k, stride=s, padding=p, spatial=(9,), batch=1, channels=1, data="explicit")
        check_max(cfg, x=x)
        check_max(dict(cfg, dtype="float32"), x=x.astype(np.float32))


def test_max_pool_empty_batch():
    cfg = _mcfg(2, batch=0, kernel=2)
    check_max(cfg, x=np.zeros((0, 2, 7, 6)))


# --------------------------------------------------------------------------- average pooling

def gen_avg_config(rng, n):
    kmax, smax = {1: (5, 9), 2: (4, 6), 3: (3, 4)}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    stride = None if rng.random() < 0.25 else tuple(int(rng.integers(1, 4)) for _ in range(n))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    # avg_pool3d (only the 3-d one) rejects an input smaller than the kernel even when padding
    # would make it fit ("input image ... smaller than kernel size"); see test_pool_errors.py
    spatial = tuple((k if n == 3 else max(1, k - 2 * p)) + int(rng.integers(0, smax))
                    for k, p in zip(kernel, padding))
    divisor = None
    if n > 1 and rng.random() < 0.35:
        divisor = int(rng.integers(1, 8))
    return dict(
        n=n, kernel=maybe_scalar(rng, kernel), stride=None if stride is None else maybe_scalar(rng, stride),
        padding=maybe_scalar(rng, padding), ceil_mode=bool(rng.random() < 0.5),
        count_include_pad=bool(rng.random() < 0.5), divisor_override=divisor, spatial=spatial,
        batch=[None, 1, 2][int(rng.integers(0, 3))], channels=int(rng.integers(1, 4)),
        dtype=str(rng.choice(["float32", "float64"])), data=str(rng.choice(["normal", "normal", "ties"])),
        layout=str(rng.choice(LAYOUTS)), positional=bool(rng.random() < 0.5),
    )


def check_avg(cfg, x=None, seed=0):
    n = cfg["n"]
    if x is None:
        x = make_input(np.random.default_rng(seed), lead_shape(cfg) + cfg["spatial"], cfg["dtype"],
                       cfg["data"], cfg["layout"])
    before = x.copy()
    args = [cfg["kernel"], cfg["stride"], cfg["padding"], cfg["ceil_mode"], cfg["count_include_pad"]]
    if n > 1:
        args.append(cfg["divisor_override"])
    fn, tfn = ours(f"avg_pool{n}d"), getattr(F, f"avg_pool{n}d")
    if cfg.get("positional"):
        got = fn(x, *args)
    else:
        names = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]
        got = fn(x, **dict(zip(names, args)))
    _unchanged(x, before, cfg)
    assert_matches(got, tfn(T(x), *args), cfg["dtype"], cfg)
    return got


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_avg_pool_random(n, seed):
    rng = np.random.default_rng(200 + seed)
    cfg = gen_avg_config(rng, n)
    cfg["seed"] = 200 + seed
    check_avg(cfg, seed=200 + seed)


def _acfg(n, **kw):
    base = dict(n=n, kernel=3, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None, spatial=(7, 6, 5)[:n], batch=2, channels=2, dtype="float64", data="normal",
                layout="c")
    base.update(kw)
    return base


EXPLICIT_AVG = []
for _cip in (True, False):
    EXPLICIT_AVG += [
        # ceil_mode windows clipped at the right edge: the part beyond i + p never counts
        _acfg(1, kernel=3, stride=2, spatial=(6,), ceil_mode=True, count_include_pad=_cip),
        _acfg(1, kernel=3, stride=2, padding=1, spatial=(6,), ceil_mode=True, count_include_pad=_cip),
        _acfg(2, kernel=(3, 4), stride=(2, 3), padding=(1, 2), spatial=(6, 8), ceil_mode=True,
              count_include_pad=_cip),
        _acfg(3, kernel=2, stride=2, padding=1, spatial=(3, 4, 5), ceil_mode=True, count_include_pad=_cip),
        # last window would start in the right padding -> dropped
        _acfg(2, kernel=2, stride=2, padding=1, spatial=(5, 5), ceil_mode=True, count_include_pad=_cip),
        # padding = k // 2 with even kernels
        _acfg(2, kernel=(2, 4), stride=1, padding=(1, 2), spatial=(3, 2), count_include_pad=_cip),
        _acfg(1, kernel=4, stride=3, padding=2, spatial=(4,), count_include_pad=_cip, batch=None),
    ]
EXPLICIT_AVG += [
    # divisor_override wins over both count_include_pad settings and over clipped ceil windows
    _acfg(2, kernel=3, stride=2, padding=1, divisor_override=1, ceil_mode=True),
    _acfg(2, kernel=3, stride=2, padding=1, divisor_override=5, count_include_pad=False),
    _acfg(3, kernel=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), divisor_override=7, ceil_mode=True,
          spatial=(3, 5, 4), dtype="float32"),
    _acfg(2, kernel=(1, 1), divisor_override=3),
    # unbatched, float32, non-contiguous
    _acfg(2, batch=None, kernel=2, ceil_mode=True, dtype="float32", layout="strided"),
    _acfg(3, batch=None, kernel=(1, 2, 3), dtype="float32", layout="reversed", padding=(0, 1, 1)),
    # inf / NaN pass through the sum
    _acfg(2, kernel=2, stride=1, padding=1, data="inf"),
    _acfg(1, kernel=3, stride=1, padding=1, data="nan", spatial=(9,)),
]


@pytest.mark.parametrize("cfg", EXPLICIT_AVG, ids=lambda c: f"avg{c['n']}d-k{c['kernel']}-s{c['stride']}-"
                         f"p{c['padding']}-{'ceil' if c['ceil_mode'] else 'floor'}-cip{int(c['count_include_pad'])}-"
                         f"div{c['divisor_override']}-{c['data']}")
def test_avg_pool_explicit(cfg):
    check_avg(cfg, seed=11)


def test_avg_pool_integer_valued_input_exact_divisors():
    """With integer-valued data and power-of-two divisors the result is exact in float64; the
    divisor at every position must therefore agree with torch exactly."""
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float64).reshape(2, 3, 6, 7) % 5
    for k, s, p, ceil, cip, div in [(2, 2, 1, True, True, None), (2, 2, 1, True, False, None),
                                    (4, 3, 2, True, True, None), (4, 3, 2, False, False, None),
                                    (4, 3, 2, True, False, 2), (3, 2, 1, True, True, None)]:
        cfg = _acfg(2, kernel=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div,
                    spatial=(6, 7), data="explicit", batch=2, channels=3)
        check_avg(cfg, x=x)


# --------------------------------------------------------------------------- adaptive pooling

def gen_adaptive_config(rng, n):
    smax = {1: 12, 2: 8, 3: 5}[n]
    spatial = tuple(int(rng.integers(1, smax + 1)) for _ in range(n))
    out = []
    for s in spatial:
        kind = rng.choice(["rand", "rand", "rand", "one", "same", "none", "bigger"])
        if kind == "none" and n == 1:
            kind = "rand"
        out.append({"rand": int(rng.integers(1, s + 3)), "one": 1, "same": s, "none": None,
                    "bigger": s + int(rng.integers(1, 4))}[str(kind)])
    if n == 1:
        output_size = out[0] if rng.random() < 0.7 else (out[0],)
    elif len(set(out)) == 1 and out[0] is not None and rng.random() < 0.5:
        output_size = out[0]
    else:
        output_size = tuple(out)
    return dict(n=n, output_size=output_size, spatial=spatial, batch=[None, 1, 2][int(rng.integers(0, 3))],
                channels=int(rng.integers(1, 4)), dtype=str(rng.choice(["float32", "float64"])),
                data=str(rng.choice(DATA_KINDS)), layout=str(rng.choice(LAYOUTS)))


def check_adaptive(cfg, x=None, seed=0):
    n = cfg["n"]
    if x is None:
        x = make_input(np.random.default_rng(seed), lead_shape(cfg) + cfg["spatial"], cfg["dtype"],
                       cfg["data"], cfg["layout"])
    before = x.copy()
    # avg: NaN/inf data is fine too (sums propagate); compare to tolerance
    got = ours(f"adaptive_avg_pool{n}d")(x, cfg["output_size"])
    _unchanged(x, before, cfg)
    assert_matches(got, getattr(F, f"adaptive_avg_pool{n}d")(T(x), cfg["output_size"]), cfg["dtype"], cfg, "avg")
    tfn = getattr(F, f"adaptive_max_pool{n}d")
    fn = ours(f"adaptive_max_pool{n}d")
    got = fn(x, cfg["output_size"], return_indices=True)
    assert isinstance(got, tuple) and len(got) == 2, f"return_indices=True must give (values, indices); {cfg}"
    ref_v, ref_i = tfn(T(x), cfg["output_size"], return_indices=True)
    assert_matches(got[0], ref_v, cfg["dtype"], cfg, "max values", exact=True)
    assert_indices(got[1], ref_i, cfg, "max indices")
    plain = fn(x, cfg["output_size"])
    assert_matches(plain, tfn(T(x), cfg["output_size"]), cfg["dtype"], cfg, "max (return_indices=False)", exact=True)


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_pool_random(n, seed):
    rng = np.random.default_rng(300 + seed)
    cfg = gen_adaptive_config(rng, n)
    cfg["seed"] = 300 + seed
    check_adaptive(cfg, seed=300 + seed)


def _adcfg(n, output_size, spatial, **kw):
    base = dict(n=n, output_size=output_size, spatial=spatial, batch=2, channels=2, dtype="float64",
                data="normal", layout="c")
    base.update(kw)
    return base


EXPLICIT_ADAPTIVE = [
    # output sizes not dividing the input: overlapping windows of different sizes
    _adcfg(1, 3, (7,)), _adcfg(1, 4, (10,), data="ties"), _adcfg(1, 5, (7,), data="nan_ties"),
    _adcfg(2, (3, 4), (7, 9)), _adcfg(2, (5, 2), (7, 3), data="ties", dtype="float32"),
    _adcfg(3, (2, 3, 2), (5, 4, 3), data="nan"),
    # global pooling
    _adcfg(1, 1, (9,)), _adcfg(2, 1, (5, 7)), _adcfg(2, (1, 1), (4, 3), batch=None),
    _adcfg(3, 1, (3, 4, 2), data="neginf_windows"),
    # None entries keep the dimension
    _adcfg(2, (None, 3), (5, 7)), _adcfg(2, (4, None), (5, 7), batch=None), _adcfg(2, (None, None), (3, 2)),
    _adcfg(3, (None, 2, None), (3, 5, 4)), _adcfg(3, (2, None, 1), (5, 3, 4), dtype="float32"),
    # output larger than the input (windows repeat input elements)
    _adcfg(1, 11, (4,)), _adcfg(2, (7, 5), (3, 2), data="ties"), _adcfg(3, (3, 4, 5), (2, 2, 3)),
    _adcfg(2, (6, 1), (1, 4)),
    # identity sizes, unbatched, non-contiguous
    _adcfg(2, (5, 7), (5, 7), layout="reversed"), _adcfg(1, (3,), (8,), batch=None, layout="strided"),
]


@pytest.mark.parametrize("cfg", EXPLICIT_ADAPTIVE,
                         ids=lambda c: f"adaptive{c['n']}d-{c['spatial']}->{c['output_size']}-{c['data']}")
def test_adaptive_pool_explicit(cfg):
    check_adaptive(cfg, seed=13)


# --------------------------------------------------------------------------- power-average pooling

NORM_TYPES = (1, 2, 2.0, 3, 3.5, 0.5, float("inf"), float("-inf"))


def gen_lp_config(rng, n):
    kmax, smax = {1: (4, 9), 2: (3, 6), 3: (2, 4)}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    stride = None if rng.random() < 0.3 else tuple(int(rng.integers(1, 4)) for _ in range(n))
    spatial = tuple(k + int(rng.integers(0, smax)) for k in kernel)
    kernel_arg = kernel[0] if n == 1 else maybe_scalar(rng, kernel)  # lp_pool1d's kernel_size is an int
    return dict(n=n, norm_type=NORM_TYPES[int(rng.integers(0, len(NORM_TYPES)))], kernel=kernel_arg,
                stride=None if stride is None else (stride[0] if n == 1 else maybe_scalar(rng, stride)),
                ceil_mode=bool(rng.random() < 0.5), spatial=spatial, batch=[None, 1, 2][int(rng.integers(0, 3))],
                channels=int(rng.integers(1, 4)), dtype=str(rng.choice(["float32", "float64"])),
                data=str(rng.choice(["normal", "positive", "positive", "ties"])), layout=str(rng.choice(LAYOUTS)))


def check_lp(cfg, x=None, seed=0):
    n = cfg["n"]
    if x is None:
        rng = np.random.default_rng(seed)
        x = make_input(rng, lead_shape(cfg) + cfg["spatial"], cfg["dtype"],
                       "normal" if cfg["data"] == "positive" else cfg["data"], cfg["layout"])
        if cfg["data"] == "positive":
            x = np.abs(x) + np.asarray(0.05, dtype=x.dtype)
    before = x.copy()
    args = (cfg["norm_type"], cfg["kernel"], cfg["stride"], cfg["ceil_mode"])
    got = ours(f"lp_pool{n}d")(x, *args)
    _unchanged(x, before, cfg)
    assert_matches(got, getattr(F, f"lp_pool{n}d")(T(x), *args), cfg["dtype"], cfg)


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_lp_pool_random(n, seed):
    rng = np.random.default_rng(400 + seed)
    cfg = gen_lp_config(rng, n)
    cfg["seed"] = 400 + seed
    check_lp(cfg, seed=400 + seed)


def _lcfg(n, norm_type, **kw):
    base = dict(n=n, norm_type=norm_type, kernel=2, stride=None, ceil_mode=False, spatial=(7, 6, 5)[:n], batch=2,
                channels=2, dtype="float64", data="normal", layout="c")
    base.update(kw)
    return base


EXPLICIT_LP = [
    _lcfg(n, p, **kw)
    for n in (1, 2, 3)
    for p in (1, 2, 3, 3.5, float("inf"), float("-inf"))
    for kw in (dict(), dict(ceil_mode=True, kernel=3 if n == 1 else (3, 2, 2)[:n], stride=2),
               dict(data="positive", dtype="float32", stride=1))
]


@pytest.mark.parametrize("cfg", EXPLICIT_LP, ids=lambda c: f"lp{c['n']}d-p{c['norm_type']}-k{c['kernel']}-"
                         f"s{c['stride']}-{'ceil' if c['ceil_mode'] else 'floor'}-{c['data']}-{c['dtype']}")
def test_lp_pool_explicit(cfg):
    check_lp(cfg, seed=17)


def test_lp_pool_ceil_mode_partial_window_is_scaled_by_full_kernel():
    """torch multiplies the (clipped-divisor) average by prod(kernel_size): a partial window at
    the edge is over-weighted, e.g. [3, 4, 12] with k=2, s=2, ceil -> sqrt(2 * 12**2)."""
    x = np.array([[[3.0, 4.0, 12.0]]])
    got = ours("lp_pool1d")(x, 2, 2, ceil_mode=True)
    ref = F.lp_pool1d(T(x), 2, 2, ceil_mode=True)
    assert_matches(got, ref, np.float64, "lp ceil partial")
    np.testing.assert_allclose(got[0, 0], [5.0, np.sqrt(288.0)])


# --------------------------------------------------------------------------- max unpooling

def gen_unpool_config(rng, n):
    kmax, smax = {1: (4, 8), 2: (3, 5), 3: (2, 3)}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    stride = tuple(int(rng.integers(1, 4)) for _ in range(n))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    spatial = tuple(max(1, k - 2 * p) + int(rng.integers(0, smax)) for k, p in zip(kernel, padding))
    return dict(n=n, kernel=maybe_scalar(rng, kernel), stride=maybe_scalar(rng, stride),
                stride_none=bool(rng.random() < 0.2), padding=maybe_scalar(rng, padding), spatial=spatial,
                batch=[None, 1, 2][int(rng.integers(0, 3))], channels=int(rng.integers(1, 4)),
                dtype=str(rng.choice(["float32", "float64"])), data=str(rng.choice(["normal", "ties", "nan"])),
                size_form=str(rng.choice(["spatial", "full", "default", "random"])))


def unpool_default(spatial_in, kernel, stride, padding):
    return tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(spatial_in, kernel, stride, padding))


def check_unpool(cfg, seed=0):
    n = cfg["n"]
    rng = np.random.default_rng(seed)
    kernel, padding = per_dim(cfg["kernel"], n), per_dim(cfg["padding"], n)
    stride_arg = None if cfg["stride_none"] else cfg["stride"]
    stride = kernel if stride_arg is None else per_dim(stride_arg, n)
    x = make_input(rng, lead_shape(cfg) + cfg["spatial"], cfg["dtype"], cfg["data"])
    pool = getattr(F, f"max_pool{n}d")
    v_t, i_t = pool(T(x), cfg["kernel"], stride_arg, cfg["padding"], return_indices=True)
    v, idx = v_t.numpy(), i_t.numpy()
    default = unpool_default(v.shape[-n:], kernel, stride, padding)
    form = cfg["size_form"]
    if form == "default" and int(idx.max(initial=-1)) >= int(np.prod(default)):
        form = "spatial"  # the input plane is larger than the default output: indices would not fit
    if form == "default":
        output_size = None
    elif form == "spatial":
        output_size = cfg["spatial"]
    elif form == "full":
        output_size = tuple(x.shape) if cfg["batch"] is not None else (1,) + tuple(x.shape)
    else:  # any size in the open range (default - s, default + s) that the indices fit into
        choices = [tuple(int(rng.integers(max(1, d - s + 1), d + s)) for d, s in zip(default, stride))
                   for _ in range(20)]
        fits = [c for c in choices if int(idx.max(initial=-1)) < int(np.prod(c))]
        output_size = fits[0] if fits else cfg["spatial"]
    cfg = dict(cfg, output_size=output_size, seed=seed)
    if cfg["stride_none"]:
        cfg["stride"] = None
    fn, tfn = ours(f"max_unpool{n}d"), getattr(F, f"max_unpool{n}d")
    v_before, i_before = v.copy(), idx.copy()
    got = fn(v, idx, cfg["kernel"], stride_arg, cfg["padding"], output_size)
    np.testing.assert_array_equal(v, v_before, err_msg=f"values modified; config={cfg}")
    np.testing.assert_array_equal(idx, i_before, err_msg=f"indices modified; config={cfg}")
    ref = tfn(v_t, i_t, cfg["kernel"], stride_arg, cfg["padding"], output_size)
    assert_matches(got, ref, cfg["dtype"], cfg, "unpool", exact=True)
    # keyword form, and the full round trip through our own max_pool
    ov, oi = ours(f"max_pool{n}d")(x, cfg["kernel"], stride_arg, cfg["padding"], return_indices=True)
    got2 = fn(ov, oi, kernel_size=cfg["kernel"], stride=stride_arg, padding=cfg["padding"], output_size=output_size)
    assert_matches(got2, ref, cfg["dtype"], cfg, "unpool of convscope's own max_pool", exact=True)


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_random(n, seed):
    rng = np.random.default_rng(500 + seed)
    cfg = gen_unpool_config(rng, n)
    check_unpool(cfg, seed=500 + seed)


def _ucfg(n, **kw):
    base = dict(n=n, kernel=2, stride=2, stride_none=False, padding=0, spatial=(6, 4, 4)[:n], batch=2, channels=2,
                dtype="float64", data="normal", size_form="default")
    base.update(kw)
    return base


EXPLICIT_UNPOOL = [
    _ucfg(1), _ucfg(2), _ucfg(3), _ucfg(2, stride_none=True), _ucfg(2, batch=None),
    _ucfg(2, spatial=(5, 7), size_form="spatial"), _ucfg(2, spatial=(5, 7), size_form="full"),
    _ucfg(2, spatial=(5, 7), size_form="full", batch=None),
    _ucfg(3, spatial=(3, 5, 4), size_form="full"), _ucfg(1, spatial=(7,), size_form="full"),
    _ucfg(2, kernel=3, stride=2, padding=1, spatial=(7, 6), size_form="spatial"),
    _ucfg(2, kernel=3, stride=1, padding=1, spatial=(5, 5), data="ties"),  # overlapping windows
    _ucfg(2, kernel=(3, 2), stride=(3, 2), spatial=(8, 5), size_form="random"),
    _ucfg(1, kernel=4, stride=3, padding=2, spatial=(9,), size_form="random", dtype="float32"),
]


@pytest.mark.parametrize("cfg", EXPLICIT_UNPOOL,
                         ids=lambda c: f"unpool{c['n']}d-k{c['kernel']}-s{c['stride']}-{c['spatial']}-{c['size_form']}")
def test_max_unpool_explicit(cfg):
    check_unpool(cfg, seed=19)


def test_max_unpool_flat_indices_into_a_differently_shaped_plane():
    """Indices are flat offsets into the output plane: unpooling into a plane of another width
    places the values by flat offset, exactly as torch does.  For a (2, 2) input with k=3, s=2
    the default output is (5, 5) and the allowed sizes are 4..6 per dim."""
    vals = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    idx = np.array([[[[0, 2], [5, 11]]]], dtype=np.int64)
    for out in [(4, 4), (4, 6), (6, 5), (5, 5), None]:
        got = ours("max_unpool2d")(vals, idx, 3, 2, 0, out)
        ref = F.max_unpool2d(T(vals), T(idx), 3, 2, 0, out)
        assert_matches(got, ref, np.float64, f"output_size={out}", exact=True)


@pytest.mark.parametrize("threads", [False, True])
@pytest.mark.parametrize("budget", [1, 7, 40])
def test_max_unpool_in_chunks_of_planes(monkeypatch, budget, threads):
    """The global indices are computed a bounded number at a time (whole planes, at least one),
    and large outputs are split over threads by planes (forced here for a small one)."""
    from convscope.ops import pool as cpool
    from convscope.ops import threads as cthreads
    monkeypatch.setattr(cpool, "UNPOOL_CHUNK_INDICES", budget)
    if threads:
        monkeypatch.setattr(cpool, "UNPOOL_PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(cthreads, "_another_thread_running", lambda: False)
    rng = np.random.default_rng(budget)
    x = rng.standard_normal((3, 5, 8, 6))
    v, i = F.max_pool2d(T(x), 2, return_indices=True)
    # repeated indices within a plane: the last write wins, in each thread's planes too
    i[:, :, 0, 1] = i[:, :, 0, 0]
    got = ours("max_unpool2d")(v.numpy(), i.numpy(), 2)
    assert_matches(got, F.max_unpool2d(v, i, 2), np.float64, f"budget={budget}", exact=True)


@pytest.mark.parametrize("bad", [-1, 16, 10**12])
@pytest.mark.parametrize("threads", [False, True])
def test_max_unpool_bad_index_in_a_later_piece(monkeypatch, bad, threads):
    """An index out of range in the last plane is refused, whether the work was split or not (the
    caller checks every index while the worker may already scatter), and every output is zeroed
    first (a fresh array, NaN-filled here to show it)."""
    from convscope.ops import pool as cpool
    from convscope.ops import threads as cthreads
    monkeypatch.setattr(cpool, "UNPOOL_CHUNK_INDICES", 8)
    if threads:
        monkeypatch.setattr(cpool, "UNPOOL_PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(cthreads, "_another_thread_running", lambda: False)
    x = np.random.default_rng(2).standard_normal((4, 6, 4, 4))
    v, i = F.max_pool2d(T(x), 2, return_indices=True)
    v, i = v.numpy(), i.numpy().copy()
    monkeypatch.setattr(np, "empty", lambda *a, **k: np.full(*a, np.nan, **k))
    got = ours("max_unpool2d")(v, i, 2)
    assert not np.isnan(got).any() and (got == 0).sum() == got.size - v.size
    i[-1, -1, -1, -1] = bad
    with pytest.raises(ValueError, match=f"invalid max index {bad}"):
        ours("max_unpool2d")(v, i, 2)


def test_max_unpool_duplicate_indices_last_write_wins():
    """With repeated indices torch's CPU kernel writes in input order (the last one stays)."""
    vals = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    idx = np.array([[[1, 1, 5, 5]]], dtype=np.int64)
    got = ours("max_unpool1d")(vals, idx, 2)
    ref = F.max_unpool1d(T(vals), T(idx), 2)
    assert_matches(got, ref, np.float64, "duplicate indices", exact=True)


# --------------------------------------------------------------------------- modules

def _mod(name, *args, **kwargs):
    import convscope.nn as cnn
    return getattr(cnn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


MODULE_CASES = [
    ("MaxPool1d", (3,), {}),
    ("MaxPool1d", (4,), dict(stride=1, padding=2, dilation=2, ceil_mode=True)),
    ("MaxPool2d", (3, 2, 1, 2, True, True), {}),
    ("MaxPool2d", ((2, 3),), dict(stride=(1, 2), padding=(1, 0))),
    ("MaxPool3d", ((1, 2, 3),), {}),
    ("MaxPool3d", (2,), dict(stride=1, padding=1, return_indices=True)),
    ("AvgPool1d", (3,), {}),
    ("AvgPool1d", (3, 2, 1, True, False), {}),
    ("AvgPool2d", (3, 2, 1, True, False, 4), {}),
    ("AvgPool2d", ((2, 3),), dict(padding=(1, 1), count_include_pad=False)),
    ("AvgPool3d", ((1, 2, 3),), dict(divisor_override=2)),
    ("AvgPool3d", (2,), dict(stride=1, ceil_mode=True)),
    ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}),
    ("AdaptiveMaxPool1d", (3, True), {}),
    ("AdaptiveMaxPool2d", ((4, None),), {}),
    ("AdaptiveMaxPool3d", (2,), dict(return_indices=True)),
    ("LPPool1d", (2, 3), {}),
    ("LPPool1d", (1.5, 2, 1, True), {}),
    ("LPPool2d", (2, 3), {}),
    ("LPPool2d", (float("inf"), (2, 3)), dict(stride=(1, 2))),
    ("LPPool3d", (2, (1, 2, 2)), {}),
    ("LPPool3d", (3, 2), dict(stride=1, ceil_mode=True)),
]


@pytest.mark.parametrize("name,args,kwargs", MODULE_CASES, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_pool_module_repr_and_forward(name, args, kwargs):
    mine, theirs = _mod(name, *args, **kwargs)
    assert repr(mine) == repr(theirs)
    n = int(name[-2])
    rng = np.random.default_rng(23)
    for dtype in (np.float64, np.float32):
        for lead in ((2, 3), (3,)):
            x = make_input(rng, lead + (7, 6, 5)[:n], dtype, "ties")
            if name.startswith("LP"):
                x = np.abs(x) + np.asarray(0.5, dtype=dtype)
            got = mine(x)
            ref = theirs(T(x))
            cfg = f"{name}{args}{kwargs} x{x.shape} {np.dtype(dtype)}"
            if isinstance(ref, tuple):
                assert isinstance(got, tuple) and len(got) == 2, cfg
                assert_matches(got[0], ref[0], dtype, cfg, exact=True)
                assert_indices(got[1], ref[1], cfg)
            else:
                assert_matches(got, ref, dtype, cfg, exact=name.startswith(("Max", "AdaptiveMax")))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_module_repr_and_round_trip(n):
    import convscope.nn as cnn
    for args, kwargs in [((2,), {}), ((3, 2, 1), {}), (((2, 1, 3)[:n],), dict(stride=(1, 2, 2)[:n]))]:
        mine, theirs = getattr(cnn, f"MaxUnpool{n}d")(*args, **kwargs), getattr(torch.nn, f"MaxUnpool{n}d")(*args,
                                                                                                               **kwargs)
        assert repr(mine) == repr(theirs)
        pool_m = getattr(cnn, f"MaxPool{n}d")(*args, **kwargs, return_indices=True)
        pool_t = getattr(torch.nn, f"MaxPool{n}d")(*args, **kwargs, return_indices=True)
        x = make_input(np.random.default_rng(29), (2, 3) + (7, 6, 5)[:n], np.float64, "normal")
        v, i = pool_m(x)
        vt, it = pool_t(T(x))
        size = x.shape[-n:]
        assert_matches(mine(v, i, output_size=size), theirs(vt, it, output_size=size), np.float64,
                       f"MaxUnpool{n}d{args}{kwargs}", exact=True)
        assert_matches(mine(v, i, size), theirs(vt, it, size), np.float64, f"MaxUnpool{n}d{args} positional",
                       exact=True)


def test_max_pool3d_all_minus_inf_window_index_on_channels_last_input():
    """torch 2.13's channels-last max_pool3d kernel drops the depth term from the index of the
    channels left over after its SIMD vectors when no element of the window beats -inf (an
    audit: 729 of 24,040 channels-last cases): here it reports index 0 for the element at depth 1.
    convscope reports the window's first element, as torch's own kernel does for a contiguous
    input (and for channels-last windows with a finite maximum)."""
    base = np.full((1, 2, 2, 1, 1), -np.inf, np.float32)
    x = np.ascontiguousarray(base.transpose(0, 2, 3, 4, 1)).transpose(0, 4, 1, 2, 3)  # channels-last-3d
    expected = np.array([0, 1], dtype=np.int64).reshape(1, 1, 2, 1, 1).repeat(2, axis=1)
    got = CF.max_pool3d(x, 1, return_indices=True)[1]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(F.max_pool3d(torch.from_numpy(base), 1, return_indices=True)[1].numpy(), expected)
    theirs = F.max_pool3d(torch.from_numpy(x), 1, return_indices=True)[1].numpy()
    assert not np.array_equal(theirs, expected), "torch's channels-last index is now right: drop this case"
