"""Convolution arithmetic: output sizes, parameter counts, multiply-accumulates.

These are the only places in convscope where these formulas are written.  The ops
(``convscope.ops``), the modules (``convscope.nn``) and the calculator all call them.

Notation, per spatial dimension: input size ``i``, kernel ``k``, stride ``s``,
padding ``p_lo``/``p_hi``, dilation ``d``, output padding ``op``.  The effective
(dilated) kernel extent is ``d*(k-1) + 1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .normalize import PaddingPairs, _where, normalize_padding, ntuple

__all__ = [
    "effective_kernel_size", "conv_output_size", "conv_output_shape",
    "conv_transpose_output_size", "conv_transpose_output_shape", "conv_transpose_output_padding",
    "param_count", "conv_param_count", "macs", "conv_macs", "conv_transpose_macs",
    "ConvGeometry", "conv_geometry", "sliding_block_shape", "zero_insertion", "tap_phases", "SubpixelPhase",
    "subpixel_phases",
]


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: ``d*(k-1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def _pair(padding: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(padding, (tuple, list)):
        lo, hi = padding
        return int(lo), int(hi)
    return int(padding), int(padding)


def conv_output_size(input_size: int, kernel_size: int, stride: int = 1,
                     padding: int | tuple[int, int] = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one dimension.

    ``o = floor((i + p_lo + p_hi - d*(k-1) - 1) / s) + 1``

    ``padding`` is an int (both sides) or a ``(low, high)`` pair.  The result may be
    below 1 when the dilated kernel is larger than the padded input; callers that run
    the operation reject that (see :func:`conv_geometry`).

    >>> conv_output_size(224, 7, stride=2, padding=3)
    112
    >>> conv_output_size(5, 3, padding=(0, 1))
    4
    """
    lo, hi = _pair(padding)
    return (input_size + lo + hi - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_output_size(input_size: int, kernel_size: int, stride: int = 1,
                               padding: int | tuple[int, int] = 0, output_padding: int = 0,
                               dilation: int = 1) -> int:
    """Output length of a transposed convolution along one dimension.

    ``o = (i - 1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1``

    It inverts :func:`conv_output_size`: the convolution with the same kernel, stride,
    padding and dilation maps a length-``o`` input back to length ``i``; ``output_padding``
    picks one of the ``s`` input lengths that all give ``i``.

    >>> conv_transpose_output_size(28, 4, stride=2, padding=1)
    56
    """
    lo, hi = _pair(padding)
    return (input_size - 1) * stride - lo - hi + dilation * (kernel_size - 1) + output_padding + 1


def conv_output_shape(input_size: Sequence[int], kernel_size, stride=1, padding=0,
                      dilation=1) -> tuple[int, ...]:
    """Spatial output shape of an N-d convolution; arguments as in ``torch.nn.functional.convNd``.

    >>> conv_output_shape((32, 32), 5, stride=2, padding=2)
    (16, 16)
    >>> conv_output_shape((10, 11), (4, 3), padding="same")
    (10, 11)
    """
    n = len(input_size)
    kernel_size = ntuple(kernel_size, n, "kernel_size")
    stride = ntuple(stride, n, "stride")
    dilation = ntuple(dilation, n, "dilation")
    pairs = normalize_padding(padding, n, kernel_size=kernel_size, dilation=dilation, stride=stride)
    return tuple(conv_output_size(i, k, s, p, d)
                 for i, k, s, p, d in zip(input_size, kernel_size, stride, pairs, dilation))


def conv_transpose_output_shape(input_size: Sequence[int], kernel_size, stride=1, padding=0,
                                output_padding=0, dilation=1) -> tuple[int, ...]:
    """Spatial output shape of an N-d transposed convolution.

    >>> conv_transpose_output_shape((10,), 64, stride=32, padding=16)
    (320,)
    """
    n = len(input_size)
    kernel_size = ntuple(kernel_size, n, "kernel_size")
    stride = ntuple(stride, n, "stride")
    dilation = ntuple(dilation, n, "dilation")
    output_padding = ntuple(output_padding, n, "output_padding")
    pairs = normalize_padding(padding, n, allow_strings=False)
    return tuple(conv_transpose_output_size(i, k, s, p, op, d) for i, k, s, p, op, d
                 in zip(input_size, kernel_size, stride, pairs, output_padding, dilation))


def conv_transpose_output_padding(input_size: Sequence[int], output_size: Sequence[int],
                                  kernel_size: Sequence[int], stride: Sequence[int],
                                  padding: PaddingPairs, dilation: Sequence[int],
                                  op: str | None = None) -> tuple[int, ...]:
    """The ``output_padding`` that makes a transposed convolution produce ``output_size``.

    Valid sizes per dimension are ``[m, m + s - 1]`` with ``m`` the size at
    ``output_padding = 0``; the answer is ``output_size - m``
    (``torch/nn/modules/conv.py``, ``_ConvTransposeNd._output_padding``).
    """
    minimum = [conv_transpose_output_size(i, k, s, p, 0, d)
               for i, k, s, p, d in zip(input_size, kernel_size, stride, padding, dilation)]
    maximum = [m + s - 1 for m, s in zip(minimum, stride)]
    if any(not (lo <= o <= hi) for o, lo, hi in zip(output_size, minimum, maximum)):
        raise ValueError(
            f"{_where(op)}requested an output size of {tuple(output_size)}, but valid sizes range "
            f"from {tuple(minimum)} to {tuple(maximum)} (for an input of spatial size {tuple(input_size)})")
    return tuple(o - m for o, m in zip(output_size, minimum))


def conv_param_count(in_channels: int, out_channels: int, kernel_size: Sequence[int] | int,
                     groups: int = 1, bias: bool = True) -> int:
    """Learnable parameters of a (transposed) convolution.

    ``out * (in / groups) * prod(k) + (out if bias)``.  A transposed convolution has the
    same count: its weight is ``(in, out/groups, *k)`` instead of ``(out, in/groups, *k)``.

    >>> conv_param_count(64, 64, (3, 3))
    36928
    >>> conv_param_count(32, 32, (3, 3), groups=32, bias=False)  # depthwise
    288
    """
    k = math.prod(kernel_size) if isinstance(kernel_size, (tuple, list)) else kernel_size
    return out_channels * (in_channels // groups) * k + (out_channels if bias else 0)


param_count = conv_param_count


def conv_macs(in_channels: int, out_channels: int, kernel_size: Sequence[int],
              output_size: Sequence[int], groups: int = 1, batch: int = 1) -> int:
    """Multiply-accumulates of a convolution: every output element is a dot product of
    length ``(in / groups) * prod(k)``.

    ``MACs = N * out * prod(output_size) * (in / groups) * prod(k)``  (bias excluded)

    >>> conv_macs(64, 64, (3, 3), (56, 56))
    115605504
    """
    return batch * out_channels * math.prod(output_size) * (in_channels // groups) * math.prod(kernel_size)


def conv_transpose_macs(in_channels: int, out_channels: int, kernel_size: Sequence[int],
                        input_size: Sequence[int], groups: int = 1, batch: int = 1) -> int:
    """Multiply-accumulates of a transposed convolution: every *input* element is
    multiplied by each of the ``(out / groups) * prod(k)`` kernel entries it scatters to.

    ``MACs = N * in * prod(input_size) * (out / groups) * prod(k)``  (bias excluded)

    Counting with the output size instead over-counts (the zero-inserted view does
    work on zeros); see docs.
    """
    return batch * in_channels * math.prod(input_size) * (out_channels // groups) * math.prod(kernel_size)


macs = conv_macs


@dataclass(frozen=True)
class ConvGeometry:
    """A validated (transposed) convolution configuration: everything but the numbers.

    Sizes are per spatial dimension; ``padding`` holds ``(low, high)`` pairs.
    ``batch`` is ``None`` for unbatched input ``(C, *spatial)``.
    """
    op: str
    transposed: bool
    batch: int | None
    in_channels: int
    out_channels: int
    groups: int
    input_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: PaddingPairs
    dilation: tuple[int, ...]
    output_padding: tuple[int, ...]
    output_size: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.input_size)

    @property
    def input_shape(self) -> tuple[int, ...]:
        lead = () if self.batch is None else (self.batch,)
        return lead + (self.in_channels,) + self.input_size

    @property
    def output_shape(self) -> tuple[int, ...]:
        lead = () if self.batch is None else (self.batch,)
        return lead + (self.out_channels,) + self.output_size

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.transposed:
            return (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        return (self.out_channels, self.in_channels // self.groups) + self.kernel_size

    def params(self, bias: bool = True) -> int:
        return conv_param_count(self.in_channels, self.out_channels, self.kernel_size, self.groups, bias)

    def macs(self) -> int:
        batch = 1 if self.batch is None else self.batch
        if self.transposed:
            return conv_transpose_macs(self.in_channels, self.out_channels, self.kernel_size,
                                       self.input_size, self.groups, batch)
        return conv_macs(self.in_channels, self.out_channels, self.kernel_size, self.output_size,
                         self.groups, batch)


def _fmt(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def conv_geometry(input_shape: Sequence[int], weight_shape: Sequence[int], *, n: int,
                  stride=1, padding=0, dilation=1, groups=1, output_padding=0,
                  bias_shape: Sequence[int] | None = None, transposed: bool = False,
                  op: str | None = None) -> ConvGeometry:
    """Validate a convolution call from shapes alone and return its :class:`ConvGeometry`.

    ``input_shape`` is ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; ``weight_shape``
    is ``(C_out, C_in/groups, *k)`` or, transposed, ``(C_in, C_out/groups, *k)``.
    Raises ``ValueError``/``TypeError`` naming the argument and the values, in the order
    rank, sizes, channels, output size.
    """
    op = op or (f"conv_transpose{n}d" if transposed else f"conv{n}d")
    input_shape, weight_shape = tuple(input_shape), tuple(weight_shape)
    if len(input_shape) not in (n + 1, n + 2):
        raise ValueError(f"{op}: expected {n + 1}D (unbatched) or {n + 2}D (batched) input, "
                         f"but got input of shape {_fmt(input_shape)}")
    if len(weight_shape) != n + 2:
        raise ValueError(f"{op}: expected {n + 2}D weight, but got weight of shape {_fmt(weight_shape)}")
    batched = len(input_shape) == n + 2
    batch = input_shape[0] if batched else None
    channels, spatial = input_shape[-n - 1], input_shape[-n:]
    kernel_size = weight_shape[2:]

    stride = ntuple(stride, n, "stride", op)
    dilation = ntuple(dilation, n, "dilation", op)
    if any(s <= 0 for s in stride):
        raise ValueError(f"{op}: non-positive stride is not supported, got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise ValueError(f"{op}: non-positive dilation is not supported, got dilation={dilation}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got groups={groups!r}")
    pairs = normalize_padding(padding, n, kernel_size=kernel_size, dilation=dilation, stride=stride,
                              allow_strings=not transposed, op=op)
    output_padding = ntuple(output_padding, n, "output_padding", op)
    if transposed:
        if any(p < 0 for p in output_padding):
            raise ValueError(f"{op}: negative output_padding is not supported, got {output_padding}")
        if any(not (p < s or p < d) for p, s, d in zip(output_padding, stride, dilation)):
            raise ValueError(f"{op}: output_padding must be smaller than either stride or dilation, "
                             f"but got output_padding={output_padding}, stride={stride}, dilation={dilation}")
    elif any(output_padding):
        raise ValueError(f"{op}: output_padding applies to transposed convolutions only")
    if weight_shape[1] == 0 or weight_shape[0] == 0:
        raise ValueError(f"{op}: weight of shape {_fmt(weight_shape)} has no channels")
    if any(k <= 0 for k in kernel_size):
        raise ValueError(f"{op}: weight has an empty kernel dimension, weight of shape {_fmt(weight_shape)}")

    if transposed:
        in_channels = weight_shape[0]
        out_channels = weight_shape[1] * groups
        if in_channels % groups:
            raise ValueError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} "
                             f"at dimension 0, but got weight of shape {_fmt(weight_shape)}")
    else:
        out_channels = weight_shape[0]
        in_channels = weight_shape[1] * groups
        if out_channels % groups:
            raise ValueError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} "
                             f"at dimension 0, but got weight of shape {_fmt(weight_shape)}")
    if channels != in_channels:
        raise ValueError(f"{op}: given groups={groups}, weight of shape {_fmt(weight_shape)}, expected "
                         f"input {_fmt(input_shape)} to have {in_channels} channels, but got {channels} "
                         f"channels instead")
    if bias_shape is not None and tuple(bias_shape) != (out_channels,):
        raise ValueError(f"{op}: given weight of shape {_fmt(weight_shape)}, expected bias to be "
                         f"1-dimensional with {out_channels} elements, but got bias of shape {_fmt(bias_shape)}")

    if transposed:
        out = tuple(conv_transpose_output_size(i, k, s, p, o, d) for i, k, s, p, o, d
                    in zip(spatial, kernel_size, stride, pairs, output_padding, dilation))
        if any(i < 1 for i in spatial) or any(o < 1 for o in out):
            raise ValueError(f"{op}: input of spatial size {tuple(spatial)} with kernel {tuple(kernel_size)}, "
                             f"stride {stride}, padding {pairs}, dilation {dilation} and output_padding "
                             f"{output_padding} gives output size {out}; every size must be at least 1")
    else:
        out = tuple(conv_output_size(i, k, s, p, d)
                    for i, k, s, p, d in zip(spatial, kernel_size, stride, pairs, dilation))
        if any(o < 1 for o in out):
            padded = tuple(i + lo + hi for i, (lo, hi) in zip(spatial, pairs))
            extent = tuple(effective_kernel_size(k, d) for k, d in zip(kernel_size, dilation))
            raise ValueError(f"{op}: padded input size {padded} is smaller than the dilated kernel size "
                             f"{extent} (kernel {tuple(kernel_size)}, dilation {dilation}); output size "
                             f"would be {out}")
    return ConvGeometry(op=op, transposed=transposed, batch=batch, in_channels=in_channels,
                        out_channels=out_channels, groups=groups, input_size=tuple(spatial),
                        kernel_size=tuple(kernel_size), stride=stride, padding=pairs, dilation=dilation,
                        output_padding=output_padding if transposed else (0,) * n, output_size=out)


def sliding_block_shape(input_size: Sequence[int], kernel_size, dilation=1, padding=0, stride=1,
                        op: str | None = None) -> tuple[int, ...]:
    """Number of sliding blocks per dimension for ``unfold``/``fold`` (the convolution output
    size), validated to be at least 1.

    >>> sliding_block_shape((4, 5), 2)
    (3, 4)
    """
    n = len(input_size)
    kernel_size = ntuple(kernel_size, n, "kernel_size", op)
    dilation = ntuple(dilation, n, "dilation", op)
    stride = ntuple(stride, n, "stride", op)
    pairs = normalize_padding(padding, n, allow_strings=False, op=op)
    for name, values in (("kernel_size", kernel_size), ("dilation", dilation), ("stride", stride)):
        if any(v <= 0 for v in values):
            raise ValueError(f"{_where(op)}{name} must be positive, got {name}={values}")
    blocks = tuple(conv_output_size(i, k, s, p, d)
                   for i, k, s, p, d in zip(input_size, kernel_size, stride, pairs, dilation))
    if any(b < 1 for b in blocks):
        raise ValueError(f"{_where(op)}given input with spatial size {tuple(input_size)}, kernel_size={kernel_size}, "
                         f"dilation={dilation}, padding={pairs}, stride={stride}, the array of sliding blocks "
                         f"would have shape {blocks}, but its components must be at least one")
    return blocks


def zero_insertion(input_size: int, kernel_size: int, stride: int = 1, padding: tuple[int, int] = (0, 0),
                   dilation: int = 1, output_padding: int = 0) -> tuple[int, int, int]:
    """A transposed convolution as a direct one: ``(spread, low, high)`` — the input spread to
    ``(i-1)*s + 1`` with ``s-1`` zeros between elements, then padded by ``d*(k-1) - p_lo`` and
    ``d*(k-1) - p_hi + output_padding`` (negative amounts crop).  A stride-1 convolution of that with
    the flipped kernel gives :func:`conv_transpose_output_size` elements.

    >>> spread, low, high = zero_insertion(2, 3, 2, (1, 1), 1, 1)
    >>> spread, low, high, conv_output_size(spread + low + high, 3)
    (3, 1, 2, 4)
    """
    extent = dilation * (kernel_size - 1)
    return (input_size - 1) * stride + 1, extent - padding[0], extent - padding[1] + output_padding


def tap_phases(kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Along one dimension of a convolution: for each tap ``t``, the stride phase it reads,
    ``(t*d) mod s``, and its offset inside that phase, ``(t*d) // s``.  Output ``y`` reads input
    ``s*y + t*d = s*(y + offset) + phase``: a strided convolution is a stride-1 convolution of
    each phase (every ``s``-th input, from ``phase``) with the taps that fall on it.

    >>> tap_phases(3, stride=2)           # taps 0 and 2 read the even inputs, tap 1 the odd ones
    ((0, 1, 0), (0, 0, 1))
    """
    return (tuple((t * dilation) % stride for t in range(kernel_size)),
            tuple((t * dilation) // stride for t in range(kernel_size)))


@dataclass(frozen=True)
class SubpixelPhase:
    """The outputs ``start, start + s, ...`` (``count`` of them) of one dimension of a transposed
    convolution, as a stride-1 correlation of the input: kernel taps ``taps`` (in correlation order;
    empty when no tap reaches these outputs), dilation ``dilation`` and padding ``padding`` (a
    negative amount crops)."""

    start: int
    count: int
    taps: tuple[int, ...]
    dilation: int
    padding: tuple[int, int]


def subpixel_phases(input_size: int, output_size: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                    padding_low: int = 0) -> list[SubpixelPhase]:
    """One dimension of a transposed convolution as ``stride`` stride-1 correlations (sub-pixel
    convolution), one per output phase.

    Output ``o`` receives tap ``t`` of input ``i`` where ``o + p_lo = i*s + t*d``.  The outputs with
    ``(o + p_lo) mod s = rho`` receive only the taps with ``t*d mod s = rho``, and output
    ``v = (o + p_lo) // s`` of them reads input ``v - (t*d) // s``.  Those taps are evenly spaced,
    ``d / gcd(s, d)`` apart in the input, so read in reverse order they form an ordinary correlation.
    Phases without outputs are left out.

    >>> [(p.start, p.count, p.taps, p.padding) for p in subpixel_phases(3, 6, 4, stride=2, padding_low=1)]
    [(1, 3, (2, 0), (0, 1)), (0, 3, (3, 1), (1, 0))]
    """
    phases = []
    for rho in range(stride):
        first, last = -((rho - padding_low) // stride), (output_size - 1 + padding_low - rho) // stride
        count = last - first + 1
        if count <= 0:
            continue
        start = stride * first + rho - padding_low
        taps = tuple(t for t in range(kernel_size) if (t * dilation) % stride == rho)[::-1]
        if not taps:
            phases.append(SubpixelPhase(start, count, (), 1, (0, 0)))
            continue
        step = dilation // math.gcd(stride, dilation)
        low = (taps[0] * dilation) // stride - first
        high = (count - 1) - low + step * (len(taps) - 1) - (input_size - 1)
        phases.append(SubpixelPhase(start, count, taps, step, (low, high)))
    return phases
