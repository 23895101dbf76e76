"""Step-by-step explanations: ``convscope explain OP ...``.

For a small configuration it prints the output-size derivation per dimension, the parameter
count with its formula, and every output element as the sum of its window times the kernel,
computed with the real ops (and checked against them).  A transposed convolution is shown
twice more: as the scatter-add of scaled kernel copies, and as an ordinary convolution of the
zero-inserted, padded input with the flipped kernel.
"""
from __future__ import annotations

import numpy as np

from . import arith
from . import functional as F

__all__ = ["explain_conv", "explain_conv_transpose", "explain_pool", "explain_upsample", "zero_inserted_input",
           "MAX_TERMS"]

MAX_TERMS = 12  # terms shown per output element before "..."


def _fmt(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else f"{v:.4g}"


def _grid(array: np.ndarray, indent: str = "  ") -> str:
    if array.ndim == 1:
        array = array[None]
    width = max(len(_fmt(v)) for v in array.ravel())
    return "\n".join(indent + " ".join(f"{_fmt(v):>{width}}" for v in row) for row in array.reshape(-1, array.shape[-1]))


def _sum_text(terms: list[tuple[str, float, float]], total: float) -> str:
    shown = [f"{_fmt(a)}*{_fmt(b)}" for _, a, b in terms[:MAX_TERMS]]
    more = f" + ... ({len(terms) - MAX_TERMS} more)" if len(terms) > MAX_TERMS else ""
    return " + ".join(shown) + more + f" = {_fmt(total)}"


def explain_conv(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups: int = 1,
                 max_outputs: int = 16) -> str:
    """Explain ``conv{n}d(x, w, stride, padding, dilation, groups)`` for a batched ``x``."""
    n = x.ndim - 2
    g = arith.conv_geometry(x.shape, w.shape, n=n, stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = getattr(F, f"conv{n}d")(x, w, None, stride, padding, dilation, groups)
    lines = [f"conv{n}d: input {x.shape}, weight {w.shape}, stride {g.stride}, padding {g.padding}, "
             f"dilation {g.dilation}, groups {groups}", "", "output size per dimension:"]
    for j, (i, k, s, (lo, hi), d) in enumerate(zip(g.input_size, g.kernel_size, g.stride, g.padding, g.dilation)):
        lines.append(f"  dim {j}: " + arith.conv_size_derivation(i, k, s, lo, hi, d))
    lines += ["", arith.param_derivation(g.in_channels, g.out_channels, g.kernel_size, groups, False) + " (no bias)",
              f"MACs = N * C_out * prod(out) * (C_in/groups) * prod(k) = {g.macs():,}", "", "input:", _grid(x[0]),
              "kernel:", _grid(w), "", "each output element = sum over its window (input * kernel):"]
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    shown = 0
    for co in range(g.out_channels):
        group = co // cout_g
        for o in np.ndindex(*g.output_size):
            terms = []
            for ci in range(cin_g):
                c = group * cin_g + ci
                for t in np.ndindex(*g.kernel_size):
                    pos = tuple(oj * s + tj * d - lo for oj, tj, s, d, (lo, _) in
                                zip(o, t, g.stride, g.dilation, g.padding))
                    inside = all(0 <= p < size for p, size in zip(pos, g.input_size))
                    value = x[(0, c) + pos] if inside else 0.0
                    terms.append((f"x[{c}, {pos}]", value, w[(co, ci) + t]))
            total = sum(a * b for _, a, b in terms)
            assert np.isclose(total, out[(0, co) + o]), "internal error: the trace disagrees with the op"
            lines.append(f"  out[{co}, {', '.join(map(str, o))}] = " + _sum_text(terms, total))
            shown += 1
            if shown >= max_outputs:
                lines.append(f"  ... ({out[0].size - shown} more output elements)")
                return "\n".join(lines + ["", "output:", _grid(out[0])])
    return "\n".join(lines + ["", "output:", _grid(out[0])])


def zero_inserted_input(x: np.ndarray, kernel, stride, padding_pairs, dilation, output_padding) -> np.ndarray:
    """The input of the direct convolution equivalent to a transposed one: ``s-1`` zeros between
    input elements, then ``d*(k-1) - p_lo`` zeros before and ``d*(k-1) - p_hi + output_padding`` after
    (negative amounts crop)."""
    n = x.ndim - 2
    plan = [arith.zero_insertion(i, k, s, p, d, o) for i, k, s, p, d, o in
            zip(x.shape[2:], kernel, stride, padding_pairs, dilation, output_padding)]
    spread = np.zeros(x.shape[:2] + tuple(size for size, _, _ in plan), dtype=x.dtype)
    spread[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = x
    flat = [amount for j in reversed(range(n)) for amount in plan[j][1:]]
    return F.pad(spread, tuple(flat))


def explain_conv_transpose(x: np.ndarray, w: np.ndarray, stride, padding, output_padding, dilation,
                           groups: int = 1) -> str:
    """Explain ``conv_transpose{n}d`` three ways: size derivation, scatter of kernel copies, and the
    equivalent direct convolution of the zero-inserted input with the flipped kernel."""
    n = x.ndim - 2
    g = arith.conv_geometry(x.shape, w.shape, n=n, stride=stride, padding=padding, dilation=dilation, groups=groups,
                            output_padding=output_padding, transposed=True)
    out = getattr(F, f"conv_transpose{n}d")(x, w, None, stride, padding, output_padding, groups, dilation)
    lines = [f"conv_transpose{n}d: input {x.shape}, weight {w.shape}, stride {g.stride}, padding {g.padding}, "
             f"output_padding {g.output_padding}, dilation {g.dilation}, groups {groups}", "",
             "output size per dimension:"]
    for j, (i, k, s, (lo, hi), d, op) in enumerate(zip(g.input_size, g.kernel_size, g.stride, g.padding, g.dilation,
                                                       g.output_padding)):
        lines.append(f"  dim {j}: " + arith.conv_transpose_size_derivation(i, k, s, lo, hi, d, op))
    lines += ["", arith.param_derivation(g.in_channels, g.out_channels, g.kernel_size, groups, False, True)
              + " (no bias)", f"MACs = N * C_in * prod(in) * (C_out/groups) * prod(k) = {g.macs():,}", "",
              "1) scatter: every input element adds a copy of the kernel, scaled by it, to the output",
              "   at rows/columns i*s + t*d - p_lo (parts outside the output are dropped):"]
    cin_g = g.in_channels // groups
    for ci in range(g.in_channels):
        for i in np.ndindex(*g.input_size):
            value = x[(0, ci) + i]
            start = tuple(ij * s - lo for ij, s, (lo, _) in zip(i, g.stride, g.padding))
            lines.append(f"   x[{ci}, {', '.join(map(str, i))}] = {_fmt(value)} -> adds {_fmt(value)} * kernel "
                         f"at output offset {start} (step {g.dilation})")
    flipped = np.flip(w, axis=tuple(range(2, w.ndim)))
    per_group = flipped.reshape((groups, cin_g, g.out_channels // groups) + g.kernel_size)
    direct_w = per_group.swapaxes(1, 2).reshape((g.out_channels, cin_g) + g.kernel_size)
    z = zero_inserted_input(x, g.kernel_size, g.stride, g.padding, g.dilation, g.output_padding)
    direct = getattr(F, f"conv{n}d")(z, np.ascontiguousarray(direct_w), None, 1, 0, g.dilation, groups)
    assert np.allclose(direct, out), "internal error: the zero-inserted convolution disagrees"
    lines += ["", "2) the same as a direct convolution (stride 1, dilation d) of the zero-inserted, padded input",
              f"   with the kernel flipped in every spatial dimension (in/out channels swapped); input {z.shape}:",
              _grid(z[0], "   "), "", "output:", _grid(out[0])]
    return "\n".join(lines)


def explain_pool(x: np.ndarray, kind: str, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                 count_include_pad=True, max_outputs: int = 16) -> str:
    """Explain ``max_pool{n}d`` / ``avg_pool{n}d``: the windows (hanging over the edge with ceil_mode)."""
    n = x.ndim - 2
    g = arith.pool_geometry(x.shape[2:], kernel, stride, padding, dilation if kind == "max" else 1, ceil_mode)
    if kind == "max":
        out = getattr(F, f"max_pool{n}d")(x, g.kernel_size, g.stride, g.padding, g.dilation, ceil_mode)
    else:
        out = getattr(F, f"avg_pool{n}d")(x, g.kernel_size, g.stride, g.padding, ceil_mode, count_include_pad)
    lines = [f"{kind}_pool{n}d: input {x.shape}, kernel {g.kernel_size}, stride {g.stride}, padding {g.padding}, "
             f"dilation {g.dilation}, ceil_mode {ceil_mode}", "", "output size per dimension:"]
    for j, (i, k, s, p, d) in enumerate(zip(g.input_size, g.kernel_size, g.stride, g.padding, g.dilation)):
        lines.append(f"  dim {j}: " + arith.pool_size_derivation(i, k, s, p, d, ceil_mode))
    lines += ["", "input (channel 0):", _grid(x[0, 0]), "", "each output element of channel 0:"]
    divisors = [arith.avg_pool_divisor_factors(i, o, k, s, p, count_include_pad)
                for i, o, k, s, p in zip(g.input_size, g.output_size, g.kernel_size, g.stride, g.padding)]
    for count, o in enumerate(np.ndindex(*g.output_size)):
        if count >= max_outputs:
            lines.append(f"  ... ({int(np.prod(g.output_size)) - count} more)")
            break
        values = []
        for t in np.ndindex(*g.kernel_size):
            pos = tuple(oj * s + tj * d - p for oj, tj, s, d, p in zip(o, t, g.stride, g.dilation, g.padding))
            if all(0 <= q < size for q, size in zip(pos, g.input_size)):
                values.append(x[(0, 0) + pos])
        shown = ", ".join(_fmt(v) for v in values)
        if kind == "max":
            lines.append(f"  out[{', '.join(map(str, o))}] = max({shown}) = {_fmt(out[(0, 0) + o])}")
        else:
            divisor = int(np.prod([f[oj] for f, oj in zip(divisors, o)]))
            lines.append(f"  out[{', '.join(map(str, o))}] = ({' + '.join(_fmt(v) for v in values)}) / {divisor} "
                         f"= {_fmt(out[(0, 0) + o])}")
    return "\n".join(lines + ["", "output (channel 0):", _grid(out[0, 0])])


def explain_upsample(x: np.ndarray, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                     max_outputs: int = 16) -> str:
    """Explain ``interpolate``: for each output element, its source pixels and their weights."""
    from .ops.resize import resize_taps
    n = x.ndim - 2
    out = F.interpolate(x, size, scale_factor, mode, align_corners)
    output_size = out.shape[2:]
    factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
    scales = (None,) * n if size is not None else tuple(float(f) for f in factors)
    if mode == "area":  # adaptive average pooling: window j of a dimension averages [start, end)
        taps = {}
        for j, (i, o) in enumerate(zip(x.shape[2:], output_size)):
            windows = arith.adaptive_windows(i, o)
            width = max(end - start for start, end in windows)
            idx = np.array([[min(start + k, end - 1) for start, end in windows] for k in range(width)])
            w = np.array([[1.0 / (end - start) if start + k < end else 0.0 for start, end in windows]
                          for k in range(width)])
            taps[2 + j] = (idx, w)
    else:
        taps = {axis: (idx, w) for axis, idx, w in resize_taps(x, output_size, mode, bool(align_corners), scales)}
    lines = [f"interpolate ({mode}{', align_corners' if align_corners else ''}): input {x.shape} -> {out.shape}",
             "", "input (channel 0):", _grid(x[0, 0]), "", "each output element of channel 0 "
             "(source index: weight):"]
    for count, o in enumerate(np.ndindex(*output_size)):
        if count >= max_outputs:
            lines.append(f"  ... ({int(np.prod(output_size)) - count} more)")
            break
        per_dim = []
        for j, oj in enumerate(o):
            idx, w = taps.get(2 + j, (np.array([[oj]]), np.ones((1, 1))))
            merged = {}
            for k in range(idx.shape[0]):
                if w[k, oj] != 0:
                    merged[int(idx[k, oj])] = merged.get(int(idx[k, oj]), 0.0) + float(w[k, oj])
            per_dim.append(merged)
        terms, total = [], 0.0
        for combo in np.ndindex(*[len(m) for m in per_dim]):
            position = tuple(list(m)[c] for m, c in zip(per_dim, combo))
            weight = float(np.prod([m[p] for m, p in zip(per_dim, position)]))
            value = x[(0, 0) + position]
            terms.append(f"{_fmt(weight)}*x{list(position)}")
            total += weight * value
        assert np.isclose(total, out[(0, 0) + o]), "internal error: the trace disagrees with the op"
        lines.append(f"  out[{', '.join(map(str, o))}] = {' + '.join(terms)} = {_fmt(out[(0, 0) + o])}")
    return "\n".join(lines + ["", "output (channel 0):", _grid(out[0, 0])])
