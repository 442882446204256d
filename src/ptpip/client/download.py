"""Downloads streamed to disk: safe names, ``NAME.part`` files, resume, atomic rename.

Everything written goes into a folder opened once (a directory file descriptor), by name,
with ``O_NOFOLLOW``: a symbolic link planted in the download folder is never written
through, and a folder swapped for a link after the check is not entered. A ``.part`` file
is locked while it is written (two downloads into one folder never share it) and carries a
small sidecar (``NAME.part.json``) naming the camera and object it belongs to; only a
``.part`` whose sidecar matches is resumed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ptpip.errors import RemoteProtocolError, StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Destination",
    "FileSink",
    "Folder",
    "PartBusy",
    "PartFile",
    "Progress",
    "atomic_file",
    "numbered_name",
    "open_folder",
    "part_path",
    "safe_filename",
    "save_new",
]

#: Called with (bytes done, bytes total or None) as a download advances.
Progress = Callable[[int, int | None], None]

_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
# Separators, controls (C0, DEL, C1) and the invisible bidi and format marks that make a
# name read differently from what it is ("gpj.exe" shown as "exe.jpg").
_UNSAFE = re.compile(
    r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]'
)
_MAX_NAME_BYTES = 240  # leaves room for ".part" within the usual 255-byte limit


def safe_filename(name: str, fallback: str) -> str:
    """A camera-supplied file name made safe to create inside the target folder.

    No path separators, no ``..``, no absolute paths, no control characters and no device
    names: whatever the camera says, the file lands inside the folder we chose.
    """
    text = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("_", text).strip().strip(".")
    if not text:
        text = fallback
    stem = text.split(".")[0].upper()
    if stem in _WINDOWS_DEVICES:
        text = "_" + text
    raw = text.encode("utf-8")
    if len(raw) > _MAX_NAME_BYTES:
        base, dot, ext = text.rpartition(".")
        keep_ext = ("." + ext) if dot and len(ext) <= 10 else ""
        budget = _MAX_NAME_BYTES - len(keep_ext.encode("utf-8"))
        head = (base if keep_ext else text).encode("utf-8")[:budget].decode("utf-8", "ignore")
        text = head + keep_ext
    return text


def part_path(final: Path) -> Path:
    return final.with_name(final.name + ".part")


class FileSink:
    """Writes a data-in phase to an open binary file, counting bytes and reporting progress.

    Never writes more than ``expected`` bytes (what was asked for, or the object's size):
    an announcement or a stream beyond it is the camera's error, raised before the excess
    reaches the file.
    """

    def __init__(
        self,
        fh: BinaryIO,
        *,
        expected: int | None = None,
        start_offset: int = 0,
        progress: Progress | None = None,
        total: int | None = None,
        source: str = "the camera",
    ) -> None:
        self.fh = fh
        self.expected = expected
        self.written = 0
        self.start_offset = start_offset
        self.progress = progress
        self.total = total
        self.source = source

    def start(self, total: int | None) -> None:
        if self.expected is not None and total is not None and total > self.expected:
            raise RemoteProtocolError(
                f"{self.source} announced {total} bytes where {self.expected} were expected"
            )

    def write(self, data: bytes) -> None:
        if self.expected is not None and self.written + len(data) > self.expected:
            raise RemoteProtocolError(
                f"{self.source} sent more than the {self.expected} bytes expected"
            )
        self.fh.write(data)
        self.written += len(data)
        if self.progress is not None:
            self.progress(self.start_offset + self.written, self.total)


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: dir_fd works here (POSIX); elsewhere paths are used, with what protection the OS offers
_DIR_FD = os.open in os.supports_dir_fd and os.replace in os.supports_dir_fd


def _refused(path: Path, exc: OSError) -> StorageError:
    if exc.errno == errno.ELOOP:
        why = "it is a symbolic link: not followed"
    elif exc.errno == errno.ENOTDIR:
        why = "it is not a folder"
    elif exc.errno == errno.ENOSPC:
        why = "the disk is full"
    else:
        why = exc.strerror or str(exc)
    return StorageError(f"cannot write {path}: {why}")


class Folder:
    """An open folder that files are created in by name, never through a symbolic link."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def at(self, name: str) -> str:
        """``name`` as the os functions take it with ``dir_fd=self.fd``."""
        return name if self.fd is not None else str(self.path / name)

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(self.at(name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _refused(self.path / name, exc) from None

    def open(self, name: str, flags: int, mode: int = 0o644, *, shown: Path | None = None) -> int:
        """``os.open`` of a regular file in this folder; a link or a device is refused.

        Errors name ``shown`` if given (the final name of a temporary file)."""
        path = shown or self.path / name
        try:
            fd = os.open(
                self.at(name),
                flags | _NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                mode,
                dir_fd=self.fd,
            )
        except OSError as exc:
            raise _refused(path, exc) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StorageError(f"cannot write {path}: it is not a regular file")
        os.set_blocking(fd, True)
        return fd

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.at(name), dir_fd=self.fd)

    def replace(self, source: str, target: str) -> None:
        """Rename within the folder; a link at ``target`` is replaced, never written through."""
        try:
            os.replace(self.at(source), self.at(target), src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError as exc:
            raise _refused(self.path / target, exc) from None

    def sync(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self.fd)


def open_folder(root: Path, parts: Sequence[str] = (), *, create: bool = True) -> Folder:
    """``root``/``parts…`` opened for writing, the parts created as needed.

    ``root`` is the user's choice and may itself be or contain a symbolic link; below it,
    each part (named by the camera) must be a real folder: a link is never followed.
    """
    root = root.expanduser()
    try:
        if create:
            root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root, _DIR_FLAGS) if _DIR_FD else None
        if fd is None and not root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder")
    except OSError as exc:
        raise _refused(root, exc) from None
    path = root
    for part in parts:
        if part in ("", ".", "..") or "/" in part or "\\" in part:
            if fd is not None:
                os.close(fd)
            raise StorageError(f"refusing the folder name {part!r} below {root}")
        path = path / part
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part if fd is not None else path, 0o755, dir_fd=fd)
            if fd is None:
                if path.is_symlink() or not path.is_dir():
                    raise OSError(errno.ELOOP if path.is_symlink() else errno.ENOTDIR, "")
                continue
            child = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
        except OSError as exc:
            if fd is not None:
                os.close(fd)
            raise _refused(path, exc) from None
        os.close(fd)
        fd = child
    return Folder(path, fd)


@dataclass(frozen=True, slots=True)
class Destination:
    """A file to write: ``name`` inside an open :class:`Folder`."""

    folder: Folder
    name: str

    @property
    def path(self) -> Path:
        return self.folder.path / self.name


class PartBusy(StorageError):
    """Another download is writing this ``.part`` right now."""


def _lock(fd: int, path: Path) -> None:
    if fcntl is None:  # pragma: no cover - Windows
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise PartBusy(f"{path} is being written by another download") from None


class PartFile:
    """``NAME.part`` of a download: locked, resumable only by the object it belongs to.

    ``stamp`` identifies the object (camera serial, storage, handle, size, date); it is
    kept beside the part as ``NAME.part.json`` and a part is resumed only when it matches.
    """

    def __init__(self, dest: Destination, stamp: dict[str, object]) -> None:
        self.dest = dest
        self.stamp = stamp
        self.part_name = dest.name + ".part"
        self.meta_name = dest.name + ".part.json"
        folder = dest.folder
        try:
            fd = folder.open(self.part_name, os.O_RDWR | os.O_CREAT)
        except StorageError:
            # a link or a device planted under our temporary name: ours to replace
            if folder.lstat(self.part_name) is None:
                raise
            folder.unlink(self.part_name)
            fd = folder.open(self.part_name, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            _lock(fd, dest.folder.path / self.part_name)
            # The lock may come just after another download renamed this very file to its
            # final name: then it is no longer our part, and writing it would spoil theirs.
            now = folder.lstat(self.part_name)
            st = os.fstat(fd)
            if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise PartBusy(f"{dest.folder.path / self.part_name} was just renamed")
        except PartBusy:
            os.close(fd)
            raise
        self.fh: BinaryIO = os.fdopen(fd, "r+b")

    @property
    def size(self) -> int:
        return os.fstat(self.fh.fileno()).st_size

    def trusted_offset(self) -> int:
        """How many bytes of the part may belong to this object: all of them unless its
        sidecar names another object (0: start over). The caller still compares the last
        bytes with the camera's before resuming."""
        have = self.size
        if not have:
            return 0
        try:
            fd = self.dest.folder.open(self.meta_name, os.O_RDONLY)
        except StorageError:
            # no sidecar (or not a file): only the comparison of bytes can vouch for it
            return have if self.dest.folder.lstat(self.meta_name) is None else 0
        with os.fdopen(fd, "rb") as meta:
            try:
                saved = json.loads(meta.read(64 * 1024))
            except (ValueError, UnicodeDecodeError):
                return 0
        return have if saved == self.stamp else 0

    def tail(self, offset: int, length: int) -> bytes:
        self.fh.seek(offset - length)
        return self.fh.read(length)

    def begin(self, offset: int) -> None:
        """Keep ``offset`` bytes, drop the rest, and note whose part this is."""
        self.fh.seek(offset)
        self.fh.truncate()
        folder = self.dest.folder
        folder.unlink(self.meta_name)
        fd = folder.open(self.meta_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "w", encoding="utf-8") as meta:
            json.dump(self.stamp, meta)

    def commit(self, expected_size: int | None) -> Path:
        """Rename the part to its final name, only when its size is right; fsync first."""
        self.fh.flush()
        size = self.size
        if expected_size is not None and size != expected_size:
            raise RemoteProtocolError(
                f"{self.dest.name}: received {size} bytes, the camera announced"
                f" {expected_size}; kept as {self.part_name}"
            )
        os.fsync(self.fh.fileno())
        folder = self.dest.folder
        folder.replace(self.part_name, self.dest.name)
        folder.unlink(self.meta_name)
        folder.sync()
        return self.dest.path

    def discard(self) -> None:
        """Remove the part: what it holds cannot be trusted."""
        self.dest.folder.unlink(self.part_name)
        self.dest.folder.unlink(self.meta_name)

    def close(self) -> None:
        self.fh.close()


def numbered_name(name: str, n: int) -> str:
    """``IMG_0001.JPG`` -> ``IMG_0001-2.JPG`` (n = 2)."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{n}.{ext}" if dot and stem else f"{name}-{n}"


#: ``NAME-2.EXT`` … ``NAME-9999.EXT`` are tried when NAME is taken.
MAX_NAME_TRIES = 9999


def save_new(folder: Path, name: str, data: bytes) -> Path:
    """``data`` as a new file in ``folder``: ``name``, or ``NAME-2.EXT``, … when that is
    taken (nothing is replaced, nothing written through a link); returns its path."""
    with open_folder(folder) as opened:
        for n in range(1, MAX_NAME_TRIES + 1):
            candidate = name if n == 1 else numbered_name(name, n)
            if opened.lstat(candidate) is None:
                with atomic_file(Destination(opened, candidate)) as fh:
                    fh.write(data)
                return opened.path / candidate
    raise StorageError(f"{folder / name}: {MAX_NAME_TRIES} files of that name are there already")


@contextlib.contextmanager
def atomic_file(dest: Destination) -> Iterator[BinaryIO]:
    """A new file that appears under ``dest`` only when the block ends without an error.

    It is written under a unique hidden temporary name (created exclusively, never through
    a link) and renamed over ``dest`` at the end; on an error it is removed.
    """
    folder = dest.folder
    temp = f".{dest.name}.{secrets.token_hex(4)}.tmp"
    fd = folder.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, shown=dest.path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        folder.replace(temp, dest.name)
        folder.sync()
    except BaseException:
        folder.unlink(temp)
        raise
