"""Bad arguments to pooling / unpooling / resizing raise ``ValueError``/``TypeError`` whose message
names the argument and the offending value; where PyTorch rejects the same call, it is checked to
raise too.

Each case is ``(convscope call, torch call or None, expected exception type, checks)``: the first
check is a regular expression for ``pytest.raises(match=...)`` (normally the argument's name);
each further check is a substring, or a tuple of alternative substrings of which one must appear
(the value may be printed as given or normalised to a per-dimension tuple).  The torch call is
``None`` where torch accepts the input.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convscope.functional as CF


def z(*shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


def idx(*shape, value=0):
    return np.full(shape, value, dtype=np.int64)


def _torch(v):
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


def case(id, fn, args, kwargs, exc, checks, torch_rejects=True):
    ours = lambda: getattr(CF, fn)(*args, **kwargs)  # noqa: E731
    theirs = None
    if torch_rejects:
        theirs = lambda: getattr(F, fn)(*map(_torch, args), **{k: _torch(v) for k, v in kwargs.items()})  # noqa
    if isinstance(checks, str):
        checks = (checks,)
    return pytest.param(ours, theirs, exc, checks, id=id)


VE, TE = ValueError, TypeError
X1, X2, X3 = z(1, 2, 7), z(1, 2, 7, 7), z(1, 2, 5, 5, 5)

CASES = [
    # ---- padding greater than half the kernel (the undilated kernel, for max pooling too)
    case("max_pool2d-padding-gt-half", "max_pool2d", (X2, 3), {"padding": 2}, VE, ("padding", ("2", "(2, 2)"))),
    case("max_pool2d-padding-gt-half-dilated", "max_pool2d", (X2, 3), {"padding": 2, "dilation": 2}, VE,
         ("padding", "2")),
    case("max_pool1d-padding-gt-half-even", "max_pool1d", (X1, 2), {"padding": 2}, VE, ("padding", "2")),
    case("max_pool1d-padding-gt-half-dilated", "max_pool1d", (X1, 2), {"padding": 2, "dilation": 3}, VE,
         ("padding", "2")),
    case("max_pool3d-padding-one-dim", "max_pool3d", (X3, (3, 3, 2)), {"padding": (1, 1, 2)}, VE,
         ("padding", "(1, 1, 2)")),
    case("avg_pool1d-padding-gt-half", "avg_pool1d", (X1, 3), {"padding": 2}, VE, ("padding", "2")),
    case("avg_pool2d-padding-gt-half-tuple", "avg_pool2d", (X2, (4, 3)), {"padding": (2, 2)}, VE,
         ("padding", "(2, 2)")),
    case("avg_pool3d-padding-gt-half", "avg_pool3d", (X3, 1), {"padding": 1}, VE, ("padding", "1")),
    case("max_pool2d-padding-negative", "max_pool2d", (X2, 2), {"padding": -1}, VE, ("padding", "-1")),
    # ---- output size below 1
    case("max_pool2d-kernel-larger-than-input", "max_pool2d", (z(1, 1, 2, 2), 3), {}, VE,
         ("output size", ("(0, 0)", "0"))),
    case("max_pool1d-dilated-kernel-too-large", "max_pool1d", (X1, 3), {"dilation": 5, "padding": 1}, VE,
         "output size"),
    case("avg_pool2d-kernel-larger-than-padded", "avg_pool2d", (z(1, 1, 1, 5), 4), {"padding": 1}, VE, "output size"),
    case("lp_pool1d-kernel-larger-than-input", "lp_pool1d", (z(1, 1, 5), 2, 6), {}, VE, "output size"),
    case("adaptive_avg_pool2d-negative", "adaptive_avg_pool2d", (X2, -1), {}, VE, ("output_size", "-1")),
    case("adaptive_max_pool2d-negative-one-dim", "adaptive_max_pool2d", (X2, (2, -1)), {}, VE,
         ("output_size", "-1")),
    case("adaptive_avg_pool1d-negative", "adaptive_avg_pool1d", (X1, -3), {}, VE, ("output_size", "-3")),
    case("interpolate-size-0", "interpolate", (X2,), {"size": 0}, VE, ("size", "0")),
    case("interpolate-size-negative-one-dim", "interpolate", (X2,), {"size": (3, -1)}, VE, ("size", "-1")),
    case("interpolate-scale-too-small", "interpolate", (X1,), {"scale_factor": 0.1}, VE, ("size", "0")),
    case("interpolate-scale-negative", "interpolate", (X1,), {"scale_factor": -1.0}, VE, "(size|scale_factor)"),
    # ---- stride 0 / negative, kernel 0 / negative
    case("max_pool2d-stride-0", "max_pool2d", (X2, 2), {"stride": 0}, VE, ("stride", ("0", "(0, 0)"))),
    case("max_pool1d-stride-negative", "max_pool1d", (X1, 2), {"stride": -1}, VE, ("stride", "-1")),
    case("avg_pool2d-stride-0", "avg_pool2d", (X2, 2), {"stride": (1, 0)}, VE, ("stride", "(1, 0)")),
    case("avg_pool3d-stride-negative", "avg_pool3d", (X3, 2), {"stride": (1, -1, 1)}, VE, ("stride", "(1, -1, 1)")),
    case("lp_pool2d-stride-0", "lp_pool2d", (X2, 2, 2), {"stride": 0}, VE, ("stride", "0")),
    case("max_pool1d-kernel-0", "max_pool1d", (X1, 0), {}, VE, ("kernel_size", "0")),
    case("max_pool2d-kernel-negative", "max_pool2d", (X2, (2, -1)), {}, VE, ("kernel_size", "(2, -1)")),
    case("avg_pool2d-kernel-0", "avg_pool2d", (X2, 0), {}, VE, ("kernel_size", "0")),
    case("avg_pool1d-kernel-0", "avg_pool1d", (X1, 0), {}, VE, ("kernel_size", "0")),
    case("lp_pool2d-kernel-0", "lp_pool2d", (X2, 2, 0), {}, VE, ("kernel_size", "0")),
    case("max_pool2d-dilation-0", "max_pool2d", (X2, 2), {"dilation": 0}, VE, ("dilation", "0")),
    case("avg_pool2d-divisor-0", "avg_pool2d", (X2, 2), {"divisor_override": 0}, VE, ("divisor_override", "0")),
    # torch 2.13 only rejects avg_pool3d inputs smaller than the kernel (not 1-d/2-d), even when
    # the padding would make the window fit
    case("avg_pool3d-input-smaller-than-kernel", "avg_pool3d", (z(1, 1, 1, 4, 4), 2, 1, 1), {}, VE,
         "kernel_size"),
    # ---- interpolate: size / scale_factor
    case("interpolate-size-and-scale", "interpolate", (X2,), {"size": 3, "scale_factor": 2}, VE,
         ("size", "scale_factor")),
    case("interpolate-neither", "interpolate", (X2,), {}, VE, ("size", "scale_factor")),
    case("interpolate-size-wrong-length", "interpolate", (X2,), {"size": (4, 4, 4)}, VE, ("size", "(4, 4, 4)")),
    case("interpolate-scale-wrong-length", "interpolate", (X2,), {"scale_factor": (2, 2, 2)}, VE,
         ("scale_factor", "(2, 2, 2)")),
    case("interpolate-recompute-with-size", "interpolate", (X2,), {"size": 4, "recompute_scale_factor": True}, VE,
         "recompute_scale_factor"),
    # ---- interpolate: align_corners with non-interpolating modes
    case("interpolate-align-nearest", "interpolate", (X2,), {"size": 3, "align_corners": False}, VE,
         ("align_corners", "nearest")),
    case("interpolate-align-nearest-true", "interpolate", (X1,), {"size": 3, "mode": "nearest", "align_corners": True},
         VE, ("align_corners", "nearest")),
    case("interpolate-align-nearest-exact", "interpolate", (X2,),
         {"size": 3, "mode": "nearest-exact", "align_corners": False}, VE, ("align_corners", "nearest-exact")),
    case("interpolate-align-area", "interpolate", (X3,), {"size": 3, "mode": "area", "align_corners": True}, VE,
         ("align_corners", "area")),
    # ---- interpolate: mode vs input rank, unknown mode, antialias
    case("interpolate-bilinear-3d", "interpolate", (X1,), {"size": 3, "mode": "bilinear"}, VE,
         ("bilinear", ("3D", "3-D", "3 dim", "(1, 2, 7)"))),
    case("interpolate-bilinear-5d", "interpolate", (X3,), {"size": 3, "mode": "bilinear"}, VE, "bilinear"),
    case("interpolate-linear-4d", "interpolate", (X2,), {"size": 3, "mode": "linear"}, VE,
         ("linear", ("4D", "4-D", "4 dim", "(1, 2, 7, 7)"))),
    case("interpolate-trilinear-4d", "interpolate", (X2,), {"size": 3, "mode": "trilinear"}, VE,
         ("trilinear", ("4D", "4-D", "4 dim", "(1, 2, 7, 7)"))),
    case("interpolate-bicubic-5d", "interpolate", (X3,), {"size": 3, "mode": "bicubic"}, VE,
         ("bicubic", ("5D", "5-D", "5 dim", "(1, 2, 5, 5, 5)"))),
    case("interpolate-bicubic-3d", "interpolate", (X1,), {"size": 3, "mode": "bicubic"}, VE, "bicubic"),
    case("interpolate-2d-input", "interpolate", (z(2, 7),), {"size": 3}, VE, ("input", ("2D", "(2, 7)"))),
    case("interpolate-6d-input", "interpolate", (z(1, 1, 1, 2, 2, 2),), {"size": 3}, VE,
         ("input", ("6D", "(1, 1, 1, 2, 2, 2)"))),
    case("interpolate-unknown-mode", "interpolate", (X2,), {"size": 3, "mode": "foo"}, VE, ("mode", "foo")),
    case("interpolate-mode-case", "interpolate", (X2,), {"size": 3, "mode": "Bilinear"}, VE, ("mode", "Bilinear")),
    case("interpolate-antialias-nearest", "interpolate", (X2,), {"size": 3, "antialias": True}, VE,
         ("antialias", "nearest")),
    case("interpolate-antialias-linear", "interpolate", (X1,), {"size": 3, "mode": "linear", "antialias": True}, VE,
         "antialias"),
    case("interpolate-antialias-trilinear", "interpolate", (X3,), {"size": 3, "mode": "trilinear", "antialias": True},
         VE, "antialias"),
    # ---- max_unpool: indices
    case("max_unpool2d-index-too-large", "max_unpool2d", (z(1, 1, 2, 2), idx(1, 1, 2, 2, value=16), 2), {}, VE,
         ("ind(ex|ices)", "16")),
    case("max_unpool2d-index-negative", "max_unpool2d", (z(1, 1, 2, 2), idx(1, 1, 2, 2, value=-1), 2), {}, VE,
         ("ind(ex|ices)", "-1")),
    case("max_unpool1d-index-too-large", "max_unpool1d", (z(1, 1, 2), idx(1, 1, 2, value=4), 2), {}, VE,
         ("ind(ex|ices)", "4")),
    case("max_unpool3d-index-too-large", "max_unpool3d", (z(1, 1, 2, 2, 2), idx(1, 1, 2, 2, 2, value=100), 2), {},
         VE, ("ind(ex|ices)", "100")),
    case("max_unpool2d-index-too-large-for-output-size", "max_unpool2d",
         (z(1, 1, 2, 2), idx(1, 1, 2, 2, value=24), 2), {"output_size": (5, 4)}, VE, ("ind(ex|ices)", "24")),
    case("max_unpool2d-indices-shape", "max_unpool2d", (z(1, 1, 2, 2), idx(1, 1, 2, 1), 2), {}, VE,
         ("indices", "(1, 1, 2, 1)")),
    case("max_unpool1d-indices-shape", "max_unpool1d", (z(2, 3, 4), idx(2, 3, 5), 2), {}, VE, ("indices", "(2, 3, 5)")),
    # ---- max_unpool: output_size
    case("max_unpool2d-output-size-too-large", "max_unpool2d", (z(1, 1, 2, 2), idx(1, 1, 2, 2), 2),
         {"output_size": (6, 6)}, VE, ("output_size", "(6, 6)")),
    case("max_unpool2d-output-size-too-small", "max_unpool2d", (z(1, 1, 2, 2), idx(1, 1, 2, 2), 2),
         {"output_size": (2, 4)}, VE, ("output_size", "(2, 4)")),
    case("max_unpool1d-output-size-full-form-too-large", "max_unpool1d", (z(1, 1, 2), idx(1, 1, 2), 2),
         {"output_size": (1, 1, 6)}, VE, ("output_size", "6")),
    case("max_unpool3d-output-size-one-dim", "max_unpool3d", (z(1, 1, 2, 2, 2), idx(1, 1, 2, 2, 2), 2, 2, 0),
         {"output_size": (4, 4, 7)}, VE, ("output_size", "(4, 4, 7)")),
    case("max_unpool2d-output-size-wrong-length", "max_unpool2d", (z(1, 1, 2, 2), idx(1, 1, 2, 2), 2),
         {"output_size": (5, 5, 5)}, VE, ("output_size", "(5, 5, 5)")),
    # ---- pixel shuffle
    case("pixel_shuffle-channels", "pixel_shuffle", (z(1, 5, 2, 2), 2), {}, VE, ("upscale_factor", "5")),
    case("pixel_shuffle-channels-unbatched", "pixel_shuffle", (z(8, 2, 2), 3), {}, VE, ("upscale_factor", "8")),
    case("pixel_unshuffle-height", "pixel_unshuffle", (z(1, 1, 3, 4), 2), {}, VE, ("downscale_factor", "3")),
    case("pixel_unshuffle-width", "pixel_unshuffle", (z(1, 1, 4, 6), 4), {}, VE, ("downscale_factor", "6")),
    case("pixel_shuffle-factor-0", "pixel_shuffle", (z(1, 4, 2, 2), 0), {}, VE, ("upscale_factor", "0")),
    case("pixel_unshuffle-factor-negative", "pixel_unshuffle", (z(1, 4, 2, 2), -2), {}, VE,
         ("downscale_factor", "-2")),
    case("pixel_shuffle-2d-input", "pixel_shuffle", (z(4, 2), 2), {}, VE, ("input", ("(4, 2)", "2"))),
    # ---- non-float inputs where a float is needed
    case("avg_pool2d-int64", "avg_pool2d", (z(1, 1, 4, 4, dtype=np.int64), 2), {}, TE, ("input", "int64"),
         torch_rejects=False),
    case("avg_pool2d-bool", "avg_pool2d", (z(1, 1, 4, 4, dtype=np.bool_), 2), {}, TE, ("input", "bool")),
    case("avg_pool1d-int32", "avg_pool1d", (z(1, 1, 4, dtype=np.int32), 2), {}, TE, ("input", "int32"),
         torch_rejects=False),
    case("adaptive_avg_pool1d-int32", "adaptive_avg_pool1d", (z(1, 1, 5, dtype=np.int32), 2), {}, TE,
         ("input", "int32")),
    case("adaptive_max_pool2d-bool", "adaptive_max_pool2d", (z(1, 1, 5, 5, dtype=np.bool_), 2), {}, TE,
         ("input", "bool")),
    case("max_pool1d-bool", "max_pool1d", (z(1, 1, 5, dtype=np.bool_), 2), {}, TE, ("input", "bool")),
    case("max_pool2d-bool", "max_pool2d", (z(1, 1, 4, 4, dtype=np.bool_), 2), {}, TE, ("input", "bool")),
    case("lp_pool2d-int64", "lp_pool2d", (z(1, 1, 4, 4, dtype=np.int64), 2, 2), {}, TE, ("input", "int64"),
         torch_rejects=False),
    case("interpolate-int64-bilinear", "interpolate", (z(1, 1, 5, 5, dtype=np.int64),), {"size": 3, "mode": "bilinear"},
         TE, ("input", "int64")),
    case("interpolate-int64-nearest", "interpolate", (z(1, 1, 5, 5, dtype=np.int64),), {"size": 3}, TE,
         ("input", "int64")),
    case("interpolate-bool", "interpolate", (z(1, 1, 5, 5, dtype=np.bool_),), {"size": 3}, TE, ("input", "bool")),
    case("interpolate-int32-area", "interpolate", (z(1, 1, 5, dtype=np.int32),), {"size": 3, "mode": "area"}, TE,
         ("input", "int32")),
    # ---- input rank
    case("max_pool2d-2d-input", "max_pool2d", (z(5, 5), 2), {}, VE, ("input", ("(5, 5)", "[5, 5]"))),
    case("max_pool2d-5d-input", "max_pool2d", (z(1, 1, 1, 5, 5), 2), {}, VE, ("input", ("(1, 1, 1, 5, 5)",))),
    case("avg_pool1d-4d-input", "avg_pool1d", (z(1, 1, 1, 5), 2), {}, VE, ("input", "(1, 1, 1, 5)")),
    case("adaptive_avg_pool2d-1d-input", "adaptive_avg_pool2d", (z(5), 2), {}, VE, ("input", ("(5,)", "[5]"))),
]


def _check_message(message, checks):
    for check in checks[1:]:
        alternatives = (check,) if isinstance(check, str) else check
        assert any(a in message for a in alternatives), f"none of {alternatives!r} in message {message!r}"


@pytest.mark.parametrize("ours,theirs,exc,checks", CASES)
def test_bad_input_raises(ours, theirs, exc, checks):
    with pytest.raises(exc, match=checks[0]) as info:
        ours()
    _check_message(str(info.value), checks)
    if theirs is not None:
        with pytest.raises(Exception):
            theirs()


def test_errors_name_the_operation():
    """Messages start with the public function's name, like the convolution errors."""
    with pytest.raises(ValueError, match=r"^max_pool2d: "):
        CF.max_pool2d(X2, 3, padding=2)
    with pytest.raises(ValueError, match=r"^avg_pool3d: "):
        CF.avg_pool3d(X3, 2, stride=0)
    with pytest.raises(ValueError, match=r"^interpolate: "):
        CF.interpolate(X2)
    with pytest.raises(ValueError, match=r"^max_unpool2d: "):
        CF.max_unpool2d(z(1, 1, 2, 2), idx(1, 1, 2, 2, value=16), 2)
    with pytest.raises(ValueError, match=r"^pixel_shuffle: "):
        CF.pixel_shuffle(z(1, 5, 2, 2), 2)


