"""ONNX operator conformance cases (ONNX 1.23.2), run against ``convscope.functional``.

Source: the node test cases of the ONNX repository (github.com/onnx/onnx), as shipped in the
``onnx==1.23.2`` distribution:

* ``onnx/backend/test/case/node/{conv,convtranspose,maxpool,averagepool,lppool,globalaveragepool,
  globalmaxpool,maxunpool,resize,upsample,depthtospace,spacetodepth,col2im,pad}.py`` -- every
  ``expect(..., name=...)`` in them is one case; each test here is named after its ONNX case;
* ``onnx/reference/ops/op_pool_common.py`` (``get_pad_shape``, ``get_output_shape_auto_pad``,
  ``get_output_shape_explicit_padding``, ``pool``) and ``onnx/reference/ops/op_resize.py``
  (``_interpolate_nd`` and the coefficient functions), which the case files call to make their
  expected outputs; ported below (Apache-2.0, (c) ONNX Project Contributors) with only cosmetic
  changes.  ``onnx/reference/ops/op_conv.py`` and ``op_conv_transpose.py`` give the ``auto_pad``
  and ``output_shape`` padding rules used to translate attributes into convscope arguments.

How the expectation is made -- never with torch or convscope:

* cases whose inputs and outputs are literals in the ONNX file: both are copied into ``_LITERAL``
  (bottom of this file) and compared as they are;
* cases whose expected output ONNX computes with a reference helper from ``np.random.randn`` (ONNX
  draws without a seed, so there is no seed to reuse): the same shapes are drawn from a fixed
  ``np.random.RandomState`` and the expected output is computed by the ported helper with exactly
  the arguments the ONNX case passes;
* Resize cases: literal inputs, expected output from the ported ``_interpolate_nd`` with the case's
  own arguments (that is how the ONNX file makes them too).

Tolerances: float32 ``rtol=1e-5, atol=1e-6``; integer and index outputs exactly.  One exception,
``test_averagepool_2d_ceil_last_window_starts_on_pad``: its literal output has 4 decimals and was
not computed from the (4-decimal) literal input -- channel 1 is (0.8816 + 0.4353 + 0.5772 +
0.6623) / 9 = 0.284044, published as 0.2841 -- so the literal is compared at ONNX's own runner
tolerance (``rtol=1e-3, atol=1e-7``, onnx/backend/test/case/node/__init__.py) and the value of
the ported reference pool at the normal tolerance.

Attribute translation (ONNX -> convscope)
-----------------------------------------
* ``pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` -> ``((x1_begin, x1_end), ...)``,
  which convscope's conv/conv_transpose accept directly; the pooling functions take only a
  symmetric ``padding`` that is at most half the kernel.
* Conv ``auto_pad=SAME_*`` -> the pads ``op_conv.py`` computes; ConvTranspose ``output_shape`` /
  ``auto_pad`` -> ``op_conv_transpose.py``'s ``total_padding`` split; a negative end pad (ONNX
  output longer than the full transposed convolution) becomes ``output_padding`` (those rows
  receive no contribution either way).
* Pooling: ONNX's default stride is 1 (PyTorch's is the kernel), so ``stride`` is always passed.
  ``count_include_pad`` defaults to 0 in ONNX and is always passed.  ``ceil_mode`` is the same
  rule in both (ceil, minus a last window that would start in the end padding).
* MaxPool ``Indices``: ONNX flattens over the whole NCHW tensor, PyTorch per (n, c) plane; the
  cases have N = C = 1, where the two coincide (row-major, ``storage_order=0``).
* LpPool: ONNX sums ``|x|**p``; PyTorch's ``lp_pool`` sums ``x**p`` -- equal for even ``p``.
* GlobalAveragePool / GlobalMaxPool -> ``adaptive_avg_pool2d(x, 1)`` / ``adaptive_max_pool2d(x, 1)``.
* DepthToSpace ``CRD`` = ``pixel_shuffle``; SpaceToDepth ``CRD`` = ``pixel_unshuffle`` (and ``DCR``
  too when C == 1, where the two channel orders coincide).  Col2Im (2 spatial dims) = ``fold``.
* Upsample (opset 9) ``nearest`` with integer scales = ``interpolate(mode="nearest")``.
* Resize.  ``half_pixel`` ``linear`` = ``bilinear, align_corners=False``; ``half_pixel`` ``cubic``
  with ``cubic_coeff_a=-0.75, exclude_outside=0`` = ``bicubic, align_corners=False`` (both clamp
  taps to the border as ONNX's edge padding does).  ``align_corners`` = ``align_corners=True`` only
  when ``in * scale`` is an integer (ONNX divides by ``in * scale - 1``, PyTorch by the floored
  ``out - 1``).  ``scales`` -> ``scale_factor`` with the float32 value (PyTorch then maps
  coordinates with ``1 / scale`` like ONNX), ``sizes`` -> ``size``.  ``cubic_coeff_a=-0.5,
  exclude_outside=1`` when *upsampling* = ``bicubic, antialias=True`` (PyTorch's antialiased
  bicubic uses a = -0.5 and renormalises over in-range taps; at scale >= 1 its support is the
  plain 4 taps).  ONNX's default nearest (``half_pixel`` + ``round_prefer_floor``) =
  ``nearest-exact`` (``half_pixel`` + round-half-up) when no source coordinate is exactly
  ``k + 0.5``; where the index map it gives for a case's sizes equals legacy ``nearest``'s
  ``floor(dst * in / out)`` the case is run with ``mode="nearest"`` (noted per test).

Composed tests (``*_composed``)
-------------------------------
Cases that no single convscope call expresses (see the list below) but a short, exact composition
of convscope calls does (``pad`` with ``-inf``/0 then pool, a sum-over-count ratio of two pools,
a dilated ``conv`` for dilated average/Lp pooling, ``lp_pool`` of ``|x|`` for odd ``p``,
``channel_shuffle`` for DCR ordering, a one-hot ``conv_transpose3d`` for 3-D Col2Im, index
arithmetic for ``storage_order=1``).  They are extra coverage, not counted as expressible.

ONNX cases NOT expressible by a single convscope call, and why
--------------------------------------------------------------
Pooling padding (convscope's pooling takes one symmetric ``padding`` <= kernel // 2, LpPool none):
  asymmetric pads, would be expressible with (low, high) pooling pads:
    test_maxpool_2d_same_upper (((0, 1), (0, 1))), test_maxpool_2d_same_lower (((1, 0), (1, 0))),
    test_averagepool_2d_same_upper (((0, 1), (0, 1)), count_include_pad=False),
    test_averagepool_2d_same_lower (((1, 0), (1, 0)), count_include_pad=False);
  symmetric pads larger than kernel // 2 (pads 2, kernel 3):
    test_maxpool_2d_pads, test_averagepool_2d_pads, test_averagepool_2d_pads_count_include_pad;
  LpPool with any padding (PyTorch's lp_pool has no padding argument):
    test_lppool_2d_same_upper (p=2, ((0, 1), (0, 1))), test_lppool_2d_same_lower (p=4,
    ((1, 0), (1, 0))), test_lppool_2d_pads (p=3, pads 2 -- also odd p).
Dilated average / Lp pooling (no ``dilation`` argument): test_averagepool_2d_dilations,
  test_averagepool_3d_dilations_small, test_averagepool_3d_dilations_large_count_include_pad_is_
  {0,1}_ceil_mode_is_{True,False} (4 cases), test_lppool_2d_dilations.
LpPool with odd p on signed data (``|x|**3 != x**3``): test_lppool_1d_default,
  test_lppool_3d_default (and test_lppool_2d_pads above).
MaxPool ``storage_order=1`` (column-major indices): test_maxpool_with_argmax_2d_precomputed_strides.
MaxUnpool ``output_shape``: test_maxunpool_export_with_output_shape (ONNX scatters into the
  inferred 4x4 plane and zero-pads to 5x5; PyTorch's ``output_size`` reads the flat indices in
  the 5x5 plane, so index 5 lands at (1, 0) instead of (1, 1)).
DCR channel order: test_depthtospace_example (DepthToSpace DCR), test_spacetodepth (C=2, DCR),
  test_spacetodepth_dcr_mode_example (C=2, DCR).
Col2Im with 3 spatial dims (``fold`` is 2-D only): test_col2im_5d.
Resize (20):
  tf_crop_and_resize (crop box + extrapolation): test_resize_tf_crop_and_resize,
    test_resize_tf_crop_and_resize_axes_2_3, test_resize_tf_crop_and_resize_axes_3_2,
    test_resize_tf_crop_and_resize_extrapolation_value;
  half_pixel_symmetric (an offset PyTorch has no way to add):
    test_resize_downsample_scales_linear_half_pixel_symmetric,
    test_resize_upsample_scales_linear_half_pixel_symmetric;
  align_corners with a non-integral ``in * scale`` (4 * 0.8, 2 * 0.6, 4 * 0.6):
    test_resize_downsample_scales_linear_align_corners,
    test_resize_downsample_scales_cubic_align_corners;
  pytorch_half_pixel with an output length of 1 (ONNX samples x = -0.5, i.e. pixel 0; PyTorch
    samples the centre): test_resize_downsample_sizes_linear_pytorch_half_pixel;
  asymmetric cubic: test_resize_upsample_scales_cubic_asymmetric;
  cubic_coeff_a=-0.5 + exclude_outside when downsampling (PyTorch's only a=-0.5 kernel is the
    antialiased one, whose support widens below scale 1):
    test_resize_downsample_scales_cubic_A_n0p5_exclude_outside;
  antialias when downsampling (ONNX edge-replicates taps beyond the border into the border pixel,
    PyTorch drops them and renormalises; antialiased cubic also uses a=-0.75 in ONNX, -0.5 in
    PyTorch): test_resize_downsample_scales_linear_antialias,
    test_resize_downsample_sizes_linear_antialias, test_resize_downsample_scales_cubic_antialias,
    test_resize_downsample_sizes_cubic_antialias;
  nearest_mode / coordinate modes PyTorch's two nearest modes cannot give:
    test_resize_upsample_sizes_nearest_ceil_half_pixel (ceil),
    test_resize_upsample_sizes_nearest_floor_align_corners (align_corners + floor),
    test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric;
  ties of round_prefer_floor that neither nearest mode reproduces:
    test_resize_downsample_sizes_nearest (width 4 -> 3: ONNX picks columns 0, 1, 3 -- source 1.5
    rounds down to 1 -- nearest-exact 0, 2, 3, legacy nearest 0, 1, 2; height 2 -> 1: source 0.5
    rounds down to row 0, nearest-exact takes row 1),
    test_resize_downsample_sizes_nearest_not_smaller (the same 4 -> 3 columns, at scale 0.75 for
    both axes).
"""

import itertools
import math

import numpy as np
import pytest

import convscope.functional as F

RTOL, ATOL = 1e-5, 1e-6


def _close(got, expected, rtol=RTOL, atol=ATOL):
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype.kind in "iub":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def _lit(name):
    inputs, outputs = _LITERAL[name]
    return [a.copy() for a in inputs], [a.copy() for a in outputs]


def _randn(seed, *shape):
    """ONNX's ``np.random.randn(*shape).astype(np.float32)``, from a fixed seed."""
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _by_name(cases):
    """Parametrize cases whose first value is the ONNX case name, with that name as the id."""
    return [pytest.param(*case, id=case[0]) for case in cases]


def _pairs(pads):
    """ONNX ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` -> ``((x1_begin, x1_end), ...)``."""
    n = len(pads) // 2
    return tuple((int(pads[i]), int(pads[i + n])) for i in range(n))


def _symmetric(pads):
    """The per-dimension padding of symmetric ONNX pads (asserts they are symmetric)."""
    pairs = _pairs(pads)
    assert all(b == e for b, e in pairs), pairs
    return tuple(b for b, _ in pairs)


def _torch_pad(pairs):
    """``((x1_b, x1_e), (x2_b, x2_e), ...)`` -> ``pad``'s last-dimension-first flat tuple."""
    out = []
    for b, e in reversed(pairs):
        out += [b, e]
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Ports of ONNX's padding rules (onnx/reference/ops/op_conv.py, op_conv_transpose.py)
# ---------------------------------------------------------------------------------------------


def _conv_auto_pads(auto_pad, spatial, kernel, strides):
    """op_conv.py: the pads ``auto_pad=SAME_UPPER/SAME_LOWER`` stands for."""
    head, tail = [], []
    for d, k, s in zip(spatial, kernel, strides):
        target_size = (d + s - 1) // s
        pad_needed = max(0, (target_size - 1) * s + k - d)
        pad_head = (pad_needed + 1) // 2 if auto_pad == "SAME_LOWER" else pad_needed // 2
        head.append(pad_head)
        tail.append(pad_needed - pad_head)
    return head + tail


