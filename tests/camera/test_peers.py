"""The virtual camera as programs nobody here wrote use it: scripted peers, raw bytes.

PTPy 0.3.2, the PyPI ``ptpip`` 0.0.10, malc0mn's Go ptpip and small embedded stacks were
run against the virtual camera (peers.md). They are not installed here; each peer below
sends what that program sends and reads the way it reads, and the tests check the bytes
that come back:

- DataPhaseInfo 3 ("unknown", CIPA) and 0 (third-party code): the operation decides whether
  a data-out phase follows (ptpip-standard.md §8.1).
- PTPy reads the Init Command Ack with a single ``recv(72)``.
- Two Python clients send GetObjectHandles with ObjectFormatCode 0xFFFFFFFF for "any".
- Init Command Requests whose name has no NUL, or whose version is missing or 2 bytes long.
- A stack that reads one packet per ``recv()``: every packet (and Fuji container) the camera
  sends must go out in one write.

Every socket call has a timeout; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ptpip.camera.connection import Connection
from ptpip.ip.framing import FUJI_GOODBYE, ContainerType, encode_container
from ptpip.ip.packets import (
    Data,
    EndData,
    FujiInitCommandRequest,
    InitCommandAck,
    InitCommandRequest,
    InitEventRequest,
    OperationRequest,
    OperationResponse,
    StartData,
    decode_packet,
)
from ptpip.ptp.codes import DataPhase, ObjectFormatCode, OperationCode, ResponseCode
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo, decode_handles
from ptpip.testing import RunningCamera

WAIT = 5.0
OK = ResponseCode.OK
ALL = 0xFFFF_FFFF
#: PTPy's initiator: GUID 16 x 0xFF, name "PTPy", ProtocolVersion sent as 100 (peers.md §2.1).
PTPY_GUID = b"\xff" * 16
PTPY_VERSION = b"\x64\x00\x00\x00"
#: PTPy reads the Init Command Ack with one recv of this many bytes.
PTPY_ACK_READ = 72
MiB = 1024 * 1024


def small_jpeg(path: Path, size: tuple[int, int] = (32, 24)) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (30, 120, 200)).save(path, "JPEG")
    return path.read_bytes()


@contextlib.contextmanager
def camera(vendor: str, card: Path, **options: Any) -> Iterator[RunningCamera]:
    with RunningCamera(vendor, storage=card, **options) as cam:
        yield cam


# -- a blocking PTP/IP peer ----------------------------------------------------------------


class Peer:
    """One blocking connection that reads whole packets (however they are split)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.settimeout(WAIT)
        self.tid = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exactly(self, n: int) -> bytes:
        buf = bytearray()
        for _ in range(n + 1):  # each recv brings at least one byte or ends the loop
            if len(buf) >= n:
                break
            piece = self.sock.recv(n - len(buf))
            if not piece:
                raise ConnectionResetError("the camera closed the connection")
            buf += piece
        return bytes(buf)

    def raw_packet(self) -> bytes:
        head = self._exactly(8)
        return head + self._exactly(struct.unpack_from("<I", head)[0] - 8)

    def packet(self) -> Any:
        raw = self.raw_packet()
        return decode_packet(struct.unpack_from("<I", raw, 4)[0], raw[8:])

    def silent_for(self, seconds: float) -> bool:
        """Nothing arrives (and the connection stays open) for ``seconds``."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(WAIT)
        return False

    def request(self, code: int, *params: int, phase: int = DataPhase.NO_DATA_OR_IN) -> int:
        tid = self.tid
        self.tid += 1
        self.send(OperationRequest(code, tid, params, phase).encode())
        return tid

    def answer(self, tid: int) -> tuple[int, bytes | None]:
        """(response code, data-in or None) of transaction ``tid``."""
        data: bytes | None = None
        for _ in range(100_000):
            packet = self.packet()
            if isinstance(packet, StartData):
                assert packet.transaction_id == tid
                data = b""
            elif isinstance(packet, Data | EndData):
                assert data is not None and packet.transaction_id == tid
                data += packet.payload
            else:
                assert isinstance(packet, OperationResponse), packet
                assert packet.transaction_id == tid, (packet, tid)
                return packet.code, data
        raise AssertionError("no response")

    def transact(self, code: int, *params: int, phase: int = 1) -> tuple[int, bytes | None]:
        return self.answer(self.request(code, *params, phase=phase))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def session(port: int, init: bytes | None = None) -> Iterator[Peer]:
    """Command and event connections and an open session (the event link is kept open)."""
    cmd = Peer(port)
    evt: Peer | None = None
    try:
        cmd.send(init or InitCommandRequest(bytes(range(16)), "peer test").encode())
        ack = cmd.packet()
        assert isinstance(ack, InitCommandAck), ack
        evt = Peer(port)
        evt.send(InitEventRequest(ack.connection_number).encode())
        assert evt.raw_packet() == bytes.fromhex("08000000 04000000")
        assert cmd.transact(OperationCode.OPEN_SESSION, 1) == (OK, None)
        yield cmd
    finally:
        cmd.close()
        if evt is not None:
            evt.close()


# -- 1. DataPhaseInfo 3 and 0 ---------------------------------------------------------------


@pytest.mark.parametrize("phase", [DataPhase.UNKNOWN, DataPhase.UNKNOWN_ZERO])
def test_unknown_data_phase_on_a_data_out_operation_waits_for_the_data(
    tmp_path: Path, phase: int
) -> None:
    """malc0mn's Go client sends 3 (CIPA's "unknown"), other third-party code 0: the
    operation has a data-out phase, so the response comes after the data, and the value
    is the one sent."""
    with camera("generic", tmp_path / "card") as cam, session(cam.port) as peer:
        tid = peer.request(OperationCode.SET_DEVICE_PROP_VALUE, 0x5005, phase=phase)
        assert peer.silent_for(0.4)  # no response before the data
        daylight = struct.pack("<H", 4)
        peer.send(StartData(tid, 2).encode() + EndData(tid, daylight).encode())
        assert peer.answer(tid) == (OK, None)
        assert peer.transact(OperationCode.GET_DEVICE_PROP_VALUE, 0x5005) == (OK, daylight)
        # the link is in step: nothing stray was left behind
        assert peer.transact(OperationCode.GET_STORAGE_IDS)[0] == OK


def test_unknown_data_phase_with_data_packets_and_an_empty_end(tmp_path: Path) -> None:
    """The data may come as Data packets and an empty End Data, and a string value too."""
    with camera("generic", tmp_path / "card") as cam, session(cam.port) as peer:
        tid = peer.request(OperationCode.SET_DEVICE_PROP_VALUE, 0x501E, phase=DataPhase.UNKNOWN)
        artist = b"\x04" + "Ann".encode("utf-16-le") + b"\x00\x00"
        peer.send(StartData(tid, len(artist)).encode())
        peer.send(Data(tid, artist[:3]).encode() + Data(tid, artist[3:]).encode())
        assert peer.silent_for(0.3)  # the data phase is not over yet
        peer.send(EndData(tid).encode())
        assert peer.answer(tid) == (OK, None)
        assert peer.transact(OperationCode.GET_DEVICE_PROP_VALUE, 0x501E) == (OK, artist)


@pytest.mark.parametrize("phase", [DataPhase.UNKNOWN, DataPhase.UNKNOWN_ZERO])
def test_unknown_data_phase_on_a_data_in_operation_waits_for_nothing(
    tmp_path: Path, phase: int
) -> None:
    with camera("generic", tmp_path / "card", data_timeout=30) as cam, session(cam.port) as peer:
        started = time.monotonic()
        code, data = peer.transact(OperationCode.GET_DEVICE_INFO, phase=phase)
        assert code == OK and data is not None
        assert DeviceInfo.decode(data).model == "ptpip virtual camera"
        code, data = peer.transact(OperationCode.GET_STORAGE_IDS, phase=phase)
        assert code == OK and data is not None and decode_handles(data)
        # an operation the camera does not know has no data-out phase either
        assert peer.transact(0x9999, phase=phase) == (ResponseCode.OPERATION_NOT_SUPPORTED, None)
        assert time.monotonic() - started < 3  # not the 30 s of a data-out wait


def test_unknown_data_phase_on_canon_data_out_operation(tmp_path: Path) -> None:
    """The personality's table decides, vendor operations included (Canon 0x9110)."""
    with camera("canon", tmp_path / "card") as cam, session(cam.port) as peer:
        assert peer.transact(0x9114, 1) == (OK, None)  # SetRemoteMode
        tid = peer.request(0x9110, phase=DataPhase.UNKNOWN)  # SetDevicePropValueEx
        assert peer.silent_for(0.4)
        record = struct.pack("<III", 12, 0xD101, 0x48)  # size, Aperture, f/8
        peer.send(StartData(tid, len(record)).encode() + EndData(tid, record).encode())
        assert peer.answer(tid) == (OK, None)


