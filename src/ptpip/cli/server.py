"""Server mode (``-s``): newline-terminated commands over TCP and a Unix socket.

Who may talk to it:

- TCP (127.0.0.1:15740 unless ``-sa``/``-sp``): the first line must be ``auth TOKEN``, with
  the secret the server makes at every start and writes, readable by this user only, to
  ``$XDG_RUNTIME_DIR/ptpip/server-PORT.token`` (see :mod:`ptpip.cli.remote`). ``--no-auth``
  (or ``[server] auth = false``) drops that, for the seed's ``printf 'get iso\\n' | nc``.
- The Unix socket ``server-PORT.sock`` beside the token (mode 0600 in a 0700 directory): the
  file permissions are the authentication, no auth line.
- A line that is not a command (or looks like HTTP: a web page's request to 127.0.0.1) is
  answered with one ``error:`` line and ends the connection; nothing after it runs.

Each connection has a reader (the protocol, buffering at most a few lines: TCP backpressure)
and an executor running its lines in order. Connections run side by side: the camera
connection serialises the transactions. A command whose client went away (the connection was
lost, not merely half-closed) is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import select
import signal
import socket
import stat
from pathlib import Path
from typing import TextIO

from ptpip.cli.commands import CommandError, find_command, run_command
from ptpip.cli.context import Context
from ptpip.cli.remote import (
    MAX_SOCKET_PATH,
    RuntimeDirError,
    check_runtime_dir,
    socket_path,
    token_path,
)
from ptpip.cli.render import to_json
from ptpip.cli.settings import Settings
from ptpip.errors import ExitStatus, PtpError

__all__ = ["AUTH_SECONDS", "MAX_CLIENTS", "MAX_LINE", "preflight", "serve"]

log = logging.getLogger("ptpip.cli")

#: A command line longer than this is refused (and the connection closed).
MAX_LINE = 64 * 1024
#: Connections at the same time that may run commands; one more is told so and closed.
#: TCP connections that have not authenticated yet have as many places of their own.
MAX_CLIENTS = 16
#: Seconds a TCP connection has to send its ``auth`` line.
AUTH_SECONDS = 10.0
#: Output a client has not read yet beyond which it counts as gone.
MAX_BACKLOG = 8 * 1024 * 1024
#: Reading pauses while this much input waits (TCP backpressure on a pipelining client).
_PAUSE_AT = 2 * MAX_LINE
#: After refusing a connection: how long to wait for the client to finish sending (what it
#: sends is discarded), so that closing does not reset the connection before the error line.
_LINGER_SECONDS = 2.0
_MAX_LINGERING = 32
#: While a command runs for a half-closed connection: how often to look for the peer.
_PEER_CHECK_SECONDS = 0.5
#: A request line ("POST / HTTP/1.1") or a header ("Host: ..."): never a command.
_HTTP = re.compile(r"\bHTTP/\d", re.IGNORECASE | re.ASCII)


class _LineTooLong(Exception):
    pass


class _Server:
    """What the connections share."""

    def __init__(self, ctx: Context, token: str | None) -> None:
        self.ctx = ctx
        self.token = token
        #: connections that may run commands (Unix socket, authenticated or --no-auth TCP)
        self.clients: set[_Client] = set()
        #: TCP connections that have not authenticated yet: a pool of their own, so that
        #: strangers knocking cannot take the places of those who may run commands
        self.pending: set[_Client] = set()
        self.lingering = 0
        self.closing = False
        self.done = asyncio.Event()

    def say(self, text: str) -> None:
        self.ctx.stderr.write(f"[Local server] {text}\n")
        self.ctx.stderr.flush()


class _Client(asyncio.Protocol):
    """One connection: the protocol buffers lines; an executor task runs them in order."""

    def __init__(self, server: _Server, *, authenticate: bool) -> None:
        self.server = server
        self.authenticate = authenticate
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost = False
        self.reading_paused = False
        self.discarding = False
        self.lingering = False
        self.executor: asyncio.Task[None] | None = None
        self.running: asyncio.Task[str] | None = None
        self.running_line = ""
        self._wakeup: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._peer_check: asyncio.TimerHandle | None = None
        self.ctx = Context(server.ctx.camera, server.ctx.settings, stderr=server.ctx.stderr)
        self.ctx.emit = self.write_text

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        pool = self.server.pending if self.authenticate else self.server.clients
        if self.server.closing or len(pool) >= MAX_CLIENTS:
            self.refuse("error: too many connections")
            return
        pool.add(self)
        self.executor = self.loop.create_task(self._run())

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        self.buffer += data
        if len(self.buffer) >= _PAUSE_AT and not self.reading_paused and self.transport:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        if self.running is not None:
            self._watch_peer()
        # Half-closed: the client still wants its answers (unless it was refused: then close).
        return not self.discarding

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.clients.discard(self)
        self.server.pending.discard(self)
        if self.lingering:
            self.server.lingering -= 1
            self.lingering = False
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self._peer_check is not None:
            self._peer_check.cancel()
            self._peer_check = None
        running = self.running
        if running is not None and not running.done():
            running.cancel()
            if not self.server.closing:
                self.server.say(f"client went away; cancelled {_shown(self.running_line)}")

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # -- output ----------------------------------------------------------------------------------

    def write_text(self, text: str) -> None:
        t = self.transport
        if not text or self.lost or self.discarding or t is None or t.is_closing():
            return
        t.write(text.encode("utf-8", "replace"))
        if t.get_write_buffer_size() > MAX_BACKLOG:
            self.server.say("a client does not read its output; closing its connection")
            t.abort()

    def _watch_peer(self) -> None:
        """While a command runs for a half-closed connection, look now and then whether the
        peer is gone: nothing reads from the socket any more, so only a look at it tells
        (a Unix socket says so at once; a TCP peer that closed completely answers the next
        write with a reset)."""
        if self._peer_check is None and not self.lost:
            self._peer_check = self.loop.call_later(_PEER_CHECK_SECONDS, self._check_peer)

    def _check_peer(self) -> None:
        self._peer_check = None
        t = self.transport
        sock = t.get_extra_info("socket") if t is not None else None
        if self.lost or t is None or sock is None:
            return
        try:
            poller = select.poll()
            poller.register(sock.fileno(), 0)  # POLLHUP and POLLERR are always reported
            events = poller.poll(0)
        except (OSError, ValueError):
            return
        if any(ev & (select.POLLHUP | select.POLLERR) for _, ev in events):
            t.abort()  # connection_lost cancels the command
        elif self.running is not None and not self.running.done():
            self._watch_peer()

    async def _drain(self) -> None:
        if self._writable is not None and not self._writable.done():
            await self._writable

    def refuse(self, message: str) -> None:
        """Answer one error line and close: after the line comes FIN, and what the client
        still sends is discarded for a moment, so that the line is not lost to a reset."""
        t = self.transport
        if t is None or t.is_closing() or self.discarding:
            return
        self.discarding = True
        self.buffer.clear()
        t.write(message.encode("utf-8", "replace") + b"\n")
        if self.reading_paused:
            t.resume_reading()
            self.reading_paused = False
        if (
            self.eof
            or self.lost
            or self.server.lingering >= _MAX_LINGERING
            or not t.can_write_eof()
        ):
            t.close()
            return
        t.write_eof()
        self.lingering = True
        self.server.lingering += 1
        self.loop.call_later(_LINGER_SECONDS, t.abort)

    # -- input -------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _next_line(self) -> bytes | None:
        """The next line (without its newline); None at the end of the input."""
        while True:  # ends: a line, the end of input, or a line over the limit
            newline = self.buffer.find(b"\n", 0, MAX_LINE + 1)
            if newline >= 0:
                line = bytes(self.buffer[:newline])
                del self.buffer[: newline + 1]
                return line
            if len(self.buffer) > MAX_LINE:
                raise _LineTooLong
            if self.lost or self.eof:
                line = bytes(self.buffer)
                self.buffer.clear()
                return line or None  # a last line without its newline still runs
            if self.reading_paused and self.transport is not None:
                self.transport.resume_reading()
                self.reading_paused = False
            self._wakeup = self.loop.create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None

    # -- the executor ----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            if self.authenticate and not await self._authenticated():
                return
            first = not self.authenticate
            while True:  # ends: end of input, the client gone, a refused line
                raw = await self._next_line()
                if raw is None or self.lost:
                    return
                text = raw.decode("utf-8", "replace").strip()
                if not text:
                    continue
                if first and text.split()[0] == "auth":
                    first = False
                    if not self._check_auth(text):
                        return
                    continue
                first = False
                problem = _not_a_command(text)
                if problem is not None:
                    self.refuse(f"error: {problem}")
                    return
                log.info("[Local server] message received: %r", text)
                if not await self._execute(text):
                    return
                if not self.server.ctx.camera.connection.is_open:
                    self.write_text("error: the camera disconnected\n")
                    self.server.done.set()
                    return
        except _LineTooLong:
            self.refuse(f"error: command line too long (limit {MAX_LINE} bytes)")
        except Exception as exc:  # a bug: keep the server, tell the client and the log
            self.server.say(f"internal error: {type(exc).__name__}: {exc}")
            self.refuse("error: internal error in the server")
        finally:
            t = self.transport
            if not self.discarding and t is not None and not t.is_closing():
                t.close()

    async def _authenticated(self) -> bool:
        try:
            async with asyncio.timeout(AUTH_SECONDS):
                raw = await self._next_line()
        except TimeoutError:
            self.refuse(f"error: authentication timed out ({AUTH_SECONDS:g} s)")
            return False
        if raw is None:
            return False
        return self._check_auth(raw.decode("utf-8", "replace").strip())

    def _check_auth(self, text: str) -> bool:
        words = text.split()
        if len(words) != 2 or words[0] != "auth":
            self.refuse(
                "error: authentication required: the first line must be 'auth TOKEN'"
                " (see `ptpip send -?`)"
            )
            return False
        token = self.server.token
        given = words[1].encode("utf-8", "replace")
        if token is not None and not hmac.compare_digest(given, token.encode()):
            self.server.say("refused a connection: wrong token")
            self.refuse("error: authentication failed")
            return False
        if self in self.server.pending:
            self.server.pending.discard(self)
            if len(self.server.clients) >= MAX_CLIENTS:
                self.refuse("error: too many connections")
                return False
            self.server.clients.add(self)
        self.write_text("ok\n")
        return True

    async def _execute(self, text: str) -> bool:
        """Run one command and send its reply; False when the client went away meanwhile."""
        task = self.loop.create_task(_execute(self.ctx, text))
        self.running, self.running_line = task, text
        if self.eof:
            self._watch_peer()
        try:
            reply = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the server is stopping
            return False  # cancelled in connection_lost: the client went away
        finally:
            self.running = None
        self.write_text(reply)
        await self._drain()
        return not self.lost

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _shown(line: str) -> str:
    return repr(line if len(line) <= 60 else line[:60] + " …")


def _not_a_command(text: str) -> str | None:
    """Why ``text`` is refused, or None for a command line."""
    first = text.split(maxsplit=1)[0]
    if _HTTP.search(text) or first.endswith(":"):
        return "this is the ptpip command server, not a web server"
    if find_command(first) is None:
        return f"unknown command {first[:40]!r}: try `help`"
    return None


async def _execute(ctx: Context, line: str) -> str:
    try:
        out = await run_command(ctx, line)
    except CommandError as exc:
        usage = f"\n{exc.usage}" if exc.usage else ""
        return f"error: {exc}{usage}\n"
    except PtpError as exc:
        return f"error: {exc}\n"
    except OSError as exc:  # a file a command writes (download --to, capture PATH)
        where = f": {exc.filename}" if exc.filename else ""
        return f"error: {exc.strerror or exc}{where}\n"
    if ctx.json_output:
        return to_json(out.data, pretty=ctx.pretty) if out.data is not None else ""
    return out.text


# -- the listeners and their files ------------------------------------------------------------


class _Files:
    """The socket and token files this server made, removed at exit if still its own."""

    def __init__(self) -> None:
        self.made: list[tuple[Path, int, int]] = []

    def add(self, path: Path) -> None:
        st = os.lstat(path)
        self.made.append((path, st.st_dev, st.st_ino))

    def remove(self) -> None:
        for path, dev, ino in self.made:
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) == (dev, ino):
                    os.unlink(path)
        self.made.clear()


def _remove_stale(path: Path) -> None:
    """Remove a file left by an earlier server of ours; refuse one of someone else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if st.st_uid != os.getuid():
        raise RuntimeDirError(f"{path} belongs to another user (uid {st.st_uid})")
    os.unlink(path)


