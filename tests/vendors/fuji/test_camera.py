"""The virtual Fuji X-T1 on the wire: raw sockets, the reference's bytes, our codecs.

No Fuji client here: requests are literal bytes from vendor-fuji.md (malc0mn's bring-up,
libgphoto2's exact-size writes) or built with ``encode_container``; answers are checked as
bytes or parsed with ptpip's Fuji codecs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.factory import make_camera
from ptpip.camera.server import VirtualCamera
from ptpip.ip.framing import ContainerType, encode_container
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandAck, InitFail
from ptpip.ptp.datasets import DeviceInfo, DevicePropDesc, ObjectInfo
from ptpip.testing import RunningCamera
from ptpip.vendors.fuji.camera import FujiCamera
from ptpip.vendors.fuji.codec import (
    LiveViewFrame,
    LiveViewStreamReader,
    decode_prop_list,
    decode_state,
)
from tests.cli.conftest import unavailable
from tests.vectors import seed_dumps

WAIT = 5.0
SEED = "004_162113056664525c.txt"
OK = 0x2001

#: libgphoto2's 82-byte InitCommandRequest for host "vm" (vendor-fuji.md §2.1), verbatim.
INIT_82 = bytes.fromhex(
    "52000000 01000000 f2e4538f 78130c8a239f2d445e005b704ec047e0 76006d00"
) + bytes(50)
#: §4.1: the bring-up malc0mn sends after the handshake, and the camera's answers.
MALC0MN_BRING_UP: list[tuple[bytes, bytes]] = [
    (  # OpenSession(1), TID 1, five params
        bytes.fromhex("20000000 0100 0210 01000000 01000000") + bytes(16),
        bytes.fromhex("0c000000 0300 0120 01000000"),
    ),
    (  # SetDevicePropValue(0xDF01) = 5 as u32 + 16 zero bytes, TID 2
        bytes.fromhex("20000000 0100 1610 02000000 01df0000")
        + bytes(16)
        + bytes.fromhex("20000000 0200 1610 02000000 05000000")
        + bytes(16),
        bytes.fromhex("0c000000 0300 0120 02000000"),
    ),
    (  # GetDevicePropValue(0xDF24), TID 3: the X-T1's 0x00020001
        bytes.fromhex("20000000 0100 1510 03000000 24df0000") + bytes(16),
        bytes.fromhex("10000000 0200 1510 03000000 01000200 0c000000 0300 0120 03000000"),
    ),
    (  # SetDevicePropValue(0xDF24) = the value just read, TID 4
        bytes.fromhex("20000000 0100 1610 04000000 24df0000")
        + bytes(16)
        + bytes.fromhex("20000000 0200 1610 04000000 01000200")
        + bytes(16),
        bytes.fromhex("0c000000 0300 0120 04000000"),
    ),
    (  # InitiateOpenCapture(0), TID 5
        bytes.fromhex("20000000 0100 1c10 05000000") + bytes(20),
        bytes.fromhex("0c000000 0300 0120 05000000"),
    ),
]


class Wire:
    """One raw TCP connection to the camera, read container by container."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tid = 1

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def packet(self, timeout: float = WAIT) -> bytes:
        """One length-prefixed packet or container, whole."""
        head = await asyncio.wait_for(self.reader.readexactly(4), timeout)
        length = int.from_bytes(head, "little")
        return head + await asyncio.wait_for(self.reader.readexactly(length - 4), timeout)

    async def nothing(self, seconds: float = 0.3) -> None:
        """Nothing arrives within ``seconds`` (and the connection stays open)."""
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.reader.read(1), seconds)

    async def closed(self) -> None:
        """The camera closed the connection."""
        data = await asyncio.wait_for(self.reader.read(), WAIT)
        assert data == b""

    async def init(self, name: str = "ptpip test") -> bytes:
        await self.send(FujiInitCommandRequest(bytes(range(16)), name).encode())
        return await self.packet()

    async def request(
        self, code: int, *params: int, data: bytes | None = None
    ) -> tuple[bytes | None, int, tuple[int, ...]]:
        """(data-in payload or None, response code, response params); checks the TIDs."""
        tid = self.tid
        self.tid += 1
        out = encode_container(ContainerType.COMMAND, code, tid, params=params)
        if data is not None:
            out += encode_container(ContainerType.DATA, code, tid, payload=data)
        await self.send(out)
        payload = None
        packet = await self.packet()
        kind, echoed, got = struct.unpack_from("<HHI", packet, 4)
        if kind == ContainerType.DATA:
            assert (echoed, got) == (code, tid)
            payload = packet[12:]
            packet = await self.packet()
            kind, echoed, got = struct.unpack_from("<HHI", packet, 4)
        assert (kind, got) == (ContainerType.RESPONSE, tid)
        count = (len(packet) - 12) // 4
        return payload, echoed, struct.unpack_from(f"<{count}I", packet, 12)

    async def ok(self, code: int, *params: int, data: bytes | None = None) -> bytes | None:
        payload, rc, _ = await self.request(code, *params, data=data)
        assert rc == OK, hex(rc)
        return payload

    async def remote(self) -> None:
        """OpenSession, ClientState 5, the 0xDF24 echo (libgphoto2's exact-size writes)."""
        await self.ok(0x1002, 1)
        await self.ok(0x1016, 0xDF01, data=b"\x05\x00")
        version = await self.ok(0x1015, 0xDF24)
        await self.ok(0x1016, 0xDF24, data=version)

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def vcam(tmp_path: Path) -> AsyncIterator[VirtualCamera]:
    cam = VirtualCamera(FujiCamera(tmp_path / "card", liveview_fps=50), port=0)
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


