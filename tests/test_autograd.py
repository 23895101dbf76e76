"""Tensor semantics of convscope's autograd: what ``backward`` needs and accumulates, grad modes,
graph cutting, deep graphs, dtypes, and the Tensor/array contract of ``functional`` and ``nn``
(arrays in, arrays out; Tensors in, Tensors out), plus state_dict interoperability with torch."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import convscope
import convscope.functional as CF
import convscope.nn as cnn
from convscope import Tensor


def leaf(shape=(3,), seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# --------------------------------------------------------------------------- backward

def test_backward_on_scalar_without_argument():
    x = leaf((4,))
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=1e-15)
    y = Tensor(np.array([[2.0]]), requires_grad=True)  # any one-element tensor
    (y * 3.0).backward()
    np.testing.assert_array_equal(y.grad, [[3.0]])


def test_backward_on_non_scalar_needs_a_gradient():
    x = leaf((2, 3))
    out = x * 2.0
    with pytest.raises(RuntimeError, match="scalar"):
        out.backward()
    assert x.grad is None
    out.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_backward_gradient_of_wrong_shape_is_rejected():
    x = leaf((2, 3))
    with pytest.raises(ValueError, match="shape"):
        (x * 2.0).backward(np.ones((3, 2)))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        Tensor(np.ones(3)).sum().backward()


def test_backward_accepts_a_tensor_gradient():
    x = leaf((3,))
    (x * 2.0).backward(Tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_grad_accumulates_and_zero_grad_resets():
    x = leaf((3,))
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 3.0 + 2 * x.data, rtol=1e-15)
    # the same graph twice accumulates twice
    out = (x * 2.0).sum()
    x.grad = None
    out.backward()
    out.backward()
    np.testing.assert_array_equal(x.grad, np.full(3, 4.0))
    # Module.zero_grad: set_to_none (default) and zero-filling
    model = cnn.Linear(3, 2, dtype=np.float64)
    for _ in range(2):
        model(Tensor(np.ones((4, 3)))).sum().backward()
    np.testing.assert_allclose(model.bias.grad, np.full(2, 8.0))
    np.testing.assert_allclose(model.weight.grad, np.full((2, 3), 8.0))
    model.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(model.weight.grad, np.zeros((2, 3)))
    np.testing.assert_array_equal(model.bias.grad, np.zeros(2))
    model(Tensor(np.ones((1, 3)))).sum().backward()
    np.testing.assert_allclose(model.bias.grad, np.ones(2))
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None
    model(Tensor(np.ones((1, 3)))).sum().backward()
    np.testing.assert_allclose(model.weight.grad, np.ones((2, 3)))


def test_intermediate_tensors_keep_no_grad():
    x = leaf((3,))
    y = x * 2.0
    (y * y).sum().backward()
    assert y.grad is None
    assert x.grad is not None


def test_tensor_used_twice_gets_the_summed_gradient():
    x = leaf((4,))
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(4, 2.0))
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=1e-15)
    # diamond: two paths from x to the output through a shared intermediate
    x.grad = None
    y = x.exp()
    (y * 2.0 + y.sigmoid() + y[1:].sum()).sum().backward()
    s = 1 / (1 + np.exp(-np.exp(x.data)))
    expected = np.exp(x.data) * (2.0 + s * (1 - s) + np.array([0.0, 4.0, 4.0, 4.0]))  # the scalar is broadcast to 4
    np.testing.assert_allclose(x.grad, expected, rtol=1e-13)
    # in torch too
    xt = torch.tensor(x.data, requires_grad=True)
    yt = xt.exp()
    (yt * 2.0 + yt.sigmoid() + yt[1:].sum()).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-13)


def test_input_used_as_two_operands_of_a_functional_op():
    x = Tensor(np.random.default_rng(1).standard_normal((2, 2, 5)), requires_grad=True)
    w = x[:, :, :3]  # weight (C_out=2, C_in=2, k=3) sliced from the input itself
    out = CF.conv1d(x, w)
    G = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(G)
    xt = torch.tensor(x.data, requires_grad=True)
    torch.nn.functional.conv1d(xt, xt[:, :, :3]).backward(torch.from_numpy(G))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- grad modes and detach

def test_no_grad_records_nothing():
    x = leaf((3,))
    w = Tensor(np.ones((2, 1, 3)), requires_grad=True)
    with convscope.no_grad():
        assert not convscope.is_grad_enabled()
        y = x * 2.0 + 1.0
        z = CF.conv1d(x.reshape(1, 1, 3), w, padding=1)
        p = CF.max_pool1d(z, 2)
    assert convscope.is_grad_enabled()
    for t in (y, z, p):
        assert isinstance(t, Tensor)
        assert not t.requires_grad and t.grad_fn is None and t.is_leaf
    with pytest.raises(RuntimeError):
        y.sum().backward()
    # enable_grad inside no_grad records again
    with convscope.no_grad():
        with convscope.enable_grad():
            u = x * 2.0
        v = x * 2.0
    assert u.requires_grad and not v.requires_grad


def test_no_grad_as_decorator():
    @convscope.no_grad()
    def double(t):
        return t * 2.0

    x = leaf((3,))
    assert not double(x).requires_grad
    assert (x * 2.0).requires_grad


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ZeroDivisionError):
        with convscope.no_grad():
            1 / 0
    assert convscope.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = leaf((3,))
    d = (x * 2.0).detach()
    assert isinstance(d, Tensor) and not d.requires_grad and d.is_leaf
    out = (x * d).sum()  # d is a constant: d(out)/dx = d
    out.backward()
    np.testing.assert_allclose(x.grad, 2.0 * x.data, rtol=1e-15)
    assert d.grad is None
    # detach shares the data, as torch's does
    y = x.detach()
    assert np.shares_memory(y.data, x.data)


def test_result_requires_grad_only_when_an_input_does():
    a = Tensor(np.ones(3))
    b = leaf((3,))
    assert not (a * 2.0).requires_grad
    assert (a * b).requires_grad
    assert (a * b).grad_fn is not None
    (a * b).sum().backward()
    assert a.grad is None
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_deep_chain_does_not_hit_the_recursion_limit():
    depth = 5000
    assert depth > sys.getrecursionlimit()
    x = leaf((2,))
    y = x
    for _ in range(depth):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(2))
    # a long chain of products, and one that fans back into the same leaf at every step
    x2 = Tensor(np.array([1.0]), requires_grad=True)
    z = x2
    for _ in range(depth):
        z = z * 1.0001 + x2 * 0.0
    z.sum().backward()
    np.testing.assert_allclose(x2.grad, [1.0001 ** depth], rtol=1e-9)


# --------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_tensors_cannot_require_grad(dtype):
    with pytest.raises(TypeError):
        Tensor(np.arange(3).astype(dtype), requires_grad=True)
    t = Tensor(np.arange(3).astype(dtype))
    with pytest.raises(TypeError):
        t.requires_grad_()
    assert not t.requires_grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_keep_the_dtype(dtype):
    x = Tensor(np.ones((1, 2, 5), dtype=dtype), requires_grad=True)
    w = Tensor(np.ones((3, 2, 2), dtype=dtype), requires_grad=True)
    out = CF.max_pool1d(CF.conv1d(x, w, padding=1).relu(), 2)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype


# --------------------------------------------------------------------------- arrays in, arrays out

def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


FUNCTIONAL_CALLS = [
    ("conv1d", lambda x: CF.conv1d(x, _x((2, 3, 2))), (1, 3, 6)),
    ("conv2d", lambda x: CF.conv2d(x, _x((2, 3, 2, 2)), _x(2), padding="same"), (1, 3, 5, 5)),
    ("conv3d", lambda x: CF.conv3d(x, _x((2, 3, 1, 2, 2))), (3, 3, 3, 3)),
    ("conv_transpose2d", lambda x: CF.conv_transpose2d(x, _x((3, 2, 2, 2)), stride=2), (1, 3, 3, 3)),
    ("pad", lambda x: CF.pad(x, (1, 2), mode="reflect"), (1, 3, 5)),
    ("unfold", lambda x: CF.unfold(x, 2), (1, 3, 4, 4)),
    ("fold", lambda x: CF.fold(x, (3, 3), 2), (1, 4, 4)),
    ("max_pool2d", lambda x: CF.max_pool2d(x, 2), (1, 3, 4, 4)),
    ("avg_pool1d", lambda x: CF.avg_pool1d(x, 2), (1, 3, 4)),
    ("adaptive_avg_pool2d", lambda x: CF.adaptive_avg_pool2d(x, 3), (1, 3, 4, 4)),
    ("adaptive_max_pool1d", lambda x: CF.adaptive_max_pool1d(x, 3), (1, 3, 4)),
    ("lp_pool2d", lambda x: CF.lp_pool2d(x, 2, 2), (1, 3, 4, 4)),
    ("interpolate", lambda x: CF.interpolate(x, scale_factor=2, mode="bilinear"), (1, 3, 4, 4)),
    ("pixel_shuffle", lambda x: CF.pixel_shuffle(x, 2), (1, 4, 2, 2)),
    ("pixel_unshuffle", lambda x: CF.pixel_unshuffle(x, 2), (1, 1, 4, 4)),
    ("relu", CF.relu, (3, 4)),
    ("leaky_relu", CF.leaky_relu, (3, 4)),
    ("sigmoid", CF.sigmoid, (3, 4)),
    ("tanh", CF.tanh, (3, 4)),
    ("softmax", lambda x: CF.softmax(x, 1), (3, 4)),
    ("log_softmax", lambda x: CF.log_softmax(x, 1), (3, 4)),
    ("dropout", lambda x: CF.dropout(x, 0.5), (3, 4)),
    ("linear", lambda x: CF.linear(x, _x((2, 4)), _x(2)), (3, 4)),
    ("batch_norm", lambda x: CF.batch_norm(x, None, None, training=True), (3, 4)),
    ("cross_entropy", lambda x: CF.cross_entropy(x, np.array([0, 1, 3])), (3, 4)),
    ("nll_loss", lambda x: CF.nll_loss(x, np.array([0, 1, 3]), reduction="none"), (3, 4)),
    ("mse_loss", lambda x: CF.mse_loss(x, np.zeros((3, 4))), (3, 4)),
]


@pytest.mark.parametrize("name,call,shape", FUNCTIONAL_CALLS, ids=[c[0] for c in FUNCTIONAL_CALLS])
def test_functional_on_arrays_returns_arrays_and_on_tensors_returns_tensors(name, call, shape):
    x = _x(shape, seed=3)
    out = call(x)
    assert isinstance(out, np.ndarray) and not isinstance(out, Tensor), f"{name}: {type(out)}"
    t = Tensor(x, requires_grad=True)
    out_t = call(t)
    assert isinstance(out_t, Tensor), f"{name}: {type(out_t)}"
    assert out_t.requires_grad, name
    assert out_t.shape == out.shape, name
    if name != "dropout":  # dropout draws a new mask
        np.testing.assert_allclose(out_t.data, out, rtol=1e-12, atol=1e-12, err_msg=name)
    # a Tensor that needs no gradient gives a Tensor that records nothing
    out_c = call(Tensor(x))
    assert isinstance(out_c, Tensor) and not out_c.requires_grad, name


def test_max_pool_indices_follow_the_input_type():
    x = _x((1, 2, 4, 4))
    v, i = CF.max_pool2d(x, 2, return_indices=True)
    assert type(v) is np.ndarray and type(i) is np.ndarray
    vt, it = CF.max_pool2d(Tensor(x, requires_grad=True), 2, return_indices=True)
    assert isinstance(vt, Tensor) and isinstance(it, Tensor) and not it.requires_grad
    np.testing.assert_array_equal(it.data, i)


MODULES = [
    (lambda: cnn.Conv2d(3, 4, 3, padding=1, dtype=np.float64), (2, 3, 5, 5)),
    (lambda: cnn.Conv1d(3, 2, 2, padding_mode="reflect", padding=1, dtype=np.float64), (2, 3, 5)),
    (lambda: cnn.ConvTranspose2d(3, 2, 2, stride=2, dtype=np.float64), (2, 3, 3, 3)),
    (lambda: cnn.BatchNorm2d(3, dtype=np.float64), (2, 3, 4, 4)),
    (lambda: cnn.BatchNorm1d(3, dtype=np.float64).eval(), (4, 3)),
    (lambda: cnn.Linear(4, 2, dtype=np.float64), (3, 4)),
    (lambda: cnn.MaxPool2d(2), (2, 3, 4, 4)),
    (lambda: cnn.AvgPool2d(2, ceil_mode=True), (2, 3, 5, 5)),
    (lambda: cnn.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 5)),
    (lambda: cnn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 2, 2)),
    (lambda: cnn.PixelShuffle(2), (2, 4, 2, 2)),
    (lambda: cnn.Flatten(), (2, 3, 2)),
    (lambda: cnn.ReLU(), (3, 4)),
    (lambda: cnn.LeakyReLU(0.2), (3, 4)),
    (lambda: cnn.Sigmoid(), (3, 4)),
    (lambda: cnn.Tanh(), (3, 4)),
    (lambda: cnn.Softmax(1), (3, 4)),
    (lambda: cnn.LogSoftmax(1), (3, 4)),
    (lambda: cnn.Dropout(0.3), (3, 4)),
    (lambda: cnn.Identity(), (3, 4)),
    (lambda: cnn.Sequential(cnn.Conv2d(3, 2, 3, dtype=np.float64), cnn.ReLU(), cnn.Flatten(),
                            cnn.Linear(2 * 3 * 3, 2, dtype=np.float64)), (2, 3, 5, 5)),
]


@pytest.mark.parametrize("make,shape", MODULES, ids=lambda v: type(v()).__name__ if callable(v) else str(v))
def test_modules_on_arrays_return_arrays_and_on_tensors_return_tensors(make, shape):
    module = make()
    x = _x(shape, seed=4)
    out = module(x)
    assert isinstance(out, np.ndarray) and not isinstance(out, Tensor), f"{module}: {type(out)}"
    for param in module.parameters():  # the array path records nothing on the parameters
        assert param.grad is None
    xt = Tensor(x, requires_grad=True)
    out_t = module(xt)
    assert isinstance(out_t, Tensor) and out_t.requires_grad, f"{module}: {type(out_t)}"
    assert out_t.shape == out.shape
    out_t.sum().backward()
    assert xt.grad is not None and xt.grad.shape == x.shape
    for name, param in module.named_parameters():
        assert param.grad is not None and param.grad.shape == param.shape, f"{module}: {name}"
    # a constant Tensor input: the graph still reaches the parameters
    params = list(module.parameters())
    if params:
        module.zero_grad()
        out_c = module(Tensor(x))
        assert isinstance(out_c, Tensor) and out_c.requires_grad
        out_c.sum().backward()
        assert all(p.grad is not None for p in params)


def test_parameter_is_a_tensor_requiring_grad():
    p = cnn.Parameter(np.zeros(3))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert not cnn.Parameter(np.zeros(3), requires_grad=False).requires_grad
    q = cnn.Parameter(Tensor(np.ones(2)))
    assert isinstance(q.data, np.ndarray) and not isinstance(q.data, Tensor)
    conv = cnn.Conv2d(2, 3, 3)
    for name, param in conv.named_parameters():
        assert isinstance(param, cnn.Parameter) and isinstance(param, Tensor) and param.requires_grad, name
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(np.asarray(conv.weight), conv.weight.data)


def _bn_model(lib):
    nn = cnn if lib == "ours" else torch.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 5), nn.BatchNorm1d(5))


def test_state_dict_with_batch_norm_has_torch_keys_and_loads_into_torch():
    ours, ref = _bn_model("ours"), _bn_model("torch")
    ours(Tensor(_x((3, 3, 4, 4)).astype(np.float32)))  # a training step moves the running statistics
    state = ours.state_dict()
    assert list(state) == list(ref.state_dict())
    assert "1.num_batches_tracked" in state and "5.num_batches_tracked" in state
    assert int(state["1.num_batches_tracked"]) == 1
    for key, value in ref.state_dict().items():
        assert state[key].shape == tuple(value.shape), key
        assert str(state[key].dtype) == str(value.dtype).replace("torch.", ""), key
    result = ref.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in ref.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key], err_msg=key)
    # and back: torch's state loads into ours, and both models compute the same thing
    ref2 = _bn_model("torch")
    ref2.train()(torch.randn(2, 3, 4, 4))
    ours.load_state_dict({k: v.detach() for k, v in ref2.state_dict().items()})
    ours.eval()
    ref2.eval()
    x = _x((2, 3, 4, 4), seed=5).astype(np.float32)
    np.testing.assert_allclose(ours(x), ref2(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def _tensor_method_cases():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((3, 4))
    a[1, 2] = a[1, 0] = a.min() - 1  # a tie for the minimum
    return [
        ("min", a, lambda x: x.min()),
        ("min dim", a, lambda x: x.min(1)[0] * 2),
        ("min dim keepdim", a, lambda x: x.min(0, keepdim=True)[0]),
        ("max dim", a, lambda x: x.max(-1)[0]),
        ("clone", a, lambda x: x.clone() * 3),
        ("t", a, lambda x: x.t() @ x),
        ("expand", a[:, :1], lambda x: x.expand(2, 3, 5) * 1.5),
        ("expand -1", a[:1], lambda x: x.expand(3, -1)),
        ("repeat", a, lambda x: x.repeat(2, 1, 3)),
        ("contiguous", a, lambda x: x.contiguous() + 1),
        ("rpow", a, lambda x: 2.0 ** x),
    ]


@pytest.mark.parametrize("name,a,fn", _tensor_method_cases(), ids=[c[0] for c in _tensor_method_cases()])
def test_tensor_methods_match_torch(name, a, fn):
    x = convscope.Tensor(a.copy(), requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    out, tout = fn(x), fn(tx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(1).standard_normal(tout.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    if name.startswith("min dim"):
        dim, keep = (1, False) if name == "min dim" else (0, True)
        np.testing.assert_array_equal(x.min(dim, keepdim=keep)[1].data, tx.min(dim, keepdim=keep)[1].numpy())


def test_in_place_operators_follow_torch():
    """``p -= lr * p.grad`` under no_grad updates the parameter itself (a manual SGD step); on a
    leaf that requires grad it is an error; on the graph's tensors the gradient is still right."""
    model = cnn.Linear(3, 2, dtype=np.float64)
    weight = model.weight
    before = weight.data.copy()
    model(Tensor(np.ones((4, 3)))).sum().backward()
    with convscope.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert model.weight is weight
    np.testing.assert_allclose(model.weight.data, before - 0.1 * weight.grad)
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x += 1
    tx = torch.ones(3, dtype=torch.float64, requires_grad=True)
    y, ty = x * x, tx * tx
    y += 1
    ty += 1
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    plain, alias = Tensor(np.ones(2)), None
    alias = plain
    plain += 1
    np.testing.assert_array_equal(alias.data, [2.0, 2.0])
    ints = Tensor(np.ones(2, np.int64))
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints /= 2
