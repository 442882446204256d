"""What a virtual camera *is*: its identity, its operations, and how it answers them.

The server (:mod:`ptpip.camera.server`) does the networking; a :class:`Personality` turns each
request into a :class:`Reply`. Operations are registered in a table with :func:`operation`;
DeviceInfo lists exactly the codes in that table, so what is advertised is what works.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from ptpip.ip.packets import FujiInitCommandRequest, InitCommandAck, InitCommandRequest
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import OperationCode, ResponseCode, Vendor

if TYPE_CHECKING:
    from ptpip.camera.server import Connection, ExtraListener, ServerSession, VirtualCamera

__all__ = [
    "MAX_ACK_NAME_UNITS",
    "BytesSource",
    "DataInStyle",
    "DataSource",
    "FileSource",
    "Handler",
    "Personality",
    "Reply",
    "ServiceError",
    "fit_name",
    "operation",
]

#: The longest friendly name (UTF-16 units) an Init Command Ack carries. PTPy reads the ack
#: with a single recv(72): 8 header + 4 connection number + 16 GUID + 2·(19 + 1) name + 4
#: version = 72, so a longer name leaves bytes that break its next read (peers.md §2.1).
MAX_ACK_NAME_UNITS = 19


def fit_name(name: str, limit: int = MAX_ACK_NAME_UNITS) -> str:
    """``name`` in at most ``limit`` UTF-16 units, then stripped: cut after its last whole
    word when that keeps at least half of it, else between characters (never inside a
    surrogate pair)."""
    units = 0
    for index, char in enumerate(name):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            cut, whole = name[:index], char == " "
            break
    else:
        return name
    space = cut.rfind(" ")
    if not whole and space >= len(cut) // 2:
        cut = cut[:space]
    return cut.strip()


class DataInStyle(Enum):
    """How the CIPA packets of a data-in phase carry the data."""

    #: Start Data, Data packets of the server's chunk size, and a last End Data
    CHUNKED = "chunked"
    #: Start Data, then one End Data carrying all the data and no Data packet (the style of
    #: some bodies; the End Data of a large object is written in pieces, header first)
    SINGLE_END_DATA = "single-end-data"


class ServiceError(Exception):
    """A service of a personality's (Canon's UPnP) cannot start; raised from ``started``."""


class DataSource(Protocol):
    """A data-in phase's bytes, produced piece by piece."""

    @property
    def size(self) -> int: ...

    def chunks(self, chunk_size: int) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class BytesSource:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        view = memoryview(self.data)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])


@dataclass(frozen=True, slots=True)
class FileSource:
    """A byte range of a file, read as it is sent: a 4 GiB object never sits in memory."""

    path: Path
    offset: int
    length: int

    @property
    def size(self) -> int:
        return self.length

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        # O_NOFOLLOW: a file swapped for a symlink is not followed (personalities serve
        # their card through ObjectStore.source, which checks every folder above it too).
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            pos, end = self.offset, self.offset + self.length
            while pos < end:
                piece = os.pread(fd, min(chunk_size, end - pos), pos)
                if not piece:
                    raise OSError(f"{self.path} shrank while being sent")
                pos += len(piece)
                yield piece
        finally:
            os.close(fd)


@dataclass(slots=True)
class Reply:
    """The answer to one request: a response code, parameters, optional data-in, and work
    to do once the response is on the wire (events that must follow it)."""

    code: int = ResponseCode.OK
    params: tuple[int, ...] = ()
    data: DataSource | None = None
    after: list[Callable[[], None]] = field(default_factory=list)
    #: answer with this TID instead of the request's (Leica's CloseSession: 0)
    transaction_id: int | None = None

    @classmethod
    def with_data(cls, data: bytes | DataSource, *params: int) -> Reply:
        source = BytesSource(data) if isinstance(data, bytes) else data
        return cls(ResponseCode.OK, params, source)


#: A handler: (personality, session, request, data-out bytes or None) -> Reply.
Handler = Callable[..., Awaitable[Reply]]
H = TypeVar("H", bound=Handler)


def operation(code: int, *, data_out: bool = False, session: bool = True) -> Callable[[H], H]:
    """Register a handler for ``code`` in the personality class's operation table.

    ``session=False`` allows the operation outside a session (GetDeviceInfo, OpenSession).
    """

    def mark(fn: H) -> H:
        fn.__ptp_operation__ = (code, data_out, session)  # type: ignore[attr-defined]
        return fn

    return mark


