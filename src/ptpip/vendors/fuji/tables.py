"""Fujifilm property value tables (vendor-fuji.md §10, malc0mn-cli.md §12), both ways.

Labels follow malc0mn's CLI where it has one (its misspelt "temprerature" is corrected).
Film-simulation numbering differs by body: :data:`FILM_SIMULATION` is the X-T1-era table,
:data:`FILM_SIMULATION_NEW` the libgphoto2 / newer-body one; take the enum from the camera.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ptpip.vendors._text import (
    format_enum,
    format_hex,
    format_milli_ev,
    parse_enum,
    parse_fraction,
    parse_hex,
    parse_milli_ev,
)

__all__ = [
    "BATTERY",
    "COMMAND_DIAL",
    "EXPOSURE_PROGRAM",
    "FILM_SIMULATION",
    "FILM_SIMULATION_NEW",
    "FLASH",
    "FOCUS_LOCK",
    "FOCUS_MODE",
    "FOCUS_POINT_HIGH",
    "IMAGE_QUALITY",
    "IMAGE_SIZE",
    "ISO_AUTO",
    "SELF_TIMER",
    "SHUTTER_NONE",
    "WHITE_BALANCE",
    "format_battery",
    "format_exposure_bias",
    "format_film_simulation",
    "format_flash",
    "format_focus_mode",
    "format_focus_point",
    "format_image_quality",
    "format_image_size",
    "format_iso",
    "format_self_timer",
    "format_shutter",
    "format_white_balance",
    "parse_battery",
    "parse_exposure_bias",
    "parse_film_simulation",
    "parse_flash",
    "parse_focus_mode",
    "parse_focus_point",
    "parse_image_quality",
    "parse_image_size",
    "parse_iso",
    "parse_self_timer",
    "parse_shutter",
    "parse_white_balance",
]

#: 0xD001 FilmSimulation, X-T1 era (hkr, malc0mn); the default table.
FILM_SIMULATION: dict[int, str] = {
    1: "PROVIA", 2: "Velvia", 3: "ASTIA", 4: "Monochrome", 5: "Sepia", 6: "PRO Neg. Hi",
    7: "PRO Neg. Std", 8: "Monochrome + Ye Filter", 9: "Monochrome + R Filter",
    10: "Monochrome + G Filter", 11: "Classic Chrome", 12: "ACROS", 13: "ACROS Ye",
    14: "ACROS R", 15: "ACROS G", 16: "ETERNA",
}  # fmt: skip

#: 0xD001 FilmSimulation, libgphoto2 config.c and newer bodies (19, 20 unverified).
FILM_SIMULATION_NEW: dict[int, str] = {
    1: "PROVIA", 2: "Velvia", 3: "ASTIA", 4: "PRO Neg. Hi", 5: "PRO Neg. Std",
    6: "Monochrome", 7: "Monochrome + Ye Filter", 8: "Monochrome + R Filter",
    9: "Monochrome + G Filter", 10: "Sepia", 11: "Classic Chrome", 12: "ACROS",
    13: "ACROS Ye", 14: "ACROS R", 15: "ACROS G", 16: "ETERNA", 17: "Classic Neg",
    18: "ETERNA Bleach Bypass", 19: "Nostalgic Neg", 20: "Reala Ace",
}  # fmt: skip

#: 0x5005 WhiteBalance: the generic PTP values, then Fuji's (§10.2).
WHITE_BALANCE: dict[int, str] = {
    0: "undefined", 1: "manual", 2: "automatic", 3: "one push automatic", 4: "daylight",
    5: "fluorescent", 6: "tungsten", 7: "flash",
    0x8001: "fluorescent 1", 0x8002: "fluorescent 2", 0x8003: "fluorescent 3",
    0x8006: "shade", 0x800A: "underwater", 0x800B: "color temperature", 0x800C: "custom",
}  # fmt: skip

#: 0x5001 / 0xD242 battery level (malc0mn's scale; hkr's 1–4 for 3-bar packs is unverified).
BATTERY: dict[int, str] = {
    1: "1/3", 2: "2/3", 3: "3/3", 6: "critical", 7: "1/5", 8: "2/5", 9: "3/5", 10: "4/5",
    11: "5/5",
}  # fmt: skip

#: 0xD241 image size / aspect.
IMAGE_SIZE: dict[int, str] = {
    2: "S 3:2", 3: "S 16:9", 4: "S 1:1", 6: "M 3:2", 7: "M 16:9", 8: "M 1:1", 10: "L 3:2",
    11: "L 16:9", 12: "L 1:1",
}  # fmt: skip

#: 0xD018 image quality (1 is enumerated by the X-T1 with no known label).
IMAGE_QUALITY: dict[int, str] = {2: "fine", 3: "normal", 4: "fine + RAW", 5: "normal + RAW"}

#: 0x5012 self-timer.
SELF_TIMER: dict[int, str] = {
    0: "off", 1: "1 second", 2: "2 seconds", 3: "5 seconds", 4: "10 seconds",
}  # fmt: skip

#: 0x500C flash: the generic PTP values, then Fuji's (§10.10).
FLASH: dict[int, str] = {
    0: "undefined", 1: "auto flash", 2: "off", 3: "fill", 4: "red eye auto",
    5: "red eye fill", 6: "external sync",
    0x8001: "on", 0x8002: "red eye", 0x8003: "red eye on", 0x8004: "red eye sync",
    0x8005: "red eye rear", 0x8006: "slow sync", 0x8007: "rear sync", 0x8008: "commander",
    0x8009: "disabled", 0x800A: "enabled",
}  # fmt: skip

#: 0x500A focus mode.
FOCUS_MODE: dict[int, str] = {1: "manual", 0x8001: "single auto", 0x8002: "continuous auto"}

#: 0x500E exposure program (0x8001–0x8008 are unnamed scene modes).
EXPOSURE_PROGRAM: dict[int, str] = {
    1: "manual", 2: "program", 3: "aperture priority", 4: "shutter priority", 6: "auto",
}  # fmt: skip

#: 0xD028 command dial mode.
COMMAND_DIAL: dict[int, str] = {0: "both", 1: "aperture", 2: "shutter speed", 3: "none"}

#: 0xD209 focus lock.
FOCUS_LOCK: dict[int, str] = {0: "off", 1: "on"}


def format_film_simulation(code: int, table: Mapping[int, str] = FILM_SIMULATION) -> str:
    return format_enum(table, code)


def parse_film_simulation(text: str, table: Mapping[int, str] = FILM_SIMULATION) -> int:
    return parse_enum(table, text, "film simulation")


def format_white_balance(code: int) -> str:
    return format_enum(WHITE_BALANCE, code)


def parse_white_balance(text: str) -> int:
    return parse_enum(WHITE_BALANCE, text, "white balance")


def format_battery(code: int) -> str:
    return format_enum(BATTERY, code)


def parse_battery(text: str) -> int:
    return parse_enum(BATTERY, text, "battery level")


def format_image_size(code: int) -> str:
    return format_enum(IMAGE_SIZE, code)


def parse_image_size(text: str) -> int:
    return parse_enum(IMAGE_SIZE, text, "image size")


def format_image_quality(code: int) -> str:
    return format_enum(IMAGE_QUALITY, code)


def parse_image_quality(text: str) -> int:
    return parse_enum(IMAGE_QUALITY, text, "image quality")


def format_self_timer(code: int) -> str:
    return format_enum(SELF_TIMER, code)


def parse_self_timer(text: str) -> int:
    return parse_enum(SELF_TIMER, text, "self-timer")


def format_flash(code: int) -> str:
    return format_enum(FLASH, code)


def parse_flash(text: str) -> int:
    return parse_enum(FLASH, text, "flash mode")


def format_focus_mode(code: int) -> str:
    return format_enum(FOCUS_MODE, code)


def parse_focus_mode(text: str) -> int:
    return parse_enum(FOCUS_MODE, text, "focus mode")


# --- ISO 0xD02A / 0xD02B (§10.3) -----------------------------------------------------------

ISO_AUTO = 0xFFFF_FFFF
_ISO_AUTO_MAX = 0x8000_0000  # bit 31: auto ISO with this maximum ("S")
_ISO_EXTENDED = 0x4000_0000  # bit 30: extended sensitivity ("L" below 200, else "H")
_ISO_VALUE = 0x00FF_FFFF  # hkr's 24 bits; malc0mn's 16 give the same for real values
_ISO_TEXT = re.compile(r"([slh]?)\s*(\d+)")


def format_iso(value: int) -> str:
    """0xFFFFFFFF "auto"; bit 31 "S6400"; bit 30 "L100" / "H12800"; else "320"."""
    if value == ISO_AUTO:
        return "auto"
    n = value & _ISO_VALUE
    flags = value & ~_ISO_VALUE
    if flags == _ISO_AUTO_MAX:
        return f"S{n}"
    if flags == _ISO_EXTENDED:
        return f"L{n}" if n < 200 else f"H{n}"
    if flags == 0:
        return str(n)
    return format_hex(value)


def parse_iso(text: str) -> int:
    """ "auto", "S6400", "L100", "H12800" or "320" → the 0xD02A value."""
    t = text.strip().lower()
    if t == "auto":
        return ISO_AUTO
    raw = parse_hex(t)
    if raw is not None:
        return raw
    m = _ISO_TEXT.fullmatch(t)
    if m is None or int(m.group(2)) > _ISO_VALUE:
        raise ValueError(f"unknown Fuji ISO {text!r}; expected auto, S6400, L100, H12800 or 320")
    flags = {"s": _ISO_AUTO_MAX, "l": _ISO_EXTENDED, "h": _ISO_EXTENDED, "": 0}[m.group(1)]
    return flags | int(m.group(2))


# --- shutter speed 0xD240 (§10.4, hkr) ------------------------------------------------------

SHUTTER_NONE = 0xFFFF_FFFF
_SUBSECOND = 0x8000_0000
_SHUTTER_MANTISSA = 0x7FFF_FFFF
_SHUTTER_NONE_TEXT = "bulb/----"


def _thousandths(n: int) -> str:
    whole, frac = divmod(n, 1000)
    return f"{whole}.{frac:03d}".rstrip("0").rstrip(".") if frac else str(whole)


def format_shutter(value: int) -> str:
    """Bit 31: 1/(N/1000) s → "1/250"; else N/1000 s → '2"'; 0xFFFFFFFF → "bulb/----"."""
    if value == SHUTTER_NONE:
        return _SHUTTER_NONE_TEXT
    n = value & _SHUTTER_MANTISSA
    if value & _SUBSECOND:
        return f"1/{_thousandths(n)}" if n else format_hex(value)
    return f'{_thousandths(n)}"'


def parse_shutter(text: str) -> int:
    """ "1/250", '2"', "2s", "0.5", "bulb" or "----" → the 0xD240 value."""
    t = text.strip().lower()
    if t in ("bulb", "----", _SHUTTER_NONE_TEXT):
        return SHUTTER_NONE
    raw = parse_hex(t)
    if raw is not None:
        return raw
    sub = t.startswith("1/")
    number = parse_fraction(t[2:] if sub else t.removesuffix('"').removesuffix("s"))
    if number is not None and number > 0:
        n = round(number * 1000)
        if 0 < n <= _SHUTTER_MANTISSA:
            return (_SUBSECOND | n) if sub else n
    raise ValueError(f'unknown Fuji shutter speed {text!r}; expected e.g. 1/250, 2", bulb')


# --- focus point 0xD17C (§10.5) ------------------------------------------------------------

#: Bytes 2 and 3 as observed (0x02, 0x03); their meaning is unknown.
FOCUS_POINT_HIGH = 0x0302_0000
_FOCUS_TEXT = re.compile(r"(\d+)\s*x\s*(\d+)")


def format_focus_point(value: int) -> str:
    """ "%dx%d" of (byte 1, byte 0): 0x03020702 → "7x2"."""
    return f"{(value >> 8) & 0xFF}x{value & 0xFF}"


def parse_focus_point(text: str, current: int | None = None) -> int:
    """ "7x2" → 0x03020702; bytes 2 and 3 come from ``current`` or are 0x02, 0x03."""
    m = _FOCUS_TEXT.fullmatch(text.strip().lower())
    if m is None or int(m.group(1)) > 0xFF or int(m.group(2)) > 0xFF:
        raise ValueError(f"unknown Fuji focus point {text!r}; expected XxY such as 7x2")
    high = FOCUS_POINT_HIGH if current is None else current & 0xFFFF_0000
    return high | int(m.group(1)) << 8 | int(m.group(2))


# --- exposure bias 0x5010 (INT16, 1/1000 EV) -----------------------------------------------


#: 0x5010 exposure bias, 1/1000 EV in thirds ("1 1/3", "-2/3"): malc0mn's style.
format_exposure_bias = format_milli_ev
parse_exposure_bias = parse_milli_ev
