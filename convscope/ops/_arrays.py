"""Array helpers shared by the ops: argument checks (float dtype, matching dtypes), view-only reshapes,
row copies, per-channel operands and reused work buffers."""
from __future__ import annotations

import functools
import math
import threading

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def silent_float_errors(op):
    """Run ``op`` without NumPy's floating-point warnings.  PyTorch's kernels let NaN and inf
    propagate silently (``inf - inf`` inside a window is NaN, not a ``RuntimeWarning``), and the
    ops' wide-grid positions that are computed and then dropped must not warn either."""
    @functools.wraps(op)
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return op(*args, **kwargs)
    return quiet


def as_array(value, name: str, op: str, allow_int: bool = False) -> np.ndarray:
    """Like :func:`as_float_array`; with ``allow_int`` integer arrays pass too (comparison and
    data-movement ops such as max pooling work on any ordered numbers)."""
    if allow_int:
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        if array.dtype.kind in "iu":
            return array
    return as_float_array(value, name, op)


def as_float_array(value, name: str, op: str) -> np.ndarray:
    """Return ``value`` as a float32/float64 ndarray, or raise a ``TypeError`` naming ``name``.

    Anything with ``__array__`` (NumPy arrays, array-likes, torch CPU tensors) is
    accepted; integer, boolean, complex and half-precision arrays are not, since the
    ops compute and return in the input's own dtype.
    """
    if isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        array = np.asarray(value)
    else:
        raise TypeError(f"{op}: {name} must be a NumPy array, got {type(value).__name__}")
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must have dtype float32 or float64, got {array.dtype}")
    return array


def same_dtype(op: str, reference: np.ndarray, reference_name: str, **others: np.ndarray | None) -> None:
    """Raise ``TypeError`` unless every array in ``others`` has ``reference``'s dtype (PyTorch
    does not promote between input, weight and bias)."""
    for name, array in others.items():
        if array is not None and array.dtype != reference.dtype:
            raise TypeError(f"{op}: {reference_name} has dtype {reference.dtype} but {name} has dtype "
                            f"{array.dtype}; they must match")


#: The largest operand :func:`per_channel` repeats over one sample (it stays in the caches).
PER_CHANNEL_SAMPLE_BYTES = 2**20


def per_channel(ufunc: np.ufunc, x: np.ndarray, values, out: np.ndarray | None = None) -> np.ndarray:
    """``ufunc(x, v, out=out)`` with ``v[c]`` = ``values[c]`` over channel ``c`` of ``x (N, C, *)``.

    The same elements as broadcasting ``values.reshape(1, C, 1, ...)``, faster: NumPy restarts its
    inner loop for every plane against a broadcast scalar, at 1.7x the time of two arrays of one layout
    (0.36 against 0.21 ms on 128x16x28x28 float32).  So the values are first repeated over one
    sample's planes (where that is at most ``PER_CHANNEL_SAMPLE_BYTES``), and only the batch
    dimension broadcasts."""
    values = np.asarray(values)
    v = values.reshape((1, -1) + (1,) * (x.ndim - 2))
    sample = x.shape[1:]
    if x.ndim > 2 and x.shape[0] > 1 and math.prod(sample[1:]) > 1 and \
            math.prod(sample) * values.itemsize <= PER_CHANNEL_SAMPLE_BYTES:
        v = np.ascontiguousarray(np.broadcast_to(v, (1,) + sample))
    return ufunc(x, v, out=out)


def view_as(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Reshape without copying; an ``out=`` target must alias the array it came from."""
    view = array.reshape(shape)
    if view.size and not np.may_share_memory(view, array):
        raise AssertionError(f"internal error: reshape of {array.shape} to {shape} needs a copy")
    return view


def copy_rows(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src`` (same shape and dtype), each last-axis row moved as one opaque element where
    that axis is contiguous in both but the rows are not one run in both: NumPy's float copy restarts
    its inner loop for every short row (a crop of a wider grid into the output), a copy of ``void``
    rows does not (128x28 rows of 28 floats: 0.021 ms against 0.008; rows of 7: 0.022 against
    0.011).  Rows that follow each other in both arrays are left to NumPy, which joins them."""
    width, item = dst.shape[-1] if dst.ndim else 0, dst.itemsize
    joined = dst.ndim > 1 and dst.strides[-2] == width * item and src.strides[-2] == width * item
    if (width > 1 and not joined and src.dtype == dst.dtype and src.shape == dst.shape
            and dst.strides[-1] == item and src.strides[-1] == item):
        row = np.dtype((np.void, width * item))
        np.copyto(dst.view(row)[..., 0], src.view(row)[..., 0])
    else:
        np.copyto(dst, src)


_scratch = threading.local()


def scratch(size: int, dtype: np.dtype, slot: int = 0) -> np.ndarray:
    """A flat work buffer of at least ``size`` elements, reused across calls in this thread.

    Freshly mapped memory is slow to write the first time (page faults), so the ops'
    column buffers are reused instead.  Each ``slot`` is a separate buffer that only grows,
    up to the largest chunk requested (bounded by the ops' chunk budget).  Never return
    one to a caller, and never hold two views of the same slot.
    """
    dtype = np.dtype(dtype)
    nbytes = size * dtype.itemsize
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    raw = buffers.get(slot)
    if raw is None or raw.nbytes < nbytes:
        raw = buffers[slot] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return raw[:nbytes].view(dtype)
