"""Tests of the NAB v1.1 scorer: each rule on tiny corpora, then the published numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oddwatch.errors import InvalidInputError, InvalidParameterError, SourceError
from oddwatch.evaluate.nab import (
    PROFILES,
    SCOREBOARD,
    NabCorpus,
    default_nab_dir,
    load_corpus,
    load_results_dir,
    rank_on_scoreboard,
    score_corpus,
    score_flags,
    write_results,
)

STEP = np.timedelta64(5, "m")
T0 = np.datetime64("2020-01-01T00:00:00", "s")
S1 = 2 / (1 + math.exp(-5)) - 1  # sigma(-1) = 0.98661...


def stamp(row: int) -> str:
    return str(T0 + row * STEP).replace("T", " ")


def write_corpus(root: Path, files: dict, windows_name: str = "combined_windows.json") -> Path:
    """A NAB-layout corpus: files maps key -> (n_rows, [(start_row, end_row), ...])."""
    labels = {}
    for key, (n, windows) in files.items():
        path = root / "data" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{stamp(i)},{i % 7}.5\n" for i in range(n))
        path.write_text("timestamp,value\n" + rows)
        labels[key] = [[stamp(a) + ".000000", stamp(b) + ".000000"] for a, b in windows]
    (root / "labels").mkdir(exist_ok=True)
    (root / "labels" / windows_name).write_text(json.dumps(labels))
    return root


def spikes(n: int, rows: dict[int, float]) -> np.ndarray:
    s = np.zeros(n)
    for row, value in rows.items():
        s[row] = value
    return s


def sigma(x: float) -> float:
    return -1.0 if x > 3 else 2 / (1 + math.exp(5 * x)) - 1


def naive_raw(corpus: NabCorpus, scores: dict, threshold: float, profile) -> float:
    """The rules of shared/data/nab/README.md, one row at a time."""
    total = 0.0
    for key, f in corpus.files.items():
        p = f.probationary
        for a, b in f.windows:
            if b < p:
                continue  # no scored row: neither hit nor miss
            hits = [i for i in range(max(a, p), b + 1) if scores[key][i] >= threshold]
            w = b - a + 1
            if hits:
                total += profile.tp_weight * sigma(-(b - hits[0] + 1) / w) / S1
            else:
                total -= profile.fn_weight
        for i in range(p, f.n_rows):
            if scores[key][i] < threshold or any(a <= i <= b for a, b in f.windows):
                continue
            before = [(a, b) for a, b in f.windows if b < i]
            if not before:
                total -= profile.fp_weight
            else:
                a, b = before[-1]
                total += profile.fp_weight * sigma((i - b) / (b - a + 1 - 1))
    return total


# ---------------------------------------------------------------- tiny corpora, rule by rule


@pytest.fixture
def one_window(tmp_path: Path) -> NabCorpus:
    """100 rows (15 probationary), one 10-row window at rows 40..49."""
    return load_corpus(write_corpus(tmp_path, {"cat/a.csv": (100, [(40, 49)])}))


def raw(corpus: NabCorpus, rows: dict[int, float], threshold: float = 0.5, profile="standard"):
    key = next(iter(corpus.files))
    n = corpus.files[key].n_rows
    return score_corpus(corpus, {key: spikes(n, rows)}, threshold=threshold)[profile]


def test_load_matches_window_limits_to_rows_by_timestamp(one_window: NabCorpus) -> None:
    f = one_window.files["cat/a.csv"]
    assert f.windows == ((40, 49),)
    assert (f.n_rows, f.probationary) == (100, 15)
    assert str(f.timestamps[40]) == "2020-01-01T03:20:00"
    assert f.values[:3].tolist() == [0.5, 1.5, 2.5]


@pytest.mark.parametrize(("n", "p"), [(100, 15), (4999, 749), (5000, 750), (22695, 750)])
def test_probationary_length(n: int, p: int) -> None:
    corpus = NabCorpus.from_arrays({"c/x.csv": np.zeros(n)}, {"c/x.csv": []})
    assert corpus.files["c/x.csv"].probationary == p


def test_first_row_of_window_is_worth_tp_weight(one_window: NabCorpus) -> None:
    for name in PROFILES:
        r = raw(one_window, {40: 1.0}, profile=name)
        assert r.raw == pytest.approx(1.0, abs=1e-12)
        assert r.score == pytest.approx(100.0, abs=1e-9)


def test_last_row_of_window_is_worth_tanh_over_sigma(one_window: NabCorpus) -> None:
    expected = math.tanh(2.5 / 10) / S1
    assert raw(one_window, {49: 1.0}).raw == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.248242, abs=1e-6)


def test_only_the_earliest_detection_in_a_window_counts(one_window: NabCorpus) -> None:
    alone = raw(one_window, {42: 1.0})
    both = raw(one_window, {42: 1.0, 45: 1.0, 49: 1.0})
    assert both.raw == alone.raw == pytest.approx(sigma(-0.8) / S1)
    assert (both.tp, both.fp) == (3, 0)


def test_probationary_rows_are_ignored(one_window: NabCorpus) -> None:
    r = raw(one_window, {0: 1.0, 5: 1.0, 14: 1.0})
    assert r.raw == -1.0
    assert (r.tp, r.fp, r.fn, r.tn) == (0, 0, 10, 75)
    assert raw(one_window, {15: 1.0}).raw == pytest.approx(-1.11)  # first scored row counts


def test_missed_window_costs_fn_weight(one_window: NabCorpus) -> None:
    assert raw(one_window, {}).raw == -1.0
    assert raw(one_window, {}, profile="reward_low_FN_rate").raw == -2.0
    assert raw(one_window, {}).score == 0.0


def test_false_positive_before_any_window_costs_full_fp_weight(one_window: NabCorpus) -> None:
    assert raw(one_window, {20: 1.0, 40: 1.0}).raw == pytest.approx(1.0 - 0.11, abs=1e-12)
    r = raw(one_window, {20: 1.0, 39: 1.0, 40: 1.0}, profile="reward_low_FP_rate")
    assert r.raw == pytest.approx(1.0 - 2 * 0.22, abs=1e-12)
    assert (r.tp, r.fp) == (1, 2)


def test_false_positive_after_a_window_is_nearly_free_then_full(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path, {"c/a.csv": (400, [(100, 140)])}))  # w = 41
    base = raw(corpus, {100: 1.0}).raw
    assert base == pytest.approx(1.0)
    just_after = raw(corpus, {100: 1.0, 141: 1.0}).raw - base
    assert just_after == pytest.approx(-0.11 * math.tanh(2.5 / 40), rel=1e-9)
    assert -0.007 < just_after < 0
    at_three_widths = raw(corpus, {100: 1.0, 260: 1.0}).raw - base  # x = 120 / 40 = 3
    assert at_three_widths == pytest.approx(-0.11, abs=1e-6)
    assert at_three_widths > -0.11
    assert raw(corpus, {100: 1.0, 261: 1.0}).raw - base == pytest.approx(-0.11, abs=1e-15)


def test_false_positive_cost_uses_the_previous_window_of_its_own_file(tmp_path: Path) -> None:
    root = write_corpus(
        tmp_path, {"c/a.csv": (400, [(100, 140), (200, 220)]), "c/b.csv": (400, [])}
    )
    corpus = load_corpus(root)
    scores = {"c/a.csv": spikes(400, {100: 1, 200: 1, 221: 1}), "c/b.csv": spikes(400, {141: 1})}
    r = score_corpus(corpus, scores, threshold=0.5)["standard"]
    assert r.per_file["c/a.csv"] == pytest.approx(2.0 + 0.11 * sigma(1 / 20), rel=1e-12)
    assert r.per_file["c/b.csv"] == pytest.approx(-0.11, abs=1e-15)
    assert r.raw == pytest.approx(sum(r.per_file.values()))


def test_window_partly_in_probation_counts_only_its_scored_rows(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path, {"c/a.csv": (100, [(10, 19)])}))  # p = 15
    assert raw(corpus, {12: 1.0}).raw == -1.0
    assert raw(corpus, {16: 1.0}).raw == pytest.approx(sigma(-0.4) / S1, rel=1e-12)


def test_window_inside_probation_is_neither_hit_nor_miss(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path, {"c/a.csv": (100, [(2, 5), (40, 49)])}))
    assert raw(corpus, {3: 1.0}).raw == -1.0  # only the scored window is missed
    best = raw(corpus, {40: 1.0})
    assert best.raw == pytest.approx(1.0)
    assert best.score == pytest.approx(100 * 2 / 3)  # perfect counts every window


def test_ties_are_detections(one_window: NabCorpus) -> None:
    assert raw(one_window, {40: 0.7}, threshold=0.7).raw == pytest.approx(1.0)
    assert raw(one_window, {40: 0.7}, threshold=np.nextafter(0.7, 1)).raw == -1.0


def test_optimisation_picks_the_best_distinct_score(one_window: NabCorpus) -> None:
    s = np.full(100, 0.2)
    s[[20, 45, 60]] = [0.8, 0.6, 0.6]
    result = score_corpus(one_window, {"cat/a.csv": s})
    fp_60 = 0.11 * sigma(11 / 9)
    expected = -0.11 + sigma(-0.5) / S1 + fp_60
    for name in PROFILES:
        assert result[name].threshold == 0.6
    assert result["standard"].raw == pytest.approx(expected, rel=1e-12)
    assert result["standard"].score == pytest.approx(100 * (expected + 1) / 2)
    assert (result["standard"].tp, result["standard"].fp) == (1, 2)


def test_optimisation_keeps_the_highest_threshold_among_equal_scores(one_window) -> None:
    # 0.9 hits row 40; 0.8 adds only a later in-window row: same raw, keep 0.9.
    result = score_corpus(one_window, {"cat/a.csv": spikes(100, {40: 0.9, 44: 0.8})})
    assert result["standard"].threshold == 0.9
    assert result["standard"].tp == 1


def test_never_firing_is_best_when_every_threshold_loses(one_window: NabCorpus) -> None:
    result = score_corpus(one_window, {"cat/a.csv": spikes(100, {20: 0.9, 30: 0.8})})
    assert result["standard"].threshold == 1.1
    assert result.scores == {name: 0.0 for name in PROFILES}


def test_corpus_without_windows_has_nan_score_and_raw_costs() -> None:
    corpus = NabCorpus.from_arrays({"c/x.csv": np.zeros(100)}, {"c/x.csv": []})
    result = score_corpus(corpus, {"c/x.csv": spikes(100, {50: 1.0})}, threshold=0.5)
    assert result["standard"].raw == pytest.approx(-0.11)
    assert math.isnan(result["standard"].score)
    assert score_corpus(corpus, {"c/x.csv": spikes(100, {50: 1.0})})["standard"].threshold == 1.1


def test_score_flags_scores_truthy_flags_as_detections(one_window: NabCorpus) -> None:
    flags = np.zeros(100, dtype=bool)
    flags[[20, 43]] = True
    by_flags = score_flags(one_window, {"cat/a.csv": flags})
    assert by_flags["standard"].threshold == 0.5
    assert by_flags["standard"].raw == pytest.approx(-0.11 + sigma(-0.7) / S1)
    assert score_flags(one_window, {"cat/a.csv": flags.astype(int) * 3}).scores == by_flags.scores


def test_profiles_come_from_config_when_present(tmp_path: Path) -> None:
    root = write_corpus(tmp_path, {"c/a.csv": (100, [(40, 49)])})
    (root / "config").mkdir()
    cost = {"CostMatrix": {"tpWeight": 2.0, "fpWeight": 0.5, "fnWeight": 3.0, "tnWeight": 1.0}}
    (root / "config" / "profiles.json").write_text(json.dumps({"mine": cost}))
    corpus = load_corpus(root)
    assert list(corpus.profiles) == ["mine"]
    r = score_corpus(corpus, {"c/a.csv": spikes(100, {20: 1, 40: 1})}, threshold=0.5)["mine"]
    assert r.raw == pytest.approx(2.0 - 0.5)
    assert r.score == pytest.approx(100 * (1.5 + 3) / (2 + 3))


def test_profiles_file_malformed(tmp_path: Path) -> None:
    root = write_corpus(tmp_path, {"c/a.csv": (100, [])})
    (root / "config").mkdir()
    (root / "config" / "profiles.json").write_text('{"standard": {"CostMatrix": {}}}')
    with pytest.raises(SourceError, match=r"profiles.json is not a NAB profiles file.*KeyError"):
        load_corpus(root)


@st.composite
def tiny_corpora(draw):
    files, scores = {}, {}
    for k in range(draw(st.integers(1, 3))):
        n = draw(st.integers(20, 80))
        cuts = sorted(draw(st.sets(st.integers(0, n - 1), max_size=6)))
        windows = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
        files[f"c/f{k}.csv"] = windows
        levels = draw(
            st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=n, max_size=n)
        )
        scores[f"c/f{k}.csv"] = np.array(levels)
    corpus = NabCorpus.from_arrays({k: np.zeros(len(v)) for k, v in scores.items()}, files)
    return corpus, scores


@settings(max_examples=150, deadline=None)
@given(tiny_corpora(), st.sampled_from([0.0, 0.25, 0.3, 0.5, 1.0, 1.1]))
def test_vectorised_scoring_equals_row_by_row_rules(data, threshold) -> None:
    corpus, scores = data
    for name, profile in PROFILES.items():
        got = score_corpus(corpus, scores, threshold=threshold)[name].raw
        assert got == pytest.approx(naive_raw(corpus, scores, threshold, profile), abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(tiny_corpora())
def test_optimised_threshold_is_the_first_maximum_of_a_brute_force_sweep(data) -> None:
    corpus, scores = data
    scored = np.concatenate([scores[k][f.probationary :] for k, f in corpus.files.items()])
    candidates = [1.1, *sorted(set(scored.tolist()), reverse=True)]
    result = score_corpus(corpus, scores)
    for name, profile in PROFILES.items():
        raws = [naive_raw(corpus, scores, t, profile) for t in candidates]
        best = max(raws)
        chosen = result[name].threshold
        assert chosen in candidates
        assert result[name].raw == pytest.approx(best, abs=1e-9)
        assert all(r < best - 1e-9 for t, r in zip(candidates, raws, strict=True) if t > chosen)


# ---------------------------------------------------------------- errors


def test_missing_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist; pass --data DIR pointing at a NAB"):
        load_corpus(tmp_path / "nope")


def test_missing_windows_file(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (50, [])})
    with pytest.raises(SourceError, match=r"windows file .*other.json does not exist"):
        load_corpus(tmp_path, "other.json")


def test_malformed_windows_json(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (50, [])})
    (tmp_path / "labels" / "combined_windows.json").write_text("{oops")
    with pytest.raises(SourceError, match=r"cannot read windows file .*combined_windows.json"):
        load_corpus(tmp_path)
    (tmp_path / "labels" / "combined_windows.json").write_text('{"c/a.csv": "x"}')
    with pytest.raises(SourceError, match=r"must hold a JSON object \{file: \[\[start, end\]"):
        load_corpus(tmp_path)


def test_missing_data_file(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (50, [])})
    (tmp_path / "data" / "c" / "a.csv").unlink()
    with pytest.raises(SourceError, match=r"a\.csv does not exist; pass --data DIR"):
        load_corpus(tmp_path)


def test_bad_header_and_bad_rows_name_the_file_and_line(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (50, [])})
    path = tmp_path / "data" / "c" / "a.csv"
    lines = path.read_text().splitlines()
    path.write_text("time,value\n" + "\n".join(lines[1:]))
    with pytest.raises(SourceError, match=r"a\.csv has no 'timestamp' column"):
        load_corpus(tmp_path)
    path.write_text("\n".join([*lines[:5], lines[5].replace(".5", ".5x"), *lines[6:]]))
    with pytest.raises(SourceError, match=r"a\.csv line 6: '4\.5x' is not a valid float64"):
        load_corpus(tmp_path)
    path.write_text("\n".join([*lines[:5], "2020-13-01 00:00:00,1", *lines[6:]]))
    with pytest.raises(SourceError, match=r"line 6: '2020-13-01 00:00:00' is not a valid datetime"):
        load_corpus(tmp_path)
    path.write_text("\n".join([*lines[:5], lines[5] + ",3", *lines[6:]]))
    with pytest.raises(SourceError, match=r"line 6 has 3 fields, the header has 2"):
        load_corpus(tmp_path)
    path.write_text("\n".join([*lines[:5], lines[5].split(",")[0] + ",nan", *lines[6:]]))
    with pytest.raises(SourceError, match=r"line 6: value 'nan' is not finite"):
        load_corpus(tmp_path)


def test_window_limit_must_be_a_row_timestamp(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (50, [])})
    bad = {"c/a.csv": [["2020-01-01 01:02:00.000000", stamp(30) + ".000000"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(bad))
    with pytest.raises(SourceError, match=r"limits must both be timestamps of rows"):
        load_corpus(tmp_path)
    bad = {"c/a.csv": [[stamp(20) + ".000000"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(bad))
    with pytest.raises(SourceError, match=r"is not a \[start, end\] pair of timestamps"):
        load_corpus(tmp_path)


def test_overlapping_windows_are_rejected(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (100, [(20, 30), (25, 40)])})
    with pytest.raises(SourceError, match=r"window \(25, 40\) starts before the previous one ends"):
        load_corpus(tmp_path)


def test_repeated_timestamps_are_accepted_and_windows_stay_contiguous(tmp_path: Path) -> None:
    write_corpus(tmp_path, {"c/a.csv": (60, [(30, 40)])})
    path = tmp_path / "data" / "c" / "a.csv"
    lines = path.read_text().splitlines()
    lines[11] = lines[10]  # row 10 repeats row 9's timestamp, as 7 NAB files do
    path.write_text("\n".join(lines) + "\n")
    assert load_corpus(tmp_path).files["c/a.csv"].windows == ((30, 40),)


def test_bad_scores_are_rejected_with_the_file_and_row(one_window: NabCorpus) -> None:
    with pytest.raises(InvalidInputError, match=r"missing: \['cat/a.csv'\]"):
        score_corpus(one_window, {})
    with pytest.raises(InvalidInputError, match=r"not in the corpus: \['cat/b.csv'\]"):
        score_corpus(one_window, {"cat/a.csv": np.zeros(100), "cat/b.csv": np.zeros(3)})
    with pytest.raises(InvalidInputError, match=r"one value per row \(100\); got shape \(99,\)"):
        score_corpus(one_window, {"cat/a.csv": np.zeros(99)})
    with pytest.raises(InvalidInputError, match=r"finite and in \[0, 1\]; row 3 is nan"):
        score_corpus(one_window, {"cat/a.csv": spikes(100, {3: math.nan})})
    with pytest.raises(InvalidInputError, match=r"row 7 is 1.5"):
        score_corpus(one_window, {"cat/a.csv": spikes(100, {7: 1.5})})
    with pytest.raises(InvalidInputError, match=r"must be numeric"):
        score_corpus(one_window, {"cat/a.csv": ["x"] * 100})
    with pytest.raises(InvalidParameterError, match=r"threshold must be a number or None"):
        score_corpus(one_window, {"cat/a.csv": np.zeros(100)}, threshold=math.nan)


def test_from_arrays_rejects_bad_windows_and_keys() -> None:
    with pytest.raises(InvalidInputError, match=r"window \(5, 200\) is not an inclusive row range"):
        NabCorpus.from_arrays({"c/x.csv": np.zeros(100)}, {"c/x.csv": [(5, 200)]})
    with pytest.raises(InvalidInputError, match=r"same keys; only in values: \['c/x.csv'\]"):
        NabCorpus.from_arrays({"c/x.csv": np.zeros(100)}, {})
    with pytest.raises(InvalidInputError, match=r"must be 1-D; got shape \(2, 2\)"):
        NabCorpus.from_arrays({"c/x.csv": np.zeros((2, 2))}, {"c/x.csv": []})


# ---------------------------------------------------------------- results layout


def test_write_then_load_results_round_trips(one_window: NabCorpus, tmp_path: Path) -> None:
    s = np.linspace(0, 1, 100) ** 3
    write_results(tmp_path, "det", one_window, {"cat/a.csv": s})
    path = tmp_path / "det" / "cat" / "det_a.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,label"
    assert lines[41].split(",")[0] == "2020-01-01 03:20:00"
    assert [line.split(",")[-1] for line in lines[40:52]] == ["0"] + ["1"] * 10 + ["0"]
    loaded = load_results_dir(tmp_path, "det", one_window)
    assert np.array_equal(loaded["cat/a.csv"], s)
    write_results(tmp_path, "nolab", one_window, {"cat/a.csv": s}, labels=False)
    assert (tmp_path / "nolab/cat/nolab_a.csv").read_text().startswith("timestamp,value,anomaly_")
    assert "label" not in (tmp_path / "nolab/cat/nolab_a.csv").read_text().splitlines()[0]


def test_load_results_accepts_a_bare_score_column(one_window: NabCorpus, tmp_path: Path) -> None:
    path = tmp_path / "det" / "cat" / "det_a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("anomaly_score\n" + "0.25\n" * 100)
    assert load_results_dir(tmp_path, "det", one_window)["cat/a.csv"].tolist() == [0.25] * 100


def test_load_results_errors(one_window: NabCorpus, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"det_a\.csv does not exist; expected NAB's layout"):
        load_results_dir(tmp_path, "det", one_window)
    path = tmp_path / "det" / "cat" / "det_a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("score\n" + "0.25\n" * 100)
    with pytest.raises(SourceError, match=r"has no 'anomaly_score' column"):
        load_results_dir(tmp_path, "det", one_window)
    path.write_text("anomaly_score\n" + "0.25\n" * 99)
    with pytest.raises(SourceError, match=r"has 99 rows; data/cat/a.csv has 100"):
        load_results_dir(tmp_path, "det", one_window)
    rows = "".join(f"{stamp(i + (i == 30))},0.1\n" for i in range(100))
    path.write_text("timestamp,anomaly_score\n" + rows)
    with pytest.raises(SourceError, match=r"line 32: timestamp '2020-01-01 02:35:00' differs"):
        load_results_dir(tmp_path, "det", one_window)


# ---------------------------------------------------------------- scoreboard and defaults


def test_scoreboard_has_the_published_scores() -> None:
    assert SCOREBOARD["ARTime"] == {
        "standard": 74.85,
        "reward_low_FP_rate": 65.15,
        "reward_low_FN_rate": 80.36,
    }
    assert SCOREBOARD["Numenta HTM"]["reward_low_FP_rate"] == 63.12
    assert SCOREBOARD["Windowed Gaussian"]["standard"] == 39.65
    assert SCOREBOARD["null"]["standard"] == 0.0
    standard = [entry["standard"] for entry in SCOREBOARD.values()]
    assert standard == sorted(standard, reverse=True)


def test_rank_on_scoreboard() -> None:
    assert rank_on_scoreboard(80.0) == 1
    assert rank_on_scoreboard(74.85) == 1  # a tie ranks with the entry
    assert rank_on_scoreboard(72.0) == 2
    assert rank_on_scoreboard(68.0, "reward_low_FP_rate") == 1
    assert rank_on_scoreboard(-5.0) == len(SCOREBOARD) + 1
    with pytest.raises(InvalidParameterError, match=r"profile must be one of .*got 'best'"):
        rank_on_scoreboard(50.0, "best")


def test_default_nab_dir_prefers_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ODDWATCH_NAB_DIR", str(tmp_path / "x"))
    assert default_nab_dir() == tmp_path / "x"


def test_default_nab_dir_looks_beside_the_working_directory(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("ODDWATCH_NAB_DIR", raising=False)
    (tmp_path / "shared" / "data" / "nab").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert default_nab_dir() == (tmp_path / "shared" / "data" / "nab").resolve()


# ---------------------------------------------------------------- the real corpus

NAB_DIR = default_nab_dir()
needs_nab = pytest.mark.skipif(
    NAB_DIR is None,
    reason="NAB corpus not found: set ODDWATCH_NAB_DIR or put it at ../shared/data/nab",
)


@pytest.fixture(scope="module")
def nab() -> NabCorpus:
    assert NAB_DIR is not None
    return load_corpus(NAB_DIR)


@pytest.fixture(scope="module")
def published(nab: NabCorpus) -> dict:
    assert NAB_DIR is not None
    return {
        d: load_results_dir(NAB_DIR / "results", d, nab) for d in ("numenta", "windowedGaussian")
    }


@needs_nab
def test_full_corpus_shape(nab: NabCorpus) -> None:
    assert len(nab.files) == 58
    assert nab.n_windows == 116
    assert sum(f.n_rows for f in nab.files.values()) == 365_558
    assert nab.files["realKnownCause/nyc_taxi.csv"].probationary == 750
    assert all(f.windows == () for k, f in nab.files.items() if k.startswith("artificialNo"))


@needs_nab
def test_null_detector_scores_zero(nab: NabCorpus) -> None:
    result = score_corpus(nab, {k: np.full(f.n_rows, 0.5) for k, f in nab.files.items()})
    assert result.scores == {name: 0.0 for name in PROFILES}
    assert result["reward_low_FN_rate"].raw == -232.0


@needs_nab
def test_perfect_detector_scores_100(nab: NabCorpus) -> None:
    perfect = {k: spikes(f.n_rows, {a: 1.0 for a, _ in f.windows}) for k, f in nab.files.items()}
    result = score_corpus(nab, perfect)
    for name in PROFILES:
        assert result[name].score == pytest.approx(100.0, abs=1e-9)
        assert result[name].raw == pytest.approx(116.0, abs=1e-9)
        assert result[name].fp == 0
        assert result[name].tp == 116


@needs_nab
@pytest.mark.parametrize(
    ("detector", "expected", "threshold", "fp_rows"),
    [
        ("numenta", (70.1011, 63.2092, 74.3202), 0.543099145074, 153),
        ("windowedGaussian", (39.6495, 20.8680, 47.4100), 1.0, 409),
    ],
)
def test_reproduces_published_scores(published, nab, detector, expected, threshold, fp_rows):
    result = score_corpus(nab, published[detector])
    for name, want in zip(PROFILES, expected, strict=True):
        assert result[name].score == pytest.approx(want, abs=1e-4)
        assert result[name].threshold == threshold
        assert result[name].fp == fp_rows


@needs_nab
def test_numenta_low_fp_at_the_old_threshold_gives_the_scoreboard_number(published, nab):
    result = score_corpus(nab, published["numenta"], threshold=0.575196)
    assert round(result["reward_low_FP_rate"].score, 2) == 63.12


@needs_nab
def test_tiny_windows_file_restricts_the_corpus() -> None:
    assert NAB_DIR is not None
    tiny = load_corpus(NAB_DIR, "combined_windows_tiny.json")
    assert sorted(tiny.files) == [
        "realKnownCause/nyc_taxi.csv",
        "realKnownCause/rogue_agent_key_hold.csv",
    ]
    assert tiny.n_windows == 7
    assert tiny.files["realKnownCause/rogue_agent_key_hold.csv"].probationary == 282
