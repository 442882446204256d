"""Per-vendor dispatch: property names, labels and value formats, and checks against descriptors.

The standard formats (:mod:`ptpip.props.standard`) apply to every vendor; a dialect's own
(its ``props`` part: ``FORMATS``, ``LABELS``, ``UNIFIED``, found through
:mod:`ptpip.vendors.registry`) override them and add its vendor codes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from functools import cache

from ptpip.props.standard import (
    LABELS,
    STANDARD,
    STRING_CODES,
    UNIFIED_NAMES,
    Number,
    PropFormat,
    fold,
    format_datetime,
    parse_datetime,
    parse_int,
)
from ptpip.ptp.codes import ARRAY_MASK, DataType, Vendor
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.names import CodeKind, lookup, name
from ptpip.ptp.values import MAX_STRING_UNITS, Value, int_range
from ptpip.vendors import registry

__all__ = [
    "describe_values",
    "format_value",
    "is_known_enum",
    "parse_value",
    "prop_label",
    "resolve_property",
    "unified_names",
]

VendorLike = Vendor | str

_U8, _U16, _U32 = DataType.UINT8, DataType.UINT16, DataType.UINT32
_THIRD_STOP = 1 / 3 + 1e-6
_SHOWN = 6  # allowed values listed in an error message
_UNSIGNED_BITS: dict[int, int] = {
    DataType.UINT8: 8,
    DataType.UINT16: 16,
    DataType.UINT32: 32,
    DataType.UINT64: 64,
}


_GENERIC_NAMES: dict[str, int] = UNIFIED_NAMES | {
    "aperture": Prop.F_NUMBER,
    "shutterspeed": Prop.EXPOSURE_TIME,
}


@cache
def _dialect(vendor: Vendor) -> tuple[Mapping[int, PropFormat], Mapping[int, str], dict[str, int]]:
    """A dialect's formats, labels and short names (its ``props`` part), or the generic ones."""
    props = registry.part(vendor, "props")
    if props is None:
        return {}, {}, _GENERIC_NAMES
    return props.FORMATS, props.LABELS, _GENERIC_NAMES | props.UNIFIED


_HEX_CODE = re.compile(r"0[xX]([0-9a-fA-F]+)")


def _vendor(vendor: VendorLike) -> Vendor:
    if isinstance(vendor, Vendor):
        return vendor
    try:
        return Vendor(str(vendor).strip().lower())
    except ValueError:
        known = ", ".join(v.value for v in Vendor)
        raise ValueError(f"unknown vendor {vendor!r} (expected one of {known})") from None


def _format_of(code: int, vendor: Vendor) -> PropFormat | None:
    found = _dialect(vendor)[0].get(code)
    return found if found is not None else STANDARD.get(code)


def unified_names(vendor: VendorLike = Vendor.GENERIC) -> dict[str, int]:
    """The short property names for ``vendor`` ("iso", "exp-bias", …) and their codes."""
    table = _dialect(_vendor(vendor))[2]
    return {key: int(code) for key, code in sorted(table.items())}


def prop_label(code: int, vendor: VendorLike = Vendor.GENERIC) -> str:
    """A short human name: "white balance", "ISO"; else the code name or "0x%04X"."""
    v = _vendor(vendor)
    label = _dialect(v)[1].get(code) or LABELS.get(code)
    return label if label is not None else name(CodeKind.PROPERTY, code, v)


def resolve_property(text: str, vendor: VendorLike = Vendor.GENERIC) -> int:
    """A property argument → its code: a unified name, "0x5005", a code name or a label."""
    v = _vendor(vendor)
    t = text.strip()
    m = _HEX_CODE.fullmatch(t)
    if m is not None:
        code = int(m.group(1), 16)
        if code > 0xFFFF:
            raise ValueError(f"property code {t} does not fit 16 bits")
        return code
    wanted = fold(t)
    for unified, code in unified_names(v).items():
        if fold(unified) == wanted:
            return code
    found = lookup(CodeKind.PROPERTY, t, v) if t else None
    if found is not None:
        return found
    for labels in (_dialect(v)[1], LABELS):
        for code, label in labels.items():
            if fold(label) == wanted:
                return code
    choices = ", ".join(unified_names(v))
    raise ValueError(
        f"unknown property {t!r}; use a hex code such as 0x5005, a property name "
        f"such as WhiteBalance, or one of: {choices}"
    )


