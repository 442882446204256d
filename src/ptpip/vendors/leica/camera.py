"""A Leica body over Wi-Fi (a Q3 by default), as its FOTOS-era clients see it.

What it reproduces (vendor-leica.md; section numbers below are that document's):

- The Init handshake of seed 000 byte for byte (§2): any name, with or without its NUL; the
  ack is 34 bytes: the connection number, a zero GUID, an empty name and version 0.0.
- Every response carries 5 parameters and every event 3, events with TID 0xFFFFFFFF (§2, §4),
  so a property change reads exactly like the seed's DevicePropChanged packet.
- OpenSession with any SessionID, then OpenLESession 0x9005 (any parameter; FOTOS 0xFF55).
  DeviceInfo lists the Leica operations only once the LE session is open (§5, §7: libgphoto2
  re-reads it), and they answer OperationNotSupported before. LECloseSession 0x9006 ends it.
- The heartbeat (§3): once the LE session is open, a session that sees no LEKeepSessionActive
  0x901D for ``heartbeat_timeout`` seconds is closed (its connections too). Time spent
  serving a request does not count, so a long download cannot starve it. The real camera's
  behaviour is unverified; the default, 30 s, tolerates the gaps §3 asks a simulator to, and
  None turns the watchdog off.
- CloseSession is answered with TID 0, as real bodies do (§7, libgphoto2 ``ptp.c``);
  ``close_session_tid_zero=False`` answers with the request's TID.
- The card, capture and properties of :class:`GenericCamera`, plus EnabledStreams 0x5021,
  VideoFormat 0x5022 ('MJPG') and the Leica properties of §5.
- Live view (§6): 0x1024 GetStreamInfo, then 0x9025 LEGetStreamData returns a frame in the
  header/TLV/JPEG layout at ``liveview_fps`` while EnabledStreams bit 0 is set.

Invented, because nothing documents it (each is marked where it is built): the GetStreamInfo
values, the TLV values of a frame, the payloads of 0x9003 GetLensParameter and 0x9033
LEGetLookPropList, the types and values of 0xD018, and what 0x9004's stages do here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptpip.camera.generic import GenericCamera
from ptpip.camera.personality import Reply, operation
from ptpip.camera.props import PropertyStore, generic_properties
from ptpip.camera.store import generate_jpeg
from ptpip.ip.packets import InitCommandAck
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import (
    UNSOLICITED_TID,
    DataType,
    DevicePropertyCode,
    EventCode,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
    Vendor,
    VendorExtensionID,
)
from ptpip.ptp.datasets import DeviceInfo, DevicePropDesc, PropEnum
from ptpip.ptp.values import Value, Writer
from ptpip.vendors.leica.codec import encode_stream_frame
from ptpip.vendors.leica.codes import LeicaOperation as LeOp
from ptpip.vendors.leica.codes import LeicaProperty
from ptpip.vendors.leica.stream_info import ENABLE_VIDEO_STREAM, MJPG, StreamInfo

if TYPE_CHECKING:
    from ptpip.camera.server import ServerSession, VirtualCamera

__all__ = ["DEFAULT_HEARTBEAT_TIMEOUT", "LeicaCamera", "leica_properties"]

log = logging.getLogger("ptpip.camera")

_Data = bytes | None
#: Seconds without LEKeepSessionActive after which the session is closed (§3: ≥ 30 s).
DEFAULT_HEARTBEAT_TIMEOUT = 30.0
#: Listed in DeviceInfo and served only while the LE session is open.
_LE_OPERATIONS = frozenset(
    {
        LeOp.GET_LENS_PARAMETER,
        LeOp.LE_RELEASE_STAGES,
        LeOp.CLOSE_LE_SESSION,
        LeOp.LE_KEEP_SESSION_ACTIVE,
        LeOp.LE_GET_STREAM_DATA,
        LeOp.LE_GET_LOOK_PROP_LIST,
    }
)
#: §5 Q3 note: 0xD69C / 0xD69D read as INT32 0x2000000F.
_STATUS_VALUE = 0x2000_000F
#: Invented StreamInfo values: microsecond timestamps, frames up to 1 MiB, no packetisation.
_STREAM_INFO = StreamInfo(
    time_resolution=1_000_000,
    frame_header_size=0,
    frame_max_size=1 << 20,
    packet_header_size=0,
    packet_max_size=1 << 20,
    packet_alignment=0,
)
#: A frame's TLVs in the shape of the §6 sample (tags 1–3 of 4 bytes, tag 4 of 64, then
#: 5/6/7). Tags 1–3 keep the sample's values; the meaning of all of them is unknown.
_FRAME_TLVS: tuple[tuple[int, bytes], ...] = (
    (1, (0x30D4).to_bytes(4, "little")),
    (2, (0x30D4).to_bytes(4, "little")),
    (3, (0x0653).to_bytes(4, "little")),
    (4, bytes(64)),
    (5, bytes(4)),
    (6, bytes(4)),
    (7, bytes(20)),
)
_LIVEVIEW_PICTURES = 8
#: Invented GetLensParameter answer for a Q3's fixed lens: name, focal length (mm × 100),
#: widest and narrowest aperture (f-number × 100).
_LENS = ("SUMMILUX 1:1.7/28 ASPH.", 2800, 170, 1600)
#: Invented LEGetLookPropList slots (Q3 note: 6 Look slots of ID, name, type, base style).
_LOOKS = (
    "Leica Standard",
    "Leica Vivid",
    "Leica Natural",
    "Leica Monochrome",
    "Leica Monochrome High Contrast",
    "Leica Chrome",
)


def _param(request: RequestReceived, index: int, default: int = 0) -> int:
    return request.params[index] if len(request.params) > index else default


def leica_properties(model: str) -> list[DevicePropDesc]:
    """The generic set, live view's two standard ones, and the Leica ones of §5."""
    u32 = DataType.UINT32
    return [
        *generic_properties(model),
        DevicePropDesc(DevicePropertyCode.ENABLED_STREAMS, u32, 1, 0, 0, PropEnum((0, 1))),
        DevicePropDesc(DevicePropertyCode.VIDEO_FORMAT, u32, 0, MJPG, MJPG, None),
        # type and values invented: an on/off switch
        DevicePropDesc(LeicaProperty.EXTERNAL_SHOOTING, DataType.UINT16, 1, 0, 0, PropEnum((0, 1))),
        DevicePropDesc(LeicaProperty.STATUS_D69C, DataType.INT32, 0, *(_STATUS_VALUE,) * 2, None),
        DevicePropDesc(LeicaProperty.STATUS_D69D, DataType.INT32, 0, *(_STATUS_VALUE,) * 2, None),
    ]


