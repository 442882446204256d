"""Seed inputs from real bytes: the shared vectors, the seeds' hex dumps (read with the tests'
own helpers), and what ptpip's encoders produce for every packet, dataset and payload."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from functools import cache

from tests.ip import test_state_machines as seed002
from tests.vectors import SEEDS, VECTORS, seed_dumps
from tests.vendors.canon import test_codec as canon_tests
from tests.vendors.fuji import test_codec as fuji_tests
from tests.vendors.leica import test_codec as leica_tests
from tests.vendors.nikon import test_codec as nikon_tests

from ptpip.ip.framing import ContainerType, encode_container
from ptpip.ip.packets import (
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
    ProbeRequest,
    ProbeResponse,
    StartData,
)
from ptpip.ptp.codes import DataPhase, DataType
from ptpip.ptp.datasets import (
    DeviceInfo,
    DevicePropDesc,
    ObjectInfo,
    PropEnum,
    PropRange,
    StorageInfo,
    encode_handles,
)
from ptpip.ptp.values import Value, Writer, int_range
from ptpip.vendors.canon.codec import (
    TERMINATOR,
    AvailListChanged,
    CameraStatusChanged,
    EventRecord,
    InfoCheckComplete,
    ObjectAdded,
    ObjectRemoved,
    PropValueChanged,
    RequestObjectTransfer,
    UnknownRecord,
    ViewfinderBlock,
    encode_events,
    encode_image_format,
    encode_set_prop_ex,
    encode_viewfinder,
)
from ptpip.vendors.fuji.codec import encode_liveview_frame, encode_prop_list, encode_state
from ptpip.vendors.leica.codec import encode_stream_frame
from ptpip.vendors.leica.stream_info import MJPG, StreamInfo
from ptpip.vendors.nikon.codec import (
    LiveViewFamily,
    encode_events_ex,
    encode_liveview,
    encode_vendor_prop_codes,
)
from ptpip.vendors.nikon.codec import (
    encode_events as encode_nikon_events,
)

__all__ = [
    "ALL_DATATYPES",
    "canon_events",
    "canon_image_formats",
    "canon_set_prop_ex",
    "canon_viewfinder",
    "cipa_packets",
    "cipa_streams",
    "container_streams",
    "datetimes",
    "device_infos",
    "fuji_frames",
    "fuji_prop_lists",
    "fuji_raw_conv",
    "fuji_states",
    "handle_lists",
    "leica_stream_frames",
    "object_infos",
    "prop_descs",
    "storage_infos",
    "stream_infos",
    "typed_values",
]

GUID = bytes(range(16))
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(48)) + b"\xff\xd9"
#: Every data type a property may have (UNDEF excluded).
ALL_DATATYPES: tuple[int, ...] = tuple(int(t) for t in DataType if t != DataType.UNDEF)


def _vector(path: str) -> bytes:
    return (VECTORS / path).read_bytes()


@cache
def _all_seed_dumps() -> tuple[bytes, ...]:
    dumps: list[bytes] = []
    for path in sorted(SEEDS.glob("*.txt")):
        dumps += seed_dumps(path.name)
    return tuple(dumps)


def _seed_002() -> list[bytes]:
    """Seed 002 (Canon EOS article) as the state-machine tests spell it."""
    return [
        seed002.SEED_INIT_REQUEST,
        seed002.SEED_INIT_ACK,
        seed002.SEED_INIT_EVENT_REQUEST,
        seed002.SEED_INIT_EVENT_ACK,
        seed002.SEED_OPEN_SESSION,
        seed002.SEED_OPEN_SESSION_OK,
    ]


# -- ptp values and datasets ------------------------------------------------------------------


def _sample_values(datatype: int) -> list[Value]:
    if datatype == DataType.STR:
        return ["", "a", "FUJIFILM", "20240102T030405.6", "x" * 200, "名前"]
    low, high = int_range(datatype)
    scalars = [low, high, 0 if low <= 0 else low, 1, high // 3]
    if datatype & 0x4000:
        return [(), (low,), tuple(scalars), tuple(range(40))]
    return [v for v in scalars if low <= v <= high]


@cache
def typed_values() -> tuple[bytes, ...]:
    """``u16 datatype`` + one encoded value, for every data type (and a few unknown ones)."""
    out: list[bytes] = []
    for datatype in ALL_DATATYPES:
        for value in _sample_values(datatype):
            w = Writer()
            w.push_value(datatype, value)
            out.append(struct.pack("<H", datatype) + w.getvalue())
    out += [struct.pack("<H", t) + bytes(8) for t in (0, 0x000B, 0x4000, 0x400B, 0x8002, 0xFFFE)]
    return tuple(out)


def _prop_desc_samples() -> list[DevicePropDesc]:
    descs: list[DevicePropDesc] = []
    for datatype in ALL_DATATYPES:
        values = _sample_values(datatype)
        default, current = values[0], values[-1]
        descs.append(DevicePropDesc(0x5001, datatype, 1, default, current))
        descs.append(DevicePropDesc(0xD001, datatype, 0, current, default, PropEnum(tuple(values))))
        if datatype != DataType.STR and not datatype & 0x4000:
            low, high = int_range(datatype)
            descs.append(DevicePropDesc(0x500F, datatype, 1, low, high, PropRange(low, high, 1)))
    return descs


@cache
def prop_descs() -> tuple[bytes, ...]:
    """DevicePropDesc of every data type and form, the seeds' Fuji descriptors, and the
    descriptor without a form flag that string properties send."""
    out = [d.encode() for d in _prop_desc_samples()]
    out += [d.encode()[:-1] for d in _prop_desc_samples()[:6]]  # no form flag at all
    for blob in fuji_prop_lists():  # each entry of the seed's 0x902B list is a descriptor
        pos, count = 4, int.from_bytes(blob[:4], "little")
        for _ in range(min(count, 200)):
            if pos + 4 > len(blob):
                break
            size = int.from_bytes(blob[pos : pos + 4], "little")
            if size < 4:
                break
            out.append(blob[pos + 4 : pos + size])
            pos += size
    return tuple(out)


@cache
def device_infos() -> tuple[bytes, ...]:
    xh1 = _vector("fuji/xh1_device_info.bin")[12:]
    made = DeviceInfo(
        100,
        0xE,
        100,
        "ptpip",
        0,
        (0x1001, 0x1002, 0x1003),
        (0x4002, 0x4004),
        (0x5001, 0x5003),
        (0x3801,),
        (0x3000, 0x3801),
        "Canon Inc.",
        "EOS",
        "1.0",
        "0123",
    ).encode()
    return (xh1, made, DeviceInfo().encode())


@cache
def storage_infos() -> tuple[bytes, ...]:
    return (
        StorageInfo(4, 2, 0, 32 << 30, 16 << 30, 1000, "SD", "EOS_DIGITAL").encode(),
        StorageInfo(3, 1, 2, 0, 0).encode(),
    )


@cache
def object_infos() -> tuple[bytes, ...]:
    date = datetime(2024, 1, 2, 3, 4, 5, 600000)
    full = ObjectInfo(
        0x0001_0001,
        0x3801,
        0,
        123456,
        0x3808,
        1000,
        160,
        120,
        6000,
        4000,
        24,
        0x10,
        0,
        0,
        7,
        "IMG_0001.JPG",
        date,
        date.replace(tzinfo=UTC),
        "holiday",
    ).encode()
    folder = ObjectInfo(0x0001_0001, 0x3001, association_type=1, filename="DCIM").encode()
    return (full, folder, full[:52], full[:53])


@cache
def handle_lists() -> tuple[bytes, ...]:
    return (encode_handles(()), encode_handles((1,)), encode_handles(tuple(range(1, 40))))


@cache
def datetimes() -> tuple[bytes, ...]:
    texts = ["20240102T030405", "20240102T030405.6", "20240102T030405Z", "20240102T030405+0130"]
    texts += ["20240102T030405.6-0800", "", "garbage", "99999999T999999"]
    return tuple(t.encode("utf-16-le") for t in texts)


# -- PTP/IP packets and streams ---------------------------------------------------------------


@cache
def cipa_packets() -> tuple[bytes, ...]:
    """One of every packet type (Fuji Init forms too) and every packet of the seeds."""
    packets = [
        InitCommandRequest(GUID, "ptpip").encode(),
        InitCommandRequest(GUID, "OLS", name_terminated=False).encode(),
        InitCommandRequest(GUID, "").encode(),
        FujiInitCommandRequest(GUID, "ptpip").encode(),
        FujiInitCommandRequest(GUID, "ptpip", None).encode(),
        FujiInitCommandRequest(GUID, "x" * 26).encode(),
        InitCommandAck(1, GUID, "camera").encode(),
        InitCommandAck(1, GUID, "X-T1", name_field_bytes=36).encode(),
        InitCommandAck(1, GUID, "camera", None).encode(),
        InitEventRequest(1).encode(),
        InitEventAck().encode(),
        InitFail(1).encode(),
        OperationRequest(0x1002, 0, (1,)).encode(),
        OperationRequest(0x100C, 5, (1, 2, 3, 4, 5), DataPhase.DATA_OUT).encode(),
        OperationResponse(0x2001, 1).encode(),
        OperationResponse(0x2001, 1, (1, 2, 3, 4, 5)).encode(),
        Event(0x4002, 0xFFFF_FFFF, (7,)).encode(),
        Event(0x400D, 3, (1, 2, 3)).encode(),
        StartData(3, 10).encode(),
        StartData(3, 0xFFFF_FFFF_FFFF_FFFF).encode(),
        Data(3, bytes(range(10))).encode(),
        EndData(3, b"").encode(),
        EndData(3, b"xyz").encode(),
        Cancel(3).encode(),
        ProbeRequest().encode(),
        ProbeResponse().encode(),
    ]
    packets += [d for d in _all_seed_dumps() if d[4:8] != b"\x02\x00\x2b\x90"]
    packets += _seed_002()
    return tuple(packets)


def _data_in(tid: int, payload: bytes) -> bytes:
    return StartData(tid, len(payload)).encode() + EndData(tid, payload).encode()


@cache
def cipa_streams() -> tuple[bytes, ...]:
    """Whole conversations in the CIPA dialect, both directions."""
    init = InitCommandRequest(GUID, "ptpip").encode()
    ack = InitCommandAck(1, GUID, "camera").encode()
    op = OperationRequest(0x1001, 1).encode()
    ok = OperationResponse(0x2001, 1).encode()
    info = device_infos()[1]
    to_client = [
        ack + _data_in(1, info) + ok,
        ack
        + StartData(1, 20).encode()
        + Data(1, bytes(10)).encode()
        + EndData(1, bytes(10)).encode()
        + ok,
        InitEventAck().encode()
        + Event(0x4002, 0xFFFF_FFFF, (1,)).encode()
        + ProbeRequest().encode(),
        seed002.SEED_INIT_ACK + seed002.SEED_OPEN_SESSION_OK,
        InitFail(1).encode(),
        b"".join(_all_seed_dumps()[:11]),
    ]
    to_camera = [
        init + op,
        init
        + OperationRequest(0x1016, 1, (0x5001,), DataPhase.DATA_OUT).encode()
        + StartData(1, 2).encode()
        + EndData(1, b"\x01\x00").encode(),
        init + OperationRequest(0x1009, 2, (1,)).encode() + Cancel(2).encode(),
        InitEventRequest(1).encode() + ProbeRequest().encode() + ProbeResponse().encode(),
        seed002.SEED_INIT_REQUEST + seed002.SEED_OPEN_SESSION,
        init + StartData(1, 0).encode() + EndData(1, b"").encode(),
    ]
    return tuple(to_client + to_camera)


@cache
def container_streams() -> tuple[bytes, ...]:
    """Fuji's dialect: containers after the Init, the seeds' dumps, the goodbye."""
    resp = encode_container(ContainerType.RESPONSE, 0x2001, 1)
    data = encode_container(ContainerType.DATA, 0x1001, 1, payload=device_infos()[0])
    event = encode_container(ContainerType.EVENT, 0xC004, 0xFFFF_FFFF, params=(1, 2, 3))
    cmd = encode_container(ContainerType.COMMAND, 0x1016, 2, params=(0xDF01,))
    out_data = encode_container(ContainerType.DATA, 0x1016, 2, payload=b"\x05\x00")
    fuji_init = FujiInitCommandRequest(GUID, "ptpip").encode()
    ack = InitCommandAck(1, GUID, "X-T1", name_field_bytes=36).encode()
    goodbye = b"\x08\x00\x00\x00\xff\xff\xff\xff"
    dumps = b"".join(d for d in _all_seed_dumps() if d[4:6] in (b"\x02\x00", b"\x03\x00"))
    return (
        ack + data + resp + event,
        fuji_init + cmd + out_data + fuji_init + goodbye,
        dumps,
        event * 3,
        data + data + resp,
    )


# -- vendor payloads --------------------------------------------------------------------------


@cache
def canon_events() -> tuple[bytes, ...]:
    vector = _vector("canon/eos_events.bin")
    records: list[EventRecord] = [
        PropValueChanged(0xD103, 0x70),
        PropValueChanged(0xD115, "EOS"),
        PropValueChanged(0xD120, encode_image_format([(1, 0, 3)])),
        AvailListChanged(0xD103, 3, (0, 0x48, 0x50)),
        AvailListChanged(0xD120, 3, (encode_image_format([(1, 0, 3)]), encode_image_format([]))),
        ObjectAdded(1, 0x0001_0001, 0x3801, 1234, 0x10, "IMG_0001.JPG"),
        ObjectAdded(2, 0x0001_0001, 0xB108, 1 << 33, 0x10, "IMG_0002.CR3", 0xC1A7),
        RequestObjectTransfer(3, 0x3801, 999, "IMG_0003.JPG"),
        RequestObjectTransfer(3, 0x3801, 999, "IMG_0003.JPG", 0xC1A9),
        ObjectRemoved(4),
        CameraStatusChanged(1),
        InfoCheckComplete(0x0002_0001),
        UnknownRecord(0xC1FF, b"\x01\x02\x03"),
    ]
    made = encode_events(records)
    return (
        vector[: canon_tests.EVENTS_END],
        vector[:400] + TERMINATOR,
        vector,
        made,
        canon_tests.PVC_ISO + canon_tests.AVAIL_ISO + TERMINATOR,
        TERMINATOR,
    )


@cache
def canon_image_formats() -> tuple[bytes, ...]:
    return (
        encode_image_format([(1, 0, 3)]),
        encode_image_format([(6, 0, 4), (1, 0, 3)]),
        encode_image_format([]),
    )


@cache
def canon_set_prop_ex() -> tuple[bytes, ...]:
    return (
        encode_set_prop_ex(0xD103, 0x48),
        encode_set_prop_ex(0xD115, "abc"),
        encode_set_prop_ex(0xD120, encode_image_format([(1, 0, 3)])),
    )


@cache
def canon_viewfinder() -> tuple[bytes, ...]:
    vector = _vector("canon/eos_liveview.jpg")[: canon_tests.VIEWFINDER_END]
    first = int.from_bytes(vector[:4], "little")
    # the real frame with its JPEG block cut to 2 KiB, so mutating it stays cheap
    small_jpeg = vector[8 : 8 + 2048]
    short = struct.pack("<II", 8 + len(small_jpeg), 1) + small_jpeg + vector[first:]
    made = encode_viewfinder(
        [
            ViewfinderBlock(1, JPEG),
            ViewfinderBlock(14, struct.pack("<II", 5160, 3444)),
            ViewfinderBlock(0, b""),
        ]
    )
    return (short, made, vector[first:], vector)


@cache
def fuji_prop_lists() -> tuple[bytes, ...]:
    seed = fuji_tests.prop_list_blob()
    made = encode_prop_list(_prop_desc_samples()[:12])
    return (seed, made)


@cache
def fuji_states() -> tuple[bytes, ...]:
    return (
        fuji_tests.state_blob(),
        fuji_tests.malc0mn_state_fixture(),
        encode_state([(0x5005, 2), (0xD212, 0xFFFF_FFFF)]),
    )


@cache
def fuji_frames() -> tuple[bytes, ...]:
    vector = _vector("fuji/lv_stream")
    small = encode_liveview_frame(7, vector[18 : 18 + 1024], vector[9:18])
    return (small, encode_liveview_frame(0, JPEG), vector)


@cache
def fuji_raw_conv() -> tuple[bytes, ...]:
    return (_vector("fuji/xh1_d185_initial.bin"), _vector("fuji/xh1_d185_2.bin"))


@cache
def leica_stream_frames() -> tuple[bytes, ...]:
    sample = encode_stream_frame(leica_tests.JPEG, leica_tests.TLVS, leica_tests.SAMPLE_WORDS)
    return (sample, encode_stream_frame(JPEG), leica_tests.sample_header() + JPEG)


@cache
def stream_infos() -> tuple[bytes, ...]:
    return (StreamInfo(1000, 18, 1 << 20, 0, 1 << 20, 4).encode(), MJPG.to_bytes(4, "little"))


@cache
def nikon_events() -> tuple[bytes, ...]:
    """GetEvent 0x90C7 and GetEventEx 0x941C queues (both decoders get both)."""
    records = [(0xC101, (0,)), (0x4002, (0x10,)), (0x4006, (0xD100,)), (0x400D, ())]
    return (
        encode_nikon_events([(c, p or (0,)) for c, p in records]),
        encode_events_ex(records),
        encode_events_ex([(0x4006, (1, 2, 3, 4))]),
        encode_nikon_events([]),
    )


@cache
def nikon_liveview() -> tuple[bytes, ...]:
    jpeg = nikon_tests.TINY_JPEG
    framed = [encode_liveview(jpeg, fields=nikon_tests.FIELDS, family=f) for f in LiveViewFamily]
    return (*framed, encode_liveview(JPEG))


@cache
def nikon_prop_codes() -> tuple[bytes, ...]:
    return (encode_vendor_prop_codes([0xD100, 0xD10B, 0xD1A2]), encode_vendor_prop_codes([]))
