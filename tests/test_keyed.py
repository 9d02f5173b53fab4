"""KeyedMonitor: each key equals a standalone Monitor, LRU eviction, checkpoints, policies."""

from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np
import pytest

from oddwatch import KeyedMonitor, KeyedResult, Monitor, Verdict, load
from oddwatch.detectors import RollingZScore, SeasonalDetector
from oddwatch.errors import CheckpointError, InvalidInputError, InvalidParameterError
from oddwatch.testing import yield_checks

FIELDS = ("score", "threshold", "expected", "scale", "is_anomaly", "is_invalid")


def seasonal():
    return SeasonalDetector(max_season_length=16, warmup=8, smoothing=3)


def zscore():
    return RollingZScore(window_size=5)


TEMPLATES = [pytest.param(seasonal, id="SeasonalDetector"), pytest.param(zscore, id="zscore")]


def stream(n, keys, seed=0):
    """Interleaved seasonal series with spikes and a level shift, one level per key."""
    rng = np.random.default_rng(seed)
    names = rng.choice(keys, n)
    level = {k: 10.0 * i for i, k in enumerate(keys)}
    t = np.arange(n)
    values = np.array([level[k] for k in names]) + 3.0 * np.sin(t / 3.0) + rng.normal(0, 1, n)
    values[rng.choice(n, n // 50, replace=False)] += 12.0
    values[n // 2 :] += 6.0
    return names, values


def feed(monitor, keys, values, seed=1, max_chunk=97):
    """update_many over random chunks (sizes 1..max_chunk); the concatenated fields."""
    rng = np.random.default_rng(seed)
    parts, start = [], 0
    while start < len(values):
        stop = start + int(rng.integers(1, max_chunk + 1))
        parts.append(monitor.update_many(keys[start:stop], values[start:stop]))
        start = stop
    return {f: np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS}


def naive(make_detector, max_keys, keys, values):
    """Reference: an OrderedDict of standalone Monitors, least recently seen first."""
    monitors, evicted = OrderedDict(), 0
    out = {f: [] for f in FIELDS}
    for key, x in zip(keys, values, strict=True):
        key = str(key)
        if key in monitors:
            monitors.move_to_end(key)
        else:
            if len(monitors) == max_keys:
                monitors.popitem(last=False)
                evicted += 1
            monitors[key] = Monitor(make_detector())
        result = monitors[key].update_many([x])
        for f in FIELDS:
            out[f].append(getattr(result, f)[0])
    return {f: np.array(v) for f, v in out.items()}, evicted, list(monitors)


def assert_same(got, want):
    for f in FIELDS:
        assert np.array_equal(got[f], want[f], equal_nan=True), f"field {f} differs"


@pytest.mark.parametrize("make", TEMPLATES)
def test_each_key_is_bit_identical_to_a_standalone_monitor(make):
    names, values = stream(3000, ["web-1", "web-2", "db", "cache"])
    got = feed(KeyedMonitor(make(), max_keys=8), names, values)
    for key in np.unique(names):
        at = names == key
        want = Monitor(make()).update_many(values[at])
        for f in FIELDS:
            assert np.array_equal(got[f][at], getattr(want, f), equal_nan=True), (key, f)
    assert got["is_anomaly"].any() and np.isfinite(got["score"]).any()


@pytest.mark.parametrize("make", TEMPLATES)
@pytest.mark.parametrize("max_keys", [1, 2, 4, 6])
def test_eviction_matches_an_lru_of_standalone_monitors(make, max_keys):
    names, values = stream(1200, ["a", "b", "c", "d", "e", "f"], seed=max_keys)
    monitor = KeyedMonitor(make(), max_keys=max_keys)
    got = feed(monitor, names, values, max_chunk=40)
    want, evicted, order = naive(make, max_keys, names, values)
    assert_same(got, want)
    assert monitor.n_evicted_ == evicted
    assert monitor.keys_ == order
    assert (evicted > 0) == (max_keys < 6)


def test_hash_table_under_churn_with_varied_keys():
    keys = [f"k{i}" for i in range(40)] + ["", "µs", "🙂 cpu", "x" * 50, "1", "01"]
    names, values = stream(4000, keys, seed=7)
    monitor = KeyedMonitor(zscore(), max_keys=13)
    got = feed(monitor, names, values, max_chunk=300)
    want, evicted, order = naive(zscore, 13, names, values)
    assert_same(got, want)
    assert (monitor.n_evicted_, monitor.keys_) == (evicted, order)


@pytest.mark.parametrize("make", TEMPLATES)
def test_chunks_equal_one_by_one(make):
    names, values = stream(900, ["a", "b", "c", "d"], seed=3)
    loop = KeyedMonitor(make(), max_keys=3)
    verdicts = [loop.update(k, x) for k, x in zip(names, values, strict=True)]
    whole = KeyedMonitor(make(), max_keys=3).update_many(names, values)
    chunked = feed(KeyedMonitor(make(), max_keys=3), names, values)
    score = np.array([v.score for v in verdicts])
    assert np.array_equal(score, whole.score, equal_nan=True)
    assert np.array_equal(score, chunked["score"], equal_nan=True)
    assert [v.is_anomaly for v in verdicts] == whole.is_anomaly.tolist()
    assert [v.reason for v in verdicts] == [whole.reason(i) for i in range(len(whole))]


def test_slot_order_sweep_gives_the_same_results(monkeypatch):
    import oddwatch.keyed

    names, values = stream(3000, [f"k{i}" for i in range(30)], seed=4)
    direct = feed(KeyedMonitor(seasonal(), max_keys=20), names, values, max_chunk=400)
    monkeypatch.setattr(oddwatch.keyed, "_SWEEP_BYTES", 0)  # always visit in slot order
    swept = feed(KeyedMonitor(seasonal(), max_keys=20), names, values, max_chunk=400)
    assert_same(swept, direct)
    want, _, _ = naive(seasonal, 20, names, values)
    assert_same(swept, want)


def test_known_keys_are_compared_not_only_hashed():
    monitor = KeyedMonitor(RollingZScore(window_size=2), max_keys=4)
    monitor.update_many(["a", "a", "a"], [1.0, 2.0, 3.0])
    # corrupt the stored key of "a"'s slot: its hash still leads there, its text no longer
    monitor._table[0, 0] = ord("z")
    assert np.isnan(monitor.update("a", 4.0).score)  # a new key, not a's window
    assert monitor.n_keys_ == 2


def test_max_keys_one_restarts_a_key_after_it_is_evicted():
    monitor = KeyedMonitor(RollingZScore(window_size=2), max_keys=1)
    result = monitor.update_many(["a", "a", "b", "a", "a", "a"], [1.0, 2.0, 5.0, 3.0, 4.0, 5.0])
    assert (monitor.n_evicted_, monitor.keys_, monitor.n_keys_) == (2, ["a"], 1)
    # "a" came back at 3.0 with a fresh window: [nan, nan, 3.0] as a new detector gives
    assert np.array_equal(
        result.score[3:], RollingZScore(window_size=2).update_many([3, 4, 5]), equal_nan=True
    )
    assert result.score[5] == 3.0


def test_eviction_order_is_least_recently_seen():
    monitor = KeyedMonitor(zscore(), max_keys=3)
    monitor.update_many(["a", "b", "c"], [1.0, 1.0, 1.0])
    monitor.update("a", 1.0)
    monitor.update("d", 1.0)
    assert (monitor.keys_, monitor.n_evicted_) == (["c", "a", "d"], 1)
    # c is touched; e evicts a, a comes back evicting d, f evicts c
    monitor.update_many(["c", "e", "a", "f"], [1.0, 1.0, 1.0, 1.0])
    assert (monitor.keys_, monitor.n_evicted_) == (["e", "a", "f"], 4)


@pytest.mark.parametrize("make", TEMPLATES)
def test_save_load_and_set_state_continue_bit_for_bit(make, tmp_path):
    names, values = stream(1600, ["a", "b", "c", "d", "e"], seed=5)
    reference = KeyedMonitor(make(), max_keys=4)
    full = feed(reference, names, values)
    half = 800
    monitor = KeyedMonitor(make(), max_keys=4)
    feed(monitor, names[:half], values[:half])
    monitor.save(tmp_path / "keyed.oddwatch")
    restored = load(tmp_path / "keyed.oddwatch")
    other = KeyedMonitor(make(), max_keys=4)
    other.set_state(monitor.get_state())
    assert isinstance(restored, KeyedMonitor) and restored.keys_ == monitor.keys_
    for copy in (restored, other, monitor):
        got = feed(copy, names[half:], values[half:], seed=9)
        for f in FIELDS:
            assert np.array_equal(got[f], full[f][half:], equal_nan=True), f
        assert (copy.n_evicted_, copy.keys_) == (reference.n_evicted_, reference.keys_)
    assert reference.n_evicted_ > 0


def test_state_is_plain_arrays_sized_by_keys_and_bounded():
    monitor = KeyedMonitor(zscore(), max_keys=50)
    names, values = stream(2000, [f"host-{i}" for i in range(30)])
    monitor.update_many(names[:1000], values[:1000])
    state = monitor.get_state()
    assert state["keys"].dtype.kind == "U" and all(a.dtype != object for a in state.values())
    assert {a.shape[0] for k, a in state.items() if k != "counters"} == {30}
    nbytes = monitor.nbytes_
    monitor.update_many(np.resize(names, 20_000), np.resize(values, 20_000))
    assert monitor.nbytes_ == nbytes


def test_bad_checkpoints_are_rejected_with_the_field_named():
    monitor = KeyedMonitor(zscore(), max_keys=4)
    monitor.update_many(["a", "b", "c"], [1.0, 2.0, 3.0])
    good = monitor.get_state()
    cases = [
        ({k: v for k, v in good.items() if k != "last_seen"}, r"missing \['last_seen'\]"),
        ({**good, "detector.window": good["detector.window"][:2]}, "`detector.window`"),
        ({**good, "keys": np.array(["a", "b", "a"])}, "lists a key twice"),
        ({**good, "keys": np.array([1, 2, 3])}, "`keys` of KeyedMonitor must be a 1-D str"),
    ]
    for state, message in cases:
        with pytest.raises(CheckpointError, match=message):
            KeyedMonitor(zscore(), max_keys=4).set_state(state)
    with pytest.raises(CheckpointError, match="holds 3 keys .* max_keys=2"):
        KeyedMonitor(zscore(), max_keys=2).set_state(good)


def test_invalid_values_raise_by_default_and_change_nothing():
    monitor = KeyedMonitor(zscore())
    with pytest.raises(InvalidInputError, match="got nan for key 'b' at index 1; .*'skip'"):
        monitor.update_many(["a", "b"], [1.0, float("nan")])
    with pytest.raises(InvalidInputError, match="got 'abc' for key 'a' at index 0"):
        monitor.update("a", "abc")
    assert (monitor.n_seen_, monitor.n_keys_) == (0, 0)


@pytest.mark.parametrize("policy", ["skip", "flag"])
def test_invalid_values_are_skipped_or_flagged_never_learned(policy):
    names, values = stream(600, ["a", "b", "c"], seed=2)
    bad = values.astype(object)
    bad[[5, 50, 400]] = [float("nan"), "oops", float("inf")]
    monitor = KeyedMonitor(zscore(), on_invalid=policy)
    result = monitor.update_many(np.append(names, "only-bad"), np.append(bad, None))
    invalid = np.zeros(601, dtype=bool)
    invalid[[5, 50, 400, 600]] = True
    assert np.array_equal(result.is_invalid, invalid)
    assert np.isnan(result.score[invalid]).all()
    assert np.array_equal(result.is_anomaly[invalid], np.full(4, policy == "flag"))
    assert (monitor.n_skipped_, monitor.n_invalid_flagged_) == (
        (4, 0) if policy == "skip" else (0, 4)
    )
    assert monitor.n_seen_ == 601 and "only-bad" not in monitor.keys_
    if policy == "flag":
        assert result.reason(600) == "missing value"
    for key in "abc":
        at = (names == key) & ~invalid[:600]
        want = Monitor(zscore()).update_many(values[at])
        assert np.array_equal(result.score[:600][at], want.score, equal_nan=True)


def test_update_returns_a_verdict_and_results_carry_keys():
    monitor = KeyedMonitor(seasonal())
    result = monitor.update_many(np.array([1, 2, 1]), [1.0, 2.0, 3.0])
    assert isinstance(result, KeyedResult) and result.key.tolist() == ["1", "2", "1"]
    assert monitor.keys_ == ["2", "1"]
    verdict = monitor.update("1", 4.0)
    assert isinstance(verdict, Verdict) and verdict.value == 4.0 and monitor.n_keys_ == 2
    assert len(monitor.update_many([], [])) == 0 and monitor.n_seen_ == 4


def test_empty_batch_changes_nothing():
    monitor = KeyedMonitor(zscore())
    monitor.update_many(["a", "b", "a"], [1.0, 2.0, 3.0])
    before = monitor.get_state()
    result = monitor.update_many(np.array([], dtype=str), np.array([]))
    assert len(result) == 0 and result.key.shape == (0,)
    after = monitor.get_state()
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_reason_names_the_expected_value():
    names, values = stream(400, ["a", "b"])
    values[-1] += 50.0
    result = KeyedMonitor(seasonal()).update_many(names, values)
    assert result.is_anomaly[-1]
    assert "sd above the expected" in result.reason(len(values) - 1)


def test_update_frame():
    pd = pytest.importorskip("pandas")
    names, values = stream(300, ["a", "b"])
    values[-1] += 80.0
    frame = pd.DataFrame({"host": names, "cpu": values}, index=np.arange(300) * 10)
    out = KeyedMonitor(seasonal(), alarm=None).update_frame(frame, "host", "cpu")
    want = KeyedMonitor(seasonal(), alarm=None).update_many(names, values)
    assert out.columns.tolist() == ["score", "threshold", "is_anomaly", "reason"]
    assert out.index.equals(frame.index)
    assert np.array_equal(out["score"].to_numpy(), want.score, equal_nan=True)
    assert out["reason"].iloc[-1] == want.reason(299) != ""
    worded = want.is_anomaly | want.warming_up  # flagged, or left unscored by the warm-up
    assert out["reason"].tolist() == [want.reason(i) if worded[i] else "" for i in range(300)]
    assert (out["reason"] == "").sum() == 300 - int(worded.sum()) < 300 - want.n_anomalies
    with pytest.raises(InvalidInputError, match="no column 'mem' in the frame"):
        KeyedMonitor().update_frame(frame, "host", "mem")


def test_update_frame_without_pandas_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'oddwatch\[pandas\]'"):
        KeyedMonitor().update_frame(object(), "host", "cpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"detector": "zscore"}, r"`detector` of KeyedMonitor must be an oddwatch Detector"),
        ({"threshold": 0.8}, "`threshold` of KeyedMonitor must be an oddwatch Threshold"),
        ({"alarm": 3}, "`alarm` of KeyedMonitor must be an oddwatch AlarmPolicy"),
        ({"max_keys": 0}, r"`max_keys` of KeyedMonitor must be an int >= 1; got 0\."),
        ({"on_invalid": "ignore"}, "`on_invalid` of KeyedMonitor must be one of 'raise'"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        KeyedMonitor(**kwargs)


@pytest.mark.parametrize(
    ("keys", "values", "message"),
    [
        (["a"], [1.0, 2.0], r"one key per value: 2 values but keys of shape \(1,\)"),
        ([["a", "b"]], [1.0, 2.0], r"keys of shape \(1, 2\)"),
        ("ab", [1.0, 2.0], "expects a sequence of keys; got one str 'ab'"),
        (["a", "b"], [[1.0], [2.0]], "KeyedMonitor.update_many expects a 1-D sequence"),
        (["a"], "1", "KeyedMonitor.update_many expects a 1-D sequence of numbers; got str"),
    ],
)
def test_bad_batches_are_explained(keys, values, message):
    monitor = KeyedMonitor()
    with pytest.raises(InvalidInputError, match=message):
        monitor.update_many(keys, values)
    assert monitor.n_seen_ == 0


class _OneKey:
    """A KeyedMonitor fed under one key, seen as a single series by the generic checks."""

    _param_specs = KeyedMonitor._param_specs

    def __init__(self, **params):
        self.monitor = KeyedMonitor(**params)

    def get_params(self):
        return self.monitor.get_params()

    def clone(self):
        return _OneKey(**self.monitor.clone().get_params())

    def update(self, x):
        return self.monitor.update("series", x)

    def update_many(self, xs):
        return self.monitor.update_many(["series"] * len(xs), xs)

    def get_state(self):
        return self.monitor.get_state()

    def set_state(self, state):
        self.monitor.set_state(state)


ADAPTER_WAIVERS = {
    "checkpoint_continues": "load() returns the KeyedMonitor itself; tested above with keys",
    "docstring_example": "checked on KeyedMonitor by tests/test_conformance.py",
    "empty_input": "its state comparison uses equal_nan, which numpy rejects for the str "
    "`keys` array; see test_empty_batch_changes_nothing",
    "keyed_equals_standalone": "the adapter is keyed already; tests/test_conformance.py runs "
    "this check for every registered detector and threshold",
}
ADAPTER_CASES = [
    pytest.param(make, name, id=f"OneKey[{label}]:{name}")
    for make, label in ((seasonal, "SeasonalDetector"), (zscore, "RollingZScore"))
    for name, _ in yield_checks(lambda make=make: _OneKey(detector=make()), ADAPTER_WAIVERS)
]


@pytest.mark.parametrize(("make", "check_name"), ADAPTER_CASES)
def test_one_key_passes_the_conformance_suite(make, check_name):
    checks = dict(yield_checks(lambda: _OneKey(detector=make()), ADAPTER_WAIVERS))
    checks[check_name]()


def test_update_point_by_point_equals_update_many_with_evictions():
    rng = np.random.default_rng(11)
    keys = [f"key-{i % 7}" if i % 13 else "a-much-longer-key-name" for i in range(2000)]
    values = rng.normal(10.0, 1.0, 2000)
    values[[500, 1500]] += 20.0
    batch = KeyedMonitor(seasonal(), max_keys=5).update_many(keys, values)
    one = KeyedMonitor(seasonal(), max_keys=5)
    verdicts = [one.update(k, float(v)) for k, v in zip(keys, values, strict=True)]
    np.testing.assert_array_equal(batch.score, [v.score for v in verdicts])
    np.testing.assert_array_equal(batch.threshold, [v.threshold for v in verdicts])
    assert batch.is_anomaly.tolist() == [v.is_anomaly for v in verdicts]
    twin = KeyedMonitor(seasonal(), max_keys=5)
    twin.update_many(keys, values)
    assert one.n_evicted_ == twin.n_evicted_ > 0 and one.n_seen_ == 2000
    assert one.keys_ == twin.keys_


def test_update_falls_back_to_the_checked_path_for_other_inputs():
    monitor = KeyedMonitor(seasonal(), on_invalid="skip")
    assert monitor.update("a", 1).value == 1.0  # int value
    assert monitor.update(7, 2.0).value == 2.0  # key converted to "7"
    assert np.isnan(monitor.update("a", float("nan")).score)
    assert monitor.n_skipped_ == 1 and monitor.n_seen_ == 3 and sorted(monitor.keys_) == ["7", "a"]


def test_a_reason_depends_only_on_its_own_keys_values():
    # issue 14: b's last value equals a's value just before it in the batch, but b itself
    # never repeated a value, so b's reason is what b alone would get (not "stuck")
    keys = ["a", "b"] * 7
    values = [1.0, 10.0, 2.0, 11.0] * 3 + [7.0, 7.0]
    keyed = KeyedMonitor(RollingZScore(window_size=4)).update_many(keys, values)
    alone = Monitor(RollingZScore(window_size=4)).update_many(values[1::2])
    assert keyed.is_anomaly[13] and alone.is_anomaly[6]
    assert keyed.reason(13) == alone.reason(6)
    assert "stuck" not in keyed.reason(13)
    point = KeyedMonitor(RollingZScore(window_size=4))
    verdicts = [point.update(k, x) for k, x in zip(keys, values, strict=True)]
    assert verdicts[13].reason == alone.reason(6)


def test_a_key_stuck_across_batches_is_still_reported_stuck():
    names, values = stream(1200, ["a", "b"], seed=5)
    at_a = np.flatnonzero(names == "a")
    values[at_a[400:430]] = values[at_a[399]]
    whole = KeyedMonitor(SeasonalDetector(season_length=0)).update_many(names, values)
    stuck = [i for i in at_a[400:430] if whole.is_anomaly[i]]
    assert stuck and whole.reason(stuck[0]).endswith("has stopped changing (stuck value)")
    split = KeyedMonitor(SeasonalDetector(season_length=0))
    split.update_many(names[: stuck[0]], values[: stuck[0]])
    rest = split.update_many(names[stuck[0] :], values[stuck[0] :])
    assert rest.reason(0) == whole.reason(stuck[0])
