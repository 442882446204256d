"""Nikon property formats, labels and short names, for :mod:`ptpip.props` (libgphoto2
``config.c``, ptp.h; values in :mod:`ptpip.vendors.nikon.tables`).

Nikon keeps the standard codes for the exposure controls: ISO 0x500F, F-number 0x5007,
exposure time 0x500D (1/10000 s, plus bulb and time), exposure bias 0x5010 (1/1000 EV) and
white balance 0x5005 (plus Nikon's values). Its own 0xD100 shutter speed (a fraction) is
"shutterspeed2", as in libgphoto2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from ptpip.props.standard import (
    EXPOSURE_PROGRAM,
    STANDARD,
    Number,
    PropFormat,
    enum_format,
    format_exposure_time,
    parse_exposure_time,
    plain,
    with_f,
    with_seconds,
    without_seconds,
)
from ptpip.ptp.codes import DataType
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.vendors.nikon import tables as nikon
from ptpip.vendors.nikon.codes import NikonProperty as NP

__all__ = ["FORMATS", "LABELS", "UNIFIED"]

_U8, _U16, _U32 = DataType.UINT8, DataType.UINT16, DataType.UINT32


def _table_format(
    table: Mapping[int, str],
    format_: Callable[[int], str],
    parse: Callable[[str], int],
    datatype: int,
) -> PropFormat:
    """An enumeration with the dialect's own parser (aliases) and the table for listings."""
    return PropFormat(format_, plain(parse), datatype, table=table)


# --- exposure time 0x500D: the standard text plus Nikon's "time" ---------------------------


def _format_exposure_time(value: int) -> str:
    return "time" if value == nikon.EXPOSURE_TIME_TIME else format_exposure_time(value)


def _parse_exposure_time(text: str, current: int | None = None) -> Number:
    if text.strip().lower() == "time":
        return nikon.EXPOSURE_TIME_TIME
    return parse_exposure_time(text, current)


def _exposure_position(value: Number) -> float | None:
    specials = (nikon.EXPOSURE_TIME_BULB, nikon.EXPOSURE_TIME_TIME)
    return math.log2(value) if value > 0 and value not in specials else None


# --- positions (stops) for nearest-value matching -------------------------------------------


def _shutter_position(value: Number) -> float | None:
    seconds = nikon.shutter_seconds(value) if isinstance(value, int) else None
    return math.log2(seconds) if seconds else None


def _aperture_position(value: Number) -> float | None:
    return 2 * math.log2(value) if value > 0 and value != 0xFFFF else None


def _iso_position(value: Number) -> float | None:
    return math.log2(value) if value > 0 else None


_SHUTTER = PropFormat(
    with_seconds(nikon.format_shutter),
    without_seconds(nikon.parse_shutter),
    _U32,
    _shutter_position,
    snap=True,
)
_APERTURE = PropFormat(
    with_f(nikon.format_aperture), plain(nikon.parse_aperture), _U16, _aperture_position, snap=True
)
_AUTO_ISO = _table_format(nikon.AUTO_ISO, nikon.format_auto_iso, nikon.parse_auto_iso, _U8)
_BIAS = STANDARD[Prop.EXPOSURE_BIAS_COMPENSATION]


def _iso(datatype: int) -> PropFormat:
    return PropFormat(
        nikon.format_iso, plain(nikon.parse_iso), datatype, _iso_position, linear=True
    )


def _parse_prohibit(text: str, current: int | None = None) -> int:
    if text.strip().lower() == "none":
        return 0
    raise ValueError("the live-view prohibit condition is read-only")


