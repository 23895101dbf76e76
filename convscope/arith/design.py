"""Inverse design: which kernel, stride, padding and dilation take a size ``i`` to a size ``o``.

Solved from the output-size formulas of :mod:`convscope.arith.conv` (symmetric padding ``p`` per
side, as PyTorch's layers take it):

- convolution: ``floor((i + 2p - d(k-1) - 1) / s) + 1 = o``, i.e. for given ``k, s, d`` every
  ``p`` with ``s(o-1) <= i + 2p - d(k-1) - 1 <= s(o-1) + s - 1``;
- transposed convolution: ``(i-1)s - 2p + d(k-1) + output_padding + 1 = o`` with
  ``output_padding < s or < d``.

Every answer is re-checked with the forward formula before it is returned.
"""
from __future__ import annotations

from dataclasses import dataclass

from .conv import conv_output_size, conv_transpose_output_size

__all__ = ["Design", "design", "size_preserving_paddings", "DesignError", "SEARCH_LIMIT"]

#: Most configurations :func:`design` enumerates.
SEARCH_LIMIT = 2_000_000


class DesignError(ValueError):
    """No configuration in the given ranges reaches the wanted size (the message says why)."""


@dataclass(frozen=True)
class Design:
    op: str
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    output_padding: int = 0

    @property
    def formula(self) -> str:
        k, s, p, d, op = self.kernel_size, self.stride, self.padding, self.dilation, self.output_padding
        if self.op == "conv":
            return f"floor((i + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1"
        return f"(i-1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1"

    def to_dict(self) -> dict:
        return {"op": self.op, "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "output_padding": self.output_padding, "formula": self.formula}


def _range(value, name: str) -> range:
    lo, hi = (value, value) if isinstance(value, int) else value
    if lo > hi or lo < 0:
        raise DesignError(f"invalid {name} range {value!r}: expected (low, high) with 0 <= low <= high")
    return range(lo, hi + 1)


def design(input_size: int, output_size: int, op: str = "conv", kernel=(1, 7), stride=(1, 4), padding=(0, 3),
           dilation=(1, 1), output_padding=(0, 0), limit: int = 50) -> list[Design]:
    """Every ``(kernel, stride, padding, dilation[, output_padding])`` in the given inclusive ranges that
    maps ``input_size`` to ``output_size``, smallest kernel first (then stride, dilation, padding).
    ``output_padding`` (transposed only) is searched in its range, below the stride or dilation.

    >>> [d.padding for d in design(32, 32, kernel=3, stride=1, padding=(0, 3))]
    [1]
    >>> d = design(10, 320, "transposed", kernel=(1, 64), stride=(1, 32), padding=(0, 16))
    >>> (d[0].kernel_size, d[0].stride, d[0].padding), (d[-1].kernel_size, d[-1].stride, d[-1].padding)
    ((32, 32, 0), (64, 32, 16))
    """
    if op not in ("conv", "transposed"):
        raise DesignError(f"op must be 'conv' or 'transposed', got {op!r}")
    if input_size < 1 or output_size < 1:
        raise DesignError(f"sizes must be positive, got input {input_size} and output {output_size}")
    kernels, strides = _range(kernel, "kernel"), _range(stride, "stride")
    output_paddings = _range(output_padding, "output_padding")
    paddings, dilations = _range(padding, "padding"), _range(dilation, "dilation")
    if kernels.start < 1 or strides.start < 1 or dilations.start < 1:
        raise DesignError("kernel, stride and dilation ranges must start at 1 or more")
    space = len(kernels) * len(strides) * len(paddings) * len(dilations) * (len(output_paddings) if op != "conv" else 1)
    if space > SEARCH_LIMIT:
        raise DesignError(f"the ranges span {space:,} configurations, more than {SEARCH_LIMIT:,}: narrow a range")
    found = []
    for k in kernels:
        for s in strides:
            for d in dilations:
                if op == "conv":
                    for p in paddings:
                        if conv_output_size(input_size, k, s, p, d) == output_size:
                            found.append(Design("conv", k, s, p, d))
                else:
                    for out_pad in (v for v in output_paddings if v < s or v < d):
                        for p in paddings:
                            if conv_transpose_output_size(input_size, k, s, p, out_pad, d) == output_size:
                                found.append(Design("transposed", k, s, p, d, out_pad))
    found.sort(key=lambda x: (x.kernel_size, x.stride, x.dilation, x.padding, x.output_padding))
    if not found:
        raise DesignError(_explain_failure(input_size, output_size, op, kernels, strides, paddings, dilations,
                                           output_paddings))
    return found[:limit]


def _explain_failure(i, o, op, kernels, strides, paddings, dilations, output_paddings) -> str:
    if op == "conv":
        reach = sorted({conv_output_size(i, k, s, p, d) for k in kernels for s in strides for p in paddings
                        for d in dilations})
    else:  # output_padding (below the stride or the dilation) reaches sizes past the plain ones
        reach = sorted({conv_transpose_output_size(i, k, s, p, q, d) for k in kernels for s in strides
                        for p in paddings for d in dilations for q in output_paddings if q == 0 or q < s or q < d})
    reach = [r for r in reach if r >= 1]
    lo, hi = (reach[0], reach[-1]) if reach else (None, None)
    where = "above" if hi is not None and o > hi else "below" if lo is not None and o < lo else "between"
    return (f"no {op} configuration maps {i} to {o} within kernel {kernels.start}..{kernels.stop - 1}, stride "
            f"{strides.start}..{strides.stop - 1}, padding {paddings.start}..{paddings.stop - 1}, dilation "
            f"{dilations.start}..{dilations.stop - 1}: reachable output sizes span {lo}..{hi}, so {o} is "
            f"{where} them" + (f" (by {o - hi})" if where == "above" else f" (by {lo - o})" if where == "below"
                               else "") + "; widen a range")


def size_preserving_paddings(kernel_size: int, dilation: int = 1) -> list[tuple[int, int]]:
    """``(low, high)`` paddings that keep the size unchanged at stride 1: ``low + high = d*(k-1)``,
    most balanced first (PyTorch's ``'same'`` is the first: the extra element goes high).

    >>> size_preserving_paddings(4)[:2]
    [(1, 2), (2, 1)]
    """
    total = dilation * (kernel_size - 1)
    pairs = [(lo, total - lo) for lo in range(total + 1)]
    return sorted(pairs, key=lambda pair: (abs(pair[0] - pair[1]), pair[0] > pair[1]))
