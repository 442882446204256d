"""Downloads: targets, ``.part`` files, resume, skipping, hostile names and flat memory."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptpip.camera.generic import GenericCamera
from ptpip.camera.personality import Reply
from ptpip.camera.server import ServerSession, VirtualCamera
from ptpip.client.camera import Camera
from ptpip.client.download import part_path, safe_filename
from ptpip.errors import LocalProtocolError, ResponseError
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import OperationCode, ResponseCode
from ptpip.ptp.datasets import ObjectInfo
from tests.client.conftest import bounded, card_path, counting_transactions, generic

DATA_OPS = {OperationCode.GET_OBJECT, OperationCode.GET_PARTIAL_OBJECT}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


async def put_file(camera: Camera, vcam: VirtualCamera, relative: str, data: bytes) -> int:
    """Write ``data`` onto the card at ``relative`` and return its handle."""
    path = card_path(vcam, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    name = path.name
    for handle in await camera.object_handles():
        if (await camera.object_info(handle)).filename == name:
            return handle
    raise AssertionError(f"{relative} is not on the camera")


def no_part_files(folder: Path) -> bool:
    return not any(p.name.endswith(".part") for p in folder.iterdir())


# -- targets -------------------------------------------------------------------------------


async def test_download_to_a_folder(camera: Camera, vcam: VirtualCamera, out: Path) -> None:
    entry = await camera.find("DCIM/100PTPIP/IMG_0001.JPG")
    result = await camera.download(entry.handle, out)
    assert result == out / "IMG_0001.JPG"
    assert result.read_bytes() == card_path(vcam, "DCIM/100PTPIP/IMG_0001.JPG").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["IMG_0001.JPG"]


async def test_download_to_a_path(camera: Camera, vcam: VirtualCamera, out: Path) -> None:
    data = os.urandom(300_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/CLIP.MOV", data)
    target = out / "renamed.mov"
    assert await camera.download(handle, target) == target
    assert target.read_bytes() == data
    assert no_part_files(out)


async def test_download_to_an_open_file(camera: Camera, vcam: VirtualCamera, out: Path) -> None:
    data = os.urandom(2_500_000)  # several GetPartialObject pieces
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/BIG.RAW", data)
    buffer = io.BytesIO()
    assert await camera.download(handle, buffer) is None
    assert buffer.getvalue() == data
    with (out / "f.bin").open("wb") as fh:
        fh.write(b"header")
        await camera.download(handle, fh)
    assert (out / "f.bin").read_bytes() == b"header" + data


async def test_download_of_a_folder_is_refused(camera: Camera, out: Path) -> None:
    folder = await camera.find("DCIM")
    with pytest.raises(LocalProtocolError):
        await camera.download(folder.handle, out)


# -- .part, resume, skip ---------------------------------------------------------------------


async def test_data_goes_to_a_part_file_then_is_renamed(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    data = os.urandom(100_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/IMG_0100.JPG", data)
    final = out / "IMG_0100.JPG"
    seen: list[tuple[int, int | None, bool, bool]] = []

    def progress(done: int, total: int | None) -> None:
        seen.append((done, total, part_path(final).exists(), final.exists()))

    await camera.download(handle, out, progress=progress, chunk_size=30_000)
    assert [s[:2] for s in seen] == [(n, 100_000) for n in (30_000, 60_000, 90_000, 100_000)]
    assert all(part and not done for _, _, part, done in seen)
    assert final.read_bytes() == data
    assert not part_path(final).exists()


async def test_resume_fetches_only_the_rest(camera: Camera, vcam: VirtualCamera, out: Path) -> None:
    size, have = 3_000_000, 1_234_567
    data = os.urandom(size)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/LONG.MP4", data)
    part_path(out / "LONG.MP4").write_bytes(data[:have])
    assert camera.connection._cmd is not None
    before = camera.connection._cmd.bytes_in
    progress: list[int] = []
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out, progress=lambda done, _: progress.append(done))
    assert path is not None and path.read_bytes() == data
    fetched = [params for code, params in calls if code in DATA_OPS]
    # the part's last 4 KiB compared with the camera's, then from the first missing byte
    assert fetched[0] == (handle, have - 4096, 4096)
    assert fetched[1][1] == have
    assert sum(p[2] for p in fetched[1:]) == size - have
    received = camera.connection._cmd.bytes_in - before
    assert size - have <= received < size - have + 4096 + 20_000  # plus packet overhead
    assert progress[0] > have and progress[-1] == size
    assert no_part_files(out)


async def test_resume_disabled_or_impossible_starts_again(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    data = os.urandom(50_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/X.JPG", data)
    part = part_path(out / "X.JPG")
    for stale, resume in ((b"garbage", False), (os.urandom(60_000), True)):
        part.write_bytes(stale)  # not to be trusted / longer than the object
        with counting_transactions(camera) as calls:
            path = await camera.download(handle, out, resume=resume)
        assert path is not None and path.read_bytes() == data
        assert [p[1] for c, p in calls if c in DATA_OPS] == [0]
        path.unlink()


async def test_complete_file_is_skipped(camera: Camera, vcam: VirtualCamera, out: Path) -> None:
    entry = await camera.find("DCIM/100PTPIP/IMG_0002.JPG")
    first = await camera.download(entry.handle, out)
    assert first is not None
    stamp = first.stat().st_mtime_ns
    calls_progress: list[tuple[int, int | None]] = []
    with counting_transactions(camera) as calls:
        again = await camera.download(
            entry.handle, out, progress=lambda d, t: calls_progress.append((d, t))
        )
    assert again == first
    size = entry.info.compressed_size
    # only its last 4 KiB are read, to tell it from another camera's file of that name
    assert [p for c, p in calls if c in DATA_OPS] == [(entry.handle, size - 4096, 4096)]
    assert first.stat().st_mtime_ns == stamp
    assert calls_progress == [(size, size)]


async def test_unknown_size_streams_with_get_object(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    """ObjectInfo says 0xFFFFFFFF (4 GiB or more): GetObject until the camera stops."""
    data = os.urandom(200_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/HUGE.MOV", data)
    store = generic(vcam).store
    real = store.object_info

    def huge(handle: int) -> ObjectInfo:
        return dataclasses.replace(real(handle), compressed_size=0xFFFF_FFFF)

    store.object_info = huge  # type: ignore[method-assign]
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    assert [c for c, _ in calls if c in DATA_OPS] == [OperationCode.GET_OBJECT]


# -- hostile names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../evil.jpg", "_.._evil.jpg"),
        ("/etc/passwd", "_etc_passwd"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1.JPG", "_LPT1.JPG"),
        ("a\x00b", "a_b"),
        ("a\nb\x7f.jpg", "a_b_.jpg"),
        ("C:\\Windows\\x.dll", "C__Windows_x.dll"),
        ('a*b?c"d<e>f|g', "a_b_c_d_e_f_g"),
        ("..", "fallback"),
        (".", "fallback"),
        ("", "fallback"),
        ("  ", "fallback"),
        (" .hidden.", "hidden"),
        ("IMG_0001.JPG", "IMG_0001.JPG"),
        ("été.jpg", "été.jpg"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name, "fallback") == safe


def test_safe_filename_keeps_long_names_within_limits() -> None:
    long = "é" * 300 + ".JPG"
    safe = safe_filename(long, "x")
    assert len(safe.encode()) <= 240 and safe.endswith(".JPG")
    assert len(safe_filename("x" * 1000, "f").encode()) <= 240
    decomposed = "e\u0301.jpg"
    assert safe_filename(decomposed, "f") == "\u00e9.jpg"  # NFC


@pytest.mark.parametrize("name", ["..evil.JPG", "CON.JPG", "a\x01b.JPG", " .x. "])
async def test_hostile_names_on_the_card_land_in_the_folder(
    camera: Camera, vcam: VirtualCamera, out: Path, name: str
) -> None:
    data = os.urandom(1000)
    handle = await put_file(camera, vcam, f"DCIM/{name}", data)
    path = await camera.download(handle, out)
    assert path is not None
    assert path.parent == out
    assert path.name == safe_filename(name, "unused")
    assert path.read_bytes() == data
    entries = {e.handle: e for e in await camera.list_objects()}
    assert ".." not in entries[handle].path.parts


@pytest.mark.parametrize(
    "name", ["../../evil.jpg", "/etc/passwd", "CON", "..", "a\\b", "x/../../y"]
)
async def test_hostile_names_from_the_camera_are_sanitised(
    camera: Camera, vcam: VirtualCamera, tmp_path: Path, name: str
) -> None:
    """The camera lies in ObjectInfo.Filename: nothing may be written outside the folder."""
    out = tmp_path / "a" / "b"
    out.mkdir(parents=True)
    data = os.urandom(500)
    target = await put_file(camera, vcam, "DCIM/PLAIN.JPG", data)
    store = generic(vcam).store
    real = store.object_info

    def lying(handle: int) -> ObjectInfo:
        info = real(handle)
        return dataclasses.replace(info, filename=name) if handle == target else info

    store.object_info = lying  # type: ignore[method-assign]
    before = set(tmp_path.rglob("*"))
    path = await camera.download(target, out)
    assert path is not None
    assert path.parent == out
    assert path.read_bytes() == data
    assert set(tmp_path.rglob("*")) - before == {path}
    entry = next(e for e in await camera.list_objects() if e.handle == target)
    assert ".." not in entry.path.parts and not entry.path.is_absolute()


# -- big objects, flat memory ----------------------------------------------------------------


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert match is not None
    return int(match[1])


@contextlib.contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Measure how far memory use peaks above where it starts, in bytes (appended on exit).

    Linux: peak RSS (VmHWM, reset through clear_refs), so buffers of C code count too;
    elsewhere tracemalloc's peak of Python allocations.
    """
    result: list[int] = []
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        tracemalloc.start()
        try:
            yield result
            result.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        return
    before = _status_kib("VmRSS")
    yield result
    result.append((_status_kib("VmHWM") - before) * 1024)


