"""Randomized differential test of every code path of convolution, through the public API.

``convscope.ops.conv`` picks among several implementations, by geometry and size:

- ``pointwise``: 1x1 kernel, stride 1, no padding (a plain GEMM over the input);
- ``im2col``: gathered column buffer + GEMM, chunked by ``CHUNK_BYTES`` (whole samples or row slabs);
- ``grid-plain`` / ``grid-stacked``: the stride-phase wide grid (``convscope.ops.grid``), for larger
  feature maps, in its two layouts; with a small ``CHUNK_BYTES`` it runs several GEMMs per sample
  (``grid-rows``) and several canvas fills (``grid-slabs``);
- transposed convolution: ``subpixel`` (one stride-1 grid convolution per output phase) where every
  phase's convolution qualifies for the grid, else ``scatter`` (GEMM + scatter-add, chunked too).

The cases are generated from ``numpy.random.default_rng(seed)`` (seed in the test id) at realistic
sizes (2-d maps 16..80, 1-d lengths 200..3000, 3-d volumes about 6x20x20, 1..48 channels, groups
including depthwise, strides/dilations 1..3, kernels 1..7 including even ones, int / per-dimension /
``'same'`` / ``'valid'`` / asymmetric ``(lo, hi)`` padding, ``output_padding``, unbatched inputs,
float32 and float64, non-contiguous inputs and weights), through ``convscope.functional`` and the
``convscope.nn`` layers (all four ``padding_mode``\\ s, weights loaded from the torch layer's
``state_dict``).  Torch has no asymmetric padding: the reference pads with ``F.pad`` first
(convolution) or crops the unpadded result with a negative ``F.pad`` (transposed).

Each case records which path its forward pass took (the helpers of ``convscope.ops.conv`` are
wrapped), and ``test_every_path_is_exercised`` checks that the generated set reaches every path
several times.  A subset also compares the input, weight and bias gradients with torch autograd
(their backward passes are path-recorded too, as ``bwd/...``, but not required).  The ``chunk``
family runs with ``CHUNK_BYTES`` patched down to 4096..262144 bytes.  A discrepancy found here is
kept as a strict xfail in ``KNOWN``.

Tolerances: float64 ``rtol=1e-10, atol=1e-10*max|ref|``; float32 ``rtol=1e-4,
atol=1e-4*max(1, max|ref|)``.
"""
from __future__ import annotations

import collections
import math

import numpy as np
import pytest
import torch

import convscope.functional as CF
import convscope.nn as cnn
from convscope import Tensor
from convscope.arith import conv_geometry
from convscope.ops import conv as conv_ops

TF = torch.nn.functional