def _in_use(path: Path) -> bool:
    """Whether a server answers on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(os.fspath(path))
        except OSError:
            return False
    return True


def _unix_listener(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600, checked before it takes connections."""
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(OSError):
            os.fchmod(sock.fileno(), 0o600)  # Linux: bind() creates the file with this mode
        old = os.umask(0o177)
        try:
            sock.bind(os.fspath(path))
        finally:
            os.umask(old)
        st = os.lstat(path)
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid() or mode & 0o077:
            raise RuntimeDirError(f"{path} was created with mode {mode:04o}: not private")
        sock.listen(MAX_CLIENTS)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _write_token(path: Path, token: str) -> None:
    _remove_stale(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        st = os.fstat(fd)
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise RuntimeDirError(f"{path} is not private")
        data = (token + "\n").encode()
        while data:  # ends: all written (a write of zero bytes raises below)
            written = os.write(fd, data)
            if written <= 0:
                raise OSError(f"cannot write {path}")
            data = data[written:]
    finally:
        os.close(fd)


def preflight(s: Settings, err: TextIO) -> int | None:
    """What can be checked before connecting to the camera: the exit code on a problem."""
    where = _prepare(s, err)
    return where if isinstance(where, int) else None


def _prepare(s: Settings, err: TextIO) -> tuple[Path, Path] | int:
    """The socket and token paths, or an exit code after saying what is wrong."""
    try:
        ipaddress.ip_address(s.server_address)
    except ValueError:
        err.write(f"ptpip: invalid IP address {s.server_address!r} for -sa\n")
        return ExitStatus.USAGE
    port = s.server_port
    try:
        directory = check_runtime_dir(create=True)
    except RuntimeDirError as exc:
        err.write(f"ptpip: cannot start the server: {exc}\n")
        return ExitStatus.ERROR
    sock_file, token_file = socket_path(port, directory), token_path(port, directory)
    if len(os.fsencode(sock_file)) > MAX_SOCKET_PATH:
        err.write(
            f"ptpip: cannot start the server: the socket path {sock_file} is too long"
            " (set XDG_RUNTIME_DIR to a shorter directory)\n"
        )
        return ExitStatus.ERROR
    if _in_use(sock_file):
        err.write(f"ptpip: another ptpip server for port {port} runs (its socket: {sock_file})\n")
        return ExitStatus.ERROR
    return sock_file, token_file


async def serve(ctx: Context) -> int:
    import ptpip.cli.files  # noqa: F401  (registers capture, ls, download, watch)

    s = ctx.settings
    err = ctx.stderr
    where = _prepare(s, err)
    if isinstance(where, int):
        return where
    sock_file, token_file = where
    port = s.server_port
    if not ipaddress.ip_address(s.server_address).is_loopback:
        err.write(
            f"warning: listening on {s.server_address}: anyone who can reach this port can"
            " control the camera\n"
        )
    server = _Server(ctx, secrets.token_urlsafe(32) if s.server_auth else None)
    loop = asyncio.get_running_loop()
    try:
        tcp = await loop.create_server(
            lambda: _Client(server, authenticate=s.server_auth), s.server_address, port
        )
    except OSError as exc:
        err.write(f"ptpip: cannot listen on {s.server_address}:{port}: {exc}\n")
        return ExitStatus.ERROR
    files = _Files()
    try:
        unix_sock = _unix_listener(sock_file)
        files.add(sock_file)
        unix = await loop.create_unix_server(
            lambda: _Client(server, authenticate=False), sock=unix_sock
        )
        if server.token is not None:
            _write_token(token_file, server.token)
            files.add(token_file)
    except (OSError, RuntimeDirError) as exc:
        tcp.close()
        files.remove()
        err.write(f"ptpip: cannot start the server: {exc}\n")
        return ExitStatus.ERROR
    try:
        # the handlers first: whoever waits for the "listening" line may signal right after it
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, server.done.set)
        _announce(server, s.server_address, port, sock_file, token_file)
        watcher = asyncio.create_task(_watch_camera(ctx, server.done))
        await server.done.wait()
        watcher.cancel()
    finally:
        server.closing = True
        tcp.close()
        unix.close()
        files.remove()
        await _close_clients(server)
    err.write("Bye bye!\n")
    return ExitStatus.OK if ctx.camera.connection.is_open else ExitStatus.CONNECT


