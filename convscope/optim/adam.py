"""Adam and AdamW (``torch.optim.Adam``, ``torch.optim.AdamW``), PyTorch's update rule (see the package docstring on rounding)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .optimizer import Optimizer, _check_nonnegative, _real, check_implementation_options

__all__ = ["Adam", "AdamW"]


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start.lerp_(end, weight)`` as PyTorch computes it: ``start + w*(end - start)`` for
    ``|w| < 0.5``, else ``end - (end - start)*(1 - w)``, with ``w`` in the array's dtype."""
    w = start.dtype.type(weight)
    if abs(w) < 0.5:
        start += w * (end - start)
    else:
        np.subtract(end, (end - start) * (start.dtype.type(1) - w), out=start)


class Adam(Optimizer):
    r"""Adam (``torch.optim.Adam``), updating each parameter in place in its own dtype.

    For each parameter with a gradient :math:`g_t`, at step :math:`t = 1, 2, \ldots`:

    .. math::
        g_t &\leftarrow -g_t \quad \text{if maximize} \\
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
            \quad\text{(L2; AdamW instead decays } \theta_{t-1} \leftarrow (1 - \gamma\lambda)\,\theta_{t-1}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \ \text{(amsgrad)} \quad\text{or}\quad \hat v_t = v_t \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}\,
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    :math:`m_0 = v_0 = 0`.  Note where :math:`\epsilon` goes: it is added to the bias-corrected
    root :math:`\sqrt{\hat v_t / (1 - \beta_2^t)}`, not to :math:`\sqrt{\hat v_t}`; the
    amsgrad maximum is taken over the *uncorrected* :math:`v_t`.

    Args:
        params: parameters or param groups (see :class:`Optimizer`).
        lr (float): learning rate :math:`\gamma \ge 0`. Default: 1e-3.
        betas (tuple[float, float]): :math:`(\beta_1, \beta_2)`, each in ``[0, 1)``. Default: (0.9, 0.999).
        eps (float): :math:`\epsilon \ge 0`. Default: 1e-8.
        weight_decay (float): :math:`\lambda \ge 0`. Default: 0.
        amsgrad (bool): use the running maximum of :math:`v_t` (AMSGrad). Default: False.
        maximize (bool): maximize the objective instead of minimizing it. Default: False.
        decoupled_weight_decay (bool): decay the parameter itself, as AdamW. Default: False.

    State per parameter: ``"step"`` (an int), ``"exp_avg"`` (:math:`m`), ``"exp_avg_sq"``
    (:math:`v`) and, with amsgrad, ``"max_exp_avg_sq"``.

    Example:
        >>> import numpy as np
        >>> from convscope.nn import Parameter
        >>> w = Parameter(np.array([1.0, -2.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad = np.array([0.5, -3.0])
        >>> opt.step()                       # the first step moves each weight by ~lr
        >>> np.round(w.data, 6)
        array([ 0.9, -1.9])
    """

    _name = "Adam"

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused=None,
                 decoupled_weight_decay: bool = False) -> None:
        check_implementation_options(self._name, foreach, fused, capturable, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, options: dict, where: str) -> None:
        op = self._name
        _check_nonnegative(op, options, "lr", "learning rate", where)
        _check_nonnegative(op, options, "eps", "epsilon value", where)
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{op}: betas must be a pair (beta1, beta2), got {betas!r}{where}")
        for i, beta in enumerate(betas):
            if not 0.0 <= _real(op, f"betas[{i}]", beta) < 1.0:
                raise ValueError(f"{op}: Invalid beta parameter at index {i}: {beta}{where} (must be in [0, 1))")
        _check_nonnegative(op, options, "weight_decay", "weight_decay value", where)

    def step(self, closure: Callable[[], float] | None = None):
        """One Adam step for every parameter whose ``.grad`` is not None; returns ``closure()``."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, eps = float(group["lr"]), float(group["eps"])
            beta1, beta2 = (float(b) for b in group["betas"])
            weight_decay = float(group["weight_decay"])
            amsgrad, maximize = bool(group["amsgrad"]), bool(group["maximize"])
            decoupled = bool(group["decoupled_weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p.data
                grad = self._grad(p)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(param)
                    state["exp_avg_sq"] = np.zeros_like(param)
                if amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = np.zeros_like(param)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]

                if maximize:
                    grad = -grad
                state["step"] += 1
                step = state["step"]
                if weight_decay != 0:
                    if decoupled:
                        param *= 1 - lr * weight_decay
                    else:
                        grad = grad + weight_decay * param

                _lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                exp_avg_sq += ((1 - beta2) * grad) * grad

                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    denom = np.sqrt(state["max_exp_avg_sq"]) / bias_correction2_sqrt
                else:
                    denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt
                denom += eps
                param += ((-step_size) * exp_avg) / denom
        return loss


class AdamW(Adam):
    r"""AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay.

    Before the Adam update, each parameter is decayed directly,
    :math:`\theta \leftarrow (1 - \gamma\lambda)\,\theta`, instead of adding
    :math:`\lambda\theta` to the gradient, so the decay never enters the moment estimates
    (see :class:`Adam` for the rest of the update).  Default ``weight_decay`` is 1e-2.

    Example:
        >>> import numpy as np
        >>> from convscope.nn import Parameter
        >>> w = Parameter(np.array([1.0]))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = np.array([0.0])         # no gradient signal: only the decay acts
        >>> opt.step()
        >>> w.data                           # 1 * (1 - 0.1*0.5)
        array([0.95])
    """

    _name = "AdamW"

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False, foreach=None,
                 capturable: bool = False, differentiable: bool = False, fused=None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an AdamW always decouples, whatever was saved
            group["decoupled_weight_decay"] = True
