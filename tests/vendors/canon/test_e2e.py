"""ptpip's Canon client against the virtual Canon EOS, both in the test's event loop.

The client's property cache is filled by GetEvent only (vendor-canon.md §8); these tests go
through the same paths as the CLI: unified names ("iso", "aperture", …) resolved and values
parsed and formatted by :mod:`ptpip.props` for the Canon vendor.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.factory import make_camera
from ptpip.camera.server import VirtualCamera
from ptpip.client.camera import Camera, LiveViewFrame, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import InitFailError, ResponseError
from ptpip.props import format_value, parse_value, resolve_property
from ptpip.ptp.datasets import PropEnum
from ptpip.vendors.canon.camera import CanonCamera
from ptpip.vendors.canon.codec import PropValueChanged
from ptpip.vendors.canon.profile import CanonProfile
from tests.client.conftest import WAIT, bounded

CANON = "canon"


@pytest.fixture
async def eos(card: Path) -> AsyncIterator[VirtualCamera]:
    cam = make_camera(CANON, card, port=0)
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


def body(vcam: VirtualCamera) -> CanonCamera:
    personality = vcam.personality
    assert isinstance(personality, CanonCamera)
    return personality


@pytest.fixture
async def camera(eos: VirtualCamera, id_store: IdentityStore) -> AsyncIterator[Camera]:
    cam = await open_camera(
        "127.0.0.1", eos.port, vendor=CANON, identity_store=id_store, timeout=WAIT
    )
    try:
        yield cam
    finally:
        await cam.close()


async def test_opens_as_an_eos(camera: Camera, eos: VirtualCamera) -> None:
    info = await camera.device_info()
    assert (info.manufacturer, info.model, info.vendor_extension_id) == (
        "Canon Inc.",
        "Canon EOS 5D Mark III",
        0xB,
    )
    assert isinstance(camera.profile, CanonProfile)
    # open() drained the full dump into the cache: every value the body has
    dumped = {p for p in body(eos).eos.values if p not in (0xD115, 0xD1D0, 0xD1D1, 0xD1AF)}
    assert dumped <= set(camera.profile.values)


@pytest.mark.parametrize(
    ("name", "code", "shown", "text", "raw", "after"),
    [
        ("iso", 0xD103, "3200", "200", 0x50, "200"),
        ("aperture", 0xD101, "f/5.6", "8", 0x38, "f/8"),
        ("shutterspeed", 0xD102, "2.5 s", "1/125", 0x70, "1/125 s"),
        ("exp-bias", 0xD104, "0", "-1/3", 0xFD, "-1/3"),
    ],
)
async def test_get_set_describe_by_name(
    camera: Camera,
    eos: VirtualCamera,
    name: str,
    code: int,
    shown: str,
    text: str,
    raw: int,
    after: str,
) -> None:
    assert resolve_property(name, CANON) == code
    desc = await camera.describe(code)
    assert isinstance(desc.form, PropEnum) and desc.get_set == 1
    assert format_value(code, desc.current, CANON, datatype=desc.datatype) == shown
    value = parse_value(code, text, CANON, desc)
    assert value == raw and value in desc.form.values
    await camera.set_property(code, value)
    assert body(eos).eos.values[code] == raw  # the camera's own state
    assert await camera.get_property(code) == raw  # the cache, confirmed by PropValueChanged
    desc = await camera.describe(code)
    assert format_value(code, desc.current, CANON, datatype=desc.datatype) == after


async def test_a_value_outside_the_list_is_refused(camera: Camera) -> None:
    with pytest.raises(ResponseError) as caught:
        await camera.set_property(0xD103, 0x51)
    assert caught.value.code == 0x201C


async def test_a_dial_turn_arrives_as_an_event(camera: Camera, eos: VirtualCamera) -> None:
    with camera.events(0xC189) as sub:
        body(eos).camera_changed(0xD103, 0x60)  # ISO 800 on the body
        while True:
            event = await sub.get(WAIT)
            if event.detail == PropValueChanged(0xD103, 0x60):
                break
    assert await camera.get_property(0xD103) == 0x60


async def test_capture_to_card_gives_a_handle(camera: Camera, eos: VirtualCamera) -> None:
    assert await camera.get_property(0xD11C) == 2
    (image,) = await bounded(camera.capture(WAIT))
    assert image.handle is not None and image.preview is None
    info = await camera.object_info(image.handle)
    assert info.filename == image.filename
    path = body(eos).store.path(image.handle)
    assert path.read_bytes()[:2] == b"\xff\xd8"


async def test_capture_to_host_gives_the_picture(camera: Camera, eos: VirtualCamera) -> None:
    await camera.set_property(0xD11C, 4)
    before = {p for p in body(eos).store.root.rglob("*") if p.is_file()}
    (image,) = await bounded(camera.capture(WAIT))
    assert image.handle is None and image.preview is not None
    with Image.open(io.BytesIO(image.preview)) as img:
        assert img.format == "JPEG"
    assert {p for p in body(eos).store.root.rglob("*") if p.is_file()} == before
    assert body(eos).held_for_host == ()  # TransferComplete released it


async def first_frames(camera: Camera, count: int) -> list[LiveViewFrame]:
    """The first ``count`` live-view frames, within WAIT; the stream is closed after."""
    frames: list[LiveViewFrame] = []
    stream = camera.liveview()
    try:
        async with asyncio.timeout(WAIT):
            async for frame in stream:
                frames.append(frame)
                if len(frames) == count:
                    break
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()  # the client's finally: EVF output back to 0
    return frames


async def test_liveview_yields_jpeg_frames(camera: Camera, eos: VirtualCamera) -> None:
    frames = await first_frames(camera, 3)
    for frame in frames:
        with Image.open(io.BytesIO(frame.jpeg)) as img:
            assert img.format == "JPEG" and img.size == (640, 480)
    assert [f.counter for f in frames] == [0, 1, 2]
    assert len({f.jpeg for f in frames}) == 3  # each frame is new
    assert body(eos).frames_sent == 3
    assert body(eos).eos.values[0xD1B0] == 0
    assert not body(eos).liveview_on


async def test_pairing_waits_for_the_camera_then_refuses_strangers(
    card: Path, id_store: IdentityStore, tmp_path: Path
) -> None:
    vcam = make_camera(CANON, card, port=0, pairing=True, pairing_delay=2.2)
    await vcam.start()
    try:
        notices: list[str] = []
        cam = await open_camera(
            "127.0.0.1", vcam.port, vendor=CANON, identity_store=id_store, timeout=WAIT,
            notice=notices.append,
        )  # fmt: skip
        await cam.close()
        # the client told its user to look at the camera while the ack was held (after 1.5 s)
        assert len(notices) == 1 and "Confirm the connection on the camera" in notices[0]
        paired = body(vcam).paired
        assert paired is not None
        # the same client (its stored GUID and name) comes back without a prompt
        again = await open_camera(
            "127.0.0.1", vcam.port, vendor=CANON, identity_store=id_store, timeout=WAIT
        )
        await again.close()
        assert body(vcam).paired == paired
        with pytest.raises(InitFailError) as caught:
            await open_camera(
                "127.0.0.1", vcam.port, vendor=CANON, timeout=WAIT,
                identity_store=IdentityStore(tmp_path / "other.json"),
            )  # fmt: skip
        assert caught.value.reason == 1 and "pair again" in str(caught.value)
    finally:
        await vcam.stop()


async def test_an_eos_is_detected_without_being_named(
    eos: VirtualCamera, id_store: IdentityStore
) -> None:
    """No vendor given: opened as a standard camera, its DeviceInfo (Manufacturer "Canon
    Inc.") makes it an EOS, and the EOS set-up runs (remote and event mode)."""
    cam = await open_camera("127.0.0.1", eos.port, identity_store=id_store, timeout=WAIT)
    try:
        assert isinstance(cam.profile, CanonProfile)
        assert cam.dialect_reason == 'Manufacturer "Canon Inc."'
        session = eos.session
        assert session is not None  # SetRemoteMode(1) and SetEventMode(1) came after it
        assert (session.state["eos"].remote_mode, session.state["eos"].event_mode) == (1, 1)  # type: ignore[attr-defined]
        assert await cam.get_property(0xD103) == 0x70  # the GetEvent cache: ISO 400
    finally:
        await bounded(cam.close())
    # asked for generic, it stays generic
    cam = await open_camera(
        "127.0.0.1", eos.port, vendor="generic", identity_store=id_store, timeout=WAIT
    )
    try:
        assert type(cam.profile).__name__ == "VendorProfile"
        assert cam.dialect_reason == "asked for"
    finally:
        await bounded(cam.close())
