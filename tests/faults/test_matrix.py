"""The fault matrix: faults injected at every phase, each a row of the table below.

A row names the phase, the fault, the operation the client runs and the typed error it must
raise within the deadline; the camera is a scripted hostile camera (``plan=``, see
hostile.py) or the virtual camera with its ``Faults`` (``faults=``). Every row also checks
bounded memory, nothing under a final file name, and that a new session works afterwards
(harness.py). The summary table is printed at the end of the session (conftest.py).

Decisions the rows encode:

- A response, Data or InitCommandAck that belongs to no running transaction is stray:
  ignored, never taken as the running transaction's answer (H17-H19 and H21 end with the
  real answer, DeviceBusy), and never counted as progress (H16, H71, H72 time out).
- Losing the event connection ends the session: the command path reports ConnectionClosed
  at once (H60, H61, F13, F15) rather than carrying on without events or waiting for a
  timeout; garbage there is a RemoteProtocolError at once (H62, H63, F14). Probes are
  answered but are not progress (H64).
- A trickle is no progress: the client fails within a few timeouts (deadline 4 x timeout),
  however slowly bytes keep coming (H32, H33).
- More data than announced, or than ObjectInfo's size, is the camera's fault: a
  RemoteProtocolError naming the camera, never more than the announced size on disk. A
  local failure (a full disk) is reported as itself, at once, however the camera goes on.
- Sending is bounded like receiving: a camera that stops reading makes the call time out
  (H51, F11), and an early answer is seen even while the send is blocked (H53).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ptpip import errors
from ptpip.errors import (
    AccessDenied,
    ConnectionClosed,
    DeviceBusy,
    InitFailError,
    LocalProtocolError,
    PtpError,
    RemoteProtocolError,
    ResponseError,
    Timeout,
    TransactionCancelled,
    TransportError,
)
from ptpip.ip.packets import Cancel, Data, EndData, InitCommandAck
from ptpip.ptp.codes import UNKNOWN_DATA_LENGTH, OperationCode, ResponseCode
from tests.faults.actions import (
    Build,
    close,
    deaf,
    drop,
    echo_last_response_then,
    endless,
    flood_probes_and_stall,
    init_fail,
    lose_events,
    on_events,
    partial_data,
    raw_packet,
    respond,
    send,
    serve_then,
    stall,
    trickle,
    trickle_object,
    write,
)
from tests.faults.harness import Op, Phase, Row, run_row
from tests.faults.hostile import OBJECT_SIZE, Link, Plan

GDI = OperationCode.GET_DEVICE_INFO
GSI = OperationCode.GET_STORAGE_IDS
GET = OperationCode.GET_OBJECT
PART = OperationCode.GET_PARTIAL_OBJECT
SETP = OperationCode.SET_DEVICE_PROP_VALUE
SOI = OperationCode.SEND_OBJECT_INFO
OPEN = OperationCode.OPEN_SESSION
BUSY = ResponseCode.DEVICE_BUSY
GiB = 1 << 30

B, A, T = Phase.BEFORE_INIT, Phase.AFTER_INIT, Phase.MID_TRANSACTION
DI, DO, EV = Phase.MID_DATA_IN, Phase.MID_DATA_OUT, Phase.EVENTS
CONNECT, INFO, IDS = Op.CONNECT, Op.DEVICE_INFO, Op.STORAGE_IDS
DL, SETBIG, SENDOI = Op.DOWNLOAD, Op.SET_PROP, Op.SEND_OBJECT_INFO


def ack(link: Link) -> bytes:
    return InitCommandAck(1, bytes(16), "hostile").encode()


def wrong_tid_data(link: Link) -> bytes:
    """Half the object in a Data packet of another transaction, the rest correctly, then OK."""
    obj, half = link.camera.object, OBJECT_SIZE // 2
    return (
        link.start_data(OBJECT_SIZE)
        + Data(link.tid + 1, obj[:half]).encode()
        + EndData(link.tid, obj[half:]).encode()
        + link.response(ResponseCode.OK)
    )


def second_start(link: Link) -> bytes:
    return (
        link.start_data(OBJECT_SIZE)
        + link.data(link.camera.object[:1000])
        + link.start_data(OBJECT_SIZE)
    )


def two_containers(link: Link) -> bytes:
    """Fuji: the whole object in a data container, then the whole object again, then OK."""
    obj = link.camera.object
    return link.start_data(len(obj)) + obj + link.start_data(len(obj)) + obj + link.response(0x2001)


def stray_responses(link: Link) -> bytes:
    """5,000 responses, each for a transaction that is not running."""
    return b"".join(link.response(0x2001, link.tid + 100 + i) for i in range(5000))


def stray_data(link: Link) -> bytes:
    """A data phase of 1.2 MiB for a transaction that is not running."""
    tid, piece = link.tid + 100, bytes(60 * 1024)
    return link.start_data(20 * len(piece), tid) + b"".join(
        Data(tid, piece).encode() for _ in range(20)
    )


def early_response(link: Link) -> bytes:
    """2,000 of the 5,000 bytes announced, then OK."""
    obj = link.camera.object
    return link.start_data(len(obj)) + link.data(obj[:2000]) + link.response(0x2001)


def camera_cancels(link: Link) -> bytes:
    """2,000 bytes, then the camera cancels (CIPA §2.7 allows it) and says so."""
    obj = link.camera.object
    return (
        link.start_data(len(obj))
        + link.data(obj[:2000])
        + Cancel(link.tid).encode()
        + link.response(ResponseCode.TRANSACTION_CANCELLED)
    )


def huge_data_packet(link: Link) -> bytes:
    """Start Data for the object, then one Data packet claiming 4 GiB."""
    return link.start_data(OBJECT_SIZE) + struct.pack("<III", 0xFFFF_FFFF, 10, link.tid)


def announce(total: int) -> Build:
    """Start Data (or a Fuji data container header) announcing ``total`` bytes."""
    return lambda link: link.start_data(total)


#: What a local storage failure raises (StorageError where the client has it).
STORAGE_ERROR: type[PtpError] = getattr(errors, "StorageError", LocalProtocolError)

DEAD_BEEF = b"\xde\xad\xbe\xef" * 4
ABSURD_EVENT = struct.pack("<IIHI", 0xFFFF_FFFF, 8, 0x4002, 0xFFFF_FFFF)
FUJI_BAD_CONTAINER = struct.pack("<IHHI", 12, 9, 0x4002, 0)

# fmt: off
ROWS: list[Row] = [
    # -- before Init ------------------------------------------------------------------------
    Row("H01", B, "close at once", CONNECT, ConnectionClosed, plan=Plan(init=close())),
    Row("H02", B, "stall: never answer the Init", CONNECT, Timeout, plan=Plan(init=stall())),
    Row("H03", B, "trickle the ack, 1 byte / 0.3 s", CONNECT, Timeout,
        plan=Plan(init=trickle(ack, 0.3))),
    Row("H04", B, "ack with length 0xFFFFFFFF", CONNECT, RemoteProtocolError,
        plan=Plan(init=send(raw_packet(0xFFFF_FFFF, 2, bytes(32))))),
    Row("H05", B, "ack with length 7", CONNECT, RemoteProtocolError,
        plan=Plan(init=send(raw_packet(7, 2, bytes(32))))),
    Row("H06", B, "ack with length 9", CONNECT, RemoteProtocolError,
        plan=Plan(init=send(raw_packet(9, 2, bytes(32))))),
    Row("H07", B, "Operation Response instead of the ack", CONNECT, RemoteProtocolError,
        plan=Plan(init=send(raw_packet(14, 7, struct.pack("<HI", 0x2001, 0))))),
    Row("H08", B, "packet type 99 instead of the ack", CONNECT, RemoteProtocolError,
        plan=Plan(init=send(raw_packet(8, 99)))),
    Row("H09", B, "InitFail 3, connection left open", CONNECT, InitFailError, reason=3,
        plan=Plan(init=init_fail(3))),
    Row("V01", B, "InitFail 1 rejected initiator", CONNECT, InitFailError, reason=1,
        faults={"refuse_init": 1}),
    Row("V02", B, "InitFail 2 busy", CONNECT, InitFailError, reason=2,
        faults={"refuse_init": 2}),
    Row("V03", B, "InitFail 3 unspecified", CONNECT, InitFailError, reason=3,
        faults={"refuse_init": 3}),
    Row("V04", B, "InitFail 4 invalid GUID", CONNECT, InitFailError, reason=4,
        faults={"refuse_init": 4}),
    Row("V05", B, "InitFail 0x2019 device busy", CONNECT, InitFailError, reason=0x2019,
        faults={"refuse_init": 0x2019}, fuji=True),
    Row("V06", B, "InitFail 0x201D invalid parameter", CONNECT, InitFailError, reason=0x201D,
        faults={"refuse_init": 0x201D}, fuji=True),
    Row("F01", B, "stall: never answer the Init", CONNECT, Timeout, plan=Plan(init=stall()),
        fuji=True),
    Row("F02", B, "ack with length 0xFFFFFFFF", CONNECT, RemoteProtocolError,
        plan=Plan(init=send(raw_packet(0xFFFF_FFFF, 2, bytes(60)))), fuji=True),
    # -- after Init: the event connection ---------------------------------------------------
    Row("H10", A, "event connection refused", CONNECT, TransportError, exact=True,
        plan=Plan(), closed_event_port=True),
    Row("H11", A, "event connection closed at once", CONNECT, ConnectionClosed,
        plan=Plan(event_init=close())),
    Row("H12", A, "Init Event Ack never comes", CONNECT, Timeout,
        plan=Plan(event_init=stall())),
    Row("H13", A, "InitFail 3 on the event connection", CONNECT, InitFailError, reason=3,
        plan=Plan(event_init=init_fail(3))),
    Row("H70", A, "ack, then the command connection closes", CONNECT, ConnectionClosed,
        plan=Plan(init=send(ack, then=close()))),
    # -- mid-transaction ---------------------------------------------------------------------
    Row("H14", T, "stall GetDeviceInfo", INFO, Timeout, plan=Plan(ops={GDI: stall()})),
    Row("V07", T, "stall GetStorageIDs (Faults.stall)", IDS, Timeout,
        faults={"stall": {GSI}}),
    Row("V08", T, "every answer 3 s late (Faults.delay)", INFO, Timeout,
        faults={"delay": 3.0}),
    Row("H15", T, "disconnect on GetStorageIDs", IDS, ConnectionClosed,
        plan=Plan(ops={GSI: close()})),
    Row("H16", T, "response with an older TID, then silence", INFO, Timeout,
        plan=Plan(ops={GDI: send(respond(0x2001, -1))})),
    Row("H17", T, "OK with an older TID, then DeviceBusy", INFO, DeviceBusy,
        plan=Plan(ops={GDI: send(lambda k: respond(0x2001, -1)(k) + respond(BUSY)(k))})),
    Row("H18", T, "OK with a newer TID, then DeviceBusy", INFO, DeviceBusy,
        plan=Plan(ops={GDI: send(lambda k: respond(0x2001, 1)(k) + respond(BUSY)(k))})),
    Row("H19", T, "previous response again, then DeviceBusy", Op.IDS_THEN_INFO, DeviceBusy,
        plan=Plan(ops={GDI: echo_last_response_then(respond(BUSY))})),
    Row("H20", T, "response cut after 6 bytes, then close", IDS, ConnectionClosed,
        plan=Plan(ops={GSI: send(lambda k: k.response(0x2001)[:6], then=close())})),
    Row("H21", T, "InitCommandAck, then the real answer", IDS, DeviceBusy,
        plan=Plan(ops={GSI: send(lambda k: ack(k) + respond(BUSY)(k))})),
    Row("H22", T, "packet type 0", INFO, RemoteProtocolError,
        plan=Plan(ops={GDI: send(raw_packet(8, 0))})),
    Row("H23", T, "packet type 99", INFO, RemoteProtocolError,
        plan=Plan(ops={GDI: send(raw_packet(12, 99, bytes(4)))})),
    Row("H24", T, "response with length 0xFFFFFFFF", IDS, RemoteProtocolError,
        plan=Plan(ops={GSI: send(raw_packet(0xFFFF_FFFF, 7, struct.pack("<HI", 0x2001, 1)))})),
    Row("H25", T, "response with 6 parameters (38 bytes)", IDS, RemoteProtocolError,
        plan=Plan(ops={GSI: send(lambda k: raw_packet(38, 7, struct.pack("<HI6I", 0x2001,
                                                                          k.tid, *range(6)))(k))})),
    Row("H26", T, "Start Data of 1 GiB, endless data", INFO, RemoteProtocolError,
        plan=Plan(ops={GDI: endless(announce(GiB))})),
    Row("H27", T, "trickle the whole reply, 1 byte / 0.2 s", INFO, Timeout,
        plan=Plan(ops={GDI: trickle(lambda k: k.data_in(k.camera.device_info()), 0.2)})),
    Row("H71", T, "5,000 responses for other TIDs, no answer", INFO, Timeout,
        plan=Plan(ops={GDI: send(stray_responses)})),
    Row("H72", T, "1.2 MiB of data for another TID, no answer", INFO, Timeout,
        plan=Plan(ops={GDI: send(stray_data)})),
    Row("H73", T, "DeviceInfo dataset cut to 10 bytes", INFO, RemoteProtocolError,
        plan=Plan(ops={GDI: send(lambda k: k.data_in(k.camera.device_info()[:10])
                                 + k.response(0x2001))})),
    Row("F03", T, "stall GetDeviceInfo", INFO, Timeout, plan=Plan(ops={GDI: stall()}),
        fuji=True),
    Row("F04", T, "container of unknown type 7", INFO, RemoteProtocolError,
        plan=Plan(ops={GDI: send(lambda k: struct.pack("<IHHI", 12, 7, 0x2001, k.tid))}),
        fuji=True),
    Row("F05", T, "disconnect on GetStorageIDs", IDS, ConnectionClosed,
        plan=Plan(ops={GSI: close()}), fuji=True),
    Row("F06", T, "OK with a newer TID, then DeviceBusy", INFO, DeviceBusy,
        plan=Plan(ops={GDI: send(lambda k: respond(0x2001, 1)(k) + respond(BUSY)(k))}),
        fuji=True),
    # -- mid-data-in: camera.download(handle, folder) of a 5,000-byte object ------------------
    Row("H30", DI, "disconnect after 2,000 bytes (GetObject)", DL, ConnectionClosed,
        plan=Plan(ops={GET: partial_data(2000, close())}), partial=False),
    Row("V09", DI, "drop after 500,000 bytes (Faults, 3 MiB)", DL, ConnectionClosed,
        faults={"drop_after_bytes": 500_000}),
    Row("H31", DI, "stall after 2,000 bytes (GetPartialObject)", DL, Timeout,
        plan=Plan(ops={PART: partial_data(2000, stall())})),
    Row("H32", DI, "trickle 1 byte / 0.2 s (GetObject)", DL, Timeout, deadline=2.0,
        plan=Plan(ops={GET: trickle_object(0.2)}), partial=False),
    Row("H33", DI, "trickle 1 byte / 0.2 s (GetPartialObject)", DL, Timeout, deadline=2.0,
        plan=Plan(ops={PART: trickle_object(0.2)})),
    Row("H34", DI, "Data with a wrong TID (GetPartialObject)", DL, RemoteProtocolError,
        plan=Plan(ops={PART: send(wrong_tid_data)})),
    Row("H35", DI, "more data than Start Data announced (GetObject)", DL, RemoteProtocolError,
        plan=Plan(ops={GET: endless(announce(OBJECT_SIZE))}), partial=False),
    Row("H36", DI, "Start Data 1 GiB for 5,000 bytes, endless (GetObject)", DL,
        RemoteProtocolError, match="camera",
        plan=Plan(ops={GET: endless(announce(GiB))}), partial=False),
    Row("H37", DI, "Start Data 1 GiB for 5,000 bytes, endless (GetPartial)", DL,
        RemoteProtocolError, match="camera",
        plan=Plan(ops={PART: endless(announce(GiB))})),
    Row("H38", DI, "unknown length, endless data (GetObject)", DL, RemoteProtocolError,
        plan=Plan(ops={GET: endless(announce(UNKNOWN_DATA_LENGTH))}), partial=False),
    Row("H39", DI, "unknown length, endless data (GetPartialObject)", DL, RemoteProtocolError,
        plan=Plan(ops={PART: endless(announce(UNKNOWN_DATA_LENGTH))})),
    Row("H40", DI, "a second Start Data", DL, RemoteProtocolError,
        plan=Plan(ops={PART: send(second_start)})),
    Row("H41", DI, "one Data packet claiming 4 GiB, endless", DL, RemoteProtocolError,
        plan=Plan(ops={GET: endless(huge_data_packet, packets=False)}), partial=False),
    Row("H74", DI, "OK after 2,000 of 5,000 bytes (GetPartialObject)", DL,
        RemoteProtocolError, plan=Plan(ops={PART: send(early_response)})),
    Row("H75", DI, "empty data phase for 5,000 bytes (GetObject)", DL, RemoteProtocolError,
        plan=Plan(ops={GET: send(lambda k: k.data_in(b"") + k.response(0x2001))}),
        partial=False),
    Row("H76", DI, "the camera cancels after 2,000 bytes", DL, TransactionCancelled,
        plan=Plan(ops={PART: send(camera_cancels)})),
    Row("H42", DI, "local disk full, the camera streams on (GetObject)", Op.FULL_DISK,
        STORAGE_ERROR, deadline=2.0, plan=Plan(ops={GET: endless(announce(GiB))}),
        partial=False),
    Row("F07", DI, "data container of 4 GiB, endless (GetObject)", DL, RemoteProtocolError,
        plan=Plan(ops={GET: endless(announce(0xFFFF_FFF0), packets=False)}), fuji=True,
        partial=False),
    Row("F08", DI, "the object twice in two data containers", DL, RemoteProtocolError,
        plan=Plan(ops={PART: send(two_containers)}), fuji=True),
    Row("F09", DI, "stall after 2,000 bytes (GetPartialObject)", DL, Timeout,
        plan=Plan(ops={PART: partial_data(2000, stall())}), fuji=True),
    Row("F10", DI, "disconnect after 2,000 bytes (GetObject)", DL, ConnectionClosed,
        plan=Plan(ops={GET: partial_data(2000, close())}), fuji=True, partial=False),
    # -- mid-data-out ------------------------------------------------------------------------
    Row("H50", DO, "close on the request", SETBIG, ConnectionClosed,
        plan=Plan(ops={SETP: close()})),
    Row("H51", DO, "stop reading, never answer", SETBIG, Timeout, plan=Plan(ops={SETP: deaf()})),
    Row("H52", DO, "answer AccessDenied early, keep reading", SETBIG, AccessDenied,
        plan=Plan(ops={SETP: send(respond(ResponseCode.ACCESS_DENIED))})),
    Row("H53", DO, "answer DeviceBusy early, stop reading", SETBIG, DeviceBusy,
        plan=Plan(ops={SETP: send(respond(BUSY), then=deaf())})),
    Row("H54", DO, "SendObjectInfo: read it, never answer", SENDOI, Timeout,
        plan=Plan(ops={SOI: stall()})),
    Row("H55", DO, "SendObjectInfo: close on the request", SENDOI, ConnectionClosed,
        plan=Plan(ops={SOI: close()})),
    Row("H56", DO, "SendObjectInfo: StoreFull before the data", SENDOI, ResponseError,
        plan=Plan(ops={SOI: send(respond(ResponseCode.STORE_FULL))})),
    Row("F11", DO, "stop reading, never answer", SETBIG, Timeout,
        plan=Plan(ops={SETP: deaf()}, skip=2), fuji=True),
    Row("F12", DO, "answer DeviceBusy early, keep reading", SETBIG, DeviceBusy,
        plan=Plan(ops={SETP: send(respond(BUSY))}, skip=2), fuji=True),
    # -- the event connection ----------------------------------------------------------------
    Row("H60", EV, "event socket lost during a stalled call", INFO, ConnectionClosed,
        timeout=2.0, deadline=1.0, plan=Plan(ops={GDI: on_events(drop)})),
    Row("H61", EV, "event socket lost between calls", INFO, ConnectionClosed,
        timeout=2.0, deadline=1.0, plan=Plan(ops={OPEN: serve_then(lose_events(0.2))})),
    Row("H62", EV, "garbage on the event socket", INFO, RemoteProtocolError,
        timeout=2.0, deadline=1.0, plan=Plan(ops={GDI: on_events(write(lambda k: DEAD_BEEF))})),
    Row("H63", EV, "Event with length 0xFFFFFFFF", INFO, RemoteProtocolError,
        timeout=2.0, deadline=1.0,
        plan=Plan(ops={GDI: on_events(write(lambda k: ABSURD_EVENT))})),
    Row("H64", EV, "probe flood, command stalled", INFO, Timeout,
        plan=Plan(ops={GDI: flood_probes_and_stall()})),
    Row("F13", EV, "event socket lost during a stalled call", INFO, ConnectionClosed,
        timeout=2.0, deadline=1.0, plan=Plan(ops={GDI: on_events(drop)}), fuji=True),
    Row("F15", EV, "event connection closed as it opens", INFO, ConnectionClosed,
        timeout=2.0, deadline=1.0, plan=Plan(event_init=close()), fuji=True),
    Row("F14", EV, "container of unknown type on the event socket", INFO,
        RemoteProtocolError, timeout=2.0, deadline=1.0,
        plan=Plan(ops={GDI: on_events(write(lambda k: FUJI_BAD_CONTAINER))}), fuji=True),
]
# fmt: on


def test_the_matrix_is_big_enough() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))
    assert len(ROWS) >= 25
    assert {row.phase for row in ROWS} == set(Phase)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_fault(row: Row, tmp_path: Path) -> None:
    obs = await run_row(row, tmp_path)
    assert obs.passed, f"{row.id} {row.fault}: " + "; ".join(obs.problems)
