"""The Leica client against a scripted body that answers with seed 000's bytes.

The script replies with the seed's responder dumps byte for byte (only the TID patched in
where the seed shows another transaction), not with ptpip's codecs, and records what the
client sends, which must be the seed's initiator dumps.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ptpip.client.camera import Camera, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.ptp.codes import DataType
from ptpip.ptp.datasets import DevicePropDesc, PropEnum
from ptpip.vendors.leica.profile import (
    FOTOS_GUID,
    FOTOS_NAME,
    LeicaProfile,
)
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
STILL_CAPTURE_MODE = 0x5013
SLOW_OP = 0x9003  # GetLensParameter: the script sends its data slowly
WAIT = 5.0


def test_the_seed_parses_into_eleven_dumps() -> None:
    assert [len(d) for d in SEED] == [34, 34, 12, 8, 22, 34, 22, 34, 18, 34, 26]


def with_tid(packet: bytes, tid: int, offset: int) -> bytes:
    return packet[:offset] + struct.pack("<I", tid) + packet[offset + 4 :]


def ok5(tid: int) -> bytes:
    """OK as Leica sends it: always five parameters (seed 000)."""
    return with_tid(OPEN_SESSION_OK, tid, 10)


def data_in(tid: int, payload: bytes) -> bytes:
    start = struct.pack("<IIIQ", 20, 9, tid, len(payload))
    return start + struct.pack("<III", 12 + len(payload), 12, tid) + payload


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(8)
    length = struct.unpack_from("<I", head)[0]
    return head + await reader.readexactly(length - 8)


def code_tid(packet: bytes) -> tuple[int, int]:
    code, tid = struct.unpack_from("<HI", packet, 12)
    return code, tid


class FakeLeica:
    """One port for both connections, told apart by the first packet (seed 000)."""

    def __init__(self) -> None:
        #: what the initiator sent, in order, per connection
        self.cmd: list[bytes] = []
        self.evt: list[bytes] = []
        #: requests that arrived while another transaction was still running
        self.interleaved: list[bytes] = []
        self.value = 1
        self.slow_seconds = 0.6
        self.event_writer: asyncio.StreamWriter | None = None
        self.event_ready = asyncio.Event()
        self._busy = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            first = await read_packet(reader)
            if first[4:8] == b"\x03\0\0\0":
                self.evt.append(first)
                writer.write(EVENT_ACK)
                self.event_writer = writer
                self.event_ready.set()
                await reader.read()  # until the client closes it
                return
            self.cmd.append(first)
            writer.write(ACK)
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                while True:
                    packet = await read_packet(reader)
                    if self._busy and packet[4:8] == b"\x06\0\0\0":
                        self.interleaved.append(packet)
                    queue.put_nowait(packet)
            except (asyncio.IncompleteReadError, ConnectionError):
                queue.put_nowait(None)

        task = asyncio.create_task(pump())
        try:
            while (packet := await queue.get()) is not None:
                self.cmd.append(packet)
                self._busy = True
                try:
                    await self._answer(packet, queue, writer)
                finally:
                    self._busy = False
        finally:
            task.cancel()

    async def _answer(
        self, packet: bytes, queue: asyncio.Queue[bytes | None], writer: asyncio.StreamWriter
    ) -> None:
        code, tid = code_tid(packet)
        if code == 0x1002:
            writer.write(with_tid(OPEN_SESSION_OK, tid, 10))
        elif code == 0x9005:
            writer.write(with_tid(OPEN_LE_SESSION_OK, tid, 10))
        elif code == 0x901D:
            writer.write(with_tid(KEEP_ACTIVE_OK, tid, 10))
        elif code == 0x1003:
            writer.write(OPEN_SESSION_OK)  # real bodies answer CloseSession with TID 0
        elif code == 0x1014:
            desc = DevicePropDesc(
                STILL_CAPTURE_MODE, DataType.UINT16, 1, 1, self.value, PropEnum((1, 2, 3))
            )
            writer.write(data_in(tid, desc.encode()) + ok5(tid))
        elif code == 0x1015:
            writer.write(data_in(tid, struct.pack("<H", self.value)) + ok5(tid))
        elif code == SLOW_OP:
            # a transfer that takes a while: Start Data, half, pause, the rest, pause, response
            payload = bytes(range(256)) * 64
            writer.write(struct.pack("<IIIQ", 20, 9, tid, len(payload)))
            writer.write(struct.pack("<III", 12 + 8192, 10, tid) + payload[:8192])
            await asyncio.sleep(self.slow_seconds / 2)
            writer.write(struct.pack("<III", 12 + len(payload) - 8192, 12, tid) + payload[8192:])
            await asyncio.sleep(self.slow_seconds / 2)
            writer.write(ok5(tid))
        else:
            writer.write(ok5(tid))

    async def send_prop_changed(self) -> None:
        await asyncio.wait_for(self.event_ready.wait(), WAIT)
        assert self.event_writer is not None
        self.event_writer.write(PROP_CHANGED)

    def codes(self) -> list[int]:
        return [code_tid(p)[0] for p in self.cmd[1:]]


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    return IdentityStore(tmp_path / "identities.json")


@contextlib.asynccontextmanager
async def leica(
    fake: FakeLeica, store: IdentityStore, profile: LeicaProfile, fotos: bool = True
) -> AsyncIterator[Camera]:
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    camera = await open_camera(
        "127.0.0.1",
        port,
        vendor=profile,
        guid=FOTOS_GUID if fotos else None,
        name=FOTOS_NAME if fotos else None,
        identity_store=store,
        timeout=WAIT,
    )
    try:
        yield camera
    finally:
        await camera.close()
        server.close()


async def wait_for(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_handshake_and_session_are_the_seeds_bytes(store: IdentityStore) -> None:
    fake = FakeLeica()
    profile = LeicaProfile(heartbeat_interval=0.05)
    async with leica(fake, store, profile) as camera:
        await wait_for(lambda: 0x901D in fake.codes())
        assert camera.connection.ack is not None
        assert camera.connection.ack.friendly_name == ""
        assert camera.connection.ack.protocol_version == 0
        assert camera.connection.session_id == 0x412
    assert fake.cmd[0] == INIT  # "OLS" with no NUL, zero GUID
    assert fake.evt == [EVENT_INIT]
    assert fake.cmd[1] == OPEN_SESSION  # TID 0, SessionID 0x412
    assert fake.cmd[2] == OPEN_LE_SESSION  # TID 1, 0xFF55
    heartbeat = fake.cmd[3]
    _, tid = code_tid(heartbeat)
    assert tid == 2
    assert with_tid(heartbeat, 0x18, 14) == KEEP_ACTIVE  # the seed's is TID 0x18
    assert fake.codes()[-2:] == [0x9006, 0x1003]  # LECloseSession, then CloseSession


async def test_persisted_identity_and_cipa_name_on_request(store: IdentityStore) -> None:
    fake = FakeLeica()
    profile = LeicaProfile(heartbeat_interval=None, name_terminated=True, session_id=7)
    async with leica(fake, store, profile, fotos=False) as camera:
        identity = camera.connection.identity
    init = fake.cmd[0]
    name = identity.name.encode("utf-16-le") + b"\0\0"
    assert init[8:24] == identity.guid != FOTOS_GUID
    assert init[24:-4] == name  # with its NUL this time
    assert init[-4:] == b"\x00\x00\x01\x00"
    assert struct.unpack_from("<I", fake.cmd[1], 18)[0] == 7
    assert 0x901D not in fake.codes()


async def test_heartbeat_never_interrupts_a_transaction(store: IdentityStore) -> None:
    fake = FakeLeica()
    profile = LeicaProfile(heartbeat_interval=0.1)
    async with leica(fake, store, profile) as camera:
        await asyncio.sleep(0.5)  # idle: heartbeats flow
        before = fake.codes().count(0x901D)
        assert before >= 3
        slow = await camera.opreq(SLOW_OP)  # 0.6 s, during which heartbeats fall due
        assert len(slow.data) == 16384
        assert slow.params == (0, 0, 0, 0, 0)  # Leica's padding reaches the caller as is
        await wait_for(lambda: fake.codes().count(0x901D) > before)
    assert fake.interleaved == []
    codes = fake.codes()
    slow_at = codes.index(SLOW_OP)
    assert codes[slow_at + 1] == 0x901D  # the overdue heartbeat goes right after it


async def test_prop_changed_reaches_events_and_the_cache(store: IdentityStore) -> None:
    fake = FakeLeica()
    async with leica(fake, store, LeicaProfile(heartbeat_interval=None)) as camera:
        profile = camera.profile
        assert isinstance(profile, LeicaProfile)
        assert await camera.get_property(STILL_CAPTURE_MODE) == 1
        assert profile.cached_value(STILL_CAPTURE_MODE) == 1
        with camera.events() as events:
            fake.value = 2  # the user turned the drive dial
            await fake.send_prop_changed()
            event = await events.get(WAIT)
        assert event.code == 0x4006
        assert event.params == (STILL_CAPTURE_MODE, 0, 0)
        assert event.transaction_id is None  # 0xFFFFFFFF: unsolicited
        await wait_for(lambda: profile.cached_value(STILL_CAPTURE_MODE) == 2)
        assert (await camera.describe(STILL_CAPTURE_MODE, refresh=False)).current == 2


async def test_an_unknown_property_change_costs_no_transaction(store: IdentityStore) -> None:
    fake = FakeLeica()
    async with leica(fake, store, LeicaProfile(heartbeat_interval=None)) as camera:
        with camera.events(0x4006) as events:
            await fake.send_prop_changed()
            await events.get(WAIT)
        await asyncio.sleep(0.1)
        assert fake.codes() == [0x1002, 0x9005]


async def test_close_session_answered_with_tid_0_is_accepted(store: IdentityStore) -> None:
    fake = FakeLeica()
    strays: list[str] = []
    async with leica(fake, store, LeicaProfile(heartbeat_interval=None)) as camera:
        camera.connection.on_stray = strays.append
        await camera.opreq(0x9033, (0xFFFF,))
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # no wait for a response with "the right" TID
    assert strays == []
    closing = fake.cmd[-2:]
    assert [code_tid(p) for p in closing] == [(0x9006, 3), (0x1003, 4)]