@pytest.mark.parametrize("partial", [True, False], ids=["GetPartialObject", "GetObject"])
async def test_one_gib_download_with_flat_memory(
    camera: Camera,
    vcam: VirtualCamera,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    partial: bool,
) -> None:
    """1 GiB in 1024 GetPartialObject pieces, or in one GetObject data phase."""
    if not partial:
        monkeypatch.delitem(GenericCamera.operations, OperationCode.GET_PARTIAL_OBJECT)
        await camera.device_info(refresh=True)  # the camera changed under the session
    size = 1 << 30
    big = card_path(vcam, "DCIM/100PTPIP/HUGE.MOV")
    with big.open("wb") as fh:
        fh.truncate(size)  # sparse: no disk space on the card side
    handle = (await camera.find("DCIM/100PTPIP/HUGE.MOV")).handle
    assert await camera.supports(OperationCode.GET_PARTIAL_OBJECT) is partial
    vcam.data_chunk = 1 << 20  # fewer, larger Data packets: same code paths, faster
    try:
        with peak_growth() as growth, counting_transactions(camera) as calls:
            path = await bounded(camera.download(handle, out), 120)
        assert path is not None
        assert path.stat().st_size == size
        with path.open("rb") as fh:
            fh.seek(size - 4096)
            assert fh.read() == bytes(4096)
        assert growth[0] < 64 << 20, f"peak memory grew by {growth[0] >> 20} MiB"
        data_calls = [c for c, _ in calls if c in DATA_OPS]
        assert len(data_calls) == (1024 if partial else 1)
    finally:
        for leftover in out.iterdir():
            leftover.unlink()  # do not keep a GiB in pytest's tmp folders


