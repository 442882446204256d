"""Every decoder of ptpip as a fuzz target, and the loop that feeds them mutated inputs.

A decode may give a value or raise :class:`RemoteProtocolError`; anything else is a finding:
another exception, a decode running longer than ``hang_seconds`` of CPU time (SIGPROF), a
MemoryError under the address-space cap, a broken invariant (a framer buffering more than its
cap), or the process growing by more than ``max_growth_mb``.
"""

from __future__ import annotations

import contextlib
import random
import resource
import signal
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType

from fuzz import corpus
from fuzz.mutate import Mutator
from fuzz.oracles import ORACLES
from fuzz.report import Counts, Finding, Findings, exception_finding
from ptpip.discovery.ssdp import parse_description, parse_ssdp
from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ip import initiator as ini
from ptpip.ip import responder as rsp
from ptpip.ip.framing import Dialect, Framer
from ptpip.ip.packets import (
    FujiInitCommandRequest,
    InitCommandAck,
    InitCommandRequest,
    decode_packet,
)
from ptpip.props.registry import describe_values, format_value
from ptpip.ptp.codes import Vendor
from ptpip.ptp.datasets import (
    DeviceInfo,
    DevicePropDesc,
    ObjectInfo,
    StorageInfo,
    decode_handles,
)
from ptpip.ptp.names import CodeKind, lookup, name, names, vendor_for
from ptpip.ptp.values import Reader, decode_datetime
from ptpip.record import _MAX_SEGMENT
from ptpip.record import _Direction as _RecordDirection
from ptpip.vendors.canon.codec import (
    decode_events,
    decode_image_format,
    decode_set_prop_ex,
    decode_viewfinder,
    format_image_format,
    viewfinder_jpeg,
)
from ptpip.vendors.fuji.codec import (
    LiveViewStreamReader,
    decode_liveview_frame,
    decode_prop_list,
    decode_raw_conv_profile,
    decode_state,
)
from ptpip.vendors.leica.codec import decode_stream_frame
from ptpip.vendors.leica.stream_info import StreamInfo, fourcc
from ptpip.vendors.nikon import codec as nikon

__all__ = ["TARGETS", "InvariantError", "Target", "replay", "rss_mb", "run_decoders"]


class InvariantError(Exception):
    """A decoder returned, but broke a promise (a buffer over its cap, ...)."""


class _Hang(BaseException):
    """Raised by SIGPROF when one decode used more CPU time than allowed."""


@dataclass(frozen=True)
class Target:
    name: str
    seeds: Callable[[], Sequence[bytes]]
    run: Callable[[bytes], object]
    #: share of the input budget, relative to the other targets
    weight: float = 1.0
    #: offsets of known length/count fields, for the length-tweak mutation
    offsets: tuple[int, ...] = ()


def _chunks(data: bytes) -> Iterator[bytes]:
    """``data`` cut at places derived from the data itself (so a finding replays exactly)."""
    rng = random.Random(zlib.crc32(data))
    style = rng.randrange(4)
    if style == 0 or len(data) < 2:
        yield data
        return
    pos = 0
    pieces = 0
    while pos < len(data):
        if style == 1 and pieces < 256:
            size = 1
        elif pieces < 64:
            size = rng.choice((1, 2, 3, 7, 8, 12, 13, 64, 1000))
        else:
            size = len(data) - pos
        yield data[pos : pos + size]
        pos += size
        pieces += 1


# -- PTP values and datasets --------------------------------------------------------------------


def _pull_value(data: bytes) -> object:
    if len(data) < 2:
        raise RemoteProtocolError("no datatype")
    datatype = int.from_bytes(data[:2], "little")
    reader = Reader(data, 2)
    value = reader.pull_value(datatype)
    reader.expect_end("value")
    return value


def _datetime(data: bytes) -> object:
    return (
        decode_datetime(data.decode("utf-16-le", errors="replace")),
        decode_datetime(data.decode("latin-1")),
    )


_KINDS = tuple(CodeKind)
_VENDORS = tuple(Vendor)


def _names(data: bytes) -> object:
    if len(data) < 6:
        raise RemoteProtocolError("short")
    kind, vendor = _KINDS[data[0] % len(_KINDS)], _VENDORS[data[1] % len(_VENDORS)]
    code = int.from_bytes(data[2:6], "little")
    text = data[6:].decode("utf-8", errors="replace")
    return (
        name(kind, code, vendor),
        name(kind, code & 0xFFFF, vendor),
        lookup(kind, text, vendor),
        vendor_for(text, code),
    )


