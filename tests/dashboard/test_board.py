"""Board: what the page is given matches what was written, with bounded memory."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dashboard.feed import batches
from oddwatch.dashboard import Board
from oddwatch.dashboard.board import SINGLE_SERIES, key_hashes, severity
from oddwatch.sinks._base import OutputBatch


def _unlimited(**options):
    """A board whose worker may fold everything (these tests check what folding gives)."""
    return Board(max_busy=1.0, burst=60.0, **options)


def _batch(keys, values, flags=(), seq0=0, score=0.1):
    n = len(keys)
    is_anomaly = np.zeros(n, bool)
    is_anomaly[list(flags)] = True
    scores = np.where(is_anomaly, 0.95, score)
    return OutputBatch(
        seq=np.arange(seq0, seq0 + n),
        value=np.asarray(values, float),
        score=scores,
        threshold=np.full(n, 0.9),
        is_anomaly=is_anomaly,
        reason=[f"flag {seq0 + i}" if f else "" for i, f in enumerate(is_anomaly)],
        key=np.asarray(keys),
        timestamp=[f"t{seq0 + i}" for i in range(n)],
        expected=np.asarray(values, float) - 1.0,
        scale=np.full(n, 0.5),
    )


def test_key_hashes_ignore_the_array_width_and_separate_keys():
    narrow = key_hashes(np.array(["ab", "x"]))
    wide = key_hashes(np.array(["ab", "x", "abcdefgh"], dtype="<U20"))
    assert narrow.tolist() == wide[:2].tolist()
    many = np.array([f"key-{i}" for i in range(50_000)])
    assert len(np.unique(key_hashes(many))) == 50_000


def test_severity_is_score_over_threshold_and_zero_when_missing():
    assert severity(np.array([0.45, np.nan, 2.0]), np.array([0.9, 0.9, 0.0])).tolist() == [
        0.5,
        0.0,
        0.0,
    ]


def test_a_drilled_down_series_is_exactly_the_points_written_for_that_key():
    board = _unlimited(history=50)
    rng = np.random.default_rng(0)
    written = {"a": [], "b": []}
    flagged = set()
    seq = 0
    for _ in range(7):
        keys = rng.choice(["a", "b"], 13)
        values = rng.normal(size=13)
        board.submit(_batch(keys, values, flags=(3,), seq0=seq))
        flagged.add(seq + 3)
        for k, v in zip(keys, values, strict=True):
            written[k].append((seq, v))
            seq += 1
    board.drain()
    for key in ("a", "b"):
        series = board.series(key)
        want = written[key][-50:]
        assert series["seq"] == [s for s, _ in want]
        close = {"abs": 1e-6}  # the page gets 6 decimals
        assert series["value"] == pytest.approx([v for _, v in want], **close)
        assert series["low"] == pytest.approx([v - 1.0 - 1.5 for _, v in want], **close)
        assert series["high"] == pytest.approx([v - 1.0 + 1.5 for _, v in want], **close)
        assert series["n_points"] == len(written[key])
        assert [f["reason"] for f in series["flags"]] == [
            f"flag {s}" for s, _ in want if s in flagged
        ]


def test_flags_become_alerts_newest_first_and_lanes_sort_by_surprise():
    board = _unlimited()
    board.submit(_batch(["a", "b", "c"], [1, 2, 3]))
    board.submit(_batch(["a", "b", "c"], [1, 50, 3], flags=(1,), seq0=3))
    board.drain()
    overview = board.overview(n_lanes=2)
    assert [lane["key"] for lane in overview["lanes"]] == ["b", overview["lanes"][1]["key"]]
    assert overview["lanes"][0]["flags"] == 1 and overview["lanes"][0]["last"] == 50.0
    assert overview["alerts"][0] | {"id": 0} == {
        "id": 0,
        "seq": 4,
        "key": "b",
        "timestamp": "t4",
        "value": 50.0,
        "score": 0.95,
        "threshold": 0.9,
        "severity": pytest.approx(1.056, abs=1e-3),
        "reason": "flag 4",
    }
    assert overview["n_keys"] == 3 and overview["keys_by_severity"]["flagged (1 and up)"] == 1


def test_past_its_cpu_budget_the_board_keeps_every_flag_but_samples_the_rest():
    board = Board(max_busy=0.0, burst=0.0)  # no budget at all: flags only
    for i in range(10):
        board.submit(_batch([f"k{j}" for j in range(50)], np.ones(50), flags=(i,), seq0=50 * i))
    board.drain()
    overview = board.overview()
    assert overview["board"]["records"] == 500
    assert overview["board"]["folded"] == 10 and overview["board"]["sampled_out"] == 490
    assert overview["n_alerts"] == 10
    assert [a["seq"] for a in overview["alerts"]] == [50 * i + i for i in range(9, -1, -1)]
    assert sum(lane["flags"] for lane in board.overview(n_lanes=50)["lanes"]) == 10


def test_within_its_budget_the_board_folds_everything():
    board = _unlimited()
    for i in range(10):
        board.submit(_batch([f"k{j}" for j in range(50)], np.ones(50), seq0=50 * i))
    board.drain()
    assert board.overview()["board"]["folded"] == 500


def test_keys_past_max_keys_are_counted_not_shown():
    board = _unlimited(max_keys=3)
    board.submit(_batch(["a", "b", "c", "d", "e"], np.ones(5)))
    board.drain()
    overview = board.overview()
    assert overview["n_keys"] == 3 and overview["board"]["over_max_keys"] == 2


def test_tracking_is_bounded_and_a_flagged_or_requested_key_gets_tracked():
    board = _unlimited(tracked=2, history=10)
    board.submit(_batch(["a", "b", "c"], [1, 2, 3]))
    board.drain()
    assert board.series("c") == {"key": "c", "known": True, "tracked": False}
    board.submit(_batch(["c"], [9], flags=(0,), seq0=3))
    board.drain()
    assert board.series("c")["value"] == [9.0]  # tracked from its flag on
    assert board.request("a") and board.series("a")["tracked"]
    assert sum(board.series(k)["tracked"] for k in "abc") == 2
    assert not board.request("zzz") and board.series("zzz")["known"] is False


def test_unkeyed_input_is_one_series_and_the_worker_thread_folds_it():
    board = _unlimited().start()
    try:
        batch = _batch(["x"] * 4, [1, 2, 3, 4])
        board.submit(OutputBatch(**{**batch.__dict__, "key": None}))
        with board.changed:
            board.changed.wait_for(lambda: board.version > 0, timeout=10)
    finally:
        board.stop()
    assert board.series(SINGLE_SERIES)["value"] == [1.0, 2.0, 3.0, 4.0]


def test_unkeyed_input_shows_what_the_same_records_keyed_as_the_single_series_show():
    keyed, unkeyed = _unlimited(), _unlimited()
    for i in range(3):
        batch = _batch([SINGLE_SERIES] * 40, np.arange(40.0) + i, flags=(5 + i,), seq0=40 * i)
        keyed.submit(batch)
        unkeyed.submit(OutputBatch(**{**batch.__dict__, "key": None}))
    keyed.drain()
    unkeyed.drain()
    assert unkeyed.series(SINGLE_SERIES) == keyed.series(SINGLE_SERIES)
    mine, theirs = unkeyed.overview(), keyed.overview()
    assert mine["lanes"] == theirs["lanes"] and mine["n_keys"] == 1
    assert [a["key"] for a in mine["alerts"]] == [SINGLE_SERIES] * 3
    assert [{**a, "id": 0} for a in mine["alerts"]] == [{**a, "id": 0} for a in theirs["alerts"]]


@pytest.mark.parametrize("n_keys", [7, 300, 30_000])
def test_lanes_are_the_keys_a_full_sort_by_surprise_then_flags_puts_first(n_keys):
    rng = np.random.default_rng(n_keys)
    board = _unlimited()
    keys = np.array([f"k{i}" for i in range(n_keys)])
    # few distinct scores, so many keys tie on surprise and the flag count decides
    score = rng.choice([0.0, 0.3, 0.6, 0.85], n_keys)
    board.submit(_batch(keys, np.ones(n_keys), score=score))
    flagged = rng.choice(n_keys, size=min(n_keys, 10), replace=False)
    for r in range(3):
        some = flagged[: len(flagged) // (r + 1)]
        board.submit(_batch(keys[some], np.ones(len(some)), flags=range(len(some)), score=0.2))
    board.drain()
    lanes = board.overview(n_lanes=25)["lanes"]
    recent = {lane["key"]: (lane["severity"], lane["flags"]) for lane in lanes}
    everything = board.overview(n_lanes=n_keys)["lanes"]
    naive = sorted(everything, key=lambda lane: (-lane["severity"], -lane["flags"]))
    assert [(lane["severity"], lane["flags"]) for lane in lanes] == [
        (lane["severity"], lane["flags"]) for lane in naive[:25]
    ]
    assert len(recent) == min(25, n_keys)
    assert len(everything) == n_keys


def test_a_keys_recent_surprise_is_the_highest_cell_still_in_the_window():
    board = _unlimited(n_buckets=3, bucket_seconds=0.1)
    keys = np.array([f"k{i}" for i in range(600)])
    rng = np.random.default_rng(3)
    for r in range(8):  # 0.8 s: columns leave the 0.3 s window while keys keep coming
        board.submit(_batch(keys, np.ones(600), score=rng.uniform(0.0, 0.85, 600)))
        board.drain()
        for lane in board.overview(n_lanes=600)["lanes"]:
            assert lane["severity"] == pytest.approx(max(lane["cells"]), abs=0.006), r
        time.sleep(0.1)
    time.sleep(0.35)  # every column has left: nothing is recent any more
    board.drain()
    assert {lane["severity"] for lane in board.overview(n_lanes=600)["lanes"]} == {0.0}


def test_real_keyed_results_fill_the_board():
    board = _unlimited()
    for batch in batches(5, 200, spike_every=9):
        board.submit(batch)
    board.drain()
    overview = board.overview()
    assert overview["n_keys"] == 5 and overview["board"]["records"] == 1000
    flagged = [a["key"] for a in overview["alerts"]]
    assert flagged and all(a["reason"] for a in overview["alerts"])
    series = board.series(flagged[0])
    assert len(series["value"]) == 200 and any(series["flag"])


def test_counters_leave_out_non_finite_values_so_the_page_gets_valid_json():
    board = Board()
    board.observe({"records_read": 5.0, "largest_gap_s": float("nan")})
    assert board.overview()["counters"] == {"records_read": 5.0}
