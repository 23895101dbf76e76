"""Receptive fields in ``convscope.summary`` against brute force in torch.

The ground truth of output unit ``u``'s field: build the same layers in torch (float64, every
weight 1, no bias, a positive input), back-propagate a one-hot gradient at ``u`` and take the
input pixels whose gradient is nonzero (along each dimension: the projection of that set).  The
summary's field promises (docs/arithmetic.md, ``convscope.arith.receptive``):

* ``field.hull(u)``: the first and last pixel unit ``u`` reaches, for every unit whose field no
  border clips (``interior``), and ``None`` for the units that read nothing;
* ``size``: the widest of those hulls, over all output units and phases;
* ``start``: the centre of unit 0's (unclipped) hull, so unit ``u = m * period`` is centred at
  ``start + u * jump`` (``period``: how often the hulls repeat; with an integer jump, 1).

The stacks are seeded random 1-4 layer sequences of convolutions, average pooling (with
ceil_mode), transposed convolutions, nearest and (bi)linear upsampling (by scale factor or size,
with and without align_corners) and adaptive average pooling, in 1-d and 2-d; then a residual
block whose shortcut runs after the main path, a concatenation, and unbatched input.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from convscope import arith
from convscope import nn as cnn
from convscope.summary import summary

torch.set_num_threads(1)


# -- ground truth ---------------------------------------------------------------------------------

def _ones(model: torch.nn.Module) -> torch.nn.Module:
    model = model.double().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.fill_(0.0 if name.endswith("bias") else 1.0)
    return model


def true_hulls(model: torch.nn.Module, input_shape, dim: int, chunk: int = 64) -> list:
    """For each output index along spatial dimension ``dim``: ``(lo, hi)`` of the input pixels
    (along ``dim``) that reach it, or ``None``.  One backward per chunk of units: sample ``b`` of a
    batch seeds the whole output hyperplane ``index[dim] == u_b``; the layers are separable, so
    the projection of its gradient on ``dim`` is exactly unit ``u_b``'s field along ``dim``."""
    spatial = len(input_shape) - 2
    axis = 2 + dim
    with torch.no_grad():
        out_size = model(torch.ones(input_shape, dtype=torch.float64)).shape[axis]
    hulls = []
    for first in range(0, out_size, chunk):
        units = range(first, min(out_size, first + chunk))
        x = torch.ones((len(units),) + tuple(input_shape[1:]), dtype=torch.float64, requires_grad=True)
        y = model(x)
        seed = torch.zeros_like(y)
        for b, u in enumerate(units):
            seed.select(axis, u)[b] = 1.0
        g, = torch.autograd.grad(y, x, seed)
        other = tuple(a for a in range(1, 2 + spatial) if a != axis)
        reach = g.abs().amax(dim=other) > 1e-9        # (batch, size along dim)
        for b in range(len(units)):
            hits = torch.nonzero(reach[b]).flatten().tolist()
            hulls.append((hits[0], hits[-1]) if hits else None)
    return hulls


def check_field(field: arith.ReceptiveField, truth_per_dim: list, extent, clipped: bool = True):
    """Compare the summary's field with brute force, dimension by dimension.  With ``clipped``,
    only the units whose hull lies a full field width away from both borders count (a border
    hides the padding and clamped reads the field includes)."""
    for j, (truth, n_in) in enumerate(zip(truth_per_dim, extent)):
        margin = max([field.size[j]] + [h[1] - h[0] + 1 for h in truth if h]) if clipped else 0
        inside = [u for u, h in enumerate(truth) if h and h[0] >= margin and h[1] <= n_in - 1 - margin]
        assert inside, f"no interior unit along dim {j}: enlarge the input"
        lo_u, hi_u = inside[0], inside[-1]
        period = field.period[j]
        assert hi_u - lo_u + 1 >= period, f"the interior units do not cover every phase along dim {j}"
        widths = []
        for u in range(lo_u, hi_u + 1):
            predicted = field.hull((u,) * len(extent))[j]
            if truth[u] is None:                          # a unit that reads nothing
                assert predicted is None, (j, u, predicted)
                continue
            if u not in inside:
                continue
            assert predicted == truth[u], (j, u, predicted, truth[u])
            widths.append(truth[u][1] - truth[u][0] + 1)
            if u % period == 0:
                assert (truth[u][0] + truth[u][1] + 1) / 2 == pytest.approx(field.start[j] + u * field.jump[j])
        assert max(widths) == field.size[j], (j, max(widths), field)
        hull0 = field.hull((0,) * len(extent))[j]
        if hull0 is not None:
            assert field.start[j] == (hull0[0] + hull0[1] + 1) / 2


# -- random stacks -------------------------------------------------------------------------------

