"""ISO 15740 device properties as text, both ways (ptpip-standard.md §15, malc0mn-cli.md §12).

Each property with a human form has a :class:`PropFormat`: a formatter from the raw value, a
parser back to it, and what a descriptor check needs (usual data type, a scale for nearest
matches). Formatters are total: odd values come out as decimal (or hex for vendor-range enum
values), never as an exception.

Exposure time (0x500D, units of 1/10000 s) reads as a camera would show it, and every text
reads back to the same value (rounding half to even, as the virtual camera stores them):

- 1 s and longer: decimal seconds ("1 s", "1.3 s", "30 s");
- below 0.3 s: "1/N s", N the conventional third- or half-stop speed (1/16000 … 1/4) nearest
  the value among those that round to it ("1/640 s" for 16, "1/60 s" for 167, "1/5000 s"
  for 2), else N = round(10000/value) ("1/1111 s" for 9), else decimal seconds;
- 0.3 s up to 1 s: "1/2 s" for 5000 (10000/value whole), else decimal seconds ("0.3 s");
- 0xFFFFFFFF is "bulb".

Exposure bias prints a "+" on positive values ("+1 1/3"), unlike the seed CLI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from ptpip.ptp.codes import DataType
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.values import decode_datetime, encode_datetime
from ptpip.vendors._text import format_hex, format_milli_ev, parse_fraction, parse_milli_ev

__all__ = [
    "BULB",
    "EFFECT_MODE",
    "EXPOSURE_PROGRAM",
    "FLASH_MODE",
    "FOCUS_METERING",
    "FOCUS_MODE",
    "FUNCTIONAL_MODE",
    "LABELS",
    "METERING",
    "STANDARD",
    "STILL_CAPTURE",
    "STRING_CODES",
    "UNIFIED_NAMES",
    "WHITE_BALANCE",
    "Number",
    "Parser",
    "PropFormat",
    "enum_format",
    "enum_text",
    "fold",
    "format_capture_delay",
    "format_datetime",
    "format_exposure_bias",
    "format_exposure_time",
    "format_f_number",
    "parse_capture_delay",
    "parse_datetime",
    "parse_exposure_bias",
    "parse_exposure_time",
    "parse_f_number",
    "parse_int",
    "plain",
    "strip_seconds",
    "with_f",
    "with_seconds",
    "without_seconds",
]

#: A parsed quantity in the property's raw units; a Fraction when the text was finer than them.
Number = int | Fraction
#: (text, current value or None) → the raw value; raises ValueError.
Parser = Callable[[str, int | None], Number]


@dataclass(frozen=True, slots=True)
class PropFormat:
    """How one property's values read and write as text."""

    format: Callable[[int], str]
    parse: Parser
    #: the usual data type (ptpip-standard.md §15), for type checks without a descriptor
    datatype: int = DataType.UINT16
    #: a value's position (in stops, or linear units) for nearest-first lists; None: not a point
    position: Callable[[Number], float | None] | None = None
    #: a text within a third of a stop of an allowed value means that value
    snap: bool = False
    #: the enumeration labels, when the property is a plain enumeration
    table: Mapping[int, str] | None = None
    #: the formatter also reads as a difference, so a range's step shows in human form
    linear: bool = False
    #: a signed quantity: a negative value goes two's complement into an unsigned type
    signed: bool = False


#: Standard properties whose values are PTP strings (ptpip-standard.md §15).
STRING_CODES = frozenset(
    {Prop.IMAGE_SIZE, Prop.RGB_GAIN, Prop.DATE_TIME, Prop.UPLOAD_URL, Prop.ARTIST,
     Prop.COPYRIGHT_INFO}
)  # fmt: skip

#: The seed CLI's property labels (malc0mn-cli.md §12), generic part.
LABELS: dict[int, str] = {
    0x5001: "battery level", 0x5002: "functional mode", 0x5003: "image size",
    0x5004: "compression setting", 0x5005: "white balance", 0x5006: "RGB gain",
    0x5007: "F-number", 0x5008: "focal length", 0x5009: "focus distance", 0x500A: "focus mode",
    0x500B: "exposure metering mode", 0x500C: "flash mode", 0x500D: "exposure time",
    0x500E: "exposure program mode", 0x500F: "ISO", 0x5010: "exposure bias compensation",
    0x5011: "date time", 0x5012: "capture delay", 0x5013: "still capture mode",
    0x5014: "contrast", 0x5015: "sharpness", 0x5016: "digital zoom", 0x5017: "effect mode",
    0x5018: "burst number", 0x5019: "burst interval", 0x501A: "timelapse number",
    0x501B: "timelapse interval", 0x501C: "focus metering mode", 0x501D: "upload URL",
    0x501E: "artist", 0x501F: "copyright info",
}  # fmt: skip