# -- 2. liberal in what we accept ------------------------------------------------------------


def ptpy_init(name: str = "PTPy") -> bytes:
    """PTPy's Init Command Request: all-0xFF GUID, NUL-terminated name, version 100."""
    payload = PTPY_GUID + name.encode("utf-16-le") + b"\x00\x00" + PTPY_VERSION
    return struct.pack("<II", 8 + len(payload), 1) + payload


@pytest.mark.parametrize(
    ("vendor", "model"),
    [
        ("generic", None),
        ("generic", "An Uncommonly Long Camera Model Name"),
        ("generic", "\U0001f4f7" * 15),  # two UTF-16 units each: never cut between them
        ("canon", None),
        ("canon", "Canon EOS 5D Mark IV Digital SLR Camera"),
        ("leica", None),
    ],
)
def test_the_init_ack_fits_ptpys_single_72_byte_read(
    tmp_path: Path, vendor: str, model: str | None
) -> None:
    """PTPy reads the ack with one recv(72): the ack (8 header + 4 connection number + 16
    GUID + name + NUL + 4 version) must be at most 72 bytes, so the name at most 19 UTF-16
    units. Then the stream is in step: the event link and a session work."""
    with camera(vendor, tmp_path / "card", model=model) as cam:
        peer = Peer(cam.port)
        evt: Peer | None = None
        try:
            peer.send(ptpy_init())
            time.sleep(0.2)  # all the camera sends is there: one recv must take it whole
            got = peer.sock.recv(PTPY_ACK_READ)
            length, ptype = struct.unpack_from("<II", got)
            assert ptype == 2 and length == len(got) <= PTPY_ACK_READ, got.hex(" ")
            ack = decode_packet(2, got[8:])
            assert isinstance(ack, InitCommandAck)
            assert len(ack.friendly_name.encode("utf-16-le")) // 2 <= 19
            if model is not None and vendor == "generic":
                assert ack.friendly_name and model.startswith(ack.friendly_name)
            assert peer.silent_for(0.2)  # nothing left over for PTPy's next read
            evt = Peer(cam.port)
            evt.send(InitEventRequest(ack.connection_number).encode())
            assert evt.raw_packet() == bytes.fromhex("08000000 04000000")
            # PTPy pads every request to 5 parameters
            assert peer.transact(OperationCode.OPEN_SESSION, 1, 0, 0, 0, 0) == (OK, None)
            code, data = peer.transact(OperationCode.GET_DEVICE_INFO, 0, 0, 0, 0, 0)
            assert code == OK and data is not None
            if model is not None:
                assert DeviceInfo.decode(data).model == model  # the DeviceInfo keeps it all
        finally:
            peer.close()
            if evt is not None:
                evt.close()


