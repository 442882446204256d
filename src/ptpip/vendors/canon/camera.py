"""A Canon EOS body in remote-control (EOS Utility) mode, as its clients see it.

What it reproduces (vendor-canon.md; section numbers below are that document's):

- CIPA framing on one port (15740 by default), the standard Init. The ack names the body
  by its short model name ("70D", "5D Mark III") with GUID ``00…00 01 00`` + its Wi-Fi MAC,
  byte for byte the shape of seed 002's EOS 70D ack (§4).
- DeviceInfo with VendorExtensionID 0xB, Manufacturer "Canon Inc." and the EOS operations
  (§13.1); it is the same before and after SetRemoteMode.
- Events only through GetEvent 0x9116 (§8): after every SetEventMode(1) the next GetEvent
  is the full dump of :mod:`ptpip.vendors.canon.camera_props` (libgphoto2 needs it in each session,
  §13.2), later ones only what changed; the data always ends with the 8-byte terminator and
  is never missing (no events: exactly the terminator). Nothing is sent on the event
  connection.
- SetDevicePropValueEx 0x9110 validated against the allowed lists, confirmed by a
  PropValueChanged in the next GetEvent; 0x9127 queues a property's value.
- Remote mode: until SetRemoteMode with a non-zero mode, 0x9110, the release (0x9128,
  0x9129) and live view (0x9153) answer DeviceBusy 0x2019, as a body does while its own
  menus are in charge. Reading (GetEvent, DeviceInfo, the card) always works. KeepDeviceOn
  0x911D, PCHDDCapacity 0x911A (answered with AvailableShots) and the UI lock 0x911B /
  0x911C (which libgphoto2 sends unasked) are bare OKs.
- The release (§11): 9128(2, 0) or (3, 0) takes one picture per full press. CaptureDestination
  4 (host) keeps it in RAM and announces RequestObjectTransfer 0xC186; it is read with
  GetPartialObject (response P1 = bytes sent) or GetObject and dropped by TransferComplete
  0x9117; it never reaches the card. Destination 2 (card) writes IMG_NNNN.JPG to the DCIM
  tree and announces ObjectAddedEx 0xC181 with its store handle; 6 does both.
  AvailableShots goes down by one per picture on the card.
- Live view (§12): EVFMode 0xD1B1 = 1 and EVFOutputDevice 0xD1B0 with the PC bit (2 or 3;
  8 for mobile bodies) switch it on; 0x9153 then answers 0xA102 during a warm-up (the first
  ``liveview_warmup_calls`` calls and ``liveview_warmup`` seconds), then viewfinder blocks:
  a generated 640×480 JPEG with a frame counter, the vector ``canon/eos_liveview.jpg``'s
  small blocks and a type-3 block (:mod:`ptpip.vendors.canon.viewfinder`), and the type-0
  end block. With EVF output 0 it answers DeviceBusy.
- When the client leaves, live view stops, unread RAM pictures are dropped and a host
  capture destination goes back to the card (gphoto2 sets 2 itself on exit).
- Pairing (§3, ``pairing=True``): the first client's InitCommandAck is held until the user
  confirms (:meth:`CanonCamera.confirm_pairing`, or ``pairing_delay`` seconds); the (GUID,
  name) pair is then remembered and any other client gets InitFail 1; a second client while
  the prompt is up gets InitFail 2 (busy). gphoto2 waits only 2.5 s for the ack
  (gphoto2-interop.md §2), so pair it with a ``pairing_delay`` below that.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptpip.camera._imaging import generate_jpeg
from ptpip.camera.factory import port_argument
from ptpip.camera.generic import GenericCamera
from ptpip.camera.personality import BytesSource, Reply, ServiceError, fit_name, operation
from ptpip.camera.props import PropertyStore
from ptpip.errors import RemoteProtocolError
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandRequest
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import (
    DataType,
    InitFailReason,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
    Vendor,
    VendorExtensionID,
)
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.datasets import DeviceInfo, DevicePropDesc, ObjectInfo, PropRange, encode_handles
from ptpip.vendors.canon.camera_props import (
    AVAILABLE_SHOTS,
    CAPTURE_DESTINATION,
    DESTINATION_CARD,
    DESTINATION_HOST,
    EVF_MODE,
    EVF_OUTPUT,
    EosProperties,
)
from ptpip.vendors.canon.codec import (
    AvailListChanged,
    EosEventCode,
    EventRecord,
    ObjectAdded,
    ObjectRemoved,
    PropValueChanged,
    RequestObjectTransfer,
    decode_set_prop_ex,
    encode_events,
    encode_viewfinder,
)
from ptpip.vendors.canon.upnp import WFT_SERVICE, CameraUpnp, DeviceDescription
from ptpip.vendors.canon.viewfinder import FRAME_SIZE, Viewfinder

if TYPE_CHECKING:
    from ptpip.camera.server import ServerSession, VirtualCamera

__all__ = ["CanonCamera", "EosOp"]

log = logging.getLogger("ptpip.camera")

_ALL = 0xFFFF_FFFF
_Data = bytes | None


class EosOp:
    """The EOS operations the body answers (§6)."""

    GET_STORAGE_IDS = 0x9101
    GET_STORAGE_INFO = 0x9102
    SET_DEVICE_PROP_VALUE_EX = 0x9110
    SET_REMOTE_MODE = 0x9114
    SET_EVENT_MODE = 0x9115
    GET_EVENT = 0x9116
    TRANSFER_COMPLETE = 0x9117
    PC_HDD_CAPACITY = 0x911A
    SET_UI_LOCK = 0x911B
    RESET_UI_LOCK = 0x911C
    KEEP_DEVICE_ON = 0x911D
    REQUEST_DEVICE_PROP_VALUE = 0x9127
    REMOTE_RELEASE_ON = 0x9128
    REMOTE_RELEASE_OFF = 0x9129
    GET_VIEWFINDER_DATA = 0x9153


#: 0xA102 ObjectNotReady: live view is warming up (§7).
NOT_READY = 0xA102
#: Operations that need SetRemoteMode first.
_REMOTE_ONLY = frozenset(
    {
        EosOp.SET_DEVICE_PROP_VALUE_EX,
        EosOp.REMOTE_RELEASE_ON,
        EosOp.REMOTE_RELEASE_OFF,
        EosOp.GET_VIEWFINDER_DATA,
    }
)
#: EVFOutputDevice bits that send live view to a host: PC (2, or 3 with the TFT), mobile (8).
_EVF_TO_HOST = 0x2 | 0x8
#: Handles of pictures held in RAM for the host: apart from the card's (which count from 1).
_RAM_HANDLES = 0x9000_0001


def _param(request: RequestReceived, index: int, default: int = 0) -> int:
    return request.params[index] if len(request.params) > index else default


@dataclass(slots=True)
class _Link:
    """What one client session set up: modes and the records its next GetEvent returns."""

    remote_mode: int = 0
    event_mode: int = 0
    dump_due: bool = False
    queue: list[EventRecord] = field(default_factory=list)
    pressed: bool = False


@dataclass(frozen=True, slots=True)
class _RamImage:
    """A picture taken for the host: in camera RAM until TransferComplete."""

    name: str
    data: bytes
    taken: datetime


class CanonCamera(GenericCamera):
    """A Canon EOS body over Wi-Fi/LAN (an EOS 5D Mark III by default)."""

    vendor = Vendor.CANON
    manufacturer = "Canon Inc."
    device_version = "3-1.3.3"
    #: the Init ack waits for the user's answer (a Fuji refuses and the client retries)
    pairing_holds_ack = True
    #: the SSDP service the body offers: EOS Utility remote control (§1)
    upnp_services: tuple[str, ...] = (WFT_SERVICE,)
    #: USB product ID shown as X_deviceUsbId (informational; 0x323A: 5D Mark III)
    usb_id = 0x323A

    def __init__(
        self,
        storage: Path | str,
        *,
        model: str = "Canon EOS 5D Mark III",
        serial_number: str = "012345678901",
        mac: str = "02005EC0A5D3",
        nickname: str = "EOS5D3",
        pairing: bool = False,
        pairing_delay: float | None = None,
        liveview_warmup_calls: int = 5,
        liveview_warmup: float = 0.0,
        read_only: bool = False,
        upnp: bool = False,
        upnp_port: int = 0,
        ssdp_port: int = 1900,
    ) -> None:
        super().__init__(storage, model=model, serial_number=serial_number, read_only=read_only)
        self.mac = bytes.fromhex(mac.replace(":", "").replace("-", ""))
        if len(self.mac) != 6:
            raise ValueError(f"a MAC address has 6 bytes: {mac!r}")
        # Seed 002: the ack's GUID is 8 zero bytes, 01 00, and the Wi-Fi MAC.
        self.guid = bytes(8) + b"\x01\x00" + self.mac
        self.nickname = nickname
        #: serve the UPnP description and answer SSDP M-SEARCH on the camera's address
        self.upnp = upnp
        self.upnp_ports = (upnp_port, ssdp_port)
        self._upnp: CameraUpnp | None = None
        self.eos = EosProperties(serial_number=serial_number, storage_id=self.store.storage_id)
        # The standard properties an EOS answers GetDevicePropDesc for; the rest are 0xD1xx.
        battery = DevicePropDesc(
            Prop.BATTERY_LEVEL, DataType.UINT8, 0, 80, 80, PropRange(0, 100, 1)
        )
        self.props = PropertyStore([battery])
        self.pairing = pairing
        self.pairing_delay = pairing_delay
        #: the (GUID, name) the user accepted; any other client then gets InitFail 1
        self.paired: tuple[bytes, str] | None = None
        #: called with the client's name when a pairing prompt appears on the "screen"
        self.on_pairing_request: Callable[[str], None] | None = None
        self._prompt: asyncio.Future[bool] | None = None
        self.liveview_warmup_calls = liveview_warmup_calls
        self.liveview_warmup = liveview_warmup
        self._lv_since: float | None = None
        self._lv_waits = 0
        self.frames_sent = 0
        self._ram: dict[int, _RamImage] = {}
        self._ram_handles = itertools.count(_RAM_HANDLES)
        self._camera: VirtualCamera | None = None
        self._viewfinder = Viewfinder(model)

    # -- identity and pairing ----------------------------------------------------------------

    @property
    def short_name(self) -> str:
        """The name in the Init ack: the model without "Canon EOS" ("5D Mark III", "70D")."""
        return self.model.removeprefix("Canon ").removeprefix("EOS ") or self.model

    @property
    def ack_name(self) -> str:
        return fit_name(self.short_name)

    def device_info(self) -> DeviceInfo:
        events = (
            EosEventCode.OBJECT_ADDED_EX,
            EosEventCode.OBJECT_REMOVED,
            EosEventCode.REQUEST_OBJECT_TRANSFER,
            EosEventCode.PROP_VALUE_CHANGED,
            EosEventCode.AVAIL_LIST_CHANGED,
            EosEventCode.INFO_CHECK_COMPLETE,
        )
        return dataclasses.replace(
            super().device_info(),
            vendor_extension_id=VendorExtensionID.CANON,
            vendor_extension_version=100,
            events_supported=tuple(int(e) for e in events),
            image_formats=(ObjectFormatCode.ASSOCIATION, ObjectFormatCode.EXIF_JPEG),
        )

    def check_initiator(self, request: InitCommandRequest | FujiInitCommandRequest) -> int | None:
        if isinstance(request, FujiInitCommandRequest):
            return InitFailReason.UNSPECIFIED
        known = self.paired is None or (request.guid, request.friendly_name) == self.paired
        if self.pairing and not known:
            return InitFailReason.REJECTED_INITIATOR  # §3: not the paired host
        if self.pairing_pending:
            return InitFailReason.BUSY  # the screen already asks about another client
        return None

    def confirm_initiator(
        self, request: InitCommandRequest | FujiInitCommandRequest
    ) -> asyncio.Future[int | None] | None:
        if (
            not self.pairing
            or self.paired is not None
            or isinstance(request, FujiInitCommandRequest)
        ):
            return None
        loop = asyncio.get_running_loop()
        self._prompt = prompt = loop.create_future()
        log.info("pairing: %r asks to connect; waiting for confirmation", request.friendly_name)
        if self.on_pairing_request is not None:
            self.on_pairing_request(request.friendly_name)
        if self.pairing_delay is not None:
            loop.call_later(self.pairing_delay, self.confirm_pairing)
        guid, name = request.guid, request.friendly_name

        async def decided() -> int | None:
            try:
                accepted = await prompt
            except asyncio.CancelledError:
                prompt.cancel()  # the client left: the prompt goes away
                raise
            if not accepted:
                return InitFailReason.REJECTED_INITIATOR
            self.paired = (guid, name)
            return None

        return asyncio.ensure_future(decided())

    def confirm_pairing(self, name: str | None = None, *, accept: bool = True) -> None:
        """The user answers the camera's prompt (``name`` is informational)."""
        del name
        if self._prompt is not None and not self._prompt.done():
            self._prompt.set_result(accept)

    @property
    def pairing_pending(self) -> bool:
        return self._prompt is not None and not self._prompt.done()

    def upnp_description(self) -> DeviceDescription:
        """CameraDevDesc.xml's content now: X_targetId names the paired host, if any."""
        busy = self._camera is not None and self._camera.session is not None
        return DeviceDescription(
            friendly_name=self.model,
            model_name=self.model,
            serial_number=self.serial_number,
            mac=self.mac,
            services=self.upnp_services,
            nickname=self.nickname,
            usb_id=self.usb_id,
            target=self.paired[0] if self.paired else None,
            on_service=busy,
        )

    # -- hooks -------------------------------------------------------------------------------

    async def started(self, camera: VirtualCamera) -> None:
        self._camera = camera
        if self.upnp:
            http_port, ssdp_port = self.upnp_ports
            upnp = CameraUpnp(
                self.upnp_description, host=camera.host, http_port=http_port, ssdp_port=ssdp_port
            )
            try:
                await upnp.start()
            except OSError as exc:
                raise ServiceError(f"cannot start UPnP on {camera.host}: {exc}") from exc
            self._upnp = upnp

    async def stopped(self, camera: VirtualCamera) -> None:
        if self._upnp is not None:
            await self._upnp.stop()
            self._upnp = None

    def listening_lines(self, camera: VirtualCamera) -> list[str]:
        if self._upnp is None:
            return []
        return [
            f"upnp description {self._upnp.http.location}",
            f"ssdp on {camera.host}:{self._upnp.ssdp.port} (M-SEARCH answered by unicast)",
        ]

    def session_closed(self, session: ServerSession) -> None:
        # The host is gone: live view stops, host capture ends, unread RAM images are lost.
        self._ram.clear()
        self._lv_since = None
        self.eos.values[EVF_OUTPUT] = 0
        if self.eos.values.get(CAPTURE_DESTINATION) == DESTINATION_HOST:
            self.eos.values[CAPTURE_DESTINATION] = DESTINATION_CARD

    async def handle(self, session: ServerSession, request: RequestReceived, data: _Data) -> Reply:
        if (
            request.code in _REMOTE_ONLY
            and session.session_id is not None
            and not _link(session).remote_mode
        ):
            return Reply(ResponseCode.DEVICE_BUSY)
        return await super().handle(session, request, data)

    def _announce_removed(self, s: ServerSession, handles: tuple[int, ...]) -> None:
        # EOS reports through GetEvent, never on the event connection.
        self._queue(*(ObjectRemoved(h) for h in handles[1:]), session=s)

    # -- events ------------------------------------------------------------------------------

    def _queue(self, *records: EventRecord, session: ServerSession | None = None) -> None:
        if session is None and self._camera is not None:
            session = self._camera.session
        if session is not None:
            _link(session).queue.extend(records)

    def camera_changed(self, prop: int, value: int | bytes | str) -> None:
        """Someone turned a dial on the body: store ``value`` and report it in GetEvent."""
        stored = self.eos.set(prop, value, host=False)
        if prop in (EVF_MODE, EVF_OUTPUT):
            self._liveview_switched()
        self._queue(PropValueChanged(prop, stored))

    @operation(EosOp.SET_EVENT_MODE)
    async def _set_event_mode(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if not r.params:
            return Reply(ResponseCode.INVALID_PARAMETER)
        link = _link(s)
        link.event_mode = r.params[0]
        if link.event_mode:
            link.dump_due = True  # §13.2: every session's cache starts empty
        return Reply()

    @operation(EosOp.SET_REMOTE_MODE)
    async def _set_remote_mode(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if not r.params:
            return Reply(ResponseCode.INVALID_PARAMETER)
        _link(s).remote_mode = r.params[0]
        return Reply()

    @operation(EosOp.GET_EVENT)
    async def _get_event(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        link = _link(s)
        records, link.queue = link.queue, []
        if link.dump_due:
            link.dump_due = False
            # the dump states every value: queued property records would only repeat it
            kept: list[EventRecord] = [
                x for x in records if not isinstance(x, PropValueChanged | AvailListChanged)
            ]
            records = self.eos.dump() + kept
        return Reply.with_data(encode_events(records))

    @operation(EosOp.KEEP_DEVICE_ON)
    async def _keep_device_on(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply()

    # libgphoto2 locks the body's buttons while it changes the capture destination.

    @operation(EosOp.SET_UI_LOCK)
    async def _set_ui_lock(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply()

    @operation(EosOp.RESET_UI_LOCK)
    async def _reset_ui_lock(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply()

    # -- properties --------------------------------------------------------------------------

    @operation(EosOp.SET_DEVICE_PROP_VALUE_EX, data_out=True)
    async def _set_prop_ex(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        try:
            prop, value = decode_set_prop_ex(d or b"")
        except RemoteProtocolError:
            return Reply(ResponseCode.INVALID_DEVICE_PROP_FORMAT)
        stored = self.eos.set(prop, value)
        if prop in (EVF_MODE, EVF_OUTPUT):
            self._liveview_switched()
        self._queue(PropValueChanged(prop, stored), session=s)
        return Reply()

    @operation(EosOp.REQUEST_DEVICE_PROP_VALUE)
    async def _request_prop(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        self._queue(self.eos.record(_param(r, 0)), session=s)
        return Reply()

    @operation(EosOp.PC_HDD_CAPACITY)
    async def _pc_hdd_capacity(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # The host reports its free space; the body answers with the shots that fit (§5).
        self._queue(self.eos.record(AVAILABLE_SHOTS), session=s)
        return Reply()

    # -- storage -----------------------------------------------------------------------------

    @operation(EosOp.GET_STORAGE_IDS)
    async def _eos_storage_ids(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(encode_handles(self.store.storage_ids()))

    @operation(EosOp.GET_STORAGE_INFO)
    async def _eos_storage_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        # libgphoto2 ignores the content; a zero blob of the usual size works (§6).
        return Reply.with_data(bytes(40))

    # -- capture -----------------------------------------------------------------------------

    @operation(EosOp.REMOTE_RELEASE_ON)
    async def _release_on(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        phase = _param(r, 0)
        if phase not in (1, 2, 3):
            return Reply(ResponseCode.INVALID_PARAMETER)
        link = _link(s)
        if phase != 1 and not link.pressed:  # 1 is the half press (AF): nothing to report
            link.pressed = True
            self._take_picture(s)
        return Reply()

    @operation(EosOp.REMOTE_RELEASE_OFF)
    async def _release_off(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if _param(r, 0) in (2, 3):
            _link(s).pressed = False
        return Reply()

    def _take_picture(self, s: ServerSession) -> None:
        destination = self.eos.values.get(CAPTURE_DESTINATION, DESTINATION_CARD)
        assert isinstance(destination, int)
        self.capture_count += 1
        if destination != DESTINATION_HOST:  # the card: 1, 2, and 6 (card and host)
            handle = self.store.add_capture()
            info = self.store.object_info(handle)
            shots = self.eos.values.get(AVAILABLE_SHOTS)
            if isinstance(shots, int) and shots > 0:
                self.eos.values[AVAILABLE_SHOTS] = shots - 1
            self._queue(
                ObjectAdded(
                    handle,
                    info.storage_id,
                    info.object_format,
                    info.compressed_size,
                    info.parent,
                    info.filename,
                ),
                self.eos.record(AVAILABLE_SHOTS),
                session=s,
            )
            if destination & DESTINATION_HOST:  # 6: also to the host, from the card's copy
                data = self.store.read_bytes(handle)
                self._hold_for_host(s, handle, _RamImage(info.filename, data, datetime.now()))
            return
        now = datetime.now()
        name = f"IMG_{self.capture_count % 10000:04d}.JPG"
        jpeg = generate_jpeg(self.capture_count, model=self.model, when=now, label=name)
        self._hold_for_host(s, next(self._ram_handles), _RamImage(name, jpeg, now))

    @property
    def held_for_host(self) -> tuple[int, ...]:
        """Handles of pictures waiting in RAM for the host's TransferComplete."""
        return tuple(self._ram)

    def _hold_for_host(self, s: ServerSession, handle: int, image: _RamImage) -> None:
        self._ram[handle] = image
        record = RequestObjectTransfer(
            handle, ObjectFormatCode.EXIF_JPEG, len(image.data), image.name
        )
        self._queue(record, session=s)

    @operation(EosOp.TRANSFER_COMPLETE)
    async def _transfer_complete(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle = _param(r, 0)
        # target 6: the RAM copy goes, the card keeps its own
        if self._ram.pop(handle, None) is None and handle not in self.store:
            return Reply(ResponseCode.INVALID_OBJECT_HANDLE)
        return Reply()

    # The RAM pictures are readable like objects until TransferComplete.

    @operation(OperationCode.GET_OBJECT_INFO)
    async def _get_object_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        image = self._ram.get(_param(r, 0))
        if image is None:
            return await super()._get_object_info(s, r, d)
        info = ObjectInfo(
            storage_id=0,
            object_format=ObjectFormatCode.EXIF_JPEG,
            compressed_size=len(image.data),
            image_width=FRAME_SIZE[0],
            image_height=FRAME_SIZE[1],
            image_bit_depth=24,
            filename=image.name,
            capture_date=image.taken.replace(microsecond=0),
            modification_date=image.taken.replace(microsecond=0),
        )
        return Reply.with_data(info.encode())

    @operation(OperationCode.GET_OBJECT)
    async def _get_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        image = self._ram.get(_param(r, 0))
        if image is None:
            return await super()._get_object(s, r, d)
        return Reply.with_data(image.data)

    @operation(OperationCode.GET_PARTIAL_OBJECT)
    async def _get_partial_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        image = self._ram.get(_param(r, 0))
        if image is None:
            return await super()._get_partial_object(s, r, d)
        offset, limit = _param(r, 1), _param(r, 2, _ALL)
        if offset > len(image.data):
            return Reply(ResponseCode.INVALID_PARAMETER)
        piece = image.data[offset : offset + limit]
        return Reply(ResponseCode.OK, (len(piece),), BytesSource(piece))  # P1 = bytes sent

    # -- live view ---------------------------------------------------------------------------

    @property
    def liveview_on(self) -> bool:
        """EVF on and its output going to a host."""
        mode, output = self.eos.values.get(EVF_MODE), self.eos.values.get(EVF_OUTPUT)
        return mode == 1 and isinstance(output, int) and bool(output & _EVF_TO_HOST)

    def _liveview_switched(self) -> None:
        if not self.liveview_on:
            self._lv_since = None
        elif self._lv_since is None:
            self._lv_since = asyncio.get_running_loop().time()
            self._lv_waits = 0

    @operation(EosOp.GET_VIEWFINDER_DATA)
    async def _get_viewfinder(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if self._lv_since is None:
            return Reply(ResponseCode.DEVICE_BUSY)  # no live view to a host: EVF output is 0
        elapsed = asyncio.get_running_loop().time() - self._lv_since
        if self._lv_waits < self.liveview_warmup_calls or elapsed < self.liveview_warmup:
            self._lv_waits += 1
            return Reply(NOT_READY)  # the mirror and sensor are still getting ready
        self.frames_sent += 1
        loop = asyncio.get_running_loop()
        blocks = await loop.run_in_executor(None, self._viewfinder.blocks, self.frames_sent)
        return Reply.with_data(encode_viewfinder(blocks))


def _link(session: ServerSession) -> _Link:
    link = session.state.get("eos")
    if not isinstance(link, _Link):
        link = session.state["eos"] = _Link()
    return link


# An EOS captures with 0x9128 and reports through GetEvent; the standard capture (and
# property reset) that GenericCamera offers are not in an EOS body's operation list.
for _code in (OperationCode.INITIATE_CAPTURE, OperationCode.RESET_DEVICE_PROP_VALUE):
    CanonCamera.operations.pop(_code, None)


#: For the camera factory (ptpip.camera.factory) and `ptpip simulate`.
PERSONALITY = CanonCamera
DEFAULT_MODEL = "Canon EOS 5D Mark III"
DEFAULT_PORT = 15740


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``ptpip simulate -t canon`` options."""
    group = parser.add_argument_group("canon")
    group.add_argument(
        "--upnp",
        action="store_true",
        help="serve the UPnP description over HTTP and answer SSDP M-SEARCH (on --host)",
    )
    group.add_argument(
        "--upnp-port", type=port_argument, default=0, help="UPnP HTTP port (default: free)"
    )
    group.add_argument(
        "--ssdp-port", type=port_argument, default=1900, help="SSDP port (default 1900)"
    )


def options(args: argparse.Namespace) -> dict[str, Any]:
    if not args.upnp:
        return {}
    return {"upnp": True, "upnp_port": args.upnp_port, "ssdp_port": args.ssdp_port}
