"""The ``liveview`` command: the camera's live view on a local web page, or into pipes.

``ptpip -h HOST liveview`` serves the page on 127.0.0.1 and runs until Ctrl-C or until the
page is closed; in the shell (``-i``) and the command server (``-s``) it starts the page in
the background (``liveview stop`` ends it) so that other commands keep working, and
``capture view`` shows its image there. ``--mjpeg FILE|-`` and ``--frames DIR`` write the
frames for other programs instead. Imports nothing heavy until the command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ptpip.cli.commands import CommandError, Output, command
from ptpip.cli.context import Context
from ptpip.client.download import Destination, Folder, atomic_file, open_folder
from ptpip.errors import StorageError

if TYPE_CHECKING:
    from ptpip.client.camera import Camera
    from ptpip.liveview.hub import Frame, LiveSource
    from ptpip.liveview.server import LiveServer

__all__ = ["LiveviewOptions", "parse_options", "stop_background"]

USAGE = (
    "liveview [novf] [--port N] [--no-browser] [--stay] [--save DIR]"
    " | liveview --mjpeg FILE|- [--count N] | liveview --frames DIR [--count N]"
    " | liveview stop"
)
_DETAILS = """\
Serves the live view on a local web page (127.0.0.1, a free port unless --port N) and opens it
in the browser (--no-browser: only print its address). The page shows the image scaled to the
window, the viewfinder overlay (shutter, aperture, ISO, exposure bias, white balance, film
simulation or picture style, focus mode, battery, shots left; read once per second), buttons
to capture and to change ISO, shutter, aperture, exposure bias and white balance, and the last
capture (saved in the current folder, or --save DIR). The stream itself is MJPEG at
/stream.mjpg for VLC, ffmpeg or an <img> tag. Runs until Ctrl-C or until the page is closed
(--stay: until Ctrl-C); in the shell and the server it runs in the background until
`liveview stop`.
novf (or nolv) turns the overlay off, and with it the reading of the camera state.
--mjpeg FILE writes the frames as raw MJPEG (JPEGs back to back; `-` = standard output, e.g.
`ptpip -t fuji liveview --mjpeg - | ffmpeg -i - out.mp4`); --frames DIR saves numbered JPEGs;
--count N stops after N frames. Frames are passed on exactly as the camera sent them.
Fuji, Canon and Leica cameras have a live view; other cameras have none in PTP/IP."""

_FRAME_NAME = re.compile(r"^frame-(\d+)\.jpg$")


@dataclass(slots=True)
class LiveviewOptions:
    overlay: bool = True
    port: int = 0
    browser: bool = True
    stay: bool = False
    save_dir: Path | None = None
    mjpeg: str | None = None
    frames: Path | None = None
    count: int | None = None
    stop: bool = False


def parse_options(args: list[str]) -> LiveviewOptions:
    """The command's words; raises CommandError with the usage."""
    opts = LiveviewOptions()
    it = iter(args)

    def value(flag: str, sep: str, inline: str) -> str:
        if sep:
            return inline
        got = next(it, None)
        if got is None:
            raise CommandError(f"liveview: {flag} needs a value", usage=f"usage: {USAGE}")
        return got

    for word in it:
        flag, sep, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        low = flag.lower()

        def arg() -> str:
            return value(flag, sep, inline)  # noqa: B023 (called before the loop moves on)

        if low in ("novf", "nolv", "--novf", "--no-overlay"):
            opts.overlay = False
        elif low in ("stop", "off"):
            opts.stop = True
        elif low == "--port":
            opts.port = _number(arg(), "--port", 0, 65535)
        elif low in ("--no-browser", "--no-open"):
            opts.browser = False
        elif low == "--stay":
            opts.stay = True
        elif low == "--save":
            opts.save_dir = Path(arg()).expanduser()
        elif low == "--mjpeg":
            opts.mjpeg = arg()
        elif low == "--frames":
            opts.frames = Path(arg()).expanduser()
        elif low == "--count":
            opts.count = _number(arg(), "--count", 1, 10**9)
        else:
            raise CommandError(f"liveview: unknown argument {word!r}", usage=f"usage: {USAGE}")
    if opts.count is not None and opts.mjpeg is None and opts.frames is None:
        raise CommandError("liveview: --count goes with --mjpeg or --frames")
    return opts


def _number(text: str, flag: str, low: int, high: int) -> int:
    try:
        number = int(text, 10)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise CommandError(f"liveview: {flag} wants a number from {low} to {high}, not {text!r}")
    return number


@command(
    "liveview", USAGE, "shows the camera's live view in the browser, or writes it out", _DETAILS
)
async def _liveview(ctx: Context, args: list[str]) -> Output:
    opts = parse_options(args)
    if opts.stop:
        return await _stop(ctx)
    if opts.mjpeg is not None or opts.frames is not None:
        return await _pipe(ctx, opts)
    if ctx.interactive or ctx.settings.server:
        return await _background(ctx, opts)
    return await _foreground(ctx, opts)


# -- the page ------------------------------------------------------------------------------------


