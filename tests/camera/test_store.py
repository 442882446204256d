"""The virtual camera's object store: sample card, handles, ObjectInfo, capture, delete, safety."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image

from ptpip.camera.store import (
    ALL,
    ObjectStore,
    StoreError,
    generate_jpeg,
    generate_sample_images,
    jpeg_dimensions,
)
from ptpip.ptp.codes import ObjectFormatCode, ResponseCode
from ptpip.ptp.datasets import ObjectInfo, StorageInfo

SID = 0x0001_0001
FOLDER = Path("DCIM/100PTPIP")
FIXED = datetime(2024, 1, 1, 12, 0, 0)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "card", model="TestCam 1", clock=lambda: FIXED)


def names(store: ObjectStore, handles: tuple[int, ...]) -> list[str]:
    return [store.object_info(h).filename for h in handles]


def error_code(exc: pytest.ExceptionInfo[StoreError]) -> int:
    return exc.value.code


# -- the sample card -----------------------------------------------------------------------


def test_empty_root_gets_a_dcf_card(store: ObjectStore) -> None:
    files = sorted(p.name for p in (store.root / FOLDER).iterdir())
    assert files == ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG", "IMG_0004.JPG"]
    assert names(store, store.handles()) == ["DCIM", "100PTPIP", *files]


def test_samples_are_real_baseline_exif_jpegs(store: ObjectStore) -> None:
    contents = set()
    for handle in store.handles(object_format=ObjectFormatCode.EXIF_JPEG):
        data = store.path(handle).read_bytes()
        contents.add(data)
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG"
            assert not img.info.get("progressive")
            img.load()
            exif = img.getexif()
            sub = exif.get_ifd(ExifTags.IFD.Exif)
        assert exif[ExifTags.Base.Make] == "ptpip"
        assert exif[ExifTags.Base.Model] == "TestCam 1"
        assert exif[ExifTags.Base.Orientation] == 1
        assert sub[ExifTags.Base.DateTimeOriginal].startswith("2024:01:01 1")
        info = store.object_info(handle)
        assert (info.image_width, info.image_height) == img.size == (640, 480)
        assert info.image_bit_depth == 24
        assert info.compressed_size == len(data) == store.size(handle)
    assert len(contents) == 4  # every sample differs


def test_sample_dates_match_their_mtime(store: ObjectStore) -> None:
    infos = [store.object_info(h) for h in store.handles(object_format=0x3801)]
    assert [i.capture_date for i in infos] == [
        datetime(2024, 1, 1, 11, 57),
        datetime(2024, 1, 1, 11, 58),
        datetime(2024, 1, 1, 11, 59),
        datetime(2024, 1, 1, 12, 0),
    ]
    assert all(i.modification_date == i.capture_date for i in infos)


def test_a_non_empty_root_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    store = ObjectStore(tmp_path)
    assert names(store, store.handles()) == ["notes.txt"]
    assert store.object_info(store.lookup("notes.txt")).object_format == ObjectFormatCode.TEXT


def test_generate_sample_images_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "IMG_0001.JPG").write_bytes(b"mine")
    written = generate_sample_images(tmp_path, count=2, model="M")
    assert [p.name for p in written] == ["IMG_0002.JPG", "IMG_0003.JPG"]
    assert (tmp_path / "IMG_0001.JPG").read_bytes() == b"mine"


# -- storages and handles ------------------------------------------------------------------


def test_storage_info(store: ObjectStore) -> None:
    assert store.storage_ids() == (SID,)
    info = store.storage_info(SID)
    assert StorageInfo.decode(info.encode()) == info
    assert (info.storage_type, info.filesystem_type, info.access_capability) == (4, 3, 0)
    assert (info.storage_description, info.volume_label) == ("SD", "PTPIP")
    assert 0 < info.free_space_bytes <= info.max_capacity
    with pytest.raises(StoreError) as exc:
        store.storage_info(0x0002_0001)
    assert error_code(exc) == ResponseCode.INVALID_STORAGE_ID


def test_storage_info_with_a_max_capacity(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path, max_capacity=10_000_000)
    used = sum(store.size(h) for h in store.handles())
    info = store.storage_info(SID)
    assert info.max_capacity == 10_000_000
    assert info.free_space_bytes == 10_000_000 - used
    assert info.free_space_images == 1  # one full-size JPEG of 8 MiB


def test_handles_follow_iso_semantics(store: ObjectStore) -> None:
    dcim, folder = store.lookup("DCIM"), store.lookup(FOLDER)
    assert len(store.handles()) == 6
    assert store.handles(SID, 0, ALL) == (dcim,)
    assert store.handles(SID, 0, dcim) == (folder,)
    assert names(store, store.handles(SID, 0, folder))[0] == "IMG_0001.JPG"
    assert len(store.handles(ALL, ObjectFormatCode.EXIF_JPEG, 0)) == 4
    assert store.handles(ALL, ObjectFormatCode.ASSOCIATION, 0) == (dcim, folder)
    assert store.handles(ALL, ObjectFormatCode.PNG, 0) == ()
    assert store.handles(SID, ObjectFormatCode.EXIF_JPEG, ALL) == ()


@pytest.mark.parametrize(
    ("storage", "parent", "code"),
    [
        (0x0002_0001, 0, ResponseCode.INVALID_STORAGE_ID),
        (SID, 0x1234, ResponseCode.INVALID_PARENT_OBJECT),
        (SID, 3, ResponseCode.INVALID_PARENT_OBJECT),  # a file is not a parent
    ],
)
def test_handles_errors(store: ObjectStore, storage: int, parent: int, code: int) -> None:
    with pytest.raises(StoreError) as exc:
        store.handles(storage, 0, parent)
    assert error_code(exc) == code


def test_handles_avoid_the_storage_id_zero_and_all(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path, storage_id=0x0000_0002)
    handles = store.handles()
    assert handles == (1, 3, 4, 5, 6, 7)
    assert store.object_info(4).parent == 3


def test_object_info_of_folders_and_files(store: ObjectStore) -> None:
    dcim, folder = store.lookup("DCIM"), store.lookup(FOLDER)
    info = store.object_info(folder)
    assert (info.object_format, info.association_type, info.parent) == (0x3001, 1, dcim)
    assert (info.compressed_size, info.thumb_format, info.image_width) == (0, 0, 0)
    assert store.object_info(dcim).parent == 0
    file = store.object_info(store.lookup(FOLDER / "IMG_0001.JPG"))
    assert (file.storage_id, file.parent, file.filename) == (SID, folder, "IMG_0001.JPG")
    assert file.thumb_format == ObjectFormatCode.JFIF
    assert (file.thumb_width, file.thumb_height) == (160, 120)
    for handle in store.handles():
        info = store.object_info(handle)
        data = info.encode()
        assert len(data) >= 57  # libgphoto2 ignores a shorter ObjectInfo
        assert ObjectInfo.decode(data) == info
    with pytest.raises(StoreError) as exc:
        store.object_info(0x9999)
    assert error_code(exc) == ResponseCode.INVALID_OBJECT_HANDLE


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jpeg", 0x3801),
        ("B.DNG", 0x3811),
        ("c.tif", 0x380D),
        ("d.png", 0x380B),
        ("e.MOV", 0x300D),
        ("f.avi", 0x300A),
        ("g.mp3", 0x3009),
        ("h.wav", 0x3008),
        ("i.txt", 0x3004),
        ("j.html", 0x3005),
        ("k.raf", 0x3000),
        ("noext", 0x3000),
    ],
)
def test_format_from_extension(tmp_path: Path, name: str, fmt: int) -> None:
    (tmp_path / name).write_bytes(b"x")
    store = ObjectStore(tmp_path)
    assert store.object_info(store.lookup(name)).object_format == fmt


def test_png_dimensions(tmp_path: Path) -> None:
    Image.new("RGBA", (33, 17)).save(tmp_path / "p.png")
    store = ObjectStore(tmp_path)
    info = store.object_info(store.lookup("p.png"))
    assert (info.image_width, info.image_height, info.image_bit_depth) == (33, 17, 32)
    assert (info.thumb_width, info.thumb_height) == (33, 17)  # never enlarged


def test_a_broken_jpeg_has_no_dimensions(tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00")
    store = ObjectStore(tmp_path)
    handle = store.lookup("bad.jpg")
    info = store.object_info(handle)
    assert (info.image_width, info.thumb_format, info.thumb_compressed_size) == (0, 0, 0)
    with pytest.raises(StoreError) as exc:
        store.thumbnail(handle)
    assert error_code(exc) == ResponseCode.NO_THUMBNAIL_PRESENT


def test_rescan_keeps_handles(store: ObjectStore) -> None:
    before = {h: store.object_info(h).filename for h in store.handles()}
    folder = store.root / FOLDER
    (folder / "IMG_0002.JPG").unlink()
    (folder / "IMG_0100.JPG").write_bytes(generate_jpeg(100))
    (store.root / "MISC").mkdir()
    added, removed = store.rescan()
    assert removed == (store_handle(before, "IMG_0002.JPG"),)
    assert names(store, added) == ["IMG_0100.JPG", "MISC"]
    assert min(added) > max(before)
    for handle, name in before.items():
        if name != "IMG_0002.JPG":
            assert store.object_info(handle).filename == name
    assert store.rescan() == ((), ())


def store_handle(table: dict[int, str], name: str) -> int:
    return next(h for h, n in table.items() if n == name)


def test_a_file_that_vanished_is_an_invalid_handle(store: ObjectStore) -> None:
    handle = store.lookup(FOLDER / "IMG_0003.JPG")
    store.path(handle).unlink()
    for call in (store.object_info, store.size, store.open):
        with pytest.raises(StoreError) as exc:
            call(handle)
        assert error_code(exc) == ResponseCode.INVALID_OBJECT_HANDLE


# -- data, thumbnails ----------------------------------------------------------------------


def test_open_streams_from_an_offset(store: ObjectStore) -> None:
    handle = store.lookup(FOLDER / "IMG_0001.JPG")
    data = store.path(handle).read_bytes()
    with store.open(handle) as fp:
        fp.seek(100)
        assert fp.read(50) == data[100:150]
    with pytest.raises(StoreError) as exc:
        store.open(store.lookup("DCIM"))
    assert error_code(exc) == ResponseCode.ACCESS_DENIED


def test_thumbnails(store: ObjectStore) -> None:
    handle = store.lookup(FOLDER / "IMG_0002.JPG")
    thumb = store.thumbnail(handle)
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == "JPEG"
        assert img.size == (160, 120)
    info = store.object_info(handle)
    assert info.thumb_compressed_size == len(thumb)
    assert store.thumbnail(handle) is thumb  # cached
    for folder_or_text in (store.lookup("DCIM"),):
        with pytest.raises(StoreError) as exc:
            store.thumbnail(folder_or_text)
        assert error_code(exc) == ResponseCode.NO_THUMBNAIL_PRESENT


def test_thumbnail_of_a_big_jpeg_and_of_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(generate_jpeg(1, size=(4000, 3000)))
    (tmp_path / "a.txt").write_text("text")
    store = ObjectStore(tmp_path)
    handle = store.lookup("big.jpg")
    info = store.object_info(handle)
    assert (info.image_width, info.image_height) == (4000, 3000)
    assert info.thumb_compressed_size > 0  # an estimate until made; 0 would mean "none"
    first = store.thumbnail(handle)
    with Image.open(io.BytesIO(first)) as img:
        assert max(img.size) <= 160
        assert img.size == (info.thumb_width, info.thumb_height)
    (tmp_path / "big.jpg").write_bytes(generate_jpeg(2, size=(300, 100)))
    os.utime(tmp_path / "big.jpg", (1, 1))
    with Image.open(io.BytesIO(store.thumbnail(handle))) as img:
        assert img.size == (160, 53)
    with pytest.raises(StoreError) as exc:
        store.thumbnail(store.lookup("a.txt"))
    assert error_code(exc) == ResponseCode.NO_THUMBNAIL_PRESENT


def test_a_file_over_4_gib(tmp_path: Path) -> None:
    size = 5 << 30
    with open(tmp_path / "huge.mov", "wb") as f:
        f.truncate(size)
    store = ObjectStore(tmp_path)
    handle = store.lookup("huge.mov")
    assert store.object_info(handle).compressed_size == 0xFFFF_FFFF
    assert store.size(handle) == size
    with store.open(handle) as fp:
        fp.seek(size - 4)
        assert fp.read() == b"\0" * 4


# -- capture and delete --------------------------------------------------------------------


def test_capture_adds_numbered_files(store: ObjectStore) -> None:
    before = set(store.handles())
    first = store.add_capture()
    second = store.add_capture()
    assert first not in before
    assert second > first
    assert names(store, (first, second)) == ["IMG_0005.JPG", "IMG_0006.JPG"]
    folder = store.lookup(FOLDER)
    assert store.handles(SID, 0, folder)[-2:] == (first, second)
    assert store.object_info(first).parent == folder
    a, b = store.path(first).read_bytes(), store.path(second).read_bytes()
    assert a != b
    with Image.open(store.path(first)) as img:
        assert img.getexif()[ExifTags.Base.Model] == "TestCam 1"
    assert store.object_info(first).thumb_compressed_size == len(store.thumbnail(first))


def test_capture_stores_given_bytes_and_never_overwrites(store: ObjectStore) -> None:
    squatter = store.root / FOLDER / "IMG_0005.JPG"
    squatter.write_bytes(b"not scanned yet")
    jpeg = generate_jpeg(42, size=(64, 48))
    handle = store.add_capture(jpeg)
    assert store.object_info(handle).filename == "IMG_0006.JPG"
    assert store.path(handle).read_bytes() == jpeg
    assert squatter.read_bytes() == b"not scanned yet"


def test_capture_numbers_keep_rising_after_a_delete(store: ObjectStore) -> None:
    handle = store.add_capture()
    store.delete(handle)
    assert store.object_info(store.add_capture()).filename == "IMG_0006.JPG"


def test_capture_into_an_emptied_card_recreates_dcim(store: ObjectStore) -> None:
    deleted = store.delete(ALL)
    assert len(deleted) == 6
    assert store.handles() == ()
    assert list(store.root.iterdir()) == []
    handle = store.add_capture()
    assert store.path(handle) == store.root / FOLDER / "IMG_0005.JPG"
    assert names(store, store.handles()) == ["DCIM", "100PTPIP", "IMG_0005.JPG"]


def test_capture_into_a_given_folder(store: ObjectStore) -> None:
    (store.root / "DCIM" / "101OTHER").mkdir()
    store.rescan()
    other = store.lookup("DCIM/101OTHER")
    handle = store.add_capture(folder=other)
    assert store.object_info(handle).parent == other
    with pytest.raises(StoreError) as exc:
        store.add_capture(folder=handle)
    assert error_code(exc) == ResponseCode.INVALID_PARENT_OBJECT
    # the newest DCF folder is the default target
    assert store.object_info(store.add_capture()).parent == other


def test_capture_when_the_card_is_full(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path, max_capacity=200_000)
    with pytest.raises(StoreError) as exc:
        store.add_capture(b"\xff\xd8" + bytes(200_000))
    assert error_code(exc) == ResponseCode.STORE_FULL


def test_delete_a_file_and_a_folder(store: ObjectStore) -> None:
    file = store.lookup(FOLDER / "IMG_0001.JPG")
    path = store.path(file)
    assert store.delete(file) == (file,)
    assert not path.exists()
    assert file not in store
    dcim, folder = store.lookup("DCIM"), store.lookup(FOLDER)
    children = store.handles(SID, 0, folder)
    deleted = store.delete(dcim)
    assert deleted == (dcim, folder, *children)  # a folder before its contents
    assert store.handles() == ()
    assert not (store.root / "DCIM").exists()
    with pytest.raises(StoreError) as exc:
        store.delete(file)
    assert error_code(exc) == ResponseCode.INVALID_OBJECT_HANDLE


def test_delete_all_of_one_format(store: ObjectStore) -> None:
    (store.root / FOLDER / "clip.mov").write_bytes(b"mov")
    store.rescan()
    deleted = store.delete(ALL, ObjectFormatCode.EXIF_JPEG)
    assert len(deleted) == 4
    assert names(store, store.handles()) == ["DCIM", "100PTPIP", "clip.mov"]


def test_protected_objects_survive(store: ObjectStore) -> None:
    keep = store.lookup(FOLDER / "IMG_0002.JPG")
    store.path(keep).chmod(0o444)
    assert store.object_info(keep).protection_status == 1
    with pytest.raises(StoreError) as exc:
        store.delete(keep)
    assert error_code(exc) == ResponseCode.OBJECT_WRITE_PROTECTED
    with pytest.raises(StoreError) as exc:
        store.delete(store.lookup("DCIM"))
    assert error_code(exc) == ResponseCode.PARTIAL_DELETION
    assert len(exc.value.deleted) == 3
    assert names(store, store.handles()) == ["DCIM", "100PTPIP", "IMG_0002.JPG"]
    assert store.path(keep).exists()


def test_a_read_only_store_refuses_changes(tmp_path: Path) -> None:
    generate_sample_images(tmp_path / FOLDER)
    before = snapshot(tmp_path)
    store = ObjectStore(tmp_path, read_only=True)
    assert store.storage_info(SID).access_capability == 1
    for change in (lambda: store.delete(ALL), store.add_capture):
        with pytest.raises(StoreError) as exc:
            change()
        assert error_code(exc) == ResponseCode.STORE_READ_ONLY
    assert len(store.handles()) == 6
    assert snapshot(tmp_path) == before


def test_a_read_only_store_never_writes_not_even_samples(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path, read_only=True)
    assert store.handles() == ()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError):
        ObjectStore(tmp_path / "missing", read_only=True)
    assert not (tmp_path / "missing").exists()


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path below ``root`` with its bytes (None: a folder)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


# -- safety --------------------------------------------------------------------------------


def test_symlinks_are_not_served(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"secret")
    card = tmp_path / "card"
    store = ObjectStore(card)
    (card / FOLDER / "link.JPG").symlink_to(outside / "secret.jpg")
    (card / "linkdir").symlink_to(outside, target_is_directory=True)
    added, _ = store.rescan()
    assert added == ()
    assert "link.JPG" not in names(store, store.handles())


def test_a_file_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    store = ObjectStore(tmp_path / "card")
    handle = store.lookup(FOLDER / "IMG_0001.JPG")
    path = store.path(handle)
    path.unlink()
    path.symlink_to(secret)
    for call in (store.open, store.object_info, store.thumbnail, store.path):
        with pytest.raises(StoreError) as exc:
            call(handle)
        assert error_code(exc) == ResponseCode.ACCESS_DENIED


def test_a_folder_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    generate_sample_images(outside, count=1)
    store = ObjectStore(tmp_path / "card")
    handle = store.lookup(FOLDER / "IMG_0001.JPG")
    folder = store.root / FOLDER
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError) as exc:
        store.open(handle)
    assert error_code(exc) == ResponseCode.ACCESS_DENIED


@pytest.fixture
def swap_setup(tmp_path: Path) -> tuple[ObjectStore, int, Path]:
    """A card, its IMG_0001.JPG's handle, and a folder outside it holding a secret file of
    the same name."""
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (64, 48), "red").save(outside / "IMG_0001.JPG", "JPEG")
    store = ObjectStore(tmp_path / "card")
    return store, store.lookup(FOLDER / "IMG_0001.JPG"), outside


def swap_folder_for_symlink(store: ObjectStore, outside: Path) -> None:
    """What an attacker with write access to the card does: the file's folder moves
    aside and a symlink to a folder outside takes its place."""
    folder = store.root / FOLDER
    folder.rename(folder.with_name("moved-away"))
    folder.symlink_to(outside, target_is_directory=True)


def swap_right_before(
    monkeypatch: pytest.MonkeyPatch, name: str, swap: Callable[[], None], *calls: str
) -> list[str]:
    """Patch the ``os`` functions ``calls`` to run ``swap`` right before the first one that
    names the file ``name``: after every check the store made, before it touches the file."""
    done: list[str] = []
    for call in calls:
        real = getattr(os, call)

        def patched(
            path: object, *args: Any, _real: Any = real, _call: str = call, **kw: Any
        ) -> Any:
            if not done and os.fspath(path).endswith(name):  # type: ignore[call-overload]
                done.append(_call)
                swap()
            return _real(path, *args, **kw)

        monkeypatch.setattr(os, call, patched)
    return done


def test_a_folder_swapped_between_check_and_open_never_leads_outside(
    swap_setup: tuple[ObjectStore, int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, handle, outside = swap_setup
    secret = (outside / "IMG_0001.JPG").read_bytes()
    with store.open(handle) as fp:
        inside = fp.read()
    store._thumbs.clear()  # the thumbnail must be made from the file now
    done = swap_right_before(
        monkeypatch, "IMG_0001.JPG", lambda: swap_folder_for_symlink(store, outside), "open"
    )
    try:
        thumb = store.thumbnail(handle)
    except StoreError as exc:
        assert exc.code == ResponseCode.ACCESS_DENIED
    else:
        with Image.open(io.BytesIO(thumb)) as img:
            assert img.convert("RGB").getpixel((5, 5)) != (254, 0, 0)  # not the red secret
            assert img.size != (64, 48)
    assert done == ["open"]
    monkeypatch.undo()
    # the folder is a symlink now: refused, never followed
    for call in (store.open, store.object_info, store.thumbnail, store.size):
        with pytest.raises(StoreError):
            call(handle)
    assert secret != inside


def test_a_source_made_before_a_swap_never_sends_the_outside_file(
    swap_setup: tuple[ObjectStore, int, Path],
) -> None:
    store, handle, outside = swap_setup
    source = store.source(handle)
    swap_folder_for_symlink(store, outside)
    with pytest.raises(StoreError) as exc:
        b"".join(source.chunks(4096))
    assert error_code(exc) == ResponseCode.ACCESS_DENIED


def test_a_folder_swapped_before_the_unlink_never_deletes_outside(
    swap_setup: tuple[ObjectStore, int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, handle, outside = swap_setup
    done = swap_right_before(
        monkeypatch,
        "IMG_0001.JPG",
        lambda: swap_folder_for_symlink(store, outside),
        "unlink",
        "remove",
    )
    with contextlib.suppress(StoreError):
        store.delete(handle)
    assert done
    assert (outside / "IMG_0001.JPG").exists()


def test_a_capture_into_a_swapped_folder_stays_inside(
    swap_setup: tuple[ObjectStore, int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _, outside = swap_setup
    before = sorted(p.name for p in outside.iterdir())
    swap_folder_for_symlink(store, outside)
    with contextlib.suppress(StoreError):
        store.add_capture()
    assert sorted(p.name for p in outside.iterdir()) == before


def test_samples_never_follow_a_dcim_symlink_planted_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    card = tmp_path / "card"
    card.mkdir()
    real_mkdir = os.mkdir

    def planting(path: Any, *args: Any, **kw: Any) -> None:
        if os.fspath(path).endswith("DCIM") and not (card / "DCIM").is_symlink():
            (card / "DCIM").symlink_to(outside, target_is_directory=True)
        real_mkdir(path, *args, **kw)

    monkeypatch.setattr(os, "mkdir", planting)
    store = ObjectStore(card)
    assert list(outside.iterdir()) == []
    assert store.handles() == ()


def test_a_fifo_swapped_in_is_refused_without_blocking(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "card")
    handle = store.lookup(FOLDER / "IMG_0002.JPG")
    path = store.root / FOLDER / "IMG_0002.JPG"
    path.unlink()
    os.mkfifo(path)
    for call in (store.open, store.read_bytes, store.source):
        with pytest.raises(StoreError) as exc:
            call(handle)
        assert error_code(exc) == ResponseCode.ACCESS_DENIED


def test_a_folder_has_no_data(store: ObjectStore) -> None:
    folder = store.lookup(FOLDER)
    for call in (store.open, store.read_bytes, store.source):
        with pytest.raises(StoreError) as exc:
            call(folder)
        assert error_code(exc) == ResponseCode.ACCESS_DENIED


def test_unservable_names_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "back\\slash.jpg").write_bytes(b"x")
    (tmp_path / ("x" * 200 + ".txt")).write_bytes(b"x")  # 204 units: fits a PTP string
    os.mkfifo(tmp_path / "fifo")
    store = ObjectStore(tmp_path)
    assert names(store, store.handles()) == ["x" * 200 + ".txt"]


def test_scanning_ten_thousand_files_is_fast(tmp_path: Path) -> None:
    folder = tmp_path / "DCIM" / "100BULK"
    folder.mkdir(parents=True)
    for i in range(10_000):
        (folder / f"IMG_{i:04d}.JPG").touch()
    start = time.perf_counter()
    store = ObjectStore(tmp_path)
    assert len(store.handles()) == 10_002
    assert store.rescan() == ((), ())
    assert time.perf_counter() - start < 1.0


# -- JPEG header parsing -------------------------------------------------------------------


def test_jpeg_dimensions_cases() -> None:
    img = Image.new("L", (123, 45))
    progressive = io.BytesIO()
    img.save(progressive, "JPEG", progressive=True)
    assert jpeg_dimensions(io.BytesIO(progressive.getvalue())) == (123, 45, 8)
    baseline = generate_jpeg(1, size=(320, 200))
    assert jpeg_dimensions(io.BytesIO(baseline)) == (320, 200, 24)
    # fill bytes before a marker are legal (ITU T.81 §B.1.1.2)
    padded = baseline[:2] + b"\xff\xff" + baseline[2:]
    assert jpeg_dimensions(io.BytesIO(padded)) == (320, 200, 24)
    assert jpeg_dimensions(io.BytesIO(b"\x89PNG\r\n")) is None
    assert jpeg_dimensions(io.BytesIO(baseline[:30])) is None
    assert jpeg_dimensions(io.BytesIO(b"\xff\xd8\xff\xda\x00\x02")) is None
