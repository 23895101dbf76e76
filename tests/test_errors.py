"""Bad arguments raise ``ValueError``/``TypeError`` whose message names the argument and the
offending value; where PyTorch rejects the same call, it is checked to raise too.

Each case is ``(convscope call, torch call or None, expected exception type, substrings)``:
the first substring is the ``pytest.raises(match=...)`` pattern (escaped), every substring must
appear in the message.  The torch call is ``None`` where torch accepts the input (convscope's
dtype restrictions) or where the argument form is convscope's own extension.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convscope.functional as CF


def z(*shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


def _torch(v):
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


def case(id, fn, args, kwargs, exc, substrings, torch_rejects=True):
    """One parametrized case calling ``fn`` on convscope and (if ``torch_rejects``) on torch."""
    ours = lambda: getattr(CF, fn)(*args, **kwargs)  # noqa: E731
    theirs = None
    if torch_rejects:
        theirs = lambda: getattr(F, fn)(*map(_torch, args), **{k: _torch(v) for k, v in kwargs.items()})  # noqa
    if isinstance(substrings, str):
        substrings = (substrings,)
    return pytest.param(ours, theirs, exc, substrings, id=id)


VE, TE = ValueError, TypeError
X2, W2 = z(1, 2, 5, 5), z(3, 2, 3, 3)
X2T, W2T = z(1, 2, 5, 5), z(2, 3, 3, 3)

CASES = [
    # ---- input / weight rank
    case("conv2d-2d-input", "conv2d", (z(3, 5), W2), {}, VE, ("input of shape [3, 5]", "3D (unbatched) or 4D")),
    case("conv1d-4d-input", "conv1d", (z(1, 1, 1, 5), z(1, 1, 3)), {}, VE, "input of shape [1, 1, 1, 5]"),
    case("conv3d-3d-input", "conv3d", (z(5, 5, 5), z(1, 1, 3, 3, 3)), {}, VE, "input of shape [5, 5, 5]"),
    case("conv3d-6d-input", "conv3d", (z(1, 1, 1, 3, 3, 3), z(1, 1, 3, 3, 3)), {}, VE,
         "input of shape [1, 1, 1, 3, 3, 3]"),
    case("convT2d-5d-input", "conv_transpose2d", (z(2, 1, 3, 3, 3), z(1, 1, 3, 3)), {}, VE,
         "input of shape [2, 1, 3, 3, 3]"),
    case("conv2d-3d-weight", "conv2d", (X2, z(3, 2, 3)), {}, VE, "weight of shape [3, 2, 3]"),
    case("convT1d-2d-weight", "conv_transpose1d", (z(1, 2, 5), z(2, 3)), {}, VE, "weight of shape [2, 3]"),
    # ---- channels and groups
    case("conv2d-channels", "conv2d", (z(1, 3, 5, 5), z(4, 2, 3, 3)), {}, VE,
         ("to have 2 channels, but got 3 channels", "input [1, 3, 5, 5]", "weight of shape [4, 2, 3, 3]")),
    case("conv2d-channels-unbatched", "conv2d", (z(3, 5, 5), z(4, 2, 3, 3)), {}, VE,
         ("to have 2 channels, but got 3 channels", "input [3, 5, 5]")),
    case("convT2d-channels", "conv_transpose2d", (z(1, 3, 5, 5), z(2, 4, 3, 3)), {}, VE,
         ("to have 2 channels, but got 3 channels", "weight of shape [2, 4, 3, 3]")),
    case("conv2d-in-channels-not-divisible", "conv2d", (z(1, 3, 5, 5), z(4, 1, 3, 3)), {"groups": 2}, VE,
         ("groups=2", "to have 2 channels, but got 3 channels")),
    case("conv2d-out-channels-not-divisible", "conv2d", (z(1, 4, 5, 5), z(5, 2, 3, 3)), {"groups": 2}, VE,
         ("groups=2", "weight of shape [5, 2, 3, 3]", "divisible by 2")),
    case("conv1d-depthwise-multiplier-not-divisible", "conv1d", (z(1, 4, 5), z(6, 1, 3)), {"groups": 4}, VE,
         ("groups=4", "weight of shape [6, 1, 3]")),
    case("convT2d-in-channels-not-divisible", "conv_transpose2d", (z(1, 3, 5, 5), z(3, 2, 3, 3)),
         {"groups": 2}, VE, ("groups=2", "weight of shape [3, 2, 3, 3]")),
    case("conv2d-groups-0", "conv2d", (X2, W2), {"groups": 0}, VE, "groups=0"),
    case("conv2d-groups-negative", "conv2d", (X2, W2), {"groups": -1}, VE, "groups=-1"),
    case("convT1d-groups-0", "conv_transpose1d", (z(1, 2, 5), z(2, 3, 3)), {"groups": 0}, VE, "groups=0"),
    case("conv3d-groups-negative", "conv3d", (z(1, 2, 3, 3, 3), z(2, 2, 1, 1, 1)), {"groups": -2}, VE,
         "groups=-2"),
    case("conv2d-groups-bool", "conv2d", (X2, W2), {"groups": True}, VE, "groups=True"),
    # ---- stride / dilation
    case("conv2d-stride-0", "conv2d", (X2, W2), {"stride": 0}, VE, ("stride=(0, 0)", "non-positive stride")),
    case("conv2d-stride-negative", "conv2d", (X2, W2), {"stride": (1, -2)}, VE, "stride=(1, -2)"),
    case("conv2d-dilation-0", "conv2d", (X2, W2), {"dilation": 0}, VE, ("dilation=(0, 0)", "non-positive dilation")),
    case("conv3d-dilation-0", "conv3d", (z(1, 1, 5, 5, 5), z(1, 1, 2, 2, 2)), {"dilation": (1, 0, 1)}, VE,
         "dilation=(1, 0, 1)"),
    case("convT2d-stride-0", "conv_transpose2d", (X2T, W2T), {"stride": (0, 1)}, VE, "stride=(0, 1)"),
    case("convT1d-dilation-negative", "conv_transpose1d", (z(1, 2, 5), z(2, 3, 3)), {"dilation": -1}, VE,
         "dilation=(-1,)"),
    case("conv2d-stride-float", "conv2d", (X2, W2), {"stride": 1.5}, TE, ("stride", "1.5")),
    # ---- negative padding
    case("conv2d-padding-negative", "conv2d", (X2, W2), {"padding": -1}, VE, ("padding=-1", "negative padding")),
    case("conv2d-padding-negative-tuple", "conv2d", (X2, W2), {"padding": (1, -1)}, VE, "padding=(1, -1)"),
    case("conv1d-padding-negative", "conv1d", (z(1, 1, 5), z(1, 1, 3)), {"padding": -2}, VE, "padding=-2"),
    case("convT2d-padding-negative", "conv_transpose2d", (X2T, W2T), {"padding": -1}, VE,
         ("padding=-1", "negative padding")),
    case("convT1d-padding-negative-tuple", "conv_transpose1d", (z(1, 2, 5), z(2, 3, 3)), {"padding": (-2,)}, VE,
         "padding=(-2,)"),
    case("conv2d-padding-negative-pair", "conv2d", (X2, W2), {"padding": ((0, -1), (0, 0))}, VE,
         "padding=((0, -1), (0, 0))", torch_rejects=False),
    case("convT2d-padding-negative-pair", "conv_transpose2d", (X2T, W2T), {"padding": ((0, 0), (-1, 0))}, VE,
         "padding=((0, 0), (-1, 0))", torch_rejects=False),
    case("conv2d-padding-wrong-pair-count", "conv2d", (X2, W2), {"padding": ((1, 1),)}, VE,
         "padding=((1, 1),)", torch_rejects=False),
    case("conv2d-padding-triple-in-pairs", "conv2d", (X2, W2), {"padding": ((1, 1, 1), (0, 0))}, VE,
         "padding=((1, 1, 1), (0, 0))", torch_rejects=False),
    # ---- output_padding
    case("convT2d-output-padding-eq-stride", "conv_transpose2d", (X2T, W2T), {"stride": 2, "output_padding": 2},
         VE, ("output_padding=(2, 2)", "stride=(2, 2)", "dilation=(1, 1)")),
    case("convT1d-output-padding-stride-1", "conv_transpose1d", (z(1, 2, 5), z(2, 3, 3)), {"output_padding": 1},
         VE, ("output_padding=(1,)", "stride=(1,)")),
    case("convT2d-output-padding-ge-both", "conv_transpose2d", (X2T, W2T),
         {"stride": (2, 1), "dilation": (1, 3), "output_padding": (1, 3)}, VE,
         ("output_padding=(1, 3)", "stride=(2, 1)", "dilation=(1, 3)")),
    case("convT3d-output-padding", "conv_transpose3d", (z(1, 1, 3, 3, 3), z(1, 1, 2, 2, 2)),
         {"stride": 2, "output_padding": (0, 2, 0)}, VE, "output_padding=(0, 2, 0)"),
    case("convT2d-output-padding-negative", "conv_transpose2d", (X2T, W2T), {"output_padding": -1}, VE,
         ("output_padding", "(-1, -1)")),
    # ---- output size below 1
    case("conv2d-kernel-larger-than-input", "conv2d", (z(1, 1, 3, 3), z(1, 1, 5, 5)), {}, VE,
         ("padded input size (3, 3)", "kernel size (5, 5)")),
    case("conv2d-kernel-larger-than-padded", "conv2d", (z(1, 1, 2, 2), z(1, 1, 5, 5)), {"padding": 1}, VE,
         ("padded input size (4, 4)", "(5, 5)")),
    case("conv1d-dilated-kernel-too-large", "conv1d", (z(1, 1, 5), z(1, 1, 3)), {"dilation": 3}, VE,
         ("padded input size (5,)", "dilated kernel size (7,)", "dilation (3,)")),
    case("conv3d-one-dim-too-small", "conv3d", (z(1, 1, 4, 1, 4), z(1, 1, 2, 2, 2)), {}, VE,
         ("padded input size (4, 1, 4)", "(2, 2, 2)")),
    case("conv2d-empty-spatial", "conv2d", (z(1, 1, 0, 4), z(1, 1, 1, 1)), {}, VE, "padded input size (0, 4)"),
    case("convT1d-output-negative", "conv_transpose1d", (z(1, 1, 2), z(1, 1, 2)), {"padding": 2}, VE,
         ("output size (-1,)", "padding ((2, 2),)")),
    case("convT2d-output-zero", "conv_transpose2d", (z(1, 1, 2, 2), z(1, 1, 1, 1)), {"padding": (0, 1)}, VE,
         ("output size (2, 0)", "padding ((0, 0), (1, 1))")),
    # ---- padding strings
    case("conv2d-same-strided", "conv2d", (X2, W2), {"padding": "same", "stride": 2}, VE,
         ("padding='same'", "stride=(2, 2)")),
    case("conv1d-same-strided", "conv1d", (z(1, 1, 5), z(1, 1, 3)), {"padding": "same", "stride": (3,)}, VE,
         ("padding='same'", "stride=(3,)")),
    case("conv3d-same-strided-one-dim", "conv3d", (z(1, 1, 4, 4, 4), z(1, 1, 3, 3, 3)),
         {"padding": "same", "stride": (1, 1, 2)}, VE, "stride=(1, 1, 2)"),
    case("conv2d-padding-full", "conv2d", (X2, W2), {"padding": "full"}, VE, ("padding", "'full'")),
    case("conv2d-padding-SAME", "conv2d", (X2, W2), {"padding": "SAME"}, VE, ("padding", "'SAME'")),
    case("convT2d-padding-same", "conv_transpose2d", (X2T, W2T), {"padding": "same"}, TE, ("padding", "'same'")),
    case("convT1d-padding-valid", "conv_transpose1d", (z(1, 2, 5), z(2, 3, 3)), {"padding": "valid"}, TE,
         ("padding", "'valid'")),
    # ---- tuple lengths
    case("conv2d-stride-3-tuple", "conv2d", (X2, W2), {"stride": (1, 2, 3)}, VE, "stride=(1, 2, 3)"),
    case("conv3d-dilation-2-tuple", "conv3d", (z(1, 1, 5, 5, 5), z(1, 1, 2, 2, 2)), {"dilation": (1, 2)}, VE,
         "dilation=(1, 2)"),
    case("conv1d-padding-2-tuple", "conv1d", (z(1, 1, 5), z(1, 1, 3)), {"padding": (1, 1)}, VE, "padding=(1, 1)"),
    case("convT2d-output-padding-3-tuple", "conv_transpose2d", (X2T, W2T), {"stride": 2, "output_padding": (1, 0, 0)},
         VE, "output_padding=(1, 0, 0)"),
    # ---- dtypes (convscope computes in float32/float64 only; torch accepts several of these)
    case("conv2d-int64", "conv2d", (z(1, 2, 5, 5, dtype=np.int64), z(3, 2, 3, 3, dtype=np.int64)), {}, TE,
         ("input", "int64"), torch_rejects=False),
    case("conv2d-int32-weight-int32", "conv2d", (z(1, 2, 5, 5, dtype=np.int32), z(3, 2, 3, 3, dtype=np.int32)), {},
         TE, ("input", "int32"), torch_rejects=False),
    case("conv2d-bool", "conv2d", (z(1, 2, 5, 5, dtype=np.bool_), z(3, 2, 3, 3, dtype=np.bool_)), {}, TE,
         ("input", "bool")),
    case("conv2d-complex", "conv2d", (z(1, 2, 5, 5, dtype=np.complex128), z(3, 2, 3, 3, dtype=np.complex128)), {},
         TE, ("input", "complex128"), torch_rejects=False),
    case("conv2d-float16", "conv2d", (z(1, 2, 5, 5, dtype=np.float16), z(3, 2, 3, 3, dtype=np.float16)), {}, TE,
         ("input", "float16"), torch_rejects=False),
    case("convT1d-float16", "conv_transpose1d", (z(1, 2, 5, dtype=np.float16), z(2, 3, 3, dtype=np.float16)), {},
         TE, ("input", "float16"), torch_rejects=False),
    case("conv3d-int64", "conv3d", (z(1, 1, 3, 3, 3, dtype=np.int64), z(1, 1, 1, 1, 1, dtype=np.int64)), {}, TE,
         ("input", "int64"), torch_rejects=False),
    case("conv2d-int-weight", "conv2d", (X2, z(3, 2, 3, 3, dtype=np.int64)), {}, TE, ("weight", "int64")),
    case("conv2d-int-bias", "conv2d", (X2, W2, z(3, dtype=np.int64)), {}, TE, ("bias", "int64")),
    case("conv2d-complex-weight", "conv2d", (X2, z(3, 2, 3, 3, dtype=np.complex64)), {}, TE,
         ("weight", "complex64")),
    case("unfold-int", "unfold", (z(1, 1, 4, 4, dtype=np.int64), 2), {}, TE, ("input", "int64"),
         torch_rejects=False),
    case("fold-float16", "fold", (z(1, 4, 9, dtype=np.float16), (4, 4), 2), {}, TE, ("input", "float16"),
         torch_rejects=False),
    case("conv2d-string-input", "conv2d", ("abc", W2), {}, TE, ("input", "str")),
    # ---- mismatched dtypes
    case("conv2d-f32-input-f64-weight", "conv2d", (z(1, 2, 5, 5, dtype=np.float32), W2), {}, TE,
         ("input has dtype float32 but weight has dtype float64",)),
    case("conv2d-f64-input-f32-weight", "conv2d", (X2, z(3, 2, 3, 3, dtype=np.float32)), {}, TE,
         "input has dtype float64 but weight has dtype float32"),
    case("conv2d-f64-bias", "conv2d", (z(1, 2, 5, 5, dtype=np.float32), z(3, 2, 3, 3, dtype=np.float32), z(3)), {},
         TE, "input has dtype float32 but bias has dtype float64"),
    case("convT1d-mismatch", "conv_transpose1d", (z(1, 2, 5), z(2, 3, 3, dtype=np.float32)), {}, TE,
         "weight has dtype float32"),
    # torch 2.13 accepts a float32 bias with float64 input/weight in conv_transpose (not in conv);
    # convscope rejects mixed dtypes uniformly.
    case("convT2d-bias-mismatch", "conv_transpose2d", (X2T, W2T, z(3, dtype=np.float32)), {}, TE,
         "bias has dtype float32", torch_rejects=False),
    # ---- bias shape
    case("conv2d-bias-too-short", "conv2d", (X2, W2, z(2)), {}, VE, ("bias of shape [2]", "3 elements")),
    case("conv2d-bias-2d", "conv2d", (X2, W2, z(3, 1)), {}, VE, ("bias of shape [3, 1]", "1-dimensional")),
    case("conv1d-bias-scalar", "conv1d", (z(1, 1, 5), z(2, 1, 3), z()), {}, VE, ("bias of shape []", "2 elements")),
    case("convT2d-bias-wrong", "conv_transpose2d", (X2T, W2T, z(2)), {}, VE, ("bias of shape [2]", "3 elements")),
    case("convT2d-bias-groups", "conv_transpose2d", (z(1, 4, 3, 3), z(4, 3, 2, 2), z(3)), {"groups": 2}, VE,
         ("bias of shape [3]", "6 elements")),
    # ---- pad
    case("pad-reflect-eq-size", "pad", (z(1, 2, 3), (3, 0)), {"mode": "reflect"}, VE,
         ("reflect padding", "(3, 0)", "size 3")),
    case("pad-reflect-2d-high", "pad", (z(1, 1, 4, 3), (0, 0, 1, 4)), {"mode": "reflect"}, VE,
         ("(1, 4)", "size 4")),
    case("pad-reflect-3d-unbatched", "pad", (z(1, 2, 3, 4), (0, 0, 0, 0, 2, 0)), {"mode": "reflect"}, VE,
         ("(2, 0)", "size 2")),
    case("pad-circular-wraps-twice", "pad", (z(1, 2, 3), (4, 0)), {"mode": "circular"}, VE,
         ("circular padding (4, 0)", "more than once")),
    # torch 2.13 does not reject this call on a (1, 2, 3) input: it returns uninitialized memory
    # in the first column (and raises on a (1, 1, 3) input), so only convscope is checked.
    case("pad-circular-after-crop", "pad", (z(1, 2, 3), (3, -1)), {"mode": "circular"}, VE,
         ("circular padding (3, -1)", "2 elements"), torch_rejects=False),
    case("pad-circular-2d", "pad", (z(1, 1, 2, 5), (0, 0, 0, 3)), {"mode": "circular"}, VE,
         "circular padding (0, 3)"),
    case("pad-odd-length", "pad", (z(2, 3), (1, 2, 1)), {}, VE, ("pad=(1, 2, 1)", "divisible by 2")),
    case("pad-odd-length-reflect", "pad", (z(1, 2, 3), (1,)), {"mode": "reflect"}, VE, "pad=(1,)"),
    case("pad-too-long", "pad", (z(2, 3), (1, 1, 1, 1, 1, 1)), {}, VE, ("pad=(1, 1, 1, 1, 1, 1)", "2 dimensions")),
    case("pad-reflect-1d-input", "pad", (z(5), (1, 1)), {"mode": "reflect"}, VE, ("shape (5,)", "reflect")),
    case("pad-replicate-5d-input-1-dim", "pad", (z(1, 1, 1, 3, 5), (1, 1)), {"mode": "replicate"}, VE,
         "shape (1, 1, 1, 3, 5)"),
    case("pad-circular-4-dims", "pad", (z(2, 3, 4, 5, 6, 7), (1,) * 8), {"mode": "circular"}, VE,
         ("pad of length 8", "shape (2, 3, 4, 5, 6, 7)")),
    case("pad-reflect-2-dims-on-2d", "pad", (z(3, 4), (1, 1, 1, 1)), {"mode": "reflect"}, VE, "shape (3, 4)"),
    case("pad-bad-mode", "pad", (z(1, 2, 5), (1, 1)), {"mode": "wrap"}, VE, "mode='wrap'"),
    case("pad-value-with-reflect", "pad", (z(1, 2, 5), (1, 1)), {"mode": "reflect", "value": 1.0}, VE,
         ("value=1.0", "'reflect'")),
    case("pad-float-amount", "pad", (z(1, 2, 5), (1.5, 1)), {}, TE, ("pad", "1.5")),
    case("pad-constant-negative-size", "pad", (z(2, 3), (-2, -2)), {}, VE, ("(-2, -2)", "size 3")),
    case("pad-complex", "pad", (z(2, 3, dtype=np.complex128), (1, 1)), {}, TE, ("input", "complex128"),
         torch_rejects=False),
    # ---- unfold / fold
    case("unfold-2d-input", "unfold", (z(3, 4), 2), {}, VE, ("input", "shape (3, 4)")),
    case("unfold-5d-input", "unfold", (z(1, 1, 1, 3, 4), 2), {}, VE, ("input", "shape (1, 1, 1, 3, 4)")),
    case("fold-4d-input", "fold", (z(1, 4, 4, 5), (3, 3), 2), {}, VE, ("input", "shape (1, 4, 4, 5)")),
    case("fold-1d-input", "fold", (z(4), (3, 3), 2), {}, VE, ("input", "shape (4,)")),
    case("fold-block-count", "fold", (z(1, 4, 5), (3, 3), 2), {}, VE,
         ("sliding blocks 2 * 2 = 4", "but got 5", "output_size=(3, 3)")),
    case("fold-block-count-unbatched", "fold", (z(8, 3), (4, 3), 2), {"stride": (2, 1)}, VE,
         ("2 * 2 = 4", "but got 3")),
    case("fold-channels-not-divisible", "fold", (z(1, 5, 4), (3, 3), 2), {}, VE,
         ("dimension 1 (5)", "kernel_size (2, 2) = 4")),
    case("unfold-kernel-too-large", "unfold", (z(1, 1, 3, 3), 4), {}, VE,
         ("kernel_size=(4, 4)", "would have shape (0, 0)")),
    case("fold-kernel-too-large", "fold", (z(1, 16, 1), (3, 3), 4), {}, VE, "kernel_size=(4, 4)"),
    case("unfold-stride-0", "unfold", (z(1, 1, 4, 4), 2), {"stride": 0}, VE, "stride=(0, 0)"),
    case("unfold-dilation-negative", "unfold", (z(1, 1, 4, 4), 2), {"dilation": (1, -1)}, VE, "dilation=(1, -1)"),
    case("fold-kernel-0", "fold", (z(1, 4, 9), (4, 4), (0, 2)), {}, VE, "kernel_size=(0, 2)"),
    case("unfold-padding-negative", "unfold", (z(1, 1, 4, 4), 2), {"padding": -1}, VE, "padding=-1"),
    case("unfold-kernel-3-tuple", "unfold", (z(1, 1, 4, 4), (2, 2, 2)), {}, VE, "kernel_size=(2, 2, 2)"),
    case("fold-output-size-3-tuple", "fold", (z(1, 4, 4), (3, 3, 3), 2), {}, VE, "output_size=(3, 3, 3)"),
    case("unfold-padding-string", "unfold", (z(1, 1, 4, 4), 2), {"padding": "same"}, TE, ("padding", "'same'")),
    # ---- batch norm (torch raises RuntimeError for the missing running statistics: only convscope is checked)
    case("batch-norm-eval-without-running-mean", "batch_norm", (z(4, 3, 2), None, None), {"training": False}, VE,
         ("running_mean", "evaluation mode"), torch_rejects=False),
    case("batch-norm-eval-without-running-var", "batch_norm", (z(4, 3, 2), z(3), None), {"training": False}, VE,
         ("running_var", "evaluation mode"), torch_rejects=False),
    case("batch-norm-one-value-per-channel", "batch_norm", (z(1, 3), None, None), {"training": True}, VE,
         ("more than 1 value per channel", "shape (1, 3)")),
    case("batch-norm-running-mean-size", "batch_norm", (z(2, 3, 4), z(4), z(3)), {"training": True}, VE,
         ("running_mean", "3 elements", "not 4")),
    case("batch-norm-weight-size", "batch_norm", (z(2, 3, 4), z(3), z(3)), {"weight": z(2)}, VE,
         ("weight", "3 elements", "not 2")),
]


@pytest.mark.parametrize("ours,theirs,exc,substrings", CASES)
def test_bad_input_raises(ours, theirs, exc, substrings):
    with pytest.raises(exc, match=re.escape(substrings[0])) as info:
        ours()
    message = str(info.value)
    for s in substrings[1:]:
        assert s in message, f"{s!r} not in message {message!r}"
    if theirs is not None:
        with pytest.raises(Exception):
            theirs()


def test_errors_name_the_operation():
    """Messages start with the public function's name so a user can tell which call failed."""
    with pytest.raises(ValueError, match=r"^conv_transpose3d: "):
        CF.conv_transpose3d(z(1, 1, 3, 3, 3), z(1, 1, 2, 2, 2), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"^conv1d: "):
        CF.conv1d(z(1, 1, 5), z(1, 1, 3), stride=0)
    with pytest.raises(ValueError, match=r"^fold: "):
        CF.fold(z(1, 4, 5), (3, 3), 2)
    with pytest.raises(ValueError, match=r"^pad: "):
        CF.pad(z(1, 2, 3), (3, 0), mode="reflect")


