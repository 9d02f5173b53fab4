"""River interop both ways: River's own estimator checks, exactness, purity, the pickle opt-in."""

from __future__ import annotations

import functools
import importlib
import json
import sys
import zipfile

import numpy as np
import pytest

from .servers import need

river = need("river")
need("sklearn")  # River's ROC AUC check uses it

from river import anomaly, checks, compose, preprocessing  # noqa: E402

from oddwatch import Monitor, load  # noqa: E402
from oddwatch.alarms import EveryPoint, QuietPeriod  # noqa: E402
from oddwatch.detectors import RollingZScore  # noqa: E402
from oddwatch.errors import (  # noqa: E402
    CheckpointError,
    InvalidInputError,
    InvalidParameterError,
)
from oddwatch.persist import FORMAT, FORMAT_VERSION, meta_digest, registered_kinds  # noqa: E402
from oddwatch.river import (  # noqa: E402
    OddwatchAnomalyDetector,
    RiverDetector,
    RiverMonitor,
    load_pickle,
    save_pickle,
)
from oddwatch.thresholds import SPOT, FixedThreshold, QuantileThreshold  # noqa: E402


def labelled_stream(n: int = 1000, seed: int = 7) -> list[tuple[dict, bool]]:
    """Dicts with a `value` feature and 4 noise features; every 50th value is a spike."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        spike = i % 50 == 49
        x = {"value": float(rng.normal(10, 1) + (12 if spike else 0))}
        x.update({f"noise{j}": float(rng.normal()) for j in range(4)})
        rows.append((x, spike))
    return rows


def river_checks():
    """River's checks for our adapter, one pytest case per (params, check)."""
    cases = []
    for k, params in enumerate(OddwatchAnomalyDetector._unit_test_params()):
        model = OddwatchAnomalyDetector(**params)
        for check in checks.yield_checks(model):
            name = check.__name__
            if name in model._unit_test_skips():
                continue
            cases.append(pytest.param(params, check, id=f"{k}:{name}"))
    return cases


@pytest.mark.parametrize("params, check", river_checks())
def test_river_estimator_checks(params, check):
    """River's `check_estimator`, with our labelled stream in place of CreditCard.

    River's anomaly checks read `datasets.CreditCard`, a download; this machine (and CI) has no
    internet, so each dataset check runs on `labelled_stream` instead (1,000 points, 10,000 for
    the memory check, as River scales it). Every other check runs exactly as River ships it.
    """
    model = OddwatchAnomalyDetector(**params)
    if isinstance(check, functools.partial) and "dataset" in check.keywords:
        n = 10_000 if check.func.__name__ == "check_bounded_memory_growth" else 1000
        check.func(model.clone(), dataset=labelled_stream(n))
    else:
        check(model.clone())


def test_river_checks_cover_the_anomaly_checks():
    names = {p.values[1].__name__ for p in river_checks()}
    assert {"check_roc_auc", "check_predict_one_pure", "check_learn_one", "check_pickling"} <= names


@pytest.mark.parametrize("wrap", [False, True])
def test_adapter_scores_equal_update_many(wrap):
    xs = [x["value"] for x, _ in labelled_stream(300)]
    inner = Monitor(RollingZScore(window_size=16)) if wrap else RollingZScore(window_size=16)
    model = OddwatchAnomalyDetector(inner, default_score=-1.0)
    scores = []
    for v in xs:
        scores.append(model.score_one({"value": v}))
        assert model.learn_one({"value": v}) is None
    reference = RollingZScore(window_size=16).update_many(xs)
    expected = np.where(np.isnan(reference), -1.0, reference)
    np.testing.assert_array_equal(scores, expected)


def test_score_one_leaves_a_monitor_untouched():
    model = OddwatchAnomalyDetector(Monitor(RollingZScore(window_size=4)))
    for v in [1.0, 2.0, 1.5, 1.7, 1.6]:
        model.learn_one({"value": v})
    before = model.detector_.get_state()
    assert model.score_one({"value": 50.0}) > 4
    after = model.detector_.get_state()
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_missing_feature_is_counted_not_learned():
    model = OddwatchAnomalyDetector(RollingZScore(window_size=2), feature="cpu")
    model.learn_one({"mem": 3.0})
    assert model.n_missing_ == 1 and model.detector_.n_seen_ == 0
    assert model.score_one({"mem": 3.0}) == 0.0


