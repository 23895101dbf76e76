"""N-d convolution and transposed convolution on NumPy arrays.

One implementation serves 1d, 2d and 3d.  Both ops are a GEMM plus a window copy:

- convolution: gather the input's windows into a tap-major column buffer
  ``(B, C_in*prod(k), L_out)`` and multiply by the weight ``(C_out, C_in*prod(k))``,
  writing the output ``(B, C_out, L_out)`` in place;
- transposed convolution (the adjoint of convolution with the same arguments): multiply
  the input ``(B, C_in, L_in)`` by the transposed weight into a column buffer
  ``(B, C_out*prod(k), L_in)`` and scatter-add it into the output.

Memory: the column buffer is processed in chunks of whole samples, or of rows along the
first spatial dimension when one sample's buffer is larger than ``CHUNK_BYTES``; the
extra memory is at most about ``max(CHUNK_BYTES, one output row's columns)`` beyond the
input and output.  A 1x1 convolution at stride 1 without padding copies nothing.
"""
from __future__ import annotations

import math

import numpy as np

from ..arith.conv import ConvGeometry
from ._arrays import scratch, view_as
from .window import gather_windows, scatter_windows

__all__ = ["conv_forward", "conv_transpose_forward", "CHUNK_BYTES"]

#: Upper bound on the column buffer of one chunk, in bytes.
CHUNK_BYTES = 32 * 2**20


def _chunks(total_rows: int, bytes_per_row: int, batch: int):
    """Yield ``(b0, b1, r0, r1)`` blocks: whole samples when one sample fits the budget,
    else row slabs of one sample."""
    per_sample = bytes_per_row * total_rows
    if per_sample <= CHUNK_BYTES:
        step = max(1, CHUNK_BYTES // max(per_sample, 1))
        for b0 in range(0, batch, step):
            yield b0, min(batch, b0 + step), 0, total_rows
    else:
        rows = max(1, CHUNK_BYTES // bytes_per_row)
        for b0 in range(batch):
            for r0 in range(0, total_rows, rows):
                yield b0, b0 + 1, r0, min(total_rows, r0 + rows)


def _is_pointwise(g: ConvGeometry) -> bool:
    return (all(k == 1 for k in g.kernel_size) and all(s == 1 for s in g.stride)
            and all(p == (0, 0) for p in g.padding))


def _add_bias(out: np.ndarray, bias: np.ndarray | None) -> None:
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * (out.ndim - 2))


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry) -> np.ndarray:
    """Convolution (cross-correlation, as in PyTorch) of a batched input.

    Shapes: ``x (B, C_in, *in)``, ``weight (C_out, C_in/groups, *k)``, ``bias (C_out,)`` or None
    -> ``(B, C_out, *out)`` with ``out`` from :func:`convscope.arith.conv_output_size`.

    ``out[b, co, *o] = bias[co] + sum_{ci in group(co), t} weight[co, ci, *t] * x_pad[b, ci, *(o*s + t*d)]``
    """
    batch, groups = x.shape[0], g.groups
    k_count = math.prod(g.kernel_size)
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    out = np.empty((batch, g.out_channels) + g.output_size, dtype=x.dtype)
    w_mat = np.ascontiguousarray(weight).reshape(groups, cout_g, cin_g * k_count)
    inner = math.prod(g.output_size[1:])

    if _is_pointwise(g):
        length = inner * g.output_size[0]
        x_mat = x.reshape(batch, groups, cin_g, length)
        np.matmul(w_mat, x_mat, out=view_as(out, (batch, groups, cout_g, length)))
        _add_bias(out, bias)
        return out

    bytes_per_row = g.in_channels * k_count * inner * x.itemsize
    buffer = None
    for b0, b1, r0, r1 in _chunks(g.output_size[0], bytes_per_row, batch):
        shape = (b1 - b0, g.in_channels) + g.kernel_size + (r1 - r0,) + g.output_size[1:]
        if buffer is None:  # the first chunk is the largest
            buffer = scratch(math.prod(shape), x.dtype)
        cols = buffer[:math.prod(shape)].reshape(shape)
        gather_windows(x[b0:b1], cols, g.kernel_size, g.stride, g.dilation,
                       [p[0] for p in g.padding], start0=r0)
        target = view_as(out[b0:b1, :, r0:r1], (b1 - b0, groups, cout_g, (r1 - r0) * inner))
        np.matmul(w_mat, cols.reshape(b1 - b0, groups, cin_g * k_count, (r1 - r0) * inner), out=target)
    _add_bias(out, bias)
    return out


def conv_transpose_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                           g: ConvGeometry) -> np.ndarray:
    """Transposed convolution of a batched input: the adjoint of :func:`conv_forward`.

    Shapes: ``x (B, C_in, *in)``, ``weight (C_in, C_out/groups, *k)``, ``bias (C_out,)`` or None
    -> ``(B, C_out, *out)`` with ``out`` from :func:`convscope.arith.conv_transpose_output_size`.

    ``out[b, co, *(i*s + t*d - p_lo)] += weight[ci, co, *t] * x[b, ci, *i]`` (within the output).
    """
    batch, groups = x.shape[0], g.groups
    k_count = math.prod(g.kernel_size)
    cin_g, cout_g = g.in_channels // groups, g.out_channels // groups
    out = np.zeros((batch, g.out_channels) + g.output_size, dtype=x.dtype)
    # (G, C_out/G * prod(k), C_in/G): the GEMM's left operand, a transposed view.
    w_mat = np.ascontiguousarray(weight).reshape(groups, cin_g, cout_g * k_count).transpose(0, 2, 1)
    inner = math.prod(g.input_size[1:])
    bytes_per_row = g.out_channels * k_count * inner * x.itemsize
    buffer = None
    for b0, b1, r0, r1 in _chunks(g.input_size[0], bytes_per_row, batch):
        rows = r1 - r0
        if buffer is None:
            buffer = scratch((b1 - b0) * g.out_channels * k_count * rows * inner, x.dtype)
        cols = buffer[:(b1 - b0) * g.out_channels * k_count * rows * inner]
        x_mat = x[b0:b1, :, r0:r1].reshape(b1 - b0, groups, cin_g, rows * inner)
        np.matmul(w_mat, x_mat, out=cols.reshape(b1 - b0, groups, cout_g * k_count, rows * inner))
        scatter_windows(cols.reshape((b1 - b0, g.out_channels) + g.kernel_size + (rows,) + g.input_size[1:]),
                        out[b0:b1], g.kernel_size, g.stride, g.dilation, [p[0] for p in g.padding], start0=r0)
    _add_bias(out, bias)
    return out
