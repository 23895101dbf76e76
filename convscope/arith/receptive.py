"""Receptive fields and dilation gridding.

Per spatial dimension, the field of a layer stack is computed exactly, phase by phase.  Input pixel
``i`` covers ``[i, i + 1)`` (its centre is ``i + 0.5``).  Output unit ``u`` of a layer reads a set
of units of the layer's input (its taps); the stack's field of ``u`` is the hull ``[lo(u), hi(u)]``
of the input pixels it reaches, in the unclipped geometry (padding and the clamped borders of
resizing count as pixels outside the input, so every unit's field is the interior one).  Every
layer here reads the same taps, shifted, every ``period`` output units (a convolution: 1; a
transposed convolution: its stride; resizing by a step ``a/b``: ``b``), so the stack's hulls repeat
too: unit ``u + period`` reads ``shift`` pixels further (:class:`Phases`).  From them:

- ``size``: the widest hull over all output units (all phases), ``max(hi - lo + 1)``;
- ``jump``: the distance between neighbouring output units in input pixels, ``shift / period``;
- ``start``: the centre of output unit 0's hull, ``(lo(0) + hi(0) + 1) / 2`` (when unit 0 reads
  nothing, as some phases of a transposed convolution with a dilation sharing a factor with the
  stride do, the centre of the nearest unit that reads something, less its distance times ``jump``).

The taps of each layer (``k_eff = d*(k-1) + 1``):

- convolution or pooling (kernel ``k``, stride ``s``, low padding ``p``, dilation ``d``): unit
  ``u`` reads ``s*u - p + t*d`` for ``t < k``.  With an integer jump every unit is alike, and this is
  Dumoulin & Visin's recurrence ``jump' = jump*s``, ``size' = size + (k_eff - 1)*jump``,
  ``start' = start + ((k_eff - 1)/2 - p)*jump``;
- transposed convolution: output ``o`` reads the inputs ``(o + p - t*d) / s`` that are integers
  (``s`` phases; with the input's own field the size grows by ``(transposed_span - 1)*jump``);
- resizing with source step ``q`` per output step (``resize_source_step``): ``x = (u + 1/2)*q - 1/2``
  (``x = u*q`` with align_corners); nearest reads ``floor(u*q)``, nearest-exact
  ``floor((u + 1/2)*q)``, linear ``floor(x)`` and ``floor(x) + 1`` (one input when ``x`` is an
  integer), bicubic ``floor(x) - 1 .. floor(x) + 2`` (one when ``x`` is an integer), area (adaptive
  pooling) ``floor(u*q) .. ceil((u + 1)*q) - 1``.

A sum or concatenation of arrays (a residual connection) has the union of its operands' fields:
unit by unit when their jumps agree (:func:`rf_union`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

import numpy as np

from .pool import adaptive_windows

__all__ = ["ReceptiveField", "Phases", "rf_input", "rf_conv", "rf_conv_transpose", "rf_resize", "rf_global",
           "rf_union", "resize_source_step", "transposed_span", "gridding_map", "grids", "hdc_valid", "suggest_dilations"]


#: Most output units one period of a field may span (:class:`Phases`); a stack whose phases repeat
#: more rarely (resizing steps with large coprime denominators) raises ``ValueError``.
PERIOD_LIMIT = 1 << 16


@dataclass(frozen=True)
class Phases:
    """One dimension of a field, exactly: output unit ``u = m*period + r`` reaches the input pixels
    ``lo[r] + m*shift`` to ``hi[r] + m*shift`` (its hull; ``None`` when it reads nothing)."""
    period: int
    shift: int
    lo: tuple
    hi: tuple

    def hull(self, unit: int) -> tuple[int, int] | None:
        """``(lo, hi)`` of output ``unit`` (any integer: the unclipped geometry), or ``None``."""
        m, r = divmod(unit, self.period)
        if self.lo[r] is None:
            return None
        return self.lo[r] + m * self.shift, self.hi[r] + m * self.shift

    @property
    def size(self) -> int:
        return max((h - l + 1 for l, h in zip(self.lo, self.hi) if l is not None), default=0)

    @property
    def jump(self) -> Fraction:
        return Fraction(self.shift, self.period)

    @property
    def start(self) -> Fraction:
        for distance in range(self.period):
            for unit in (distance, -distance):
                hull = self.hull(unit)
                if hull is not None:
                    return Fraction(hull[0] + hull[1] + 1, 2) - unit * self.jump
        return Fraction(1, 2)


def _integral(value):
    return int(value) if value == int(value) else float(value)


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field per spatial dimension: ``size``, ``jump`` and ``start`` (see the module doc).

    ``phases`` holds the exact per-unit hulls the three numbers come from (one :class:`Phases` per
    dimension); :meth:`hull` reads them.  Fields compare by ``size``, ``jump`` and ``start``."""
    size: tuple[float, ...]
    jump: tuple[float, ...]
    start: tuple[float, ...]
    phases: tuple[Phases, ...] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"size": [_number(v) for v in self.size], "jump": [_number(v) for v in self.jump],
                "start": [_number(v) for v in self.start]}

    def hull(self, unit: Sequence[int]) -> tuple[tuple[int, int] | None, ...]:
        """Per dimension, the first and last input pixel output ``unit`` reaches (unclipped), or
        ``None`` where it reads nothing.

        >>> rf_conv(rf_input(1), (3,), (2,), (1,), (1,)).hull((4,))
        ((7, 9),)
        """
        return tuple(p.hull(u) for p, u in zip(_phases(self), unit))

    @property
    def period(self) -> tuple[int, ...]:
        """Per dimension, how many output units apart the hulls repeat (shifted by ``period * jump``)."""
        return tuple(p.period for p in _phases(self))


