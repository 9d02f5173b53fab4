"""StreamingDiscord against a slow bounded left matrix profile; length choice; bad parameters."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch.detectors import StreamingDiscord
from oddwatch.errors import InvalidParameterError


def naive_left_profile(xs, length, history_size, warmup):
    """Per point t >= warmup - 1: min z-normalised distance / sqrt(length) from the subsequence
    ending at t to every subsequence ending at t - lag, length <= lag < history_size."""
    out = np.full(len(xs), np.nan)

    def znorm(a):
        sd = a.std()
        return None if a.max() == a.min() else (a - a.mean()) / sd

    for t in range(warmup - 1, len(xs)):
        now = znorm(xs[t - length + 1 : t + 1])
        best = np.inf
        for lag in range(length, history_size):
            end = t - lag
            if end - length + 1 < 0:
                break
            other = znorm(xs[end - length + 1 : end + 1])
            if now is None or other is None:
                d = 0.0 if now is None and other is None else np.sqrt(length)
            else:
                d = np.sqrt(np.sum((now - other) ** 2))
            best = min(best, d / np.sqrt(length))
        out[t] = best if np.isfinite(best) else np.nan
    return out


@pytest.mark.parametrize(("length", "history_size", "offset"), [(8, 48, 0.0), (13, 60, 1e4)])
def test_scores_equal_the_slow_bounded_left_profile(length, history_size, offset):
    rng = np.random.default_rng(length)
    n = 400
    xs = np.sin(np.arange(n) * 2 * np.pi / 11) + rng.normal(0, 0.3, n) + offset
    xs[150:170] = offset + 0.5  # a flat stretch: flat-to-flat 0, flat-to-other 1
    xs[300:304] += 2.0
    det = StreamingDiscord(max_length=16, history_size=history_size, length=length)
    got = det.update_many(xs)
    expected = naive_left_profile(xs, length, history_size, warmup=64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, atol=1e-7, equal_nan=True)
    assert np.nanmax(got) > 0.5  # the test data has discords to find


def test_long_stream_stays_exact_after_many_laps_of_the_history():
    rng = np.random.default_rng(3)
    n = 20_000
    xs = np.sin(np.arange(n) * 2 * np.pi / 17) * 1e3 + rng.normal(0, 1.0, n) + 5e5
    det = StreamingDiscord(max_length=16, history_size=48, length=12)
    got = det.update_many(xs)
    tail = slice(n - 300, n)
    expected = naive_left_profile(xs[n - 400 :], 12, 48, warmup=64)[-300:]
    np.testing.assert_allclose(got[tail], expected, atol=1e-6)


def test_learns_the_season_as_length_and_finds_a_shape_anomaly_in_range():
    rng = np.random.default_rng(0)
    n = 6000
    xs = np.sin(np.arange(n) * 2 * np.pi / 50) + rng.normal(0, 0.05, n)
    xs[4000:4025] = 0.9 * np.sin(np.arange(25) * 2 * np.pi / 25)  # a cycle at double speed
    det = StreamingDiscord(max_length=64, history_size=1024)
    scores = det.update_many(xs)
    assert (det.period_, det.length_) == (50, 50)
    assert 4000 <= int(np.nanargmax(scores)) < 4075
    assert np.all(np.isnan(scores[:255])) and not np.isnan(scores[255])
    assert xs[4000:4025].max() <= xs[:4000].max()


def test_no_season_falls_back_to_a_quarter_of_max_length():
    xs = np.random.default_rng(1).normal(0, 1, 500)
    det = StreamingDiscord(max_length=32, history_size=128)
    det.update_many(xs)
    assert (det.period_, det.length_) == (0, 8)


def test_scores_lie_in_0_2_and_a_repeat_has_a_neighbour():
    xs = np.tile(np.random.default_rng(2).normal(0, 1, 30), 20)
    scores = StreamingDiscord(max_length=30, history_size=120, length=30).update_many(xs)
    assert np.nanmax(scores) <= 2.0 and np.nanmin(scores) >= 0.0
    assert np.nanmax(scores) < 1e-6  # an exact repeat is at distance 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_length": 4}, "`max_length` of StreamingDiscord must be an int >= 8"),
        ({"max_length": 64, "history_size": 100}, "must be at least 3 * max_length = 192"),
        ({"max_length": 16, "history_size": 64, "length": 20}, "must be an int in [8, 16]"),
        ({"length": 2.5}, "`length` of StreamingDiscord"),
    ],
)
def test_bad_parameters_say_what_to_do(params, message):
    with pytest.raises(
        InvalidParameterError, match=message.replace("[", r"\[").replace("*", r"\*")
    ):
        StreamingDiscord(**params)
