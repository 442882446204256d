"""Canon EOS wire codecs: GetEvent records, SetDevicePropValueEx data, viewfinder blocks.

Pure functions, no I/O. Decoders raise only :class:`RemoteProtocolError`; encoders raise
:class:`LocalProtocolError`. Layouts: vendor-canon.md §8 (0x9116), §9 (0x9110), §10.9
(ImageFormat), §12 (0x9153).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.values import Reader, Writer
from ptpip.vendors.canon.tables import IMAGE_COMPRESSION, IMAGE_KIND, IMAGE_SIZE

__all__ = [
    "IMAGE_FORMAT_PROPS",
    "JPEG_BLOCK_TYPES",
    "STRING_PROPS",
    "TERMINATOR",
    "AvailListChanged",
    "CameraStatusChanged",
    "EosEventCode",
    "EventRecord",
    "ImageFormatEntry",
    "InfoCheckComplete",
    "ObjectAdded",
    "ObjectRemoved",
    "PropValueChanged",
    "RequestObjectTransfer",
    "UnknownRecord",
    "ViewfinderBlock",
    "decode_events",
    "decode_image_format",
    "decode_set_prop_ex",
    "decode_viewfinder",
    "encode_events",
    "encode_image_format",
    "encode_set_prop_ex",
    "encode_viewfinder",
    "format_image_format",
    "viewfinder_jpeg",
]


class EosEventCode(IntEnum):
    """GetEvent record codes ptpip decodes (vendor-canon.md §7)."""

    OBJECT_ADDED_EX = 0xC181
    OBJECT_REMOVED = 0xC182
    REQUEST_OBJECT_TRANSFER = 0xC186
    OBJECT_INFO_CHANGED_EX = 0xC187
    PROP_VALUE_CHANGED = 0xC189
    AVAIL_LIST_CHANGED = 0xC18A
    CAMERA_STATUS_CHANGED = 0xC18B
    INFO_CHECK_COMPLETE = 0xC1A4
    OBJECT_ADDED_EX64 = 0xC1A7
    REQUEST_OBJECT_TRANSFER64 = 0xC1A9


#: The 8-byte record that ends GetEvent data: size 8, code 0.
TERMINATOR = b"\x08\x00\x00\x00\x00\x00\x00\x00"

#: Props whose PropValueChanged value is ASCII + NUL (libgphoto2's fixed table, §8).
STRING_PROPS = frozenset({0xD115, 0xD125, 0xD1AF, 0xD1D0, 0xD1D1, 0xD1D8})
#: ImageFormat props: value and AvailList options are `u32 n + n × entry` (§10.9).
IMAGE_FORMAT_PROPS = frozenset({0xD120, 0xD121, 0xD122, 0xD123})

_U32_MAX = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class PropValueChanged:
    """0xC189. ``value``: int for 4-byte values, str for ASCII+NUL string props, else bytes.

    ImageFormat values stay bytes (see :func:`decode_image_format`); 0xD104 keeps its raw
    u32 (see :func:`ptpip.vendors.canon.tables.signed_exp_compensation`).
    """

    prop: int
    value: int | bytes | str

    code = EosEventCode.PROP_VALUE_CHANGED


@dataclass(frozen=True, slots=True)
class AvailListChanged:
    """0xC18A. ``values``: ints for 4-byte slots; bytes per option otherwise (ImageFormat)."""

    prop: int
    list_type: int
    values: tuple[int, ...] | tuple[bytes, ...]

    code = EosEventCode.AVAIL_LIST_CHANGED


@dataclass(frozen=True, slots=True)
class ObjectAdded:
    """0xC181 ObjectAddedEx, 0xC187 ObjectInfoChangedEx, or 0xC1A7 ObjectAddedEx64."""

    handle: int
    storage_id: int
    object_format: int
    size: int
    parent: int
    filename: str
    code: int = EosEventCode.OBJECT_ADDED_EX


@dataclass(frozen=True, slots=True)
class RequestObjectTransfer:
    """0xC186 (or 0xC1A9): the image waits in camera RAM; download it."""

    handle: int
    object_format: int
    size: int
    filename: str
    code: int = EosEventCode.REQUEST_OBJECT_TRANSFER


@dataclass(frozen=True, slots=True)
class ObjectRemoved:
    """0xC182."""

    handle: int

    code = EosEventCode.OBJECT_REMOVED


@dataclass(frozen=True, slots=True)
class CameraStatusChanged:
    """0xC18B; status 1 means busy."""

    status: int

    code = EosEventCode.CAMERA_STATUS_CHANGED


@dataclass(frozen=True, slots=True)
class InfoCheckComplete:
    """0xC1A4 CTG InfoCheckComplete; the real camera sends 0x00020001."""

    value: int

    code = EosEventCode.INFO_CHECK_COMPLETE


@dataclass(frozen=True, slots=True)
class UnknownRecord:
    """Any record ptpip does not decode, or one too short for its code's layout."""

    code: int
    body: bytes


