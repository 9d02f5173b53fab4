"""Read a checkpoint file defensively: every size is bounded before anything is read.

:func:`read_checkpoint` is the reading half of :mod:`oddwatch.persist` (its ``read_meta``). It
refuses a path that is not a regular file (a FIFO, a device such as ``/dev/zero``, a directory)
without opening it for reading, refuses zip entries that are compressed (oddwatch stores them,
so no entry can expand beyond the file's own size) and more entries than a checkpoint can have,
parses ``meta.json`` only up to :data:`MAX_META_BYTES` and :data:`MAX_JSON_DEPTH`, and reads
each ``.npy`` array only after checking its header: a plain numeric dtype, a shape whose byte
count matches the entry's size and the metadata's declaration. Whatever else goes wrong (a
flipped byte anywhere in the file) becomes :class:`~oddwatch.errors.CheckpointError`, never
another exception.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "fifo.ckpt")
>>> os.mkfifo(path)
>>> from oddwatch.persist import read_meta
>>> read_meta(path)
Traceback (most recent call last):
...
oddwatch.errors.CheckpointError: ...fifo.ckpt is a FIFO, not a regular file; give the path of
a checkpoint file.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from oddwatch.errors import CheckpointError

__all__ = ["MAX_ARRAYS", "MAX_JSON_DEPTH", "MAX_META_BYTES", "read_checkpoint"]

MAX_META_BYTES = 16 << 20
MAX_JSON_DEPTH = 32
MAX_ARRAYS = 1024
_DTYPE_KINDS = "biufU"  # bool, integers, floats, fixed-width unicode: never objects

_KINDS = {
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISDIR: "a directory",
    stat.S_ISSOCK: "a socket",
}


def _open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (symlinks are followed)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file.") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
    _require_regular(path, info.st_mode)
    try:  # O_NONBLOCK: a FIFO swapped in after the stat cannot make open() wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
    try:
        _require_regular(path, os.fstat(fd).st_mode)
    except CheckpointError:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _require_regular(path: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS.items() if test(mode)), "not a file")
    raise CheckpointError(
        f"{path} is {kind}, not a regular file; give the path of a checkpoint file."
    )


def _json_depth_ok(value: Any) -> bool:
    """Whether ``value`` nests at most :data:`MAX_JSON_DEPTH` levels (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def _read_meta_json(zf: zipfile.ZipFile, where: str) -> dict[str, Any]:
    try:
        info = zf.getinfo("meta.json")
    except KeyError:
        raise CheckpointError(f"{where}: not an oddwatch checkpoint (no meta.json).") from None
    if info.file_size > MAX_META_BYTES:
        raise CheckpointError(
            f"{where}: meta.json declares {info.file_size} bytes; a checkpoint's metadata is "
            f"at most {MAX_META_BYTES}. The file is corrupt or not an oddwatch checkpoint."
        )
    raw = zf.read(info)
    try:
        meta = json.loads(raw)
    except RecursionError:
        meta = None
    except ValueError as exc:
        raise CheckpointError(f"{where}: meta.json is corrupt ({exc}).") from None
    if meta is None or not _json_depth_ok(meta):
        raise CheckpointError(
            f"{where}: meta.json nests deeper than {MAX_JSON_DEPTH} levels; "
            "it is corrupt or not an oddwatch checkpoint."
        )
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: meta.json is not a JSON object.")
    return meta


def _array_spec(name: str, info: Any, where: str) -> tuple[np.dtype[Any], tuple[int, ...], str]:
    """The dtype, shape and digest ``meta.json`` declares for array ``name``, type-checked."""
    if not isinstance(info, dict):
        raise CheckpointError(f"{where}: the entry for state array `{name}` is not an object.")
    dtype, shape, digest = info.get("dtype"), info.get("shape"), info.get("sha256")
    if (
        not isinstance(dtype, str)
        or not isinstance(digest, str)
        or not isinstance(shape, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        or len(shape) > 8
    ):
        raise CheckpointError(
            f"{where}: state array `{name}` is declared as dtype {dtype!r:.40}, shape "
            f"{shape!r:.80}; expected a dtype name, a list of at most 8 sizes and a sha256."
        )
    try:
        parsed = np.dtype(dtype)
    except (TypeError, ValueError):
        parsed = np.dtype(object)
    if parsed.kind not in _DTYPE_KINDS or parsed.hasobject:
        raise CheckpointError(f"{where}: state array `{name}` has unsupported dtype {dtype!r:.40}.")
    return parsed, tuple(shape), digest


def _read_array(zf: zipfile.ZipFile, name: str, spec: Any, where: str) -> np.ndarray:
    """Read ``state/<name>.npy`` after checking its header against its size and ``spec``."""
    dtype, shape, _ = _array_spec(name, spec, where)
    try:
        info = zf.getinfo(f"state/{name}.npy")
    except KeyError:
        raise CheckpointError(f"{where}: state array `{name}` is missing.") from None
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        got_shape, fortran, got_dtype = header(fh, max_header_size=10_000)
        if got_dtype.hasobject:
            raise CheckpointError(
                f"{where}: state array `{name}` is unreadable (it holds Python objects, "
                "which are never loaded: no pickle)."
            )
        if got_dtype != dtype or tuple(got_shape) != shape or fortran:
            raise CheckpointError(
                f"{where}: state array `{name}` is stored as {got_dtype} {got_shape} but "
                f"declared as {dtype} {shape} (corrupt)."
            )
        n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if fh.tell() + n_bytes != info.file_size:
            raise CheckpointError(
                f"{where}: state array `{name}` declares {n_bytes} bytes of data but its entry "
                f"holds {info.file_size - fh.tell()} (corrupt or truncated)."
            )
        data = fh.read(n_bytes)
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _check_entries(zf: zipfile.ZipFile, where: str) -> None:
    entries = zf.infolist()
    if len(entries) > MAX_ARRAYS + 1:
        raise CheckpointError(
            f"{where}: the zip has {len(entries)} entries; a checkpoint has at most "
            f"{MAX_ARRAYS + 1}. It is corrupt or not an oddwatch checkpoint."
        )
    for info in entries:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise CheckpointError(
                f"{where}: zip entry {info.filename!r:.80} is compressed; oddwatch stores "
                "entries uncompressed. The file is corrupt or not an oddwatch checkpoint."
            )


_LOCAL = struct.Struct("<4s5H3L2H")  # a zip local file header
_CENTRAL = struct.Struct("<4s4B4H3L5H2L")  # a central directory entry
_END = struct.Struct("<4s4H2LH")  # the end-of-central-directory record
_FILE_ATTRIBUTES = 0o600 << 16  # what zipfile.writestr records
_NOT_ZIP64 = 0xFFFFFFFF


def _check_headers(fh: BinaryIO, zf: zipfile.ZipFile, where: str) -> None:
    """Every header field must be what oddwatch's writer produces: each local header agrees
    with its central directory entry, and fields no reader uses have their written values,
    so that no flipped byte anywhere in the zip structure goes unnoticed."""
    entries = zf.infolist()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(size - _END.size)
    end = _END.unpack(fh.read(_END.size))
    located = end[6] == _NOT_ZIP64 or (end[6] == zf.start_dir and sum(end[5:7]) + 22 == size)
    if end[:5] != (b"PK\x05\x06", 0, 0, len(entries), len(entries)) or end[7] or not located:
        raise CheckpointError(f"{where}: the zip's end record is corrupt.")
    fh.seek(zf.start_dir)
    for info in entries:
        expected = _CENTRAL.pack(
            b"PK\x01\x02",
            info.create_version,
            info.create_system,
            info.extract_version,
            0,
            info.flag_bits,
            info.compress_type,
            *_dos_time(info.date_time),
            info.CRC,
            min(info.compress_size, _NOT_ZIP64),
            min(info.file_size, _NOT_ZIP64),
            len(info.filename.encode()),
            len(info.extra),
            0,
            0,
            info.internal_attr,
            info.external_attr,
            min(info.header_offset, _NOT_ZIP64),
        )
        if fh.read(_CENTRAL.size) != expected:
            raise CheckpointError(
                f"{where}: the central directory entry of {info.filename!r:.80} is corrupt."
            )
        fh.seek(len(info.filename.encode()) + len(info.extra), os.SEEK_CUR)
    if fh.tell() != zf.start_dir + end[5] and end[5] != _NOT_ZIP64:
        raise CheckpointError(f"{where}: the zip's central directory is corrupt.")
    for info in entries:
        fh.seek(info.header_offset)
        local = _LOCAL.unpack(fh.read(_LOCAL.size))
        central = [
            b"PK\x03\x04",
            info.extract_version,
            info.flag_bits,
            info.compress_type,
            *_dos_time(info.date_time),
            info.CRC,
            info.compress_size,
            info.file_size,
            len(info.filename.encode()),
            0,  # no extra field
        ]
        if _NOT_ZIP64 in (info.compress_size, info.file_size):  # sizes live in the extra
            local, central = local[:7] + local[9:10], central[:7] + central[9:10]
        if (
            tuple(local[: len(central)]) != tuple(central)
            or info.external_attr != _FILE_ATTRIBUTES
            or (info.internal_attr, info.volume, info.comment) != (0, 0, b"")
            or info.create_system not in (0, 3)
            or info.create_version not in (20, 45)
        ):
            raise CheckpointError(
                f"{where}: the zip headers of {info.filename!r:.80} are corrupt (they disagree "
                "with each other or with what oddwatch writes)."
            )


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def read_checkpoint(
    path: str | os.PathLike[str],
    check_meta: Callable[[dict[str, Any], str], None],
    digest: Callable[[np.ndarray], str],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and state arrays of the checkpoint at ``path``, every size checked first.

    ``check_meta(meta, where)`` validates the header and checksum of ``meta.json`` (raising
    :class:`CheckpointError`); ``digest(array)`` is the checksum each array must match.
    """
    where = os.fspath(path)
    with _open_regular(where) as fh:
        try:
            return _read_all(fh, where, check_meta, digest)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            raise CheckpointError(
                f"{where}: not an oddwatch checkpoint (corrupt or truncated: {exc})."
            ) from None
        except Exception as exc:  # a flipped byte can surface as almost any error
            raise CheckpointError(
                f"{where}: the file is corrupt ({type(exc).__name__}: {str(exc):.200})."
            ) from None


def _read_all(
    fh: BinaryIO,
    where: str,
    check_meta: Callable[[dict[str, Any], str], None],
    digest: Callable[[np.ndarray], str],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with zipfile.ZipFile(fh) as zf:
        _check_entries(zf, where)
        _check_headers(fh, zf, where)
        meta = _read_meta_json(zf, where)
        check_meta(meta, where)
        table = meta["arrays"]
        if len(table) > MAX_ARRAYS:
            raise CheckpointError(f"{where}: meta.json lists more than {MAX_ARRAYS} arrays.")
        arrays: dict[str, np.ndarray] = {}
        for name, spec in table.items():
            array = _read_array(zf, name, spec, where)
            if digest(array) != spec["sha256"]:
                raise CheckpointError(
                    f"{where}: state array `{name}` fails its checksum (corrupt)."
                )
            arrays[name] = array
    return meta, arrays
