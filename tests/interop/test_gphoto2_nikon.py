"""Stock gphoto2 against the virtual Nikon Z 6II (libgphoto2 2.5.30, gphoto2 2.5.28).

Both ways of reaching it work the same: ``gphoto2 --port ptpip:127.0.0.1:P:P`` (the "PTP/IP
Camera" model, by plain PTP/IP detection) and ``--camera "Nikon DSLR (WLAN)"`` (only ability
flags differ, gphoto2-interop.md §1). What gphoto2 does, as observed with ``--debug`` and
the camera's request log, with the libgphoto2 source facts behind it (``camlibs/ptp2``):

- **Identity** (library.c ``fixup_cached_deviceinfo``): VendorExtensionID 6 with a
  Manufacturer containing "Nikon" becomes Nikon (``--summary`` prints "Vendor Extension ID:
  0xa"); because DeviceInfo lists GetVendorPropCodes 0x90CA, gphoto2 calls it right after
  every GetDeviceInfo and merges the codes into DevicePropertiesSupported. That is where the
  virtual body lists its 0xDxxx properties, and they appear in the summary.
- ``--summary``: OpenSession, GetDeviceInfo, 0x90CA, GetStorageIDs, GetObjectHandles ×2,
  GetStorageInfo, GetDeviceInfo, 0x90CA, one GetDevicePropDesc per property, then the exit.
- **Exit** (library.c ``camera_exit``): for a Nikon listing 0x9202, EndLiveView is sent at
  every exit, live view or not, and **any answer but OK skips CloseSession** (the
  ``exitfailed`` path). The body therefore answers EndLiveView with OK when live view is off
  (a body answering NotLiveView would never see CloseSession from gphoto2). Then
  ChangeCameraMode(0) when gphoto2 had set it to 1, a GetEventEx, CloseSession.
- **Capture** (library.c ``camera_nikon_capture``): ChangeCameraMode 0x90C2(1) since it is
  listed; GetDevicePropDesc StillCaptureMode (burst check); GetDevicePropValue LiveViewStatus
  0xD1A2; then, 0x9207 being listed, InitiateCaptureRecInMedia(0xFFFFFFFF = no AF, 1 = SDRAM)
  for the default capture target "Internal RAM" (0 for "Memory card"), retried while
  DeviceBusy; ``nikon_wait_busy`` polls DeviceReady every 100 ms while it answers DeviceBusy;
  then GetEventEx polls (``ptp_check_event`` prefers 0x941C to 0x90C7) until
  ObjectAddedInSdram, or ObjectAdded and CaptureComplete. For ParentObject 0 (SDRAM) it reads
  the picture with one GetObject (not in pieces), saves it as ``capt0000.jpg`` and sends
  DeleteObject(0xFFFF0001): the body has dropped the picture once read, answers
  InvalidObjectHandle, and gphoto2 remembers "deletesdramfails" instead of trying
  DelImageSDRAM 0x90C3. A card capture is an ordinary object: the parent chain, GetObject.
- **Events twice**: besides GetEventEx, gphoto2 2.5.30 drains the PTP/IP event socket before
  every request (ptpip.c) into the same queue, and the body sends every event both ways
  (vendor-others.md §1.3). So each event reaches gphoto2 twice. After an SDRAM capture the
  CLI's 3-s event drain sees ObjectAddedInSdram again and asks GetObjectInfo(0xFFFF0001),
  which is InvalidObjectHandle by then (ignored). After a card capture it sees ObjectAdded
  again and prints "New file is in location …" a second time and downloads the file again
  (``--force-overwrite`` keeps it from asking whether to overwrite).
- **Live view** (``--capture-preview``; library.c, the Nikon branch of
  ``camera_capture_preview``): ChangeCameraMode(1); GetDevicePropValue 0xD1A2; live view off,
  so SetDevicePropValue RecordingMedia 0xD10B = 1 (SDRAM) and GetDevicePropValue
  LiveViewProhibitCondition 0xD1A4 (a set bit would be reported as the reason, and gphoto2
  would stop); StartLiveView (OK or DeviceBusy accepted); DeviceReady every 20 ms for up to
  2 s; then GetLiveViewImg, retried after 10 ms while DeviceBusy (20 tries), restarting live
  view on NotLiveView. The **first image after StartLiveView is thrown away** (a Coolpix
  S9700 sends a corrupt one), so it takes the second; the JPEG is found by searching the
  SOI and EOI, whatever the header size.
- **Config**: ``--get-config`` reads GetDevicePropDesc only; ``--set-config`` sends
  GetDevicePropDesc then SetDevicePropValue (ISO 400 as ``90 01``). ``iso`` is 0x500F;
  ``shutterspeed`` is 0x500D, shown as seconds ("0.0080s" for 1/125) and parsed from "1/250";
  ``shutterspeed2`` is the Nikon 0xD100, shown as "1/250"; 0x500D and 0xD100 stay in step.
- **Downloads**: files up to 1 MiB with GetObject, larger ones with GetPartialObject in 1 MiB
  pieces (over 4 GiB GetPartialObjectEx in 10 MiB ones); each data phase is read as Start
  Data and one End Data with everything (``ptp_ptpip_getdata`` takes packets of type 10 or 12
  until the total is reached), byte-identical to the card.

The reference says nothing about EndLiveView outside live view, and only libgphoto2's exit
path decides it; the duplicate events are what the reference's "both ways" means for
gphoto2 2.5.30.
"""

