"""Camera events as seen by users: one type for every source, and a lossless bounded hub."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from ptpip.ptp.names import CodeKind, name

__all__ = ["CameraEvent", "EventHub", "Subscription"]

log = logging.getLogger("ptpip.client")


@dataclass(frozen=True, slots=True)
class CameraEvent:
    """An event from the event connection or from vendor polling (Canon GetEvent, Fuji D212)."""

    code: int
    params: tuple[int, ...] = ()
    transaction_id: int | None = None
    vendor: str = "generic"
    #: vendor detail, e.g. the decoded Canon GetEvent record or a property's new value
    detail: object = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return name(CodeKind.EVENT, self.code, self.vendor)

    def __str__(self) -> str:
        params = ", ".join(f"0x{p:X}" for p in self.params)
        return f"{self.name}({params})"


_END = object()


class Subscription:
    """An async iterator over events matching ``codes`` (all when empty)."""

    def __init__(self, hub: EventHub, codes: frozenset[int], size: int) -> None:
        self._hub = hub
        self.codes = codes
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._size = size
        self.dropped = 0

    def matches(self, event: CameraEvent) -> bool:
        return not self.codes or event.code in self.codes

    def _put(self, item: object) -> None:
        if item is not _END and self._queue.qsize() >= self._size:
            self._queue.get_nowait()  # bounded: the oldest goes, and we say so
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("event queue full: %d events dropped for a slow listener", self.dropped)
        self._queue.put_nowait(item)

    async def get(self, timeout: float | None = None) -> CameraEvent:
        """The next event; raises TimeoutError, or StopAsyncIteration when the camera is gone."""
        async with asyncio.timeout(timeout):
            item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
            raise StopAsyncIteration
        assert isinstance(item, CameraEvent)
        return item

    def __aiter__(self) -> AsyncIterator[CameraEvent]:
        return self

    async def __anext__(self) -> CameraEvent:
        return await self.get()

    def close(self) -> None:
        self._hub._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """Fans events out to subscribers; with none listening, keeps a bounded backlog.

    Events are never lost while nobody listens (up to ``backlog`` of them): the next
    subscriber receives the matching backlog first.
    """

    def __init__(self, backlog: int = 1024, queue_size: int = 1024) -> None:
        self._subs: list[Subscription] = []
        self._backlog: deque[CameraEvent] = deque(maxlen=backlog)
        self._queue_size = queue_size
        self._closed = False
        self.listeners: list[Callable[[CameraEvent], None]] = []

    def publish(self, event: CameraEvent) -> None:
        for listener in self.listeners:
            listener(event)
        delivered = False
        for sub in self._subs:
            if sub.matches(event):
                sub._put(event)
                delivered = True
        if not delivered:
            if len(self._backlog) == self._backlog.maxlen:
                log.warning("event backlog full: dropping %s", self._backlog[0])
            self._backlog.append(event)

    def subscribe(self, codes: Iterable[int] = (), *, backlog: bool = True) -> Subscription:
        """A new subscription; with ``backlog`` it first receives the matching backlog."""
        sub = Subscription(self, frozenset(codes), self._queue_size)
        if backlog:
            keep: deque[CameraEvent] = deque(maxlen=self._backlog.maxlen)
            for event in self._backlog:
                (sub._put if sub.matches(event) else keep.append)(event)
            self._backlog = keep
        if self._closed:
            sub._put(_END)
        self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def close(self) -> None:
        self._closed = True
        for sub in self._subs:
            sub._put(_END)
