"""The client's connection core: handshake, transactions routed by id, events, keep-alive."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ptpip.client.channel import Channel, open_channel
from ptpip.client.events import CameraEvent, EventHub
from ptpip.client.identity import Identity
from ptpip.errors import (
    ConnectionClosed,
    InitFailError,
    LocalProtocolError,
    PtpError,
    RemoteProtocolError,
    ResponseError,
    StorageError,
    Timeout,
)
from ptpip.ip.initiator import (
    DataPhaseStarted,
    DataReceived,
    EventReceived,
    GoodbyeReceived,
    InitAccepted,
    Initiator,
    InitiatorEvent,
    InitRefused,
    ProbeAnswered,
    ProbeRequested,
    ResponseReceived,
    Role,
    StrayPacket,
)
from ptpip.ip.packets import InitCommandAck
from ptpip.ptp.codes import ResponseCode
from ptpip.ptp.names import CodeKind, name

if TYPE_CHECKING:
    from ptpip.record import PcapRecorder
    from ptpip.vendors.base import VendorProfile

__all__ = ["DATASET_LIMIT", "DEFAULT_DATA_LIMIT", "BytesSink", "Connection", "DataSink", "Result"]

log = logging.getLogger("ptpip.client")

#: Data-out travels in pieces of this size (one TCP segment each on loopback, for tshark).
DATA_OUT_CHUNK = 60 * 1024
#: A Fuji data-out container up to this size is written whole, header and payload at once.
FUJI_WHOLE = 1024 * 1024
_MAX_TID = 0xFFFF_FFFE
#: A data phase only counts as progress (resetting the operation's timeout) once this many
#: bytes arrived since the last reset: a camera trickling a byte at a time cannot hold us.
PROGRESS_BYTES = 64 * 1024
#: After a local failure in a data phase (a sink's limit, a full disk) the camera gets this
#: long, and this many more bytes, to answer our Cancel before the connection is dropped.
ABORT_GRACE = 2.0
ABORT_BYTES = 8 * 1024 * 1024
#: Data kept in memory by default for one transaction (raw operations, thumbnails, frames).
DEFAULT_DATA_LIMIT = 16 * 1024 * 1024
#: The most a dataset may take: real ones are a few KiB, so a camera announcing more is
#: lying, and gets a clear error instead of gigabytes of decoded Python objects.
DATASET_LIMIT = 1024 * 1024


class DataSink(Protocol):
    """Where a data-in phase goes: told the announced size, then fed the bytes in order."""

    def start(self, total: int | None) -> None: ...

    def write(self, data: bytes) -> None: ...


class BytesSink:
    """Collects data in memory, refusing more than ``limit`` bytes."""

    def __init__(self, limit: int = DEFAULT_DATA_LIMIT, what: str = "") -> None:
        self.buffer = bytearray()
        self.limit = limit
        #: what the data is, for messages ("GetObjectHandles")
        self.what = what

    def start(self, total: int | None) -> None:
        if total is not None and total > self.limit:
            raise RemoteProtocolError(
                f"{self._what()}{total} bytes announced, more than the {self.limit} allowed"
            )

    def write(self, data: bytes) -> None:
        if len(self.buffer) + len(data) > self.limit:
            raise RemoteProtocolError(f"{self._what()}more than the {self.limit} bytes allowed")
        self.buffer += data

    def _what(self) -> str:
        return f"{self.what}: " if self.what else ""


@dataclass(frozen=True, slots=True)
class Result:
    """A finished transaction: the response and, if no sink was given, the data-in bytes."""

    code: int
    params: tuple[int, ...] = ()
    data: bytes = b""
    transaction_id: int = 0

    @property
    def ok(self) -> bool:
        return self.code == ResponseCode.OK


@dataclass(slots=True)
class _Pending:
    code: int
    tid: int
    sink: DataSink
    future: asyncio.Future[ResponseReceived]
    last_activity: float
    total: int | None = None
    #: why the transaction failed on our side (a sink's error: raised to the caller)
    error: Exception | None = field(default=None)
    #: data bytes since ``last_activity`` was last moved (see PROGRESS_BYTES)
    progress: int = 0
    #: data bytes thrown away since a local failure (see ABORT_BYTES)
    discarded: int = 0
    #: the timer that drops the connection if the camera ignores our Cancel
    give_up: asyncio.TimerHandle | None = None


class Connection:
    """Two connections to a camera (or one, for Fuji's port trio see the vendor) and a session.

    Use it through :class:`ptpip.client.camera.Camera`; this class holds the mechanics.
    """

    def __init__(
        self,
        host: str,
        profile: VendorProfile,
        identity: Identity,
        *,
        port: int | None = None,
        event_port: int | None = None,
        stream_port: int | None = None,
        timeout: float = 10.0,
        init_timeout: float | None = None,
        probe_interval: float | None = None,
        event_backlog: int = 1024,
    ) -> None:
        self.host = host
        self.profile = profile
        self.identity = identity
        default_cmd, default_evt, default_stream = profile.default_ports
        self.port = port or default_cmd
        self.event_port = event_port or default_evt or self.port
        self.stream_port = stream_port or default_stream
        self.timeout = timeout
        self.init_timeout = init_timeout if init_timeout is not None else profile.init_timeout
        self.probe_interval = probe_interval
        self.events_hub = EventHub(backlog=event_backlog)
        self.ack: InitCommandAck | None = None
        self.session_id: int | None = None
        self._cmd: Channel | None = None
        self._evt: Channel | None = None
        self._next_tid = profile.first_transaction_id
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._handshake: asyncio.Future[InitiatorEvent] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lost: PtpError | None = None
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._last_traffic = self._loop.time()
        self.on_stray: Callable[[str], None] = lambda what: log.info("stray: %s", what)
        #: who the camera is, for messages; the Camera sets the model once it knows it
        self.peer_name = f"the camera at {host}"
        self.recorder: PcapRecorder | None = None
        #: messages for the person at the keyboard ("confirm on the camera"); CLI prints them
        self.on_notice: Callable[[str], None] = lambda text: log.warning("%s", text)

    # -- set-up and tear-down ----------------------------------------------------------------

    async def connect(self) -> None:
        """Open the command connection and run the Init handshake (no session yet)."""
        fuji = self.profile.fuji_dialect
        cmd = Initiator(Role.COMMAND, fuji=fuji)
        self._cmd = await open_channel(
            self.host, self.port, cmd, self._on_cmd_event, self._on_lost, timeout=self.timeout
        )
        self._install_tap(self._cmd, "command")
        self._handshake = self._loop.create_future()
        self._cmd.write(cmd.init_command(self.profile.init_request(self.identity)))
        notice = self.profile.pairing_notice
        hint = None
        if notice:
            hint = self._loop.call_later(1.5, self.notice, f"{notice} ('{self.identity.name}')")
        try:
            reply = await self._await_handshake("Init Command Ack", self.init_timeout)
        finally:
            if hint is not None:
                hint.cancel()
        if isinstance(reply, InitRefused):
            self._cmd.abort()
            raise InitFailError(reply.reason, self.profile.explain_init_fail(reply.reason))
        assert isinstance(reply, InitAccepted)
        self.ack = reply.ack

    async def connect_events(self, *, retries: int = 2, retry_delay: float = 0.1) -> None:
        """Open the event connection (CIPA: with its Init Event handshake)."""
        fuji = self.profile.fuji_dialect
        evt = Initiator(Role.EVENT, fuji=fuji)
        self._evt = await open_channel(
            self.host,
            self.event_port,
            evt,
            self._on_evt_event,
            self._on_lost,
            timeout=self.timeout,
            retries=retries,
            retry_delay=retry_delay,
        )
        self._install_tap(self._evt, "event")
        if fuji:
            return  # Fuji's event port has no handshake (vendor-fuji.md §1)
        assert self.ack is not None
        self._handshake = self._loop.create_future()
        self._evt.write(evt.init_event(self.ack.connection_number))
        reply = await self._await_handshake("Init Event Ack", self.timeout)
        if isinstance(reply, InitRefused):
            raise InitFailError(reply.reason, self.profile.explain_init_fail(reply.reason))

    async def _await_handshake(self, what: str, timeout: float) -> InitiatorEvent:
        assert self._handshake is not None
        try:
            async with asyncio.timeout(timeout):
                return await self._handshake
        except TimeoutError:
            self.abort()
            raise Timeout(f"no {what} within {timeout:g} s") from None
        finally:
            self._handshake = None

    def _install_tap(self, channel: Channel, which: str) -> None:
        """Hand this connection's bytes to the wire recorder (``--record``), if any."""
        if self.recorder is None or channel._transport is None:
            return
        local = channel._transport.get_extra_info("sockname")
        remote = channel._transport.get_extra_info("peername")
        if local and remote:
            channel.tap = self.recorder.stream((local[0], local[1]), (remote[0], remote[1]))

    def start_background(self) -> None:
        if self.probe_interval:
            self._tasks.append(asyncio.create_task(self._keepalive(self.probe_interval)))

    def spawn(self, coro: asyncio.Future[None] | object) -> asyncio.Task[None]:
        """Run a vendor's background job (polling, heartbeat) for the connection's lifetime."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.append(task)
        return task

    async def shutdown(self) -> None:
        """Stop background jobs and close both connections."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for channel in (self._evt, self._cmd):
            if channel is not None:
                channel.close()
        for channel in (self._evt, self._cmd):
            if channel is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    async with asyncio.timeout(2):
                        await channel.closed
        self.events_hub.close()

    def abort(self) -> None:
        self._closing = True
        for channel in (self._evt, self._cmd):
            if channel is not None:
                channel.abort()

    @property
    def is_open(self) -> bool:
        return self._cmd is not None and self._cmd.is_open and self._lost is None

    def notice(self, text: str) -> None:
        self.on_notice(text)

    @property
    def command_channel(self) -> Channel | None:
        return self._cmd

    # -- transactions ------------------------------------------------------------------------

    def next_transaction_id(self) -> int:
        tid = self._next_tid
        self._next_tid = tid + 1 if tid < _MAX_TID else 1
        return tid

    async def transact(
        self,
        code: int,
        params: tuple[int, ...] = (),
        *,
        data: bytes | None = None,
        sink: DataSink | None = None,
        timeout: float | None = None,
        check: bool = True,
        lenient_tid: bool = False,
        max_data: int | None = None,
        tap: Callable[[bytes], None] | None = None,
    ) -> Result:
        """Run one transaction and return its result; a non-OK response raises if ``check``.

        ``timeout`` bounds the time without progress (so a 1 GiB download only fails when the
        camera goes quiet or trickles, not because it takes long). Without a ``sink`` the
        data-in phase is collected in memory, at most ``max_data`` bytes. ``tap`` sees every
        byte received on the command connection while this transaction runs.
        """
        async with self._lock:
            channel = self._cmd
            previous = channel.tap if channel is not None else None
            if tap is not None and channel is not None:

                def both(sent: bool, chunk: bytes) -> None:
                    if previous is not None:
                        previous(sent, chunk)
                    if not sent:
                        tap(chunk)

                channel.tap = both
            try:
                return await self._transact(
                    code, params, data, sink, timeout, check, lenient_tid, max_data
                )
            finally:
                if tap is not None and channel is not None:
                    channel.tap = previous

    async def _transact(
        self,
        code: int,
        params: tuple[int, ...],
        data: bytes | None,
        sink: DataSink | None,
        timeout: float | None,
        check: bool,
        lenient_tid: bool,
        max_data: int | None,
    ) -> Result:
        if self._lost is not None:
            raise self._lost
        if self._cmd is None:
            raise ConnectionClosed("not connected")
        if not self._cmd.is_open:  # closed by us (Camera.close), so nothing was recorded
            raise ConnectionClosed("the connection to the camera is closed")
        limit = self.timeout if timeout is None else timeout
        collector = None
        if sink is None:
            collector = BytesSink(max_data or DEFAULT_DATA_LIMIT, self._op_name(code))
        target: DataSink = sink if sink is not None else collector  # type: ignore[assignment]
        tid = self.next_transaction_id()
        pending = _Pending(code, tid, target, self._loop.create_future(), self._loop.time())
        self._pending = pending
        initiator = self._cmd.initiator
        try:
            self._cmd.write(
                initiator.request(
                    code,
                    tid,
                    params,
                    data_out_length=None if data is None else len(data),
                    lenient_tid=lenient_tid,
                )
            )
            if data is not None:
                await self._send_data_out(initiator, data, pending, limit)
            response = await self._wait(pending, limit)
        except asyncio.CancelledError:
            await self._cancel(pending)
            raise
        finally:
            self._pending = None
            if pending.give_up is not None:
                pending.give_up.cancel()
            future = pending.future
            if future.done() and not future.cancelled():
                future.exception()  # seen here, whichever error is raised to the caller
        if pending.error is not None:
            raise pending.error
        resp = response.response
        short = response.total is not None and response.received != response.total
        if resp.code == ResponseCode.OK and short and not self.profile.fuji_dialect:
            raise RemoteProtocolError(
                f"{self._op_name(code)}: {response.received} of {response.total} bytes"
            )
        result = Result(
            resp.code,
            resp.params,
            bytes(collector.buffer) if collector is not None else b"",
            tid,
        )
        if check and not result.ok:
            raise self.response_error(code, result)
        return result

    async def _send_data_out(
        self, initiator: Initiator, data: bytes, pending: _Pending, limit: float
    ) -> None:
        cmd = self._cmd
        assert cmd is not None
        view = memoryview(data)
        if not view:
            cmd.write(initiator.data_out(b"", last=True))
            return
        # A Fuji data container goes out whole, in one write (small embedded stacks read one
        # container per recv()); CIPA Data packets are each whole anyway.
        size = (
            len(view) if self.profile.fuji_dialect and len(view) <= FUJI_WHOLE else DATA_OUT_CHUNK
        )
        for start in range(0, len(view), size):
            if pending.future.done():
                break  # the camera answered early (a refusal): stop sending
            piece = bytes(view[start : start + size])
            last = start + size >= len(view)
            cmd.write(initiator.data_out(piece, last=last))
            pending.last_activity = self._loop.time()
            if not await self._drained(cmd, pending, limit):
                break
        if pending.future.done() and cmd.is_open and cmd.writing_paused:
            # It answered early and stopped reading: what we had sent is stuck in the
            # connection ahead of any later request, so this connection is done for.
            self._drop(ConnectionClosed("the camera stopped reading in the middle of our data"))

    async def _drained(self, cmd: Channel, pending: _Pending, limit: float) -> bool:
        """Wait until the camera takes what we sent (True) or answers first (False); a camera
        that takes nothing for ``limit`` seconds is a Timeout (and the connection is dropped:
        a Cancel would only queue behind the data it does not read)."""
        if not cmd.writing_paused:
            return True
        waiter = asyncio.ensure_future(cmd.drain())
        # Never cancelled (that would cancel the channel's shared future); if we stop
        # waiting for it, its outcome is not ours to report.
        waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
        while not waiter.done():
            if pending.future.done():
                return False
            remaining = limit - (self._loop.time() - pending.last_activity)
            if remaining <= 0:
                error = Timeout(
                    f"{self._op_name(pending.code)}: {self.peer_name} took none of our data"
                    f" for {limit:g} s"
                )
                self._drop(error)
                raise error
            either: set[asyncio.Future[Any]] = {waiter, pending.future}
            await asyncio.wait(either, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        waiter.result()
        return True

    def _drop(self, error: PtpError) -> None:
        """Abort the command connection; later calls fail with ``error``."""
        if self._lost is None:
            self._lost = error
        if self._cmd is not None:
            self._cmd.abort()

    async def _wait(self, pending: _Pending, limit: float) -> ResponseReceived:
        while True:
            idle = self._loop.time() - pending.last_activity
            remaining = limit - idle
            if remaining <= 0:
                cmd = self._cmd
                if cmd is not None:
                    if pending.total is not None and not self.profile.fuji_dialect:
                        with contextlib.suppress(LocalProtocolError, ConnectionClosed):
                            cmd.write(cmd.initiator.cancel())  # stop a trickling data phase
                    cmd.initiator.abandon()
                op = self._op_name(pending.code)
                if pending.progress:
                    raise Timeout(
                        f"{op}: no progress for {limit:g} s: {self.peer_name} sent only"
                        f" {pending.progress} bytes of data"
                    )
                raise Timeout(f"{op}: no answer from {self.peer_name} for {limit:g} s")
            done, _ = await asyncio.wait({pending.future}, timeout=remaining)
            if done:
                return pending.future.result()

    async def _cancel(self, pending: _Pending) -> None:
        """Cancel a running transaction so the connection stays usable (CIPA §2.7)."""
        cmd = self._cmd
        if cmd is None or not cmd.is_open or pending.future.done():
            return
        try:
            cmd.write(cmd.initiator.cancel())
        except (LocalProtocolError, ConnectionClosed):
            cmd.initiator.abandon()
            return
        pending.sink = _DiscardSink()
        try:
            with contextlib.suppress(TimeoutError, PtpError):
                async with asyncio.timeout(2.0):
                    await asyncio.shield(pending.future)
        finally:  # also when cancelled again while waiting: never leave the machine busy
            if not pending.future.done():
                cmd.initiator.abandon()

    def response_error(self, code: int, result: Result) -> ResponseError:
        rc = name(CodeKind.RESPONSE, result.code, self.profile.vendor)
        message = f"{self._op_name(code)} failed: {rc} (0x{result.code:04X})"
        hint = self.profile.response_hint(result.code)
        if hint:
            message += f" — {hint}"
        return ResponseError.for_code(
            result.code, result.params, result.transaction_id, code, message
        )

    def _op_name(self, code: int) -> str:
        return name(CodeKind.OPERATION, code, self.profile.vendor)

    # -- input routing -----------------------------------------------------------------------

    def _on_cmd_event(self, event: InitiatorEvent) -> None:
        self._last_traffic = self._loop.time()
        pending = self._pending
        if isinstance(event, InitAccepted | InitRefused):
            if self._handshake is not None and not self._handshake.done():
                self._handshake.set_result(event)
            elif isinstance(event, InitRefused):
                self._on_lost(InitFailError(event.reason))
        elif isinstance(event, DataPhaseStarted | DataReceived | ResponseReceived):
            # The state machine only reports the running transaction's response (its TID may
            # legitimately differ: Leica's CloseSession); data events carry their TID.
            if pending is None or (
                not isinstance(event, ResponseReceived) and pending.tid != event.transaction_id
            ):
                self.on_stray(f"{type(event).__name__} for no running transaction")
                return
            if isinstance(event, DataReceived):
                pending.progress += len(event.data)
                if pending.progress >= PROGRESS_BYTES:
                    pending.progress = 0
                    pending.last_activity = self._loop.time()
            else:
                pending.last_activity = self._loop.time()
            self._route(pending, event)
        elif isinstance(event, EventReceived):  # Fuji sends nothing here, but be tolerant
            self._publish(event)
        elif isinstance(event, ProbeRequested):
            self._answer_probe()
        elif isinstance(event, GoodbyeReceived):
            self._on_lost(ConnectionClosed("the camera said goodbye"))
        elif isinstance(event, StrayPacket):
            self.on_stray(event.what)

    def _route(self, pending: _Pending, event: InitiatorEvent) -> None:
        try:
            if isinstance(event, DataPhaseStarted):
                pending.total = event.total
                pending.sink.start(event.total)
            elif isinstance(event, DataReceived):
                if pending.error is not None:
                    pending.discarded += len(event.data)
                    if pending.discarded > ABORT_BYTES:
                        self._give_up(pending)
                    return
                pending.sink.write(event.data)
            elif isinstance(event, ResponseReceived) and not pending.future.done():
                pending.future.set_result(event)
        except PtpError as exc:
            self._fail_data_phase(pending, exc)
        except OSError as exc:  # the sink's disk is full, say
            self._fail_data_phase(pending, StorageError(f"cannot store the data: {exc}"))
        except Exception as exc:  # a caller's sink or progress callback: theirs to see
            self._fail_data_phase(pending, exc)

    def _fail_data_phase(self, pending: _Pending, error: Exception) -> None:
        """A local failure in a data phase: cancel at once and report ``error``, the real
        cause; if the camera keeps streaming regardless, drop the connection (no Timeout
        later, and no gigabytes swallowed)."""
        if pending.error is not None:
            return
        pending.error = error
        log.info("%s; cancelling the transaction", error)
        cmd = self._cmd
        if cmd is None or not cmd.is_open or pending.future.done():
            return
        if not cmd.initiator.busy:
            return  # the response came in the same read: it follows this event
        if self.profile.fuji_dialect:
            self._give_up(pending)  # no Cancel in the container dialect
            return
        try:
            cmd.write(cmd.initiator.cancel())
        except (LocalProtocolError, ConnectionClosed):
            self._give_up(pending)
            return
        pending.give_up = self._loop.call_later(ABORT_GRACE, self._give_up, pending)

    def _give_up(self, pending: _Pending) -> None:
        """Drop the command connection under a transaction that failed locally."""
        if pending.future.done():
            return
        error = pending.error or ConnectionClosed("transaction abandoned")
        pending.future.set_exception(error)
        if self._lost is None:
            self._lost = ConnectionClosed(f"the connection was dropped after an error: {error}")
        if self._cmd is not None:
            self._cmd.abort()

    def _on_evt_event(self, event: InitiatorEvent) -> None:
        self._last_traffic = self._loop.time()
        if isinstance(event, InitAccepted | InitRefused):
            if self._handshake is not None and not self._handshake.done():
                self._handshake.set_result(event)
        elif isinstance(event, EventReceived):
            self._publish(event)
        elif isinstance(event, ProbeRequested):
            self._answer_probe()
        elif isinstance(event, ProbeAnswered):
            log.debug("probe answered")
        elif isinstance(event, StrayPacket):
            self.on_stray(event.what)

    def _publish(self, event: EventReceived) -> None:
        e = event.event
        tid = None if e.transaction_id == 0xFFFF_FFFF else e.transaction_id
        self.events_hub.publish(CameraEvent(e.code, e.params, tid, self.profile.vendor))

    def _answer_probe(self) -> None:
        channel = self._evt or self._cmd
        if channel is not None and channel.is_open:
            channel.write(channel.initiator.probe_response())

    def _on_lost(self, error: PtpError | None) -> None:
        if isinstance(error, RemoteProtocolError):  # name who sent the bad bytes
            error = RemoteProtocolError(f"{self.peer_name}: {error}")
        if self._lost is None and not self._closing:
            self._lost = error or ConnectionClosed("connection lost")
            log.warning("%s", self._lost)
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(self._lost or ConnectionClosed("connection closed"))
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(self._lost or ConnectionClosed("connection closed"))
        if self._lost is not None:
            self.events_hub.close()

    async def _keepalive(self, interval: float) -> None:
        """Send a Probe Request on the event connection when the link has been idle."""
        while True:
            await asyncio.sleep(interval / 2)
            idle = self._loop.time() - self._last_traffic
            evt = self._evt
            if idle >= interval and evt is not None and evt.is_open and self._pending is None:
                evt.write(evt.initiator.probe())
                self._last_traffic = self._loop.time()


class _DiscardSink:
    def start(self, total: int | None) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass
