"""The virtual camera's device properties: descriptors, current values and validated changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeGuard

from ptpip.errors import LocalProtocolError, RemoteProtocolError
from ptpip.ptp.codes import ARRAY_MASK, DataType, ResponseCode
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.values import MAX_STRING_UNITS, Reader, Value, Writer, decode_datetime, int_range

__all__ = [
    "ALL_PROPERTIES",
    "EXPOSURE_TIMES",
    "PropertyError",
    "PropertyStore",
    "generic_properties",
]

#: ResetDevicePropValue's "every property" code.
ALL_PROPERTIES = 0xFFFF_FFFF

#: The 1/3-stop shutter speeds 1/4000 s … 30 s as (label, ExposureTime in 0.1 ms). Fractional
#: values are rounded half to even (1/4000 = 2.5 -> 2, 1/3200 = 3.125 -> 3), so every value
#: is distinct and the nearest label (by ratio) of ``10000 / value`` s is the right one.
EXPOSURE_TIMES: tuple[tuple[str, int], ...] = tuple(
    (label, round(10000 * seconds))
    for label, seconds in (
        *((f"1/{d}", 1 / d) for d in (4000, 3200, 2500, 2000, 1600, 1250, 1000, 800, 640)),
        *((f"1/{d}", 1 / d) for d in (500, 400, 320, 250, 200, 160, 125, 100, 80, 60, 50, 40)),
        *((f"1/{d}", 1 / d) for d in (30, 25, 20, 15, 13, 10, 8, 6, 5, 4)),
        *((f"{s:g}", s) for s in (0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.3, 1.6, 2, 2.5, 3.2, 4, 5, 6)),
        *((f"{s:g}", s) for s in (8, 10, 13, 15, 20, 25, 30)),
    )
)
_IMAGE_SIZES = ("4000x3000", "3008x2000", "1920x1080", "640x480")
_ISO_SPEEDS: tuple[int, ...] = (100, 125, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1250, 1600)
_ISO_SPEEDS += (2000, 2500, 3200, 4000, 5000, 6400, 8000, 10000, 12800)
#: −3 … +3 EV in 1/3 EV as 1/1000 EV, rounded like cameras send them (vendor-fuji.md §9.2).
_EV_STEPS = tuple(round(third * 1000 / 3) for third in range(-9, 10))


class PropertyError(Exception):
    """A property operation failed; ``code`` is the PTP response code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class PropertyStore:
    """Device properties by code: their descriptors and current values."""

    def __init__(
        self, descs: Iterable[DevicePropDesc], *, clock: Callable[[], datetime] = datetime.now
    ) -> None:
        self._clock = clock
        self._descs: dict[int, DevicePropDesc] = {}
        self._values: dict[int, Value] = {}
        #: DateTime was set: the offset (s) from the clock, so the camera's clock keeps ticking
        self._clock_offset: float | None = None
        for desc in descs:
            if desc.code in self._descs:
                raise ValueError(f"property 0x{desc.code:04X} given twice")
            try:
                desc.encode()
            except LocalProtocolError as exc:
                raise ValueError(f"property 0x{desc.code:04X}: {exc}") from exc
            self._descs[desc.code] = desc
            self._values[desc.code] = desc.current

    def __contains__(self, code: object) -> bool:
        return code in self._descs

    def __len__(self) -> int:
        return len(self._descs)

    def codes(self) -> tuple[int, ...]:
        """The property codes in the order given, for DeviceInfo.DevicePropertiesSupported."""
        return tuple(self._descs)

    def _desc(self, code: int) -> DevicePropDesc:
        try:
            return self._descs[code]
        except KeyError:
            raise PropertyError(
                ResponseCode.DEVICE_PROP_NOT_SUPPORTED, f"no property 0x{code:04X}"
            ) from None

    def describe(self, code: int) -> DevicePropDesc:
        """GetDevicePropDesc: the descriptor with the current value."""
        return dataclasses.replace(self._desc(code), current=self.get(code))

    def get(self, code: int) -> Value:
        """The current value; an unset DateTime reads as the clock's local time."""
        desc = self._desc(code)
        if code == Prop.DATE_TIME and desc.datatype == DataType.STR:
            return self._now()
        return self._values[code]

    def _now(self) -> str:
        now = self._clock()
        if self._clock_offset is not None:
            now = datetime.fromtimestamp(now.timestamp() + self._clock_offset)
        return now.strftime("%Y%m%dT%H%M%S")

    def value_bytes(self, code: int) -> bytes:
        """GetDevicePropValue data: the bare current value."""
        writer = Writer()
        writer.push_value(self._desc(code).datatype, self.get(code))
        return writer.getvalue()

    def set(self, code: int, value: Value) -> bool:
        """SetDevicePropValue from the initiator: refuses read-only properties."""
        if not self._desc(code).writable:
            raise PropertyError(ResponseCode.ACCESS_DENIED, f"property 0x{code:04X} is read-only")
        return self.update(code, value)

    def update(self, code: int, value: Value) -> bool:
        """Change a value as the camera itself would (read-only ones too); True if it changed."""
        desc = self._desc(code)
        value = _validated(desc, value)
        if code == Prop.DATE_TIME and desc.datatype == DataType.STR:
            assert isinstance(value, str)
            return self._set_clock(value)
        changed = self._values[code] != value
        self._values[code] = value
        return changed

    def _set_clock(self, text: str) -> bool:
        when = decode_datetime(text)
        if when is None:
            raise PropertyError(
                ResponseCode.INVALID_DEVICE_PROP_VALUE, f"not a PTP date and time: {text!r}"
            )
        before = self._now()
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
        try:
            offset = when.timestamp() - self._clock().timestamp()
            datetime.fromtimestamp(when.timestamp() + 400 * 86400 * 366)  # room to tick
        except (OverflowError, OSError, ValueError):
            raise PropertyError(
                ResponseCode.INVALID_DEVICE_PROP_VALUE, f"date out of range: {text!r}"
            ) from None
        self._clock_offset = offset
        return self._now() != before

    def set_from_bytes(self, code: int, data: bytes) -> bool:
        """SetDevicePropValue data-out: the value at the property's type; padding after it is ok."""
        desc = self._desc(code)
        if not desc.writable:
            raise PropertyError(ResponseCode.ACCESS_DENIED, f"property 0x{code:04X} is read-only")
        # Fuji initiators pad the value to 4 + 16 bytes; libgphoto2 sends it exactly
        # (vendor-fuji.md §3): read at the native width and ignore the rest.
        try:
            value = Reader(data).pull_value(desc.datatype)
        except RemoteProtocolError as exc:
            raise PropertyError(
                ResponseCode.INVALID_DEVICE_PROP_FORMAT, f"property 0x{code:04X}: {exc}"
            ) from None
        return self.set(code, value)

    def reset(self, code: int) -> tuple[int, ...]:
        """ResetDevicePropValue: back to the factory default (ALL_PROPERTIES = every writable
        one); returns the codes whose value changed."""
        if code == ALL_PROPERTIES:
            codes = [c for c, d in self._descs.items() if d.writable]
        elif not self._desc(code).writable:
            raise PropertyError(ResponseCode.ACCESS_DENIED, f"property 0x{code:04X} is read-only")
        else:
            codes = [code]
        changed: list[int] = []
        for each in codes:
            if each == Prop.DATE_TIME and self._descs[each].datatype == DataType.STR:
                # The factory default of a clock is the clock itself.
                before = self._now()
                self._clock_offset = None
                if self._now() != before:
                    changed.append(each)
                continue
            default = self._descs[each].default
            if self._values[each] != default:
                self._values[each] = default
                changed.append(each)
        return tuple(changed)


