"""Pooling, unpooling, adaptive-pooling and resizing arithmetic.

Per spatial dimension: input ``i``, kernel ``k``, stride ``s``, padding ``p`` (both sides),
dilation ``d``.  PyTorch's rules (``aten/src/ATen/native/Pool.h``,
``AdaptivePooling.h``, ``UpSample.h``, ``torch/nn/functional.py``).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence

from .normalize import _where, ntuple

__all__ = [
    "pool_output_size", "PoolGeometry", "pool_geometry", "avg_pool_divisor_factors",
    "adaptive_windows", "adaptive_output_shape", "max_unpool_output_size", "max_unpool_output_shape",
    "interpolate_output_shape", "pixel_shuffle_output_shape", "pixel_unshuffle_output_shape",
    "fractional_output_shape",
]


def pool_output_size(input_size: int, kernel_size: int, stride: int | None = None, padding: int = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of max/avg pooling along one dimension.

    ``o = floor((i + 2p - d*(k-1) - 1 + (s-1 if ceil_mode)) / s) + 1``; with ``ceil_mode``, a last
    window that would start in the right padding is dropped (``(o-1)*s >= i + p``).

    >>> pool_output_size(112, 3, 2, 1)
    56
    >>> pool_output_size(5, 2, 2, ceil_mode=True), pool_output_size(5, 2, 2)
    (3, 2)
    >>> pool_output_size(4, 2, 2, padding=1, ceil_mode=True)  # a 4th window would start in the padding
    3
    """
    stride = kernel_size if stride is None else stride
    out = (input_size + 2 * padding - dilation * (kernel_size - 1) - 1 + (stride - 1 if ceil_mode else 0)) \
        // stride + 1
    if ceil_mode and (out - 1) * stride >= input_size + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class PoolGeometry:
    """A validated pooling configuration; sizes per spatial dimension."""
    op: str
    input_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool
    output_size: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.input_size)


def pool_geometry(input_size: Sequence[int], kernel_size, stride=None, padding=0, dilation=1,
                  ceil_mode: bool = False, op: str | None = None) -> PoolGeometry:
    """Validate a pooling call and compute its output size (``stride=None`` or ``()`` means the kernel).

    Padding must be at most half the kernel (``p <= k // 2``), as PyTorch requires.
    """
    n = len(input_size)
    kernel_size = ntuple(kernel_size, n, "kernel_size", op)
    stride = kernel_size if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else ntuple(stride, n, "stride", op)
    padding = ntuple(padding, n, "padding", op)
    dilation = ntuple(dilation, n, "dilation", op)
    for name, values in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if any(v <= 0 for v in values):
            raise ValueError(f"{_where(op)}{name} must be greater than zero, got {name}={values}")
    if any(p < 0 for p in padding):
        raise ValueError(f"{_where(op)}padding must be non-negative, got padding={padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{_where(op)}padding should be at most half of the kernel size, got padding={padding} "
                         f"and kernel_size={kernel_size}")
    out = tuple(pool_output_size(i, k, s, p, d, ceil_mode)
                for i, k, s, p, d in zip(input_size, kernel_size, stride, padding, dilation))
    if any(o < 1 for o in out):
        raise ValueError(f"{_where(op)}given input size {tuple(input_size)}, kernel_size={kernel_size}, "
                         f"stride={stride}, padding={padding}, dilation={dilation}, the calculated output size "
                         f"{out} is too small")
    return PoolGeometry(op or "pool", tuple(input_size), kernel_size, stride, padding, dilation, bool(ceil_mode), out)


def avg_pool_divisor_factors(input_size: int, output_size: int, kernel_size: int, stride: int, padding: int,
                             count_include_pad: bool) -> list[int]:
    """Per-output-position factor of the average-pooling divisor along one dimension.

    PyTorch (``cpu/AvgPoolKernel.cpp``): ``start = o*s - p``, ``end = min(start + k, i + p)``;
    ``count_include_pad`` divides by ``end - start`` (padding counts, but not the part of a
    ceil_mode window beyond ``i + p``); otherwise by the window clipped to ``[0, i)``.  The
    divisor of an N-d window is the product of its per-dimension factors.

    >>> avg_pool_divisor_factors(5, 3, 2, 2, 0, True)  # ceil_mode's last window holds one element
    [2, 2, 1]
    """
    factors = []
    for o in range(output_size):
        start = o * stride - padding
        end = min(start + kernel_size, input_size + padding)
        if count_include_pad:
            factors.append(end - start)
        else:
            factors.append(min(end, input_size) - max(start, 0))
    return factors


