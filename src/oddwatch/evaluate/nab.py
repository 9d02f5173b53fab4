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
(365,558 rows) is optimised in well under a second per profile.

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

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oddwatch.errors import InvalidInputError, InvalidParameterError, SourceError

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

_HINT = "pass --data DIR pointing at a NAB checkout (data/ and labels/) or set ODDWATCH_NAB_DIR"
_NO_DETECTION = 1.1  # the threshold NAB reports for "never fire"
_SIGMA_MINUS_ONE = 2.0 / (1.0 + math.exp(-5.0)) - 1.0


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


def default_nab_dir() -> Path | None:
    """Where the NAB corpus is, if it can be found.

    ``$ODDWATCH_NAB_DIR`` when set, else the first existing of ``<cwd>/../shared/data/nab`` and
    ``<repository root>/../shared/data/nab``; None when neither exists.

    Examples
    --------
    >>> found = default_nab_dir()
    >>> found is None or found.is_dir()
    True
    """
    env = os.environ.get("ODDWATCH_NAB_DIR")
    if env:
        return Path(env)
    candidates = (
        Path.cwd() / ".." / "shared" / "data" / "nab",
        Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nab",
    )
    return next((c.resolve() for c in candidates if c.is_dir()), None)


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
            problem = _window_problem(pairs, len(arr))
            if problem:
                raise InvalidInputError(f"windows of {key!r}: {problem}")
            stamps = np.datetime64(start, "s") + np.arange(len(arr)) * np.timedelta64(
                step_seconds, "s"
            )
            files[key] = NabFile(key, stamps, arr, pairs)
        return cls(files)

    @cached_property
    def _layout(self) -> _Layout:
        parts: dict[str, list[NDArray[np.generic]]] = {k: [] for k in _Layout.__dataclass_fields__}
        for fi, f in enumerate(self.files.values()):
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


def _window_problem(windows: Sequence[tuple[int, int]], n_rows: int) -> str:
    """Why `windows` are not sorted, disjoint, inclusive row ranges of a file; "" if fine."""
    previous_end = -1
    for a, b in windows:
        if not 0 <= a <= b < n_rows:
            return f"window ({a}, {b}) is not an inclusive row range inside 0..{n_rows - 1}."
        if a <= previous_end:
            return f"window ({a}, {b}) starts before the previous one ends (row {previous_end})."
        previous_end = b
    return ""


