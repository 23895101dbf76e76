"""ONNX operator conformance cases, ported to ``convscope.functional``.

Source: the node test cases of the ONNX repository (github.com/onnx/onnx), files
``onnx/backend/test/case/node/<op>.py`` for ``conv``, ``convtranspose``, ``maxpool``,
``averagepool``, ``lppool``, ``maxunpool``, ``globalaveragepool``, ``globalmaxpool``, ``resize``,
``depthtospace``, ``spacetodepth``, ``col2im`` and ``pad``.  Each test id is the ONNX case name
(``expect(..., name=...)``), so a failure here can be looked up in ONNX directly.

Only cases whose ONNX semantics coincide exactly with PyTorch's (hence convscope's) are ported.
Where ONNX publishes a literal expected array, the input and the expected output are copied
literally.  Where ONNX computes the expected output with a reference helper from random data
(``np.random.randn`` without a seed), the same shapes are drawn here from a seeded generator and
the expected output comes from a minimal port of the ONNX helper: ``_onnx_pool`` (of
``onnx.reference.ops.op_pool_common.pool``), ``np.pad`` (which is all ONNX's ``pad_impl`` does),
``np.mean``/``np.max`` (GlobalAveragePool/GlobalMaxPool), and ``_onnx_nearest`` (ONNX Resize
nearest with ``half_pixel`` + ``round_prefer_floor``).  ``test_onnx_reference_ports`` checks the
ports reproduce ONNX's own literal arrays, so the random cases are judged by ONNX semantics, not
by torch.

Attribute mapping
-----------------
* Conv/ConvTranspose ``pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` ->
  ``padding=((x1_begin, x1_end), (x2_begin, x2_end), ...)`` (convscope's asymmetric padding).
  ``auto_pad=SAME_UPPER/SAME_LOWER`` -> the explicit pads ONNX derives (extra pad at the end /
  start).  ConvTranspose ``output_shape`` -> ONNX's ``total_padding`` split (begin gets
  ``total - total // 2``); a negative end pad (output longer than the default) becomes
  ``output_padding``, which likewise appends rows that receive no contribution.
* Pooling: ONNX's default stride is 1 (PyTorch's is the kernel size), so strides are always passed.
  Symmetric pads -> ``padding``.  Asymmetric pads or pads > kernel // 2 (PyTorch rejects them):
  MaxPool -> ``pad(x, ..., value=-inf)`` then pool; AveragePool with ``count_include_pad=1`` ->
  zero ``pad`` then pool; AveragePool with ``count_include_pad=0`` ->
  ``avg_pool(pad(x, 0)) / avg_pool(pad(ones, 0))`` (sum over count of real elements); LpPool ->
  zero ``pad`` (``|0|^p = 0``) then ``lp_pool``.  ``ceil_mode`` maps 1:1: both drop a last window
  that would start in the end padding.  AveragePool ``dilations`` (no PyTorch equivalent) with
  no pads and ``ceil_mode`` not changing the output -> ``conv`` with a dilated all-``1/k`` kernel.
* LpPool: ONNX sums ``|x|^p``, PyTorch ``x^p``; equal only for even ``p`` (or non-negative data),
  so only even-``p`` cases are ported.
* Resize: ``half_pixel`` linear/cubic (``cubic_coeff_a=-0.75``, ``exclude_outside=0``,
  ``antialias=0``) = ``align_corners=False``; ``align_corners`` = ``align_corners=True`` when the
  scale is integral (ONNX uses ``(in - 1) / (in * scale - 1)``, PyTorch ``(in - 1) / (out - 1)``
  with the floored ``out``); ``scales`` -> ``scale_factor`` (PyTorch then uses ``1/scale`` for the
  coordinates, like ONNX), ``sizes`` -> ``size``.  ONNX's default nearest (``half_pixel`` +
  ``round_prefer_floor``) equals ``nearest-exact`` (``half_pixel`` + round-half-up) except where a
  source coordinate is exactly ``i + 0.5``; cases are ported only when the test proves no such tie.
* DepthToSpace ``mode=CRD`` = ``pixel_shuffle``; SpaceToDepth = ``pixel_unshuffle`` when C == 1
  (ONNX orders output channels block-major, PyTorch channel-major).
* Col2Im = ``fold`` (2 spatial dims, per-dimension symmetric pads).
* Pad ``constant``/``edge``/``reflect``/``wrap`` = ``pad`` ``constant``/``replicate``/``reflect``/
  ``circular``.

Tolerances: float32 results ``rtol=1e-5, atol=1e-6`` (ONNX's own runner is looser:
``rtol=1e-3, atol=1e-7``); resize cases compared with the arrays ONNX prints to 8 significant
digits use ``rtol=1e-5, atol=1e-5``; integer outputs (argmax indices, integer pads/pools) exactly.

ONNX cases not ported, and why
------------------------------
* conv.py: none left out.
* convtranspose.py: ``test_convtranspose_group_2``, ``test_convtranspose_group_2_image_3`` (their
  source was not in the available copy of convtranspose.py, so the published arrays could not be
  copied); ``test_convtranspose_with_kernel`` (a data-only legacy case with no exporter in the case
  files; it is the same node as ``test_convtranspose_kernel_shape``, which is ported).
* maxpool.py: ``test_maxpool_with_argmax_2d_precomputed_strides`` (``storage_order=1``:
  column-major indices, PyTorch has only row-major).
* averagepool.py: ``test_averagepool_2d_ceil_last_window_starts_on_pad`` (ONNX's published output,
  e.g. 0.1511 = sum / 9, counts the padding although the node has ``count_include_pad=0``; PyTorch
  with ``count_include_pad=False`` gives 0.3399 = sum / 4, so no exact translation);
  ``test_averagepool_3d_dilations_large_count_include_pad_is_{0,1}_ceil_mode_is_True`` (dilated
  average pooling exists in PyTorch only as a convolution, which cannot express the partial last
  window of ``ceil_mode``).
* lppool.py: ``test_lppool_1d_default``, ``test_lppool_3d_default``, ``test_lppool_2d_pads``
  (``p=3`` on signed random data: ``|x|^3 != x^3``); ``test_lppool_2d_dilations`` (PyTorch's
  ``lp_pool`` has no dilation).
* maxunpool.py: ``test_maxunpool_export_with_output_shape`` (ONNX places values by their indices
  in the default 4x4 output and then pads to 5x5; PyTorch reads the same flat indices in the
  5x5 plane, e.g. index 5 -> (1, 0) instead of (1, 1)).
* depthtospace.py: ``test_depthtospace_example`` (``mode=DCR``), ``test_depthtospace_dcr_nonsquare``
  (DCR), and the older data-only ``test_depthtospace_dcr_mode``/``test_depthtospace_crd_mode``
  (no exporter in the case file).
* spacetodepth.py: ``test_spacetodepth`` (C = 2: channel order differs from ``pixel_unshuffle``).
* col2im.py: ``test_col2im_5d`` (``fold`` is 2-D only).
* pad.py: ``test_constant_pad_negative_axes`` (not in the available copy of pad.py).
* resize.py:
  ``test_resize_upsample_sizes_nearest``, ``test_resize_downsample_sizes_nearest``,
  ``test_resize_upsample_sizes_nearest_axes_2_3``, ``test_resize_upsample_sizes_nearest_axes_3_2``,
  ``test_resize_upsample_sizes_nearest_not_larger``,
  ``test_resize_downsample_sizes_nearest_not_larger``,
  ``test_resize_downsample_sizes_nearest_not_smaller`` (a source coordinate lands exactly on
  ``i + 0.5``, where ``round_prefer_floor`` and ``nearest-exact`` differ; PyTorch's ``nearest``
  sometimes matches by coincidence, but it is not the same formula);
  ``test_resize_downsample_scales_linear_align_corners``,
  ``test_resize_downsample_scales_cubic_align_corners`` (non-integral ``in * scale``, see above);
  ``test_resize_upsample_scales_cubic_A_n0p5_exclude_outside``,
  ``test_resize_downsample_scales_cubic_A_n0p5_exclude_outside`` (``cubic_coeff_a=-0.5``,
  ``exclude_outside``); ``test_resize_upsample_scales_cubic_asymmetric`` (no asymmetric cubic in
  PyTorch); ``test_resize_tf_crop_and_resize``, ``..._axes_2_3``, ``..._axes_3_2``,
  ``..._extrapolation_value`` (``tf_crop_and_resize``);
  ``test_resize_downsample_sizes_linear_pytorch_half_pixel`` (for an output length of 1 ONNX
  samples coordinate 0, PyTorch 2.13 samples the centre: 3.1667 vs 1.6667);
  ``test_resize_upsample_sizes_nearest_floor_align_corners``,
  ``test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric``,
  ``test_resize_upsample_sizes_nearest_ceil_half_pixel``,
  ``test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn`` (nearest modes PyTorch lacks);
  ``test_resize_downsample_scales_linear_antialias``, ``test_resize_downsample_sizes_linear_antialias``
  (ONNX's antialiased filter differs from PyTorch's: 2.875 vs 3.1429),
  ``test_resize_downsample_scales_cubic_antialias``, ``test_resize_downsample_sizes_cubic_antialias``
  (ONNX uses A = -0.75 there, PyTorch's antialiased bicubic A = -0.5);
  ``test_resize_upsample_scales_linear_half_pixel_symmetric``,
  ``test_resize_downsample_scales_linear_half_pixel_symmetric`` (no ``half_pixel_symmetric`` in PyTorch).
"""
from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

