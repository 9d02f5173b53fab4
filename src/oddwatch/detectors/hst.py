"""Streaming Half-Space Trees: mass of random half-space cells in the previous window."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import counts, fail, in_range
from oddwatch._validation import BoolParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._base import Detector
from oddwatch.detectors._half_space import build_trees, mass, mass_and_learn, mass_score
from oddwatch.errors import InvalidParameterError

__all__ = ["HalfSpaceTrees"]

# indices into the int64 counters: points seen, index of the latest window, shingles in it
_N_SEEN, _WINDOW, _IN_WINDOW = range(3)
# indices into the float scale vector: value mapped to 0 and width mapped to 1
_LOW, _SPAN = range(2)
_MAX_STATE_BYTES = 2**31
# bytes per tree and leaf: 16 per node (two int32 masses, an int64 stamp) + 9 per split
_BYTES_PER_LEAF = 41


class HalfSpaceState(NamedTuple):
    history: np.ndarray  # raw values of the last window (ring), for shingles and rescaling
    split_dim: np.ndarray  # per tree and internal node: the dimension it splits
    split_value: np.ndarray  # and where
    reference_mass: np.ndarray  # per tree and node: mass in the reference window
    latest_mass: np.ndarray  # mass in the latest window
    mass_window: np.ndarray  # the window the latest mass belongs to (lazy swap)
    scale: np.ndarray  # [low, span]: values are scaled as (x - low) / span
    counters: np.ndarray  # [points seen, index of the latest window, shingles in it]

    def check_invariants(self, owner: str, params: Any) -> None:
        """Counts, window bookkeeping, split dimensions and masses within their tables."""
        c = self.counters
        counts(owner, c[..., :2], ("n_seen", "window"))
        in_range(owner, "counters[in_window]", c[..., 2], 0, params.window_size - 1)
        n, window = c[..., 0], c[..., 1]
        if np.any((window == 0) != (n < self.history.shape[-1])):
            raise fail(owner, "counters[window]", "0 exactly while the first window fills", window)
        in_range(owner, "split_dim", self.split_dim, 0, params.shingle_size - 1)
        for name in ("reference_mass", "latest_mass"):
            in_range(owner, name, getattr(self, name), 0, 2**31 - 1)
        in_range(owner, "mass_window", self.mass_window, 0, window[..., None, None] + 2)


@numba.jit(**NUMBA_OPTIONS)
def _shingle(history: np.ndarray, scale: np.ndarray, n: int, x: float, u: np.ndarray) -> None:
    """Scaled last ``len(u)`` values ending with ``x`` (point number ``n``) into ``u``."""
    size = history.shape[0]
    k = u.shape[0]
    for q in range(k - 1):
        u[q] = (history[(n - k + 1 + q) % size] - scale[_LOW]) / scale[_SPAN]
    u[k - 1] = (x - scale[_LOW]) / scale[_SPAN]


@numba.jit(**NUMBA_OPTIONS)
def _calibrate(history: np.ndarray, scale: np.ndarray, first: bool) -> None:
    """Map the range of a window's values, trimmed by 1% at each end, to [0, 1].

    A constant window has no range: the first one gets a span of ``max(|value|, 1)`` from
    the value, a later one keeps the previous span and centres it on the value.
    """
    size = history.shape[0]
    ordered = np.sort(history)
    trim = size // 100
    low = ordered[trim]
    span = ordered[size - 1 - trim] - low
    if span <= 0.0:  # mostly constant: use the full range
        low = ordered[0]
        span = ordered[size - 1] - low
    if span <= 0.0 and first:  # constant: one unit of the value's own magnitude
        span = max(abs(low), 1.0)
    elif span <= 0.0:  # constant after a window with a range: keep its width
        span = scale[_SPAN]
        low -= 0.5 * span
    scale[_LOW] = low
    scale[_SPAN] = span


@numba.jit(**NUMBA_OPTIONS)
def _step(state: HalfSpaceState, params: Any, x: float) -> float:
    history, split_dim, split_value, reference_mass, latest_mass, mass_window, scale, counters = (
        state
    )
    n = counters[_N_SEEN]
    window = counters[_WINDOW]
    window_size, shingle_size, height = params.window_size, params.shingle_size, params.height
    trees = (split_dim, split_value, reference_mass, latest_mass, mass_window)
    u = np.empty(shingle_size)
    node = np.empty(split_dim.shape[0], dtype=np.int64)
    scored = np.empty(split_dim.shape[0], dtype=np.bool_)
    counters[_N_SEEN] = n + 1
    if window == 0:  # first window: collect raw values, then scale and learn them at once
        history[n] = x
        if n + 1 == history.shape[0]:
            _calibrate(history, scale, True)
            for j in range(shingle_size - 1, n + 1):
                _shingle(history, scale, j, history[j], u)
                mass_and_learn(*trees, u, 0, window_size, height, node, scored)
            counters[_WINDOW] = 1
        return math.nan
    _shingle(history, scale, n, x, u)
    total = mass_and_learn(*trees, u, window, window_size, height, node, scored)
    size = history.shape[0]
    history[n % size] = x
    counters[_IN_WINDOW] += 1
    if counters[_IN_WINDOW] == window_size:
        counters[_IN_WINDOW] = 0
        if params.rescale:  # rescale, relearn the window as window + 1, skip to window + 2
            _calibrate(history, scale, False)
            for j in range(n - window_size + 1, n + 1):
                _shingle(history, scale, j, history[j % size], u)
                mass_and_learn(*trees, u, window + 1, window_size, height, node, scored)
            counters[_WINDOW] = window + 2
        else:
            counters[_WINDOW] = window + 1
    return float(mass_score(total, split_value.shape[0], window_size, height))


@numba.jit(**NUMBA_OPTIONS)
def _peek(state: HalfSpaceState, params: Any, x: float) -> float:
    """The score :func:`_step` would return for ``x``, writing nothing."""
    window = state.counters[_WINDOW]
    if window == 0:
        return math.nan
    u = np.empty(params.shingle_size)
    _shingle(state.history, state.scale, state.counters[_N_SEEN], x, u)
    trees = (
        state.split_dim,
        state.split_value,
        state.reference_mass,
        state.latest_mass,
        state.mass_window,
    )
    total = mass(*trees, u, window, params.window_size)
    n_trees = state.split_value.shape[0]
    return float(mass_score(total, n_trees, params.window_size, params.height))


class HalfSpaceTrees(Detector):
    """Streaming Half-Space Trees: a point is anomalous when few recent points share its cell.

    Each point becomes a shingle, the last ``shingle_size`` values, scaled by the range of
    the previous window. ``n_trees`` random half-space trees of depth ``height``
    are drawn once, without data: each tree perturbs a work space around the unit cube and
    every node halves its cell at the midpoint of a random dimension. Every node counts the
    shingles of the latest window that passed through it; every ``window_size`` shingles
    those counts become the reference masses and counting restarts. A shingle is scored
    before it is learned: each tree is walked to the first node whose reference mass ``r``
    is below ``window_size / 10`` (or to a leaf at depth ``height``) and contributes
    ``m = r * 2**depth``, a density estimate. The score is
    ``1 - log2(1 + mean m) / log2(1 + window_size * 2**height)`` in [0, 1]: higher is more
    anomalous, 1 means an empty cell in every tree. It is a monotone (log) rescaling of the
    paper's summed mass, so it ranks points exactly as the paper does; the log keeps ordinary
    points away from 1 (the linear ``1 - m / max`` puts them all above 0.99).

    Scaling: during the first ``window_size + shingle_size - 1`` points (score ``nan``) the
    raw values are only stored; then their range, trimmed by 1% at each end, is mapped to
    [0, 1] and the stored window is learned as the first reference. With ``rescale`` (the
    default) every swap refits the range to the window just ended (its raw values are kept
    in a ring) and recounts that window under the new scale as the reference, so the masses
    always agree with the scale and the detector follows level shifts and trends; a constant
    window keeps the previous span, centred on its value (a constant first window gets a
    span of ``max(|value|, 1)``). Without it the first range is frozen, and after a level
    shift or along a trend the points pile into the outermost cells and can no longer be
    ranked. Fails for up to a window after a regime change (the new points sit in cells
    empty in the reference, often all scoring 1), on anomalies that fill a whole window
    (they become the reference), and on anomalies of shape inside the normal range: scoring
    stops at cells holding a tenth of a window, so the trees see only coarse structure. It ranks by
    density, not distance: points beyond the bulk stop in the same sparse tail cells, so a
    4 sd and a 12 sd spike score alike. A spike also raises the next ``shingle_size - 1``
    scores, while it is inside their shingles.

    Cost per point: one root-to-leaf walk per tree, ``n_trees * (height + 1)`` nodes; the
    window swap is lazy, O(1), plus with ``rescale`` a sort and one walk per shingle of the
    window (about twice the walks per point overall). Memory: about
    ``41 * n_trees * 2**height`` bytes (34 MB with the defaults, 1 MB with ``height=10``).
    Tan, Ting & Liu, "Fast Anomaly Detection for Streaming Data", IJCAI 2011. See
    docs/algorithms/hst.md.

    Parameters
    ----------
    n_trees
        Number of trees; the mass is averaged over them.
    height
        Depth of every tree (``height + 1`` levels, ``2**(height + 1) - 1`` nodes).
    window_size
        Shingles per window: the reference masses count this many points.
    shingle_size
        Consecutive values per shingle; 1 scores single values.
    seed
        Seed of the generator that draws the work spaces and split dimensions.
    rescale
        Refit the scale to each window at its swap and recount it as the reference (True),
        or freeze the first window's scale (False).

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.sin(np.arange(1000) / 8) + np.random.default_rng(0).normal(0, 0.1, 1000)
    >>> xs[800] += 3.0
    >>> det = HalfSpaceTrees()
    >>> scores = det.update_many(xs)
    >>> int(np.isnan(scores).sum()), round(float(np.nanmedian(scores)), 2)
    (251, 0.48)
    >>> [round(float(s), 2) for s in scores[799:803]]  # the spike is in two shingles
    [0.5, 0.72, 0.77, 0.5]
    """

    score_scale = "rank"
    n_trees: int = param(default=25, check=IntParam(low=1, high=1024))
    height: int = param(default=15, check=IntParam(low=1, high=24))
    window_size: int = param(default=250, check=IntParam(low=2, high=1_000_000))
    shingle_size: int = param(default=2, check=IntParam(low=1, high=64))
    seed: int = param(default=0, check=IntParam(low=0, high=2**63 - 1))
    rescale: bool = param(default=True, check=BoolParam())
    State = HalfSpaceState
    _step = staticmethod(_step)

    def _check_combination(self) -> None:
        n_bytes = self.n_trees * _BYTES_PER_LEAF * 2**self.height
        if n_bytes > _MAX_STATE_BYTES:
            raise InvalidParameterError(
                f"`height` of HalfSpaceTrees is too large for n_trees={self.n_trees}: the "
                f"trees would take {n_bytes / 2**30:.1f} GiB; got height={self.height}. The "
                "limit is 2 GiB: lower `height` (one less halves the memory) or `n_trees`."
            )

    def _initial_state(self) -> HalfSpaceState:
        n_internal = 2**self.height - 1
        n_nodes = 2 * n_internal + 1
        split_dim = np.zeros((self.n_trees, n_internal), dtype=np.int8)
        split_value = np.zeros((self.n_trees, n_internal))
        build_trees(
            np.array([self.seed], dtype=np.uint64), split_dim, split_value, self.shingle_size
        )
        return HalfSpaceState(
            np.zeros(self.window_size + self.shingle_size - 1),
            split_dim,
            split_value,
            np.zeros((self.n_trees, n_nodes), dtype=np.int32),
            np.zeros((self.n_trees, n_nodes), dtype=np.int32),
            np.zeros((self.n_trees, n_nodes), dtype=np.int64),
            np.array([0.0, 1.0]),
            np.zeros(3, dtype=np.int64),
        )

    def score(self, x: float) -> float:
        """The score :meth:`update` would give ``x``, computed without copying the trees."""
        return float(_peek(self._state, self._kernel_params_, self._value(x)))

    @property
    def warm_(self) -> bool:
        return bool(self._state.counters[_WINDOW] > 0)

    @property
    def scale_(self) -> tuple[float, float]:
        """``(low, span)``: values are scaled as ``(x - low) / span`` (``(0, 1)`` until set)."""
        scale = self._state.scale
        return float(scale[_LOW]), float(scale[_SPAN])

    @property
    def masses_(self) -> tuple[np.ndarray, np.ndarray]:
        """``(reference, latest)`` masses per tree and heap-ordered node, swap applied."""
        window = self._state.counters[_WINDOW]
        stamp = self._state.mass_window
        reference = np.where(stamp == window, self._state.reference_mass, 0)
        reference = np.where(stamp == window - 1, self._state.latest_mass, reference)
        latest = np.where(stamp == window, self._state.latest_mass, 0)
        return reference.astype(np.int64), latest.astype(np.int64)

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"n_trees": 5, "height": 6, "window_size": 32, "shingle_size": 3}
