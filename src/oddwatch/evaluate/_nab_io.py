"""The NAB corpus as files on disk: reading a checkout, writing and reading detector scores.

Reads a NAB checkout (``data/<category>/<name>.csv``, ``labels/<windows>.json`` and
``config/profiles.json``) into a :class:`~oddwatch.evaluate.nab.NabCorpus`, and writes and
reads detector scores in NAB's results layout
(``<dir>/<detector>/<category>/<detector>_<name>.csv``). Scoring lives in
:mod:`oddwatch.evaluate.nab`, which re-exports every public name of this module.

Examples
--------
>>> import tempfile
>>> corpus = NabCorpus.from_arrays({"demo/a.csv": [1.0, 2.0]}, {"demo/a.csv": [(1, 1)]})
>>> tmp = tempfile.TemporaryDirectory()
>>> write_results(tmp.name, "mine", corpus, {"demo/a.csv": [0.0, 1.0]})
>>> load_results_dir(tmp.name, "mine", corpus)["demo/a.csv"].tolist()
[0.0, 1.0]
>>> tmp.cleanup()
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oddwatch.errors import SourceError
from oddwatch.evaluate._nab_corpus import (
    PROFILES,
    NabCorpus,
    NabFile,
    Profile,
    check_scores,
    window_problem,
)

__all__ = ["default_nab_dir", "load_corpus", "load_results_dir", "write_results"]

_HINT = "pass --data DIR pointing at a NAB checkout (data/ and labels/) or set ODDWATCH_NAB_DIR"


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
        problem = window_problem(windows, len(stamps))
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
    checked = check_scores(corpus, scores)
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
            checked[key].tolist(),
        ]
        header = "timestamp,value,anomaly_score"
        if labels:
            columns.append(label.tolist())
            header += ",label"
        body = "".join(",".join(map(str, row)) + "\n" for row in zip(*columns, strict=True))
        path.write_text(header + "\n" + body, encoding="utf-8")