import convscope.functional as CF

RTOL, ATOL = 1e-5, 1e-6
# ONNX prints the resize expectations to ~8 significant digits.
RESIZE_RTOL, RESIZE_ATOL = 1e-5, 1e-5

CASES: dict[str, object] = {}


def case(fn):
    """Register an ONNX case under its ONNX name (the function name)."""
    CASES[fn.__name__] = fn
    fn.__test__ = False  # run once, through test_onnx_case, not again as a module-level test
    return fn


def f32(a):
    return np.array(a, dtype=np.float32)


def rng_for(name: str) -> np.random.Generator:
    # ONNX draws these inputs unseeded; a per-case seed keeps failures reproducible.
    return np.random.default_rng(zlib.crc32(name.encode()))


def randn(name: str, *shape) -> np.ndarray:
    return rng_for(name).standard_normal(shape).astype(np.float32)


def assert_close(got, expected, rtol=RTOL, atol=ATOL):
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if np.issubdtype(expected.dtype, np.integer):
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- attribute mapping

def conv_padding(pads):
    """ONNX ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` -> ``((x1_begin, x1_end), ...)``."""
    n = len(pads) // 2
    return tuple((pads[i], pads[i + n]) for i in range(n))


def torch_pad_tuple(pairs):
    """Per-dimension ``(begin, end)`` pairs, first spatial dim first -> ``F.pad`` order (last dim first)."""
    out = []
    for begin, end in reversed(pairs):
        out += [begin, end]
    return tuple(out)


def same_pads(mode, in_sizes, kernel, strides, dilations=None):
    """ONNX auto_pad SAME_UPPER/SAME_LOWER for Conv and pooling: output ceil(in / stride)."""
    dilations = dilations or [1] * len(in_sizes)
    pairs = []
    for size, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        pairs.append((small, big) if mode == "SAME_UPPER" else (big, small))
    return tuple(pairs)


def convtranspose_from_output_shape(in_sizes, kernel, strides, output_shape, output_padding=None,
                                    dilations=None):
    """ONNX ConvTranspose ``output_shape`` -> (padding pairs, output_padding) for PyTorch."""
    n = len(in_sizes)
    output_padding = list(output_padding or [0] * n)
    dilations = dilations or [1] * n
    pairs, extra = [], []
    for i in range(n):
        total = (strides[i] * (in_sizes[i] - 1) + output_padding[i]
                 + (kernel[i] - 1) * dilations[i] + 1 - output_shape[i])
        begin, end = total - total // 2, total // 2
        assert begin >= 0
        # A negative end pad appends rows that no input reaches: PyTorch's output_padding.
        extra.append(output_padding[i] + max(0, -end))
        pairs.append((begin, max(0, end)))
    return tuple(pairs), tuple(extra)


# --------------------------------------------------------------------------- ONNX reference ports

