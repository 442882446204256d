"""Nikon codecs: polled events, live-view frames, 64-bit partial reads, busy codes, and the
quoted captures of vendor-others.md §1 (Z 8 StartData, Z 5 InitFail)."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip.packets import InitFail, StartData, decode_packet
from ptpip.ptp.codes import InitFailReason, PacketType, ResponseCode
from ptpip.vendors.nikon.codec import (
    CAPTURE_RETRY,
    DEVICE_READY_BUSY,
    DEVICE_READY_OK,
    MAX_LIVEVIEW_HEADER,
    MAX_VENDOR_PROPS,
    NOT_LIVE_VIEW,
    SDRAM_HANDLE,
    LiveViewError,
    LiveViewFamily,
    LiveViewFields,
    LiveViewInfo,
    NikonEventRecord,
    decode_events,
    decode_events_ex,
    decode_object_size,
    decode_partial_ex_params,
    decode_partial_ex_response,
    decode_vendor_prop_codes,
    device_ready_busy,
    encode_events,
    encode_events_ex,
    encode_liveview,
    encode_object_size,
    encode_vendor_prop_codes,
    family_for_model,
    partial_ex_params,
    partial_ex_response,
    split_liveview,
)
from ptpip.vendors.nikon.codes import NikonEvent, NikonResponse
from tests.vectors import VECTORS, shared_dir
from tests.vendors._jpeg import sof

# --- the quoted captures (vendor-others.md §1.1, §1.2) -----------------------------------------

Z8_START_DATA = "14 00 00 00 09 00 00 00 03 00 00 00 6d 01 00 00 00 00 00 00"
Z5_INIT_FAIL = "0c 00 00 00 05 00 00 00 01 00 00 00"


def _quoted(hex_text: str) -> None:
    reference = shared_dir() / "reference" / "vendor-others.md"
    if reference.exists():
        assert hex_text in reference.read_text(encoding="utf-8")


def test_z8_start_data_golden() -> None:
    _quoted(Z8_START_DATA)
    raw = bytes.fromhex(Z8_START_DATA)
    assert int.from_bytes(raw[:4], "little") == len(raw) == 20
    assert raw[4] == PacketType.START_DATA
    packet = decode_packet(PacketType.START_DATA, raw[8:])
    assert packet == StartData(transaction_id=3, total_length=365)
    assert packet.encode() == raw


def test_z5_init_fail_golden() -> None:
    _quoted(Z5_INIT_FAIL)
    raw = bytes.fromhex(Z5_INIT_FAIL)
    packet = decode_packet(PacketType.INIT_FAIL, raw[8:])
    assert packet == InitFail(InitFailReason.REJECTED_INITIATOR)
    assert packet.encode() == raw


# --- constants -------------------------------------------------------------------------------


def test_constants() -> None:
    assert SDRAM_HANDLE == 0xFFFF0001
    assert NOT_LIVE_VIEW == 0xA00B
    assert int(NikonResponse.NOT_LIVE_VIEW) == NOT_LIVE_VIEW
    busy = frozenset(int(c) for c in (ResponseCode.DEVICE_BUSY, NikonResponse.BULB_RELEASE_BUSY))
    ready = frozenset(int(c) for c in (ResponseCode.OK, NikonResponse.SILENT_RELEASE_BUSY))
    retry = frozenset(
        int(c) for c in (0x2019, NikonResponse.INVALID_STATUS, NikonResponse.WAITING_2ND_RELEASE)
    )
    assert (busy, ready, retry) == (DEVICE_READY_BUSY, DEVICE_READY_OK, CAPTURE_RETRY)
    assert device_ready_busy(0x2019)
    assert device_ready_busy(0xA200)
    assert not device_ready_busy(0x2001)
    assert not device_ready_busy(0xA201)
    assert not device_ready_busy(NOT_LIVE_VIEW)


# --- GetEvent 0x90C7 -------------------------------------------------------------------------

EVENTS: list[tuple[str, list[NikonEventRecord]]] = [
    ("0000", []),
    ("0100 01c1 0100ffff", [NikonEventRecord(NikonEvent.OBJECT_ADDED_IN_SDRAM, (SDRAM_HANDLE,))]),
    (
        "0200 0240 0000ffff 0650 0f500000",
        [NikonEventRecord(0x4002, (0xFFFF0000,)), NikonEventRecord(0x5006, (0x500F,))],
    ),
]


@pytest.mark.parametrize(("hex_data", "events"), EVENTS)
def test_get_event_table(hex_data: str, events: list[NikonEventRecord]) -> None:
    data = bytes.fromhex(hex_data)
    assert decode_events(data) == events
    assert encode_events(events) == data


def test_get_event_tolerances() -> None:
    data = bytes.fromhex("0100 06c1 2a000000") + b"\x00\x00"  # trailing bytes are ignored
    assert decode_events(data) == [NikonEventRecord(0xC106, (42,))]
    # an event with no parameter is sent with 0
    assert encode_events([(0xC102, ())]) == bytes.fromhex("0100 02c1 00000000")


@pytest.mark.parametrize(
    "hex_data",
    ["", "01", "0100", "0100 01c1 0100ff", "0200 01c1 0100ffff", "ffff 01c1 0100ffff"],
)
def test_get_event_errors(hex_data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_events(bytes.fromhex(hex_data))


def test_get_event_encode_errors() -> None:
    with pytest.raises(LocalProtocolError):
        encode_events([(0xC101, (1, 2))])
    with pytest.raises(LocalProtocolError):
        encode_events([(0x10000, (1,))])
    with pytest.raises(LocalProtocolError):
        encode_events([(0xC101, (-1,))])
    with pytest.raises(LocalProtocolError):
        encode_events([(0xC101, (1,))] * 0x10000)
    with pytest.raises(LocalProtocolError):
        encode_events([(0xC101, 5)])  # type: ignore[list-item]
    with pytest.raises(LocalProtocolError):
        encode_events_ex([(0xC101,)])  # type: ignore[list-item]


# --- GetEventEx 0x941C -----------------------------------------------------------------------

EVENTS_EX: list[tuple[str, list[NikonEventRecord]]] = [
    ("0000 0000", []),
    ("0100 0000 02c1 0000", [NikonEventRecord(0xC102, ())]),
    (
        "0200 0000 0240 0100 0100ffff 0640 0300 01000000 02000000 03000000",
        [NikonEventRecord(0x4002, (0xFFFF0001,)), NikonEventRecord(0x4006, (1, 2, 3))],
    ),
    (
        "0100 0000 01c1 0500 01000000 02000000 03000000 04000000 05000000",
        [NikonEventRecord(0xC101, (1, 2, 3, 4, 5))],
    ),
]


@pytest.mark.parametrize(("hex_data", "events"), EVENTS_EX)
def test_get_event_ex_table(hex_data: str, events: list[NikonEventRecord]) -> None:
    data = bytes.fromhex(hex_data)
    assert decode_events_ex(data) == events
    assert encode_events_ex(events) == data


def test_get_event_ex_tolerances() -> None:
    assert decode_events_ex(b"\x00\x00") == []  # just the count
    # the two bytes after the count are skipped, whatever they hold; trailing bytes ignored
    data = bytes.fromhex("0100 abcd 06c1 0100 07000000 ffff")
    assert decode_events_ex(data) == [NikonEventRecord(0xC106, (7,))]


@pytest.mark.parametrize(
    "hex_data",
    [
        "",
        "01",
        "0100",  # no room for the skipped bytes
        "0100 0000",  # no entry
        "0100 0000 01c1 0100",  # parameter missing
        "0100 0000 01c1 0600" + "00000000" * 6,  # more than five parameters
        "0200 0000 01c1 0000",  # second entry missing
        "ffff 0000 01c1 0000",  # count cannot fit
    ],
)
def test_get_event_ex_errors(hex_data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_events_ex(bytes.fromhex(hex_data))


def test_get_event_ex_encode_errors() -> None:
    with pytest.raises(LocalProtocolError):
        encode_events_ex([(0xC101, (0,) * 6)])
    with pytest.raises(LocalProtocolError):
        encode_events_ex([(0xC101, (1 << 32,))])


# --- GetPartialObjectEx 0x9431, GetObjectSize 0x9421 -----------------------------------------


def test_partial_ex_params() -> None:
    offset, size = 5 * 2**32 + 7, 10 * 1024 * 1024  # 10 MiB pieces past 4 GiB (issue #582)
    params = partial_ex_params(0x0042, offset, size)
    assert params == (0x42, 7, 5, 10 * 1024 * 1024, 0)
    assert decode_partial_ex_params(params) == (0x42, offset, size)
    assert partial_ex_params(1, 0, 2**64 - 1) == (1, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF)
    assert partial_ex_response(2**32 + 3) == (3, 1)
    assert decode_partial_ex_response((3, 1)) == 2**32 + 3
    assert decode_partial_ex_response((9,)) == 9
    assert decode_partial_ex_response(()) is None


@pytest.mark.parametrize(
    ("handle", "offset", "size"),
    [(-1, 0, 0), (1 << 32, 0, 0), (1, -1, 0), (1, 0, 1 << 64), (True, 0, 0)],
)
def test_partial_ex_params_errors(handle: int, offset: int, size: int) -> None:
    with pytest.raises(LocalProtocolError):
        partial_ex_params(handle, offset, size)


@pytest.mark.parametrize("params", [(), (1, 2, 3, 4), (1, 2, 3, 4, 5, 6), (1, 2, 3, 4, -1)])
def test_decode_partial_ex_params_errors(params: tuple[int, ...]) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_partial_ex_params(params)


def test_partial_ex_response_errors() -> None:
    with pytest.raises(LocalProtocolError):
        partial_ex_response(-1)
    with pytest.raises(RemoteProtocolError):
        decode_partial_ex_response((1 << 32,))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_partial_ex_round_trip(handle: int, offset: int, size: int) -> None:
    params = partial_ex_params(handle, offset, size)
    assert all(0 <= p <= 0xFFFFFFFF for p in params)
    assert decode_partial_ex_params(params) == (handle, offset, size)
    assert decode_partial_ex_response(partial_ex_response(size)) == size


def test_object_size() -> None:
    data = bytes.fromhex("0000000001000000")
    assert decode_object_size(data) == 2**32
    assert encode_object_size(2**32) == data
    for bad in (b"", bytes(7), bytes(9)):
        with pytest.raises(RemoteProtocolError):
            decode_object_size(bad)
    with pytest.raises(LocalProtocolError):
        encode_object_size(-1)


def test_vendor_prop_codes() -> None:
    data = bytes.fromhex("02000000 00d1 0bd1".replace(" ", ""))
    assert decode_vendor_prop_codes(data) == (0xD100, 0xD10B)
    assert encode_vendor_prop_codes([0xD100, 0xD10B]) == data
    assert decode_vendor_prop_codes(bytes(4)) == ()
    too_many = struct.pack("<I", MAX_VENDOR_PROPS + 1) + bytes(2 * (MAX_VENDOR_PROPS + 1))
    for bad in (b"", bytes(3), bytes.fromhex("0200000000d1"), data + b"\0", too_many):
        with pytest.raises(RemoteProtocolError):
            decode_vendor_prop_codes(bad)
    for codes in ([0x10000], [-1], [0xD000] * (MAX_VENDOR_PROPS + 1)):
        with pytest.raises(LocalProtocolError):
            encode_vendor_prop_codes(codes)


# --- live view 0x9203 ------------------------------------------------------------------------


@cache
def jpeg() -> bytes:
    """A real 640×480 JPEG (the Fuji live-view vector's frame)."""
    return (VECTORS / "fuji" / "lv_stream").read_bytes()[18:9371]


TINY_JPEG = b"\xff\xd8\xff\xe0\x00\x02\xff\xd9"

FIELDS = LiveViewFields(
    liveview_size=(640, 424),
    image_size=(6048, 4024),
    focus_area=(300, 200),
    focus_center=(3024, 2012),
    rotation=1,
    focus_result=2,
    level=(-3 * 65536 - 32768, 65536, 0),
    movie_recording=1,
)


@pytest.mark.parametrize("family", list(LiveViewFamily))
def test_liveview_families(family: LiveViewFamily) -> None:
    frame = encode_liveview(jpeg(), fields=FIELDS, family=family)
    assert len(frame) == family.header_size + len(jpeg())
    header, image, info = split_liveview(frame, family)
    assert image == jpeg()
    assert sof(image) == (0xC0, 640, 480)
    assert header == frame[: family.header_size]
    assert info == LiveViewInfo(family.header_size, family, FIELDS)
    assert info.fields is not None
    assert info.fields.level_degrees == (-3.5, 1.0, 0.0)


def test_liveview_header_layout() -> None:
    """Big-endian fields at the family's base: the Z layout starts 8 bytes in."""
    frame = encode_liveview(TINY_JPEG, fields=FIELDS, family=LiveViewFamily.Z)
    assert frame[8:16] == bytes.fromhex("0280 01a8 17a0 0fb8")  # 640 424 6048 4024
    assert frame[24:32] == bytes.fromhex("012c 00c8 0bd0 07dc")
    assert frame[37] == 1 and frame[48] == 2 and frame[68] == 1
    assert frame[52:56] == bytes.fromhex("fffc8000")  # −3.5° roll, 16.16
    old = encode_liveview(TINY_JPEG, fields=FIELDS, family=LiveViewFamily.D3X)
    assert old[0:4] == bytes.fromhex("0280 01a8") and old[29] == 1 and len(old) == 64 + 8


@pytest.mark.parametrize(
    ("size", "family"),
    [(64, LiveViewFamily.D3X), (128, LiveViewFamily.D90), (384, None), (200, None), (0, None)],
)
def test_liveview_detects_header_size(size: int, family: LiveViewFamily | None) -> None:
    frame = encode_liveview(jpeg(), size)
    header, image, info = split_liveview(frame)
    assert (len(header), image, info.header_size, info.family) == (size, jpeg(), size, family)
    # a 64-byte header is found with fields; a 384-byte one is shared by two layouts
    assert (info.fields is not None) == (family is not None)


def test_liveview_trailing_bytes_dropped() -> None:
    frame = encode_liveview(TINY_JPEG, 128, family=LiveViewFamily.D90) + b"\x00\x00pad"
    assert split_liveview(frame)[1] == TINY_JPEG


def test_liveview_cross_check_against_family() -> None:
    frame = encode_liveview(jpeg(), 128)
    with pytest.raises(LiveViewError, match="384-byte Z header"):
        split_liveview(frame, LiveViewFamily.Z)
    assert split_liveview(frame, LiveViewFamily.D90)[2].family is LiveViewFamily.D90


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(400),
        bytes(384) + b"\xff\xd8\xff\xe0\x00\x10",  # SOI, no EOI
        bytes(MAX_LIVEVIEW_HEADER + 1) + TINY_JPEG,  # the JPEG starts implausibly far in
        bytes(10) + b"\xff\xd8\x00\xff\xd9",  # FF D8 not followed by a marker
    ],
)
def test_liveview_errors(data: bytes) -> None:
    with pytest.raises(LiveViewError):
        split_liveview(data)
    assert issubclass(LiveViewError, RemoteProtocolError)


