"""A virtual EOS body's properties: values and allowed lists, as its GetEvent dump shows them.

The initial state is the real camera's first GetEvent dump (vector ``canon/eos_events.bin``:
an EOS Rebel T6 / 1300D-class body, published by petabyt/vcam), values and lists in the
camera's order, with these changes (vendor-canon.md §10, §13):

- 0xD101 Aperture: the vector's lens reports 0 and no list; here an f/3.5–22 lens in 1/3
  stops (the :data:`~ptpip.vendors.canon.tables.APERTURE` codes 0x25 … 0x50), at f/5.6.
- 0xD104 ExpCompensation: the vector's list is empty; here −5 … +5 EV in 1/3 EV.
- 0xD1D8 LensName: the vector's 64 zero bytes; here the lens's name, ASCII + NUL.
- 0xD11E CurrentStorage: the virtual card's StorageID (the vector's is 0x00020001).

Owner, Artist, Copyright and SerialNumber are not in the dump (the real camera sends them
when asked with 0x9127 RequestDevicePropValue); they are here for that.

Writes (0x9110) are checked the way the body's lists say: a value outside a non-empty
type-3 list is InvalidDevicePropValue, an unknown property DevicePropNotSupported, a
read-only one AccessDenied. Numbers compare at the property's width (libgphoto2's fixed
table, vendor-canon.md §8), so an exposure compensation sent as 0xFFFFFFFD matches 0xFD.
"""

from __future__ import annotations

from ptpip.camera.props import PropertyError
from ptpip.ptp.codes import ResponseCode
from ptpip.vendors.canon.codec import (
    IMAGE_FORMAT_PROPS,
    STRING_PROPS,
    AvailListChanged,
    EventRecord,
    InfoCheckComplete,
    PropValueChanged,
)
from ptpip.vendors.canon.tables import APERTURE

__all__ = [
    "APERTURE_CODE",
    "AVAILABLE_SHOTS",
    "CAPTURE_DESTINATION",
    "CURRENT_STORAGE",
    "DESTINATION_CARD",
    "DESTINATION_HOST",
    "EVF_MODE",
    "EVF_OUTPUT",
    "EXP_COMPENSATION",
    "INFO_CHECK_VALUE",
    "ISO_CODE",
    "LENS_NAME",
    "READ_ONLY",
    "SERIAL_NUMBER",
    "SHUTTER_CODE",
    "EosProperties",
    "Value",
]

Value = int | bytes | str

APERTURE_CODE = 0xD101
SHUTTER_CODE = 0xD102
ISO_CODE = 0xD103
EXP_COMPENSATION = 0xD104
AVAILABLE_SHOTS = 0xD11B
CAPTURE_DESTINATION = 0xD11C
CURRENT_STORAGE = 0xD11E
SERIAL_NUMBER = 0xD1AF
EVF_OUTPUT = 0xD1B0
EVF_MODE = 0xD1B1
LENS_NAME = 0xD1D8
#: CaptureDestination values (§10.8): card, host RAM; 6 is both.
DESTINATION_CARD = 2
DESTINATION_HOST = 4
#: The CTG InfoCheckComplete record's value in the real dump.
INFO_CHECK_VALUE = 0x0002_0001
#: AvailList type of a numeric enumeration, the only one libgphoto2 parses (§8).
_ENUMERATION = 3

