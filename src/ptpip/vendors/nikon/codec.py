"""Nikon wire codecs: polled events, the live-view frame, 64-bit partial reads, busy codes.

Pure functions, no I/O. Decoders raise only :class:`RemoteProtocolError` (a live-view frame
without a JPEG raises its subclass :class:`LiveViewError`); encoders raise
:class:`LocalProtocolError`. Sources: vendor-others.md §1; libgphoto2 ``ptp.h``, ``ptp-pack.c``
(``ptp_unpack_Nikon_EC``, ``ptp_unpack_Nikon_EC_EX``), ``library.c`` (``nikon_wait_busy``,
``camera_nikon_capture``, the Nikon branch of ``camera_capture_preview``); live-view header
layouts from digiCamControl's Nikon device classes (unverified against a capture of ours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import DataType
from ptpip.ptp.values import Reader, Writer

__all__ = [
    "CAPTURE_RETRY",
    "DEVICE_READY_BUSY",
    "DEVICE_READY_OK",
    "MAX_EVENT_PARAMS",
    "MAX_LIVEVIEW_HEADER",
    "MAX_VENDOR_PROPS",
    "NOT_LIVE_VIEW",
    "SDRAM_HANDLE",
    "LiveViewError",
    "LiveViewFamily",
    "LiveViewFields",
    "LiveViewInfo",
    "NikonEventRecord",
    "decode_events",
    "decode_events_ex",
    "decode_object_size",
    "decode_partial_ex_params",
    "decode_partial_ex_response",
    "decode_vendor_prop_codes",
    "device_ready_busy",
    "encode_events",
    "encode_events_ex",
    "encode_liveview",
    "encode_object_size",
    "encode_vendor_prop_codes",
    "family_for_model",
    "partial_ex_params",
    "partial_ex_response",
    "split_liveview",
]

Buffer = bytes | bytearray | memoryview

_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF
_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF

# --- constants -------------------------------------------------------------------------------

#: The object a capture to SDRAM leaves behind: libgphoto2 (``camera_nikon_capture``) downloads
#: this handle when ObjectAddedInSDRAM (0xC101) carries 0 or no event names another one.
SDRAM_HANDLE = 0xFFFF_0001

#: DeviceReady (0x90C8) answers that mean "busy, ask again": DeviceBusy and Bulb_Release_Busy
#: (libgphoto2 ``nikon_wait_busy``).
DEVICE_READY_BUSY: frozenset[int] = frozenset({0x2019, 0xA200})
#: DeviceReady answers that end the wait as ready: OK, and Silent_Release_Busy, which
#: ``nikon_wait_busy`` treats as OK because the camera repeats it forever.
DEVICE_READY_OK: frozenset[int] = frozenset({0x2001, 0xA201})
#: Capture-request answers libgphoto2 retries (``camera_nikon_capture``): DeviceBusy,
#: InvalidStatus (0xA004, seen on a Nikon V3) and 0xA207 Waiting_2ndRelease (seen on a D850).
CAPTURE_RETRY: frozenset[int] = frozenset({0x2019, 0xA004, 0xA207})
#: GetLiveViewImg's answer when live view is off (ptp.h NotLiveView; libgphoto2 restarts live
#: view on it, "seen on the D7000 after 14000 frames").
NOT_LIVE_VIEW = 0xA00B


def device_ready_busy(code: int) -> bool:
    """Whether a DeviceReady response code means "still busy, poll again"."""
    return code in DEVICE_READY_BUSY


# --- GetEvent 0x90C7 / GetEventEx 0x941C -----------------------------------------------------

#: GetEventEx entries with more parameters are rejected, as libgphoto2 does (a PTP container
#: holds at most five).
MAX_EVENT_PARAMS = 5


class NikonEventRecord(NamedTuple):
    """One polled event: its code and parameters (one for GetEvent, 0–5 for GetEventEx)."""

    code: int
    params: tuple[int, ...] = ()


EventLike = NikonEventRecord | tuple[int, Sequence[int]]


def decode_events(data: Buffer) -> list[NikonEventRecord]:
    """GetEvent 0x90C7 data: ``u16 count`` + count × (``u16 code``, ``u32 param``).

    The count must fit the bytes present; bytes after the last entry are ignored, as libgphoto2
    ignores them.
    """
    r = Reader(data)
    count = r.pull_u16()
    if count * 6 > r.remaining:
        raise RemoteProtocolError(f"GetEvent: {count} events cannot fit in {r.remaining} bytes")
    return [NikonEventRecord(r.pull_u16(), (r.pull_u32(),)) for _ in range(count)]


def _items(events: Iterable[EventLike], what: str) -> list[tuple[int, tuple[int, ...]]]:
    try:
        items = [(code, tuple(params)) for code, params in events]
    except (TypeError, ValueError):
        raise LocalProtocolError(f"{what} events are (code, parameters) pairs") from None
    if len(items) > _U16_MAX:
        raise LocalProtocolError(f"{what} holds at most 65535 events, got {len(items)}")
    return items


def encode_events(events: Iterable[EventLike]) -> bytes:
    """The GetEvent data for ``events``; each has one parameter (none is sent as 0)."""
    items = _items(events, "GetEvent")
    w = Writer()
    w.push_u16(len(items))
    for code, params in items:
        if len(params) > 1:
            raise LocalProtocolError(f"GetEvent carries one parameter per event, got {params}")
        w.push_u16(code)
        w.push_u32(params[0] if params else 0)
    return w.getvalue()


def decode_events_ex(data: Buffer) -> list[NikonEventRecord]:
    """GetEventEx 0x941C data: ``u16 count``, 2 bytes libgphoto2 skips, then count ×
    (``u16 code``, ``u16 nparams``, nparams × ``u32``).

    An empty list may be just the count. A parameter count above :data:`MAX_EVENT_PARAMS`,
    or one the bytes cannot hold, raises; bytes after the last entry are ignored.
    """
    r = Reader(data)
    count = r.pull_u16()
    if count == 0:
        return []
    r.pull_bytes(2)
    if count * 4 > r.remaining:
        raise RemoteProtocolError(f"GetEventEx: {count} events cannot fit in {r.remaining} bytes")
    events: list[NikonEventRecord] = []
    for index in range(count):
        code, nparams = r.pull_u16(), r.pull_u16()
        if nparams > MAX_EVENT_PARAMS:
            raise RemoteProtocolError(f"GetEventEx: event {index} claims {nparams} parameters")
        if nparams * 4 > r.remaining:
            raise RemoteProtocolError(f"GetEventEx: event {index} is cut short")
        events.append(NikonEventRecord(code, tuple(r.pull_u32() for _ in range(nparams))))
    return events


def encode_events_ex(events: Iterable[EventLike]) -> bytes:
    """The GetEventEx data for ``events``; the two bytes after the count are sent as 0."""
    items = _items(events, "GetEventEx")
    w = Writer()
    w.push_u16(len(items))
    w.push_u16(0)
    for code, params in items:
        if len(params) > MAX_EVENT_PARAMS:
            raise LocalProtocolError(f"GetEventEx events carry at most 5 parameters: {params}")
        w.push_u16(code)
        w.push_u16(len(params))
        for p in params:
            w.push_u32(p)
    return w.getvalue()


# --- GetPartialObjectEx 0x9431, GetObjectSize 0x9421 ----------------------------------------


def _u64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
        raise LocalProtocolError(f"{what} must be an integer in 0..2**64-1, got {value!r}")
    return value


def _halves(value: int) -> tuple[int, int]:
    return value & _U32_MAX, value >> 32


def partial_ex_params(handle: int, offset: int, size: int) -> tuple[int, int, int, int, int]:
    """GetPartialObjectEx parameters (ptp.h): handle, offset low, offset high, max size low,
    max size high."""
    if isinstance(handle, bool) or not isinstance(handle, int) or not 0 <= handle <= _U32_MAX:
        raise LocalProtocolError(f"object handle must be a u32, got {handle!r}")
    return (handle, *_halves(_u64(offset, "offset")), *_halves(_u64(size, "size")))


def _param(params: Sequence[int], index: int, what: str) -> int:
    value = params[index]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U32_MAX:
        raise RemoteProtocolError(f"{what}: parameter {index + 1} is not a u32: {value!r}")
    return value


def decode_partial_ex_params(params: Sequence[int]) -> tuple[int, int, int]:
    """The inverse of :func:`partial_ex_params`: (handle, offset, size) from five parameters."""
    if len(params) != 5:
        raise RemoteProtocolError(f"GetPartialObjectEx takes 5 parameters, got {len(params)}")
    p = [_param(params, i, "GetPartialObjectEx") for i in range(5)]
    return p[0], p[1] | p[2] << 32, p[3] | p[4] << 32


def partial_ex_response(actual: int) -> tuple[int, int]:
    """The response parameters: the bytes actually sent, low half then high half (ptp.h)."""
    return _halves(_u64(actual, "size sent"))


def decode_partial_ex_response(params: Sequence[int]) -> int | None:
    """The size the camera says it sent, or None when the response carries no parameters."""
    if not params:
        return None
    if len(params) == 1:
        return _param(params, 0, "GetPartialObjectEx response")
    return _param(params, 0, "GetPartialObjectEx response") | (
        _param(params, 1, "GetPartialObjectEx response") << 32
    )


# --- GetVendorPropCodes 0x90CA ----------------------------------------------------------------

#: More vendor property codes than a body could have (0xD000-0xDFFF): a longer list is a lie.
MAX_VENDOR_PROPS = 0x1000


def decode_vendor_prop_codes(data: Buffer) -> tuple[int, ...]:
    """GetVendorPropCodes 0x90CA data: a PTP ``u16`` array of the Nikon (0xDxxx) property
    codes, which DeviceInfo does not list (libgphoto2 merges them into it)."""
    r = Reader(data)
    codes = r.pull_array(DataType.UINT16, MAX_VENDOR_PROPS)
    r.expect_end("GetVendorPropCodes")
    return codes


def encode_vendor_prop_codes(codes: Iterable[int]) -> bytes:
    items = [_check_u16(code, "vendor property code") for code in codes]
    if len(items) > MAX_VENDOR_PROPS:
        raise LocalProtocolError(f"{len(items)} vendor property codes (at most {MAX_VENDOR_PROPS})")
    w = Writer()
    w.push_array(DataType.UINT16, items)
    return w.getvalue()


def decode_object_size(data: Buffer) -> int:
    """GetObjectSize 0x9421 data: the object's size as one ``u64`` (ptp.h)."""
    r = Reader(data)
    size = r.pull_u64()
    r.expect_end("GetObjectSize")
    return size


