"""The arithmetic engine: receptive fields against brute force, gridding, inverse design verified by
running the ops, and the calculator's command line."""
import json
import subprocess
import sys

import numpy as np
import pytest

import convscope
from convscope import arith, nn
from convscope import functional as F
from convscope.cli import main
from convscope.summary import summary


def _touched(model, input_shape, out_index):
    """Input positions whose gradient is nonzero for one output unit (weights and input positive,
    so no gradient cancels)."""
    for p in model.parameters():
        p.data[...] = 1.0
    x = convscope.Tensor(np.ones(input_shape), requires_grad=True)
    y = model(x)
    seed = np.zeros(y.shape)
    seed[(0, 0) + tuple(out_index)] = 1.0
    y.backward(seed)
    return x.grad[0, 0] != 0, y.shape


def _random_stack(rng, n):
    layers, specs = [], []
    for _ in range(int(rng.integers(1, 5))):
        k = int(rng.integers(1, 5))
        s = int(rng.integers(1, 3))
        d = int(rng.integers(1, 3)) if k > 1 else 1
        p = int(rng.integers(0, (d * (k - 1)) // 2 + 1))
        if rng.random() < 0.7:
            cls = getattr(nn, f"Conv{n}d")
            layers.append(cls(1, 1, k, stride=s, padding=p, dilation=d, bias=False, dtype=np.float64))
        else:
            p = min(p, k // 2)
            d = 1
            layers.append(getattr(nn, f"AvgPool{n}d")(k, s, p))
        specs.append((k, s, p, d))
    return nn.Sequential(*layers), specs


@pytest.mark.parametrize("seed", range(30))
def test_receptive_field_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 1 if seed % 2 else 2
    model, specs = _random_stack(rng, n)
    size = 64 if n == 2 else 200
    shape = (1, 1) + (size,) * n
    rows = summary(model, shape, "float64").rows
    field = rows[-1].receptive_field
    out_spatial = rows[-1].output_shape[2:]
    centre = tuple(o // 2 for o in out_spatial)                  # an interior unit: no padding clips it
    touched, _ = _touched(model, shape, centre)
    for j in range(n):
        axis = tuple(a for a in range(n) if a != j)
        hits = np.nonzero(touched.any(axis=axis) if axis else touched)[0]
        lo, hi = hits.min(), hits.max()
        assert hi - lo + 1 == field.size[j], (specs, field)
        assert (lo + hi + 1) / 2 == pytest.approx(field.start[j] + centre[j] * field.jump[j]), (specs, field)
        # the holes inside the field are exactly the gridding map's zeros
        reached = arith.gridding_map([(k, s, d) for k, s, p, d in specs]) > 0
        assert np.array_equal(reached, (touched.any(axis=axis) if axis else touched)[lo:hi + 1]), specs


@pytest.mark.parametrize("k, s, p, d", [(4, 2, 1, 1), (3, 2, 1, 1), (5, 3, 2, 1), (3, 2, 0, 2), (2, 2, 0, 1)])
def test_transposed_receptive_field_is_the_widest_over_output_phases(k, s, p, d):
    model = nn.Sequential(nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, dilation=d, bias=False, dtype=np.float64))
    shape = (1, 1, 40)
    field = summary(model, shape, "float64").rows[0].receptive_field
    out_len = arith.conv_transpose_output_size(40, k, s, p, 0, d)
    spans = []
    for o in range(10, out_len - 10):
        touched, _ = _touched(model, shape, (o,))
        hits = np.nonzero(touched)[0]
        if len(hits):  # with stride 2 and dilation 2 the odd outputs read nothing
            spans.append(hits.max() - hits.min() + 1)
    assert max(spans) == field.size[0] == arith.transposed_span(k, s, d)
    assert field.jump[0] == pytest.approx(1 / s)


def test_gridding_and_hdc_suggestions():
    assert arith.grids([(3, 1, 2), (3, 1, 2), (3, 1, 2)])
    assert not arith.grids([(3, 1, 1), (3, 1, 2), (3, 1, 5)])
    assert arith.hdc_valid([1, 2, 5]) and not arith.hdc_valid([1, 2, 9]) and not arith.hdc_valid([2, 4, 8])
    for suggestion in arith.suggest_dilations([2, 2, 2, 2]):
        assert len(suggestion) == 4 and not arith.grids([(3, 1, r) for r in suggestion])


@pytest.mark.parametrize("i, o, op, ranges", [
    (32, 16, "conv", dict(kernel=(1, 7), stride=(1, 4), padding=(0, 3))),
    (224, 112, "conv", dict(kernel=(1, 7), stride=(1, 2), padding=(0, 3), dilation=(1, 2))),
    (7, 7, "conv", dict(kernel=(1, 5), stride=1, padding=(0, 4), dilation=(1, 3))),
    (10, 320, "transposed", dict(kernel=(1, 64), stride=(1, 32), padding=(0, 16))),
    (28, 56, "transposed", dict(kernel=(1, 4), stride=(1, 2), padding=(0, 2), output_padding=(0, 1))),
])
def test_every_design_is_verified_by_running_the_op(i, o, op, ranges):
    designs = arith.design(i, o, op, limit=1000, **ranges)
    assert designs and [d.kernel_size for d in designs] == sorted(d.kernel_size for d in designs)
    x = np.zeros((1, 1, i))
    for d in designs:
        if op == "conv":
            y = F.conv1d(x, np.zeros((1, 1, d.kernel_size)), stride=d.stride, padding=d.padding, dilation=d.dilation)
        else:
            y = F.conv_transpose1d(x, np.zeros((1, 1, d.kernel_size)), stride=d.stride, padding=d.padding,
                                   output_padding=d.output_padding, dilation=d.dilation)
        assert y.shape[-1] == o, d


def test_design_family_for_x32_upsampling():
    pairs = {(d.kernel_size, d.padding) for d in arith.design(10, 320, "transposed", kernel=(1, 64), stride=32,
                                                              padding=(0, 16))}
    assert (64, 16) in pairs and all(k == 2 * p + 32 for k, p in pairs)


def test_design_failure_says_by_how_much():
    with pytest.raises(arith.DesignError, match=r"reachable output sizes span 4..41, so 1000 is above them \(by 959\)"):
        arith.design(10, 1000, "transposed", kernel=(1, 5), stride=(1, 4))


def test_size_preserving_paddings_run_unchanged():
    for k, d in [(3, 1), (4, 1), (3, 2), (2, 3)]:
        for lo, hi in arith.size_preserving_paddings(k, d):
            assert F.conv1d(np.zeros((1, 1, 9)), np.zeros((1, 1, k)), padding=((lo, hi),), dilation=d).shape[-1] == 9


def test_shape_cli_json_matches_the_layer(capsys):
    assert main(["shape", "conv2d", "--input", "1x3x32x32", "--out-channels", "16", "--kernel", "5", "--stride",
                 "2", "--padding", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output_shape"] == [1, 16, 16, 16]
    assert report["params"] == arith.conv_param_count(3, 16, (5, 5)) == 1216
    assert report["macs"] == arith.conv_macs(3, 16, (5, 5), (16, 16))
    assert report["flops"] == 2 * report["macs"] + 16 * 16 * 16  # plus one bias add per output element
    assert report["receptive_field"] == {"size": [5, 5], "jump": [2, 2], "start": [0.5, 0.5]}
    assert main(["shape", "max_pool2d", "--input", "1x8x5x5", "--kernel", "2", "--ceil-mode", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output_shape"] == [1, 8, 3, 3]
    assert main(["shape", "upsample", "--input", "1x8x5x5", "--scale-factor", "2", "--mode", "bilinear",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output_shape"] == [1, 8, 10, 10]


def test_calculator_errors_are_messages_not_tracebacks(capsys):
    assert main(["shape", "conv2d", "--input", "1x3x4x4", "--kernel", "7"]) == 2
    err = capsys.readouterr().err
    assert "smaller than the dilated kernel size (7, 7)" in err and "Traceback" not in err
    assert main(["shape", "conv2d", "--input", "1xAx4", "--kernel", "3"]) == 2
    assert "--input must look like" in capsys.readouterr().err
    assert main(["design", "--input", "10", "--output", "1000", "--op", "transposed"]) == 2
    assert "above them" in capsys.readouterr().err


def test_summary_cli_loads_a_model_file(tmp_path):
    source = tmp_path / "model.py"
    source.write_text("from convscope import nn\n"
                      "net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),\n"
                      "                    nn.Flatten(), nn.Linear(8 * 16 * 16, 10))\n")
    out = subprocess.run([sys.executable, "-m", "convscope", "summary", f"{source}:net", "--input", "2x3x32x32",
                          "--json"], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert [layer["type"] for layer in report["layers"]] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert report["layers"][0]["output_shape"] == [2, 8, 32, 32]
    assert report["layers"][2]["receptive_field"] == {"size": [4, 4], "jump": [2, 2], "start": [1, 1]}
    assert report["total"]["params"] == 8 * 3 * 9 + 8 + 8 * 16 * 16 * 10 + 10
    assert report["total"]["macs"] == 2 * 8 * 32 * 32 * 27 + 2 * 8 * 16 * 16 * 10
    bad = subprocess.run([sys.executable, "-m", "convscope", "summary", f"{source}:missing", "--input", "1x3x32x32"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "defines no 'missing'" in bad.stderr


def test_flops_convention_per_layer():
    from convscope.summary import summary
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.AvgPool2d(2), nn.Upsample(scale_factor=2, mode="bilinear"),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    rows = summary(model, (1, 3, 8, 8)).rows
    flops = [r.flops for r in rows]
    assert flops[0] == 2 * rows[0].macs == 2 * 4 * 64 * 27           # no bias
    assert flops[1] == 2 * 4 * 64 and flops[2] == 4 * 64               # batch norm, relu
    assert flops[3] == 4 * 16 * 3 and flops[4] == 4 * 4 * 4            # max: k-1 comparisons; avg: k ops
    assert flops[5] == 4 * 16 * 7                                       # bilinear: 4 products + 3 sums
    assert flops[6] == 4 * 16 + 4 and flops[7] == 0                     # adaptive avg: adds + divisions
    assert flops[8] == 2 * 4 * 2 + 2                                    # linear with bias


def test_searches_are_bounded():
    import time
    start = time.perf_counter()
    assert arith.grids([(3, 1, 64)] * 8)
    arith.suggest_dilations([64] * 8)
    assert time.perf_counter() - start < 10
    with pytest.raises(arith.DesignError, match="narrow a range"):
        arith.design(10, 20, kernel=(1, 10000), stride=(1, 100), padding=(0, 100))
