"""The Canon client against a scripted EOS speaking seed 002's bytes and the real GetEvent dump.

The script answers with literal bytes (seed 002_6818a572acb994fd.txt, vectors/canon), not
with ptpip's codecs, so it checks the client against the camera rather than against itself.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ptpip.client.camera import open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import InitFailError
from tests.vectors import VECTORS

h = bytes.fromhex
GUID = h("4dc479e1c10e46279ee11b2abce2da29")
SEED_INIT = h(
    "2a000000 01000000 4dc479e1c10e46279ee11b2abce2da29"
    "690050006800 6f006e006500 0000 00000100".replace(" ", "")
)
SEED_ACK = h(
    "28000000 02000000 01000000 0000000000000000010060128b7cc240370030004400 0000 00000100".replace(
        " ", ""
    )
)
SEED_EVENT_INIT = h("0c000000 03000000 01000000".replace(" ", ""))
SEED_EVENT_ACK = h("08000000 04000000".replace(" ", ""))
SEED_OPEN = h("16000000 06000000 01000000 0210 00000000 01000000".replace(" ", ""))
SEED_OPEN_OK = h("0e000000 07000000 0120 00000000".replace(" ", ""))
SEED_REMOTE = h("16000000 06000000 01000000 1491 01000000 01000000".replace(" ", ""))
SEED_EVENT_MODE = h("16000000 06000000 01000000 1591 02000000 01000000".replace(" ", ""))
EVENTS = (VECTORS / "canon" / "eos_events.bin").read_bytes()[:5824]
TERMINATOR = h("0800000000000000")


def ok(tid: int, *params: int) -> bytes:
    return struct.pack(f"<IIHI{len(params)}I", 14 + 4 * len(params), 7, 0x2001, tid, *params)


def data_in(tid: int, payload: bytes) -> bytes:
    start = struct.pack("<IIIQ", 20, 9, tid, len(payload))
    return start + struct.pack("<III", 12 + len(payload), 12, tid) + payload


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readexactly(8), 5)
    length = struct.unpack_from("<I", head)[0]
    return head + await asyncio.wait_for(reader.readexactly(length - 8), 5)


class FakeEos:
    """Command and event on one port, told apart by the first packet."""

    def __init__(
        self, after: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ) -> None:
        self.after = after
        self.requests: list[bytes] = []
        self.done = asyncio.Event()
        #: what the next GetEvent returns
        self.pending = TERMINATOR

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await read_packet(reader)
        if first[4:8] == b"\x03\0\0\0":
            assert first == SEED_EVENT_INIT
            writer.write(SEED_EVENT_ACK)
            await self.done.wait()
            return
        assert first == SEED_INIT  # byte for byte what the 70D article shows
        writer.write(SEED_ACK)
        assert await read_packet(reader) == SEED_OPEN
        writer.write(SEED_OPEN_OK)
        assert await read_packet(reader) == SEED_REMOTE
        writer.write(ok(1))
        assert await read_packet(reader) == SEED_EVENT_MODE
        writer.write(ok(2))
        # The first GetEvent returns the full dump; the next ones only the terminator.
        get_event = await read_packet(reader)
        assert get_event[12:14] == b"\x16\x91"
        tid = struct.unpack_from("<I", get_event, 14)[0]
        writer.write(data_in(tid, EVENTS) + ok(tid))
        await self.after(reader, writer)

    async def serve_getevents(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while not self.done.is_set():
            try:
                packet = await read_packet(reader)
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            self.requests.append(packet)
            code, tid = struct.unpack_from("<HI", packet, 12)
            if code == 0x9116:
                writer.write(data_in(tid, TERMINATOR) + ok(tid))
            else:
                writer.write(ok(tid))


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    return IdentityStore(tmp_path / "identities.json")


async def test_seed_handshake_and_the_real_event_dump(store: IdentityStore) -> None:
    async def after(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await fake.serve_getevents(reader, writer)

    fake = FakeEos(after)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    camera = await open_camera(
        "127.0.0.1", port, vendor="canon", guid=GUID, name="iPhone", identity_store=store, timeout=5
    )
    try:
        assert camera.connection.ack is not None
        assert camera.connection.ack.friendly_name == "70D"
        # Values come from the GetEvent cache: the vector's ISO 0x70 and shutter 0x2D.
        assert await camera.get_property(0xD103) == 0x70
        assert await camera.get_property(0xD102) == 0x2D
        shutter = await camera.describe(0xD102)
        assert shutter.form is not None
        assert len(shutter.form.values) == 53  # type: ignore[union-attr]
        iso = await camera.describe(0xD103)
        assert iso.form.values == (0, 0x48, 0x50, 0x58, 0x60, 0x68, 0x70, 0x78, 0x80)  # type: ignore[union-attr]
        assert await camera.get_property(0xD11C) == 2  # capture destination: card
        assert not (await camera.describe(0xD11B)).writable  # available shots
    finally:
        await camera.close()
        fake.done.set()
        server.close()
    # teardown in reverse: SetEventMode(0), SetRemoteMode(0), CloseSession
    tail = [struct.unpack_from("<H", p, 12)[0] for p in fake.requests if p[12:14] != b"\x16\x91"]
    assert tail[-3:] == [0x9115, 0x9114, 0x1003]


async def test_set_property_uses_set_prop_value_ex(store: IdentityStore) -> None:
    seen: list[bytes] = []

    async def after(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not fake.done.is_set():
            try:
                packet = await read_packet(reader)
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            code, tid = struct.unpack_from("<HI", packet, 12)
            if code == 0x9110:
                await read_packet(reader)  # Start Data
                end = await read_packet(reader)
                seen.append(end[12:])
                writer.write(ok(tid))
                fake.pending = struct.pack("<IIII", 16, 0xC189, 0xD103, 0x50) + TERMINATOR
            elif code == 0x9116:
                payload, fake.pending = fake.pending, TERMINATOR
                writer.write(data_in(tid, payload) + ok(tid))
            else:
                writer.write(ok(tid))

    fake = FakeEos(after)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    camera = await open_camera(
        "127.0.0.1", port, vendor="canon", guid=GUID, name="iPhone", identity_store=store, timeout=5
    )
    try:
        await camera.set_property(0xD103, 0x50)  # ISO 200
        # vendor-canon.md §9: u32 size 12, u32 prop, u32 value
        assert seen == [h("0c000000 03d10000 50000000".replace(" ", ""))]
        assert await camera.get_property(0xD103) == 0x50
    finally:
        await camera.close()
        fake.done.set()
        server.close()


async def test_refused_client_is_told_to_pair_again(store: IdentityStore) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        writer.write(h("0c000000 05000000 01000000".replace(" ", "")))

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(InitFailError) as err:
            await open_camera("127.0.0.1", port, vendor="canon", identity_store=store, timeout=5)
        assert err.value.reason == 1
        assert "pair again" in str(err.value)
    finally:
        server.close()
