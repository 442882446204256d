"""Fujifilm property formats, labels and short names, for :mod:`ptpip.props` (vendor-fuji.md §10,
malc0mn-cli.md §12)."""

from __future__ import annotations

import math

from ptpip.props.standard import (
    EXPOSURE_PROGRAM,
    FOCUS_MODE,
    Number,
    PropFormat,
    enum_format,
    plain,
    with_seconds,
    without_seconds,
)
from ptpip.ptp.codes import DataType
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.vendors.fuji import tables as fuji

__all__ = ["FORMATS", "LABELS", "UNIFIED"]

_U8, _U32 = DataType.UINT8, DataType.UINT32


def _fuji_iso_position(value: Number) -> float | None:
    if not isinstance(value, int) or value == fuji.ISO_AUTO:
        return None
    n = value & 0xFF_FFFF
    return math.log2(n) if n else None


def _fuji_shutter_position(value: Number) -> float | None:
    if not isinstance(value, int) or value == fuji.SHUTTER_NONE or value < 0:
        return None
    n = value & 0x7FFF_FFFF
    if not n:
        return None
    return math.log2(1000 / n) if value & 0x8000_0000 else math.log2(n / 1000)


_FUJI_ISO = PropFormat(fuji.format_iso, plain(fuji.parse_iso), _U32, _fuji_iso_position)
_FUJI_BATTERY = enum_format(fuji.BATTERY, "battery level")

FORMATS: dict[int, PropFormat] = {
    Prop.BATTERY_LEVEL: enum_format(fuji.BATTERY, "battery level", _U8),
    Prop.WHITE_BALANCE: enum_format(fuji.WHITE_BALANCE, "white balance"),
    Prop.FOCUS_MODE: enum_format(FOCUS_MODE | fuji.FOCUS_MODE, "focus mode"),
    Prop.FLASH_MODE: enum_format(fuji.FLASH, "flash mode"),
    Prop.EXPOSURE_PROGRAM_MODE: enum_format(
        EXPOSURE_PROGRAM | fuji.EXPOSURE_PROGRAM, "exposure program"
    ),
    Prop.CAPTURE_DELAY: enum_format(fuji.SELF_TIMER, "self-timer"),
    0xD001: enum_format(fuji.FILM_SIMULATION, "film simulation"),
    0xD018: enum_format(fuji.IMAGE_QUALITY, "image quality"),
    0xD028: enum_format(fuji.COMMAND_DIAL, "command dial mode"),
    0xD02A: _FUJI_ISO,
    0xD02B: _FUJI_ISO,
    0xD17C: PropFormat(fuji.format_focus_point, fuji.parse_focus_point, _U32),
    0xD209: enum_format(fuji.FOCUS_LOCK, "focus lock"),
    0xD240: PropFormat(
        with_seconds(fuji.format_shutter),
        without_seconds(fuji.parse_shutter),
        _U32,
        _fuji_shutter_position,
        snap=True,
    ),
    0xD241: enum_format(fuji.IMAGE_SIZE, "image size"),
    0xD242: _FUJI_BATTERY,
}

#: The seed CLI's Fuji labels (malc0mn-cli.md §12).
LABELS: dict[int, str] = {
    0xD001: "film simulation", 0xD018: "image quality", 0xD019: "rec mode",
    0xD028: "command dial mode", 0xD02A: "ISO", 0xD02B: "movie ISO", 0xD17C: "focus point",
    0xD209: "focus lock", 0xD21B: "device error", 0xD229: "captures remaining",
    0xD22A: "movie remaining time", 0xD240: "shutter speed", 0xD241: "image size",
    0xD242: "battery level", 0xDF01: "init sequence", 0xDF24: "app version",
}  # fmt: skip

#: The seed CLI's Fuji names (malc0mn-cli.md §9); the shutter speed is 0xD240 (its 0x500D
#: enumerates only {2, 300000, bulb}).
UNIFIED: dict[str, int] = {
    "effect": 0xD001,
    "focusmtr": 0xD17C,
    "iso": 0xD02A,
    "recmode": 0xD019,
    "shutterspeed": 0xD240,
}
