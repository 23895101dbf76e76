"""Differential tests: ``convscope.functional.interpolate`` / ``pixel_shuffle`` / ``pixel_unshuffle``
and the ``Upsample*`` / ``PixelShuffle`` modules against torch.

Every generated case comes from ``numpy.random.default_rng(seed)`` with the seed in the test id,
and every assertion message carries the full configuration.

torch facts the tests rely on (checked against torch 2.13 itself):

* ``interpolate`` always reads its input as ``(N, C, *spatial)``: a 3-D input is a batched 1-D
  signal, and there is no unbatched form (a 3-D input with ``bilinear`` is an error).
* Nearest modes compute the source index in reduced precision, and which rounding depends on the
  kernel torch picks: in 2-d its channels-last kernel (a channels-last input with more than 3
  channels, or an output with H + W <= 128) computes in float32 whatever the dtype and copies an
  unchanged size (halves the index of a doubled one) whatever the scale factor says; the generic
  kernel computes in the input's precision and rounds to float32 before ``floor``.  So e.g.
  ``7 -> 13``-style size pairs below pick a different source than exact arithmetic.
  Values of nearest modes are copies, so they are compared exactly: any index difference fails.
* Antialiased bicubic uses A = -0.5 (PIL's), plain bicubic A = -0.75.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convscope.functional as CF
from oracle_arrays import to_np

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning")]

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
N_SEEDS = 10
MODE_DIMS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "area": (1, 2, 3), "linear": (1,),
             "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}
LINEAR_MODES = ("linear", "bilinear", "bicubic", "trilinear")
SCALES = (2, 3, 2.0, 0.5, 1.7, 0.6, 2.5, 1 / 3, 1.3, 0.75, 1.0, 0.9, 1 / 7, 3.3)


def ours(name):
    return getattr(CF, name)


def T(a):
    return None if a is None else torch.from_numpy(np.array(a, order="C", copy=True))


def assert_matches(got, ref, dtype, cfg, what="", exact=False):
    dtype = np.dtype(dtype)
    ref = to_np(ref)
    msg = f"{what} config={cfg}"
    assert isinstance(got, np.ndarray), f"result is {type(got)}; {msg}"
    assert got.dtype == dtype, f"result dtype {got.dtype} != input dtype {dtype}; {msg}"
    assert got.shape == ref.shape, f"shape {got.shape} != torch {ref.shape}; {msg}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"NaN mask differs; {msg}")
    if exact:
        np.testing.assert_array_equal(got, ref, err_msg=f"values differ (exact); {msg}")
        return
    tol = TOL[dtype]
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.abs(ref[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale, equal_nan=True, err_msg=msg)


def make_input(rng, shape, dtype, layout="c"):
    shape = tuple(int(s) for s in shape)
    if layout == "reversed":
        return np.ascontiguousarray(rng.standard_normal(shape).astype(dtype)[..., ::-1])[..., ::-1]
    if layout == "strided":
        big = rng.standard_normal(shape[:-1] + (2 * shape[-1],)).astype(dtype)
        return big[..., ::2]
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- interpolate

def gen_interp_config(rng, mode, seed):
    n = MODE_DIMS[mode][int(rng.integers(0, len(MODE_DIMS[mode])))]
    smax = {1: 10, 2: 7, 3: 4}[n]
    spatial = tuple(int(rng.integers(1, smax + 1)) for _ in range(n))
    cfg = dict(mode=mode, n=n, spatial=spatial, batch=int(rng.integers(1, 3)), channels=int(rng.integers(1, 4)),
               dtype=str(rng.choice(["float32", "float64"])), layout=str(rng.choice(["c", "c", "strided", "reversed"])),
               size=None, scale_factor=None, recompute_scale_factor=None, align_corners=None, antialias=False,
               seed=seed)
    if rng.random() < 0.5:
        sizes = tuple(int(rng.integers(1, 2 * s + 4)) for s in spatial)
        if rng.random() < 0.2:
            sizes = tuple(1 for _ in spatial)  # output size 1
        cfg["size"] = sizes[0] if (len(set(sizes)) == 1 and rng.random() < 0.5) else sizes
    else:
        for _ in range(100):
            factors = tuple(SCALES[int(rng.integers(0, len(SCALES)))] for _ in spatial)
            if all(math.floor(s * f) >= 1 for s, f in zip(spatial, factors)):
                break
        else:  # pragma: no cover
            factors = (2,) * n
        cfg["scale_factor"] = factors[0] if (len(set(factors)) == 1 and rng.random() < 0.5) else factors
        cfg["recompute_scale_factor"] = [None, True, False][int(rng.integers(0, 3))]
    if mode in LINEAR_MODES:
        cfg["align_corners"] = [None, True, False][int(rng.integers(0, 3))]
    if mode in ("bilinear", "bicubic"):
        cfg["antialias"] = bool(rng.random() < 0.35)
        # torch 2.13 bug: antialiased resizing to output width 1 (with output height > 1) repeats
        # the first row; see test_antialias_output_width_1_is_separable instead
        if cfg["antialias"] and out_sizes(cfg)[-1] == 1 and out_sizes(cfg)[0] > 1:
            cfg["antialias"] = False
    return cfg


def out_sizes(cfg):
    if cfg["size"] is not None:
        return tuple(cfg["size"]) if isinstance(cfg["size"], (tuple, list)) else (cfg["size"],) * cfg["n"]
    sf = cfg["scale_factor"]
    sf = tuple(sf) if isinstance(sf, (tuple, list)) else (sf,) * cfg["n"]
    return tuple(math.floor(s * f) for s, f in zip(cfg["spatial"], sf))


def interp_kwargs(cfg):
    return dict(size=cfg["size"], scale_factor=cfg["scale_factor"], mode=cfg["mode"],
                align_corners=cfg["align_corners"], recompute_scale_factor=cfg["recompute_scale_factor"],
                antialias=cfg["antialias"])


def check_interp(cfg, x=None):
    if x is None:
        x = make_input(np.random.default_rng(cfg["seed"]), (cfg["batch"], cfg["channels"]) + cfg["spatial"],
                       cfg["dtype"], cfg["layout"])
    before = x.copy()
    kw = interp_kwargs(cfg)
    got = ours("interpolate")(x, **kw)
    np.testing.assert_array_equal(x, before, err_msg=f"input modified; config={cfg}")
    ref = F.interpolate(T(x), **kw)
    assert_matches(got, ref, x.dtype, cfg, exact=cfg["mode"] in ("nearest", "nearest-exact"))
    return got


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("mode", list(MODE_DIMS))
def test_interpolate_random(mode, seed):
    rng = np.random.default_rng([seed, list(MODE_DIMS).index(mode)])
    check_interp(gen_interp_config(rng, mode, seed))


def _icfg(mode, spatial, **kw):
    base = dict(mode=mode, n=len(spatial), spatial=tuple(spatial), batch=2, channels=2, dtype="float64", layout="c",
                size=None, scale_factor=None, recompute_scale_factor=None,
                align_corners=None, antialias=False, seed=3)
    base.update(kw)
    return base


EXPLICIT_INTERP = []
# every linear mode, both align_corners settings, up/down/identity/size 1, size= and scale_factor=
for _mode, _sp in (("linear", (7,)), ("bilinear", (5, 7)), ("bicubic", (5, 7)), ("trilinear", (3, 4, 5))):
    _n = len(_sp)
    for _ac in (True, False):
        EXPLICIT_INTERP += [
            _icfg(_mode, _sp, align_corners=_ac, size=tuple(2 * s + 1 for s in _sp)),            # up, odd
            _icfg(_mode, _sp, align_corners=_ac, size=tuple(max(1, s // 2) for s in _sp)),       # down
            _icfg(_mode, _sp, align_corners=_ac, size=1),                                        # output 1
            _icfg(_mode, _sp, align_corners=_ac, size=_sp),                                      # identity
            _icfg(_mode, _sp, align_corners=_ac, scale_factor=1.7),
            _icfg(_mode, _sp, align_corners=_ac, scale_factor=0.6, dtype="float32"),
            _icfg(_mode, _sp, align_corners=_ac, scale_factor=(2.5, 0.75, 1.3)[:_n]),
            _icfg(_mode, _sp, align_corners=_ac, scale_factor=1.7, recompute_scale_factor=True),
            _icfg(_mode, _sp, align_corners=_ac, scale_factor=1 / 3 if _n == 1 else (1 / 3, 2)[:_n] + (0.5,) * (_n - 2),
                  recompute_scale_factor=False),
            _icfg(_mode, tuple(1 for _ in _sp), align_corners=_ac, size=tuple(3 + i for i in range(_n))),  # from 1
        ]
# nearest / nearest-exact / area in 1, 2 and 3 dims
for _mode in ("nearest", "nearest-exact", "area"):
    for _sp in ((7,), (5, 7), (3, 4, 5)):
        _n = len(_sp)
        EXPLICIT_INTERP += [
            _icfg(_mode, _sp, size=tuple(2 * s + 1 for s in _sp)),
            _icfg(_mode, _sp, size=tuple(max(1, s // 2) for s in _sp), dtype="float32"),
            _icfg(_mode, _sp, size=tuple(s + 2 for s in _sp)),   # non-integer ratio up
            _icfg(_mode, _sp, size=tuple(max(1, s - 2) for s in _sp)),  # non-integer ratio down
            _icfg(_mode, _sp, size=1),
            _icfg(_mode, _sp, scale_factor=1.7),
            _icfg(_mode, _sp, scale_factor=0.6, recompute_scale_factor=True),
            _icfg(_mode, _sp, scale_factor=(2.5, 1 / 3, 1.3)[:_n] if _n > 1 else 2.5, dtype="float32"),
            _icfg(_mode, _sp, scale_factor=2, recompute_scale_factor=False),
        ]
# antialias: bilinear and bicubic, down- and upsampling, both align_corners settings
for _mode in ("bilinear", "bicubic"):
    for _ac in (None, True, False):
        EXPLICIT_INTERP += [
            _icfg(_mode, (9, 11), size=(4, 3), antialias=True, align_corners=_ac),
            _icfg(_mode, (9, 11), scale_factor=0.6, antialias=True, align_corners=_ac, dtype="float32"),
            _icfg(_mode, (9, 11), scale_factor=(1 / 3, 0.75), antialias=True, align_corners=_ac),
            _icfg(_mode, (5, 4), size=(11, 9), antialias=True, align_corners=_ac),      # upsampling
            _icfg(_mode, (5, 4), scale_factor=1.7, antialias=True, align_corners=_ac, dtype="float32"),
            _icfg(_mode, (9, 4), size=(3, 10), antialias=True, align_corners=_ac),      # mixed
            _icfg(_mode, (9, 11), size=1, antialias=True, align_corners=_ac),
            _icfg(_mode, (12, 12), scale_factor=0.25, antialias=True, align_corners=_ac, recompute_scale_factor=True),
        ]
# batch 1 / many channels / non-contiguous
EXPLICIT_INTERP += [
    _icfg("bilinear", (6, 5), batch=1, channels=5, size=(9, 4), layout="strided", align_corners=False),
    _icfg("bicubic", (6, 5), batch=3, channels=1, scale_factor=2, layout="reversed", dtype="float32"),
    _icfg("trilinear", (2, 3, 4), batch=1, channels=1, size=(5, 1, 7), layout="strided"),
    _icfg("nearest", (6, 5), batch=1, channels=4, scale_factor=(1.5, 0.5), layout="reversed"),
    _icfg("area", (7, 5), batch=1, channels=3, size=(3, 2), layout="strided", dtype="float32"),
    _icfg("nearest", (3,), batch=0, size=5),
]


def _icfg_id(c):
    spec = f"size{c['size']}" if c["size"] is not None else f"sf{c['scale_factor']}-rsf{c['recompute_scale_factor']}"
    return (f"{c['mode']}-{c['spatial']}-{spec}-ac{c['align_corners']}-aa{int(c['antialias'])}-{c['dtype']}-"
            f"b{c['batch']}-{c['layout']}")


@pytest.mark.parametrize("cfg", EXPLICIT_INTERP, ids=_icfg_id)
def test_interpolate_explicit(cfg):
    check_interp(cfg)


# Size pairs / scale factors where float32 and float64 index arithmetic pick different source
# indices (found by brute force against torch); torch's own rule must be reproduced exactly.
NEAREST_ROUNDING = [
    ("nearest", "float32", (6,), dict(size=74)), ("nearest", "float32", (14,), dict(size=46)),
    ("nearest", "float32", (26,), dict(size=22)), ("nearest", "float32", (12,), dict(size=74)),
    ("nearest", "float64", (18,), dict(size=66)), ("nearest", "float64", (21,), dict(size=77)),
    ("nearest", "float64", (26,), dict(size=46)), ("nearest", "float64", (30,), dict(size=22)),
    ("nearest", "float64", (6,), dict(size=74)), ("nearest", "float64", (14,), dict(size=46)),
    # torch's generic kernel rounds at fmaf(scale, dst + 0.5, -0.5) and again at + 0.5: source 1 for
    # output 20 of 2 -> 41, where floorf((20 + 0.5) * (2.0f / 41)) = floor(0.99999994) would give 0
    ("nearest-exact", "float32", (2,), dict(size=41)),
    ("nearest-exact", "float32", (2,), dict(size=49)),
    ("nearest-exact", "float32", (4,), dict(size=41)), ("nearest-exact", "float32", (6,), dict(size=37)),
    ("nearest-exact", "float64", (2,), dict(size=41)), ("nearest-exact", "float64", (2,), dict(size=49)),
    ("nearest-exact", "float64", (18,), dict(size=33)), ("nearest-exact", "float64", (10,), dict(size=77)),
    ("nearest", "float32", (31,), dict(scale_factor=1.3)), ("nearest", "float64", (40,), dict(scale_factor=1.3)),
    ("nearest-exact", "float32", (16,), dict(scale_factor=1.3)),
    ("nearest-exact", "float64", (23,), dict(scale_factor=1.3)),
    ("nearest", "float32", (7,), dict(size=13)), ("nearest-exact", "float64", (7,), dict(size=13)),
    ("nearest", "float64", (9,), dict(scale_factor=1 / 3)), ("nearest-exact", "float32", (9,), dict(scale_factor=1 / 3)),
    ("nearest", "float32", (31,), dict(scale_factor=1.3, recompute_scale_factor=True)),
    # the same pairs along 2 and 3 dims at once
    ("nearest", "float32", (6, 26), dict(size=(74, 22))), ("nearest", "float64", (26, 18), dict(size=(46, 66))),
    ("nearest-exact", "float32", (2, 4), dict(size=(49, 41))),
    ("nearest-exact", "float64", (18, 2), dict(size=(33, 41))),
    ("nearest", "float32", (14, 2, 6), dict(size=(46, 3, 74))),
    ("nearest-exact", "float64", (2, 3, 18), dict(size=(41, 2, 33))),
    ("nearest", "float64", (31, 16), dict(scale_factor=(1.3, 1.3))),
    ("nearest-exact", "float32", (16, 31), dict(scale_factor=1.3)),
]


@pytest.mark.parametrize("mode,dtype,spatial,kw", NEAREST_ROUNDING,
                         ids=[f"{m}-{d}-{s}-{k}" for m, d, s, k in
                              (p.values if hasattr(p, "values") else p for p in NEAREST_ROUNDING)])
def test_nearest_index_rounding_matches_torch(mode, dtype, spatial, kw):
    """Input values are their own flat positions, so the output *is* the chosen source index."""
    x = np.arange(int(np.prod(spatial)), dtype=dtype).reshape((1, 1) + tuple(spatial))
    cfg = _icfg(mode, spatial, dtype=dtype, batch=1, channels=1, **kw)
    check_interp(cfg, x=x)


# A scale factor whose output size equals the input size (or twice it): torch's nearest kernels
# special-case some of these (2-d 'nearest' copies / shifts the index) but not others (1-d and
# 3-d 'nearest', 'nearest-exact', and the linear modes use 1/scale_factor); antialiased modes skip
# a dimension whose size does not change.
SAME_SIZE = [
    (mode, spatial, sf, rsf)
    for mode in ("nearest", "nearest-exact")
    for spatial, sf in (((3,), 1.3), ((3, 3), 1.3), ((1, 3), (1.0, 1.3)), ((3, 2, 3), (1.0, 1.2, 1.3)),
                        ((3,), 2.2), ((3, 4), 2.2), ((3, 2, 3), 2.2), ((4,), 1.1), ((4, 4), (1.1, 0.9)))
    for rsf in (None, True)
] + [
    (mode, spatial, sf, rsf)
    for mode, spatial in (("linear", (3,)), ("bilinear", (3, 4)), ("bicubic", (3, 4)), ("trilinear", (3, 2, 3)))
    for sf in (1.3, 2.2, 1.1)
    for rsf in (None, True)
]


@pytest.mark.parametrize("mode,spatial,sf,rsf", SAME_SIZE, ids=[f"{m}-{s}-sf{f}-rsf{r}" for m, s, f, r in SAME_SIZE])
def test_scale_factor_with_unchanged_size(mode, spatial, sf, rsf):
    x = np.arange(2 * int(np.prod(spatial)), dtype=np.float64).reshape((1, 2) + spatial)
    check_interp(_icfg(mode, spatial, batch=1, channels=2, scale_factor=sf, recompute_scale_factor=rsf), x=x)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("spatial,sf", [((2, 3), (1.3, 3.3)), ((2, 3), (1.3, 1.0)), ((4, 4), 1.1), ((4, 5), (0.9, 1.1)),
                                        ((5, 4), (1.0, 0.6)), ((6, 6), (1.1, 0.5))])
@pytest.mark.parametrize("ac", [None, True])
def test_antialias_scale_factor_with_unchanged_size(mode, spatial, sf, ac):
    x = np.arange(2 * int(np.prod(spatial)), dtype=np.float64).reshape((1, 2) + spatial)
    check_interp(_icfg(mode, spatial, batch=1, channels=2, scale_factor=sf, antialias=True, align_corners=ac), x=x)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("spatial,size", [((5, 3), (16, 1)), ((5, 3), (4, 1)), ((6, 4), (3, 1)), ((7, 2), (3, 1))])
def test_antialias_output_width_1_is_separable(mode, spatial, size):
    """torch 2.13's antialiased kernel is wrong when the output width is 1 and the height is
    not: every output row equals the first one (e.g. (5, 3) -> (4, 1) bilinear on an arange gives
    [1.75, 1.75, 1.75, 1.75]).  The filter is separable, so the reference is torch's own height
    pass followed by its width pass, each of which is unaffected."""
    x = np.random.default_rng(53).standard_normal((2, 3) + spatial)
    got = ours("interpolate")(x, size=size, mode=mode, antialias=True)
    ref = F.interpolate(F.interpolate(T(x), size=(size[0], spatial[1]), mode=mode, antialias=True),
                        size=size, mode=mode, antialias=True)
    assert_matches(got, ref, np.float64, f"{mode} {spatial}->{size} antialias (separable reference)")


@pytest.mark.parametrize("shape,scale", [((2, 3, 5), 2), ((2, 3, 5), 4), ((2, 3, 4, 5), (2, 2)),
                                         ((2, 3, 4, 5), (3, 2)), ((2, 3, 4, 5), (1, 2)), ((2, 3, 4, 5), (2, 6)),
                                         ((1, 2, 3, 4, 5), (2, 3, 4)), ((2, 3, 4, 5), (2, 3))])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_nearest_integer_upscale_is_bit_exact(shape, scale, layout):
    """Integer nearest upscales copy bits (float32 even ratios as uint64 pairs): NaN payloads,
    -0.0 and infinities come through unchanged, from contiguous and strided inputs."""
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    if layout == "transposed":
        x = np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    bits = x.view(np.uint32)
    bits.flat[0], bits.flat[1] = 0x7FC12345, 0x80000000          # a NaN with a payload, -0.0
    x.flat[2], x.flat[3] = np.inf, -np.inf
    got = CF.interpolate(x, scale_factor=scale, mode="nearest")
    ref = F.interpolate(torch.from_numpy(x), scale_factor=scale, mode="nearest").numpy()
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got.view(np.uint32), ref.view(np.uint32))


def test_interpolate_accepts_list_size_and_int_scale():
    x = np.random.default_rng(5).standard_normal((1, 2, 4, 5))
    for kw in (dict(size=[3, 7]), dict(scale_factor=[2, 3]), dict(scale_factor=2), dict(size=(6, 6), mode="bilinear")):
        assert_matches(ours("interpolate")(x, **kw), F.interpolate(T(x), **kw), np.float64, kw)


# --------------------------------------------------------------------------- pixel shuffle

PIXEL_SHAPES = [((8, 2, 3), 2), ((1, 4, 3, 3), 2), ((2, 18, 2, 1), 3), ((2, 3, 8, 2, 2), 2), ((2, 1, 2, 9, 3, 2), 3),
                ((3, 5, 4), 1), ((1, 12, 2, 3), 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,r", PIXEL_SHAPES, ids=[f"{s}-r{r}" for s, r in PIXEL_SHAPES])
def test_pixel_shuffle_and_unshuffle_vs_torch(shape, r, dtype):
    rng = np.random.default_rng(31)
    x = rng.standard_normal(shape).astype(dtype)
    got = ours("pixel_shuffle")(x, r)
    ref = F.pixel_shuffle(T(x), r)
    assert_matches(got, ref, dtype, f"pixel_shuffle {shape} r={r}", exact=True)
    back = ours("pixel_unshuffle")(got, r)
    assert_matches(back, F.pixel_unshuffle(ref, r), dtype, f"pixel_unshuffle {tuple(ref.shape)} r={r}", exact=True)
    np.testing.assert_array_equal(back, x, err_msg=f"round trip shuffle->unshuffle {shape} r={r}")
    # unshuffle first, on an input with H, W divisible by r
    y = rng.standard_normal(shape[:-3] + (shape[-3], 2 * r, 3 * r)).astype(dtype)
    down = ours("pixel_unshuffle")(y, downscale_factor=r)
    assert_matches(down, F.pixel_unshuffle(T(y), r), dtype, f"pixel_unshuffle {y.shape} r={r}", exact=True)
    np.testing.assert_array_equal(ours("pixel_shuffle")(down, upscale_factor=r), y,
                                  err_msg=f"round trip unshuffle->shuffle {y.shape} r={r}")


def test_pixel_shuffle_empty_input():
    """Empty inputs keep the rearranged shape.  (torch 2.13's pixel_unshuffle returns an empty
    input unchanged, e.g. (0, 1, 4, 4) -> (0, 1, 4, 4) instead of (0, 4, 2, 2); its pixel_shuffle
    gets the shape right.)"""
    x = np.zeros((0, 4, 2, 2))
    assert_matches(ours("pixel_shuffle")(x, 2), F.pixel_shuffle(T(x), 2), np.float64, "empty shuffle", exact=True)
    y = np.zeros((2, 8, 0, 2), dtype=np.float32)
    assert_matches(ours("pixel_shuffle")(y, 2), F.pixel_shuffle(T(y), 2), np.float32, "empty shuffle", exact=True)
    got = ours("pixel_unshuffle")(np.zeros((0, 1, 4, 4)), 2)
    assert got.shape == (0, 4, 2, 2) and got.dtype == np.float64, got.shape
    got = ours("pixel_unshuffle")(np.zeros((2, 1, 0, 4), dtype=np.float32), 2)
    assert got.shape == (2, 4, 0, 2) and got.dtype == np.float32, got.shape


def test_pixel_shuffle_non_contiguous_input():
    x = np.random.default_rng(37).standard_normal((2, 8, 3, 6))[..., ::2]
    assert_matches(ours("pixel_shuffle")(x, 2), F.pixel_shuffle(T(x), 2), np.float64, "strided", exact=True)
    y = np.random.default_rng(38).standard_normal((2, 3, 4, 6))[..., ::-1]
    assert_matches(ours("pixel_unshuffle")(y, 2), F.pixel_unshuffle(T(y), 2), np.float64, "reversed", exact=True)


# --------------------------------------------------------------------------- modules

def _nn():
    import convscope.nn as cnn
    return cnn


UPSAMPLE_CASES = [
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(scale_factor=2.5, mode="bilinear")),
    ("Upsample", dict(size=(3, 4), mode="bicubic", align_corners=True)),
    ("Upsample", dict(scale_factor=(2, 3))),
    ("Upsample", dict(size=5, mode="nearest-exact")),
    ("Upsample", dict(scale_factor=0.6, mode="area")),
    ("Upsample", dict(scale_factor=1.7, mode="bilinear", align_corners=False, recompute_scale_factor=True)),
    ("Upsample", dict(scale_factor=1.3, mode="linear", recompute_scale_factor=False)),
    ("Upsample", dict(size=(2, 3, 4), mode="trilinear", align_corners=True)),
    ("Upsample", dict(size=(2, 9))),
    ("UpsamplingNearest2d", dict(scale_factor=2)),
    ("UpsamplingNearest2d", dict(size=(3, 7))),
    ("UpsamplingNearest2d", dict(scale_factor=1.3)),
    ("UpsamplingBilinear2d", dict(size=(3, 4))),
    ("UpsamplingBilinear2d", dict(scale_factor=2)),
    ("UpsamplingBilinear2d", dict(scale_factor=0.6)),
]


def _module_input(name, kwargs, rng, dtype):
    mode = kwargs.get("mode", "bilinear" if name == "UpsamplingBilinear2d" else "nearest")
    size, sf = kwargs.get("size"), kwargs.get("scale_factor")
    n = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode)
    if n is None:
        n = len(size) if isinstance(size, tuple) else len(sf) if isinstance(sf, tuple) else 2
    return rng.standard_normal((2, 3) + (5, 6, 4)[:n]).astype(dtype)


@pytest.mark.parametrize("name,kwargs", UPSAMPLE_CASES, ids=[f"{n}-{k}" for n, k in UPSAMPLE_CASES])
def test_upsample_modules_vs_torch(name, kwargs):
    mine, theirs = getattr(_nn(), name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(mine) == repr(theirs)
    rng = np.random.default_rng(41)
    for dtype in (np.float64, np.float32):
        x = _module_input(name, kwargs, rng, dtype)
        got, ref = mine(x), theirs(T(x))
        assert_matches(got, ref, dtype, f"{name}({kwargs}) x{x.shape} {np.dtype(dtype)}")


def test_upsample_module_positional_arguments():
    args = ((4, 5), None, "bilinear", True)
    mine, theirs = _nn().Upsample(*args), torch.nn.Upsample(*args)
    assert repr(mine) == repr(theirs)
    x = np.random.default_rng(43).standard_normal((1, 2, 3, 3))
    assert_matches(mine(x), theirs(T(x)), np.float64, "Upsample positional")
    mine, theirs = _nn().UpsamplingBilinear2d(None, 2), torch.nn.UpsamplingBilinear2d(None, 2)
    assert repr(mine) == repr(theirs)
    assert_matches(mine(x), theirs(T(x)), np.float64, "UpsamplingBilinear2d positional")


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_modules_vs_torch(r):
    cnn = _nn()
    for mine, theirs, shape in ((cnn.PixelShuffle(r), torch.nn.PixelShuffle(r), (2, 2 * r * r, 3, 2)),
                                (cnn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), (2, 2, 3 * r, 2 * r)),
                                (cnn.PixelShuffle(upscale_factor=r), torch.nn.PixelShuffle(upscale_factor=r),
                                 (r * r, 1, 4)),
                                (cnn.PixelUnshuffle(downscale_factor=r), torch.nn.PixelUnshuffle(downscale_factor=r),
                                 (4, 2, 1, r, 2 * r))):
        assert repr(mine) == repr(theirs)
        x = np.random.default_rng(47).standard_normal(shape).astype(np.float32)
        assert_matches(mine(x), theirs(T(x)), np.float32, f"{mine!r} {shape}", exact=True)


# torch 2.13's CPU kernels take shortcuts by size alone: where the output is as long as the input
# (or, for nearest, twice as long) although the scale factor says otherwise, one direction copies
# (or halves indices) while the other applies the scale.  Its forward and backward then disagree.
# convscope's forward matches torch's forward; its backward is that forward's adjoint.
FORWARD_BACKWARD_SPLIT = [
    ("nearest", (3,), dict(scale_factor=1.1)),          # forward scales, backward copies
    ("nearest", (2,), dict(scale_factor=2.2)),          # forward scales, backward halves indices
    ("nearest", (3, 2, 3), dict(scale_factor=1.1)),
    ("bicubic", (3, 3), dict(scale_factor=1.1)),
    ("bicubic", (3, 3), dict(scale_factor=1.1, antialias=True)),
    ("bilinear", (3, 3), dict(scale_factor=1.1, antialias=True)),  # forward copies, backward scales
]


@pytest.mark.parametrize("mode,spatial,kwargs", FORWARD_BACKWARD_SPLIT,
                         ids=[f"{m}-{s}-{k}" for m, s, k in FORWARD_BACKWARD_SPLIT])
def test_interpolate_backward_is_the_adjoint_where_torch_disagrees_with_itself(mode, spatial, kwargs):
    from convscope import Tensor
    rng = np.random.default_rng(len(spatial) * 10 + len(kwargs))
    x = rng.standard_normal((1, 2) + spatial)
    y_torch = F.interpolate(T(x), mode=mode, **kwargs)
    y = CF.interpolate(x, mode=mode, **kwargs)
    assert_matches(y, y_torch, np.float64, f"{mode} {spatial} {kwargs} forward")
    g = rng.standard_normal(y.shape)
    xt = Tensor(x, requires_grad=True)
    CF.interpolate(xt, mode=mode, **kwargs).backward(g)
    # the forward is linear: <backward(g), v> = <g, forward(v)> for every v
    for v in rng.standard_normal((3,) + x.shape):
        np.testing.assert_allclose(np.vdot(xt.grad, v), np.vdot(g, CF.interpolate(v, mode=mode, **kwargs)),
                                   rtol=1e-12, atol=1e-12)
    leaf = T(x).requires_grad_()
    F.interpolate(leaf, mode=mode, **kwargs).backward(T(g))
    assert not np.allclose(xt.grad, to_np(leaf.grad)), "torch's backward now agrees with its forward: drop this case"


def _boundary_scale_factors(seed: int, count: int):
    """Input lengths and scale factors k/8, k/16, ... whose source positions often land exactly on
    integers, where the order and precision of the index arithmetic decide the pick."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(1, 40))
        sf = float(rng.integers(1, 400)) / float(rng.choice([3, 4, 7, 8, 10, 16, 32]))
        if math.floor(n * sf) >= 1:
            yield n, sf