def test_every_personalitys_default_ack_fits_72_bytes(tmp_path: Path) -> None:
    from ptpip.camera.factory import VENDORS, make_personality

    for vendor in VENDORS:
        personality = make_personality(vendor, tmp_path / vendor.value)
        ack = personality.init_ack(0xFFFF_FFFF).encode()
        assert len(ack) <= PTPY_ACK_READ, (vendor, len(ack))


GUID = bytes(range(16))


def init_bytes(name_and_version: bytes) -> bytes:
    payload = GUID + name_and_version
    return struct.pack("<II", 8 + len(payload), 1) + payload


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


@pytest.mark.parametrize(
    ("what", "body", "name"),
    [
        ("standard", utf16("Go ptpip") + b"\0\0" + b"\0\0\1\0", "Go ptpip"),
        ("no NUL after the name", utf16("OLS") + b"\0\0\1\0", "OLS"),
        ("no version", utf16("ptpip-py") + b"\0\0", "ptpip-py"),
        ("a 2-byte version", utf16("ptpip-py") + b"\0\0" + b"\1\0", "ptpip-py"),
        ("no version, empty name", b"\0\0", ""),
        ("PTPy's version 100", utf16("PTPy") + b"\0\0" + PTPY_VERSION, "PTPy"),
    ],
)
def test_lenient_init_command_requests_are_accepted(
    tmp_path: Path, what: str, body: bytes, name: str
) -> None:
    seen: list[str] = []
    with camera("generic", tmp_path / "card") as cam:
        personality = cam.personality
        check = personality.check_initiator

        def spy(request: Any) -> int | None:
            seen.append(request.friendly_name)
            return check(request)

        personality.check_initiator = spy  # type: ignore[method-assign]
        with session(cam.port, init_bytes(body)) as peer:
            assert peer.transact(OperationCode.GET_STORAGE_IDS)[0] == OK
    assert seen == [name], what


