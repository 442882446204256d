"""UPnP for the virtual EOS: its device description over HTTP, and SSDP answers (§2).

vendor-canon.md §2: a Canon body in a wireless mode announces one service URN by SSDP
(``ICPO-WFTEOSSystemService:1`` for EOS Utility / WFT, ``ICPO-SmartPhoneEOSSystemService:1``
for the smartphone app), with LOCATION pointing at ``/upnp/CameraDevDesc.xml`` on its HTTP
port (49152 on the camera), and a UDN ``uuid:00000000-0000-0000-0001-<Wi-Fi MAC>``.

Both servers bind exactly the address they are given and nothing else: the simulator uses
127.0.0.1. :class:`SsdpResponder` joins a multicast group only when the caller names one
(a test may do so inside a network namespace it made itself); M-SEARCH answers go by
unicast to the sender's address and port, as the UPnP Device Architecture requires, and
NOTIFY messages only to a target the caller passes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import cast
from xml.sax.saxutils import escape

__all__ = [
    "DESCRIPTION_PATH",
    "DEVICE_TYPE",
    "SERVER",
    "SMARTPHONE_SERVICE",
    "SSDP_GROUP",
    "WFT_SERVICE",
    "CameraUpnp",
    "DescriptionServer",
    "DeviceDescription",
    "SsdpResponder",
]

log = logging.getLogger("ptpip.camera")

WFT_SERVICE = "urn:schemas-canon-com:service:ICPO-WFTEOSSystemService:1"
SMARTPHONE_SERVICE = "urn:schemas-canon-com:service:ICPO-SmartPhoneEOSSystemService:1"
DEVICE_TYPE = "urn:schemas-upnp-org:device:Basic:1"
DESCRIPTION_PATH = "/upnp/CameraDevDesc.xml"
#: The Server header of the camera's NOTIFY (seed 002).
SERVER = "Camera OS/1.0 UPnP/1.0 Canon Device Discovery/1.0"
SSDP_GROUP = ("239.255.255.250", 1900)
_MAX_AGE = 1800
_CANON_NS = "urn:schemas-canon-com:schema-upnp"
#: An HTTP request head larger than this is refused (the camera's server is tiny too).
_MAX_REQUEST = 8192
_REQUEST_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class DeviceDescription:
    """What CameraDevDesc.xml says about the body (the vcam T6 dump's fields, §2)."""

    friendly_name: str
    model_name: str
    serial_number: str
    mac: bytes
    services: tuple[str, ...] = (WFT_SERVICE,)
    nickname: str = ""
    usb_id: int = 0x323A
    #: after pairing, the paired host's GUID (X_targetId); before, all F
    target: bytes | None = None
    on_service: bool = False

    @property
    def udn(self) -> str:
        return f"uuid:00000000-0000-0000-0001-{self.mac.hex().upper()}"

    def xml(self, url_base: str) -> str:
        """The document, laid out like the real camera's (one element per line)."""
        target = self.target.hex().upper() if self.target else "F" * 32
        target_id = (
            f"uuid:{target[:8]}-{target[8:12]}-{target[12:16]}-{target[16:20]}-{target[20:]}"
        )
        lines = [
            '<?xml version="1.0"?>',
            '<root xmlns="urn:schemas-upnp-org:device-1-0">',
            "<specVersion><major>1</major><minor>0</minor></specVersion>",
            f"<URLBase>{escape(url_base)}</URLBase>",
            "<device>",
            f"<deviceType>{DEVICE_TYPE}</deviceType>",
            f"<friendlyName>{escape(self.friendly_name)}</friendlyName>",
            "<manufacturer>Canon</manufacturer>",
            "<manufacturerURL>http://www.canon.com/</manufacturerURL>",
            "<modelDescription>Canon Digital Camera</modelDescription>",
            f"<modelName>{escape(self.model_name)}</modelName>",
            f"<serialNumber>{escape(self.serial_number)}</serialNumber>",
            f"<UDN>{self.udn}</UDN>",
            "<serviceList>",
        ]
        for service in self.services:
            name = service.removeprefix("urn:schemas-canon-com:service:").rsplit(":", 1)[0]
            lines += [
                "<service>",
                f"<serviceType>{escape(service)}</serviceType>",
                f"<serviceId>urn:schemas-canon-com:serviceId:{escape(name)}-1</serviceId>",
                "<SCPDURL>CameraSvcDesc.xml</SCPDURL>",
                "<controlURL>control/CanonCamera/</controlURL>",
                "<eventSubURL></eventSubURL>",
                _canon("X_targetId", target_id),
                _canon("X_onService", "1" if self.on_service else "0"),
                _canon("X_deviceUsbId", f"{self.usb_id:x}"),
                _canon("X_deviceNickname", self.nickname),
                "</service>",
            ]
        lines += ["</serviceList>", "<presentationURL>/</presentationURL>", "</device></root>"]
        return "\n".join(lines) + "\n"

    def targets(self) -> list[tuple[str, str]]:
        """(ST/NT, USN) for everything the device answers to: root, UDN, type, services."""
        udn = self.udn
        pairs = [("upnp:rootdevice", f"{udn}::upnp:rootdevice"), (udn, udn)]
        pairs += [(urn, f"{udn}::{urn}") for urn in (DEVICE_TYPE, *self.services)]
        return pairs


def _canon(tag: str, text: str) -> str:
    return f'<ns:{tag} xmlns:ns="{_CANON_NS}">{escape(text)}</ns:{tag}>'


# --- HTTP: the description ----------------------------------------------------------------


class DescriptionServer:
    """Serves ``/upnp/CameraDevDesc.xml`` (GET or HEAD) on ``host:port``; 0 picks a port."""

    def __init__(
        self, describe: Callable[[], DeviceDescription], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.describe = describe
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        #: the request heads received, newest last (for tests and logs)
        #: the latest requests' first lines (for tests; bounded: hostile traffic is endless)
        self.requests: collections.deque[str] = collections.deque(maxlen=256)

    @property
    def url_base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/upnp/"

    @property
    def location(self) -> str:
        """The LOCATION an SSDP answer gives: the description's URL."""
        return self.url_base + DESCRIPTION_PATH.removeprefix("/upnp/")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        text = head[:_MAX_REQUEST].decode("latin-1")
        self.requests.append(text)
        method, _, rest = text.partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            status, body = "405 Method Not Allowed", b""
        elif path != DESCRIPTION_PATH:
            status, body = "404 Not Found", b""
        else:
            status, body = "200 OK", self.describe().xml(self.url_base).encode("utf-8")
        header = (
            f"HTTP/1.1 {status}\r\n"
            'Content-Type: text/xml; charset="utf-8"\r\n'
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n"
            f"Server: {SERVER}\r\n\r\n"
        )
        writer.write(header.encode("ascii") + (body if method == "GET" else b""))
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()


# --- SSDP ---------------------------------------------------------------------------------


def _headers(text: str) -> tuple[str, dict[str, str]]:
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().upper()] = value.strip()
    return lines[0].strip(), fields


class SsdpResponder(asyncio.DatagramProtocol):
    """Answers M-SEARCH for the camera's URNs (and ``ssdp:all``, ``upnp:rootdevice``, its
    UDN) by unicast, on the one address it is bound to; sends NOTIFY only where told."""

    def __init__(
        self,
        describe: Callable[[], DeviceDescription],
        location: Callable[[], str],
        *,
        host: str = "127.0.0.1",
        port: int = SSDP_GROUP[1],
        group: str | None = None,
        interface: str = "0.0.0.0",
        max_delay: float = 0.0,
    ) -> None:
        self.describe = describe
        self.location = location
        self.host = host
        self.port = port
        #: a multicast group to join on ``interface``; None: none (the default)
        self.group = group
        self.interface = interface
        #: answers wait a random time up to min(MX, this), spreading them as UPnP asks
        self.max_delay = max_delay
        self.transport: asyncio.DatagramTransport | None = None
        #: (sender, ST) of every M-SEARCH seen
        #: the latest M-SEARCHes answered (bounded, as above)
        self.searches: collections.deque[tuple[tuple[str, int], str]] = collections.deque(
            maxlen=256
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            if self.group is not None:
                membership = struct.pack(
                    "4s4s", socket.inet_aton(self.group), socket.inet_aton(self.interface)
                )
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        except BaseException:
            sock.close()
            raise
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector transport is not registered as a DatagramTransport subclass
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        start, fields = _headers(data[:_MAX_REQUEST].decode("latin-1"))
        if not start.upper().startswith("M-SEARCH * HTTP/1.1"):
            return  # NOTIFYs from others, or noise
        if fields.get("MAN", "").strip('"') != "ssdp:discover":
            return
        st = fields.get("ST", "")
        self.searches.append((addr, st))
        description = self.describe()
        targets = description.targets()
        if st != "ssdp:all":
            targets = [(t, usn) for t, usn in targets if t == st]
        try:
            mx = max(0.0, float(fields.get("MX", "1")))
        except ValueError:
            mx = 1.0
        loop = asyncio.get_running_loop()
        for target, usn in targets:
            delay = random.uniform(0, min(mx, self.max_delay)) if self.max_delay else 0.0
            loop.call_later(delay, self._send, self.search_response(target, usn), addr)

    def search_response(self, st: str, usn: str) -> bytes:
        """The unicast ``HTTP/1.1 200 OK`` answer to an M-SEARCH for ``st``."""
        return (
            "HTTP/1.1 200 OK\r\n"
            f"CACHE-CONTROL: max-age={_MAX_AGE}\r\n"
            f"DATE: {formatdate(usegmt=True)}\r\n"
            "EXT:\r\n"
            f"LOCATION: {self.location()}\r\n"
            f"SERVER: {SERVER}\r\n"
            f"ST: {st}\r\n"
            f"USN: {usn}\r\n"
            "\r\n"
        ).encode("ascii")

    def notify(self, nts: str = "ssdp:alive") -> list[bytes]:
        """The NOTIFY messages (one per service URN, as the camera sends, seed 002) for
        ``ssdp:alive`` or ``ssdp:byebye``."""
        description = self.describe()
        messages = []
        for urn in description.services:
            lines = ["NOTIFY * HTTP/1.1", f"Host: {SSDP_GROUP[0]}:{SSDP_GROUP[1]}"]
            if nts == "ssdp:alive":
                lines += [f"Cache-Control: max-age={_MAX_AGE}", f"Location: {self.location()}"]
            lines += [f"NT: {urn}", f"NTS: {nts}"]
            if nts == "ssdp:alive":
                lines.append(f"Server: {SERVER}")
            lines.append(f"USN: {description.udn}::{urn}")
            messages.append(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        return messages

    def send_notify(self, target: tuple[str, int], nts: str = "ssdp:alive") -> None:
        """Send :meth:`notify` to ``target`` (the caller's choice; never implied)."""
        for message in self.notify(nts):
            self._send(message, target)

    def _send(self, message: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(message, addr)


class CameraUpnp:
    """The description server and the SSDP responder of one camera, on one address."""

    def __init__(
        self,
        describe: Callable[[], DeviceDescription],
        *,
        host: str = "127.0.0.1",
        http_port: int = 0,
        ssdp_port: int = SSDP_GROUP[1],
    ) -> None:
        self.http = DescriptionServer(describe, host=host, port=http_port)
        self.ssdp = SsdpResponder(describe, lambda: self.http.location, host=host, port=ssdp_port)

    async def start(self) -> None:
        await self.http.start()
        try:
            await self.ssdp.start()
        except BaseException:
            await self.http.stop()
            raise

    async def stop(self) -> None:
        await self.ssdp.stop()
        await self.http.stop()

    async def __aenter__(self) -> CameraUpnp:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
