"""A minimal JPEG marker walk for tests: the frame size from the first SOF marker."""

from __future__ import annotations

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3})


def sof(jpeg: bytes) -> tuple[int, int, int]:
    """(SOF marker, width, height) of the first start-of-frame segment."""
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    pos = 2
    while pos + 4 <= len(jpeg):
        assert jpeg[pos] == 0xFF, f"no marker at {pos}"
        marker = jpeg[pos + 1]
        length = int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS:
            height = int.from_bytes(jpeg[pos + 5 : pos + 7], "big")
            width = int.from_bytes(jpeg[pos + 7 : pos + 9], "big")
            return marker, width, height
        pos += 2 + length
    raise AssertionError("no SOF marker")