@pytest.mark.parametrize("dims", [1, 3])
def test_nearest_float64_boundary_sweep_matches_torch(dims):
    """1-d and 3-d float64 nearest / nearest-exact: double-precision positions rounded to float32
    by ``floorf`` (an audit found float32 arithmetic off by one pixel in 5-8% of these)."""
    for n, sf in _boundary_scale_factors(dims, 150):
        x = np.arange(float(n)).reshape((1, 1) + (1,) * (dims - 1) + (n,))
        scale = (1.0,) * (dims - 1) + (sf,)
        for mode in ("nearest", "nearest-exact"):
            got = CF.interpolate(x, scale_factor=scale, mode=mode)
            ref = to_np(F.interpolate(T(x), scale_factor=scale, mode=mode))
            np.testing.assert_array_equal(got, ref, err_msg=f"{mode} n={n} scale_factor={sf} {dims}-d")


@pytest.mark.parametrize("mode,spatial", [("linear", (5,)), ("bilinear", (5, 5)), ("bicubic", (5, 5)),
                                          ("trilinear", (5, 5, 5))])
def test_linear_float64_source_index_floors_through_float32(mode, spatial):
    """``guard_index_and_lambda`` floors with ``floorf``: a float64 source index of 3.99999996 is
    rounded to 4.0 first, so the output is exactly the input's last sample, not a blend."""
    x = np.arange(float(math.prod(spatial))).reshape((1, 1) + spatial) ** 2
    for sf in (0.200000001, 0.4000000001, 0.6000000001):
        got = CF.interpolate(x, scale_factor=sf, mode=mode)
        ref = to_np(F.interpolate(T(x), scale_factor=sf, mode=mode))
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=0, err_msg=f"{mode} {spatial} scale_factor={sf}")


