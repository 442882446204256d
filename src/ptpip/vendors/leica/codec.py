"""Leica LEGetStreamData (0x9025) live-view payloads (vendor-leica.md §6). No I/O.

Layout: a 20-byte header of five u32 (the last is the JPEG's offset from the payload start),
then TLV records ``(u32 tag, u32 len, value)``, then the JPEG. The meaning of the first four
header words is unknown; the captured sample has 0x102, 0x1C46, 0x1C3E0000, 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.values import Writer

__all__ = [
    "DEFAULT_HEADER",
    "HEADER_SIZE",
    "LeicaStreamFrame",
    "decode_stream_frame",
    "encode_stream_frame",
]

HEADER_SIZE = 20
#: The first four header words of the captured sample that are not lengths (the 2nd and 3rd
#: look like sizes of that frame, so a fresh frame gets zeros there).
DEFAULT_HEADER = (0x0000_0102, 0, 0, 0)
_SOI = b"\xff\xd8"


@dataclass(frozen=True, slots=True)
class LeicaStreamFrame:
    """A decoded 0x9025 payload: the five header words, the TLVs, and the JPEG."""

    header_fields: tuple[int, int, int, int, int]
    tlvs: tuple[tuple[int, bytes], ...]
    jpeg: bytes


def _pull_tlvs(
    raw: bytes, pos: int, end: int, stop_at_soi: bool
) -> tuple[tuple[tuple[int, bytes], ...], int]:
    """TLVs from ``pos`` while a whole one fits before ``end``; returns them and the end."""
    tlvs: list[tuple[int, bytes]] = []
    while end - pos >= 8 and not (stop_at_soi and raw.startswith(_SOI, pos)):
        length = int.from_bytes(raw[pos + 4 : pos + 8], "little")
        if length > end - pos - 8:
            break
        tlvs.append((int.from_bytes(raw[pos : pos + 4], "little"), raw[pos + 8 : pos + 8 + length]))
        pos += 8 + length
    return tuple(tlvs), pos


def decode_stream_frame(data: bytes | bytearray | memoryview) -> LeicaStreamFrame:
    """Decode a 0x9025 payload.

    The header's JPEG offset is used when it points at ``FF D8`` inside the payload; else the
    TLVs are read while they fit and the JPEG is the first ``FF D8`` after them (or, failing
    that, after the header). TLV bytes that do not form a whole record are dropped.
    """
    raw = bytes(data)
    if len(raw) < HEADER_SIZE:
        raise RemoteProtocolError(f"0x9025 payload of {len(raw)} bytes is shorter than 20")
    f0, f1, f2, f3, offset = (int.from_bytes(raw[i : i + 4], "little") for i in range(0, 20, 4))
    if HEADER_SIZE <= offset < len(raw) and raw.startswith(_SOI, offset):
        tlvs, _ = _pull_tlvs(raw, HEADER_SIZE, offset, stop_at_soi=False)
        start = offset
    else:
        tlvs, pos = _pull_tlvs(raw, HEADER_SIZE, len(raw), stop_at_soi=True)
        start = raw.find(_SOI, pos)
        if start < 0:
            # a TLV length swallowed the JPEG: take the first SOI and the TLVs before it
            start = raw.find(_SOI, HEADER_SIZE)
            if start < 0:
                raise RemoteProtocolError("0x9025 payload holds no JPEG (no FF D8)")
            tlvs, _ = _pull_tlvs(raw, HEADER_SIZE, start, stop_at_soi=False)
    return LeicaStreamFrame((f0, f1, f2, f3, offset), tlvs, raw[start:])


def encode_stream_frame(
    jpeg: bytes,
    tlvs: Iterable[tuple[int, bytes]] = (),
    header: tuple[int, int, int, int] = DEFAULT_HEADER,
) -> bytes:
    """A 0x9025 payload: ``header`` words, the JPEG offset, the TLVs, then the JPEG."""
    if not jpeg.startswith(_SOI):
        raise LocalProtocolError("a Leica live-view JPEG must start with FF D8")
    body = Writer()
    for tag, value in tlvs:
        body.push_u32(tag)
        body.push_u32(len(value))
        body.push_bytes(value)
    w = Writer()
    for word in header:
        w.push_u32(word)
    w.push_u32(HEADER_SIZE + len(body))
    w.push_bytes(body.getvalue())
    w.push_bytes(jpeg)
    return w.getvalue()