EventRecord = (
    PropValueChanged
    | AvailListChanged
    | ObjectAdded
    | RequestObjectTransfer
    | ObjectRemoved
    | CameraStatusChanged
    | InfoCheckComplete
    | UnknownRecord
)


# --- ImageFormat (§10.9) ---------------------------------------------------------------------


class ImageFormatEntry(NamedTuple):
    """One ImageFormat entry: kind (1 JPEG, 6 RAW), size (0 L …), compression (3 Fine …)."""

    kind: int
    size: int
    compression: int


_ENTRY_SIZE = 16


def _pull_image_format(r: Reader) -> tuple[ImageFormatEntry, ...]:
    count = r.pull_u32()
    if count * _ENTRY_SIZE > r.remaining:
        raise RemoteProtocolError(f"ImageFormat: {count} entries do not fit {r.remaining} bytes")
    entries = []
    for _ in range(count):
        entry_size = r.pull_u32()
        if entry_size < _ENTRY_SIZE or entry_size - 4 > r.remaining:
            raise RemoteProtocolError(f"ImageFormat: bad entry size {entry_size}")
        entries.append(ImageFormatEntry(r.pull_u32(), r.pull_u32(), r.pull_u32()))
        r.pull_bytes(entry_size - _ENTRY_SIZE)  # fields newer bodies may add
    return tuple(entries)


def decode_image_format(data: bytes) -> tuple[ImageFormatEntry, ...]:
    """An ImageFormat value (or one AvailList option): ``u32 n`` + n × 16-byte entries."""
    r = Reader(data)
    entries = _pull_image_format(r)
    r.expect_end("ImageFormat")
    return entries


def encode_image_format(entries: Iterable[ImageFormatEntry | tuple[int, int, int]]) -> bytes:
    w = Writer()
    items = list(entries)
    w.push_u32(len(items))
    for kind, size, compression in items:
        for v in (_ENTRY_SIZE, kind, size, compression):
            w.push_u32(v)
    return w.getvalue()


def format_image_format(entries: Sequence[ImageFormatEntry]) -> str:
    """ "L-Fine", "RAW + L-Fine", "RAW": the camera's own option names."""
    parts = []
    for e in entries:
        if e.kind == 6:
            parts.append("RAW")
            continue
        size = IMAGE_SIZE.get(e.size, f"size {e.size}")
        quality = IMAGE_COMPRESSION.get(e.compression, f"q{e.compression}")
        kind = "" if e.kind == 1 else IMAGE_KIND.get(e.kind, f"type {e.kind}") + " "
        parts.append(f"{kind}{size}-{quality}")
    parts.sort(key=lambda p: p != "RAW")
    return " + ".join(parts) if parts else "none"


# --- GetEvent (0x9116), §8 -----------------------------------------------------------------


def _ascii(raw: bytes) -> str:
    end = raw.find(0)
    return (raw if end < 0 else raw[:end]).decode("ascii", errors="replace")


def _prop_value(prop: int, raw: bytes) -> int | bytes | str:
    if prop in STRING_PROPS:
        # only the exact "text NUL" form becomes a str, so re-encoding gives the same bytes
        if raw.find(0) == len(raw) - 1 and raw[:-1].isascii():
            return raw[:-1].decode("ascii")
        return raw
    if prop not in IMAGE_FORMAT_PROPS and len(raw) == 4:
        return int.from_bytes(raw, "little")
    return raw


