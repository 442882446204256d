"""The virtual camera's card: one PTP storage whose objects are the folders and files on disk."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from ptpip.camera._imaging import (
    SIZED_FORMATS,
    THUMB_SIZE,
    generate_jpeg,
    generate_sample_images,
    jpeg_dimensions,
    make_thumbnail,
    object_format,
    png_dimensions,
    sample_images,
    thumb_size,
)
from ptpip.ptp.codes import (
    AccessCapability,
    AssociationType,
    FilesystemType,
    ObjectFormatCode,
    ProtectionStatus,
    ResponseCode,
    StorageType,
)
from ptpip.ptp.datasets import ObjectInfo, StorageInfo

__all__ = [
    "ALL",
    "THUMB_SIZE",
    "ObjectStore",
    "StoreError",
    "StoreSource",
    "generate_jpeg",
    "generate_sample_images",
    "jpeg_dimensions",
]

#: The wildcard of GetObjectHandles / DeleteObject parameters: every storage, every object,
#: or (as ParentObject) the root of the store (ISO 15740 GetObjectHandles).
ALL = 0xFFFF_FFFF

# A name PTP cannot carry or a client could misread as a path: separators, NUL, and lone
# surrogates (os.fsdecode's stand-ins for bytes that are not UTF-8).
log = logging.getLogger("ptpip.camera")

_BAD_NAME = re.compile("[/\\\\\x00\ud800-\udfff]")
_DCF_FOLDER = re.compile(r"([1-9]\d\d)[0-9A-Za-z_]{5}")
_DCF_FILE = re.compile(r"[0-9A-Za-z_]{4}(\d{4})\.[0-9A-Za-z]{3}")
_U32_MAX = 0xFFFF_FFFF
#: FreeSpaceInImages assumes a typical full-size JPEG of this many bytes.
_IMAGE_BYTES_ESTIMATE = 8 << 20
_THUMB_CACHE_LIMIT = 1024
# Every disk access walks down from the root one directory fd at a time, never following a
# symlink (O_NOFOLLOW on each component): a folder swapped for a symlink after a check cannot
# lead outside the root, and a FIFO swapped in cannot block (O_NONBLOCK; only regular files
# are served).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
#: errno values of a path component that is not the folder it was (a symlink, a file).
_SWAPPED = {errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP)}


class StoreError(Exception):
    """A store operation failed; ``code`` is the PTP response code to answer with."""

    def __init__(self, code: int, message: str, *, deleted: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        #: for PartialDeletion: the handles that were deleted before the failure
        self.deleted = deleted


@dataclass(slots=True, eq=False)
class _Entry:
    handle: int
    parent: int
    name: str
    path: Path
    object_format: int
    #: name -> handle, in listing order; None for files
    children: dict[str, int] | None = None


class ObjectStore:
    """One storage over the directory tree at ``root``, with stable object handles."""

    def __init__(
        self,
        root: Path | str,
        *,
        storage_id: int = 0x0001_0001,
        description: str = "SD",
        volume_label: str = "PTPIP",
        max_capacity: int | None = None,
        model: str = "ptpip virtual camera",
        read_only: bool = False,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        # libgphoto2 drops storage IDs whose low 16 bits are 0 (gphoto2-interop.md §5.1).
        if not 0 < storage_id < ALL or not storage_id & 0xFFFF:
            raise ValueError(f"invalid storage ID 0x{storage_id:08X}")
        if max_capacity is not None and max_capacity <= 0:
            raise ValueError("max_capacity must be positive")
        self.storage_id = storage_id
        self.description = description
        self.volume_label = volume_label
        self.max_capacity = max_capacity
        self.model = model
        self.read_only = read_only
        self._clock = clock
        root = Path(root)
        if not read_only:  # a read-only card is never written to, not even created
            root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"{self.root} is not a folder")
        self._entries: dict[int, _Entry] = {}
        self._top: dict[str, int] = {}
        self._next_handle = 1
        self._last_number = 0
        self._captures = 0
        self._thumbs: dict[int, tuple[tuple[int, int], bytes]] = {}
        self._dims: dict[int, tuple[tuple[int, int], tuple[int, int, int]]] = {}
        with os.scandir(self.root) as it:
            empty = next(it, None) is None and not read_only
        if empty:
            try:
                self._write_samples()
            except StoreError as exc:  # a symlink planted meanwhile: no samples, no harm
                log.warning("no sample images on the card: %s", exc)
        added, _ = self.rescan()
        # DCF numbering continues across folders and deletions, like a camera's.
        self._last_number = max(
            (_max_file_number(e) for e in self._entries.values() if e.children is not None),
            default=0,
        )
        if empty:
            # Our own small JPEGs: make their thumbnails now so ObjectInfo sizes are exact.
            for handle in added:
                if self._entries[handle].children is None:
                    self._warm_thumbnail(handle)

    def _write_samples(self) -> None:
        """An empty card gets DCIM/100PTPIP with a few pictures, written the safe way (a
        DCIM symlink planted meanwhile is not followed)."""
        folder = self.root
        for name in ("DCIM", "100PTPIP"):
            with self._folder_fd(folder) as fd, contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=fd)
            folder = folder / name
        with self._folder_fd(folder) as fd:
            for name, data, stamp in sample_images(model=self.model, clock=self._clock):
                with os.fdopen(os.open(name, _CREATE_FLAGS, 0o666, dir_fd=fd), "wb") as out:
                    out.write(data)
                    out.flush()
                    os.utime(out.fileno(), (stamp, stamp))  # dates match DateTimeOriginal

    # -- scanning --------------------------------------------------------------------------

    def rescan(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Sync with the disk; returns the (added, removed) handles; the rest keep theirs."""
        added: list[int] = []
        removed: list[int] = []
        self._top = self._scan(self.root, 0, self._top, added, removed)
        return tuple(added), tuple(removed)

    def _scan(
        self, folder: Path, parent: int, old: dict[str, int], added: list[int], removed: list[int]
    ) -> dict[str, int]:
        found: list[tuple[str, bool]] = []
        try:
            with self._folder_fd(folder) as fd, os.scandir(fd) as it:
                for item in it:
                    kind = _kind(item)
                    if kind is not None and _servable(item.name):
                        found.append((item.name, kind))
        except (OSError, StoreError):
            found = []  # the folder vanished, is unreadable or became a symlink: empty
        found.sort()
        new: dict[str, int] = {}
        for name, is_folder in found:
            handle = old.get(name)
            entry = self._entries.get(handle) if handle is not None else None
            if entry is None or (entry.children is not None) != is_folder:
                if entry is not None:
                    self._forget(entry, removed)
                entry = self._register(parent, name, folder / name, is_folder)
                added.append(entry.handle)
            new[name] = entry.handle
            if entry.children is not None:
                entry.children = self._scan(
                    entry.path, entry.handle, entry.children, added, removed
                )
        for name, handle in list(old.items()):  # _forget edits ``old``
            if name not in new and handle in self._entries:
                self._forget(self._entries[handle], removed)
        return new

    def _register(self, parent: int, name: str, path: Path, is_folder: bool) -> _Entry:
        handle = self._next_handle
        # Handles never equal a storage ID (libgphoto2's iOS hack, gphoto2-interop.md §7), 0 or ALL.
        while handle == self.storage_id or handle in self._entries:
            handle += 1
        if handle >= ALL:
            raise StoreError(ResponseCode.STORE_FULL, "object handles exhausted")
        self._next_handle = handle + 1
        if is_folder:
            entry = _Entry(handle, parent, name, path, ObjectFormatCode.ASSOCIATION, {})
        else:
            entry = _Entry(handle, parent, name, path, object_format(name))
        self._entries[handle] = entry
        return entry

    def _forget(self, entry: _Entry, removed: list[int]) -> None:
        """Drop ``entry`` and its subtree from the index (not from disk)."""
        for child in list((entry.children or {}).values()):
            if child in self._entries:
                self._forget(self._entries[child], removed)
        siblings = self._children_of(entry.parent)
        if siblings.get(entry.name) == entry.handle:
            del siblings[entry.name]
        del self._entries[entry.handle]
        self._thumbs.pop(entry.handle, None)
        self._dims.pop(entry.handle, None)
        removed.append(entry.handle)

    def _children_of(self, parent: int) -> dict[str, int]:
        if parent == 0:
            return self._top
        children = self._entries[parent].children
        assert children is not None
        return children

    # -- lookups ---------------------------------------------------------------------------

    def __contains__(self, handle: object) -> bool:
        return handle in self._entries

    def storage_ids(self) -> tuple[int, ...]:
        """GetStorageIDs: this store's one ID."""
        return (self.storage_id,)

    def storage_info(self, storage_id: int) -> StorageInfo:
        """GetStorageInfo: a removable DCF card; capacity from the disk or ``max_capacity``."""
        if storage_id != self.storage_id:
            raise StoreError(ResponseCode.INVALID_STORAGE_ID, f"no storage 0x{storage_id:08X}")
        capacity, free = self._capacity()
        access = (
            AccessCapability.READ_ONLY_WITHOUT_DELETION
            if self.read_only
            else AccessCapability.READ_WRITE
        )
        return StorageInfo(
            storage_type=StorageType.REMOVABLE_RAM,
            filesystem_type=FilesystemType.DCF,
            access_capability=access,
            max_capacity=capacity,
            free_space_bytes=free,
            free_space_images=min(free // _IMAGE_BYTES_ESTIMATE, _U32_MAX - 1),
            storage_description=self.description,
            volume_label=self.volume_label,
        )

    def _capacity(self) -> tuple[int, int]:
        usage = shutil.disk_usage(self.root)
        if self.max_capacity is None:
            return usage.total, usage.free
        used = 0
        for entry in self._entries.values():
            if entry.children is None:
                with contextlib.suppress(StoreError):
                    used += self._lstat(entry).st_size
        return self.max_capacity, max(0, min(usage.free, self.max_capacity - used))

    def handles(
        self, storage_id: int = ALL, object_format: int = 0, parent: int = 0
    ) -> tuple[int, ...]:
        """GetObjectHandles: parent 0 = all objects, ALL = the root level, else a folder's."""
        if storage_id not in (ALL, self.storage_id):
            raise StoreError(ResponseCode.INVALID_STORAGE_ID, f"no storage 0x{storage_id:08X}")
        if parent == 0:
            pool: list[int] = list(self._entries)
        elif parent == ALL:
            pool = list(self._top.values())
        else:
            entry = self._entries.get(parent)
            if entry is None or entry.children is None:
                raise StoreError(ResponseCode.INVALID_PARENT_OBJECT, f"no folder 0x{parent:08X}")
            pool = list(entry.children.values())
        if object_format:
            return tuple(h for h in pool if self._entries[h].object_format == object_format)
        return tuple(pool)

    def lookup(self, relative: str | Path) -> int:
        """The handle of the object at ``relative``, a path below the root."""
        handle = 0
        for part in Path(relative).parts:
            children = self._top if handle == 0 else self._entries[handle].children
            found = None if children is None else children.get(part)
            if found is None:
                raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, f"no object {relative}")
            handle = found
        if handle == 0:
            raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, "the root is not an object")
        return handle

    def _entry(self, handle: int) -> _Entry:
        entry = self._entries.get(handle)
        if entry is None:
            raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, f"no object 0x{handle:08X}")
        return entry

    def _checked_path(self, entry: _Entry) -> Path:
        # The index holds resolved paths, so any symlink swapped in since the scan (the object
        # itself or a folder above it) makes realpath differ. Only a report: every access
        # below goes through _parent_fd, which cannot be led outside the root.
        if os.path.realpath(entry.path) != str(entry.path):
            raise StoreError(
                ResponseCode.ACCESS_DENIED, f"{entry.name} is no longer under the root"
            )
        return entry.path

    # -- safe disk access ------------------------------------------------------------------

    def _parts(self, path: Path) -> tuple[str, ...]:
        return path.relative_to(self.root).parts

    @contextlib.contextmanager
    def _folder_fd(self, folder: Path) -> Iterator[int]:
        """An fd of ``folder`` (the root or a folder below it), opened one component at a
        time from the root without following symlinks."""
        fd = _open_dir(str(self.root), None, "the card")
        try:
            for part in self._parts(folder):
                child = _open_dir(part, fd, part)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _parent_fd(self, entry: _Entry) -> Iterator[int]:
        """An fd of the folder that holds ``entry`` (see :meth:`_folder_fd`)."""
        with self._folder_fd(entry.path.parent) as fd:
            yield fd

    def _lstat(self, entry: _Entry) -> os.stat_result:
        try:
            with self._parent_fd(entry) as parent:
                st = os.stat(entry.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, f"{entry.name} is gone") from None
        except OSError as exc:
            raise StoreError(ResponseCode.ACCESS_DENIED, f"{entry.name}: {exc}") from None
        expected = stat.S_ISDIR if entry.children is not None else stat.S_ISREG
        if not expected(st.st_mode):
            raise StoreError(ResponseCode.ACCESS_DENIED, f"{entry.name} changed kind on disk")
        return st

    def _open_fd(self, entry: _Entry) -> int:
        """A read-only fd of the regular file ``entry``, reached without following symlinks."""
        if entry.children is not None:
            raise StoreError(ResponseCode.ACCESS_DENIED, f"{entry.name} is a folder")
        try:
            with self._parent_fd(entry) as parent:
                fd = os.open(entry.name, _READ_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, f"{entry.name} is gone") from None
        except OSError as exc:
            if exc.errno in _SWAPPED:
                raise StoreError(
                    ResponseCode.ACCESS_DENIED, f"{entry.name} is no longer under the root"
                ) from None
            raise StoreError(ResponseCode.ACCESS_DENIED, f"{entry.name}: {exc}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError(ResponseCode.ACCESS_DENIED, f"{entry.name} is not a regular file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def path(self, handle: int) -> Path:
        """The object's path on disk, checked to be under root (for display: read with
        :meth:`open`, :meth:`source` or :meth:`read_bytes`, which cannot be redirected)."""
        return self._checked_path(self._entry(handle))

    def size(self, handle: int) -> int:
        """The exact byte size of a file (0 for a folder), beyond 4 GiB too."""
        entry = self._entry(handle)
        return 0 if entry.children is not None else self._lstat(entry).st_size

    def open(self, handle: int) -> BinaryIO:
        """A read-only binary file object for streaming the object's data; the caller closes it."""
        return self._open(self._entry(handle))

    def _open(self, entry: _Entry) -> BinaryIO:
        return os.fdopen(self._open_fd(entry), "rb")

    def read_bytes(self, handle: int) -> bytes:
        """A (small) file's whole content."""
        with self.open(handle) as fp:
            return fp.read()

    def source(self, handle: int, offset: int = 0, length: int | None = None) -> StoreSource:
        """A file's bytes ``offset``… (``length`` of them, or to the end) for a data-in phase.

        A folder has no data: AccessDenied (GetObject, GetPartialObject). The file is opened
        now to fix its size and identity and again, the same safe way, when sent; if it is
        no longer the same file by then, sending fails before the data phase starts.
        """
        entry = self._entry(handle)
        fd = self._open_fd(entry)
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if offset > st.st_size:
            raise StoreError(ResponseCode.INVALID_PARAMETER, f"offset {offset} past the end")
        available = st.st_size - offset
        size = available if length is None else min(length, available)
        return StoreSource(self, entry, (st.st_dev, st.st_ino), offset, size)

    # -- datasets --------------------------------------------------------------------------

    def object_info(self, handle: int) -> ObjectInfo:
        """GetObjectInfo, with dates from the mtime (local time) and dimensions from the header."""
        entry = self._entry(handle)
        st = self._lstat(entry)
        when = datetime.fromtimestamp(st.st_mtime).replace(microsecond=0)
        protection = (
            ProtectionStatus.NO_PROTECTION
            if st.st_mode & stat.S_IWUSR
            else ProtectionStatus.READ_ONLY
        )
        if entry.children is not None:
            return ObjectInfo(
                storage_id=self.storage_id,
                object_format=ObjectFormatCode.ASSOCIATION,
                protection_status=protection,
                parent=entry.parent,
                association_type=AssociationType.GENERIC_FOLDER,
                filename=entry.name,
                capture_date=when,
                modification_date=when,
            )
        width, height, depth = self._dimensions(entry, st)
        thumb_format = thumb_bytes = thumb_width = thumb_height = 0
        if width and height:
            thumb_format = ObjectFormatCode.JFIF
            thumb_width, thumb_height = thumb_size(width, height)
            cached = self._thumbs.get(handle)
            if cached is not None and cached[0] == (st.st_mtime_ns, st.st_size):
                thumb_bytes = len(cached[1])
            else:
                # Not made yet: an estimate, never 0 (libgphoto2 reads 0 as "no thumbnail").
                # Making every thumbnail here would cost a decode per listed file.
                thumb_bytes = max(2048, thumb_width * thumb_height // 4)
        return ObjectInfo(
            storage_id=self.storage_id,
            object_format=entry.object_format,
            protection_status=protection,
            compressed_size=min(st.st_size, _U32_MAX),  # 0xFFFFFFFF: 4 GiB or more
            thumb_format=thumb_format,
            thumb_compressed_size=thumb_bytes,
            thumb_width=thumb_width,
            thumb_height=thumb_height,
            image_width=width,
            image_height=height,
            image_bit_depth=depth,
            parent=entry.parent,
            filename=entry.name,
            capture_date=when,
            modification_date=when,
        )

    def _dimensions(self, entry: _Entry, st: os.stat_result) -> tuple[int, int, int]:
        if entry.object_format not in SIZED_FORMATS:
            return 0, 0, 0
        key = (st.st_mtime_ns, st.st_size)
        cached = self._dims.get(entry.handle)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with self._open(entry) as fp:
                if entry.object_format == ObjectFormatCode.PNG:
                    dims = png_dimensions(fp)
                else:
                    dims = jpeg_dimensions(fp)
        except (StoreError, OSError):
            dims = None
        result = dims or (0, 0, 0)
        self._dims[entry.handle] = (key, result)
        return result

    def thumbnail(self, handle: int) -> bytes:
        """GetThumb: a JPEG fitted into 160×120, cached per file version."""
        entry = self._entry(handle)
        if entry.children is not None or not ObjectFormatCode.is_image(entry.object_format):
            raise StoreError(ResponseCode.NO_THUMBNAIL_PRESENT, f"{entry.name} is not an image")
        st = self._lstat(entry)
        key = (st.st_mtime_ns, st.st_size)
        cached = self._thumbs.pop(handle, None)
        if cached is None or cached[0] != key:
            with self._open(entry) as fp:
                data = make_thumbnail(fp)
            if data is None:
                raise StoreError(ResponseCode.NO_THUMBNAIL_PRESENT, f"cannot decode {entry.name}")
            cached = (key, data)
        self._thumbs[handle] = cached  # re-inserted last: the dict's order is the LRU order
        if len(self._thumbs) > _THUMB_CACHE_LIMIT:
            del self._thumbs[next(iter(self._thumbs))]
        return cached[1]

    def _warm_thumbnail(self, handle: int) -> None:
        with contextlib.suppress(StoreError):
            self.thumbnail(handle)

    # -- changes ---------------------------------------------------------------------------

    def delete(self, handle: int, object_format: int = 0) -> tuple[int, ...]:
        """DeleteObject: a file, a folder with its contents, or ALL (optionally one format).

        Returns the deleted handles. Protected objects stay; if anything was deleted anyway
        the error is PartialDeletion and carries the deleted handles.
        """
        if self.read_only:
            raise StoreError(ResponseCode.STORE_READ_ONLY, "the store is read-only")
        if handle != ALL:
            targets = [self._entry(handle).handle]
        elif object_format:
            # ISO 15740 DeleteObject: the format parameter only applies to handle 0xFFFFFFFF.
            targets = [h for h, e in self._entries.items() if e.object_format == object_format]
        else:
            targets = list(self._top.values())
        deleted: list[int] = []
        failure = 0
        for target in targets:
            entry = self._entries.get(target)
            if entry is not None:  # None: it went with a folder deleted before it
                failure = self._delete_tree(entry, deleted) or failure
        if failure:
            code = ResponseCode.PARTIAL_DELETION if deleted else failure
            raise StoreError(code, "some objects could not be deleted", deleted=tuple(deleted))
        return tuple(deleted)

    def _delete_tree(self, entry: _Entry, deleted: list[int]) -> int:
        """Delete ``entry``'s contents, then ``entry``; returns 0 or a failure's response code.

        ``deleted`` gets each deleted folder before its contents, so a fully deleted target
        comes first.
        """
        contents: list[int] = []
        failure = 0
        for child in list((entry.children or {}).values()):
            failure = self._delete_tree(self._entries[child], contents) or failure
        failure = failure or self._unlink(entry)
        if not failure:
            self._forget(entry, [])  # its contents are forgotten already
            deleted.append(entry.handle)
        deleted.extend(contents)
        return failure

    def _unlink(self, entry: _Entry) -> int:
        try:
            st = self._lstat(entry)
        except StoreError as exc:
            # gone from disk already: deleted all the same
            return 0 if exc.code == ResponseCode.INVALID_OBJECT_HANDLE else exc.code
        if not st.st_mode & stat.S_IWUSR:
            return ResponseCode.OBJECT_WRITE_PROTECTED
        try:
            # Relative to the parent's fd: a folder above swapped for a symlink since the
            # check cannot redirect the deletion; unlink and rmdir never follow the name.
            with self._parent_fd(entry) as parent:
                if entry.children is not None:
                    os.rmdir(entry.name, dir_fd=parent)
                else:
                    os.unlink(entry.name, dir_fd=parent)
        except FileNotFoundError:
            pass
        except (OSError, StoreError):
            return ResponseCode.ACCESS_DENIED
        return 0

    def add_capture(self, jpeg: bytes | None = None, *, folder: int | None = None) -> int:
        """Store a new IMG_NNNN.JPG (``jpeg`` or a generated frame) and return its handle."""
        if self.read_only:
            raise StoreError(ResponseCode.STORE_READ_ONLY, "the store is read-only")
        if folder is not None:
            target = self._entries.get(folder)
            if target is None or target.children is None:
                raise StoreError(ResponseCode.INVALID_PARENT_OBJECT, f"no folder 0x{folder:08X}")
        else:
            target = self._capture_folder()
        number = max(self._last_number, _max_file_number(target)) + 1
        if number > 9999:
            if folder is not None:
                raise StoreError(ResponseCode.STORE_FULL, f"{target.name} holds IMG_9999")
            target = self._next_dcf_folder(target)
            number = 1
        self._captures += 1
        when = self._clock()
        data = jpeg
        if data is None:
            data = generate_jpeg(
                number, model=self.model, when=when, label=f"IMG_{number:04d}  #{self._captures}"
            )
        if len(data) > self._capacity()[1]:
            raise StoreError(ResponseCode.STORE_FULL, "no space left for the capture")
        name, path = self._write_new(target, number, data)
        self._last_number = int(name[4:8])
        entry = self._register(target.handle, name, path, False)
        self._children_of(target.handle)[name] = entry.handle
        self._warm_thumbnail(entry.handle)
        return entry.handle

    def _write_new(self, target: _Entry, number: int, data: bytes) -> tuple[str, Path]:
        try:
            with self._folder_fd(target.path) as folder:
                for candidate in range(number, 10000):
                    name = f"IMG_{candidate:04d}.JPG"
                    try:
                        # O_EXCL: never overwrite (nor follow a symlink planted there)
                        fd = os.open(name, _CREATE_FLAGS, 0o666, dir_fd=folder)
                    except FileExistsError:
                        continue
                    try:
                        with os.fdopen(fd, "wb") as out:
                            out.write(data)
                    except OSError:
                        with contextlib.suppress(OSError):  # no half-written capture
                            os.unlink(name, dir_fd=folder)
                        raise
                    return name, target.path / name
        except OSError as exc:
            raise StoreError(ResponseCode.STORE_FULL, f"cannot write a capture: {exc}") from exc
        raise StoreError(ResponseCode.STORE_FULL, f"{target.name} has no free file number")

    def _capture_folder(self) -> _Entry:
        dcim = next(
            (
                self._entries[h]
                for name, h in self._top.items()
                if name.upper() == "DCIM" and self._entries[h].children is not None
            ),
            None,
        ) or self._make_folder(0, "DCIM")
        assert dcim.children is not None
        numbered = [
            (int(match[1]), self._entries[h])
            for name, h in dcim.children.items()
            if (match := _DCF_FOLDER.fullmatch(name)) and self._entries[h].children is not None
        ]
        if not numbered:
            return self._make_folder(dcim.handle, "100PTPIP")
        return max(numbered, key=lambda item: item[0])[1]

    def _next_dcf_folder(self, current: _Entry) -> _Entry:
        match = _DCF_FOLDER.fullmatch(current.name)
        number = int(match[1]) + 1 if match else 100
        if number > 999:
            raise StoreError(ResponseCode.STORE_FULL, "DCF folder numbers exhausted")
        return self._make_folder(current.parent, f"{number}PTPIP")

    def _make_folder(self, parent: int, name: str) -> _Entry:
        base = self.root if parent == 0 else self._entries[parent].path
        path = base / name
        try:
            with self._folder_fd(base) as fd:
                try:
                    os.mkdir(name, dir_fd=fd)
                except FileExistsError:
                    if not stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise
        except OSError as exc:
            raise StoreError(ResponseCode.STORE_FULL, f"cannot create {name}: {exc}") from exc
        siblings = self._children_of(parent)
        existing = siblings.get(name)
        if existing is not None:
            return self._entries[existing]
        entry = self._register(parent, name, path, True)
        siblings[name] = entry.handle
        return entry


class StoreSource:
    """A byte range of a file in the store, read as it is sent (a 4 GiB object never sits
    in memory), through the store's symlink-proof walk."""

    def __init__(
        self,
        store: ObjectStore,
        entry: _Entry,
        identity: tuple[int, int],
        offset: int,
        size: int,
    ) -> None:
        self._store = store
        self._entry = entry
        self._identity = identity
        self.offset = offset
        self.size = size

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        fd = self._store._open_fd(self._entry)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != self._identity:
                raise StoreError(
                    ResponseCode.ACCESS_DENIED, f"{self._entry.name} was replaced on disk"
                )
            pos, end = self.offset, self.offset + self.size
            while pos < end:
                piece = os.pread(fd, min(chunk_size, end - pos), pos)
                if not piece:
                    raise OSError(f"{self._entry.name} shrank while being sent")
                pos += len(piece)
                yield piece
        finally:
            os.close(fd)


def _open_dir(name: str, dir_fd: int | None, what: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise StoreError(ResponseCode.INVALID_OBJECT_HANDLE, f"{what} is gone") from None
    except OSError as exc:
        if exc.errno in _SWAPPED:
            raise StoreError(
                ResponseCode.ACCESS_DENIED, f"{what} is no longer a folder under the root"
            ) from None
        raise


def _kind(item: os.DirEntry[str]) -> bool | None:
    """True for a folder, False for a file, None for what is not served (symlinks, devices)."""
    try:
        if item.is_symlink():
            return None
        if item.is_dir(follow_symlinks=False):
            return True
        if item.is_file(follow_symlinks=False):
            return False
    except OSError:
        pass
    return None


def _servable(name: str) -> bool:
    if _BAD_NAME.search(name):
        return False
    # A PTP STR holds 254 UTF-16 units plus the terminator.
    return len(name) <= 127 or len(name.encode("utf-16-le")) <= 508


def _max_file_number(folder: _Entry) -> int:
    numbers = [int(m[1]) for name in folder.children or () if (m := _DCF_FILE.fullmatch(name))]
    return max(numbers, default=0)
