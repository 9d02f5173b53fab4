"""Score detector output on the Numenta Anomaly Benchmark (NAB v1.1), exactly.

Written from NAB's published rules (see ``shared/data/nab/README.md``), not from its code:

* the first ``min(floor(0.15 * n), 750)`` rows of a file (its probationary period) are ignored;
* a window of ``w`` rows ending at row ``b`` is worth ``tp_weight * sigma(-(b - i + 1) / w) /
  sigma(-1)`` for its earliest detection ``i`` (``sigma(x) = 2 / (1 + exp(5x)) - 1``, and ``-1``
  past ``x = 3``), and ``-fn_weight`` if missed;
* a detection outside windows costs ``fp_weight * sigma((i - b) / (w - 1))`` after a window
  ending at ``b`` (``w`` wide), or the full ``-fp_weight`` before a file's first window;
* one threshold per profile for the whole corpus; v1.1 picks it by evaluating every distinct
  score (and "no detection", reported as 1.1) and keeping the first maximum from the top;
* ``score = 100 * (raw - null) / (perfect - null)``.

The threshold sweep is one sort of all scored rows plus array passes, so the whole corpus
(365,558 rows) is optimised in well under a second per profile. The corpus model
(:mod:`oddwatch.evaluate._nab_corpus`) and NAB's files on disk (:func:`load_corpus`,
:func:`write_results`, ...: :mod:`oddwatch.evaluate._nab_io`) are re-exported here.

Examples
--------
>>> import numpy as np
>>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(100)}, {"demo/a.csv": [(40, 49)]})
>>> scores = np.zeros(100)
>>> scores[42] = 0.9
>>> round(score_corpus(corpus, {"demo/a.csv": scores})["standard"].score, 2)
98.86
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oddwatch.errors import InvalidParameterError
from oddwatch.evaluate._nab_corpus import PROFILES, NabCorpus, NabFile, Profile, check_scores
from oddwatch.evaluate._nab_io import default_nab_dir, load_corpus, load_results_dir, write_results

__all__ = [
    "PROFILES",
    "SCOREBOARD",
    "NabCorpus",
    "NabFile",
    "NabResult",
    "Profile",
    "ProfileResult",
    "default_nab_dir",
    "load_corpus",
    "load_results_dir",
    "rank_on_scoreboard",
    "score_corpus",
    "score_flags",
    "write_results",
]

_NO_DETECTION = 1.1  # the threshold NAB reports for "never fire"
_SIGMA_MINUS_ONE = 2.0 / (1.0 + math.exp(-5.0)) - 1.0

# Published NAB scores (standard, reward_low_FP_rate, reward_low_FN_rate); None = not published.
# Sources: numenta/NAB README scoreboard (v1.0/v1.1) and results/final_results.json.
SCOREBOARD: Mapping[str, Mapping[str, float | None]] = MappingProxyType(
    {
        name: MappingProxyType(dict(zip(PROFILES, values, strict=True)))
        for name, values in {
            "ARTime": (74.85, 65.15, 80.36),
            "Numenta HTM": (70.10, 63.12, 74.32),
            "CAD OSE": (69.90, 66.98, 73.18),
            "earthgecko Skyline": (58.20, 46.20, 63.80),
            "KNN CAD": (57.99, 43.41, 64.81),
            "Relative Entropy": (54.64, 47.60, 58.84),
            "Random Cut Forest": (51.72, 38.36, 59.75),
            "Twitter ADVec": (47.06, 33.61, 53.50),
            "Windowed Gaussian": (39.65, 20.87, 47.41),
            "Etsy Skyline": (35.7, 27.1, 44.5),
            "Bayesian changepoint": (17.7, 3.2, 32.2),
            "EXPoSE": (16.4, 3.2, 26.9),
            "random": (11.0, 1.2, 19.5),
            "null": (0.0, 0.0, 0.0),
        }.items()
    }
)


@dataclass(frozen=True)
class _Layout:
    """All scored rows of a corpus, concatenated file by file, with their unit weights."""

    file_index: NDArray[np.intp]  # file of each scored row
    row: NDArray[np.intp]  # row index within its file
    window: NDArray[np.intp]  # global window id, -1 outside windows
    tp_unit: NDArray[np.float64]  # in-window value / tp_weight (0 outside)
    fp_unit: NDArray[np.float64]  # outside cost / fp_weight, in [-1, 0) (0 inside)
    window_end: NDArray[np.intp]  # per global window
    window_width: NDArray[np.intp]
    window_file: NDArray[np.intp]
    window_scored: NDArray[np.bool_]  # the window has at least one scored row


def _sigma(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """NAB's scaled sigmoid, ``2 / (1 + exp(5x)) - 1``, clamped to -1 for ``x > 3``."""
    out: NDArray[np.float64] = 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0
    return np.where(x > 3.0, -1.0, out)


