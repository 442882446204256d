"""MJPEG both ways: the HTTP multipart stream (``multipart/x-mixed-replace``) and raw MJPEG
(JPEG images back to back, what ``ffmpeg -f mjpeg`` reads and writes).

Pure functions and small incremental parsers, no I/O: the server builds parts with
:func:`http_part`; readers (tests, the benchmark, any Python client) split a multipart body
with :class:`MultipartReader` and raw MJPEG with :class:`JpegSplitter`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BOUNDARY",
    "CONTENT_TYPE",
    "JpegSplitter",
    "MultipartReader",
    "Part",
    "http_part",
    "jpeg_end",
]

BOUNDARY = "ptpip-frame"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
_MAX_HEADER = 4096


def http_part(jpeg: bytes, seq: int, counter: int | None = None) -> bytes:
    """One part of the multipart stream: boundary, headers, the JPEG as it is, CRLF."""
    head = (
        f"--{BOUNDARY}\r\n"
        "Content-Type: image/jpeg\r\n"
        f"Content-Length: {len(jpeg)}\r\n"
        f"X-Frame: {seq}\r\n" + (f"X-Camera-Counter: {counter}\r\n" if counter is not None else "")
    ) + "\r\n"
    return b"".join((head.encode("ascii"), jpeg, b"\r\n"))


@dataclass(frozen=True, slots=True)
class Part:
    headers: dict[str, str]
    body: bytes


@dataclass
class MultipartReader:
    """Incremental reader of a ``multipart/x-mixed-replace`` body whose parts carry a
    Content-Length (as ptpip's do, and most MJPEG servers')."""

    boundary: str = BOUNDARY
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Part]:
        self._buffer += data
        parts: list[Part] = []
        buf = self._buffer
        marker = b"--" + self.boundary.encode("ascii")
        while True:
            start = buf.find(marker)
            if start < 0:
                if len(buf) > _MAX_HEADER:
                    raise ValueError("no multipart boundary in the stream")
                break
            head_end = buf.find(b"\r\n\r\n", start)
            if head_end < 0:
                if len(buf) - start > _MAX_HEADER:
                    raise ValueError("multipart part header too long")
                break
            lines = bytes(buf[start + len(marker) : head_end]).decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in lines:
                if ":" in line:
                    key, value = line.split(":", 1)
                    headers[key.strip().lower()] = value.strip()
            if "content-length" not in headers:
                raise ValueError("multipart part without Content-Length")
            length = int(headers["content-length"])
            body_start = head_end + 4
            if len(buf) < body_start + length:
                break
            parts.append(Part(headers, bytes(buf[body_start : body_start + length])))
            del buf[: body_start + length]
        return parts


def jpeg_end(data: bytes | bytearray | memoryview, start: int = 0) -> int | None:
    """Where the JPEG image starting at ``start`` ends (one past its EOI marker); None when
    ``data`` holds only part of it. Raises ValueError when it is not a JPEG.

    Follows the marker segments by their lengths (so an EXIF thumbnail's EOI is skipped) and
    scans entropy-coded data for the next marker (0xFF not followed by 0x00 or RSTn).
    """
    view = bytes(data) if isinstance(data, memoryview) else data
    end = len(view)
    if end - start < 2:
        return None
    if view[start] != 0xFF or view[start + 1] != 0xD8:
        raise ValueError(f"no JPEG start (FFD8) at offset {start}")
    pos = start + 2
    while True:
        if pos + 2 > end:
            return None
        if view[pos] != 0xFF:
            raise ValueError(f"no JPEG marker at offset {pos}")
        marker = view[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > end:
            return None
        length = (view[pos + 2] << 8) | view[pos + 3]
        if length < 2:
            raise ValueError(f"bad JPEG segment length {length} at offset {pos}")
        pos += 2 + length
        if marker != 0xDA:
            continue
        # entropy-coded data: runs until a marker that is not a stuffed 0xFF00 or an RSTn
        while True:
            pos = view.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= end:
                return None
            following = view[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                pos += 1 if following == 0xFF else 2
                continue
            break


@dataclass
class JpegSplitter:
    """Incremental splitter of raw MJPEG (JPEG images back to back) into images."""

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        images: list[bytes] = []
        while self._buffer:
            end = jpeg_end(self._buffer)
            if end is None:
                break
            images.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
        return images

    @property
    def pending(self) -> int:
        """Bytes of an image not complete yet."""
        return len(self._buffer)
