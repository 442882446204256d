"""Fujifilm codecs against seed 004, the X-H1 / live-view vectors and the reference tables."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import DataType
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.vendors.fuji import tables
from ptpip.vendors.fuji.codec import (
    LiveViewFrame,
    LiveViewStreamReader,
    RawConvProfile,
    decode_liveview_frame,
    decode_prop_list,
    decode_raw_conv_profile,
    decode_state,
    encode_liveview_frame,
    encode_prop_list,
    encode_state,
)
from tests.vectors import VECTORS, seed_dumps, shared_dir
from tests.vendors._jpeg import sof

SEED = "004_162113056664525c.txt"
CONTAINER_HEADER = 12  # the seed's dumps are USB-style containers


def _seed_payload(code: int) -> bytes:
    """The data-phase payload of the seed's data container for ``code``."""
    (dump,) = (
        d
        for d in seed_dumps(SEED)
        if d[4:6] == b"\x02\x00" and d[6:8] == code.to_bytes(2, "little")
    )
    assert int.from_bytes(dump[:4], "little") == len(dump)
    return dump[CONTAINER_HEADER:]


@cache
def prop_list_blob() -> bytes:
    return _seed_payload(0x902B)


@cache
def state_blob() -> bytes:
    return _seed_payload(0x1015)


@cache
def malc0mn_state_fixture() -> bytes:
    """The hex block under "malc0mn's `state` test fixture" in vendor-fuji.md §9.3."""
    text = (shared_dir() / "reference" / "vendor-fuji.md").read_text(encoding="utf-8")
    after = text[text.index("malc0mn's `state` test fixture") :]
    block = after.split("```")[1]
    return bytes.fromhex(block)


@cache
def lv_stream() -> bytes:
    return (VECTORS / "fuji" / "lv_stream").read_bytes()


U16, I16, U32 = DataType.UINT16, DataType.INT16, DataType.UINT32
BIAS_STEPS = (
    -3000, -2667, -2333, -2000, -1667, -1333, -1000, -667, -333, 0, 333, 667, 1000, 1333, 1667,
    2000, 2333, 2667, 3000,
)  # fmt: skip
X_T1_ISO = (
    0x80000190, 0x80000320, 0x80000640, 0x80000C80, 0x80001900, 0x40000064, 0xC8, 0xFA, 0x140,
    0x190, 0x1F4, 0x280, 0x320, 0x3E8, 0x4E2, 0x640, 0x7D0, 0x9C4, 0xC80, 0xFA0, 0x1388, 0x1900,
    0x40003200, 0x40006400, 0x4000C800,
)  # fmt: skip
# vendor-fuji.md §9.2: (entryLen, DevicePropDesc)
X_T1_PROPS = [
    (22, DevicePropDesc(0x5012, U16, 1, 0, 0, PropEnum((0, 2, 4)))),
    (20, DevicePropDesc(0x500C, U16, 1, 0x0002, 0x8009, PropEnum((0x8009, 0x800A)))),
    (36, DevicePropDesc(0x5005, U16, 1, 2, 2, PropEnum(
        (2, 4, 0x8006, 0x8001, 0x8002, 0x8003, 6, 0x800A, 0x800B, 0x800C)))),
    (54, DevicePropDesc(0x5010, I16, 1, 0, 0, PropEnum(BIAS_STEPS))),
    (38, DevicePropDesc(0xD001, U16, 1, 1, 2, PropEnum(tuple(range(1, 12))))),
    (120, DevicePropDesc(0xD02A, U32, 1, 0xFFFFFFFF, 0x80001900, PropEnum(X_T1_ISO))),
    (20, DevicePropDesc(0xD019, U16, 1, 1, 1, PropEnum((0, 1)))),
    (30, DevicePropDesc(0xD17C, U32, 1, 0, 0x03020404, PropRange(0, 0x10090707, 1))),
]  # fmt: skip
# vendor-fuji.md §9.3, seed 004
SEED_STATE = [
    (0x5001, 3), (0xD241, 0x0A), (0x5005, 2), (0x500A, 0x8001), (0x500C, 0x800A), (0x500E, 2),
    (0x5010, 0), (0x5012, 0), (0xD001, 2), (0xD018, 4), (0xD028, 0), (0xD02A, 0x80001900),
    (0xD17C, 0x03020404), (0xD209, 0), (0xD21B, 0), (0xD229, 0x597), (0xD22A, 0x68F),
]  # fmt: skip


