"""The frame loop: newest frame only, shared by watchers, running only while watched."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from ptpip.client.camera import Camera
from ptpip.errors import OperationNotSupported, TransportError
from ptpip.liveview.hub import Frame, FrameHub, LiveSource, LiveViewEnded
from ptpip.ptp.codes import ResponseCode
from tests.liveview.conftest import WAIT, ScriptedCamera, wait_until

FRAMES = [bytes([0xFF, 0xD8, n, 0x00, 0xFF, 0xD9]) for n in range(8)]  # not decodable


def source_of(camera: ScriptedCamera, linger: float = 0.05) -> LiveSource:
    return LiveSource(cast(Camera, camera), linger=linger, stop_timeout=0.5)


async def test_a_busy_watcher_gets_the_newest_frame_never_a_backlog() -> None:
    camera = ScriptedCamera(FRAMES, interval=0.002)
    source = source_of(camera)
    try:
        async with source.watching() as hub:
            first = await hub.next(0, WAIT)
            assert first is not None
            await asyncio.sleep(0.05)  # busy: a dozen frames come meanwhile
            second = await hub.next(first.seq, WAIT)
            assert second is not None
            assert second.seq > first.seq + 3  # skipped, not queued
            assert second is hub.latest  # what it got is the newest there is
    finally:
        await source.close()


async def test_frames_pass_byte_for_byte_with_the_camera_counter() -> None:
    camera = ScriptedCamera(FRAMES, interval=0.01)
    source = source_of(camera)
    try:
        got: list[Frame] = []
        async with source.watching() as hub:
            seq = 0
            while len(got) < 5:
                frame = await hub.next(seq, WAIT)
                assert frame is not None
                seq = frame.seq
                got.append(frame)
        for frame in got:
            assert frame.counter is not None
            assert frame.jpeg == FRAMES[frame.counter % len(FRAMES)]
            assert frame.jpeg is camera.frames[frame.counter % len(FRAMES)]  # not even copied
    finally:
        await source.close()


async def test_two_watchers_share_one_live_view() -> None:
    camera = ScriptedCamera(FRAMES)
    source = source_of(camera)

    async def watch(n: int) -> list[int]:
        seen: list[int] = []
        async with source.watching() as hub:
            while len(seen) < n:
                frame = await hub.next(seen[-1] if seen else 0, WAIT)
                assert frame is not None
                seen.append(frame.seq)
        return seen

    try:
        a, b = await asyncio.gather(watch(10), watch(10))
        assert a == sorted(set(a)) and b == sorted(set(b))
        assert camera.started == 1
    finally:
        await source.close()


async def test_the_live_view_stops_after_the_last_watcher_and_restarts() -> None:
    camera = ScriptedCamera(FRAMES)
    source = source_of(camera, linger=0.05)
    try:
        await source.first_frame(WAIT)
        await wait_until(lambda: camera.closed == 1, what="the live view to stop")
        assert not source.running
        assert camera.active == 0
        await source.first_frame(WAIT)
        assert camera.started == 2
    finally:
        await source.close()
    assert camera.active == 0


async def test_a_watcher_back_within_the_linger_keeps_it_running() -> None:
    camera = ScriptedCamera(FRAMES)
    source = source_of(camera, linger=0.5)
    try:
        await source.first_frame(WAIT)
        await asyncio.sleep(0.1)
        await source.first_frame(WAIT)  # a reloading page
        assert camera.started == 1 and camera.closed == 0
    finally:
        await source.close()
    assert camera.closed == 1


async def test_close_stops_the_live_view_and_ends_every_waiter() -> None:
    camera = ScriptedCamera(FRAMES)
    source = source_of(camera, linger=60.0)
    await source.acquire()
    waiter = asyncio.ensure_future(source.hub.next(10**9, WAIT))
    await asyncio.sleep(0.02)
    await source.close()
    assert await asyncio.wait_for(waiter, WAIT) is None
    assert camera.active == 0
    with pytest.raises(LiveViewEnded):
        await source.acquire()


async def test_a_silent_camera_is_cancelled_when_stopping() -> None:
    camera = ScriptedCamera(FRAMES, stall_after=2)
    source = source_of(camera)
    await source.first_frame(WAIT)
    await asyncio.wait_for(source.close(), WAIT)
    assert camera.active == 0


async def test_a_camera_without_live_view_fails_the_first_frame() -> None:
    error = OperationNotSupported(
        ResponseCode.OPERATION_NOT_SUPPORTED, message="generic cameras have no live view"
    )
    camera = ScriptedCamera(FRAMES, fail_at=0, error=error)
    source = source_of(camera)
    try:
        with pytest.raises(LiveViewEnded, match="generic cameras have no live view"):
            await source.first_frame(WAIT)
        assert source.hub.error == "generic cameras have no live view"
    finally:
        await source.close()


async def test_a_failure_mid_stream_wakes_the_watchers() -> None:
    camera = ScriptedCamera(FRAMES, fail_at=3, error=TransportError("stream port closed"))
    source = source_of(camera)
    try:
        async with source.watching() as hub:
            with pytest.raises(LiveViewEnded, match="stream port closed"):
                seq = 0
                for _ in range(100):
                    frame = await hub.next(seq, WAIT)
                    assert frame is not None
                    seq = frame.seq
    finally:
        await source.close()


async def test_hub_timeout_and_fps() -> None:
    hub = FrameHub()
    with pytest.raises(TimeoutError):
        await hub.next(0, 0.01)
    for _ in range(5):
        hub.publish(b"x")
        await asyncio.sleep(0.01)
    assert hub.seq == 5
    assert 20 < hub.fps < 200
