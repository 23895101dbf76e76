"""NaN and inf propagate silently, as in PyTorch: no NumPy RuntimeWarning from any layer op, and the
same positions end up NaN or infinite as in torch."""
import warnings

import numpy as np
import pytest
import torch

import convscope
import convscope.functional as F

TF = torch.nn.functional


def _special_input(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=max(3, flat.size // 40), replace=False)
    flat[picks] = rng.choice([np.inf, -np.inf, np.nan], size=picks.size)
    return x


CASES = [
    ("conv2d grid", lambda m, x, w: m.conv2d(x, w, padding=1), (2, 3, 40, 40), (4, 3, 3, 3)),
    ("conv2d im2col", lambda m, x, w: m.conv2d(x, w, padding=1), (2, 3, 6, 6), (4, 3, 3, 3)),
    ("conv2d strided", lambda m, x, w: m.conv2d(x, w, stride=2, padding=1), (1, 3, 60, 60), (4, 3, 3, 3)),
    ("conv_transpose2d", lambda m, x, w: m.conv_transpose2d(x, w, stride=2, padding=1), (1, 3, 30, 30),
     (3, 4, 4, 4)),
    ("conv1d", lambda m, x, w: m.conv1d(x, w, padding=2, dilation=2), (2, 3, 700), (4, 3, 3)),
    ("avg_pool2d", lambda m, x, w: m.avg_pool2d(x, 3, 2, 1), (2, 3, 11, 11), None),
    ("adaptive_avg_pool2d", lambda m, x, w: m.adaptive_avg_pool2d(x, (3, 5)), (2, 3, 11, 11), None),
    ("bilinear", lambda m, x, w: m.interpolate(x, scale_factor=1.5, mode="bilinear"), (2, 3, 9, 9), None),
    ("bicubic", lambda m, x, w: m.interpolate(x, scale_factor=1.7, mode="bicubic"), (2, 3, 9, 9), None),
    ("bicubic antialias", lambda m, x, w: m.interpolate(x, size=(4, 5), mode="bicubic", antialias=True),
     (2, 3, 9, 9), None),
    ("bilinear antialias", lambda m, x, w: m.interpolate(x, size=(3, 7), mode="bilinear", antialias=True,
                                                         align_corners=True), (2, 3, 10, 9), None),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name,call,x_shape,w_shape", CASES, ids=[c[0] for c in CASES])
def test_no_warnings_and_torch_pattern(name, call, x_shape, w_shape, seed):
    x = _special_input(x_shape, seed=len(name) + 100 * seed)
    w = None if w_shape is None else np.random.default_rng(1).standard_normal(w_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = call(F, x, w)
    ref = call(TF, torch.from_numpy(x), None if w is None else torch.from_numpy(w)).numpy()
    assert np.isnan(ref).any() or np.isinf(ref).any(), "the case must exercise NaN or inf"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-10, atol=1e-10)


def test_backward_through_inf_is_silent():
    """The layer ops' backward rules too (the elementwise Tensor arithmetic follows NumPy's rules)."""
    x = convscope.Tensor(_special_input((1, 2, 30, 30), seed=3), requires_grad=True)
    w = convscope.Tensor(np.random.default_rng(2).standard_normal((3, 2, 3, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.avg_pool2d(F.conv2d(x, w, padding=1), 2)
        out.backward(np.ones(out.shape))
    assert x.grad is not None and w.grad is not None
