"""BatchDetector: the PyOD face over a causal scan, as batch harnesses call it."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.batch import BatchDetector
from oddwatch.detectors import RollingZScore
from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.thresholds import QuantileThreshold

from .servers import need


def data() -> np.ndarray:
    xs = np.random.default_rng(4).normal(10, 1, 600)
    xs[[200, 450]] = [25.0, -8.0]
    return xs


def zscore() -> RollingZScore:
    return RollingZScore(window_size=32)


def reference(xs: np.ndarray):
    """The plain streaming answer: one Monitor over the whole series."""
    return Monitor(zscore()).update_many(xs)


def test_fit_scores_are_the_streaming_scores():
    xs = data()
    clf = BatchDetector(zscore()).fit(xs)
    ref = reference(xs)
    np.testing.assert_array_equal(clf.decision_scores_, np.nan_to_num(ref.score, nan=0.0))
    np.testing.assert_array_equal(clf.labels_, ref.is_anomaly.astype(int))
    np.testing.assert_array_equal(clf.thresholds_, ref.threshold)
    assert clf.labels_.dtype == np.int64 and set(np.flatnonzero(clf.labels_)) >= {200, 450}


def test_decision_function_continues_the_history_on_a_copy():
    xs = data()
    clf = BatchDetector(zscore()).fit(xs[:300])
    state = clf.monitor_.get_state()
    tail = clf.decision_function(xs[300:])
    np.testing.assert_array_equal(tail, reference(xs).score[300:])  # warm after 32 points
    np.testing.assert_array_equal(clf.decision_function(xs[300:]), tail)  # repeatable
    for name, array in clf.monitor_.get_state().items():
        np.testing.assert_array_equal(array, state[name])  # the fitted model is unchanged
    np.testing.assert_array_equal(clf.predict(xs[300:]), reference(xs).is_anomaly[300:])


def test_a_series_that_starts_with_the_history_is_not_learned_twice():
    """TSB-AD's semi-supervised runner: fit(train prefix), then decision_function(whole)."""
    xs = data()
    clf = BatchDetector(zscore()).fit(xs[:300])
    whole = clf.decision_function(xs)
    np.testing.assert_array_equal(whole[:300], clf.decision_scores_)
    np.testing.assert_array_equal(whole[300:], reference(xs).score[300:])
    np.testing.assert_array_equal(clf.decision_function(xs[:300]), clf.decision_scores_)
    np.testing.assert_array_equal(clf.predict(xs), reference(xs).is_anomaly.astype(int))


def test_scores_are_causal():
    xs = data()
    changed = xs.copy()
    changed[400:] += 100.0
    a = BatchDetector(zscore()).fit(xs).decision_scores_
    b = BatchDetector(zscore()).fit(changed).decision_scores_
    np.testing.assert_array_equal(a[:400], b[:400])


def test_tsb_ad_runner_pattern():
    sklearn = need("sklearn.preprocessing")
    xs = data()[:, None]  # TSB-AD passes (n_samples, n_features)

    clf = BatchDetector(zscore())
    clf.fit(xs)
    unsupervised = sklearn.MinMaxScaler((0, 1)).fit_transform(clf.decision_scores_.reshape(-1, 1))
    clf = BatchDetector(zscore())
    clf.fit(xs[:300])
    semi = sklearn.MinMaxScaler((0, 1)).fit_transform(clf.decision_function(xs).reshape(-1, 1))
    for score in (unsupervised.ravel(), semi.ravel()):
        assert score.shape == (600,) and np.isfinite(score).all()
        assert set(np.argsort(score)[-2:]) == {200, 450}


def test_contamination_follows_pyod():
    xs = data()
    clf = BatchDetector(zscore(), contamination=0.05).fit(xs)
    assert clf.threshold_ == np.quantile(clf.decision_scores_, 0.95)
    np.testing.assert_array_equal(clf.labels_, (clf.decision_scores_ > clf.threshold_).astype(int))
    assert abs(clf.labels_.mean() - 0.05) < 0.01
    np.testing.assert_array_equal(
        clf.predict(xs[500:]), (clf.decision_function(xs[500:]) > clf.threshold_).astype(int)
    )


def test_refit_starts_fresh_and_a_given_monitor_is_left_alone():
    xs = data()
    mon = Monitor(zscore(), QuantileThreshold())
    clf = BatchDetector(mon)
    clf.fit(xs[::-1]).fit(xs)
    np.testing.assert_array_equal(
        clf.decision_scores_,
        BatchDetector(Monitor(zscore(), QuantileThreshold())).fit(xs).decision_scores_,
    )
    assert mon.n_seen_ == 0


def test_warmup_score():
    clf = BatchDetector(zscore()).fit(data())
    assert (clf.decision_scores_[:32] == 0.0).all() and (clf.decision_scores_[32:] > 0).all()
    clf = BatchDetector(zscore(), warmup_score=-1.0).fit(data()[:5])
    assert clf.decision_scores_.tolist() == [-1.0] * 5
    assert clf.decision_function(data()[5:40])[:27].tolist() == [-1.0] * 27