@dataclass(slots=True, eq=False)
class _LeSession:
    """Per-session Leica state (kept in ``ServerSession.state``)."""

    le_open: bool = False
    #: the watchdog's deadline (loop time); None while disarmed
    deadline: float | None = None
    watchdog: asyncio.Task[None] | None = None
    next_frame: float = 0.0
    frames: int = 0


class LeicaCamera(GenericCamera):
    """A Leica FOTOS-era body (vendor-leica.md §7 checklist)."""

    vendor = Vendor.LEICA
    manufacturer = "Leica Camera AG"
    device_version = "3.0.0"
    guid = bytes(16)
    response_param_count = 5
    event_param_count = 3
    event_transaction_id = UNSOLICITED_TID

    def __init__(
        self,
        storage: Path | str,
        *,
        model: str = "LEICA Q3",
        serial_number: str = "PTPIP0000001",
        heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT,
        close_session_tid_zero: bool = True,
        liveview_fps: float = 10.0,
        read_only: bool = False,
    ) -> None:
        super().__init__(storage, model=model, serial_number=serial_number, read_only=read_only)
        self.props = PropertyStore(leica_properties(model))
        self.heartbeat_timeout = heartbeat_timeout or None
        self.close_session_tid_zero = close_session_tid_zero
        self.liveview_fps = liveview_fps
        #: LEKeepSessionActive requests served, and sessions the watchdog closed
        self.heartbeats = 0
        self.sessions_timed_out = 0
        self.server: VirtualCamera | None = None
        self._pictures: asyncio.Future[list[bytes]] | None = None
        self._watchdogs: set[asyncio.Task[None]] = set()

    # -- hooks -------------------------------------------------------------------------------

    def init_ack(self, connection_number: int) -> InitCommandAck:
        # seed 000: 34 bytes, zero GUID, empty name, version 0.0
        return InitCommandAck(connection_number, bytes(16), "", protocol_version=0)

    async def started(self, camera: VirtualCamera) -> None:
        self.server = camera

    async def stopped(self, camera: VirtualCamera) -> None:
        for task in list(self._watchdogs):
            task.cancel()
        for task in list(self._watchdogs):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def session_closed(self, session: ServerSession) -> None:
        self._disarm(self._le(session))

    async def handle(self, session: ServerSession, request: RequestReceived, data: _Data) -> Reply:
        if request.code in _LE_OPERATIONS and not self._le(session).le_open:
            return Reply(ResponseCode.OPERATION_NOT_SUPPORTED)  # not listed yet (§7)
        return await super().handle(session, request, data)

    def _le(self, session: ServerSession) -> _LeSession:
        state = session.state.get("leica")
        if not isinstance(state, _LeSession):
            state = session.state["leica"] = _LeSession()
        return state

    def device_info(self, le_open: bool = True) -> DeviceInfo:
        ops = self.operations_supported()
        if not le_open:
            ops = tuple(op for op in ops if op not in _LE_OPERATIONS)
        return DeviceInfo(
            standard_version=100,
            # libgphoto2 (library.c) recognises Leica bodies that say Microsoft/MTP
            vendor_extension_id=VendorExtensionID.MICROSOFT,
            vendor_extension_version=100,
            vendor_extension_desc="microsoft.com: 1.0",
            functional_mode=0,
            operations_supported=ops,
            events_supported=tuple(int(e) for e in self.events_supported),
            device_properties_supported=self.props.codes(),
            capture_formats=(ObjectFormatCode.EXIF_JPEG, ObjectFormatCode.DNG),
            image_formats=(
                ObjectFormatCode.ASSOCIATION,
                ObjectFormatCode.EXIF_JPEG,
                ObjectFormatCode.DNG,
                ObjectFormatCode.UNDEFINED,
            ),
            manufacturer=self.manufacturer,
            model=self.model,
            device_version=self.device_version,
            serial_number=self.serial_number,
        )

    def change_property(self, code: int, value: Value) -> bool:
        """The user turns a dial: the value changes and the client gets DevicePropChanged.

        Call it in the camera's event loop; returns whether the value changed.
        """
        changed = self.props.update(code, value)
        session = self.server.session if self.server is not None else None
        if changed and session is not None:
            self._prop_changed(session, code)
        return changed

    # -- session -----------------------------------------------------------------------------

    @operation(OperationCode.GET_DEVICE_INFO, session=False)
    async def _get_device_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.device_info(self._le(s).le_open).encode())

    @operation(OperationCode.CLOSE_SESSION)
    async def _close_session(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        state = self._le(s)
        state.le_open = False
        self._disarm(state)
        s.session_id = None
        # §7: real bodies answer CloseSession with TID 0 (libgphoto2 ptp.c)
        return Reply(transaction_id=0 if self.close_session_tid_zero else None)

    @operation(LeOp.OPEN_LE_SESSION)
    async def _open_le_session(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # Any parameter: FOTOS sends 0xFF55, libgphoto2 0 (§5).
        state = self._le(s)
        state.le_open = True
        self._arm(s, state)
        return Reply()

    @operation(LeOp.CLOSE_LE_SESSION)
    async def _close_le_session(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        state = self._le(s)
        state.le_open = False
        self._disarm(state)
        return Reply()

    @operation(LeOp.LE_KEEP_SESSION_ACTIVE)
    async def _keep_session_active(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        self.heartbeats += 1
        self._arm(s, self._le(s))
        return Reply()

    # -- the heartbeat watchdog --------------------------------------------------------------

    def _arm(self, session: ServerSession, state: _LeSession) -> None:
        """(Re)start the countdown; the first call starts the watchdog task."""
        if self.heartbeat_timeout is None:
            return
        state.deadline = asyncio.get_running_loop().time() + self.heartbeat_timeout
        if state.watchdog is None or state.watchdog.done():
            task = asyncio.create_task(self._watch(session, state, self.heartbeat_timeout))
            state.watchdog = task
            self._watchdogs.add(task)
            task.add_done_callback(self._watchdogs.discard)

    def _disarm(self, state: _LeSession) -> None:
        state.deadline = None
        if state.watchdog is not None:
            state.watchdog.cancel()
            state.watchdog = None

    async def _watch(self, session: ServerSession, state: _LeSession, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        tick = min(0.25, timeout / 8)
        last = loop.time()
        while state.deadline is not None:
            await asyncio.sleep(tick)
            now = loop.time()
            if session.current_tid is not None:
                state.deadline += now - last  # the clock stops while a request is served
            last = now
            if now < state.deadline:
                continue
            log.warning("no LEKeepSessionActive for %g s: closing the session", timeout)
            self.sessions_timed_out += 1
            state.le_open = False
            state.deadline = None
            state.watchdog = None
            session.session_id = None
            session.command_conn.close()
            return

    # -- Leica operations of unknown layout --------------------------------------------------

    @operation(LeOp.GET_LENS_PARAMETER)
    async def _get_lens_parameter(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # Invented layout (seed 000 only names it): name, focal length, f-number range.
        name, focal, widest, narrowest = _LENS
        w = Writer()
        w.push_str(name)
        for value in (focal, widest, narrowest):
            w.push_u32(value)
        return Reply.with_data(w.getvalue())

    @operation(LeOp.LE_GET_LOOK_PROP_LIST)
    async def _get_look_prop_list(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # Invented content in the MTP ObjectPropList form the Q3 note describes for 0x9035:
        # u32 count, then (u32 slot, u16 property, u16 datatype, value) per element.
        elements: list[tuple[int, int, int, Value]] = []
        for slot, name in enumerate(_LOOKS, start=1):
            elements += [
                (slot, LeicaProperty.LOOK_ID, DataType.UINT16, slot),
                (slot, LeicaProperty.LOOK_NAME, DataType.STR, name),
                (slot, LeicaProperty.LOOK_TYPE, DataType.UINT16, 0 if slot <= 4 else 1),
                (slot, LeicaProperty.LOOK_BASE_STYLE, DataType.UINT16, slot),
            ]
        w = Writer()
        w.push_u32(len(elements))
        for slot, prop, datatype, value in elements:
            w.push_u32(slot)
            w.push_u16(prop)
            w.push_u16(datatype)
            w.push_value(datatype, value)
        return Reply.with_data(w.getvalue())

    @operation(LeOp.LE_RELEASE_STAGES)
    async def _release_stages(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # libgphoto2's reading: (0, 0) releases; 1/2 press and let go of AF, 0x0C/0x0D
        # start and end a burst, 0x0E keeps the camera awake. Here only 0 takes a picture.
        if _param(r, 0) != 0:
            return Reply()
        handle = self.store.add_capture()
        self.capture_count += 1
        return Reply(
            after=[
                lambda: s.send_event(EventCode.OBJECT_ADDED, UNSOLICITED_TID, (handle,)),
                lambda: s.send_event(EventCode.CAPTURE_COMPLETE, UNSOLICITED_TID),
            ]
        )

    # -- live view ---------------------------------------------------------------------------

    @operation(OperationCode.GET_STREAM_INFO)
    async def _get_stream_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(_STREAM_INFO.encode())

    @operation(LeOp.LE_GET_STREAM_DATA)
    async def _get_stream_data(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        enabled = self.props.get(DevicePropertyCode.ENABLED_STREAMS)
        if not isinstance(enabled, int) or not enabled & ENABLE_VIDEO_STREAM:
            return Reply(ResponseCode.ACCESS_DENIED)  # invented: the stream is off
        state = self._le(s)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if state.next_frame > now:
            await asyncio.sleep(state.next_frame - now)
        state.next_frame = max(state.next_frame, now) + 1 / self.liveview_fps
        pictures = await self._liveview_pictures()
        jpeg = pictures[state.frames % len(pictures)]
        state.frames += 1
        return Reply.with_data(encode_stream_frame(jpeg, _FRAME_TLVS))

    def _liveview_pictures(self) -> asyncio.Future[list[bytes]]:
        if self._pictures is None:
            loop = asyncio.get_running_loop()
            self._pictures = loop.run_in_executor(None, _make_pictures, self.model)
        return self._pictures


def _make_pictures(model: str) -> list[bytes]:
    return [
        generate_jpeg(n, model=model, size=(640, 426), label=f"{model} live view {n}")
        for n in range(1, _LIVEVIEW_PICTURES + 1)
    ]


#: For the camera factory (ptpip.camera.factory) and `ptpip simulate`.
PERSONALITY = LeicaCamera
DEFAULT_MODEL = "LEICA Q3"
DEFAULT_PORT = 15740


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``ptpip simulate -t leica`` options."""
    parser.add_argument_group("leica").add_argument(
        "--heartbeat-timeout",
        type=float,
        metavar="S",
        help="close the session after S s without LEKeepSessionActive (30; 0 = never)",
    )


def options(args: argparse.Namespace) -> dict[str, Any]:
    if args.heartbeat_timeout is None:
        return {}
    if not args.heartbeat_timeout >= 0:
        raise ValueError("--heartbeat-timeout must not be negative")
    return {"heartbeat_timeout": args.heartbeat_timeout or None}