def _convtranspose_pads(spatial, kernel, strides, output_padding, output_shape, auto_pad,
                        dilations):
    """op_conv_transpose.py: the pads ONNX derives when ``pads`` is absent."""
    if output_shape is None:
        output_shape = [spatial[i] * strides[i] for i in range(len(strides))]
    total = [strides[i] * (spatial[i] - 1) + output_padding[i]
             + ((kernel[i] - 1) * dilations[i] + 1) - output_shape[i]
             for i in range(len(output_shape))]
    if auto_pad == "SAME_UPPER":
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    return [t - t // 2 for t in total] + [t // 2 for t in total]


def _convtranspose_args(pads, output_padding):
    """ONNX pads (possibly negative at the end) -> convscope ``padding`` pairs, ``output_padding``."""
    pairs = _pairs(pads)
    assert all(b >= 0 for b, _ in pairs), pairs
    padding = tuple((b, max(e, 0)) for b, e in pairs)
    out_pad = tuple(op + max(-e, 0) for (_, e), op in zip(pairs, output_padding))
    return padding, out_pad


# ---------------------------------------------------------------------------------------------
# Port of onnx/reference/ops/op_pool_common.py (Apache-2.0, (c) ONNX Project Contributors)
# ---------------------------------------------------------------------------------------------


def get_pad_shape(auto_pad, input_spatial_shape, kernel_spatial_shape, strides_spatial,
                  output_spatial_shape):
    spatial_dims = len(input_spatial_shape)
    pad_shape = [0] * spatial_dims
    strides_spatial = strides_spatial or [1] * spatial_dims
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(spatial_dims):
            pad_shape[i] = ((output_spatial_shape[i] - 1) * strides_spatial[i]
                            + kernel_spatial_shape[i] - input_spatial_shape[i])
    return pad_shape


def get_output_shape_explicit_padding(pads, input_spatial_shape, kernel_spatial_shape,
                                      strides_spatial, dilations=None, ceil_mode=False):
    output_spatial_shape = [0] * len(input_spatial_shape)
    pads = pads or [0] * len(input_spatial_shape) * 2
    strides_spatial = strides_spatial or [1] * len(input_spatial_shape)
    dims = len(input_spatial_shape)
    if dilations is None:
        dilations = np.ones([dims], dtype=np.int64)
    for dim in range(dims):
        dim_size = (input_spatial_shape[dim] + pads[dim] + pads[dims + dim]
                    - dilations[dim] * (kernel_spatial_shape[dim] - 1) - 1) / strides_spatial[dim] + 1
        if ceil_mode:
            output_spatial_shape[dim] = int(np.ceil(dim_size))
            if ((output_spatial_shape[dim] - 1) * strides_spatial[dim]
                    >= input_spatial_shape[dim] + pads[dim]):
                output_spatial_shape[dim] -= 1
        else:
            output_spatial_shape[dim] = int(np.floor(dim_size))
    pads_spatial_shape_new = pads[:]
    for dim in range(dims):
        sliding_window_size = (kernel_spatial_shape[dim] - 1) * dilations[dim] + 1
        actual_padded_input_size = ((output_spatial_shape[dim] - 1) * strides_spatial[dim]
                                    + sliding_window_size)
        extra_pad = (actual_padded_input_size - input_spatial_shape[dim] - pads[dim]
                     - pads[dims + dim])
        if extra_pad > 0:
            pads_spatial_shape_new[dim] += extra_pad // 2
            pads_spatial_shape_new[dims + dim] += extra_pad - extra_pad // 2
    return output_spatial_shape, pads_spatial_shape_new


def get_output_shape_auto_pad(auto_pad, input_spatial_shape, kernel_spatial_shape,
                              strides_spatial):
    strides_spatial = strides_spatial or [1] * len(input_spatial_shape)
    out_shape = [0] * len(input_spatial_shape)
    for i in range(len(input_spatial_shape)):
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out_shape[i] = int(np.floor((input_spatial_shape[i] - 1) / strides_spatial[i])) + 1
        elif auto_pad == "VALID":
            out_shape[i] = int(np.floor((input_spatial_shape[i] - kernel_spatial_shape[i])
                                        / strides_spatial[i])) + 1
        else:
            raise ValueError(auto_pad)
    return out_shape


def pool(padded, x_shape, kernel, strides, out_shape, pooling_type, pads_required=None,
         pads=None, dilations=None, count_include_pad=0, p=1):
    spatial_size = len(x_shape) - 2
    y = np.zeros([x_shape[0], x_shape[1], *list(out_shape)], dtype=padded.dtype)
    if dilations is None:
        dilations = np.ones([spatial_size], dtype=np.int64)
    if pads_required is None:
        pads_required = np.zeros([spatial_size * 2], dtype=np.int64)
    elif len(pads_required) == 1:
        pads_required = pads_required * spatial_size * 2
    if pads is None:
        pads = np.zeros([spatial_size * 2], dtype=np.int64)
    elif len(pads) == 1:
        pads = pads * spatial_size * 2
    strides = strides or [1] * spatial_size
    for shape in itertools.product(
        range(x_shape[0]),
        range(x_shape[1]),
        *[range(int((x_shape[i + 2] + pads_required[i] + pads_required[i + spatial_size]
                     - (1 + (kernel[i] - 1) * dilations[i])) / strides[i] + 1))
          for i in range(spatial_size)],
    ):
        window = padded[shape[0], shape[1]]
        window_vals = np.array([
            window[i]
            for i in list(itertools.product(*[
                [pixel
                 for pixel in range(strides[i] * shape[i + 2],
                                    strides[i] * shape[i + 2] + (1 + (kernel[i] - 1) * dilations[i]),
                                    dilations[i])
                 if pixel < x_shape[i + 2] + pads[i] + pads[spatial_size + i]]
                for i in range(spatial_size)
            ]))
        ])
        if pooling_type == "AVG":
            f = np.average
        elif pooling_type == "MAX":
            f = np.max
        elif pooling_type == "LPPOOL":
            def f(x, p=p):
                return np.sum(np.abs(x) ** p) ** (1.0 / p)
        else:
            raise NotImplementedError(pooling_type)
        if count_include_pad == 1 and (pooling_type in {"AVG", "LPPOOL"}):
            y[shape] = f(window_vals)
        else:
            y[shape] = f(window_vals[np.where(~np.isnan(window_vals))])
    return y.astype(padded.dtype)


def _onnx_pool_node(pooling_type, x, kernel_shape, strides=None, pads=None, auto_pad="NOTSET",
                    ceil_mode=0, dilations=None, count_include_pad=0, p=None):
    """``CommonPool._run`` of op_pool_common.py: what ONNX's reference runtime does for a node."""
    x_shape = np.shape(x)
    padding_value = np.nan if pooling_type == "MAX" or count_include_pad == 0 else 0
    if auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        out_shape = get_output_shape_auto_pad(auto_pad, x.shape[2:], kernel_shape, strides)
        pads_shape = get_pad_shape(auto_pad, x_shape[2:], kernel_shape, strides, out_shape)
        n = len(pads_shape)
        if auto_pad == "SAME_UPPER":
            pads = [s // 2 for s in pads_shape] + [s - s // 2 for s in pads_shape]
        elif auto_pad == "SAME_LOWER":
            pads = [s - s // 2 for s in pads_shape] + [s // 2 for s in pads_shape]
        else:
            pads = [0] * 2 * n
        padded = np.pad(x, ((0, 0), (0, 0), *_pairs(pads)), mode="constant",
                        constant_values=padding_value)
        return pool(padded, x_shape, kernel_shape, strides, out_shape, pooling_type, pads, pads,
                    dilations, count_include_pad, p)
    out_shape, extra_pads = get_output_shape_explicit_padding(pads, x_shape[2:], kernel_shape,
                                                              strides, dilations, ceil_mode)
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(extra_pads)), mode="constant",
                    constant_values=padding_value)
    return pool(padded, x_shape, kernel_shape, strides, out_shape, pooling_type, extra_pads, pads,
                dilations, count_include_pad, p)


# ---------------------------------------------------------------------------------------------
# Port of onnx/reference/ops/op_resize.py (Apache-2.0, (c) ONNX Project Contributors)
# ---------------------------------------------------------------------------------------------


def nearest_coeffs(ratio, mode="round_prefer_floor"):
    if isinstance(ratio, int) or ratio.is_integer():
        return np.array([0, 1])
    if mode == "round_prefer_floor":
        return np.array([ratio <= 0.5, ratio > 0.5])
    if mode == "round_prefer_ceil":
        return np.array([ratio < 0.5, ratio >= 0.5])
    if mode == "floor":
        return np.array([1, 0])
    if mode == "ceil":
        return np.array([0, 1])
    raise ValueError(mode)


def cubic_coeffs(ratio, scale=None, A=-0.75):
    del scale
    coeffs = [
        ((A * (ratio + 1) - 5 * A) * (ratio + 1) + 8 * A) * (ratio + 1) - 4 * A,
        ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1,
        ((A + 2) * (1 - ratio) - (A + 3)) * (1 - ratio) * (1 - ratio) + 1,
        ((A * ((1 - ratio) + 1) - 5 * A) * ((1 - ratio) + 1) + 8 * A) * ((1 - ratio) + 1) - 4 * A,
    ]
    return np.array(coeffs)


def linear_coeffs(ratio, scale=None):
    del scale
    return np.array([1 - ratio, ratio])


def _compute_x_ori(mode, y, scale_factor, input_width, output_width, output_width_int, roi):
    is_extrapolated = None
    if mode == "align_corners":
        x_ori = (np.zeros(output_width_int, dtype=np.float64) if output_width == 1
                 else y * (input_width - 1) / (output_width - 1))
    elif mode == "asymmetric":
        x_ori = y / scale_factor
    elif mode == "tf_crop_and_resize":
        if output_width == 1:
            x_ori = np.full(output_width_int, (roi[1] - roi[0]) * (input_width - 1) / 2,
                            dtype=np.float64)
        else:
            x_ori = y * (roi[1] - roi[0]) * (input_width - 1) / (output_width - 1)
        x_ori = x_ori + roi[0] * (input_width - 1)
        is_extrapolated = (x_ori < 0) | (x_ori > input_width - 1)
    elif mode == "pytorch_half_pixel":
        x_ori = (np.full(output_width_int, -0.5, dtype=np.float64) if output_width == 1
                 else (y + 0.5) / scale_factor - 0.5)
    elif mode == "half_pixel":
        x_ori = (y + 0.5) / scale_factor - 0.5
    elif mode == "half_pixel_symmetric":
        adjustment = output_width_int / output_width
        center = input_width / 2
        offset = center * (1 - adjustment)
        x_ori = offset + (y + 0.5) / scale_factor - 0.5
    else:
        raise ValueError(mode)
    return x_ori, is_extrapolated


def _interpolate_1d_along_axis(data, axis, scale_factor, output_width_int, get_coeffs, roi=None,
                               extrapolation_value=0.0, coordinate_transformation_mode="half_pixel",
                               exclude_outside=False):
    input_width = data.shape[axis]
    output_width = scale_factor * input_width
    y = np.arange(output_width_int, dtype=np.float64)
    x_ori, is_extrapolated = _compute_x_ori(coordinate_transformation_mode, y, scale_factor,
                                            input_width, output_width, output_width_int, roi)
    x_ori_int = np.floor(x_ori).astype(np.int64)
    integer_mask = x_ori == x_ori_int
    ratios = np.where(integer_mask, 1.0, x_ori - x_ori_int)
    sample_coeffs = np.asarray(get_coeffs(float(ratios[0]), scale_factor))
    n = len(sample_coeffs)
    coeffs = np.empty((output_width_int, n), dtype=np.float64)
    coeffs[0] = sample_coeffs
    for i in range(1, output_width_int):
        coeffs[i] = get_coeffs(float(ratios[i]), scale_factor)
    pad_width = int(np.ceil(n / 2))
    x_padded = x_ori + pad_width
    p_padded = np.floor(x_padded).astype(np.int64)
    frac = x_padded - p_padded
    if n % 2 == 0:
        offset_from_p = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        base = -((n - 1) // 2)
        offset_from_p = np.where(frac <= 0.5, base, base + 1)
    start_padded = p_padded + offset_from_p
    neighbor_idxes = start_padded[:, None] + np.arange(n)[None, :] - pad_width
    if exclude_outside:
        outside_mask = (neighbor_idxes < 0) | (neighbor_idxes >= input_width)
        coeffs = np.where(outside_mask, 0.0, coeffs)
        coeff_sum = coeffs.sum(axis=-1, keepdims=True)
        coeff_sum = np.where(coeff_sum == 0, 1.0, coeff_sum)
        coeffs = coeffs / coeff_sum
    clamped = np.clip(neighbor_idxes, 0, input_width - 1).astype(np.intp)
    gathered = np.take(data, clamped, axis=axis)
    coeff_shape = (1,) * axis + coeffs.shape + (1,) * (data.ndim - axis - 1)
    result = (gathered * coeffs.reshape(coeff_shape)).sum(axis=axis + 1)
    if is_extrapolated is not None and is_extrapolated.any():
        mask_shape = (1,) * axis + (output_width_int,) + (1,) * (data.ndim - axis - 1)
        result = np.where(is_extrapolated.reshape(mask_shape), extrapolation_value, result)
    return result


def interpolate_nd(data, get_coeffs, output_size=None, scale_factors=None, axes=None, roi=None,
                   keep_aspect_ratio_policy="stretch", exclude_outside=False, **kwargs):
    if roi is not None and np.asarray(roi).size == 0:
        roi = None
    r = len(data.shape)
    if axes is not None:
        if scale_factors is not None:
            new_scale_factors = [1.0] * r
            for i, d in enumerate(axes):
                new_scale_factors[d] = scale_factors[i]
            scale_factors = new_scale_factors
        if output_size is not None:
            new_output_size = [data.shape[i] for i in range(r)]
            for i, d in enumerate(axes):
                new_output_size[d] = output_size[i]
            output_size = new_output_size
        if roi is not None:
            new_roi = ([0.0] * r) + ([1.0] * r)
            naxes = len(axes)
            for i, d in enumerate(axes):
                new_roi[d] = roi[i]
                new_roi[r + d] = roi[naxes + i]
            roi = new_roi
    else:
        axes = list(range(r))
    if output_size is not None:
        scale_factors = [output_size[i] / data.shape[i] for i in range(r)]
        if keep_aspect_ratio_policy != "stretch":
            if keep_aspect_ratio_policy == "not_larger":
                scale = np.array(scale_factors)[axes].min()
            elif keep_aspect_ratio_policy == "not_smaller":
                scale = np.array(scale_factors)[axes].max()
            else:
                raise ValueError(keep_aspect_ratio_policy)
            scale_factors = [scale if i in axes else 1.0 for i in range(r)]
            output_size = [int(scale * data.shape[i] + 0.5) if i in axes else data.shape[i]
                           for i in range(r)]
    else:
        output_size = (scale_factors * np.array(data.shape)).astype(int)
    result = data if data.dtype == np.float64 else data.astype(np.float64)
    for axis in axes:
        axis_scale = float(scale_factors[axis])
        axis_output = int(output_size[axis])
        if (math.isclose(axis_scale, 1.0) and axis_output == result.shape[axis]
                and (roi is None or (math.isclose(float(roi[axis]), 0.0)
                                     and math.isclose(float(roi[axis + r]), 1.0)))):
            continue
        axis_roi = None if roi is None else [roi[axis], roi[axis + r]]
        result = _interpolate_1d_along_axis(result, axis, axis_scale, axis_output, get_coeffs,
                                            roi=axis_roi, exclude_outside=exclude_outside, **kwargs)
    return result


# =============================================================================================
# The ports reproduce ONNX's own literal arrays (so the random cases are judged by ONNX semantics)
# =============================================================================================


@pytest.mark.parametrize("name, kwargs", _by_name([
    ("test_maxpool_2d_precomputed_pads", {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2]}),
    ("test_maxpool_2d_precomputed_strides", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("test_maxpool_2d_precomputed_same_upper",
     {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ("test_maxpool_2d_ceil", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("test_maxpool_2d_ceil_output_size_reduce_by_one",
     {"kernel_shape": [1, 1], "strides": [2, 2], "ceil_mode": 1}),
    ("test_maxpool_3d_dilations", {"kernel_shape": [2, 2, 2], "strides": [1, 1, 1],
                                       "dilations": [2, 2, 2]}),
    ("test_averagepool_2d_precomputed_pads", {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2]}),
    ("test_averagepool_2d_precomputed_pads_count_include_pad",
     {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2], "count_include_pad": 1}),
    ("test_averagepool_2d_precomputed_same_upper",
     {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ("test_averagepool_2d_ceil", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("test_averagepool_2d_dilations", {"kernel_shape": [2, 2], "strides": [1, 1], "dilations": [2, 2],
                                           "ceil_mode": 1}),
]))
def test_port_pool_reproduces_onnx_literals(name, kwargs):
    (x,), (y,) = _lit(name)
    kind = "MAX" if "maxpool" in name else "AVG"
    _close(_onnx_pool_node(kind, x, **kwargs), y)


def test_port_resize_reproduces_onnx_printed_output():
    # resize.py prints the expected output of test_resize_upsample_scales_linear in a comment.
    (x, scales), _ = _lit("test_resize_upsample_scales_linear")
    got = interpolate_nd(x, lambda r, _: linear_coeffs(r), scale_factors=scales)
    _close(got.astype(np.float32), np.array([[[[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5],
                                               [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]]]],
                                             dtype=np.float32))


# =============================================================================================
# Conv (conv.py): 6 of 6 expressible
# =============================================================================================


@pytest.mark.parametrize("name, pads, strides", _by_name([
    ("test_basic_conv_with_padding", [1, 1, 1, 1], (1, 1)),
    ("test_basic_conv_without_padding", [0, 0, 0, 0], (1, 1)),
    ("test_conv_with_strides_padding", [1, 1, 1, 1], (2, 2)),
    ("test_conv_with_strides_no_padding", [0, 0, 0, 0], (2, 2)),
    ("test_conv_with_strides_and_asymmetric_padding", [1, 0, 1, 0], (2, 2)),
]))
def test_conv(name, pads, strides):
    (x, w), (y,) = _lit(name)
    _close(F.conv2d(x, w, stride=strides, padding=_pairs(pads)), y)


def test_conv_with_autopad_same():
    (x, w), (y,) = _lit("test_conv_with_autopad_same")
    pads = _conv_auto_pads("SAME_LOWER", x.shape[2:], [3, 3], [2, 2])
    assert pads == [1, 1, 1, 1]
    _close(F.conv2d(x, w, stride=2, padding=_pairs(pads)), y)


# =============================================================================================
# ConvTranspose (convtranspose.py): 11 of 11 expressible
# =============================================================================================


def test_convtranspose():
    (x, w), (y,) = _lit("test_convtranspose")
    _close(F.conv_transpose2d(x, w), y)


def test_convtranspose_1d():
    (x, w), (y,) = _lit("test_convtranspose_1d")
    _close(F.conv_transpose1d(x, w), y)


def test_convtranspose_3d():
    (x, w), (y,) = _lit("test_convtranspose_3d")
    _close(F.conv_transpose3d(x, w), y)


def test_convtranspose_output_shape():
    # strides=[3, 2], output_shape=[10, 8]: total padding -1 per axis -> pads (0, -1):
    # padding 0 and one extra output row/column (output_padding 1).
    (x, w), (y,) = _lit("test_convtranspose_output_shape")
    pads = _convtranspose_pads(x.shape[2:], w.shape[2:], [3, 2], [0, 0], [10, 8], "NOTSET",
                               [1, 1])
    assert pads == [0, 0, -1, -1]
    padding, out_pad = _convtranspose_args(pads, [0, 0])
    _close(F.conv_transpose2d(x, w, stride=(3, 2), padding=padding, output_padding=out_pad), y)


def test_convtranspose_pad():
    (x, w), (y,) = _lit("test_convtranspose_pad")
    _close(F.conv_transpose2d(x, w, stride=(3, 2), output_padding=(1, 1)), y)


def test_convtranspose_kernel_shape():
    # output_shape=[10, 8] together with output_padding=[1, 1]: total padding 0.
    (x, w), (y,) = _lit("test_convtranspose_kernel_shape")
    pads = _convtranspose_pads(x.shape[2:], [3, 3], [3, 2], [1, 1], [10, 8], "NOTSET", [1, 1])
    assert pads == [0, 0, 0, 0]
    padding, out_pad = _convtranspose_args(pads, [1, 1])
    _close(F.conv_transpose2d(x, w, stride=(3, 2), padding=padding, output_padding=out_pad), y)


def test_convtranspose_autopad_same():
    # SAME_UPPER, strides 2: output 6 = 3 * 2, total padding 1 -> pads ((0, 1), (0, 1)), which
    # needs convscope's (low, high) padding (PyTorch's conv_transpose2d cannot express it).
    (x, w), (y,) = _lit("test_convtranspose_autopad_same")
    pads = _convtranspose_pads(x.shape[2:], w.shape[2:], [2, 2], [0, 0], None, "SAME_UPPER",
                               [1, 1])
    assert pads == [0, 0, 1, 1]
    padding, out_pad = _convtranspose_args(pads, [0, 0])
    _close(F.conv_transpose2d(x, w, stride=2, padding=padding, output_padding=out_pad), y)


def test_convtranspose_dilations():
    (x, w), (y,) = _lit("test_convtranspose_dilations")
    _close(F.conv_transpose2d(x, w, dilation=2), y)


@pytest.mark.parametrize("name", ["test_convtranspose_group_2", "test_convtranspose_group_2_image_3"])
def test_convtranspose_group(name):
    (x, w), (y,) = _lit(name)
    _close(F.conv_transpose2d(x, w, groups=2), y)


def test_convtranspose_pads():
    (x, w), (y,) = _lit("test_convtranspose_pads")
    _close(F.conv_transpose2d(x, w, stride=(3, 2), padding=_pairs([1, 2, 1, 2])), y)


# =============================================================================================
# MaxPool (maxpool.py): 15 of 19 expressible
# =============================================================================================


def test_maxpool_2d_uint8():
    (x,), (y,) = _lit("test_maxpool_2d_uint8")
    _close(F.max_pool2d(x, 5, stride=1, padding=_symmetric([2, 2, 2, 2])), y)


def test_maxpool_2d_precomputed_pads():
    (x,), (y,) = _lit("test_maxpool_2d_precomputed_pads")
    _close(F.max_pool2d(x, 5, stride=1, padding=_symmetric([2, 2, 2, 2])), y)


def test_maxpool_with_argmax_2d_precomputed_pads():
    (x,), (y, z) = _lit("test_maxpool_with_argmax_2d_precomputed_pads")
    got, idx = F.max_pool2d(x, 5, stride=1, padding=2, return_indices=True)
    _close(got, y)
    _close(np.asarray(idx).astype(np.int64), z)
    assert np.asarray(idx).dtype == np.int64


def test_maxpool_2d_precomputed_strides():
    (x,), (y,) = _lit("test_maxpool_2d_precomputed_strides")
    _close(F.max_pool2d(x, 2, stride=2), y)


def test_maxpool_2d_precomputed_same_upper():
    # SAME_UPPER, kernel 3, stride 2 on 5x5: pad_shape [2, 2] -> pads (1, 1) per axis: symmetric.
    (x,), (y,) = _lit("test_maxpool_2d_precomputed_same_upper")
    out_shape = get_output_shape_auto_pad("SAME_UPPER", x.shape[2:], [3, 3], [2, 2])
    pad_shape = get_pad_shape("SAME_UPPER", x.shape[2:], [3, 3], [2, 2], out_shape)
    pads = [s // 2 for s in pad_shape] + [s - s // 2 for s in pad_shape]
    _close(F.max_pool2d(x, 3, stride=2, padding=_symmetric(pads)), y)


def test_maxpool_1d_default():
    x = _randn(101, 1, 3, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], [2], [1])
    y = pool(x, x.shape, [2], [1], out_shape, "MAX")
    _close(F.max_pool1d(x, 2, stride=1), y)


def test_maxpool_2d_default():
    x = _randn(102, 1, 3, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], (2, 2), (1, 1))
    y = pool(x, x.shape, (2, 2), (1, 1), out_shape, "MAX")
    _close(F.max_pool2d(x, 2, stride=1), y)


def test_maxpool_3d_default():
    x = _randn(103, 1, 3, 32, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], [2, 2, 2], [1, 1, 1])
    y = pool(x, x.shape, [2, 2, 2], [1, 1, 1], out_shape, "MAX")
    _close(F.max_pool3d(x, 2, stride=1), y)


def test_maxpool_2d_strides():
    x = _randn(104, 1, 3, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], (5, 5), (3, 3))
    y = pool(x, x.shape, (5, 5), (3, 3), out_shape, "MAX")
    _close(F.max_pool2d(x, 5, stride=3), y)


def test_maxpool_2d_ceil():
    (x,), (y,) = _lit("test_maxpool_2d_ceil")
    _close(F.max_pool2d(x, 3, stride=2, ceil_mode=True), y)


def test_maxpool_2d_ceil_output_size_reduce_by_one():
    (x,), (y,) = _lit("test_maxpool_2d_ceil_output_size_reduce_by_one")
    _close(F.max_pool2d(x, 1, stride=2, ceil_mode=True), y)


def test_maxpool_2d_dilations():
    (x,), (y,) = _lit("test_maxpool_2d_dilations")
    _close(F.max_pool2d(x, 2, stride=1, dilation=2), y)


def test_maxpool_3d_dilations():
    (x,), (y,) = _lit("test_maxpool_3d_dilations")
    _close(F.max_pool3d(x, 2, stride=1, dilation=2), y)


def test_maxpool_3d_dilations_use_ref_impl():
    (x,), _ = _lit("test_maxpool_3d_dilations_use_ref_impl")
    x_shape = x.shape[2:]
    out_shape, pads = get_output_shape_explicit_padding(None, x_shape, [2, 2, 2], [1, 1, 1],
                                                        [2, 2, 2], ceil_mode=False)
    y = pool(x, (1, 1, *x_shape), [2, 2, 2], [1, 1, 1], out_shape, "MAX", pads_required=pads,
             pads=None, dilations=[2, 2, 2])
    _close(F.max_pool3d(x, 2, stride=1, dilation=2), y)


def test_maxpool_3d_dilations_use_ref_impl_large():
    x_shape, dilations, kernel_shape, strides = (32, 32, 32), (2, 2, 2), (5, 5, 5), (3, 3, 3)
    x = _randn(105, 1, 1, *x_shape)
    out_shape, pads = get_output_shape_explicit_padding(None, x_shape, kernel_shape, strides,
                                                        dilations, ceil_mode=True)
    padded = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[3]), (pads[1], pads[4]), (pads[2], pads[5])),
                    mode="constant", constant_values=0)
    y = pool(padded, (1, 1, *x_shape), kernel_shape, strides, out_shape, "MAX",
             pads_required=pads, pads=None, dilations=dilations)
    assert y.shape == (1, 1, 9, 9, 9)
    _close(F.max_pool3d(x, 5, stride=3, dilation=2, ceil_mode=True), y)


