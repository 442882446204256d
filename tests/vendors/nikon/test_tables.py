"""Nikon value tables: formatters and parsers both ways, round trips, and the core's layering."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptpip.vendors.nikon import tables

Format = Callable[[int], str]
Parse = Callable[[str], int]

EXAMPLES: list[tuple[Format, Parse, int, str]] = [
    # 0xD100: numerator << 16 | denominator (libgphoto2 _get_Nikon_ShutterSpeed)
    (tables.format_shutter, tables.parse_shutter, 0x000100FA, "1/250"),
    (tables.format_shutter, tables.parse_shutter, 0x00011F40, "1/8000"),
    (tables.format_shutter, tables.parse_shutter, 0x000A0019, "1/2.5"),
    (tables.format_shutter, tables.parse_shutter, 0x000A000D, "1/1.3"),
    (tables.format_shutter, tables.parse_shutter, 0x00010002, "1/2"),
    (tables.format_shutter, tables.parse_shutter, 0x00010001, '1"'),
    (tables.format_shutter, tables.parse_shutter, 0x000D000A, '1.3"'),
    (tables.format_shutter, tables.parse_shutter, 0x0019000A, '2.5"'),
    (tables.format_shutter, tables.parse_shutter, 0x001E0001, '30"'),
    (tables.format_shutter, tables.parse_shutter, 0x00140010, "20/16"),
    (tables.format_shutter, tables.parse_shutter, 0xFFFFFFFF, "bulb"),
    (tables.format_shutter, tables.parse_shutter, 0xFFFFFFFE, "x200"),
    (tables.format_shutter, tables.parse_shutter, 0xFFFFFFFD, "time"),
    # 0x5007 f × 100
    (tables.format_aperture, tables.parse_aperture, 560, "5.6"),
    (tables.format_aperture, tables.parse_aperture, 800, "8"),
    (tables.format_aperture, tables.parse_aperture, 710, "7.1"),
    (tables.format_aperture, tables.parse_aperture, 1100, "11"),
    (tables.format_aperture, tables.parse_aperture, 0xFFFF, "0xFFFF"),
    # 0x5010 1/1000 EV
    (tables.format_exposure_bias, tables.parse_exposure_bias, -667, "-2/3"),
    (tables.format_exposure_bias, tables.parse_exposure_bias, 333, "+1/3"),
    (tables.format_exposure_bias, tables.parse_exposure_bias, 1333, "+1 1/3"),
    (tables.format_exposure_bias, tables.parse_exposure_bias, -500, "-0.5"),
    (tables.format_exposure_bias, tables.parse_exposure_bias, 0, "0"),
    # ISO, battery
    (tables.format_iso, tables.parse_iso, 800, "800"),
    (tables.format_iso, tables.parse_iso, 72000, "72000"),
    (tables.format_battery, tables.parse_battery, 80, "80%"),
    # enumerations
    (tables.format_white_balance, tables.parse_white_balance, 4, "daylight"),
    (tables.format_white_balance, tables.parse_white_balance, 0x8010, "cloudy"),
    (tables.format_white_balance, tables.parse_white_balance, 0x8016, "natural light auto"),
    (tables.format_focus_mode, tables.parse_focus_mode, 0x8010, "AF-S"),
    (tables.format_focus_mode, tables.parse_focus_mode, 0x8013, "AF-F"),
    (tables.format_focus_mode, tables.parse_focus_mode, 1, "manual"),
    (tables.format_af_mode, tables.parse_af_mode, 2, "AF-A"),
    (tables.format_compression, tables.parse_compression, 5, "JPEG fine*"),
    (tables.format_compression, tables.parse_compression, 7, "RAW"),
    (tables.format_compression, tables.parse_compression, 12, "RAW + JPEG fine"),
    (tables.format_picture_control, tables.parse_picture_control, 7, "flat"),
    (tables.format_picture_control, tables.parse_picture_control, 203, "custom 3"),
    (tables.format_auto_iso, tables.parse_auto_iso, 1, "on"),
    (tables.format_auto_iso, tables.parse_auto_iso, 0, "off"),
]


@pytest.mark.parametrize(("fmt", "parse", "value", "text"), EXAMPLES)
def test_examples(fmt: Format, parse: Parse, value: int, text: str) -> None:
    assert fmt(value) == text
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (tables.parse_shutter, "1/250 s", 0x000100FA),
        (tables.parse_shutter, "2.5s", 0x0019000A),
        (tables.parse_shutter, "30", 0x001E0001),
        (tables.parse_shutter, "0.5", 0x0005000A),
        (tables.parse_shutter, "1/1.6", 0x000A0010),
        (tables.parse_shutter, "Bulb", 0xFFFFFFFF),
        (tables.parse_shutter, "x 200", 0xFFFFFFFE),
        (tables.parse_shutter, "flash sync", 0xFFFFFFFE),
        (tables.parse_shutter, "0x000100fa", 0x000100FA),
        (tables.parse_aperture, "f/5.6", 560),
        (tables.parse_aperture, "F8", 800),
        (tables.parse_aperture, "5.66", 566),
        (tables.parse_exposure_bias, "-2/3 EV", -667),
        (tables.parse_exposure_bias, "1.5", 1500),
        (tables.parse_iso, "ISO 3200", 3200),
        (tables.parse_iso, "0x64", 100),
        (tables.parse_battery, "55", 55),
        (tables.parse_white_balance, "Auto", 2),
        (tables.parse_white_balance, "incandescent", 6),
        (tables.parse_white_balance, "Color-Temperature", 0x8012),
        (tables.parse_white_balance, "0x8014", 0x8014),
        (tables.parse_focus_mode, "afs", 0x8010),
        (tables.parse_focus_mode, "MF", 1),
        (tables.parse_compression, "NEF", 7),
        (tables.parse_compression, "NEF (RAW) + JPEG normal*", 11),
        (tables.parse_picture_control, "Monochrome", 4),
        (tables.parse_auto_iso, "true", 1),
    ],
)
def test_parse_variants(parse: Parse, text: str, value: int) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (tables.parse_shutter, "fast"),
        (tables.parse_shutter, "1/0"),
        (tables.parse_shutter, "0"),
        (tables.parse_shutter, "70000"),
        (tables.parse_shutter, "1/3.33333333"),
        (tables.parse_aperture, "auto"),
        (tables.parse_aperture, "f/0"),
        (tables.parse_aperture, "f/1000"),
        (tables.parse_iso, "auto"),
        (tables.parse_iso, "lots"),
        (tables.parse_battery, "110.5%"),
        (tables.parse_battery, "300"),
        (tables.parse_exposure_bias, "40"),
        (tables.parse_white_balance, "sunset"),
        (tables.parse_focus_mode, "AF-Z"),
        (tables.parse_compression, "JPEG superfine"),
        (tables.parse_picture_control, "custom 10"),
        (tables.parse_auto_iso, "maybe"),
    ],
)
def test_parse_unknown(parse: Parse, text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


def test_iso_auto_points_to_the_switch() -> None:
    with pytest.raises(ValueError, match="autoiso on"):
        tables.parse_iso("auto")


def test_unknown_values_format_as_hex() -> None:
    assert tables.format_white_balance(0x8099) == "0x8099"
    assert tables.format_shutter(0x0000000A) == "0x0A"  # no numerator
    assert tables.format_shutter(0x000A0000) == "0xA0000"  # no denominator
    assert tables.parse_shutter(tables.format_shutter(0x000A0000)) == 0x000A0000
    assert tables.format_picture_control(150) == "0x96"


def test_shutter_seconds() -> None:
    assert tables.shutter_seconds(0x000100FA) == pytest.approx(1 / 250)
    assert tables.shutter_seconds(0x0019000A) == 2.5
    assert tables.shutter_seconds(tables.SHUTTER_BULB) is None
    assert tables.shutter_seconds(0x000A0000) is None


def test_compression_tables() -> None:
    assert tables.compression_table("Z 8") is tables.COMPRESSION
    assert tables.compression_table("D850") is tables.COMPRESSION
    assert tables.compression_table("NIKON D7500") is tables.COMPRESSION
    assert tables.compression_table("D90") is tables.COMPRESSION_LEGACY
    assert tables.compression_table("D3S") is tables.COMPRESSION_LEGACY
    assert tables.compression_table("") is tables.COMPRESSION
    assert tables.format_compression(4, tables.COMPRESSION_LEGACY) == "RAW"
    assert tables.parse_compression("RAW + JPEG fine", tables.COMPRESSION_LEGACY) == 7


def test_liveview_prohibit() -> None:
    value = 1 << 8 | 1 << 20 | 1 << 3
    assert tables.liveview_prohibit_reasons(value) == [
        "bit 3",
        "battery exhausted",
        "card unformatted",
    ]
    assert tables.format_liveview_prohibit(0) == "none"
    assert tables.format_liveview_prohibit(1 << 31) == "exposure program is not P/A/S/M"


def test_tables_hold_the_facts() -> None:
    assert tables.WHITE_BALANCE[0x8012] == "color temperature"
    assert tables.WHITE_BALANCE[0x8013] == "preset"
    assert [tables.FOCUS_MODE[c] for c in (0x8010, 0x8011, 0x8012, 0x8013)] == [
        "AF-S", "AF-C", "AF-A", "AF-F",
    ]  # fmt: skip
    assert tables.AF_MODE[3] == "MF fixed"
    assert len(tables.COMPRESSION) == 14
    assert tables.PICTURE_CONTROL[209] == "custom 9"
    assert tables.LIVEVIEW_SIZE == {1: "QVGA", 2: "VGA", 3: "XGA"}
    assert tables.EXPOSURE_TIME_TIME == 0xFFFFFFFD
    assert tables.EXPOSURE_PROGRAM[0x8050] == "U1"


# --- round trips -----------------------------------------------------------------------------

ENUMS: list[tuple[dict[int, str], Format, Parse]] = [
    (tables.WHITE_BALANCE, tables.format_white_balance, tables.parse_white_balance),
    (tables.FOCUS_MODE, tables.format_focus_mode, tables.parse_focus_mode),
    (tables.AF_MODE, tables.format_af_mode, tables.parse_af_mode),
    (tables.COMPRESSION, tables.format_compression, tables.parse_compression),
    (tables.PICTURE_CONTROL, tables.format_picture_control, tables.parse_picture_control),
    (tables.AUTO_ISO, tables.format_auto_iso, tables.parse_auto_iso),
]


@pytest.mark.parametrize(("table", "fmt", "parse"), ENUMS)
def test_enum_round_trip(table: dict[int, str], fmt: Format, parse: Parse) -> None:
    for code in table:
        assert parse(fmt(code)) == code
    for code in (0x1234, 0xFFFF):
        if code not in table:
            assert parse(fmt(code)) == code


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 0xFFFF_FFFF))
def test_shutter_round_trip(value: int) -> None:
    assert tables.parse_shutter(tables.format_shutter(value)) == value


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 0xFFFE))
def test_aperture_round_trip(value: int) -> None:
    assert tables.parse_aperture(tables.format_aperture(value)) == value


@given(st.integers(-15, 15))
def test_bias_round_trip_thirds(thirds: int) -> None:
    milli = round(thirds * 1000 / 3)
    assert tables.parse_exposure_bias(tables.format_exposure_bias(milli)) == milli


@given(st.integers(-10, 10))
def test_bias_round_trip_halves(halves: int) -> None:
    assert tables.parse_exposure_bias(tables.format_exposure_bias(halves * 500)) == halves * 500


def test_core_modules_import_no_io() -> None:
    """codec and tables are protocol core: no sockets or asyncio, nothing above them."""
    code = (
        "import json, sys\n"
        "import ptpip.vendors.nikon.codec, ptpip.vendors.nikon.tables\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    forbidden = ("socket", "asyncio", "selectors", "ssl", "threading")
    above = ("ptpip.client", "ptpip.camera", "ptpip.cli", "ptpip.props")
    bad = sorted(m for m in loaded for f in forbidden + above if m == f or m.startswith(f + "."))
    assert bad == []
