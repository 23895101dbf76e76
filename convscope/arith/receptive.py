"""Receptive fields and dilation gridding.

Per spatial dimension, a layer stack's receptive field is tracked with the "jump/start"
recurrences of Dumoulin & Visin's guide, in input pixel units (pixel ``i`` has its centre at
``i + 0.5``), starting from ``size = 1, jump = 1, start = 0.5``:

- convolution or pooling (kernel ``k``, stride ``s``, low padding ``p``, dilation ``d``), with
  ``k_eff = d*(k-1) + 1``::

      jump'  = jump * s
      size'  = size + (k_eff - 1) * jump
      start' = start + ((k_eff - 1)/2 - p) * jump

- transposed convolution (the inverse map: an output unit at ``o`` sits at input coordinate
  ``(o - (k_eff - 1)/2 + p) / s``); each output reads the taps ``t`` with ``t*d + o + p``
  divisible by ``s``, spanning at most ``span`` input units (computed exactly over the ``s``
  phases)::

      jump'  = jump / s
      size'  = size + (span - 1) * jump
      start' = start + ((p - (k_eff - 1)/2) / s) * jump

- resizing with source step ``r = in/out`` (nearest reads one input per output, linear two,
  bicubic four: ``taps``)::

      jump'  = jump * r
      size'  = size + (taps - 1) * jump
      start' = start + (r - 1)/2 * jump        (start' = start with align_corners)

``size`` is the extent of input pixels that can influence one output unit, ``jump`` the distance
between neighbouring output units in input pixels, ``start`` the centre of output unit 0's field.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["ReceptiveField", "rf_input", "rf_conv", "rf_conv_transpose", "rf_resize", "rf_global",
           "transposed_span", "gridding_map", "grids", "hdc_valid", "suggest_dilations"]


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field per spatial dimension: ``size``, ``jump`` and ``start`` (see the module doc)."""
    size: tuple[float, ...]
    jump: tuple[float, ...]
    start: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"size": [_number(v) for v in self.size], "jump": [_number(v) for v in self.jump],
                "start": [_number(v) for v in self.start]}


def _number(value: float):
    return int(value) if float(value).is_integer() else float(value)


def rf_input(ndim: int) -> ReceptiveField:
    """The field of an input pixel: itself."""
    return ReceptiveField((1,) * ndim, (1,) * ndim, (0.5,) * ndim)


def rf_conv(rf: ReceptiveField, kernel: Sequence[int], stride: Sequence[int], padding_lo: Sequence[int],
            dilation: Sequence[int]) -> ReceptiveField:
    """After a convolution or pooling layer.

    >>> rf_conv(rf_input(1), (3,), (2,), (1,), (1,))
    ReceptiveField(size=(3,), jump=(2,), start=(0.5,))
    """
    size, jump, start = [], [], []
    for r, j, c, k, s, p, d in zip(rf.size, rf.jump, rf.start, kernel, stride, padding_lo, dilation):
        extent = d * (k - 1) + 1
        size.append(r + (extent - 1) * j)
        jump.append(j * s)
        start.append(c + ((extent - 1) / 2 - p) * j)
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))


def transposed_span(kernel: int, stride: int, dilation: int) -> int:
    """Most input units one output of a transposed convolution reads, over the ``stride`` phases:
    taps ``t`` whose offsets ``t*d`` share a residue modulo ``s`` land on inputs ``t*d/s`` apart.

    >>> transposed_span(4, 2, 1), transposed_span(3, 2, 1), transposed_span(1, 2, 1)
    (2, 2, 1)
    """
    span = 1
    for residue in range(stride):
        taps = [t for t in range(kernel) if (t * dilation) % stride == residue]
        if taps:
            span = max(span, (max(taps) - min(taps)) * dilation // stride + 1)
    return span


def rf_conv_transpose(rf: ReceptiveField, kernel: Sequence[int], stride: Sequence[int], padding_lo: Sequence[int],
                      dilation: Sequence[int]) -> ReceptiveField:
    """After a transposed convolution (the jump becomes fractional when the stride is above 1).

    >>> rf_conv_transpose(rf_input(1), (4,), (2,), (1,), (1,))
    ReceptiveField(size=(2,), jump=(0.5,), start=(0.25,))
    """
    size, jump, start = [], [], []
    for r, j, c, k, s, p, d in zip(rf.size, rf.jump, rf.start, kernel, stride, padding_lo, dilation):
        extent = d * (k - 1) + 1
        size.append(r + (transposed_span(k, s, d) - 1) * j)
        jump.append(j / s)
        start.append(c + ((p - (extent - 1) / 2) / s) * j)
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))