from __future__ import annotations

import io
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.personality import BytesSource, Reply
from ptpip.camera.server import ServerSession
from ptpip.ip.responder import RequestReceived
from ptpip.testing import RunningCamera
from ptpip.vendors.nikon.camera import NikonCamera
from ptpip.vendors.nikon.codec import SDRAM_HANDLE, split_liveview
from tests.interop.conftest import LOOPBACK, Gphoto2

pytestmark = pytest.mark.interop

OK, BUSY, INVALID_HANDLE = 0x2001, 0x2019, 0x2009
ISO, SHUTTER, NIKON_SHUTTER = 0x500F, 0x500D, 0xD100


class Seen:
    """(operation, params, response code) of every request gphoto2 makes, and the data the
    camera sent for each."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, tuple[int, ...], int]] = []
        self.data: list[bytes | None] = []

    def codes(self) -> list[int]:
        return [code for code, _, _ in self.requests]

    def answers(self, code: int) -> list[tuple[tuple[int, ...], int]]:
        return [(p, rc) for c, p, rc in self.requests if c == code]

    def sent(self, code: int, params: tuple[int, ...] | None = None) -> list[bytes]:
        return [
            d
            for (c, p, _), d in zip(self.requests, self.data, strict=True)
            if c == code and d is not None and (params is None or p == params)
        ]


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[RunningCamera]:
    """A virtual Z 6II on a free 127.0.0.1 port; its card (4 JPEGs) in tmp_path."""
    with RunningCamera("nikon", storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        yield cam


def body(cam: RunningCamera) -> NikonCamera:
    personality = cam.personality
    assert isinstance(personality, NikonCamera)
    return personality


def value(cam: RunningCamera, code: int) -> object:
    """The body's current value of a property, read in the camera's own loop."""

    async def read() -> object:
        return body(cam).props.get(code)

    return cam.call(read)


@pytest.fixture
def seen(camera: RunningCamera, monkeypatch: pytest.MonkeyPatch) -> Seen:
    personality = body(camera)
    record = Seen()
    handle: Callable[..., Awaitable[Reply]] = personality.handle

    async def spy(s: ServerSession, r: RequestReceived, data: bytes | None) -> Reply:
        reply = await handle(s, r, data)
        record.requests.append((r.code, r.params, reply.code))
        record.data.append(reply.data.data if isinstance(reply.data, BytesSource) else None)
        return reply

    monkeypatch.setattr(personality, "handle", spy)
    return record


def card_files(cam: RunningCamera) -> dict[str, bytes]:
    root = body(cam).store.root
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("model", [None, "Nikon DSLR (WLAN)"])
def test_summary(gphoto2: Gphoto2, seen: Seen, model: str | None) -> None:
    args = ("--camera", model) if model else ()
    out = gphoto2(*args, "--summary").stdout
    assert "Manufacturer: Nikon Corporation" in out and "Model: Z 6_2" in out
    assert "Vendor Extension ID: 0xa" in out  # 6 + "Nikon": a Nikon
    assert "Nikon Capture 1, Nikon Capture 2, Nikon Capture 3" in out
    assert "store_00010001" in out
    # the Nikon properties, listed only by GetVendorPropCodes
    assert "Recording Media(0xd10b)" in out and "Auto ISO(0xd054)" in out
    assert "Exposure Index (film speed ISO)(0x500f)" in out
    codes = seen.codes()
    assert codes[:3] == [0x1002, 0x1001, 0x90CA]
    assert codes[-1] == 0x1003  # CloseSession: EndLiveView was answered OK
    assert seen.answers(0x9202) == [((), OK)]


def test_list_files(gphoto2: Gphoto2) -> None:
    out = gphoto2("--list-files").stdout
    assert "There are 4 files in folder '/store_00010001/DCIM/100PTPIP'." in out
    for n in range(1, 5):
        assert f"IMG_{n:04d}.JPG" in out


def test_get_all_files_is_byte_identical(
    gphoto2: Gphoto2, camera: RunningCamera, seen: Seen
) -> None:
    big = os.urandom(3_000_000)  # over 1 MiB: GetPartialObject in 1 MiB pieces
    (body(camera).store.root / "DCIM" / "100PTPIP" / "DSC_0100.JPG").write_bytes(big)
    out = gphoto2("--get-all-files").stdout
    card = card_files(camera)
    assert len(card) == 5
    for name, data in card.items():
        assert f"Saving file as {name}" in out
        assert (gphoto2.cwd / name).read_bytes() == data
    pieces = seen.answers(0x101B)
    assert [p[1:] for p, _ in pieces] == [(0, 0x100000), (0x100000, 0x100000), (0x200000, 0xDC6C0)]
    assert all(rc == OK for _, rc in pieces)


def test_capture_to_sdram_and_download(gphoto2: Gphoto2, camera: RunningCamera, seen: Seen) -> None:
    before = card_files(camera)
    out = gphoto2("--capture-image-and-download").stdout
    assert "New file is in location /capt0000.jpg on the camera" in out
    assert "Saving file as capt0000.jpg" in out
    saved = (gphoto2.cwd / "capt0000.jpg").read_bytes()
    assert seen.sent(0x1009, (SDRAM_HANDLE,)) == [saved]  # the SDRAM picture, read whole
    with Image.open(io.BytesIO(saved)) as img:
        assert img.format == "JPEG" and img.size == (1200, 800)
    assert card_files(camera) == before  # SDRAM: never on the card
    assert body(camera).held_in_sdram == 0
    codes = seen.codes()
    assert seen.answers(0x9207) == [((0xFFFF_FFFF, 1), OK)]  # no AF, to SDRAM
    assert codes.index(0x90C2) < codes.index(0x9207) < codes.index(0x90C8)
    ready = [rc for _, rc in seen.answers(0x90C8)]
    assert ready[:2] == [BUSY, BUSY] and ready[-1] == OK  # the busy cycle
    assert codes.index(0x941C) < codes.index(0x1008) < codes.index(0x1009) < codes.index(0x100B)
    assert seen.answers(0x100B) == [((SDRAM_HANDLE, 0), INVALID_HANDLE)]  # read: gone
    assert 0x90C3 not in codes


def test_capture_to_the_card_and_download(
    gphoto2: Gphoto2, camera: RunningCamera, seen: Seen
) -> None:
    before = card_files(camera)
    gphoto2("--set-config", "capturetarget=1")  # "Memory card": a libgphoto2 setting
    out = gphoto2("--capture-image-and-download", "--keep", "--force-overwrite").stdout
    (new,) = set(card_files(camera)) - set(before)
    assert f"New file is in location /store_00010001/DCIM/100PTPIP/{new} on the camera" in out
    assert f"Saving file as {new}" in out
    assert (gphoto2.cwd / new).read_bytes() == card_files(camera)[new]
    assert seen.answers(0x9207) == [((0xFFFF_FFFF, 0), OK)]  # to the card
    # the ObjectAdded from the event socket, drained after the capture: a second download
    assert out.count(f"New file is in location /store_00010001/DCIM/100PTPIP/{new}") == 2


def test_get_and_set_config_iso(gphoto2: Gphoto2, camera: RunningCamera, seen: Seen) -> None:
    out = gphoto2("--get-config", "iso").stdout
    assert "Current: 100\n" in out
    for choice in ("100", "400", "6400", "51200"):
        assert f" {choice}\n" in out
    gphoto2("--set-config", "iso=400")
    assert value(camera, ISO) == 400
    assert (0x1016, (ISO,), OK) in seen.requests
    assert "Current: 400\n" in gphoto2("--get-config", "iso").stdout
    assert 0x1015 not in seen.codes()  # GetDevicePropValue is never used by config


def test_get_and_set_config_shutterspeed(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    out = gphoto2("--get-config", "shutterspeed").stdout
    assert "Current: 0.0080s\n" in out  # 1/125 s, 0x500D in 1/10000 s
    assert " Bulb\n" in out and " Time\n" in out
    gphoto2("--set-config", "shutterspeed=1/250")
    assert value(camera, SHUTTER) == 40
    assert value(camera, NIKON_SHUTTER) == 1 << 16 | 250  # the same setting, both codes
    assert "Current: 0.0040s\n" in gphoto2("--get-config", "shutterspeed").stdout
    assert "Current: 1/250\n" in gphoto2("--get-config", "shutterspeed2").stdout


def test_capture_preview_is_live_view(gphoto2: Gphoto2, camera: RunningCamera, seen: Seen) -> None:
    gphoto2("--capture-preview")
    saved = (gphoto2.cwd / "capture_preview.jpg").read_bytes()
    with Image.open(io.BytesIO(saved)) as img:
        assert img.format == "JPEG" and img.size == (640, 480)
    frames = seen.sent(0x9203)
    assert len(frames) == 2  # the first image after StartLiveView is thrown away
    header, jpeg, _ = split_liveview(frames[-1])
    assert len(header) == 384 and jpeg == saved
    views = [rc for _, rc in seen.answers(0x9203)]
    assert views == [BUSY, OK, OK]
    codes = seen.codes()
    assert (0x1016, (0xD10B,), OK) in seen.requests  # recording media: SDRAM
    assert codes.index(0x1015) < codes.index(0x1016) < codes.index(0x9201) < codes.index(0x9203)
    assert seen.answers(0x90C8)[0][1] == BUSY  # live view starting
    assert codes[-1] == 0x1003
