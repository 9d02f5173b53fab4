"""SeriesClock: order checks per series, forgetting the least recently seen beyond max_keys."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

from oddwatch.sources._order import SeriesClock
from oddwatch.sources._problems import DUPLICATE_TIMESTAMP, OUT_OF_ORDER


class NaiveClock:
    """The obvious version: the latest time and last-seen number of each series; after each
    chunk, forget the series seen least recently until ``max_keys`` remain."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.last: dict[str, float] = {}
        self.seen: dict[str, int] = {}

    def check(self, times, keys, first_seq):
        problem = []
        for i, (t, k) in enumerate(zip(times.tolist(), keys.tolist(), strict=True)):
            prev = self.last.get(k, -math.inf)
            problem.append(OUT_OF_ORDER if t < prev else DUPLICATE_TIMESTAMP if t == prev else 0)
            self.last[k] = max(prev, t)
            self.seen[k] = first_seq + i + 1
        for k in sorted(self.seen, key=self.seen.__getitem__)[: len(self.seen) - self.max_keys]:
            del self.last[k], self.seen[k]
        return problem


@pytest.mark.parametrize("seed", range(5))
def test_forgetting_matches_the_naive_clock(seed):
    rng = np.random.default_rng(seed)
    clock, naive = SeriesClock(max_gap=1e9, max_keys=7), NaiveClock(max_keys=7)
    seq = 0
    for chunk in range(60):
        n = int(rng.integers(1, 30))
        keys = np.array([f"k{j}" for j in rng.zipf(1.5, n) % 25])
        times = rng.integers(0, 40, n).astype(float) + chunk * 10
        problem, _ = clock.check(times, keys, seq)
        assert problem.tolist() == naive.check(times, keys, seq)
        assert sorted(clock.get_state()["keys"]) == sorted(naive.last)
        seq += n + int(rng.integers(0, 3))  # invalid records also take a number
        if chunk == 30:  # a checkpoint restored mid-stream forgets in the same order
            restored = SeriesClock(max_gap=1e9, max_keys=7)
            restored.set_state(clock.get_state())
            clock = restored


class CountingDict(OrderedDict):
    walks = 0

    def __iter__(self):
        CountingDict.walks += 1
        return super().__iter__()


def test_forgetting_does_not_walk_every_tracked_series():
    clock = SeriesClock(max_gap=1e9, max_keys=1000)
    clock.check(np.zeros(1000), np.array([f"k{i}" for i in range(1000)]), 0)
    clock._slot_of = CountingDict(clock._slot_of)
    for c in range(5):  # each chunk brings 3 new series: 3 forgotten, 997 untouched
        keys = np.array([f"new{c}-{i}" for i in range(3)])
        clock.check(np.ones(3), keys, 1000 + 3 * c)
    assert CountingDict.walks == 0  # was one walk over all 1,000 series per chunk
    assert len(clock.get_state()["keys"]) == 1000 and "k0" not in clock.get_state()["keys"]
