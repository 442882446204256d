"""The live-view web server: the page, the MJPEG stream, the state and the controls.

Routes (all on 127.0.0.1):

=====================  =====================================================================
``GET /``              the page (plain HTML/JS/CSS from ``static/``, nothing from elsewhere)
``GET /stream.mjpg``   the live view, ``multipart/x-mixed-replace`` JPEG parts (browsers'
                       ``<img>``, VLC, ``ffmpeg -i URL``); each part carries ``X-Frame``
``GET /frame.jpg``     the newest frame, once
``GET /api/state``     overlay values, stream figures, the last capture (JSON)
``GET /api/controls``  ISO, shutter, aperture, exposure bias, white balance: allowed values
``POST /api/set``      ``{"key": "iso", "value": "800"}``
``POST /api/capture``  release the shutter; the image is saved and shown on the page
``GET /capture/N.jpg`` a capture's preview (``latest.jpg``: the last one)
=====================  =====================================================================

Every request must name this server in its Host header (no DNS rebinding) and every POST must
be JSON from this origin (a web site open in the same browser cannot release the shutter).
Nothing answers another site either: a request a browser marks ``Sec-Fetch-Site: cross-site``
or ``same-site``, or whose ``Origin`` is not this server, gets 403 (an ``<img>`` on a web page
cannot start the live view); only a plain link to the page itself is followed. Players that
send neither header (VLC, ffmpeg, curl) are served as before. The page may not be framed.

A connection must complete each request's headers within ``header_timeout`` seconds (and its
JSON body as well), or it is closed: a client dribbling bytes (or sending none) cannot hold
connections open.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from ptpip.client.download import Destination, open_folder, safe_filename, save_new
from ptpip.errors import PtpError
from ptpip.liveview import register, unregister
from ptpip.liveview.hub import LiveSource, LiveViewEnded
from ptpip.liveview.mjpeg import CONTENT_TYPE, http_part
from ptpip.liveview.state import CameraState, ControlError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

    from ptpip.client.camera import Camera, CapturedImage

__all__ = ["Capture", "LiveServer"]

log = logging.getLogger("ptpip.liveview")

_STATIC = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}
_NO_STORE = {"Cache-Control": "no-store"}
#: Captures kept in memory for the page (older ones stay in their files).
_KEEP_CAPTURES = 16
_JSON_LIMIT = 16 * 1024
#: While no frame comes, look this often whether an MJPEG client has gone.
_IDLE_CHECK = 2.0
#: Seconds a connection has for a request's headers (and a POST for its body).
DEFAULT_HEADER_TIMEOUT = 10.0
#: What browsers say about a request from another site (Fetch Metadata).
_OTHER_SITES = frozenset({"cross-site", "same-site"})
_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class Capture:
    """An image the page can show: from its capture button or ``capture view``."""

    seq: int
    name: str
    preview: bytes | None
    saved: Path | None
    time: float

    def as_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "name": self.name,
            "url": f"/capture/{self.seq}.jpg" if self.preview else None,
            "saved": str(self.saved) if self.saved else None,
            "size": len(self.preview) if self.preview else None,
            "time": self.time,
        }


class LiveServer:
    """The live-view page of one camera, on 127.0.0.1 (``port`` 0: a free one)."""

    def __init__(
        self,
        camera: Camera,
        *,
        overlay: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        save_dir: Path | None = None,
        linger: float = 3.0,
        capture_timeout: float = 30.0,
        header_timeout: float | None = DEFAULT_HEADER_TIMEOUT,
    ) -> None:
        self.camera = camera
        self.host = host
        self.port = port
        #: seconds for a request's headers (or a POST's body); None: no limit
        self.header_timeout = header_timeout or None
        self._deadlines: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}
        self._listener: asyncio.Server | None = None
        self.save_dir = save_dir
        self.linger = linger
        self.capture_timeout = capture_timeout
        self.source = LiveSource(camera, linger=linger)
        self.state = CameraState(camera, overlay=overlay)
        self.captures: deque[Capture] = deque(maxlen=_KEEP_CAPTURES)
        self._capture_seq = 0
        self._capture_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._state_task: asyncio.Task[None] | None = None
        self._info: dict[str, object] = {}
        #: MJPEG clients connected now, and in total
        self.viewers = 0
        self.viewers_total = 0
        #: frames written to MJPEG clients, all together
        self.frames_out = 0
        self.closed = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen and register as this process's page; returns the page's address."""
        info = await self.camera.device_info()
        self._info = {
            "vendor": self.camera.vendor.value,
            "manufacturer": info.manufacturer,
            "model": info.model,
            "serial": info.serial_number,
        }
        app = web.Application(
            client_max_size=_JSON_LIMIT, middlewares=[self._header_deadline(), self._guard()]
        )
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/stream.mjpg", self._stream)
        app.router.add_get("/frame.jpg", self._frame)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_get("/api/controls", self._api_controls)
        app.router.add_post("/api/set", self._api_set)
        app.router.add_post("/api/capture", self._api_capture)
        app.router.add_get("/capture/{seq}.jpg", self._capture_image)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.create_server((self.host, self.port))
        server = runner.server
        assert server is not None
        try:
            # aiohttp's protocol, wrapped to time each request's headers (aiohttp has no
            # such limit); runner.cleanup() still closes every connection it serves.
            self._listener = await asyncio.get_running_loop().create_server(
                lambda: _Deadline(server(), self), sock=sock
            )
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(sock.getsockname()[1])
        self._state_task = asyncio.ensure_future(self.state.run())
        register(self)
        return self.url

    async def close(self) -> None:
        """Stop the live view (the camera leaves live-view mode), then the server."""
        unregister(self)
        await self.source.close()
        if self._state_task is not None:
            self._state_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._state_task
            self._state_task = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for handle in self._deadlines.values():
            handle.cancel()
        self._deadlines.clear()
        self.closed.set()

    async def wait_pages_closed(self, poll: float = 0.2) -> None:
        """Return once a page (an MJPEG client) came and every one has been gone for
        ``linger`` seconds: the user closed the page."""
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            if self.viewers or not self.viewers_total:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= self.linger:
                return
            await asyncio.sleep(poll)

    # -- captures ----------------------------------------------------------------------------

    def add_capture(self, name: str, preview: bytes | None, saved: Path | None) -> Capture:
        self._capture_seq += 1
        capture = Capture(self._capture_seq, name, preview, saved, time.time())
        self.captures.append(capture)
        return capture

    async def capture(self) -> list[Capture]:
        """Release the shutter; each new image is saved (``save_dir``) and shown."""
        async with self._capture_lock:
            entries = await self.camera.capture(timeout=self.capture_timeout)
            return [await self._keep(entry) for entry in entries]

    async def _keep(self, entry: CapturedImage) -> Capture:
        data: bytes | None = entry.preview
        saved: Path | None = None
        if entry.handle is not None:
            if self.save_dir is not None:  # a new name when taken; never through a link
                name = safe_filename(entry.filename, "capture.jpg")
                with open_folder(self.save_dir) as folder:
                    dest = Destination(folder, name)
                    saved = (await self.camera.fetch(entry.handle, dest, info=entry.info)).path
                data = _jpeg_bytes(saved)
            else:
                buffer = io.BytesIO()
                await self.camera.download(entry.handle, buffer, info=entry.info)
                data = buffer.getvalue()
            if data is not None and not data.startswith(b"\xff\xd8"):
                data = None
            if data is None:  # RAW, HEIF, …: the camera's thumbnail stands in
                with contextlib.suppress(PtpError):
                    data = await self.camera.thumbnail(entry.handle) or None
        elif data is not None and self.save_dir is not None:
            saved = save_new(self.save_dir, safe_filename(entry.filename, "capture.jpg"), data)
        return self.add_capture(entry.filename, data, saved)

    # -- HTTP --------------------------------------------------------------------------------

    def _origins(self) -> tuple[set[str], set[str]]:
        """The Host header values and the origins that are this server."""
        names = {self.host, "127.0.0.1", "localhost", "::1"}
        hosts = {f"[{h}]:{self.port}" if ":" in h else f"{h}:{self.port}" for h in names}
        return hosts, {f"http://{h}" for h in hosts}

    def _guard(self) -> Middleware:
        """Refuse other Host names (DNS rebinding), requests from other sites (Fetch
        Metadata, Origin) and non-JSON POSTs."""

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            hosts, origins = self._origins()
            if request.host not in hosts:
                return web.Response(status=403, text="forbidden: wrong Host\n")
            origin = request.headers.get("Origin")
            if origin is not None and origin not in origins:
                return web.Response(status=403, text="forbidden: cross-origin request\n")
            site = request.headers.get("Sec-Fetch-Site")
            if site in _OTHER_SITES and not _followed_link(request):
                return web.Response(status=403, text="forbidden: request from another site\n")
            if request.method == "POST" and request.content_type != "application/json":
                return web.Response(status=415, text="send application/json\n")
            return await handler(request)

        return guard

    def _header_deadline(self) -> Middleware:
        """A request's headers arrived: its connection's clock stops while it is served and
        starts again for the next request on the same connection."""

        @web.middleware
        async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
            transport = request.transport
            if transport is not None:
                self._disarm(transport)
            try:
                return await handler(request)
            finally:
                if transport is not None and not transport.is_closing():
                    self._arm(transport)

        return deadline

    def _arm(self, transport: asyncio.BaseTransport) -> None:
        self._disarm(transport)
        if self.header_timeout is not None:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(self.header_timeout, self._expired, transport)
            self._deadlines[transport] = handle

    def _disarm(self, transport: asyncio.BaseTransport) -> None:
        handle = self._deadlines.pop(transport, None)
        if handle is not None:
            handle.cancel()

    def _expired(self, transport: asyncio.BaseTransport) -> None:
        self._deadlines.pop(transport, None)
        if transport.is_closing() or not isinstance(transport, asyncio.Transport):
            return
        if transport.get_write_buffer_size():
            self._arm(transport)  # still sending the last response: wait for the next request
            return
        log.info("closing an HTTP connection: no complete request in %g s", self.header_timeout)
        transport.abort()

    async def _index(self, request: web.Request) -> web.Response:
        return _asset("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return _asset(name)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": CONTENT_TYPE,
                "Cache-Control": "no-store, no-cache, must-revalidate",
                "Pragma": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            async with self.source.watching() as hub:
                self.viewers += 1
                self.viewers_total += 1
                try:
                    await response.prepare(request)
                    seq = 0
                    while True:
                        # The newest frame after the last one sent: frames that came while
                        # this client was busy are skipped, never queued.
                        try:
                            frame = await hub.next(seq, _IDLE_CHECK)
                        except TimeoutError:  # a quiet camera: is the client still there?
                            transport = request.transport
                            if transport is None or transport.is_closing():
                                break
                            continue
                        if frame is None:
                            break
                        seq = frame.seq
                        await response.write(http_part(frame.jpeg, frame.seq, frame.counter))
                        self.frames_out += 1
                finally:
                    self.viewers -= 1
        except LiveViewEnded as exc:
            log.info("MJPEG client: the live view ended: %s", exc)
        except ConnectionError:
            pass  # the client left (closed its page or tab)
        return response

    async def _frame(self, request: web.Request) -> web.Response:
        try:
            frame = await self.source.first_frame(timeout=10.0)
        except LiveViewEnded as exc:
            return web.Response(status=503, text=f"{exc}\n")
        return web.Response(body=frame.jpeg, content_type="image/jpeg", headers=_NO_STORE)

    async def _api_state(self, request: web.Request) -> web.Response:
        self.state.touch()
        await self.state.ensure_fresh()
        data = self.state.snapshot()
        hub = self.source.hub
        last = self.captures[-1] if self.captures else None
        data.update(
            camera=self._info,
            stream={
                "running": self.source.running,
                "frames": hub.seq,
                "counter": hub.latest.counter if hub.latest else None,
                "fps": round(hub.fps, 1),
                "viewers": self.viewers,
                "error": hub.error,
            },
            capture=last.as_json() if last else None,
            time=time.time(),
        )
        return _json(data)

    async def _api_controls(self, request: web.Request) -> web.Response:
        try:
            controls = await self.state.controls()
        except PtpError as exc:
            return _json({"error": str(exc)}, status=502)
        return _json({"controls": controls})

    async def _api_set(self, request: web.Request) -> web.Response:
        body = await _body(request, self.header_timeout)
        if body is None:
            return _json({"error": 'send {"key": NAME, "value": TEXT}'}, status=400)
        key, value = body.get("key"), body.get("value")
        if not isinstance(key, str) or not isinstance(value, str | int | float):
            return _json({"error": 'send {"key": NAME, "value": TEXT}'}, status=400)
        try:
            shown = await self.state.set(key, str(value))
        except ControlError as exc:
            return _json({"error": str(exc)}, status=400)
        except PtpError as exc:
            return _json({"error": str(exc)}, status=502)
        return _json({"key": key, "value": shown, "state": self.state.snapshot()})

    async def _api_capture(self, request: web.Request) -> web.Response:
        try:
            captures = await self.capture()
        except PtpError as exc:
            return _json({"error": str(exc)}, status=502)
        except OSError as exc:
            return _json({"error": f"cannot save the image: {exc}"}, status=500)
        if not captures:
            return _json({"error": "the camera announced no new image"}, status=502)
        return _json({"captures": [c.as_json() for c in captures]})

    async def _capture_image(self, request: web.Request) -> web.Response:
        wanted = request.match_info["seq"]
        found: Capture | None = None
        if wanted == "latest":
            found = next((c for c in reversed(self.captures) if c.preview), None)
        elif wanted.isdigit():
            found = next((c for c in self.captures if c.seq == int(wanted)), None)
        if found is None or found.preview is None:
            raise web.HTTPNotFound()
        return web.Response(body=found.preview, content_type="image/jpeg", headers=_NO_STORE)


def _asset(name: str) -> web.Response:
    data = resources.files("ptpip.liveview").joinpath("static", name).read_bytes()
    return web.Response(body=data, content_type=_STATIC[name], charset="utf-8", headers=_NO_STORE)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data), content_type="application/json", status=status, headers=_NO_STORE
    )


