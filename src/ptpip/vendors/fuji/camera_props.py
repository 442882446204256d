"""The virtual Fuji X-T1's device properties: descriptors and initial values.

Descriptors are the X-T1's (firmware 5.51) where a capture shows them: the 0x902B list of
seed 004 (vendor-fuji.md §9.2) byte for byte, the GetDevicePropDesc dumps of §15; current
values come from the seed's 0xD212 state (§9.3), a camera in program mode with a charged
battery. Where no capture exists (0xD240 shutter, 0xD242, the 0xDFxx set-up properties) the
types and values follow §8, §10 and §4.3.
"""

from __future__ import annotations

from ptpip.camera.props import EXPOSURE_TIMES
from ptpip.ptp.codes import DataType
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.values import Value

__all__ = [
    "APERTURE",
    "CAMERA_STATE",
    "CAPTURES_REMAINING",
    "CLIENT_STATE",
    "CURRENT_STATE",
    "EXPOSURE_BIAS",
    "OBJECT_COUNT",
    "PROP_LIST",
    "REMOTE_MODE",
    "SEED_STATE",
    "SETUP_PROPS",
    "SHUTTER_SPEED",
    "STATE_BY_PROGRAM",
    "STATE_CODES",
    "STEPS",
    "fuji_properties",
    "shutter_value",
]

U8, U16, I16, U32 = DataType.UINT8, DataType.UINT16, DataType.INT16, DataType.UINT32

# Property codes the personality acts on (vendor-fuji.md §8, §4.3).
APERTURE = 0x5007
EXPOSURE_BIAS = 0x5010
SHUTTER_SPEED = 0xD240
CURRENT_STATE = 0xD212
OBJECT_COUNT = 0xD222
CAPTURES_REMAINING = 0xD229
CAMERA_STATE = 0xDF00
CLIENT_STATE = 0xDF01
#: ClientState value that puts the camera in remote mode (vendor-fuji.md §4.1)
REMOTE_MODE = 5

#: 0x902C/0x902D/0x902E step these properties through their enumerations.
STEPS: dict[int, int] = {0x902C: SHUTTER_SPEED, 0x902D: APERTURE, 0x902E: EXPOSURE_BIAS}

#: What 0x902B lists, in the X-T1's order (seed 004).
PROP_LIST: tuple[int, ...] = (0x5012, 0x500C, 0x5005, EXPOSURE_BIAS, 0xD001, 0xD02A, 0xD019, 0xD17C)

#: The 0xD212 snapshot's properties in the X-T1's order (seed 004, program mode P).
STATE_CODES: tuple[int, ...] = (
    0x5001, 0xD241, 0x5005, 0x500A, 0x500C, 0x500E, EXPOSURE_BIAS, 0x5012, 0xD001, 0xD018,
    0xD028, 0xD02A, 0xD17C, 0xD209, 0xD21B, CAPTURES_REMAINING, 0xD22A,
)  # fmt: skip
#: Seed 004's ``opreq 0x1015 0xD212`` answer (the data after its container header). The seed's
#: two dumps were taken at different moments (flash 0x8009 in its 0x902B list, 0x800A here;
#: 1431 shots left here), so the camera sends these bytes until its state first changes.
SEED_STATE = bytes.fromhex(
    "110001500300000041d20a0000000550020000000a50018000000c500a8000000e50020000001050000000"
    "0012500000000001d00200000018d00400000028d0000000002ad0001900807cd10404020309d200000000"
    "1bd20000000029d2970500002ad28f060000"
)

#: "The list changes with the exposure program" (vendor-fuji.md §9.3): shutter speed joins in
#: M and S, the aperture in M and A (0x500E: 1 M, 2 P, 3 A, 4 S).
STATE_BY_PROGRAM: dict[int, tuple[int, ...]] = {
    1: (SHUTTER_SPEED, APERTURE),
    3: (APERTURE,),
    4: (SHUTTER_SPEED,),
}

#: Set-up properties a client uses before remote mode (§4.3): never refused for that.
SETUP_PROPS = frozenset(
    {CAMERA_STATE, CLIENT_STATE, 0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25, 0xDF31}
)

#: X-T1 ISO enumeration (§10.3): S400…S6400, L100, 200…6400, H12800…H51200.
_ISO = (
    0x80000190, 0x80000320, 0x80000640, 0x80000C80, 0x80001900, 0x40000064, 0xC8, 0xFA, 0x140,
    0x190, 0x1F4, 0x280, 0x320, 0x3E8, 0x4E2, 0x640, 0x7D0, 0x9C4, 0xC80, 0xFA0, 0x1388, 0x1900,
    0x40003200, 0x40006400, 0x4000C800,
)  # fmt: skip
#: −3 … +3 EV in 1/3 EV as 1/1000 EV, as the X-T1 lists them (§9.2).
_BIAS = tuple(round(third * 1000 / 3) for third in range(-9, 10))
_WHITE_BALANCE = (2, 4, 0x8006, 0x8001, 0x8002, 0x8003, 6, 0x800A, 0x800B, 0x800C)
_PROGRAMS = (1, 2, 3, 4, 6, *range(0x8001, 0x8009))
_IMAGE_SIZES = (2, 3, 4, 6, 7, 8, 10, 11, 12)


