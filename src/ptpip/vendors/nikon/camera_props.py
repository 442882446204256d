"""The virtual Nikon's device properties: descriptors, initial values, and the one setting
that has two codes.

Types and value encodings are the ones libgphoto2's Nikon tables and ptpip's
:mod:`ptpip.vendors.nikon.tables` read (vendor-others.md §1; libgphoto2 ``config.c``): ISO
0x500F is the ISO number (UINT16), the F-number 0x5007 is f × 100, the exposure time 0x500D is
in 1/10000 s (Nikon adds bulb 0xFFFFFFFF and time 0xFFFFFFFD), the exposure bias 0x5010 is in
1/1000 EV, white balance and focus mode add Nikon's 0x80xx values, the Nikon shutter speed
0xD100 is numerator << 16 | denominator, compression 0x5004 follows the model's table
(:func:`~ptpip.vendors.nikon.tables.compression_table`).

The standard (0x5xxx) properties are listed in DeviceInfo; the Nikon ones (0xDxxx) only by
GetVendorPropCodes 0x90CA, which is where libgphoto2 finds them (``fixup_cached_deviceinfo``
merges that list into DeviceInfo's).

Invented, because no capture of ours shows them: the lists of a body (what a Z 6II with a
24-70 mm f/4 lens offers, in 1/3 stops; a D750 with a 24-120 mm f/4), the current values,
and the shutter range: it stops at 1/4000 s, because 0x500D's 1/10000-s units cannot tell
1/6400 s from 1/5000 s (both 2), and a value must name one speed.
"""

from __future__ import annotations

from datetime import datetime

from ptpip.ptp.codes import DataType
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.values import Value
from ptpip.vendors.nikon.codes import NikonProperty as NP
from ptpip.vendors.nikon.tables import (
    COMPRESSION,
    EXPOSURE_TIME_BULB,
    EXPOSURE_TIME_TIME,
    SHUTTER_BULB,
    SHUTTER_TIME,
    compression_table,
)

__all__ = [
    "APERTURES",
    "BATTERY",
    "EXPOSURE_BIASES",
    "ISO_SPEEDS",
    "LIVEVIEW_PROHIBIT",
    "LIVEVIEW_SIZE",
    "LIVEVIEW_SIZES",
    "LIVEVIEW_STATUS",
    "MEDIA_CARD",
    "MEDIA_SDRAM",
    "RECORDING_MEDIA",
    "SHUTTER_SPEEDS",
    "is_modern",
    "linked_value",
    "nikon_properties",
    "vendor_codes",
]

U8, U16, I16, U32 = DataType.UINT8, DataType.UINT16, DataType.INT16, DataType.UINT32
STR = DataType.STR

# Property codes the personality acts on.
BATTERY = Prop.BATTERY_LEVEL
RECORDING_MEDIA = NP.RECORDING_MEDIA
LIVEVIEW_STATUS = NP.LIVE_VIEW_STATUS
LIVEVIEW_PROHIBIT = NP.LIVE_VIEW_PROHIBIT_CONDITION
LIVEVIEW_SIZE = NP.LIVE_VIEW_IMAGE_SIZE
#: RecordingMedia 0xD10B: 0 the card, 1 SDRAM (libgphoto2 ``nikon_recordingmedia``)
MEDIA_CARD, MEDIA_SDRAM = 0, 1
#: LiveViewImageSize 0xD1AC → the frame's pixels (QVGA, VGA, XGA)
LIVEVIEW_SIZES: dict[int, tuple[int, int]] = {1: (320, 240), 2: (640, 480), 3: (1024, 768)}

#: The 1/3-stop speeds 1/4000 s … 30 s as (numerator, denominator) in seconds, as the
#: camera shows them (1/2.5 s is 10/25, 1.3 s is 13/10).
_SPEEDS: tuple[tuple[int, int], ...] = (
    *((1, d) for d in (4000, 3200, 2500, 2000, 1600, 1250, 1000, 800, 640, 500, 400, 320)),
    *((1, d) for d in (250, 200, 160, 125, 100, 80, 60, 50, 40, 30, 25, 20, 15, 13, 10)),
    (1, 8), (1, 6), (1, 5), (1, 4), (1, 3), (10, 25), (1, 2), (10, 16), (10, 13), (1, 1),
    (13, 10), (16, 10), (2, 1), (25, 10), (3, 1), (4, 1), (5, 1), (6, 1), (8, 1), (10, 1),
    (13, 1), (15, 1), (20, 1), (25, 1), (30, 1),
)  # fmt: skip
#: (0x500D value in 1/10000 s, 0xD100 value) for each speed, then bulb and time: the same
#: setting under both codes. Fractional 1/10000 s round half to even (1/4000 s is 2).
SHUTTER_SPEEDS: tuple[tuple[int, int], ...] = (
    *((round(10000 * n / d), n << 16 | d) for n, d in _SPEEDS),
    (EXPOSURE_TIME_BULB, SHUTTER_BULB),
    (EXPOSURE_TIME_TIME, SHUTTER_TIME),
)
_BY_TIME = dict(SHUTTER_SPEEDS)
_BY_FRACTION = {f: t for t, f in SHUTTER_SPEEDS}
#: 1/125 s
_SHUTTER_NOW = round(10000 / 125)

