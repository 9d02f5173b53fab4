"""PrometheusSource against Debian's prometheus scraping a tiny exporter, both on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

from oddwatch import KeyedMonitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import InvalidParameterError, SourceError
from oddwatch.sources.prometheus import PrometheusSource, parse_prometheus_url, series_key
from oddwatch.sources.records import NOT_FINITE, OK

from .servers import exporter


def test_each_label_set_is_a_key_and_points_come_in_time_order(prometheus_server):
    pport, eport, metrics, first = prometheus_server
    end = time.time() - 1
    source = PrometheusSource(
        f"prometheus://127.0.0.1:{pport}", "oddwatch_test_value", step=1, start=first, end=end
    )
    chunks = list(source)
    keys = np.concatenate([c.key for c in chunks])
    times = np.concatenate([c.time for c in chunks])
    values = np.concatenate([c.value for c in chunks])
    expected = {
        f'oddwatch_test_value{{instance="127.0.0.1:{eport}",job="exporter",series="{k}"}}': k
        for k in "ab"
    }
    assert set(keys.tolist()) == set(expected)
    assert np.all(np.diff(times) >= 0)
    assert (np.concatenate([c.problem for c in chunks]) == OK).all()
    for key, name in expected.items():
        mine = times[keys == key]
        assert len(mine) >= 5
        steps = np.diff(mine)
        # evaluation times on the 1 s grid, none twice; a step may be missing where a scrape
        # failed under load (prometheus then marks the series stale and returns no point)
        assert (steps >= 1.0).all() and (steps % 1.0 == 0).all()
        assert (steps == 1.0).mean() > 0.8
        assert set(values[keys == key].tolist()) <= metrics.served[name]
    assert times.max() <= end and source.position["next_ms"] == (int(end * 1000) // 1000 + 1) * 1000
    assert chunks[0].time_text[0].endswith("Z")


def test_resumes_from_the_position_without_gaps_or_repeats(prometheus_server):
    pport, _, _, first = prometheus_server
    url, query = f"prometheus://127.0.0.1:{pport}", "oddwatch_test_value"
    end = time.time() - 1
    whole = list(PrometheusSource(url, query, step=1, start=first, end=end))
    times = np.concatenate([c.time for c in whole])
    head = PrometheusSource(url, query, step=1, start=first, end=float(np.median(times)))
    part1 = list(head)
    part2 = list(
        PrometheusSource(url, query, step=1, start=head.position["next_ms"] / 1000, end=end)
    )

    def stream(chunks):
        return [(t, k, v) for c in chunks for t, k, v in zip(c.time, c.key, c.value, strict=True)]

    assert stream(part1) + stream(part2) == stream(whole)
    assert stream(part1) and stream(part2)


def test_live_polling_waits_for_new_points(prometheus_server):
    pport, *_ = prometheus_server
    source = PrometheusSource(f"prometheus://127.0.0.1:{pport}", "oddwatch_test_value", step=1)
    started = time.time()
    chunk = next(iter(source))
    source.close()
    assert len(chunk) >= 2  # live points, not history from before the source started
    assert chunk.time.min() >= int(started)


def test_nan_values_are_marked_not_dropped(prometheus_server):
    pport, *_ = prometheus_server
    end = time.time() - 1
    chunks = list(
        PrometheusSource(
            f"prometheus://127.0.0.1:{pport}", "oddwatch_test_bad", step=1, start=end - 3, end=end
        )
    )
    problems = np.concatenate([c.problem for c in chunks])
    assert len(problems) >= 3 and (problems == NOT_FINITE).all()
    assert "is not a finite number" in chunks[0].detail[0]


def test_keyed_monitor_over_prometheus(prometheus_server):
    pport, *_ = prometheus_server
    end = time.time() - 1
    source = PrometheusSource(
        f"prometheus://127.0.0.1:{pport}", "oddwatch_test_value", step=1, start=end - 5, end=end
    )
    keyed = KeyedMonitor(RollingZScore(window_size=2))
    results = [keyed.update_many(c.key, c.value) for c in source]
    assert keyed.n_keys_ == 2 and sum(len(r) for r in results) >= 10


def test_a_bad_query_is_rejected_with_prometheus_message(prometheus_server):
    pport, *_ = prometheus_server
    source = PrometheusSource(f"prometheus://127.0.0.1:{pport}", "rate(", step=1, start=0, end=10)
    with pytest.raises(SourceError, match=r"rejected the query 'rate\(': bad_data: .*parse error"):
        list(source)


def test_retries_server_errors_then_succeeds():
    answers = [
        (503, "busy"),
        (502, "gateway"),
        (
            200,
            json.dumps(
                {
                    "status": "success",
                    "data": {
                        "resultType": "matrix",
                        "result": [
                            {"metric": {"__name__": "up"}, "values": [[60, "1"], [120, "+Inf"]]}
                        ],
                    },
                }
            ),
        ),
    ]
    waits = []
    with exporter(lambda path: answers.pop(0)) as port:
        source = PrometheusSource(
            f"http://127.0.0.1:{port}", "up", step=60, start=60, end=120, sleep=waits.append
        )
        (chunk,) = list(source)
    assert waits == [0.5, 1.0] and source.n_retries == 2
    assert chunk.key.tolist() == ["up{}", "up{}"] and chunk.problem.tolist() == [OK, NOT_FINITE]


def test_gives_up_after_the_retries():
    waits = []
    with exporter(lambda path: (503, "down")) as port:
        source = PrometheusSource(
            f"http://127.0.0.1:{port}", "up", start=0, end=10, retries=3, sleep=waits.append
        )
        with pytest.raises(SourceError, match=r"\(HTTP 503\) after 4 attempts"):
            list(source)
    assert waits == [0.5, 1.0, 2.0]


def test_not_a_query_api():
    with exporter(lambda path: "<html>hello</html>") as port:
        source = PrometheusSource(f"http://127.0.0.1:{port}", "up", start=0, end=10)
        with pytest.raises(SourceError, match="not a matrix result"):
            list(source)


def test_windows_are_cut_at_max_points_and_wait_for_time_to_pass():
    """A fake clock: the source asks for at most MAX_POINTS steps and sleeps until due."""
    asked = []

    def render(path):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        asked.append((float(query["start"][0]), float(query["end"][0])))
        return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}})

    now = [100_000.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    with exporter(render) as port:
        source = PrometheusSource(
            f"http://127.0.0.1:{port}",
            "up",
            step=1,
            start=70_000,
            clock=lambda: now[0],
            sleep=sleep,
        )
        it = iter(source)
        thread = threading.Thread(target=lambda: next(it, None), daemon=True)
        thread.start()
        thread.join(0.5)  # empty results: it keeps polling; stop it
        source.close()
        thread.join(5)
    assert asked[:3] == [(70_000.0, 79_999.0), (80_000.0, 89_999.0), (90_000.0, 99_999.0)]
    assert asked[3] == (100_000.0, 100_000.0) and slept[0] == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"url": "ftp://x"}, "a Prometheus address must look like"),
        ({"query": " "}, "`query` of PrometheusSource must be a PromQL expression"),
        ({"step": 0}, "`step` of PrometheusSource must be a number of seconds > 0"),
        ({"retries": -1}, "`retries` of PrometheusSource must be an int >= 0"),
    ],
)
def test_bad_parameters(kwargs, message):
    args = {"url": "prometheus://h:9090", "query": "up", **kwargs}
    with pytest.raises(InvalidParameterError, match=message):
        PrometheusSource(args.pop("url"), args.pop("query"), **args)


def test_helpers():
    assert parse_prometheus_url("http://h:9090/") == "http://h:9090"
    assert series_key({"job": 'a"b'}) == '{job="a\\"b"}'