def _decode_prop_value(code: int, body: bytes) -> EventRecord | None:
    if len(body) < 4:
        return None
    prop = _u32(body, 0)
    return PropValueChanged(prop, _prop_value(prop, body[4:]))


def _split_options(rest: bytes, count: int) -> tuple[bytes, ...] | None:
    if count * 4 > len(rest):
        return None
    r = Reader(rest)
    options = []
    try:
        for _ in range(count):
            start = r.pos
            _pull_image_format(r)
            options.append(rest[start : r.pos])
    except RemoteProtocolError:
        return None
    return tuple(options) if r.at_end() else None


def _decode_avail_list(code: int, body: bytes) -> EventRecord | None:
    if len(body) < 12:
        return None
    prop, list_type, count = _u32(body, 0), _u32(body, 4), _u32(body, 8)
    rest = body[12:]
    values: tuple[int, ...] | tuple[bytes, ...] | None = None
    if prop in IMAGE_FORMAT_PROPS and count:
        values = _split_options(rest, count)
    if values is None:
        if len(rest) == 4 * count:
            values = tuple(_u32(rest, 4 * i) for i in range(count))
        elif count and rest and len(rest) % count == 0:
            width = len(rest) // count
            values = tuple(rest[i : i + width] for i in range(0, len(rest), width))
        else:
            return None
    return AvailListChanged(prop, list_type, values)


def _decode_object_added(code: int, body: bytes) -> EventRecord | None:
    # offsets below are from the record start, body offset = record offset − 8
    if code == EosEventCode.OBJECT_ADDED_EX64:
        if len(body) < 0x2D - 8:
            return None
        size = int.from_bytes(body[0x14:0x1C], "little")
        parent, name = _u32(body, 0x1C), body[0x24:]
    else:
        if len(body) < 0x29 - 8:
            return None
        size, parent, name = _u32(body, 0x14), _u32(body, 0x18), body[0x20:]
    return ObjectAdded(
        _u32(body, 0), _u32(body, 4), _u16(body, 8), size, parent, _ascii(name), code
    )


def _decode_transfer(code: int, body: bytes) -> EventRecord | None:
    if len(body) < 0x1D - 8:
        return None
    return RequestObjectTransfer(
        _u32(body, 0), _u16(body, 4), _u32(body, 0x0C), _ascii(body[0x14:]), code
    )


def _single_u32(cls: Callable[[int], EventRecord]) -> Callable[[int, bytes], EventRecord | None]:
    def decode(code: int, body: bytes) -> EventRecord | None:
        return cls(_u32(body, 0)) if len(body) == 4 else None

    return decode


_DECODERS: dict[int, Callable[[int, bytes], EventRecord | None]] = {
    EosEventCode.PROP_VALUE_CHANGED: _decode_prop_value,
    EosEventCode.AVAIL_LIST_CHANGED: _decode_avail_list,
    EosEventCode.OBJECT_ADDED_EX: _decode_object_added,
    EosEventCode.OBJECT_INFO_CHANGED_EX: _decode_object_added,
    EosEventCode.OBJECT_ADDED_EX64: _decode_object_added,
    EosEventCode.REQUEST_OBJECT_TRANSFER: _decode_transfer,
    EosEventCode.REQUEST_OBJECT_TRANSFER64: _decode_transfer,
    EosEventCode.OBJECT_REMOVED: _single_u32(ObjectRemoved),
    EosEventCode.CAMERA_STATUS_CHANGED: _single_u32(CameraStatusChanged),
    EosEventCode.INFO_CHECK_COMPLETE: _single_u32(InfoCheckComplete),
}


def _u32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little")


def _u16(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 2], "little")


