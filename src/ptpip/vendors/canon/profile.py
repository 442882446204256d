"""The Canon EOS dialect over Wi-Fi/LAN, client side (vendor-canon.md).

Standard CIPA framing; the differences are operations: remote and event mode after
OpenSession, events by polling GetEvent (0x9116) into a property cache, properties written
with SetDevicePropValueEx (0x9110), the release by RemoteReleaseOn/Off, KeepDeviceOn every
10 s, live view by GetViewFinderData (0x9153).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from ptpip.client.events import CameraEvent
from ptpip.client.session import DATASET_LIMIT
from ptpip.errors import CaptureError, ConnectionClosed, PtpError, ResponseError, Timeout
from ptpip.ptp.codes import DataType, InitFailReason, ResponseCode, Vendor
from ptpip.ptp.datasets import DevicePropDesc, ObjectInfo, PropEnum
from ptpip.ptp.values import Value
from ptpip.vendors.base import VendorProfile, register
from ptpip.vendors.canon.codec import (
    AvailListChanged,
    CameraStatusChanged,
    EventRecord,
    ObjectAdded,
    ObjectRemoved,
    PropValueChanged,
    RequestObjectTransfer,
    decode_events,
    decode_viewfinder,
    encode_set_prop_ex,
    viewfinder_jpeg,
)

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, CapturedImage, LiveViewFrame

__all__ = ["CANON_TYPES", "CanonOp", "CanonProfile"]

log = logging.getLogger("ptpip.canon")


class CanonOp:
    """EOS operations (vendor-canon.md §6)."""

    SET_DEVICE_PROP_VALUE_EX = 0x9110
    SET_REMOTE_MODE = 0x9114
    SET_EVENT_MODE = 0x9115
    GET_EVENT = 0x9116
    TRANSFER_COMPLETE = 0x9117
    KEEP_DEVICE_ON = 0x911D
    REMOTE_RELEASE_ON = 0x9128
    REMOTE_RELEASE_OFF = 0x9129
    GET_VIEWFINDER_DATA = 0x9153
    NOT_READY = 0xA102


#: The value types libgphoto2 assumes for PropValueChanged (vendor-canon.md §8).
CANON_TYPES: dict[int, int] = {
    0xD101: DataType.UINT16,
    0xD102: DataType.UINT16,
    0xD103: DataType.UINT16,
    0xD104: DataType.UINT8,
    0xD105: DataType.UINT16,
    0xD106: DataType.UINT16,
    0xD107: DataType.UINT8,
    0xD108: DataType.UINT32,
    0xD109: DataType.UINT8,
    0xD10A: DataType.UINT32,
    0xD10F: DataType.UINT16,
    0xD110: DataType.UINT8,
    0xD111: DataType.UINT16,
    0xD113: DataType.UINT32,
    0xD114: DataType.INT32,
    0xD115: DataType.STR,
    0xD116: DataType.UINT32,
    0xD119: DataType.UINT16,
    0xD11B: DataType.UINT32,
    0xD11C: DataType.UINT32,
    0xD11E: DataType.UINT32,
    0xD11F: DataType.UINT32,
    0xD125: DataType.STR,
    0xD138: DataType.UINT16,
    0xD1AF: DataType.STR,
    0xD1B0: DataType.UINT32,
    0xD1B1: DataType.UINT16,
    0xD1D0: DataType.STR,
    0xD1D1: DataType.STR,
    0xD1D8: DataType.STR,
}
#: What the camera reports but the user cannot change.
_READ_ONLY = frozenset({0xD111, 0xD113, 0xD116, 0xD119, 0xD11B, 0xD11E, 0xD11F, 0xD1AF, 0xD1D8})
PAIRING_TIMEOUT = 180.0


@register
class CanonProfile(VendorProfile):
    """A Canon EOS body in remote-control (EOS Utility) or smartphone mode."""

    vendor: ClassVar[Vendor] = Vendor.CANON
    init_timeout: ClassVar[float] = PAIRING_TIMEOUT
    probe_interval: ClassVar[float | None] = None  # KeepDeviceOn does that job
    #: GetEvent polling period, and the keep-alive period (libgphoto2: ~10 s)
    poll_interval: ClassVar[float] = 0.25
    keepalive_interval: ClassVar[float] = 10.0

    def __init__(self) -> None:
        self.values: dict[int, int | bytes | str] = {}
        self.allowed: dict[int, tuple[int, ...] | tuple[bytes, ...]] = {}
        self.busy = False
        self._changed = asyncio.Event()

    def explain_init_fail(self, reason: int) -> str:
        if reason == InitFailReason.REJECTED_INITIATOR:
            return (
                "the camera does not know this client (InitFail 1): pair again — on the camera"
                " choose Wi-Fi → Remote control (EOS Utility) → pair, and keep this client's"
                " GUID and name (ptpip stores them per camera)"
            )
        return super().explain_init_fail(reason)

    pairing_notice: ClassVar[str | None] = (
        "Confirm the connection on the camera's screen (first connection: pairing)"
    )

    # -- session -----------------------------------------------------------------------------

    async def prepare(self, camera: Camera) -> None:
        await camera.transact(CanonOp.SET_REMOTE_MODE, (1,))
        await camera.transact(CanonOp.SET_EVENT_MODE, (1,))
        # The first GetEvent after SetEventMode(1) is the full property dump; drain it.
        for _ in range(20):
            if not await self.poll(camera):
                break
        camera.connection.spawn(self._poller(camera))
        camera.connection.spawn(self._keepalive(camera))

    async def close(self, camera: Camera) -> None:
        conn = camera.connection
        if conn.session_id is not None and conn.is_open:
            for code, params in ((CanonOp.SET_EVENT_MODE, (0,)), (CanonOp.SET_REMOTE_MODE, (0,))):
                with contextlib.suppress(Exception):
                    await camera.transact(code, params, timeout=min(3.0, conn.timeout), check=False)
        await super().close(camera)

    # -- events ------------------------------------------------------------------------------

    async def poll(self, camera: Camera) -> int:
        """One GetEvent: apply the records to the cache, publish them; how many there were."""
        result = await camera.transact(CanonOp.GET_EVENT, max_data=DATASET_LIMIT)
        records = decode_events(result.data)
        for record in records:
            self._apply(camera, record)
        if records:
            self._changed.set()
        return len(records)

    def _apply(self, camera: Camera, record: EventRecord) -> None:
        params: tuple[int, ...] = ()
        if isinstance(record, PropValueChanged):
            self.values[record.prop] = record.value
            params = (record.prop,) + ((record.value,) if isinstance(record.value, int) else ())
        elif isinstance(record, AvailListChanged):
            self.allowed[record.prop] = record.values
            params = (record.prop, record.list_type)
        elif isinstance(record, ObjectAdded | ObjectRemoved):
            params = (record.handle,)
        elif isinstance(record, RequestObjectTransfer):
            params = (record.handle, record.size)
        elif isinstance(record, CameraStatusChanged):
            self.busy = record.status == 1
            params = (record.status,)
        event = CameraEvent(record.code, params, None, self.vendor.value, record)
        camera.connection.events_hub.publish(event)

    async def _poller(self, camera: Camera) -> None:
        while camera.connection.is_open:
            await asyncio.sleep(self.poll_interval)
            try:
                while await self.poll(camera):
                    pass
            except (ConnectionClosed, Timeout):
                return
            except PtpError as exc:
                log.info("GetEvent failed: %s", exc)

    async def _keepalive(self, camera: Camera) -> None:
        while camera.connection.is_open:
            await asyncio.sleep(self.keepalive_interval)
            with contextlib.suppress(PtpError):
                await camera.transact(CanonOp.KEEP_DEVICE_ON, check=False)

    async def _wait_for(
        self, camera: Camera, timeout: float, done: Callable[[], bool] | None = None
    ) -> None:
        """Poll GetEvent until ``done()`` is true, or for ``timeout`` seconds without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while done is None or not done():
            if loop.time() >= deadline:
                return
            if not await self.poll(camera):
                await asyncio.sleep(0.05)

    # -- properties --------------------------------------------------------------------------

    async def describe(self, camera: Camera, code: int) -> DevicePropDesc:
        if code not in self.values:
            await self.poll(camera)
        if code not in self.values:
            raise ResponseError(
                ResponseCode.DEVICE_PROP_NOT_SUPPORTED,
                operation=CanonOp.GET_EVENT,
                message=f"the camera reported no property 0x{code:04X} in its events",
            )
        value = self._typed(code, self.values[code])
        allowed = self.allowed.get(code, ())
        form = None
        if allowed and all(isinstance(v, int) for v in allowed):
            form = PropEnum(tuple(self._typed(code, v) for v in allowed))
        datatype = CANON_TYPES.get(
            code, DataType.UINT32 if isinstance(value, int) else DataType.STR
        )
        if isinstance(value, bytes):
            datatype = DataType.AUINT8
            value = tuple(value)
        get_set = 0 if code in _READ_ONLY or isinstance(value, tuple) else 1
        return DevicePropDesc(code, datatype, get_set, value, value, form)

    def _typed(self, code: int, raw: int | bytes | str) -> Value:
        if not isinstance(raw, int):
            return raw if isinstance(raw, str) else tuple(raw)
        datatype = CANON_TYPES.get(code, DataType.UINT32)
        if datatype in (DataType.UINT8, DataType.INT8):
            return raw & 0xFF
        if datatype in (DataType.UINT16, DataType.INT16):
            return raw & 0xFFFF
        return raw

    async def get_value(self, camera: Camera, code: int) -> Value:
        return (await self.describe(camera, code)).current

    async def set_value(self, camera: Camera, code: int, value: Value) -> None:
        if isinstance(value, tuple):
            raise ResponseError(ResponseCode.INVALID_DEVICE_PROP_FORMAT, message="not settable")
        await camera.transact(
            CanonOp.SET_DEVICE_PROP_VALUE_EX, data=encode_set_prop_ex(code, value)
        )
        # The camera confirms with a PropValueChanged in a later GetEvent.
        await self._wait_for(camera, 2.0, lambda: self.values.get(code) == value)

    async def properties(self, camera: Camera) -> list[DevicePropDesc]:
        await self.poll(camera)
        return [await self.describe(camera, code) for code in sorted(self.values)]

    # -- capture -----------------------------------------------------------------------------

    async def capture(self, camera: Camera, timeout: float) -> list[CapturedImage]:
        """Half press, full press, release; the image comes as ObjectAddedEx (card) or
        RequestObjectTransfer (host RAM: downloaded now, then TransferComplete)."""
        from ptpip.client.camera import CapturedImage

        hub = camera.connection.events_hub
        codes = (0xC181, 0xC1A7, 0xC186, 0xC1A9)
        with hub.subscribe(codes, backlog=False) as sub:
            await camera.transact(CanonOp.REMOTE_RELEASE_ON, (1, 0))
            if self.values.get(0xD108) != 3:  # not manual focus: give AF a moment
                await self._wait_for(camera, 0.5)
            await camera.transact(CanonOp.REMOTE_RELEASE_ON, (2, 0))
            await camera.transact(CanonOp.REMOTE_RELEASE_OFF, (2,))
            await camera.transact(CanonOp.REMOTE_RELEASE_OFF, (1,))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                await self.poll(camera)
                try:
                    event = await sub.get(min(0.2, max(0.0, deadline - loop.time())))
                    break
                except TimeoutError:
                    if loop.time() >= deadline:
                        raise CaptureError(
                            f"the camera announced no new image (ObjectAddedEx or"
                            f" RequestObjectTransfer) within {timeout:g} s of the release"
                        ) from None
                except StopAsyncIteration:
                    raise camera.connection_lost() from None
        record = event.detail
        if isinstance(record, RequestObjectTransfer):
            data = await self._fetch(camera, record.handle, record.size)
            with contextlib.suppress(PtpError):
                await camera.transact(CanonOp.TRANSFER_COMPLETE, (record.handle,))
            info = ObjectInfo(
                0, record.object_format, compressed_size=record.size, filename=record.filename
            )
            return [CapturedImage(None, info, PurePosixPath(record.filename), data)]
        assert isinstance(record, ObjectAdded)
        info = ObjectInfo(
            record.storage_id,
            record.object_format,
            compressed_size=record.size,
            parent=record.parent,
            filename=record.filename,
        )
        return [CapturedImage(record.handle, info, PurePosixPath(record.filename))]

    async def _fetch(self, camera: Camera, handle: int, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            piece = await camera.read_partial(handle, len(out), min(1 << 20, size - len(out)))
            if not piece:
                break
            out += piece
        return bytes(out)

    # -- live view ---------------------------------------------------------------------------

    async def liveview(self, camera: Camera) -> AsyncIterator[LiveViewFrame]:
        """EVF mode on, output to the host, then GetViewFinderData in a loop."""
        from ptpip.client.camera import LiveViewFrame

        await self.set_value(camera, 0xD1B1, 1)
        await self.set_value(camera, 0xD1B0, 2)
        counter = 0
        loop = asyncio.get_running_loop()
        try:
            not_ready_since: float | None = None
            while True:
                result = await camera.transact(
                    CanonOp.GET_VIEWFINDER_DATA, (0x0020_0000, 0, 0), check=False
                )
                if result.code in (CanonOp.NOT_READY, ResponseCode.DEVICE_BUSY):
                    now = loop.time()
                    not_ready_since = not_ready_since or now
                    if now - not_ready_since > 5.0:
                        raise Timeout("live view did not start within 5 s (0xA102 not ready)")
                    await asyncio.sleep(0.1)
                    continue
                if not result.ok:
                    raise camera.connection.response_error(CanonOp.GET_VIEWFINDER_DATA, result)
                not_ready_since = None
                blocks = decode_viewfinder(result.data)
                jpeg = viewfinder_jpeg(blocks)
                if jpeg is not None:
                    yield LiveViewFrame(jpeg, counter & 0xFF, blocks)
                    counter += 1
        finally:
            with contextlib.suppress(Exception):
                await camera.transact(
                    CanonOp.SET_DEVICE_PROP_VALUE_EX,
                    data=encode_set_prop_ex(0xD1B0, 0),
                    check=False,
                )

    def response_hint(self, code: int) -> str | None:
        if code == 0xA102:
            return "the camera is not ready yet; try again"
        return super().response_hint(code)
