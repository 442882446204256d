"""Vendor code tables: one IntEnum per vendor and code kind; names come from ptpip.ptp.names."""

from __future__ import annotations

from ptpip.ptp.vendor_codes.canon import (
    CanonEvent,
    CanonObjectFormat,
    CanonOperation,
    CanonProperty,
    CanonResponse,
)
from ptpip.ptp.vendor_codes.fuji import FujiEvent, FujiObjectFormat, FujiOperation, FujiProperty
from ptpip.ptp.vendor_codes.leica import LeicaOperation, LeicaProperty
from ptpip.ptp.vendor_codes.nikon import NikonEvent, NikonOperation, NikonProperty, NikonResponse
from ptpip.ptp.vendor_codes.sony import (
    SonyEvent,
    SonyObjectFormat,
    SonyOperation,
    SonyProperty,
    SonyResponse,
)

__all__ = [
    "CanonEvent",
    "CanonObjectFormat",
    "CanonOperation",
    "CanonProperty",
    "CanonResponse",
    "FujiEvent",
    "FujiObjectFormat",
    "FujiOperation",
    "FujiProperty",
    "LeicaOperation",
    "LeicaProperty",
    "NikonEvent",
    "NikonOperation",
    "NikonProperty",
    "NikonResponse",
    "SonyEvent",
    "SonyObjectFormat",
    "SonyOperation",
    "SonyProperty",
    "SonyResponse",
]
