"""PyTorch-style functional API (``torch.nn.functional``) on NumPy arrays.

Same names, argument names, order and defaults as PyTorch.  Inputs are batched
``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` float32/float64 arrays; results keep
the input's dtype.  Every size argument is normalized once here (via ``convscope.arith``)
and the N-d ops in ``convscope.ops`` do the work; the 1d/2d/3d names are thin.

Beyond PyTorch, ``padding`` of the convolutions (and ``unfold``/``fold``) also takes
per-dimension ``(low, high)`` pairs, e.g. ``padding=((0, 1), (1, 2))``.

Every function also accepts ``convscope.Tensor`` arguments; then it returns a Tensor that
records its backward rule (the rules live next to the NumPy kernels in ``convscope.ops``).
With plain arrays it stays a plain NumPy function.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .arith.conv import conv_geometry, sliding_block_shape
from .arith.normalize import normalize_padding, ntuple
from .arith.pool import (adaptive_output_shape, fractional_output_shape, interpolate_output_shape,
                         max_unpool_output_shape, pixel_shuffle_output_shape, pixel_unshuffle_output_shape,
                         pool_geometry)
from .autograd import ops as T
from .autograd.tensor import Tensor, any_tensor, as_data, make_result
from .ops import pad as _pad
from .ops._arrays import as_array, as_float_array, per_channel, same_dtype
from .ops.conv import conv_backward, conv_forward, conv_transpose_backward, conv_transpose_forward
from .ops.pool import (adaptive_avg_pool_backward, adaptive_avg_pool_forward, adaptive_max_pool_forward,
                       avg_pool_backward, avg_pool_forward, fractional_max_pool_forward, max_pool_forward,
                       max_unpool_backward, max_unpool_forward, scatter_to_indices, tiles)
from .ops.resize import (takes_channels_last_kernel, pixel_shuffle_forward, pixel_unshuffle_forward,
                         resize_backward, resize_forward)
from .ops.window import gather_windows, scatter_windows
from .random import default_generator

def pad(input, pad, mode: str = "constant", value: float | None = None):
    """Pad the trailing dimensions (``torch.nn.functional.pad``); see :func:`convscope.ops.pad.pad`.

    >>> pad(np.ones((1, 2)), (1, 2)).tolist()
    [[0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    x = as_data(input)
    out = _pad.pad(x, pad, mode, value)
    shape = np.shape(x)
    return _wrap(out, (input,), lambda g: (_pad.pad_backward(g, shape, pad, mode),), "PadBackward")


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "pad", "unfold", "fold",
           "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
           "fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle",
           "relu", "relu6", "hardtanh", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "linear", "batch_norm",
           "nll_loss", "cross_entropy", "mse_loss"]


def _wrap(out, inputs, backward, op: str):
    """``out`` itself for array inputs; a Tensor recording ``backward`` when any input is a Tensor."""
    return make_result(out, inputs, backward, op) if any_tensor(*inputs) else out


def _needs(*values) -> tuple[bool, ...]:
    return tuple(isinstance(v, Tensor) and v.requires_grad for v in values)


def _convolution(n: int, input, weight, bias, stride, padding, dilation, groups,
                 transposed: bool = False, output_padding=0) -> np.ndarray:
    op = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    x = as_float_array(as_data(input), "input", op)
    w = as_float_array(as_data(weight), "weight", op)
    b = None if bias is None else as_float_array(as_data(bias), "bias", op)
    same_dtype(op, x, "input", weight=w, bias=b)
    geometry = conv_geometry(x.shape, w.shape, n=n, stride=stride, padding=padding, dilation=dilation,
                             groups=groups, output_padding=output_padding, transposed=transposed,
                             bias_shape=None if b is None else b.shape, op=op)
    batched = geometry.batch is not None
    xb = x if batched else x[None]
    forward = conv_transpose_forward if transposed else conv_forward
    out = forward(xb, w, b, geometry)

    def backward(grad):
        rule = conv_transpose_backward if transposed else conv_backward
        dx, dw, db = rule(grad if batched else grad[None], xb, w, geometry, _needs(input, weight, bias))
        return (dx if batched or dx is None else dx[0]), dw, db
    return _wrap(out if batched else out[0], (input, weight, bias), backward, f"{op.capitalize()}Backward")


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
    x = as_float_array(as_data(input), "input", op)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3D (unbatched) or 4D (batched) input, got input of shape {x.shape}")
    if any(size == 0 for size in x.shape[-3:]):  # PyTorch's im2col: only the batch may be empty
        raise ValueError(f"{op}: expected non-empty channel and spatial dimensions (only the batch may be "
                         f"empty), got input of shape {x.shape}")
    xb = x if x.ndim == 4 else x[None]
    kernel, dil, stride_ = ntuple(kernel_size, 2, "kernel_size", op), ntuple(dilation, 2, "dilation", op), \
        ntuple(stride, 2, "stride", op)
    blocks = sliding_block_shape(xb.shape[2:], kernel, dil, padding, stride_, op=op)
    pairs = normalize_padding(padding, 2, allow_strings=False, op=op)
    cols = np.empty(xb.shape[:2] + kernel + blocks, dtype=x.dtype)
    gather_windows(xb, cols, kernel, stride_, dil, [p[0] for p in pairs])
    cols = cols.reshape(xb.shape[0], xb.shape[1] * math.prod(kernel), math.prod(blocks))
    lo = [p[0] for p in pairs]

    def backward(grad):
        dx = np.zeros(xb.shape, dtype=grad.dtype)
        g = grad.reshape((xb.shape[0], xb.shape[1]) + kernel + blocks)
        return (scatter_windows(g, dx, kernel, stride_, dil, lo).reshape(x.shape),)
    return _wrap(cols if x.ndim == 4 else cols[0], (input,), backward, "Im2ColBackward")


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Combine sliding local blocks into an array, summing overlaps (col2im), as ``torch.nn.functional.fold``.

    Shape: ``(N, C*kH*kW, L)`` -> ``(N, C, *output_size)`` (or unbatched ``(C*kH*kW, L)`` ->
    ``(C, *output_size)``), where ``L`` must equal the number of blocks that ``unfold`` of an
    ``output_size`` input would make.  ``fold(unfold(x))`` multiplies each pixel by the number of
    blocks covering it.
    """
    op = "fold"
    cols = as_float_array(as_data(input), "input", op)
    if cols.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2D (unbatched) or 3D (batched) input, got input of shape {cols.shape}")
    if any(v == 0 for v in cols.shape[-2:]):  # as PyTorch: only the batch may be empty
        raise ValueError(f"{op}: expected non-zero sizes for every dimension but the batch, got input of shape "
                         f"{cols.shape}")
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
    lo = [p[0] for p in pairs]
    scatter_windows(cb.reshape((cb.shape[0], channels) + kernel + blocks), out, kernel, stride_, dil, lo)

    def backward(grad):
        g = grad if cols.ndim == 3 else grad[None]
        dcols = np.empty((cb.shape[0], channels) + kernel + blocks, dtype=grad.dtype)
        return (gather_windows(g, dcols, kernel, stride_, dil, lo).reshape(cols.shape),)
    return _wrap(out if cols.ndim == 3 else out[0], (input,), backward, "Col2ImBackward")


# -- pooling ----------------------------------------------------------------------------------

def _spatial_input(input, n: int, op: str, allow_int: bool = False,
                   empty_channels: bool = False) -> tuple[np.ndarray, bool]:
    """Validate a ``(N, C, *s)`` or unbatched ``(C, *s)`` input with ``n`` spatial dims; return it
    batched, and whether it was.  The channels must be non-empty too unless ``empty_channels``."""
    x = as_array(as_data(input), "input", op, allow_int)
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{op}: expected {n + 1}D (unbatched) or {n + 2}D (batched) input, got input of "
                         f"shape {x.shape}")
    if any(s == 0 for s in x.shape[-n - (0 if empty_channels else 1):]):
        what = "spatial" if empty_channels else "channel and spatial"
        raise ValueError(f"{op}: expected non-empty {what} dimensions, got input of shape {x.shape}")
    return (x, True) if x.ndim == n + 2 else (x[None], False)


def _unbatch(result, batched: bool):
    if batched:
        return result
    if isinstance(result, tuple):
        return tuple(r[0] for r in result)
    return result[0]


def _pooled(input, batched: bool, out: np.ndarray, backward_batched, op: str, indices: np.ndarray | None = None):
    """Unbatch ``out`` (and ``indices``), and for Tensor input attach ``backward_batched`` (which takes
    and returns batched arrays)."""
    def backward(grad):
        dx = backward_batched(grad if batched else grad[None])
        return (dx if batched else dx[0],)
    result = _wrap(_unbatch(out, batched), (input,), backward, op)
    if indices is None:
        return result
    indices = _unbatch(indices, batched)
    return result, (Tensor(indices) if isinstance(input, Tensor) else indices)


def _max_pool(n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    op = f"max_pool{n}d"
    x, batched = _spatial_input(input, n, op, allow_int=True)
    geometry = pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, op=op)
    if not (return_indices or isinstance(input, Tensor)):
        return _unbatch(max_pool_forward(x, geometry), batched)
    out, indices = max_pool_forward(x, geometry, return_indices=True)
    distinct = tiles(geometry)  # tiling windows never pick the same element twice
    return _pooled(input, batched, out, lambda g: scatter_to_indices(g, indices, x.shape, distinct),
                   "MaxPoolBackward", indices if return_indices else None)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-d max pooling ``(N, C, L) -> (N, C, L_out)``; see :func:`max_pool2d`."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    ``stride`` defaults to ``kernel_size``; padding (at most half the kernel) acts as -inf;
    ``o = floor((i + 2p - d*(k-1) - 1 [+ s - 1 with ceil_mode]) / s) + 1``, and with ``ceil_mode``
    a last window starting in the right padding is dropped.  ``return_indices`` also returns the
    int64 flat index ``h*W + w`` of each maximum (first maximum on ties; NaN propagates).

    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-d max pooling ``(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)``; indices ``(d*H + h)*W + w``."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """:func:`max_pool1d` returning ``(values, indices)`` whatever ``return_indices`` says (as PyTorch's)."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """:func:`max_pool2d` returning ``(values, indices)`` whatever ``return_indices`` says (as PyTorch's)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """:func:`max_pool3d` returning ``(values, indices)`` whatever ``return_indices`` says (as PyTorch's)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _fractional_max_pool(n, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    op = f"fractional_max_pool{n}d"
    x, batched = _spatial_input(input, n, op)
    kernel, size = fractional_output_shape(x.shape[2:], kernel_size, output_size, output_ratio, op)
    batch, channels = x.shape[:2]
    if _random_samples is None:
        samples = default_generator().random((batch, channels, n), dtype=x.dtype)
    else:
        samples = np.asarray(as_data(_random_samples))
        if samples.dtype != x.dtype:
            raise TypeError(f"{op}: _random_samples must have the input's dtype {x.dtype}, got {samples.dtype}")
        if samples.ndim != 3 or samples.shape[0] < batch or samples.shape[1:] != (channels, n):
            raise ValueError(f"{op}: _random_samples must have shape (N >= {batch}, {channels}, {n}) for an input "
                             f"of shape {np.shape(as_data(input))}, got {samples.shape}")
    out, indices = fractional_max_pool_forward(x, samples, kernel, size, op)
    return _pooled(input, batched, out, lambda g: scatter_to_indices(g, indices, x.shape),
                   f"FractionalMaxPool{n}DBackward", indices if return_indices else None)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling (Graham, 2014) ``(N, C, H, W) -> (N, C, *output_size)``.

    Windows of ``kernel_size`` start at pseudo-random, nearly even steps (``alpha = (i - k)/(o - 1)``
    apart, each plane's offsets from its own sample u in [0, 1):
    ``start_j = int((j + u) * alpha) - int(u * alpha)``, the last window ending at the input's end).
    ``output_size``, or ``output_ratio`` (``int(i * ratio)``), sets the output.  ``_random_samples``
    ``(N, C, 2)`` (the input's dtype; column 0 drives W, column 1 H, as in PyTorch) makes it
    deterministic; otherwise they are drawn from :func:`convscope.random.default_generator`.
    With ``return_indices`` also the int64 flat index ``h*W + w`` of each maximum.
    """
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """3-d fractional max pooling ``(N, C, D, H, W) -> (N, C, *output_size)``; ``_random_samples``
    ``(N, C, 3)`` drive D, H and W in that order.  See :func:`fractional_max_pool2d`."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """:func:`fractional_max_pool2d` returning ``(values, indices)``."""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """:func:`fractional_max_pool3d` returning ``(values, indices)``."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, True, _random_samples)


def _avg_pool(n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    op = f"avg_pool{n}d"
    x, batched = _spatial_input(input, n, op)
    geometry = pool_geometry(x.shape[2:], kernel_size, stride, padding, 1, ceil_mode, op=op)
    if n == 3 and any(i < k for i, k in zip(x.shape[2:], geometry.kernel_size)):
        # PyTorch's 3-d average pooling (only) checks the unpadded input against the kernel.
        raise ValueError(f"{op}: input of spatial size {x.shape[2:]} is smaller than kernel_size "
                         f"{geometry.kernel_size}")
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(divisor_override, int)
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
    out = avg_pool_forward(x, geometry, count_include_pad, divisor_override)
    return _pooled(input, batched, out,
                   lambda g: avg_pool_backward(g, geometry, x.shape, count_include_pad, divisor_override),
                   "AvgPoolBackward")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-d average pooling ``(N, C, L) -> (N, C, L_out)``; see :func:`avg_pool2d`."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Divisor per window: ``divisor_override`` if given; else with ``count_include_pad`` the window's
    extent within the padded input (a ceil_mode window's part beyond the right padding never
    counts); else the number of input elements it covers.
    """
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-d average pooling ``(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)``; see :func:`avg_pool2d`."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive(n, input, output_size, kind, return_indices=False):
    op = f"adaptive_{kind}_pool{n}d"
    if n == 1 and (output_size is None or isinstance(output_size, (tuple, list)) and None in output_size):
        # PyTorch's 1-d signature takes an int only (None keeps a dimension in 2-d and 3-d)
        raise TypeError(f"{op}: output_size must be an int, got output_size={output_size!r}")
    # PyTorch's 1-d and 2-d adaptive average pooling check only the spatial sizes (its 2-d kernel,
    # which 1-d calls, the last two dimensions); the 3-d and max kernels every dimension but the first,
    # which for an unbatched input holds the channels
    unbatched = np.ndim(as_data(input)) == n + 1
    x, batched = _spatial_input(input, n, op, allow_int=kind == "max",
                                empty_channels=(kind == "avg" and n < 3) or unbatched)
    size = adaptive_output_shape(x.shape[2:], output_size, op)
    if kind == "avg":
        return _pooled(input, batched, adaptive_avg_pool_forward(x, size),
                       lambda g: adaptive_avg_pool_backward(g, x.shape), "AdaptiveAvgPoolBackward")
    if not (return_indices or isinstance(input, Tensor)):
        return _unbatch(adaptive_max_pool_forward(x, size), batched)
    out, indices = adaptive_max_pool_forward(x, size, return_indices=True)
    return _pooled(input, batched, out, lambda g: scatter_to_indices(g, indices, x.shape),
                   "AdaptiveMaxPoolBackward", indices if return_indices else None)


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling to ``output_size``; window ``j`` spans ``[floor(j*I/O), ceil((j+1)*I/O))``."""
    return _adaptive(1, input, output_size, "avg")


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling ``(N, C, H, W) -> (N, C, *output_size)``; ``None`` keeps a dimension."""
    return _adaptive(2, input, output_size, "avg")


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling ``(N, C, D, H, W) -> (N, C, *output_size)``."""
    return _adaptive(3, input, output_size, "avg")


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling to ``output_size`` (and int64 flat indices)."""
    return _adaptive(1, input, output_size, "max", return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling ``(N, C, H, W) -> (N, C, *output_size)`` (and int64 flat indices ``h*W + w``)."""
    return _adaptive(2, input, output_size, "max", return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling ``(N, C, D, H, W) -> (N, C, *output_size)`` (and int64 flat indices)."""
    return _adaptive(3, input, output_size, "max", return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """:func:`adaptive_max_pool1d` returning ``(values, indices)`` (as PyTorch's)."""
    return _adaptive(1, input, output_size, "max", True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """:func:`adaptive_max_pool2d` returning ``(values, indices)`` (as PyTorch's)."""
    return _adaptive(2, input, output_size, "max", True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """:func:`adaptive_max_pool3d` returning ``(values, indices)`` (as PyTorch's)."""
    return _adaptive(3, input, output_size, "max", True)


def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode):
    op = f"lp_pool{n}d"
    x, batched = _spatial_input(input, n, op)
    norm = float(norm_type)
    if norm == 0 or math.isnan(norm):
        raise ValueError(f"{op}: norm_type must be a non-zero number, got {norm_type!r}")
    kernel = ntuple(kernel_size, n, "kernel_size", op)
    geometry = pool_geometry(x.shape[2:], kernel, stride, 0, 1, ceil_mode, op=op)
    if n == 3 and not math.isinf(norm) and any(i < k for i, k in zip(x.shape[2:], kernel)):  # as avg_pool3d
        raise ValueError(f"{op}: input of spatial size {x.shape[2:]} is smaller than kernel_size {kernel}")
    max_pool = (max_pool1d, max_pool2d, max_pool3d)[n - 1]
    avg_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[n - 1]
    if isinstance(input, Tensor):  # composed of differentiable ops, as PyTorch writes it
        if math.isinf(norm):
            sign = 1.0 if norm > 0 else -1.0
            return max_pool(T.abs(input) * sign, kernel, stride, 0, 1, ceil_mode) * sign
        pooled = avg_pool(T.pow(input, norm), kernel, stride, 0, ceil_mode)
        pooled = T.sign(pooled) * T.relu(T.abs(pooled)) * float(math.prod(kernel))
        return T.pow(pooled, 1.0 / norm)
    if math.isinf(norm):  # PyTorch: the max (p = inf) or min (p = -inf) of |x| over each window
        sign = 1 if norm > 0 else -1
        return _unbatch(sign * max_pool_forward(sign * np.abs(x), geometry), batched)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pooled = avg_pool_forward(np.power(x, x.dtype.type(norm)), geometry)
        # PyTorch: (sign(out) * relu(|out|)) * prod(k), to the power 1/p (a ceil_mode window's
        # smaller average is still multiplied by the full kernel size).
        pooled = np.sign(pooled) * np.maximum(np.abs(pooled), 0) * x.dtype.type(math.prod(kernel))
        out = np.power(pooled, x.dtype.type(1.0 / norm))
    return _unbatch(out, batched)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling ``(sum over window of x^p)^(1/p)`` over ``(N, C, L)``."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling ``(sum over window of x^p)^(1/p)`` over ``(N, C, H, W)``."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling ``(sum over window of x^p)^(1/p)`` over ``(N, C, D, H, W)``."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size):
    op = f"max_unpool{n}d"
    x, batched = _spatial_input(input, n, op, allow_int=True)
    idx = np.asarray(as_data(indices))
    if idx.dtype != np.int64:  # PyTorch: "elements in indices should be type int64"
        raise TypeError(f"{op}: indices must be an int64 array (as max pooling returns them), got dtype {idx.dtype}")
    if idx.shape != np.shape(as_data(input)):
        raise ValueError(f"{op}: expected indices of the input's shape {np.shape(input)}, got indices of shape "
                         f"{idx.shape}")
    kernel = ntuple(kernel_size, n, "kernel_size", op)
    stride = kernel if stride is None else ntuple(stride, n, "stride", op)
    padding = ntuple(padding, n, "padding", op)
    if any(v <= 0 for v in kernel + stride):
        raise ValueError(f"{op}: kernel_size and stride must be positive, got {kernel} and {stride}")
    size = max_unpool_output_shape(x.shape[2:], kernel, stride, padding, output_size, op)
    idx_b = idx if batched else idx[None]
    return _pooled(input, batched, max_unpool_forward(x, idx_b, size, op), lambda g: max_unpool_backward(g, idx_b),
                   "MaxUnpoolBackward")


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of :func:`max_pool1d`: place each value at its index in a zero output."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of :func:`max_pool2d` ("unpooling"): zeros of size ``(i-1)*s - 2p + k`` per dimension
    (or ``output_size``) with ``out[n, c].flat[indices] = input``."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of :func:`max_pool3d`."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# -- resizing ---------------------------------------------------------------------------------

_INTERPOLATE_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "area": (1, 2, 3), "linear": (1,),
                      "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize ``(N, C, *spatial)`` (1 to 3 spatial dims) to ``size`` or by ``scale_factor``.

    Modes: ``nearest`` (source ``floor(dst * scale)``), ``nearest-exact`` (``floor((dst + 0.5) * scale)``),
    ``linear``/``bilinear``/``trilinear`` (``align_corners=True``: ``src = dst*(in-1)/(out-1)``; else
    ``src = (dst + 0.5)*scale - 0.5`` clamped at 0), ``bicubic`` (A = -0.75, taps clamped), ``area``
    (adaptive average pooling).  ``scale = 1/scale_factor`` when a scale factor is given and not
    recomputed, else ``in/out``.  ``antialias`` (bilinear/bicubic) widens the filter when downsampling.
    Input float32 or float64 (the output keeps it); the nearest, bilinear and bicubic modes also take
    uint8 images (bilinear/bicubic in PyTorch's and PIL's integer arithmetic).

    >>> interpolate(np.arange(4.0).reshape(1, 1, 4), scale_factor=0.5, mode="linear").tolist()
    [[[0.5, 2.5]]]
    """
    op = "interpolate"
    raw = as_data(input)
    if mode in ("nearest", "nearest-exact", "bilinear", "bicubic") and getattr(raw, "dtype", None) == np.uint8:
        x = np.asarray(raw)  # images, as PyTorch takes them (bilinear/bicubic resample in integers)
    else:
        x = as_float_array(raw, "input", op)
    if mode not in _INTERPOLATE_MODES:
        raise ValueError(f"{op}: unknown mode {mode!r}; expected one of {tuple(_INTERPOLATE_MODES)}")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: only 3D, 4D and 5D inputs (N, C, *spatial) are supported, got input of shape "
                         f"{x.shape} (mode {mode!r})")
    n = x.ndim - 2
    if n not in _INTERPOLATE_MODES[mode]:
        need = _INTERPOLATE_MODES[mode][0] + 2
        raise ValueError(f"{op}: got {x.ndim}D input, but {mode} mode needs {need}D input")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic | trilinear (got mode {mode!r})")
    align_corners = bool(align_corners)
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{op}: antialias is restricted to the bilinear and bicubic modes and 4-D input "
                         f"(got mode {mode!r})")
    if recompute_scale_factor and size is not None:
        raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
    output_size = interpolate_output_shape(x.shape[2:], size, scale_factor, op, allow_empty=mode == "area")
    if x.shape[1] == 0 and (mode != "area" or n == 3):
        # as PyTorch's upsampling kernels and adaptive_avg_pool3d (area in 3-d); area in 1-d and 2-d
        # is adaptive average pooling, which takes empty channels
        raise ValueError(f"{op}: expected non-empty {x.ndim}D data (channels and spatial sizes), got input of "
                         f"shape {x.shape} (mode {mode!r})")
    if mode == "area":
        return _wrap(adaptive_avg_pool_forward(x, output_size), (input,),
                     lambda g: (adaptive_avg_pool_backward(g, x.shape),), "UpsampleAreaBackward")
    if size is not None or recompute_scale_factor:
        scales = (None,) * n
    else:
        factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
        scales = tuple(float(f) for f in factors)
    out = resize_forward(x, output_size, mode, align_corners, scales, antialias)
    channels_last_kernel = takes_channels_last_kernel(x, output_size)
    return _wrap(out, (input,), lambda g: (resize_backward(g, x.shape, output_size, mode, align_corners, scales,
                                                           antialias, channels_last_kernel),), "UpsampleBackward")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated in PyTorch in favour of :func:`interpolate`, which it calls."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated in PyTorch: ``interpolate(input, size, scale_factor, mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated in PyTorch: ``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def channel_shuffle(input, groups):
    """ShuffleNet's channel shuffle of ``(N, C, *)`` (dimension 1 is the channels, whatever the
    rank): view the channels as ``(groups, C/groups)`` and transpose, so output channel
    ``j*groups + g`` is input channel ``g*(C/groups) + j``."""
    x = np.asarray(as_data(input))
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise ValueError(f"channel_shuffle: groups must be a positive int, got groups={groups!r}")
    if x.ndim < 3:
        raise ValueError(f"channel_shuffle: expected an input of at least 3 dimensions (N, C, *), got shape {x.shape}")
    if x.shape[1] % groups:
        raise ValueError(f"channel_shuffle: the {x.shape[1]} channels are not divisible by groups={groups}")

    def shuffle(a, g):
        lead, rest = a.shape[:1], a.shape[2:]
        return a.reshape(lead + (g, a.shape[1] // g) + rest).swapaxes(1, 2).reshape(a.shape)
    return _wrap(shuffle(x, int(groups)), (input,), lambda g: (shuffle(g, x.shape[1] // int(groups)),),
                 "ChannelShuffleBackward")


native_channel_shuffle = channel_shuffle


def pixel_shuffle(input, upscale_factor):
    """Rearrange ``(*, C*r^2, H, W) -> (*, C, H*r, W*r)`` (sub-pixel convolution's upsampling)."""
    x = np.asarray(as_data(input))
    shape = pixel_shuffle_output_shape(x.shape, upscale_factor)
    r = ntuple(upscale_factor, 1, "upscale_factor", "pixel_shuffle")[0]
    out = pixel_shuffle_forward(x, r) if x.size else np.zeros(shape, x.dtype)
    return _wrap(out, (input,), lambda g: (pixel_unshuffle_forward(g, r),), "PixelShuffleBackward")


def pixel_unshuffle(input, downscale_factor):
    """Rearrange ``(*, C, H*r, W*r) -> (*, C*r^2, H, W)``, the inverse of :func:`pixel_shuffle`."""
    x = np.asarray(as_data(input))
    shape = pixel_unshuffle_output_shape(x.shape, downscale_factor)
    r = ntuple(downscale_factor, 1, "downscale_factor", "pixel_unshuffle")[0]
    out = pixel_unshuffle_forward(x, r) if x.size else np.zeros(shape, x.dtype)
    return _wrap(out, (input,), lambda g: (pixel_shuffle_forward(g, r),), "PixelUnshuffleBackward")


# -- activations, linear layers, normalization, losses ------------------------------------------

def _elementwise(op, input, *args):
    """Run a differentiable primitive; plain arrays in, plain arrays out."""
    out = op(input, *args)
    return out if isinstance(input, Tensor) else out.data


def relu(input, inplace: bool = False):
    """``max(x, 0)``."""
    return _elementwise(T.relu, input)


def relu6(input, inplace: bool = False):
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """``x`` clamped to ``[min_val, max_val]`` (gradient 1 inside, 0 outside)."""
    return _elementwise(T.hardtanh, input, min_val, max_val)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """``x`` if ``x > 0`` else ``negative_slope * x``."""
    return _elementwise(T.leaky_relu, input, negative_slope)


def sigmoid(input):
    """``1 / (1 + exp(-x))``."""
    return _elementwise(T.sigmoid, input)


def tanh(input):
    return _elementwise(T.tanh, input)


def _softmax_dim(op: str, input, dim, dtype):
    """PyTorch's legacy rule for ``dim=None`` (with its deprecation warning): dimension 0 for 0-, 1-
    and 3-dimensional input, else 1; ``dtype`` casts an array input first."""
    if dtype is not None:
        if isinstance(input, Tensor):
            if np.dtype(dtype) != input.dtype:
                raise TypeError(f"{op}: dtype={dtype!r} casts only arrays here, not a Tensor of dtype {input.dtype}")
        else:
            input = as_float_array(np.asarray(input).astype(dtype), "input", op)
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                      f"dim=X as an argument.", UserWarning, stacklevel=3)
        dim = 0 if np.ndim(as_data(input)) in (0, 1, 3) else 1
    return input, dim


def softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (``None``: PyTorch's legacy choice, see
    :func:`_softmax_dim`)."""
    input, dim = _softmax_dim("softmax", input, dim, dtype)
    return _elementwise(T.softmax, input, dim)


def log_softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    """``x - log(sum(exp(x)))`` along ``dim`` (computed stably; ``None`` as in :func:`softmax`)."""
    input, dim = _softmax_dim("log_softmax", input, dim, dtype)
    return _elementwise(T.log_softmax, input, dim)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only).
    The mask comes from convscope's seeded generator (``convscope.manual_seed``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got p={p}")
    if not training or p == 0.0:
        return input
    from .random import default_generator
    x = as_data(input)
    rng = generator or default_generator()
    keep = (rng.random(x.shape) >= p).astype(x.dtype)
    scale = keep / x.dtype.type(1.0 - p) if p < 1.0 else keep
    return _wrap(x * scale, (input,), lambda g: (g * scale,), "DropoutBackward")


def linear(input, weight, bias=None):
    """``x @ weight.T + bias`` with ``weight (out_features, in_features)``: ``(*, in) -> (*, out)``."""
    x, w = as_data(input), as_data(weight)
    if np.shape(x)[-1:] != np.shape(w)[1:]:
        raise ValueError(f"linear: input of shape {np.shape(x)} does not match weight of shape {np.shape(w)} "
                         f"(expected input's last dimension {np.shape(w)[1]})")
    out = T.matmul(input, T.transpose(weight, 0, 1) if isinstance(weight, Tensor) else w.T)
    if bias is not None:
        out = T.add(out, bias)
    return out if any_tensor(input, weight, bias) else out.data


def _channel_sums(x: np.ndarray) -> np.ndarray:
    """Per-channel sums of ``(N, C, *)`` as PyTorch's batch-norm kernels take them: each sample's
    plane in the input's dtype, the planes' sums accumulated in float64."""
    return x.reshape(x.shape[0], x.shape[1], -1).sum(axis=2).sum(axis=0, dtype=np.float64)


def _channel_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel ``sum(a * b)`` of two ``(N, C, *)`` arrays, in the same precision as
    :func:`_channel_sums` (each plane's dot product in the dtype, accumulated in float64), without
    the product array: one BLAS dot per plane (measured on 128x16x28x28 float32: 0.07 ms against
    0.39 for the product and its sums)."""
    planes = a.shape[0] * a.shape[1]
    a2, b2 = a.reshape(planes, -1), b.reshape(planes, -1)
    dots = np.vecdot(a2, b2) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", a2, b2)
    return dots.reshape(a.shape[:2]).sum(axis=0, dtype=np.float64)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float | None = 0.1, eps: float = 1e-5):
    """Batch normalization over ``(N, C, *)``: per channel ``(x - mean) / sqrt(var + eps) * weight + bias``.

    Training uses the batch's mean and biased variance and updates the running statistics in
    place: ``running = (1 - momentum) * running + momentum * batch`` (with the *unbiased* batch
    variance, as PyTorch does); evaluation uses the running statistics.

    Statistics follow PyTorch's CPU kernel (``aten/src/ATen/native/cpu/batch_norm_kernel.cpp``): the
    mean is summed in float64 (its ``acc_type`` of float) and stored in the input's dtype, the
    variance ``sum((x - mean)^2)`` is taken around that rounded mean, and the sums of squares and of
    the backward are taken per sample plane and accumulated across planes in float64.  A channel whose
    values are all equal thus has exactly that mean and normalizes to ``bias``, not to float32
    rounding noise magnified by ``1/sqrt(eps)``.  PyTorch writes the output as one fused multiply-add
    ``x * alpha + (bias - mean * alpha)`` with ``alpha = invstd * weight``; ``(x - mean) * alpha + bias``
    is as accurate (both round the result once where the terms cancel) without a float64 pass.
    """
    x = as_float_array(as_data(input), "input", "batch_norm")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, *), got shape {x.shape}")
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):
        if value is not None and np.size(as_data(value)) != x.shape[1]:
            raise ValueError(f"batch_norm: {name} should contain {x.shape[1]} elements (one per channel of the "
                             f"input of shape {x.shape}), not {np.size(as_data(value))}")
    count = x.size // x.shape[1] if x.shape[1] else 0
    if x.size == 0:  # PyTorch returns the empty input's shape and leaves the running statistics alone
        def empty_backward(grad):
            return (np.zeros_like(x),) + tuple(None if v is None else np.zeros_like(as_data(v)) for v in (weight, bias))
        return _wrap(np.empty_like(x), (input, weight, bias), empty_backward, "NativeBatchNormBackward")
    if training:
        if count == 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                             f"shape {x.shape}")
        # float64 sums (einsum's casting reduction: 0.36 ms on 128x16x28x28 against sum's 0.49)
        channel_axes = "".join(chr(ord("a") + j) for j in range(x.ndim))
        mean = (np.einsum(f"{channel_axes}->b", x, dtype=np.float64) / count).astype(x.dtype)
        centered = per_channel(np.subtract, x, mean)
        # PyTorch keeps the sum of squares in the input's dtype (a float32 tensor for float32)
        var_sum = _channel_dots(centered, centered).astype(x.dtype)
        inv_std = (1.0 / np.sqrt((var_sum / x.dtype.type(count)).astype(np.float64) + eps)).astype(x.dtype)
        if momentum is not None:
            if running_mean is not None:
                running_mean[...] = (momentum * mean.astype(np.float64)
                                     + (1 - momentum) * running_mean.astype(np.float64))
            if running_var is not None:
                unbiased = (var_sum / x.dtype.type(count - 1)).astype(np.float64)
                running_var[...] = momentum * unbiased + (1 - momentum) * running_var.astype(np.float64)
    else:
        for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
            if stat is None:
                raise ValueError(f"batch_norm: {name} must be given in evaluation mode (training=False)")
        mean = np.asarray(running_mean, dtype=x.dtype)
        one = x.dtype.type(1)
        inv_std = one / np.sqrt(np.asarray(running_var, dtype=x.dtype) + x.dtype.type(eps))
        centered = per_channel(np.subtract, x, mean)
    w = None if weight is None else as_data(weight)
    b = None if bias is None else as_data(bias)
    # (x - mean) * alpha + bias, alpha = invstd * weight as PyTorch forms it; ``centered`` stays
    # for the backward pass
    out = per_channel(np.multiply, centered, inv_std if w is None else inv_std * w)
    if b is not None:
        per_channel(np.add, out, b, out=out)

    def backward(grad):
        # PyTorch's batch_norm_cpu_backward: sums of grad and of (x - mean) * grad in float64, then
        # dx = (grad - mean(grad) - (x - mean) * k) * invstd * weight with k = dot * invstd^2 / N
        grad_sum = _channel_sums(grad)
        dot = _channel_dots(centered, grad)
        dw = (dot * inv_std).astype(x.dtype) if _needs(weight)[0] else None
        db = grad_sum.astype(x.dtype) if _needs(bias)[0] else None
        dx = None
        if _needs(input)[0]:  # times invstd, then weight: PyTorch's order
            if training:  # the batch statistics depend on x too
                k = (dot * inv_std.astype(np.float64) ** 2 / count).astype(x.dtype)
                grad_mean = (grad_sum / count).astype(x.dtype)
                dx = per_channel(np.subtract, grad, grad_mean)
                dx -= per_channel(np.multiply, centered, k)
                per_channel(np.multiply, dx, inv_std, out=dx)
            else:
                dx = per_channel(np.multiply, grad, inv_std)
            if w is not None:
                per_channel(np.multiply, dx, w, out=dx)
        return dx, dw, db
    return _wrap(out, (input, weight, bias), backward, "NativeBatchNormBackward")


