"""What the client asks of a vendor: ports, framing, Init packet, set-up, capture, names.

A vendor is data plus a few hooks, not a fork of the client. :class:`VendorProfile` is the
generic ISO 15740 / CIPA camera; dialects override what differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar

from ptpip.errors import CaptureError, OperationNotSupported, PtpError, ResponseError
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandRequest
from ptpip.ptp.codes import EventCode, InitFailReason, OperationCode, ResponseCode, Vendor
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo
from ptpip.vendors import registry

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, CapturedImage, LiveViewFrame
    from ptpip.client.identity import Identity
    from ptpip.client.session import DataSink
    from ptpip.ptp.datasets import DevicePropDesc
    from ptpip.ptp.values import Value

__all__ = ["VendorProfile", "profile_for"]

log = logging.getLogger("ptpip.client")

_INIT_FAIL_TEXT: dict[int, str] = {
    InitFailReason.REJECTED_INITIATOR: (
        "the camera rejected this client (not paired): pair it again on the camera"
    ),
    InitFailReason.BUSY: "the camera is busy: another client is connected",
    InitFailReason.UNSPECIFIED: "the camera refused the connection (reason unspecified)",
    InitFailReason.INVALID_GUID: "the camera rejected this client's GUID",
}

_HINTS: dict[int, str] = {
    ResponseCode.SESSION_NOT_OPEN: "reconnect: the camera closed the session",
    ResponseCode.OPERATION_NOT_SUPPORTED: "this camera does not support it",
    ResponseCode.DEVICE_BUSY: "the camera is busy; try again in a moment",
    ResponseCode.ACCESS_DENIED: "the camera refused access; check its mode and pairing",
    ResponseCode.INVALID_DEVICE_PROP_VALUE: "use `describe` to see the allowed values",
    ResponseCode.DEVICE_PROP_NOT_SUPPORTED: "the camera does not have this property",
    ResponseCode.INVALID_OBJECT_HANDLE: "the file is gone; list the files again",
    ResponseCode.STORE_FULL: "the card is full",
    ResponseCode.STORE_NOT_AVAILABLE: "no card, or the card is not ready",
}


class VendorProfile:
    """The generic ISO 15740 camera over CIPA PTP/IP."""

    vendor: ClassVar[Vendor] = Vendor.GENERIC
    #: (command/data, event, stream) ports; None = same as the command port / not used
    default_ports: ClassVar[tuple[int, int | None, int | None]] = (15740, None, None)
    fuji_dialect: ClassVar[bool] = False
    first_transaction_id: ClassVar[int] = 0
    session_id: ClassVar[int] = 1
    init_timeout: ClassVar[float] = 10.0
    #: ``info`` lists the camera's properties under its identity (the seed's Fuji info)
    info_lists_properties: ClassVar[bool] = False
    #: names ``-g`` takes for GUIDs of the dialect's own (a Nikon adapter's fixed GUID)
    guid_aliases: ClassVar[dict[str, bytes]] = {}
    #: UTF-16 units of the friendly name the Init packet carries (a PTP string: 254)
    max_name_units: ClassVar[int] = 254
    #: Probe the event connection after this many idle seconds (None: never).
    probe_interval: ClassVar[float | None] = 30.0
    #: shown when the Init Command Ack is slow: the camera may be asking its user to pair
    pairing_notice: ClassVar[str | None] = None

    def init_request(self, identity: Identity) -> InitCommandRequest | FujiInitCommandRequest:
        return InitCommandRequest(identity.guid, identity.name)

    def explain_init_fail(self, reason: int) -> str:
        text = _INIT_FAIL_TEXT.get(reason)
        return f"{text} (InitFail 0x{reason:X})" if text else f"InitFail reason 0x{reason:X}"

    def response_hint(self, code: int) -> str | None:
        return _HINTS.get(code)

    async def open(self, camera: Camera) -> None:
        """After the Init handshake: the event connection, the session, vendor set-up."""
        await camera.connection.connect_events()
        await self.open_session(camera)
        await self.prepare(camera)

    async def prepare(self, camera: Camera) -> None:
        """The dialect's set-up once the session is open: also run when a camera that was
        opened as generic turns out to be of this dialect (its DeviceInfo says so)."""

    #: whether a camera opened generically can become this dialect (same framing and ports)
    detectable: ClassVar[bool] = True

    async def open_session(self, camera: Camera, session_id: int | None = None) -> None:
        session = self.session_id if session_id is None else session_id
        for _ in range(10):
            result = await camera.transact(OperationCode.OPEN_SESSION, (session,), check=False)
            if result.code in (ResponseCode.OK, ResponseCode.SESSION_ALREADY_OPEN):
                camera.connection.session_id = session
                return
            if result.code != ResponseCode.INVALID_TRANSACTION_ID:
                raise camera.connection.response_error(OperationCode.OPEN_SESSION, result)
            session += 1  # libgphoto2 does the same on 0x2004
        raise camera.connection.response_error(OperationCode.OPEN_SESSION, result)

    async def close(self, camera: Camera) -> None:
        """Before the sockets close: CloseSession (errors ignored, short wait)."""
        connection = camera.connection
        if connection.session_id is None or not connection.is_open:
            return
        # Never wait longer than the caller's own timeout: the camera may be hung.
        wait = min(3.0, connection.timeout)
        with contextlib.suppress(Exception):
            await camera.transact(
                OperationCode.CLOSE_SESSION, timeout=wait, check=False, lenient_tid=True
            )
        connection.session_id = None

    async def capture(self, camera: Camera, timeout: float) -> list[CapturedImage]:
        """InitiateCapture, then ObjectAdded events until CaptureComplete: the new objects."""
        return [
            await camera.captured_object(h) for h in await self.capture_handles(camera, timeout)
        ]

    async def capture_handles(self, camera: Camera, timeout: float) -> list[int]:
        """InitiateCapture, then ObjectAdded events until CaptureComplete; the new handles.

        A camera that announces nothing (it happens) is asked for its handles again: the
        objects that were not there before the release are the capture.
        """
        codes = (EventCode.OBJECT_ADDED, EventCode.CAPTURE_COMPLETE, EventCode.STORE_FULL)
        before: set[int] | None = None
        if await camera.supports(OperationCode.GET_OBJECT_HANDLES):
            with contextlib.suppress(PtpError):
                before = set(await camera.object_handles())
        with camera.connection.events_hub.subscribe(codes, backlog=False) as sub:
            result = await camera.transact(OperationCode.INITIATE_CAPTURE, (0, 0))
            handles: list[int] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                try:
                    event = await sub.get(max(0.0, deadline - loop.time()))
                except TimeoutError:
                    if handles:
                        return handles  # some cameras never send CaptureComplete
                    return await self._new_handles(camera, before, timeout)
                except StopAsyncIteration:
                    raise camera.connection_lost() from None
                if event.code == EventCode.STORE_FULL:
                    raise ResponseError(ResponseCode.STORE_FULL, message="the card is full")
                if event.code == EventCode.OBJECT_ADDED and event.params:
                    handles.append(event.params[0])
                elif event.code == EventCode.CAPTURE_COMPLETE and (
                    event.transaction_id in (None, result.transaction_id)
                ):
                    return handles

    async def _new_handles(
        self, camera: Camera, before: set[int] | None, timeout: float
    ) -> list[int]:
        """The objects that appeared since ``before``; a CaptureError when there are none."""
        awaited = f"no ObjectAdded or CaptureComplete within {timeout:g} s of InitiateCapture"
        if before is not None:
            new = sorted(set(await camera.object_handles()) - before)
            if new:
                log.info("%s; the new objects on the card are the capture", awaited)
                return new
            awaited += ", and no new object on the card"
        raise CaptureError(f"the camera took no picture that it showed us: {awaited}")

    # -- transfers ---------------------------------------------------------------------------

    async def object_size(self, camera: Camera, handle: int, info: ObjectInfo) -> int | None:
        """The object's size in bytes; None when unknown (ObjectInfo's 0xFFFFFFFF: 4 GiB or
        more, and the dialect has no other way to ask)."""
        return None if info.compressed_size == 0xFFFF_FFFF else info.compressed_size

    async def partial_reads(self, camera: Camera) -> bool:
        """Whether objects can be read in pieces (resume, flat progress)."""
        return await camera.supports(OperationCode.GET_PARTIAL_OBJECT)

    async def read_piece(
        self, camera: Camera, handle: int, offset: int, length: int, sink: DataSink
    ) -> None:
        """``length`` bytes of the object from ``offset`` into ``sink`` (GetPartialObject)."""
        await camera.transact(OperationCode.GET_PARTIAL_OBJECT, (handle, offset, length), sink=sink)

    # -- properties --------------------------------------------------------------------------

    async def describe(self, camera: Camera, code: int) -> DevicePropDesc:
        return await camera.read_prop_desc(code)

    async def get_value(self, camera: Camera, code: int) -> Value:
        desc = await camera.describe(code, refresh=False)
        return await camera.read_prop_value(code, desc.datatype)

    async def set_value(self, camera: Camera, code: int, value: Value) -> None:
        desc = await camera.describe(code, refresh=False)
        await camera.write_prop_value(code, desc.datatype, value)

    async def properties(self, camera: Camera) -> list[DevicePropDesc]:
        descs = []
        for code in (await camera.device_info()).device_properties_supported:
            with contextlib.suppress(PtpError):
                descs.append(await camera.describe(code))
        return descs

    async def state(self, camera: Camera) -> list[tuple[int, Value]]:
        return [(d.code, d.current) for d in await self.properties(camera)]

    # -- live view ---------------------------------------------------------------------------

    async def liveview(self, camera: Camera) -> AsyncIterator[LiveViewFrame]:
        """Live-view frames; a generic ISO 15740 camera has no standard live view."""
        raise OperationNotSupported(
            ResponseCode.OPERATION_NOT_SUPPORTED,
            message=f"{self.vendor.value} cameras have no live view in PTP/IP",
        )
        yield  # an async generator, like the vendors' versions

    async def device_info(self, camera: Camera, data: bytes) -> DeviceInfo:
        """Decode GetDeviceInfo's data (vendors patch up what their bodies send)."""
        return DeviceInfo.decode(data)


_PROFILES: dict[Vendor, type[VendorProfile]] = {Vendor.GENERIC: VendorProfile}


def register(profile: type[VendorProfile]) -> type[VendorProfile]:
    _PROFILES[profile.vendor] = profile
    return profile


def profile_for(vendor: Vendor | str | VendorProfile) -> VendorProfile:
    """The profile of a vendor; raises ValueError for a dialect ptpip cannot speak.

    A profile instance is returned as it is (a dialect with settings, e.g.
    ``LeicaProfile(heartbeat_interval=2.0)``). A dialect with no profile of its own speaks
    standard CIPA PTP/IP: the generic profile drives it.
    """
    if isinstance(vendor, VendorProfile):
        return vendor
    try:
        v = Vendor(vendor.lower()) if isinstance(vendor, str) else vendor
    except ValueError:
        known = ", ".join(x.value for x in Vendor)
        raise ValueError(f"unknown vendor {vendor!r} (known: {known})") from None
    if v not in _PROFILES:
        registry.part(v, "profile")  # importing it registers the dialect's profile
    if v in _PROFILES:
        return _PROFILES[v]()
    if v in registry.dialects():
        return VendorProfile()
    raise ValueError(f"the {v.value} dialect is not available in this version of ptpip")
