"""The asyncio camera API: ``async with ptpip.connect(host) as camera: ...``."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO

from ptpip.client.download import (
    Destination,
    FileSink,
    Progress,
    open_folder,
    safe_filename,
)
from ptpip.client.events import CameraEvent, Subscription
from ptpip.client.identity import Identity, IdentityStore
from ptpip.client.session import DATASET_LIMIT, Connection, DataSink, Result
from ptpip.client.transfer import Downloaded, fetch_into, object_size, stream
from ptpip.errors import (
    ConnectionClosed,
    LocalProtocolError,
    PtpError,
    RemoteProtocolError,
    ResponseError,
    Timeout,
)
from ptpip.ptp.codes import (
    STORAGE_ALL,
    OperationCode,
    Vendor,
)
from ptpip.ptp.datasets import (
    DeviceInfo,
    DevicePropDesc,
    ObjectInfo,
    StorageInfo,
    decode_handles,
)
from ptpip.ptp.names import detect_dialect
from ptpip.ptp.values import Reader, Value, Writer
from ptpip.record import PcapRecorder
from ptpip.vendors.base import VendorProfile, profile_for

__all__ = [
    "Camera",
    "CapturedImage",
    "Downloaded",
    "LiveViewFrame",
    "ObjectEntry",
    "connect",
    "open_camera",
]

#: GetPartialObject piece size: libgphoto2 and airnef settled on 1 MiB (Nikon drops larger).
PARTIAL_CHUNK = 1024 * 1024
#: A handle list of a million objects (more than any card holds).
HANDLES_LIMIT = 4 + 4 * 1_000_000
#: Folders deeper than this are not believed (DCF cameras use two: DCIM/100XXXXX).
MAX_FOLDER_DEPTH = 32


@dataclass(frozen=True, slots=True)
class LiveViewFrame:
    """One live-view image: the JPEG bytes as the camera sent them, and its frame counter."""

    jpeg: bytes
    counter: int | None = None
    #: vendor extras (Canon viewfinder blocks, Leica TLVs), undecoded
    extra: object = None


@dataclass(frozen=True, slots=True)
class CapturedImage:
    """What one shutter release produced: a new object on the camera, a preview, or both."""

    handle: int | None
    info: ObjectInfo | None
    path: PurePosixPath
    preview: bytes | None = None

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """An object on the camera with its path from the storage root (``DCIM/100X/IMG.JPG``).

    ``problem`` says why the camera's folder tree gives it no trustworthy path (its folders
    form a loop, its parent is a file, it is nested too deep); ``path`` is then its name alone.
    """

    handle: int
    info: ObjectInfo
    path: PurePosixPath
    problem: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.info.is_folder


class Camera:
    """A connected camera. Create it with :func:`connect`."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.profile: VendorProfile = connection.profile
        #: why this dialect: "asked for" (a vendor was given), or what named it
        self.dialect_reason = "asked for"
        self._device_info: DeviceInfo | None = None
        self._descs: dict[int, DevicePropDesc] = {}

    def adopt(self, profile: VendorProfile) -> None:
        """Speak ``profile``'s dialect from now on (what the DeviceInfo named); what was
        read under the old one is read again."""
        self.profile = self.connection.profile = profile
        self._device_info = None
        self._descs.clear()

    # -- life cycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Camera:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """End the session (CloseSession and the vendor's goodbye) and close the sockets."""
        try:
            await self.profile.close(self)
        finally:
            await self.connection.shutdown()

    def connection_lost(self) -> PtpError:
        return self.connection._lost or ConnectionClosed("the connection to the camera is closed")

    @property
    def vendor(self) -> Vendor:
        return self.profile.vendor

    # -- raw operations ----------------------------------------------------------------------

    async def transact(
        self,
        code: int,
        params: tuple[int, ...] = (),
        *,
        data: bytes | None = None,
        sink: DataSink | None = None,
        timeout: float | None = None,
        check: bool = True,
        lenient_tid: bool = False,
        max_data: int | None = None,
        tap: Callable[[bytes], None] | None = None,
    ) -> Result:
        """One PTP transaction; see :meth:`Connection.transact`."""
        return await self.connection.transact(
            code,
            params,
            data=data,
            sink=sink,
            timeout=timeout,
            check=check,
            lenient_tid=lenient_tid,
            max_data=max_data,
            tap=tap,
        )

    async def opreq(
        self,
        code: int,
        params: Iterable[int] = (),
        data: bytes | None = None,
        *,
        tap: Callable[[bytes], None] | None = None,
    ) -> Result:
        """A raw operation for reverse engineering: any code, params and optional data-out.

        Never raises for a non-OK response: the result carries the code. ``tap`` gets the
        bytes the camera sends for it, exactly as received.
        """
        return await self.transact(code, tuple(params), data=data, check=False, tap=tap)

    # -- device ------------------------------------------------------------------------------

    async def device_info(self, *, refresh: bool = False) -> DeviceInfo:
        if self._device_info is None or refresh:
            result = await self.transact(OperationCode.GET_DEVICE_INFO, max_data=DATASET_LIMIT)
            self._device_info = await self.profile.device_info(self, result.data)
            model = self._device_info.model.strip()[:64]
            if model:
                self.connection.peer_name = f"{model} at {self.connection.host}"
        return self._device_info

    async def supports(self, operation: int) -> bool:
        return operation in (await self.device_info()).operations_supported

    async def storage_ids(self) -> tuple[int, ...]:
        result = await self.transact(OperationCode.GET_STORAGE_IDS, max_data=DATASET_LIMIT)
        # libgphoto2 drops IDs whose logical part is 0 (not mounted); so do we.
        return tuple(s for s in decode_handles(result.data) if s & 0xFFFF)

    async def storage_info(self, storage_id: int) -> StorageInfo:
        result = await self.transact(
            OperationCode.GET_STORAGE_INFO, (storage_id,), max_data=DATASET_LIMIT
        )
        return StorageInfo.decode(result.data)

    async def storages(self) -> list[tuple[int, StorageInfo]]:
        return [(sid, await self.storage_info(sid)) for sid in await self.storage_ids()]

    # -- objects -----------------------------------------------------------------------------

    async def object_handles(
        self, storage_id: int = STORAGE_ALL, object_format: int = 0, parent: int = 0
    ) -> tuple[int, ...]:
        """ISO semantics: parent 0 = every object, ROOT_PARENT = the storage root only."""
        result = await self.transact(
            OperationCode.GET_OBJECT_HANDLES,
            (storage_id, object_format, parent),
            max_data=HANDLES_LIMIT,
        )
        return decode_handles(result.data)

    async def object_info(self, handle: int) -> ObjectInfo:
        result = await self.transact(
            OperationCode.GET_OBJECT_INFO, (handle,), max_data=DATASET_LIMIT
        )
        return ObjectInfo.decode(result.data)

    async def list_objects(self, storage_id: int = STORAGE_ALL) -> list[ObjectEntry]:
        """Every object with its folder path, folders before their contents.

        A camera's tree is taken as a claim: an object whose parents loop, pass through a
        file or go deeper than MAX_FOLDER_DEPTH gets a ``problem`` instead of a path.
        """
        infos: dict[int, ObjectInfo] = {}
        for handle in await self.object_handles(storage_id, 0, 0):
            if handle not in infos:
                infos[handle] = await self.object_info(handle)
        names = {h: safe_filename(i.filename, f"object_{h:08x}") for h, i in infos.items()}
        paths: dict[int, PurePosixPath] = {}

        def place(handle: int) -> tuple[PurePosixPath, str | None]:
            chain: list[int] = []
            base = PurePosixPath()
            current = handle
            while current not in paths:
                chain.append(current)
                parent = infos[current].parent
                if parent not in infos:  # 0, the root, or an object not listed: top level
                    break
                if parent in chain:
                    return PurePosixPath(names[handle]), "its folders form a loop"
                if not infos[parent].is_folder:
                    return PurePosixPath(names[handle]), f"its parent 0x{parent:X} is a file"
                current = parent
            else:
                base = paths[current]
            for member in reversed(chain):
                base = base / names[member]
                paths[member] = base
            if len(paths[handle].parts) > MAX_FOLDER_DEPTH + 1:
                deep = f"it is nested more than {MAX_FOLDER_DEPTH} folders deep"
                return PurePosixPath(names[handle]), deep
            return paths[handle], None

        entries = [ObjectEntry(h, infos[h], *place(h)) for h in infos]
        entries.sort(key=lambda e: (e.info.storage_id, e.path.parts))
        return entries

    async def find(self, path: str) -> ObjectEntry:
        """The object at ``path`` (as :meth:`list_objects` prints it)."""
        wanted = PurePosixPath(path.strip("/"))
        for entry in await self.list_objects():
            if entry.path == wanted:
                return entry
        raise LocalProtocolError(f"no object at {path!r} on the camera")

    async def thumbnail(self, handle: int) -> bytes:
        return (await self.transact(OperationCode.GET_THUMB, (handle,))).data

    async def delete(self, handle: int, object_format: int = 0) -> None:
        await self.transact(OperationCode.DELETE_OBJECT, (handle, object_format))

    async def read_object(self, handle: int, sink: DataSink, timeout: float | None = None) -> None:
        """Stream a whole object into ``sink`` with GetObject."""
        await self.transact(OperationCode.GET_OBJECT, (handle,), sink=sink, timeout=timeout)

    async def read_partial(self, handle: int, offset: int, length: int) -> bytes:
        buffer = io.BytesIO()
        sink = FileSink(buffer, expected=length, source=self.connection.peer_name)
        await self.profile.read_piece(self, handle, offset, length, sink)
        return buffer.getvalue()

    async def download(
        self,
        handle: int,
        target: str | os.PathLike[str] | Destination | BinaryIO,
        *,
        resume: bool = True,
        progress: Progress | None = None,
        info: ObjectInfo | None = None,
        chunk_size: int = PARTIAL_CHUNK,
    ) -> Path | None:
        """Download an object to a folder, a file path, a :class:`Destination` or an open
        binary file; returns the path (see :meth:`fetch`), None for a file object."""
        if not isinstance(target, str | os.PathLike | Destination):
            info = info or await self.object_info(handle)
            if info.is_folder:
                raise LocalProtocolError(f"object 0x{handle:X} is a folder")
            size = await object_size(self, handle, info)
            await stream(self, handle, target, 0, size, progress, chunk_size)
            return None
        done = await self.fetch(
            handle, target, resume=resume, progress=progress, info=info, chunk_size=chunk_size
        )
        return done.path

    async def fetch(
        self,
        handle: int,
        target: str | os.PathLike[str] | Destination,
        *,
        resume: bool = True,
        progress: Progress | None = None,
        info: ObjectInfo | None = None,
        chunk_size: int = PARTIAL_CHUNK,
    ) -> Downloaded:
        """Download an object into a folder (under its own name), to a file path, or to a
        :class:`Destination`, and say what happened.

        The data goes to ``NAME.part`` and is renamed to ``NAME`` only when its size
        matches. A file already at ``NAME`` is never overwritten: if it is this object
        (same size, same last bytes) the download is skipped, otherwise the object lands
        as ``NAME-2.EXT`` (``-3``, …). A ``.part`` left by an earlier attempt at this same
        object (its sidecar says so, and its last bytes match the camera's) is resumed with
        GetPartialObject when the camera has it. Nothing is written through a symbolic link,
        and never more than the object's size.
        """
        info = info or await self.object_info(handle)
        if info.is_folder:
            raise LocalProtocolError(f"object 0x{handle:X} is a folder")
        size = await object_size(self, handle, info)
        if isinstance(target, Destination):
            return await fetch_into(self, target, handle, info, size, resume, progress, chunk_size)
        final = Path(target).expanduser()
        if final.is_dir():
            folder, name = final, safe_filename(info.filename, f"object_{handle:08x}")
        else:
            folder, name = final.parent, final.name
        with open_folder(folder) as opened:
            dest = Destination(opened, name)
            return await fetch_into(self, dest, handle, info, size, resume, progress, chunk_size)

    # -- capture -----------------------------------------------------------------------------

    async def capture(self, timeout: float = 30.0) -> list[CapturedImage]:
        """Release the shutter; returns what the camera announced (objects and/or previews)."""
        return await self.profile.capture(self, timeout)

    async def captured_object(self, handle: int) -> CapturedImage:
        """A :class:`CapturedImage` for an object the camera announced."""
        info = await self.object_info(handle)
        # The camera names the file: made safe like list_objects' paths.
        name = safe_filename(info.filename, f"object_{handle:08x}")
        return CapturedImage(handle, info, PurePosixPath(name))

    # -- properties --------------------------------------------------------------------------
    # The vendor profile decides where descriptions and values come from (GetDevicePropDesc,
    # Fuji's 0x902B list, Canon's GetEvent cache); the read_/write_ methods are the standard
    # operations profiles build on.

    async def describe(self, code: int, *, refresh: bool = True) -> DevicePropDesc:
        if refresh or code not in self._descs:
            self._descs[code] = await self.profile.describe(self, code)
        return self._descs[code]

    def remember_description(self, desc: DevicePropDesc) -> None:
        self._descs[desc.code] = desc

    async def get_property(self, code: int) -> Value:
        return await self.profile.get_value(self, code)

    async def set_property(self, code: int, value: Value) -> None:
        await self.profile.set_value(self, code, value)
        self._descs.pop(code, None)

    async def properties(self) -> list[DevicePropDesc]:
        """Descriptions of every property the camera lists (skipping ones it cannot describe)."""
        return await self.profile.properties(self)

    async def state(self) -> list[tuple[int, Value]]:
        """The current value of every property the camera reports, as (code, value) pairs."""
        return await self.profile.state(self)

    async def read_prop_desc(self, code: int) -> DevicePropDesc:
        """GetDevicePropDesc."""
        result = await self.transact(
            OperationCode.GET_DEVICE_PROP_DESC, (code,), max_data=DATASET_LIMIT
        )
        if not result.data:
            raise RemoteProtocolError(f"the camera sent no description of 0x{code:04X}")
        return DevicePropDesc.decode(result.data)

    async def read_prop_value(self, code: int, datatype: int) -> Value:
        """GetDevicePropValue, decoded as ``datatype``."""
        result = await self.transact(
            OperationCode.GET_DEVICE_PROP_VALUE, (code,), max_data=DATASET_LIMIT
        )
        return Reader(result.data).pull_value(datatype)

    async def write_prop_value(self, code: int, datatype: int, value: Value) -> None:
        """SetDevicePropValue with ``value`` encoded as ``datatype``."""
        writer = Writer()
        writer.push_value(datatype, value)
        await self.transact(OperationCode.SET_DEVICE_PROP_VALUE, (code,), data=writer.getvalue())

    # -- live view ---------------------------------------------------------------------------

    def liveview(self) -> AsyncIterator[LiveViewFrame]:
        """Live-view frames as they come (JPEG bytes and a counter), where the camera has it."""
        return self.profile.liveview(self)

    # -- events ------------------------------------------------------------------------------

    def events(self, *codes: int) -> Subscription:
        """An async iterator of events, optionally only these codes; events that arrived
        while nobody listened come first."""
        return self.connection.events_hub.subscribe(codes)

    async def wait_for_event(self, *codes: int, timeout: float = 30.0) -> CameraEvent:
        with self.events(*codes) as sub:
            return await sub.get(timeout)


