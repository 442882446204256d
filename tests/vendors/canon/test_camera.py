"""The virtual Canon EOS on the wire: raw sockets, the reference's bytes, ptpip's Canon codecs.

No Canon client here: requests are literal bytes from vendor-canon.md and seed 002 (the
EOS 70D pairing article) or built with ``struct``; answers are checked as bytes or decoded
with :mod:`ptpip.vendors.canon.codec` and compared with the real camera's GetEvent dump
(vector ``canon/eos_events.bin``).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.server import VirtualCamera
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo
from ptpip.vendors.canon.camera import CanonCamera
from ptpip.vendors.canon.codec import (
    TERMINATOR,
    AvailListChanged,
    InfoCheckComplete,
    ObjectAdded,
    PropValueChanged,
    RequestObjectTransfer,
    decode_events,
    decode_viewfinder,
)
from ptpip.vendors.canon.upnp import SMARTPHONE_SERVICE, WFT_SERVICE, CameraUpnp
from tests.vectors import VECTORS

WAIT = 5.0
OK = 0x2001
h = bytes.fromhex

# Seed 002 (EOS 70D), vendor-canon.md §4, verbatim.
SEED_INIT = h(
    "2a000000 01000000 4dc479e1c10e46279ee11b2abce2da29 690050006800 6f006e006500 0000 00000100"
)
SEED_ACK = h(
    "28000000 02000000 01000000 0000000000000000010060128b7cc240 370030004400 0000 00000100"
)
SEED_EVENT_INIT = h("0c000000 03000000 01000000")
SEED_EVENT_ACK = h("08000000 04000000")
SEED_OPEN = h("16000000 06000000 01000000 0210 00000000 01000000")
SEED_OPEN_OK = h("0e000000 07000000 0120 00000000")
SEED_REMOTE = h("16000000 06000000 01000000 1491 01000000 01000000")
SEED_EVENT_MODE = h("16000000 06000000 01000000 1591 02000000 01000000")
#: §9: ISO = 0x50 (200) as libgphoto2 sends it
SET_ISO_200 = h("0c000000 03d10000 50000000")
VECTOR_EVENTS = (VECTORS / "canon" / "eos_events.bin").read_bytes()[:5824]
#: What the virtual body changes from the vector (canon_props' docstring says why).
CHANGED_VALUES = {0xD101, 0xD11E, 0xD1D8}
CHANGED_LISTS = {0xD101, 0xD104}
ISO, APERTURE, CAPTURE_DESTINATION = 0xD103, 0xD101, 0xD11C
EVF_OUTPUT, AVAILABLE_SHOTS = 0xD1B0, 0xD11B


class Wire:
    """One raw PTP/IP connection: packets whole, requests numbered from TID 0."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tid = 0

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def packet(self, timeout: float = WAIT) -> bytes:
        head = await asyncio.wait_for(self.reader.readexactly(8), timeout)
        length = int.from_bytes(head[:4], "little")
        return head + await asyncio.wait_for(self.reader.readexactly(length - 8), timeout)

    async def init(self, guid: bytes = bytes(range(16)), name: str = "test host") -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        payload = guid + raw + struct.pack("<I", 0x0001_0000)
        await self.send(struct.pack("<II", 8 + len(payload), 1) + payload)
        return await self.packet()

    async def request(
        self, code: int, *params: int, data: bytes | None = None
    ) -> tuple[bytes | None, int, tuple[int, ...]]:
        """(data-in or None, response code, response params); checks the TIDs."""
        tid = self.tid
        self.tid += 1
        phase = 2 if data is not None else 1
        out = struct.pack(
            f"<IIIHI{len(params)}I", 18 + 4 * len(params), 6, phase, code, tid, *params
        )
        if data is not None:
            out += struct.pack("<IIIQ", 20, 9, tid, len(data))
            out += struct.pack("<III", 12 + len(data), 12, tid) + data
        await self.send(out)
        payload: bytes | None = None
        packet = await self.packet()
        if int.from_bytes(packet[4:8], "little") == 9:  # StartData
            total = struct.unpack_from("<Q", packet, 12)[0]
            buf = bytearray()
            while True:
                packet = await self.packet()
                kind = int.from_bytes(packet[4:8], "little")
                assert kind in (10, 12) and int.from_bytes(packet[8:12], "little") == tid
                buf += packet[12:]
                if kind == 12:
                    break
            assert len(buf) == total
            payload = bytes(buf)
            packet = await self.packet()
        assert int.from_bytes(packet[4:8], "little") == 7, packet.hex()
        rc, got = struct.unpack_from("<HI", packet, 8)
        assert got == tid
        count = (len(packet) - 14) // 4
        return payload, rc, struct.unpack_from(f"<{count}I", packet, 14)

    async def ok(self, code: int, *params: int, data: bytes | None = None) -> bytes | None:
        payload, rc, _ = await self.request(code, *params, data=data)
        assert rc == OK, hex(rc)
        return payload

    async def events(self) -> bytes:
        data = await self.ok(0x9116)
        assert data is not None and data.endswith(TERMINATOR)
        return data

    async def eos_session(self) -> bytes:
        """OpenSession, SetRemoteMode(1), SetEventMode(1), and the first GetEvent (the dump)."""
        await self.ok(0x1002, 1)
        await self.ok(0x9114, 1)
        await self.ok(0x9115, 1)
        return await self.events()

    def close(self) -> None:
        self.writer.close()


