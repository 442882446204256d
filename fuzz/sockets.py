"""Hostile client -> the virtual camera, on 127.0.0.1, for every personality.

Each episode opens a command connection, sends a valid or mutated Init, often OpenSession,
then a run of packets of which most are mutated (each mutated packet or sequence is one
input), while a reader drains whatever the camera sends. Some episodes also open the event
connection (CIPA) or Fuji's event and live-view ports and send junk there. Every
``check_every`` inputs, and at the end, all hostile connections are closed and ptpip's own
client must complete Init, OpenSession and GetDeviceInfo within ``check_timeout``; a failure,
an ERROR log record, an unretrieved task exception or RSS growth beyond ``max_growth_mb`` is
a finding.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.decoders import rss_mb
from fuzz.mutate import Mutator
from fuzz.report import Counts, Finding, Findings, exception_finding
from fuzz.watch import Watch, run_vendors
from ptpip.client.camera import open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import PtpError
from ptpip.ip.framing import FUJI_GOODBYE, ContainerType, encode_container
from ptpip.ip.packets import (
    Cancel,
    Data,
    EndData,
    Event,
    FujiInitCommandRequest,
    InitCommandRequest,
    InitEventRequest,
    OperationRequest,
    ProbeRequest,
    ProbeResponse,
    StartData,
)
from ptpip.ptp.codes import DataPhase
from ptpip.testing import RunningCamera

__all__ = ["VENDORS", "fuzz_camera"]

VENDORS = ("generic", "fuji", "canon", "leica", "nikon")
HOST = "127.0.0.1"

_PARAMS = (
    0, 1, 2, 3, 4, 5, 8, 0x10, 0x0001_0001, 0x0002_0001, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x8000_0000,
    0x5001, 0x5003, 0x5005, 0x500E, 0x500F, 0x5021, 0x5022, 0xD001, 0xD02A, 0xD212, 0xDF01,
    0xDF24, 0xD101, 0xD103, 0xD1B0, 0x412, 0xFF55, 0x0020_0000, 0xFFFF_0001, 0xD10B,
    0xD100,
)  # fmt: skip
_EXTRA_CODES = (0x1001, 0x1002, 0x1003, 0x1004, 0x1007, 0x1008, 0x1009, 0x100B, 0x100E,
                0x1014, 0x1015, 0x1016, 0x101B, 0x101C, 0x1018, 0x9116, 0x9153, 0x902B,
                0x9025, 0x901D, 0x0000, 0xFFFF)  # fmt: skip
#: Operations with a data-out phase and a plausible payload.
_DATA_OUT = {
    0x1016: (b"\x05\x00", b"\x01\x00\x00\x00", b"\x03a\x00b\x00\x00\x00", b""),
    0x9110: (struct.pack("<III", 12, 0xD103, 0x48), struct.pack("<II", 8, 0xD1B0)),
    0x100C: (bytes(52), b"\x00" * 200),
    0x100D: (b"\xff\xd8\xff\xd9",),
}


@dataclass
class Limits:
    check_every: int = 2500
    check_timeout: float = 15.0
    max_growth_mb: float = 400.0
    #: how long to wait for the camera after a valid request / a mutated packet
    reply_wait: float = 0.01
    mutant_wait: float = 0.002
    #: tasks the camera may keep with no client (its own background jobs)
    max_tasks: int = 2


@dataclass
class _Peer:
    """One hostile connection: the writer, and a task draining what the camera sends."""

    writer: asyncio.StreamWriter
    reader_task: asyncio.Task[None]
    activity: asyncio.Event
    first: bytearray = field(default_factory=bytearray)
    received: int = 0

    @property
    def closed(self) -> bool:
        return self.reader_task.done()

    async def send(self, data: bytes) -> bool:
        if self.closed or self.writer.is_closing():
            return False
        self.activity.clear()
        self.writer.write(data)
        try:
            async with asyncio.timeout(2.0):
                await self.writer.drain()
        except (OSError, TimeoutError):
            return False
        return True

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.activity.wait()

    def close(self) -> None:
        self.writer.transport.abort()
        self.reader_task.cancel()


async def _connect(port: int) -> _Peer | None:
    try:
        async with asyncio.timeout(2.0):
            reader, writer = await asyncio.open_connection(HOST, port)
    except (OSError, TimeoutError):
        return None
    activity = asyncio.Event()
    peer: _Peer

    async def drain() -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(1 << 16):
                if len(peer.first) < 64:
                    peer.first += data[: 64 - len(peer.first)]
                peer.received += len(data)
                activity.set()
        activity.set()

    task = asyncio.create_task(drain())
    peer = _Peer(writer, task, activity)
    return peer


class _Packets:
    """Valid packets of one dialect, as templates to send or to mutate."""

    def __init__(self, rng: random.Random, fuji: bool, codes: Sequence[int]) -> None:
        self.rng = rng
        self.fuji = fuji
        self.codes = tuple(codes) + _EXTRA_CODES
        self.tid = 1

    def init(self) -> bytes:
        guid = self.rng.randbytes(16)
        name = self.rng.choice(("ptpip-fuzz", "OLS", "", "iPhone", "x" * 26))
        if self.fuji:
            return FujiInitCommandRequest(guid, name).encode()
        return InitCommandRequest(guid, name, name_terminated=self.rng.random() < 0.8).encode()

    def _params(self) -> tuple[int, ...]:
        rng = self.rng
        count = rng.choice((0, 1, 1, 1, 2, 3, 5))
        return tuple(
            rng.choice(_PARAMS) if rng.random() < 0.85 else rng.getrandbits(32)
            for _ in range(count)
        )

    def request(self, code: int, params: tuple[int, ...], data: bytes | None = None) -> bytes:
        tid = self.tid
        self.tid += 1
        if self.fuji:
            out = encode_container(ContainerType.COMMAND, code, tid, params=params)
            if data is not None:
                out += encode_container(ContainerType.DATA, code, tid, payload=data)
            return out
        if data is None:
            return OperationRequest(code, tid, params).encode()
        out = OperationRequest(code, tid, params, DataPhase.DATA_OUT).encode()
        out += StartData(tid, len(data)).encode()
        if len(data) > 2 and self.rng.random() < 0.5:
            out += Data(tid, data[:2]).encode() + EndData(tid, data[2:]).encode()
        else:
            out += EndData(tid, data).encode()
        return out

    def open_session(self) -> bytes:
        return self.request(0x1002, (self.rng.choice((1, 1, 0x412, 0, 7)),))

    def any(self) -> bytes:
        """One valid-looking packet (or short sequence) of this dialect."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return self.request(rng.choice(self.codes), self._params())
        if roll < 0.8:
            code = rng.choice(tuple(_DATA_OUT))
            return self.request(code, self._params()[:1] or (0x5001,), rng.choice(_DATA_OUT[code]))
        tid = max(1, self.tid - rng.choice((0, 1, 2)))
        if self.fuji:
            return rng.choice(
                (
                    FUJI_GOODBYE,
                    encode_container(ContainerType.EVENT, 0x4002, tid, params=(1,)),
                    encode_container(ContainerType.RESPONSE, 0x2001, tid),
                    self.init(),
                    encode_container(ContainerType.DATA, 0x1016, tid, payload=b"\x01\x00"),
                )
            )
        return rng.choice(
            (
                Cancel(tid).encode(),
                ProbeRequest().encode(),
                ProbeResponse().encode(),
                Event(0x4002, tid, (1,)).encode(),
                StartData(tid, rng.choice((0, 4, 1 << 40))).encode(),
                EndData(tid, b"ab").encode(),
                InitEventRequest(1).encode(),
                self.init(),
            )
        )


