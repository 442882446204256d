"""Wireshark's PTP/IP dissector (tshark) decodes what the client and the virtual camera send.

A session is recorded on the loopback interface with dumpcap, then decoded twice: by tshark
and by a small independent parser of the reassembled TCP streams written here. tshark's
dissector does not reassemble (gphoto2-interop.md §12.2): it decodes only the first PTP/IP
packet of each TCP segment, so the two decodes are compared frame by frame, and the protocol
sequence is checked on the complete one.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import socket
import struct
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ptpip.client.camera import connect
from ptpip.client.identity import IdentityStore
from ptpip.ip.framing import DataChunk, Framer
from ptpip.ptp.codes import DevicePropertyCode, EventCode, OperationCode, PacketType, ResponseCode
from ptpip.testing import RunningCamera
from tests.interop.conftest import LOOPBACK, Gphoto2, require_tool, run_tool, unavailable

pytestmark = pytest.mark.interop

#: Bounded waits for dumpcap to start and to write what it saw.
CAPTURE_DEADLINE = 20.0
CLIENT_DEADLINE = 60.0

T = PacketType
FIELDS = (
    "frame.number",
    "tcp.stream",
    "tcp.srcport",
    "tcp.seq",
    "tcp.len",
    "tcp.payload",
    "ptpip.len",
    "ptpip.pktType",
    "ptpip.opcode",
    "ptpip.eventcode",
    "ptpip.transactionID",
    "ptpip.opcode.param.sessionid",
    "ptpip.datalen",
)


# -- capturing -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tshark() -> str:
    return require_tool("tshark")


@pytest.fixture(scope="session")
def dumpcap() -> str:
    path = require_tool("dumpcap")
    if os.geteuid() != 0:
        # Not root: works only if dumpcap has the capture capabilities (wireshark group).
        probe = run_tool([path, "-L", "-i", "lo"], check=False, timeout=20)
        if probe.returncode != 0:
            why = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[0]
            unavailable(f"capturing on lo needs root or a capture-capable dumpcap: {why}")
    return path


class LoopbackCapture:
    """dumpcap on ``lo`` for one TCP port, as a context manager.

    Started and stopped with a canary: a UDP datagram to a socket of our own on 127.0.0.1,
    matched by the capture filter. Once the canary is in the file, the capture is live (at
    the start) or holds everything sent before it (at the end); dumpcap flushes its file on
    its own schedule, so a pcap header alone proves neither.
    """

    def __init__(self, dumpcap: str, port: int, folder: Path) -> None:
        self.dumpcap = dumpcap
        self.port = port
        self.path = folder / "session.pcap"
        self.log = folder / "dumpcap.log"
        self._canary = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._canary.bind((LOOPBACK, 0))
        self._canary_port: int = self._canary.getsockname()[1]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LoopbackCapture:
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    self.dumpcap,
                    "-q",
                    "-P",  # classic pcap
                    "-i",
                    "lo",
                    "-f",
                    f"tcp port {self.port} or udp port {self._canary_port}",
                    "-w",
                    str(self.path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            self._mark("start")
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._mark("end")
        finally:
            self._stop()

    def _mark(self, what: str) -> None:
        assert self._proc is not None
        token = f"ptpip-canary-{what}-{os.urandom(8).hex()}".encode()
        deadline = time.monotonic() + CAPTURE_DEADLINE
        sent_at = 0.0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                pytest.fail(f"dumpcap exited with {self._proc.returncode}: {self._log_text()}")
            now = time.monotonic()
            if now - sent_at > 0.25:
                self._canary.sendto(token, (LOOPBACK, self._canary_port))
                sent_at = now
            if self.path.exists() and token in self.path.read_bytes():
                return
            time.sleep(0.02)
        pytest.fail(f"dumpcap did not record the {what} canary in time: {self._log_text()}")

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
        self._canary.close()


# -- decoding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One TCP segment with payload, as tshark dissected it."""

    number: int
    stream: int
    from_camera: bool
    seq: int
    payload: bytes
    # the first PTP/IP packet in the segment, as tshark decoded it (None: not decoded)
    length: int | None
    ptype: int | None
    opcode: int | None
    eventcode: int | None
    tid: int | None
    session_id: int | None
    datalen: int | None


@dataclass(frozen=True)
class Wire:
    """One PTP/IP packet as our own parser reads it from the reassembled TCP stream."""

    stream: int
    from_camera: bool
    offset: int
    length: int
    ptype: int
    frame: int
    code: int | None = None
    tid: int | None = None
    params: tuple[int, ...] = ()
    total: int | None = None


def _int(text: str) -> int | None:
    return int(text, 0) if text else None


