"""Stride-1 2-d transposed convolution on the input's rows: one GEMM over the input's own positions,
whose products are added into the output rows they reach.

With stride 1, transposed convolution sends input ``(i, j)`` through tap ``(ty, tx)`` to position
``(i + ty*d_h, j + tx*d_w)`` of the *full* output (``H + d_h(k_h - 1)`` rows by ``W + d_w(k_w - 1)``
columns), which the padding then crops.  Lay the input out on the full output's row pitch ``P``,
with zero columns past ``W``: shifting the flattened rows right by ``tx*d_w`` then moves every
element within its own row, to its full-output column ``j + tx*d_w``.  So

- the GEMM's columns are ``k_w`` shifted copies of the widened input (the kernel's columns in its
  inner dimension), one long copy each for all of a block's samples;
- its product holds, per kernel row ``ty`` and output channel, the full output's columns for every
  input row ``i``;
- and each kernel row's block is added into the full output ``ty*d_h`` rows further down: one long
  contiguous add per kernel row, the first a plain write.

This is the scatter form of transposed convolution with the scatter reduced to ``k_h - 1`` adds.
The gather form (:mod:`convscope.ops.flat` on the sub-pixel phase, which convolves the zero-padded
input with the flipped kernel) computes every output position instead, ``o_h * o_w`` (plus margins)
against ``H * P`` here: where the output is much larger than the input (small maps, large kernels,
e.g. the input gradient of LeNet's unpadded 5x5 conv2, 10x10 -> 14x14: 140 columns a sample against
196), this one wins.  The widened input's zero columns meet every weight, so the weight must be
finite (``inf * 0``).

The weight gradient of a stride-1 convolution whose output rows are narrower than the input's (no
padding along them, e.g. LeNet's unpadded conv2) is the same correlation read the other way round
(:func:`conv_weight_grad_rows`): on the input's row pitch, the output gradient shifted once per kernel
column and the input's rows once per kernel row give ``dw[(tx, c_out), (c_in, ty)]`` in one GEMM, with
``k_w * C_out + k_h * C_in`` copied rows a sample instead of the grid's ``k_h * k_w * C_in + C_out``.

Memory: per block of samples, the columns, the product and (unless the output is the full output
itself) the full output, each at most ``ROWS_BLOCK_BYTES``; one sample must fit.
"""
from __future__ import annotations

import numpy as np

from ..arith.conv import ConvGeometry
from ._arrays import copy_rows, scratch, view_as
from .flat import flat_layout_applies, gather_plane_slices
from .grid import weight_grad_product

__all__ = ["rows_plan", "conv_transpose_rows", "rows_weight_grad_plan", "conv_weight_grad_rows"]

#: Bytes of columns (or product, or uncropped output) per block of samples, and the most one sample
#: may take.  Measured on LeNet's 5x5 input gradient (128x32x10x10 -> 16 channels at 14x14, best ms
#: for 4 / 8 / 16 / 32 / 64 / 128 samples a block): 2.88 / 2.50 / 2.28 / 2.20 / 2.36 / 2.94; 32
#: samples take 2.9 MB of columns.
ROWS_BLOCK_BYTES = 4 * 2**20
#: This path runs where its GEMM columns per sample are at most this share of the gather form's.
ROWS_MAX_COLUMN_SHARE = 0.8


def _full_size(g: ConvGeometry) -> tuple[int, int]:
    """Rows and columns of the uncropped output: ``in + d*(k - 1)`` per dimension."""
    return tuple(i + d * (k - 1) for i, k, d in zip(g.input_size, g.kernel_size, g.dilation))


