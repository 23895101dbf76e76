"""N-d convolution and transposed convolution on NumPy arrays.

One implementation serves 1d, 2d and 3d.  Both ops are GEMMs plus window copies, by one of
these paths (chosen per call from the geometry alone):

- pointwise (1x1, stride 1, no padding): the input already is the column matrix;
- the input's own rows (:mod:`convscope.ops.flat`), for stride-1 2-d convolutions whose output rows
  are no wider than the input's: each tap's columns are one slice of the input, the products that
  wrap around a row's end are zeroed, and no padded copy is made (also the sub-pixel phases of a
  transposed convolution, and weight gradients of 'same' widths);
- stride-phase wide grid (:mod:`convscope.ops.grid`), for feature maps large enough that its
  wasted columns stay under ``GRID_MAX_WASTE`` and its per-sample GEMM has ``GRID_MIN_LENGTH``
  columns: each kernel tap's columns are one contiguous run of the padded (phase-split) input;
- im2col otherwise: gather the input's windows into a tap-major column buffer
  ``(C_in*prod(k), nb*L_out)`` for a chunk of ``nb`` samples and multiply by the weight
  ``(C_out, C_in*prod(k))``;
- transposed convolution (the adjoint of convolution with the same arguments): with stride 1 in 2-d,
  where the output is much larger than the input (small maps, large kernels), one GEMM over the
  input's rows whose products are added into the output rows they reach (:mod:`convscope.ops.rows`);
  otherwise one stride-1 convolution per output phase (sub-pixel convolution,
  :func:`_subpixel_classes`) on the input's rows or one shared canvas of the padded input, written
  into the output's strided slices, or, where neither pays, multiply the input by the transposed
  weight into columns ``(C_out*prod(k), nb*L_in)`` and scatter-add them into the output.

Memory: column buffers are processed in chunks of whole samples, or of rows along the first
spatial dimension when one sample's buffer is larger than ``CHUNK_BYTES``; the grid holds at
most about ``CHUNK_BYTES`` of columns and of product and ``4 * CHUNK_BYTES`` of padded input,
or one output row's worth when that is more (a row is a whole plane of a 3-d volume); the flat
path the same for columns and product, plus (for 9 taps or more) a padded copy of the rows a block
reads (about one tap's share of its columns) and a widened copy of the input of at most
``flat.WIDEN_MAX_BYTES`` (32 MiB) where output rows are wider than the input's; the rows path
takes whole samples only, at most ``rows.ROWS_BLOCK_BYTES`` (4 MiB) each of columns, product and
uncropped output a block.  The extra memory beyond input and output thus grows with the trailing
dimensions only, not with the batch or the first dimension (measured: a 3x3 conv of
1x16x4096x4096 float32, 1 GiB in and out, peaks at 2.1 GiB resident).  A convolution or sub-pixel
transposed convolution that splits its batch between the cores (:func:`_splits_batch`,
:func:`_subpixel_workers`) holds these buffers once per worker thread.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import NamedTuple

import numpy as np

from ..arith.conv import ConvGeometry, conv_macs, subpixel_phases
from ._arrays import per_channel, scratch, silent_float_errors, view_as
from .threads import split_samples, worker_count
from .flat import (FlatPlan, conv_flat, conv_weight_grad_flat, flat_applies, flat_geometry, flat_input,
                   flat_layout_applies, plan_flat, widened_rows)
from .grid import (GridConv, GridPlan, conv_grid, conv_grid_shared, conv_weight_grad_grid, plan_grid,
                   shared_canvas_plans, weight_grad_product)
from .rows import conv_transpose_rows, conv_weight_grad_rows, rows_plan, rows_weight_grad_plan
from .window import gather_windows, scatter_windows

__all__ = ["conv_forward", "conv_transpose_forward", "conv_backward", "conv_transpose_backward", "CHUNK_BYTES"]

#: Upper bound on the column buffer of one chunk, in bytes.  Small enough that a chunk's
#: columns are still in cache when the GEMM reads them (measured: 8 MiB beats 32 MiB).
CHUNK_BYTES = 8 * 2**20


def _chunk_samples(total_rows: int, bytes_per_row: int, max_samples: int | None = None) -> int:
    """Samples per block of :func:`_chunks` (1: row slabs of one sample), at most ``max_samples``."""
    per_sample = bytes_per_row * total_rows
    samples = max(1, CHUNK_BYTES // max(per_sample, 1)) if per_sample <= CHUNK_BYTES else 1
    return samples if max_samples is None else max(1, min(samples, max_samples))


def _chunks(total_rows: int, bytes_per_row: int, batch: int, max_samples: int | None = None):
    """Yield ``(b0, b1, r0, r1)`` blocks: whole samples (at most ``max_samples``) when one sample
    fits the budget, else row slabs of one sample."""
    per_sample = bytes_per_row * total_rows
    if per_sample <= CHUNK_BYTES:
        step = _chunk_samples(total_rows, bytes_per_row, max_samples)
        for b0 in range(0, batch, step):
            yield b0, min(batch, b0 + step), 0, total_rows
    else:
        rows = max(1, CHUNK_BYTES // bytes_per_row)
        for b0 in range(batch):
            for r0 in range(0, total_rows, rows):
                yield b0, b0 + 1, r0, min(total_rows, r0 + rows)


def _is_pointwise(g: ConvGeometry) -> bool:
    # same sizes too: a 1x1 transposed convolution with output_padding has an adjoint that crops
    return (all(k == 1 for k in g.kernel_size) and all(s == 1 for s in g.stride)
            and all(p == (0, 0) for p in g.padding) and g.input_size == g.output_size)


def _add_bias(out: np.ndarray, bias: np.ndarray | None) -> None:
    if bias is not None:
        per_channel(np.add, out, bias, out=out)


def _column_bytes_per_row(g: ConvGeometry, itemsize: int) -> int:
    """Bytes of im2col columns per output row (first dimension) of one sample."""
    return g.in_channels * math.prod(g.kernel_size) * math.prod(g.output_size[1:]) * itemsize


def _column_chunks(x: np.ndarray, g: ConvGeometry, max_samples: int | None = None):
    """Yield ``(b0, b1, r0, r1, columns)`` over chunks of samples ``[b0, b1)`` (at most
    ``max_samples``) and output rows ``[r0, r1)``: ``columns`` is the chunk's im2col, ``(groups,
    C_in/groups * prod(k), nb * L)``, in a reused buffer (valid until the next chunk)."""
    n, groups = g.ndim, g.groups
    k_count = math.prod(g.kernel_size)
    inner = math.prod(g.output_size[1:])
    pad_lo = [p[0] for p in g.padding]
    bytes_per_row = _column_bytes_per_row(g, x.itemsize)
    for b0, b1, r0, r1 in _chunks(g.output_size[0], bytes_per_row, x.shape[0], max_samples):
        nb, length = b1 - b0, (r1 - r0) * inner
        shape = (g.in_channels,) + g.kernel_size + (nb, r1 - r0) + g.output_size[1:]
        cols = scratch(math.prod(shape), x.dtype, slot=0).reshape(shape)
        gather_windows(x[b0:b1], np.moveaxis(cols, n + 1, 0), g.kernel_size, g.stride, g.dilation,
                       pad_lo, start0=r0)
        yield b0, b1, r0, r1, cols.reshape(groups, (g.in_channels // groups) * k_count, nb * length)


#: Where a sample's columns take several blocks of the grid, a block takes ``CHUNK_BYTES //
#: GRID_CHUNK_SHARE`` of columns (and of product): two workers' blocks then fit the cache they share,
#: and the batch can still be split between the cores (:func:`_splits_batch`).  Measured (ratio to
#: torch, best / median, 8 rounds, budget 8 MiB and no split against 4 MiB and split): Conv3d 3x3x3
#: 32->32 at 16x56x56 1.80 / 1.90 against 1.39 / 1.57, Conv1d k3 256->256 1.20 / 1.41 against
#: 1.15 / 1.23; for the 3x3 128->128 s2 layer (split either way, whole samples a block) blocks of
#: 2 MiB were slower (1.55 / 1.56 against 1.31 / 1.34).
GRID_CHUNK_SHARE = 2
#: Largest share of wasted GEMM columns (wide-grid positions past the output's edge) for which the
#: stride-phase grid is used.  Since the canvas takes all side-by-side samples in one copy, the grid
#: pays up to 1.5 (measured A/B, batch 128, ms: LeNet's 5x5 16->32 at 14x14, 1.40, 5.0 -> 3.5; 3x3
#: 64->64 at 7x7, 1.29, 5.9 -> 4.9); at 1.15, as before that change, the 3x3 32->64 at 7x7 was
#: slower on the grid (2.4 against 1.7 ms), which ``GRID_MIN_SAMPLE_BYTES`` now keeps off it.
GRID_MAX_WASTE = 1.5
#: Fewest GEMM columns per chunk for the grid (samples side by side included): below this
#: (3x3 512->512 s2 at 14x14: 57 a sample) the im2col path's GEMM over the whole batch is faster.
GRID_MIN_LENGTH = 512
#: Fewest bytes of columns per sample for the grid, whose NumPy calls per sample (a copy per tap)
#: cost more than they save on small inputs.  Measured for a batch of 128, grid against im2col
#: (samples side by side): 5x5 1->16 at 28x28 (88 KiB a sample) 3.8 vs 3.0 ms, 3x3 4->16 at 28x28
#: (118 KiB) 2.8 vs 2.6 ms, 3x3 16->16 at 16x16 (162 KiB) 3.3 vs 4.4 ms.
GRID_MIN_SAMPLE_BYTES = 128 * 2**10


#: The sub-pixel path of transposed convolution, whose alternative is a GEMM plus strided
#: scatter-adds, took up to 1.5 first, while forward convolution still stopped at 1.15.  Measured
#: (best ms, waste limit 1.15 -> 1.5): LeNet's 5x5 input gradient (32->16, 10->14, batch 128)
#: 14.3 -> 7.3, 3x3 at 7x7 64->32 4.4 -> 3.8, grouped 3x3 at 7x7 3.7 -> 1.4, 5x5 16->8 at 14
#: 6.1 -> 3.8; 3x3 256->128 at 4x4 5.0 -> 5.5, the others unchanged.
SUBPIXEL_MAX_WASTE = 1.5
#: Sub-pixel phases may run on the input's own rows (each phase's copies then come straight from the
#: input, with no canvas): measured faster on all but one transposed layer (``docs/benchmarks.md``).
SUBPIXEL_FLAT = True
#: Strides far beyond the kernel leave most output phases without a tap (only the bias): from this
#: many such phases on, the GEMM plus scatter-adds run instead, whose cost follows the kernel, not
#: ``prod(stride)`` (stride 10**5, kernel 3: 670 ms of Python per phase -> 1 ms).
SUBPIXEL_MAX_EMPTY_PHASES = 64


def _empty_subpixel_phases(g: ConvGeometry) -> int:
    """Output phases of a transposed convolution that no kernel tap reaches: per dimension, the taps
    ``t*d`` fall on ``min(k, s / gcd(d, s))`` of the ``s`` residues."""
    reached = math.prod(min(k, s // math.gcd(d, s)) for k, s, d in zip(g.kernel_size, g.stride, g.dilation))
    return math.prod(g.stride) - reached


def _stacks_taps(g: ConvGeometry, batch: int) -> bool:
    """Whether the grid and flat paths stack the last dimension's taps into the GEMM's rows.

    It pays when the remaining inner dimension ``C_in/G * prod(k[:-1])`` is at least twice
    ``C_out/G`` (the squarer product runs faster) and the copies it saves exceed those it adds:
    it copies ``k_last`` times fewer columns, but transposes the whole weight once a call and adds
    ``k_last - 1`` tap blocks over the product.  Small maps with many channels have few columns for a
    large weight: 3x3 512->512 at 7x7, batch 8, took 6.78 / 6.31 and 5.96 / 5.38 ms stacked / not
    (batch 4: 3.45 / 2.59; 256->256 at 7x7: 1.44 / 1.34), while at 14x14 stacking still won (512
    channels 19.75 / 20.71, 256 channels 5.06 / 5.59), as on every larger map."""
    k_last = g.kernel_size[-1]
    cin_g, cout_g = g.in_channels // g.groups, g.out_channels // g.groups
    k_front = math.prod(g.kernel_size[:-1])
    if k_last == 1 or cin_g * k_front < 2 * cout_g:
        return False
    columns = batch * math.prod(g.output_size)
    saved = g.in_channels * k_front * (k_last - 1) * columns
    added = g.out_channels * cin_g * k_front * k_last + g.out_channels * (k_last - 1) * columns
    return saved > added


def _grid_plan(g: ConvGeometry, itemsize: int, batch: int = 1, max_waste: float | None = None,
               flat: bool = False, compact: bool = False) -> GridPlan | FlatPlan | None:
    """The layout of the wide-grid paths for ``g``, or None where the plain im2col is faster.

    With ``flat`` (the input allows it: :func:`convscope.ops.flat.flat_input`) the input's own
    rows, wherever they waste at most ``max_waste``: with one copy per tap for all of a block's
    samples it beat the im2col on every layer measured, small ones included (best ms, im2col
    against flat: LeNet's 5x5 1->16 at 28x28, batch 128, 2.55 / 1.83; 3x3 3->16 at 32x32, batch
    16, 0.34 / 0.29; 3x3 128->128 at 4x4, batch 64, 2.32 / 1.37; 512->512 at 7x7 7.21 / 6.85).
    Otherwise the stride-phase grid, measured on the benchmark layers (``docs/benchmarks.md``): it
    wins wherever it wastes little and its per-sample work is not too small.

    Stacking the last dimension's taps into the GEMM's rows: :func:`_stacks_taps`.  With ``compact``
    (an output ``(B, C_out, *o)`` that is C-contiguous) the grid may use compact columns (:func:`_compact`).
    """
    limit = GRID_MAX_WASTE if max_waste is None else max_waste
    stacked = _stacks_taps(g, batch)
    if flat:
        plan = plan_flat(g, itemsize, CHUNK_BYTES, stacked, batch)
        if plan.waste(g) <= limit:
            return plan
    plain = plan_grid(g, itemsize, CHUNK_BYTES, stacked=False, batch=batch)
    sample_columns = g.output_size[0] * math.prod(plain.extent[1:])
    sample_bytes = g.in_channels * math.prod(g.kernel_size) * sample_columns * itemsize
    if plain.waste(g) > limit or plain.length(plain.rows) < GRID_MIN_LENGTH or sample_bytes < GRID_MIN_SAMPLE_BYTES:
        return None
    plan = plan_grid(g, itemsize, CHUNK_BYTES, stacked=True, batch=batch) if stacked else plain
    if plan.samples == 1 and plan.rows < g.output_size[0]:  # slabs of a sample: smaller ones
        plan = plan_grid(g, itemsize, CHUNK_BYTES // GRID_CHUNK_SHARE, stacked=stacked, batch=batch)
    return _compact(plan, g, itemsize) if compact else plan


#: Compact columns (``GridPlan.compact``: each tap's columns are the output's own positions, and the
#: GEMM writes straight into the output) for unstacked one-sample grid plans whose output rows are at
#: least this many elements: the gather's copies are runs of an output row rather than one long run,
#: but the product needs no crop into the output.
COMPACT_MIN_WIDTH = 64
#: Column bytes of a compact block at most (fewer output rows a GEMM): two workers' blocks then stay
#: in the cache they share, and so the batch can be split between them (:func:`_splits_batch`).
COMPACT_BLOCK_BYTES = 2 * 2**20


def _compact(plan: GridPlan, g: ConvGeometry, itemsize: int) -> GridPlan:
    """``plan`` with compact columns where they pay (``COMPACT_MIN_WIDTH``), else ``plan``."""
    if plan.stacked or plan.samples != 1 or (g.ndim > 1 and g.output_size[-1] < COMPACT_MIN_WIDTH):
        return plan
    row_bytes = (g.in_channels * math.prod(g.kernel_size) + 1) * math.prod(g.output_size[1:]) * itemsize
    rows = max(1, min(plan.rows, COMPACT_BLOCK_BYTES // row_bytes))
    return dataclasses.replace(plan, compact=True, rows=rows, slab_rows=max(rows, plan.slab_rows // rows * rows))


def _conv_planned(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry, out: np.ndarray,
                  plan: GridPlan | FlatPlan) -> None:
    """``out[:] = conv(x, weight) + bias`` by the plan's path."""
    if isinstance(plan, FlatPlan):
        conv_flat(x, weight, bias, g, out, plan)
    else:
        conv_grid(x, weight, bias, g, out, plan)