#: Value widths in bytes where libgphoto2 reads fewer than 4 (§8); others are u32.
_WIDTH: dict[int, int] = {
    0xD104: 1, 0xD107: 1, 0xD109: 1, 0xD110: 1,
    0xD101: 2, 0xD102: 2, 0xD103: 2, 0xD105: 2, 0xD106: 2, 0xD10F: 2, 0xD111: 2,
    0xD119: 2, 0xD138: 2, 0xD1B1: 2,
}  # fmt: skip
#: What the body reports but a host cannot change: battery, clock, model, versions,
#: shots left, current storage and folder, serial, lens, and the mode dial (this body has
#: a physical one, so AutoExposureMode follows it).
READ_ONLY = frozenset(
    {0xD105, 0xD111, 0xD113, 0xD116, 0xD119, 0xD11B, 0xD11E, 0xD11F, 0xD138, 0xD1AF, 0xD1D8}
)
#: Values a body accepts outside its list: EVF output 0 ("off") is not in the vector's list,
#: yet it is what clients send to end live view (libgphoto2 ptp_canon_eos_end_viewfinder).
_ALSO_ALLOWED: dict[int, tuple[int, ...]] = {0xD1B0: (0,)}
#: Sent on 0x9127 only, not in the dump (libgphoto2 asks for these four, §5).
_ON_REQUEST = (0xD115, 0xD1D0, 0xD1D1, SERIAL_NUMBER)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# The vector's records, verbatim: PropValueChanged in dump order, then AvailListChanged.
_VALUES: tuple[tuple[int, int | bytes], ...] = (
    (0xD105, 0x3), (0xD108, 0x3), (0xD106, 0x11), (0xD107, 0x3), (0xD109, 0x8), (0xD10B, 0x0),
    (0xD10C, 0x0), (0xD10D, 0x0), (0xD10E, 0x0), (0xD10F, 0x1), (0xD11B, 0xC03), (0xD114, 0x0),
    (0xD116, 0x80000404), (0xD119, 0x100), (0xD110, 0x87), (0xD101, 0x0), (0xD102, 0x2D),
    (0xD103, 0x70), (0xD104, 0x0), (0xD11D, 0x0), (0xD111, 0x1), (0xD112, 0x0),
    (0xD113, 0x64D2437F),
    (0xD120, h("0100000010000000010000000000000003000000")),
    (0xD122, h("0100000010000000010000000000000003000000")),
    (0xD156, h("1c000000000000000300000000000000000000000000000000000000")),
    (0xD150, h("1c000000000000000300000000000000000000000000000000000000")),
    (0xD151, h("1c000000000000000200000000000000000000000000000000000000")),
    (0xD152, h("1c000000000000000400000000000000000000000000000000000000")),
    (0xD153, h("1c000000000000000000000000000000000000000000000000000000")),
    (0xD154, h("1c000000000000000000000000000000000000000000000000000000")),
    (0xD155, h("1c000000000000000300000000000000000000000000000000000000")),
    (0xD160, h("2000000087000000000000000300000000000000000000000000000000000000")),
    (0xD161, h("2000000087000000000000000300000000000000000000000000000000000000")),
    (0xD162, h("2000000087000000000000000300000000000000000000000000000000000000")),
    (0xD11C, 0x2),
    (0xD1A0, h(
        "bc00000004000000010000002c00000003000000010100000100000000000000"
        "0301000001000000010000000f0100000100000000000000020000002c000000"
        "0300000001020000010000000000000002020000010000000000000003020000"
        "01000000000000000300000014000000010000000e0500000100000000000000"
        "0400000038000000040000000107000001000000000000000407000001000000"
        "010000000e0700000100000001000000110800000100000000000000"
    )),
    (0xD1A1, h("0800000000000000")),
    (0xD1A8, 0x0), (0xD1AB, 0x0), (0xD1B0, 0x0), (0xD1B1, 0x1), (0xD1B2, 0x0), (0xD1B3, 0x0),
    (0xD1B4, 0x8),
    (0xD1B5, h(
        "3000000000000000000050e30f00001a000051e30410a0130010a003000052e3"
        "0220a0130020a0030004000400040004"
    )),
    (0xD1A9, 0x2),
    (0xD146, h(
        "3000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000c0010004f0039002"
    )),
    (0xD1AC, 0x99A9), (0xD11E, 0x20001), (0xD11F, 0x91C00000), (0xD1D9, 0x0), (0xD1BA, 0x1),
    (0xD1CA, h("1800000000000000000000001e0000000f00000000000000")),
    (0xD1BC, 0x1), (0xD1B8, 0x0),
    (0xD1D3, h(
        "6400000060000000090009004014800d4014800db500810081008100de008100"
        "81008100b5007500ac00ac00ac00e000ac00ac00ac0075000000b9fc47038efa"
        "00007205b9fc47030000e7028901890100000000000077fe77fe19fd0000ff01"
        "0000ffff"
    )),
    (0xD1D8, h(
        "0000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000"
    )),
    (0xD1B7, 0x0),
    (0xD1B9, h(
        "2600000000000000030000003a00000039000380000000000300000032000000"
        "3a0003800000"
    )),
    (0xD1DB, h("00000000030000002f0000002800")),
    (0xD1DC, 0x0), (0xD1DF, 0x0), (0xD1BD, 0x0), (0xD1C1, 0x2), (0xD1C0, 0x0), (0xD1BF, 0x0),
    (0xD1C4, 0x0), (0xD1C2, 0x0), (0xD1C5, 0x3), (0xD194, 0x0), (0xD195, 0x2), (0xD196, 0x2F),
    (0xD197, 0x0), (0xD198, 0x0), (0xD1C6, 0x0), (0xD1C8, 0x0), (0xD17C, 0x64D27BBF),
    (0xD17D, h("0c0000001b000000d4feffff")),
    (0xD17E, 0x1), (0xD138, 0x3),
    (0xD177, h("180000000000000000000000000000000000000000000000")),
    (0xD175, 0x0), (0xD14A, 0x0),
)  # fmt: skip
_LISTS: tuple[tuple[int, int, tuple[int, ...] | tuple[bytes, ...]], ...] = (
    (0xD105, 1, ()),
    (0xD108, 3, (0x3,)),
    (0xD106, 3, (0x0, 0x1, 0x10, 0x11, 0x7)),
    (0xD107, 3, (0x3, 0x4, 0x5)),
    (0xD109, 3, (0x0, 0x17, 0x1, 0x8, 0x2, 0x3, 0x4, 0x5, 0x6)),
    (0xD10B, 3, (0xFFFFFFF7, 0xFFFFFFF8, 0xFFFFFFF9, 0xFFFFFFFA, 0xFFFFFFFB, 0xFFFFFFFC,
        0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF, 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9)),
    (0xD10C, 3, (0xFFFFFFF7, 0xFFFFFFF8, 0xFFFFFFF9, 0xFFFFFFFA, 0xFFFFFFFB, 0xFFFFFFFC,
        0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF, 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9)),
    (0xD10D, 3, (0x0, 0x1, 0x2, 0x3)),
    (0xD10E, 3, (0x0, 0x1, 0x2, 0x3)),
    (0xD10F, 3, (0x1, 0x2)),
    (0xD11B, 1, ()), (0xD114, 1, ()), (0xD116, 1, ()), (0xD119, 1, ()), (0xD11A, 1, ()),
    (0xD110, 3, (0x87, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x21, 0x22, 0x23)),
    (0xD115, 7, ()), (0xD101, 3, ()),
    (0xD102, 3, (0xC, 0x10, 0x13, 0x15, 0x18, 0x1B, 0x1D, 0x20, 0x23, 0x25, 0x28, 0x2B, 0x2D,
        0x30, 0x33, 0x35, 0x38, 0x3B, 0x3D, 0x40, 0x43, 0x45, 0x48, 0x4B, 0x4D, 0x50, 0x53, 0x55,
        0x58, 0x5B, 0x5D, 0x60, 0x63, 0x65, 0x68, 0x6B, 0x6D, 0x70, 0x73, 0x75, 0x78, 0x7B, 0x7D,
        0x80, 0x83, 0x85, 0x88, 0x8B, 0x8D, 0x90, 0x93, 0x95, 0x98)),
    (0xD103, 3, (0x0, 0x48, 0x50, 0x58, 0x60, 0x68, 0x70, 0x78, 0x80)),
    (0xD104, 3, ()), (0xD11D, 1, ()), (0xD111, 1, ()), (0xD112, 1, ()), (0xD113, 7, ()),
    (0xD120, 3, (
        h("0100000010000000010000000000000003000000"),
        h("0100000010000000010000000000000002000000"),
        h("0100000010000000010000000100000003000000"),
        h("0100000010000000010000000100000002000000"),
        h("0100000010000000010000000e00000003000000"),
        h("0100000010000000010000000e00000002000000"),
        h("0100000010000000010000000f00000003000000"),
        h("0100000010000000010000001000000003000000"),
        h(
            "0200000010000000060000000000000004000000100000000100000000000000"
            "03000000"
        ),
        h("0100000010000000060000000000000004000000"),
    )),
    (0xD122, 3, (
        h("0100000010000000010000000000000003000000"),
        h("0100000010000000010000000000000002000000"),
        h("0100000010000000010000000100000003000000"),
        h("0100000010000000010000000100000002000000"),
        h("0100000010000000010000000e00000003000000"),
        h("0100000010000000010000000e00000002000000"),
        h("0100000010000000010000000f00000003000000"),
        h("0100000010000000010000001000000003000000"),
        h(
            "0200000010000000060000000000000004000000100000000100000000000000"
            "03000000"
        ),
        h("0100000010000000060000000000000004000000"),
    )),
    (0xD156, 7, ()), (0xD150, 7, ()), (0xD151, 7, ()), (0xD152, 7, ()), (0xD153, 7, ()),
    (0xD154, 7, ()), (0xD155, 7, ()), (0xD160, 7, ()), (0xD161, 7, ()), (0xD162, 7, ()),
    (0xD170, 7, ()), (0xD171, 7, ()), (0xD172, 7, ()),
    (0xD11C, 3, (0x2, 0x4, 0x6)),
    (0xD1A0, 7, ()), (0xD1A1, 7, ()), (0xD1A2, 7, ()), (0xD1A8, 1, ()), (0xD1AB, 1, ()),
    (0xD1B0, 3, (0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xA, 0xB)),
    (0xD1B1, 3, (0x1, 0x0)),
    (0xD1B2, 7, ()), (0xD1B3, 7, ()),
    (0xD1B4, 3, (0x0, 0x17, 0x1, 0x8, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8000)),
    (0xD1B5, 7, ()),
    (0xD1A9, 3, (0x0, 0x2, 0x4, 0x8, 0xFF)),
    (0xD146, 7, ()), (0xD1AC, 1, ()), (0xD1AD, 1, ()), (0xD1AE, 1, ()), (0xD11E, 1, ()),
    (0xD11F, 1, ()), (0xD1AF, 1, ()), (0xD1D0, 7, ()), (0xD1D1, 7, ()),
    (0xD1D9, 3, (0x0, 0x3, 0x5, 0x8, 0xB, 0xD, 0x10)),
    (0xD1BA, 3, (0x1, 0x2, 0x0)),
    (0xD1CA, 3, ()),
    (0xD1BC, 3, (0x0, 0x1)),
    (0xD1B8, 3, ()), (0xD1D3, 7, ()), (0xD1D8, 1, ()), (0xD17F, 1, ()), (0xD1B7, 1, ()),
    (0xD1B9, 7, ()), (0xD1DB, 7, ()),
    (0xD1DC, 3, (0x0, 0x1, 0x2)),
    (0xD1DF, 3, (0xF0, 0xF3, 0xF5, 0xF8, 0xFB, 0xFD, 0x0, 0x3, 0x5, 0x8, 0xB, 0xD, 0x10)),
    (0xD1BD, 1, ()),
    (0xD1C1, 3, (0x0, 0x1, 0x2, 0x3)),
    (0xD1C0, 1, ()), (0xD1BF, 7, ()), (0xD1C4, 1, ()), (0xD1C2, 1, ()), (0xD1C5, 3, ()),
    (0xD194, 3, (0x0, 0x2, 0x7, 0x1)),
    (0xD195, 3, ()), (0xD196, 7, ()), (0xD197, 3, ()), (0xD198, 1, ()),
    (0xD1C6, 3, (0x0, 0x1, 0x2)),
    (0xD1C8, 3, (0x0, 0x1)),
    (0xD17C, 7, ()),
    (0xD17D, 3, (
        h("0c000000210000000c030000"),
        h("0c00000001000000fd020000"),
        h("0c00000002000000d0020000"),
        h("0c0000000300000094020000"),
        h("0c0000000400000058020000"),
        h("0c000000050000003a020000"),
        h("0c000000060000001c020000"),
        h("0c00000007000000e0010000"),
        h("0c00000008000000a4010000"),
        h("0c0000000900000086010000"),
        h("0c0000000a00000068010000"),
        h("0c0000000b00000059010000"),
        h("0c0000000c0000004a010000"),
        h("0c0000000d0000002c010000"),
        h("0c0000000e0000000e010000"),
        h("0c0000000f000000f0000000"),
        h("0c00000010000000d2000000"),
        h("0c00000011000000b4000000"),
        h("0c0000001200000078000000"),
        h("0c000000130000003c000000"),
        h("0c0000001400000000000000"),
        h("0c00000015000000c4ffffff"),
        h("0c0000001600000088ffffff"),
        h("0c000000170000004cffffff"),
        h("0c000000180000002effffff"),
        h("0c0000001900000010ffffff"),
        h("0c0000001a000000f2feffff"),
        h("0c0000001b000000d4feffff"),
        h("0c0000001c00000098feffff"),
        h("0c0000001d0000005cfeffff"),
        h("0c0000001e00000020feffff"),
        h("0c0000001f000000e4fdffff"),
        h("0c00000020000000a8fdffff"),
    )),
    (0xD17E, 3, (0x0, 0x1)),
    (0xD14D, 7, ()), (0xD19D, 1, ()), (0xD138, 1, ()), (0xD177, 7, ()),
    (0xD175, 3, (0x0,)),
    (0xD14A, 1, ()),
)  # fmt: skip