def rows_plan(g: ConvGeometry, itemsize: int, batch: int) -> int | None:
    """Samples per block for :func:`conv_transpose_rows` (a transposed ``g``), or None where it does
    not apply (not 2-d stride 1), saves too little against the gather form, or one sample exceeds
    ``ROWS_BLOCK_BYTES``."""
    if g.ndim != 2 or g.stride != (1, 1):
        return None
    (height, width), (kh, kw) = g.input_size, g.kernel_size
    full_h, pitch = _full_size(g)
    columns = height * pitch
    gather_columns = g.output_size[0] * max(g.output_size[1], width)
    if columns > ROWS_MAX_COLUMN_SHARE * gather_columns:
        return None
    # columns, product and full output of one sample (a large dilation on few rows makes the last the largest)
    sample_bytes = max(g.in_channels * kw * columns, g.out_channels * kh * columns,
                       g.out_channels * full_h * pitch) * itemsize
    if sample_bytes > ROWS_BLOCK_BYTES:
        return None
    return max(1, min(batch, ROWS_BLOCK_BYTES // sample_bytes))


def conv_transpose_rows(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
                        samples: int) -> np.ndarray:
    """Transposed convolution (stride 1, 2-d) on the input's rows (see the module docstring), in
    blocks of ``samples`` samples.

    Shapes: ``x (B, C_in, H, W)`` (any strides), ``weight (C_in, C_out/G, kh, kw)`` finite,
    ``bias (C_out,)`` or None -> ``(B, C_out, o_h, o_w)``, ``o = full - p_low - p_high + output_padding``.
    """
    batch, groups = x.shape[0], g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    (height, width), (kh, kw), (dh, dw) = g.input_size, g.kernel_size, g.dilation
    full_h, pitch = _full_size(g)
    length, full_length = height * pitch, full_h * pitch
    # (G, (ty, c_out), (tx, c_in)): kernel rows in the GEMM's rows, kernel columns in its inner dimension
    w_mat = np.ascontiguousarray(weight.reshape(groups, cin_g, cout_g, kh, kw).transpose(0, 3, 2, 4, 1))
    w_mat = w_mat.reshape(groups, kh * cout_g, kw * cin_g)
    out = np.empty((batch, g.out_channels) + g.output_size, dtype=x.dtype)
    (low_h, _), (low_w, _) = g.padding
    uncropped = (low_h, low_w) == (0, 0) and g.output_size == (full_h, pitch)
    for b0 in range(0, batch, samples):
        nb = min(samples, batch - b0)
        span = nb * length
        cols = scratch(groups * kw * cin_g * span, x.dtype, slot=0).reshape(groups, kw, cin_g, span)
        widened = view_as(cols[:, 0], (groups, cin_g, nb, height, pitch))
        widened[..., :width] = np.moveaxis(view_as(x[b0:b0 + nb], (nb, groups, cin_g, height, width)), 0, 2)
        widened[..., width:] = 0
        for tx in range(1, kw):  # the rows shifted right by tx*d_w: zeros come in from the previous row's end
            shift = tx * dw
            cols[:, tx, :, :shift] = 0
            cols[:, tx, :, shift:] = cols[:, 0, :, :span - shift]
        product = scratch(groups * kh * cout_g * span, x.dtype, slot=1).reshape(groups, kh, cout_g, nb, length)
        np.matmul(w_mat, cols.reshape(groups, kw * cin_g, span), out=view_as(product, (groups, kh * cout_g, span)))
        if uncropped:
            full = view_as(out[b0:b0 + nb], (nb, groups, cout_g, full_length))
        else:
            full = scratch(nb * g.out_channels * full_length, x.dtype, slot=2).reshape(nb, groups, cout_g, full_length)
        full = np.moveaxis(full, 0, 2)  # (G, C_out/G, nb, full rows * P)
        full[..., :length] = product[:, 0]
        full[..., length:] = 0
        for ty in range(1, kh):
            rows = full[..., ty * dh * pitch:ty * dh * pitch + length]
            np.add(rows, product[:, ty], out=rows)
        if not uncropped:
            _crop(view_as(np.moveaxis(full, 2, 0), (nb, g.out_channels, full_h, pitch)), out[b0:b0 + nb], low_h, low_w)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def _crop(full: np.ndarray, target: np.ndarray, low_h: int, low_w: int) -> None:
    """``target[..., y, x] = full[..., y + low_h, x + low_w]``, zero where that is outside ``full``
    (an output padding past the full output)."""
    (full_h, full_w), (out_h, out_w) = full.shape[-2:], target.shape[-2:]
    y0, y1 = max(0, -low_h), min(out_h, full_h - low_h)
    x0, x1 = max(0, -low_w), min(out_w, full_w - low_w)
    if (y0, y1, x0, x1) != (0, out_h, 0, out_w):
        target[...] = 0
    if y0 < y1 and x0 < x1:
        copy_rows(target[..., y0:y1, x0:x1], full[..., y0 + low_h:y1 + low_h, x0 + low_w:x1 + low_w])


def rows_weight_grad_plan(x: np.ndarray, g: ConvGeometry) -> int | None:
    """Samples per block for :func:`conv_weight_grad_rows` (a convolution ``g`` of ``x``), or None
    where it does not apply: not 2-d stride 1 on the input's own rows, output rows as wide as the
    input's (:mod:`convscope.ops.flat` takes those) or padded along them, no fewer copied rows than
    the grid's, one sample over ``ROWS_BLOCK_BYTES``, or a non-finite input (its values meet the
    gradient's zero margins: ``inf * 0``)."""
    if g.ndim != 2 or g.stride != (1, 1) or not flat_layout_applies(x, g):
        return None
    (_, width), (kh, kw), (_, dw) = g.input_size, g.kernel_size, g.dilation
    out_h, out_w = g.output_size
    if g.padding[1][0] != 0 or out_w == width or out_w + dw * (kw - 1) > width:
        return None
    cin_g, cout_g = g.in_channels // g.groups, g.out_channels // g.groups
    if kw * cout_g + kh * cin_g >= kh * kw * cin_g + cout_g:
        return None
    sample_bytes = max(kw * g.out_channels, kh * g.in_channels) * (out_h * width + dw * (kw - 1)) * x.itemsize
    if sample_bytes > ROWS_BLOCK_BYTES or not np.isfinite(x).all():
        return None
    return max(1, min(x.shape[0], ROWS_BLOCK_BYTES // sample_bytes))


def conv_weight_grad_rows(x: np.ndarray, grad_out: np.ndarray, g: ConvGeometry, samples: int) -> np.ndarray:
    """``dL/dweight`` of a stride-1 2-d convolution on the input's rows (:func:`rows_weight_grad_plan`).

    On the row pitch ``W``, output ``(y, x)`` is position ``q = y*W + x``; tap ``(ty, tx)`` reads input
    ``q + a_y*W + a_x`` with ``a_y = ty*d_h - p_h``, ``a_x = tx*d_w`` (no padding along the rows, so
    ``x + a_x < W``).  With ``q' = q + a_x``:
    ``dw[co, ci, ty, tx] = sum_q' grad[co].flat[q' - a_x] * x[ci].flat[q' + a_y*W]``, i.e. one GEMM of
    the gradient shifted by ``a_x`` (rows ``(tx, c_out)``, zero past ``o_w`` and at the margins)
    against the input's rows shifted by ``a_y*W`` (rows ``(c_in, ty)``, zero outside the plane).
    Shapes: ``x (B, C_in, H, W)``, ``grad_out (B, C_out, o_h, o_w)`` -> ``(C_out, C_in/G, kh, kw)``.
    """
    batch, groups = x.shape[0], g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    (_, width), (kh, kw), (dh, dw) = g.input_size, g.kernel_size, g.dilation
    out_h, out_w = g.output_size
    inside = out_h * width
    length = inside + dw * (kw - 1)  # a sample's positions: its rows, and the last shift's margin
    starts = [ty * dh * width - g.padding[0][0] * width for ty in range(kh)]
    result = np.zeros((groups, kw * cout_g, cin_g * kh), dtype=x.dtype)
    for b0 in range(0, batch, samples):
        nb = min(samples, batch - b0)
        span = nb * length
        shifted = scratch(groups * kw * cout_g * span, x.dtype, slot=0).reshape(groups, kw, cout_g, nb, length)
        first = view_as(shifted[:, 0, :, :, :inside], (groups, cout_g, nb, out_h, width))
        copy_rows(first[..., :out_w], np.moveaxis(view_as(grad_out[b0:b0 + nb], (nb, groups, cout_g, out_h, out_w)), 0, 2))
        first[..., out_w:] = 0
        shifted[:, 0, :, :, inside:] = 0
        unshifted = view_as(shifted[:, 0], (groups, cout_g, span))
        for tx in range(1, kw):  # shifted right by tx*d_w: zeros come in from the previous sample's margin
            shift = tx * dw
            target = view_as(shifted[:, tx], (groups, cout_g, span))
            target[..., :shift] = 0
            target[..., shift:] = unshifted[..., :span - shift]
        rows = scratch(groups * cin_g * kh * span, x.dtype, slot=1).reshape(groups, cin_g, kh, nb, length)
        gather_plane_slices(x, rows, b0, 0, starts)
        result += weight_grad_product(rows.reshape(groups, cin_g * kh, span), shifted.reshape(groups, kw * cout_g, span))
    dw_t = result.reshape(groups, kw, cout_g, cin_g, kh).transpose(0, 2, 3, 4, 1)
    return dw_t.reshape((g.out_channels, cin_g, kh, kw))
