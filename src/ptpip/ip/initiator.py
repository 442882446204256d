"""The initiator's side of a PTP/IP connection as a state machine: bytes in, events out.

One :class:`Initiator` per TCP connection. On the command/data connection it runs the Init
handshake and then one transaction at a time; on the event connection it runs the event
handshake and then yields events. Both dialects: CIPA packets, and Fuji's USB containers
after its Init. Nothing here touches a socket or a clock.
"""

from __future__ import annotations

import struct
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
from ptpip.ptp.codes import DataPhase

__all__ = [
    "DataPhaseStarted",
    "DataReceived",
    "EventReceived",
    "GoodbyeReceived",
    "InitAccepted",
    "InitRefused",
    "Initiator",
    "InitiatorEvent",
    "ProbeAnswered",
    "ProbeRequested",
    "ResponseReceived",
    "Role",
    "StrayPacket",
]


class Role(Enum):
    COMMAND = "command"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class InitAccepted:
    """The Init handshake succeeded; ``ack`` is None on an event connection."""

    ack: InitCommandAck | None


@dataclass(frozen=True, slots=True)
class InitRefused:
    reason: int


@dataclass(frozen=True, slots=True)
class DataPhaseStarted:
    """The responder opened a data-in phase; ``total`` is None when the length is unknown."""

    transaction_id: int
    total: int | None


