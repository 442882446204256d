"""Fujifilm wire codecs: 0x902B property lists, 0xD212 state, live-view frames, 0xD185 blobs.

Pure functions, no I/O. Decoders raise only :class:`RemoteProtocolError`; encoders raise
:class:`LocalProtocolError`. Layouts: vendor-fuji.md §9.2, §9.3, §12; vectors README §2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.datasets import DevicePropDesc
from ptpip.ptp.values import Reader, Writer

__all__ = [
    "FRAME_HEADER_SIZE",
    "MAX_FRAME_SIZE",
    "LiveViewFrame",
    "LiveViewStreamReader",
    "RawConvProfile",
    "decode_liveview_frame",
    "decode_prop_list",
    "decode_raw_conv_profile",
    "decode_state",
    "encode_liveview_frame",
    "encode_prop_list",
    "encode_state",
]

Buffer = bytes | bytearray | memoryview

# --- 0x902B property list (§9.2) -------------------------------------------------------------


def decode_prop_list(data: Buffer) -> list[DevicePropDesc]:
    """``u32 N`` + N × {``u32 entryLen`` (counting itself), DevicePropDesc}.

    An entry whose descriptor cannot be parsed is skipped by its entryLen, so one odd property
    never desynchronises the rest; bytes left inside an entry after its descriptor, and bytes
    after the N entries, are ignored. An entryLen < 4 or beyond the data raises.
    """
    r = Reader(data)
    count = r.pull_u32()
    if count * 4 > r.remaining:
        raise RemoteProtocolError(f"0x902B: {count} entries cannot fit in {r.remaining} bytes")
    descs: list[DevicePropDesc] = []
    for index in range(count):
        entry_len = r.pull_u32()
        if entry_len < 4 or entry_len - 4 > r.remaining:
            raise RemoteProtocolError(
                f"0x902B: entry {index} length {entry_len} with {r.remaining + 4} bytes left"
            )
        entry = r.pull_bytes(entry_len - 4)
        try:
            descs.append(DevicePropDesc.pull(Reader(entry)))
        except RemoteProtocolError:
            continue
    return descs


def encode_prop_list(descs: Iterable[DevicePropDesc]) -> bytes:
    """The 0x902B data for ``descs``."""
    items = list(descs)
    w = Writer()
    w.push_u32(len(items))
    for desc in items:
        body = desc.encode()
        w.push_u32(len(body) + 4)
        w.push_bytes(body)
    return w.getvalue()


# --- 0xD212 current state (§9.3) -------------------------------------------------------------


def decode_state(data: Buffer) -> list[tuple[int, int]]:
    """``u16 count`` + count × {``u16 prop``, ``u32 value``} → [(prop, value), …].

    Bytes after the entries are an error: the count must describe the whole value.
    """
    r = Reader(data)
    count = r.pull_u16()
    if count * 6 > r.remaining:
        raise RemoteProtocolError(f"0xD212: {count} entries cannot fit in {r.remaining} bytes")
    pairs = [(r.pull_u16(), r.pull_u32()) for _ in range(count)]
    r.expect_end("0xD212 state")
    return pairs


def encode_state(pairs: Iterable[tuple[int, int]]) -> bytes:
    items = list(pairs)
    w = Writer()
    if len(items) > 0xFFFF:
        raise LocalProtocolError(f"0xD212 holds at most 65535 entries, got {len(items)}")
    w.push_u16(len(items))
    for prop, value in items:
        w.push_u16(prop)
        w.push_u32(value)
    return w.getvalue()


# --- live view, port 55742 (§12) -------------------------------------------------------------

#: Length, zero word, counter and 9 unknown bytes precede the JPEG.
FRAME_HEADER_SIZE = 18
#: Default cap on one frame; a length above it is treated as a broken stream.
MAX_FRAME_SIZE = 16 * 1024 * 1024
_SOI = b"\xff\xd8"
_DEFAULT_TAIL = bytes(9)


@dataclass(frozen=True, slots=True)
class LiveViewFrame:
    """One frame: its counter (byte 8), the raw bytes before the JPEG, and the JPEG."""

    counter: int
    #: the frame's bytes before the JPEG, length field included (normally 18 bytes)
    header: bytes
    jpeg: bytes

    @property
    def tail(self) -> bytes:
        """The unknown bytes after the counter (``encode_liveview_frame``'s ``tail``)."""
        return self.header[9:]


def decode_liveview_frame(frame: Buffer) -> LiveViewFrame:
    """One whole frame: ``u32 length`` (= the frame's size), u32 0, u8 counter, 9 bytes, JPEG.

    The JPEG starts at offset 18; if ``FF D8`` is not there it is searched for from 18 on.
    """
    data = bytes(frame)
    if len(data) < FRAME_HEADER_SIZE:
        raise RemoteProtocolError(f"live-view frame of {len(data)} bytes is shorter than 18")
    length = int.from_bytes(data[:4], "little")
    if length != len(data):
        raise RemoteProtocolError(f"live-view frame says {length} bytes but has {len(data)}")
    start = data.find(_SOI, FRAME_HEADER_SIZE)
    if start < 0:
        raise RemoteProtocolError("live-view frame holds no JPEG (no FF D8 after offset 18)")
    return LiveViewFrame(data[8], data[:start], data[start:])


def encode_liveview_frame(counter: int, jpeg: bytes, tail: bytes = _DEFAULT_TAIL) -> bytes:
    """A frame as the camera sends it: length, zero word, counter (mod 256), ``tail``, JPEG."""
    if not jpeg.startswith(_SOI):
        raise LocalProtocolError("a live-view JPEG must start with FF D8")
    if len(tail) < 9 or _SOI in tail[9:] + jpeg[:1]:
        # a longer tail is allowed as long as the decoder's SOI search cannot stop inside it
        raise LocalProtocolError("the tail must be at least 9 bytes with no FF D8 after byte 9")
    length = 9 + len(tail) + len(jpeg)
    if length > 0xFFFF_FFFF:
        raise LocalProtocolError("live-view frame too long")
    w = Writer()
    w.push_u32(length)
    w.push_u32(0)
    w.push_u8(counter & 0xFF)
    w.push_bytes(tail)
    w.push_bytes(jpeg)
    return w.getvalue()


class LiveViewStreamReader:
    """Reassembles frames from the port-55742 byte stream, whatever the chunking.

    A length below 18 or above ``max_frame_size`` means the stream is broken: it raises
    :class:`RemoteProtocolError` then and on every later :meth:`feed`. A well-framed frame
    with no JPEG in it is dropped and counted in :attr:`dropped`.
    """

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        if max_frame_size < FRAME_HEADER_SIZE:
            raise ValueError(f"max_frame_size must be at least {FRAME_HEADER_SIZE}")
        self.max_frame_size = max_frame_size
        self.dropped = 0
        self._buf = bytearray()
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf)

    def feed(self, data: Buffer) -> list[LiveViewFrame]:
        """Add bytes; return every frame they complete, in order."""
        if self._error is not None:
            raise self._error
        self._buf += data
        frames: list[LiveViewFrame] = []
        while len(self._buf) >= 4:
            length = int.from_bytes(self._buf[:4], "little")
            if length < FRAME_HEADER_SIZE or length > self.max_frame_size:
                self._error = RemoteProtocolError(
                    f"live-view frame length {length} outside 18…{self.max_frame_size}"
                )
                self._buf.clear()
                raise self._error
            if len(self._buf) < length:
                break
            raw = bytes(self._buf[:length])
            del self._buf[:length]
            try:
                frames.append(decode_liveview_frame(raw))
            except RemoteProtocolError:
                self.dropped += 1
        return frames