def fuji(vcam: VirtualCamera) -> FujiCamera:
    personality = vcam.personality
    assert isinstance(personality, FujiCamera)
    return personality


@pytest.fixture
async def wire(vcam: VirtualCamera) -> AsyncIterator[Wire]:
    """A client past the handshake (no session yet)."""
    w = await Wire.open(vcam.port)
    ack = await w.init()
    assert ack[4:8] == b"\x02\x00\x00\x00"
    yield w
    w.close()


@pytest.fixture
async def remote(wire: Wire) -> Wire:
    """A client in remote mode."""
    await wire.remote()
    return wire


async def event_wire(vcam: VirtualCamera, remote: Wire) -> Wire:
    """InitiateOpenCapture, then the event connection (no handshake)."""
    await remote.ok(0x101C, 0)
    events = await Wire.open(vcam.ports["event"])
    for _ in range(200):  # the camera attaches it as soon as it is accepted
        if vcam.session is not None and vcam.session.event_conn is not None:
            break
        await asyncio.sleep(0.005)
    return events


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


def seed_payload(code: int) -> bytes:
    (dump,) = (
        d
        for d in seed_dumps(SEED)
        if d[4:6] == b"\x02\x00" and d[6:8] == code.to_bytes(2, "little")
    )
    return dump[12:]


# -- ports and handshake ------------------------------------------------------------------------


async def test_three_ports_in_a_row(vcam: VirtualCamera) -> None:
    ports = vcam.ports
    assert ports == {"command": vcam.port, "event": vcam.port + 1, "stream": vcam.port + 2}


async def test_malc0mn_bring_up_bytes(vcam: VirtualCamera) -> None:
    """§4.1 verbatim: each request gets exactly the documented answer."""
    w = await Wire.open(vcam.port)
    await w.send(INIT_82)
    ack = await w.packet()
    # The camera's 68-byte ack, ConnectionNumber 0 (§2.2); libgphoto2 and malc0mn parse it.
    assert ack[:12] == bytes.fromhex("44000000 02000000 00000000")
    decoded = InitCommandAck.decode(ack[8:])
    assert (decoded.friendly_name, decoded.guid) == ("X-T1", fuji(vcam).guid)
    for request, answer in MALC0MN_BRING_UP:
        await w.send(request)
        got = b""
        while len(got) < len(answer):
            got += await w.packet()
        assert got == answer, request.hex(" ")
    events = await Wire.open(vcam.ports["event"])  # the camera opened 55741
    await events.nothing(0.1)
    events.close()
    w.close()


async def test_event_and_stream_ports_open_only_after_open_capture(
    vcam: VirtualCamera, remote: Wire
) -> None:
    assert await refused(vcam.ports["event"])
    assert await refused(vcam.ports["stream"])
    await remote.ok(0x101C, 0)
    assert not await refused(vcam.ports["event"])
    assert not await refused(vcam.ports["stream"])


async def test_wrong_magic_is_refused_with_0x201d(vcam: VirtualCamera) -> None:
    w = await Wire.open(vcam.port)
    await w.send(INIT_82[:8] + b"\x00\x00\x00\x00" + INIT_82[12:])
    answer = await w.packet()
    assert answer == bytes.fromhex("0c000000 05000000 1d200000")
    assert InitFail.decode(answer[8:]).reason == 0x201D
    await w.closed()


