"""The virtual camera against a hostile or broken peer: memory, time and sessions stay bounded.

Raw blocking sockets talk to a camera in its own thread (:class:`RunningCamera`), so the
test process's traced memory is the camera's. Every socket call has a timeout and every
loop a bound. No peer misbehaviour may leave a traceback in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import socket
import struct
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ptpip.camera.server import ServerSession, VirtualCamera
from ptpip.camera.store import ObjectStore, generate_sample_images
from ptpip.client.camera import connect
from ptpip.client.identity import IdentityStore
from ptpip.ip.packets import (
    Cancel,
    Data,
    EndData,
    InitCommandAck,
    InitCommandRequest,
    InitEventAck,
    InitEventRequest,
    InitFail,
    OperationRequest,
    OperationResponse,
    Packet,
    StartData,
    decode_packet,
)
from ptpip.ptp.codes import DataPhase, InitFailReason, OperationCode, ResponseCode
from ptpip.ptp.datasets import StorageInfo
from ptpip.testing import RunningCamera
from tests.cli.conftest import unavailable

T = TypeVar("T")
WAIT = 5.0
MiB = 1024 * 1024
GUID = bytes(range(16))
PROBE_REQUEST = bytes.fromhex("08000000 0d000000")
PROBE_RESPONSE = bytes.fromhex("08000000 0e000000")


# -- a raw initiator -------------------------------------------------------------------------


class Raw:
    """One blocking PTP/IP connection; every call times out."""

    def __init__(self, port: int, *, source: str = "127.0.0.1", rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect: the window stays this small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(WAIT)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.tid = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def flood(self, data: bytes, seconds: float = 2.0) -> int:
        """Send ``data`` until it is all sent or the camera stops reading for ``seconds``."""
        view = memoryview(data)
        sent = 0
        self.sock.settimeout(seconds)
        try:
            while sent < len(view):
                sent += self.sock.send(view[sent : sent + 256 * 1024])
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(WAIT)
        return sent

    def _exactly(self, n: int, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        buf = bytearray()
        try:
            while len(buf) < n:
                piece = self.sock.recv(n - len(buf))
                if not piece:
                    raise ConnectionResetError("the camera closed the connection")
                buf += piece
        finally:
            self.sock.settimeout(WAIT)
        return bytes(buf)

    def raw_packet(self, timeout: float = WAIT) -> bytes:
        head = self._exactly(8, timeout)
        length = struct.unpack_from("<I", head)[0]
        return head + self._exactly(length - 8, timeout)

    def packet(self, timeout: float = WAIT) -> Packet:
        raw = self.raw_packet(timeout)
        return decode_packet(struct.unpack_from("<I", raw, 4)[0], raw[8:])

    def nothing(self, seconds: float) -> bool:
        """Whether nothing arrives (and the connection stays open) for ``seconds``."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # data, or b"" when closed: not nothing
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(WAIT)
        return False

    def closed_within(self, seconds: float) -> bool:
        """Whether the camera closes the connection within ``seconds`` (reading what comes)."""
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(WAIT)
        return False

    def init(self, name: str = "abuse test") -> Packet:
        self.send(InitCommandRequest(GUID, name).encode())
        return self.packet()

    def init_event(self, number: int) -> Packet:
        self.send(InitEventRequest(number).encode())
        return self.packet()

    def request(
        self, code: int, *params: int, phase: int = DataPhase.NO_DATA_OR_IN, data: bytes = b""
    ) -> int:
        """Send a request (and its data-out, if ``data`` or the phase says so); its TID."""
        tid = self.tid
        self.tid += 1
        out = OperationRequest(code, tid, params, phase).encode()
        if phase == DataPhase.DATA_OUT and data:
            out += StartData(tid, len(data)).encode() + EndData(tid, data).encode()
        self.send(out)
        return tid

    def answer(self, tid: int, timeout: float = WAIT) -> tuple[int, bytes | None]:
        """(response code, data-in or None) of transaction ``tid``."""
        data: bytes | None = None
        while True:
            packet = self.packet(timeout)
            if isinstance(packet, StartData):
                data = b""
            elif isinstance(packet, Data | EndData):
                assert data is not None
                data += packet.payload
            else:
                assert isinstance(packet, OperationResponse), packet
                assert packet.transaction_id == tid, (packet, tid)
                return packet.code, data

    def transact(self, code: int, *params: int) -> tuple[int, bytes | None]:
        return self.answer(self.request(code, *params))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Client:
    """A command connection with its event connection and an open session."""

    def __init__(self, port: int, *, open_session: bool = True) -> None:
        self.cmd = Raw(port)
        ack = self.cmd.init()
        assert isinstance(ack, InitCommandAck), ack
        self.number = ack.connection_number
        self.evt = Raw(port)
        assert isinstance(self.evt.init_event(self.number), InitEventAck)
        if open_session:
            assert self.cmd.transact(OperationCode.OPEN_SESSION, 1)[0] == ResponseCode.OK

    def close(self) -> None:
        self.cmd.close()
        self.evt.close()


