"""parse_times: ISO 8601 and numbers, in bulk, with the odd cases one by one."""

from __future__ import annotations

import math

from oddwatch.sources._time import parse_times
from oddwatch.sources.records import BAD_TIMESTAMP, MISSING_FIELD


def test_iso_shapes_agree():
    texts = [
        b"2026-01-01T00:00:00",
        b"2026-01-01 00:00:00",
        b"2026-01-01T01:00:00+01:00",
        b"2026-01-01T00:00:00Z",
        b" 2026-01-01",
        b"2026-01-01T00:00:00.000",
    ]
    seconds, problem, _ = parse_times(texts)
    assert problem.tolist() == [0] * 6
    assert set(seconds.tolist()) == {1767225600.0}


def test_numbers_blanks_and_garbage():
    seconds, problem, detail = parse_times([b"12.5", b"", b"nan", b"2026-99-01", b"NaT"])
    assert seconds[0] == 12.5 and all(math.isnan(s) for s in seconds[1:])
    assert problem.tolist() == [0, MISSING_FIELD, BAD_TIMESTAMP, BAD_TIMESTAMP, BAD_TIMESTAMP]
    assert detail[3] == "timestamp '2026-99-01' is neither ISO 8601 nor a number"


def test_large_chunks_with_offsets_and_garbage_parse_like_fromisoformat():
    # NumPy's datetime64 cast crashes on chunks like these; the bulk parser must not.
    import random
    from datetime import datetime, timedelta

    import numpy as np

    from oddwatch.sources._iso import parse_uniform
    from oddwatch.sources._time import _one_iso

    rng = random.Random(0)
    for layout in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
        "%Y-%m-%dT%H:%M:%S.%fZ",
        "%Y-%m-%dT%H:%M:%S+01:00",
        "%Y-%m-%dT%H:%M:%S-0530",
    ]:
        texts = [
            (datetime(1000, 1, 1) + timedelta(seconds=rng.randrange(280_000_000_000)))
            .strftime(layout)
            .encode()
            for _ in range(3000)
        ]
        for i in range(0, 3000, 97):  # impossible months, days, leap days, hours
            bad = bytearray(texts[i])
            bad[5:10] = [b"13-01", b"04-31", b"02-29", b"00-10"][i % 4]
            texts[i] = bytes(bad)
        bulk = parse_uniform(np.array(texts, dtype="S"))
        one = np.array([_one_iso(t) for t in texts])
        assert bulk is not None and np.isnan(bulk).sum() > 10
        np.testing.assert_allclose(bulk, one, rtol=0, atol=1e-6)
    texts = [b"2026-01-01T00:00:00+01:00"] * 2000 + [b"2026-01-0xT00:00:00"]
    seconds, problem, _ = parse_times(texts)
    assert seconds[0] == 1767222000.0 and problem.tolist()[-2:] == [0, BAD_TIMESTAMP]