# =============================================================================================
# AveragePool (averagepool.py): 10 of 20 expressible
# =============================================================================================


def test_averagepool_2d_precomputed_pads():
    (x,), (y,) = _lit("test_averagepool_2d_precomputed_pads")
    _close(F.avg_pool2d(x, 5, stride=1, padding=_symmetric([2, 2, 2, 2]),
                        count_include_pad=False), y)


def test_averagepool_2d_precomputed_pads_count_include_pad():
    (x,), (y,) = _lit("test_averagepool_2d_precomputed_pads_count_include_pad")
    _close(F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=True), y)


def test_averagepool_2d_precomputed_strides():
    (x,), (y,) = _lit("test_averagepool_2d_precomputed_strides")
    _close(F.avg_pool2d(x, 2, stride=2, count_include_pad=False), y)


def test_averagepool_2d_precomputed_same_upper():
    (x,), (y,) = _lit("test_averagepool_2d_precomputed_same_upper")
    out_shape = get_output_shape_auto_pad("SAME_UPPER", x.shape[2:], [3, 3], [2, 2])
    pad_shape = get_pad_shape("SAME_UPPER", x.shape[2:], [3, 3], [2, 2], out_shape)
    pads = [s // 2 for s in pad_shape] + [s - s // 2 for s in pad_shape]
    _close(F.avg_pool2d(x, 3, stride=2, padding=_symmetric(pads), count_include_pad=False), y)


def test_averagepool_1d_default():
    x = _randn(201, 1, 3, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], [2], [1])
    y = pool(x, x.shape, [2], [1], out_shape, "AVG")
    _close(F.avg_pool1d(x, 2, stride=1, count_include_pad=False), y)