def canon(vcam: VirtualCamera) -> CanonCamera:
    personality = vcam.personality
    assert isinstance(personality, CanonCamera)
    return personality


@pytest.fixture
async def vcam(tmp_path: Path) -> AsyncIterator[VirtualCamera]:
    cam = VirtualCamera(CanonCamera(tmp_path / "card"), port=0)
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


@pytest.fixture
async def wire(vcam: VirtualCamera) -> AsyncIterator[Wire]:
    """A client past the Init handshake, no session yet."""
    w = await Wire.open(vcam.port)
    ack = await w.init()
    assert ack[4:8] == b"\x02\x00\x00\x00"
    yield w
    w.close()


@pytest.fixture
async def eos(wire: Wire) -> Wire:
    """A client in remote and event mode, the first dump drained."""
    await wire.eos_session()
    return wire


# -- handshake and identity -------------------------------------------------------------------


async def test_seed_002_bring_up_byte_for_byte(tmp_path: Path) -> None:
    body = CanonCamera(tmp_path / "card", model="Canon EOS 70D", mac="60:12:8B:7C:C2:40")
    # the seed's ConnectionNumber 1 (the camera's own numbers are random)
    async with VirtualCamera(body, port=0, connection_numbers=lambda: 1) as vcam:
        cmd = await Wire.open(vcam.port)
        await cmd.send(SEED_INIT)
        assert await cmd.packet() == SEED_ACK
        evt = await Wire.open(vcam.port)
        await evt.send(SEED_EVENT_INIT)
        assert await evt.packet() == SEED_EVENT_ACK
        for request, tid in ((SEED_OPEN, 0), (SEED_REMOTE, 1), (SEED_EVENT_MODE, 2)):
            await cmd.send(request)
            expected = SEED_OPEN_OK[:10] + tid.to_bytes(4, "little")
            assert await cmd.packet() == expected
        cmd.close()
        evt.close()


async def test_default_ack_names_the_model_and_ends_with_the_mac(vcam: VirtualCamera) -> None:
    w = await Wire.open(vcam.port)
    ack = await w.init()
    assert ack[8:12] != bytes(4)  # a ConnectionNumber, never 0
    assert ack[12:28] == bytes(8) + b"\x01\x00" + canon(vcam).mac
    assert ack[28:-4].decode("utf-16-le").rstrip("\0") == "5D Mark III"
    assert ack[-4:] == h("00000100")
    w.close()


