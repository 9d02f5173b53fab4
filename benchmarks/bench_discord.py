"""StreamingDiscord against STUMPY's incremental matrix profile: same scores, and its speed.

For each series, ``stumpy.stumpi(T[:w], m, egress=False)`` is built on the detector's warm-up
``w`` and updated one point at a time; its left matrix profile ``left_P_`` (the distance from
each subsequence to its nearest earlier one) divided by ``sqrt(m)`` is what
:class:`~oddwatch.detectors.StreamingDiscord` must return for the subsequence ending at each
point, as long as the whole past fits in its history. STUMPY's exclusion zone is set to
``m - 1`` (``config.STUMPY_EXCL_ZONE_DENOM``), which allows exactly the lags ``>= m`` the detector
compares. Series: two synthetic ones (with a flat stretch, far from zero) and, when the UCR dev
split is found, the first 6,000 points of three of its series. Prints the largest absolute
difference and the time ratio, and writes a markdown table to ``benchmarks/out/discord.md``.

Run: ``python benchmarks/bench_discord.py`` (needs the bench extra: ``pip install
'oddwatch[bench]'``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from oddwatch.detectors import StreamingDiscord
from oddwatch.evaluate.ucr import default_ucr_dir, load_ucr

OUT = Path(__file__).parent / "out" / "discord.md"
MAX_LENGTH = 128  # warm-up 512 points
HISTORY = 8192  # longer than every series here: the bounded history holds the whole past


def synthetic() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    n = 5000
    a = np.sin(np.arange(n) * 2 * np.pi / 37) + rng.normal(0, 0.2, n) + 50.0
    a[3000:3040] = 50.0  # flat: STUMPY's and our convention for constant subsequences
    a[4000:4010] += 1.5
    b = np.cumsum(rng.normal(0, 1, n)) * 1e3 + 1e6  # a random walk far from zero
    return {"sine+flat": a, "random walk": b}


def ucr_heads() -> dict[str, np.ndarray]:
    root = default_ucr_dir()
    if root is None:
        return {}
    return {f"UCR {s.number:03d}": s.values[:6000] for s in load_ucr(root, [1, 109, 140])}


def compare(name: str, xs: np.ndarray, m: int) -> dict[str, float | str | int]:
    import stumpy
    from stumpy import config

    config.STUMPY_EXCL_ZONE_DENOM = m / (m - 1.5)  # ceil(m / denom) = m - 1
    det = StreamingDiscord(max_length=MAX_LENGTH, history_size=HISTORY, length=m)
    det.update_many(xs[:10])  # compile before timing
    det = det.clone()
    start = time.perf_counter()
    ours = det.update_many(xs)
    ours_s = time.perf_counter() - start
    warmup = 4 * MAX_LENGTH
    start = time.perf_counter()
    stream = stumpy.stumpi(xs[:warmup], m, egress=False)
    for x in xs[warmup:]:
        stream.update(x)
    stumpy_s = time.perf_counter() - start
    theirs = np.full(xs.shape[0], np.nan)
    theirs[m - 1 :] = stream.left_P_ / np.sqrt(m)
    scored = ~np.isnan(ours)
    both = scored & np.isfinite(theirs)
    return {
        "series": name,
        "points": xs.shape[0],
        "m": m,
        "scored": int(scored.sum()),
        "max_abs_diff": float(np.max(np.abs(ours[both] - theirs[both]))),
        "nan_or_inf_mismatch": int(np.sum(scored != both)),
        "ours_s": ours_s,
        "stumpy_s": stumpy_s,
    }


def main() -> None:
    rows = []
    for name, xs in {**synthetic(), **ucr_heads()}.items():
        for m in (16, 100):
            rows.append(compare(name, xs, m))
            r = rows[-1]
            print(
                f"{r['series']:<12} m={r['m']:<4} max |ours - STUMPY| = {r['max_abs_diff']:.2e} "
                f"over {r['scored']:,} points; STUMPY / ours time = "
                f"{r['stumpy_s'] / r['ours_s']:.0f}x",
                flush=True,
            )
    lines = [
        "| series | m | points scored | max abs difference | STUMPY stumpi s | ours s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['series']} | {r['m']} | {r['scored']:,} | {r['max_abs_diff']:.1e} | "
            f"{r['stumpy_s']:.2f} | {r['ours_s']:.3f} | {r['stumpy_s'] / r['ours_s']:.0f}x |"
        )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    worst = max(r["max_abs_diff"] for r in rows)
    mismatches = sum(int(r["nan_or_inf_mismatch"]) for r in rows)
    if worst > 1e-6 or mismatches:
        raise SystemExit(f"StreamingDiscord differs from STUMPY: {worst:.2e}, {mismatches} NaN")


if __name__ == "__main__":
    main()
