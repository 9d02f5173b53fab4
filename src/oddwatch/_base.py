"""What every stateful oddwatch component shares: parameters, array state, clone, save.

:class:`Component` holds the bookkeeping (``get_params``, ``get_state``, ``set_state``,
``clone``, ``save``, ``repr``). :class:`KernelComponent` adds the streaming contract for
components that map one float to one float through a numba kernel -- detectors map a value to
an anomaly score, thresholds map a score to the threshold in force. ``update`` and
``update_many`` both run the same compiled step, so chunked and point-by-point runs agree bit
for bit.

Subclasses write an explicit ``__init__`` that stores each argument under its own name and then
calls ``self._setup()``; they declare ``_param_specs`` (checked in ``_setup``) and implement
``_initial_state`` returning the state arrays in the order the kernels take them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from oddwatch._typing import FloatArray, State
from oddwatch._validation import ParamSpec, as_value, as_values, check_params
from oddwatch.errors import CheckpointError

__all__ = ["Component", "KernelComponent"]

_C = TypeVar("_C", bound="Component")


class Component:
    """Parameters, plain-array state, ``clone``, ``repr`` and ``save`` for one component."""

    _param_specs: ClassVar[Mapping[str, ParamSpec]] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given (nested components included)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def get_state(self) -> State:
        """A copy of the learned state as a flat mapping of name -> numpy array."""
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
        from oddwatch.persist import save

        save(self, path)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def check_state(owner: str, expected: Mapping[str, np.ndarray], state: Mapping[str, Any]) -> None:
    """Raise :class:`CheckpointError` unless ``state`` has exactly the expected arrays."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"state for {owner} does not match its parameters: missing {missing}, "
            f"unexpected {extra}."
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


class KernelComponent(Component):
    """A component that maps each float of a stream to a float through one compiled step.

    Subclasses set ``_step(*state, x) -> float`` and ``_block(*state, xs, out) -> None`` (numba
    functions; the block loop calls the step) and implement ``_initial_state``.
    """

    _step: ClassVar[Callable[..., float]]
    _block: ClassVar[Callable[..., None]]
    _allow_nan_input: ClassVar[bool] = False

    def _setup(self) -> None:
        check_params(type(self).__name__, self._param_specs, self.get_params())
        self._check_param_combination()
        self._state: State = self._initial_state()
        self._args: tuple[np.ndarray, ...] = tuple(self._state.values())

    def _check_param_combination(self) -> None:
        """Hook for checks that involve several parameters at once."""

    def _initial_state(self) -> State:
        raise NotImplementedError

    def _value(self, x: Any) -> float:
        if self._allow_nan_input and isinstance(x, float) and x != x:
            return x
        return as_value(x, type(self).__name__)

    def _values(self, xs: Any) -> FloatArray:
        return as_values(xs, type(self).__name__, allow_nan=self._allow_nan_input)

    def update(self, x: float) -> float:
        """Return the output for ``x`` computed from the past, then learn ``x``."""
        return float(self._step(*self._args, self._value(x)))

    def update_many(self, xs: Any) -> FloatArray:
        """:meth:`update` over ``xs`` in order; returns one output per input."""
        arr = self._values(xs)
        out = np.empty(arr.shape[0], dtype=np.float64)
        self._block(*self._args, arr, out)
        return out

    def score(self, x: float) -> float:
        """The output :meth:`update` would give for ``x``, leaving the state untouched."""
        value = self._value(x)
        saved = [a.copy() for a in self._args]
        try:
            return float(self._step(*self._args, value))
        finally:
            for array, copy in zip(self._args, saved, strict=True):
                array[...] = copy

    def get_state(self) -> State:
        return {name: array.copy() for name, array in self._state.items()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        check_state(type(self).__name__, self._state, state)
        for name, array in self._state.items():
            array[...] = state[name]
