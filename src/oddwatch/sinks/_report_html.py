"""The HTML of :class:`~oddwatch.sinks.report.HtmlReportSink`: one file, images inlined."""

from __future__ import annotations

import base64
import dataclasses
import html
import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oddwatch.sinks.report import HtmlReportSink

__all__ = ["render_report"]

_STYLE = """
body { font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; color: #1d2733; margin: 24px auto;
  max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 2px; } h2 { font-size: 17px; margin-top: 28px;
  border-bottom: 1px solid #dde3ea; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 18px 0 4px; }
.sub { color: #66727f; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { text-align: left; color: #66727f; font-weight: normal; border-bottom: 1px solid #dde3ea; }
td { padding: 2px 6px; border-bottom: 1px solid #f0f2f5; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reason { color: #8e1b1b; } .kv { width: auto; } .kv td:first-child { color: #44505c; }
img { max-width: 100%; border: 1px solid #eef0f3; }
.note { color: #66727f; font-size: 12px; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float) -> str:
    if x is None or not math.isfinite(x):
        return ""
    return f"{x:,.4g}" if abs(x) < 1e6 else f"{x:.4e}"


def _anchor(key: str) -> str:
    return "series-" + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _summary(sink: HtmlReportSink) -> str:
    r = sink.recorder
    rows: list[tuple[str, str]] = [
        ("records", f"{r.n_records:,}"),
        ("series (keys)", f"{len(r.index):,}"),
        ("flagged records", f"{r.n_flags:,}"),
        ("flag rate", f"{r.n_flags / r.n_records:.3%}" if r.n_records else ""),
    ]
    if r.first_timestamp:
        rows.append(("data from", f"{r.first_timestamp} to {r.last_timestamp}"))
    for name, value in sorted(r.counters.items()):
        shown = f"{value:,.2f} s" if name == "elapsed_s" else f"{value:,.0f}"
        rows.append((name.replace("_", " "), shown))
    cells = "".join(f"<tr><td>{_e(k)}</td><td class=num>{_e(v)}</td></tr>" for k, v in rows)
    return f"<h2>Run summary</h2><table class=kv>{cells}</table>"


def _top_anomalies(sink: HtmlReportSink) -> str:
    flags = sorted(sink.recorder.flags, key=lambda f: -f["severity"])[: sink.n_anomalies]
    if not flags:
        return "<h2>Top anomalies</h2><p>No point was flagged.</p>"
    rows = "".join(
        "<tr>"
        f"<td class=num>{i}</td><td>{_e(f['timestamp'] or '#' + str(f['seq']))}</td>"
        f"<td><a href='#{_anchor(f['key'])}'>{_e(f['key'])}</a></td>"
        f"<td class=num>{_num(f['value'])}</td><td class=num>{_num(f['expected'])}</td>"
        f"<td class=num>{_num(f['severity'])}</td><td class=reason>{_e(f['reason'])}</td></tr>"
        for i, f in enumerate(flags, 1)
    )
    return (
        f"<h2>Top anomalies</h2><p class=note>The {len(flags)} strongest of "
        f"{sink.recorder.n_flags:,} flags, by score / threshold.</p><table><tr><th>#</th>"
        "<th>time</th><th>series</th><th>value</th><th>expected</th><th>score / threshold</th>"
        f"<th>reason</th></tr>{rows}</table>"
    )


def _drawn_series(sink: HtmlReportSink, summaries: list[Any]) -> str:
    from oddwatch.viz.plot import render_png

    r = sink.recorder
    top = summaries[: sink.top_n]
    if not top:
        return ""
    parts = [
        f"<h2>Most flagged series</h2><p class=note>{len(top)} of {len(summaries):,} series, "
        "most flags first; band = expected &plusmn; 3 sd.</p>"
    ]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for f in r.flags:
        by_key.setdefault(f["key"], []).append(f)
    for panel in r.panels(top):
        untitled = dataclasses.replace(panel, name="", note="")  # the heading names it
        note = f"<p class=note>{_e(panel.note)}</p>" if panel.note else ""
        png = base64.b64encode(render_png([untitled], title="", width=10.5)).decode()
        flags = by_key.get(panel.name, [])
        rows = "".join(
            f"<tr><td>{_e(f['timestamp'] or '#' + str(f['seq']))}</td>"
            f"<td class=num>{_num(f['value'])}</td><td class=reason>{_e(f['reason'])}</td></tr>"
            for f in flags[:20]
        )
        more = f"<p class=note>and {len(flags) - 20:,} more flags</p>" if len(flags) > 20 else ""
        table = (
            f"<table><tr><th>time</th><th>value</th><th>reason</th></tr>{rows}</table>{more}"
            if flags
            else "<p class=note>no flags</p>"
        )
        parts.append(
            f"<h3 id='{_anchor(panel.name)}'>{_e(panel.name)}</h3>{note}"
            f"<img alt='{_e(panel.name)}' src='data:image/png;base64,{png}'>{table}"
        )
    return "".join(parts)


def _all_series(sink: HtmlReportSink, summaries: list[Any]) -> str:
    last_reason: dict[str, str] = {}
    for f in sink.recorder.flags:
        last_reason[f["key"]] = f["reason"]
    shown = summaries[: sink.max_rows]
    rows = "".join(
        f"<tr id='{_anchor(s.key)}-row'><td>{_e(s.key)}</td><td class=num>{s.n_points:,}</td>"
        f"<td class=num>{s.n_flags:,}</td><td class=num>{_num(s.max_severity)}</td>"
        f"<td class=reason>{_e(last_reason.get(s.key, ''))}</td></tr>"
        for s in shown
    )
    more = (
        f"<p class=note>and {len(summaries) - len(shown):,} more series not listed</p>"
        if len(summaries) > len(shown)
        else ""
    )
    return (
        f"<h2>All series ({len(summaries):,})</h2><table><tr><th>series</th><th>points</th>"
        "<th>flags</th><th>max score / threshold</th><th>last flag's reason</th></tr>"
        f"{rows}</table>{more}"
    )


def render_report(sink: HtmlReportSink) -> str:
    """The whole report as one HTML string."""
    summaries = sink.recorder.series_summary()
    made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    body = "".join(
        [
            f"<h1>{_e(sink.title)}</h1><p class=sub>written by oddwatch at {_e(made)}</p>",
            _summary(sink),
            _top_anomalies(sink),
            _drawn_series(sink, summaries),
            _all_series(sink, summaries),
        ]
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(sink.title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )
