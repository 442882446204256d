"""The Nikon live-view page: the viewfinder overlay and the controls.

Nikon keeps the standard codes for the exposure controls (ISO 0x500F, shutter 0x500D,
F-number 0x5007, exposure bias 0x5010, white balance 0x5005, focus mode 0x500A); its Picture
Control is 0xD200. Each is read on its own (no one-read state list); the words come from
:mod:`ptpip.vendors.nikon.props`.
"""

from __future__ import annotations

from ptpip.liveview.state import Overlay, Slot

__all__ = ["OVERLAY"]

OVERLAY = Overlay(
    slots=(
        Slot("picture-control", "picture", 0xD200),
        Slot("whitebalance", "WB", 0x5005),
        Slot("focus", "focus", 0x500A),
        Slot("battery", "battery", 0x5001),
        Slot("shutter", "", 0x500D),
        Slot("aperture", "", 0x5007),
        Slot("exp-bias", "EV", 0x5010),
        Slot("iso", "ISO", 0x500F),
    ),
    controls=(
        Slot("iso", "ISO", 0x500F),
        Slot("shutter", "Shutter", 0x500D),
        Slot("aperture", "Aperture", 0x5007),
        Slot("exp-bias", "Exposure bias", 0x5010),
        Slot("whitebalance", "White balance", 0x5005),
    ),
)