def _window_unit(
    row: NDArray[np.intp], end: NDArray[np.intp] | int, width: NDArray[np.intp] | int
) -> NDArray[np.float64]:
    """In-window value / tp_weight of a detection at `row`: 1 at the first row, ~0 at the last."""
    return _sigma(-(end - row + 1) / width) / _SIGMA_MINUS_ONE


_LAYOUTS: weakref.WeakKeyDictionary[NabCorpus, _Layout] = weakref.WeakKeyDictionary()


def _layout(corpus: NabCorpus) -> _Layout:
    """The scored-row layout of `corpus`, computed once per corpus (corpora are immutable)."""
    if corpus not in _LAYOUTS:
        _LAYOUTS[corpus] = _compute_layout(corpus)
    return _LAYOUTS[corpus]


def _compute_layout(corpus: NabCorpus) -> _Layout:
    parts: dict[str, list[NDArray[np.generic]]] = {k: [] for k in _Layout.__dataclass_fields__}
    for fi, f in enumerate(corpus.files.values()):
        p, n = f.probationary, f.n_rows
        rows = np.arange(p, n)
        window = np.full(n - p, -1, dtype=np.intp)
        tp_unit = np.zeros(n - p)
        fp_unit = np.full(n - p, -1.0)
        base = sum(len(w) for w in parts["window_end"])
        for j, (a, b) in enumerate(f.windows):
            width = b - a + 1
            inside = slice(max(a, p) - p, max(b + 1, p) - p)
            window[inside] = base + j
            tp_unit[inside] = _window_unit(rows[inside], b, width)
            fp_unit[inside] = 0.0
            nxt = f.windows[j + 1][0] if j + 1 < len(f.windows) else n
            after = slice(max(b + 1, p) - p, max(nxt, p) - p)
            # NAB divides by w - 1 (undefined for w = 1): a 1-row window gives full cost.
            x = (rows[after] - b) / (width - 1) if width > 1 else np.full(len(rows[after]), 4.0)
            fp_unit[after] = _sigma(x)
        starts = np.array([a for a, _ in f.windows], dtype=np.intp)
        ends = np.array([b for _, b in f.windows], dtype=np.intp)
        parts["file_index"].append(np.full(n - p, fi, dtype=np.intp))
        parts["row"].append(rows)
        parts["window"].append(window)
        parts["tp_unit"].append(tp_unit)
        parts["fp_unit"].append(fp_unit)
        parts["window_end"].append(ends)
        parts["window_width"].append(ends - starts + 1)
        parts["window_file"].append(np.full(len(ends), fi, dtype=np.intp))
        parts["window_scored"].append(ends >= p)
    dtypes = {"tp_unit": np.float64, "fp_unit": np.float64, "window_scored": np.bool_}
    return _Layout(
        **{k: np.concatenate(v).astype(dtypes.get(k, np.intp)) for k, v in parts.items()}
    )


@dataclass(frozen=True)
class ProfileResult:
    """NAB's verdict for one profile.

    Parameters
    ----------
    profile
        The profile scored.
    score
        Normalised score: 0 = never alarm, 100 = perfect; nan if the corpus has no windows.
    raw
        Sum of window values and false-positive costs over all files.
    threshold
        Score threshold used (a row with ``score >= threshold`` is a detection); 1.1 = none.
    tp, fp, fn, tn
        Row counts over scored rows (in/out of windows, detected or not).
    per_file
        Raw score of each file; they add up to `raw`.

    Examples
    --------
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(100)}, {"demo/a.csv": [(40, 49)]})
    >>> r = score_corpus(corpus, {"demo/a.csv": np.zeros(100)})["standard"]
    >>> r.score, r.raw, r.threshold, (r.tp, r.fp, r.fn, r.tn)
    (0.0, -1.0, 1.1, (0, 0, 10, 75))
    """

    profile: Profile
    score: float
    raw: float
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int
    per_file: Mapping[str, float]


