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

A peer cannot make it hold more than a bounded amount of memory or hold the only session
forever:

- A connection whose writes back up (its peer does not read) is not read either; queued
  requests and data-out bytes are bounded the same way (the connection stops being read);
  data for no waiting request, events and Probe answers a peer does not read are dropped
  with a log line.
- A connection must send its Init within ``handshake_timeout``; a session with no traffic
  for ``idle_timeout`` ends; a data-out phase that stops for ``data_timeout`` is answered
  IncompleteTransfer. Accepted sockets use short TCP keep-alive timings, so a vanished host
  is noticed.
- When a new client sends its Init while a session runs, a session silent for
  ``probe_after`` seconds gets a Probe Request (ptpip-standard.md §10); with no answer (or
  any other traffic) within ``probe_timeout`` it ends and the new client gets in. A session
  in use is never probed (libgphoto2 never answers probes): the newcomer gets InitFail BUSY.
- Connection numbers are unpredictable, and an event connection must come from the command
  connection's host; each session gets one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import socket
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ptpip.camera.store import StoreError
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
    "DEFAULT_DATA_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_PROBE_AFTER",
    "DEFAULT_PROBE_TIMEOUT",
    "Connection",
    "ExtraListener",
    "Faults",
    "ListenerKind",
    "ServerSession",
    "VirtualCamera",
    "random_connection_number",
]

log = logging.getLogger("ptpip.camera")

#: Data-in travels in packets of this size: one TCP segment each on loopback, so Wireshark's
#: PTP/IP dissector (no reassembly) decodes every one (gphoto2-interop.md §12.2).
DATA_CHUNK = 60 * 1024
#: Largest data-out phase kept in memory (property values, object infos).
MAX_DATA_OUT = 64 * 1024 * 1024
#: Requests queued behind the one being served before the command connection stops being
#: read (PTP runs one transaction at a time; a client may send a few ahead).
MAX_QUEUED_REQUESTS = 16
#: Data-out bytes read ahead of the request that takes them before reading stops.
MAX_QUEUED_DATA = 1024 * 1024
#: Bytes an event connection may have waiting to go out; events beyond are dropped.
MAX_EVENT_BACKLOG = 256 * 1024
#: Bytes a connection may have waiting to go out before Probe Responses are dropped.
MAX_PROBE_BACKLOG = 64 * 1024
#: Open connections (all ports together) beyond which new ones are closed at once.
MAX_CONNECTIONS = 64
#: TCP keep-alive on accepted sockets: a probe after 10 s of silence, then every 5 s; after
#: 3 unanswered the kernel closes the connection (a vanished host is gone in ~25 s).
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3

#: Seconds a new connection has to send its Init.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
#: Seconds without traffic after which a session ends.
DEFAULT_IDLE_TIMEOUT = 300.0
#: Seconds a session must have been silent before a newcomer's Init makes it probed.
DEFAULT_PROBE_AFTER = 30.0
#: Seconds a probed session has to answer (CIPA suggests 10; under ptpip's 10-s Init timeout).
DEFAULT_PROBE_TIMEOUT = 5.0
#: Seconds a data-out phase may pause before it is answered IncompleteTransfer.
DEFAULT_DATA_TIMEOUT = 10.0


