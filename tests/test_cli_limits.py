"""The calculator, explain, animate, gridding and the web API: a 0 is an error (never a default),
work is bounded from the formulas before anything runs, and every failure is one clear line."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from convscope import arith, calc
from convscope.cli import main
from convscope.explain import explain_upsample
from convscope.viz.animate import _fmt
from convscope.web import handle_api


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,message", [
    (("shape", "conv2d", "--input", "1x3x32x32", "--kernel", "3", "--stride", "0"), "non-positive stride"),
    (("shape", "conv2d", "--input", "1x3x32x32", "--kernel", "3", "--dilation", "0"), "non-positive dilation"),
    (("shape", "conv2d", "--input", "1x3x32x32", "--kernel", "3", "--out-channels", "0"), "out_channels=0"),
    (("shape", "avg_pool2d", "--input", "1x1x8x8", "--kernel", "2", "--dilation", "2"), "has no dilation"),
    (("shape", "conv2d", "--input", "1x1x1x1", "--kernel", "1", "--padding", "100000"), "output would have"),
    (("shape", "conv_transpose2d", "--input", "1x1x4x4", "--kernel", "100000"), "weight would have"),
    (("shape", "upsample", "--input", "1x1x2048x2048", "--scale-factor", "64"), "output would have"),
    (("shape", "max_pool2d", "--input", "1x1x1024x1024", "--kernel", "1023", "--stride", "1", "--padding", "511"),
     "multiply-accumulates"),
    (("explain", "conv2d", "--input", "1x1x5x5", "--kernel", "3", "--stride", "0"), "non-positive stride"),
    (("explain", "conv2d", "--input", "1x2x5x5", "--kernel", "3", "--groups", "0"), "groups must be a positive"),
    (("explain", "conv2d", "--input", "1x1x64x64", "--kernel", "3", "--out-channels", "100000"), "output would have"),
    (("explain", "upsample", "--input", "1x1x4x4", "--scale-factor", "1000000"), "output would have"),
    (("animate", "conv2d", "--input", "5x5", "--kernel", "3", "--stride", "0", "-o", "x.gif"), "non-positive stride"),
    (("animate", "conv2d", "--input", "5x5", "--kernel", "3", "--out-channels", "1000000000", "-o", "x.gif"),
     "out_channels must be an integer from 1"),
    (("animate", "conv2d", "--input", "5x5", "--kernel", "3", "--in-channels", "2", "--groups", "0", "-o", "x.gif"),
     "groups must be an integer from 1"),
    (("animate", "conv2d", "--input", "5x5", "--kernel", "3", "-o", "/nonexistent/dir/a.gif"), "No such file"),
    (("gridding", "--dilations", "1000000000,2"), "more than this tool maps"),
])
def test_bad_requests_are_one_line_errors(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_plan_layer_agrees_with_torch():
    """The work bound reads shapes and MACs from the formulas: they are the layers' own."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        op = rng.choice(["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d"])
        options = dict(kernel=str(int(rng.integers(1, 5))), stride=str(int(rng.integers(1, 4))),
                       padding=str(int(rng.integers(0, 2))))
        shape = (2, 4, int(rng.integers(6, 12)), int(rng.integers(6, 12)))
        if op.startswith("conv"):
            options["out_channels"] = int(rng.integers(1, 6))
            layer = (torch.nn.ConvTranspose2d if "transpose" in op else torch.nn.Conv2d)(
                4, options["out_channels"], int(options["kernel"]), int(options["stride"]), int(options["padding"]))
        else:
            if int(options["padding"]) > int(options["kernel"]) // 2:
                options["padding"] = "0"
            layer = (torch.nn.MaxPool2d if op.startswith("max") else torch.nn.AvgPool2d)(
                int(options["kernel"]), int(options["stride"]), int(options["padding"]))
        plan = calc.plan_layer(str(op), shape, **options)
        with torch.no_grad():
            assert tuple(plan["output_shape"]) == tuple(layer(torch.zeros(shape)).shape), (op, options)


def test_the_web_api_refuses_large_layers_before_running_them():
    def query(**kw):
        return {k: [str(v)] for k, v in kw.items()}
    for q, message in ((query(op="conv2d", input="1x1x1x1", kernel=1, padding=100000), "output would have"),
                       (query(op="conv2d", input="1x1x2048x2048", kernel=1, out_channels=100000), "output would have"),
                       (query(op="conv_transpose2d", input="1x1x4x4", kernel=100000), "weight would have"),
                       (query(op="conv2d", input="1x3x32x32", kernel=3, stride=0), "non-positive stride")):
        status, body = handle_api("GET", "/api/shape", q)
        assert status == 400 and message in body["error"]
    for q, message in ((query(op="conv_transpose2d", input="3x3", view="weird"), "view must be"),
                       (query(op="conv2d", input="3x3", seed=-1), "seed must be a non-negative integer")):
        status, body = handle_api("GET", "/api/animation", q)
        assert status == 400 and message in body["error"]
    for q, message in ((query(example="digit", padding=100000), "padding must be"),
                       (query(example="digit", kernel="nan,1;1,1"), "finite"),
                       (query(example="digit", kernel="1e308,1;1,1"), "finite")):
        status, body = handle_api("POST", "/api/feature_map", q)
        assert status == 400 and message in body["error"]


@pytest.mark.parametrize("shape,kwargs", [((1, 1, 4, 5), dict(scale_factor=0.5)), ((1, 1, 4, 2), dict(size=(6, 8))),
                                          ((1, 1, 7), dict(size=3)), ((1, 1, 5, 3, 4), dict(size=(2, 3, 3)))])
def test_explain_area_traces_the_adaptive_windows(shape, kwargs):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    text = explain_upsample(x, mode="area", max_outputs=1000, **kwargs)  # asserts every traced sum equals the op
    assert "interpolate (area)" in text


def test_ceil_mode_derivation_compares_padded_coordinates():
    text = arith.pool_size_derivation(5, 2, 2, 1, 1, True)
    assert "start at (o-1)*s = 6 >= i + p = 6 in padded coordinates" in text and text.endswith("o = 3")


def test_design_failure_counts_output_padding():
    with pytest.raises(arith.DesignError, match="span 8..9"):
        arith.design(3, 11, "transposed", kernel=(2, 2), stride=(3, 3), padding=(0, 0), output_padding=(0, 1))


@pytest.mark.parametrize("value,text", [(3, "3"), (10044, "10k"), (-9999, "-9999"), (2.79, "2.8"), (15.5, "16"),
                                        (123456, "123k"), (999600, "1M"), (0.004, "4e-03")])
def test_cell_numbers_fit_without_being_cut(value, text):
    assert _fmt(value) == text


def test_gridding_counts_paths_exactly_past_int64():
    """45 layers of 3 taps: up to 3^45 paths to one offset, past int64 (which wrapped to negatives)."""
    expected = [1]
    for _ in range(45):  # the coefficients of (1 + x + x^2)^45, in Python integers
        expected = [sum(expected[j - t] for t in range(3) if 0 <= j - t < len(expected))
                    for j in range(len(expected) + 2)]
    assert [int(v) for v in arith.gridding_map([(3, 1, 1)] * 45)] == expected
    assert max(expected) > 2**63
