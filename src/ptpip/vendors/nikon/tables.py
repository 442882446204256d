"""Nikon property value tables and their text forms, both ways.

Sources (facts only; the labels are ours): libgphoto2 ``config.c`` (the white-balance, focus-mode,
compression, AF-mode and live-view tables, ``_get_Nikon_ShutterSpeed``, ``_get_ExpTime``,
``_get_ExpCompensation``), ``ptp.c`` (``ptp_property_meaning_NIKON``), ``library.c`` (the live-view
prohibit bits), ptp.h (property codes); INDIGO ``indigo_ptp_nikon.c`` (picture-control values);
digiCamControl's Nikon classes (0xD100 values, AF-F on Z bodies).

Value encodings:

- 0x5007 F-number: f × 100 (ptpip-standard.md §15).
- 0x500D ExposureTime: 1/10000 s, plus 0xFFFFFFFF bulb and 0xFFFFFFFD time on Nikon
  (``_get_ExpTime``'s Nikon branch); the text forms live in :mod:`ptpip.props.standard`.
- 0xD100 / 0xD1A8 Nikon shutter speed: ``u32`` numerator << 16 | denominator, in seconds;
  0xFFFFFFFF bulb, 0xFFFFFFFE "x 200" (flash sync), 0xFFFFFFFD time.
- 0x500F ExposureIndex: the ISO number (UINT16); 0xD0B4 ExposureIndexEx the same as UINT32
  (reaches Hi values above 65535). Nikon has no "auto" value: auto ISO is 0xD054 (on/off).
- 0x5010 ExposureBiasCompensation: INT16, 1/1000 EV.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction

from ptpip.vendors._text import (
    format_enum,
    format_hex,
    format_milli_ev,
    parse_fraction,
    parse_hex,
    parse_milli_ev,
)

__all__ = [
    "AF_MODE",
    "AUTO_ISO",
    "COMPRESSION",
    "COMPRESSION_LEGACY",
    "EXPOSURE_PROGRAM",
    "EXPOSURE_TIME_BULB",
    "EXPOSURE_TIME_TIME",
    "FOCUS_MODE",
    "LIVEVIEW_AF_FOCUS",
    "LIVEVIEW_PROHIBIT",
    "LIVEVIEW_SIZE",
    "PICTURE_CONTROL",
    "RECORDING_MEDIA",
    "SHUTTER_BULB",
    "SHUTTER_TIME",
    "SHUTTER_X_SYNC",
    "WHITE_BALANCE",
    "compression_table",
    "format_af_mode",
    "format_aperture",
    "format_auto_iso",
    "format_battery",
    "format_compression",
    "format_exposure_bias",
    "format_focus_mode",
    "format_iso",
    "format_liveview_prohibit",
    "format_picture_control",
    "format_shutter",
    "format_white_balance",
    "liveview_prohibit_reasons",
    "parse_af_mode",
    "parse_aperture",
    "parse_auto_iso",
    "parse_battery",
    "parse_compression",
    "parse_exposure_bias",
    "parse_focus_mode",
    "parse_iso",
    "parse_picture_control",
    "parse_shutter",
    "parse_white_balance",
    "shutter_seconds",
]

# --- enumerations ----------------------------------------------------------------------------

#: 0x5005 WhiteBalance: the ISO 15740 values, then Nikon's (libgphoto2 config.c).
WHITE_BALANCE: dict[int, str] = {
    0: "undefined", 1: "manual", 2: "automatic", 3: "one push automatic", 4: "daylight",
    5: "fluorescent", 6: "tungsten", 7: "flash",
    0x8010: "cloudy", 0x8011: "shade", 0x8012: "color temperature", 0x8013: "preset",
    0x8014: "off", 0x8016: "natural light auto",
}  # fmt: skip
#: Other names Nikon's menus and libgphoto2's labels use for the same values.
_WHITE_BALANCE_ALIASES: dict[str, int] = {
    "auto": 2, "awb": 2, "sunny": 4, "direct sunlight": 4, "incandescent": 6, "kelvin": 0x8012,
}  # fmt: skip

#: 0x500A FocusMode: ISO 15740, then Nikon's AF modes (libgphoto2 config.c ``focusmodes``;
#: 0x8013 AF-F also in digiCamControl's Z class).
FOCUS_MODE: dict[int, str] = {
    0: "undefined", 1: "manual", 2: "automatic", 3: "automatic macro",
    0x8010: "AF-S", 0x8011: "AF-C", 0x8012: "AF-A", 0x8013: "AF-F",
}  # fmt: skip

#: 0xD161 AutofocusMode (UINT8, libgphoto2 ``nikon_afmode``).
AF_MODE: dict[int, str] = {0: "AF-S", 1: "AF-C", 2: "AF-A", 3: "MF fixed", 4: "MF selection"}

#: 0xD061 LiveViewAFFocus (UINT8, libgphoto2 ``nikon_liveviewaffocus``).
LIVEVIEW_AF_FOCUS: dict[int, str] = {
    0: "AF-S", 1: "AF-C", 2: "AF-F", 3: "MF fixed", 4: "MF selection",
}  # fmt: skip

#: 0x5004 CompressionSetting (UINT8) on D500/D850/D7500/D780 and the Z bodies (libgphoto2
#: ``nikon_d850_compression``, which its Z menus use; the D7500/D780 lack 6). "*" marks
#: Nikon's optimal-quality JPEG compression.
COMPRESSION: dict[int, str] = {
    0: "JPEG basic", 1: "JPEG basic*", 2: "JPEG normal", 3: "JPEG normal*", 4: "JPEG fine",
    5: "JPEG fine*", 6: "TIFF", 7: "RAW", 8: "RAW + JPEG basic", 9: "RAW + JPEG basic*",
    10: "RAW + JPEG normal", 11: "RAW + JPEG normal*", 12: "RAW + JPEG fine",
    13: "RAW + JPEG fine*",
}  # fmt: skip

#: 0x5004 on older D-series bodies (libgphoto2 ``compressionsetting`` / ``nikon_d90_compression``;
#: 3 TIFF from ``nikon_d3s_compression``). The D40 numbers differently (3 RAW, 4 RAW + basic).
COMPRESSION_LEGACY: dict[int, str] = {
    0: "JPEG basic", 1: "JPEG normal", 2: "JPEG fine", 3: "TIFF", 4: "RAW",
    5: "RAW + JPEG basic", 6: "RAW + JPEG normal", 7: "RAW + JPEG fine",
}  # fmt: skip

#: 0xD200 ActivePicCtrlItem, the Picture Control (INDIGO; 201–209 the custom slots).
PICTURE_CONTROL: dict[int, str] = {
    0: "undefined", 1: "standard", 2: "neutral", 3: "vivid", 4: "monochrome", 5: "portrait",
    6: "landscape", 7: "flat",
    **{200 + n: f"custom {n}" for n in range(1, 10)},
}  # fmt: skip

#: 0xD054 ISOAuto / 0xD16A (UINT8): libgphoto2 reads any non-zero value as on.
AUTO_ISO: dict[int, str] = {0: "off", 1: "on"}

#: 0x500E ExposureProgramMode, the values every Nikon table in libgphoto2 agrees on (0x8016 and
#: 0x8018 differ between bodies and are left out).
EXPOSURE_PROGRAM: dict[int, str] = {
    1: "M", 2: "P", 3: "A", 4: "S",
    0x8010: "auto", 0x8011: "portrait", 0x8012: "landscape", 0x8013: "close up",
    0x8014: "sports", 0x8015: "night portrait", 0x8017: "child",
    0x8050: "U1", 0x8051: "U2", 0x8052: "U3",
}  # fmt: skip

#: 0xD1AC LiveViewImageSize (UINT8, libgphoto2 ``nikon_liveviewsize``).
LIVEVIEW_SIZE: dict[int, str] = {1: "QVGA", 2: "VGA", 3: "XGA"}

#: 0xD10B RecordingMedia (UINT8, libgphoto2 ``nikon_recordingmedia``).
RECORDING_MEDIA: dict[int, str] = {0: "card", 1: "SDRAM"}

#: 0xD1A4 LiveViewProhibitCondition (UINT32) bits → reason (libgphoto2 library.c, the checks
#: before StartLiveView; bit 24 "lens is retracting" is the one libgphoto2 ignores).
LIVEVIEW_PROHIBIT: dict[int, str] = {
    2: "sequence error", 4: "fully pressed button", 5: "minimum aperture warning",
    8: "battery exhausted", 9: "TTL error", 12: "pending unretrieved SDRAM image",
    14: "recording destination card missing or protected", 15: "processing a shot",
    17: "temperature too high", 18: "card protected", 19: "card error", 20: "card unformatted",
    21: "bulb warning", 22: "in mirror-up operation", 24: "lens is retracting",
    31: "exposure program is not P/A/S/M",
}  # fmt: skip


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


def _parse_table(
    table: Mapping[int, str], text: str, what: str, aliases: Mapping[str, int] | None = None
) -> int:
    """A label (any case; spaces, "-" and "_" ignored), an alias, or a ``0x`` literal."""
    wanted = _fold(text)
    for code, label in table.items():
        if _fold(label) == wanted:
            return code
    for alias, code in (aliases or {}).items():
        if _fold(alias) == wanted:
            return code
    raw = parse_hex(text)
    if raw is not None:
        return raw
    choices = ", ".join(repr(label) for label in dict.fromkeys(table.values()))
    raise ValueError(f"unknown {what} {text.strip()!r}; valid values: {choices}")


def format_white_balance(code: int) -> str:
    return format_enum(WHITE_BALANCE, code)


def parse_white_balance(text: str) -> int:
    """A white-balance label or alias ("auto", "incandescent", "sunny") → the 0x5005 value."""
    return _parse_table(WHITE_BALANCE, text, "white balance", _WHITE_BALANCE_ALIASES)


def format_focus_mode(code: int) -> str:
    return format_enum(FOCUS_MODE, code)


def parse_focus_mode(text: str) -> int:
    return _parse_table(FOCUS_MODE, text, "focus mode", {"MF": 1, "AF": 2})


def format_af_mode(code: int) -> str:
    return format_enum(AF_MODE, code)


def parse_af_mode(text: str) -> int:
    return _parse_table(AF_MODE, text, "AF mode")


def compression_table(model: str = "") -> dict[int, str]:
    """The 0x5004 table for a DeviceInfo Model: the legacy one for D-series bodies older than
    the D500/D850 generation, else :data:`COMPRESSION` (Z bodies, D500, D780, D850, D7500)."""
    m = model.strip().upper().removeprefix("NIKON ").strip()
    modern = ("Z", "D500", "D780", "D850", "D7500", "D6")
    if not m or m.startswith(modern) or not m.startswith("D"):
        return COMPRESSION
    return COMPRESSION_LEGACY


def format_compression(code: int, table: Mapping[int, str] = COMPRESSION) -> str:
    return format_enum(table, code)


def parse_compression(text: str, table: Mapping[int, str] = COMPRESSION) -> int:
    """ "JPEG fine*", "raw + jpeg fine", "NEF" → the 0x5004 value ("NEF" means RAW)."""
    t = re.sub(r"nef(\s*\(raw\))?", "RAW", text.strip(), flags=re.IGNORECASE)
    return _parse_table(table, t, "image quality")


def format_picture_control(code: int) -> str:
    return format_enum(PICTURE_CONTROL, code)


def parse_picture_control(text: str) -> int:
    return _parse_table(PICTURE_CONTROL, text, "picture control")


def format_auto_iso(code: int) -> str:
    return format_enum(AUTO_ISO, code)


def parse_auto_iso(text: str) -> int:
    return _parse_table(AUTO_ISO, text, "auto ISO setting", {"true": 1, "false": 0})


def liveview_prohibit_reasons(value: int) -> list[str]:
    """The reasons set in a 0xD1A4 value, lowest bit first; unknown bits as "bit N"."""
    return [LIVEVIEW_PROHIBIT.get(bit, f"bit {bit}") for bit in range(32) if value >> bit & 1]


def format_liveview_prohibit(value: int) -> str:
    """0 → "none"; else the reasons joined with ", "."""
    return ", ".join(liveview_prohibit_reasons(value)) if value else "none"


# --- numbers ---------------------------------------------------------------------------------


def _decimal(value: Fraction) -> str:
    """A finite decimal without trailing zeros: 5.6, 8, 0.25."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6f}".rstrip("0").rstrip(".")