@dataclass
class _Vendor:
    name: str
    cam: RunningCamera
    rng: random.Random
    mutator: Mutator
    packets: _Packets
    counts: Counts
    watch: Watch
    limits: Limits
    store: IdentityStore
    pool: list[bytes] = field(default_factory=list)


async def _mutant(v: _Vendor, peer: _Peer, template: bytes) -> bool:
    data = v.mutator.mutate(template, (0, 4, 8, 10, 12, 16))
    v.counts.inputs += 1
    v.watch.note(data)
    v.pool.append(template)
    if len(v.pool) > 64:
        v.pool.pop(0)
    if not await peer.send(data):
        return False
    await peer.wait(v.limits.mutant_wait)
    return True


async def _episode(v: _Vendor) -> None:
    rng, packets = v.rng, v.packets
    packets.tid = 1
    peers: list[_Peer] = []
    cmd = await _connect(v.cam.port)
    if cmd is None:
        return
    peers.append(cmd)
    try:
        if rng.random() < 0.1:
            await _mutant(v, cmd, packets.init())
            await cmd.wait(0.05)
        else:
            await cmd.send(packets.init())
            await cmd.wait(0.5)
        if cmd.closed or len(cmd.first) < 8 or cmd.first[4] != 2:
            v.counts.rejected += 1
            return
        v.counts.ok += 1
        connection = int.from_bytes(cmd.first[8:12], "little")
        event_peer: _Peer | None = None
        if not packets.fuji and rng.random() < 0.3:
            event_peer = await _connect(v.cam.port)
            if event_peer is not None:
                peers.append(event_peer)
                await event_peer.send(InitEventRequest(connection).encode())
        if rng.random() < 0.85:
            await cmd.send(packets.open_session())
            await cmd.wait(v.limits.reply_wait)
        if packets.fuji and rng.random() < 0.2:
            event_peer = await _fuji_ports(v, cmd, peers)
        for _ in range(rng.randrange(4, 40)):
            if cmd.closed:
                break
            roll = rng.random()
            if roll < 0.65:
                await _mutant(v, cmd, packets.any())
            elif roll < 0.75:
                parts = [packets.any() for _ in range(rng.randrange(2, 5))]
                if v.pool and rng.random() < 0.5:
                    parts.append(rng.choice(v.pool))
                await _mutant(v, cmd, b"".join(parts))
            elif roll < 0.8 and event_peer is not None and not event_peer.closed:
                await _mutant(v, event_peer, packets.any())
            else:
                request = packets.any()
                await cmd.send(request)
                if _is_request(request, packets.fuji):
                    await cmd.wait(v.limits.reply_wait)
    finally:
        for peer in peers:
            peer.close()


