"""PTP primitive codecs: little-endian integers, PTP strings, arrays and values by data type.

``Reader`` pulls from a buffer and raises :class:`RemoteProtocolError` on any shortage or bad
value; ``Writer`` pushes into a growing buffer and raises :class:`LocalProtocolError` when asked
to encode something PTP cannot carry. Matched ``pull_x`` / ``push_x`` pairs.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import ARRAY_MASK, DataType

__all__ = [
    "MAX_STRING_UNITS",
    "Reader",
    "Value",
    "Writer",
    "decode_datetime",
    "encode_datetime",
    "int_range",
    "scalar_size",
]

#: A PTP STR holds at most 255 UTF-16 code units, the terminator included (ISO 15740 §5.3.4).
MAX_STRING_UNITS = 255

#: A decoded property value: an int, a string, or a tuple of ints for array types.
Value = int | str | tuple[int, ...]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# (size, signed) per scalar data type
_SCALARS: dict[int, tuple[int, bool]] = {
    DataType.INT8: (1, True),
    DataType.UINT8: (1, False),
    DataType.INT16: (2, True),
    DataType.UINT16: (2, False),
    DataType.INT32: (4, True),
    DataType.UINT32: (4, False),
    DataType.INT64: (8, True),
    DataType.UINT64: (8, False),
    DataType.INT128: (16, True),
    DataType.UINT128: (16, False),
}


def scalar_size(datatype: int) -> int:
    """Byte size of a scalar data type; raises for STR, arrays and unknown types."""
    try:
        return _SCALARS[datatype][0]
    except KeyError:
        raise RemoteProtocolError(f"not a scalar data type: 0x{datatype:04X}") from None


def int_range(datatype: int) -> tuple[int, int]:
    """Inclusive (min, max) of an integer data type or of an array's element type."""
    base = datatype & ~ARRAY_MASK if datatype != DataType.STR else datatype
    size, signed = _SCALARS[base]
    bits = size * 8
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


