"""Downloads into a folder someone else can write to: links, foreign parts, two writers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ptpip.camera.server import VirtualCamera
from ptpip.client.camera import Camera
from ptpip.client.download import Destination, PartFile, open_folder, part_path
from ptpip.errors import StorageError
from ptpip.ptp.codes import OperationCode
from tests.client.conftest import card_path, counting_transactions
from tests.client.test_downloads import DATA_OPS, put_file


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the download folder that a planted link points at."""
    path = tmp_path / "dotfile"
    path.write_bytes(b"precious")
    return path


async def test_a_planted_part_link_is_not_written_through(
    camera: Camera, vcam: VirtualCamera, out: Path, secret: Path
) -> None:
    data = os.urandom(20_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0100.JPG", data)
    part_path(out / "IMG_0100.JPG").symlink_to(secret)
    path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    assert secret.read_bytes() == b"precious"
    assert not part_path(out / "IMG_0100.JPG").exists()


async def test_a_planted_final_link_is_neither_followed_nor_taken_as_the_file(
    camera: Camera, vcam: VirtualCamera, out: Path, secret: Path
) -> None:
    data = os.urandom(len(b"precious"))  # the same size: must not count as "complete"
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0101.JPG", data)
    (out / "IMG_0101.JPG").symlink_to(secret)
    done = await camera.fetch(handle, out)
    assert done.path == out / "IMG_0101-2.JPG" and not done.skipped
    assert not done.path.is_symlink() and done.path.read_bytes() == data
    assert secret.read_bytes() == b"precious"


async def test_another_file_under_the_name_is_never_overwritten(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    """Same name, same size, other bytes (another camera's IMG_0001.JPG): both are kept."""
    data = os.urandom(50_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0106.JPG", data)
    theirs = os.urandom(50_000)
    (out / "IMG_0106.JPG").write_bytes(theirs)
    first = await camera.fetch(handle, out)
    assert first.path == out / "IMG_0106-2.JPG" and first.path.read_bytes() == data
    assert (out / "IMG_0106.JPG").read_bytes() == theirs
    again = await camera.fetch(handle, out)  # recognised as this object: skipped
    assert again.path == first.path and again.skipped


def test_a_planted_folder_link_is_refused(tmp_path: Path, out: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "DCIM").symlink_to(elsewhere)
    with pytest.raises(StorageError, match="symbolic link"):
        open_folder(out, ["DCIM", "100PTPIP"])
    assert list(elsewhere.iterdir()) == []
    (out / "FILE").write_bytes(b"x")
    with pytest.raises(StorageError, match="not a folder"):
        open_folder(out, ["FILE", "100PTPIP"])
    with pytest.raises(StorageError):
        open_folder(out, [".."])


async def test_a_part_of_another_object_is_not_resumed(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    """Its sidecar names another camera: start over, never splice two files."""
    data = os.urandom(300_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0102.JPG", data)
    part = part_path(out / "IMG_0102.JPG")
    part.write_bytes(data[:100_000])  # even with the right bytes
    sidecar = out / "IMG_0102.JPG.part.json"
    sidecar.write_text(json.dumps({"camera": "SOMEONE ELSE", "handle": handle}))
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    assert next(p[1] for c, p in calls if c in DATA_OPS) == 0
    assert not sidecar.exists()


async def test_a_part_whose_bytes_differ_from_the_camera_is_not_resumed(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    data = os.urandom(300_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0103.JPG", data)
    part_path(out / "IMG_0103.JPG").write_bytes(os.urandom(100_000))  # no sidecar, wrong bytes
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    offsets = [p[1] for c, p in calls if c in DATA_OPS]
    assert offsets[0] == 100_000 - 4096  # the comparison
    assert offsets[1] == 0  # then from the start


async def test_an_interrupted_download_leaves_a_sidecar_and_resumes(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    data = os.urandom(3_000_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/LONG.MP4", data)

    class Stop(Exception):
        pass

    def progress(done: int, total: int | None) -> None:
        if done >= 1_000_000:
            raise Stop

    with pytest.raises(Stop):
        await camera.download(handle, out, progress=progress)
    stamp = json.loads((out / "LONG.MP4.part.json").read_text())
    assert stamp["handle"] == handle and stamp["size"] == 3_000_000
    assert stamp["camera"] == (await camera.device_info()).serial_number
    have = part_path(out / "LONG.MP4").stat().st_size
    assert 0 < have < len(data)
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    assert [p[1] for c, p in calls if c in DATA_OPS][1] == have
    assert not (out / "LONG.MP4.part.json").exists()


async def test_two_downloads_of_one_file_never_share_the_part(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    data = os.urandom(10_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0104.JPG", data)
    with open_folder(out) as folder:
        held = PartFile(Destination(folder, "IMG_0104.JPG"), {"x": 1})  # another process
        try:
            with pytest.raises(StorageError, match="another download"):
                await camera.download(handle, out)
        finally:
            held.close()
    assert not (out / "IMG_0104.JPG").exists()
    path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data


async def test_a_full_disk_is_a_storage_error_and_keeps_no_final_file(
    camera: Camera, vcam: VirtualCamera, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(200_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0105.JPG", data)
    from ptpip.client import download

    real = download.FileSink.write

    def full(self: download.FileSink, chunk: bytes) -> None:
        if self.start_offset + self.written > 50_000:
            raise OSError(28, "No space left on device")
        real(self, chunk)

    monkeypatch.setattr(download.FileSink, "write", full)
    with pytest.raises(StorageError, match="No space left"):
        await camera.download(handle, out, chunk_size=30_000)
    assert not (out / "IMG_0105.JPG").exists()
    monkeypatch.undo()
    # The connection still works, and the part resumes.
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out, chunk_size=30_000)
    assert path is not None and path.read_bytes() == data
    assert [p[1] for c, p in calls if c == OperationCode.GET_PARTIAL_OBJECT][1] > 0
    assert card_path(vcam, "DCIM/100PTPIP/IMG_0105.JPG").read_bytes() == data