def rf_resize(rf: ReceptiveField, ratio: Sequence[float], mode: str, align_corners: bool = False) -> ReceptiveField:
    """After resizing with source step ``ratio = in/out`` per dimension: nearest reads 1 input per
    output, linear 2, bicubic 4 (their extent in input units).  Output 0 sits at input coordinate
    ``0.5*ratio`` (pixel-centre convention; ``0`` with ``align_corners``)."""
    taps = {"nearest": 1, "nearest-exact": 1, "area": None, "linear": 2, "bilinear": 2, "trilinear": 2,
            "bicubic": 4}[mode]
    size, jump, start = [], [], []
    for r, j, c, q in zip(rf.size, rf.jump, rf.start, ratio):
        reads = math.ceil(q) if taps is None else taps
        size.append(r + (reads - 1) * j)
        jump.append(j * q)
        offset = 0.0 if align_corners else (q - 1) / 2
        start.append(c + offset * j)
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))


def rf_global(extent: Sequence[int]) -> ReceptiveField:
    """A unit that sees the whole input (after global pooling, flatten or a fully connected layer)."""
    return ReceptiveField(tuple(extent), tuple(extent), tuple(e / 2 for e in extent))


def gridding_map(layers: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """Number of paths from one output unit to each input offset, along one dimension, for a stack
    of ``(kernel, stride, dilation)`` layers (first layer first).  Zeros inside the span are holes:
    input pixels inside the receptive field that no path reaches ("gridding").

    >>> gridding_map([(3, 1, 2), (3, 1, 2)]).tolist()
    [1, 0, 2, 0, 3, 0, 2, 0, 1]
    """
    jumps, jump = [], 1
    for _, stride, _ in layers:  # each layer's taps are `jump` input pixels apart
        jumps.append(jump)
        jump *= stride
    paths = np.ones(1, dtype=np.int64)
    for (kernel, stride, dilation), j in zip(reversed(layers), reversed(jumps)):
        taps = np.zeros(dilation * j * (kernel - 1) + 1, dtype=np.int64)
        taps[::dilation * j] = 1
        paths = np.convolve(paths, taps)
    return paths


def grids(layers: Sequence[tuple[int, int, int]]) -> bool:
    """Whether the stack leaves holes in its receptive field (see :func:`gridding_map`)."""
    return bool((gridding_map(layers) == 0).any())


def hdc_valid(rates: Sequence[int], kernel: int = 3) -> bool:
    """Wang et al.'s hybrid dilated convolution rule: no common factor above 1, and
    ``M_i = max(M_{i+1} - 2 r_i, M_{i+1} - 2 (M_{i+1} - r_i), r_i)`` from ``M_n = r_n`` gives ``M_2 <= k``.

    >>> hdc_valid([1, 2, 5]), hdc_valid([1, 2, 9]), hdc_valid([2, 4, 8])
    (True, False, False)
    """
    rates = list(rates)
    if math.gcd(*rates) > 1:
        return False
    if len(rates) < 2:
        return True
    m = rates[-1]
    for r in reversed(rates[1:-1]):
        m = max(m - 2 * r, m - 2 * (m - r), r)
    return m <= kernel


#: Most candidate sequences :func:`suggest_dilations` examines.
SEARCH_LIMIT = 200_000


def suggest_dilations(rates: Sequence[int], kernel: int = 3, count: int = 3, max_rate: int | None = None) -> list[list[int]]:
    """Dilation sequences of the same length that leave no holes (checked with the gridding map)
    and pass the HDC rule, closest in receptive field to ``rates`` first.

    >>> suggest_dilations([2, 2, 2])[0]
    [1, 2, 3]
    """
    n = len(rates)
    target = 1 + sum((kernel - 1) * r for r in rates)
    limit = max_rate or max(max(rates) * 2, 5)
    while limit > 2 and math.comb(limit + n - 1, n) > SEARCH_LIMIT:  # keep the search bounded
        limit -= 1
    if math.comb(limit + n - 1, n) > SEARCH_LIMIT:
        return []
    found = []
    for candidate in itertools.combinations_with_replacement(range(1, limit + 1), n):
        candidate = list(candidate)
        if not hdc_valid(candidate, kernel) or grids([(kernel, 1, r) for r in candidate]):
            continue
        field = 1 + sum((kernel - 1) * r for r in candidate)
        found.append((abs(field - target), field < target, max(candidate), candidate))
    found.sort()
    return [c for *_, c in found[:count]]
