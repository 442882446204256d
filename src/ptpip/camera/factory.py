"""Build a virtual camera of a given vendor over a storage folder."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ptpip.camera.personality import Personality
from ptpip.camera.server import Faults, VirtualCamera
from ptpip.ptp.codes import Vendor

__all__ = ["DEFAULT_PORTS", "PERSONALITIES", "VENDORS", "make_camera", "make_personality"]

#: vendor -> (module, class, default model); each entry is one personality of the camera.
PERSONALITIES: dict[Vendor, tuple[str, str, str]] = {
    Vendor.GENERIC: ("ptpip.camera.generic", "GenericCamera", "ptpip virtual camera"),
    Vendor.FUJI: ("ptpip.camera.fuji", "FujiCamera", "X-T1"),
    Vendor.CANON: ("ptpip.camera.canon", "CanonCamera", "Canon EOS 5D Mark III"),
    Vendor.LEICA: ("ptpip.camera.leica", "LeicaCamera", "LEICA Q3"),
}
#: Vendors the virtual camera can impersonate.
VENDORS: tuple[Vendor, ...] = tuple(PERSONALITIES)
#: The command port each vendor's cameras listen on (Fuji: events and live view on +1, +2).
DEFAULT_PORTS: dict[Vendor, int] = {
    Vendor.GENERIC: 15740,
    Vendor.FUJI: 55740,
    Vendor.CANON: 15740,
    Vendor.LEICA: 15740,
}


def make_personality(
    vendor: Vendor | str, storage: Path, model: str | None = None, **options: Any
) -> Personality:
    """The personality of ``vendor``; ``options`` go to its constructor (pairing, fps, ...)."""
    v = Vendor(vendor.lower()) if isinstance(vendor, str) else vendor
    if v not in PERSONALITIES:
        names = ", ".join(x.value for x in PERSONALITIES)
        raise ValueError(f"no virtual {v.value} camera in this version (available: {names})")
    module, cls, default_model = PERSONALITIES[v]
    klass = getattr(importlib.import_module(module), cls)
    personality: Personality = klass(storage, model=model or default_model, **options)
    return personality


def make_camera(
    vendor: Vendor | str = Vendor.GENERIC,
    storage: Path | str = ".",
    *,
    model: str | None = None,
    host: str = "127.0.0.1",
    port: int = 15740,
    faults: Faults | None = None,
    port_overrides: dict[str, int] | None = None,
    **options: Any,
) -> VirtualCamera:
    """A ready-to-start virtual camera (call ``await camera.start()``).

    ``port_overrides`` moves an extra listener ("event", "stream") off command port + offset;
    ``options`` go to the personality (e.g. Fuji's ``pairing``, ``liveview_fps``).
    """
    personality = make_personality(vendor, Path(storage), model, **options)
    return VirtualCamera(
        personality, host=host, port=port, faults=faults, port_overrides=port_overrides
    )
