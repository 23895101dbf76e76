"""Layers with PyTorch's constructor signatures, called on NumPy arrays (``torch.nn``)."""
from . import init
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .layers import (BatchNorm1d, BatchNorm2d, BatchNorm3d, CrossEntropyLoss, Dropout, Flatten, Identity, LeakyReLU,
                     Linear, LogSoftmax, MSELoss, NLLLoss, ReLU, ReLU6, Sequential, Sigmoid, Softmax, Tanh)
from .module import Module, Parameter
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, LPPool1d, LPPool2d,
                      LPPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d,
                      PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d)

__all__ = ["init", "Module", "Parameter", "Conv1d", "Conv2d", "Conv3d",
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "Upsample", "UpsamplingNearest2d",
           "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
           "Sequential", "Identity", "Linear", "Flatten", "ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "Dropout", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "CrossEntropyLoss", "NLLLoss",
           "MSELoss"]
