"""Pure formulas: size normalization, output shapes, parameter and cost counts.

No arrays here: everything runs on shapes, so the ops, the modules and the
calculator share one source of truth.
"""
from .conv import (ConvGeometry, conv_geometry, conv_macs, conv_output_shape, conv_output_size,
                   conv_param_count, conv_transpose_macs, conv_transpose_output_padding,
                   conv_transpose_output_shape, conv_transpose_output_size, effective_kernel_size,
                   macs, param_count, sliding_block_shape)
from .normalize import PaddingPairs, normalize_padding, ntuple, same_padding

__all__ = [
    "ConvGeometry", "conv_geometry", "conv_macs", "conv_output_shape", "conv_output_size",
    "conv_param_count", "conv_transpose_macs", "conv_transpose_output_padding",
    "conv_transpose_output_shape", "conv_transpose_output_size", "effective_kernel_size",
    "macs", "param_count", "sliding_block_shape", "PaddingPairs", "normalize_padding", "ntuple", "same_padding",
]