def is_known_enum(code: int, vendor: VendorLike = Vendor.GENERIC) -> bool:
    """Whether the property's values are a labelled enumeration for ``vendor``."""
    spec = _format_of(code, _vendor(vendor))
    return spec is not None and spec.table is not None


def _is_string(code: int, datatype: int | None) -> bool:
    return datatype == DataType.STR if datatype is not None else code in STRING_CODES


#: Arrays longer than this are summarised rather than listed in full.
_ARRAY_SHOWN = 16


def format_value(
    code: int, value: Value, vendor: VendorLike = Vendor.GENERIC, *, datatype: int | None = None
) -> str:
    """A property value as human text ("1/250 s", "f/5.6", "+1/3", "daylight"); never raises.

    ``datatype`` is the descriptor's type when known: a signed quantity (exposure bias) in an
    unsigned field is read as two's complement, as :func:`parse_value` writes it.
    """
    if isinstance(value, str):
        return format_datetime(value) if code == Prop.DATE_TIME else value
    if isinstance(value, tuple):
        if len(value) > _ARRAY_SHOWN:  # opaque blobs (Canon's structured props): a summary
            head = " ".join(f"{v:02x}" if 0 <= v < 256 else str(v) for v in value[:8])
            return f"{head} … ({len(value)} values)"
        return ", ".join(str(v) for v in value)
    spec = _format_of(code, _vendor(vendor))
    if spec is None:
        return str(value)
    if spec.signed and datatype is not None and datatype in _UNSIGNED_BITS:
        bits = _UNSIGNED_BITS[datatype]
        if 1 << (bits - 1) <= value < 1 << bits:
            value -= 1 << bits
    return spec.format(value)


def _raw_format(code: int, vendor: Vendor, datatype: int | None) -> Callable[[Value], str]:
    return lambda value: format_value(code, value, vendor, datatype=datatype)


def describe_values(desc: DevicePropDesc, vendor: VendorLike = Vendor.GENERIC) -> list[str]:
    """The allowed values in human form: each enum value, or one "min … max, step s" entry."""
    v = _vendor(vendor)
    show = _raw_format(desc.code, v, desc.datatype)
    form = desc.form
    if isinstance(form, PropEnum):
        return [show(value) for value in form.values]
    if isinstance(form, PropRange):
        return [_range_text(desc.code, v, form, show)]
    return []


def _range_text(code: int, vendor: Vendor, form: PropRange, show: Callable[[Value], str]) -> str:
    text = f"{show(form.minimum)} … {show(form.maximum)}"
    if form.step <= 0:
        return text
    spec = _format_of(code, vendor)
    step = spec.format(form.step).lstrip("+") if spec is not None and spec.linear else form.step
    return f"{text}, step {step}"


def parse_value(
    code: int, text: str, vendor: VendorLike = Vendor.GENERIC, desc: DevicePropDesc | None = None
) -> Value:
    """Human text (or ``0x`` hex) → a value for SetDevicePropValue, checked against ``desc``.

    A bare number is in the property's human unit ("2" is 2 s of delay, "5.6" an F-number);
    ``0x`` hex is always the raw value and must be allowed exactly. Raises ValueError.
    """
    v = _vendor(vendor)
    datatype = desc.datatype if desc is not None else None
    if _is_string(code, datatype):
        value: Value = _parse_string(code, text)
    elif datatype is not None and datatype & ARRAY_MASK:
        value = _parse_array(text, datatype)
    else:
        return _parse_number(code, text, v, desc)
    if desc is not None and isinstance(desc.form, PropEnum) and value not in desc.form.values:
        listing = ", ".join(_listing(desc.form.values, None, None, _raw_format(code, v, datatype)))
        raise ValueError(
            f"{text.strip()!r} is not an allowed {prop_label(code, v)}; allowed: {listing}"
        )
    return value


def _parse_string(code: int, text: str) -> str:
    value = parse_datetime(text) if code == Prop.DATE_TIME else text
    if "\x00" in value or len(value.encode("utf-16-le", "surrogatepass")) // 2 >= MAX_STRING_UNITS:
        raise ValueError(f"a PTP string holds at most {MAX_STRING_UNITS - 1} characters")
    return value


def _parse_array(text: str, datatype: int) -> tuple[int, ...]:
    low, high = int_range(datatype)
    items: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        item = parse_int(part)
        if item is None or not low <= item <= high:
            raise ValueError(f"array element {part!r} is not an integer in {low}..{high}")
        items.append(item)
    return tuple(items)


