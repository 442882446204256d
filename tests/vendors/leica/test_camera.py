"""The virtual Leica on the wire: seed 000's initiator packets in, its responder bytes out.

No Leica client here: requests are the seed's literal dumps or built with ptpip's packet
codecs, and answers are compared as bytes (seed) or parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ptpip.camera.server import Faults, VirtualCamera
from ptpip.ip.packets import EndData, OperationRequest, StartData
from ptpip.ptp.codes import DataPhase
from ptpip.ptp.datasets import DeviceInfo
from ptpip.ptp.values import Reader
from ptpip.vendors.leica.camera import LeicaCamera
from ptpip.vendors.leica.codec import HEADER_SIZE, decode_stream_frame
from ptpip.vendors.leica.stream_info import MJPG, StreamInfo
from tests.vectors import seed_dumps

SEED = seed_dumps("000_fe5be2a1d32e6638.txt")
(
    INIT,
    ACK,
    EVENT_INIT,
    EVENT_ACK,
    OPEN_SESSION,
    OPEN_SESSION_OK,
    OPEN_LE_SESSION,
    OPEN_LE_SESSION_OK,
    KEEP_ACTIVE,
    KEEP_ACTIVE_OK,
    PROP_CHANGED,
) = SEED
WAIT = 5.0
OK = 0x2001
STILL_CAPTURE_MODE = 0x5013


async def read_packet(reader: asyncio.StreamReader, timeout: float = WAIT) -> bytes:
    async with asyncio.timeout(timeout):
        head = await reader.readexactly(8)
        length = struct.unpack_from("<I", head)[0]
        return head + await reader.readexactly(length - 8)


@dataclass
class Answer:
    packet: bytes
    data: bytes

    @property
    def code(self) -> int:
        return int(struct.unpack_from("<H", self.packet, 8)[0])

    @property
    def tid(self) -> int:
        return int(struct.unpack_from("<I", self.packet, 10)[0])


class Wire:
    """A raw initiator: the command and event connections as streams."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.tid = 0x20

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(INIT)
        assert await read_packet(self.reader) == ACK
        self.ereader, self.ewriter = await asyncio.open_connection("127.0.0.1", self.port)
        self.ewriter.write(EVENT_INIT)
        assert await read_packet(self.ereader) == EVENT_ACK

    async def exchange(self, request: bytes) -> bytes:
        self.writer.write(request)
        return await read_packet(self.reader)

    async def open(self) -> None:
        await self.connect()
        assert await self.exchange(OPEN_SESSION) == OPEN_SESSION_OK
        assert await self.exchange(OPEN_LE_SESSION) == OPEN_LE_SESSION_OK

    async def transact(
        self, code: int, params: tuple[int, ...] = (), data: bytes | None = None
    ) -> Answer:
        self.tid += 1
        tid = self.tid
        if data is None:
            self.writer.write(OperationRequest(code, tid, params).encode())
        else:
            self.writer.write(
                OperationRequest(code, tid, params, DataPhase.DATA_OUT).encode()
                + StartData(tid, len(data)).encode()
                + EndData(tid, data).encode()
            )
        received = b""
        while True:
            packet = await read_packet(self.reader)
            kind = struct.unpack_from("<I", packet, 4)[0]
            if kind in (10, 12):
                received += packet[12:]
            elif kind == 7:
                return Answer(packet, received)

    async def event(self, timeout: float = WAIT) -> bytes:
        return await read_packet(self.ereader, timeout)

    def close(self) -> None:
        for writer in (self.writer, self.ewriter):
            writer.close()


@contextlib.asynccontextmanager
async def virtual_leica(
    card: Path, faults: Faults | None = None, **options: Any
) -> AsyncIterator[tuple[VirtualCamera, LeicaCamera, Wire]]:
    personality = LeicaCamera(card, **options)
    # seed 000's ConnectionNumber 1 (the camera's own numbers are random)
    camera = VirtualCamera(personality, port=0, faults=faults, connection_numbers=lambda: 1)
    await camera.start()
    wire = Wire(camera.port)
    try:
        yield camera, personality, wire
    finally:
        with contextlib.suppress(Exception):
            wire.close()
        await camera.stop()


