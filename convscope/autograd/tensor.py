"""``Tensor``: a NumPy array that records how it was computed, and reverse-mode differentiation.

Like micrograd, but over arrays: an op builds its output from its inputs' ``data`` and, when
gradients are wanted, attaches a ``Node`` holding the inputs and a ``backward`` function that
maps the output's gradient to one gradient per input (``None`` where an input needs none).
``Tensor.backward`` walks the graph in reverse topological order, summing the gradients that
reach each tensor, and accumulates them into ``.grad`` of the leaves that require them (as
PyTorch does; intermediate tensors keep no ``.grad``).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Callable, Sequence

import numpy as np

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "make_result", "as_data", "any_tensor",
           "unbroadcast"]

_mode = threading.local()


def is_grad_enabled() -> bool:
    """Whether ops record their backward rules (False inside :func:`no_grad`)."""
    return getattr(_mode, "enabled", True)


@contextlib.contextmanager
def _grad_mode(enabled: bool):
    previous = is_grad_enabled()
    _mode.enabled = enabled
    try:
        yield
    finally:
        _mode.enabled = previous


def no_grad():
    """Context manager (and decorator) in which ops record nothing: ``with convscope.no_grad(): ...``."""
    return _grad_mode(False)


def enable_grad():
    """Context manager that turns recording back on inside :func:`no_grad`."""
    return _grad_mode(True)


class Node:
    """How a tensor was made: its inputs and the rule mapping its gradient to theirs."""
    __slots__ = ("inputs", "backward", "op")

    def __init__(self, inputs: tuple, backward: Callable, op: str):
        self.inputs = inputs
        self.backward = backward
        self.op = op


class Tensor:
    """An array with optional gradient tracking (``torch.Tensor``'s core).

    ``Tensor(data, requires_grad=False)`` wraps ``np.asarray(data)``; arithmetic, matrix products,
    reductions, indexing and every function of ``convscope.functional`` accept Tensors and
    return Tensors that remember their backward rule.  ``t.backward()`` fills ``.grad`` (a NumPy
    array, accumulated across calls) of every leaf that ``requires_grad``.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4., 6.])
    """
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.asarray(data, dtype=dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._node: Node | None = None

    # -- array facts
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: None if self._node is None else self._node.op)

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), as ``torch.Tensor.numpy``."""
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = requires_grad
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32 and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.op}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __hash__(self) -> int:
        return id(self)

    # -- differentiation
    def backward(self, gradient=None) -> None:
        """Accumulate ``d(self)/d(leaf) * gradient`` into every leaf's ``.grad``.

        ``gradient`` defaults to 1 for a one-element tensor; otherwise it must have this
        tensor's shape.
        """
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape {self.shape}")
            seed = np.ones_like(self.data)
        else:
            seed = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.data.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"gradient has shape {seed.shape}, expected {self.shape}")

        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:  # iterative post-order DFS: deep graphs must not hit the recursion limit
            tensor, expanded = stack.pop()
            if expanded:
                order.append(tensor)
                continue
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            stack.append((tensor, True))
            if tensor._node is not None:
                for parent in tensor._node.inputs:
                    if isinstance(parent, Tensor) and parent.requires_grad and id(parent) not in seen:
                        stack.append((parent, False))

        grads: dict[int, np.ndarray] = {id(self): seed}
        with np.errstate(all="ignore"):  # PyTorch's backward never warns about inf or NaN
            for tensor in reversed(order):
                grad = grads.pop(id(tensor), None)
                if grad is None:
                    continue
                node = tensor._node
                if node is None:
                    if tensor.requires_grad:
                        tensor.grad = grad.copy() if tensor.grad is None else tensor.grad + grad
                    continue
                for parent, parent_grad in zip(node.inputs, node.backward(grad)):
                    if parent_grad is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                        continue
                    if parent_grad.shape != parent.shape:
                        raise AssertionError(f"internal error: {node.op} produced a gradient of shape "
                                             f"{parent_grad.shape} for an input of shape {parent.shape}")
                    key = id(parent)
                    grads[key] = parent_grad if key not in grads else grads[key] + parent_grad

    def zero_(self) -> "Tensor":
        self.data[...] = 0
        return self


def as_data(value):
    """The array behind a Tensor (anything else unchanged)."""
    return value.data if isinstance(value, Tensor) else value


def any_tensor(*values) -> bool:
    return any(isinstance(v, Tensor) for v in values)


def make_result(data: np.ndarray, inputs: Sequence, backward: Callable, op: str) -> Tensor:
    """Wrap an op's output; record ``backward`` when grad mode is on and some input needs it."""
    out = Tensor(data)
    if is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        out.requires_grad = True
        out._node = Node(tuple(inputs), backward, op)
    return out


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape`` (the adjoint of NumPy broadcasting)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(lead))) if lead > 0 else grad
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad
