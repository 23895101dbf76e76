"""The stride-1 wide-grid path of convolution (used for larger feature maps) against torch."""
import numpy as np
import pytest
import torch

import convscope.functional as F
from convscope import arith
from convscope.ops import conv


@pytest.mark.parametrize("seed", range(20))
def test_wide_grid_path_matches_torch(seed, monkeypatch):
    monkeypatch.setattr(conv, "WIDE_MIN_LENGTH", 0)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 4))
    groups = int(rng.integers(1, 3))
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, n))
    d = tuple(int(v) for v in rng.integers(1, 3, n))
    pad = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(n))
    size = tuple(int(v) for v in rng.integers(5, 9, n))
    x = rng.standard_normal((2, cin) + size)
    w = rng.standard_normal((cout, cin // groups) + k)
    b = rng.standard_normal(cout) if seed % 2 else None
    geometry = arith.conv_geometry(x.shape, w.shape, n=n, padding=pad, dilation=d, groups=groups)
    assert conv._use_wide_grid(geometry, x.itemsize)  # the path under test is taken
    got = getattr(F, f"conv{n}d")(x, w, b, 1, pad, d, groups)
    flat_pad = tuple(v for lo_hi in reversed(pad) for v in lo_hi)
    ref = getattr(torch.nn.functional, f"conv{n}d")(torch.nn.functional.pad(torch.from_numpy(x), flat_pad),
                                                    torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                                                    dilation=d, groups=groups).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * max(1, np.abs(ref).max()),
                               err_msg=f"k={k} d={d} pad={pad} size={size} groups={groups}")
