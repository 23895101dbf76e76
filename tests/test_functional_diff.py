"""Differential tests: ``convscope.functional`` convolutions against ``torch.nn.functional``.

Every generated case comes from ``numpy.random.default_rng(seed)`` with the seed in the test id,
and every assertion message carries the full configuration, so a failure is reproducible with
``gen_conv_config(np.random.default_rng(seed), n)`` (or the transposed variant).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convscope.functional as CF
import convscope.ops.conv as cconv
from convscope.arith import conv_output_shape, conv_transpose_output_shape

pytestmark = [pytest.mark.filterwarnings("ignore:Using padding='same'"),
              pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")]

TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
LAYOUTS = ("c", "c", "strided", "transposed", "reversed")
CONV_FNS = {1: (CF.conv1d, F.conv1d), 2: (CF.conv2d, F.conv2d), 3: (CF.conv3d, F.conv3d)}
CONVT_FNS = {1: (CF.conv_transpose1d, F.conv_transpose1d), 2: (CF.conv_transpose2d, F.conv_transpose2d),
             3: (CF.conv_transpose3d, F.conv_transpose3d)}
N_SEEDS = 25  # per dimensionality: 75 generated cases per op family


# --------------------------------------------------------------------------- helpers

def make_array(rng: np.random.Generator, shape, dtype, layout: str = "c") -> np.ndarray:
    """A random array of ``shape``/``dtype`` with the requested memory layout.

    ``strided``: every other element of a wider array along the last axis (and, when there is
    one, every other entry of the first axis); ``transposed``: the transpose of a C-ordered
    array of the reversed shape; ``reversed``: negative strides along the last axis.
    """
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    if layout == "c" or len(shape) == 0:
        out = rng.standard_normal(shape).astype(dtype)
    elif layout == "strided":
        big_shape = (2 * shape[0],) + shape[1:-1] + (2 * shape[-1] + 1,)
        out = rng.standard_normal(big_shape).astype(dtype)[::2, ..., 1::2]
    elif layout == "transposed":
        out = rng.standard_normal(shape[::-1]).astype(dtype).T
    elif layout == "reversed":
        out = rng.standard_normal(shape).astype(dtype)[..., ::-1]
    else:  # pragma: no cover
        raise AssertionError(layout)
    assert out.shape == shape and out.dtype == dtype
    if layout in ("strided", "reversed") and out.size > 1 and shape[-1] > 1:
        assert not out.flags.c_contiguous
    return out


def T(a: np.ndarray | None):
    """Oracle copy of an array as a torch tensor (torch cannot view negative strides)."""
    return None if a is None else torch.from_numpy(a.copy(order="C"))


def assert_matches(ours, ref, dtype, cfg, what=""):
    """``ours`` has ``dtype`` and matches ``ref`` to the dtype's tolerance, relative to the
    output magnitude; NaN and +-inf must appear at the same places."""
    dtype = np.dtype(dtype)
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    msg = f"{what} config={cfg}"
    assert isinstance(ours, np.ndarray), f"result is {type(ours)}; {msg}"
    assert ours.dtype == dtype, f"result dtype {ours.dtype} != input dtype {dtype}; {msg}"
    assert ours.shape == ref.shape, f"shape {ours.shape} != torch {ref.shape}; {msg}"
    tol = TOL[dtype]
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.abs(ref[finite]).max())) if finite.any() else 1.0
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=f"NaN mask differs; {msg}")
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol * scale, equal_nan=True, err_msg=msg)


def maybe_scalar(rng, values):
    """Pass a per-dim tuple, or a bare int when all entries agree (half of the time)."""
    values = tuple(int(v) for v in values)
    if len(set(values)) == 1 and rng.random() < 0.5:
        return values[0]
    return values


def flat_torch_pad(pairs):
    """(low, high) pairs, first spatial dim first -> F.pad's last-dim-first flat tuple."""
    flat = []
    for lo, hi in reversed(pairs):
        flat += [lo, hi]
    return tuple(flat)