def test_clone_is_fresh_and_leaves_the_original_alone():
    det = RollingZScore(window_size=2)
    model = OddwatchAnomalyDetector(det)
    for v in [1.0, 2.0, 3.0]:
        model.learn_one({"value": v})
    clone = model.clone()
    assert clone.detector_.n_seen_ == 0 and det.n_seen_ == 3
    assert clone.detector_ is not det
    assert repr(clone) == repr(model)


def test_adapter_rejects_a_non_oddwatch_detector():
    with pytest.raises(InvalidParameterError, match="must be an oddwatch Detector or Monitor"):
        OddwatchAnomalyDetector(anomaly.HalfSpaceTrees())


def test_wrapped_detector_checkpoints_without_pickle(tmp_path):
    model = OddwatchAnomalyDetector(RollingZScore(window_size=4))
    for v in [1.0, 2.0, 1.5, 1.7, 1.6]:
        model.learn_one({"value": v})
    model.detector_.save(tmp_path / "z.oddwatch")
    restored = OddwatchAnomalyDetector(load(tmp_path / "z.oddwatch"))
    assert restored.score_one({"value": 9.0}) == model.score_one({"value": 9.0})


def test_adapter_inside_river_quantile_filter_and_pipeline():
    model = compose.Pipeline(
        preprocessing.StandardScaler(),
        anomaly.QuantileFilter(OddwatchAnomalyDetector(RollingZScore(window_size=16)), q=0.98),
    )
    flagged = []
    for x, _ in labelled_stream(500):
        score = model.score_one(x)
        flagged.append(model["QuantileFilter"].classify(score))
        model.learn_one(x)
    spikes = [i for i, (_, s) in enumerate(labelled_stream(500)) if s]
    assert sum(flagged[i] for i in spikes[2:]) >= len(spikes[2:]) - 1


# ---- RiverDetector: a River model inside oddwatch ------------------------------------------


def hst(seed: int = 3) -> RiverDetector:
    model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
        n_trees=5, height=6, window_size=20, seed=seed
    )
    return RiverDetector(model, warmup=20)


def series(n: int = 200) -> np.ndarray:
    xs = np.random.default_rng(5).normal(10, 1, 200)
    xs[150] = 30.0
    return xs[:n]


def test_river_detector_chunked_equals_one_by_one():
    xs = series()
    det = hst()
    one = np.array([det.update(x) for x in xs])
    whole = hst().update_many(xs)
    chunked_det = hst()
    chunked = np.concatenate(
        [chunked_det.update_many(xs[a:b]) for a, b in [(0, 1), (1, 57), (57, 200)]]
    )
    np.testing.assert_array_equal(one, whole)
    np.testing.assert_array_equal(one, chunked)
    assert np.isnan(one[:20]).all() and np.isfinite(one[20:]).all()


def test_river_detector_is_causal_and_score_is_pure():
    xs = series()
    changed = xs.copy()
    changed[100:] += 50
    np.testing.assert_array_equal(hst().update_many(xs)[:100], hst().update_many(changed)[:100])
    det = hst()
    det.update_many(xs[:50])
    assert det.score(12.0) == det.score(12.0) == det.update(12.0)
    assert det.n_seen_ == 51


def test_river_detector_in_a_river_monitor():
    """The RiverMonitor scores with the River model and applies its threshold to the scores.

    (How well River's HalfSpaceTrees ranks a lone spike in one feature is River's business: it
    saturates near 1 on tails, so this checks the plumbing and that the spike ranks high.)
    """
    params = {"seed": 1, "window_size": 50}
    mon = RiverMonitor(RiverDetector.from_name("HalfSpaceTrees", params))
    xs = np.random.default_rng(2).normal(10, 1, 3000)
    xs[2500] = 40.0
    result = mon.update_many(xs)
    alone = RiverDetector.from_name("HalfSpaceTrees", params).update_many(xs)
    np.testing.assert_array_equal(result.score, alone)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(result.is_anomaly, result.score > result.threshold)
    assert not result.is_anomaly[:50].any() and np.isnan(result.score[:50]).all()
    assert result.score[2500] > np.nanquantile(result.score, 0.99)
    assert 0 < result.n_anomalies < 15


