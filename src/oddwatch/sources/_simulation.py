"""A simulated stream as arrays (:class:`Simulation`) and its anomaly events.

Examples
--------
>>> from oddwatch.sources import simulate
>>> simulate(n_points=1500, seed=2, anomaly_kinds=("stuck",)).events()[0]
AnomalyEvent(start=694, end=709, kind='stuck')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from oddwatch.sources._simulation_config import SimulationConfig

__all__ = ["AnomalyEvent", "Simulation"]


class AnomalyEvent(NamedTuple):
    """One injected anomaly: points ``start`` to ``end`` inclusive, all labelled ``kind``.

    Examples
    --------
    >>> AnomalyEvent(10, 12, "stuck")
    AnomalyEvent(start=10, end=12, kind='stuck')
    """

    start: int
    end: int
    kind: str


@dataclass(frozen=True, eq=False)
class Simulation:
    """A generated stream: read-only arrays of equal length and the config that made it.

    ``values`` is NaN where a ``missing`` anomaly dropped the point; ``kinds`` (object array
    of str) holds the anomaly kind of labelled points and ``""`` elsewhere.

    Examples
    --------
    >>> from oddwatch.sources import simulate
    >>> sim = simulate(n_points=3)
    >>> sim.timestamps
    array(['2026-01-01T00:00:00', '2026-01-01T00:01:00', '2026-01-01T00:02:00'],
          dtype='datetime64[s]')
    >>> sim.labels.tolist(), sim.kinds.tolist()
    ([False, False, False], ['', '', ''])
    """

    timestamps: NDArray[np.datetime64] = field(repr=False)
    values: NDArray[np.float64] = field(repr=False)
    labels: NDArray[np.bool_] = field(repr=False)
    kinds: NDArray[np.object_] = field(repr=False)
    config: SimulationConfig

    def __len__(self) -> int:
        return len(self.values)

    def events(self) -> list[AnomalyEvent]:
        """The anomaly events (maximal runs of labelled points), in order.

        Examples
        --------
        >>> from oddwatch.sources import simulate
        >>> simulate(n_points=1500, seed=2, anomaly_kinds=("stuck",)).events()
        [AnomalyEvent(start=694, end=709, kind='stuck'), ...]
        """
        edges = np.diff(self.labels.astype(np.int8), prepend=0, append=0)
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        pairs = zip(starts.tolist(), stops.tolist(), strict=True)
        return [AnomalyEvent(a, b - 1, str(self.kinds[a])) for a, b in pairs]
