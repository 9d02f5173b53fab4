"""Random half-space trees as arrays: drawing them, and the masses that score and learn a point.

Used by :class:`~oddwatch.detectors.HalfSpaceTrees`; see its docstring for the model. Tree
``t`` is heap-ordered: node ``i`` has children ``2i + 1`` (``u[dim] < value``) and ``2i + 2``;
``split_dim`` and ``split_value`` describe the internal nodes, and ``reference_mass``,
``latest_mass`` and ``mass_window`` hold every node's counts (Tan, Ting & Liu, IJCAI 2011).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from oddwatch._random import below, uniform
from oddwatch.config import NUMBA_OPTIONS

__all__ = ["build_trees", "mass", "mass_and_learn", "mass_score"]


@numba.jit(**NUMBA_OPTIONS)
def build_trees(
    rng: np.ndarray, split_dim: np.ndarray, split_value: np.ndarray, n_dims: int
) -> None:
    """Draw every tree's work space and its random split dimensions (paper, Algorithm 1).

    Heap layout: node ``i`` has children ``2i + 1`` (``u[dim] < value``) and ``2i + 2``.
    The work space of a tree is ``s +- 2 max(s, 1 - s)`` per dimension with ``s ~ U(0, 1)``,
    so it covers the unit cube the data is scaled to; each node halves its cell at the
    midpoint of a random dimension. A node's cell on that dimension is found by walking up
    to the root (O(height) time, no per-node bounds kept).
    """
    n_trees, n_internal = split_dim.shape
    space = np.empty((n_dims, 2))
    for t in range(n_trees):
        for q in range(n_dims):
            s = uniform(rng)
            half = 2.0 * max(s, 1.0 - s)
            space[q, 0] = s - half
            space[q, 1] = s + half
        for i in range(n_internal):
            q = below(rng, n_dims)
            low, high = space[q, 0], space[q, 1]
            child = i
            while child > 0:
                parent = (child - 1) // 2
                if split_dim[t, parent] == q:
                    if child == 2 * parent + 1:
                        high = min(high, split_value[t, parent])
                    else:
                        low = max(low, split_value[t, parent])
                child = parent
            split_dim[t, i] = q
            split_value[t, i] = 0.5 * (low + high)


@numba.jit(**NUMBA_OPTIONS)
def _reference(
    reference_mass: np.ndarray,
    latest_mass: np.ndarray,
    mass_window: np.ndarray,
    t: int,
    node: int,
    window: int,
) -> int:
    """Reference mass of a node in window ``window``, with any pending swap applied.

    The swap at the end of a window (``r <- l; l <- 0`` over every node) is lazy:
    ``mass_window`` holds the window a node's latest mass was counted in, so a swap costs
    O(1) instead of O(nodes) and a node is brought up to date when it is next touched.
    """
    stamp = mass_window[t, node]
    if stamp == window:
        return int(reference_mass[t, node])
    if stamp == window - 1:
        return int(latest_mass[t, node])
    return 0


@numba.jit(**NUMBA_OPTIONS)
def mass(
    split_dim: np.ndarray,
    split_value: np.ndarray,
    reference_mass: np.ndarray,
    latest_mass: np.ndarray,
    mass_window: np.ndarray,
    u: np.ndarray,
    window: int,
    window_size: int,
) -> int:
    """Sum over trees of ``r * 2**depth`` at the node where scoring stops; writes nothing.

    Scoring walks down to the first node whose reference mass ``r`` is below
    ``window_size / 10`` (the paper's sizeLimit), or to a leaf.
    """
    n_trees, n_internal = split_value.shape
    total = 0
    for t in range(n_trees):
        node = 0
        depth = 0
        r = _reference(reference_mass, latest_mass, mass_window, t, node, window)
        while node < n_internal and 10 * r >= window_size:
            node = 2 * node + (2 if u[split_dim[t, node]] >= split_value[t, node] else 1)
            depth += 1
            r = _reference(reference_mass, latest_mass, mass_window, t, node, window)
        total += r << depth
    return total


@numba.jit(**NUMBA_OPTIONS)
def mass_and_learn(
    split_dim: np.ndarray,
    split_value: np.ndarray,
    reference_mass: np.ndarray,
    latest_mass: np.ndarray,
    mass_window: np.ndarray,
    u: np.ndarray,
    window: int,
    window_size: int,
    height: int,
    node: np.ndarray,
    scored: np.ndarray,
) -> int:
    """:func:`mass`, then add ``u`` to the latest mass of every node on its path.

    The trees are walked level by level in lockstep rather than one after another, so the
    memory loads of different trees overlap (2x faster once the trees outgrow the cache).
    ``node`` and ``scored`` are scratch arrays of length ``n_trees``.
    """
    n_trees, n_internal = split_value.shape
    node[:] = 0
    scored[:] = False
    total = 0
    for depth in range(height + 1):
        for t in range(n_trees):
            i = node[t]
            r = _reference(reference_mass, latest_mass, mass_window, t, i, window)
            if mass_window[t, i] != window:  # apply the pending swap before counting
                reference_mass[t, i] = r
                latest_mass[t, i] = 0
                mass_window[t, i] = window
            latest_mass[t, i] += 1
            if not scored[t] and (depth == height or 10 * r < window_size):
                total += r << depth
                scored[t] = True
            if depth < height:
                node[t] = 2 * i + (2 if u[split_dim[t, i]] >= split_value[t, i] else 1)
    return total


@numba.jit(**NUMBA_OPTIONS)
def mass_score(total: int, n_trees: int, window_size: int, height: int) -> float:
    """``1 - log2(1 + mean mass) / log2(1 + window_size * 2**height)``, in [0, 1]."""
    largest = float(window_size) * 2.0**height
    return 1.0 - math.log2(1.0 + total / n_trees) / math.log2(1.0 + largest)