async def _body(request: web.Request, timeout: float | None) -> dict[str, object] | None:
    try:
        async with asyncio.timeout(timeout):  # a body dribbled in holds nothing for long
            data = await request.json()
    except (ValueError, UnicodeDecodeError, TimeoutError):
        return None
    return data if isinstance(data, dict) else None


def _followed_link(request: web.Request) -> bool:
    """A top-level navigation to the page (a link or bookmark elsewhere): the page's own
    requests then come from this origin."""
    return (
        request.method == "GET"
        and request.path == "/"
        and request.headers.get("Sec-Fetch-Mode") == "navigate"
        and request.headers.get("Sec-Fetch-Dest") == "document"
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


class _Deadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, under a clock: the connection is closed when
    a request's headers are not complete ``header_timeout`` seconds after the connection
    opened (or the last response was sent)."""

    def __init__(self, inner: asyncio.Protocol, live: LiveServer) -> None:
        self._inner = inner
        self._live = live
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._live._arm(transport)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._live._disarm(self._transport)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def _jpeg_bytes(path: Path) -> bytes | None:
    """The file's bytes if it is a JPEG (what the page can show), else None."""
    with path.open("rb") as fh:
        if fh.read(2) != b"\xff\xd8":
            return None
        return b"\xff\xd8" + fh.read()