def test_valid_edge_cases_do_not_raise():
    """The boundaries of the checks above are accepted (and agree with torch)."""
    # output_padding < dilation although >= stride
    out = CF.conv_transpose1d(z(1, 1, 3), np.ones((1, 1, 2)), stride=1, dilation=3, output_padding=2)
    ref = F.conv_transpose1d(torch.zeros(1, 1, 3, dtype=torch.float64), torch.ones(1, 1, 2, dtype=torch.float64),
                             stride=1, dilation=3, output_padding=2)
    assert out.shape == tuple(ref.shape)
    # kernel exactly as large as the padded input: output size 1
    assert CF.conv2d(z(1, 1, 3, 3), z(1, 1, 5, 5), padding=1).shape == (1, 1, 1, 1)
    # 'same' with stride given as 1 explicitly
    assert CF.conv2d(X2, W2, padding="same", stride=(1, 1)).shape == (1, 3, 5, 5)
    # reflect pad = size - 1, circular pad = size
    assert CF.pad(z(1, 2, 3), (2, 2), mode="reflect").shape == (1, 2, 7)
    assert CF.pad(z(1, 2, 3), (3, 3), mode="circular").shape == (1, 2, 9)


def test_zero_channel_weight_is_rejected():
    with pytest.raises(ValueError, match=r"weight of shape \[3, 0, 3, 3\] has no channels"):
        CF.conv2d(np.zeros((1, 0, 5, 5)), np.zeros((3, 0, 3, 3)))


def test_constant_pad_cannot_crop_more_than_the_dimension():
    with pytest.raises(ValueError, match=r"padding \(-5, 6\) crops more than dimension 2 holds"):
        CF.pad(np.zeros((1, 2, 0)), (-5, 6))
