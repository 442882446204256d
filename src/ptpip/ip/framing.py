"""Incremental, bounded framing of PTP/IP byte streams, sans-IO.

Feed bytes in any chunking with :meth:`Framer.feed`; take events with :meth:`Framer.next_event`
(or iterate :meth:`Framer.events`). Control packets come out whole, as packet objects; the
payload of data packets comes out as :class:`DataChunk` pieces as soon as bytes arrive, so a
4 GiB object never sits in memory. Length fields are checked against per-type bounds and a
cap *before* anything is buffered.

Two dialects share the stream: CIPA packets (``u32 length, u32 type``), and the USB-style
containers Fuji speaks after its Init handshake (``u32 length, u16 type, u16 code, u32 tid``,
vendor-fuji.md §3). :meth:`Framer.use_containers` switches over, keeping buffered bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip.packets import (
    FUJI_INIT_MAGIC,
    HEADER,
    MAX_PARAMS,
    Packet,
    decode_packet,
    length_bounds,
)
from ptpip.ptp.codes import PacketType

__all__ = [
    "CONTAINER_HEADER",
    "DEFAULT_MAX_CONTROL",
    "FUJI_GOODBYE",
    "Container",
    "ContainerType",
    "DataChunk",
    "DataContainerStart",
    "Dialect",
    "FrameEvent",
    "Framer",
    "Goodbye",
    "encode_container",
]

#: Default cap for a whole non-data packet or container; data is streamed, never buffered.
DEFAULT_MAX_CONTROL = 4 * 1024 * 1024
CONTAINER_HEADER = struct.Struct("<IHHI")
#: The 8-byte packet Fuji clients send before closing (vendor-fuji.md §3 "Disconnect").
FUJI_GOODBYE = b"\x08\x00\x00\x00\xff\xff\xff\xff"

_U32 = struct.Struct("<I")


class Dialect(IntEnum):
    CIPA = 1
    CONTAINER = 2


class ContainerType(IntEnum):
    """USB PTP container types, as Fuji uses them over TCP."""

    COMMAND = 1
    DATA = 2
    RESPONSE = 3
    EVENT = 4


@dataclass(frozen=True, slots=True)
class DataChunk:
    """A piece of a data packet's (or data container's) payload.

    ``last`` is true on the final piece of the packet or container; ``end_data`` additionally
    marks that the packet was a CIPA End Data packet, which closes the data phase.
    """

    transaction_id: int
    data: bytes
    last: bool
    end_data: bool = False


@dataclass(frozen=True, slots=True)
class DataContainerStart:
    """A USB data container begins; its payload follows as DataChunk pieces."""

    code: int
    transaction_id: int
    length: int


@dataclass(frozen=True, slots=True)
class Container:
    """A whole non-data USB container: command, response or event."""

    TYPE_NAMES: ClassVar[dict[int, str]] = {1: "command", 2: "data", 3: "response", 4: "event"}
    kind: int
    code: int
    transaction_id: int
    params: tuple[int, ...] = ()

    def encode(self) -> bytes:
        return encode_container(self.kind, self.code, self.transaction_id, params=self.params)


@dataclass(frozen=True, slots=True)
class Goodbye:
    """Fuji's ``08 00 00 00 ff ff ff ff`` farewell."""


FrameEvent = Packet | DataChunk | DataContainerStart | Container | Goodbye


def encode_container(
    kind: int,
    code: int,
    transaction_id: int,
    *,
    params: tuple[int, ...] = (),
    payload: bytes = b"",
) -> bytes:
    """A USB-style container: parameters for command/response/event, payload for data."""
    if params and payload:
        raise LocalProtocolError("a container carries parameters or a payload, not both")
    try:
        body = struct.pack(f"<{len(params)}I", *params) + payload
        return CONTAINER_HEADER.pack(12 + len(body), kind, code, transaction_id) + body
    except struct.error as exc:
        raise LocalProtocolError(f"cannot encode container: {exc}") from None