def decode_events(data: bytes | bytearray | memoryview) -> list[EventRecord]:
    """Decode GetEvent data into records, in order, without the terminator.

    The rule: records are read until a record with code 0 (the 8-byte terminator; the 12-byte
    zero record some simulators send counts too), after which anything (a trailing response
    container, padding) is ignored. Data that simply ends on a record boundary without a
    terminator is accepted (vcam sends that). A tail that cannot be a record — fewer than 8
    bytes, a size < 8, or a size beyond the data — raises :class:`RemoteProtocolError`.
    A record whose body does not fit its code's layout becomes an :class:`UnknownRecord`.
    """
    r = Reader(data)
    records: list[EventRecord] = []
    while not r.at_end():
        start = r.pos
        if r.remaining < 8:
            raise RemoteProtocolError(f"GetEvent: {r.remaining} stray bytes at offset {start}")
        size, code = r.pull_u32(), r.pull_u32()
        if size < 8 or size - 8 > r.remaining:
            raise RemoteProtocolError(
                f"GetEvent: record at offset {start} has size {size}, {r.remaining + 8} left"
            )
        body = r.pull_bytes(size - 8)
        if code == 0:
            break
        decoder = _DECODERS.get(code)
        record = decoder(code, body) if decoder is not None else None
        records.append(record if record is not None else UnknownRecord(code, body))
    return records


_OBJECT_ADDED_CODES = (
    EosEventCode.OBJECT_ADDED_EX,
    EosEventCode.OBJECT_INFO_CHANGED_EX,
    EosEventCode.OBJECT_ADDED_EX64,
)
_TRANSFER_CODES = (EosEventCode.REQUEST_OBJECT_TRANSFER, EosEventCode.REQUEST_OBJECT_TRANSFER64)


def _push_u32s(w: Writer, *values: int) -> None:
    for v in values:
        w.push_u32(v)


def _push_name(w: Writer, name: str) -> None:
    raw = _ascii_bytes(name, "filename")
    w.push_bytes(raw)
    w.push_bytes(bytes(4 - len(raw) % 4))  # NUL, padded to 4 like the camera's records


def _ascii_bytes(text: str, what: str) -> bytes:
    if not text.isascii() or "\x00" in text:
        raise LocalProtocolError(f"{what} must be ASCII without NUL: {text!r}")
    return text.encode("ascii")


def _push_value(w: Writer, value: int | bytes | str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | bytes | str):
        raise LocalProtocolError(f"unsupported EOS property value {value!r}")
    if isinstance(value, int):
        w.push_u32(value)
    elif isinstance(value, str):
        w.push_bytes(_ascii_bytes(value, "EOS string value") + b"\x00")
    else:
        w.push_bytes(value)


def _record_body(record: EventRecord) -> tuple[int, bytes]:
    w = Writer()
    match record:
        case PropValueChanged(prop, value):
            w.push_u32(prop)
            _push_value(w, value)
        case AvailListChanged(prop, list_type, values):
            _push_u32s(w, prop, list_type, len(values))
            kinds = {type(v) for v in values}
            if kinds == {int}:
                _push_u32s(w, *(v for v in values if isinstance(v, int)))
            elif kinds == {bytes}:
                for v in values:
                    if isinstance(v, bytes):
                        w.push_bytes(v)
            elif kinds:
                raise LocalProtocolError(f"AvailList values must be all ints or all bytes: {kinds}")
        case ObjectAdded(handle, storage, ofc, size, parent, name, code):
            if code not in _OBJECT_ADDED_CODES:
                raise LocalProtocolError(f"ObjectAdded code must be one of {_OBJECT_ADDED_CODES}")
            _push_u32s(w, handle, storage)
            w.push_u16(ofc)
            if code == EosEventCode.OBJECT_ADDED_EX64:
                w.push_bytes(bytes(10))
                w.push_u64(size)
                _push_u32s(w, parent, 0)  # @0x28 "second OID": meaning unknown, sent as 0
            else:
                w.push_bytes(bytes(10))
                _push_u32s(w, size, parent, 0)
            _push_name(w, name)
        case RequestObjectTransfer(handle, ofc, size, name, code):
            if code not in _TRANSFER_CODES:
                raise LocalProtocolError(f"RequestObjectTransfer code must be in {_TRANSFER_CODES}")
            w.push_u32(handle)
            w.push_u16(ofc)
            w.push_bytes(bytes(6))
            _push_u32s(w, size, 0)
            _push_name(w, name)
        case ObjectRemoved(v) | CameraStatusChanged(v) | InfoCheckComplete(v):
            w.push_u32(v)
        case UnknownRecord(_, body):
            w.push_bytes(body)
        case _:
            raise LocalProtocolError(f"not an EOS event record: {record!r}")
    return int(record.code), w.getvalue()