def tshark_env(home: Path) -> dict[str, str]:
    # A private HOME: the user's Wireshark preferences must not change the decode.
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def tshark_frames(tshark: str, pcap: Path, port: int, home: Path) -> list[Frame]:
    fields = [arg for name in FIELDS for arg in ("-e", name)]
    result = run_tool(
        [
            tshark,
            "-n",  # no name resolution
            "-r",
            str(pcap),
            "-d",
            f"tcp.port=={port},ptpip",
            "-Y",
            f"tcp.port == {port} && tcp.len > 0",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=f",
            *fields,
        ],
        env=tshark_env(home),
    )
    frames = []
    for line in result.stdout.splitlines():
        values = line.split("\t")
        assert len(values) == len(FIELDS), line
        number, stream, srcport, seq, length, payload, *ptpip = values
        data = bytes.fromhex(payload.replace(":", ""))
        assert len(data) == int(length), line
        plen, ptype, opcode, eventcode, tid, session_id, datalen = (_int(v) for v in ptpip)
        frames.append(
            Frame(
                int(number),
                int(stream),
                int(srcport) == port,
                int(seq),
                data,
                plen,
                ptype,
                opcode,
                eventcode,
                tid,
                session_id,
                datalen,
            )
        )
    return frames


def tshark_problems(tshark: str, pcap: Path, port: int, home: Path) -> str:
    """Frames tshark flags as malformed or with an error-level expert item (empty if none)."""
    return run_tool(
        [
            tshark,
            "-n",
            "-r",
            str(pcap),
            "-d",
            f"tcp.port=={port},ptpip",
            "-Y",
            f"tcp.port == {port} && (_ws.malformed || _ws.expert.severity >= error)",
        ],
        env=tshark_env(home),
    ).stdout.strip()


def directions(frames: list[Frame]) -> Iterator[tuple[int, bool, list[Frame]]]:
    """(stream, from_camera, its frames in sequence order) for each TCP direction."""
    groups: dict[tuple[int, bool], list[Frame]] = defaultdict(list)
    for frame in frames:
        groups[frame.stream, frame.from_camera].append(frame)
    for (stream, from_camera), group in sorted(groups.items()):
        group.sort(key=lambda f: f.seq)
        yield stream, from_camera, group


def parse_direction(stream: int, from_camera: bool, frames: list[Frame]) -> list[Wire]:
    """Our own PTP/IP parse of one direction of a TCP connection."""
    data = bytearray()
    starts: list[int] = []
    seq = frames[0].seq
    for frame in frames:
        # loopback: no loss; a retransmission would show up here
        assert frame.seq == seq, f"frame {frame.number}: seq {frame.seq}, expected {seq}"
        starts.append(len(data))
        data += frame.payload
        seq += len(frame.payload)
    packets = []
    offset = 0
    while offset < len(data):
        assert len(data) - offset >= 8, f"stream {stream}: truncated header at {offset}"
        length, ptype = struct.unpack_from("<II", data, offset)
        assert length >= 8, f"stream {stream}: packet length {length} at {offset}"
        assert offset + length <= len(data), f"stream {stream}: truncated packet at {offset}"
        body = bytes(data[offset + 8 : offset + length])
        number = frames[bisect.bisect_right(starts, offset) - 1].number
        code = tid = total = None
        params: tuple[int, ...] = ()
        if ptype == T.OPERATION_REQUEST:
            _, code, tid = struct.unpack_from("<IHI", body)
            params = struct.unpack_from(f"<{(len(body) - 10) // 4}I", body, 10)
        elif ptype in (T.OPERATION_RESPONSE, T.EVENT):
            code, tid = struct.unpack_from("<HI", body)
            params = struct.unpack_from(f"<{(len(body) - 6) // 4}I", body, 6)
        elif ptype == T.START_DATA:
            tid, total = struct.unpack_from("<IQ", body)
        elif ptype in (T.DATA, T.END_DATA, T.CANCEL):
            (tid,) = struct.unpack_from("<I", body)
        packets.append(
            Wire(stream, from_camera, offset, length, ptype, number, code, tid, params, total)
        )
        offset += length
    return packets


def framer_types(frames: list[Frame]) -> list[int]:
    """The packet types the library's own Framer reads from one direction's bytes."""
    framer = Framer()
    for frame in frames:
        framer.feed(frame.payload)
    types: list[int] = []
    for event in framer.events():
        if isinstance(event, DataChunk):
            if event.last:
                types.append(T.END_DATA if event.end_data else T.DATA)
        else:
            assert hasattr(event, "TYPE"), event
            types.append(int(event.TYPE))
    assert framer.buffered == 0
    return types


