"""CalibratedThreshold: the nominal level, raised by the stream's own tail, never lowered."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oddwatch.errors import InvalidParameterError
from oddwatch.thresholds import CalibratedThreshold


def _as_score(surprise: np.ndarray) -> np.ndarray:
    return surprise / (1.0 + surprise)


def test_nominal_level_before_the_tail_is_fitted():
    thr = CalibratedThreshold(false_alarm_rate=1e-3, init_size=500)
    levels = thr.update_many(_as_score(np.full(499, 0.5)))
    assert np.all(levels == 0.75)  # S = 3
    assert not thr.fitted_


def test_level_follows_a_heavier_tail_and_flags_at_the_rate():
    rng = np.random.default_rng(3)
    surprises = rng.exponential(2.0, 200_000)  # twice as surprising as a calibrated stream
    thr = CalibratedThreshold(false_alarm_rate=1e-3)
    levels = thr.update_many(_as_score(surprises))
    assert thr.fitted_
    exact = 2.0 * math.log(1e3)  # the 1e-3 quantile of the exponential
    fitted = float(levels[-1] / (1.0 - levels[-1]))
    assert 0.85 * exact < fitted < 1.15 * exact
    rate = float(np.mean(_as_score(surprises)[10_000:] > levels[10_000:]))
    assert 0.5e-3 < rate < 2e-3


def test_level_is_never_below_the_nominal_level():
    rng = np.random.default_rng(4)
    quiet = rng.exponential(0.2, 50_000)  # far less surprising than the noise model says
    thr = CalibratedThreshold(false_alarm_rate=1e-4)
    levels = thr.update_many(_as_score(quiet))
    assert np.all(levels >= 0.8)


def test_flagged_spikes_do_not_raise_the_level_for_the_next_ones():
    rng = np.random.default_rng(5)
    surprises = rng.exponential(1.0 / math.log(10.0), 30_000)  # calibrated: P(S > s) = 10^-s
    surprises[20_000:29_000:1000] = 50.0  # nine spikes
    thr = CalibratedThreshold(false_alarm_rate=1e-4)
    levels = thr.update_many(_as_score(surprises))
    assert levels[-1] < _as_score(np.array(6.0))  # censored, not learned: still near S = 4


def test_nan_scores_are_not_learned():
    thr = CalibratedThreshold(init_size=500)
    thr.update_many(np.full(1000, np.nan))
    assert thr.n_seen_ == 0


@pytest.mark.parametrize("rate", [0.0, 0.02, -1e-4, 1.0])
def test_rate_out_of_range_is_refused(rate):
    with pytest.raises(InvalidParameterError, match="false_alarm_rate"):
        CalibratedThreshold(false_alarm_rate=rate)
