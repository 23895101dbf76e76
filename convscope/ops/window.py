"""Sliding windows: gather (im2col) and its adjoint scatter-add (col2im), N-d, padding-free.

Every convolution-like op here reads its input through one index law.  Along one
spatial dimension, kernel tap ``t`` of output position ``o`` reads input position

    i = o*s + t*d - p_lo

and positions outside ``[0, size)`` are padding (zeros).  ``gather_windows`` copies,
for every tap, the in-bounds run of ``i`` into a column buffer laid out tap-major,
``(B, C, *kernel, *out)``, and writes zeros where a window hangs over the edge;
the input itself is never padded or copied whole.  ``scatter_windows`` is its exact
adjoint: it adds a column buffer back onto an array, dropping what falls outside.

Tap-major means one large strided copy per kernel tap (runs of the output width)
instead of ``prod(kernel)``-long runs per output position; the flattened buffer
``(B, C*prod(kernel), L)`` is exactly ``torch.nn.functional.unfold``'s layout and
what a GEMM with a ``(C_out, C_in*prod(kernel))`` weight matrix needs.

Both functions work on a chunk of output positions ``[start, start + cols_shape[0])``
along the first spatial dimension, so callers can bound the buffer's memory.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._arrays import silent_float_errors

__all__ = ["tap_range", "tap_boxes", "gather_windows", "scatter_windows"]


def tap_range(out_start: int, out_stop: int, offset: int, stride: int, size: int) -> tuple[int, int]:
    """The output positions ``o`` in ``[out_start, out_stop)`` whose input position
    ``o*stride + offset`` lies inside ``[0, size)``, as ``(first, stop)``; empty if ``first >= stop``.
    """
    first = max(out_start, -(offset // stride))           # ceil(-offset / stride)
    stop = min(out_stop, (size - 1 - offset) // stride + 1)
    return first, stop


def tap_boxes(tap, out_shape, start0, in_size, stride, dilation, pad_lo):
    """Destination (column) and source (array) slices of one tap, or None if it reads only padding."""
    dst, src = [], []
    for j, (t, o, i, s, d, p) in enumerate(zip(tap, out_shape, in_size, stride, dilation, pad_lo)):
        lo = start0 if j == 0 else 0
        offset = t * d - p
        first, stop = tap_range(lo, lo + o, offset, s, i)
        if first >= stop:
            return None
        dst.append(slice(first - lo, stop - lo))
        src.append(slice(first * s + offset, (stop - 1) * s + offset + 1, s))
    return dst, src


def gather_windows(x: np.ndarray, cols: np.ndarray, kernel_size: Sequence[int], stride: Sequence[int],
                   dilation: Sequence[int], pad_lo: Sequence[int], start0: int = 0) -> np.ndarray:
    """Fill ``cols`` with the sliding windows of ``x`` (im2col).

    Shapes: ``x`` is ``(B, C, *in)``; ``cols`` is ``(B, C, *kernel, *out_chunk)`` where
    ``out_chunk`` covers output positions ``[start0, start0 + out_chunk[0])`` of the first
    spatial dimension and all positions of the others.  Afterwards
    ``cols[b, c, *t, *o] = x[b, c, *(o*s + t*d - p_lo)]``, or 0 where that is outside ``x``.
    """
    n = len(kernel_size)
    in_size = x.shape[2:]
    out_shape = cols.shape[2 + n:]
    for tap in np.ndindex(*kernel_size):
        target = cols[(slice(None), slice(None)) + tap]          # (B, C, *out_chunk)
        boxes = tap_boxes(tap, out_shape, start0, in_size, stride, dilation, pad_lo)
        if boxes is None:
            target[...] = 0
            continue
        dst, src = boxes
        for j, box in enumerate(dst):
            lead = (slice(None),) * (2 + j)
            if box.start > 0:
                target[lead + (slice(0, box.start),)] = 0
            if box.stop < out_shape[j]:
                target[lead + (slice(box.stop, None),)] = 0
        target[(slice(None), slice(None), *dst)] = x[(slice(None), slice(None), *src)]
    return cols


@silent_float_errors
def scatter_windows(cols: np.ndarray, y: np.ndarray, kernel_size: Sequence[int], stride: Sequence[int],
                    dilation: Sequence[int], pad_lo: Sequence[int], start0: int = 0) -> np.ndarray:
    """Add the windows in ``cols`` back onto ``y`` (col2im), the adjoint of :func:`gather_windows`.

    Shapes as in :func:`gather_windows` with ``y`` in the role of ``x``:
    ``y[b, c, *(o*s + t*d - p_lo)] += cols[b, c, *t, *o]`` wherever that index is inside ``y``.
    """
    n = len(kernel_size)
    y_size = y.shape[2:]
    out_shape = cols.shape[2 + n:]
    for tap in np.ndindex(*kernel_size):
        boxes = tap_boxes(tap, out_shape, start0, y_size, stride, dilation, pad_lo)
        if boxes is None:
            continue
        dst, src = boxes
        y[(slice(None), slice(None), *src)] += cols[(slice(None), slice(None)) + tap + tuple(dst)]
    return y
