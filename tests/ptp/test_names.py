"""Tests for ptpip.ptp.names: vendor-aware code names, both ways."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptpip.ptp.codes import DataType, Vendor
from ptpip.ptp.names import CodeKind, lookup, name, names, vendor_for
from ptpip.vendors.canon.codes import CanonOperation
from ptpip.vendors.fuji.codes import FujiProperty
from ptpip.vendors.leica.codes import LeicaOperation

OP = CodeKind.OPERATION
RESP = CodeKind.RESPONSE
EVT = CodeKind.EVENT
PROP = CodeKind.PROPERTY
FMT = CodeKind.OBJECT_FORMAT
DT = CodeKind.DATATYPE

# ptpip-standard.md §12–17
STANDARD = [
    (OP, 0x1001, "GetDeviceInfo"),
    (OP, 0x1004, "GetStorageIDs"),
    (OP, 0x101B, "GetPartialObject"),
    (OP, 0x1025, "GetStream"),
    (RESP, 0x2001, "OK"),
    (RESP, 0x2004, "InvalidTransactionID"),
    (RESP, 0x2019, "DeviceBusy"),
    (RESP, 0x201E, "SessionAlreadyOpen"),
    (EVT, 0x4002, "ObjectAdded"),
    (EVT, 0x4006, "DevicePropChanged"),
    (EVT, 0x400D, "CaptureComplete"),
    (PROP, 0x5005, "WhiteBalance"),
    (PROP, 0x5006, "RGBGain"),
    (PROP, 0x5007, "FNumber"),
    (PROP, 0x500F, "ExposureIndex"),
    (PROP, 0x501D, "UploadURL"),
    (PROP, 0x5021, "EnabledStreams"),
    (FMT, 0x3001, "Association"),
    (FMT, 0x3801, "EXIF/JPEG"),
    (FMT, 0x3811, "DNG"),
    (DT, 0x0004, "UINT16"),
    (DT, 0x4006, "AUINT32"),
    (DT, 0xFFFF, "STR"),
]

# vendor-canon.md §6, §7, §10.1; vendor-fuji.md §4.3, §5, §7.2, §8; vendor-leica.md §5;
# vendor-others.md §1, §2 and libgphoto2 ptp.h
VENDOR_SPECIFIC = [
    (Vendor.CANON, OP, 0x9114, "SetRemoteMode"),
    (Vendor.CANON, OP, 0x9116, "GetEvent"),
    (Vendor.CANON, OP, 0x9153, "GetViewFinderData"),
    (Vendor.CANON, OP, 0x911A, "PCHDDCapacity"),
    (Vendor.CANON, OP, 0x9101, "EOSGetStorageIDs"),
    (Vendor.CANON, RESP, 0xA102, "ObjectNotReady"),
    (Vendor.CANON, EVT, 0xC189, "PropValueChanged"),
    (Vendor.CANON, EVT, 0xC18A, "AvailListChanged"),
    (Vendor.CANON, EVT, 0xC1A4, "CTGInfoCheckComplete"),
    (Vendor.CANON, PROP, 0xD103, "ISOSpeed"),
    (Vendor.CANON, PROP, 0xD11C, "CaptureDestination"),
    (Vendor.CANON, PROP, 0xD1B0, "EVFOutputDevice"),
    (Vendor.CANON, PROP, 0xD1B4, "EVFWBMode"),
    (Vendor.CANON, FMT, 0xB108, "CR3"),
    (Vendor.FUJI, OP, 0x9022, "GetCapturePreview"),
    (Vendor.FUJI, OP, 0x902B, "GetFujiDeviceInfo"),
    (Vendor.FUJI, EVT, 0xC001, "PreviewAvailable"),
    (Vendor.FUJI, EVT, 0xC004, "FujiObjectAdded"),
    (Vendor.FUJI, PROP, 0xD001, "FilmSimulation"),
    (Vendor.FUJI, PROP, 0xD02A, "FujiExposureIndex"),
    (Vendor.FUJI, PROP, 0xD17C, "FocusPoint"),
    (Vendor.FUJI, PROP, 0xD212, "CurrentState"),
    (Vendor.FUJI, PROP, 0xD240, "ShutterSpeed"),
    (Vendor.FUJI, PROP, 0xDF00, "CameraState"),
    (Vendor.FUJI, PROP, 0xDF01, "ClientState"),
    (Vendor.LEICA, OP, 0x9005, "OpenLESession"),
    (Vendor.LEICA, OP, 0x9006, "CloseLESession"),
    (Vendor.LEICA, OP, 0x901D, "LEKeepSessionActive"),
    (Vendor.LEICA, OP, 0x9025, "LEGetStreamData"),
    (Vendor.LEICA, OP, 0x9033, "LEGetLookPropList"),
    (Vendor.LEICA, OP, 0x9020, "Get3DAxisData"),
    (Vendor.LEICA, OP, 0x9116, "GetViewFinderData"),
    (Vendor.LEICA, PROP, 0xD018, "ExternalShooting"),
    (Vendor.NIKON, OP, 0x90C0, "InitiateCaptureRecInSDRAM"),
    (Vendor.NIKON, OP, 0x90C7, "GetEvent"),
    (Vendor.NIKON, OP, 0x90C8, "DeviceReady"),
    (Vendor.NIKON, OP, 0x9201, "StartLiveView"),
    (Vendor.NIKON, OP, 0x941C, "GetEventEx"),
    (Vendor.NIKON, OP, 0x9431, "GetPartialObjectEx"),
    (Vendor.NIKON, OP, 0x9435, "ChangeApplicationMode"),
    (Vendor.NIKON, RESP, 0xA00B, "NotLiveView"),
    (Vendor.NIKON, RESP, 0xA209, "InvalidSBAttributeValue"),
    (Vendor.NIKON, EVT, 0xC101, "ObjectAddedInSDRAM"),
    (Vendor.NIKON, EVT, 0xC123, "SBGroupAttrChanged"),
    (Vendor.NIKON, PROP, 0xD054, "ISOAuto"),
    (Vendor.NIKON, PROP, 0xD1A2, "LiveViewStatus"),
    (Vendor.SONY, OP, 0x9201, "SDIOConnect"),
    (Vendor.SONY, OP, 0x9205, "SDIOSetExtDevicePropValue"),
    (Vendor.SONY, OP, 0x9207, "SDIOControlDevice"),
    (Vendor.SONY, OP, 0x9209, "SDIOGetAllExtDevicePropInfo"),
    (Vendor.SONY, RESP, 0xA101, "AuthenticationFailed"),
    (Vendor.SONY, RESP, 0xA106, "CameraStatusError"),
    (Vendor.SONY, EVT, 0xC203, "SonyDevicePropChanged"),
    (Vendor.SONY, EVT, 0xC206, "CapturedEvent"),
    (Vendor.SONY, PROP, 0xD20D, "ShutterSpeed"),
    (Vendor.SONY, PROP, 0xD21E, "ISO"),
    (Vendor.SONY, PROP, 0xD2C1, "S1Button"),
]

VENDORS = list(Vendor)
KINDS = list(CodeKind)
# Where vendor codes live, ptpip-standard.md §12
VENDOR_RANGE = {OP: 0x9000, RESP: 0xA000, EVT: 0xC000, PROP: 0xD000, FMT: 0xB000}


@pytest.mark.parametrize(("kind", "code", "expected"), STANDARD)
@pytest.mark.parametrize("vendor", VENDORS)
def test_standard_codes_named_for_every_vendor(
    vendor: Vendor, kind: CodeKind, code: int, expected: str
) -> None:
    assert name(kind, code, vendor) == expected


@pytest.mark.parametrize(("vendor", "kind", "code", "expected"), VENDOR_SPECIFIC)
def test_vendor_codes(vendor: Vendor, kind: CodeKind, code: int, expected: str) -> None:
    assert name(kind, code, vendor) == expected
    assert name(kind, code, vendor.value) == expected
    assert lookup(kind, expected, vendor) == code


@pytest.mark.parametrize(("vendor", "kind", "code", "expected"), VENDOR_SPECIFIC)
def test_vendor_codes_hidden_from_generic(
    vendor: Vendor, kind: CodeKind, code: int, expected: str
) -> None:
    assert name(kind, code) == f"0x{code:04X}"
    assert lookup(kind, expected) is None


def test_same_code_means_different_things_per_vendor() -> None:
    assert name(OP, 0x9116, "canon") == "GetEvent"
    assert name(OP, 0x9116, "leica") == "GetViewFinderData"
    assert name(OP, 0x9116, "generic") == "0x9116"
    assert name(OP, 0x9116, "fuji") == "0x9116"
    assert lookup(OP, "GetEvent", Vendor.CANON) == 0x9116
    assert lookup(OP, "GetEvent", Vendor.NIKON) == 0x90C7
    assert lookup(OP, "GetEvent", Vendor.LEICA) is None


def test_unknown_codes_are_hex() -> None:
    assert name(OP, 0x9999) == "0x9999"
    assert name(PROP, 0xD0AB, Vendor.CANON) == "0xD0AB"
    assert name(EVT, 0x0C) == "0x000C"
    assert name(RESP, 0xABCD, "sony") == "0xABCD"


def test_name_accepts_enum_members_and_kind_strings() -> None:
    assert name(OP, CanonOperation.GET_EVENT, Vendor.CANON) == "GetEvent"
    assert name(CodeKind("property"), FujiProperty.CURRENT_STATE, "fuji") == "CurrentState"
    assert name(DT, DataType.UINT16) == "UINT16"


@pytest.mark.parametrize("vendor", ["ACME", "", "canonical"])
def test_unknown_vendor_raises(vendor: str) -> None:
    with pytest.raises(ValueError, match="unknown vendor"):
        name(OP, 0x1001, vendor)
    with pytest.raises(ValueError, match="unknown vendor"):
        lookup(OP, "GetDeviceInfo", vendor)
    with pytest.raises(ValueError, match="unknown vendor"):
        names(OP, vendor)


def test_vendor_string_is_case_insensitive() -> None:
    assert name(OP, 0x9116, "Canon") == "GetEvent"


@pytest.mark.parametrize(
    "text", ["WhiteBalance", "whitebalance", "white_balance", "WHITE_BALANCE", "white-balance"]
)
def test_lookup_spellings(text: str) -> None:
    assert lookup(PROP, text) == 0x5005
    assert lookup(PROP, f"  {text} ") == 0x5005


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0x5005", 0x5005), ("0X5005", 0x5005), ("0xd212", 0xD212), ("0x1", 1), ("5005", None)],
)
def test_lookup_hex(text: str, expected: int | None) -> None:
    assert lookup(PROP, text) == expected


@pytest.mark.parametrize("text", ["", "0x", "0x12345", "0xZZ", "-0x1", "NoSuchThing", "0x_50"])
def test_lookup_unknown_is_none(text: str) -> None:
    assert lookup(PROP, text) is None


def test_lookup_accepts_member_names_and_aliases() -> None:
    assert lookup(FMT, "EXIF/JPEG") == 0x3801
    assert lookup(FMT, "EXIF_JPEG") == 0x3801
    assert lookup(OP, "get storage ids") == 0x1004
    assert lookup(PROP, "InitSequence", "fuji") == 0xDF01
    assert lookup(PROP, "AppVersion", "fuji") == 0xDF24
    assert lookup(OP, "LEOpenSession", "leica") == LeicaOperation.OPEN_LE_SESSION
    assert lookup(OP, "CheckEvent", "nikon") == 0x90C7
    assert lookup(OP, "SetControlDeviceA", "sony") == 0x9205
    assert lookup(DT, "uint16") == DataType.UINT16


def test_collisions_with_standard_names_are_prefixed() -> None:
    # The plain name keeps meaning the standard code for every vendor.
    assert lookup(OP, "GetStorageIDs", "canon") == 0x1004
    assert lookup(EVT, "DevicePropChanged", "sony") == 0x4006
    assert lookup(PROP, "ExposureIndex", "fuji") == 0x500F
    assert lookup(PROP, "WhiteBalance", "canon") == 0x5005
    assert lookup(PROP, "EOSWhiteBalance", "canon") == 0xD109


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_round_trip_every_known_code(vendor: Vendor, kind: CodeKind) -> None:
    table = names(kind, vendor)
    assert table
    for code, text in table.items():
        assert name(kind, code, vendor) == text
        assert lookup(kind, text, vendor) == code, text
    assert len(set(table.values())) == len(table)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_vendor_tables_extend_standard_only_in_vendor_ranges(
    vendor: Vendor, kind: CodeKind
) -> None:
    standard = names(kind)
    table = names(kind, vendor)
    assert standard.items() <= table.items()
    extra = table.keys() - standard.keys()
    if vendor is Vendor.GENERIC or kind is DT:
        assert not extra
    for code in extra:
        assert code & 0xF000 == VENDOR_RANGE[kind], f"{vendor} {kind} 0x{code:04X}"


def test_names_is_sorted_and_a_copy() -> None:
    table = names(OP, Vendor.CANON)
    assert list(table) == sorted(table)
    table[0x1001] = "Mangled"
    assert names(OP, Vendor.CANON)[0x1001] == "GetDeviceInfo"


@pytest.mark.parametrize(
    ("vendor", "kind", "minimum"),
    [
        (Vendor.CANON, PROP, 50),
        (Vendor.NIKON, PROP, 40),
        (Vendor.SONY, PROP, 40),
        (Vendor.NIKON, EVT, 17),
        (Vendor.SONY, EVT, 20),
    ],
)
def test_vendor_tables_are_substantial(vendor: Vendor, kind: CodeKind, minimum: int) -> None:
    assert len(names(kind, vendor)) - len(names(kind)) >= minimum


@pytest.mark.parametrize(
    ("kind", "vendor", "codes"),
    [
        (OP, Vendor.NIKON, [*range(0x90C0, 0x90D0), 0x9201, 0x9207, 0x9400, 0x9439]),
        (RESP, Vendor.NIKON, [0xA001, 0xA00B, 0xA209]),
        (EVT, Vendor.NIKON, [0xC101, 0xC104, 0xC123]),
        (OP, Vendor.SONY, [0x9201, 0x9202, 0x9205, 0x9207, 0x9209, 0x922F, 0x9280, 0x9281]),
        (EVT, Vendor.SONY, [0xC201, 0xC202, 0xC203, 0xC224]),
        (RESP, Vendor.SONY, list(range(0xA101, 0xA107))),
        (OP, Vendor.LEICA, [*range(0x9001, 0x9009), 0x9037, 0x9100, 0x9116]),
        (EVT, Vendor.CANON, [0xC101, 0xC181, 0xC1A7, 0xC1B8]),
    ],
)
def test_required_codes_are_named(kind: CodeKind, vendor: Vendor, codes: list[int]) -> None:
    table = names(kind, vendor)
    missing = [f"0x{code:04X}" for code in codes if code not in table]
    assert not missing


@pytest.mark.parametrize(
    ("manufacturer", "extension_id", "expected"),
    [
        ("FUJIFILM", 6, Vendor.FUJI),  # X-H1 vector: manufacturer wins over MTP's 6
        ("FUJIFILM", 0xE, Vendor.FUJI),
        ("Canon Inc.", 0xB, Vendor.CANON),
        ("Canon Inc.", 6, Vendor.CANON),
        ("LEICA CAMERA AG", 0, Vendor.LEICA),
        ("Leica Camera AG", 0xFFFF_FFFF, Vendor.LEICA),
        ("Nikon Corporation", 6, Vendor.NIKON),
        ("Sony Corporation", 0xFFFF_FFFF, Vendor.SONY),
        ("", 0xB, Vendor.CANON),
        ("ACME", 0xE, Vendor.FUJI),
        ("ACME", 0xA, Vendor.NIKON),
        ("ACME", 0x11, Vendor.SONY),
        ("ACME", 0, Vendor.GENERIC),
        ("RICOH", 6, Vendor.GENERIC),
    ],
)
def test_vendor_for(manufacturer: str, extension_id: int, expected: Vendor) -> None:
    assert vendor_for(manufacturer, extension_id) is expected


@given(
    kind=st.sampled_from(KINDS),
    vendor=st.sampled_from(VENDORS),
    code=st.integers(min_value=0, max_value=0xFFFF),
)
def test_any_code_round_trips(kind: CodeKind, vendor: Vendor, code: int) -> None:
    assert lookup(kind, name(kind, code, vendor), vendor) == code


@given(kind=st.sampled_from(KINDS), vendor=st.sampled_from(VENDORS), text=st.text())
def test_lookup_never_raises(kind: CodeKind, vendor: Vendor, text: str) -> None:
    result = lookup(kind, text, vendor)
    assert result is None or 0 <= result <= 0xFFFF
