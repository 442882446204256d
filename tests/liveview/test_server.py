"""The live-view web server against the virtual X-T1, in the test's own event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import cast

import aiohttp
import pytest
from PIL import Image

from ptpip.camera.server import VirtualCamera
from ptpip.client.camera import Camera, CapturedImage
from ptpip.liveview import running_server
from ptpip.liveview.mjpeg import CONTENT_TYPE, MultipartReader, Part
from ptpip.liveview.server import LiveServer
from ptpip.vendors.fuji.camera import _make_pictures
from tests.liveview.conftest import (
    WAIT,
    ScriptedCamera,
    fuji_of,
    stream_connections,
    wait_until,
)


@pytest.fixture
async def server(fuji_camera: Camera, tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = LiveServer(fuji_camera, save_dir=tmp_path / "saved", linger=0.3)
    await live.start()
    try:
        yield live
    finally:
        await live.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


async def read_parts(http: aiohttp.ClientSession, url: str, count: int) -> list[Part]:
    parts: list[Part] = []
    async with http.get(url + "stream.mjpg") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE
        reader = MultipartReader()
        while len(parts) < count:
            chunk = await response.content.readany()
            assert chunk, "the stream ended early"
            parts.extend(reader.feed(chunk))
    return parts[:count]


async def state_of(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    async with http.get(url + "api/state") as response:
        assert response.status == 200
        data: dict[str, object] = await response.json()
        return data


def overlay(state: dict[str, object]) -> dict[str, str]:
    items = state["items"]
    assert isinstance(items, list)
    return {item["key"]: item["value"] for item in items}


async def post(
    http: aiohttp.ClientSession, url: str, path: str, body: object
) -> tuple[int, dict[str, object]]:
    async with http.post(url + path, json=body) as response:
        data: dict[str, object] = await response.json()
        return response.status, data


async def test_the_stream_is_the_cameras_jpegs_untouched_for_two_clients(
    server: LiveServer, http: aiohttp.ClientSession, fuji_vcam: VirtualCamera
) -> None:
    pictures = set(await asyncio.to_thread(_make_pictures, "X-T1"))
    a, b = await asyncio.gather(read_parts(http, server.url, 12), read_parts(http, server.url, 12))
    for parts in (a, b):
        seqs = [int(p.headers["x-frame"]) for p in parts]
        assert seqs == sorted(set(seqs))
        for part in parts:
            assert part.headers["content-type"] == "image/jpeg"
            assert part.body in pictures  # byte for byte what the camera sent
            with Image.open(io.BytesIO(part.body)) as image:
                assert image.size == (640, 480)
    assert server.source.starts == 1  # one camera stream for both
    assert stream_connections(fuji_vcam) == 1


async def test_the_live_view_stops_when_the_last_client_leaves(
    server: LiveServer, http: aiohttp.ClientSession, fuji_vcam: VirtualCamera
) -> None:
    await read_parts(http, server.url, 3)
    await wait_until(lambda: server.viewers == 0, what="the client to be gone")
    await wait_until(
        lambda: stream_connections(fuji_vcam) == 0, what="the camera's stream to close"
    )
    assert not server.source.running
    await read_parts(http, server.url, 3)  # and it comes back
    assert server.source.starts >= 2


async def test_the_overlay_shows_the_camera_and_follows_its_changes(
    server: LiveServer, http: aiohttp.ClientSession, fuji_vcam: VirtualCamera
) -> None:
    state = await state_of(http, server.url)
    values = overlay(state)
    assert values["iso"] == "S6400"
    assert values["film"] == "Velvia"
    assert values["whitebalance"] == "automatic"
    assert values["battery"] == "3/3"
    assert state["camera"] == {
        "vendor": "fuji",
        "manufacturer": "FUJIFILM",
        "model": "X-T1",
        "serial": "PTPIP0000001",
    }
    # the photographer turns the dial: the next once-a-second read shows it
    fuji_of(fuji_vcam).props.update(0xD001, 11)
    for _ in range(40):
        if overlay(await state_of(http, server.url))["film"] == "Classic Chrome":
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the overlay never showed the new film simulation")


async def test_settings_from_the_page(
    server: LiveServer, http: aiohttp.ClientSession, fuji_vcam: VirtualCamera
) -> None:
    async with http.get(server.url + "api/controls") as response:
        controls = {c["key"]: c for c in (await response.json())["controls"]}
    assert list(controls) == ["iso", "shutter", "aperture", "exp-bias", "whitebalance"]
    assert "800" in controls["iso"]["values"]
    assert controls["whitebalance"]["current"] == "automatic"
    status, data = await post(http, server.url, "api/set", {"key": "iso", "value": "800"})
    assert status == 200, data
    assert data["value"] == "800"
    assert fuji_of(fuji_vcam).props.get(0xD02A) == 800
    assert overlay(await state_of(http, server.url))["iso"] == "800"
    status, data = await post(http, server.url, "api/set", {"key": "exp-bias", "value": "-2/3"})
    assert (status, data["value"]) == (200, "-2/3")
    status, data = await post(http, server.url, "api/set", {"key": "iso", "value": "123"})
    assert status == 400 and "allowed" in str(data["error"])
    status, data = await post(http, server.url, "api/set", {"key": "zoom", "value": "2"})
    assert status == 400 and "no setting 'zoom'" in str(data["error"])


async def test_capture_saves_the_image_and_shows_it(
    server: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    status, data = await post(http, server.url, "api/capture", {})
    assert status == 200, data
    captures = data["captures"]
    assert isinstance(captures, list) and len(captures) == 1
    saved = Path(captures[0]["saved"])
    assert saved.parent == tmp_path / "saved"
    async with http.get(server.url + captures[0]["url"].lstrip("/")) as response:
        assert response.content_type == "image/jpeg"
        assert await response.read() == saved.read_bytes()
    async with http.get(server.url + "capture/latest.jpg") as response:
        assert await response.read() == saved.read_bytes()
    state = await state_of(http, server.url)
    assert state["capture"] == captures[0]
    # a second capture does not overwrite the first file
    status, data = await post(http, server.url, "api/capture", {})
    second = data["captures"]
    assert isinstance(second, list)
    assert second[0]["saved"] != str(saved) and saved.exists()


async def test_capture_never_writes_through_a_planted_link(
    server: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Links planted in the save folder under every name the capture could take, pointing
    where nothing is yet (so that "does it exist?" checks see nothing)."""
    victim = tmp_path / "created-through-a-link"
    folder = tmp_path / "saved"
    folder.mkdir()
    for name in ("DSCF0001.JPG", "DSCF0001.JPG.part", "DSCF0001-1.JPG", "DSCF0001-1.JPG.part"):
        (folder / name).symlink_to(victim)
    real = server.camera.capture

    async def named(timeout: float = 30.0) -> list[CapturedImage]:  # the camera's own shot,
        shots = await real(timeout)  # under the name the links were planted for
        return [dataclasses.replace(shots[0], path=PurePosixPath("DSCF0001.JPG"))]

    server.camera.capture = named  # type: ignore[method-assign]
    status, data = await post(http, server.url, "api/capture", {})
    assert status == 200, data
    captures = data["captures"]
    assert isinstance(captures, list)
    saved = Path(captures[0]["saved"])
    assert saved.parent == folder and not saved.is_symlink()
    assert saved.read_bytes()[:2] == b"\xff\xd8"
    assert not victim.exists()