# --- 0x902B ----------------------------------------------------------------------------------


def test_prop_list_seed() -> None:
    blob = prop_list_blob()
    assert len(blob) == 356 - CONTAINER_HEADER
    descs = decode_prop_list(blob)
    assert descs == [desc for _, desc in X_T1_PROPS]
    assert [tables.format_iso(v) for v in X_T1_ISO][:6] == [
        "S400", "S800", "S1600", "S3200", "S6400", "L100",
    ]  # fmt: skip
    assert tables.format_iso(X_T1_ISO[-1]) == "H51200"
    assert encode_prop_list(descs) == blob
    # the entry lengths of the table, walked independently of the decoder
    pos, lengths = 4, []
    while pos < len(blob):
        lengths.append(int.from_bytes(blob[pos : pos + 4], "little"))
        pos += lengths[-1]
    assert lengths == [n for n, _ in X_T1_PROPS]


def _entry(body: bytes) -> bytes:
    return (len(body) + 4).to_bytes(4, "little") + body


def test_prop_list_skips_unparsable_entries() -> None:
    good = [desc.encode() for _, desc in X_T1_PROPS[:2]]
    bad = [b"\x01\x50\x00\x00\x01", b"\xff" * 7, b""]  # UNDEF type, garbage, empty
    body = b"".join(_entry(b) for b in (good[0], *bad, good[1]))
    data = (5).to_bytes(4, "little") + body
    assert decode_prop_list(data) == [desc for _, desc in X_T1_PROPS[:2]]
    # bytes after N entries and inside an entry after its descriptor are ignored
    padded = (1).to_bytes(4, "little") + _entry(good[0] + b"\0\0") + b"tail"
    assert decode_prop_list(padded) == [X_T1_PROPS[0][1]]


