"""The faults of the hostile camera: builders of :data:`~tests.faults.hostile.Action`.

An action owns the connection from the fault point on (see :class:`~tests.faults.hostile.Plan`);
a :data:`Build` makes the bytes a fault sends, in the link's dialect where that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable

from ptpip.ip.packets import Data, Event, InitFail
from tests.faults.hostile import OBJECT_SIZE, Action, Link

__all__ = [
    "Build",
    "close",
    "deaf",
    "drop",
    "echo_last_response_then",
    "endless",
    "event_packet",
    "flood_probes_and_stall",
    "init_fail",
    "lose_events",
    "on_events",
    "partial_data",
    "raw_packet",
    "respond",
    "send",
    "serve_then",
    "stall",
    "then_serve",
    "trickle",
    "trickle_object",
    "write",
]

#: Endless data goes out in packets (or pieces) of this size.
_PIECE = 60 * 1024


def close() -> Action:
    """Drop the connection at once (TCP reset)."""

    async def act(link: Link) -> None:
        link.abort()

    return act


def stall() -> Action:
    """Never answer; keep reading (a hung camera)."""

    async def act(link: Link) -> None:
        await link.hold()

    return act


def deaf() -> Action:
    """Never answer and stop reading (a camera whose TCP window closes)."""

    async def act(link: Link) -> None:
        await link.deaf()

    return act


Build = Callable[[Link], bytes]


def send(build: Build, then: Action | None = None) -> Action:
    """Send ``build(link)`` and then do ``then`` (default: stall)."""
    after = then or stall()

    async def act(link: Link) -> None:
        if await link.send(build(link)):
            await after(link)

    return act


def then_serve() -> Action:
    """Answer the request correctly after all (used after a stray packet)."""

    async def act(link: Link) -> None:
        await link.serve()

    return act


def respond(code: int, tid_delta: int = 0) -> Build:
    """A response to the current request (with its TID moved by ``tid_delta``)."""
    return lambda link: link.response(code, (link.tid + tid_delta) & 0xFFFF_FFFF)


def raw_packet(length: int, ptype: int, body: bytes = b"") -> Build:
    """A CIPA header with any length and type, then ``body``."""
    return lambda link: struct.pack("<II", length, ptype) + body


def init_fail(reason: int) -> Action:
    return send(lambda link: InitFail(reason).encode(), then=close())


def trickle(build: Build, interval: float) -> Action:
    """Send ``build(link)`` one byte at a time, then stall."""

    async def act(link: Link) -> None:
        await link.trickle(build(link), interval)
        await link.hold()

    return act


def partial_data(count: int, then: Action) -> Action:
    """Start the object's data phase correctly, send ``count`` bytes of it, then ``then``."""

    async def act(link: Link) -> None:
        total = len(link.camera.object)
        if await link.send(link.start_data(total) + link.data(link.camera.object[:count])):
            await then(link)

    return act


def trickle_object(interval: float) -> Action:
    """Start the object's data phase and a packet for all of it at once, then send its
    payload one byte every ``interval`` seconds (each byte is a data event at the client)."""

    async def act(link: Link) -> None:
        obj = link.camera.object
        head = link.start_data(len(obj))
        if not link.fuji:  # CIPA: the header of one Data packet whose payload trickles
            head += struct.pack("<III", 12 + len(obj), 10, link.tid)
        if await link.send(head):
            await link.trickle(obj, interval)
            await link.hold()

    return act


def endless(prefix: Build, *, packets: bool = True) -> Action:
    """Send ``prefix(link)``, then data without end (Data packets of 60 KiB, or bare bytes
    inside an already announced packet), until ENDLESS_BYTES or HOLD; then close."""

    async def act(link: Link) -> None:
        payload = (link.camera.object * (_PIECE // OBJECT_SIZE + 1))[:_PIECE]
        piece = Data(link.tid, payload).encode() if packets and not link.fuji else payload
        if await link.send(prefix(link)):
            await link.stream(lambda: piece)
        link.abort()

    return act


def on_events(what: Callable[[Link], Awaitable[None]], then: Action | None = None) -> Action:
    """Do ``what`` to the session's event connection, then ``then`` (default: stall)."""
    after = then or stall()

    async def act(link: Link) -> None:
        try:
            events = await link.camera.events()
        except TimeoutError:
            link.abort()
            return
        await what(events)
        await after(link)

    return act


def flood_probes_and_stall() -> Action:
    """Probe Requests on the event connection without end, and no answer on the command one."""

    async def act(link: Link) -> None:
        events = await link.camera.events()
        flood = asyncio.ensure_future(events.probes())
        try:
            await link.hold()
        finally:
            flood.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await flood

    return act


def event_packet(code: int) -> Build:
    return lambda link: Event(code, 0xFFFF_FFFF).encode()


def echo_last_response_then(build: Build) -> Action:
    """Send the previous transaction's response again, then ``build(link)``; then stall."""
    return send(lambda link: link.camera.last_response + build(link))


def serve_then(after: Callable[[Link], Awaitable[None]]) -> Action:
    """Answer the request correctly, then ``after(link)``; the connection goes on serving."""

    async def act(link: Link) -> None:
        await link.serve()
        await after(link)

    return act


def lose_events(delay: float = 0.2) -> Callable[[Link], Awaitable[None]]:
    """After ``delay`` seconds, drop the session's event connection."""

    async def act(link: Link) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(TimeoutError):
            (await link.camera.events()).abort()
        # Let the loss reach the client before the next answer on the command connection
        # (two sockets: otherwise their order at the client is a race).
        await asyncio.sleep(0.1)

    return act


async def drop(link: Link) -> None:
    link.abort()


def write(build: Build) -> Callable[[Link], Awaitable[None]]:
    async def act(link: Link) -> None:
        await link.send(build(link))

    return act
