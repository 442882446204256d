"""Commands that need no camera never connect to one.

``help`` (all commands, one command, an alias; ``-c help``, ``--json``), ``--version``, ``-?``,
``--check`` (the config check), and the help of ``simulate``, ``discover`` and ``send`` are
answered without opening any connection:

- aimed (``-h 127.0.0.1 -p PORT``) at a listener of this test that records every connection
  it accepts (and closes it at once, so a client that does connect fails fast): none arrives;
- without ``-h`` (the default host, 192.168.0.1), in a fresh network namespace
  (``unshare -n``: only a loopback that is down, so nothing can leave the machine): the
  answer comes at once, and under ``strace`` no IPv4/IPv6 socket is even created.

Control tests show that both detectors see a command that does connect (``info``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ptpip._version import __version__
from tests.cli.conftest import LOOPBACK, PTPIP, TIMEOUT, Cli, Run, assert_no_traceback, unavailable

#: A command that needs no camera must be answered well within this (seconds).
QUICK = 2.0
#: What a failed connection attempt prints.
CONNECTING = "Error connecting"
CHECK_OK = "OK: the settings are valid; nothing was connected.\n"

# -- the recording listener ----------------------------------------------------------------


@dataclass
class Listener:
    """A TCP listener on 127.0.0.1 that accepts, records and closes every connection."""

    sock: socket.socket
    accepted: list[tuple[str, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():  # ends: stop() sets the event
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if ready:
                self._accept()

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            conn, peer = self.sock.accept()
            self.accepted.append(peer)
            conn.close()

    def stop(self) -> None:
        if self.sock.fileno() == -1:  # stopped already
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for _ in range(64):  # bounded: whatever is still queued was a connection too
            before = len(self.accepted)
            self._accept()
            if len(self.accepted) == before:
                break
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(16)
    sock.setblocking(False)
    rec = Listener(sock)
    rec.start()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture
def cli(listener: Listener, tmp_path: Path) -> Iterator[Cli]:
    """``ptpip -h 127.0.0.1 -p PORT`` aimed at the recording listener."""
    with contextlib.closing(Cli(tmp_path, listener.port)) as runner:
        yield runner


def connections(listener: Listener) -> list[tuple[str, int]]:
    listener.stop()  # joins its thread and drains the queue: every connection is counted
    return listener.accepted


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ptpip.conf"
    path.write_text(text, encoding="utf-8")
    return path


def responder(port: int, vendor: str = "generic") -> str:
    return f'[responder]\nvendor = "{vendor}"\nhost = "{LOOPBACK}"\nport = {port}\n'


# -- what each command must print ----------------------------------------------------------


def lists_commands(run: Run) -> None:
    for word in ("info", "capture", "download", "liveview", "help"):
        assert f'"{word}" ' in run.stdout, run
    assert re.search(r"^Property names: .*\biso\b", run.stdout, re.M), run


def capture_help(run: Run) -> None:
    assert run.stdout.startswith('"capture" '), run
    assert "\tusage: capture " in run.stdout
    assert "\taliases: shoot, shutter, snap\n" in run.stdout


def json_help(run: Run) -> None:
    data = json.loads(run.stdout)
    names = [d["command"] for d in data]
    assert names[:7] == ["info", "state", "describe", "get", "set", "opreq", "help"], names
    assert {"capture", "ls", "download", "watch", "liveview"} <= set(names)
    assert all(set(d) == {"command", "usage"} for d in data)


def version(run: Run) -> None:
    assert run.stdout == f"ptpip version {__version__}\n", run


def usage(run: Run) -> None:
    assert run.stdout.startswith("Usage of ptpip"), run


def check_report(host: str, port: int | None) -> Callable[[Run], None]:
    def verify(run: Run) -> None:
        out = run.stdout
        assert out.endswith(CHECK_OK), run
        assert re.search(rf"^host: +{re.escape(host)}$", out, re.M), run
        shown = str(port or 15740)
        assert re.search(rf"^command port: +{shown}$", out, re.M), run
        assert re.search(rf"^event port: +{shown}$", out, re.M), run
        assert re.search(r"^server address: +127\.0\.0\.1$", out, re.M), run
        assert re.search(r"^server auth: +on$", out, re.M), run

    return verify


# -- aimed at a recording listener ---------------------------------------------------------

LISTENER_CASES: list[tuple[list[str], Callable[[Run], None]]] = [
    (["help"], lists_commands),
    (["help", "capture"], capture_help),
    (["help", "shoot"], capture_help),
    (["-c", "help"], lists_commands),
    (["-c", "help snap"], capture_help),
    (["--json", "help"], json_help),
    (["--json", "--pretty", "-vvv", "--timeout", "30", "help"], json_help),
    (["--version"], version),
    (["-version"], version),
    (["-?"], usage),
    (["--help"], usage),
]


@pytest.mark.parametrize(
    ("args", "verify"), LISTENER_CASES, ids=[" ".join(a) for a, _ in LISTENER_CASES]
)
def test_answered_without_connecting(
    cli: Cli, listener: Listener, args: list[str], verify: Callable[[Run], None]
) -> None:
    run = cli(*args)
    assert run.returncode == 0, str(run)
    verify(run)
    assert CONNECTING not in run.stderr
    assert connections(listener) == []


def test_the_usage_names_the_config_check(cli: Cli, listener: Listener) -> None:
    run = cli("-?")
    assert re.search(r"^ +--check +Check the config file", run.stdout, re.M), run
    assert "help COMMAND` for details; help needs no camera" in run.stdout
    assert connections(listener) == []


def test_the_config_check_connects_to_nothing(cli: Cli, listener: Listener) -> None:
    run = cli("--check")
    assert run.returncode == 0, str(run)
    check_report(LOOPBACK, listener.port)(run)
    assert connections(listener) == []


def test_the_listener_sees_a_command_that_connects(cli: Cli, listener: Listener) -> None:
    """The control: `info` does connect, and the listener records it."""
    run = cli("--timeout", "5", "info")
    assert run.returncode == 105, str(run)
    assert len(connections(listener)) >= 1


def test_help_with_a_config_file_uses_its_vendor(
    cli: Cli, listener: Listener, tmp_path: Path
) -> None:
    conf = write_config(tmp_path, responder(listener.port, "fuji"))
    run = cli.raw("-f", str(conf), "help")
    assert run.returncode == 0, str(run)
    names = re.search(r"^Property names: (.*)$", run.stdout, re.M)
    assert names is not None, run
    assert "recmode" in names[1].split(", ")  # a Fuji property name
    assert connections(listener) == []


def test_help_for_an_unknown_command_exits_3_without_connecting(
    cli: Cli, listener: Listener
) -> None:
    run = cli("help", "teleport")
    assert run.returncode == 3, str(run)
    assert "no command 'teleport'" in run.stderr
    assert connections(listener) == []


def test_help_still_refuses_two_modes(cli: Cli, listener: Listener) -> None:
    run = cli("-i", "help")
    assert run.returncode == 2, str(run)
    assert connections(listener) == []


# -- the config check ----------------------------------------------------------------------


def test_check_a_config_file(cli: Cli, listener: Listener, tmp_path: Path) -> None:
    conf = write_config(
        tmp_path,
        '[initiator]\nfriendly_name = "studio"\n'
        + responder(listener.port)
        + '[server]\naddress = "127.0.0.1"\nport = 0x3d7d\nauth = false\n',
    )
    run = cli.raw("-f", str(conf), "--check")
    assert run.returncode == 0, str(run)
    out = run.stdout
    assert out.endswith(CHECK_OK)
    assert re.search(rf"^config file: +{re.escape(str(conf))}$", out, re.M), run
    assert re.search(r"^host: +127\.0\.0\.1  \(config: \[responder\] host\)$", out, re.M), run
    assert re.search(rf"^command port: +{listener.port}  \(config", out, re.M), run
    assert re.search(
        r"^initiator name: +studio  \(config: \[initiator\] friendly_name\)$", out, re.M
    )
    assert re.search(r"^server port: +15741  \(config: \[server\] port\)$", out, re.M), run
    assert re.search(r"^server auth: +off", out, re.M), run
    assert connections(listener) == []
    # nothing is written either: no identity is made for the camera
    assert not (tmp_path / "config" / "ptpip" / "identities.json").exists()


@pytest.mark.parametrize(
    ("vendor", "ports"),
    [
        ("generic", ("15740", "15740", "none")),
        ("nikon", ("15740", "15740", "none")),
        ("fuji", ("55740", "55741", "55742")),
    ],
)
def test_check_shows_the_vendors_default_ports(
    cli: Cli, listener: Listener, vendor: str, ports: tuple[str, str, str]
) -> None:
    run = cli.raw("-h", LOOPBACK, "-t", vendor, "--check")
    assert run.returncode == 0, str(run)
    for label, port in zip(("command", "event", "stream"), ports, strict=True):
        assert re.search(rf"^{label} port: +{port}$", run.stdout, re.M), run
    assert re.search(rf"^vendor: +{vendor}$", run.stdout, re.M), run
    assert connections(listener) == []


def test_check_as_json(cli: Cli, listener: Listener) -> None:
    run = cli("-t", "fuji", "--json", "--check", "get", "iso")
    assert run.returncode == 0, str(run)
    data = json.loads(run.stdout)
    assert data["host"] == LOOPBACK
    assert data["vendor"] == data["dialect"] == "fuji"
    port = listener.port
    assert data["ports"] == {"command": port, "event": port, "stream": port}
    assert data["server"] == {"enabled": False, "address": "127.0.0.1", "port": 15740, "auth": True}
    assert data["mode"] == "command"
    assert data["command"] == "get iso"
    assert data["connected"] is False
    assert connections(listener) == []


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[responder]\nprot = 1\n", "'prot'"),
        ("[responder]\nport = 70000\n", "[responder] port"),
        ('[initiator]\nguid = "12345"\n', "[initiator] guid"),  # a run: exit 104
        ('[responder]\nhost = "no such host!"\n', "[responder] host"),  # a run: exit 105
        ("[responder]\nport = 1\ncmd_data_port = 2\n", "[responder] port"),  # a run: exit 2
        ('[server]\naddress = "nowhere"\n', "[server] address"),
        (
            '[responder]\nvendor = "fuji"\n[initiator]\nfriendly_name = "' + "x" * 40 + '"\n',
            "[initiator] friendly_name",
        ),
    ],
)
def test_check_a_bad_config_exits_102(
    cli: Cli, listener: Listener, tmp_path: Path, text: str, named: str
) -> None:
    conf = write_config(tmp_path, text)
    run = cli("-f", str(conf), "--check")
    assert run.returncode == 102, str(run)
    assert named in run.stderr
    assert str(conf) in run.stderr
    assert run.stdout == ""
    assert connections(listener) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-p", "1", "-pc", "2"], 2, "ambiguous port specification"),
        (["-sa", "nowhere"], 2, "invalid IP address 'nowhere' for -sa"),
        (["-g", "12345"], 104, "Error creating PTP/IP client - invalid GUID"),
        (["-h", "no such host!"], 105, "invalid host name"),
        (["-s", "info"], 2, "Too many arguments"),  # two modes
        (["teleport"], 2, "unknown command 'teleport'"),
    ],
)
def test_check_bad_flags_exit_as_a_run_would(
    cli: Cli, listener: Listener, args: list[str], code: int, message: str
) -> None:
    run = cli("--check", *args)
    assert run.returncode == code, str(run)
    assert message in run.stderr
    assert run.stdout == ""
    assert connections(listener) == []


# -- the default host, in a network namespace with no way out -------------------------------


@pytest.fixture(scope="module")
def netns() -> list[str]:
    """The command prefix that runs a program in a fresh network namespace."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        unavailable("needs root and unshare(1) to run ptpip in a network namespace of its own")
    probe = subprocess.run(
        [unshare, "-n", "--", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        unavailable(f"cannot make a network namespace: {probe.stderr.strip()}")
    return [unshare, "-n", "--"]


@pytest.fixture(scope="module")
def strace() -> str:
    path = shutil.which("strace")
    if path is None:
        unavailable(
            "strace is not installed: apt-get install strace"
            " (or run scripts/install-system-deps.sh as root)"
        )
    probe = subprocess.run(
        [path, "-f", "-qq", "-o", os.devnull, "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        unavailable(f"strace cannot trace here: {probe.stderr.strip()}")
    return path


def in_netns(prefix: list[str], args: list[str], tmp_path: Path) -> tuple[Run, float]:
    env = Cli(tmp_path, 0).env()
    started = time.monotonic()
    try:
        done = subprocess.run(
            [*prefix, str(PTPIP), *args],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ptpip {args} did not finish within {TIMEOUT} s: {exc.stderr!r}")
    elapsed = time.monotonic() - started
    run = Run(args, done.returncode, done.stdout, done.stderr)
    assert_no_traceback(run.stdout, run.stderr)
    return run, elapsed


def inet_calls(trace: Path) -> list[str]:
    """The IPv4/IPv6 socket() and connect() calls in an strace log."""
    return [line for line in trace.read_text().splitlines() if re.search(r"AF_INET6?\b", line)]


def json_check(host: str) -> Callable[[Run], None]:
    def verify(run: Run) -> None:
        data = json.loads(run.stdout)
        assert data["host"] == host, run
        assert data["ports"] == {"command": 15740, "event": 15740, "stream": None}, run

    return verify


def sub_usage(prog: str) -> Callable[[Run], None]:
    def verify(run: Run) -> None:
        assert prog in run.stdout, run

    return verify


NETNS_CASES: list[tuple[list[str], Callable[[Run], None]]] = [
    (["help"], lists_commands),
    (["help", "capture"], capture_help),
    (["help", "shoot"], capture_help),
    (["-c", "help"], lists_commands),
    (["--json", "help"], json_help),
    (["-t", "fuji", "--json", "--pretty", "help"], json_help),
    (["--version"], version),
    (["-version"], version),
    (["-?"], usage),
    (["--check"], check_report("192.168.0.1", None)),
    (["--json", "--check"], json_check("192.168.0.1")),
    (["simulate", "--help"], sub_usage("ptpip simulate")),
    (["discover", "--help"], sub_usage("ptpip discover")),
    (["send", "-?"], sub_usage("ptpip send")),
]
NETNS_IDS = [" ".join(a) for a, _ in NETNS_CASES]


@pytest.mark.parametrize(("args", "verify"), NETNS_CASES, ids=NETNS_IDS)
def test_the_default_host_is_not_contacted(
    netns: list[str], tmp_path: Path, args: list[str], verify: Callable[[Run], None]
) -> None:
    run, elapsed = in_netns(netns, args, tmp_path)
    assert run.returncode == 0, str(run)
    verify(run)
    assert CONNECTING not in run.stderr, run
    assert "unreachable" not in run.stderr, run
    assert elapsed < QUICK, f"{elapsed:.2f} s: {run}"


@pytest.mark.parametrize(("args", "verify"), NETNS_CASES, ids=NETNS_IDS)
def test_no_network_socket_is_even_made(
    netns: list[str],
    strace: str,
    tmp_path: Path,
    args: list[str],
    verify: Callable[[Run], None],
) -> None:
    trace = tmp_path / "strace.log"
    prefix = [*netns, strace, "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace)]
    run, _ = in_netns(prefix, args, tmp_path)
    assert run.returncode == 0, str(run)
    verify(run)
    assert inet_calls(trace) == []


def test_the_config_check_with_a_config_file_in_a_namespace(
    netns: list[str], strace: str, tmp_path: Path
) -> None:
    conf = write_config(tmp_path, '[responder]\nvendor = "fuji"\n[server]\nauth = false\n')
    trace = tmp_path / "strace.log"
    prefix = [*netns, strace, "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace)]
    for args in (["-f", str(conf), "--check"], ["-f", str(conf), "-c", "help"]):
        run, _ = in_netns(prefix, args, tmp_path)
        assert run.returncode == 0, str(run)
        assert inet_calls(trace) == []
    check, _ = in_netns(netns, ["-f", str(conf), "--check"], tmp_path)
    assert re.search(r"^host: +192\.168\.0\.1$", check.stdout, re.M), check
    assert re.search(r"^stream port: +55742$", check.stdout, re.M), check
    assert re.search(r"^server auth: +off", check.stdout, re.M), check


def test_strace_sees_a_command_that_connects(netns: list[str], strace: str, tmp_path: Path) -> None:
    """The control: `info` tries 192.168.0.1 (unreachable in the namespace), and the trace
    shows it."""
    trace = tmp_path / "strace.log"
    prefix = [*netns, strace, "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace)]
    run, _ = in_netns(prefix, ["--timeout", "5", "info"], tmp_path)
    assert run.returncode == 105, str(run)
    assert CONNECTING in run.stderr
    assert any("192.168.0.1" in line for line in inet_calls(trace))