class Framer:
    """Splits a byte stream into packets (or containers) and data chunks."""

    def __init__(
        self,
        dialect: Dialect = Dialect.CIPA,
        *,
        max_control: int = DEFAULT_MAX_CONTROL,
        max_data_packet: int = 0xFFFF_FFFF,
    ) -> None:
        self.dialect = dialect
        self.max_control = max_control
        self.max_data_packet = max_data_packet
        self._buf = bytearray()
        self._pos = 0
        # streaming state of the data packet being read: (tid, bytes left, end_data)
        self._data_tid = 0
        self._data_left = 0
        self._data_end = False
        self._in_data = False

    def use_containers(self) -> None:
        """Switch to USB-container framing (Fuji, after the Init Command Ack)."""
        self.dialect = Dialect.CONTAINER

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def events(self) -> Iterator[FrameEvent]:
        while (event := self.next_event()) is not None:
            yield event

    def next_event(self) -> FrameEvent | None:
        """The next complete event, or None when more bytes are needed."""
        if self._in_data:
            return self._data_piece()
        if self.buffered < 8:
            return None
        if self.dialect is Dialect.CIPA:
            return self._next_packet()
        return self._next_container()

    def _data_piece(self) -> DataChunk | None:
        avail = self.buffered
        if avail == 0 and self._data_left:
            return None
        n = min(avail, self._data_left)
        piece = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        self._data_left -= n
        last = self._data_left == 0
        if last:
            self._in_data = False
        return DataChunk(self._data_tid, piece, last, self._data_end and last)

    def _next_packet(self) -> FrameEvent | None:
        length, ptype = HEADER.unpack_from(self._buf, self._pos)
        low, high = length_bounds(ptype)
        if length < low or (high is not None and length > high):
            name = PacketType(ptype).name
            raise RemoteProtocolError(
                f"{name} packet claims {length} bytes (allowed {low}..{high})"
            )
        if ptype in (PacketType.DATA, PacketType.END_DATA):
            if length > self.max_data_packet:
                raise RemoteProtocolError(f"data packet of {length} bytes over the cap")
            if self.buffered < 12:
                return None
            tid = _U32.unpack_from(self._buf, self._pos + 8)[0]
            self._pos += 12
            self._start_data(tid, length - 12, ptype == PacketType.END_DATA)
            return self._data_piece()
        if length > self.max_control:
            raise RemoteProtocolError(f"control packet of {length} bytes over the cap")
        if self.buffered < length:
            return None
        start = self._pos + 8
        payload = bytes(self._buf[start : self._pos + length])
        self._pos += length
        return decode_packet(ptype, payload)

    def _next_container(self) -> FrameEvent | None:
        length = _U32.unpack_from(self._buf, self._pos)[0]
        if length == 8 and bytes(self._buf[self._pos : self._pos + 8]) == FUJI_GOODBYE:
            self._pos += 8
            return Goodbye()
        if length < 12:
            raise RemoteProtocolError(f"container claims {length} bytes, fewer than its header")
        if self.buffered < 12:
            return None
        _, kind, code, tid = CONTAINER_HEADER.unpack_from(self._buf, self._pos)
        if kind == ContainerType.COMMAND and code == 0 and tid == FUJI_INIT_MAGIC:
            # libgphoto2 sends its 82-byte Fuji Init Command Request a second time after the
            # ack (vendor-fuji.md §2.4): it is a CIPA packet inside the container stream.
            return self._next_packet()
        if kind == ContainerType.DATA:
            if length > self.max_data_packet:
                raise RemoteProtocolError(f"data container of {length} bytes over the cap")
            self._pos += 12
            self._start_data(tid, length - 12, False)
            return DataContainerStart(code, tid, length - 12)
        if kind not in (ContainerType.COMMAND, ContainerType.RESPONSE, ContainerType.EVENT):
            raise RemoteProtocolError(f"unknown container type {kind}")
        if length > 12 + 4 * MAX_PARAMS or (length - 12) % 4:
            raise RemoteProtocolError(f"{Container.TYPE_NAMES[kind]} container of {length} bytes")
        if self.buffered < length:
            return None
        count = (length - 12) // 4
        params = struct.unpack_from(f"<{count}I", self._buf, self._pos + 12)
        self._pos += length
        return Container(kind, code, tid, params)

    def _start_data(self, tid: int, size: int, end_data: bool) -> None:
        self._data_tid = tid
        self._data_left = size
        self._data_end = end_data
        self._in_data = True