def test_module_construction_and_call_errors():
    """Modules report the same errors when called (torch modules defer checks to forward)."""
    import convscope.nn as cnn
    with pytest.raises(ValueError, match="padding"):
        cnn.MaxPool2d(3, padding=2)(X2)
    with pytest.raises(ValueError, match="mode"):
        cnn.Upsample(size=3, mode="foo")(X2)
    with pytest.raises(ValueError, match="upscale_factor"):
        cnn.PixelShuffle(2)(z(1, 5, 2, 2))


def test_valid_edge_cases_do_not_raise():
    """The boundaries of the checks above are accepted and agree with torch."""
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    # padding exactly k // 2, also with dilation (the bound ignores dilation)
    assert CF.max_pool2d(X2, 3, padding=1, dilation=3).shape == tuple(F.max_pool2d(t(X2), 3, padding=1,
                                                                                    dilation=3).shape)
    assert CF.avg_pool1d(X1, 4, padding=2).shape == tuple(F.avg_pool1d(t(X1), 4, padding=2).shape)
    # kernel exactly as large as the padded input
    assert CF.max_pool2d(z(1, 1, 1, 1), 3, padding=1).shape == (1, 1, 1, 1)
    # avg_pool1d/2d accept inputs smaller than the kernel when padding makes them fit
    assert CF.avg_pool2d(z(1, 1, 1, 4), 2, 1, 1).shape == tuple(F.avg_pool2d(t(z(1, 1, 1, 4)), 2, 1, 1).shape)
    # adaptive output size 0 is accepted by torch (an empty result)
    assert CF.adaptive_avg_pool2d(X2, 0).shape == tuple(F.adaptive_avg_pool2d(t(X2), 0).shape)
    # unpool output sizes at both ends of the open range default +- stride
    v, i = z(1, 1, 2, 2), idx(1, 1, 2, 2)
    for size in [(3, 3), (5, 5), (1, 1, 3, 5)]:
        assert CF.max_unpool2d(v, i, 2, output_size=size).shape == \
            tuple(F.max_unpool2d(t(v), t(i), 2, output_size=size).shape)
    # pixel shuffle factor 1; align_corners=None with nearest; antialias with bicubic
    assert CF.pixel_shuffle(z(1, 3, 2, 2), 1).shape == (1, 3, 2, 2)
    assert CF.interpolate(X2, size=3, mode="nearest", align_corners=None).shape == (1, 2, 3, 3)
    assert CF.interpolate(X2, size=3, mode="bicubic", antialias=True, align_corners=True).shape == (1, 2, 3, 3)


