"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (``torch.nn``).

One ``_ConvNd`` base owns validation, both weight layouts, initialization and the repr;
the 1d/2d/3d classes only fix the number of spatial dimensions.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..arith.conv import conv_transpose_output_padding
from ..arith.normalize import normalize_padding, ntuple
from . import init
from .module import Module, Parameter, UninitializedParameter, _resolve_dtype

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _padding_attribute(padding, n: int, allow_strings: bool, name: str):
    """What ``.padding`` shows: the string, ``n`` ints (symmetric) or ``n`` (low, high) pairs."""
    if isinstance(padding, str):
        if not allow_strings:
            raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
        if padding not in ("same", "valid"):
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of ('same', 'valid')")
        return padding
    pairs = normalize_padding(padding, n, allow_strings=False, op=name)
    if all(lo == hi for lo, hi in pairs):
        return tuple(lo for lo, _ in pairs)
    return pairs


class _ConvNd(Module):
    _n: int = 0
    _transposed: bool = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", output_padding=0,
                 device=None, dtype=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._n
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name}: {arg} must be an int, got {value!r}")
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got groups={groups}")
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"{name}: in_channels and out_channels must be positive, got "
                             f"{in_channels} and {out_channels}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups, got in_channels={in_channels}, "
                             f"groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups, got out_channels={out_channels}, "
                             f"groups={groups}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got padding_mode={padding_mode!r}')
        if device not in (None, "cpu"):
            raise ValueError(f"{name}: only device='cpu' is available, got device={device!r}")

        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.stride = ntuple(stride, n, "stride", name)
        self.dilation = ntuple(dilation, n, "dilation", name)
        for arg in ("kernel_size", "stride", "dilation"):
            if any(v <= 0 for v in getattr(self, arg)):
                raise ValueError(f"{name}: {arg} must be positive, got {arg}={getattr(self, arg)}")
        self.padding = _padding_attribute(padding, n, not self._transposed, name)
        if self.padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                             f"(got stride={self.stride})")
        self.output_padding = ntuple(output_padding, n, "output_padding", name)
        self.transposed = self._transposed
        self.groups = int(groups)
        self.padding_mode = padding_mode

        dtype = _resolve_dtype(dtype)
        if self._transposed:
            shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)),
        bias ~ U(+-1/sqrt(fan_in)), with ``fan_in`` from the weight's dim 1 and kernel."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight.shape)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _padding_pairs(self):
        return normalize_padding(self.padding, self._n, kernel_size=self.kernel_size, dilation=self.dilation,
                                 stride=self.stride, allow_strings=not self._transposed)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str) or any(
                v != 0 for p in self.padding for v in (p if isinstance(p, tuple) else (p,))):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        """``(N, C_in, *in)`` or ``(C_in, *in)`` -> ``(N, C_out, *out)`` or ``(C_out, *out)``."""
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._n - 1]
        weight, bias = self._p(self.weight, input), self._p(self.bias, input)
        if self.padding_mode == "zeros":
            return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)
        # Non-zero modes pad explicitly, then convolve unpadded (PyTorch's order, last dim first).
        flat = tuple(v for lo_hi in reversed(self._padding_pairs()) for v in lo_hi)
        padded = F.pad(input, flat, mode=self.padding_mode)
        return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, input_shape: tuple[int, ...], output_size) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = tuple(output_size)
        non_spatial = 2 if len(input_shape) == n + 2 else 1
        if len(output_size) == n + non_spatial:
            output_size = output_size[non_spatial:]
        if len(output_size) != n:
            raise ValueError(f"{type(self).__name__}: output_size must have {n} or {n + non_spatial} elements "
                             f"(got {len(output_size)})")
        return conv_transpose_output_padding(input_shape[-n:], output_size, self.kernel_size, self.stride,
                                             self._padding_pairs(), self.dilation, op=type(self).__name__)

    def forward(self, input, output_size=None):
        """``(N, C_in, *in)`` -> ``(N, C_out, *out)``; ``output_size`` picks among the ``stride``
        possible output sizes (it sets ``output_padding``)."""
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._n - 1]
        output_padding = self._output_padding(np.shape(input), output_size)
        return conv(input, self._p(self.weight, input), self._p(self.bias, input), self.stride, self.padding,
                    output_padding, self.groups, self.dilation)


class Conv1d(_Conv):
    """1-d convolution layer: ``(N, C_in, L) -> (N, C_out, L_out)``; weight ``(C_out, C_in/groups, k)``.

    ``L_out = floor((L + p_lo + p_hi - d*(k-1) - 1)/s) + 1``
    """
    _n = 1


class Conv2d(_Conv):
    """2-d convolution layer: ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``; weight ``(C_out, C_in/groups, kH, kW)``.

    >>> Conv2d(3, 16, 5, stride=2, padding=2)(np.zeros((1, 3, 32, 32), np.float32)).shape
    (1, 16, 16, 16)
    """
    _n = 2