def test_get_object_handles_with_format_0xffffffff_means_all_formats(tmp_path: Path) -> None:
    """PTPy and the PyPI ptpip send ObjectFormatCode 0xFFFFFFFF for "any format"."""
    card = tmp_path / "card"
    small_jpeg(card / "DCIM" / "100TEST" / "A.JPG")
    (card / "DCIM" / "100TEST" / "NOTES.TXT").write_text("hello")
    with camera("generic", card) as cam, session(cam.port) as peer:
        code, data = peer.transact(OperationCode.GET_OBJECT_HANDLES, ALL, 0, 0)
        assert code == OK and data is not None
        everything = decode_handles(data)
        assert len(everything) == 4  # DCIM, 100TEST, A.JPG, NOTES.TXT
        code, data = peer.transact(OperationCode.GET_OBJECT_HANDLES, ALL, ALL, 0)
        assert code == OK and data is not None
        assert decode_handles(data) == everything
        code, data = peer.transact(OperationCode.GET_OBJECT_HANDLES, ALL, ALL, ALL)
        assert code == OK and data is not None and len(decode_handles(data)) == 1  # DCIM
        assert peer.transact(OperationCode.GET_NUM_OBJECTS, ALL, ALL, 0) == (OK, None)
        tid = peer.request(OperationCode.GET_NUM_OBJECTS, ALL, ALL)
        packet = peer.packet()
        assert isinstance(packet, OperationResponse) and packet.transaction_id == tid
        assert packet.params == (4,)
        # a real format still filters
        code, data = peer.transact(OperationCode.GET_OBJECT_HANDLES, ALL, 0x3801, 0)
        assert code == OK and data is not None and len(decode_handles(data)) == 1


def test_transaction_ids_from_2022_and_five_padded_parameters(tmp_path: Path) -> None:
    """The PyPI ptpip numbers its transactions from 2022; PTPy and malc0mn pad every
    request to 5 parameters. Neither is refused."""
    card = tmp_path / "card"
    small_jpeg(card / "DCIM" / "100TEST" / "A.JPG")
    with camera("generic", card) as cam, session(cam.port) as peer:
        peer.tid = 2022
        code, data = peer.transact(OperationCode.GET_STORAGE_IDS, 0, 0, 0, 0, 0)
        assert code == OK and data is not None
        (storage,) = decode_handles(data)
        code, data = peer.transact(OperationCode.GET_OBJECT_HANDLES, storage, ALL, 0, 0, 0)
        assert code == OK and data is not None and len(decode_handles(data)) == 3
        jpeg = decode_handles(data)[-1]
        code, data = peer.transact(OperationCode.GET_OBJECT, jpeg, 0, 0, 0, 0)
        assert code == OK and data == (card / "DCIM" / "100TEST" / "A.JPG").read_bytes()


# -- 4. one write per packet -----------------------------------------------------------------


