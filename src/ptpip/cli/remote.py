"""``ptpip send``: one command to a running command server (``ptpip -s``), and where servers
keep their Unix socket and token.

A server started with ``-sp PORT`` listens on TCP (127.0.0.1:PORT) and on the Unix socket
``$XDG_RUNTIME_DIR/ptpip/server-PORT.sock`` (``/tmp/ptpip-UID/`` without XDG_RUNTIME_DIR), in
a directory only this user may enter. Over the socket no authentication is needed; over TCP
the first line must be ``auth TOKEN`` with the token from ``server-PORT.token`` beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import os
import socket
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from ptpip.cli.settings import DEFAULT_SERVER_ADDRESS, DEFAULT_SERVER_PORT, parse_port
from ptpip.errors import ExitStatus

__all__ = [
    "RuntimeDirError",
    "check_runtime_dir",
    "main",
    "runtime_dir",
    "socket_path",
    "token_path",
]

#: The server refuses longer command lines; so does ``send``, before connecting.
MAX_LINE = 64 * 1024
#: Seconds to wait for a connection to the server.
CONNECT_SECONDS = 5.0
#: The longest path a Unix socket may have (sun_path holds 108 bytes with the NUL).
MAX_SOCKET_PATH = 107


class RuntimeDirError(Exception):
    """The directory for the server's socket and token is missing or not safe to use."""


def runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/ptpip``, or ``/tmp/ptpip-UID`` when XDG_RUNTIME_DIR is not set."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if base and os.path.isabs(base):
        return Path(base) / "ptpip"
    return Path("/tmp") / f"ptpip-{os.getuid()}"


def socket_path(port: int, directory: Path | None = None) -> Path:
    return (directory or runtime_dir()) / f"server-{port}.sock"


def token_path(port: int, directory: Path | None = None) -> Path:
    return (directory or runtime_dir()) / f"server-{port}.token"


def check_runtime_dir(*, create: bool) -> Path:
    """The runtime directory, made (mode 0700) if ``create``; raises RuntimeDirError unless it
    is a real directory (not a link) owned by this user that nobody else may enter."""
    path = runtime_dir()
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise RuntimeDirError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise RuntimeDirError(f"{path} does not exist") from None
    except OSError as exc:
        raise RuntimeDirError(f"cannot use {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError(f"{path} is not a directory (a link or a file): remove it")
    if st.st_uid != os.getuid():
        raise RuntimeDirError(
            f"{path} belongs to another user (uid {st.st_uid}): refusing to use it"
        )
    if st.st_mode & 0o077:
        raise RuntimeDirError(
            f"{path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o}):"
            f" run `chmod 700 {path}`"
        )
    return path


# -- ptpip send -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Usage(message)


class _Usage(Exception):
    pass


class _Unreachable(Exception):
    pass


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ptpip send", add_help=False, allow_abbrev=False)
    add = p.add_argument
    add("-?", "--help", dest="help", action="store_true")
    add("-sa", "--server-address", dest="address", default=DEFAULT_SERVER_ADDRESS)
    add("-sp", "--server-port", dest="port", type=_port, default=DEFAULT_SERVER_PORT)
    add("--json", dest="json", action="store_true")
    add("--pretty", dest="pretty", action="store_true")
    add("words", nargs=argparse.REMAINDER)
    return p


def _port(text: str) -> int:
    return parse_port(text)


def usage() -> str:
    sock = socket_path(DEFAULT_SERVER_PORT)
    token = token_path(DEFAULT_SERVER_PORT)
    tcp = f"nc -N 127.0.0.1 {DEFAULT_SERVER_PORT}"
    return f"""Usage: ptpip send [-sa ADDR] [-sp PORT] [--json|--pretty] COMMAND [ARGS...]

Sends one command to a running ptpip server (`ptpip -h CAMERA -s`) and prints its reply.
It uses the server's Unix socket when there is one (only this user can open it), else TCP
with the server's token (a new secret at every start, readable by this user only).

  -sa ADDR, --server-address ADDR   the server's TCP address (default {DEFAULT_SERVER_ADDRESS})
  -sp PORT, --server-port PORT      the server's port (default {DEFAULT_SERVER_PORT})
  --json, --pretty                  JSON output (as `COMMAND ... json` / `... pretty`)

Examples:
  ptpip send get iso
  ptpip send -sp 15741 capture 2 /tmp/shot.jpg
  ptpip send watch --count 5

Exit codes: 0 ok, 2 invalid arguments, 3 the server answered with an error,
  105 no server reachable (not running, or no socket and no token for that port).

Without ptpip (OpenBSD netcat; the paths are this user's, for port {DEFAULT_SERVER_PORT}):
  printf 'get iso\\n' | nc -N -U {sock}
  nc -U {sock}
      (a session: type commands, Ctrl-D ends it)
  {{ printf 'auth %s\\n' "$(cat {token})"; printf 'get iso\\n'; }} | {tcp}
Over TCP the server first answers `ok` to the auth line. A server started with --no-auth
takes plain lines on TCP, as the seed did: printf 'get iso\\n' | {tcp}
A line that is not a command (or looks like HTTP) ends the connection.
"""


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: the connection closes, the server cancels the command
        sys.stderr.write("interrupted\n")
        return 130


def _main(argv: list[str]) -> int:
    try:
        ns = _build_parser().parse_args(argv)
    except _Usage as exc:
        sys.stderr.write(f"ptpip send: {exc}\nRun `ptpip send -?` for usage.\n")
        return ExitStatus.USAGE
    if ns.help:
        sys.stdout.write(usage())
        return ExitStatus.OK
    words = [w for w in ns.words if w != "--"]
    try:
        line = _command_line(words, json=ns.json, pretty=ns.pretty)
        ipaddress.ip_address(ns.address)
    except _Usage as exc:
        sys.stderr.write(f"ptpip send: {exc}\n")
        return ExitStatus.USAGE
    except ValueError:
        sys.stderr.write(f"ptpip send: invalid IP address {ns.address!r} for -sa\n")
        return ExitStatus.USAGE
    try:
        sock, token = _connect(ns.address, ns.port)
    except _Unreachable as exc:
        sys.stderr.write(f"ptpip send: {exc}\n")
        return ExitStatus.CONNECT
    try:
        with sock:
            return _exchange(sock, token, line, ns.address, ns.port)
    except _Unreachable as exc:
        sys.stderr.write(f"ptpip send: {exc}\n")
        return ExitStatus.CONNECT


def _command_line(words: list[str], *, json: bool, pretty: bool) -> str:
    if not words:
        raise _Usage("give a command, e.g. `ptpip send get iso` (`ptpip send -?` for usage)")
    if any(c in w for w in words for c in "\r\n"):
        raise _Usage("a command is one line: no line breaks in its words")
    if json or pretty:
        import ptpip.cli.files  # noqa: F401  (registers the file commands)
        from ptpip.cli.commands import find_command

        cmd = find_command(words[0])
        if cmd is not None and not cmd.json_words:
            raise _Usage(f"{cmd.name} has no JSON form here; start the server with --json")
        words = [*words, "pretty" if pretty else "json"]
    line = " ".join(words)
    if len(line.encode("utf-8", "surrogateescape")) > MAX_LINE:
        raise _Usage(f"the command is longer than the server takes ({MAX_LINE} bytes)")
    return line


def _connect(address: str, port: int) -> tuple[socket.socket, str | None]:
    """A connection to the server for ``port``: its Unix socket, else TCP (with the token)."""
    try:
        directory = check_runtime_dir(create=False)
    except RuntimeDirError as exc:
        raise _Unreachable(f"no ptpip server found for port {port}: {exc}") from None
    sock_file = socket_path(port, directory)
    if len(os.fsencode(sock_file)) <= MAX_SOCKET_PATH:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(sock_file).st_mode):
                unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                unix.settimeout(CONNECT_SECONDS)
                try:
                    unix.connect(os.fspath(sock_file))
                except OSError:
                    unix.close()  # a stale socket file: try TCP
                else:
                    unix.settimeout(None)
                    return unix, None
    token_file = token_path(port, directory)
    try:
        token = _read_token(token_file)
    except FileNotFoundError:
        raise _Unreachable(
            f"no ptpip server found for port {port}: neither {sock_file} nor {token_file}"
            f" exists (start one with `ptpip -h CAMERA -s -sp {port}`)"
        ) from None
    except OSError as exc:
        raise _Unreachable(f"cannot read the token {token_file}: {exc.strerror or exc}") from None
    try:
        tcp = socket.create_connection((address, port), timeout=CONNECT_SECONDS)
    except OSError as exc:
        why = "connection refused" if exc.errno == errno.ECONNREFUSED else str(exc)
        raise _Unreachable(f"cannot reach the server at {address}:{port}: {why}") from None
    tcp.settimeout(None)
    return tcp, token


