"""Floating-point operation counts per layer (the convention of ``convscope.summary``).

MACs count only multiplications by weights (convolution, transposed convolution, linear), the
figure fvcore and most papers report.  FLOPs count every arithmetic operation of inference:

- convolution / transposed / linear: ``2 * MACs`` (a multiply and an add each), plus one add per
  output element for the bias;
- batch normalization (statistics folded): 2 per element (scale and shift);
- ReLU-like activations: 1 per element (a comparison or clamp);
- max pooling: ``prod(k) - 1`` comparisons per output element; average pooling: ``prod(k)`` (the
  additions and one division); adaptive average pooling: one add per input element and one
  division per output element; adaptive max pooling: one comparison per input element;
- resizing: nearest 0 (a copy); linear/bilinear/trilinear ``2^n`` products and ``2^n - 1`` sums per
  output element; bicubic ``4^n`` products and ``4^n - 1`` sums; area as adaptive average pooling;
- data movement (max unpooling, pixel shuffle/unshuffle, flatten, dropout at inference): 0.
"""
from __future__ import annotations

import math
from typing import Sequence

__all__ = ["conv_flops", "elementwise_flops", "pool_flops", "adaptive_pool_flops", "resize_flops"]


def conv_flops(macs: int, output_elements: int, bias: bool) -> int:
    """``2 * MACs + (output elements if bias)``.

    >>> conv_flops(100, 10, True)
    210
    """
    return 2 * macs + (output_elements if bias else 0)


def elementwise_flops(elements: int, per_element: int = 1) -> int:
    return elements * per_element


def pool_flops(kind: str, kernel_size: Sequence[int], output_elements: int) -> int:
    """Max pooling ``(prod(k) - 1)`` comparisons, average pooling ``prod(k)`` operations, per output."""
    window = math.prod(kernel_size)
    return output_elements * (window - 1 if kind == "max" else window)


def adaptive_pool_flops(kind: str, input_elements: int, output_elements: int) -> int:
    return input_elements + (output_elements if kind == "avg" else 0)


def resize_flops(mode: str, spatial_dims: int, output_elements: int, input_elements: int = 0) -> int:
    """Operations of one ``interpolate`` call (see the module docstring)."""
    if mode in ("nearest", "nearest-exact"):
        return 0
    if mode == "area":
        return adaptive_pool_flops("avg", input_elements, output_elements)
    taps = (4 if mode == "bicubic" else 2) ** spatial_dims
    return output_elements * (2 * taps - 1)
