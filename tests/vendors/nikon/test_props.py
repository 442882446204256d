"""The Nikon dialect's property names, labels and value text, through :mod:`ptpip.props`."""

from __future__ import annotations

import pytest

from ptpip.props import (
    describe_values,
    format_value,
    is_known_enum,
    parse_value,
    prop_label,
    resolve_property,
    unified_names,
)
from ptpip.ptp.codes import DataType, Vendor
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.values import Value
from ptpip.vendors import registry
from ptpip.vendors.nikon import props as nikon_props

N = Vendor.NIKON
U8, U16, U32, I16 = DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.INT16


def enum_desc(code: int, datatype: int, values: tuple[Value, ...]) -> DevicePropDesc:
    return DevicePropDesc(code, datatype, 1, values[0], values[0], PropEnum(values))


def test_registry_finds_the_dialect() -> None:
    assert registry.part(N, "props") is nikon_props
    assert set(nikon_props.UNIFIED) <= set(unified_names(N))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("iso", 0x500F),
        ("shutterspeed", 0x500D),
        ("exposure", 0x500D),
        ("aperture", 0x5007),
        ("exp-bias", 0x5010),
        ("whitebalance", 0x5005),
        ("autoiso", 0xD054),
        ("shutterspeed2", 0xD100),
        ("imagequality", 0x5004),
        ("picturecontrol", 0xD200),
        ("focusmode", 0x500A),
        ("picture control", 0xD200),
        ("ActivePicCtrlItem", 0xD200),
        ("ExposureIndexEx", 0xD0B4),
        ("0xd100", 0xD100),
    ],
)
def test_resolve_property(text: str, code: int) -> None:
    assert resolve_property(text, N) == code
    assert resolve_property(text, "nikon") == code


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (0x5004, "image quality"),
        (0xD100, "shutter speed"),
        (0xD054, "auto ISO"),
        (0xD200, "picture control"),
        (0x5005, "white balance"),
        (0xD1A2, "live-view status"),
        (0xD0B6, "RawImageSize"),  # no label: the code name from codes.py
    ],
)
def test_prop_label(code: int, label: str) -> None:
    assert prop_label(code, N) == label


def test_nikon_names_do_not_leak() -> None:
    with pytest.raises(ValueError, match="unknown property"):
        resolve_property("picturecontrol", Vendor.GENERIC)
    assert prop_label(0xD200, Vendor.GENERIC) == "0xD200"


FORMAT: list[tuple[int, Value, str]] = [
    (0x500F, 800, "800"),
    (0x500F, 0xFFFF, "65535"),  # no "auto" on Nikon
    (0xD0B4, 72000, "72000"),
    (0x500D, 40, "1/250 s"),
    (0x500D, 25000, "2.5 s"),
    (0x500D, 0xFFFFFFFF, "bulb"),
    (0x500D, 0xFFFFFFFD, "time"),
    (0xD100, 0x000100FA, "1/250 s"),
    (0xD100, 0x0019000A, "2.5 s"),
    (0xD100, 0x000A0019, "1/2.5 s"),
    (0xD100, 0xFFFFFFFE, "x200"),
    (0xD1A8, 0xFFFFFFFF, "bulb"),
    (0x5007, 560, "f/5.6"),
    (0x5007, 800, "f/8"),
    (0xD1A9, 1100, "f/11"),
    (0x5010, -667, "-2/3"),
    (0x5010, 1333, "+1 1/3"),
    (0xD1AB, -333, "-1/3"),
    (0x5005, 4, "daylight"),
    (0x5005, 0x8011, "shade"),
    (0x500A, 0x8011, "AF-C"),
    (0x5004, 13, "RAW + JPEG fine*"),
    (0xD200, 1, "standard"),
    (0xD054, 1, "on"),
    (0xD161, 0, "AF-S"),
    (0xD061, 2, "AF-F"),
    (0xD10B, 1, "SDRAM"),
    (0xD1AC, 3, "XGA"),
    (0xD1A4, 1 << 8, "battery exhausted"),
    (0xD1A4, 0, "none"),
    (0x5001, 80, "80%"),
    (0x500E, 0x8010, "auto"),
    (0x500E, 3, "A"),  # the dial letters, as libgphoto2 labels them
]


@pytest.mark.parametrize(("code", "value", "text"), FORMAT)
def test_format_value(code: int, value: Value, text: str) -> None:
    assert format_value(code, value, N) == text


