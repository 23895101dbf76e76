"""Model summary: per-layer output shapes, parameters and multiply-accumulates (torchinfo-style).

Runs one forward pass of zeros through the model with forward hooks on its leaf modules and
reads every count from ``convscope.arith`` (the formulas the ops use).
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from . import arith
from .arith.receptive import resize_source_step, rf_union
from .nn.module import Module

__all__ = ["LayerRow", "ModelSummary", "summary", "layer_macs"]


@dataclass
class LayerRow:
    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int
    receptive_field: arith.ReceptiveField | None = None
    flops: int = 0


@dataclass
class ModelSummary:
    """One row per call of a leaf module; the parameter totals count every parameter of the model
    once (a module called twice has two rows but its weights are not counted twice)."""
    input_shape: tuple[int, ...]
    dtype: str
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        itemsize = np.dtype(self.dtype).itemsize
        return sum(math.prod(r.output_shape) * itemsize for r in self.rows)

    def to_dict(self) -> dict:
        """``{"layers": [{name, type, output_shape, params, trainable_params, macs, receptive_field:
        {size, jump, start}}], "total": {params, trainable_params, macs, activation_bytes}}``."""
        layers = []
        for r in self.rows:
            row = {k: v for k, v in asdict(r).items() if k != "receptive_field"}
            row["output_shape"] = list(r.output_shape)
            row["receptive_field"] = None if r.receptive_field is None else r.receptive_field.to_dict()
            layers.append(row)
        return {"input_shape": list(self.input_shape), "dtype": self.dtype, "layers": layers,
                "total": {"params": self.total_params, "trainable_params": self.trainable_params,
                          "macs": self.total_macs, "flops": self.total_flops,
                          "activation_bytes": self.activation_bytes, "param_bytes": self.param_bytes}}

    def __str__(self) -> str:
        header = f"{'layer':<28}{'type':<20}{'output shape':<22}{'params':>10}{'MACs':>16}  receptive field"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            field = "" if r.receptive_field is None else "x".join(
                str(v) for v in r.receptive_field.to_dict()["size"])
            lines.append(f"{r.name:<28}{r.type:<20}{str(tuple(r.output_shape)):<22}{r.params:>10,}{r.macs:>16,}"
                         f"  {field}")
        lines.append("-" * len(header))
        lines.append(f"input {tuple(self.input_shape)} {self.dtype}; total params {self.total_params:,} "
                     f"(trainable {self.trainable_params:,}, {self.param_bytes / 2**20:.2f} MiB); MACs "
                     f"{self.total_macs:,}; FLOPs {self.total_flops:,}; activations "
                     f"{self.activation_bytes / 2**20:.2f} MiB")
        return "\n".join(lines)


def layer_macs(module: Module, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one leaf module for the given input/output shapes (0 for layers
    without multiplications by weights)."""
    from .nn.conv import _ConvNd
    from .nn.layers import Linear
    if isinstance(module, _ConvNd):
        n = len(module.kernel_size)
        batch = input_shape[0] if len(input_shape) == n + 2 else 1
        if module.transposed:
            return arith.conv_transpose_macs(module.in_channels, module.out_channels, module.kernel_size,
                                             input_shape[-n:], module.groups, batch)
        return arith.conv_macs(module.in_channels, module.out_channels, module.kernel_size, output_shape[-n:],
                               module.groups, batch)
    if isinstance(module, Linear):
        return arith.linear_macs(input_shape, module.out_features)
    return 0


def layer_flops(module: Module, input_shape: tuple[int, ...], output_shape: tuple[int, ...], macs: int) -> int:
    """FLOPs of one leaf module, by the convention of :mod:`convscope.arith.flops`."""
    from .nn import layers as L
    from .nn import pooling as P
    from .nn.conv import _ConvNd
    out_elements, in_elements = math.prod(output_shape), math.prod(input_shape)
    if isinstance(module, (_ConvNd, L.Linear)):
        return arith.conv_flops(macs, out_elements, module.bias is not None)
    if isinstance(module, L._BatchNorm):
        return arith.elementwise_flops(out_elements, 2)
    if isinstance(module, (L._Activation, L.LeakyReLU)):
        return arith.elementwise_flops(out_elements, 1)
    if isinstance(module, (P._MaxPoolNd, P._AvgPoolNd, P.AvgPool1d)):
        n = len(output_shape) - 2 if len(output_shape) > 2 else 1
        kind = "max" if isinstance(module, P._MaxPoolNd) else "avg"
        return arith.pool_flops(kind, arith.ntuple(module.kernel_size, n, "kernel_size"), out_elements)
    if isinstance(module, P._AdaptivePool):
        return arith.adaptive_pool_flops(module._kind, in_elements, out_elements)
    if isinstance(module, P.Upsample):
        return arith.resize_flops(module.mode, len(output_shape) - 2, out_elements, in_elements)
    return 0


