"""``PrometheusSource``: records from a PromQL query, polled through the HTTP range-query API.

Each poll asks ``/api/v1/query_range`` for the query evaluated every ``step`` seconds from the
next unseen evaluation time to now (minus ``delay``, so late scrapes are in), and yields the
points as one :class:`~oddwatch.sources._base.Records` chunk in time order. Every returned
series is its own key, written as Prometheus prints it (``up{instance="h:9100",job="node"}``;
label names sorted). Evaluation times are multiples of ``step``; ``position`` holds the next
one, and a source started with ``start=position["next_ms"] / 1000`` resumes exactly there, so
no point is read twice or skipped; ``get_state`` / ``set_state`` carry it in a pipeline
checkpoint (``oddwatch detect prometheus://... --checkpoint FILE``). ``NaN`` and infinite
values keep their place as bad records (the validator's ``on_invalid`` decides). Uses only
the standard library.

Network errors and 5xx answers are retried ``retries`` times with doubling waits, then raise
:class:`~oddwatch.errors.SourceError`; a rejected query (4xx) raises at once with Prometheus's
own message.

Examples
--------
>>> series_key({"__name__": "up", "job": "node", "instance": "h:9100"})
'up{instance="h:9100",job="node"}'
>>> parse_prometheus_url("prometheus://127.0.0.1:9090")
'http://127.0.0.1:9090'
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from oddwatch.errors import CheckpointError, InvalidParameterError, SourceError
from oddwatch.sources._base import Records
from oddwatch.sources._payload import iso_texts
from oddwatch.sources.records import NOT_FINITE, NOT_NUMERIC, OK

__all__ = ["MAX_POINTS", "PrometheusSource", "parse_prometheus_url", "series_key"]

MAX_POINTS = 10_000  # per series per request; Prometheus refuses more than 11,000


def parse_prometheus_url(url: str) -> str:
    """``prometheus://HOST:PORT[/PATH]`` (or ``http(s)://...``) as the HTTP base URL.

    Examples
    --------
    >>> parse_prometheus_url("https://prom.example:443/prom/")
    'https://prom.example:443/prom'
    >>> parse_prometheus_url("prom://x")
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: a Prometheus address must look like ...
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("prometheus", "http", "https") or not parts.hostname:
        raise InvalidParameterError(
            "a Prometheus address must look like prometheus://HOST:PORT (or http://HOST:PORT); "
            f"got {url!r}."
        )
    scheme = "http" if parts.scheme == "prometheus" else parts.scheme
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def series_key(labels: dict[str, str]) -> str:
    """A label set as Prometheus writes it: ``name{a="x",b="y"}``, label names sorted."""
    name = labels.get("__name__", "")
    inner = ",".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(labels.items())
        if k != "__name__"
    )
    return f"{name}{{{inner}}}"