def test_format_bias_in_an_unsigned_field() -> None:
    assert format_value(0x5010, 0xFD65, N, datatype=U16) == "-2/3"


PARSE: list[tuple[int, str, Value]] = [
    (0x500F, "800", 800),
    (0x500F, "ISO 100", 100),
    (0x500D, "1/250", 40),
    (0x500D, "1/250 s", 40),
    (0x500D, "time", 0xFFFFFFFD),
    (0x500D, "bulb", 0xFFFFFFFF),
    (0xD100, "1/250", 0x000100FA),
    (0xD100, "1/250 s", 0x000100FA),
    (0xD100, "2.5 s", 0x0019000A),
    (0xD100, "x200", 0xFFFFFFFE),
    (0x5007, "8", 800),
    (0x5007, "f/5.6", 560),
    (0x5010, "-2/3", -667),
    (0x5010, "+1 1/3", 1333),
    (0x5005, "daylight", 4),
    (0x5005, "Cloudy", 0x8010),
    (0x5005, "auto", 2),
    (0x500A, "af-s", 0x8010),
    (0x5004, "NEF + JPEG fine", 12),
    (0xD200, "vivid", 3),
    (0xD054, "on", 1),
    (0xD054, "off", 0),
    (0x5001, "75%", 75),
]


@pytest.mark.parametrize(("code", "text", "value"), PARSE)
def test_parse_value(code: int, text: str, value: Value) -> None:
    assert parse_value(code, text, N) == value


def test_the_briefs_commands() -> None:
    """get iso, set shutterspeed 1/250, aperture 8, exp-bias -2/3, whitebalance daylight."""
    iso = resolve_property("iso", N)
    assert format_value(iso, 400, N) == "400"
    cases = [
        ("shutterspeed", "1/250", 40),
        ("aperture", "8", 800),
        ("exp-bias", "-2/3", -667),
        ("whitebalance", "daylight", 4),
    ]
    for name, text, value in cases:
        assert parse_value(resolve_property(name, N), text, N) == value


def test_parse_against_descriptors() -> None:
    """Camera enumerations decide: nearest thirds snap, labels must be offered."""
    shutter = enum_desc(0xD100, U32, (0x000100FA, 0x00010140, 0x000100C8, 0xFFFFFFFF))
    assert parse_value(0xD100, "1/250", N, shutter) == 0x000100FA
    assert parse_value(0xD100, "1/260", N, shutter) == 0x000100FA  # within a third: snaps
    with pytest.raises(ValueError, match="allowed"):
        parse_value(0xD100, "1/1000", N, shutter)
    aperture = enum_desc(0x5007, U16, (400, 450, 500, 560, 630, 710, 800))
    assert parse_value(0x5007, "5.7", N, aperture) == 560
    bias = enum_desc(0x5010, I16, (-1000, -667, -333, 0, 333, 667, 1000))
    assert parse_value(0x5010, "-0.7", N, bias) == -667
    wb = enum_desc(0x5005, U16, (2, 4, 0x8010, 0x8011))
    assert parse_value(0x5005, "shade", N, wb) == 0x8011
    with pytest.raises(ValueError, match="allowed"):
        parse_value(0x5005, "flash", N, wb)
    exposure = enum_desc(0x500D, U32, (40, 50, 80, 0xFFFFFFFF, 0xFFFFFFFD))
    assert parse_value(0x500D, "time", N, exposure) == 0xFFFFFFFD


def test_describe_values() -> None:
    desc = enum_desc(0xD100, U32, (0x000100FA, 0x0019000A, 0xFFFFFFFF))
    assert describe_values(desc, N) == ["1/250 s", "2.5 s", "bulb"]
    battery = DevicePropDesc(0x5001, U8, 0, 100, 80, PropRange(0, 100, 1))
    assert describe_values(battery, N) == ["0% … 100%, step 1%"]


def test_known_enums() -> None:
    for code in (0x5004, 0x5005, 0x500A, 0xD054, 0xD161, 0xD200):
        assert is_known_enum(code, N)
    for code in (0x500F, 0xD100, 0x5007):
        assert not is_known_enum(code, N)


def test_formats_hold_their_datatypes() -> None:
    formats = nikon_props.FORMATS
    assert formats[0x5004].datatype == U8
    assert formats[0xD054].datatype == U8
    assert formats[0xD100].datatype == U32
    assert formats[0xD0B4].datatype == U32
    assert formats[0x500F].datatype == U16
    assert formats[0x5010].signed