def _layer(rng: random.Random, n: int, size: int, budget: list):
    """One random layer for an input of ``size`` per spatial dimension: ``(torch layer,
    convscope layer, description)``, or ``None`` when it does not fit.  ``budget[0]`` bounds the
    product of the upsampling factors (it keeps the brute force small)."""
    kind = rng.choice(["conv", "conv", "pool", "tconv", "up", "adapt"])
    tnn = torch.nn
    if kind == "conv":
        k, s, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        p = rng.randint(0, d * (k - 1))
        args = dict(kernel_size=k, stride=s, padding=p, dilation=d, bias=False)
        return getattr(tnn, f"Conv{n}d")(1, 1, **args), getattr(cnn, f"Conv{n}d")(1, 1, **args), ("conv", args)
    if kind == "pool":
        k, s = rng.randint(1, 4), rng.randint(1, 3)
        args = dict(kernel_size=k, stride=s, padding=rng.randint(0, k // 2), ceil_mode=rng.random() < 0.3)
        return (getattr(tnn, f"AvgPool{n}d")(**args, count_include_pad=True), getattr(cnn, f"AvgPool{n}d")(**args),
                ("avgpool", args))
    if kind == "tconv":
        k, s, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        if budget[0] < s:
            return None
        budget[0] //= s
        args = dict(kernel_size=k, stride=s, padding=rng.randint(0, min(2, d * (k - 1))), dilation=d, bias=False)
        return (getattr(tnn, f"ConvTranspose{n}d")(1, 1, **args), getattr(cnn, f"ConvTranspose{n}d")(1, 1, **args),
                ("tconv", args))
    if kind == "up":
        mode = rng.choice(["nearest", "linear"])
        mode = {"linear": ("linear", "bilinear")[n - 1], "nearest": "nearest"}[mode]
        corners = mode != "nearest" and rng.random() < 0.5
        how = rng.choice(["scale2", "scale3", "size"])
        factor = 3 if how == "scale3" else 2
        if budget[0] < factor:
            return None
        budget[0] //= factor
        if corners:      # a size with a small align_corners step (in-1)/(out-1) = 1/factor
            args = dict(size=(factor * (size - 1) + 1,) * n, mode=mode, align_corners=True)
        elif how == "size" and size % 2 == 0:   # a step of 2/3
            args = dict(size=(3 * size // 2,) * n, mode=mode)
        else:
            args = dict(scale_factor=float(factor), mode=mode)
            if mode != "nearest":
                args["align_corners"] = False
        return tnn.Upsample(**args), cnn.Upsample(**args), ("up", args)
    # adaptive average pooling to a size with a small step i/o (so every phase occurs inside)
    options = [(a, b) for a, b in ((1, 2), (2, 3), (3, 4), (3, 5), (5, 7)) if size % b == 0 and size * a // b >= 2]
    if not options:
        return None
    a, b = rng.choice(options)
    out = size * a // b
    return (getattr(tnn, f"AdaptiveAvgPool{n}d")(out), getattr(cnn, f"AdaptiveAvgPool{n}d")(out),
            ("adaptive", out))


def random_stack(seed: int):
    rng = random.Random(seed)
    n = 1 if seed % 3 else 2
    size = 420 if n == 1 else 70
    for _ in range(100):
        budget = [9 if n == 1 else 4]
        torch_layers, ours, specs, current = [], [], [], size
        for _ in range(rng.randint(1, 4)):
            made = _layer(rng, n, current, budget)
            if made is None:
                continue
            t, c, spec = made
            with torch.no_grad():
                try:
                    current = t.double()(torch.ones((1, 1) + (current,) * n, dtype=torch.float64)).shape[-1]
                except RuntimeError:     # too small for this layer
                    break
            torch_layers.append(t), ours.append(c), specs.append(spec)
        else:
            if torch_layers and current >= 3:
                return n, (1, 1) + (size,) * n, _ones(torch.nn.Sequential(*torch_layers)), cnn.Sequential(*ours), specs
    raise AssertionError("no valid stack")


@pytest.mark.parametrize("seed", range(60))
def test_random_stack_field_matches_brute_force(seed):
    n, shape, tmodel, cmodel, specs = random_stack(seed)
    rows = summary(cmodel, shape).rows
    assert rows[-1].output_shape == tuple(tmodel(torch.ones(shape, dtype=torch.float64)).shape), specs
    field = rows[-1].receptive_field
    truth = [true_hulls(tmodel, shape, j) for j in range(n)]
    try:
        check_field(field, truth, shape[2:])
    except AssertionError as error:
        raise AssertionError(f"{specs}: {field}, period {field.period}") from error


# -- the cases the audit reported ----------------------------------------------------------------

@pytest.mark.parametrize("torch_layers, our_layers, length, size, start", [
    ([torch.nn.Upsample(scale_factor=3), torch.nn.Conv1d(1, 1, 3, padding=1, bias=False)],
     [cnn.Upsample(scale_factor=3), cnn.Conv1d(1, 1, 3, padding=1, bias=False)], 32, 2, 0.0),
    ([torch.nn.ConvTranspose1d(1, 1, 3, 3, 1, dilation=2, bias=False), torch.nn.ConvTranspose1d(1, 1, 2, bias=False)],
     [cnn.ConvTranspose1d(1, 1, 3, 3, 1, dilation=2, bias=False), cnn.ConvTranspose1d(1, 1, 2, bias=False)], 40, 2,
     None),
])
def test_fractional_jumps_report_the_widest_phase(torch_layers, our_layers, length, size, start):
    shape = (1, 1, length)
    field = summary(cnn.Sequential(*our_layers), shape).rows[-1].receptive_field
    assert field.size == (size,)
    if start is not None:
        assert field.start == (start,)
    check_field(field, [true_hulls(_ones(torch.nn.Sequential(*torch_layers)), shape, 0)], (length,))


@pytest.mark.parametrize("length, out, windows, size, start", [
    (5, 3, [(0, 1), (1, 3), (3, 4)], 3, 1.0),
    (7, 3, [(0, 2), (2, 4), (4, 6)], 3, 1.5),
    (10, 4, [(0, 2), (2, 4), (5, 7), (7, 9)], 3, 1.5),
])
def test_adaptive_pooling_windows_can_be_one_wider_than_the_ratio(length, out, windows, size, start):
    field = summary(cnn.AdaptiveAvgPool1d(out), (1, 1, length)).rows[0].receptive_field
    assert [(a, b - 1) for a, b in arith.adaptive_windows(length, out)] == windows
    assert [field.hull((u,))[0] for u in range(out)] == windows
    assert field.size == (size,) and field.start == (start,)
    truth = true_hulls(_ones(torch.nn.AdaptiveAvgPool1d(out)), (1, 1, length), 0)
    assert truth == windows


# -- residual sums and concatenations ------------------------------------------------------------

def _block(nn):
    class BasicBlock(nn.Module):
        """torchvision's BasicBlock: the shortcut (downsample) runs after the main path."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.downsample(x))
    return BasicBlock


def _residual(nn):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), _block(nn)(4, 8, 2), nn.Conv2d(8, 8, 3, padding=1))


def _concat(nn, cat):
    class Skip(nn.Module):
        """A U-Net step: a strided path upsampled by a transposed convolution, concatenated with
        the full-resolution path (which is computed last)."""

        def __init__(self):
            super().__init__()
            self.down = nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False)
            self.up = nn.ConvTranspose2d(2, 2, 2, stride=2, bias=False)
            self.skip = nn.Conv2d(1, 2, 1, bias=False)
            self.head = nn.Conv2d(4, 1, 3, padding=1, bias=False)

        def forward(self, x):
            u = self.up(self.down(x))
            return self.head(cat([u, self.skip(x)]))
    return Skip()


def test_residual_sum_takes_the_union_of_its_operands_fields():
    shape = (1, 1, 40, 40)
    rows = summary(_residual(cnn), shape).rows
    by_name = {}
    for r in rows:
        by_name.setdefault(r.name, []).append(r.receptive_field)
    assert by_name["1.downsample.0"][0].size == (3, 3)
    final_relu = by_name["1.relu"][-1]
    assert final_relu.size == (9, 9) and final_relu.jump == (2, 2)
    tmodel = _ones(_residual(torch.nn))
    check_field(final_relu, [true_hulls(tmodel[:2], shape, j) for j in range(2)], shape[2:])
    assert rows[-1].receptive_field.size == (13, 13)                  # later layers inherit the sum's field
    check_field(rows[-1].receptive_field, [true_hulls(tmodel, shape, j) for j in range(2)], shape[2:])


def test_concatenation_takes_the_union_unit_by_unit():
    shape = (1, 1, 32, 32)
    field = summary(_concat(cnn, lambda xs: np.concatenate(xs, axis=1)), shape).rows[-1].receptive_field
    tmodel = _ones(_concat(torch.nn, lambda xs: torch.cat(xs, dim=1)))
    check_field(field, [true_hulls(tmodel, shape, j) for j in range(2)], shape[2:])


def test_union_of_fields_with_different_jumps_is_the_widest():
    a = arith.rf_conv(arith.rf_input(1), (3,), (1,), (1,), (1,))
    b = arith.rf_conv(arith.rf_input(1), (2,), (2,), (0,), (1,))
    assert arith.receptive.rf_union([a, b]) == a
    assert arith.receptive.rf_union([b, arith.rf_global((8,))]).size == (8,)


# -- unbatched input -----------------------------------------------------------------------------

@pytest.mark.parametrize("layer, shape", [
    (cnn.Conv2d(3, 4, 3, stride=2), (3, 32, 32)),
    (cnn.MaxPool2d(3, 2, 1), (3, 16, 16)),
    (cnn.Conv1d(3, 4, 5, dilation=2), (3, 40)),
    (cnn.Sequential(cnn.Conv3d(2, 2, 3, padding=1), cnn.AvgPool3d(2)), (2, 8, 8, 8)),
])
def test_unbatched_input_has_the_layers_spatial_dimensions(layer, shape):
    batched = summary(layer, (1,) + shape).rows
    unbatched = summary(layer, shape).rows
    n = len(shape) - 1
    for b, u in zip(batched, unbatched):
        assert u.output_shape == b.output_shape[1:]
        assert len(u.receptive_field.size) == n and u.receptive_field == b.receptive_field


def test_unbatched_input_in_the_calculator():
    from convscope import calc
    report = calc.shape_report("conv2d", (3, 32, 32), kernel="3", stride="2")
    assert report["receptive_field"] == {"size": [3, 3], "jump": [2, 2], "start": [1.5, 1.5]}