async def test_unpadded_init_is_accepted(vcam: VirtualCamera) -> None:
    """malc0mn's variable-length form: 70 bytes for its default name (§2.1)."""
    init = FujiInitCommandRequest(bytes(16), "Golang PTP/IP client", None).encode()
    assert len(init) == 70
    w = await Wire.open(vcam.port)
    await w.send(init)
    assert len(await w.packet()) == 68
    await w.ok(0x1002, 1)
    w.close()


async def test_second_init_on_the_same_socket_gets_a_second_ack(vcam: VirtualCamera) -> None:
    """libgphoto2 sends its Init twice (§2.4); gphoto2 2.5.30 reads an ack for each."""
    w = await Wire.open(vcam.port)
    await w.send(INIT_82)
    first = await w.packet()
    await w.send(INIT_82)
    second = await w.packet()
    assert first == second
    assert len(second) == 68
    await w.ok(0x1002, 1)
    w.close()


async def test_pairing_refuses_an_unknown_client_until_confirmed(tmp_path: Path) -> None:
    fuji = FujiCamera(tmp_path / "card", pairing=True)
    asked: list[str] = []
    fuji.on_pairing_request = asked.append
    cam = VirtualCamera(fuji, port=0)
    async with cam:
        refused = await Wire.open(cam.port)
        # vendor-fuji.md §2.3: InitFail 0x2019 while the camera shows its prompt
        assert await refused.init("my phone") == bytes.fromhex("0c000000 05000000 19200000")
        assert asked == ["my phone"]
        fuji.confirm_pairing()  # the user picks "change" on the camera
        first = await Wire.open(cam.port)
        assert (await first.init("my phone"))[4] == 2
        first.close()
        await first.closed()
        for _ in range(200):
            if cam.session is None:
                break
            await asyncio.sleep(0.005)
        other = await Wire.open(cam.port)
        assert await other.init("not my phone") == bytes.fromhex("0c000000 05000000 19200000")
        again = await Wire.open(cam.port)
        assert (await again.init("my phone"))[4] == 2
        again.close()


async def test_pairing_confirms_by_itself_after_the_delay(tmp_path: Path) -> None:
    cam = VirtualCamera(FujiCamera(tmp_path / "card", pairing=True, pairing_delay=0.05), port=0)
    async with cam:
        refused = await Wire.open(cam.port)
        assert (await refused.init("phone"))[4] == 5
        await asyncio.sleep(0.2)
        accepted = await Wire.open(cam.port)
        assert (await accepted.init("phone"))[4] == 2
        accepted.close()


async def test_goodbye_ends_the_session(vcam: VirtualCamera, remote: Wire) -> None:
    await remote.send(bytes.fromhex("08000000 ffffffff"))
    await remote.closed()
    for _ in range(200):
        if vcam.session is None:
            break
        await asyncio.sleep(0.005)
    assert vcam.session is None
    # The camera left remote mode with its client; the next one starts over.
    assert fuji(vcam).props.get(0xDF01) == 0
    w = await Wire.open(vcam.port)
    assert len(await w.init()) == 68
    await w.ok(0x1002, 1)
    w.close()


# -- device info and properties ---------------------------------------------------------------


async def test_device_info_is_fujis(vcam: VirtualCamera, wire: Wire) -> None:
    data = await wire.ok(0x1001)
    assert data is not None
    info = DeviceInfo.decode(data)
    assert (info.manufacturer, info.model, info.vendor_extension_id) == ("FUJIFILM", "X-T1", 0xE)
    assert info.vendor_extension_desc == "fujifilm.co.jp: 1.0; "
    assert set(info.operations_supported) == set(fuji(vcam).operations)
    for code in (0x101C, 0x9022, 0x902B, 0x902C, 0x902D, 0x902E, 0x100E):
        assert code in info.operations_supported
    assert set(info.events_supported) == {0x400D, 0xC001, 0xC004}


async def test_prop_list_is_the_x_t1s_byte_for_byte(remote: Wire) -> None:
    data = await remote.ok(0x902B, 0)
    assert data == seed_payload(0x902B)
    descs = decode_prop_list(data or b"")
    codes = [d.code for d in descs]
    assert codes == [0x5012, 0x500C, 0x5005, 0x5010, 0xD001, 0xD02A, 0xD019, 0xD17C]


