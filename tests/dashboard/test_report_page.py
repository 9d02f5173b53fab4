"""The HTML report and the PNG plot of a real keyed run, rendered in headless Chromium.

Saves report.png (the report's first screen) and plot.png (in docs/img/ with
ODDWATCH_SCREENSHOTS=1).
"""

from __future__ import annotations

import shutil

import pytest
from system import screenshot_dir

from dashboard.browser import chromium
from dashboard.feed import batches
from oddwatch.sinks.report import HtmlReportSink, PlotSink

IMAGES = screenshot_dir()


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    report, plot = HtmlReportSink(folder / "run.html", top_n=4), PlotSink(folder / "run.png", 3)
    for i, batch in enumerate(batches(40, 400, seed=2, spike_every=13)):
        for sink in (report, plot):
            sink.write(batch)
            sink.observe({"records_read": 40.0 * (i + 1), "valid": 40.0 * (i + 1)})
    report.close()
    plot.close()
    return folder


def test_report_renders_in_a_browser_with_its_charts(run_files):
    shutil.copyfile(run_files / "run.png", IMAGES / "plot.png")
    with chromium(width=1200, height=1600) as browser:
        browser.get((run_files / "run.html").as_uri())
        assert browser.title == "oddwatch run report"
        images = browser.find_elements("css selector", "img")
        assert len(images) == 4
        widths = [browser.execute_script("return arguments[0].naturalWidth;", i) for i in images]
        assert all(w > 500 for w in widths)  # every inline chart decoded
        headings = [h.text for h in browser.find_elements("css selector", "h2")]
        assert headings[:3] == ["Run summary", "Top anomalies", "Most flagged series"]
        assert headings[3] == "All series (40)"
        browser.save_screenshot(str(IMAGES / "report.png"))