def test_params():
    clf = BatchDetector(zscore(), contamination=0.1)
    assert clf.get_params()["contamination"] == 0.1
    clf.set_params(contamination=0.2)
    assert clf.contamination == 0.2 and "contamination=0.2" in repr(clf)
    with pytest.raises(InvalidParameterError, match="has no parameter 'n_trees'"):
        clf.set_params(n_trees=3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"contamination": 0.9},
            r"`contamination` of BatchDetector must be None or a number in \(0, 0.5\]",
        ),
        ({"contamination": True}, "`contamination` of BatchDetector"),
        ({"detector": "zscore"}, "`detector` of BatchDetector must be an oddwatch Detector"),
        ({"warmup_score": float("nan")}, "`warmup_score` of BatchDetector must be a finite"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        BatchDetector(**kwargs)


def test_bad_input():
    with pytest.raises(
        InvalidInputError, match=r"X must have shape \(n,\) or \(n, 1\); got \(10, 3\)"
    ):
        BatchDetector().fit(np.zeros((10, 3)))
    with pytest.raises(InvalidParameterError, match="needs a fitted detector; call fit"):
        BatchDetector().decision_function([1.0])
    with pytest.raises(InvalidInputError, match="needs numbers"):
        BatchDetector().fit(["a", "b"])


# ---- predict_proba / predict_confidence: PyOD's own methods give the same numbers ----------


@pytest.fixture
def pyod_base(monkeypatch):
    """PyOD's BaseDetector, its fitted check relaxed (it wants a scikit-learn estimator)."""
    module = need("pyod.models.base")
    monkeypatch.setattr(module, "check_is_fitted", lambda est, names: None)
    return module.BaseDetector


@pytest.mark.parametrize("contamination", [None, 0.05])
@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba_is_pyods(pyod_base, method, contamination):
    """PyOD's BaseDetector.predict_proba, run on our fitted object, gives our answer."""
    base = pyod_base
    xs = data()
    clf = BatchDetector(zscore(), contamination=contamination).fit(xs[:400])
    clf._classes = 2  # what PyOD's predict_proba reads besides the fitted attributes
    clf._mu, clf._sigma = clf.decision_scores_.mean(), clf.decision_scores_.std()
    for X in (xs[400:], xs, xs[:400]):
        ours = clf.predict_proba(X, method=method)
        np.testing.assert_allclose(ours, base.predict_proba(clf, X, method=method), atol=1e-12)
        assert ours.shape == (X.shape[0], 2) and np.allclose(ours.sum(axis=1), 1.0)
    later = clf.decision_function(xs[400:])
    order = np.argsort(later, kind="stable")
    assert (np.diff(clf.predict_proba(xs[400:], method=method)[order, 1]) >= 0).all()
    assert clf.predict_proba(xs[400:])[np.argmax(later), 1] == 1.0  # the -8 spike at 450


def test_predict_confidence_is_pyods(pyod_base):
    base = pyod_base
    xs = data()
    clf = BatchDetector(zscore(), contamination=0.05).fit(xs[:400])
    for X in (xs[400:], xs):
        ours = clf.predict_confidence(X)
        np.testing.assert_allclose(ours, base.predict_confidence(clf, X), atol=1e-12)
        assert ((0 <= ours) & (ours <= 1)).all()
    # contamination=None: labels are the Monitor's, the share is that of the fitted labels
    binom = need("scipy.stats").binom
    own = BatchDetector(zscore()).fit(xs[:400])
    labels, scores = own.predict(xs[400:]), own.decision_function(xs[400:])
    n, share = 400, own.labels_.mean()
    assert labels[50] == 1 and 0 < share < 0.05  # the spike at 450 is labelled
    p = (1 + np.array([np.count_nonzero(own.decision_scores_ <= s) for s in scores])) / (2 + n)
    outlier = 1 - binom.cdf(n - int(n * share), n, p)
    want = np.where(labels == 1, outlier, 1 - outlier)
    np.testing.assert_allclose(own.predict_confidence(xs[400:]), want, atol=1e-12)


def test_predict_proba_and_confidence_refuse_clearly():
    clf = BatchDetector(zscore())
    with pytest.raises(InvalidParameterError, match="predict_proba needs a fitted detector"):
        clf.predict_proba(data())
    clf.fit(data())
    with pytest.raises(InvalidParameterError, match="must be 'linear' or 'unify'; got 'x'"):
        clf.predict_proba(data(), method="x")
    flat = BatchDetector(zscore()).fit(np.ones(100))  # constant history: scale by 1
    assert flat.predict_proba([1.0, 1.0]).tolist() == [[1.0, 0.0], [1.0, 0.0]]