def encode_object_size(size: int) -> bytes:
    w = Writer()
    w.push_u64(_u64(size, "object size"))
    return w.getvalue()


# --- GetLiveViewImg 0x9203 -------------------------------------------------------------------


class LiveViewError(RemoteProtocolError):
    """A live-view answer holds no JPEG where one must be (no SOI, or no EOI after it)."""


class LiveViewFamily(Enum):
    """Header layouts of GetLiveViewImg data, by body family: (header size, field base).

    The header is big-endian; its fields sit at fixed offsets from a base that is 0 on the
    older layout and 8 on the newer one (digiCamControl: NikonD3X/NikonD700 64 bytes,
    NikonD90 128 bytes, NikonBase (NikonD4, NikonD7000, NikonD5100) 384 bytes from 0,
    NikonD600/NikonD3200/NikonD500Base (D500, D750, D850 and the Z classes) 384 bytes from 8;
    libgphoto2 only notes "the 128 byte header").
    """

    D3X = (64, 0)
    D90 = (128, 0)
    D4 = (384, 0)
    Z = (384, 8)

    @property
    def header_size(self) -> int:
        return self.value[0]

    @property
    def field_base(self) -> int:
        return self.value[1]


#: Header sizes tried, smallest first, before the SOI search from the frame's start.
_KNOWN_HEADER_SIZES: tuple[int, ...] = tuple(sorted({f.header_size for f in LiveViewFamily}))
#: A JPEG further in than this is not believed to be a Nikon live-view frame.
MAX_LIVEVIEW_HEADER = 4096
_SOI = b"\xff\xd8\xff"  # SOI and the start of the next marker
_EOI = b"\xff\xd9"