async def test_answers_the_seed_with_the_seeds_bytes(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path) as (_, leica, wire):
        await wire.connect()  # Init Command Ack and Init Event Ack: the seed's, byte for byte
        assert await wire.exchange(OPEN_SESSION) == OPEN_SESSION_OK
        assert await wire.exchange(OPEN_LE_SESSION) == OPEN_LE_SESSION_OK
        assert await wire.exchange(KEEP_ACTIVE) == KEEP_ACTIVE_OK  # TID 0x18 as sent
        assert leica.heartbeats == 1


async def test_a_property_change_reads_like_the_seeds_event(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path) as (_, leica, wire):
        await wire.open()
        answer = await wire.transact(0x1016, (STILL_CAPTURE_MODE,), b"\x02\x00")
        assert answer.code == OK
        assert len(answer.packet) == 34  # five parameters, always
        assert await wire.event() == PROP_CHANGED
        # the same when the user turns the dial on the camera
        assert leica.change_property(STILL_CAPTURE_MODE, 3)
        assert await wire.event() == PROP_CHANGED


async def test_responses_and_events_are_padded(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path) as (_, leica, wire):
        await wire.open()
        bad = await wire.transact(0x1015, (0xD999,))  # DevicePropNotSupported
        assert (bad.code, len(bad.packet)) == (0x200A, 34)
        # 0x9004 (0, 0) releases: ObjectAdded and CaptureComplete, unsolicited, 3 params
        assert (await wire.transact(0x9004, (0, 0))).code == OK
        added, complete = await wire.event(), await wire.event()
        handle = leica.store.handles(0xFFFF_FFFF, 0, 0)[-1]
        assert added == struct.pack("<IIHI3I", 26, 8, 0x4002, 0xFFFF_FFFF, handle, 0, 0)
        assert complete == struct.pack("<IIHI3I", 26, 8, 0x400D, 0xFFFF_FFFF, 0, 0, 0)
        assert leica.capture_count == 1


async def test_close_session_is_answered_with_tid_0(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path) as (_, _leica, wire):
        await wire.open()
        assert (await wire.transact(0x9006)).tid == wire.tid  # LECloseSession: as usual
        answer = await wire.transact(0x1003)
        assert answer.packet == OPEN_SESSION_OK  # OK, TID 0, five zeros


async def test_close_session_tid_can_be_the_standard_one(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path, close_session_tid_zero=False) as (_, _leica, wire):
        await wire.open()
        answer = await wire.transact(0x1003)
        assert (answer.code, answer.tid) == (OK, wire.tid)


async def test_device_info_lists_more_after_open_le_session(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path, model="LEICA M11") as (_, _leica, wire):
        await wire.connect()
        assert await wire.exchange(OPEN_SESSION) == OPEN_SESSION_OK
        before = DeviceInfo.decode((await wire.transact(0x1001)).data)
        assert (before.manufacturer, before.model) == ("Leica Camera AG", "LEICA M11")
        assert 0x9005 in before.operations_supported
        assert 0x9025 not in before.operations_supported
        assert (await wire.transact(0x901D)).code == 0x2005  # not yet
        assert await wire.exchange(OPEN_LE_SESSION) == OPEN_LE_SESSION_OK
        after = DeviceInfo.decode((await wire.transact(0x1001)).data)
        extra = set(after.operations_supported) - set(before.operations_supported)
        assert extra == {0x9003, 0x9004, 0x9006, 0x901D, 0x9025, 0x9033}
        assert {0x5021, 0x5022, 0xD69C} <= set(after.device_properties_supported)


async def test_watchdog_closes_a_session_without_heartbeats(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path, heartbeat_timeout=0.4) as (camera, leica, wire):
        await wire.open()
        for _ in range(6):  # 1.2 s kept alive by heartbeats
            await asyncio.sleep(0.2)
            assert (await wire.transact(0x901D)).code == OK
        assert leica.sessions_timed_out == 0
        # then silence: the session and its connections close
        assert await wire.reader.read() == b""
        assert await wire.ereader.read() == b""
        assert leica.sessions_timed_out == 1
        assert camera.session is None