def _exact_decimal(value: Fraction) -> bool:
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    return d == 1


def format_aperture(value: int) -> str:
    """0x5007 f × 100 → "5.6", "8", "11"; 0 and 0xFFFF (no aperture) as hex."""
    if value in (0, 0xFFFF) or value < 0:
        return format_hex(value) if value >= 0 else str(value)
    return _decimal(Fraction(value, 100))


def parse_aperture(text: str) -> int:
    """ "f/5.6", "F8", "5.6" → f × 100 (rounded half to even)."""
    t = text.strip().lower().removeprefix("f/").removeprefix("f").strip()
    raw = parse_hex(t)
    if raw is not None:
        return raw
    value = parse_fraction(t)
    if value is None or value <= 0:
        raise ValueError(f"cannot read {text.strip()!r} as an F-number; expected e.g. f/5.6")
    n = round(value * 100)
    if not 0 < n <= 0xFFFF:
        raise ValueError(f"F-number {text.strip()!r} is out of range")
    return n


def format_iso(value: int) -> str:
    """0x500F / 0xD0B4 / 0xD1AA: the ISO number as it is ("800", "72000")."""
    return str(value)


def parse_iso(text: str) -> int:
    """ "800", "ISO 800" → 800. "auto" is not an ISO value on Nikon (use 0xD054)."""
    t = text.strip().lower().removeprefix("iso").strip()
    if t == "auto":
        raise ValueError("Nikon ISO has no auto value; turn auto ISO on instead (autoiso on)")
    raw = parse_hex(t)
    if raw is not None:
        return raw
    if not t.isdigit() or not 0 < int(t) <= 0xFFFF_FFFF:
        raise ValueError(f"cannot read {text.strip()!r} as an ISO speed; expected e.g. 800")
    return int(t)