def shutter_value(label: str) -> int:
    """The 0xD240 value of "1/250" (bit 31 + 1000 × 250) or "2" (2000 ms), vendor-fuji.md §10.4."""
    if label.startswith("1/"):
        return 0x8000_0000 | int(label[2:]) * 1000
    return round(float(label) * 1000)


#: 30 s … 1/4000 s in 1/3 stops, slow to fast: a step "+1/3" shortens the exposure.
_SHUTTER = tuple(shutter_value(label) for label, _ in reversed(EXPOSURE_TIMES))


def _enum(code: int, datatype: int, default: Value, current: Value, values: tuple[int, ...],
          *, writable: bool = True) -> DevicePropDesc:  # fmt: skip
    return DevicePropDesc(code, datatype, int(writable), default, current, PropEnum(values))


def _range(code: int, datatype: int, default: Value, current: Value, low: int, high: int,
           *, writable: bool = True) -> DevicePropDesc:  # fmt: skip
    return DevicePropDesc(code, datatype, int(writable), default, current, PropRange(low, high, 1))


def _plain(code: int, datatype: int, value: int, *, writable: bool = False) -> DevicePropDesc:
    return DevicePropDesc(code, datatype, int(writable), value, value, None)


def fuji_properties() -> list[DevicePropDesc]:
    """The X-T1's properties; ``current`` is each one's value when the camera starts."""
    return [
        # -- the 0x902B list (§9.2), byte for byte ----------------------------------------
        _enum(0x5012, U16, 0, 0, (0, 2, 4)),  # self-timer off, 2 s, 10 s
        _enum(0x500C, U16, 2, 0x8009, (0x8009, 0x800A)),  # flash disabled / enabled
        _enum(0x5005, U16, 2, 2, _WHITE_BALANCE),
        _enum(EXPOSURE_BIAS, I16, 0, 0, _BIAS),
        _enum(0xD001, U16, 1, 2, tuple(range(1, 12))),  # film simulation: Velvia
        _enum(0xD02A, U32, 0xFFFF_FFFF, 0x8000_1900, _ISO),  # ISO: auto up to 6400
        _enum(0xD019, U16, 1, 1, (0, 1)),  # rec mode
        _range(0xD17C, U32, 0, 0x0302_0404, 0, 0x1009_0707),  # focus point 4x4
        # -- GetDevicePropDesc dumps (§15), current values from 0xD212 (§9.3) ------------
        _range(0x5001, U8, 0, 3, 0, 3, writable=False),  # battery 3/3
        _enum(APERTURE, U16, 350, 350, (350, 530, 710, 1000, 1100, 1600, 0xFFFF)),
        _enum(0x500A, U16, 0x8001, 0x8001, (1, 0x8001, 0x8002)),  # focus mode AF-S
        _enum(0x500D, U32, 2, 0, (2, 300000, 0xFFFF_FFFF)),  # exposure time (unused on Wi-Fi)
        _enum(0x500E, U16, 6, 2, _PROGRAMS),  # exposure program P
        _enum(0xD018, U16, 1, 4, (1, 2, 3, 4, 5)),  # image quality fine + RAW
        _enum(0xD028, U16, 0, 0, (0, 1, 2, 3)),  # command dials: both
        _enum(0xD209, U16, 0, 0, (0, 1), writable=False),  # focus lock off
        _enum(0xD21B, U16, 0, 0, tuple(range(15))),  # device error: none
        _plain(CAPTURES_REMAINING, U32, 1494),
        _plain(0xD22A, U32, 0x068F),  # movie time remaining
        _plain(OBJECT_COUNT, U32, 0),  # kept equal to the images on the card
        # -- no X-T1 descriptor captured: types and values from §8, §10 -------------------
        _enum(SHUTTER_SPEED, U32, shutter_value("1/125"), shutter_value("1/125"), _SHUTTER),
        _enum(0xD241, U16, 10, 10, _IMAGE_SIZES),  # image size L 3:2
        _range(0xD242, U16, 3, 3, 0, 11, writable=False),  # battery (Fuji scale) 3/3
        # -- set-up properties (§4.3, §15) ---------------------------------------------------
        _range(CAMERA_STATE, U16, 0, 0, 0, 6, writable=False),
        _range(CLIENT_STATE, U16, 0, 0, 0, 22),
        _plain(0xDF21, U32, 3, writable=True),  # ImageGetVersion
        _plain(0xDF22, U32, 3, writable=True),  # GetObjectVersion
        _plain(0xDF23, U32, 1, writable=True),  # AutoSaveVersion
        _plain(0xDF24, U32, 0x0002_0001, writable=True),  # RemoteVersion, echoed by clients
        _plain(0xDF25, U32, 1, writable=True),  # RemoteGetObjectVersion
        _plain(0xDF31, U32, 2, writable=True),  # GeoTagVersion
    ]
