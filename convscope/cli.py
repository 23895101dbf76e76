"""Command line: ``convscope train`` (the main job: a CNN on MNIST), ``convscope demo`` (a tour of
the convolution core), and the calculator: ``convscope shape``, ``convscope summary``, ``convscope design``."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from . import arith
from . import functional as F
from . import nn
from .ops.allocator import keep_freed_memory


def _grid(array: np.ndarray, indent: str = "    ") -> str:
    width = max(len(f"{v:g}") for v in array.ravel())
    return "\n".join(indent + " ".join(f"{v:>{width}g}" for v in row) for row in array)


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def tour() -> None:
    """Print convolutions, transposed convolutions, their shapes and parameter counts."""
    image = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    edge = np.array([[[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]]])  # Sobel x

    _section("conv2d: a 3x3 Sobel kernel over a 5x5 arange image")
    print("input (1, 1, 5, 5):\n" + _grid(image[0, 0]))
    print("kernel (1, 1, 3, 3):\n" + _grid(edge[0, 0]))
    for kwargs in ({}, {"padding": 1}, {"stride": 2, "padding": 1}, {"padding": 2, "dilation": 2},
                   {"padding": "same"}, {"padding": ((0, 1), (2, 0))}):
        out = F.conv2d(image, edge, **kwargs)
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "defaults"
        print(f"\nconv2d({args}) -> {out.shape}")
        print(_grid(out[0, 0]))
    print("\noutput size per dimension: o = floor((i + p_lo + p_hi - d*(k-1) - 1) / s) + 1")
    print(f"  i=5, k=3, s=2, p=1, d=1: o = {arith.conv_output_size(5, 3, stride=2, padding=1)}")

    _section("conv_transpose2d: upsampling a 2x2 input with a 3x3 kernel of ones, stride 2")
    small = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    ones = np.ones((1, 1, 3, 3))
    for kwargs in ({"stride": 2}, {"stride": 2, "padding": 1}, {"stride": 2, "padding": 1, "output_padding": 1}):
        out = F.conv_transpose2d(small, ones, **kwargs)
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        print(f"\nconv_transpose2d({args}) -> {out.shape}")
        print(_grid(out[0, 0]))
    print("\noutput size per dimension: o = (i - 1)*s - p_lo - p_hi + d*(k-1) + output_padding + 1")
    print(f"  i=2, k=3, s=2, p=1, output_padding=1: o = "
          f"{arith.conv_transpose_output_size(2, 3, stride=2, padding=1, output_padding=1)}")

    _section("layers: shapes, parameters and multiply-accumulates")
    from .random import manual_seed
    manual_seed(0)
    x = np.random.default_rng(0).standard_normal((8, 64, 56, 56)).astype(np.float32)
    layers = [
        ("standard 3x3", nn.Conv2d(64, 128, 3, padding=1)),
        ("grouped 3x3, groups=4", nn.Conv2d(64, 128, 3, padding=1, groups=4)),
        ("depthwise 3x3", nn.Conv2d(64, 64, 3, padding=1, groups=64)),
        ("pointwise 1x1", nn.Conv2d(64, 128, 1)),
        ("strided 3x3, stride 2", nn.Conv2d(64, 128, 3, stride=2, padding=1)),
        ("dilated 3x3, dilation 2", nn.Conv2d(64, 128, 3, padding=2, dilation=2)),
        ("transposed 4x4, stride 2", nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)),
    ]
    print(f"input {x.shape} float32\n")
    print(f"{'layer':<27}{'output shape':<22}{'params':>10}{'MACs':>16}")
    for label, layer in layers:
        y = layer(x)
        spatial = x.shape[2:] if layer.transposed else y.shape[2:]
        count = (arith.conv_transpose_macs if layer.transposed else arith.conv_macs)(
            layer.in_channels, layer.out_channels, layer.kernel_size, spatial, layer.groups, batch=x.shape[0])
        params = arith.conv_param_count(layer.in_channels, layer.out_channels, layer.kernel_size, layer.groups,
                                        bias=layer.bias is not None)
        assert params == sum(p.numel() for p in layer.parameters())
        print(f"{label:<27}{str(y.shape):<22}{params:>10,}{count:>16,}")
    standard = arith.conv_param_count(64, 128, (3, 3), bias=False)
    separable = arith.conv_param_count(64, 64, (3, 3), groups=64, bias=False) + arith.conv_param_count(
        64, 128, (1, 1), bias=False)
    print(f"\ndepthwise-separable (3x3 depthwise + 1x1) vs standard 3x3, 64->128, no bias: "
          f"{separable:,} vs {standard:,} weights ({standard / separable:.1f}x fewer)")
    print(f"\n{layers[0][1]!r}")


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # this process's arrays reuse freed memory instead of faulting in fresh pages
    parser = argparse.ArgumentParser(prog="convscope", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="tour of convolutions and transposed convolutions on built-in inputs")
    from .train import DEFAULTS
    trainer = sub.add_parser("train", help="train a LeNet-5-style CNN on MNIST and write a report folder")
    trainer.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    trainer.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    trainer.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="Adam learning rate")
    trainer.add_argument("--step-size", type=int, default=DEFAULTS["step_size"],
                         help="epochs between learning-rate decays")
    trainer.add_argument("--gamma", type=float, default=DEFAULTS["gamma"], help="learning-rate decay factor")
    trainer.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    trainer.add_argument("--out", default=DEFAULTS["out"], help="report folder")
    trainer.add_argument("--limit", type=int, default=None, help="training batches per epoch (quick runs)")
    trainer.add_argument("--no-report", action="store_true", help="skip the PNG pictures")
    trainer.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard event files to DIR")
    _add_calculator(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        tour()
        return 0
    if args.command in ("shape", "summary", "design"):
        return _run_calculator(args)
    if args.command == "gridding":
        return _run_gridding(args)
    if args.command == "animate":
        return _run_animate(args)
    if args.command == "serve":
        from .web import serve
        serve(args.host, args.port)
        return 0
    if args.command == "explain":
        return _run_explain(args)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if not args.lr > 0:
        parser.error("--lr must be positive")
    from .train import train
    try:
        train(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, out=args.out,
              limit=args.limit, step_size=args.step_size, gamma=args.gamma, report=not args.no_report,
              tensorboard=args.tensorboard)
    except (FileNotFoundError, ValueError) as error:
        print(f"convscope train: {error}", file=sys.stderr)
        return 2
    return 0


def _range_arg(text: str) -> tuple[int, int]:
    """``"3"`` -> (3, 3); ``"1:64"`` -> (1, 64)."""
    try:
        parts = [int(v) for v in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or LOW:HIGH, got {text!r}") from None
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected N or LOW:HIGH, got {text!r}")
    return parts[0], parts[1]


def _add_calculator(sub) -> None:
    from .calc import SHAPE_OPS
    shape = sub.add_parser("shape", help="output shape, parameters, MACs and receptive field of one layer")
    shape.add_argument("op", choices=SHAPE_OPS)
    shape.add_argument("--input", required=True, help="input shape, e.g. 1x3x32x32")
    shape.add_argument("--out-channels", type=int)
    for name in ("kernel", "stride", "padding", "dilation", "output-padding", "size"):
        shape.add_argument(f"--{name}", help="an int or a list such as 3,5 (padding also same/valid)")
    shape.add_argument("--groups", type=int, default=1)
    shape.add_argument("--no-bias", action="store_true")
    shape.add_argument("--ceil-mode", action="store_true")
    shape.add_argument("--scale-factor", type=float)
    shape.add_argument("--mode", default="nearest")
    shape.add_argument("--align-corners", action="store_true")
    shape.add_argument("--json", action="store_true", help="print one JSON object")

    model = sub.add_parser("summary", help="per-layer summary of a convscope.nn model defined in a Python file")
    model.add_argument("model", help="FILE.py:NAME (a Module instance, or a class/function returning one)")
    model.add_argument("--input", required=True, help="input shape, e.g. 1x3x224x224")
    model.add_argument("--dtype", default="float32")
    model.add_argument("--json", action="store_true", help="print one JSON object")

    solve = sub.add_parser("design", help="kernel/stride/padding/dilation that map an input size to an output size")
    solve.add_argument("--input", type=int, required=True)
    solve.add_argument("--output", type=int, required=True)
    solve.add_argument("--op", choices=("conv", "transposed"), default="conv")
    solve.add_argument("--kernel", type=_range_arg, default=(1, 7), help="N or LOW:HIGH")
    solve.add_argument("--stride", type=_range_arg, default=(1, 4))
    solve.add_argument("--padding", type=_range_arg, default=(0, 3))
    solve.add_argument("--dilation", type=_range_arg, default=(1, 1))
    solve.add_argument("--output-padding", type=_range_arg, default=(0, 0))
    solve.add_argument("--json", action="store_true", help="print one JSON object")

    anim = sub.add_parser("animate", help="animate a convolution, pooling or upsampling configuration")
    anim.add_argument("op", choices=("conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                                     "max_unpool2d", "upsample"))
    anim.add_argument("--input", required=True, help="input size, e.g. 5x5 (or 7 for conv1d)")
    anim.add_argument("--kernel", default="3")
    anim.add_argument("--stride")
    anim.add_argument("--padding", default="0", help="an int, a list such as 1,2, or same/valid (conv)")
    anim.add_argument("--dilation", default="1")
    anim.add_argument("--output-padding", default="0")
    anim.add_argument("--ceil-mode", action="store_true")
    anim.add_argument("--in-channels", type=int, default=1, help="conv2d: input channels (shown as groups)")
    anim.add_argument("--out-channels", type=int, default=1)
    anim.add_argument("--groups", type=int, default=1)
    anim.add_argument("--scale-factor", type=float, default=2.0)
    anim.add_argument("--mode", default="nearest", choices=("nearest", "bilinear"))
    anim.add_argument("--view", default="scatter", choices=("scatter", "direct"),
                      help="conv_transpose2d: scatter of kernel copies or direct convolution of the zero-inserted input")
    anim.add_argument("--values", default="arange", help="arange, random, ones, or a .npy/.csv/.txt file of the input")
    anim.add_argument("--seed", type=int, default=0)
    anim.add_argument("--sheet", action="store_true", help="one PNG with every frame")
    anim.add_argument("-o", "--output", required=True,
                      help="FILE.gif, FILE.png (animated, or a sheet with --sheet), FILE.svg, or FILE.html (a page that "
                           "plays it without a server)")

    server = sub.add_parser("serve", help="start the web explorer (bound to 127.0.0.1 unless --host says otherwise)")
    server.add_argument("--port", type=int, default=8000)
    server.add_argument("--host", default="127.0.0.1")

    grid = sub.add_parser("gridding", help="which input offsets a stack of dilated convolutions reaches")
    grid.add_argument("--dilations", required=True, help="dilation of each layer, e.g. 2,2,2")
    grid.add_argument("--kernel", type=int, default=3)
    grid.add_argument("--json", action="store_true", help="print one JSON object")

    explain = sub.add_parser("explain", help="step-by-step computation of one small layer, with its formulas")
    explain.add_argument("op", choices=EXPLAIN_OPS)
    explain.add_argument("--input", required=True, help="input shape, e.g. 1x1x5x5 (at most 4096 elements)")
    explain.add_argument("--out-channels", type=int)
    for name in ("kernel", "stride", "padding", "dilation", "output-padding"):
        explain.add_argument(f"--{name}", help="an int or a list such as 3,5")
    explain.add_argument("--groups", type=int, default=1)
    explain.add_argument("--ceil-mode", action="store_true")
    explain.add_argument("--exclude-pad", action="store_true", help="avg pool: count_include_pad=False")
    explain.add_argument("--values", choices=("arange", "ones", "random"), default="arange",
                         help="input values (default arange)")
    explain.add_argument("--weights", choices=("arange", "ones", "random"), default="ones",
                         help="kernel values (default ones)")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--scale-factor", type=float, help="upsample: scale factor")
    explain.add_argument("--size", help="upsample: output size, e.g. 7 or 7,9")
    explain.add_argument("--mode", default="nearest", help="upsample: nearest, bilinear, ...")
    explain.add_argument("--align-corners", action="store_true")
    explain.add_argument("--max-steps", type=int, default=16, help="output elements traced")


EXPLAIN_OPS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
               "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "upsample")


def _values(kind: str, shape, rng) -> np.ndarray:
    if kind == "arange":
        return np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    if kind == "ones":
        return np.ones(shape)
    return np.round(rng.standard_normal(shape), 2)


#: ``explain`` traces in Python, cell by cell: its layers stay small.
EXPLAIN_MAX_ELEMENTS = 2**20
EXPLAIN_MAX_MACS = 2**26


def _run_explain(args) -> int:
    from . import calc, explain
    try:
        shape = calc.parse_shape(args.input)
        if int(np.prod(shape)) > 4096:
            raise calc.CalcError(f"explain traces small layers: --input {args.input} has more than 4096 elements")
        # the trace runs the layer on these values: bound its work from the formulas first
        plan = calc.plan_layer(args.op, shape, out_channels=args.out_channels, kernel=args.kernel, stride=args.stride,
                               padding=args.padding, dilation=args.dilation, groups=args.groups,
                               output_padding=args.output_padding, ceil_mode=args.ceil_mode,
                               scale_factor=args.scale_factor, size=args.size)
        calc.check_work(f"explain {args.op}", shape, plan["output_shape"], plan["macs"], plan["weight_elements"],
                        max_elements=EXPLAIN_MAX_ELEMENTS, max_macs=EXPLAIN_MAX_MACS)
        if args.op == "upsample":
            x = _values(args.values, shape, np.random.default_rng(args.seed))
            print(explain.explain_upsample(x, calc.parse_sizes(args.size), args.scale_factor, args.mode,
                                           True if args.align_corners else None, args.max_steps))
            return 0
        n = int(args.op[-2])
        if len(shape) == n + 1:
            shape = (1,) + shape
        if len(shape) != n + 2:
            raise calc.CalcError(f"{args.op} needs an input of {n + 2} dimensions, got {args.input}")
        sizes = {name: calc.parse_sizes(getattr(args, name)) for name in ("kernel", "stride", "padding", "dilation",
                                                                     "output_padding")}
        # arguments not given take PyTorch's defaults (a 0 given stays, for the layer to reject);
        # pooling's stride stays None: the kernel
        for name, default in (("padding", 0), ("dilation", 1), ("output_padding", 0)):
            sizes[name] = default if sizes[name] is None else sizes[name]
        if sizes["kernel"] is None:
            raise calc.CalcError(f"{args.op} needs --kernel")
        rng = np.random.default_rng(args.seed)
        x = _values(args.values, shape, rng)
        if args.op.startswith("conv"):
            kernel = arith.ntuple(sizes["kernel"], n, "kernel")
            c_in, c_out, groups = shape[1], plan["output_shape"][1], args.groups
            transposed = "transpose" in args.op
            if c_in % groups or c_out % groups:
                raise calc.CalcError(f"--groups {groups} must divide the input channels {c_in} and output "
                                     f"channels {c_out}")
            w_shape = ((c_in, c_out // groups) if transposed else (c_out, c_in // groups)) + kernel
            w = _values(args.weights, w_shape, rng) + (1 if args.weights == "arange" else 0)
            common = dict(stride=1 if sizes["stride"] is None else sizes["stride"], padding=sizes["padding"],
                          dilation=sizes["dilation"], groups=groups)
            if transposed:
                text = explain.explain_conv_transpose(x, w, output_padding=sizes["output_padding"], **common)
            else:
                text = explain.explain_conv(x, w, max_outputs=args.max_steps, **common)
            rows = arith.parameter_comparison(c_in, c_out, kernel, groups=groups if groups > 1 else None)
            text += (f"\n\nweights for {c_in} -> {c_out} channels with a {'x'.join(map(str, kernel))} kernel "
                     f"(no bias):\n" + "\n".join(f"  {label:<26}{count:>10,}" for label, count in rows))
        else:
            text = explain.explain_pool(x, args.op[:3], sizes["kernel"], sizes["stride"], sizes["padding"],
                                        sizes["dilation"], args.ceil_mode, not args.exclude_pad,
                                        max_outputs=args.max_steps)
    except (calc.CalcError, ValueError, TypeError, MemoryError) as error:
        print(f"convscope explain: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0


def _run_animate(args) -> int:
    from .calc import CalcError, parse_sizes
    try:
        from .viz import animate
        size = tuple(int(v) for v in args.input.lower().replace(",", "x").split("x"))
        anim = animate(args.op, size, parse_sizes(args.kernel), parse_sizes(args.stride), parse_sizes(args.padding),
                       parse_sizes(args.dilation), parse_sizes(args.output_padding), args.ceil_mode, args.scale_factor, args.mode,
                       None, args.view, args.values, args.seed, args.in_channels, args.out_channels, args.groups)
        path = anim.save(args.output, sheet=args.sheet)
    except ImportError as error:
        print(f"convscope animate: needs Pillow: pip install 'convscope[plot]' ({error})", file=sys.stderr)
        return 2
    except (CalcError, ValueError, TypeError, MemoryError, OSError) as error:
        print(f"convscope animate: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: {len(anim)} frames")
    return 0


#: Largest receptive field (offsets) ``gridding`` maps and prints.
GRIDDING_MAX_FIELD = 2**16


def _run_gridding(args) -> int:
    try:
        rates = [int(v) for v in args.dilations.split(",")]
        if not rates or min(rates) < 1 or args.kernel < 1:
            raise ValueError
    except ValueError:
        print(f"convscope gridding: --dilations must be positive ints like 2,2,2 and --kernel positive, got "
              f"{args.dilations!r} and {args.kernel}", file=sys.stderr)
        return 2
    field = 1 + sum((args.kernel - 1) * r for r in rates)
    if field > GRIDDING_MAX_FIELD:
        print(f"convscope gridding: a receptive field of {field:,} offsets is more than this tool maps "
              f"({GRIDDING_MAX_FIELD:,})", file=sys.stderr)
        return 2
    paths = arith.gridding_map([(args.kernel, 1, r) for r in rates])
    holes = [int(i) for i in np.nonzero(paths == 0)[0]]
    report = {"kernel": args.kernel, "dilations": rates, "receptive_field": len(paths), "paths": paths.tolist(),
              "holes": holes, "grids": bool(holes), "hdc_valid": arith.hdc_valid(rates, args.kernel),
              "suggestions": arith.suggest_dilations(rates, args.kernel) if holes else []}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{len(rates)} layers of {args.kernel}-tap convolutions with dilations {rates}: receptive field "
          f"{len(paths)}")
    print("paths from one output to each input offset:\n  " + " ".join(str(v) for v in paths))
    if holes:
        print(f"grids: {len(holes)} of {len(paths)} offsets are never reached (holes at {holes[:12]}"
              f"{' ...' if len(holes) > 12 else ''})")
        print("hole-free sequences (HDC rule), closest receptive field first: "
              + ", ".join(str(s) for s in report["suggestions"]))
    else:
        print("no holes: every offset in the receptive field is reached"
              + ("" if report["hdc_valid"] else " (though the HDC rule is not met)"))
    return 0


def _run_calculator(args) -> int:
    from . import calc
    try:
        if args.command == "shape":
            report = calc.shape_report(
                args.op, calc.parse_shape(args.input), out_channels=args.out_channels, kernel=args.kernel,
                stride=args.stride, padding=args.padding, dilation=args.dilation, groups=args.groups,
                output_padding=args.output_padding, bias=not args.no_bias, ceil_mode=args.ceil_mode,
                scale_factor=args.scale_factor, size=args.size, mode=args.mode,
                align_corners=True if args.align_corners else None)
            if args.json:
                print(json.dumps(report))
            else:
                field = report["receptive_field"]
                print(f"{report['layer']}\ninput  {tuple(report['input_shape'])}\noutput {tuple(report['output_shape'])}"
                      f"\nparams {report['params']:,}\nMACs   {report['macs']:,} (FLOPs {report['flops']:,})"
                      + (f"\nreceptive field {field['size']}, jump {field['jump']}, start {field['start']}"
                         if field else "") + "".join(f"\n  {line}" for line in report["formula"]))
        elif args.command == "summary":
            result = calc.model_summary(args.model, calc.parse_shape(args.input), args.dtype)
            print(json.dumps(calc.summary_json(result)) if args.json else result)
        else:
            report = calc.design_report(args.input, args.output, args.op, kernel=args.kernel, stride=args.stride,
                                        padding=args.padding, dilation=args.dilation,
                                        output_padding=args.output_padding)
            if args.json:
                print(json.dumps(report))
            else:
                print(f"{args.op} from {args.input} to {args.output}: {len(report['designs'])} configurations "
                      f"(smallest kernel first)")
                for d in report["designs"]:
                    extra = f" output_padding={d['output_padding']}" if args.op == "transposed" else ""
                    print(f"  kernel={d['kernel_size']} stride={d['stride']} padding={d['padding']} "
                          f"dilation={d['dilation']}{extra}   o = {d['formula'].replace('i', str(args.input), 1)} "
                          f"= {args.output}")
    except (calc.CalcError, ValueError, TypeError, MemoryError) as error:
        print(f"convscope {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
