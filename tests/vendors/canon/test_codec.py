"""Canon EOS codecs against the real-camera vectors, plus value tables and fuzzing."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.vendors.canon import tables
from ptpip.vendors.canon.codec import (
    TERMINATOR,
    AvailListChanged,
    CameraStatusChanged,
    EventRecord,
    ImageFormatEntry,
    InfoCheckComplete,
    ObjectAdded,
    ObjectRemoved,
    PropValueChanged,
    RequestObjectTransfer,
    UnknownRecord,
    ViewfinderBlock,
    decode_events,
    decode_image_format,
    decode_set_prop_ex,
    decode_viewfinder,
    encode_events,
    encode_image_format,
    encode_set_prop_ex,
    encode_viewfinder,
    format_image_format,
    viewfinder_jpeg,
)
from tests.vectors import VECTORS
from tests.vendors._jpeg import sof

Format = Callable[[int], str]
Parse = Callable[[str], int]
EVENTS_END = 5824  # vectors README §4: records 0…5823, then the response container
VIEWFINDER_END = 468362  # vectors README §5


@cache
def events_file() -> bytes:
    return (VECTORS / "canon" / "eos_events.bin").read_bytes()


@cache
def viewfinder_file() -> bytes:
    return (VECTORS / "canon" / "eos_liveview.jpg").read_bytes()


@cache
def vector_records() -> list[EventRecord]:
    return decode_events(events_file()[:EVENTS_END])


def prop_value(prop: int) -> int | bytes | str:
    (value,) = (
        r.value for r in vector_records() if isinstance(r, PropValueChanged) and r.prop == prop
    )
    return value


def avail(prop: int) -> AvailListChanged:
    (record,) = (r for r in vector_records() if isinstance(r, AvailListChanged) and r.prop == prop)
    return record


# --- GetEvent vector ---------------------------------------------------------------------------


def test_event_vector_record_counts() -> None:
    records = vector_records()
    assert len(records) == 184
    assert Counter(int(r.code) for r in records) == {0xC1A4: 2, 0xC189: 84, 0xC18A: 98}
    assert records[0] == InfoCheckComplete(0x00020001)
    assert not any(isinstance(r, UnknownRecord) for r in records)


def test_event_vector_values() -> None:
    assert prop_value(0xD105) == 3
    assert prop_value(0xD108) == 3
    assert prop_value(0xD106) == 0x11
    assert prop_value(0xD103) == 0x70
    assert tables.format_iso(0x70) == "3200"
    assert prop_value(0xD102) == 0x2D
    assert tables.format_shutter(0x2D) == '2.5"'
    assert prop_value(0xD116) == 0x80000404
    assert prop_value(0xD113) == 0x64D2437F
    # a 64-byte all-NUL LensName is not the canonical "text NUL" form: it stays bytes
    assert prop_value(0xD1D8) == bytes(64)


def test_event_vector_avail_lists() -> None:
    shutter = avail(0xD102)
    assert shutter.list_type == 3
    assert len(shutter.values) == 53
    assert shutter.values[0] == 0x0C
    assert shutter.values[-1] == 0x98
    assert avail(0xD103).values == (0, 0x48, 0x50, 0x58, 0x60, 0x68, 0x70, 0x78, 0x80)
    assert avail(0xD11C).values == (2, 4, 6)
    assert avail(0xD106).values == (0, 1, 0x10, 0x11, 7)
    assert avail(0xD105) == AvailListChanged(0xD105, 1, ())
    # 0xD17D has 12-byte slots: kept as bytes of equal width
    assert len(avail(0xD17D).values) == 33
    assert all(isinstance(v, bytes) and len(v) == 12 for v in avail(0xD17D).values)


def test_event_vector_image_format() -> None:
    for prop in (0xD120, 0xD122):
        value = prop_value(prop)
        assert isinstance(value, bytes)
        assert decode_image_format(value) == (ImageFormatEntry(1, 0, 3),)
        assert format_image_format(decode_image_format(value)) == "L-Fine"
        options = avail(prop).values
        assert len(options) == 10
        labels = [
            format_image_format(decode_image_format(o)) for o in options if isinstance(o, bytes)
        ]
        assert labels == [
            "L-Fine", "L-Normal", "M-Fine", "M-Normal", "S1-Fine", "S1-Normal", "S2-Fine",
            "S3-Fine", "RAW + L-Fine", "RAW",
        ]  # fmt: skip


def test_event_vector_trailer_and_reencoding() -> None:
    data = events_file()
    assert data[5816:EVENTS_END] == TERMINATOR
    assert data[EVENTS_END : EVENTS_END + 12] == bytes.fromhex("0c000000 03000120 04000000")
    assert encode_events(vector_records()) == data[:EVENTS_END]
    # whatever follows the terminator (response container, padding) is ignored
    assert decode_events(data) == vector_records()


# --- GetEvent rules ----------------------------------------------------------------------------

PVC_ISO = bytes.fromhex("10000000 89c10000 03d10000 48000000")  # vendor-canon.md §8
AVAIL_ISO = bytes.fromhex("20000000 8ac10000 03d10000 03000000 03000000 48000000 50000000 58000000")


def test_gphoto2_accepted_records() -> None:
    assert decode_events(PVC_ISO + AVAIL_ISO + TERMINATOR) == [
        PropValueChanged(0xD103, 0x48),
        AvailListChanged(0xD103, 3, (0x48, 0x50, 0x58)),
    ]
    assert encode_events([PropValueChanged(0xD103, 0x48)]) == PVC_ISO + TERMINATOR


def test_object_records_match_reference_layout() -> None:
    name = b"IMG_0005.JPG\x00\x00\x00\x00"
    added = ObjectAdded(0x90000001, 0x00010001, 0x3801, 123456, 0x90000000, "IMG_0005.JPG")
    raw = encode_events([added])
    expected = (
        bytes.fromhex("38000000 81c10000 01000090 01000100 01380000 00000000 00000000")
        + (123456).to_bytes(4, "little")
        + bytes.fromhex("00000090 00000000")
        + name
    )
    assert raw == expected + TERMINATOR
    transfer = RequestObjectTransfer(0x90000001, 0x3801, 123456, "IMG_0005.JPG")
    raw = encode_events([transfer])
    assert raw[:8] == bytes.fromhex("2c000000 86c10000")
    assert raw[0x14:0x18] == (123456).to_bytes(4, "little")
    assert raw[0x1C:0x2C] == name


@pytest.mark.parametrize(
    "record",
    [
        ObjectAdded(1, 0x10001, 0x3801, 99, 0x20, "A.JPG"),
        ObjectAdded(1, 0x10001, 0x3801, 99, 0x20, "ABC", code=0xC187),
        ObjectAdded(7, 0x10001, 0xB103, 5 << 32, 0x20, "IMG_0001.CR2", code=0xC1A7),
        RequestObjectTransfer(3, 0x3801, 1 << 20, "IMG_0002.JPG"),
        RequestObjectTransfer(3, 0x3801, 1 << 20, "", code=0xC1A9),
        ObjectRemoved(0x90000005),
        CameraStatusChanged(1),
        InfoCheckComplete(0x00020001),
        PropValueChanged(0xD115, "Owner Name"),
        PropValueChanged(0xD1D8, ""),
        PropValueChanged(0xD101, 0x30),
        PropValueChanged(0xD120, encode_image_format([(6, 0, 4), (1, 0, 3)])),
        AvailListChanged(0xD120, 3, (encode_image_format([(1, 0, 3)]),)),
        AvailListChanged(0xD17D, 3, (b"abcdefgh", b"12345678")),
        UnknownRecord(0xC1A5, b"\x01\x02\x03"),
    ],
)
def test_record_round_trip(record: EventRecord) -> None:
    assert decode_events(encode_events([record])) == [record]


@pytest.mark.parametrize(
    ("data", "records"),
    [
        (b"", []),
        (TERMINATOR, []),
        (bytes.fromhex("0c000000 00000000 00000000"), []),  # the 12-byte zero record
        (PVC_ISO, [PropValueChanged(0xD103, 0x48)]),  # no terminator: vcam style
        (
            PVC_ISO + bytes.fromhex("0c000000 00000000 00000000") + b"junk",
            [PropValueChanged(0xD103, 0x48)],
        ),
    ],
)
def test_event_termination(data: bytes, records: list[EventRecord]) -> None:
    assert decode_events(data) == records


@pytest.mark.parametrize(
    "data",
    [
        PVC_ISO + b"\x08\x00\x00",  # stray tail shorter than a header
        PVC_ISO + bytes.fromhex("04000000 89c10000"),  # size < 8
        PVC_ISO + bytes.fromhex("ff000000 89c10000 00"),  # size beyond the data
        bytes.fromhex("00000000 00000000"),  # zero padding instead of a terminator
    ],
)
def test_event_truncation_raises(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_events(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (bytes.fromhex("0a000000 89c10000 03d1"), 0xC189),  # no room for the prop code
        (bytes.fromhex("10000000 8ac10000 03d10000 03000000"), 0xC18A),
        (bytes.fromhex("18000000 8ac10000 03d10000 03000000 03000000 48000000"), 0xC18A),
        (bytes.fromhex("10000000 81c10000 01000000 02000000"), 0xC181),
        (bytes.fromhex("10000000 82c10000 01000000 02000000"), 0xC182),
    ],
)
def test_malformed_known_record_becomes_unknown(data: bytes, code: int) -> None:
    (record,) = decode_events(data + TERMINATOR)
    assert record == UnknownRecord(code, data[8:])
    assert encode_events([record]) == data + TERMINATOR


@pytest.mark.parametrize(
    "record",
    [
        PropValueChanged(0xD115, "Ünïcode"),
        PropValueChanged(0xD115, "nul\x00inside"),
        PropValueChanged(0xD101, -1),
        PropValueChanged(0xD101, 1 << 32),
        AvailListChanged(0xD103, 3, (1, b"x")),  # type: ignore[arg-type]
        UnknownRecord(0, b""),
        ObjectAdded(1, 1, 1, 1, 1, "A", code=0xC189),
        RequestObjectTransfer(1, 1, 1, "A", code=0xC181),
    ],
)
def test_encode_events_rejects(record: EventRecord) -> None:
    with pytest.raises(LocalProtocolError):
        encode_events([record])


def test_image_format_errors() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_image_format(b"\x01\x00\x00\x00\x10\x00\x00\x00")
    with pytest.raises(RemoteProtocolError):
        decode_image_format(encode_image_format([(1, 0, 3)]) + b"\x00")
    assert decode_image_format(encode_image_format([])) == ()
    assert format_image_format(()) == "none"


# --- SetDevicePropValueEx ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "value", "hex_bytes"),
    [
        (0xD11C, 4, "0c000000 1cd10000 04000000"),  # vendor-canon.md §9 examples
        (0xD103, 0x50, "0c000000 03d10000 50000000"),
        (0xD115, "Ann", "0c000000 15d10000 416e6e00"),
        (0xD1D0, "Artist", "0f000000 d0d10000 41727469737400"),
    ],
)
def test_set_prop_ex(prop: int, value: int | str, hex_bytes: str) -> None:
    raw = bytes.fromhex(hex_bytes)
    assert encode_set_prop_ex(prop, value) == raw
    assert decode_set_prop_ex(raw) == (prop, value)


def test_set_prop_ex_edges() -> None:
    raw = encode_set_prop_ex(0xD120, encode_image_format([(1, 0, 3)]))
    assert decode_set_prop_ex(raw) == (0xD120, encode_image_format([(1, 0, 3)]))
    assert decode_set_prop_ex(bytes.fromhex("0c000000 03d10000 48000000 0000")) == (0xD103, 0x48)
    for bad in ("07000000 03d10000", "0d000000 03d10000 48000000", "0c000000"):
        with pytest.raises(RemoteProtocolError):
            decode_set_prop_ex(bytes.fromhex(bad))
    for value in (-1, 1 << 32, "é", "a\x00b"):
        with pytest.raises(LocalProtocolError):
            encode_set_prop_ex(0xD103, value)


# --- GetViewFinderData -------------------------------------------------------------------------


def test_viewfinder_vector() -> None:
    data = viewfinder_file()
    blocks = decode_viewfinder(data[:VIEWFINDER_END])
    assert len(blocks) == 11
    assert [b.kind for b in blocks] == [1, 4, 5, 6, 12, 13, 14, 10, 7, 3, 0]
    assert blocks[-1] == ViewfinderBlock(0, b"")
    jpeg = viewfinder_jpeg(blocks)
    assert jpeg is not None
    assert len(jpeg) == 464118
    assert jpeg.endswith(b"\xff\xd9")
    assert sof(jpeg) == (0xC0, 1056, 704)
    coords = blocks[6].body
    assert int.from_bytes(coords[:4], "little") == 5160
    assert int.from_bytes(coords[4:], "little") == 3444
    response = data[VIEWFINDER_END : VIEWFINDER_END + 20]
    assert response[4:8] == bytes.fromhex("03000120")  # type 3, OK
    assert int.from_bytes(response[16:20], "little") == VIEWFINDER_END  # P2
    assert encode_viewfinder(blocks) == data[:VIEWFINDER_END]
    assert decode_viewfinder(data) == blocks  # stops at the end block


def test_viewfinder_rules() -> None:
    frame = ViewfinderBlock(1, b"junk\xff\xd8\xff\xd9")
    raw = encode_viewfinder([ViewfinderBlock(4, b"\x01\x00\x00\x00"), frame])
    blocks = decode_viewfinder(raw)  # no end block: stops at the end of the data
    assert blocks[1] == frame
    assert viewfinder_jpeg(blocks) == b"\xff\xd8\xff\xd9"
    assert viewfinder_jpeg([ViewfinderBlock(1, b"no image")]) is None
    assert viewfinder_jpeg([ViewfinderBlock(14, b"\xff\xd8")]) is None
    assert viewfinder_jpeg([ViewfinderBlock(0x0B, b"\xff\xd8x")]) == b"\xff\xd8x"
    for bad in ("00000000 01000000", "07000000 01000000", "10000000 01000000 00", "0800"):
        with pytest.raises(RemoteProtocolError):
            decode_viewfinder(bytes.fromhex(bad))


# --- value tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "parse", "code", "text"),
    [
        (tables.format_aperture, tables.parse_aperture, 0x30, "5.6"),
        (tables.format_shutter, tables.parse_shutter, 0x78, "1/250"),
        (tables.format_shutter, tables.parse_shutter, 0x2D, '2.5"'),
        (tables.format_iso, tables.parse_iso, 0x48, "100"),
        (tables.format_iso, tables.parse_iso, 0x70, "3200"),
        (tables.format_exp_compensation, tables.parse_exp_compensation, 0xFD, "-1/3"),
        (tables.format_exp_compensation, tables.parse_exp_compensation, 0x0B, "+1 1/3"),
        (tables.format_exp_compensation, tables.parse_exp_compensation, 0x00, "0"),
        (tables.format_ae_mode, tables.parse_ae_mode, 3, "M"),
        (tables.format_capture_destination, tables.parse_capture_destination, 4, "host"),
        (tables.format_evf_output, tables.parse_evf_output, 2, "PC"),
    ],
)
def test_canon_table_examples(fmt: Format, parse: Parse, code: int, text: str) -> None:
    assert fmt(code) == text
    assert parse(text) == code


@pytest.mark.parametrize(
    ("parse", "text", "code"),
    [
        (tables.parse_aperture, "f/5.6", 0x30),
        (tables.parse_aperture, "F8", 0x38),
        (tables.parse_aperture, "4", 0x28),
        (tables.parse_aperture, "3.5", 0x25),  # third stop preferred over the half stop 0x24
        (tables.parse_aperture, "5.5", 0x30),  # nearest
        (tables.parse_aperture, "auto", 0xB0),
        (tables.parse_shutter, "1/125", 0x70),
        (tables.parse_shutter, "2.5s", 0x2D),
        (tables.parse_shutter, "2.5", 0x2D),
        (tables.parse_shutter, '30"', 0x10),
        (tables.parse_shutter, "bulb", 0x0C),
        (tables.parse_shutter, "auto", 0x00),
        (tables.parse_iso, "800", 0x60),
        (tables.parse_iso, "auto", 0x00),
        (tables.parse_iso, "ISO 6400", 0x78),
        (tables.parse_iso, "3000", 0x70),  # nearest
        (tables.parse_exp_compensation, "+1/3", 0x03),
        (tables.parse_exp_compensation, "-2/3", 0xFB),
        (tables.parse_exp_compensation, "1 1/3", 0x0B),
        (tables.parse_exp_compensation, "-1 1/2", 0xF4),
        (tables.parse_exp_compensation, "+5", 0x28),
        (tables.parse_exp_compensation, "-0.3", 0xFD),  # nearest third
        (tables.parse_shutter, "0x07", 0x07),  # hex text of unknown codes
    ],
)
def test_canon_parse_variants(parse: Parse, text: str, code: int) -> None:
    assert parse(text) == code


@pytest.mark.parametrize(
    ("parse", "text", "hint"),
    [
        (tables.parse_aperture, "f/200", "91"),
        (tables.parse_aperture, "wide", "1.0"),
        (tables.parse_shutter, "1/100000", "1/16000"),
        (tables.parse_iso, "2000000", "819200"),
        (tables.parse_exp_compensation, "+9", "+5"),
        (tables.parse_ae_mode, "Q", "Tv"),
    ],
)
def test_canon_parse_unknown(parse: Parse, text: str, hint: str) -> None:
    with pytest.raises(ValueError, match="valid values") as info:
        parse(text)
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("table", "fmt", "parse"),
    [
        (tables.APERTURE, tables.format_aperture, tables.parse_aperture),
        (tables.SHUTTER, tables.format_shutter, tables.parse_shutter),
        (tables.ISO, tables.format_iso, tables.parse_iso),
        (tables.EXP_COMPENSATION, tables.format_exp_compensation, tables.parse_exp_compensation),
        (tables.AE_MODE, tables.format_ae_mode, tables.parse_ae_mode),
    ],
)
def test_canon_every_label_parses_back(table: dict[int, str], fmt: Format, parse: Parse) -> None:
    for code in table:
        assert fmt(parse(fmt(code))) == fmt(code)
    assert parse(fmt(0xEE)) == 0xEE  # unknown codes travel as hex text


def test_exp_compensation_helpers() -> None:
    assert tables.signed_exp_compensation(0xFD) == -3
    assert tables.signed_exp_compensation(0x0B) == 11
    assert tables.format_exp_compensation(0xFFFFFFF8) == "-1"  # only the low byte counts
    assert tables.format_exp_compensation(0x01) == "0x01"


# --- fuzzing -----------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODERS: list[Callable[[bytes], object]] = [
    decode_events,
    decode_viewfinder,
    decode_set_prop_ex,
    decode_image_format,
]


def _mutate(seed: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    buf = bytearray(seed)
    for pos, value in edits:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf[: max(0, len(buf) - cut)])


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(RemoteProtocolError):
            decode(data)


@FUZZ
@given(
    st.sampled_from(["events", "viewfinder"]),
    st.integers(0, 600),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 40),
)
def test_fuzz_mutated_vectors(
    which: str, start: int, edits: list[tuple[int, int]], cut: int
) -> None:
    if which == "events":
        seed = events_file()[start * 8 : start * 8 + 700]
    else:
        seed = viewfinder_file()[464000 + start : VIEWFINDER_END]
    with contextlib.suppress(RemoteProtocolError):
        (decode_events if which == "events" else decode_viewfinder)(_mutate(seed, edits, cut))


u32 = st.integers(0, 0xFFFF_FFFF)
ascii_text = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=20)
records = st.one_of(
    st.builds(PropValueChanged, st.integers(0xD101, 0xD114), u32),
    st.builds(PropValueChanged, st.sampled_from(sorted({0xD115, 0xD1AF, 0xD1D8})), ascii_text),
    st.builds(
        AvailListChanged, st.integers(0xD101, 0xD11F), u32, st.lists(u32, max_size=5).map(tuple)
    ),
    st.builds(ObjectAdded, u32, u32, st.integers(0, 0xFFFF), u32, u32, ascii_text),
    st.builds(RequestObjectTransfer, u32, st.integers(0, 0xFFFF), u32, ascii_text),
    st.builds(ObjectRemoved, u32),
    st.builds(CameraStatusChanged, u32),
    st.builds(InfoCheckComplete, u32),
    st.builds(UnknownRecord, st.integers(0xC100, 0xC180), st.binary(max_size=16)),
)


@FUZZ
@given(st.lists(records, max_size=8))
def test_events_round_trip(items: list[EventRecord]) -> None:
    assert decode_events(encode_events(items)) == items
