"""The calculator behind ``convscope shape``, ``convscope summary`` and ``convscope design``.

Each builds a ``convscope.nn`` layer (or loads a model) and reads every number from
``convscope.summary`` / ``convscope.arith``: the ops, the summary and the command line share one
set of formulas.
"""
from __future__ import annotations

import math
import runpy
from pathlib import Path

from . import arith, nn
from .summary import ModelSummary, summary

__all__ = ["parse_shape", "parse_sizes", "layer_for", "plan_layer", "check_work", "shape_report", "load_model",
           "SHAPE_OPS", "CalcError", "MAX_RUN_ELEMENTS", "MAX_RUN_MACS"]


class CalcError(ValueError):
    """A configuration the calculator cannot evaluate; the message says which argument and why."""


SHAPE_OPS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
             "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "upsample")


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` -> ``(1, 3, 224, 224)``."""
    try:
        shape = tuple(int(part) for part in str(text).lower().replace(",", "x").split("x"))
    except ValueError:
        raise CalcError(f"--input must look like 1x3x224x224, got {text!r}") from None
    if not shape or any(v < 1 for v in shape):
        raise CalcError(f"--input sizes must be positive, got {text!r}")
    return shape


def parse_sizes(value):
    """A command-line size: ``"3"`` -> 3, ``"3,5"`` or ``"3x5"`` -> (3, 5); ``same``/``valid`` kept."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in ("same", "valid"):
            return value
        parts = [int(v) for v in value.replace("x", ",").split(",") if v != ""]
        return parts[0] if len(parts) == 1 else tuple(parts)
    return value


#: The calculator, ``explain``, ``animate`` and the web API run the layer they describe once, on real
#: arrays.  These bound that work, checked from the formulas before anything is allocated: the
#: elements of the input, the weight and the output, and the multiply-accumulates.  A request beyond
#: them is refused with the numbers (never a MemoryError, or minutes of work).
MAX_RUN_ELEMENTS = 2**26
MAX_RUN_MACS = 2**34


def check_work(what: str, input_shape, output_shape, macs: int = 0, weight_elements: int = 0,
               max_elements: int = MAX_RUN_ELEMENTS, max_macs: int = MAX_RUN_MACS) -> None:
    """Raise :class:`CalcError` if running ``what`` once would exceed the limits above."""
    for name, count in (("input", math.prod(input_shape)), ("weight", weight_elements),
                        ("output", math.prod(output_shape))):
        if count > max_elements:
            raise CalcError(f"{what}: the {name} would have {count:,} elements, more than this tool runs "
                            f"({max_elements:,}); output shape {tuple(output_shape)}")
    if macs > max_macs:
        raise CalcError(f"{what}: {macs:,} multiply-accumulates (or window reads), more than this tool runs "
                        f"({max_macs:,})")


def _given(value, default):
    """``value`` unless it was not given (None): a 0 is kept, for the layer to reject."""
    return default if value is None else value


def plan_layer(op: str, input_shape: tuple[int, ...], out_channels: int | None = None, kernel=None, stride=None,
               padding=None, dilation=None, groups: int = 1, output_padding=None, ceil_mode: bool = False,
               scale_factor=None, size=None, **_) -> dict:
    """Output shape, weight elements and MACs of a ``convscope shape`` request, from ``convscope.arith``
    alone (nothing allocated); validates the arguments as the layer would (``CalcError``)."""
    if op not in SHAPE_OPS:
        raise CalcError(f"unknown operation {op!r}; choose one of {', '.join(SHAPE_OPS)}")
    if op == "upsample":  # interpolate: (N, C, *spatial) with 1 to 3 spatial dimensions
        n = len(input_shape) - 2
        if n not in (1, 2, 3):
            raise CalcError(f"upsample needs an input of 3 to 5 dimensions (N x C x spatial), got "
                            f"{'x'.join(map(str, input_shape))}")
    else:
        n = int(op[-2])
        if len(input_shape) not in (n + 1, n + 2):
            raise CalcError(f"{op} needs an input of {n + 2} dimensions (N x C x {' x '.join('DHW'[3 - n:])}), "
                            f"got {'x'.join(map(str, input_shape))}")
    batched = len(input_shape) == n + 2
    lead, spatial = tuple(input_shape[:-n]), tuple(input_shape[-n:])
    try:
        if op.startswith("conv"):
            if kernel is None:
                raise CalcError(f"{op} needs --kernel")
            transposed = "transpose" in op
            kernel = arith.ntuple(parse_sizes(kernel), n, "kernel")
            c_in, c_out = lead[-1], _given(out_channels, lead[-1])
            if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
                raise CalcError(f"groups must be a positive integer, got {groups!r}")
            if c_out < 1 or c_in % groups or c_out % groups:
                raise CalcError(f"out_channels={c_out} and the input's {c_in} channels must be positive and "
                                f"divisible by groups={groups}")
            weight = ((c_in, c_out // groups) if transposed else (c_out, c_in // groups)) + kernel
            g = arith.conv_geometry(input_shape, weight, n=n, stride=_given(parse_sizes(stride), 1),
                                    padding=_given(parse_sizes(padding), 0), dilation=_given(parse_sizes(dilation), 1),
                                    groups=groups, output_padding=_given(parse_sizes(output_padding), 0),
                                    transposed=transposed, op=op)
            batch = input_shape[0] if batched else 1
            macs = (arith.conv_transpose_macs(c_in, c_out, kernel, spatial, groups, batch) if transposed
                    else arith.conv_macs(c_in, c_out, kernel, g.output_size, groups, batch))
            return {"output_shape": lead[:-1] + (c_out,) + g.output_size, "weight_elements": math.prod(weight),
                    "macs": macs}
        if op.startswith(("max_pool", "avg_pool")):
            if kernel is None:
                raise CalcError(f"{op} needs --kernel")
            if op.startswith("avg_pool") and _given(parse_sizes(dilation), 1) != 1:
                raise CalcError(f"{op} has no dilation (PyTorch's average pooling takes none), got --dilation "
                                f"{dilation}")
            g = arith.pool_geometry(spatial, parse_sizes(kernel), parse_sizes(stride), _given(parse_sizes(padding), 0),
                                    _given(parse_sizes(dilation), 1), ceil_mode, op=op)
            return {"output_shape": lead + g.output_size, "weight_elements": 0,
                    "macs": math.prod(lead + g.output_size) * math.prod(g.kernel_size)}
        if scale_factor is None and size is None:
            raise CalcError("upsample needs --scale-factor or --size")
        out = arith.interpolate_output_shape(spatial, parse_sizes(size), scale_factor, op)
        return {"output_shape": lead + out, "weight_elements": 0, "macs": math.prod(lead + out) * 4 ** n}
    except CalcError:
        raise
    except (ValueError, TypeError) as error:
        raise CalcError(str(error)) from None


def layer_for(op: str, input_shape: tuple[int, ...], out_channels: int | None = None, kernel=None, stride=None,
              padding=None, dilation=None, groups: int = 1, output_padding=None, bias: bool = True,
              ceil_mode: bool = False, scale_factor=None, size=None, mode: str = "nearest",
              align_corners=None) -> nn.Module:
    """The ``convscope.nn`` layer for a ``convscope shape`` request (validated by :func:`plan_layer`)."""
    plan_layer(op, input_shape, out_channels, kernel, stride, padding, dilation, groups, output_padding, ceil_mode,
               scale_factor, size)
    n = 2 if op == "upsample" else int(op[-2])
    channels = input_shape[-n - 1] if op != "upsample" else input_shape[1]
    kernel, stride, padding = parse_sizes(kernel), parse_sizes(stride), parse_sizes(padding)
    dilation, output_padding = parse_sizes(dilation), parse_sizes(output_padding)
    if op.startswith("conv"):
        cls = getattr(nn, ("ConvTranspose" if "transpose" in op else "Conv") + f"{n}d")
        kwargs = dict(stride=_given(stride, 1), padding=_given(padding, 0), dilation=_given(dilation, 1),
                      groups=groups, bias=bias)
        if "transpose" in op:
            kwargs["output_padding"] = _given(output_padding, 0)
        return cls(channels, _given(out_channels, channels), kernel, **kwargs)
    if op.startswith("max_pool"):
        return getattr(nn, f"MaxPool{n}d")(kernel, stride, _given(padding, 0), _given(dilation, 1), ceil_mode=ceil_mode)
    if op.startswith("avg_pool"):
        return getattr(nn, f"AvgPool{n}d")(kernel, stride, _given(padding, 0), ceil_mode=ceil_mode)
    return nn.Upsample(size=parse_sizes(size), scale_factor=scale_factor, mode=mode, align_corners=align_corners)


def shape_report(op: str, input_shape: tuple[int, ...], dtype: str = "float32", max_elements: int = MAX_RUN_ELEMENTS,
                 max_macs: int = MAX_RUN_MACS, **options) -> dict:
    """Output shape, parameters, MACs, FLOPs, receptive field and the output-size derivation of one
    layer: the object that ``convscope shape --json`` prints and ``GET /api/shape`` returns.  The
    layer runs once on zeros, within ``max_elements`` and ``max_macs`` (:func:`check_work`)."""
    plan = plan_layer(op, input_shape, **options)
    check_work(op, input_shape, plan["output_shape"], plan["macs"], plan["weight_elements"], max_elements, max_macs)
    layer = layer_for(op, input_shape, **options)
    try:
        result = summary(layer, input_shape, dtype)
    except (ValueError, TypeError) as error:
        raise CalcError(str(error)) from None
    row = result.rows[0]
    return {"op": op, "layer": repr(layer), "input_shape": list(input_shape), "output_shape": list(row.output_shape),
            "params": row.params, "macs": row.macs, "flops": row.flops,
            "receptive_field": None if row.receptive_field is None else row.receptive_field.to_dict(),
            "activation_bytes": result.activation_bytes,
            "formula": _derivations(op, input_shape, list(row.output_shape), options)}


def _derivations(op: str, shape, output_shape, options) -> list[str]:
    """The output-size formula per spatial dimension with the numbers (from ``arith.derive``)."""
    if op == "upsample":
        return [arith.interpolate_size_derivation(i, options.get("scale_factor"), o)
                for i, o in zip(shape[2:], output_shape[2:])]
    n = int(op[-2])
    k = arith.ntuple(parse_sizes(options.get("kernel")), n, "kernel")
    s = arith.ntuple(parse_sizes(options.get("stride")) or (k if "pool" in op else 1), n, "stride")
    d = arith.ntuple(parse_sizes(options.get("dilation")) or 1, n, "dilation")
    lines = []
    if "pool" in op:
        p = arith.ntuple(parse_sizes(options.get("padding")) or 0, n, "padding")
        for i, kk, ss, pp, dd in zip(shape[-n:], k, s, p, d):
            lines.append(arith.pool_size_derivation(i, kk, ss, pp, dd if op.startswith("max") else 1,
                                                    options.get("ceil_mode", False)))
        return lines
    pairs = arith.normalize_padding(parse_sizes(options.get("padding")) or 0, n, kernel_size=k, dilation=d, stride=s,
                                    allow_strings="transpose" not in op)
    op_pad = arith.ntuple(parse_sizes(options.get("output_padding")) or 0, n, "output_padding")
    for i, kk, ss, (lo, hi), dd, oo in zip(shape[-n:], k, s, pairs, d, op_pad):
        if "transpose" in op:
            lines.append(arith.conv_transpose_size_derivation(i, kk, ss, lo, hi, dd, oo))
        else:
            lines.append(arith.conv_size_derivation(i, kk, ss, lo, hi, dd))
    return lines


def load_model(spec: str) -> nn.Module:
    """``path/to/file.py:NAME`` -> the model: ``NAME`` is a ``convscope.nn.Module`` instance, or a
    class or function that returns one when called without arguments."""
    if ":" not in spec:
        raise CalcError(f"expected FILE.py:NAME, got {spec!r}")
    path, name = spec.rsplit(":", 1)
    if not Path(path).is_file():
        raise CalcError(f"no such file: {path}")
    namespace = runpy.run_path(path)
    if name not in namespace:
        raise CalcError(f"{path} defines no {name!r}")
    model = namespace[name]
    if not isinstance(model, nn.Module) and callable(model):
        model = model()
    if not isinstance(model, nn.Module):
        raise CalcError(f"{spec} is not a convscope.nn.Module (got {type(model).__name__})")
    return model


def model_summary(spec: str, input_shape: tuple[int, ...], dtype: str = "float32") -> ModelSummary:
    model = load_model(spec)
    try:
        return summary(model, input_shape, dtype)
    except (ValueError, TypeError) as error:
        raise CalcError(f"the model does not accept an input of shape {input_shape}: {error}") from None


def summary_json(result: ModelSummary) -> dict:
    """The ``convscope summary --json`` object."""
    data = result.to_dict()
    layers = [{key: layer[key] for key in ("name", "type", "output_shape", "params", "macs", "flops",
                                           "receptive_field")}
              for layer in data["layers"]]
    total = {key: data["total"][key] for key in ("params", "trainable_params", "macs", "flops", "activation_bytes",
                                                 "param_bytes")}
    return {"layers": layers, "total": total}


def design_report(input_size: int, output_size: int, op: str, **ranges) -> dict:
    try:
        designs = arith.design(input_size, output_size, op, **ranges)
    except arith.DesignError as error:
        raise CalcError(str(error)) from None
    return {"input": input_size, "output": output_size, "op": op, "designs": [d.to_dict() for d in designs]}