def adaptive_windows(input_size: int, output_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each adaptive-pooling window: ``start = floor(j*I/O)``, ``end = ceil((j+1)*I/O)``.

    Windows may overlap and differ in length.

    >>> adaptive_windows(7, 3)
    [(0, 3), (2, 5), (4, 7)]
    """
    return [((j * input_size) // output_size, -(-((j + 1) * input_size) // output_size))
            for j in range(output_size)]


def adaptive_output_shape(input_size: Sequence[int], output_size, op: str | None = None) -> tuple[int, ...]:
    """Normalize an adaptive pooling ``output_size`` (an int, or a tuple whose ``None`` entries keep
    that input dimension)."""
    n = len(input_size)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != n:
            raise ValueError(f"{_where(op)}output_size must have {n} elements, got output_size={tuple(output_size)}")
        sizes = tuple(i if o is None else ntuple(o, 1, "output_size", op)[0] for i, o in zip(input_size, output_size))
    else:
        sizes = ntuple(output_size, n, "output_size", op)
    if any(o < 0 for o in sizes):
        raise ValueError(f"{_where(op)}output_size must be non-negative, got output_size={sizes}")
    return sizes


def fractional_output_shape(input_size: Sequence[int], kernel_size, output_size=None, output_ratio=None,
                            op: str | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(kernel_size, output_size)`` of fractional max pooling, normalized and checked.

    The output size is given, or ``int(i * output_ratio)`` per dimension (PyTorch truncates); each
    window of ``k`` must fit: ``o + k - 1 <= i`` (in 3-d PyTorch asks ``o + k - 1 < i``).  An output size of 0 gives an empty result, as in
    PyTorch.

    >>> fractional_output_shape((50, 32), 3, output_ratio=0.5)
    ((3, 3), (25, 16))
    """
    n = len(input_size)
    kernel = ntuple(kernel_size, n, "kernel_size", op)
    if any(k <= 0 for k in kernel):
        raise ValueError(f"{_where(op)}kernel_size must be positive, got kernel_size={kernel}")
    if (output_size is None) == (output_ratio is None):
        raise ValueError(f"{_where(op)}give exactly one of output_size and output_ratio, got output_size="
                         f"{output_size!r} and output_ratio={output_ratio!r}")
    if output_size is not None:
        out = ntuple(output_size, n, "output_size", op)
    else:
        ratios = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * n
        if len(ratios) == 1:
            ratios = ratios * n
        if len(ratios) != n or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r
                                       for r in ratios):
            raise ValueError(f"{_where(op)}output_ratio must be a positive number or {n} of them, got "
                             f"output_ratio={output_ratio!r}")
        out = tuple(int(i * r) for i, r in zip(input_size, ratios))
    if any(o < 0 for o in out):
        raise ValueError(f"{_where(op)}output_size must be non-negative, got output_size={out}")
    # PyTorch's 3-d kernel checks o + k - 1 < i, its 2-d kernel o + k - 1 <= i.
    strict = n == 3
    for j, (i, o, k) in enumerate(zip(input_size, out, kernel)):
        if o + k - 1 > i or (strict and o + k - 1 == i):
            raise ValueError(f"{_where(op)}kernel_size {k} is too large for output size {o} from input size {i} "
                             f"in spatial dimension {j} (needs output_size + kernel_size - 1 "
                             f"{'<' if strict else '<='} input size)")
    return kernel, out


