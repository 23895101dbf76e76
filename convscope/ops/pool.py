"""N-d pooling and unpooling on NumPy arrays (batched ``(B, C, *spatial)`` inputs).

Max and average pooling loop over the kernel's taps, not over output positions: for each
tap, one strided view of the input (its in-bounds part, from ``window.tap_boxes``) is
combined into the output with ``np.maximum``/``+=``.  Padding is never materialized: a tap
that falls in the padding simply contributes nothing (max pooling's padding is -inf).
Adaptive pooling is separable: it reduces one dimension at a time over variable windows.
"""
from __future__ import annotations

import ctypes
import functools
import math

import numpy as np

from ..arith.pool import PoolGeometry, adaptive_windows, avg_pool_divisor_factors
from ._arrays import scratch, silent_float_errors
from .threads import split_rows
from .window import tap_boxes

_memset = ctypes.memset  # bound once: one attribute lookup less per piece

__all__ = ["max_pool_forward", "avg_pool_forward", "adaptive_avg_pool_forward", "adaptive_max_pool_forward",
           "max_unpool_forward", "scatter_to_indices", "tiles", "avg_pool_backward", "adaptive_avg_pool_backward",
           "max_unpool_backward", "fractional_window_starts", "fractional_max_pool_forward"]


def _lowest(dtype: np.dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _taps(g: PoolGeometry):
    """``(dst, src)`` slice boxes of every kernel tap that reads some input, in scan order."""
    for tap in np.ndindex(*g.kernel_size):
        boxes = tap_boxes(tap, g.output_size, 0, g.input_size, g.stride, g.dilation, g.padding)
        if boxes is not None:
            yield boxes


def _flat_index(positions: list[np.ndarray], input_size: tuple[int, ...]) -> np.ndarray:
    """Row-major flat index ``sum_j pos_j * prod(input_size[j+1:])`` of per-dimension position vectors,
    broadcast to their outer product."""
    n = len(positions)
    flat = np.zeros((1,) * n, dtype=np.int64)
    for j, pos in enumerate(positions):
        shape = [1] * n
        shape[j] = len(pos)
        flat = flat + pos.reshape(shape).astype(np.int64) * math.prod(input_size[j + 1:])
    return flat


def tiles(g: PoolGeometry) -> bool:
    """Windows that tile the input: stride = kernel, no padding or dilation (a reshape finds them)."""
    return (g.stride == g.kernel_size and all(p == 0 for p in g.padding) and all(d == 1 for d in g.dilation)
            and all(o * k <= i for o, k, i in zip(g.output_size, g.kernel_size, g.input_size)))


def max_pool_forward(x: np.ndarray, g: PoolGeometry, return_indices: bool = False):
    """Max pooling.  ``x (B, C, *in) -> (B, C, *out)``, and with ``return_indices`` the flat
    index of each maximum within its ``(b, c)`` plane of the unpadded input (int64).

    Like PyTorch's CPU kernel: windows are scanned in row-major order, the first maximum wins
    ties, NaN wins over any number (the last NaN's index is kept), and an all ``-inf`` window
    reports its first in-bounds element.
    """
    out = np.full(x.shape[:2] + g.output_size, _lowest(x.dtype), dtype=x.dtype)
    for dst, src in _taps(g):
        target = out[(slice(None), slice(None), *dst)]
        np.maximum(target, x[(slice(None), slice(None), *src)], out=target)
    if not return_indices:
        if x.dtype.kind == "f" and not out.all() and _has_negative_zero(x):
            _first_zero_signs(x, g, out)
        return out
    if x.dtype.kind == "f" and np.isnan(out).any():
        return _max_pool_scan(x, g)
    return out, _first_max_index(x, g, out)


def _has_negative_zero(x: np.ndarray) -> bool:
    bits = x.view(f"u{x.itemsize}")
    return bool((bits == 1 << (8 * x.itemsize - 1)).any())


def _first_zero_signs(x: np.ndarray, g: PoolGeometry, out: np.ndarray) -> None:
    """Give each zero maximum the sign of its window's first zero, as PyTorch's first-maximum rule
    does (``np.maximum`` may return either of 0.0 and -0.0)."""
    negative = np.zeros(out.shape, dtype=bool)
    found = np.zeros(out.shape, dtype=bool)
    for dst, src in _taps(g):
        values = x[(slice(None), slice(None), *src)]
        zero = values == 0
        first = zero & ~found[(slice(None), slice(None), *dst)]
        negative[(slice(None), slice(None), *dst)] |= first & np.signbit(values)
        found[(slice(None), slice(None), *dst)] |= zero
    zero_max = out == 0
    out[zero_max] = 0
    out[zero_max & negative] = -0.0


def _first_max_index(x: np.ndarray, g: PoolGeometry, out: np.ndarray) -> np.ndarray:
    """The flat index of the first element (in window scan order) equal to each window's maximum
    ``out`` (NaN-free); also gives ``out`` the sign of that element where the maximum is a zero.

    Counts, per window, the taps before the first hit with unmasked ufuncs on small integers
    (NumPy's masked copies run about 10x slower); flat index = window origin + that tap's offset.
    The large arrays are written in place: first writes to fresh memory are slow here.
    """
    taps = list(np.ndindex(*g.kernel_size))

    def hits():
        for tap in taps:
            boxes = tap_boxes(tap, g.output_size, 0, g.input_size, g.stride, g.dilation, g.padding)
            if boxes is None:
                yield None, None
                continue
            dst, src = boxes
            where = (slice(None), slice(None), *dst)
            yield where, x[(slice(None), slice(None), *src)] == out[where]
    before, found = _taps_before_first_hit(out.shape, len(taps), hits(), np.uint8 if len(taps) < 256 else np.int64)
    plane_strides = [math.prod(g.input_size[j + 1:]) for j in range(g.ndim)]
    tap_offset = np.asarray([sum(t * d * st for t, d, st in zip(tap, g.dilation, plane_strides)) for tap in taps],
                            dtype=np.int64)
    origin = _flat_index([np.arange(o) * s - p for o, s, p in zip(g.output_size, g.stride, g.padding)],
                         g.input_size)
    indices = np.empty(out.shape, dtype=np.int64)
    np.copyto(indices, before)
    np.take(tap_offset, indices, out=indices, mode="clip")  # elementwise, so in place is safe
    rows = indices.reshape(-1, origin.size)
    np.add(rows, origin.reshape(-1), out=rows)
    if not found.all():  # a dilated window wholly in the padding: PyTorch reports its first position
        missed = np.nonzero(~found)
        indices[missed] = np.broadcast_to(_first_in_bounds(g), out.shape)[missed]
    if x.dtype.kind == "f" and not out.all() and _has_negative_zero(x):  # PyTorch returns the first zero
        zeros = np.nonzero(out == 0)
        out[zeros] = x[zeros[:2] + np.unravel_index(indices[zeros], g.input_size)]
    return indices


def _taps_before_first_hit(shape, tap_count: int, hits, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(before, found)``: per output position, how many taps come before the first whose hit mask
    is True, and whether any was.  ``hits`` yields, per tap in scan order, ``(where, mask)``: the
    output region the tap covers and its mask there (``(None, None)``: it covers none).

    Unmasked ufuncs on small integers: NumPy's masked copies and selects run about 10x slower."""
    before = np.zeros(shape, dtype=dtype)
    found = np.zeros(shape, dtype=bool)
    for t, (where, mask) in enumerate(hits):
        if mask is not None:
            region = found[where]
            region |= mask
        if t < tap_count - 1:
            before += ~found
    return before, found


def _first_in_bounds(g: PoolGeometry) -> np.ndarray:
    """The flat index of each window's first in-bounds position (past the plane for a window wholly
    in the padding), broadcastable to the output ``(1, 1, *out)``."""
    first = []
    for o, s, p, d in zip(g.output_size, g.stride, g.padding, g.dilation):
        start = np.arange(o) * s - p
        first.append(start + (-(-np.maximum(-start, 0) // d)) * d)
    return _flat_index(first, g.input_size)


def _max_pool_scan(x: np.ndarray, g: PoolGeometry):
    """Max pooling with indices by PyTorch's own rule, tap by tap: replace the running maximum where
    ``value > max or isnan(value)``.  Exact with NaN, but its masked copies are slow."""
    out = np.full(x.shape[:2] + g.output_size, _lowest(x.dtype), dtype=x.dtype)
    indices = np.broadcast_to(_first_in_bounds(g), out.shape).copy()
    floating = x.dtype.kind == "f"
    for dst, src in _taps(g):
        target = out[(slice(None), slice(None), *dst)]
        values = x[(slice(None), slice(None), *src)]
        better = values > target
        if floating:
            better |= np.isnan(values)
        np.copyto(target, values, where=better)
        positions = [np.arange(box.start, box.stop, box.step) for box in src]
        np.copyto(indices[(slice(None), slice(None), *dst)], _flat_index(positions, g.input_size), where=better)
    return out, indices


@silent_float_errors
def avg_pool_forward(x: np.ndarray, g: PoolGeometry, count_include_pad: bool = True,
                     divisor_override: int | None = None) -> np.ndarray:
    """Average pooling ``x (B, C, *in) -> (B, C, *out)``: the window sum over in-bounds elements,
    divided by ``divisor_override`` or by the window size per ``count_include_pad``
    (see :func:`convscope.arith.avg_pool_divisor_factors`)."""
    out = np.zeros(x.shape[:2] + g.output_size, dtype=x.dtype)
    for dst, src in _taps(g):
        out[(slice(None), slice(None), *dst)] += x[(slice(None), slice(None), *src)]
    out /= _avg_pool_divisor(g, x.dtype, count_include_pad, divisor_override)
    return out


def _window_bounds(input_size: int, output_size: int) -> tuple[np.ndarray, np.ndarray]:
    windows = np.asarray(adaptive_windows(input_size, output_size), dtype=np.int64).reshape(-1, 2)
    return windows[:, 0], windows[:, 1]


@silent_float_errors
def adaptive_avg_pool_forward(x: np.ndarray, output_size: tuple[int, ...]) -> np.ndarray:
    """Adaptive average pooling ``(B, C, *in) -> (B, C, *output_size)``: window sums one
    dimension at a time (``np.add.reduceat`` over ``[start, end)`` pairs), divided once by
    the product of the window lengths."""
    n = len(output_size)
    if any(o == 0 for o in output_size):
        return np.zeros(x.shape[:2] + tuple(output_size), dtype=x.dtype)
    if all(o == 1 for o in output_size):  # global average pooling: one matrix-vector product
        plane = math.prod(x.shape[2:])
        sums = x.reshape(-1, plane) @ np.ones(plane, dtype=x.dtype)
        return (sums / x.dtype.type(plane)).reshape(x.shape[:2] + (1,) * n)
    out = x
    divisor = np.ones((1,) * n, dtype=x.dtype)
    for j in reversed(range(n)):
        size, o = x.shape[2 + j], output_size[j]
        if size % o == 0:  # equal, disjoint windows: a reshape and a sum
            k = size // o
            out = out.reshape(out.shape[:2 + j] + (o, k) + out.shape[3 + j:]).sum(axis=3 + j)
            shape = [1] * n
            shape[j] = o
            divisor = divisor * np.full(shape, k, dtype=x.dtype)
            continue
        starts, ends = _window_bounds(size, o)
        bounds = np.empty(2 * o - 1, dtype=np.int64)
        bounds[0::2], bounds[1::2] = starts, ends[:-1]
        if bounds.max() >= size:  # reduceat needs every bound inside the axis: append a zero
            pad_width = [(0, 0)] * out.ndim
            pad_width[2 + j] = (0, 1)
            out = np.pad(out, pad_width)
        out = np.add.reduceat(out, bounds, axis=2 + j)[(slice(None),) * (2 + j) + (slice(None, None, 2),)]
        shape = [1] * n
        shape[j] = o
        divisor = divisor * (ends - starts).astype(x.dtype).reshape(shape)
    return out / divisor


def adaptive_max_pool_forward(x: np.ndarray, output_size: tuple[int, ...], return_indices: bool = False):
    """Adaptive max pooling ``(B, C, *in) -> (B, C, *output_size)`` (and int64 flat indices).

    Separable: reduce the last dimension first, carrying each candidate's flat index, then
    the earlier ones; with first-maximum-wins and last-NaN-wins per dimension this picks the
    same element as PyTorch's row-major scan of the whole window.
    """
    n = len(output_size)
    spatial = x.shape[2:]
    if any(o == 0 for o in output_size):
        empty = np.zeros(x.shape[:2] + tuple(output_size), dtype=x.dtype)
        return (empty, empty.astype(np.int64)) if return_indices else empty
    values = x
    # the flat indices of the input, (1, 1, *in): broadcast against the samples and channels only
    # where a choice is stored (taking from a broadcast view would copy all of it at every step)
    flat = _flat_index([np.arange(s) for s in spatial], spatial)[None, None] if return_indices else None
    floating = x.dtype.kind == "f"
    for j in reversed(range(n)):
        axis = 2 + j
        starts, ends = _window_bounds(spatial[j], output_size[j])
        best = np.take(values, starts, axis=axis)
        best_flat = np.broadcast_to(np.take(flat, starts, axis=axis), best.shape).copy() if flat is not None \
            else None
        shape = [1] * values.ndim
        shape[axis] = output_size[j]
        for r in range(1, int((ends - starts).max())):
            position = starts + r
            inside = (position < ends).reshape(shape)
            position = np.minimum(position, spatial[j] - 1)
            candidate = np.take(values, position, axis=axis)
            better = candidate > best
            if floating:
                better |= np.isnan(candidate)
            better &= inside
            np.copyto(best, candidate, where=better)
            if best_flat is not None:
                np.copyto(best_flat, np.take(flat, position, axis=axis), where=better)
        values, flat = best, best_flat
    return (values, flat) if return_indices else values


def fractional_window_starts(samples: np.ndarray, input_size: int, output_size: int, kernel_size: int) -> np.ndarray:
    """Window starts ``(*samples.shape, output_size)`` of fractional max pooling along one dimension
    for random ``samples`` u in [0, 1), computed in the samples' precision as PyTorch does
    (``generate_intervals`` in ``aten/src/ATen/native/FractionalMaxPooling.h``)::

        alpha = (input_size - k) / (output_size - 1)
        start_i = int((i + u) * alpha) - int(u * alpha)     for i < output_size - 1
        start_last = input_size - k

    so consecutive windows step by ``floor(alpha)`` or ``ceil(alpha)`` and the last one ends at the
    input's end."""
    real = samples.dtype.type
    starts = np.empty(samples.shape + (output_size,), dtype=np.int64)
    if output_size > 1:
        alpha = real(input_size - kernel_size) / real(output_size - 1)
        steps = np.arange(output_size - 1, dtype=samples.dtype)
        with np.errstate(invalid="ignore"):  # a NaN sample is reported by the caller
            starts[..., :-1] = ((steps + samples[..., None]) * alpha).astype(np.int64) \
                - (samples * alpha).astype(np.int64)[..., None]
    if output_size > 0:
        starts[..., -1] = input_size - kernel_size
    return starts


#: Which column of the random samples drives each spatial dimension: PyTorch's 2-d kernel reads
#: ``(W, H)``, its 3-d kernel ``(T, H, W)``.
FRACTIONAL_SAMPLE_COLUMN = {2: (1, 0), 3: (0, 1, 2)}


def fractional_max_pool_forward(x: np.ndarray, samples: np.ndarray, kernel_size: tuple[int, ...],
                                output_size: tuple[int, ...], op: str) -> tuple[np.ndarray, np.ndarray]:
    """Fractional max pooling ``x (B, C, *in) -> (B, C, *out)`` with flat indices into each plane.

    ``samples (>= B, C, n)`` (the input's dtype) place each plane's windows
    (:func:`fractional_window_starts`); within a window PyTorch's rule applies: the first maximum in
    scan order wins, a NaN wins and the last NaN is kept."""
    batch, channels = x.shape[:2]
    n, in_size = len(kernel_size), x.shape[2:]
    plane_strides = [math.prod(in_size[j + 1:]) for j in range(n)]
    origin = np.zeros((batch, channels) + tuple(output_size), dtype=np.int64)
    for j, column in enumerate(FRACTIONAL_SAMPLE_COLUMN[n]):
        starts = fractional_window_starts(samples[:batch, :, column], in_size[j], output_size[j], kernel_size[j])
        if starts.size and (starts.min() < 0 or starts.max() > in_size[j] - kernel_size[j]):
            raise ValueError(f"{op}: _random_samples must lie in [0, 1): its windows fall outside the input "
                             f"(spatial dimension {j}, samples {samples[:batch, :, column].ravel()[:4]}...)")
        shape = [batch, channels] + [1] * n
        shape[2 + j] = output_size[j]
        origin += starts.reshape(shape) * plane_strides[j]
    # every tap's values by one flat gather each (global index = plane offset + window origin + tap),
    # into reused buffers: fresh memory is slow to write here
    plane = math.prod(in_size)
    flat = x.reshape(-1)
    start = origin + (np.arange(batch * channels, dtype=np.int64) * plane).reshape((batch, channels) + (1,) * n)
    tap_offset = np.asarray([sum(t * st for t, st in zip(tap, plane_strides)) for tap in np.ndindex(*kernel_size)],
                            dtype=np.int64)
    index_buffer = np.empty(start.shape, dtype=np.int64)
    values = np.empty(start.shape, dtype=x.dtype)

    def gather(offset, out):  # the windows are checked above, so "clip" never clips
        np.add(start, offset, out=index_buffer)
        return np.take(flat, index_buffer, out=out, mode="clip")

    best = gather(tap_offset[0], np.empty(start.shape, dtype=x.dtype))
    for offset in tap_offset[1:]:
        np.maximum(best, gather(offset, values), out=best)
    if np.isnan(best).any():  # PyTorch's exact rule (the last NaN wins), by selects
        chosen = np.zeros(best.shape, dtype=np.int64)
        gather(tap_offset[0], best)
        for t, offset in enumerate(tap_offset[1:], start=1):
            v = gather(offset, values)
            better = (v > best) | np.isnan(v)
            best = np.where(better, v, best)
            chosen = np.where(better, t, chosen)
    else:  # the first tap equal to the maximum
        everywhere = (Ellipsis,)
        chosen, _ = _taps_before_first_hit(best.shape, len(tap_offset),
                                           ((everywhere, gather(offset, values) == best) for offset in tap_offset),
                                           np.int64)
    indices = origin + np.take(tap_offset, chosen)
    if not best.all() and _has_negative_zero(x):  # a zero maximum has the first zero's sign
        zeros = np.nonzero(best == 0)
        best[zeros] = np.take(flat, (start - origin + indices)[zeros])
    return best, indices


#: Indices scattered at once by max unpooling, per thread (whole planes, at least one): their global
#: indices (1 MiB of int64) stay in cache between the add that makes them and the scatter that reads them.
UNPOOL_CHUNK_INDICES = 2**17
#: Max unpooling splits its planes across the cores from this many output bytes on.  Each piece
#: zeroes and fills its own planes, so the whole call is shared; measured (best / median ms, one
#: thread against split, 2x2 unpooling, batch 8, 64 channels): 3.1 MB out 0.257 / 0.266 against
#: 0.295 / 0.474, 6.1 MB 0.509 / 0.539 against 0.391 / 0.470, 24.5 MB 2.72 / 2.88 against 1.79 / 2.01.
#: (With the zeroing on the caller alone, split and unsplit were even at 6.4 MB.)
UNPOOL_PARALLEL_MIN_BYTES = 4 * 2**20
#: Pieces per thread of max unpooling's split.  Each piece makes three NumPy calls (zero, add the
#: plane offsets, scatter) and hands the GIL over between them, a thread wake-up whenever the other
#: thread holds it.  Measured in alternating blocks at 6.1 MB out (median / best ms): 2 pieces a
#: thread with the index check on the caller 0.58 / 0.43, against 1.10 / 0.47 for 4 pieces a thread
#: that each checked their own indices; with the check on the caller, 1, 2 and 3 pieces a thread
#: read 0.61, 0.57 and 0.62 at the median.
UNPOOL_PIECES_PER_WORKER = 2


@functools.lru_cache(maxsize=4)
def _plane_offsets(planes: int, per_plane: int, plane: int) -> np.ndarray:
    """``(planes, per_plane)`` int64, row ``p`` all ``p * plane`` (read-only: it is shared)."""
    offsets = np.repeat(np.arange(0, planes * plane, plane, dtype=np.int64), per_plane).reshape(planes, per_plane)
    offsets.flags.writeable = False
    return offsets


def max_unpool_forward(x: np.ndarray, indices: np.ndarray, output_size: tuple[int, ...], op: str) -> np.ndarray:
    """Max unpooling: zeros of shape ``(B, C, *output_size)`` with ``out[b, c].flat[indices] = x``."""
    plane = math.prod(output_size)
    if plane == 0:  # an empty output receives nothing (PyTorch checks no index then)
        return np.zeros(x.shape[:2] + tuple(output_size), dtype=x.dtype)
    flat_idx = indices.reshape(indices.shape[:2] + (math.prod(indices.shape[2:]),)).astype(np.int64, copy=False)
    out = np.empty(x.shape[:2] + tuple(output_size), dtype=x.dtype)
    count = flat_idx.shape[0] * flat_idx.shape[1]
    per_plane = flat_idx.shape[2]
    flat_idx, values, out_planes = (flat_idx.reshape(count, per_plane), x.reshape(count, per_plane),
                                    out.reshape(count, plane))
    step = max(1, min(count, UNPOOL_CHUNK_INDICES // max(1, per_plane)))
    # Each chunk scatters into the output from its first plane on, with the same plane offsets
    # ``p * plane`` (p < step) added to its local indices: an add of two whole arrays, which NumPy
    # runs at twice the speed of adding one offset per row (0.085 against 0.15 ms for 512x784).
    plane_offsets = _plane_offsets(step, per_plane, plane).reshape(-1)
    row_bytes = plane * out.itemsize
    # Flat views and the output's address, made once: a piece's Python between its NumPy calls holds
    # the GIL that the other thread's calls wait for (5.5 µs a piece made per piece, 1 µs so).
    flat_out, flat_values, flat_local = out.reshape(-1), values.reshape(-1), flat_idx.reshape(-1)
    address = out.ctypes.data

    def check() -> None:
        if flat_idx.size and flat_idx.view(np.uint64).max() >= plane:  # negatives are huge as unsigned
            bad = flat_idx[(flat_idx < 0) | (flat_idx >= plane)].flat[0]
            raise ValueError(f"{op}: found an invalid max index {bad} (output planes of shape {output_size} "
                             f"have {plane} elements)")

    def scatter(lo: int, hi: int) -> None:
        """Planes ``[lo, hi)``, ``step`` at a time: zero them (glibc's memset, twice as fast as NumPy's
        fill), ``out.flat[p*plane + index] = x``.  An index outside its plane (the check raises then,
        and the output is dropped) lands in another plane or raises IndexError: NumPy bounds-checks
        the flat index."""
        target = scratch(min(hi - lo, step) * per_plane, np.int64, slot=3)
        for p0 in range(lo, hi, step):
            p1 = min(hi, p0 + step)
            first, size = p0 * per_plane, (p1 - p0) * per_plane
            _memset(address + p0 * row_bytes, 0, (p1 - p0) * row_bytes)
            np.add(flat_local[first:first + size], plane_offsets[:size], out=target[:size])
            flat_out[p0 * plane:p1 * plane][target[:size]] = flat_values[first:first + size]

    # The check runs on the caller while the woken worker starts: it overlaps the wake-up.
    split_rows(scatter, count, out.nbytes, UNPOOL_PARALLEL_MIN_BYTES, UNPOOL_PIECES_PER_WORKER, first=check)
    return out


# -- backward rules ---------------------------------------------------------------------------

def scatter_to_indices(grad: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...],
                       distinct: bool = False) -> np.ndarray:
    """Adjoint of picking ``x[b, c].flat[indices]`` (max pooling, adaptive max pooling): every
    gradient goes back to the element it came from; overlapping windows accumulate.  With
    ``distinct`` (windows that tile the input pick different elements) it is a plain indexed store."""
    if not distinct:
        return _scatter_accumulate(grad, indices, input_shape)
    plane = math.prod(input_shape[2:])
    index = indices.astype(np.int64, copy=False).reshape(indices.shape[0] * indices.shape[1], -1)
    flat = (index + np.arange(index.shape[0], dtype=np.int64)[:, None] * plane).ravel()
    dx = np.zeros(input_shape, dtype=grad.dtype)
    dx.reshape(-1)[flat] = grad.reshape(-1)
    return dx


def _scatter_accumulate(grad: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Sum the gradients per input element (windows may pick the same one)."""
    batch, channels = input_shape[:2]
    plane = math.prod(input_shape[2:])
    offsets = np.arange(batch * channels, dtype=np.int64).reshape(batch, channels, *([1] * (indices.ndim - 2)))
    index = indices.astype(np.int64, copy=False)
    # A dilated window can lie wholly in the padding: its output is -inf and its index points
    # past the plane (PyTorch's too); no input element produced it, so its gradient is dropped.
    inside = (index >= 0) & (index < plane)
    flat = (np.where(inside, index, 0) + offsets * plane).ravel()
    sums = np.bincount(flat, weights=np.where(inside, grad, 0).ravel(), minlength=batch * channels * plane)
    return sums.astype(grad.dtype, copy=False).reshape(input_shape)


@silent_float_errors
def avg_pool_backward(grad: np.ndarray, g: PoolGeometry, input_shape: tuple[int, ...], count_include_pad: bool = True,
                      divisor_override: int | None = None) -> np.ndarray:
    """Adjoint of :func:`avg_pool_forward`: each window's gradient, divided by its divisor, is added
    back onto the input elements the window covered."""
    scaled = grad / _avg_pool_divisor(g, grad.dtype, count_include_pad, divisor_override)
    dx = np.zeros(input_shape, dtype=grad.dtype)
    for dst, src in _taps(g):
        dx[(slice(None), slice(None), *src)] += scaled[(slice(None), slice(None), *dst)]
    return dx


def _avg_pool_divisor(g: PoolGeometry, dtype, count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    """The divisor of every window, shaped to broadcast against the output ``(B, C, *out)``."""
    if divisor_override is not None:
        return np.asarray(divisor_override, dtype=dtype)
    divisor = np.ones((1, 1) + (1,) * g.ndim, dtype=dtype)
    for j, (i, o, k, s, p) in enumerate(zip(g.input_size, g.output_size, g.kernel_size, g.stride, g.padding)):
        shape = [1, 1] + [1] * g.ndim
        shape[2 + j] = o
        divisor = divisor * np.asarray(avg_pool_divisor_factors(i, o, k, s, p, count_include_pad),
                                       dtype=dtype).reshape(shape)
    return divisor


@silent_float_errors
def adaptive_avg_pool_backward(grad: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Adjoint of :func:`adaptive_avg_pool_forward`: divide by each window's size, then spread every
    window's gradient over the input elements it covers (one dimension at a time)."""
    n = len(input_shape) - 2
    out = grad
    for j in range(n):
        size, o = input_shape[2 + j], grad.shape[2 + j]
        starts, ends = _window_bounds(size, o)
        member = (np.arange(size)[None, :] >= starts[:, None]) & (np.arange(size)[None, :] < ends[:, None])
        spread = (member / (ends - starts)[:, None]).astype(grad.dtype)            # (O, I)
        out = np.moveaxis(np.tensordot(out, spread, axes=([2 + j], [0])), -1, 2 + j)
    return np.ascontiguousarray(out)


def max_unpool_backward(grad: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`max_unpool_forward`: read the gradient back at each index."""
    if grad.size == 0:
        return np.zeros(indices.shape, dtype=grad.dtype)
    flat = grad.reshape(grad.shape[:2] + (math.prod(grad.shape[2:]),))
    idx = indices.reshape(indices.shape[:2] + (math.prod(indices.shape[2:]),)).astype(np.int64, copy=False)
    return np.take_along_axis(flat, idx, axis=2).reshape(indices.shape)
