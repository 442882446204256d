"""Leica LEGetStreamData (0x9025) payloads in the header shape of vendor-leica.md §6."""

from __future__ import annotations

import contextlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.vendors.leica.codec import (
    DEFAULT_HEADER,
    HEADER_SIZE,
    LeicaStreamFrame,
    decode_stream_frame,
    encode_stream_frame,
)
from tests.vectors import shared_dir

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(40)) + b"\xff\xd9"
# §6 sample: tags 1–3 of 4 bytes, tag 4 of 64 bytes, then tags 5/6/7 (sizes chosen here so
# that the JPEG lands at 0xB4 like the sample's)
TLVS = (
    (1, bytes.fromhex("d4300000")),
    (2, bytes.fromhex("d4300000")),
    (3, bytes.fromhex("53060000")),
    (4, bytes(range(64))),
    (5, b"\x05\x00\x00\x00"),
    (6, b"\x06\x00\x00\x00"),
    (7, bytes(20)),
)
SAMPLE_WORDS = (0x102, 0x1C46, 0x1C3E0000, 0)


@cache
def sample_header() -> bytes:
    """The first line of the §6 sample dump (offset 0x0c of the original capture)."""
    text = (shared_dir() / "reference" / "vendor-leica.md").read_text(encoding="utf-8")
    (line,) = (ln for ln in text.splitlines() if ln.startswith("0c: "))
    return bytes.fromhex(line[4:])


def test_reference_header_shape() -> None:
    payload = encode_stream_frame(JPEG, TLVS, SAMPLE_WORDS)
    assert payload[:HEADER_SIZE] == sample_header()
    assert payload[0xB4:] == JPEG
    frame = decode_stream_frame(payload)
    assert frame == LeicaStreamFrame((*SAMPLE_WORDS, 0xB4), TLVS, JPEG)
    assert encode_stream_frame(frame.jpeg, frame.tlvs, SAMPLE_WORDS) == payload


def test_defaults() -> None:
    payload = encode_stream_frame(JPEG)
    assert decode_stream_frame(payload) == LeicaStreamFrame((*DEFAULT_HEADER, 20), (), JPEG)


@pytest.mark.parametrize("offset", [0, 19, 0xB0, 0xB5, 0xFFFF_FFFF])
def test_bogus_offset_falls_back_to_soi_scan(offset: int) -> None:
    payload = bytearray(encode_stream_frame(JPEG, TLVS, SAMPLE_WORDS))
    payload[16:20] = offset.to_bytes(4, "little")
    frame = decode_stream_frame(payload)
    assert frame.jpeg == JPEG
    assert frame.tlvs == TLVS
    assert frame.header_fields[4] == offset


def test_tlv_length_swallowing_the_jpeg() -> None:
    payload = bytearray(encode_stream_frame(JPEG, [(9, b"abcd")]))
    payload[16:20] = bytes(4)  # bogus offset
    payload[24:28] = (200).to_bytes(4, "little")  # TLV length beyond its value
    frame = decode_stream_frame(payload)
    assert frame.jpeg == JPEG
    assert frame.tlvs == ()  # the broken TLV is dropped


@pytest.mark.parametrize(
    "data", [b"", bytes(19), bytes(20), encode_stream_frame(JPEG)[: -len(JPEG)] + b"no soi"]
)
def test_errors(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_stream_frame(data)


def test_encode_errors() -> None:
    with pytest.raises(LocalProtocolError):
        encode_stream_frame(b"not a jpeg")
    with pytest.raises(LocalProtocolError):
        encode_stream_frame(JPEG, [(-1, b"")])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode_stream_frame(data)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 255)), max_size=6), st.integers(0, 60)
)
def test_fuzz_mutated(edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(encode_stream_frame(JPEG, TLVS, SAMPLE_WORDS))
    for pos, value in edits:
        buf[pos % len(buf)] = value
    with contextlib.suppress(RemoteProtocolError):
        decode_stream_frame(bytes(buf[: len(buf) - cut]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 0xFFFF_FFFF), st.binary(max_size=12)), max_size=5),
    st.binary(max_size=40),
)
def test_round_trip(tlvs: list[tuple[int, bytes]], body: bytes) -> None:
    jpeg = b"\xff\xd8" + body
    frame = decode_stream_frame(encode_stream_frame(jpeg, tlvs))
    assert frame.tlvs == tuple(tlvs)
    assert frame.jpeg == jpeg
