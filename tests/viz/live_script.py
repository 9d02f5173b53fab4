"""A live run in a real window, driven by tests/viz/test_live_window.py in a subprocess.

usage: MPLBACKEND=TkAgg python live_script.py POINTS DELAY HOLD(0|1) [SCREENSHOT.png]
Prints "window open" once the window shows, a summary line at the end, and exits 0, or 130
after Ctrl-C, the way ``oddwatch demo`` does.
"""

from __future__ import annotations

import sys
import time

from oddwatch import Monitor
from oddwatch.sources.simulate import SimulationConfig, simulate
from oddwatch.viz import LivePlot


def main() -> int:
    points, delay, hold = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
    screenshot = sys.argv[4] if len(sys.argv) > 4 else None
    sim = simulate(SimulationConfig.from_mapping({"n_points": points, "seed": 3}))
    monitor = Monitor(on_invalid="flag")
    live = LivePlot(title="oddwatch live test")
    print("window open", flush=True)
    with live.catch_interrupts():
        for start in range(0, len(sim), 32):
            if live.stopped:
                break
            result = monitor.update_many(sim.values[start : start + 32])
            live.append(
                sim.timestamps[start : start + 32],
                result.value,
                result.score,
                result.threshold,
                result.is_anomaly,
                sim.labels[start : start + 32],
                result.expected,
                result.scale,
                [result.reason(i) for i in range(len(result))],
            )
            time.sleep(delay)
        if screenshot:
            live.draw()
            live.save(screenshot)
        print("stream ended", flush=True)
        if hold and not live.stopped:
            live.hold()
    live.close()
    print(f"summary: {live.n_points} points, {live.n_flagged} flagged", flush=True)
    return 130 if live.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