def test_liveview_encode_errors() -> None:
    with pytest.raises(LocalProtocolError):
        encode_liveview(b"not a jpeg")
    with pytest.raises(LocalProtocolError):
        encode_liveview(b"\xff\xd8\xff\xe0")  # no EOI
    with pytest.raises(LocalProtocolError):
        encode_liveview(TINY_JPEG, MAX_LIVEVIEW_HEADER + 1)
    with pytest.raises(LocalProtocolError):
        encode_liveview(TINY_JPEG, 128, FIELDS, family=LiveViewFamily.Z)  # size ≠ layout
    with pytest.raises(LocalProtocolError):
        encode_liveview(TINY_JPEG, fields=LiveViewFields(liveview_size=(70000, 1)))
    with pytest.raises(LocalProtocolError):
        encode_liveview(TINY_JPEG, fields=LiveViewFields(rotation=256))
    with pytest.raises(LocalProtocolError):
        encode_liveview(TINY_JPEG, fields=LiveViewFields(level=(1 << 31, 0, 0)))
    with pytest.raises(LocalProtocolError):  # an SOI inside the header would hide the JPEG
        encode_liveview(
            TINY_JPEG, fields=LiveViewFields(level=(-0x270001, 0, 0)), family=LiveViewFamily.Z
        )


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("Z 8", LiveViewFamily.Z),
        ("Z6_2", LiveViewFamily.Z),
        ("NIKON Z 50", LiveViewFamily.Z),
        ("D850", LiveViewFamily.Z),
        ("D700", LiveViewFamily.D3X),
        ("D90", LiveViewFamily.D90),
        ("D7000", LiveViewFamily.D4),
        ("D800", None),
        ("COOLPIX A", None),
    ],
)
def test_family_for_model(model: str, family: LiveViewFamily | None) -> None:
    assert family_for_model(model) is family