def test_averagepool_2d_default():
    x = _randn(202, 1, 3, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], (2, 2), (1, 1))
    y = pool(x, x.shape, (2, 2), (1, 1), out_shape, "AVG")
    _close(F.avg_pool2d(x, 2, stride=1, count_include_pad=False), y)


def test_averagepool_3d_default():
    x = _randn(203, 1, 3, 32, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], [2, 2, 2], [1, 1, 1])
    y = pool(x, x.shape, [2, 2, 2], [1, 1, 1], out_shape, "AVG")
    _close(F.avg_pool3d(x, 2, stride=1, count_include_pad=False), y)


def test_averagepool_2d_strides():
    x = _randn(204, 1, 3, 32, 32)
    out_shape, pads = get_output_shape_explicit_padding(None, x.shape[2:], (5, 5), (3, 3),
                                                        ceil_mode=False)
    y = pool(x, x.shape, (5, 5), (3, 3), out_shape, "AVG", pads_required=pads, pads=None)
    _close(F.avg_pool2d(x, 5, stride=3, count_include_pad=False), y)


def test_averagepool_2d_ceil():
    (x,), (y,) = _lit("test_averagepool_2d_ceil")
    _close(F.avg_pool2d(x, 3, stride=2, ceil_mode=True, count_include_pad=False), y)


def test_averagepool_2d_ceil_last_window_starts_on_pad():
    # kernel 3, stride 3, pads 1, ceil_mode=1, count_include_pad=1 on 2x2: one window, rows and
    # columns -1..1, divided by 9.  The literal has 4 decimals (see the module docstring).
    (x,), (y,) = _lit("test_averagepool_2d_ceil_last_window_starts_on_pad")
    got = F.avg_pool2d(x, 3, stride=3, padding=_symmetric([1, 1, 1, 1]), ceil_mode=True,
                       count_include_pad=True)
    _close(got, y, rtol=1e-3, atol=1e-7)
    exact = _onnx_pool_node("AVG", x, kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1],
                            ceil_mode=1, count_include_pad=1)
    _close(got, exact)


# =============================================================================================
# LpPool (lppool.py): 2 of 8 expressible
# =============================================================================================


def test_lppool_2d_default():
    p = 4
    x = _randn(301, 1, 3, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], (2, 2), (1, 1))
    y = pool(x, x.shape, (2, 2), (1, 1), out_shape, "LPPOOL", p=p)
    _close(F.lp_pool2d(x, p, 2, stride=1), y)


def test_lppool_2d_strides():
    p = 2
    x = _randn(302, 1, 3, 32, 32)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], (5, 5), (3, 3))
    y = pool(x, x.shape, (5, 5), (3, 3), out_shape, "LPPOOL", p=p)
    _close(F.lp_pool2d(x, p, 5, stride=3), y)


# =============================================================================================
# GlobalAveragePool / GlobalMaxPool (globalaveragepool.py, globalmaxpool.py): 4 of 4
# =============================================================================================


def test_globalaveragepool():
    x = np.random.RandomState(401).randn(1, 3, 5, 5).astype(np.float32)
    y = np.mean(x, axis=tuple(range(2, np.ndim(x))), keepdims=True)
    _close(F.adaptive_avg_pool2d(x, 1), y)


def test_globalaveragepool_precomputed():
    (x,), (y,) = _lit("test_globalaveragepool_precomputed")
    _close(F.adaptive_avg_pool2d(x, 1), y)


def test_globalmaxpool():
    x = np.random.RandomState(402).randn(1, 3, 5, 5).astype(np.float32)
    y = np.max(x, axis=tuple(range(2, np.ndim(x))), keepdims=True)
    _close(F.adaptive_max_pool2d(x, 1), y)


def test_globalmaxpool_precomputed():
    (x,), (y,) = _lit("test_globalmaxpool_precomputed")
    _close(F.adaptive_max_pool2d(x, 1), y)


# =============================================================================================
# MaxUnpool (maxunpool.py): 1 of 2 expressible
# =============================================================================================


def test_maxunpool_export_without_output_shape():
    (xt, xi), (y,) = _lit("test_maxunpool_export_without_output_shape")
    _close(F.max_unpool2d(xt, xi, 2, stride=2), y)


# =============================================================================================
# DepthToSpace / SpaceToDepth (depthtospace.py, spacetodepth.py): 3 of 6 expressible
# =============================================================================================


def test_depthtospace_crd_mode_example():
    (x,), (y,) = _lit("test_depthtospace_crd_mode_example")
    _close(F.pixel_shuffle(x, 2), y)


def test_spacetodepth_crd_mode_example():
    (x,), (y,) = _lit("test_spacetodepth_crd_mode_example")
    _close(F.pixel_unshuffle(x, 2), y)


def test_spacetodepth_example():
    # Default mode DCR, but C == 1: block-major and channel-major orders coincide.
    (x,), (y,) = _lit("test_spacetodepth_example")
    assert x.shape[1] == 1
    _close(F.pixel_unshuffle(x, 2), y)


# =============================================================================================
# Col2Im (col2im.py): 4 of 5 expressible
# =============================================================================================


@pytest.mark.parametrize("name, kwargs", _by_name([
    ("test_col2im", {}),
    ("test_col2im_strides", {"strides": [2, 2]}),
    ("test_col2im_pads", {"pads": [0, 1, 0, 1]}),
    ("test_col2im_dilations", {"dilations": [1, 5]}),
]))
def test_col2im(name, kwargs):
    (x, image_shape, block_shape), (y,) = _lit(name)
    padding = _symmetric(kwargs.get("pads", [0, 0, 0, 0]))
    got = F.fold(x, tuple(int(v) for v in image_shape), tuple(int(v) for v in block_shape),
                 dilation=tuple(kwargs.get("dilations", [1, 1])), padding=padding,
                 stride=tuple(kwargs.get("strides", [1, 1])))
    _close(got, y)


# =============================================================================================
# Pad (pad.py): 6 of 6 expressible
# =============================================================================================


def pad_impl(data, raw_pads, mode, constant_values=0.0, axes=None):
    """pad.py's reference (np.pad with ONNX's pads order)."""
    input_rank = data.ndim
    axes = list(range(input_rank)) if axes is None else [a if a >= 0 else a + input_rank
                                                        for a in axes]
    num_axes = len(axes)
    pad_width = [[0, 0] for _ in range(input_rank)]
    for i in range(num_axes):
        pad_width[axes[i]] = [raw_pads[i], raw_pads[i + num_axes]]
    if mode == "constant":
        return np.pad(data, pad_width=pad_width, mode=mode, constant_values=constant_values)
    return np.pad(data, pad_width=pad_width, mode=mode)


def test_constant_pad():
    x = _randn(501, 1, 3, 4, 5)
    pads = np.array([0, 0, 1, 3, 0, 0, 2, 4]).astype(np.int64)
    y = pad_impl(x, pads, "constant", 1.2)
    _close(F.pad(x, _torch_pad(_pairs(pads)[2:]), mode="constant", value=1.2), y)


@pytest.mark.parametrize("name, axes", _by_name([("test_constant_pad_axes", [1, 3]),
                                        ("test_constant_pad_negative_axes", [-3, -1])]))
def test_constant_pad_axes(name, axes):
    x = _randn(502, 1, 3, 4, 5)
    pads = np.array([0, 3, 0, 4]).astype(np.int64)
    y = pad_impl(x, pads, "constant", 1.2, axes)
    full = [[0, 0] for _ in range(4)]
    for i, a in enumerate(axes):
        full[a % 4] = [int(pads[i]), int(pads[i + len(axes)])]
    _close(F.pad(x, _torch_pad(full[1:]), mode="constant", value=1.2), y)


@pytest.mark.parametrize("name, onnx_mode, mode", [("test_edge_pad", "edge", "replicate"),
                                                   ("test_reflect_pad", "reflect", "reflect"),
                                                   ("test_wrap_pad", "wrap", "circular")], ids=['test_edge_pad', 'test_reflect_pad', 'test_wrap_pad'])
def test_non_constant_pad(name, onnx_mode, mode):
    x = np.random.RandomState(503).randn(1, 3, 4, 5).astype(np.int32)
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1]).astype(np.int64)
    y = pad_impl(x, pads, onnx_mode)
    _close(F.pad(x, _torch_pad(_pairs(pads)[2:]), mode=mode), y)


# =============================================================================================
# Upsample (upsample.py): 1 of 1 expressible
# =============================================================================================


def test_upsample_nearest():
    (x, scales), (y,) = _lit("test_upsample_nearest")
    _close(F.interpolate(x, scale_factor=(float(scales[2]), float(scales[3])), mode="nearest"), y)


# =============================================================================================
# Resize (resize.py): 19 of 39 expressible
# =============================================================================================

def _nearest(r, _):
    return nearest_coeffs(r)


def _linear(r, _):
    return linear_coeffs(r)


