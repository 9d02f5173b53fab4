"""Hostile values and keys given straight to the library (issue 12, items 9 and 10)."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch import KeyedMonitor, Monitor, RollingZScore
from oddwatch.errors import CheckpointError, InvalidInputError


def _keyed(**kwargs):
    return KeyedMonitor(RollingZScore(window_size=3), **kwargs)


@pytest.mark.parametrize(
    "pair",
    [
        ("", "\x00"),
        ("a", "a\x00"),
        ("a\x00", "a\x00\x00"),
        (b"h\xff", b"h\xfe"),
        ("x", "x\U0010ffff"),
    ],
)
def test_keys_numpy_would_merge_stay_distinct(pair):
    monitor = _keyed()
    result = monitor.update_many(list(pair) * 4, np.arange(8.0))
    assert monitor.n_keys_ == 2
    assert len(set(monitor.keys_)) == 2
    # each key's scores are those of a standalone Monitor fed only its points
    for j in range(2):
        alone = Monitor(RollingZScore(window_size=3)).update_many(np.arange(8.0)[j::2])
        np.testing.assert_array_equal(result.score[j::2], alone.score)


def test_key_ending_in_nul_round_trips_through_result_update_and_checkpoint(tmp_path):
    monitor = _keyed()
    result = monitor.update_many(["", "\x00", "\x00"], [1.0, 2.0, 3.0])
    assert result.key.tolist() == ["", "\x00", "\x00"]
    monitor.update("\x00", 4.0)
    monitor.update("", 5.0)
    assert sorted(monitor.keys_) == ["", "\x00"]
    monitor.save(tmp_path / "m")
    again = KeyedMonitor.load(tmp_path / "m")
    assert sorted(again.keys_) == ["", "\x00"]
    more = [6.0, 7.0, 8.0]
    np.testing.assert_array_equal(
        again.update_many(["\x00", "", "\x00"], more).score,
        monitor.update_many(["\x00", "", "\x00"], more).score,
    )


@pytest.mark.parametrize("xs", [np.array([1.0 + 2.0j]), [1.0, 2j], [1.0, "x", 3j]])
def test_complex_values_are_refused_not_truncated(xs):
    with pytest.raises(InvalidInputError, match="expects real numbers; got complex"):
        Monitor(on_invalid="flag").update_many(xs)
    with pytest.raises(InvalidInputError, match="expects real numbers; got complex"):
        _keyed(on_invalid="flag").update_many(["a"] * len(xs), xs)


@pytest.mark.parametrize(
    "xs", [[True, 2.0], [True, "x"], np.array([True, False]), np.array([True, 2.0], dtype=object)]
)
def test_bools_are_invalid_wherever_they_appear(xs):
    result = Monitor(on_invalid="skip").update_many(xs)
    assert result.is_invalid[0]
    with pytest.raises(InvalidInputError, match="got True"):
        Monitor().update_many(xs)
    assert Monitor(on_invalid="flag").update(True).is_anomaly


def test_int_too_large_for_a_float_is_flagged():
    monitor = Monitor(on_invalid="flag")
    result = monitor.update_many([1.0, 10**400, -(10**400)])
    assert result.is_anomaly.tolist() == [False, True, True]
    assert monitor.n_invalid_flagged_ == 2
    assert result.reason(1) == "value is not a finite number"


def test_nan_error_names_the_method_and_stream_position():
    xs = np.random.default_rng(0).normal(size=2000)
    xs[1547] = np.nan
    with pytest.raises(
        InvalidInputError, match=r"^Monitor.update_many got nan at index 1,547 of this call"
    ):
        Monitor().update_many(xs)
    monitor = Monitor()
    monitor.update_many(xs[:1000])
    with pytest.raises(InvalidInputError, match=r"index 547 of this call \(point 1,547 of the"):
        monitor.update_many(xs[1000:])
    monitor = Monitor()
    with pytest.raises(
        InvalidInputError, match=r"^Monitor.update got nan \(point 1,547 of .*on_invalid='flag'"
    ):
        for x in xs:
            monitor.update(x)


def test_repr_shows_the_parts_in_force():
    text = repr(Monitor())
    assert "detector=None" not in text and "threshold=None" not in text
    assert "detector=DualSurpriseDetector(" in text
    assert "threshold=FixedThreshold(value=0.8)" in text
    assert "alarm=QuietPeriod(" in text
    assert "detector=DualSurpriseDetector(" in repr(KeyedMonitor())
    assert "threshold=FixedThreshold(value=0.8)" in repr(KeyedMonitor())


def test_load_classmethods_refuse_another_kind(tmp_path):
    monitor = Monitor(RollingZScore(window_size=3))
    monitor.update_many([1.0, 2.0, 3.0, 4.0])
    monitor.save(tmp_path / "mon")
    loaded = Monitor.load(tmp_path / "mon")
    assert isinstance(loaded, Monitor) and loaded.n_seen_ == 4
    assert loaded.update(5.0) == monitor.update(5.0)
    with pytest.raises(CheckpointError, match="holds a Monitor, not a KeyedMonitor"):
        KeyedMonitor.load(tmp_path / "mon")
    _keyed().save(tmp_path / "keyed")
    with pytest.raises(CheckpointError, match="holds a KeyedMonitor, not a Monitor"):
        Monitor.load(tmp_path / "keyed")
    with pytest.raises(CheckpointError, match="not a RollingZScore"):
        RollingZScore.load(tmp_path / "keyed")


def test_pandas_series_keeps_its_index_and_one_column_frame_is_accepted():
    pd = pytest.importorskip("pandas")
    index = pd.date_range("2026-01-01", periods=5, freq="min")
    series = pd.Series([1.0, 2.0, 1.0, 2.0, 9.0], index=index)
    result = Monitor(RollingZScore(window_size=3)).update_many(series)
    assert result.index is not None and result.index.equals(index)
    plain = Monitor(RollingZScore(window_size=3)).update_many(series.to_numpy())
    np.testing.assert_array_equal(result.score, plain.score)
    assert plain.index is None
    frame = series.to_frame("cpu")
    from_frame = Monitor(RollingZScore(window_size=3)).update_many(frame)
    np.testing.assert_array_equal(from_frame.score, plain.score)
    assert from_frame.index.equals(index)
    with pytest.raises(InvalidInputError, match="DataFrame with 2 columns"):
        Monitor().update_many(frame.assign(other=1.0))


def test_warm_up_points_are_marked():
    result = Monitor(RollingZScore(window_size=3), on_invalid="skip").update_many(
        [1.0, np.nan, 2.0, 3.0, 2.0]
    )
    assert result.warming_up.tolist() == [True, False, True, True, False]
    assert not result.is_anomaly[result.warming_up].any()


def test_warm_up_is_marked_point_by_point():
    monitor = Monitor(RollingZScore(window_size=3), on_invalid="skip")
    marks = [monitor.update(x).warming_up for x in [1.0, float("nan"), 2.0, 3.0, 2.0]]
    assert marks == [True, False, True, True, False]