@pytest.mark.parametrize(
    "hex_data",
    [
        "",
        "010000",
        "01000000 03000000",  # entryLen < 4
        "01000000 10000000 00",  # entryLen beyond the data
        "ffffff7f 04000000",  # N cannot fit
        "02000000 04000000",  # second entry missing
    ],
)
def test_prop_list_bad_lengths(hex_data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_prop_list(bytes.fromhex(hex_data))


# --- 0xD212 ----------------------------------------------------------------------------------


def test_state_seed() -> None:
    blob = state_blob()
    assert len(blob) == 116 - CONTAINER_HEADER
    pairs = decode_state(blob)
    assert pairs == SEED_STATE
    assert encode_state(pairs) == blob
    values = dict(pairs)
    assert tables.format_battery(values[0x5001]) == "3/3"
    assert tables.format_iso(values[0xD02A]) == "S6400"
    assert tables.format_focus_point(values[0xD17C]) == "4x4"
    assert tables.format_image_size(values[0xD241]) == "L 3:2"
    assert tables.format_film_simulation(values[0xD001]) == "Velvia"
    assert tables.format_image_quality(values[0xD018]) == "fine + RAW"


def test_state_malc0mn_fixture() -> None:
    blob = malc0mn_state_fixture()
    pairs = decode_state(blob)
    assert len(pairs) == 17
    assert [p for p, _ in pairs] == [p for p, _ in SEED_STATE]
    values = dict(pairs)
    assert values[0x5001] == 2
    assert values[0x5010] == 0xFEB3
    assert tables.format_exposure_bias(values[0x5010]) == "-1/3"
    assert tables.format_focus_point(values[0xD17C]) == "7x2"
    assert values[0xD229] == 1494
    assert encode_state(pairs) == blob


@pytest.mark.parametrize("hex_data", ["", "01", "0100 0150 0000", "0000 00"])
def test_state_errors(hex_data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_state(bytes.fromhex(hex_data))


def test_state_encode_errors() -> None:
    with pytest.raises(LocalProtocolError):
        encode_state([(0x10000, 1)])
    with pytest.raises(LocalProtocolError):
        encode_state([(0x5001, -1)])


# --- live view -------------------------------------------------------------------------------


def test_liveview_vector() -> None:
    data = lv_stream()
    frame = decode_liveview_frame(data)
    assert frame.counter == 0
    assert frame.jpeg == data[18:9371]
    assert len(frame.jpeg) == 9353
    assert frame.jpeg.startswith(b"\xff\xd8")
    assert frame.jpeg.endswith(b"\xff\xd9")
    assert sof(frame.jpeg) == (0xC0, 640, 480)
    assert frame.header == data[:18]
    assert frame.tail == bytes.fromhex("00 00 00 00 00 00 00 01 8a")
    assert encode_liveview_frame(frame.counter, frame.jpeg, frame.tail) == data


def test_liveview_scans_for_soi() -> None:
    frame = encode_liveview_frame(7, b"\xff\xd8jpeg\xff\xd9", tail=bytes(12))
    decoded = decode_liveview_frame(frame)
    assert decoded == LiveViewFrame(7, frame[:21], b"\xff\xd8jpeg\xff\xd9")
    assert encode_liveview_frame(300, b"\xff\xd8")[8] == 300 % 256


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(17),
        (18).to_bytes(4, "little") + bytes(14),  # no JPEG
        (99).to_bytes(4, "little") + bytes(14) + b"\xff\xd8",  # length disagrees
    ],
)
def test_liveview_frame_errors(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_liveview_frame(data)


def test_liveview_encode_errors() -> None:
    with pytest.raises(LocalProtocolError):
        encode_liveview_frame(0, b"not a jpeg")
    with pytest.raises(LocalProtocolError):
        encode_liveview_frame(0, b"\xff\xd8", tail=bytes(8))
    with pytest.raises(LocalProtocolError):
        encode_liveview_frame(0, b"\xff\xd8", tail=bytes(9) + b"\xff\xd8")


def _feed_in_chunks(data: bytes, sizes: list[int]) -> list[LiveViewFrame]:
    reader = LiveViewStreamReader()
    frames: list[LiveViewFrame] = []
    pos = 0
    for size in sizes:
        frames += reader.feed(data[pos : pos + size])
        pos += size
    frames += reader.feed(data[pos:])
    assert reader.buffered == 0
    return frames


def test_stream_reader_chunkings() -> None:
    data = lv_stream()
    expected = [decode_liveview_frame(data)]
    assert LiveViewStreamReader().feed(data) == expected
    assert _feed_in_chunks(data, [1] * len(data)) == expected
    rng = random.Random(55742)
    for _ in range(50):
        sizes = [rng.randint(1, 3000) for _ in range(rng.randint(1, 12))]
        assert _feed_in_chunks(data, sizes) == expected
    assert _feed_in_chunks(data + data, [rng.randint(1, 5000) for _ in range(4)]) == expected * 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 20000), max_size=8))
def test_stream_reader_any_chunking(sizes: list[int]) -> None:
    data = lv_stream() * 2
    assert _feed_in_chunks(data, sizes) == [decode_liveview_frame(lv_stream())] * 2


def test_stream_reader_limits() -> None:
    reader = LiveViewStreamReader(max_frame_size=1000)
    with pytest.raises(RemoteProtocolError):
        reader.feed(lv_stream()[:4])
    with pytest.raises(RemoteProtocolError):
        reader.feed(b"more")  # the stream stays broken
    with pytest.raises(RemoteProtocolError):
        LiveViewStreamReader().feed((17).to_bytes(4, "little"))
    with pytest.raises(ValueError, match="max_frame_size"):
        LiveViewStreamReader(max_frame_size=10)


