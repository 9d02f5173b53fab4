"""Small deterministic inputs for the detect/fit CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

T0 = np.datetime64("2026-01-01T00:00:00", "s")


def series(n: int = 600, seed: int = 0, spike: int | None = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xs = 20 + 5 * np.sin(np.arange(n) * 2 * np.pi / 48) + rng.normal(0, 0.5, n)
    if spike is not None:
        xs[spike] += 15
    return xs


def stamps(n: int, start: int = 0) -> list[str]:
    return [str(T0 + np.timedelta64(60 * (start + i), "s")) for i in range(n)]


def csv_text(xs: np.ndarray, start: int = 0, header: bool = True) -> str:
    rows = [f"{t},{x!r}\n" for t, x in zip(stamps(len(xs), start), xs.tolist(), strict=True)]
    return ("timestamp,value\n" if header else "") + "".join(rows)


def keyed_csv(path: Path, hosts=("a", "b", "c"), n: int = 300, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["timestamp,host,cpu\n"]
    for i, t in enumerate(stamps(n)):
        for j, host in enumerate(hosts):
            x = 50 + 10 * j + rng.normal(0, 1)
            if i == n - 20 and host == hosts[-1]:
                x += 40
            lines.append(f"{t},{host},{x!r}\n")
    path.write_text("".join(lines))
    return path


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)
