"""What every stateful oddwatch component shares: declared parameters, named state, kernels.

:class:`Component` holds the bookkeeping (``get_params``, ``clone``, ``save``, ``repr``) and
registration: defining a concrete subclass makes it loadable by name (no decorator, no
import of :mod:`oddwatch.persist`). Parameters are declared once, as annotated class
attributes built with :func:`param`; that one line gives the constructor argument (the
``__init__`` is generated), its check (run at construction) and, for numeric parameters,
the field of the kernel's parameter tuple ``Params``::

    class RollingZScore(Detector):
        window_size: int = param(default=64, check=IntParam(low=2))

:class:`KernelComponent` adds the streaming contract for components that map one float to
one float through a numba kernel -- detectors map a value to an anomaly score, thresholds a
score to the threshold in force. Its learned state is one ``NamedTuple`` of arrays (nested
when a component is built from others) named by the class attribute ``State``; its kernel is
``step(state, params, x) -> float`` and takes both tuples whole. ``update`` and
``update_many`` run the same kernel (``update_many`` through the generic block loop of
:mod:`oddwatch._dispatch`), so chunked and point-by-point runs agree bit for bit, and
``KeyedMonitor`` runs it on per-key rows with no extra code.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

import numba
import numpy as np

from oddwatch import persist
from oddwatch._dispatch import register_kernels, run_block
from oddwatch._registry import add_kind
from oddwatch._typing import FloatArray
from oddwatch._typing import State as StateArrays
from oddwatch._validation import ParamSpec, as_value, as_values
from oddwatch.errors import CheckpointError

if TYPE_CHECKING or sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # Python 3.10: the decorator only informs type checkers

    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda cls: cls


__all__ = ["Component", "KernelComponent", "Param", "flatten_state", "param"]

_C = TypeVar("_C", bound="Component")
_T = TypeVar("_T")
_KERNEL_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool}


@dataclasses.dataclass(frozen=True)
class Param:
    """One declared constructor parameter: its default, its check, whether kernels see it."""

    default: Any
    check: ParamSpec | None = None
    kernel: bool = True


def param(*, default: _T, check: ParamSpec | None = None, kernel: bool = True) -> _T:
    """Declare a constructor parameter of a component (see the module docstring).

    ``check`` validates the argument at construction; a parameter annotated ``int``,
    ``float`` or ``bool`` becomes a field of the kernel's ``Params`` unless ``kernel`` is
    False.
    """
    return Param(default, check, kernel)  # type: ignore[return-value]


def _collect(cls: type) -> dict[str, Param]:
    """The declared parameters of ``cls``: its bases' first, then its own, in order."""
    found: dict[str, Param] = {}
    for base in reversed(cls.__mro__[1:]):
        found.update(base.__dict__.get("_params", {}))
    annotations = cls.__dict__.get("__annotations__", {})
    for name, value in cls.__dict__.items():
        if isinstance(value, Param):
            if name not in annotations:
                raise TypeError(f"{cls.__name__}.{name}: a param needs a type annotation")
            found[name] = value
    return found


def _annotation(cls: type, name: str) -> str:
    for base in cls.__mro__:
        annotations = base.__dict__.get("__annotations__", {})
        if name in annotations:
            value = annotations[name]
            return value if isinstance(value, str) else getattr(value, "__name__", str(value))
    return ""


def _make_init(cls: type, params: Mapping[str, Param]) -> Callable[..., None]:
    args = ", ".join(f"{name}=_defaults[{name!r}]" for name in params)
    body = "".join(f"    self.{name} = {name}\n" for name in params)
    source = f"def __init__(self, {args}):\n{body}    self._setup()\n"
    namespace: dict[str, Any] = {"_defaults": {k: p.default for k, p in params.items()}}
    exec(source, namespace)  # built from the declared parameter names only
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _make_params(cls: type, params: Mapping[str, Param]) -> type:
    fields = [
        (name, _KERNEL_TYPES[_annotation(cls, name)])
        for name, p in params.items()
        if p.kernel and _annotation(cls, name) in _KERNEL_TYPES
    ]
    tuple_class: type = NamedTuple(f"{cls.__name__}Params", fields)  # type: ignore[misc]
    tuple_class.__qualname__ = f"{cls.__qualname__}.Params"
    tuple_class.__module__ = cls.__module__
    return tuple_class