class OneRecvReader:
    """Reads like a small embedded stack: one ``recv()`` per packet it expects, never a
    second one to complete a packet. A recv may bring several whole packets (the camera
    sent them back to back); it must never end inside one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.queue: deque[bytes] = deque()

    def packet(self) -> bytes:
        if not self.queue:
            got = self.sock.recv(4 * MiB)
            if not got:
                raise ConnectionResetError("the camera closed the connection")
            pos = 0
            for _ in range(len(got)):  # each packet is at least 8 bytes
                if pos == len(got):
                    break
                if len(got) - pos < 8:
                    raise AssertionError(f"a recv ended inside a header: {got[pos:].hex()}")
                length = struct.unpack_from("<I", got, pos)[0]
                if length < 8 or pos + length > len(got):
                    raise AssertionError(
                        f"a recv ended inside a packet: {len(got) - pos} of {length} bytes"
                    )
                self.queue.append(got[pos : pos + length])
                pos += length
        return self.queue.popleft()

    def eof(self) -> bool:
        return not self.queue and self.sock.recv(1) == b""


def one_recv_cipa_round(port: int, small: str) -> None:
    """Init (both links), OpenSession, GetDeviceInfo, GetObjectHandles, GetObjectInfo, a
    small GetObject, CloseSession: every packet read with one recv."""
    with contextlib.ExitStack() as stack:
        cmd = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
        rd = OneRecvReader(cmd)
        cmd.sendall(InitCommandRequest(GUID, "one recv").encode())
        ack = decode_packet(2, rd.packet()[8:])
        assert isinstance(ack, InitCommandAck)
        evt = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
        evt.sendall(InitEventRequest(ack.connection_number).encode())
        assert OneRecvReader(evt).packet() == bytes.fromhex("08000000 04000000")
        tid = 0

        def transact(code: int, *params: int) -> tuple[int, bytes | None]:
            nonlocal tid
            tid += 1
            cmd.sendall(OperationRequest(code, tid, params).encode())
            data: bytes | None = None
            for _ in range(10_000):
                raw = rd.packet()
                packet = decode_packet(struct.unpack_from("<I", raw, 4)[0], raw[8:])
                if isinstance(packet, StartData):
                    data = b""
                elif isinstance(packet, Data | EndData):
                    assert data is not None
                    data += packet.payload
                else:
                    assert isinstance(packet, OperationResponse)
                    assert packet.transaction_id == tid
                    return packet.code, data
            raise AssertionError("no response")

        assert transact(OperationCode.OPEN_SESSION, 1) == (OK, None)
        code, data = transact(OperationCode.GET_DEVICE_INFO)
        assert code == OK and data and DeviceInfo.decode(data).operations_supported
        code, data = transact(OperationCode.GET_OBJECT_HANDLES, ALL, ObjectFormatCode.EXIF_JPEG)
        assert code == OK and data
        (handle,) = decode_handles(data)
        code, data = transact(OperationCode.GET_OBJECT_INFO, handle)
        assert code == OK and data and ObjectInfo.decode(data).filename == small
        code, data = transact(OperationCode.GET_OBJECT, handle)
        assert code == OK and data and data[:2] == b"\xff\xd8"
        assert transact(OperationCode.CLOSE_SESSION) == (OK, None)
        cmd.shutdown(socket.SHUT_WR)  # the camera ends the session and closes both links
        assert rd.eof()


def fuji_container(code: int, tid: int, *params: int) -> bytes:
    return encode_container(ContainerType.COMMAND, code, tid, params=params)


def one_recv_fuji_round(port: int, small: str) -> None:
    """The same round in Fuji's dialect: the 82-byte Init, then USB-style containers."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as cmd:
        rd = OneRecvReader(cmd)
        cmd.sendall(FujiInitCommandRequest(GUID, "one recv").encode())
        assert struct.unpack_from("<II", rd.packet()) == (68, 2)
        tid = 0

        def transact(code: int, *params: int) -> tuple[int, bytes | None]:
            nonlocal tid
            tid += 1
            cmd.sendall(fuji_container(code, tid, *params))
            data: bytes | None = None
            for _ in range(3):
                raw = rd.packet()
                _, kind, echoed, got = struct.unpack_from("<IHHI", raw)
                assert got == tid
                if kind == ContainerType.DATA:
                    assert data is None and echoed == code
                    data = raw[12:]
                else:
                    assert kind == ContainerType.RESPONSE
                    return echoed, data
            raise AssertionError("no response")

        assert transact(OperationCode.OPEN_SESSION, 1) == (OK, None)
        code, data = transact(OperationCode.GET_DEVICE_INFO)
        assert code == OK and data and DeviceInfo.decode(data).manufacturer == "FUJIFILM"
        code, data = transact(OperationCode.GET_OBJECT_INFO, 1)
        assert code == OK and data and ObjectInfo.decode(data).filename == small
        code, data = transact(OperationCode.GET_OBJECT, 1)
        assert code == OK and data and data[:2] == b"\xff\xd8"
        assert transact(OperationCode.CLOSE_SESSION) == (OK, None)
        cmd.sendall(FUJI_GOODBYE)  # the camera closes the connection
        assert rd.eof()


