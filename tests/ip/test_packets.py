"""PTP/IP packets: golden bytes from the seeds both ways, round trips and fuzzing."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip.packets import (
    FUJI_INIT_MAGIC,
    PROTOCOL_VERSION_1_0,
    Cancel,
    Data,
    EndData,
    Event,
    FujiInitCommandRequest,
    InitCommandAck,
    InitCommandRequest,
    InitEventAck,
    InitEventRequest,
    InitFail,
    OperationRequest,
    OperationResponse,
    Packet,
    ProbeRequest,
    ProbeResponse,
    StartData,
    decode_packet,
)
from ptpip.ptp.codes import UNKNOWN_DATA_LENGTH, DataPhase, PacketType
from tests.vectors import seed_dumps

ZERO_GUID = bytes(16)
CANON_CLIENT_GUID = bytes.fromhex("4dc479e1c10e46279ee11b2abce2da29")
CANON_70D_GUID = bytes.fromhex("0000000000000000010060128b7cc240")


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def decode(raw: bytes) -> Packet:
    length, ptype = struct.unpack_from("<II", raw)
    assert length == len(raw)
    return decode_packet(ptype, raw[8:])


# (seed, bytes, decoded packet). Seed 002 is typed from the article's byte tables.
GOLDEN: list[tuple[str, bytes, Packet]] = [
    (
        "002 Canon InitCommandRequest 'iPhone'",
        h(
            "2a000000 01000000 4dc479e1c10e46279ee11b2abce2da29"
            " 690050006800 6f006e006500 0000 00000100"
        ),
        InitCommandRequest(CANON_CLIENT_GUID, "iPhone", PROTOCOL_VERSION_1_0),
    ),
    (
        "002 Canon InitCommandAck '70D'",
        h("28000000 02000000 01000000 0000000000000000010060128b7cc240 370030004400 0000 00000100"),
        InitCommandAck(1, CANON_70D_GUID, "70D", PROTOCOL_VERSION_1_0),
    ),
    ("002 InitEventRequest", h("0c000000 03000000 01000000"), InitEventRequest(1)),
    ("002 InitEventAck", h("08000000 04000000"), InitEventAck()),
    (
        "002 OpenSession",
        h("16000000 06000000 01000000 0210 00000000 01000000"),
        OperationRequest(0x1002, 0, (1,), DataPhase.NO_DATA_OR_IN),
    ),
    ("002 OpenSession OK", h("0e000000 07000000 0120 00000000"), OperationResponse(0x2001, 0)),
    (
        "002 SetRemoteMode(1)",
        h("16000000 06000000 01000000 1491 01000000 01000000"),
        OperationRequest(0x9114, 1, (1,)),
    ),
    (
        "002 SetEventMode(1)",
        h("16000000 06000000 01000000 1591 02000000 01000000"),
        OperationRequest(0x9115, 2, (1,)),
    ),
    ("Nikon InitFail reason 1", h("0c000000 05000000 01000000"), InitFail(1)),
    (
        "Nikon Z8 StartData 365",
        h("14000000 09000000 03000000 6d01000000000000"),
        StartData(3, 365),
    ),
    ("Probe Request", h("08000000 0d000000"), ProbeRequest()),
    ("Probe Response", h("08000000 0e000000"), ProbeResponse()),
    ("Cancel", h("0c000000 0b000000 07000000"), Cancel(7)),
    (
        "SetDevicePropValue ISO 200 data-out",
        h("0e000000 0c000000 05000000 c800"),
        EndData(5, b"\xc8\x00"),
    ),
    ("empty Data", h("0c000000 0a000000 09000000"), Data(9)),
    (
        "GetDeviceInfo request",
        h("12000000 06000000 01000000 0110 01000000"),
        OperationRequest(0x1001, 1),
    ),
]

# Seed 000 (Leica) parsed from the seed file itself, with the fields the seed states.
LEICA_EXPECTED: list[Packet] = [
    InitCommandRequest(ZERO_GUID, "OLS", PROTOCOL_VERSION_1_0, name_terminated=False),
    InitCommandAck(1, ZERO_GUID, "", 0),
    InitEventRequest(1),
    InitEventAck(),
    OperationRequest(0x1002, 0, (0x412,)),
    OperationResponse(0x2001, 0, (0, 0, 0, 0, 0)),
    OperationRequest(0x9005, 1, (0xFF55,)),
    OperationResponse(0x2001, 1, (0, 0, 0, 0, 0)),
    OperationRequest(0x901D, 0x18),
    OperationResponse(0x2001, 0x18, (0, 0, 0, 0, 0)),
    Event(0x4006, 0xFFFF_FFFF, (0x5013, 0, 0)),
]


@pytest.mark.parametrize(("what", "raw", "packet"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_decodes_and_reencodes(what: str, raw: bytes, packet: Packet) -> None:
    assert decode(raw) == packet
    assert packet.encode() == raw


def test_seed_000_leica_trace_both_ways() -> None:
    dumps = seed_dumps("000_fe5be2a1d32e6638.txt")
    assert len(dumps) == len(LEICA_EXPECTED)
    for raw, expected in zip(dumps, LEICA_EXPECTED, strict=True):
        assert decode(raw) == expected
        assert expected.encode() == raw


def test_leica_request_name_has_no_terminator() -> None:
    # 8 + 16 + 6 + 4 = 34: the version's low half is the only terminator.
    raw = seed_dumps("000_fe5be2a1d32e6638.txt")[0]
    assert len(raw) == 34
    packet = decode(raw)
    assert isinstance(packet, InitCommandRequest)
    assert packet.friendly_name == "OLS"
    assert not packet.name_terminated
    # The standard form is two bytes longer.
    assert len(InitCommandRequest(ZERO_GUID, "OLS").encode()) == 36


def init_request(after_guid: bytes) -> bytes:
    return struct.pack("<II", 24 + len(after_guid), 1) + CANON_CLIENT_GUID + after_guid


def u16le(text: str) -> bytes:
    return text.encode("utf-16-le")


@pytest.mark.parametrize(
    ("what", "after_guid", "expected"),
    [
        (
            "no version (libgphoto2's PTPIP.TXT form)",
            u16le("ptpip-py") + h("0000"),
            InitCommandRequest(CANON_CLIENT_GUID, "ptpip-py", None),
        ),
        (
            "no version, empty name",
            h("0000"),
            InitCommandRequest(CANON_CLIENT_GUID, "", None),
        ),
        (
            "a 2-byte version: read as seed 000's form, the version in the high half",
            u16le("ptpip-py") + h("0000 0100"),
            InitCommandRequest(CANON_CLIENT_GUID, "ptpip-py", 0x0001_0000, False),
        ),
        (
            "no NUL, version 0x00000001 (a control character is not a name's)",
            u16le("iPhone") + h("01000000"),
            InitCommandRequest(CANON_CLIENT_GUID, "iPhone", 1, False),
        ),
        (
            "no NUL, version 1.1",
            u16le("iPhone") + h("01000100"),
            InitCommandRequest(CANON_CLIENT_GUID, "iPhone", 0x0001_0001, False),
        ),
        (
            "no NUL and no version",
            u16le("iPhone"),
            InitCommandRequest(CANON_CLIENT_GUID, "iPhone", None, False),
        ),
        (
            "PTPy: version 100 after a terminated name",
            u16le("PTPy") + h("0000 64000000"),
            InitCommandRequest(CANON_CLIENT_GUID, "PTPy", 100),
        ),
    ],
)
def test_lenient_init_command_request_forms(
    what: str, after_guid: bytes, expected: InitCommandRequest
) -> None:
    raw = init_request(after_guid)
    assert decode(raw) == expected, what
    assert expected.encode() == raw  # each form is kept, byte for byte


def test_init_command_request_ambiguous_tail_reads_as_one_deviation() -> None:
    # "name NUL" with no version, or "nam" + a version 0x0000XXXX with no NUL? A printable
    # unit before the NUL is a character: one deviation (no version), not two.
    packet = decode(init_request(u16le("abcd") + h("0000")))
    assert packet == InitCommandRequest(CANON_CLIENT_GUID, "abcd", None)


def test_init_command_request_needs_a_name_a_nul_or_a_version() -> None:
    with pytest.raises(LocalProtocolError):
        InitCommandRequest(ZERO_GUID, "", None, False).encode()
    with pytest.raises(RemoteProtocolError):
        decode_packet(PacketType.INIT_COMMAND_REQUEST, ZERO_GUID)
    with pytest.raises(RemoteProtocolError):  # odd: not UTF-16
        decode_packet(PacketType.INIT_COMMAND_REQUEST, ZERO_GUID + b"a\x00b")


def test_canon_version_0x00000001_accepted() -> None:
    raw = InitCommandRequest(CANON_CLIENT_GUID, "iPhone", 0x0000_0001).encode()
    assert raw[-4:] == b"\x01\x00\x00\x00"
    packet = decode(raw)
    assert isinstance(packet, InitCommandRequest)
    assert packet.protocol_version == 1


def test_ack_without_version_libgphoto2_form() -> None:
    raw = InitCommandAck(1, bytes(range(16)), "SimCam", None).encode()
    assert len(raw) == 8 + 4 + 16 + 14
    assert decode(raw) == InitCommandAck(1, bytes(range(16)), "SimCam", None)


def test_fuji_init_request_82_bytes() -> None:
    guid = h("78130c8a239f2d445e005b704ec047e0")
    packet = FujiInitCommandRequest(guid, "vm")
    raw = packet.encode()
    # libgphoto2's bytes for host "vm" (vendor-fuji.md §2.1).
    assert raw == h("52000000 01000000 f2e4538f") + guid + h("76006d00") + bytes(50)
    assert decode(raw) == packet


def test_fuji_init_request_unpadded_malc0mn_form() -> None:
    packet = FujiInitCommandRequest(bytes(16), "Golang PTP/IP client", None)
    raw = packet.encode()
    assert len(raw) == 70
    assert raw[8:12] == struct.pack("<I", FUJI_INIT_MAGIC)
    assert decode(raw) == packet


def test_fuji_name_filling_the_field_exactly_round_trips() -> None:
    # found by hypothesis: 14 ASCII + 6 non-BMP characters = 26 units + NUL = 54 bytes
    packet = FujiInitCommandRequest(bytes(16), "0" * 14 + "\U00010000" * 6)
    raw = packet.encode()
    assert len(raw) == 82
    assert decode(raw) == packet


def test_fuji_name_too_long_for_field() -> None:
    with pytest.raises(LocalProtocolError):
        FujiInitCommandRequest(bytes(16), "x" * 27).encode()


def test_fuji_68_byte_ack_with_padded_name() -> None:
    packet = InitCommandAck(0, bytes(range(16)), "X-T1", PROTOCOL_VERSION_1_0, 36)
    raw = packet.encode()
    assert len(raw) == 68
    assert decode(raw) == packet


def test_start_data_unknown_length() -> None:
    packet = StartData(4, UNKNOWN_DATA_LENGTH)
    raw = packet.encode()
    assert raw == h("14000000 09000000 04000000 ffffffffffffffff")
    decoded = decode(raw)
    assert isinstance(decoded, StartData)
    assert not decoded.length_known


@pytest.mark.parametrize("count", range(6))
def test_operation_request_and_response_params_0_to_5(count: int) -> None:
    params = tuple(range(1, count + 1))
    for packet in (
        OperationRequest(0x1007, 3, params, DataPhase.DATA_OUT),
        OperationResponse(0x2001, 3, params),
    ):
        raw = packet.encode()
        fixed = 18 if isinstance(packet, OperationRequest) else 14
        assert len(raw) == fixed + 4 * count
        assert decode(raw) == packet


@pytest.mark.parametrize("phase", [0, 1, 2, 3])
def test_all_data_phase_values(phase: int) -> None:
    packet = OperationRequest(0x1016, 9, (0x5005,), phase)
    assert decode(packet.encode()) == packet


def test_six_params_refused_both_ways() -> None:
    with pytest.raises(LocalProtocolError):
        OperationRequest(0x1001, 1, (0,) * 6).encode()
    raw = OperationResponse(0x2001, 1, (0,) * 5).encode() + bytes(4)
    raw = struct.pack("<I", len(raw)) + raw[4:]
    with pytest.raises(RemoteProtocolError):
        decode(raw)


def test_event_sends_at_most_three_params_but_accepts_five() -> None:
    with pytest.raises(LocalProtocolError):
        Event(0x4002, 1, (1, 2, 3, 4)).encode()
    raw = h("22000000 08000000 0240 05000000") + struct.pack("<5I", 1, 2, 3, 4, 5)
    assert decode(raw) == Event(0x4002, 5, (1, 2, 3, 4, 5))


@pytest.mark.parametrize(
    ("ptype", "payload"),
    [
        (PacketType.OPERATION_RESPONSE, b"\x01\x20\x00"),  # shorter than code + tid
        (PacketType.OPERATION_RESPONSE, b"\x01\x20\x00\x00\x00\x00\x01"),  # ragged params
        (PacketType.START_DATA, bytes(11)),
        (PacketType.INIT_EVENT_REQUEST, bytes(8)),
        (PacketType.INIT_COMMAND_REQUEST, bytes(16) + b"\x41\x00\x00"),  # odd name bytes
        (0, b""),
        (15, b""),
    ],
)
def test_malformed_payloads_raise_remote_protocol_error(ptype: int, payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(ptype, payload)


def test_illegal_values_raise_local_protocol_error() -> None:
    with pytest.raises(LocalProtocolError):
        OperationRequest(0x10000, 1).encode()
    with pytest.raises(LocalProtocolError):
        OperationRequest(0x1001, -1).encode()
    with pytest.raises(LocalProtocolError):
        InitCommandRequest(bytes(15), "x").encode()
    with pytest.raises(LocalProtocolError):
        InitCommandRequest(bytes(16), "x" * 255).encode()
    with pytest.raises(LocalProtocolError):
        StartData(1, 1 << 64).encode()


# --- property tests -------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFF_FFFF)
u16 = st.integers(0, 0xFFFF)
guids = st.binary(min_size=16, max_size=16)
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=60,
)


def _params(limit: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(u32, max_size=limit).map(tuple)


def _unambiguous(p: InitCommandRequest) -> bool:
    """Whether the request's bytes read back as the same request. Not so: a control
    character (below U+0020) ending a NUL-terminated name with no version, or among the
    last two units of a name with neither NUL nor version (it reads as a version); an
    unterminated name followed by a version whose non-zero halves are all 0x20 or more
    (they read as characters); and an empty name with neither (no bytes at all)."""
    raw = p.friendly_name.encode("utf-16-le")
    units = struct.unpack(f"<{len(raw) // 2}H", raw)
    if p.protocol_version is None:
        if p.name_terminated:
            return not units or units[-1] >= 0x20
        return len(units) == 1 or (len(units) > 1 and min(units[-2:]) >= 0x20)
    if p.name_terminated:
        return True
    low, high = p.protocol_version & 0xFFFF, p.protocol_version >> 16
    return low == 0 or min(low, high or 0xFFFF) < 0x20


packets: st.SearchStrategy[Packet] = st.one_of(
    st.builds(InitCommandRequest, guids, names, st.one_of(u32, st.none()), st.booleans()).filter(
        _unambiguous
    ),
    # at most 26 UTF-16 units + NUL fit the 54-byte field (non-BMP characters take two)
    st.builds(
        FujiInitCommandRequest, guids, names.filter(lambda n: len(n.encode("utf-16-le")) <= 52)
    ),
    st.builds(InitCommandAck, u32, guids, names, u32),
    st.builds(InitEventRequest, u32),
    st.just(InitEventAck()),
    st.builds(InitFail, u32),
    st.builds(OperationRequest, u16, u32, _params(5), st.sampled_from([0, 1, 2, 3])),
    st.builds(OperationResponse, u16, u32, _params(5)),
    st.builds(Event, u16, u32, _params(3)),
    st.builds(StartData, u32, st.integers(0, UNKNOWN_DATA_LENGTH)),
    st.builds(Data, u32, st.binary(max_size=64)),
    st.builds(EndData, u32, st.binary(max_size=64)),
    st.builds(Cancel, u32),
    st.just(ProbeRequest()),
    st.just(ProbeResponse()),
)


@given(packets)
@settings(max_examples=600, deadline=None)
def test_every_packet_round_trips(packet: Packet) -> None:
    raw = packet.encode()
    assert struct.unpack_from("<I", raw)[0] == len(raw)
    assert decode(raw) == packet


@given(st.integers(0, 20), st.binary(max_size=80))
@settings(max_examples=1500, deadline=None)
def test_random_payloads_decode_or_raise_typed_error(ptype: int, payload: bytes) -> None:
    try:
        packet = decode_packet(ptype, payload)
    except RemoteProtocolError:
        return
    assert ptype == packet.TYPE


@given(packets, st.data())
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_packets_decode_or_raise_typed_error(packet: Packet, data: st.DataObject) -> None:
    raw = bytearray(packet.encode()[8:])
    ptype = int(packet.TYPE)
    op = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if op == "flip" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "truncate":
        del raw[data.draw(st.integers(0, len(raw))) :]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=9))
    with contextlib.suppress(RemoteProtocolError):
        decode_packet(ptype, bytes(raw))
