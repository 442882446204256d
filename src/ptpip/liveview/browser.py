"""Opening the user's browser, only where there is a graphical one."""

from __future__ import annotations

import os
import sys
import webbrowser

__all__ = ["can_open_browser", "open_browser"]


def can_open_browser() -> bool:
    """Whether a browser window can be opened: $BROWSER names one, or this is macOS or
    Windows, or there is a graphical session. (Without one, Python's webbrowser would start
    a text-mode browser in this very terminal.)"""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str) -> bool:
    """Open ``url`` in a new tab of the user's browser; False when there is none."""
    if not can_open_browser():
        return False
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False
