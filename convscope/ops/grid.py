"""Convolution on the "wide grid" of the input's stride phases: every kernel tap is one contiguous run.

Stride phases.  Split the zero-padded input ``x_pad`` along each spatial dimension into its ``s``
stride phases, ``phase_r[u] = x_pad[s*u + r]``.  Tap ``t`` (dilated offset ``t*d``) of output ``y``
reads ``x_pad[s*y + t*d] = phase_r[y + a]`` with ``r = t*d mod s`` and ``a = t*d // s``: a strided
convolution is a stride-1 convolution of each phase with the taps that fall on it.

Wide grid.  Lay the output positions out on the phase images' own row pitch (``q_j = o_j + max(a)``
positions per dimension instead of ``o_j``).  Then, in a phase image flattened row-major, the
columns of one tap for a block of output rows are one contiguous slice, shifted by the tap's
offset: the im2col becomes one long copy per (channel, tap) instead of one short copy per output
row.  The taps on one phase are equally spaced, so all their slices, for every channel, are one
strided view of the canvas (overlapping), and their rows of the columns are equally spaced too:
one NumPy copy per phase combination gathers them.  The GEMM computes the ``q - o`` extra
positions of each row too (wasted work, kept small by the planner), and they are dropped when the
result is written out.

Stacked taps.  Optionally the taps of the last spatial dimension move from the GEMM's inner
dimension K to its rows M: ``P = W_stacked (k_last*C_out, C_in*k_front) @ columns (C_in*k_front, N)``
and the output is the sum of ``k_last`` slices of ``P``, each shifted along the flattened grid by
its tap's offset.  On the wide grid that shift stays inside each row's extra positions, so no
extra work is computed.  This copies ``k_last`` times fewer columns and gives OpenBLAS the squarer
product it runs fastest (measured on the 3x3 64->64 layer at 56x56: 438 GFLOP/s for 192x192 @
192x3480 against 266 for 64x576 @ 576x3364), at the price of ``k_last - 1`` additions over the output.

Samples side by side.  For small feature maps (and tall stacked GEMMs) several samples' phase
images sit side by side along the last dimension of one canvas, so one GEMM and one copy per tap
serve them all; each sample keeps its own padding, so the extra positions per row stay the same.

Shared canvas.  Stride-1 convolutions of one input that differ only in padding, taps and output
size (the sub-pixel phases of a transposed convolution) read one canvas, padded by the largest low
padding, each at its own offsets (:func:`shared_canvas_plans`, :class:`GridConv`): the canvas is
filled once per block instead of once per convolution.

Compact columns.  Where the product's crop into the output costs more than the long runs save
(few input channels, as in ResNet's 7x7 stem, wide output rows), each tap's columns are instead the
output's own positions, ``(rows, *o[1:])`` blocks of the phase image, and the GEMM writes straight
into the output (``GridPlan.compact``; chosen by ``convscope.ops.conv``).

Memory: per chunk of output rows (or of samples side by side), a canvas of the phase images' rows
it reads, the columns and the product: about ``chunk_bytes`` each for columns and product and
``canvas_bytes`` for the canvas, or one output row's worth when that is more.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import NamedTuple

import numpy as np

from ..arith.conv import ConvGeometry, tap_phases
from ._arrays import copy_rows, scratch, view_as
from .window import tap_range

__all__ = ["GridPlan", "GridConv", "plan_grid", "conv_grid", "conv_grid_shared", "shared_canvas_plans",
           "conv_weight_grad_grid", "weight_grad_product"]


@dataclasses.dataclass(frozen=True)
class GridPlan:
    """How :func:`conv_grid` lays out one convolution (all sizes per spatial dimension)."""

    phase: tuple[tuple[int, ...], ...]   # phase[j][t]: the phase that tap t of dimension j reads
    shift: tuple[tuple[int, ...], ...]   # shift[j][t]: its offset inside that phase image
    extent: tuple[int, ...]              # q_j = o_j + max(shift[j]): the wide grid
    stacked: bool                        # last dimension's taps stacked into the GEMM's rows
    rows: int                            # output rows (first dimension) per GEMM
    slab_rows: int                       # output rows per canvas fill (a multiple of ``rows``)
    samples: int = 1                     # samples side by side along the last dimension, per GEMM
    compact: bool = False                # columns of the output's own positions (see ``GridConv``)

    @property
    def halo(self) -> int:
        """Extra phase rows a block of output rows reads along the first dimension."""
        return max(self.shift[0])

    @property
    def out_inner(self) -> tuple[int, ...]:
        """The output's size along every dimension but the first."""
        return tuple(q - max(a) for q, a in zip(self.extent[1:], self.shift[1:]))

    def length(self, rows: int) -> int:
        """GEMM columns for ``rows`` output rows: the wide rows, and for stacked taps the last
        tap's shift past their end; compact, the output's own positions."""
        if self.compact:
            return rows * math.prod(self.out_inner)
        return rows * self.pitch + (max(self.shift[-1]) if self.stacked else 0)

    @property
    def pitch(self) -> int:
        """Elements of one first-dimension row of the canvas (and of the wide grid): the samples'
        phase-image rows side by side."""
        return math.prod(self.extent[1:]) * self.samples

    def flat_strides(self) -> list[int]:
        """The flat stride of each spatial dimension in the canvas ``(rows, *extent[1:-1], samples,
        extent[-1])`` of one channel."""
        n = len(self.extent)
        return [math.prod(self.extent[j + 1:]) * (self.samples if j < n - 1 else 1) for j in range(n)]

    @property
    def phases(self) -> list[tuple[int, ...]]:
        """The phase combinations some tap reads."""
        return list(itertools.product(*[sorted(set(p)) for p in self.phase]))

    def waste(self, g: ConvGeometry) -> float:
        """GEMM columns computed per output position (1.0: none wasted)."""
        return self.length(self.rows) / (self.rows * math.prod(g.output_size[1:]) * self.samples)


