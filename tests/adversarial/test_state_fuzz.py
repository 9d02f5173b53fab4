"""Crafted state files never make a kernel read or write outside its arrays.

The fuzz itself runs in a child process (state_fuzz_child.py) with ``NUMBA_BOUNDSCHECK=1``,
which must be set before numba compiles anything, and its own numba cache directory (bounds-
checked kernels must not mix with the normal ones): 100 hypothesis examples per registered
component, each a checkpoint with 1-3 hostile integers in its state, loaded and run. Set
``ODDWATCH_FUZZ_SEED`` to explore other examples (the default run is derandomized).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oddwatch
from oddwatch._state_checks import state_structures
from oddwatch.errors import CheckpointError
from oddwatch.persist import load, registered_kinds, save

SRC = Path(oddwatch.__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("state_fuzz_child.py")
MAX_EXAMPLES = 100


def boundscheck_cache_dir() -> Path:
    """A numba cache for bounds-checked kernels, one per version of the sources."""
    digest = hashlib.sha256()
    for path in sorted((SRC / "oddwatch").rglob("*.py")):
        digest.update(path.read_bytes())
    base = Path(os.environ.get("NUMBA_CACHE_DIR") or SRC.parent / ".numba-cache")
    here = base / f"boundscheck-{digest.hexdigest()[:12]}"
    for old in base.glob("boundscheck-*"):
        if old != here:
            shutil.rmtree(old, ignore_errors=True)
    return here


def array_state_kinds():
    """Registered components whose state is arrays in a file (what a crafted file can hold).

    The River adapters (registered once ``oddwatch.river`` is imported, as other tests do)
    hold a River model, whose state is pickle-only and never in an oddwatch file.
    """
    return {
        name: cls
        for name, cls in registered_kinds().items()
        if not cls.__module__.startswith("oddwatch.river")
    }


def holds_integers(structure):
    return any(
        not isinstance(v, tuple) and (v.dtype.kind in "iu" or bool(v.dtype.names))
        for v in structure
    )


def test_every_state_structure_holding_integers_declares_its_invariants():
    checked, unchecked = set(), set()
    for name, cls in array_state_kinds().items():
        component = cls(**(cls._test_params() if hasattr(cls, "_test_params") else {}))
        if not hasattr(component, "_state"):
            assert name in ("Monitor", "KeyedMonitor"), name  # walked part by part
            continue
        for structure in state_structures(component._state):
            kind = type(structure).__name__
            if hasattr(structure, "check_invariants"):
                checked.add(kind)
            elif holds_integers(structure):
                unchecked.add(kind)
    assert not unchecked
    assert {"SeasonalState", "CalibratedState", "TailMemory", "ZScoreState"} <= checked


def test_crafted_state_is_refused_or_runs_cleanly_under_bounds_checking(tmp_path):
    report_path = tmp_path / "report.json"
    env = {
        **os.environ,
        "NUMBA_BOUNDSCHECK": "1",
        "NUMBA_CACHE_DIR": str(boundscheck_cache_dir()),
        "PYTHONPATH": str(SRC),
    }
    args = [sys.executable, str(CHILD), str(report_path), str(MAX_EXAMPLES)]
    if os.environ.get("ODDWATCH_FUZZ_SEED"):
        args.append(os.environ["ODDWATCH_FUZZ_SEED"])
    result = subprocess.run(args, capture_output=True, text=True, timeout=1200, env=env)
    case = Path(f"{report_path}.case")
    assert result.returncode == 0, (
        f"the fuzz process died ({result.returncode}); last case: "
        f"{case.read_text() if case.exists() else '?'}\n{result.stderr[-3000:]}"
    )
    report = json.loads(report_path.read_text())
    assert sorted(report) == sorted(array_state_kinds())
    failures = {kind: r["failure"] for kind, r in report.items() if r["failure"]}
    assert not failures, json.dumps(failures, indent=1)
    for kind, r in report.items():
        assert r["refused"] + r["ran"] == MAX_EXAMPLES and r["refused"] > 0, (kind, r)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("counters", [5, 40], r"counters\[1\] \(ring position\)` of RollingZScore must be 5"),
        ("counters", [10**10, 2], r"must be 0 \(n_seen % 8\); got 2"),
        ("counters", [-1, 0], r"counters\[0\]` of RollingZScore must be in \[0, "),
    ],
)
def test_a_crafted_ring_position_is_refused_at_load(tmp_path, field, value, match):
    """The issue's case: a RollingZScore whose ring position is 40 (or 1e10) in an 8-slot ring."""
    from oddwatch import RollingZScore

    det = RollingZScore(window_size=8)
    det.update_many(np.arange(5.0))
    state = det.get_state()
    state[field] = np.array(value, dtype=np.int64)
    det.get_state = lambda: state
    save(det, tmp_path / "crafted.oddwatch")
    with pytest.raises(CheckpointError, match=match):
        load(tmp_path / "crafted.oddwatch")


def test_a_crafted_row_of_a_keyed_monitor_is_refused_at_load(tmp_path):
    from oddwatch import KeyedMonitor, RollingZScore

    monitor = KeyedMonitor(RollingZScore(window_size=4), max_keys=8)
    monitor.update_many(np.array(["a", "b", "c"] * 5), np.arange(15.0))
    state = monitor.get_state()
    state["detector.counters"][1, 1] = 40  # key "b": ring position past its 4-slot window
    monitor.get_state = lambda: state
    save(monitor, tmp_path / "keyed.oddwatch")
    with pytest.raises(
        CheckpointError,
        match=r"KeyedMonitor, detector of some key: state field "
        r"`counters\[1\] \(ring position\)` of RollingZScore must be 1",
    ):
        load(tmp_path / "keyed.oddwatch")