@pytest.mark.parametrize("scale_factor", [np.float32(2), np.int64(3), np.float32(0.3), (np.int32(2), np.float64(1.5))],
                         ids=["float32", "int64", "float32-0.3", "tuple"])
def test_numpy_scalar_scale_factors_are_numbers(scale_factor):
    x = np.random.default_rng(5).standard_normal((1, 2, 5, 6))
    for mode in ("nearest", "bilinear"):
        assert_matches(CF.interpolate(x, scale_factor=scale_factor, mode=mode),
                       F.interpolate(T(x), scale_factor=scale_factor, mode=mode), np.float64,
                       f"{mode} scale_factor={scale_factor!r}")


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_uint8_images_resize_by_nearest(dims, mode):
    """torch's nearest modes take uint8 (images); the result keeps the dtype and picks the same samples."""
    rng = np.random.default_rng(dims)
    for trial in range(30):
        n = int(rng.integers(1, 12))
        x = rng.integers(0, 256, (2, 3) + (n,) * dims).astype(np.uint8)
        kw = dict(scale_factor=float(rng.integers(1, 60)) / 8) if trial % 3 else dict(size=int(rng.integers(1, 30)))
        if "scale_factor" in kw and math.floor(n * kw["scale_factor"]) < 1:
            continue
        got = CF.interpolate(x, mode=mode, **kw)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, F.interpolate(torch.from_numpy(x), mode=mode, **kw).numpy(),
                                      err_msg=f"{mode} {x.shape} {kw}")