def format_battery(value: int) -> str:
    """0x5001 battery level in percent: "80%"."""
    return f"{value}%"


def parse_battery(text: str) -> int:
    t = text.strip().removesuffix("%").strip()
    if not t.isdigit() or int(t) > 0xFF:
        raise ValueError(f"cannot read {text.strip()!r} as a battery level; expected e.g. 80%")
    return int(t)


def format_exposure_bias(value: int) -> str:
    """1/1000 EV → "+1/3", "-2/3", "0", "+0.5" (a zero-extended INT16 reads as negative)."""
    text = format_milli_ev(value)
    return f"+{text}" if text[0].isdigit() and text != "0" else text


def parse_exposure_bias(text: str) -> int:
    """ "+1/3", "-2/3", "1 1/3", "0.5 EV" → 1/1000 EV (signed)."""
    return parse_milli_ev(text.strip().lower().removesuffix("ev").strip())


# --- shutter speed 0xD100 / 0xD1A8 -----------------------------------------------------------

SHUTTER_BULB = 0xFFFF_FFFF
SHUTTER_X_SYNC = 0xFFFF_FFFE  # libgphoto2 "x 200"
SHUTTER_TIME = 0xFFFF_FFFD
#: 0x500D ExposureTime's special values on Nikon (libgphoto2 ``_get_ExpTime``).
EXPOSURE_TIME_BULB = 0xFFFF_FFFF
EXPOSURE_TIME_TIME = 0xFFFF_FFFD

