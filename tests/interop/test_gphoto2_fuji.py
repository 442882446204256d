"""Stock gphoto2 in its Fuji Wi-Fi mode against the virtual Fuji X-T1.

``gphoto2 --camera "Fuji X (WLAN)" --port ptpip:127.0.0.1:P:E`` (libgphoto2 2.5.30,
``camlibs/ptp2/fujiptpip.c``). Both ports are given: gphoto2 computes the event-port default
before it parses a custom command port (gphoto2-interop.md §10), and takes the live-view
port to be E + 1, which is why the virtual camera keeps its three ports in a row.

What gphoto2 does in this mode, as observed with ``--debug`` against the virtual camera:

- Init: an 82-byte Fuji InitCommandRequest (the host name in a 54-byte field), then, after
  the ack, the **same request again on the same socket** (vendor-fuji.md §2.4). It reads one
  ack for each; answering two acks works, so the camera does (an InitFail first would cost
  gphoto2 a 500 ms retry and a new socket).
- Set-up: OpenSession(1) with TID 0; SetDevicePropValue(0xDF01) = 5 sent as an exact u16
  (``0e 00 00 00 02 00 16 10 …``, no padding); GetDevicePropValue(0xDF24) and the echo;
  InitiateOpenCapture(0, 0); then it connects the event port and the live-view port (no
  handshake), GetDeviceInfo, and 0x902B because DeviceInfo lists it. The 0x902B list then
  *replaces* DevicePropertiesSupported, so gphoto2 shows exactly the X-T1's 8 properties.
- Before 0x101C, gphoto2 polls the (still unconnected) event socket before every request
  and prints ``read fujiptpip generic: Transport endpoint is not connected`` on stderr;
  a real camera gets the same noise.
- It reads every data-in answer as one container, unconditionally: a bare error response
  would be taken for the data and gphoto2 would then wait forever for the response. The
  camera therefore sends an (empty) data container before any data-in error.
- ``camera_prepare_capture`` asks GetObjectHandles (not supported: Fuji Wi-Fi numbers images
  1…N by 0xD222) and gphoto2 carries on; on exit ``camera_unprepare_capture`` sets the USB
  tether property 0xD207, gets DevicePropNotSupported and only logs it.
- ``--summary``, ``--list-config``, ``--get-config`` and ``--set-config`` work.
- ``--capture-preview`` works: it reads one frame from the live-view port.
- ``--capture-image`` does not: libgphoto2's ``camera_fuji_capture`` is the USB tether flow
  (snapshot GetObjectHandles, read 0x500D, set 0xD208 = 0x0200 to focus, …). The X-T1 has
  no 0xD208 in Wi-Fi remote mode, so the camera answers DevicePropNotSupported and gphoto2
  reports "Could not capture" before any InitiateCapture. A real X-T1 would fail the same
  way; Wi-Fi remote capture is 0x100E + events 0xC004/0xC001 + 0x9022 (vendor-fuji.md §11),
  which gphoto2 does not implement.
- ``--list-files`` fails with "PTP Operation Not Supported": gphoto2 lists with
  GetObjectHandles, which Fuji Wi-Fi remote mode does not offer.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.server import ServerSession
from ptpip.ip.packets import InitCommandAck
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.values import Value
from ptpip.testing import RunningCamera
from ptpip.vendors.fuji.camera import FujiCamera
from tests.interop.conftest import LOOPBACK, SUBPROCESS_TIMEOUT, Gphoto2

pytestmark = pytest.mark.interop

Request = tuple[int, tuple[int, ...]]


@dataclass
class FujiGphoto2(Gphoto2):
    """gphoto2 in "Fuji X (WLAN)" mode with the command and the event port."""

    event_port: int = 0

    @property
    def port_spec(self) -> str:
        return f"ptpip:{self.host}:{self.port}:{self.event_port}"

    def __call__(
        self, *args: str, check: bool = True, timeout: float = SUBPROCESS_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return super().__call__("--camera", "Fuji X (WLAN)", *args, check=check, timeout=timeout)


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[RunningCamera]:
    """A virtual X-T1 on free 127.0.0.1 ports in a row; its card (4 JPEGs) in tmp_path."""
    with RunningCamera("fuji", storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        yield cam


@pytest.fixture
def gphoto2(gphoto2_executable: str, camera: RunningCamera, tmp_path: Path) -> FujiGphoto2:
    home = tmp_path / "home"
    cwd = tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    ports = camera.ports
    assert ports["stream"] == ports["event"] + 1  # gphoto2's live-view port
    return FujiGphoto2(
        gphoto2_executable, camera.host, camera.port, home, cwd, event_port=ports["event"]
    )


def fuji(cam: RunningCamera) -> FujiCamera:
    personality = cam.personality
    assert isinstance(personality, FujiCamera)
    return personality


def prop(cam: RunningCamera, code: int) -> Value:
    """The camera's current value of a property, read in the camera's own loop."""

    async def read() -> Value:
        return fuji(cam).props.get(code)

    return cam.call(read)


@dataclass
class Seen:
    """What the camera saw of one gphoto2 run."""

    requests: list[Request]
    #: per request: (event connection attached, live-view connections)
    links: list[tuple[bool, int]]
    acks: list[InitCommandAck]


def spy(cam: RunningCamera, monkeypatch: pytest.MonkeyPatch) -> Seen:
    personality = fuji(cam)
    seen = Seen([], [], [])
    handle: Callable[..., Awaitable[object]] = personality.handle
    init_ack = personality.init_ack

    async def handle_spy(s: ServerSession, r: RequestReceived, data: bytes | None) -> object:
        seen.requests.append((r.code, r.params))
        seen.links.append((s.event_conn is not None, len(s.stream_conns)))
        return await handle(s, r, data)

    def ack_spy(connection_number: int) -> InitCommandAck:
        ack = init_ack(connection_number)
        seen.acks.append(ack)
        return ack

    monkeypatch.setattr(personality, "handle", handle_spy)
    monkeypatch.setattr(personality, "init_ack", ack_spy)
    return seen


def test_summary(
    gphoto2: FujiGphoto2, camera: RunningCamera, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy(camera, monkeypatch)
    out = gphoto2("--summary").stdout
    lines = out.splitlines()
    for line in (
        "Manufacturer: FUJIFILM",
        "Model: X-T1",
        "  Version: 5.51",
        "Vendor Extension ID: 0xe (1.0)",
        "Vendor Extension Description: fujifilm.co.jp: 1.0; ",
        "\tGeneric Image Capture, Open Capture, No vendor specific capture",
    ):
        assert line in lines, out
    # The 0x902B list is the property list gphoto2 shows: the X-T1's eight.
    summary = lines[lines.index("Device Property Summary:") + 1 :]
    shown = [int(m[1], 16) for m in (re.search(r"\(0x([0-9a-f]{4})\):", x) for x in summary) if m]
    assert shown == [0x5012, 0x500C, 0x5005, 0x5010, 0xD001, 0xD02A, 0xD019, 0xD17C], out
    assert (
        "Film Simulation(0xd001):(readwrite) (type=0x4) Enumeration [1,2,3,4,5,6,7,8,9,10,11] "
        "value: 2"
    ) in lines, out

    # Two InitCommandRequests on one socket, two acks (vendor-fuji.md §2.4).
    assert len(seen.acks) == 2
    assert seen.requests[:6] == [
        (0x1002, (1,)),
        (0x1016, (0xDF01,)),
        (0x1015, (0xDF24,)),
        (0x1016, (0xDF24,)),
        (0x101C, (0, 0)),
        (0x1001, ()),
    ]
    # Right after 0x101C gphoto2 connected the event and the live-view ports.
    assert seen.links[4] == (False, 0)
    assert seen.links[-1] == (True, 1)
    assert (0x902B, ()) in seen.requests
    # The session ended with gphoto2: the camera is out of remote mode again.
    deadline = time.monotonic() + 5
    while prop(camera, 0xDF01) != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert prop(camera, 0xDF01) == 0


def test_list_config(gphoto2: FujiGphoto2) -> None:
    out = gphoto2("--list-config").stdout
    for name in (
        "/main/status/manufacturer",
        "/main/imgsettings/filmsimulation",
        "/main/imgsettings/whitebalance",
        "/main/capturesettings/exposurecompensation",
        "/main/capturesettings/flashmode",
        "/main/capturesettings/capturedelay",
        "/main/other/d02a",
        "/main/other/d17c",
    ):
        assert name in out.splitlines(), out


def get_config(gphoto2: FujiGphoto2, name: str) -> tuple[str, list[str]]:
    out = gphoto2("--get-config", name).stdout
    current = re.search(r"^Current: (.*)$", out, re.MULTILINE)
    assert current, out
    return current[1], re.findall(r"^Choice: \d+ (.*)$", out, re.MULTILINE)


def test_get_and_set_config(gphoto2: FujiGphoto2, camera: RunningCamera) -> None:
    current, choices = get_config(gphoto2, "/main/imgsettings/filmsimulation")
    assert current == "Velvia/Vivid"  # 0xD001 = 2
    assert len(choices) == 11
    gphoto2("--set-config", "/main/imgsettings/filmsimulation=0")
    assert prop(camera, 0xD001) == 1
    assert get_config(gphoto2, "/main/imgsettings/filmsimulation")[0] == "PROVIA/Standard"

    current, choices = get_config(gphoto2, "/main/capturesettings/exposurecompensation")
    assert (current, len(choices)) == ("0", 19)
    gphoto2("--set-config", "/main/capturesettings/exposurecompensation=-1")
    assert prop(camera, 0x5010) == -1000

    # 0xD02A's bit flags are shown as raw (signed) numbers: libgphoto2 has no Fuji ISO table
    # for Wi-Fi; 0x80001900 (auto up to 6400) prints as -2147477248.
    assert get_config(gphoto2, "/main/other/d02a")[0] == str(0x80001900 - 2**32)


def test_capture_preview_reads_the_liveview_port(gphoto2: FujiGphoto2) -> None:
    out = gphoto2("--capture-preview").stdout
    assert "Saving file as capture_preview.jpg" in out, out
    image = Image.open(io.BytesIO((gphoto2.cwd / "capture_preview.jpg").read_bytes()))
    assert (image.format, image.size) == ("JPEG", (640, 480))


def test_capture_image_needs_usb_tether_properties(
    gphoto2: FujiGphoto2, camera: RunningCamera, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy(camera, monkeypatch)
    result = gphoto2("--capture-image", check=False)
    assert "PTP Device Prop Not Supported" in result.stdout + result.stderr, result
    assert "Could not capture" in result.stdout + result.stderr, result
    assert (0x1016, (0xD208,)) in seen.requests
    assert all(code != 0x100E for code, _ in seen.requests)
    assert fuji(camera).capture_count == 0


def test_list_files_needs_get_object_handles(
    gphoto2: FujiGphoto2, camera: RunningCamera, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy(camera, monkeypatch)
    result = gphoto2("--list-files", check=False)
    assert result.returncode != 0
    assert "PTP Operation Not Supported" in result.stdout + result.stderr, result
    assert any(code == 0x1007 for code, _ in seen.requests)