def _reduce(loss, reduction: str, op: str):
    if reduction == "mean":
        return T.mean(loss)
    if reduction == "sum":
        return T.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_class_targets(op: str, input_shape, target_shape, weight) -> None:
    """Shapes as PyTorch checks them: input ``(N, C, *)`` (or ``(C,)``) and targets ``(N, *)`` (or
    ``()``), and a weight of one entry per class."""
    if len(input_shape) == 0:
        raise ValueError(f"{op}: expected an input of 1 or more dimensions (C,) or (N, C, *), got a 0-d input")
    classes = input_shape[1] if len(input_shape) > 1 else input_shape[0]
    expected = (input_shape[0],) + tuple(input_shape[2:]) if len(input_shape) > 1 else ()
    if tuple(target_shape) != expected:
        if len(input_shape) > 1 and len(target_shape) > 0 and target_shape[0] != input_shape[0]:
            raise ValueError(f"{op}: expected input batch_size ({input_shape[0]}) to match target batch_size "
                             f"({target_shape[0]})")
        raise ValueError(f"{op}: expected target of shape {expected} for input of shape {tuple(input_shape)}, got "
                         f"target of shape {tuple(target_shape)}")
    if weight is not None and np.shape(as_data(weight)) != (classes,):
        raise ValueError(f"{op}: weight must have one entry for each of the {classes} classes, got weight of shape "
                         f"{np.shape(as_data(weight))}")


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log likelihood: ``-weight[t] * input[n, t]`` for log-probabilities ``input (N, C, *)``
    and class indices ``target (N, *)``; ``mean`` divides by the total weight of the counted targets."""
    logp = input if isinstance(input, Tensor) else Tensor(as_float_array(input, "input", "nll_loss"))
    t = np.asarray(as_data(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold class indices (integers), got dtype {t.dtype}")
    _check_class_targets("nll_loss", logp.shape, t.shape, weight)
    classes = logp.shape[1] if logp.ndim > 1 else logp.shape[0]
    valid = t != ignore_index
    if np.any((t[valid] < 0) | (t[valid] >= classes)):
        raise ValueError(f"nll_loss: target values must be in [0, {classes}) or ignore_index={ignore_index}")
    safe = np.where(valid, t, 0)
    picked = T.take_along_dim(logp, np.expand_dims(safe, 1), 1).squeeze(1) if logp.ndim > 1 else logp[safe]
    w = np.ones(classes, dtype=logp.dtype) if weight is None else np.asarray(as_data(weight), dtype=logp.dtype)
    per = w[safe] * valid
    # select, not multiply, by the mask: with every target ignored, the mean's 1/0 gradient must
    # stop at the ignored positions (PyTorch's gradient is 0 there), not become inf * 0 = NaN
    loss = T.where(valid, T.neg(T.mul(picked, w[safe])), np.zeros((), dtype=logp.dtype))
    if reduction == "mean":
        result = T.sum(loss) / float(per.sum())
    else:
        result = _reduce(loss, reduction, "nll_loss")
    return result if any_tensor(input) else result.data


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Cross entropy of logits ``input (N, C, *)`` against class indices ``(N, *)`` or class
    probabilities ``(N, C, *)``.

    With ``label_smoothing = e`` the loss is ``(1 - e) * nll + e / C * smooth`` where ``smooth``
    is the (weighted) sum of ``-log p`` over classes, reduced like the nll term (PyTorch's rule).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    logits = input if isinstance(input, Tensor) else Tensor(as_float_array(input, "input", "cross_entropy"))
    if logits.ndim == 0:
        raise ValueError("cross_entropy: expected an input of 1 or more dimensions (C,) or (N, C, *), got a 0-d input")
    logp = T.log_softmax(logits, 1 if logits.ndim > 1 else 0)
    classes = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
    t = np.asarray(as_data(target))
    w = None if weight is None else np.asarray(as_data(weight), dtype=logits.dtype)
    wshape = (1, classes) + (1,) * (logits.ndim - 2) if logits.ndim > 1 else (classes,)
    if t.dtype.kind == "f":  # class probabilities
        if t.shape != logits.shape:
            raise ValueError(f"cross_entropy: class-probability targets must have the input's shape "
                             f"{logits.shape}, got {t.shape}")
        if ignore_index >= 0:  # PyTorch: any negative index means "none" here
            raise ValueError(f"cross_entropy: ignore_index is not supported for class-probability targets, got "
                             f"ignore_index={ignore_index}")
        if w is not None and w.shape != (classes,):
            raise ValueError(f"cross_entropy: weight must have one entry for each of the {classes} classes, got "
                             f"weight of shape {w.shape}")
        probs = t * (1 - label_smoothing) + label_smoothing / classes
        weighted = logp * (probs * w.reshape(wshape) if w is not None else probs)
        loss = T.neg(T.sum(weighted, 1 if logits.ndim > 1 else 0))
        if reduction == "mean":  # over every position but the class dimension
            result = T.sum(loss) / float(logits.data.size // classes)
        else:
            result = _reduce(loss, reduction, "cross_entropy")
        return result if any_tensor(input) else result.data
    result = nll_loss(logp, t, w, ignore_index, reduction)
    if label_smoothing > 0:
        valid = t != ignore_index
        per_class = logp * w.reshape(wshape) if w is not None else logp
        smooth = T.where(valid, T.neg(T.sum(per_class, 1 if logits.ndim > 1 else 0)),
                         np.zeros((), dtype=logits.dtype))
        if reduction == "mean":
            denominator = float(w[t[valid]].sum()) if w is not None else float(valid.sum())
            smooth = T.sum(smooth) / denominator
        else:
            smooth = _reduce(smooth, reduction, "cross_entropy")
        result = result * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    return result if any_tensor(input) else result.data


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error ``(input - target)^2``, reduced by ``reduction``."""
    diff = T.sub(input, target)
    result = _reduce(T.mul(diff, diff), reduction, "mse_loss")
    return result if any_tensor(input, target) else result.data