async def test_frame_jpg_page_and_assets(server: LiveServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.url + "frame.jpg") as response:
        assert response.content_type == "image/jpeg"
        Image.open(io.BytesIO(await response.read())).load()
    texts = []
    for path, kind in (
        ("", "text/html"),
        ("static/app.js", "text/javascript"),
        ("static/style.css", "text/css"),
    ):
        async with http.get(server.url + path) as response:
            assert response.status == 200 and response.content_type == kind
            texts.append(await response.text())
    assert 'src="/static/app.js"' in texts[0]
    assert not any(re.search(r"https?://", text) for text in texts)  # nothing from elsewhere
    async with http.get(server.url + "static/../server.py") as response:
        assert response.status == 404


async def test_other_sites_cannot_use_it(server: LiveServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.url + "api/state", headers={"Host": "evil.example:80"}) as r:
        assert r.status == 403
    async with http.post(server.url + "api/capture", data=b"{}") as r:
        assert r.status == 415  # not JSON: a plain form post from another site
    headers = {"Origin": "http://evil.example"}
    async with http.post(server.url + "api/capture", json={}, headers=headers) as r:
        assert r.status == 403


async def test_novf_never_reads_the_camera_state(
    fuji_camera: Camera, http: aiohttp.ClientSession
) -> None:
    live = LiveServer(fuji_camera, overlay=False, save_dir=None)
    url = await live.start()
    try:
        assert running_server(fuji_camera) is live
        for _ in range(3):
            state = await state_of(http, url)
            assert state["overlay"] is False and state["items"] == []
            await asyncio.sleep(0.05)
        assert live.state.reads == 0
    finally:
        await live.close()
    assert running_server(fuji_camera) is None


