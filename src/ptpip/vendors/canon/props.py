"""Canon EOS property formats, labels and short names, for :mod:`ptpip.props`
(vendor-canon.md §10)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ptpip.props.standard import (
    Number,
    PropFormat,
    enum_format,
    plain,
    with_f,
    with_seconds,
    without_seconds,
)
from ptpip.ptp.codes import DataType
from ptpip.vendors.canon import tables as canon

__all__ = ["FORMATS", "LABELS", "UNIFIED"]

_U16, _U32 = DataType.UINT16, DataType.UINT32


def _canon_eighths(table: Mapping[int, str]) -> Callable[[Number], float | None]:
    """APEX × 8 codes: a numeric label's code / 8 is its position in stops."""

    def position(value: Number) -> float | None:
        if isinstance(value, int) and table.get(value, "")[:1].isdigit():
            return value / 8
        return None

    return position


def _canon_ev(value: Number) -> float | None:
    ev = canon.EXP_COMPENSATION_EV.get(int(value) & 0xFF) if isinstance(value, int) else None
    return None if ev is None else float(ev)


FORMATS: dict[int, PropFormat] = {
    0xD101: PropFormat(
        with_f(canon.format_aperture),
        plain(canon.parse_aperture),
        _U16,
        _canon_eighths(canon.APERTURE),
        snap=True,
    ),
    0xD102: PropFormat(
        with_seconds(canon.format_shutter),
        without_seconds(canon.parse_shutter),
        _U16,
        _canon_eighths(canon.SHUTTER),
        snap=True,
    ),
    0xD103: PropFormat(canon.format_iso, plain(canon.parse_iso), _U16, _canon_eighths(canon.ISO)),
    0xD104: PropFormat(
        canon.format_exp_compensation,
        plain(canon.parse_exp_compensation),
        _U32,
        _canon_ev,
        snap=True,
    ),
    0xD105: enum_format(canon.AE_MODE, "exposure mode"),
    0xD11C: enum_format(canon.CAPTURE_DESTINATION, "capture destination", _U32),
    0xD138: enum_format(canon.AE_MODE, "mode dial"),
    0xD1B0: enum_format(canon.EVF_OUTPUT, "EVF output device", _U32),
    0xD1B1: enum_format(canon.EVF_MODE, "EVF mode"),
}

#: Short labels for the Canon codes the CLI shows most (vendor-canon.md §10.1).
LABELS: dict[int, str] = {
    0xD101: "aperture", 0xD102: "shutter speed", 0xD103: "ISO",
    0xD104: "exposure compensation", 0xD105: "exposure mode", 0xD106: "drive mode",
    0xD107: "metering mode", 0xD108: "focus mode", 0xD109: "white balance",
    0xD10A: "color temperature", 0xD10F: "color space", 0xD110: "picture style",
    0xD111: "battery power", 0xD11B: "available shots", 0xD11C: "capture destination",
    0xD120: "image format", 0xD138: "mode dial", 0xD1AF: "serial number",
    0xD1B0: "EVF output device", 0xD1B1: "EVF mode", 0xD1D8: "lens name",
}  # fmt: skip

#: The short names on Canon bodies (its own codes for the exposure controls).
UNIFIED: dict[str, int] = {
    "aperture": 0xD101,
    "exposure": 0xD102,
    "shutterspeed": 0xD102,
    "iso": 0xD103,
    "exp-bias": 0xD104,
    "whitebalance": 0xD109,
}
