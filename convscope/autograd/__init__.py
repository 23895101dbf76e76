"""Reverse-mode automatic differentiation over NumPy arrays: ``Tensor``, ``no_grad`` and the
differentiable primitives (``convscope.autograd.ops``)."""
from . import ops
from .tensor import Tensor, any_tensor, as_data, enable_grad, is_grad_enabled, make_result, no_grad, unbroadcast

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "make_result", "as_data", "any_tensor",
           "unbroadcast", "ops"]