_SHUTTER_SPECIAL: dict[int, str] = {
    SHUTTER_BULB: "bulb",
    SHUTTER_X_SYNC: "x200",
    SHUTTER_TIME: "time",
}
_SHUTTER_ALIASES: dict[str, int] = {
    "bulb": SHUTTER_BULB, "time": SHUTTER_TIME, "x200": SHUTTER_X_SYNC, "x 200": SHUTTER_X_SYNC,
    "flash sync": SHUTTER_X_SYNC, "sync": SHUTTER_X_SYNC,
}  # fmt: skip
_SECONDS_SUFFIX = re.compile(r'\s*(?:s|sec|secs|seconds?|")$')


def shutter_seconds(value: int) -> Fraction | None:
    """The exposure of a 0xD100 value in seconds, or None for bulb/time/x200 and zero parts."""
    if value in _SHUTTER_SPECIAL or value < 0:
        return None
    num, den = value >> 16, value & 0xFFFF
    return Fraction(num, den) if num and den else None


def format_shutter(value: int) -> str:
    """0xD100 → "1/250", "1/2.5", '2.5"', '30"', "bulb", "time", "x200"; other fractions
    as "num/den" so that every value reads back to itself."""
    special = _SHUTTER_SPECIAL.get(value)
    if special is not None:
        return special
    if not 0 < value <= 0xFFFF_FFFF:
        return format_hex(value) if value >= 0 else str(value)
    num, den = value >> 16, value & 0xFFFF
    if not num or not den:
        return format_hex(value)
    if den == 1:
        return f'{num}"'
    if num == 1:
        return f"1/{den}"
    if den == 10 and num % 10:
        return f'{_decimal(Fraction(num, 10))}"'
    if num == 10 and den % 10:
        return f"1/{_decimal(Fraction(den, 10))}"
    return f"{num}/{den}"


