"""The dashboard page end to end in headless Chromium: loads, live alerts, drill-down, 100k keys.

Screenshots: dashboard.png, dashboard-100k.png (in docs/img/ with ODDWATCH_SCREENSHOTS=1).
The page's own update time (parse + render of one event, measured in the page) is printed,
not asserted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from system import screenshot_dir

from dashboard.browser import chromium
from dashboard.feed import batches
from oddwatch.dashboard import Board, DashboardServer, DashboardSink
from oddwatch.sinks._base import OutputBatch

IMAGES = screenshot_dir()


@pytest.fixture(scope="module")
def browser():
    with chromium(width=1500, height=1250) as driver:
        yield driver


def _until(condition, timeout, every=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return condition()


def _text(driver, selector):
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", selector
    )


def _flag(key, seq, reason):
    """One flagged point, a minute after the fed rounds end (05:00)."""
    return OutputBatch(
        seq=np.array([seq]),
        value=np.array([123.0]),
        score=np.array([0.99]),
        threshold=np.array([0.8]),
        is_anomaly=np.array([True]),
        reason=[reason],
        key=np.array([key]),
        timestamp=["2026-03-01T05:00:00"],
        expected=np.array([95.0]),
        scale=np.array([2.0]),
    )


def test_page_loads_shows_a_new_flag_within_a_second_and_drills_down(browser):
    board = Board(bucket_seconds=0.25, max_busy=1.0, burst=60.0)  # fold all: checks content
    sink = DashboardSink(board)
    with DashboardServer(board, port=0) as server:
        for i, batch in enumerate(batches(24, 300, seed=1, spike_every=11)):
            sink.write(batch)
            sink.observe({"records_read": 24.0 * (i + 1), "valid": 24.0 * (i + 1), "keys": 24.0})
        browser.get(server.url)
        assert browser.title == "oddwatch dashboard"
        assert _until(lambda: _text(browser, "#connection") == "live", 10)
        assert _until(lambda: "of 24 keys" in _text(browser, "#lanes-note"), 10)

        reason = "123 is 14.0 sd above the expected 95 (written by the test)"
        sink.write(_flag("k000005", 10_000, reason))
        written = time.monotonic()
        shown = _until(lambda: reason in _text(browser, "#alerts"), 1.0, every=0.005)
        latency = time.monotonic() - written
        print(f"\nflag written -> on the page in {latency * 1000:.0f} ms")
        assert shown, "the flagged point did not appear on the page within a second"

        browser.find_element("css selector", '.lane[data-key="k000005"] button').click()
        assert _until(lambda: "k000005" in _text(browser, "#series-title"), 5)
        assert _until(lambda: browser.find_elements("css selector", "#chart canvas"), 5)
        assert _until(lambda: reason in _text(browser, "#series-flags"), 5)
        assert "band = expected" in _text(browser, "#series-note")
        browser.save_screenshot(str(IMAGES / "dashboard.png"))


def _wide_batch(keys, round_, rng):
    n = len(keys)
    score = np.minimum(rng.beta(1.2, 8.0, n), 0.79)  # under the threshold unless flagged
    flagged = rng.choice(n, 3, replace=False)
    score[flagged] = 0.97
    is_anomaly = np.zeros(n, bool)
    is_anomaly[flagged] = True
    value = rng.normal(50, 5, n)
    reason = [""] * n
    for i in flagged:
        reason[i] = f"{value[i]:.4g} is 6.0 sd above the expected 50"
    return OutputBatch(
        seq=np.arange(round_ * n, (round_ + 1) * n),
        value=value,
        score=score,
        threshold=np.full(n, 0.8),
        is_anomaly=is_anomaly,
        reason=reason,
        key=keys,
        timestamp=[f"2026-03-01T00:{round_:02d}:00"] * n,
        expected=np.full(n, 50.0),
        scale=np.full(n, 5.0),
    )


def test_page_update_time_with_100000_keys(browser):
    rng = np.random.default_rng(5)
    keys = np.array([f"host-{i:06d}" for i in range(100_000)])
    board = Board(bucket_seconds=0.5, burst=1.0)  # the default CPU cap, a larger first burst
    sink = DashboardSink(board)
    with DashboardServer(board, port=0) as server:
        browser.get(server.url)
        assert _until(lambda: _text(browser, "#connection") == "live", 10)
        for r in range(20):
            sink.write(_wide_batch(keys, r, rng))
            sink.observe({"records_read": 100_000.0 * (r + 1), "keys": 100_000.0})
            time.sleep(0.25)
        assert _until(lambda: "of 100,000 keys" in _text(browser, "#lanes-note"), 10)
        time.sleep(1.0)
        stats = browser.execute_script("return window.oddwatchStats;")
        overview = board.overview()
        assert len(browser.find_elements("css selector", ".lane")) == 41  # overall + 40 lanes
        browser.save_screenshot(str(IMAGES / "dashboard-100k.png"))
        # responsive: a click on the top lane opens its series (bound generous: not a timing)
        top = overview["lanes"][0]["key"]
        clicked = time.monotonic()
        browser.find_element("css selector", f'.lane[data-key="{top}"] button').click()
        assert _until(lambda: top in _text(browser, "#series-title"), 10)
        assert _until(lambda: browser.find_elements("css selector", "#chart canvas"), 10)
        click_ms = (time.monotonic() - clicked) * 1000
        print(
            f"\n100,000 keys: {stats['updates']} page updates, mean {stats['mean_ms']:.1f} ms, "
            f"max {stats['max_ms']:.1f} ms per update; click -> series drawn {click_ms:.0f} ms; "
            f"board fold {overview['board']['fold_seconds']:.2f} s for "
            f"{overview['board']['records']:,} records "
            f"({overview['board']['sampled_out']:,} sampled out)"
        )
        out_dir = Path(__file__).resolve().parents[2] / "benchmarks" / "out"
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / "page_100k.json"
        out.write_text(json.dumps({**stats, "click_ms": click_ms, "board": overview["board"]}))
        assert stats["updates"] >= 3
