"""PTP datasets (ISO 15740 §5.5, ptpip-standard.md §18) as frozen dataclasses with pull/push.

DeviceInfo, StorageInfo, ObjectInfo, DevicePropDesc and handle lists. Decoders raise only
:class:`RemoteProtocolError`; encoders raise :class:`LocalProtocolError` for values PTP cannot
carry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Self

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import ARRAY_MASK, DataType, FormFlag, ObjectFormatCode
from ptpip.ptp.values import Reader, Value, Writer, decode_datetime, encode_datetime

__all__ = [
    "DeviceInfo",
    "DevicePropDesc",
    "ObjectInfo",
    "PropEnum",
    "PropForm",
    "PropRange",
    "StorageInfo",
    "decode_handles",
    "encode_handles",
]

_Buffer = bytes | bytearray | memoryview

#: FreeSpaceInImages of a store that does not count images (ISO 15740 StorageInfo; the shared
#: references do not cover it, so it is only a default here).
_NO_IMAGE_COUNT = 0xFFFF_FFFF


class _Dataset(ABC):
    """decode/encode over a subclass's pull/push."""

    __slots__ = ()
    #: whether bytes after a complete dataset are an error (cameras append junk to some)
    _exact: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def pull(cls, reader: Reader) -> Self:
        """Consume exactly one dataset from ``reader``."""

    @abstractmethod
    def push(self, writer: Writer) -> None:
        """Append this dataset to ``writer``."""

    @classmethod
    def decode(cls, data: _Buffer) -> Self:
        """Decode one dataset from ``data``."""
        reader = Reader(data)
        value = cls.pull(reader)
        if cls._exact:
            reader.expect_end(cls.__name__)
        return value

    def encode(self) -> bytes:
        """The dataset's bytes."""
        writer = Writer()
        self.push(writer)
        return writer.getvalue()


def _push_text(writer: Writer, text: str) -> None:
    if not isinstance(text, str):
        raise LocalProtocolError(f"expected a str, got {text!r}")
    writer.push_str(text)


def _push_codes(writer: Writer, codes: Sequence[int]) -> None:
    if not isinstance(codes, tuple | list):
        raise LocalProtocolError(f"expected a sequence of codes, got {codes!r}")
    writer.push_array(DataType.UINT16, codes)


def _pull_trailing_str(reader: Reader) -> str:
    # A responder may stop after any of ObjectInfo's trailing strings; absent ones are empty.
    return "" if reader.at_end() else reader.pull_str()


def _decode_date(text: str) -> datetime | None:
    try:
        return decode_datetime(text)
    except ValueError:
        # values.decode_datetime lets int() see non-ASCII digits such as "²" after the dot;
        # a camera's junk date is "no date", never a crash.
        return None