def test_stream_reader_drops_frames_without_jpeg() -> None:
    reader = LiveViewStreamReader()
    junk = (20).to_bytes(4, "little") + bytes(16)
    frames = reader.feed(junk + lv_stream())
    assert frames == [decode_liveview_frame(lv_stream())]
    assert reader.dropped == 1


# --- 0xD185 ----------------------------------------------------------------------------------

D185_INITIAL = (0, 2, 7, 7, 2, 0, 100, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, -40, 32768, 2, 1)
D185_2 = (
    2, 7, 7, 2, 0, 100, 0, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, -40, 32768, 2, 1, 0, 0, 1, 0, 0, 2, 1,
)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "count", "params"),
    [("xh1_d185_initial.bin", 23, D185_INITIAL), ("xh1_d185_2.bin", 29, D185_2)],
)
def test_raw_conv_profile_vectors(name: str, count: int, params: tuple[int, ...]) -> None:
    data = (VECTORS / "fuji" / name).read_bytes()
    assert int.from_bytes(data[:2], "little") == count
    profile = decode_raw_conv_profile(data)
    assert profile == RawConvProfile("FF129506", params)
    assert len(profile.params) * 4 == {23: 92, 29: 116}[count]


@pytest.mark.parametrize("hex_data", ["", "01", "0100 00", "0200 00 00000000"])
def test_raw_conv_profile_errors(hex_data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_raw_conv_profile(bytes.fromhex(hex_data))


def test_raw_conv_profile_edges() -> None:
    assert decode_raw_conv_profile(bytes.fromhex("0000 00")) == RawConvProfile("", ())
    no_nul = bytes.fromhex("0100 02 4100 4200 ff") + (-1).to_bytes(4, "little", signed=True)
    assert decode_raw_conv_profile(no_nul) == RawConvProfile("AB", (-1,))


# --- value tables ----------------------------------------------------------------------------

Format = Callable[[int], str]
Parse = Callable[[str], int]


@pytest.mark.parametrize(
    ("fmt", "parse", "value", "text"),
    [
        (tables.format_iso, tables.parse_iso, 0x140, "320"),
        (tables.format_iso, tables.parse_iso, 0x40000064, "L100"),
        (tables.format_iso, tables.parse_iso, 0x40003200, "H12800"),
        (tables.format_iso, tables.parse_iso, 0x80001900, "S6400"),
        (tables.format_iso, tables.parse_iso, 0xFFFFFFFF, "auto"),
        (tables.format_focus_point, tables.parse_focus_point, 0x03020702, "7x2"),
        (tables.format_focus_point, tables.parse_focus_point, 0x03020404, "4x4"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, 1333, "1 1/3"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, -1667, "-1 2/3"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, -333, "-1/3"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, 667, "2/3"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, 0, "0"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, 2000, "2"),
        (tables.format_exposure_bias, tables.parse_exposure_bias, 500, "0.5"),
        (tables.format_shutter, tables.parse_shutter, 0x8003D090, "1/250"),
        (tables.format_shutter, tables.parse_shutter, 0x803D0900, "1/4000"),
        (tables.format_shutter, tables.parse_shutter, 2000, '2"'),
        (tables.format_shutter, tables.parse_shutter, 30000, '30"'),
        (tables.format_shutter, tables.parse_shutter, 500, '0.5"'),
        (tables.format_shutter, tables.parse_shutter, 0xFFFFFFFF, "bulb/----"),
        (tables.format_white_balance, tables.parse_white_balance, 0x800B, "color temperature"),
        (tables.format_white_balance, tables.parse_white_balance, 2, "automatic"),
        (tables.format_film_simulation, tables.parse_film_simulation, 11, "Classic Chrome"),
        (tables.format_battery, tables.parse_battery, 11, "5/5"),
        (tables.format_image_size, tables.parse_image_size, 10, "L 3:2"),
        (tables.format_image_quality, tables.parse_image_quality, 5, "normal + RAW"),
        (tables.format_self_timer, tables.parse_self_timer, 4, "10 seconds"),
        (tables.format_flash, tables.parse_flash, 0x8009, "disabled"),
        (tables.format_flash, tables.parse_flash, 2, "off"),
        (tables.format_focus_mode, tables.parse_focus_mode, 0x8002, "continuous auto"),
    ],
)
def test_fuji_table_examples(fmt: Format, parse: Parse, value: int, text: str) -> None:
    assert fmt(value) == text
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (tables.parse_iso, "s 6400", 0x80001900),
        (tables.parse_iso, "0x1900", 0x1900),
        (tables.parse_exposure_bias, "+1/3", 333),
        (tables.parse_exposure_bias, "-2/3", -667),
        (tables.parse_exposure_bias, "+1 1/3", 1333),
        (tables.parse_shutter, "2s", 2000),
        (tables.parse_shutter, "1/2", 0x80000000 | 2000),
        (tables.parse_shutter, "bulb", 0xFFFFFFFF),
        (tables.parse_shutter, "----", 0xFFFFFFFF),
        (tables.parse_white_balance, "Shade", 0x8006),
        (tables.parse_film_simulation, "velvia", 2),
    ],
)
def test_fuji_parse_variants(parse: Parse, text: str, value: int) -> None:
    assert parse(text) == value


