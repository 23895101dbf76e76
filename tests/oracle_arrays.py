"""What the differential tests compare: torch's results and convscope's, as NumPy arrays."""
import numpy as np
import torch

from convscope.autograd import Tensor


def to_np(value):
    """A torch tensor (detached), a convscope Tensor's data, or anything array-like, as an ndarray."""
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, Tensor):
        return value.data
    return np.asarray(value)