async def test_state_parses_and_follows_the_x_t1(remote: Wire) -> None:
    data = await remote.ok(0x1015, 0xD212)
    state = decode_state(data or b"")
    seed = decode_state(seed_payload(0x1015))
    # Until something changes, the seed's own bytes (issue: "the seed's bytes by default").
    assert data == seed_payload(0x1015)
    assert [code for code, _ in state] == [code for code, _ in seed]
    values = dict(state)
    assert values[0xD02A] == 0x80001900  # ISO S6400
    assert values[0xD17C] == 0x03020404  # focus point 4x4
    assert values[0x500E] == 2  # program
    assert values[0xD229] == 1431


async def test_state_lists_shutter_and_aperture_by_program(remote: Wire) -> None:
    async def codes() -> list[int]:
        return [code for code, _ in decode_state(await remote.ok(0x1015, 0xD212) or b"")]

    for program, extra in ((1, [0xD240, 0x5007]), (3, [0x5007]), (4, [0xD240]), (2, [])):
        await remote.ok(0x1016, 0x500E, data=struct.pack("<H", program))
        assert (await codes())[17:] == extra


async def test_set_iso_shows_in_state(remote: Wire) -> None:
    await remote.ok(0x1016, 0xD02A, data=struct.pack("<I", 0x190))  # ISO 400, exact size
    assert dict(decode_state(await remote.ok(0x1015, 0xD212) or b""))[0xD02A] == 0x190
    assert await remote.ok(0x1015, 0xD02A) == struct.pack("<I", 0x190)
    _, rc, _ = await remote.request(0x1016, 0xD02A, data=struct.pack("<I", 123))
    assert rc == 0x201C  # InvalidDevicePropValue: not in the X-T1's enum


async def test_padded_values_are_read_at_native_width(remote: Wire) -> None:
    """malc0mn pads every value to u32 + 16 zero bytes (§3)."""
    await remote.ok(0x1016, 0xD001, data=struct.pack("<I", 11) + bytes(16))
    assert await remote.ok(0x1015, 0xD001) == b"\x0b\x00"
    await remote.ok(0x1016, 0x5010, data=struct.pack("<h", -1000) + bytes(18))
    assert await remote.ok(0x1015, 0x5010) == struct.pack("<h", -1000)


async def test_prop_desc_and_unknown_prop(remote: Wire) -> None:
    data = await remote.ok(0x1014, 0x5001)
    # §15's battery descriptor (UINT8, read-only, range 0..3), current value 3 as in §9.3
    assert data == bytes.fromhex("0150 0200 00 00 03 01 00 03 01")
    desc = DevicePropDesc.decode(data or b"")
    assert (desc.datatype, desc.get_set, desc.current) == (2, 0, 3)
    # An unknown property: no data and no error, as on the X-T1 (§14).
    payload, rc, _ = await remote.request(0x1014, 0xD999)
    assert (payload, rc) == (b"", OK)
    payload, rc, _ = await remote.request(0x1015, 0xD999)
    assert (payload, rc) == (b"", 0x200A)


async def test_step_operations(remote: Wire) -> None:
    async def state() -> dict[int, int]:
        return dict(decode_state(await remote.ok(0x1015, 0xD212) or b""))

    await remote.ok(0x902E, 1)  # +1/3 EV
    assert (await state())[0x5010] == 333
    await remote.ok(0x902E, 0)
    await remote.ok(0x902E, 0)
    assert (await state())[0x5010] == 0xFEB3  # −1/3 EV, as the u32 of an INT16
    assert 0xD240 not in await state()  # program P: the camera picks the shutter speed
    await remote.ok(0x1016, 0x500E, data=struct.pack("<H", 1))  # manual
    before = (await state())[0xD240]
    assert before == 0x80000000 | 125_000  # 1/125 s
    await remote.ok(0x902C, 1)
    assert (await state())[0xD240] == 0x80000000 | 160_000  # 1/160 s: a third shorter
    await remote.ok(0x902D, 1)
    assert (await state())[0x5007] == 530
    for _ in range(10):
        await remote.ok(0x902D, 1)
    assert (await state())[0x5007] == 1600  # the end holds; 0xFFFF is not a stop
    _, rc, _ = await remote.request(0x902C, 2)
    assert rc == 0x201D


# -- remote mode ------------------------------------------------------------------------------


