"""PTP datasets: golden bytes from real cameras and the layout tables, round trips, fuzzing."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import DataType
from ptpip.ptp.datasets import (
    DeviceInfo,
    DevicePropDesc,
    ObjectInfo,
    PropEnum,
    PropRange,
    StorageInfo,
    decode_handles,
    encode_handles,
)
from ptpip.ptp.values import Reader, Value, int_range
from tests.vectors import VECTORS

Dataset = DeviceInfo | StorageInfo | ObjectInfo | DevicePropDesc


def ptp_str(text: str) -> bytes:
    """A PTP STR built by hand (not by the codec under test)."""
    if not text:
        return b"\x00"
    return bytes([len(text) + 1]) + (text + "\x00").encode("utf-16-le")


def h(hex_bytes: str) -> bytes:
    return bytes.fromhex(hex_bytes)


# -- DeviceInfo: the Fuji X-H1 vector (vectors README §1) --------------------------------------

XH1_SHA256 = "e6456c572a4da9668240710470f5b7ea728f68af11887cd75712d627c2f8bee7"
XH1_OPERATIONS = (
    *(0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006, 0x1007, 0x1008, 0x1009, 0x100A),
    *(0x100B, 0x100E, 0x100F, 0x1014, 0x1015, 0x1016, 0x1017, 0x1018, 0x101B, 0x101C),
    *(0x900C, 0x900D, 0x901D, 0x9801, 0x9802, 0x9803, 0x9805),
)
XH1_EVENTS = (0x4002, 0x4003, 0x4004, 0x4005, 0x400D, 0xC006)
XH1_PROPERTIES = (
    *(0x5001, 0x5003, 0x5005, 0x500A, 0x500B, 0x500C, 0x500E, 0x500F, 0x5011, 0x5012),
    *(0x5015, 0x5018, 0x5019, 0x501C),
    *range(0xD001, 0xD006),
    *range(0xD007, 0xD01D),
    *range(0xD100, 0xD156),
    *range(0xD157, 0xD162),
    *range(0xD200, 0xD21C),
    *(0xD406, 0xD407),
)
XH1_FORMATS = (0x3800, 0x3801, 0xB103)


@pytest.fixture(scope="module")
def xh1() -> bytes:
    data = (VECTORS / "fuji" / "xh1_device_info.bin").read_bytes()
    assert hashlib.sha256(data).hexdigest() == XH1_SHA256
    return data


def test_xh1_container_header(xh1: bytes) -> None:
    assert len(xh1) == 605
    assert struct.unpack_from("<IHHI", xh1, 0) == (605, 2, 0x1001, 1)


def test_xh1_device_info_golden(xh1: bytes) -> None:
    reader = Reader(xh1, offset=12)
    info = DeviceInfo.pull(reader)
    assert reader.pos == 605
    assert info == DeviceInfo(
        standard_version=100,
        vendor_extension_id=6,
        vendor_extension_version=100,
        vendor_extension_desc="fujifilm.co.jp: 1.0; ",
        functional_mode=0,
        operations_supported=XH1_OPERATIONS,
        events_supported=XH1_EVENTS,
        device_properties_supported=XH1_PROPERTIES,
        capture_formats=XH1_FORMATS,
        image_formats=XH1_FORMATS,
        manufacturer="FUJIFILM",
        model="X-H1",
        device_version="2.14",
        serial_number="593534313432190906AA602021CA2A",
    )
    assert len(info.operations_supported) == 27
    assert len(info.events_supported) == 6
    assert len(info.device_properties_supported) == 168
    assert info.device_properties_supported[0] == 0x5001
    assert info.device_properties_supported[-1] == 0xD407
    assert 0x101C in info.operations_supported
    assert 0x9022 not in info.operations_supported
    assert 0xD212 in info.device_properties_supported
    assert 0xD185 not in info.device_properties_supported
    assert info.encode() == xh1[12:]
    assert len(info.encode()) == 593


def test_xh1_layout_offsets(xh1: bytes) -> None:
    # file offsets from the vectors README; the decoded fields must come from these places
    assert xh1[20] == 22  # VendorExtensionDesc count
    assert struct.unpack_from("<HI", xh1, 65) == (0, 27)
    assert struct.unpack_from("<I", xh1, 125) == (6,)
    assert struct.unpack_from("<IH", xh1, 141) == (168, 0x5001)
    assert struct.unpack_from("<I3H", xh1, 481) == (3, *XH1_FORMATS)
    assert xh1[501:520] == ptp_str("FUJIFILM")
    assert xh1[520:531] == ptp_str("X-H1")
    assert xh1[531:542] == ptp_str("2.14")
    assert xh1[542:605] == ptp_str("593534313432190906AA602021CA2A")


def test_xh1_decode_tolerates_trailing_bytes_and_rejects_every_truncation(xh1: bytes) -> None:
    dataset = xh1[12:]
    assert DeviceInfo.decode(dataset + b"\xde\xad\xbe\xef").model == "X-H1"
    for n in range(len(dataset)):
        with pytest.raises(RemoteProtocolError):
            DeviceInfo.decode(dataset[:n])


def test_device_info_hand_built() -> None:
    data = (
        struct.pack("<HIH", 100, 0, 0)
        + ptp_str("")
        + struct.pack("<H", 0)
        + struct.pack("<I2H", 2, 0x1001, 0x1002)
        + struct.pack("<IH", 1, 0x4002)
        + struct.pack("<I", 0)
        + struct.pack("<I", 0)
        + struct.pack("<IH", 1, 0x3801)
        + ptp_str("ptpip")
        + ptp_str("Virtual")
        + ptp_str("1.0")
        + ptp_str("0001")
    )
    info = DeviceInfo(
        operations_supported=(0x1001, 0x1002),
        events_supported=(0x4002,),
        image_formats=(0x3801,),
        manufacturer="ptpip",
        model="Virtual",
        device_version="1.0",
        serial_number="0001",
    )
    assert info.encode() == data
    assert DeviceInfo.decode(data) == info
    assert info.standard_version == 100
    # StandardVersion, VendorExtensionID, VendorExtensionVersion and the desc have fixed offsets
    assert data[8] == 0


# -- StorageInfo -------------------------------------------------------------------------------

STORAGE = StorageInfo(
    storage_type=4,
    filesystem_type=3,
    access_capability=0,
    max_capacity=32 * 2**30,
    free_space_bytes=0x1_2345_6789,
    free_space_images=1234,
    storage_description="SD",
    volume_label="",
)
STORAGE_BYTES = h(
    "0400 0300 0000"  # type RemovableRAM, DCF, read-write
    "00000000 08000000"  # MaxCapacity 32 GiB, offset 6
    "89674523 01000000"  # FreeSpaceInBytes, offset 14
    "d2040000"  # FreeSpaceInImages 1234, offset 22
    "03 5300 4400 0000"  # StorageDescription "SD", offset 26
    "00"  # VolumeLabel ""
)


def test_storage_info_golden() -> None:
    assert STORAGE_BYTES[26:33] == h("03 53 00 44 00 00 00")
    assert STORAGE.encode() == STORAGE_BYTES
    assert StorageInfo.decode(STORAGE_BYTES) == STORAGE
    assert StorageInfo.decode(STORAGE_BYTES + b"\x00\x01junk") == STORAGE
    minimal = StorageInfo(1, 1, 1, 0, 0)
    assert minimal.encode() == h("0100 0100 0100") + bytes(16) + h("ffffffff 00 00")
    assert len(minimal.encode()) == 28  # libgphoto2's minimum


def test_storage_info_needs_both_strings() -> None:
    with pytest.raises(RemoteProtocolError):
        StorageInfo.decode(STORAGE_BYTES[:-1])
    with pytest.raises(RemoteProtocolError):
        StorageInfo.decode(STORAGE_BYTES[:26])
    for n in range(len(STORAGE_BYTES)):
        with pytest.raises(RemoteProtocolError):
            StorageInfo.decode(STORAGE_BYTES[:n])


# -- ObjectInfo (gphoto2-interop.md §7 known-good values) --------------------------------------

JPEG_INFO = ObjectInfo(
    storage_id=0x00010001,
    object_format=0x3801,
    compressed_size=2_999_808,
    thumb_format=0x3808,
    image_width=4000,
    image_height=3000,
    image_bit_depth=24,
    parent=2,
    filename="IMG_0001.JPG",
    capture_date=datetime(2024, 1, 1, 12, 0, 0),
    modification_date=datetime(2024, 1, 1, 12, 0, 0),
)
JPEG_FIXED = struct.pack(
    "<IHHIHIIIIIIIHII",
    *(0x00010001, 0x3801, 0, 2_999_808, 0x3808, 0, 0, 0, 4000, 3000, 24, 2, 0, 0, 0),
)
JPEG_BYTES = (
    JPEG_FIXED
    + ptp_str("IMG_0001.JPG")
    + ptp_str("20240101T120000")
    + ptp_str("20240101T120000")
    + ptp_str("")
)


def test_object_info_golden() -> None:
    assert len(JPEG_FIXED) == 52
    assert JPEG_BYTES[52] == 13  # Filename count at dataset offset 52
    assert JPEG_BYTES[53:79] == "IMG_0001.JPG\x00".encode("utf-16-le")
    assert len(JPEG_BYTES) >= 57  # libgphoto2's minimum
    assert len(JPEG_BYTES) == 146
    assert JPEG_INFO.encode() == JPEG_BYTES
    decoded = ObjectInfo.decode(JPEG_BYTES)
    assert decoded == JPEG_INFO
    assert decoded.capture_date == datetime(2024, 1, 1, 12)
    assert decoded.keywords == ""
    assert not decoded.is_folder
    assert ObjectInfo.decode(JPEG_BYTES + b"vendor junk") == JPEG_INFO


def test_object_info_field_order() -> None:
    fields = (
        *(0x00020001, 0xB103, 1, 0x01020304, 0x3808, 5120, 160, 120, 6000, 4000, 14),
        *(0x11, 2, 3, 7),
    )
    data = struct.pack("<IHHIHIIIIIIIHII", *fields) + ptp_str("X.RAF") + b"\x00\x00" + ptp_str("kw")
    info = ObjectInfo.decode(data)
    assert info == ObjectInfo(
        storage_id=0x00020001,
        object_format=0xB103,
        protection_status=1,
        compressed_size=0x01020304,
        thumb_format=0x3808,
        thumb_compressed_size=5120,
        thumb_width=160,
        thumb_height=120,
        image_width=6000,
        image_height=4000,
        image_bit_depth=14,
        parent=0x11,
        association_type=2,
        association_desc=3,
        sequence_number=7,
        filename="X.RAF",
        keywords="kw",
    )
    assert info.encode() == data


def test_object_info_folder() -> None:
    folder = ObjectInfo(
        storage_id=0x00010001, object_format=0x3001, association_type=1, filename="DCIM"
    )
    data = folder.encode()
    assert folder.is_folder
    assert data[4:6] == h("0130")
    assert data[42:44] == h("0100")
    assert data[12:14] == h("0000")  # ThumbFormat 0 for folders
    assert data[52:] == ptp_str("DCIM") + b"\x00\x00\x00"
    assert ObjectInfo.decode(data) == folder


@pytest.mark.parametrize(
    ("tail", "filename", "capture", "modification"),
    [
        (b"", "", None, None),
        (ptp_str("A.JPG"), "A.JPG", None, None),
        (ptp_str("A.JPG") + ptp_str("20240101T120000"), "A.JPG", datetime(2024, 1, 1, 12), None),
        (ptp_str("A.JPG") + ptp_str("not a date") + ptp_str("20240101T120000.5"), "A.JPG", None,
         datetime(2024, 1, 1, 12, 0, 0, 500_000)),
        (ptp_str("A.JPG") + ptp_str("20240101T120000.²"), "A.JPG", None, None),
    ],
)  # fmt: skip
def test_object_info_missing_trailing_strings(
    tail: bytes, filename: str, capture: datetime | None, modification: datetime | None
) -> None:
    info = ObjectInfo.decode(JPEG_FIXED + tail)
    assert info.filename == filename
    assert info.capture_date == capture
    assert info.modification_date == modification
    assert info.keywords == ""
    assert info.image_width == 4000
    assert info.parent == 2
    # encoding always writes all four strings
    reader = Reader(info.encode(), offset=52)
    assert reader.pull_str() == filename
    reader.pull_str()
    reader.pull_str()
    assert reader.pull_str() == ""
    assert reader.at_end()
    assert ObjectInfo.decode(info.encode()) == info


def test_object_info_encoding_writes_all_strings() -> None:
    info = ObjectInfo(storage_id=1, object_format=0x3000)
    assert info.encode() == struct.pack("<IHH", 1, 0x3000, 0) + bytes(44) + b"\x00" * 4


def test_object_info_rejects_short_fixed_part_and_cut_strings() -> None:
    for n in range(52):
        with pytest.raises(RemoteProtocolError):
            ObjectInfo.decode(JPEG_BYTES[:n])
    with pytest.raises(RemoteProtocolError):
        ObjectInfo.decode(JPEG_BYTES[:60])  # inside the filename


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 1, 1, 12), "20240101T120000"),
        (datetime(2024, 1, 1, 12, 0, 0, 500_000), "20240101T120000.5"),
        (datetime(2024, 1, 1, 12, tzinfo=UTC), "20240101T120000Z"),
        (datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=1))), "20240101T120000+0100"),
        (
            datetime(2024, 6, 1, 8, 30, 0, 900_000, timezone(-timedelta(hours=9, minutes=30))),
            "20240601T083000.9-0930",
        ),
    ],
)
def test_object_info_dates_golden(value: datetime, text: str) -> None:
    info = ObjectInfo(storage_id=1, object_format=0x3801, filename="A", capture_date=value)
    data = info.encode()
    assert data[52:] == ptp_str("A") + ptp_str(text) + b"\x00\x00"
    decoded = ObjectInfo.decode(data)
    assert decoded == info
    assert decoded.capture_date is not None
    assert decoded.capture_date.utcoffset() == value.utcoffset()


# -- DevicePropDesc ----------------------------------------------------------------------------

STR_4000 = "0a 3400 3000 3000 3000 7800 3300 3000 3000 3000 0000"
STR_1920 = "0a 3100 3900 3200 3000 7800 3100 3000 3800 3000 0000"
EV_BIAS = (
    *(-3000, -2667, -2333, -2000, -1667, -1333, -1000, -667, -333, 0),
    *(333, 667, 1000, 1333, 1667, 2000, 2333, 2667, 3000),
)
EV_BIAS_HEX = (
    "48f4 95f5 e3f6 30f8 7df9 cbfa 18fc 65fd b3fe 0000 4d01 9b02 e803 3505 8306 d007 1d09 6b0a b80b"
)

U8, U16, U32, I16 = DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.INT16
DPD_GOLDEN: list[tuple[str, DevicePropDesc]] = [
    # ptpip-standard.md §18.5 and vendor-fuji.md §15 (X-T1 5.51)
    ("01 50 02 00 00 00 00 01 00 03 01", DevicePropDesc(0x5001, U8, 0, 0, 0, PropRange(0, 3, 1))),
    (
        "12 50 04 00 01 00 00 00 00 02 03 00 00 00 02 00 04 00",
        DevicePropDesc(0x5012, U16, 1, 0, 0, PropEnum((0, 2, 4))),
    ),
    (
        "07 50 04 00 01 5e 01 00 00 02 07 00 5e 01 12 02 c6 02 e8 03 4c 04 40 06 ff ff",
        DevicePropDesc(0x5007, U16, 1, 350, 0, PropEnum((350, 530, 710, 1000, 1100, 1600, 0xFFFF))),
    ),
    (
        "0a 50 04 00 01 01 80 00 00 02 03 00 01 00 01 80 02 80",
        DevicePropDesc(0x500A, U16, 1, 0x8001, 0, PropEnum((1, 0x8001, 0x8002))),
    ),
    (
        "0d 50 06 00 01 02 00 00 00 00 00 00 00 02 03 00 02 00 00 00 e0 93 04 00 ff ff ff ff",
        DevicePropDesc(0x500D, U32, 1, 2, 0, PropEnum((2, 300000, 0xFFFFFFFF))),
    ),
    (
        "0e 50 04 00 01 06 00 00 00 02 0d 00 01 00 02 00 03 00 04 00 06 00 "
        "01 80 02 80 03 80 04 80 05 80 06 80 07 80 08 80",
        DevicePropDesc(0x500E, U16, 1, 6, 0, PropEnum((1, 2, 3, 4, 6, *range(0x8001, 0x8009)))),
    ),
    (
        "18 d0 04 00 01 01 00 01 00 02 05 00 01 00 02 00 03 00 04 00 05 00",
        DevicePropDesc(0xD018, U16, 1, 1, 1, PropEnum((1, 2, 3, 4, 5))),
    ),
    ("1d d0 04 00 01 01 00 01 00 02 00 00", DevicePropDesc(0xD01D, U16, 1, 1, 1, PropEnum(()))),
    (
        "28 d0 04 00 01 00 00 00 00 02 04 00 00 00 01 00 02 00 03 00",
        DevicePropDesc(0xD028, U16, 1, 0, 0, PropEnum((0, 1, 2, 3))),
    ),
    (
        "70 d1 04 00 01 01 00 01 00 01 01 00 27 00 01 00",
        DevicePropDesc(0xD170, U16, 1, 1, 1, PropRange(1, 0x27, 1)),
    ),
    # vendor-fuji.md §9.2 (0x902B entries, without their u32 entryLen)
    (
        "0c 50 04 00 01 02 00 09 80 02 02 00 09 80 0a 80",
        DevicePropDesc(0x500C, U16, 1, 2, 0x8009, PropEnum((0x8009, 0x800A))),
    ),
    (
        "10 50 03 00 01 00 00 00 00 02 13 00 " + EV_BIAS_HEX,
        DevicePropDesc(0x5010, I16, 1, 0, 0, PropEnum(EV_BIAS)),
    ),
    (
        "7c d1 06 00 01 00 00 00 00 04 04 02 03 01 00 00 00 00 07 07 09 10 01 00 00 00",
        DevicePropDesc(0xD17C, U32, 1, 0, 0x03020404, PropRange(0, 0x10090707, 1)),
    ),
    # ptpip-standard.md §18.5: a STR property with an enumeration of STR values
    (
        f"03 50 ff ff 01 {STR_4000} {STR_1920} 02 02 00 {STR_4000} {STR_1920}",
        DevicePropDesc(
            0x5003, DataType.STR, 1, "4000x3000", "1920x1080", PropEnum(("4000x3000", "1920x1080"))
        ),
    ),
    # hand-built: an AUINT8 property without a form
    (
        "85 d1 02 40 00 02 00 00 00 01 02 03 00 00 00 0a 0b 0c 00",
        DevicePropDesc(0xD185, DataType.AUINT8, 0, (1, 2), (10, 11, 12)),
    ),
    # hand-built: INT64 range
    (
        "00 d0 07 00 01 ff ff ff ff ff ff ff ff 00 00 00 00 00 00 00 00 01 "
        "00 00 00 00 00 00 00 80 ff ff ff ff ff ff ff 7f 02 00 00 00 00 00 00 00",
        DevicePropDesc(0xD000, DataType.INT64, 1, -1, 0, PropRange(-(2**63), 2**63 - 1, 2)),
    ),
]


@pytest.mark.parametrize(
    ("hex_bytes", "expected"), DPD_GOLDEN, ids=[f"0x{d.code:04X}" for _, d in DPD_GOLDEN]
)
def test_dpd_golden(hex_bytes: str, expected: DevicePropDesc) -> None:
    data = h(hex_bytes)
    decoded = DevicePropDesc.decode(data)
    assert decoded == expected
    assert decoded.datatype is DataType(expected.datatype)
    assert decoded.writable is (expected.get_set == 1)
    assert expected.encode() == data


def test_dpd_get_set() -> None:
    ro = DevicePropDesc.decode(h("01 50 02 00 00 00 00 01 00 03 01"))
    assert not ro.writable
    assert ro.form == PropRange(minimum=0, maximum=3, step=1)
    rw = DevicePropDesc.decode(h("1d d0 04 00 01 01 00 01 00 02 00 00"))
    assert rw.writable
    assert rw.form == PropEnum(())


DPD_LENIENT: list[tuple[str, DevicePropDesc]] = [
    # bytes end right after the current value: no form (libgphoto2 ptp_unpack_DPD)
    ("03 50 ff ff 00 00 03 53 00 44 00 00 00", DevicePropDesc(0x5003, DataType.STR, 0, "", "SD")),
    ("01 50 02 00 00 05 06", DevicePropDesc(0x5001, U8, 0, 5, 6)),
    # enumeration cut at the last complete value (libgphoto2, for the HP PhotoSmart 120)
    (
        "12 50 04 00 01 00 00 00 00 02 03 00 00 00 02 00 04",
        DevicePropDesc(0x5012, U16, 1, 0, 0, PropEnum((0, 2))),
    ),
    (
        "12 50 04 00 01 00 00 00 00 02 03 00 00 00 02 00",
        DevicePropDesc(0x5012, U16, 1, 0, 0, PropEnum((0, 2))),
    ),
    (
        "12 50 04 00 01 00 00 00 00 02 00 03 00 00 02 00 04 00",  # count sent big-endian
        DevicePropDesc(0x5012, U16, 1, 0, 0, PropEnum((0, 2, 4))),
    ),
    (
        f"03 50 ff ff 01 00 00 02 05 00 {STR_4000} 0a 31 00",
        DevicePropDesc(0x5003, DataType.STR, 1, "", "", PropEnum(("4000x3000",))),
    ),
]


@pytest.mark.parametrize(
    ("hex_bytes", "expected"), DPD_LENIENT, ids=[f"0x{d.code:04X}" for _, d in DPD_LENIENT]
)
def test_dpd_lenient(hex_bytes: str, expected: DevicePropDesc) -> None:
    assert DevicePropDesc.decode(h(hex_bytes)) == expected
    # re-encoding gives the canonical form: a form flag, and the count that was really sent
    assert DevicePropDesc.decode(expected.encode()) == expected


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "",
        "01 50 02 00",  # no GetSet
        "01 50 02 00 00 00",  # no current value
        "01 50 0b 00 00 00 00",  # unknown data type
        "01 50 00 00 00 00 00",  # UNDEF
        "01 50 02 00 00 00 00 03",  # unknown form flag
        "01 50 02 00 00 00 00 01 00 03",  # range without step
        "03 50 ff ff 00 00 00 01 00 00 00",  # range of strings
        "85 d1 02 40 00 00000000 00000000 01 00000000 00000000 00000000",  # AUINT8 range
        "01 50 02 00 00 00 00 02",  # enumeration without count
        "01 50 02 00 00 00 00 02 01",  # half a count
        "12 50 04 00 01 00 00 00 00 02 01 00",  # count 1, no values
        "12 50 04 00 01 00 00 00 00 02 01 00 05",  # count 1, half a value
        "01 50 02 00 00 00 00 01 00 03 01 00",  # trailing byte after a complete descriptor
        "01 50 02 00 00 00 00 00 ff",  # trailing byte after form None
        "85 d1 02 40 00 ff ff ff ff 01",  # array count beyond the data
        "03 50 ff ff 00 05 41 00",  # STR count beyond the data
    ],
)
def test_dpd_malformed(hex_bytes: str) -> None:
    with pytest.raises(RemoteProtocolError):
        DevicePropDesc.decode(h(hex_bytes))


def test_dpd_every_truncation_of_a_full_descriptor() -> None:
    data = h(DPD_GOLDEN[0][0])  # 0x5001 range
    for n in range(len(data)):
        if n == 7:  # ends right after the current value: lenient, form None
            assert DevicePropDesc.decode(data[:n]).form is None
            continue
        with pytest.raises(RemoteProtocolError):
            DevicePropDesc.decode(data[:n])


def test_dpd_str_bytes() -> None:
    # STR "SD" is 03 53 00 44 00 00 00 (ptpip-standard.md §18.1); "" is the single byte 00
    dpd = DevicePropDesc(0x5003, DataType.STR, 1, "SD", "")
    assert dpd.encode() == h("03 50 ff ff 01 03 53 00 44 00 00 00 00 00")


# -- handle lists ------------------------------------------------------------------------------


def test_handles_golden() -> None:
    assert decode_handles(h("01000000 01000100")) == (0x00010001,)
    assert encode_handles((0x00010001,)) == h("01000000 01000100")
    assert decode_handles(h("00000000")) == ()
    assert encode_handles([]) == h("00000000")
    assert decode_handles(h("02000000 01000000 ffffffff")) == (1, 0xFFFFFFFF)
    for bad in ("", "010000", "02000000 01000000", "01000000 01000100 00", "ffffffff"):
        with pytest.raises(RemoteProtocolError):
            decode_handles(h(bad))
    with pytest.raises(LocalProtocolError):
        encode_handles((-1,))
    with pytest.raises(LocalProtocolError):
        encode_handles((2**32,))


# -- encoding illegal values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        DeviceInfo(standard_version=0x10000),
        DeviceInfo(vendor_extension_id=-1),
        DeviceInfo(operations_supported=(0x10000,)),
        DeviceInfo(model="x" * 255),
        DeviceInfo(model="a\x00b"),
        StorageInfo(4, 3, 0, 2**64, 0),
        StorageInfo(4, 3, 0, 0, 0, volume_label="v" * 300),
        ObjectInfo(storage_id=-1, object_format=0x3801),
        ObjectInfo(storage_id=1, object_format=0x13801),
        ObjectInfo(storage_id=1, object_format=0x3801, filename="f" * 255),
        ObjectInfo(storage_id=1, object_format=0x3801, capture_date=datetime(999, 12, 31)),
        ObjectInfo(
            storage_id=1,
            object_format=0x3801,
            capture_date=datetime(2024, 1, 1, tzinfo=timezone(timedelta(seconds=30))),
        ),
        DevicePropDesc(0x5001, DataType.UINT8, 0, 256, 0),
        DevicePropDesc(0x5001, DataType.UINT8, 0, 0, "0"),
        DevicePropDesc(0x5001, DataType.UNDEF, 0, 0, 0),
        DevicePropDesc(0x5001, 0x000B, 0, 0, 0),
        DevicePropDesc(0x5001, DataType.STR, 0, "", "", PropRange(0, 1, 1)),
        DevicePropDesc(0x5001, DataType.AUINT8, 0, (), (), PropRange(0, 1, 1)),
        DevicePropDesc(0x5001, DataType.UINT8, 0, 0, 0, PropRange(0, 256, 1)),
        DevicePropDesc(0x5001, DataType.UINT8, 0, 0, 0, PropEnum(tuple(range(256)) * 257)),
        DevicePropDesc(0x5001, DataType.STR, 0, "", "", PropEnum((1,))),
        DevicePropDesc(0x5001, DataType.AINT8, 0, (128,), ()),
        DevicePropDesc(0x15001, DataType.UINT8, 0, 0, 0),
    ],
    ids=lambda v: type(v).__name__,
)
def test_encoding_illegal_values_raises_local_error(value: Dataset) -> None:
    with pytest.raises(LocalProtocolError):
        value.encode()


# -- hypothesis: round trips -------------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 2**64 - 1)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
code_lists = st.lists(u16, max_size=30).map(tuple)

device_infos = st.builds(
    DeviceInfo,
    standard_version=u16,
    vendor_extension_id=u32,
    vendor_extension_version=u16,
    vendor_extension_desc=texts,
    functional_mode=u16,
    operations_supported=code_lists,
    events_supported=code_lists,
    device_properties_supported=code_lists,
    capture_formats=code_lists,
    image_formats=code_lists,
    manufacturer=texts,
    model=texts,
    device_version=texts,
    serial_number=texts,
)
storage_infos = st.builds(
    StorageInfo,
    storage_type=u16,
    filesystem_type=u16,
    access_capability=u16,
    max_capacity=u64,
    free_space_bytes=u64,
    free_space_images=u32,
    storage_description=texts,
    volume_label=texts,
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
TENTHS = 100_000
naive_dates = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31))
aware_dates = st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC) | offsets,
)
dates = st.none() | (naive_dates | aware_dates).map(
    lambda d: d.replace(microsecond=d.microsecond // TENTHS * TENTHS)
)
object_infos = st.builds(
    ObjectInfo,
    storage_id=u32,
    object_format=u16,
    protection_status=u16,
    compressed_size=u32,
    thumb_format=u16,
    thumb_compressed_size=u32,
    thumb_width=u32,
    thumb_height=u32,
    image_width=u32,
    image_height=u32,
    image_bit_depth=u32,
    parent=u32,
    association_type=u16,
    association_desc=u32,
    sequence_number=u32,
    filename=texts,
    capture_date=dates,
    modification_date=dates,
    keywords=texts,
)
PROPERTY_TYPES = [t for t in DataType if t != DataType.UNDEF]


def values_of(datatype: DataType) -> st.SearchStrategy[Value]:
    if datatype == DataType.STR:
        return texts
    lo, hi = int_range(datatype)
    if datatype.is_array:
        return st.lists(st.integers(lo, hi), max_size=5).map(tuple)
    return st.integers(lo, hi)


@st.composite
def prop_descs(draw: st.DrawFn, datatype: DataType | None = None) -> DevicePropDesc:
    if datatype is None:
        datatype = draw(st.sampled_from(PROPERTY_TYPES))
    values = values_of(datatype)
    forms: list[st.SearchStrategy[PropRange | PropEnum | None]] = [
        st.none(),
        st.builds(PropEnum, st.lists(values, max_size=6).map(tuple)),
    ]
    if datatype != DataType.STR and not datatype.is_array:
        ints = st.integers(*int_range(datatype))
        forms.append(st.builds(PropRange, ints, ints, ints))
    return DevicePropDesc(
        code=draw(u16),
        datatype=datatype,
        get_set=draw(u8),
        default=draw(values),
        current=draw(values),
        form=draw(st.one_of(forms)),
    )


DATASETS: list[tuple[str, st.SearchStrategy[Dataset]]] = [
    ("DeviceInfo", device_infos),
    ("StorageInfo", storage_infos),
    ("ObjectInfo", object_infos),
    ("DevicePropDesc", prop_descs()),
]


@pytest.mark.parametrize(("name", "strategy"), DATASETS, ids=[n for n, _ in DATASETS])
@given(data=st.data())
@settings(max_examples=200, deadline=None)
def test_round_trip(name: str, strategy: st.SearchStrategy[Dataset], data: st.DataObject) -> None:
    value = data.draw(strategy)
    encoded = value.encode()
    decoded = type(value).decode(encoded)
    assert type(decoded).__name__ == name
    assert decoded == value
    assert decoded.encode() == encoded


@pytest.mark.parametrize("datatype", PROPERTY_TYPES, ids=lambda t: t.name)
@given(data=st.data())
@settings(max_examples=40, deadline=None)
def test_dpd_round_trip_every_datatype(datatype: DataType, data: st.DataObject) -> None:
    value = data.draw(prop_descs(datatype))
    encoded = value.encode()
    assert encoded[2:4] == int(datatype).to_bytes(2, "little")
    assert DevicePropDesc.decode(encoded) == value


@given(st.lists(u32, max_size=50))
def test_handles_round_trip(handles: list[int]) -> None:
    data = encode_handles(handles)
    assert len(data) == 4 + 4 * len(handles)
    assert decode_handles(data) == tuple(handles)


# -- hypothesis: fuzzing -----------------------------------------------------------------------

DECODERS: list[type[Dataset]] = [DeviceInfo, StorageInfo, ObjectInfo, DevicePropDesc]


def assert_decodes_or_rejects(cls: type[Dataset], data: bytes) -> None:
    """A value or RemoteProtocolError, nothing else; what decodes re-encodes to itself."""
    try:
        value = cls.decode(data)
    except RemoteProtocolError:
        return
    assert type(value) is cls
    try:
        encoded = value.encode()
    except LocalProtocolError:
        return  # e.g. an unterminated 255-unit string, or a year before 1000
    assert cls.decode(encoded) == value


def assert_handles_or_rejects(data: bytes) -> None:
    try:
        handles = decode_handles(data)
    except RemoteProtocolError:
        return
    assert encode_handles(handles) == data


@st.composite
def mutated(draw: st.DrawFn, encodings: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(encodings))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "extend", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=16))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[at]
    return bytes(data)


@pytest.mark.parametrize("cls", DECODERS, ids=lambda c: c.__name__)
@given(data=st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_fuzz_random_bytes(cls: type[Dataset], data: bytes) -> None:
    assert_decodes_or_rejects(cls, data)
    assert_handles_or_rejects(data)


@pytest.mark.parametrize(("name", "strategy"), DATASETS, ids=[n for n, _ in DATASETS])
@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_fuzz_mutated_encodings(
    name: str, strategy: st.SearchStrategy[Dataset], data: st.DataObject
) -> None:
    value = data.draw(strategy)
    blob = data.draw(mutated(st.just(value.encode())))
    for cls in DECODERS:
        assert_decodes_or_rejects(cls, blob)
    assert_handles_or_rejects(blob)


@given(data=st.data())
@settings(max_examples=200, deadline=None)
def test_fuzz_mutated_golden_bytes(data: st.DataObject) -> None:
    goldens = [STORAGE_BYTES, JPEG_BYTES, *(h(x) for x, _ in DPD_GOLDEN + DPD_LENIENT)]
    blob = data.draw(mutated(st.sampled_from(goldens)))
    for cls in DECODERS:
        assert_decodes_or_rejects(cls, blob)


def test_fuzz_mutated_xh1(xh1: bytes) -> None:
    @given(mutated(st.just(xh1[12:])))
    @settings(max_examples=150, deadline=None)
    def check(blob: bytes) -> None:
        assert_decodes_or_rejects(DeviceInfo, blob)

    check()


def test_dpd_get_set_other_than_0_or_1_is_kept_but_not_writable() -> None:
    dpd = DevicePropDesc.decode(h("01 50 02 00 02 00 00 00"))
    assert dpd.get_set == 2
    assert not dpd.writable
    assert dpd.encode() == h("01 50 02 00 02 00 00 00")