@pytest.mark.parametrize("mode,shape", [("linear", (1, 1, 4)), ("trilinear", (1, 1, 4, 4, 4)), ("area", (1, 1, 4, 4))])
def test_uint8_needs_a_float_for_the_other_modes(mode, shape):
    """torch 2.13 resizes uint8 only by nearest, bilinear and bicubic ("not implemented for 'Byte'")."""
    x = np.zeros(shape, np.uint8)
    with pytest.raises(RuntimeError):
        F.interpolate(torch.from_numpy(x), scale_factor=2, mode=mode)
    with pytest.raises(TypeError, match="float32 or float64, got uint8"):
        CF.interpolate(x, scale_factor=2, mode=mode)


def _torch_uint8_resize(x: np.ndarray, **kw) -> np.ndarray:
    """torch's uint8 bilinear/bicubic, channels in groups of at most 4: its AVX kernel for those is
    correct where its generic kernel (more than 4 channels) has the width-1 bug (see below)."""
    parts = [F.interpolate(torch.from_numpy(x[:, c:c + 4]), **kw).numpy() for c in range(0, x.shape[1], 4)]
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize("seed", range(4))
def test_uint8_bilinear_bicubic_match_torch(seed):
    """uint8 images by bilinear and bicubic, with and without antialiasing: PyTorch's (PIL's)
    integer arithmetic, int16 weights and a uint8 rounding after each pass, equal to the last bit."""
    rng = np.random.default_rng(1000 + seed)
    for trial in range(60):
        mode = ("bilinear", "bicubic")[trial % 2]
        antialias, align_corners = bool(trial // 2 % 2), (None, True)[trial // 4 % 2]
        channels = int(rng.integers(1, 7))
        spatial = tuple(int(v) for v in rng.integers(1, 40 if trial % 3 else 200, 2))
        base = rng.integers(0, 256, (int(rng.integers(1, 3)), channels) + spatial).astype(np.uint8)
        if trial % 5 == 0:  # saturated edges: the clamps at 0 and 255
            base = np.where(base < 128, 0, 255).astype(np.uint8)
        x = _layout(base, channels_last=trial % 7 == 0)
        if trial % 2:
            kw = dict(size=tuple(int(v) for v in rng.integers(1, 60, 2)))
        else:
            kw = dict(scale_factor=tuple(float(v) for v in rng.choice([0.3, 0.5, 1.0, 1.7, 2.0, 2.5], 2)))
            if any(math.floor(n * f) < 1 for n, f in zip(spatial, kw["scale_factor"])):
                continue
        kw.update(mode=mode, antialias=antialias, align_corners=align_corners)
        got = CF.interpolate(x, **kw)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, _torch_uint8_resize(x, **kw), err_msg=f"{x.shape} {x.strides} {kw}")


