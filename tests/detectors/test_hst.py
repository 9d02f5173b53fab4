"""HalfSpaceTrees: trees, mass counting and window swaps against tests/naive.py; scores."""

from __future__ import annotations

import numpy as np
import pytest
from naive import half_space_trees, half_space_trees_build, half_space_trees_rescaling

from oddwatch.detectors import HalfSpaceTrees
from oddwatch.detectors._half_space import mass, mass_and_learn
from oddwatch.errors import InvalidParameterError


def _stream(n, seed=0):
    """Noise on a slow wave, a few spikes, and a level shift that leaves old cells empty."""
    rng = np.random.default_rng(seed)
    xs = np.sin(np.arange(n) / 6.0) + rng.normal(0.0, 0.2, n)
    xs[rng.choice(n, n // 50, replace=False)] += 4.0
    xs[2 * n // 3 :] += 3.0
    return xs


@pytest.mark.parametrize(
    ("n_trees", "height", "shingle_size", "seed"), [(3, 4, 1, 0), (4, 6, 3, 7)]
)
def test_trees_match_the_naive_builder(n_trees, height, shingle_size, seed):
    det = HalfSpaceTrees(n_trees=n_trees, height=height, shingle_size=shingle_size, seed=seed)
    split_dim, split_value = half_space_trees_build(seed, n_trees, height, shingle_size)
    state = det.get_state()
    np.testing.assert_array_equal(state["split_dim"], split_dim)
    np.testing.assert_array_equal(state["split_value"], split_value)
    # the root splits at the work space's centre, a random point of the unit interval
    assert ((split_value[:, 0] >= 0.0) & (split_value[:, 0] <= 1.0)).all()


def test_seeds_give_different_trees():
    a = HalfSpaceTrees(n_trees=2, height=3, seed=1).get_state()["split_value"]
    b = HalfSpaceTrees(n_trees=2, height=3, seed=2).get_state()["split_value"]
    assert not np.array_equal(a, b)


def test_mass_counting_on_a_fixed_tree():
    # one tree of height 2 on one dimension: splits at 0.5, then 0.25 | 0.75
    split_dim = np.zeros((1, 3), dtype=np.int8)
    split_value = np.array([[0.5, 0.25, 0.75]])
    reference = np.zeros((1, 7), dtype=np.int32)
    latest = np.zeros((1, 7), dtype=np.int32)
    stamp = np.zeros((1, 7), dtype=np.int64)
    trees = (split_dim, split_value, reference, latest, stamp)
    node, scored = np.empty(1, dtype=np.int64), np.empty(1, dtype=np.bool_)
    for u in (0.1, 0.3, 0.3, 0.9, 0.5):
        mass_and_learn(*trees, np.array([u]), 0, 10, 2, node, scored)
    #                       root  <.5  >=.5  <.25  [.25,.5)  [.5,.75)  >=.75
    np.testing.assert_array_equal(latest[0], [5, 3, 2, 1, 2, 1, 1])
    # next window: those counts are the reference; scoring stops below 10 / 10 = 1 or at a leaf
    assert mass(*trees, np.array([0.3]), 1, 10) == 2 * 2**2  # leaf [.25, .5) holds 2
    assert mass(*trees, np.array([0.2]), 1, 10) == 1 * 2**2  # leaf [0, .25) holds 1
    # with sizeLimit 20 / 10 = 2 the walk stops at the first node holding fewer than 2
    assert mass(*trees, np.array([0.9]), 1, 20) == 1 * 2**2
    assert mass(*trees, np.array([0.6]), 1, 40) == 2 * 2**1  # [.5, 1) holds 2 < 4
    # the latest window was not touched by scoring; two windows later everything is stale
    np.testing.assert_array_equal(latest[0], [5, 3, 2, 1, 2, 1, 1])
    assert mass(*trees, np.array([0.3]), 2, 10) == 0


@pytest.mark.parametrize(
    ("n_trees", "height", "window_size", "shingle_size", "n"),
    [(3, 4, 30, 1, 400), (4, 6, 25, 3, 500), (2, 5, 16, 2, 333)],
)
def test_scores_and_masses_match_naive(n_trees, height, window_size, shingle_size, n):
    xs = _stream(n)
    det = HalfSpaceTrees(
        n_trees=n_trees,
        height=height,
        window_size=window_size,
        shingle_size=shingle_size,
        rescale=False,
    )
    state = det.get_state()
    expected, reference, latest = half_space_trees(
        xs, state["split_dim"], state["split_value"], window_size, shingle_size
    )
    got = det.update_many(xs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(det.masses_[0], reference)
    np.testing.assert_array_equal(det.masses_[1], latest)


@pytest.mark.parametrize("rescale", [False, True])
@pytest.mark.parametrize("n_points", [20, 21, 29, 36, 37, 38, 80, 85])
def test_window_swap_matches_naive_at_and_around_boundaries(n_points, rescale):
    # window_size 8, shingle 2: first window ends at point 9, then a swap every 8 points
    xs = _stream(n_points, seed=3)
    det = HalfSpaceTrees(n_trees=3, height=4, window_size=8, shingle_size=2, rescale=rescale)
    state = det.get_state()
    naive = half_space_trees_rescaling if rescale else half_space_trees
    _, reference, latest = naive(xs, state["split_dim"], state["split_value"], 8, 2)
    det.update_many(xs)
    np.testing.assert_array_equal(det.masses_[0], reference)
    np.testing.assert_array_equal(det.masses_[1], latest)
    in_latest = (n_points - 9) % 8
    assert (det.masses_[0][:, 0] == 8).all()  # the root holds a whole window
    assert (det.masses_[1][:, 0] == in_latest).all()


@pytest.mark.parametrize(
    ("n_trees", "height", "window_size", "shingle_size", "n"),
    [(3, 4, 30, 1, 400), (4, 6, 25, 3, 500), (2, 5, 16, 2, 333)],
)
def test_rescaled_scores_and_masses_match_naive(n_trees, height, window_size, shingle_size, n):
    xs = _stream(n) + np.linspace(0.0, 6.0, n)  # a trend too: every window has a new range
    det = HalfSpaceTrees(
        n_trees=n_trees, height=height, window_size=window_size, shingle_size=shingle_size
    )
    state = det.get_state()
    expected, reference, latest = half_space_trees_rescaling(
        xs, state["split_dim"], state["split_value"], window_size, shingle_size
    )
    got = det.update_many(xs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(det.masses_[0], reference)
    np.testing.assert_array_equal(det.masses_[1], latest)
    frozen = HalfSpaceTrees(
        n_trees=n_trees,
        height=height,
        window_size=window_size,
        shingle_size=shingle_size,
        rescale=False,
    )
    assert not np.allclose(frozen.update_many(xs), got, equal_nan=True)


def test_rescaling_follows_a_level_shift_and_a_trend():
    rng = np.random.default_rng(0)
    xs = rng.normal(0.0, 1.0, 3000)
    xs[1500:] += 20.0  # a shift far outside the first range
    xs += np.linspace(0.0, 30.0, 3000)  # and a trend
    spikes = np.arange(1750, 3000, 125)
    xs[spikes] += 6.0
    kwargs = {"n_trees": 10, "height": 8, "window_size": 100, "shingle_size": 1}
    frozen = HalfSpaceTrees(rescale=False, **kwargs).update_many(xs)
    det = HalfSpaceTrees(**kwargs)
    rescaled = det.update_many(xs)
    calm = np.setdiff1d(np.arange(1700, 3000), spikes)
    # frozen: the drifted values pile up in the outermost cells and can no longer be ranked
    assert np.ptp(frozen[calm]) == 0.0 and (frozen[spikes] == frozen[calm[0]]).all()
    # rescaled: ordinary points score as they did before the shift, the spikes above them
    before = np.median(rescaled[200:1400])
    assert abs(np.median(rescaled[calm]) - before) < 0.05
    assert np.median(rescaled[spikes]) > np.quantile(rescaled[calm], 0.95)
    low, span = det.scale_
    assert low < xs[-100:].mean() < low + span  # the scale follows the latest window


def test_a_constant_window_keeps_the_previous_span_centred_on_its_value():
    # windows of 50 shingles of 2 values: the first swap comes after 51 + 50 points and sees
    # 4.0 and fifty 10.0s, the second sees only 10.0s
    xs = np.concatenate([np.linspace(0.0, 4.0, 51), np.full(100, 10.0)])
    det = HalfSpaceTrees(n_trees=4, height=6, window_size=50, shingle_size=2)
    det.update_many(xs[:101])
    assert det.scale_ == (4.0, 6.0)
    det.update_many(xs[101:])
    assert det.scale_ == (10.0 - 3.0, 6.0)
    assert det.score(10.0) == 0.0  # every shingle of the window is in this leaf
    assert det.score(13.0) == 1.0


def test_warm_up_then_scores_in_unit_interval():
    det = HalfSpaceTrees(n_trees=5, height=6, window_size=40, shingle_size=3)
    scores = det.update_many(_stream(41))
    assert np.isnan(scores[:42]).all() and not det.warm_
    scores = det.update_many(_stream(300, seed=1))
    assert det.warm_ and not np.isnan(scores[1:]).any()
    assert ((scores[1:] >= 0.0) & (scores[1:] <= 1.0)).all()


def test_an_outlier_scores_higher():
    xs = np.random.default_rng(0).normal(0.0, 1.0, 1500)
    xs[1200] = 12.0
    det = HalfSpaceTrees(height=10, window_size=250, shingle_size=1)
    scores = det.update_many(xs)
    others = np.delete(scores[~np.isnan(scores)], 1200 - 251)
    assert scores[1200] > np.quantile(others, 0.99)
    assert det.score(12.0) > det.score(3.0) > det.score(0.0)


def test_constant_values_score_low_and_a_change_scores_high():
    det = HalfSpaceTrees(n_trees=10, height=8, window_size=50, shingle_size=1, rescale=False)
    scores = det.update_many(np.full(200, 7.0))
    assert det.scale_ == (7.0, 7.0)  # constant start: a range of |value|
    assert scores[-1] == 0.0  # every point in the same leaf: the largest possible mass
    assert det.update(9.0) == 1.0


def test_scale_ignores_a_few_outliers_in_the_first_window():
    xs = np.linspace(0.0, 1.0, 203)
    xs[[10, 50]] = [1000.0, -1000.0]
    det = HalfSpaceTrees(n_trees=2, height=3, window_size=200, shingle_size=4)
    det.update_many(xs)
    low, span = det.scale_
    assert 0.0 <= low < 0.02 and 0.95 < span <= 1.0
    det.update_many(np.linspace(1.0, 2.0, 200))  # the next window sets the scale again
    assert det.scale_ == pytest.approx((1.0, 197 / 199))  # trimmed: 1.0 twice below


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_trees": 0}, "`n_trees` of HalfSpaceTrees must be an int in [1, 1024]; got 0."),
        (
            {"window_size": 1},
            "`window_size` of HalfSpaceTrees must be an int in [2, 1000000]; got 1.",
        ),
        (
            {"shingle_size": 65},
            "`shingle_size` of HalfSpaceTrees must be an int in [1, 64]; got 65.",
        ),
        (
            {"seed": -1},
            "`seed` of HalfSpaceTrees must be an int in [0, 9223372036854775807]; got -1.",
        ),
        ({"height": 2.5}, "`height` of HalfSpaceTrees must be an int in [1, 24]; got 2.5."),
        ({"rescale": 1}, "`rescale` of HalfSpaceTrees must be a bool; got 1."),
        (
            {"height": 24, "n_trees": 4},
            "`height` of HalfSpaceTrees is too large for n_trees=4: the trees would take "
            "2.6 GiB; got height=24. The limit is 2 GiB",
        ),
    ],
)
def test_bad_parameters_are_explained(params, message):
    with pytest.raises(InvalidParameterError) as info:
        HalfSpaceTrees(**params)
    assert message in str(info.value)
