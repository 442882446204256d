"""Moving objects from the camera to disk: where they land, resuming, and what is refused.

The :class:`~ptpip.client.camera.Camera` methods ``fetch`` and ``download`` are built on
these functions. A download never overwrites a file that is not this object (it lands as
``NAME-2.EXT``), resumes only a ``.part`` that is this object's, never writes more than the
object's size, and must move PROGRESS_BYTES per timeout.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ptpip.client.download import (
    MAX_NAME_TRIES,
    Destination,
    FileSink,
    PartBusy,
    PartFile,
    Progress,
    numbered_name,
)
from ptpip.errors import RemoteProtocolError, ResponseError, StorageError, Timeout
from ptpip.ptp.datasets import ObjectInfo

if TYPE_CHECKING:
    from ptpip.client.camera import Camera

__all__ = ["Downloaded", "fetch_into", "object_size", "partial_ok", "stream"]

#: Bytes compared with the camera before a ``.part`` is resumed, or a file taken as this one.
RESUME_OVERLAP = 4096
#: A transfer that gets fewer bytes than this in a timeout's time makes no progress.
PROGRESS_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Downloaded:
    """Where :meth:`Camera.fetch` put an object, and whether it was already there."""

    path: Path
    skipped: bool = False
    #: bytes kept from an earlier attempt's ``.part``
    resumed_from: int = 0


async def fetch_into(
    camera: Camera,
    dest: Destination,
    handle: int,
    info: ObjectInfo,
    size: int | None,
    resume: bool,
    progress: Progress | None,
    chunk_size: int,
) -> Downloaded:
    stamp = await _stamp(camera, handle, info, size)
    loop = asyncio.get_running_loop()
    for attempt in range(1, MAX_NAME_TRIES + 1):
        name = dest.name if attempt == 1 else numbered_name(dest.name, attempt)
        here = Destination(dest.folder, name)
        deadline = loop.time() + camera.connection.timeout
        while True:  # until the name is free, is this object, or is another file
            existing = dest.folder.lstat(name)
            if existing is not None:
                break
            try:
                part = PartFile(here, stamp)
                break
            except PartBusy:  # another download of ours writes it: wait for its end
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        if existing is not None:
            if await _is_this_object(camera, handle, here, existing, size):
                if progress is not None and size is not None:
                    progress(size, size)
                return Downloaded(here.path, skipped=True)
            continue  # another file has this name: never overwritten
        try:
            return await _fill(camera, part, handle, size, resume, progress, chunk_size)
        finally:
            try:
                part.close()
            except OSError as exc:
                raise StorageError(f"cannot write {here.path}: {exc.strerror}") from None
    raise StorageError(f"{dest.path}: {MAX_NAME_TRIES} files of that name are there already")


async def _fill(
    camera: Camera,
    part: PartFile,
    handle: int,
    size: int | None,
    resume: bool,
    progress: Progress | None,
    chunk_size: int,
) -> Downloaded:
    """Resume or start ``part``, stream the object into it and give it its name."""
    try:
        offset = part.trusted_offset() if resume else 0
        if offset and (size is None or offset > size or not await partial_ok(camera, size)):
            offset = 0
        if offset:
            offset = await _overlap_matches(camera, handle, part, offset)
        part.begin(offset)
        await stream(camera, handle, part.fh, offset, size, progress, chunk_size)
        return Downloaded(part.commit(size), resumed_from=offset)
    except RemoteProtocolError:
        part.discard()  # what a lying camera sent is not worth resuming
        raise
    except OSError as exc:  # the part, its sidecar, fsync, the rename: a full disk, say
        raise StorageError(f"cannot write {part.dest.path}: {exc.strerror}") from None


async def _is_this_object(
    camera: Camera, handle: int, dest: Destination, existing: os.stat_result, size: int | None
) -> bool:
    """Whether the file at ``dest`` is this object already: the same size and, where
    the camera can read pieces, the same last bytes (a same-named file of another
    camera or card is not)."""
    if size is None or not stat.S_ISREG(existing.st_mode) or existing.st_size != size:
        return False
    if size == 0 or not await partial_ok(camera, size):
        return True
    length = min(size, RESUME_OVERLAP)
    try:
        fd = dest.folder.open(dest.name, os.O_RDONLY)
    except StorageError:
        return False
    with os.fdopen(fd, "rb") as fh:
        fh.seek(size - length)
        mine = fh.read(length)
    try:
        return await camera.read_partial(handle, size - length, length) == mine
    except (ResponseError, RemoteProtocolError):
        return True  # it cannot tell: the size matched


async def _stamp(
    camera: Camera, handle: int, info: ObjectInfo, size: int | None
) -> dict[str, object]:
    """What a ``.part`` file's sidecar records, to resume only the same object."""
    device = await camera.device_info()
    date = info.capture_date or info.modification_date
    return {
        "camera": device.serial_number,
        "model": device.model,
        "storage": info.storage_id,
        "handle": handle,
        "name": info.filename,
        "size": size,
        "date": date.isoformat() if date else None,
    }


async def _overlap_matches(camera: Camera, handle: int, part: PartFile, offset: int) -> int:
    """``offset`` if the part's last bytes are the camera's, else 0 (start over)."""
    length = min(offset, RESUME_OVERLAP)
    try:
        theirs = await camera.read_partial(handle, offset - length, length)
    except (ResponseError, RemoteProtocolError):
        return 0
    return offset if theirs == part.tail(offset, length) else 0


async def object_size(camera: Camera, handle: int, info: ObjectInfo) -> int | None:
    """The size from ObjectInfo, or the dialect's way to learn a size over 4 GiB; None:
    unknown (then the object streams with GetObject until the camera ends it)."""
    return await camera.profile.object_size(camera, handle, info)


async def partial_ok(camera: Camera, size: int | None) -> bool:
    return size is not None and await camera.profile.partial_reads(camera)


async def stream(
    camera: Camera,
    handle: int,
    fh: BinaryIO,
    offset: int,
    size: int | None,
    progress: Progress | None,
    chunk_size: int,
) -> None:
    source = camera.connection.peer_name
    if not await partial_ok(camera, size) or size is None:
        sink = FileSink(fh, progress=progress, total=size, expected=size, source=source)
        await camera.read_object(handle, sink)
        if size is not None and sink.written != size:
            raise RemoteProtocolError(f"{source} sent {sink.written} bytes of {size}")
        return
    loop = asyncio.get_running_loop()
    window, gained = loop.time(), 0
    while offset < size:
        want = min(chunk_size, size - offset)
        sink = FileSink(
            fh,
            expected=want,
            start_offset=offset,
            progress=progress,
            total=size,
            source=source,
        )
        await camera.profile.read_piece(camera, handle, offset, want, sink)
        if sink.written == 0:
            raise RemoteProtocolError(f"{source} sent no data at offset {offset} of {size}")
        offset += sink.written
        # Each piece may come quickly and still carry almost nothing: the transfer as a
        # whole must move PROGRESS_BYTES per timeout, like a single transaction.
        gained += sink.written
        if gained >= PROGRESS_BYTES or offset >= size:
            window, gained = loop.time(), 0
        elif loop.time() - window > camera.connection.timeout:
            raise Timeout(
                f"no progress: {source} sent {gained} bytes in"
                f" {camera.connection.timeout:g} s (at {offset} of {size})"
            )
    if progress is not None and size == 0:
        progress(0, 0)