def _names_seeds() -> list[bytes]:
    return [
        bytes([0, 2]) + (0x9116).to_bytes(4, "little") + b"GetEvent",
        bytes([3, 1]) + (0xD212).to_bytes(4, "little") + b"0xD212",
        bytes([5, 0]) + (0xFFFF).to_bytes(4, "little") + b"FUJIFILM",
        bytes([1, 3]) + (0x2001).to_bytes(4, "little") + b"Leica Camera AG",
    ]


_PROPERTY_CODES: dict[Vendor, tuple[int, ...]] = {
    v: tuple(names(CodeKind.PROPERTY, v)) for v in _VENDORS
}


def _props(data: bytes) -> object:
    """A descriptor as the CLI shows it: its values formatted for every vendor."""
    desc = DevicePropDesc.decode(data)
    pick = zlib.crc32(data)
    out: list[object] = []
    for vendor in (_VENDORS[pick % len(_VENDORS)], _VENDORS[(pick >> 8) % len(_VENDORS)]):
        codes = _PROPERTY_CODES[vendor]
        for code in (desc.code, codes[pick % len(codes)]):
            d = DevicePropDesc(
                code, desc.datatype, desc.get_set, desc.default, desc.current, desc.form
            )
            out.append(describe_values(d, vendor))
            out.append(format_value(code, d.current, vendor, datatype=d.datatype))
    return out


# -- PTP/IP ------------------------------------------------------------------------------------


def _packet(data: bytes) -> object:
    if len(data) < 8:
        raise RemoteProtocolError("no header")
    ptype = int.from_bytes(data[4:8], "little")
    return decode_packet(ptype, data[8:])


def _framer(dialect: Dialect, switch: bool) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        cap = (64, 4096, 4 * 1024 * 1024)[zlib.crc32(data) % 3]
        framer = Framer(dialect, max_control=cap)
        events = []
        data_bytes = 0
        for piece in _chunks(data):
            framer.feed(piece)
            while (event := framer.next_event()) is not None:
                events.append(event)
                data_bytes += len(getattr(event, "data", b""))
                if switch and len(events) == 1:
                    framer.use_containers()
            if framer.buffered > max(cap, 12):
                raise InvariantError(f"framer buffers {framer.buffered} bytes, cap {cap}")
        if data_bytes > len(data):
            raise InvariantError(f"{data_bytes} data bytes out of {len(data)} in")
        return events

    return run


_GUID = bytes(range(16))


def _initiator(fuji: bool, role: ini.Role, ready: bool) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        rng = random.Random(zlib.crc32(data) ^ 0x5A5A)
        machine = ini.Initiator(role, fuji=fuji)
        tid = 1
        if role is ini.Role.COMMAND:
            request: InitCommandRequest | FujiInitCommandRequest = (
                FujiInitCommandRequest(_GUID, "fuzz") if fuji else InitCommandRequest(_GUID, "fuzz")
            )
            machine.init_command(request)
            if ready:
                ack = InitCommandAck(1, _GUID, "camera", name_field_bytes=36 if fuji else None)
                machine.receive_data(ack.encode())
        elif role is ini.Role.EVENT and not fuji:
            machine.init_event(1)
            if ready:
                machine.receive_data(b"\x08\x00\x00\x00\x04\x00\x00\x00")
        events: list[ini.InitiatorEvent] = []
        for piece in _chunks(data):
            events += machine.receive_data(piece)
            if role is ini.Role.COMMAND and machine.ready and not machine.busy:
                out = rng.random() < 0.3
                with contextlib.suppress(LocalProtocolError):
                    machine.request(
                        0x1001 + tid % 40, tid, (tid,), data_out_length=4 if out else None
                    )
                    if out and rng.random() < 0.5:
                        machine.data_out(b"abcd", last=True)
                tid += 1
        return events

    return run


