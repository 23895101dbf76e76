"""The Module and Sequential conveniences PyTorch users reach for, checked against torch's own."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from convscope import nn


def _pair():
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.ReLU(), nn.Conv2d(2, 1, 1)))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                 torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(2, 1, 1)))
    return ours, theirs


def test_apply_visits_children_first_then_self():
    ours, theirs = _pair()
    seen_ours, seen_theirs = [], []
    assert ours.apply(lambda m: seen_ours.append(type(m).__name__)) is ours
    theirs.apply(lambda m: seen_theirs.append(type(m).__name__))
    assert seen_ours == seen_theirs


def test_apply_as_a_custom_initialization():
    ours, _ = _pair()

    def init(module):
        if isinstance(module, nn.Conv2d):
            module.weight.data[...] = 0.5
    ours.apply(init)
    assert all((m.weight.data == 0.5).all() for m in ours.modules() if isinstance(m, nn.Conv2d))


def test_requires_grad_freezes_and_unfreezes():
    ours, _ = _pair()
    assert ours.requires_grad_(False) is ours
    assert not any(p.requires_grad for p in ours.parameters())
    ours[0].requires_grad_()
    assert [p.requires_grad for p in ours.parameters()] == [True, True] + [False] * 4


def test_get_submodule_parameter_buffer_by_dotted_path():
    ours, theirs = _pair()
    for path in ["", "0", "2", "2.1"]:
        assert type(ours.get_submodule(path)).__name__ == type(theirs.get_submodule(path)).__name__
    assert ours.get_parameter("2.1.weight") is ours[2][1].weight
    assert ours.get_parameter("2.1.weight").shape == tuple(theirs.get_parameter("2.1.weight").shape)
    np.testing.assert_array_equal(ours.get_buffer("1.running_var"), theirs.get_buffer("1.running_var").numpy())
    names = [name for name, _ in ours.named_buffers()]
    assert names == [name for name, _ in theirs.named_buffers()]
    assert len(list(ours.buffers())) == len(list(theirs.buffers()))
    for bad in ["3", "2.5", "0.weight.x"]:
        with pytest.raises(AttributeError):
            ours.get_submodule(bad)
    with pytest.raises(AttributeError):
        ours.get_parameter("1.running_mean")
    with pytest.raises(AttributeError):
        ours.get_buffer("0.weight")


def test_forward_pre_hook_can_replace_the_input():
    ours, theirs = _pair()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    handle = ours.register_forward_pre_hook(lambda module, args: args[0] * 2)
    theirs.register_forward_pre_hook(lambda module, args: args[0] * 2)
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 5)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)
    handle.remove()
    seen = []
    ours.register_forward_pre_hook(lambda module, args: seen.append(np.shape(args[0])))  # None: keep
    ours(x)
    assert seen == [(1, 1, 5, 5)]


def test_sequential_extend_insert_pop_match_torch():
    ours = nn.Sequential(nn.ReLU(), nn.Tanh())
    theirs = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh())
    ours.extend([nn.Sigmoid(), nn.Identity()])
    theirs.extend([torch.nn.Sigmoid(), torch.nn.Identity()])
    ours.insert(1, nn.ReLU6())
    theirs.insert(1, torch.nn.ReLU6())
    ours.insert(-1, nn.Flatten())
    theirs.insert(-1, torch.nn.Flatten())
    assert repr(ours) == repr(theirs)
    assert type(ours.pop(2)).__name__ == type(theirs.pop(2)).__name__
    assert [name for name, _ in ours.named_children()] == [name for name, _ in theirs.named_children()]
    assert repr(ours) == repr(theirs)
    with pytest.raises(IndexError):
        ours.insert(99, nn.ReLU())


def test_register_module_and_cpu():
    module = nn.Module()
    module.register_module("conv", nn.Conv2d(1, 1, 1))
    assert module.cpu() is module and list(dict(module.named_parameters())) == ["conv.weight", "conv.bias"]


def test_batch_norm_resets_like_torch():
    rng = np.random.default_rng(1)
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    ours(x), theirs(torch.from_numpy(x))
    for reset in ("reset_running_stats", "reset_parameters"):
        ours.weight.data[...] = 2
        with torch.no_grad():
            theirs.weight[...] = 2
        getattr(ours, reset)(), getattr(theirs, reset)()
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[key], value.numpy(), err_msg=f"{reset}: {key}")


def test_a_child_registered_twice_is_one_child():
    """``children()``/``apply`` skip a module already seen (PyTorch's memo): a shared layer is
    initialized once, not once per name."""
    shared, tshared = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    model, tmodel = nn.Sequential(shared, nn.ReLU(), shared), torch.nn.Sequential(tshared, torch.nn.ReLU(), tshared)
    assert [name for name, _ in model.named_children()] == [name for name, _ in tmodel.named_children()]
    calls, tcalls = [], []
    model.apply(lambda m: calls.append(type(m).__name__))
    tmodel.apply(lambda m: tcalls.append(type(m).__name__))
    assert calls == tcalls


def test_sequential_slices_keep_their_names():
    from collections import OrderedDict
    layers = [("a", nn.ReLU), ("b", lambda: nn.Linear(2, 3)), ("c", lambda: nn.Linear(3, 2))]
    tlayers = [("a", torch.nn.ReLU), ("b", lambda: torch.nn.Linear(2, 3)), ("c", lambda: torch.nn.Linear(3, 2))]
    for wrap in (lambda pairs: [make() for _, make in pairs], lambda pairs: [OrderedDict((k, m()) for k, m in pairs)]):
        model, tmodel = nn.Sequential(*wrap(layers)), torch.nn.Sequential(*wrap(tlayers))
        for index in (slice(1, None), slice(None, 2), slice(None, None, 2), slice(2, 1)):
            assert list(model[index].state_dict()) == list(tmodel[index].state_dict())
            assert [n for n, _ in model[index].named_children()] == [n for n, _ in tmodel[index].named_children()]
        assert type(model[1:]) is nn.Sequential


def test_state_dict_without_num_batches_tracked_keeps_the_count():
    bn, tbn = nn.BatchNorm1d(2, momentum=None), torch.nn.BatchNorm1d(2, momentum=None)
    x = np.random.default_rng(0).standard_normal((3, 4, 2)).astype(np.float32)
    for batch in x:
        bn(batch), tbn(torch.from_numpy(batch))
    state = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    result = bn.load_state_dict(state)
    tresult = tbn.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    assert int(bn.num_batches_tracked) == int(tbn.num_batches_tracked) == 3
    assert list(result.missing_keys) == list(tresult.missing_keys) == []


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_batch_norm_bias_keyword(affine, bias):
    """PyTorch 2.13's keyword-only ``bias``: a learned scale without a shift."""
    bn, tbn = nn.BatchNorm2d(3, affine=affine, bias=bias), torch.nn.BatchNorm2d(3, affine=affine, bias=bias)
    assert repr(bn) == repr(tbn)
    assert list(bn.state_dict()) == list(tbn.state_dict())
    if affine:
        tbn.weight.data.uniform_(0.5, 2.0)
    bn.load_state_dict({k: v.numpy() for k, v in tbn.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(bn(x), tbn(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_sequential_setitem_delitem_add_match_torch():
    def build(lib):
        return lib.Sequential(lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 2), lib.Tanh())
    for edit in (lambda s, lib: s.__setitem__(1, lib.Sigmoid()), lambda s, lib: s.__delitem__(1),
                 lambda s, lib: s.__delitem__(slice(0, 2)), lambda s, lib: s.__delitem__(-1)):
        ours, theirs = build(nn), build(torch.nn)
        edit(ours, nn), edit(theirs, torch.nn)
        assert [(n, type(m).__name__) for n, m in ours.named_children()] == \
            [(n, type(m).__name__) for n, m in theirs.named_children()]
    ours, theirs = build(nn) + build(nn), build(torch.nn) + build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_module_to_takes_the_cpu_and_dtypes():
    conv = nn.Conv2d(1, 2, 3)
    assert conv.to("cpu") is conv and conv.weight.dtype == np.float32
    assert conv.to("cpu", np.float64).weight.dtype == np.float64
    assert conv.to(device="cpu", dtype=np.float32).bias.dtype == np.float32
    with pytest.raises(ValueError, match="only the CPU"):
        conv.to("cuda")