def test_fuji_focus_point_keeps_high_bytes() -> None:
    assert tables.parse_focus_point("7x2", current=0x10090000) == 0x10090702
    assert tables.format_focus_point(0) == "0x0"


def test_fuji_film_simulation_tables() -> None:
    assert tables.format_film_simulation(4) == "Monochrome"
    assert tables.format_film_simulation(4, tables.FILM_SIMULATION_NEW) == "PRO Neg. Hi"
    assert tables.parse_film_simulation("Sepia", tables.FILM_SIMULATION_NEW) == 10
    assert tables.format_film_simulation(99) == "0x63"


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (tables.parse_iso, "Q100"),
        (tables.parse_iso, "99999999"),
        (tables.parse_shutter, "fast"),
        (tables.parse_shutter, "1/0"),
        (tables.parse_shutter, "0"),
        (tables.parse_focus_point, "7-2"),
        (tables.parse_focus_point, "300x2"),
        (tables.parse_exposure_bias, "lots"),
        (tables.parse_exposure_bias, "40"),
        (tables.parse_white_balance, "sunny"),
    ],
)
def test_fuji_parse_unknown(parse: Parse, text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|valid values"):
        parse(text)


@pytest.mark.parametrize("value", [*X_T1_ISO, 0xFFFFFFFF, 0x12345678])
def test_fuji_iso_round_trip(value: int) -> None:
    assert tables.parse_iso(tables.format_iso(value)) == value


@pytest.mark.parametrize("value", BIAS_STEPS)
def test_fuji_bias_round_trip(value: int) -> None:
    assert tables.parse_exposure_bias(tables.format_exposure_bias(value)) == value
    assert tables.format_exposure_bias(value & 0xFFFF) == tables.format_exposure_bias(value)


# --- fuzzing ---------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODERS: list[Callable[[bytes], object]] = [
    decode_prop_list,
    decode_state,
    decode_liveview_frame,
    decode_raw_conv_profile,
    lambda data: LiveViewStreamReader(max_frame_size=4096).feed(data),
]


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(RemoteProtocolError):
            decode(data)


@FUZZ
@given(
    st.sampled_from(["prop_list", "state", "lv"]),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 40),
)
def test_fuzz_mutated_vectors(which: str, edits: list[tuple[int, int]], cut: int) -> None:
    seed = {"prop_list": prop_list_blob(), "state": state_blob(), "lv": lv_stream()[:400]}[which]
    buf = bytearray(seed)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    data = bytes(buf[: len(buf) - cut])
    for decode in DECODERS:
        with contextlib.suppress(RemoteProtocolError):
            decode(data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF_FFFF)), max_size=20))
def test_state_round_trip(pairs: list[tuple[int, int]]) -> None:
    assert decode_state(encode_state(pairs)) == pairs
