"""IsolationForest: kernels against tests/naive.py, score range, ranking, rebuild schedule."""

from __future__ import annotations

import numpy as np
import pytest
from naive import (
    isolation_average_path_length,
    isolation_path_length,
    isolation_score,
    shingle,
)

from oddwatch.detectors import IsolationForest
from oddwatch.detectors.isolation_forest import _average_path_length, _path_length
from oddwatch.errors import InvalidParameterError


def _wave(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) / 4.0) + rng.normal(0.0, 0.1, n)


def _just_grown(range_aware, seed=0):
    """A forest right at the end of warm-up, with window_size == max_samples: every tree's
    sample is then the whole window, so the naive version can recompute each node's rows."""
    det = IsolationForest(
        window_size=64,
        n_trees=6,
        max_samples=64,
        shingle_size=3,
        range_aware=range_aware,
        seed=seed,
    )
    det.update_many(_wave(64 + 2, seed))
    assert det.warm_
    return det, det.get_state()


def _probes(window, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = window.min(axis=0), window.max(axis=0)
    inside = rng.uniform(lo, hi, size=(40, window.shape[1]))
    outside = rng.uniform(lo - 3 * (hi - lo), hi + 3 * (hi - lo), size=(40, window.shape[1]))
    return np.vstack([window[:10], inside, outside, [hi + 1e6], [lo - 1e6]])


def test_average_path_length_matches_naive():
    for n in range(300):
        assert _average_path_length(n) == pytest.approx(isolation_average_path_length(n), 1e-14)


@pytest.mark.parametrize("range_aware", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_path_length_matches_naive_on_fixed_trees(range_aware, seed):
    _, st = _just_grown(range_aware, seed)
    window, feature, threshold = st["window"], st["feature"], st["threshold"]
    assert (feature[:, 0] >= 0).all()  # every tree has grown past its root
    for x in _probes(window, seed):
        for t in range(feature.shape[0]):
            fast = _path_length(feature, threshold, st["lower"], st["upper"], t, x, range_aware)
            slow = isolation_path_length(x, feature[t], threshold[t], window, range_aware)
            assert fast == pytest.approx(slow, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("range_aware", [True, False])
def test_score_matches_naive_on_the_current_shingle(range_aware):
    det, st = _just_grown(range_aware)
    for x in [0.0, 0.7, -1.2, 3.0, -50.0, 1e6]:
        features = shingle(np.append(st["recent"][1:], x), differences=True)
        expected = isolation_score(
            features, st["feature"], st["threshold"], st["window"], range_aware
        )
        assert det.score(x) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("range_aware", [True, False])
def test_scores_are_in_unit_interval_and_nan_only_in_warm_up(range_aware):
    det = IsolationForest(
        window_size=128, n_trees=16, max_samples=64, shingle_size=4, range_aware=range_aware
    )
    xs = _wave(2000)
    xs[::97] += 25.0
    warm_up = 64 + 4 - 1
    det.update_many(xs[: warm_up - 1])
    assert not det.warm_
    det.update(float(xs[warm_up - 1]))
    assert det.warm_
    scores = IsolationForest(**det.get_params()).update_many(xs)
    assert np.isnan(scores[:warm_up]).all()
    assert np.isfinite(scores[warm_up:]).all()
    assert scores[warm_up:].min() > 0.0
    assert scores[warm_up:].max() <= 1.0


@pytest.mark.parametrize("range_aware", [True, False])
def test_obvious_outliers_score_higher_than_inliers(range_aware):
    xs = _wave(3000, seed=3)
    spikes = np.arange(1000, 3000, 250)
    xs[spikes] += np.where(np.arange(spikes.size) % 2, 3.0, -3.0)
    scores = IsolationForest(range_aware=range_aware).update_many(xs)
    echo = np.zeros(xs.size, dtype=bool)  # a spike stays in the next 3 shingles
    for s in spikes:
        echo[s : s + 4] = True
    inliers = scores[600:][~echo[600:]]
    assert scores[spikes].min() > np.quantile(inliers, 0.99)
    assert np.median(inliers) < 0.55


def test_range_aware_scores_grow_with_distance_beyond_the_sample():
    xs = _wave(700)
    plain = IsolationForest(range_aware=False)
    aware = IsolationForest(range_aware=True)
    plain.update_many(xs)
    aware.update_many(xs)
    # both are beyond every sample's value and last difference: identical paths...
    assert plain.score(10.0) == plain.score(1e6)
    # ...unless cuts may fall between the sample and the point
    assert aware.score(1e6) > aware.score(10.0) > aware.score(2.0)
    assert aware.score(1e6) > plain.score(1e6) + 0.15


def test_one_tree_is_regrown_per_rebuild_round_robin():
    det = IsolationForest(
        window_size=64, n_trees=4, max_samples=32, shingle_size=2, rebuild_every=5
    )
    xs = _wave(33 + 5 * 4 * 3, seed=5)
    det.update_many(xs[:33])  # 32 shingles: the whole forest is grown once
    before = det.get_state()
    for i, x in enumerate(xs[33:], start=1):  # i = shingles learned since the forest was grown
        det.update(float(x))
        after = det.get_state()
        changed = [
            t
            for t in range(4)
            if not all(
                np.array_equal(before[k][t], after[k][t])
                for k in ("feature", "threshold", "lower", "upper")
            )
        ]
        assert changed == ([(i // 5 - 1) % 4] if i % 5 == 0 else []), f"after {i} shingles"
        before = after


def test_default_rebuild_interval_renews_the_forest_once_per_window():
    det = IsolationForest()
    assert det.rebuild_every_ == det.window_size // det.n_trees == 5
    assert IsolationForest(window_size=64, n_trees=100, max_samples=32).rebuild_every_ == 1
    assert IsolationForest(rebuild_every=3).rebuild_every_ == 3


def test_features_and_seed():
    assert IsolationForest(shingle_size=4).n_features_ == 7
    assert IsolationForest(shingle_size=4, differences=False).n_features_ == 4
    xs = _wave(800)
    a = IsolationForest(window_size=128, max_samples=64, seed=1).update_many(xs)
    b = IsolationForest(window_size=128, max_samples=64, seed=2).update_many(xs)
    assert not np.allclose(a[200:], b[200:])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window_size": 8}, r"`window_size` of IsolationForest must be an int in \[16, 65536\]"),
        ({"n_trees": 0}, r"`n_trees` of IsolationForest must be an int in \[1, 1024\]"),
        ({"shingle_size": 0}, r"`shingle_size` of IsolationForest must be an int in \[1, 64\]"),
        ({"differences": "yes"}, r"`differences` of IsolationForest must be a bool; got 'yes'"),
        ({"seed": -1}, r"`seed` of IsolationForest must be an int in \[0, "),
        (
            {"window_size": 64, "max_samples": 128},
            r"`max_samples` of IsolationForest must be <= window_size \(64\); got 128\. "
            r"Lower max_samples",
        ),
        ({"rebuild_every": 0}, r"`rebuild_every` of IsolationForest must be None .* got 0\."),
        ({"rebuild_every": 2.5}, r"`rebuild_every` .* an int >= 1; got 2\.5\."),
        ({"rebuild_every": True}, r"`rebuild_every` .* got True\."),
    ],
)
def test_bad_parameters_are_named_with_what_to_do(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        IsolationForest(**params)