async def test_remote_operations_need_client_state_5(vcam: VirtualCamera, wire: Wire) -> None:
    await wire.ok(0x1002, 1)
    for code, params in ((0x100E, (0, 0)), (0x101C, (0,)), (0x902C, (1,)), (0x9022, (0,))):
        _, rc, _ = await wire.request(code, *params)
        assert rc == 0x200F, hex(code)  # AccessDenied
    _, rc, _ = await wire.request(0x1016, 0xD02A, data=struct.pack("<I", 0x190))
    assert rc == 0x200F
    assert await refused(vcam.ports["event"])
    # Reading is allowed, and so is the set-up.
    assert await wire.ok(0x1015, 0xD02A) == struct.pack("<I", 0x80001900)
    assert await wire.ok(0x1015, 0xDF00) == b"\x00\x00"
    await wire.ok(0x1016, 0xDF01, data=b"\x05\x00")
    assert await wire.ok(0x1015, 0xDF00) == b"\x06\x00"  # REMOTE_ACCESS
    await wire.ok(0x101C, 0)


# -- capture ----------------------------------------------------------------------------------


def event(code: int, tid: int, size: int | None = None) -> bytes:
    """The event containers of §7.1, as malc0mn's capture expects them."""
    if size is None and code == 0x400D:
        return bytes.fromhex("14000000 0400 0d40 01000000") + struct.pack("<II", tid, tid)
    head = struct.pack("<IHH", 28, 4, code)
    return head + struct.pack("<IIIII", 1, tid, tid, size or 0, 0)


async def test_capture_sequence(vcam: VirtualCamera, remote: Wire) -> None:
    events = await event_wire(vcam, remote)
    count = struct.unpack("<I", await remote.ok(0x1015, 0xD222) or b"")[0]
    tid = remote.tid
    await remote.ok(0x100E, 0, 0)
    assert await events.packet() == event(0xC004, tid)
    preview_available = await events.packet()
    size = struct.unpack_from("<I", preview_available, 20)[0]
    assert preview_available == event(0xC001, tid, size)
    await events.nothing(0.2)  # no CaptureComplete before the preview is fetched
    jpeg = await remote.ok(0x9022, 0)
    assert jpeg is not None
    assert len(jpeg) == size
    assert Image.open(io.BytesIO(jpeg)).size == (640, 480)
    assert await events.packet() == event(0x400D, tid + 1)
    # The image is on the card too: the last of the sequential handles.
    new_count = struct.unpack("<I", await remote.ok(0x1015, 0xD222) or b"")[0]
    assert new_count == count + 1
    info = ObjectInfo.decode(await remote.ok(0x1008, new_count) or b"")
    assert info.compressed_size == size
    assert info.filename.startswith("IMG_")
    events.close()


async def test_no_capture_complete_without_the_preview(vcam: VirtualCamera, remote: Wire) -> None:
    events = await event_wire(vcam, remote)
    first = remote.tid
    await remote.ok(0x100E, 0, 0)
    assert (await events.packet())[6:8] == b"\x04\xc0"
    assert (await events.packet())[6:8] == b"\x01\xc0"
    await events.nothing(0.3)
    images = fuji(vcam).props.get(0xD222)
    await remote.ok(0x100E, 0, 0)  # accepted, but does nothing (§11)
    await events.nothing(0.3)
    assert fuji(vcam).props.get(0xD222) == images
    await remote.ok(0x9022, 0)
    assert await events.packet() == event(0x400D, first + 2)
    await remote.ok(0x100E, 0, 0)  # works again
    assert await events.packet() == event(0xC004, first + 3)
    events.close()


async def test_capture_preview_without_a_capture_fails(remote: Wire) -> None:
    payload, rc, _ = await remote.request(0x9022, 0)
    assert (payload, rc) == (b"", 0x2002)  # one (empty) data container, then the error


async def test_event_port_ignores_an_init_event_request(vcam: VirtualCamera, remote: Wire) -> None:
    """An unverified newer flow sends a type-3 packet there (§1): ignored."""
    events = await event_wire(vcam, remote)
    await events.send(bytes.fromhex("0c000000 03000000 01000000"))
    tid = remote.tid
    await remote.ok(0x100E, 0, 0)
    assert await events.packet() == event(0xC004, tid)
    events.close()


@pytest.mark.parametrize("port", ["event", "stream"])
async def test_the_event_and_stream_ports_refuse_another_host(
    vcam: VirtualCamera, remote: Wire, port: str
) -> None:
    """No handshake there: the peer's address is what ties them to the session's client."""
    await remote.ok(0x101C, 0)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", vcam.ports[port], local_addr=("127.0.0.2", 0)
        )
    except OSError as exc:
        unavailable(f"no second loopback address here: {exc}")
    with contextlib.suppress(ConnectionResetError):  # closed at once, nothing sent
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()
    assert vcam.session is not None
    assert vcam.session.event_conn is None and not vcam.session.stream_conns
    events = await event_wire(vcam, remote)  # the client's own connection is taken
    assert vcam.session.event_conn is not None
    events.close()


