"""Slow, obvious reference implementations that the fast kernels are tested against."""

from __future__ import annotations

import math

import numpy as np


def isolation_average_path_length(n: int) -> float:
    """c(n) of Liu, Ting & Zhou (2008): 2 H(n - 1) - 2 (n - 1) / n, H(i) ~ ln(i) + Euler's."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    harmonic = math.log(n - 1) + 0.5772156649015329
    return 2.0 * harmonic - 2.0 * (n - 1) / n


def isolation_path_length(x, feature, threshold, sample, range_aware, node=0, depth=0):
    """Expected path length of ``x`` in a heap-layout isolation tree, by recursion.

    Only the split features and cut values are taken from the tree; which rows of ``sample``
    reach each node, their range on the split feature and a leaf's size are recomputed here.
    A leaf contributes ``depth + c(size)``. With ``range_aware``, when ``x`` lies outside the
    node's rows' range ``[a, b]`` on the split feature, it is cut off at ``depth + 1`` with
    probability ``dist / (dist + b - a)``.
    """
    f = int(feature[node])
    if f < 0:
        return depth + isolation_average_path_length(len(sample))
    values = sample[:, f]
    cut = threshold[node]
    if x[f] < cut:
        below = isolation_path_length(
            x, feature, threshold, sample[values < cut], range_aware, 2 * node + 1, depth + 1
        )
    else:
        below = isolation_path_length(
            x, feature, threshold, sample[values >= cut], range_aware, 2 * node + 2, depth + 1
        )
    a, b = values.min(), values.max()
    p = 0.0
    if range_aware and x[f] > b:
        p = (x[f] - b) / (x[f] - a)
    elif range_aware and x[f] < a:
        p = (a - x[f]) / (b - x[f])
    return p * (depth + 1) + (1.0 - p) * below


def isolation_score(x, feature, threshold, sample, range_aware):
    """2 ** (-mean path length / c(len(sample))) over the trees (rows of ``feature``)."""
    lengths = [
        isolation_path_length(x, feature[t], threshold[t], sample, range_aware)
        for t in range(feature.shape[0])
    ]
    return 2.0 ** (-float(np.mean(lengths)) / isolation_average_path_length(len(sample)))


def shingle(values, differences):
    """The feature vector of the last values: the values, then their successive differences."""
    values = np.asarray(values, dtype=np.float64)
    return np.concatenate([values, np.diff(values)]) if differences else values


def rolling_quantile(scores, q, window_size, min_samples):
    """np.quantile of the last ``window_size`` non-nan scores before each score.

    ``nan`` while fewer than ``min_samples`` scores have been seen; ``nan`` scores are skipped.
    """
    seen, out = [], []
    for s in scores:
        out.append(np.quantile(seen[-window_size:], q) if len(seen) >= min_samples else np.nan)
        if not math.isnan(s):
            seen.append(s)
    return np.array(out)


def gpd_log_likelihood(gamma, sigma, exact, censored=()):
    """Log-likelihood of a generalised Pareto distribution, from its density and survival.

    Density ``(1 / sigma) (1 + gamma y / sigma) ^ (-1 / gamma - 1)`` for the exact excesses,
    survival ``(1 + gamma c / sigma) ^ (-1 / gamma)`` for the right-censored ones; the
    ``gamma = 0`` limit is the exponential distribution.
    """
    exact = np.asarray(exact, dtype=np.float64)
    censored = np.asarray(censored, dtype=np.float64)
    if sigma <= 0.0:
        return -math.inf
    if gamma == 0.0:
        return -len(exact) * math.log(sigma) - (exact.sum() + censored.sum()) / sigma
    ze = 1.0 + gamma * exact / sigma
    zc = 1.0 + gamma * censored / sigma
    if (ze <= 0.0).any() or (zc <= 0.0).any():
        return -math.inf
    return (
        -len(exact) * math.log(sigma)
        - (1.0 + 1.0 / gamma) * np.log(ze).sum()
        - np.log(zc).sum() / gamma
    )


def _golden_max(f, lo, hi, iterations=80):
    """Argmax of a unimodal ``f`` on ``[lo, hi]`` by golden-section search."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return 0.5 * (a + b)