def _cubic(r, _):
    return cubic_coeffs(r)


def _scale_tuple(scales, axes=None):
    """Resize ``scales`` (float32) -> ``scale_factor`` for the spatial axes, in H, W order."""
    scales = [float(s) for s in scales]
    if axes is None:
        assert scales[:2] == [1.0, 1.0]
        return tuple(scales[2:])
    by_axis = dict(zip(axes, scales))
    return tuple(by_axis[a] for a in (2, 3))


# (case name, ONNX expectation kwargs, convscope interpolate kwargs)
_RESIZE_CASES = [
    # nearest, half_pixel + round_prefer_floor, no source coordinate at k + 0.5: nearest-exact.
    ("test_resize_upsample_scales_nearest", {"get_coeffs": _nearest, "use": "scales"},
     {"mode": "nearest-exact"}),
    ("test_resize_upsample_scales_nearest_axes_2_3",
     {"get_coeffs": _nearest, "use": "scales", "axes": [2, 3]}, {"mode": "nearest-exact"}),
    ("test_resize_upsample_scales_nearest_axes_3_2",
     {"get_coeffs": _nearest, "use": "scales", "axes": [3, 2]}, {"mode": "nearest-exact"}),
    ("test_resize_downsample_scales_nearest", {"get_coeffs": _nearest, "use": "scales"},
     {"mode": "nearest-exact"}),
    # keep_aspect_ratio_policy cases: ONNX's chosen scale times the input size is an integer
    # (4 * 2, 3.5 * 2, 0.5 * 2 and 0.5 * 4), so ``size`` gives the same coordinate scale.
    ("test_resize_upsample_sizes_nearest_not_smaller",
     {"get_coeffs": _nearest, "use": "sizes", "axes": [2, 3], "keep_aspect_ratio_policy": "not_smaller",
          "out_hw": (8, 8)},
     {"mode": "nearest-exact"}),
    # nearest with ties at k + 0.5 (round_prefer_floor) whose index maps equal legacy nearest's
    # floor(dst * in / out) for these sizes: 2 -> 7 (rows 0,0,0,0,1,1,1), 2 -> 8, 4 -> 2.
    ("test_resize_upsample_sizes_nearest", {"get_coeffs": _nearest, "use": "sizes"},
     {"mode": "nearest"}),
    ("test_resize_upsample_sizes_nearest_axes_2_3",
     {"get_coeffs": _nearest, "use": "sizes", "axes": [2, 3]}, {"mode": "nearest"}),
    ("test_resize_upsample_sizes_nearest_axes_3_2",
     {"get_coeffs": _nearest, "use": "sizes", "axes": [3, 2]}, {"mode": "nearest"}),
    ("test_resize_upsample_sizes_nearest_not_larger",
     {"get_coeffs": _nearest, "use": "sizes", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger",
          "out_hw": (7, 7)},
     {"mode": "nearest"}),
    ("test_resize_downsample_sizes_nearest_not_larger",
     {"get_coeffs": _nearest, "use": "sizes", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger",
          "out_hw": (1, 2)},
     {"mode": "nearest"}),
    # linear
    ("test_resize_upsample_scales_linear", {"get_coeffs": _linear, "use": "scales"},
     {"mode": "bilinear", "align_corners": False}),
    ("test_resize_upsample_scales_linear_align_corners",
     {"get_coeffs": _linear, "use": "scales", "coordinate_transformation_mode": "align_corners"},
     {"mode": "bilinear", "align_corners": True}),
    ("test_resize_downsample_scales_linear", {"get_coeffs": _linear, "use": "scales"},
     {"mode": "bilinear", "align_corners": False}),
    # cubic
    ("test_resize_upsample_scales_cubic", {"get_coeffs": _cubic, "use": "scales"},
     {"mode": "bicubic", "align_corners": False}),
    ("test_resize_upsample_scales_cubic_align_corners",
     {"get_coeffs": _cubic, "use": "scales", "coordinate_transformation_mode": "align_corners"},
     {"mode": "bicubic", "align_corners": True}),
    ("test_resize_downsample_scales_cubic", {"get_coeffs": _cubic, "use": "scales"},
     {"mode": "bicubic", "align_corners": False}),
    ("test_resize_upsample_sizes_cubic", {"get_coeffs": _cubic, "use": "sizes"},
     {"mode": "bicubic", "align_corners": False}),
    ("test_resize_downsample_sizes_cubic", {"get_coeffs": _cubic, "use": "sizes"},
     {"mode": "bicubic", "align_corners": False}),
    ("test_resize_upsample_scales_cubic_A_n0p5_exclude_outside",
     {"get_coeffs": lambda r, _: cubic_coeffs(r, A=-0.5), "use": "scales", "exclude_outside": True},
     {"mode": "bicubic", "align_corners": False, "antialias": True}),
]


@pytest.mark.parametrize("name, onnx_kw, kw", _RESIZE_CASES, ids=[c[0] for c in _RESIZE_CASES])
def test_resize(name, onnx_kw, kw):
    (x, *rest), _ = _lit(name)
    onnx_kw = dict(onnx_kw)
    use = onnx_kw.pop("use")
    out_hw = onnx_kw.pop("out_hw", None)
    axes = onnx_kw.get("axes")
    if use == "scales":
        (scales,) = rest
        y = interpolate_nd(x, scale_factors=scales, **onnx_kw).astype(np.float32)
        got = F.interpolate(x, scale_factor=_scale_tuple(scales, axes), **kw)
    else:
        (sizes,) = rest
        y = interpolate_nd(x, output_size=sizes, **onnx_kw).astype(np.float32)
        if out_hw is None:  # stretch: the sizes themselves
            sizes = [int(s) for s in sizes]
            out_hw = (tuple(sizes[2:]) if axes is None
                      else tuple(dict(zip(axes, sizes))[a] for a in (2, 3)))
        assert y.shape[2:] == out_hw
        got = F.interpolate(x, size=out_hw, **kw)
    _close(got, y)


# =============================================================================================
# Composed: cases no single convscope call expresses, run through an exact composition of calls.
# Not counted as expressible; extra coverage of pad / conv / channel_shuffle / unpooling.
# =============================================================================================


def _same_pads(auto_pad, x_shape, kernel, strides):
    """The pads the ONNX case files compute for ``auto_pad`` pooling (maxpool/averagepool.py)."""
    out_shape = get_output_shape_auto_pad(auto_pad, x_shape[2:], kernel, strides)
    pad_shape = get_pad_shape(auto_pad, x_shape[2:], kernel, strides, out_shape)
    if auto_pad == "SAME_UPPER":
        top, left = pad_shape[0] // 2, pad_shape[1] // 2
        bottom, right = pad_shape[0] - top, pad_shape[1] - left
    else:
        bottom, right = pad_shape[0] // 2, pad_shape[1] // 2
        top, left = pad_shape[0] - bottom, pad_shape[1] - right
    return out_shape, [top, left, bottom, right]


def _avg_excluding_pad(x, pads, kernel, stride, pool_fn):
    """Average over the real elements of each window: sum over count, each an avg_pool of the
    zero-padded input (count_include_pad=True, no pooling padding) times the window size."""
    flat = _torch_pad(_pairs(pads))
    num = pool_fn(F.pad(x, flat), kernel, stride=stride, count_include_pad=True)
    den = pool_fn(F.pad(np.ones_like(x), flat), kernel, stride=stride, count_include_pad=True)
    return (num / den).astype(x.dtype)


@pytest.mark.parametrize("auto_pad, seed", [("SAME_UPPER", 111), ("SAME_LOWER", 112)], ids=['test_maxpool_2d_same_upper', 'test_maxpool_2d_same_lower'])
def test_maxpool_2d_same_composed(auto_pad, seed):
    # test_maxpool_2d_same_upper / test_maxpool_2d_same_lower: needs pooling pads
    # ((0, 1), (0, 1)) / ((1, 0), (1, 0)).
    x = _randn(seed, 1, 3, 32, 32)
    out_shape, pads = _same_pads(auto_pad, x.shape, (2, 2), (1, 1))
    assert pads == ([0, 0, 1, 1] if auto_pad == "SAME_UPPER" else [1, 1, 0, 0])
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(pads)), mode="constant", constant_values=np.nan)
    y = pool(padded, x.shape, (2, 2), (1, 1), out_shape, "MAX", pads, pads)
    got = F.max_pool2d(F.pad(x, _torch_pad(_pairs(pads)), value=-np.inf), 2, stride=1)
    _close(got, y)


def test_maxpool_2d_pads_composed():
    # pads 2 > kernel 3 // 2.
    x = _randn(113, 1, 3, 28, 28)
    pads = [2, 2, 2, 2]
    out_shape, extra_pads = get_output_shape_explicit_padding(pads, x.shape[2:], (3, 3), (1, 1))
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="constant", constant_values=np.nan)
    y = pool(padded, x.shape, (3, 3), (1, 1), out_shape, "MAX", pads_required=extra_pads,
             pads=pads)
    got = F.max_pool2d(F.pad(x, (2, 2, 2, 2), value=-np.inf), 3, stride=1)
    _close(got, y)


def test_maxpool_with_argmax_2d_precomputed_strides_composed():
    # storage_order=1: column-major indices; from PyTorch's row-major ones by index arithmetic.
    (x,), (y, z) = _lit("test_maxpool_with_argmax_2d_precomputed_strides")
    got, idx = F.max_pool2d(x, 2, stride=2, return_indices=True)
    height, width = x.shape[2:]
    row, col = np.divmod(np.asarray(idx).astype(np.int64), width)
    _close(got, y)
    _close(col * height + row, z)


@pytest.mark.parametrize("auto_pad, seed", [("SAME_UPPER", 211), ("SAME_LOWER", 212)], ids=['test_averagepool_2d_same_upper', 'test_averagepool_2d_same_lower'])
def test_averagepool_2d_same_composed(auto_pad, seed):
    # test_averagepool_2d_same_upper / _lower (count_include_pad=0).
    x = _randn(seed, 1, 3, 32, 32)
    out_shape, pads = _same_pads(auto_pad, x.shape, (2, 2), (1, 1))
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(pads)), mode="constant", constant_values=np.nan)
    y = pool(padded, x.shape, (2, 2), (1, 1), out_shape, "AVG", pads_required=pads, pads=pads)
    _close(_avg_excluding_pad(x, pads, 2, 1, F.avg_pool2d), y)


def test_averagepool_2d_pads_composed():
    x = _randn(213, 1, 3, 28, 28)
    pads = [2, 2, 2, 2]
    out_shape, extra_pads = get_output_shape_explicit_padding(pads, x.shape[2:], (3, 3), (1, 1),
                                                              ceil_mode=False)
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(extra_pads)), mode="constant",
                    constant_values=np.nan)
    y = pool(padded, x.shape, (3, 3), (1, 1), out_shape, "AVG", pads_required=extra_pads,
             pads=pads)
    _close(_avg_excluding_pad(x, pads, 3, 1, F.avg_pool2d), y)


def test_averagepool_2d_pads_count_include_pad_composed():
    x = _randn(214, 1, 3, 28, 28)
    pads = [2, 2, 2, 2]
    out_shape, extra_pads = get_output_shape_explicit_padding(pads, x.shape[2:], (3, 3), (1, 1),
                                                              (1, 1), ceil_mode=False)
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(extra_pads)), mode="constant", constant_values=0)
    y = pool(padded, x.shape, (3, 3), (1, 1), out_shape, "AVG", pads_required=extra_pads,
             pads=pads, count_include_pad=1)
    _close(F.avg_pool2d(F.pad(x, (2, 2, 2, 2)), 3, stride=1), y)


@pytest.mark.parametrize("name, n", _by_name([("test_averagepool_2d_dilations", 2),
                                     ("test_averagepool_3d_dilations_small", 3)]))
def test_averagepool_dilations_composed(name, n):
    # kernel 2, dilation 2, ceil_mode=1 on 4^n: the output (2^n) is the same without ceil_mode.
    (x,), (y,) = _lit(name)
    conv = F.conv2d if n == 2 else F.conv3d
    ones = np.ones((1, 1) + (2,) * n, dtype=np.float32)
    _close((conv(x, ones, dilation=2) / ones.size).astype(np.float32), y)


