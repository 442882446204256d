"""What goes wrong: stalls, drops, cancellation, refusals, strays, and several clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ptpip.camera.server import Faults, ServerSession, VirtualCamera
from ptpip.client.camera import Camera, connect, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.client.session import BytesSink
from ptpip.errors import (
    ConnectionClosed,
    ExitStatus,
    InitFailError,
    RemoteProtocolError,
    StorageError,
    Timeout,
    TransportError,
)
from ptpip.ip.packets import (
    Cancel,
    Data,
    EndData,
    Event,
    InitCommandAck,
    OperationRequest,
    OperationResponse,
    ProbeResponse,
    StartData,
)
from ptpip.ip.responder import CommandInit, Responder
from ptpip.ptp.codes import EventCode, InitFailReason, OperationCode, ResponseCode
from ptpip.testing import RunningCamera
from tests.client.conftest import WAIT, WriteLog, bounded, card_path, generic, tap, wait_until


def live_session(vcam: VirtualCamera) -> ServerSession:
    session = vcam.session
    assert session is not None
    return session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("faults", [Faults(stall={OperationCode.GET_DEVICE_INFO})])
async def test_stalled_operation_times_out_within_the_configured_timeout(
    vcam: VirtualCamera, id_store: IdentityStore
) -> None:
    timeout = 0.5
    start = time.monotonic()
    async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=timeout) as cam:
        began = time.monotonic()
        with pytest.raises(Timeout) as err:
            await cam.device_info()
        waited = time.monotonic() - began
        assert timeout * 0.9 <= waited < timeout + 0.5
        assert "GetDeviceInfo" in str(err.value) or "0x1001" in str(err.value)
        assert err.value.exit_code == ExitStatus.CONNECT
        closing = time.monotonic()
    # Closing a connection to a hung camera is bounded by the same timeout.
    assert time.monotonic() - closing < timeout + 0.5
    assert time.monotonic() - start < 3 * timeout + 1.0


async def test_timeout_bounds_silence_not_duration(
    vcam: VirtualCamera, id_store: IdentityStore
) -> None:
    """A transfer longer than the timeout is fine as long as data keeps coming."""
    timeout, size = 0.2, 40 * 1024 * 1024
    with card_path(vcam, "DCIM/SLOW.MOV").open("wb") as fh:
        fh.truncate(size)
    vcam.data_chunk = 1024  # many small packets: the transfer takes a while (about 1 s)

    class Counter:
        received = 0

        def start(self, total: int | None) -> None:
            assert total == size

        def write(self, data: bytes) -> None:
            self.received += len(data)

    async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=timeout) as cam:
        handle = (await cam.find("DCIM/SLOW.MOV")).handle
        began = time.monotonic()
        counter = Counter()
        await cam.read_object(handle, counter)
        assert counter.received == size
        assert time.monotonic() - began > timeout


async def test_per_call_timeout_and_late_answers(vcam: VirtualCamera, camera: Camera) -> None:
    vcam.faults.delay = 0.3
    strays: list[str] = []
    camera.connection.on_stray = strays.append
    began = time.monotonic()
    tid = camera.connection._next_tid
    with pytest.raises(Timeout):
        await camera.transact(OperationCode.GET_STORAGE_IDS, timeout=0.1)
    assert time.monotonic() - began < 0.3
    # The late answer of the abandoned transaction is stray; the next one works.
    vcam.faults.delay = 0.0
    await wait_until(lambda: any("no transaction running" in s for s in strays), 1.0)
    assert strays[0] == f"data for transaction {tid}, which is not running"
    assert await camera.storage_ids() == (0x0001_0001,)


# -- the camera goes away --------------------------------------------------------------------


@pytest.mark.parametrize("faults", [Faults(drop_after_bytes=100_000)])
async def test_drop_mid_transfer_raises_and_keeps_the_part_file(
    vcam: VirtualCamera, camera: Camera, tmp_path: Path
) -> None:
    card_path(vcam, "DCIM/BIG.BIN").write_bytes(os.urandom(500_000))
    handle = (await camera.find("DCIM/BIG.BIN")).handle
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(ConnectionClosed):
        await bounded(camera.download(handle, target))
    assert not (target / "BIG.BIN").exists()
    part = target / "BIG.BIN.part"
    assert part.exists()
    assert part.stat().st_size < 500_000
    # Everything after that fails fast with the same error, and closing does not hang.
    with pytest.raises(ConnectionClosed):
        await bounded(camera.storage_ids(), 1.0)
    assert not camera.connection.is_open
    await bounded(camera.close(), 1.0)


async def test_camera_stopping_mid_operation_fails_the_pending_call_at_once(
    vcam: VirtualCamera, camera: Camera
) -> None:
    vcam.faults.stall.add(OperationCode.GET_STORAGE_IDS)
    task = asyncio.create_task(camera.storage_ids())
    await wait_until(lambda: live_session(vcam).current_tid is not None)
    began = time.monotonic()
    await vcam.stop()
    with pytest.raises(ConnectionClosed):
        await bounded(task, 1.0)
    assert time.monotonic() - began < 1.0


async def test_events_end_and_calls_fail_when_the_camera_disconnects(
    vcam: VirtualCamera, camera: Camera
) -> None:
    with camera.events() as events:
        live_session(vcam).command_conn.abort()
        with pytest.raises(StopAsyncIteration):
            await bounded(events.__anext__(), 1.0)
    with pytest.raises(ConnectionClosed):
        await camera.device_info(refresh=True)


async def test_garbage_from_the_camera_is_a_remote_protocol_error(
    vcam: VirtualCamera, camera: Camera
) -> None:
    live_session(vcam).command_conn.write(b"\x08\x00\x00\x00\x55\x00\x00\x00")
    await wait_until(lambda: not camera.connection.is_open)
    with pytest.raises(RemoteProtocolError):
        await camera.storage_ids()


# -- cancellation ----------------------------------------------------------------------------


async def test_cancelled_download_leaves_the_connection_usable(
    vcam: VirtualCamera, camera: Camera
) -> None:
    size = 50 * 1024 * 1024
    with card_path(vcam, "DCIM/LONG.MOV").open("wb") as fh:
        fh.truncate(size)  # sparse zeros
    handle = (await camera.find("DCIM/LONG.MOV")).handle
    wire = tap(camera.connection._cmd)

    got_some = asyncio.Event()

    class Sink(BytesSink):
        def write(self, data: bytes) -> None:
            super().write(data)
            if len(self.buffer) >= 1024 * 1024:
                got_some.set()

    sink = Sink(limit=size)
    task = asyncio.create_task(camera.read_object(handle, sink))
    await bounded(got_some.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(task)
    assert len(sink.buffer) < size

    (request,) = [p for p in wire.sent if isinstance(p, OperationRequest)]
    assert request.code == OperationCode.GET_OBJECT
    tid = request.transaction_id
    cancels = [p for p in wire.sent if isinstance(p, Cancel)]
    assert cancels == [Cancel(tid)]
    responses = [p for p in wire.received if isinstance(p, OperationResponse)]
    assert responses == [OperationResponse(ResponseCode.TRANSACTION_CANCELLED, tid)]

    # The same connection still works, for small and large answers.
    assert camera.connection.is_open
    assert await camera.storage_ids() == (0x0001_0001,)
    jpeg = await camera.find("DCIM/100PTPIP/IMG_0001.JPG")
    whole = BytesSink()
    await camera.read_object(jpeg.handle, whole)
    assert bytes(whole.buffer) == card_path(vcam, "DCIM/100PTPIP/IMG_0001.JPG").read_bytes()


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("faults", [Faults(refuse_init=InitFailReason.REJECTED_INITIATOR)])
async def test_init_fail_raises_with_the_reason(
    vcam: VirtualCamera, id_store: IdentityStore
) -> None:
    with pytest.raises(InitFailError) as err:
        await bounded(open_camera("127.0.0.1", vcam.port, identity_store=id_store))
    assert err.value.reason == 1
    assert "pair" in str(err.value)
    assert err.value.exit_code == ExitStatus.CONNECT
    assert vcam.session is None


async def test_connecting_to_a_closed_port_is_a_transport_error(id_store: IdentityStore) -> None:
    began = time.monotonic()
    with pytest.raises(TransportError) as err:
        await bounded(open_camera("127.0.0.1", free_port(), identity_store=id_store))
    assert type(err.value) is TransportError
    assert "refused" in str(err.value)
    assert time.monotonic() - began < 1.0


async def test_second_concurrent_client_is_refused_busy(
    vcam: VirtualCamera, camera: Camera, id_store: IdentityStore
) -> None:
    with pytest.raises(InitFailError) as err:
        await bounded(open_camera("127.0.0.1", vcam.port, identity_store=id_store))
    assert err.value.reason == InitFailReason.BUSY
    assert "busy" in str(err.value)
    # The first client is not disturbed.
    assert await camera.storage_ids() == (0x0001_0001,)
    assert live_session(vcam).command_conn.is_open


async def test_several_clients_in_sequence(vcam: VirtualCamera, id_store: IdentityStore) -> None:
    numbers = []
    for _ in range(3):
        async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT) as cam:
            assert (await cam.device_info(refresh=True)).model == "ptpip virtual camera"
            assert cam.connection.ack is not None
            numbers.append(cam.connection.ack.connection_number)
            assert live_session(vcam).session_id == 1
    # unpredictable connection numbers (another client cannot guess one), all different
    assert len(set(numbers)) == 3 and all(0 < n <= 0xFFFF_FFFF for n in numbers)


# -- closing ---------------------------------------------------------------------------------


async def test_close_sends_close_session(vcam: VirtualCamera, id_store: IdentityStore) -> None:
    cam = await open_camera("127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT)
    server_side = live_session(vcam)
    assert server_side.session_id == 1
    ended: list[ServerSession | None] = []
    vcam.on_session = ended.append
    wire = tap(cam.connection._cmd)
    await bounded(cam.close())
    requests = [p for p in wire.sent if isinstance(p, OperationRequest)]
    assert [r.code for r in requests] == [OperationCode.CLOSE_SESSION]
    assert requests[0].params == ()
    assert wire.received == [OperationResponse(ResponseCode.OK, requests[0].transaction_id)]
    assert server_side.session_id is None  # the camera ran CloseSession
    await wait_until(lambda: vcam.session is None)
    assert ended == [None]  # ...and then saw the connections go
    assert not server_side.command_conn.is_open


# -- strays ------------------------------------------------------------------------------------


async def test_stray_packets_never_crash(vcam: VirtualCamera, camera: Camera) -> None:
    strays: list[str] = []
    camera.connection.on_stray = strays.append
    session = live_session(vcam)
    ack = InitCommandAck(1, bytes(16), "again")
    session.command_conn.write(
        OperationResponse(ResponseCode.OK, 999).encode()
        + StartData(999, 4).encode()
        + Data(999, b"ab").encode()
        + EndData(999, b"cd").encode()
        + ack.encode()
    )
    assert session.event_conn is not None
    # Padded to five parameters like a Leica response; we never send more than three.
    padded = struct.pack("<IIHI5I", 34, 8, EventCode.DEVICE_PROP_CHANGED, 0, 0x5001, 0, 0, 0, 0)
    session.event_conn.write(
        ProbeResponse().encode()  # an answer to nothing
        + Event(0x4FFF, 0xFFFF_FFFF).encode()  # an unknown code
        + padded
    )
    with camera.events() as events:
        first = await events.get(WAIT)
        second = await events.get(WAIT)
    assert (first.code, first.transaction_id) == (0x4FFF, None)
    assert (second.code, second.params) == (EventCode.DEVICE_PROP_CHANGED, (0x5001, 0, 0, 0, 0))
    await wait_until(lambda: len(strays) >= 5)
    assert camera.connection.is_open
    assert await camera.storage_ids() == (0x0001_0001,)


async def test_stray_response_during_a_transaction(vcam: VirtualCamera, camera: Camera) -> None:
    strays: list[str] = []
    camera.connection.on_stray = strays.append
    vcam.faults.delay = 0.2
    task = asyncio.create_task(camera.transact(OperationCode.GET_STORAGE_IDS))
    session = live_session(vcam)
    await wait_until(lambda: session.current_tid is not None)
    tid = session.current_tid
    assert tid is not None
    # A response and data for other transactions while this one runs: both ignored.
    session.command_conn.write(
        OperationResponse(ResponseCode.GENERAL_ERROR, tid + 1).encode()
        + StartData(tid + 7, 2).encode()
        + EndData(tid + 7, b"zz").encode()
    )
    result = await bounded(task)
    assert result.ok and result.transaction_id == tid
    assert result.data == b"\x01\x00\x00\x00\x01\x00\x01\x00"
    assert len(strays) >= 2


async def test_cancelled_data_out_leaves_the_connection_usable(
    vcam: VirtualCamera, camera: Camera
) -> None:
    """Cancel while the client is still sending: the camera must stop waiting for the rest."""
    writer_value = b"\x04A\x00d\x00a\x00\x00\x00"  # PTP STR "Ada"
    padding = bytes(30 * 1024 * 1024)  # SetDevicePropValue ignores bytes after the value
    channel = camera.connection._cmd
    assert channel is not None
    wire = tap(channel)
    task = asyncio.create_task(
        camera.opreq(OperationCode.SET_DEVICE_PROP_VALUE, [0x501E], writer_value + padding)
    )
    await wait_until(lambda: channel.bytes_out > 1024 * 1024)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(task)
    assert channel.bytes_out < len(padding)
    (request,) = [p for p in wire.sent if isinstance(p, OperationRequest)]
    assert [p for p in wire.sent if isinstance(p, Cancel)] == [Cancel(request.transaction_id)]
    responses = [p for p in wire.received if isinstance(p, OperationResponse)]
    assert responses == [
        OperationResponse(ResponseCode.TRANSACTION_CANCELLED, request.transaction_id)
    ]
    assert await bounded(camera.storage_ids(), 2.0) == (0x0001_0001,)
    assert generic(vcam).props.get(0x501E) == ""  # the cancelled value was not applied


# -- handshakes against a misbehaving peer ----------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def fake_camera(handler: Handler) -> AsyncIterator[int]:
    """A bare TCP server on a free port running ``handler`` per connection."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def read_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass
    writer.close()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(8)
    writer.close()


