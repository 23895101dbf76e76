"""Differentiable primitives on Tensors, each forward next to its backward rule.

Every function takes Tensors (or arrays / Python numbers, treated as constants) and returns a
Tensor.  Derived operations reuse primitives (``a - b`` is ``a + (-b)`` in spirit; here each
has a short rule of its own for speed), and the convolution, pooling and resizing rules live
next to their NumPy kernels in ``convscope.ops`` (wired up by ``convscope.functional``).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..ops._arrays import silent_float_errors
from .tensor import Tensor, as_data, is_grad_enabled, make_result, unbroadcast

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "exp", "log", "sqrt", "abs", "sign",
           "sum", "mean", "var", "max", "min", "clone", "expand", "repeat", "t", "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze",
           "getitem", "cat", "stack", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "take_along_dim", "where", "clamp", "hardtanh", "tensor", "zeros", "ones", "randn"]

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _t(value, like: np.ndarray | None = None) -> np.ndarray:
    data = as_data(value)
    if isinstance(data, np.ndarray):
        return data
    return np.asarray(data, dtype=like.dtype if like is not None and isinstance(data, (int, float)) else None)


def _binary_operands(a, b):
    x = _t(a)
    y = _t(b, x) if not isinstance(b, Tensor) else b.data
    if not isinstance(a, Tensor) and isinstance(a, (int, float)):
        x = np.asarray(a, dtype=y.dtype)
    return x, y


# -- arithmetic --------------------------------------------------------------------------------

def add(a, b) -> Tensor:
    x, y = _binary_operands(a, b)
    return make_result(x + y, (a, b), lambda g: (unbroadcast(g, x.shape), unbroadcast(g, y.shape)), "AddBackward")


def sub(a, b) -> Tensor:
    x, y = _binary_operands(a, b)
    return make_result(x - y, (a, b), lambda g: (unbroadcast(g, x.shape), unbroadcast(-g, y.shape)), "SubBackward")


def mul(a, b) -> Tensor:
    x, y = _binary_operands(a, b)
    return make_result(x * y, (a, b), lambda g: (unbroadcast(g * y, x.shape), unbroadcast(g * x, y.shape)),
                       "MulBackward")


def div(a, b) -> Tensor:
    x, y = _binary_operands(a, b)
    out = x / y
    return make_result(out, (a, b), lambda g: (unbroadcast(g / y, x.shape), unbroadcast(-g * out / y, y.shape)),
                       "DivBackward")


def neg(a) -> Tensor:
    return make_result(-_t(a), (a,), lambda g: (-g,), "NegBackward")


def pow(a, exponent) -> Tensor:
    """``a ** exponent`` for a Tensor base and a number or Tensor exponent."""
    x, e = _binary_operands(a, exponent)
    out = np.power(x, e)

    def backward(g):
        ga = unbroadcast(g * e * np.power(x, e - 1), x.shape) if isinstance(a, Tensor) else None
        ge = None
        if isinstance(exponent, Tensor):
            with np.errstate(divide="ignore", invalid="ignore"):
                ge = unbroadcast(g * out * np.where(x > 0, np.log(np.where(x > 0, x, 1)), 0), e.shape)
        return ga, ge
    return make_result(out, (a, exponent), backward, "PowBackward")


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's broadcasting rules (1-d operands promoted and squeezed back)."""
    x, y = _t(a), _t(b)
    out = np.matmul(x, y)

    def backward(g):
        xx = x[None, :] if x.ndim == 1 else x
        yy = y[:, None] if y.ndim == 1 else y
        full = np.broadcast_shapes(xx.shape[:-2], yy.shape[:-2]) + (xx.shape[-2], yy.shape[-1])
        gg = g.reshape(full)  # restore the dimensions a 1-d operand dropped
        gx = np.matmul(gg, np.swapaxes(yy, -1, -2))
        gy = np.matmul(np.swapaxes(xx, -1, -2), gg)
        gx = unbroadcast(gx, xx.shape).reshape(x.shape)
        gy = unbroadcast(gy, yy.shape).reshape(y.shape)
        return gx, gy
    return make_result(out, (a, b), backward, "MmBackward")


def exp(a) -> Tensor:
    out = np.exp(_t(a))
    return make_result(out, (a,), lambda g: (g * out,), "ExpBackward")


def log(a) -> Tensor:
    x = _t(a)
    return make_result(np.log(x), (a,), lambda g: (g / x,), "LogBackward")


def sqrt(a) -> Tensor:
    out = np.sqrt(_t(a))
    return make_result(out, (a,), lambda g: (g / (2 * out),), "SqrtBackward")