def _number(value: float):
    return int(value) if float(value).is_integer() else float(value)


def _field(phases: Sequence[Phases]) -> ReceptiveField:
    phases = tuple(phases)
    return ReceptiveField(tuple(p.size for p in phases), tuple(_integral(p.jump) for p in phases),
                          tuple(float(p.start) for p in phases), phases)


def _rational(value) -> Fraction:
    """An exact step: Fractions and integers as they are, floats as the nearest small fraction
    (``0.4`` is ``2/5``, ``1/3`` is ``1/3``)."""
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    return Fraction(value).limit_denominator(PERIOD_LIMIT)


def _phases(rf: ReceptiveField) -> tuple[Phases, ...]:
    """The exact phases of ``rf``; a field built from ``size, jump, start`` alone is taken as the
    same hull ``size`` wide at every unit, centred at ``start + u*jump`` (rounded down to pixels)."""
    if rf.phases is not None:
        return rf.phases
    out = []
    for size, jump, start in zip(rf.size, rf.jump, rf.start):
        step, width = _rational(jump), math.ceil(size)
        lo = tuple(math.floor(_rational(start) - Fraction(width, 2) + r * step) for r in range(step.denominator))
        out.append(Phases(step.denominator, step.numerator, lo, tuple(v + width - 1 for v in lo)))
    return tuple(out)


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _shifted(value, step):
    return None if value is None else value + step


def _reduced(period: int, shift: int, lo: list, hi: list) -> Phases:
    """The same hulls with their shortest period."""
    for p in _divisors(period):
        if (shift * p) % period:
            continue
        step = shift * p // period
        if all(_shifted(lo[u], step) == lo[u + p] and _shifted(hi[u], step) == hi[u + p]
               for u in range(period - p)):
            return Phases(p, step, tuple(lo[:p]), tuple(hi[:p]))
    return Phases(period, shift, tuple(lo), tuple(hi))  # not reached: p = period always matches