@pytest.mark.parametrize("vendor", ["generic", "fuji"])
def test_a_one_recv_per_packet_client_connects_100_times(tmp_path: Path, vendor: str) -> None:
    card = tmp_path / "card"
    small_jpeg(card / "DCIM" / "100TEST" / "SMALL.JPG", (64, 48))
    round_trip = one_recv_fuji_round if vendor == "fuji" else one_recv_cipa_round
    failures: list[str] = []
    with camera(vendor, card, handshake_timeout=5) as cam:
        deadline = time.monotonic() + 120
        for attempt in range(100):
            if time.monotonic() > deadline:
                failures.append(f"out of time after {attempt} rounds")
                break
            try:
                round_trip(cam.port, "SMALL.JPG")
            except (AssertionError, OSError) as exc:
                failures.append(f"round {attempt}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)}/100 failed; first: {failures[:3]}"


# -- the camera's writes, recorded -----------------------------------------------------------


class WriteLog:
    """Every ``transport.write`` (and ``writelines``) call on the virtual camera's
    connections, per connection, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writes: dict[int, list[bytes]] = {}
        self.kinds: dict[int, str] = {}

    def record(self, protocol: object, data: bytes) -> None:
        if isinstance(protocol, Connection):
            with self.lock:
                key = id(protocol)
                self.writes.setdefault(key, []).append(bytes(data))
                listener = protocol.listener
                self.kinds[key] = "command" if listener is None else listener.name


@pytest.fixture
def write_log(monkeypatch: pytest.MonkeyPatch) -> WriteLog:
    from asyncio import selector_events

    log = WriteLog()
    transport_class: Any = getattr(selector_events, "_SelectorSocketTransport")  # noqa: B009
    write = transport_class.write

    def recording_write(self: asyncio.Transport, data: Any) -> None:
        log.record(self.get_protocol(), bytes(data))
        write(self, data)

    monkeypatch.setattr(transport_class, "write", recording_write)
    if "writelines" in vars(transport_class):
        writelines = transport_class.writelines

        def recording_writelines(self: asyncio.Transport, lines: Any) -> None:
            log.record(self.get_protocol(), b"".join(lines))
            writelines(self, lines)

        monkeypatch.setattr(transport_class, "writelines", recording_writelines)
    return log


#: A Fuji data container up to this size goes out in one write (GetPartialObject's 1 MiB
#: pieces fit); a longer one at least with its header and first piece together.
WHOLE_CONTAINER = 1 * MiB + 12
FIRST_PIECE = 4096


def check_writes(writes: list[bytes], *, containers: bool) -> int:
    """Every write begins and ends on a packet boundary of the stream (a Fuji data
    container over WHOLE_CONTAINER may span writes, its first one holding its header and
    first piece); the number of packets."""
    left = 0  # bytes of a spanning packet still to come
    count = 0
    for index, write in enumerate(writes):
        pos = min(left, len(write))
        left -= pos
        for _ in range(len(write)):
            if pos == len(write):
                break
            assert len(write) - pos >= 8, f"write {index} ends inside a header"
            length, ptype = struct.unpack_from("<II", write, pos)
            count += 1
            if pos + length <= len(write):
                pos += length
                continue
            here = len(write) - pos
            kind = ptype & 0xFFFF
            assert containers and kind == ContainerType.DATA and length > WHOLE_CONTAINER, (
                f"write {index} ends inside a packet ({here} of {length} bytes, type {ptype:#x})"
            )
            assert here >= 12 + FIRST_PIECE, f"a data container's first write holds {here} bytes"
            left = length - here
            pos = len(write)
    assert left == 0, "the stream ends inside a packet"
    return count


def test_every_packet_goes_out_in_one_write_generic(tmp_path: Path, write_log: WriteLog) -> None:
    card = tmp_path / "card"
    small_jpeg(card / "DCIM" / "100TEST" / "SMALL.JPG")
    (card / "DCIM" / "100TEST" / "BIG.BIN").write_bytes(bytes(range(256)) * 1200)  # 300 KiB
    with camera("generic", card) as cam, session(cam.port) as peer:
        assert peer.transact(OperationCode.GET_DEVICE_INFO)[0] == OK
        assert peer.transact(OperationCode.GET_STORAGE_IDS)[0] == OK
        assert peer.transact(OperationCode.GET_STORAGE_INFO, 0x0001_0001)[0] == OK
        code, data = peer.transact(OperationCode.GET_OBJECT_HANDLES, ALL, 0, 0)
        assert code == OK and data is not None
        for handle in decode_handles(data):
            assert peer.transact(OperationCode.GET_OBJECT_INFO, handle)[0] == OK
            peer.transact(OperationCode.GET_OBJECT, handle)
            peer.transact(OperationCode.GET_PARTIAL_OBJECT, handle, 10, 100_000)
        tid = peer.request(OperationCode.SET_DEVICE_PROP_VALUE, 0x5005, phase=2)
        peer.send(StartData(tid, 2).encode() + EndData(tid, b"\x04\x00").encode())
        assert peer.answer(tid) == (OK, None)
        assert peer.transact(OperationCode.INITIATE_CAPTURE, 0, 0)[0] == OK  # events follow
        time.sleep(0.3)
        assert peer.transact(OperationCode.CLOSE_SESSION)[0] == OK
    time.sleep(0.2)
    with write_log.lock:
        conns = dict(write_log.writes)
        kinds = dict(write_log.kinds)
    assert sorted(kinds.values()) == ["command", "command"]  # the command and event links
    packets = {key: check_writes(writes, containers=False) for key, writes in conns.items()}
    assert sum(packets.values()) > 50


def test_every_container_goes_out_in_one_write_fuji(tmp_path: Path, write_log: WriteLog) -> None:
    card = tmp_path / "card"
    small_jpeg(card / "DCIM" / "100TEST" / "A_SMALL.JPG")
    (card / "DCIM" / "100TEST" / "B_MID.JPG").write_bytes(b"\xff\xd8" + bytes(700_000))
    (card / "DCIM" / "100TEST" / "C_MIB.JPG").write_bytes(b"\xff\xd8" + bytes(MiB - 2))
    (card / "DCIM" / "100TEST" / "D_BIG.JPG").write_bytes(b"\xff\xd8" + bytes(3 * MiB))
    with camera("fuji", card) as cam, contextlib.closing(Peer(cam.port)) as peer:
        peer.send(FujiInitCommandRequest(GUID, "writes").encode())
        assert len(peer.raw_packet()) == 68
        tid = 0

        def transact(code: int, *params: int) -> tuple[int, int]:
            nonlocal tid
            tid += 1
            peer.send(fuji_container(code, tid, *params))
            size = -1
            for _ in range(3):
                raw = peer.raw_packet()
                _, kind, echoed, _ = struct.unpack_from("<IHHI", raw)
                if kind == ContainerType.DATA:
                    size = len(raw) - 12
                else:
                    return echoed, size
            raise AssertionError("no response")

        assert transact(OperationCode.OPEN_SESSION, 1)[0] == OK
        assert transact(OperationCode.GET_DEVICE_INFO)[0] == OK
        sizes = []
        for index in (1, 2, 3, 4):
            assert transact(OperationCode.GET_OBJECT_INFO, index)[0] == OK
            code, size = transact(OperationCode.GET_OBJECT, index)
            assert code == OK
            sizes.append(size)
            code, size = transact(OperationCode.GET_PARTIAL_OBJECT, index, 0, MiB)
            assert code == OK and size == min(MiB, sizes[-1])
        assert sizes[1:] == [700_002, MiB, 3 * MiB + 2]
        assert transact(OperationCode.GET_DEVICE_PROP_DESC, 0xD0FF) == (OK, 0)  # empty data
        assert transact(OperationCode.GET_OBJECT_INFO, 99)[0] != OK  # an empty container
        assert transact(OperationCode.CLOSE_SESSION)[0] == OK
        peer.send(FUJI_GOODBYE)
    with write_log.lock:
        conns = dict(write_log.writes)
    assert len(conns) == 1
    (writes,) = conns.values()
    assert check_writes(writes, containers=True) > 30
    # the containers up to 1 MiB of payload were each one write
    assert sum(1 for w in writes if len(w) == 12 + MiB) >= 3
