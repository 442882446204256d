"""The command server's defences, with real bytes on real sockets.

- A web page (``fetch`` POST, text/plain, to 127.0.0.1:15740) gets nothing run: its first
  line is an HTTP request line, so the connection ends before the body is read as commands.
- Another local user needs the token (TCP) or this user's permissions (Unix socket).
- One client cannot block the others, and a command whose client went away is cancelled.
- Lines, connections and unread input are bounded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, WAIT, Spy, free_port, spy, unavailable, wait_until
from tests.cli.test_server import (
    ServerCli,
    Srv,
    ask,
    exchange,
    exchange_unix,
    fresh_cli,
    read_all,
    runtime,
    start_server,
    stop,
)

__all__ = ["fresh_cli", "runtime"]  # the fixtures, imported for this module

DELETE_ALL = b"opreq 0x100B 0xFFFFFFFF\n"  # DeleteObject(all): what an attacker wants
LIMIT_REPLY = b"error: command line too long (limit 65536 bytes)\n"


def browser_post(body: bytes) -> bytes:
    """What ``fetch('http://127.0.0.1:15740/', {method: 'POST', body})`` sends."""
    return (
        b"POST / HTTP/1.1\r\n"
        b"Host: 127.0.0.1:15740\r\n"
        b"Origin: http://attacker.example\r\n"
        b"Content-Type: text/plain;charset=UTF-8\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"\r\n" + body
    )


def handles(camera: RunningCamera) -> list[int]:
    return sorted(camera.personality.store.handles())  # type: ignore[attr-defined]


def nothing_ran(seen: Spy, camera: RunningCamera, before: list[int]) -> None:
    time.sleep(0.3)  # anything the server might still run would have reached the camera
    assert seen.requests == []
    assert handles(camera) == before


# -- a web page ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["default", "--no-auth"])
@pytest.mark.parametrize("body", [DELETE_ALL, b"capture\n", DELETE_ALL + b"capture 3\n"])
def test_a_web_page_post_runs_nothing(
    fresh_cli: ServerCli, camera: RunningCamera, mode: str, body: bytes
) -> None:
    srv = start_server(fresh_cli, *([mode] if mode != "default" else []))
    before = handles(camera)
    assert len(before) >= 4
    with spy(camera) as seen:
        reply = exchange(srv.port, browser_post(body))
        nothing_ran(seen, camera, before)
    lines = reply.splitlines()
    assert len(lines) == 1 and lines[0].startswith(b"error: "), reply
    # the server goes on for those who may use it
    assert exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"
    stop(srv)


@pytest.mark.parametrize(
    "request_line",
    [b"GET / HTTP/1.1", b"get / HTTP/1.0", b"OPTIONS * HTTP/1.1", b"Host: 127.0.0.1:15740"],
)
def test_http_lines_are_never_commands(
    fresh_cli: ServerCli, camera: RunningCamera, request_line: bytes
) -> None:
    srv = start_server(fresh_cli, "--no-auth")
    before = handles(camera)
    with spy(camera) as seen:
        reply = exchange(srv.port, request_line + b"\r\n\r\n" + DELETE_ALL)
        nothing_ran(seen, camera, before)
    assert reply == b"error: this is the ptpip command server, not a web server\n"
    stop(srv)


def test_the_unix_socket_refuses_http_too(fresh_cli: ServerCli, camera: RunningCamera) -> None:
    srv = start_server(fresh_cli)
    before = handles(camera)
    with spy(camera) as seen:
        reply = exchange_unix(srv.sock, browser_post(DELETE_ALL))
        nothing_ran(seen, camera, before)
    assert reply.startswith(b"error: ")
    stop(srv)


def test_an_http_line_later_ends_the_connection(
    fresh_cli: ServerCli, camera: RunningCamera
) -> None:
    srv = start_server(fresh_cli)
    reply = ask(srv, b"get iso\nPOST / HTTP/1.1\nset iso 400\n" + DELETE_ALL)
    assert reply == b"100 (0x64)\nerror: this is the ptpip command server, not a web server\n"
    assert ask(srv, b"get iso\n") == b"100 (0x64)\n"  # set iso 400 never ran
    assert len(handles(camera)) >= 4
    stop(srv)


# -- another local user: the token -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "answer"),
    [
        (b"auth wrong-token\n", b"error: authentication failed\n"),
        (b"auth \n", b"error: authentication required"),
        (b"opreq 0x100B 0xFFFFFFFF\n", b"error: authentication required"),
        (b"\n", b"error: authentication required"),
    ],
)
def test_without_the_token_nothing_runs(
    fresh_cli: ServerCli, camera: RunningCamera, first: bytes, answer: bytes
) -> None:
    srv = start_server(fresh_cli)
    before = handles(camera)
    with spy(camera) as seen:
        reply = exchange(srv.port, first + DELETE_ALL + b"capture\n")
        nothing_ran(seen, camera, before)
    assert reply.startswith(answer), reply
    assert len(reply.splitlines()) == 1
    stop(srv)


def test_a_wrong_token_is_logged(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    token = srv.token()
    wrong = ("A" if token[0] != "A" else "B") + token[1:]
    assert exchange(srv.port, f"auth {wrong}\nget iso\n".encode()) == (
        b"error: authentication failed\n"
    )
    srv.proc.err.wait_for(r"\[Local server\] refused a connection: wrong token")
    stop(srv)


def test_the_token_is_new_at_every_start(fresh_cli: ServerCli) -> None:
    tokens = []
    for _ in range(2):
        srv = start_server(fresh_cli)
        tokens.append(srv.token())
        stop(srv)
    assert tokens[0] != tokens[1]


def test_an_unauthenticated_connection_is_closed_after_10_s(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    with socket.create_connection((LOOPBACK, srv.port), timeout=WAIT) as sock:
        started = time.monotonic()
        sock.sendall(b"auth ")  # the start of a line, never finished
        reply = read_all(sock)
        elapsed = time.monotonic() - started
    assert reply == b"error: authentication timed out (10 s)\n"
    assert 9.0 < elapsed < 14.0, elapsed
    stop(srv)


def test_the_socket_and_its_directory_are_private(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    assert stat.S_IMODE(srv.dir.lstat().st_mode) == 0o700
    assert srv.dir.lstat().st_uid == os.getuid()
    st = srv.sock.lstat()
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(srv.token_file.lstat().st_mode) == 0o600
    stop(srv)


def test_a_runtime_directory_open_to_others_is_refused(fresh_cli: ServerCli) -> None:
    assert fresh_cli.runtime is not None
    folder = fresh_cli.runtime / "ptpip"
    folder.mkdir()
    folder.chmod(0o755)
    run = fresh_cli("-s", "-sp", str(free_port()))
    assert run.returncode == 1, str(run)
    assert f"{folder} is open to other users (mode 0755): run `chmod 700 {folder}`" in run.stderr
    assert list(folder.iterdir()) == []


def test_a_runtime_directory_that_is_a_link_is_refused(
    fresh_cli: ServerCli, tmp_path: Path
) -> None:
    assert fresh_cli.runtime is not None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (fresh_cli.runtime / "ptpip").symlink_to(elsewhere)
    run = fresh_cli("-s", "-sp", str(free_port()))
    assert run.returncode == 1, str(run)
    assert "is not a directory (a link or a file)" in run.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_runtime_directory_of_another_user_is_refused(fresh_cli: ServerCli) -> None:
    if os.geteuid() != 0:
        unavailable("giving a directory to another user needs root")
    assert fresh_cli.runtime is not None
    folder = fresh_cli.runtime / "ptpip"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    run = fresh_cli("-s", "-sp", str(free_port()))
    assert run.returncode == 1, str(run)
    assert "belongs to another user (uid 65534): refusing to use it" in run.stderr
    # ptpip send does not trust it either
    send = fresh_cli.raw("send", "-sp", str(free_port()), "get", "iso")
    assert send.returncode == 105
    assert "belongs to another user" in send.stderr


def test_files_left_by_a_killed_server_are_replaced(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    old_token = srv.token()
    srv.proc.kill()  # SIGKILL: no clean-up
    assert srv.sock.exists() and srv.token_file.exists()
    port = srv.port
    again = fresh_cli.start("-s", "-sp", str(port))
    again.err.wait_for(r"awaiting messages")
    assert fresh_cli.runtime is not None
    new = Srv(again, port, fresh_cli.runtime)
    assert new.token() != old_token
    assert exchange_unix(new.sock, b"get iso\n") == b"100 (0x64)\n"
    assert fresh_cli.raw("send", "-sp", str(port), "get", "iso").stdout == "100 (0x64)\n"
    stop(again)


def test_a_second_server_for_the_same_port_is_refused(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    # another loopback address, so TCP would bind: the live socket file says "taken"
    run = fresh_cli("-s", "-sa", "127.0.0.2", "-sp", str(srv.port))
    assert run.returncode == 1, str(run)
    assert f"another ptpip server for port {srv.port} runs" in run.stderr
    assert exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"  # the first one goes on
    assert ask(srv, b"get iso\n") == b"100 (0x64)\n"  # and its token is still valid
    stop(srv)


# -- one client cannot block the others ------------------------------------------------------


@contextlib.contextmanager
def authed(srv: Srv) -> Iterator[socket.socket]:
    sock = socket.create_connection((LOOPBACK, srv.port), timeout=WAIT)
    try:
        sock.sendall(srv.auth())
        assert sock.recv(3) == b"ok\n"
        yield sock
    finally:
        sock.close()


def read_line(sock: socket.socket, timeout: float = WAIT) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):  # ends: a line, or the timeout raises
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def timed_get_iso(srv: Srv) -> tuple[bytes, float]:
    started = time.monotonic()
    reply = exchange_unix(srv.sock, b"get iso\n")
    return reply, time.monotonic() - started


def reset(sock: socket.socket) -> None:
    """Close abruptly: RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def until_watch_prints(srv: Srv, watcher: socket.socket, lines: int) -> list[bytes]:
    """Change the ISO (from another connection) until ``watcher``'s watch printed ``lines``
    lines: the watch may not be subscribed yet when the first change happens."""
    got: list[bytes] = []
    values = ("200", "400", "800", "1600", "3200", "6400", "100", "200", "400", "800")
    for value in values:  # bounded
        exchange_unix(srv.sock, f"set iso {value}\n".encode())
        with contextlib.suppress(TimeoutError):
            while len(got) < lines:  # ends: enough lines, EOF, or no line within 1 s
                line = read_line(watcher, timeout=1.0)
                if not line:
                    return got
                got.append(line)
        if len(got) >= lines:
            break
    return got


