"""Layers with PyTorch's constructor signatures, called on NumPy arrays (``torch.nn``)."""
from . import init
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .module import Module, Parameter

__all__ = ["init", "Module", "Parameter", "Conv1d", "Conv2d", "Conv3d",
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