def _announce(server: _Server, address: str, port: int, sock_file: Path, token: Path) -> None:
    host = f"[{address}]" if ":" in address else address
    server.say(f"listening on {host}:{port}...")
    if server.token is None:
        server.ctx.stderr.write(
            "warning: the server runs WITHOUT authentication (--no-auth): any program on this"
            " machine can control the camera\n"
        )
    server.say(f"listening on {sock_file} (this user only, no auth line)")
    send = "ptpip send" + ("" if port == 15740 else f" -sp {port}")
    if server.token is not None:
        server.say(
            f"TCP clients send 'auth TOKEN' first; the token (new at every start) is in {token}"
        )
        server.say(f"send commands with: {send} get iso   (`ptpip send -?` shows nc usage)")
    else:
        server.say(
            f"send commands with: {send} get iso   or: printf 'get iso\\n' | nc -N {host} {port}"
        )
    server.say("awaiting messages... (CTRL+C to quit)")


async def _close_clients(server: _Server) -> None:
    everyone = [*server.clients, *server.pending]
    tasks = [c.executor for c in everyone if c.executor is not None]
    for client in everyone:
        client.abort()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)


async def _watch_camera(ctx: Context, done: asyncio.Event) -> None:
    while ctx.camera.connection.is_open:
        await asyncio.sleep(0.5)
    ctx.stderr.write("ptpip: the camera closed the connection\n")
    ctx.stderr.flush()
    done.set()