def test_a_watch_without_end_does_not_block_others_and_is_cancelled_when_its_client_goes(
    fresh_cli: ServerCli,
) -> None:
    srv = start_server(fresh_cli)
    with authed(srv) as a:
        a.sendall(b"watch\n")
        time.sleep(0.3)  # A's watch is running
        reply, took = timed_get_iso(srv)
        assert reply == b"100 (0x64)\n"
        assert took < 2.0, took
        # B changes something: A sees it (its watch runs), B gets its answers
        (line,) = until_watch_prints(srv, a, 1)
        assert b"DevicePropChanged ISO = " in line
        reset(a)
    srv.proc.err.wait_for(r"\[Local server\] client went away; cancelled 'watch'")
    # the server goes on
    assert exchange_unix(srv.sock, b"get whitebalance\n") == b"automatic (0x2)\n"
    stop(srv)


def test_a_client_that_closes_during_watch_is_noticed_at_the_next_event(
    fresh_cli: ServerCli,
) -> None:
    srv = start_server(fresh_cli)
    with authed(srv) as a:
        a.sendall(b"watch json\n")
        time.sleep(0.3)
    # A closed (FIN, like a half-close): the watch goes on until writing to A fails
    gone = "[Local server] client went away; cancelled 'watch json'"
    for value in ("200", "400", "800", "1600", "3200", "6400"):  # bounded
        exchange_unix(srv.sock, f"set iso {value}\n".encode())
        if gone in srv.proc.err.text(timeout=1.0):
            break
    assert srv.proc.err.text().count(gone) == 1, srv.proc.err.text()
    stop(srv)