@pytest.mark.parametrize("count_include_pad", [0, 1], ids=['count_include_pad_is_0', 'count_include_pad_is_1'])
@pytest.mark.parametrize("ceil_mode", [True, False], ids=['ceil_mode_is_True', 'ceil_mode_is_False'])
def test_averagepool_3d_dilations_large_composed(count_include_pad, ceil_mode):
    # test_averagepool_3d_dilations_large_count_include_pad_is_{0,1}_ceil_mode_is_{True,False}.
    # Window sums and counts from a dilated all-ones conv3d of the input zero-padded to ONNX's
    # ``pads_required`` (and of ones likewise); ONNX counts only in-image taps in both modes here
    # (no explicit pads, so count_include_pad has nothing to include).
    x_shape, dilations, kernel_shape, strides = (32, 32, 32), (2, 2, 2), (5, 5, 5), (3, 3, 3)
    x = _randn(220 + 2 * count_include_pad + ceil_mode, 1, 1, *x_shape)
    out_shape, extra_pads = get_output_shape_explicit_padding(None, x_shape, kernel_shape, strides,
                                                              dilations=dilations,
                                                              ceil_mode=ceil_mode)
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(extra_pads)), mode="constant",
                    constant_values=0 if count_include_pad == 1 else np.nan)
    y = pool(padded, (1, 1, *x_shape), kernel_shape, strides, out_shape, "AVG",
             pads_required=extra_pads, pads=None, dilations=dilations,
             count_include_pad=count_include_pad)
    ones = np.ones((1, 1, 5, 5, 5), dtype=np.float32)
    flat = _torch_pad(_pairs(extra_pads))
    num = F.conv3d(F.pad(x, flat), ones, stride=3, dilation=2)
    den = F.conv3d(F.pad(np.ones_like(x), flat), ones, stride=3, dilation=2)
    _close((num / den).astype(np.float32), y)


@pytest.mark.parametrize("n, seed", [(1, 311), (3, 312)], ids=['test_lppool_1d_default', 'test_lppool_3d_default'])
def test_lppool_default_odd_p_composed(n, seed):
    # test_lppool_1d_default / test_lppool_3d_default: p = 3 sums |x|^3 -> lp_pool of |x|.
    p = 3
    x = _randn(seed, 1, 3, *(32,) * n)
    out_shape, _ = get_output_shape_explicit_padding(None, x.shape[2:], [2] * n, [1] * n)
    y = pool(x, x.shape, [2] * n, [1] * n, out_shape, "LPPOOL", p=p)
    fn = F.lp_pool1d if n == 1 else F.lp_pool3d
    _close(fn(np.abs(x), p, 2, stride=1), y)


@pytest.mark.parametrize("auto_pad, p, seed", [("SAME_UPPER", 2, 313), ("SAME_LOWER", 4, 314)], ids=['test_lppool_2d_same_upper', 'test_lppool_2d_same_lower'])
def test_lppool_2d_same_composed(auto_pad, p, seed):
    # test_lppool_2d_same_upper (p=2) / test_lppool_2d_same_lower (p=4): zero padding adds 0.
    x = _randn(seed, 1, 3, 32, 32)
    out_shape, pads = _same_pads(auto_pad, x.shape, (2, 2), (1, 1))
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(pads)), mode="constant", constant_values=0)
    y = pool(padded, x.shape, (2, 2), (1, 1), out_shape, "LPPOOL", pads, pads, p=p)
    _close(F.lp_pool2d(F.pad(x, _torch_pad(_pairs(pads))), p, 2, stride=1), y)


def test_lppool_2d_pads_composed():
    p = 3
    x = _randn(315, 1, 3, 28, 28)
    pads = [2, 2, 2, 2]
    out_shape, extra_pads = get_output_shape_explicit_padding(pads, x.shape[2:], (3, 3), (1, 1))
    padded = np.pad(x, ((0, 0), (0, 0), *_pairs(extra_pads)), mode="constant", constant_values=0)
    y = pool(padded, x.shape, (3, 3), (1, 1), out_shape, "LPPOOL", pads_required=extra_pads,
             pads=pads, p=p)
    _close(F.lp_pool2d(F.pad(np.abs(x), (2, 2, 2, 2)), p, 3, stride=1), y)


def test_lppool_2d_dilations_composed():
    # p = 2, kernel 2, dilation 2: sqrt of a dilated all-ones conv of x^2.
    (x,), (y,) = _lit("test_lppool_2d_dilations")
    ones = np.ones((1, 1, 2, 2), dtype=np.float32)
    _close(np.sqrt(F.conv2d(x * x, ones, dilation=2)), y)


def test_maxunpool_export_with_output_shape_composed():
    # ONNX: scatter into the inferred 4x4 plane, then zero-pad at the end to output_shape 5x5.
    (xt, xi, output_shape), (y,) = _lit("test_maxunpool_export_with_output_shape")
    plane = F.max_unpool2d(xt, xi, 2, stride=2)
    extra = [int(o) - s for o, s in zip(output_shape[2:], plane.shape[2:])]
    _close(F.pad(plane, (0, extra[1], 0, extra[0])), y)


def test_depthtospace_example_composed():
    # DCR: channel index k * C + c (block-major) -> channel_shuffle(b * b) makes it c * b * b + k.
    (x,), (y,) = _lit("test_depthtospace_example")
    _close(F.pixel_shuffle(F.channel_shuffle(x, 4), 2), y)


def test_spacetodepth_dcr_mode_example_composed():
    (x,), (y,) = _lit("test_spacetodepth_dcr_mode_example")
    _close(F.channel_shuffle(F.pixel_unshuffle(x, 2), x.shape[1]), y)


