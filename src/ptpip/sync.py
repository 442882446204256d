"""The blocking facade: the same camera API for scripts that do not use asyncio.

::

    import ptpip.sync

    with ptpip.sync.connect("192.168.0.1") as camera:
        print(camera.device_info().model)
        for entry in camera.list_objects():
            if not entry.is_folder:
                camera.download(entry.handle, "photos/")

Every method of :class:`ptpip.client.camera.Camera` is available under the same name, without
``await``. The connection runs on a private event loop that advances while a call is in
progress; background jobs (keep-alives, vendor polling) run then too, so a script that idles
for a long time between calls can call :meth:`SyncCamera.idle` to keep the session alive.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from ptpip.client.camera import Camera, open_camera
from ptpip.client.events import CameraEvent

__all__ = ["SyncCamera", "connect"]


class SyncCamera:
    """A :class:`Camera` whose coroutine methods are plain blocking methods."""

    def __init__(self, camera: Camera, runner: asyncio.Runner) -> None:
        self._camera = camera
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._camera, name)
        if inspect.iscoroutinefunction(attr):

            @functools.wraps(attr)
            def call(*args: Any, **kwargs: Any) -> Any:
                return self._runner.run(attr(*args, **kwargs))

            return call
        return attr

    @property
    def camera(self) -> Camera:
        """The underlying asyncio camera."""
        return self._camera

    def events(self, *codes: int, timeout: float | None = None) -> Iterator[CameraEvent]:
        """Events as they arrive (only ``codes`` if given); stops after ``timeout`` idle
        seconds, or when the camera disconnects."""
        sub = self._camera.events(*codes)
        try:
            while True:
                try:
                    yield self._runner.run(sub.get(timeout))
                except (TimeoutError, StopAsyncIteration):
                    return
        finally:
            sub.close()

    def idle(self, seconds: float) -> None:
        """Let the connection's background jobs run for ``seconds`` (instead of time.sleep)."""
        self._runner.run(asyncio.sleep(seconds))

    def close(self) -> None:
        try:
            self._runner.run(self._camera.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncCamera:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_sync(*args: Any, **kwargs: Any) -> SyncCamera:
    """Connect and return a :class:`SyncCamera`; takes :func:`ptpip.connect`'s arguments."""
    runner = asyncio.Runner()
    try:
        camera = runner.run(open_camera(*args, **kwargs))
    except BaseException:
        runner.close()
        raise
    return SyncCamera(camera, runner)


@contextmanager
def connect(*args: Any, **kwargs: Any) -> Iterator[SyncCamera]:
    """Blocking :func:`ptpip.connect`: a context manager yielding a :class:`SyncCamera`."""
    camera = open_sync(*args, **kwargs)
    try:
        yield camera
    finally:
        camera.close()