def _is_request(data: bytes, fuji: bool) -> bool:
    """Whether ``data`` starts with an operation request (which the camera answers)."""
    if fuji:
        return data[4:6] == b"\x01\x00" and data[8:12] != b"\xf2\xe4\x53\x8f"
    return data[4:8] == b"\x06\x00\x00\x00"


async def _fuji_ports(v: _Vendor, cmd: _Peer, peers: list[_Peer]) -> _Peer | None:
    """InitiateOpenCapture, then the event and live-view ports (the camera opens them now)."""
    await cmd.send(v.packets.request(0x101C, (0, 0)))
    await cmd.wait(v.limits.reply_wait)
    ports = v.cam.ports
    found: _Peer | None = None
    for name in ("event", "stream"):
        if name in ports and v.rng.random() < 0.7:
            peer = await _connect(ports[name])
            if peer is not None:
                peers.append(peer)
                if name == "event":
                    found = peer
                else:
                    await _mutant(v, peer, v.packets.any())
    return found


async def _responsive(v: _Vendor, why: str) -> None:
    """ptpip's client must still get Init, OpenSession and GetDeviceInfo through."""
    ports = v.cam.ports
    errors: list[str] = []
    started = time.monotonic()
    for _attempt in range(5):
        try:
            async with asyncio.timeout(v.limits.check_timeout):
                camera = await open_camera(
                    HOST,
                    v.cam.port,
                    vendor=v.name,
                    event_port=ports.get("event"),
                    stream_port=ports.get("stream"),
                    timeout=5.0,
                    init_timeout=5.0,
                    identity_store=v.store,
                )
                try:
                    await camera.device_info(refresh=True)
                finally:
                    await camera.close()
            v.counts.extra["checks"] = v.counts.extra.get("checks", 0) + 1
            await _check_tasks(v, why)
            return
        except TimeoutError:
            errors.append(f"no answer within {v.limits.check_timeout:g} s")
            break
        except PtpError as exc:  # the camera may not have seen the last close yet
            errors.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.2)
    took = time.monotonic() - started
    finding = Finding(
        f"camera[{v.name}]",
        "unresponsive",
        f"a fresh client failed after {why} ({took:.1f} s): {errors[-1] if errors else '?'}",
        "attempts:\n" + "\n".join(errors),
        "responsiveness check",
    )
    v.watch._add(finding)
    v.counts.findings += 1


