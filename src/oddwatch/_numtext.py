"""Numbers to and from text in compiled code, bit for bit as Python's ``float`` and ``repr``.

:func:`decimal_to_float` turns a decimal ``mantissa x 10**exponent`` into the nearest double,
as ``float(text)`` does; :func:`write_float` writes the shortest text that reads back as the
same double, as ``repr(x)`` does. Both work in double-double arithmetic (error-free products
and quotients) and give up -- returning a flag -- whenever the answer is not certain (a value
too close to a rounding tie, a mantissa of more than 18 digits, a magnitude beyond 1e180 or
below 1e-180, a power of two outside [1e-4, 1e16)); the caller
then uses Python for that value. So they are exact where they answer, and they answer for
nearly every number that appears in data. The tests compare both with Python on millions of
random and edge-case values.

Examples
--------
>>> decimal_to_float(4998819559712427, -14)
(49.98819559712427, True)
>>> out = np.zeros(32, dtype=np.uint8)
>>> n = write_float(0.1 + 0.2, out, 0)
>>> bytes(out[:n]).decode(), repr(0.1 + 0.2)
('0.30000000000000004', '0.30000000000000004')
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np

from oddwatch.config import NUMBA_OPTIONS

__all__ = ["INLINE_OPTIONS", "decimal_to_float", "parse_float", "write_float", "write_int"]

# small helpers are inlined into their callers: a call between cached functions is not
INLINE_OPTIONS = {**NUMBA_OPTIONS, "inline": "always"}

_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles
_MAX_POWER = 220
# 10**k for |k| <= _MAX_POWER as a double-double hi + lo (from exact rationals)
_P10_HI = np.array([float(Fraction(10) ** k) for k in range(-_MAX_POWER, _MAX_POWER + 1)])
_P10_LO = np.array(
    [
        float(Fraction(10) ** k - Fraction(hi))
        for k, hi in zip(range(-_MAX_POWER, _MAX_POWER + 1), _P10_HI.tolist(), strict=True)
    ]
)
_IPOW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_EXACT = float(2**53)
# repr of the powers of two in [1e-4, 1e16): 2**-13 ... 2**53 (their rounding interval is
# lopsided, so they are looked up rather than searched for)
_POW2_FIRST = -13
_POW2_TEXT = np.zeros((67, 24), dtype=np.uint8)
_POW2_LENGTH = np.zeros(67, dtype=np.int64)
for _k in range(67):
    _text = repr(2.0 ** (_k + _POW2_FIRST)).encode()
    _POW2_TEXT[_k, : len(_text)] = np.frombuffer(_text, dtype=np.uint8)
    _POW2_LENGTH[_k] = len(_text)
_SPLITTER = 134217729.0  # 2**27 + 1


@numba.jit(**INLINE_OPTIONS)
def _two_prod(a: float, b: float) -> tuple[float, float]:
    """``a * b`` as ``hi + lo`` exactly (Dekker's product)."""
    p = a * b
    c = _SPLITTER * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLITTER * b
    bh = c - (c - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@numba.jit(**NUMBA_OPTIONS)
def _scaled(a_hi: float, a_lo: float, power: int) -> tuple[float, float]:
    """``(a_hi + a_lo) * 10**power`` as a double-double (|power| <= 220), error ~2**-100."""
    p_hi = _P10_HI[power + _MAX_POWER]
    p_lo = _P10_LO[power + _MAX_POWER]
    h, lo = _two_prod(a_hi, p_hi)
    return h, lo + (a_hi * p_lo + a_lo * p_hi)


@numba.jit(**NUMBA_OPTIONS)
def decimal_to_float(mantissa: int, exponent: int) -> tuple[float, bool]:
    """The double nearest to ``mantissa * 10**exponent`` (``0 <= mantissa < 10**18``), and
    whether the answer is certain (False: use Python's ``float`` instead)."""
    if mantissa == 0:
        return 0.0, True
    if mantissa < _EXACT and -22 <= exponent <= 22:  # Clinger: one exact rounding
        m = float(mantissa)
        if exponent >= 0:
            return m * _POW10[exponent], True
        return m / _POW10[-exponent], True
    if exponent < -200 or exponent > 200:
        return 0.0, False
    m_hi = float(mantissa)
    m_lo = float(mantissa - np.int64(m_hi))
    h, lo = _scaled(m_hi, m_lo, exponent)
    x = h + lo
    d = (h - x) + lo  # the exact value is x + d (up to ~2**-100 relative)
    gap = np.nextafter(x, np.inf) - x if d > 0 else x - np.nextafter(x, -np.inf)
    if abs(d) > 0.5 * gap - 1e-27 * x:  # too close to a tie to be sure
        return x, False
    return x, True


@numba.jit(**NUMBA_OPTIONS)
def parse_float(data: np.ndarray, start: int, stop: int) -> tuple[float, bool]:
    """``float(data[start:stop])`` for plain decimal text (sign, digits, point, exponent);
    False when the text is anything else or the answer is uncertain."""
    i = start
    negative = False
    if i < stop and (data[i] == 43 or data[i] == 45):  # + -
        negative = data[i] == 45
        i += 1
    mantissa = 0
    n_significant = 0
    n_digits = 0
    exponent = 0
    while i < stop and 48 <= data[i] <= 57:
        n_digits += 1
        if mantissa or data[i] != 48:
            if n_significant == 18:
                return 0.0, False
            mantissa = mantissa * 10 + (data[i] - 48)
            n_significant += 1
        i += 1
    if i < stop and data[i] == 46:  # .
        i += 1
        while i < stop and 48 <= data[i] <= 57:
            n_digits += 1
            if mantissa or data[i] != 48:
                if n_significant == 18:
                    return 0.0, False
                mantissa = mantissa * 10 + (data[i] - 48)
                n_significant += 1
            exponent -= 1
            i += 1
    if n_digits == 0:
        return 0.0, False
    if i < stop and (data[i] == 101 or data[i] == 69):  # e E
        i += 1
        sign = 1
        if i < stop and (data[i] == 43 or data[i] == 45):
            sign = -1 if data[i] == 45 else 1
            i += 1
        n_exp = 0
        e = 0
        while i < stop and 48 <= data[i] <= 57:
            if n_exp == 4:
                return 0.0, False
            e = e * 10 + (data[i] - 48)
            n_exp += 1
            i += 1
        if n_exp == 0:
            return 0.0, False
        exponent += sign * e
    if i != stop:
        return 0.0, False
    x, ok = decimal_to_float(mantissa, exponent)
    return (-x if negative else x), ok


@numba.jit(**INLINE_OPTIONS)
def write_int(n: int, out: np.ndarray, pos: int) -> int:
    """Write the decimal digits of ``n`` at ``out[pos:]``; return the position after them."""
    if n < 0:
        out[pos] = 45
        pos += 1
        n = -n
    width = 1
    while width < 19 and n >= _IPOW10[width]:
        width += 1
    for j in range(width - 1, -1, -1):
        out[pos + j] = 48 + n % 10
        n //= 10
    return pos + width


@numba.jit(**INLINE_OPTIONS)
def _floor_and_fraction(h: float, lo: float) -> tuple[int, float, bool]:
    """``floor(h + lo)``, the fraction left (h >= 0; accurate to ~1e-12), and whether
    ``h + lo`` is exactly an integer and a half."""
    whole = math.floor(h)
    head = h - whole  # exact
    f = head + lo
    below = math.floor(f)
    tie = f - below == 0.5 and (f - head) == lo  # no rounding in head + lo
    return int(whole) + int(below), f - below, tie


@numba.jit(**NUMBA_OPTIONS)
def _reads_back(digits: int, scale: int, a: float) -> int:
    """1 if ``digits / 10**scale`` reads back as ``a``, 0 if not, -1 if uncertain."""
    back, ok = decimal_to_float(digits, -scale)
    if not ok:
        return -1
    return 1 if back == a else 0


@numba.jit(**NUMBA_OPTIONS)
def _shortest_digits(a: float) -> tuple[int, int, bool]:
    """``(digits, scale, ok)`` with ``a == digits / 10**scale`` as ``repr`` would write it
    (fewest digits that read back as ``a``, nearest to ``a``). ``1e-180 <= a < 1e180``.

    With n digits, only the two integers around ``a * 10**scale`` can read back; the nearest
    one is tried (both when ``a * 10**scale`` is too close to a half to tell which).
    """
    exponent10 = int(math.floor(math.log10(a)))
    for n_digits in range(15, 18):
        below, fraction, scale, tie = 0, 0.0, 0, False
        for _ in range(3):  # log10 may be off by one near powers of ten
            scale = n_digits - 1 - exponent10
            if scale < -200 or scale > 200:
                return 0, 0, False
            h, lo = _scaled(a, 0.0, scale)
            below, fraction, tie = _floor_and_fraction(h, lo)
            if below + 1 > _IPOW10[n_digits]:
                exponent10 += 1
            elif below < _IPOW10[n_digits - 1]:
                exponent10 -= 1
            else:
                break
        else:
            return 0, 0, False
        found = -1
        if abs(fraction - 0.5) > 1e-9:
            digits = below + 1 if fraction > 0.5 else below
            # the nearest 17-digit decimal is within 5e-17 (relative) of a: it always reads
            # back (powers of two, whose interval below is narrower, never get here)
            answer = 1 if n_digits == 17 else _reads_back(digits, scale, a)
            if answer < 0:
                return 0, 0, False
            if answer == 1:
                found = digits
        else:  # too close to a half to tell: try both
            first, second = _reads_back(below, scale, a), _reads_back(below + 1, scale, a)
            if first < 0 or second < 0:
                return 0, 0, False
            if first + second == 2:  # both read back: an exact tie goes to the even one
                if not (tie and 0 <= scale <= 22):  # 10**scale exact, so the tie is certain
                    return 0, 0, False
                found = below if below % 2 == 0 else below + 1
            elif first + second == 1:
                found = below if first == 1 else below + 1
        if found >= 0:
            digits = found
            while digits % 10 == 0 and digits > 0:
                digits //= 10
                scale -= 1
            return digits, scale, True
    return 0, 0, False


@numba.jit(**NUMBA_OPTIONS)
def write_float(x: float, out: np.ndarray, pos: int) -> int:
    """Write ``repr(x)`` at ``out[pos:]`` (room for 26 bytes needed); return the position
    after it, or -1 when this value needs Python's ``repr`` (not finite, outside
    [1e-180, 1e180) in magnitude, or an uncertain case)."""
    if x == 0.0:
        if math.copysign(1.0, x) < 0:
            out[pos] = 45
            pos += 1
        out[pos] = 48
        out[pos + 1] = 46
        out[pos + 2] = 48
        return pos + 3
    a = abs(x)
    if not (1e-180 <= a < 1e180):
        return -1
    mantissa, exponent2 = math.frexp(a)
    if mantissa == 0.5 and 1e-4 <= a < 1e16:  # a power of two: lopsided rounding interval
        if x < 0:
            out[pos] = 45
            pos += 1
        k = exponent2 - 1 - _POW2_FIRST
        for j in range(_POW2_LENGTH[k]):
            out[pos + j] = _POW2_TEXT[k, j]
        end: int = pos + _POW2_LENGTH[k]
        return end
    if mantissa == 0.5:
        return -1
    digits, scale, ok = _shortest_digits(a)
    if not ok:
        return -1
    if x < 0:
        out[pos] = 45
        pos += 1
    width = 1
    while width < 18 and digits >= _IPOW10[width]:
        width += 1
    point = width - scale  # digits before the decimal point
    if not (-4 < point <= 16):  # repr's scientific notation: d.ddde-05
        end = write_int(digits, out, pos + 1)
        out[pos] = out[pos + 1]
        if width > 1:
            out[pos + 1] = 46
        else:
            end -= 1
        out[end] = 101
        out[end + 1] = 45 if point - 1 < 0 else 43
        exponent10 = abs(point - 1)
        if exponent10 < 10:
            out[end + 2] = 48
            end += 1
        return write_int(exponent10, out, end + 2)  # type: ignore[no-any-return]
    if point <= 0:
        out[pos] = 48
        out[pos + 1] = 46
        pos += 2
        for _ in range(-point):
            out[pos] = 48
            pos += 1
        after: int = write_int(digits, out, pos)
        return after
    if point >= width:
        pos = write_int(digits, out, pos)
        for _ in range(point - width):
            out[pos] = 48
            pos += 1
        out[pos] = 46
        out[pos + 1] = 48
        return pos + 2
    end = write_int(digits, out, pos + 1)
    for j in range(point):  # shift the leading digits left to make room for the point
        out[pos + j] = out[pos + 1 + j]
    out[pos + point] = 46
    return end
