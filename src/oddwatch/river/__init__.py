"""River interop, both ways. Needs River: ``pip install 'oddwatch[river]'``.

- :class:`OddwatchAnomalyDetector` makes an oddwatch detector or Monitor a River
  ``base.AnomalyDetector`` (``learn_one`` / ``score_one`` on dicts), so River's
  ``QuantileFilter``, pipelines, metrics and ``check_estimator`` take it as it is.
- :class:`RiverDetector` runs any River anomaly detector as an oddwatch detector, and
  ``Monitor(RiverDetector(...))`` puts its scores through the Monitor's thresholds and alarm
  stage (:class:`RiverMonitor` is that Monitor, kept for older code). River keeps model state
  only as pickle, which oddwatch checkpoints never hold: saving one is refused unless the
  caller opts in with ``allow_pickle=True`` (:func:`save_pickle` / :func:`load_pickle`).

Examples
--------
>>> from river import anomaly
>>> from oddwatch import Monitor
>>> from oddwatch.detectors import RollingZScore
>>> filt = anomaly.ThresholdFilter(OddwatchAnomalyDetector(RollingZScore(window_size=3)), 4.0)
>>> for v in [1.0, 2.0, 1.0, 2.0]:
...     filt.learn_one({"value": v})
>>> filt.classify(filt.score_one({"value": 30.0}))
True
"""

from __future__ import annotations

from oddwatch.river._adapter import OddwatchAnomalyDetector
from oddwatch.river._detector import RiverDetector
from oddwatch.river._monitor import RiverMonitor
from oddwatch.river._pickle import load_pickle, save_pickle

__all__ = ["OddwatchAnomalyDetector", "RiverDetector", "RiverMonitor", "load_pickle", "save_pickle"]
