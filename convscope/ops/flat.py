"""Stride-1 2-d convolution on the input's own rows: every kernel tap is one contiguous run of the
input itself, so no padded copy of the input is needed (one of the rows a block reads is made only
to gather many taps in one copy, below).

With stride 1, tap ``(ty, tx)`` of output ``(y, x)`` reads input ``(y + a_y, x + a_x)``, where
``a = t*d - p_low`` per dimension.  Lay the output out on the input's row pitch ``W`` (this needs
``o_w <= W``): output ``(y, x)`` is column ``q = y*W + x`` of its sample, and the tap's input is
element ``q + a_y*W + a_x`` of the sample's flattened plane ``(C_in, H*W)``.  A block of output
rows therefore reads, per tap, one slice of the input, which one copy per tap (all the block's
samples at once) turns into the GEMM's columns.  Two kinds of positions read the wrong element:

- rows above or below the input (``y + a_y`` outside ``[0, H)``): the index falls outside the
  plane, and the copy writes zeros there instead (the slice is clipped; or, for 9 taps or more, the
  rows the taps read are first copied into a zero-padded buffer, from which one strided copy
  gathers all taps);
- columns left or right of it (``x + a_x`` outside ``[0, W)``): the index wraps into the
  neighbouring row.  Those products are zeroed: in the columns (plain layout) or, with the last
  dimension's taps stacked into the GEMM's rows (as in :mod:`convscope.ops.grid`), in that tap's
  block of the product, ``o_h * |a_x|`` values per channel.

Positions ``x >= o_w`` (when ``o_w < W``, e.g. without padding) are computed and dropped.  Against
the stride-phase grid this saves the canvas (a padded copy of the input) and, for ``'same'``
convolutions, both the wasted columns and the short-row crop of the output.  The same layout serves
the sub-pixel phases of transposed convolutions (:mod:`convscope.ops.conv`) and weight gradients
(:func:`conv_weight_grad_flat`).

Outputs wider than the input (padding beyond ``'same'``) run on a copy of the input whose rows are
widened with zero columns (:func:`flat_input`).

Memory: per block, columns and product of at most about ``chunk_bytes`` each, or one output
row's worth when that is more, and the padded buffer of the rows a block reads (about one tap's
share of its columns); a widened copy of at most ``WIDEN_MAX_BYTES``.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..arith.conv import ConvGeometry
from ._arrays import copy_rows, scratch, view_as
from .grid import FOLD_MAX_SAMPLE_BYTES, FOLD_MIN_ROWS, weight_grad_product

__all__ = ["FlatPlan", "plan_flat", "flat_layout_applies", "flat_applies", "flat_input", "flat_geometry",
           "widened_rows", "gather_plane_slices", "conv_flat", "conv_weight_grad_flat"]


@dataclasses.dataclass(frozen=True)
class FlatPlan:
    """How :func:`conv_flat` lays out one convolution."""

    offset: tuple[tuple[int, ...], tuple[int, ...]]  # offset[j][t] = t*d_j - p_low_j: tap t reads input o + offset
    stacked: bool   # the last dimension's taps stacked into the GEMM's rows
    rows: int       # output rows per GEMM block
    samples: int    # samples per GEMM block, one after the other along the columns
    width: int      # the input's row pitch W

    @property
    def margin(self) -> int:
        """Columns past a sample's block that the stacked taps' shifted reads reach."""
        return max(self.offset[1]) - min(self.offset[1]) if self.stacked else 0

    def sample_columns(self, rows: int) -> int:
        return rows * self.width + self.margin

    def waste(self, g: ConvGeometry) -> float:
        """GEMM columns computed per output position (1.0: none wasted)."""
        return self.sample_columns(self.rows) / (self.rows * g.output_size[1])


def flat_layout_applies(x: np.ndarray, g: ConvGeometry) -> bool:
    """2-d, stride 1, output rows no wider than the input's, and each sample's plane one strided run."""
    return (g.ndim == 2 and g.stride == (1, 1) and 1 <= g.output_size[1] <= g.input_size[1]
            and x.strides[-2] == x.strides[-1] * x.shape[-1] and x.strides[-1] == x.itemsize)


def flat_applies(x: np.ndarray, weight: np.ndarray, g: ConvGeometry) -> bool:
    """:func:`flat_layout_applies`, and a finite weight: a zeroed product stands for the weight times
    the padding's zeros, which PyTorch computes, and ``inf * 0`` is NaN."""
    return flat_layout_applies(x, g) and bool(np.isfinite(weight).all())