async def _detect_dialect(camera: Camera) -> None:
    """A camera opened generically takes on the dialect its DeviceInfo names (Manufacturer
    "Nikon Corporation", VendorExtensionID 0xB, …) when ptpip has a profile for it that
    speaks over the same connection, and runs that dialect's set-up."""
    try:
        info = await camera.device_info()
    except (ResponseError, RemoteProtocolError, Timeout) as exc:
        # A camera that cannot tell is driven as a standard one; the caller sees the error
        # again when it asks for the DeviceInfo itself.
        camera.dialect_reason = f"not detected: {exc}"
        return
    found, why = detect_dialect(info.manufacturer, info.vendor_extension_id)
    camera.dialect_reason = why
    if found is Vendor.GENERIC:
        return
    profile = profile_for(found)
    if type(profile) is VendorProfile or not profile.detectable:
        camera.dialect_reason = f"{why}; no {found.value} dialect over this connection"
        return
    camera.adopt(profile)
    await profile.prepare(camera)


@contextlib.asynccontextmanager
async def connect(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    vendor: Vendor | str | VendorProfile | None = None,
    event_port: int | None = None,
    stream_port: int | None = None,
    guid: bytes | None = None,
    name: str | None = None,
    timeout: float = 10.0,
    init_timeout: float | None = None,
    probe_interval: float | None = -1.0,
    identity_store: IdentityStore | None = None,
    recorder: PcapRecorder | None = None,
    notice: Callable[[str], None] | None = None,
) -> AsyncIterator[Camera]:
    """Connect to a camera and open a session; closes it on exit (also on errors).

    ``vendor`` names the dialect; without it the camera is opened as a standard PTP/IP camera
    and takes on the dialect its DeviceInfo names (``camera.dialect_reason`` says why).
    ``guid`` and ``name`` override the identity persisted for this camera.
    """
    camera = await open_camera(
        host,
        port,
        vendor=vendor,
        event_port=event_port,
        stream_port=stream_port,
        guid=guid,
        name=name,
        timeout=timeout,
        init_timeout=init_timeout,
        probe_interval=probe_interval,
        identity_store=identity_store,
        recorder=recorder,
        notice=notice,
    )
    try:
        yield camera
    finally:
        await camera.close()


