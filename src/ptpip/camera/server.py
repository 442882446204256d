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
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ptpip.camera.connection import Connection, ExtraListener, ListenerKind
from ptpip.camera.session import MAX_DATA_OUT, ServerSession
from ptpip.ip.packets import InitCommandAck
from ptpip.ip.responder import CommandInit
from ptpip.ptp.codes import InitFailReason

if TYPE_CHECKING:
    from ptpip.camera.personality import Personality

__all__ = [
    "DATA_CHUNK",
    "DEFAULT_DATA_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_PROBE_AFTER",
    "DEFAULT_PROBE_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_DATA_OUT",
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
#: Open connections (all ports together) beyond which new ones are closed at once.
MAX_CONNECTIONS = 64

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
        self._conns: set[Connection] = set()
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
            server = await loop.create_server(lambda: Connection(self), self.host, self.port)
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
                    lambda spec=spec: Connection(self, spec),  # type: ignore[misc]
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

    def _command_init(self, conn: Connection, event: CommandInit) -> None:
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
                task.add_done_callback(self._init_task_done)
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

    async def _probe_then_admit(
        self, old: ServerSession, conn: Connection, event: CommandInit
    ) -> None:
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

    def _init_task_done(self, task: asyncio.Future[None]) -> None:
        """A held Init was answered (or its client left): forget it; report a failure."""
        self._confirming.discard(task)
        if self._probing is task:
            self._probing = None
        if not task.cancelled() and task.exception() is not None:
            log.error("answering an Init failed", exc_info=task.exception())

    def _admit(self, conn: Connection, event: CommandInit) -> None:
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
            task.add_done_callback(self._init_task_done)
            return
        self._open_command(conn)

    async def _init_confirmed(self, conn: Connection, confirmation: Awaitable[int | None]) -> None:
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

    def _open_command(self, conn: Connection) -> None:
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

    def _extra_connection(self, conn: Connection, spec: ExtraListener) -> None:
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

    def _event_init(self, conn: Connection, number: int) -> None:
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