# --- enumerations (ISO 15740 §13, with the seed CLI's labels) ---------------------------------

# The Fuji tables start with the standard values; the generic ones are their first part.
WHITE_BALANCE: dict[int, str] = {
    0: "undefined", 1: "manual", 2: "automatic", 3: "one push automatic", 4: "daylight",
    5: "fluorescent", 6: "tungsten", 7: "flash",
}  # fmt: skip
FLASH_MODE: dict[int, str] = {
    0: "undefined", 1: "auto flash", 2: "off", 3: "fill", 4: "red eye auto", 5: "red eye fill",
    6: "external sync",
}  # fmt: skip
EXPOSURE_PROGRAM: dict[int, str] = {
    0: "undefined", 1: "manual", 2: "automatic", 3: "aperture priority", 4: "shutter priority",
    5: "program creative", 6: "program action", 7: "portrait",
}  # fmt: skip
METERING: dict[int, str] = {
    0: "undefined", 1: "average", 2: "center weighted average", 3: "multi spot",
    4: "center spot",
}  # fmt: skip
FOCUS_MODE: dict[int, str] = {0: "undefined", 1: "manual", 2: "automatic", 3: "automatic macro"}
FOCUS_METERING: dict[int, str] = {0: "undefined", 1: "center spot", 2: "multi spot"}
EFFECT_MODE: dict[int, str] = {0: "undefined", 1: "standard", 2: "black and white", 3: "sepia"}
STILL_CAPTURE: dict[int, str] = {0: "undefined", 1: "normal", 2: "burst", 3: "timelapse"}
FUNCTIONAL_MODE: dict[int, str] = {0: "standard", 1: "sleep"}

_SEPARATORS = re.compile(r"[\s_\-]+")
_INT = re.compile(r"[+-]?\d+")
_HEX = re.compile(r"0x[0-9a-f]+")
_SECONDS = re.compile(r'\s*(?:seconds?|secs?|s|")$')
_N_SECONDS = re.compile(r"(\d+) seconds?")


def fold(text: str) -> str:
    """Text as compared with labels: any case; spaces, underscores and hyphens ignored."""
    return _SEPARATORS.sub("", text.casefold())


def parse_int(text: str) -> int | None:
    """A raw integer: ``0x`` hex (any case) or signed decimal; None if it is neither."""
    t = text.strip().lower()
    if _HEX.fullmatch(t):
        return int(t, 16)
    return int(t) if _INT.fullmatch(t) else None


def strip_seconds(text: str) -> str:
    """The text without a trailing seconds unit: "1/250 s", "2.5s", '30"' → the number."""
    return _SECONDS.sub("", text.strip().lower()).strip()


def enum_text(table: Mapping[int, str], value: int) -> str:
    """The label of ``value``; unknown values as decimal, or hex in the vendor range."""
    label = table.get(value)
    if label is not None:
        return label
    return format_hex(value) if value >= 0x8000 else str(value)


def _enum_parser(table: Mapping[int, str], what: str) -> Parser:
    keys: dict[str, int] = {}
    for code, label in table.items():
        keys.setdefault(fold(label), code)
        m = _N_SECONDS.fullmatch(label)
        if m is not None:  # "2 seconds" also reads as "2s"
            keys.setdefault(f"{m.group(1)}s", code)

    def parse(text: str, current: int | None = None) -> int:
        found = keys.get(fold(text))
        if found is not None:
            return found
        raw = parse_int(text)
        if raw is not None:
            return raw
        choices = ", ".join(dict.fromkeys(table.values()))
        raise ValueError(f"unknown {what} {text.strip()!r}; valid values: {choices}")

    return parse


def enum_format(table: Mapping[int, str], what: str, datatype: int = DataType.UINT16) -> PropFormat:
    """The format of a plain enumeration: labels both ways, raw numbers accepted."""
    return PropFormat(
        lambda v: enum_text(table, v), _enum_parser(table, what), datatype, table=table
    )


