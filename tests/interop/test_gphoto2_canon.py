"""Stock gphoto2 in its Canon EOS mode against the virtual EOS body.

``gphoto2 --port ptpip:127.0.0.1:P:P`` auto-selects "PTP/IP Camera"; with VendorExtensionID
0xB, Manufacturer "Canon Inc." and 0x9128 in DeviceInfo, libgphoto2 2.5.30 switches to its
EOS code paths for capture and for config (gphoto2-interop.md §8, §9). ``--camera "Canon
EOS (WLAN)"`` only changes ability flags and behaves the same.

What gphoto2 does against this body, observed with ``--debug`` (and checked below):

- Init: OpenSession(1), GetDeviceInfo, SetRemoteMode(1), GetStorageIDs, two
  GetObjectHandles; then, for anything that touches capture or config, the EOS prepare:
  SetRemoteMode(1), SetEventMode(1), GetEvent (the full dump) until it is empty,
  RequestDevicePropValue for 0xD115, 0xD1D0, 0xD1D1, 0xD1AF (the body then reports the
  four strings, as a real one does), GetEvent, GetDeviceInfo again, 0x9101, 0x9102, GetEvent.
  Exactly the order of gphoto2-interop.md §9.1.
- It re-reads DeviceInfo after SetRemoteMode; the body's is the same before and after.
- CaptureDestination: the dump says 2 (card, as the vector's camera), so every run that
  captures to the host first sends ``9110 [0c000000 1cd10000 04000000]``, then SetUILock
  0x911B, 0x911A PCHDDCapacity, ResetUILock 0x911C, and polls GetEvent until AvailableShots
  > 0.
  0x911B/0x911C are sent whether DeviceInfo lists them or not, so the body answers them
  (OperationNotSupported was only logged). On exit gphoto2 itself sets CaptureDestination
  back to 2; the body also returns to the card when its host leaves.
- Capture: 9128(1,0), GetEvent ×3 (it skips the 500 ms AF wait because FocusMode is 3,
  manual, in the dump), 9128(2,0), 9129(2), GetEvent (RequestObjectTransfer 0xC186),
  9129(1), GetPartialObject in ≤ 1 MiB pieces (response P1 = bytes sent), TransferComplete.
  The file is saved as ``capt0000.jpg`` (libgphoto2's name for host captures, not the
  camera's IMG_NNNN.JPG) and not deleted (its ``capt*`` rule). To the card, the body
  announces ObjectAddedEx 0xC181 instead and gphoto2 walks the parent chain, lists the
  folder, GetObject and DeleteObject (unless ``--keep``).
- After a capture gphoto2 drains events for about 3 s, sending KeepDeviceOn 0x911D before
  each GetEvent because DeviceInfo lists 0x911D.
- Config: ``--get-config`` answers from the GetEvent cache (no GetDevicePropDesc);
  ``--set-config iso=200`` sends ``9110 [0c000000 03d10000 50000000]``. Aperture and shutter
  lists render as gphoto2's own EOS tables ("5.6", "1/125").
- Live view (``--capture-preview``): EVFMode is already 1 in the dump, so it sets only
  EVFOutputDevice = 2, then polls 0x9153, retrying while the body answers 0xA102 (its warm-up:
  the first five calls), and saves the JPEG block as ``capture_preview.jpg``.
- Exit: SetRemoteMode(0), SetRemoteMode(1), SetEventMode(0), SetRemoteMode(1),
  CloseSession. Nothing ever travels on the event connection.
- Its debug log prints "BAD: i N, entries N" at every GetEvent terminator: that is
  libgphoto2's wording for the end record, not an error.

Nothing here needed a deviation from the real camera's behaviour except the ones named in
:mod:`ptpip.vendors.canon.camera` and :mod:`ptpip.vendors.canon.camera_props` (a lens on the
body, the capture destination going back to the card between hosts).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.personality import Reply
from ptpip.camera.server import ServerSession
from ptpip.ip.responder import RequestReceived
from ptpip.testing import RunningCamera
from ptpip.vendors.canon.camera import CanonCamera
from tests.interop.conftest import LOOPBACK, Gphoto2

pytestmark = pytest.mark.interop

Request = tuple[int, tuple[int, ...], int]
ISO, APERTURE, SHUTTER, CAPTURE_DESTINATION = 0xD103, 0xD101, 0xD102, 0xD11C


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[RunningCamera]:
    """A virtual EOS 5D Mark III on a free 127.0.0.1 port; its card (4 JPEGs) in tmp_path."""
    with RunningCamera("canon", storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        yield cam


def eos(cam: RunningCamera) -> CanonCamera:
    personality = cam.personality
    assert isinstance(personality, CanonCamera)
    return personality


def value(cam: RunningCamera, code: int) -> object:
    """The body's current value of a property, read in the camera's own loop."""

    async def read() -> object:
        return eos(cam).eos.values[code]

    return cam.call(read)


@pytest.fixture
def seen(camera: RunningCamera, monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """(operation, params, response code) of every request gphoto2 makes."""
    personality = eos(camera)
    requests: list[Request] = []
    handle: Callable[..., Awaitable[Reply]] = personality.handle

    async def spy(s: ServerSession, r: RequestReceived, data: bytes | None) -> Reply:
        reply = await handle(s, r, data)
        requests.append((r.code, r.params, reply.code))
        return reply

    monkeypatch.setattr(personality, "handle", spy)
    return requests


def codes(requests: list[Request]) -> list[int]:
    return [code for code, _, _ in requests]


def card_files(cam: RunningCamera) -> set[Path]:
    return {p for p in eos(cam).store.root.rglob("*") if p.is_file()}


def test_summary(gphoto2: Gphoto2) -> None:
    out = gphoto2("--summary").stdout
    assert "Manufacturer: Canon Inc." in out
    assert "Model: Canon EOS 5D Mark III" in out
    assert "Vendor Extension ID: 0xb" in out
    assert "Canon EOS Capture" in out
    assert "store_00010001" in out


def test_capture_to_host_and_download(
    gphoto2: Gphoto2, camera: RunningCamera, seen: list[Request]
) -> None:
    before = card_files(camera)
    out = gphoto2("--capture-image-and-download").stdout
    assert "Saving file as capt0000.jpg" in out
    saved = gphoto2.cwd / "capt0000.jpg"
    with Image.open(io.BytesIO(saved.read_bytes())) as img:
        assert img.format == "JPEG"
    assert card_files(camera) == before  # a host capture never reaches the card
    assert eos(camera).held_for_host == ()  # TransferComplete came
    order = codes(seen)
    # prepare, then the host target, then the release (gphoto2-interop.md §9.1)
    set_target = seen[order.index(0x9110)]
    assert set_target[2] == 0x2001
    assert order.index(0x9115) < order.index(0x9110) < order.index(0x911A) < order.index(0x9128)
    assert order.index(0x9110) < order.index(0x911B) < order.index(0x911A) < order.index(0x911C)
    releases = [(c, p) for c, p, _ in seen if c in (0x9128, 0x9129)]
    assert releases == [(0x9128, (1, 0)), (0x9128, (2, 0)), (0x9129, (2,)), (0x9129, (1,))]
    (partial,) = [r for r in seen if r[0] == 0x101B]
    assert partial[2] == 0x2001 and partial[1][1] == 0
    assert order.index(0x101B) < order.index(0x9117)
    assert all(rc == 0x2001 for _, _, rc in seen)


def test_capture_to_card_and_download(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    gphoto2("--set-config", "capturetarget=1")  # "Memory card"
    before = card_files(camera)
    out = gphoto2("--capture-image-and-download", "--keep").stdout
    assert "New file is in location /store_00010001/DCIM/" in out
    (new,) = card_files(camera) - before
    assert f"Saving file as {new.name}" in out
    assert (gphoto2.cwd / new.name).read_bytes() == new.read_bytes()


def test_get_config_iso(gphoto2: Gphoto2) -> None:
    out = gphoto2("--get-config", "iso").stdout
    assert "Current: 3200" in out  # the vector's 0x70
    for choice in ("Auto", "100", "200", "400", "800", "1600", "3200", "6400", "12800"):
        assert f" {choice}\n" in out


@pytest.mark.parametrize(
    ("setting", "code", "raw", "shown"),
    [
        ("iso=200", ISO, 0x50, "200"),
        ("aperture=8", APERTURE, 0x38, "8"),
        ("shutterspeed=1/125", SHUTTER, 0x70, "1/125"),
    ],
)
def test_set_config_changes_the_body(
    gphoto2: Gphoto2, camera: RunningCamera, seen: list[Request], setting: str, code: int,
    raw: int, shown: str,
) -> None:  # fmt: skip
    gphoto2("--set-config", setting)
    assert value(camera, code) == raw
    assert (0x9110, (), 0x2001) in seen
    name = setting.split("=", maxsplit=1)[0]
    assert f"Current: {shown}\n" in gphoto2("--get-config", name).stdout


def test_capture_preview_is_live_view(
    gphoto2: Gphoto2, camera: RunningCamera, seen: list[Request]
) -> None:
    gphoto2("--capture-preview")
    with Image.open(gphoto2.cwd / "capture_preview.jpg") as img:
        assert img.format == "JPEG" and img.size == (640, 480)
    views = [rc for c, _, rc in seen if c == 0x9153]
    warmup = eos(camera).liveview_warmup_calls
    assert views[:warmup] == [0xA102] * warmup and views[-1] == 0x2001


def test_canon_eos_wlan_model(gphoto2: Gphoto2) -> None:
    out = gphoto2("--camera", "Canon EOS (WLAN)", "--get-config", "shutterspeed").stdout
    assert "Current: 2.5\n" in out