@dataclass(frozen=True)
class NabResult:
    """NAB's verdict for every profile, indexable by profile name.

    Examples
    --------
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(100)}, {"demo/a.csv": [(40, 49)]})
    >>> flags = np.zeros(100)
    >>> flags[40] = 1
    >>> score_flags(corpus, {"demo/a.csv": flags}).scores
    {'standard': 100.0, 'reward_low_FP_rate': 100.0, 'reward_low_FN_rate': 100.0}
    """

    profiles: Mapping[str, ProfileResult]

    def __getitem__(self, profile: str) -> ProfileResult:
        return self.profiles[profile]

    @property
    def scores(self) -> dict[str, float]:
        """Normalised score per profile."""
        return {name: r.score for name, r in self.profiles.items()}


def _scored_rows(corpus: NabCorpus, scores: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    """The scores of all scored rows, concatenated in corpus order, validated."""
    checked = check_scores(corpus, scores)
    parts = [checked[key][f.probationary :] for key, f in corpus.files.items()]
    return np.concatenate(parts) if parts else np.zeros(0)


def _best_thresholds(
    layout: _Layout, s: NDArray[np.float64], profiles: Mapping[str, Profile]
) -> dict[str, float]:
    """Per profile, the threshold maximising the raw score over every distinct score (v1.1).

    Rows are taken by descending score; a threshold's raw score is the null score plus the
    changes made by all rows at or above it. A false-positive row changes it by its fixed cost;
    a window row changes it only when it is earlier than the window's earliest row so far.
    """
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    last = np.flatnonzero(np.concatenate((s_sorted[1:] != s_sorted[:-1], [True])))
    thresholds = np.concatenate(([_NO_DETECTION], s_sorted[last]))
    window = layout.window[order]
    # Window rows grouped by window (stable: descending score within a window); the running
    # earliest row per window is one minimum.accumulate with a per-group offset.
    group = np.flatnonzero(window >= 0)
    group = group[np.argsort(window[group], kind="stable")]
    g = window[group]
    first_of_group = np.concatenate(([True], g[1:] != g[:-1]))
    big = int(layout.row.max(initial=0)) + 1
    earliest = np.minimum.accumulate(layout.row[order][group] - g * big) + g * big
    unit = _window_unit(earliest, layout.window_end[g], layout.window_width[g])
    best = {}
    for name, profile in profiles.items():
        null = -profile.fn_weight * float(np.count_nonzero(layout.window_scored))
        delta = profile.fp_weight * layout.fp_unit[order]
        value = profile.tp_weight * unit
        before = np.concatenate(([-profile.fn_weight], value[:-1]))
        before[first_of_group] = -profile.fn_weight
        delta[group] = value - before
        raws = np.concatenate(([null], null + np.cumsum(delta)[last]))
        best[name] = float(thresholds[int(np.argmax(raws))])  # first maximum = highest threshold
    return best


def _score_at(
    corpus: NabCorpus, s: NDArray[np.float64], threshold: float, profile: Profile
) -> ProfileResult:
    layout = _layout(corpus)
    tp, fp, fn = profile.tp_weight, profile.fp_weight, profile.fn_weight
    detected = s >= threshold
    inside = layout.window >= 0
    cost = np.where(detected & ~inside, fp * layout.fp_unit, 0.0)
    hits = np.flatnonzero(detected & inside)
    hit_windows, first = np.unique(layout.window[hits], return_index=True)
    window_value = np.where(layout.window_scored, -fn, 0.0)
    window_value[hit_windows] = tp * layout.tp_unit[hits[first]]
    n_files = len(corpus.files)
    per_file = np.bincount(layout.file_index, weights=cost, minlength=n_files) + np.bincount(
        layout.window_file, weights=window_value, minlength=n_files
    )
    raw = math.fsum(per_file)
    null = -fn * float(np.count_nonzero(layout.window_scored))
    perfect = tp * corpus.n_windows
    return ProfileResult(
        profile=profile,
        score=100.0 * (raw - null) / (perfect - null) if perfect != null else math.nan,
        raw=raw,
        threshold=float(threshold),
        tp=int(np.count_nonzero(detected & inside)),
        fp=int(np.count_nonzero(detected & ~inside)),
        fn=int(np.count_nonzero(~detected & inside)),
        tn=int(np.count_nonzero(~detected & ~inside)),
        per_file=dict(zip(corpus.files, per_file.tolist(), strict=True)),
    )


def score_corpus(
    corpus: NabCorpus, scores: Mapping[str, ArrayLike], threshold: float | None = None
) -> NabResult:
    """Score anomaly scores on a corpus for every profile, NAB v1.1 style.

    Parameters
    ----------
    corpus
        The corpus the scores are for.
    scores
        One array per corpus file, one score in [0, 1] per row (probationary rows included).
    threshold
        Score at or above which a row is a detection; None picks, per profile, the threshold
        with the best raw score among all distinct scores and 1.1 ("never"), the highest on
        ties (NAB v1.1's exact sweep). Cost: one sort of all scored rows per profile.

    Raises
    ------
    InvalidInputError
        A file is missing from `scores`, or its scores have the wrong length or leave [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(100)}, {"demo/a.csv": [(40, 49)]})
    >>> s = np.full(100, 0.2)
    >>> s[[20, 45]] = [0.8, 0.6]
    >>> best = score_corpus(corpus, {"demo/a.csv": s})
    >>> [(name, r.threshold, round(r.score, 2)) for name, r in best.profiles.items()]
    [('standard', 0.6, 87.49), ('reward_low_FP_rate', 0.6, 81.99),
     ('reward_low_FN_rate', 0.6, 91.66)]
    >>> round(score_corpus(corpus, {"demo/a.csv": s}, threshold=0.8)["standard"].raw, 2)
    -1.11
    """
    if threshold is not None and math.isnan(threshold):
        raise InvalidParameterError("threshold must be a number or None; got nan.")
    s = _scored_rows(corpus, scores)
    if threshold is None:
        chosen = _best_thresholds(_layout(corpus), s, corpus.profiles)
    else:
        chosen = dict.fromkeys(corpus.profiles, float(threshold))
    return NabResult(
        {name: _score_at(corpus, s, chosen[name], p) for name, p in corpus.profiles.items()}
    )


def score_flags(corpus: NabCorpus, flags: Mapping[str, ArrayLike]) -> NabResult:
    """Score binary detections (e.g. a monitor's own alarms) on a corpus, for every profile.

    Every truthy flag on a scored row is a detection (scores 0/1 at threshold 0.5).

    Examples
    --------
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(100)}, {"demo/a.csv": [(40, 49)]})
    >>> flags = np.zeros(100, dtype=bool)
    >>> flags[[20, 49]] = True
    >>> round(score_flags(corpus, {"demo/a.csv": flags})["standard"].raw, 4)
    0.1382
    """
    as_scores = {k: (np.asarray(v) != 0).astype(np.float64) for k, v in flags.items()}
    return score_corpus(corpus, as_scores, threshold=0.5)


def rank_on_scoreboard(score: float, profile: str = "standard") -> int:
    """The 1-based rank `score` would take on :data:`SCOREBOARD` for `profile`.

    Entries without a published score for the profile are skipped; a tie ranks with the entry.

    Examples
    --------
    >>> rank_on_scoreboard(72.0), rank_on_scoreboard(72.0, "reward_low_FP_rate")
    (2, 1)
    """
    if profile not in PROFILES:
        raise InvalidParameterError(f"profile must be one of {sorted(PROFILES)}; got {profile!r}.")
    published = [entry[profile] for entry in SCOREBOARD.values()]
    return 1 + sum(1 for p in published if p is not None and p > score)
