"""A Fujifilm X camera over Wi-Fi (an X-T1 by default), as its clients see it.

What it reproduces (vendor-fuji.md; section numbers below are that document's):

- Three ports: commands on P, events on P+1, live view on P+2. The last two are bound at
  start but refuse connections until InitiateOpenCapture (0x101C), as on the camera (§1).
- The Init handshake (§2): the Fuji request (82 bytes, or malc0mn's unpadded form); a wrong
  magic gets InitFail 0x201D; with ``pairing`` the first client name is remembered and any
  other gets InitFail 0x2019. The ack is the camera's 68 bytes with ConnectionNumber 0. A
  second InitCommandRequest on the live socket (libgphoto2, the official app, §2.4) gets a
  second ack: gphoto2 2.5.30 reads only the first (see tests/interop/test_gphoto2_fuji.py).
- USB-style containers after the ack (§3); the goodbye packet ends the session.
- Remote mode (§4): until ClientState 0xDF01 is 5, remote operations (capture, open capture,
  capture preview, the step operations, and setting any property but the 0xDFxx set-up ones)
  answer AccessDenied 0x200F. Not DeviceBusy: a client would retry that for nothing.
  Reading stays allowed, and so do DeviceInfo, sessions and the card.
- 0x902B's property list and 0xD212's state built from the property store (§9); values are
  read at the property's width and trailing padding ignored (§3).
- 0x902C/0x902D/0x902E step shutter, aperture and exposure bias one entry of their enum
  (P1 1 = +1/3 stop, i.e. shorter exposure, smaller aperture, brighter bias; 0 = −1/3).
- Capture (§11): 0x100E → OK, then events 0xC004 and 0xC001 (preview size) as 28-byte
  containers; 0x9022 GetCapturePreview returns the JPEG, then 0x400D CaptureComplete
  follows. Without the 0x9022 fetch there is no CaptureComplete and later 0x100E requests
  are accepted but do nothing. The image is also stored on the card.
- Live view (§12): 18-byte header + JPEG frames at ``liveview_fps``, counter wrapping at 0xFF.
- The card as Wi-Fi clients see it: images only, handles 1…N in card order, N = 0xD222.

Every data-in operation answers with exactly one data container, empty when it fails, then
the response: libgphoto2 reads one container as the data phase unconditionally, so a bare
error response would leave it waiting for a response that already came. An unknown
property's GetDevicePropDesc is empty data with OK, the X-T1's "no data and no error" (§14).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from ptpip.camera.personality import BytesSource, Personality, Reply, fit_name, operation
from ptpip.camera.props import PropertyError, PropertyStore
from ptpip.camera.server import ExtraListener, ListenerKind
from ptpip.camera.store import ObjectStore, StoreError
from ptpip.errors import PtpError
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandAck, InitCommandRequest
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import (
    EventCode,
    InitFailReason,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
    Vendor,
    VendorExtensionID,
)
from ptpip.ptp.datasets import DeviceInfo, PropEnum
from ptpip.vendors.fuji import camera_props as fp
from ptpip.vendors.fuji.codec import encode_liveview_frame, encode_prop_list, encode_state
from ptpip.vendors.fuji.codes import FujiEvent, FujiOperation

if TYPE_CHECKING:
    from ptpip.camera.server import Connection, ServerSession, VirtualCamera

__all__ = ["FujiCamera"]

log = logging.getLogger("ptpip.camera")

_ALL = 0xFFFF_FFFF
_Data = bytes | None

#: The operations whose answer has a data phase (so one data container, even on failure).
_DATA_IN = frozenset(
    {
        OperationCode.GET_DEVICE_INFO, OperationCode.GET_STORAGE_IDS,
        OperationCode.GET_STORAGE_INFO, OperationCode.GET_OBJECT_HANDLES,
        OperationCode.GET_OBJECT_INFO, OperationCode.GET_OBJECT, OperationCode.GET_THUMB,
        OperationCode.GET_DEVICE_PROP_DESC, OperationCode.GET_DEVICE_PROP_VALUE,
        OperationCode.GET_PARTIAL_OBJECT, FujiOperation.GET_CAPTURE_PREVIEW,
        FujiOperation.FUJI_GET_DEVICE_INFO, *range(0x9801, 0x9806),
    }
)  # fmt: skip
#: Operations that need remote mode (ClientState 0xDF01 = 5, vendor-fuji.md §4.1).
_REMOTE = frozenset(
    {
        OperationCode.INITIATE_CAPTURE, OperationCode.INITIATE_OPEN_CAPTURE,
        OperationCode.TERMINATE_OPEN_CAPTURE, FujiOperation.GET_CAPTURE_PREVIEW,
        *fp.STEPS,
    }
)  # fmt: skip
#: Events carry 1 where libgphoto2 reads a TransactionID (malc0mn's "Amount"), §7.1.
_EVENT_TAG = 1
#: The live-view header's 9 unknown bytes, as in the vector fuji/lv_stream (§12).
_FRAME_TAIL = bytes.fromhex("00000000000000018a")
#: Distinct pre-encoded live-view pictures; 256 (the counter's period) is a multiple.
_LIVEVIEW_PICTURES = 16
#: The 68-byte ack's name field: 17 UTF-16 characters and the NUL (§2.2).
_ACK_NAME_BYTES = 36


def _param(request: RequestReceived, index: int, default: int = 0) -> int:
    return request.params[index] if len(request.params) > index else default


@dataclasses.dataclass(frozen=True, slots=True)
class _Capture:
    """A capture whose preview the client has not fetched yet."""

    tid: int
    handle: int
    preview: bytes


class FujiCamera(Personality):
    """A Fujifilm X camera in Wi-Fi remote mode (vendor-fuji.md §14 checklist)."""

    vendor = Vendor.FUJI
    fuji_dialect = True
    extra_listeners = (
        ExtraListener("event", ListenerKind.EVENT, 1, deferred=True),
        ExtraListener("stream", ListenerKind.STREAM, 2, deferred=True),
    )
    manufacturer = "FUJIFILM"
    device_version = "5.51"
    guid = bytes.fromhex("46554a4946494c4d2d582d5431000001")  # "FUJIFILM-X-T1" + 0001

    def __init__(
        self,
        storage: Path | str,
        *,
        model: str = "X-T1",
        serial_number: str = "PTPIP0000001",
        pairing: bool = False,
        pairing_delay: float | None = None,
        liveview_fps: float = 10.0,
        read_only: bool = False,
    ) -> None:
        self.model = model
        self.serial_number = serial_number
        self.store = ObjectStore(storage, model=model, read_only=read_only)
        self.props = PropertyStore(fp.fuji_properties())
        #: with pairing, an unknown client name is refused with InitFail 0x2019 until the
        #: user confirms it on the camera (confirm_pairing, or pairing_delay seconds later)
        self.pairing = pairing
        self.pairing_delay = pairing_delay
        self.paired_names: set[str] = set()
        self.awaiting: str | None = None
        #: called with the client's name when the camera would show its "accept?" prompt
        self.on_pairing_request: Callable[[str], None] | None = None
        self.liveview_fps = liveview_fps
        self.capture_count = 0
        self._images: list[int] = []
        self._pending: _Capture | None = None
        self._pictures: asyncio.Future[list[bytes]] | None = None
        self._streams: set[asyncio.Task[None]] = set()
        self._refresh_images()
        self._initial_state = self._snapshot()

    # -- hooks -------------------------------------------------------------------------------

    def init_ack(self, connection_number: int) -> InitCommandAck:
        # The camera's ack is 68 bytes with ConnectionNumber 0 (libgphoto2 #517, §2.2).
        del connection_number
        name = fit_name(self.model, _ACK_NAME_BYTES // 2 - 1)
        return InitCommandAck(0, self.guid, name, 0x0001_0000, _ACK_NAME_BYTES)

    def check_initiator(self, request: InitCommandRequest | FujiInitCommandRequest) -> int | None:
        if not isinstance(request, FujiInitCommandRequest):
            return InitFailReason.FUJI_INVALID_PARAMETER  # 0x201D: unknown protocol version
        name = request.friendly_name
        if self.pairing and name not in self.paired_names:
            # 0x2019: not the stored client; the camera shows the prompt (vendor-fuji.md §2.3)
            if self.awaiting != name:
                self.awaiting = name
                if self.on_pairing_request is not None:
                    self.on_pairing_request(name)
                if self.pairing_delay is not None:
                    loop = asyncio.get_running_loop()
                    loop.call_later(self.pairing_delay, self.confirm_pairing, name)
            return InitFailReason.FUJI_DEVICE_BUSY
        return None

    def confirm_pairing(self, name: str | None = None) -> None:
        """The user accepted the client on the camera: its next connection gets in."""
        name = name or self.awaiting
        if name is not None:
            self.paired_names.add(name)
            if self.awaiting == name:
                self.awaiting = None

    async def stopped(self, camera: VirtualCamera) -> None:
        for task in list(self._streams):
            task.cancel()
        for task in list(self._streams):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def listening_lines(self, camera: VirtualCamera) -> list[str]:
        host = f"[{camera.host}]" if ":" in camera.host else camera.host
        return [
            f'gphoto2 --camera "Fuji X (WLAN)" '
            f"--port ptpip:{host}:{camera.port}:{camera.ports['event']}"
        ]

    def session_closed(self, session: ServerSession) -> None:
        # The camera leaves remote mode with its client; an unfetched preview is dropped.
        self._pending = None
        self.props.update(fp.CLIENT_STATE, 0)
        self.props.update(fp.CAMERA_STATE, 0)

    def stream_connected(self, session: ServerSession, conn: Connection) -> None:
        task = asyncio.create_task(self._push_frames(conn))
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    @property
    def remote(self) -> bool:
        """Whether a client put the camera in remote mode (0xDF01 = 5)."""
        return self.props.get(fp.CLIENT_STATE) == fp.REMOTE_MODE

    async def handle(self, session: ServerSession, request: RequestReceived, data: _Data) -> Reply:
        if request.code in _REMOTE and session.session_id is not None and not self.remote:
            reply = Reply(ResponseCode.ACCESS_DENIED)
        else:
            try:
                reply = await super().handle(session, request, data)
            except (StoreError, PropertyError) as exc:
                reply = Reply(exc.code)
        if reply.code != ResponseCode.OK and reply.data is None and request.code in _DATA_IN:
            reply.data = BytesSource(b"")
        return reply

    def device_info(self) -> DeviceInfo:
        return DeviceInfo(
            standard_version=100,
            vendor_extension_id=VendorExtensionID.FUJI,
            vendor_extension_version=100,
            vendor_extension_desc="fujifilm.co.jp: 1.0; ",
            functional_mode=0,
            operations_supported=self.operations_supported(),
            events_supported=(
                EventCode.CAPTURE_COMPLETE,
                FujiEvent.PREVIEW_AVAILABLE,
                FujiEvent.FUJI_OBJECT_ADDED,
            ),
            device_properties_supported=self.props.codes(),
            capture_formats=(ObjectFormatCode.EXIF_JPEG,),
            image_formats=(ObjectFormatCode.EXIF_JPEG,),
            manufacturer=self.manufacturer,
            model=self.model,
            device_version=self.device_version,
            serial_number=self.serial_number,
        )

    # -- session and device ------------------------------------------------------------------

    @operation(OperationCode.GET_DEVICE_INFO, session=False)
    async def _get_device_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.device_info().encode())

    @operation(OperationCode.OPEN_SESSION, session=False)
    async def _fuji_open_session(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        reply = await Personality._open_session(self, s, r, d)
        if reply.code == ResponseCode.OK:
            self._refresh_images()  # files dropped on the card since appear, as after a swap
        return reply

    @operation(FujiOperation.FUJI_GET_DEVICE_INFO)
    async def _get_prop_list(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(encode_prop_list(self.props.describe(c) for c in fp.PROP_LIST))

    # -- properties --------------------------------------------------------------------------

    @operation(OperationCode.GET_DEVICE_PROP_DESC)
    async def _get_prop_desc(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        code = _param(r, 0)
        if code not in self.props:
            return Reply.with_data(b"")  # the X-T1: no data and no error (§14)
        return Reply.with_data(self.props.describe(code).encode())

    @operation(OperationCode.GET_DEVICE_PROP_VALUE)
    async def _get_prop_value(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        code = _param(r, 0)
        if code == fp.CURRENT_STATE:
            return Reply.with_data(self.state())
        if code == fp.OBJECT_COUNT:
            self._refresh_images()
        return Reply.with_data(self.props.value_bytes(code))

    def state(self) -> bytes:
        """The 0xD212 value: a full snapshot, as the X-T1 sends on every call (§9.3).

        Until the state first differs from the initial one, the seed's own bytes.
        """
        snapshot = self._snapshot()
        if snapshot == self._initial_state:
            return fp.SEED_STATE
        self._initial_state = b""  # changed once: from now on the live snapshot
        return snapshot

    def _snapshot(self) -> bytes:
        # Each value zero-extended from its own width: an INT16 bias of −1/3 EV is
        # 0x0000FEB3, as in malc0mn's X-T1 fixture.
        program = self.props.get(0x500E)
        extra = fp.STATE_BY_PROGRAM.get(program, ()) if isinstance(program, int) else ()
        return encode_state(
            (code, int.from_bytes(self.props.value_bytes(code), "little"))
            for code in (*fp.STATE_CODES, *extra)
        )

    @operation(OperationCode.SET_DEVICE_PROP_VALUE, data_out=True)
    async def _set_prop_value(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        code = _param(r, 0)
        if code not in fp.SETUP_PROPS and code in self.props and not self.remote:
            return Reply(ResponseCode.ACCESS_DENIED)
        self.props.set_from_bytes(code, d or b"")
        if code == fp.CLIENT_STATE:
            client = self.props.get(code)
            # CameraState follows (§4.3): remote access, full access, or waiting.
            self.props.update(
                fp.CAMERA_STATE, 6 if client == fp.REMOTE_MODE else 2 if client else 0
            )
        return Reply()

    @operation(FujiOperation.STEP_SHUTTER_SPEED)
    async def _step_shutter(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return self._step(r)

    @operation(FujiOperation.STEP_F_NUMBER)
    async def _step_aperture(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return self._step(r)

    @operation(FujiOperation.STEP_EXPOSURE_BIAS)
    async def _step_bias(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return self._step(r)

    def _step(self, r: RequestReceived) -> Reply:
        """One entry up (P1 = 1) or down (P1 = 0) the property's enum; the ends hold."""
        if len(r.params) < 1 or r.params[0] not in (0, 1):
            return Reply(ResponseCode.INVALID_PARAMETER)
        code = fp.STEPS[r.code]
        form = self.props.describe(code).form
        assert isinstance(form, PropEnum)
        # 0xFFFF / 0xFFFFFFFF mean "auto" or "not settable", not a stop on the scale.
        values = [v for v in form.values if v not in (0xFFFF, 0xFFFF_FFFF)]
        current = self.props.get(code)
        up = r.params[0] == 1
        if current in values:
            index = values.index(current) + (1 if up else -1)
        else:
            index = 0 if up else len(values) - 1
        self.props.update(code, values[max(0, min(index, len(values) - 1))])
        return Reply()

    # -- capture and live view ---------------------------------------------------------------

    @operation(OperationCode.INITIATE_OPEN_CAPTURE)
    async def _initiate_open_capture(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        for spec in self.extra_listeners:
            await s.camera.open_listener(spec.name, s)
        return Reply()

    @operation(OperationCode.TERMINATE_OPEN_CAPTURE)
    async def _terminate_open_capture(
        self, s: ServerSession, r: RequestReceived, d: _Data
    ) -> Reply:
        # Live view stops; the event connection stays (libgphoto2 captures after this, §11).
        s.open_listeners.discard("stream")
        for conn in list(s.stream_conns):
            conn.close()
        return Reply()

    @operation(OperationCode.INITIATE_CAPTURE)
    async def _initiate_capture(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        if self._pending is not None:
            return Reply()  # the preview was never fetched: accepted, nothing happens (§11)
        handle = self.store.add_capture()
        self.capture_count += 1
        self._refresh_images()
        left = self.props.get(fp.CAPTURES_REMAINING)
        assert isinstance(left, int)
        self.props.update(fp.CAPTURES_REMAINING, max(0, left - 1))
        preview = self.store.read_bytes(handle)
        tid = r.transaction_id
        self._pending = _Capture(tid, handle, preview)
        return Reply(
            after=[
                lambda: s.send_event(FujiEvent.FUJI_OBJECT_ADDED, _EVENT_TAG, (tid, tid, 0, 0)),
                lambda: s.send_event(
                    FujiEvent.PREVIEW_AVAILABLE, _EVENT_TAG, (tid, tid, len(preview), 0)
                ),
            ]
        )

    @operation(FujiOperation.GET_CAPTURE_PREVIEW)
    async def _get_capture_preview(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        pending = self._pending
        if pending is None:
            return Reply(ResponseCode.GENERAL_ERROR)  # nothing captured to preview
        self._pending = None
        tid = r.transaction_id
        reply = Reply.with_data(pending.preview)
        # CaptureComplete with the 0x9022's TID, as in malc0mn's capture (§7.1).
        reply.after.append(lambda: s.send_event(EventCode.CAPTURE_COMPLETE, _EVENT_TAG, (tid, tid)))
        return reply

    async def _push_frames(self, conn: Connection) -> None:
        try:
            await self._stream(conn)
        except (ConnectionError, PtpError) as exc:
            log.info("live view ended: %s", exc)
        except Exception:
            log.exception("live view failed")
            conn.abort()

    async def _stream(self, conn: Connection) -> None:
        pictures = await self._liveview_pictures()
        loop = asyncio.get_running_loop()
        interval = 1 / self.liveview_fps
        due = loop.time()
        counter = 0
        while conn.is_open:
            jpeg = pictures[counter % len(pictures)]
            conn.write(encode_liveview_frame(counter, jpeg, _FRAME_TAIL))
            await conn.drain()
            counter = (counter + 1) & 0xFF
            due = max(due + interval, loop.time() - interval)  # no burst after a stall
            await asyncio.sleep(max(0.0, due - loop.time()))

    def _liveview_pictures(self) -> asyncio.Future[list[bytes]]:
        if self._pictures is None:
            loop = asyncio.get_running_loop()
            self._pictures = loop.run_in_executor(None, _make_pictures, self.model)
        return self._pictures

    # -- the card ----------------------------------------------------------------------------

    def _refresh_images(self) -> None:
        """The Wi-Fi view of the card: its images (no folders), numbered 1…N (§5)."""
        self.store.rescan()
        folders = set(self.store.handles(_ALL, ObjectFormatCode.ASSOCIATION, 0))
        self._images = sorted(h for h in self.store.handles(_ALL, 0, 0) if h not in folders)
        self.props.update(fp.OBJECT_COUNT, len(self._images))

    def _image(self, index: int) -> int:
        if not 1 <= index <= len(self._images):
            raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, f"no image {index}")
        return self._images[index - 1]

    @operation(OperationCode.GET_OBJECT_INFO)
    async def _get_object_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        info = self.store.object_info(self._image(_param(r, 0)))
        return Reply.with_data(dataclasses.replace(info, parent=0).encode())

    @operation(OperationCode.GET_THUMB)
    async def _get_thumb(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.store.thumbnail(self._image(_param(r, 0))))

    @operation(OperationCode.GET_OBJECT)
    async def _get_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.store.source(self._image(_param(r, 0))))

    @operation(OperationCode.GET_PARTIAL_OBJECT)
    async def _get_partial_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle = self._image(_param(r, 0))
        source = self.store.source(handle, _param(r, 1), _param(r, 2, _ALL))
        return Reply(ResponseCode.OK, (source.size,), source)


def _make_pictures(model: str) -> list[bytes]:
    """A few 640×480 live-view JPEGs (like the vector's), each marked with its number."""
    size = (640, 480)
    ramp = Image.linear_gradient("L")
    red, green = ramp.resize(size), ramp.transpose(Image.Transpose.ROTATE_90).resize(size)
    font = ImageFont.load_default(size=36)
    pictures: list[bytes] = []
    for index in range(_LIVEVIEW_PICTURES):
        shade = Image.new("L", size, 40 + index * 8)
        img = Image.merge("RGB", (red, green, shade))
        draw = ImageDraw.Draw(img)
        x = 40 + index * (size[0] - 120) // _LIVEVIEW_PICTURES
        draw.rectangle((x, 200, x + 40, 280), fill="white")
        draw.text((24, 20), f"{model} live view", fill="white", font=font)
        draw.text((24, 420), f"{index + 1:02d}/{_LIVEVIEW_PICTURES}", fill="white", font=font)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=60)
        pictures.append(out.getvalue())
    return pictures


#: For the camera factory (ptpip.camera.factory) and `ptpip simulate`.
PERSONALITY = FujiCamera
DEFAULT_MODEL = "X-T1"
DEFAULT_PORT = 55740
