"""The Fuji client against a scripted camera speaking the bytes of vendor-fuji.md.

The script does not use ptpip's codecs: it answers with literal bytes from the reference
(X-T1 captures, malc0mn's fixtures), so a bug shared by our client and our virtual camera
cannot hide here.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ptpip.client.camera import Camera, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import InitFailError
from tests.client.conftest import WriteLog
from tests.vectors import VECTORS, seed_dumps

GUID = bytes(range(0x10, 0x20))
MAGIC = bytes.fromhex("f2e4538f")
OK = bytes.fromhex("0300 0120")
JPEG = (VECTORS / "fuji" / "lv_stream").read_bytes()[18:]


def ack68() -> bytes:
    """A 68-byte InitCommandAck like the real camera's (libgphoto2 #517): conn 0."""
    name = "X-T1".encode("utf-16-le").ljust(36, b"\0")
    body = struct.pack("<I", 0) + bytes(range(16)) + name + bytes.fromhex("00000100")
    return struct.pack("<II", 8 + len(body), 2) + body


def container(kind: int, code: int, tid: int, payload: bytes = b"") -> bytes:
    return struct.pack("<IHHI", 12 + len(payload), kind, code, tid) + payload


def response(tid: int, code: int = 0x2001) -> bytes:
    return container(3, code, tid)


class Script:
    """The camera's side: reads whole containers from the client, answers from a table."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[bytes] = []

    async def read(self) -> bytes:
        head = await asyncio.wait_for(self.reader.readexactly(4), 5)
        length = struct.unpack("<I", head)[0]
        body = await asyncio.wait_for(self.reader.readexactly(length - 4), 5)
        self.received.append(head + body)
        return head + body

    def send(self, data: bytes) -> None:
        self.writer.write(data)


Handler = Callable[[Script], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    async def run(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await handler(Script(r, w))

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def bring_up(s: Script, events_ready: Callable[[], Awaitable[int]]) -> None:
    """vendor-fuji.md §4.1 / gphoto2-interop.md §10, answered with the X-T1's bytes."""
    init = await s.read()
    assert len(init) == 82 and init[4:8] == b"\x01\0\0\0" and init[8:12] == MAGIC
    assert init[12:28] == GUID
    assert init[28:].decode("utf-16-le").rstrip("\0") == "tester"
    s.send(ack68())
    # OpenSession(1), TID 1
    assert await s.read() == bytes.fromhex("10000000 0100 0210 01000000 01000000".replace(" ", ""))
    s.send(response(1))
    # SetDevicePropValue(0xDF01 = 5 as u16), TID 2: command, then one data container
    assert await s.read() == bytes.fromhex("10000000 0100 1610 02000000 01df0000".replace(" ", ""))
    assert await s.read() == bytes.fromhex("0e000000 0200 1610 02000000 0500".replace(" ", ""))
    s.send(response(2))
    # GetDevicePropValue(0xDF24), TID 3 -> 01 00 02 00 (X-T1)
    assert await s.read() == bytes.fromhex("10000000 0100 1510 03000000 24df0000".replace(" ", ""))
    s.send(bytes.fromhex("10000000 0200 1510 03000000 01000200".replace(" ", "")) + response(3))
    # the value echoed back, TID 4
    assert await s.read() == bytes.fromhex("10000000 0100 1610 04000000 24df0000".replace(" ", ""))
    assert await s.read() == bytes.fromhex("10000000 0200 1610 04000000 01000200".replace(" ", ""))
    s.send(response(4))
    # InitiateOpenCapture(0, 0), TID 5; only now does the event port open
    assert await s.read() == bytes.fromhex(
        "14000000 0100 1c10 05000000 00000000 00000000".replace(" ", "")
    )
    await events_ready()
    s.send(response(5))


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    return IdentityStore(tmp_path / "identities.json")