class Reader:
    """A cursor over bytes; every pull is bounds-checked."""

    __slots__ = ("_data", "_end", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        self._data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.pos = offset
        self._end = len(data)

    @property
    def remaining(self) -> int:
        return self._end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self._end

    def expect_end(self, what: str) -> None:
        if self.pos != self._end:
            raise RemoteProtocolError(f"{what}: {self._end - self.pos} unexpected trailing bytes")

    def _take(self, n: int) -> int:
        pos = self.pos
        if n < 0 or pos + n > self._end:
            raise RemoteProtocolError(
                f"truncated data: needed {n} bytes at offset {pos}, {self._end - pos} left"
            )
        self.pos = pos + n
        return pos

    def pull_bytes(self, n: int) -> bytes:
        pos = self._take(n)
        return bytes(self._data[pos : pos + n])

    def pull_rest(self) -> bytes:
        return self.pull_bytes(self.remaining)

    def pull_u8(self) -> int:
        pos = self._take(1)
        return self._data[pos]

    def pull_u16(self) -> int:
        pos = self._take(2)
        return int(_U16.unpack_from(self._data, pos)[0])

    def pull_u32(self) -> int:
        pos = self._take(4)
        return int(_U32.unpack_from(self._data, pos)[0])

    def pull_u64(self) -> int:
        pos = self._take(8)
        return int(_U64.unpack_from(self._data, pos)[0])

    def pull_int(self, size: int, signed: bool) -> int:
        pos = self._take(size)
        return int.from_bytes(self._data[pos : pos + size], "little", signed=signed)

    def pull_str(self) -> str:
        """A PTP STR: u8 count of UTF-16 units including the NUL, then the units."""
        count = self.pull_u8()
        if count == 0:
            return ""
        raw = self.pull_bytes(count * 2)
        # The last unit should be the terminator; be lenient if it is not (libgphoto2 is too),
        # but stop at the first NUL so padding never leaks into the text.
        return _decode_utf16(raw)

    def pull_scalar(self, datatype: int) -> int:
        try:
            size, signed = _SCALARS[datatype]
        except KeyError:
            raise RemoteProtocolError(f"not a scalar data type: 0x{datatype:04X}") from None
        return self.pull_int(size, signed)

    def pull_array(self, element: int, max_count: int | None = None) -> tuple[int, ...]:
        """A PTP array: u32 count then elements. The count is checked against what is left."""
        count = self.pull_u32()
        size, signed = _element(element)
        if count * size > self.remaining or (max_count is not None and count > max_count):
            raise RemoteProtocolError(
                f"array of {count} x {size}-byte elements does not fit in {self.remaining} bytes"
            )
        if size == 2 and not signed:
            pos = self._take(2 * count)
            return struct.unpack_from(f"<{count}H", self._data, pos)
        if size == 4 and not signed:
            pos = self._take(4 * count)
            return struct.unpack_from(f"<{count}I", self._data, pos)
        return tuple(self.pull_int(size, signed) for _ in range(count))

    def pull_value(self, datatype: int) -> Value:
        """One value of ``datatype``: an int, a str, or a tuple for arrays."""
        if datatype == DataType.STR:
            return self.pull_str()
        if datatype & ARRAY_MASK:
            return self.pull_array(datatype & ~ARRAY_MASK)
        return self.pull_scalar(datatype)


def _element(element: int) -> tuple[int, bool]:
    try:
        return _SCALARS[element]
    except KeyError:
        raise RemoteProtocolError(f"unknown array element type 0x{element:04X}") from None


def _decode_utf16(raw: bytes) -> str:
    end = len(raw)
    for i in range(0, len(raw), 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            end = i
            break
    # 'replace': a camera's broken name must never crash a listing.
    return raw[:end].decode("utf-16-le", errors="replace")


class Writer:
    """A growing little-endian buffer."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def push_bytes(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def push_u8(self, v: int) -> None:
        self.push_int(v, 1, False)

    def push_u16(self, v: int) -> None:
        self.push_int(v, 2, False)

    def push_u32(self, v: int) -> None:
        self.push_int(v, 4, False)

    def push_u64(self, v: int) -> None:
        self.push_int(v, 8, False)

    def push_int(self, v: int, size: int, signed: bool) -> None:
        try:
            self._buf += v.to_bytes(size, "little", signed=signed)
        except (OverflowError, AttributeError):
            kind = "signed" if signed else "unsigned"
            raise LocalProtocolError(f"{v!r} does not fit a {kind} {size * 8}-bit field") from None

    def push_str(self, text: str) -> None:
        """A PTP STR; the empty string is the single byte 0x00."""
        if not isinstance(text, str):
            raise LocalProtocolError(f"expected a str, got {text!r}")
        if not text:
            self._buf.append(0)
            return
        try:
            raw = text.encode("utf-16-le")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{text!r} is not encodable as UTF-16") from None
        units = len(raw) // 2 + 1
        if units > MAX_STRING_UNITS:
            raise LocalProtocolError(
                f"PTP strings hold at most {MAX_STRING_UNITS - 1} UTF-16 units, got {units - 1}"
            )
        if "\x00" in text:
            raise LocalProtocolError("PTP strings cannot contain NUL")
        self._buf.append(units)
        self._buf += raw
        self._buf += b"\x00\x00"

    def push_scalar(self, datatype: int, v: int) -> None:
        try:
            size, signed = _SCALARS[datatype]
        except KeyError:
            raise LocalProtocolError(f"not a scalar data type: 0x{datatype:04X}") from None
        if not isinstance(v, int):
            raise LocalProtocolError(f"expected an int for 0x{datatype:04X}, got {v!r}")
        self.push_int(v, size, signed)

    def push_array(self, element: int, values: Sequence[int]) -> None:
        try:
            size, signed = _SCALARS[element]
        except KeyError:
            raise LocalProtocolError(f"unknown array element type 0x{element:04X}") from None
        if not isinstance(values, tuple | list):
            raise LocalProtocolError(f"expected a sequence of ints, got {values!r}")
        self.push_u32(len(values))
        for v in values:
            self.push_int(v, size, signed)

    def push_value(self, datatype: int, value: Value) -> None:
        if datatype == DataType.STR:
            if not isinstance(value, str):
                raise LocalProtocolError(f"expected a str for STR, got {value!r}")
            self.push_str(value)
        elif datatype & ARRAY_MASK:
            if not isinstance(value, tuple | list):
                raise LocalProtocolError(f"expected a sequence for 0x{datatype:04X}, got {value!r}")
            self.push_array(datatype & ~ARRAY_MASK, value)
        else:
            if not isinstance(value, int):
                raise LocalProtocolError(f"expected an int for 0x{datatype:04X}, got {value!r}")
            self.push_scalar(datatype, value)


def encode_datetime(value: datetime | None) -> str:
    """A PTP DateTime string "YYYYMMDDThhmmss[.s]"; None is the empty string."""
    if value is None:
        return ""
    text = (
        f"{value.year:04d}{value.month:02d}{value.day:02d}"
        f"T{value.hour:02d}{value.minute:02d}{value.second:02d}"
    )
    if value.microsecond >= 100_000:
        text += f".{value.microsecond // 100_000}"
    return text


def decode_datetime(text: str) -> datetime | None:
    """Parse a PTP DateTime; empty or unparsable text gives None (cameras send junk here).

    A trailing "Z" or "+hhmm" (ISO 15740 allows UTC offsets) is accepted and kept as tzinfo.
    """
    text = text.strip()
    if len(text) < 15 or text[8] != "T":
        return None
    base, rest = text[:15], text[15:]
    tenths = 0
    if rest.startswith("."):
        digits = rest[1:2]
        if not digits.isascii() or not digits.isdigit():
            return None
        tenths = int(digits)
        rest = rest[2:]
    try:
        dt = datetime.strptime(base, "%Y%m%dT%H%M%S")
        if rest:
            dt = datetime.strptime(base + rest.replace("Z", "+0000"), "%Y%m%dT%H%M%S%z")
    except ValueError:
        return None
    return dt.replace(microsecond=tenths * 100_000)