@pytest.mark.parametrize("mode,antialias", [("bilinear", False), ("bicubic", False), ("bilinear", True)])
def test_uint8_output_width_1_is_torch_bug_with_more_than_4_channels(mode, antialias):
    """torch's generic uint8 kernel (more than 4 channels) has the same width-1 bug as its float
    antialiasing kernel: every output row equals the first.  The result for 4 channels or fewer,
    from its other kernel, is the reference; convscope gives it whatever the channel count."""
    x = np.random.default_rng(3).integers(0, 256, (1, 6, 20, 5)).astype(np.uint8)
    kw = dict(size=(9, 1), mode=mode, antialias=antialias)
    whole = F.interpolate(torch.from_numpy(x), **kw).numpy()
    grouped = _torch_uint8_resize(x, **kw)
    assert (whole == whole[:, :, :1]).all() and not np.array_equal(whole, grouped)
    np.testing.assert_array_equal(CF.interpolate(x, **kw), grouped)


@pytest.mark.parametrize("mode,spatial,scale", [("linear", (15826,), 2.5), ("linear", (9001,), 1.7),
                                                ("bilinear", (3, 4099), 2.25), ("bicubic", (3, 3001), 1.5)])
def test_source_positions_round_once_far_from_the_origin(mode, spatial, scale):
    """torch rounds ``scale * (dst + 0.5) - 0.5`` once (a fused multiply-add); rounded twice, float32
    weights far from the origin were off by up to 4e-3 (an audit's 1-d linear case at 10,240)."""
    x = np.random.default_rng(len(spatial)).standard_normal((1, 1) + spatial).astype(np.float32)
    got = CF.interpolate(x, scale_factor=scale, mode=mode)
    ref = F.interpolate(T(x), scale_factor=scale, mode=mode).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def _layout(base: np.ndarray, channels_last: bool) -> np.ndarray:
    """``base`` itself, or the same values in a channels-last memory layout (torch.from_numpy keeps it)."""
    if not channels_last:
        return base
    n = base.ndim
    stored = np.ascontiguousarray(base.transpose(0, *range(2, n), 1))
    return stored.transpose(0, n - 1, *range(1, n - 1))


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_nearest_kernel_choice_matches_torch(dims, seed):
    """Both of torch's nearest kernels: 2-d outputs on both sides of H + W = 128, channels-last
    inputs with 1-5 channels, the three dtypes, and scale factors whose output size is the input's
    or twice it (1.02, 2.04), or whose positions land near integers (2.3, 3.1).  Before the kernel
    choice was modelled, 1.6% of such cases picked another source pixel somewhere."""
    rng = np.random.default_rng(100 * dims + seed)
    factors = (2.3, 3.1, 0.3, 0.7, 1.02, 2.04)
    for trial in range(60):
        channels = int(rng.integers(1, 6))
        spatial = tuple(int(v) for v in rng.integers(1, 90 if dims == 2 else 9, dims))
        dtype = (np.float32, np.float64, np.uint8)[trial % 3]
        base = rng.integers(0, 250, (1, channels) + spatial).astype(dtype)
        x = _layout(base, channels_last=bool(trial % 2))
        if trial % 4:
            kw = dict(scale_factor=tuple(float(f) for f in rng.choice(factors, dims)))
        else:
            kw = dict(size=tuple(int(v) for v in rng.integers(1, 130 if dims == 2 else 12, dims)))
        if any(math.floor(n * f) < 1 for n, f in zip(spatial, kw.get("scale_factor", ()))):
            continue
        for mode in ("nearest", "nearest-exact"):
            got = CF.interpolate(x, mode=mode, **kw)
            ref = F.interpolate(torch.from_numpy(x), mode=mode, **kw).numpy()
            np.testing.assert_array_equal(got, ref, err_msg=f"{mode} {x.shape} strides {x.strides} "
                                                            f"{np.dtype(dtype).name} {kw}")