class Conv3d(_Conv):
    """3-d convolution layer: ``(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)``."""
    _n = 3


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution layer; weight ``(C_in, C_out/groups, k)``.

    ``L_out = (L-1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1``
    """
    _n = 1


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution layer; weight ``(C_in, C_out/groups, kH, kW)``.

    >>> ConvTranspose2d(128, 64, 4, stride=2, padding=1)(np.zeros((1, 128, 28, 28), np.float32)).shape
    (1, 64, 56, 56)
    """
    _n = 2


class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution layer; weight ``(C_in, C_out/groups, kD, kH, kW)``."""
    _n = 3


class _LazyConvMixin:
    """``in_channels`` inferred from the first input (``torch.nn.LazyConv2d`` and kin).

    Until then ``in_channels`` is 0 and ``weight`` and ``bias`` are :class:`UninitializedParameter`
    objects (registered, so ``parameters()``, an optimizer and ``state_dict()`` already see them);
    no random numbers are drawn.  The first call (or ``load_state_dict``) sets ``in_channels``,
    materializes those same objects, initializes them as the eager layer would, and turns the module
    into that layer (``cls_to_become``), as PyTorch does.
    """
    cls_to_become: type = Module

    def _lazy_init(self, out_channels, kernel_size, bias: bool, dtype, **kwargs) -> None:
        # out_channels stands in for in_channels while the rest is validated (groups divides it)
        super().__init__(out_channels, out_channels, kernel_size, bias=bias, dtype=dtype, **kwargs)
        self.in_channels = 0
        self.weight = UninitializedParameter(dtype=self.weight.dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=self.bias.dtype)

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def reset_parameters(self) -> None:
        """Nothing to initialize yet (the eager layer's own runs once the shapes are known)."""

    def initialize_parameters(self, input) -> None:
        name, n = type(self).__name__, self._n
        shape = tuple(getattr(input, "shape", np.shape(input)))
        if len(shape) not in (n + 1, n + 2):
            raise ValueError(f"{name}: expected {n + 1}D (unbatched) or {n + 2}D (batched) input, got input of "
                             f"shape {shape}")
        self._materialize(shape[1] if len(shape) == n + 2 else shape[0], "the input")

    def materialize_from_weight(self, weight_shape: tuple[int, ...]) -> None:
        """Materialize the parameters for a loaded weight of ``weight_shape`` (``load_state_dict`` on
        a layer that has not been called yet)."""
        weight_shape = tuple(weight_shape)
        if len(weight_shape) != self._n + 2:
            raise ValueError(f"{type(self).__name__}: a loaded weight of shape {weight_shape} does not fit a "
                             f"{self._n}-d convolution's weight")
        in_channels = weight_shape[0] if self._transposed else weight_shape[1] * self.groups
        self._materialize(in_channels, f"the loaded weight of shape {weight_shape}")

    def _materialize(self, in_channels: int, source: str) -> None:
        name = type(self).__name__
        if in_channels <= 0 or in_channels % self.groups:
            raise ValueError(f"{name}: in_channels inferred from {source} ({in_channels}) must be positive and "
                             f"divisible by groups={self.groups}")
        self.in_channels = int(in_channels)
        groups = self.groups
        if self._transposed:
            weight_shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        else:
            weight_shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        self.weight.materialize(weight_shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.__class__ = self.cls_to_become
        self.reset_parameters()

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(args[0] if args else kwargs["input"])
        return Module.__call__(self, *args, **kwargs)


class _LazyConv(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None) -> None:
        self._lazy_init(out_channels, kernel_size, bias, dtype, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, padding_mode=padding_mode, device=device)


class _LazyConvTranspose(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None) -> None:
        self._lazy_init(out_channels, kernel_size, bias, dtype, stride=stride, padding=padding,
                        output_padding=output_padding, groups=groups, dilation=dilation, padding_mode=padding_mode,
                        device=device)


class LazyConv1d(_LazyConv, Conv1d):
    """:class:`Conv1d` whose ``in_channels`` comes from the first input: ``LazyConv1d(out_channels,
    kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')``."""
    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """:class:`Conv2d` whose ``in_channels`` comes from the first input.

    >>> layer = LazyConv2d(16, 3)
    >>> layer(np.zeros((1, 3, 8, 8), np.float32)).shape, type(layer).__name__, layer.weight.shape
    ((1, 16, 6, 6), 'Conv2d', (16, 3, 3, 3))
    """
    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """:class:`Conv3d` whose ``in_channels`` comes from the first input."""
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """:class:`ConvTranspose1d` whose ``in_channels`` comes from the first input:
    ``LazyConvTranspose1d(out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1, padding_mode='zeros')``."""
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """:class:`ConvTranspose2d` whose ``in_channels`` comes from the first input."""
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """:class:`ConvTranspose3d` whose ``in_channels`` comes from the first input."""
    cls_to_become = ConvTranspose3d
