"""convscope explain: traces that agree with the ops, and the transposed-convolution equivalences."""
import numpy as np
import pytest

from convscope import functional as F
from convscope.cli import main
from convscope.explain import explain_conv, explain_conv_transpose, explain_pool, zero_inserted_input


@pytest.mark.parametrize("seed", range(12))
def test_transposed_convolution_equals_convolution_of_the_zero_inserted_input(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3))
    groups = int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, n))
    s = tuple(int(v) for v in rng.integers(1, 4, n))
    d = tuple(int(v) for v in rng.integers(1, 3, n))
    p = tuple(int(rng.integers(0, dd * (kk - 1) + 1)) for kk, dd in zip(k, d))
    op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
    x = rng.standard_normal((1, 2 * groups) + tuple(int(v) for v in rng.integers(2, 5, n)))
    w = rng.standard_normal((2 * groups, 3) + k)
    try:
        text = explain_conv_transpose(x, w, s, p, op, d, groups)  # asserts the equivalence internally
    except ValueError:
        pytest.skip("output size below 1 for this random configuration")
    assert "zero-inserted" in text
    z = zero_inserted_input(x, k, s, tuple((pp, pp) for pp in p), d, op)
    expected_len = [(i - 1) * ss + 1 + 2 * (dd * (kk - 1)) - 2 * pp + oo
                    for i, ss, dd, kk, pp, oo in zip(x.shape[2:], s, d, k, p, op)]
    assert list(z.shape[2:]) == expected_len


def test_conv_trace_lists_each_window_and_matches_the_op():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    text = explain_conv(x, np.ones((1, 1, 3, 3)), 2, 1, 1)
    assert "floor((4 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = floor(3 / 2) + 1 = 2" in text
    assert "out[0, 0, 0] = 0*1 + 0*1 + 0*1 + 0*1 + 0*1 + 1*1 + 0*1 + 4*1 + 5*1 = 10" in text
    assert F.conv2d(x, np.ones((1, 1, 3, 3)), stride=2, padding=1)[0, 0, 1, 1] == 90
    assert "= 90" in text


def test_pool_trace_shows_ceil_mode_windows_and_divisors():
    text = explain_pool(np.arange(25.0).reshape(1, 1, 5, 5), "avg", 2, ceil_mode=True)
    assert "out[0, 2] = (4 + 9) / 2 = 6.5" in text
    text = explain_pool(np.arange(16.0).reshape(1, 1, 4, 4), "max", 2, 2, 1, ceil_mode=True)
    assert "ceil(" in text and "max(" in text


def test_explain_cli(capsys):
    assert main(["explain", "conv2d", "--input", "1x1x4x4", "--kernel", "3", "--padding", "1", "--stride", "2",
                 "--out-channels", "4"]) == 0
    out = capsys.readouterr().out
    assert "params = C_out * (C_in/groups) * prod(k)" in out and "depthwise-separable" in out
    assert main(["explain", "conv_transpose2d", "--input", "1x1x2x2", "--kernel", "3", "--stride", "2",
                 "--padding", "1", "--output-padding", "1"]) == 0
    out = capsys.readouterr().out
    assert "(2-1)*2 - 1 - 1 + 1*(3-1) + 1 + 1 = 4" in out and "scatter" in out
    assert main(["explain", "conv2d", "--input", "1x1x100x100", "--kernel", "3"]) == 2
    assert "more than 4096 elements" in capsys.readouterr().err
    assert main(["explain", "conv2d", "--input", "1x1x4x4", "--kernel", "7"]) == 2
    assert "smaller than the dilated kernel" in capsys.readouterr().err


def test_upsample_trace_weights_match_the_op(capsys):
    from convscope.explain import explain_upsample
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    for mode, kw in (("nearest", {}), ("bilinear", {"align_corners": True}), ("bicubic", {}),
                     ("bilinear", {})):
        text = explain_upsample(x, scale_factor=1.5, mode=mode, max_outputs=100, **kw)  # asserts each element
        assert "source index: weight" in text
    assert main(["explain", "upsample", "--input", "1x1x2x2", "--scale-factor", "2", "--mode", "bilinear"]) == 0
    assert "out[0, 1] = 0.75*x[0, 0] + 0.25*x[0, 1] = 0.25" in capsys.readouterr().out


def test_gridding_cli(capsys):
    import json
    assert main(["gridding", "--dilations", "2,2,2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["grids"] and report["holes"] == [1, 3, 5, 7, 9, 11] and report["receptive_field"] == 13
    assert report["paths"] == [1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1]
    assert report["suggestions"][0] == [1, 2, 3]
    assert main(["gridding", "--dilations", "1,2,5"]) == 0
    assert "no holes" in capsys.readouterr().out
    assert main(["gridding", "--dilations", "a,b"]) == 2