# Field offsets from the family's base (digiCamControl's GetAdditionalLiveViewData).
_LV_SIZE, _IMAGE_SIZE, _FOCUS_SIZE, _FOCUS_CENTER = 0, 4, 16, 20
_ROTATION, _FOCUS_RESULT, _LEVEL, _MOVIE = 29, 40, 44, 60
_FIELDS_END = 61


def _s32(value: int) -> int:
    return value - (1 << 32) if value & 0x8000_0000 else value


@dataclass(frozen=True, slots=True)
class LiveViewFields:
    """The header fields ptpip reads (all big-endian; meanings per digiCamControl, unverified).

    ``level`` holds the roll, pitch and yaw angles as signed 16.16 fixed-point degrees (the
    encoding of AngleLevel 0xD067 in libgphoto2); ``rotation`` 1 is −90°, 2 is +90°;
    ``focus_result`` 1 is read by digiCamControl as "not in focus".
    """

    liveview_size: tuple[int, int] = (0, 0)
    image_size: tuple[int, int] = (0, 0)
    focus_area: tuple[int, int] = (0, 0)
    focus_center: tuple[int, int] = (0, 0)
    rotation: int = 0
    focus_result: int = 0
    level: tuple[int, int, int] = (0, 0, 0)
    movie_recording: int = 0

    @property
    def level_degrees(self) -> tuple[float, float, float]:
        """``level`` in degrees."""
        roll, pitch, yaw = self.level
        return roll / 65536, pitch / 65536, yaw / 65536


