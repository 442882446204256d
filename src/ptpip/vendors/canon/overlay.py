"""The Canon EOS live-view page: the viewfinder, the controls, and words for values the
property tables leave as numbers (libgphoto2's EOS tables)."""

from __future__ import annotations

from ptpip.liveview.state import Overlay, Slot

__all__ = ["OVERLAY"]

OVERLAY = Overlay(
    slots=(
        Slot("style", "style", 0xD110),
        Slot("whitebalance", "WB", 0xD109),
        Slot("focus", "focus", 0xD108),
        Slot("battery", "battery", 0xD111),
        Slot("shots", "shots", 0xD11B),
        Slot("shutter", "", 0xD102),
        Slot("aperture", "", 0xD101),
        Slot("exp-bias", "EV", 0xD104),
        Slot("iso", "ISO", 0xD103),
    ),
    controls=(
        Slot("iso", "ISO", 0xD103),
        Slot("shutter", "Shutter", 0xD102),
        Slot("aperture", "Aperture", 0xD101),
        Slot("exp-bias", "Exposure bias", 0xD104),
        Slot("whitebalance", "White balance", 0xD109),
    ),
    one_read=True,  # the GetEvent property cache
    words={
        0xD108: {0: "one shot", 1: "AI servo", 2: "AI focus", 3: "manual"},
        0xD109: {
            0: "auto", 1: "daylight", 2: "cloudy", 3: "tungsten", 4: "fluorescent",
            5: "flash", 6: "manual", 8: "shade", 9: "color temperature", 0x17: "auto (white)",
        },
        0xD110: {
            0x81: "Standard", 0x82: "Portrait", 0x83: "Landscape", 0x84: "Neutral",
            0x85: "Faithful", 0x86: "Monochrome", 0x87: "Auto", 0x88: "Fine Detail",
            0x21: "User 1", 0x22: "User 2", 0x23: "User 3",
        },
        0xD111: {0: "low", 1: "50%", 2: "100%", 4: "75%", 5: "25%"},
    },
)  # fmt: skip
