"""Build a virtual camera of a given vendor over a storage folder."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ptpip.camera.personality import Personality
from ptpip.camera.server import (
    DEFAULT_DATA_TIMEOUT,
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_PROBE_AFTER,
    DEFAULT_PROBE_TIMEOUT,
    Faults,
    VirtualCamera,
    random_connection_number,
)
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
    vendor: Vendor | str,
    storage: Path,
    model: str | None = None,
    *,
    read_only: bool = False,
    **options: Any,
) -> Personality:
    """The personality of ``vendor``; ``options`` go to its constructor (pairing, fps, ...).

    ``read_only``: the card folder is never written (DeleteObject and capture to the card
    answer StoreReadOnly; an empty folder gets no sample images).
    """
    v = Vendor(vendor.lower()) if isinstance(vendor, str) else vendor
    if v not in PERSONALITIES:
        names = ", ".join(x.value for x in PERSONALITIES)
        raise ValueError(f"no virtual {v.value} camera in this version (available: {names})")
    module, cls, default_model = PERSONALITIES[v]
    klass = getattr(importlib.import_module(module), cls)
    personality: Personality = klass(
        storage, model=model or default_model, read_only=read_only, **options
    )
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
    read_only: bool = False,
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    probe_after: float = DEFAULT_PROBE_AFTER,
    probe_timeout: float | None = DEFAULT_PROBE_TIMEOUT,
    data_timeout: float | None = DEFAULT_DATA_TIMEOUT,
    connection_numbers: Callable[[], int] = random_connection_number,
    **options: Any,
) -> VirtualCamera:
    """A ready-to-start virtual camera (call ``await camera.start()``).

    ``port_overrides`` moves an extra listener ("event", "stream") off command port + offset;
    the timeouts and ``connection_numbers`` are :class:`VirtualCamera`'s; ``options`` go to
    the personality (e.g. Fuji's ``pairing``, ``liveview_fps``).
    """
    personality = make_personality(vendor, Path(storage), model, read_only=read_only, **options)
    return VirtualCamera(
        personality,
        host=host,
        port=port,
        faults=faults,
        port_overrides=port_overrides,
        handshake_timeout=handshake_timeout,
        idle_timeout=idle_timeout,
        probe_after=probe_after,
        probe_timeout=probe_timeout,
        data_timeout=data_timeout,
        connection_numbers=connection_numbers,
    )
