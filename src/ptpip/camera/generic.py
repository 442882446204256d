"""The generic ISO 15740 virtual camera: storages over a folder, properties, capture."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ptpip.camera.personality import Personality, Reply, operation
from ptpip.camera.props import PropertyError, PropertyStore, generic_properties
from ptpip.camera.store import ObjectStore, StoreError
from ptpip.ip.responder import RequestReceived
from ptpip.ptp.codes import (
    UNSOLICITED_TID,
    EventCode,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
)
from ptpip.ptp.datasets import DeviceInfo, encode_handles

if TYPE_CHECKING:
    from ptpip.camera.server import ServerSession

__all__ = ["GenericCamera"]

_ALL = 0xFFFF_FFFF
_Data = bytes | None


def _param(request: RequestReceived, index: int, default: int = 0) -> int:
    return request.params[index] if len(request.params) > index else default


class GenericCamera(Personality):
    """An ISO 15740 camera as stock gphoto2 expects one (gphoto2-interop.md §3)."""

    manufacturer = "ptpip"
    events_supported = (
        EventCode.OBJECT_ADDED,
        EventCode.OBJECT_REMOVED,
        EventCode.DEVICE_PROP_CHANGED,
        EventCode.CAPTURE_COMPLETE,
        EventCode.STORE_FULL,
    )

    def __init__(
        self,
        storage: Path | str,
        *,
        model: str = "ptpip virtual camera",
        serial_number: str = "PTPIP0000001",
        read_only: bool = False,
    ) -> None:
        self.model = model
        self.serial_number = serial_number
        #: read_only: the card is never written (DeleteObject and capture: StoreReadOnly)
        self.store = ObjectStore(storage, model=model, read_only=read_only)
        self.props = PropertyStore(generic_properties(model))
        self.capture_count = 0

    def device_info(self) -> DeviceInfo:
        return DeviceInfo(
            standard_version=100,
            vendor_extension_id=0,  # generic: gphoto2 then uses its standard tables
            vendor_extension_version=0,
            vendor_extension_desc="",
            functional_mode=0,
            operations_supported=self.operations_supported(),
            events_supported=tuple(int(e) for e in self.events_supported),
            device_properties_supported=self.props.codes(),
            capture_formats=(ObjectFormatCode.EXIF_JPEG,),
            image_formats=(
                ObjectFormatCode.ASSOCIATION,
                ObjectFormatCode.EXIF_JPEG,
                ObjectFormatCode.PNG,
                ObjectFormatCode.TIFF,
                ObjectFormatCode.DNG,
                ObjectFormatCode.UNDEFINED,
            ),
            manufacturer=self.manufacturer,
            model=self.model,
            device_version=self.device_version,
            serial_number=self.serial_number,
        )

    async def handle(self, session: ServerSession, request: RequestReceived, data: _Data) -> Reply:
        try:
            return await super().handle(session, request, data)
        except StoreError as exc:
            return Reply(exc.code)
        except PropertyError as exc:
            return Reply(exc.code)

    # -- device and storage ------------------------------------------------------------------

    @operation(OperationCode.GET_DEVICE_INFO, session=False)
    async def _get_device_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.device_info().encode())

    @operation(OperationCode.GET_STORAGE_IDS)
    async def _get_storage_ids(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(encode_handles(self.store.storage_ids()))

    @operation(OperationCode.GET_STORAGE_INFO)
    async def _get_storage_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.store.storage_info(_param(r, 0)).encode())

    # -- objects -----------------------------------------------------------------------------

    def _handles(self, r: RequestReceived) -> tuple[int, ...]:
        self.store.rescan()  # files dropped into the folder appear, as on a real card
        # ObjectFormatCode 0 is "any format"; PTPy and the PyPI ptpip send 0xFFFFFFFF for it
        fmt = _param(r, 1)
        return self.store.handles(_param(r, 0, _ALL), 0 if fmt == _ALL else fmt, _param(r, 2))

    @operation(OperationCode.GET_NUM_OBJECTS)
    async def _get_num_objects(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply(params=(len(self._handles(r)),))

    @operation(OperationCode.GET_OBJECT_HANDLES)
    async def _get_object_handles(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(encode_handles(self._handles(r)))

    @operation(OperationCode.GET_OBJECT_INFO)
    async def _get_object_info(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.store.object_info(_param(r, 0)).encode())

    @operation(OperationCode.GET_OBJECT)
    async def _get_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.store.source(_param(r, 0)))  # a folder: AccessDenied

    @operation(OperationCode.GET_PARTIAL_OBJECT)
    async def _get_partial_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        handle, offset, limit = _param(r, 0), _param(r, 1), _param(r, 2, _ALL)
        source = self.store.source(handle, offset, limit)
        # ISO 15740: the response's first parameter is the number of bytes sent.
        return Reply(ResponseCode.OK, (source.size,), source)

    @operation(OperationCode.GET_THUMB)
    async def _get_thumb(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.store.thumbnail(_param(r, 0)))

    @operation(OperationCode.DELETE_OBJECT)
    async def _delete_object(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        try:
            deleted = self.store.delete(_param(r, 0), _param(r, 1))
        except StoreError as exc:
            self._announce_removed(s, exc.deleted)
            raise
        self._announce_removed(s, deleted)
        return Reply()

    def _announce_removed(self, s: ServerSession, handles: tuple[int, ...]) -> None:
        # Only what the client did not ask for itself would need announcing; a single
        # delete is confirmed by its response, so only report extra (folder content) ones.
        for handle in handles[1:]:
            s.send_event(EventCode.OBJECT_REMOVED, UNSOLICITED_TID, (handle,))

    @operation(OperationCode.INITIATE_CAPTURE)
    async def _initiate_capture(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        fmt = _param(r, 1)
        if fmt not in (0, ObjectFormatCode.EXIF_JPEG):
            return Reply(ResponseCode.INVALID_OBJECT_FORMAT_CODE)
        handle = self.store.add_capture()
        self.capture_count += 1
        tid = r.transaction_id
        # gphoto2 needs ObjectAdded, then CaptureComplete, both after the response.
        return Reply(
            after=[
                lambda: s.send_event(EventCode.OBJECT_ADDED, tid, (handle,)),
                lambda: s.send_event(EventCode.CAPTURE_COMPLETE, tid),
            ]
        )

    # -- properties --------------------------------------------------------------------------

    @operation(OperationCode.GET_DEVICE_PROP_DESC)
    async def _get_prop_desc(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.props.describe(_param(r, 0)).encode())

    @operation(OperationCode.GET_DEVICE_PROP_VALUE)
    async def _get_prop_value(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        return Reply.with_data(self.props.value_bytes(_param(r, 0)))

    @operation(OperationCode.SET_DEVICE_PROP_VALUE, data_out=True)
    async def _set_prop_value(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        code = _param(r, 0)
        if self.props.set_from_bytes(code, d or b""):
            return Reply(after=[lambda: self._prop_changed(s, code)])
        return Reply()

    def _prop_changed(self, s: ServerSession, code: int) -> None:
        s.send_event(EventCode.DEVICE_PROP_CHANGED, UNSOLICITED_TID, (code,))

    @operation(OperationCode.RESET_DEVICE_PROP_VALUE)
    async def _reset_prop_value(self, s: ServerSession, r: RequestReceived, d: _Data) -> Reply:
        code = _param(r, 0)
        changed = self.props.reset(code)
        return Reply(after=[partial(self._prop_changed, s, c) for c in changed])


#: For the camera factory (ptpip.camera.factory) and `ptpip simulate`.
PERSONALITY = GenericCamera
DEFAULT_MODEL = "ptpip virtual camera"
DEFAULT_PORT = 15740