def _first_frame_timeout(ctx: Context) -> float:
    # Canon answers "not ready" for a few seconds after switching the EVF on.
    return max(15.0, ctx.settings.timeout)


async def _probe(ctx: Context, source: LiveSource) -> None:
    """Start the live view and wait for its first frame: a camera without one fails here,
    before any page opens, with one line saying so."""
    from ptpip.liveview.hub import LiveViewEnded

    try:
        await source.first_frame(_first_frame_timeout(ctx))
    except LiveViewEnded as exc:
        raise CommandError(f"liveview: {_explain(ctx, str(exc))}") from None


def _explain(ctx: Context, error: str) -> str:
    from ptpip.vendors.base import VendorProfile, profile_for
    from ptpip.vendors.registry import dialects

    if type(ctx.camera.profile).liveview is not VendorProfile.liveview:
        return error
    having = [
        v.value for v in dialects() if type(profile_for(v)).liveview is not VendorProfile.liveview
    ]
    flags = ", ".join(f"-t {name}" for name in having)
    return f"{error} (the dialects with a live view: {flags})"


def _new_server(ctx: Context, opts: LiveviewOptions) -> LiveServer:
    from ptpip.cli.files import capture_wait
    from ptpip.liveview.server import LiveServer

    return LiveServer(
        ctx.camera,
        overlay=opts.overlay,
        port=opts.port,
        save_dir=opts.save_dir or Path.cwd(),
        capture_timeout=capture_wait(ctx.settings),
    )


async def _start(ctx: Context, opts: LiveviewOptions) -> tuple[LiveServer, bool]:
    """Probe, listen, open the browser: the server, and whether a browser was opened."""
    from ptpip.liveview.browser import open_browser

    server = _new_server(ctx, opts)
    try:
        await _probe(ctx, server.source)
        try:
            url = await server.start()
        except OSError as exc:
            raise CommandError(f"liveview: cannot listen on 127.0.0.1:{opts.port}: {exc}") from None
    except BaseException:
        await server.close()
        raise
    opened = opts.browser and await asyncio.to_thread(open_browser, url)
    return server, opened


async def _foreground(ctx: Context, opts: LiveviewOptions) -> Output:
    stopped = asyncio.Event()
    with _signals(stopped, enabled=True):
        starting = asyncio.ensure_future(_start(ctx, opts))
        if await _first_of([starting, stopped.wait()]) == 1:
            return Output("live view stopped (interrupted)\n", {"stopped": "signal"})
        server, opened = starting.result()
        url = server.url
        try:
            ctx.emit(json.dumps({"url": url}) + "\n" if ctx.json_output else f"live view: {url}\n")
            how = "opened in your browser" if opened else "open that address in a browser"
            until = "Ctrl-C stops it" if opts.stay else "close the page or press Ctrl-C to stop"
            ctx.note(f"live view {how}; {until}")
            waits: list[Awaitable[object]] = [stopped.wait(), _camera_lost(ctx)]
            if not opts.stay:
                waits.append(server.wait_pages_closed())
            which = await _first_of(waits)
        finally:
            await server.close()
    if which == 1:
        raise ctx.camera.connection_lost()
    why = "interrupted" if which == 0 else "the page was closed"
    sent, viewers = server.frames_out, server.viewers_total
    text = f"live view stopped ({why}): {sent} frames sent to {viewers} viewer(s)\n"
    data = {
        "url": url,
        "stopped": "signal" if which == 0 else "page closed",
        "frames": sent,
        "viewers": viewers,
    }
    return Output(text, data)


async def _background(ctx: Context, opts: LiveviewOptions) -> Output:
    from ptpip.liveview import running_server

    running = running_server(ctx.camera)
    if running is not None:
        return Output(f"liveview already enabled: {running.url}\n", {"url": running.url})
    server, opened = await _start(ctx, opts)
    shown = " (opened in your browser)" if opened else ""
    text = f"liveview enabled: {server.url}{shown}; `liveview stop` ends it\n"
    return Output(text, {"url": server.url, "opened": opened})


async def _stop(ctx: Context) -> Output:
    from ptpip.liveview import running_server

    server = running_server(ctx.camera)
    if server is None:
        return Output("liveview is not running\n", {"stopped": False})
    await server.close()
    return Output(f"liveview stopped ({server.url})\n", {"stopped": True, "url": server.url})


async def stop_background(camera: Camera) -> None:
    """End the background live-view page of ``camera`` (before the camera closes)."""
    if "ptpip.liveview" not in sys.modules:
        return
    from ptpip.liveview import running_server

    server = running_server(camera)
    if server is not None:
        with contextlib.suppress(Exception):
            await server.close()


async def _camera_lost(ctx: Context) -> None:
    while ctx.camera.connection.is_open:
        await asyncio.sleep(0.5)


# -- pipes ---------------------------------------------------------------------------------------


