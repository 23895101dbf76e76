"""convscope: convolution layers from first principles, on NumPy, exact to PyTorch.

Layers (low to high): ``arith`` (pure formulas) -> ``ops`` (N-d NumPy kernels) ->
``functional`` / ``nn`` (PyTorch's API) -> ``cli``.
"""
from . import arith, functional, nn
from . import functional as F
from .random import manual_seed

__version__ = "0.1.0"
__all__ = ["arith", "functional", "F", "nn", "manual_seed", "__version__"]