class FakeFuji:
    """Command and event ports; the event port opens only after InitiateOpenCapture."""

    def __init__(self, after_bring_up: Handler) -> None:
        self.after = after_bring_up
        self.event_scripts: asyncio.Queue[Script] = asyncio.Queue()
        self.event_server: asyncio.Server | None = None
        self.event_port = 0
        self.done = asyncio.Event()

    async def start(self) -> int:
        # Reserve the event port now but refuse connections until 0x101C, like the camera.
        loop = asyncio.get_running_loop()

        async def on_event(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self.event_scripts.put(Script(r, w))
            await self.done.wait()

        self.event_server = await asyncio.start_server(
            on_event, "127.0.0.1", 0, start_serving=False
        )
        self.event_port = self.event_server.sockets[0].getsockname()[1]

        async def command(s: Script) -> None:
            async def open_events() -> int:
                assert self.event_server is not None
                await self.event_server.start_serving()
                return self.event_port

            await bring_up(s, open_events)
            await self.after(s)
            await self.done.wait()

        self.cmd_server, port = await serve(command)
        del loop
        return port

    async def stop(self) -> None:
        self.done.set()
        self.cmd_server.close()
        if self.event_server is not None:
            self.event_server.close()


async def open_fuji(fake: FakeFuji, store: IdentityStore) -> Camera:
    port = await fake.start()
    return await open_camera(
        "127.0.0.1",
        port,
        vendor="fuji",
        event_port=fake.event_port,
        guid=GUID,
        name="tester",
        identity_store=store,
        timeout=5,
    )


async def test_bring_up_sends_the_documented_bytes(store: IdentityStore) -> None:
    async def after(s: Script) -> None:
        # CloseSession at the end, then Fuji's goodbye (fudge, hkr)
        closing = await s.read()
        assert closing[4:8] == bytes.fromhex("01001810")  # TerminateOpenCapture(tid 5)
        assert closing[12:16] == struct.pack("<I", 5)
        s.send(response(struct.unpack_from("<I", closing, 8)[0]))
        close = await s.read()
        assert close[4:8] == bytes.fromhex("01000310")
        s.send(response(struct.unpack_from("<I", close, 8)[0]))
        assert await asyncio.wait_for(s.reader.readexactly(8), 5) == bytes.fromhex(
            "08000000ffffffff"
        )

    fake = FakeFuji(after)
    camera = await open_fuji(fake, store)
    try:
        assert camera.connection.session_id == 1
    finally:
        await camera.close()
        await fake.stop()


async def test_state_and_property_list_from_the_seed_dumps(store: IdentityStore) -> None:
    d902b, _, d212, _ = seed_dumps("004_162113056664525c.txt")[:4]

    async def after(s: Script) -> None:
        req = await s.read()
        assert req[6:8] == b"\x2b\x90"  # 0x902B
        tid = struct.unpack_from("<I", req, 8)[0]
        s.send(container(2, 0x902B, tid, d902b[12:]) + response(tid))
        req = await s.read()
        assert req[6:8] == b"\x15\x10" and req[12:14] == b"\x12\xd2"  # GetDevicePropValue 0xD212
        tid = struct.unpack_from("<I", req, 8)[0]
        s.send(container(2, 0x1015, tid, d212[12:]) + response(tid))
        await fake.done.wait()

    fake = FakeFuji(after)
    camera = await open_fuji(fake, store)
    try:
        descs = await camera.properties()
        assert [d.code for d in descs] == [
            0x5012,
            0x500C,
            0x5005,
            0x5010,
            0xD001,
            0xD02A,
            0xD019,
            0xD17C,
        ]
        state = dict(await camera.state())
        assert state[0xD02A] == 0x80001900
        assert state[0xD17C] == 0x03020404
        assert state[0x5001] == 3
        assert state[0x5010] == 0
    finally:
        camera.connection.abort()
        await fake.stop()


async def test_capture_follows_the_event_sequence(store: IdentityStore) -> None:
    async def after(s: Script) -> None:
        events = await asyncio.wait_for(fake.event_scripts.get(), 5)
        req = await s.read()
        assert req[4:8] == bytes.fromhex("01000e10")  # InitiateCapture
        tid = struct.unpack_from("<I", req, 8)[0]
        s.send(response(tid))
        # an unrelated event first: the client must skip it (malc0mn fails here)
        events.send(bytes.fromhex("1c000000 0400 0640 01000000".replace(" ", "")) + bytes(16))
        events.send(
            bytes.fromhex("1c000000 0400 04c0 01000000".replace(" ", ""))
            + struct.pack("<IIII", tid, tid, 0, 0)
        )
        events.send(
            bytes.fromhex("1c000000 0400 01c0 01000000".replace(" ", ""))
            + struct.pack("<IIII", tid, tid, len(JPEG), 0)
        )
        req = await s.read()
        assert req[4:8] == bytes.fromhex("01002290")  # GetCapturePreview
        ptid = struct.unpack_from("<I", req, 8)[0]
        s.send(container(2, 0x9022, ptid, JPEG) + response(ptid))
        events.send(
            bytes.fromhex("14000000 0400 0d40 01000000".replace(" ", ""))
            + struct.pack("<II", tid, tid)
        )
        await fake.done.wait()

    fake = FakeFuji(after)
    camera = await open_fuji(fake, store)
    try:
        shots = await camera.capture(timeout=5)
        assert len(shots) == 1
        assert shots[0].handle is None
        assert shots[0].preview == JPEG
    finally:
        camera.connection.abort()
        await fake.stop()


@pytest.mark.parametrize(("reason", "words"), [(0x2019, "change"), (0x201D, "protocol version")])
async def test_init_fail_reasons_are_explained(
    store: IdentityStore, reason: int, words: str
) -> None:
    async def refuse(s: Script) -> None:
        await s.read()
        s.send(struct.pack("<III", 12, 5, reason))

    server, port = await serve(refuse)
    try:
        with pytest.raises(InitFailError) as err:
            await open_camera("127.0.0.1", port, vendor="fuji", identity_store=store, timeout=5)
        assert err.value.reason == reason
        assert words in str(err.value)
    finally:
        server.close()


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("x" * 40, "x" * 26),
        ("\U0001f4f7" * 14, "\U0001f4f7" * 13),  # 28 UTF-16 units: cut between pairs
        ("a" + "\U0001f4f7" * 13, "a" + "\U0001f4f7" * 12),
        ("short", "short"),
    ],
)
def test_long_names_are_cut_to_the_init_field_in_utf16_units(name: str, sent: str) -> None:
    from ptpip.client.identity import Identity
    from ptpip.vendors.fuji.profile import FujiProfile

    request = FujiProfile().init_request(Identity(bytes(16), name))
    assert request.friendly_name == sent
    assert len(request.encode()) == 82


