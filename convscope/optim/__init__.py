"""Optimizers and learning-rate schedules with PyTorch's API and exact updates (``torch.optim``).

``SGD``, ``Adam`` and ``AdamW`` update each parameter's NumPy ``.data`` in place from its
``.grad`` (parameters whose ``.grad`` is None are skipped), following PyTorch's single-tensor
code paths operation by operation; ``lr_scheduler`` has ``StepLR`` and ``MultiStepLR``.
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
