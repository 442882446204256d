"""Helpers for the interop tests: required tools, a virtual camera, a sandboxed gphoto2.

Outside CI a missing tool skips the test with what to install; with ``CI=true`` it fails,
because CI must run these (scripts/install-system-deps.sh installs them as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from ptpip.camera.generic import GenericCamera
from ptpip.testing import RunningCamera

#: The Debian package that provides each tool.
PACKAGES = {"gphoto2": "gphoto2", "tshark": "tshark", "dumpcap": "tshark"}
#: Every subprocess gets this many seconds at most.
SUBPROCESS_TIMEOUT = 60.0
LOOPBACK = "127.0.0.1"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test (fail it under CI=true, where every interop test must run)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the interop tests must run in CI)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of the program ``name``; skips (or fails in CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        package = PACKAGES.get(name, name)
        unavailable(
            f"{name} is not installed: apt-get install {package} "
            "(or run scripts/install-system-deps.sh as root)"
        )
    return path


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def run_tool(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = SUBPROCESS_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a program with a timeout; fails the test on a timeout or (with check) an error."""
    try:
        result = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{args} did not finish within {timeout} s; output so far: {exc.output!r}")
    if check and result.returncode != 0:
        pytest.fail(f"{args} failed: {output_of(result)}")
    return result


def generic(cam: RunningCamera) -> GenericCamera:
    personality = cam.personality
    assert isinstance(personality, GenericCamera)
    return personality


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[RunningCamera]:
    """A generic virtual camera on a free 127.0.0.1 port; its card (4 JPEGs) in tmp_path."""
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        yield cam


@dataclass
class Gphoto2:
    """Runs stock gphoto2 against one camera, with its own HOME (so ~/.gphoto/settings is
    private to the test) and working directory (where downloads land)."""

    executable: str
    host: str
    port: int
    home: Path
    cwd: Path

    @property
    def port_spec(self) -> str:
        # Both ports: with only the command port, gphoto2 still opens the event connection
        # on 15740 (gphoto2-interop.md §1).
        return f"ptpip:{self.host}:{self.port}:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
        env.update(HOME=str(self.home), LC_ALL="C", LANG="C")
        return env

    def __call__(
        self, *args: str, check: bool = True, timeout: float = SUBPROCESS_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return run_tool(
            [self.executable, "--port", self.port_spec, *args],
            cwd=self.cwd,
            env=self.env(),
            check=check,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def gphoto2_executable() -> str:
    return require_tool("gphoto2")


@pytest.fixture
def gphoto2(gphoto2_executable: str, camera: RunningCamera, tmp_path: Path) -> Gphoto2:
    """``gphoto2(*args)`` runs gphoto2 on the ``camera`` and returns the CompletedProcess."""
    # gphoto2 takes dotted IPv4 literals only; never anything but loopback here.
    assert camera.host == LOOPBACK
    home = tmp_path / "home"
    cwd = tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    return Gphoto2(gphoto2_executable, camera.host, camera.port, home, cwd)