async def _pipe(ctx: Context, opts: LiveviewOptions) -> Output:
    from ptpip.liveview import running_server
    from ptpip.liveview.hub import LiveSource, LiveViewEnded

    to_stdout = opts.mjpeg == "-"
    foreground = not (ctx.interactive or ctx.settings.server)
    if to_stdout and not foreground:
        raise CommandError(
            "liveview: --mjpeg - writes to standard output: run it as a single command,"
            " e.g. ptpip -h HOST liveview --mjpeg - | ffmpeg -i - out.mp4"
        )
    writer = _FrameWriter(opts)
    running = running_server(ctx.camera)
    source = running.source if running is not None else LiveSource(ctx.camera, linger=0.0)
    stopped = asyncio.Event()
    count = opts.count
    reason = "stopped"
    try:
        writer.open()
        with _signals(stopped, enabled=foreground):
            task = asyncio.ensure_future(_write_frames(ctx, source, writer, count))
            which = await _first_of([task, stopped.wait()])
            if which == 0:
                reason = task.result()
    except LiveViewEnded as exc:
        raise CommandError(f"liveview: {_explain(ctx, str(exc))}") from None
    except StorageError as exc:
        raise CommandError(f"liveview: {exc}") from None
    except OSError as exc:
        raise CommandError(f"liveview: cannot write {writer.target}: {exc}") from None
    finally:
        writer.close()
        if running is None:
            await source.close()
    text = f"{writer.written} frames written to {writer.target} ({reason})\n"
    data = {"frames": writer.written, "target": writer.target, "stopped": reason}
    if to_stdout:  # standard output carries the frames: the summary goes to stderr
        ctx.note(text.rstrip())
        return Output("", None)
    return Output(text, data)


async def _write_frames(
    ctx: Context, source: LiveSource, writer: _FrameWriter, count: int | None
) -> str:
    """Write the newest frame, then the newest after it, … (skipping what came meanwhile)."""
    timeout = _first_frame_timeout(ctx)
    async with source.watching() as hub:
        seq = hub.seq
        while count is None or writer.written < count:
            try:
                frame = await hub.next(seq, timeout)
            except TimeoutError:
                raise CommandError(
                    f"liveview: no frame from the camera for {timeout:g} s"
                ) from None
            if frame is None:
                return "the live view closed"
            seq = frame.seq
            if not await writer.write(frame):
                return "the reader closed the pipe"
    return f"{count} frames"


class _FrameWriter:
    """Writes frames from a daemon thread (a stalled pipe never blocks the event loop, nor
    the exit): raw MJPEG to a file or standard output, or numbered JPEGs in a folder."""

    def __init__(self, opts: LiveviewOptions) -> None:
        self.mjpeg = opts.mjpeg
        self.folder = opts.frames
        self.written = 0
        self._file: BinaryIO | None = None
        self._folder: Folder | None = None
        self._next_number = 1
        self._broken = False
        targets = []
        if self.mjpeg is not None:
            targets.append("standard output" if self.mjpeg == "-" else self.mjpeg)
        if self.folder is not None:
            targets.append(str(self.folder))
        self.target = " and ".join(targets)

    def open(self) -> None:
        if self.mjpeg == "-":
            self._file = sys.stdout.buffer
        elif self.mjpeg is not None:
            self._file = Path(self.mjpeg).expanduser().open("wb")
        if self.folder is not None:
            self._folder = open_folder(self.folder)  # frames go in by name, never via a link
            taken = [
                int(m.group(1)) for p in self.folder.iterdir() if (m := _FRAME_NAME.match(p.name))
            ]
            self._next_number = max(taken, default=0) + 1

    def close(self) -> None:
        if self._file is not None and self.mjpeg != "-":
            self._file.close()
        self._file = None
        if self._folder is not None:
            self._folder.close()
            self._folder = None
        if self._broken and self.mjpeg == "-":
            # the reader is gone: nothing more may go to the pipe, not even at exit
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)

    async def write(self, frame: Frame) -> bool:
        """Write one frame; False when the reader of the pipe went away."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def work() -> None:
            error: BaseException | None = None
            try:
                self._write(frame)
            except BaseException as exc:
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(_settle, done, error)

        threading.Thread(target=work, name="ptpip-liveview-writer", daemon=True).start()
        error = await done
        if isinstance(error, BrokenPipeError):
            self._broken = True
            return False
        if error is not None:
            raise error
        self.written += 1
        return True

    def _write(self, frame: Frame) -> None:
        if self._file is not None:
            self._file.write(frame.jpeg)
            self._file.flush()
        if self._folder is not None:
            name = f"frame-{self._next_number:06d}.jpg"
            with atomic_file(Destination(self._folder, name)) as fh:
                fh.write(frame.jpeg)
            self._next_number += 1


def _settle(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)


# -- helpers -------------------------------------------------------------------------------------


async def _first_of(waits: list[Awaitable[object]]) -> int:
    """Wait for the first of ``waits`` to finish; cancel the others; its index."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    for index, task in enumerate(tasks):
        if task in done:
            return index
    return 0  # pragma: no cover


@contextlib.contextmanager
def _signals(stopped: asyncio.Event, *, enabled: bool) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the command cleanly (the camera leaves live view) instead
    of interrupting it; only for a single command in the main thread."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if enabled and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stopped.set)
                installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