def _torch_sign(x: np.ndarray) -> np.ndarray:
    """-1, 0 or 1, and 0 for NaN as ``torch.sign`` (NumPy's sign is NaN there)."""
    return np.where(np.isnan(x), x.dtype.type(0), np.sign(x)) if x.dtype.kind == "f" else np.sign(x)


def abs(a) -> Tensor:
    x = _t(a)
    return make_result(np.abs(x), (a,), lambda g: (g * _torch_sign(x),), "AbsBackward")


def sign(a) -> Tensor:
    x = _t(a)
    return make_result(_torch_sign(x), (a,), lambda g: (np.zeros_like(x),), "SignBackward")


def _gradient_where(keep: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g`` where ``keep``, else +0.0, bit for bit as PyTorch's selecting backward (a NaN or inf
    gradient stops where the mask is False; a kept -0.0 stays -0.0).

    The gradient's bits ANDed with a mask of all ones or all zeros: on an unpredictable mask (a
    ReLU's) NumPy's selects and masked copies take about 4 ns an element, a multiply by the mask
    (which then needs ``inf * 0`` repaired) 0.6, the AND 0.4 (128x16x28x28 float32: 1.02 -> 0.63 ms)."""
    shape = np.broadcast_shapes(np.shape(keep), np.shape(g))
    bits = np.dtype(f"u{g.itemsize}")
    mask = np.broadcast_to(keep, shape).astype(bits)
    np.negative(mask, out=mask)  # unsigned: 1 -> all ones, 0 -> 0
    return np.bitwise_and(np.broadcast_to(g, shape).view(bits), mask, out=mask).view(g.dtype)


def clamp(a, min=None, max=None) -> Tensor:
    x = _t(a)
    out = np.clip(x, min, max)
    inside = np.ones(x.shape, dtype=bool)
    if min is not None:
        inside &= x >= min
    if max is not None:
        inside &= x <= max
    return make_result(out, (a,), lambda g: (_gradient_where(inside, g),), "ClampBackward")


def hardtanh(a, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Clamp with PyTorch's ``hardtanh`` gradient: 1 strictly inside ``(min_val, max_val)``, else 0
    (``clamp`` passes the gradient at the bounds too)."""
    x = _t(a)
    # NaN gets 0, as PyTorch's vectorized kernel (its scalar tail loop would pass the gradient)
    inside = (x > min_val) & (x < max_val)
    return make_result(np.clip(x, min_val, max_val), (a,), lambda g: (_gradient_where(inside, g),),
                       "HardtanhBackward")


def where(condition, a, b) -> Tensor:
    c = np.asarray(as_data(condition), dtype=bool)
    x, y = _binary_operands(a, b)
    out = np.where(c, x, y)
    return make_result(out, (a, b), lambda g: (unbroadcast(np.where(c, g, 0), x.shape),
                                               unbroadcast(np.where(c, 0, g), y.shape)), "WhereBackward")


# -- reductions -------------------------------------------------------------------------------

def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return tuple(d % ndim for d in dims)


def _expand_back(g, shape, axes, keepdim):
    if not keepdim:
        for axis in sorted(axes):
            g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def sum(a, dim=None, keepdim: bool = False) -> Tensor:
    x = _t(a)
    axes = _axes(dim, x.ndim)
    out = x.sum(axis=axes, keepdims=keepdim)
    return make_result(np.asarray(out), (a,), lambda g: (_expand_back(g, x.shape, axes, keepdim).copy(),),
                       "SumBackward")


def mean(a, dim=None, keepdim: bool = False) -> Tensor:
    x = _t(a)
    axes = _axes(dim, x.ndim)
    count = int(np.prod([x.shape[i] for i in axes])) if axes else 1
    out = x.mean(axis=axes, keepdims=keepdim)
    return make_result(np.asarray(out), (a,),
                       lambda g: ((_expand_back(g, x.shape, axes, keepdim) / x.dtype.type(count)).astype(x.dtype),),
                       "MeanBackward")


def var(a, dim=None, unbiased: bool = True, keepdim: bool = False) -> Tensor:
    x = _t(a)
    axes = _axes(dim, x.ndim)
    count = int(np.prod([x.shape[i] for i in axes]))
    centred = x - x.mean(axis=axes, keepdims=True)
    denominator = count - 1 if unbiased else count
    out = (centred ** 2).sum(axis=axes, keepdims=keepdim) / denominator
    return make_result(np.asarray(out), (a,),
                       lambda g: (_expand_back(g, x.shape, axes, keepdim) * 2 * centred / denominator,), "VarBackward")


