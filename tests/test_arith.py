"""The arithmetic module: formulas, normalization, and agreement with the ops."""
import numpy as np
import pytest

from convscope import arith
from convscope import functional as F


def test_output_size_formula_examples():
    assert arith.conv_output_size(224, 7, stride=2, padding=3) == 112
    assert arith.conv_output_size(56, 3, stride=2, padding=1) == 28
    assert arith.conv_output_size(7, 3, padding=2, dilation=2) == 7
    assert arith.conv_output_size(5, 3, padding=(0, 1)) == 4
    assert arith.conv_transpose_output_size(28, 4, stride=2, padding=1) == 56
    assert arith.conv_transpose_output_size(10, 64, stride=32, padding=16) == 320
    assert arith.conv_transpose_output_size(5, 3, stride=2, padding=1, output_padding=1) == 10


def test_same_padding_puts_extra_on_high_side():
    assert arith.same_padding((4, 3, 2), (1, 2, 3)) == ((1, 2), (2, 2), (1, 2))


@pytest.mark.parametrize("padding, expected", [
    (1, ((1, 1), (1, 1))),
    ((1, 2), ((1, 1), (2, 2))),
    (((0, 1), (2, 3)), ((0, 1), (2, 3))),
    ([[0, 1], [2, 3]], ((0, 1), (2, 3))),
    ("valid", ((0, 0), (0, 0))),
])
def test_normalize_padding_forms(padding, expected):
    assert arith.normalize_padding(padding, 2) == expected


@pytest.mark.parametrize("bad, error", [
    ((1, 2, 3), ValueError), (1.5, TypeError), ("full", ValueError), (-1, ValueError),
    (((1, 2), 3), ValueError), (((1, 2, 3), (1, 2)), ValueError), (True, TypeError),
])
def test_normalize_padding_rejects(bad, error):
    with pytest.raises(error, match="padding"):
        arith.normalize_padding(bad, 2)


def test_param_counts():
    assert arith.conv_param_count(3, 64, (7, 7), bias=False) == 9408
    assert arith.conv_param_count(64, 64, (3, 3)) == 36928
    assert arith.conv_param_count(64, 64, (3, 3), groups=8, bias=False) == 64 * 8 * 9
    assert arith.conv_param_count(144, 144, (3, 3), groups=144) == 144 * 9 + 144


def test_macs_count_the_multiplications_of_a_direct_loop():
    # A direct loop over output positions counts one multiply per (output, tap, input channel of its group).
    g = arith.conv_geometry((2, 4, 6, 5), (6, 2, 3, 2), n=2, stride=(2, 1), padding=1, groups=2)
    multiplies = 0
    for _ in np.ndindex(g.output_shape):
        multiplies += (g.in_channels // g.groups) * 3 * 2
    assert g.macs() == multiplies
    t = arith.conv_geometry((2, 4, 6, 5), (4, 3, 3, 2), n=2, stride=2, groups=2, transposed=True)
    assert t.macs() == 2 * 4 * 6 * 5 * 3 * 3 * 2  # every input element meets C_out/groups * prod(k) weights


def test_geometry_matches_op_shapes(rng):
    for _ in range(50):
        n = int(rng.integers(1, 4))
        groups = int(rng.integers(1, 3))
        cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, n))
        s = tuple(int(v) for v in rng.integers(1, 3, n))
        d = tuple(int(v) for v in rng.integers(1, 3, n))
        p = tuple(int(v) for v in rng.integers(0, 2, n))
        size = tuple(int(v) for v in rng.integers(5, 8, n))
        x = rng.standard_normal((2, cin) + size)
        conv = getattr(F, f"conv{n}d")
        out = conv(x, rng.standard_normal((cout, cin // groups) + k), None, s, p, d, groups)
        assert out.shape[2:] == arith.conv_output_shape(size, k, s, p, d)
        convt = getattr(F, f"conv_transpose{n}d")
        out = convt(x, rng.standard_normal((cin, cout // groups) + k), None, s, p, 0, groups, d)
        assert out.shape[2:] == arith.conv_transpose_output_shape(size, k, s, p, 0, d)


def test_output_padding_from_output_size():
    pads = arith.conv_transpose_output_padding((5, 6), (12, 13), (3, 3), (2, 2), ((0, 0), (0, 0)), (1, 1))
    assert pads == (1, 0)
    with pytest.raises(ValueError, match=r"valid sizes range from \(11, 13\) to \(12, 14\)"):
        arith.conv_transpose_output_padding((5, 6), (14, 13), (3, 3), (2, 2), ((0, 0), (0, 0)), (1, 1))


def test_geometry_reports_too_small_input():
    with pytest.raises(ValueError, match=r"padded input size \(5, 6\) is smaller than the dilated kernel"):
        arith.conv_geometry((1, 3, 5, 6), (4, 3, 7, 3), n=2)


# -- stride phases and sub-pixel phases (the grid's and the sub-pixel transposed convolution's arithmetic)

@pytest.mark.parametrize("k,s,d", [(k, s, d) for k in (1, 2, 3, 4, 7) for s in (1, 2, 3, 4) for d in (1, 2, 3)])
def test_tap_phases_rewrite_the_index_law(k, s, d):
    """``s*y + t*d == s*(y + offset) + phase`` for every tap and output, with ``0 <= phase < s``."""
    phase, offset = arith.tap_phases(k, s, d)
    for t in range(k):
        assert 0 <= phase[t] < s
        for y in range(5):
            assert s * y + t * d == s * (y + offset[t]) + phase[t]


@pytest.mark.parametrize("i,k,s,d,p,op", [(i, k, s, d, p, op) for i in (1, 2, 5) for k in (1, 2, 3, 4)
                                          for s in (1, 2, 3) for d in (1, 2) for p in (0, 1, 3)
                                          for op in range(max(s, d))
                                          if arith.conv_transpose_output_size(i, k, s, (p, p), d, op) > 0])
def test_subpixel_phases_compute_the_transposed_convolution(i, k, s, d, p, op):
    """Brute force: the correlations of the phases give every output exactly the products
    ``x[i'] * w[t]`` with ``o + p = i'*s + t*d``, and cover every output once."""
    o = arith.conv_transpose_output_size(i, k, s, (p, p), d, op)
    expected = [sorted((ii, t) for ii in range(i) for t in range(k) if out + p == ii * s + t * d)
                for out in range(o)]
    got = [None] * o
    for phase in arith.subpixel_phases(i, o, k, s, d, p):
        lo, _ = phase.padding
        for u in range(phase.count):
            out = phase.start + u * s
            assert got[out] is None, "an output in two phases"
            # correlation: tap tau reads input u - lo + tau*dilation (outside [0, i): padding)
            got[out] = sorted((u - lo + tau * phase.dilation, t) for tau, t in enumerate(phase.taps)
                              if 0 <= u - lo + tau * phase.dilation < i)
            window_end = u - lo + phase.dilation * (len(phase.taps) - 1)
            assert not phase.taps or window_end <= i - 1 + phase.padding[1], "padding too small"
    assert got == expected
