"""The warm-up is visible: unscored points say so in their reason, in every front end."""

from __future__ import annotations

import numpy as np

from oddwatch import KeyedMonitor, Monitor
from oddwatch.detectors import DualSurpriseDetector, RollingZScore

REASON_64 = "warming up: no score until the detector has learned 64 points"


def test_update_says_the_point_is_warming_up_and_for_how_long():
    mon = Monitor(DualSurpriseDetector(warmup=5))
    verdicts = [mon.update(float(x)) for x in [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]]
    assert [v.warming_up for v in verdicts] == [True] * 5 + [False]
    assert verdicts[0].reason == "warming up: no score until the detector has learned 5 points"
    assert verdicts[5].reason == "" and not np.isnan(verdicts[5].score)


def test_update_many_words_warm_up_but_not_invalid_points():
    mon = Monitor(DualSurpriseDetector(warmup=8), on_invalid="skip")
    mon.update_many([1.0, 2.0, 3.0])
    second = mon.update_many([1.0, float("nan"), 2.0, 3.0, 1.0, 2.0, 3.0, 1.0])
    assert second.warming_up.tolist() == [True, False, True, True, True, True, False, False]
    assert second.reason(1) == ""  # skipped: invalid, not warming up
    assert second.reason(5).endswith("has learned 8 points") and second.reason(6) == ""


def test_update_and_update_many_word_the_warm_up_alike():
    xs = np.random.default_rng(0).normal(0.0, 1.0, 80)
    one = Monitor()
    by_point = [one.update(float(x)).reason for x in xs]
    by_chunk = Monitor().update_many(xs)
    assert by_point == [by_chunk.reason(i) for i in range(80)]
    assert by_point[63] == REASON_64 and by_point[64] == ""


def test_keyed_monitor_words_it_as_one_series_alone():
    keyed = KeyedMonitor()
    result = keyed.update_many(["a", "b"], [1.0, 2.0])
    assert result.warming_up.tolist() == [True, True]
    assert result.reason(0) == Monitor().update_many([1.0]).reason(0) == REASON_64
    assert keyed.update("a", 3.0).reason == REASON_64


def test_a_detector_without_a_warmup_count_says_not_scored_yet():
    result = Monitor(RollingZScore(window_size=5)).update_many([1.0, 2.0, 3.0])
    assert result.reason(0) == "warming up: not scored yet"


def test_cli_output_says_warming_up(tmp_path, capsys):
    from oddwatch.cli.main import main

    path = tmp_path / "s.csv"
    path.write_text("timestamp,value\n" + "".join(f"{i},{i % 7}\n" for i in range(100)))
    assert main(["detect", str(path), "--quiet"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert f'"reason":"{REASON_64}"' in rows[0]
    assert '"score":null' in rows[63] and '"reason":""' in rows[64]