def _read_columns(
    path: Path, names: Sequence[str], hint: str, optional: Sequence[str] = ()
) -> dict[str, list[str]]:
    """Text columns `names` (and those of `optional` present) of a CSV file with a header."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist; {hint}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path}: {exc}; {hint}.") from None
    lines = text.rstrip().splitlines()
    header = [h.strip() for h in lines[0].split(",")] if lines else []
    missing = [name for name in names if name not in header]
    if missing:
        raise SourceError(
            f"{path} has no {missing[0]!r} column (header: {lines[0] if lines else ''!r}); "
            f"expected a header line naming {', '.join(names)}."
        )
    body, width = lines[1:], len(header)
    bad = next((i for i, line in enumerate(body) if line.count(",") != width - 1), None)
    if bad is not None:
        raise SourceError(
            f"{path} line {bad + 2} has {body[bad].count(',') + 1} fields, the header has {width}."
        )
    cells = ",".join(body).split(",") if body else []
    wanted = [*names, *(name for name in optional if name in header)]
    return {name: cells[header.index(name) :: width] for name in wanted}


def _first_bad_cell(column: list[str], dtype: str, path: Path) -> SourceError:
    for i, cell in enumerate(column):
        try:
            np.array([cell], dtype=dtype)
        except ValueError:
            return SourceError(f"{path} line {i + 2}: {cell!r} is not a valid {dtype}.")
    return SourceError(f"{path}: cannot parse a column as {dtype}.")


def _parse_floats(column: list[str], path: Path) -> NDArray[np.float64]:
    """Column as finite float64; SourceError naming the first bad line."""
    try:
        arr = np.array(column, dtype=np.float64)
    except ValueError:
        raise _first_bad_cell(column, "float64", path) from None
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise SourceError(f"{path} line {bad[0] + 2}: value {column[bad[0]]!r} is not finite.")
    return arr


def _parse_timestamps(column: list[str], path: Path) -> NDArray[np.datetime64]:
    """Column as datetime64[s]; SourceError naming the first bad line.

    Order is not checked: 7 NAB files repeat a timestamp and one steps back 55 minutes;
    the row index, not the clock, is NAB's time axis.
    """
    try:
        exact = np.array(column, dtype="datetime64[us]")
    except ValueError:
        raise _first_bad_cell(column, "datetime64[us]", path) from None
    stamps = exact.astype("datetime64[s]")
    if np.any(stamps != exact):
        raise SourceError(f"{path}: sub-second timestamps are not supported.")
    return stamps


def _read_profiles(path: Path) -> Mapping[str, Profile]:
    if not path.is_file():
        return PROFILES
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return MappingProxyType(
            {
                name: Profile(
                    name,
                    float(spec["CostMatrix"]["tpWeight"]),
                    float(spec["CostMatrix"]["fpWeight"]),
                    float(spec["CostMatrix"]["fnWeight"]),
                )
                for name, spec in raw.items()
            }
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceError(
            f"{path} is not a NAB profiles file ({type(exc).__name__}: {exc}); expected "
            '{"<profile>": {"CostMatrix": {"tpWeight": .., "fpWeight": .., "fnWeight": ..}}}.'
        ) from None


def load_corpus(
    data_dir: str | os.PathLike[str], windows_file: str = "combined_windows.json"
) -> NabCorpus:
    """Load the NAB series listed in a windows file, with windows matched to rows.

    Parameters
    ----------
    data_dir
        A NAB checkout: ``data/<category>/<name>.csv``, ``labels/<windows_file>`` and optionally
        ``config/profiles.json`` (else :data:`PROFILES`).
    windows_file
        Name under ``labels/`` (or a path) of a ``{key: [[start, end], ...]}`` JSON file; the
        corpus holds exactly its keys, so ``combined_windows_tiny.json`` gives a 2-file corpus.
        Window limits must equal row timestamps exactly.

    Raises
    ------
    SourceError
        A file is missing or malformed; the message names it.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> (root / "data" / "demo").mkdir(parents=True)
    >>> rows = "".join(f"2024-01-01 00:{m:02d}:00,{m}\\n" for m in range(40))
    >>> _ = (root / "data/demo/a.csv").write_text("timestamp,value\\n" + rows)
    >>> (root / "labels").mkdir()
    >>> window = ["2024-01-01 00:30:00.000000", "2024-01-01 00:34:00.000000"]
    >>> _ = (root / "labels/combined_windows.json").write_text(json.dumps({"demo/a.csv": [window]}))
    >>> corpus = load_corpus(root)
    >>> f = corpus.files["demo/a.csv"]
    >>> f.windows, f.probationary, float(f.values[-1])
    (((30, 34),), 6, 39.0)
    >>> tmp.cleanup()
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise SourceError(f"NAB directory {root} does not exist; {_HINT}.")
    labels_path = root / "labels" / windows_file
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"windows file {labels_path} does not exist; {_HINT}.") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read windows file {labels_path}: {exc}.") from None
    if not isinstance(labels, dict) or not all(isinstance(v, list) for v in labels.values()):
        raise SourceError(
            f"{labels_path} must hold a JSON object {{file: [[start, end], ...]}}; {_HINT}."
        )
    files = {}
    for key in sorted(labels):
        path = root / "data" / key
        columns = _read_columns(path, ("timestamp", "value"), _HINT)
        stamps = _parse_timestamps(columns["timestamp"], path)
        values = _parse_floats(columns["value"], path)
        windows = [_window_rows(pair, key, stamps, labels_path, path) for pair in labels[key]]
        problem = _window_problem(windows, len(stamps))
        if problem:
            raise SourceError(f"{labels_path}, {key!r}: {problem}")
        files[key] = NabFile(key, stamps, values, tuple(windows))
    return NabCorpus(files, _read_profiles(root / "config" / "profiles.json"))


def _window_rows(
    pair: object, key: str, stamps: NDArray[np.datetime64], labels_path: Path, path: Path
) -> tuple[int, int]:
    """Inclusive row range of a ``[start, end]`` window whose limits are row timestamps."""
    limits = None
    if isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair):
        try:
            limits = np.array(pair, dtype="datetime64[us]")
        except ValueError:
            pass
    if limits is None:
        raise SourceError(
            f"{labels_path}: window {pair!r} of {key!r} is not a [start, end] pair of timestamps."
        )
    rows = np.flatnonzero((stamps >= limits[0]) & (stamps <= limits[1]))
    problem = ""
    if rows.size == 0 or stamps[rows[0]] != limits[0] or stamps[rows[-1]] != limits[1]:
        problem = "its limits must both be timestamps of rows; they match rows exactly"
    elif rows[-1] - rows[0] + 1 != rows.size:
        problem = "the rows inside it are not contiguous (timestamps out of order)"
    if problem:
        raise SourceError(f"{labels_path}: window {pair!r} of {key!r} in {path}: {problem}.")
    return int(rows[0]), int(rows[-1])


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
    unknown = sorted(set(scores) - set(corpus.files))
    missing = sorted(set(corpus.files) - set(scores))
    if unknown or missing:
        raise InvalidInputError(
            f"scores must have one array per corpus file; missing: {missing[:3]}, "
            f"not in the corpus: {unknown[:3]}."
        )
    parts = []
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
        parts.append(arr[f.probationary :])
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
    layout = corpus._layout
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
        chosen = _best_thresholds(corpus._layout, s, corpus.profiles)
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


