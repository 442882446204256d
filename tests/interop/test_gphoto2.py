"""Stock gphoto2 (libgphoto2's ptp2 camlib over PTP/IP) against the generic virtual camera.

gphoto2-interop.md §3 and §5 say what gphoto2 needs and which operations each command sends.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image

from ptpip.camera.server import ServerSession
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import DevicePropertyCode, OperationCode
from ptpip.ptp.datasets import PropEnum
from ptpip.ptp.values import Value
from ptpip.testing import RunningCamera
from tests.interop.conftest import Gphoto2, generic

pytestmark = pytest.mark.interop

ISO = DevicePropertyCode.EXPOSURE_INDEX
WHITE_BALANCE = DevicePropertyCode.WHITE_BALANCE
#: libgphoto2 fetches objects over 1 MiB with GetPartialObject in pieces of this size (§5.4).
PIECE = 0x10_0000
#: 2 whole pieces and a remainder, as in the reference observation (§5.4).
BIG_SIZE = 3_000_006

Request = tuple[int, tuple[int, ...]]


def card_files(cam: RunningCamera) -> dict[str, Path]:
    """gphoto2's path of every file on the card (``/store_00010001/DCIM/…``) -> its disk path."""
    prefix = f"/store_{generic(cam).store.storage_id:08x}"
    return {
        f"{prefix}/{path.relative_to(cam.storage).as_posix()}": path
        for path in sorted(cam.storage.rglob("*"))
        if path.is_file()
    }


def prop(cam: RunningCamera, code: int) -> Value:
    """The virtual camera's current value of a property (read in the camera's own loop)."""

    async def read() -> Value:
        return generic(cam).props.get(code)

    return cam.call(read)


def enum_values(cam: RunningCamera, code: int) -> tuple[Value, ...]:
    form = generic(cam).props.describe(code).form
    assert isinstance(form, PropEnum)
    return form.values


