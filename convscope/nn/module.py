"""``Module`` and ``Parameter``: PyTorch's module protocol over NumPy arrays.

A module owns parameters (and buffers) and children; ``state_dict`` keys are PyTorch's
(``"features.0.weight"``), so weights exported from a PyTorch model as a dict of NumPy
arrays load unchanged.  Calling a module on a NumPy array returns a NumPy array.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, NamedTuple

import numpy as np

from ..autograd.tensor import Tensor

__all__ = ["Module", "Parameter", "UninitializedParameter"]


class Parameter(Tensor):
    """A learnable Tensor (``requires_grad=True`` by default) that a ``Module`` registers when it is
    assigned as an attribute.  ``data`` is a NumPy array; ``np.asarray(param)`` gives it."""

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{super().__repr__()}"


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (``torch.nn.UninitializedParameter``): a lazy layer's
    weight before its first call.  It is registered, listed by ``parameters()`` (so an optimizer built
    before that call trains it) and keeps its dtype through ``.to()``; :meth:`materialize` gives it
    a shape and turns this very object into a :class:`Parameter`."""

    def __init__(self, requires_grad: bool = True, dtype=None):
        super().__init__(np.empty(0, dtype=np.float32 if dtype is None else dtype), requires_grad=requires_grad)

    def materialize(self, shape: tuple[int, ...]) -> None:
        """Uninitialized memory of ``shape`` in this parameter's dtype; the object becomes a Parameter."""
        self.data = np.empty(tuple(shape), dtype=self.data.dtype)
        self.__class__ = Parameter

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter: call the lazy module once "
                           "(or load a state dict into it) to initialize its parameters")

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""
    _next_id = 0

    def __init__(self, hooks: OrderedDict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _resolve_dtype(dtype) -> np.dtype:
    resolved = np.dtype(np.float32 if dtype is None else dtype)
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


class Module:
    """Base class of every layer and model (``torch.nn.Module``).

    Subclasses call ``super().__init__()``, assign :class:`Parameter` and ``Module`` attributes
    (registered automatically), and define ``forward``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # -- attribute registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign attributes before Module.__init__() call")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(convscope.nn.Parameter or None expected)")
            params[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else np.asarray(value)
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r}")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, value) -> None:
        self.__dict__.pop(name, None)
        self._buffers[name] = None if value is None else np.asarray(value)

    def register_module(self, name: str, module: "Module | None") -> None:
        self.add_module(name, module)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    # -- calling
    @staticmethod
    def _p(param: "Parameter | None", input):
        """A parameter as an op argument: the Parameter itself for Tensor input (so gradients
        reach it), its array for array input (a plain NumPy computation)."""
        if param is None or isinstance(input, Tensor):
            return param
        return param.data

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    def register_forward_pre_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(module, inputs)`` before every forward; a non-None return replaces the inputs
        (a tuple, or a single input)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return replaces the output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct submodules, each once (a module registered under two names appears under the first)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> "Module":
        """The submodule at the dotted path ``target`` (``""`` is the module itself)."""
        module = self
        for name in target.split(".") if target else []:
            child = module._modules.get(name)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {name!r} (path {target!r})")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if module._parameters.get(name) is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} (path {target!r})")
        return module._parameters[name]

    def get_buffer(self, target: str) -> np.ndarray:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if module._buffers.get(name) is None:
            raise AttributeError(f"{type(module).__name__} has no buffer {name!r} (path {target!r})")
        return module._buffers[name]

    def apply(self, fn) -> "Module":
        """Call ``fn`` on every submodule (children first) and then on this module, as PyTorch does
        (e.g. a custom weight initialization)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, np.ndarray]]:
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), buf

    # -- modes, gradients, dtype
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Switch gradient recording for every parameter (e.g. to freeze layers)."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def cpu(self) -> "Module":
        """A no-op: convscope runs on the CPU."""
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad[...] = 0

    def to(self, *args, **kwargs) -> "Module":
        """Cast every floating-point parameter and buffer to ``dtype`` (float32 or float64), as
        ``module.to(dtype)``; ``module.to("cpu")`` / ``.to(device, dtype)`` take the CPU, the only device."""
        dtype, devices = kwargs.pop("dtype", None), [kwargs.pop("device", None)]
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, str) or type(arg).__name__ == "device":
                devices.append(arg)
            else:
                dtype = arg
        for device in devices:
            if device is not None and str(device) not in ("cpu", "cpu:0"):
                raise ValueError(f"to(): only the CPU is available, got device {device!r}")
        if dtype is None:
            return self
        dtype = _resolve_dtype(dtype)
        for module in self.modules():
            for param in module._parameters.values():
                if param is not None:
                    param.data = param.data.astype(dtype)
                    param.grad = None if param.grad is None else param.grad.astype(dtype)
            for name, buf in module._buffers.items():
                if buf is not None and buf.dtype.kind == "f":
                    module._buffers[name] = buf.astype(dtype)
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # -- state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters and buffers by PyTorch's dotted names, as NumPy arrays (not copies)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        self._save_state(state, "")
        return state

    def _save_state(self, state: OrderedDict, dot: str) -> None:
        # every path to a module (one used twice appears under both names), as PyTorch's state_dict
        for name, param in self._parameters.items():
            if param is not None:
                state[dot + name] = param.data
        for name, buf in self._buffers.items():
            if buf is not None:
                state[dot + name] = buf
        for name, module in self._modules.items():
            if module is not None:
                module._save_state(state, f"{dot}{name}.")

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (anything ``np.asarray`` takes, e.g. NumPy arrays or torch CPU tensors) into
        the parameters and buffers of the same names, keeping their dtypes.

        Raises ``RuntimeError`` listing every problem (shape mismatches always; missing and
        unexpected keys when ``strict``) before changing anything, except that a lazy layer not
        called yet first takes its shapes from the loaded weight (as PyTorch's lazy modules do).
        """
        for prefix, module in self.named_modules():  # lazy layers take their shapes from the weights
            key = f"{prefix}.weight" if prefix else "weight"
            if isinstance(getattr(module, "weight", None), UninitializedParameter) and key in state_dict:
                module.materialize_from_weight(np.shape(state_dict[key]))
        own = self.state_dict()
        # a checkpoint from before BatchNorm counted its batches (no version metadata): PyTorch keeps
        # the module's own count and does not call the key missing
        state_dict = dict(state_dict)
        for key, target in own.items():
            if key.endswith("num_batches_tracked") and key not in state_dict:
                state_dict[key] = target.copy()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors = []
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            if value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {value.shape} from "
                              f"checkpoint, the shape in current model is {target.shape}.")
            elif value.dtype.kind not in "biuf":
                errors.append(f"{key}: expected a numeric array, got dtype {value.dtype}")
            else:
                values[key] = value
        if strict:
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, value in values.items():
            own[key][...] = value
        return IncompatibleKeys(missing, unexpected)

    # -- printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(module), 2)}" for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"
