"""ptpip: PTP/IP camera control — asyncio client, blocking facade, CLI and virtual camera.

::

    import ptpip

    async with ptpip.connect("192.168.0.1") as camera:
        info = await camera.device_info()

Names load lazily, so ``import ptpip`` (and ``ptpip --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ptpip._version import __version__

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, Downloaded, ObjectEntry, connect, open_camera
    from ptpip.client.events import CameraEvent
    from ptpip.errors import (
        ConnectionClosed,
        InitFailError,
        ProtocolError,
        PtpError,
        RemoteProtocolError,
        ResponseError,
        StorageError,
        Timeout,
        TransportError,
    )
    from ptpip.ptp.codes import Vendor

_LAZY = {
    "Camera": "ptpip.client.camera",
    "Downloaded": "ptpip.client.camera",
    "ObjectEntry": "ptpip.client.camera",
    "connect": "ptpip.client.camera",
    "open_camera": "ptpip.client.camera",
    "CameraEvent": "ptpip.client.events",
    "ConnectionClosed": "ptpip.errors",
    "InitFailError": "ptpip.errors",
    "ProtocolError": "ptpip.errors",
    "PtpError": "ptpip.errors",
    "RemoteProtocolError": "ptpip.errors",
    "ResponseError": "ptpip.errors",
    "StorageError": "ptpip.errors",
    "Timeout": "ptpip.errors",
    "TransportError": "ptpip.errors",
    "Vendor": "ptpip.ptp.codes",
}

__all__ = [
    "Camera",
    "CameraEvent",
    "ConnectionClosed",
    "Downloaded",
    "InitFailError",
    "ObjectEntry",
    "ProtocolError",
    "PtpError",
    "RemoteProtocolError",
    "ResponseError",
    "StorageError",
    "Timeout",
    "TransportError",
    "Vendor",
    "__version__",
    "connect",
    "open_camera",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ptpip' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
