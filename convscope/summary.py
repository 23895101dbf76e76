"""Model summary: per-layer output shapes, parameters and multiply-accumulates (torchinfo-style).

Runs one forward pass of zeros through the model with forward hooks on its leaf modules and
reads every count from ``convscope.arith`` (the formulas the ops use).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from . import arith
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


@dataclass
class ModelSummary:
    input_shape: tuple[int, ...]
    dtype: str
    rows: list[LayerRow] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        itemsize = np.dtype(self.dtype).itemsize
        return sum(math.prod(r.output_shape) * itemsize for r in self.rows)

    def to_dict(self) -> dict:
        return {"input_shape": list(self.input_shape), "dtype": self.dtype,
                "layers": [dict(asdict(r), output_shape=list(r.output_shape)) for r in self.rows],
                "total": {"params": self.total_params, "trainable_params": self.trainable_params,
                          "macs": self.total_macs, "activation_bytes": self.activation_bytes}}

    def __str__(self) -> str:
        header = f"{'layer':<28}{'type':<20}{'output shape':<22}{'params':>10}{'MACs':>16}"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(f"{r.name:<28}{r.type:<20}{str(tuple(r.output_shape)):<22}{r.params:>10,}{r.macs:>16,}")
        lines.append("-" * len(header))
        lines.append(f"input {tuple(self.input_shape)} {self.dtype}; total params {self.total_params:,} "
                     f"(trainable {self.trainable_params:,}); MACs {self.total_macs:,}; "
                     f"activations {self.activation_bytes / 2**20:.2f} MiB")
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


def summary(model: Module, input_shape, dtype="float32") -> ModelSummary:
    """Summarize ``model`` for an input of ``input_shape``: one row per leaf module, in call order.

    >>> from convscope import nn
    >>> s = summary(nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU()), (1, 1, 28, 28))
    >>> s.rows[0].output_shape, s.rows[0].params, s.rows[0].macs
    ((1, 6, 24, 24), 156, 86400)
    """
    dtype = np.dtype(dtype)
    result = ModelSummary(tuple(int(v) for v in input_shape), dtype.name)
    names = {id(m): name for name, m in model.named_modules()}
    handles = []

    def record(module, inputs, output):
        out = output[0] if isinstance(output, tuple) else output
        in_shape = tuple(np.shape(inputs[0])) if inputs else ()
        params = list(module.parameters(recurse=False))
        result.rows.append(LayerRow(names.get(id(module), ""), type(module).__name__, tuple(np.shape(out)),
                                    sum(p.numel() for p in params),
                                    sum(p.numel() for p in params if p.requires_grad),
                                    layer_macs(module, in_shape, tuple(np.shape(out)))))

    for module in model.modules():
        if not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        model(np.zeros(result.input_shape, dtype=dtype))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return result