async def open_camera(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    vendor: Vendor | str | VendorProfile | None = None,
    event_port: int | None = None,
    stream_port: int | None = None,
    guid: bytes | None = None,
    name: str | None = None,
    timeout: float = 10.0,
    init_timeout: float | None = None,
    probe_interval: float | None = -1.0,
    identity_store: IdentityStore | None = None,
    recorder: PcapRecorder | None = None,
    notice: Callable[[str], None] | None = None,
) -> Camera:
    """Like :func:`connect`, without the context manager: call ``await camera.close()``."""
    detect = vendor is None
    profile = profile_for(Vendor.GENERIC if vendor is None else vendor)
    store = identity_store or IdentityStore()
    identity: Identity = store.identity_for(f"{profile.vendor.value}@{host}", guid=guid, name=name)
    connection = Connection(
        host,
        profile,
        identity,
        port=port,
        event_port=event_port,
        stream_port=stream_port,
        timeout=timeout,
        init_timeout=init_timeout,
        probe_interval=profile.probe_interval if probe_interval == -1.0 else probe_interval,
    )
    connection.recorder = recorder
    if notice is not None:
        connection.on_notice = notice
    camera = Camera(connection)
    camera.dialect_reason = "detected" if detect else "asked for"
    try:
        await connection.connect()
        await profile.open(camera)
        if detect:
            await _detect_dialect(camera)
            if probe_interval == -1.0:
                connection.probe_interval = camera.profile.probe_interval
        connection.start_background()
    except BaseException:
        connection.abort()
        with contextlib.suppress(Exception):
            await connection.shutdown()
        raise
    return camera
