"""Save and load components holding River models, as pickle, only when the caller opts in.

oddwatch checkpoints hold plain arrays and never run code on load; River keeps model state
only as pickle, and unpickling a file can run any code its writer chose. These two functions
are the one place oddwatch writes or reads pickle, and both refuse unless called with
``allow_pickle=True``: a file's content can never grant the permission itself. The file is a
zip with ``meta.json`` (format ``"oddwatch.pickle"``, version, library and River versions, the
kind, a SHA-256 of the pickle) and ``object.pickle``. The checksum catches corruption, not
tampering: load only files you wrote or trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from oddwatch._base import Component
from oddwatch.errors import CheckpointError
from oddwatch.river._import import RIVER_VERSION

__all__ = ["PICKLE_FORMAT", "load_pickle", "save_pickle"]

PICKLE_FORMAT = "oddwatch.pickle"
_VERSION = 1


def _refuse(action: str) -> CheckpointError:
    return CheckpointError(
        f"{action} a River model means pickle, and unpickling a file can run any code its "
        f"writer put in it; got allow_pickle=False. Pass allow_pickle=True only for files you "
        "wrote or trust."
    )


def save_pickle(
    component: Component, path: str | os.PathLike[str], *, allow_pickle: bool = False
) -> None:
    """Write ``component`` (e.g. a RiverMonitor) to ``path`` as pickle.

    Refused (:class:`~oddwatch.errors.CheckpointError`) unless ``allow_pickle`` is True.
    Written atomically (temporary file, fsync, rename).

    Examples
    --------
    >>> import os, tempfile
    >>> from oddwatch.river import RiverMonitor
    >>> mon = RiverMonitor()
    >>> _ = mon.update_many([0.5, 0.6, 0.4])
    >>> path = os.path.join(tempfile.mkdtemp(), "river.pickle")
    >>> save_pickle(mon, path)
    Traceback (most recent call last):
    ...
    oddwatch.errors.CheckpointError: saving a River model means pickle, ...
    >>> save_pickle(mon, path, allow_pickle=True)
    >>> load_pickle(path, allow_pickle=True).update(0.5).score == mon.update(0.5).score
    True
    """
    if allow_pickle is not True:
        raise _refuse("saving")
    if not isinstance(component, Component):
        raise CheckpointError(
            f"save_pickle saves oddwatch components (a Monitor, a detector); got "
            f"{type(component).__name__}."
        )
    from oddwatch import __version__

    body = pickle.dumps(component, protocol=pickle.HIGHEST_PROTOCOL)
    meta = {
        "format": PICKLE_FORMAT,
        "version": _VERSION,
        "library": __version__,
        "river": RIVER_VERSION,
        "kind": type(component).__name__,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("meta.json", json.dumps(meta, indent=1, sort_keys=True))
            zf.writestr("object.pickle", body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], bytes]:
    where = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("meta.json"))
            body = zf.read("object.pickle")
    except FileNotFoundError:
        raise CheckpointError(f"{where}: no such file.") from None
    except KeyError as exc:
        raise CheckpointError(f"{where}: not an oddwatch pickle file (no {exc}).") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CheckpointError(f"{where}: not an oddwatch pickle file ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != PICKLE_FORMAT:
        raise CheckpointError(
            f"{where}: not an oddwatch pickle file (format is not {PICKLE_FORMAT!r}); "
            "an oddwatch checkpoint loads with oddwatch.load."
        )
    if meta.get("version") != _VERSION:
        raise CheckpointError(
            f"{where}: pickle file version {meta.get('version')!r} is not readable by this "
            f"oddwatch, which reads version {_VERSION}."
        )
    if meta.get("river") != RIVER_VERSION:
        raise CheckpointError(
            f"{where}: written with River {meta.get('river')}, but River {RIVER_VERSION} "
            "is installed; River models unpickle reliably only with the version that wrote "
            f"them. Install river=={meta.get('river')} to load it."
        )
    if hashlib.sha256(body).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"{where}: object.pickle fails its checksum (corrupt or edited).")
    return meta, body


def load_pickle(path: str | os.PathLike[str], *, allow_pickle: bool = False) -> Component:
    """Read a file written by :func:`save_pickle`; refused unless ``allow_pickle`` is True.

    The refusal comes before the file is opened. A wrong format, another River version, a
    checksum mismatch or an object that is not an oddwatch component raise
    :class:`~oddwatch.errors.CheckpointError` naming the file.
    """
    if allow_pickle is not True:
        raise _refuse("loading")
    meta, body = _read(path)
    obj = pickle.loads(body)  # noqa: S301 -- the caller opted in with allow_pickle=True
    if not isinstance(obj, Component) or type(obj).__name__ != meta.get("kind"):
        raise CheckpointError(
            f"{path}: holds a {type(obj).__name__}, not the {meta.get('kind')} its metadata names."
        )
    return obj