def _responder(fuji: bool, role: rsp.ResponderRole) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        machine = rsp.Responder(role, fuji=fuji)
        events: list[rsp.ResponderEvent] = []
        for piece in _chunks(data):
            new = machine.receive_data(piece)
            events += new
            for event in new:
                if isinstance(event, rsp.CommandInit) and not machine.ready:
                    ack = InitCommandAck(1, _GUID, "camera", name_field_bytes=36 if fuji else None)
                    machine.accept(ack)
                elif isinstance(event, rsp.EventInit) and not machine.ready:
                    machine.accept()
                elif isinstance(event, rsp.RequestReceived):
                    machine.respond(0x2001, event.transaction_id)
        return events

    return run


# -- vendors -----------------------------------------------------------------------------------


def _canon_image_format(data: bytes) -> object:
    return format_image_format(decode_image_format(data))


def _canon_viewfinder(data: bytes) -> object:
    blocks = decode_viewfinder(data)
    return blocks, viewfinder_jpeg(blocks)


def _fuji_stream(data: bytes) -> object:
    cap = (32, 4096, 16 * 1024 * 1024)[zlib.crc32(data) % 3]
    reader = LiveViewStreamReader(max_frame_size=cap)
    frames = []
    for piece in _chunks(data):
        frames += reader.feed(piece)
        if reader.buffered > cap:
            raise InvariantError(f"live-view reader buffers {reader.buffered} bytes, cap {cap}")
    return frames


def _nikon_events(data: bytes) -> object:
    return nikon.decode_events(data), nikon.decode_events_ex(data)