def gpd_fit(exact, censored=(), gamma_range=(-1.0, 4.0)):
    """Maximum-likelihood ``(gamma, sigma)`` of :func:`gpd_log_likelihood`, by brute force.

    For each gamma the best sigma is found by golden section on log(sigma) over the feasible
    range; the resulting profile is scanned on a grid of gamma values, then refined by
    golden section around the best one. Slow (about a second) but obviously right.
    """
    exact = np.asarray(exact, dtype=np.float64)
    censored = np.asarray(censored, dtype=np.float64)
    v_max = max(exact.max(), censored.max() if censored.size else 0.0)
    scale = exact.mean() + v_max

    def best_log_sigma(gamma):
        lo = math.log(max(-gamma * v_max, 0.0) * (1.0 + 1e-12) + 1e-12 * scale)
        hi = math.log(100.0 * scale)
        return _golden_max(
            lambda ls: gpd_log_likelihood(gamma, math.exp(ls), exact, censored), lo, hi
        )

    def profile(gamma):
        return gpd_log_likelihood(gamma, math.exp(best_log_sigma(gamma)), exact, censored)

    grid = np.linspace(*gamma_range, 101)
    values = [profile(g) for g in grid]
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    gamma = _golden_max(profile, lo, hi) if i not in (0, len(grid) - 1) else grid[i]
    return gamma, math.exp(best_log_sigma(gamma))


def splitmix64_uniforms(seed, n):
    """``n`` floats in [0, 1) from splitmix64 seeded with ``seed``, in Python integers."""
    mask = (1 << 64) - 1
    state, out = seed, []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append((z >> 11) / 2.0**53)
    return out


def half_space_trees_build(seed, n_trees, height, n_dims):
    """Split dimensions and values of Tan, Ting & Liu's random half-space trees, recursively.

    Per tree, ``n_dims`` draws give the work space ``s +- 2 max(s, 1 - s)``, then one draw
    per internal node (in heap order) its split dimension; each node splits its cell at the
    midpoint of that dimension, left (``2i + 1``) below, right (``2i + 2``) above.
    """
    n_internal = 2**height - 1
    draws = iter(splitmix64_uniforms(seed, n_trees * (n_dims + n_internal)))
    split_dim = np.zeros((n_trees, n_internal), dtype=np.int64)
    split_value = np.zeros((n_trees, n_internal))

    def build(t, i, low, high):
        if i >= n_internal:
            return
        q = split_dim[t, i]
        p = (low[q] + high[q]) / 2.0
        split_value[t, i] = p
        build(t, 2 * i + 1, low, [p if d == q else h for d, h in enumerate(high)])
        build(t, 2 * i + 2, [p if d == q else v for d, v in enumerate(low)], high)

    for t in range(n_trees):
        s = [next(draws) for _ in range(n_dims)]
        low = [v - 2.0 * max(v, 1.0 - v) for v in s]
        high = [v + 2.0 * max(v, 1.0 - v) for v in s]
        for i in range(n_internal):
            split_dim[t, i] = min(int(next(draws) * n_dims), n_dims - 1)
        build(t, 0, low, high)
    return split_dim, split_value


def half_space_path(u, split_dim, split_value, t):
    """Heap indices of the nodes from the root to the leaf that ``u`` falls in, in tree ``t``."""
    n_internal = split_dim.shape[1]
    path = [0]
    while path[-1] < n_internal:
        i = path[-1]
        path.append(2 * i + 2 if u[split_dim[t, i]] >= split_value[t, i] else 2 * i + 1)
    return path


def half_space_trees(xs, split_dim, split_value, window_size, shingle_size):
    """Streaming HS-Trees over shingles of ``xs``, with eager window swaps.

    The first ``window_size + shingle_size - 1`` values fix the scale (their range trimmed
    by ``len // 100`` values at each end) and are learned as the first window; every later
    shingle is scored from the reference masses, then counted in the latest ones, and every
    ``window_size`` shingles ``r = l; l = 0``. Returns the scores and the final ``r`` and
    ``l`` (reference and latest masses).
    """
    n_trees, n_internal = split_dim.shape
    height = int(round(math.log2(n_internal + 1)))
    reference = np.zeros((n_trees, 2 * n_internal + 1), dtype=np.int64)
    latest = np.zeros_like(reference)
    first = window_size + shingle_size - 1
    ordered = np.sort(xs[:first])
    trim = first // 100
    low, span = ordered[trim], ordered[first - 1 - trim] - ordered[trim]
    if span <= 0.0:
        low, span = ordered[0], ordered[-1] - ordered[0]
    if span <= 0.0:
        span = max(abs(low), 1.0)
    scaled = (np.asarray(xs, dtype=np.float64) - low) / span
    scores = [math.nan] * min(first, len(xs))
    in_window = 0
    for n in range(shingle_size - 1, len(xs)):
        u = scaled[n - shingle_size + 1 : n + 1]
        if n >= first:
            mass = 0
            for t in range(n_trees):
                for depth, node in enumerate(half_space_path(u, split_dim, split_value, t)):
                    if depth == height or reference[t, node] < window_size / 10:
                        mass += reference[t, node] * 2**depth
                        break
            largest = window_size * 2.0**height
            scores.append(1.0 - math.log2(1.0 + mass / n_trees) / math.log2(1.0 + largest))
        for t in range(n_trees):
            latest[t, half_space_path(u, split_dim, split_value, t)] += 1
        in_window += 1
        if in_window == window_size:
            reference, latest, in_window = latest, np.zeros_like(latest), 0
    return np.array(scores), reference, latest