def _ratio(value: Fraction, what: str, text: str) -> tuple[int, int]:
    """A decimal such as 2.5 as (25, 10): the numerator and a power-of-ten denominator."""
    if not _exact_decimal(value):
        raise ValueError(f"cannot write {text!r} as a {what}")
    den = 1
    while (value * den).denominator != 1:
        den *= 10
    return int(value * den), den


def parse_shutter(text: str) -> int:
    """ "1/250", "1/2.5", '2.5"', "2.5s", "30", "13/10", "bulb", "time", "x200" → 0xD100."""
    t = " ".join(text.strip().lower().split())
    if t in _SHUTTER_ALIASES:
        return _SHUTTER_ALIASES[t]
    raw = parse_hex(t)
    if raw is not None:
        return raw
    t = _SECONDS_SUFFIX.sub("", t).strip()
    num: int | None = None
    den: int | None = None
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)", t)
    try:
        if m is not None and "." not in m.group(2):
            num, den = int(m.group(1)), int(m.group(2))
        elif m is not None and m.group(1) == "1":
            # "1/2.5" is 10/25: the camera's own spelling of a fractional reciprocal
            dnum, dden = _ratio(Fraction(m.group(2)), "shutter speed", text)
            num, den = dden, dnum
        else:
            value = parse_fraction(t)
            if value is not None and value > 0:
                num, den = _ratio(value, "shutter speed", text)
    except ValueError:
        num = den = None
    if num is not None and den is not None and 0 < num <= 0xFFFF and 0 < den <= 0xFFFF:
        return num << 16 | den
    raise ValueError(f"unknown shutter speed {text.strip()!r}; expected e.g. 1/250, 2.5s, bulb")