def _compose(prev: Phases, period: int, shift: int, taps: Sequence[Sequence[int]]) -> Phases:
    """``prev`` followed by a layer whose output unit ``m*period + r`` reads the units
    ``taps[r] + m*shift`` of its input."""
    repeat = prev.period // math.gcd(shift, prev.period)   # layer periods until prev's phases repeat too
    total = period * repeat
    if total > PERIOD_LIMIT:
        raise ValueError(f"receptive field: the phases of this stack repeat every {total:,} output units, "
                         f"more than PERIOD_LIMIT = {PERIOD_LIMIT:,}")
    lo, hi = [], []
    for u in range(total):
        m, r = divmod(u, period)
        reached = [prev.hull(v + m * shift) for v in taps[r]]
        reached = [h for h in reached if h is not None]
        lo.append(min((h[0] for h in reached), default=None))
        hi.append(max((h[1] for h in reached), default=None))
    return _reduced(total, repeat * shift // prev.period * prev.shift, lo, hi)


def rf_input(ndim: int) -> ReceptiveField:
    """The field of an input pixel: itself."""
    return _field([Phases(1, 1, (0,), (0,))] * ndim)


def rf_conv(rf: ReceptiveField, kernel: Sequence[int], stride: Sequence[int], padding_lo: Sequence[int],
            dilation: Sequence[int]) -> ReceptiveField:
    """After a convolution or pooling layer: unit ``u`` reads ``s*u - p + t*d``.

    >>> rf_conv(rf_input(1), (3,), (2,), (1,), (1,))
    ReceptiveField(size=(3,), jump=(2,), start=(0.5,))
    """
    return _field(_compose(ph, 1, s, [[t * d - p for t in range(k)]])
                  for ph, k, s, p, d in zip(_phases(rf), kernel, stride, padding_lo, dilation))


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
    """After a transposed convolution: output ``o`` reads the inputs ``(o + p - t*d) / s`` that are
    integers, so the jump becomes ``jump / s`` and the hulls differ from phase to phase.

    >>> rf = rf_conv_transpose(rf_input(1), (4,), (2,), (1,), (1,))
    >>> rf, rf.hull((0,)), rf.hull((1,))
    (ReceptiveField(size=(2,), jump=(0.5,), start=(0.0,)), ((-1, 0),), ((0, 1),))
    """
    out = []
    for ph, k, s, p, d in zip(_phases(rf), kernel, stride, padding_lo, dilation):
        taps = [[(r + p - t * d) // s for t in range(k) if (r + p - t * d) % s == 0] for r in range(s)]
        out.append(_compose(ph, s, 1, taps))
    return _field(out)


def resize_source_step(in_size: int, out_size: int, align_corners: bool = False, scale_factor: float | None = None,
                       mode: str = "nearest") -> Fraction:
    """The source step per output step of resizing (PyTorch's ``area_pixel_compute_scale``):
    ``(in - 1)/(out - 1)`` with align_corners (0 for one output), ``1/scale_factor`` when a scale
    factor is used as given, else ``in/out`` (always for ``area``, which is adaptive pooling).

    >>> resize_source_step(5, 7, scale_factor=1.5), resize_source_step(5, 7), resize_source_step(5, 9, True)
    (Fraction(2, 3), Fraction(5, 7), Fraction(1, 2))
    """
    if mode == "area":
        return Fraction(in_size, out_size)
    if align_corners:
        return Fraction(in_size - 1, out_size - 1) if out_size > 1 else Fraction(0)
    if scale_factor is not None and scale_factor > 0:
        return 1 / _rational(scale_factor)
    return Fraction(in_size, out_size)


def _resize_taps(q: Fraction, mode: str, align_corners: bool) -> list[list[int]]:
    """Input units read by the outputs ``0 .. denominator - 1`` of resizing with source step ``q``."""
    if mode == "area":  # adaptive pooling's windows over one period of q = in/out
        return [list(range(start, end)) for start, end in adaptive_windows(q.numerator, q.denominator)]
    taps = []
    for u in range(q.denominator):
        x = u * q if align_corners else (u + Fraction(1, 2)) * q - Fraction(1, 2)
        base = math.floor(x)
        if mode == "nearest":
            taps.append([math.floor(u * q)])
        elif mode == "nearest-exact":
            taps.append([math.floor((u + Fraction(1, 2)) * q)])
        elif x == base:  # on a source pixel: the other weights are 0
            taps.append([base])
        elif mode in ("linear", "bilinear", "trilinear"):
            taps.append([base, base + 1])
        elif mode == "bicubic":
            taps.append([base - 1, base, base + 1, base + 2])
        else:
            raise ValueError(f"rf_resize: unknown mode {mode!r}")
    return taps


def rf_resize(rf: ReceptiveField, ratio: Sequence[float], mode: str, align_corners: bool = False) -> ReceptiveField:
    """After resizing with source step ``ratio`` per dimension (``in/out``, or what
    :func:`resize_source_step` gives; floats are read as the nearest small fraction).  Nearest
    reads 1 input per output, linear 2, bicubic 4 (1 where the source position is a pixel), area
    (adaptive pooling) its window ``[floor(u*q), ceil((u+1)*q))``.

    >>> rf_resize(rf_input(1), (Fraction(5, 3),), "area").hull((0,)), rf_resize(rf_input(1), (5 / 3,), "area")
    (((0, 1),), ReceptiveField(size=(3,), jump=(1.6666666666666667,), start=(1.0,)))
    >>> rf_resize(rf_input(1), (1 / 3,), "nearest")
    ReceptiveField(size=(1,), jump=(0.3333333333333333,), start=(0.5,))
    """
    out = []
    for ph, q in zip(_phases(rf), ratio):
        q = _rational(q)
        out.append(_compose(ph, q.denominator, q.numerator, _resize_taps(q, mode, align_corners)))
    return _field(out)


def rf_global(extent: Sequence[int]) -> ReceptiveField:
    """A unit that sees the whole input (after global pooling, flatten or a fully connected layer)."""
    return _field(Phases(1, e, (0,), (e - 1,)) for e in extent)


def rf_union(fields: Sequence[ReceptiveField]) -> ReceptiveField:
    """The field of an elementwise combination (sum, product, concatenation) of arrays with these
    fields.  When their jumps agree, unit ``u`` reaches the union of what ``u`` reaches in each
    (``size`` is the widest such union); when they differ (the arrays do not line up unit by unit)
    the widest field stands for all.

    >>> a, b = rf_conv(rf_input(1), (3,), (2,), (1,), (1,)), rf_conv(rf_input(1), (1,), (2,), (0,), (1,))
    >>> rf_union([a, b]) == a, rf_union([b, rf_conv(rf_input(1), (2,), (2,), (0,), (1,))]).hull((0,))
    (True, ((0, 1),))
    """
    fields = list(fields)
    if len(fields) == 1:
        return fields[0]
    if len({len(f.size) for f in fields}) > 1 or len({f.jump for f in fields}) > 1:
        return max(fields, key=lambda f: math.prod(f.size))
    out = []
    for dims in zip(*(_phases(f) for f in fields)):
        period = math.lcm(*(p.period for p in dims))
        if period > PERIOD_LIMIT:
            raise ValueError(f"receptive field: the union repeats every {period:,} output units, "
                             f"more than PERIOD_LIMIT = {PERIOD_LIMIT:,}")
        hulls = [[h for h in (p.hull(u) for p in dims) if h is not None] for u in range(period)]
        out.append(_reduced(period, period * dims[0].shift // dims[0].period,
                            [min((h[0] for h in hs), default=None) for hs in hulls],
                            [max((h[1] for h in hs), default=None) for hs in hulls]))
    return _field(out)


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
    # path counts reach prod(kernel): past int64, exact Python integers (45 3-tap layers: 3^45)
    dtype = np.int64 if math.prod(kernel for kernel, _, _ in layers) < 2**62 else object
    paths = np.ones(1, dtype=dtype)
    for (kernel, stride, dilation), j in zip(reversed(layers), reversed(jumps)):
        taps = np.zeros(dilation * j * (kernel - 1) + 1, dtype=dtype)
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