async def refuse_events(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept the command connection, refuse the event connection."""
    responder = Responder()
    while not (events := responder.receive_data(await reader.read(4096))):
        pass
    if isinstance(events[0], CommandInit):
        writer.write(responder.accept(InitCommandAck(1, bytes(16), "fake")))
        await read_until_eof(reader, writer)
    else:
        writer.write(responder.refuse(InitFailReason.UNSPECIFIED))
        await writer.drain()
        writer.close()


async def test_init_timeout_is_bounded(id_store: IdentityStore) -> None:
    async with fake_camera(read_until_eof) as port:
        began = time.monotonic()
        with pytest.raises(Timeout) as err:
            await bounded(open_camera("127.0.0.1", port, identity_store=id_store, init_timeout=0.3))
        assert 0.25 <= time.monotonic() - began < 1.0
        assert "Init Command Ack" in str(err.value)


async def test_camera_hanging_up_during_init_is_connection_closed(
    id_store: IdentityStore,
) -> None:
    async with fake_camera(hang_up) as port:
        with pytest.raises(ConnectionClosed):
            await bounded(open_camera("127.0.0.1", port, identity_store=id_store))


async def test_init_fail_on_the_event_connection(id_store: IdentityStore) -> None:
    async with fake_camera(refuse_events) as port:
        with pytest.raises(InitFailError) as err:
            await bounded(open_camera("127.0.0.1", port, identity_store=id_store))
        assert err.value.reason == InitFailReason.UNSPECIFIED


# -- sessions, transaction ids, concurrency ----------------------------------------------------


async def test_transaction_ids_count_up_and_wrap(vcam: VirtualCamera, camera: Camera) -> None:
    wire = tap(camera.connection._cmd)
    camera.connection._next_tid = 0xFFFF_FFFD
    for _ in range(3):
        await camera.storage_ids()
    tids = [p.transaction_id for p in wire.sent if isinstance(p, OperationRequest)]
    assert tids == [0xFFFF_FFFD, 0xFFFF_FFFE, 1]  # 0xFFFFFFFF is never used
    answered = [p.transaction_id for p in wire.received if isinstance(p, OperationResponse)]
    assert answered == tids


async def test_open_session_again_is_accepted(vcam: VirtualCamera, camera: Camera) -> None:
    await camera.profile.open_session(camera)  # the camera answers SessionAlreadyOpen
    assert camera.connection.session_id == 1
    assert live_session(vcam).session_id == 1


async def test_concurrent_calls_are_serialised(vcam: VirtualCamera, camera: Camera) -> None:
    files = [card_path(vcam, f"DCIM/100PTPIP/IMG_000{n}.JPG") for n in range(1, 5)]
    handles = [(await camera.find(f"DCIM/100PTPIP/{p.name}")).handle for p in files]

    async def fetch(handle: int) -> bytes:
        sink = BytesSink()
        await camera.read_object(handle, sink)
        return bytes(sink.buffer)

    results = await bounded(
        asyncio.gather(
            *(fetch(h) for h in handles),
            camera.storage_ids(),
            camera.device_info(refresh=True),
            camera.get_property(0x500F),
        )
    )
    assert list(results[:4]) == [p.read_bytes() for p in files]
    assert results[4] == (0x0001_0001,)
    assert results[6] == 100


async def test_close_is_idempotent(camera: Camera) -> None:
    await bounded(camera.close())
    await bounded(camera.close())
    with pytest.raises(ConnectionClosed):
        await camera.storage_ids()


async def test_cancelling_twice_does_not_wedge_the_connection(
    vcam: VirtualCamera, camera: Camera
) -> None:
    """A second cancel while the client waits for the camera to confirm the first."""
    session = live_session(vcam)
    vcam.faults.delay = 0.5  # the camera answers late, and ignores the Cancel
    task = asyncio.create_task(camera.storage_ids())
    await wait_until(lambda: session.current_tid is not None)
    task.cancel()
    await asyncio.sleep(0.05)  # the client now waits for the camera's answer to the Cancel
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(task, 1.0)
    vcam.faults.delay = 0.0
    assert await bounded(camera.storage_ids(), 2.0) == (0x0001_0001,)


async def test_cancelled_download_resumes_to_identical_bytes(
    vcam: VirtualCamera, camera: Camera, tmp_path: Path
) -> None:
    data = os.urandom(6 * 1024 * 1024)
    card_path(vcam, "DCIM/LONG.MOV").write_bytes(data)
    handle = (await camera.find("DCIM/LONG.MOV")).handle
    halfway = asyncio.Event()

    def progress(done: int, total: int | None) -> None:
        if done >= 1536 * 1024:  # inside the second GetPartialObject piece
            halfway.set()

    task = asyncio.create_task(camera.download(handle, tmp_path, progress=progress))
    await bounded(halfway.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(task)
    assert not (tmp_path / "LONG.MOV").exists()
    part = (tmp_path / "LONG.MOV.part").read_bytes()
    assert 1536 * 1024 <= len(part) < len(data)
    assert part == data[: len(part)]  # what was kept is right, up to the last byte
    assert await bounded(camera.storage_ids(), 2.0) == (0x0001_0001,)
    path = await bounded(camera.download(handle, tmp_path))
    assert path is not None and path.read_bytes() == data


async def test_a_sink_that_fails_does_not_break_the_connection(
    vcam: VirtualCamera, camera: Camera
) -> None:
    class FullDisk(BytesSink):
        def write(self, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    jpeg = await camera.find("DCIM/100PTPIP/IMG_0001.JPG")
    with pytest.raises(StorageError, match="No space left") as err:
        await camera.read_object(jpeg.handle, FullDisk())
    assert err.value.exit_code == ExitStatus.COMMAND_FAILED
    assert await camera.storage_ids() == (0x0001_0001,)


# -- the camera in its own thread (ptpip.testing) ----------------------------------------------


async def test_threaded_camera_fixture(
    virtual_camera: RunningCamera, id_store: IdentityStore
) -> None:
    async with connect(
        "127.0.0.1", virtual_camera.port, identity_store=id_store, timeout=WAIT
    ) as cam:
        assert (await cam.device_info()).model == "ptpip virtual camera"

        async def add_file() -> None:
            (virtual_camera.storage / "DCIM" / "T.TXT").write_bytes(b"threads")

        virtual_camera.call(add_file)
        entry = await cam.find("DCIM/T.TXT")
        sink = BytesSink()
        await cam.read_object(entry.handle, sink)
        assert bytes(sink.buffer) == b"threads"
    for _ in range(3):  # sequential clients against a camera in another thread
        async with connect("127.0.0.1", virtual_camera.port, identity_store=id_store) as cam:
            assert await cam.storage_ids() == (0x0001_0001,)


async def test_threaded_camera_stopping_under_a_client(id_store: IdentityStore) -> None:
    with RunningCamera() as running:
        cam = await open_camera("127.0.0.1", running.port, identity_store=id_store, timeout=WAIT)
        with cam.events() as events:
            await asyncio.to_thread(running.stop)
            with pytest.raises(StopAsyncIteration):
                await events.get(WAIT)
        with pytest.raises(ConnectionClosed):
            await cam.storage_ids()
        await bounded(cam.close(), 1.0)


async def test_every_packet_goes_out_in_one_write(
    vcam: VirtualCamera, id_store: IdentityStore, tmp_path: Path
) -> None:
    """CIPA: each write of the client holds whole packets (requests with their StartData,
    Data and EndData pieces, Cancel, probes), so a camera reading one packet per recv()
    never sees one cut in two."""
    writes = WriteLog()
    data = os.urandom(300_000)
    card_path(vcam, "DCIM/100PTPIP/BIG.JPG").write_bytes(data)
    async with connect(
        "127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT, recorder=writes
    ) as cam:
        await cam.set_property(0x500F, 400)  # data-out
        await cam.download((await cam.find("DCIM/100PTPIP/BIG.JPG")).handle, tmp_path)
        await cam.transact(0x1016, (0x5005,), data=bytes(200_000), check=False)  # big out
    assert writes.cut == []
    assert writes.count >= 8
