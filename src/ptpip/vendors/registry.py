"""How the shared layers find a dialect's parts: by module name in its package.

``part(Vendor.CANON, "props")`` is :mod:`ptpip.vendors.canon.props`, imported on first use, or
None when the dialect has no such part. See :mod:`ptpip.vendors` for the parts.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from types import ModuleType

from ptpip.ptp.codes import Vendor
from ptpip.vendors import DIALECTS

__all__ = ["dialects", "has", "part"]


def dialects() -> tuple[Vendor, ...]:
    """The registered dialects (the generic one not included), in registration order."""
    return tuple(DIALECTS)


@cache
def part(vendor: Vendor, name: str) -> ModuleType | None:
    """The dialect's module ``name`` ("codes", "props", "profile", "camera", …), or None."""
    package = DIALECTS.get(vendor)
    if package is None:
        return None
    qualified = f"{package}.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name == qualified:
            return None
        raise


def has(vendor: Vendor, name: str) -> bool:
    """Whether the dialect has the part ``name``, without importing it."""
    package = DIALECTS.get(vendor)
    return package is not None and importlib.util.find_spec(f"{package}.{name}") is not None
