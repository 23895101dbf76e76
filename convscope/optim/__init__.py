"""Optimizers and learning-rate schedules with PyTorch's API and update rules (``torch.optim``).

``SGD``, ``Adam`` and ``AdamW`` update each parameter's NumPy ``.data`` in place from its
``.grad`` (parameters whose ``.grad`` is None are skipped), following PyTorch's single-tensor
code paths operation by operation; ``lr_scheduler`` has ``StepLR`` and ``MultiStepLR``.
In float64 the trajectories agree with PyTorch's to about 1e-12; in float32 a step can differ in
the last bit, since PyTorch's kernels fuse ``a + alpha * b`` into one rounding and NumPy rounds twice.
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
