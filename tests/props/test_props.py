"""Property names and value text, both ways, per vendor (malc0mn-cli.md §9 and §12)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptpip.camera.props import EXPOSURE_TIMES, generic_properties
from ptpip.props import (
    describe_values,
    format_value,
    is_known_enum,
    parse_value,
    prop_label,
    resolve_property,
    unified_names,
)
from ptpip.props.standard import STANDARD, PropFormat
from ptpip.ptp.codes import DataType, Vendor
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.values import Value, int_range
from ptpip.vendors.canon.props import FORMATS as CANON
from ptpip.vendors.fuji.props import FORMATS as FUJI

GENERIC = {desc.code: desc for desc in generic_properties("x")}
U8, U16, U32, I16 = DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.INT16


def enum_desc(code: int, datatype: int, values: tuple[Value, ...]) -> DevicePropDesc:
    return DevicePropDesc(code, datatype, 1, values[0], values[0], PropEnum(values))


# -- labels ---------------------------------------------------------------------------------

LABELS = [
    (0x5005, "generic", "white balance"),
    (0x500D, "generic", "exposure time"),
    (0x500F, "generic", "ISO"),
    (0x5010, "generic", "exposure bias compensation"),
    (0x5007, "generic", "F-number"),
    (0x5012, "fuji", "capture delay"),
    (0x5018, "generic", "burst number"),
    (0xD001, "fuji", "film simulation"),
    (0xD02A, "fuji", "ISO"),
    (0xD17C, "fuji", "focus point"),
    (0xD240, "fuji", "shutter speed"),
    (0xD242, "fuji", "battery level"),
    (0xD019, "fuji", "rec mode"),
    (0xD101, "canon", "aperture"),
    (0xD102, "canon", "shutter speed"),
    (0xD103, "canon", "ISO"),
    (0xD104, "canon", "exposure compensation"),
    (0x5021, "generic", "EnabledStreams"),  # no label: the code name
    (0xD170, "fuji", "LensZoomPos"),
    (0xD001, "generic", "0xD001"),  # a Fuji code means nothing to a generic camera
    (0x9999, Vendor.CANON, "0x9999"),
]


@pytest.mark.parametrize(("code", "vendor", "label"), LABELS)
def test_prop_label(code: int, vendor: str, label: str) -> None:
    assert prop_label(code, vendor) == label


def test_unknown_vendor() -> None:
    with pytest.raises(ValueError, match="unknown vendor 'kodak'"):
        prop_label(0x5005, "kodak")


# -- property names -------------------------------------------------------------------------

RESOLVE = [
    ("iso", "generic", 0x500F),
    ("iso", "fuji", 0xD02A),
    ("iso", "canon", 0xD103),
    ("iso", "nikon", 0x500F),
    ("ISO", "fuji", 0xD02A),
    ("effect", "generic", 0x5017),
    ("effect", "fuji", 0xD001),
    ("focusmtr", "generic", 0x501C),
    ("focusmtr", "fuji", 0xD17C),
    ("recmode", "fuji", 0xD019),
    ("exposure", "generic", 0x500D),
    ("exposure", "fuji", 0x500D),
    ("exposure", "canon", 0xD102),
    ("shutterspeed", "generic", 0x500D),
    ("shutterspeed", "fuji", 0xD240),
    ("shutterspeed", "canon", 0xD102),
    ("exp-bias", "generic", 0x5010),
    ("exp_bias", "generic", 0x5010),
    ("exp-bias", "canon", 0xD104),
    ("whitebalance", "generic", 0x5005),
    ("whitebalance", "canon", 0xD109),
    ("aperture", "generic", 0x5007),
    ("aperture", "fuji", 0x5007),
    ("aperture", "canon", 0xD101),
    ("delay", "generic", 0x5012),
    ("flashmode", "fuji", 0x500C),
    ("0x5005", "generic", 0x5005),
    ("0X5005", "generic", 0x5005),
    ("0xd02a", "fuji", 0xD02A),
    ("0x9999", "generic", 0x9999),
    ("WhiteBalance", "generic", 0x5005),
    ("white_balance", "generic", 0x5005),
    ("white balance", "generic", 0x5005),
    ("ExposureIndex", "generic", 0x500F),
    ("ExposureIndex", "fuji", 0x500F),
    ("FilmSimulation", "fuji", 0xD001),
    ("film simulation", "fuji", 0xD001),
    ("focus point", "fuji", 0xD17C),
    ("exposure compensation", "canon", 0xD104),
    ("ISOSpeed", "canon", 0xD103),
    (" iso ", Vendor.FUJI, 0xD02A),
]


@pytest.mark.parametrize(("text", "vendor", "code"), RESOLVE)
def test_resolve_property(text: str, vendor: str, code: int) -> None:
    assert resolve_property(text, vendor) == code


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        ("nonsense", "generic"),
        ("5005", "generic"),  # hex needs its 0x
        ("recmode", "generic"),
        ("FilmSimulation", "generic"),
        ("", "generic"),
    ],
)
def test_resolve_property_unknown(text: str, vendor: str) -> None:
    with pytest.raises(ValueError, match="unknown property") as exc:
        resolve_property(text, vendor)
    assert "exp-bias, exposure, flashmode, focusmtr, iso" in str(exc.value)


def test_resolve_property_too_wide() -> None:
    with pytest.raises(ValueError, match="0x12345 does not fit 16 bits"):
        resolve_property("0x12345", "generic")


def test_unified_names() -> None:
    assert unified_names("generic") == {
        "aperture": 0x5007, "delay": 0x5012, "effect": 0x5017, "exp-bias": 0x5010,
        "exposure": 0x500D, "flashmode": 0x500C, "focusmtr": 0x501C, "iso": 0x500F,
        "shutterspeed": 0x500D, "whitebalance": 0x5005,
    }  # fmt: skip
    fuji = unified_names(Vendor.FUJI)
    assert (fuji["effect"], fuji["focusmtr"], fuji["iso"], fuji["recmode"]) == (
        0xD001, 0xD17C, 0xD02A, 0xD019,
    )  # fmt: skip
    canon = unified_names("canon")
    assert [canon[k] for k in ("aperture", "exposure", "iso", "exp-bias", "whitebalance")] == [
        0xD101, 0xD102, 0xD103, 0xD104, 0xD109,
    ]  # fmt: skip
    assert "recmode" not in unified_names("leica")
    assert all(type(code) is int for code in fuji.values())


# -- formatting -----------------------------------------------------------------------------

FORMAT: list[tuple[str, int, Value, str]] = [
    # exposure time, 1/10000 s
    ("generic", 0x500D, 40, "1/250 s"),
    ("generic", 0x500D, 25, "1/400 s"),
    ("generic", 0x500D, 80, "1/125 s"),
    ("generic", 0x500D, 167, "1/60 s"),
    ("generic", 0x500D, 16, "1/640 s"),
    ("generic", 0x500D, 6, "1/1600 s"),
    ("generic", 0x500D, 2, "1/5000 s"),
    ("generic", 0x500D, 1, "1/8000 s"),
    ("generic", 0x500D, 9, "1/1111 s"),
    ("generic", 0x500D, 63, "1/159 s"),
    ("generic", 0x500D, 2500, "1/4 s"),
    ("generic", 0x500D, 2857, "0.2857 s"),
    ("generic", 0x500D, 3000, "0.3 s"),
    ("generic", 0x500D, 5000, "1/2 s"),
    ("generic", 0x500D, 6000, "0.6 s"),
    ("generic", 0x500D, 10000, "1 s"),
    ("generic", 0x500D, 13000, "1.3 s"),
    ("generic", 0x500D, 25000, "2.5 s"),
    ("generic", 0x500D, 300000, "30 s"),
    ("generic", 0x500D, 0, "0 s"),
    ("generic", 0x500D, 0xFFFFFFFF, "bulb"),
    ("fuji", 0x500D, 300000, "30 s"),
    # F-number
    ("generic", 0x5007, 560, "f/5.6"),
    ("generic", 0x5007, 280, "f/2.8"),
    ("generic", 0x5007, 800, "f/8"),
    ("generic", 0x5007, 1100, "f/11"),
    ("generic", 0x5007, 0xFFFF, "auto"),
    ("generic", 0x5007, 0, "auto"),
    ("fuji", 0x5007, 0xFFFF, "auto"),
    ("fuji", 0x5007, 710, "f/7.1"),
    # exposure bias, 1/1000 EV; a "+" on positives, unlike the seed
    ("generic", 0x5010, 0, "0"),
    ("generic", 0x5010, 333, "+1/3"),
    ("generic", 0x5010, 667, "+2/3"),
    ("generic", 0x5010, 1000, "+1"),
    ("generic", 0x5010, 1333, "+1 1/3"),
    ("generic", 0x5010, -1667, "-1 2/3"),
    ("generic", 0x5010, -333, "-1/3"),
    ("generic", 0x5010, -2000, "-2"),
    ("generic", 0x5010, 500, "+0.5"),
    ("generic", 0x5010, 0xFEB3, "-1/3"),  # a zero-extended INT16
    ("fuji", 0x5010, 1333, "+1 1/3"),
    ("fuji", 0x5010, -1667, "-1 2/3"),
    # units
    ("generic", 0x5008, 2400, "24 mm"),
    ("generic", 0x5008, 2450, "24.5 mm"),
    ("generic", 0x5009, 1500, "1500 mm"),
    ("generic", 0x5009, 0xFFFF, "infinity"),
    ("generic", 0x5001, 80, "80%"),
    ("generic", 0x500F, 3200, "3200"),
    ("generic", 0x500F, 0xFFFF, "auto"),
    ("generic", 0x5012, 0, "off"),
    ("generic", 0x5012, 2000, "2 s"),
    ("generic", 0x5012, 500, "0.5 s"),
    ("generic", 0x5012, 10000, "10 s"),
    # strings and arrays
    ("generic", 0x5011, "20240101T120000", "2024-01-01 12:00:00"),
    ("generic", 0x5011, "20240101T120000.5Z", "2024-01-01 12:00:00.5Z"),
    ("generic", 0x5011, "junk", "junk"),
    ("generic", 0x5003, "4000x3000", "4000x3000"),
    ("generic", 0x501E, "Ann", "Ann"),
    ("generic", 0xD212, (1, 2, 3), "1, 2, 3"),
    # generic enumerations
    ("generic", 0x5005, 0, "undefined"),
    ("generic", 0x5005, 2, "automatic"),
    ("generic", 0x5005, 3, "one push automatic"),
    ("generic", 0x5005, 4, "daylight"),
    ("generic", 0x5005, 7, "flash"),
    ("generic", 0x5005, 9, "9"),
    ("generic", 0x5005, 0x8001, "0x8001"),
    ("generic", 0x500C, 1, "auto flash"),
    ("generic", 0x500C, 2, "off"),
    ("generic", 0x500C, 6, "external sync"),
    ("generic", 0x500C, 0x8009, "0x8009"),
    ("generic", 0x500E, 3, "aperture priority"),
    ("generic", 0x500E, 6, "program action"),
    ("generic", 0x500B, 2, "center weighted average"),
    ("generic", 0x500A, 3, "automatic macro"),
    ("generic", 0x501C, 1, "center spot"),
    ("generic", 0x5017, 2, "black and white"),
    ("generic", 0x5013, 3, "timelapse"),
    ("generic", 0x5002, 1, "sleep"),
    ("generic", 0x5018, 5, "5"),  # no formatter: decimal
    ("generic", 0xD240, 0x8003D090, "2147733648"),  # a Fuji code on a generic camera
    # Fujifilm (malc0mn-cli.md §12)
    ("fuji", 0x5005, 4, "daylight"),
    ("fuji", 0x5005, 0x8001, "fluorescent 1"),
    ("fuji", 0x5005, 0x8006, "shade"),
    ("fuji", 0x5005, 0x800B, "color temperature"),
    ("fuji", 0x500C, 0x8009, "disabled"),
    ("fuji", 0x500C, 2, "off"),
    ("fuji", 0x500A, 0x8001, "single auto"),
    ("fuji", 0x500A, 0x8002, "continuous auto"),
    ("fuji", 0x500A, 1, "manual"),
    ("fuji", 0x500E, 6, "auto"),
    ("fuji", 0x5001, 3, "3/3"),
    ("fuji", 0x5001, 6, "critical"),
    ("fuji", 0xD242, 11, "5/5"),
    ("fuji", 0x5012, 0, "off"),
    ("fuji", 0x5012, 2, "2 seconds"),
    ("fuji", 0x5012, 4, "10 seconds"),
    ("fuji", 0xD001, 1, "PROVIA"),
    ("fuji", 0xD001, 2, "Velvia"),
    ("fuji", 0xD001, 11, "Classic Chrome"),
    ("fuji", 0xD02A, 0x140, "320"),
    ("fuji", 0xD02A, 0x40000064, "L100"),
    ("fuji", 0xD02A, 0x40003200, "H12800"),
    ("fuji", 0xD02A, 0x80001900, "S6400"),
    ("fuji", 0xD02A, 0xFFFFFFFF, "auto"),
    ("fuji", 0xD02B, 0x80001900, "S6400"),
    ("fuji", 0xD240, 0x8003D090, "1/250 s"),
    ("fuji", 0xD240, 0x803D0900, "1/4000 s"),
    ("fuji", 0xD240, 2000, "2 s"),
    ("fuji", 0xD240, 0xFFFFFFFF, "bulb/----"),
    ("fuji", 0xD17C, 0x03020702, "7x2"),
    ("fuji", 0xD17C, 0x03020602, "6x2"),
    ("fuji", 0xD17C, 0, "0x0"),
    ("fuji", 0xD018, 4, "fine + RAW"),
    ("fuji", 0xD241, 10, "L 3:2"),
    ("fuji", 0xD028, 2, "shutter speed"),
    ("fuji", 0xD209, 1, "on"),
    ("fuji", 0xD019, 1, "1"),
    # Canon EOS (vendor-canon.md §10)
    ("canon", 0xD101, 0x30, "f/5.6"),
    ("canon", 0xD101, 0x58, "f/32"),
    ("canon", 0xD101, 0xFFFF, "auto"),
    ("canon", 0xD102, 0x78, "1/250 s"),
    ("canon", 0xD102, 0x2D, "2.5 s"),
    ("canon", 0xD102, 0x0C, "bulb"),
    ("canon", 0xD103, 0x70, "3200"),
    ("canon", 0xD103, 0x00, "auto"),
    ("canon", 0xD104, 0x00, "0"),
    ("canon", 0xD104, 0x0B, "+1 1/3"),
    ("canon", 0xD104, 0xFB, "-2/3"),
    ("canon", 0xD105, 0x03, "M"),
    ("canon", 0xD138, 0x02, "Av"),
    ("canon", 0xD11C, 4, "host"),
    ("canon", 0xD1B0, 3, "TFT + PC"),
    ("canon", 0xD1B1, 1, "on"),
    ("canon", 0x5005, 4, "daylight"),  # standard codes keep their generic form
]


@pytest.mark.parametrize(("vendor", "code", "value", "text"), FORMAT)
def test_format_value(vendor: str, code: int, value: Value, text: str) -> None:
    assert format_value(code, value, vendor) == text


@pytest.mark.parametrize(
    ("datatype", "value", "text"),
    [(U16, 0xFEB3, "-1/3"), (U32, 0xFFFFFEB3, "-1/3"), (I16, -333, "-1/3"), (U32, 333, "+1/3")],
)
def test_format_bias_in_unsigned_fields(datatype: int, value: int, text: str) -> None:
    assert format_value(0x5010, value, "generic", datatype=datatype) == text


# -- parsing without a descriptor -----------------------------------------------------------

PARSE: list[tuple[str, int, str, Value]] = [
    ("generic", 0x500D, "1/250", 40),
    ("generic", 0x500D, "1/250s", 40),
    ("generic", 0x500D, "1/250 s", 40),
    ("generic", 0x500D, "2.5", 25000),
    ("generic", 0x500D, "2.5s", 25000),
    ("generic", 0x500D, '30"', 300000),
    ("generic", 0x500D, "1 1/2 seconds", 15000),
    ("generic", 0x500D, "1/4000", 2),  # 2.5 rounds half to even, as cameras store it
    ("generic", 0x500D, "bulb", 0xFFFFFFFF),
    ("generic", 0x500D, "0x28", 40),
    ("generic", 0x5007, "f/5.6", 560),
    ("generic", 0x5007, "F5.6", 560),
    ("generic", 0x5007, "5.6", 560),
    ("generic", 0x5007, "auto", 0xFFFF),
    ("generic", 0x5010, "-2/3", -667),
    ("generic", 0x5010, "+1/3", 333),
    ("generic", 0x5010, "-1 2/3", -1667),
    ("generic", 0x5010, "0", 0),
    ("generic", 0x5010, "+1 EV", 1000),
    ("generic", 0x500F, "3200", 3200),
    ("generic", 0x500F, "ISO 800", 800),
    ("generic", 0x500F, "auto", 0xFFFF),
    ("generic", 0x500F, "0x320", 0x320),
    ("generic", 0x5008, "24mm", 2400),
    ("generic", 0x5008, "24.5 mm", 2450),
    ("generic", 0x5009, "1500mm", 1500),
    ("generic", 0x5009, "infinity", 0xFFFF),
    ("generic", 0x5001, "80%", 80),
    ("generic", 0x5012, "2s", 2000),
    ("generic", 0x5012, "2", 2000),
    ("generic", 0x5012, "0.5 s", 500),
    ("generic", 0x5012, "500ms", 500),
    ("generic", 0x5012, "off", 0),
    ("generic", 0x5005, "daylight", 4),
    ("generic", 0x5005, "DAYLIGHT", 4),
    ("generic", 0x5005, "one_push-automatic", 3),
    ("generic", 0x5005, "One Push Automatic", 3),
    ("generic", 0x5005, "2", 2),
    ("generic", 0x5005, "0x8001", 0x8001),
    ("generic", 0x5005, "0X8001", 0x8001),
    ("generic", 0x500C, "red-eye auto", 4),
    ("generic", 0x5018, "7", 7),
    ("generic", 0x5018, "0x10", 16),
    ("generic", 0x5011, "2024-01-01 12:00:00", "20240101T120000"),
    ("generic", 0x5011, "20240101T120000", "20240101T120000"),
    ("generic", 0x5011, "2024-01-01T12:00:00.5+01:00", "20240101T120000.5+0100"),
    ("generic", 0x501E, "  Ann  ", "  Ann  "),
    ("fuji", 0x5005, "shade", 0x8006),
    ("fuji", 0x500C, "disabled", 0x8009),
    ("fuji", 0x500A, "single auto", 0x8001),
    ("fuji", 0x5012, "2 seconds", 2),
    ("fuji", 0x5012, "2s", 2),
    ("fuji", 0x5012, "off", 0),
    ("fuji", 0xD001, "astia", 3),
    ("fuji", 0xD001, "classic-chrome", 11),
    ("fuji", 0xD001, "pro neg. hi", 6),
    ("fuji", 0xD02A, "S6400", 0x80001900),
    ("fuji", 0xD02A, "L100", 0x40000064),
    ("fuji", 0xD02A, "320", 0x140),
    ("fuji", 0xD02A, "auto", 0xFFFFFFFF),
    ("fuji", 0xD02A, "0x320", 0x320),
    ("fuji", 0xD240, "1/250", 0x8003D090),
    ("fuji", 0xD240, "1/250 s", 0x8003D090),
    ("fuji", 0xD240, "2 s", 2000),
    ("fuji", 0xD17C, "7x2", 0x03020702),
    ("fuji", 0x5010, "+1 1/3", 1333),
    ("canon", 0xD101, "f/5.6", 0x30),
    ("canon", 0xD101, "5.6", 0x30),
    ("canon", 0xD102, "1/250", 0x78),
    ("canon", 0xD102, "1/250 s", 0x78),
    ("canon", 0xD102, "2.5 s", 0x2D),
    ("canon", 0xD103, "800", 0x60),
    ("canon", 0xD104, "-2/3", 0xFB),
    ("canon", 0xD104, "+1 1/3", 0x0B),
    ("canon", 0xD105, "av", 0x02),
    ("canon", 0xD11C, "host", 4),
]


@pytest.mark.parametrize(("vendor", "code", "text", "value"), PARSE)
def test_parse_value(vendor: str, code: int, text: str, value: Value) -> None:
    assert parse_value(code, text, vendor) == value


def test_parse_datetime_now() -> None:
    value = parse_value(0x5011, "now", "generic")
    assert isinstance(value, str)
    assert re.fullmatch(r"\d{8}T\d{6}", value)


@pytest.mark.parametrize(
    ("vendor", "code", "text", "message"),
    [
        ("generic", 0x500D, "banana", "cannot read 'banana' as an exposure time"),
        ("generic", 0x500D, "-1/250", "cannot read '-1/250' as an exposure time"),
        ("generic", 0x5007, "f/x", "cannot read 'x' as an F-number"),
        ("generic", 0x5005, "purple", "unknown white balance 'purple'; valid values: undefined"),
        ("generic", 0x5011, "yesterday", "cannot read 'yesterday' as a date and time"),
        ("generic", 0x5018, "lots", "cannot read 'lots' as an integer"),
        ("generic", 0x5018, "1.5", "cannot read '1.5' as an integer"),
        ("generic", 0x500F, "0x10000", "out of range for UINT16"),
        ("generic", 0x5001, "300%", "out of range for UINT8"),
        ("generic", 0x5010, "+40", "unknown exposure bias '+40'"),
        ("fuji", 0xD02A, "Q100", "unknown Fuji ISO"),
        ("canon", 0xD103, "lots", "unknown ISO 'lots'; nearby valid values: 6, 12, 25"),
        ("canon", 0xD103, "3000000", "unknown ISO '3000000'; nearby valid values: 819200"),
        ("generic", 0x501E, "x" * 255, "at most 254 characters"),
        ("generic", 0x501E, "a\x00b", "at most 254 characters"),
    ],
)
def test_parse_value_errors(vendor: str, code: int, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_value(code, text, vendor)


# -- parsing against a descriptor -----------------------------------------------------------


def _enum_values() -> list[tuple[int, Value]]:
    return [
        (code, value)
        for code, desc in GENERIC.items()
        if isinstance(desc.form, PropEnum)
        for value in desc.form.values
    ]


@pytest.mark.parametrize(("code", "value"), _enum_values())
def test_generic_camera_round_trip(code: int, value: Value) -> None:
    desc = GENERIC[code]
    text = format_value(code, value, "generic", datatype=desc.datatype)
    assert parse_value(code, text, "generic", desc) == value
    assert parse_value(code, text, "generic") == value


@pytest.mark.parametrize(("label", "value"), EXPOSURE_TIMES)
def test_generic_camera_exposure_labels(label: str, value: int) -> None:
    """The camera's own labels ("1/4000", "0.5") read as its values, with the seconds unit."""
    desc = GENERIC[0x500D]
    assert parse_value(0x500D, label, "generic", desc) == value
    assert parse_value(0x500D, f"{label} s", "generic", desc) == value


