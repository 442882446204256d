"""The sans-IO Initiator and Responder wired back to back through bytes, no sockets."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip import initiator as ini
from ptpip.ip import responder as rsp
from ptpip.ip.initiator import Initiator, InitiatorEvent, Role
from ptpip.ip.packets import (
    Cancel,
    Data,
    EndData,
    Event,
    FujiInitCommandRequest,
    InitCommandAck,
    InitCommandRequest,
    OperationResponse,
    StartData,
)
from ptpip.ip.responder import Responder, ResponderEvent, ResponderRole
from ptpip.ptp.codes import DataPhase


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Seed 002 (Canon EOS pairing article), ptpip-standard.md §3.1-§3.6.
SEED_GUID = h("4dc479e1c10e46279ee11b2abce2da29")
SEED_INIT_REQUEST = h(
    "2a000000 01000000 4dc479e1c10e46279ee11b2abce2da29 690050006800 6f006e006500 0000 00000100"
)
CANON_GUID = h("00000000000000000100 60128b7cc240")
SEED_INIT_ACK = h("28000000 02000000 01000000") + CANON_GUID + h("370030004400 0000 00000100")
SEED_INIT_EVENT_REQUEST = h("0c000000 03000000 01000000")
SEED_INIT_EVENT_ACK = h("08000000 04000000")
SEED_OPEN_SESSION = h("16000000 06000000 01000000 0210 00000000 01000000")
SEED_OPEN_SESSION_OK = h("0e000000 07000000 0120 00000000")


def feed_initiator(machine: Initiator, data: bytes, *, bytewise: bool) -> list[InitiatorEvent]:
    if not bytewise:
        return machine.receive_data(data)
    out: list[InitiatorEvent] = []
    for i in range(len(data)):
        out += machine.receive_data(data[i : i + 1])
    return out


def feed_responder(machine: Responder, data: bytes, *, bytewise: bool) -> list[ResponderEvent]:
    if not bytewise:
        return machine.receive_data(data)
    out: list[ResponderEvent] = []
    for i in range(len(data)):
        out += machine.receive_data(data[i : i + 1])
    return out


def merged(events: Sequence[InitiatorEvent]) -> list[InitiatorEvent]:
    """Consecutive DataReceived events joined (byte-wise feeding splits them)."""
    out: list[InitiatorEvent] = []
    for event in events:
        last = out[-1] if out else None
        if isinstance(event, ini.DataReceived) and isinstance(last, ini.DataReceived):
            out[-1] = ini.DataReceived(last.transaction_id, last.data + event.data)
        else:
            out.append(event)
    return out


def merged_out(events: Sequence[ResponderEvent]) -> list[ResponderEvent]:
    out: list[ResponderEvent] = []
    for event in events:
        last = out[-1] if out else None
        joinable = isinstance(last, rsp.DataOutChunk) and not last.last
        if isinstance(event, rsp.DataOutChunk) and isinstance(last, rsp.DataOutChunk) and joinable:
            out[-1] = rsp.DataOutChunk(last.transaction_id, last.data + event.data, event.last)
            continue
        out.append(event)
    return out


def command_pair(*, fuji: bool = False) -> tuple[Initiator, Responder]:
    """A command-connection pair after a successful Init handshake."""
    initiator = Initiator(Role.COMMAND, fuji=fuji)
    responder = Responder(fuji=fuji)
    request: InitCommandRequest | FujiInitCommandRequest
    request = (
        FujiInitCommandRequest(SEED_GUID, "ptpip")
        if fuji
        else InitCommandRequest(SEED_GUID, "ptpip")
    )
    events = responder.receive_data(initiator.init_command(request))
    assert events == [rsp.CommandInit(request)]
    ack = InitCommandAck(1, CANON_GUID, "cam")
    accepted = initiator.receive_data(responder.accept(ack))
    assert accepted == [ini.InitAccepted(ack)]
    assert initiator.ready and responder.ready
    return initiator, responder


# -- handshake ------------------------------------------------------------------------------


@pytest.mark.parametrize("bytewise", [False, True])
def test_seed_002_handshake_and_open_session(bytewise: bool) -> None:
    cmd = Initiator(Role.COMMAND)
    camera = Responder()
    assert Responder().role is ResponderRole.UNKNOWN  # told by the first packet

    out = cmd.init_command(InitCommandRequest(SEED_GUID, "iPhone"))
    assert out == SEED_INIT_REQUEST
    got = feed_responder(camera, out, bytewise=bytewise)
    assert got == [rsp.CommandInit(InitCommandRequest(SEED_GUID, "iPhone"))]
    assert camera.role is ResponderRole.COMMAND
    assert not camera.ready

    ack_bytes = camera.accept(InitCommandAck(1, CANON_GUID, "70D"))
    assert ack_bytes == SEED_INIT_ACK
    accepted = feed_initiator(cmd, ack_bytes, bytewise=bytewise)
    assert len(accepted) == 1 and isinstance(accepted[0], ini.InitAccepted)
    assert accepted[0].ack == InitCommandAck(1, CANON_GUID, "70D")
    assert cmd.ready

    # The event connection, told apart by its first packet (type 3).
    evt = Initiator(Role.EVENT)
    evt_camera = Responder()
    out = evt.init_event(1)
    assert out == SEED_INIT_EVENT_REQUEST
    assert feed_responder(evt_camera, out, bytewise=bytewise) == [rsp.EventInit(1)]
    assert evt_camera.role is ResponderRole.EVENT
    ack = evt_camera.accept()
    assert ack == SEED_INIT_EVENT_ACK
    assert feed_initiator(evt, ack, bytewise=bytewise) == [ini.InitAccepted(None)]

    # OpenSession(1) at TID 0, exactly seed 002's bytes.
    out = cmd.request(0x1002, 0, (1,))
    assert out == SEED_OPEN_SESSION
    assert cmd.busy
    assert feed_responder(camera, out, bytewise=bytewise) == [
        rsp.RequestReceived(0x1002, 0, (1,), DataPhase.NO_DATA_OR_IN)
    ]
    response = camera.respond(0x2001, 0)
    assert response == SEED_OPEN_SESSION_OK
    assert feed_initiator(cmd, response, bytewise=bytewise) == [
        ini.ResponseReceived(OperationResponse(0x2001, 0))
    ]
    assert not cmd.busy


def test_init_fail_closes_the_initiator() -> None:
    cmd = Initiator(Role.COMMAND)
    camera = Responder()
    camera.receive_data(cmd.init_command(InitCommandRequest(SEED_GUID, "x")))
    refusal = camera.refuse(1)
    assert refusal == h("0c000000 05000000 01000000")
    assert cmd.receive_data(refusal) == [ini.InitRefused(1)]
    assert not cmd.ready
    assert cmd.receive_data(SEED_OPEN_SESSION_OK) == []  # closed: input is ignored
    with pytest.raises(LocalProtocolError):
        cmd.request(0x1001, 1)


def test_handshake_rules_are_enforced() -> None:
    cmd = Initiator(Role.COMMAND)
    with pytest.raises(LocalProtocolError):
        cmd.request(0x1001, 0)  # no transaction before the ack
    with pytest.raises(LocalProtocolError):
        cmd.init_event(1)  # wrong connection
    with pytest.raises(RemoteProtocolError):
        cmd.receive_data(SEED_OPEN_SESSION_OK)  # a response during Init is garbage
    camera = Responder()
    with pytest.raises(RemoteProtocolError):
        camera.receive_data(SEED_OPEN_SESSION)  # a request before any Init
    evt_camera = Responder()
    evt_camera.receive_data(SEED_INIT_EVENT_REQUEST)
    with pytest.raises(RemoteProtocolError):
        evt_camera.receive_data(SEED_INIT_REQUEST)  # the event link cannot become command


# -- data-in ------------------------------------------------------------------------------


@pytest.mark.parametrize("bytewise", [False, True])
def test_data_in_several_data_packets_and_an_empty_end_data(bytewise: bool) -> None:
    cmd, camera = command_pair()
    payload = bytes(range(256)) * 20
    request = cmd.request(0x1009, 3, (7,))
    assert request == h("16000000 06000000 01000000 0910 03000000 07000000")
    assert camera.receive_data(request) == [rsp.RequestReceived(0x1009, 3, (7,), 1)]

    wire = camera.data_in_start(0x1009, 3, len(payload))
    assert wire == StartData(3, len(payload)).encode()
    pieces = [payload[:1000], payload[1000:3000], payload[3000:]]
    for piece in pieces:
        wire += camera.data_in(piece)
    end = camera.data_in(b"", last=True)
    assert end == h("0c000000 0c000000 03000000")  # empty End Data
    wire += end + camera.respond(0x2001, 3)
    # Three Data packets (types 10), then the empty End Data (type 12).
    assert wire[20:32] == h("f4030000 0a000000 03000000")

    raw = feed_initiator(cmd, wire, bytewise=bytewise)
    assert merged(raw) == [
        ini.DataPhaseStarted(3, len(payload)),
        ini.DataReceived(3, payload),
        ini.ResponseReceived(OperationResponse(0x2001, 3), len(payload), len(payload)),
    ]
    if not bytewise:  # fed whole, each Data packet comes out as one piece
        sizes = [len(e.data) for e in raw if isinstance(e, ini.DataReceived)]
        assert sizes == [1000, 2000, len(payload) - 3000]


def test_data_in_all_in_one_end_data_like_nikon() -> None:
    cmd, camera = command_pair()
    camera.receive_data(cmd.request(0x1001, 1))
    info = b"\x64\x00" + bytes(145)
    wire = camera.data_in_start(0x1001, 1, len(info)) + camera.data_in(info, last=True)
    wire += camera.respond(0x2001, 1)
    # §8.2: StartData total 147, End Data carrying everything, the response.
    assert wire[:20] == h("14000000 09000000 01000000 9300000000000000")
    assert wire[20:32] == h("9f000000 0c000000 01000000")
    assert merged(cmd.receive_data(wire)) == [
        ini.DataPhaseStarted(1, 147),
        ini.DataReceived(1, info),
        ini.ResponseReceived(OperationResponse(0x2001, 1), 147, 147),
    ]


def test_data_in_of_unknown_length() -> None:
    cmd, _ = command_pair()
    cmd.request(0x1009, 4, (1,))
    wire = StartData(4, 0xFFFF_FFFF_FFFF_FFFF).encode() + Data(4, b"abc").encode()
    wire += EndData(4, b"de").encode() + OperationResponse(0x2001, 4).encode()
    assert merged(cmd.receive_data(wire)) == [
        ini.DataPhaseStarted(4, None),
        ini.DataReceived(4, b"abcde"),
        ini.ResponseReceived(OperationResponse(0x2001, 4), 5, None),
    ]


def test_more_data_in_than_announced_is_a_remote_error() -> None:
    cmd, _ = command_pair()
    cmd.request(0x1009, 4, (1,))
    with pytest.raises(RemoteProtocolError):
        cmd.receive_data(StartData(4, 2).encode() + EndData(4, b"abc").encode())


def test_short_data_in_is_reported_through_received_and_total() -> None:
    cmd, _ = command_pair()
    cmd.request(0x1009, 4, (1,))
    wire = StartData(4, 10).encode() + EndData(4, b"abc").encode()
    events = cmd.receive_data(wire + OperationResponse(0x2001, 4).encode())
    assert events[-1] == ini.ResponseReceived(OperationResponse(0x2001, 4), 3, 10)


def test_responder_refuses_to_send_more_or_less_than_announced() -> None:
    cmd, camera = command_pair()
    camera.receive_data(cmd.request(0x1009, 4, (1,)))
    camera.data_in_start(0x1009, 4, 3)
    with pytest.raises(LocalProtocolError):
        camera.data_in(b"abcd")
    with pytest.raises(LocalProtocolError):
        camera.data_in(b"ab", last=True)
    assert camera.data_in_header(3, last=True) == h("0f000000 0c000000 04000000")
    with pytest.raises(LocalProtocolError):
        camera.data_in(b"")  # the phase is closed


# -- data-out ------------------------------------------------------------------------------


@pytest.mark.parametrize("bytewise", [False, True])
def test_data_out_request_start_end(bytewise: bool) -> None:
    cmd, camera = command_pair()
    wire = cmd.request(0x1016, 9, (0x500F,), data_out_length=2)
    wire += cmd.data_out(b"\xc8\x00", last=True)
    # §8.2, SetDevicePropValue(ISO 200) as libgphoto2 sends it.
    assert wire == (
        h("16000000 06000000 02000000 1610 09000000 0f500000")
        + h("14000000 09000000 09000000 0200000000000000")
        + h("0e000000 0c000000 09000000 c800")
    )
    events = merged_out(feed_responder(camera, wire, bytewise=bytewise))
    assert events == [
        rsp.RequestReceived(0x1016, 9, (0x500F,), DataPhase.DATA_OUT),
        rsp.DataOutStarted(9, 2),
        rsp.DataOutChunk(9, b"\xc8\x00", True),
    ]
    assert cmd.receive_data(camera.respond(0x2001, 9)) == [
        ini.ResponseReceived(OperationResponse(0x2001, 9))
    ]


def test_data_out_in_several_data_packets() -> None:
    cmd, camera = command_pair()
    payload = bytes(range(200)) * 10
    wire = cmd.request(0x100C, 2, (0x10001, 0), data_out_length=len(payload))
    wire += cmd.data_out(payload[:700]) + cmd.data_out(payload[700:1500])
    wire += cmd.data_out(payload[1500:], last=True)
    events = camera.receive_data(wire)
    assert events[:2] == [
        rsp.RequestReceived(0x100C, 2, (0x10001, 0), DataPhase.DATA_OUT),
        rsp.DataOutStarted(2, len(payload)),
    ]
    chunks = [e for e in events[2:] if isinstance(e, rsp.DataOutChunk)]
    assert b"".join(c.data for c in chunks) == payload
    assert [c.last for c in chunks] == [False, False, True]


def test_data_out_of_nothing_cipa_form() -> None:
    """dp 2, Start Data(0) and an empty End Data: complete, and the End Data is swallowed."""
    cmd, camera = command_pair()
    wire = cmd.request(0x9999, 5, data_out_length=0) + cmd.data_out(b"", last=True)
    assert wire.endswith(h("0c000000 0c000000 05000000"))
    assert camera.receive_data(wire) == [
        rsp.RequestReceived(0x9999, 5, (), DataPhase.DATA_OUT),
        rsp.DataOutStarted(5, 0),
        rsp.DataOutChunk(5, b"", True),
    ]


def test_data_out_of_nothing_libgphoto2_form() -> None:
    """libgphoto2 sends only Start Data(0), no End Data: the responder must not wait."""
    cmd, camera = command_pair()
    wire = cmd.request(0x9999, 5, data_out_length=0)
    assert wire.endswith(h("14000000 09000000 05000000 0000000000000000"))
    assert camera.receive_data(wire) == [
        rsp.RequestReceived(0x9999, 5, (), DataPhase.DATA_OUT),
        rsp.DataOutStarted(5, 0),
        rsp.DataOutChunk(5, b"", True),
    ]
    # The next transaction goes through normally.
    cmd.receive_data(camera.respond(0x2001, 5))
    assert camera.receive_data(cmd.request(0x1001, 6)) == [rsp.RequestReceived(0x1001, 6, (), 1)]


def test_data_out_rules_are_enforced() -> None:
    cmd, camera = command_pair()
    cmd.request(0x1016, 9, (0x500F,), data_out_length=2)
    with pytest.raises(LocalProtocolError):
        cmd.data_out(b"abc")  # more than announced
    with pytest.raises(LocalProtocolError):
        cmd.data_out(b"a", last=True)  # closed short
    with pytest.raises(LocalProtocolError):
        cmd.request(0x1001, 10)  # one transaction at a time
    # The camera refuses early: the response ends the transaction, no more data-out.
    assert cmd.receive_data(OperationResponse(0x200F, 9).encode()) == [
        ini.ResponseReceived(OperationResponse(0x200F, 9))
    ]
    with pytest.raises(LocalProtocolError):
        cmd.data_out(b"a", last=True)
    # A responder given more than announced says so.
    with pytest.raises(RemoteProtocolError):
        camera.receive_data(
            h("16000000 06000000 02000000 1610 09000000 0f500000")
            + StartData(9, 1).encode()
            + EndData(9, b"ab").encode()
        )


# -- strays, lenient TIDs, cancel, probe, events ---------------------------------------------


def test_stray_responses_and_data_never_crash() -> None:
    cmd, _ = command_pair()
    stray = (
        OperationResponse(0x2001, 42).encode()
        + StartData(42, 3).encode()
        + Data(42, b"abc").encode()
        + EndData(42, b"").encode()
    )
    events = cmd.receive_data(stray)
    assert events and all(isinstance(e, ini.StrayPacket) for e in events)

    # While transaction 7 runs, another TID's response and data are stray too.
    cmd.request(0x1001, 7)
    events = cmd.receive_data(stray + OperationResponse(0x2001, 8).encode())
    assert all(isinstance(e, ini.StrayPacket) for e in events)
    assert cmd.busy
    assert cmd.receive_data(OperationResponse(0x2001, 7).encode()) == [
        ini.ResponseReceived(OperationResponse(0x2001, 7))
    ]
    # Unexpected packet types on the command connection are stray, not fatal.
    events = cmd.receive_data(SEED_INIT_ACK + SEED_INIT_EVENT_ACK)
    assert [type(e) for e in events] == [ini.StrayPacket, ini.StrayPacket]


def test_abandoned_transaction_turns_late_answers_stray() -> None:
    cmd, _ = command_pair()
    cmd.request(0x1001, 7)
    cmd.abandon()
    assert not cmd.busy
    events = cmd.receive_data(StartData(7, 1).encode() + EndData(7, b"x").encode())
    events += cmd.receive_data(OperationResponse(0x2001, 7).encode())
    assert all(isinstance(e, ini.StrayPacket) for e in events)
    cmd.request(0x1001, 8)  # the connection is usable again


def test_stray_input_on_the_responder() -> None:
    _, camera = command_pair()
    events = camera.receive_data(Data(77, b"zz").encode() + EndData(77, b"").encode())
    assert events == [rsp.StrayInput("data for transaction 77 dropped")] * 2
    assert camera.receive_data(OperationResponse(0x2001, 1).encode()) == [
        rsp.StrayInput("unexpected OperationResponse")
    ]


def test_leica_close_session_answered_with_tid_0() -> None:
    """vendor-leica.md §7: Leica answers CloseSession with TID 0 (and five parameters)."""
    leica_ok = OperationResponse(0x2001, 0, (0, 0, 0, 0, 0)).encode()
    assert len(leica_ok) == 34
    cmd, _ = command_pair()
    cmd.request(0x1003, 24, lenient_tid=True)
    assert cmd.receive_data(leica_ok) == [
        ini.ResponseReceived(OperationResponse(0x2001, 0, (0, 0, 0, 0, 0)))
    ]
    assert not cmd.busy
    strict, _ = command_pair()
    strict.request(0x1003, 24)
    assert isinstance(strict.receive_data(leica_ok)[0], ini.StrayPacket)
    assert strict.busy


def test_cancel_bytes_and_responder_event() -> None:
    cmd, camera = command_pair()
    with pytest.raises(LocalProtocolError):
        cmd.cancel()  # nothing running
    camera.receive_data(cmd.request(0x1009, 0x12, (5,)))
    cancel = cmd.cancel()
    assert cancel == h("0c000000 0b000000 12000000")
    assert camera.receive_data(cancel) == [rsp.CancelReceived(0x12)]
    # The camera stops its data-in phase and answers TransactionCancelled.
    partial = camera.data_in_start(0x1009, 0x12, 100) + camera.data_in(b"x" * 10)
    camera.abandon_data_in()
    answer = partial + camera.respond(0x201F, 0x12)
    events = cmd.receive_data(answer)
    assert events[-1] == ini.ResponseReceived(OperationResponse(0x201F, 0x12), 10, 100)
    assert not cmd.busy


@pytest.mark.parametrize("bytewise", [False, True])
def test_probe_both_ways_and_events(bytewise: bool) -> None:
    evt = Initiator(Role.EVENT)
    camera = Responder()
    camera.receive_data(evt.init_event(1))
    evt.receive_data(camera.accept())

    probe = camera.probe()
    assert probe == h("08000000 0d000000")
    assert feed_initiator(evt, probe, bytewise=bytewise) == [ini.ProbeRequested()]
    answer = evt.probe_response()
    assert answer == h("08000000 0e000000")
    assert feed_responder(camera, answer, bytewise=bytewise) == [rsp.ProbeAnswered()]

    assert feed_responder(camera, evt.probe(), bytewise=bytewise) == [rsp.ProbeRequested()]
    assert feed_initiator(evt, camera.probe_response(), bytewise=bytewise) == [ini.ProbeAnswered()]

    # Seed 000: Leica's unsolicited DevicePropChanged with three parameters.
    event = camera.event(0x4006, 0xFFFF_FFFF, (0x5013, 0, 0))
    assert event == h("1a000000 08000000 0640 ffffffff 13500000 00000000 00000000")
    assert feed_initiator(evt, event, bytewise=bytewise) == [
        ini.EventReceived(Event(0x4006, 0xFFFF_FFFF, (0x5013, 0, 0)))
    ]


def test_probe_request_before_the_handshake_ends() -> None:
    evt = Initiator(Role.EVENT)
    evt.init_event(1)
    assert evt.receive_data(h("08000000 0d000000")) == [ini.ProbeRequested()]


# -- Fuji containers -----------------------------------------------------------------------


def test_fuji_container_dialect_after_the_init_ack() -> None:
    cmd, camera = command_pair(fuji=True)
    # A command container: len, type 1, code, tid, params.
    request = cmd.request(0x1014, 1, (0x5005,))
    assert request == h("10000000 0100 1410 01000000 05500000")
    assert camera.receive_data(request) == [rsp.RequestReceived(0x1014, 1, (0x5005,), None)]

    # Data-in: one data container, then a response container.
    payload = bytes(range(40))
    wire = camera.data_in_start(0x1014, 1, len(payload))
    assert wire == h("34000000 0200 1410 01000000")
    wire += camera.data_in(payload[:15]) + camera.data_in(payload[15:], last=True)
    response = camera.respond(0x2001, 1)
    assert response == h("0c000000 0300 0120 01000000")
    events = merged(cmd.receive_data(wire + response))
    assert events == [
        ini.DataPhaseStarted(1, len(payload)),
        ini.DataReceived(1, payload),
        ini.ResponseReceived(OperationResponse(0x2001, 1), len(payload), len(payload)),
    ]

    # Data-out: the command container, then ONE data container carrying the bytes.
    out = cmd.request(0x1016, 2, (0x5005,), data_out_length=2)
    out += cmd.data_out(b"\x02\x00", last=True)
    assert out == h("10000000 0100 1610 02000000 05500000") + h("0e000000 0200 1610 02000000 0200")
    assert merged_out(camera.receive_data(out)) == [
        rsp.RequestReceived(0x1016, 2, (0x5005,), None),
        rsp.DataOutStarted(2, 2),
        rsp.DataOutChunk(2, b"\x02\x00", True),
    ]
    assert cmd.receive_data(camera.respond(0x2001, 2)) == [
        ini.ResponseReceived(OperationResponse(0x2001, 2))
    ]
    cmd.request(0x1001, 3)
    with pytest.raises(LocalProtocolError):
        cmd.cancel()  # Fuji has no Cancel packet


def test_fuji_event_connection_speaks_containers_without_handshake() -> None:
    evt = Initiator(Role.EVENT, fuji=True)
    camera = Responder(ResponderRole.EVENT, fuji=True)
    assert evt.ready and camera.ready
    event = camera.event(0x4002, 5, (0x10,))
    assert event == h("10000000 0400 0240 05000000 10000000")
    assert evt.receive_data(event) == [ini.EventReceived(Event(0x4002, 5, (0x10,)))]


def test_cancel_ends_the_responders_data_out_phase() -> None:
    cmd, camera = command_pair()
    wire = cmd.request(0x1016, 3, (0x501E,), data_out_length=10) + cmd.data_out(b"abcd")
    assert [type(e) for e in camera.receive_data(wire)] == [
        rsp.RequestReceived,
        rsp.DataOutStarted,
        rsp.DataOutChunk,
    ]
    assert camera.receive_data(cmd.cancel()) == [rsp.CancelReceived(3)]
    # Data still in flight after the Cancel belongs to no phase any more.
    late = Data(3, b"efg").encode() + EndData(3, b"hij").encode()
    assert camera.receive_data(late) == [rsp.StrayInput("data for transaction 3 dropped")] * 2
    assert cmd.receive_data(camera.respond(0x201F, 3)) == [
        ini.ResponseReceived(OperationResponse(0x201F, 3))
    ]
    # A Cancel for another transaction leaves a running data-out phase alone.
    wire = cmd.request(0x1016, 4, (0x501E,), data_out_length=2)
    camera.receive_data(wire + Cancel(99).encode())
    assert camera.receive_data(cmd.data_out(b"ok", last=True)) == [rsp.DataOutChunk(4, b"ok", True)]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(max_size=2000),
    pieces=st.lists(st.integers(1, 700), max_size=5),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
    fuji=st.booleans(),
)
def test_any_chunking_of_a_data_in_phase(
    payload: bytes, pieces: list[int], cuts: list[int], fuji: bool
) -> None:
    cmd, camera = command_pair(fuji=fuji)
    camera.receive_data(cmd.request(0x1009, 9, (1,)))
    wire = camera.data_in_start(0x1009, 9, len(payload))
    pos = 0
    for size in pieces:
        piece = payload[pos : pos + size]
        pos += len(piece)
        wire += camera.data_in(piece)
    wire += camera.data_in(payload[pos:], last=True) + camera.respond(0x2001, 9)
    wire += camera.event(0x4002, 9, (1,)) if fuji else b""
    events: list[InitiatorEvent] = []
    for chunk in split(wire, cuts):
        events += cmd.receive_data(chunk)
    expected: list[InitiatorEvent] = [ini.DataPhaseStarted(9, len(payload))]
    if payload:
        expected.append(ini.DataReceived(9, payload))
    expected.append(ini.ResponseReceived(OperationResponse(0x2001, 9), len(payload), len(payload)))
    if fuji:
        expected.append(ini.EventReceived(Event(0x4002, 9, (1,))))
    assert merged(events) == expected


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(max_size=2000),
    pieces=st.lists(st.integers(1, 700), max_size=5),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
    fuji=st.booleans(),
)
def test_any_chunking_of_a_data_out_phase(
    payload: bytes, pieces: list[int], cuts: list[int], fuji: bool
) -> None:
    cmd, camera = command_pair(fuji=fuji)
    wire = cmd.request(0x100D, 4, data_out_length=len(payload))
    pos = 0
    for size in pieces:
        piece = payload[pos : pos + size]
        pos += len(piece)
        wire += cmd.data_out(piece)
    wire += cmd.data_out(payload[pos:], last=True)
    events: list[ResponderEvent] = []
    for chunk in split(wire, cuts):
        events += camera.receive_data(chunk)
    assert merged_out(events) == [
        rsp.RequestReceived(0x100D, 4, (), None if fuji else DataPhase.DATA_OUT),
        rsp.DataOutStarted(4, len(payload)),
        rsp.DataOutChunk(4, payload, True),
    ]


def test_fuji_empty_data_out_container_is_not_stray() -> None:
    cmd, camera = command_pair(fuji=True)
    wire = cmd.request(0x9999, 3, data_out_length=0) + cmd.data_out(b"", last=True)
    assert wire == h("0c000000 0100 9999 03000000") + h("0c000000 0200 9999 03000000")
    assert camera.receive_data(wire) == [
        rsp.RequestReceived(0x9999, 3, (), None),
        rsp.DataOutStarted(3, 0),
        rsp.DataOutChunk(3, b"", True),
    ]