@silent_float_errors
def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> np.ndarray:
    """Convolution (cross-correlation, as in PyTorch) of a batched input.

    Shapes: ``x (B, C_in, *in)``, ``weight (C_out, C_in/groups, *k)``, ``bias (C_out,)`` or None
    -> ``(B, C_out, *out)`` with ``out`` from :func:`convscope.arith.conv_output_size`.

    ``out[b, co, *o] = bias[co] + sum_{ci in group(co), t} weight[co, ci, *t] * x_pad[b, ci, *(o*s + t*d)]``

    The columns of a chunk of ``nb`` samples are laid out ``(C_in, *k, nb, L)`` so that one GEMM
    per group covers the whole chunk (``N = nb*L`` stays large for small feature maps); its
    ``(C_out, nb, L)`` result is then copied into the NCHW output.
    """
    batch = x.shape[0]
    out = np.empty((batch, g.out_channels) + g.output_size, dtype=x.dtype)
    if _is_pointwise(g):
        _conv_pointwise(x, weight, bias, g, out)
        return out
    g_flat = flat_geometry(x, weight, g)
    if _splits_batch(g, x, g_flat):
        # Blocks are planned for one part's samples, so that the parts come out even (planned for the
        # whole batch, blocks of 6 of 8 samples made parts of 6 and 2, and blocks of 8 no split at
        # all); each part then computes the same blocks as the call would unsplit (the same bits).
        plan_batch = -(-batch // min(worker_count(), batch))
        split_samples(lambda b0, b1: _conv_forward_into(x[b0:b1], weight, bias, g, out[b0:b1], g_flat, plan_batch),
                      batch, unit=_block_samples(x, g, g_flat, plan_batch))
    else:
        _conv_forward_into(x, weight, bias, g, out, g_flat)
    return out


#: The batch is split between the cores (:func:`convscope.ops.threads.split_samples`): each worker
#: runs its samples' copies and one-core GEMMs, where one call otherwise copies on one core and
#: multiplies on all.  Measured with pinned workers (best ms, one call / split): 3x3 64->64 at 56
#: 6.70 / 5.33 and 5.65 / 5.45, 128->128 s2 8.32 / 7.39, 512->512 at 7 7.06 / 6.28 and 6.52 / 6.24,
#: grouped 64->64 g8 4.15 / 2.15 and 2.45 / 1.88, 5x5 16->32 'same' at 14, batch 128, 5.29 / 3.13.
#: Each part must be this much work: below it, waking the workers costs more than they save
#: (3x3 3->16 at 32, batch 16, 7 million MACs: 0.27 / 0.41; 16->16 at 16, batch 64: 0.54 / 0.71;
#: LeNet's 5x5 1->16, batch 128, 40 million: 1.34 / 1.45).
SPLIT_MIN_PART_MACS = 50_000_000
#: A sample's columns (or, where a sample takes several blocks of the grid, a block's) must be at most
#: this many bytes: larger blocks, one per worker, no longer fit the cache the workers share (ResNet's
#: 7x7 3->64 s2 stem in whole samples, 7.6 MB each: 8.83 / 10.10 and 8.93 / 10.28; depthwise 3x3 on 144
#: channels at 56, 5.4 MB: 4.58 / 6.39).
SPLIT_MAX_SAMPLE_COLUMN_BYTES = CHUNK_BYTES // 2


def _splits_batch(g: ConvGeometry, x: np.ndarray, g_flat: ConvGeometry | None = None) -> bool:
    """Whether :func:`conv_forward` splits the batch between the cores: not pointwise (one batched
    GEMM with no copies), at least ``SPLIT_MIN_PART_MACS`` a part and at most
    ``SPLIT_MAX_SAMPLE_COLUMN_BYTES`` of columns a sample (the taps the GEMM's inner dimension holds),
    or a block of the grid where a sample takes several."""
    batch = x.shape[0]
    workers = min(worker_count(), batch)
    if workers < 2 or _is_pointwise(g):
        return False
    sample_macs = conv_macs(g.in_channels, g.out_channels, g.kernel_size, g.output_size, g.groups)
    if sample_macs * (batch // workers) < SPLIT_MIN_PART_MACS:
        return False
    taps_in_k = math.prod(g.kernel_size[:-1] if _stacks_taps(g, batch) else g.kernel_size)
    column_bytes = g.in_channels * taps_in_k * math.prod(g.output_size) * x.itemsize
    if column_bytes > SPLIT_MAX_SAMPLE_COLUMN_BYTES:  # unless the grid's blocks of a few rows keep it small
        plan = _grid_plan(g_flat or g, x.itemsize, batch, flat=g_flat is not None, compact=True)
        if isinstance(plan, GridPlan) and plan.samples == 1:
            column_bytes = g.in_channels * taps_in_k * plan.length(plan.rows) * x.itemsize
    return column_bytes <= SPLIT_MAX_SAMPLE_COLUMN_BYTES


def _block_samples(x: np.ndarray, g: ConvGeometry, g_flat: ConvGeometry | None, plan_batch: int) -> int:
    """Samples per GEMM block of :func:`_conv_forward_into` with blocks planned for ``plan_batch``."""
    plan = _grid_plan(g_flat or g, x.itemsize, plan_batch, flat=g_flat is not None, compact=True)
    if plan is not None:
        return plan.samples
    return _chunk_samples(g.output_size[0], _column_bytes_per_row(g, x.itemsize), plan_batch)


def _conv_pointwise(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
                    out: np.ndarray) -> None:
    """1x1, stride 1, no padding: the input already is each sample's column matrix, one batched GEMM."""
    batch, groups = x.shape[0], g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    length = math.prod(g.output_size)
    w_mat = np.ascontiguousarray(weight).reshape(groups, cout_g, cin_g)
    np.matmul(w_mat, x.reshape(batch, groups, cin_g, length), out=view_as(out, (batch, groups, cout_g, length)))
    _add_bias(out, bias)


def _conv_forward_into(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
                       out: np.ndarray, g_flat: ConvGeometry | None, plan_batch: int | None = None) -> None:
    """:func:`conv_forward` (not pointwise) into ``out``, a C-contiguous ``(B, C_out, *out)`` array:
    on the input's own rows where ``g_flat`` (:func:`convscope.ops.flat.flat_geometry`) is given, its
    blocks planned for a batch of ``plan_batch`` samples (default: ``B``; the parts of a split batch
    plan for one part's share, :func:`conv_forward`)."""
    batch, groups = x.shape[0], g.groups
    plan_batch = batch if plan_batch is None else plan_batch
    k_count = math.prod(g.kernel_size)
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    inner = math.prod(g.output_size[1:])

    plan = _grid_plan(g_flat or g, x.itemsize, plan_batch, flat=g_flat is not None, compact=True)
    if plan is not None:
        # the input's own rows (or, for outputs wider than the input, a widened copy of them)
        x_run = x if g_flat is None else widened_rows(x, g_flat)
        _conv_planned(x_run, weight, bias, g_flat or g, out, plan)
        return

    w_mat = np.ascontiguousarray(weight).reshape(groups, cout_g, cin_g * k_count)
    for b0, b1, r0, r1, lhs in _column_chunks(x, g, plan_batch):
        nb, length = b1 - b0, (r1 - r0) * inner
        if nb == 1:
            np.matmul(w_mat, lhs, out=view_as(out[b0, :, r0:r1], (groups, cout_g, length)))
        else:  # whole samples: out[b0:b1] is contiguous
            product = scratch(g.out_channels * nb * length, x.dtype, slot=1).reshape(groups, cout_g, nb * length)
            np.matmul(w_mat, lhs, out=product)
            view_as(out[b0:b1], (nb, g.out_channels, length))[...] = \
                product.reshape(g.out_channels, nb, length).transpose(1, 0, 2)
    _add_bias(out, bias)


@silent_float_errors
def conv_transpose_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           g: ConvGeometry) -> np.ndarray:
    """Transposed convolution of a batched input: the adjoint of :func:`conv_forward`.

    Shapes: ``x (B, C_in, *in)``, ``weight (C_in, C_out/groups, *k)``, ``bias (C_out,)`` or None
    -> ``(B, C_out, *out)`` with ``out`` from :func:`convscope.arith.conv_transpose_output_size`.

    ``out[b, co, *(i*s + t*d - p_lo)] += weight[ci, co, *t] * x[b, ci, *i]`` (within the output).

    By the rows path (stride 1 in 2-d, small maps) or the sub-pixel phases where they pay; otherwise,
    as in :func:`conv_forward`, a chunk of ``nb`` samples is one GEMM per group, into columns laid
    out ``(C_out, *k, nb, L_in)``, which are then scatter-added into the output.
    """
    # The rows and sub-pixel paths also multiply the weights by zero padding; an inf weight would
    # turn that into NaN where the scatter (and PyTorch) never forms the product.
    finite = bool(np.isfinite(weight).all())
    samples = rows_plan(g, x.itemsize, x.shape[0]) if finite else None
    if samples is not None:
        return conv_transpose_rows(x, weight, bias, g, samples)
    classes = _subpixel_classes(g) if _empty_subpixel_phases(g) < SUBPIXEL_MAX_EMPTY_PHASES else None
    if classes is not None and finite:
        out = _conv_transpose_subpixel(x, weight, bias, g, classes)
        if out is not None:
            return out
    batch, groups = x.shape[0], g.groups
    n = g.ndim
    k_count = math.prod(g.kernel_size)
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    out = np.zeros((batch, g.out_channels) + g.output_size, dtype=x.dtype)
    # (G, C_out/G * prod(k), C_in/G): the GEMM's left operand, a transposed view.
    w_mat = np.ascontiguousarray(weight).reshape(groups, cin_g, cout_g * k_count).transpose(0, 2, 1)
    inner = math.prod(g.input_size[1:])
    pad_lo = [p[0] for p in g.padding]
    bytes_per_row = g.out_channels * k_count * inner * x.itemsize
    for b0, b1, r0, r1 in _chunks(g.input_size[0], bytes_per_row, batch):
        nb, length = b1 - b0, (r1 - r0) * inner
        if nb == 1:
            rhs = x[b0, :, r0:r1].reshape(groups, cin_g, length)
        else:  # (C_in, nb, L): the chunk's samples side by side
            rhs = scratch(g.in_channels * nb * length, x.dtype, slot=1).reshape(g.in_channels, nb, length)
            rhs[...] = x[b0:b1].reshape(nb, g.in_channels, length).transpose(1, 0, 2)
            rhs = rhs.reshape(groups, cin_g, nb * length)
        shape = (g.out_channels,) + g.kernel_size + (nb, r1 - r0) + g.input_size[1:]
        cols = scratch(math.prod(shape), x.dtype, slot=0).reshape(shape)
        np.matmul(w_mat, rhs, out=cols.reshape(groups, cout_g * k_count, nb * length))
        scatter_windows(np.moveaxis(cols, n + 1, 0), out[b0:b1], g.kernel_size, g.stride, g.dilation,
                        pad_lo, start0=r0)
    _add_bias(out, bias)
    return out


def _subpixel_classes(g: ConvGeometry) -> list[tuple[tuple[slice, ...], ConvGeometry | None, tuple]]:
    """A transposed convolution as ``prod(stride)`` stride-1 convolutions, one per output phase
    (:func:`convscope.arith.subpixel_phases` per dimension).

    Returns, per output phase combination, the output's strided slices, the equivalent convolution's
    geometry (None where no tap reaches the phase: it holds only the bias) and its taps per dimension.
    """
    per_dim = [subpixel_phases(i, o, k, s, d, lo) for i, o, k, s, d, (lo, _) in
               zip(g.input_size, g.output_size, g.kernel_size, g.stride, g.dilation, g.padding)]
    result = []
    for combo in itertools.product(*per_dim):
        where = tuple(slice(p.start, p.start + g.stride[j] * (p.count - 1) + 1, g.stride[j])
                      for j, p in enumerate(combo))
        if any(not p.taps for p in combo):
            result.append((where, None, ()))
            continue
        conv_g = dataclasses.replace(
            g, transposed=False, kernel_size=tuple(len(p.taps) for p in combo), stride=(1,) * g.ndim,
            dilation=tuple(p.dilation for p in combo), padding=tuple(p.padding for p in combo),
            output_padding=(0,) * g.ndim, output_size=tuple(p.count for p in combo))
        result.append((where, conv_g, tuple(p.taps for p in combo)))
    return result


class _Phase(NamedTuple):
    """One output phase of a sub-pixel transposed convolution: a stride-1 convolution of ``x`` (the
    input, or a widened copy of its rows) with ``weight`` and geometry ``g`` into ``target``."""
    x: np.ndarray
    weight: np.ndarray
    g: ConvGeometry
    target: np.ndarray
    plan: GridPlan | FlatPlan


def _conv_transpose_subpixel(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
                             classes) -> np.ndarray | None:
    """Transposed convolution as one stride-1 convolution per output phase (sub-pixel convolution),
    written into the output's strided slices: no scatter-add passes.  The phases run on the input's
    own rows where they all can (:mod:`convscope.ops.flat`), else on one shared canvas, else each on
    its own grid; None where some phase has no such layout (the plain im2col would be faster).  A
    batch with enough work is split between the cores, each part running every phase on its samples
    (:func:`_subpixel_workers`)."""
    groups = g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    batch = x.shape[0]
    # convolution layout (C_out, C_in/G, *k) of the transposed weight (C_in, C_out/G, *k)
    conv_weight = weight.reshape((groups, cin_g, cout_g) + g.kernel_size).swapaxes(1, 2)
    conv_weight = conv_weight.reshape((g.out_channels, cin_g) + g.kernel_size)
    # Planned for one part's samples where the batch splits, so that the parts are even (a plan for
    # all 8 samples of the benchmark's layer put 5 side by side: parts of 5 and 3); whether or not it
    # then runs split, the blocks are the same.
    workers = _subpixel_workers(g, x, [conv_g for _, conv_g, _ in classes if conv_g is not None])
    plan_batch = -(-batch // workers)
    planned = []
    for where, conv_g, taps in classes:
        if conv_g is None:
            planned.append((where, None, None, None, None))
            continue
        w = conv_weight[(slice(None), slice(None)) + np.ix_(*taps)]
        x_run = x
        if len(classes) == 1 and SUBPIXEL_FLAT:  # one phase: its rows may be widened (a copy of x)
            x_run, conv_g = flat_input(x, w, conv_g) or (x, conv_g)
        flat = SUBPIXEL_FLAT and flat_applies(x_run, w, conv_g)
        plan = _grid_plan(conv_g, x.itemsize, plan_batch, SUBPIXEL_MAX_WASTE, flat)
        if plan is None:
            return None
        planned.append((where, x_run, w, conv_g, plan))
    out = np.empty((batch, g.out_channels) + g.output_size, dtype=x.dtype)
    phases = []
    for where, x_run, w, conv_g, plan in planned:
        target = out[(slice(None), slice(None)) + where]
        if conv_g is None:
            target[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * g.ndim)
        else:
            phases.append(_Phase(x_run, w, conv_g, target, plan))
    shared = None if all(isinstance(p.plan, FlatPlan) for p in phases) else \
        _shared_subpixel_canvas([p.g for p in phases], [p.plan for p in phases], x.itemsize, plan_batch)

    def run(b0: int, b1: int) -> None:
        """Every phase on samples ``[b0, b1)``, by the plans above."""
        if shared is None:
            for p in phases:
                _conv_planned(p.x[b0:b1], p.weight, bias, p.g, p.target[b0:b1], p.plan)
        else:
            canvas_g, canvas_plan, plans = shared
            conv_grid_shared(x[b0:b1], canvas_g, canvas_plan, [GridConv(p.weight, bias, p.g, p.target[b0:b1], plan)
                                                               for p, plan in zip(phases, plans)])

    # parts start where the whole batch's blocks do: each computes the same GEMMs
    units = [p.plan.samples for p in phases] if shared is None else [shared[1].samples]
    if phases and workers > 1:
        split_samples(run, batch, unit=math.lcm(*units))
    else:
        run(0, batch)
    return out


def _subpixel_workers(g: ConvGeometry, x: np.ndarray, phase_geometries: list[ConvGeometry]) -> int:
    """The parts :func:`_conv_transpose_subpixel` splits its batch into (1: none): as in
    :func:`_splits_batch`, at least ``SPLIT_MIN_PART_MACS`` a part, and each phase's columns at most
    ``SPLIT_MAX_SAMPLE_COLUMN_BYTES`` a sample (the phases run one after another)."""
    batch = x.shape[0]
    workers = min(worker_count(), batch)
    if workers < 2 or not phase_geometries:
        return 1
    sample_macs = conv_macs(g.out_channels, g.in_channels, g.kernel_size, g.input_size, g.groups)
    column_bytes = max(pg.in_channels * math.prod(pg.kernel_size) * math.prod(pg.output_size) * x.itemsize
                       for pg in phase_geometries)
    splits = sample_macs * (batch // workers) >= SPLIT_MIN_PART_MACS and column_bytes <= SPLIT_MAX_SAMPLE_COLUMN_BYTES
    return workers if splits else 1


def _shared_subpixel_canvas(geometries: list[ConvGeometry], own_plans: list[GridPlan], itemsize: int, batch: int):
    """The sub-pixel phases on one canvas (:func:`convscope.ops.grid.shared_canvas_plans`), or None
    where a phase would waste more than ``SUBPIXEL_MAX_WASTE`` columns on it (or there is one phase)."""
    if len(geometries) < 2:
        return None
    canvas_g, canvas_plan, plans = shared_canvas_plans(geometries, [p.stacked for p in own_plans], itemsize,
                                                       CHUNK_BYTES, batch)
    if any(plan.waste(cg) > SUBPIXEL_MAX_WASTE for plan, cg in zip(plans, geometries)):
        return None
    return canvas_g, canvas_plan, plans


# -- backward rules ---------------------------------------------------------------------------

#: The weight gradient takes the wide grid where its blocks have at least this many GEMM columns
#: and waste at most ``WGRAD_GRID_MAX_WASTE``: below, the per-block accumulation of ``dw`` and
#: the small GEMMs cost more than the im2col's copies (measured, ms, grid against im2col: 3x3 512->512
#: at 7x7, 441 columns, 17.8 against 9.0; 5x5 16->32 at 14x14, 4200 columns, 4.3 against 6.4; 3x3
#: 128->128 s2 at 56, 812 columns, 10.9 against 14.7).  A single input channel keeps the im2col too
#: (LeNet's first layer: its columns are few and cheap; 5.2 against 4.3).
WGRAD_GRID_MIN_COLUMNS = 512
WGRAD_GRID_MAX_WASTE = 1.5


def _weight_grad_plan(x: np.ndarray, g: ConvGeometry) -> GridPlan | FlatPlan | None:
    # Output rows as wide as the input's ('same' widths): the input's own rows, with no column
    # wasted and the output gradient already in their layout.  Measured against the grid or
    # im2col (best ms): LeNet's 5x5 1->16 at 28x28, batch 128, 3.23 / 2.64; 3x3 64->64 at 56
    # 10.88 / 8.63; dilated 256->256 at 28 30.18 / 26.25; 512->512 at 7x7 7.29 / 6.72; grouped
    # 7.96 / 6.27; depthwise 9.42 / 7.36.  Narrower outputs (LeNet's valid 5x5 16->32 at 14x14:
    # 3.85 / 6.02, the gradient copied onto the wider rows) stay on the grid, unless the rows path
    # (tried first, in conv_weight_grad) takes them.
    if flat_layout_applies(x, g) and g.output_size[1] == g.input_size[1]:
        return plan_flat(g, x.itemsize, CHUNK_BYTES, stacked=False, batch=x.shape[0])
    if g.in_channels // g.groups < 2:
        return None
    plan = plan_grid(g, x.itemsize, CHUNK_BYTES, stacked=False, batch=x.shape[0])
    if plan.rows * plan.pitch < WGRAD_GRID_MIN_COLUMNS or plan.waste(g) > WGRAD_GRID_MAX_WASTE:
        return None
    # the grid pairs the input's values at its extra positions with zero gradients: an inf there
    # would give NaN where the direct sum has none
    return plan if np.isfinite(x).all() else None


@silent_float_errors
def conv_weight_grad(x: np.ndarray, grad_out: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``dL/dweight`` of :func:`conv_forward`: the correlation of the input's windows with the
    output gradient, ``dw[co, ci, t] = sum_{b, o} grad[b, co, o] * x_pad[b, ci, o*s + t*d]``,
    computed chunk by chunk as ``grad (C_out/G, nb*L) @ columns^T (nb*L, C_in/G * prod(k))``: on the
    input's own rows for 'same' widths (:func:`convscope.ops.flat.conv_weight_grad_flat`), on them
    with the gradient shifted per kernel column for narrower unpadded widths where that copies fewer
    rows (:func:`convscope.ops.rows.conv_weight_grad_rows`), on the wide grid
    (:func:`convscope.ops.grid.conv_weight_grad_grid`) where its blocks are large enough."""
    samples = rows_weight_grad_plan(x, g)
    if samples is not None:
        return conv_weight_grad_rows(x, grad_out, g, samples)
    plan = _weight_grad_plan(x, g)
    if isinstance(plan, FlatPlan):
        return conv_weight_grad_flat(x, grad_out, g, plan)
    if plan is not None:
        return conv_weight_grad_grid(x, grad_out, g, plan)
    groups = g.groups
    cout_g = g.out_channels // groups
    inner = math.prod(g.output_size[1:])
    dw = np.zeros((groups, cout_g, (g.in_channels // groups) * math.prod(g.kernel_size)), dtype=x.dtype)
    for b0, b1, r0, r1, lhs in _column_chunks(x, g):
        nb, length = b1 - b0, (r1 - r0) * inner
        rows = grad_out[b0:b1, :, r0:r1].reshape(nb, g.out_channels, length).transpose(1, 0, 2)
        dw += weight_grad_product(lhs, rows.reshape(groups, cout_g, nb * length))
    return dw.reshape((g.out_channels, g.in_channels // groups) + g.kernel_size)


def _swap(g: ConvGeometry) -> ConvGeometry:
    """The same arithmetic read the other way: a convolution as the transposed convolution
    that is its adjoint, and back.  Sizes are kept exactly (no output-size formula involved)."""
    return dataclasses.replace(g, transposed=not g.transposed, in_channels=g.out_channels,
                               out_channels=g.in_channels, input_size=g.output_size, output_size=g.input_size)


@silent_float_errors
def conv_backward(grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, g: ConvGeometry,
                  needs: tuple[bool, bool, bool]):
    """Gradients of :func:`conv_forward` with respect to ``(x, weight, bias)`` (None where not needed).

    ``dx`` is the transposed convolution of ``grad_out`` with the same weight and arguments
    (the adjoint), ``dw`` the correlation :func:`conv_weight_grad`, ``db`` the sum over batch and space.
    """
    dx = conv_transpose_forward(grad_out, weight, None, _swap(g)) if needs[0] else None
    dw = conv_weight_grad(x, grad_out, g) if needs[1] else None
    db = grad_out.sum(axis=(0,) + tuple(range(2, grad_out.ndim))) if needs[2] else None
    return dx, dw, db


@silent_float_errors
def conv_transpose_backward(grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, g: ConvGeometry,
                            needs: tuple[bool, bool, bool]):
    """Gradients of :func:`conv_transpose_forward`: ``dx`` is the convolution of ``grad_out`` with
    the same weight (the adjoint's adjoint), ``dw`` the correlation of ``grad_out``'s windows with
    ``x`` (:func:`conv_weight_grad` with the roles of input and gradient exchanged)."""
    conv = _swap(g)
    dx = conv_forward(grad_out, weight, None, conv) if needs[0] else None
    dw = conv_weight_grad(grad_out, x, conv) if needs[1] else None
    db = grad_out.sum(axis=(0,) + tuple(range(2, grad_out.ndim))) if needs[2] else None
    return dx, dw, db
