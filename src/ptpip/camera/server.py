"""The virtual camera's network side: accepts PTP/IP connections and runs sessions.

One :class:`VirtualCamera` listens on a TCP port (127.0.0.1 unless told otherwise). Each
connection gets a :class:`Responder` state machine; the first packet says whether it is a
command or an event connection. Requests are handled one at a time by the camera's
:class:`~ptpip.camera.personality.Personality`; data-in phases are streamed from files.

A personality may declare :class:`ExtraListener` ports beside the command port (Fuji: events
on +1, live view on +2). They are bound when the camera starts, so their numbers are
reserved, and a ``deferred`` one accepts connections only once
:meth:`VirtualCamera.open_listener` ran for the session (Fuji's InitiateOpenCapture): before
that a connect is refused, as on the camera. An event listener's connection becomes the
session's event connection (no handshake in the Fuji dialect); a stream listener's is handed
to :meth:`Personality.stream_connected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ptpip.errors import PtpError, RemoteProtocolError
from ptpip.ip.packets import InitCommandAck
from ptpip.ip.responder import (
    CancelReceived,
    CommandInit,
    DataOutChunk,
    DataOutStarted,
    EventInit,
    GoodbyeReceived,
    ProbeAnswered,
    ProbeRequested,
    RequestReceived,
    Responder,
    ResponderEvent,
    ResponderRole,
    StrayInput,
)
from ptpip.ptp.codes import DataPhase, InitFailReason, ResponseCode

if TYPE_CHECKING:
    from ptpip.camera.personality import DataSource, Personality

__all__ = [
    "Connection",
    "ExtraListener",
    "Faults",
    "ListenerKind",
    "ServerSession",
    "VirtualCamera",
]

log = logging.getLogger("ptpip.camera")

#: Data-in travels in packets of this size: one TCP segment each on loopback, so Wireshark's
#: PTP/IP dissector (no reassembly) decodes every one (gphoto2-interop.md §12.2).
DATA_CHUNK = 60 * 1024
#: Largest data-out phase kept in memory (property values, object infos).
MAX_DATA_OUT = 64 * 1024 * 1024


@dataclass(slots=True)
class Faults:
    """Misbehaviour on demand, for testing clients."""

    #: operation codes never answered (the camera "hangs")
    stall: set[int] = field(default_factory=set)
    #: seconds to wait before each response
    delay: float = 0.0
    #: refuse every Init with this InitFail reason
    refuse_init: int | None = None
    #: close the command connection after this many data bytes of a data-in phase
    drop_after_bytes: int | None = None


class ListenerKind(Enum):
    """What connections on an extra port are."""

    #: the session's event connection (Fuji: no handshake, containers from the first byte)
    EVENT = "event"
    #: a push-only stream handed to the personality (Fuji live view)
    STREAM = "stream"


@dataclass(frozen=True, slots=True)
class ExtraListener:
    """A port a personality serves besides the command port."""

    #: the key in :attr:`VirtualCamera.ports`
    name: str
    kind: ListenerKind
    #: its port is the command port plus this (free ports in a row when the port is 0)
    offset: int
    #: bound at start but refusing connections until :meth:`VirtualCamera.open_listener`
    deferred: bool = False


class _Conn(asyncio.Protocol):
    """One accepted TCP connection (on the command port, or on an extra ``listener``)."""

    def __init__(self, camera: VirtualCamera, listener: ExtraListener | None = None) -> None:
        self.camera = camera
        self.listener = listener
        fuji = camera.personality.fuji_dialect
        if listener is not None and listener.kind is ListenerKind.EVENT:
            self.responder = Responder(ResponderRole.EVENT, fuji=fuji)
        else:
            self.responder = Responder(fuji=fuji)
        self.transport: asyncio.Transport | None = None
        self.session: ServerSession | None = None
        self._paused: asyncio.Future[None] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.camera._conns.add(self)
        if self.listener is not None:
            self.camera._extra_connection(self, self.listener)

    def data_received(self, data: bytes) -> None:
        if self.listener is not None and self.listener.kind is ListenerKind.STREAM:
            return  # the host sends nothing on a stream (vendor-fuji.md §12)
        try:
            events = self.responder.receive_data(data)
        except RemoteProtocolError as exc:
            log.warning("closing a connection that sent garbage: %s", exc)
            self.abort()
            return
        for event in events:
            self._dispatch(event)

    def _dispatch(self, event: ResponderEvent) -> None:
        camera = self.camera
        if isinstance(event, CommandInit):
            camera._command_init(self, event)
        elif isinstance(event, EventInit):
            camera._event_init(self, event.connection_number)
        elif isinstance(event, ProbeRequested):
            target = self.session.event_conn if self.session and self.session.event_conn else self
            target.write(self.responder.probe_response())
        elif isinstance(event, GoodbyeReceived):
            # Fuji's farewell (vendor-fuji.md §3): the client is done; end its session.
            log.debug("goodbye received")
            if self.session is not None and self is self.session.command_conn:
                self.close()
        elif isinstance(event, ProbeAnswered):
            log.debug("%s", type(event).__name__)
        elif isinstance(event, StrayInput):
            log.info("stray input: %s", event.what)
        elif self.session is not None:
            self.session.feed(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.camera._conns.discard(self)
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)
        if self.session is not None:
            self.session.connection_lost(self)

    def pause_writing(self) -> None:
        self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    async def drain(self) -> None:
        if self._paused is not None and not self._paused.done():
            await self._paused

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class ServerSession:
    """A client's command connection (plus its event connection) and its PTP session."""

    def __init__(self, camera: VirtualCamera, conn: _Conn, connection_number: int) -> None:
        self.camera = camera
        self.command_conn = conn
        self.event_conn: _Conn | None = None
        self._held_events: list[tuple[int, int, tuple[int, ...]]] = []
        self.stream_conns: set[_Conn] = set()
        #: deferred extra listeners this session opened (see VirtualCamera.open_listener)
        self.open_listeners: set[str] = set()
        self.connection_number = connection_number
        self.session_id: int | None = None
        self._requests: asyncio.Queue[RequestReceived | None] = asyncio.Queue()
        self._data_out: asyncio.Queue[DataOutChunk | CancelReceived | None] = asyncio.Queue()
        self._cancelled: set[int] = set()
        self.current_tid: int | None = None
        self.task = asyncio.create_task(self._run())
        self.state: dict[str, object] = {}  # per-session scratch space for personalities

    # -- input from the connections ----------------------------------------------------------

    def feed(self, event: ResponderEvent) -> None:
        if isinstance(event, RequestReceived):
            self._requests.put_nowait(event)
        elif isinstance(event, DataOutChunk):
            self._data_out.put_nowait(event)
        elif isinstance(event, DataOutStarted):
            if event.total is not None and event.total > MAX_DATA_OUT:
                log.warning("data-out of %d bytes refused", event.total)
                self.command_conn.abort()
        elif isinstance(event, CancelReceived):
            self._cancelled.add(event.transaction_id)
            if event.transaction_id == self.current_tid:
                self._data_out.put_nowait(event)  # wakes a data-out phase that waits for more

    def connection_lost(self, conn: _Conn) -> None:
        if conn is self.command_conn:
            self._requests.put_nowait(None)
            self._data_out.put_nowait(None)
            if self.event_conn is not None:
                self.event_conn.close()
            for stream in list(self.stream_conns):
                stream.close()
            self.camera._session_ended(self)
        elif conn is self.event_conn:
            self.event_conn = None
        else:
            self.stream_conns.discard(conn)

    # -- output ------------------------------------------------------------------------------

    def send_event(self, code: int, transaction_id: int, params: tuple[int, ...] = ()) -> None:
        """An event on the event connection (dropped, with a log line, if there is none).

        An event port the client was told to use but whose connection this server has not
        accepted yet (the client connected and sent a request at once; the accept races it)
        holds the events until the connection is attached, as a camera's TCP stack would.
        """
        conn = self.event_conn
        if conn is None and "event" in self.open_listeners:
            if len(self._held_events) < 256:
                self._held_events.append((code, transaction_id, params))
            return
        if conn is None or not conn.is_open:
            log.info("event 0x%04X dropped: no event connection", code)
            return
        personality = self.camera.personality
        if personality.event_transaction_id is not None:
            transaction_id = personality.event_transaction_id
        params = _padded(params, personality.event_param_count)
        conn.write(conn.responder.event(code, transaction_id, params))

    def attach_event_connection(self, conn: _Conn) -> None:
        self.event_conn = conn
        conn.session = self
        held, self._held_events = self._held_events, []
        for code, tid, params in held:
            self.send_event(code, tid, params)

    def cancelled(self, tid: int) -> bool:
        return tid in self._cancelled

    # -- the request loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while (request := await self._requests.get()) is not None:
            self.current_tid = request.transaction_id
            try:
                await self._serve(request)
            except (ConnectionError, PtpError) as exc:
                log.info("session ended during 0x%04X: %s", request.code, exc)
                return
            except Exception:
                log.exception("virtual camera failed on 0x%04X", request.code)
                self._respond(ResponseCode.GENERAL_ERROR, request.transaction_id)
            finally:
                self.current_tid = None
                self._cancelled.discard(request.transaction_id)

    async def _serve(self, request: RequestReceived) -> None:
        personality = self.camera.personality
        faults = self.camera.faults
        data: bytes | None = None
        if request.data_phase == DataPhase.DATA_OUT or (
            request.data_phase is None and personality.has_data_out(request.code)
        ):
            data = await self._collect_data_out(request.transaction_id)
            if data is None:
                return
        if request.code in faults.stall:
            log.info("fault: stalling 0x%04X", request.code)
            await asyncio.Event().wait()
        reply = await personality.handle(self, request, data)
        if faults.delay:
            await asyncio.sleep(faults.delay)
        tid = request.transaction_id
        # A data phase goes out when the reply has one: with OK normally, and (Fuji) an
        # empty one before an error, as libgphoto2 reads one data container per data-in op.
        if reply.data is not None:
            sent = await self._send_data(request.code, tid, reply.data)
            if sent is None:
                self._respond(ResponseCode.TRANSACTION_CANCELLED, tid)
                return
        if reply.transaction_id is not None:
            tid = reply.transaction_id
        self._respond(reply.code, tid, reply.params)
        for after in reply.after:
            after()

    async def _collect_data_out(self, tid: int) -> bytes | None:
        """The data-out bytes; None when the link closed or the initiator cancelled (then
        answered here: the rest of the data will never come)."""
        buf = bytearray()
        while True:
            chunk = await self._data_out.get()
            if chunk is None:
                return None
            if chunk.transaction_id != tid:
                continue
            if isinstance(chunk, CancelReceived):
                self._respond(ResponseCode.TRANSACTION_CANCELLED, tid)
                return None
            buf += chunk.data
            if len(buf) > MAX_DATA_OUT:
                self.command_conn.abort()
                return None
            if chunk.last:
                return bytes(buf)

    async def _send_data(self, code: int, tid: int, source: DataSource) -> int | None:
        conn = self.command_conn
        responder = conn.responder
        total = source.size
        conn.write(responder.data_in_start(code, tid, total))
        sent = 0
        drop = self.camera.faults.drop_after_bytes
        chunk_size = self.camera.data_chunk
        if total == 0:
            conn.write(responder.data_in(b"", last=True))
            return 0
        for piece in source.chunks(chunk_size):
            if self.cancelled(tid):
                responder.abandon_data_in()
                return None
            sent += len(piece)
            conn.write(responder.data_in(piece, last=sent >= total))
            if drop is not None and sent >= drop:
                conn.abort()
                raise ConnectionResetError("fault: dropped the connection mid-transfer")
            await conn.drain()
            if not conn.is_open:
                raise ConnectionResetError("the client went away")
            if sent % (4 * chunk_size) == 0:
                await asyncio.sleep(0)  # let Cancel and other input in
        return sent

    def _respond(self, code: int, tid: int, params: tuple[int, ...] = ()) -> None:
        conn = self.command_conn
        params = _padded(params, self.camera.personality.response_param_count)
        conn.write(conn.responder.respond(code, tid, params))


