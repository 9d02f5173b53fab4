"""The conformance suite every oddwatch component passes; public so plug-ins can run it.

``yield_checks(factory)`` yields ``(name, check)`` pairs; each ``check()`` raises
``AssertionError`` with a message when the component breaks the contract. ``factory`` builds
a fresh component (detector, threshold or :class:`~oddwatch.Monitor`) each time it is called.

Examples
--------
>>> from oddwatch.detectors import RollingZScore
>>> for name, check in yield_checks(lambda: RollingZScore(window_size=8)):
...     check()
>>> sorted(dict(yield_checks(lambda: RollingZScore(window_size=8))))[:3]
['bad_input_raises', 'bad_params_raise', 'bounded_state']
"""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from oddwatch._base import Component
from oddwatch._typing import FloatArray
from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.persist import load
from oddwatch.thresholds import Threshold

__all__ = ["stream_for", "yield_checks"]

Factory = Callable[[], Any]


def stream_for(component: Any, n: int = 1500, seed: int = 0) -> FloatArray:
    """A reproducible test stream suited to ``component``: scores for thresholds, else values."""
    rng = np.random.default_rng(seed)
    if isinstance(component, Threshold):
        scores = np.abs(rng.standard_t(3, n)) / 10.0
        scores = np.minimum(scores, 1.0)
        scores[: min(20, n)] = np.nan  # a detector's warm-up
        return scores
    t = np.arange(n)
    xs = 20.0 + 5.0 * np.sin(2 * np.pi * t / 24) + rng.normal(0.0, 1.0, n) + 0.002 * t
    spikes = rng.choice(n, size=max(1, n // 100), replace=False)
    xs[spikes] += rng.choice([-1.0, 1.0], spikes.shape[0]) * 10.0
    xs[n // 2 :] += 8.0  # a level shift
    return xs


def _scores(component: Any, xs: FloatArray) -> FloatArray:
    out = component.update_many(xs)
    return np.asarray(getattr(out, "score", out), dtype=np.float64)


def _one(component: Any, x: float) -> float:
    out = component.update(x)
    return float(getattr(out, "score", out))


def _same(a: FloatArray, b: FloatArray, what: str) -> None:
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
        diff = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
        first = int(diff[0]) if diff.size else -1
        raise AssertionError(f"{what}: outputs differ (first at index {first} of {a.shape[0]})")


def check_causal(factory: Factory) -> None:
    """Changing points after t never changes the output at or before t."""
    component = factory()
    xs = stream_for(component)
    base = _scores(component, xs)
    for cut in (len(xs) // 3, 2 * len(xs) // 3):
        altered = xs.copy()
        altered[cut:] = altered[cut:][::-1] * 1.5 + 3.0
        got = _scores(factory(), altered)
        _same(base[:cut], got[:cut], f"outputs before index {cut} after changing the future")


def check_chunks_equal_one_by_one(factory: Factory) -> None:
    """update in a loop == update_many over several chunkings, bit for bit."""
    xs = stream_for(factory())
    component = factory()
    loop = np.array([_one(component, float(x)) for x in xs])
    rng = np.random.default_rng(1)
    for sizes in ([1], [7], [len(xs)], list(rng.integers(1, 97, 60))):
        component = factory()
        parts, start, i = [], 0, 0
        while start < len(xs):
            stop = start + int(sizes[i % len(sizes)])
            parts.append(_scores(component, xs[start:stop]))
            start, i = stop, i + 1
        _same(loop, np.concatenate(parts), f"update loop vs update_many in chunks {sizes[:3]}...")


def check_checkpoint_continues(factory: Factory) -> None:
    """Save at t, load, continue: identical to the uninterrupted run."""
    xs = stream_for(factory())
    full = _scores(factory(), xs)
    half = len(xs) // 2
    component = factory()
    _scores(component, xs[:half])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.oddwatch"
        component.save(path)
        restored = load(path)
    _same(full[half:], _scores(restored, xs[half:]), "continuation after save/load")
    other = factory()
    other.set_state(component.get_state())
    _same(full[half:], _scores(other, xs[half:]), "continuation after get_state/set_state")


def check_score_is_pure(factory: Factory) -> None:
    """score(x) changes nothing and equals what update(x) then returns."""
    component = factory()
    xs = stream_for(component)
    _scores(component, xs[:-1])
    if not hasattr(component, "score"):
        return
    before = component.get_state()
    first, second = component.score(float(xs[-1])), component.score(float(xs[-1]))
    after = component.get_state()
    for name in before:
        if not np.array_equal(before[name], after[name], equal_nan=True):
            raise AssertionError(f"score() changed state field {name!r}")
    updated = _one(component, float(xs[-1]))
    _same(np.array([first, second]), np.array([updated, updated]), "score() vs update()")


def check_input_not_mutated(factory: Factory) -> None:
    """update_many leaves its input array as it was."""
    component = factory()
    xs = stream_for(component)
    copy = xs.copy()
    _scores(component, xs)
    _same(xs, copy, "input array after update_many")


def check_deterministic(factory: Factory) -> None:
    """Two fresh components with the same parameters give identical outputs."""
    xs = stream_for(factory())
    _same(_scores(factory(), xs), _scores(factory(), xs), "two identical runs")


def check_clone_is_fresh(factory: Factory) -> None:
    """clone() of a trained component behaves like a fresh one."""
    component = factory()
    xs = stream_for(component)
    _scores(component, xs)
    _same(_scores(component.clone(), xs), _scores(factory(), xs), "clone() vs fresh")


def check_empty_input(factory: Factory) -> None:
    """update_many([]) returns an empty result and leaves the state as it was."""
    component = factory()
    _scores(component, stream_for(component, 100))
    before = component.get_state()
    out = _scores(component, np.array([], dtype=np.float64))
    if out.shape != (0,):
        raise AssertionError(f"update_many([]) returned shape {out.shape}")
    for name, value in component.get_state().items():
        if not np.array_equal(value, before[name], equal_nan=True):
            raise AssertionError(f"update_many([]) changed state field {name!r}")


def check_bad_input_raises(factory: Factory) -> None:
    """Unusable values raise InvalidInputError with a message, never a NumPy traceback."""
    component = factory()
    monitor_like = not isinstance(component, Component) or hasattr(component, "detector_")
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("inf", lambda: component.update(float("inf"))),
        ("text", lambda: component.update("abc")),
        ("2-D", lambda: component.update_many(np.ones((3, 2)))),
        ("text array", lambda: component.update_many("abc")),
    ]
    if not isinstance(component, Threshold):
        cases.append(("nan", lambda: component.update(float("nan"))))
        cases.append(("nan in array", lambda: component.update_many([1.0, float("nan")])))
    if monitor_like:
        cases = [c for c in cases if c[0] in ("2-D", "text array")]
        cases.append(("nan", lambda: component.update(float("nan"))))
    for what, call in cases:
        try:
            call()
        except InvalidInputError as exc:
            if not str(exc):
                raise AssertionError(f"{what}: InvalidInputError without a message") from exc
        else:
            raise AssertionError(f"{what}: no InvalidInputError was raised")


def check_bad_params_raise(factory: Factory) -> None:
    """Each declared parameter rejects a wrong value with a message naming it."""
    component = factory()
    params = component.get_params()
    for name in getattr(component, "_param_specs", {}):
        for bad in ("not-a-number", -(10**9), float("nan")):
            try:
                type(component)(**{**params, name: bad})
            except InvalidParameterError as exc:
                if f"`{name}`" not in str(exc):
                    raise AssertionError(f"error for `{name}` does not name it: {exc}") from exc
            else:
                if bad == "not-a-number" or (name != "value" and bad == float("nan")):
                    raise AssertionError(f"`{name}`={bad!r} was accepted")


def check_bounded_state(factory: Factory) -> None:
    """The state takes the same bytes after 10^3 and 10^5 points."""
    component = factory()
    xs = np.resize(stream_for(component, 2000), 100_000)
    _scores(component, xs[:1000])
    small = sum(a.nbytes for a in component.get_state().values())
    _scores(component, xs[1000:])
    large = sum(a.nbytes for a in component.get_state().values())
    if small != large:
        raise AssertionError(f"state grew from {small} to {large} bytes")


def check_keyed_equals_standalone(factory: Factory) -> None:
    """In a KeyedMonitor, each key gets bit for bit what a standalone Monitor gets.

    A detector runs with its default threshold, a threshold behind a small z-score; three
    keys' points are interleaved at random and compared field by field.
    """
    from oddwatch import KeyedMonitor, Monitor
    from oddwatch.detectors import Detector, RollingZScore

    def parts() -> dict[str, Any]:
        component = factory()
        if isinstance(component, Detector):
            return {"detector": component}
        return {"detector": RollingZScore(window_size=8), "threshold": component}

    keys = np.array(["a", "b", "c"])
    rng = np.random.default_rng(7)
    streams = {str(k): stream_for(parts()["detector"], 400, seed=i) for i, k in enumerate(keys)}
    order = rng.permutation(np.repeat(np.arange(3), 400))
    seen = np.zeros(3, dtype=np.int64)
    key_of, values = [], []
    for k in order:
        key_of.append(str(keys[k]))
        values.append(streams[str(keys[k])][seen[k]])
        seen[k] += 1
    keyed = KeyedMonitor(**parts(), max_keys=3)
    key_array = np.array(key_of)
    value_array = np.array(values)
    cut = len(values) // 3  # two batches, so state carries over between calls
    first = keyed.update_many(key_array[:cut], value_array[:cut])
    second = keyed.update_many(key_array[cut:], value_array[cut:])
    for key in streams:
        alone = Monitor(**parts()).update_many(streams[key])
        mask = key_array == key
        for field in ("score", "threshold", "expected", "scale"):
            got = np.concatenate([getattr(first, field), getattr(second, field)])[mask]
            _same(getattr(alone, field), got, f"keyed vs standalone {field} of key {key!r}")
        flags = np.concatenate([first.is_anomaly, second.is_anomaly])[mask]
        if not np.array_equal(alone.is_anomaly, flags):
            raise AssertionError(f"keyed vs standalone flags of key {key!r} differ")


def check_docstring_example(factory: Factory) -> None:
    """The class docstring carries a runnable example."""
    doc = inspect.getdoc(type(factory())) or ""
    if ">>>" not in doc:
        raise AssertionError("the class docstring has no '>>>' example")


_CHECKS = {
    "bad_input_raises": check_bad_input_raises,
    "bad_params_raise": check_bad_params_raise,
    "bounded_state": check_bounded_state,
    "causal": check_causal,
    "checkpoint_continues": check_checkpoint_continues,
    "chunks_equal_one_by_one": check_chunks_equal_one_by_one,
    "clone_is_fresh": check_clone_is_fresh,
    "deterministic": check_deterministic,
    "docstring_example": check_docstring_example,
    "empty_input": check_empty_input,
    "input_not_mutated": check_input_not_mutated,
    "keyed_equals_standalone": check_keyed_equals_standalone,
    "score_is_pure": check_score_is_pure,
}


def yield_checks(
    factory: Factory, waivers: dict[str, str] | None = None
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every conformance check not waived.

    ``waivers`` maps a check name to the reason it does not apply; components may also carry
    a ``_waivers`` class attribute of the same form.
    """
    waived = {**getattr(type(factory()), "_waivers", {}), **(waivers or {})}
    for name, check in _CHECKS.items():
        if name not in waived:
            yield name, functools.partial(check, factory)
