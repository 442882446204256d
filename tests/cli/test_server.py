"""Server mode (-s): newline-terminated commands over local TCP, several per connection."""

from __future__ import annotations

import contextlib
import signal
import socket
from pathlib import Path

import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, WAIT, Background, Cli, free_port

LISTENING = r"^\[Local server\] listening on (?P<host>[\d.]+):(?P<port>\d+)\.\.\.$"


def start_server(cli: Cli, *flags: str) -> tuple[Background, int]:
    port = free_port()
    server = cli.start("-s", "-sp", str(port), *flags)
    m = server.err.wait_for(LISTENING)
    assert (m["host"], int(m["port"])) == (LOOPBACK, port)
    server.err.wait_for(r"awaiting messages")
    return server, port


def exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload``, half-close, and read until the server closes the connection."""
    with socket.create_connection((LOOPBACK, port), timeout=WAIT) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def stop(server: Background, sig: int = signal.SIGTERM) -> str:
    assert server.stop(sig) == 0
    err = server.err.text(timeout=5)
    assert "Traceback" not in err
    assert "Bye bye!" in err
    return err


def test_several_commands_in_one_connection_answered_in_order(fresh_cli: Cli) -> None:
    server, port = start_server(fresh_cli)
    reply = exchange(port, b"set iso 3200\nget iso\nget whitebalance\n\nget exposure json\n")
    assert reply.decode().splitlines() == [
        "property iso successfully set to 3200 (0xc80)",
        "3200 (0xc80)",
        "automatic (0x2)",
        '{"property":"exposure","code":"0x500d","name":"exposure time",'
        '"value":"0x50","label":"1/125 s"}',
    ]
    # a second connection works, and sees the state the first one left
    assert exchange(port, b"get iso\n") == b"3200 (0xc80)\n"
    err = stop(server)
    assert "message received" not in err  # logged only with -vv


def test_the_connection_stays_open_until_the_client_closes(fresh_cli: Cli) -> None:
    server, port = start_server(fresh_cli)
    with socket.create_connection((LOOPBACK, port), timeout=WAIT) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):  # one command at a time, waiting for each answer
            sock.sendall(b"get iso\n")
            assert reader.readline() == b"100 (0x64)\n"
        sock.shutdown(socket.SHUT_WR)
        assert reader.read() == b""  # closed by the server after our half-close
    stop(server)


def test_errors_are_answered_and_the_server_goes_on(fresh_cli: Cli) -> None:
    server, port = start_server(fresh_cli)
    reply = exchange(port, b"bogus\nget\nget nonsense\nset 0x5001 5\nget iso\r\nhelp snap\n")
    lines = reply.decode().splitlines()
    assert lines[0] == "error: unknown command 'bogus': try `help`"
    assert lines[1:3] == ["error: get: missing argument", "usage: get PROPERTY"]
    assert lines[3].startswith("error: unknown property 'nonsense'")
    assert lines[4] == "error: battery level is read only"
    assert lines[5] == "100 (0x64)"  # \r\n line ends are fine
    assert lines[6].startswith('"capture" ')
    assert exchange(port, b"get iso") == b"100 (0x64)\n"  # a last line without \n runs
    stop(server)


def test_file_commands_work_in_server_mode(fresh_cli: Cli, tmp_path: Path) -> None:
    server, port = start_server(fresh_cli)
    dest = tmp_path / "got"
    reply = exchange(
        port, f"snap\nls DCIM/100PTPIP/IMG_0005.JPG\ndownload IMG_0005.JPG --to {dest}\n".encode()
    )
    lines = reply.decode().splitlines()
    assert lines[0].startswith("Image captured: IMG_0005.JPG (0x")
    assert lines[-2].endswith("DCIM/100PTPIP/IMG_0005.JPG")
    assert lines[-1] == f"1 downloaded, 0 skipped, into {dest.resolve()}"
    assert (dest / "DCIM/100PTPIP/IMG_0005.JPG").is_file()
    stop(server)


def test_sigint_stops_the_server_with_exit_0(fresh_cli: Cli) -> None:
    server, _ = start_server(fresh_cli)
    stop(server, signal.SIGINT)


def test_long_forms_and_verbose_logging(fresh_cli: Cli) -> None:
    port = free_port()
    server = fresh_cli.start(
        "-vv", "--server", "--server-address", LOOPBACK, "--server-port", str(port)
    )
    server.err.wait_for(LISTENING)
    assert exchange(port, b"get iso\n") == b"100 (0x64)\n"
    server.err.wait_for(r"\[Local server\] message received: 'get iso'")
    stop(server)


def test_server_mode_from_the_config_file(fresh_cli: Cli, tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(
        f'[responder]\nhost = "127.0.0.1"\nport = {fresh_cli.port}\n'
        f'[server]\nenabled = true\naddress = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8",
    )
    server = fresh_cli.start("-h", LOOPBACK, "-f", str(conf), raw=True)
    server.err.wait_for(LISTENING)
    assert exchange(port, b"get whitebalance\n") == b"automatic (0x2)\n"
    stop(server)


def test_a_camera_that_goes_away_ends_the_server(tmp_path: Path) -> None:
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        cli = Cli(tmp_path, cam.port)
        server, _ = start_server(cli)
    with contextlib.closing(cli):
        # the camera stopped: the server notices and exits with "connecting" (105)
        assert server.wait() == 105
        assert "the camera closed the connection" in server.err.text(timeout=5)


def test_a_non_loopback_address_warns(fresh_cli: Cli) -> None:
    # 198.51.100.1 (TEST-NET-2) is not on this machine: binding fails, nothing is sent
    run = fresh_cli("-s", "-sa", "198.51.100.1", "-sp", str(free_port()))
    assert run.returncode == 1, str(run)
    assert "warning: listening on 198.51.100.1: anyone who can reach this port" in run.stderr
    assert "cannot listen on 198.51.100.1" in run.stderr


def test_loopback_addresses_do_not_warn(fresh_cli: Cli) -> None:
    server, _ = start_server(fresh_cli, "-sa", LOOPBACK)
    assert "warning" not in "".join(server.err.lines)
    stop(server)


@pytest.mark.parametrize("address", ["nonsense", "localhost", "127.0.0.1:80"])
def test_an_invalid_server_address_exits_2(fresh_cli: Cli, address: str) -> None:
    run = fresh_cli.fails(2, "-s", "-sa", address, "-sp", str(free_port()))
    assert f"invalid IP address '{address}' for -sa" in run.stderr


def test_a_port_in_use_exits_1(fresh_cli: Cli) -> None:
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = fresh_cli("-s", "-sp", str(port))
    assert run.returncode == 1, str(run)
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