def half_space_trees_rescaling(xs, split_dim, split_value, window_size, shingle_size):
    """:func:`half_space_trees` with the scale and the reference redone at every swap.

    At every swap the scale is recomputed from the raw values of the window's shingles (the
    last ``window_size + shingle_size - 1`` values) by the first window's rule, except that
    a constant window keeps the previous span centred on its value; the reference masses are
    recounted from those shingles under the new scale and the latest masses restart at 0.
    Returns the scores and the final reference and latest masses.
    """
    n_trees, n_internal = split_dim.shape
    height = int(round(math.log2(n_internal + 1)))
    xs = np.asarray(xs, dtype=np.float64)
    first = window_size + shingle_size - 1

    def fit(values, previous_span):
        ordered = np.sort(values)
        trim = len(values) // 100
        low, span = ordered[trim], ordered[len(values) - 1 - trim] - ordered[trim]
        if span <= 0.0:
            low, span = ordered[0], ordered[-1] - ordered[0]
        if span <= 0.0 and previous_span is None:
            span = max(abs(low), 1.0)
        elif span <= 0.0:
            low, span = low - previous_span / 2.0, previous_span
        return low, span

    def count(end, low, span):
        masses = np.zeros((n_trees, 2 * n_internal + 1), dtype=np.int64)
        for n in range(end - window_size + 1, end + 1):
            u = (xs[n - shingle_size + 1 : n + 1] - low) / span
            for t in range(n_trees):
                masses[t, half_space_path(u, split_dim, split_value, t)] += 1
        return masses

    scores = [math.nan] * min(first, len(xs))
    if len(xs) < first:  # still in the first window: nothing counted yet
        empty = np.zeros((n_trees, 2 * n_internal + 1), dtype=np.int64)
        return np.array(scores), empty, empty.copy()
    low, span = fit(xs[:first], None)
    reference = count(first - 1, low, span)
    latest = np.zeros_like(reference)
    in_window = 0
    largest = window_size * 2.0**height
    for n in range(first, len(xs)):
        u = (xs[n - shingle_size + 1 : n + 1] - low) / span
        mass = 0
        for t in range(n_trees):
            for depth, node in enumerate(half_space_path(u, split_dim, split_value, t)):
                if depth == height or reference[t, node] < window_size / 10:
                    mass += reference[t, node] * 2**depth
                    break
        scores.append(1.0 - math.log2(1.0 + mass / n_trees) / math.log2(1.0 + largest))
        for t in range(n_trees):
            latest[t, half_space_path(u, split_dim, split_value, t)] += 1
        in_window += 1
        if in_window == window_size:
            low, span = fit(xs[n - first + 1 : n + 1], span)
            reference, latest, in_window = count(n, low, span), np.zeros_like(latest), 0
    return np.array(scores), reference, latest


def rolling_mad_zscore(xs, window_size):
    """|x - median| / (1.4826 MAD) of each value against the ``window_size`` values before it.

    MAD 0 falls back on 1.2533 * mean |w - median|, then on ``1e-12 * (1 + |median|)``.
    """
    xs = np.asarray(xs, dtype=np.float64)
    out = np.full(len(xs), np.nan)
    for t in range(window_size, len(xs)):
        w = xs[t - window_size : t]
        median = np.median(w)
        scale = 1.4826 * np.median(np.abs(w - median))
        if scale == 0.0:
            scale = 1.2533 * np.mean(np.abs(w - median))
        scale = max(scale, 1e-12 * (1.0 + abs(median)))
        out[t] = abs(xs[t] - median) / scale
    return out