@dataclass(frozen=True, slots=True)
class LiveViewInfo:
    """What :func:`split_liveview` found: the header size, the family it points to (None
    when the size is shared or unknown and no family was given) and that family's fields."""

    header_size: int
    family: LiveViewFamily | None
    fields: LiveViewFields | None


def _u16be(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 2], "big")


def _pair(b: bytes, off: int) -> tuple[int, int]:
    return _u16be(b, off), _u16be(b, off + 2)


def _read_fields(header: bytes, base: int) -> LiveViewFields:
    def u32(rel: int) -> int:
        return _s32(int.from_bytes(header[base + rel : base + rel + 4], "big"))

    return LiveViewFields(
        liveview_size=_pair(header, base + _LV_SIZE),
        image_size=_pair(header, base + _IMAGE_SIZE),
        focus_area=_pair(header, base + _FOCUS_SIZE),
        focus_center=_pair(header, base + _FOCUS_CENTER),
        rotation=header[base + _ROTATION],
        focus_result=header[base + _FOCUS_RESULT],
        level=(u32(_LEVEL), u32(_LEVEL + 4), u32(_LEVEL + 8)),
        movie_recording=header[base + _MOVIE],
    )


def _family_of(header_size: int) -> LiveViewFamily | None:
    matches = [f for f in LiveViewFamily if f.header_size == header_size]
    return matches[0] if len(matches) == 1 else None


def split_liveview(
    data: Buffer, family: LiveViewFamily | None = None
) -> tuple[bytes, bytes, LiveViewInfo]:
    """GetLiveViewImg data → (header, JPEG, info), without assuming one header size.

    With ``family`` the JPEG must start right after that family's header (a cross-check).
    Without it the known header sizes are tried (64, 128, 384), then the first SOI within
    :data:`MAX_LIVEVIEW_HEADER` bytes, as libgphoto2 searches. The JPEG ends at the last EOI;
    bytes after it are dropped. No SOI, or no EOI after it, raises :class:`LiveViewError`.
    """
    raw = bytes(data)
    if family is not None:
        start = family.header_size
        if raw[start : start + 3] != _SOI:
            raise LiveViewError(
                f"live view: no JPEG after the {start}-byte {family.name} header ({len(raw)} bytes)"
            )
    else:
        known = [n for n in _KNOWN_HEADER_SIZES if raw[n : n + 3] == _SOI]
        start = known[0] if known else raw.find(_SOI, 0, MAX_LIVEVIEW_HEADER + 3)
        if start < 0:
            raise LiveViewError(f"live view: no JPEG SOI in {len(raw)} bytes")
        family = _family_of(start)
    end = raw.rfind(_EOI, start + 2)
    if end < 0:
        raise LiveViewError(f"live view: the JPEG at {start} has no EOI")
    header = raw[:start]
    fields = None
    if family is not None and len(header) >= family.field_base + _FIELDS_END:
        fields = _read_fields(header, family.field_base)
    return header, raw[start : end + 2], LiveViewInfo(start, family, fields)


