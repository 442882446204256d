"""The live-view frame loop: one reader of the camera, any number of watchers.

:class:`LiveSource` runs ``camera.liveview()`` while somebody watches (a browser tab, an
MJPEG client, a pipe) and stops it a moment after the last one left, which takes the camera
out of live-view mode (Fuji: the stream socket closes; Canon: EVF output off).

:class:`FrameHub` keeps only the newest frame. A watcher asks for "the first frame after the
one I have"; a watcher still busy with frame N when N+1 and N+2 arrive gets N+2 next and never
sees N+1. Nothing queues, so what a watcher receives is at most one frame old, however slow it
is, and a slow watcher never slows the camera loop or the other watchers. The JPEG bytes are
passed on as the camera sent them: never decoded, never re-encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptpip.errors import PtpError

if TYPE_CHECKING:
    from ptpip.client.camera import Camera, LiveViewFrame

__all__ = ["Frame", "FrameHub", "LiveSource", "LiveViewEnded"]

log = logging.getLogger("ptpip.liveview")


@dataclass(frozen=True, slots=True)
class Frame:
    """One live-view frame as the camera sent it, numbered by the hub."""

    #: 1, 2, 3, … across restarts of the live view (the hub's own count)
    seq: int
    jpeg: bytes
    #: the camera's own frame counter, where it sends one (Fuji, Canon: wraps at 0xFF)
    counter: int | None
    #: time.monotonic() when the frame arrived from the camera
    received: float


@contextlib.asynccontextmanager
async def _closing(frames: AsyncIterator[LiveViewFrame]) -> AsyncIterator[None]:
    """Close the vendor's frame generator on the way out: its clean-up takes the camera out
    of live-view mode (Canon: EVF output off; Fuji: the stream socket closes)."""
    try:
        yield
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()


class LiveViewEnded(Exception):
    """The camera's live view stopped (an error, or the source was closed)."""


class FrameHub:
    """The newest frame, and a way to wait for the next one."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._seq = 0
        self._changed = asyncio.Event()
        self._closed = False
        #: why the last run of the live view ended, when it failed
        self.error: str | None = None
        self._failures = 0
        self._fps_window: list[float] = []

    @property
    def latest(self) -> Frame | None:
        return self._frame

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, jpeg: bytes, counter: int | None = None) -> Frame:
        now = time.monotonic()
        self._seq += 1
        frame = Frame(self._seq, jpeg, counter, now)
        self._frame = frame
        self.error = None
        window = self._fps_window
        window.append(now)
        while window and now - window[0] > 2.0:
            window.pop(0)
        self._wake()
        return frame

    @property
    def fps(self) -> float:
        """Frames per second over the last two seconds (0 when none came for a second)."""
        window = self._fps_window
        if len(window) < 2 or time.monotonic() - window[-1] > 1.0:
            return 0.0
        return (len(window) - 1) / (window[-1] - window[0]) if window[-1] > window[0] else 0.0

    def fail(self, message: str) -> None:
        """The live view stopped on an error: waiters give up (they may start it again)."""
        self.error = message
        self._failures += 1
        self._wake()

    def close(self) -> None:
        """No more frames ever: every waiter returns None."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def next(self, after: int, timeout: float | None = None) -> Frame | None:
        """The newest frame with ``seq > after``; None once closed.

        Raises LiveViewEnded when the live view fails while waiting, TimeoutError after
        ``timeout`` seconds without a frame.
        """
        failures = self._failures
        async with asyncio.timeout(timeout):
            while True:
                if self._closed:
                    return None
                frame = self._frame
                if frame is not None and frame.seq > after:
                    return frame
                if self._failures != failures:
                    raise LiveViewEnded(self.error or "the live view stopped")
                await self._changed.wait()


class LiveSource:
    """Runs the camera's live view while at least one watcher is there.

    ``linger`` seconds after the last watcher left, the live view stops (a reloading page
    comes back before that and finds it still running).
    """

    def __init__(self, camera: Camera, *, linger: float = 3.0, stop_timeout: float = 3.0) -> None:
        self.camera = camera
        self.hub = FrameHub()
        self.linger = linger
        self.stop_timeout = stop_timeout
        self._watchers = 0
        self._task: asyncio.Task[None] | None = None
        self._stop_requested = False
        self._linger_handle: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        #: frames received from the camera since the source was made
        self.frames_in = 0
        #: how many times the live view was started (and so how many times it was stopped)
        self.starts = 0
        #: set whenever the number of watchers drops to zero
        self.idle = asyncio.Event()
        self.idle.set()
        self._closed = False

    @property
    def watchers(self) -> int:
        return self._watchers

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[FrameHub]:
        """``async with source.watching() as hub:`` — the live view runs inside."""
        await self.acquire()
        try:
            yield self.hub
        finally:
            self.release()

    async def acquire(self) -> None:
        if self._closed:
            raise LiveViewEnded("the live view is closed")
        self._watchers += 1
        self.idle.clear()
        if self._linger_handle is not None:
            self._linger_handle.cancel()
            self._linger_handle = None
        if self._stopping is not None:
            await asyncio.shield(self._stopping)  # let the old run end first
        if not self.running:
            self._start()

    def release(self) -> None:
        self._watchers = max(0, self._watchers - 1)
        if self._watchers:
            return
        self.idle.set()
        if self._closed or not self.running:
            return
        if self._linger_handle is not None:
            self._linger_handle.cancel()
        loop = asyncio.get_running_loop()
        self._linger_handle = loop.call_later(self.linger, self._linger_over)

    def _linger_over(self) -> None:
        self._linger_handle = None
        if self._watchers == 0 and self.running and self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())

    def _start(self) -> None:
        self._stop_requested = False
        self.starts += 1
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        frames = self.camera.liveview()
        try:
            async with _closing(frames):
                async for frame in frames:
                    self.frames_in += 1
                    self.hub.publish(frame.jpeg, frame.counter)
                    if self._stop_requested:
                        break  # aclosing ends the generator: the vendor leaves live view
            if not self._stop_requested:
                self.hub.fail("the camera ended the live view")
        except PtpError as exc:
            log.info("live view ended: %s", exc)
            self.hub.fail(str(exc))
        except Exception as exc:  # a bug in a vendor's live view: report it, keep serving
            log.exception("live view failed")
            self.hub.fail(f"live view failed: {exc!r}")

    async def _stop(self) -> None:
        """Ask the loop to end after its current frame; cancel it if no frame comes."""
        try:
            task = self._task
            if task is None or task.done():
                return
            self._stop_requested = True
            done, _ = await asyncio.wait({task}, timeout=self.stop_timeout)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, self.stop_timeout)
        finally:
            self._stopping = None

    async def first_frame(self, timeout: float) -> Frame:
        """Start the live view (as a watcher) and wait for a frame; raises LiveViewEnded."""
        fresh_only = not self.running  # a frame left from an earlier run proves nothing
        async with self.watching() as hub:
            try:
                frame = await hub.next(hub.seq if fresh_only else max(0, hub.seq - 1), timeout)
            except TimeoutError:
                raise LiveViewEnded(f"no live-view frame within {timeout:g} s") from None
            if frame is None:
                raise LiveViewEnded("the live view is closed")
            return frame

    async def close(self) -> None:
        """Stop the live view now (the camera leaves live-view mode) and end every waiter."""
        self._closed = True
        if self._linger_handle is not None:
            self._linger_handle.cancel()
            self._linger_handle = None
        if self._stopping is not None:
            await asyncio.shield(self._stopping)
        self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)
        self.hub.close()
