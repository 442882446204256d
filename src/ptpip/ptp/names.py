"""Vendor-aware code names: the one place that turns PTP codes into display names and back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import IntEnum, StrEnum
from functools import cache

from ptpip.ptp.codes import (
    DataType,
    DevicePropertyCode,
    EventCode,
    ObjectFormatCode,
    OperationCode,
    ResponseCode,
    Vendor,
)
from ptpip.vendors import registry

__all__ = ["CodeKind", "detect_dialect", "lookup", "name", "names", "vendor_for"]


class CodeKind(StrEnum):
    """The code spaces PTP names: what a 16-bit code means depends on where it appears."""

    OPERATION = "operation"
    RESPONSE = "response"
    EVENT = "event"
    PROPERTY = "property"
    OBJECT_FORMAT = "object_format"
    DATATYPE = "datatype"


_STANDARD: Mapping[CodeKind, type[IntEnum]] = {
    CodeKind.OPERATION: OperationCode,
    CodeKind.RESPONSE: ResponseCode,
    CodeKind.EVENT: EventCode,
    CodeKind.PROPERTY: DevicePropertyCode,
    CodeKind.OBJECT_FORMAT: ObjectFormatCode,
    CodeKind.DATATYPE: DataType,
}


# Each dialect's tables (its ``codes`` part); consulted only for its own vendor.
def _vendor_tables() -> dict[Vendor, dict[CodeKind, type[IntEnum]]]:
    tables: dict[Vendor, dict[CodeKind, type[IntEnum]]] = {v: {} for v in Vendor}
    for vendor in registry.dialects():
        codes = registry.part(vendor, "codes")
        if codes is not None:
            tables[vendor] = {CodeKind(k): t for k, t in codes.TABLES.items()}
    return tables


_VENDOR = _vendor_tables()

# Words kept upper-case when CamelCasing member names ("ISO_SPEED" -> "ISOSpeed").
_ACRONYMS = frozenset(
    {
        "3D", "AB", "AC", "AE", "AEL", "AF", "AIFF", "ARW", "ASF", "AVI", "AWB", "AWBL", "BLE",
        "BMP", "CF", "CIFF", "CR", "CRW", "CTG", "CWB", "DNG", "DPC", "DPOF", "DT", "DX", "EOS",
        "EV", "EVF", "EXIF", "FAPI", "FE", "FEL", "FHD", "FTP", "FV", "GIF", "GM", "GPS", "GUID",
        "HD", "HDD", "HDR", "HEIF", "HTML", "ID", "IOP", "IPTC", "ISO", "JFIF", "JP", "JPEG", "JPX",
        "LE", "LFN", "LUT", "MA", "MAC", "MF", "MP", "MPEG", "OK", "OLC", "OSD", "PC", "PCD",
        "PNG", "PTP", "PTPIP", "QT", "RAF", "RGB", "RX", "SB", "SD", "SDIO", "SDRAM", "SW",
        "TIFF", "TS", "TX", "UI", "URL", "USB", "WAV", "WB", "WFT",
    }
)  # fmt: skip
_WORDS = {"IDS": "IDs"}
# Whole-name exceptions; the member name stays accepted by lookup().
_OVERRIDES = {
    "EXIF_JPEG": "EXIF/JPEG",
    "TIFF_EP": "TIFF/EP",
    "TIFF_IT": "TIFF/IT",
    "FLASHPIX": "FlashPix",
    "PICT": "PICT",
    "MOV": "MOV",
    "MOV2": "MOV2",
    "FUJI_GET_DEVICE_INFO": "GetFujiDeviceInfo",
}
_HEX_WORD = re.compile(r"(?=.*[0-9])[0-9A-F]{4}")  # "UNKNOWN_C006" keeps "C006"
_HEX_CODE = re.compile(r"0[xX]([0-9A-Fa-f]{1,4})")
_IGNORED = str.maketrans("", "", "_- \t")


def _camel_word(word: str) -> str:
    if word in _WORDS:
        return _WORDS[word]
    if word in _ACRONYMS or _HEX_WORD.fullmatch(word):
        return word
    letters = word.rstrip("0123456789")
    if letters != word and letters in _ACRONYMS:  # "DT64", "MP3", "CR3"
        return word
    return word.capitalize()


def _display(table: type[IntEnum], member: str) -> str:
    if table is DataType:
        return member
    if member in _OVERRIDES:
        return _OVERRIDES[member]
    return "".join(_camel_word(word) for word in member.split("_"))


def _normalize(text: str) -> str:
    return text.translate(_IGNORED).casefold()


# (code, display name, is canonical, lookup keys) per enum member, aliases included
_Entry = tuple[int, str, bool, tuple[str, ...]]


@cache
def _entries(table: type[IntEnum]) -> tuple[_Entry, ...]:
    entries = []
    for member_name, member in table.__members__.items():
        text = _display(table, member_name)
        keys = (_normalize(text), _normalize(member_name))
        entries.append((int(member), text, member.name == member_name, keys))
    return tuple(entries)


def _build(vendor: Vendor, kind: CodeKind) -> tuple[dict[int, str], dict[str, int]]:
    tables = [_STANDARD[kind]]
    if kind in _VENDOR[vendor]:
        tables.append(_VENDOR[vendor][kind])
    display: dict[int, str] = {}
    reverse: dict[str, int] = {}
    for table in tables:
        for code, text, canonical, keys in _entries(table):
            if canonical:
                display[code] = text
            for key in keys:
                if reverse.setdefault(key, code) != code:
                    raise RuntimeError(
                        f"{vendor} {kind} name {text!r} is ambiguous: "
                        f"0x{reverse[key]:04X} and 0x{code:04X}"
                    )
    return dict(sorted(display.items())), reverse


def _build_all() -> tuple[
    dict[Vendor, dict[CodeKind, dict[int, str]]], dict[Vendor, dict[CodeKind, dict[str, int]]]
]:
    display: dict[Vendor, dict[CodeKind, dict[int, str]]] = {}
    reverse: dict[Vendor, dict[CodeKind, dict[str, int]]] = {}
    for vendor in Vendor:
        display[vendor], reverse[vendor] = {}, {}
        for kind in CodeKind:
            display[vendor][kind], reverse[vendor][kind] = _build(vendor, kind)
    return display, reverse


# Built once at import; every lookup afterwards is a dict access.
_DISPLAY, _REVERSE = _build_all()
_entries.cache_clear()


def _detection() -> tuple[list[tuple[str, Vendor]], dict[int, Vendor]]:
    """Manufacturer substrings and VendorExtensionIDs of the dialects."""
    manufacturers: list[tuple[str, Vendor]] = []
    extension_ids: dict[int, Vendor] = {}
    for vendor in registry.dialects():
        codes = registry.part(vendor, "codes")
        if codes is not None:
            manufacturers.append((codes.MANUFACTURER, vendor))
            extension_ids.update(dict.fromkeys(codes.EXTENSION_IDS, vendor))
    return manufacturers, extension_ids


# Manufacturer substrings are checked before the extension id (the Fuji X-H1 reports 6).
_MANUFACTURERS, _EXTENSION_IDS = _detection()


def _as_vendor(vendor: Vendor | str) -> Vendor:
    if isinstance(vendor, Vendor):
        return vendor
    try:
        return Vendor(vendor.strip().lower())
    except (ValueError, AttributeError):
        known = ", ".join(v.value for v in Vendor)
        raise ValueError(f"unknown vendor {vendor!r} (expected one of {known})") from None


def name(kind: CodeKind, code: int, vendor: Vendor | str = Vendor.GENERIC) -> str:
    """Display name of ``code`` for ``vendor``, e.g. ``"GetDeviceInfo"``; unknown: ``"0x9116"``."""
    found = _DISPLAY[_as_vendor(vendor)][CodeKind(kind)].get(code)
    return found if found is not None else f"0x{code:04X}"


def lookup(kind: CodeKind, text: str, vendor: Vendor | str = Vendor.GENERIC) -> int | None:
    """Code for a display or member name (any case; ``_``, ``-``, spaces ignored) or ``0x`` hex."""
    table = _REVERSE[_as_vendor(vendor)][CodeKind(kind)]
    stripped = text.strip()
    hex_code = _HEX_CODE.fullmatch(stripped)
    if hex_code is not None:
        return int(hex_code.group(1), 16)
    return table.get(_normalize(stripped))


def names(kind: CodeKind, vendor: Vendor | str = Vendor.GENERIC) -> dict[int, str]:
    """Every known code of ``kind`` for ``vendor`` (standard and vendor), sorted by code."""
    return dict(_DISPLAY[_as_vendor(vendor)][CodeKind(kind)])


def vendor_for(manufacturer: str, vendor_extension_id: int) -> Vendor:
    """Dialect from DeviceInfo: the Manufacturer string wins, then VendorExtensionID."""
    return detect_dialect(manufacturer, vendor_extension_id)[0]


def detect_dialect(manufacturer: str, vendor_extension_id: int) -> tuple[Vendor, str]:
    """:func:`vendor_for`, and why: which DeviceInfo field named the dialect."""
    folded = (manufacturer or "").casefold()
    for needle, vendor in _MANUFACTURERS:
        if needle in folded:
            return vendor, f'Manufacturer "{manufacturer}"'
    found = _EXTENSION_IDS.get(vendor_extension_id)
    if found is not None:
        return found, f"VendorExtensionID 0x{vendor_extension_id:X}"
    return Vendor.GENERIC, f'no dialect for Manufacturer "{manufacturer}"'
