"""Downloads streamed to disk: safe names, ``NAME.part`` files, resume, atomic rename."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ptpip.errors import RemoteProtocolError

__all__ = ["FileSink", "Progress", "part_path", "safe_filename"]

#: Called with (bytes done, bytes total or None) as a download advances.
Progress = Callable[[int, int | None], None]

_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
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
    """Writes a data-in phase to an open binary file, counting bytes and reporting progress."""

    def __init__(
        self,
        fh: BinaryIO,
        *,
        expected: int | None = None,
        start_offset: int = 0,
        progress: Progress | None = None,
        total: int | None = None,
    ) -> None:
        self.fh = fh
        self.expected = expected
        self.written = 0
        self.start_offset = start_offset
        self.progress = progress
        self.total = total

    def start(self, total: int | None) -> None:
        if self.expected is not None and total is not None and total > self.expected:
            raise RemoteProtocolError(f"camera announced {total} bytes, {self.expected} asked")

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.written += len(data)
        if self.progress is not None:
            self.progress(self.start_offset + self.written, self.total)


def finish(part: Path, final: Path, expected_size: int | None) -> None:
    """Rename ``part`` to ``final`` only when the size is right; fsync first."""
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        raise RemoteProtocolError(
            f"{final.name}: received {size} bytes, the camera announced {expected_size};"
            f" kept as {part.name}"
        )
    with part.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(part, final)