#: Columns a GEMM should reach by putting samples side by side (small feature maps): measured on
#: ``768x768`` products, 900 columns run at 286–299 GFLOP/s, 1800 at 311–313, 3600 at 318–327.
FOLD_LENGTH = 4096
#: Samples go side by side for GEMMs of at least this many rows, or samples of fewer column bytes.
FOLD_MIN_ROWS = 512
FOLD_MAX_SAMPLE_BYTES = 2**20


def plan_grid(g: ConvGeometry, itemsize: int, chunk_bytes: int, stacked: bool,
              canvas_bytes: int | None = None, batch: int = 1) -> GridPlan:
    """The layout of :func:`conv_grid` for ``g``: columns and product of at most about
    ``chunk_bytes`` each, phase images of at most about ``canvas_bytes`` (default 4x that),
    or one output row's worth when that is more.  When whole samples fit, up to ``batch`` of
    them go side by side along the last dimension, towards ``FOLD_LENGTH`` columns per GEMM
    (not for 1-d, whose only dimension is the rows)."""
    canvas_bytes = 4 * chunk_bytes if canvas_bytes is None else canvas_bytes
    phase, shift = zip(*(tap_phases(k, s, d) for k, s, d in zip(g.kernel_size, g.stride, g.dilation)))
    extent = tuple(o + max(a) for o, a in zip(g.output_size, shift))
    pitch_bytes = math.prod(extent[1:]) * itemsize
    halo, out_rows = max(shift[0]), g.output_size[0]
    taps_in_k = math.prod(g.kernel_size[:-1]) if stacked else math.prod(g.kernel_size)
    per_row = max(g.in_channels * taps_in_k, g.out_channels * (g.kernel_size[-1] if stacked else 1)) * pitch_bytes
    rows = max(1, min(out_rows, chunk_bytes // per_row))
    phase_count = math.prod(len(set(p)) for p in phase)
    canvas_row = g.in_channels * phase_count * pitch_bytes
    slab_rows = max(rows, min(out_rows, canvas_bytes // canvas_row - halo - 1) // rows * rows)
    samples = 1
    gemm_rows = g.out_channels // g.groups * (g.kernel_size[-1] if stacked else 1)
    sample_bytes = per_row * out_rows
    # Measured: side by side pays for tall products (dilated 3x3 256->256 @28, stacked: 768 rows,
    # 37.3 -> 30.6 ms) and for small samples (3x3 16->16 @16: 6.3 -> 4.4 ms), but not for 3x3
    # 64->64 @56 (192 rows: 9.6 -> 10.9 ms) or 128->128 s2 (256 rows: 12.4 -> 16.1 ms).
    if g.ndim > 1 and rows == out_rows and batch > 1 and (gemm_rows >= FOLD_MIN_ROWS
                                                            or sample_bytes < FOLD_MAX_SAMPLE_BYTES):
        sample_length = out_rows * math.prod(extent[1:])
        samples = max(1, min(batch, -(-FOLD_LENGTH // sample_length), chunk_bytes // (per_row * out_rows),
                             canvas_bytes // (canvas_row * (out_rows + halo + 1))))
    return GridPlan(phase, shift, extent, stacked, rows, slab_rows, samples)


def _fill_canvas(canvas: np.ndarray, samples: np.ndarray, combo: tuple[int, ...], u0: int, g: ConvGeometry,
                 borders: bool = True) -> None:
    """Write phase ``combo`` of the zero-padded ``samples`` (..., C, *in), first-dimension positions
    from ``u0`` on, into ``canvas`` (..., C, rows, *extent[1:]); positions in the padding become 0
    (unless ``borders`` is false: the caller knows they already are).
    Leading axes (e.g. samples side by side) are copied alongside, in one NumPy call per region."""
    regions = _fill_regions(combo, u0, canvas.shape[-g.ndim:], g)
    if regions is None:
        canvas[...] = 0
        return
    target, source, padding = regions
    if borders:
        for region in padding:
            canvas[region] = 0
    copy_rows(canvas[target], samples[source])


@functools.lru_cache(maxsize=1024)
def _fill_regions(combo: tuple[int, ...], u0: int, extents: tuple[int, ...], g: ConvGeometry):
    """``(canvas index, input index, [canvas indices in the padding])`` of :func:`_fill_canvas`, or
    None where the phase reads only padding.  Cached: worked out anew, they took a third of the
    canvas fill of ResNet's stem (4 phases a sample)."""
    n = g.ndim
    dst, src, padding = [], [], []
    for j, (r, s, (lo, _), size, extent) in enumerate(zip(combo, g.stride, g.padding, g.input_size, extents)):
        start = u0 if j == 0 else 0
        # phase position u holds input s*u + r - lo: the positions inside the input
        first, stop = tap_range(start, start + extent, r - lo, s, size)
        if first >= stop:
            return None
        dst.append(slice(first - start, stop - start))
        src.append(slice(s * first + r - lo, s * (stop - 1) + r - lo + 1, s))
        rest = (slice(None),) * (n - 1 - j)
        padding.append((Ellipsis, *dst[:-1], slice(0, first - start)) + rest)
        padding.append((Ellipsis, *dst[:-1], slice(stop - start, None)) + rest)
    return (Ellipsis, *dst), (Ellipsis, *src), tuple(padding)


def _samples_first(a: np.ndarray) -> np.ndarray:
    """``a (..., samples, last)`` -> ``(samples, ..., last)``: ``np.moveaxis(a, -2, 0)``, without its
    cost (several µs a call) for one sample."""
    return a[..., 0, :][np.newaxis] if a.shape[-2] == 1 else np.moveaxis(a, -2, 0)


def _gemm_operands(weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry, plan: GridPlan):
    """``[(phase of the last dimension or None, its taps, weight matrix)]``: one GEMM each.

    Stacked: rows ``(last tap, c_out)`` by columns ``(c_in, front taps)``, one GEMM per phase of
    the last dimension; plain: the weight's own ``(c_out, (c_in, taps))`` layout.  A ``bias``
    becomes one more column of the first GEMM's matrix, in the rows of its first tap (the columns
    then end with a row of ones)."""
    groups = g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    if not plan.stacked:
        gemms = [(None, None, np.ascontiguousarray(weight).reshape(groups, cout_g, -1))]
    else:
        gemms = []
        k_front = math.prod(g.kernel_size[:-1])
        for phase in sorted(set(plan.phase[-1])):
            taps = [t for t, r in enumerate(plan.phase[-1]) if r == phase]
            w = weight[..., taps].reshape((groups, cout_g, cin_g, k_front, len(taps)))
            w = np.ascontiguousarray(w.transpose(0, 4, 1, 2, 3)).reshape(groups, -1, cin_g * k_front)
            gemms.append((phase, taps, w))
    if bias is not None:
        phase, taps, w = gemms[0]
        with_bias = np.zeros(w.shape[:2] + (w.shape[2] + 1,), dtype=w.dtype)
        with_bias[..., :-1] = w
        with_bias[:, :cout_g, -1] = bias.reshape(groups, cout_g)
        gemms[0] = (phase, taps, with_bias)
    return gemms


class TapBlock(NamedTuple):
    """The taps of one phase combination, whose canvas runs are equally spaced along each dimension
    (the taps on one stride phase form an arithmetic progression): all of them, for every channel,
    are one strided view of the canvas, so one copy gathers their columns."""
    combo: tuple[int, ...]   # the phase combination the taps read
    offset: int              # flat canvas offset of the first tap
    counts: tuple[int, ...]  # taps per dimension
    steps: tuple[int, ...]   # flat offset between neighbouring taps per dimension
    kernel: tuple[slice, ...]  # the taps: a slice of the kernel per dimension


def _runs_of(ks: list[int], shifts: tuple[int, ...]) -> list[tuple[int, int, int, list[int]]]:
    """``[(first shift, count, step, taps)]``: the taps ``ks`` (ascending) split into runs whose shifts
    and taps are both equally spaced."""
    runs: list[tuple[int, int, int, list[int]]] = []
    for k in ks:
        if runs:
            first, count, step, taps = runs[-1]
            gap = shifts[k] - shifts[taps[-1]]
            if gap > 0 and (count == 1 or (gap == step and k - taps[-1] == taps[1] - taps[0])):
                runs[-1] = (first, count + 1, gap, taps + [k])
                continue
        runs.append((shifts[k], 1, 0, [k]))
    return runs


def _tap_blocks(plan: GridPlan, g: ConvGeometry, front: int) -> tuple[TapBlock, ...]:
    """The tap blocks of the first ``front`` dimensions' taps (every tap once)."""
    return _tap_blocks_of(plan, g.kernel_size[:front])


@functools.lru_cache(maxsize=256)
def _tap_blocks_of(plan: GridPlan, kernel_size: tuple[int, ...]) -> tuple[TapBlock, ...]:
    # cached: a layer's plans recur every call
    trailing = plan.flat_strides()
    per_dim = []
    for j, k in enumerate(kernel_size):
        phases = sorted(set(plan.phase[j][:k]))
        per_dim.append([(r, run) for r in phases
                        for run in _runs_of([t for t in range(k) if plan.phase[j][t] == r], plan.shift[j])])
    blocks = []
    for choice in itertools.product(*per_dim):
        combo = tuple(r for r, _ in choice)
        offset = sum(run[0] * trailing[j] for j, (_, run) in enumerate(choice))
        counts = tuple(run[1] for _, run in choice)
        steps = tuple(run[2] * trailing[j] for j, (_, run) in enumerate(choice))
        kernel = tuple(slice(ks[0], ks[-1] + 1, ks[1] - ks[0] if len(ks) > 1 else 1) for ks in (run[3] for _, run in choice))
        blocks.append(TapBlock(combo, offset, counts, steps, kernel))
    return tuple(blocks)


class GatherCopy(NamedTuple):
    """One copy of :func:`_gather_recipe`: the strided view of the canvas it reads (at element
    ``offset`` of its phase combination's plane, from the block's base) and where in the columns it
    writes; strides in bytes."""
    combo: tuple[int, ...]
    offset: int
    shape: tuple[int, ...]
    source_strides: tuple[int, ...]
    reach: int                      # elements of one channel's plane it reads past its first
    target_offset: int              # bytes
    target_strides: tuple[int, ...]


class GatherRecipe(NamedTuple):
    """The copies of one block's columns (:func:`_gather_recipe`)."""
    copies: tuple[GatherCopy, ...]
    rows: int       # rows of the columns per group (the bias's row of ones included)
    ones: bool
    run: tuple[tuple[int, ...], int] | None  # a single tap without ones: (combo, offset), read in place


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(math.prod(shape[j + 1:]) for j in range(len(shape)))


def _gather_recipe(blocks: tuple[TapBlock, ...], kernel_size: tuple[int, ...], suffix: tuple[int, ...], channels: int,
                   span: int, itemsize: int, length: int, groups: int = 1, ones: bool = False,
                   run: tuple[tuple[int, ...], tuple[int, ...]] | None = None) -> GatherRecipe:
    """How :func:`_gather_columns` copies the columns ``(G, C_in/G * taps [+ 1], length)`` (rows in
    the weight's own ``(c_in, taps)`` order, taps of ``kernel_size``) out of a canvas ``(combos, C_in,
    span)``: one copy per tap block, all its taps and channels at once, from a strided view whose
    taps' runs overlap in the canvas into equally spaced rows (a block's taps are a slice of the
    kernel).  ``suffix`` completes each block's phase combination (the stacked GEMM's phase of the
    last dimension); ``ones`` adds a last row of ones per group (the bias's row).  Worked out once
    per layout: a block's views took 2–3 µs each to work out, 4% of the 3x3 128->128 s2 layer.

    ``run`` is ``(shape, canvas strides)`` of what one tap reads for the ``length`` columns: by
    default one contiguous run, ``((length,), (1,))``; for compact columns the output's positions,
    e.g. ``((rows, width), (pitch, 1))``."""
    cin_g = channels // groups
    run_shape, run_steps = ((length,), (1,)) if run is None else run
    if (len(blocks) == 1 and blocks[0].counts == (1,) * len(blocks[0].counts) and not ones
            and run_steps == _contiguous_strides(run_shape)):
        return GatherRecipe((), cin_g, False, (blocks[0].combo + suffix, blocks[0].offset))
    taps = math.prod(kernel_size)
    rows = cin_g * taps + ones
    tap_strides = _contiguous_strides(kernel_size)
    copies = []
    for block in blocks:
        shape = (groups, cin_g) + block.counts + run_shape
        source_strides = (cin_g * span, span) + block.steps + run_steps
        first_row = sum(k.start * st for k, st in zip(block.kernel, tap_strides))
        target_strides = ((rows * length, taps * length)
                          + tuple(k.step * st * length for k, st in zip(block.kernel, tap_strides))
                          + _contiguous_strides(run_shape))
        reach = sum((n - 1) * st for n, st in zip(block.counts + run_shape, block.steps + run_steps))
        copies.append(GatherCopy(block.combo + suffix, block.offset, shape, tuple(st * itemsize for st in source_strides),
                                 reach, first_row * length * itemsize, tuple(st * itemsize for st in target_strides)))
    return GatherRecipe(tuple(copies), rows, ones, None)


def _gather_columns(flats: np.ndarray, combo_index: dict, recipe: GatherRecipe, base: int, length: int,
                   groups: int = 1) -> np.ndarray:
    """The columns of :func:`_gather_recipe` from the canvas ``flats (combos, C_in, span)`` (C-contiguous)
    at ``base``: ``(G, rows, length)``, in a reused buffer (slot 0), or the canvas itself for a
    single tap without ones."""
    _, channels, span = flats.shape
    if recipe.run is not None:
        combo, offset = recipe.run
        run = flats[combo_index[combo], :, base + offset:base + offset + length]
        return run.reshape(groups, channels // groups, length)
    if not flats.flags.c_contiguous:
        raise AssertionError("internal error: the canvas must be C-contiguous")
    cols = scratch(groups * recipe.rows * length, flats.dtype, slot=0)
    item, plane, dtype = flats.itemsize, channels * span, flats.dtype
    for copy in recipe.copies:
        start = combo_index[copy.combo] * plane + base + copy.offset
        if base + copy.offset < 0 or base + copy.offset + copy.reach >= span:
            raise AssertionError(f"internal error: a tap block reads past the canvas ({base + copy.offset} + "
                                 f"{copy.reach} of {span})")
        np.copyto(np.ndarray(copy.shape, dtype, cols, copy.target_offset, copy.target_strides),
                  np.ndarray(copy.shape, dtype, flats, start * item, copy.source_strides))
    cols = cols.reshape(groups, recipe.rows, length)
    if recipe.ones:
        cols[:, -1] = 1
    return cols


def _grid_blocks(x: np.ndarray, g: ConvGeometry, plan: GridPlan):
    """The canvas walk of :func:`conv_grid_shared` (and so :func:`conv_grid`) and :func:`conv_weight_grad_grid`.

    Yields ``(b0, rows_at, plan, flats, base)`` per GEMM block: samples ``b0 ... b0 + plan.samples``
    (the batch's last group may have fewer side by side: ``plan`` is then replaced), output rows
    ``rows_at = (y0, rows)``, and the filled canvas ``flats (phase combinations, C_in, span * pitch)``
    whose columns for this block start at ``base``.  The canvas is a reused buffer, valid until the
    next slab.
    """
    side = g.ndim > 1
    combos = plan.phases
    out_rows = g.output_size[0]
    # The canvas positions in the padding depend only on the layout: zero them once per layout, not
    # once per block (measured on the 3x3 128->128 s2 layer: 16 small writes a sample, 0.5 ms a batch).
    zeroed = None
    for b0 in range(0, x.shape[0], plan.samples):
        nb = min(plan.samples, x.shape[0] - b0)
        if nb != plan.samples:  # the batch's last samples: the same layout, fewer side by side
            plan = dataclasses.replace(plan, samples=nb)
        layout = plan.extent[1:-1] + (nb, plan.extent[-1]) if side else ()
        for slab0 in range(0, out_rows, plan.slab_rows):
            slab = min(plan.slab_rows, out_rows - slab0)
            span = slab + plan.halo + 1  # one spare row: the last runs of the trailing dimensions overrun
            canvas = scratch(len(combos) * g.in_channels * span * plan.pitch, x.dtype, slot=2)
            canvas = canvas.reshape((len(combos), g.in_channels, span) + layout)
            layout_key = (canvas.ctypes.data, nb, slab0, slab)
            for i, combo in enumerate(combos):  # all samples side by side at once: (nb, C, rows, ...)
                _fill_canvas(_samples_first(canvas[i]) if side else canvas[i], x[b0:b0 + nb] if side else x[b0],
                             combo, slab0, g, borders=layout_key != zeroed)
            zeroed = layout_key
            flats = canvas.reshape(len(combos), g.in_channels, span * plan.pitch)
            for y0 in range(slab0, slab0 + slab, plan.rows):
                yield b0, (y0, min(plan.rows, slab0 + slab - y0)), plan, flats, (y0 - slab0) * plan.pitch


#: The ``scratch`` slot of the product of a GEMM after the first (the flat path uses 0, 1, 5 and 7,
#: the grid 0-2, the rows path 0-2, max unpooling 3).
LATER_PRODUCT_SLOT = 4


class GridConv:
    """One convolution's share of a canvas walk: its GEMM operands, tap offsets and output.

    ``plan`` lays the convolution out on the walk's canvas (same extent, rows and samples side by
    side; its own shifts and stacking); ``out`` is ``(B, C_out, *o)``, any strided view.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry, out: np.ndarray, plan: GridPlan):
        n, groups = g.ndim, g.groups
        self.g, self.out, self.plan = g, out, plan
        self.combo_index = {c: i for i, c in enumerate(plan.phases)}
        # (phase combination, flat offset) of each tap block of the columns: of all taps (plain), or
        # of the front dimensions' taps, the last dimension's phase being the GEMM's own (stacked)
        self.front = n - 1 if plan.stacked else n
        # The bias rides in the first GEMM when its columns are copied anyway (a row of ones costs
        # nothing there); otherwise one pass over its product's long rows adds it.  Either beats
        # adding it on the way to the output, whose short rows make a broadcast add 3x a copy
        # (measured per sample of the 3x3 128->128 s2 layer: 0.058 ms against 0.019).
        self.bias_in_gemm = bias is not None and math.prod(g.kernel_size[:self.front]) > 1
        self.gemms = _gemm_operands(weight, bias if self.bias_in_gemm else None, g, plan)
        # the wide grid and the output both as (groups, C_out/G, rows, *middle dims, samples, last dim);
        # 1-d has rows only (one sample at a time)
        self.side = n > 1
        cout_g = g.out_channels // groups
        self.bias_rows = None if bias is None or self.bias_in_gemm else bias.reshape(groups, cout_g, 1)
        self.crop = (tuple(slice(0, o) for o in g.output_size[1:-1]) + (slice(None), slice(0, g.output_size[-1]))
                     if self.side else ())
        # the plan and tap offsets for the current number of samples side by side (fewer for the batch's last group)
        self.block_plan, self.blocks, self.samples = plan, None, None
        self.recipes: dict = {}  # _gather_recipe by (phase of the last dimension, canvas span, length)

    def _recipe(self, suffix: tuple[int, ...], flats: np.ndarray, length: int, ones: bool) -> GatherRecipe:
        key = (suffix, flats.shape[2], length)
        recipe = self.recipes.get(key)
        if recipe is None:
            recipe = self.recipes[key] = _gather_recipe(self.blocks, self.g.kernel_size[:self.front], suffix,
                                                        flats.shape[1], flats.shape[2], flats.itemsize, length,
                                                        self.g.groups, ones)
        return recipe

    def run(self, b0: int, y0: int, rows: int, samples: int, flats: np.ndarray, base: int) -> None:
        """The block of output rows ``[y0, y0 + rows)`` (clipped to this convolution's own) of
        ``samples`` samples from ``b0``, read from the canvas ``flats`` at ``base``."""
        g, groups = self.g, self.g.groups
        cout_g = g.out_channels // groups
        rows = min(rows, g.output_size[0] - y0)
        if rows <= 0:
            return
        if samples != self.samples:
            self.samples = samples
            self.block_plan = dataclasses.replace(self.plan, samples=samples)
            self.blocks = _tap_blocks(self.block_plan, g, self.front)
            self.recipes.clear()
        if self.plan.compact:
            self._run_compact(b0, y0, rows, flats, base)
            return
        plan, nb = self.block_plan, samples
        pitch, length = plan.pitch, plan.length(rows)
        layout = plan.extent[1:-1] + (nb, plan.extent[-1]) if self.side else ()
        target = view_as(self.out[b0:b0 + nb, :, y0:y0 + rows], (nb, groups, cout_g, rows) + g.output_size[1:])
        target = (target[0][..., np.newaxis, :] if nb == 1 else np.moveaxis(target, 0, -2)) if self.side else target[0]

        def at_outputs(wide_rows: np.ndarray) -> np.ndarray:
            """``(G, C_out/G, rows * pitch)`` on the wide grid -> its output positions, as ``target``."""
            return view_as(wide_rows, (groups, cout_g, rows) + layout)[(Ellipsis,) + self.crop]

        total = None  # the sum of every GEMM's tap blocks, on the first product's long rows
        for gemm_index, (phase, taps, w_mat) in enumerate(self.gemms):
            first = gemm_index == 0
            recipe = self._recipe(() if phase is None else (phase,), flats, length, first and self.bias_in_gemm)
            cols = _gather_columns(flats, self.combo_index, recipe, base, length, groups)
            # the first product holds the sum; later ones (the stride phases of the last dimension)
            # take a buffer of their own and are added in
            product = scratch(groups * w_mat.shape[1] * length, flats.dtype, slot=1 if first else LATER_PRODUCT_SLOT)
            product = product.reshape(groups, w_mat.shape[1], length)
            np.matmul(w_mat, cols, out=product)
            if plan.stacked:  # the taps' blocks, each read from its shift on, on the wide grid
                tap_products = product.reshape(groups, len(taps), cout_g, length)
                terms = [tap_products[:, i, :, plan.shift[-1][t]:plan.shift[-1][t] + rows * pitch]
                         for i, t in enumerate(taps)]
            else:
                terms = [product]
            if first:
                total, terms = terms[0], terms[1:]
                if self.bias_rows is not None:
                    np.add(total, self.bias_rows, out=total)
            # long contiguous runs, unlike the output's cropped rows, take the sums
            for term in terms:
                np.add(total, term, out=total)
        # the crop into the output is then a plain copy of rows (measured on the 3x3 128->128 s2
        # layer, whose second GEMM was added into the output's short rows before)
        copy_rows(target, at_outputs(total))

    def _run_compact(self, b0: int, y0: int, rows: int, flats: np.ndarray, base: int) -> None:
        """:meth:`run` on compact columns (``plan.compact``: one sample per block, taps not stacked, so
        one GEMM): each tap's columns are the output's own positions, read from the canvas as
        ``(rows, *out_inner)`` blocks, and the GEMM writes straight into the output, which then needs
        no crop.  Shorter copies for the gather, but no wasted columns and no copy of the product."""
        g, plan, groups = self.g, self.block_plan, self.g.groups
        length = plan.length(rows)
        key = ("compact", flats.shape[2], rows)
        recipe = self.recipes.get(key)
        if recipe is None:
            run = ((rows,) + plan.out_inner, tuple(plan.flat_strides()))
            recipe = self.recipes[key] = _gather_recipe(self.blocks, g.kernel_size, (), flats.shape[1], flats.shape[2],
                                                        flats.itemsize, length, groups, self.bias_in_gemm, run)
        cols = _gather_columns(flats, self.combo_index, recipe, base, length, groups)
        ((_, _, w_mat),) = self.gemms
        # compact plans come from conv_forward alone, whose output is C-contiguous
        product = view_as(self.out[b0, :, y0:y0 + rows], (groups, w_mat.shape[1], length))
        np.matmul(w_mat, cols, out=product)
        if self.bias_rows is not None:
            np.add(product, self.bias_rows, out=product)


def conv_grid(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
              out: np.ndarray, plan: GridPlan) -> None:
    """``out[:] = conv(x, weight) + bias`` by the stride-phase wide grid (see the module docstring).

    Shapes: ``x (B, C_in, *in)``, ``weight (C_out, C_in/G, *k)``, ``out (B, C_out, *o)``.
    """
    conv_grid_shared(x, g, plan, [GridConv(weight, bias, g, out, plan)])


def conv_grid_shared(x: np.ndarray, canvas_g: ConvGeometry, canvas_plan: GridPlan, convs: list[GridConv]) -> None:
    """Several stride-1 convolutions of the same input (or one strided convolution) over one canvas
    walk: the canvas of ``canvas_g`` laid out by ``canvas_plan`` is filled once per block and every
    convolution in ``convs`` reads its taps from it (see :func:`shared_canvas_plans`)."""
    for b0, (y0, rows), block_plan, flats, base in _grid_blocks(x, canvas_g, canvas_plan):
        for conv in convs:
            conv.run(b0, y0, rows, block_plan.samples, flats, base)


def shared_canvas_plans(geometries: list[ConvGeometry], stacked: list[bool], itemsize: int, chunk_bytes: int,
                        batch: int) -> tuple[ConvGeometry, GridPlan, list[GridPlan]]:
    """One canvas for several stride-1 convolutions of the same input that differ in padding, taps
    and output size (the sub-pixel phases of a transposed convolution).

    Along each dimension the canvas is the input padded by the largest low padding ``LO``; tap ``k``
    of a convolution with low padding ``lo`` and dilation ``d`` then reads the canvas at
    ``v + k*d + LO - lo`` for its output ``v``.  The canvas convolution has those offsets as its
    kernel extent and the largest output size; each convolution keeps its own shifts, stacking and
    output, on the shared wide grid.
    Returns ``(canvas geometry, canvas plan, one plan per convolution)``.
    """
    n = geometries[0].ndim
    low = [max(cg.padding[j][0] for cg in geometries) for j in range(n)]
    shifts = [tuple(tuple(k * cg.dilation[j] + low[j] - cg.padding[j][0] for k in range(cg.kernel_size[j]))
                    for j in range(n)) for cg in geometries]
    extent_k = tuple(max(max(sh[j]) for sh in shifts) + 1 for j in range(n))
    out_size = tuple(max(cg.output_size[j] for cg in geometries) for j in range(n))
    high = tuple(o - i - lo + k - 1 for o, i, lo, k in zip(out_size, geometries[0].input_size, low, extent_k))
    canvas_g = dataclasses.replace(geometries[0], kernel_size=extent_k, dilation=(1,) * n,
                                   padding=tuple(zip(low, high)), output_size=out_size)
    canvas_plan = plan_grid(canvas_g, itemsize, chunk_bytes, stacked=False, batch=batch)
    plans = [dataclasses.replace(canvas_plan, phase=tuple((0,) * cg.kernel_size[j] for j in range(n)),
                                 shift=sh, stacked=st) for cg, sh, st in zip(geometries, shifts, stacked)]
    return canvas_g, canvas_plan, plans


#: Largest ``C_out/G`` for which weight gradients multiply ``columns @ grad^T`` rather than
#: ``grad @ columns^T``: OpenBLAS runs the GEMM with the small dimension as its N faster (measured,
#: ms: 5x5 16->32 at 10x10 batch 128 5.4 against 6.3, 3x3 64->64 at 56 13.3 against 16.2, 128->128
#: s2 13.4 against 14.5; 256->256 dilated 41.0 against 35.1).
WGRAD_COLUMNS_FIRST_MAX = 128


#: Weight gradients with at most this many entries per group (``C_out/G * K``) split their GEMM's long
#: inner dimension into pieces of ``WGRAD_PIECE`` columns, multiplied as one batch and summed: OpenBLAS
#: runs a product with a tiny output and a long inner dimension on one core at a fraction of its speed.
#: Measured (ms, one GEMM against pieces of 1024, inner dimension 100352): 16x4 0.83 / 0.14, 16x9
#: 1.50 / 0.33, 16x25 (LeNet's conv1) 1.84 / 1.32, 64x9 2.93 / 2.39; 32x75 4.81 / 5.04.
WGRAD_PIECES_MAX_OUTPUTS = 800
WGRAD_PIECE = 1024


def weight_grad_product(columns: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``grad (G, C_out/G, L) @ columns^T (L, K)`` -> ``(G, C_out/G, K)``, in the faster orientation
    (both operands' ``L`` axis has unit stride)."""
    outputs, length = grad.shape[1] * columns.shape[1], grad.shape[2]
    if min(grad.shape[1], columns.shape[1]) > 1 and outputs <= WGRAD_PIECES_MAX_OUTPUTS and length >= 2 * WGRAD_PIECE:
        pieces = length // WGRAD_PIECE
        split = pieces * WGRAD_PIECE

        def in_pieces(a: np.ndarray) -> np.ndarray:  # (G, rows, L) -> (G, pieces, rows, piece)
            return a[..., :split].reshape(a.shape[:2] + (pieces, WGRAD_PIECE)).transpose(0, 2, 1, 3)
        dw = np.matmul(in_pieces(columns), in_pieces(grad).transpose(0, 1, 3, 2)).sum(axis=1)
        if split < length:
            dw += np.matmul(columns[..., split:], grad[..., split:].transpose(0, 2, 1))
        return dw.transpose(0, 2, 1)
    if grad.shape[1] <= WGRAD_COLUMNS_FIRST_MAX:
        return np.matmul(columns, grad.transpose(0, 2, 1)).transpose(0, 2, 1)
    return np.matmul(grad, columns.transpose(0, 2, 1))


def conv_weight_grad_grid(x: np.ndarray, grad_out: np.ndarray, g: ConvGeometry, plan: GridPlan) -> np.ndarray:
    """``dL/dweight`` of a convolution on the wide grid (a plain ``plan``, taps not stacked):

    ``dw[co, ci, t] = sum_{b, o} grad[b, co, o] * x_pad[b, ci, o*s + t*d]``, per block one GEMM
    ``grad_wide (C_out/G, L) @ columns^T (L, C_in/G * prod(k))``, where ``grad_wide`` is the block's
    output gradient laid out on the wide grid with zeros at its extra positions, so the columns'
    values there add nothing.  The columns are the canvas runs, one contiguous copy per tap, instead
    of the im2col's short row copies; blocks of about ``chunk_bytes`` keep both operands in cache
    for a GEMM whose inner dimension would otherwise be the whole batch.

    The input must be finite: an ``inf`` at a wide position would meet a zero gradient (NaN).
    Shapes: ``x (B, C_in, *in)``, ``grad_out (B, C_out, *o)`` -> ``(C_out, C_in/G, *k)``.
    """
    n, groups = g.ndim, g.groups
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    k_count = math.prod(g.kernel_size)
    combo_index = {c: i for i, c in enumerate(plan.phases)}
    side = n > 1
    dw = np.zeros((groups, cout_g, cin_g * k_count), dtype=x.dtype)
    blocks, samples = None, None
    for b0, (y0, rows), block_plan, flats, base in _grid_blocks(x, g, plan):
        if block_plan.samples != samples:
            samples = block_plan.samples
            blocks = _tap_blocks(block_plan, g, n)
            recipes: dict = {}
        nb = samples
        length = rows * block_plan.pitch
        key = (flats.shape[2], length)
        if key not in recipes:
            recipes[key] = _gather_recipe(blocks, g.kernel_size, (), g.in_channels, flats.shape[2], x.itemsize, length,
                                          groups)
        cols = _gather_columns(flats, combo_index, recipes[key], base, length, groups)
        layout = plan.extent[1:-1] + (nb, plan.extent[-1]) if side else ()
        wide = scratch(g.out_channels * length, x.dtype, slot=1).reshape((g.out_channels, rows) + layout)
        wide.fill(0)
        source = grad_out[b0:b0 + nb, :, y0:y0 + rows]
        if side:
            inner = tuple(slice(0, o) for o in g.output_size[1:-1]) + (slice(None), slice(0, g.output_size[-1]))
            copy_rows(wide[(slice(None), slice(None)) + inner], np.moveaxis(source, 0, -2))
        else:
            wide[...] = source[0]
        dw += weight_grad_product(cols, wide.reshape(groups, cout_g, length))
    return dw.reshape((g.out_channels, cin_g) + g.kernel_size)