def _decimal(value: int, scale: int) -> str:
    """``value / scale`` (scale a power of ten) without trailing zeros: 25000, 10000 → "2.5"."""
    whole, frac = divmod(abs(value), scale)
    text = str(whole)
    if frac:
        text += f".{frac:0{len(str(scale)) - 1}d}".rstrip("0")
    return f"-{text}" if value < 0 else text


def _amount(text: str, what: str, example: str) -> Fraction:
    """A non-negative number such as "2.5", "1/3" or "1 1/2"."""
    value = parse_fraction(text)
    if value is None or value < 0:
        raise ValueError(f"cannot read {text.strip()!r} as {what}; expected e.g. {example}")
    return value


def _log2(value: Number) -> float | None:
    return math.log2(value) if value > 0 else None


def _linear(value: Number) -> float:
    return float(value)


# --- exposure time 0x500D (UINT32, 1/10000 s) -----------------------------------------------

BULB = 0xFFFF_FFFF  # libgphoto2 shows ExposureTime 0xFFFFFFFF as Bulb
_TENTH_MS = 10_000
_DECIMAL_FROM = 3_000  # 0.3 s: cameras switch from "1/4" to "0.3"
#: The conventional third- and half-stop speeds 1/16000 … 1/4 s (as cameras label them).
_CONVENTIONAL = (
    4, 5, 6, 8, 10, 13, 15, 20, 25, 30, 40, 45, 50, 60, 80, 90, 100, 125, 160, 180, 200, 250,
    320, 350, 400, 500, 640, 750, 800, 1000, 1250, 1500, 1600, 2000, 2500, 3000, 3200, 4000,
    5000, 6000, 6400, 8000, 16000,
)  # fmt: skip


def _nearest_conventional(value: int) -> int | None:
    """The denominator of a conventional speed that rounds to ``value`` units, nearest first."""
    best: tuple[Fraction, int] | None = None
    for n in _CONVENTIONAL:
        exact = Fraction(_TENTH_MS, n)
        if round(exact) == value and (best is None or abs(exact - value) < best[0]):
            best = (abs(exact - value), n)
    return best[1] if best is not None else None


def format_exposure_time(value: int) -> str:
    """1/10000 s units → "1/250 s", "0.3 s", "2.5 s", "bulb" (rule in the module docstring)."""
    if value == BULB:
        return "bulb"
    if value <= 0:
        return f"{value} s" if value == 0 else str(value)
    if value < _DECIMAL_FROM:
        n = _nearest_conventional(value) or round(Fraction(_TENTH_MS, value))
        if round(Fraction(_TENTH_MS, n)) == value:
            return f"1/{n} s"
    elif value < _TENTH_MS and _TENTH_MS % value == 0:
        return f"1/{_TENTH_MS // value} s"
    return f"{_decimal(value, _TENTH_MS)} s"


def parse_exposure_time(text: str, current: int | None = None) -> Number:
    """ "1/250", "1/250 s", "2.5s", '30"' or "bulb" → 1/10000 s units (exact)."""
    t = strip_seconds(text)
    if t == "bulb":
        return BULB
    return _amount(t, "an exposure time", '1/250, 2.5s, 30"') * _TENTH_MS


def _exposure_position(value: Number) -> float | None:
    return _log2(value) if value != BULB else None


# --- F-number 0x5007 (UINT16, f × 100) --------------------------------------------------------

_F_AUTO = (0xFFFF, 0)  # Fuji: 0xFFFF (malc0mn "automatic"), 0 (hkr); both mean auto


def format_f_number(value: int) -> str:
    """f × 100 → "f/5.6", "f/11"; 0 and 0xFFFF → "auto"."""
    if value in _F_AUTO:
        return "auto"
    return f"f/{_decimal(value, 100)}" if value > 0 else str(value)


def parse_f_number(text: str, current: int | None = None) -> Number:
    """ "f/5.6", "F5.6", "5.6" or "auto" → f × 100."""
    t = text.strip().lower()
    if t == "auto":
        return _F_AUTO[0]
    t = t.removeprefix("f/").removeprefix("f").strip()
    return _amount(t, "an F-number", "f/5.6") * 100


def _f_position(value: Number) -> float | None:
    # an f-number grows by √2 per stop
    return 2 * math.log2(value) if value not in _F_AUTO and value > 0 else None


# --- exposure bias 0x5010 (INT16, 1/1000 EV) -------------------------------------------------