def _check_u16(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U16_MAX:
        raise LocalProtocolError(f"{what} must be a u16, got {value!r}")
    return value


def _write_fields(header: bytearray, base: int, f: LiveViewFields) -> None:
    pairs = (
        (_LV_SIZE, f.liveview_size, "live-view size"),
        (_IMAGE_SIZE, f.image_size, "image size"),
        (_FOCUS_SIZE, f.focus_area, "focus area"),
        (_FOCUS_CENTER, f.focus_center, "focus centre"),
    )
    for rel, (a, b), what in pairs:
        header[base + rel : base + rel + 4] = _check_u16(a, what).to_bytes(2, "big") + _check_u16(
            b, what
        ).to_bytes(2, "big")
    for rel, value, what in (
        (_ROTATION, f.rotation, "rotation"),
        (_FOCUS_RESULT, f.focus_result, "focus result"),
        (_MOVIE, f.movie_recording, "movie recording"),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise LocalProtocolError(f"{what} must be a u8, got {value!r}")
        header[base + rel] = value
    for i, angle in enumerate(f.level):
        if isinstance(angle, bool) or not isinstance(angle, int):
            raise LocalProtocolError(f"level angles are 16.16 integers, got {angle!r}")
        try:
            raw = angle.to_bytes(4, "big", signed=True)
        except OverflowError:
            raise LocalProtocolError(f"level angle {angle} does not fit 32 bits") from None
        header[base + _LEVEL + 4 * i : base + _LEVEL + 4 * i + 4] = raw


def encode_liveview(
    jpeg: bytes,
    header_size: int | None = None,
    fields: LiveViewFields | None = None,
    *,
    family: LiveViewFamily = LiveViewFamily.Z,
) -> bytes:
    """GetLiveViewImg data as a camera of ``family`` sends it: the header, then the JPEG.

    ``header_size`` defaults to the family's; a header of another size is all zeros (fields
    need the family's layout). ``fields`` are written at the family's offsets; without them
    the header is zeros.
    """
    if not jpeg.startswith(_SOI) or not jpeg.endswith(_EOI):
        raise LocalProtocolError("a live-view JPEG must start with FF D8 FF and end with FF D9")
    size = family.header_size if header_size is None else header_size
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_LIVEVIEW_HEADER:
        raise LocalProtocolError(f"header size must be 0..{MAX_LIVEVIEW_HEADER}, got {size!r}")
    header = bytearray(size)
    if fields is not None:
        if size != family.header_size:
            raise LocalProtocolError(
                f"fields need the {family.name} header of {family.header_size} bytes, not {size}"
            )
        _write_fields(header, family.field_base, fields)
    if _SOI in bytes(header) + jpeg[:2]:
        # split_liveview stops at the first SOI; one inside the header would hide the JPEG
        raise LocalProtocolError("the live-view header must not contain FF D8 FF")
    return bytes(header) + jpeg


def family_for_model(model: str) -> LiveViewFamily | None:
    """The header family of a DeviceInfo Model, where a client library names it; else None.

    From digiCamControl's class per body: "Z …" bodies and the D500/D600/D750/D850/D3200 use
    the 8-byte-offset layout; the D3X and D700 a 64-byte header; the D90 a 128-byte one; the
    D4/D7000/D5100 the 384-byte one from offset 0. Other bodies (the D800's class reads its
    fields inconsistently): None, and the SOI decides.
    """
    m = " ".join(model.strip().upper().split())
    m = m.removeprefix("NIKON ").strip()
    if m.startswith("Z"):
        return LiveViewFamily.Z
    table = {
        "D3X": LiveViewFamily.D3X,
        "D700": LiveViewFamily.D3X,
        "D90": LiveViewFamily.D90,
        "D4": LiveViewFamily.D4,
        "D7000": LiveViewFamily.D4,
        "D5100": LiveViewFamily.D4,
        "D500": LiveViewFamily.Z,
        "D600": LiveViewFamily.Z,
        "D750": LiveViewFamily.Z,
        "D850": LiveViewFamily.Z,
        "D3200": LiveViewFamily.Z,
    }
    return table.get(m)
