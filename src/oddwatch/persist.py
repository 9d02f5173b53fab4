"""Save and load components as versioned, checksummed files that never run code on load.

A file is a zip archive with ``meta.json`` (format, version, library version, the component's
kind and parameters, a SHA-256 of every array and one of the metadata itself) and one
``.npy`` entry per state array, named by its path in the component's state
(``seasonal.history``, ``detector.calibrated.window``).
Loading reads arrays with ``allow_pickle=False`` and maps ``kind`` through a closed registry of
known classes; it never imports a name read from a file. A corrupt, truncated, foreign or
newer-version file raises :class:`~oddwatch.errors.CheckpointError` naming the file and the
problem. Version 1 files (oddwatch 0.1, positional state) are refused with a message naming
the version: their arrays have no names to map onto today's state. Version 2 files (named
arrays, but the seasonal and calibration statistics as vectors) are read: each vector is split
into today's named fields, value for value, so the component continues bit for bit; the
latest value per series that version 3 added (for the stuck-value reason) starts unknown.

Examples
--------
>>> import tempfile, os
>>> from oddwatch.detectors import RollingZScore
>>> det = RollingZScore(window_size=3)
>>> _ = det.update_many([1.0, 2.0, 3.0])
>>> path = os.path.join(tempfile.mkdtemp(), "model.oddwatch")
>>> det.save(path)
>>> restored = load(path)
>>> restored.update(10.0) == det.update(10.0)
True
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from oddwatch._checkpoint_reader import read_checkpoint
from oddwatch._registry import kinds
from oddwatch._state_checks import check_state_invariants
from oddwatch.errors import CheckpointError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "decode_params",
    "encode_params",
    "load",
    "load_with_extra",
    "meta_digest",
    "read_meta",
    "registered_kinds",
    "save",
]

FORMAT = "oddwatch.checkpoint"
FORMAT_VERSION = 3
# Version 2 kept the seasonal model's and the calibration's statistics as two vectors per
# structure, `<path>.stats` and `<path>.counters`; version 3 names each one
# (`<path>.scalars.level`). A structure is recognised by a field only it has; the names are
# listed in their old vector order.
_V2_VECTORS: dict[str, dict[str, tuple[str, ...]]] = {
    "scalars.tail_quantile": {  # SeasonalState
        "stats": (
            "level",
            "var",
            "cusum_up",
            "cusum_down",
            "fast_residual",
            "season_corr",
            "fast_var",
            "cusum_var",
            "run_sum",
            "previous",
            "repeat_rate",
            "avg_mean",
            "avg_var",
            "lowest",
            "highest",
            "tail_quantile",
            "last_width",
        ),
        "counters": (
            "n_seen",
            "period",
            "next_check",
            "n_rebaseline",
            "run",
            "stuck_run",
            "n_averaged",
        ),
    },
    "scalars.exceed_rate": {  # CalibratedState
        "stats": ("mean", "spread", "exceed_rate", "excess", "peak"),
        "counters": ("n_seen", "n_calibrated"),
    },
}


def registered_kinds() -> dict[str, type[Any]]:
    """The classes :func:`load` can build, by name (every concrete component class)."""
    import oddwatch  # noqa: F401  (importing the package defines every built-in class)

    return kinds()


def _is_component(value: Any) -> bool:
    return kinds().get(type(value).__name__) is type(value)


def encode_params(component: Any) -> dict[str, Any]:
    """``{"kind": ..., "params": ...}`` in plain JSON types; nested components recurse."""

    def encode(value: Any) -> Any:
        if _is_component(value):
            return encode_params(value)
        if isinstance(value, tuple):
            return {"tuple": [encode(v) for v in value]}
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            return value.item()
        return value

    return {
        "kind": type(component).__name__,
        "params": {k: encode(v) for k, v in component.get_params().items()},
    }


def decode_params(spec: Mapping[str, Any], where: str = "file") -> Any:
    """Build the component described by :func:`encode_params` output (closed world)."""
    kinds = registered_kinds()

    def decode(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"tuple"}:
            return tuple(decode(v) for v in value["tuple"])
        if isinstance(value, dict) and "kind" in value:
            return decode_params(value, where)
        return value

    if not isinstance(spec, Mapping) or not isinstance(spec.get("params"), dict):
        raise CheckpointError(f"{where}: component description is malformed: {spec!r:.200}")
    kind = spec.get("kind")
    if kind not in kinds:
        raise CheckpointError(
            f"{where}: unknown component kind {kind!r}; known kinds: {', '.join(sorted(kinds))}."
        )
    params = {k: decode(v) for k, v in spec["params"].items()}
    try:
        return kinds[kind](**params)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot rebuild {kind} from its parameters: {exc}") from exc


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def meta_digest(meta: Mapping[str, Any]) -> str:
    """SHA-256 of the metadata (all but its own ``meta_sha256``) in canonical JSON."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save(
    component: Any, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None
) -> None:
    """Write ``component`` to ``path`` atomically (temporary file, fsync, rename).

    ``extra`` is plain JSON kept beside the state (e.g. a reader's input position); read it
    back with :func:`load_with_extra`.
    """
    from oddwatch import __version__

    state = component.get_state()
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "library": __version__,
        **encode_params(component),
        "extra": dict(extra or {}),
        "arrays": {
            name: {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": _digest(a)}
            for name, a in state.items()
        },
    }
    meta["meta_sha256"] = meta_digest(meta)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("meta.json", json.dumps(meta, indent=1, sort_keys=True))
            for name, array in state.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
                zf.writestr(f"state/{name}.npy", buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def read_meta(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a saved file; return its metadata and state arrays.

    Sizes are bounded before anything is read and every failure is a
    :class:`~oddwatch.errors.CheckpointError` (see :mod:`oddwatch._checkpoint_reader`).
    """
    return read_checkpoint(path, _check_meta, _digest)


def _check_meta(meta: dict[str, Any], where: str) -> None:
    _check_header(meta, where)
    if meta.get("meta_sha256") != meta_digest(meta):
        raise CheckpointError(f"{where}: meta.json fails its checksum (corrupt or edited).")


def _check_header(meta: Any, where: str) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not an oddwatch checkpoint (format is not {FORMAT!r}).")
    version = meta.get("version")
    if version == 1:
        raise CheckpointError(
            f"{where}: checkpoint format version 1 (written by oddwatch "
            f"{meta.get('library', '?')}) stored state by position; this oddwatch reads "
            f"version {FORMAT_VERSION} (state named by path) and cannot map it. Rebuild the "
            "checkpoint by re-running the stream with this version (oddwatch fit)."
        )
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"{where}: checkpoint format version {version!r} (written by oddwatch "
            f"{meta.get('library', '?')}) is not readable by this oddwatch, which reads "
            f"version {FORMAT_VERSION}. Upgrade oddwatch to load it."
        )
    if not isinstance(meta.get("arrays"), dict):
        raise CheckpointError(f"{where}: meta.json has no `arrays` table.")


def load(path: str | os.PathLike[str]) -> Any:
    """Rebuild the component saved at ``path``; it continues exactly where it stopped."""
    return load_with_extra(path)[0]


def load_with_extra(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """:func:`load`, plus the ``extra`` mapping given to :func:`save`."""
    meta, arrays = read_meta(path)
    component = _rebuild(meta, arrays, str(path))
    extra = meta.get("extra", {})
    return component, extra if isinstance(extra, dict) else {}


def _rebuild(meta: dict[str, Any], arrays: Mapping[str, np.ndarray], where: str) -> Any:
    """The component of a verified file, its state checked against its parameters.

    A file that passes its checksums may still be crafted (anyone can recompute them): any
    failure to rebuild it, and any index or count in its state that does not fit its arrays
    (:func:`oddwatch._state_checks.check_state_invariants`), is a ``CheckpointError``.
    """
    try:
        component = decode_params(meta, where)
        if meta["version"] == 2:
            arrays = _split_v2_vectors(arrays, component.get_state())
        component.set_state(arrays)
        check_state_invariants(component)
    except CheckpointError as exc:
        message = str(exc)
        raise CheckpointError(
            message if message.startswith(where) else f"{where}: {message}"
        ) from None
    except Exception as exc:  # parameters of the wrong JSON type can fail in many ways
        raise CheckpointError(
            f"{where}: cannot rebuild the saved component ({type(exc).__name__}: {str(exc):.200})."
        ) from None
    return component


def _split_v2_vectors(
    arrays: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """A version 2 file's arrays with each statistics vector split into named fields.

    A vector whose length is not its layout's is left as it is: ``set_state`` then names it.
    """
    out = dict(arrays)
    for path in expected:
        for marker, layout in _V2_VECTORS.items():
            if path == marker or path.endswith(f".{marker}"):
                _split(out, path[: -len(marker)], layout)
    # each series' latest value (for the stuck-value reason) is new: unknown, as for a new key
    if "monitor.previous" in expected:
        out.setdefault("monitor.previous", np.full(1, np.nan))
    keys = out.get("keys")
    if "previous" in expected and isinstance(keys, np.ndarray) and keys.ndim == 1:
        out.setdefault("previous", np.full(keys.shape[0], np.nan))
    return out


def _split(arrays: dict[str, np.ndarray], base: str, layout: Mapping[str, tuple[str, ...]]) -> None:
    """Replace ``<base>stats`` and ``<base>counters`` in ``arrays`` by the named fields."""
    for vector, names in layout.items():
        old = arrays.get(base + vector)
        if old is None or old.ndim == 0 or old.shape[-1] != len(names):
            continue
        del arrays[base + vector]
        for i, name in enumerate(names):
            arrays[f"{base}scalars.{name}"] = old[..., i : i + 1].copy()
