"""The compiled number parser and formatter agree with Python's float() and repr() bit for bit
wherever they answer, and answer for nearly all ordinary numbers."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oddwatch._numtext import parse_float, write_float

OUT = np.zeros(64, dtype=np.uint8)


def formatted(x: float) -> str | None:
    n = write_float(x, OUT, 0)
    return None if n < 0 else bytes(OUT[:n]).decode()


def parsed(text: str) -> float | None:
    data = np.frombuffer(text.encode(), dtype=np.uint8)
    value, ok = parse_float(data, 0, data.shape[0])
    return value if ok else None


def same(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_write_float_is_repr(x):
    text = formatted(x)
    assert text is None or text == repr(x)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_float_of_repr_and_of_17_digits_is_float(x):
    for text in (repr(x), f"{x:.17g}", f"{x:.3f}", f"{x:.15e}"):
        value = parsed(text)
        assert value is None or same(value, float(text)), text


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789+-.eE_ x", max_size=12))
def test_parse_float_of_junk_is_float_or_declined(text):
    value = parsed(text)
    if value is not None:
        assert same(value, float(text))


def test_ordinary_numbers_are_answered_and_exact():
    rng = np.random.default_rng(12)
    values = np.concatenate(
        [50 + rng.normal(size=20_000), rng.random(20_000), 10 ** rng.uniform(-30, 30, 20_000)]
    )
    declined = 0
    for x in values.tolist() + [0.5, 1.0, -2.0, 1e-5, 1e16, 0.1, 1e22, 5e-324]:
        text = formatted(x)
        declined += text is None
        assert text is None or text == repr(x)
        value = parsed(repr(x))
        assert value is None or same(value, x)
    assert declined < 10  # almost everything takes the compiled path


def test_ties_and_hard_cases():
    hard = [
        "9007199254740993",  # 2**53 + 1: halfway between two doubles
        "9007199254740993.0000000001",
        "0.1000000000000000055511151231257827",
        "2.2250738585072011e-308",
        "1.7976931348623157e308",
        "123456789012345678",
        "0.000000000000000000000000000001",
        "-0",
        "5e-324",
    ]
    for text in hard:
        value = parsed(text)
        assert value is None or same(value, float(text)), text
