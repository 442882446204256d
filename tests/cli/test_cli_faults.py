"""Faults and bad input on the command line: every documented exit code holds, and no
traceback or asyncio complaint ever reaches the user.

Exit codes (README "Exit codes"): 2 usage, 3 command failed, 102 config, 104 creating the
client, 105 camera unreachable. Every run here is the installed ``ptpip`` in a subprocess,
aimed at 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, WAIT, Cli, Run, free_port, spy, wait_until
from tests.cli.test_server import ServerCli, short_runtime_dir

#: What asyncio or Python print when an error escapes: none of it may reach a user.
NOISE = (
    "Traceback",
    "never retrieved",
    "Exception ignored",
    "Task was destroyed",
    "Unclosed",
    "unhandled exception",
)


def assert_quiet(run: Run) -> None:
    for text in (run.stdout, run.stderr):
        for word in NOISE:
            assert word not in text, str(run)


def one_line(run: Run) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, str(run)
    return lines[0]


# -- the config file (-f): 102 with one line naming the file --------------------------------


def _config_fails(cli: Cli, path: Path | str, *, within: float = 15.0) -> str:
    started = time.monotonic()
    run = cli.raw("-h", LOOPBACK, "-p", str(cli.port), "-f", str(path), "info", timeout=30)
    elapsed = time.monotonic() - started
    assert run.returncode == 102, str(run)
    assert elapsed < within, f"took {elapsed:.1f} s"
    assert_quiet(run)
    line = one_line(run)
    assert str(path) in line, line
    return line


def test_a_binary_config_file_exits_102(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "binary.conf"
    conf.write_bytes(bytes(range(256)) * 8)
    line = _config_fails(cli, conf)
    assert "UTF-8" in line or "binary" in line


def test_a_config_file_with_nul_bytes_exits_102(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "nul.conf"
    conf.write_bytes(b"[responder]\nhost = 127.0.0.1\x00\x00\n")
    assert "binary" in _config_fails(cli, conf)


def test_a_non_utf8_config_file_exits_102(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "latin1.conf"
    conf.write_bytes("[initiator]\nfriendly_name = café\n".encode("latin-1"))
    line = _config_fails(cli, conf)
    assert "not UTF-8" in line


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_config_file_exits_102(cli: Cli, device: str) -> None:
    line = _config_fails(cli, device)
    assert "too big" in line


def test_a_huge_config_file_exits_102(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "huge.conf"
    conf.write_bytes(b"; padding\n" * 200_000)  # 2 MB of comments
    assert "too big" in _config_fails(cli, conf)


def test_a_directory_as_config_file_exits_102(cli: Cli, tmp_path: Path) -> None:
    _config_fails(cli, tmp_path)


def test_a_fifo_nobody_writes_to_exits_102_without_hanging(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "never.conf"
    os.mkfifo(fifo)
    _config_fails(cli, fifo, within=10)


def test_a_fifo_that_never_ends_exits_102_without_hanging(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "open.conf"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer() -> None:  # opens the FIFO for writing, writes a little, never closes it
        fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(fd, b"[responder]\n")
            stop.wait(30)
        finally:
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        _config_fails(cli, fifo, within=10)
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # unblock the writer if ptpip never opened it
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        thread.join(10)


def test_a_config_from_a_pipe_still_works(cli: Cli, tmp_path: Path) -> None:
    """What `ptpip -f <(...)` does: a pipe whose writer writes the config and closes it."""
    fifo = tmp_path / "piped.conf"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as fh:
            fh.write(f"[responder]\nport = {cli.port}\n".encode())

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    run = cli.raw("-h", LOOPBACK, "-p", str(free_port()), "-f", str(fifo), "get", "iso")
    thread.join(10)
    assert run.returncode == 0, str(run)
    assert run.stdout == "100 (0x64)\n"


@pytest.mark.parametrize("value", ["1_5740", "١٥٧٤٠", "１５７４０", "0x_3d7c", "+15740"])
@pytest.mark.parametrize("key", ["[responder]\nport", "[responder]\nevent_port", "[server]\nport"])
def test_non_ascii_or_underscored_ports_in_the_config_exit_102(
    cli: Cli, tmp_path: Path, key: str, value: str
) -> None:
    conf = tmp_path / "port.conf"
    conf.write_text(f"{key} = {value}\n", encoding="utf-8")
    line = _config_fails(cli, conf)
    assert "not a port number" in line


# -- the host (-h): 105 with one line, no lookup of nonsense ---------------------------------


@pytest.mark.parametrize(
    "host",
    ["a" * 64, "a" * 300, "x." * 130 + "com", "", " ", "a b", "a..b", "a/b", "host:80", "a\tb"],
)
def test_a_bad_host_exits_105_with_one_line(cli: Cli, host: str) -> None:
    run = cli.raw("-h", host, "-p", str(cli.port), "--timeout", "5", "info")
    assert run.returncode == 105, str(run)
    assert_quiet(run)
    line = one_line(run)
    assert line.startswith("Error connecting to responder - ")
    assert "invalid host" in line


def test_a_host_name_that_is_fine_still_connects(cli: Cli) -> None:
    assert cli.raw("-h", "localhost", "-p", str(cli.port), "get", "iso").returncode == 0


# -- the friendly name (-n): 104 before connecting ----------------------------------------


@contextlib.contextmanager
def listener() -> Iterator[tuple[int, list[socket.socket]]]:
    """A 127.0.0.1 port that accepts connections and never answers; yields what it accepted."""
    accepted: list[socket.socket] = []
    server = socket.create_server((LOOPBACK, 0))
    server.settimeout(0.2)
    done = threading.Event()

    def run() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        done.set()
        thread.join(5)
        server.close()
        for conn in accepted:
            conn.close()


@pytest.mark.parametrize(
    ("vendor", "name", "limit"),
    [
        ("generic", "n" * 300, "254"),
        ("generic", "n" * 255, "254"),
        ("generic", "\U0001f4f7" * 128, "254"),  # 256 UTF-16 units
        ("fuji", "n" * 300, "26"),
        ("fuji", "n" * 27, "26"),
        ("fuji", "\U0001f4f7" * 14, "26"),  # 28 UTF-16 units
        ("canon", "n" * 300, "254"),
    ],
)
def test_a_friendly_name_too_long_exits_104_before_connecting(
    cli: Cli, vendor: str, name: str, limit: str
) -> None:
    with listener() as (port, accepted):
        run = cli.raw("-t", vendor, "-h", LOOPBACK, "-p", str(port), "-n", name, "info")
        assert accepted == []  # refused before any connection
    assert run.returncode == 104, str(run)
    assert_quiet(run)
    line = one_line(run)
    assert line.startswith("Error creating PTP/IP client - ")
    assert limit in line


def test_the_longest_friendly_name_reaches_the_camera(
    cli: Cli, shared_camera: RunningCamera
) -> None:
    with spy(shared_camera) as seen:
        run = cli("-n", "n" * 254, "get", "iso")
    assert run.returncode == 0, str(run)
    assert [i.friendly_name for i in seen.inits] == ["n" * 254]


def test_a_friendly_name_from_the_config_is_checked_too(cli: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "name.conf"
    conf.write_text(f"[initiator]\nfriendly_name = {'n' * 300}\n", encoding="utf-8")
    run = cli.raw("-h", LOOPBACK, "-p", str(free_port()), "-f", str(conf), "info")
    assert run.returncode == 104, str(run)
    one_line(run)


# -- --timeout: 2 with one line --------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["nan", "-1", "0", "-0", "inf", "1e400", "abc", "", "0x10", "1_0", "１０", "99999999"]
)
def test_a_bad_timeout_exits_2_with_one_line(cli: Cli, value: str) -> None:
    for form in (["--timeout", value], [f"--timeout={value}"]):
        run = cli.raw("-h", LOOPBACK, "-p", str(cli.port), *form, "info")
        assert run.returncode == 2, str(run)
        assert_quiet(run)
        line = one_line(run)
        assert "--timeout" in line
        assert f'invalid value "{value}"' in line
        assert run.stdout == ""


def test_a_negative_infinite_timeout_exits_2(cli: Cli) -> None:
    run = cli.raw("-h", LOOPBACK, "-p", str(cli.port), "--timeout=-inf", "info")
    assert run.returncode == 2, str(run)
    assert 'invalid value "-inf"' in one_line(run)


@pytest.mark.parametrize("value", ["0.5", "2", "30", "1e1"])
def test_good_timeouts_work(cli: Cli, value: str) -> None:
    assert cli.raw(*cli.target, "--timeout", value, "get", "iso").returncode == 0


# -- ports: ASCII digits only -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        *(("-p", v) for v in ("1_5740", "١٥٧٤٠", "１５７４０", "0x_3d7c", "0o_1", "+15740", "1 5")),
        *(
            (flag, v)
            for flag in ("-pc", "-pe", "-ps", "-sp", "--port", "--server-port")
            for v in ("1_5740", "١٥٧٤٠", "１５７４０")
        ),
    ],
)
def test_ports_take_ascii_digits_only(cli: Cli, flag: str, value: str) -> None:
    run = cli.raw("-h", LOOPBACK, flag, value, "-c", "info")
    assert run.returncode == 2, str(run)
    assert_quiet(run)
    line = one_line(run)
    assert f'invalid value "{value}"' in line


# -- --timeout bounds the Init handshake too ------------------------------------------------


@pytest.mark.parametrize("vendor", ["generic", "canon", "fuji"])
def test_timeout_bounds_an_init_that_is_never_answered(cli: Cli, vendor: str) -> None:
    with listener() as (port, accepted):
        started = time.monotonic()
        run = cli.raw("-t", vendor, "-h", LOOPBACK, "-p", str(port), "--timeout", "1", "info")
        elapsed = time.monotonic() - started
        assert len(accepted) == 1  # it connected, sent its Init and waited
    assert run.returncode == 105, str(run)
    assert elapsed < 4.5, f"took {elapsed:.1f} s"
    assert_quiet(run)
    line = one_line(run)
    assert line.startswith("Error connecting to responder - ")
    assert "Init Command Ack" in line


# -- the camera refuses, hangs up, or dies: 105, and nothing but one line ------------------


def test_a_refused_connection_is_one_quiet_line(cli: Cli) -> None:
    for vendor in ("generic", "fuji", "canon", "leica"):
        run = cli.raw("-t", vendor, "-h", LOOPBACK, "-p", str(free_port()), "info")
        assert run.returncode == 105, str(run)
        assert_quiet(run)
        one_line(run)


@contextlib.contextmanager
def hang_up_during_init(*, reset: bool) -> Iterator[int]:
    """A port that accepts, reads the Init Command Request, then closes (or resets)."""
    server = socket.create_server((LOOPBACK, 0))
    server.settimeout(WAIT)

    def run() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.settimeout(WAIT)
                conn.recv(8)  # the start of the Init Command Request
                if reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        thread.join(WAIT)
        server.close()


@pytest.mark.parametrize("reset", [False, True])
@pytest.mark.parametrize("vendor", ["generic", "fuji", "canon", "leica"])
def test_a_camera_that_hangs_up_during_init_is_one_quiet_line(
    cli: Cli, vendor: str, reset: bool
) -> None:
    with hang_up_during_init(reset=reset) as port:
        run = cli.raw("-t", vendor, "-h", LOOPBACK, "-p", str(port), "info")
    assert run.returncode == 105, str(run)
    assert_quiet(run)
    assert one_line(run).startswith("Error connecting to responder - ")


def _established(*ports: int) -> int:
    """How many TCP connections to 127.0.0.1:PORT are established (from /proc/net/tcp)."""
    wanted = {f":{port:04X}" for port in ports}
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if local[-5:] in wanted and state == "01":
            count += 1
    return count


@pytest.mark.parametrize(
    "command", [["watch"], ["watch", "--count", "5"], ["--json", "watch"], ["-s"]]
)
def test_a_camera_killed_during_a_command_exits_105_quietly(
    tmp_path: Path, command: list[str]
) -> None:
    with (
        short_runtime_dir() as runtime,
        contextlib.closing(ServerCli(tmp_path, 0, runtime=runtime)) as cli,
    ):
        _kill_the_camera_during(cli, tmp_path, command, "generic")


@pytest.mark.parametrize("vendor", ["fuji", "canon", "leica"])
def test_a_vendor_camera_killed_during_watch_exits_105_quietly(tmp_path: Path, vendor: str) -> None:
    with (
        short_runtime_dir() as runtime,
        contextlib.closing(ServerCli(tmp_path, 0, runtime=runtime)) as cli,
    ):
        _kill_the_camera_during(cli, tmp_path, ["-t", vendor, "watch"], vendor)


def _kill_the_camera_during(
    cli: ServerCli, tmp_path: Path, command: list[str], vendor: str
) -> None:
    card = str(tmp_path / "card")
    sim = cli.start("simulate", "-t", vendor, "-p", "0", "--storage", card, raw=True)
    port = int(sim.out.wait_for(r"listening on 127\.0\.0\.1:(\d+)")[1])
    args = list(command)
    if args == ["-s"]:
        args += ["-sp", str(free_port()), "--no-auth"]
    client = cli.start("-h", LOOPBACK, "-p", str(port), *args, raw=True)
    # the session is up when both its connections (command and event) are established
    wait_until(lambda: _established(port, port + 1) >= 2, what="the client's two connections")
    time.sleep(0.3)
    os.kill(sim.proc.pid, signal.SIGKILL)
    sim.wait()
    code = client.wait()
    out, err = client.out.text(timeout=5), client.err.text(timeout=5)
    run = Run(args, code, out, err)
    assert code == 105, str(run)
    assert_quiet(run)
    assert "the camera closed the" in err