def _encode_date(value: datetime | None) -> str:
    """A PTP DateTime string with the UTC offset of aware datetimes ("Z" or "±hhmm")."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        raise LocalProtocolError(f"expected a datetime, got {value!r}")
    if value.year < 1000:
        # "YYYY" needs four digits; strftime does not zero-pad %Y on every platform.
        raise LocalProtocolError(f"cannot encode the year {value.year} in a PTP date")
    offset = value.utcoffset()
    text = encode_datetime(value.replace(tzinfo=None))
    if offset is None:
        return text
    minutes, rest = divmod(offset, timedelta(minutes=1))
    if rest:
        raise LocalProtocolError(f"a PTP date's UTC offset is whole minutes, got {offset}")
    if minutes == 0:
        return text + "Z"
    hours, minutes = divmod(abs(minutes), 60)
    sign = "-" if offset < timedelta(0) else "+"
    return f"{text}{sign}{hours:02d}{minutes:02d}"


@dataclass(frozen=True, slots=True)
class DeviceInfo(_Dataset):
    """GetDeviceInfo data (ptpip-standard.md §18.2)."""

    standard_version: int = 100
    vendor_extension_id: int = 0
    vendor_extension_version: int = 0
    vendor_extension_desc: str = ""
    functional_mode: int = 0
    operations_supported: tuple[int, ...] = ()
    events_supported: tuple[int, ...] = ()
    device_properties_supported: tuple[int, ...] = ()
    capture_formats: tuple[int, ...] = ()
    image_formats: tuple[int, ...] = ()
    manufacturer: str = ""
    model: str = ""
    device_version: str = ""
    serial_number: str = ""

    @classmethod
    def pull(cls, reader: Reader) -> Self:
        """Consume exactly one DeviceInfo from ``reader``."""
        return cls(
            standard_version=reader.pull_u16(),
            vendor_extension_id=reader.pull_u32(),
            vendor_extension_version=reader.pull_u16(),
            vendor_extension_desc=reader.pull_str(),
            functional_mode=reader.pull_u16(),
            operations_supported=reader.pull_array(DataType.UINT16),
            events_supported=reader.pull_array(DataType.UINT16),
            device_properties_supported=reader.pull_array(DataType.UINT16),
            capture_formats=reader.pull_array(DataType.UINT16),
            image_formats=reader.pull_array(DataType.UINT16),
            manufacturer=reader.pull_str(),
            model=reader.pull_str(),
            device_version=reader.pull_str(),
            serial_number=reader.pull_str(),
        )

    def push(self, writer: Writer) -> None:
        """Append this DeviceInfo to ``writer``."""
        writer.push_u16(self.standard_version)
        writer.push_u32(self.vendor_extension_id)
        writer.push_u16(self.vendor_extension_version)
        _push_text(writer, self.vendor_extension_desc)
        writer.push_u16(self.functional_mode)
        _push_codes(writer, self.operations_supported)
        _push_codes(writer, self.events_supported)
        _push_codes(writer, self.device_properties_supported)
        _push_codes(writer, self.capture_formats)
        _push_codes(writer, self.image_formats)
        _push_text(writer, self.manufacturer)
        _push_text(writer, self.model)
        _push_text(writer, self.device_version)
        _push_text(writer, self.serial_number)


@dataclass(frozen=True, slots=True)
class StorageInfo(_Dataset):
    """GetStorageInfo data (ptpip-standard.md §18.3)."""

    storage_type: int
    filesystem_type: int
    access_capability: int
    max_capacity: int
    free_space_bytes: int
    free_space_images: int = _NO_IMAGE_COUNT
    storage_description: str = ""
    volume_label: str = ""

    @classmethod
    def pull(cls, reader: Reader) -> Self:
        """Consume exactly one StorageInfo from ``reader``; both strings are required."""
        # libgphoto2 rejects a StorageInfo without both strings (gphoto2-interop.md §7),
        # so no leniency here.
        return cls(
            storage_type=reader.pull_u16(),
            filesystem_type=reader.pull_u16(),
            access_capability=reader.pull_u16(),
            max_capacity=reader.pull_u64(),
            free_space_bytes=reader.pull_u64(),
            free_space_images=reader.pull_u32(),
            storage_description=reader.pull_str(),
            volume_label=reader.pull_str(),
        )

    def push(self, writer: Writer) -> None:
        """Append this StorageInfo to ``writer``."""
        writer.push_u16(self.storage_type)
        writer.push_u16(self.filesystem_type)
        writer.push_u16(self.access_capability)
        writer.push_u64(self.max_capacity)
        writer.push_u64(self.free_space_bytes)
        writer.push_u32(self.free_space_images)
        _push_text(writer, self.storage_description)
        _push_text(writer, self.volume_label)


@dataclass(frozen=True, slots=True)
class ObjectInfo(_Dataset):
    """GetObjectInfo / SendObjectInfo data (ptpip-standard.md §18.4)."""

    storage_id: int
    object_format: int
    protection_status: int = 0
    compressed_size: int = 0  # 0xFFFFFFFF: 4 GiB or more, the real size is found elsewhere
    thumb_format: int = 0
    thumb_compressed_size: int = 0
    thumb_width: int = 0
    thumb_height: int = 0
    image_width: int = 0
    image_height: int = 0
    image_bit_depth: int = 0
    parent: int = 0
    association_type: int = 0
    association_desc: int = 0
    sequence_number: int = 0
    filename: str = ""
    capture_date: datetime | None = None
    modification_date: datetime | None = None
    keywords: str = ""

    @property
    def is_folder(self) -> bool:
        """Whether this is an association (folder), format 0x3001."""
        return self.object_format == ObjectFormatCode.ASSOCIATION

    @classmethod
    def pull(cls, reader: Reader) -> Self:
        """Consume one ObjectInfo; trailing strings the responder left out read as empty."""
        return cls(
            storage_id=reader.pull_u32(),
            object_format=reader.pull_u16(),
            protection_status=reader.pull_u16(),
            compressed_size=reader.pull_u32(),
            thumb_format=reader.pull_u16(),
            thumb_compressed_size=reader.pull_u32(),
            thumb_width=reader.pull_u32(),
            thumb_height=reader.pull_u32(),
            image_width=reader.pull_u32(),
            image_height=reader.pull_u32(),
            image_bit_depth=reader.pull_u32(),
            parent=reader.pull_u32(),
            association_type=reader.pull_u16(),
            association_desc=reader.pull_u32(),
            sequence_number=reader.pull_u32(),
            # libgphoto2 wants >= 57 bytes to use the dataset at all, but it reads the
            # strings bounds-checked, so a responder that stops early is not malformed.
            filename=_pull_trailing_str(reader),
            capture_date=_decode_date(_pull_trailing_str(reader)),
            modification_date=_decode_date(_pull_trailing_str(reader)),
            keywords=_pull_trailing_str(reader),
        )

    def push(self, writer: Writer) -> None:
        """Append this ObjectInfo to ``writer``, every field included."""
        writer.push_u32(self.storage_id)
        writer.push_u16(self.object_format)
        writer.push_u16(self.protection_status)
        writer.push_u32(self.compressed_size)
        writer.push_u16(self.thumb_format)
        writer.push_u32(self.thumb_compressed_size)
        writer.push_u32(self.thumb_width)
        writer.push_u32(self.thumb_height)
        writer.push_u32(self.image_width)
        writer.push_u32(self.image_height)
        writer.push_u32(self.image_bit_depth)
        writer.push_u32(self.parent)
        writer.push_u16(self.association_type)
        writer.push_u32(self.association_desc)
        writer.push_u32(self.sequence_number)
        _push_text(writer, self.filename)
        writer.push_str(_encode_date(self.capture_date))
        writer.push_str(_encode_date(self.modification_date))
        _push_text(writer, self.keywords)


@dataclass(frozen=True, slots=True)
class PropRange:
    """DevicePropDesc range form: integer minimum, maximum and step."""

    minimum: int
    maximum: int
    step: int


@dataclass(frozen=True, slots=True)
class PropEnum:
    """DevicePropDesc enumeration form: the allowed values."""

    values: tuple[Value, ...]


PropForm = PropRange | PropEnum | None


def _is_integer_type(datatype: int) -> bool:
    return datatype != DataType.STR and not datatype & ARRAY_MASK


def _pull_datatype(reader: Reader) -> DataType:
    raw = reader.pull_u16()
    try:
        datatype = DataType(raw)
    except ValueError:
        raise RemoteProtocolError(f"unknown data type 0x{raw:04X}") from None
    if datatype == DataType.UNDEF:
        raise RemoteProtocolError("a property cannot have data type UNDEF")
    return datatype


def _pull_form(reader: Reader, datatype: int) -> PropForm:
    # libgphoto2 (ptp_unpack_DPD) accepts a descriptor that ends right after the current
    # value, as string properties on real cameras do (gphoto2-interop.md §7): no form.
    if reader.at_end():
        return None
    flag = reader.pull_u8()
    if flag == FormFlag.NONE:
        return None
    if flag == FormFlag.RANGE:
        if not _is_integer_type(datatype):
            raise RemoteProtocolError(f"range form on non-integer data type 0x{datatype:04X}")
        return PropRange(
            reader.pull_scalar(datatype), reader.pull_scalar(datatype), reader.pull_scalar(datatype)
        )
    if flag == FormFlag.ENUM:
        return PropEnum(_pull_enum_values(reader, datatype))
    raise RemoteProtocolError(f"unknown DevicePropDesc form flag {flag}")


def _pull_enum_values(reader: Reader, datatype: int) -> tuple[Value, ...]:
    count = reader.pull_u16()
    values: list[Value] = []
    for _ in range(count):
        try:
            values.append(reader.pull_value(datatype))
        except RemoteProtocolError:
            # libgphoto2 cuts an enumeration whose count promises more than the data holds
            # at the last complete value (for the HP PhotoSmart 120, which sends the count
            # big-endian); like libgphoto2, at least one value must be complete. The bytes
            # of the partial value are the last of the reader; drop them.
            if not values:
                raise
            reader.pull_rest()
            break
    return tuple(values)


def _push_form(writer: Writer, datatype: int, form: PropForm) -> None:
    if form is None:
        writer.push_u8(FormFlag.NONE)
    elif isinstance(form, PropRange):
        if not _is_integer_type(datatype):
            raise LocalProtocolError(f"range form on non-integer data type 0x{datatype:04X}")
        writer.push_u8(FormFlag.RANGE)
        for bound in (form.minimum, form.maximum, form.step):
            writer.push_scalar(datatype, bound)
    elif isinstance(form, PropEnum):
        writer.push_u8(FormFlag.ENUM)
        writer.push_u16(len(form.values))
        for value in form.values:
            writer.push_value(datatype, value)
    else:
        raise LocalProtocolError(f"not a DevicePropDesc form: {form!r}")


@dataclass(frozen=True, slots=True)
class DevicePropDesc(_Dataset):
    """GetDevicePropDesc data (ptpip-standard.md §18.5)."""

    _exact: ClassVar[bool] = True

    code: int
    datatype: int
    get_set: int
    default: Value
    current: Value
    form: PropForm = None

    @property
    def writable(self) -> bool:
        """Whether the property is get/set rather than get-only."""
        return self.get_set == 1

    @classmethod
    def pull(cls, reader: Reader) -> Self:
        """Consume one DevicePropDesc; without a form flag the form is None."""
        code = reader.pull_u16()
        datatype = _pull_datatype(reader)
        get_set = reader.pull_u8()
        default = reader.pull_value(datatype)
        current = reader.pull_value(datatype)
        return cls(code, datatype, get_set, default, current, _pull_form(reader, datatype))

    def push(self, writer: Writer) -> None:
        """Append this DevicePropDesc to ``writer``, form flag included."""
        datatype = self.datatype
        if not isinstance(datatype, int) or datatype not in _PROPERTY_TYPES:
            raise LocalProtocolError(f"not a property data type: {datatype!r}")
        writer.push_u16(self.code)
        writer.push_u16(datatype)
        writer.push_u8(self.get_set)
        writer.push_value(datatype, self.default)
        writer.push_value(datatype, self.current)
        _push_form(writer, datatype, self.form)


_PROPERTY_TYPES = frozenset(int(t) for t in DataType if t != DataType.UNDEF)


def decode_handles(data: _Buffer) -> tuple[int, ...]:
    """GetStorageIDs / GetObjectHandles data: an AUINT32 and nothing else."""
    reader = Reader(data)
    handles = reader.pull_array(DataType.UINT32)
    reader.expect_end("handle list")
    return handles


def encode_handles(handles: Sequence[int]) -> bytes:
    """An AUINT32 of storage IDs or object handles."""
    writer = Writer()
    if not isinstance(handles, tuple | list):
        raise LocalProtocolError(f"expected a sequence of handles, got {handles!r}")
    writer.push_array(DataType.UINT32, handles)
    return writer.getvalue()
