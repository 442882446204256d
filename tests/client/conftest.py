"""Fixtures for end-to-end tests of the asyncio client against an in-loop virtual camera."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ptpip.camera.factory import make_camera
from ptpip.camera.generic import GenericCamera
from ptpip.camera.server import Faults, VirtualCamera
from ptpip.client.camera import Camera, connect
from ptpip.client.channel import Channel
from ptpip.client.identity import IdentityStore
from ptpip.client.session import Result
from ptpip.ip.framing import DataChunk, Dialect, FrameEvent, Framer
from ptpip.record import PcapRecorder

T = TypeVar("T")

#: Every wait in these tests is bounded by this many seconds.
WAIT = 5.0


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may touch the real ~/.config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def card(tmp_path: Path) -> Path:
    return tmp_path / "card"


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def vcam(card: Path, faults: Faults) -> AsyncIterator[VirtualCamera]:
    """A generic virtual camera on a free 127.0.0.1 port, in the test's own event loop."""
    cam = make_camera("generic", card, port=0, faults=faults)
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


@pytest.fixture
def id_store(tmp_path: Path) -> IdentityStore:
    return IdentityStore(tmp_path / "id.json")


@pytest.fixture
async def camera(vcam: VirtualCamera, id_store: IdentityStore) -> AsyncIterator[Camera]:
    """A client connected to ``vcam`` with a session open."""
    async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT) as cam:
        yield cam


def generic(vcam: VirtualCamera) -> GenericCamera:
    personality = vcam.personality
    assert isinstance(personality, GenericCamera)
    return personality


def card_path(vcam: VirtualCamera, relative: str) -> Path:
    return generic(vcam).store.root / relative


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll ``predicate`` (cheaply, every loop turn or 1 ms) until true; bounded."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


async def bounded(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    async with asyncio.timeout(timeout):
        return await awaitable


#: Raw bytes a Wire keeps per direction (the packets are always all parsed).
WIRE_KEEP = 1 << 20


@dataclass
class Wire:
    """Both directions of a channel, parsed back into packets with fresh framers.

    Data payloads are not kept as packets; the raw bytes are kept up to WIRE_KEEP.
    """

    sent: list[FrameEvent] = field(default_factory=list)
    received: list[FrameEvent] = field(default_factory=list)
    sent_bytes: bytearray = field(default_factory=bytearray)
    received_bytes: bytearray = field(default_factory=bytearray)
    _out: Framer = field(default_factory=lambda: Framer(Dialect.CIPA))
    _in: Framer = field(default_factory=lambda: Framer(Dialect.CIPA))

    def __call__(self, sent: bool, data: bytes) -> None:
        framer, into, raw = (
            (self._out, self.sent, self.sent_bytes)
            if sent
            else (self._in, self.received, self.received_bytes)
        )
        raw += data[: max(0, WIRE_KEEP - len(raw))]
        framer.feed(data)
        into.extend(event for event in framer.events() if not isinstance(event, DataChunk))


def tap(channel: Channel | None) -> Wire:
    """Record what goes over ``channel`` from now on."""
    assert channel is not None
    wire = Wire()
    channel.tap = wire
    return wire


@contextlib.contextmanager
def counting_transactions(camera: Camera) -> Iterator[list[tuple[int, tuple[int, ...]]]]:
    """Record (operation code, params) of every transaction the camera object runs."""
    calls: list[tuple[int, tuple[int, ...]]] = []
    original = camera.connection.transact

    async def transact(code: int, params: tuple[int, ...] = (), **kw: Any) -> Result:
        calls.append((code, params))
        return await original(code, params, **kw)

    camera.connection.transact = transact  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del camera.connection.transact


class WriteLog(PcapRecorder):
    """Instead of a pcap: checks that each write of the client ends on a packet boundary."""

    def __init__(self) -> None:  # no file
        self.cut: list[str] = []
        self.count = 0

    def stream(
        self, local: tuple[str, int], remote: tuple[str, int]
    ) -> Callable[[bool, bytes], None]:
        left = 0  # bytes of the current packet still to come

        def tap(sent: bool, data: bytes) -> None:
            nonlocal left
            if not sent:
                return
            self.count += 1
            pos = 0
            while pos < len(data):
                if left == 0:
                    if len(data) - pos < 4:
                        self.cut.append(f"a length field cut: {data.hex()}")
                        return
                    left = struct.unpack_from("<I", data, pos)[0]
                take = min(left, len(data) - pos)
                left -= take
                pos += take
            if left:
                self.cut.append(f"{left} bytes of a packet follow in another write: {data.hex()}")
                left = 0

        return tap

    def close(self) -> None:
        pass