def channels(rng):
    kind = rng.choice(["plain", "plain", "grouped", "depthwise"])
    if kind == "plain":
        groups, cin, cout = 1, int(rng.integers(1, 4)), int(rng.integers(1, 4))
    elif kind == "grouped":
        groups = int(rng.integers(2, 4))
        cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    else:  # depthwise, with a channel multiplier
        cin = int(rng.integers(1, 5))
        groups, cout = cin, cin * int(rng.integers(1, 3))
    return str(kind), groups, cin, cout


# --------------------------------------------------------------------------- convolution

def gen_conv_config(rng: np.random.Generator, n: int) -> dict:
    kind, groups, cin, cout = channels(rng)
    kmax, dmax = {1: (5, 3), 2: (4, 3), 3: (3, 2)}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    dilation = tuple(int(rng.integers(1, dmax + 1)) for _ in range(n))
    pad_kind = str(rng.choice(["int", "tuple", "valid", "same", "pairs"]))
    stride = (1,) * n if pad_kind == "same" else tuple(int(rng.integers(1, 4)) for _ in range(n))
    if pad_kind == "int":
        padding = int(rng.integers(0, 3))
        pairs = ((padding, padding),) * n
    elif pad_kind == "tuple":
        padding = tuple(int(rng.integers(0, 3)) for _ in range(n))
        pairs = tuple((p, p) for p in padding)
    elif pad_kind == "pairs":
        pairs = tuple((int(rng.integers(0, 4)), int(rng.integers(0, 4))) for _ in range(n))
        padding = pairs
    else:
        padding = pad_kind
        pairs = ((0, 0),) * n  # 'same' sizes are always valid; 'valid' needs no padding
    spatial = []
    smax = {1: 9, 2: 5, 3: 3}[n]
    for k, d, (lo, hi) in zip(kernel, dilation, pairs):
        low = max(1, d * (k - 1) + 1 - lo - hi) if pad_kind != "same" else 1
        spatial.append(low + int(rng.integers(0, smax)))
    batch = [None, 0, 1, 3][int(rng.integers(0, 4))]
    return dict(
        n=n, kind=kind, groups=groups, cin=cin, cout=cout, kernel=kernel, spatial=tuple(spatial),
        stride=maybe_scalar(rng, stride), dilation=maybe_scalar(rng, dilation), padding=padding,
        batch=batch, bias=bool(rng.random() < 0.6),
        dtype=str(rng.choice(["float32", "float64"])),
        x_layout=str(rng.choice(LAYOUTS)), w_layout=str(rng.choice(LAYOUTS)),
    )


