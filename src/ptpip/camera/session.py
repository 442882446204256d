"""A client's session on the virtual camera: its request loop, data phases and events.

Requests are served one at a time. What a client can make the session hold is bounded:
requests queued ahead and data-out read ahead stop the reading of the command connection
when full; data for no waiting request is dropped; events a client does not read are
dropped (with a log line). A data-out phase that stops is answered IncompleteTransfer, a
session with no traffic for the camera's ``idle_timeout`` ends, and :meth:`ServerSession.probe`
asks a silent client whether it is still there. A personality may drop a silent client
sooner (its ``idle_drop``), and may send each data-in phase as one End Data packet (its
``data_in_style``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptpip.camera.personality import DataInStyle
from ptpip.camera.store import StoreError
from ptpip.errors import PtpError
from ptpip.ip.responder import (
    CancelReceived,
    DataOutChunk,
    DataOutStarted,
    RequestReceived,
    ResponderEvent,
)
from ptpip.ptp.codes import DataPhase, ResponseCode
from ptpip.ptp.names import CodeKind, name

if TYPE_CHECKING:
    from ptpip.camera.connection import Connection
    from ptpip.camera.personality import DataSource
    from ptpip.camera.server import VirtualCamera

__all__ = [
    "MAX_DATA_OUT",
    "MAX_EVENT_BACKLOG",
    "MAX_QUEUED_DATA",
    "MAX_QUEUED_REQUESTS",
    "MAX_WHOLE_CONTAINER",
    "ServerSession",
]

log = logging.getLogger("ptpip.camera")
#: One INFO line per operation served (``ptpip simulate -v``).
request_log = logging.getLogger("ptpip.camera.requests")

#: Largest data-out phase kept in memory (property values, object infos).
MAX_DATA_OUT = 64 * 1024 * 1024
#: Requests queued behind the one being served before the command connection stops being
#: read (PTP runs one transaction at a time; a client may send a few ahead).
MAX_QUEUED_REQUESTS = 16
#: Data-out bytes read ahead of the request that takes them before reading stops.
MAX_QUEUED_DATA = 1024 * 1024
#: Bytes an event connection may have waiting to go out; events beyond are dropped.
MAX_EVENT_BACKLOG = 256 * 1024
#: A Fuji data container (or the one End Data of a single-End-Data personality) with at
#: most this much payload goes out in one write, header and all (clients ask for 1 MiB
#: GetPartialObject pieces); a longer one is written as its header with the first piece,
#: then piece by piece.
MAX_WHOLE_CONTAINER = 1024 * 1024


@dataclass(slots=True)
class _Trace:
    """What one request did, for its log line."""

    request: RequestReceived
    started: float
    data_out: int = 0
    data_in: int = 0
    response: tuple[int, tuple[int, ...]] | None = None


class ServerSession:
    """A client's command connection (plus its event connection) and its PTP session."""

    def __init__(self, camera: VirtualCamera, conn: Connection, connection_number: int) -> None:
        self.camera = camera
        self._loop = asyncio.get_running_loop()
        self.command_conn = conn
        self.event_conn: Connection | None = None
        #: an event connection was attached once (a second one is refused)
        self.event_attached = False
        self._held_events: list[tuple[int, int, tuple[int, ...]]] = []
        self.stream_conns: set[Connection] = set()
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
        self._trace: _Trace | None = None
        #: events not sent because the client does not read its event connection
        self.events_dropped = 0
        #: loop time of the client's last bytes (or of the end of the last request)
        self.last_traffic = self._loop.time()
        self._traffic: asyncio.Future[None] | None = None
        self.ended = False
        self._idle: asyncio.TimerHandle | None = None
        if self.idle_limit:
            self._idle = self._loop.call_later(self.idle_limit, self._idle_check)
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
            if tid not in self._pending_tids or tid in self._cancelled:
                log.debug("Cancel of transaction %d ignored: not running or cancelled", tid)
                return
            self._cancelled.add(tid)
            if tid == self.current_tid and tid in self._data_tids:
                self._data_out.put_nowait(event)  # wakes a data-out phase that waits for more

    def _takes_data_out(self, request: RequestReceived) -> bool:
        """Whether a data-out phase follows ``request``: as its DataPhaseInfo says (1: none
        or data-in, 2: data-out); when that is "unknown" (CIPA's 3, third-party code's 0,
        anything else) or absent (the container dialect), as the operation table says."""
        phase = request.data_phase
        if phase in (DataPhase.NO_DATA_OR_IN, DataPhase.DATA_OUT):
            return phase == DataPhase.DATA_OUT
        return self.camera.personality.has_data_out(request.code)

    def _ignore_data(self, tid: int) -> None:
        if tid != self._ignored_tid:
            self._ignored_tid = tid
            log.info("data for transaction %d dropped: no request of it waits for data", tid)

    def note_traffic(self) -> None:
        """The client sent something: it is alive (and the session not idle)."""
        self.last_traffic = self._loop.time()
        if self._traffic is not None and not self._traffic.done():
            self._traffic.set_result(None)

    def connection_lost(self, conn: Connection) -> None:
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

    @property
    def idle_limit(self) -> float | None:
        """Seconds without traffic that end the session: the server's ``idle_timeout`` or
        the personality's own ``idle_drop``, whichever is shorter (None: never)."""
        limits = [t for t in (self.camera.idle_timeout, self.camera.personality.idle_drop) if t]
        return min(limits) if limits else None

    def _idle_check(self) -> None:
        self._idle = None
        timeout = self.idle_limit
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
            done, _ = await asyncio.wait(
                {waiter, self.command_conn.closed},
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
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

    def attach_event_connection(self, conn: Connection) -> None:
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
        # Ends with the session: requests still queued when the connection closed are not
        # served (the one running took the only wake-up the end left in its queue).
        while not self.ended and (request := await self._requests.get()) is not None:
            if self._requests.qsize() <= MAX_QUEUED_REQUESTS // 2:
                self.command_conn.resume_reading("requests")
            tid = request.transaction_id
            self.current_tid = tid
            trace = self._trace = _Trace(request, self._loop.time())
            try:
                await self._serve(request)
            except (ConnectionError, PtpError) as exc:
                log.info("session ended during 0x%04X: %s", request.code, exc)
                return
            except Exception:
                log.exception("virtual camera failed on 0x%04X", request.code)
                self._respond(ResponseCode.GENERAL_ERROR, tid)
            finally:
                self._trace = None
                self._log_request(trace)
                self.current_tid = None
                self._cancelled.discard(tid)
                _release(self._pending_tids, tid)
                self.last_traffic = self._loop.time()

    def _log_request(self, trace: _Trace) -> None:
        """One line: the operation, its parameters, the response, the data both ways, the
        time it took."""
        if not request_log.isEnabledFor(logging.INFO):
            return
        vendor = self.camera.personality.vendor
        request = trace.request
        if trace.response is None:
            answer = "no response (the session ended)"
        else:
            code, params = trace.response
            answer = f"{name(CodeKind.RESPONSE, code, vendor)} (0x{code:04X}) {_hex(params)}"
        request_log.info(
            "tid %d: %s (0x%04X) %s -> %s, data-out %d B, data-in %d B, %.1f ms",
            request.transaction_id,
            name(CodeKind.OPERATION, request.code, vendor),
            request.code,
            _hex(request.params),
            answer,
            trace.data_out,
            trace.data_in,
            (self._loop.time() - trace.started) * 1000,
        )

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
            if self.ended:
                return None
            if self.cancelled(tid):  # while it waited in the queue
                self._respond(ResponseCode.TRANSACTION_CANCELLED, tid)
                return None
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
                if self._trace is not None:
                    self._trace.data_out = len(buf)
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
        chunk = self.camera.data_chunk
        if (
            self._one_packet
            and source.size <= MAX_WHOLE_CONTAINER
            and self.camera.faults.drop_after_bytes is None
        ):
            chunk = max(chunk, source.size)  # the whole packet goes out in one write
        pieces = iter(source.chunks(chunk))
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
        conn.write(conn.responder.data_in_start(code, tid, 0))  # Fuji: the whole container
        conn.write(conn.responder.data_in(b"", last=True))  # (CIPA: its End Data)

    @property
    def _one_packet(self) -> bool:
        """Whether a data-in phase is one packet after its header: a Fuji data container,
        or the one End Data of a personality with the single-End-Data style."""
        personality = self.camera.personality
        return personality.fuji_dialect or personality.data_in_style is DataInStyle.SINGLE_END_DATA

    async def _send_data(
        self, code: int, tid: int, total: int, pieces: Iterator[bytes], first: bytes | None
    ) -> int | None:
        """Send the data-in phase. Every packet goes out in one write, so that a client
        reading one packet per recv() never gets part of one: CIPA's Start Data, then each
        Data/End Data; a Fuji container's header together with its first piece (which
        :meth:`_open_source` makes the whole payload up to MAX_WHOLE_CONTAINER).

        In the single-End-Data style, Start Data is followed by one End Data holding all the
        data: its header goes out with the first piece (the whole payload up to
        MAX_WHOLE_CONTAINER), longer data piece by piece after it. A packet cannot be cut
        short, so a Cancel that comes once it started is answered after its last byte.
        """
        conn = self.command_conn
        responder = conn.responder
        fuji = self.camera.personality.fuji_dialect
        single = not fuji and self._one_packet
        start = responder.data_in_start(code, tid, total)
        sent = 0
        drop = self.camera.faults.drop_after_bytes
        chunk_size = self.camera.data_chunk
        if total == 0 or not fuji:
            conn.write(start)
            start = b""
        if total == 0:
            conn.write(responder.data_in(b"", last=True))
            return 0
        if single:
            start = responder.data_in_header(total, last=True)  # the one End Data's header
        piece: bytes | None = first
        try:
            while piece is not None:
                if self.cancelled(tid) and not (single and sent):
                    responder.abandon_data_in()
                    return None
                sent += len(piece)
                if single:
                    conn.write(start + piece)  # the End Data's payload, piece by piece
                else:
                    conn.write(start + responder.data_in(piece, last=sent >= total))
                start = b""
                if self._trace is not None:
                    self._trace.data_in = sent
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
        if single and self.cancelled(tid):
            return None  # cancelled while the End Data went out: answered as cancelled
        return sent

    def _respond(self, code: int, tid: int, params: tuple[int, ...] = ()) -> None:
        conn = self.command_conn
        params = _padded(params, self.camera.personality.response_param_count)
        conn.write(conn.responder.respond(code, tid, params))
        if self._trace is not None:
            self._trace.response = (code, params)


def _release(counter: Counter[int], key: int) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


def _hex(params: tuple[int, ...]) -> str:
    return "[" + ", ".join(f"0x{p:X}" for p in params) + "]"


def _padded(params: tuple[int, ...], count: int) -> tuple[int, ...]:
    """``params`` with zeros up to ``count`` (some bodies always send them all)."""
    return params + (0,) * (count - len(params)) if len(params) < count else params