async def test_device_info_is_an_eos(wire: Wire) -> None:
    data = await wire.ok(0x1001)
    assert data is not None
    info = DeviceInfo.decode(data)
    assert info.vendor_extension_id == 0xB
    assert info.manufacturer == "Canon Inc."
    assert info.model == "Canon EOS 5D Mark III"
    required = {0x9101, 0x9102, 0x9110, 0x9114, 0x9115, 0x9116, 0x9117, 0x911A, 0x911D}
    required |= {0x9127, 0x9128, 0x9129, 0x9153, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005}
    required |= {0x1007, 0x1008, 0x1009, 0x100B, 0x1014, 0x1015, 0x1016, 0x101B}
    assert required <= set(info.operations_supported)
    assert 0x100E not in info.operations_supported  # an EOS releases with 0x9128
    await wire.ok(0x1002, 1)
    await wire.ok(0x9114, 1)
    again = await wire.ok(0x1001)
    assert again == data  # re-read after SetRemoteMode (libgphoto2 does): the same


# -- GetEvent ---------------------------------------------------------------------------------


async def test_first_get_event_is_the_full_dump_with_the_vectors_values(wire: Wire) -> None:
    data = await wire.eos_session()
    assert data.endswith(TERMINATOR)
    # The real dump's first two records, byte for byte: InfoCheckComplete, AutoExposureMode M.
    assert data[:0x1C] == VECTOR_EVENTS[:0x1C]
    records = decode_events(data)
    values = [r for r in records if isinstance(r, PropValueChanged)]
    lists = [r for r in records if isinstance(r, AvailListChanged)]
    middle = len(values) + 1
    assert records[0] == records[middle] == InfoCheckComplete(0x0002_0001)
    assert all(isinstance(r, PropValueChanged) for r in records[1:middle])
    assert all(isinstance(r, AvailListChanged) for r in records[middle + 1 :])
    assert (len(values), len(lists)) == (84, 98)  # as the vector
    vector = decode_events(VECTOR_EVENTS)
    ours = {r.prop: r.value for r in values}
    for r in vector:
        if isinstance(r, PropValueChanged) and r.prop not in CHANGED_VALUES:
            assert ours[r.prop] == r.value, hex(r.prop)
    allowed = {r.prop: (r.list_type, r.values) for r in lists}
    for r in vector:
        if isinstance(r, AvailListChanged) and r.prop not in CHANGED_LISTS:
            assert allowed[r.prop] == (r.list_type, r.values), hex(r.prop)
    assert ours[ISO] == 0x70 and ours[0xD102] == 0x2D and ours[CAPTURE_DESTINATION] == 2
    assert len(allowed[0xD102][1]) == 53 and allowed[CAPTURE_DESTINATION][1] == (2, 4, 6)
    # the lens the vector lacks: f/3.5 … f/22 in thirds, at f/5.6
    assert ours[APERTURE] == 0x30
    assert allowed[APERTURE][1][0] == 0x25 and allowed[APERTURE][1][-1] == 0x50
    assert len(allowed[APERTURE][1]) == 17
    shots = ours[AVAILABLE_SHOTS]
    assert isinstance(shots, int) and shots > 0


async def test_later_get_events_are_exactly_the_terminator(eos: Wire) -> None:
    assert await eos.events() == TERMINATOR
    assert await eos.events() == TERMINATOR


async def test_every_set_event_mode_brings_the_dump_again(eos: Wire, vcam: VirtualCamera) -> None:
    await eos.ok(0x9115, 1)
    assert len(decode_events(await eos.events())) == 184
    eos.close()
    second = await Wire.open(vcam.port)  # a new session (gphoto2's next run)
    await second.init()
    assert len(decode_events(await second.eos_session())) == 184
    second.close()


async def test_get_event_before_event_mode_is_the_terminator(wire: Wire) -> None:
    await wire.ok(0x1002, 1)
    assert await wire.events() == TERMINATOR


# -- properties -------------------------------------------------------------------------------


async def test_set_prop_ex_confirms_with_prop_value_changed(eos: Wire, vcam: VirtualCamera) -> None:
    assert await eos.ok(0x9110, data=SET_ISO_200) is None
    assert await eos.events() == h("10000000 89c10000 03d10000 50000000") + TERMINATOR
    assert canon(vcam).eos.values[ISO] == 0x50


