"""The library's seeded random source (``torch.manual_seed``'s counterpart).

Parameter initialization draws from one global ``numpy.random.Generator``; seeding it
makes model construction reproducible.  The streams differ from PyTorch's (another
generator), the distributions are the same.
"""
from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "default_generator"]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator used by ``convscope.nn.init`` and return it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator (seeded by :func:`manual_seed`)."""
    return _generator
