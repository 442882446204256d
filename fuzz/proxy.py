"""A hostile camera: a mutating proxy on 127.0.0.1 in front of the virtual camera.

The client's bytes go to the camera unchanged; the camera's answers are split into units
(every PTP/IP packet, USB container and Fuji live-view frame starts with its u32 length) and
each unit is, with probability ``rate``, mutated: its payload changed with the length fixed
up, its raw bytes changed, dropped, sent twice, preceded by a foreign packet, cut short (and
the connection closed), or followed by silence. A CIPA data phase may be reassembled and its
payload mutated as a whole, so datasets reach the client's decoders with consistent lengths.
Object data (GetObject, GetPartialObject, GetThumb) gets only structural mutations: content
the client cannot check is never changed, so a file that arrives under its final name must be
byte-exact. Each mutation is one input.

A connection whose client is waiting after a mutation and has seen no traffic for ``quiet``
seconds is closed, so a desynchronised client fails fast (ConnectionClosed) instead of waiting
out its timeout; "silence" mutations skip that for ``silence`` seconds to check the timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fuzz.mutate import Mutator
from ptpip.ip.framing import FUJI_GOODBYE, ContainerType, encode_container
from ptpip.ip.packets import (
    EndData,
    Event,
    InitFail,
    OperationResponse,
    ProbeRequest,
    StartData,
)

__all__ = ["MutatingProxy", "ProxyLimits"]

HOST = "127.0.0.1"
#: GetObject, GetThumb, GetPartialObject, Fuji GetCapturePreview, Canon GetPartialObjectEx
OBJECT_CODES = frozenset({0x1009, 0x100A, 0x101B, 0x9022, 0x9107})
_EVENT_CODES = (0x4002, 0x4003, 0x4004, 0x4006, 0x400A, 0x400D, 0xC001, 0xC004, 0xC006, 0xFFFF)
_MAX_UNIT = 64 * 1024 * 1024
_CIPA_DATA = (10, 12)


@dataclass
class ProxyLimits:
    quiet: float = 0.012
    silence: float = 0.7
    #: share of mutations that are silences (each costs about ``silence`` seconds)
    silence_share: float = 0.002


@dataclass(eq=False)
class _Link:
    name: str
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    #: units to the client are USB containers (Fuji after its Init) / live-view frames
    container: bool
    stream: bool
    #: the event connection (Fuji's event port, or a CIPA connection opened with type 3)
    event: bool = False
    last_traffic: float = field(default_factory=time.monotonic)
    last_code: int = 0
    #: a mutation reached the client since its last request: it may be stuck
    armed: bool = False
    silent_until: float = 0.0
    phase: list[bytes] | None = None
    closed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.transport.abort()
            self.upstream.transport.abort()


async def _read_unit(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readexactly(4)
        length = int.from_bytes(head, "little")
        if length < 4 or length > _MAX_UNIT:
            return head + await reader.read(1 << 16)  # not framed: pass it on as it is
        return head + await reader.readexactly(length - 4)
    except (asyncio.IncompleteReadError, OSError):
        return None


class MutatingProxy:
    """Listens on a free loopback port per camera port and mutates what the camera sends."""

    def __init__(
        self,
        upstream: dict[str, int],
        fuji: bool,
        rng: random.Random,
        mutator: Mutator,
        limits: ProxyLimits,
        note: Callable[[bytes], None],
    ) -> None:
        self.upstream = upstream
        self.fuji = fuji
        self.rng = rng
        self.mutator = mutator
        self.limits = limits
        self.note = note
        #: probability that one unit is mutated (the driver varies it per connection)
        self.rate = 0.0
        self.inputs = 0
        self.ports: dict[str, int] = {}
        self.links: set[_Link] = set()
        #: the last mutations, described (shown with findings)
        self.journal: deque[tuple[int, str]] = deque(maxlen=64)
        self._servers: list[asyncio.Server] = []

    async def start(self) -> None:
        for name, port in self.upstream.items():
            server = await asyncio.start_server(self._acceptor(name, port), HOST, 0)
            self._servers.append(server)
            self.ports[name] = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.close_all()
        for server in self._servers:
            server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await server.wait_closed()

    def close_all(self) -> None:
        for link in list(self.links):
            link.close()

    # -- connections ---------------------------------------------------------------------------

    def _acceptor(
        self, name: str, port: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        return lambda reader, writer: self._accept(name, port, reader, writer)

    async def _accept(
        self, name: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for _ in range(20):  # a Fuji port opens a moment after InitiateOpenCapture
            try:
                async with asyncio.timeout(1.0):
                    up = await asyncio.open_connection(HOST, port)
                break
            except (OSError, TimeoutError):
                await asyncio.sleep(0.05)
        if up is None:
            writer.transport.abort()
            return
        fuji_port = self.fuji and name != "command"
        link = _Link(name, writer, up[1], fuji_port, name == "stream", name == "event")
        self.links.add(link)
        link.tasks = [
            asyncio.create_task(self._up(link, reader)),
            asyncio.create_task(self._down(link, up[0])),
            asyncio.create_task(self._watchdog(link)),
        ]
        try:
            await asyncio.wait(link.tasks[:2], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the loop is shutting down: close quietly, as below
        finally:
            link.close()
            for task in link.tasks:
                task.cancel()
            self.links.discard(link)

    async def _up(self, link: _Link, reader: asyncio.StreamReader) -> None:
        """Client -> camera, unchanged; notes the operation code of each request."""
        while (unit := await _read_unit(reader)) is not None:
            link.last_traffic = time.monotonic()
            if _cipa_type(unit) == 3:
                link.event = True
            code = _request_code(unit)
            if code is not None:
                link.last_code = code
                link.armed = False
            link.upstream.write(unit)
            with contextlib.suppress(OSError):
                await link.upstream.drain()

    async def _down(self, link: _Link, reader: asyncio.StreamReader) -> None:
        """Camera -> client, unit by unit, some of them mutated."""
        first = True
        while (unit := await _read_unit(reader)) is not None:
            link.last_traffic = time.monotonic()
            if link.silent_until:
                continue
            out = self._process(link, unit, first)
            if self.fuji and first and link.name == "command":
                link.container = True  # Fuji: containers after the Init Command Ack
            first = False
            if out is None:
                return
            for piece in out:
                link.client.write(piece)
            try:
                async with asyncio.timeout(2.0):
                    await link.client.drain()
            except (OSError, TimeoutError):
                return

    async def _watchdog(self, link: _Link) -> None:
        quiet = self.limits.quiet
        while not link.closed:
            await asyncio.sleep(quiet / 3)
            now = time.monotonic()
            if link.silent_until:
                if now >= link.silent_until:
                    link.close()
            elif link.armed and now - link.last_traffic > quiet:
                link.close()

    # -- mutations -----------------------------------------------------------------------------

    def _count(self, data: bytes, what: str = "") -> None:
        self.inputs += 1
        self.note(data)
        self.journal.append((self.inputs, f"{what or 'mutated'}: {data[:48].hex()}"))

    def _process(self, link: _Link, unit: bytes, first: bool) -> list[bytes] | None:
        """What goes to the client instead of ``unit``; None closes the connection."""
        if link.phase is not None:  # reassembling a CIPA data phase to mutate its payload
            link.phase.append(unit)
            if _cipa_type(unit) == 12:
                return [self._mutated_phase(link, link.phase)]
            return []
        rng = self.rng
        if rng.random() >= self.rate:
            return [unit]
        object_data = link.last_code in OBJECT_CODES and self._is_data(link, unit)
        cipa = not link.container and not link.stream
        objects = link.last_code in OBJECT_CODES
        if cipa and _cipa_type(unit) == 9 and not objects and rng.random() < 0.5:
            link.phase = [unit]
            return []
        if not link.stream and not (link.event and not first):
            link.armed = True
        roll = rng.random()
        if roll < self.limits.silence_share:
            self._count(b"silence", f"{link.name}: silence")
            link.silent_until = time.monotonic() + self.limits.silence
            return []
        if object_data:
            return self._structural(link, unit)
        if roll < 0.55:
            data, what = self._payload(link, unit), "payload mutated"
        elif roll < 0.72:
            data, what = self.mutator.mutate(unit, (0, 4, 6, 8, 12, 16)), "raw mutated"
        elif roll < 0.82:
            return self._structural(link, unit)
        else:
            data, what = self._foreign(link) + unit, "foreign packet before"
        self._count(data, f"{link.name}: {what}")
        return [data]

    def _structural(self, link: _Link, unit: bytes) -> list[bytes] | None:
        """Drop, repeat, cut short, a foreign packet before it, or a changed TID."""
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            self._count(unit[:16], f"{link.name}: dropped")
            return []
        if choice == 1:
            self._count(unit[:16] * 2, f"{link.name}: sent twice")
            return [unit, unit]
        if choice == 2:
            cut = unit[: rng.randrange(len(unit))]
            self._count(cut[:64], f"{link.name}: cut to {len(cut)} bytes, closed")
            link.client.write(cut)
            return None
        if choice == 3:
            foreign = self._foreign(link)
            self._count(foreign, f"{link.name}: foreign packet before {unit[:16].hex()}")
            return [foreign, unit]
        tid_at = 8 if len(unit) >= 12 else None
        if tid_at is None or link.stream:
            self._count(unit[:16], f"{link.name}: dropped")
            return []
        changed = bytearray(unit)
        tid = int.from_bytes(unit[tid_at : tid_at + 4], "little")
        new = rng.choice((tid + 1, tid - 1, 0, 0xFFFF_FFFF)) & 0xFFFF_FFFF
        changed[tid_at : tid_at + 4] = new.to_bytes(4, "little")
        self._count(bytes(changed[:16]), f"{link.name}: TID changed")
        return [bytes(changed)]

    def _payload(self, link: _Link, unit: bytes) -> bytes:
        """The unit with its payload mutated and its length field fixed."""
        head = 4 if link.stream else 12 if link.container or _cipa_type(unit) in _CIPA_DATA else 8
        head = min(head, len(unit))
        body = self.mutator.mutate(unit[head:])
        return struct.pack("<I", head + len(body)) + unit[4:head] + body

    def _mutated_phase(self, link: _Link, units: list[bytes]) -> bytes:
        """A whole CIPA data phase, payload mutated, re-framed as Start Data + End Data."""
        link.phase = None
        start = units[0]
        tid = int.from_bytes(start[8:12], "little") if len(start) >= 12 else 0
        payload = b"".join(u[12:] for u in units[1:] if _cipa_type(u) in _CIPA_DATA)
        mutated = self.mutator.mutate(payload, (0, 4, 8, 12))
        data = StartData(tid, len(mutated)).encode() + EndData(tid, mutated).encode()
        self._count(data, f"{link.name}: data phase mutated")
        link.armed = True
        return data

    def _foreign(self, link: _Link) -> bytes:
        """A packet the camera did not send: an event, a probe, a stray response, ..."""
        rng = self.rng
        tid = rng.choice((0, 1, 2, 3, 0xFFFF_FFFF))
        params = tuple(rng.getrandbits(32) for _ in range(rng.randrange(4)))
        if link.stream:
            return struct.pack("<I", rng.choice((18, 19, 64))) + rng.randbytes(14)
        if link.container:
            kind = rng.choice((ContainerType.EVENT, ContainerType.RESPONSE, ContainerType.DATA))
            if kind == ContainerType.DATA:
                return encode_container(kind, 0x1001, tid, payload=rng.randbytes(rng.randrange(9)))
            pick = rng.choice((*_EVENT_CODES, 0x2001, 0x2019))
            foreign = encode_container(kind, pick, tid, params=params)
            return FUJI_GOODBYE if rng.random() < 0.05 else foreign
        return rng.choice(
            (
                Event(rng.choice(_EVENT_CODES), tid, params[:3]).encode(),
                ProbeRequest().encode(),
                OperationResponse(rng.choice((0x2001, 0x2002, 0x2019)), tid, params).encode(),
                StartData(tid, rng.choice((0, 4, 1 << 33, 0xFFFF_FFFF_FFFF_FFFF))).encode(),
                EndData(tid, rng.randbytes(rng.randrange(8))).encode(),
                InitFail(rng.choice((1, 2, 0x2019))).encode(),
            )
        )

    def _is_data(self, link: _Link, unit: bytes) -> bool:
        if link.stream:
            return False
        if link.container:
            return len(unit) >= 6 and unit[4:6] == b"\x02\x00"
        return _cipa_type(unit) in _CIPA_DATA

    # -- events --------------------------------------------------------------------------------

    def inject_events(self, count: int) -> int:
        """Write events (most of them mutated) to the client's event connection(s)."""
        written = 0
        for link in list(self.links):
            if not link.event or link.closed:
                continue
            for _ in range(count):
                unit = self._event(link)
                if self.rng.random() < 0.7:
                    unit = self.mutator.mutate(unit, (0, 4, 6, 8))
                    self._count(unit, f"{link.name}: event injected")
                link.client.write(unit)
                written += 1
        return written

    def _event(self, link: _Link) -> bytes:
        rng = self.rng
        code = rng.choice(_EVENT_CODES)
        params = tuple(rng.choice((0, 1, 0x5001, 0xD212, rng.getrandbits(32))) for _ in range(3))
        tid = rng.choice((0xFFFF_FFFF, 0, 1))
        if link.container:
            return encode_container(ContainerType.EVENT, code, tid, params=params)
        return Event(code, tid, params[: rng.randrange(4)]).encode()


def _cipa_type(unit: bytes) -> int:
    return int.from_bytes(unit[4:8], "little") if len(unit) >= 8 else -1


def _request_code(unit: bytes) -> int | None:
    """The operation code of a client's request (CIPA packet or command container)."""
    if len(unit) >= 12 and _cipa_type(unit) == 6:
        return int.from_bytes(unit[12:14], "little")
    if len(unit) >= 8 and unit[4:6] == b"\x01\x00" and unit[8:12] != b"\xf2\xe4\x53\x8f":
        return int.from_bytes(unit[6:8], "little")
    return None
