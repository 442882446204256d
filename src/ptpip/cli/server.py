"""Server mode (``-s``): a local TCP socket taking newline-terminated commands.

Several commands per connection, answered in order; the connection closes when the client
closes its side. Binds 127.0.0.1 unless ``-sa`` says otherwise, and then warns, because anyone
who can reach the port controls the camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys

from ptpip.cli.commands import CommandError, run_command
from ptpip.cli.context import Context
from ptpip.cli.render import to_json
from ptpip.errors import ExitStatus, PtpError

__all__ = ["serve"]

log = logging.getLogger("ptpip.cli")

#: A command line longer than this is refused (and the connection closed).
MAX_LINE = 64 * 1024


async def serve(ctx: Context) -> int:
    import ptpip.cli.files  # noqa: F401  (registers capture, ls, download, watch)

    s = ctx.settings
    try:
        loopback = ipaddress.ip_address(s.server_address).is_loopback
    except ValueError:
        sys.stderr.write(f"ptpip: invalid IP address {s.server_address!r} for -sa\n")
        return ExitStatus.USAGE
    if not loopback:
        sys.stderr.write(
            f"warning: listening on {s.server_address}: anyone who can reach this port can"
            " control the camera\n"
        )
    lock = asyncio.Lock()
    done = asyncio.Event()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn_ctx = Context(ctx.camera, s, stderr=ctx.stderr)

        def emit(text: str) -> None:
            writer.write(text.encode())

        conn_ctx.emit = emit
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    raw = exc.partial  # a last line without its newline still runs
                    if not raw.strip():
                        break
                except asyncio.LimitOverrunError:
                    writer.write(b"error: command line too long\n")
                    break
                line = raw.decode("utf-8", errors="replace").strip()
                if not line:
                    continue
                log.info("[Local server] message received: %r", line)
                async with lock:
                    reply = await _execute(conn_ctx, line)
                writer.write(reply.encode())
                await writer.drain()
                if not raw.endswith(b"\n"):
                    break
                if not ctx.camera.connection.is_open:
                    writer.write(b"error: the camera disconnected\n")
                    done.set()
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()
                await writer.wait_closed()

    try:
        server = await asyncio.start_server(client, s.server_address, s.server_port, limit=MAX_LINE)
    except OSError as exc:
        sys.stderr.write(f"ptpip: cannot listen on {s.server_address}:{s.server_port}: {exc}\n")
        return ExitStatus.ERROR
    # the handlers first: whoever waits for the "listening" line may signal right after it
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    port = server.sockets[0].getsockname()[1]
    sys.stderr.write(f"[Local server] listening on {s.server_address}:{port}...\n")
    sys.stderr.write("[Local server] awaiting messages... (CTRL+C to quit)\n")
    sys.stderr.flush()
    async with server:
        watcher = asyncio.create_task(_watch_camera(ctx, done))
        await done.wait()
        watcher.cancel()
    sys.stderr.write("Bye bye!\n")
    return ExitStatus.OK if ctx.camera.connection.is_open else ExitStatus.CONNECT


async def _watch_camera(ctx: Context, done: asyncio.Event) -> None:
    while ctx.camera.connection.is_open:
        await asyncio.sleep(0.5)
    sys.stderr.write("ptpip: the camera closed the connection\n")
    done.set()


async def _execute(ctx: Context, line: str) -> str:
    try:
        out = await run_command(ctx, line)
    except CommandError as exc:
        usage = f"\n{exc.usage}" if exc.usage else ""
        return f"error: {exc}{usage}\n"
    except PtpError as exc:
        return f"error: {exc}\n"
    if ctx.json_output:
        return to_json(out.data, pretty=ctx.pretty) if out.data is not None else ""
    return out.text
