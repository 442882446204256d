"""A Nikon body over Wi-Fi (a Z 6II by default, or a D-series one such as a D750).

What it reproduces (vendor-others.md §1; section numbers below are that document's; the
libgphoto2 facts are from ``library.c`` and ``ptp.c``):

- Standard CIPA framing on 15740, the standard Init. DeviceInfo says Manufacturer "Nikon
  Corporation" and VendorExtensionID 6, as Z bodies do over PTP/IP (§1.1; libgphoto2 takes
  6 + "Nikon" for a Nikon). The standard properties are in DeviceInfo, the Nikon ones
  (0xDxxx) come from GetVendorPropCodes 0x90CA, which libgphoto2 merges into DeviceInfo's.
- **One End Data per data phase** (§1.1, airnef, the Z 8 log of libgphoto2 #1135): every
  data-in phase is Start Data and one End Data carrying all the data, no Data packet.
- Events (§1.3) go on the event connection **and** into a per-session queue that GetEvent
  0x90C7 (one parameter per event) and GetEventEx 0x941C (all of them) empty.
- Capture: InitiateCaptureRecInSdram 0x90C0 and AfCaptureSDRAM 0x90CB write where the
  recording media 0xD10B says (0 the card, 1 SDRAM); InitiateCaptureRecInMedia 0x9207 where
  its second parameter says (1 SDRAM, 0 the card; without it, 0xD10B); the standard
  InitiateCapture always to the card. After a capture (and after AfDrive 0x90C1 and
  StartLiveView) the body is busy for a while: DeviceReady 0x90C8 answers DeviceBusy for
  ``busy_calls`` calls and ``busy_time`` seconds, a new capture DeviceBusy; then the events
  come: ObjectAddedInSdram 0xC101 (handle 0xFFFF0001) and CaptureCompleteRecInSdram 0xC102
  for SDRAM, ObjectAdded 0x4002 and CaptureComplete 0x400D for the card (with the
  capture's TransactionID on the event connection; property changes carry 0xFFFFFFFF).
- The SDRAM image is object 0xFFFF0001 (in no GetObjectHandles list) for GetObjectInfo
  (StorageID 0, parent 0, as a D70's), GetObject, GetPartialObject(Ex) and GetObjectSize
  until it has been read to its end; then it is gone (DeleteObject and DelImageSDRAM 0x90C3
  answer InvalidObjectHandle, what libgphoto2 saw on a D90). Pictures taken meanwhile wait
  behind it under the same handle. While one waits, LiveViewProhibitCondition 0xD1A4 has bit
  12 ("pending unretrieved SDRAM image") and StartLiveView answers InvalidStatus 0xA004.
- Live view: StartLiveView 0x9201, then GetLiveViewImg 0x9203 answers DeviceBusy for its
  first ``liveview_busy_calls`` calls, then frames of the model family's header
  (:func:`~ptpip.vendors.nikon.codec.family_for_model`: 384 bytes on a Z or D750, 128 on a
  D90, 64 on a D3X/D700) followed by a JPEG of the LiveViewImageSize 0xD1AC, at
  ``liveview_fps``; a model no client library names gets the 384-byte header of the D4
  family. NotLiveView 0xA00B when live view is off. LiveViewStatus 0xD1A2 follows.
  EndLiveView 0x9202 is answered OK even when live view is off: libgphoto2 sends it at
  every exit and skips CloseSession when it is answered with anything else (``camera_exit``).
  ChangeCameraMode 0x90C2, which libgphoto2 sends before capture and live view, is an OK.
- GetPartialObjectEx 0x9431 (64-bit offset and size; response: bytes sent, low and high) and
  GetObjectSize 0x9421 (u64), GetEventEx and GetDevicePropEx 0x9504 (answered with the
  DevicePropDesc, as ptpip's client reads it) on Z / D850-generation bodies; an older
  D-series body (a D750) lists GetEvent only, and its compression values are the older table.
- Properties (:mod:`ptpip.vendors.nikon.camera_props`) set with SetDevicePropValue, validated
  against their lists, announced with DevicePropChanged; the exposure time 0x500D and the
  Nikon shutter speed 0xD100 are one setting (both change, both are announced).
- ``pairing`` (§1.2): an initiator GUID the body holds no profile for gets InitFail reason 1
  (``0c 00 00 00 05 00 00 00 01 00 00 00``); the camera's prompt (``on_pairing_request``)
  registers it when confirmed (:meth:`NikonCamera.confirm_pairing`, or ``pairing_delay`` s
  later), and its next connection gets in.
- ``transfer_list`` (§1.5, the Z 6II of libgphoto2 #976): GetObjectInfo, GetObject and
  GetPartialObject answer AccessDenied 0x200F for pictures not marked for transfer
  (:meth:`NikonCamera.mark_for_transfer`; pictures taken while connected are marked);
  GetPartialObjectEx, GetObjectSize and GetThumb still work, and folders stay readable.
- ``idle_drop`` (§1.1, the D5300 of gphoto2 #66): a client silent for that long (30 s) is
  dropped, its connections closed.

Invented where nothing documents it (each is marked where it is built): the GUID of the ack,
the DeviceVersion, the property lists (camera_props), the busy times, the live-view header
fields, and which operations an older D-series body lacks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptpip.camera._imaging import generate_jpeg
from ptpip.camera.generic import GenericCamera
from ptpip.camera.personality import BytesSource, DataInStyle, DataSource, Reply, operation
from ptpip.camera.props import PropertyStore
from ptpip.errors import RemoteProtocolError
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandRequest
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import (
    UNSOLICITED_TID,
    EventCode,
    InitFailReason,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
    Vendor,
    VendorExtensionID,
)
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo
from ptpip.ptp.values import Value
from ptpip.vendors.nikon import camera_props as cp
from ptpip.vendors.nikon.codec import (
    NOT_LIVE_VIEW,
    SDRAM_HANDLE,
    LiveViewFamily,
    LiveViewFields,
    NikonEventRecord,
    decode_partial_ex_params,
    encode_events,
    encode_events_ex,
    encode_liveview,
    encode_object_size,
    encode_vendor_prop_codes,
    family_for_model,
    partial_ex_response,
)
from ptpip.vendors.nikon.codes import NikonEvent, NikonOperation, NikonResponse

if TYPE_CHECKING:
    from ptpip.camera.server import ServerSession, VirtualCamera

__all__ = ["DEFAULT_IDLE_DROP", "NikonCamera"]

log = logging.getLogger("ptpip.camera")

_ALL = 0xFFFF_FFFF
_U64_ALL = 0xFFFF_FFFF_FFFF_FFFF
_Data = bytes | None
Op = NikonOperation

#: Seconds without traffic after which a D5300 drops its client (§1.1, gphoto2 #66).
DEFAULT_IDLE_DROP = 30.0
#: Operations only the Z / D850-generation bodies list (invented split: the older D-series
#: bodies of libgphoto2's tables poll GetEvent and read with GetPartialObject).
_MODERN_ONLY = frozenset(
    {Op.GET_EVENT_EX, Op.GET_PARTIAL_OBJECT_EX, Op.GET_OBJECT_SIZE, Op.GET_DEVICE_PROP_EX}
)
#: Events one session's queue holds before the oldest go (a client that never polls).
_MAX_QUEUED_EVENTS = 1024
#: Pictures the SDRAM holds before a capture to it answers StoreFull.
_MAX_SDRAM_IMAGES = 8
#: The SDRAM picture's pixels (smaller than the sensor's: it is generated per shot).
_SDRAM_SIZE = (1200, 800)
#: Distinct pre-made live-view pictures, cycled.
_LIVEVIEW_PICTURES = 8
#: LiveViewProhibitCondition bit: a picture waits in SDRAM (libgphoto2 library.c).
_PROHIBIT_SDRAM = 1 << 12
#: The events DeviceInfo lists.
_EVENTS: tuple[int, ...] = (
    EventCode.OBJECT_ADDED,
    EventCode.OBJECT_REMOVED,
    EventCode.DEVICE_PROP_CHANGED,
    EventCode.CAPTURE_COMPLETE,
    NikonEvent.OBJECT_ADDED_IN_SDRAM,
    NikonEvent.CAPTURE_COMPLETE_REC_IN_SDRAM,
)
#: AF parameters of the capture operations: no AF before the release, AF first (ptp.h).
_NO_AF, _AF = 0xFFFF_FFFF, 0xFFFF_FFFE


def _param(request: RequestReceived, index: int, default: int = 0) -> int:
    return request.params[index] if len(request.params) > index else default


@dataclass(slots=True)
class _Link:
    """One client session's event queue (what GetEvent/GetEventEx return)."""

    queue: deque[NikonEventRecord] = field(default_factory=lambda: deque(maxlen=_MAX_QUEUED_EVENTS))


