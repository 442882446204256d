"""PTP/IP packets (CIPA DC-X005 §2.3): one frozen dataclass per packet type, encode and decode.

Every packet is ``u32 length, u32 type, payload``; ``encode()`` returns the whole packet,
``decode_packet(type, payload)`` the object. Decoders are lenient where real cameras deviate
(seed 000 Leica, seed 002 Canon, the Fuji init) and raise RemoteProtocolError otherwise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import UNKNOWN_DATA_LENGTH, DataPhase, PacketType

__all__ = [
    "FUJI_INIT_MAGIC",
    "FUJI_INIT_NAME_BYTES",
    "HEADER",
    "MAX_EVENT_PARAMS",
    "MAX_PARAMS",
    "PROTOCOL_VERSION_1_0",
    "Cancel",
    "Data",
    "EndData",
    "Event",
    "FujiInitCommandRequest",
    "InitCommandAck",
    "InitCommandRequest",
    "InitEventAck",
    "InitEventRequest",
    "InitFail",
    "OperationRequest",
    "OperationResponse",
    "Packet",
    "ProbeRequest",
    "ProbeResponse",
    "StartData",
    "decode_packet",
    "header",
    "length_bounds",
]

HEADER = struct.Struct("<II")
#: ProtocolVersion 1.0: major in the high 16 bits (bytes ``00 00 01 00``).
PROTOCOL_VERSION_1_0 = 0x0001_0000
#: Fuji's "version" magic, sent where the GUID normally starts (vendor-fuji.md §2.1).
FUJI_INIT_MAGIC = 0x8F53_E4F2
#: Fuji pads the initiator name into a fixed 54-byte field, giving an 82-byte packet.
FUJI_INIT_NAME_BYTES = 54
MAX_PARAMS = 5
MAX_EVENT_PARAMS = 3
#: PTP strings, and so friendly names, hold at most 255 UTF-16 units with the NUL.
_MAX_NAME_UNITS = 255

_U32 = struct.Struct("<I")
_OP_REQUEST = struct.Struct("<IHI")
_CODE_TID = struct.Struct("<HI")
_START_DATA = struct.Struct("<IQ")


def header(ptype: int, payload_length: int) -> bytes:
    """The 8-byte packet header for a payload of ``payload_length`` bytes."""
    return HEADER.pack(8 + payload_length, ptype)


def _guid(guid: bytes) -> bytes:
    if len(guid) != 16:
        raise LocalProtocolError(f"a GUID is 16 bytes, got {len(guid)}")
    return bytes(guid)


def _encode_name(name: str, terminated: bool = True) -> bytes:
    raw = name.encode("utf-16-le", errors="surrogatepass")
    if len(raw) // 2 + 1 > _MAX_NAME_UNITS:
        raise LocalProtocolError(f"friendly name longer than {_MAX_NAME_UNITS - 1} UTF-16 units")
    if "\x00" in name:
        raise LocalProtocolError("friendly names cannot contain NUL")
    return raw + b"\x00\x00" if terminated else raw


def _decode_name(raw: bytes | memoryview) -> tuple[str, int]:
    """UTF-16LE up to the first NUL unit, and that unit's offset (-1 when there is none)."""
    raw = bytes(raw)
    if len(raw) % 2:
        raise RemoteProtocolError(f"friendly name field of odd length {len(raw)}")
    for i in range(0, len(raw), 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            return raw[:i].decode("utf-16-le", errors="replace"), i
    return raw.decode("utf-16-le", errors="replace"), -1


def _split_name_version(
    region: bytes | memoryview, version_required: bool
) -> tuple[str, bool, int | None, int | None]:
    """Split ``name [NUL] [padding] version`` leniently.

    Returns (name, terminated, version, name_field_bytes). The version is always the last
    4 bytes (ptpip-standard.md §3.1), which covers:
    - seed 000 (Leica): "OLS" with no NUL, the version's ``00 00`` doubling as terminator;
    - Fuji's 68-byte ack: a zero-padded name field before the version.
    Without ``version_required``, a name whose NUL ends the packet has no version at all
    (libgphoto2's PTPIP.TXT ack form).
    """
    region = bytes(region)
    if not version_required and len(region) % 2 == 0:
        name, nul = _decode_name(region)
        if nul == len(region) - 2:
            return name, True, None, None
    if len(region) < 4:
        raise RemoteProtocolError("init packet too short for a protocol version")
    body = region[:-4]
    name, nul = _decode_name(body)
    field = len(body) if 0 <= nul < len(body) - 2 else None
    return name, nul >= 0, _U32.unpack_from(region, len(region) - 4)[0], field


def _params(data: bytes | memoryview, offset: int, limit: int, what: str) -> tuple[int, ...]:
    rest = len(data) - offset
    if rest % 4:
        raise RemoteProtocolError(f"{what}: parameter bytes ({rest}) not a multiple of 4")
    count = rest // 4
    if count > limit:
        raise RemoteProtocolError(f"{what}: {count} parameters, at most {limit} allowed")
    return struct.unpack_from(f"<{count}I", data, offset)


def _check_params(params: tuple[int, ...], limit: int, what: str) -> bytes:
    if len(params) > limit:
        raise LocalProtocolError(f"{what} carries at most {limit} parameters, got {len(params)}")
    try:
        return struct.pack(f"<{len(params)}I", *params)
    except struct.error:
        raise LocalProtocolError(f"{what} parameters must be u32 values: {params!r}") from None


def _u32(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise LocalProtocolError(f"{what} {value!r} is not a u32")
    return value


def _u16(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFF:
        raise LocalProtocolError(f"{what} {value!r} is not a u16")
    return value


@dataclass(frozen=True, slots=True)
class InitCommandRequest:
    """Type 1: the initiator introduces itself on the command connection.

    Decoding is lenient where initiators deviate (see :func:`_split_request_tail`): a name
    with no NUL (seed 000's Leica/FOTOS client), no version, or a 2-byte one.
    """

    TYPE: ClassVar[PacketType] = PacketType.INIT_COMMAND_REQUEST
    guid: bytes
    friendly_name: str
    #: None: the initiator sent no version field at all.
    protocol_version: int | None = PROTOCOL_VERSION_1_0
    #: False reproduces seed 000's Leica/FOTOS client, which sends no NUL after the name.
    name_terminated: bool = True

    def encode(self) -> bytes:
        payload = _guid(self.guid) + _encode_name(self.friendly_name, self.name_terminated)
        if self.protocol_version is not None:
            payload += _U32.pack(_u32(self.protocol_version, "protocol version"))
        elif not self.name_terminated and not self.friendly_name:
            raise LocalProtocolError("an Init Command Request needs a name, a NUL or a version")
        return header(self.TYPE, len(payload)) + payload

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> InitCommandRequest | FujiInitCommandRequest:
        if len(payload) < 18:
            raise RemoteProtocolError(f"Init Command Request payload of {len(payload)} bytes")
        if _U32.unpack_from(payload, 0)[0] == FUJI_INIT_MAGIC:
            return FujiInitCommandRequest.decode(payload)
        name, terminated, version = _split_request_tail(payload[16:])
        return cls(bytes(payload[:16]), name, version, terminated)


#: A UTF-16 unit below this is a control character: at the end of the request it is read
#: as part of a version, never as a character of the name.
_FIRST_NAME_UNIT = 0x20


def _split_request_tail(region: bytes | memoryview) -> tuple[str, bool, int | None]:
    """(name, NUL-terminated, version or None) of what follows the GUID of a request.

    Read from where the name's first NUL unit falls, counted from the end:

    - 6 bytes before it or more: ``name NUL [padding] version`` (CIPA; the version is the
      last 4 bytes);
    - 4 bytes before: ``name version`` whose low half is 0 (seed 000's ``OLS`` + 1.0) -- the
      same bytes as ``name NUL`` + a 2-byte version, which so reads as that version << 16;
    - 2 bytes before: ``name NUL`` with no version -- unless the unit before the NUL is a
      control character: then ``name version`` with a zero high half (0x00000001);
    - no NUL: ``name version`` when a unit of the last 4 bytes is a control character,
      else a name alone (no NUL, no version).
    """
    raw = bytes(region)
    size = len(raw)
    if size % 2:
        raise RemoteProtocolError(f"Init Command Request name and version of odd length {size}")
    name, nul = _decode_name(raw)
    if nul >= 0 and size - nul >= 4:
        return name, size - nul > 4, _U32.unpack_from(raw, size - 4)[0]
    tail = struct.unpack_from("<2H", raw, size - 4) if size >= 4 else (0xFFFF, 0xFFFF)
    if nul >= 0:  # the NUL is the last unit
        if tail[0] < _FIRST_NAME_UNIT:
            return _decode_name(raw[:-4])[0], False, _U32.unpack_from(raw, size - 4)[0]
        return name, True, None
    if min(tail) < _FIRST_NAME_UNIT:
        return _decode_name(raw[:-4])[0], False, _U32.unpack_from(raw, size - 4)[0]
    return name, False, None


@dataclass(frozen=True, slots=True)
class FujiInitCommandRequest:
    """Type 1, Fuji form: magic 0x8F53E4F2, GUID, then the name in a fixed 54-byte field.

    ``name_field_bytes=None`` sends the unpadded variant malc0mn uses (the X-T1 accepts it);
    real apps and libgphoto2 always send 82 bytes, and the X-T4 accepts nothing else.
    """

    TYPE: ClassVar[PacketType] = PacketType.INIT_COMMAND_REQUEST
    guid: bytes
    friendly_name: str
    name_field_bytes: int | None = FUJI_INIT_NAME_BYTES

    def encode(self) -> bytes:
        name = _encode_name(self.friendly_name)
        if self.name_field_bytes is not None:
            if len(name) > self.name_field_bytes:
                limit = self.name_field_bytes // 2 - 1
                raise LocalProtocolError(f"Fuji friendly names hold at most {limit} characters")
            name = name.ljust(self.name_field_bytes, b"\x00")
        payload = _U32.pack(FUJI_INIT_MAGIC) + _guid(self.guid) + name
        return header(self.TYPE, len(payload)) + payload

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> FujiInitCommandRequest:
        if len(payload) < 22:
            raise RemoteProtocolError(f"Fuji Init Command Request payload of {len(payload)} bytes")
        field = bytes(payload[20:])
        name, nul = _decode_name(field[: len(field) & ~1])
        # The standard 54-byte field is that form even when the name fills it exactly.
        standard = len(field) == FUJI_INIT_NAME_BYTES
        padded = len(field) if standard or nul < 0 or nul + 2 < len(field) else None
        return cls(bytes(payload[4:20]), name, padded)


@dataclass(frozen=True, slots=True)
class InitCommandAck:
    """Type 2: the responder accepts, names itself and assigns the connection number."""

    TYPE: ClassVar[PacketType] = PacketType.INIT_COMMAND_ACK
    connection_number: int
    guid: bytes
    friendly_name: str
    #: None omits the field (libgphoto2's PTPIP.TXT form); CIPA and Wireshark expect it.
    protocol_version: int | None = PROTOCOL_VERSION_1_0
    #: A fixed, zero-padded name field size in bytes (Fuji's 68-byte ack); None = no padding.
    name_field_bytes: int | None = None

    def encode(self) -> bytes:
        name = _encode_name(self.friendly_name)
        if self.name_field_bytes is not None:
            if len(name) > self.name_field_bytes:
                raise LocalProtocolError("friendly name does not fit the name field")
            name = name.ljust(self.name_field_bytes, b"\x00")
        payload = _U32.pack(_u32(self.connection_number, "connection number")) + _guid(self.guid)
        payload += name
        if self.protocol_version is not None:
            payload += _U32.pack(_u32(self.protocol_version, "protocol version"))
        return header(self.TYPE, len(payload)) + payload

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> InitCommandAck:
        if len(payload) < 22:
            raise RemoteProtocolError(f"Init Command Ack payload of {len(payload)} bytes")
        connection = _U32.unpack_from(payload, 0)[0]
        name, _, version, field = _split_name_version(payload[20:], False)
        return cls(connection, bytes(payload[4:20]), name, version, field)


@dataclass(frozen=True, slots=True)
class InitEventRequest:
    """Type 3: opens the event connection for ``connection_number``."""

    TYPE: ClassVar[PacketType] = PacketType.INIT_EVENT_REQUEST
    connection_number: int

    def encode(self) -> bytes:
        return header(self.TYPE, 4) + _U32.pack(_u32(self.connection_number, "connection number"))

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> InitEventRequest:
        return cls(_U32.unpack_from(payload, 0)[0])


@dataclass(frozen=True, slots=True)
class InitFail:
    """Type 5: the responder refuses; ``reason`` is an InitFailReason (or Fuji's codes)."""

    TYPE: ClassVar[PacketType] = PacketType.INIT_FAIL
    reason: int

    def encode(self) -> bytes:
        return header(self.TYPE, 4) + _U32.pack(_u32(self.reason, "reason"))

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> InitFail:
        return cls(_U32.unpack_from(payload, 0)[0])


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """Type 6: an operation with 0-5 parameters; send only those the operation defines."""

    TYPE: ClassVar[PacketType] = PacketType.OPERATION_REQUEST
    code: int
    transaction_id: int
    params: tuple[int, ...] = ()
    data_phase: int = DataPhase.NO_DATA_OR_IN

    def encode(self) -> bytes:
        params = _check_params(self.params, MAX_PARAMS, "an Operation Request")
        body = _OP_REQUEST.pack(
            _u32(self.data_phase, "data phase"),
            _u16(self.code, "operation code"),
            _u32(self.transaction_id, "transaction id"),
        )
        return header(self.TYPE, len(body) + len(params)) + body + params

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> OperationRequest:
        phase, code, tid = _OP_REQUEST.unpack_from(payload, 0)
        return cls(code, tid, _params(payload, 10, MAX_PARAMS, "Operation Request"), phase)


@dataclass(frozen=True, slots=True)
class OperationResponse:
    """Type 7: the response code and 0-5 parameters (Leica always sends 5)."""

    TYPE: ClassVar[PacketType] = PacketType.OPERATION_RESPONSE
    code: int
    transaction_id: int
    params: tuple[int, ...] = ()

    def encode(self) -> bytes:
        params = _check_params(self.params, MAX_PARAMS, "an Operation Response")
        body = _CODE_TID.pack(_u16(self.code, "response code"), _u32(self.transaction_id, "tid"))
        return header(self.TYPE, len(body) + len(params)) + body + params

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> OperationResponse:
        code, tid = _CODE_TID.unpack_from(payload, 0)
        return cls(code, tid, _params(payload, 6, MAX_PARAMS, "Operation Response"))


@dataclass(frozen=True, slots=True)
class Event:
    """Type 8: an event; 0xFFFFFFFF as transaction id when unsolicited."""

    TYPE: ClassVar[PacketType] = PacketType.EVENT
    code: int
    transaction_id: int
    params: tuple[int, ...] = ()

    def encode(self) -> bytes:
        # libgphoto2 drops all parameters of an event carrying 4 or 5: send at most 3.
        params = _check_params(self.params, MAX_EVENT_PARAMS, "an Event")
        body = _CODE_TID.pack(_u16(self.code, "event code"), _u32(self.transaction_id, "tid"))
        return header(self.TYPE, len(body) + len(params)) + body + params

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> Event:
        code, tid = _CODE_TID.unpack_from(payload, 0)
        # Accept up to 5 (some responders pad like responses); we only ever send 3.
        return cls(code, tid, _params(payload, 6, MAX_PARAMS, "Event"))


@dataclass(frozen=True, slots=True)
class StartData:
    """Type 9: opens a data phase; ``total_length`` is u64, all-ones meaning unknown."""

    TYPE: ClassVar[PacketType] = PacketType.START_DATA
    transaction_id: int
    total_length: int

    @property
    def length_known(self) -> bool:
        return self.total_length != UNKNOWN_DATA_LENGTH

    def encode(self) -> bytes:
        if not 0 <= self.total_length <= UNKNOWN_DATA_LENGTH:
            raise LocalProtocolError(f"total length {self.total_length!r} is not a u64")
        return header(self.TYPE, 12) + _START_DATA.pack(
            _u32(self.transaction_id, "transaction id"), self.total_length
        )

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> StartData:
        tid, total = _START_DATA.unpack_from(payload, 0)
        return cls(tid, total)


@dataclass(frozen=True, slots=True)
class Data:
    """Type 10: a chunk of the data phase."""

    TYPE: ClassVar[PacketType] = PacketType.DATA
    transaction_id: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return (
            header(self.TYPE, 4 + len(self.payload))
            + _U32.pack(_u32(self.transaction_id, "transaction id"))
            + self.payload
        )

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> Data:
        return cls(_U32.unpack_from(payload, 0)[0], bytes(payload[4:]))


@dataclass(frozen=True, slots=True)
class EndData:
    """Type 12: the last chunk of the data phase (may be empty)."""

    TYPE: ClassVar[PacketType] = PacketType.END_DATA
    transaction_id: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return (
            header(self.TYPE, 4 + len(self.payload))
            + _U32.pack(_u32(self.transaction_id, "transaction id"))
            + self.payload
        )

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> EndData:
        return cls(_U32.unpack_from(payload, 0)[0], bytes(payload[4:]))


@dataclass(frozen=True, slots=True)
class Cancel:
    """Type 11: cancel the transaction (either direction, command connection)."""

    TYPE: ClassVar[PacketType] = PacketType.CANCEL
    transaction_id: int

    def encode(self) -> bytes:
        return header(self.TYPE, 4) + _U32.pack(_u32(self.transaction_id, "transaction id"))

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> Cancel:
        return cls(_U32.unpack_from(payload, 0)[0])


@dataclass(frozen=True, slots=True)
class InitEventAck:
    """Type 4: the event connection is up."""

    TYPE: ClassVar[PacketType] = PacketType.INIT_EVENT_ACK

    def encode(self) -> bytes:
        return header(self.TYPE, 0)

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> InitEventAck:
        return cls()


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """Type 13: are you there? Answered at once with a Probe Response on the event link."""

    TYPE: ClassVar[PacketType] = PacketType.PROBE_REQUEST

    def encode(self) -> bytes:
        return header(self.TYPE, 0)

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> ProbeRequest:
        return cls()


@dataclass(frozen=True, slots=True)
class ProbeResponse:
    """Type 14: the answer to a Probe Request."""

    TYPE: ClassVar[PacketType] = PacketType.PROBE_RESPONSE

    def encode(self) -> bytes:
        return header(self.TYPE, 0)

    @classmethod
    def decode(cls, payload: bytes | memoryview) -> ProbeResponse:
        return cls()


Packet = (
    InitCommandRequest
    | FujiInitCommandRequest
    | InitCommandAck
    | InitEventRequest
    | InitEventAck
    | InitFail
    | OperationRequest
    | OperationResponse
    | Event
    | StartData
    | Data
    | EndData
    | Cancel
    | ProbeRequest
    | ProbeResponse
)

_DECODERS: dict[int, type[Packet]] = {
    PacketType.INIT_COMMAND_REQUEST: InitCommandRequest,
    PacketType.INIT_COMMAND_ACK: InitCommandAck,
    PacketType.INIT_EVENT_REQUEST: InitEventRequest,
    PacketType.INIT_EVENT_ACK: InitEventAck,
    PacketType.INIT_FAIL: InitFail,
    PacketType.OPERATION_REQUEST: OperationRequest,
    PacketType.OPERATION_RESPONSE: OperationResponse,
    PacketType.EVENT: Event,
    PacketType.START_DATA: StartData,
    PacketType.DATA: Data,
    PacketType.CANCEL: Cancel,
    PacketType.END_DATA: EndData,
    PacketType.PROBE_REQUEST: ProbeRequest,
    PacketType.PROBE_RESPONSE: ProbeResponse,
}

# Whole-packet length bounds per type (header included); None = no fixed upper bound.
# The init packets are bounded by the 255-unit name limit (Fuji's padded forms fit too).
_INIT_MAX = 8 + 4 + 16 + 2 * _MAX_NAME_UNITS + 4
_BOUNDS: dict[int, tuple[int, int | None]] = {
    # the shortest request: an empty name's NUL and no version
    PacketType.INIT_COMMAND_REQUEST: (8 + 16 + 2, _INIT_MAX),
    PacketType.INIT_COMMAND_ACK: (8 + 4 + 16 + 2, _INIT_MAX),
    PacketType.INIT_EVENT_REQUEST: (12, 12),
    PacketType.INIT_EVENT_ACK: (8, 8),
    PacketType.INIT_FAIL: (12, 12),
    PacketType.OPERATION_REQUEST: (18, 18 + 4 * MAX_PARAMS),
    PacketType.OPERATION_RESPONSE: (14, 14 + 4 * MAX_PARAMS),
    PacketType.EVENT: (14, 14 + 4 * MAX_PARAMS),
    PacketType.START_DATA: (20, 20),
    PacketType.DATA: (12, None),
    PacketType.CANCEL: (12, 12),
    PacketType.END_DATA: (12, None),
    PacketType.PROBE_REQUEST: (8, 8),
    PacketType.PROBE_RESPONSE: (8, 8),
}


def length_bounds(ptype: int) -> tuple[int, int | None]:
    """(min, max) whole-packet length for a packet type; raises for unknown types."""
    try:
        return _BOUNDS[ptype]
    except KeyError:
        raise RemoteProtocolError(f"unknown PTP/IP packet type {ptype}") from None


def decode_packet(ptype: int, payload: bytes | memoryview) -> Packet:
    """Decode the payload (the bytes after the 8-byte header) of a packet of type ``ptype``."""
    low, high = length_bounds(ptype)
    size = len(payload) + 8
    if size < low or (high is not None and size > high):
        raise RemoteProtocolError(
            f"{PacketType(ptype).name} packet of {size} bytes (allowed {low}..{high or 'any'})"
        )
    try:
        return _DECODERS[ptype].decode(payload)
    except struct.error as exc:  # defence in depth: bounds above should make this unreachable
        raise RemoteProtocolError(f"malformed {PacketType(ptype).name} packet: {exc}") from None