def _parse_number(code: int, text: str, vendor: Vendor, desc: DevicePropDesc | None) -> int:
    spec = _format_of(code, vendor)
    t = text.strip()
    raw = parse_int(t)
    hex_text = raw is not None and t.lower().startswith("0x")
    exact: Number
    if spec is None or hex_text:
        if raw is None:
            raise ValueError(f"cannot read {t!r} as an integer (decimal or 0x hex)")
        exact = raw
    else:
        current = desc.current if desc is not None and isinstance(desc.current, int) else None
        try:
            exact = spec.parse(text, current)
        except ValueError as exc:
            if desc is None or not isinstance(desc.form, PropEnum):
                raise
            allowed = _allowed_text(code, vendor, desc, None)
            raise ValueError(f"cannot read {t!r} as {prop_label(code, vendor)}; {allowed}") from exc
    value = round(exact) if isinstance(exact, Fraction) else exact
    datatype = desc.datatype if desc is not None else (spec.datatype if spec else None)
    if datatype is not None:
        value = _fit(value, datatype, spec, t)
    if desc is None:
        return value
    snap = spec is not None and spec.snap and not hex_text
    return _constrain(code, vendor, desc, t, value, exact, snap)


def _fit(value: int, datatype: int, spec: PropFormat | None, text: str) -> int:
    try:
        low, high = int_range(datatype)
    except KeyError:
        return value
    if value < 0 and low == 0 and spec is not None and spec.signed and value >= -(high // 2 + 1):
        value += high + 1  # a signed quantity in an unsigned field: two's complement
    if not low <= value <= high:
        raise ValueError(f"{text!r} is out of range for {_type_name(datatype)} ({low}..{high})")
    return value


def _type_name(datatype: int) -> str:
    try:
        return DataType(datatype).name
    except ValueError:
        return f"0x{datatype:04X}"


def _constrain(
    code: int,
    vendor: Vendor,
    desc: DevicePropDesc,
    text: str,
    value: int,
    exact: Number,
    snap: bool,
) -> int:
    form = desc.form
    spec = _format_of(code, vendor)
    show = _raw_format(code, vendor, desc.datatype)
    label = prop_label(code, vendor)
    if isinstance(form, PropRange):
        if not form.minimum <= value <= form.maximum or (
            form.step > 0 and (value - form.minimum) % form.step
        ):
            raise ValueError(
                f"{text!r} is not an allowed {label}; allowed: "
                f"{_range_text(code, vendor, form, show)}"
            )
        return value
    if not isinstance(form, PropEnum):
        return value
    allowed = [a for a in form.values if isinstance(a, int)]
    if value in allowed:
        return value
    for a in allowed:  # another spelling of the same thing ("auto": 0 or 0xFFFF)
        if show(a) == show(value):
            return a
    position = spec.position if spec is not None else None
    target = position(exact) if position is not None else None
    if snap and position is not None and target is not None:
        distances = [(abs(p - target), a) for a in allowed if (p := position(a)) is not None]
        if distances:
            best = min(distances, key=lambda da: da[0])
            if best[0] <= _THIRD_STOP:
                return best[1]
    raise ValueError(
        f"{text!r} is not an allowed {label}; {_allowed_text(code, vendor, desc, target)}"
    )


def _allowed_text(code: int, vendor: Vendor, desc: DevicePropDesc, target: float | None) -> str:
    assert isinstance(desc.form, PropEnum)
    spec = _format_of(code, vendor)
    position = spec.position if spec is not None else None
    shown = _listing(desc.form.values, position, target, _raw_format(code, vendor, desc.datatype))
    return "allowed: " + ", ".join(shown)


def _listing(
    values: Sequence[Value],
    position: Callable[[Number], float | None] | None,
    target: float | None,
    show: Callable[[Value], str],
) -> list[str]:
    """Up to a handful of allowed values in human form, nearest ``target`` first."""
    ordered = list(values)
    if position is not None and target is not None:

        def distance(value: Value) -> float:
            p = position(value) if isinstance(value, int) else None
            return abs(p - target) if p is not None else math.inf

        ordered.sort(key=distance)
    labels = list(dict.fromkeys(show(value) for value in ordered))
    return labels[:_SHOWN] + (["…"] if len(labels) > _SHOWN else [])
