"""Fixtures for the live-view tests: a scripted camera, and the virtual X-T1 in the test's loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ptpip.camera.factory import make_camera
from ptpip.camera.server import VirtualCamera
from ptpip.client.camera import Camera, LiveViewFrame, connect
from ptpip.client.identity import IdentityStore
from ptpip.errors import PtpError
from ptpip.ptp.codes import Vendor
from ptpip.ptp.datasets import DeviceInfo
from ptpip.vendors.fuji.camera import FujiCamera

#: Every wait in these tests is bounded by this many seconds.
WAIT = 10.0


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may touch the real ~/.config, nor open a real browser."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("BROWSER", raising=False)


class ScriptedCamera:
    """Just enough of :class:`Camera` for the frame loop (and a server without overlay): a
    live view that yields the given bytes every ``interval`` seconds, and counts how often
    it was started and closed."""

    vendor = Vendor.GENERIC

    def __init__(
        self,
        frames: list[bytes],
        *,
        interval: float = 0.005,
        fail_at: int | None = None,
        error: PtpError | None = None,
        stall_after: int | None = None,
    ) -> None:
        self.frames = frames
        self.interval = interval
        self.fail_at = fail_at
        self.error = error
        self.stall_after = stall_after
        self.started = 0
        self.closed = 0
        self.yielded = 0

    async def device_info(self) -> DeviceInfo:
        return DeviceInfo(manufacturer="ptpip", model="scripted camera")

    @property
    def active(self) -> int:
        return self.started - self.closed

    def liveview(self) -> AsyncIterator[LiveViewFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[LiveViewFrame]:
        self.started += 1
        try:
            index = 0
            while True:
                if self.fail_at is not None and index >= self.fail_at:
                    assert self.error is not None
                    raise self.error
                if self.stall_after is not None and index >= self.stall_after:
                    await asyncio.sleep(3600)  # a camera that went quiet
                yield LiveViewFrame(self.frames[index % len(self.frames)], index & 0xFF)
                self.yielded += 1
                index += 1
                await asyncio.sleep(self.interval)
        finally:
            self.closed += 1


async def wait_until(
    predicate: Callable[[], bool], timeout: float = WAIT, what: str = "a condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def fuji_vcam(tmp_path: Path) -> AsyncIterator[VirtualCamera]:
    """A virtual X-T1 at 25 frames per second, in the test's event loop."""
    cam = make_camera("fuji", tmp_path / "card", port=0, liveview_fps=25.0)
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


def fuji_of(vcam: VirtualCamera) -> FujiCamera:
    personality = vcam.personality
    assert isinstance(personality, FujiCamera)
    return personality


@pytest.fixture
async def fuji_camera(fuji_vcam: VirtualCamera, tmp_path: Path) -> AsyncIterator[Camera]:
    """A Fuji client connected to ``fuji_vcam``."""
    ports = fuji_vcam.ports
    async with connect(
        "127.0.0.1",
        ports["command"],
        vendor="fuji",
        event_port=ports["event"],
        stream_port=ports["stream"],
        identity_store=IdentityStore(tmp_path / "id.json"),
        timeout=WAIT,
    ) as camera:
        yield camera


def stream_connections(vcam: VirtualCamera) -> int:
    """Live-view connections the virtual camera has open now."""
    session = vcam.session
    return 0 if session is None else sum(1 for c in session.stream_conns if c.is_open)
