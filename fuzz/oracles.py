"""Round-trip oracles: what a decoder accepted must re-encode (or be refused with
LocalProtocolError) and decode to the same value. A mismatch is an invariant finding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptpip.errors import LocalProtocolError
from ptpip.ip.packets import decode_packet
from ptpip.ptp.datasets import decode_handles, encode_handles
from ptpip.vendors.canon.codec import (
    decode_events,
    decode_image_format,
    decode_set_prop_ex,
    decode_viewfinder,
    encode_events,
    encode_image_format,
    encode_set_prop_ex,
    encode_viewfinder,
)
from ptpip.vendors.fuji.codec import (
    decode_liveview_frame,
    decode_prop_list,
    decode_state,
    encode_liveview_frame,
    encode_prop_list,
    encode_state,
)
from ptpip.vendors.leica.codec import decode_stream_frame, encode_stream_frame

__all__ = ["ORACLES", "RoundTripError"]


class RoundTripError(Exception):
    """A decoded value re-encoded and decoded to something else."""


def _same(what: str, first: object, again: object) -> None:
    if first != again:
        raise RoundTripError(f"{what}: {first!r:.300} became {again!r:.300}")


def _dataset(value: Any) -> None:
    try:
        raw = value.encode()
    except LocalProtocolError:
        return
    _same(type(value).__name__, value, type(value).decode(raw))


def _handles(value: Any) -> None:
    _same("handles", value, decode_handles(encode_handles(value)))


def _packet(value: Any) -> None:
    try:
        raw = value.encode()
    except LocalProtocolError:
        return
    _same(type(value).__name__, value, decode_packet(value.TYPE, raw[8:]))


def _canon_events(value: Any) -> None:
    try:
        raw = encode_events(value)
    except LocalProtocolError:
        return
    _same("GetEvent records", value, decode_events(raw))


def _canon_set_prop(value: Any) -> None:
    prop, payload = value
    try:
        raw = encode_set_prop_ex(prop, payload)
    except LocalProtocolError:
        return
    _same("SetDevicePropValueEx", value, decode_set_prop_ex(raw))


def _canon_viewfinder(value: Any) -> None:
    blocks, _ = value
    try:
        raw = encode_viewfinder(blocks)
    except LocalProtocolError:
        return
    _same("viewfinder blocks", blocks, decode_viewfinder(raw))


def _fuji_props(value: Any) -> None:
    try:
        raw = encode_prop_list(value)
    except LocalProtocolError:
        return
    _same("0x902B list", value, decode_prop_list(raw))


def _fuji_state(value: Any) -> None:
    try:
        raw = encode_state(value)
    except LocalProtocolError:
        return
    _same("0xD212 state", value, decode_state(raw))


def _fuji_frame(value: Any) -> None:
    try:
        raw = encode_liveview_frame(value.counter, value.jpeg, value.tail)
    except LocalProtocolError:
        return
    again = decode_liveview_frame(raw)
    _same(
        "live-view frame",
        (value.counter, value.tail, value.jpeg),
        (again.counter, again.tail, again.jpeg),
    )


def _leica_frame(value: Any) -> None:
    try:
        raw = encode_stream_frame(value.jpeg, value.tlvs, value.header_fields[:4])
    except LocalProtocolError:
        return
    again = decode_stream_frame(raw)
    _same("0x9025 frame", (value.tlvs, value.jpeg), (again.tlvs, again.jpeg))


def _image_format(value: Any) -> None:
    _same("ImageFormat", value, decode_image_format(encode_image_format(value)))


#: target name -> check of the value the target's decoder returned
ORACLES: dict[str, Callable[[Any], None]] = {
    "ptp.datasets.DeviceInfo": _dataset,
    "ptp.datasets.StorageInfo": _dataset,
    "ptp.datasets.ObjectInfo": _dataset,
    "ptp.datasets.DevicePropDesc": _dataset,
    "ptp.datasets.decode_handles": _handles,
    "ip.packets.decode_packet": _packet,
    "canon.decode_events": _canon_events,
    "canon.decode_set_prop_ex": _canon_set_prop,
    "canon.decode_viewfinder": _canon_viewfinder,
    "fuji.decode_prop_list": _fuji_props,
    "fuji.decode_state": _fuji_state,
    "fuji.decode_liveview_frame": _fuji_frame,
    "leica.decode_stream_frame": _leica_frame,
    "leica.StreamInfo": lambda value: _dataset(value[0]),
    "canon.decode_image_format.raw": _image_format,
}
