"""A scripted CIPA camera that tells lies: object trees, sizes and data streams on demand.

It speaks just enough PTP/IP for the client's object paths (session, storages, handles, object
infos, GetObject, GetPartialObject) and lets a test replace how any object's data is sent, so
the client can be shown a camera that streams past the size it announced, trickles, or never
stops. Packets are written with ptpip's encoders but each lie is raw bytes the test chose.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from ptpip.ip.framing import DataChunk, Framer
from ptpip.ip.packets import (
    Cancel,
    Data,
    EndData,
    InitCommandAck,
    InitCommandRequest,
    InitEventAck,
    InitEventRequest,
    OperationRequest,
    OperationResponse,
    StartData,
)
from ptpip.ptp.codes import ObjectFormatCode, OperationCode, ResponseCode
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo, StorageInfo, encode_handles

__all__ = ["LiarCamera", "LyingObject", "Sender"]

STORAGE = 0x0001_0001
WHEN = datetime(2026, 1, 2, 3, 4, 5)


@dataclass
class LyingObject:
    """An object as the camera describes it (ObjectInfo) and the bytes it really sends."""

    handle: int
    filename: str
    data: bytes = b""
    #: the size in ObjectInfo; None: ``len(data)``
    size: int | None = None
    parent: int = 0
    storage: int = STORAGE
    folder: bool = False

    def info(self) -> ObjectInfo:
        size = len(self.data) if self.size is None else self.size
        return ObjectInfo(
            storage_id=self.storage,
            object_format=ObjectFormatCode.ASSOCIATION if self.folder else 0x3801,
            compressed_size=0 if self.folder else size,
            parent=self.parent,
            association_type=1 if self.folder else 0,
            filename=self.filename,
            capture_date=WHEN,
            modification_date=WHEN,
        )


#: How one GetObject/GetPartialObject answer is sent: (camera, writer, tid, object, offset,
#: length or None for GetObject). It writes whatever it likes, response included (or not).
Sender = Callable[
    ["LiarCamera", asyncio.StreamWriter, int, LyingObject, int, int | None], Awaitable[None]
]


async def honest(
    cam: LiarCamera,
    writer: asyncio.StreamWriter,
    tid: int,
    obj: LyingObject,
    offset: int,
    length: int | None,
) -> None:
    end = len(obj.data) if length is None else offset + length
    await cam.send_data(writer, tid, obj.data[offset:end])
    cam.respond(writer, ResponseCode.OK, tid)


@dataclass
class LiarCamera:
    objects: list[LyingObject]
    storages: tuple[int, ...] = (STORAGE,)
    partial: bool = True
    model: str = "Liar 1"
    serial: str = "LIAR0001"
    sender: Sender = honest
    #: go on streaming after a Cancel, as if it never came
    ignore_cancel: bool = False
    #: what the camera received: (operation code, params)
    requests: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    cancels: list[int] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _ops: set[asyncio.Future[None]] = field(default_factory=set)

    async def __aenter__(self) -> LiarCamera:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for op in list(self._ops):
            op.cancel()
        # The accept tasks end by themselves once their transports are gone (cancelling
        # them makes asyncio.streams log the CancelledError).
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    def device_info(self) -> DeviceInfo:
        ops = [
            OperationCode.GET_DEVICE_INFO,
            OperationCode.OPEN_SESSION,
            OperationCode.CLOSE_SESSION,
            OperationCode.GET_STORAGE_IDS,
            OperationCode.GET_STORAGE_INFO,
            OperationCode.GET_OBJECT_HANDLES,
            OperationCode.GET_OBJECT_INFO,
            OperationCode.GET_OBJECT,
        ]
        if self.partial:
            ops.append(OperationCode.GET_PARTIAL_OBJECT)
        return DeviceInfo(
            operations_supported=tuple(ops),
            manufacturer="Liars Inc.",
            model=self.model,
            device_version="1.0",
            serial_number=self.serial,
        )

    # -- bytes out ---------------------------------------------------------------------------

    def respond(self, writer: asyncio.StreamWriter, code: int, tid: int) -> None:
        writer.write(OperationResponse(code, tid).encode())

    async def send_data(self, writer: asyncio.StreamWriter, tid: int, payload: bytes) -> None:
        writer.write(StartData(tid, len(payload)).encode() + EndData(tid, payload).encode())
        await writer.drain()

    # -- the connection ----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the test's loop is ending
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = Framer()
        running: asyncio.Task[None] | None = None
        while data := await reader.read(65536):
            framer.feed(data)
            for item in framer.events():
                if isinstance(item, InitCommandRequest):
                    ack = InitCommandAck(1, b"\x11" * 16, self.model)
                    writer.write(ack.encode())
                elif isinstance(item, InitEventRequest):
                    writer.write(InitEventAck().encode())
                elif isinstance(item, Cancel):
                    self.cancels.append(item.transaction_id)
                    if self.ignore_cancel:
                        continue
                    if running is not None:
                        running.cancel()
                    self.respond(writer, ResponseCode.TRANSACTION_CANCELLED, item.transaction_id)
                elif isinstance(item, OperationRequest):
                    self.requests.append((item.code, item.params))
                    running = asyncio.ensure_future(self._operation(writer, item))
                    self._ops.add(running)
                    running.add_done_callback(self._ops.discard)
                elif isinstance(item, DataChunk):
                    pass
        if running is not None:
            running.cancel()

    async def _operation(self, writer: asyncio.StreamWriter, req: OperationRequest) -> None:
        with contextlib.suppress(ConnectionError):
            await self._answer(writer, req)

    async def _answer(self, writer: asyncio.StreamWriter, req: OperationRequest) -> None:
        tid, code, params = req.transaction_id, req.code, req.params
        by_handle = {o.handle: o for o in self.objects}
        if code in (OperationCode.OPEN_SESSION, OperationCode.CLOSE_SESSION):
            self.respond(writer, ResponseCode.OK, tid)
        elif code == OperationCode.GET_DEVICE_INFO:
            await self.send_data(writer, tid, self.device_info().encode())
            self.respond(writer, ResponseCode.OK, tid)
        elif code == OperationCode.GET_STORAGE_IDS:
            await self.send_data(writer, tid, encode_handles(self.storages))
            self.respond(writer, ResponseCode.OK, tid)
        elif code == OperationCode.GET_STORAGE_INFO:
            info = StorageInfo(
                storage_type=4,
                filesystem_type=3,
                access_capability=0,
                max_capacity=1 << 34,
                free_space_bytes=1 << 33,
                storage_description="SD",
                volume_label=f"card {params[0]:x}",
            )
            await self.send_data(writer, tid, info.encode())
            self.respond(writer, ResponseCode.OK, tid)
        elif code == OperationCode.GET_OBJECT_HANDLES:
            await self.send_data(writer, tid, encode_handles([o.handle for o in self.objects]))
            self.respond(writer, ResponseCode.OK, tid)
        elif code == OperationCode.GET_OBJECT_INFO and params and params[0] in by_handle:
            await self.send_data(writer, tid, by_handle[params[0]].info().encode())
            self.respond(writer, ResponseCode.OK, tid)
        elif code == OperationCode.GET_OBJECT and params and params[0] in by_handle:
            await self.sender(self, writer, tid, by_handle[params[0]], 0, None)
        elif (
            code == OperationCode.GET_PARTIAL_OBJECT
            and self.partial
            and len(params) >= 3
            and params[0] in by_handle
        ):
            await self.sender(self, writer, tid, by_handle[params[0]], params[1], params[2])
        elif code in (OperationCode.GET_OBJECT_INFO, OperationCode.GET_OBJECT):
            self.respond(writer, ResponseCode.INVALID_OBJECT_HANDLE, tid)
        else:
            self.respond(writer, ResponseCode.OPERATION_NOT_SUPPORTED, tid)


async def endless(
    cam: LiarCamera,
    writer: asyncio.StreamWriter,
    tid: int,
    obj: LyingObject,
    offset: int,
    length: int | None,
    *,
    announce: int = 0xFFFF_FFFF_FFFF_FFFF,
    piece: int = 64 * 1024,
    limit: int = 1 << 34,
) -> None:
    """Announce ``announce`` bytes (unknown by default) and stream zeros until stopped."""
    writer.write(StartData(tid, announce).encode())
    chunk = Data(tid, bytes(piece)).encode()
    sent = 0
    while sent < limit:  # bounded: 16 GiB at most, the test stops it long before
        writer.write(chunk)
        sent += piece
        await writer.drain()


async def trickle(
    cam: LiarCamera,
    writer: asyncio.StreamWriter,
    tid: int,
    obj: LyingObject,
    offset: int,
    length: int | None,
    *,
    every: float = 0.05,
) -> None:
    """The right announcement, then one byte at a time in tiny Data packets."""
    end = len(obj.data) if length is None else offset + length
    payload = obj.data[offset:end]
    writer.write(StartData(tid, len(payload)).encode())
    for i in range(len(payload)):  # bounded by the payload
        writer.write(Data(tid, payload[i : i + 1]).encode())
        await writer.drain()
        await asyncio.sleep(every)
    writer.write(EndData(tid).encode())
    cam.respond(writer, ResponseCode.OK, tid)