#: ISO 100 … 51200 in 1/3 stops (a Z 6II; a D750 stops at 12800).
ISO_SPEEDS: tuple[int, ...] = (
    100, 125, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1250, 1600, 2000, 2500, 3200,
    4000, 5000, 6400, 8000, 10000, 12800, 16000, 20000, 25600, 32000, 40000, 51200,
)  # fmt: skip
#: f/4 … f/22 in 1/3 stops, f × 100 (a constant-f/4 zoom).
APERTURES: tuple[int, ...] = (
    400, 450, 500, 560, 630, 710, 800, 900, 1000, 1100, 1300, 1400, 1600, 1800, 2000, 2200,
)  # fmt: skip
#: −5 … +5 EV in 1/3 EV, in 1/1000 EV rounded as bodies send them (±333, ±667, …).
EXPOSURE_BIASES: tuple[int, ...] = tuple(round(third * 1000 / 3) for third in range(-15, 16))

#: Image sizes of the two body generations (largest first).
_IMAGE_SIZES = {
    True: ("6048x4024", "4528x3016", "3024x2016"),
    False: ("6016x4016", "4512x3008", "3008x2008"),
}


def is_modern(model: str) -> bool:
    """A body of the Z / D850 generation (the newer compression table, GetEventEx and the
    64-bit transfer operations) rather than an older D-series one (a D750)."""
    return compression_table(model) is COMPRESSION


def _enum(
    code: int, datatype: int, current: Value, values: tuple[Value, ...], *, writable: bool = True
) -> DevicePropDesc:
    if current not in values:
        raise ValueError(f"property 0x{code:04X}: {current!r} is not one of its values")
    return DevicePropDesc(code, datatype, int(writable), current, current, PropEnum(values))


def nikon_properties(model: str, *, now: datetime | None = None) -> list[DevicePropDesc]:
    """The body's properties, standard ones first; defaults are the initial values."""
    modern = is_modern(model)
    clock = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    sizes = _IMAGE_SIZES[modern]
    compression = tuple(compression_table(model))
    iso = ISO_SPEEDS if modern else ISO_SPEEDS[: ISO_SPEEDS.index(12800) + 1]
    white_balance: tuple[int, ...] = (2, 4, 5, 6, 7, 0x8010, 0x8011, 0x8012, 0x8013)
    if modern:
        white_balance += (0x8016,)  # natural light auto
    af = (0x8010, 0x8011, 0x8013) if modern else (0x8010, 0x8011, 0x8012)
    programs = (1, 2, 3, 4, 0x8010, 0x8050, 0x8051, 0x8052)
    return [
        DevicePropDesc(BATTERY, U8, 0, 80, 80, PropRange(0, 100, 1)),
        _enum(Prop.IMAGE_SIZE, STR, sizes[0], sizes),
        _enum(Prop.COMPRESSION_SETTING, U8, 4 if modern else 2, compression),
        _enum(Prop.WHITE_BALANCE, U16, 2, white_balance),
        _enum(Prop.F_NUMBER, U16, 560, APERTURES),
        DevicePropDesc(Prop.FOCAL_LENGTH, U32, 0, 5000, 5000, PropRange(2400, 7000, 100)),
        _enum(Prop.FOCUS_MODE, U16, 0x8010, (1, *af)),
        _enum(Prop.EXPOSURE_METERING_MODE, U16, 3, (2, 3, 4, 0x8010)),
        _enum(Prop.EXPOSURE_TIME, U32, _SHUTTER_NOW, tuple(t for t, _ in SHUTTER_SPEEDS)),
        # the mode dial: the body's, not the host's
        _enum(Prop.EXPOSURE_PROGRAM_MODE, U16, 1, programs, writable=False),
        _enum(Prop.EXPOSURE_INDEX, U16, 100, iso),
        _enum(Prop.EXPOSURE_BIAS_COMPENSATION, I16, 0, EXPOSURE_BIASES),
        DevicePropDesc(Prop.DATE_TIME, STR, 1, clock, clock, None),
        _enum(Prop.STILL_CAPTURE_MODE, U16, 1, (1, 2, 0x8010, 0x8011, 0x8016)),
        # the Nikon ones (GetVendorPropCodes)
        _enum(NP.ISO_AUTO, U8, 0, (0, 1)),
        _enum(NP.NIKON_EXPOSURE_TIME, U32, _BY_TIME[_SHUTTER_NOW], tuple(_BY_FRACTION)),
        _enum(RECORDING_MEDIA, U8, MEDIA_CARD, (MEDIA_CARD, MEDIA_SDRAM)),
        _enum(LIVEVIEW_STATUS, U8, 0, (0, 1), writable=False),
        DevicePropDesc(LIVEVIEW_PROHIBIT, U32, 0, 0, 0, None),
        _enum(LIVEVIEW_SIZE, U8, 2, tuple(LIVEVIEW_SIZES)),
        _enum(NP.ACTIVE_PIC_CTRL_ITEM, U8, 1, (1, 2, 3, 4, 5, 6, 7)),
    ]


def vendor_codes(descs: list[DevicePropDesc]) -> tuple[int, ...]:
    """What GetVendorPropCodes lists: the Nikon (0xDxxx) codes, in order."""
    return tuple(d.code for d in descs if d.code >= 0xD000)


def linked_value(code: int, value: Value) -> tuple[int, int] | None:
    """The other code of the same setting and its value there, or None: the exposure time
    0x500D and the Nikon shutter speed 0xD100 are one setting."""
    if not isinstance(value, int):
        return None
    if code == Prop.EXPOSURE_TIME and value in _BY_TIME:
        return NP.NIKON_EXPOSURE_TIME, _BY_TIME[value]
    if code == NP.NIKON_EXPOSURE_TIME and value in _BY_FRACTION:
        return Prop.EXPOSURE_TIME, _BY_FRACTION[value]
    return None