def _invalid(desc: DevicePropDesc, value: Value, why: str) -> PropertyError:
    return PropertyError(
        ResponseCode.INVALID_DEVICE_PROP_VALUE,
        f"property 0x{desc.code:04X}: {value!r} {why}",
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _validated(desc: DevicePropDesc, value: Value) -> Value:
    """``value`` normalised (lists become tuples) if it suits ``desc``'s type and form."""
    datatype = desc.datatype
    if datatype == DataType.STR:
        if not isinstance(value, str):
            raise _invalid(desc, value, "is not a string")
        if (
            "\x00" in value
            or len(value.encode("utf-16-le", "surrogatepass")) // 2 >= MAX_STRING_UNITS
        ):
            raise _invalid(desc, value, "does not fit a PTP string")
    elif datatype & ARRAY_MASK:
        if not isinstance(value, tuple | list):
            raise _invalid(desc, value, "is not an array")
        low, high = int_range(datatype)
        if not all(_is_int(v) and low <= v <= high for v in value):
            raise _invalid(desc, value, f"has elements outside {low}..{high}")
        value = tuple(int(v) for v in value)
    else:
        low, high = int_range(datatype)
        if not _is_int(value) or not low <= value <= high:
            raise _invalid(desc, value, f"is not an integer in {low}..{high}")
        value = int(value)
    form = desc.form
    if isinstance(form, PropEnum) and value not in form.values:
        raise _invalid(desc, value, "is not one of the allowed values")
    if isinstance(form, PropRange):
        assert isinstance(value, int)
        if not form.minimum <= value <= form.maximum:
            raise _invalid(desc, value, f"is outside {form.minimum}..{form.maximum}")
        if form.step > 0 and (value - form.minimum) % form.step:
            raise _invalid(desc, value, f"is not on the step {form.step} from {form.minimum}")
    return value


def _enum(
    code: int, datatype: int, current: Value, values: Iterable[Value], *, writable: bool = True
) -> DevicePropDesc:
    return DevicePropDesc(code, datatype, int(writable), current, current, PropEnum(tuple(values)))


def generic_properties(model: str, *, now: datetime | None = None) -> list[DevicePropDesc]:
    """The properties of a generic ISO 15740 camera; defaults are the initial values.

    ``model`` names the camera; the generic set is the same for every model for now.
    """
    del model
    clock = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    u16, u32 = DataType.UINT16, DataType.UINT32
    exposure_times = [value for _, value in EXPOSURE_TIMES]
    return [
        DevicePropDesc(Prop.BATTERY_LEVEL, DataType.UINT8, 0, 80, 80, PropRange(0, 100, 1)),
        _enum(Prop.IMAGE_SIZE, DataType.STR, "4000x3000", _IMAGE_SIZES),
        # 2 auto, 4 daylight, 5 fluorescent, 6 tungsten, 7 flash, 1 manual (ptpip-standard.md §15)
        _enum(Prop.WHITE_BALANCE, u16, 2, (2, 4, 5, 6, 7, 1)),
        _enum(Prop.F_NUMBER, u16, 560, (280, 350, 400, 560, 800, 1100, 1600, 2200)),
        # a 24-70 mm zoom the initiator cannot turn
        DevicePropDesc(Prop.FOCAL_LENGTH, u32, 0, 2400, 2400, PropRange(2400, 7000, 100)),
        _enum(Prop.FOCUS_MODE, u16, 2, (1, 2, 3)),  # manual, automatic, macro
        _enum(Prop.EXPOSURE_METERING_MODE, u16, 3, (1, 2, 3, 4)),
        _enum(Prop.FLASH_MODE, u16, 2, (1, 2, 3, 4)),  # auto, off, fill, red-eye auto
        _enum(Prop.EXPOSURE_TIME, u32, 80, exposure_times),  # 80 = 1/125 s
        _enum(Prop.EXPOSURE_PROGRAM_MODE, u16, 2, (1, 2, 3, 4)),  # M, P, A, S
        _enum(Prop.EXPOSURE_INDEX, u16, 100, _ISO_SPEEDS),
        _enum(Prop.EXPOSURE_BIAS_COMPENSATION, DataType.INT16, 0, _EV_STEPS),
        DevicePropDesc(Prop.DATE_TIME, DataType.STR, 1, clock, clock, None),
        _enum(Prop.CAPTURE_DELAY, u32, 0, (0, 2000, 10000)),
        _enum(Prop.STILL_CAPTURE_MODE, u16, 1, (1, 2, 3)),  # normal, burst, timelapse
        _enum(Prop.EFFECT_MODE, u16, 1, (1, 2, 3)),  # standard, black and white, sepia
        _enum(Prop.FOCUS_METERING_MODE, u16, 2, (1, 2)),  # center-spot, multi-spot
        DevicePropDesc(Prop.ARTIST, DataType.STR, 1, "", "", None),
        DevicePropDesc(Prop.COPYRIGHT_INFO, DataType.STR, 1, "", "", None),
    ]