async def test_set_prop_ex_is_validated(eos: Wire) -> None:
    _, rc, _ = await eos.request(0x9110, data=h("0c000000 03d10000 51000000"))
    assert rc == 0x201C  # not in the ISO list
    _, rc, _ = await eos.request(0x9110, data=h("0c000000 ffd10000 01000000"))
    assert rc == 0x200A  # no such property
    _, rc, _ = await eos.request(0x9110, data=h("0c000000 1bd10000 05000000"))
    assert rc == 0x200F  # AvailableShots is the camera's to say
    assert await eos.events() == TERMINATOR  # nothing changed, nothing reported


async def test_exposure_compensation_matches_at_its_width(eos: Wire, vcam: VirtualCamera) -> None:
    await eos.ok(0x9110, data=h("0c000000 04d10000 fdffffff"))  # −1/3 EV sign-extended
    assert canon(vcam).eos.values[0xD104] == 0xFD
    assert decode_events(await eos.events()) == [PropValueChanged(0xD104, 0xFD)]


async def test_string_prop_write_and_request(eos: Wire) -> None:
    await eos.ok(0x9110, data=struct.pack("<II", 8 + 6, 0xD1D0) + b"Ansel\0")
    assert decode_events(await eos.events()) == [PropValueChanged(0xD1D0, "Ansel")]
    await eos.ok(0x9127, 0xD1AF)
    assert decode_events(await eos.events()) == [PropValueChanged(0xD1AF, "012345678901")]
    _, rc, _ = await eos.request(0x9127, 0xD1FF)
    assert rc == 0x200A


async def test_remote_operations_need_remote_mode(wire: Wire) -> None:
    await wire.ok(0x1002, 1)
    for code, params, data in (
        (0x9110, (), SET_ISO_200),
        (0x9128, (2, 0), None),
        (0x9153, (0x0020_0000, 0, 0), None),
    ):
        _, rc, _ = await wire.request(code, *params, data=data)
        assert rc == 0x2019, hex(code)
    await wire.ok(0x9114, 1)
    await wire.ok(0x9110, data=SET_ISO_200)


async def test_camera_side_change_is_reported(eos: Wire, vcam: VirtualCamera) -> None:
    canon(vcam).camera_changed(APERTURE, 0x38)  # the user turns the dial to f/8
    assert decode_events(await eos.events()) == [PropValueChanged(APERTURE, 0x38)]


async def test_keep_alive_storage_and_capacity(eos: Wire, vcam: VirtualCamera) -> None:
    await eos.ok(0x911D)
    ids = await eos.ok(0x9101)
    assert ids is not None and struct.unpack("<II", ids) == (1, canon(vcam).store.storage_id)
    assert await eos.ok(0x9102, canon(vcam).store.storage_id) == bytes(40)
    await eos.ok(0x911A, 0x0FFF_FFFF, 0x1000, 1)
    (record,) = decode_events(await eos.events())
    assert isinstance(record, PropValueChanged) and record.prop == AVAILABLE_SHOTS


# -- capture ----------------------------------------------------------------------------------


async def release(w: Wire) -> None:
    """libgphoto2's order (§11): half press, full press, release both."""
    await w.ok(0x9128, 1, 0)
    await w.ok(0x9128, 2, 0)
    await w.ok(0x9129, 2)
    await w.ok(0x9129, 1)


def card_files(vcam: VirtualCamera) -> set[Path]:
    return {p for p in canon(vcam).store.root.rglob("*") if p.is_file()}


async def test_capture_to_host_is_transferred_then_gone(eos: Wire, vcam: VirtualCamera) -> None:
    await eos.ok(0x9110, data=h("0c000000 1cd10000 04000000"))
    await eos.ok(0x911A, 0x0FFF_FFFF, 0x1000, 1)
    await eos.events()
    before = card_files(vcam)
    await release(eos)
    (record,) = decode_events(await eos.events())
    assert isinstance(record, RequestObjectTransfer) and record.code == 0xC186
    assert record.object_format == 0x3801 and record.filename.endswith(".JPG")
    data, rc, params = await eos.request(0x101B, record.handle, 0, 0x100000)
    assert rc == OK and data is not None and params == (len(data),) == (record.size,)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    half, _, params = await eos.request(0x101B, record.handle, 100, 50)
    assert half == data[100:150] and params == (50,)
    await eos.ok(0x9117, record.handle)
    _, rc, _ = await eos.request(0x101B, record.handle, 0, 0x100000)
    assert rc == 0x2009  # out of RAM after TransferComplete
    assert card_files(vcam) == before  # never on the card