#: f/3.5 … f/22 in 1/3 stops: the lens the vector's body lacks.
_APERTURES = tuple(c for c in sorted(APERTURE) if 0x25 <= c <= 0x50 and c % 8 in (0, 3, 5))
#: −5 … +5 EV in 1/3 EV, as UINT8 two's complement eighths, ascending like the camera's lists.
_EXP_COMPENSATIONS = tuple((8 * (t // 3) + (0, 3, 5)[t % 3]) & 0xFF for t in range(-15, 16))
LENS = "EF-S18-55mm f/3.5-5.6 IS II"


class EosProperties:
    """The body's property values and allowed lists; writes validated against the lists."""

    def __init__(
        self, *, serial_number: str = "012345678901", storage_id: int = 0x0002_0001
    ) -> None:
        self.values: dict[int, Value] = dict(_VALUES)
        self.lists: dict[int, tuple[int, tuple[int, ...] | tuple[bytes, ...]]] = {
            prop: (kind, values) for prop, kind, values in _LISTS
        }
        self.values[APERTURE_CODE] = 0x30  # f/5.6
        self.lists[APERTURE_CODE] = (_ENUMERATION, _APERTURES)
        self.lists[EXP_COMPENSATION] = (_ENUMERATION, _EXP_COMPENSATIONS)
        self.values[LENS_NAME] = LENS
        self.values[CURRENT_STORAGE] = storage_id
        for prop in _ON_REQUEST:
            self.values[prop] = ""
        self.values[SERIAL_NUMBER] = serial_number

    def __contains__(self, prop: object) -> bool:
        return prop in self.values or prop in self.lists

    def get(self, prop: int) -> Value:
        try:
            return self.values[prop]
        except KeyError:
            raise PropertyError(
                ResponseCode.DEVICE_PROP_NOT_SUPPORTED, f"no property 0x{prop:04X}"
            ) from None

    def allowed(self, prop: int) -> tuple[int, ...] | tuple[bytes, ...]:
        return self.lists.get(prop, (0, ()))[1]

    def record(self, prop: int) -> PropValueChanged:
        """The PropValueChanged record for ``prop``'s current value."""
        return PropValueChanged(prop, self.get(prop))

    def dump(self) -> list[EventRecord]:
        """The first GetEvent's records (§8): InfoCheckComplete, every value,
        InfoCheckComplete, every allowed list. The terminator is the encoder's."""
        records: list[EventRecord] = [InfoCheckComplete(INFO_CHECK_VALUE)]
        records += [self.record(p) for p in self.values if p not in _ON_REQUEST]
        records.append(InfoCheckComplete(INFO_CHECK_VALUE))
        records += [AvailListChanged(p, kind, values) for p, (kind, values) in self.lists.items()]
        return records

    def set(self, prop: int, value: Value, *, host: bool = True) -> Value:
        """Validate and store a write (``host``: from 0x9110, so read-only props refuse);
        returns the value stored (the list's own form of a number)."""
        if prop not in self:
            raise PropertyError(ResponseCode.DEVICE_PROP_NOT_SUPPORTED, f"no property 0x{prop:04X}")
        if host and prop in READ_ONLY:
            raise PropertyError(ResponseCode.ACCESS_DENIED, f"0x{prop:04X} is read-only")
        stored = self._checked(prop, value)
        self.values[prop] = stored
        return stored

    def _checked(self, prop: int, value: Value) -> Value:
        kind, allowed = self.lists.get(prop, (0, ()))
        if prop in STRING_PROPS:
            if not isinstance(value, str):
                raise PropertyError(
                    ResponseCode.INVALID_DEVICE_PROP_FORMAT, f"0x{prop:04X} takes text"
                )
            return value
        if isinstance(value, str):
            raise PropertyError(ResponseCode.INVALID_DEVICE_PROP_FORMAT, f"0x{prop:04X}: text")
        current = self.values.get(prop)
        if isinstance(value, int):
            if isinstance(current, bytes):
                raise PropertyError(
                    ResponseCode.INVALID_DEVICE_PROP_FORMAT, f"0x{prop:04X} is structured"
                )
            if kind == _ENUMERATION and allowed:
                mask = (1 << 8 * _WIDTH.get(prop, 4)) - 1
                for option in (*allowed, *_ALSO_ALLOWED.get(prop, ())):
                    if isinstance(option, int) and option & mask == value & mask:
                        return option
                raise _not_allowed(prop, value)
            return value
        # bytes: ImageFormat options and other structured values
        if prop in IMAGE_FORMAT_PROPS and allowed and value not in allowed:
            raise _not_allowed(prop, value)
        if isinstance(current, int):
            raise PropertyError(ResponseCode.INVALID_DEVICE_PROP_FORMAT, f"0x{prop:04X}: number")
        return value


def _not_allowed(prop: int, value: Value) -> PropertyError:
    shown = f"0x{value:X}" if isinstance(value, int) else repr(value)
    return PropertyError(
        ResponseCode.INVALID_DEVICE_PROP_VALUE, f"{shown} is not allowed for 0x{prop:04X}"
    )
