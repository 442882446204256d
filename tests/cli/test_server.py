"""Server mode (-s): newline-terminated commands over local TCP (after ``auth TOKEN``) and a
Unix socket, several per connection; ``ptpip send`` as its client.

The helpers here (a runtime directory of the test's own, starting a server, exchanging
bytes) are shared with test_server_security.py and test_cli_faults.py.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, WAIT, Background, Cli, free_port

LISTENING = r"^\[Local server\] listening on (?P<host>[\d.]+):(?P<port>\d+)\.\.\.$"


@dataclass
class ServerCli(Cli):
    """:class:`Cli` with an XDG_RUNTIME_DIR of the test's own (the server's socket, token)."""

    runtime: Path | None = None

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.runtime is not None:
            env["XDG_RUNTIME_DIR"] = str(self.runtime)
        return env


@contextlib.contextmanager
def short_runtime_dir() -> Iterator[Path]:
    """A private directory with a short path (a Unix socket's path holds at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ptr-", dir="/tmp"))
    try:
        path.chmod(0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def runtime() -> Iterator[Path]:
    with short_runtime_dir() as path:
        yield path


@pytest.fixture
def fresh_cli(camera: RunningCamera, tmp_path: Path, runtime: Path) -> Iterator[ServerCli]:
    """``ptpip`` aimed at a fresh camera, with its own runtime directory."""
    with contextlib.closing(ServerCli(tmp_path, camera.port, runtime=runtime)) as cli:
        yield cli


@dataclass
class Srv:
    """A running ``ptpip -s``."""

    proc: Background
    port: int
    runtime: Path

    @property
    def dir(self) -> Path:
        return self.runtime / "ptpip"

    @property
    def sock(self) -> Path:
        return self.dir / f"server-{self.port}.sock"

    @property
    def token_file(self) -> Path:
        return self.dir / f"server-{self.port}.token"

    def token(self) -> str:
        return self.token_file.read_text(encoding="ascii").strip()

    def auth(self) -> bytes:
        return f"auth {self.token()}\n".encode()


def start_server(cli: ServerCli, *flags: str) -> Srv:
    assert cli.runtime is not None
    port = free_port()
    server = cli.start("-s", "-sp", str(port), *flags)
    m = server.err.wait_for(LISTENING)
    assert (m["host"], int(m["port"])) == (LOOPBACK, port)
    server.err.wait_for(r"awaiting messages")
    return Srv(server, port, cli.runtime)


def read_all(sock: socket.socket) -> bytes:
    """Read until the server closes (bounded by the socket's timeout)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload`` over TCP, half-close, and read until the server closes."""
    with socket.create_connection((LOOPBACK, port), timeout=WAIT) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def exchange_unix(path: Path, payload: bytes) -> bytes:
    """The same over the Unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT)
        sock.connect(str(path))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def ask(srv: Srv, payload: bytes) -> bytes:
    """``payload`` over authenticated TCP: the reply after the server's ``ok``."""
    reply = exchange(srv.port, srv.auth() + payload)
    assert reply.startswith(b"ok\n"), reply
    return reply[3:]


def stop(server: Background | Srv, sig: int = signal.SIGTERM) -> str:
    proc = server.proc if isinstance(server, Srv) else server
    assert proc.stop(sig) == 0
    err = proc.err.text(timeout=5)
    assert "Traceback" not in err
    assert "Bye bye!" in err
    return err


def test_several_commands_in_one_connection_answered_in_order(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    reply = ask(srv, b"set iso 3200\nget iso\nget whitebalance\n\nget exposure json\n")
    assert reply.decode().splitlines() == [
        "property iso successfully set to 3200 (0xc80)",
        "3200 (0xc80)",
        "automatic (0x2)",
        '{"property":"exposure","code":"0x500d","name":"exposure time",'
        '"value":"0x50","label":"1/125 s"}',
    ]
    # a second connection works, and sees the state the first one left
    assert ask(srv, b"get iso\n") == b"3200 (0xc80)\n"
    # the Unix socket needs no auth line
    assert exchange_unix(srv.sock, b"get iso\nget whitebalance\n") == (
        b"3200 (0xc80)\nautomatic (0x2)\n"
    )
    err = stop(srv)
    assert "message received" not in err  # logged only with -vv


def test_the_connection_stays_open_until_the_client_closes(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    with socket.create_connection((LOOPBACK, srv.port), timeout=WAIT) as sock:
        reader = sock.makefile("rb")
        sock.sendall(srv.auth())
        assert reader.readline() == b"ok\n"
        for _ in range(3):  # one command at a time, waiting for each answer
            sock.sendall(b"get iso\n")
            assert reader.readline() == b"100 (0x64)\n"
        sock.shutdown(socket.SHUT_WR)
        assert reader.read() == b""  # closed by the server after our half-close
    stop(srv)


def test_failing_commands_are_answered_and_the_connection_goes_on(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    reply = ask(srv, b"get\nget nonsense\nset 0x5001 5\nget iso\r\nhelp snap\n")
    lines = reply.decode().splitlines()
    assert lines[0:2] == ["error: get: missing argument", "usage: get PROPERTY"]
    assert lines[2].startswith("error: unknown property 'nonsense'")
    assert lines[3] == "error: battery level is read only"
    assert lines[4] == "100 (0x64)"  # \r\n line ends are fine
    assert lines[5].startswith('"capture" ')
    assert ask(srv, b"get iso") == b"100 (0x64)\n"  # a last line without \n runs
    stop(srv)


def test_an_unknown_command_ends_the_connection(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    reply = ask(srv, b"get iso\nbogus\nset iso 400\nget iso\n")
    assert reply == b"100 (0x64)\nerror: unknown command 'bogus': try `help`\n"
    assert ask(srv, b"get iso\n") == b"100 (0x64)\n"  # nothing after 'bogus' ran
    stop(srv)


def test_file_commands_work_in_server_mode(fresh_cli: ServerCli, tmp_path: Path) -> None:
    srv = start_server(fresh_cli)
    dest = tmp_path / "got"
    reply = ask(
        srv, f"snap\nls DCIM/100PTPIP/IMG_0005.JPG\ndownload IMG_0005.JPG --to {dest}\n".encode()
    )
    lines = reply.decode().splitlines()
    assert lines[0].startswith("Image captured: IMG_0005.JPG (0x")
    assert lines[-2].endswith("DCIM/100PTPIP/IMG_0005.JPG")
    assert lines[-1] == f"1 downloaded, 0 skipped, into {dest.resolve()}"
    assert (dest / "DCIM/100PTPIP/IMG_0005.JPG").is_file()
    stop(srv)


def test_sigint_stops_the_server_with_exit_0_and_removes_its_files(
    fresh_cli: ServerCli,
) -> None:
    srv = start_server(fresh_cli)
    assert srv.sock.exists() and srv.token_file.exists()
    stop(srv, signal.SIGINT)
    assert sorted(srv.dir.iterdir()) == []


def test_long_forms_and_verbose_logging(fresh_cli: ServerCli) -> None:
    port = free_port()
    server = fresh_cli.start(
        "-vv", "--server", "--server-address", LOOPBACK, "--server-port", str(port)
    )
    server.err.wait_for(LISTENING)
    server.err.wait_for(r"awaiting messages")
    assert fresh_cli.runtime is not None
    srv = Srv(server, port, fresh_cli.runtime)
    assert ask(srv, b"get iso\n") == b"100 (0x64)\n"
    server.err.wait_for(r"\[Local server\] message received: 'get iso'")
    stop(server)


def test_server_mode_from_the_config_file(fresh_cli: ServerCli, tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(
        f'[responder]\nhost = "127.0.0.1"\nport = {fresh_cli.port}\n'
        f'[server]\nenabled = true\naddress = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8",
    )
    server = fresh_cli.start("-h", LOOPBACK, "-f", str(conf), raw=True)
    server.err.wait_for(LISTENING)
    server.err.wait_for(r"awaiting messages")
    assert fresh_cli.runtime is not None
    assert ask(Srv(server, port, fresh_cli.runtime), b"get whitebalance\n") == (
        b"automatic (0x2)\n"
    )
    stop(server)


def test_a_camera_that_goes_away_ends_the_server(tmp_path: Path, runtime: Path) -> None:
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        cli = ServerCli(tmp_path, cam.port, runtime=runtime)
        srv = start_server(cli)
    with contextlib.closing(cli):
        # the camera stopped: the server notices and exits with "connecting" (105)
        assert srv.proc.wait() == 105
        assert "the camera closed the connection" in srv.proc.err.text(timeout=5)
        assert sorted(srv.dir.iterdir()) == []


def test_a_non_loopback_address_warns(fresh_cli: ServerCli) -> None:
    # 198.51.100.1 (TEST-NET-2) is not on this machine: binding fails, nothing is sent
    run = fresh_cli("-s", "-sa", "198.51.100.1", "-sp", str(free_port()))
    assert run.returncode == 1, str(run)
    assert "warning: listening on 198.51.100.1: anyone who can reach this port" in run.stderr
    assert "cannot listen on 198.51.100.1" in run.stderr


def test_loopback_addresses_do_not_warn(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli, "-sa", LOOPBACK)
    assert "warning" not in "".join(srv.proc.err.lines)
    stop(srv)


@pytest.mark.parametrize("address", ["nonsense", "localhost", "127.0.0.1:80"])
def test_an_invalid_server_address_exits_2(fresh_cli: ServerCli, address: str) -> None:
    run = fresh_cli.fails(2, "-s", "-sa", address, "-sp", str(free_port()))
    assert f"invalid IP address '{address}' for -sa" in run.stderr


def test_a_port_in_use_exits_1(fresh_cli: ServerCli) -> None:
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = fresh_cli("-s", "-sp", str(port))
    assert run.returncode == 1, str(run)
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr


# -- the startup lines -------------------------------------------------------------------------


def test_the_startup_lines_say_where_and_how(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    err = "".join(srv.proc.err.lines)
    assert f"listening on {srv.sock} (this user only" in err
    assert f"the token (new at every start) is in {srv.token_file}" in err
    assert f"ptpip send -sp {srv.port} get iso" in err
    assert "WITHOUT authentication" not in err
    stop(srv)


# -- --no-auth: the seed's plain protocol, with a plain warning ---------------------------------


def test_no_auth_takes_plain_lines_like_the_seed(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli, "--no-auth")
    err = "".join(srv.proc.err.lines)
    assert (
        "warning: the server runs WITHOUT authentication (--no-auth): any program on this"
        " machine can control the camera"
    ) in err
    assert exchange(srv.port, b"get iso\nget whitebalance\n") == b"100 (0x64)\nautomatic (0x2)\n"
    assert not srv.token_file.exists()  # no token to keep
    assert exchange_unix(srv.sock, b"get iso\n") == b"100 (0x64)\n"
    stop(srv)


@pytest.mark.parametrize("value", ["false", '"false"', "no", "0", "off"])
def test_no_auth_from_the_config_file(fresh_cli: ServerCli, tmp_path: Path, value: str) -> None:
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(
        f"[responder]\nport = {fresh_cli.port}\n[server]\nenabled = true\nport = {port}\n"
        f"auth = {value}\n",
        encoding="utf-8",
    )
    server = fresh_cli.start("-h", LOOPBACK, "-f", str(conf), raw=True)
    server.err.wait_for(r"WITHOUT authentication")
    server.err.wait_for(r"awaiting messages")
    assert exchange(port, b"get iso\n") == b"100 (0x64)\n"
    stop(server)


def test_auth_true_in_the_config_file_wins_over_no_auth(
    fresh_cli: ServerCli, tmp_path: Path
) -> None:
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(f"[server]\nport = {port}\nauth = true\n", encoding="utf-8")
    server = fresh_cli.start("-s", "--no-auth", "-f", str(conf))
    server.err.wait_for(r"awaiting messages")
    assert fresh_cli.runtime is not None
    srv = Srv(server, port, fresh_cli.runtime)
    assert exchange(port, b"get iso\n").startswith(b"error: authentication required")
    assert ask(srv, b"get iso\n") == b"100 (0x64)\n"
    stop(server)


# -- ptpip send ---------------------------------------------------------------------------------


def send(cli: ServerCli, *args: str) -> tuple[int, str, str]:
    run = cli.raw("send", *args)
    return run.returncode, run.stdout, run.stderr


def test_send_uses_the_unix_socket(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    assert send(fresh_cli, "-sp", str(srv.port), "set", "iso", "400") == (
        0,
        "property iso successfully set to 400 (0x190)\n",
        "",
    )
    assert send(fresh_cli, "-sp", str(srv.port), "get", "iso") == (0, "400 (0x190)\n", "")
    assert send(fresh_cli, "--server-port", str(srv.port), "--json", "get", "iso")[1] == (
        '{"property":"iso","code":"0x500f","name":"ISO","value":"0x190","label":"400"}\n'
    )
    stop(srv)


def test_send_falls_back_to_tcp_with_the_token(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    srv.sock.unlink()  # no socket: TCP with the token it reads from the runtime directory
    assert send(fresh_cli, "-sa", LOOPBACK, "-sp", str(srv.port), "get", "iso") == (
        0,
        "100 (0x64)\n",
        "",
    )
    err = "".join(srv.proc.err.lines)
    assert "wrong token" not in err
    stop(srv)


def test_send_with_a_stale_token_exits_105(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    srv.sock.unlink()
    srv.token_file.write_text("not-the-token\n", encoding="ascii")
    code, out, err = send(fresh_cli, "-sp", str(srv.port), "get", "iso")
    assert code == 105
    assert out == ""
    assert "refused the token" in err
    assert len(err.strip().splitlines()) == 1
    stop(srv)


def test_send_exits_3_on_an_error_reply(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    code, out, _ = send(fresh_cli, "-sp", str(srv.port), "get", "nonsense")
    assert code == 3
    assert out.startswith("error: unknown property 'nonsense'")
    code, out, _ = send(fresh_cli, "-sp", str(srv.port), "bogus")
    assert (code, out) == (3, "error: unknown command 'bogus': try `help`\n")
    stop(srv)


def test_send_streams_watch_output(fresh_cli: ServerCli, camera: RunningCamera) -> None:
    srv = start_server(fresh_cli)
    watch = fresh_cli.start("send", "-sp", str(srv.port), "watch", "--count", "1", raw=True)
    # the camera announces a change once the watch is subscribed: set iso until it shows
    for value in ("200", "400", "800", "1600", "3200", "100", "200", "400"):
        assert send(fresh_cli, "-sp", str(srv.port), "set", "iso", value)[0] == 0
        if watch.proc.poll() is not None:
            break
        with contextlib.suppress(Exception):
            watch.proc.wait(0.5)
    assert watch.wait() == 0
    assert "DevicePropChanged ISO = " in watch.out.text(timeout=5)
    stop(srv)


def test_send_without_a_server_exits_105(fresh_cli: ServerCli) -> None:
    port = free_port()
    code, out, err = send(fresh_cli, "-sp", str(port), "get", "iso")
    assert (code, out) == (105, "")
    assert err.startswith(f"ptpip send: no ptpip server found for port {port}")
    assert len(err.strip().splitlines()) == 1


def test_send_with_a_token_but_no_server_exits_105(fresh_cli: ServerCli) -> None:
    assert fresh_cli.runtime is not None
    port = free_port()
    folder = fresh_cli.runtime / "ptpip"
    folder.mkdir(mode=0o700)
    token = folder / f"server-{port}.token"
    token.write_text("x\n", encoding="ascii")
    token.chmod(0o600)
    code, _, err = send(fresh_cli, "-sp", str(port), "get", "iso")
    assert code == 105
    assert f"cannot reach the server at 127.0.0.1:{port}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a command"),
        (["-sp", "1_5740", "get", "iso"], "invalid value"),
        (["-sa", "localhost", "get", "iso"], "invalid IP address"),
        (["get", "iso\nopreq 0x100B 0xFFFFFFFF"], "no line breaks"),
        (["--json", "set", "iso", "400"], "no JSON form"),
        (["--bogus"], "unrecognized"),
    ],
)
def test_send_usage_errors_exit_2(fresh_cli: ServerCli, args: list[str], message: str) -> None:
    code, out, err = send(fresh_cli, *args)
    assert code == 2, err
    assert message in err
    assert out == ""


def test_send_help_shows_nc_usage_with_this_users_paths(fresh_cli: ServerCli) -> None:
    code, out, _ = send(fresh_cli, "-?")
    assert code == 0
    assert fresh_cli.runtime is not None
    sock = fresh_cli.runtime / "ptpip" / "server-15740.sock"
    assert f"nc -N -U {sock}" in out
    assert f"$(cat {sock.with_suffix('.token')})" in out
    assert "--no-auth" in out


def test_the_runtime_directory_is_private(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli)
    assert stat.S_IMODE(srv.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(srv.sock.lstat().st_mode) == 0o600
    assert stat.S_ISSOCK(srv.sock.lstat().st_mode)
    assert stat.S_IMODE(srv.token_file.lstat().st_mode) == 0o600
    assert len(srv.token()) >= 43  # token_urlsafe(32)
    stop(srv)


def test_ctrl_c_on_send_cancels_the_command_in_the_server(fresh_cli: ServerCli) -> None:
    srv = start_server(fresh_cli, "-vv")
    watch = fresh_cli.start("send", "-sp", str(srv.port), "watch", raw=True)
    srv.proc.err.wait_for(r"message received: 'watch'")
    watch.proc.send_signal(signal.SIGINT)
    assert watch.wait() == 130
    assert "Traceback" not in watch.err.text(timeout=5)
    # no event needed: the Unix socket tells at once that its peer is gone
    srv.proc.err.wait_for(r"\[Local server\] client went away; cancelled 'watch'", timeout=5)
    assert send(fresh_cli, "-sp", str(srv.port), "get", "iso") == (0, "100 (0x64)\n", "")
    stop(srv)
