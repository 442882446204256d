"""Helpers for the tests of the installed ``ptpip`` command.

Every test runs the console script of this venv as a subprocess, always with a timeout and
always against 127.0.0.1 (``-h 127.0.0.1``: the seed's default host 192.168.0.1 must never be
contacted), with XDG_CONFIG_HOME, XDG_STATE_HOME and HOME inside the test's tmp_path. The
camera is the virtual one (:class:`ptpip.testing.RunningCamera`) in a thread of the test
process, so the tests can look at what it received.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

import pytest

from ptpip.camera.personality import Reply
from ptpip.camera.server import ServerSession
from ptpip.ip.packets import FujiInitCommandRequest, InitCommandRequest
from ptpip.ip.responder import RequestReceived
from ptpip.testing import RunningCamera

#: The installed console script (not ``python -m``): what users run.
PTPIP = Path(sys.executable).with_name("ptpip")
LOOPBACK = "127.0.0.1"
#: No subprocess may run longer than this many seconds.
TIMEOUT = 60.0
#: Bounded waits for a line of output, a session, a process to stop.
WAIT = 20.0
REPO = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test; under CI=true fail it instead, as CI must run everything."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run in CI)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed: apt-get install {package}")
    return path


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound once, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.01)


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


@dataclass
class Run:
    """One finished ``ptpip`` run."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"ptpip {' '.join(self.args)} -> exit {self.returncode}\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