@dataclass(slots=True)
class _SdramImage:
    """A picture in the body's SDRAM, waiting for the host."""

    name: str
    data: bytes
    taken: datetime
    size: tuple[int, int]


class NikonCamera(GenericCamera):
    """A Nikon Z or D-series body over Wi-Fi (a Z 6II by default)."""

    vendor = Vendor.NIKON
    manufacturer = "Nikon Corporation"
    device_version = "V1.10"  # invented
    data_in_style = DataInStyle.SINGLE_END_DATA

    def __init__(
        self,
        storage: Path | str,
        *,
        model: str = "Z 6_2",
        serial_number: str = "3012345",
        mac: str = "3C:BE:E1:00:00:01",
        pairing: bool = False,
        pairing_delay: float | None = None,
        paired: tuple[bytes, ...] = (),
        transfer_list: bool = False,
        idle_drop: float | None = DEFAULT_IDLE_DROP,
        busy_calls: int = 2,
        busy_time: float = 0.2,
        liveview_busy_calls: int = 1,
        liveview_fps: float = 15.0,
        read_only: bool = False,
    ) -> None:
        super().__init__(storage, model=model, serial_number=serial_number, read_only=read_only)
        if busy_calls < 0 or liveview_busy_calls < 0 or not busy_time >= 0:
            raise ValueError("busy calls and times must not be negative")
        if not (liveview_fps > 0 and math.isfinite(liveview_fps)):
            raise ValueError("liveview_fps must be a positive number")
        if idle_drop is not None and not idle_drop >= 0:
            raise ValueError("idle_drop must not be negative")
        mac_bytes = bytes.fromhex(mac.replace(":", "").replace("-", ""))
        if len(mac_bytes) != 6:
            raise ValueError(f"a MAC address has 6 bytes: {mac!r}")
        # Invented, in the shape of a Z 9's mDNS guid (§1.1): Nikon's USB vendor 04b0, a
        # product ID, 0000 1001 8001, and the Wi-Fi MAC.
        self.guid = bytes.fromhex("04b0 0450 0000 1001 8001") + mac_bytes
        #: Z / D850 generation: GetEventEx, the 64-bit operations, the newer tables
        self.modern = cp.is_modern(model)
        #: the live-view header layout of this model (unknown D-series: the 384-byte one)
        self.family = family_for_model(model) or LiveViewFamily.D4
        descs = cp.nikon_properties(model)
        self.props = PropertyStore(descs)
        self.vendor_prop_codes = cp.vendor_codes(descs)
        self.pairing = pairing
        self.pairing_delay = pairing_delay
        #: initiator GUIDs the body holds a profile for
        self.paired: set[bytes] = set(paired)
        #: the (GUID, name) the camera's prompt asks about
        self.awaiting: tuple[bytes, str] | None = None
        #: called with the client's name when the camera would show its prompt
        self.on_pairing_request: Callable[[str], None] | None = None
        self.transfer_list = transfer_list
        #: handles the camera marked for transfer (with ``transfer_list``)
        self.marked: set[int] = set()
        self.idle_drop = idle_drop or None
        self.busy_calls = busy_calls
        self.busy_time = busy_time
        self.liveview_busy_calls = liveview_busy_calls
        self.liveview_fps = liveview_fps
        #: DeviceReady answers: how many were DeviceBusy
        self.busy_answers = 0
        self.frames_sent = 0
        self.server: VirtualCamera | None = None
        self._busy_until = 0.0
        self._busy_left = 0
        self._sdram: deque[_SdramImage] = deque()
        self._liveview = False
        self._lv_waits = 0
        self._next_frame = 0.0
        self._pictures: dict[tuple[int, int], asyncio.Future[list[bytes]]] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    # -- identity and pairing ----------------------------------------------------------------

    def device_info(self) -> DeviceInfo:
        standard = tuple(c for c in self.props.codes() if c < 0xD000)
        return DeviceInfo(
            standard_version=100,
            # Z bodies say MTP over PTP/IP; libgphoto2 knows them by the Manufacturer (§1.1)
            vendor_extension_id=VendorExtensionID.MICROSOFT,
            vendor_extension_version=100,
            vendor_extension_desc="microsoft.com: 1.0",
            functional_mode=0,
            operations_supported=self.operations_supported(),
            events_supported=tuple(int(e) for e in _EVENTS),
            device_properties_supported=standard,
            capture_formats=(ObjectFormatCode.EXIF_JPEG,),
            image_formats=(
                ObjectFormatCode.ASSOCIATION,
                ObjectFormatCode.EXIF_JPEG,
                ObjectFormatCode.TIFF,
                ObjectFormatCode.UNDEFINED,
            ),
            manufacturer=self.manufacturer,
            model=self.model,
            device_version=self.device_version,
            serial_number=self.serial_number,
        )

    def operations_supported(self) -> tuple[int, ...]:
        ops = super().operations_supported()
        return ops if self.modern else tuple(op for op in ops if op not in _MODERN_ONLY)

    def check_initiator(self, request: InitCommandRequest | FujiInitCommandRequest) -> int | None:
        if isinstance(request, FujiInitCommandRequest):
            return InitFailReason.UNSPECIFIED
        if not self.pairing or request.guid in self.paired:
            return None
        # §1.2: no profile for this GUID. The camera asks its user (once per client).
        if self.awaiting is None or self.awaiting[0] != request.guid:
            self.awaiting = (request.guid, request.friendly_name)
            log.info("pairing: %r asks to connect; waiting for confirmation", request.friendly_name)
            if self.on_pairing_request is not None:
                self.on_pairing_request(request.friendly_name)
            if self.pairing_delay is not None:
                loop = asyncio.get_running_loop()
                self._later(loop.call_later(self.pairing_delay, self.confirm_pairing))
        return InitFailReason.REJECTED_INITIATOR

    def confirm_pairing(self, name: str | None = None) -> None:
        """The user registers the client the camera asks about: its next connection gets in
        (``name`` is informational)."""
        del name
        if self.awaiting is not None:
            self.paired.add(self.awaiting[0])
            self.awaiting = None

    # -- hooks -------------------------------------------------------------------------------

    async def started(self, camera: VirtualCamera) -> None:
        self.server = camera

    async def stopped(self, camera: VirtualCamera) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def session_closed(self, session: ServerSession) -> None:
        # The host is gone: live view stops and the unread SDRAM pictures are lost.
        self._liveview = False
        self.props.update(cp.LIVEVIEW_STATUS, 0)
        self._sdram.clear()
        self.props.update(cp.LIVEVIEW_PROHIBIT, 0)

    async def handle(self, session: ServerSession, request: RequestReceived, data: _Data) -> Reply:
        if request.code in _MODERN_ONLY and not self.modern:
            return Reply(ResponseCode.OPERATION_NOT_SUPPORTED)
        return await super().handle(session, request, data)

    def _later(self, timer: asyncio.TimerHandle) -> None:
        """Keep a timer to cancel when the camera stops (the ones that fired are forgotten)."""
        now = asyncio.get_running_loop().time()
        self._timers = {t for t in self._timers if t.when() >= now and not t.cancelled()}
        self._timers.add(timer)

    # -- events ------------------------------------------------------------------------------

    def _emit(
        self, s: ServerSession, code: int, params: tuple[int, ...] = (), tid: int = UNSOLICITED_TID
    ) -> None:
        """An event: queued for GetEvent/GetEventEx and sent on the event connection."""
        if s.ended:
            return
        _link(s).queue.append(NikonEventRecord(code, params))
        s.send_event(code, tid, params)

    def _prop_changed(self, s: ServerSession, code: int) -> None:
        self._emit(s, EventCode.DEVICE_PROP_CHANGED, (code,))

    def _announce_removed(self, s: ServerSession, handles: tuple[int, ...]) -> None:
        for handle in handles[1:]:
            self._emit(s, EventCode.OBJECT_REMOVED, (handle,))

    def _session(self) -> ServerSession | None:
        return self.server.session if self.server is not None else None

    def change_property(self, code: int, value: Value) -> bool:
        """The user turns a dial: the value changes and the client hears of it. Call it in
        the camera's event loop; returns whether the value changed."""
        changed = [code] if self.props.update(code, value) else []
        changed += self._follow(code)
        session = self._session()
        if session is not None:
            for each in changed:
                self._prop_changed(session, each)
        return bool(changed)

    def _follow(self, code: int) -> list[int]:
        """The other code of the same setting takes its value: [that code] if it changed."""
        linked = cp.linked_value(code, self.props.get(code))
        return [linked[0]] if linked is not None and self.props.update(*linked) else []

    @operation(Op.GET_EVENT)
    async def _get_event(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        link = _link(s)
        records = [(e.code, e.params[:1]) for e in link.queue]  # one parameter each
        link.queue.clear()
        return Reply.with_data(encode_events(records))

    @operation(Op.GET_EVENT_EX)
    async def _get_event_ex(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        link = _link(s)
        records = list(link.queue)
        link.queue.clear()
        return Reply.with_data(encode_events_ex(records))

    # -- the busy cycle ----------------------------------------------------------------------

    def _start_busy(self, calls: int, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        self._busy_until = max(self._busy_until, now + seconds)
        self._busy_left = max(self._busy_left, calls)

    def _busy(self) -> bool:
        return asyncio.get_running_loop().time() < self._busy_until

    @operation(Op.DEVICE_READY)
    async def _device_ready(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if self._busy() or self._busy_left > 0:
            self._busy_left = max(0, self._busy_left - 1)
            self.busy_answers += 1
            return Reply(ResponseCode.DEVICE_BUSY)
        return Reply()

    @operation(Op.AF_DRIVE)
    async def _af_drive(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if self._busy():
            return Reply(ResponseCode.DEVICE_BUSY)
        self._start_busy(min(1, self.busy_calls), self.busy_time / 2)  # focusing
        return Reply()

    @operation(Op.CHANGE_CAMERA_MODE)
    async def _change_camera_mode(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply()  # libgphoto2 sends 0x90C2(1) before capture and live view

    # -- capture -----------------------------------------------------------------------------

    @operation(Op.INITIATE_CAPTURE_REC_IN_SDRAM)
    async def _capture_sdram(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return await self._capture(s, r, self._media_is_sdram())

    @operation(Op.AF_CAPTURE_SDRAM)
    async def _af_capture_sdram(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return await self._capture(s, r, self._media_is_sdram(), af=True)

    @operation(Op.INITIATE_CAPTURE_REC_IN_MEDIA)
    async def _capture_in_media(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # P1: 0xFFFFFFFF no AF, 0xFFFFFFFE AF first (libgphoto2 also sends 0/1); P2: 1 SDRAM,
        # 0 the card; some bodies take P1 only (libgphoto2's cmd9207_1arg): the media says.
        if len(r.params) < 2:
            to_sdram = self._media_is_sdram()
        elif r.params[1] in (cp.MEDIA_CARD, cp.MEDIA_SDRAM):
            to_sdram = r.params[1] == cp.MEDIA_SDRAM
        else:
            return Reply(ResponseCode.INVALID_PARAMETER)
        return await self._capture(s, r, to_sdram, af=_param(r, 0, _NO_AF) in (1, _AF))

    @operation(OperationCode.INITIATE_CAPTURE)
    async def _initiate_capture(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if _param(r, 1) not in (0, ObjectFormatCode.EXIF_JPEG):
            return Reply(ResponseCode.INVALID_OBJECT_FORMAT_CODE)
        return await self._capture(s, r, to_sdram=False)

    def _media_is_sdram(self) -> bool:
        return self.props.get(cp.RECORDING_MEDIA) == cp.MEDIA_SDRAM

    async def _capture(
        self, s: ServerSession, r: RequestReceived, to_sdram: bool, *, af: bool = False
    ) -> Reply:
        if self._busy():
            return Reply(ResponseCode.DEVICE_BUSY)  # still busy with the last shot
        if to_sdram and len(self._sdram) >= _MAX_SDRAM_IMAGES:
            return Reply(ResponseCode.STORE_FULL)
        self.capture_count += 1
        image: _SdramImage | None = None
        events: list[tuple[int, tuple[int, ...]]]
        if to_sdram:
            now = datetime.now().replace(microsecond=0)
            name = f"DSC_{self.capture_count % 10000:04d}.JPG"
            jpeg = await asyncio.get_running_loop().run_in_executor(
                None,
                partial(
                    generate_jpeg,
                    self.capture_count,
                    model=self.model,
                    when=now,
                    size=_SDRAM_SIZE,
                    label=f"{name} (SDRAM)",
                ),
            )
            image = _SdramImage(name, jpeg, now, _SDRAM_SIZE)
            events = [
                (NikonEvent.OBJECT_ADDED_IN_SDRAM, (SDRAM_HANDLE,)),
                (NikonEvent.CAPTURE_COMPLETE_REC_IN_SDRAM, ()),
            ]
        else:
            handle = self.store.add_capture()
            if self.transfer_list:
                self.marked.add(handle)  # taken while connected: sent to the computer
            events = [(EventCode.OBJECT_ADDED, (handle,)), (EventCode.CAPTURE_COMPLETE, ())]
        busy = self.busy_time * (2 if af else 1)
        self._start_busy(self.busy_calls, busy)
        tid = r.transaction_id

        def done() -> None:
            # The body is done with the shot: the SDRAM picture is there, the events come.
            if s.ended:
                return
            if image is not None:
                self._sdram.append(image)
            for code, params in events:
                self._emit(s, code, params, tid)
            self._sdram_changed(s)

        loop = asyncio.get_running_loop()
        return Reply(after=[lambda: self._later(loop.call_later(busy, done))])

    def _sdram_changed(self, s: ServerSession | None) -> None:
        """LiveViewProhibitCondition's "pending unretrieved SDRAM image" bit follows."""
        value = _PROHIBIT_SDRAM if self._sdram else 0
        if self.props.update(cp.LIVEVIEW_PROHIBIT, value) and s is not None:
            self._prop_changed(s, cp.LIVEVIEW_PROHIBIT)

    @property
    def held_in_sdram(self) -> int:
        """Pictures waiting in SDRAM for the host."""
        return len(self._sdram)

    def _sdram_read(self, s: ServerSession, end: int) -> Callable[[], None]:
        """Once the host has read the SDRAM picture up to ``end``: gone if that is all."""

        def done() -> None:
            if self._sdram and end >= len(self._sdram[0].data):
                self._sdram.popleft()
                self._sdram_changed(s)

        return done

    # -- objects: the SDRAM picture, the transfer list ---------------------------------------

    def _gated(self, handle: int) -> bool:
        """A picture the camera offers no transfer of (``transfer_list``): AccessDenied."""
        if not self.transfer_list or handle in self.marked or handle not in self.store:
            return False
        return not self.store.object_info(handle).is_folder

    def mark_for_transfer(self, *handles: int) -> None:
        """The user selects pictures for transfer on the camera."""
        self.marked.update(handles)

    def _sdram_info(self, image: _SdramImage) -> ObjectInfo:
        width, height = image.size
        return ObjectInfo(
            storage_id=0,  # as on a D70 (libgphoto2 library.c): SDRAM is no storage
            object_format=ObjectFormatCode.EXIF_JPEG,
            compressed_size=len(image.data),
            image_width=width,
            image_height=height,
            image_bit_depth=24,
            parent=0,
            filename=image.name,
            capture_date=image.taken,
            modification_date=image.taken,
        )

    def _sdram_image(self, handle: int) -> _SdramImage | None:
        return self._sdram[0] if handle == SDRAM_HANDLE and self._sdram else None

    @operation(OperationCode.GET_OBJECT_INFO)
    async def _get_object_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle = _param(r, 0)
        image = self._sdram_image(handle)
        if image is not None:
            return Reply.with_data(self._sdram_info(image).encode())
        if self._gated(handle):
            return Reply(ResponseCode.ACCESS_DENIED)
        return await super()._get_object_info(s, r, d)

    @operation(OperationCode.GET_OBJECT)
    async def _get_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle = _param(r, 0)
        image = self._sdram_image(handle)
        if image is not None:
            reply = Reply.with_data(image.data)
            reply.after.append(self._sdram_read(s, len(image.data)))
            return reply
        if self._gated(handle):
            return Reply(ResponseCode.ACCESS_DENIED)
        return await super()._get_object(s, r, d)

    @operation(OperationCode.GET_PARTIAL_OBJECT)
    async def _get_partial_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle, offset, limit = _param(r, 0), _param(r, 1), _param(r, 2, _ALL)
        if self._sdram_image(handle) is None and self._gated(handle):
            return Reply(ResponseCode.ACCESS_DENIED)
        reply = self._partial(s, handle, offset, limit)
        if reply.data is not None:
            reply.params = (reply.data.size,)  # ISO 15740: P1 is the number of bytes sent
        return reply

    def _partial(self, s: ServerSession, handle: int, offset: int, limit: int) -> Reply:
        """Bytes ``offset``… (at most ``limit``) of an object or of the SDRAM picture."""
        image = self._sdram_image(handle)
        source: DataSource
        if image is not None:
            if offset > len(image.data):
                return Reply(ResponseCode.INVALID_PARAMETER)
            source = BytesSource(image.data[offset : offset + limit])
            reply = Reply(ResponseCode.OK, (), source)
            reply.after.append(self._sdram_read(s, offset + source.size))
            return reply
        return Reply(ResponseCode.OK, (), self.store.source(handle, offset, limit))

    @operation(Op.GET_PARTIAL_OBJECT_EX)
    async def _get_partial_object_ex(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        try:
            handle, offset, size = decode_partial_ex_params(r.params)
        except RemoteProtocolError:
            return Reply(ResponseCode.INVALID_PARAMETER)
        # Not gated: the Z 6II serves unmarked pictures this way (libgphoto2 #976).
        reply = self._partial(s, handle, offset, size)
        if reply.data is not None:
            reply.params = partial_ex_response(reply.data.size)  # sent: low, high
        return reply

    @operation(Op.GET_OBJECT_SIZE)
    async def _get_object_size(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle = _param(r, 0)
        image = self._sdram_image(handle)
        size = len(image.data) if image is not None else self.store.size(handle)
        return Reply.with_data(encode_object_size(size))

    @operation(OperationCode.GET_THUMB)
    async def _get_thumb(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if _param(r, 0) == SDRAM_HANDLE:
            return Reply(ResponseCode.NO_THUMBNAIL_PRESENT)
        return await super()._get_thumb(s, r, d)

    @operation(OperationCode.DELETE_OBJECT)
    async def _delete_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle = _param(r, 0)
        if handle == SDRAM_HANDLE:
            return self._drop_sdram(s)
        reply = await super()._delete_object(s, r, d)
        self.marked.discard(handle)
        return reply

    @operation(Op.DEL_IMAGE_SDRAM)
    async def _del_image_sdram(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if _param(r, 0, SDRAM_HANDLE) != SDRAM_HANDLE:
            return Reply(ResponseCode.INVALID_OBJECT_HANDLE)
        return self._drop_sdram(s)

    def _drop_sdram(self, s: ServerSession) -> Reply:
        if not self._sdram:
            return Reply(ResponseCode.INVALID_OBJECT_HANDLE)  # read already: it is gone
        self._sdram.popleft()
        self._sdram_changed(s)
        return Reply()

    # -- properties --------------------------------------------------------------------------

    @operation(Op.GET_VENDOR_PROP_CODES)
    async def _get_vendor_prop_codes(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(encode_vendor_prop_codes(self.vendor_prop_codes))

    @operation(Op.GET_DEVICE_PROP_EX)
    async def _get_device_prop_ex(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # "gets device prop data" (ptp.h, from a Nikon 1 trace): answered with the
        # DevicePropDesc, which is how ptpip's Nikon client reads it.
        return Reply.with_data(self.props.describe(_param(r, 0)).encode())

    @operation(OperationCode.SET_DEVICE_PROP_VALUE, data_out=True)
    async def _set_prop_value(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        code = _param(r, 0)
        changed = [code] if self.props.set_from_bytes(code, d or b"") else []
        changed += self._follow(code)
        return Reply(after=[partial(self._prop_changed, s, c) for c in changed])

    # -- live view ---------------------------------------------------------------------------

    @property
    def liveview_on(self) -> bool:
        return self._liveview

    def _set_liveview(self, s: ServerSession, on: bool) -> None:
        self._liveview = on
        if self.props.update(cp.LIVEVIEW_STATUS, int(on)):
            self._prop_changed(s, cp.LIVEVIEW_STATUS)

    @operation(Op.START_LIVE_VIEW)
    async def _start_liveview(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if self.props.get(cp.LIVEVIEW_PROHIBIT):
            return Reply(NikonResponse.INVALID_STATUS)  # e.g. a picture waits in SDRAM
        if not self._liveview:
            self._lv_waits = 0
            self._start_busy(self.liveview_busy_calls, 0.0)  # the mirror, the sensor
            return Reply(after=[lambda: self._set_liveview(s, True)])
        return Reply()

    @operation(Op.END_LIVE_VIEW)
    async def _end_liveview(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # OK when live view is off too: libgphoto2 sends EndLiveView at every exit and skips
        # CloseSession when it is answered with anything else (camera_exit).
        return Reply(after=[lambda: self._set_liveview(s, False)])

    @operation(Op.GET_LIVE_VIEW_IMG)
    async def _get_liveview_img(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if not self._liveview:
            return Reply(NOT_LIVE_VIEW)
        if self._lv_waits < self.liveview_busy_calls:
            self._lv_waits += 1
            return Reply(ResponseCode.DEVICE_BUSY)  # the first image is not there yet
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next_frame > now:
            await asyncio.sleep(self._next_frame - now)
        self._next_frame = max(self._next_frame, now) + 1 / self.liveview_fps
        size_code = self.props.get(cp.LIVEVIEW_SIZE)
        size = cp.LIVEVIEW_SIZES.get(size_code if isinstance(size_code, int) else 2, (640, 480))
        pictures = await self._liveview_pictures(size)
        jpeg = pictures[self.frames_sent % len(pictures)]
        self.frames_sent += 1
        frame = encode_liveview(jpeg, fields=self._frame_fields(size), family=self.family)
        return Reply.with_data(frame)

    def _frame_fields(self, size: tuple[int, int]) -> LiveViewFields | None:
        """The header's fields (invented values: the image size of 0x5003, a centred focus
        area of an eighth of the frame, a level camera)."""
        image = self.props.get(0x5003)
        width, _, height = str(image).partition("x")
        whole = (int(width), int(height)) if width.isdigit() and height.isdigit() else (0, 0)
        w, h = size
        return LiveViewFields(
            liveview_size=size,
            image_size=whole,
            focus_area=(w // 8, h // 8),
            focus_center=(w // 2, h // 2),
        )

    def _liveview_pictures(self, size: tuple[int, int]) -> asyncio.Future[list[bytes]]:
        made = self._pictures.get(size)
        if made is None:
            loop = asyncio.get_running_loop()
            made = self._pictures[size] = loop.run_in_executor(
                None, _make_pictures, self.model, size
            )
        return made


def _link(session: ServerSession) -> _Link:
    link = session.state.get("nikon")
    if not isinstance(link, _Link):
        link = session.state["nikon"] = _Link()
    return link


def _make_pictures(model: str, size: tuple[int, int]) -> list[bytes]:
    return [
        generate_jpeg(n, model=model, size=size, label=f"{model} live view {n}")
        for n in range(1, _LIVEVIEW_PICTURES + 1)
    ]


#: For the camera factory (ptpip.camera.factory) and `ptpip simulate`.
PERSONALITY = NikonCamera
DEFAULT_MODEL = "Z 6_2"
DEFAULT_PORT = 15740


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``ptpip simulate -t nikon`` options."""
    group = parser.add_argument_group("nikon")
    group.add_argument(
        "--transfer-list",
        action="store_true",
        help="serve only pictures marked for transfer (those taken while connected): "
        "GetObjectInfo/GetObject/GetPartialObject answer AccessDenied for the others, "
        "GetPartialObjectEx still reads them (the Z 6II)",
    )
    group.add_argument(
        "--idle-drop",
        type=float,
        metavar="S",
        help="drop a client silent for S s, as a D5300 does (30; 0 = never)",
    )


def options(args: argparse.Namespace) -> dict[str, Any]:
    own: dict[str, Any] = {}
    if args.transfer_list:
        own["transfer_list"] = True
    if args.idle_drop is not None:
        if not (args.idle_drop >= 0 and math.isfinite(args.idle_drop)):
            raise ValueError("--idle-drop must be a non-negative number of seconds")
        own["idle_drop"] = args.idle_drop or None
    return own
