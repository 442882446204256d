"""The Nikon client: D-series and Z bodies over PTP/IP (vendor-others.md §1).

Standard CIPA framing on 15740. What differs, and what this profile does about it:

- **Pairing**: a body answers an unknown GUID with InitFail reason 1; the message says how to
  register this computer, or to reuse the GUID the camera knows (``-g``); WU-1a/1b adapters
  use one fixed GUID (``-g nikon-wu``).
- **Events** come on the event connection and, where the body lists them, from GetEventEx
  0x941C or GetEvent 0x90C7, polled as libgphoto2 does; an event seen both ways is
  published once. The polling (or DeviceReady 0x90C8 when there is none) also keeps the link
  busy: a D5300 drops an idle client after about 30 s.
- **Capture**: InitiateCaptureRecInMedia 0x9207 (to the card, or to SDRAM when the
  recording media 0xD10B says so), InitiateCaptureRecInSdram 0x90C0 or InitiateCapture, by
  what the body lists; DeviceReady is polled until the body is no longer busy, then
  ObjectAdded or ObjectAddedInSdram (the SDRAM image is handle 0xFFFF0001) names the image.
- **Downloads**: GetPartialObject in 1 MiB pieces (larger ones make bodies drop the link);
  GetPartialObjectEx 0x9431 beyond 4 GiB, and once GetPartialObject answers AccessDenied
  (the Z 6II's transfer list); GetObjectSize 0x9421 for sizes over 4 GiB.
- **Properties**: DeviceInfo lists the standard ones; the Nikon ones (0xDxxx) come from
  GetVendorPropCodes 0x90CA and are merged into it, as libgphoto2 does. GetDevicePropDesc;
  where a body refuses it (the Z 8 answers 0x2005 over PTP/IP) GetDevicePropEx 0x9504.
- **Live view**: StartLiveView 0x9201 (DeviceBusy while it starts), GetLiveViewImg 0x9203
  (a header whose size depends on the model family, then the JPEG), EndLiveView 0x9202;
  NotLiveView 0xA00B restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar

from ptpip.client.events import CameraEvent
from ptpip.client.session import DATASET_LIMIT
from ptpip.errors import (
    AccessDenied,
    OperationNotSupported,
    PtpError,
    RemoteProtocolError,
    ResponseError,
    Timeout,
)
from ptpip.ptp.codes import EventCode, OperationCode, ResponseCode, Vendor
from ptpip.ptp.datasets import DeviceInfo, DevicePropDesc, ObjectInfo
from ptpip.vendors.base import VendorProfile, register
from ptpip.vendors.nikon.codec import (
    NOT_LIVE_VIEW,
    SDRAM_HANDLE,
    decode_events,
    decode_events_ex,
    decode_object_size,
    decode_partial_ex_response,
    decode_vendor_prop_codes,
    device_ready_busy,
    family_for_model,
    partial_ex_params,
    split_liveview,
)
from ptpip.vendors.nikon.codes import NikonEvent, NikonOperation

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, CapturedImage, LiveViewFrame
    from ptpip.client.session import DataSink

__all__ = ["ADAPTER_GUID", "NikonProfile"]

log = logging.getLogger("ptpip.nikon")

#: The fixed GUID WU-1a/1b adapters are said to use (vendor-others.md §1.2, from a libgphoto2
#: comment quoting 0011223344556677…; the last 8 bytes follow the pattern, unverified).
ADAPTER_GUID = bytes.fromhex("00112233445566778899aabbccddeeff")
#: How often events are polled where the body lists GetEvent/GetEventEx.
POLL_INTERVAL = 0.5
#: DeviceReady as keep-alive for bodies without event polling (they drop an idle client).
KEEPALIVE_INTERVAL = 10.0
#: An event seen on both paths within this many seconds is one event.
_SAME_EVENT = 2.0
#: The recording media property: 0 the card, 1 SDRAM (libgphoto2 config).
_RECORDING_MEDIA = 0xD10B
_NO_AF = 0xFFFF_FFFF
_U32_MAX = 0xFFFF_FFFF
_LIVEVIEW_START = 5.0


@register
class NikonProfile(VendorProfile):
    """A Nikon body: D-series and Z cameras, WT transmitters and WU adapters."""

    vendor: ClassVar[Vendor] = Vendor.NIKON
    probe_interval: ClassVar[float | None] = None  # event polling / DeviceReady do that job
    guid_aliases: ClassVar[dict[str, bytes]] = {"nikon-wu": ADAPTER_GUID}

    def __init__(self) -> None:
        self._ops: frozenset[int] = frozenset()
        self._recent: dict[tuple[int, tuple[int, ...]], float] = {}
        self._polled: set[int] = set()
        self._partial_ex_only = False
        self._model = ""

    def explain_init_fail(self, reason: int) -> str:
        if reason == 1:
            return (
                "the camera does not know this computer (InitFail 1): register it in the"
                " camera's 'Connect to computer' (Wi-Fi) menu, or give the GUID the camera"
                " knows with -g (WU-1a/1b adapters: -g nikon-wu)"
            )
        return super().explain_init_fail(reason)

    def response_hint(self, code: int) -> str | None:
        if code == ResponseCode.ACCESS_DENIED:
            return (
                "the camera may offer only the pictures marked for transfer: select them on"
                " the camera to send to the computer"
            )
        if code == NOT_LIVE_VIEW:
            return "live view is not running"
        return super().response_hint(code)

    # -- session -----------------------------------------------------------------------------

    async def prepare(self, camera: Camera) -> None:
        info = await camera.device_info()
        self._ops = frozenset(info.operations_supported)
        self._model = info.model
        conn = camera.connection
        conn.events_hub.listeners.append(self._seen)
        if self._poll_op() is not None:
            conn.spawn(self._poller(camera))
        elif NikonOperation.DEVICE_READY in self._ops:
            conn.spawn(self._keepalive(camera))

    def _poll_op(self) -> int | None:
        for op in (NikonOperation.GET_EVENT_EX, NikonOperation.GET_EVENT):
            if op in self._ops:
                return int(op)
        return None

    # -- events ------------------------------------------------------------------------------

    def _key(self, code: int, params: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
        return code, params

    def _seen(self, event: CameraEvent) -> None:
        """Every published event, to drop the same one arriving by the other path."""
        if id(event) not in self._polled:
            self._recent[self._key(event.code, event.params)] = time.monotonic()

    async def poll(self, camera: Camera) -> int:
        """One GetEventEx/GetEvent: publish what the event connection did not bring already."""
        op = self._poll_op()
        if op is None:
            return 0
        result = await camera.transact(op, check=False, max_data=DATASET_LIMIT)
        if not result.ok:
            return 0
        records = (
            decode_events_ex(result.data)
            if op == NikonOperation.GET_EVENT_EX
            else decode_events(result.data)
        )
        now = time.monotonic()
        self._recent = {k: t for k, t in self._recent.items() if now - t < _SAME_EVENT}
        hub = camera.connection.events_hub
        for record in records:
            key = self._key(record.code, tuple(record.params))
            if key in self._recent:
                continue  # it came on the event connection too
            self._recent[key] = now
            event = CameraEvent(record.code, tuple(record.params), None, self.vendor.value)
            self._polled.add(id(event))
            try:
                hub.publish(event)
            finally:
                self._polled.discard(id(event))
        return len(records)

    async def _poller(self, camera: Camera) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            with contextlib.suppress(Timeout, ResponseError):
                await self.poll(camera)

    async def _keepalive(self, camera: Camera) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            with contextlib.suppress(Timeout, ResponseError):
                await camera.transact(NikonOperation.DEVICE_READY, check=False)

    async def wait_ready(self, camera: Camera, timeout: float) -> None:
        """Poll DeviceReady while the body says it is busy (after a capture, say)."""
        if NikonOperation.DEVICE_READY not in self._ops:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = await camera.transact(NikonOperation.DEVICE_READY, check=False)
            if not device_ready_busy(result.code):
                return
            if loop.time() > deadline:
                raise Timeout(f"the camera stayed busy for {timeout:g} s (DeviceReady)")
            await asyncio.sleep(0.1)

    # -- capture -----------------------------------------------------------------------------

    async def capture(self, camera: Camera, timeout: float) -> list[CapturedImage]:
        added = (EventCode.OBJECT_ADDED, NikonEvent.OBJECT_ADDED_IN_SDRAM)
        done = (EventCode.CAPTURE_COMPLETE, NikonEvent.CAPTURE_COMPLETE_REC_IN_SDRAM)
        before: set[int] | None = None
        with contextlib.suppress(PtpError):
            before = set(await camera.object_handles())
        hub = camera.connection.events_hub
        with hub.subscribe((*added, *done), backlog=False) as sub:
            await self._release(camera)
            await self.wait_ready(camera, timeout)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            handles: list[int] = []
            while True:
                with contextlib.suppress(Timeout, ResponseError):
                    await self.poll(camera)
                try:
                    event = await sub.get(min(POLL_INTERVAL, max(0.0, deadline - loop.time())))
                except TimeoutError:
                    if handles or loop.time() >= deadline:
                        break
                    continue
                except StopAsyncIteration:
                    raise camera.connection_lost() from None
                if event.code == NikonEvent.OBJECT_ADDED_IN_SDRAM:
                    handles.append(
                        event.params[0] if event.params and event.params[0] else SDRAM_HANDLE
                    )
                elif event.code == EventCode.OBJECT_ADDED and event.params:
                    handles.append(event.params[0])
                elif event.code in done and handles:
                    break
        if not handles:
            handles = await self._new_handles(camera, before, timeout)
        return [await camera.captured_object(h) for h in dict.fromkeys(handles)]

    async def _release(self, camera: Camera) -> None:
        """The shutter, by what the body lists; to SDRAM when its recording media says so."""
        to_sdram = False
        with contextlib.suppress(PtpError):
            to_sdram = await camera.get_property(_RECORDING_MEDIA) == 1
        params: tuple[int, ...]
        if NikonOperation.INITIATE_CAPTURE_REC_IN_MEDIA in self._ops:
            params = (_NO_AF, 1 if to_sdram else 0)
            op: int = NikonOperation.INITIATE_CAPTURE_REC_IN_MEDIA
        elif NikonOperation.INITIATE_CAPTURE_REC_IN_SDRAM in self._ops:
            params, op = (_NO_AF,), NikonOperation.INITIATE_CAPTURE_REC_IN_SDRAM
        else:
            params, op = (0, 0), OperationCode.INITIATE_CAPTURE
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while True:  # a body still busy with the last shot answers DeviceBusy: again
            result = await camera.transact(op, params, check=False)
            if result.ok:
                return
            if not device_ready_busy(result.code) or loop.time() > deadline:
                raise camera.connection.response_error(op, result)
            await asyncio.sleep(0.1)

    # -- properties --------------------------------------------------------------------------

    async def device_info(self, camera: Camera, data: bytes) -> DeviceInfo:
        """DeviceInfo with the Nikon properties of GetVendorPropCodes 0x90CA added."""
        info = DeviceInfo.decode(data)
        if NikonOperation.GET_VENDOR_PROP_CODES not in info.operations_supported:
            return info
        try:
            result = await camera.transact(
                NikonOperation.GET_VENDOR_PROP_CODES, max_data=DATASET_LIMIT
            )
            extra = decode_vendor_prop_codes(result.data)
        except (ResponseError, RemoteProtocolError) as exc:
            log.info("GetVendorPropCodes failed (%s); the standard properties only", exc)
            return info
        known = info.device_properties_supported
        merged = known + tuple(c for c in dict.fromkeys(extra) if c not in set(known))
        return dataclasses.replace(info, device_properties_supported=merged)

    async def describe(self, camera: Camera, code: int) -> DevicePropDesc:
        try:
            return await camera.read_prop_desc(code)
        except OperationNotSupported:
            # The Z 8 refuses GetDevicePropDesc over PTP/IP (libgphoto2 #1135).
            if NikonOperation.GET_DEVICE_PROP_EX not in self._ops:
                raise
        result = await camera.transact(
            NikonOperation.GET_DEVICE_PROP_EX, (code,), max_data=DATASET_LIMIT
        )
        return DevicePropDesc.decode(result.data)

    # -- transfers ---------------------------------------------------------------------------

    async def object_size(self, camera: Camera, handle: int, info: ObjectInfo) -> int | None:
        if info.compressed_size != _U32_MAX:
            return info.compressed_size
        if NikonOperation.GET_OBJECT_SIZE not in self._ops:
            return None
        result = await camera.transact(
            NikonOperation.GET_OBJECT_SIZE, (handle,), max_data=DATASET_LIMIT
        )
        return decode_object_size(result.data)

    async def partial_reads(self, camera: Camera) -> bool:
        ex = NikonOperation.GET_PARTIAL_OBJECT_EX in self._ops
        return ex or await super().partial_reads(camera)

    async def read_piece(
        self, camera: Camera, handle: int, offset: int, length: int, sink: DataSink
    ) -> None:
        ex = NikonOperation.GET_PARTIAL_OBJECT_EX in self._ops
        plain = OperationCode.GET_PARTIAL_OBJECT in self._ops
        if plain and not self._partial_ex_only and offset + length <= _U32_MAX:
            try:
                await super().read_piece(camera, handle, offset, length, sink)
                return
            except AccessDenied:
                if not ex:
                    raise
                # The Z 6II's transfer list: only 0x9431 reads unmarked pictures.
                log.info("GetPartialObject refused; reading with GetPartialObjectEx")
                self._partial_ex_only = True
        result = await camera.transact(
            NikonOperation.GET_PARTIAL_OBJECT_EX,
            partial_ex_params(handle, offset, length),
            sink=sink,
        )
        sent = decode_partial_ex_response(result.params)
        if sent is not None and sent > length:
            raise ResponseError(
                result.code, message=f"GetPartialObjectEx sent {sent} bytes of {length} asked"
            )

    # -- live view ---------------------------------------------------------------------------

    async def liveview(self, camera: Camera) -> AsyncIterator[LiveViewFrame]:
        from ptpip.client.camera import LiveViewFrame

        if NikonOperation.GET_LIVE_VIEW_IMG not in self._ops:
            raise OperationNotSupported(
                ResponseCode.OPERATION_NOT_SUPPORTED,
                message="this Nikon lists no live view (GetLiveViewImg 0x9203)",
            )
        family = family_for_model(self._model)
        await self._start_liveview(camera)
        counter = 0
        loop = asyncio.get_running_loop()
        try:
            busy_since: float | None = None
            while True:
                result = await camera.transact(NikonOperation.GET_LIVE_VIEW_IMG, check=False)
                if result.code == NOT_LIVE_VIEW:
                    await self._start_liveview(camera)  # it stopped by itself: again
                    continue
                if device_ready_busy(result.code):
                    busy_since = busy_since or loop.time()
                    if loop.time() - busy_since > _LIVEVIEW_START:
                        raise Timeout(f"no live-view image within {_LIVEVIEW_START:g} s")
                    await asyncio.sleep(0.05)
                    continue
                if not result.ok:
                    raise camera.connection.response_error(NikonOperation.GET_LIVE_VIEW_IMG, result)
                busy_since = None
                _, jpeg, info = split_liveview(result.data, family)
                yield LiveViewFrame(jpeg, counter & 0xFFFF, info)
                counter += 1
        finally:
            with contextlib.suppress(Exception):
                await camera.transact(NikonOperation.END_LIVE_VIEW, check=False)

    async def _start_liveview(self, camera: Camera) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _LIVEVIEW_START
        while True:
            result = await camera.transact(NikonOperation.START_LIVE_VIEW, check=False)
            if result.ok or result.code == ResponseCode.SESSION_ALREADY_OPEN:
                return
            if not device_ready_busy(result.code) or loop.time() > deadline:
                raise camera.connection.response_error(NikonOperation.START_LIVE_VIEW, result)
            await asyncio.sleep(0.1)