class Lines:
    """Collects a pipe's output in a thread so tests can wait for a line with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def _take(self, timeout: float) -> str | None:
        line = self._queue.get(timeout=timeout)
        if line is not None:
            self.lines.append(line)
        return line

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """The first new line matching ``pattern`` (a regex); fails on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._take(max(0.0, left)) if left > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                pytest.fail(f"no line matching {pattern!r} within {timeout} s: {self.text()!r}")
            m = re.search(pattern, line)
            if m:
                return m

    def text(self, timeout: float = 0.0) -> str:
        """Everything read so far; with ``timeout``, first wait that long for EOF."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Empty):
            while True:
                if self._take(max(0.0, deadline - time.monotonic())) is None:
                    break
        return "".join(self.lines)


@dataclass
class Background:
    """A ``ptpip`` process running in the background, its stdout and stderr collected."""

    proc: subprocess.Popen[str]
    out: Lines
    err: Lines

    def stop(self, sig: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        """Send ``sig`` and wait (bounded) for the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = WAIT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail(f"ptpip {self.proc.args!r} did not stop within {timeout} s")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Cli:
    """Runs the installed ``ptpip``; ``cli(*args)`` adds ``-h 127.0.0.1 -p PORT``."""

    home: Path
    port: int
    background: list[Background] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PTPIP"))}
        env.update(
            XDG_CONFIG_HOME=str(self.home / "config"),
            XDG_STATE_HOME=str(self.home / "state"),
            HOME=str(self.home / "home"),
            COLUMNS="200",
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def target(self) -> list[str]:
        return ["-h", LOOPBACK, "-p", str(self.port)]

    def raw(
        self,
        *args: str,
        timeout: float = TIMEOUT,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        """``ptpip ARGS`` exactly as given; no traceback may appear on either stream."""
        try:
            done = subprocess.run(
                [str(PTPIP), *args],
                env=env or self.env(),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"ptpip {args} did not finish within {timeout} s: {exc.stderr!r}")
        run = Run(list(args), done.returncode, done.stdout, done.stderr)
        assert_no_traceback(run.stdout, run.stderr)
        return run

    def __call__(self, *args: str, timeout: float = TIMEOUT, cwd: Path | None = None) -> Run:
        return self.raw(*self.target, *args, timeout=timeout, cwd=cwd)

    def ok(self, *args: str, cwd: Path | None = None) -> Run:
        """``cli(*args)``, which must succeed."""
        run = self(*args, cwd=cwd)
        assert run.returncode == 0, str(run)
        return run

    def fails(self, code: int, *args: str) -> Run:
        """``cli(*args)``, which must exit with ``code``."""
        run = self(*args)
        assert run.returncode == code, str(run)
        return run

    def start(self, *args: str, raw: bool = False) -> Background:
        """``ptpip`` in the background (killed at the end of the test if still running)."""
        argv = [str(PTPIP), *(args if raw else (*self.target, *args))]
        proc = subprocess.Popen(
            argv,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None and proc.stderr is not None
        bg = Background(proc, Lines(proc.stdout), Lines(proc.stderr))
        self.background.append(bg)
        return bg

    def close(self) -> None:
        """Kill what :meth:`start` started and is still running."""
        for bg in self.background:
            bg.kill()


def make_cli(home: Path, port: int) -> Iterator[Cli]:
    with contextlib.closing(Cli(home, port)) as cli:
        yield cli


@pytest.fixture(scope="module")
def shared_camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCamera]:
    """One virtual camera for a whole module, for tests that do not depend on its card."""
    card = tmp_path_factory.mktemp("shared") / "card"
    with RunningCamera(storage=card, host=LOOPBACK, port=0) as cam:
        yield cam


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[RunningCamera]:
    """A fresh virtual camera (its card: 4 sample JPEGs in tmp_path/card)."""
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        yield cam


@pytest.fixture
def cli(shared_camera: RunningCamera, tmp_path: Path) -> Iterator[Cli]:
    """``ptpip`` aimed at the module's shared camera."""
    yield from make_cli(tmp_path, shared_camera.port)


@pytest.fixture
def fresh_cli(camera: RunningCamera, tmp_path: Path) -> Iterator[Cli]:
    """``ptpip`` aimed at a fresh camera of its own."""
    yield from make_cli(tmp_path, camera.port)


@dataclass
class Spy:
    """What the virtual camera received: Init requests and operations (code, params)."""

    inits: list[InitCommandRequest | FujiInitCommandRequest] = field(default_factory=list)
    requests: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)

    def params_of(self, code: int) -> list[tuple[int, ...]]:
        return [params for c, params in self.requests if c == code]


@contextlib.contextmanager
def spy(cam: RunningCamera) -> Iterator[Spy]:
    """Record what ``cam`` receives, by wrapping its personality's hooks (no server edits)."""
    personality = cam.personality
    record = Spy()
    handle, check = personality.handle, personality.check_initiator

    async def spy_handle(
        session: ServerSession, request: RequestReceived, data: bytes | None
    ) -> Reply:
        record.requests.append((request.code, tuple(request.params)))
        return await handle(session, request, data)

    def spy_check(request: InitCommandRequest | FujiInitCommandRequest) -> int | None:
        record.inits.append(request)
        return check(request)

    personality.handle = spy_handle  # type: ignore[method-assign]
    personality.check_initiator = spy_check  # type: ignore[method-assign]
    try:
        yield record
    finally:
        del personality.handle
        del personality.check_initiator


def wait_for_session(cam: RunningCamera) -> None:
    """Until a client has its session open and its event connection up."""

    def ready() -> bool:
        assert cam.camera is not None
        s = cam.camera.session
        return s is not None and s.event_conn is not None and s.session_id is not None

    wait_until(ready, what="a client session with its event connection")


def server_token(bg: Background) -> str:
    """The command server's secret, from the file its startup lines name; waits for it."""
    m = bg.err.wait_for(r"the token \(new at every start\) is in (\S+)", timeout=30)
    bg.err.wait_for(r"awaiting messages", timeout=30)
    return Path(m[1]).read_text().strip()


def server_send(port: int, line: str, token: str) -> str:
    """One command to the command server, over TCP with its secret; the reply."""
    with socket.create_connection((LOOPBACK, port), timeout=WAIT) as sock:
        sock.sendall(f"auth {token}\n{line}\n".encode())
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks).decode()
    assert reply.startswith("ok\n"), reply
    return reply.removeprefix("ok\n")