@dataclass_transform(field_specifiers=(param,), eq_default=False)
class Component:
    """Declared parameters, ``clone``, ``repr``, ``save`` and registration for one component.

    A class whose own body sets ``_abstract = True`` is a base, not a loadable kind; nor is a
    class whose name starts with an underscore.
    """

    _params: ClassVar[dict[str, Param]] = {}
    _abstract: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._params = _collect(cls)
        for name, declared in cls._params.items():
            setattr(cls, name, declared.default)
        if "__init__" not in cls.__dict__ and hasattr(cls, "_setup"):
            cls.__init__ = _make_init(cls, cls._params)  # type: ignore[method-assign]
        if "_abstract" not in cls.__dict__:
            cls._abstract = False
        if not cls._abstract and not cls.__name__.startswith("_"):
            add_kind(cls)

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given (nested components included)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def _check_params(self) -> None:
        """Check every declared parameter, then the combinations (:meth:`_check_combination`)."""
        owner = type(self).__name__
        for name, declared in self._params.items():
            if declared.check is not None:
                declared.check.check(owner, name, getattr(self, name))
        self._check_combination()

    def _check_combination(self) -> None:
        """Hook for checks that involve several parameters at once."""

    def get_state(self) -> StateArrays:
        """A copy of the learned state as a flat mapping of path -> numpy array."""
        raise NotImplementedError

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the learned state by ``state`` (as returned by :meth:`get_state`)."""
        raise NotImplementedError

    def clone(self: _C) -> _C:
        """A fresh, untrained copy with the same parameters."""
        params = {
            k: v.clone() if isinstance(v, Component) else v for k, v in self.get_params().items()
        }
        return type(self)(**params)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write parameters and state to ``path`` (see :func:`oddwatch.persist.save`)."""
        persist.save(self, path)

    @classmethod
    def load(cls: type[_C], path: str | os.PathLike[str]) -> _C:
        """The object of this class saved at ``path``, continuing where it stopped.

        Raises :class:`~oddwatch.errors.CheckpointError` when the file holds another kind
        of object (use :func:`oddwatch.load` to take whatever it holds).
        """
        loaded = persist.load(path)
        if not isinstance(loaded, cls):
            raise CheckpointError(
                f"{path} holds a {type(loaded).__name__}, not a {cls.__name__}. Load it with "
                f"{type(loaded).__name__}.load(path), or oddwatch.load(path) for any kind."
            )
        return loaded

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def flatten_state(state: Any, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
    """``(path, array)`` for every array of a (nested) state tuple: ``seasonal.history``.

    A record array (named scalars) yields a view of each field: ``seasonal.scalars.level``.
    """
    for name, value in zip(state._fields, state, strict=True):
        if isinstance(value, tuple):
            yield from flatten_state(value, f"{prefix}{name}.")
        elif value.dtype.names:
            for field in value.dtype.names:
                yield f"{prefix}{name}.{field}", value[field]
        else:
            yield f"{prefix}{name}", value


def check_state(owner: str, expected: Mapping[str, np.ndarray], state: Mapping[str, Any]) -> None:
    """Raise :class:`CheckpointError` unless ``state`` has exactly the expected arrays."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        raise CheckpointError(
            f"state for {owner} does not match its parameters: missing {missing[:6]}{more}, "
            f"unexpected {extra[:6]}. Written by another version of oddwatch, whose detector "
            "keeps other state? Fit it again with this version (or load it with the version "
            "that wrote it)."
        )
    for name, ref in expected.items():
        value = state[name]
        if not isinstance(value, np.ndarray) or value.dtype != ref.dtype:
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise CheckpointError(
                f"state field `{name}` of {owner} must be a {ref.dtype} array; got {got}."
            )
        if value.shape != ref.shape:
            raise CheckpointError(
                f"state field `{name}` of {owner} must have shape {ref.shape}; got {value.shape}."
            )


def entry_point(kernel: Any, *args: Any) -> Callable[..., Any]:
    """The compiled ``kernel`` for exactly these argument types, called without dispatch.

    Skipping numba's per-call type resolution is what makes a per-point call cheap; the
    arguments must keep these types (the component's own state and parameter tuples do).
    """
    signature = tuple(numba.typeof(a) for a in args)  # type: ignore[no-untyped-call]
    compiled: Callable[..., Any] = kernel.compile(signature)
    return compiled


class KernelComponent(Component):
    """A component that maps each float of a stream to a float through one compiled step.

    Subclasses set ``State`` (a ``NamedTuple`` class of arrays), ``_step`` (a numba function
    ``step(state, params, x) -> float``), optionally ``_forecast`` and ``_alarm_scale``
    (see :mod:`oddwatch._dispatch`), and implement ``_initial_state``. ``Params`` is
    generated from the declared numeric parameters; a subclass needing derived kernel
    values defines its own ``Params`` and ``_kernel_params``.
    """

    _abstract = True
    State: ClassVar[type]
    Params: ClassVar[type]
    _step: ClassVar[Callable[..., float]]
    _forecast: ClassVar[Callable[..., tuple[float, float]] | None] = None
    _alarm_scale: ClassVar[Callable[..., float] | None] = None
    _allow_nan_input: ClassVar[bool] = False
    _kernel_role: ClassVar[str] = "step"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Params" not in cls.__dict__:
            cls.Params = _make_params(cls, cls._params)
        if "State" in cls.__dict__:
            kernels = {cls._kernel_role: cls._step}
            register_kernels(
                cls.State, **kernels, forecast=cls._forecast, alarm_scale=cls._alarm_scale
            )

    def _setup(self) -> None:
        self._check_params()
        self._kernel_params_ = self._kernel_params()
        self._state: Any = self._initial_state()
        self._entry: Callable[..., float] | None = None

    def _kernel_params(self) -> Any:
        """The kernel's ``Params`` tuple, from the parameters of the same names."""
        fields = self.Params.__annotations__
        return self.Params(**{name: fields[name](getattr(self, name)) for name in fields})

    def _initial_state(self) -> Any:
        raise NotImplementedError

    def _value(self, x: Any) -> float:
        if self._allow_nan_input and isinstance(x, float) and x != x:
            return x
        return as_value(x, type(self).__name__)

    def _values(self, xs: Any) -> FloatArray:
        return as_values(xs, type(self).__name__, allow_nan=self._allow_nan_input)

    def _step_now(self, x: float) -> float:
        if self._entry is None:
            self._entry = entry_point(type(self)._step, self._state, self._kernel_params_, x)
        return self._entry(self._state, self._kernel_params_, x)

    def update(self, x: float) -> float:
        """Return the output for ``x`` computed from the past, then learn ``x``."""
        return float(self._step_now(self._value(x)))

    def update_many(self, xs: Any) -> FloatArray:
        """:meth:`update` over ``xs`` in order; returns one output per input."""
        arr = self._values(xs)
        out = np.empty(arr.shape[0], dtype=np.float64)
        run_block(self._state, self._kernel_params_, arr, out)
        return out

    def score(self, x: float) -> float:
        """The output :meth:`update` would give for ``x``, leaving the state untouched."""
        value = self._value(x)
        saved = self.get_state()
        try:
            return float(self._step_now(value))
        finally:
            self._load_state(saved)

    def get_state(self) -> StateArrays:
        return {path: array.copy() for path, array in flatten_state(self._state)}

    def _load_state(self, state: Mapping[str, np.ndarray]) -> None:
        for path, array in flatten_state(self._state):
            array[...] = state[path]

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        check_state(type(self).__name__, dict(flatten_state(self._state)), state)
        self._load_state(state)

    @property
    def nbytes_(self) -> int:
        """Bytes of learned state."""
        return sum(a.nbytes for _, a in flatten_state(self._state))
