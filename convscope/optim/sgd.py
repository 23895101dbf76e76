"""Stochastic gradient descent with momentum (``torch.optim.SGD``), PyTorch's update rule (see the package docstring on rounding)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .optimizer import Optimizer, _check_nonnegative, _real, check_implementation_options

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum, Nesterov momentum and weight
    decay (``torch.optim.SGD``), updating each parameter in place in its own dtype.

    For each parameter with a gradient :math:`g_t`, at step :math:`t`:

    .. math::
        g_t &\leftarrow -g_t \quad \text{if maximize} \\
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1} \quad (\lambda = \text{weight\_decay}) \\
        b_t &= \begin{cases} g_t & t = 1 \text{ (the buffer starts as a copy of the gradient)} \\
                             \mu\, b_{t-1} + (1 - \tau)\, g_t & t > 1 \end{cases} \\
        g_t &\leftarrow g_t + \mu\, b_t \ \text{(nesterov)} \quad\text{or}\quad g_t \leftarrow b_t \\
        \theta_t &= \theta_{t-1} - \gamma\, g_t

    with :math:`\mu` = ``momentum`` (the buffer lines are skipped when it is 0), :math:`\tau` =
    ``dampening`` (not applied at the first step) and :math:`\gamma` = ``lr``.

    Args:
        params: parameters or param groups (see :class:`Optimizer`).
        lr (float): learning rate :math:`\gamma \ge 0`. Default: 1e-3.
        momentum (float): momentum factor :math:`\mu \ge 0`. Default: 0.
        dampening (float): dampening :math:`\tau` of the momentum. Default: 0.
        weight_decay (float): L2 penalty :math:`\lambda \ge 0`. Default: 0.
        nesterov (bool): Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize (bool): maximize the objective instead of minimizing it. Default: False.

    State: ``"momentum_buffer"`` per parameter (only when ``momentum != 0``).

    Example:
        >>> import numpy as np
        >>> from convscope.nn import Parameter
        >>> w = Parameter(np.array([1.0, -2.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     w.grad = 2 * w.data          # gradient of sum(w**2)
        ...     opt.step()
        >>> w.data                           # 0.8*w0, then 0.8*w0 - 0.1*(0.9*2*w0 + 2*0.8*w0)
        array([ 0.46, -0.92])
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None) -> None:
        check_implementation_options("SGD", foreach, fused, differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_options(self, options: dict, where: str) -> None:
        _check_nonnegative("SGD", options, "lr", "learning rate", where)
        _check_nonnegative("SGD", options, "momentum", "momentum value", where)
        _check_nonnegative("SGD", options, "weight_decay", "weight_decay value", where)
        dampening = _real("SGD", "dampening", options["dampening"])
        if options["nesterov"] and (float(options["momentum"]) <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum and zero dampening{where} "
                             f"(got momentum={options['momentum']}, dampening={options['dampening']})")

    def step(self, closure: Callable[[], float] | None = None):
        """One SGD step for every parameter whose ``.grad`` is not None; returns ``closure()``."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            nesterov, maximize = bool(group["nesterov"]), bool(group["maximize"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p.data
                grad = self._grad(p)
                if maximize:
                    grad = -grad
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(grad, copy=True)
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * grad
                    grad = grad + momentum * buf if nesterov else buf
                param -= lr * grad
        return loss