FORMATS: dict[int, PropFormat] = {
    Prop.BATTERY_LEVEL: PropFormat(
        nikon.format_battery,
        plain(nikon.parse_battery),
        _U8,
        STANDARD[Prop.BATTERY_LEVEL].position,
        linear=True,
    ),
    Prop.COMPRESSION_SETTING: _table_format(
        nikon.COMPRESSION, nikon.format_compression, nikon.parse_compression, _U8
    ),
    Prop.WHITE_BALANCE: _table_format(
        nikon.WHITE_BALANCE, nikon.format_white_balance, nikon.parse_white_balance, _U16
    ),
    Prop.F_NUMBER: _APERTURE,
    Prop.FOCUS_MODE: _table_format(
        nikon.FOCUS_MODE, nikon.format_focus_mode, nikon.parse_focus_mode, _U16
    ),
    Prop.EXPOSURE_TIME: PropFormat(
        _format_exposure_time, _parse_exposure_time, _U32, _exposure_position, snap=True
    ),
    Prop.EXPOSURE_PROGRAM_MODE: enum_format(
        EXPOSURE_PROGRAM | nikon.EXPOSURE_PROGRAM, "exposure program"
    ),
    Prop.EXPOSURE_INDEX: _iso(_U16),
    Prop.EXPOSURE_BIAS_COMPENSATION: _BIAS,
    NP.ISO_AUTO: _AUTO_ISO,
    NP.ISO_AUTO_2: _AUTO_ISO,
    NP.EXPOSURE_INDEX_EX: _iso(_U32),
    NP.LIVE_VIEW_AF_FOCUS: enum_format(nikon.LIVEVIEW_AF_FOCUS, "live-view AF mode", _U8),
    NP.NIKON_EXPOSURE_TIME: _SHUTTER,
    NP.RECORDING_MEDIA: enum_format(nikon.RECORDING_MEDIA, "recording media", _U8),
    NP.AUTOFOCUS_MODE: _table_format(nikon.AF_MODE, nikon.format_af_mode, nikon.parse_af_mode, _U8),
    NP.LIVE_VIEW_PROHIBIT_CONDITION: PropFormat(
        nikon.format_liveview_prohibit, _parse_prohibit, _U32
    ),
    NP.MOVIE_SHUTTER_SPEED: _SHUTTER,
    NP.MOVIE_F_NUMBER: _APERTURE,
    NP.MOVIE_ISO: _iso(_U32),
    NP.MOVIE_EXPOSURE_BIAS_COMPENSATION: _BIAS,
    NP.LIVE_VIEW_IMAGE_SIZE: enum_format(nikon.LIVEVIEW_SIZE, "live-view size", _U8),
    NP.LIVE_VIEW_STATUS: enum_format({0: "off", 1: "on"}, "live-view status", _U8),
    NP.ACTIVE_PIC_CTRL_ITEM: _table_format(
        nikon.PICTURE_CONTROL, nikon.format_picture_control, nikon.parse_picture_control, _U8
    ),
}

#: Short labels for the Nikon codes the CLI shows most.
LABELS: dict[int, str] = {
    0x5004: "image quality", 0xD054: "auto ISO", 0xD061: "live-view AF mode",
    0xD0B4: "ISO (extended)", 0xD100: "shutter speed", 0xD10B: "recording media",
    0xD161: "AF mode", 0xD16A: "auto ISO 2", 0xD1A2: "live-view status",
    0xD1A4: "live-view prohibit condition", 0xD1A8: "movie shutter speed",
    0xD1A9: "movie F-number", 0xD1AA: "movie ISO", 0xD1AB: "movie exposure compensation",
    0xD1AC: "live-view size", 0xD1F1: "available shots", 0xD200: "picture control",
}  # fmt: skip

#: Nikon's short names beyond the generic ones ("shutterspeed" stays 0x500D, as in libgphoto2).
UNIFIED: dict[str, int] = {
    "autoiso": NP.ISO_AUTO,
    "focusmode": Prop.FOCUS_MODE,
    "imagequality": Prop.COMPRESSION_SETTING,
    "picturecontrol": NP.ACTIVE_PIC_CTRL_ITEM,
    "shutterspeed2": NP.NIKON_EXPOSURE_TIME,
}