def _padded(params: tuple[int, ...], count: int) -> tuple[int, ...]:
    """``params`` with zeros up to ``count`` (some bodies always send them all)."""
    return params + (0,) * (count - len(params)) if len(params) < count else params


class VirtualCamera:
    """A PTP/IP responder serving one :class:`Personality` on ``host:port``."""

    def __init__(
        self,
        personality: Personality,
        *,
        host: str = "127.0.0.1",
        port: int = 15740,
        faults: Faults | None = None,
        data_chunk: int = DATA_CHUNK,
        port_overrides: dict[str, int] | None = None,
    ) -> None:
        self.personality = personality
        #: extra listener name -> an explicit port instead of command port + offset
        self.port_overrides = dict(port_overrides or {})
        self.host = host
        self.port = port
        self.faults = faults or Faults()
        self.data_chunk = data_chunk
        self.session: ServerSession | None = None
        #: "command" and each extra listener's name -> its port (known after start)
        self.ports: dict[str, int] = {"command": port}
        self._conns: set[_Conn] = set()
        self._servers: list[asyncio.Server] = []
        self._extra: dict[str, asyncio.Server] = {}
        self._numbers = itertools.count(1)
        #: Inits whose ack waits for the personality's confirmation (a pairing prompt)
        self._confirming: set[asyncio.Future[None]] = set()
        self.on_session: Callable[[ServerSession | None], None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> None:
        """Bind and listen; port 0 picks a free port (then ``self.port`` tells which).

        Extra listeners are bound at ``port + offset``; with port 0 the command port is
        chosen so that they are free too, keeping them in a row (gphoto2's Fuji mode takes
        the live-view port to be the event port + 1).
        """
        loop = asyncio.get_running_loop()
        specs = self.personality.extra_listeners
        attempts = 50 if self.port == 0 and specs else 1
        for attempt in range(attempts):
            server = await loop.create_server(lambda: _Conn(self), self.host, self.port)
            port = int(server.sockets[0].getsockname()[1])
            try:
                extra = await self._bind_extra(port)
            except (OSError, OverflowError):
                server.close()
                if attempt + 1 == attempts:
                    raise
                continue
            break
        self._servers.append(server)
        self._servers.extend(extra.values())
        self._extra = extra
        self.port = port
        self.ports = {"command": port} | {
            name: int(s.sockets[0].getsockname()[1]) for name, s in extra.items()
        }
        await self.personality.started(self)

    async def _bind_extra(self, port: int) -> dict[str, asyncio.Server]:
        loop = asyncio.get_running_loop()
        bound: dict[str, asyncio.Server] = {}
        try:
            for spec in self.personality.extra_listeners:
                bound[spec.name] = await loop.create_server(
                    lambda spec=spec: _Conn(self, spec),  # type: ignore[misc]
                    self.host,
                    self.port_overrides.get(spec.name, port + spec.offset),
                    start_serving=not spec.deferred,
                )
        except BaseException:
            for server in bound.values():
                server.close()
            raise
        return bound

    async def open_listener(self, name: str, session: ServerSession) -> None:
        """Let ``session`` connect to the deferred listener ``name`` (starts listening)."""
        server = self._extra[name]
        session.open_listeners.add(name)
        if not server.is_serving():
            await server.start_serving()

    async def serve_forever(self) -> None:
        await asyncio.gather(*(s.serve_forever() for s in self._servers))

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._confirming):
            task.cancel()
        for conn in list(self._conns):
            conn.abort()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        if self.session is not None:
            self.session.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.session.task
        await self.personality.stopped(self)

    async def __aenter__(self) -> VirtualCamera:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handshakes --------------------------------------------------------------------------

    def _command_init(self, conn: _Conn, event: CommandInit) -> None:
        if self.faults.refuse_init is not None:
            conn.write(conn.responder.refuse(self.faults.refuse_init))
            conn.close()
            return
        if conn.session is not None:  # a repeated Init on a live connection (gphoto2 Fuji)
            conn.write(self.personality.init_ack(conn.session.connection_number).encode())
            return
        if self.session is not None and self.session.command_conn.is_open:
            conn.write(conn.responder.refuse(InitFailReason.BUSY))
            conn.close()
            return
        refusal = self.personality.check_initiator(event.request)
        if refusal is not None:
            conn.write(conn.responder.refuse(refusal))
            conn.close()
            return
        confirmation = self.personality.confirm_initiator(event.request)
        if confirmation is not None:  # the camera asks its user first; the ack waits
            task = asyncio.ensure_future(self._init_confirmed(conn, confirmation))
            self._confirming.add(task)
            task.add_done_callback(self._confirming.discard)
            return
        self._open_command(conn)

    async def _init_confirmed(self, conn: _Conn, confirmation: Awaitable[int | None]) -> None:
        """Answer a held Init once the personality decided (InitFail reason, or None: ack);
        if the initiator leaves first, the decision is cancelled."""
        decision = asyncio.ensure_future(confirmation)
        await asyncio.wait({decision, conn.closed}, return_when=asyncio.FIRST_COMPLETED)
        if not decision.done():
            decision.cancel()
            return
        try:
            refusal = decision.result()
        except Exception:
            log.exception("confirming an initiator failed")
            refusal = InitFailReason.UNSPECIFIED
        if not conn.is_open:
            return
        if refusal is None and self.session is not None and self.session.command_conn.is_open:
            refusal = InitFailReason.BUSY
        if refusal is not None:
            conn.write(conn.responder.refuse(refusal))
            conn.close()
            return
        self._open_command(conn)

    def _open_command(self, conn: _Conn) -> None:
        session = ServerSession(self, conn, next(self._numbers))
        conn.session = session
        self.session = session
        ack: InitCommandAck = self.personality.init_ack(session.connection_number)
        conn.write(conn.responder.accept(ack))
        if self.on_session is not None:
            self.on_session(session)

    def _extra_connection(self, conn: _Conn, spec: ExtraListener) -> None:
        """A connection on an extra port: the session's event connection, or a stream."""
        session = self.session
        if session is None or (spec.deferred and spec.name not in session.open_listeners):
            # The port stays listening once opened; later sessions must open it again.
            log.info("%s connection refused: not opened in this session", spec.name)
            conn.abort()
            return
        if spec.kind is ListenerKind.STREAM:
            conn.session = session
            session.stream_conns.add(conn)
            self.personality.stream_connected(session, conn)
        elif conn.responder.ready:  # no handshake on this event port (Fuji)
            if session.event_conn is not None and session.event_conn.is_open:
                log.info("second event connection refused")
                conn.abort()
                return
            session.attach_event_connection(conn)

    def _event_init(self, conn: _Conn, number: int) -> None:
        session = self.session
        if session is None or session.connection_number != number or session.event_conn:
            conn.write(conn.responder.refuse(InitFailReason.UNSPECIFIED))
            conn.close()
            return
        session.event_conn = conn
        conn.session = session
        conn.write(conn.responder.accept())

    def _session_ended(self, session: ServerSession) -> None:
        if self.session is session:
            self.session = None
            self.personality.session_closed(session)
            if self.on_session is not None:
                self.on_session(None)


#: An accepted connection, as personalities see it (``write``, ``drain``, ``is_open``, ``close``).
Connection = _Conn