def record_requests(cam: RunningCamera, monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """Spy on the virtual camera: every operation request it handles, as (code, params)."""
    personality = generic(cam)
    seen: list[Request] = []
    handle: Callable[..., Awaitable[object]] = personality.handle

    async def spy(session: ServerSession, request: RequestReceived, data: bytes | None) -> object:
        seen.append((request.code, request.params))
        return await handle(session, request, data)

    monkeypatch.setattr(personality, "handle", spy)
    return seen


def lines(text: str) -> list[str]:
    return text.splitlines()


def get_config(gphoto2: Gphoto2, name: str) -> tuple[str, list[str]]:
    """``--get-config name``: (Current, [choices])."""
    out = gphoto2("--get-config", name).stdout
    current = re.search(r"^Current: (.*)$", out, re.MULTILINE)
    assert current, out
    choices = re.findall(r"^Choice: \d+ (.*)$", out, re.MULTILINE)
    return current[1], choices


def make_big_jpeg(path: Path, size: int) -> bytes:
    """A real JPEG padded with random bytes after its end marker to exactly ``size`` bytes."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "JPEG")
    data = buf.getvalue()
    data += os.urandom(size - len(data))
    path.write_bytes(data)
    return data


# -- --summary -------------------------------------------------------------------------------


def test_summary(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    personality = generic(camera)
    store = personality.store
    out = gphoto2("--summary").stdout
    got = lines(out)
    assert "Manufacturer: ptpip" in got, out
    assert f"Model: {personality.model}" in got, out
    assert f"  Serial Number: {personality.serial_number}" in got, out
    assert "\tGeneric Image Capture, No Open Capture, No vendor specific capture" in got, out

    block = got[got.index(f"store_{store.storage_id:08x}:") :]
    for line in (
        f"\tStorageDescription: {store.description}",
        f"\tVolumeLabel: {store.volume_label}",
        "\tStorage Type: Removable RAM (memory card)",
        "\tFilesystemtype: Digital Camera Layout (DCIM)",
        "\tAccess Capability: Read-Write",
    ):
        assert line in block, out

    assert re.search(
        r"^Battery Level\(0x5001\):\(read only\) \(type=0x2\) Range \[0 - 100, step 1\] "
        r"value: 80% \(80\)$",
        out,
        re.MULTILINE,
    ), out
    iso = re.search(
        r"^Exposure Index \(film speed ISO\)\(0x500f\):\(readwrite\) \(type=0x4\) "
        r"Enumeration \[([0-9,]+)\] value: ISO 100 \(100\)$",
        out,
        re.MULTILINE,
    )
    assert iso, out
    assert [int(v) for v in iso[1].split(",")] == list(enum_values(camera, ISO))
    assert 400 in enum_values(camera, ISO)


# -- --list-files ----------------------------------------------------------------------------


def test_list_files(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    files = card_files(camera)
    assert len(files) == 4  # the generated sample card
    out = gphoto2("--list-files").stdout
    folder = {path.rsplit("/", 1)[0] for path in files}
    assert len(folder) == 1, files
    (folder_name,) = folder
    assert f"There are {len(files)} files in folder '{folder_name}'." in lines(out), out

    listed = re.findall(
        r"^#(\d+)\s+(\S+)\s+rd\s+(\d+) KB\s+(\d+)x(\d+)\s+image/jpeg\s+\d+$", out, re.MULTILINE
    )
    assert [int(number) for number, *_ in listed] == list(range(1, len(files) + 1)), out
    # gphoto2 prints the size in KiB rounded up.
    assert {name: int(kb) for _, name, kb, _, _ in listed} == {
        path.name: (path.stat().st_size + 1023) // 1024 for path in files.values()
    }, out
    assert {(int(w), int(h)) for *_, w, h in listed} == {(640, 480)}, out


# -- --get-all-files -------------------------------------------------------------------------


def test_get_all_files_is_byte_identical(
    gphoto2: Gphoto2, camera: RunningCamera, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = next(iter(card_files(camera).values())).parent
    big = make_big_jpeg(folder / "IMG_0100.JPG", BIG_SIZE)
    files = card_files(camera)
    requests = record_requests(camera, monkeypatch)

    out = gphoto2("--get-all-files").stdout

    for path in files.values():
        assert f"Saving file as {path.name}" in lines(out), out
    downloaded = {p.name: p.read_bytes() for p in gphoto2.cwd.iterdir()}
    assert downloaded.keys() == {path.name for path in files.values()}
    for path in files.values():
        assert downloaded[path.name] == path.read_bytes(), path.name
    assert downloaded["IMG_0100.JPG"] == big

    # The big file came with GetPartialObject in 1 MiB pieces, the small ones with GetObject.
    partial = [p for code, p in requests if code == OperationCode.GET_PARTIAL_OBJECT]
    assert [(offset, size) for _, offset, size in partial] == [
        (0, PIECE),
        (PIECE, PIECE),
        (2 * PIECE, BIG_SIZE - 2 * PIECE),
    ]
    assert len({handle for handle, *_ in partial}) == 1
    whole = [p for code, p in requests if code == OperationCode.GET_OBJECT]
    assert len(whole) == len(files) - 1


# -- --capture-image-and-download ------------------------------------------------------------

NEW_FILE = re.compile(r"^New file is in location (\S+) on the camera$", re.MULTILINE)


def check_jpeg(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 480)
        image.load()


def test_capture_image_and_download_deletes(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    before = card_files(camera)
    out = gphoto2("--capture-image-and-download").stdout
    found = NEW_FILE.search(out)
    assert found, out
    on_camera = found[1]
    name = on_camera.rsplit("/", 1)[1]
    assert on_camera not in before
    assert f"Saving file as {name}" in lines(out), out
    assert f"Deleting file {on_camera} on the camera" in lines(out), out

    assert [p.name for p in gphoto2.cwd.iterdir()] == [name]
    check_jpeg(gphoto2.cwd / name)
    # gone from the card, and from what the camera lists
    assert card_files(camera) == before
    listing = gphoto2("--list-files").stdout
    assert name not in listing
    assert f"There are {len(before)} files in folder" in listing, listing


def test_capture_image_and_download_keep(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    before = card_files(camera)
    out = gphoto2("--capture-image-and-download", "--keep").stdout
    found = NEW_FILE.search(out)
    assert found, out
    on_camera = found[1]
    name = on_camera.rsplit("/", 1)[1]
    assert f"Keeping file {on_camera} on the camera" in lines(out), out

    after = card_files(camera)
    assert after.keys() == before.keys() | {on_camera}
    saved = gphoto2.cwd / name
    check_jpeg(saved)
    assert saved.read_bytes() == after[on_camera].read_bytes()
    listing = gphoto2("--list-files").stdout
    assert f"There are {len(after)} files in folder" in listing, listing
    assert name in listing


# -- configuration ---------------------------------------------------------------------------


def test_list_config(gphoto2: Gphoto2) -> None:
    got = lines(gphoto2("--list-config").stdout)
    for widget in (
        "/main/imgsettings/iso",
        "/main/imgsettings/whitebalance",
        "/main/status/batterylevel",
        "/main/other/500f",
    ):
        assert widget in got


def test_get_and_set_iso(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    current, choices = get_config(gphoto2, "iso")
    assert current == "100"
    assert choices == [str(v) for v in enum_values(camera, ISO)]

    gphoto2("--set-config", "iso=400")
    assert prop(camera, ISO) == 400
    assert get_config(gphoto2, "iso")[0] == "400"


def test_get_and_set_whitebalance(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    current, choices = get_config(gphoto2, "whitebalance")
    assert current == "Automatic"
    # ISO 15740 §13.3.5 names, in the camera's enumeration order (2, 4, 5, 6, 7, 1)
    assert choices == ["Automatic", "Daylight", "Fluorescent", "Tungsten", "Flash", "Manual"]

    gphoto2("--set-config", "whitebalance=Daylight")
    assert prop(camera, WHITE_BALANCE) == 4
    assert get_config(gphoto2, "whitebalance")[0] == "Daylight"


def test_read_only_property_is_refused(gphoto2: Gphoto2, camera: RunningCamera) -> None:
    result = gphoto2("--set-config", "batterylevel=50", check=False)
    assert result.returncode != 0
    assert prop(camera, DevicePropertyCode.BATTERY_LEVEL) == 80


# -- one camera, many gphoto2 runs -----------------------------------------------------------


def test_runs_in_sequence(
    gphoto2: Gphoto2, camera: RunningCamera, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = record_requests(camera, monkeypatch)
    commands = [
        ["--summary"],
        ["--list-files"],
        ["--get-config", "iso"],
        ["--set-config", "iso=200"],
        ["--get-config", "iso"],
        ["--capture-image-and-download"],
        ["--list-files"],
        ["--summary"],
    ]
    for args in commands:
        gphoto2(*args)
    opened = [p for code, p in requests if code == OperationCode.OPEN_SESSION]
    closed = [p for code, p in requests if code == OperationCode.CLOSE_SESSION]
    assert len(opened) == len(closed) == len(commands)
    assert prop(camera, ISO) == 200
    assert len(card_files(camera)) == 4