def random_connection_number() -> int:
    """A non-zero 32-bit ConnectionNumber another client cannot guess."""
    return secrets.randbelow(0xFFFF_FFFF) + 1


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
        #: the peer's IP address (IPv4-mapped IPv6 addresses as IPv4)
        self.peer = ""
        #: answers (Probe Responses) dropped because the peer does not read
        self.dropped = 0
        self._paused: asyncio.Future[None] | None = None
        self._read_pauses: set[str] = set()
        self._unhandled: deque[ResponderEvent] = deque()
        self._pumping = False
        self._handshake: asyncio.TimerHandle | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = _host_of(transport.get_extra_info("peername"))
        camera = self.camera
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune(sock)
        if len(camera._conns) >= camera.max_connections:
            log.warning("connection from %s refused: %d are open", self.peer, len(camera._conns))
            transport.abort()
            return
        camera._conns.add(self)
        if self.listener is not None:
            camera._extra_connection(self, self.listener)
        elif camera.handshake_timeout:
            loop = asyncio.get_running_loop()
            self._handshake = loop.call_later(camera.handshake_timeout, self._no_handshake)

    def _no_handshake(self) -> None:
        self._handshake = None
        if self.is_open:
            log.info(
                "closing the connection from %s: no Init within %g s",
                self.peer,
                self.camera.handshake_timeout,
            )
            self.abort()

    def _handshake_arrived(self) -> None:
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None

    def data_received(self, data: bytes) -> None:
        if self.listener is not None and self.listener.kind is ListenerKind.STREAM:
            return  # the host sends nothing on a stream (vendor-fuji.md §12)
        if self.session is not None:
            self.session.note_traffic()
        try:
            self._unhandled.extend(self.responder.receive_data(data))
        except RemoteProtocolError as exc:
            log.warning("closing a connection that sent garbage: %s", exc)
            self.abort()
            return
        self._pump()

    def _pump(self) -> None:
        """Dispatch events until none are left or reading is paused: then the rest (at most
        one read's worth) waits for :meth:`resume_reading`."""
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._unhandled and not self._read_pauses and self.is_open:
                self._dispatch(self._unhandled.popleft())
        finally:
            self._pumping = False

    def _dispatch(self, event: ResponderEvent) -> None:
        camera = self.camera
        session = self.session
        if isinstance(event, CommandInit):
            self._handshake_arrived()
            camera._command_init(self, event)
        elif isinstance(event, EventInit):
            self._handshake_arrived()
            camera._event_init(self, event.connection_number)
        elif isinstance(event, ProbeRequested):
            self._answer_probe()
        elif isinstance(event, GoodbyeReceived):
            # Fuji's farewell (vendor-fuji.md §3): the client is done; end its session.
            log.debug("goodbye received")
            if session is not None and self is session.command_conn:
                self.close()
        elif isinstance(event, ProbeAnswered):
            log.debug("%s", type(event).__name__)
        elif isinstance(event, StrayInput):
            log.info("stray input: %s", event.what)
        elif session is not None and self is session.command_conn:
            session.feed(event)
        else:
            log.info("%s on an event connection ignored", type(event).__name__)

    def _answer_probe(self) -> None:
        """A Probe Response on the event connection (ptpip-standard.md §10), unless the peer
        does not read its answers: a flood of probes must not pile up replies."""
        session = self.session
        target = self
        if session is not None and session.event_conn is not None and session.event_conn.is_open:
            target = session.event_conn
        if target.backlog > MAX_PROBE_BACKLOG:
            target.dropped += 1
            if target.dropped == 1 or target.dropped % 10_000 == 0:
                log.warning(
                    "%d Probe Responses to %s dropped: it does not read them",
                    target.dropped,
                    target.peer,
                )
            return
        target.write(self.responder.probe_response())

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._handshake_arrived()
        self.camera._conns.discard(self)
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)
        if self.session is not None:
            self.session.connection_lost(self)

    # -- flow control ------------------------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = asyncio.get_running_loop().create_future()
        # A peer that does not read what it asked for is not read either (backpressure).
        self.pause_reading("writes")

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self.resume_reading("writes")

    def pause_reading(self, reason: str) -> None:
        """Stop reading from the peer until every ``reason`` given is resumed."""
        if not self._read_pauses and self.transport is not None:
            self.transport.pause_reading()
        self._read_pauses.add(reason)

    def resume_reading(self, reason: str) -> None:
        if reason not in self._read_pauses:
            return
        self._read_pauses.discard(reason)
        if not self._read_pauses and self.is_open:
            assert self.transport is not None
            self.transport.resume_reading()
            asyncio.get_running_loop().call_soon(self._pump)  # what was read but not decoded

    @property
    def reading(self) -> bool:
        return not self._read_pauses

    @property
    def backlog(self) -> int:
        """Bytes written but not yet handed to the kernel."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

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


def _host_of(peername: object) -> str:
    """The IP address of a peername tuple, IPv4-mapped IPv6 addresses written as IPv4."""
    if not isinstance(peername, tuple) or not peername:
        return ""
    host = str(peername[0])
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _tune(sock: socket.socket) -> None:
    """No Nagle delay; short TCP keep-alive timings where the platform has them."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle = "TCP_KEEPIDLE" if hasattr(socket, "TCP_KEEPIDLE") else "TCP_KEEPALIVE"  # macOS
    for name, value in (
        (idle, KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


class ServerSession:
    """A client's command connection (plus its event connection) and its PTP session."""

    def __init__(self, camera: VirtualCamera, conn: _Conn, connection_number: int) -> None:
        self.camera = camera
        self._loop = asyncio.get_running_loop()
        self.command_conn = conn
        self.event_conn: _Conn | None = None
        #: an event connection was attached once (a second one is refused)
        self.event_attached = False
        self._held_events: list[tuple[int, int, tuple[int, ...]]] = []
        self.stream_conns: set[_Conn] = set()
        #: deferred extra listeners this session opened (see VirtualCamera.open_listener)
        self.open_listeners: set[str] = set()
        self.connection_number = connection_number
        self.session_id: int | None = None
        self._requests: asyncio.Queue[RequestReceived | None] = asyncio.Queue()
        self._data_out: asyncio.Queue[DataOutChunk | CancelReceived | None] = asyncio.Queue()
        #: data-out bytes in ``_data_out``
        self._queued_data = 0
        #: TIDs of the requests queued or being served, and of those that take data-out
        self._pending_tids: Counter[int] = Counter()
        self._data_tids: Counter[int] = Counter()
        self._ignored_tid: int | None = None
        self._cancelled: set[int] = set()
        self.current_tid: int | None = None
        #: events not sent because the client does not read its event connection
        self.events_dropped = 0
        #: loop time of the client's last bytes (or of the end of the last request)
        self.last_traffic = self._loop.time()
        self._traffic: asyncio.Future[None] | None = None
        self.ended = False
        self._idle: asyncio.TimerHandle | None = None
        if camera.idle_timeout:
            self._idle = self._loop.call_later(camera.idle_timeout, self._idle_check)
        self.task = asyncio.create_task(self._run())
        camera._tasks.add(self.task)
        self.task.add_done_callback(camera._tasks.discard)
        self.state: dict[str, object] = {}  # per-session scratch space for personalities

    # -- input from the connections ----------------------------------------------------------

    def feed(self, event: ResponderEvent) -> None:
        if isinstance(event, RequestReceived):
            tid = event.transaction_id
            self._pending_tids[tid] += 1
            if self._takes_data_out(event):
                self._data_tids[tid] += 1
            self._requests.put_nowait(event)
            if self._requests.qsize() >= MAX_QUEUED_REQUESTS:
                self.command_conn.pause_reading("requests")
        elif isinstance(event, DataOutChunk):
            if event.transaction_id not in self._data_tids:
                self._ignore_data(event.transaction_id)
                return
            self._data_out.put_nowait(event)
            self._queued_data += len(event.data)
            if self._queued_data > MAX_QUEUED_DATA:
                self.command_conn.pause_reading("data")
        elif isinstance(event, DataOutStarted):
            if event.transaction_id not in self._data_tids:
                self._ignore_data(event.transaction_id)
            elif event.total is not None and event.total > MAX_DATA_OUT:
                log.warning("data-out of %d bytes refused", event.total)
                self.command_conn.abort()
        elif isinstance(event, CancelReceived):
            tid = event.transaction_id
            if tid not in self._pending_tids:
                log.debug("Cancel of transaction %d, which is not running: ignored", tid)
                return
            self._cancelled.add(tid)
            if tid == self.current_tid:
                self._data_out.put_nowait(event)  # wakes a data-out phase that waits for more

    def _takes_data_out(self, request: RequestReceived) -> bool:
        if request.data_phase is None:  # the container dialect does not say: the table does
            return self.camera.personality.has_data_out(request.code)
        return request.data_phase == DataPhase.DATA_OUT

    def _ignore_data(self, tid: int) -> None:
        if tid != self._ignored_tid:
            self._ignored_tid = tid
            log.info("data for transaction %d dropped: no request of it waits for data", tid)

    def note_traffic(self) -> None:
        """The client sent something: it is alive (and the session not idle)."""
        self.last_traffic = self._loop.time()
        if self._traffic is not None and not self._traffic.done():
            self._traffic.set_result(None)

    def connection_lost(self, conn: _Conn) -> None:
        if conn is self.command_conn:
            self.end()
        elif conn is self.event_conn:
            self.event_conn = None
        else:
            self.stream_conns.discard(conn)

    def end(self) -> None:
        """End the session: its connections close and the camera is free for a new client."""
        if self.ended:
            return
        self.ended = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._requests.put_nowait(None)
        self._data_out.put_nowait(None)
        self.command_conn.abort()
        for conn in (self.event_conn, *self.stream_conns):
            if conn is not None and conn.backlog:
                conn.abort()  # what it did not read would keep it open
            elif conn is not None:
                conn.close()
        self.stream_conns.clear()
        self.camera._session_ended(self)

    # -- liveness ----------------------------------------------------------------------------

    def _idle_check(self) -> None:
        self._idle = None
        timeout = self.camera.idle_timeout
        if self.ended or not timeout:
            return
        now = self._loop.time()
        # a request being served is not idleness (a long capture, a stalled fault)
        due = now + timeout if self.current_tid is not None else self.last_traffic + timeout
        if now < due:
            self._idle = self._loop.call_at(due, self._idle_check)
            return
        log.warning(
            "closing the session of %s: no traffic for %g s", self.command_conn.peer, timeout
        )
        self.end()

    async def probe(self, timeout: float) -> bool:
        """Send a Probe Request; whether the client shows it is alive (a Probe Response or
        any other bytes) within ``timeout`` seconds."""
        event = self.event_conn
        target = event if event is not None and event.is_open else self.command_conn
        waiter = self._traffic = self._loop.create_future()
        try:
            target.write(target.responder.probe())
            done, _ = await asyncio.wait({waiter, self.command_conn.closed}, timeout=timeout)
        finally:
            self._traffic = None
        return waiter in done

    # -- output ------------------------------------------------------------------------------

    def send_event(self, code: int, transaction_id: int, params: tuple[int, ...] = ()) -> None:
        """An event on the event connection (dropped, with a log line, if there is none, or
        if the client has not read what was sent before).

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
        if conn.backlog > MAX_EVENT_BACKLOG:
            self.events_dropped += 1
            if self.events_dropped == 1 or self.events_dropped % 10_000 == 0:
                log.warning(
                    "event 0x%04X dropped (%d so far): the client does not read its events",
                    code,
                    self.events_dropped,
                )
            return
        personality = self.camera.personality
        if personality.event_transaction_id is not None:
            transaction_id = personality.event_transaction_id
        params = _padded(params, personality.event_param_count)
        conn.write(conn.responder.event(code, transaction_id, params))

    def attach_event_connection(self, conn: _Conn) -> None:
        self.event_conn = conn
        self.event_attached = True
        conn.session = self
        held, self._held_events = self._held_events, []
        for code, tid, params in held:
            self.send_event(code, tid, params)

    def cancelled(self, tid: int) -> bool:
        return tid in self._cancelled

    # -- the request loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while (request := await self._requests.get()) is not None:
            if self._requests.qsize() <= MAX_QUEUED_REQUESTS // 2:
                self.command_conn.resume_reading("requests")
            tid = request.transaction_id
            self.current_tid = tid
            try:
                await self._serve(request)
            except (ConnectionError, PtpError) as exc:
                log.info("session ended during 0x%04X: %s", request.code, exc)
                return
            except Exception:
                log.exception("virtual camera failed on 0x%04X", request.code)
                self._respond(ResponseCode.GENERAL_ERROR, tid)
            finally:
                self.current_tid = None
                self._cancelled.discard(tid)
                _release(self._pending_tids, tid)
                self.last_traffic = self._loop.time()

    async def _serve(self, request: RequestReceived) -> None:
        personality = self.camera.personality
        faults = self.camera.faults
        tid = request.transaction_id
        data: bytes | None = None
        if self._takes_data_out(request):
            data = await self._collect_data_out(tid)
            if data is None:
                return
        if request.code in faults.stall:
            log.info("fault: stalling 0x%04X", request.code)
            await asyncio.Event().wait()
        reply = await personality.handle(self, request, data)
        if faults.delay:
            await asyncio.sleep(faults.delay)
        # A data phase goes out when the reply has one: with OK normally, and (Fuji) an
        # empty one before an error, as libgphoto2 reads one data container per data-in op.
        if reply.data is not None:
            opened = self._open_source(reply.data)
            if isinstance(opened, int):  # unreadable: an error instead of the data phase
                if personality.fuji_dialect:
                    self._send_empty_data(request.code, tid)
                self._respond(opened, tid)
                return
            sent = await self._send_data(request.code, tid, reply.data.size, *opened)
            if sent is None:
                self._respond(ResponseCode.TRANSACTION_CANCELLED, tid)
                return
        if reply.transaction_id is not None:
            tid = reply.transaction_id
        self._respond(reply.code, tid, reply.params)
        for after in reply.after:
            after()

    async def _collect_data_out(self, tid: int) -> bytes | None:
        """The data-out bytes; None when the link closed, the initiator cancelled or the data
        stopped coming (then answered here: the rest of the data will never come)."""
        buf = bytearray()
        timeout = self.camera.data_timeout or None
        try:
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        chunk = await self._data_out.get()
                except TimeoutError:
                    self._data_out_stopped(tid, len(buf))
                    return None
                if chunk is None:
                    return None
                if isinstance(chunk, DataOutChunk):
                    self._queued_data -= len(chunk.data)
                    if self._queued_data <= MAX_QUEUED_DATA // 2:
                        self.command_conn.resume_reading("data")
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
        finally:
            _release(self._data_tids, tid)

    def _data_out_stopped(self, tid: int, received: int) -> None:
        conn = self.command_conn
        log.warning(
            "no data-out for transaction %d for %g s (%d bytes came): IncompleteTransfer",
            tid,
            self.camera.data_timeout,
            received,
        )
        conn.responder.abandon_data_out(tid)
        self._respond(ResponseCode.INCOMPLETE_TRANSFER, tid)
        if conn.responder.mid_packet:  # its next bytes would not start a packet
            log.warning("the client stopped inside a packet: closing its connection")
            conn.close()

    def _open_source(self, source: DataSource) -> tuple[Iterator[bytes], bytes | None] | int:
        """The source's pieces and the first one, read before the data phase opens so that a
        file that cannot be read is answered with an error; or that error's code."""
        pieces = iter(source.chunks(self.camera.data_chunk))
        if source.size == 0:
            return pieces, None
        try:
            first = next(pieces)
        except StoreError as exc:
            log.info("cannot send the data: %s", exc)
            return exc.code
        except (OSError, StopIteration) as exc:
            log.warning("cannot send the data: %s", exc or "no data")
            return ResponseCode.ACCESS_DENIED
        return pieces, first

    def _send_empty_data(self, code: int, tid: int) -> None:
        conn = self.command_conn
        conn.write(conn.responder.data_in_start(code, tid, 0))
        conn.write(conn.responder.data_in(b"", last=True))

    async def _send_data(
        self, code: int, tid: int, total: int, pieces: Iterator[bytes], first: bytes | None
    ) -> int | None:
        conn = self.command_conn
        responder = conn.responder
        conn.write(responder.data_in_start(code, tid, total))
        sent = 0
        drop = self.camera.faults.drop_after_bytes
        chunk_size = self.camera.data_chunk
        if total == 0:
            conn.write(responder.data_in(b"", last=True))
            return 0
        piece: bytes | None = first
        try:
            while piece is not None:
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
                try:
                    piece = next(pieces, None)
                except (OSError, StoreError) as exc:
                    # the phase cannot be finished: the connection cannot be used any more
                    log.warning("reading the data failed after %d bytes: %s", sent, exc)
                    conn.abort()
                    raise ConnectionResetError("the data could not be read") from None
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        return sent

    def _respond(self, code: int, tid: int, params: tuple[int, ...] = ()) -> None:
        conn = self.command_conn
        params = _padded(params, self.camera.personality.response_param_count)
        conn.write(conn.responder.respond(code, tid, params))


def _release(counter: Counter[int], key: int) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


def _padded(params: tuple[int, ...], count: int) -> tuple[int, ...]:
    """``params`` with zeros up to ``count`` (some bodies always send them all)."""
    return params + (0,) * (count - len(params)) if len(params) < count else params


class VirtualCamera:
    """A PTP/IP responder serving one :class:`Personality` on ``host:port``.

    ``handshake_timeout``, ``idle_timeout``, ``probe_after``, ``probe_timeout`` and
    ``data_timeout`` are seconds (0 or None: no limit; see the module docstring);
    ``connection_numbers`` makes the Init ack's ConnectionNumbers (random by default; tests
    reproducing a capture byte for byte may give ``lambda: 1``).
    """

    def __init__(
        self,
        personality: Personality,
        *,
        host: str = "127.0.0.1",
        port: int = 15740,
        faults: Faults | None = None,
        data_chunk: int = DATA_CHUNK,
        port_overrides: dict[str, int] | None = None,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        probe_after: float = DEFAULT_PROBE_AFTER,
        probe_timeout: float | None = DEFAULT_PROBE_TIMEOUT,
        data_timeout: float | None = DEFAULT_DATA_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        connection_numbers: Callable[[], int] = random_connection_number,
    ) -> None:
        for name, value in (
            ("handshake_timeout", handshake_timeout),
            ("idle_timeout", idle_timeout),
            ("probe_after", probe_after),
            ("probe_timeout", probe_timeout),
            ("data_timeout", data_timeout),
        ):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.personality = personality
        #: extra listener name -> an explicit port instead of command port + offset
        self.port_overrides = dict(port_overrides or {})
        self.host = host
        self.port = port
        self.faults = faults or Faults()
        self.data_chunk = data_chunk
        self.handshake_timeout = handshake_timeout or None
        self.idle_timeout = idle_timeout or None
        self.probe_after = probe_after
        self.probe_timeout = probe_timeout or None
        self.data_timeout = data_timeout or None
        self.max_connections = max_connections
        self.connection_numbers = connection_numbers
        self.session: ServerSession | None = None
        #: "command" and each extra listener's name -> its port (known after start)
        self.ports: dict[str, int] = {"command": port}
        self._conns: set[_Conn] = set()
        self._servers: list[asyncio.Server] = []
        self._extra: dict[str, asyncio.Server] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Inits whose ack waits for the personality's confirmation (a pairing prompt) or
        #: for the probe of a silent session
        self._confirming: set[asyncio.Future[None]] = set()
        self._probing: asyncio.Future[None] | None = None
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
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
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
        current = self.session
        if current is not None and not current.command_conn.is_open:
            current.end()  # its connection is closing: it goes now
            current = None
        if current is not None:
            if self._probing is None and self._may_probe(current):
                task = asyncio.ensure_future(self._probe_then_admit(current, conn, event))
                self._probing = task
                self._confirming.add(task)
                task.add_done_callback(self._probe_done)
                return
            conn.write(conn.responder.refuse(InitFailReason.BUSY))
            conn.close()
            return
        self._admit(conn, event)

    def _may_probe(self, session: ServerSession) -> bool:
        """Whether a newcomer's Init may probe ``session``: never one in use (libgphoto2
        answers no probe), nor in the Fuji dialect (its connections carry no CIPA packets)."""
        if not self.probe_timeout or self.personality.fuji_dialect:
            return False
        silent = asyncio.get_running_loop().time() - session.last_traffic
        return session.current_tid is None and silent >= self.probe_after

    async def _probe_then_admit(self, old: ServerSession, conn: _Conn, event: CommandInit) -> None:
        """CIPA's advice (ptpip-standard.md §10): is the silent session still there?"""
        timeout = self.probe_timeout or 0.0
        log.info("%s asks in: probing the silent session of %s", conn.peer, old.command_conn.peer)
        if await old.probe(timeout):
            log.info(
                "the session of %s answered: %s is refused (busy)", old.command_conn.peer, conn.peer
            )
            if conn.is_open:
                conn.write(conn.responder.refuse(InitFailReason.BUSY))
                conn.close()
            return
        if not old.ended:
            log.warning(
                "the session of %s did not answer a probe within %g s: ending it for %s",
                old.command_conn.peer,
                timeout,
                conn.peer,
            )
            old.end()
        if conn.is_open:
            self._admit(conn, event)

    def _probe_done(self, task: asyncio.Future[None]) -> None:
        self._confirming.discard(task)
        if self._probing is task:
            self._probing = None
        if not task.cancelled() and task.exception() is not None:
            log.error("probing a session failed", exc_info=task.exception())

    def _admit(self, conn: _Conn, event: CommandInit) -> None:
        """The Init of a client that may have the session: the personality's say, then the ack."""
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
        number = self.connection_numbers()
        if not 0 < number <= 0xFFFF_FFFF:
            raise ValueError(f"connection number {number} is not a non-zero u32")
        session = ServerSession(self, conn, number)
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
        if conn.peer != session.command_conn.peer:
            log.warning(
                "%s connection from %s refused: the session's client is %s",
                spec.name,
                conn.peer,
                session.command_conn.peer,
            )
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
        """An Init Event Request: it joins the session whose number it gives, if it comes
        from the same host as the command connection and the session has none yet."""
        session = self.session
        why = None
        if session is None or session.ended or session.connection_number != number:
            why = "no session has that connection number"
        elif session.event_attached:
            why = "the session has its event connection"
        elif conn.peer != session.command_conn.peer:
            why = f"the session's client is {session.command_conn.peer}"
        if why is not None or session is None:
            # One reason on the wire for all: a guesser learns nothing from it.
            log.warning("event connection from %s refused: %s", conn.peer, why)
            conn.write(conn.responder.refuse(InitFailReason.UNSPECIFIED))
            conn.close()
            return
        conn.write(conn.responder.accept())
        session.attach_event_connection(conn)

    def _session_ended(self, session: ServerSession) -> None:
        if self.session is session:
            self.session = None
            self.personality.session_closed(session)
            if self.on_session is not None:
                self.on_session(None)


#: An accepted connection, as personalities see it (``write``, ``drain``, ``is_open``, ``close``).
Connection = _Conn
