"""convscope: convolution layers from first principles, on NumPy, exact to PyTorch.

Layers (low to high): ``arith`` (pure formulas) -> ``ops`` (N-d NumPy kernels with their backward
rules) -> ``autograd`` (Tensor) -> ``functional`` / ``nn`` / ``optim`` (PyTorch's API) -> ``cli``.
"""
from . import arith, autograd, data, functional, nn, optim
from . import functional as F
from .autograd import Tensor, enable_grad, is_grad_enabled, no_grad
from .autograd.ops import cat, ones, randn, stack, tensor, zeros
from .random import manual_seed

__version__ = "0.1.0"
__all__ = ["arith", "autograd", "data", "functional", "F", "nn", "optim", "Tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "tensor", "zeros", "ones", "randn", "cat", "stack", "manual_seed", "__version__"]