def _extreme(a, dim, keepdim: bool, largest: bool):
    """:func:`max` / :func:`min`: the whole tensor's extreme (gradient shared evenly among ties), or
    with ``dim`` a ``(values, indices)`` pair whose gradient flows to the first extreme."""
    x = _t(a)
    op = "MaxBackward" if largest else "MinBackward"
    if dim is None:
        out = x.max() if largest else x.min()
        hit = x == out
        return make_result(np.asarray(out), (a,), lambda g: (hit * (g / hit.sum()),), op)
    axis = dim % x.ndim
    idx = np.argmax(x, axis=axis) if largest else np.argmin(x, axis=axis)
    values = np.take_along_axis(x, np.expand_dims(idx, axis), axis)

    def backward(g):
        grad = np.zeros_like(x)
        np.put_along_axis(grad, np.expand_dims(idx, axis), g if keepdim else np.expand_dims(g, axis), axis)
        return (grad,)
    out_values = values if keepdim else np.squeeze(values, axis)
    return MaxResult(make_result(out_values, (a,), backward, op),
                     Tensor(idx if not keepdim else np.expand_dims(idx, axis)))


def max(a, dim=None, keepdim: bool = False):
    """Largest element (gradient shared evenly among ties), or with ``dim`` a ``(values, indices)``
    pair whose gradient flows to the first maximum, as ``torch.max``."""
    return _extreme(a, dim, keepdim, largest=True)


def min(a, dim=None, keepdim: bool = False):
    """Smallest element, or with ``dim`` ``(values, indices)``, as ``torch.min`` (see :func:`max`)."""
    return _extreme(a, dim, keepdim, largest=False)


# -- shape ------------------------------------------------------------------------------------

def reshape(a, *shape) -> Tensor:
    x = _t(a)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return make_result(x.reshape(shape), (a,), lambda g: (g.reshape(x.shape),), "ViewBackward")


def flatten(a, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    x = _t(a)
    rank = x.ndim or 1  # a 0-d input flattens as if it were 1-d, as in PyTorch (max is the op here)
    for name, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
        if not -rank <= dim < rank:
            raise IndexError(f"flatten: {name}={dim} is out of range for a {x.ndim}-d input "
                             f"(expected in [{-rank}, {rank - 1}])")
    start, end = start_dim % rank, end_dim % rank
    if start > end:
        raise ValueError(f"flatten: start_dim={start_dim} comes after end_dim={end_dim} for a {x.ndim}-d input")
    if x.ndim == 0:
        return reshape(a, (1,))
    shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    return reshape(a, shape)


def clone(a) -> Tensor:
    """A copy that stays in the graph (``torch.clone``)."""
    return make_result(_t(a).copy(), (a,), lambda g: (g,), "CloneBackward")


def _sizes(sizes) -> tuple[int, ...]:
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)


def expand(a, *sizes) -> Tensor:
    """A broadcast view to ``sizes`` (-1 keeps a dimension; new dimensions lead), as ``Tensor.expand``;
    the gradient sums over the broadcast dimensions."""
    x = _t(a)
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's dimensions "
                         f"({x.ndim})")
    shape = tuple(x.shape[i - lead] if size == -1 and i >= lead else size for i, size in enumerate(sizes))
    if any(size < 0 for size in shape) or any(old != 1 and old != new for old, new in zip(x.shape, shape[lead:])):
        raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes}")
    return make_result(np.broadcast_to(x, shape), (a,), lambda g: (unbroadcast(g, x.shape),), "ExpandBackward")


def repeat(a, *repeats) -> Tensor:
    """Tile the tensor ``repeats`` times per dimension (extra repeats add leading dimensions), as
    ``Tensor.repeat``; the gradient sums the tiles."""
    x = _t(a)
    repeats = _sizes(repeats)
    if len(repeats) < x.ndim:
        raise ValueError(f"repeat: the number of repeats ({len(repeats)}) must be at least the tensor's dimensions "
                         f"({x.ndim})")
    base = (1,) * (len(repeats) - x.ndim) + x.shape
    out = np.tile(x.reshape(base), repeats)

    def backward(g):
        tiles = g.reshape(tuple(v for r, b in zip(repeats, base) for v in (r, b)))
        return (tiles.sum(axis=tuple(range(0, 2 * len(base), 2))).reshape(x.shape),)
    return make_result(out, (a,), backward, "RepeatBackward")


