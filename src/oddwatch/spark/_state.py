"""One bucket's :class:`~oddwatch.KeyedMonitor` as bytes: versioned, closed-world, never pickle.

A blob is ``MAGIC``, the length of a JSON header as 4 little-endian bytes, the header, then the
monitor's state arrays as consecutive ``.npy`` records. The header holds the format name and
version, the oddwatch version that wrote it, the monitor's parameters
(:func:`oddwatch.persist.encode_params`), the query's bucket count, and the name and byte
length of each array. Decoding reads arrays with ``allow_pickle=False`` and rebuilds the
monitor through the closed registry of :func:`oddwatch.persist.decode_params`; it never
imports a name read from the blob.

Examples
--------
>>> from oddwatch import KeyedMonitor
>>> mon = KeyedMonitor(max_keys=8)
>>> _ = mon.update_many(["a", "b"], [1.0, 2.0])
>>> blob = encode_monitor(mon, buckets=4)
>>> blob[:8]
b'ODDWSPK\\x00'
>>> restored = decode_monitor(blob, monitor_spec(mon), buckets=4)
>>> restored.keys_ == mon.keys_
True
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from oddwatch.errors import CheckpointError
from oddwatch.keyed import KeyedMonitor
from oddwatch.persist import decode_params, encode_params

__all__ = ["FORMAT", "FORMAT_VERSION", "MAGIC", "decode_monitor", "encode_monitor", "monitor_spec"]

MAGIC = b"ODDWSPK\x00"
FORMAT = "oddwatch.spark.bucket"
FORMAT_VERSION = 1
_HEADER_LENGTH = 4


def monitor_spec(monitor: KeyedMonitor) -> dict[str, Any]:
    """``monitor``'s kind and parameters in plain JSON, as stored in every blob."""
    spec: dict[str, Any] = json.loads(json.dumps(encode_params(monitor)))
    return spec


def encode_monitor(monitor: KeyedMonitor, buckets: int) -> bytes:
    """``monitor``'s parameters and state as one self-describing blob.

    ``buckets`` (the query's bucket count) is stored too: a checkpoint restarted with another
    count would send keys to buckets that do not hold their state.
    """
    from oddwatch import __version__

    body = io.BytesIO()
    lengths = []
    for name, array in monitor.get_state().items():
        start = body.tell()
        np.lib.format.write_array(body, np.ascontiguousarray(array), allow_pickle=False)
        lengths.append([name, body.tell() - start])
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "library": __version__,
        "monitor": monitor_spec(monitor),
        "buckets": buckets,
        "arrays": lengths,
    }
    head = json.dumps(header, sort_keys=True).encode()
    return b"".join([MAGIC, len(head).to_bytes(_HEADER_LENGTH, "little"), head, body.getbuffer()])


def decode_monitor(blob: bytes, expected: Mapping[str, Any], buckets: int) -> KeyedMonitor:
    """The monitor in ``blob``, checked against the query's ``expected`` spec and ``buckets``.

    Raises :class:`~oddwatch.errors.CheckpointError` when the blob is not ours, is truncated,
    was written by a newer format version, or was written by a query with another monitor
    (:func:`monitor_spec`) or bucket count (a checkpoint reused with another configuration).
    """
    header, start = _read_header(blob)
    if header.get("buckets") != buckets:
        raise CheckpointError(
            f"the Spark checkpoint was written with buckets={header.get('buckets')!r} but this "
            f"query has buckets={buckets}; keys would meet the wrong state. Restart with "
            f"buckets={header.get('buckets')!r}, or use a new checkpoint directory."
        )
    if header["monitor"] != expected:
        raise CheckpointError(
            f"the Spark checkpoint holds state of {_describe(header['monitor'])} but this query "
            f"runs {_describe(expected)}. Use a new checkpoint directory for a new "
            "configuration, or run the query with the configuration it was started with."
        )
    monitor = decode_params(header["monitor"], "Spark checkpoint")
    if not isinstance(monitor, KeyedMonitor):
        raise CheckpointError(
            "Spark checkpoint: bucket state must hold a KeyedMonitor; got "
            f"{type(monitor).__name__}."
        )
    state: dict[str, np.ndarray] = {}
    stream = io.BytesIO(blob)  # shares the bytes: no copy until read
    for name, length in header["arrays"]:
        stream.seek(start)
        start += length
        try:
            state[name] = np.lib.format.read_array(stream, allow_pickle=False)
        except ValueError as exc:
            raise CheckpointError(
                f"Spark checkpoint: state array `{name}` is unreadable ({exc})."
            ) from None
        if stream.tell() != start:
            raise CheckpointError(
                f"Spark checkpoint: state array `{name}` is {stream.tell() - start + length} "
                f"bytes long but the header says {length}."
            )
    if start != len(blob):
        raise CheckpointError(
            f"Spark checkpoint: bucket state has {len(blob) - start} unexpected trailing bytes."
        )
    try:
        monitor.set_state(state)
    except CheckpointError as exc:
        raise CheckpointError(
            f"Spark checkpoint written by oddwatch {header['library']}: {exc}"
        ) from None
    return monitor


def _read_header(blob: bytes) -> tuple[dict[str, Any], int]:
    if not blob.startswith(MAGIC):
        raise CheckpointError(
            f"Spark checkpoint: bucket state is not an oddwatch blob (starts {blob[:8]!r})."
        )
    start = len(MAGIC) + _HEADER_LENGTH
    length = int.from_bytes(blob[len(MAGIC) : start], "little")
    try:
        header = json.loads(blob[start : start + length])
    except ValueError as exc:
        raise CheckpointError(f"Spark checkpoint: bucket header is corrupt ({exc}).") from None
    from oddwatch import __version__

    version = header.get("version") if isinstance(header, dict) else None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"Spark checkpoint: bucket header is not {FORMAT!r}.")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"Spark checkpoint: bucket state format version {version!r} (written by oddwatch "
            f"{header.get('library', '?')}) is not readable by oddwatch {__version__}, which "
            f"reads version {FORMAT_VERSION}. Run the query with the oddwatch that wrote it."
        )
    arrays = header.get("arrays")
    if not isinstance(arrays, list) or not all(
        isinstance(a, list) and len(a) == 2 and isinstance(a[1], int) for a in arrays
    ):
        raise CheckpointError("Spark checkpoint: bucket header has no valid `arrays` list.")
    if "monitor" not in header:
        raise CheckpointError("Spark checkpoint: bucket header has no `monitor`.")
    return header, start + length


def _describe(spec: Any) -> str:
    return json.dumps(spec, sort_keys=True)[:300]