async def test_capture_to_card_is_an_object_in_the_store(eos: Wire, vcam: VirtualCamera) -> None:
    shots = canon(vcam).eos.values[AVAILABLE_SHOTS]
    assert isinstance(shots, int)
    await release(eos)
    records = decode_events(await eos.events())
    added = records[0]
    assert isinstance(added, ObjectAdded) and added.code == 0xC181
    assert records[1] == PropValueChanged(AVAILABLE_SHOTS, shots - 1)
    info_bytes = await eos.ok(0x1008, added.handle)
    assert info_bytes is not None
    info = ObjectInfo.decode(info_bytes)
    assert (info.filename, info.parent, info.storage_id) == (
        added.filename,
        added.parent,
        added.storage_id,
    )
    assert info.compressed_size == added.size
    jpeg = await eos.ok(0x1009, added.handle)
    assert jpeg is not None and len(jpeg) == added.size
    Image.open(io.BytesIO(jpeg)).verify()
    path = canon(vcam).store.path(added.handle)
    assert path.parent.parent.name == "DCIM" and path.name == added.filename
    parent = ObjectInfo.decode(await eos.ok(0x1008, added.parent) or b"")
    assert parent.is_folder


async def test_capture_to_card_and_host(eos: Wire, vcam: VirtualCamera) -> None:
    await eos.ok(0x9110, data=h("0c000000 1cd10000 06000000"))
    await eos.events()
    await release(eos)
    records = decode_events(await eos.events())
    (added,) = (r for r in records if isinstance(r, ObjectAdded))
    (transfer,) = (r for r in records if isinstance(r, RequestObjectTransfer))
    assert transfer.handle == added.handle and transfer.size == added.size
    data = await eos.ok(0x101B, transfer.handle, 0, 0x100000)
    assert data == canon(vcam).store.path(added.handle).read_bytes()
    await eos.ok(0x9117, transfer.handle)
    assert canon(vcam).held_for_host == ()
    assert await eos.ok(0x1009, added.handle) == data  # still on the card


async def test_one_picture_per_full_press(eos: Wire) -> None:
    await eos.ok(0x9128, 2, 0)
    await eos.ok(0x9128, 2, 0)  # still held down: no second picture
    await eos.ok(0x9129, 2)
    records = decode_events(await eos.events())
    assert sum(isinstance(r, ObjectAdded) for r in records) == 1
    _, rc, _ = await eos.request(0x9128, 7, 0)
    assert rc == 0x201D


# -- live view --------------------------------------------------------------------------------


async def test_live_view_warms_up_then_sends_blocks(eos: Wire, vcam: VirtualCamera) -> None:
    _, rc, _ = await eos.request(0x9153, 0x0020_0000, 0, 0)
    assert rc == 0x2019  # EVF output 0: no live view
    await eos.ok(0x9110, data=h("0c000000 b1d10000 01000000"))
    await eos.ok(0x9110, data=h("0c000000 b0d10000 02000000"))
    changes = decode_events(await eos.events())
    assert PropValueChanged(EVF_OUTPUT, 2) in changes
    for _ in range(canon(vcam).liveview_warmup_calls):
        _, rc, _ = await eos.request(0x9153, 0x0020_0000, 0, 0)
        assert rc == 0xA102
    jpegs = []
    for _ in range(2):
        data = await eos.ok(0x9153, 0x0020_0000, 0, 0)
        assert data is not None
        blocks = decode_viewfinder(data)
        assert blocks[0].kind == 1 and blocks[-1].kind == 0 and data.endswith(h("0800000000000000"))
        assert {b.kind for b in blocks} == {0, 1, 3, 4, 5, 6, 7, 10, 12, 13, 14}
        (space,) = (b.body for b in blocks if b.kind == 14)
        assert struct.unpack("<II", space) == (5160, 3444)  # as the vector
        (histogram,) = (b.body for b in blocks if b.kind == 3)
        assert len(histogram) == 4096
        with Image.open(io.BytesIO(blocks[0].body)) as img:
            assert img.format == "JPEG" and img.size == (640, 480)
        jpegs.append(blocks[0].body)
    assert jpegs[0] != jpegs[1]  # the frame counter moves
    await eos.ok(0x9110, data=h("0c000000 b0d10000 00000000"))
    _, rc, _ = await eos.request(0x9153, 0x0020_0000, 0, 0)
    assert rc == 0x2019


