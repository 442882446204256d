"""The Nikon client against a scripted body: the reference's real bytes (the Z 8's StartData,
the Z 5's InitFail), detection, events from GetEventEx and the event connection, capture with
DeviceReady busy cycles, SDRAM images, the transfer list and live view."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ptpip.client.camera import Camera, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import InitFailError
from ptpip.ip.framing import DataChunk, Framer
from ptpip.ip.packets import (
    EndData,
    Event,
    InitCommandAck,
    InitCommandRequest,
    InitEventAck,
    InitEventRequest,
    OperationRequest,
    OperationResponse,
    StartData,
)
from ptpip.ptp.codes import EventCode, OperationCode, ResponseCode
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo, encode_handles
from ptpip.vendors.nikon.codec import SDRAM_HANDLE, encode_events_ex, encode_liveview
from ptpip.vendors.nikon.profile import NikonProfile
from tests.client.conftest import WAIT, bounded

#: vendor-others.md §1.1: the Z 8's StartData of its DeviceInfo (TID 3, 365 bytes), quoted
#: from libgphoto2 issue #1135, then the whole dataset in one EndData.
Z8_START_DATA = bytes.fromhex("14000000090000000300000 06d01000000000000".replace(" ", ""))
#: vendor-others.md §1.2: the Z 5 refusing an unknown GUID (gphoto2 #384).
Z5_INIT_FAIL = bytes.fromhex("0c000000050000000100000 0".replace(" ", ""))

OPS = (
    0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1007, 0x1008, 0x1009, 0x101B, 0x1014, 0x1015,
    0x1016, 0x90C0, 0x90C8, 0x90CA, 0x941C, 0x9207, 0x9201, 0x9202, 0x9203, 0x9431,
)  # fmt: skip
JPEG = b"\xff\xd8\xff\xe0" + bytes(200) + b"\xff\xd9"


def device_info(size: int | None = None) -> bytes:
    info = DeviceInfo(
        standard_version=100,
        vendor_extension_id=6,  # MTP, as Z bodies report over PTP/IP
        vendor_extension_desc="microsoft.com: 1.0",
        operations_supported=OPS,
        events_supported=(0x4002, 0x400D, 0xC101),
        device_properties_supported=(0x5001, 0x500F, 0xD10B),
        manufacturer="Nikon Corporation",
        model="Z 8",
        device_version="V1.00",
        serial_number="3000001",
    ).encode()
    if size is not None:  # padded to the size the real Z 8 announced
        info = info.ljust(size, b"\0")
    return info


@dataclass
class Body:
    """A scripted Nikon body: Nikon's data style (StartData, then one EndData), its answers
    per operation, its GetEventEx queue."""

    refuse_guid: bool = False
    busy_cycles: int = 2
    transfer_list: bool = False
    recording_media: int = 0
    requests: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    events: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    event_writer: asyncio.StreamWriter | None = None
    objects: dict[int, bytes] = field(default_factory=lambda: {0x10: JPEG * 30})
    #: GetVendorPropCodes' data: the Nikon properties (one listed in DeviceInfo too).
    vendor_props: bytes = struct.pack("<I3H", 3, 0xD100, 0xD10B, 0xD1A2)
    port: int = 0
    _busy: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> Body:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=WAIT)

    def data(self, writer: asyncio.StreamWriter, tid: int, payload: bytes) -> None:
        writer.write(StartData(tid, len(payload)).encode() + EndData(tid, payload).encode())

    def answer(self, writer: asyncio.StreamWriter, tid: int, code: int = 0x2001) -> None:
        writer.write(OperationResponse(code, tid).encode())

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        framer = Framer()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                framer.feed(data)
                for item in framer.events():
                    if isinstance(item, InitCommandRequest):
                        if self.refuse_guid:
                            writer.write(Z5_INIT_FAIL)
                        else:
                            writer.write(InitCommandAck(1, bytes(16), "Z 8").encode())
                    elif isinstance(item, InitEventRequest):
                        self.event_writer = writer
                        writer.write(InitEventAck().encode())
                    elif isinstance(item, OperationRequest):
                        self.requests.append((item.code, item.params))
                        self._operation(writer, item)
                    elif isinstance(item, DataChunk):
                        pass
        self._tasks.discard(task)

    def _operation(self, w: asyncio.StreamWriter, req: OperationRequest) -> None:
        tid, code, p = req.transaction_id, req.code, req.params
        if code == OperationCode.GET_DEVICE_INFO:
            # The Z 8's StartData byte for byte, only its TID (3 there) set to this one; then
            # the whole dataset in one EndData, as the Z 8 sent it.
            start = Z8_START_DATA[:8] + struct.pack("<I", tid) + Z8_START_DATA[12:]
            w.write(start + EndData(tid, device_info(365)).encode())
            self.answer(w, tid)
        elif code == 0x941C:  # GetEventEx
            self.data(w, tid, encode_events_ex(self.events))
            self.events.clear()
            self.answer(w, tid)
        elif code == 0x90CA:  # GetVendorPropCodes
            self.data(w, tid, self.vendor_props)
            self.answer(w, tid)
        elif code == 0x90C8:  # DeviceReady
            self._busy -= 1
            self.answer(w, tid, 0x2019 if self._busy >= 0 else 0x2001)
        elif code == 0x9207:  # InitiateCaptureRecInMedia(AF, sdram)
            self._busy = self.busy_cycles
            if p[1:2] == (1,):
                self.events.append((0xC101, (0,)))  # ObjectAddedInSdram, handle 0: SDRAM
                self.objects[SDRAM_HANDLE] = JPEG
            else:
                self.objects[0x11] = JPEG + b"new"
                self.events.append((EventCode.OBJECT_ADDED, (0x11,)))
            self.events.append((EventCode.CAPTURE_COMPLETE, ()))
            self.answer(w, tid)
        elif code == OperationCode.GET_DEVICE_PROP_VALUE and p[:1] == (0xD10B,):
            self.data(w, tid, bytes([self.recording_media]))
            self.answer(w, tid)
        elif code == OperationCode.GET_DEVICE_PROP_DESC and p[:1] == (0xD10B,):
            desc = struct.pack("<HHBBB", 0xD10B, 2, 1, 0, self.recording_media) + b"\0"
            self.data(w, tid, desc)
            self.answer(w, tid)
        elif code == OperationCode.GET_OBJECT_HANDLES:
            self.data(w, tid, encode_handles([h for h in self.objects if h != SDRAM_HANDLE]))
            self.answer(w, tid)
        elif code == OperationCode.GET_OBJECT_INFO and p[0] in self.objects:
            dataset = ObjectInfo(
                storage_id=0x10001,
                object_format=0x3801,
                compressed_size=len(self.objects[p[0]]),
                filename=f"DSC_{p[0] & 0xFFFF:04d}.JPG",
            )
            self.data(w, tid, dataset.encode())
            self.answer(w, tid)
        elif code == OperationCode.GET_PARTIAL_OBJECT and p[0] in self.objects:
            if self.transfer_list:
                self.answer(w, tid, ResponseCode.ACCESS_DENIED)
            else:
                self.data(w, tid, self.objects[p[0]][p[1] : p[1] + p[2]])
                self.answer(w, tid)
        elif code == 0x9431 and p[0] in self.objects:  # GetPartialObjectEx
            offset, size = p[1] | p[2] << 32, p[3] | p[4] << 32
            piece = self.objects[p[0]][offset : offset + size]
            self.data(w, tid, piece)
            w.write(OperationResponse(0x2001, tid, (len(piece), 0)).encode())
        elif code == 0x9203:  # GetLiveViewImg: a 384-byte Z header, then the JPEG
            self.data(w, tid, encode_liveview(JPEG))
            self.answer(w, tid)
        else:
            self.answer(w, tid)

    def emit(self, code: int, *params: int) -> None:
        """An event on the event connection."""
        assert self.event_writer is not None
        self.event_writer.write(Event(code, 0xFFFF_FFFF, params).encode())


@pytest.fixture
async def body() -> AsyncIterator[Body]:
    async with Body() as b:
        yield b


Opener = Callable[..., Awaitable[Camera]]


@pytest.fixture
def opener(id_store: IdentityStore) -> Opener:
    async def open_(b: Body, **kw: object) -> Camera:
        return await bounded(
            open_camera("127.0.0.1", b.port, identity_store=id_store, timeout=WAIT, **kw)  # type: ignore[arg-type]
        )

    return open_


async def test_a_z8_is_detected_from_its_real_device_info_bytes(body: Body, opener: Opener) -> None:
    """No -t: Manufacturer "Nikon Corporation" with VendorExtensionID 6 makes it Nikon; the
    DeviceInfo comes as the Z 8 sent it (its StartData of 365 bytes, then one EndData)."""
    assert Z8_START_DATA[12:16] == (365).to_bytes(4, "little")
    cam = await opener(body)
    try:
        assert isinstance(cam.profile, NikonProfile)
        assert cam.dialect_reason == 'Manufacturer "Nikon Corporation"'
        info = await cam.device_info()
        assert (info.model, info.vendor_extension_id) == ("Z 8", 6)
        assert (OperationCode.GET_DEVICE_INFO, ()) in body.requests
    finally:
        await bounded(cam.close())


async def test_the_nikon_properties_are_merged_into_the_device_info(
    body: Body, opener: Opener
) -> None:
    """DeviceInfo lists the standard properties; GetVendorPropCodes 0x90CA adds the 0xDxxx
    ones (each once, after the standard ones), as libgphoto2 merges them."""
    cam = await opener(body)
    try:
        info = await cam.device_info()
        assert info.device_properties_supported == (0x5001, 0x500F, 0xD10B, 0xD100, 0xD1A2)
        assert (0x90CA, ()) in body.requests
    finally:
        await bounded(cam.close())


async def test_a_broken_vendor_property_list_leaves_the_standard_ones(opener: Opener) -> None:
    async with Body(vendor_props=struct.pack("<I", 9) + b"\x00\xd1") as b:  # 9 codes in 2 bytes
        cam = await opener(b)
        try:
            info = await cam.device_info()
            assert info.device_properties_supported == (0x5001, 0x500F, 0xD10B)
            assert isinstance(cam.profile, NikonProfile)
        finally:
            await bounded(cam.close())


async def test_an_unknown_computer_is_told_how_to_pair(opener: Opener) -> None:
    async with Body(refuse_guid=True) as b:
        with pytest.raises(InitFailError) as err:
            await opener(b, vendor="nikon")
    assert err.value.reason == 1
    assert "Connect to computer" in str(err.value) and "-g" in str(err.value)
    assert "nikon-wu" in str(err.value)


async def test_events_from_both_paths_are_published_once(body: Body, opener: Opener) -> None:
    cam = await opener(body, vendor="nikon")
    try:
        with cam.events() as events:
            body.emit(EventCode.DEVICE_PROP_CHANGED, 0x500F)  # on the event connection …
            body.events.append((EventCode.DEVICE_PROP_CHANGED, (0x500F,)))  # … and queued
            body.events.append((EventCode.DEVICE_PROP_CHANGED, (0x5005,)))  # only queued
            got = [await bounded(events.get(WAIT)) for _ in range(2)]
            with pytest.raises(TimeoutError):
                await events.get(1.5)  # no third: the duplicate was dropped
        assert sorted(e.params for e in got) == [(0x5005,), (0x500F,)]
        assert any(code == 0x941C for code, _ in body.requests)  # GetEventEx was polled
    finally:
        await bounded(cam.close())


async def test_capture_to_the_card_waits_for_device_ready(body: Body, opener: Opener) -> None:
    cam = await opener(body, vendor="nikon")
    try:
        (shot,) = await bounded(cam.capture(WAIT))
        assert shot.handle == 0x11
        assert (0x9207, (0xFFFF_FFFF, 0)) in body.requests  # no AF, to the card
        ready = [c for c, _ in body.requests if c == 0x90C8]
        assert len(ready) >= 3  # busy, busy, ready
    finally:
        await bounded(cam.close())


async def test_capture_to_sdram_gives_the_sdram_handle(opener: Opener, tmp_path: Path) -> None:
    async with Body(recording_media=1) as b:
        cam = await opener(b, vendor="nikon")
        try:
            (shot,) = await bounded(cam.capture(WAIT))
            assert shot.handle == SDRAM_HANDLE
            assert (0x9207, (0xFFFF_FFFF, 1)) in b.requests
            path = await bounded(cam.download(SDRAM_HANDLE, tmp_path))
            assert path is not None and path.read_bytes() == JPEG
        finally:
            await bounded(cam.close())


async def test_the_transfer_list_is_read_with_get_partial_object_ex(
    opener: Opener, tmp_path: Path
) -> None:
    """The Z 6II answers GetPartialObject with AccessDenied for pictures not marked for
    transfer; GetPartialObjectEx 0x9431 still reads them (libgphoto2 #976)."""
    async with Body(transfer_list=True) as b:
        cam = await opener(b, vendor="nikon")
        try:
            path = await bounded(cam.download(0x10, tmp_path, chunk_size=1000))
            assert path is not None and path.read_bytes() == b.objects[0x10]
            ex = [p for c, p in b.requests if c == 0x9431]
            assert ex[0] == (0x10, 0, 0, 1000, 0)  # handle, offset low/high, size low/high
        finally:
            await bounded(cam.close())


async def test_live_view_frames_are_the_jpegs_after_the_header(body: Body, opener: Opener) -> None:
    cam = await opener(body, vendor="nikon")
    try:
        frames = []
        async for frame in cam.liveview():
            frames.append(frame)
            if len(frames) == 3:
                break
        assert all(f.jpeg == JPEG for f in frames)
        codes = [c for c, _ in body.requests]
        assert codes.count(0x9201) == 1 and codes.count(0x9203) == 3
        await asyncio.sleep(0.1)
        assert 0x9202 in [c for c, _ in body.requests]  # EndLiveView when the loop ends
    finally:
        await bounded(cam.close())


def test_the_adapters_fixed_guid_has_a_name(tmp_path: Path) -> None:
    """WU-1a/1b adapters use one fixed GUID: `-g nikon-wu` gives it (checked offline)."""
    import os
    import subprocess
    import sys

    ptpip = Path(sys.executable).with_name("ptpip")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(ptpip), "-t", "nikon", "-h", "127.0.0.1", "-g", "nikon-wu", "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "00112233-4455-6677-8899-aabbccddeeff" in done.stdout
