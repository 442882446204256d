"""The Fujifilm live-view page: the seed's viewfinder and the controls (vendor-fuji.md)."""

from __future__ import annotations

from ptpip.liveview.state import Overlay, Slot

__all__ = ["OVERLAY"]

OVERLAY = Overlay(
    slots=(
        Slot("film", "film", 0xD001),
        Slot("whitebalance", "WB", 0x5005),
        Slot("focus", "focus", 0x500A),
        Slot("battery", "battery", 0x5001),
        Slot("shots", "shots", 0xD229),
        Slot("shutter", "", 0xD240),
        Slot("aperture", "", 0x5007),
        Slot("exp-bias", "EV", 0x5010),
        Slot("iso", "ISO", 0xD02A),
    ),
    controls=(
        Slot("iso", "ISO", 0xD02A),
        Slot("shutter", "Shutter", 0xD240),
        Slot("aperture", "Aperture", 0x5007),
        Slot("exp-bias", "Exposure bias", 0x5010),
        Slot("whitebalance", "White balance", 0x5005),
    ),
    one_read=True,  # the 0xD212 state list
)