# --- 0xD185 RAW-conversion profile (vectors README §2) ---------------------------------------


@dataclass(frozen=True, slots=True)
class RawConvProfile:
    """The 0xD185 value: the IOP code string and the N signed parameters at the buffer's end."""

    iop_code: str
    params: tuple[int, ...]


_STRING_OFFSET = 3


def decode_raw_conv_profile(data: Buffer) -> RawConvProfile:
    """``u16 N`` at 0, a UTF-16LE NUL-terminated string at 3, N × i32 in the last 4N bytes.

    The byte at 2 (a PTP-string-style count) is not trusted: the X-H1 sends 8 for 9 units.
    """
    raw = bytes(data)
    if len(raw) < _STRING_OFFSET:
        raise RemoteProtocolError(f"0xD185 value of {len(raw)} bytes is too short")
    count = int.from_bytes(raw[:2], "little")
    params_at = len(raw) - 4 * count
    if params_at < _STRING_OFFSET:
        raise RemoteProtocolError(f"0xD185: {count} parameters do not fit {len(raw)} bytes")
    text = raw[_STRING_OFFSET:params_at]
    text = text[: len(text) - len(text) % 2]
    for i in range(0, len(text), 2):
        if text[i : i + 2] == b"\x00\x00":
            text = text[:i]
            break
    params = tuple(
        int.from_bytes(raw[i : i + 4], "little", signed=True) for i in range(params_at, len(raw), 4)
    )
    return RawConvProfile(text.decode("utf-16-le", errors="replace"), params)