@contextlib.contextmanager
def camera(tmp_path: Path, vendor: str = "generic", **options: Any) -> Iterator[RunningCamera]:
    with RunningCamera(vendor, storage=tmp_path / "card", **options) as cam:
        yield cam


def in_camera(cam: RunningCamera, fn: Callable[[VirtualCamera], T]) -> T:
    """``fn(virtual camera)`` run in the camera's own loop (its state is not thread-safe)."""

    async def run() -> T:
        assert cam.camera is not None
        return fn(cam.camera)

    return cam.call(run)


def live_session(cam: RunningCamera) -> ServerSession:
    session = in_camera(cam, lambda vcam: vcam.session)
    assert session is not None
    return session


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextlib.contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Bytes allocated (and still held) since the block began, in every thread."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        yield lambda: tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


def settled(growth: Callable[[], int], seconds: float = 10.0) -> int:
    """The growth once it stopped changing (the camera has taken all it will take)."""
    deadline = time.monotonic() + seconds
    last = growth()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = growth()
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return growth()


def shrink_send_buffer(conn_of: Callable[[ServerSession], Any]) -> Callable[[VirtualCamera], None]:
    """The camera-side socket's send buffer made small, so what the peer does not read piles
    up in the camera's process (where it is measured) rather than in the kernel."""

    def shrink(vcam: VirtualCamera) -> None:
        assert vcam.session is not None
        sock = conn_of(vcam.session).transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    return shrink