class Personality:
    """Base class: identity, operation dispatch and the Init policy."""

    vendor: ClassVar[Vendor] = Vendor.GENERIC
    fuji_dialect: ClassVar[bool] = False
    #: code -> (handler, has data-out, needs session); built per subclass from @operation
    operations: ClassVar[dict[int, tuple[Handler, bool, bool]]] = {}
    #: ports served besides the command port (Fuji: event and live-view ports)
    extra_listeners: ClassVar[tuple[ExtraListener, ...]] = ()
    #: pad every response / event to this many parameters (Leica: 5 and 3, seed 000)
    response_param_count: ClassVar[int] = 0
    event_param_count: ClassVar[int] = 0
    #: send every event with this TID instead of the one given (Leica: 0xFFFFFFFF, seed 000)
    event_transaction_id: ClassVar[int | None] = None
    #: how the packets of a data-in phase carry its data (CIPA framing only)
    data_in_style: ClassVar[DataInStyle] = DataInStyle.CHUNKED
    #: seconds without traffic after which the body itself drops its client, when sooner
    #: than the server's ``idle_timeout`` (None: only the server's limit applies)
    idle_drop: float | None = None

    manufacturer = "ptpip"
    model = "ptpip virtual camera"
    device_version = "1.0"
    serial_number = "0000000000000001"
    guid = bytes(range(16))

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[int, tuple[Handler, bool, bool]] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                mark = getattr(attr, "__ptp_operation__", None)
                if mark is not None:
                    code, data_out, session = mark
                    table[code] = (attr, data_out, session)
        cls.operations = table

    # -- hooks the server calls --------------------------------------------------------------

    @property
    def ack_name(self) -> str:
        """The friendly name of the Init Command Ack: the model, cut to fit PTPy's 72-byte
        read of the ack (DeviceInfo keeps the whole model)."""
        return fit_name(self.model)

    def init_ack(self, connection_number: int) -> InitCommandAck:
        return InitCommandAck(connection_number, self.guid, self.ack_name)

    def check_initiator(self, request: InitCommandRequest | FujiInitCommandRequest) -> int | None:
        """An InitFail reason to refuse this initiator, or None to accept it."""
        return None

    def confirm_initiator(
        self, request: InitCommandRequest | FujiInitCommandRequest
    ) -> Awaitable[int | None] | None:
        """None to answer the Init at once; or an awaitable that the ack waits for, giving an
        InitFail reason or None (accept): a camera that asks its user about a new client."""
        return None

    def has_data_out(self, code: int) -> bool:
        entry = self.operations.get(code)
        return entry is not None and entry[1]

    async def started(self, camera: VirtualCamera) -> None:
        """The server is listening."""

    async def stopped(self, camera: VirtualCamera) -> None:
        """The server stopped."""

    def listening_lines(self, camera: VirtualCamera) -> list[str]:
        """Lines ``ptpip simulate`` prints below "listening on …" (how to reach extras)."""
        return []

    def session_closed(self, session: ServerSession) -> None:
        """The client's command connection closed."""

    def stream_connected(self, session: ServerSession, conn: Connection) -> None:
        """A client connected to a stream listener; the personality pushes data to it."""
        conn.close()

    async def handle(
        self, session: ServerSession, request: RequestReceived, data: bytes | None
    ) -> Reply:
        entry = self.operations.get(request.code)
        if entry is None:
            return Reply(ResponseCode.OPERATION_NOT_SUPPORTED)
        handler, _, needs_session = entry
        if needs_session and session.session_id is None:
            return Reply(ResponseCode.SESSION_NOT_OPEN)
        return await handler(self, session, request, data)

    def operations_supported(self) -> tuple[int, ...]:
        return tuple(sorted(self.operations))

    # -- standard session operations every personality has ---------------------------------

    @operation(OperationCode.OPEN_SESSION, session=False)
    async def _open_session(
        self, session: ServerSession, request: RequestReceived, data: bytes | None
    ) -> Reply:
        if session.session_id is not None:
            return Reply(ResponseCode.SESSION_ALREADY_OPEN, (session.session_id,))
        if not request.params or request.params[0] == 0:
            return Reply(ResponseCode.INVALID_PARAMETER)
        session.session_id = request.params[0]
        return Reply()

    @operation(OperationCode.CLOSE_SESSION)
    async def _close_session(
        self, session: ServerSession, request: RequestReceived, data: bytes | None
    ) -> Reply:
        session.session_id = None
        return Reply()