def test_spacetodepth_composed():
    # test_spacetodepth: random (2, 2, 6, 6), default DCR; spacetodepth.py's own reshape/transpose.
    b, c, h, w = shape = (2, 2, 6, 6)
    blocksize = 2
    x = np.random.RandomState(601).random_sample(shape).astype(np.float32)
    tmp = np.reshape(x, [b, c, h // blocksize, blocksize, w // blocksize, blocksize])
    tmp = np.transpose(tmp, [0, 3, 5, 1, 2, 4])
    y = np.reshape(tmp, [b, c * (blocksize**2), h // blocksize, w // blocksize])
    _close(F.channel_shuffle(F.pixel_unshuffle(x, blocksize), c), y)


def test_col2im_5d_composed():
    # Col2Im of (N, C * prod(block), L) over 3 spatial dims = a grouped conv_transpose3d whose
    # weights are one-hot over the block positions (no pads, strides or dilations here).
    (x, image_shape, block_shape), (y,) = _lit("test_col2im_5d")
    block = tuple(int(v) for v in block_shape)
    image = tuple(int(v) for v in image_shape)
    k = int(np.prod(block))
    c = x.shape[1] // k
    blocks = tuple(i - b + 1 for i, b in zip(image, block))
    weight = np.zeros((c * k, 1) + block, dtype=np.float32)
    for ci in range(c):
        for j in range(k):
            weight[(ci * k + j, 0) + np.unravel_index(j, block)] = 1.0
    got = F.conv_transpose3d(x.reshape((x.shape[0], c * k) + blocks), weight, groups=c)
    _close(got, y)


# ---------------------------------------------------------------------------------------------
# Literal inputs (and, where ONNX gives them, outputs) copied from the ONNX case files.
# ---------------------------------------------------------------------------------------------

_LITERAL = {
    'test_basic_conv_with_padding': (
        [np.array([[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19],
            [20, 21, 22, 23, 24]]]], dtype=np.float32), np.array([[[[1, 1, 1], [1, 1, 1], [1, 1,
            1]]]], dtype=np.float32)],
        [np.array([[[[12, 21, 27, 33, 24], [33, 54, 63, 72, 51], [63, 99, 108, 117, 81], [93, 144,
            153, 162, 111], [72, 111, 117, 123, 84]]]], dtype=np.float32)],
    ),
    'test_basic_conv_without_padding': (
        [np.array([[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19],
            [20, 21, 22, 23, 24]]]], dtype=np.float32), np.array([[[[1, 1, 1], [1, 1, 1], [1, 1,
            1]]]], dtype=np.float32)],
        [np.array([[[[54, 63, 72], [99, 108, 117], [144, 153, 162]]]], dtype=np.float32)],
    ),
    'test_conv_with_strides_padding': (
        [np.array([[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19],
            [20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34]]]], dtype=np.float32),
            np.array([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[12, 27, 24], [63, 108, 81], [123, 198, 141], [112, 177, 124]]]],
            dtype=np.float32)],
    ),
    'test_conv_with_strides_no_padding': (
        [np.array([[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19],
            [20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34]]]], dtype=np.float32),
            np.array([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[54, 72], [144, 162], [234, 252]]]], dtype=np.float32)],
    ),
    'test_conv_with_strides_and_asymmetric_padding': (
        [np.array([[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19],
            [20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34]]]], dtype=np.float32),
            np.array([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[21, 33], [99, 117], [189, 207], [171, 183]]]], dtype=np.float32)],
    ),
    'test_conv_with_autopad_same': (
        [np.array([[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19],
            [20, 21, 22, 23, 24]]]], dtype=np.float32), np.array([[[[1, 1, 1], [1, 1, 1], [1, 1,
            1]]]], dtype=np.float32)],
        [np.array([[[[12, 27, 24], [63, 108, 81], [72, 117, 84]]]], dtype=np.float32)],
    ),
    'test_convtranspose': (
        [np.array([[[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]], dtype=np.float32), np.array([[[[1, 1, 1],
            [1, 1, 1], [1, 1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[0, 1, 3, 3, 2], [3, 8, 15, 12, 7], [9, 21, 36, 27, 15], [9, 20, 33, 24, 13],
            [6, 13, 21, 15, 8]], [[0, 1, 3, 3, 2], [3, 8, 15, 12, 7], [9, 21, 36, 27, 15], [9, 20,
            33, 24, 13], [6, 13, 21, 15, 8]]]], dtype=np.float32)],
    ),
    'test_convtranspose_1d': (
        [np.array([[[0, 1, 2]]], dtype=np.float32), np.array([[[1, 1, 1], [1, 1, 1]]],
            dtype=np.float32)],
        [np.array([[[0, 1, 3, 3, 2], [0, 1, 3, 3, 2]]], dtype=np.float32)],
    ),
    'test_convtranspose_3d': (
        [np.array([[[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]],
            [[20, 21, 22, 23, 24], [25, 26, 27, 28, 29], [30, 31, 32, 33, 34], [35, 36, 37, 38, 39]],
            [[40, 41, 42, 43, 44], [45, 46, 47, 48, 49], [50, 51, 52, 53, 54], [55, 56, 57, 58,
            59]]]]], dtype=np.float32), np.array([[[[[1, 1, 1], [1, 1, 1], [1, 1, 1]], [[1, 1, 1],
            [1, 1, 1], [1, 1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]]], [[[1, 1, 1], [1, 1, 1], [1, 1,
            1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]]]]],
            dtype=np.float32)],
        [np.array([[[[[0, 1, 3, 6, 9, 7, 4], [5, 12, 21, 27, 33, 24, 13], [15, 33, 54, 63, 72, 51,
            27], [30, 63, 99, 108, 117, 81, 42], [25, 52, 81, 87, 93, 64, 33], [15, 31, 48, 51, 54,
            37, 19]], [[20, 42, 66, 72, 78, 54, 28], [50, 104, 162, 174, 186, 128, 66], [90, 186,
            288, 306, 324, 222, 114], [120, 246, 378, 396, 414, 282, 144], [90, 184, 282, 294, 306,
            208, 106], [50, 102, 156, 162, 168, 114, 58]], [[60, 123, 189, 198, 207, 141, 72], [135,
            276, 423, 441, 459, 312, 159], [225, 459, 702, 729, 756, 513, 261], [270, 549, 837, 864,
            891, 603, 306], [195, 396, 603, 621, 639, 432, 219], [105, 213, 324, 333, 342, 231,
            117]], [[60, 122, 186, 192, 198, 134, 68], [130, 264, 402, 414, 426, 288, 146], [210,
            426, 648, 666, 684, 462, 234], [240, 486, 738, 756, 774, 522, 264], [170, 344, 522, 534,
            546, 368, 186], [90, 182, 276, 282, 288, 194, 98]], [[40, 81, 123, 126, 129, 87, 44],
            [85, 172, 261, 267, 273, 184, 93], [135, 273, 414, 423, 432, 291, 147], [150, 303, 459,
            468, 477, 321, 162], [105, 212, 321, 327, 333, 224, 113], [55, 111, 168, 171, 174, 117,
            59]]], [[[0, 1, 3, 6, 9, 7, 4], [5, 12, 21, 27, 33, 24, 13], [15, 33, 54, 63, 72, 51,
            27], [30, 63, 99, 108, 117, 81, 42], [25, 52, 81, 87, 93, 64, 33], [15, 31, 48, 51, 54,
            37, 19]], [[20, 42, 66, 72, 78, 54, 28], [50, 104, 162, 174, 186, 128, 66], [90, 186,
            288, 306, 324, 222, 114], [120, 246, 378, 396, 414, 282, 144], [90, 184, 282, 294, 306,
            208, 106], [50, 102, 156, 162, 168, 114, 58]], [[60, 123, 189, 198, 207, 141, 72], [135,
            276, 423, 441, 459, 312, 159], [225, 459, 702, 729, 756, 513, 261], [270, 549, 837, 864,
            891, 603, 306], [195, 396, 603, 621, 639, 432, 219], [105, 213, 324, 333, 342, 231,
            117]], [[60, 122, 186, 192, 198, 134, 68], [130, 264, 402, 414, 426, 288, 146], [210,
            426, 648, 666, 684, 462, 234], [240, 486, 738, 756, 774, 522, 264], [170, 344, 522, 534,
            546, 368, 186], [90, 182, 276, 282, 288, 194, 98]], [[40, 81, 123, 126, 129, 87, 44],
            [85, 172, 261, 267, 273, 184, 93], [135, 273, 414, 423, 432, 291, 147], [150, 303, 459,
            468, 477, 321, 162], [105, 212, 321, 327, 333, 224, 113], [55, 111, 168, 171, 174, 117,
            59]]]]], dtype=np.float32)],
    ),
    'test_convtranspose_output_shape': (
        [np.array([[[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]], dtype=np.float32), np.array([[[[1, 1, 1],
            [1, 1, 1], [1, 1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[0, 0, 1, 1, 3, 2, 2, 0], [0, 0, 1, 1, 3, 2, 2, 0], [0, 0, 1, 1, 3, 2, 2, 0],
            [3, 3, 7, 4, 9, 5, 5, 0], [3, 3, 7, 4, 9, 5, 5, 0], [3, 3, 7, 4, 9, 5, 5, 0], [6, 6, 13,
            7, 15, 8, 8, 0], [6, 6, 13, 7, 15, 8, 8, 0], [6, 6, 13, 7, 15, 8, 8, 0], [0, 0, 0, 0, 0,
            0, 0, 0]], [[0, 0, 1, 1, 3, 2, 2, 0], [0, 0, 1, 1, 3, 2, 2, 0], [0, 0, 1, 1, 3, 2, 2, 0],
            [3, 3, 7, 4, 9, 5, 5, 0], [3, 3, 7, 4, 9, 5, 5, 0], [3, 3, 7, 4, 9, 5, 5, 0], [6, 6, 13,
            7, 15, 8, 8, 0], [6, 6, 13, 7, 15, 8, 8, 0], [6, 6, 13, 7, 15, 8, 8, 0], [0, 0, 0, 0, 0,
            0, 0, 0]]]], dtype=np.float32)],
    ),
    'test_convtranspose_autopad_same': (
        [np.array([[[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]], dtype=np.float32), np.array([[[[1, 1, 1],
            [1, 1, 1], [1, 1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[0, 0, 1, 1, 3, 2], [0, 0, 1, 1, 3, 2], [3, 3, 8, 5, 12, 7], [3, 3, 7, 4, 9, 5],
            [9, 9, 20, 11, 24, 13], [6, 6, 13, 7, 15, 8]], [[0, 0, 1, 1, 3, 2], [0, 0, 1, 1, 3, 2],
            [3, 3, 8, 5, 12, 7], [3, 3, 7, 4, 9, 5], [9, 9, 20, 11, 24, 13], [6, 6, 13, 7, 15, 8]]]],
            dtype=np.float32)],
    ),
    'test_convtranspose_dilations': (
        [np.array([[[[3, 8, 1], [9, 5, 7], [3, 2, 6]]]], dtype=np.float32), np.array([[[[7, 2], [1,
            9]]]], dtype=np.float32)],
        [np.array([[[[21, 56, 13, 16, 2], [63, 35, 67, 10, 14], [24, 22, 76, 76, 21], [9, 5, 88, 45,
            63], [3, 2, 33, 18, 54]]]], dtype=np.float32)],
    ),
    'test_convtranspose_group_2': (
        [np.array([[[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[9, 10, 11], [12, 13, 14], [15, 16, 17]]]],
            dtype=np.float32), np.array([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]], [[[1, 1, 1], [1, 1, 1],
            [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[0, 1, 3, 3, 2], [3, 8, 15, 12, 7], [9, 21, 36, 27, 15], [9, 20, 33, 24, 13],
            [6, 13, 21, 15, 8]], [[9, 19, 30, 21, 11], [21, 44, 69, 48, 25], [36, 75, 117, 81, 42],
            [27, 56, 87, 60, 31], [15, 31, 48, 33, 17]]]], dtype=np.float32)],
    ),
    'test_convtranspose_group_2_image_3': (
        [np.array([[[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[9, 10, 11], [12, 13, 14], [15, 16, 17]]],
            [[[18, 19, 20], [21, 22, 23], [24, 25, 26]], [[9, 10, 11], [12, 13, 14], [15, 16, 17]]],
            [[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[9, 10, 11], [12, 13, 14], [15, 16, 17]]]],
            dtype=np.float32), np.array([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]], [[[1, 1, 1], [1, 1, 1],
            [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[0, 1, 3, 3, 2], [3, 8, 15, 12, 7], [9, 21, 36, 27, 15], [9, 20, 33, 24, 13],
            [6, 13, 21, 15, 8]], [[9, 19, 30, 21, 11], [21, 44, 69, 48, 25], [36, 75, 117, 81, 42],
            [27, 56, 87, 60, 31], [15, 31, 48, 33, 17]]], [[[18, 37, 57, 39, 20], [39, 80, 123, 84,
            43], [63, 129, 198, 135, 69], [45, 92, 141, 96, 49], [24, 49, 75, 51, 26]], [[9, 19, 30,
            21, 11], [21, 44, 69, 48, 25], [36, 75, 117, 81, 42], [27, 56, 87, 60, 31], [15, 31, 48,
            33, 17]]], [[[0, 1, 3, 3, 2], [3, 8, 15, 12, 7], [9, 21, 36, 27, 15], [9, 20, 33, 24,
            13], [6, 13, 21, 15, 8]], [[9, 19, 30, 21, 11], [21, 44, 69, 48, 25], [36, 75, 117, 81,
            42], [27, 56, 87, 60, 31], [15, 31, 48, 33, 17]]]], dtype=np.float32)],
    ),
    'test_convtranspose_pads': (
        [np.array([[[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]], dtype=np.float32), np.array([[[[1, 1, 1],
            [1, 1, 1], [1, 1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]]]], dtype=np.float32)],
        [np.array([[[[1, 1, 3], [1, 1, 3], [7, 4, 9], [7, 4, 9], [7, 4, 9], [13, 7, 15], [13, 7,
            15]], [[1, 1, 3], [1, 1, 3], [7, 4, 9], [7, 4, 9], [7, 4, 9], [13, 7, 15], [13, 7,
            15]]]], dtype=np.float32)],
    ),
    'test_maxpool_2d_uint8': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.uint8)],
        [np.array([[[[13, 14, 15, 15, 15], [18, 19, 20, 20, 20], [23, 24, 25, 25, 25], [23, 24, 25,
            25, 25], [23, 24, 25, 25, 25]]]], dtype=np.uint8)],
    ),
    'test_maxpool_2d_precomputed_pads': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[13, 14, 15, 15, 15], [18, 19, 20, 20, 20], [23, 24, 25, 25, 25], [23, 24, 25,
            25, 25], [23, 24, 25, 25, 25]]]], dtype=np.float32)],
    ),
    'test_maxpool_with_argmax_2d_precomputed_pads': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[13, 14, 15, 15, 15], [18, 19, 20, 20, 20], [23, 24, 25, 25, 25], [23, 24, 25,
            25, 25], [23, 24, 25, 25, 25]]]], dtype=np.float32), np.array([[[[12, 13, 14, 14, 14],
            [17, 18, 19, 19, 19], [22, 23, 24, 24, 24], [22, 23, 24, 24, 24], [22, 23, 24, 24,
            24]]]], dtype=np.int64)],
    ),
    'test_maxpool_2d_precomputed_strides': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[7, 9], [17, 19]]]], dtype=np.float32)],
    ),
    'test_maxpool_with_argmax_2d_precomputed_strides': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[7, 9], [17, 19]]]], dtype=np.float32), np.array([[[[6, 16], [8, 18]]]],
            dtype=np.int64)],
    ),
    'test_maxpool_2d_precomputed_same_upper': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[7, 9, 10], [17, 19, 20], [22, 24, 25]]]], dtype=np.float32)],
    ),
    'test_maxpool_2d_ceil': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32)],
        [np.array([[[[11, 12], [15, 16]]]], dtype=np.float32)],
    ),
    'test_maxpool_2d_ceil_output_size_reduce_by_one': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)],
        [np.array([[[[1]]]], dtype=np.float32)],
    ),
    'test_maxpool_2d_dilations': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32)],
        [np.array([[[[11, 12], [15, 16]]]], dtype=np.float32)],
    ),
    'test_maxpool_3d_dilations': (
        [np.array([[[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4],
            [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10,
            11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15,
            16]]]]], dtype=np.float32)],
        [np.array([[[[[11, 12], [15, 16]], [[11, 12], [15, 16]]]]], dtype=np.float32)],
    ),
    'test_averagepool_2d_precomputed_pads': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[7, 7.5, 8, 8.5, 9], [9.5, 10, 10.5, 11, 11.5], [12, 12.5, 13, 13.5, 14], [14.5,
            15, 15.5, 16, 16.5], [17, 17.5, 18, 18.5, 19]]]], dtype=np.float32)],
    ),
    'test_averagepool_2d_precomputed_pads_count_include_pad': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[2.52, 3.6, 4.8, 4.08, 3.24], [4.56, 6.4, 8.4, 7.04, 5.52], [7.2, 10, 13, 10.8,
            8.4], [6.96, 9.6, 12.4, 10.24, 7.92], [6.12, 8.4, 10.8, 8.88, 6.84]]]],
            dtype=np.float32)],
    ),
    'test_averagepool_2d_precomputed_strides': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[4, 6], [14, 16]]]], dtype=np.float32)],
    ),
    'test_averagepool_2d_precomputed_same_upper': (
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
        [np.array([[[[4, 5.5, 7], [11.5, 13, 14.5], [19, 20.5, 22]]]], dtype=np.float32)],
    ),
    'test_averagepool_2d_ceil': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32)],
        [np.array([[[[6, 7.5], [12, 13.5]]]], dtype=np.float32)],
    ),
    'test_averagepool_2d_ceil_last_window_starts_on_pad': (
        [np.array([[[[0.858, 0.0786], [0.2692, 0.1537]], [[0.8816, 0.4353], [0.5772, 0.6623]],
            [[0.9067, 0.9483], [0.597, 0.763]]]], dtype=np.float32)],
        [np.array([[[[0.1511]], [[0.2841]], [[0.3572]]]], dtype=np.float32)],
    ),
    'test_averagepool_2d_dilations': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32)],
        [np.array([[[[6, 7], [10, 11]]]], dtype=np.float32)],
    ),
    'test_averagepool_3d_dilations_small': (
        [np.array([[[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4],
            [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10,
            11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15,
            16]]]]], dtype=np.float32)],
        [np.array([[[[[6, 7], [10, 11]], [[6, 7], [10, 11]]]]], dtype=np.float32)],
    ),
    'test_lppool_2d_dilations': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32)],
        [np.array([[[[14.56022, 16.248077], [21.633308, 23.49468]]]], dtype=np.float32)],
    ),
    'test_globalaveragepool_precomputed': (
        [np.array([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], dtype=np.float32)],
        [np.array([[[[5]]]], dtype=np.float32)],
    ),
    'test_globalmaxpool_precomputed': (
        [np.array([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], dtype=np.float32)],
        [np.array([[[[9]]]], dtype=np.float32)],
    ),
    'test_maxunpool_export_without_output_shape': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([[[[5, 7], [13, 15]]]],
            dtype=np.int64)],
        [np.array([[[[0, 0, 0, 0], [0, 1, 0, 2], [0, 0, 0, 0], [0, 3, 0, 4]]]], dtype=np.float32)],
    ),
    'test_maxunpool_export_with_output_shape': (
        [np.array([[[[5, 6], [7, 8]]]], dtype=np.float32), np.array([[[[5, 7], [13, 15]]]],
            dtype=np.int64), np.array([1, 1, 5, 5], dtype=np.int64)],
        [np.array([[[[0, 0, 0, 0, 0], [0, 5, 0, 6, 0], [0, 0, 0, 0, 0], [0, 7, 0, 8, 0], [0, 0, 0, 0,
            0]]]], dtype=np.float32)],
    ),
    'test_depthtospace_example': (
        [np.array([[[[0, 1, 2], [3, 4, 5]], [[9, 10, 11], [12, 13, 14]], [[18, 19, 20], [21, 22,
            23]], [[27, 28, 29], [30, 31, 32]], [[36, 37, 38], [39, 40, 41]], [[45, 46, 47], [48, 49,
            50]], [[54, 55, 56], [57, 58, 59]], [[63, 64, 65], [66, 67, 68]]]], dtype=np.float32)],
        [np.array([[[[0, 18, 1, 19, 2, 20], [36, 54, 37, 55, 38, 56], [3, 21, 4, 22, 5, 23], [39, 57,
            40, 58, 41, 59]], [[9, 27, 10, 28, 11, 29], [45, 63, 46, 64, 47, 65], [12, 30, 13, 31,
            14, 32], [48, 66, 49, 67, 50, 68]]]], dtype=np.float32)],
    ),
    'test_depthtospace_crd_mode_example': (
        [np.array([[[[0, 1, 2], [3, 4, 5]], [[9, 10, 11], [12, 13, 14]], [[18, 19, 20], [21, 22,
            23]], [[27, 28, 29], [30, 31, 32]], [[36, 37, 38], [39, 40, 41]], [[45, 46, 47], [48, 49,
            50]], [[54, 55, 56], [57, 58, 59]], [[63, 64, 65], [66, 67, 68]]]], dtype=np.float32)],
        [np.array([[[[0, 9, 1, 10, 2, 11], [18, 27, 19, 28, 20, 29], [3, 12, 4, 13, 5, 14], [21, 30,
            22, 31, 23, 32]], [[36, 45, 37, 46, 38, 47], [54, 63, 55, 64, 56, 65], [39, 48, 40, 49,
            41, 50], [57, 66, 58, 67, 59, 68]]]], dtype=np.float32)],
    ),
    'test_spacetodepth_example': (
        [np.array([[[[0, 6, 1, 7, 2, 8], [12, 18, 13, 19, 14, 20], [3, 9, 4, 10, 5, 11], [15, 21, 16,
            22, 17, 23]]]], dtype=np.float32)],
        [np.array([[[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]], [[12, 13, 14], [15, 16, 17]],
            [[18, 19, 20], [21, 22, 23]]]], dtype=np.float32)],
    ),
    'test_spacetodepth_dcr_mode_example': (
        [np.array([[[[0, 18, 1, 19, 2, 20], [36, 54, 37, 55, 38, 56], [3, 21, 4, 22, 5, 23], [39, 57,
            40, 58, 41, 59]], [[9, 27, 10, 28, 11, 29], [45, 63, 46, 64, 47, 65], [12, 30, 13, 31,
            14, 32], [48, 66, 49, 67, 50, 68]]]], dtype=np.float32)],
        [np.array([[[[0, 1, 2], [3, 4, 5]], [[9, 10, 11], [12, 13, 14]], [[18, 19, 20], [21, 22,
            23]], [[27, 28, 29], [30, 31, 32]], [[36, 37, 38], [39, 40, 41]], [[45, 46, 47], [48, 49,
            50]], [[54, 55, 56], [57, 58, 59]], [[63, 64, 65], [66, 67, 68]]]], dtype=np.float32)],
    ),
    'test_spacetodepth_crd_mode_example': (
        [np.array([[[[0, 9, 1, 10, 2, 11], [18, 27, 19, 28, 20, 29], [3, 12, 4, 13, 5, 14], [21, 30,
            22, 31, 23, 32]], [[36, 45, 37, 46, 38, 47], [54, 63, 55, 64, 56, 65], [39, 48, 40, 49,
            41, 50], [57, 66, 58, 67, 59, 68]]]], dtype=np.float32)],
        [np.array([[[[0, 1, 2], [3, 4, 5]], [[9, 10, 11], [12, 13, 14]], [[18, 19, 20], [21, 22,
            23]], [[27, 28, 29], [30, 31, 32]], [[36, 37, 38], [39, 40, 41]], [[45, 46, 47], [48, 49,
            50]], [[54, 55, 56], [57, 58, 59]], [[63, 64, 65], [66, 67, 68]]]], dtype=np.float32)],
    ),
    'test_col2im': (
        [np.array([[[1, 6, 11, 16, 21], [2, 7, 12, 17, 22], [3, 8, 13, 18, 23], [4, 9, 14, 19, 24],
            [5, 0, 15, 20, 25]]], dtype=np.float32), np.array([5, 5], dtype=np.int64), np.array([1,
            5], dtype=np.int64)],
        [np.array([[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 0], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20],
            [21, 22, 23, 24, 25]]]], dtype=np.float32)],
    ),
    'test_col2im_strides': (
        [np.array([[[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0,
            0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]], dtype=np.float32), np.array([5, 5],
            dtype=np.int64), np.array([3, 3], dtype=np.int64)],
        [np.array([[[[0, 1, 1, 1, 1], [1, 0, 1, 0, 0], [0, 2, 1, 2, 1], [1, 0, 1, 0, 0], [0, 1, 0, 1,
            0]]]], dtype=np.float32)],
    ),
    'test_col2im_pads': (
        [np.array([[[1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56, 61, 66, 71], [2, 7, 12, 17, 22,
            27, 32, 37, 42, 47, 52, 57, 62, 67, 72], [3, 8, 13, 18, 23, 28, 33, 38, 43, 48, 53, 58,
            63, 68, 73], [4, 9, 14, 19, 24, 29, 34, 39, 44, 49, 54, 59, 64, 69, 74], [5, 10, 15, 20,
            25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75]]], dtype=np.float32), np.array([5, 5],
            dtype=np.int64), np.array([1, 5], dtype=np.int64)],
        [np.array([[[[8, 21, 24, 27, 24], [38, 66, 69, 72, 54], [68, 111, 114, 117, 84], [98, 156,
            159, 162, 114], [128, 201, 204, 207, 144]]]], dtype=np.float32)],
    ),
    'test_col2im_dilations': (
        [np.array([[[1, 5, 9, 13, 17], [2, 6, 10, 14, 18], [3, 7, 11, 15, 19], [4, 8, 12, 16, 20]]],
            dtype=np.float32), np.array([6, 6], dtype=np.int64), np.array([2, 2], dtype=np.int64)],
        [np.array([[[[1, 0, 0, 0, 0, 2], [8, 0, 0, 0, 0, 10], [16, 0, 0, 0, 0, 18], [24, 0, 0, 0, 0,
            26], [32, 0, 0, 0, 0, 34], [19, 0, 0, 0, 0, 20]]]], dtype=np.float32)],
    ),
    'test_col2im_5d': (
        [np.array([[[1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56], [2, 7, 12, 17, 22, 27, 32, 37,
            42, 47, 52, 57], [3, 8, 13, 18, 23, 28, 33, 38, 43, 48, 53, 58], [4, 9, 14, 19, 24, 29,
            34, 39, 44, 49, 54, 59], [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60], [61, 66, 71,
            76, 81, 86, 91, 96, 101, 106, 111, 116], [62, 67, 72, 77, 82, 87, 92, 97, 102, 107, 112,
            117], [63, 68, 73, 78, 83, 88, 93, 98, 103, 108, 113, 118], [64, 69, 74, 79, 84, 89, 94,
            99, 104, 109, 114, 119], [65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115, 120]]],
            dtype=np.float32), np.array([3, 4, 5], dtype=np.int64), np.array([1, 1, 5],
            dtype=np.int64)],
        [np.array([[[[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20]],
            [[21, 22, 23, 24, 25], [26, 27, 28, 29, 30], [31, 32, 33, 34, 35], [36, 37, 38, 39, 40]],
            [[41, 42, 43, 44, 45], [46, 47, 48, 49, 50], [51, 52, 53, 54, 55], [56, 57, 58, 59,
            60]]], [[[61, 62, 63, 64, 65], [66, 67, 68, 69, 70], [71, 72, 73, 74, 75], [76, 77, 78,
            79, 80]], [[81, 82, 83, 84, 85], [86, 87, 88, 89, 90], [91, 92, 93, 94, 95], [96, 97, 98,
            99, 100]], [[101, 102, 103, 104, 105], [106, 107, 108, 109, 110], [111, 112, 113, 114,
            115], [116, 117, 118, 119, 120]]]]], dtype=np.float32)],
    ),
    'test_upsample_nearest': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([1, 1, 2, 3],
            dtype=np.float32)],
        [np.array([[[[1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2], [3, 3, 3, 4, 4, 4], [3, 3, 3, 4, 4,
            4]]]], dtype=np.float32)],
    ),
    'test_maxpool_3d_dilations_use_ref_impl': (
        [np.array([[[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4],
            [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10,
            11, 12], [13, 14, 15, 16]], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15,
            16]]]]], dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_cubic': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 0.8, 0.8], dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_cubic_A_n0p5_exclude_outside': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 0.8, 0.8], dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_cubic_align_corners': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 0.8, 0.8], dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_cubic_antialias': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 0.6, 0.6], dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_linear': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32), np.array([1, 1, 0.6, 0.6],
            dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_linear_align_corners': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32), np.array([1, 1, 0.6, 0.6],
            dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_linear_antialias': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 0.6, 0.6], dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_linear_half_pixel_symmetric': (
        [np.array([[[[1, 2, 3, 4]]]], dtype=np.float32), np.array([1, 1, 1, 0.6],
            dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_scales_nearest': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32), np.array([1, 1, 0.6, 0.6],
            dtype=np.float32)],
        [],
    ),
    'test_resize_downsample_sizes_cubic': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 3, 3], dtype=np.int64)],
        [],
    ),
    'test_resize_downsample_sizes_cubic_antialias': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 3, 3], dtype=np.int64)],
        [],
    ),
    'test_resize_downsample_sizes_linear_antialias': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 3, 3], dtype=np.int64)],
        [],
    ),
    'test_resize_downsample_sizes_linear_pytorch_half_pixel': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 3, 1], dtype=np.int64)],
        [],
    ),
    'test_resize_downsample_sizes_nearest': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32), np.array([1, 1, 1, 3],
            dtype=np.int64)],
        [],
    ),
    'test_resize_downsample_sizes_nearest_not_larger': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32), np.array([1, 3],
            dtype=np.int64)],
        [],
    ),
    'test_resize_downsample_sizes_nearest_not_smaller': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32), np.array([1, 3],
            dtype=np.int64)],
        [],
    ),
    'test_resize_tf_crop_and_resize': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([0, 0, 0.4, 0.6, 1, 1, 0.6, 0.8], dtype=np.float32),
            np.array([1, 1, 3, 3], dtype=np.int64)],
        [],
    ),
    'test_resize_tf_crop_and_resize_axes_2_3': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([0.4, 0.6, 0.6, 0.8], dtype=np.float32), np.array([3, 3],
            dtype=np.int64)],
        [],
    ),
    'test_resize_tf_crop_and_resize_axes_3_2': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([0.6, 0.4, 0.8, 0.6], dtype=np.float32), np.array([3, 3],
            dtype=np.int64)],
        [],
    ),
    'test_resize_tf_crop_and_resize_extrapolation_value': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7], dtype=np.float32),
            np.array([1, 1, 3, 3], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_scales_cubic': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 2, 2], dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_cubic_A_n0p5_exclude_outside': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 2, 2], dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_cubic_align_corners': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 2, 2], dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_cubic_asymmetric': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 2, 2], dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_linear': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([1, 1, 2, 2],
            dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_linear_align_corners': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([1, 1, 2, 2],
            dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_linear_half_pixel_symmetric': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([1, 1, 2.3, 2.94],
            dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_nearest': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([1, 1, 2, 3],
            dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_nearest_axes_2_3': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([2, 3], dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_scales_nearest_axes_3_2': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([3, 2], dtype=np.float32)],
        [],
    ),
    'test_resize_upsample_sizes_cubic': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 9, 10], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([1, 1, 7, 8], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_axes_2_3': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([7, 8], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_axes_3_2': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([8, 7], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_ceil_half_pixel': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 8, 8], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_floor_align_corners': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 8, 8], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_not_larger': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([7, 8], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_not_smaller': (
        [np.array([[[[1, 2], [3, 4]]]], dtype=np.float32), np.array([7, 8], dtype=np.int64)],
        [],
    ),
    'test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric': (
        [np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]],
            dtype=np.float32), np.array([1, 1, 8, 8], dtype=np.int64)],
        [],
    ),
}
# ONNX's output_shape, pad and kernel_shape cases give one convolution three ways: the same data.
_LITERAL['test_convtranspose_pad'] = _LITERAL['test_convtranspose_output_shape']
_LITERAL['test_convtranspose_kernel_shape'] = _LITERAL['test_convtranspose_output_shape']