@dataclass
class Decoded:
    frames: list[Frame]
    packets: list[Wire]  # our own parse, per direction, directions in stream order
    command_stream: int
    event_stream: int

    def on(self, stream: int, *, from_camera: bool) -> list[Wire]:
        return [p for p in self.packets if p.stream == stream and p.from_camera == from_camera]

    def requests(self) -> list[Wire]:
        return [p for p in self.packets if p.ptype == T.OPERATION_REQUEST]

    def tshark_has(self, ptype: int, **fields: int) -> bool:
        return any(
            f.ptype == ptype and all(getattr(f, k) == v for k, v in fields.items())
            for f in self.frames
        )


def decode(tshark: str, pcap: Path, port: int, home: Path) -> Decoded:
    """Decode a capture with tshark and with our own parser; check they agree."""
    problems = tshark_problems(tshark, pcap, port, home)
    assert not problems, f"tshark reports malformed or erroneous frames:\n{problems}"
    frames = tshark_frames(tshark, pcap, port, home)
    assert frames, "no TCP payload was captured"

    # tshark decodes every segment with payload as PTP/IP (no bogus type-0 continuations)
    undecoded = [f.number for f in frames if f.ptype is None or f.ptype == 0]
    assert not undecoded, f"frames tshark did not decode as PTP/IP: {undecoded}"

    packets: list[Wire] = []
    for stream, from_camera, group in directions(frames):
        own = parse_direction(stream, from_camera, group)
        assert [p.ptype for p in own] == framer_types(group), f"stream {stream}"
        at = {p.offset: p for p in own}
        start = 0
        for frame in group:
            first = at.get(start)
            start += len(frame.payload)
            # every segment starts with a packet, and tshark read that packet as we do
            assert first is not None, f"frame {frame.number} starts inside a packet"
            assert (frame.length, frame.ptype) == (first.length, first.ptype), frame.number
            if first.ptype == T.OPERATION_REQUEST:
                assert (frame.opcode, frame.tid) == (first.code, first.tid), frame.number
            elif first.ptype == T.EVENT:
                assert (frame.eventcode, frame.tid) == (first.code, first.tid), frame.number
            elif first.ptype == T.START_DATA:
                assert (frame.tid, frame.datalen) == (first.tid, first.total), frame.number
        packets += own

    # tshark sees only the first packet of each segment; ours sees them all
    assert len(packets) >= len(frames)
    # the first packet the initiator sends on a connection says which one it is
    kinds = {p.stream: p.ptype for p in packets if not p.from_camera and p.offset == 0}
    command = [s for s, t in kinds.items() if t == T.INIT_COMMAND_REQUEST]
    event = [s for s, t in kinds.items() if t == T.INIT_EVENT_REQUEST]
    assert len(command) == 1, kinds
    assert len(event) == 1, kinds
    assert set(kinds) == {command[0], event[0]}, kinds
    return Decoded(frames, packets, command[0], event[0])


def check_session(decoded: Decoded) -> None:
    """The common shape of a PTP/IP session (CIPA DC-X005 §2.4; gphoto2-interop.md §3)."""
    cmd, evt = decoded.command_stream, decoded.event_stream
    assert decoded.on(cmd, from_camera=False)[0].ptype == T.INIT_COMMAND_REQUEST
    assert decoded.on(cmd, from_camera=True)[0].ptype == T.INIT_COMMAND_ACK
    assert decoded.on(evt, from_camera=False)[0].ptype == T.INIT_EVENT_REQUEST
    assert decoded.on(evt, from_camera=True)[0].ptype == T.INIT_EVENT_ACK

    requests = decoded.requests()
    assert all(p.stream == cmd for p in requests)
    first, last = requests[0], requests[-1]
    assert (first.code, first.tid, first.params) == (OperationCode.OPEN_SESSION, 0, (1,))
    assert last.code == OperationCode.CLOSE_SESSION
    # transaction IDs count up from 0 on the command connection
    assert [p.tid for p in requests] == list(range(len(requests)))
    responses = [p for p in decoded.packets if p.ptype == T.OPERATION_RESPONSE]
    assert [p.tid for p in responses] == [p.tid for p in requests]
    assert all(p.code == ResponseCode.OK for p in responses)
    types = {p.ptype for p in decoded.packets}
    assert {T.START_DATA, T.END_DATA} <= types

    # ... and tshark decoded the landmarks itself
    for ptype in (
        T.INIT_COMMAND_REQUEST,
        T.INIT_COMMAND_ACK,
        T.INIT_EVENT_REQUEST,
        T.INIT_EVENT_ACK,
        T.START_DATA,
        T.END_DATA,
        T.OPERATION_RESPONSE,
    ):
        assert decoded.tshark_has(ptype), f"tshark decoded no {ptype.name}"
    assert decoded.tshark_has(
        T.OPERATION_REQUEST, opcode=OperationCode.OPEN_SESSION, tid=0, session_id=1
    )
    assert decoded.tshark_has(T.OPERATION_REQUEST, opcode=OperationCode.CLOSE_SESSION)


