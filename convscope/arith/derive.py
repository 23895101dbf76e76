"""Formula derivations with the numbers filled in (for ``convscope explain`` and the web page).

Each function returns the lines of a derivation whose last value is computed by the same
formula functions the ops use, so the text can never disagree with the result.
"""
from __future__ import annotations

from .conv import conv_output_size, conv_param_count, conv_transpose_output_size
from .pool import interpolate_output_shape, pool_output_size

__all__ = ["conv_size_derivation", "conv_transpose_size_derivation", "pool_size_derivation",
           "interpolate_size_derivation", "param_derivation", "parameter_comparison"]


def conv_size_derivation(i: int, k: int, s: int, p_lo: int, p_hi: int, d: int) -> str:
    """``o = floor((i + p_lo + p_hi - d*(k-1) - 1) / s) + 1`` with the numbers.

    >>> conv_size_derivation(5, 3, 2, 1, 1, 1)
    'o = floor((i + p_lo + p_hi - d*(k-1) - 1) / s) + 1 = floor((5 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = floor(4 / 2) + 1 = 3'
    """
    numerator = i + p_lo + p_hi - d * (k - 1) - 1
    o = conv_output_size(i, k, s, (p_lo, p_hi), d)
    return (f"o = floor((i + p_lo + p_hi - d*(k-1) - 1) / s) + 1 = floor(({i} + {p_lo} + {p_hi} - {d}*({k}-1) - 1) / "
            f"{s}) + 1 = floor({numerator} / {s}) + 1 = {o}")


def conv_transpose_size_derivation(i: int, k: int, s: int, p_lo: int, p_hi: int, d: int, output_padding: int) -> str:
    """``o = (i-1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1`` with the numbers.

    >>> conv_transpose_size_derivation(2, 3, 2, 1, 1, 1, 1)
    'o = (i-1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1 = (2-1)*2 - 1 - 1 + 1*(3-1) + 1 + 1 = 4'
    """
    o = conv_transpose_output_size(i, k, s, (p_lo, p_hi), output_padding, d)
    return (f"o = (i-1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1 = ({i}-1)*{s} - {p_lo} - {p_hi} + "
            f"{d}*({k}-1) + {output_padding} + 1 = {o}")


def pool_size_derivation(i: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> str:
    """Pooling's output size with the numbers, including ceil_mode's rule."""
    rounding = "ceil" if ceil_mode else "floor"
    numerator = i + 2 * p - d * (k - 1) - 1
    raw = (numerator + (s - 1 if ceil_mode else 0)) // s + 1
    o = pool_output_size(i, k, s, p, d, ceil_mode)
    text = (f"o = {rounding}((i + 2p - d*(k-1) - 1) / s) + 1 = {rounding}(({i} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1"
            f" = {rounding}({numerator} / {s}) + 1 = {raw}")
    if raw != o:
        text += (f"; the last window would start at (o-1)*s = {(raw - 1) * s} >= i + p = {i + p} in padded "
                 f"coordinates (inside the right padding), so it is dropped: o = {o}")
    return text


def interpolate_size_derivation(i: int, scale_factor: float | None = None, size: int | None = None) -> str:
    """``o = floor(i * scale_factor)``, or the given size.

    >>> interpolate_size_derivation(5, 1.5)
    'o = floor(i * scale_factor) = floor(5 * 1.5) = 7'
    """
    if scale_factor is None:
        return f"o = size = {size}"
    o = interpolate_output_shape((i,), scale_factor=scale_factor)[0]
    return f"o = floor(i * scale_factor) = floor({i} * {scale_factor:g}) = {o}"


def param_derivation(c_in: int, c_out: int, kernel: tuple[int, ...], groups: int, bias: bool,
                     transposed: bool = False) -> str:
    """The parameter count with its formula.

    >>> param_derivation(3, 16, (5, 5), 1, True)
    'params = C_out * (C_in/groups) * prod(k) + C_out = 16 * (3/1) * 25 + 16 = 1216'
    """
    prod_k = 1
    for v in kernel:
        prod_k *= v
    total = conv_param_count(c_in, c_out, kernel, groups, bias)
    weight = ("C_in * (C_out/groups) * prod(k)" if transposed else "C_out * (C_in/groups) * prod(k)")
    numbers = (f"{c_in} * ({c_out}/{groups}) * {prod_k}" if transposed else f"{c_out} * ({c_in}/{groups}) * {prod_k}")
    if bias:
        return f"params = {weight} + C_out = {numbers} + {c_out} = {total}"
    return f"params = {weight} = {numbers} = {total}"


def parameter_comparison(c_in: int, c_out: int, kernel: tuple[int, ...], bias: bool = False,
                         groups: int | None = None) -> list[tuple[str, int]]:
    """Weights of a standard, a grouped (``groups``, or by default the largest group count up to 8
    dividing both), a depthwise-separable (depthwise ``k`` + pointwise 1x1) and a pointwise
    convolution for the same channels.

    >>> parameter_comparison(64, 128, (3, 3))
    [('standard', 73728), ('grouped (groups=8)', 9216), ('depthwise-separable', 8768), ('pointwise 1x1', 8192)]
    """
    ones = (1,) * len(kernel)
    if groups is None:
        groups = max((g for g in range(2, min(c_in, 8) + 1) if c_in % g == 0 and c_out % g == 0), default=1)
    rows = [("standard", conv_param_count(c_in, c_out, kernel, 1, bias))]
    if groups > 1:
        rows.append((f"grouped (groups={groups})", conv_param_count(c_in, c_out, kernel, groups, bias)))
    rows.append(("depthwise-separable", conv_param_count(c_in, c_in, kernel, c_in, bias)
                 + conv_param_count(c_in, c_out, ones, 1, bias)))
    rows.append(("pointwise 1x1", conv_param_count(c_in, c_out, ones, 1, bias)))
    return rows