def encode_events(records: Iterable[EventRecord]) -> bytes:
    """GetEvent data for ``records``, always ending with the 8-byte terminator."""
    w = Writer()
    for record in records:
        code, body = _record_body(record)
        if not 0 < code <= _U32_MAX:
            raise LocalProtocolError(f"EOS record code must be a non-zero u32, got {code!r}")
        if len(body) + 8 > _U32_MAX:
            raise LocalProtocolError("EOS record too long")
        _push_u32s(w, len(body) + 8, code)
        w.push_bytes(body)
    w.push_bytes(TERMINATOR)
    return w.getvalue()


# --- SetDevicePropValueEx (0x9110), §9 ---------------------------------------------------


def encode_set_prop_ex(prop: int, value: int | str | bytes) -> bytes:
    """0x9110 data: ``u32 size, u32 prop`` + a 4-byte number, ASCII + NUL, or raw bytes."""
    w = Writer()
    _push_value(w, value)
    body = w.getvalue()
    out = Writer()
    _push_u32s(out, 8 + len(body), prop)
    out.push_bytes(body)
    return out.getvalue()


def decode_set_prop_ex(data: bytes | bytearray | memoryview) -> tuple[int, int | str | bytes]:
    """0x9110 data → (prop, value): str for string props, int for a 4-byte value, else bytes.

    Bytes after ``size`` (padding) are ignored.
    """
    r = Reader(data)
    size, prop = r.pull_u32(), r.pull_u32()
    if size < 8 or size - 8 > r.remaining:
        raise RemoteProtocolError(f"SetDevicePropValueEx: size {size} with {len(data)} bytes")
    raw = r.pull_bytes(size - 8)
    if prop in STRING_PROPS:
        return prop, _ascii(raw)
    if len(raw) == 4:
        return prop, int.from_bytes(raw, "little")
    return prop, raw


# --- GetViewFinderData (0x9153), §12 ------------------------------------------------------

#: Block types that carry a JPEG frame: photo live view, the alternative form, movie mode.
JPEG_BLOCK_TYPES = (0x01, 0x0B, 0x09)
_SOI = b"\xff\xd8"


@dataclass(frozen=True, slots=True)
class ViewfinderBlock:
    """One 0x9153 block: ``u32 length (incl. 8-byte header), u32 type, body``."""

    kind: int
    body: bytes


def decode_viewfinder(data: bytes | bytearray | memoryview) -> list[ViewfinderBlock]:
    """All blocks up to and including the type-0, length-8 end block, or to the end of data.

    Bytes after the end block are ignored. A block length < 8 or beyond the data raises.
    """
    r = Reader(data)
    blocks: list[ViewfinderBlock] = []
    while not r.at_end():
        start = r.pos
        if r.remaining < 8:
            raise RemoteProtocolError(f"viewfinder: {r.remaining} stray bytes at offset {start}")
        length, kind = r.pull_u32(), r.pull_u32()
        if length < 8 or length - 8 > r.remaining:
            raise RemoteProtocolError(
                f"viewfinder: block at offset {start} has length {length}, {r.remaining + 8} left"
            )
        blocks.append(ViewfinderBlock(kind, r.pull_bytes(length - 8)))
        if kind == 0 and length == 8:
            break
    return blocks


def encode_viewfinder(blocks: Iterable[ViewfinderBlock]) -> bytes:
    """The blocks as given; include ``ViewfinderBlock(0, b"")`` to end with the end block."""
    w = Writer()
    for block in blocks:
        if len(block.body) + 8 > _U32_MAX:
            raise LocalProtocolError("viewfinder block too long")
        _push_u32s(w, len(block.body) + 8, block.kind)
        w.push_bytes(block.body)
    return w.getvalue()


def viewfinder_jpeg(blocks: Iterable[ViewfinderBlock]) -> bytes | None:
    """The JPEG of the first frame block (from its SOI on), or None if there is none."""
    for block in blocks:
        if block.kind in JPEG_BLOCK_TYPES:
            start = block.body.find(_SOI)
            return block.body[start:] if start >= 0 else None
    return None