async def test_leaving_stops_live_view_and_host_capture(vcam: VirtualCamera, eos: Wire) -> None:
    await eos.ok(0x9110, data=h("0c000000 b0d10000 03000000"))
    await eos.ok(0x9110, data=h("0c000000 1cd10000 04000000"))
    assert canon(vcam).liveview_on
    eos.close()
    for _ in range(500):
        if vcam.session is None:
            break
        await asyncio.sleep(0.01)
    body = canon(vcam)
    assert not body.liveview_on and body.eos.values[CAPTURE_DESTINATION] == 2


# -- pairing ----------------------------------------------------------------------------------


GUID_A, GUID_B = bytes(range(16)), bytes(range(16, 32))


async def test_pairing_holds_the_ack_until_confirmed(tmp_path: Path) -> None:
    body = CanonCamera(tmp_path / "card", pairing=True)
    asked: list[str] = []
    body.on_pairing_request = asked.append
    async with VirtualCamera(body, port=0) as vcam:
        first = await Wire.open(vcam.port)
        init = asyncio.ensure_future(first.init(GUID_A, "phone"))
        await asyncio.sleep(0.3)
        assert not init.done() and body.pairing_pending and asked == ["phone"]
        other = await Wire.open(vcam.port)  # the screen is busy with the first one
        assert await other.init(GUID_B, "laptop") == h("0c000000 05000000 02000000")
        body.confirm_pairing("phone")
        ack = await asyncio.wait_for(init, WAIT)
        assert ack[4:8] == b"\x02\0\0\0"
        assert body.paired == (GUID_A, "phone")
        first.close()
        for _ in range(500):
            if vcam.session is None:
                break
            await asyncio.sleep(0.01)
        again = await Wire.open(vcam.port)  # the paired host: answered at once
        assert (await again.init(GUID_A, "phone"))[4:8] == b"\x02\0\0\0"
        again.close()
        for guid, name in ((GUID_B, "phone"), (GUID_A, "laptop")):
            stranger = await Wire.open(vcam.port)
            assert await stranger.init(guid, name) == h("0c000000 05000000 01000000")
            stranger.close()


async def test_pairing_confirms_by_itself_after_the_delay(tmp_path: Path) -> None:
    body = CanonCamera(tmp_path / "card", pairing=True, pairing_delay=0.2)
    async with VirtualCamera(body, port=0) as vcam:
        w = await Wire.open(vcam.port)
        loop = asyncio.get_running_loop()
        start = loop.time()
        ack = await w.init(GUID_A, "phone")
        assert ack[4:8] == b"\x02\0\0\0" and loop.time() - start >= 0.15
        w.close()


async def test_pairing_refused_on_the_camera_is_init_fail_1(tmp_path: Path) -> None:
    body = CanonCamera(tmp_path / "card", pairing=True)
    body.on_pairing_request = lambda name: body.confirm_pairing(name, accept=False)
    async with VirtualCamera(body, port=0) as vcam:
        w = await Wire.open(vcam.port)
        assert await w.init(GUID_A, "phone") == h("0c000000 05000000 01000000")
        assert body.paired is None
        w.close()