async def _camera_tasks(v: _Vendor) -> list[str]:
    async def tasks() -> list[str]:
        current = asyncio.current_task()
        return [_describe_task(t) for t in asyncio.all_tasks() if t is not current]

    return await asyncio.get_running_loop().run_in_executor(None, v.cam.call, tasks)


def _describe_task(task: asyncio.Task[object]) -> str:
    """The task and the chain of awaits it is suspended in."""
    lines = [repr(task)]
    coro: object = task.get_coro()
    for _ in range(16):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(
                f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
            )
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if coro is None:
            break
    return "\n".join(lines)


async def _check_tasks(v: _Vendor, why: str) -> None:
    """With every client gone, the camera's loop must not keep tasks of old sessions."""
    await asyncio.sleep(0.05)
    left = await _camera_tasks(v)
    if len(left) > v.limits.max_tasks:
        v.watch._add(
            Finding(
                f"camera[{v.name}]",
                "leaked tasks",
                f"{len(left)} tasks still pending in the camera after {why}, no client connected",
                "\n".join(left[:20]),
                "responsiveness check",
            )
        )
        v.counts.findings += 1


async def _run_vendor(
    name: str,
    budget: int,
    deadline: float,
    seed: int,
    watch: Watch,
    limits: Limits,
    progress: Callable[[str], None] | None,
) -> Counts:
    counts = Counts()
    rng = random.Random(zlib.crc32(f"{seed}:camera:{name}".encode()))
    loop = asyncio.get_running_loop()
    watch.target = f"camera[{name}]"
    with tempfile.TemporaryDirectory(prefix="ptpip-fuzz-") as tmp:
        cam = RunningCamera(name, storage=Path(tmp) / "card")
        await loop.run_in_executor(None, cam.start)

        async def hook() -> None:
            asyncio.get_running_loop().set_exception_handler(watch.loop_exception)

        await loop.run_in_executor(None, cam.call, hook)
        codes = tuple(cam.personality.operations)
        pool: list[bytes] = []
        v = _Vendor(
            name,
            cam,
            rng,
            Mutator(rng, lambda: rng.choice(pool) if pool else b""),
            _Packets(rng, cam.personality.fuji_dialect, codes),
            counts,
            watch,
            limits,
            IdentityStore(Path(tmp) / "identities.json"),
            pool,
        )
        started = time.monotonic()
        before = watch.count
        try:
            await _responsive(v, "start")
            rss_base = rss_mb()
            next_check = limits.check_every
            while counts.inputs < budget and time.monotonic() < deadline:
                await _episode(v)
                if counts.inputs >= next_check:
                    next_check += limits.check_every
                    await _responsive(v, f"{counts.inputs} inputs")
                    grown = rss_mb() - rss_base
                    if grown > limits.max_growth_mb:
                        v.watch._add(
                            Finding(f"camera[{name}]", "memory", f"RSS grew by {grown:.0f} MB")
                        )
                    if progress is not None:
                        progress(f"camera[{name}]: {counts.inputs:,} inputs")
            await _responsive(v, f"the last of {counts.inputs} inputs")
        except Exception as exc:  # the harness itself failed: report it, do not hide it
            watch._add(exception_finding(f"camera[{name}] harness", exc, None))
        finally:
            await loop.run_in_executor(None, cam.stop)
        counts.findings = watch.count - before
        counts.seconds = time.monotonic() - started
    return counts


def fuzz_camera(
    total: int,
    seconds: float,
    seed: int,
    findings: Findings,
    vendors: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    limits: Limits | None = None,
) -> dict[str, Counts]:
    """Send ``total`` mutated packets (split over the vendors) to the virtual cameras."""
    chosen = [v for v in VENDORS if not vendors or v in vendors]
    given = limits or Limits()

    async def one(name: str, budget: int, deadline: float, watch: Watch) -> Counts:
        return await _run_vendor(name, budget, deadline, seed, watch, given, progress)

    return run_vendors("camera", chosen, total, seconds, findings, one)
