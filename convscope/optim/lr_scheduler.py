"""Learning-rate schedules (``torch.optim.lr_scheduler``): ``StepLR`` and ``MultiStepLR``.

A scheduler rewrites ``group["lr"]`` of its optimizer's param groups once per ``step()``
(call it after the optimizer's ``step()``, usually once per epoch).  As in PyTorch, each step
is *chainable*: it multiplies the group's current lr by ``gamma`` when a decay is due, so
other changes to ``group["lr"]`` compose with it; without them the lr after ``epoch`` steps
equals the closed form (up to the rounding of repeated multiplication, which PyTorch shares):

    StepLR:      lr = initial_lr * gamma ** (epoch // step_size)
    MultiStepLR: lr = initial_lr * gamma ** (number of milestones <= epoch)
"""
from __future__ import annotations

import numbers
from bisect import bisect_right
from collections import Counter
from typing import Any, Iterable

from .optimizer import Optimizer, _real

__all__ = ["LRScheduler", "StepLR", "MultiStepLR"]


def _int(op: str, name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{op}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class LRScheduler:
    """Base of the schedulers (``torch.optim.lr_scheduler.LRScheduler``).

    The constructor records ``group["initial_lr"]`` (the lr at construction, unless already
    set) in every group, stores them as ``base_lrs`` and takes the initial step to epoch 0.
    With ``last_epoch >= 0`` (resuming) every group must already have ``"initial_lr"``.
    Subclasses implement ``get_lr()`` (the lrs for the new ``last_epoch``) and
    ``_get_closed_form_lr()``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")
        last_epoch = _int(name, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: param 'initial_lr' is not specified in param_groups[{i}] when "
                                   f"resuming with last_epoch={last_epoch}; load the optimizer's state first")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        """The lrs for epoch ``last_epoch``, computed from the groups' current lrs."""
        raise NotImplementedError

    def _get_closed_form_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write the new lr into every param group."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lrs set by the latest ``step()`` (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (``last_epoch``, ``base_lrs``, the schedule's settings)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class StepLR(LRScheduler):
    r"""Multiply each group's lr by ``gamma`` every ``step_size`` epochs
    (``torch.optim.lr_scheduler.StepLR``):

    .. math:: \text{lr}_{e} = \text{initial\_lr} \cdot \gamma^{\lfloor e / \text{step\_size} \rfloor}

    Args:
        optimizer (Optimizer): the wrapped optimizer.
        step_size (int): period of the decay, in epochs (>= 1).
        gamma (float): multiplicative factor (>= 0). Default: 0.1.
        last_epoch (int): index of the last epoch, -1 to start. Default: -1.

    Example:
        >>> import numpy as np
        >>> from convscope.nn import Parameter
        >>> from convscope.optim import SGD
        >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
        >>> sched = StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(sched.get_last_lr()[0])   # train with this lr, then:
        ...     sched.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = _int("StepLR", "step_size", step_size, 1)
        self.gamma = gamma
        if not 0.0 <= _real("StepLR", "gamma", gamma):
            raise ValueError(f"StepLR: gamma must be >= 0, got {gamma!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Multiply each group's lr by ``gamma`` at each milestone epoch
    (``torch.optim.lr_scheduler.MultiStepLR``):

    .. math:: \text{lr}_{e} = \text{initial\_lr} \cdot \gamma^{\#\{m \in \text{milestones} : m \le e\}}

    A milestone listed ``k`` times decays by :math:`\gamma^k` at once (as PyTorch counts them).

    Args:
        optimizer (Optimizer): the wrapped optimizer.
        milestones (iterable of int): epochs (>= 0) at which to decay, in any order.
        gamma (float): multiplicative factor (>= 0). Default: 0.1.
        last_epoch (int): index of the last epoch, -1 to start. Default: -1.

    Example:
        >>> import numpy as np
        >>> from convscope.nn import Parameter
        >>> from convscope.optim import SGD
        >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
        >>> sched = MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(sched.get_last_lr()[0])
        ...     sched.step()
        >>> lrs
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: milestones must be an iterable of ints, got {milestones!r}") from None
        self.milestones = Counter(_int("MultiStepLR", "each milestone", m, 0) for m in milestones)
        self.gamma = gamma
        if not 0.0 <= _real("MultiStepLR", "gamma", gamma):
            raise ValueError(f"MultiStepLR: gamma must be >= 0, got {gamma!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch not in self.milestones:
            return lrs
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]