async def test_pairing_prompt_goes_when_the_client_leaves(tmp_path: Path) -> None:
    body = CanonCamera(tmp_path / "card", pairing=True)
    async with VirtualCamera(body, port=0) as vcam:
        w = await Wire.open(vcam.port)
        init = asyncio.ensure_future(w.init(GUID_A, "phone"))
        await asyncio.sleep(0.2)
        assert body.pairing_pending
        init.cancel()
        w.close()
        for _ in range(500):
            if not body.pairing_pending:
                break
            await asyncio.sleep(0.01)
        assert not body.pairing_pending and body.paired is None
        body.confirm_pairing()  # too late: nothing to confirm
        assert body.paired is None


async def test_without_pairing_anyone_connects(vcam: VirtualCamera) -> None:
    for guid in (GUID_A, GUID_B):
        w = await Wire.open(vcam.port)
        assert (await w.init(guid, "anyone"))[4:8] == b"\x02\0\0\0"
        w.close()
        for _ in range(500):
            if vcam.session is None:
                break
            await asyncio.sleep(0.01)


# -- UPnP and SSDP ----------------------------------------------------------------------------


@pytest.fixture
async def upnp(vcam: VirtualCamera) -> AsyncIterator[CameraUpnp]:
    services = CameraUpnp(canon(vcam).upnp_description, host="127.0.0.1", ssdp_port=0)
    await services.start()
    try:
        yield services
    finally:
        await services.stop()