u16 = st.integers(0, 0xFFFF)
u8 = st.integers(0, 0xFF)
i32 = st.integers(-(2**31), 2**31 - 1)
fields_strategy = st.builds(
    LiveViewFields,
    liveview_size=st.tuples(u16, u16),
    image_size=st.tuples(u16, u16),
    focus_area=st.tuples(u16, u16),
    focus_center=st.tuples(u16, u16),
    rotation=u8,
    focus_result=u8,
    level=st.tuples(i32, i32, i32),
    movie_recording=u8,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(LiveViewFamily)), fields_strategy, st.binary(max_size=64))
def test_liveview_round_trip(family: LiveViewFamily, fields: LiveViewFields, body: bytes) -> None:
    image = b"\xff\xd8\xff\xe0" + body.replace(b"\xff", b"\x00") + b"\xff\xd9"
    try:
        frame = encode_liveview(image, fields=fields, family=family)
    except LocalProtocolError:
        return  # a field happened to spell FF D8 FF
    header, out, info = split_liveview(frame, family)
    assert (out, info.fields, len(header)) == (image, fields, family.header_size)


# --- round trips and fuzzing -----------------------------------------------------------------

records = st.lists(
    st.tuples(u16, st.lists(st.integers(0, 2**32 - 1), max_size=5).map(tuple)), max_size=20
)


