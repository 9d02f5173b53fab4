"""The NAB corpus as data: series, anomaly windows, scoring profiles, checked scores.

Built from NAB's files by :func:`oddwatch.evaluate.nab.load_corpus` or from arrays by
:meth:`NabCorpus.from_arrays`; :mod:`oddwatch.evaluate.nab` re-exports every public name.

Examples
--------
>>> corpus = NabCorpus.from_arrays({"demo/a.csv": [1.0, 2.0, 3.0]}, {"demo/a.csv": [(1, 2)]})
>>> corpus.files["demo/a.csv"].windows, corpus.n_windows
(((1, 2),), 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oddwatch.errors import InvalidInputError

__all__ = ["PROFILES", "NabCorpus", "NabFile", "Profile", "check_scores", "window_problem"]


@dataclass(frozen=True)
class Profile:
    """The costs of one NAB scoring profile.

    Parameters
    ----------
    name
        Profile name as NAB spells it, e.g. ``"standard"``.
    tp_weight
        Value of a window caught on its first row.
    fp_weight
        Cost of a false detection far from any window.
    fn_weight
        Cost of a missed window.

    Examples
    --------
    >>> PROFILES["reward_low_FP_rate"].fp_weight
    0.22
    """

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "standard": Profile("standard", 1.0, 0.11, 1.0),
        "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
        "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
    }
)


@dataclass(frozen=True, eq=False)
class NabFile:
    """One NAB series: its rows and its anomaly windows.

    Parameters
    ----------
    key
        ``"<category>/<name>.csv"``, relative to the corpus's ``data/`` folder.
    timestamps
        One ``datetime64[s]`` per row (NAB's are not all strictly increasing).
    values
        One float per row.
    windows
        Anomaly windows as inclusive ``(start_row, end_row)`` pairs, sorted, not overlapping.

    Examples
    --------
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(6000)}, {"demo/a.csv": []})
    >>> f = corpus.files["demo/a.csv"]
    >>> f.n_rows, f.probationary, str(f.timestamps[1])
    (6000, 750, '2000-01-01T00:05:00')
    """

    key: str
    timestamps: NDArray[np.datetime64]
    values: NDArray[np.float64]
    windows: tuple[tuple[int, int], ...]

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.values)

    @property
    def probationary(self) -> int:
        """Rows at the start that NAB ignores: ``min(floor(0.15 * n), 750)``."""
        return min(math.floor(0.15 * self.n_rows), 750)


@dataclass(frozen=True, eq=False)
class NabCorpus:
    """The NAB series being scored, in a fixed order, with the profiles to score them by.

    Built by :func:`load_corpus` (from disk) or :meth:`from_arrays` (synthetic streams).

    Parameters
    ----------
    files
        The series by key (``"<category>/<name>.csv"``).
    profiles
        Scoring profiles by name.

    Examples
    --------
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(100)}, {"demo/a.csv": [(40, 49)]})
    >>> corpus.n_windows, list(corpus.profiles)
    (1, ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'])
    """

    files: Mapping[str, NabFile]
    profiles: Mapping[str, Profile] = field(default_factory=lambda: PROFILES)

    def __post_init__(self) -> None:
        # Read-only views, so the cached row layout cannot go stale.
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))

    @property
    def n_windows(self) -> int:
        """Number of windows over all files (scored or not)."""
        return sum(len(f.windows) for f in self.files.values())

    @classmethod
    def from_arrays(
        cls,
        values: Mapping[str, ArrayLike],
        windows: Mapping[str, Sequence[tuple[int, int]]],
        start: str = "2000-01-01",
        step_seconds: int = 300,
    ) -> NabCorpus:
        """Build a corpus from in-memory series, with evenly spaced timestamps.

        Parameters
        ----------
        values
            One 1-D array per key.
        windows
            Inclusive ``(start_row, end_row)`` windows per key (same keys as `values`).
        start
            Timestamp of every series' first row.
        step_seconds
            Spacing of the rows.

        Examples
        --------
        >>> NabCorpus.from_arrays({"x/a.csv": [1.0, 2.0]}, {"x/a.csv": [(1, 1)]}).n_windows
        1
        """
        if set(values) != set(windows):
            raise InvalidInputError(
                f"values and windows must have the same keys; only in values: "
                f"{sorted(set(values) - set(windows))}, only in windows: "
                f"{sorted(set(windows) - set(values))}."
            )
        files = {}
        for key in values:
            arr = np.asarray(values[key], dtype=np.float64)
            if arr.ndim != 1:
                raise InvalidInputError(f"values of {key!r} must be 1-D; got shape {arr.shape}.")
            pairs = tuple((int(a), int(b)) for a, b in windows[key])
            problem = window_problem(pairs, len(arr))
            if problem:
                raise InvalidInputError(f"windows of {key!r}: {problem}")
            stamps = np.datetime64(start, "s") + np.arange(len(arr)) * np.timedelta64(
                step_seconds, "s"
            )
            files[key] = NabFile(key, stamps, arr, pairs)
        return cls(files)


def window_problem(windows: Sequence[tuple[int, int]], n_rows: int) -> str:
    """Why `windows` are not sorted, disjoint, inclusive row ranges of a file; "" if fine."""
    previous_end = -1
    for a, b in windows:
        if not 0 <= a <= b < n_rows:
            return f"window ({a}, {b}) is not an inclusive row range inside 0..{n_rows - 1}."
        if a <= previous_end:
            return f"window ({a}, {b}) starts before the previous one ends (row {previous_end})."
        previous_end = b
    return ""


def check_scores(
    corpus: NabCorpus, scores: Mapping[str, ArrayLike]
) -> dict[str, NDArray[np.float64]]:
    """`scores` as float arrays, one per corpus file, each with one value in [0, 1] per row.

    Raises
    ------
    InvalidInputError
        A file is missing or extra, or its scores have the wrong length or leave [0, 1].

    Examples
    --------
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": [5.0, 6.0]}, {"demo/a.csv": []})
    >>> check_scores(corpus, {"demo/a.csv": [0, 1]})
    {'demo/a.csv': array([0., 1.])}
    """
    unknown = sorted(set(scores) - set(corpus.files))
    missing = sorted(set(corpus.files) - set(scores))
    if unknown or missing:
        raise InvalidInputError(
            f"scores must have one array per corpus file; missing: {missing[:3]}, "
            f"not in the corpus: {unknown[:3]}."
        )
    out = {}
    for key, f in corpus.files.items():
        try:
            arr = np.asarray(scores[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(f"scores for {key!r} must be numeric.") from None
        if arr.shape != (f.n_rows,):
            raise InvalidInputError(
                f"scores for {key!r} must be 1-D with one value per row ({f.n_rows}); "
                f"got shape {arr.shape}."
            )
        bad = np.flatnonzero(~((arr >= 0.0) & (arr <= 1.0)))
        if bad.size:
            raise InvalidInputError(
                f"scores for {key!r} must be finite and in [0, 1]; row {bad[0]} is "
                f"{arr[bad[0]]}. Map warm-up NaN to 0.0 (np.nan_to_num) and rescale to [0, 1]."
            )
        out[key] = arr
    return out