async def http_get(url: str) -> tuple[int, bytes]:
    def fetch() -> tuple[int, bytes]:
        # the headers a 6D wants before it arms PTP/IP (§2); the simulator ignores them
        request = urllib.request.Request(
            url,
            headers={
                "User-Agent": "Microsoft-Windows/10.0 UPnP/1.0",
                "Accept": "text/xml, application/xml",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    return await asyncio.get_running_loop().run_in_executor(None, fetch)


async def test_description_is_served_and_parses(upnp: CameraUpnp, vcam: VirtualCamera) -> None:
    url = upnp.http.location
    assert url == f"http://127.0.0.1:{upnp.http.port}/upnp/CameraDevDesc.xml"
    status, body = await http_get(url)
    assert status == 200
    root = ET.fromstring(body)
    ns = {"u": "urn:schemas-upnp-org:device-1-0", "c": "urn:schemas-canon-com:schema-upnp"}
    device = root.find("u:device", ns)
    assert device is not None
    assert device.findtext("u:friendlyName", namespaces=ns) == "Canon EOS 5D Mark III"
    assert device.findtext("u:manufacturer", namespaces=ns) == "Canon"
    assert device.findtext("u:serialNumber", namespaces=ns) == "012345678901"
    mac = canon(vcam).mac.hex().upper()
    assert device.findtext("u:UDN", namespaces=ns) == f"uuid:00000000-0000-0000-0001-{mac}"
    service = device.find("u:serviceList/u:service", ns)
    assert service is not None
    assert service.findtext("u:serviceType", namespaces=ns) == WFT_SERVICE
    assert service.findtext("c:X_deviceNickname", namespaces=ns) == "EOS5D3"
    assert service.findtext("c:X_targetId", namespaces=ns) == (
        "uuid:FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"
    )
    assert root.findtext("u:URLBase", namespaces=ns) == f"http://127.0.0.1:{upnp.http.port}/upnp/"
    status, _ = await http_get(url.replace("CameraDevDesc", "Other"))
    assert status == 404


def m_search(st: str, port: int, man: str = '"ssdp:discover"') -> list[str]:
    """Send one M-SEARCH by unicast to 127.0.0.1:port; every answer within 0.5 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        message = (
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
            f"MAN: {man}\r\nMX: 1\r\nST: {st}\r\n\r\n"
        )
        sock.sendto(message.encode(), ("127.0.0.1", port))
        answers = []
        try:
            while True:
                answers.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        return answers


def headers(answer: str) -> dict[str, str]:
    lines = answer.split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    return {k.upper(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}


async def test_ssdp_m_search_gets_a_unicast_200_with_location(upnp: CameraUpnp) -> None:
    loop = asyncio.get_running_loop()
    answers = await loop.run_in_executor(None, m_search, WFT_SERVICE, upnp.ssdp.port)
    (answer,) = answers
    assert answer.endswith("\r\n\r\n")
    fields = headers(answer)
    assert fields["LOCATION"] == upnp.http.location
    assert fields["ST"] == WFT_SERVICE
    assert fields["USN"] == f"{upnp.http.describe().udn}::{WFT_SERVICE}"
    assert fields["SERVER"] == "Camera OS/1.0 UPnP/1.0 Canon Device Discovery/1.0"
    assert "CACHE-CONTROL" in fields and "EXT" in fields
    every = await loop.run_in_executor(None, m_search, "ssdp:all", upnp.ssdp.port)
    assert {headers(a)["ST"] for a in every} >= {"upnp:rootdevice", WFT_SERVICE}
    root = await loop.run_in_executor(None, m_search, "upnp:rootdevice", upnp.ssdp.port)
    assert len(root) == 1
    for st, man in ((SMARTPHONE_SERVICE, '"ssdp:discover"'), ("ssdp:all", "nonsense")):
        assert await loop.run_in_executor(None, m_search, st, upnp.ssdp.port, man) == []


async def test_ssdp_notify_is_the_cameras_and_goes_only_where_told(upnp: CameraUpnp) -> None:
    (alive,) = upnp.ssdp.notify("ssdp:alive")
    lines = alive.decode().split("\r\n")
    assert lines[:3] == [
        "NOTIFY * HTTP/1.1",
        "Host: 239.255.255.250:1900",
        "Cache-Control: max-age=1800",
    ]
    assert lines[3] == f"Location: {upnp.http.location}"
    assert lines[4:7] == [
        f"NT: {WFT_SERVICE}",
        "NTS: ssdp:alive",
        "Server: Camera OS/1.0 UPnP/1.0 Canon Device Discovery/1.0",
    ]
    assert lines[7].startswith("USN: uuid:00000000-0000-0000-0001-")
    (bye,) = upnp.ssdp.notify("ssdp:byebye")
    assert b"NTS: ssdp:byebye" in bye and b"Location" not in bye
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        upnp.ssdp.send_notify(sink.getsockname())
        loop = asyncio.get_running_loop()
        got = await asyncio.wait_for(loop.sock_recv(sink, 4096), WAIT)
    assert got == alive


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def simulate(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ptpip.cli.main", "simulate", "-t", "canon", "-p", "0", "--upnp",
         "--ssdp-port", "0", "--storage", str(tmp_path / "card")],
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
                proc.wait()


async def test_simulate_canon_upnp_prints_the_description_url(
    simulate: subprocess.Popen[str],
) -> None:
    assert simulate.stdout is not None
    loop = asyncio.get_running_loop()
    lines = [await loop.run_in_executor(None, simulate.stdout.readline) for _ in range(3)]
    assert lines[0].startswith("listening on 127.0.0.1:")
    assert lines[1].startswith("upnp description http://127.0.0.1:")
    url = lines[1].split()[-1]
    status, body = await http_get(url)
    assert status == 200 and b"ICPO-WFTEOSSystemService" in body
    port = int(lines[2].split(":")[1].split()[0])
    (answer,) = await loop.run_in_executor(None, m_search, WFT_SERVICE, port)
    assert headers(answer)["LOCATION"] == url


def test_simulate_pairing_is_confirmed_with_enter(tmp_path: Path) -> None:
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "ptpip.cli.main", "simulate", "-t", "canon", "-p", "0", "--pairing",
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
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            name = "phone".encode("utf-16-le") + b"\0\0"
            payload = GUID_A + name + struct.pack("<I", 0x0001_0000)
            sock.sendall(struct.pack("<II", 8 + len(payload), 1) + payload)
            child.expect("'phone' asks to connect; press Enter to accept\r\n")
            sock.settimeout(0.3)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # held while the camera asks
            sock.settimeout(WAIT)
            child.sendline("")
            ack = sock.recv(8)
            assert ack[4:8] == b"\x02\0\0\0"
    finally:
        child.kill(signal.SIGINT)
        child.expect(pexpect.EOF)
        child.close()
