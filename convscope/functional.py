"""PyTorch-style functional API (``torch.nn.functional``) on NumPy arrays.

Same names, argument names, order and defaults as PyTorch.  Inputs are batched
``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` float32/float64 arrays; results keep
the input's dtype.  Every size argument is normalized once here (via ``convscope.arith``)
and the N-d ops in ``convscope.ops`` do the work; the 1d/2d/3d names are thin.

Beyond PyTorch, ``padding`` of the convolutions (and ``unfold``/``fold``) also takes
per-dimension ``(low, high)`` pairs, e.g. ``padding=((0, 1), (1, 2))``.
"""
from __future__ import annotations

import math

import numpy as np

from .arith.conv import conv_geometry, sliding_block_shape
from .arith.normalize import normalize_padding, ntuple
from .ops._arrays import as_float_array, same_dtype
from .ops.conv import conv_forward, conv_transpose_forward
from .ops.pad import pad
from .ops.window import gather_windows, scatter_windows

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "pad", "unfold", "fold"]


def _convolution(n: int, input, weight, bias, stride, padding, dilation, groups,
                 transposed: bool = False, output_padding=0) -> np.ndarray:
    op = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    x = as_float_array(input, "input", op)
    w = as_float_array(weight, "weight", op)
    b = None if bias is None else as_float_array(bias, "bias", op)
    same_dtype(op, x, "input", weight=w, bias=b)
    geometry = conv_geometry(x.shape, w.shape, n=n, stride=stride, padding=padding, dilation=dilation,
                             groups=groups, output_padding=output_padding, transposed=transposed,
                             bias_shape=None if b is None else b.shape, op=op)
    batched = geometry.batch is not None
    forward = conv_transpose_forward if transposed else conv_forward
    out = forward(x if batched else x[None], w, b, geometry)
    return out if batched else out[0]


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """1-d convolution (cross-correlation) over ``(N, C_in, L)`` or ``(C_in, L)``.

    ``weight`` is ``(C_out, C_in/groups, k)``; output length
    ``floor((L + p_lo + p_hi - d*(k-1) - 1)/s) + 1``.  ``padding``: int, ``(p,)``, ``((lo, hi),)``,
    ``'valid'`` or ``'same'``.

    >>> conv1d(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 3))).tolist()
    [[[3.0, 6.0, 9.0]]]
    """
    return _convolution(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """2-d convolution over ``(N, C_in, H, W)`` or ``(C_in, H, W)``; ``weight (C_out, C_in/groups, kH, kW)``.

    Output per dimension ``floor((i + p_lo + p_hi - d*(k-1) - 1)/s) + 1``.
    """
    return _convolution(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """3-d convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``; ``weight (C_out, C_in/groups, kD, kH, kW)``."""
    return _convolution(3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> np.ndarray:
    """1-d transposed convolution over ``(N, C_in, L)`` or ``(C_in, L)``; ``weight (C_in, C_out/groups, k)``.

    Output length ``(L-1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1``; ``output_padding``
    must be smaller than the stride or the dilation.

    >>> conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 3)), stride=2).tolist()
    [[[1.0, 1.0, 2.0, 1.0, 1.0]]]
    """
    return _convolution(1, input, weight, bias, stride, padding, dilation, groups, True, output_padding)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> np.ndarray:
    """2-d transposed convolution over ``(N, C_in, H, W)`` or ``(C_in, H, W)``; ``weight (C_in, C_out/groups, kH, kW)``."""
    return _convolution(2, input, weight, bias, stride, padding, dilation, groups, True, output_padding)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> np.ndarray:
    """3-d transposed convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``."""
    return _convolution(3, input, weight, bias, stride, padding, dilation, groups, True, output_padding)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Extract sliding local blocks (im2col), as ``torch.nn.functional.unfold``.

    Shape: ``(N, C, H, W)`` -> ``(N, C*kH*kW, L)`` (or unbatched ``(C, H, W)`` -> ``(C*kH*kW, L)``)
    with ``L`` the product of the per-dimension block counts
    ``floor((i + p_lo + p_hi - d*(k-1) - 1)/s) + 1``; row ``c*kH*kW + kh*kW + kw``.

    >>> unfold(np.arange(9.0).reshape(1, 1, 3, 3), 2).shape
    (1, 4, 4)
    """
    op = "unfold"
    x = as_float_array(input, "input", op)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3D (unbatched) or 4D (batched) input, got input of shape {x.shape}")
    xb = x if x.ndim == 4 else x[None]
    kernel, dil, stride_ = ntuple(kernel_size, 2, "kernel_size", op), ntuple(dilation, 2, "dilation", op), \
        ntuple(stride, 2, "stride", op)
    blocks = sliding_block_shape(xb.shape[2:], kernel, dil, padding, stride_, op=op)
    pairs = normalize_padding(padding, 2, allow_strings=False, op=op)
    cols = np.empty(xb.shape[:2] + kernel + blocks, dtype=x.dtype)
    gather_windows(xb, cols, kernel, stride_, dil, [p[0] for p in pairs])
    cols = cols.reshape(xb.shape[0], xb.shape[1] * math.prod(kernel), math.prod(blocks))
    return cols if x.ndim == 4 else cols[0]


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Combine sliding local blocks into an array, summing overlaps (col2im), as ``torch.nn.functional.fold``.

    Shape: ``(N, C*kH*kW, L)`` -> ``(N, C, *output_size)`` (or unbatched ``(C*kH*kW, L)`` ->
    ``(C, *output_size)``), where ``L`` must equal the number of blocks that ``unfold`` of an
    ``output_size`` input would make.  ``fold(unfold(x))`` multiplies each pixel by the number of
    blocks covering it.
    """
    op = "fold"
    cols = as_float_array(input, "input", op)
    if cols.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2D (unbatched) or 3D (batched) input, got input of shape {cols.shape}")
    cb = cols if cols.ndim == 3 else cols[None]
    size = ntuple(output_size, 2, "output_size", op)
    kernel, dil, stride_ = ntuple(kernel_size, 2, "kernel_size", op), ntuple(dilation, 2, "dilation", op), \
        ntuple(stride, 2, "stride", op)
    blocks = sliding_block_shape(size, kernel, dil, padding, stride_, op=op)
    pairs = normalize_padding(padding, 2, allow_strings=False, op=op)
    k_count = math.prod(kernel)
    if cb.shape[1] % k_count:
        raise ValueError(f"{op}: expected size of input's dimension 1 ({cb.shape[1]}) to be divisible by the "
                         f"product of kernel_size {kernel} = {k_count}")
    if cb.shape[2] != math.prod(blocks):
        raise ValueError(f"{op}: given output_size={size}, kernel_size={kernel}, dilation={dil}, padding={pairs}, "
                         f"stride={stride_}, expected size of input's dimension 2 to match the number of sliding "
                         f"blocks {' * '.join(map(str, blocks))} = {math.prod(blocks)}, but got {cb.shape[2]}")
    channels = cb.shape[1] // k_count
    out = np.zeros((cb.shape[0], channels) + size, dtype=cols.dtype)
    scatter_windows(cb.reshape((cb.shape[0], channels) + kernel + blocks), out, kernel, stride_, dil,
                    [p[0] for p in pairs])
    return out if cols.ndim == 3 else out[0]
