"""Find cameras with SSDP (UPnP): an M-SEARCH, the answers, then each camera's description.

Canon EOS bodies announce ``urn:schemas-canon-com:service:ICPO-WFTEOSSystemService:1``
(remote control) or ``...ICPO-SmartPhoneEOSSystemService:1`` (smartphone mode) and serve
``CameraDevDesc.xml`` (vendor-canon.md §2). By default the search goes to the SSDP multicast
group of the local network; ``target`` sends it to one address instead (a known camera, or a
test responder on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "CANON_URNS",
    "SSDP_GROUP",
    "Found",
    "discover",
    "fetch_description",
    "msearch",
    "parse_description",
    "parse_ssdp",
]

SSDP_GROUP = ("239.255.255.250", 1900)
CANON_URNS = (
    "urn:schemas-canon-com:service:ICPO-WFTEOSSystemService:1",
    "urn:schemas-canon-com:service:ICPO-SmartPhoneEOSSystemService:1",
)
#: Headers a Canon 6D reportedly wants before it arms its PTP/IP listener (vendor-canon.md §2).
_DESCRIPTION_HEADERS = {
    "User-Agent": "Microsoft-Windows/10.0 UPnP/1.0",
    "Cache-Control": "no-cache",
    "Connection": "Close",
    "Pragma": "no-cache",
    "Accept": "text/xml, application/xml",
}
_MAX_DATAGRAM = 8192
_MAX_DESCRIPTION = 256 * 1024


@dataclass(slots=True)
class Found:
    """A camera that answered: where it is and what it says it is."""

    address: str
    location: str
    service: str
    usn: str = ""
    server: str = ""
    name: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    udn: str = ""
    nickname: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def mac(self) -> str | None:
        """The Wi-Fi MAC Canon puts at the end of its UDN (uuid:0000…-0001-<MAC>)."""
        tail = (self.udn or self.usn).split("::")[0].rsplit("-", 1)[-1]
        return tail if len(tail) == 12 else None


def msearch(st: str, mx: int = 2, host: str = "239.255.255.250:1900") -> bytes:
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {host}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        f"ST: {st}\r\n"
        "USER-AGENT: ptpip UPnP/1.1\r\n\r\n"
    ).encode()


def parse_ssdp(data: bytes) -> tuple[str, dict[str, str]] | None:
    """The start line and headers (upper-cased names) of an SSDP datagram, or None."""
    try:
        text = data.decode("utf-8", errors="replace")
    except UnicodeDecodeError:  # pragma: no cover - errors="replace" cannot raise
        return None
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    if not lines or not lines[0]:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line.strip():
            break
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().upper()] = value.strip()
    return lines[0].strip(), headers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_description(xml: bytes) -> dict[str, str]:
    """friendlyName, manufacturer, modelName, serialNumber, UDN, serviceType, X_… fields."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for element in root.iter():
        key = _local(element.tag)
        text = (element.text or "").strip()
        if text and key not in out:
            out[key] = text
    return out


async def fetch_description(url: str, timeout: float = 3.0) -> bytes:
    """GET the device description with the headers Canon bodies expect (HTTP/1.0 only)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http URL: {url!r}")
    port = parts.port or 80
    path = parts.path or "/"
    headers = "".join(f"{k}: {v}\r\n" for k, v in _DESCRIPTION_HEADERS.items())
    request = f"GET {path} HTTP/1.0\r\nHost: {parts.hostname}:{port}\r\n{headers}\r\n"
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(parts.hostname, port)
        try:
            writer.write(request.encode())
            await writer.drain()
            data = await reader.read(_MAX_DESCRIPTION)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/") or b" 200 " not in head.split(b"\r\n")[0] + b" ":
        raise ValueError(f"{url}: {head.splitlines()[0] if head else b'no answer'!r}")
    return body


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: list[tuple[str, dict[str, str]]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        parsed = parse_ssdp(data[:_MAX_DATAGRAM])
        if parsed is None:
            return
        start, headers = parsed
        answer = start.upper().startswith(("HTTP/1.1 200", "NOTIFY")) and "LOCATION" in headers
        if answer and headers.get("NTS", "ssdp:alive") != "ssdp:byebye":
            self.answers.append((str(addr[0]), headers))


async def discover(
    timeout: float = 3.0,
    *,
    targets: tuple[str, ...] = CANON_URNS,
    address: tuple[str, int] = SSDP_GROUP,
    bind: str = "0.0.0.0",
) -> list[Found]:
    """Send M-SEARCHes for ``targets`` to ``address`` and collect the cameras that answer."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    if family == socket.AF_INET6 and bind == "0.0.0.0":
        bind = "::"
    transport, proto = await loop.create_datagram_endpoint(
        _Collector, local_addr=(bind, 0), family=family
    )
    try:
        sock = transport.get_extra_info("socket")
        if sock is not None and family == socket.AF_INET:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        host = f"{address[0]}:{address[1]}"
        for _ in range(2):  # UDP may drop one
            for st in targets:
                transport.sendto(msearch(st, max(1, int(timeout)), host), address)
            await asyncio.sleep(min(0.2, timeout / 4))
        await asyncio.sleep(max(0.0, timeout - 0.4))
    finally:
        transport.close()
    found: dict[str, Found] = {}
    for sender, headers in proto.answers:
        location = headers["LOCATION"]
        if location in found:
            continue
        service = headers.get("ST") or headers.get("NT", "")
        found[location] = Found(
            sender, location, service, headers.get("USN", ""), headers.get("SERVER", "")
        )
    await asyncio.gather(*(_describe(f, timeout) for f in found.values()))
    return sorted(found.values(), key=lambda f: (f.address, f.location))


async def _describe(found: Found, timeout: float) -> None:
    try:
        fields = parse_description(await fetch_description(found.location, timeout))
    except (OSError, ValueError, TimeoutError):
        return
    found.name = fields.get("friendlyName", "")
    found.manufacturer = fields.get("manufacturer", "")
    found.model = fields.get("modelName", "")
    found.serial = fields.get("serialNumber", "")
    found.udn = fields.get("UDN", "")
    found.nickname = fields.get("X_deviceNickname", "")
    found.extra = {k: v for k, v in fields.items() if k.startswith("X_")}