def _result_path(results_dir: Path, detector_name: str, key: str) -> Path:
    key_path = Path(key)
    return results_dir / detector_name / key_path.parent / f"{detector_name}_{key_path.name}"


def load_results_dir(
    results_dir: str | os.PathLike[str], detector_name: str, corpus: NabCorpus
) -> dict[str, NDArray[np.float64]]:
    """Read a detector's scores in NAB's results layout, one array per corpus file.

    Reads ``<results_dir>/<detector>/<category>/<detector>_<name>.csv``; the ``anomaly_score``
    column is used, other columns are allowed, and a ``timestamp`` column must match the data.

    Raises
    ------
    SourceError
        A file is missing, lacks ``anomaly_score``, or has the wrong rows.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": np.zeros(4)}, {"demo/a.csv": [(2, 3)]})
    >>> tmp = tempfile.TemporaryDirectory()
    >>> write_results(tmp.name, "mine", corpus, {"demo/a.csv": [0.0, 0.1, 0.9, 0.5]})
    >>> load_results_dir(tmp.name, "mine", corpus)["demo/a.csv"]
    array([0. , 0.1, 0.9, 0.5])
    >>> tmp.cleanup()
    """
    root = Path(results_dir)
    hint = f"expected NAB's layout <dir>/{detector_name}/<category>/{detector_name}_<file>.csv"
    out = {}
    for key, f in corpus.files.items():
        path = _result_path(root, detector_name, key)
        columns = _read_columns(path, ("anomaly_score",), hint, optional=("timestamp",))
        column = columns["anomaly_score"]
        if len(column) != f.n_rows:
            raise SourceError(f"{path} has {len(column)} rows; data/{key} has {f.n_rows}.")
        if "timestamp" in columns:
            stamps = _parse_timestamps(columns["timestamp"], path)
            bad = np.flatnonzero(stamps != f.timestamps)
            if bad.size:
                raise SourceError(
                    f"{path} line {bad[0] + 2}: timestamp {columns['timestamp'][bad[0]]!r} "
                    f"differs from row {bad[0]} of data/{key}."
                )
        out[key] = _parse_floats(column, path)
    return out


def write_results(
    out_dir: str | os.PathLike[str],
    detector_name: str,
    corpus: NabCorpus,
    scores: Mapping[str, ArrayLike],
    labels: bool = True,
) -> None:
    """Write scores in NAB's results layout (readable by NAB and :func:`load_results_dir`).

    Writes ``<out_dir>/<detector>/<category>/<detector>_<name>.csv`` with columns
    ``timestamp,value,anomaly_score`` and, if `labels`, ``label`` (1 inside windows).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": [5.0, 6.0]}, {"demo/a.csv": [(1, 1)]})
    >>> tmp = tempfile.TemporaryDirectory()
    >>> write_results(tmp.name, "mine", corpus, {"demo/a.csv": np.array([0.25, 1.0])})
    >>> print(Path(tmp.name, "mine/demo/mine_a.csv").read_text().strip())
    timestamp,value,anomaly_score,label
    2000-01-01 00:00:00,5.0,0.25,0
    2000-01-01 00:05:00,6.0,1.0,1
    >>> tmp.cleanup()
    """
    _scored_rows(corpus, scores)
    for key, f in corpus.files.items():
        path = _result_path(Path(out_dir), detector_name, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        label = np.zeros(f.n_rows, dtype=np.int64)
        for a, b in f.windows:
            label[a : b + 1] = 1
        stamps = np.char.replace(np.datetime_as_string(f.timestamps, unit="s"), "T", " ")
        columns = [
            stamps.tolist(),
            f.values.tolist(),
            np.asarray(scores[key], dtype=np.float64).tolist(),
        ]
        header = "timestamp,value,anomaly_score"
        if labels:
            columns.append(label.tolist())
            header += ",label"
        body = "".join(",".join(map(str, row)) + "\n" for row in zip(*columns, strict=True))
        path.write_text(header + "\n" + body, encoding="utf-8")


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
