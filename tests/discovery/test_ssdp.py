"""SSDP discovery against a responder on 127.0.0.1 speaking the Canon texts of the reference.

Unicast to 127.0.0.1 only: nothing goes to the multicast group or a real interface.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from ptpip.discovery.ssdp import Found, discover, msearch, parse_description, parse_ssdp

# vendor-canon.md §2: the description of an EOS Rebel T6 in smartphone mode (vcam dump).
DESCRIPTION = b"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<URLBase>http://192.168.1.2:49152/upnp/</URLBase>
<device>
<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>
<friendlyName>Canon EOS Rebel T6</friendlyName>
<manufacturer>Canon</manufacturer>
<modelName>Canon EOS Rebel T6</modelName>
<serialNumber>123456789123</serialNumber>
<UDN>uuid:00000000-0000-0000-0001-00BBC1859FAB</UDN>
<serviceList><service>
<serviceType>urn:schemas-canon-com:service:ICPO-SmartPhoneEOSSystemService:1</serviceType>
<ns:X_deviceNickname xmlns:ns="urn:schemas-canon-com:schema-upnp">EOST6{</ns:X_deviceNickname>
</service></serviceList>
</device></root>"""
URN = "urn:schemas-canon-com:service:ICPO-SmartPhoneEOSSystemService:1"


class Responder(asyncio.DatagramProtocol):
    """Answers M-SEARCHes for URN like a camera, and records the requests' headers."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.searches: list[dict[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        parsed = parse_ssdp(data)
        assert parsed is not None
        start, headers = parsed
        assert start == "M-SEARCH * HTTP/1.1"
        self.searches.append(headers)
        if headers.get("ST") in (URN, "ssdp:all") and self.transport is not None:
            reply = (
                "HTTP/1.1 200 OK\r\nCache-Control: max-age=1800\r\nEXT:\r\n"
                f"Location: {self.location}\r\n"
                "Server: Camera OS/1.0 UPnP/1.0 Canon Device Discovery/1.0\r\n"
                f"ST: {URN}\r\nUSN: uuid:00000000-0000-0000-0001-00BBC1859FAB::{URN}\r\n\r\n"
            )
            self.transport.sendto(reply.encode(), addr)


@pytest.fixture
async def camera_upnp() -> AsyncIterator[tuple[int, Responder, list[bytes]]]:
    requests: list[bytes] = []

    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(DESCRIPTION)}"
        writer.write(head.encode() + b"\r\n\r\n" + DESCRIPTION)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    http_port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    location = f"http://127.0.0.1:{http_port}/upnp/CameraDevDesc.xml"
    transport, responder = await loop.create_datagram_endpoint(
        lambda: Responder(location), local_addr=("127.0.0.1", 0)
    )
    udp_port = transport.get_extra_info("sockname")[1]
    yield udp_port, responder, requests
    transport.close()
    server.close()


async def test_discover_finds_the_camera_and_reads_its_description(
    camera_upnp: tuple[int, Responder, list[bytes]],
) -> None:
    port, responder, requests = camera_upnp
    found = await discover(0.6, address=("127.0.0.1", port), bind="127.0.0.1")
    assert len(found) == 1
    camera: Found = found[0]
    assert camera.address == "127.0.0.1"
    assert camera.model == "Canon EOS Rebel T6"
    assert camera.serial == "123456789123"
    assert camera.mac == "00BBC1859FAB"
    assert camera.nickname == "EOST6{"
    assert camera.service == URN
    # Both Canon URNs were asked for, and the description GET had the 6D's headers.
    assert {s["ST"] for s in responder.searches} >= {
        "urn:schemas-canon-com:service:ICPO-WFTEOSSystemService:1",
        URN,
    }
    assert requests and b"User-Agent: Microsoft-Windows/10.0 UPnP/1.0" in requests[0]
    assert requests[0].startswith(b"GET /upnp/CameraDevDesc.xml HTTP/1.0")


def test_msearch_text_and_parsing() -> None:
    text = msearch(URN, 3)
    start, headers = parse_ssdp(text) or ("", {})
    assert start == "M-SEARCH * HTTP/1.1"
    assert headers["MAN"] == '"ssdp:discover"'
    assert headers["ST"] == URN
    assert headers["MX"] == "3"
    assert parse_ssdp(b"") is None


def test_description_parsing_tolerates_junk() -> None:
    fields = parse_description(DESCRIPTION)
    assert fields["modelName"] == "Canon EOS Rebel T6"
    assert fields["UDN"].endswith("00BBC1859FAB")
    assert parse_description(b"<not xml") == {}


async def test_the_discover_command_prints_json(
    camera_upnp: tuple[int, Responder, list[bytes]], tmp_path: Path
) -> None:
    port, _, _ = camera_upnp
    ptpip = Path(sys.executable).with_name("ptpip")
    proc = await asyncio.create_subprocess_exec(
        str(ptpip), "discover", "--timeout", "1", "--target", f"127.0.0.1:{port}", "--json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err
    (camera,) = json.loads(out)
    assert (camera["model"], camera["serial"], camera["address"]) == (
        "Canon EOS Rebel T6",
        "123456789123",
        "127.0.0.1",
    )
