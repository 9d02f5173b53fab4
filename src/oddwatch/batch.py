"""``BatchDetector``: oddwatch behind the PyOD / scikit-learn outlier-detector face.

Benchmark harnesses and model-selection code call ``fit(X)``, ``decision_function(X)``,
``predict(X)`` and read ``decision_scores_``, ``threshold_`` and ``labels_`` (PyOD's
``BaseDetector``; TSB-AD's custom-detector runner). :class:`BatchDetector` answers them with a
causal scan underneath, so a batch score is exactly what the streaming Monitor would have said
at that point, never a score that peeked at later points.
"""

from __future__ import annotations

import copy
import hashlib
import math
from typing import Any

import numpy as np

from oddwatch._typing import BoolArray, FloatArray
from oddwatch.detectors import Detector
from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.monitor import Monitor, MonitorResult

__all__ = ["BatchDetector"]


def _column(X: Any, where: str) -> FloatArray:
    """``X`` of shape ``(n,)`` or ``(n, 1)`` as a float array of shape ``(n,)``."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"BatchDetector.{where} needs numbers; {exc}.") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInputError(
            f"BatchDetector.{where} scores one series: X must have shape (n,) or (n, 1); got "
            f"{arr.shape}. Use one BatchDetector per column."
        )
    return np.ascontiguousarray(arr)


def _digest(values: FloatArray) -> str:
    return hashlib.sha256(values.tobytes()).hexdigest()


class BatchDetector:
    """PyOD-style ``fit`` / ``decision_function`` / ``predict`` over a causal Monitor.

    ``fit(X)`` runs a fresh Monitor over ``X`` in order (score each point from the points
    before it, then learn it): that is the warm-up on the history, and its scores are
    ``decision_scores_``. ``decision_function(X)`` treats ``X`` as what comes *after* the
    fitted history in time and continues the scan from the fitted state, on a copy: the fitted
    detector is never changed, so calling it twice gives the same answer (scikit-learn's
    rule), and window contents, seasonal phase and thresholds carry on where the history ended
    (a fresh clone would forget the history; re-learning it would count it twice and put the
    seasonal phase off by its length). If ``X`` *begins* with the fitted history itself, as
    TSB-AD's semi-supervised runner passes it (``fit(train)`` then
    ``decision_function(whole_series)``), that prefix is recognised and not learned again: it
    gets its fit scores and the scan continues after it. So ``decision_function(X_fit)``
    equals ``decision_scores_``.

    Scores are the detector's (higher is more anomalous). Warm-up points, which have no score
    yet (``nan`` in oddwatch), score ``warmup_score``: harnesses min-max scale the scores and
    rank them (ROC, PR, VUS), and a ``nan`` would break both. The default 0.0 is at or below
    every score of the built-in detectors, so warm-up points count as normal; a constant keeps
    every score causal (the lowest score of the scan would depend on later points).

    Labels: with ``contamination=None`` they are the Monitor's own flags, each from the
    threshold in force at that point (``thresholds_``), and ``threshold_`` is the one in force
    after the last fitted point; with a ``contamination`` in (0, 0.5], PyOD's rule:
    ``threshold_`` is the ``1 - contamination`` quantile of ``decision_scores_`` and a label is
    ``score > threshold_`` (this threshold sees the whole fitted batch, so it is not causal).

    Parameters
    ----------
    detector
        An oddwatch Detector (wrapped in ``Monitor(detector)``) or a Monitor; ``None`` for
        ``Monitor()``. It is cloned untrained at each ``fit``.
    contamination
        ``None`` for the Monitor's threshold, else the expected share of outliers.
    warmup_score
        The score reported for warm-up points.

    Attributes
    ----------
    decision_scores_, labels_, thresholds_, threshold_, monitor_
        Set by :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch.detectors import RollingZScore
    >>> X = np.random.default_rng(1).normal(10, 1, 400)
    >>> X[300] = 25.0
    >>> clf = BatchDetector(RollingZScore(window_size=30)).fit(X[:350])
    >>> np.flatnonzero(clf.labels_).tolist(), clf.threshold_
    ([300], 4.0)
    >>> bool(np.array_equal(clf.decision_function(X)[:350], clf.decision_scores_))
    True
    >>> clf.decision_function([10.2, 30.0]).round(2).tolist(), clf.predict([10.2, 30.0]).tolist()
    ([0.43, 23.9], [0, 1])
    """

    def __init__(
        self, detector: Any = None, contamination: float | None = None, warmup_score: float = 0.0
    ) -> None:
        if detector is not None and not isinstance(detector, (Detector, Monitor)):
            raise InvalidParameterError(
                "`detector` of BatchDetector must be an oddwatch Detector or Monitor; got "
                f"{detector!r:.80}."
            )
        if contamination is not None and not (
            isinstance(contamination, (int, float))
            and not isinstance(contamination, bool)
            and 0 < contamination <= 0.5
        ):
            raise InvalidParameterError(
                "`contamination` of BatchDetector must be None or a number in (0, 0.5]; got "
                f"{contamination!r}."
            )
        if not isinstance(warmup_score, (int, float)) or not math.isfinite(warmup_score):
            raise InvalidParameterError(
                f"`warmup_score` of BatchDetector must be a finite number; got {warmup_score!r}."
            )
        self.detector = detector
        self.contamination = contamination
        self.warmup_score = warmup_score

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (scikit-learn convention)."""
        return {
            "detector": self.detector,
            "contamination": self.contamination,
            "warmup_score": self.warmup_score,
        }

    def set_params(self, **params: Any) -> BatchDetector:
        """Set constructor arguments, checked as in ``__init__``; unfits the detector."""
        merged = {**self.get_params(), **params}
        unknown = sorted(set(params) - set(self.get_params()))
        if unknown:
            raise InvalidParameterError(
                f"BatchDetector has no parameter {unknown[0]!r}; its parameters are: "
                f"{', '.join(self.get_params())}."
            )
        self.__init__(**merged)  # type: ignore[misc]
        self.__dict__.pop("monitor_", None)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"BatchDetector({args})"

    def _fresh(self) -> Monitor:
        if self.detector is None:
            return Monitor()
        if isinstance(self.detector, Monitor):
            return self.detector.clone()
        return Monitor(self.detector.clone())

    def _filled(self, scores: FloatArray) -> FloatArray:
        return np.where(np.isnan(scores), float(self.warmup_score), scores)

    def _labels(self, result: MonitorResult, scores: FloatArray) -> BoolArray:
        if self.contamination is None:
            return result.is_anomaly.copy()
        return scores > self.threshold_

    def fit(self, X: Any, y: Any = None) -> BatchDetector:
        """Scan ``X`` causally with a fresh Monitor; ``y`` is ignored (unsupervised)."""
        values = _column(X, "fit")
        monitor = self._fresh()
        result = monitor.update_many(values)
        self.monitor_ = monitor
        self.decision_scores_ = self._filled(result.score)
        self.thresholds_ = result.threshold.copy()
        if self.contamination is None:
            last = result.threshold[np.isfinite(result.threshold)]
            self.threshold_ = float(last[-1]) if last.shape[0] else math.nan
        else:
            self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = self._labels(result, self.decision_scores_).astype(np.int64)
        self._fit_len = values.shape[0]
        self._fit_digest = _digest(values)
        return self

    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "monitor_"):
            raise InvalidParameterError(
                f"BatchDetector.{where} needs a fitted detector; call fit(X_history) first."
            )

    def _scan(self, X: Any, where: str) -> tuple[FloatArray, BoolArray]:
        """Scores and flags of ``X`` continuing the fitted history (see the class doc)."""
        self._check_fitted(where)
        values = _column(X, where)
        n = self._fit_len
        prefix = values.shape[0] >= n > 0 and _digest(values[:n]) == self._fit_digest
        result = copy.deepcopy(self.monitor_).update_many(values[n:] if prefix else values)
        scores = self._filled(result.score)
        flags = self._labels(result, scores)
        if prefix:
            scores = np.concatenate([self.decision_scores_, scores])
            flags = np.concatenate([self.labels_.astype(bool), flags])
        return scores, flags

    def decision_function(self, X: Any) -> FloatArray:
        """Anomaly scores of ``X`` as the continuation of the fitted history (higher: odder)."""
        return self._scan(X, "decision_function")[0]

    def predict(self, X: Any) -> Any:
        """0/1 labels of ``X`` (1: outlier), from the same scan as :meth:`decision_function`."""
        return self._scan(X, "predict")[1].astype(np.int64)

    def predict_proba(self, X: Any, method: str = "linear") -> FloatArray:
        """PyOD's outlier "probability" of ``X``: columns ``[P(normal), P(outlier)]``.

        A fixed, non-decreasing map of :meth:`decision_function`'s scores, set at ``fit`` from
        ``decision_scores_`` as PyOD does: ``"linear"`` min-max scales by the fitted scores'
        range and clips to [0, 1]; ``"unify"`` is ``erf((s - mean) / (std * sqrt(2)))``
        clipped to [0, 1], mean and std of the fitted scores (Kriegel et al. 2011). It is a
        rescaling, not a calibrated probability: it keeps the order of the scores (so ROC and
        PR are those of ``decision_function``), but its 0.5 is not the Monitor's threshold,
        and ``predict`` does not come from it. For points after the fitted history it is
        causal (the map is fixed); over the fitted points themselves it uses the whole
        history's range, as in PyOD. A constant history scales by 1.

        Examples
        --------
        >>> from oddwatch.detectors import RollingZScore
        >>> clf = BatchDetector(RollingZScore(window_size=3)).fit([1.0, 2.0, 1.0, 2.0, 1.0, 2.5])
        >>> clf.decision_scores_.round(2).tolist()
        [0.0, 0.0, 0.0, 1.41, 1.41, 2.47]
        >>> clf.predict_proba([2.0, 9.0]).round(2).tolist()
        [[0.89, 0.11], [0.0, 1.0]]
        """
        scores = self._scan(X, "predict_proba")[0]
        train = self.decision_scores_
        if method == "linear":
            span = float(train.max() - train.min())
            outlier = (scores - train.min()) / (span if span > 0 else 1.0)
        elif method == "unify":
            sd = float(train.std())
            z = (scores - train.mean()) / ((sd if sd > 0 else 1.0) * math.sqrt(2.0))
            outlier = np.array([math.erf(v) for v in z.tolist()], dtype=np.float64)
        else:
            raise InvalidParameterError(
                f"`method` of BatchDetector.predict_proba must be 'linear' or 'unify'; got "
                f"{method!r}."
            )
        outlier = np.clip(outlier, 0.0, 1.0)
        return np.column_stack([1.0 - outlier, outlier])

    def predict_confidence(self, X: Any) -> FloatArray:
        """PyOD's confidence in each label of :meth:`predict` (Perini et al. 2020, ExCeeD).

        With ``n`` fitted points, ``k`` of which score at or below a point's score, the
        point's outlier probability is ``p = (1 + k) / (2 + n)``; the confidence that it is
        an outlier is ``P(Binomial(n, p) > n - int(n * c))`` with ``c`` the
        ``contamination`` (or, when it is None, the share of fitted points labelled), and a
        point labelled normal gets one minus that. Labels are :meth:`predict`'s. Needs SciPy
        (for the binomial tail), which ``oddwatch[integrations]`` installs.

        Examples
        --------
        >>> from oddwatch.detectors import RollingZScore
        >>> X = np.random.default_rng(1).normal(10, 1, 200)
        >>> clf = BatchDetector(RollingZScore(window_size=20), contamination=0.05).fit(X)
        >>> clf.predict([10.0, 12.6, 14.0]).tolist()
        [0, 0, 1]
        >>> clf.predict_confidence([10.0, 12.6, 14.0]).round(3).tolist()
        [1.0, 0.892, 0.999]
        """
        try:
            from scipy.stats import binom
        except ImportError:
            raise InvalidParameterError(
                "BatchDetector.predict_confidence needs SciPy for the binomial tail; install "
                "it with: pip install 'oddwatch[integrations]' (or pip install scipy)."
            ) from None
        scores, flags = self._scan(X, "predict_confidence")
        train = np.sort(self.decision_scores_)
        n = train.shape[0]
        share = float(self.labels_.mean()) if self.contamination is None else self.contamination
        posterior = (1.0 + np.searchsorted(train, scores, side="right")) / (2.0 + n)
        confidence: FloatArray = 1.0 - binom.cdf(n - int(n * share), n, posterior)
        return np.where(flags, confidence, 1.0 - confidence)