def max_unpool_output_size(input_size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Default output length of max unpooling: ``(i - 1)*s - 2p + k``."""
    return (input_size - 1) * stride - 2 * padding + kernel_size


def max_unpool_output_shape(input_size: Sequence[int], kernel_size: Sequence[int], stride: Sequence[int],
                            padding: Sequence[int], output_size=None, op: str | None = None) -> tuple[int, ...]:
    """Output spatial shape of max unpooling; an explicit ``output_size`` (spatial, or with the
    leading batch/channel dims) must lie strictly within ``default ± stride`` per dimension."""
    n = len(input_size)
    default = tuple(max_unpool_output_size(i, k, s, p) for i, k, s, p in zip(input_size, kernel_size, stride, padding))
    if output_size is None:
        size = default
    else:
        size = tuple(output_size)
        if len(size) == n + 2:  # (N, C, *spatial): PyTorch ignores the leading two
            size = size[2:]
        if len(size) != n:
            raise ValueError(f"{_where(op)}output_size should have {n} or {n + 2} elements, got "
                             f"output_size={tuple(output_size)}")
        for d, (o, base, s) in enumerate(zip(size, default, stride)):
            if not (base - s < o < base + s):
                raise ValueError(f"{_where(op)}invalid output_size {size} (dim {d} must be between "
                                 f"{base - s + 1} and {base + s - 1})")
    if any(o < 0 for o in size):  # 0 is allowed: PyTorch returns an empty output
        raise ValueError(f"{_where(op)}output size {size} must not be negative")
    return tuple(int(o) for o in size)


def interpolate_output_shape(input_size: Sequence[int], size=None, scale_factor=None,
                             op: str | None = "interpolate", allow_empty: bool = False) -> tuple[int, ...]:
    """Output spatial shape of ``interpolate``: ``size`` itself, or ``floor(i * scale_factor)``
    (computed in double precision, as PyTorch does).  Sizes must be positive, except that
    ``allow_empty`` admits 0 outputs (PyTorch's ``area`` mode, which is adaptive average pooling)."""
    n = len(input_size)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{_where(op)}" + ("only one of size or scale_factor should be defined" if size is not None
                                            else "either size or scale_factor should be defined"))
    if size is not None:
        if isinstance(size, (tuple, list)):
            if len(size) != n:
                raise ValueError(f"{_where(op)}size must have {n} elements to match the input's spatial "
                                 f"dimensions {tuple(input_size)}, got size={tuple(size)}")
            out = tuple(ntuple(v, 1, "size", op)[0] for v in size)
        else:
            out = ntuple(size, n, "size", op)
    else:
        scales = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
        if len(scales) != n:
            raise ValueError(f"{_where(op)}scale_factor must have {n} elements to match the input's spatial "
                             f"dimensions {tuple(input_size)}, got scale_factor={tuple(scale_factor)}")
        for v in scales:
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{_where(op)}scale_factor must be positive finite numbers, got "
                                 f"scale_factor={scale_factor!r}")
        out = tuple(math.floor(float(i) * float(v)) for i, v in zip(input_size, scales))
    if any(o < (0 if allow_empty else 1) for o in out) or any(i < 1 for i in input_size):
        raise ValueError(f"{_where(op)}input and output sizes should be greater than 0, but got input "
                         f"{tuple(input_size)} and output {out}")
    return out


def pixel_shuffle_output_shape(shape: Sequence[int], upscale_factor: int, op: str = "pixel_shuffle") -> tuple[int, ...]:
    """``(*, C*r^2, H, W) -> (*, C, H*r, W*r)``."""
    r = ntuple(upscale_factor, 1, "upscale_factor", op)[0]
    if r <= 0:
        raise ValueError(f"{op}: upscale_factor must be greater than 0, got {r}")
    if len(shape) < 3:
        raise ValueError(f"{op}: expected an input of at least 3 dimensions, got shape {tuple(shape)}")
    *lead, c, h, w = shape
    if c % (r * r):
        raise ValueError(f"{op}: the channel dimension ({c}) must be divisible by upscale_factor^2 = {r * r}")
    return (*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle_output_shape(shape: Sequence[int], downscale_factor: int,
                                 op: str = "pixel_unshuffle") -> tuple[int, ...]:
    """``(*, C, H*r, W*r) -> (*, C*r^2, H, W)``."""
    r = ntuple(downscale_factor, 1, "downscale_factor", op)[0]
    if r <= 0:
        raise ValueError(f"{op}: downscale_factor must be greater than 0, got {r}")
    if len(shape) < 3:
        raise ValueError(f"{op}: expected an input of at least 3 dimensions, got shape {tuple(shape)}")
    *lead, c, h, w = shape
    if h % r or w % r:
        raise ValueError(f"{op}: height ({h}) and width ({w}) must be divisible by downscale_factor {r}")
    return (*lead, c * r * r, h // r, w // r)