@pytest.mark.parametrize("spatial,size,channels,channels_last,expected", [
    ((9, 9), (64, 64), 2, False, True),    # H + W = 128: the channels-last kernel
    ((9, 9), (64, 65), 2, False, False),   # 129: the generic one
    ((9, 9), (64, 65), 4, True, True),     # channels-last input with 4 channels
    ((9, 9), (64, 65), 3, True, False),    # ... but not with 3
    ((1, 1), (64, 65), 4, False, True),    # a 1x1 image is contiguous both ways
    ((2, 3, 4), (2, 3, 4), 4, True, True),
    ((2, 3, 4), (2, 3, 4), 4, False, False),
    ((2, 3, 4), (1, 1, 1), 2, False, False),  # 3-d has no output-size rule
])
def test_nearest_kernel_choice_rule(spatial, size, channels, channels_last, expected):
    """``_use_vectorized_kernel_cond_2d/3d`` of torch's UpSampleKernel.cpp, case by case."""
    from convscope.ops.resize import takes_channels_last_kernel
    x = _layout(np.zeros((2, channels) + spatial), channels_last)
    assert takes_channels_last_kernel(x, size) is expected


@pytest.mark.parametrize("mode,antialias", [("bicubic", False), ("bilinear", False), ("bicubic", True),
                                            ("bilinear", True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resampling_weights_equal_torch_bit_for_bit(mode, antialias, dtype):
    """Impulse responses: channel p holds a 1 at column p, so output (p, o) is the weight of input
    p in output o, summed over the taps that read it.  torch's compiled kernels fuse some of the
    cubic polynomial's multiply-adds, add the C++ literal 0.5 in double and sum the antialiasing
    weights in order; rounded otherwise, 141 of 1,030 plain bicubic weights, 13 float32 antialiased
    rows and every width-1 output differed in the last bits.  (The height stays 1 here: with the
    height resized, antialiasing to width 1 is torch's bug, see
    test_antialias_output_width_1_is_separable.)"""
    rng = np.random.default_rng(7 + 2 * antialias + (mode == "bicubic"))
    for trial in range(25):
        n, o = int(rng.integers(2, 50)), 1 if trial < 3 else int(rng.integers(2, 40))
        x = np.zeros((1, n, 1, n), dtype)
        x[0, np.arange(n), 0, np.arange(n)] = 1
        for ac in (False, True):
            kw = dict(size=(1, o), mode=mode, align_corners=ac, antialias=antialias)
            np.testing.assert_array_equal(CF.interpolate(x, **kw), F.interpolate(torch.from_numpy(x), **kw).numpy(),
                                          err_msg=f"{n} -> {o} {kw} {np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_bilinear_channels_last_kernel_is_bit_exact(dtype, seed):
    """Where torch sums bilinear resizing in its channels-last kernel (outputs with H + W <= 128,
    channels-last inputs with more than 3 channels), convscope sums in the same order with the same
    fused multiply-adds: the results are equal bit for bit, NaN and inf included, for channel
    counts on both sides of the SIMD width (before, about 40% of outputs differed in the last bit)."""
    rng = np.random.default_rng(50 + seed)
    for trial in range(40):
        channels = int(rng.integers(1, 20))
        spatial = tuple(int(v) for v in rng.integers(1, 40, 2))
        base = rng.standard_normal((int(rng.integers(1, 3)), channels) + spatial).astype(dtype)
        if trial % 5 == 0:
            base.flat[rng.integers(0, base.size, 3)] = (np.inf, -np.inf, np.nan)
        x = _layout(base, channels_last=trial % 3 == 0)
        limit = 140 if x.strides[1] == x.itemsize else 64  # channels-last inputs: large outputs too
        kw = dict(size=tuple(int(v) for v in rng.integers(1, limit, 2)), mode="bilinear",
                  align_corners=(None, True)[trial % 2])
        from convscope.ops.resize import takes_channels_last_kernel
        if not takes_channels_last_kernel(x, kw["size"]):
            continue
        np.testing.assert_array_equal(CF.interpolate(x, **kw), F.interpolate(torch.from_numpy(x), **kw).numpy(),
                                      err_msg=f"{x.shape} {x.strides} {kw}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_trilinear_channels_last_kernel_is_bit_exact(dtype, seed):
    """Channels-last 3-d inputs with more than 3 channels take torch's channels-last trilinear kernel:
    8 corners with weights ``(lambda_d * lambda_h) * lambda_w``, summed in its orders (SIMD channels and
    the rest), which convscope follows: equal bit for bit, NaN and inf included, for channel counts on
    both sides of the SIMD width, upsampling and downsampling, align_corners both ways and scale
    factors (before, about half the outputs differed in the last bit)."""
    rng = np.random.default_rng(80 + seed)
    for trial in range(30):
        channels = int(rng.integers(4, 20))
        base = rng.standard_normal((int(rng.integers(1, 3)), channels) + tuple(int(v) for v in rng.integers(2, 10, 3)))
        base = base.astype(dtype)
        if trial % 5 == 0:
            base.flat[rng.integers(0, base.size, 3)] = (np.inf, -np.inf, np.nan)
        x = _layout(base, channels_last=True)
        if trial % 3 == 0:
            kw = dict(scale_factor=float(rng.choice([0.5, 1.7, 2.0, 2.3])), mode="trilinear")
        else:
            kw = dict(size=tuple(int(v) for v in rng.integers(1, 14, 3)), mode="trilinear")
        kw["align_corners"] = (None, True)[trial % 2]
        np.testing.assert_array_equal(CF.interpolate(x, **kw), F.interpolate(torch.from_numpy(x), **kw).numpy(),
                                      err_msg=f"{x.shape} {kw}")


def test_bilinear_channels_last_kernel_in_blocks_of_rows(monkeypatch):
    """Large outputs of the channels-last kernels (bilinear and trilinear) are computed a block of
    output rows at a time (bounded temporaries); the blocks change no bit."""
    from convscope.ops import resize
    monkeypatch.setattr(resize, "RESIZE_BLOCK_ELEMENTS", 50)
    x = _layout(np.random.default_rng(4).standard_normal((2, 9, 13, 17)).astype(np.float32), channels_last=True)
    for size in ((40, 90), (5, 3)):
        kw = dict(size=size, mode="bilinear")
        np.testing.assert_array_equal(CF.interpolate(x, **kw), F.interpolate(torch.from_numpy(x), **kw).numpy())
    x = _layout(np.random.default_rng(5).standard_normal((2, 5, 6, 7, 8)), channels_last=True)
    kw = dict(size=(11, 9, 13), mode="trilinear")
    np.testing.assert_array_equal(CF.interpolate(x, **kw), F.interpolate(torch.from_numpy(x), **kw).numpy())
