"""A camera that lies: streams past what it announced, trickles, or swamps a sink."""

from __future__ import annotations

import asyncio
import functools
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from ptpip.client.camera import open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import ConnectionClosed, RemoteProtocolError, Timeout
from ptpip.ip.packets import Data, EndData, OperationRequest, StartData
from ptpip.ptp.codes import OperationCode
from tests.client.conftest import bounded
from tests.client.liar import LiarCamera, LyingObject, endless, trickle

JPEG = b"\xff\xd8" + os.urandom(4996) + b"\xff\xd9"  # 5,000 bytes


def files_in(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in folder.iterdir()}


@pytest.mark.parametrize("partial", [True, False], ids=["GetPartialObject", "GetObject"])
@pytest.mark.parametrize("announce", [5000, 10**9, 0xFFFF_FFFF_FFFF_FFFF])
async def test_a_stream_past_the_object_size_stops_at_the_limit(
    tmp_path: Path, id_store: IdentityStore, partial: bool, announce: int
) -> None:
    """Today 314 MB were written for a 5,000-byte object: never more than asked lands."""
    obj = LyingObject(1, "IMG_0001.JPG", JPEG)
    sender = functools.partial(endless, announce=announce)
    out = tmp_path / "out"
    out.mkdir()
    async with LiarCamera([obj], partial=partial, sender=sender) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=2.0)
        try:
            began = time.monotonic()
            with pytest.raises(RemoteProtocolError) as err:
                await bounded(cam.download(1, out))
            assert time.monotonic() - began < 3.5
        finally:
            await bounded(cam.close())
    message = str(err.value)
    assert "Liar 1" in message  # names the camera
    assert "5000" in message
    assert "IMG_0001.JPG" not in files_in(out)
    assert sum(files_in(out).values()) <= 5000


async def test_a_local_sink_failure_aborts_the_transaction_at_once(
    id_store: IdentityStore,
) -> None:
    """After the in-memory limit trips, the client cancels and reports the real cause, not a
    later Timeout (today 22 GB were swallowed and a Timeout came out)."""
    obj = LyingObject(1, "IMG_0001.JPG", JPEG)
    async with LiarCamera([obj], partial=False, sender=endless) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=5.0)
        try:
            from ptpip.client.session import BytesSink

            sink = BytesSink(limit=1 << 20)
            began = time.monotonic()
            with pytest.raises(RemoteProtocolError) as err:
                await bounded(cam.read_object(1, sink), 10.0)
            took = time.monotonic() - began
        finally:
            await bounded(cam.close())
    assert "1048576" in str(err.value)
    assert took < 3.0  # well before the 5 s timeout
    assert liar.cancels  # a Cancel went out for the transaction
    assert len(sink.buffer) <= 1 << 20


async def test_a_camera_that_keeps_streaming_after_cancel_is_dropped(
    id_store: IdentityStore,
) -> None:
    obj = LyingObject(1, "IMG_0001.JPG", JPEG)
    async with LiarCamera([obj], partial=False, sender=endless, ignore_cancel=True) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=5.0)
        try:
            from ptpip.client.session import BytesSink

            tracemalloc.start()
            with pytest.raises(RemoteProtocolError):
                await bounded(cam.read_object(1, BytesSink(limit=1 << 20)), 10.0)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            await bounded(cam.close())
    assert peak < 16 << 20


@pytest.mark.parametrize("partial", [True, False], ids=["GetPartialObject", "GetObject"])
async def test_a_trickle_cannot_hold_the_client_past_its_timeout(
    tmp_path: Path, id_store: IdentityStore, partial: bool
) -> None:
    obj = LyingObject(1, "IMG_0001.JPG", JPEG)
    out = tmp_path / "out"
    out.mkdir()
    async with LiarCamera([obj], partial=partial, sender=trickle) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=1.0)
        try:
            began = time.monotonic()
            with pytest.raises(Timeout) as err:
                await bounded(cam.download(1, out), 10.0)
            took = time.monotonic() - began
        finally:
            await bounded(cam.close())
    assert 0.9 < took < 2.5
    assert "progress" in str(err.value)
    assert "IMG_0001.JPG" not in files_in(out)


async def test_one_byte_per_partial_transaction_hits_the_no_progress_deadline(
    tmp_path: Path, id_store: IdentityStore
) -> None:
    """Every GetPartialObject answered quickly with a single byte: each transaction makes
    progress, the transfer as a whole does not."""
    big = LyingObject(1, "BIG.MOV", bytes(50 * 1024 * 1024))

    async def one_byte(
        cam: LiarCamera,
        writer: asyncio.StreamWriter,
        tid: int,
        o: LyingObject,
        off: int,
        n: int | None,
    ) -> None:
        await asyncio.sleep(0.01)
        await cam.send_data(writer, tid, o.data[off : off + 1])
        cam.respond(writer, 0x2001, tid)

    out = tmp_path / "out"
    out.mkdir()
    async with LiarCamera([big], sender=one_byte) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=1.0)
        try:
            began = time.monotonic()
            with pytest.raises(Timeout) as err:
                await bounded(cam.download(1, out), 10.0)
            took = time.monotonic() - began
        finally:
            await bounded(cam.close())
    assert took < 2.5
    assert "progress" in str(err.value)
    partials = [p for c, p in liar.requests if c == OperationCode.GET_PARTIAL_OBJECT]
    assert 10 < len(partials) < 1000


async def test_an_oversized_dataset_is_refused_before_it_is_buffered(
    id_store: IdentityStore,
) -> None:
    """A 64 MiB handle list is a clear error, not gigabytes of Python ints."""
    obj = LyingObject(1, "IMG_0001.JPG", JPEG)
    async with LiarCamera([obj]) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=2.0)
        count = 16 * 1024 * 1024
        original = liar._answer

        async def op(writer: asyncio.StreamWriter, req: OperationRequest) -> None:
            if req.code != OperationCode.GET_OBJECT_HANDLES:
                await original(writer, req)
                return
            tid = req.transaction_id  # 64 MiB of handles, streamed in 1 MiB packets
            writer.write(StartData(tid, 4 + 4 * count).encode())
            writer.write(Data(tid, count.to_bytes(4, "little")).encode())
            piece = Data(tid, bytes(1 << 20)).encode()
            for _ in range(64):
                writer.write(piece)
                await writer.drain()
            writer.write(EndData(tid).encode())
            liar.respond(writer, 0x2001, tid)

        liar._answer = op  # type: ignore[method-assign]
        try:
            tracemalloc.start()
            with pytest.raises(RemoteProtocolError) as err:
                await bounded(cam.object_handles(), 10.0)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert "GetObjectHandles" in str(err.value)
            assert peak < 24 << 20
        finally:
            await bounded(cam.close())


async def test_after_a_refused_stream_the_same_camera_can_be_used_again(
    tmp_path: Path, id_store: IdentityStore
) -> None:
    obj = LyingObject(1, "IMG_0001.JPG", JPEG)
    out = tmp_path / "out"
    out.mkdir()
    async with LiarCamera([obj], sender=functools.partial(endless, announce=5000)) as liar:
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=2.0)
        try:
            with pytest.raises((RemoteProtocolError, ConnectionClosed)):
                await bounded(cam.download(1, out))
        finally:
            await bounded(cam.close())
        from tests.client.liar import honest

        liar.sender = honest
        cam = await open_camera("127.0.0.1", liar.port, identity_store=id_store, timeout=2.0)
        try:
            path = await bounded(cam.download(1, out))
        finally:
            await bounded(cam.close())
    assert path is not None
    assert path.read_bytes() == JPEG