#: Largest copy of the input (bytes) that :func:`flat_input` makes to widen its rows: beyond it, the
#: stride-phase grid's bounded canvas takes such convolutions.
WIDEN_MAX_BYTES = 32 * 2**20
#: The ``scratch`` slot of that copy (the flat path's own buffers are slots 0 and 1).
WIDEN_SLOT = 7


def flat_input(x: np.ndarray, weight: np.ndarray, g: ConvGeometry) -> tuple[np.ndarray, ConvGeometry] | None:
    """The input and geometry the flat path runs ``g`` on, or None where it does not apply.

    Where the output rows are wider than the input's (padding beyond ``'same'``, e.g. the input
    gradient of an unpadded convolution), the input is copied with ``o_w - W`` zero columns appended
    to each row, and the high padding reduced by as much: the same convolution, on rows as wide as
    its output (measured on LeNet's 5x5 input gradient, 128x32x10x10 -> 14x14: 4.14 ms on the grid,
    3.43 widened).  The copy is a reused buffer, valid until the next call.
    """
    g_run = flat_geometry(x, weight, g)
    return None if g_run is None else (widened_rows(x, g_run), g_run)


def widened_rows(x: np.ndarray, g_run: ConvGeometry) -> np.ndarray:
    """``x`` with its rows widened to ``g_run``'s input width by zero columns (``x`` itself where they
    are as wide already), in a reused buffer."""
    width, out_w = x.shape[-1], g_run.input_size[1]
    if out_w == width:
        return x
    shape = x.shape[:-1] + (out_w,)
    wide = scratch(math.prod(shape), x.dtype, slot=WIDEN_SLOT).reshape(shape)
    wide[..., :width] = x
    wide[..., width:] = 0
    return wide


def flat_geometry(x: np.ndarray, weight: np.ndarray, g: ConvGeometry) -> ConvGeometry | None:
    """The geometry :func:`flat_input` runs ``g`` on (``g`` itself, or that of the widened rows),
    without making the copy; None where the flat path does not apply."""
    if not bool(np.isfinite(weight).all()):
        return None
    if flat_layout_applies(x, g):
        return g
    if g.ndim != 2 or g.stride != (1, 1):
        return None
    width, out_w = g.input_size[1], g.output_size[1]
    low, high = g.padding[1]
    extra = out_w - width
    if not 0 < extra <= high or math.prod(x.shape[:-1] + (out_w,)) * x.itemsize > WIDEN_MAX_BYTES:
        return None
    return dataclasses.replace(g, input_size=(g.input_size[0], out_w), padding=(g.padding[0], (low, high - extra)))


#: Several samples per GEMM take columns (or product) of up to this many bytes, rather than the grid's
#: ``FOLD_LENGTH`` columns: the per-tap copies and zeroing then run once for many small samples.
#: Measured (best ms; 4096 columns / 1 / 2 / 4 / 8 MiB): LeNet's 5x5 1->16 at 28x28, batch 128,
#: 3.36 / 1.91 / 1.45 / 1.31 / 1.35; 3x3 32->64 at 7x7 1.27 / 1.95 / 1.38 / 1.28 / 1.27; the
#: transposed 4x4 s2 128->64 at 28x28 (its phases) 8.19 / 8.59 / 8.06 / 7.63 / 9.54, 3x3 s2
#: 128->128 9.13 / 9.91 / 8.62 / 9.34 / 10.52.
SAMPLES_BYTES = 4 * 2**20


