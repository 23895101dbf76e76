"""Parameter initialization (``torch.nn.init``), in place on a :class:`Parameter` or array."""
from __future__ import annotations

import math

import numpy as np

from ..random import default_generator

__all__ = ["calculate_fan_in_and_fan_out", "calculate_gain", "uniform_", "zeros_", "ones_",
           "kaiming_uniform_"]


def _array(target) -> np.ndarray:
    return target.data if hasattr(target, "data") and isinstance(target.data, np.ndarray) else target


def calculate_fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """``fan_in = shape[1] * prod(shape[2:])``, ``fan_out = shape[0] * prod(shape[2:])``, as PyTorch.

    For a convolution weight ``(out, in/groups, *k)`` that is ``fan_in = in/groups * prod(k)``; for a
    transposed one ``(in, out/groups, *k)`` it is ``out/groups * prod(k)``.
    """
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need at least 2 dimensions, got shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                        "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(target, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None):
    """Fill with U(a, b) in place."""
    array = _array(target)
    rng = generator or default_generator()
    array[...] = rng.uniform(a, b, size=array.shape)
    return target


def zeros_(target):
    _array(target)[...] = 0
    return target


def ones_(target):
    _array(target)[...] = 1
    return target


def kaiming_uniform_(target, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None):
    """He initialization: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``.

    With PyTorch's convolution default ``a = sqrt(5)`` the gain is ``sqrt(1/3)`` and the
    bound is ``1 / sqrt(fan_in)``.
    """
    array = _array(target)
    fan_in, fan_out = calculate_fan_in_and_fan_out(array.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        return target
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(target, -bound, bound, generator)
