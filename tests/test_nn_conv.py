"""convscope.nn convolution layers against torch.nn: signatures, shapes, init, state_dict, repr, outputs."""
import inspect
import math

import numpy as np
import pytest
import torch

import convscope
from convscope import nn

CASES = [
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3)),
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=4, stride=2, padding=2, padding_mode="circular")),
    ("Conv1d", dict(in_channels=6, out_channels=6, kernel_size=3, padding="same", groups=6, padding_mode="reflect")),
    ("Conv2d", dict(in_channels=3, out_channels=8, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=(4, 3), padding="same", dilation=(1, 2),
                    groups=2, padding_mode="replicate")),
    ("Conv2d", dict(in_channels=4, out_channels=4, kernel_size=3, padding="valid", bias=False,
                    padding_mode="reflect")),
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=3, padding=2, dilation=2, padding_mode="circular")),
    ("Conv3d", dict(in_channels=2, out_channels=3, kernel_size=2, padding=1, padding_mode="replicate", bias=False)),
    ("Conv3d", dict(in_channels=4, out_channels=4, kernel_size=(3, 1, 2), stride=(1, 2, 1), groups=4)),
    ("ConvTranspose1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1)),
    ("ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1,
                             groups=2, dilation=2)),
    ("ConvTranspose2d", dict(in_channels=3, out_channels=2, kernel_size=(4, 3), stride=(2, 3), bias=False)),
    ("ConvTranspose3d", dict(in_channels=2, out_channels=4, kernel_size=2, stride=2)),
]


def _pair(name, kwargs, dtype=np.float64):
    theirs = getattr(torch.nn, name)(**kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = getattr(nn, name)(**kwargs, dtype=dtype)
    return ours, theirs


def _input(name, channels, rng, batch=(2,), dtype=np.float64):
    n = int(name[-2])
    return rng.standard_normal(batch + (channels,) + (7, 6, 5)[:n]).astype(dtype)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_repr_shapes_and_keys_match_torch(name, kwargs):
    ours, theirs = _pair(name, kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert ours.state_dict()[key].shape == tuple(value.shape)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                 "transposed", "output_padding", "groups", "padding_mode"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("name, kwargs", CASES)
def test_loaded_torch_weights_give_torch_outputs(name, kwargs, dtype, tol, rng):
    ours, theirs = _pair(name, kwargs, dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for batch in ((2,), ()):
        x = _input(name, kwargs["in_channels"], rng, batch, dtype)
        expected = theirs(torch.from_numpy(x)).detach().numpy()
        got = ours(x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))


def test_state_dict_round_trip_between_models(rng):
    a, b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3)
    b.load_state_dict(a.state_dict())
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(a(x), b(x))


def test_load_state_dict_reports_problems():
    conv = nn.Conv2d(3, 4, 3)
    good = {k: np.zeros(v.shape) for k, v in conv.state_dict().items()}
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "bias"'):
        conv.load_state_dict({"weight": good["weight"]})
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        conv.load_state_dict({**good, "weight": np.zeros((4, 3, 2, 2))})
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "extra"'):
        conv.load_state_dict({**good, "extra": np.zeros(1)})
    result = conv.load_state_dict({"weight": good["weight"], "extra": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert conv.weight.dtype == np.float32 and not conv.weight.data.any()


def test_output_size_argument_of_transposed_layers(rng):
    ours, theirs = _pair("ConvTranspose2d", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 3, 5, 6))
    for size in ((12, 13), (11, 14), [2, 4, 12, 14]):
        expected = theirs(torch.from_numpy(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours(x, output_size=size), expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=r"requested an output size of \(14, 13\)"):
        ours(x, output_size=(14, 13))


@pytest.mark.parametrize("name, kwargs", [c for c in CASES if c[0] in ("Conv2d", "ConvTranspose2d")][:4])
def test_default_init_distribution(name, kwargs):
    convscope.manual_seed(0)
    layer = getattr(nn, name)(**{**kwargs, "bias": True})
    fan_in = layer.weight.shape[1] * math.prod(layer.kernel_size)
    bound = 1 / math.sqrt(fan_in)
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound
    # Many draws: uniform on (-bound, bound) has variance bound^2 / 3.
    convscope.manual_seed(1)
    big = getattr(nn, name)(**{**kwargs, "in_channels": 64, "out_channels": 64, "groups": 1})
    fan_in = big.weight.shape[1] * math.prod(big.kernel_size)
    w = big.weight.data
    assert abs(w.var() - 1 / (3 * fan_in)) < 0.05 / (3 * fan_in)
    assert abs(w.mean()) < 0.05 / math.sqrt(fan_in)
    assert np.abs(w).max() <= 1 / math.sqrt(fan_in)


def test_seed_makes_init_reproducible():
    convscope.manual_seed(7)
    a = nn.Conv2d(3, 8, 3)
    convscope.manual_seed(7)
    b = nn.Conv2d(3, 8, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Conv2d(3, 8, 3).weight.data)


def test_module_protocol():
    conv = nn.Conv2d(4, 8, 3, bias=False)
    assert [name for name, _ in conv.named_parameters()] == ["weight"]
    assert conv.bias is None
    assert sum(p.numel() for p in conv.parameters()) == 8 * 4 * 9
    assert np.asarray(conv.weight) is conv.weight.data
    conv.double()
    assert conv.weight.dtype == np.float64
    assert conv.eval().training is False and conv.train().training is True
    with pytest.raises(TypeError, match="cannot assign"):
        conv.weight = np.zeros(3)


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError, "groups must be a positive integer"),
    (lambda: nn.Conv2d(3, 4, 3, padding="same", stride=2), ValueError, "padding='same' is not supported"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError, "invalid padding string 'full'"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="foo"), ValueError, "padding_mode must be one of"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), ValueError, 'only "zeros" padding mode'),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), ValueError, "padding must be an int or a tuple"),
    (lambda: nn.Conv2d(3, 4, 0), ValueError, "kernel_size must be positive"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(3, 4, 3, dtype=np.int32), TypeError, "dtype must be float32 or float64"),
    (lambda: nn.Conv2d(3.0, 4, 3), TypeError, "in_channels must be an int"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, "negative padding"),
])
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_forward_rejects_mismatched_input_dtype():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(TypeError, match="input has dtype float64 but weight has dtype float32"):
        conv(np.zeros((1, 3, 5, 5)))