def _onnx_pool(x, kind, kernel, strides, pads=None, dilations=None, ceil_mode=False,
               count_include_pad=0, p=2):
    """Minimal port of ``onnx.reference.ops.op_pool_common.pool`` with explicit pads.

    Explicit pads are excluded from MAX/AVG(count_include_pad=0)/LP (LP adds ``|0|^p = 0`` anyway)
    and counted as zeros by AVG(count_include_pad=1).  The extra end region that ``ceil_mode``
    windows reach is always excluded (for MaxPool ONNX's helper pads it with 0 in
    ``..._use_ref_impl_large``, which only matters for an all-negative window of 100 normals).
    """
    x = np.asarray(x, dtype=np.float64)
    spatial = x.shape[2:]
    n = len(spatial)
    pads = list(pads or [0] * (2 * n))
    dilations = list(dilations or [1] * n)
    out_shape, extents = [], []
    for i in range(n):
        dk = (kernel[i] - 1) * dilations[i] + 1
        span = spatial[i] + pads[i] + pads[i + n] - dk
        o = (math.ceil(span / strides[i]) if ceil_mode else span // strides[i]) + 1
        if ceil_mode and (o - 1) * strides[i] >= spatial[i] + pads[i]:
            o -= 1  # the last window would start in the end padding
        out_shape.append(o)
        extents.append(max(spatial[i] + pads[i] + pads[i + n], (o - 1) * strides[i] + dk))
    padded = np.full(x.shape[:2] + tuple(extents), np.nan)
    if kind == "AVG" and count_include_pad:
        padded[(slice(None), slice(None)) + tuple(
            slice(0, spatial[i] + pads[i] + pads[i + n]) for i in range(n))] = 0.0
    padded[(slice(None), slice(None)) + tuple(
        slice(pads[i], pads[i] + spatial[i]) for i in range(n))] = x
    y = np.empty(x.shape[:2] + tuple(out_shape))
    for pos in itertools.product(*[range(o) for o in out_shape]):
        window = padded[(slice(None), slice(None)) + tuple(
            slice(pos[i] * strides[i], pos[i] * strides[i] + (kernel[i] - 1) * dilations[i] + 1,
                  dilations[i]) for i in range(n))].reshape(x.shape[:2] + (-1,))
        if kind == "MAX":
            v = np.nanmax(window, axis=-1)
        elif kind == "AVG":
            v = np.nanmean(window, axis=-1)
        else:
            v = np.nansum(np.abs(window) ** p, axis=-1) ** (1.0 / p)
        y[(slice(None), slice(None)) + pos] = v
    return y.astype(np.float32)


def _half_pixel_sources(in_size, out_size, scale):
    return (np.arange(out_size) + 0.5) / scale - 0.5


def _onnx_nearest(x, out_sizes, scales):
    """ONNX Resize nearest, ``half_pixel`` + ``round_prefer_floor`` (the defaults), spatial dims."""
    y = np.asarray(x)
    for axis, (out, scale) in enumerate(zip(out_sizes, scales), start=2):
        src = _half_pixel_sources(y.shape[axis], out, scale)
        idx = np.ceil(src - 0.5).astype(int)  # round half down
        y = np.take(y, np.clip(idx, 0, y.shape[axis] - 1), axis=axis)
    return y


def assert_no_half_pixel_ties(in_sizes, out_sizes, scales):
    """The precondition for ONNX default nearest == ``nearest-exact``: no source at ``i + 0.5``."""
    for size, out, scale in zip(in_sizes, out_sizes, scales):
        frac = np.mod(_half_pixel_sources(size, out, scale), 1.0)
        assert not np.any(np.isclose(frac, 0.5, atol=1e-6)), (size, out, scale)


# --------------------------------------------------------------------------- conv.py

CONV_X5 = f32([[[[0., 1., 2., 3., 4.],
                 [5., 6., 7., 8., 9.],
                 [10., 11., 12., 13., 14.],
                 [15., 16., 17., 18., 19.],
                 [20., 21., 22., 23., 24.]]]])
CONV_X7 = f32([[[[0., 1., 2., 3., 4.],
                 [5., 6., 7., 8., 9.],
                 [10., 11., 12., 13., 14.],
                 [15., 16., 17., 18., 19.],
                 [20., 21., 22., 23., 24.],
                 [25., 26., 27., 28., 29.],
                 [30., 31., 32., 33., 34.]]]])
CONV_W = np.ones((1, 1, 3, 3), dtype=np.float32)


@case
def test_basic_conv_with_padding():
    y = f32([[[[12., 21., 27., 33., 24.],
               [33., 54., 63., 72., 51.],
               [63., 99., 108., 117., 81.],
               [93., 144., 153., 162., 111.],
               [72., 111., 117., 123., 84.]]]])
    assert_close(CF.conv2d(CONV_X5, CONV_W, padding=conv_padding([1, 1, 1, 1])), y)


@case
def test_basic_conv_without_padding():
    y = f32([[[[54., 63., 72.],
               [99., 108., 117.],
               [144., 153., 162.]]]])
    assert_close(CF.conv2d(CONV_X5, CONV_W, padding=conv_padding([0, 0, 0, 0])), y)


@case
def test_conv_with_strides_padding():
    y = f32([[[[12., 27., 24.],
               [63., 108., 81.],
               [123., 198., 141.],
               [112., 177., 124.]]]])
    assert_close(CF.conv2d(CONV_X7, CONV_W, stride=2, padding=conv_padding([1, 1, 1, 1])), y)


@case
def test_conv_with_strides_no_padding():
    y = f32([[[[54., 72.],
               [144., 162.],
               [234., 252.]]]])
    assert_close(CF.conv2d(CONV_X7, CONV_W, stride=2, padding=conv_padding([0, 0, 0, 0])), y)


@case
def test_conv_with_strides_and_asymmetric_padding():
    y = f32([[[[21., 33.],
               [99., 117.],
               [189., 207.],
               [171., 183.]]]])
    assert_close(CF.conv2d(CONV_X7, CONV_W, stride=2, padding=conv_padding([1, 0, 1, 0])), y)


@case
def test_conv_with_autopad_same():
    # auto_pad=SAME_LOWER, kernel 3, strides 2 on 5x5.
    y = f32([[[[12., 27., 24.], [63., 108., 81.], [72., 117., 84.]]]])
    padding = same_pads("SAME_LOWER", (5, 5), (3, 3), (2, 2))
    assert_close(CF.conv2d(CONV_X5, CONV_W, stride=2, padding=padding), y)


# --------------------------------------------------------------------------- convtranspose.py

CT_X = f32([[[[0., 1., 2.],
              [3., 4., 5.],
              [6., 7., 8.]]]])
CT_W = np.ones((1, 2, 3, 3), dtype=np.float32)
CT_Y_ATTRIBUTES = f32([[[[0., 0., 1., 1., 3., 2., 2., 0.],
                         [0., 0., 1., 1., 3., 2., 2., 0.],
                         [0., 0., 1., 1., 3., 2., 2., 0.],
                         [3., 3., 7., 4., 9., 5., 5., 0.],
                         [3., 3., 7., 4., 9., 5., 5., 0.],
                         [3., 3., 7., 4., 9., 5., 5., 0.],
                         [6., 6., 13., 7., 15., 8., 8., 0.],
                         [6., 6., 13., 7., 15., 8., 8., 0.],
                         [6., 6., 13., 7., 15., 8., 8., 0.],
                         [0., 0., 0., 0., 0., 0., 0., 0.]],
                        [[0., 0., 1., 1., 3., 2., 2., 0.],
                         [0., 0., 1., 1., 3., 2., 2., 0.],
                         [0., 0., 1., 1., 3., 2., 2., 0.],
                         [3., 3., 7., 4., 9., 5., 5., 0.],
                         [3., 3., 7., 4., 9., 5., 5., 0.],
                         [3., 3., 7., 4., 9., 5., 5., 0.],
                         [6., 6., 13., 7., 15., 8., 8., 0.],
                         [6., 6., 13., 7., 15., 8., 8., 0.],
                         [6., 6., 13., 7., 15., 8., 8., 0.],
                         [0., 0., 0., 0., 0., 0., 0., 0.]]]])


@case
def test_convtranspose():
    y = f32([[[[0., 1., 3., 3., 2.],
               [3., 8., 15., 12., 7.],
               [9., 21., 36., 27., 15.],
               [9., 20., 33., 24., 13.],
               [6., 13., 21., 15., 8.]],
              [[0., 1., 3., 3., 2.],
               [3., 8., 15., 12., 7.],
               [9., 21., 36., 27., 15.],
               [9., 20., 33., 24., 13.],
               [6., 13., 21., 15., 8.]]]])
    assert_close(CF.conv_transpose2d(CT_X, CT_W), y)


@case
def test_convtranspose_1d():
    x = f32([[[0., 1., 2.]]])
    w = f32([[[1., 1., 1.],
              [1., 1., 1.]]])
    y = f32([[[0., 1., 3., 3., 2.],
              [0., 1., 3., 3., 2.]]])
    assert_close(CF.conv_transpose1d(x, w), y)


@case
def test_convtranspose_3d():
    x = f32([[[[[0., 1., 2., 3., 4.],
                [5., 6., 7., 8., 9.],
                [10., 11., 12., 13., 14.],
                [15., 16., 17., 18., 19.]],
               [[20., 21., 22., 23., 24.],
                [25., 26., 27., 28., 29.],
                [30., 31., 32., 33., 34.],
                [35., 36., 37., 38., 39.]],
               [[40., 41., 42., 43., 44.],
                [45., 46., 47., 48., 49.],
                [50., 51., 52., 53., 54.],
                [55., 56., 57., 58., 59.]]]]])
    w = np.ones((1, 2, 3, 3, 3), dtype=np.float32)
    one = [[[0., 1., 3., 6., 9., 7., 4.],
            [5., 12., 21., 27., 33., 24., 13.],
            [15., 33., 54., 63., 72., 51., 27.],
            [30., 63., 99., 108., 117., 81., 42.],
            [25., 52., 81., 87., 93., 64., 33.],
            [15., 31., 48., 51., 54., 37., 19.]],
           [[20., 42., 66., 72., 78., 54., 28.],
            [50., 104., 162., 174., 186., 128., 66.],
            [90., 186., 288., 306., 324., 222., 114.],
            [120., 246., 378., 396., 414., 282., 144.],
            [90., 184., 282., 294., 306., 208., 106.],
            [50., 102., 156., 162., 168., 114., 58.]],
           [[60., 123., 189., 198., 207., 141., 72.],
            [135., 276., 423., 441., 459., 312., 159.],
            [225., 459., 702., 729., 756., 513., 261.],
            [270., 549., 837., 864., 891., 603., 306.],
            [195., 396., 603., 621., 639., 432., 219.],
            [105., 213., 324., 333., 342., 231., 117.]],
           [[60., 122., 186., 192., 198., 134., 68.],
            [130., 264., 402., 414., 426., 288., 146.],
            [210., 426., 648., 666., 684., 462., 234.],
            [240., 486., 738., 756., 774., 522., 264.],
            [170., 344., 522., 534., 546., 368., 186.],
            [90., 182., 276., 282., 288., 194., 98.]],
           [[40., 81., 123., 126., 129., 87., 44.],
            [85., 172., 261., 267., 273., 184., 93.],
            [135., 273., 414., 423., 432., 291., 147.],
            [150., 303., 459., 468., 477., 321., 162.],
            [105., 212., 321., 327., 333., 224., 113.],
            [55., 111., 168., 171., 174., 117., 59.]]]
    y = f32([[one, one]])  # ONNX spells out both identical output channels
    assert_close(CF.conv_transpose3d(x, w), y)


@case
def test_convtranspose_output_shape():
    padding, output_padding = convtranspose_from_output_shape((3, 3), (3, 3), (3, 2), (10, 8))
    got = CF.conv_transpose2d(CT_X, CT_W, stride=(3, 2), padding=padding, output_padding=output_padding)
    assert_close(got, CT_Y_ATTRIBUTES)


@case
def test_convtranspose_pad():
    # ONNX output_padding=[1, 1] is PyTorch's output_padding.
    assert_close(CF.conv_transpose2d(CT_X, CT_W, stride=(3, 2), output_padding=(1, 1)), CT_Y_ATTRIBUTES)


@case
def test_convtranspose_kernel_shape():
    # output_shape=[10, 8] together with output_padding=[1, 1]: ONNX's total padding is then 0.
    padding, output_padding = convtranspose_from_output_shape((3, 3), (3, 3), (3, 2), (10, 8),
                                                              output_padding=(1, 1))
    got = CF.conv_transpose2d(CT_X, CT_W, stride=(3, 2), padding=padding, output_padding=output_padding)
    assert_close(got, CT_Y_ATTRIBUTES)


@case
def test_convtranspose_autopad_same():
    # SAME_UPPER, strides 2: output 3 * 2 = 6 from the default 7, total padding 1, at the end
    # (ONNX ConvTranspose puts total // 2 at the start for SAME_UPPER).
    y = f32([[[[0., 0., 1., 1., 3., 2.],
               [0., 0., 1., 1., 3., 2.],
               [3., 3., 8., 5., 12., 7.],
               [3., 3., 7., 4., 9., 5.],
               [9., 9., 20., 11., 24., 13.],
               [6., 6., 13., 7., 15., 8.]],
              [[0., 0., 1., 1., 3., 2.],
               [0., 0., 1., 1., 3., 2.],
               [3., 3., 8., 5., 12., 7.],
               [3., 3., 7., 4., 9., 5.],
               [9., 9., 20., 11., 24., 13.],
               [6., 6., 13., 7., 15., 8.]]]])
    total = 2 * (3 - 1) + 3 - 3 * 2
    pair = (total // 2, total - total // 2)
    assert_close(CF.conv_transpose2d(CT_X, CT_W, stride=2, padding=(pair, pair)), y)


@case
def test_convtranspose_dilations():
    x = f32([[[[3., 8., 1.],
               [9., 5., 7.],
               [3., 2., 6.]]]])
    w = f32([[[[7., 2.],
               [1., 9.]]]])
    y = f32([[[[21., 56., 13., 16., 2.],
               [63., 35., 67., 10., 14.],
               [24., 22., 76., 76., 21.],
               [9., 5., 88., 45., 63.],
               [3., 2., 33., 18., 54.]]]])
    assert_close(CF.conv_transpose2d(x, w, dilation=2), y)


@case
def test_convtranspose_pads():
    y = f32([[[[1., 1., 3.],
               [1., 1., 3.],
               [7., 4., 9.],
               [7., 4., 9.],
               [7., 4., 9.],
               [13., 7., 15.],
               [13., 7., 15.]],
              [[1., 1., 3.],
               [1., 1., 3.],
               [7., 4., 9.],
               [7., 4., 9.],
               [7., 4., 9.],
               [13., 7., 15.],
               [13., 7., 15.]]]])
    got = CF.conv_transpose2d(CT_X, CT_W, stride=(3, 2), padding=conv_padding([1, 2, 1, 2]))
    assert_close(got, y)


# --------------------------------------------------------------------------- maxpool.py

POOL_X5 = f32([[[[1, 2, 3, 4, 5],
                 [6, 7, 8, 9, 10],
                 [11, 12, 13, 14, 15],
                 [16, 17, 18, 19, 20],
                 [21, 22, 23, 24, 25]]]])
POOL_X4 = f32([[[[1, 2, 3, 4],
                 [5, 6, 7, 8],
                 [9, 10, 11, 12],
                 [13, 14, 15, 16]]]])
POOL_X4x4x4 = np.stack([POOL_X4[0, 0]] * 4)[None, None]
PRECOMPUTED_PADS_MAX = [[13, 14, 15, 15, 15],
                        [18, 19, 20, 20, 20],
                        [23, 24, 25, 25, 25],
                        [23, 24, 25, 25, 25],
                        [23, 24, 25, 25, 25]]


def max_pool_padded(x, kernel, strides, pairs, dilation=1, ceil_mode=False):
    """MaxPool with arbitrary explicit pads: -inf padding never wins a window."""
    n = len(kernel)
    padded = CF.pad(x, torch_pad_tuple(pairs), value=-np.inf)
    return getattr(CF, f"max_pool{n}d")(padded, kernel, stride=strides, dilation=dilation,
                                        ceil_mode=ceil_mode)


@case
def test_maxpool_2d_uint8():
    x = POOL_X5.astype(np.uint8)
    y = np.array([[PRECOMPUTED_PADS_MAX]], dtype=np.uint8)
    got = CF.max_pool2d(x, 5, stride=1, padding=2)
    assert got.dtype == np.uint8
    assert_close(got, y)


@case
def test_maxpool_2d_precomputed_pads():
    assert_close(CF.max_pool2d(POOL_X5, 5, stride=1, padding=2), f32([[PRECOMPUTED_PADS_MAX]]))


@case
def test_maxpool_with_argmax_2d_precomputed_pads():
    # ONNX indices flatten the whole (N, C, H, W) tensor; with N = C = 1 that is PyTorch's
    # per-plane flat index (storage_order=0, row-major).
    z = np.array([[[[12, 13, 14, 14, 14],
                    [17, 18, 19, 19, 19],
                    [22, 23, 24, 24, 24],
                    [22, 23, 24, 24, 24],
                    [22, 23, 24, 24, 24]]]], dtype=np.int64)
    y, idx = CF.max_pool2d(POOL_X5, 5, stride=1, padding=2, return_indices=True)
    assert_close(y, f32([[PRECOMPUTED_PADS_MAX]]))
    assert_close(np.asarray(idx).astype(np.int64), z)


@case
def test_maxpool_2d_precomputed_strides():
    assert_close(CF.max_pool2d(POOL_X5, 2, stride=2), f32([[[[7, 9], [17, 19]]]]))


@case
def test_maxpool_2d_precomputed_same_upper():
    pairs = same_pads("SAME_UPPER", (5, 5), (3, 3), (2, 2))
    y = f32([[[[7, 9, 10], [17, 19, 20], [22, 24, 25]]]])
    assert_close(max_pool_padded(POOL_X5, (3, 3), (2, 2), pairs), y)


@case
def test_maxpool_1d_default():
    x = randn("test_maxpool_1d_default", 1, 3, 32)
    assert_close(CF.max_pool1d(x, 2, stride=1), _onnx_pool(x, "MAX", [2], [1]))


@case
def test_maxpool_2d_default():
    x = randn("test_maxpool_2d_default", 1, 3, 32, 32)
    assert_close(CF.max_pool2d(x, 2, stride=1), _onnx_pool(x, "MAX", [2, 2], [1, 1]))


@case
def test_maxpool_3d_default():
    x = randn("test_maxpool_3d_default", 1, 3, 32, 32, 32)
    got = CF.max_pool3d(x, 2, stride=1)
    assert_close(got, _onnx_pool(x, "MAX", [2, 2, 2], [1, 1, 1]))


@case
def test_maxpool_2d_same_upper():
    x = randn("test_maxpool_2d_same_upper", 1, 3, 32, 32)
    pairs = same_pads("SAME_UPPER", (32, 32), (2, 2), (1, 1))  # ((0, 1), (0, 1))
    expected = _onnx_pool(x, "MAX", [2, 2], [1, 1], pads=[p[0] for p in pairs] + [p[1] for p in pairs])
    assert_close(max_pool_padded(x, (2, 2), (1, 1), pairs), expected)


@case
def test_maxpool_2d_same_lower():
    x = randn("test_maxpool_2d_same_lower", 1, 3, 32, 32)
    pairs = same_pads("SAME_LOWER", (32, 32), (2, 2), (1, 1))  # ((1, 0), (1, 0))
    expected = _onnx_pool(x, "MAX", [2, 2], [1, 1], pads=[p[0] for p in pairs] + [p[1] for p in pairs])
    assert_close(max_pool_padded(x, (2, 2), (1, 1), pairs), expected)


@case
def test_maxpool_2d_pads():
    # pads 2 > kernel 3 // 2, which PyTorch's padding argument rejects.
    x = randn("test_maxpool_2d_pads", 1, 3, 28, 28)
    expected = _onnx_pool(x, "MAX", [3, 3], [1, 1], pads=[2, 2, 2, 2])
    assert_close(max_pool_padded(x, (3, 3), (1, 1), conv_padding([2, 2, 2, 2])), expected)


@case
def test_maxpool_2d_strides():
    x = randn("test_maxpool_2d_strides", 1, 3, 32, 32)
    assert_close(CF.max_pool2d(x, 5, stride=3), _onnx_pool(x, "MAX", [5, 5], [3, 3]))


@case
def test_maxpool_2d_ceil():
    assert_close(CF.max_pool2d(POOL_X4, 3, stride=2, ceil_mode=True), f32([[[[11, 12], [15, 16]]]]))


@case
def test_maxpool_2d_ceil_output_size_reduce_by_one():
    x = f32([[[[1, 2], [3, 4]]]])
    assert_close(CF.max_pool2d(x, 1, stride=2, ceil_mode=True), f32([[[[1]]]]))


@case
def test_maxpool_2d_dilations():
    assert_close(CF.max_pool2d(POOL_X4, 2, stride=1, dilation=2), f32([[[[11, 12], [15, 16]]]]))


@case
def test_maxpool_3d_dilations():
    y = f32([[[[[11, 12], [15, 16]], [[11, 12], [15, 16]]]]])
    assert_close(CF.max_pool3d(POOL_X4x4x4, 2, stride=1, dilation=2), y)


@case
def test_maxpool_3d_dilations_use_ref_impl():
    # Same node and input as test_maxpool_3d_dilations, expected from ONNX's reference pool().
    expected = _onnx_pool(POOL_X4x4x4, "MAX", [2, 2, 2], [1, 1, 1], dilations=[2, 2, 2])
    assert_close(expected, f32([[[[[11, 12], [15, 16]], [[11, 12], [15, 16]]]]]))
    assert_close(CF.max_pool3d(POOL_X4x4x4, 2, stride=1, dilation=2), expected)


@case
def test_maxpool_3d_dilations_use_ref_impl_large():
    x = randn("test_maxpool_3d_dilations_use_ref_impl_large", 1, 1, 32, 32, 32)
    expected = _onnx_pool(x, "MAX", [5, 5, 5], [3, 3, 3], dilations=[2, 2, 2], ceil_mode=True)
    got = CF.max_pool3d(x, 5, stride=3, dilation=2, ceil_mode=True)
    assert_close(got, expected)


# --------------------------------------------------------------------------- averagepool.py

def avg_pool_exclude_pad(x, kernel, strides, pairs):
    """AveragePool(count_include_pad=0) with any explicit pads: sum over real elements / their count."""
    n = len(kernel)
    pool = getattr(CF, f"avg_pool{n}d")
    t = torch_pad_tuple(pairs)
    sums = pool(CF.pad(x, t, value=0.0), kernel, stride=strides)
    counts = pool(CF.pad(np.ones_like(x), t, value=0.0), kernel, stride=strides)
    return sums / counts


def dilated_avg_pool(x, kernel, strides, dilations):
    """Dilated average pooling without pads: a depthwise conv with an all-1/k kernel."""
    n = len(kernel)
    c = x.shape[1]
    w = np.full((c, 1) + tuple(kernel), 1.0 / np.prod(kernel), dtype=x.dtype)
    return getattr(CF, f"conv{n}d")(x, w, stride=strides, dilation=dilations, groups=c)


@case
def test_averagepool_2d_precomputed_pads():
    y = f32([[[[7, 7.5, 8, 8.5, 9],
               [9.5, 10, 10.5, 11, 11.5],
               [12, 12.5, 13, 13.5, 14],
               [14.5, 15, 15.5, 16, 16.5],
               [17, 17.5, 18, 18.5, 19]]]])
    assert_close(CF.avg_pool2d(POOL_X5, 5, stride=1, padding=2, count_include_pad=False), y)


@case
def test_averagepool_2d_precomputed_pads_count_include_pad():
    y = f32([[[[2.5200, 3.6000, 4.8000, 4.0800, 3.2400],
               [4.5600, 6.4000, 8.4000, 7.0400, 5.5200],
               [7.2000, 10.0000, 13.0000, 10.8000, 8.4000],
               [6.9600, 9.6000, 12.4000, 10.2400, 7.9200],
               [6.1200, 8.4000, 10.8000, 8.8800, 6.8400]]]])
    assert_close(CF.avg_pool2d(POOL_X5, 5, stride=1, padding=2, count_include_pad=True), y)


@case
def test_averagepool_2d_precomputed_strides():
    assert_close(CF.avg_pool2d(POOL_X5, 2, stride=2), f32([[[[4, 6], [14, 16]]]]))


@case
def test_averagepool_2d_precomputed_same_upper():
    pairs = same_pads("SAME_UPPER", (5, 5), (3, 3), (2, 2))  # symmetric here: ((1, 1), (1, 1))
    y = f32([[[[4, 5.5, 7], [11.5, 13, 14.5], [19, 20.5, 22]]]])
    assert_close(avg_pool_exclude_pad(POOL_X5, (3, 3), (2, 2), pairs), y)
    assert_close(CF.avg_pool2d(POOL_X5, 3, stride=2, padding=1, count_include_pad=False), y)


@case
def test_averagepool_1d_default():
    x = randn("test_averagepool_1d_default", 1, 3, 32)
    assert_close(CF.avg_pool1d(x, 2, stride=1), _onnx_pool(x, "AVG", [2], [1]))


@case
def test_averagepool_2d_default():
    x = randn("test_averagepool_2d_default", 1, 3, 32, 32)
    assert_close(CF.avg_pool2d(x, 2, stride=1), _onnx_pool(x, "AVG", [2, 2], [1, 1]))


@case
def test_averagepool_3d_default():
    x = randn("test_averagepool_3d_default", 1, 3, 32, 32, 32)
    assert_close(CF.avg_pool3d(x, 2, stride=1), _onnx_pool(x, "AVG", [2, 2, 2], [1, 1, 1]))


@case
def test_averagepool_2d_same_upper():
    x = randn("test_averagepool_2d_same_upper", 1, 3, 32, 32)
    pairs = same_pads("SAME_UPPER", (32, 32), (2, 2), (1, 1))
    expected = _onnx_pool(x, "AVG", [2, 2], [1, 1], pads=[p[0] for p in pairs] + [p[1] for p in pairs])
    assert_close(avg_pool_exclude_pad(x, (2, 2), (1, 1), pairs), expected)


@case
def test_averagepool_2d_same_lower():
    x = randn("test_averagepool_2d_same_lower", 1, 3, 32, 32)
    pairs = same_pads("SAME_LOWER", (32, 32), (2, 2), (1, 1))
    expected = _onnx_pool(x, "AVG", [2, 2], [1, 1], pads=[p[0] for p in pairs] + [p[1] for p in pairs])
    assert_close(avg_pool_exclude_pad(x, (2, 2), (1, 1), pairs), expected)


@case
def test_averagepool_2d_pads():
    x = randn("test_averagepool_2d_pads", 1, 3, 28, 28)
    expected = _onnx_pool(x, "AVG", [3, 3], [1, 1], pads=[2, 2, 2, 2])
    assert_close(avg_pool_exclude_pad(x, (3, 3), (1, 1), conv_padding([2, 2, 2, 2])), expected)


@case
def test_averagepool_2d_pads_count_include_pad():
    x = randn("test_averagepool_2d_pads_count_include_pad", 1, 3, 28, 28)
    expected = _onnx_pool(x, "AVG", [3, 3], [1, 1], pads=[2, 2, 2, 2], count_include_pad=1)
    got = CF.avg_pool2d(CF.pad(x, (2, 2, 2, 2), value=0.0), 3, stride=1)
    assert_close(got, expected)


@case
def test_averagepool_2d_strides():
    x = randn("test_averagepool_2d_strides", 1, 3, 32, 32)
    assert_close(CF.avg_pool2d(x, 5, stride=3), _onnx_pool(x, "AVG", [5, 5], [3, 3]))


@case
def test_averagepool_2d_ceil():
    y = f32([[[[6, 7.5], [12, 13.5]]]])
    assert_close(CF.avg_pool2d(POOL_X4, 3, stride=2, ceil_mode=True, count_include_pad=False), y)


@case
def test_averagepool_2d_dilations():
    # ceil_mode=True does not change the 2x2 output here (ceil((4 - 3) / 1) == floor(...)).
    assert_close(dilated_avg_pool(POOL_X4, (2, 2), (1, 1), (2, 2)), f32([[[[6, 7], [10, 11]]]]))


@case
def test_averagepool_3d_dilations_small():
    y = f32([[[[[6, 7], [10, 11]], [[6, 7], [10, 11]]]]])
    assert_close(dilated_avg_pool(POOL_X4x4x4, (2, 2, 2), (1, 1, 1), (2, 2, 2)), y)


def _averagepool_3d_dilations_large(name, count_include_pad):
    # No pads and ceil_mode=False: every window is whole, so both count_include_pad values agree.
    x = randn(name, 1, 1, 32, 32, 32)
    expected = _onnx_pool(x, "AVG", [5, 5, 5], [3, 3, 3], dilations=[2, 2, 2],
                          count_include_pad=count_include_pad)
    assert_close(dilated_avg_pool(x, (5, 5, 5), (3, 3, 3), (2, 2, 2)), expected)


@case
def test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False():
    _averagepool_3d_dilations_large(
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False", 0)


@case
def test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False():
    _averagepool_3d_dilations_large(
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False", 1)


# --------------------------------------------------------------------------- lppool.py

def lp_pool_padded(x, p, kernel, strides, pairs):
    n = len(kernel)
    return getattr(CF, f"lp_pool{n}d")(CF.pad(x, torch_pad_tuple(pairs), value=0.0), p, kernel,
                                       stride=strides)


@case
def test_lppool_2d_default():
    x = randn("test_lppool_2d_default", 1, 3, 32, 32)
    assert_close(CF.lp_pool2d(x, 4, 2, stride=1), _onnx_pool(x, "LP", [2, 2], [1, 1], p=4))


@case
def test_lppool_2d_same_upper():
    x = randn("test_lppool_2d_same_upper", 1, 3, 32, 32)
    pairs = same_pads("SAME_UPPER", (32, 32), (2, 2), (1, 1))
    expected = _onnx_pool(x, "LP", [2, 2], [1, 1], pads=[p[0] for p in pairs] + [p[1] for p in pairs], p=2)
    assert_close(lp_pool_padded(x, 2, (2, 2), (1, 1), pairs), expected)


@case
def test_lppool_2d_same_lower():
    x = randn("test_lppool_2d_same_lower", 1, 3, 32, 32)
    pairs = same_pads("SAME_LOWER", (32, 32), (2, 2), (1, 1))
    expected = _onnx_pool(x, "LP", [2, 2], [1, 1], pads=[p[0] for p in pairs] + [p[1] for p in pairs], p=4)
    assert_close(lp_pool_padded(x, 4, (2, 2), (1, 1), pairs), expected)


@case
def test_lppool_2d_strides():
    x = randn("test_lppool_2d_strides", 1, 3, 32, 32)
    assert_close(CF.lp_pool2d(x, 2, 5, stride=3), _onnx_pool(x, "LP", [5, 5], [3, 3], p=2))


# --------------------------------------------------------------------------- global pools, maxunpool

@case
def test_globalaveragepool():
    x = randn("test_globalaveragepool", 1, 3, 5, 5)
    assert_close(CF.adaptive_avg_pool2d(x, 1), np.mean(x, axis=(2, 3), keepdims=True))


@case
def test_globalaveragepool_precomputed():
    x = f32([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]])
    assert_close(CF.adaptive_avg_pool2d(x, 1), f32([[[[5]]]]))


@case
def test_globalmaxpool():
    x = randn("test_globalmaxpool", 1, 3, 5, 5)
    assert_close(CF.adaptive_max_pool2d(x, 1), np.max(x, axis=(2, 3), keepdims=True))


@case
def test_globalmaxpool_precomputed():
    x = f32([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]])
    assert_close(CF.adaptive_max_pool2d(x, 1), f32([[[[9]]]]))


@case
def test_maxunpool_export_without_output_shape():
    xt = f32([[[[1, 2], [3, 4]]]])
    xi = np.array([[[[5, 7], [13, 15]]]], dtype=np.int64)
    y = f32([[[[0, 0, 0, 0], [0, 1, 0, 2], [0, 0, 0, 0], [0, 3, 0, 4]]]])
    assert_close(CF.max_unpool2d(xt, xi, 2, stride=2), y)


# --------------------------------------------------------------------------- depthtospace.py, spacetodepth.py

@case
def test_depthtospace_crd_mode_example():
    x = f32([[[[0., 1., 2.], [3., 4., 5.]],
              [[9., 10., 11.], [12., 13., 14.]],
              [[18., 19., 20.], [21., 22., 23.]],
              [[27., 28., 29.], [30., 31., 32.]],
              [[36., 37., 38.], [39., 40., 41.]],
              [[45., 46., 47.], [48., 49., 50.]],
              [[54., 55., 56.], [57., 58., 59.]],
              [[63., 64., 65.], [66., 67., 68.]]]])
    y = f32([[[[0., 9., 1., 10., 2., 11.],
               [18., 27., 19., 28., 20., 29.],
               [3., 12., 4., 13., 5., 14.],
               [21., 30., 22., 31., 23., 32.]],
              [[36., 45., 37., 46., 38., 47.],
               [54., 63., 55., 64., 56., 65.],
               [39., 48., 40., 49., 41., 50.],
               [57., 66., 58., 67., 59., 68.]]]])
    assert_close(CF.pixel_shuffle(x, 2), y)


@case
def test_spacetodepth_example():
    x = f32([[[[0, 6, 1, 7, 2, 8],
               [12, 18, 13, 19, 14, 20],
               [3, 9, 4, 10, 5, 11],
               [15, 21, 16, 22, 17, 23]]]])
    y = f32([[[[0, 1, 2], [3, 4, 5]],
              [[6, 7, 8], [9, 10, 11]],
              [[12, 13, 14], [15, 16, 17]],
              [[18, 19, 20], [21, 22, 23]]]])
    assert_close(CF.pixel_unshuffle(x, 2), y)


# --------------------------------------------------------------------------- col2im.py

@case
def test_col2im():
    x = f32([[[1., 6., 11., 16., 21.],
              [2., 7., 12., 17., 22.],
              [3., 8., 13., 18., 23.],
              [4., 9., 14., 19., 24.],
              [5., 0., 15., 20., 25.]]])
    y = f32([[[[1., 2., 3., 4., 5.],
               [6., 7., 8., 9., 0.],
               [11., 12., 13., 14., 15.],
               [16., 17., 18., 19., 20.],
               [21., 22., 23., 24., 25.]]]])
    assert_close(CF.fold(x, output_size=(5, 5), kernel_size=(1, 5)), y)


@case
def test_col2im_strides():
    x = f32([[[0., 0., 0., 0.],
              [1., 1., 1., 1.],
              [1., 1., 1., 1.],
              [1., 1., 1., 1.],
              [0., 0., 0., 0.],
              [0., 0., 0., 0.],
              [0., 0., 0., 0.],
              [1., 1., 1., 1.],
              [0., 0., 0., 0.]]])
    y = f32([[[[0., 1., 1., 1., 1.],
               [1., 0., 1., 0., 0.],
               [0., 2., 1., 2., 1.],
               [1., 0., 1., 0., 0.],
               [0., 1., 0., 1., 0.]]]])
    assert_close(CF.fold(x, output_size=(5, 5), kernel_size=(3, 3), stride=2), y)


@case
def test_col2im_pads():
    x = f32([[[1., 6., 11., 16., 21., 26, 31, 36, 41, 46, 51, 56, 61, 66, 71],
              [2., 7., 12., 17., 22., 27, 32, 37, 42, 47, 52, 57, 62, 67, 72],
              [3., 8., 13., 18., 23., 28, 33, 38, 43, 48, 53, 58, 63, 68, 73],
              [4., 9., 14., 19., 24., 29, 34, 39, 44, 49, 54, 59, 64, 69, 74],
              [5., 10., 15., 20., 25., 30, 35, 40, 45, 50, 55, 60, 65, 70, 75]]])
    y = f32([[[[8., 21., 24., 27., 24.],
               [38., 66., 69., 72., 54.],
               [68., 111., 114., 117., 84.],
               [98., 156., 159., 162., 114.],
               [128., 201., 204., 207., 144.]]]])
    pairs = conv_padding([0, 1, 0, 1])
    assert all(b == e for b, e in pairs)  # fold pads symmetrically
    got = CF.fold(x, output_size=(5, 5), kernel_size=(1, 5), padding=tuple(b for b, _ in pairs))
    assert_close(got, y)


@case
def test_col2im_dilations():
    x = f32([[[1., 5., 9., 13., 17],
              [2., 6., 10., 14., 18],
              [3., 7., 11., 15., 19],
              [4., 8., 12., 16., 20]]])
    y = f32([[[[1., 0., 0., 0., 0., 2.],
               [8., 0., 0., 0., 0., 10.],
               [16., 0., 0., 0., 0., 18.],
               [24., 0., 0., 0., 0., 26.],
               [32., 0., 0., 0., 0., 34.],
               [19., 0., 0., 0., 0., 20.]]]])
    assert_close(CF.fold(x, output_size=(6, 6), kernel_size=(2, 2), dilation=(1, 5)), y)


# --------------------------------------------------------------------------- pad.py

def onnx_pads_to_pairs(pads, rank, axes=None):
    axes = list(range(rank)) if axes is None else [a % rank for a in axes]
    pairs = [(0, 0)] * rank
    for i, axis in enumerate(axes):
        pairs[axis] = (pads[i], pads[i + len(axes)])
    return pairs


def pad_via_convscope(x, pairs, mode, value=None):
    # Leading dims must be unpadded: PyTorch's pad only reaches as far back as it is given pairs.
    first = next(i for i, p in enumerate(pairs) if p != (0, 0))
    kwargs = {} if value is None else {"value": value}
    return CF.pad(x, torch_pad_tuple(pairs[first:]), mode=mode, **kwargs)


@case
def test_constant_pad():
    x = randn("test_constant_pad", 1, 3, 4, 5)
    pairs = onnx_pads_to_pairs([0, 0, 1, 3, 0, 0, 2, 4], x.ndim)
    expected = np.pad(x, pairs, mode="constant", constant_values=1.2)
    assert_close(pad_via_convscope(x, pairs, "constant", value=1.2), expected)


@case
def test_constant_pad_axes():
    x = randn("test_constant_pad_axes", 1, 3, 4, 5)
    pairs = onnx_pads_to_pairs([0, 3, 0, 4], x.ndim, axes=[1, 3])
    expected = np.pad(x, pairs, mode="constant", constant_values=1.2)
    assert_close(pad_via_convscope(x, pairs, "constant", value=1.2), expected)


def _int_pad_case(name, onnx_mode, torch_mode):
    # ONNX casts randn to int32, so the data are small integers (mostly 0 and +-1).
    x = randn(name, 1, 3, 4, 5).astype(np.int32)
    pairs = onnx_pads_to_pairs([0, 0, 1, 1, 0, 0, 1, 1], x.ndim)
    got = pad_via_convscope(x, pairs, torch_mode)
    assert np.asarray(got).dtype == np.int32
    assert_close(got, np.pad(x, pairs, mode=onnx_mode))


@case
def test_edge_pad():
    _int_pad_case("test_edge_pad", "edge", "replicate")


@case
def test_reflect_pad():
    _int_pad_case("test_reflect_pad", "reflect", "reflect")


@case
def test_wrap_pad():
    _int_pad_case("test_wrap_pad", "wrap", "circular")


# --------------------------------------------------------------------------- resize.py

R_X22 = f32([[[[1, 2], [3, 4]]]])
R_X24 = f32([[[[1, 2, 3, 4], [5, 6, 7, 8]]]])
R_X44 = f32([[[[1, 2, 3, 4],
               [5, 6, 7, 8],
               [9, 10, 11, 12],
               [13, 14, 15, 16]]]])
UPSAMPLE_SCALES_NEAREST = f32([[[[1, 1, 1, 2, 2, 2],
                                  [1, 1, 1, 2, 2, 2],
                                  [3, 3, 3, 4, 4, 4],
                                  [3, 3, 3, 4, 4, 4]]]])


def assert_resize(got, expected):
    assert_close(got, expected, rtol=RESIZE_RTOL, atol=RESIZE_ATOL)


def resize_scales(x, scales, mode, align_corners=None):
    """ONNX ``scales`` (float32, spatial part) -> ``interpolate(scale_factor=...)``."""
    return CF.interpolate(x, scale_factor=tuple(float(s) for s in np.float32(scales)), mode=mode,
                          align_corners=align_corners)


def nearest_scales_case(x, scales):
    out = [int(math.floor(n * float(np.float32(s)))) for n, s in zip(x.shape[2:], scales)]
    assert_no_half_pixel_ties(x.shape[2:], out, [float(np.float32(s)) for s in scales])
    expected = _onnx_nearest(x, out, [float(np.float32(s)) for s in scales])
    assert_resize(resize_scales(x, scales, "nearest-exact"), expected)
    return expected


@case
def test_resize_upsample_scales_nearest():
    expected = nearest_scales_case(R_X22, [2.0, 3.0])
    assert_resize(expected, UPSAMPLE_SCALES_NEAREST)  # the array printed in resize.py


@case
def test_resize_upsample_scales_nearest_axes_2_3():
    # axes=[2, 3], scales [2.0, 3.0]: the same resize as test_resize_upsample_scales_nearest.
    assert_resize(nearest_scales_case(R_X22, [2.0, 3.0]), UPSAMPLE_SCALES_NEAREST)


@case
def test_resize_upsample_scales_nearest_axes_3_2():
    # axes=[3, 2], scales [3.0, 2.0] -> H scale 2, W scale 3.
    scales = dict(zip([3, 2], [3.0, 2.0]))
    assert_resize(nearest_scales_case(R_X22, [scales[2], scales[3]]), UPSAMPLE_SCALES_NEAREST)


@case
def test_resize_downsample_scales_nearest():
    assert_resize(nearest_scales_case(R_X24, [0.6, 0.6]), f32([[[[1, 3]]]]))


@case
def test_resize_upsample_sizes_nearest_not_smaller():
    # keep_aspect_ratio_policy=not_smaller, sizes [7, 8] on 2x2: scale max(7/2, 8/2) = 4 -> 8x8.
    # (ONNX's case file registers this one under the name ..._not_larger by mistake, and its
    # printed comment shows 7 rows; the data file is named ..._not_smaller.)
    scale = max(7 / 2, 8 / 2)
    out = [round(2 * scale), round(2 * scale)]
    assert_no_half_pixel_ties((2, 2), out, (scale, scale))
    expected = _onnx_nearest(R_X22, out, (scale, scale))
    assert_resize(CF.interpolate(R_X22, size=tuple(out), mode="nearest-exact"), expected)


@case
def test_resize_upsample_scales_linear():
    y = f32([[[[1., 1.25, 1.75, 2.],
               [1.5, 1.75, 2.25, 2.5],
               [2.5, 2.75, 3.25, 3.5],
               [3., 3.25, 3.75, 4.]]]])
    assert_resize(resize_scales(R_X22, [2.0, 2.0], "bilinear", align_corners=False), y)


@case
def test_resize_upsample_scales_linear_align_corners():
    y = f32([[[[1., 1.33333333, 1.66666667, 2.],
               [1.66666667, 2., 2.33333333, 2.66666667],
               [2.33333333, 2.66666667, 3., 3.33333333],
               [3., 3.33333333, 3.66666667, 4.]]]])
    assert_resize(resize_scales(R_X22, [2.0, 2.0], "bilinear", align_corners=True), y)


@case
def test_resize_downsample_scales_linear():
    y = f32([[[[2.6666665, 4.3333331]]]])
    assert_resize(resize_scales(R_X24, [0.6, 0.6], "bilinear", align_corners=False), y)


@case
def test_resize_upsample_scales_cubic():
    y = f32([[[[0.47265625, 0.76953125, 1.24609375, 1.875, 2.28125, 2.91015625, 3.38671875, 3.68359375],
               [1.66015625, 1.95703125, 2.43359375, 3.0625, 3.46875, 4.09765625, 4.57421875, 4.87109375],
               [3.56640625, 3.86328125, 4.33984375, 4.96875, 5.375, 6.00390625, 6.48046875, 6.77734375],
               [6.08203125, 6.37890625, 6.85546875, 7.484375, 7.890625, 8.51953125, 8.99609375, 9.29296875],
               [7.70703125, 8.00390625, 8.48046875, 9.109375, 9.515625, 10.14453125, 10.62109375, 10.91796875],
               [10.22265625, 10.51953125, 10.99609375, 11.625, 12.03125, 12.66015625, 13.13671875, 13.43359375],
               [12.12890625, 12.42578125, 12.90234375, 13.53125, 13.9375, 14.56640625, 15.04296875, 15.33984375],
               [13.31640625, 13.61328125, 14.08984375, 14.71875, 15.125, 15.75390625, 16.23046875, 16.52734375]]]])
    assert_resize(resize_scales(R_X44, [2.0, 2.0], "bicubic", align_corners=False), y)


@case
def test_resize_upsample_scales_cubic_align_corners():
    y = f32([[[[1., 1.34110787, 1.80029155, 2.32944606, 2.67055394, 3.19970845, 3.65889213, 4.],
               [2.36443149, 2.70553936, 3.16472303, 3.69387755, 4.03498542, 4.56413994, 5.02332362, 5.36443149],
               [4.20116618, 4.54227405, 5.00145773, 5.53061224, 5.87172012, 6.40087464, 6.86005831, 7.20116618],
               [6.31778426, 6.65889213, 7.1180758, 7.64723032, 7.98833819, 8.51749271, 8.97667638, 9.31778426],
               [7.68221574, 8.02332362, 8.48250729, 9.01166181, 9.35276968, 9.8819242, 10.34110787, 10.68221574],
               [9.79883382, 10.13994169, 10.59912536, 11.12827988, 11.46938776, 11.99854227, 12.45772595,
                12.79883382],
               [11.63556851, 11.97667638, 12.43586006, 12.96501458, 13.30612245, 13.83527697, 14.29446064,
                14.63556851],
               [13., 13.34110787, 13.80029155, 14.32944606, 14.67055394, 15.19970845, 15.65889213, 16.]]]])
    assert_resize(resize_scales(R_X44, [2.0, 2.0], "bicubic", align_corners=True), y)


@case
def test_resize_downsample_scales_cubic():
    y = f32([[[[1.47119141, 2.78125, 4.08251953],
               [6.71142578, 8.02148438, 9.32275391],
               [11.91650391, 13.2265625, 14.52783203]]]])
    assert_resize(resize_scales(R_X44, [0.8, 0.8], "bicubic", align_corners=False), y)


@case
def test_resize_upsample_sizes_cubic():
    y = f32([[[[0.45507922, 0.64057922, 0.97157922, 1.42257922, 1.90732922,
                2.22332922, 2.70807922, 3.15907922, 3.49007922, 3.67557922],
               [1.39437963, 1.57987963, 1.91087963, 2.36187963, 2.84662963,
                3.16262963, 3.64737963, 4.09837963, 4.42937963, 4.61487963],
               [2.95130693, 3.13680693, 3.46780693, 3.91880693, 4.40355693,
                4.71955693, 5.20430693, 5.65530693, 5.98630693, 6.17180693],
               [5.20525069, 5.39075069, 5.72175069, 6.17275069, 6.65750069,
                6.97350069, 7.45825069, 7.90925069, 8.24025069, 8.42575069],
               [6.88975, 7.07525, 7.40625, 7.85725, 8.342,
                8.658, 9.14275, 9.59375, 9.92475, 10.11025],
               [8.57424931, 8.75974931, 9.09074931, 9.54174931, 10.02649931,
                10.34249931, 10.82724931, 11.27824931, 11.60924931, 11.79474931],
               [10.82819307, 11.01369307, 11.34469307, 11.79569307, 12.28044307,
                12.59644307, 13.08119307, 13.53219307, 13.86319307, 14.04869307],
               [12.38512037, 12.57062037, 12.90162037, 13.35262037, 13.83737037,
                14.15337037, 14.63812037, 15.08912037, 15.42012037, 15.60562037],
               [13.32442078, 13.50992078, 13.84092078, 14.29192078, 14.77667078,
                15.09267078, 15.57742078, 16.02842078, 16.35942078, 16.54492078]]]])
    assert_resize(CF.interpolate(R_X44, size=(9, 10), mode="bicubic", align_corners=False), y)


@case
def test_resize_downsample_sizes_cubic():
    y = f32([[[[1.63078704, 3.00462963, 4.37847222],
               [7.12615741, 8.5, 9.87384259],
               [12.62152778, 13.99537037, 15.36921296]]]])
    assert_resize(CF.interpolate(R_X44, size=(3, 3), mode="bicubic", align_corners=False), y)


# --------------------------------------------------------------------------- tests

@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_case(name):
    CASES[name]()


def test_onnx_reference_ports():
    """The ported ONNX helpers reproduce ONNX's own published arrays (so they judge by ONNX)."""
    assert_close(_onnx_pool(POOL_X5, "MAX", [5, 5], [1, 1], pads=[2, 2, 2, 2]), f32([[PRECOMPUTED_PADS_MAX]]))
    assert_close(_onnx_pool(POOL_X5, "AVG", [5, 5], [1, 1], pads=[2, 2, 2, 2]),
                 f32([[[[7, 7.5, 8, 8.5, 9], [9.5, 10, 10.5, 11, 11.5], [12, 12.5, 13, 13.5, 14],
                        [14.5, 15, 15.5, 16, 16.5], [17, 17.5, 18, 18.5, 19]]]]))
    assert_close(_onnx_pool(POOL_X5, "AVG", [5, 5], [1, 1], pads=[2, 2, 2, 2], count_include_pad=1)[0, 0, 0],
                 f32([2.52, 3.6, 4.8, 4.08, 3.24]))
    assert_close(_onnx_pool(POOL_X5, "AVG", [3, 3], [2, 2], pads=[1, 1, 1, 1]),
                 f32([[[[4, 5.5, 7], [11.5, 13, 14.5], [19, 20.5, 22]]]]))
    assert_close(_onnx_pool(POOL_X4, "MAX", [3, 3], [2, 2], ceil_mode=True), f32([[[[11, 12], [15, 16]]]]))
    assert_close(_onnx_pool(POOL_X4, "AVG", [3, 3], [2, 2], ceil_mode=True), f32([[[[6, 7.5], [12, 13.5]]]]))
    assert_close(_onnx_pool(f32([[[[1, 2], [3, 4]]]]), "MAX", [1, 1], [2, 2], ceil_mode=True), f32([[[[1]]]]))
    assert_close(_onnx_pool(POOL_X4, "AVG", [2, 2], [1, 1], dilations=[2, 2]), f32([[[[6, 7], [10, 11]]]]))
    # test_lppool_2d_dilations' published output (the case itself cannot be ported: no dilated lp_pool).
    assert_close(_onnx_pool(POOL_X4, "LP", [2, 2], [1, 1], dilations=[2, 2], p=2),
                 f32([[[[14.560219778561036, 16.24807680927192], [21.633307652783937, 23.49468024894146]]]]))
    # Resize nearest: the arrays printed in resize.py, including the tie cases left out above
    # (ties round down: 2x2 -> 7x8 keeps row 3 on source row 0; 2x4 -> 1x3 picks column 1).
    assert_close(_onnx_nearest(R_X22, [4, 6], [2.0, 3.0]), UPSAMPLE_SCALES_NEAREST)
    assert_close(_onnx_nearest(R_X22, [7, 8], [3.5, 4.0]),
                 f32([[[[1] * 4 + [2] * 4] * 4 + [[3] * 4 + [4] * 4] * 3]]))
    assert_close(_onnx_nearest(R_X24, [1, 3], [0.5, 0.75]), f32([[[[1, 2, 4]]]]))
