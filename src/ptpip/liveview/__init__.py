"""Live view in the browser and in pipes: an MJPEG server, its page, and frame writers.

Light on purpose: importing this package loads neither aiohttp nor the client; the server is
in :mod:`ptpip.liveview.server`. What is here is the registry of the live-view page running in
this process, so that other commands (``capture view``) can show things on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ptpip.client.camera import Camera
    from ptpip.liveview.server import LiveServer

__all__ = ["register", "running_server", "show_capture", "unregister"]

_RUNNING: dict[int, LiveServer] = {}


def running_server(camera: Camera) -> LiveServer | None:
    """The live-view page serving ``camera`` in this process, if one runs."""
    server = _RUNNING.get(id(camera))
    return server if server is not None and server.camera is camera else None


def register(server: LiveServer) -> None:
    _RUNNING[id(server.camera)] = server


def unregister(server: LiveServer) -> None:
    if _RUNNING.get(id(server.camera)) is server:
        del _RUNNING[id(server.camera)]


def show_capture(camera: Camera, name: str, path: Path) -> str | None:
    """Put a captured image on the running live-view page; its address, or None when no
    page runs here. Opens the browser on it when no page is open."""
    server = running_server(camera)
    if server is None:
        return None
    data = path.read_bytes()
    capture = server.add_capture(name, data, path)
    url = f"{server.url}#capture"
    if server.viewers == 0:
        from ptpip.liveview.browser import open_browser

        open_browser(url)
    return f"{server.url}capture/{capture.seq}.jpg"
