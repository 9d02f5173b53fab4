"""Child process of test_state_fuzz.py: crafted state files under ``NUMBA_BOUNDSCHECK=1``.

Run as ``python state_fuzz_child.py REPORT.json MAX_EXAMPLES [SEED]`` with
``NUMBA_BOUNDSCHECK=1`` set before numba is imported (bounds checks are compiled into the
kernels). For every registered component it trains a fresh instance, then lets hypothesis
pick 1-3 entries of its integer state arrays (positions, counts, sizes, tree indices) and of
any float ``config`` arrays (sizes stored as floats), set them to hostile values (negative,
huge, just out of range), saves the result as an ordinary checkpoint, loads it and runs it.
Acceptable outcomes: a ``CheckpointError`` at load, or a run without any exception. An
``IndexError`` from a bounds check (or anything else) fails the property; a segfault kills
the process, and ``REPORT.json.case`` names the case that was running.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from oddwatch.alarms import AlarmPolicy
from oddwatch.errors import CheckpointError
from oddwatch.persist import load, registered_kinds, save

RNG = np.random.default_rng(5)
XS = np.concatenate([np.sin(np.arange(400) / 5), np.full(20, 9.0), np.arange(60.0)])
XS = XS + RNG.normal(0, 0.1, XS.shape[0])
KEYS = np.array(["a", "b", "c", "d", "e"])


def feed(component, xs, keys=KEYS):
    if type(component).__name__ == "KeyedMonitor":
        return component.update_many(keys[np.arange(xs.shape[0]) % keys.shape[0]], xs)
    if isinstance(component, AlarmPolicy):  # scores and thresholds
        return component.update_many(np.abs(xs) / 3, np.full(xs.shape[0], 0.5))
    return component.update_many(xs)


def exercise(component):
    """Everything a user would do with a loaded component."""
    feed(component, XS[:150])
    if type(component).__name__ == "KeyedMonitor":
        feed(component, XS[150:300], np.array(["a", "new1", "new2", "new3", "new4", "new5"]))
    elif isinstance(component, AlarmPolicy):
        component.update(0.9, 0.5)
    else:
        if hasattr(component, "score"):
            component.score(float(XS[0]))
        component.update(3.0)
    feed(component, XS[300:])
    component.get_state()


def targets(state):
    """State arrays worth corrupting: integer ones, and float configs (they hold sizes)."""
    return sorted(
        name
        for name, array in state.items()
        if array.size and (array.dtype.kind in "iu" or "config" in name.split(".")[-1])
    )


def hostile_values(array):
    sizes = {d for d in array.shape} | {array.size}
    near = {v + k for v in sizes for k in (-1, 0, 1)} | {2 * v for v in sizes}
    values = {-1, -2, -(2**31), 2**31 - 1, 2**31, 2**62, 10**10, 0, 1} | near
    if array.dtype.kind == "f":
        return st.sampled_from(sorted(values)).map(float) | st.sampled_from(
            [float("nan"), float("inf"), -float("inf"), -0.5, 1e300, 0.5]
        )
    info = np.iinfo(array.dtype)
    values |= {info.min, info.max}
    fitting = sorted(v for v in values if info.min <= v <= info.max)
    return st.sampled_from(fitting) | st.integers(int(info.min), int(info.max))


def mutation(state, names):
    @st.composite
    def one(draw):
        name = draw(st.sampled_from(names))
        array = state[name]
        index = draw(st.integers(0, array.size - 1))
        return name, index, draw(hostile_values(array))

    return st.lists(one(), min_size=1, max_size=3)


def fuzz_component(kind, cls, max_examples, case_file, run_seed):
    base = cls(**(cls._test_params() if hasattr(cls, "_test_params") else {}))
    feed(base, XS)
    state = base.get_state()
    names = targets(state)
    counts = {"refused": 0, "ran": 0}
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, f"{kind}.oddwatch")

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=run_seed is None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutation(state, names))
    def check(changes):
        crafted = {k: v.copy() for k, v in state.items()}
        for name, index, value in changes:
            crafted[name].reshape(-1)[index] = value
        with open(case_file, "w") as fh:
            json.dump({"kind": kind, "changes": [[n, i, repr(v)] for n, i, v in changes]}, fh)
        holder = base.clone()
        holder.get_state = lambda: crafted  # save() writes exactly this (valid checksums)
        save(holder, path)
        try:
            loaded = load(path)
        except CheckpointError:
            counts["refused"] += 1
            return
        exercise(loaded)
        counts["ran"] += 1

    if run_seed is not None:
        check = seed(run_seed)(check)
    try:
        check()
        failure = None
    except Exception as exc:  # hypothesis re-raises the shrunk failure
        failure = "".join(traceback.format_exception_only(type(exc), exc))[-3000:]
        with open(case_file) as fh:
            failure += "\nlast case: " + fh.read()
    return {"targets": names, **counts, "failure": failure}


def main():
    report_path, max_examples = sys.argv[1], int(sys.argv[2])
    run_seed = int(sys.argv[3]) if len(sys.argv) > 3 else None
    assert os.environ.get("NUMBA_BOUNDSCHECK") == "1", "run with NUMBA_BOUNDSCHECK=1"
    report = {}
    for kind, cls in sorted(registered_kinds().items()):
        report[kind] = fuzz_component(kind, cls, max_examples, report_path + ".case", run_seed)
        with open(report_path, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