# Empty dimensions: which ones each PyTorch kernel accepts.  Upsampling needs channels (and spatial
# sizes); adaptive average pooling in 1-d and 2-d checks only the spatial sizes; adaptive max pooling
# and 3-d adaptive average pooling check every dimension but the first (the channels of an unbatched
# input); im2col lets only the batch be empty.
def _empty_calls(n: int, batched: bool) -> dict:
    calls = {f"adaptive_avg_pool{n}d": lambda m, x: getattr(m, f"adaptive_avg_pool{n}d")(x, 2),
             f"adaptive_max_pool{n}d": lambda m, x: getattr(m, f"adaptive_max_pool{n}d")(x, 2)}
    if n == 2:
        calls["unfold"] = lambda m, x: m.unfold(x, 1)
    if batched:  # interpolate takes batched input only
        linear = {1: "linear", 2: "bilinear", 3: "trilinear"}[n]
        for mode in ("nearest", "nearest-exact", linear) + (("bicubic",) if n == 2 else ()):
            calls[f"interpolate {mode}"] = lambda m, x, mode=mode: m.interpolate(x, scale_factor=2, mode=mode)
        calls["interpolate area"] = lambda m, x: m.interpolate(x, size=(2,) * n, mode="area")
        if n == 2:
            calls["interpolate antialias"] = lambda m, x: m.interpolate(x, size=(2, 2), mode="bilinear",
                                                                          antialias=True)
    return calls


def _empty_cases():
    seen = set()
    for n in (1, 2, 3):
        for batch, channels, spatial in [(0, 3, 3), (2, 0, 3), (0, 0, 3), (2, 3, 0), (0, 3, 0)]:
            for unbatched in (False, True):
                shape = ((channels,) if unbatched else (batch, channels)) + (spatial,) + (3,) * (n - 1)
                if (shape, n) not in seen:
                    seen.add((shape, n))
                    yield pytest.param(shape, n, id=f"{n}d-{'x'.join(map(str, shape))}")


@pytest.mark.parametrize("shape, n", list(_empty_cases()))
def test_empty_dimensions_are_accepted_or_rejected_as_in_torch(shape, n):
    """For every op that treats empty dimensions specially: where torch returns, so do we (the same
    shape); where torch raises, we raise a ValueError."""
    x = np.zeros(shape, dtype=np.float32)
    for name, call in _empty_calls(n, batched=len(shape) == n + 2).items():
        try:
            expected = call(F, torch.from_numpy(x))
        except RuntimeError:
            with pytest.raises(ValueError):
                call(CF, x)
            continue
        assert np.shape(call(CF, x)) == tuple(expected.shape), name