def conv_arrays(cfg, rng):
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = make_array(rng, lead + (cfg["cin"],) + cfg["spatial"], cfg["dtype"], cfg["x_layout"])
    w = make_array(rng, (cfg["cout"], cfg["cin"] // cfg["groups"]) + cfg["kernel"], cfg["dtype"],
                   cfg["w_layout"])
    b = rng.standard_normal(cfg["cout"]).astype(cfg["dtype"]) if cfg["bias"] else None
    return x, w, b


def torch_conv(cfg, x, w, b):
    """torch's result for ``cfg``; (low, high) pairs go through F.pad and padding=0."""
    fn = CONV_FNS[cfg["n"]][1]
    xt, wt, bt = T(x), T(w), T(b)
    padding = cfg["padding"]
    if isinstance(padding, tuple) and padding and isinstance(padding[0], (tuple, list)):
        xt = F.pad(xt, flat_torch_pad(padding))
        padding = 0
    return fn(xt, wt, bt, stride=cfg["stride"], padding=padding, dilation=cfg["dilation"], groups=cfg["groups"])


def check_conv(cfg, rng, x=None, w=None, b=None):
    if x is None:
        x, w, b = conv_arrays(cfg, rng)
    before = (x.copy(), w.copy())
    ours = CONV_FNS[cfg["n"]][0](x, w, b, stride=cfg["stride"], padding=cfg["padding"],
                                 dilation=cfg["dilation"], groups=cfg["groups"])
    np.testing.assert_array_equal(x, before[0], err_msg=f"input modified; config={cfg}")
    np.testing.assert_array_equal(w, before[1], err_msg=f"weight modified; config={cfg}")
    ref = torch_conv(cfg, x, w, b)
    assert_matches(ours, ref, cfg["dtype"], cfg)
    expected = conv_output_shape(cfg["spatial"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])
    assert ours.shape[-cfg["n"]:] == tuple(expected), f"arith says {expected}, got {ours.shape}; config={cfg}"
    assert ours.shape[-cfg["n"] - 1] == cfg["cout"], cfg
    return ours


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_random(n, seed):
    rng = np.random.default_rng(seed)
    cfg = gen_conv_config(rng, n)
    cfg["seed"] = seed
    check_conv(cfg, rng)


def _cfg(n, **kw):
    base = dict(n=n, kind="explicit", groups=1, cin=2, cout=3, kernel=(3,) * n, spatial=(7, 6, 5)[:n],
                stride=1, dilation=1, padding=0, batch=2, bias=True, dtype="float64", x_layout="c", w_layout="c")
    base.update(kw)
    return base


EXPLICIT_CONV = [
    # 'same' with even kernels and dilations: torch puts the odd element on the right/bottom
    _cfg(1, kernel=(4,), padding="same"),
    _cfg(1, kernel=(2,), dilation=3, padding="same", spatial=(5,)),
    _cfg(2, kernel=(4, 2), dilation=(1, 3), padding="same", spatial=(5, 6)),
    _cfg(2, kernel=(2, 4), dilation=(3, 2), padding="same", spatial=(4, 3), dtype="float32"),
    _cfg(3, kernel=(2, 3, 4), dilation=(1, 2, 1), padding="same", spatial=(3, 4, 5)),
    _cfg(2, kernel=(1, 1), padding="same"),
    _cfg(2, kernel=(5, 5), padding="same", spatial=(2, 3)),  # kernel larger than the input
    # 'valid'
    _cfg(2, kernel=(3, 2), padding="valid", stride=(2, 1)),
    _cfg(3, kernel=(1, 2, 3), padding="valid", dilation=(1, 2, 1)),
    # depthwise with channel multipliers, and grouped
    _cfg(2, cin=4, cout=8, groups=4, kernel=(3, 3), padding=1),
    _cfg(2, cin=3, cout=9, groups=3, kernel=(2, 5), stride=(2, 1), padding=(1, 2), dtype="float32"),
    _cfg(1, cin=4, cout=4, groups=4, kernel=(5,), dilation=2, padding="same"),
    _cfg(3, cin=2, cout=6, groups=2, kernel=(2, 2, 2), stride=2),
    _cfg(2, cin=6, cout=4, groups=2, kernel=(3, 1), padding=(0, 1)),
    # pointwise (the no-copy path) with and without stride/padding
    _cfg(2, kernel=(1, 1)),
    _cfg(3, kernel=(1, 1, 1), cin=4, cout=2, groups=2, batch=None),
    _cfg(2, kernel=(1, 1), stride=2),
    _cfg(2, kernel=(1, 1), padding=1),
    _cfg(2, kernel=(1, 1), x_layout="transposed", w_layout="strided", dtype="float32"),
    # batch 0 / 1 / unbatched
    _cfg(2, batch=0), _cfg(3, batch=0, padding="same"), _cfg(1, batch=1), _cfg(2, batch=None, stride=2),
    # kernel covering the whole padded input exactly
    _cfg(2, kernel=(3, 4), spatial=(1, 2), padding=1),
    # (low, high) pairs, including zero on one side
    _cfg(2, kernel=(3, 3), padding=((0, 2), (3, 0)), stride=(2, 3)),
    _cfg(1, kernel=(2,), padding=((1, 0),), dilation=3, spatial=(4,)),
    _cfg(3, kernel=(2, 1, 3), padding=((1, 2), (0, 0), (2, 1)), dtype="float32"),
    # non-contiguous inputs and weights
    _cfg(2, x_layout="strided", w_layout="transposed", padding=1, stride=2),
    _cfg(3, x_layout="reversed", w_layout="reversed", padding=(1, 0, 1), dtype="float32"),
    _cfg(1, x_layout="transposed", w_layout="strided", bias=False, batch=None),
    # no bias
    _cfg(2, bias=False, dtype="float32", stride=(1, 2), dilation=(2, 1)),
]


@pytest.mark.parametrize("cfg", EXPLICIT_CONV, ids=lambda c: f"conv{c['n']}d-{c['padding']}-{c['kernel']}")
def test_conv_explicit(cfg):
    check_conv(cfg, np.random.default_rng(1234))


def test_conv_accepts_list_padding_pairs():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    ours = CF.conv2d(x, w, padding=[[1, 0], [0, 2]])
    ref = F.conv2d(F.pad(T(x), (0, 2, 1, 0)), T(w))
    assert_matches(ours, ref, np.float64, "list pairs")


# --------------------------------------------------------------------------- transposed convolution

def gen_convt_config(rng: np.random.Generator, n: int) -> dict:
    kind, groups, cin, cout = channels(rng)
    kmax, dmax = {1: (5, 3), 2: (4, 3), 3: (3, 2)}[n]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(n))
    dilation = tuple(int(rng.integers(1, dmax + 1)) for _ in range(n))
    stride = tuple(int(rng.integers(1, 4)) for _ in range(n))
    output_padding = tuple(int(rng.integers(0, max(s, d))) if rng.random() < 0.5 else 0
                           for s, d in zip(stride, dilation))
    pad_kind = str(rng.choice(["int", "tuple", "pairs_sym", "pairs_asym", "pairs_asym"]))
    pmax = [d * (k - 1) + 2 for k, d in zip(kernel, dilation)]
    if pad_kind == "int":
        p = int(rng.integers(0, min(pmax) + 1))
        padding, pairs = p, ((p, p),) * n
    elif pad_kind == "tuple":
        padding = tuple(int(rng.integers(0, m + 1)) for m in pmax)
        pairs = tuple((p, p) for p in padding)
    elif pad_kind == "pairs_sym":
        pairs = tuple((p, p) for p in (int(rng.integers(0, m + 1)) for m in pmax))
        padding = pairs
    else:
        pairs = tuple((int(rng.integers(0, m + 1)), int(rng.integers(0, m + 1))) for m in pmax)
        padding = pairs
    spatial = []
    smax = {1: 6, 2: 4, 3: 3}[n]
    for k, d, s, op, (lo, hi) in zip(kernel, dilation, stride, output_padding, pairs):
        need = lo + hi - d * (k - 1) - op  # (i-1)*s must be >= need for an output >= 1
        spatial.append(1 + max(0, -(-need // s)) + int(rng.integers(0, smax)))
    batch = [None, 0, 1, 3][int(rng.integers(0, 4))]
    return dict(
        n=n, kind=kind, groups=groups, cin=cin, cout=cout, kernel=kernel, spatial=tuple(spatial),
        stride=maybe_scalar(rng, stride), dilation=maybe_scalar(rng, dilation), padding=padding,
        output_padding=maybe_scalar(rng, output_padding), batch=batch, bias=bool(rng.random() < 0.6),
        dtype=str(rng.choice(["float32", "float64"])),
        x_layout=str(rng.choice(LAYOUTS)), w_layout=str(rng.choice(LAYOUTS)),
    )


def convt_arrays(cfg, rng):
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = make_array(rng, lead + (cfg["cin"],) + cfg["spatial"], cfg["dtype"], cfg["x_layout"])
    w = make_array(rng, (cfg["cin"], cfg["cout"] // cfg["groups"]) + cfg["kernel"], cfg["dtype"],
                   cfg["w_layout"])
    b = rng.standard_normal(cfg["cout"]).astype(cfg["dtype"]) if cfg["bias"] else None
    return x, w, b


def _per_dim(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def torch_convt(cfg, x, w, b):
    """torch's result for ``cfg``.  (low, high) pairs: run torch with padding m = min(lo, hi)
    per dim and crop.  With padding 0 the full output index is ``j = i*s + t*d``; padding p_lo
    shifts it to ``j - p_lo``, output_padding extends the high end, so ours is
    ``full[lo : lo + L]`` and torch's with padding m is ``full[m : ...]`` (long enough since
    hi >= m): ours = torch_m[lo - m : lo - m + L]."""
    n = cfg["n"]
    fn = CONVT_FNS[n][1]
    xt, wt, bt = T(x), T(w), T(b)
    kw = dict(stride=cfg["stride"], output_padding=cfg["output_padding"], groups=cfg["groups"],
              dilation=cfg["dilation"])
    padding = cfg["padding"]
    if not (isinstance(padding, tuple) and padding and isinstance(padding[0], (tuple, list))):
        return fn(xt, wt, bt, padding=padding, **kw)
    m = tuple(min(lo, hi) for lo, hi in padding)
    full = fn(xt, wt, bt, padding=m, **kw)
    size = conv_transpose_output_shape(cfg["spatial"], cfg["kernel"], cfg["stride"], padding,
                                       cfg["output_padding"], cfg["dilation"])
    crop = tuple(slice(lo - mm, lo - mm + L) for (lo, _), mm, L in zip(padding, m, size))
    out = full[(Ellipsis,) + crop]
    assert tuple(out.shape[-n:]) == tuple(size), (out.shape, size, cfg)
    return out


def ref_conv_transpose(x, w, b, stride, pairs, dilation, output_padding, groups):
    """Direct scatter loop in float64: ``out[i*s + t*d - p_lo] += x[i] * w[t]`` (batched x)."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n = x.ndim - 2
    stride, dilation, output_padding = _per_dim(stride, n), _per_dim(dilation, n), _per_dim(output_padding, n)
    cin, cout_g = x.shape[1], w.shape[1]
    cin_g = cin // groups
    insz, ksz = x.shape[2:], w.shape[2:]
    out_size = tuple((i - 1) * s - lo - hi + d * (k - 1) + op + 1 for i, k, s, (lo, hi), d, op
                     in zip(insz, ksz, stride, pairs, dilation, output_padding))
    out = np.zeros((x.shape[0], cout_g * groups) + out_size)
    for g in range(groups):
        xs, ws = x[:, g * cin_g:(g + 1) * cin_g], w[g * cin_g:(g + 1) * cin_g]
        for i in np.ndindex(*insz):
            for t in np.ndindex(*ksz):
                pos = tuple(ii * s + tt * d - lo for ii, tt, s, d, (lo, _) in zip(i, t, stride, dilation, pairs))
                if all(0 <= p < L for p, L in zip(pos, out_size)):
                    out[(slice(None), slice(g * cout_g, (g + 1) * cout_g)) + pos] += \
                        xs[(slice(None), slice(None)) + i] @ ws[(slice(None), slice(None)) + t]
    if b is not None:
        out += b.reshape((1, -1) + (1,) * n)
    return out


def check_convt(cfg, rng, x=None, w=None, b=None):
    if x is None:
        x, w, b = convt_arrays(cfg, rng)
    before = (x.copy(), w.copy())
    ours = CONVT_FNS[cfg["n"]][0](x, w, b, stride=cfg["stride"], padding=cfg["padding"],
                                  output_padding=cfg["output_padding"], groups=cfg["groups"],
                                  dilation=cfg["dilation"])
    np.testing.assert_array_equal(x, before[0], err_msg=f"input modified; config={cfg}")
    np.testing.assert_array_equal(w, before[1], err_msg=f"weight modified; config={cfg}")
    ref = torch_convt(cfg, x, w, b)
    assert_matches(ours, ref, cfg["dtype"], cfg)
    expected = conv_transpose_output_shape(cfg["spatial"], cfg["kernel"], cfg["stride"], cfg["padding"],
                                           cfg["output_padding"], cfg["dilation"])
    assert ours.shape[-cfg["n"]:] == tuple(expected), f"arith says {expected}, got {ours.shape}; config={cfg}"
    assert ours.shape[-cfg["n"] - 1] == cfg["cout"], cfg
    return ours


@pytest.mark.parametrize("seed", range(N_SEEDS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_transpose_random(n, seed):
    rng = np.random.default_rng(1000 + seed)
    cfg = gen_convt_config(rng, n)
    cfg["seed"] = 1000 + seed
    check_convt(cfg, rng)


def _tcfg(n, **kw):
    base = dict(n=n, kind="explicit", groups=1, cin=2, cout=3, kernel=(3,) * n, spatial=(4, 3, 2)[:n],
                stride=1, dilation=1, padding=0, output_padding=0, batch=2, bias=True, dtype="float64",
                x_layout="c", w_layout="c")
    base.update(kw)
    return base


EXPLICIT_CONVT = [
    _tcfg(1, stride=2, output_padding=1),
    _tcfg(2, stride=(2, 3), output_padding=(1, 2), padding=(1, 0)),
    _tcfg(3, stride=2, output_padding=(0, 1, 1), padding=1, dtype="float32"),
    # output_padding allowed by dilation although >= stride
    _tcfg(1, stride=1, dilation=3, output_padding=2),
    _tcfg(2, stride=(1, 2), dilation=(2, 1), output_padding=(1, 1)),
    # padding as large as the dilated kernel allows
    _tcfg(1, kernel=(4,), padding=3, spatial=(4,)),  # output length exactly 1
    _tcfg(2, kernel=(2, 3), padding=(1, 2), stride=3, spatial=(2, 2)),
    # grouped and depthwise
    _tcfg(2, cin=4, cout=8, groups=4, stride=2, padding=1, output_padding=1),
    _tcfg(1, cin=6, cout=4, groups=2, kernel=(4,), stride=3, dilation=2),
    _tcfg(3, cin=3, cout=3, groups=3, kernel=(2, 2, 2), stride=2, dtype="float32"),
    # pointwise, batch 0 / 1 / unbatched, no bias, non-contiguous
    _tcfg(2, kernel=(1, 1)), _tcfg(2, kernel=(1, 1), stride=2, output_padding=1),
    _tcfg(2, batch=0, stride=2), _tcfg(3, batch=1), _tcfg(1, batch=None, stride=3, output_padding=2),
    _tcfg(2, bias=False, x_layout="transposed", w_layout="reversed", stride=2, padding=1),
    _tcfg(3, x_layout="strided", w_layout="transposed", dtype="float32", stride=(1, 2, 1)),
    # symmetric pairs, and asymmetric pairs (with output_padding beyond the high padding)
    _tcfg(2, padding=((1, 1), (2, 2)), stride=2),
    _tcfg(1, padding=((0, 2),), stride=2, output_padding=1),
    _tcfg(1, padding=((2, 0),), stride=3, output_padding=2),
    _tcfg(2, padding=((0, 1), (2, 0)), stride=(2, 1), dilation=(1, 2), output_padding=(1, 1)),
    _tcfg(3, padding=((1, 0), (0, 0), (0, 2)), stride=2, output_padding=(1, 0, 1), dtype="float32"),
]


@pytest.mark.parametrize("cfg", EXPLICIT_CONVT,
                         ids=lambda c: f"convt{c['n']}d-{c['padding']}-s{c['stride']}-op{c['output_padding']}")
def test_conv_transpose_explicit(cfg):
    check_convt(cfg, np.random.default_rng(4321))


@pytest.mark.parametrize("seed", range(12))
def test_conv_transpose_asymmetric_pairs_vs_scatter_loop(seed):
    """Independent check of asymmetric (low, high) pairs against a direct NumPy scatter loop
    (and of the crop reasoning used in ``torch_convt``)."""
    rng = np.random.default_rng(2000 + seed)
    n = 1 + seed % 2
    cfg = gen_convt_config(rng, n)
    if not (isinstance(cfg["padding"], tuple) and isinstance(cfg["padding"][0], tuple)):
        cfg["padding"] = tuple((p, p) for p in _per_dim(cfg["padding"], n))
    lo_hi = tuple((lo, hi + 1 if lo == hi else hi) for lo, hi in cfg["padding"])  # force asymmetry
    cfg["padding"] = lo_hi
    # keep the output non-empty
    cfg["spatial"] = tuple(s + 2 for s in cfg["spatial"])
    cfg["seed"] = 2000 + seed
    x, w, b = convt_arrays(cfg, rng)
    ours = check_convt(cfg, rng, x, w, b)
    xb = x if cfg["batch"] is not None else x[None]
    ref = ref_conv_transpose(xb, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["output_padding"],
                             cfg["groups"])
    if cfg["batch"] is None:
        ref = ref[0]
    assert_matches(ours, ref.astype(cfg["dtype"]), cfg["dtype"], cfg, "vs scatter loop")


# --------------------------------------------------------------------------- chunked execution

@pytest.fixture
def chunk_log(monkeypatch):
    """Shrink the column-buffer budget and record the chunks the ops walk through."""
    seen = []
    original = cconv._chunks

    def recording(total_rows, bytes_per_row, batch, *args):
        for c in original(total_rows, bytes_per_row, batch, *args):
            seen.append((c, total_rows, batch))
            yield c

    monkeypatch.setattr(cconv, "_chunks", recording)
    # these tests walk the im2col path's chunks; the grid's own are tested in test_conv_grid.py
    monkeypatch.setattr(cconv, "GRID_MAX_WASTE", 0.0)
    monkeypatch.setattr(cconv, "SUBPIXEL_MAX_WASTE", 0.0)

    def set_budget(nbytes):
        monkeypatch.setattr(cconv, "CHUNK_BYTES", nbytes)
        seen.clear()
        return seen

    return set_budget


def _paths(seen):
    batch_chunks = any(r0 == 0 and r1 == rows and 0 < b1 - b0 < batch for (b0, b1, r0, r1), rows, batch in seen)
    row_slabs = any(r1 - r0 < rows for (b0, b1, r0, r1), rows, batch in seen)
    return batch_chunks, row_slabs


# (config, which path it must take under a 2000-byte budget)
CHUNK_CASES = [
    (_cfg(2, cin=1, cout=2, kernel=(3, 3), spatial=(5, 5), padding=1, batch=7, dtype="float32"), "batch"),
    (_cfg(2, cin=2, cout=3, kernel=(3, 3), spatial=(11, 9), padding=1, batch=3), "rows"),
    (_cfg(1, cin=1, cout=2, kernel=(3,), spatial=(20,), padding=1, batch=9, dtype="float64"), "batch"),
    (_cfg(1, cin=3, cout=2, kernel=(5,), spatial=(60,), padding="same", batch=2), "rows"),
    (_cfg(3, cin=2, cout=4, groups=2, kernel=(2, 3, 3), spatial=(6, 5, 5), padding=(1, 1, 0), stride=(1, 2, 1),
          batch=2), "rows"),
    (_cfg(2, cin=2, cout=4, groups=2, kernel=(4, 2), spatial=(12, 7), padding=((1, 2), (0, 1)), dilation=(2, 1),
          stride=(2, 1), batch=None, x_layout="transposed"), "rows"),
]

CHUNK_CASES_T = [
    (_tcfg(2, cin=2, cout=2, kernel=(3, 3), spatial=(3, 4), stride=2, batch=7, dtype="float32"), "batch"),
    (_tcfg(2, cin=2, cout=3, kernel=(3, 3), spatial=(8, 7), stride=2, padding=1, output_padding=1, batch=3),
     "rows"),
    (_tcfg(1, cin=1, cout=1, kernel=(3,), spatial=(20,), stride=2, batch=6), "batch"),
    (_tcfg(3, cin=2, cout=4, groups=2, kernel=(2, 2, 3), spatial=(5, 3, 3), stride=(2, 1, 2), batch=2,
           padding=((1, 0), (0, 1), (1, 1)), output_padding=(1, 0, 1)), "rows"),
    (_tcfg(1, cin=4, cout=2, kernel=(4,), spatial=(40,), stride=3, dilation=2, padding=2, batch=None,
           w_layout="reversed"), "rows"),
]


@pytest.mark.parametrize("cfg,path", CHUNK_CASES, ids=lambda v: v if isinstance(v, str) else f"conv{v['n']}d")
def test_conv_chunked(chunk_log, cfg, path):
    seen = chunk_log(2000)
    check_conv(cfg, np.random.default_rng(77))
    batch_chunks, row_slabs = _paths(seen)
    assert (batch_chunks, row_slabs) == (path == "batch", path == "rows"), (seen, cfg)


@pytest.mark.parametrize("cfg,path", CHUNK_CASES_T, ids=lambda v: v if isinstance(v, str) else f"convt{v['n']}d")
def test_conv_transpose_chunked(chunk_log, cfg, path):
    seen = chunk_log(2000)
    check_convt(cfg, np.random.default_rng(78))
    batch_chunks, row_slabs = _paths(seen)
    assert (batch_chunks, row_slabs) == (path == "batch", path == "rows"), (seen, cfg)


@pytest.mark.parametrize("budget", [1, 700, 2000])
@pytest.mark.parametrize("seed", range(8))
def test_chunked_random(chunk_log, seed, budget):
    """Random configs (both ops, 1-3 d) under tiny budgets, down to one row per chunk."""
    rng = np.random.default_rng(3000 + seed)
    n = 1 + seed % 3
    cfg = gen_conv_config(rng, n)
    cfg["seed"], cfg["budget"] = 3000 + seed, budget
    chunk_log(budget)
    check_conv(cfg, rng)
    tcfg = gen_convt_config(rng, n)
    tcfg["seed"], tcfg["budget"] = 3000 + seed, budget
    chunk_log(budget)
    check_convt(tcfg, rng)


def test_results_do_not_alias_work_buffers():
    """A result stays intact across later calls of any size/dtype (work buffers may be reused)."""
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    first = CF.conv2d(x, w, padding=1)
    kept = first.copy()
    for fn, xs, ws in ((CF.conv2d, (3, 3, 17, 15), (5, 3, 3, 3)), (CF.conv_transpose2d, (2, 3, 9, 8), (3, 4, 3, 3)),
                       (CF.conv3d, (1, 3, 6, 6, 6), (2, 3, 3, 3, 3))):
        for dtype in (np.float32, np.float64):
            other = fn(rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype))
            assert not np.shares_memory(first, other)
    np.testing.assert_array_equal(first, kept)
    assert_matches(first, F.conv2d(T(x), T(w), padding=1), np.float64, "first result")


# --------------------------------------------------------------------------- NaN / inf

def _poison(x, rng, count=3):
    x = np.array(x)  # writable C copy; layouts are covered elsewhere
    if x.size == 0:
        return x
    flat = x.reshape(-1)
    for v in (np.nan, np.inf, -np.inf)[:count]:
        flat[int(rng.integers(0, flat.size))] = v
    return x


@pytest.mark.parametrize("seed", range(10))
def test_nonfinite_input_propagates_like_torch(seed):
    rng = np.random.default_rng(4000 + seed)
    n = 1 + seed % 3
    for gen, check, arrays in ((gen_conv_config, check_conv, conv_arrays),
                               (gen_convt_config, check_convt, convt_arrays)):
        cfg = gen(rng, n)
        cfg["batch"] = 2 if cfg["batch"] in (0, None) else cfg["batch"]
        cfg["seed"], cfg["poisoned"] = 4000 + seed, True
        x, w, b = arrays(cfg, rng)
        check(cfg, rng, _poison(x, rng), w, b)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_single_nonfinite_value(value, dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 2, 7, 6)).astype(dtype)
    x[1, 0, 3, 2] = value
    w = np.abs(rng.standard_normal((3, 2, 3, 2))).astype(dtype) + 0.1  # positive: +-inf stays inf
    cfg = _cfg(2, cin=2, cout=3, kernel=(3, 2), spatial=(7, 6), padding=1, stride=(2, 1), dtype=dtype)
    check_conv(cfg, rng, x, w, None)
    wt = np.abs(rng.standard_normal((2, 3, 3, 2))).astype(dtype) + 0.1
    tcfg = _tcfg(2, cin=2, cout=3, kernel=(3, 2), spatial=(7, 6), padding=1, stride=(2, 1), dtype=dtype)
    check_convt(tcfg, rng, x, wt, None)


# --------------------------------------------------------------------------- empty batches

@pytest.mark.parametrize("n,padding", [(1, 0), (2, "same"), (3, "valid")])
def test_pointwise_conv_batch0(n, padding):
    cfg = _cfg(n, kernel=(1,) * n, batch=0, padding=padding)
    check_conv(cfg, np.random.default_rng(0))