def test_river_detector_bad_input():
    det = hst()
    with pytest.raises(InvalidInputError, match="RiverDetector got nan; values must be finite"):
        det.update(float("nan"))
    with pytest.raises(InvalidInputError, match="expects a 1-D sequence"):
        det.update_many([[1.0, 2.0]])
    result = RiverMonitor(hst(), on_invalid="skip").update_many([1.0, float("nan"), 2.0])
    assert np.isnan(result.score[1]) and not result.is_anomaly[1]
    with pytest.raises(InvalidParameterError, match="`model` of RiverDetector must be a River"):
        RiverDetector(RollingZScore())
    with pytest.raises(InvalidParameterError, match="`warmup` of RiverDetector must be an int"):
        RiverDetector(warmup=-1)


def test_from_name_is_closed_world():
    assert RiverDetector.from_name("LODA", {"seed": 1}, scaler=None).warmup == 0
    with pytest.raises(InvalidParameterError, match="unknown River anomaly detector 'os'"):
        RiverDetector.from_name("os")
    # supervised scorers need a target per point: not offered
    with pytest.raises(InvalidParameterError, match="unknown River anomaly detector"):
        RiverDetector.from_name("GaussianScorer")
    with pytest.raises(InvalidParameterError, match="unknown River preprocessing transformer"):
        RiverDetector.from_name("HalfSpaceTrees", scaler="Nope")
    with pytest.raises(InvalidParameterError, match="cannot build river.anomaly.HalfSpaceTrees"):
        RiverDetector.from_name("HalfSpaceTrees", {"no_such": 1})


def test_river_detector_is_registered():
    assert registered_kinds()["RiverDetector"] is RiverDetector


def test_clone_gives_an_untrained_copy():
    det = hst()
    det.update_many(series(50))
    clone = det.clone()
    assert clone.n_seen_ == 0
    np.testing.assert_array_equal(clone.update_many(series()), hst().update_many(series()))


# ---- checkpoints: refused, unless the caller opts in to pickle -----------------------------


def test_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="River keeps a model's state only as pickle"):
        hst().save(tmp_path / "m.oddwatch")
    for mon in (Monitor(hst()), RiverMonitor(hst())):
        with pytest.raises(CheckpointError, match="got allow_pickle=False. If you trust every"):
            mon.save(tmp_path / "m.oddwatch")
        with pytest.raises(CheckpointError, match="River keeps a model's state only as pickle"):
            mon.get_state()
    assert not list(tmp_path.iterdir())


def test_monitor_save_with_allow_pickle_continues_the_run(tmp_path):
    mon = Monitor(hst())
    mon.update_many(series(100))
    mon.save(tmp_path / "m.pickle", allow_pickle=True)
    with pytest.raises(CheckpointError, match="not an oddwatch checkpoint"):
        load(tmp_path / "m.pickle")
    restored = load_pickle(tmp_path / "m.pickle", allow_pickle=True)
    assert type(restored) is Monitor
    rest = series()[100:]
    a, b = restored.update_many(rest), mon.update_many(rest)
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.is_anomaly, b.is_anomaly)


def test_pickle_needs_the_opt_in_both_ways(tmp_path):
    mon = RiverMonitor(hst())
    mon.update_many(series(100))
    path = tmp_path / "m.pickle"
    with pytest.raises(CheckpointError, match="saving a River model means pickle"):
        save_pickle(mon, path)
    with pytest.raises(CheckpointError, match="allow_pickle=False"):
        save_pickle(mon, path, allow_pickle="yes")
    assert not path.exists()
    save_pickle(mon, path, allow_pickle=True)
    with pytest.raises(CheckpointError, match="loading a River model means pickle"):
        load_pickle(path)
    restored = load_pickle(path, allow_pickle=True)
    rest = series()[100:]
    np.testing.assert_array_equal(restored.update_many(rest).score, mon.update_many(rest).score)


def test_oddwatch_load_never_unpickles(tmp_path):
    save_pickle(RiverMonitor(hst()), tmp_path / "m.pickle", allow_pickle=True)
    with pytest.raises(CheckpointError, match="not an oddwatch checkpoint"):
        load(tmp_path / "m.pickle")


def _rewrite(path, meta=None, body=None):
    with zipfile.ZipFile(path) as zf:
        old_meta, old_body = json.loads(zf.read("meta.json")), zf.read("object.pickle")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps({**old_meta, **(meta or {})}))
        zf.writestr("object.pickle", old_body if body is None else body)