def format_exposure_bias(value: int) -> str:
    """1/1000 EV → "+1 1/3", "-2/3", "0" (the seed's style with a "+" on positive values)."""
    text = format_milli_ev(value)
    return f"+{text}" if text[0].isdigit() and text != "0" else text


def parse_exposure_bias(text: str, current: int | None = None) -> Number:
    """ "+1/3", "-1 2/3", "0", "0.5 EV" → 1/1000 EV (signed)."""
    t = text.strip().lower().removesuffix("ev").strip()
    return parse_milli_ev(t)


def _bias_position(value: Number) -> float:
    if 0x8000 <= value <= 0xFFFF:  # a zero-extended INT16
        value -= 0x10000
    return float(value) / 1000


# --- units --------------------------------------------------------------------------------------


def _format_focal_length(value: int) -> str:
    return f"{_decimal(value, 100)} mm"


def _parse_focal_length(text: str, current: int | None = None) -> Number:
    t = text.strip().lower().removesuffix("mm").strip()
    return _amount(t, "a focal length", "24mm") * 100


_INFINITY = 0xFFFF  # ISO 15740: FocusDistance 0xFFFF is beyond 655 m


def _format_focus_distance(value: int) -> str:
    return "infinity" if value == _INFINITY else f"{value} mm"


def _parse_focus_distance(text: str, current: int | None = None) -> Number:
    t = text.strip().lower()
    if t in ("infinity", "inf", "∞"):
        return _INFINITY
    return _amount(t.removesuffix("mm").strip(), "a focus distance", "1500mm")


def _format_battery(value: int) -> str:
    return f"{value}%"


def _parse_battery(text: str, current: int | None = None) -> Number:
    return _amount(text.strip().removesuffix("%"), "a battery level", "80%")


_ISO_AUTO = 0xFFFF


def _format_iso(value: int) -> str:
    return "auto" if value == _ISO_AUTO else str(value)


def _parse_iso(text: str, current: int | None = None) -> Number:
    t = text.strip().lower().removeprefix("iso").strip()
    return _ISO_AUTO if t == "auto" else _amount(t, "an ISO speed", "800")


def _iso_position(value: Number) -> float | None:
    return _log2(value) if value != _ISO_AUTO else None


# --- capture delay 0x5012 (UINT32, ms) -------------------------------------------------------


def format_capture_delay(value: int) -> str:
    """ms → "off", "2 s", "0.5 s"."""
    return "off" if value == 0 else f"{_decimal(value, 1000)} s"


def parse_capture_delay(text: str, current: int | None = None) -> Number:
    """ "off", "2s", "2 s", "2", "0.5", "500ms" → ms."""
    t = text.strip().lower()
    if t in ("off", "none"):
        return 0
    if t.endswith("ms"):
        return _amount(t.removesuffix("ms").strip(), "a delay", "500ms")
    return _amount(strip_seconds(t), "a delay", "2s") * 1000


def _delay_position(value: Number) -> float:
    return float(value) / 1000


# --- DateTime 0x5011 (STR "YYYYMMDDThhmmss[.s][Z|±hhmm]") ------------------------------------

_PTP_DATETIME = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\.\d)?(Z|[+-]\d{4})?")
_HUMAN_DATETIME = re.compile(
    r"(\d{4})-?(\d\d)-?(\d\d)(?:T|\s+)(\d\d):?(\d\d):?(\d\d)(\.\d)?\s*(Z|[+-]\d\d:?\d\d)?",
    re.IGNORECASE,
)


def format_datetime(text: str) -> str:
    """ "20240101T120000" → "2024-01-01 12:00:00"; anything else as it is."""
    m = _PTP_DATETIME.fullmatch(text.strip())
    if m is None:
        return text
    year, month, day, hour, minute, second, tenths, zone = m.groups()
    return f"{year}-{month}-{day} {hour}:{minute}:{second}{tenths or ''}{zone or ''}"


def parse_datetime(text: str) -> str:
    """ "now", "2024-01-01 12:00:00" or "20240101T120000" → the PTP DateTime string."""
    t = text.strip()
    if t.lower() == "now":
        return encode_datetime(datetime.now().replace(microsecond=0))
    m = _HUMAN_DATETIME.fullmatch(t)
    if m is not None:
        year, month, day, hour, minute, second, tenths, zone = m.groups()
        zone = (zone or "").upper().replace(":", "")
        value = f"{year}{month}{day}T{hour}{minute}{second}{tenths or ''}{zone}"
        if decode_datetime(value) is not None:
            return value
    raise ValueError(
        f"cannot read {t!r} as a date and time; expected now, 2024-01-01 12:00:00 "
        "or 20240101T120000"
    )


