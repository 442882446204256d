"""Our Fuji client against our virtual Fuji camera, through the library API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ptpip.camera.factory import make_camera
from ptpip.camera.server import VirtualCamera
from ptpip.client.camera import Camera, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import InitFailError
from ptpip.vendors.fuji.profile import FujiProfile


@pytest.fixture
async def vfuji(tmp_path: Path) -> AsyncIterator[VirtualCamera]:
    cam = make_camera("fuji", tmp_path / "card", port=0, liveview_fps=50)
    await cam.start()
    yield cam
    await cam.stop()


async def connect(cam: VirtualCamera, tmp_path: Path, name: str | None = None) -> Camera:
    return await open_camera(
        cam.host,
        cam.ports["command"],
        vendor="fuji",
        event_port=cam.ports["event"],
        stream_port=cam.ports["stream"],
        name=name,
        identity_store=IdentityStore(tmp_path / "ids.json"),
        timeout=5,
    )


async def test_properties_state_and_set(vfuji: VirtualCamera, tmp_path: Path) -> None:
    camera = await connect(vfuji, tmp_path)
    try:
        assert [d.code for d in await camera.properties()][:3] == [0x5012, 0x500C, 0x5005]
        await camera.set_property(0xD02A, 0x320)  # ISO 800
        assert await camera.get_property(0xD02A) == 0x320
        assert dict(await camera.state())[0xD02A] == 0x320
        film = await camera.describe(0xD001)
        assert film.datatype == 0x0004
    finally:
        await camera.close()


async def test_step_operations_move_the_exposure_bias(vfuji: VirtualCamera, tmp_path: Path) -> None:
    camera = await connect(vfuji, tmp_path)
    try:
        profile = camera.profile
        assert isinstance(profile, FujiProfile)
        await profile.step(camera, "exp-bias", up=True)
        assert await camera.get_property(0x5010) == 333
        await profile.step(camera, "exp-bias", up=False)
        assert await camera.get_property(0x5010) == 0
    finally:
        await camera.close()


async def test_liveview_frames_count_up(vfuji: VirtualCamera, tmp_path: Path) -> None:
    camera = await connect(vfuji, tmp_path)
    try:
        counters: list[int] = []
        async for frame in camera.liveview():
            assert frame.jpeg[:2] == b"\xff\xd8" and frame.jpeg[-2:] == b"\xff\xd9"
            assert frame.counter is not None
            counters.append(frame.counter)
            if len(counters) == 5:
                break
        assert counters == sorted(counters) and len(set(counters)) == 5
    finally:
        await camera.close()


async def test_capture_returns_the_preview_and_a_file_lands_on_the_card(
    vfuji: VirtualCamera, tmp_path: Path
) -> None:
    camera = await connect(vfuji, tmp_path)
    try:
        (shot,) = await camera.capture(timeout=5)
        assert shot.preview is not None and shot.preview[:2] == b"\xff\xd8"
        assert list((tmp_path / "card").rglob("*.JPG"))
    finally:
        await camera.close()


async def test_pairing_refusal_then_acceptance(tmp_path: Path) -> None:
    cam = make_camera("fuji", tmp_path / "card", port=0, pairing=True)
    await cam.start()
    try:
        with pytest.raises(InitFailError) as err:
            await connect(cam, tmp_path, name="studio")
        assert err.value.reason == 0x2019
        assert "change" in str(err.value)
        cam.personality.confirm_pairing()  # type: ignore[attr-defined]
        camera = await connect(cam, tmp_path, name="studio")
        await camera.close()
    finally:
        await cam.stop()