def plan_flat(g: ConvGeometry, itemsize: int, chunk_bytes: int, stacked: bool, batch: int = 1) -> FlatPlan:
    """Blocks of whole samples (several where the grid would put samples side by side) or of output
    rows, with columns and product of about ``chunk_bytes`` each."""
    stacked = stacked and g.kernel_size[1] > 1  # one tap per row: nothing to stack
    offset = tuple(tuple(t * d - lo for t in range(k))
                   for k, d, (lo, _) in zip(g.kernel_size, g.dilation, g.padding))
    width, out_rows = g.input_size[1], g.output_size[0]
    taps_in_k = g.kernel_size[0] if stacked else math.prod(g.kernel_size)
    gemm_rows = g.out_channels * (g.kernel_size[1] if stacked else 1)
    per_row = max(g.in_channels * taps_in_k, gemm_rows) * width * itemsize
    rows = max(1, min(out_rows, chunk_bytes // per_row))
    samples = 1
    sample_bytes = per_row * out_rows
    if rows == out_rows and batch > 1 and (gemm_rows // g.groups >= FOLD_MIN_ROWS
                                           or sample_bytes < FOLD_MAX_SAMPLE_BYTES):
        samples = max(1, min(batch, min(chunk_bytes, SAMPLES_BYTES) // sample_bytes))
    return FlatPlan(offset, stacked, rows, samples, width)


#: Gathers of at least this many taps, equally spaced, whose runs leave the plane (the first and last
#: rows of 'same' padding) copy the planes' rows they read into a zero-padded buffer first, then all
#: taps in one strided copy: no per-tap edge handling.
PADDED_MIN_TAPS = 9
#: The ``scratch`` slot of that buffer (the flat path's columns and product use 0 and 1, the rows path 0-2).
PADDED_SLOT = 5


@functools.lru_cache(maxsize=256)
def _as_grid(starts: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """``(kh, kw, step_y, step_x)`` with ``starts[i*kw + k] == starts[0] + i*step_y + k*step_x``
    (positive steps), or None where the starts are no such grid."""
    n = len(starts)
    if n < 2 or starts[1] <= starts[0]:
        return None
    step_x, kw = starts[1] - starts[0], n
    for i in range(2, n):
        if starts[i] - starts[i - 1] != step_x:
            kw = i
            break
    kh = n // kw
    step_y = starts[kw] - starts[0] if kh > 1 else 0
    if n % kw or (kh > 1 and step_y <= (kw - 1) * step_x):
        return None
    if any(starts[i * kw + k] != starts[0] + i * step_y + k * step_x for i in range(kh) for k in range(kw)):
        return None
    return kh, kw, step_y, step_x


def gather_plane_slices(x: np.ndarray, cols: np.ndarray, b0: int, y0: int, starts: list[int]) -> None:
    """``cols[g, c, t, j, q] = x[b0 + j, g*C_in/G + c].flat[y0*W + starts[t] + q]``, zero outside
    the plane.  ``cols (G, C_in/G, taps, nb, S)``; one copy per tap for all ``nb`` samples, or, for
    ``PADDED_MIN_TAPS`` equally spaced taps that read outside the plane, one copy of the rows they
    read into a zero-padded buffer and one strided copy for all taps."""
    groups, cin_g, taps, nb, span = cols.shape
    width = x.shape[-1]
    plane = x.shape[-2] * width
    source = view_as(x[b0:b0 + nb], (nb, groups, cin_g, plane)).transpose(1, 2, 0, 3)
    first, stop = y0 * width + min(starts), y0 * width + max(starts) + span
    grid = _as_grid(tuple(starts)) if taps >= PADDED_MIN_TAPS and (first < 0 or stop > plane) else None
    if grid is not None:
        kh, kw, step_y, step_x = grid
        extent = stop - first
        padded = scratch(groups * cin_g * nb * extent, x.dtype, slot=PADDED_SLOT).reshape(groups, cin_g, nb, extent)
        lo, hi = max(0, first), min(plane, stop)
        padded[..., :max(0, lo - first)] = 0
        padded[..., max(0, hi - first):] = 0
        if hi > lo:
            padded[..., lo - first:hi - first] = source[..., lo:hi]
        item = x.itemsize
        # the taps' runs overlap in the buffer (a view read, never written)
        runs = np.ndarray((groups, cin_g, kh, kw, nb, span), x.dtype, padded, (y0 * width + starts[0] - first) * item,
                          tuple(st * item for st in (cin_g * nb * extent, nb * extent, step_y, step_x, extent, 1)))
        np.copyto(view_as(cols, (groups, cin_g, kh, kw, nb, span)), runs)
        return
    for t, offset in enumerate(starts):
        start = y0 * width + offset
        lo, hi = min(span, max(0, -start)), max(0, min(span, plane - start))
        hi = max(hi, lo)
        dst = cols[:, :, t]
        if lo > 0:
            dst[..., :lo] = 0
        if hi < span:
            dst[..., hi:] = 0
        if hi > lo:
            dst[..., lo:hi] = source[..., start + lo:start + hi]


def _zero_wrapped(view: np.ndarray, a: int, width: int, out_w: int) -> None:
    """Zero the outputs ``x < o_w`` of ``view (..., W)`` whose tap reads column ``x + a`` outside
    ``[0, W)`` (positions from ``o_w`` on are dropped anyway)."""
    if a < 0:
        view[..., :min(out_w, -a)] = 0
    elif width - a < out_w:
        view[..., max(0, width - a):out_w] = 0


def _zero_wrapped_taps(taps: np.ndarray, a_x: tuple[int, ...], rows: int, width: int, out_w: int) -> None:
    """:func:`_zero_wrapped` for every tap of the columns ``taps (G, C_in/G, kh * kw, nb, >= rows*W)``
    (taps row-major), one call per column tap: the row taps share its pattern.  Per tap, the calls
    took 0.29 of the 1.16 ms of LeNet's 5x5 'same' conv1 (batch 128)."""
    groups, cin_g, count, nb = taps.shape[:4]
    for k, ax in enumerate(a_x):
        view = view_as(taps[:, :, k::len(a_x), :, :rows * width], (groups, cin_g, count // len(a_x), nb, rows, width))
        _zero_wrapped(view, ax, width, out_w)


def _bias_block(plan: FlatPlan, out_w: int) -> int | None:
    """The stacked tap whose block of the product is never zeroed (it may carry the bias), or None."""
    for tx, a in enumerate(plan.offset[1]):
        if a >= 0 and plan.width - a >= out_w:
            return tx
    return None


def _weight_matrix(weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry, plan: FlatPlan,
                   inner: int) -> tuple[np.ndarray, bool]:
    """The GEMM's left operand ``(G, rows, inner [+ 1])`` and whether its last column is the bias.

    Plain: the weight's own layout, no copy.  Stacked: rows ``(last tap, C_out/G)`` by ``(C_in/G,
    row taps)``, a copy, into which the bias goes as one more column, in the rows of a tap whose
    block is never zeroed.  Even for a depthwise layer's inner dimension of 3 the column costs less
    than a pass over the output (best ms, bias added after / in the GEMM: depthwise 3x3 on 576
    channels at 14x14 3.06 / 2.74, on 192 at 28x28 2.43 / 2.21; grouped 64->64 g8 2.90 / 2.81)."""
    groups = g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    if not plan.stacked:
        return np.ascontiguousarray(weight).reshape(groups, cout_g, inner), False
    kh, kw = g.kernel_size
    bias_tap = None if bias is None else _bias_block(plan, g.output_size[1])
    matrix = np.empty((groups, kw * cout_g, inner + (bias_tap is not None)), dtype=weight.dtype)
    # (G, kw, C_out/G, C_in/G, kh) <- weight (C_out, C_in/G, kh, kw), in one copy
    view_as(matrix[:, :, :inner], (groups, kw, cout_g, cin_g, kh))[...] = \
        weight.reshape(groups, cout_g, cin_g, kh, kw).transpose(0, 4, 1, 2, 3)
    if bias_tap is not None:
        matrix[:, :, inner] = 0
        matrix[:, bias_tap * cout_g:(bias_tap + 1) * cout_g, inner] = bias.reshape(groups, cout_g)
    return matrix, bias_tap is not None


def conv_flat(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
              out: np.ndarray, plan: FlatPlan) -> None:
    """``out[:] = conv(x, weight) + bias`` on the input's own rows (see the module docstring).

    The bias rides in the GEMM (a row of ones in the columns, a bias column in the weight) where a
    block of the product is never zeroed; the stacked taps' last sum writes the output; plain
    blocks of one sample with ``o_w = W`` are multiplied straight into the output.

    Shapes: ``x (B, C_in, H, W)`` with each plane one strided run (:func:`flat_applies`),
    ``weight (C_out, C_in/G, kh, kw)``, ``out (B, C_out, o_h, o_w)``, any strided view.
    """
    groups = g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    width, out_w = plan.width, g.output_size[1]
    a_y, a_x = plan.offset
    if plan.stacked:  # columns per row tap, shifted so that the stacked taps read from 0 on
        starts = [ay * width + min(a_x) for ay in a_y]
    else:
        starts = [ay * width + ax for ay in a_y for ax in a_x]
    inner = cin_g * len(starts)
    w_mat, bias_in_gemm = _weight_matrix(weight, bias, g, plan, inner)
    bias_view = None if bias is None or bias_in_gemm else bias.reshape(groups, cout_g, 1, 1, 1)
    batch, out_rows = x.shape[0], g.output_size[0]
    # The bias's row of ones stays in the reused buffer from block to block of one layout: written
    # once, not per block (a quarter of the columns of a depthwise 3x3: 0.42 of its 4.7 ms a call).
    ones_layout = None
    for b0 in range(0, batch, plan.samples):
        nb = min(plan.samples, batch - b0)
        for y0 in range(0, out_rows, plan.rows):
            rows = min(plan.rows, out_rows - y0)
            span, block = plan.sample_columns(rows), rows * width
            columns = nb * span
            cols = scratch(groups * w_mat.shape[2] * columns, x.dtype, slot=0).reshape(groups, w_mat.shape[2], columns)
            taps_view = view_as(cols[:, :inner], (groups, cin_g, len(starts), nb, span))
            gather_plane_slices(x, taps_view, b0, y0, starts)
            if bias_in_gemm and ones_layout != (cols.ctypes.data, columns):
                cols[:, inner] = 1
                ones_layout = (cols.ctypes.data, columns)
            if not plan.stacked:
                _zero_wrapped_taps(taps_view, a_x, rows, width, out_w)
            target = view_as(out[b0:b0 + nb, :, y0:y0 + rows], (nb, groups, cout_g, rows, out_w))
            target = np.moveaxis(target, 0, 2)
            direct = None if plan.stacked or nb > 1 or out_w != width else _as_gemm_output(target)
            if direct is not None:
                np.matmul(w_mat, cols, out=direct)
                if bias_view is not None:
                    target += bias_view
            else:
                product = scratch(groups * w_mat.shape[1] * columns, x.dtype, slot=1)
                product = product.reshape(groups, w_mat.shape[1], columns)
                np.matmul(w_mat, cols, out=product)
                blocks = product.reshape(groups, len(a_x) if plan.stacked else 1, cout_g, columns)

                def positions(tx: int, shift: int = 0) -> np.ndarray:
                    """Tap block ``tx`` read from ``shift`` on, at the outputs: ``(G, C_out/G, nb, rows, W)``."""
                    per_sample = view_as(blocks[:, tx], (groups, cout_g, nb, span))[..., shift:shift + block]
                    return view_as(per_sample, (groups, cout_g, nb, rows, width))
                if plan.stacked:  # each tap's block, read from its shift on; wrapped columns zeroed; summed
                    shifts = [ax - min(a_x) for ax in a_x]
                    for tx, ax in enumerate(a_x):
                        _zero_wrapped(positions(tx, shifts[tx]), ax, width, out_w)
                    # all samples in one run (the margins in between are dropped); where the output's
                    # rows are as wide as the input's, the last sum writes it (one pass less), else
                    # its cropped short rows take a plain copy
                    last_writes = out_w == width
                    first = blocks[:, 0, :, :columns - plan.margin]
                    for tx in range(1, len(a_x) - last_writes):
                        np.add(first, blocks[:, tx, :, shifts[tx]:shifts[tx] + columns - plan.margin], out=first)
                else:
                    last_writes = False
                if bias_view is not None:  # on the long rows
                    np.add(blocks[:, 0], bias_view.reshape(groups, cout_g, 1), out=blocks[:, 0])
                if last_writes:
                    np.add(positions(0), positions(len(a_x) - 1, shifts[-1]), out=target)
                else:
                    copy_rows(target, positions(0)[..., :out_w])


def conv_weight_grad_flat(x: np.ndarray, grad_out: np.ndarray, g: ConvGeometry, plan: FlatPlan) -> np.ndarray:
    """``dL/dweight`` of :func:`conv_flat`'s convolution (a plain ``plan``), block by block:
    ``grad (C_out/G, L) @ columns^T (L, C_in/G * kh * kw)`` on the input's rows.

    The columns are the input's runs with the wrapped positions zeroed (they stand for the
    padding); the output gradient sits on the input's row pitch with zeros at the positions
    ``x >= o_w``, whose columns are the input's own values there, so the input must then be finite
    (``inf * 0``).  Shapes: ``x (B, C_in, H, W)``, ``grad_out (B, C_out, o_h, o_w)`` ->
    ``(C_out, C_in/G, kh, kw)``.
    """
    groups = g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    width, out_w = plan.width, g.output_size[1]
    a_y, a_x = plan.offset
    starts = [ay * width + ax for ay in a_y for ax in a_x]
    inner = cin_g * len(starts)
    dw = np.zeros((groups, cout_g, inner), dtype=x.dtype)
    batch, out_rows = x.shape[0], g.output_size[0]
    for b0 in range(0, batch, plan.samples):
        nb = min(plan.samples, batch - b0)
        for y0 in range(0, out_rows, plan.rows):
            rows = min(plan.rows, out_rows - y0)
            columns = nb * rows * width
            cols = scratch(groups * inner * columns, x.dtype, slot=0).reshape(groups, inner, columns)
            taps_view = view_as(cols, (groups, cin_g, len(starts), nb, rows * width))
            gather_plane_slices(x, taps_view, b0, y0, starts)
            _zero_wrapped_taps(taps_view, a_x, rows, width, out_w)
            source = grad_out[b0:b0 + nb, :, y0:y0 + rows]
            grad = None if nb > 1 or out_w != width else _as_gemm_output(
                np.moveaxis(view_as(source, (1, groups, cout_g, rows, width)), 0, 2))
            if grad is None:  # (G, C_out/G, nb, rows, W), zero past o_w
                wide = scratch(g.out_channels * columns, x.dtype, slot=1).reshape(groups, cout_g, nb, rows, width)
                wide[..., out_w:] = 0
                copy_rows(wide[..., :out_w], np.moveaxis(view_as(source, (nb, groups, cout_g, rows, out_w)), 0, 2))
                grad = wide.reshape(groups, cout_g, columns)
            dw += weight_grad_product(cols, grad)
    return dw.reshape((g.out_channels, cin_g) + g.kernel_size)


def _as_gemm_output(target: np.ndarray) -> np.ndarray | None:
    """``target (G, C_out/G, 1, rows, W)`` as a GEMM operand ``(G, C_out/G, rows*W)`` without a copy,
    or None where its rows are not one run (decided from the strides: a reshape would copy)."""
    item = target.itemsize
    if target.shape[2] != 1 or target.strides[-1] != item or target.strides[-2] != item * target.shape[-1]:
        return None
    return view_as(target, target.shape[:2] + (-1,))