class OneRecvScript(Script):
    """A camera like a small embedded stack: each ``recv()`` must bring whole containers.

    It may bring several (TCP joins writes), but a container cut across two reads - its
    header in one write, its payload in the next - makes it drop the connection.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.pending: list[bytes] = []

    async def read(self) -> bytes:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            if not data:
                raise ConnectionResetError("the client closed the connection")
            while data:
                if len(data) < 4 or len(data) < struct.unpack_from("<I", data)[0]:
                    self.writer.transport.abort()  # "8 of 10 bytes": the camera gives up
                    raise ConnectionResetError(f"a container cut in two: {data.hex()}")
                length = struct.unpack_from("<I", data)[0]
                self.pending.append(data[:length])
                data = data[length:]
        packet = self.pending.pop(0)
        self.received.append(packet)
        return packet


async def test_every_container_goes_out_in_one_write(store: IdentityStore) -> None:
    """100 connects in a row to a camera that reads one container per recv() (44 of 117
    failed when the data container's header and payload were written apart)."""
    failures: list[str] = []

    async def run(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        s = OneRecvScript(r, w)
        try:
            await bring_up(s, events_ready)
            while True:  # whatever comes after the bring-up: OK (closing, goodbye)
                packet = await s.read()
                if packet[:8] == bytes.fromhex("08000000ffffffff"):
                    break
                if packet[4:6] == b"\x01\x00":  # a command container
                    s.send(response(struct.unpack_from("<I", packet, 8)[0]))
        except (ConnectionResetError, asyncio.IncompleteReadError) as exc:
            failures.append(str(exc))
        except AssertionError as exc:
            failures.append(f"unexpected bytes: {exc}")
        finally:
            w.transport.abort()

    events = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    event_port = events.sockets[0].getsockname()[1]

    async def events_ready() -> int:
        return int(event_port)

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    writes = WriteLog()
    try:
        for _ in range(100):
            camera = await open_camera(
                "127.0.0.1",
                port,
                vendor="fuji",
                event_port=event_port,
                guid=GUID,
                name="tester",
                identity_store=store,
                timeout=5,
                recorder=writes,
            )
            await camera.close()
    finally:
        server.close()
        events.close()
    assert failures == []
    assert writes.cut == []  # and no write ends inside a container (deterministic)
    assert writes.count > 100 * 8


async def test_get_falls_back_on_the_state_when_the_value_comes_empty(
    store: IdentityStore,
) -> None:
    """GetDevicePropValue answered with an empty data container: the 0xD212 state knows."""
    d212 = seed_dumps("004_162113056664525c.txt")[2]

    async def after(s: Script) -> None:
        req = await s.read()
        assert req[6:8] == b"\x15\x10" and req[12:14] == b"\x05\x50"  # GetDevicePropValue 0x5005
        tid = struct.unpack_from("<I", req, 8)[0]
        s.send(container(2, 0x1015, tid) + response(tid))  # no data, and OK
        req = await s.read()
        assert req[12:14] == b"\x12\xd2"  # the client asks the state instead
        tid = struct.unpack_from("<I", req, 8)[0]
        s.send(container(2, 0x1015, tid, d212[12:]) + response(tid))
        await fake.done.wait()

    fake = FakeFuji(after)
    camera = await open_fuji(fake, store)
    try:
        state_value = 2  # white balance in the seed's 0xD212 dump (automatic)
        assert await camera.get_property(0x5005) == state_value
    finally:
        camera.connection.abort()
        await fake.stop()


async def test_a_body_without_remote_mode_can_be_browsed(store: IdentityStore) -> None:
    """X-A2-class bodies in image-transfer mode: 0xDF24 comes empty. ptpip connects for
    browsing and downloads; capture and live view say there is no remote control."""
    from ptpip.errors import OperationNotSupported
    from ptpip.ptp.datasets import ObjectInfo, encode_handles

    jpeg = b"\xff\xd8" + bytes(100) + b"\xff\xd9"
    info = ObjectInfo(storage_id=0x10000001, object_format=0x3801, compressed_size=len(jpeg))
    done = asyncio.Event()
    seen: list[bytes] = []

    async def run(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        s = Script(r, w)
        init = await s.read()
        assert len(init) == 82
        s.send(ack68())
        assert (await s.read())[6:8] == b"\x02\x10"  # OpenSession
        s.send(response(1))
        assert (await s.read())[12:14] == b"\x01\xdf"  # SetDevicePropValue 0xDF01 = 5
        assert (await s.read())[12:14] == b"\x05\x00"
        s.send(response(2))
        assert (await s.read())[12:14] == b"\x24\xdf"  # GetDevicePropValue 0xDF24
        s.send(container(2, 0x1015, 3) + response(3))  # empty: no remote control
        while True:  # browsing: handles, info, the object, then CloseSession
            req = await s.read()
            seen.append(req)
            code, tid = struct.unpack_from("<HI", req, 6)
            if code == 0x1007:
                s.send(container(2, code, tid, encode_handles([1])) + response(tid))
            elif code == 0x1008:
                s.send(container(2, code, tid, info.encode()) + response(tid))
            elif code in (0x1009, 0x101B):
                s.send(container(2, code, tid, jpeg) + response(tid))
            else:
                s.send(response(tid))
                if code == 0x1003:  # CloseSession
                    done.set()
                    return

    server, port = await serve_raw(run)
    try:
        notices: list[str] = []
        camera = await open_camera(
            "127.0.0.1",
            port,
            vendor="fuji",
            event_port=port + 1,
            guid=GUID,
            name="tester",
            identity_store=store,
            timeout=5,
            notice=notices.append,
        )
        try:
            assert await camera.object_handles() == (1,)
            assert await camera.read_partial(1, 0, len(jpeg)) == jpeg
            for action in (camera.capture(5), camera.set_property(0x5005, 4)):
                with pytest.raises(OperationNotSupported, match="remote control") as err:
                    await action
                assert err.value.exit_code == 3
        finally:
            await camera.close()
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
    assert any("browsing and downloads only" in n for n in notices)
    # nothing remote was asked: no echo of 0xDF24, no InitiateOpenCapture, no capture
    assert {struct.unpack_from("<H", r, 6)[0] for r in seen} <= {0x1007, 0x1008, 0x101B, 0x1003}


async def serve_raw(
    run: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(run, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])
