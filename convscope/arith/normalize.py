"""Normalize size arguments once, at the public boundary.

Inside convscope every size argument is a length-N tuple of Python ints and every
padding is a length-N tuple of ``(low, high)`` pairs.  These helpers turn what a
user may pass (an int, a tuple, a string, pairs) into that form, or raise a
``TypeError`` / ``ValueError`` that names the operation, the argument and the value.
"""
from __future__ import annotations

import numbers
from typing import Any

__all__ = ["ntuple", "normalize_padding", "same_padding", "PaddingPairs"]

PaddingPairs = tuple[tuple[int, int], ...]


def _where(op: str | None) -> str:
    return f"{op}: " if op else ""


def _as_int(value: Any, name: str, op: str | None) -> int:
    # bool is an int subclass, but stride=True is a bug, not a size.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_where(op)}{name} must be an int or a tuple of ints, got {value!r}")
    return int(value)


def ntuple(value: Any, n: int, name: str, op: str | None = None) -> tuple[int, ...]:
    """Return ``value`` as a length-``n`` tuple of ints (PyTorch's ``_single``/``_pair``/``_triple``).

    An int is repeated ``n`` times; a sequence must have exactly ``n`` entries.

    >>> ntuple(3, 2, "kernel_size")
    (3, 3)
    >>> ntuple((1, 2, 3), 3, "stride")
    (1, 2, 3)
    """
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n != 1:
            # PyTorch accepts a one-element list for any number of dimensions.
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(
                f"{_where(op)}expected {name} to be a single integer value or a list of {n} values "
                f"to match the {n}-d operation, but got {name}={tuple(value)!r}")
        return tuple(_as_int(v, name, op) for v in value)
    return (_as_int(value, name, op),) * n


def same_padding(kernel_size: tuple[int, ...], dilation: tuple[int, ...]) -> PaddingPairs:
    """Padding pairs for ``padding='same'`` at stride 1.

    Per dimension the total is ``d*(k-1)``; the low side gets ``total // 2`` and the
    high side the rest, so an odd total puts the extra element on the right/bottom,
    as PyTorch does (``aten/src/ATen/native/Convolution.cpp``).

    >>> same_padding((4, 3), (1, 2))
    ((1, 2), (2, 2))
    """
    pairs = []
    for k, d in zip(kernel_size, dilation):
        total = d * (k - 1)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def normalize_padding(padding: Any, n: int, *, kernel_size: tuple[int, ...] | None = None,
                      dilation: tuple[int, ...] | None = None, stride: tuple[int, ...] | None = None,
                      allow_strings: bool = True, allow_negative: bool = False,
                      name: str = "padding", op: str | None = None) -> PaddingPairs:
    """Return ``padding`` as ``n`` ``(low, high)`` pairs.

    Accepted forms:

    - an int ``p`` (``p`` on both sides of every dimension);
    - a tuple of ``n`` ints (symmetric per dimension, PyTorch's form);
    - a tuple of ``n`` ``(low, high)`` pairs (asymmetric, as JAX's ``lax.conv_general_dilated``
      and ONNX's ``pads`` allow);
    - ``'valid'`` (no padding) or ``'same'`` (output size equals input size; needs stride 1
      and the kernel and dilation to compute the amounts), when ``allow_strings``.

    >>> normalize_padding(1, 2)
    ((1, 1), (1, 1))
    >>> normalize_padding(((0, 1), (2, 3)), 2)
    ((0, 1), (2, 3))
    >>> normalize_padding("same", 1, kernel_size=(4,), dilation=(1,), stride=(1,))
    ((1, 2),)
    """
    if isinstance(padding, str):
        if not allow_strings:
            raise TypeError(f"{_where(op)}{name} must be an int or a tuple, got the string {padding!r}")
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if stride is not None and any(s != 1 for s in stride):
                raise ValueError(f"{_where(op)}padding='same' is not supported for strided "
                                 f"convolutions (got stride={stride})")
            if kernel_size is None or dilation is None:
                raise ValueError(f"{_where(op)}padding='same' needs the kernel size and dilation")
            return same_padding(kernel_size, dilation)
        raise ValueError(f"{_where(op)}invalid {name} string {padding!r}: expected 'valid' or 'same'")

    if isinstance(padding, (list, tuple)) and any(isinstance(p, (list, tuple)) for p in padding):
        if len(padding) != n or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in padding):
            raise ValueError(f"{_where(op)}{name} given as (low, high) pairs must have {n} pairs of "
                             f"two ints, got {name}={_show(padding)}")
        pairs = tuple((_as_int(lo, name, op), _as_int(hi, name, op)) for lo, hi in padding)
    else:
        pairs = tuple((p, p) for p in ntuple(padding, n, name, op))

    if not allow_negative and any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"{_where(op)}negative {name} is not supported, got {name}={_show(padding)}")
    return pairs


def _show(value: Any) -> str:
    if isinstance(value, list):
        value = tuple(_show_inner(v) for v in value)
    return repr(value)


def _show_inner(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