NEAREST = [
    (0x500D, "1/300", 31),  # 1/320 s
    (0x500D, "1/120", 80),  # 1/125 s
    (0x500D, "0.45", 5000),  # between 0.4 and 0.5; 0.5 is nearer on the stop scale
    (0x5007, "f/5.5", 560),
    (0x5007, "5.4", 560),
    (0x5007, "f/3.4", 350),
    (0x5010, "+0.3", 333),
    (0x5010, "-1.7", -1667),
    (0x5010, "+1/2", 333),  # a half stop is as near to +1/3 as to +2/3: the first wins
]


@pytest.mark.parametrize(("code", "text", "value"), NEAREST)
def test_nearest_allowed_value(code: int, text: str, value: int) -> None:
    assert parse_value(code, text, "generic", GENERIC[code]) == value


@pytest.mark.parametrize(
    ("code", "text", "message"),
    [
        (
            0x500D,
            "1/8000",
            "'1/8000' is not an allowed exposure time; allowed: 1/5000 s, 1/3200 s, "
            "1/2500 s, 1/2000 s, 1/1600 s, 1/1250 s, …",
        ),
        (
            0x500D,
            "60s",
            "'60s' is not an allowed exposure time; allowed: 30 s, 25 s, 20 s, 15 s, 13 s, 10 s, …",
        ),
        (
            0x5007,
            "f/1.4",
            "'f/1.4' is not an allowed F-number; allowed: f/2.8, f/3.5, f/4, f/5.6, f/8, f/11, …",
        ),
        (
            0x5010,
            "+5",
            "'+5' is not an allowed exposure bias compensation; allowed: +3, +2 2/3, +2 1/3, "
            "+2, +1 2/3, +1 1/3, …",
        ),
        (
            0x500F,
            "3000",
            "'3000' is not an allowed ISO; allowed: 3200, 2500, 4000, 2000, 5000, 1600, …",
        ),
        (
            0x5012,
            "5s",
            "'5s' is not an allowed capture delay; allowed: 2 s, off, 10 s",
        ),
        (
            0x5005,
            "shade",
            "cannot read 'shade' as white balance; allowed: automatic, daylight, fluorescent, "
            "tungsten, flash, manual",
        ),
        (
            0x5005,
            "one push automatic",
            "'one push automatic' is not an allowed white balance; allowed: automatic, "
            "daylight, fluorescent, tungsten, flash, manual",
        ),
        (0x5005, "0x8001", "'0x8001' is not an allowed white balance"),
        (0x500D, "0x29", "'0x29' is not an allowed exposure time"),  # hex is exact: no snap
        (
            0x5003,
            "1x1",
            "'1x1' is not an allowed image size; allowed: 4000x3000, 3008x2000, 1920x1080, 640x480",
        ),
        (
            0x5008,
            "80mm",
            "'80mm' is not an allowed focal length; allowed: 24 mm … 70 mm, step 1 mm",
        ),
        (0x5008, "24.5mm", "allowed: 24 mm … 70 mm, step 1 mm"),
        (0x5001, "101%", "allowed: 0% … 100%, step 1%"),
    ],
)
def test_not_allowed(code: int, text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_value(code, text, "generic", GENERIC[code])
    assert message in str(exc.value)


def test_same_text_picks_the_allowed_code() -> None:
    """ "auto" is 0xFFFF or 0 for an F-number; the camera's own spelling wins."""
    desc = enum_desc(0x5007, U16, (0, 350, 560))
    assert parse_value(0x5007, "auto", "generic", desc) == 0
    desc = enum_desc(0x5007, U16, (350, 0xFFFF))
    assert parse_value(0x5007, "auto", "fuji", desc) == 0xFFFF


def test_bias_in_an_unsigned_field() -> None:
    desc = enum_desc(0x5010, U16, (0xFD30, 0xFEB3, 0, 333, 667))
    assert parse_value(0x5010, "-1/3", "generic", desc) == 0xFEB3
    assert parse_value(0x5010, "-0.35", "generic", desc) == 0xFEB3
    assert parse_value(0x5010, "+2/3", "generic", desc) == 667


def test_fuji_descriptors() -> None:
    iso = enum_desc(0xD02A, U32, (0x80001900, 0x190, 0x320, 0x40003200))
    assert parse_value(0xD02A, "s6400", "fuji", iso) == 0x80001900
    with pytest.raises(ValueError, match=r"'1600' is not an allowed ISO; allowed: 800, S6400, 4"):
        parse_value(0xD02A, "1600", "fuji", iso)
    point = DevicePropDesc(0xD17C, U32, 1, 0, 0x01020304, PropRange(0, 0x10090707, 1))
    assert parse_value(0xD17C, "4x4", "fuji", point) == 0x01020404  # high bytes kept
    shutter = enum_desc(0xD240, U32, (0x8003D090, 0x8004E200, 0x80061A80))  # 1/250 1/320 1/400
    assert parse_value(0xD240, "1/300 s", "fuji", shutter) == 0x8004E200
    timer = enum_desc(0x5012, U16, (0, 2, 4))
    assert parse_value(0x5012, "10s", "fuji", timer) == 4
    with pytest.raises(ValueError, match="allowed: off, 2 seconds, 10 seconds"):
        parse_value(0x5012, "5 seconds", "fuji", timer)


def test_canon_descriptors() -> None:
    shutter = enum_desc(0xD102, U16, (0x70, 0x73, 0x75, 0x78))  # 1/125 … 1/250
    assert parse_value(0xD102, "1/180", "canon", shutter) == 0x73
    with pytest.raises(ValueError, match=r"allowed: 1/250 s, 1/200 s, 1/160 s, 1/125 s"):
        parse_value(0xD102, "1/1000", "canon", shutter)
    comp = enum_desc(0xD104, U32, (0xFD, 0x00, 0x03))
    assert parse_value(0xD104, "+0.3", "canon", comp) == 0x03


@pytest.mark.parametrize(
    ("datatype", "text", "value"),
    [(U16, "-5", None), (U16, "65536", None), (U16, "65535", 65535), (DataType.INT8, "-128", -128),
     (DataType.INT8, "128", None), (DataType.UINT64, "0xFFFFFFFFFFFFFFFF", 2**64 - 1)],
)  # fmt: skip
def test_out_of_type(datatype: int, text: str, value: int | None) -> None:
    desc = DevicePropDesc(0x5018, datatype, 1, 0, 0, None)
    if value is None:
        with pytest.raises(ValueError, match=f"out of range for {DataType(datatype).name}"):
            parse_value(0x5018, text, "generic", desc)
    else:
        assert parse_value(0x5018, text, "generic", desc) == value


def test_string_and_array_descriptors() -> None:
    artist = DevicePropDesc(0xD1D0, DataType.STR, 1, "", "", None)
    assert parse_value(0xD1D0, "Ann Smith", "canon", artist) == "Ann Smith"
    size = DevicePropDesc(0x5003, U32, 1, 0, 0, None)  # the descriptor wins over the code
    assert parse_value(0x5003, "7", "generic", size) == 7
    array = DevicePropDesc(0xD500, DataType.AUINT16, 1, (), (), None)
    assert parse_value(0xD500, "1, 0x10,3", "fuji", array) == (1, 16, 3)
    assert parse_value(0xD500, "", "fuji", array) == ()
    with pytest.raises(ValueError, match="array element '-1'"):
        parse_value(0xD500, "1,-1", "fuji", array)


# -- describe -------------------------------------------------------------------------------

DESCRIBE = [
    (0x5005, ["automatic", "daylight", "fluorescent", "tungsten", "flash", "manual"]),
    (0x5007, ["f/2.8", "f/3.5", "f/4", "f/5.6", "f/8", "f/11", "f/16", "f/22"]),
    (0x5001, ["0% … 100%, step 1%"]),
    (0x5008, ["24 mm … 70 mm, step 1 mm"]),
    (0x5012, ["off", "2 s", "10 s"]),
    (0x5011, []),
]


@pytest.mark.parametrize(("code", "values"), DESCRIBE)
def test_describe_values(code: int, values: list[str]) -> None:
    assert describe_values(GENERIC[code], "generic") == values


def test_describe_values_exposure() -> None:
    values = describe_values(GENERIC[0x500D], "generic")
    assert values[:3] == ["1/5000 s", "1/3200 s", "1/2500 s"]
    assert "1/250 s" in values
    assert values[-3:] == ["20 s", "25 s", "30 s"]
    bias = describe_values(GENERIC[0x5010], "generic")
    assert bias[8:11] == ["-1/3", "0", "+1/3"]


@pytest.mark.parametrize(
    ("desc", "vendor", "values"),
    [
        (DevicePropDesc(0x5010, I16, 1, 0, 0, PropRange(-3000, 3000, 333)), "generic",
         ["-3 … +3, step 1/3"]),
        (DevicePropDesc(0x500F, U16, 1, 100, 100, PropRange(100, 6400, 100)), "generic",
         ["100 … 6400, step 100"]),
        (DevicePropDesc(0x500D, U32, 1, 40, 40, PropRange(1, 300000, 1)), "generic",
         ["1/8000 s … 30 s, step 1"]),
        (DevicePropDesc(0xD17C, U32, 1, 0, 0, PropRange(0, 0x10090707, 1)), "fuji",
         ["0x0 … 7x7, step 1"]),
        (DevicePropDesc(0x5018, U16, 1, 1, 1, PropRange(1, 9, 0)), "generic", ["1 … 9"]),
        (enum_desc(0xD001, U16, (1, 2, 3)), "fuji", ["PROVIA", "Velvia", "ASTIA"]),
        (enum_desc(0xD02A, U32, (0x80001900, 0x190)), "fuji", ["S6400", "400"]),
    ],
)  # fmt: skip
def test_describe_values_vendor(desc: DevicePropDesc, vendor: str, values: list[str]) -> None:
    assert describe_values(desc, vendor) == values


def test_is_known_enum() -> None:
    assert is_known_enum(0x5005, "generic")
    assert is_known_enum(0xD001, "fuji")
    assert is_known_enum(0xD105, "canon")
    assert not is_known_enum(0xD001, "generic")
    assert not is_known_enum(0x500D, "generic")
    assert not is_known_enum(0x5018, "generic")


# -- properties -----------------------------------------------------------------------------

SPECS: list[tuple[str, int, PropFormat]] = [
    *(("generic", code, spec) for code, spec in STANDARD.items()),
    *(("fuji", code, spec) for code, spec in FUJI.items()),
    *(("canon", code, spec) for code, spec in CANON.items()),
]


@pytest.mark.parametrize(
    ("vendor", "code", "spec"), SPECS, ids=[f"{v}-0x{c:04X}" for v, c, _ in SPECS]
)
@given(data=st.data())
def test_format_never_raises(vendor: str, code: int, spec: PropFormat, data: st.DataObject) -> None:
    low, high = int_range(spec.datatype)
    value = data.draw(st.integers(low, high) | st.integers())
    text = format_value(code, value, vendor, datatype=spec.datatype)
    assert isinstance(text, str)
    assert text


@given(st.integers(0, 0xFFFF_FFFF))
def test_exposure_time_round_trip(value: int) -> None:
    assert parse_value(0x500D, format_value(0x500D, value, "generic"), "generic") == value


@given(st.integers(0, 0xFFFF))
def test_f_number_round_trip(value: int) -> None:
    text = format_value(0x5007, value, "generic")
    expected = 0xFFFF if value == 0 else value  # both read "auto"
    assert parse_value(0x5007, text, "generic") == expected


@given(st.integers(-9, 9), st.sampled_from([-1, 0, 1]))
def test_bias_thirds_round_trip(thirds: int, jitter: int) -> None:
    """Cameras round thirds either way (333 or 334): the text is a third, read back exactly."""
    value = round(thirds * 1000 / 3) + (jitter if thirds % 3 else 0)
    desc = enum_desc(0x5010, I16, (value, 0))
    assert parse_value(0x5010, format_value(0x5010, value, "generic"), "generic", desc) == value


@given(st.integers(0, 0xFFFF_FFFF))
def test_fuji_iso_round_trip(value: int) -> None:
    text = format_value(0xD02A, value, "fuji")
    assert parse_value(0xD02A, text, "fuji") == value