class PrometheusSource:
    """Iterate Records chunks of a PromQL query's series, polling as time passes.

    Parameters
    ----------
    url
        The server: ``prometheus://HOST:PORT`` or ``http(s)://HOST:PORT[/PATH]``.
    query
        A PromQL expression (e.g. ``rate(http_requests_total[5m])``).
    step
        Seconds between evaluation times; > 0.
    start
        The first evaluation time (epoch seconds; rounded down to a multiple of ``step``);
        ``None`` for now.
    end
        Stop after evaluating up to this time; ``None`` to keep polling until closed.
    delay
        Evaluate only up to ``now - delay``, so samples scraped late are included.
    timeout
        Seconds to wait for one HTTP answer.
    retries
        Attempts after a network error or 5xx answer before giving up.
    clock, sleep
        Time functions (tests replace them).

    Examples
    --------
    >>> source = PrometheusSource("prometheus://127.0.0.1:1", "up", start=0, end=60, retries=0)
    >>> list(source)
    Traceback (most recent call last):
    ...
    oddwatch.errors.SourceError: cannot query Prometheus at http://127.0.0.1:1 ...
    """

    def __init__(
        self,
        url: str,
        query: str,
        *,
        step: float = 15.0,
        start: float | None = None,
        end: float | None = None,
        delay: float = 0.0,
        timeout: float = 10.0,
        retries: int = 5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = parse_prometheus_url(url)
        if not isinstance(query, str) or not query.strip():
            raise InvalidParameterError(
                f"`query` of PrometheusSource must be a PromQL expression; got {query!r}."
            )
        for name, value in (("step", step), ("timeout", timeout)):
            if not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
                raise InvalidParameterError(
                    f"`{name}` of PrometheusSource must be a number of seconds > 0; got {value!r}."
                )
        if not isinstance(retries, int) or retries < 0:
            raise InvalidParameterError(
                f"`retries` of PrometheusSource must be an int >= 0; got {retries!r}."
            )
        self.query = query
        self.step_ms = round(step * 1000)
        self.end_ms = None if end is None else math.floor(end * 1000)
        self.delay = delay
        self.timeout = timeout
        self.retries = retries
        self._clock = clock
        self._sleep = sleep
        first = clock() if start is None else start
        self.next_ms = math.floor(first * 1000 / self.step_ms) * self.step_ms
        self.n_read = 0
        self.n_retries = 0
        self._closed = False

    @property
    def position(self) -> dict[str, int]:
        """``next_ms``: the next evaluation time (epoch milliseconds); ``records`` read."""
        return {"next_ms": self.next_ms, "records": self.n_read}

    def get_state(self) -> dict[str, Any]:
        """The resume point for a pipeline checkpoint: the next evaluation time, as JSON.

        ``line`` is the number of the next record (records read + 1); ``query`` and
        ``step_ms`` are checked on resume.

        Examples
        --------
        >>> PrometheusSource("prometheus://h:1", "up", step=15, start=60.0).get_state()
        {'line': 1, 'records': 0, 'next_ms': 60000, 'query': 'up', 'step_ms': 15000}
        """
        return {
            "line": self.n_read + 1,
            "records": self.n_read,
            "next_ms": self.next_ms,
            "query": self.query,
            "step_ms": self.step_ms,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`get_state` (before iterating): the next evaluation time is
        the saved one, whatever ``start`` said; the query and step must be the same."""
        try:
            next_ms, records = int(state["next_ms"]), int(state["records"])
            query, step_ms = state["query"], int(state["step_ms"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the saved Prometheus position is malformed ({exc}).") from None
        if (query, step_ms) != (self.query, self.step_ms):
            raise CheckpointError(
                f"the checkpoint polled {query!r} every {step_ms / 1000:g} s; this run polls "
                f"{self.query!r} every {self.step_ms / 1000:g} s. Use the same --query and "
                "--step, or delete the checkpoint to start over."
            )
        self.next_ms, self.n_read = next_ms, records

    def close(self) -> None:
        """Stop after the current poll."""
        self._closed = True

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Records]:
        while not self._closed:
            if self.end_ms is not None and self.next_ms > self.end_ms:
                return
            now_ms = math.floor((self._clock() - self.delay) * 1000)
            last_ms = now_ms if self.end_ms is None else min(now_ms, self.end_ms)
            if last_ms < self.next_ms:
                self._sleep((self.next_ms - last_ms) / 1000)
                continue
            last_ms = min(last_ms, self.next_ms + (MAX_POINTS - 1) * self.step_ms)
            last_ms -= (last_ms - self.next_ms) % self.step_ms
            result = self._query_range(self.next_ms, last_ms)
            self.next_ms = last_ms + self.step_ms
            records = self._records(result)
            if len(records):
                self.n_read += len(records)
                yield records

    def _query_range(self, first_ms: int, last_ms: int) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode(
            {
                "query": self.query,
                "start": f"{first_ms / 1000:.3f}",
                "end": f"{last_ms / 1000:.3f}",
                "step": f"{self.step_ms / 1000:.3f}",
            }
        )
        url = f"{self.base}/api/v1/query_range?{params}"
        wait = 0.5
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as response:
                    return self._result(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise SourceError(
                        f"Prometheus at {self.base} rejected the query {self.query!r}: "
                        f"{self._error_text(exc)}"
                    ) from None
                problem = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                problem = str(getattr(exc, "reason", exc))
            if attempt < self.retries:
                self.n_retries += 1
                self._sleep(wait)
                wait = min(wait * 2, 30.0)
        raise SourceError(
            f"cannot query Prometheus at {self.base} ({problem}) after {self.retries + 1} "
            "attempts; is it running and reachable? Check the prometheus:// address."
        )

    @staticmethod
    def _error_text(exc: urllib.error.HTTPError) -> str:
        try:
            body = json.loads(exc.read())
            return f"{body.get('errorType', 'error')}: {body.get('error', '')}"
        except (ValueError, OSError):
            return f"HTTP {exc.code}"

    def _result(self, raw: bytes) -> list[dict[str, Any]]:
        try:
            body = json.loads(raw)
            data = body["data"]
            if body.get("status") != "success" or data.get("resultType") != "matrix":
                raise ValueError(f"status {body.get('status')!r}, type {data.get('resultType')!r}")
            result: list[dict[str, Any]] = data["result"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceError(
                f"Prometheus at {self.base} answered the range query with something that is "
                f"not a matrix result ({exc}); is this a Prometheus query API?"
            ) from None
        return result

    def _records(self, result: list[dict[str, Any]]) -> Records:
        times: list[float] = []
        values: list[float] = []
        keys: list[str] = []
        problems: list[int] = []
        detail: dict[int, str] = {}
        for series in result:
            key = series_key(series.get("metric", {}))
            for stamp, text in series.get("values", []):
                try:
                    value = float(text)
                    problem = OK if math.isfinite(value) else NOT_FINITE
                except (TypeError, ValueError):
                    value, problem = math.nan, NOT_NUMERIC
                if problem:
                    detail[len(values)] = f"{key} at {stamp}: value {text!r} is not a finite number"
                times.append(float(stamp))
                values.append(value if problem == OK else math.nan)
                keys.append(key)
                problems.append(problem)
        order = np.lexsort((np.array(keys, dtype=np.str_), np.array(times)))
        moved_to = np.empty_like(order)
        moved_to[order] = np.arange(order.shape[0])
        detail = {int(moved_to[i]): text for i, text in detail.items()}
        time_arr = np.array(times, dtype=np.float64)[order]
        first = self.n_read + 1
        return Records(
            line=np.arange(first, first + len(values), dtype=np.int64),
            value=np.array(values, dtype=np.float64)[order],
            problem=np.array(problems, dtype=np.uint8)[order],
            end=first + len(values) - 1,
            time=time_arr,
            time_text=iso_texts(time_arr),
            key=np.array(keys, dtype=np.str_)[order] if keys else np.array([], dtype=np.str_),
            detail=detail,
        )
