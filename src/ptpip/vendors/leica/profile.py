"""The Leica FOTOS-era dialect, client side (vendor-leica.md).

Standard CIPA framing on port 15740 with these differences:

- Init (§2): the friendly name goes without its NUL (seed 000's FOTOS client, "OLS"); the
  ack has a zero GUID, an empty name and version 0.0; responses always carry 5 parameters and
  events 3, unsolicited ones with TID 0xFFFFFFFF. The client's decoders take all of it.
- Session (§7): OpenSession (FOTOS: SessionID 0x412), then OpenLESession 0x9005(0xFF55);
  on exit LECloseSession 0x9006, then CloseSession, which real bodies answer with TID 0.
- Heartbeat (§3): LEKeepSessionActive 0x901D every ``heartbeat_interval`` seconds (the real
  period is unknown). It goes through :meth:`Camera.transact`, whose lock is FIFO, so it never
  lands inside another transaction: during a long transfer it waits, and goes right after it.
  The trade-off: one single transaction longer than the camera's own timeout (a huge GetObject
  without GetPartialObject, which PTP/IP cannot interrupt with anything but Cancel) leaves a
  gap no client can fill. Downloads use GetPartialObject in 1 MiB pieces when the camera lists
  it, so the heartbeat is late by at most one piece.
- Events (§4): DevicePropChanged arrives on the event connection into ``camera.events()``;
  the profile also re-reads the value of a property it has cached (the property cache).
- Live view (§6): EnabledStreams 0x5021 bit 0, GetStreamInfo 0x1024, VideoFormat 0x5022
  ('MJPG'), then LEGetStreamData 0x9025 in a loop; the JPEG follows a TLV header.

Operations whose layout is unknown (GetLensParameter 0x9003, LEGetLookPropList 0x9033, ...)
are left to :meth:`Camera.opreq`; their names come from :mod:`ptpip.vendors.leica.codes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, ClassVar

from ptpip.client.events import CameraEvent
from ptpip.client.session import DATASET_LIMIT
from ptpip.errors import (
    ConnectionClosed,
    OperationNotSupported,
    PtpError,
    RemoteProtocolError,
    Timeout,
    TransportError,
)
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandRequest
from ptpip.ptp.codes import DataType, DevicePropertyCode, EventCode, OperationCode, ResponseCode
from ptpip.ptp.codes import Vendor as _Vendor
from ptpip.ptp.datasets import DevicePropDesc
from ptpip.ptp.values import Value
from ptpip.vendors.base import VendorProfile, register
from ptpip.vendors.leica.codec import decode_stream_frame
from ptpip.vendors.leica.codes import LeicaOperation
from ptpip.vendors.leica.stream_info import ENABLE_VIDEO_STREAM, MJPG, StreamInfo, fourcc

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, LiveViewFrame
    from ptpip.client.identity import Identity

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "FOTOS_GUID",
    "FOTOS_NAME",
    "FOTOS_SESSION_ID",
    "LE_SESSION_PARAM",
    "LeicaProfile",
]

log = logging.getLogger("ptpip.leica")

#: What Leica's FOTOS app sends (seed 000): a zero GUID and the name "OLS" (no NUL).
FOTOS_GUID = bytes(16)
FOTOS_NAME = "OLS"
#: OpenSession's SessionID in seed 000.
FOTOS_SESSION_ID = 0x0000_0412
#: OpenLESession's parameter in seed 000 (libgphoto2 sends 0; the Q3 note agrees on 0xFF55).
LE_SESSION_PARAM = 0x0000_FF55
#: Seconds between heartbeats: unverified (§3); below Canon's 10 s keep-alive.
DEFAULT_HEARTBEAT_INTERVAL = 5.0
#: How long live view may answer DeviceBusy or send no frame before giving up.
_LIVEVIEW_START = 5.0


@register
class LeicaProfile(VendorProfile):
    """A Leica body (M10/M11, Q2/Q3, SL2 class, firmware 3.0 or later) over Wi-Fi.

    Settings (keyword arguments; pass the instance as ``connect(..., vendor=profile)``):

    - ``heartbeat_interval``: seconds between LEKeepSessionActive; None or 0 sends none.
    - ``name_terminated``: send the Init name with its NUL (CIPA) instead of FOTOS's form.
    - ``session_id``: OpenSession's SessionID (FOTOS: 0x412).
    - ``le_session_param``: OpenLESession's parameter (FOTOS: 0xFF55; libgphoto2: 0).

    The GUID and name come from the persisted identity, like other vendors'; FOTOS's exact
    Init is ``connect(..., guid=FOTOS_GUID, name=FOTOS_NAME)``.
    """

    vendor: ClassVar[_Vendor] = _Vendor.LEICA
    session_id: ClassVar[int] = FOTOS_SESSION_ID
    probe_interval: ClassVar[float | None] = None  # the heartbeat does that job

    def __init__(
        self,
        *,
        heartbeat_interval: float | None = DEFAULT_HEARTBEAT_INTERVAL,
        name_terminated: bool = False,
        session_id: int = FOTOS_SESSION_ID,
        le_session_param: int = LE_SESSION_PARAM,
    ) -> None:
        if heartbeat_interval is not None and heartbeat_interval < 0:
            raise ValueError("heartbeat_interval must not be negative")
        self.heartbeat_interval = heartbeat_interval
        self.name_terminated = name_terminated
        self.open_session_id = session_id
        self.le_session_param = le_session_param
        #: whether OpenLESession succeeded (and LECloseSession is due at the end)
        self.le_session_open = False
        #: heartbeats the camera answered with OK
        self.heartbeats = 0
        #: the property cache: last known values, kept current by DevicePropChanged
        self.values: dict[int, Value] = {}
        #: the last GetStreamInfo answer (live view)
        self.stream_info: StreamInfo | None = None
        self._stop = asyncio.Event()
        self._stale: set[int] = set()
        self._wake = asyncio.Event()
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._listener: Callable[[CameraEvent], None] | None = None

    def init_request(self, identity: Identity) -> InitCommandRequest | FujiInitCommandRequest:
        return InitCommandRequest(
            identity.guid, identity.name, name_terminated=self.name_terminated
        )

    def response_hint(self, code: int) -> str | None:
        if code == ResponseCode.SESSION_NOT_OPEN:
            return "the camera closed the session (heartbeats missed?); reconnect"
        return super().response_hint(code)

    # -- session -----------------------------------------------------------------------------

    async def open(self, camera: Camera) -> None:
        await camera.connection.connect_events()
        await self.open_session(camera, self.open_session_id)
        await self.prepare(camera)

    async def prepare(self, camera: Camera) -> None:
        conn = camera.connection
        self._stop = asyncio.Event()  # a profile may serve one connection after another
        self._stale.clear()
        result = await camera.transact(
            LeicaOperation.OPEN_LE_SESSION, (self.le_session_param,), check=False
        )
        # The camera lists more operations now (libgphoto2 re-reads DeviceInfo); Camera reads
        # it lazily, so the first device_info() call sees the full list.
        self.le_session_open = result.ok
        if not result.ok:
            log.warning("OpenLESession answered 0x%04X: no Leica session", result.code)
        self._listener = self._on_event
        conn.events_hub.listeners.append(self._listener)
        conn.spawn(self._refresher(camera))
        if self.le_session_open and self.heartbeat_interval:
            self._heartbeat_task = conn.spawn(self._heartbeat(camera))

    async def close(self, camera: Camera) -> None:
        conn = camera.connection
        # The heartbeat finishes a running 0x901D (the lock queues us behind it) and sends
        # no other: nothing may follow LECloseSession.
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(ValueError):
                conn.events_hub.listeners.remove(self._listener)
        if self.le_session_open and conn.session_id is not None and conn.is_open:
            with contextlib.suppress(Exception):
                await camera.transact(
                    LeicaOperation.CLOSE_LE_SESSION, timeout=min(3.0, conn.timeout), check=False
                )
        self.le_session_open = False
        await super().close(camera)  # CloseSession, accepting Leica's TID 0 answer

    async def _heartbeat(self, camera: Camera) -> None:
        """LEKeepSessionActive, ``heartbeat_interval`` seconds after the previous one ended."""
        conn = camera.connection
        complained = False
        while conn.is_open:
            interval = self.heartbeat_interval
            if not interval:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)
            if self._stop.is_set():
                return
            try:
                result = await camera.transact(LeicaOperation.LE_KEEP_SESSION_ACTIVE, check=False)
            except Timeout as exc:
                log.warning("heartbeat: %s", exc)
                continue
            except TransportError:  # the connection is gone
                return
            except PtpError as exc:
                log.warning("heartbeat failed: %s", exc)
                continue
            if result.ok:
                self.heartbeats += 1
                complained = False
            elif result.code == ResponseCode.OPERATION_NOT_SUPPORTED:
                log.info("the camera has no LEKeepSessionActive: no heartbeat")
                return
            elif not complained:
                log.warning("the camera answered the heartbeat with 0x%04X", result.code)
                complained = True

    # -- events and the property cache -------------------------------------------------------

    def _on_event(self, event: CameraEvent) -> None:
        if event.code == EventCode.DEVICE_PROP_CHANGED and event.params:
            code = event.params[0]
            if code in self.values:
                self._stale.add(code)
                self._wake.set()

    async def _refresher(self, camera: Camera) -> None:
        """Re-read cached properties the camera said changed (one transaction each)."""
        while camera.connection.is_open:
            await self._wake.wait()
            self._wake.clear()
            while self._stale and not self._stop.is_set():
                code = self._stale.pop()
                try:
                    await self.get_value(camera, code)
                except (ConnectionClosed, Timeout):
                    return
                except PtpError as exc:
                    log.info("re-reading 0x%04X after DevicePropChanged: %s", code, exc)
                    self.values.pop(code, None)

    def cached_value(self, code: int) -> Value | None:
        """The last known value of ``code`` (None when never read or just changed)."""
        return None if code in self._stale else self.values.get(code)

    async def describe(self, camera: Camera, code: int) -> DevicePropDesc:
        desc = await camera.read_prop_desc(code)
        self.values[code] = desc.current
        return desc

    async def get_value(self, camera: Camera, code: int) -> Value:
        desc = await camera.describe(code, refresh=False)
        value = await camera.read_prop_value(code, desc.datatype)
        self.values[code] = value
        self._stale.discard(code)
        camera.remember_description(dataclasses.replace(desc, current=value))
        return value

    async def set_value(self, camera: Camera, code: int, value: Value) -> None:
        desc = await camera.describe(code, refresh=False)
        await camera.write_prop_value(code, desc.datatype, value)
        self.values[code] = value

    # -- live view ---------------------------------------------------------------------------

    async def liveview(self, camera: Camera) -> AsyncIterator[LiveViewFrame]:
        """EnabledStreams bit 0, GetStreamInfo, VideoFormat; then LEGetStreamData frames."""
        streams = DevicePropertyCode.ENABLED_STREAMS
        before = 0
        with contextlib.suppress(PtpError):
            value = await camera.read_prop_value(streams, DataType.UINT32)
            before = value if isinstance(value, int) else 0
        await camera.write_prop_value(streams, DataType.UINT32, before | ENABLE_VIDEO_STREAM)
        try:
            info = await camera.transact(
                OperationCode.GET_STREAM_INFO, check=False, max_data=DATASET_LIMIT
            )
            if info.ok and info.data:
                with contextlib.suppress(RemoteProtocolError):
                    self.stream_info = StreamInfo.decode(info.data)
            video = await camera.read_prop_value(DevicePropertyCode.VIDEO_FORMAT, DataType.UINT32)
            if video != MJPG:
                shown = fourcc(video) if isinstance(video, int) else repr(video)
                raise OperationNotSupported(
                    ResponseCode.OPERATION_NOT_SUPPORTED,
                    message=f"live view in {shown} (VideoFormat); only MJPG is understood",
                )
            async for frame in self._frames(camera):
                yield frame
        finally:
            with contextlib.suppress(Exception):
                await camera.write_prop_value(streams, DataType.UINT32, before)

    async def _frames(self, camera: Camera) -> AsyncIterator[LiveViewFrame]:
        from ptpip.client.camera import LiveViewFrame

        loop = asyncio.get_running_loop()
        waiting_since: float | None = None
        counter = 0
        while True:
            result = await camera.transact(LeicaOperation.LE_GET_STREAM_DATA, check=False)
            if result.ok and result.data:
                waiting_since = None
                frame = decode_stream_frame(result.data)
                yield LiveViewFrame(frame.jpeg, counter & 0xFF, frame)
                counter += 1
                continue
            if result.code not in (ResponseCode.OK, ResponseCode.DEVICE_BUSY):
                raise camera.connection.response_error(LeicaOperation.LE_GET_STREAM_DATA, result)
            now = loop.time()
            waiting_since = waiting_since or now
            if now - waiting_since > _LIVEVIEW_START:
                raise Timeout(f"no live-view frame within {_LIVEVIEW_START:g} s")
            await asyncio.sleep(0.05)
