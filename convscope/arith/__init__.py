"""Pure formulas: size normalization, output shapes, parameter and cost counts.

No arrays here: everything runs on shapes, so the ops, the modules and the
calculator share one source of truth.
"""
from .conv import (ConvGeometry, conv_geometry, conv_macs, conv_output_shape, conv_output_size,
                   conv_param_count, conv_transpose_macs, conv_transpose_output_padding,
                   conv_transpose_output_shape, conv_transpose_output_size, effective_kernel_size,
                   macs, param_count, sliding_block_shape, SubpixelPhase, subpixel_phases, tap_phases,
                   zero_insertion)
from .derive import (conv_size_derivation, conv_transpose_size_derivation, interpolate_size_derivation,
                     param_derivation, parameter_comparison, pool_size_derivation)
from .design import Design, DesignError, design, size_preserving_paddings
from .receptive import (Phases, ReceptiveField, gridding_map, grids, hdc_valid, resize_source_step, rf_conv,
                        rf_conv_transpose, rf_global, rf_input, rf_resize, rf_union, suggest_dilations,
                        transposed_span)
from .flops import adaptive_pool_flops, conv_flops, elementwise_flops, pool_flops, resize_flops
from .dense import batch_norm_param_count, linear_macs, linear_param_count
from .normalize import PaddingPairs, normalize_padding, ntuple, same_padding
from .pool import (adaptive_output_shape, adaptive_windows, avg_pool_divisor_factors, fractional_output_shape,
                   interpolate_output_shape, max_unpool_output_shape, max_unpool_output_size,
                   pixel_shuffle_output_shape, pixel_unshuffle_output_shape, pool_geometry, pool_output_size)

__all__ = [
    "ConvGeometry", "conv_geometry", "conv_macs", "conv_output_shape", "conv_output_size",
    "conv_param_count", "conv_transpose_macs", "conv_transpose_output_padding",
    "conv_transpose_output_shape", "conv_transpose_output_size", "effective_kernel_size",
    "macs", "param_count", "sliding_block_shape", "zero_insertion", "SubpixelPhase", "subpixel_phases", "tap_phases", "PaddingPairs", "normalize_padding", "ntuple", "same_padding",
    "linear_param_count", "linear_macs", "batch_norm_param_count",
    "pool_output_size", "pool_geometry", "avg_pool_divisor_factors", "adaptive_windows", "adaptive_output_shape",
    "max_unpool_output_size", "max_unpool_output_shape", "fractional_output_shape", "interpolate_output_shape",
    "pixel_shuffle_output_shape", "pixel_unshuffle_output_shape",
    "conv_size_derivation", "conv_transpose_size_derivation", "param_derivation", "parameter_comparison",
    "pool_size_derivation", "interpolate_size_derivation", "Design", "DesignError", "design", "size_preserving_paddings",
    "conv_flops", "elementwise_flops", "pool_flops", "adaptive_pool_flops", "resize_flops",
    "ReceptiveField", "Phases", "gridding_map", "grids", "hdc_valid", "rf_conv", "rf_conv_transpose", "rf_global",
    "rf_input", "rf_resize", "rf_union", "resize_source_step", "suggest_dilations", "transposed_span",
]
