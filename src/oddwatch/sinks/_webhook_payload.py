"""Webhook request bodies: one alert as plain JSON, or batches for Alertmanager and Slack.

Each format turns the alerts waiting to be sent (at most :data:`ALERTS_PER_REQUEST` of them,
oldest first) into one request body: ``json`` posts ``{"alerts": [record, ...]}`` with each
alert's output record unchanged, ``alertmanager`` posts a list of alerts in the shape of
Alertmanager's ``POST /api/v2/alerts``, and ``slack`` posts one ``{"text": ...}`` message
(Slack incoming webhooks, Mattermost) with a line per alert. Batching is what lets one
sender keep up with a detector that flags thousands of points per second. Text fields are cut to
:data:`MAX_FIELD_CHARS` characters so one huge key or reason cannot make a huge request.

Examples
--------
>>> alert = {"seq": 7, "key": "web-1", "timestamp": "2026-01-01T00:00:00", "value": 9.5,
...          "score": 0.99, "is_anomaly": True, "threshold": 0.9, "reason": "high"}
>>> json.loads(encode("json", [alert])) == {"alerts": [alert]}
True
>>> json.loads(encode("alertmanager", [alert]))[0]["labels"]
{'alertname': 'OddwatchAnomaly', 'series': 'web-1'}
>>> print(json.loads(encode("slack", [alert]))["text"])
oddwatch: 1 anomaly
- web-1 at 2026-01-01T00:00:00: value 9.5, score 0.99 (threshold 0.9) high
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["ALERTS_PER_REQUEST", "FORMATS", "MAX_FIELD_CHARS", "encode"]

Alert = dict[str, Any]

MAX_FIELD_CHARS = 200
ALERTS_PER_REQUEST = {"json": 100, "alertmanager": 100, "slack": 50}
FORMATS = tuple(ALERTS_PER_REQUEST)


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 3] + "..."


def _json(alerts: Sequence[Alert]) -> Any:
    return {"alerts": list(alerts)}


def _alertmanager(alerts: Sequence[Alert]) -> Any:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return [
        {
            "labels": {"alertname": "OddwatchAnomaly", "series": _short(a["key"] or "default")},
            "annotations": {
                "summary": f"anomaly in {_short(a['key'] or 'the stream')}: {_short(a['reason'])}",
                "seq": str(a["seq"]),
                "timestamp": _short(a["timestamp"]),
                "value": str(a["value"]),
                "score": str(a["score"]),
                "threshold": str(a["threshold"]),
            },
            "startsAt": now,
        }
        for a in alerts
    ]


def _slack(alerts: Sequence[Alert]) -> Any:
    lines = [f"oddwatch: {len(alerts)} anomal{'y' if len(alerts) == 1 else 'ies'}"]
    for a in alerts:
        where = " ".join(
            part
            for part in (
                _short(a["key"]) if a["key"] is not None else "",
                f"at {_short(a['timestamp'])}" if a["timestamp"] is not None else f"#{a['seq']}",
            )
            if part
        )
        lines.append(
            f"- {where}: value {a['value']}, score {a['score']} (threshold {a['threshold']}) "
            f"{_short(a['reason'])}".rstrip()
        )
    return {"text": "\n".join(lines)}


_BUILDERS: dict[str, Callable[[Sequence[Alert]], Any]] = {
    "json": _json,
    "alertmanager": _alertmanager,
    "slack": _slack,
}


def encode(format: str, alerts: Sequence[Alert]) -> bytes:
    """The request body carrying ``alerts`` (at most ``ALERTS_PER_REQUEST[format]``)."""
    return json.dumps(_BUILDERS[format](alerts), allow_nan=False).encode()
