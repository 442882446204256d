"""The viewfinder overlay's camera state and the page's setting controls.

What the seed's viewfinder showed, per dialect (its ``overlay`` part), read once per second
while a page looks: in one go where the dialect's profile can (Fuji's 0xD212 state list,
Canon's GetEvent cache), else the properties one by one. The controls (ISO, shutter,
aperture, exposure bias, white balance) offer the values the camera allows, in words, as
``describe`` shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ptpip.errors import PtpError
from ptpip.props import describe_values, format_value, parse_value, prop_label
from ptpip.ptp.codes import Vendor
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.vendors import registry

if TYPE_CHECKING:
    from ptpip.client.camera import Camera
    from ptpip.ptp.values import Value

__all__ = ["CONTROLS", "OVERLAY", "CameraState", "Overlay", "Slot", "overlay_of"]

log = logging.getLogger("ptpip.liveview")


@dataclass(frozen=True, slots=True)
class Slot:
    """One value on the page: its key, its short title there, and the property behind it."""

    key: str
    title: str
    code: int


#: The seed's viewfinder for a camera of no dialect (and a dialect with no ``overlay``
#: part): what the overlay shows, in order (top row first, then bottom).
OVERLAY: tuple[Slot, ...] = (
    Slot("effect", "effect", 0x5017),
    Slot("whitebalance", "WB", 0x5005),
    Slot("focus", "focus", 0x500A),
    Slot("battery", "battery", 0x5001),
    Slot("shutter", "", 0x500D),
    Slot("aperture", "", 0x5007),
    Slot("exp-bias", "EV", 0x5010),
    Slot("iso", "ISO", 0x500F),
)

#: The settings the page can change, in its order.
CONTROLS: tuple[Slot, ...] = (
    Slot("iso", "ISO", 0x500F),
    Slot("shutter", "Shutter", 0x500D),
    Slot("aperture", "Aperture", 0x5007),
    Slot("exp-bias", "Exposure bias", 0x5010),
    Slot("whitebalance", "White balance", 0x5005),
)


@dataclass(frozen=True, slots=True)
class Overlay:
    """A dialect's page: its overlay and controls, whether its profile reads every value in
    one go (``camera.state()``: Fuji's 0xD212, Canon's event cache) and words for values its
    property tables leave as numbers."""

    slots: tuple[Slot, ...] = OVERLAY
    controls: tuple[Slot, ...] = CONTROLS
    one_read: bool = False
    words: Mapping[int, Mapping[int, str]] = field(default_factory=dict)


def overlay_of(vendor: Vendor) -> Overlay:
    """The dialect's :class:`Overlay` (its ``overlay`` part's ``OVERLAY``), else the generic."""
    part = registry.part(vendor, "overlay")
    found = getattr(part, "OVERLAY", None)
    return found if isinstance(found, Overlay) else Overlay()


class ControlError(Exception):
    """A setting the page asked for cannot be made (unknown, read only, not allowed)."""


class CameraState:
    """The overlay's values, refreshed once per ``interval`` while pages ask for them.

    Pages ask every second; the camera is read once per interval whatever their number, and
    not at all when nobody asked for ``keepalive`` seconds or the overlay is off (``novf``).
    Reading takes the camera's transaction lock like any operation, between two of the live
    view's transactions (Canon), so it delays the frame loop by one short transaction a second.
    """

    def __init__(
        self,
        camera: Camera,
        *,
        overlay: bool = True,
        interval: float = 1.0,
        keepalive: float = 3.0,
    ) -> None:
        self.camera = camera
        self.vendor = camera.vendor
        self.overlay = overlay
        self.interval = interval
        self.keepalive = keepalive
        self.page = overlay_of(self.vendor)
        self.slots = self.page.slots
        self.controls_slots = self.page.controls
        self.values: dict[int, Value] = {}
        self.updated: float | None = None
        self.error: str | None = None
        #: how many times the camera was read
        self.reads = 0
        self._descs: dict[int, DevicePropDesc] = {}
        self._lock = asyncio.Lock()
        self._last_touch = 0.0
        self._wanted = asyncio.Event()

    # -- the once-per-second loop ------------------------------------------------------------

    def touch(self) -> None:
        """A page looked at the state: keep reading the camera for a while."""
        self._last_touch = time.monotonic()
        if self.overlay:
            self._wanted.set()

    async def run(self) -> None:
        """Read the camera every ``interval`` while wanted; runs until cancelled."""
        while True:
            await self._wanted.wait()
            if time.monotonic() - self._last_touch > self.keepalive:
                self._wanted.clear()
                continue
            started = time.monotonic()
            try:
                await self.refresh()
            except Exception as exc:  # keep the overlay loop alive, whatever happened
                log.exception("reading the camera state failed")
                self.error = f"reading the camera state failed: {exc!r}"
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - started)))

    async def refresh(self) -> None:
        """Read the overlay's values now (errors are kept in ``error``, never raised)."""
        if not self.overlay:
            return
        async with self._lock:
            try:
                self.values = await self._read()
                self.error = None
            except PtpError as exc:
                self.error = str(exc)
                log.info("reading the camera state failed: %s", exc)
            self.updated = time.time()
            self.reads += 1

    async def _read(self) -> dict[int, Value]:
        if self.page.one_read:
            return dict(await self.camera.state())
        supported = set((await self.camera.device_info()).device_properties_supported)
        values: dict[int, Value] = {}
        for code in dict.fromkeys(s.code for s in (*self.slots, *self.controls_slots)):
            if code in supported:
                with contextlib.suppress(PtpError):
                    values[code] = await self.camera.get_property(code)
        return values

    async def ensure_fresh(self, timeout: float = 5.0) -> None:
        """Read once now if nothing was read yet (the first page load)."""
        if self.overlay and self.updated is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.refresh()

    # -- what the page gets ------------------------------------------------------------------

    def _label(self, code: int, value: Value) -> str:
        desc = self._descs.get(code)
        text = format_value(code, value, self.vendor, datatype=desc.datatype if desc else None)
        if isinstance(value, int) and text == str(value):
            return self.page.words.get(code, {}).get(value, text)
        return text

    def _unlabel(self, code: int, text: str) -> str:
        """The number behind one of the page's words (what ``parse_value`` reads), else ``text``."""
        for raw, word in self.page.words.get(code, {}).items():
            if word.lower() == text.strip().lower():
                return str(raw)
        return text

    def snapshot(self) -> dict[str, object]:
        items = [
            {
                "key": slot.key,
                "title": slot.title,
                "name": prop_label(slot.code, self.vendor),
                "code": f"{slot.code:#06x}",
                "value": self._label(slot.code, self.values[slot.code]),
            }
            for slot in self.slots
            if slot.code in self.values
        ]
        current: dict[str, str] = {}
        for slot in self.controls_slots:
            if slot.code in self.values:
                current[slot.key] = self._label(slot.code, self.values[slot.code])
            elif slot.code in self._descs:
                current[slot.key] = self._label(slot.code, self._descs[slot.code].current)
        return {
            "overlay": self.overlay,
            "items": items,
            "controls": current,
            "updated": self.updated,
            "error": self.error,
        }

    async def controls(self) -> list[dict[str, object]]:
        """Each control with the values the camera allows now (one describe each)."""
        out: list[dict[str, object]] = []
        for slot in self.controls_slots:
            entry: dict[str, object] = {
                "key": slot.key,
                "title": slot.title,
                "name": prop_label(slot.code, self.vendor),
                "code": f"{slot.code:#06x}",
            }
            try:
                desc = await self.camera.describe(slot.code)
            except PtpError as exc:
                entry.update(available=False, reason=str(exc), values=[], writable=False)
                out.append(entry)
                continue
            self._descs[slot.code] = desc
            allowed = describe_values(desc, self.vendor)
            if isinstance(desc.form, PropEnum):
                allowed = [self._label(slot.code, v) for v in desc.form.values]
            entry.update(
                available=True,
                writable=desc.writable,
                current=self._label(slot.code, desc.current),
                kind="enum"
                if isinstance(desc.form, PropEnum)
                else "range"
                if isinstance(desc.form, PropRange)
                else "any",
                values=list(dict.fromkeys(allowed)) if isinstance(desc.form, PropEnum) else [],
                hint=", ".join(allowed) if not isinstance(desc.form, PropEnum) else "",
            )
            out.append(entry)
        return out

    async def set(self, key: str, text: str) -> str:
        """Set a control from its words ("800", "1/250", "f/5.6", "-2/3", "daylight")."""
        slot = next((s for s in self.controls_slots if s.key == key), None)
        if slot is None:
            raise ControlError(f"no setting {key!r} (one of {', '.join(self._keys())})")
        desc = await self.camera.describe(slot.code)
        label = prop_label(slot.code, self.vendor)
        if not desc.writable:
            raise ControlError(f"{label} is read only on this camera")
        try:
            value = parse_value(slot.code, self._unlabel(slot.code, text), self.vendor, desc)
        except ValueError as exc:
            raise ControlError(f"{label}: {exc}") from None
        await self.camera.set_property(slot.code, value)
        self._descs[slot.code] = desc
        shown = self._label(slot.code, value)
        if self.overlay:
            await self.refresh()
        else:
            self._descs[slot.code] = DevicePropDesc(
                desc.code, desc.datatype, desc.get_set, desc.default, value, desc.form
            )
        return shown

    def _keys(self) -> list[str]:
        return [s.key for s in self.controls_slots]
