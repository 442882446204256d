"""What a running command can reach: the camera, the settings, and output helpers."""

from __future__ import annotations

import contextlib
import struct
import sys
from collections.abc import Callable
from typing import TextIO

from ptpip.cli.commands import Output
from ptpip.cli.render import human_size, shown, terminal_safe
from ptpip.cli.settings import Settings
from ptpip.client.camera import Camera
from ptpip.client.session import Result
from ptpip.errors import PtpError
from ptpip.props import prop_label
from ptpip.ptp.codes import Vendor
from ptpip.ptp.datasets import DeviceInfo, StorageInfo
from ptpip.ptp.names import CodeKind, name
from ptpip.ptp.values import Value

__all__ = ["Context"]


class Context:
    """Per-connection state shared by the commands (single command, shell or server)."""

    def __init__(
        self,
        camera: Camera,
        settings: Settings,
        *,
        stderr: TextIO | None = None,
        interactive: bool = False,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.stderr = stderr or sys.stderr
        self.interactive = interactive
        self.json_output = settings.json
        self.pretty = settings.pretty
        #: where commands that stream (watch) write as they go; the runner's output sink
        self.emit: Callable[[str], None] = _stdout

    @property
    def vendor_name(self) -> str:
        return self.camera.vendor.value

    @property
    def vendor(self) -> Vendor:
        return self.camera.vendor

    def note(self, text: str) -> None:
        """A progress or status line for people, on stderr (never mixed into results)."""
        print(terminal_safe(text), file=self.stderr, flush=True)

    # -- operations with vendor-specific variants --------------------------------------------

    async def profile_info(self) -> Output:
        info = await self.camera.device_info()
        storages: list[tuple[int, StorageInfo]] = []
        with contextlib.suppress(PtpError):
            storages = await self.camera.storages()
        text = _info_text(info, storages, self.vendor, self.camera.dialect_reason)
        data = _info_json(info, storages, self)
        if self.camera.profile.info_lists_properties:
            # The seed's Fuji `info` is the 0x902B property list; show it under the identity.
            from ptpip.cli.commands import SHORT_HEADERS, short_row
            from ptpip.cli.render import table

            descs = []
            with contextlib.suppress(PtpError):  # a body in image-transfer mode may refuse it
                descs = await self.camera.properties()
            text += table(SHORT_HEADERS, [short_row(self, d.code, d.current) for d in descs])
            assert isinstance(data, dict)
            data["propertyList"] = [
                {"code": f"{d.code:#06x}", "name": prop_label(d.code, self.vendor)} for d in descs
            ]
        return Output(text, data)

    async def state_values(self) -> list[tuple[int, Value]]:
        """The camera's current values (Fuji: its 0xD212 state list, as the seed)."""
        return await self.camera.state()

    async def get_value(self, code: int) -> Value:
        return await self.camera.get_property(code)

    async def set_value(self, code: int, value: Value) -> None:
        await self.camera.set_property(code, value)

    async def opreq_packets(self, code: int, params: tuple[int, ...]) -> tuple[Result, list[bytes]]:
        """Run a raw operation and return the packets the camera sent for it, whole (only
        its own: other clients' transactions, in server mode, are not mixed in)."""
        raw = bytearray()
        result = await self.camera.opreq(code, params, tap=raw.extend)
        return result, _split_packets(bytes(raw))


def _stdout(text: str) -> None:
    sys.stdout.write(terminal_safe(text))
    sys.stdout.flush()


def _split_packets(raw: bytes) -> list[bytes]:
    packets = []
    pos = 0
    while pos + 4 <= len(raw):
        length = struct.unpack_from("<I", raw, pos)[0]
        if length < 8 or pos + length > len(raw):
            packets.append(raw[pos:])
            return packets
        packets.append(raw[pos : pos + length])
        pos += length
    if pos < len(raw):
        packets.append(raw[pos:])
    return packets


def _codes(kind: CodeKind, codes: tuple[int, ...], vendor: Vendor) -> str:
    return ", ".join(f"{name(kind, c, vendor)} (0x{c:04X})" for c in codes) or "-"


def _info_text(
    info: DeviceInfo, storages: list[tuple[int, StorageInfo]], vendor: Vendor, reason: str
) -> str:
    lines = [
        f"Manufacturer:      {shown(info.manufacturer)}",
        f"Model:             {shown(info.model)}",
        f"Version:           {shown(info.device_version)}",
        f"Serial number:     {shown(info.serial_number)}",
        f"Dialect:           {vendor.value} ({shown(reason)}; vendor extension"
        f" 0x{info.vendor_extension_id:X}"
        + (f', "{shown(info.vendor_extension_desc)}")' if info.vendor_extension_desc else ")"),
        f"PTP version:       {info.standard_version / 100:.2f}",
        f"Operations:        {_codes(CodeKind.OPERATION, info.operations_supported, vendor)}",
        f"Events:            {_codes(CodeKind.EVENT, info.events_supported, vendor)}",
        "Properties:        "
        + (", ".join(prop_label(c, vendor) for c in info.device_properties_supported) or "-"),
        f"Capture formats:   {_codes(CodeKind.OBJECT_FORMAT, info.capture_formats, vendor)}",
        f"Playback formats:  {_codes(CodeKind.OBJECT_FORMAT, info.image_formats, vendor)}",
    ]
    for sid, storage in storages:
        label = shown(storage.storage_description) or "storage"
        if storage.volume_label:
            label += f' "{shown(storage.volume_label)}"'
        lines.append(
            f"Storage {sid:08x}:  {label}, {human_size(storage.free_space_bytes)} free"
            f" of {human_size(storage.max_capacity)}"
        )
    return "\n".join(lines) + "\n"


def _info_json(info: DeviceInfo, storages: list[tuple[int, StorageInfo]], ctx: Context) -> object:
    def codes(kind: CodeKind, values: tuple[int, ...]) -> list[dict[str, str]]:
        return [{"code": f"{c:#06x}", "name": name(kind, c, ctx.vendor)} for c in values]

    out_storages = []
    for sid, s in storages:
        out_storages.append(
            {
                "id": f"{sid:#010x}",
                "description": s.storage_description,
                "volumeLabel": s.volume_label,
                "maxCapacity": s.max_capacity,
                "freeSpaceInBytes": s.free_space_bytes,
                "freeSpaceInImages": s.free_space_images,
            }
        )
    return {
        "manufacturer": info.manufacturer,
        "model": info.model,
        "deviceVersion": info.device_version,
        "serialNumber": info.serial_number,
        "vendor": ctx.vendor.value,
        "dialectReason": ctx.camera.dialect_reason,
        "vendorExtensionId": f"{info.vendor_extension_id:#x}",
        "vendorExtensionDesc": info.vendor_extension_desc,
        "standardVersion": info.standard_version,
        "operations": codes(CodeKind.OPERATION, info.operations_supported),
        "events": codes(CodeKind.EVENT, info.events_supported),
        "properties": [
            {"code": f"{c:#06x}", "name": prop_label(c, ctx.vendor)}
            for c in info.device_properties_supported
        ],
        "captureFormats": codes(CodeKind.OBJECT_FORMAT, info.capture_formats),
        "imageFormats": codes(CodeKind.OBJECT_FORMAT, info.image_formats),
        "storages": out_storages,
    }