def test_lazy_layers_load_a_state_dict_before_their_first_call():
    """A lazy layer takes in_channels from the loaded weight (groups included) and then computes
    what the eager torch model computes."""
    torch_model = torch.nn.Sequential(torch.nn.Conv2d(6, 8, 3, groups=2), torch.nn.ReLU(),
                                      torch.nn.ConvTranspose2d(8, 4, 2, stride=2, groups=2))
    model = nn.Sequential(nn.LazyConv2d(8, 3, groups=2), nn.ReLU(), nn.LazyConvTranspose2d(4, 2, stride=2, groups=2))
    model.load_state_dict({k: v.detach().numpy() for k, v in torch_model.state_dict().items()})
    assert type(model[0]) is nn.Conv2d and model[0].in_channels == 6 and model[0].weight.shape == (8, 3, 3, 3)
    assert type(model[2]) is nn.ConvTranspose2d and model[2].in_channels == 8
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(model(x), torch_model(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


LAZY_NAMES = [f"Lazy{kind}{n}d" for kind in ("Conv", "ConvTranspose") for n in (1, 2, 3)]


@pytest.mark.parametrize("name", LAZY_NAMES)
def test_lazy_layers_have_torch_signatures(name):
    def names_and_defaults(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]
    assert names_and_defaults(getattr(nn, name)) == names_and_defaults(getattr(torch.nn, name))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", LAZY_NAMES)
def test_lazy_parameters_exist_before_the_first_call(name, bias):
    """As torch's ``UninitializedParameter``: registered before the first call (``state_dict`` keys,
    ``parameters()``), materialized in place, so an optimizer built before that call trains them."""
    n = int(name[-2])
    layer, torch_layer = getattr(nn, name)(4, 2, bias=bias), getattr(torch.nn, name)(4, 2, bias=bias)
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    assert repr(layer) == repr(torch_layer)
    params = list(layer.parameters())
    assert len(params) == (2 if bias else 1) and all(isinstance(p, nn.UninitializedParameter) for p in params)
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        params[0].shape
    optimizer = convscope.optim.SGD(layer.parameters(), lr=0.5)
    x = np.random.default_rng(n).standard_normal((2, 3) + (4,) * n).astype(np.float32)
    layer(convscope.Tensor(x)).sum().backward()
    before = [p.data.copy() for p in params]
    optimizer.step()
    assert [p is q for p, q in zip(params, layer.parameters())] == [True] * len(params)
    assert type(params[0]) is nn.Parameter and params[0].shape == layer.weight.shape
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.data, old - 0.5 * p.grad)
        assert np.abs(p.grad).max() > 0


def test_lazy_layer_draws_what_the_eager_layer_draws():
    """Nothing is drawn at construction: seeded, the lazy layer's first call initializes exactly as
    the eager layer's constructor does."""
    x = np.zeros((1, 3, 6, 6), np.float32)
    convscope.manual_seed(7)
    lazy = nn.LazyConv2d(5, 3, padding=1)
    lazy(x)
    convscope.manual_seed(7)
    eager = nn.Conv2d(3, 5, 3, padding=1)
    np.testing.assert_array_equal(lazy.weight.data, eager.weight.data)
    np.testing.assert_array_equal(lazy.bias.data, eager.bias.data)


def test_lazy_layer_keeps_the_dtype_it_is_cast_to():
    layer = nn.LazyConvTranspose2d(3, 2, stride=2).double()
    out = layer(np.zeros((1, 4, 3, 3)))
    assert out.dtype == layer.weight.dtype == layer.bias.dtype == np.float64
