"""Resizing: ``interpolate`` kernels and pixel (un)shuffle, on batched ``(B, C, *spatial)`` arrays.

Every interpolation mode here is separable: each spatial dimension is resized in turn by
gathering a few source rows and mixing them with per-output weights.  The source indices
and weights follow PyTorch's CPU kernels (``aten/src/ATen/native/UpSample.h``,
``cpu/UpSampleKernel.cpp``), including their arithmetic precision: index math in float32
for float32 inputs, so that rounding picks the same source pixels.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ._arrays import silent_float_errors
from .threads import split_rows

__all__ = ["resize_forward", "resize_backward", "takes_channels_last_kernel", "resize_taps",
           "pixel_shuffle_forward", "pixel_unshuffle_forward", "CUBIC_A"]

#: The cubic convolution coefficient of PyTorch's bicubic mode (PIL's antialiased bicubic uses -0.5).
CUBIC_A = -0.75


def _scale(in_size: int, out_size: int, align_corners: bool, scale: float | None, ftype) -> np.floating:
    """PyTorch's ``area_pixel_compute_scale``: the source step per output step."""
    if align_corners:
        return ftype(in_size - 1) / ftype(out_size - 1) if out_size > 1 else ftype(0)
    if scale is not None and scale > 0:
        return ftype(1.0 / scale)
    return ftype(in_size) / ftype(out_size)


def _fused_multiply_add(a, b: np.ndarray, c, ftype) -> np.ndarray:
    """``a * b + c`` rounded once, as the fused multiply-add PyTorch's compiled kernels use.

    float32: the product of two floats is exact in float64, so one float64 sum and the cast round
    (twice only where the float64 sum is itself inexact, far below float32's precision).  float64:
    an error-free product (Dekker's split) and sum, added back before the last rounding."""
    if ftype == np.float32:
        return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.float64(c)).astype(np.float32)
    a, b, c = np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(c, np.float64)
    product = a * b
    splitter = np.float64(2**27 + 1)
    a_big = splitter * a
    a_hi = a_big - (a_big - a)
    b_big = splitter * b
    b_hi = b_big - (b_big - b)
    a_lo, b_lo = a - a_hi, b - b_hi
    product_error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    total = product + c
    virtual = total - product
    sum_error = (product - (total - virtual)) + (c - virtual)
    return total + (sum_error + product_error)


def _source_index(scale, dst: np.ndarray, align_corners: bool, cubic: bool, ftype) -> np.ndarray:
    """PyTorch's ``area_pixel_compute_source_index``: ``scale * (dst + 0.5) - 0.5``, which its
    compiled kernel rounds once (a fused multiply-add; rounded twice, 1-d linear resizing of float32
    past about 2,000 output positions was off by up to 4e-3)."""
    if align_corners:
        return scale * dst.astype(ftype)
    with np.errstate(over="ignore", invalid="ignore"):
        src = _fused_multiply_add(scale, dst.astype(ftype) + ftype(0.5), -0.5, ftype)
    return src if cubic else np.maximum(src, ftype(0))


def _guarded_floor(src: np.ndarray, in_size: int) -> np.ndarray:
    """PyTorch's ``guard_index_and_lambda`` index: ``min(floorf(src), in_size - 1)``.  ``floorf``
    takes a float, so a float64 source index is rounded to float32 first (3.99999996 -> 4)."""
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)


def takes_channels_last_kernel(x: np.ndarray, output_size: tuple[int, ...]) -> bool:
    """Whether PyTorch 2.13's CPU nearest, bilinear and trilinear resizing take their channels-last kernels for
    ``x`` (``_use_vectorized_kernel_cond_2d/3d`` in ``UpSampleKernel.cpp``): in 2-d for a
    channels-last input with more than 3 channels or an output with ``H + W <= 128``; in 3-d for a
    channels-last input with more than 3 channels; never in 1-d.  Those kernels compute nearest
    source indices and linear sums differently (:func:`nearest_indices`,
    :func:`_linear_channels_last`).  (torch also takes the bilinear one for 3 channels when it
    runs on one thread, a setting of torch's that convscope cannot see.)"""
    if x.ndim not in (4, 5):
        return False
    channels_last = _is_channels_last_contiguous(x) and x.shape[1] > 3
    return channels_last or (x.ndim == 4 and output_size[-2] + output_size[-1] <= 128)


