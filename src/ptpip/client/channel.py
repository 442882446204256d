"""One TCP connection of the client: an asyncio Protocol feeding an :class:`Initiator`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import re
import socket
from collections.abc import Callable

from ptpip.errors import ConnectionClosed, PtpError, RemoteProtocolError, Timeout, TransportError
from ptpip.ip.initiator import Initiator, InitiatorEvent

__all__ = ["Channel", "check_host", "open_channel"]

log = logging.getLogger("ptpip.client")
#: Every byte on the wire at DEBUG level (``ptpip -vvv``): direction, size, the first bytes.
wire = logging.getLogger("ptpip.wire")
_WIRE_BYTES = 64

EventHandler = Callable[[InitiatorEvent], None]
LostHandler = Callable[[PtpError | None], None]


class Channel(asyncio.Protocol):
    """Feeds received bytes to the state machine and hands its events to ``on_event``."""

    def __init__(self, initiator: Initiator, on_event: EventHandler, on_lost: LostHandler) -> None:
        self.initiator = initiator
        self._on_event = on_event
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._paused: asyncio.Future[None] | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.bytes_in = 0
        self.bytes_out = 0
        #: called with every chunk sent and received (wire recording), if set
        self.tap: Callable[[bool, bytes], None] | None = None

    # asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if wire.isEnabledFor(logging.DEBUG):
            self._log_wire("<-", data)
        if self.tap is not None:
            self.tap(False, data)
        try:
            events = self.initiator.receive_data(data)
        except RemoteProtocolError as exc:
            log.warning("%s connection: %s; closing it", self.initiator.role.value, exc)
            self._fail(exc)
            return
        for event in events:
            self._on_event(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._paused is not None and not self._paused.done():
            self._paused.set_exception(ConnectionClosed("connection lost while sending"))
        if not self.closed.done():
            self.closed.set_result(None)
        err = ConnectionClosed(f"the camera closed the {self.initiator.role.value} connection")
        if exc is not None:
            err = ConnectionClosed(f"{self.initiator.role.value} connection lost: {exc}")
        self.initiator.close()
        self._on_lost(err)

    def pause_writing(self) -> None:
        if self._paused is None or self._paused.done():
            self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    # our side ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._transport is None or self._transport.is_closing():
            raise ConnectionClosed(f"the {self.initiator.role.value} connection is closed")
        self.bytes_out += len(data)
        if wire.isEnabledFor(logging.DEBUG):
            self._log_wire("->", data)
        if self.tap is not None:
            self.tap(True, data)
        self._transport.write(data)

    def _log_wire(self, arrow: str, data: bytes) -> None:
        more = f" … (+{len(data) - _WIRE_BYTES})" if len(data) > _WIRE_BYTES else ""
        wire.debug(
            "%s %s %d bytes: %s%s",
            self.initiator.role.value,
            arrow,
            len(data),
            data[:_WIRE_BYTES].hex(" "),
            more,
        )

    @property
    def writing_paused(self) -> bool:
        """Our write buffer is full: the peer is not taking what we send (yet)."""
        return self._paused is not None and not self._paused.done()

    async def drain(self) -> None:
        if self._paused is not None and not self._paused.done():
            await self._paused

    def _fail(self, exc: PtpError) -> None:
        self._on_lost(exc)
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def peer(self) -> tuple[str, int] | None:
        if self._transport is None:
            return None
        peer = self._transport.get_extra_info("peername")
        return (str(peer[0]), int(peer[1])) if peer else None


#: One part of a DNS name (RFC 1123; "_" as found in local names): 1..63 characters.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII | re.IGNORECASE)
_MAX_NAME = 253


def check_host(host: str) -> None:
    """Raise :class:`TransportError` unless ``host`` is an IP address or a well-formed DNS name.

    Checked before any lookup, so nonsense never reaches a resolver, and an over-long label
    (which makes getaddrinfo raise UnicodeError, not OSError) is a clear one-line error.
    """
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return
    shown = repr(host) if len(host) <= 64 else f"{host[:60]!r}… ({len(host)} characters)"
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        name = host if host.isascii() else ""
        if not name:
            raise TransportError(f"invalid host name {shown}") from None
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise TransportError("invalid host name '': give the camera's IP address or name")
    if len(name) > _MAX_NAME:
        raise TransportError(f"invalid host name {shown}: longer than {_MAX_NAME} characters")
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            why = (
                "a part of a name has 1 to 63 characters"
                if not label or len(label) > 63
                else "only letters, digits, '-' and '.' are allowed"
            )
            raise TransportError(f"invalid host name {shown}: {why}")


async def open_channel(
    host: str,
    port: int,
    initiator: Initiator,
    on_event: EventHandler,
    on_lost: LostHandler,
    *,
    timeout: float,
    retries: int = 0,
    retry_delay: float = 0.1,
) -> Channel:
    """Connect, retrying "connection refused" ``retries`` times (some cameras open late)."""
    check_host(host)
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(timeout):
                _, channel = await loop.create_connection(
                    lambda: Channel(initiator, on_event, on_lost), host, port
                )
            return channel
        except TimeoutError:
            raise Timeout(f"no answer from {host}:{port} within {timeout:g} s") from None
        except ConnectionRefusedError:
            if attempt >= retries:
                raise TransportError(
                    f"{host}:{port} refused the connection: is the camera in remote mode?"
                ) from None
        except UnicodeError as exc:  # the name did not encode (an over-long label)
            raise TransportError(f"invalid host name {host!r}: {exc}") from None
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                raise TransportError(f"{host} is unreachable: {exc.strerror}") from None
            raise TransportError(f"cannot connect to {host}:{port}: {exc}") from None
        attempt += 1
        await asyncio.sleep(retry_delay)
