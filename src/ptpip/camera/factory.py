"""Build a virtual camera of a given vendor over a storage folder."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ptpip.camera import generic
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
from ptpip.vendors import registry

__all__ = [
    "VENDORS",
    "default_model",
    "default_port",
    "dialect_camera",
    "make_camera",
    "make_personality",
    "port_argument",
]

#: Vendors the virtual camera can impersonate: generic, and each dialect with a ``camera``.
VENDORS: tuple[Vendor, ...] = (
    Vendor.GENERIC,
    *(v for v in registry.dialects() if registry.has(v, "camera")),
)


def dialect_camera(vendor: Vendor | str) -> ModuleType:
    """The module of a vendor's virtual camera: its ``PERSONALITY``, ``DEFAULT_MODEL`` and
    ``DEFAULT_PORT`` (and maybe ``add_arguments``/``options`` for ``ptpip simulate``)."""
    v = Vendor(vendor.lower()) if isinstance(vendor, str) else vendor
    module = generic if v is Vendor.GENERIC else registry.part(v, "camera")
    if module is None:
        names = ", ".join(x.value for x in VENDORS)
        raise ValueError(f"no virtual {v.value} camera in this version (available: {names})")
    return module


def default_port(vendor: Vendor | str) -> int:
    """The command port the vendor's cameras listen on (Fuji: 55740)."""
    return int(dialect_camera(vendor).DEFAULT_PORT)


def default_model(vendor: Vendor | str) -> str:
    return str(dialect_camera(vendor).DEFAULT_MODEL)


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
    module = dialect_camera(vendor)
    personality: Personality = module.PERSONALITY(
        storage, model=model or module.DEFAULT_MODEL, read_only=read_only, **options
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


def port_argument(text: str) -> int:
    """A port for ``ptpip simulate`` options (decimal or 0x hex; 0 picks a free one)."""
    t = text.strip().lower()
    value = -1
    if re.fullmatch(r"0x[0-9a-f]{1,4}", t):
        value = int(t, 16)
    elif re.fullmatch(r"[0-9]{1,5}", t):
        value = int(t)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value
