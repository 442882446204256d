"""Build a virtual camera of a given vendor over a storage folder."""

from __future__ import annotations

from pathlib import Path

from ptpip.camera.personality import Personality
from ptpip.camera.server import Faults, VirtualCamera
from ptpip.ptp.codes import Vendor

__all__ = ["DEFAULT_PORTS", "VENDORS", "make_camera", "make_personality"]

#: Vendors the virtual camera can impersonate.
VENDORS: tuple[Vendor, ...] = (Vendor.GENERIC, Vendor.FUJI)
#: The command port each vendor's cameras listen on (Fuji: events and live view on +1, +2).
DEFAULT_PORTS: dict[Vendor, int] = {Vendor.GENERIC: 15740, Vendor.FUJI: 55740}


def make_personality(vendor: Vendor | str, storage: Path, model: str | None = None) -> Personality:
    v = Vendor(vendor.lower()) if isinstance(vendor, str) else vendor
    if v not in VENDORS:
        names = ", ".join(x.value for x in VENDORS)
        raise ValueError(
            f"the virtual camera cannot be a {v.value} camera yet (available: {names})"
        )
    if v is Vendor.FUJI:
        from ptpip.camera.fuji import FujiCamera

        return FujiCamera(storage, model=model or "X-T1")
    from ptpip.camera.generic import GenericCamera

    return GenericCamera(storage, model=model or "ptpip virtual camera")


def make_camera(
    vendor: Vendor | str = Vendor.GENERIC,
    storage: Path | str = ".",
    *,
    model: str | None = None,
    host: str = "127.0.0.1",
    port: int = 15740,
    faults: Faults | None = None,
) -> VirtualCamera:
    """A ready-to-start virtual camera (call ``await camera.start()``)."""
    personality = make_personality(vendor, Path(storage), model)
    return VirtualCamera(personality, host=host, port=port, faults=faults)
