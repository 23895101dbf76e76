"""Arithmetic of the non-spatial layers: fully connected and normalization."""
from __future__ import annotations

import math
from typing import Sequence

__all__ = ["linear_param_count", "linear_macs", "batch_norm_param_count"]


def linear_param_count(in_features: int, out_features: int, bias: bool = True) -> int:
    """``out * in + (out if bias)``.

    >>> linear_param_count(400, 120)
    48120
    """
    return out_features * in_features + (out_features if bias else 0)


def linear_macs(input_shape: Sequence[int], out_features: int) -> int:
    """Multiply-accumulates of ``(*, in) -> (*, out)``: ``prod(*) * in * out`` (bias excluded).

    >>> linear_macs((8, 400), 120)
    384000
    """
    return math.prod(input_shape[:-1]) * input_shape[-1] * out_features


def batch_norm_param_count(num_features: int, affine: bool = True) -> int:
    """Learnable parameters of batch normalization: ``2 * C`` (scale and shift) when affine; the
    running statistics are buffers, not parameters."""
    return 2 * num_features if affine else 0
