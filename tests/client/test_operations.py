"""Standard operations, end to end: the asyncio client against the generic virtual camera."""

from __future__ import annotations

import io
import os
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image

from ptpip.camera.generic import GenericCamera
from ptpip.camera.personality import Reply
from ptpip.camera.server import ServerSession, VirtualCamera
from ptpip.client.camera import Camera, connect
from ptpip.client.identity import IdentityStore
from ptpip.client.session import BytesSink
from ptpip.errors import AccessDenied, InvalidObjectHandle, ResponseError
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import (
    ROOT_PARENT,
    AccessCapability,
    DataType,
    EventCode,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
)
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.datasets import PropEnum, PropRange
from ptpip.ptp.values import Writer
from tests.client.conftest import card_path, generic, tap

STORAGE = 0x0001_0001


def disk_paths(root: Path) -> set[str]:
    """Every file and folder under ``root`` as a POSIX path relative to it."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        found.update((rel / name).as_posix() for name in dirs + files)
    return found


async def handle_of(camera: Camera, path: str) -> int:
    return (await camera.find(path)).handle


# -- device and storage --------------------------------------------------------------------


async def test_device_info_lists_exactly_the_implemented_operations(
    camera: Camera, vcam: VirtualCamera
) -> None:
    info = await camera.device_info()
    personality = generic(vcam)
    assert set(info.operations_supported) == set(GenericCamera.operations)
    assert len(info.operations_supported) == len(set(info.operations_supported))
    assert info.model == personality.model
    assert info.manufacturer == "ptpip"
    assert info.serial_number == "PTPIP0000001"
    assert set(info.device_properties_supported) == set(personality.props.codes())
    assert EventCode.OBJECT_ADDED in info.events_supported
    # What is not listed is not supported: the camera answers 0x2005.
    for code in (OperationCode.SEND_OBJECT, OperationCode.FORMAT_STORE, 0x9001):
        assert code not in info.operations_supported
        assert (await camera.opreq(code)).code == ResponseCode.OPERATION_NOT_SUPPORTED
    assert await camera.supports(OperationCode.GET_PARTIAL_OBJECT)
    assert not await camera.supports(OperationCode.SEND_OBJECT)


async def test_storage_ids_and_info(camera: Camera, card: Path) -> None:
    assert await camera.storage_ids() == (STORAGE,)
    info = await camera.storage_info(STORAGE)
    assert info.storage_description == "SD"
    assert info.volume_label == "PTPIP"
    assert info.access_capability == AccessCapability.READ_WRITE
    assert 0 < info.free_space_bytes <= info.max_capacity
    assert info.max_capacity == os.statvfs(card).f_blocks * os.statvfs(card).f_frsize
    assert [sid for sid, _ in await camera.storages()] == [STORAGE]
    with pytest.raises(ResponseError) as err:
        await camera.storage_info(0x0002_0001)
    assert err.value.code == ResponseCode.INVALID_STORAGE_ID


# -- objects -------------------------------------------------------------------------------


async def test_object_handles_by_parent(camera: Camera, vcam: VirtualCamera) -> None:
    everything = await camera.object_handles()
    infos = {h: await camera.object_info(h) for h in everything}
    names = {info.filename for info in infos.values()}
    assert names == {"DCIM", "100PTPIP"} | {f"IMG_000{n}.JPG" for n in range(1, 5)}

    root = await camera.object_handles(parent=ROOT_PARENT)
    assert [infos[h].filename for h in root] == ["DCIM"]
    dcim = root[0]
    assert infos[dcim].is_folder
    assert infos[dcim].object_format == ObjectFormatCode.ASSOCIATION

    (folder,) = await camera.object_handles(parent=dcim)
    assert infos[folder].filename == "100PTPIP"
    assert infos[folder].parent == dcim
    files = await camera.object_handles(parent=folder)
    assert sorted(infos[h].filename for h in files) == [f"IMG_000{n}.JPG" for n in range(1, 5)]
    assert all(infos[h].parent == folder for h in files)

    # Same answers for the explicit storage, and a format filter.
    assert set(await camera.object_handles(STORAGE)) == set(everything)
    jpegs = await camera.object_handles(STORAGE, ObjectFormatCode.EXIF_JPEG)
    assert set(jpegs) == set(files)
    with pytest.raises(ResponseError) as err:
        await camera.object_handles(parent=files[0])  # a file is no folder
    assert err.value.code == ResponseCode.INVALID_PARENT_OBJECT

    # A file dropped onto the card shows up on the next listing.
    (card_path(vcam, "DCIM") / "NEW.TXT").write_bytes(b"hello")
    assert len(await camera.object_handles()) == len(everything) + 1


async def test_object_info_matches_the_file(camera: Camera, vcam: VirtualCamera) -> None:
    entry = await camera.find("DCIM/100PTPIP/IMG_0002.JPG")
    path = card_path(vcam, "DCIM/100PTPIP/IMG_0002.JPG")
    info = entry.info
    assert info.storage_id == STORAGE
    assert info.object_format == ObjectFormatCode.EXIF_JPEG
    assert info.compressed_size == path.stat().st_size
    with Image.open(path) as image:
        assert (info.image_width, info.image_height) == image.size
    assert info.thumb_format == ObjectFormatCode.JFIF
    assert info.capture_date is not None
    assert int(info.capture_date.timestamp()) == int(path.stat().st_mtime)
    with pytest.raises(InvalidObjectHandle):
        await camera.object_info(0xDEAD)


async def test_list_objects_paths_match_the_card(camera: Camera, card: Path) -> None:
    entries = await camera.list_objects()
    assert {e.path.as_posix() for e in entries} == disk_paths(card)
    by_path = {e.path: e for e in entries}
    assert by_path[PurePosixPath("DCIM")].is_folder
    assert not by_path[PurePosixPath("DCIM/100PTPIP/IMG_0001.JPG")].is_folder
    # Folders come before their contents.
    order = [e.path for e in entries]
    assert order.index(PurePosixPath("DCIM/100PTPIP")) < order.index(
        PurePosixPath("DCIM/100PTPIP/IMG_0001.JPG")
    )


async def test_get_object_and_partial_object_are_byte_identical(
    camera: Camera, vcam: VirtualCamera
) -> None:
    path = card_path(vcam, "DCIM/100PTPIP/IMG_0003.JPG")
    # Bigger than one data packet (60 KiB) so the phase has several Data packets.
    original = path.read_bytes() + os.urandom(150_000)
    path.write_bytes(original)
    handle = await handle_of(camera, "DCIM/100PTPIP/IMG_0003.JPG")

    sink = BytesSink()
    await camera.read_object(handle, sink)
    assert bytes(sink.buffer) == original

    result = await camera.transact(OperationCode.GET_OBJECT, (handle,))
    assert result.data == original

    for offset, length in ((0, 10), (1000, 70_000), (len(original) - 5, 5), (5, 0)):
        assert (
            await camera.read_partial(handle, offset, length)
            == (original[offset : offset + length])
        )
    # Past the end, the camera sends what there is and says how much in parameter 1.
    result = await camera.transact(
        OperationCode.GET_PARTIAL_OBJECT, (handle, len(original) - 3, 100)
    )
    assert result.data == original[-3:]
    assert result.params == (3,)


async def test_thumbnail_is_a_jpeg(camera: Camera) -> None:
    entry = await camera.find("DCIM/100PTPIP/IMG_0001.JPG")
    data = await camera.thumbnail(entry.handle)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.width <= 160 and image.height <= 120
    assert len(data) == entry.info.thumb_compressed_size
    folder = await camera.find("DCIM")
    with pytest.raises(ResponseError) as err:
        await camera.thumbnail(folder.handle)
    assert err.value.code == ResponseCode.NO_THUMBNAIL_PRESENT


async def test_delete_removes_the_file(camera: Camera, vcam: VirtualCamera) -> None:
    path = card_path(vcam, "DCIM/100PTPIP/IMG_0004.JPG")
    assert path.exists()
    handle = await handle_of(camera, "DCIM/100PTPIP/IMG_0004.JPG")
    await camera.delete(handle)
    assert not path.exists()
    assert handle not in await camera.object_handles()
    with pytest.raises(InvalidObjectHandle) as err:
        await camera.object_info(handle)
    assert err.value.code == ResponseCode.INVALID_OBJECT_HANDLE
    assert err.value.operation == OperationCode.GET_OBJECT_INFO
    with pytest.raises(InvalidObjectHandle):
        await camera.delete(handle)


async def test_capture_returns_the_new_object(camera: Camera, vcam: VirtualCamera) -> None:
    before = set(await camera.object_handles())
    (entry,) = await camera.capture(timeout=5)
    assert entry.handle is not None and entry.info is not None
    assert entry.preview is None
    assert entry.handle not in before
    assert entry.info.object_format == ObjectFormatCode.EXIF_JPEG
    assert entry.info.filename == "IMG_0005.JPG"  # DCF numbering continues
    on_disk = card_path(vcam, "DCIM/100PTPIP") / entry.info.filename
    assert on_disk.is_file()
    assert on_disk.stat().st_size == entry.info.compressed_size
    sink = BytesSink()
    await camera.read_object(entry.handle, sink)
    assert bytes(sink.buffer) == on_disk.read_bytes()
    assert generic(vcam).capture_count == 1


# -- properties ----------------------------------------------------------------------------


async def test_describe_get_set_uint16_iso(camera: Camera, vcam: VirtualCamera) -> None:
    desc = await camera.describe(Prop.EXPOSURE_INDEX)
    assert desc.datatype == DataType.UINT16
    assert desc.writable
    assert desc.current == 100
    assert isinstance(desc.form, PropEnum) and 400 in desc.form.values
    assert await camera.get_property(Prop.EXPOSURE_INDEX) == 100
    await camera.set_property(Prop.EXPOSURE_INDEX, 400)
    assert await camera.get_property(Prop.EXPOSURE_INDEX) == 400
    assert (await camera.describe(Prop.EXPOSURE_INDEX)).current == 400
    assert generic(vcam).props.get(Prop.EXPOSURE_INDEX) == 400


async def test_int16_exposure_bias_negative(camera: Camera, vcam: VirtualCamera) -> None:
    desc = await camera.describe(Prop.EXPOSURE_BIAS_COMPENSATION)
    assert desc.datatype == DataType.INT16
    assert isinstance(desc.form, PropEnum) and -333 in desc.form.values
    wire = tap(camera.connection._cmd)
    await camera.set_property(Prop.EXPOSURE_BIAS_COMPENSATION, -333)
    # -333 as INT16 little-endian is b3 fe, sent in the End Data packet.
    assert bytes.fromhex("0e0000000c000000") in wire.sent_bytes
    assert wire.sent_bytes.endswith(bytes.fromhex("b3fe"))
    assert await camera.get_property(Prop.EXPOSURE_BIAS_COMPENSATION) == -333
    assert generic(vcam).props.get(Prop.EXPOSURE_BIAS_COMPENSATION) == -333


async def test_uint32_properties(camera: Camera) -> None:
    delay = await camera.describe(Prop.CAPTURE_DELAY)
    assert delay.datatype == DataType.UINT32
    await camera.set_property(Prop.CAPTURE_DELAY, 10000)
    assert await camera.get_property(Prop.CAPTURE_DELAY) == 10000
    focal = await camera.describe(Prop.FOCAL_LENGTH)
    assert focal.datatype == DataType.UINT32
    assert isinstance(focal.form, PropRange)
    assert (focal.form.minimum, focal.form.maximum, focal.form.step) == (2400, 7000, 100)
    assert await camera.get_property(Prop.FOCAL_LENGTH) == 2400


async def test_string_properties(camera: Camera, vcam: VirtualCamera) -> None:
    artist = await camera.describe(Prop.ARTIST)
    assert artist.datatype == DataType.STR and artist.current == ""
    await camera.set_property(Prop.ARTIST, "Ada")
    assert await camera.get_property(Prop.ARTIST) == "Ada"
    assert generic(vcam).props.get(Prop.ARTIST) == "Ada"

    wire = tap(camera.connection._cmd)
    await camera.set_property(Prop.IMAGE_SIZE, "1920x1080")
    # ptpip-standard.md §18.5: STR "1920x1080" on the wire.
    value = bytes.fromhex("0a 31 00 39 00 32 00 30 00 78 00 31 00 30 00 38 00 30 00 00 00")
    assert value in wire.sent_bytes
    assert await camera.get_property(Prop.IMAGE_SIZE) == "1920x1080"


async def test_invalid_value_is_refused_with_0x201c(camera: Camera) -> None:
    with pytest.raises(ResponseError) as err:
        await camera.set_property(Prop.EXPOSURE_INDEX, 123)
    assert err.value.code == 0x201C
    assert err.value.operation == OperationCode.SET_DEVICE_PROP_VALUE
    assert "0x201C" in str(err.value)
    assert await camera.get_property(Prop.EXPOSURE_INDEX) == 100


async def test_read_only_property_is_access_denied(camera: Camera) -> None:
    battery = await camera.describe(Prop.BATTERY_LEVEL)
    assert not battery.writable
    assert await camera.get_property(Prop.BATTERY_LEVEL) == 80
    with pytest.raises(AccessDenied) as err:
        await camera.set_property(Prop.BATTERY_LEVEL, 50)
    assert err.value.code == ResponseCode.ACCESS_DENIED
    assert await camera.get_property(Prop.BATTERY_LEVEL) == 80


async def test_unknown_property(camera: Camera) -> None:
    with pytest.raises(ResponseError) as err:
        await camera.describe(0x5FFF)
    assert err.value.code == ResponseCode.DEVICE_PROP_NOT_SUPPORTED


async def test_properties_lists_every_description(camera: Camera, vcam: VirtualCamera) -> None:
    descs = await camera.properties()
    assert [d.code for d in descs] == list(generic(vcam).props.codes())


# -- raw operations ------------------------------------------------------------------------


async def test_opreq_unknown_opcode_returns_the_code(camera: Camera) -> None:
    result = await camera.opreq(0x9ABC, (1, 2, 3))
    assert result.code == 0x2005
    assert not result.ok
    assert result.data == b""
    # The connection carries on.
    assert (await camera.opreq(OperationCode.GET_STORAGE_IDS)).ok


async def test_opreq_with_data_out(camera: Camera, vcam: VirtualCamera) -> None:
    writer = Writer()
    writer.push_str("Grace")
    wire = tap(camera.connection._cmd)
    result = await camera.opreq(
        OperationCode.SET_DEVICE_PROP_VALUE, [Prop.ARTIST], writer.getvalue()
    )
    assert result.ok
    assert generic(vcam).props.get(Prop.ARTIST) == "Grace"
    # dp 2 in the request, then Start Data with the exact length.
    request = wire.sent_bytes[:22]
    assert request[8:12] == b"\x02\x00\x00\x00"
    assert request[12:14] == b"\x16\x10"
    read = await camera.opreq(OperationCode.GET_DEVICE_PROP_VALUE, [Prop.ARTIST])
    assert read.data == writer.getvalue()
    # A refusal comes back as a code too.
    refused = await camera.opreq(OperationCode.SET_DEVICE_PROP_VALUE, [Prop.BATTERY_LEVEL], b"\x05")
    assert refused.code == ResponseCode.ACCESS_DENIED


# -- what goes on the wire -----------------------------------------------------------------


async def test_requests_carry_exactly_the_defined_parameters(
    vcam: VirtualCamera, id_store: IdentityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenSession at TID 0, then 1, 2, ...; parameter counts as libgphoto2 sends them."""
    seen: list[RequestReceived] = []
    real = GenericCamera.handle

    async def handle(
        self: GenericCamera, session: ServerSession, request: RequestReceived, data: bytes | None
    ) -> Reply:
        seen.append(request)
        return await real(self, session, request, data)

    monkeypatch.setattr(GenericCamera, "handle", handle)
    async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=5) as camera:
        await camera.device_info()
        await camera.storage_ids()
        entry = await camera.find("DCIM/100PTPIP/IMG_0001.JPG")
        await camera.read_object(entry.handle, BytesSink())
        await camera.read_partial(entry.handle, 0, 10)
        await camera.get_property(Prop.EXPOSURE_INDEX)  # describes it first
        await camera.set_property(Prop.EXPOSURE_INDEX, 200)
        await camera.delete(entry.handle)
        await camera.capture(timeout=5)
        seen_before_close = len(seen)
    listing = [r for r in seen if r.code == OperationCode.GET_OBJECT_INFO]
    seen = [r for r in seen if r.code != OperationCode.GET_OBJECT_INFO]
    assert [(r.code, r.params) for r in seen] == [
        (OperationCode.OPEN_SESSION, (1,)),
        (OperationCode.GET_DEVICE_INFO, ()),
        (OperationCode.GET_STORAGE_IDS, ()),
        (OperationCode.GET_OBJECT_HANDLES, (0xFFFF_FFFF, 0, 0)),
        (OperationCode.GET_OBJECT, (entry.handle,)),
        (OperationCode.GET_PARTIAL_OBJECT, (entry.handle, 0, 10)),
        (OperationCode.GET_DEVICE_PROP_DESC, (Prop.EXPOSURE_INDEX,)),
        (OperationCode.GET_DEVICE_PROP_VALUE, (Prop.EXPOSURE_INDEX,)),
        (OperationCode.SET_DEVICE_PROP_VALUE, (Prop.EXPOSURE_INDEX,)),
        (OperationCode.DELETE_OBJECT, (entry.handle, 0)),
        # the handles before the release: a capture the camera never announces is found
        (OperationCode.GET_OBJECT_HANDLES, (0xFFFF_FFFF, 0, 0)),
        (OperationCode.INITIATE_CAPTURE, (0, 0)),
        (OperationCode.CLOSE_SESSION, ()),
    ]
    assert all(len(r.params) == 1 for r in listing)
    assert seen[0].transaction_id == 0
    ordered = sorted([*seen, *listing], key=lambda r: r.transaction_id)
    assert [r.transaction_id for r in ordered] == list(range(seen_before_close + 1))
    phases = {r.code: r.data_phase for r in seen}
    assert phases[OperationCode.SET_DEVICE_PROP_VALUE] == 2
    assert {p for c, p in phases.items() if c != OperationCode.SET_DEVICE_PROP_VALUE} == {1}
