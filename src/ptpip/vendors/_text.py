"""Shared helpers for vendor value tables: enum labels, numbers, fractions, nearest matches."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

__all__ = [
    "format_enum",
    "format_hex",
    "format_milli_ev",
    "nearby",
    "parse_enum",
    "parse_fraction",
    "parse_hex",
    "parse_milli_ev",
    "pick_nearest",
]

_HEX = re.compile(r"0x[0-9a-f]+")
# "+1 1/3", "-2/3", "1", "0.5", "-1.25"
_FRACTION = re.compile(
    r"([+-]?)\s*(?:(\d+)\s+(\d+)\s*/\s*(\d+)|(\d+)\s*/\s*(\d+)|(\d+(?:\.\d*)?|\.\d+))"
)


def format_hex(code: int) -> str:
    """The fallback text of a code no table knows; :func:`parse_hex` reads it back."""
    return f"0x{code:02X}"


def parse_hex(text: str) -> int | None:
    """A ``0x…`` literal (what :func:`format_hex` writes), or None."""
    t = text.strip().lower()
    if _HEX.fullmatch(t) is None:
        return None
    value = int(t, 16)
    return value if value <= 0xFFFF_FFFF else None


def format_enum(table: Mapping[int, str], code: int) -> str:
    """The label of ``code``, or its hex text when the table does not know it."""
    label = table.get(code)
    return label if label is not None else format_hex(code)


def parse_enum(table: Mapping[int, str], text: str, what: str) -> int:
    """The code whose label is ``text`` (case-insensitive; first one wins), or a hex literal."""
    wanted = _fold(text)
    for code, label in table.items():
        if _fold(label) == wanted:
            return code
    raw = parse_hex(text)
    if raw is not None:
        return raw
    choices = ", ".join(repr(label) for label in dict.fromkeys(table.values()))
    raise ValueError(f"unknown {what} {text!r}; valid values: {choices}")


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def parse_fraction(text: str) -> Fraction | None:
    """A signed number written as "1", "-2/3", "+1 1/3" or "0.5"; None if it is none of those."""
    m = _FRACTION.fullmatch(text.strip())
    if m is None:
        return None
    sign, whole, num, den, num2, den2, dec = m.groups()
    if whole is not None:
        if int(den) == 0:
            return None
        value = int(whole) + Fraction(int(num), int(den))
    elif num2 is not None:
        if int(den2) == 0:
            return None
        value = Fraction(int(num2), int(den2))
    else:
        value = Fraction(dec)
    return -value if sign == "-" else value


def pick_nearest(
    candidates: Iterable[tuple[int, float]], value: float, tolerance: float
) -> int | None:
    """The code whose value is nearest ``value`` on a log2 scale, within ``tolerance`` stops.

    Ties keep the first candidate, so callers list preferred codes first.
    """
    if value <= 0 or not math.isfinite(value):
        return None
    best: tuple[float, int] | None = None
    target = math.log2(value)
    for code, v in candidates:
        if v <= 0:
            continue
        d = abs(math.log2(v) - target)
        if best is None or d < best[0] - 1e-9:
            best = (d, code)
    if best is None or best[0] > tolerance + 1e-9:
        return None
    return best[1]


def nearby(labelled: Sequence[tuple[str, float]], value: float | None, count: int = 4) -> str:
    """A short list of valid labels near ``value`` (or the first few) for error messages."""
    unique = list(dict.fromkeys(labelled))
    if value is not None and value > 0 and math.isfinite(value):
        target = math.log2(value)
        unique.sort(key=lambda lv: abs(math.log2(lv[1]) - target) if lv[1] > 0 else math.inf)
    labels = list(dict.fromkeys(label for label, _ in unique))[:count]
    return ", ".join(labels)


def format_milli_ev(value: int) -> str:
    """malc0mn style: 1333 → "1 1/3", −1667 → "-1 2/3", −333 → "-1/3", 0 → "0".

    A zero-extended INT16 (0xFEB3) is read as negative; values off the third-stop grid are
    shown as decimals ("0.5").
    """
    if 0x8000 <= value <= 0xFFFF:
        value -= 0x10000
    thirds = round(Fraction(value * 3, 1000))
    if abs(value * 3 - thirds * 1000) > 3:  # more than 1/1000 EV off a third
        return f"{value / 1000:g}"
    whole, rest = divmod(abs(thirds), 3)
    parts = [str(whole)] if whole else []
    if rest:
        parts.append(f"{rest}/3")
    text = " ".join(parts) or "0"
    return f"-{text}" if value < 0 else text


def parse_milli_ev(text: str) -> int:
    """ "1 1/3", "+1/3", "-2/3", "0" or "0.5" → 1/1000 EV (signed INT16)."""
    ev = parse_fraction(text)
    if ev is not None:
        milli = ev * 1000
        n = int(milli + Fraction(1, 2)) if milli >= 0 else -int(-milli + Fraction(1, 2))
        if -0x8000 <= n <= 0x7FFF:
            return n
    raise ValueError(f"unknown exposure bias {text!r}; expected e.g. 0, 1/3, -2/3, 1 1/3")
