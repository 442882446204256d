"""The Fujifilm X Wi-Fi dialect, client side (vendor-fuji.md).

Only the Init packet looks like PTP/IP: 82 bytes with the magic 0x8F53E4F2; after the ack the
command port (55740) carries USB-style containers. Remote mode is ClientState 0xDF01 = 5 (the
camera may hold the answer until the user confirms on its screen), then the 0xDF24 version is
read and echoed, and InitiateOpenCapture opens the event (55741) and live-view (55742) ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar

from ptpip.client.session import DATASET_LIMIT
from ptpip.errors import (
    CaptureError,
    ConnectionClosed,
    OperationNotSupported,
    PtpError,
    RemoteProtocolError,
    ResponseError,
    Timeout,
    TransportError,
)
from ptpip.ip.framing import FUJI_GOODBYE
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandRequest
from ptpip.ptp.codes import DataType, EventCode, InitFailReason, OperationCode, ResponseCode, Vendor
from ptpip.ptp.datasets import DeviceInfo, DevicePropDesc
from ptpip.ptp.values import Value
from ptpip.vendors.base import VendorProfile, register
from ptpip.vendors.fuji.codec import LiveViewStreamReader, decode_prop_list, decode_state

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, CapturedImage, LiveViewFrame
    from ptpip.client.identity import Identity

__all__ = ["FUJI_TYPES", "FujiOp", "FujiProfile"]

log = logging.getLogger("ptpip.fuji")


class FujiOp:
    """Fuji operation, event and property codes this profile uses (vendor-fuji.md §5, §7, §8)."""

    GET_CAPTURE_PREVIEW = 0x9022
    GET_FUJI_DEVICE_INFO = 0x902B
    STEP_SHUTTER_SPEED = 0x902C
    STEP_F_NUMBER = 0x902D
    STEP_EXPOSURE_BIAS = 0x902E
    EVENT_PREVIEW_AVAILABLE = 0xC001
    EVENT_OBJECT_ADDED = 0xC004
    CURRENT_STATE = 0xD212
    CAMERA_STATE = 0xDF00
    CLIENT_STATE = 0xDF01
    REMOTE_VERSION = 0xDF24


#: Value types of the properties a Fuji body reports only in 0xD212 pairs or never describes
#: (vendor-fuji.md §8, §15); used when 0x1014 has no description.
FUJI_TYPES: dict[int, int] = {
    0x5001: DataType.UINT8,
    0x5003: DataType.STR,
    0x5005: DataType.UINT16,
    0x5007: DataType.UINT16,
    0x500A: DataType.UINT16,
    0x500C: DataType.UINT16,
    0x500D: DataType.UINT32,
    0x500E: DataType.UINT16,
    0x5010: DataType.INT16,
    0x5012: DataType.UINT16,
    0xD001: DataType.UINT16,
    0xD018: DataType.UINT16,
    0xD019: DataType.UINT16,
    0xD028: DataType.UINT16,
    0xD02A: DataType.UINT32,
    0xD02B: DataType.UINT32,
    0xD17C: DataType.UINT32,
    0xD209: DataType.UINT16,
    0xD21B: DataType.UINT16,
    0xD229: DataType.UINT32,
    0xD22A: DataType.UINT32,
    0xD240: DataType.UINT32,
    0xD241: DataType.UINT16,
    0xD242: DataType.UINT16,
    0xDF00: DataType.UINT16,
    0xDF01: DataType.UINT16,
    0xDF21: DataType.UINT32,
    0xDF22: DataType.UINT32,
    0xDF23: DataType.UINT32,
    0xDF24: DataType.UINT32,
    0xDF25: DataType.UINT32,
    0xDF31: DataType.UINT32,
}

_REMOTE_MODE = 5
_BROWSE_MODE = 2
#: How long to wait for the user to accept this client on the camera's screen.
PAIRING_TIMEOUT = 180.0
_PAIRING_NOTICE_AFTER = 1.5


@register
class FujiProfile(VendorProfile):
    """A Fujifilm X camera in Wi-Fi remote mode."""

    vendor: ClassVar[Vendor] = Vendor.FUJI
    default_ports: ClassVar[tuple[int, int | None, int | None]] = (55740, 55741, 55742)
    fuji_dialect: ClassVar[bool] = True
    #: malc0mn and libfuji open the session with TID 1 (vendor-fuji.md §4.1)
    first_transaction_id: ClassVar[int] = 1
    init_timeout: ClassVar[float] = PAIRING_TIMEOUT
    max_name_units: ClassVar[int] = 26  # the 54-byte name field of the 82-byte Init
    info_lists_properties: ClassVar[bool] = True  # the seed's info: the 0x902B list
    #: its own Init, framing and ports: never reached by opening a camera generically
    detectable: ClassVar[bool] = False
    probe_interval: ClassVar[float | None] = None  # no Probe in the container dialect
    pairing_notice: ClassVar[str | None] = "Accept this client on the camera's screen"

    def __init__(self) -> None:
        self._descs: dict[int, DevicePropDesc] | None = None
        self._open_capture_tid: int | None = None
        #: whether the camera offers remote control; without it (X-A2-class bodies in
        #: image-transfer mode: no 0xDF24 version) it is for browsing and downloads only
        self.remote = True

    def init_request(self, identity: Identity) -> InitCommandRequest | FujiInitCommandRequest:
        # Always the 82-byte form: the X-T4 closes the socket for any other length. Its name
        # field holds 26 UTF-16 units and the NUL: longer names are cut (never mid-pair).
        return FujiInitCommandRequest(identity.guid, _fit_utf16(identity.name, self.max_name_units))

    def explain_init_fail(self, reason: int) -> str:
        if reason == InitFailReason.FUJI_DEVICE_BUSY:
            return (
                "the camera refused this client (InitFail 0x2019): it knows another client name,"
                " or is not waiting for a connection. On the camera choose 'change' to accept"
                " this client (or 'reset'/'retry') and connect again"
            )
        if reason == InitFailReason.FUJI_INVALID_PARAMETER:
            return "the camera does not speak this Fuji protocol version (InitFail 0x201D)"
        return super().explain_init_fail(reason)

    # -- session -----------------------------------------------------------------------------

    async def open(self, camera: Camera) -> None:
        await self.open_session(camera)
        try:
            await self._remote_mode(camera)
        except ResponseError as exc:
            if exc.code == ResponseCode.DEVICE_BUSY:
                raise
            self._browse_only(camera, f"ClientState 5 refused: {exc}")
            # "view all images / normal PTP" (vendor-fuji.md §4.3), for what it is worth
            await camera.transact(
                OperationCode.SET_DEVICE_PROP_VALUE,
                (FujiOp.CLIENT_STATE,),
                data=struct.pack("<H", _BROWSE_MODE),
                check=False,
            )
            return
        version = await camera.transact(
            OperationCode.GET_DEVICE_PROP_VALUE, (FujiOp.REMOTE_VERSION,), check=False
        )
        if not version.ok or len(version.data) < 4:
            self._browse_only(camera, f"no remote version in 0xDF24 ({len(version.data)} bytes)")
            return
        # Echo the version back: a too-old value makes the camera ask to upgrade the app.
        await camera.transact(
            OperationCode.SET_DEVICE_PROP_VALUE, (FujiOp.REMOTE_VERSION,), data=version.data[:4]
        )
        result = await camera.transact(OperationCode.INITIATE_OPEN_CAPTURE, (0, 0))
        self._open_capture_tid = result.transaction_id
        # The camera opens 55741/55742 only now, and not at once: retry while refused.
        await camera.connection.connect_events(retries=20, retry_delay=0.25)

    def _browse_only(self, camera: Camera, why: str) -> None:
        self.remote = False
        log.info("%s: browsing and downloads only", why)
        camera.connection.notice(
            "This camera offers no remote control over Wi-Fi in this mode: browsing and"
            " downloads only"
        )

    def _require_remote(self, what: str) -> None:
        if not self.remote:
            raise OperationNotSupported(
                ResponseCode.OPERATION_NOT_SUPPORTED,
                message=f"{what}: this camera does not offer remote control over Wi-Fi"
                " (no remote version in 0xDF24): it can be browsed and downloaded from only",
            )

    async def _remote_mode(self, camera: Camera) -> None:
        """ClientState 0xDF01 = 5; answered only once the user accepts a new client."""
        task = asyncio.create_task(
            camera.transact(
                OperationCode.SET_DEVICE_PROP_VALUE,
                (FujiOp.CLIENT_STATE,),
                data=struct.pack("<H", _REMOTE_MODE),
                timeout=PAIRING_TIMEOUT,
            )
        )
        done, _ = await asyncio.wait({task}, timeout=_PAIRING_NOTICE_AFTER)
        if not done:
            camera.connection.notice(
                f"Confirm the connection on the camera (it shows this client's name,"
                f" '{camera.connection.identity.name}'); waiting up to {PAIRING_TIMEOUT:g} s"
            )
        await task

    async def close(self, camera: Camera) -> None:
        conn = camera.connection
        if conn.session_id is not None and conn.is_open:
            with contextlib.suppress(Exception):
                if self._open_capture_tid is not None:
                    await camera.transact(
                        OperationCode.TERMINATE_OPEN_CAPTURE,
                        (self._open_capture_tid,),
                        timeout=min(3.0, conn.timeout),
                        check=False,
                    )
        await super().close(camera)
        channel = conn.command_channel
        if channel is not None and channel.is_open:
            with contextlib.suppress(PtpError):
                channel.write(FUJI_GOODBYE)  # fudge/hkr: the polite way to leave

    async def device_info(self, camera: Camera, data: bytes) -> DeviceInfo:
        # libgphoto2: some bodies answer GetDeviceInfo with no data over Wi-Fi.
        if not data:
            return DeviceInfo(vendor_extension_id=0xE, manufacturer="FUJIFILM", model="")
        return DeviceInfo.decode(data)

    # -- properties --------------------------------------------------------------------------

    async def _prop_list(
        self, camera: Camera, *, refresh: bool = False
    ) -> dict[int, DevicePropDesc]:
        if self._descs is None or refresh:
            result = await camera.transact(FujiOp.GET_FUJI_DEVICE_INFO, max_data=DATASET_LIMIT)
            self._descs = {d.code: d for d in decode_prop_list(result.data)}
        return self._descs

    async def describe(self, camera: Camera, code: int) -> DevicePropDesc:
        # 0x1014 answers for many properties (and better once 0x902B ran, per the seed);
        # for an unknown one the camera sends no data and no error.
        descs = await self._prop_list(camera)
        try:
            return await camera.read_prop_desc(code)
        except RemoteProtocolError:
            if code in descs:
                return descs[code]
            raise
        except ResponseError:
            if code in descs:
                return descs[code]
            raise

    async def _datatype(self, camera: Camera, code: int) -> int:
        if code in FUJI_TYPES:
            return FUJI_TYPES[code]
        return (await camera.describe(code, refresh=False)).datatype

    async def get_value(self, camera: Camera, code: int) -> Value:
        datatype = await self._datatype(camera, code)
        try:
            return await camera.read_prop_value(code, datatype)
        except RemoteProtocolError:
            # Some bodies answer GetDevicePropValue with no data: like describe, fall back
            # on what the camera reports elsewhere - its 0xD212 state, then the 0x902B list.
            with contextlib.suppress(PtpError):
                for state_code, value in await self.state(camera):
                    if state_code == code:
                        return value
            descs = await self._prop_list(camera, refresh=True)
            if code in descs:
                return descs[code].current
            raise

    async def set_value(self, camera: Camera, code: int, value: Value) -> None:
        self._require_remote("set")
        await camera.write_prop_value(code, await self._datatype(camera, code), value)
        if self._descs is not None:
            self._descs.pop(code, None)

    async def properties(self, camera: Camera) -> list[DevicePropDesc]:
        """The 0x902B list: what the camera shows in its current exposure mode."""
        return list((await self._prop_list(camera, refresh=True)).values())

    async def state(self, camera: Camera) -> list[tuple[int, Value]]:
        """0xD212: (code, value) pairs; values are u32 on the wire, narrowed by type."""
        result = await camera.transact(
            OperationCode.GET_DEVICE_PROP_VALUE, (FujiOp.CURRENT_STATE,), max_data=DATASET_LIMIT
        )
        pairs: list[tuple[int, Value]] = []
        for code, raw in decode_state(result.data):
            datatype = FUJI_TYPES.get(code, DataType.UINT32)
            value = raw
            if datatype == DataType.INT16:
                value = raw & 0xFFFF
                value -= 0x10000 if value & 0x8000 else 0
            pairs.append((code, value))
        return pairs

    async def step(self, camera: Camera, what: str, up: bool) -> None:
        """One third-stop step of shutter speed, aperture or exposure bias (0x902C–0x902E)."""
        ops = {
            "shutter": FujiOp.STEP_SHUTTER_SPEED,
            "aperture": FujiOp.STEP_F_NUMBER,
            "exp-bias": FujiOp.STEP_EXPOSURE_BIAS,
        }
        if what not in ops:
            raise ValueError(f"cannot step {what!r}: one of {', '.join(ops)}")
        self._require_remote("step")
        await camera.transact(ops[what], (1 if up else 0,))

    # -- capture -----------------------------------------------------------------------------

    async def capture(self, camera: Camera, timeout: float) -> list[CapturedImage]:
        """InitiateCapture; 0xC004, 0xC001 (preview size); GetCapturePreview; 0x400D.

        Unrelated events in between are skipped (malc0mn fails on them). The preview must
        be fetched: without it the camera never completes and ignores later captures.
        """
        from ptpip.client.camera import CapturedImage

        self._require_remote("capture")
        codes = (FujiOp.EVENT_OBJECT_ADDED, FujiOp.EVENT_PREVIEW_AVAILABLE, EventCode.OBJECT_ADDED)
        hub = camera.connection.events_hub
        loop = asyncio.get_running_loop()
        with hub.subscribe((*codes, EventCode.CAPTURE_COMPLETE), backlog=False) as sub:
            result = await camera.transact(OperationCode.INITIATE_CAPTURE, (0, 0))
            deadline = loop.time() + timeout
            preview_size: int | None = None

            async def next_event() -> int:
                try:
                    event = await sub.get(max(0.0, deadline - loop.time()))
                except TimeoutError:
                    raise CaptureError(
                        f"the camera announced no picture (0xC004/0x400D) within {timeout:g} s"
                    ) from None
                except StopAsyncIteration:
                    raise ConnectionClosed("the camera closed the event connection") from None
                nonlocal preview_size
                if event.code == FujiOp.EVENT_PREVIEW_AVAILABLE and len(event.params) >= 3:
                    preview_size = event.params[2]
                return event.code

            while await next_event() != FujiOp.EVENT_PREVIEW_AVAILABLE:
                pass
            preview = await camera.transact(FujiOp.GET_CAPTURE_PREVIEW, (0,))
            if preview_size is not None and preview_size != len(preview.data):
                log.warning("preview of %d bytes, %d announced", len(preview.data), preview_size)
            while await next_event() != EventCode.CAPTURE_COMPLETE:
                pass
        name = f"capture_{result.transaction_id:04d}.jpg"
        from pathlib import PurePosixPath

        return [CapturedImage(None, None, PurePosixPath(name), preview.data)]

    # -- live view ---------------------------------------------------------------------------

    async def liveview(self, camera: Camera) -> AsyncIterator[LiveViewFrame]:
        """Frames from the stream port (55742): no handshake, the camera just pushes."""
        from ptpip.client.camera import LiveViewFrame

        self._require_remote("liveview")
        conn = camera.connection
        port = conn.stream_port
        if port is None:
            raise TransportError("no live-view port configured")
        reader, writer = await _open_retrying(conn.host, port, conn.timeout)
        stream = LiveViewStreamReader()
        try:
            while data := await reader.read(1 << 16):
                for frame in stream.feed(data):
                    yield LiveViewFrame(frame.jpeg, frame.counter, frame.header)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def response_hint(self, code: int) -> str | None:
        if code == ResponseCode.DEVICE_BUSY:
            return "the camera is busy (or not in remote mode); try again in a moment"
        return super().response_hint(code)


async def _open_retrying(
    host: str, port: int, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for attempt in range(20):
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.open_connection(host, port)
        except ConnectionRefusedError:
            if attempt == 19:
                raise TransportError(f"{host}:{port} refused the live-view connection") from None
            await asyncio.sleep(0.25)
        except TimeoutError:
            raise Timeout(f"no answer from {host}:{port} within {timeout:g} s") from None
        except OSError as exc:
            raise TransportError(f"cannot open the live-view port {port}: {exc}") from None
    raise TransportError("unreachable")  # pragma: no cover


def _fit_utf16(text: str, units: int) -> str:
    """The longest start of ``text`` that takes at most ``units`` UTF-16 code units."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:i]
    return text