#: Outputs computed at once by :func:`_linear_channels_last` (its temporaries are a few times this).
RESIZE_BLOCK_ELEMENTS = 2**18

#: Elements of one SIMD vector in torch 2.13's channels-last resizing kernels on this machine
#: (32 bytes: measured, 8 float32 or 4 float64 channels are summed in the vector order).
_CHANNELS_LAST_VECTOR_BYTES = 32


def _fma_data(a: np.ndarray, b, c: np.ndarray) -> np.ndarray:
    """:func:`_fused_multiply_add` of data that may hold inf or NaN (or overflow in the float64
    splitting): there the plain ``a * b + c``, which rounds the same way wherever it is not finite."""
    ftype = a.dtype.type
    fused = _fused_multiply_add(a, b, c, ftype)
    if ftype == np.float32 or np.isfinite(fused).all():
        return fused.astype(ftype, copy=False)
    return np.where(np.isfinite(fused), fused, a * b + c).astype(ftype)


def _corner_orders(n: int) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """The order in which torch's channels-last linear kernel sums the ``2**n`` corners, innermost
    first: ``(SIMD channels, the other channels)``.  Corners are ``(0|1 per dimension)``; torch writes
    them in that order, ``i00*w00 + i01*w01 + i10*w10 + i11*w11``.  Its SIMD code nests the sum the
    other way, and the compiler starts from the last product but one: ``fma(i00, w00, fma(i01, w01,
    fma(i11, w11, i10 * w10)))``; its scalar code starts from the second product:
    ``fma(i11, w11, fma(i10, w10, fma(i00, w00, i01 * w01)))``; likewise for 3-d's 8 corners
    (measured: every output equal, 2-d and 3-d, both dtypes)."""
    corners = list(itertools.product((0, 1), repeat=n))
    return [corners[-2], corners[-1]] + corners[-3::-1], [corners[1], corners[0]] + corners[2:]