def test_a_half_closed_client_still_gets_its_watch_output(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    with authed(srv) as a:
        a.sendall(b"watch --count 2\n")
        a.shutdown(socket.SHUT_WR)  # printf 'watch --count 2\n' | nc -N
        lines = until_watch_prints(srv, a, 2)
        assert read_line(a) == b""  # then the server closes: the watch is complete
    assert len(lines) == 2, lines
    assert all(b" DevicePropChanged ISO = " in line for line in lines), lines
    assert "went away" not in srv.proc.err.text()
    stop(srv)


def test_a_client_that_does_not_read_does_not_block_others(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    with authed(srv) as a:
        a.sendall(b"help\n" * 5000)  # lots of output it never reads
        time.sleep(0.5)
        reply, took = timed_get_iso(srv)
    assert reply == b"100 (0x64)\n"
    assert took < 2.0, took
    stop(srv)


# -- limits ----------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_and_read(sock: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` from a thread while reading everything the server says."""

    def sender() -> None:
        with contextlib.suppress(OSError):  # the server may close while we still send
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        return read_all(sock)
    finally:
        thread.join(WAIT)


@pytest.mark.parametrize("over", ["tcp", "unix"])
def test_a_10_mb_line_is_refused_with_bounded_memory(fresh_cli: ServerCli, over: str) -> None:
    srv = start_server(fresh_cli)
    pid = srv.proc.proc.pid
    exchange_unix(srv.sock, b"get iso\n")  # warm up: the code paths are loaded
    before = rss_kb(pid)
    line = b"get " + b"x" * (10 * 1024 * 1024) + b"\nopreq 0x100B 0xFFFFFFFF\n"
    if over == "tcp":
        with authed(srv) as a:
            a.settimeout(WAIT)
            reply = send_and_read(a, line)
    else:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
            u.settimeout(WAIT)
            u.connect(str(srv.sock))
            reply = send_and_read(u, line)
    assert reply == LIMIT_REPLY
    after = rss_kb(pid)
    assert after - before < 4 * 1024, (before, after)
    assert exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"
    stop(srv)


def test_a_line_of_exactly_the_limit_is_taken(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    at_limit = b"get " + b"x" * (65536 - 4)
    assert len(at_limit) == 65536
    reply = exchange_unix(srv.sock, at_limit + b"\n")
    assert reply.startswith(b"error: unknown property 'xxxx"), reply[:100]
    assert exchange_unix(srv.sock, at_limit + b"x\n") == LIMIT_REPLY
    stop(srv)


def test_many_pipelined_lines_are_all_answered(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    count = 400
    reply = exchange_unix(srv.sock, b"get iso\n" * count)
    assert reply == b"100 (0x64)\n" * count
    stop(srv)


def test_at_most_16_connections(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    held: list[socket.socket] = []
    try:
        for _ in range(16):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(WAIT)
            s.connect(str(srv.sock))
            held.append(s)
            s.sendall(b"get iso\n")
            assert read_line(s) == b"100 (0x64)\n"  # accepted and served
        # the 17th: one line, then closed; over TCP just the same
        assert exchange_unix(srv.sock, b"get iso\n") == b"error: too many connections\n"
        assert exchange(srv.port, srv.auth() + b"get iso\n") == b"error: too many connections\n"
        held.pop().close()

        def served() -> bool:
            return exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"

        wait_until(served, timeout=10, what="a free connection slot")
    finally:
        for s in held:
            s.close()
    stop(srv)


def test_a_long_download_does_not_block_others_and_is_cancelled_when_its_client_goes(
    tmp_path: Path, runtime: Path
) -> None:
    folder = tmp_path / "card" / "DCIM" / "100PTPIP"
    folder.mkdir(parents=True)
    with (folder / "BIG.JPG").open("wb") as fh:
        fh.truncate(48 * 1024 * 1024)  # sparse: 48 chunks of 1 MiB, nothing on disk
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        cam.faults.delay = 0.1  # every response a little late: the download takes ~5 s
        with contextlib.closing(ServerCli(tmp_path, cam.port, runtime=runtime)) as cli:
            srv = start_server(cli)
            got = tmp_path / "got"
            with authed(srv) as a:
                a.sendall(f"download BIG.JPG --to {got}\n".encode())

                def downloading() -> bool:
                    return any(
                        p.is_file() and p.stat().st_size >= 2 * 1024 * 1024 for p in got.rglob("*")
                    )

                wait_until(downloading, what="the download to be under way")
                reply, took = timed_get_iso(srv)
                assert reply == b"100 (0x64)\n"
                assert took < 2.0, took
                reset(a)
            srv.proc.err.wait_for(
                r"\[Local server\] client went away; cancelled 'download BIG.JPG --to "
            )
            # the transfer was cancelled cleanly: the camera connection goes on
            assert exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"
            assert not (got / "DCIM" / "100PTPIP" / "BIG.JPG").exists()
            stop(srv)


def test_strangers_knocking_do_not_take_the_places_of_clients(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    knocking: list[socket.socket] = []
    try:
        for _ in range(16):  # TCP connections that never authenticate (for up to 10 s)
            knocking.append(socket.create_connection((LOOPBACK, srv.port), timeout=WAIT))
        time.sleep(0.3)
        # more strangers are turned away at once ...
        assert exchange(srv.port, b"auth x\n") == b"error: too many connections\n"
        # ... while this user's Unix socket still works
        assert exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"
    finally:
        for s in knocking:
            s.close()
    wait_until(
        lambda: exchange(srv.port, srv.auth() + b"get iso\n") == b"ok\n100 (0x64)\n",
        timeout=10,
        what="TCP places free again",
    )
    stop(srv)


def test_a_link_planted_as_the_token_file_is_not_followed(
    fresh_cli: ServerCli, tmp_path: Path
) -> None:
    assert fresh_cli.runtime is not None
    folder = fresh_cli.runtime / "ptpip"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious\n", encoding="utf-8")
    port = free_port()
    (folder / f"server-{port}.token").symlink_to(victim)
    (folder / f"server-{port}.sock").symlink_to(victim)
    server = fresh_cli.start("-s", "-sp", str(port))
    server.err.wait_for(r"awaiting messages")
    srv = Srv(server, port, fresh_cli.runtime)
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert not srv.token_file.is_symlink() and srv.token_file.is_file()
    assert stat.S_ISSOCK(srv.sock.lstat().st_mode)
    assert ask(srv, b"get iso\n") == b"100 (0x64)\n"
    stop(srv)
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_send_does_not_trust_a_runtime_directory_open_to_others(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    srv.dir.chmod(0o755)
    try:
        run = fresh_cli.raw("send", "-sp", str(srv.port), "get", "iso")
    finally:
        srv.dir.chmod(0o700)
    assert run.returncode == 105, str(run)
    assert "is open to other users (mode 0755)" in run.stderr
    stop(srv)


def test_without_xdg_runtime_dir_the_files_go_to_a_private_tmp_folder(
    camera: RunningCamera, tmp_path: Path
) -> None:
    cli = ServerCli(tmp_path, camera.port, runtime=None)  # XDG_RUNTIME_DIR unset
    with contextlib.closing(cli):
        assert "XDG_RUNTIME_DIR" not in cli.env()
        port = free_port()
        server = cli.start("-s", "-sp", str(port))
        server.err.wait_for(r"awaiting messages")
        folder = Path(f"/tmp/ptpip-{os.getuid()}")
        assert stat.S_IMODE(folder.lstat().st_mode) == 0o700
        sock = folder / f"server-{port}.sock"
        token = folder / f"server-{port}.token"
        assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
        assert stat.S_IMODE(token.lstat().st_mode) == 0o600
        assert cli.raw("send", "-sp", str(port), "get", "iso").stdout == "100 (0x64)\n"
        stop(server)
        assert not sock.exists() and not token.exists()
