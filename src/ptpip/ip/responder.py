"""The responder's side of a PTP/IP connection as a state machine: bytes in, events out.

The virtual camera runs one :class:`Responder` per accepted TCP connection. The first packet
tells the role (type 1: command/data, type 3: event). Data-out phases come out as chunks;
data-in phases and responses go out through :meth:`Responder.data_in_start`,
:meth:`Responder.data_in` and :meth:`Responder.respond`. No sockets, no clock.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from enum import Enum

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip.framing import (
    Container,
    ContainerType,
    DataChunk,
    DataContainerStart,
    Dialect,
    FrameEvent,
    Framer,
    Goodbye,
    encode_container,
)
from ptpip.ip.packets import (
    Cancel,
    Data,
    EndData,
    Event,
    FujiInitCommandRequest,
    InitCommandAck,
    InitCommandRequest,
    InitEventAck,
    InitEventRequest,
    InitFail,
    OperationRequest,
    OperationResponse,
    ProbeRequest,
    ProbeResponse,
    StartData,
)

__all__ = [
    "CancelReceived",
    "CommandInit",
    "DataOutChunk",
    "DataOutStarted",
    "EventInit",
    "GoodbyeReceived",
    "ProbeAnswered",
    "ProbeRequested",
    "RequestReceived",
    "Responder",
    "ResponderEvent",
    "ResponderRole",
    "StrayInput",
]


class ResponderRole(Enum):
    UNKNOWN = "unknown"
    COMMAND = "command"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class CommandInit:
    """An Init Command Request arrived (also a repeated one: libgphoto2's Fuji quirk)."""

    request: InitCommandRequest | FujiInitCommandRequest


@dataclass(frozen=True, slots=True)
class EventInit:
    connection_number: int


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """An operation request; ``data_phase`` is None in the container dialect (not on wire)."""

    code: int
    transaction_id: int
    params: tuple[int, ...]
    data_phase: int | None


@dataclass(frozen=True, slots=True)
class DataOutStarted:
    transaction_id: int
    total: int | None


@dataclass(frozen=True, slots=True)
class DataOutChunk:
    """A piece of the initiator's data; ``last`` closes the data-out phase."""

    transaction_id: int
    data: bytes
    last: bool


@dataclass(frozen=True, slots=True)
class CancelReceived:
    transaction_id: int


@dataclass(frozen=True, slots=True)
class ProbeRequested:
    pass


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    pass


@dataclass(frozen=True, slots=True)
class GoodbyeReceived:
    pass


@dataclass(frozen=True, slots=True)
class StrayInput:
    what: str


ResponderEvent = (
    CommandInit
    | EventInit
    | RequestReceived
    | DataOutStarted
    | DataOutChunk
    | CancelReceived
    | ProbeRequested
    | ProbeAnswered
    | GoodbyeReceived
    | StrayInput
)


@dataclass(slots=True)
class _DataOut:
    tid: int
    total: int | None
    received: int = 0


class Responder:
    """State machine of one responder connection."""

    def __init__(
        self,
        role: ResponderRole = ResponderRole.UNKNOWN,
        *,
        fuji: bool = False,
        max_control: int | None = None,
    ) -> None:
        self.role = role
        self.fuji = fuji
        kwargs = {} if max_control is None else {"max_control": max_control}
        dialect = Dialect.CONTAINER if fuji and role is ResponderRole.EVENT else Dialect.CIPA
        self._framer = Framer(dialect, **kwargs)
        self._ready = dialect is Dialect.CONTAINER
        self._data_out: _DataOut | None = None
        # CIPA allows an empty End Data after Start Data(0); libgphoto2 sends none. Swallow it.
        self._optional_end: int | None = None
        self._data_in: tuple[int, int] | None = None  # (tid, bytes left) of the CIPA data-in
        # inside a data packet's payload (its header read, its last byte not yet)
        self._mid_data = False
        self._pending: deque[ResponderEvent] = deque()

    @property
    def ready(self) -> bool:
        return self._ready

    # -- handshake ---------------------------------------------------------------------------

    def accept(self, ack: InitCommandAck | None = None) -> bytes:
        """Accept the Init (``ack`` for the command connection, None for the event one)."""
        if self.role is ResponderRole.COMMAND:
            if ack is None:
                raise LocalProtocolError("the command connection is accepted with an ack")
            self._ready = True
            if self.fuji:
                self._framer.use_containers()
            return ack.encode()
        self._ready = True
        return InitEventAck().encode()

    def refuse(self, reason: int) -> bytes:
        return InitFail(reason).encode()

    # -- output ------------------------------------------------------------------------------

    def data_in_start(self, code: int, transaction_id: int, total: int) -> bytes:
        """Open a data-in phase of ``total`` bytes (CIPA Start Data, or a data container)."""
        if self.fuji:
            self._data_in = (transaction_id, total)
            return struct.pack("<IHHI", 12 + total, ContainerType.DATA, code, transaction_id)
        self._data_in = (transaction_id, total)
        return StartData(transaction_id, total).encode()

    def data_in(self, chunk: bytes | memoryview, *, last: bool = False) -> bytes:
        """A piece of the data-in phase; CIPA sends it as Data, or End Data when ``last``."""
        if self._data_in is None:
            raise LocalProtocolError("no data-in phase is open")
        tid, left = self._data_in
        if len(chunk) > left:
            raise LocalProtocolError("more data-in than announced")
        left -= len(chunk)
        if last and left:
            raise LocalProtocolError(f"data-in closed {left} bytes short")
        self._data_in = None if last else (tid, left)
        if self.fuji:
            return bytes(chunk)
        packet = EndData(tid, bytes(chunk)) if last else Data(tid, bytes(chunk))
        return packet.encode()

    def data_in_header(self, chunk_length: int, *, last: bool) -> bytes:
        """Only the header of a Data/End Data packet, for zero-copy senders (``sendfile``)."""
        if self._data_in is None:
            raise LocalProtocolError("no data-in phase is open")
        tid, left = self._data_in
        if chunk_length > left or (last and chunk_length != left):
            raise LocalProtocolError("data-in chunk does not match the announced total")
        self._data_in = None if last else (tid, left - chunk_length)
        if self.fuji:
            return b""
        ptype = 12 if last else 10
        return struct.pack("<III", 12 + chunk_length, ptype, tid)

    def abandon_data_in(self) -> None:
        """Stop a data-in phase early (the initiator cancelled); a response follows."""
        self._data_in = None

    def respond(self, code: int, transaction_id: int, params: tuple[int, ...] = ()) -> bytes:
        self._data_in = None
        if self.fuji:
            return encode_container(ContainerType.RESPONSE, code, transaction_id, params=params)
        return OperationResponse(code, transaction_id, params).encode()

    def event(self, code: int, transaction_id: int, params: tuple[int, ...] = ()) -> bytes:
        if self.fuji:
            return encode_container(ContainerType.EVENT, code, transaction_id, params=params)
        return Event(code, transaction_id, params).encode()

    def probe(self) -> bytes:
        return ProbeRequest().encode()

    def probe_response(self) -> bytes:
        return ProbeResponse().encode()

    # -- input -------------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[ResponderEvent]:
        """Every event ``data`` completes (see :meth:`feed` for taking them one at a time)."""
        self.feed(data)
        out: list[ResponderEvent] = []
        while (event := self.next_event()) is not None:
            out.append(event)
        return out

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes from the initiator; nothing is decoded until :meth:`next_event` asks.

        A caller that stops asking (its queues are full) leaves the rest as raw bytes in the
        framer, so what it holds stays bounded by what it read.
        """
        self._framer.feed(data)

    def next_event(self) -> ResponderEvent | None:
        """The next event from the bytes fed so far, or None when more are needed."""
        while not self._pending:
            item = self._framer.next_event()
            if item is None:
                return None
            out: list[ResponderEvent] = []
            self._handle(item, out)
            self._pending.extend(out)
        return self._pending.popleft()

    @property
    def mid_packet(self) -> bool:
        """Whether the initiator stopped inside a packet (its next bytes would not start
        one): after a timeout the connection is then unusable."""
        return self._mid_data or self._framer.buffered > 0

    def abandon_data_out(self, transaction_id: int) -> None:
        """Give up on the data-out phase of ``transaction_id`` (it timed out and was answered):
        data for it that still comes is stray."""
        if self._data_out is not None and self._data_out.tid == transaction_id:
            self._data_out = None

    def _handle(self, item: FrameEvent, out: list[ResponderEvent]) -> None:
        if isinstance(item, DataChunk):
            self._handle_chunk(item, out)
        elif isinstance(item, InitCommandRequest | FujiInitCommandRequest):
            if self.role is ResponderRole.EVENT:
                raise RemoteProtocolError("Init Command Request on the event connection")
            self.role = ResponderRole.COMMAND
            out.append(CommandInit(item))
        elif isinstance(item, InitEventRequest):
            if self.role is ResponderRole.COMMAND:
                raise RemoteProtocolError("Init Event Request on the command connection")
            self.role = ResponderRole.EVENT
            out.append(EventInit(item.connection_number))
        elif not self._ready:
            if isinstance(item, ProbeRequest):
                out.append(ProbeRequested())
                return
            raise RemoteProtocolError(f"{type(item).__name__} before the Init handshake")
        elif isinstance(item, OperationRequest):
            self._optional_end = None
            out.append(
                RequestReceived(item.code, item.transaction_id, item.params, item.data_phase)
            )
        elif isinstance(item, StartData):
            self._start_data_out(item, out)
        elif isinstance(item, DataContainerStart):
            # Even an empty container is followed by one (empty, last) chunk that closes it.
            self._data_out = _DataOut(item.transaction_id, item.length)
            out.append(DataOutStarted(item.transaction_id, item.length))
        elif isinstance(item, Container):
            self._handle_container(item, out)
        elif isinstance(item, Cancel):
            if self._data_out is not None and self._data_out.tid == item.transaction_id:
                self._data_out = None  # the data-out phase ends; late Data is stray
            out.append(CancelReceived(item.transaction_id))
        elif isinstance(item, ProbeRequest):
            out.append(ProbeRequested())
        elif isinstance(item, ProbeResponse):
            out.append(ProbeAnswered())
        elif isinstance(item, Goodbye):
            out.append(GoodbyeReceived())
        else:
            out.append(StrayInput(f"unexpected {type(item).__name__}"))

    def _start_data_out(self, item: StartData, out: list[ResponderEvent]) -> None:
        total = item.total_length if item.length_known else None
        self._data_out = _DataOut(item.transaction_id, total)
        out.append(DataOutStarted(item.transaction_id, total))
        if total == 0:
            # libgphoto2 sends no End Data after Start Data(0) (gphoto2-interop.md §4).
            self._data_out = None
            self._optional_end = item.transaction_id
            out.append(DataOutChunk(item.transaction_id, b"", True))

    def _handle_chunk(self, chunk: DataChunk, out: list[ResponderEvent]) -> None:
        self._mid_data = not chunk.last
        d = self._data_out
        if d is None or d.tid != chunk.transaction_id:
            if chunk.end_data and chunk.transaction_id == self._optional_end and not chunk.data:
                self._optional_end = None
                return
            if chunk.last:
                out.append(StrayInput(f"data for transaction {chunk.transaction_id} dropped"))
            return
        d.received += len(chunk.data)
        if d.total is not None and d.received > d.total:
            raise RemoteProtocolError(f"{d.received} data-out bytes, {d.total} announced")
        done = chunk.last if self.fuji else chunk.end_data
        if done:
            self._data_out = None
            if d.total is not None and d.received != d.total:
                raise RemoteProtocolError(
                    f"data-out ended after {d.received} of {d.total} announced bytes"
                )
        if chunk.data or done:
            out.append(DataOutChunk(chunk.transaction_id, chunk.data, done))

    def _handle_container(self, item: Container, out: list[ResponderEvent]) -> None:
        if item.kind == ContainerType.COMMAND:
            out.append(RequestReceived(item.code, item.transaction_id, item.params, None))
        else:
            kind = Container.TYPE_NAMES.get(item.kind, str(item.kind))
            out.append(StrayInput(f"{kind} container 0x{item.code:04X} from the initiator"))
