"""``RiverDetector``: any River anomaly detector as an oddwatch detector.

Kept small and apart from the built-in detectors: it implements the detector contract by hand
(River has no array state and no compiled step) and declares ``runs_in_python = True``, so a
:class:`~oddwatch.Monitor` scores with it in Python and puts the scores through its compiled
threshold and alarm stage (see :mod:`oddwatch._python_detector`). It cannot be saved as an
oddwatch checkpoint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from oddwatch._typing import FloatArray, State
from oddwatch.detectors import Detector
from oddwatch.errors import CheckpointError, InvalidInputError, InvalidParameterError
from oddwatch.river._import import anomaly, base, preprocessing

__all__ = ["RiverDetector"]

_REFUSAL = (
    "RiverDetector cannot be saved as an oddwatch checkpoint: River keeps a model's state only "
    "as pickle, and oddwatch checkpoints never hold pickle (loading one could run code). If "
    "you trust every reader of the file, save it with "
    "oddwatch.river.save_pickle(obj, path, allow_pickle=True) and read it back with "
    "oddwatch.river.load_pickle(path, allow_pickle=True)."
)


def _river_class(module: Any, name: str, base: type, what: str) -> type:
    """The class ``name`` listed in ``module.__all__`` that subclasses ``base`` (closed world)."""
    known = sorted(
        n
        for n in getattr(module, "__all__", [])
        if isinstance(getattr(module, n, None), type) and issubclass(getattr(module, n), base)
    )
    if name not in known:
        raise InvalidParameterError(
            f"unknown River {what} {name!r}; choose one of: {', '.join(known)}."
        )
    cls: type = getattr(module, name)
    return cls


class RiverDetector(Detector):
    """Score a stream with a River anomaly detector, score first, then learn.

    Each value ``v`` is given to the model as ``{"x": v}``: ``update`` returns
    ``model.score_one`` computed before ``model.learn_one``, so scores are causal, and
    ``update_many`` is the same loop (chunked == one by one). Scores are River's (higher is
    more anomalous, no fixed scale: ``score_scale = "rank"``), so the default threshold is
    :class:`~oddwatch.thresholds.QuantileThreshold` (the stream's own 0.999 quantile). The
    first ``warmup`` scores are ``nan`` (River models give placeholders there, e.g.
    HalfSpaceTrees scores 0 until its first window is full). Cost: River's per-point Python
    speed, thousands of points per second rather than oddwatch's millions.

    ``Monitor(RiverDetector(...))`` runs it with the Monitor's validation, thresholds and
    alarm stage (what ``--detector river:NAME`` builds); one River model watches one series,
    so ``KeyedMonitor`` refuses it at its first point. ``save`` raises
    :class:`~oddwatch.errors.CheckpointError`: River state is pickle-only.
    ``Monitor.save(path, allow_pickle=True)`` or :func:`oddwatch.river.save_pickle` opt in
    knowingly.

    Parameters
    ----------
    model
        A River (unsupervised) anomaly detector: anything with ``learn_one(x)`` and
        ``score_one(x)``, pipelines included; ``None`` for
        ``MinMaxScaler() | HalfSpaceTrees(seed=42)``. It is the object that learns.
    warmup
        Number of first points scored ``nan``; at least 0.

    Examples
    --------
    >>> from river import anomaly
    >>> det = RiverDetector(anomaly.HalfSpaceTrees(window_size=3, n_trees=5, seed=1), warmup=3)
    >>> det.update_many([0.5, 0.6, 0.5, 0.55, 0.5, 0.95]).round(3).tolist()
    [nan, nan, nan, 0.904, 0.322, 0.997]
    >>> det.save("model.oddwatch")
    Traceback (most recent call last):
    ...
    oddwatch.errors.CheckpointError: RiverDetector cannot be saved as an oddwatch checkpoint: ...
    """

    _waivers = {
        name: "River keeps the model's state in Python objects that only pickle can save, so "
        "get_state refuses; tests/integrations/test_river.py checks score purity (score twice "
        "== update) and the refusal instead"
        for name in ("bounded_state", "checkpoint_continues", "empty_input", "score_is_pure")
    } | {
        "keyed_equals_standalone": "KeyedMonitor runs compiled detectors only; a River model "
        "watches one series, behind one Monitor per series"
    }

    score_scale = "rank"
    runs_in_python = True

    def __init__(self, model: Any = None, warmup: int = 0) -> None:
        if model is not None and not (hasattr(model, "learn_one") and hasattr(model, "score_one")):
            raise InvalidParameterError(
                "`model` of RiverDetector must be a River anomaly detector (with learn_one and "
                f"score_one); got {model!r:.80}."
            )
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            raise InvalidParameterError(
                f"`warmup` of RiverDetector must be an int >= 0; got {warmup!r}."
            )
        self.model = model
        self.warmup = warmup
        self.model_: Any = model if model is not None else self._default_model()
        self._n_seen = 0

    @staticmethod
    def _test_params() -> dict[str, Any]:
        model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
            n_trees=3, height=4, window_size=16, seed=1
        )
        return {"model": model, "warmup": 16}

    @staticmethod
    def _default_model() -> Any:
        return preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)

    @classmethod
    def from_name(
        cls, name: str, params: Mapping[str, Any] | None = None, scaler: str | None = "MinMaxScaler"
    ) -> RiverDetector:
        """The River detector ``river.anomaly.<name>(**params)``, after ``scaler`` if any.

        ``scaler`` names a ``river.preprocessing`` transformer put in front (most River
        detectors expect scaled features; HalfSpaceTrees expects them in [0, 1]). A model with
        a ``window_size`` gets that many warm-up points. Names are looked up among River's
        public classes only. This is what ``--detector river:NAME`` builds.

        Examples
        --------
        >>> RiverDetector.from_name("HalfSpaceTrees", {"window_size": 50, "seed": 1}).warmup
        50
        >>> RiverDetector.from_name("Nope")
        Traceback (most recent call last):
        ...
        oddwatch.errors.InvalidParameterError: unknown River anomaly detector 'Nope'; ...
        """
        detector = _river_class(anomaly, name, base.AnomalyDetector, "anomaly detector")
        try:
            model = detector(**dict(params or {}))
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"cannot build river.anomaly.{name}: {exc}") from None
        warmup = getattr(model, "window_size", 0)
        if scaler is not None:
            transformer = _river_class(
                preprocessing, scaler, base.Transformer, "preprocessing transformer"
            )
            model = transformer() | model
        return cls(model, warmup=warmup if isinstance(warmup, int) else 0)

    @property
    def n_seen_(self) -> int:
        """Number of points learned so far."""
        return self._n_seen

    @property
    def warm_(self) -> bool:
        return self._n_seen >= self.warmup

    @property
    def _state(self) -> Any:
        """Compiled loops read a detector's array state here: a River model has none."""
        raise InvalidParameterError(
            "RiverDetector runs a River model in Python, and KeyedMonitor runs compiled "
            "detectors only. A River model watches one series: use "
            "oddwatch.Monitor(RiverDetector(...)), one Monitor per series."
        )

    def explain_many(self, xs: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`update_many`, with ``nan`` expected values and scales (no forecast)."""
        scores = self.update_many(xs)
        return scores, np.full(scores.shape[0], np.nan), np.full(scores.shape[0], np.nan)

    def clone(self) -> RiverDetector:
        """A fresh, untrained copy (the River model is cloned with River's ``clone``)."""
        model = None if self.model is None else self.model.clone()
        return type(self)(model, self.warmup)

    def _check(self, x: Any) -> float:
        if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
            value = float(x)
            if math.isfinite(value):
                return value
        raise InvalidInputError(
            f"RiverDetector got {x!r}; values must be finite numbers. "
            "Use Monitor(detector, on_invalid='skip' or 'flag') to tolerate them."
        )

    def update(self, x: float) -> float:
        """Score ``x`` with the model, then let the model learn it."""
        point = {"x": self._check(x)}
        score = float(self.model_.score_one(point))
        self.model_.learn_one(point)
        self._n_seen += 1
        return score if self._n_seen > self.warmup else math.nan

    def update_many(self, xs: Any) -> FloatArray:
        """:meth:`update` over ``xs`` in order."""
        values = xs if isinstance(xs, np.ndarray) else np.asarray(xs, dtype=object)
        if isinstance(xs, (str, bytes)) or values.ndim != 1:
            raise InvalidInputError(
                f"RiverDetector.update_many expects a 1-D sequence of numbers; got {xs!r:.60}."
            )
        checked = [self._check(x) for x in values.tolist()]  # all checked before any is learned
        return np.array([self.update(x) for x in checked], dtype=np.float64)

    def score(self, x: float) -> float:
        """What :meth:`update` would return for ``x``; the model does not learn."""
        score = float(self.model_.score_one({"x": self._check(x)}))
        return score if self._n_seen >= self.warmup else math.nan

    @staticmethod
    def save_pickle(component: Any, path: str | os.PathLike[str]) -> None:
        """What ``Monitor.save(path, allow_pickle=True)`` calls: :func:`save_pickle`."""
        from oddwatch.river._pickle import save_pickle

        save_pickle(component, path, allow_pickle=True)

    def get_state(self) -> State:
        raise CheckpointError(_REFUSAL)

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        raise CheckpointError(_REFUSAL)
