"""Compilation settings shared by every numba kernel, and where compiled kernels are cached.

Kernels are compiled in nopython mode and cached on disk, so only the first run on a machine
pays the compile time. ``fastmath`` stays off: chunked and point-by-point updates must agree
bit for bit, and fast-math lets the compiler reorder floating-point sums.

numba keys its on-disk cache by the source file of each kernel only, so a kernel that inlines a
function from another module (``SeasonalDetector``'s step calls the season estimator of
``_season.py``; the keyed loops call the detectors' steps) would keep running stale code after
that other module changes. Unless ``NUMBA_CACHE_DIR`` is set, importing this module therefore
points numba's cache at ``<user cache dir>/oddwatch/numba-<hash of this package's sources>``:
any edit to any module of the package starts a fresh cache, and only the three most recently
used ones are kept. The setting is numba's process-wide ``CACHE_DIR``, so other libraries'
kernels compiled later in the same process are cached there too. When the directory cannot be
created, numba's default (``__pycache__`` beside each module) is left in place.

The first run on a machine waits while kernels compile; :func:`notice_if_slow` says so
(:data:`COMPILING`) when a step is still running after half a second, so a user who runs
``oddwatch demo`` or a library user's own first call sees why it is slow.

Examples
--------
>>> NUMBA_OPTIONS["fastmath"]
False
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numba

__all__ = ["COMPILING", "INLINE_OPTIONS", "NUMBA_OPTIONS", "notice_if_slow"]

NUMBA_OPTIONS: dict[str, Any] = {"nopython": True, "cache": True, "nogil": True, "fastmath": False}
# for a kernel that composes others and sits on the hot path: inlined into its caller at
# numba's IR level (measured: DualSurpriseDetector 2.4 -> 2.6M points/s with its step_both)
INLINE_OPTIONS: dict[str, Any] = {**NUMBA_OPTIONS, "inline": "always"}

COMPILING = "compiling kernels, first run only (cached afterwards)..."


@contextmanager
def notice_if_slow(
    message: str = COMPILING, after: float = 0.5, stream: TextIO | None = None
) -> Iterator[None]:
    """Print ``message`` (to stderr by default) if the block is still running after ``after`` s.

    A warm start finishes before the timer fires and prints nothing.

    Examples
    --------
    >>> import io, time
    >>> out = io.StringIO()
    >>> with notice_if_slow("slow step...", after=0.01, stream=out):
    ...     time.sleep(0.2)
    >>> out.getvalue()
    'slow step...\\n'
    >>> with notice_if_slow("slow step...", after=5.0, stream=out):
    ...     pass
    >>> out.getvalue().count("slow step")
    1
    """

    def say() -> None:
        print(message, file=stream or sys.stderr, flush=True)

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


_PACKAGE = Path(__file__).resolve().parent
_KEEP = 3  # cache directories kept: the one in use and the two used before it


def _source_files(root: Path) -> list[Path]:
    """Every ``.py`` file below ``root`` (``__pycache__`` skipped), in a fixed order."""
    found: list[Path] = []
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    found.append(Path(entry.path))
    return sorted(found)


def _source_stamp(root: Path) -> str:
    """A short hash of the names and contents of the ``.py`` files below ``root`` (~1 ms)."""
    digest = hashlib.blake2b(digest_size=6)
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _user_cache_dir() -> Path:
    """The platform's per-user cache directory for oddwatch."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "oddwatch" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "oddwatch"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "oddwatch"


def _prune(current: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently used ``numba-*`` siblings of ``current``."""
    used = []
    for path in current.parent.glob("numba-*"):
        try:
            used.append((path.stat().st_mtime, path))
        except OSError:  # removed meanwhile by another process
            continue
    used.sort(reverse=True)
    stale = [path for _, path in used if path != current][keep - 1 :]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def _kernel_cache_dir(base: Path, stamp: str) -> Path | None:
    """``base / numba-<stamp>``, created if new (pruning older ones); None if not writable."""
    path = base / f"numba-{stamp}"
    try:
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            pass
        else:
            _prune(path, _KEEP)
        os.utime(path)  # marks it as used, for pruning
    except OSError:
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


def _configure_numba_cache() -> None:
    """Point numba's cache at this version of the sources, unless the user chose a directory."""
    settings: Any = numba.config  # its settings are set at run time, unknown to type checkers
    if settings.CACHE_DIR:  # NUMBA_CACHE_DIR (environment or .numba_config.yaml)
        return
    try:
        path = _kernel_cache_dir(_user_cache_dir(), _source_stamp(_PACKAGE))
    except (OSError, RuntimeError):  # no home directory, unreadable sources
        return
    if path is not None:
        settings.CACHE_DIR = str(path)


_configure_numba_cache()