@dataclass(frozen=True, slots=True)
class DataReceived:
    transaction_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The transaction ended; ``received`` counts its data-in bytes (to check the total)."""

    response: OperationResponse
    received: int = 0
    total: int | None = None


@dataclass(frozen=True, slots=True)
class EventReceived:
    event: Event


@dataclass(frozen=True, slots=True)
class ProbeRequested:
    """The responder asked whether we are alive; answer with :meth:`Initiator.probe_response`."""


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    pass


@dataclass(frozen=True, slots=True)
class GoodbyeReceived:
    pass


@dataclass(frozen=True, slots=True)
class StrayPacket:
    """Something arrived that belongs to no transaction; logged by the caller, never fatal."""

    what: str


InitiatorEvent = (
    InitAccepted
    | InitRefused
    | DataPhaseStarted
    | DataReceived
    | ResponseReceived
    | EventReceived
    | ProbeRequested
    | ProbeAnswered
    | GoodbyeReceived
    | StrayPacket
)


class _Phase(Enum):
    INIT = 1
    READY = 2
    CLOSED = 3


@dataclass(slots=True)
class _Transaction:
    code: int
    tid: int
    lenient_tid: bool
    data_out_left: int | None = None  # bytes of data-out still to send
    data_out_started: bool = False
    total: int | None = None  # announced data-in length
    received: int = 0
    in_data: bool = False


class Initiator:
    """State machine of one initiator connection (command/data or event)."""

    def __init__(
        self,
        role: Role = Role.COMMAND,
        *,
        fuji: bool = False,
        max_control: int | None = None,
    ) -> None:
        self.role = role
        self.fuji = fuji
        framer_kwargs = {} if max_control is None else {"max_control": max_control}
        # Fuji's event port has no handshake and speaks containers from the first byte.
        dialect = Dialect.CONTAINER if fuji and role is Role.EVENT else Dialect.CIPA
        self._framer = Framer(dialect, **framer_kwargs)
        self._phase = _Phase.READY if dialect is Dialect.CONTAINER else _Phase.INIT
        self._tx: _Transaction | None = None

    # -- handshake ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._phase is _Phase.READY

    @property
    def busy(self) -> bool:
        return self._tx is not None

    def init_command(self, request: InitCommandRequest | FujiInitCommandRequest) -> bytes:
        self._require(Role.COMMAND, _Phase.INIT)
        return request.encode()

    def init_event(self, connection_number: int) -> bytes:
        self._require(Role.EVENT, _Phase.INIT)
        return InitEventRequest(connection_number).encode()

    # -- transactions ------------------------------------------------------------------------

    def request(
        self,
        code: int,
        transaction_id: int,
        params: tuple[int, ...] = (),
        *,
        data_out_length: int | None = None,
        lenient_tid: bool = False,
    ) -> bytes:
        """Bytes that start a transaction; with ``data_out_length`` a data-out phase follows.

        ``lenient_tid`` accepts the response whatever its TID (Leica answers CloseSession with
        TID 0, vendor-leica.md §7).
        """
        self._require(Role.COMMAND, _Phase.READY)
        if self._tx is not None:
            raise LocalProtocolError("a transaction is already running on this connection")
        tx = _Transaction(code, transaction_id, lenient_tid, data_out_length)
        if self.fuji:
            # The data container's header goes with its payload (data_out), never with the
            # command: a camera reading one container per recv() drops a container cut in two.
            out = encode_container(ContainerType.COMMAND, code, transaction_id, params=params)
        else:
            phase = DataPhase.DATA_OUT if data_out_length is not None else DataPhase.NO_DATA_OR_IN
            out = OperationRequest(code, transaction_id, params, phase).encode()
            if data_out_length is not None:
                out += StartData(transaction_id, data_out_length).encode()
                tx.data_out_started = True
        self._tx = tx
        return out

    def data_out(self, chunk: bytes, *, last: bool = False) -> bytes:
        """Bytes carrying a piece of the data-out phase; ``last`` closes it (CIPA End Data)."""
        tx = self._tx
        if tx is None or tx.data_out_left is None:
            raise LocalProtocolError("no data-out phase is open (the camera may have answered)")
        if len(chunk) > tx.data_out_left:
            raise LocalProtocolError("more data-out than announced")
        unsent = tx.data_out_left
        tx.data_out_left -= len(chunk)
        if last and tx.data_out_left:
            raise LocalProtocolError(f"data-out closed {tx.data_out_left} bytes short")
        if last:
            tx.data_out_left = None
        if self.fuji:
            if tx.data_out_started:
                return bytes(chunk)
            tx.data_out_started = True  # the first piece: the whole phase is still unsent
            header = struct.pack("<IHHI", 12 + unsent, ContainerType.DATA, tx.code, tx.tid)
            return header + bytes(chunk)
        if last:
            return EndData(tx.tid, bytes(chunk)).encode()
        return Data(tx.tid, bytes(chunk)).encode() if chunk else b""

    def cancel(self) -> bytes:
        """Bytes that cancel the running transaction (CIPA only; Fuji has no Cancel)."""
        if self._tx is None:
            raise LocalProtocolError("no transaction to cancel")
        if self.fuji:
            raise LocalProtocolError("the Fuji dialect has no Cancel packet")
        return Cancel(self._tx.tid).encode()

    def abandon(self) -> None:
        """Forget the running transaction (after a timeout); late packets become stray."""
        self._tx = None

    def probe(self) -> bytes:
        return ProbeRequest().encode()

    def probe_response(self) -> bytes:
        return ProbeResponse().encode()

    def close(self) -> None:
        self._phase = _Phase.CLOSED
        self._tx = None

    # -- input -------------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[InitiatorEvent]:
        """Feed received bytes; returns the events they complete (possibly none)."""
        if self._phase is _Phase.CLOSED:
            return []
        self._framer.feed(data)
        out: list[InitiatorEvent] = []
        while (item := self._framer.next_event()) is not None:
            self._handle(item, out)
        return out

    def _handle(self, item: FrameEvent, out: list[InitiatorEvent]) -> None:
        if self._phase is _Phase.INIT:
            self._handle_init(item, out)
        elif isinstance(item, DataChunk):
            self._handle_data(item, out)
        elif isinstance(item, DataContainerStart):
            self._start_data(item.transaction_id, item.length, out, container=True)
        elif isinstance(item, StartData):
            total = item.total_length if item.length_known else None
            self._start_data(item.transaction_id, total, out, container=False)
        elif isinstance(item, OperationResponse):
            self._handle_response(item, out)
        elif isinstance(item, Container):
            self._handle_container(item, out)
        elif isinstance(item, Event):
            out.append(EventReceived(item))
        elif isinstance(item, ProbeRequest):
            out.append(ProbeRequested())
        elif isinstance(item, ProbeResponse):
            out.append(ProbeAnswered())
        elif isinstance(item, Goodbye):
            out.append(GoodbyeReceived())
        elif isinstance(item, InitFail):
            out.append(InitRefused(item.reason))
        else:
            out.append(StrayPacket(f"unexpected {type(item).__name__}"))

    def _handle_init(self, item: FrameEvent, out: list[InitiatorEvent]) -> None:
        if isinstance(item, InitFail):
            self._phase = _Phase.CLOSED
            out.append(InitRefused(item.reason))
        elif self.role is Role.COMMAND and isinstance(item, InitCommandAck):
            self._phase = _Phase.READY
            if self.fuji:
                self._framer.use_containers()
            out.append(InitAccepted(item))
        elif self.role is Role.EVENT and isinstance(item, InitEventAck):
            self._phase = _Phase.READY
            out.append(InitAccepted(None))
        elif isinstance(item, ProbeRequest):
            out.append(ProbeRequested())
        else:
            raise RemoteProtocolError(f"{type(item).__name__} received during the Init handshake")

    def _current(self, tid: int, what: str, out: list[InitiatorEvent]) -> _Transaction | None:
        tx = self._tx
        if tx is None or tx.tid != tid:
            out.append(StrayPacket(f"{what} for transaction {tid}, which is not running"))
            return None
        return tx

    def _start_data(
        self, tid: int, total: int | None, out: list[InitiatorEvent], *, container: bool
    ) -> None:
        tx = self._current(tid, "data", out)
        if tx is None:
            return  # its chunks are dropped as stray too
        if container and tx.in_data:
            # Fuji may split data-in over several containers: one growing phase.
            tx.total = None if tx.total is None or total is None else tx.total + total
            return
        if tx.in_data and not container:
            raise RemoteProtocolError(f"a second Start Data in transaction {tid}")
        tx.in_data = True
        tx.total = total
        out.append(DataPhaseStarted(tid, total))

    def _handle_data(self, chunk: DataChunk, out: list[InitiatorEvent]) -> None:
        tx = self._tx
        if tx is None or tx.tid != chunk.transaction_id or not tx.in_data:
            if chunk.last:
                out.append(StrayPacket(f"data for transaction {chunk.transaction_id} dropped"))
            return
        tx.received += len(chunk.data)
        if not self.fuji and tx.total is not None and tx.received > tx.total:
            raise RemoteProtocolError(
                f"transaction {tx.tid}: {tx.received} data bytes, {tx.total} announced"
            )
        if chunk.data:
            out.append(DataReceived(tx.tid, chunk.data))

    def _handle_response(self, response: OperationResponse, out: list[InitiatorEvent]) -> None:
        tx = self._tx
        if tx is None:
            out.append(StrayPacket(f"response 0x{response.code:04X} with no transaction running"))
            return
        if response.transaction_id != tx.tid and not tx.lenient_tid:
            # libgphoto2 skips an older TID as a stale reply; a newer one is garbage.
            out.append(StrayPacket(f"response for transaction {response.transaction_id}"))
            return
        # A response during our data-out phase is the camera refusing early: it ends the
        # transaction, and data_out() then refuses to send the rest.
        self._tx = None
        out.append(ResponseReceived(response, tx.received, tx.total))

    def _handle_container(self, item: Container, out: list[InitiatorEvent]) -> None:
        if item.kind == ContainerType.RESPONSE:
            self._handle_response(
                OperationResponse(item.code, item.transaction_id, item.params), out
            )
        elif item.kind == ContainerType.EVENT:
            out.append(EventReceived(Event(item.code, item.transaction_id, item.params)))
        else:
            out.append(StrayPacket(f"a command container 0x{item.code:04X} from the camera"))

    def _require(self, role: Role, phase: _Phase) -> None:
        if self.role is not role:
            raise LocalProtocolError(f"not allowed on the {self.role.value} connection")
        if self._phase is not phase:
            raise LocalProtocolError(f"not allowed in state {self._phase.name}")
