"""Canon EOS property value tables (vendor-canon.md §10) and their text forms, both ways.

Codes are APEX-style × 8: +3 and +5 are third stops, +4 a half stop. Where two codes share a
label (a third-stop and a half-stop code), parsing picks the third-stop code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from ptpip.vendors._text import (
    format_enum,
    nearby,
    parse_enum,
    parse_fraction,
    parse_hex,
    pick_nearest,
)

__all__ = [
    "AE_MODE",
    "APERTURE",
    "CAPTURE_DESTINATION",
    "EVF_MODE",
    "EVF_OUTPUT",
    "EXP_COMPENSATION",
    "EXP_COMPENSATION_EV",
    "IMAGE_COMPRESSION",
    "IMAGE_KIND",
    "IMAGE_SIZE",
    "ISO",
    "SHUTTER",
    "format_ae_mode",
    "format_aperture",
    "format_capture_destination",
    "format_evf_output",
    "format_exp_compensation",
    "format_iso",
    "format_shutter",
    "parse_ae_mode",
    "parse_aperture",
    "parse_capture_destination",
    "parse_evf_output",
    "parse_exp_compensation",
    "parse_iso",
    "parse_shutter",
    "signed_exp_compensation",
]

#: 0xD101 Aperture, §10.2: f = √2^((code − 8)/8).
APERTURE: dict[int, str] = {
    0x00: "implicit auto",
    0x08: "1.0", 0x0B: "1.1", 0x0C: "1.2", 0x0D: "1.2", 0x10: "1.4", 0x13: "1.6", 0x14: "1.8",
    0x15: "1.8", 0x18: "2.0", 0x1B: "2.2", 0x1C: "2.5", 0x1D: "2.5", 0x20: "2.8", 0x23: "3.2",
    0x24: "3.5", 0x25: "3.5", 0x28: "4.0", 0x2B: "4.5", 0x2C: "4.5", 0x2D: "5.0", 0x30: "5.6",
    0x33: "6.3", 0x34: "6.7", 0x35: "7.1", 0x38: "8", 0x3B: "9", 0x3C: "9.5", 0x3D: "10",
    0x40: "11", 0x43: "13", 0x44: "13", 0x45: "14", 0x48: "16", 0x4B: "18", 0x4C: "19",
    0x4D: "20", 0x50: "22", 0x53: "25", 0x54: "27", 0x55: "29", 0x58: "32", 0x5B: "36",
    0x5C: "38", 0x5D: "40", 0x60: "45", 0x63: "51", 0x64: "54", 0x65: "57", 0x68: "64",
    0x6B: "72", 0x6C: "76", 0x6D: "81", 0x70: "91",
    0xB0: "auto", 0xFFFF: "auto",
}  # fmt: skip

#: 0xD102 ShutterSpeed, §10.3: t = 2^−((code − 0x38)/8) s.
SHUTTER: dict[int, str] = {
    0x00: "auto", 0x04: "bulb", 0x0C: "bulb",
    0x10: '30"', 0x13: '25"', 0x14: '20"', 0x15: '20"', 0x18: '15"', 0x1B: '13"', 0x1C: '10"',
    0x1D: '10"', 0x20: '8"', 0x23: '6"', 0x24: '6"', 0x25: '5"', 0x28: '4"', 0x2B: '3.2"',
    0x2C: '3"', 0x2D: '2.5"', 0x30: '2"', 0x33: '1.6"', 0x34: '1.5"', 0x35: '1.3"', 0x38: '1"',
    0x3B: '0.8"', 0x3C: '0.7"', 0x3D: '0.6"', 0x40: '0.5"', 0x43: '0.4"', 0x44: '0.3"',
    0x45: '0.3"', 0x48: "1/4", 0x4B: "1/5", 0x4C: "1/6", 0x4D: "1/6", 0x50: "1/8", 0x53: "1/10",
    0x54: "1/10", 0x55: "1/13", 0x58: "1/15", 0x5B: "1/20", 0x5C: "1/20", 0x5D: "1/25",
    0x60: "1/30", 0x63: "1/40", 0x64: "1/45", 0x65: "1/50", 0x68: "1/60", 0x6B: "1/80",
    0x6C: "1/90", 0x6D: "1/100", 0x70: "1/125", 0x73: "1/160", 0x74: "1/180", 0x75: "1/200",
    0x78: "1/250", 0x7B: "1/320", 0x7C: "1/350", 0x7D: "1/400", 0x80: "1/500", 0x83: "1/640",
    0x84: "1/750", 0x85: "1/800", 0x88: "1/1000", 0x8B: "1/1250", 0x8C: "1/1500",
    0x8D: "1/1600", 0x90: "1/2000", 0x93: "1/2500", 0x94: "1/3000", 0x95: "1/3200",
    0x98: "1/4000", 0x9B: "1/5000", 0x9C: "1/6000", 0x9D: "1/6400", 0xA0: "1/8000",
    0xA8: "1/16000",
}  # fmt: skip

#: 0xD103 ISOSpeed, §10.4: ISO = 100 · 2^((code − 0x48)/8). 0x01 is "Auto ISO" on some bodies.
ISO: dict[int, str] = {
    0x00: "auto", 0x01: "auto",
    0x28: "6", 0x30: "12", 0x38: "25", 0x40: "50", 0x43: "64", 0x45: "80", 0x48: "100",
    0x4B: "125", 0x4D: "160", 0x50: "200", 0x53: "250", 0x55: "320", 0x58: "400", 0x5B: "500",
    0x5D: "640", 0x60: "800", 0x63: "1000", 0x65: "1250", 0x68: "1600", 0x6B: "2000",
    0x6D: "2500", 0x70: "3200", 0x73: "4000", 0x75: "5000", 0x78: "6400", 0x7B: "8000",
    0x7D: "10000", 0x80: "12800", 0x83: "16000", 0x85: "20000", 0x88: "25600", 0x8B: "32000",
    0x8D: "40000", 0x90: "51200", 0x93: "64000", 0x95: "80000", 0x98: "102400", 0xA0: "204800",
    0xA8: "409600", 0xB0: "819200",
}  # fmt: skip

# §10.5: per stop n, +n = 8n, +n⅓ = 8n+3, +n½ = 8n+4, +n⅔ = 8n+5 (UINT8 two's complement).
_EV_FRACTIONS: dict[int, Fraction] = {0: Fraction(0), 3: Fraction(1, 3), 4: Fraction(1, 2),
                                      5: Fraction(2, 3)}  # fmt: skip
_EV_STEPS: dict[int, Fraction] = {
    8 * n + k: n + f for n in range(5) for k, f in _EV_FRACTIONS.items()
} | {40: Fraction(5)}


def _ev_text(ev: Fraction) -> str:
    if ev == 0:
        return "0"
    sign = "+" if ev > 0 else "-"
    whole, frac = divmod(abs(ev), 1)
    parts = [str(whole)] if whole else []
    if frac:
        parts.append(f"{frac.numerator}/{frac.denominator}")
    return sign + " ".join(parts)


#: 0xD104 ExpCompensation code → EV (exact thirds and halves, ±5 EV), §10.5.
EXP_COMPENSATION_EV: dict[int, Fraction] = {
    (sign * eighths) & 0xFF: sign * ev for eighths, ev in _EV_STEPS.items() for sign in (1, -1)
}
#: 0xD104 ExpCompensation code → text ("0", "+1/3", "-2/3", "+1 1/3").
EXP_COMPENSATION: dict[int, str] = {code: _ev_text(ev) for code, ev in EXP_COMPENSATION_EV.items()}

#: 0xD105 AutoExposureMode / 0xD138 AEModeDial, §10.6 (0x2D: libgphoto2's name; unverified).
AE_MODE: dict[int, str] = {
    0x00: "P", 0x01: "Tv", 0x02: "Av", 0x03: "M", 0x04: "Bulb", 0x05: "A-DEP", 0x06: "DEP",
    0x07: "C1", 0x08: "Lock", 0x09: "Green", 0x0A: "Night Portrait", 0x0B: "Sports",
    0x0C: "Portrait", 0x0D: "Landscape", 0x0E: "Close-up", 0x0F: "Flash Off", 0x10: "C2",
    0x11: "C3", 0x13: "Creative Auto", 0x14: "Movie", 0x16: "Auto (A+)", 0x19: "SCN",
    0x2D: "Panning", 0x31: "HDR", 0x37: "Fv",
}  # fmt: skip

#: 0xD11C CaptureDestination, §10.8.
CAPTURE_DESTINATION: dict[int, str] = {1: "storage 1", 2: "card", 4: "host", 6: "host + card"}

#: 0xD1B0 EVFOutputDevice (bitmask), §10.7.
EVF_OUTPUT: dict[int, str] = {
    0: "none", 1: "camera TFT", 2: "PC", 3: "TFT + PC", 4: "mobile", 8: "mobile2",
}  # fmt: skip

#: 0xD1B1 EVFMode, §10.7.
EVF_MODE: dict[int, str] = {0: "off", 1: "on"}

#: ImageFormat entry fields, §10.9.
IMAGE_KIND: dict[int, str] = {1: "JPEG", 6: "RAW"}
IMAGE_SIZE: dict[int, str] = {0: "L", 1: "M", 2: "S", 0xE: "S1", 0xF: "S2", 0x10: "S3"}
IMAGE_COMPRESSION: dict[int, str] = {2: "Normal", 3: "Fine", 4: "Lossless"}

_THIRD_STOP = (0, 3, 5)


def _preferred_first(table: Mapping[int, str]) -> list[int]:
    """Codes in table order, third-stop codes before half-stop codes with the same label."""
    return sorted(table, key=lambda c: 0 if c % 8 in _THIRD_STOP else 1)


def _numeric(
    table: Mapping[int, str], value_of: dict[int, float]
) -> tuple[list[tuple[int, float]], list[tuple[str, float]]]:
    order = _preferred_first(table)
    candidates = [(c, value_of[c]) for c in order if c in value_of]
    labelled = [(table[c], value_of[c]) for c in order if c in value_of]
    return candidates, labelled


def _parse_numeric(
    table: Mapping[int, str],
    text: str,
    value: float | None,
    *,
    value_of: dict[int, float],
    specials: Mapping[str, int],
    what: str,
    stops_per_log2: float = 1.0,
) -> int:
    t = " ".join(text.strip().lower().split())
    if t in specials:
        return specials[t]
    for code in _preferred_first(table):
        if table[code].lower() == t:  # an exact label beats a numeric match
            return code
    raw = parse_hex(t)
    if raw is not None:
        return raw
    candidates, labelled = _numeric(table, value_of)
    if value is not None:
        # a third of a stop either way reaches the neighbouring third-stop value
        nearest = pick_nearest(candidates, value, tolerance=1 / 3 / stops_per_log2)
        if nearest is not None:
            return nearest
    raise ValueError(f"unknown {what} {text!r}; nearby valid values: {nearby(labelled, value)}")


def _as_float(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


_APERTURE_VALUE = {c: float(t) for c, t in APERTURE.items() if t[0].isdigit()}


def format_aperture(code: int) -> str:
    """Canon aperture code → f-number text ("5.6"); unknown codes as hex."""
    return format_enum(APERTURE, code)


def parse_aperture(text: str) -> int:
    """ "5.6", "f/5.6", "F5.6" or "auto" → the Canon aperture code."""
    t = text.strip().lower().removeprefix("f/").removeprefix("f").strip()
    # an f-number is √2 per stop: one stop is half a log2 step
    return _parse_numeric(
        APERTURE,
        text,
        _as_float(t),
        value_of=_APERTURE_VALUE,
        specials={"auto": 0xB0},
        what="aperture",
        stops_per_log2=2.0,
    )


def _shutter_seconds(label: str) -> float | None:
    if label.endswith('"'):
        return float(label[:-1])
    if label.startswith("1/"):
        return 1 / float(label[2:])
    return None


_SHUTTER_VALUE = {
    c: s for c, s in ((c, _shutter_seconds(t)) for c, t in SHUTTER.items()) if s is not None
}


def format_shutter(code: int) -> str:
    """Canon shutter code → "1/250", '2.5"', "bulb" or "auto"; unknown codes as hex."""
    return format_enum(SHUTTER, code)


def parse_shutter(text: str) -> int:
    """ "1/125", '2.5"', "2.5s", "2.5", "bulb" or "auto" → the Canon shutter code."""
    t = text.strip().lower()
    seconds: float | None = None
    if t.startswith("1/"):
        denominator = _as_float(t[2:].removesuffix("s").strip())
        seconds = 1 / denominator if denominator else None
    else:
        seconds = _as_float(t.removesuffix('"').removesuffix("s").strip())
    return _parse_numeric(
        SHUTTER,
        text,
        seconds,
        value_of=_SHUTTER_VALUE,
        specials={"bulb": 0x0C, "auto": 0x00},
        what="shutter speed",
    )


_ISO_VALUE = {c: float(t) for c, t in ISO.items() if t.isdigit()}


def format_iso(code: int) -> str:
    """Canon ISO code → "3200" or "auto"; unknown codes as hex."""
    return format_enum(ISO, code)


def parse_iso(text: str) -> int:
    """ "800", "ISO 800" or "auto" → the Canon ISO code."""
    t = text.strip().lower().removeprefix("iso").strip()
    return _parse_numeric(
        ISO, text, _as_float(t), value_of=_ISO_VALUE, specials={"auto": 0x00}, what="ISO"
    )


def format_exp_compensation(code: int) -> str:
    """Canon 0xD104 code (UINT8 two's complement, 1/8 EV) → "+1 1/3", "-2/3", "0"."""
    return format_enum(EXP_COMPENSATION, code & 0xFF)


def parse_exp_compensation(text: str) -> int:
    """ "+1/3", "-2/3", "1 1/3", "0" or "-0.5" → the Canon 0xD104 code (0…0xFF)."""
    raw = parse_hex(text)
    if raw is not None:
        return raw
    ev = parse_fraction(text)
    if ev is not None:
        for code, step in EXP_COMPENSATION_EV.items():
            if step == ev:
                return code
        # nearest table step within 1/6 EV (half the distance between thirds)
        best = min(EXP_COMPENSATION_EV.items(), key=lambda item: abs(item[1] - ev))
        if abs(best[1] - ev) <= Fraction(1, 6):
            return best[0]
    near = sorted(EXP_COMPENSATION_EV.items(), key=lambda item: abs(item[1] - (ev or 0)))[:4]
    choices = ", ".join(EXP_COMPENSATION[code] for code, _ in near)
    raise ValueError(f"unknown exposure compensation {text!r}; nearby valid values: {choices}")


def signed_exp_compensation(code: int) -> int:
    """The 0xD104 value's low byte as signed eighths of an EV (0xFD → −3)."""
    low = code & 0xFF
    return low - 0x100 if low & 0x80 else low


def format_ae_mode(code: int) -> str:
    return format_enum(AE_MODE, code)


def parse_ae_mode(text: str) -> int:
    return parse_enum(AE_MODE, text, "exposure mode")


def format_capture_destination(code: int) -> str:
    return format_enum(CAPTURE_DESTINATION, code)


def parse_capture_destination(text: str) -> int:
    return parse_enum(CAPTURE_DESTINATION, text, "capture destination")


def format_evf_output(code: int) -> str:
    return format_enum(EVF_OUTPUT, code)


def parse_evf_output(text: str) -> int:
    return parse_enum(EVF_OUTPUT, text, "EVF output")
