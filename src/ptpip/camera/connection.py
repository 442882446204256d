"""One accepted connection of the virtual camera: a :class:`Responder` fed from a socket.

Bytes go to the responder, its events to the camera (handshakes) or to the session
(requests, data-out, Cancel). Reading stops while the peer does not read what it is sent
(backpressure) or while the session's queues are full; a connection that sends no Init
within the camera's ``handshake_timeout`` is closed. Accepted sockets get short TCP
keep-alive timings, so a host that vanished is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ptpip.errors import RemoteProtocolError
from ptpip.ip.responder import (
    CommandInit,
    EventInit,
    GoodbyeReceived,
    ProbeAnswered,
    ProbeRequested,
    Responder,
    ResponderEvent,
    ResponderRole,
    StrayInput,
)

if TYPE_CHECKING:
    from ptpip.camera.server import VirtualCamera
    from ptpip.camera.session import ServerSession

__all__ = [
    "KEEPALIVE_COUNT",
    "KEEPALIVE_IDLE",
    "KEEPALIVE_INTERVAL",
    "MAX_PROBE_BACKLOG",
    "Connection",
    "ExtraListener",
    "ListenerKind",
]

log = logging.getLogger("ptpip.camera")
#: Every packet in and out, at DEBUG (``ptpip simulate -vv``): its length and first bytes.
packet_log = logging.getLogger("ptpip.camera.packets")
#: Bytes of a packet shown in hex in its log line.
PACKET_LOG_BYTES = 64

#: Bytes a connection may have waiting to go out before Probe Responses are dropped.
MAX_PROBE_BACKLOG = 64 * 1024
#: TCP keep-alive on accepted sockets: a probe after 10 s of silence, then every 5 s; after
#: 3 unanswered the kernel closes the connection (a vanished host is gone in ~25 s).
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3


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


class Connection(asyncio.Protocol):
    """One accepted TCP connection (on the command port, or on an extra ``listener``).

    Personalities use ``write``, ``drain``, ``is_open``, ``close`` and ``abort``.
    """

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
        #: packets that fit no transaction
        self.strays = 0
        self._paused: asyncio.Future[None] | None = None
        self._read_pauses: set[str] = set()
        self._unhandled: deque[ResponderEvent] = deque()
        self._pumping = False
        self._handshake: asyncio.TimerHandle | None = None
        self._taps: tuple[_PacketTap, _PacketTap] | None = None
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

    def _tap(self, index: int) -> _PacketTap | None:
        """The packet logger of one direction (0: in, 1: out) when -vv asks for packets."""
        if not packet_log.isEnabledFor(logging.DEBUG):
            return None
        if self.listener is not None and self.listener.kind is ListenerKind.STREAM:
            return None  # live-view frames are not packets (and would flood the log)
        if self._taps is None:
            self._taps = (_PacketTap(self, "in"), _PacketTap(self, "out"))
        return self._taps[index]

    def data_received(self, data: bytes) -> None:
        if self.listener is not None and self.listener.kind is ListenerKind.STREAM:
            return  # the host sends nothing on a stream (vendor-fuji.md §12)
        if (tap := self._tap(0)) is not None:
            tap.feed(data)
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
            self.strays += 1
            if self.strays <= 10 or self.strays % 10_000 == 0:  # a flood is not a log flood
                log.info("stray input (%d so far): %s", self.strays, event.what)
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
        """Send ``data`` in one ``transport.write``: callers pass whole packets (a Fuji data
        container over 1 MiB: its header with the first piece, then pieces), so a peer that
        reads one packet per recv() never gets part of one from a write of ours."""
        if data and self.transport is not None and not self.transport.is_closing():
            if (tap := self._tap(1)) is not None:
                tap.feed(data)
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class _PacketTap:
    """Splits one direction of a connection into packets for the log: both dialects (CIPA
    packets, Fuji containers) begin every packet with its u32 length. Each packet gets
    one line, with its length and its first PACKET_LOG_BYTES bytes in hex."""

    def __init__(self, conn: Connection, direction: str) -> None:
        self.conn = conn
        self.direction = direction
        self._head = bytearray()  # the packet's first bytes (up to PACKET_LOG_BYTES)
        self._length = 0  # of the packet being read; 0 while its length is not known
        self._seen = 0  # its bytes seen so far
        self._logged = False
        self._broken = False  # a length below 8: the stream cannot be split any more

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end and not self._broken:  # every pass takes at least one byte
            if self._length == 0:
                take = min(4 - len(self._head), end - pos)
                self._head += view[pos : pos + take]
                pos += take
                if len(self._head) < 4:
                    break
                self._length = int.from_bytes(self._head[:4], "little")
                self._seen = 4
                if self._length < 8:
                    self._broken = True
                    self._line(f"a packet length of {self._length}: no more packets shown")
                    break
            else:
                take = min(self._length - self._seen, end - pos)
                shown = max(0, min(take, PACKET_LOG_BYTES - self._seen))
                self._head += view[pos : pos + shown]
                self._seen += take
                pos += take
            if not self._logged and self._seen >= min(self._length, PACKET_LOG_BYTES):
                self._logged = True
                more = self._length - len(self._head)
                tail = f" ... (+{more} B)" if more > 0 else ""
                self._line(f"{self._length} B: {self._head.hex(' ')}{tail}")
            if self._seen >= self._length:
                self._head.clear()
                self._length = self._seen = 0
                self._logged = False

    def _line(self, text: str) -> None:
        conn = self.conn
        if conn.listener is not None:
            role = conn.listener.name
        elif conn.responder.role is ResponderRole.UNKNOWN:
            role = "new"  # its first packet says what it is
        else:
            role = conn.responder.role.value
        packet_log.debug("packet %s (%s %s) %s", self.direction, role, conn.peer, text)


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