def layer_receptive_field(module: Module, rf: arith.ReceptiveField, input_shape: tuple[int, ...],
                          output_shape: tuple[int, ...], extent: tuple[int, ...]) -> arith.ReceptiveField:
    """The receptive field after ``module``, from the field of its input (see :mod:`convscope.arith.receptive`)."""
    from .nn import layers as L
    from .nn import pooling as P
    from .nn.conv import _ConvNd
    from .nn.padding import _PadNd
    n = len(extent)
    if len(output_shape) < n + 1 or isinstance(module, (L.Flatten, L.Linear)):
        return arith.rf_global(extent)
    sizes = list(zip(input_shape[-n:], output_shape[-n:]))
    if isinstance(module, _ConvNd):
        pad_lo = tuple(p[0] for p in module._padding_pairs())
        rule = arith.rf_conv_transpose if module.transposed else arith.rf_conv
        return rule(rf, module.kernel_size, module.stride, pad_lo, module.dilation)
    if isinstance(module, (P._MaxPoolNd, P._AvgPoolNd, P.AvgPool1d, P._LPPoolNd)):
        kernel = arith.ntuple(module.kernel_size, n, "kernel_size")
        stride = kernel if module.stride is None else arith.ntuple(module.stride, n, "stride")
        padding = arith.ntuple(getattr(module, "padding", 0), n, "padding")
        dilation = arith.ntuple(getattr(module, "dilation", 1), n, "dilation")
        return arith.rf_conv(rf, kernel, stride, padding, dilation)
    if isinstance(module, P._FractionalMaxPoolNd):
        # windows of k at pseudo-random steps of floor or ceil((i - k) / (o - 1)): the ceil gives
        # the largest field any output can have
        steps = tuple(-(-(i - k) // (o - 1)) if o > 1 else 1 for (i, o), k in zip(sizes, module.kernel_size))
        return arith.rf_conv(rf, module.kernel_size, steps, (0,) * n, (1,) * n)
    if isinstance(module, _PadNd):
        # padding moves the field's start (F.pad's tuple runs from the last dimension backwards)
        pairs = list(zip(module.padding[0::2], module.padding[1::2]))[::-1]
        pad_lo = tuple([0] * (n - len(pairs)) + [lo for lo, _ in pairs])[-n:]
        return arith.rf_conv(rf, (1,) * n, (1,) * n, pad_lo, (1,) * n)
    if isinstance(module, P._AdaptivePool):
        if all(o == 1 for _, o in sizes):
            return arith.rf_global(extent)
        return arith.rf_resize(rf, [resize_source_step(i, o, mode="area") for i, o in sizes], "area")
    if isinstance(module, P.Upsample):
        factors = module.scale_factor if isinstance(module.scale_factor, tuple) else (module.scale_factor,) * n
        if module.recompute_scale_factor:
            factors = (None,) * n
        corners = bool(module.align_corners)
        steps = [resize_source_step(i, o, corners, f, module.mode) for (i, o), f in zip(sizes, factors)]
        return arith.rf_resize(rf, steps, module.mode, corners)
    if isinstance(module, (P._MaxUnpoolNd, P.PixelShuffle, P.PixelUnshuffle)):
        # each output reads one input element: a nearest-style resize by the size ratio
        return arith.rf_resize(rf, [resize_source_step(i, o) for i, o in sizes], "nearest")
    return rf


def spatial_extent(model: Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The spatial sizes of ``input_shape``: the last ``n`` entries, ``n`` from the first module
    whose dimensionality is known (a ``Conv2d`` or ``MaxPool2d``: 2), so an unbatched ``(C, H, W)``
    input has the same spatial dimensions as a batched ``(N, C, H, W)`` one; everything after the
    first two entries when no module tells.

    >>> from convscope import nn
    >>> spatial_extent(nn.Conv2d(3, 8, 3), (3, 32, 32)), spatial_extent(nn.Conv2d(3, 8, 3), (1, 3, 32, 32))
    ((32, 32), (32, 32))
    """
    from .nn import layers as L
    from .nn.conv import _ConvNd
    for module in model.modules():
        if isinstance(module, _ConvNd):
            n = len(module.kernel_size)
        elif isinstance(module, L._BatchNorm):  # BatchNorm1d takes (N, C) and (N, C, L) alike
            continue
        else:
            match = re.search(r"([123])d$", type(module).__name__)
            if match is None:
                continue
            n = int(match.group(1))
        if len(input_shape) in (n + 1, n + 2):
            return tuple(input_shape[-n:])
        break
    return tuple(input_shape[2:])


# -- following fields through the code between layers

class _Traced(np.ndarray):
    """An array that carries the receptive field of its values through the code between layers
    (``out + identity``, ``np.concatenate``, slicing): a result takes the union of its operands'
    fields (:func:`convscope.arith.receptive.rf_union`), a view its parent's field.  Layers never
    see it: the summary's pre-hook hands them plain arrays."""
    _rf = None

    def __array_finalize__(self, obj):
        self._rf = getattr(obj, "_rf", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fields = _fields_in((inputs, kwargs))
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        return _traced(getattr(ufunc, method)(*_plain(inputs), **kwargs), fields)

    def __array_function__(self, func, types, args, kwargs):
        return _traced(func(*_plain(args), **_plain(kwargs)), _fields_in((args, kwargs)))


def _fields_in(obj) -> list:
    if isinstance(obj, _Traced):
        return [] if obj._rf is None else [obj._rf]
    if isinstance(obj, (list, tuple)):
        return [f for item in obj for f in _fields_in(item)]
    if isinstance(obj, dict):
        return _fields_in(list(obj.values()))
    return []


def _plain(obj):
    if isinstance(obj, _Traced):
        return obj.view(np.ndarray)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(item) for item in obj)
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    return obj


def _traced(obj, fields):
    """``obj`` (an array, or a tuple or list of them) carrying the union of ``fields``."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(_traced(item, fields) for item in obj)
    if not isinstance(obj, np.ndarray) or not fields:
        return obj
    out = obj.view(_Traced)
    try:
        out._rf = rf_union(fields)
    except ValueError:  # phases too long to follow exactly
        out._rf = None
    return out


def summary(model: Module, input_shape, dtype="float32") -> ModelSummary:
    """Summarize ``model`` for an input of ``input_shape`` (batched or not): one row per leaf
    module, in call order, with output shape, parameters, MACs and receptive field (per spatial
    dimension, in input pixels).

    Fields follow the data: each layer starts from the field of the array it was called on (the
    model's input, or an earlier layer's output).  The code between layers runs on arrays that
    carry their field, so an array made there takes the union of the fields of the arrays it was
    computed from: a residual sum ``out + identity`` has the wider of the two fields, whichever
    branch ran last (unit by unit when their jumps agree, else the widest field;
    :func:`convscope.arith.receptive.rf_union`).  An array the model makes from nothing (a constant)
    has no field, and a layer called on it starts from the most recent layer's field.

    >>> from convscope import nn
    >>> s = summary(nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU()), (1, 1, 28, 28))
    >>> s.rows[0].output_shape, s.rows[0].params, s.rows[0].macs, s.rows[0].receptive_field.size
    ((1, 6, 24, 24), 156, 86400, (5, 5))
    """
    dtype = np.dtype(dtype)
    result = ModelSummary(tuple(int(v) for v in input_shape), dtype.name)
    extent = spatial_extent(model, result.input_shape)
    names = {id(m): name for name, m in model.named_modules()}
    latest = [arith.rf_input(len(extent)) if extent else None]
    sources: dict[int, list] = {}  # module id -> fields of its pending calls' inputs
    handles = []

    def enter(module, inputs):
        field = getattr(inputs[0], "_rf", None) if inputs else None
        sources.setdefault(id(module), []).append(latest[0] if field is None else field)
        return _plain(tuple(inputs))

    def record(module, inputs, output):
        source = sources[id(module)].pop()
        out = output[0] if isinstance(output, tuple) else output
        in_shape = tuple(np.shape(inputs[0])) if inputs else ()
        params = list(module.parameters(recurse=False))
        field = None
        if source is not None:
            try:
                field = layer_receptive_field(module, source, in_shape, tuple(np.shape(out)), extent)
            except ValueError:  # phases too long to follow exactly (see arith.receptive.PERIOD_LIMIT)
                field = None
        latest[0] = field
        macs = layer_macs(module, in_shape, tuple(np.shape(out)))
        result.rows.append(LayerRow(names.get(id(module), ""), type(module).__name__, tuple(np.shape(out)),
                                    sum(p.numel() for p in params),
                                    sum(p.numel() for p in params if p.requires_grad), macs, field,
                                    layer_flops(module, in_shape, tuple(np.shape(out)), macs)))
        return _traced(output, [field] if field is not None else [])

    for module in model.modules():
        if not any(True for _ in module.children()):
            handles.append(module.register_forward_pre_hook(enter))
            handles.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        x = np.zeros(result.input_shape, dtype=dtype)
        model(_traced(x, [latest[0]] if latest[0] is not None else []))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    # after the call: a lazy layer creates its weight on its first input
    unique = list(model.parameters())
    result.total_params = sum(p.numel() for p in unique)
    result.trainable_params = sum(p.numel() for p in unique if p.requires_grad)
    result.param_bytes = sum(p.data.nbytes for p in unique)
    return result
