"""Tests of the UCR archive runner: loading, the top-1 rule and the own-flag figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import InvalidParameterError, SourceError
from oddwatch.evaluate.ucr import (
    UcrRun,
    UcrSeries,
    default_ucr_dir,
    false_flag_runs,
    load_ucr,
    run_ucr,
    top1_prediction,
)


def write_archive(root: Path, n: int = 3000) -> Path:
    """Two sine series with a spike each, in the dev split's layout."""
    rows = ["number,length,train_end,anomaly_start,anomaly_end"]
    (root / "npz").mkdir(parents=True)
    for number, spike in [(3, 2200), (12, 2600)]:
        xs = np.sin(np.arange(n) * 2 * np.pi / 40) + np.random.default_rng(number).normal(
            0, 0.05, n
        )
        xs[spike] += 4.0
        np.savez(root / "npz" / f"{number:03d}_1000_{spike}_{spike + 5}.npz", values=xs)
        rows.append(f"{number},{n},1000,{spike},{spike + 5}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return root


def test_load_and_run(tmp_path: Path) -> None:
    series = load_ucr(write_archive(tmp_path))
    assert [s.number for s in series] == [3, 12]
    assert (series[1].train_end, series[1].anomaly_start, series[1].anomaly_end) == (
        1000,
        2600,
        2605,
    )
    run = run_ucr(series, lambda: RollingZScore(window_size=200))
    assert run.predictions == (2200, 2600)
    assert run.accuracy == 1.0
    assert run.flags is None
    assert np.isnan(run.hit_rate)
    assert run.auc_pr > 0.1 and 0.0 < run.vus_pr <= 1.0
    only = load_ucr(tmp_path, [12])
    assert [s.number for s in only] == [12]


def test_top1_rule_ties_nan_and_prefix() -> None:
    scores = np.array([100.0, np.nan, 2.0, 5.0, 5.0, np.nan])
    assert top1_prediction(scores, 1) == 3  # the prefix's 100 is ignored; first of the tie
    assert top1_prediction(np.full(4, np.nan), 2) == 2


def test_solved_range_is_100_points_wide_each_side() -> None:
    s = UcrSeries(1, np.zeros(2000), 500, 1000, 1010)
    for position, solved in [(899, False), (900, True), (1109, True), (1110, False)]:
        scores = np.zeros(2000)
        scores[position] = 1.0
        run = UcrRun((s,), (scores,), None, (0.0,))
        assert run.solved == (solved,), position


def test_own_flag_figures_by_hand() -> None:
    s = UcrSeries(1, np.zeros(10_000), 2000, 5000, 5010)  # hit range [4900, 5110)
    flags = np.zeros(10_000, dtype=bool)
    flags[[10, 11, 12, 500]] = True  # 2 runs in the prefix
    flags[4890:4910] = True  # a run crossing into the hit range: a hit and 1 false run
    flags[[6000, 9999]] = True  # 2 more false runs after the prefix
    run = UcrRun((s,), (np.zeros(10_000),), (flags,), (0.0,))
    assert run.hit_rate == 1.0
    assert run.false_runs_prefix_per_100k == pytest.approx(1e5 * 2 / 2000)
    assert run.false_runs_after_per_100k == pytest.approx(1e5 * 3 / (8000 - 210))
    assert run.series_flagged_in_prefix == 1.0
    assert false_flag_runs(flags, 4900, 5110) == 1


def test_monitor_flags_are_kept(tmp_path: Path) -> None:
    run = run_ucr(load_ucr(write_archive(tmp_path)), Monitor)
    assert run.flags is not None and len(run.flags) == 2
    assert 0.0 <= run.hit_rate <= 1.0


def test_bad_archive_and_factory(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(SourceError, match="index.csv does not exist"):
        load_ucr(tmp_path)
    write_archive(tmp_path)
    with pytest.raises(SourceError, match=r"series \[99\] are not in"):
        load_ucr(tmp_path, [3, 99])
    (tmp_path / "index.csv").write_text(
        "number,length,train_end,anomaly_start,anomaly_end\n3,x,1,2,3\n"
    )
    with pytest.raises(SourceError, match="column 'length' must be an integer"):
        load_ucr(tmp_path)
    (tmp_path / "index.csv").write_text(
        "number,length,train_end,anomaly_start,anomaly_end\n3,2999,1000,2200,2205\n"
    )
    with pytest.raises(SourceError, match="2999 points"):
        load_ucr(tmp_path)
    with pytest.raises(InvalidParameterError, match="train_end <= anomaly_start"):
        UcrSeries(1, np.zeros(10), 5, 3, 4)
    trained = RollingZScore(window_size=4)
    trained.update_many(np.arange(10.0))
    with pytest.raises(InvalidParameterError, match="new, untrained component"):
        run_ucr([UcrSeries(1, np.zeros(10), 2, 5, 6)], lambda: trained)
    with pytest.raises(InvalidParameterError, match="no UCR series"):
        run_ucr([], Monitor)
    monkeypatch.setenv("ODDWATCH_UCR_DIR", str(tmp_path))
    assert default_ucr_dir() == tmp_path
