"""Shared pieces of the random 2-d convolution configurations the path tests generate."""
import numpy as np


def random_channels_and_kernel(rng: np.random.Generator):
    """``(groups, C_in, C_out, kernel, dilation)``: 1–3 groups (1 twice as likely), 1–3 channels
    per group on each side, kernels 1–5 and dilations 1–2 per dimension."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 6, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    return groups, cin, cout, k, d