async def test_time_spent_serving_requests_does_not_count(tmp_path: Path) -> None:
    faults = Faults(delay=0.3)  # every answer takes 0.3 s, longer than the timeout
    async with virtual_leica(tmp_path, faults, heartbeat_timeout=0.2) as (_, leica, wire):
        await wire.open()
        for _ in range(3):
            assert (await wire.transact(0x1001)).code == OK
        assert leica.sessions_timed_out == 0
        assert await wire.reader.read() == b""  # quiet now: closed
        assert leica.sessions_timed_out == 1


async def test_no_watchdog_before_le_session_or_after_le_close(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path, heartbeat_timeout=0.2) as (_, leica, wire):
        await wire.connect()
        assert await wire.exchange(OPEN_SESSION) == OPEN_SESSION_OK
        await asyncio.sleep(0.5)
        assert await wire.exchange(OPEN_LE_SESSION) == OPEN_LE_SESSION_OK
        assert (await wire.transact(0x9006)).code == OK
        await asyncio.sleep(0.5)
        assert (await wire.transact(0x1001)).code == OK
        assert leica.sessions_timed_out == 0


async def test_watchdog_can_be_off(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path, heartbeat_timeout=None) as (_, leica, wire):
        await wire.open()
        await asyncio.sleep(0.5)
        assert (await wire.transact(0x1001)).code == OK
        assert leica.sessions_timed_out == 0


async def test_live_view_frames(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path, liveview_fps=50.0) as (_, _leica, wire):
        await wire.open()
        assert (await wire.transact(0x9025)).code == 0x200F  # streams off
        assert (await wire.transact(0x1016, (0x5021,), struct.pack("<I", 1))).code == OK
        info = StreamInfo.decode((await wire.transact(0x1024)).data)
        assert info.frame_max_size == 1 << 20
        video = await wire.transact(0x1015, (0x5022,))
        assert Reader(video.data).pull_u32() == MJPG == 0x47504A4D
        jpegs = []
        for _ in range(3):
            answer = await wire.transact(0x9025)
            assert answer.code == OK
            frame = decode_stream_frame(answer.data)
            offset = frame.header_fields[4]
            assert answer.data[offset : offset + 2] == b"\xff\xd8"
            assert frame.jpeg.endswith(b"\xff\xd9")
            assert [tag for tag, _ in frame.tlvs] == [1, 2, 3, 4, 5, 6, 7]
            assert offset == HEADER_SIZE + sum(8 + len(v) for _, v in frame.tlvs) == 0xB4
            jpegs.append(frame.jpeg)
        assert len(set(jpegs)) == 3  # the picture moves


async def test_unknown_layout_operations_answer_with_data(tmp_path: Path) -> None:
    async with virtual_leica(tmp_path) as (_, _leica, wire):
        await wire.open()
        lens = await wire.transact(0x9003)
        assert lens.code == OK
        assert Reader(lens.data).pull_str().startswith("SUMMILUX")
        looks = await wire.transact(0x9033, (0xFFFF,))
        assert looks.code == OK
        assert Reader(looks.data).pull_u32() == 24  # 6 slots × 4 properties
        assert (await wire.transact(0x900A)).code == 0x2005  # debug: not supported


@pytest.mark.parametrize("name_terminated", [False, True])
async def test_init_names_with_and_without_nul(tmp_path: Path, name_terminated: bool) -> None:
    from ptpip.ip.packets import InitCommandRequest

    request = InitCommandRequest(bytes(16), "OLS", name_terminated=name_terminated).encode()
    assert (request == INIT) is not name_terminated
    async with virtual_leica(tmp_path) as (camera, _leica, _wire):
        reader, writer = await asyncio.open_connection("127.0.0.1", camera.port)
        writer.write(request)
        assert await read_packet(reader) == ACK
        writer.close()
