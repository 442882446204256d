"""A scripted hostile camera: correct PTP/IP up to a fault point, then it misbehaves.

:class:`HostileCamera` is an asyncio server on 127.0.0.1 (port 0) speaking either CIPA
PTP/IP (command and event connections on one port, told apart by their first packet) or
Fuji's dialect (an 82-byte Init, then USB containers; events on a second port with no
handshake). It serves a small, well-behaved camera: one storage, one 5,000-byte object
(``IMG_0001.JPG``, handle 1), properties that accept anything, and Fuji's remote-mode set-up.

A :class:`Plan` says where it misbehaves: on the Init Command Request, on the event
connection's Init, or on the first request of a given operation. An :data:`Action` then owns
that connection; actions.py builds them (``close``, ``stall``, ``trickle``, ``endless``, ...).
:meth:`HostileCamera.behave` switches new connections back to correct behaviour, so a test
can check that a new session works afterwards.

Every wait here is bounded: a connection lives at most :data:`LIFETIME` seconds, a fault
holds it at most :data:`HOLD` seconds, and endless data stops after :data:`ENDLESS_BYTES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip.packets import (
    Data,
    InitCommandAck,
    ProbeRequest,
    StartData,
)
from ptpip.ip.responder import (
    CommandInit,
    DataOutChunk,
    EventInit,
    GoodbyeReceived,
    ProbeRequested,
    RequestReceived,
    Responder,
    ResponderEvent,
    ResponderRole,
)
from ptpip.ptp.codes import DataPhase, ObjectFormatCode, OperationCode, ResponseCode
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo, encode_handles

__all__ = [
    "ENDLESS_BYTES",
    "HANDLE",
    "HOLD",
    "OBJECT_NAME",
    "OBJECT_SIZE",
    "Action",
    "HostileCamera",
    "Link",
    "Plan",
]

#: The one object on the card: its handle, name and size (ObjectInfo's CompressedSize).
HANDLE = 1
OBJECT_NAME = "IMG_0001.JPG"
OBJECT_SIZE = 5000
STORAGE = 0x0001_0001
#: Longest a fault keeps a connection stalled, trickling or streaming.
HOLD = 8.0
#: Longest any accepted connection lives.
LIFETIME = 20.0
#: Endless data stops after this many bytes (more than any sane client would buffer).
ENDLESS_BYTES = 32 * 1024 * 1024
#: Receive buffer of accepted sockets: small, so a camera that stops reading blocks the
#: client's data-out quickly (loopback autotuning would otherwise absorb tens of MiB).
RCVBUF = 64 * 1024
_MAX_REQUESTS = 1000
_GUID = bytes(range(16))
#: Operations with a data-out phase (the Fuji dialect does not say so in the request).
_DATA_OUT_OPS = frozenset(
    {
        OperationCode.SET_DEVICE_PROP_VALUE,
        OperationCode.SEND_OBJECT_INFO,
        OperationCode.SEND_OBJECT,
    }
)
_FUJI_REMOTE_VERSION = 0xDF24

Action = Callable[["Link"], Awaitable[None]]


@dataclass(frozen=True)
class Plan:
    """Where the camera misbehaves; None / absent means it behaves there."""

    #: the Init Command Request arrived (the action owns the command connection)
    init: Action | None = None
    #: the event connection's Init Event Request (CIPA) or connect (Fuji) arrived
    event_init: Action | None = None
    #: the first request of each of these operations (before its data-out is read)
    ops: Mapping[int, Action] = field(default_factory=dict)
    #: serve this many requests of each faulted operation correctly first (Fuji's set-up
    #: uses SetDevicePropValue twice before the test's own)
    skip: int = 0


def object_bytes() -> bytes:
    return bytes(i * 7 % 251 for i in range(OBJECT_SIZE))


class Link:
    """One accepted connection: reading events, writing bytes, serving requests."""

    def __init__(
        self,
        camera: HostileCamera,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        responder: Responder,
    ) -> None:
        self.camera = camera
        self.reader = reader
        self.writer = writer
        self.responder = responder
        self.fuji = camera.fuji
        self.request: RequestReceived | None = None
        self.done = False
        self._queue: list[ResponderEvent] = []
        self._loop = asyncio.get_running_loop()

    # -- the current request -----------------------------------------------------------------

    @property
    def tid(self) -> int:
        assert self.request is not None
        return self.request.transaction_id

    @property
    def code(self) -> int:
        assert self.request is not None
        return self.request.code

    # -- input -------------------------------------------------------------------------------

    async def next_event(self, timeout: float = LIFETIME) -> ResponderEvent | None:
        """The next input event; None at EOF, on garbage, or after ``timeout`` seconds."""
        deadline = self._loop.time() + timeout
        for _ in range(100_000):
            if self._queue:
                return self._queue.pop(0)
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    data = await self.reader.read(65536)
            except (TimeoutError, ConnectionError):
                return None
            if not data:
                return None
            try:
                self._queue.extend(self.responder.receive_data(data))
            except RemoteProtocolError:
                return None
        return None

    async def collect_data_out(self, limit: int = 64 * 1024 * 1024) -> bytes | None:
        """The request's data-out bytes; None when the link ends first."""
        buf = bytearray()
        for _ in range(100_000):
            event = await self.next_event(HOLD)
            if event is None:
                return None
            if isinstance(event, DataOutChunk):
                buf += event.data
                if len(buf) > limit:
                    return None
                if event.last:
                    return bytes(buf)
        return None

    async def hold(self, seconds: float = HOLD) -> None:
        """Never answer: read and drop whatever comes until EOF or ``seconds``, then close."""
        deadline = self._loop.time() + seconds
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout_at(deadline):
                for _ in range(1_000_000):
                    if not await self.reader.read(65536):
                        break
        self.abort()

    async def deaf(self, seconds: float = HOLD) -> None:
        """Never answer and stop reading (the peer's writes back up), then close."""
        await self.pause(seconds)
        self.abort()

    async def pause(self, seconds: float) -> None:
        """Sleep, cut short when the camera stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.camera.stopping.wait()

    # -- output ------------------------------------------------------------------------------

    async def send(self, data: bytes, timeout: float = HOLD) -> bool:
        """Write and drain; False (and the link aborted) when that fails or takes too long."""
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(data)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except (TimeoutError, ConnectionError):
            self.abort()
            return False
        self.camera.sent += len(data)
        return True

    async def trickle(self, data: bytes, interval: float, seconds: float = HOLD) -> None:
        """Send ``data`` one byte every ``interval`` seconds (at most ``seconds`` long)."""
        deadline = self._loop.time() + seconds
        for byte in data:
            if self._loop.time() >= deadline or not await self.send(bytes([byte])):
                break
            await self.pause(interval)
            if self.camera.stopping.is_set():
                break

    async def stream(self, piece: Callable[[], bytes], seconds: float = HOLD) -> int:
        """Send ``piece()`` again and again until ENDLESS_BYTES, ``seconds`` or the peer
        closes; returns the bytes sent."""
        deadline = self._loop.time() + seconds
        sent = 0
        for _ in range(ENDLESS_BYTES // 1024 + 1):
            if sent >= ENDLESS_BYTES or self._loop.time() >= deadline:
                break
            if self.camera.stopping.is_set():
                break
            chunk = piece()
            if not await self.send(chunk, max(0.01, deadline - self._loop.time())):
                break
            sent += len(chunk)
        return sent

    def abort(self) -> None:
        self.done = True
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()

    # -- packets in the link's dialect -----------------------------------------------------------

    def response(self, code: int, tid: int | None = None, params: tuple[int, ...] = ()) -> bytes:
        return self.responder.respond(code, self.tid if tid is None else tid, params)

    def start_data(self, total: int, tid: int | None = None) -> bytes:
        """CIPA Start Data, or the header of a Fuji data container announcing ``total``."""
        tid = self.tid if tid is None else tid
        if self.fuji:
            return struct.pack("<IHHI", min(12 + total, 0xFFFF_FFFF), 2, self.code, tid)
        return StartData(tid, total).encode()

    def data(self, payload: bytes, tid: int | None = None) -> bytes:
        """A CIPA Data packet, or bare payload bytes inside a Fuji data container."""
        if self.fuji:
            return payload
        return Data(self.tid if tid is None else tid, payload).encode()

    def data_in(self, payload: bytes) -> bytes:
        """A whole, correct data-in phase."""
        return self.responder.data_in_start(self.code, self.tid, len(payload)) + (
            self.responder.data_in(payload, last=True)
        )

    # -- behaving --------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Answer the current request correctly."""
        request = self.request
        assert request is not None
        data_out: bytes | None = None
        if request.data_phase == DataPhase.DATA_OUT or (
            request.data_phase is None and request.code in _DATA_OUT_OPS
        ):
            data_out = await self.collect_data_out()
            if data_out is None:
                self.abort()
                return
        code, params, payload = self.camera.answer(request, data_out)
        out = b"" if payload is None else self.data_in(payload)
        self.camera.last_response = self.response(code, params=params)
        await self.send(out + self.camera.last_response)

    async def serve_events(self) -> None:
        """An event connection: answer probes until EOF (or LIFETIME, in _accept)."""
        for _ in range(10_000_000):
            event = await self.next_event()
            if event is None:
                return
            if isinstance(event, ProbeRequested):
                await self.send(self.responder.probe_response())

    async def probes(self, count: int = 200_000, batch: int = 500) -> None:
        """A flood of Probe Requests on this (event) connection."""
        packet = ProbeRequest().encode() * batch
        for _ in range(count // batch):
            if self.camera.stopping.is_set() or not await self.send(packet, 1.0):
                return
            await asyncio.sleep(0)


class HostileCamera:
    """The scripted camera; ``async with HostileCamera(plan) as cam: ...cam.port...``."""

    def __init__(self, plan: Plan, *, fuji: bool = False, partial: bool = True) -> None:
        self.plan = plan
        self.fuji = fuji
        #: whether DeviceInfo lists GetPartialObject (the client then downloads in pieces)
        self.partial = partial
        self.hostile = True
        self.port = 0
        self.event_port = 0
        self.last_response = b""
        #: bytes written (and drained) to clients so far
        self.sent = 0
        self.event_link: Link | None = None
        self._event_ready = asyncio.Event()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: set[Link] = set()
        self._numbers = itertools.count(1)
        self.object = object_bytes()
        self.stopping = asyncio.Event()

    # -- life cycle --------------------------------------------------------------------------

    async def __aenter__(self) -> HostileCamera:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        command = await self._listen(lambda r, w: self._accept(r, w, event_port=False))
        self.port = int(command.sockets[0].getsockname()[1])
        self.event_port = self.port
        if self.fuji:
            events = await self._listen(lambda r, w: self._accept(r, w, event_port=True))
            self.event_port = int(events.sockets[0].getsockname()[1])

    async def _listen(
        self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ) -> asyncio.Server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        server = await asyncio.start_server(handler, sock=sock)
        self._servers.append(server)
        return server

    async def stop(self) -> None:
        self.stopping.set()
        for server in self._servers:
            server.close()
        for link in list(self._links):
            link.abort()
        if self._tasks:  # they end on their own once their links are gone
            await asyncio.wait(set(self._tasks), timeout=3)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=3)
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await server.wait_closed()

    def behave(self) -> None:
        """From now on, new connections get a correct camera."""
        self.hostile = False

    async def events(self, timeout: float = 2.0) -> Link:
        """The latest event connection (waiting for it a little)."""
        async with asyncio.timeout(timeout):
            await self._event_ready.wait()
        assert self.event_link is not None
        return self.event_link

    # -- connections -------------------------------------------------------------------------

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, event_port: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        plan = self.plan if self.hostile else Plan()
        if event_port:
            responder = Responder(ResponderRole.EVENT, fuji=True)
        else:
            responder = Responder(fuji=self.fuji)
        link = Link(self, reader, writer, responder)
        self._links.add(link)
        try:
            async with asyncio.timeout(LIFETIME):
                if event_port:
                    await self._fuji_events(link, plan)
                else:
                    await self._command_port(link, plan)
        except (TimeoutError, ConnectionError, RemoteProtocolError, LocalProtocolError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels, as a last resort; ending quietly keeps asyncio's stream
            # callback from reporting the cancelled handler as an error.
            pass
        finally:
            self._links.discard(link)
            self._tasks.discard(task)
            link.abort()

    async def _command_port(self, link: Link, plan: Plan) -> None:
        first = await link.next_event(HOLD)
        if isinstance(first, EventInit):
            await self._cipa_events(link, plan)
            return
        if not isinstance(first, CommandInit):
            return
        if plan.init is not None:
            await plan.init(link)
            return
        number = next(self._numbers)
        if self.fuji:  # the X-T1's 68-byte ack, connection number 0 (vendor-fuji.md §2.2)
            ack = InitCommandAck(0, _GUID, "X-T1", 0x0001_0000, 36)
        else:
            ack = InitCommandAck(number, _GUID, "hostile")
        await link.send(link.responder.accept(ack))
        seen: dict[int, int] = {}
        for _ in range(_MAX_REQUESTS):
            event = await link.next_event()
            if event is None or isinstance(event, GoodbyeReceived):
                return
            if isinstance(event, ProbeRequested):
                await link.send(link.responder.probe_response())
            elif isinstance(event, RequestReceived):
                link.request = event
                action = plan.ops.get(event.code)
                seen[event.code] = count = seen.get(event.code, -1) + 1
                if action is not None and count == plan.skip:
                    await action(link)
                else:
                    await link.serve()
                if link.done:
                    return

    async def _cipa_events(self, link: Link, plan: Plan) -> None:
        if plan.event_init is not None:
            await plan.event_init(link)
            return
        await link.send(link.responder.accept())
        await self._serve_events(link)

    async def _fuji_events(self, link: Link, plan: Plan) -> None:
        if plan.event_init is not None:
            await plan.event_init(link)
            return
        await self._serve_events(link)

    async def _serve_events(self, link: Link) -> None:
        self.event_link = link
        self._event_ready.set()
        await link.serve_events()

    # -- the well-behaved camera -------------------------------------------------------------

    def device_info(self) -> bytes:
        ops = [
            OperationCode.GET_DEVICE_INFO,
            OperationCode.OPEN_SESSION,
            OperationCode.CLOSE_SESSION,
            OperationCode.GET_STORAGE_IDS,
            OperationCode.GET_OBJECT_HANDLES,
            OperationCode.GET_OBJECT_INFO,
            OperationCode.GET_OBJECT,
            OperationCode.GET_DEVICE_PROP_VALUE,
            OperationCode.SET_DEVICE_PROP_VALUE,
            OperationCode.SEND_OBJECT_INFO,
        ]
        if self.partial:
            ops.append(OperationCode.GET_PARTIAL_OBJECT)
        if self.fuji:
            ops += [OperationCode.INITIATE_OPEN_CAPTURE, OperationCode.TERMINATE_OPEN_CAPTURE]
        return DeviceInfo(
            vendor_extension_id=0xE if self.fuji else 0,
            operations_supported=tuple(int(op) for op in ops),
            manufacturer="FUJIFILM" if self.fuji else "hostile",
            model="X-T1" if self.fuji else "hostile camera",
            device_version="1.0",
            serial_number="HOSTILE0001",
        ).encode()

    def object_info(self) -> bytes:
        return ObjectInfo(
            storage_id=STORAGE,
            object_format=ObjectFormatCode.EXIF_JPEG,
            compressed_size=OBJECT_SIZE,
            filename=OBJECT_NAME,
        ).encode()

    def answer(
        self, request: RequestReceived, data_out: bytes | None
    ) -> tuple[int, tuple[int, ...], bytes | None]:
        """(response code, params, data-in or None) of a correct camera."""
        del data_out
        op, params = request.code, request.params
        ok = ResponseCode.OK
        if op in (
            OperationCode.OPEN_SESSION,
            OperationCode.CLOSE_SESSION,
            OperationCode.SET_DEVICE_PROP_VALUE,
            OperationCode.INITIATE_OPEN_CAPTURE,
            OperationCode.TERMINATE_OPEN_CAPTURE,
        ):
            return ok, (), None
        if op == OperationCode.GET_DEVICE_INFO:
            return ok, (), self.device_info()
        if op == OperationCode.GET_STORAGE_IDS:
            return ok, (), encode_handles([STORAGE])
        if op == OperationCode.GET_OBJECT_HANDLES:
            return ok, (), encode_handles([HANDLE])
        if op == OperationCode.GET_OBJECT_INFO:
            return ok, (), self.object_info()
        if op == OperationCode.GET_OBJECT:
            return ok, (), self.object
        if op == OperationCode.GET_PARTIAL_OBJECT and len(params) >= 3:
            piece = self.object[params[1] : params[1] + params[2]]
            return ok, (len(piece),), piece
        if op == OperationCode.GET_DEVICE_PROP_VALUE and params:
            if params[0] == _FUJI_REMOTE_VERSION:
                return ok, (), struct.pack("<I", 0x0002_0001)
            return ok, (), struct.pack("<H", 0)
        if op == OperationCode.SEND_OBJECT_INFO:
            return ok, (STORAGE, 0, HANDLE + 1), None
        return ResponseCode.OPERATION_NOT_SUPPORTED, (), None