@settings(max_examples=300, deadline=None)
@given(records)
def test_events_ex_round_trip(events: list[tuple[int, tuple[int, ...]]]) -> None:
    expected = [NikonEventRecord(code, params) for code, params in events]
    assert decode_events_ex(encode_events_ex(events)) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(u16, st.integers(0, 2**32 - 1)), max_size=30))
def test_events_round_trip(events: list[tuple[int, int]]) -> None:
    records_ = [NikonEventRecord(code, (param,)) for code, param in events]
    assert decode_events(encode_events(records_)) == records_


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODERS: list[Callable[[bytes], object]] = [
    decode_events,
    decode_events_ex,
    decode_object_size,
    decode_vendor_prop_codes,
    split_liveview,
    lambda data: split_liveview(data, LiveViewFamily.D90),
    lambda data: decode_partial_ex_params(list(data[:5])),
]


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(RemoteProtocolError):
            decode(data)


@cache
def seeds() -> dict[str, bytes]:
    return {
        "events": encode_events([(0xC101, (1,)), (0x4006, (0x5007,))]),
        "events_ex": encode_events_ex([(0xC101, (1, 2)), (0x4002, ())]),
        "liveview": encode_liveview(TINY_JPEG, fields=FIELDS),
    }


@FUZZ
@given(
    st.sampled_from(["events", "events_ex", "liveview"]),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 40),
)
def test_fuzz_mutated(which: str, edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(seeds()[which])
    for pos, value in edits:
        buf[pos % len(buf)] = value
    data = bytes(buf[: max(0, len(buf) - cut)])
    for decode in DECODERS:
        with contextlib.suppress(RemoteProtocolError):
            decode(data)
