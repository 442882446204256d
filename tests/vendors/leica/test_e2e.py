"""The Leica client against the virtual Leica, in one event loop (and once via ``ptpip``).

Short intervals stand in for the real ones: the camera's watchdog closes a session after 1 s
without LEKeepSessionActive, the client sends one every 0.3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ptpip.camera.server import Faults, VirtualCamera
from ptpip.client.camera import Camera, connect
from ptpip.client.identity import IdentityStore
from ptpip.errors import PtpError
from ptpip.ptp.datasets import PropEnum
from ptpip.testing import RunningCamera
from ptpip.vendors.leica.camera import LeicaCamera
from ptpip.vendors.leica.codec import LeicaStreamFrame
from ptpip.vendors.leica.profile import LeicaProfile
from tests.client.conftest import WAIT, bounded, wait_until

STILL_CAPTURE_MODE = 0x5013
WATCHDOG = 1.0
HEARTBEAT = 0.3


@contextlib.asynccontextmanager
async def session(
    card: Path,
    id_store: IdentityStore,
    *,
    heartbeat: float | None = HEARTBEAT,
    faults: Faults | None = None,
) -> AsyncIterator[tuple[LeicaCamera, Camera]]:
    leica = LeicaCamera(card, heartbeat_timeout=WATCHDOG, liveview_fps=30.0)
    server = VirtualCamera(leica, port=0, faults=faults)
    await server.start()
    try:
        profile = LeicaProfile(heartbeat_interval=heartbeat)
        async with connect(
            "127.0.0.1", server.port, vendor=profile, identity_store=id_store, timeout=WAIT
        ) as camera:
            yield leica, camera
    finally:
        await server.stop()


async def test_info(card: Path, id_store: IdentityStore) -> None:
    async with session(card, id_store) as (_, camera):
        info = await camera.device_info()
        assert (info.manufacturer, info.model) == ("Leica Camera AG", "LEICA Q3")
        # read after OpenLESession: the Leica operations are listed
        assert {0x9005, 0x901D, 0x9025} <= set(info.operations_supported)
        assert camera.connection.session_id == 0x412
        storages = await camera.storages()
        assert len(storages) == 1


async def test_get_set_describe(card: Path, id_store: IdentityStore) -> None:
    async with session(card, id_store) as (leica, camera):
        desc = await camera.describe(STILL_CAPTURE_MODE)
        assert desc.form == PropEnum((1, 2, 3))
        assert await camera.get_property(STILL_CAPTURE_MODE) == 1
        with camera.events(0x4006) as events:
            await camera.set_property(STILL_CAPTURE_MODE, 2)
            event = await events.get(WAIT)
        assert event.params == (STILL_CAPTURE_MODE, 0, 0)
        assert leica.props.get(STILL_CAPTURE_MODE) == 2
        assert await camera.get_property(STILL_CAPTURE_MODE) == 2
        assert len(await camera.properties()) == len(leica.props)


async def test_camera_side_change_reaches_events_and_cache(
    card: Path, id_store: IdentityStore
) -> None:
    async with session(card, id_store) as (leica, camera):
        profile = camera.profile
        assert isinstance(profile, LeicaProfile)
        assert await camera.get_property(STILL_CAPTURE_MODE) == 1
        with camera.events() as events:
            assert leica.change_property(STILL_CAPTURE_MODE, 3)
            event = await events.get(WAIT)
        assert (event.code, event.transaction_id) == (0x4006, None)
        await wait_until(lambda: profile.cached_value(STILL_CAPTURE_MODE) == 3)


async def test_capture_and_download(card: Path, id_store: IdentityStore, tmp_path: Path) -> None:
    async with session(card, id_store) as (leica, camera):
        (image,) = await camera.capture(timeout=WAIT)
        assert image.handle is not None and image.info is not None
        saved = await camera.download(image.handle, tmp_path)
        assert saved is not None
        original = leica.store.path(image.handle).read_bytes()
        assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(original).digest()


async def test_live_view(card: Path, id_store: IdentityStore) -> None:
    async with session(card, id_store) as (leica, camera):
        frames = []
        async for frame in camera.liveview():
            frames.append(frame)
            if len(frames) == 4:
                break
        assert [f.counter for f in frames] == [0, 1, 2, 3]
        for frame in frames:
            assert frame.jpeg.startswith(b"\xff\xd8") and frame.jpeg.endswith(b"\xff\xd9")
            assert isinstance(frame.extra, LeicaStreamFrame)
            assert len(frame.extra.tlvs) == 7
        profile = camera.profile
        assert isinstance(profile, LeicaProfile) and profile.stream_info is not None
        await wait_until(lambda: leica.props.get(0x5021) == 0)  # switched off again


async def test_idle_session_is_kept_alive_by_heartbeats(
    card: Path, id_store: IdentityStore
) -> None:
    async with session(card, id_store) as (leica, camera):
        await asyncio.sleep(3 * WATCHDOG)  # three watchdog periods of idleness
        assert leica.sessions_timed_out == 0
        assert leica.heartbeats >= 6
        assert await bounded(camera.get_property(STILL_CAPTURE_MODE)) == 1


async def test_without_heartbeats_the_camera_closes_the_session(
    card: Path, id_store: IdentityStore
) -> None:
    async with session(card, id_store, heartbeat=None) as (leica, camera):
        await wait_until(lambda: leica.sessions_timed_out == 1, timeout=3 * WATCHDOG)
        await wait_until(lambda: not camera.connection.is_open)
        with pytest.raises(PtpError):
            await camera.get_property(STILL_CAPTURE_MODE)


async def test_a_slow_download_does_not_starve_the_heartbeat(
    card: Path, id_store: IdentityStore, tmp_path: Path
) -> None:
    big = card / "DCIM" / "100LEICA" / "L1000001.DNG"
    big.parent.mkdir(parents=True)
    big.write_bytes(bytes(range(256)) * (2 * 4096 + 17))  # 2 MiB and a bit: 3 pieces
    faults = Faults()
    async with session(card, id_store, faults=faults) as (leica, camera):
        entry = await camera.find("DCIM/100LEICA/L1000001.DNG")
        before = leica.heartbeats
        faults.delay = 0.3  # every answer takes 0.3 s, the download about 1.5 s
        saved = await camera.download(entry.handle, tmp_path)
        faults.delay = 0.0
        assert saved is not None and saved.read_bytes() == big.read_bytes()
        assert leica.heartbeats > before  # heartbeats went between the pieces
        assert leica.sessions_timed_out == 0


def test_ptpip_watch_against_the_virtual_leica(tmp_path: Path) -> None:
    """``ptpip -t leica ... watch`` sees a DevicePropChanged the camera sends."""
    from tests.cli.conftest import LOOPBACK, Cli, wait_for_session

    with (
        RunningCamera("leica", storage=tmp_path / "card", host=LOOPBACK, port=0) as cam,
        contextlib.closing(Cli(tmp_path, cam.port)) as cli,
    ):
        leica = cam.personality
        assert isinstance(leica, LeicaCamera)
        info = cli.ok("-t", "leica", "info")
        assert "Leica Camera AG" in info.stdout
        watch = cli.start("-t", "leica", "watch", "--count", "1", "--timeout", "10")
        wait_for_session(cam)

        async def change() -> None:
            leica.change_property(STILL_CAPTURE_MODE, 2)

        cam.call(change)
        assert watch.wait() == 0, watch.err.text(timeout=5)
        assert "DevicePropChanged" in watch.out.text(timeout=5)