@pytest.mark.parametrize(
    "meta, body, message",
    [
        ({"river": "0.1.0"}, None, r"written with River 0.1.0, but River .* is installed"),
        ({"version": 9}, None, "pickle file version 9 is not readable"),
        ({"format": "x"}, None, "not an oddwatch pickle file"),
        (None, b"\x80\x04N.", "fails its checksum"),
        ({"kind": "RollingZScore"}, None, "holds a RiverMonitor, not the RollingZScore"),
    ],
)
def test_load_pickle_checks_the_file(tmp_path, meta, body, message):
    path = tmp_path / "m.pickle"
    save_pickle(RiverMonitor(hst()), path, allow_pickle=True)
    _rewrite(path, meta, body)
    with pytest.raises(CheckpointError, match=message):
        load_pickle(path, allow_pickle=True)


def test_load_pickle_on_garbage(tmp_path):
    (tmp_path / "x").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not an oddwatch pickle file"):
        load_pickle(tmp_path / "x", allow_pickle=True)
    with pytest.raises(CheckpointError, match="no such file"):
        load_pickle(tmp_path / "nope", allow_pickle=True)


def test_a_crafted_checkpoint_naming_river_detector_is_rejected(tmp_path):
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "library": "0.1.0",
        "kind": "RiverDetector",
        "params": {"model": {"learn_one": 1}, "warmup": 0},
        "extra": {},
        "arrays": {},
    }
    meta["meta_sha256"] = meta_digest(meta)
    with zipfile.ZipFile(tmp_path / "evil.oddwatch", "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot rebuild RiverDetector"):
        load(tmp_path / "evil.oddwatch")
    meta["params"] = {"model": None, "warmup": 0}
    meta["meta_sha256"] = meta_digest(meta)
    with zipfile.ZipFile(tmp_path / "evil.oddwatch", "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
    with pytest.raises(CheckpointError, match="River keeps a model's state only as pickle"):
        load(tmp_path / "evil.oddwatch")


def test_missing_river_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("oddwatch.river")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "river", None)
    with pytest.raises(ImportError, match=r"pip install 'oddwatch\[river\]'"):
        importlib.import_module("oddwatch.river")


def test_keyed_monitor_points_to_one_monitor_per_series():
    from oddwatch import KeyedMonitor

    with pytest.raises(InvalidParameterError, match="one Monitor per series"):
        KeyedMonitor(hst()).update_many(["a"], [1.0])


def test_river_monitor_policies_and_counts():
    mon = RiverMonitor(hst(), on_invalid="flag")
    result = mon.update_many(np.r_[series(60), np.nan])
    assert result.is_anomaly[-1] and result.is_invalid[-1] and result.reason(60) == "missing value"
    assert mon.n_invalid_flagged_ == 1 and mon.n_skipped_ == 0 and mon.n_seen_ == 61
    with pytest.raises(InvalidInputError, match="Monitor.update_many got nan at index 1"):
        RiverMonitor(hst()).update_many([1.0, float("nan")])
    with pytest.raises(InvalidParameterError, match="`detector` of RiverMonitor must be a"):
        RiverMonitor(RollingZScore())
    assert repr(RiverMonitor(hst()).clone()).startswith("RiverMonitor(detector=RiverDetector(")


def test_river_monitor_one_by_one_equals_chunks():
    xs = series()
    one = RiverMonitor(hst())
    verdicts = [one.update(float(x)) for x in xs]
    whole = RiverMonitor(hst()).update_many(xs)
    np.testing.assert_array_equal([v.score for v in verdicts], whole.score)
    np.testing.assert_array_equal([v.is_anomaly for v in verdicts], whole.is_anomaly)


def test_a_bad_value_in_a_chunk_learns_nothing():
    det = hst()
    with pytest.raises(InvalidInputError, match="RiverDetector got nan"):
        det.update_many([1.0, 2.0, float("nan")])
    assert det.n_seen_ == 0


def test_conformance_suite_with_its_waivers():
    """oddwatch.testing's checks that apply to a River model pass; the waived ones say why."""
    from oddwatch.testing import yield_checks

    checks = dict(yield_checks(lambda: RiverDetector(**RiverDetector._test_params())))
    assert {"causal", "chunks_equal_one_by_one", "clone_is_fresh", "bad_input_raises"} <= set(
        checks
    )
    for check in checks.values():
        check()
    assert set(RiverDetector._waivers) == {
        "bounded_state",
        "checkpoint_continues",
        "empty_input",
        "keyed_equals_standalone",
        "score_is_pure",
    }


