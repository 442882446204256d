"""The virtual Nikon on the wire: raw sockets in, the reference's bytes and ptpip's codecs out.

No Nikon client here: requests are built with ``struct`` and every answer is read packet by
packet, so what is checked is what travels: the single-End-Data data phases (vendor-others.md
§1.1, the Z 8 log of libgphoto2 #1135), the Z 5's InitFail bytes (§1.2), GetEvent/GetEventEx
data decoded with :mod:`ptpip.vendors.nikon.codec`, live-view frames split by that codec.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ptpip.camera.server import VirtualCamera
from ptpip.liveview.state import overlay_of
from ptpip.props import format_value, parse_value
from ptpip.ptp.codes import Vendor
from ptpip.ptp.datasets import DeviceInfo, DevicePropDesc, ObjectInfo, PropEnum
from ptpip.vendors.nikon.camera import NikonCamera
from ptpip.vendors.nikon.camera_props import SHUTTER_SPEEDS
from ptpip.vendors.nikon.codec import (
    NOT_LIVE_VIEW,
    SDRAM_HANDLE,
    LiveViewFamily,
    decode_events,
    decode_events_ex,
    decode_object_size,
    family_for_model,
    partial_ex_params,
    split_liveview,
)
from ptpip.vendors.nikon.tables import COMPRESSION, COMPRESSION_LEGACY

WAIT = 5.0
OK, BUSY, ACCESS_DENIED, INVALID_HANDLE = 0x2001, 0x2019, 0x200F, 0x2009
START_DATA, DATA, END_DATA, RESPONSE, EVENT = 9, 10, 12, 7, 8
h = bytes.fromhex

#: vendor-others.md §1.2: a Z 5's answer to an initiator GUID it has no profile for.
Z5_INIT_FAIL = h("0c 00 00 00 05 00 00 00 01 00 00 00")
GUID_A = bytes(range(16))
GUID_B = bytes(range(16, 32))
ISO, SHUTTER, NIKON_SHUTTER, EV = 0x500F, 0x500D, 0xD100, 0x5010
RECORDING_MEDIA, LV_STATUS, LV_PROHIBIT = 0xD10B, 0xD1A2, 0xD1A4
DEVICE_PROP_CHANGED, OBJECT_ADDED, CAPTURE_COMPLETE = 0x4006, 0x4002, 0x400D
IN_SDRAM, COMPLETE_IN_SDRAM = 0xC101, 0xC102
NO_AF = 0xFFFF_FFFF


@dataclass
class Answer:
    """One transaction as it came back: the data-in packets, the data, the response."""

    code: int
    params: tuple[int, ...]
    data: bytes | None = None
    #: (packet type, packet length) of every packet of the data-in phase, in order
    packets: list[tuple[int, int]] = field(default_factory=list)
    start: bytes = b""


class Wire:
    """One raw PTP/IP connection: whole packets, requests numbered from TID 0."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tid = 0

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), WAIT)

    async def packet(self, timeout: float = WAIT) -> bytes:
        head = await asyncio.wait_for(self.reader.readexactly(8), timeout)
        length = int.from_bytes(head[:4], "little")
        return head + await asyncio.wait_for(self.reader.readexactly(length - 8), timeout)

    async def init(self, guid: bytes = GUID_A, name: str = "test host") -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        payload = guid + raw + struct.pack("<I", 0x0001_0000)
        await self.send(struct.pack("<II", 8 + len(payload), 1) + payload)
        return await self.packet()

    async def request(self, code: int, *params: int, data: bytes | None = None) -> Answer:
        tid = self.tid
        self.tid += 1
        phase = 2 if data is not None else 1
        out = struct.pack(
            f"<IIIHI{len(params)}I", 18 + 4 * len(params), 6, phase, code, tid, *params
        )
        if data is not None:
            out += struct.pack("<IIIQ", 20, START_DATA, tid, len(data))
            out += struct.pack("<III", 12 + len(data), END_DATA, tid) + data
        await self.send(out)
        answer = Answer(0, ())
        packet = await self.packet()
        if int.from_bytes(packet[4:8], "little") == START_DATA:
            answer.start = packet
            total = struct.unpack_from("<Q", packet, 12)[0]
            buf = bytearray()
            for _ in range(100_000):  # bounded: a data phase of at most that many packets
                packet = await self.packet()
                kind = int.from_bytes(packet[4:8], "little")
                answer.packets.append((kind, len(packet)))
                assert kind in (DATA, END_DATA) and int.from_bytes(packet[8:12], "little") == tid
                buf += packet[12:]
                if kind == END_DATA:
                    break
            assert len(buf) == total
            answer.data = bytes(buf)
            packet = await self.packet()
        assert int.from_bytes(packet[4:8], "little") == RESPONSE, packet.hex()
        answer.code, got = struct.unpack_from("<HI", packet, 8)
        assert got == tid
        count = (len(packet) - 14) // 4
        answer.params = struct.unpack_from(f"<{count}I", packet, 14)
        return answer

    async def ok(self, code: int, *params: int, data: bytes | None = None) -> bytes | None:
        answer = await self.request(code, *params, data=data)
        assert answer.code == OK, hex(answer.code)
        return answer.data

    async def closed(self, timeout: float = WAIT) -> bool:
        """Whether the camera closed this connection within ``timeout`` (EOF)."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), timeout)
        except (TimeoutError, ConnectionError):
            return False
        return rest == b""

    def close(self) -> None:
        self.writer.close()


def nikon(vcam: VirtualCamera) -> NikonCamera:
    personality = vcam.personality
    assert isinstance(personality, NikonCamera)
    return personality


async def serve(body: NikonCamera) -> VirtualCamera:
    cam = VirtualCamera(body, port=0)
    await cam.start()
    return cam


@pytest.fixture
async def vcam(tmp_path: Path) -> AsyncIterator[VirtualCamera]:
    cam = await serve(NikonCamera(tmp_path / "card", busy_time=0.05))
    try:
        yield cam
    finally:
        await cam.stop()


@pytest.fixture
async def wire(vcam: VirtualCamera) -> AsyncIterator[Wire]:
    """A client in a session (OpenSession done)."""
    w = await Wire.open(vcam.port)
    ack = await w.init()
    assert ack[4:8] == b"\x02\0\0\0"
    await w.ok(0x1002, 1)
    yield w
    w.close()


async def event_wire(vcam: VirtualCamera, ack: bytes) -> Wire:
    """The event connection of the session whose Init ack is ``ack``."""
    w = await Wire.open(vcam.port)
    await w.send(struct.pack("<II", 12, 3) + ack[8:12])
    assert await w.packet() == h("08000000 04000000")
    return w


def u16_array(data: bytes) -> list[int]:
    (count,) = struct.unpack_from("<I", data)
    return list(struct.unpack_from(f"<{count}H", data, 4))


def u32_array(data: bytes) -> list[int]:
    (count,) = struct.unpack_from("<I", data)
    return list(struct.unpack_from(f"<{count}I", data, 4))


async def wait_for(predicate: Any, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# -- identity ---------------------------------------------------------------------------------


async def test_device_info_is_a_nikon_saying_mtp(wire: Wire) -> None:
    info = DeviceInfo.decode(await wire.ok(0x1001) or b"")
    assert info.manufacturer == "Nikon Corporation" and info.model == "Z 6_2"
    assert info.vendor_extension_id == 6  # what libgphoto2 turns into Nikon with "Nikon"
    ops = set(info.operations_supported)
    nikon_ops = {0x90C0, 0x90C1, 0x90C7, 0x90C8, 0x90CA, 0x9201, 0x9202, 0x9203, 0x9207}
    assert nikon_ops | {0x941C, 0x9421, 0x9431, 0x9504, 0x101B} <= ops
    # The Nikon properties come from GetVendorPropCodes, as on the bodies.
    assert all(code < 0xD000 for code in info.device_properties_supported)
    vendor = u16_array(await wire.ok(0x90CA) or b"")
    assert {0xD054, NIKON_SHUTTER, RECORDING_MEDIA, LV_STATUS, LV_PROHIBIT, 0xD200} <= set(vendor)
    assert all(code >= 0xD000 for code in vendor)


async def test_the_d750_lists_get_event_only_and_the_older_tables(tmp_path: Path) -> None:
    cam = await serve(NikonCamera(tmp_path / "card", model="D750"))
    try:
        w = await Wire.open(cam.port)
        await w.init()
        await w.ok(0x1002, 1)
        info = DeviceInfo.decode(await w.ok(0x1001) or b"")
        assert info.model == "D750" and 0x90C7 in info.operations_supported
        assert not {0x941C, 0x9431, 0x9421, 0x9504} & set(info.operations_supported)
        assert (await w.request(0x941C)).code == 0x2005  # OperationNotSupported
        desc = DevicePropDesc.decode(await w.ok(0x1014, 0x5004) or b"")
        assert isinstance(desc.form, PropEnum)
        assert set(desc.form.values) == set(COMPRESSION_LEGACY) != set(COMPRESSION)
        w.close()
    finally:
        await cam.stop()


# -- the single-End-Data style -----------------------------------------------------------------


async def test_data_phases_are_start_data_and_one_end_data(wire: Wire, vcam: VirtualCamera) -> None:
    answer = await wire.request(0x1001)
    assert answer.data is not None
    total = len(answer.data)
    # the shape of the Z 8's StartData (libgphoto2 #1135): length 0x14, type 9, TID, u64 total
    assert answer.start == struct.pack("<IIIQ", 0x14, START_DATA, wire.tid - 1, total)
    assert answer.packets == [(END_DATA, 12 + total)]  # no Data packet at all
    # A 3 MB picture: still exactly one End Data (written in pieces, one packet on the wire).
    store = nikon(vcam).store
    big = os.urandom(3_000_000)
    (store.root / "DCIM" / "100PTPIP" / "BIG_0001.JPG").write_bytes(big)
    handles = u32_array(await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0) or b"")
    handle = store.lookup("DCIM/100PTPIP/BIG_0001.JPG")
    assert handle in handles
    answer = await wire.request(0x1009, handle)
    assert answer.data == big and answer.packets == [(END_DATA, 12 + len(big))]
    # A 1 MiB piece the way libgphoto2 reads: one End Data too, P1 = bytes sent.
    answer = await wire.request(0x101B, handle, 0x100000, 0x100000)
    assert answer.data == big[0x100000:0x200000] and answer.params == (0x100000,)
    assert answer.packets == [(END_DATA, 12 + 0x100000)]


async def test_an_empty_data_phase_is_start_data_0_and_an_empty_end_data(
    wire: Wire, vcam: VirtualCamera
) -> None:
    store = nikon(vcam).store
    (store.root / "DCIM" / "100PTPIP" / "EMPTY.JPG").write_bytes(b"")
    await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0)
    answer = await wire.request(0x1009, store.lookup("DCIM/100PTPIP/EMPTY.JPG"))
    assert answer.code == OK and answer.data == b"" and answer.packets == [(END_DATA, 12)]


async def test_a_cancel_before_the_data_phase_leaves_no_end_data(
    wire: Wire, vcam: VirtualCamera
) -> None:
    await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0)
    handle = nikon(vcam).store.lookup("DCIM/100PTPIP/IMG_0001.JPG")
    tid = wire.tid
    wire.tid += 1
    request = struct.pack("<IIIHII", 22, 6, 1, 0x1009, tid, handle)
    await wire.send(request + struct.pack("<III", 12, 11, tid))  # GetObject, then Cancel
    start = await wire.packet()
    assert struct.unpack_from("<III", start) == (20, START_DATA, tid)
    response = await wire.packet()  # no End Data: the packet had not started
    assert struct.unpack_from("<IIHI", response) == (14, RESPONSE, 0x201F, tid)


async def test_a_cancel_during_the_end_data_is_answered_after_its_last_byte(
    wire: Wire, vcam: VirtualCamera
) -> None:
    store = nikon(vcam).store
    size = 64 * 1024 * 1024  # more than the socket buffers hold: the camera waits for us
    with (store.root / "DCIM" / "100PTPIP" / "LONG.MOV").open("wb") as fp:
        fp.truncate(size)  # sparse
    await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0)
    handle = store.lookup("DCIM/100PTPIP/LONG.MOV")
    tid = wire.tid
    wire.tid += 1
    await wire.send(struct.pack("<IIIHII", 22, 6, 1, 0x1009, tid, handle))
    assert struct.unpack_from("<IIIQ", await wire.packet()) == (20, START_DATA, tid, size)
    head = await asyncio.wait_for(wire.reader.readexactly(12), WAIT)
    assert struct.unpack("<III", head) == (12 + size, END_DATA, tid)  # the one End Data
    await wire.send(struct.pack("<III", 12, 11, tid))  # Cancel, while it is on its way
    left = size
    for _ in range(size):  # the packet cannot be cut short: all of it comes
        piece = await asyncio.wait_for(wire.reader.read(min(left, 1 << 20)), WAIT)
        assert piece, "the camera closed the connection"
        left -= len(piece)
        if not left:
            break
    response = await wire.packet()
    assert struct.unpack_from("<IIHI", response) == (14, RESPONSE, 0x201F, tid)
    assert (await wire.request(0x90C8)).code == OK  # and the connection goes on


# -- events -----------------------------------------------------------------------------------


async def test_get_event_ex_and_get_event_drain_one_queue(vcam: VirtualCamera) -> None:
    w = await Wire.open(vcam.port)
    ack = await w.init()
    events = await event_wire(vcam, ack)
    await w.ok(0x1002, 1)
    assert decode_events_ex(await w.ok(0x941C) or b"") == []
    await w.ok(0x1016, ISO, data=struct.pack("<H", 800))
    # on the event connection, as the bodies send them ...
    packet = await events.packet()
    assert struct.unpack_from("<IIHII", packet) == (
        18,
        EVENT,
        DEVICE_PROP_CHANGED,
        0xFFFF_FFFF,
        ISO,
    )
    # ... and in the queue GetEventEx empties
    data = await w.ok(0x941C) or b""
    assert data == h("0100 0000 0640 0100 0f500000")
    assert decode_events_ex(data) == [(DEVICE_PROP_CHANGED, (ISO,))]
    assert decode_events_ex(await w.ok(0x941C) or b"") == []
    # The exposure time and the Nikon shutter speed are one setting: both are announced.
    quarter = next(t for t, f in SHUTTER_SPEEDS if f == (1 << 16 | 250))
    await w.ok(0x1016, SHUTTER, data=struct.pack("<I", quarter))
    data = await w.ok(0x90C7) or b""  # GetEvent: one parameter each
    assert decode_events(data) == [
        (DEVICE_PROP_CHANGED, (SHUTTER,)),
        (DEVICE_PROP_CHANGED, (NIKON_SHUTTER,)),
    ]
    value = await w.ok(0x1015, NIKON_SHUTTER) or b""
    assert struct.unpack("<I", value) == (1 << 16 | 250,)
    assert decode_events(await w.ok(0x90C7) or b"") == []
    w.close()
    events.close()


async def test_properties_are_validated(wire: Wire) -> None:
    assert (await wire.request(0x1016, ISO, data=struct.pack("<H", 123))).code == 0x201C
    assert (await wire.request(0x1016, 0x5001, data=b"\x10")).code == ACCESS_DENIED  # battery
    assert (await wire.request(0x1016, 0xD999, data=b"\0")).code == 0x200A
    desc = DevicePropDesc.decode(await wire.ok(0x9504, ISO) or b"")  # GetDevicePropEx
    assert desc.code == ISO and desc.current == 100
    await wire.ok(0x1016, EV, data=struct.pack("<h", -667))
    assert struct.unpack("<h", await wire.ok(0x1015, EV) or b"") == (-667,)


# -- capture ----------------------------------------------------------------------------------


async def test_device_ready_answers_busy_after_a_capture_then_ok(
    wire: Wire, vcam: VirtualCamera
) -> None:
    body = nikon(vcam)
    body.busy_time = 0.3
    await wire.ok(0x9207, NO_AF, 1)
    again = await wire.request(0x9207, NO_AF, 1)
    assert again.code == BUSY  # still busy with the last shot
    answers = []
    for _ in range(200):  # bounded: 200 × 10 ms
        code = (await wire.request(0x90C8)).code
        answers.append(code)
        if code == OK:
            break
        await asyncio.sleep(0.01)
    assert answers[-1] == OK and answers[: body.busy_calls] == [BUSY] * body.busy_calls
    assert answers.count(BUSY) >= body.busy_calls and set(answers) == {BUSY, OK}
    assert (await wire.request(0x90C8)).code == OK  # the cycle is over


async def test_capture_to_sdram_is_object_ffff0001_until_read(
    wire: Wire, vcam: VirtualCamera
) -> None:
    body = nikon(vcam)
    before = u32_array(await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0) or b"")
    await wire.ok(0x9207, NO_AF, 1)  # P2 1: SDRAM
    await wait_for(lambda: body.held_in_sdram == 1)
    events = decode_events_ex(await wire.ok(0x941C) or b"")
    assert events[:2] == [(IN_SDRAM, (SDRAM_HANDLE,)), (COMPLETE_IN_SDRAM, ())]
    assert (DEVICE_PROP_CHANGED, (LV_PROHIBIT,)) in events
    assert struct.unpack("<I", await wire.ok(0x1015, LV_PROHIBIT) or b"") == (1 << 12,)
    info = ObjectInfo.decode(await wire.ok(0x1008, SDRAM_HANDLE) or b"")
    assert (info.storage_id, info.parent, info.object_format) == (0, 0, 0x3801)
    assert info.filename.startswith("DSC_") and info.filename.endswith(".JPG")
    size = decode_object_size(await wire.ok(0x9421, SDRAM_HANDLE) or b"")
    assert size == info.compressed_size
    assert (await wire.request(0x9201)).code == 0xA004  # no live view while it waits
    # not on the card: no handle for it
    after = u32_array(await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0) or b"")
    assert after == before and SDRAM_HANDLE not in after
    jpeg = await wire.ok(0x1009, SDRAM_HANDLE) or b""
    assert len(jpeg) == size and jpeg[:3] == b"\xff\xd8\xff" and jpeg[-2:] == b"\xff\xd9"
    # read to its end: gone (what libgphoto2 saw on a D90), the prohibit bit too
    assert (await wire.request(0x1008, SDRAM_HANDLE)).code == INVALID_HANDLE
    assert (await wire.request(0x100B, SDRAM_HANDLE, 0)).code == INVALID_HANDLE
    assert struct.unpack("<I", await wire.ok(0x1015, LV_PROHIBIT) or b"") == (0,)


async def test_recording_media_decides_where_0x90c0_writes(wire: Wire, vcam: VirtualCamera) -> None:
    body = nikon(vcam)
    files = set(body.store.root.rglob("*.JPG"))
    assert struct.unpack("<B", await wire.ok(0x1015, RECORDING_MEDIA) or b"") == (0,)  # card
    await wire.ok(0x90C0, NO_AF)
    events = []
    for _ in range(100):  # bounded: 100 × 20 ms
        events = decode_events_ex(await wire.ok(0x941C) or b"")
        if events:
            break
        await asyncio.sleep(0.02)
    (added, complete) = events
    assert added[0] == OBJECT_ADDED and complete == (CAPTURE_COMPLETE, ())
    (new,) = set(body.store.root.rglob("*.JPG")) - files
    info = ObjectInfo.decode(await wire.ok(0x1008, added[1][0]) or b"")
    assert info.filename == new.name and info.storage_id == 0x0001_0001
    assert body.held_in_sdram == 0
    # SDRAM now: the picture stays off the card
    await wire.ok(0x1016, RECORDING_MEDIA, data=b"\x01")
    await wire.ok(0x90C0, NO_AF)
    await wait_for(lambda: body.held_in_sdram == 1)
    assert set(body.store.root.rglob("*.JPG")) - files == {new}


async def test_partial_object_ex_reads_beyond_4_gib(wire: Wire, vcam: VirtualCamera) -> None:
    store = nikon(vcam).store
    path = store.root / "DCIM" / "100PTPIP" / "HUGE.MOV"
    marker = b"past four gibibytes"
    with path.open("wb") as fp:  # sparse: 4 GiB of holes and a marker
        fp.truncate(1 << 32)
        fp.seek(1 << 32)
        fp.write(marker)
    await wire.ok(0x1007, 0xFFFF_FFFF, 0, 0)
    handle = store.lookup("DCIM/100PTPIP/HUGE.MOV")
    info = ObjectInfo.decode(await wire.ok(0x1008, handle) or b"")
    assert info.compressed_size == 0xFFFF_FFFF  # too big for the u32: 0x9421 says
    assert decode_object_size(await wire.ok(0x9421, handle) or b"") == (1 << 32) + len(marker)
    answer = await wire.request(0x9431, *partial_ex_params(handle, (1 << 32) - 4, 1 << 20))
    assert answer.code == OK and answer.data == bytes(4) + marker
    assert answer.params == (4 + len(marker), 0)  # bytes sent: low, high
    assert answer.packets == [(END_DATA, 12 + 4 + len(marker))]
    assert (await wire.request(0x9431, handle, 0)).code == 0x201D  # five parameters or none


# -- live view --------------------------------------------------------------------------------


async def test_live_view_busy_first_then_frames_with_the_z_header(
    wire: Wire, vcam: VirtualCamera
) -> None:
    assert (await wire.request(0x9203)).code == NOT_LIVE_VIEW
    await wire.ok(0x9201)
    assert (await wire.request(0x9203)).code == BUSY  # the first image is not there yet
    assert struct.unpack("<B", await wire.ok(0x1015, LV_STATUS) or b"") == (1,)
    answer = await wire.request(0x9203)
    assert answer.code == OK and answer.data is not None
    assert answer.packets == [(END_DATA, 12 + len(answer.data))]
    header, jpeg, info = split_liveview(answer.data, LiveViewFamily.Z)
    assert len(header) == 384 and info.fields is not None
    assert info.fields.liveview_size == (640, 480)
    assert info.fields.image_size == (6048, 4024)
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    await wire.ok(0x1016, 0xD1AC, data=b"\x01")  # QVGA
    _, _, small = split_liveview(await wire.ok(0x9203) or b"", LiveViewFamily.Z)
    assert small.fields is not None and small.fields.liveview_size == (320, 240)
    await wire.ok(0x9202)
    assert (await wire.request(0x9203)).code == NOT_LIVE_VIEW
    assert struct.unpack("<B", await wire.ok(0x1015, LV_STATUS) or b"") == (0,)
    await wire.ok(0x9202)  # off already: still OK (libgphoto2 sends it at every exit)


@pytest.mark.parametrize(
    ("model", "size"), [("Z 6_2", 384), ("D750", 384), ("D90", 128), ("D3X", 64)]
)
async def test_live_view_header_size_follows_the_model_family(
    tmp_path: Path, model: str, size: int
) -> None:
    cam = await serve(NikonCamera(tmp_path / "card", model=model, liveview_busy_calls=0))
    try:
        w = await Wire.open(cam.port)
        await w.init()
        await w.ok(0x1002, 1)
        await w.ok(0x9201)
        data = await w.ok(0x9203) or b""
        family = family_for_model(model)
        assert family is not None and family.header_size == size
        _, jpeg, info = split_liveview(data)  # by the SOI, no family given
        assert info.header_size == size and data[size : size + 3] == b"\xff\xd8\xff"
        assert split_liveview(data, family)[1] == jpeg
        w.close()
    finally:
        await cam.stop()


def test_the_live_view_page_shows_what_the_body_has(tmp_path: Path) -> None:
    page = overlay_of(Vendor.NIKON)
    assert page is not overlay_of(Vendor.GENERIC) and not page.one_read
    body = NikonCamera(tmp_path / "card")
    for slot in (*page.slots, *page.controls):
        assert slot.code in body.props, hex(slot.code)
    for slot in page.controls:
        desc = body.props.describe(slot.code)
        assert desc.writable and isinstance(desc.form, PropEnum)
        for value in desc.form.values:  # every choice has words, and they read back
            text = format_value(slot.code, value, Vendor.NIKON, datatype=desc.datatype)
            assert parse_value(slot.code, text, Vendor.NIKON, desc) == value, (hex(slot.code), text)


# -- pairing, transfer list, idle drop --------------------------------------------------------


async def test_pairing_refuses_unknown_guids_with_init_fail_1_until_confirmed(
    tmp_path: Path,
) -> None:
    body = NikonCamera(tmp_path / "card", pairing=True)
    asked: list[str] = []
    body.on_pairing_request = asked.append
    cam = await serve(body)
    try:
        w = await Wire.open(cam.port)
        assert await w.init(GUID_A, "laptop") == Z5_INIT_FAIL
        assert await w.closed()
        assert asked == ["laptop"] and body.awaiting == (GUID_A, "laptop")
        w = await Wire.open(cam.port)  # asked again: the same prompt, the same answer
        assert await w.init(GUID_A, "laptop") == Z5_INIT_FAIL and asked == ["laptop"]
        body.confirm_pairing("laptop")
        w = await Wire.open(cam.port)
        assert (await w.init(GUID_A, "laptop"))[4:8] == b"\x02\0\0\0"
        w.close()
        await wait_for(lambda: cam.session is None)
        other = await Wire.open(cam.port)  # another GUID, even with the same name
        assert await other.init(GUID_B, "laptop") == Z5_INIT_FAIL
        other.close()
    finally:
        await cam.stop()


async def test_pairing_confirms_itself_after_the_delay(tmp_path: Path) -> None:
    cam = await serve(NikonCamera(tmp_path / "card", pairing=True, pairing_delay=0.1))
    try:
        w = await Wire.open(cam.port)
        assert await w.init(GUID_A) == Z5_INIT_FAIL
        await wait_for(lambda: GUID_A in nikon(cam).paired)
        w = await Wire.open(cam.port)
        assert (await w.init(GUID_A))[4:8] == b"\x02\0\0\0"
        w.close()
    finally:
        await cam.stop()


async def test_transfer_list_denies_unmarked_pictures_but_not_partial_object_ex(
    tmp_path: Path,
) -> None:
    body = NikonCamera(tmp_path / "card", transfer_list=True, busy_time=0.0)
    cam = await serve(body)
    try:
        w = await Wire.open(cam.port)
        await w.init()
        await w.ok(0x1002, 1)
        handles = u32_array(await w.ok(0x1007, 0xFFFF_FFFF, 0, 0) or b"")
        folder, picture = body.store.lookup("DCIM"), body.store.lookup("DCIM/100PTPIP/IMG_0001.JPG")
        assert {folder, picture} <= set(handles)
        assert ObjectInfo.decode(await w.ok(0x1008, folder) or b"").is_folder  # folders: fine
        for request in ((0x1008, picture), (0x1009, picture), (0x101B, picture, 0, 100)):
            assert (await w.request(*request)).code == ACCESS_DENIED
        whole = (body.store.root / "DCIM" / "100PTPIP" / "IMG_0001.JPG").read_bytes()
        answer = await w.request(0x9431, *partial_ex_params(picture, 0, 1 << 20))
        assert answer.code == OK and answer.data == whole  # libgphoto2 #976
        assert decode_object_size(await w.ok(0x9421, picture) or b"") == len(whole)
        body.mark_for_transfer(picture)
        assert await w.ok(0x1009, picture) == whole
        await w.ok(0x9207, NO_AF, 0)  # taken while connected: marked
        await wait_for(lambda: len(body.marked) == 2)
        (new,) = body.marked - {picture}
        assert ObjectInfo.decode(await w.ok(0x1008, new) or b"").filename.endswith(".JPG")
        w.close()
    finally:
        await cam.stop()


async def test_a_silent_client_is_dropped_after_the_idle_time(tmp_path: Path) -> None:
    cam = await serve(NikonCamera(tmp_path / "card", idle_drop=0.6))
    try:
        w = await Wire.open(cam.port)
        ack = await w.init()
        events = await event_wire(cam, ack)
        await w.ok(0x1002, 1)
        loop = asyncio.get_running_loop()
        for _ in range(6):  # traffic every 0.2 s keeps it: 1.2 s in all
            await asyncio.sleep(0.2)
            await w.ok(0x90C8)
        start = loop.time()
        assert await w.closed(WAIT) and await events.closed(WAIT)
        assert 0.4 < loop.time() - start < 3.0
        assert cam.session is None
    finally:
        await cam.stop()


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def simulate(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ptpip.cli.main", "simulate", "-t", "nikon", "-p", "0",
         "--transfer-list", "--idle-drop", "5", "--storage", str(tmp_path / "card")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(WAIT)


async def test_simulate_nikon_prints_its_line_and_serves_a_nikon(
    simulate: subprocess.Popen[str],
) -> None:
    assert simulate.stdout is not None
    loop = asyncio.get_running_loop()
    line = await asyncio.wait_for(loop.run_in_executor(None, simulate.stdout.readline), 30)
    assert line.startswith("listening on 127.0.0.1:")
    port = int(line.rsplit(":", 1)[1])
    w = await Wire.open(port)
    await w.init()
    await w.ok(0x1002, 1)
    info = DeviceInfo.decode(await w.ok(0x1001) or b"")
    assert (info.manufacturer, info.model) == ("Nikon Corporation", "Z 6_2")
    handles = u32_array(await w.ok(0x1007, 0xFFFF_FFFF, 0, 0) or b"")
    codes = {(await w.request(0x1008, handle)).code for handle in handles}
    assert codes == {OK, ACCESS_DENIED}  # --transfer-list: folders yes, unmarked pictures no
    w.close()


def test_simulate_nikon_options_need_t_nikon(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ptpip.cli.main", "simulate", "-t", "canon", "-p", "0",
         "--idle-drop", "3", "--storage", str(tmp_path / "card")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "--idle-drop needs -t nikon" in result.stderr


def test_simulate_pairing_refuses_until_enter_is_pressed(tmp_path: Path) -> None:
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "ptpip.cli.main", "simulate", "-t", "nikon", "-p", "0", "--pairing",
         "--storage", str(tmp_path / "card")],
        encoding="utf-8",
        timeout=WAIT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        child.expect(r"listening on 127\.0\.0\.1:(\d+)")
        match = child.match
        assert isinstance(match, re.Match)
        port = int(match.group(1))
        name = "laptop".encode("utf-16-le") + b"\0\0"
        init = GUID_A + name + struct.pack("<I", 0x0001_0000)
        init = struct.pack("<II", 8 + len(init), 1) + init
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sock.sendall(init)
            assert sock.recv(12) == Z5_INIT_FAIL
        child.expect("'laptop' asks to connect; press Enter to accept \\(it must then connect")
        child.sendline("")
        for _ in range(50):  # the confirmation comes from the prompt's thread: 50 × 0.1 s
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
                sock.sendall(init)
                answer = sock.recv(12)
            if answer[4:8] == b"\x02\0\0\0":
                break
            assert answer == Z5_INIT_FAIL
            time.sleep(0.1)
        assert answer[4:8] == b"\x02\0\0\0"  # registered: the Init ack
    finally:
        child.kill(signal.SIGINT)
        child.expect(pexpect.EOF)
        child.close()