pytestmark = [pytest.mark.filterwarnings("ignore:Using padding='same'"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

#: The paths of one forward pass (exactly one of them is taken).
MAIN_PATHS = ("pointwise", "im2col", "grid-plain", "grid-stacked", "subpixel", "scatter")
#: What ``test_every_path_is_exercised`` requires, each at least ``MIN_HITS`` times.
REQUIRED = MAIN_PATHS + ("im2col-rows", "im2col-batched", "grid-rows", "grid-slabs", "scatter-rows",
                         "scatter-batched", "subpixel/grid-plain", "subpixel/grid-stacked", "subpixel-empty-phase")
MIN_HITS = 3

#: Forward multiply-adds allowed per case (keeps the file well under a minute on 2 cores).
MAX_MACS = 3e8
MAX_MACS_GRAD = 6e7


# --------------------------------------------------------------------------- case generation

def _channels(rng, depthwise_ok=True):
    """``(in_channels, out_channels, groups)``: plain, grouped or depthwise."""
    mode = rng.choice(["one", "one", "grouped", "depthwise"] if depthwise_ok else ["one", "grouped"])
    if mode == "one":
        return int(rng.integers(1, 49)), int(rng.integers(1, 49)), 1
    if mode == "grouped":
        groups = int(rng.choice([2, 3, 4]))
        return groups * int(rng.integers(1, 13)), groups * int(rng.integers(1, 13)), groups
    cin = int(rng.integers(2, 33))
    return cin, cin * (2 if cin <= 24 and rng.random() < 1 / 3 else 1), cin


def _spatial(rng, n, scale):
    """Input sizes: ``scale`` 'large' (grid-sized maps) or 'small' (im2col-sized ones)."""
    if n == 1:
        return (int(rng.integers(800, 3001)),) if scale == "large" else (int(rng.integers(200, 501)),)
    if n == 2:
        lo, hi = (36, 81) if scale == "large" else (16, 33)
        return int(rng.integers(lo, hi)), int(rng.integers(lo, hi))
    if scale == "large":
        return int(rng.integers(5, 9)), int(rng.integers(18, 25)), int(rng.integers(18, 25))
    return int(rng.integers(4, 7)), int(rng.integers(10, 17)), int(rng.integers(10, 17))


def _ints(rng, n, lo, hi, p_one=0.0):
    """``n`` ints in ``[lo, hi)``, each 1 with probability ``p_one``."""
    return tuple(1 if rng.random() < p_one else int(rng.integers(lo, hi)) for _ in range(n))


def _padding(rng, n, stride, transposed, kinds=None):
    kinds = kinds or (["int", "tuple", "pairs", "pairs"] if transposed else
                      ["int", "tuple", "pairs", "pairs", "same", "same", "valid"])
    kind = str(rng.choice(kinds))
    if kind == "same" and any(s != 1 for s in stride):
        kind = "pairs" if "pairs" in kinds else "tuple"
    if kind == "int":
        return int(rng.integers(0, 4))
    if kind == "tuple":
        return tuple(int(v) for v in rng.integers(0, 4, n))
    if kind == "pairs":
        return tuple((int(rng.integers(0, 5)), int(rng.integers(0, 5))) for _ in range(n))
    return kind


def _pairs(padding, n, k, d):
    """``padding`` as ``n`` (low, high) pairs (torch's rule for 'same': the extra on the high side)."""
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        return tuple(((kk - 1) * dd // 2, (kk - 1) * dd - (kk - 1) * dd // 2) for kk, dd in zip(k, d))
    if isinstance(padding, int):
        return ((padding, padding),) * n
    if isinstance(padding[0], tuple):
        return tuple(padding)
    return tuple((p, p) for p in padding)


def _out_size(spec):
    n, k, s, d = spec["n"], spec["kernel"], spec["stride"], spec["dilation"]
    pairs = _pairs(spec["padding"], n, k, d)
    if spec["transposed"]:
        return tuple((i - 1) * ss - lo - hi + dd * (kk - 1) + op + 1
                     for i, ss, (lo, hi), dd, kk, op in zip(spec["size"], s, pairs, d, k, spec["output_padding"]))
    return tuple((i + lo + hi - dd * (kk - 1) - 1) // ss + 1
                 for i, ss, (lo, hi), dd, kk in zip(spec["size"], s, pairs, d, k))


def _macs(spec):
    cin, cout, groups = spec["channels"]
    batch = spec["batch"] or 1
    per = (cin // groups) * math.prod(spec["kernel"]) * cout
    return batch * per * math.prod(spec["size"] if spec["transposed"] else _out_size(spec))


def _draw(rng, family):
    """One random configuration of ``family`` (not yet checked for validity or cost)."""
    transposed = family in ("convT-large", "convT-small", "module-T") or (
        family in ("chunk-general", "grad") and rng.random() < 0.35)
    n = int(rng.choice([1, 2, 2, 3]))
    scale = "small" if family in ("conv-small", "convT-small") else (
        "large" if family in ("conv-large", "convT-large", "chunk-general", "pointwise") else str(rng.choice(["small",
                                                                                                     "large"])))
    size = _spatial(rng, n, scale)
    cin, cout, groups = _channels(rng)
    k_hi = 8 if n < 3 else 5
    if family == "pointwise":
        kernel, stride, dilation = (1,) * n, (1,) * n, _ints(rng, n, 1, 4)
    else:
        kernel = _ints(rng, n, 1, k_hi)
        stride = _ints(rng, n, 1, 4, p_one=0.4 if family != "convT-large" else 0.2)
        dilation = _ints(rng, n, 1, 4, p_one=0.6)
    if transposed:  # keep the input small: the output grows by the stride
        size = tuple(max(4 if n == 3 else 8, -(-i // s)) for i, s in zip(size, stride))
    spec = {"family": family, "n": n, "transposed": transposed, "size": size, "channels": (cin, cout, groups),
            "kernel": kernel, "stride": stride, "dilation": dilation,
            "batch": None if rng.random() < 0.2 else int(rng.integers(1, 4)),
            "dtype": str(rng.choice(["float32", "float64"])),
            "x_layout": str(rng.choice(["c", "c", "transposed", "sliced", "reversed"])),
            "w_layout": str(rng.choice(["c", "c", "transposed", "sliced", "reversed"])),
            "bias": bool(rng.random() < 0.75), "output_padding": (0,) * n, "padding_mode": "zeros",
            "output_size": False, "chunk_bytes": None, "grad": False, "api": "functional"}
    if family == "pointwise":
        spec["padding"] = 0 if rng.random() < 0.5 else "valid"
    elif family in ("module", "module-T"):
        spec["api"] = "module"
        spec["padding"] = _padding(rng, n, stride, transposed, kinds=["int", "tuple"] if transposed else
                                   ["int", "tuple", "same", "valid"])
        if not transposed:
            spec["padding_mode"] = str(rng.choice(["zeros", "reflect", "replicate", "circular"]))
    else:
        spec["padding"] = _padding(rng, n, stride, transposed)
    if transposed:
        spec["output_padding"] = tuple(int(rng.integers(0, max(s, d))) if rng.random() < 0.5 else 0
                                       for s, d in zip(stride, dilation))
        if spec["api"] == "module" and rng.random() < 0.5:
            # output_size picks the output padding instead (torch allows up to stride - 1)
            spec["output_padding"] = tuple(int(rng.integers(0, s)) for s in stride)
            spec["output_size"] = True
    if family == "grad" or (family in ("conv-small", "convT-small", "convT-large", "chunk-general")
                            and rng.random() < 0.25):
        spec["grad"] = True
    return spec


def _draw_chunk(rng):
    """A case for a small ``CHUNK_BYTES``: the grid then runs several GEMMs per sample ("rows") and,
    where each tap reads its own stride phase (1x1 with padding, or a transposed convolution whose
    kernel equals its stride: upsampling), several canvas fills ("slabs")."""
    spec = _draw(rng, "chunk-general")
    spec["family"] = "chunk"
    kind = str(rng.choice(["general", "general", "long1d", "volume"]))
    if kind == "general":  # few channels and taps: the grid still has long GEMMs in row chunks
        cin = int(rng.integers(1, 9))
        spec.update(channels=(cin, int(rng.integers(1, 9)), 1), kernel=_ints(rng, spec["n"], 1, 4),
                    chunk_bytes=int(rng.choice([4096, 16384, 65536, 262144])))
        if spec["transposed"]:
            spec["output_padding"] = (0,) * spec["n"]
        return spec
    n = 1 if kind == "long1d" else 3
    transposed = bool(rng.random() < 0.5)
    if kind == "long1d":
        size = (int(rng.integers(1600, 3001)),)
        stride = (int(rng.integers(1, 4)),) if transposed else (1,)
        dtype, chunk = "float64", 4096  # 512 rows of one element per GEMM, 1536 rows per canvas
    else:
        size = (int(rng.integers(9, 13)), int(rng.integers(16, 21)), int(rng.integers(16, 21)))
        stride = (1, 2, 2) if transposed else (1, 1, 1)
        dtype, chunk = "float32", 4096  # two or three rows (planes) per GEMM, six to nine per canvas
    spec.update(n=n, transposed=transposed, size=size, channels=(1, 1, 1), kernel=stride, stride=stride,
                dilation=_ints(rng, n, 1, 4, p_one=0.5), dtype=dtype, chunk_bytes=chunk, output_padding=(0,) * n,
                padding=(tuple(int(v) for v in rng.integers(0, 2, n)) if transposed else
                         tuple((int(rng.integers(1, 3)), int(rng.integers(0, 3))) for _ in range(n))),
                x_layout=str(rng.choice(["c", "sliced", "reversed"])), grad=bool(rng.random() < 0.3))
    return spec


def _valid(spec):
    n, k, d, s = spec["n"], spec["kernel"], spec["dilation"], spec["stride"]
    pairs = _pairs(spec["padding"], n, k, d)
    if spec["transposed"]:
        if any(not (op < ss or op < dd) for op, ss, dd in zip(spec["output_padding"], s, d)):
            return False
    else:
        padded = [i + lo + hi for i, (lo, hi) in zip(spec["size"], pairs)]
        if any(p < dd * (kk - 1) + 1 for p, dd, kk in zip(padded, d, k)):
            return False
        if spec["padding_mode"] in ("reflect", "circular") and any(
                max(lo, hi) >= i for i, (lo, hi) in zip(spec["size"], pairs)):
            return False
    out = _out_size(spec)
    if any(o < 1 for o in out):
        return False
    if spec["transposed"] and math.prod(out) < 0.5 * math.prod(spec["size"]):
        return False  # mostly cropped away: not a realistic layer
    return _macs(spec) <= (MAX_MACS_GRAD if spec["grad"] else MAX_MACS)


def _make_spec(seed, family):
    rng = np.random.default_rng([seed, sum(map(ord, family))])
    for _ in range(1000):
        spec = _draw_chunk(rng) if family == "chunk" else _draw(rng, family)
        if _valid(spec):
            spec["seed"] = seed
            return spec
    raise AssertionError(f"no valid {family} case for seed {seed}")


FAMILIES = {  # family: number of cases
    "conv-large": 100, "conv-small": 60, "pointwise": 16, "convT-large": 70, "convT-small": 50,
    "module": 70, "module-T": 35, "chunk": 50, "grad": 50,
}
SPECS = {f"{family}-{seed}": _make_spec(seed, family)
         for family, count in FAMILIES.items() for seed in range(count)}

#: Known discrepancies: case id -> reason (those cases are strict xfails).
KNOWN = {}


# --------------------------------------------------------------------------- arrays

def _array(rng, shape, layout, dtype):
    """A standard-normal array of ``shape`` in memory layout ``layout`` (non-contiguous unless 'c')."""
    if layout == "transposed" and len(shape) >= 2:  # stored with the last two axes swapped
        base = rng.standard_normal(shape[:-2] + (shape[-1], shape[-2])).astype(dtype)
        out = base.swapaxes(-1, -2)
    elif layout == "sliced":  # every other element of the last axis, from an offset
        base = rng.standard_normal(shape[:-1] + (2 * shape[-1] + 1,)).astype(dtype)
        out = base[..., 1::2]
    elif layout == "reversed":
        out = rng.standard_normal(shape).astype(dtype)[..., ::-1]
    else:
        out = rng.standard_normal(shape).astype(dtype)
    assert out.shape == tuple(shape)
    return out


def _arrays(spec):
    rng = np.random.default_rng([spec["seed"], 7])
    dtype = np.dtype(spec["dtype"])
    cin, cout, groups = spec["channels"]
    x_shape = ((spec["batch"],) if spec["batch"] else ()) + (cin,) + spec["size"]
    w_shape = ((cin, cout // groups) if spec["transposed"] else (cout, cin // groups)) + spec["kernel"]
    x = _array(rng, x_shape, spec["x_layout"], dtype)
    w = _array(rng, w_shape, spec["w_layout"], dtype)
    b = rng.standard_normal(cout).astype(dtype) if spec["bias"] else None
    return x, w, b


def _t(a, requires_grad=False):
    if a is None:
        return None
    return torch.tensor(np.array(a, order="C", copy=True), requires_grad=requires_grad)


def _flat(pairs):
    """(lo, hi) pairs of the spatial dims -> F.pad's flat list (last dimension first)."""
    return tuple(v for lo_hi in reversed(pairs) for v in lo_hi)


# --------------------------------------------------------------------------- the two sides

def _torch_functional(spec, x, w, b):
    n, pad = spec["n"], spec["padding"]
    asym = isinstance(pad, tuple) and isinstance(pad[0], tuple)
    if not spec["transposed"]:
        conv = getattr(TF, f"conv{n}d")
        if asym:
            return conv(TF.pad(x, _flat(pad)), w, b, spec["stride"], 0, spec["dilation"], spec["channels"][2])
        return conv(x, w, b, spec["stride"], pad, spec["dilation"], spec["channels"][2])
    conv = getattr(TF, f"conv_transpose{n}d")
    if not asym:
        return conv(x, w, b, spec["stride"], pad, spec["output_padding"], spec["channels"][2], spec["dilation"])
    # no asymmetric padding in torch: the unpadded result, cropped by (lo, hi - output_padding)
    full = conv(x, w, None, spec["stride"], 0, 0, spec["channels"][2], spec["dilation"])
    out = TF.pad(full, _flat([(-lo, op - hi) for (lo, hi), op in zip(pad, spec["output_padding"])]))
    return out if b is None else out + b.reshape((-1,) + (1,) * n)


def _layer_args(spec):
    cin, cout, groups = spec["channels"]
    kw = {"stride": spec["stride"], "padding": spec["padding"], "dilation": spec["dilation"], "groups": groups,
          "bias": spec["bias"]}
    if spec["transposed"]:
        if not spec["output_size"]:
            kw["output_padding"] = spec["output_padding"]
    else:
        kw["padding_mode"] = spec["padding_mode"]
    return (cin, cout, spec["kernel"]), kw


def _layers(spec):
    """The torch layer (seeded init) and the convscope layer loaded from its state_dict."""
    name = f"{'ConvTranspose' if spec['transposed'] else 'Conv'}{spec['n']}d"
    args, kw = _layer_args(spec)
    torch.manual_seed(spec["seed"])
    ref = getattr(torch.nn, name)(*args, **kw, dtype=getattr(torch, spec["dtype"]))
    ours = getattr(cnn, name)(*args, **kw, dtype=np.dtype(spec["dtype"]))
    state = {key: value.detach().numpy() for key, value in ref.state_dict().items()}
    if spec["w_layout"] == "reversed":  # a non-contiguous copy of the same values
        state["weight"] = np.ascontiguousarray(state["weight"][..., ::-1])[..., ::-1]
    ours.load_state_dict(state)
    return ref, ours


def _output_size(spec):
    lead = (spec["channels"][1],) if spec["batch"] is None else (spec["batch"], spec["channels"][1])
    return lead + _out_size(spec)


class PathRecorder:
    """Wraps the path helpers of ``convscope.ops.conv`` and collects the paths reached inside
    :meth:`run`; a backward pass run with ``stage="bwd/"`` records its own, prefixed tags."""

    def __init__(self, monkeypatch):
        self.tags: set[str] = set()
        self.active = False
        self.stage = ""
        self._in_subpixel = False
        orig_grid, orig_sub = conv_ops.conv_grid, conv_ops._conv_transpose_subpixel
        orig_cols, orig_scatter, orig_chunks = conv_ops._column_chunks, conv_ops.scatter_windows, conv_ops._chunks

        def tag(name):
            if self.active:
                self.tags.add(self.stage + name)

        def conv_grid(x, weight, bias, g, out, plan):
            tag(("subpixel/" if self._in_subpixel else "") + ("grid-stacked" if plan.stacked else "grid-plain"))
            if plan.rows < g.output_size[0]:
                tag("grid-rows")  # several GEMMs per sample
            if plan.slab_rows < g.output_size[0]:
                tag("grid-slabs")  # several canvas fills per sample
            return orig_grid(x, weight, bias, g, out, plan)

        def subpixel(x, weight, bias, g, classes):
            self._in_subpixel = True
            try:
                out = orig_sub(x, weight, bias, g, classes)
            finally:
                self._in_subpixel = False
            if out is not None:  # None: some phase had no layout, the scatter path runs instead
                tag("subpixel")
                if any(conv_g is None for _, conv_g, _ in classes):
                    tag("subpixel-empty-phase")  # an output phase no tap reaches: bias only
            return out

        def column_chunks(x, g, *args):
            tag("im2col")
            for chunk in orig_cols(x, g, *args):
                if chunk[3] - chunk[2] < g.output_size[0]:
                    tag("im2col-rows")
                if chunk[1] - chunk[0] > 1:
                    tag("im2col-batched")
                yield chunk

        def scatter(*args, **kwargs):
            tag("scatter")
            return orig_scatter(*args, **kwargs)

        def chunks(total_rows, bytes_per_row, batch, *args):
            for chunk in orig_chunks(total_rows, bytes_per_row, batch, *args):
                if chunk[3] - chunk[2] < total_rows:
                    tag("rows")
                if chunk[1] - chunk[0] > 1:
                    tag("batched")
                yield chunk

        monkeypatch.setattr(conv_ops, "conv_grid", conv_grid)
        monkeypatch.setattr(conv_ops, "_conv_transpose_subpixel", subpixel)
        monkeypatch.setattr(conv_ops, "_column_chunks", column_chunks)
        monkeypatch.setattr(conv_ops, "scatter_windows", scatter)
        monkeypatch.setattr(conv_ops, "_chunks", chunks)

    def run(self, fn, stage=""):
        self.active, self.stage = True, stage
        try:
            return fn()
        finally:
            self.active = False

    def paths(self, spec) -> set[str]:
        tags = set()
        for stage in ("", "bwd/"):
            mine = {t[len(stage):] for t in self.tags if t.startswith("bwd/") == bool(stage)}
            if "scatter" in mine:
                mine |= {f"scatter-{t}" for t in ("rows", "batched") if t in mine}
            mine -= {"rows", "batched"}
            tags |= {stage + t for t in mine}
        if not spec["transposed"] and not tags & {"im2col", "grid-plain", "grid-stacked"}:
            tags.add("pointwise")
        return tags


def _convscope_forward(spec, x, w, b, rec, layer=None):
    """convscope's forward pass of ``spec`` (Tensors for gradient cases), path-recorded."""
    if spec["api"] == "module":
        if spec["output_size"]:
            return rec.run(lambda: layer(x, output_size=_out_size(spec)))
        return rec.run(lambda: layer(x))
    n, groups = spec["n"], spec["channels"][2]
    if spec["transposed"]:
        fn = getattr(CF, f"conv_transpose{n}d")
        return rec.run(lambda: fn(x, w, b, spec["stride"], spec["padding"], spec["output_padding"], groups,
                                        spec["dilation"]))
    fn = getattr(CF, f"conv{n}d")
    return rec.run(lambda: fn(x, w, b, spec["stride"], spec["padding"], spec["dilation"], groups))


#: Paths seen per case id, filled as the case tests run.
RECORDED: dict[str, set[str]] = {}


def _check(got, ref, spec, what):
    got = got.data if isinstance(got, Tensor) else got
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else ref
    msg = f"{what}: {spec}"
    assert isinstance(got, np.ndarray), msg
    assert got.shape == ref.shape, f"shape {got.shape} != torch {ref.shape}; {msg}"
    assert got.dtype == np.dtype(spec["dtype"]), f"dtype {got.dtype}; {msg}"
    peak = float(np.abs(ref).max()) if ref.size else 0.0
    if spec["dtype"] == "float64":
        tol = {"rtol": 1e-10, "atol": 1e-10 * peak}
    else:
        tol = {"rtol": 1e-4, "atol": 1e-4 * max(1.0, peak)}
    np.testing.assert_allclose(got, ref, **tol, err_msg=msg)


def _params(ids):
    return [pytest.param(i, marks=pytest.mark.xfail(strict=True, reason=KNOWN[i])) if i in KNOWN else i
            for i in ids]


def _run_case(spec, monkeypatch) -> set[str]:
    """Compare one case with torch (forward, and for ``grad`` cases every gradient); return the
    paths convscope took."""
    if spec["chunk_bytes"] is not None:
        monkeypatch.setattr(conv_ops, "CHUNK_BYTES", spec["chunk_bytes"])
    rec = PathRecorder(monkeypatch)
    x, w, b = _arrays(spec)

    if spec["api"] == "module":
        ref_layer, layer = _layers(spec)
        got = _convscope_forward(spec, x, None, None, rec, layer)
        with torch.no_grad():
            tx = _t(x)
            ref = ref_layer(tx, output_size=_out_size(spec)) if spec["output_size"] else ref_layer(tx)
    elif spec["grad"]:
        xs, ws = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        bs = None if b is None else Tensor(b, requires_grad=True)
        got = _convscope_forward(spec, xs, ws, bs, rec)
        rec.run(lambda: got.backward(np.ones(got.shape, dtype=got.data.dtype)), stage="bwd/")
        tx, tw, tb = _t(x, True), _t(w, True), _t(b, True)
        ref = _torch_functional(spec, tx, tw, tb)
        ref.backward(torch.ones_like(ref))
        _check(xs.grad, tx.grad, spec, "input grad")
        _check(ws.grad, tw.grad, spec, "weight grad")
        if b is not None:
            _check(bs.grad, tb.grad, spec, "bias grad")
    else:
        got = _convscope_forward(spec, x, w, b, rec)
        with torch.no_grad():
            ref = _torch_functional(spec, _t(x), _t(w), _t(b))

    paths = rec.paths(spec)
    main = paths & set(MAIN_PATHS)
    assert len(main) == 1, f"expected one forward path, got {sorted(paths)}: {spec}"
    assert ref.shape == _output_size(spec), (ref.shape, spec)
    _check(got, ref, spec, f"forward via {sorted(paths)}")
    return paths


@pytest.mark.parametrize("case", _params(SPECS))
def test_conv_matches_torch(case, monkeypatch):
    RECORDED[case] = _run_case(SPECS[case], monkeypatch)


def test_every_path_is_exercised(monkeypatch):
    """Over the generated set, every path is taken at least ``MIN_HITS`` times (cases that have not
    run in this session, e.g. under ``-k``, are re-run forward-only to learn their path)."""
    counts = collections.Counter()
    for case, spec in SPECS.items():
        paths = RECORDED.get(case)
        if paths is None:
            with monkeypatch.context() as m:
                if spec["chunk_bytes"] is not None:
                    m.setattr(conv_ops, "CHUNK_BYTES", spec["chunk_bytes"])
                rec = PathRecorder(m)
                x, w, b = _arrays(spec)
                layer = _layers(spec)[1] if spec["api"] == "module" else None
                _convscope_forward(spec, x, w, b, rec, layer)  # forward paths only
                paths = rec.paths(spec)
        counts.update(paths)
    missing = {tag: counts[tag] for tag in REQUIRED if counts[tag] < MIN_HITS}
    assert not missing, f"paths exercised too rarely: {missing}; all counts: {dict(counts)}"


@pytest.mark.parametrize("seed", range(40))
def test_empty_subpixel_phases_counts_the_phases_no_tap_reaches(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    k, s, d = (tuple(int(v) for v in rng.integers(1, hi, n)) for hi in (5, 9, 4))
    # inputs long enough that every phase has output positions
    g = conv_geometry((1, 1) + (12,) * n, (1, 1) + k, n=n, stride=s, dilation=d, transposed=True)
    empty = sum(conv_g is None for _, conv_g, _ in conv_ops._subpixel_classes(g))
    assert conv_ops._empty_subpixel_phases(g) == empty, (k, s, d)


@pytest.mark.parametrize("stride,dilation,n", [(1000, 1, 1), (10**5, 2, 1), (97, 3, 2), (20, 1, 3)])
def test_transposed_conv_with_a_stride_far_beyond_the_kernel(stride, dilation, n):
    """Most output phases hold only the bias: the scatter path takes it (no Python work per phase)."""
    rng = np.random.default_rng(stride)
    x = rng.standard_normal((2, 3) + (4,) * n)
    w = rng.standard_normal((3, 2) + (3,) * n)
    b = rng.standard_normal(2)
    kw = dict(stride=stride, padding=1, dilation=dilation, output_padding=stride - 1)
    g = conv_geometry(x.shape, w.shape, n=n, transposed=True, **kw)
    assert conv_ops._empty_subpixel_phases(g) >= conv_ops.SUBPIXEL_MAX_EMPTY_PHASES
    xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    op = getattr(CF, f"conv_transpose{n}d")
    out = op(xt, wt, b, **kw)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = getattr(torch.nn.functional, f"conv_transpose{n}d")(tx, tw, torch.tensor(b), **kw)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