# ---- any River detector inside a Monitor: validation, threshold and alarm stage ------------


def reference(xs, threshold, alarm, on_invalid="skip"):
    """Scores from a RiverDetector alone, then the threshold and the alarm stage run apart.

    The Monitor's contract, built from the components' own ``update_many``: invalid points are
    never scored, learned or flagged (flagged as invalid under ``"flag"``).
    """
    xs = np.asarray(xs, dtype=float)
    valid = np.isfinite(xs)
    scores = np.full(xs.shape[0], np.nan)
    scores[valid] = hst().update_many(xs[valid])
    levels = np.full(xs.shape[0], np.nan)
    levels[valid] = threshold.update_many(scores[valid])
    alarm.bind("rank")
    reported = np.full(xs.shape[0], np.nan)
    reported[valid] = alarm.update_many(scores[valid], levels[valid])
    with np.errstate(invalid="ignore"):
        flags = reported > levels
    if on_invalid == "flag":
        flags |= ~valid
    return reported, levels, flags


@pytest.mark.parametrize(
    "make_threshold, make_alarm, on_invalid",
    [
        (lambda: QuantileThreshold(q=0.98, window_size=100), lambda: EveryPoint(), "skip"),
        (lambda: FixedThreshold(0.9), lambda: QuietPeriod(quiet_period=10), "flag"),
        (lambda: SPOT(risk=1e-2, init_size=200, level=0.9), lambda: EveryPoint(), "skip"),
    ],
)
def test_monitor_runs_a_river_detector_like_its_parts(make_threshold, make_alarm, on_invalid):
    xs = np.r_[series(), series()[::-1], series()]
    xs[[3, 70, 333]] = np.nan
    mon = Monitor(hst(), make_threshold(), on_invalid=on_invalid, alarm=make_alarm())
    chunks = [mon.update_many(xs[a:b]) for a, b in [(0, 1), (1, 97), (97, 98), (98, 600)]]
    score = np.concatenate([c.score for c in chunks])
    level = np.concatenate([c.threshold for c in chunks])
    flags = np.concatenate([c.is_anomaly for c in chunks])
    want_score, want_level, want_flags = reference(xs, make_threshold(), make_alarm(), on_invalid)
    np.testing.assert_array_equal(score, want_score)
    valid = np.isfinite(xs)
    np.testing.assert_array_equal(level[valid], want_level[valid])
    np.testing.assert_array_equal(flags, want_flags)
    assert flags.any() and mon.n_seen_ == 600
    assert (mon.n_skipped_, mon.n_invalid_flagged_) == ((3, 0) if on_invalid == "skip" else (0, 3))
    one = Monitor(hst(), make_threshold(), on_invalid=on_invalid, alarm=make_alarm())
    verdicts = [one.update(float(x)) for x in xs]
    np.testing.assert_array_equal([v.score for v in verdicts], score)
    np.testing.assert_array_equal([v.is_anomaly for v in verdicts], flags)


def test_monitor_defaults_for_a_river_detector():
    mon = Monitor(hst())
    assert repr(mon.threshold_) == repr(QuantileThreshold()) and type(mon.alarm_) is EveryPoint
    assert repr(mon.clone()).startswith("Monitor(detector=RiverDetector(")
    with pytest.raises(InvalidInputError, match="Monitor.update got 'x'"):
        mon.update("x")
    assert mon.n_seen_ == 0 and mon.detector_.n_seen_ == 0


class Doubler:
    """A Python detector that is not River: the protocol Monitor needs, and no more."""

    runs_in_python = True
    score_scale = "sd"

    def __init__(self):
        self.seen = 0

    def update_many(self, xs):
        self.seen += len(xs)
        return 2.0 * np.asarray(xs)


def test_monitor_takes_any_python_detector(tmp_path):
    mon = Monitor(Doubler(), FixedThreshold(5.0), on_invalid="skip")
    result = mon.update_many([1.0, np.nan, 3.0])
    assert result.score.tolist()[::2] == [2.0, 6.0] and result.is_anomaly.tolist() == [
        False,
        False,
        True,
    ]
    assert mon.detector_.seen == 2 and mon.n_skipped_ == 1
    with pytest.raises(CheckpointError, match="Doubler offers no way to save it"):
        mon.save(tmp_path / "d", allow_pickle=True)
    with pytest.raises(InvalidParameterError, match="must be an oddwatch Detector"):
        Monitor(object())