# -- cameras with fewer features -------------------------------------------------------------


async def test_camera_capping_partial_reads(
    camera: Camera, vcam: VirtualCamera, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some cameras send less than asked for; the client asks again from where it got to."""
    real, data_out, needs_session = GenericCamera.operations[OperationCode.GET_PARTIAL_OBJECT]

    async def capped(
        self: GenericCamera, s: ServerSession, r: RequestReceived, d: bytes | None
    ) -> Reply:
        handle, offset, length = r.params
        smaller = dataclasses.replace(r, params=(handle, offset, min(length, 100_000)))
        return await real(self, s, smaller, d)

    monkeypatch.setitem(
        GenericCamera.operations,
        OperationCode.GET_PARTIAL_OBJECT,
        (capped, data_out, needs_session),
    )
    data = os.urandom(450_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/CAP.JPG", data)
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    offsets = [p[1] for c, p in calls if c == OperationCode.GET_PARTIAL_OBJECT]
    assert offsets == [0, 100_000, 200_000, 300_000, 400_000]


async def test_camera_without_partial_reads_uses_get_object(
    camera: Camera, vcam: VirtualCamera, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(GenericCamera.operations, OperationCode.GET_PARTIAL_OBJECT)
    await camera.device_info(refresh=True)  # the camera changed under the session
    assert not await camera.supports(OperationCode.GET_PARTIAL_OBJECT)
    data = os.urandom(200_000)
    handle = await put_file(camera, vcam, "DCIM/100PTPIP/NOPART.JPG", data)
    part_path(out / "NOPART.JPG").write_bytes(data[:50_000])  # cannot be resumed
    progress: list[int] = []
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out, progress=lambda d, _: progress.append(d))
    assert path is not None and path.read_bytes() == data
    assert [c for c, _ in calls if c in DATA_OPS] == [OperationCode.GET_OBJECT]
    assert progress[0] <= 100_000 and progress[-1] == len(data)
    with pytest.raises(ResponseError) as err:
        await camera.read_partial(handle, 0, 10)
    assert err.value.code == ResponseCode.OPERATION_NOT_SUPPORTED


async def test_empty_object(camera: Camera, vcam: VirtualCamera, out: Path) -> None:
    handle = await put_file(camera, vcam, "DCIM/EMPTY.TXT", b"")
    progress: list[tuple[int, int | None]] = []
    path = await camera.download(handle, out, progress=lambda d, t: progress.append((d, t)))
    assert path is not None and path.read_bytes() == b""
    assert progress == [(0, 0)]
    sink = io.BytesIO()
    await camera.download(handle, sink)
    assert sink.getvalue() == b""
    # GetObject of nothing: Start Data(0), an empty End Data, the response.
    result = await camera.transact(OperationCode.GET_OBJECT, (handle,))
    assert result.ok and result.data == b""


async def test_part_file_already_complete_is_just_renamed(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    data = os.urandom(70_000)
    handle = await put_file(camera, vcam, "DCIM/DONE.JPG", data)
    part_path(out / "DONE.JPG").write_bytes(data)
    with counting_transactions(camera) as calls:
        path = await camera.download(handle, out)
    assert path is not None and path.read_bytes() == data
    # only the last 4 KiB are read, to check that the part is this object's
    assert [p for c, p in calls if c in DATA_OPS] == [(handle, 70_000 - 4096, 4096)]
    assert no_part_files(out)


async def test_captured_object_names_are_sanitised(
    camera: Camera, vcam: VirtualCamera, out: Path
) -> None:
    store = generic(vcam).store
    real = store.object_info
    captured: set[int] = set()
    add = store.add_capture

    def adding(jpeg: bytes | None = None, *, folder: int | None = None) -> int:
        handle = add(jpeg, folder=folder)
        captured.add(handle)
        return handle

    def lying(handle: int) -> ObjectInfo:
        info = real(handle)
        return dataclasses.replace(info, filename="../../x.jpg") if handle in captured else info

    store.add_capture = adding  # type: ignore[method-assign]
    store.object_info = lying  # type: ignore[method-assign]
    (entry,) = await camera.capture(timeout=5)
    assert entry.path.parts == ("_.._x.jpg",)
    assert entry.handle is not None
    path = await camera.download(entry.handle, out, info=entry.info)
    assert path == out / "_.._x.jpg"