def _nikon_liveview(data: bytes) -> object:
    """Every family's header and the search without one; the JPEG found must be whole."""
    out = []
    refused: nikon.LiveViewError | None = None
    for family in (None, *nikon.LiveViewFamily):
        try:
            header, jpeg, info = nikon.split_liveview(data, family)
        except nikon.LiveViewError as exc:
            refused = exc
        else:
            if not (jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")):
                raise InvariantError(f"live-view JPEG not whole ({family}): {jpeg[:4].hex()}")
            if len(header) + len(jpeg) > len(data):
                raise InvariantError("live-view header and JPEG longer than the data")
            out.append((header, jpeg, info))
    if not out and refused is not None:
        raise refused
    return out


def _stream_info(data: bytes) -> object:
    info = StreamInfo.decode(data)
    return info, fourcc(info.frame_max_size), fourcc(info.time_resolution)


_SSDP = (
    b"NOTIFY * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\nCache-Control: max-age=1800\r\n"
    b"Location: http://192.168.0.120:49152/upnp/CameraDevDesc.xml\r\n"
    b"NT: urn:schemas-canon-com:service:ICPO-WFTEOSSystemService:1\r\nNTS: ssdp:alive\r\n\r\n"
)
_DESCRIPTION = (
    b'<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
    b"<friendlyName>Canon EOS Rebel T6</friendlyName><manufacturer>Canon</manufacturer>"
    b'<ns:X_deviceNickname xmlns:ns="urn:schemas-canon-com:schema-upnp">EOST6{'
    b"</ns:X_deviceNickname></device></root>"
)


def _record(data: bytes) -> object:
    """``--record`` cuts each direction at packet boundaries: every byte comes out once, in
    order, and at most one segment's worth waits."""
    direction = _RecordDirection()
    out = bytearray()
    for piece in _chunks(data):
        for segment in direction.feed(piece):
            if len(segment) > _MAX_SEGMENT:
                raise InvariantError(f"a pcap segment of {len(segment)} bytes")
            out += segment
        if len(direction.buf) > _MAX_SEGMENT + len(piece):
            raise InvariantError(f"the recorder holds {len(direction.buf)} bytes")
    if bytes(out) + bytes(direction.buf) != data:
        raise InvariantError("the recorder lost, reordered or invented bytes")
    return len(out)


def _ssdp(data: bytes) -> object:
    return parse_ssdp(data), parse_description(data)


#: Offsets of the u32 length/count fields of PTP/IP packets and containers.
_PACKET_OFFSETS = (0, 4, 8, 12, 16, 20)

TARGETS: tuple[Target, ...] = (
    Target("ptp.values.pull_value", corpus.typed_values, _pull_value, 1.5, (2,)),
    Target("ptp.values.decode_datetime", corpus.datetimes, _datetime, 0.5),
    Target("ptp.datasets.DeviceInfo", corpus.device_infos, DeviceInfo.decode, 1.0, (8, 9, 53)),
    Target("ptp.datasets.StorageInfo", corpus.storage_infos, StorageInfo.decode, 0.7, (26,)),
    Target("ptp.datasets.ObjectInfo", corpus.object_infos, ObjectInfo.decode, 1.0, (4, 52)),
    Target("ptp.datasets.DevicePropDesc", corpus.prop_descs, DevicePropDesc.decode, 2.0, (2, 5)),
    Target("ptp.datasets.decode_handles", corpus.handle_lists, decode_handles, 0.5, (0,)),
    Target("ptp.names", _names_seeds, _names, 0.5, (2,)),
    Target("ip.packets.decode_packet", corpus.cipa_packets, _packet, 2.0, _PACKET_OFFSETS),
    Target(
        "ip.framing.Framer[cipa]",
        corpus.cipa_streams,
        _framer(Dialect.CIPA, False),
        2.0,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.framing.Framer[container]",
        corpus.container_streams,
        _framer(Dialect.CONTAINER, False),
        1.5,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.framing.Framer[cipa->container]",
        corpus.container_streams,
        _framer(Dialect.CIPA, True),
        1.0,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.initiator[command,init]",
        corpus.cipa_streams,
        _initiator(False, ini.Role.COMMAND, False),
        1.0,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.initiator[command,ready]",
        corpus.cipa_streams,
        _initiator(False, ini.Role.COMMAND, True),
        1.5,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.initiator[event]",
        corpus.cipa_streams,
        _initiator(False, ini.Role.EVENT, False),
        0.7,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.initiator[fuji,command]",
        corpus.container_streams,
        _initiator(True, ini.Role.COMMAND, True),
        1.0,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.initiator[fuji,event]",
        corpus.container_streams,
        _initiator(True, ini.Role.EVENT, True),
        0.7,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.responder[cipa]",
        corpus.cipa_streams,
        _responder(False, rsp.ResponderRole.UNKNOWN),
        1.5,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.responder[fuji,command]",
        corpus.container_streams,
        _responder(True, rsp.ResponderRole.UNKNOWN),
        1.0,
        _PACKET_OFFSETS,
    ),
    Target(
        "ip.responder[fuji,event]",
        corpus.container_streams,
        _responder(True, rsp.ResponderRole.EVENT),
        0.7,
        _PACKET_OFFSETS,
    ),
    Target("canon.decode_events", corpus.canon_events, decode_events, 2.0, (0, 16, 28, 32, 36)),
    Target(
        "canon.decode_image_format", corpus.canon_image_formats, _canon_image_format, 0.7, (0, 4)
    ),
    Target("canon.decode_set_prop_ex", corpus.canon_set_prop_ex, decode_set_prop_ex, 0.5, (0,)),
    Target("canon.decode_viewfinder", corpus.canon_viewfinder, _canon_viewfinder, 1.0, (0, 8)),
    Target("fuji.decode_prop_list", corpus.fuji_prop_lists, decode_prop_list, 1.5, (0, 4)),
    Target("fuji.decode_state", corpus.fuji_states, decode_state, 0.7, (0,)),
    Target("fuji.decode_liveview_frame", corpus.fuji_frames, decode_liveview_frame, 0.7, (0,)),
    Target("fuji.LiveViewStreamReader", corpus.fuji_frames, _fuji_stream, 1.0, (0,)),
    Target(
        "fuji.decode_raw_conv_profile", corpus.fuji_raw_conv, decode_raw_conv_profile, 0.5, (0, 2)
    ),
    Target(
        "leica.decode_stream_frame",
        corpus.leica_stream_frames,
        decode_stream_frame,
        1.0,
        (16, 20, 24),
    ),
    Target("leica.StreamInfo", corpus.stream_infos, _stream_info, 0.3, (0,)),
    Target("nikon.decode_events", corpus.nikon_events, _nikon_events, 1.0, (0,)),
    Target("nikon.split_liveview", corpus.nikon_liveview, _nikon_liveview, 1.0, (0,)),
    Target(
        "nikon.decode_vendor_prop_codes",
        corpus.nikon_prop_codes,
        nikon.decode_vendor_prop_codes,
        0.3,
        (0,),
    ),
    Target("props.describe_values", corpus.prop_descs, _props, 1.0, (2,)),
    Target("discovery.ssdp", lambda: (_SSDP, _DESCRIPTION), _ssdp, 0.3),
    Target("record.packet_cutter", corpus.cipa_streams, _record, 0.5, _PACKET_OFFSETS),
)


# -- the loop --------------------------------------------------------------------------------


def _on_prof(signum: int, frame: FrameType | None) -> None:
    raise _Hang


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _vm_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


@dataclass
class DecoderLimits:
    hang_seconds: float = 1.0
    #: address space allowed beyond what the process had when the decoders started
    max_alloc_mb: int = 2048
    max_growth_mb: int = 512


def _budgets(targets: Sequence[Target], total: int) -> list[int]:
    weight = sum(t.weight for t in targets)
    return [max(1, round(total * t.weight / weight)) for t in targets]


def _seed_for(seed: int, target: str) -> int:
    return zlib.crc32(f"{seed}:{target}".encode())


def run_target(
    target: Target,
    budget: int,
    deadline: float,
    seed: int,
    findings: Findings,
    limits: DecoderLimits,
    rss_base: float,
    check: bool = True,
) -> Counts:
    rng = random.Random(_seed_for(seed, target.name))
    seeds = [s for s in target.seeds() if isinstance(s, bytes)]
    pool = list(seeds) or [b""]
    mutator = Mutator(rng, lambda: pool[rng.randrange(len(pool))])
    counts = Counts()
    started = time.monotonic()
    grew = False
    oracle = ORACLES.get(target.name) if check else None
    for i in range(budget):
        if i % 512 == 0:
            if time.monotonic() > deadline:
                break
            if not grew and rss_mb() - rss_base > limits.max_growth_mb:
                grew = True
                findings.add(
                    Finding(target.name, "memory", f"RSS grew to {rss_mb():.0f} MB", "", "")
                )
                counts.findings += 1
        data = (
            seeds[i]
            if i < len(seeds)
            else mutator.mutate(pool[rng.randrange(len(pool))], target.offsets)
        )
        counts.inputs += 1
        t0 = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, limits.hang_seconds)
        try:
            value = target.run(data)
            if oracle is not None:
                oracle(value)
        except RemoteProtocolError:
            counts.rejected += 1
        except _Hang:
            used = time.process_time() - t0
            findings.add(Finding(target.name, "hang", f"over {used:.1f} s of CPU", "", "", data))
            counts.findings += 1
        except Exception as exc:  # every other exception is what we are looking for
            findings.add(exception_finding(target.name, exc, data))
            counts.findings += 1
        else:
            counts.ok += 1
            if i >= len(seeds) and rng.random() < 1 / 32:
                # decodable mutants become parents: they reach deeper than the seeds
                if len(pool) < 512:
                    pool.append(data)
                else:
                    pool[rng.randrange(len(seeds), len(pool))] = data
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    counts.seconds = time.monotonic() - started
    return counts