def _read_token(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_uid != os.getuid() or st.st_mode & 0o077 or not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a private file of this user")
        return fh.read(256).decode("ascii", "replace").strip()


def _exchange(sock: socket.socket, token: str | None, line: str, address: str, port: int) -> int:
    payload = (f"auth {token}\n" if token is not None else "") + line + "\n"
    try:
        sock.sendall(payload.encode("utf-8", "surrogateescape"))
        sock.shutdown(socket.SHUT_WR)  # one command: the server answers, then closes
    except OSError as exc:
        raise _Unreachable(f"the server at port {port} closed the connection: {exc}") from None
    rest = b""
    if token is not None:
        first, rest = _first_line(sock, 1024)
        if first != b"ok":
            said = first.decode("utf-8", "replace").strip() or "nothing"
            raise _Unreachable(
                f"the server at {address}:{port} refused the token in {token_path(port)}"
                f" (it said: {said[:200]})"
            )
    return _copy_reply(sock, sys.stdout.buffer, rest)


def _first_line(sock: socket.socket, limit: int) -> tuple[bytes, bytes]:
    """The first line (without its newline) and what came after it in the same reads."""
    data = b""
    while b"\n" not in data and len(data) < limit:  # ends: a line, EOF, or the limit
        try:
            chunk = sock.recv(limit)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


def _copy_reply(sock: socket.socket, out: BinaryIO, first: bytes = b"") -> int:
    """Stream the reply to ``out`` as it comes; 3 when a line of it is an ``error:`` line."""
    failed = False
    head = b""  # the start of the current line, enough to recognise "error: "
    chunk = first
    while True:  # ends: the server closes the connection (after the reply)
        if not chunk:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
        try:
            out.write(chunk)
            out.flush()
        except BrokenPipeError:  # `ptpip send watch | head -1`: stop, the server cancels
            with contextlib.suppress(OSError):  # nothing left to flush at exit
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            return ExitStatus.OK
        *done, rest = chunk.split(b"\n")
        for part in done:
            failed = failed or (head + part).startswith(b"error: ")
            head = b""
        head = (head + rest)[:8]
        chunk = b""
    if head.startswith(b"error: "):
        failed = True
    return ExitStatus.COMMAND_FAILED if failed else ExitStatus.OK