def _linear_channels_last(x: np.ndarray, output_size: tuple[int, ...], align_corners: bool,
                          scales: tuple[float | None, ...]) -> np.ndarray:
    """Bilinear (2-d) or trilinear (3-d) resizing as torch's channels-last kernel sums it, bit for bit:
    every corner with its product weight (``w_dhw = (lambda_d * lambda_h) * lambda_w``), summed in the
    orders of :func:`_corner_orders`: the channels in whole SIMD vectors one way, the last ``C % L``
    the other.  Output rows (the first spatial dimension) in blocks of about
    ``RESIZE_BLOCK_ELEMENTS`` outputs, which bounds the temporaries."""
    ftype, n = x.dtype.type, x.ndim - 2
    taps = [linear_weights(i, o, align_corners, s, ftype) for i, o, s in zip(x.shape[2:], output_size, scales)]
    vector_order, tail_order = _corner_orders(n)
    channels = x.shape[1]
    vector = channels - channels % (_CHANNELS_LAST_VECTOR_BYTES // x.itemsize)
    parts = (slice(0, vector), vector_order), (slice(vector, channels), tail_order)
    out = np.empty(x.shape[:2] + tuple(output_size), dtype=ftype)
    block = max(1, RESIZE_BLOCK_ELEMENTS // max(1, x.shape[0] * channels * math.prod(output_size[1:])))
    for r0 in range(0, output_size[0], block):
        rows = slice(r0, r0 + block)
        values = {(): x}  # corner prefix -> the input taken at those corners' indices
        weights = {(): None}
        for j, (index, lam) in enumerate(taps):
            index, lam = (index, lam) if j else ([k[rows] for k in index], [k[rows] for k in lam])
            shape = [1] * n
            shape[j] = -1
            values = {c + (k,): np.take(v, index[k], axis=2 + j) for c, v in values.items() for k in (0, 1)}
            weights = {c + (k,): lam[k].reshape(shape) if w is None else w * lam[k].reshape(shape)
                       for c, w in weights.items() for k in (0, 1)}
        o = out[:, :, rows]
        for part, order in parts:
            total = values[order[0]][:, part] * weights[order[0]]
            for corner in order[1:]:
                total = _fma_data(values[corner][:, part], weights[corner], total)
            o[:, part] = total
    return out


def _is_channels_last_contiguous(x: np.ndarray) -> bool:
    """torch's ``is_contiguous(memory_format=channels_last[_3d])`` for an array of its strides:
    channels, then the spatial dimensions from the last, then the batch, each packed after the
    previous (dimensions of size 1 skipped)."""
    expected = 1
    for d in (1, *range(x.ndim - 1, 1, -1), 0):
        if x.shape[d] != 1:
            if x.strides[d] != expected * x.itemsize:
                return False
            expected *= x.shape[d]
    return True


def nearest_indices(in_size: int, out_size: int, scale: float | None, exact: bool, channels_last_kernel: bool,
                    double: bool) -> np.ndarray:
    """Source index of every output position for ``nearest`` (``floor(dst * scale)``) or
    ``nearest-exact`` (``floor((dst + 0.5) * scale)``), clamped to ``in_size - 1``; ``scale`` is
    ``1 / scale_factor`` if a scale factor is given, else ``in / out``.

    The rounding is PyTorch 2.13's CPU kernels' (``UpSample.h``, ``UpSampleKernel.cpp``), which
    differ in where they round:

    - the channels-last kernel (:func:`takes_channels_last_kernel`) computes in float32
      whatever the dtype: ``floorf(float(dst) * scale)``, except that an unchanged size is the
      identity and a doubled size ``dst >> 1`` whatever the scale factor says; ``nearest-exact``
      ``floorf((dst + 0.5) * double(scale))``, rounded to float32 before the floor;
    - the generic kernel computes in the input's precision (float32 for float32 and uint8, double
      for float64): ``floorf(scale * dst)``; ``nearest-exact`` ``floorf(max(scale * (dst + 0.5) - 0.5,
      0) + 0.5)`` with a fused multiply-add; ``floorf`` rounds a double to float32 first.
    """
    dst = np.arange(out_size)
    if channels_last_kernel:
        step = np.float32(1.0 / scale) if scale is not None and scale > 0 \
            else np.float32(in_size) / np.float32(out_size)
        if exact:
            position = ((dst + 0.5) * np.float64(step)).astype(np.float32)
        elif out_size == in_size:
            return dst
        elif out_size == 2 * in_size:
            return dst >> 1
        else:
            position = dst.astype(np.float32) * step
    else:
        ftype = np.float64 if double else np.float32
        step = _scale(in_size, out_size, False, scale, ftype)
        if exact:
            shifted = _fused_multiply_add(step, dst.astype(ftype) + ftype(0.5), -0.5, ftype)
            position = (np.maximum(shifted, ftype(0)) + ftype(0.5)).astype(np.float32)
        else:
            position = (step * dst.astype(ftype)).astype(np.float32)
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


def linear_weights(in_size: int, out_size: int, align_corners: bool, scale: float | None, ftype):
    """``(indices (2, O), weights (2, O))`` of linear interpolation along one dimension."""
    dst = np.arange(out_size)
    if out_size == in_size:
        return np.stack([dst, dst]), np.stack([np.ones(out_size, ftype), np.zeros(out_size, ftype)])
    step = _scale(in_size, out_size, align_corners, scale, ftype)
    src = _source_index(step, dst, align_corners, False, ftype)
    i0 = _guarded_floor(src, in_size)
    lambda1 = np.clip(src - i0.astype(ftype), ftype(0), ftype(1)).astype(ftype)
    i1 = i0 + (i0 < in_size - 1)
    return np.stack([i0, i1]), np.stack([ftype(1) - lambda1, lambda1])


# The cubic convolution polynomials, rounded as PyTorch's compiled plain bicubic kernel
# (``get_cubic_upsample_coefficients``) rounds them: every multiply-add fused except the last of each
# polynomial.  Measured on impulse responses (80 size pairs, both dtypes, 14,743 weights away from
# the borders, and 160 whole resizes of 2-50 pixels), every weight then equals torch's bit for bit
# (rounded term by term, 141 of 1,030 differed; all fused, 412).  The antialiasing filter fuses
# every step (below).
def _cubic1(x, a):  # |x| <= 1: ((a + 2) * x - (a + 3)) * x * x + 1
    ftype = x.dtype.type
    inner = _fused_multiply_add(ftype(a + 2), x, -(a + 3), ftype)
    return inner * x * x + ftype(1)


def _cubic2(x, a):  # 1 < |x| < 2: ((a * x - 5a) * x + 8a) * x - 4a
    ftype = x.dtype.type
    inner = _fused_multiply_add(_fused_multiply_add(ftype(a), x, -5 * a, ftype), x, 8 * a, ftype)
    return inner * x - ftype(4 * a)


def _cubic1_fused(x, a):  # ((a + 2) * x - (a + 3)) * x * x + 1
    ftype = x.dtype.type
    inner = _fused_multiply_add(ftype(a + 2), x, -(a + 3), ftype)
    return _fused_multiply_add(inner * x, x, 1, ftype)


def _cubic2_fused(x, a):  # ((a * x - 5a) * x + 8a) * x - 4a
    ftype = x.dtype.type
    inner = _fused_multiply_add(_fused_multiply_add(ftype(a), x, -5 * a, ftype), x, 8 * a, ftype)
    return _fused_multiply_add(inner, x, -4 * a, ftype)


def cubic_weights(in_size: int, out_size: int, align_corners: bool, scale: float | None, ftype):
    """``(indices (4, O), weights (4, O))`` of bicubic interpolation (A = -0.75) along one dimension;
    the four taps ``floor(src) - 1 .. floor(src) + 2`` are clamped to the input."""
    dst = np.arange(out_size)
    step = _scale(in_size, out_size, align_corners, scale, ftype)
    src = _source_index(step, dst, align_corners, True, ftype)
    i0 = _guarded_floor(src, in_size)
    t = np.clip(src - i0.astype(ftype), ftype(0), ftype(1)).astype(ftype)
    a = ftype(CUBIC_A)
    one = ftype(1)
    weights = np.stack([_cubic2(t + one, a), _cubic1(t, a), _cubic1(one - t, a), _cubic2((one - t) + one, a)])
    indices = np.clip(i0[None, :] + np.arange(-1, 3)[:, None], 0, in_size - 1)
    return indices, weights.astype(ftype)


def _filter(x: np.ndarray, cubic: bool, a: float) -> np.ndarray:
    """PyTorch's ``aa_filter`` in ``x``'s precision: the triangle ``max(1 - |x|, 0)`` or the cubic
    convolution kernel with coefficient ``a``."""
    ftype = x.dtype.type
    x = np.abs(x)
    if not cubic:
        return np.maximum(ftype(1) - x, ftype(0))
    return np.where(x < 1, _cubic1_fused(x, ftype(a)), np.where(x < 2, _cubic2_fused(x, ftype(a)), ftype(0)))


def antialias_weights(in_size: int, out_size: int, align_corners: bool, scale: float | None, ftype, cubic: bool):
    """``(indices (K, O), weights (K, O))`` of PyTorch's antialiased (PIL-style) resampling along one
    dimension: a triangle or cubic (A = -0.5) filter stretched by the scale when downsampling,
    evaluated at the input pixel centres inside the support and normalized to sum 1.  Taps past an
    output's support have index -1 and weight 0."""
    interp_size = 4 if cubic else 2
    step = _scale(in_size, out_size, align_corners, scale, ftype)
    support = ftype(interp_size * 0.5) * step if step >= 1.0 else ftype(interp_size * 0.5)
    max_size = int(math.ceil(support)) * 2 + 1
    invscale = ftype(1.0) / step if step >= 1.0 else ftype(1.0)
    centers = step * (np.arange(out_size).astype(ftype) + ftype(0.5))
    # The C++ adds the literal 0.5, a double: for float32 the sums below are rounded once, in double
    # (then truncated toward zero, or rounded to float32 where a float32 is passed on).
    xmin = np.maximum(((centers - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    xsize = np.clip(np.minimum(((centers + support).astype(np.float64) + 0.5).astype(np.int64), in_size) - xmin,
                    0, max_size)
    j = np.arange(max_size)[:, None]
    offsets = ((j + xmin[None, :]).astype(ftype) - centers[None, :]).astype(np.float64)
    x = ((offsets + 0.5) * np.float64(invscale)).astype(ftype)
    w = np.where(j < xsize[None, :], _filter(x, cubic, -0.5), ftype(0)).astype(ftype)
    total = np.cumsum(w, axis=0, dtype=ftype)[-1]  # summed in order, as the C++ loop (NumPy's sum pairs terms)
    w = np.where(total != 0, w / np.where(total != 0, total, ftype(1)), w).astype(ftype)
    # PyTorch reads only the xsize taps inside the support: the others get index -1 (weight 0)
    indices = np.where(j < xsize[None, :], np.minimum(j + xmin[None, :], in_size - 1), -1)
    return indices, w


def uint8_weights(in_size: int, out_size: int, align_corners: bool, scale: float | None, cubic: bool,
                  antialias: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(first (O,), count (O,), weights (O, K) int64, precision)`` of PyTorch's integer resampling
    of uint8 images along one dimension (``_compute_index_ranges_int16_weights``): output ``o`` is
    ``sum_k x[first[o] + k] * weights[o, k]`` over ``k < count[o]``, plus ``2**(precision-1)``,
    shifted right by ``precision`` and clamped to 0..255.

    The weights are worked out in double precision and scaled by ``2**precision`` to int16, rounded
    half away from zero; ``precision`` is the largest that keeps the largest weight (in every
    partial sum the C++ forms) below ``2**14``.  Without antialiasing the taps that fall outside
    the input are folded onto the border taps, in the order the C++ loop visits them."""
    if antialias:
        indices, w = antialias_weights(in_size, out_size, align_corners, scale, np.float64, cubic)
        count = (indices >= 0).sum(axis=0)
        first = np.where(count > 0, indices[0], 0)
        weights = w.T.copy()
        largest = float(weights.max(initial=0.0))
    else:
        taps = 4 if cubic else 2
        support = taps // 2
        step = _scale(in_size, out_size, align_corners, scale, np.float64)
        src = _source_index(step, np.arange(out_size), align_corners, cubic, np.float64)
        index = _guarded_floor(src, in_size)
        lam = np.minimum(np.maximum(src - index, 0.0), 1.0)
        unbound_first = index - support + 1
        first = np.maximum(unbound_first, 0)
        count = np.clip(np.minimum(index + support + 1, in_size) - first, 0, taps)
        weights = np.zeros((out_size, taps))
        rows = np.arange(out_size)
        slot = np.zeros(out_size, dtype=np.int64)
        largest = 0.0
        for j in range(taps):
            weights[:, j] = 0.0
            w = _filter((j + 1 - support) - lam, cubic, CUBIC_A)
            slot = np.where(unbound_first + j <= 0, 0, np.where(unbound_first + j >= in_size - 1, count - 1, slot))
            weights[rows, slot] += w
            largest = max(largest, float(weights[rows, slot].max(initial=0.0)))
            slot = slot + 1
    precision = 0
    while precision < 22 and int(0.5 + largest * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = weights * float(1 << precision)
    weights16 = np.where(scaled < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5)).astype(np.int64)
    return first.astype(np.int64), count.astype(np.int64), weights16, precision


def _resample_uint8(x: np.ndarray, axis: int, first: np.ndarray, count: np.ndarray, weights16: np.ndarray,
                    precision: int) -> np.ndarray:
    """One integer pass of :func:`uint8_weights` along ``axis``, rounded and clamped to uint8."""
    in_size, out_size = x.shape[axis], len(first)
    shape = [1] * x.ndim
    shape[axis] = out_size
    total = np.full(x.shape[:axis] + (out_size,) + x.shape[axis + 1:], 1 << (precision - 1), dtype=np.int64)
    for k in range(weights16.shape[1]):
        w = np.where(k < count, weights16[:, k], 0).reshape(shape)
        if not w.any():
            continue
        total += np.take(x, np.minimum(first + k, in_size - 1), axis=axis).astype(np.int64) * w
    return np.clip(total >> precision, 0, 255).astype(np.uint8)


def resize_uint8(x: np.ndarray, output_size: tuple[int, int], mode: str, align_corners: bool,
                 scales: tuple[float | None, float | None], antialias: bool = False) -> np.ndarray:
    """Bilinear or bicubic resizing of uint8 images ``(B, C, H, W)`` as PyTorch 2.13 computes it
    (PIL's integer arithmetic): the width first, then the height, each pass rounded to uint8; a
    dimension whose size does not change is not resampled."""
    out = x
    for axis in (3, 2):
        if output_size[axis - 2] != x.shape[axis]:
            first, count, weights16, precision = uint8_weights(
                x.shape[axis], output_size[axis - 2], align_corners, scales[axis - 2], mode == "bicubic", antialias)
            out = _resample_uint8(out, axis, first, count, weights16, precision)
    return out if out is not x else x.copy()


#: Largest dense resampling matrix (output x input elements) used for a GEMM-based resize.
DENSE_MATRIX_LIMIT = 2**22


def _resample_matrix(indices: np.ndarray, weights: np.ndarray, in_size: int, dtype) -> np.ndarray:
    """The dense ``(O, I)`` matrix of a separable resampling (taps that hit the same source add up)."""
    out_size = indices.shape[1]
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    valid = indices >= 0
    rows = np.broadcast_to(np.arange(out_size), indices.shape)
    np.add.at(matrix, (rows[valid], indices[valid]), weights[valid])
    return matrix


def _along(x: np.ndarray, axis: int, matrix: np.ndarray) -> np.ndarray:
    """``out[..., o, ...] = sum_i matrix[o, i] * x[..., i, ...]`` as one GEMM."""
    lead, rest = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    size = x.shape[axis]
    if rest == 1:
        out = x.reshape(lead, size) @ matrix.T
    else:
        out = np.matmul(matrix, x.reshape(lead, size, rest))
    return out.reshape(x.shape[:axis] + (matrix.shape[0],) + x.shape[axis + 1:])


def _apply(x: np.ndarray, axis: int, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Resize ``x`` along ``axis``: ``out[..., o, ...] = sum_k weights[k, o] * x[..., indices[k, o], ...]``
    over the taps with ``indices[k, o] >= 0``.

    For finite inputs the taps are folded into a dense ``(O, I)`` matrix and applied as one
    GEMM (adding exact zeros changes nothing); a NaN or inf must stay local to its taps, as
    in PyTorch, so non-finite inputs take the gather path.
    """
    in_size, out_size = x.shape[axis], indices.shape[1]
    if in_size * out_size <= DENSE_MATRIX_LIMIT and np.isfinite(x).all():
        return _along(x, axis, _resample_matrix(indices, weights, in_size, x.dtype))
    shape = [1] * x.ndim
    shape[axis] = out_size
    out = None
    for k in range(indices.shape[0]):
        term = np.take(x, np.maximum(indices[k], 0), axis=axis) * weights[k].reshape(shape)
        if (indices[k] < 0).any():  # taps outside the support are not read at all (0 * inf is NaN)
            term = np.where((indices[k] >= 0).reshape(shape), term, x.dtype.type(0))
        out = term if out is None else np.add(out, term, out=out)
    return out


def _apply_transposed(grad: np.ndarray, axis: int, indices: np.ndarray, weights: np.ndarray,
                      in_size: int) -> np.ndarray:
    """Adjoint of :func:`_apply`: ``dx[..., indices[k, o], ...] += weights[k, o] * grad[..., o, ...]``."""
    if in_size * indices.shape[1] <= DENSE_MATRIX_LIMIT:
        return _along(grad, axis, _resample_matrix(indices, weights, in_size, grad.dtype).T)
    moved = np.moveaxis(grad, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    dx = np.zeros((flat.shape[0], in_size), dtype=grad.dtype)
    for k in range(indices.shape[0]):
        valid = indices[k] >= 0
        np.add.at(dx, (slice(None), indices[k][valid]), flat[:, valid] * weights[k][valid])
    return np.moveaxis(dx.reshape(moved.shape[:-1] + (in_size,)), -1, axis)


def _taps_per_dim(input_shape, output_size, mode, align_corners, scales, antialias, dtype, channels_last_kernel):
    """``(axis, indices, weights)`` of every resized dimension, in the order the forward applies them."""
    ftype = np.dtype(dtype).type
    taps = []
    double = np.dtype(dtype) == np.float64
    for j, (in_size, out_size, scale) in reversed(list(enumerate(zip(input_shape[2:], output_size, scales)))):
        if mode in ("nearest", "nearest-exact"):
            idx = nearest_indices(in_size, out_size, scale, mode == "nearest-exact", channels_last_kernel, double)
            taps.append((2 + j, idx[None, :], np.ones((1, out_size), dtype=dtype)))
            continue
        if antialias:
            if in_size == out_size:  # PyTorch's separable antialias kernel skips unresized dimensions
                continue
            indices, weights = antialias_weights(in_size, out_size, align_corners, scale, ftype, mode == "bicubic")
        elif mode == "bicubic":
            indices, weights = cubic_weights(in_size, out_size, align_corners, scale, ftype)
        else:
            indices, weights = linear_weights(in_size, out_size, align_corners, scale, ftype)
        taps.append((2 + j, indices, weights))
    return taps


def resize_taps(x: np.ndarray, output_size: tuple[int, ...], mode: str, align_corners: bool,
                scales: tuple[float | None, ...], antialias: bool = False) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(axis, indices (T, O), weights (T, O))`` of every resized dimension of ``x (B, C, *in)``, as
    :func:`resize_forward` applies them (last dimension first): output ``o`` along ``axis`` is
    ``sum_t weights[t, o] * x[..., indices[t, o], ...]``.  For traces and pictures."""
    return _taps_per_dim(x.shape, output_size, mode, align_corners, scales, antialias, x.dtype,
                         takes_channels_last_kernel(x, output_size))


@silent_float_errors
def resize_backward(grad: np.ndarray, input_shape: tuple[int, ...], output_size: tuple[int, ...], mode: str,
                    align_corners: bool, scales: tuple[float | None, ...], antialias: bool = False,
                    channels_last_kernel: bool = False) -> np.ndarray:
    """Adjoint of :func:`resize_forward` (every mode is linear in the input): apply the transposed
    resampling of each dimension, in the reverse order.  ``channels_last_kernel``: the forward's
    nearest indices came from PyTorch's channels-last kernel (:func:`takes_channels_last_kernel`
    of the forward's input)."""
    out = grad
    for axis, indices, weights in reversed(_taps_per_dim(input_shape, output_size, mode, align_corners, scales,
                                                         antialias, grad.dtype, channels_last_kernel)):
        out = _apply_transposed(out, axis, indices, weights, input_shape[axis])
    return np.ascontiguousarray(out)


def _is_repeat(index: np.ndarray, size: int) -> int:
    """``r`` if ``index`` repeats every source position ``r`` times (``index == arange // r``), else 0."""
    r = len(index) // size
    return r if r >= 1 and len(index) == r * size and np.array_equal(index, np.arange(len(index)) // r) else 0


_TWO_FLOAT32 = np.uint64(2**32 + 1)


def _nearest(x: np.ndarray, index_per_dim: list[np.ndarray]) -> np.ndarray:
    """Gather ``x[..., i0[o0], i1[o1], ...]``.

    An integer upscale in every dimension (``i = o // r``) needs no gather: viewing the output as
    ``(B, C, s0, r0, s1, r1, ...)``, the input is written ``r`` times into the last dimension's
    copies with strided writes, and those rows are replicated outward as whole contiguous slabs
    (float32 with an even last ratio writes pairs as uint64 in one pass instead); the planes are
    split across the cores.  Otherwise one gather per dimension.
    """
    spatial, n = x.shape[2:], x.ndim - 2
    ratios = [_is_repeat(idx, size) for idx, size in zip(index_per_dim, spatial)]
    if not all(ratios):
        out = x
        for j, idx in enumerate(index_per_dim):
            out = np.take(out, idx, axis=2 + j)
        return out
    planes = x.shape[0] * x.shape[1]
    out = np.empty((planes,) + tuple(v for size, r in zip(spatial, ratios) for v in (size, r)), dtype=x.dtype)
    source = x.reshape((planes,) + spatial)

    if x.dtype == np.float32 and ratios[-1] % 2 == 0:
        # Two equal float32 are one uint64, bits(v) * (2**32 + 1): one ufunc pass writes every copy
        # (the source broadcast over the other dimensions' repeats), 8 contiguous bytes at a time.
        pairs = out.view(np.uint64)
        repeated = source.view(np.uint32).reshape((planes,) + tuple(v for size in spatial for v in (size, 1)))
        split_rows(lambda lo, hi: np.multiply(repeated[lo:hi], _TWO_FLOAT32, out=pairs[lo:hi], dtype=np.uint64),
                   planes, out.nbytes)
        return out.reshape(x.shape[:2] + tuple(len(idx) for idx in index_per_dim))

    def fill(lo: int, hi: int) -> None:
        o = out[lo:hi]
        first = (slice(None),) + (slice(None), 0) * (n - 1) + (slice(None),)
        for k in range(ratios[-1]):
            o[first + (k,)] = source[lo:hi]
        for j in reversed(range(n - 1)):
            base = (slice(None),) + (slice(None), 0) * j + (slice(None),)
            for k in range(1, ratios[j]):
                o[base + (k,)] = o[base + (0,)]
    split_rows(fill, planes, out.nbytes)
    return out.reshape(x.shape[:2] + tuple(len(idx) for idx in index_per_dim))


@silent_float_errors
def resize_forward(x: np.ndarray, output_size: tuple[int, ...], mode: str, align_corners: bool,
                   scales: tuple[float | None, ...], antialias: bool = False) -> np.ndarray:
    """Interpolate ``x (B, C, *in)`` to ``(B, C, *output_size)`` with a separable mode
    (``nearest``, ``nearest-exact``, ``linear``/``bilinear``/``trilinear``, ``bicubic``);
    ``scales`` are the user's scale factors (None where the sizes define the scale)."""
    if x.dtype == np.uint8 and mode in ("bilinear", "bicubic"):
        return resize_uint8(x, output_size, mode, align_corners, scales, antialias)
    if mode in ("bilinear", "trilinear") and not antialias and takes_channels_last_kernel(x, output_size):
        return _linear_channels_last(x, output_size, align_corners, scales)
    if mode in ("nearest", "nearest-exact"):
        channels_last, double = takes_channels_last_kernel(x, output_size), x.dtype == np.float64
        return _nearest(x, [nearest_indices(i, o, scale, mode == "nearest-exact", channels_last, double)
                            for i, o, scale in zip(x.shape[2:], output_size, scales)])
    out = x
    for axis, indices, weights in _taps_per_dim(x.shape, output_size, mode, align_corners, scales, antialias,
                                                x.dtype, False):
        out = _apply(out, axis, indices, weights)
    return out if out is not x else x.copy()


def pixel_shuffle_forward(x: np.ndarray, r: int) -> np.ndarray:
    """``(*, C*r^2, H, W) -> (*, C, H*r, W*r)``: ``out[..., c, h*r + i, w*r + j] = x[..., c*r^2 + i*r + j, h, w]``."""
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return np.ascontiguousarray(y).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle_forward(x: np.ndarray, r: int) -> np.ndarray:
    """``(*, C, H*r, W*r) -> (*, C*r^2, H, W)``, the inverse of :func:`pixel_shuffle_forward`."""
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return np.ascontiguousarray(y).reshape(*lead, c * r * r, h // r, w // r)