#: The generic formats of the standard properties.
STANDARD: dict[int, PropFormat] = {
    Prop.BATTERY_LEVEL: PropFormat(
        _format_battery, _parse_battery, DataType.UINT8, _linear, linear=True
    ),
    Prop.FUNCTIONAL_MODE: enum_format(FUNCTIONAL_MODE, "functional mode"),
    Prop.WHITE_BALANCE: enum_format(WHITE_BALANCE, "white balance"),
    Prop.F_NUMBER: PropFormat(format_f_number, parse_f_number, position=_f_position, snap=True),
    Prop.FOCAL_LENGTH: PropFormat(
        _format_focal_length, _parse_focal_length, DataType.UINT32, _linear, linear=True
    ),
    Prop.FOCUS_DISTANCE: PropFormat(
        _format_focus_distance, _parse_focus_distance, position=_linear, linear=True
    ),
    Prop.FOCUS_MODE: enum_format(FOCUS_MODE, "focus mode"),
    Prop.EXPOSURE_METERING_MODE: enum_format(METERING, "metering mode"),
    Prop.FLASH_MODE: enum_format(FLASH_MODE, "flash mode"),
    Prop.EXPOSURE_TIME: PropFormat(
        format_exposure_time, parse_exposure_time, DataType.UINT32, _exposure_position, snap=True
    ),
    Prop.EXPOSURE_PROGRAM_MODE: enum_format(EXPOSURE_PROGRAM, "exposure program"),
    Prop.EXPOSURE_INDEX: PropFormat(_format_iso, _parse_iso, position=_iso_position, linear=True),
    Prop.EXPOSURE_BIAS_COMPENSATION: PropFormat(
        format_exposure_bias,
        parse_exposure_bias,
        DataType.INT16,
        _bias_position,
        snap=True,
        linear=True,
        signed=True,
    ),
    Prop.CAPTURE_DELAY: PropFormat(
        format_capture_delay, parse_capture_delay, DataType.UINT32, _delay_position, linear=True
    ),
    Prop.STILL_CAPTURE_MODE: enum_format(STILL_CAPTURE, "still capture mode"),
    Prop.EFFECT_MODE: enum_format(EFFECT_MODE, "effect mode"),
    Prop.FOCUS_METERING_MODE: enum_format(FOCUS_METERING, "focus metering mode"),
}


# --- helpers for the dialects' own formats (their ``props`` parts) ----------------------------


def plain(parse: Callable[[str], int]) -> Parser:
    """A vendor parser that needs no current value."""

    def parse_text(text: str, current: int | None = None) -> int:
        return parse(text)

    return parse_text


def with_seconds(format_: Callable[[int], str]) -> Callable[[int], str]:
    """A vendor shutter formatter with the seconds unit added: "1/250" → "1/250 s"."""

    def format_with_unit(value: int) -> str:
        text = format_(value)
        if text.endswith('"'):
            return f"{text[:-1]} s"
        return f"{text} s" if text.startswith("1/") else text

    return format_with_unit


def without_seconds(parse: Callable[[str], int]) -> Parser:
    """A vendor shutter parser that also takes "1/250 s" and "2.5 s"."""

    def parse_text(text: str, current: int | None = None) -> int:
        return parse(strip_seconds(text) or text)

    return parse_text


def with_f(format_: Callable[[int], str]) -> Callable[[int], str]:
    """Canon aperture labels ("5.6") as F-numbers ("f/5.6")."""

    def format_with_f(value: int) -> str:
        text = format_(value)
        return f"f/{text}" if re.fullmatch(r"\d+(?:\.\d+)?", text) else text

    return format_with_f


#: The seed CLI's unified property names and their generic codes (malc0mn-cli.md §9).
UNIFIED_NAMES: dict[str, int] = {
    "delay": 0x5012,
    "effect": 0x5017,
    "exposure": 0x500D,
    "exp-bias": 0x5010,
    "flashmode": 0x500C,
    "focusmtr": 0x501C,
    "iso": 0x500F,
    "whitebalance": 0x5005,
}