# -- live view --------------------------------------------------------------------------------


async def read_frames(stream: Wire, count: int) -> list[int]:
    reader = LiveViewStreamReader()
    counters: list[int] = []
    while len(counters) < count:
        chunk = await asyncio.wait_for(stream.reader.read(65536), WAIT)
        assert chunk, "the stream closed"
        for frame in reader.feed(chunk):
            assert frame.header[:8] == struct.pack("<II", len(frame.header) + len(frame.jpeg), 0)
            assert frame.jpeg.startswith(b"\xff\xd8") and frame.jpeg.endswith(b"\xff\xd9")
            counters.append(frame.counter)
    return counters


async def test_liveview_frames(vcam: VirtualCamera, remote: Wire) -> None:
    await remote.ok(0x101C, 0)
    stream = await Wire.open(vcam.ports["stream"])
    reader = LiveViewStreamReader()
    frames: list[LiveViewFrame] = []
    while len(frames) < 3:
        frames += reader.feed(await asyncio.wait_for(stream.reader.read(65536), WAIT))
    assert [f.counter for f in frames[:3]] == [0, 1, 2]
    assert len(frames[0].header) == 18
    assert Image.open(io.BytesIO(frames[0].jpeg)).size == (640, 480)
    # TerminateOpenCapture stops live view; the event connection would stay.
    await remote.ok(0x1018, 5)
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(stream.reader.read(65536), WAIT):
            pass


async def test_liveview_counter_wraps_at_0xff(tmp_path: Path) -> None:
    cam = VirtualCamera(FujiCamera(tmp_path / "card", liveview_fps=2000), port=0)
    async with cam:
        w = await Wire.open(cam.port)
        await w.init()
        await w.remote()
        await w.ok(0x101C, 0)
        stream = await Wire.open(cam.ports["stream"])
        counters = await read_frames(stream, 260)
        assert counters[:260] == [*range(256), 0, 1, 2, 3]
        stream.close()
        w.close()


# -- the card ---------------------------------------------------------------------------------


async def test_objects_by_sequential_handle(vcam: VirtualCamera, remote: Wire) -> None:
    assert await remote.ok(0x1015, 0xD222) == struct.pack("<I", 4)  # four sample images
    info = ObjectInfo.decode(await remote.ok(0x1008, 1) or b"")
    assert (info.filename, info.parent) == ("IMG_0001.JPG", 0)
    thumb = await remote.ok(0x100A, 1)
    assert thumb is not None and thumb.startswith(b"\xff\xd8")
    payload, rc, params = await remote.request(0x101B, 1, 0, 1000)
    assert (rc, params, len(payload or b"")) == (OK, (1000,), 1000)
    whole = await remote.ok(0x1009, 1)
    assert whole is not None and len(whole) == info.compressed_size
    payload, rc, _ = await remote.request(0x1008, 5)
    assert (payload, rc) == (b"", 0x2009)  # InvalidObjectHandle, after an empty data phase


# -- packaging --------------------------------------------------------------------------------


def test_factory_and_running_camera(tmp_path: Path) -> None:
    assert isinstance(make_camera("fuji", tmp_path / "a", port=0).personality, FujiCamera)
    with RunningCamera("fuji", storage=tmp_path / "b") as cam:
        ports = cam.ports
        assert ports["event"] == ports["command"] + 1 == cam.port + 1
        assert ports["stream"] == cam.port + 2


@pytest.fixture
def simulate(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ptpip.cli.main", "simulate", "-t", "fuji", "-p", "0"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_simulate_prints_the_three_ports(simulate: subprocess.Popen[str]) -> None:
    assert simulate.stdout is not None
    first = simulate.stdout.readline().strip()
    assert first.startswith("listening on 127.0.0.1:")
    port = int(first.rsplit(":", 1)[1])
    assert simulate.stdout.readline().startswith(f"event port 127.0.0.1:{port + 1} ")
    assert simulate.stdout.readline().startswith(f"stream port 127.0.0.1:{port + 2} ")
    assert f"ptpip:127.0.0.1:{port}:{port + 1}" in simulate.stdout.readline()