def t(a) -> Tensor:
    """The transpose of a matrix (0-d and 1-d tensors unchanged), as ``Tensor.t``."""
    x = _t(a)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dimensions, got {x.ndim}")
    return permute(a, tuple(reversed(range(x.ndim))))


def permute(a, *dims) -> Tensor:
    x = _t(a)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    dims = tuple(d % x.ndim for d in dims)
    inverse = np.argsort(dims)
    return make_result(x.transpose(dims), (a,), lambda g: (g.transpose(inverse),), "PermuteBackward")


def transpose(a, dim0: int, dim1: int) -> Tensor:
    x = _t(a)
    dims = list(range(x.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(a, dims)


def squeeze(a, dim=None) -> Tensor:
    x = _t(a)
    if dim is None:
        return reshape(a, tuple(s for s in x.shape if s != 1))
    if x.shape[dim] != 1:
        return reshape(a, x.shape)
    return reshape(a, x.shape[:dim % x.ndim] + x.shape[dim % x.ndim + 1:])


def unsqueeze(a, dim: int) -> Tensor:
    x = _t(a)
    dim = dim % (x.ndim + 1)
    return reshape(a, x.shape[:dim] + (1,) + x.shape[dim:])


def getitem(a, index) -> Tensor:
    """Basic and advanced indexing; the gradient is scattered back with ``np.add.at`` (repeated
    indices accumulate)."""
    x = _t(a)
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    out = x[index]

    def backward(g):
        grad = np.zeros_like(x)
        np.add.at(grad, index, g)
        return (grad,)
    return make_result(np.array(out, copy=True), (a,), backward, "IndexBackward")


def take_along_dim(a, indices, dim: int) -> Tensor:
    x = _t(a)
    idx = np.asarray(as_data(indices))
    out = np.take_along_axis(x, idx, dim)

    def backward(g):
        grad = np.zeros_like(x)
        np.add.at(grad, _along_index(idx, dim), g)
        return (grad,)
    return make_result(out, (a,), backward, "GatherBackward")


def _along_index(idx: np.ndarray, dim: int):
    grids = list(np.indices(idx.shape, sparse=True))
    grids[dim % idx.ndim] = idx
    return tuple(grids)


def cat(tensors, dim: int = 0) -> Tensor:
    arrays = [_t(t) for t in tensors]
    out = np.concatenate(arrays, axis=dim)
    bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
    return make_result(out, tuple(tensors), lambda g: tuple(np.split(g, bounds, axis=dim)), "CatBackward")


def stack(tensors, dim: int = 0) -> Tensor:
    arrays = [_t(t) for t in tensors]
    out = np.stack(arrays, axis=dim)
    axis = dim % out.ndim
    return make_result(out, tuple(tensors), lambda g: tuple(np.take(g, i, axis=axis) for i in range(len(arrays))),
                       "StackBackward")


# -- activations --------------------------------------------------------------------------------

def relu(a) -> Tensor:
    x = _t(a)
    # backward selects, as PyTorch's threshold_backward (x <= 0 ? 0 : g): a NaN or inf gradient
    # stops at x <= 0, and a NaN input passes its gradient
    return make_result(np.maximum(x, 0), (a,), lambda g: (_gradient_where(~(x <= 0), g),), "ReluBackward")


def leaky_relu(a, negative_slope: float = 0.01) -> Tensor:
    x = _t(a)
    slope = x.dtype.type(negative_slope)
    out = np.where(x > 0, x, x * slope)
    return make_result(out, (a,), lambda g: (np.where(x > 0, g, g * slope),), "LeakyReluBackward")


def sigmoid(a) -> Tensor:
    x = _t(a)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1 / (1 + np.exp(-x[positive]))
    z = np.exp(x[~positive])
    out[~positive] = z / (1 + z)
    return make_result(out, (a,), lambda g: (g * out * (1 - out),), "SigmoidBackward")


def tanh(a) -> Tensor:
    out = np.tanh(_t(a))
    return make_result(out, (a,), lambda g: (g * (1 - out * out),), "TanhBackward")


def softmax(a, dim: int = -1) -> Tensor:
    x = _t(a)
    z = np.exp(x - x.max(axis=dim, keepdims=True))
    out = z / z.sum(axis=dim, keepdims=True)
    return make_result(out, (a,), lambda g: (out * (g - (g * out).sum(axis=dim, keepdims=True)),), "SoftmaxBackward")


def log_softmax(a, dim: int = -1) -> Tensor:
    x = _t(a)
    shifted = x - x.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return make_result(out, (a,), lambda g: (g - np.exp(out) * g.sum(axis=dim, keepdims=True),),
                       "LogSoftmaxBackward")


# -- constructors -----------------------------------------------------------------------------

def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    return Tensor(np.array(as_data(data), dtype=dtype), requires_grad=requires_grad)


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, requires_grad: bool = False, generator=None) -> Tensor:
    from ..random import default_generator
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    rng = generator or default_generator()
    return Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


# PyTorch's tensor arithmetic never warns (inf - inf is NaN, 1/0 is inf, silently); neither do these.
for _name in __all__:
    globals()[_name] = silent_float_errors(globals()[_name])


# -- Tensor methods and operators ---------------------------------------------------------------

def _bind():
    T = Tensor
    T.__iadd__ = _in_place(add, np.add)
    T.__isub__ = _in_place(sub, np.subtract)
    T.__imul__ = _in_place(mul, np.multiply)
    T.__itruediv__ = _in_place(div, np.true_divide)
    T.__add__ = lambda s, o: add(s, o)
    T.__radd__ = lambda s, o: add(o, s)
    T.__sub__ = lambda s, o: sub(s, o)
    T.__rsub__ = lambda s, o: sub(o, s)
    T.__mul__ = lambda s, o: mul(s, o)
    T.__rmul__ = lambda s, o: mul(o, s)
    T.__truediv__ = lambda s, o: div(s, o)
    T.__rtruediv__ = lambda s, o: div(o, s)
    T.__neg__ = lambda s: neg(s)
    T.__pow__ = lambda s, o: pow(s, o)
    T.__matmul__ = lambda s, o: matmul(s, o)
    T.__rmatmul__ = lambda s, o: matmul(o, s)
    T.__getitem__ = lambda s, i: getitem(s, i)
    for name in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        setattr(T, name, (lambda op: lambda s, o: Tensor(getattr(np.ndarray, op)(s.data, as_data(o))))(name))
    T.__hash__ = lambda s: id(s)
    T.__bool__ = _truth
    T.exp, T.log, T.sqrt, T.abs, T.sign = exp, log, sqrt, abs, sign
    T.sum, T.mean, T.var, T.max, T.min = sum, mean, var, max, min
    T.clone, T.expand, T.repeat, T.t = clone, expand, repeat, t
    T.contiguous = lambda s: s
    T.__rpow__ = lambda s, o: pow(o, s)
    T.reshape = reshape
    T.view = reshape
    T.flatten, T.permute, T.transpose, T.squeeze, T.unsqueeze = flatten, permute, transpose, squeeze, unsqueeze
    T.relu, T.sigmoid, T.tanh = relu, sigmoid, tanh
    T.softmax = lambda s, dim=-1: softmax(s, dim)
    T.log_softmax = lambda s, dim=-1: log_softmax(s, dim)
    T.pow = pow
    T.matmul = matmul
    T.clamp = clamp
    T.argmax = lambda s, dim=None, keepdim=False: Tensor(
        np.argmax(s.data, axis=dim, keepdims=keepdim) if dim is not None else np.argmax(s.data))
    T.T = property(lambda s: permute(s, tuple(reversed(range(s.ndim)))))
    T.float = lambda s: _cast(s, np.float32)
    T.double = lambda s: _cast(s, np.float64)


def _in_place(op, ufunc):
    """``t op= other`` as in PyTorch: in place (other references see the change) where no gradient is
    being recorded for ``t``, an error on a leaf that requires grad, and on the graph's other tensors
    a new tensor (the name is rebound; earlier references keep the old values)."""
    def apply(self: Tensor, other):
        if is_grad_enabled() and self.requires_grad:
            if self._node is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            return op(self, other)
        if is_grad_enabled() and isinstance(other, Tensor) and other.requires_grad:
            return op(self, other)
        result = ufunc(self.data, as_data(other))
        if result.shape != self.data.shape:
            raise RuntimeError(f"output with shape {self.data.shape} doesn't match the broadcast shape "
                               f"{result.shape}")
        if not np.can_cast(result.dtype, self.data.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type "
                               f"{self.data.dtype}")
        np.copyto(self.data, result, casting="same_kind")
        return self
    return apply


def _truth(a: Tensor) -> bool:
    if a.data.size != 1:
        raise RuntimeError(f"Boolean value of Tensor with {a.data.size} values is ambiguous")
    return bool(a.data)


def _cast(a: Tensor, dtype) -> Tensor:
    if a.dtype == dtype:
        return a
    source = a.dtype
    return make_result(a.data.astype(dtype), (a,), lambda g: (g.astype(source),), "ToCopyBackward")


_bind()
