"""PTP primitive codecs: integers, STR, arrays, values by data type, DateTime strings."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import ARRAY_MASK, DataType
from ptpip.ptp.values import (
    MAX_STRING_UNITS,
    Reader,
    Value,
    Writer,
    decode_datetime,
    encode_datetime,
    int_range,
    scalar_size,
)

SCALARS = [
    DataType.INT8,
    DataType.UINT8,
    DataType.INT16,
    DataType.UINT16,
    DataType.INT32,
    DataType.UINT32,
    DataType.INT64,
    DataType.UINT64,
    DataType.INT128,
    DataType.UINT128,
]
ARRAYS = [DataType(t | ARRAY_MASK) for t in SCALARS]


def encode_value(datatype: int, value: Value) -> bytes:
    writer = Writer()
    writer.push_value(datatype, value)
    return writer.getvalue()


def decode_value(datatype: int, data: bytes) -> Value:
    reader = Reader(data)
    value = reader.pull_value(datatype)
    reader.expect_end("value")
    return value


# -- integers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datatype", "size", "lo", "hi"),
    [
        (DataType.INT8, 1, -128, 127),
        (DataType.UINT8, 1, 0, 0xFF),
        (DataType.INT16, 2, -0x8000, 0x7FFF),
        (DataType.UINT16, 2, 0, 0xFFFF),
        (DataType.INT32, 4, -(2**31), 2**31 - 1),
        (DataType.UINT32, 4, 0, 2**32 - 1),
        (DataType.INT64, 8, -(2**63), 2**63 - 1),
        (DataType.UINT64, 8, 0, 2**64 - 1),
        (DataType.INT128, 16, -(2**127), 2**127 - 1),
        (DataType.UINT128, 16, 0, 2**128 - 1),
    ],
)
def test_scalar_min_max_round_trip(datatype: DataType, size: int, lo: int, hi: int) -> None:
    assert scalar_size(datatype) == size
    assert int_range(datatype) == (lo, hi)
    for value in (lo, hi):
        data = encode_value(datatype, value)
        assert data == value.to_bytes(size, "little", signed=lo < 0)
        assert decode_value(datatype, data) == value
    for outside in (lo - 1, hi + 1):
        with pytest.raises(LocalProtocolError):
            encode_value(datatype, outside)


@pytest.mark.parametrize(
    ("datatype", "value", "hex_bytes"),
    [
        (DataType.INT8, -128, "80"),
        (DataType.INT8, -1, "ff"),
        (DataType.UINT16, 200, "c8 00"),
        (DataType.INT16, -3000, "48 f4"),
        (DataType.UINT32, 300000, "e0 93 04 00"),
        (DataType.INT32, -2, "fe ff ff ff"),
        (DataType.UINT64, 0x0102030405060708, "08 07 06 05 04 03 02 01"),
        (DataType.INT128, -(2**127), "00" * 15 + "80"),
        (DataType.UINT128, 2**128 - 1, "ff" * 16),
    ],
)
def test_scalar_golden_bytes(datatype: DataType, value: int, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert encode_value(datatype, value) == data
    assert decode_value(datatype, data) == value


def test_fixed_width_pulls_and_pushes() -> None:
    writer = Writer()
    writer.push_u8(0xAB)
    writer.push_u16(0x1001)
    writer.push_u32(0xDEADBEEF)
    writer.push_u64(0x1122334455667788)
    data = writer.getvalue()
    assert data == bytes.fromhex("ab 0110 efbeadde 8877665544332211")
    assert len(writer) == 15
    reader = Reader(data)
    assert reader.pull_u8() == 0xAB
    assert reader.pull_u16() == 0x1001
    assert reader.pull_u32() == 0xDEADBEEF
    assert reader.pull_u64() == 0x1122334455667788
    assert reader.at_end()


def test_scalar_rejects_non_int_and_unknown_types() -> None:
    with pytest.raises(LocalProtocolError):
        encode_value(DataType.UINT16, "1")
    with pytest.raises(LocalProtocolError):
        Writer().push_scalar(DataType.UNDEF, 0)
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x00" * 4).pull_value(DataType.UNDEF)
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x00" * 4).pull_value(0x000B)


@given(st.sampled_from(SCALARS), st.data())
def test_scalar_round_trip(datatype: DataType, data: st.DataObject) -> None:
    lo, hi = int_range(datatype)
    value = data.draw(st.integers(lo, hi))
    encoded = encode_value(datatype, value)
    assert len(encoded) == scalar_size(datatype)
    assert decode_value(datatype, encoded) == value


# -- arrays ------------------------------------------------------------------------------------


def test_array_golden_bytes() -> None:
    assert encode_value(DataType.AUINT16, (1, 2)) == bytes.fromhex("02000000 0100 0200")
    assert encode_value(DataType.AUINT32, ()) == bytes.fromhex("00000000")
    writer = Writer()
    writer.push_array(DataType.UINT32, [0x00010001])
    assert writer.getvalue() == bytes.fromhex("01000000 01000100")
    assert encode_value(DataType.AINT8, (-1, 1)) == bytes.fromhex("02000000 ff 01")
    assert decode_value(DataType.AUINT32, bytes.fromhex("01000000 01000100")) == (0x00010001,)
    assert decode_value(DataType.AINT16, bytes.fromhex("02000000 48f4 b80b")) == (-3000, 3000)
    assert decode_value(DataType.AUINT8, bytes.fromhex("00000000")) == ()


@pytest.mark.parametrize("datatype", ARRAYS, ids=lambda t: t.name)
def test_array_min_max_round_trip(datatype: DataType) -> None:
    lo, hi = int_range(datatype)
    size = scalar_size(datatype.element)
    values = (lo, 0, hi)
    data = encode_value(datatype, values)
    assert data[:4] == b"\x03\x00\x00\x00"
    assert len(data) == 4 + 3 * size
    assert decode_value(datatype, data) == values
    with pytest.raises(LocalProtocolError):
        encode_value(datatype, (hi + 1,))
    with pytest.raises(LocalProtocolError):
        encode_value(datatype, 5)


@given(st.sampled_from(ARRAYS), st.data())
def test_array_round_trip(datatype: DataType, data: st.DataObject) -> None:
    lo, hi = int_range(datatype)
    values = tuple(data.draw(st.lists(st.integers(lo, hi), max_size=20)))
    assert decode_value(datatype, encode_value(datatype, values)) == values


@pytest.mark.parametrize("element", [DataType.UINT8, DataType.INT16, DataType.UINT32])
def test_array_count_beyond_data_raises_before_allocating(element: DataType) -> None:
    reader = Reader(b"\xff\xff\xff\xff" + b"\x00" * 6)
    tracemalloc.start()
    try:
        with pytest.raises(RemoteProtocolError, match="does not fit"):
            reader.pull_array(element)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 4 G elements would need gigabytes; the check happens before any of it is allocated
    assert peak < 64 * 1024


def test_array_max_count() -> None:
    data = bytes.fromhex("03000000 0100 0200 0300")
    assert Reader(data).pull_array(DataType.UINT16, max_count=3) == (1, 2, 3)
    with pytest.raises(RemoteProtocolError):
        Reader(data).pull_array(DataType.UINT16, max_count=2)


def test_array_unknown_element_type() -> None:
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x00" * 8).pull_value(ARRAY_MASK)
    with pytest.raises(LocalProtocolError):
        encode_value(ARRAY_MASK | 0x0B, (1,))


# -- strings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hex_bytes"),
    [
        ("", "00"),
        ("SD", "03 5300 4400 0000"),
        ("1920x1080", "0a 3100 3900 3200 3000 7800 3100 3000 3800 3000 0000"),
        ("é", "02 e900 0000"),
        ("😀", "03 3dd8 00de 0000"),
    ],
)
def test_str_golden_bytes(text: str, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert encode_value(DataType.STR, text) == data
    assert decode_value(DataType.STR, data) == text


def test_str_254_units_fit_255_do_not() -> None:
    assert MAX_STRING_UNITS == 255
    longest = "a" * 254
    data = encode_value(DataType.STR, longest)
    assert data[0] == 255
    assert len(data) == 1 + 255 * 2
    assert decode_value(DataType.STR, data) == longest
    with pytest.raises(LocalProtocolError):
        encode_value(DataType.STR, "a" * 255)
    # a non-BMP character is two UTF-16 units
    assert decode_value(DataType.STR, encode_value(DataType.STR, "😀" * 127)) == "😀" * 127
    with pytest.raises(LocalProtocolError):
        encode_value(DataType.STR, "😀" * 127 + "a")


def test_str_rejects_nul_and_non_str() -> None:
    with pytest.raises(LocalProtocolError):
        encode_value(DataType.STR, "a\x00b")
    with pytest.raises(LocalProtocolError):
        encode_value(DataType.STR, 5)


def test_str_decoding_is_lenient_about_the_terminator() -> None:
    # no terminator: the text is every unit
    assert Reader(bytes.fromhex("02 4100 4200")).pull_str() == "AB"
    # text stops at the first NUL; units after it are padding
    reader = Reader(bytes.fromhex("04 4100 0000 4200 0000"))
    assert reader.pull_str() == "A"
    assert reader.at_end()
    # a lone surrogate never raises
    assert Reader(bytes.fromhex("02 00d8 0000")).pull_str() == "\ufffd"


@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=120))
def test_str_round_trip(text: str) -> None:
    data = encode_value(DataType.STR, text)
    assert data[0] == (len(text.encode("utf-16-le")) // 2 + 1 if text else 0)
    assert decode_value(DataType.STR, data) == text


# -- truncation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        *((t, int_range(t)[1]) for t in SCALARS),
        *((t, (1, 2, 3)) for t in ARRAYS),
        (DataType.STR, "SD"),
    ],
    ids=str,
)
def test_every_truncation_raises_remote_error(datatype: int, value: Value) -> None:
    data = encode_value(datatype, value)
    for n in range(len(data)):
        with pytest.raises(RemoteProtocolError):
            Reader(data[:n]).pull_value(datatype)


def test_truncated_fixed_width_pulls() -> None:
    with pytest.raises(RemoteProtocolError):
        Reader(b"").pull_u8()
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x01").pull_u16()
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x01\x02\x03").pull_u32()
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x00" * 7).pull_u64()
    with pytest.raises(RemoteProtocolError):
        Reader(b"\x00\x00").pull_bytes(3)
    reader = Reader(b"\x01\x02\x03", offset=1)
    assert reader.remaining == 2
    assert reader.pull_rest() == b"\x02\x03"
    reader.expect_end("test")
    with pytest.raises(RemoteProtocolError, match="trailing"):
        Reader(b"\x01").expect_end("test")


@given(st.binary(max_size=64), st.sampled_from([*SCALARS, *ARRAYS, DataType.STR]))
@settings(max_examples=300, deadline=None)
def test_random_bytes_pull_value_never_crashes(data: bytes, datatype: int) -> None:
    reader = Reader(data)
    try:
        reader.pull_value(datatype)
    except RemoteProtocolError:
        return
    assert 0 < reader.pos <= len(data)


# -- DateTime strings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240101T120000", datetime(2024, 1, 1, 12, 0, 0)),
        ("20240101T120000.5", datetime(2024, 1, 1, 12, 0, 0, 500_000)),
        ("19991231T235959.9", datetime(1999, 12, 31, 23, 59, 59, 900_000)),
        ("20240101T120000Z", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        (
            "20240101T120000+0130",
            datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=1, minutes=30))),
        ),
        (
            "20240101T120000.5-0800",
            datetime(2024, 1, 1, 12, 0, 0, 500_000, timezone(-timedelta(hours=8))),
        ),
        ("", None),
        ("garbage", None),
        ("2024-01-01T12:00:00", None),
        ("20240101T12000", None),
        ("20240101X120000", None),
        ("20241301T120000", None),
        ("20240230T120000", None),
        ("20240101T120000.", None),
        ("20240101T120000.x", None),
        ("20240101T120000junk", None),
    ],
)
def test_decode_datetime(text: str, expected: datetime | None) -> None:
    result = decode_datetime(text)
    assert result == expected
    if expected is not None:
        assert result is not None
        assert (result.tzinfo is None) == (expected.tzinfo is None)


def test_encode_datetime() -> None:
    assert encode_datetime(None) == ""
    assert encode_datetime(datetime(2024, 1, 1, 12, 0, 0)) == "20240101T120000"
    assert encode_datetime(datetime(2024, 1, 1, 12, 0, 0, 500_000)) == "20240101T120000.5"
    # PTP carries tenths only; finer digits are dropped
    assert encode_datetime(datetime(2024, 1, 1, 12, 0, 0, 150_000)) == "20240101T120000.1"


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_datetime_round_trip(value: datetime) -> None:
    value = value.replace(microsecond=value.microsecond // 100_000 * 100_000)
    text = encode_datetime(value)
    assert len(text) == (17 if value.microsecond else 15)
    assert decode_datetime(text) == value


def test_decode_datetime_non_ascii_tenths_digit_is_junk() -> None:
    assert decode_datetime("20240101T120000.²") is None