def event_backlog(vcam: VirtualCamera) -> int:
    """Bytes waiting in the camera's process to go out on the event connection."""
    assert vcam.session is not None and vcam.session.event_conn is not None
    transport = vcam.session.event_conn.transport
    assert transport is not None
    return transport.get_write_buffer_size()


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Peer misbehaviour is logged as a line, never as a traceback or a lost task error."""
    caplog.set_level(logging.INFO)
    yield
    bad = [
        r
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or "never retrieved" in r.getMessage()
    ]
    assert not bad, [r.getMessage() for r in bad]


# -- bounded buffers ---------------------------------------------------------------------------


def test_data_for_a_transaction_that_is_not_running_is_not_kept(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        client = Client(cam.port)
        payload = bytes(60 * 1024)
        flood = StartData(999, 0xFFFF_FFFF_FFFF_FFFF).encode()
        flood += Data(999, payload).encode() * 256  # 15 MiB for a transaction nobody runs
        flood += EndData(12345, payload).encode() * 64  # and 4 MiB for no phase at all
        with traced() as growth:
            assert client.cmd.flood(flood, 10.0) == len(flood)
            assert client.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
            held = settled(growth)
        assert held < 4 * MiB, f"the camera holds {held} bytes of stray data"
        client.close()


def test_a_data_out_phase_nobody_reads_stops_the_reading(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        cam.faults.stall.add(OperationCode.GET_DEVICE_INFO)
        client = Client(cam.port)
        client.cmd.request(OperationCode.GET_DEVICE_INFO)  # hangs: nobody serves what follows
        tid = client.cmd.tid
        data = bytes(48 * MiB)
        flood = OperationRequest(0x1016, tid, (0x5011,), DataPhase.DATA_OUT).encode()
        flood += StartData(tid, len(data)).encode() + EndData(tid, data).encode()
        with traced() as growth:
            sent = client.cmd.flood(flood, 2.0)
            held = settled(growth)
        assert sent < len(flood), "the camera read a 48 MiB phase nobody was reading"
        assert held < 4 * MiB, f"the camera holds {held} bytes of unread data-out"
        client.close()


def test_pipelined_requests_stop_the_reading(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        cam.faults.stall.add(OperationCode.GET_DEVICE_INFO)
        client = Client(cam.port)
        client.cmd.request(OperationCode.GET_DEVICE_INFO)  # the camera hangs on this one
        first = client.cmd.tid
        requests = b"".join(
            OperationRequest(OperationCode.GET_STORAGE_IDS, first + n).encode()
            for n in range(500_000)
        )
        with traced() as growth:
            client.cmd.flood(requests, 3.0)
            held = settled(growth)
        assert held < 8 * MiB, f"the camera holds {held} bytes of queued requests"
        client.close()


def test_cancels_for_transactions_that_are_not_running_are_not_kept(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        client = Client(cam.port)
        cancels = b"".join(Cancel(1000 + n).encode() for n in range(100_000))
        with traced() as growth:
            assert client.cmd.flood(cancels, 10.0) == len(cancels)
            tid = client.cmd.request(OperationCode.GET_STORAGE_IDS)
            assert client.cmd.answer(tid, timeout=30.0)[0] == ResponseCode.OK
            held = settled(growth)
        assert held < 3 * MiB, f"the camera holds {held} bytes for Cancels of nothing"
        # and the same Cancel, over and over, for a transaction that hangs: kept once
        cam.faults.stall.add(OperationCode.GET_DEVICE_INFO)
        tid = client.cmd.request(OperationCode.GET_DEVICE_INFO)
        wait_for(lambda: live_session(cam).current_tid == tid, "the request to run")
        with traced() as growth:
            assert client.cmd.flood(Cancel(tid).encode() * 100_000, 10.0) == 1_200_000
            held = settled(growth)
        assert held < 3 * MiB, f"the camera holds {held} bytes for repeated Cancels"
        client.close()


def test_connections_beyond_the_limit_are_closed_at_once(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        in_camera(cam, lambda v: setattr(v, "max_connections", 4))
        held = [Raw(cam.port) for _ in range(4)]
        extra = Raw(cam.port)
        assert extra.closed_within(2.0)
        for conn in held:
            conn.close()
        wait_for(lambda: in_camera(cam, lambda v: not v._conns), "the connections to go")
        client = Client(cam.port)  # room again
        assert client.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        client.close()
        extra.close()


@pytest.mark.parametrize("via", ["command", "event"])
def test_a_probe_flood_whose_answers_are_never_read_is_bounded(tmp_path: Path, via: str) -> None:
    with camera(tmp_path) as cam:
        cmd = Raw(cam.port)
        ack = cmd.init()
        assert isinstance(ack, InitCommandAck)
        evt = Raw(cam.port, rcvbuf=4096)
        assert isinstance(evt.init_event(ack.connection_number), InitEventAck)
        in_camera(cam, shrink_send_buffer(lambda s: s.event_conn))
        (cmd if via == "command" else evt).flood(PROBE_REQUEST * 200_000, 3.0)
        assert cmd.transact(OperationCode.GET_DEVICE_INFO)[0] == ResponseCode.OK
        time.sleep(0.3)
        backlog = in_camera(cam, event_backlog)
        assert backlog <= 128 * 1024, f"{backlog} bytes of Probe Responses wait to go out"
        cmd.close()
        evt.close()


def test_events_to_a_client_that_never_reads_them_are_bounded(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        cmd = Raw(cam.port)
        ack = cmd.init()
        assert isinstance(ack, InitCommandAck)
        evt = Raw(cam.port, rcvbuf=4096)
        assert isinstance(evt.init_event(ack.connection_number), InitEventAck)
        in_camera(cam, shrink_send_buffer(lambda s: s.event_conn))

        def emit(vcam: VirtualCamera) -> int:
            assert vcam.session is not None
            for handle in range(100_000):  # 2.2 MB of ObjectAdded
                vcam.session.send_event(0x4002, 0xFFFF_FFFF, (handle,))
            return event_backlog(vcam)

        backlog = in_camera(cam, emit)
        assert backlog <= 512 * 1024, (
            f"{backlog} bytes of events wait for a client that never reads"
        )
        assert cmd.transact(OperationCode.GET_DEVICE_INFO)[0] == ResponseCode.OK
        cmd.close()
        evt.close()


# -- handshake, idle and data-out timeouts ----------------------------------------------------


def test_a_connection_that_sends_no_init_is_closed(tmp_path: Path) -> None:
    with camera(tmp_path, handshake_timeout=0.3) as cam:
        silent = Raw(cam.port)
        dripping = Raw(cam.port)
        init = InitCommandRequest(GUID, "slow client").encode()
        started = time.monotonic()
        closed = False
        for byte in init:  # one byte every 50 ms: the Init would take over 3 s
            try:
                dripping.send(bytes([byte]))
            except OSError:
                closed = True
                break
            if dripping.closed_within(0.05):
                closed = True
                break
        assert closed and time.monotonic() - started < 2.0
        assert silent.closed_within(1.0)
        # an Init in time is answered, and the session then stays
        client = Client(cam.port)
        assert client.cmd.nothing(0.6)
        assert client.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        client.close()


def test_the_handshake_timeout_can_be_turned_off(tmp_path: Path) -> None:
    with camera(tmp_path, handshake_timeout=0) as cam:
        silent = Raw(cam.port)
        assert not silent.closed_within(0.5)
        assert isinstance(silent.init(), InitCommandAck)


def test_a_silent_session_ends_after_the_idle_timeout(tmp_path: Path) -> None:
    with camera(tmp_path, idle_timeout=0.6) as cam:
        busy = Client(cam.port)
        for _ in range(6):  # traffic every 0.2 s keeps it
            time.sleep(0.2)
            assert busy.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        started = time.monotonic()
        assert busy.cmd.closed_within(3.0)
        assert busy.evt.closed_within(1.0)
        assert 0.5 < time.monotonic() - started < 2.0
        wait_for(lambda: in_camera(cam, lambda v: v.session is None), "the session to end")
        newcomer = Client(cam.port)  # the camera is free again
        assert newcomer.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        newcomer.close()


def test_a_data_out_phase_that_never_comes_times_out(tmp_path: Path) -> None:
    with camera(tmp_path, data_timeout=0.3) as cam:
        client = Client(cam.port)
        # announced, then nothing: no StartData at all
        tid = client.cmd.request(0x1016, 0x5011, phase=DataPhase.DATA_OUT)
        assert client.cmd.answer(tid, timeout=3.0) == (ResponseCode.INCOMPLETE_TRANSFER, None)
        assert client.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        # StartData and part of the value, then silence between packets: still usable
        tid = client.cmd.request(0x1016, 0x5011, phase=DataPhase.DATA_OUT)
        client.cmd.send(StartData(tid, 4).encode() + Data(tid, b"\x20\x00").encode())
        assert client.cmd.answer(tid, timeout=3.0) == (ResponseCode.INCOMPLETE_TRANSFER, None)
        client.cmd.send(EndData(tid, b"\x00\x00").encode())  # too late: stray, ignored
        assert client.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        # silence in the middle of a packet: answered, and the connection (desynchronised)
        # is closed
        tid = client.cmd.request(0x1016, 0x5011, phase=DataPhase.DATA_OUT)
        client.cmd.send(
            StartData(tid, 4).encode() + EndData(tid, b"\x20\x00\x00\x00").encode()[:14]
        )
        assert client.cmd.answer(tid, timeout=3.0) == (ResponseCode.INCOMPLETE_TRANSFER, None)
        assert client.cmd.closed_within(2.0)
        client.close()


def test_requests_queued_behind_a_closed_connection_are_not_served(tmp_path: Path) -> None:
    """Two data-out requests, then the client hangs up (a fuzz find): the session ends at
    once instead of serving the queued one into the dead connection for the data timeout."""
    with camera(tmp_path, data_timeout=30.0) as cam:
        client = Client(cam.port)
        client.cmd.request(0x1016, 0x5011, phase=DataPhase.DATA_OUT)
        client.cmd.request(0x1016, 0x5011, phase=DataPhase.DATA_OUT)
        time.sleep(0.2)  # both are read: one served (waiting for data), one queued
        client.close()

        def ended() -> bool:
            assert cam.camera is not None
            return cam.camera.session is None

        wait_for(ended, "the session to end", 5.0)
        began = time.monotonic()

        async def tasks() -> int:
            return sum(
                1 for t in asyncio.all_tasks() if not t.done() and "_run" in repr(t.get_coro())
            )

        while cam.call(tasks) and time.monotonic() - began < 5.0:
            time.sleep(0.05)
        assert cam.call(tasks) == 0  # no session task left waiting for data
        assert time.monotonic() - began < 5.0


def test_accepted_sockets_use_short_tcp_keepalive(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        client = Client(cam.port)

        def options(vcam: VirtualCamera) -> dict[str, int]:
            assert vcam.session is not None and vcam.session.command_conn.transport is not None
            sock = vcam.session.command_conn.transport.get_extra_info("socket")
            found = {"SO_KEEPALIVE": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}
            for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
                if hasattr(socket, name):
                    found[name] = sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name))
            return found

        found = in_camera(cam, options)
        assert found["SO_KEEPALIVE"] != 0
        if "TCP_KEEPIDLE" in found:  # Linux: a vanished peer is noticed within a minute
            idle, interval, count = (
                found["TCP_KEEPIDLE"],
                found["TCP_KEEPINTVL"],
                found["TCP_KEEPCNT"],
            )
            assert idle + interval * count <= 60
        client.close()


# -- a new client while a session runs (CIPA: probe the old one) ------------------------------


def test_a_new_client_gets_in_when_the_silent_session_does_not_answer_a_probe(
    tmp_path: Path,
) -> None:
    with camera(tmp_path, probe_after=0.2, probe_timeout=0.4) as cam:
        gone = Client(cam.port)  # its host vanished: it never answers anything
        time.sleep(0.3)
        newcomer = Raw(cam.port)
        started = time.monotonic()
        ack = newcomer.init()
        assert isinstance(ack, InitCommandAck), ack
        assert 0.3 < time.monotonic() - started < 3.0
        assert gone.evt.raw_packet() == PROBE_REQUEST  # on its event connection (§10)
        assert gone.cmd.closed_within(2.0)
        evt = Raw(cam.port)
        assert isinstance(evt.init_event(ack.connection_number), InitEventAck)
        assert newcomer.transact(OperationCode.OPEN_SESSION, 1)[0] == ResponseCode.OK
        gone.close()
        newcomer.close()
        evt.close()


def test_a_silent_session_that_answers_the_probe_keeps_the_camera(tmp_path: Path) -> None:
    with camera(tmp_path, probe_after=0.2, probe_timeout=4.0) as cam:
        alive = Client(cam.port)
        time.sleep(0.3)
        newcomer = Raw(cam.port)
        newcomer.send(InitCommandRequest(GUID, "newcomer").encode())
        assert alive.evt.raw_packet() == PROBE_REQUEST
        alive.evt.send(PROBE_RESPONSE)
        refused = newcomer.packet(timeout=2.0)  # at once, not when the probe times out
        assert isinstance(refused, InitFail)
        assert refused.reason == InitFailReason.BUSY
        assert newcomer.closed_within(2.0)
        assert alive.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        alive.close()


def test_a_session_in_use_is_never_probed(tmp_path: Path) -> None:
    """libgphoto2 answers no probe: a session that talks is simply busy."""
    with camera(tmp_path) as cam:  # probes only sessions silent for 30 s
        user = Client(cam.port)
        newcomer = Raw(cam.port)
        refused = newcomer.init()
        assert isinstance(refused, InitFail)
        assert refused.reason == InitFailReason.BUSY
        assert user.evt.nothing(0.5)  # no Probe Request
        assert user.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        user.close()
        newcomer.close()


# -- the event connection belongs to its session ----------------------------------------------


def test_connection_numbers_cannot_be_guessed_by_counting(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        attacker = Raw(cam.port)
        ack = attacker.init()
        assert isinstance(ack, InitCommandAck)
        mine = ack.connection_number
        attacker.close()
        wait_for(lambda: in_camera(cam, lambda v: v.session is None), "the session to end")
        victim = Raw(cam.port)
        victim_ack = victim.init()
        assert isinstance(victim_ack, InitCommandAck)
        numbers = {mine, victim_ack.connection_number}
        # before the victim opens its event connection, the attacker tries the next numbers
        for guess in (mine + 1, mine + 2, mine - 1, 1, 2):
            thief = Raw(cam.port)
            refused = thief.init_event(guess & 0xFFFF_FFFF)
            assert isinstance(refused, InitFail), guess
            assert thief.closed_within(2.0)
        events = Raw(cam.port)
        assert isinstance(events.init_event(victim_ack.connection_number), InitEventAck)
        assert 0 not in numbers and len(numbers) == 2
        victim.close()
        events.close()


def test_an_event_connection_from_another_host_is_refused(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        victim = Raw(cam.port)
        ack = victim.init()
        assert isinstance(ack, InitCommandAck)
        try:
            thief = Raw(cam.port, source="127.0.0.2")  # another host, right number (leaked)
        except OSError as exc:
            unavailable(f"no second loopback address here: {exc}")
        refused = thief.init_event(ack.connection_number)
        assert isinstance(refused, InitFail)
        assert thief.closed_within(2.0)
        events = Raw(cam.port)
        assert isinstance(events.init_event(ack.connection_number), InitEventAck)
        victim.close()
        events.close()


def test_a_session_gets_one_event_connection(tmp_path: Path) -> None:
    with camera(tmp_path) as cam:
        client = Client(cam.port)
        second = Raw(cam.port)
        assert isinstance(second.init_event(client.number), InitFail)
        client.evt.close()  # even once the first is gone, nobody takes its place
        wait_for(
            lambda: in_camera(
                cam, lambda v: v.session is not None and v.session.event_conn is None
            ),
            "the event connection to close",
        )
        third = Raw(cam.port)
        assert isinstance(third.init_event(client.number), InitFail)
        assert client.cmd.transact(OperationCode.GET_STORAGE_IDS)[0] == ResponseCode.OK
        client.close()


# -- serving the card -------------------------------------------------------------------------


def store_of(cam: RunningCamera) -> ObjectStore:
    store = getattr(cam.personality, "store", None)
    assert isinstance(store, ObjectStore)
    return store


def card_digest(root: Path) -> dict[str, str | None]:
    """Every path below ``root`` with its content's hash (None: a folder)."""
    return {
        str(path.relative_to(root)): None
        if path.is_dir()
        else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("vendor", ["generic", "canon", "leica"])
def test_a_folder_has_no_data_to_get(tmp_path: Path, vendor: str) -> None:
    with camera(tmp_path, vendor) as cam:
        folder = in_camera(cam, lambda v: store_of(cam).lookup("DCIM/100PTPIP"))
        client = Client(cam.port)
        for code, params in (
            (OperationCode.GET_OBJECT, (folder,)),
            (OperationCode.GET_PARTIAL_OBJECT, (folder, 0, 1024)),
        ):
            assert client.cmd.transact(code, *params) == (ResponseCode.ACCESS_DENIED, None)
        assert client.cmd.transact(OperationCode.GET_THUMB, folder) == (
            ResponseCode.NO_THUMBNAIL_PRESENT,
            None,
        )
        client.close()


def test_a_folder_swapped_after_the_checks_is_never_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window between the operation's checks and reading the file, hit every time: the
    folder is swapped once the handler has answered, before the data phase."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = b"\xff\xd8 secret outside the card " * 100
    (outside / "IMG_0001.JPG").write_bytes(secret)
    with camera(tmp_path) as cam:
        store = store_of(cam)
        handle = in_camera(cam, lambda v: store.lookup("DCIM/100PTPIP/IMG_0001.JPG"))
        personality = cam.personality
        handle_request = personality.handle
        folder = store.root / "DCIM" / "100PTPIP"

        async def swapping(session: ServerSession, request: Any, data: bytes | None) -> Any:
            reply = await handle_request(session, request, data)
            data_op = request.code in (OperationCode.GET_OBJECT, OperationCode.GET_PARTIAL_OBJECT)
            if data_op and not folder.is_symlink():
                folder.rename(folder.with_name("moved-away"))
                folder.symlink_to(outside, target_is_directory=True)
            return reply

        monkeypatch.setattr(personality, "handle", swapping)
        client = Client(cam.port)
        for code, params in (
            (OperationCode.GET_OBJECT, (handle,)),
            (OperationCode.GET_PARTIAL_OBJECT, (handle, 0, 0xFFFF_FFFF)),
        ):
            rc, data = client.cmd.transact(code, *params)
            assert data is None or secret[:32] not in data
            assert rc == ResponseCode.ACCESS_DENIED
        client.close()


def test_a_read_only_card_never_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = tmp_path / "card"
    generate_sample_images(card / "DCIM" / "100CARD")
    before = card_digest(card)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with camera(tmp_path, read_only=True) as cam:

        async def attempt() -> list[int]:
            store = IdentityStore(tmp_path / "id.json")
            async with connect(cam.host, cam.port, identity_store=store, timeout=WAIT) as lib:
                info = await lib.transact(OperationCode.GET_STORAGE_INFO, (0x0001_0001,))
                assert (
                    StorageInfo.decode(info.data).access_capability == 1
                )  # read-only, no deletion
                codes = []
                for code, params in (
                    (OperationCode.DELETE_OBJECT, (0xFFFF_FFFF,)),  # `opreq 0x100B 0xFFFFFFFF`
                    (OperationCode.DELETE_OBJECT, (3,)),
                    (OperationCode.INITIATE_CAPTURE, (0, 0)),
                ):
                    codes.append((await lib.opreq(code, params)).code)
                return codes

        assert asyncio.run(attempt()) == [ResponseCode.STORE_READ_ONLY] * 3
    assert card_digest(card) == before


@pytest.mark.interop
def test_gphoto2_cannot_delete_from_a_read_only_card(tmp_path: Path) -> None:
    gphoto2 = shutil.which("gphoto2")
    if gphoto2 is None:
        unavailable("gphoto2 is not installed: apt-get install gphoto2")
    home = tmp_path / "home"
    home.mkdir()
    cards = {}
    for read_only in (True, False):  # the same command empties a writable card
        card = tmp_path / f"card-{read_only}"
        generate_sample_images(card / "DCIM" / "100CARD")
        before = card_digest(card)
        with RunningCamera(storage=card, read_only=read_only) as cam:
            port = f"ptpip:127.0.0.1:{cam.port}:{cam.port}"
            subprocess.run(
                [gphoto2, "--port", port, "--delete-all-files", "--recurse"],
                env={"HOME": str(home), "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
                cwd=tmp_path,
                capture_output=True,
                timeout=60,
                check=False,
            )
        cards[read_only] = (before, card_digest(card))
    before, after = cards[True]
    assert after == before
    before, after = cards[False]
    assert sorted(after) == ["DCIM", "DCIM/100CARD"]
