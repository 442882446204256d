"""The incremental framer: any chunking, streamed data, bounds checked before buffering."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptpip.errors import RemoteProtocolError
from ptpip.ip.framing import (
    FUJI_GOODBYE,
    Container,
    ContainerType,
    DataChunk,
    DataContainerStart,
    Dialect,
    FrameEvent,
    Framer,
    Goodbye,
    encode_container,
)
from ptpip.ip.packets import Data as DataPacket
from ptpip.ip.packets import (
    EndData,
    Event,
    FujiInitCommandRequest,
    InitCommandAck,
    OperationRequest,
    OperationResponse,
    StartData,
)
from tests.vectors import seed_dumps

# A data-in transaction as a camera sends it: StartData, two Data, EndData, Response.
PAYLOAD = bytes(range(256)) * 40
STREAM = (
    StartData(7, len(PAYLOAD)).encode()
    + DataPacket(7, PAYLOAD[:4000]).encode()
    + DataPacket(7, PAYLOAD[4000:9000]).encode()
    + EndData(7, PAYLOAD[9000:]).encode()
    + OperationResponse(0x2001, 7).encode()
    + Event(0x4002, 7, (5,)).encode()
)


def run(framer: Framer, chunks: list[bytes]) -> list[FrameEvent]:
    out: list[FrameEvent] = []
    for chunk in chunks:
        framer.feed(chunk)
        out.extend(framer.events())
    return out


def summarise(events: list[FrameEvent]) -> tuple[list[object], bytes, bytes]:
    """Control events in order, the data reassembled, and which chunk ended the phase."""
    control: list[object] = []
    data = bytearray()
    ends = bytearray()
    for e in events:
        if isinstance(e, DataChunk):
            assert e.transaction_id == 7
            data += e.data
            if e.end_data:
                ends += b"E"
        else:
            control.append(e)
    return control, bytes(data), bytes(ends)


EXPECTED_CONTROL = [
    StartData(7, len(PAYLOAD)),
    OperationResponse(0x2001, 7),
    Event(0x4002, 7, (5,)),
]


def test_whole_stream_in_one_chunk() -> None:
    control, data, ends = summarise(run(Framer(), [STREAM]))
    assert control == EXPECTED_CONTROL
    assert data == PAYLOAD
    assert ends == b"E"


def test_one_byte_at_a_time() -> None:
    framer = Framer()
    events = run(framer, [STREAM[i : i + 1] for i in range(len(STREAM))])
    control, data, ends = summarise(events)
    assert control == EXPECTED_CONTROL
    assert data == PAYLOAD
    assert ends == b"E"
    assert framer.buffered == 0


def test_trailing_partial_packet_waits() -> None:
    framer = Framer()
    partial = OperationResponse(0x2001, 8).encode()
    events = run(framer, [STREAM + partial[:9]])
    assert summarise(events)[0] == EXPECTED_CONTROL
    assert framer.next_event() is None
    framer.feed(partial[9:])
    assert framer.next_event() == OperationResponse(0x2001, 8)


@given(st.lists(st.integers(1, 3000), max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_chunking_gives_the_same_result(cuts: list[int]) -> None:
    chunks, pos = [], 0
    for n in cuts:
        chunks.append(STREAM[pos : pos + n])
        pos += n
    chunks.append(STREAM[pos:])
    control, data, ends = summarise(run(Framer(), chunks))
    assert control == EXPECTED_CONTROL
    assert data == PAYLOAD
    assert ends == b"E"


def test_data_is_streamed_not_buffered() -> None:
    # One 8 MiB EndData (Nikon style) fed in 64 KiB pieces: the framer hands each piece
    # on at once and never holds more than one feed's worth.
    size = 8 * 1024 * 1024
    head = struct.pack("<III", 12 + size, 12, 3)
    framer = Framer()
    framer.feed(head)
    assert framer.next_event() is None  # header consumed, no payload yet
    piece = b"\xab" * 65536
    total, biggest = 0, 0
    for _ in range(size // len(piece)):
        framer.feed(piece)
        biggest = max(biggest, framer.buffered)
        for event in framer.events():
            assert isinstance(event, DataChunk)
            total += len(event.data)
    assert total == size
    assert biggest <= len(piece)


def test_empty_end_data_closes_the_phase() -> None:
    framer = Framer()
    framer.feed(StartData(2, 0).encode() + EndData(2).encode())
    assert list(framer.events()) == [StartData(2, 0), DataChunk(2, b"", True, True)]


@pytest.mark.parametrize(
    "raw",
    [
        struct.pack("<II", 4, 7),  # shorter than the header
        struct.pack("<II", 0xFFFF_FFFF, 7),  # a response of 4 GiB
        struct.pack("<II", 13, 7),  # shorter than a response
        struct.pack("<II", 21, 9),  # StartData is exactly 20
        struct.pack("<II", 100, 0),  # type 0 is invalid
        struct.pack("<II", 100, 99),  # unknown type
        struct.pack("<II", 8, 12),  # a data packet without its transaction id
    ],
)
def test_bad_lengths_raise_before_buffering(raw: bytes) -> None:
    framer = Framer()
    framer.feed(raw)
    with pytest.raises(RemoteProtocolError):
        framer.next_event()


def test_control_cap_is_configurable() -> None:
    framer = Framer(max_control=40)
    framer.feed(InitCommandAck(1, bytes(16), "a long camera name").encode()[:8])
    with pytest.raises(RemoteProtocolError):
        framer.next_event()


def test_data_cap_is_configurable() -> None:
    framer = Framer(max_data_packet=1024)
    framer.feed(struct.pack("<III", 2000, 10, 1))
    with pytest.raises(RemoteProtocolError):
        framer.next_event()


# --- Fuji containers ------------------------------------------------------------------------


def test_fuji_handshake_then_containers() -> None:
    """vendor-fuji.md §3: after the CIPA ack, the same stream carries USB containers."""
    framer = Framer()
    ack = InitCommandAck(0, bytes(16), "X-T1", 0x0001_0000, 36).encode()
    response = bytes.fromhex("0c000000 0300 0120 01000000".replace(" ", ""))
    framer.feed(ack + response[:5])
    assert framer.next_event() == InitCommandAck(0, bytes(16), "X-T1", 0x0001_0000, 36)
    framer.use_containers()
    framer.feed(response[5:])
    assert framer.next_event() == Container(ContainerType.RESPONSE, 0x2001, 1)


def test_malc0mn_set_prop_data_out_container_bytes() -> None:
    # SetDevicePropValue(0xDF01 = 5), TID 2, as malc0mn sends it (vendor-fuji.md §3).
    command = encode_container(1, 0x1016, 2, params=(0xDF01, 0, 0, 0, 0))
    data = encode_container(2, 0x1016, 2, payload=b"\x05" + bytes(19))
    expected = bytes.fromhex("20000000 0100 1610 02000000 01df0000".replace(" ", ""))
    assert command == expected + bytes(16)
    assert data[:12] == bytes.fromhex("200000000200161002000000")
    framer = Framer(Dialect.CONTAINER)
    framer.feed(command + data)
    events = list(framer.events())
    assert events[0] == Container(1, 0x1016, 2, (0xDF01, 0, 0, 0, 0))
    assert events[1] == DataContainerStart(0x1016, 2, 20)
    assert events[2] == DataChunk(2, b"\x05" + bytes(19), True)


def test_seed_004_fuji_dumps_frame_as_containers() -> None:
    d902b, resp1, d212, resp2 = seed_dumps("004_162113056664525c.txt")[:4]
    framer = Framer(Dialect.CONTAINER)
    for chunk in (d902b, resp1, d212, resp2):
        framer.feed(chunk)
    events = list(framer.events())
    assert events[0] == DataContainerStart(0x902B, 7, 356 - 12)
    assert isinstance(events[1], DataChunk)
    assert events[1].data == d902b[12:]
    assert events[2] == Container(ContainerType.RESPONSE, 0x2001, 6)
    assert events[3] == DataContainerStart(0x1015, 6, 116 - 12)
    assert events[5] == Container(ContainerType.RESPONSE, 0x2001, 6)


def test_fuji_event_container_28_bytes() -> None:
    # malc0mn's captured PreviewAvailable (vendor-fuji.md §7.1): preview of 61,737 bytes.
    raw = bytes.fromhex(
        "1c000000 0400 01c0 01000000 06000000 06000000 29f10000 00000000".replace(" ", "")
    )
    framer = Framer(Dialect.CONTAINER)
    framer.feed(raw)
    event = framer.next_event()
    assert event == Container(ContainerType.EVENT, 0xC001, 1, (6, 6, 61737, 0))


def test_goodbye_and_second_fuji_init_inside_container_stream() -> None:
    init = FujiInitCommandRequest(bytes(16), "gphoto").encode()
    framer = Framer(Dialect.CONTAINER)
    framer.feed(init + FUJI_GOODBYE)
    assert framer.next_event() == FujiInitCommandRequest(bytes(16), "gphoto")
    assert framer.next_event() == Goodbye()


@pytest.mark.parametrize(
    "raw",
    [
        struct.pack("<IHHI", 11, 1, 0x1001, 1),
        struct.pack("<IHHI", 14, 3, 0x2001, 1) + b"\0\0",  # ragged params
        struct.pack("<IHHI", 40, 3, 0x2001, 1) + bytes(28),  # 7 params
        struct.pack("<IHHI", 12, 9, 0x2001, 1),  # unknown container type
    ],
)
def test_bad_containers_raise(raw: bytes) -> None:
    framer = Framer(Dialect.CONTAINER)
    framer.feed(raw)
    with pytest.raises(RemoteProtocolError):
        framer.next_event()


@given(st.binary(max_size=200), st.sampled_from([Dialect.CIPA, Dialect.CONTAINER]))
@settings(max_examples=2000, deadline=None)
def test_random_bytes_give_events_or_typed_error(raw: bytes, dialect: Dialect) -> None:
    framer = Framer(dialect)
    framer.feed(raw)
    try:
        for _ in range(len(raw) + 2):
            if framer.next_event() is None:
                break
    except RemoteProtocolError:
        pass


def test_handshake_request_in_cipa_mode() -> None:
    framer = Framer()
    framer.feed(OperationRequest(0x1002, 0, (1,)).encode())
    assert framer.next_event() == OperationRequest(0x1002, 0, (1,))