# -- sessions --------------------------------------------------------------------------------


async def client_session(cam: RunningCamera, folder: Path) -> None:
    """Device info, storages, list, download one file, capture, get/set a property."""
    downloads = folder / "downloads"
    downloads.mkdir()
    async with (
        asyncio.timeout(CLIENT_DEADLINE),
        connect(cam.host, cam.port, identity_store=IdentityStore(folder / "id.json")) as camera,
    ):
        info = await camera.device_info()
        assert info.manufacturer == "ptpip"
        assert [sid for sid, _ in await camera.storages()] == [0x0001_0001]
        files = [e for e in await camera.list_objects() if not e.is_folder]
        assert len(files) == 4
        saved = await camera.download(files[0].handle, downloads)
        assert saved is not None
        assert saved.read_bytes() == (cam.storage / files[0].path).read_bytes()
        assert len(await camera.capture()) == 1
        iso = DevicePropertyCode.EXPOSURE_INDEX
        assert await camera.get_property(iso) == 100
        await camera.set_property(iso, 400)
        assert await camera.get_property(iso) == 400


def test_client_session_decodes(
    tshark: str, dumpcap: str, camera: RunningCamera, tmp_path: Path
) -> None:
    assert camera.host == LOOPBACK
    with LoopbackCapture(dumpcap, camera.port, tmp_path) as capture:
        asyncio.run(client_session(camera, tmp_path))
    decoded = decode(tshark, capture.path, camera.port, tmp_path)
    check_session(decoded)

    codes = [p.code for p in decoded.requests()]
    for op in (
        OperationCode.GET_DEVICE_INFO,
        OperationCode.GET_STORAGE_IDS,
        OperationCode.GET_STORAGE_INFO,
        OperationCode.GET_OBJECT_HANDLES,
        OperationCode.GET_OBJECT_INFO,
        OperationCode.INITIATE_CAPTURE,
        OperationCode.GET_DEVICE_PROP_DESC,
        OperationCode.GET_DEVICE_PROP_VALUE,
        OperationCode.SET_DEVICE_PROP_VALUE,
    ):
        assert op in codes, f"{op.name} not sent"
    # data-out: SetDevicePropValue(ISO) sends StartData (total 2: a u16) and EndData
    set_tid = next(
        p.tid for p in decoded.requests() if p.code == OperationCode.SET_DEVICE_PROP_VALUE
    )
    out = [p for p in decoded.packets if not p.from_camera and p.tid == set_tid]
    assert [p.ptype for p in out] == [T.OPERATION_REQUEST, T.START_DATA, T.END_DATA]
    assert out[1].total == 2

    # the capture's ObjectAdded comes on the event connection with the capture's TID
    capture_tid = next(
        p.tid for p in decoded.requests() if p.code == OperationCode.INITIATE_CAPTURE
    )
    assert capture_tid is not None
    events = [p for p in decoded.packets if p.ptype == T.EVENT]
    assert all(p.stream == decoded.event_stream and p.from_camera for p in events)
    added = [p for p in events if p.code == EventCode.OBJECT_ADDED]
    assert [p.tid for p in added] == [capture_tid]
    assert decoded.tshark_has(T.EVENT, eventcode=EventCode.OBJECT_ADDED, tid=capture_tid)


def test_gphoto2_summary_decodes(
    tshark: str, dumpcap: str, gphoto2: Gphoto2, camera: RunningCamera, tmp_path: Path
) -> None:
    with LoopbackCapture(dumpcap, camera.port, tmp_path) as capture:
        gphoto2("--summary")
    decoded = decode(tshark, capture.path, camera.port, tmp_path)
    check_session(decoded)
    # gphoto2-interop.md §5.2: OpenSession before GetDeviceInfo, then storages and properties
    codes = [p.code for p in decoded.requests()]
    assert codes[:3] == [
        OperationCode.OPEN_SESSION,
        OperationCode.GET_DEVICE_INFO,
        OperationCode.GET_STORAGE_IDS,
    ]
    assert OperationCode.GET_STORAGE_INFO in codes
    assert OperationCode.GET_DEVICE_PROP_DESC in codes
    # libgphoto2 never writes to the event connection after InitEventRequest (§3)
    assert len(decoded.on(decoded.event_stream, from_camera=False)) == 1
