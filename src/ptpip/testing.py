"""Run a virtual camera from tests: in a background thread, on a free loopback port.

Works from synchronous tests, asyncio tests and subprocess-driven tests (gphoto2) alike::

    from ptpip.testing import RunningCamera

    with RunningCamera(storage=tmp_path) as cam:
        ...  # connect to cam.host, cam.port

With pytest, the ``virtual_camera`` fixture does the same (ptpip registers it as a plugin).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ptpip.camera.factory import make_camera
from ptpip.camera.personality import Personality
from ptpip.camera.server import Faults, VirtualCamera
from ptpip.ptp.codes import Vendor

__all__ = ["RunningCamera", "virtual_camera"]

T = TypeVar("T")


class RunningCamera:
    """A :class:`VirtualCamera` served by its own event loop in a daemon thread.

    ``options`` go to :func:`~ptpip.camera.factory.make_camera`: ``read_only``, the
    server's timeouts (``handshake_timeout``, ``idle_timeout``, ``probe_after``,
    ``probe_timeout``, ``data_timeout``) and the personality's own options.
    """

    def __init__(
        self,
        vendor: Vendor | str = Vendor.GENERIC,
        *,
        storage: Path | str | None = None,
        model: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        **options: Any,
    ) -> None:
        self._options = options
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if storage is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ptpip-card-")
            storage = self._tmp.name
        self.storage = Path(storage)
        self._args = (vendor, self.storage, model, host, port, faults)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.camera: VirtualCamera | None = None

    @property
    def host(self) -> str:
        assert self.camera is not None
        return self.camera.host

    @property
    def port(self) -> int:
        assert self.camera is not None
        return self.camera.port

    @property
    def ports(self) -> dict[str, int]:
        """Port by listener name: "command", and "event" and "stream" for Fuji."""
        assert self.camera is not None
        return dict(self.camera.ports)

    @property
    def personality(self) -> Personality:
        assert self.camera is not None
        return self.camera.personality

    @property
    def faults(self) -> Faults:
        assert self.camera is not None
        return self.camera.faults

    def start(self) -> RunningCamera:
        vendor, storage, model, host, port, faults = self._args
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                camera = make_camera(
                    vendor,
                    storage,
                    model=model,
                    host=host,
                    port=port,
                    faults=faults,
                    **self._options,
                )
                loop.run_until_complete(camera.start())
                self.camera = camera
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(camera.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="ptpip-virtual-camera", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        """Run a coroutine in the camera's loop (to change its state safely) and return."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        self._loop = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RunningCamera:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional outside test suites
    pass
else:

    @pytest.fixture
    def virtual_camera(tmp_path: Path) -> Iterator[RunningCamera]:
        """A generic virtual camera on a free 127.0.0.1 port, its card in ``tmp_path``."""
        with RunningCamera(storage=tmp_path / "card") as cam:
            yield cam