def run_decoders(
    total: int,
    seconds: float,
    seed: int,
    findings: Findings,
    only: Sequence[str] = (),
    limits: DecoderLimits | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Counts]:
    """Feed ``total`` mutated inputs to the targets (by weight) within ``seconds``."""
    limits = limits or DecoderLimits()
    targets = [t for t in TARGETS if not only or any(t.name.startswith(o) for o in only)]
    budgets = _budgets(targets, total)
    results: dict[str, Counts] = {}
    previous = signal.signal(signal.SIGPROF, _on_prof)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_bytes() + limits.max_alloc_mb * 2**20
    resource.setrlimit(
        resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard)
    )
    rss_base = rss_mb()
    start = time.monotonic()
    try:
        for index, (target, budget) in enumerate(zip(targets, budgets, strict=True)):
            # each target gets its share of the time left, so one slow target cannot starve
            left = seconds - (time.monotonic() - start)
            share = left * budget / max(1, sum(budgets[index:]))
            counts = run_target(
                target, budget, time.monotonic() + share, seed, findings, limits, rss_base
            )
            results[target.name] = counts
            if progress is not None:
                progress(
                    f"{target.name}: {counts.inputs:,} inputs in {counts.seconds:.1f} s,"
                    f" {counts.findings} findings"
                )
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGPROF, previous)
    return results


def replay(target_name: str, data: bytes) -> None:
    """Run one input through one target and let whatever it raises propagate."""
    for target in TARGETS:
        if target.name == target_name:
            try:
                print(repr(target.run(data))[:2000])
            except RemoteProtocolError as exc:
                print(f"RemoteProtocolError: {exc}")
            return
    raise SystemExit(f"no decoder target {target_name!r}")