async def test_a_page_reload_keeps_the_live_view_and_closing_is_noticed(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    closed = asyncio.ensure_future(server.wait_pages_closed(poll=0.02))
    await read_parts(http, server.url, 2)
    await read_parts(http, server.url, 2)  # reloaded within the linger
    assert server.source.starts == 1
    await asyncio.wait_for(closed, WAIT)
    assert server.viewers_total == 2


async def test_bytes_pass_unchanged_and_a_client_leaving_a_quiet_camera_is_noticed(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ptpip.liveview.server._IDLE_CHECK", 0.05)
    frames = [bytes([0xFF, 0xD8, n]) * 1000 for n in range(3)]  # no JPEG a decoder would take
    camera = ScriptedCamera(frames, interval=0.01, stall_after=3)
    live = LiveServer(cast(Camera, camera), overlay=False, linger=0.05)
    url = await live.start()
    try:
        parts = await read_parts(http, url, 3)
        assert [p.body for p in parts] == frames  # byte for byte, in order
        assert [p.headers["x-camera-counter"] for p in parts] == ["0", "1", "2"]
        await wait_until(lambda: live.viewers == 0, what="the server to notice the client left")
        await wait_until(lambda: camera.active == 0, what="the live view to stop")
    finally:
        await live.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a file:// page
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"},
    ],
)
async def test_other_sites_cannot_start_the_live_view(
    server: LiveServer, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    for path in ("stream.mjpg", "frame.jpg", "api/state", "api/controls", "capture/latest.jpg"):
        async with http.get(server.url + path, headers=headers) as response:
            assert response.status == 403, path
    assert server.source.starts == 0  # the camera never left its menu
    assert server.state.reads == 0


async def test_players_and_the_page_itself_still_get_the_stream(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    same_origin = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    typed = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}  # the address bar
    ours = {"Origin": server.url.rstrip("/")}
    for headers in ({}, same_origin, typed, ours):  # {}: VLC, ffmpeg, curl
        async with http.get(server.url + "frame.jpg", headers=headers) as response:
            assert response.status == 200, headers
            assert (await response.read()).startswith(b"\xff\xd8")
    link = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
    }
    async with http.get(server.url, headers=link) as response:  # a link to the page
        assert response.status == 200
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def slowloris(port: int, request: bytes, pause: float, limit: float) -> float:
    """Send ``request`` a byte every ``pause`` seconds; how long until the server hangs up
    (fails after ``limit`` seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        for byte in request:
            if loop.time() - started > limit:
                pytest.fail(f"still connected after {limit} s")
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                if await asyncio.wait_for(reader.read(1), pause) == b"":
                    return loop.time() - started
            except TimeoutError:
                continue
            except ConnectionError:
                return loop.time() - started
        try:
            while await asyncio.wait_for(reader.read(4096), limit):
                pass
        except ConnectionError:
            pass
        return loop.time() - started
    finally:
        writer.close()


async def test_slow_or_silent_header_senders_are_disconnected(http: aiohttp.ClientSession) -> None:
    camera = ScriptedCamera([b"\xff\xd8frame"])
    live = LiveServer(cast(Camera, camera), overlay=False, header_timeout=0.5)
    url = await live.start()
    try:
        request = f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n".encode()
        request += b"X-Padding: " + b"a" * 200 + b"\r\n\r\n"
        dripped = await slowloris(live.port, request, 0.05, 5.0)
        assert 0.4 < dripped < 2.0
        silent = await slowloris(live.port, b"", 0.05, 5.0)
        assert silent < 2.0
        assert camera.started == 0
        async with http.get(url + "api/state") as response:  # a real client is served
            assert response.status == 200
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        writer.write(b"POST /api/set HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % live.port)
        writer.write(b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT)  # the body never ends
        assert head.startswith(b"HTTP/1.1 400")
        writer.close()
    finally:
        await live.close()
