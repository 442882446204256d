"""``ptpip liveview`` run as a user would: the installed script, against virtual cameras."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from ptpip.liveview.mjpeg import JpegSplitter, MultipartReader, Part
from ptpip.testing import RunningCamera
from ptpip.vendors.fuji.camera import FujiCamera
from tests.cli.conftest import (
    LOOPBACK,
    PTPIP,
    TIMEOUT,
    WAIT,
    Background,
    Cli,
    assert_no_traceback,
    free_port,
    make_cli,
    server_send,
    server_token,
    wait_until,
)

URL = r"live view: (?P<url>http://127\.0\.0\.1:\d+/)$"


@pytest.fixture(scope="module")
def fuji(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCamera]:
    card = tmp_path_factory.mktemp("fuji") / "card"
    with RunningCamera("fuji", storage=card, host=LOOPBACK, port=0, liveview_fps=20.0) as cam:
        yield cam


@dataclass
class FujiCli:
    """``ptpip -t fuji -h 127.0.0.1 -pc P -pe P+1 -ps P+2 ...``."""

    cli: Cli
    target: list[str]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Standard output as bytes (MJPEG); no traceback on standard error."""
        try:
            done = subprocess.run(
                [str(PTPIP), *self.target, *args],
                env=env or self.cli.env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"ptpip {args} did not finish within {TIMEOUT} s: {exc.stderr!r}")
        assert_no_traceback(done.stderr.decode(errors="replace"))
        return done

    def start(self, *args: str, env: dict[str, str] | None = None) -> Background:
        if env is None:
            return self.cli.start(*self.target, *args, raw=True)
        cli = Cli(self.cli.home, self.cli.port)
        cli.env = lambda: env  # type: ignore[method-assign]
        bg = cli.start(*self.target, *args, raw=True)
        self.cli.background.append(bg)
        return bg


@pytest.fixture
def fcli(fuji: RunningCamera, tmp_path: Path) -> Iterator[FujiCli]:
    ports = fuji.ports
    target = ["-t", "fuji", "-h", LOOPBACK, "-pc", str(ports["command"])]
    target += ["-pe", str(ports["event"]), "-ps", str(ports["stream"])]
    for cli in make_cli(tmp_path, fuji.port):
        yield FujiCli(cli, target)
    wait_for_no_session(fuji)


def wait_for_no_session(cam: RunningCamera) -> None:
    """The next test's client gets in only once this one's session is gone."""

    def gone() -> bool:
        assert cam.camera is not None
        session = cam.camera.session
        return session is None or not session.command_conn.is_open

    wait_until(gone, what="the client session to end")


def stream_connections(cam: RunningCamera) -> int:
    assert cam.camera is not None
    session = cam.camera.session
    return 0 if session is None else sum(1 for c in session.stream_conns if c.is_open)


def read_stream(url: str, count: int) -> list[Part]:
    """``count`` parts of ``URL/stream.mjpg``, then hang up (as a closing page does)."""
    parts = urlsplit(url)
    assert parts.hostname == LOOPBACK and parts.port is not None
    conn = http.client.HTTPConnection(LOOPBACK, parts.port, timeout=WAIT)
    try:
        conn.request("GET", "/stream.mjpg")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("multipart/x-mixed-replace")
        reader = MultipartReader()
        got: list[Part] = []
        while len(got) < count:
            chunk = response.read1(65536)
            assert chunk, "the stream ended early"
            got.extend(reader.feed(chunk))
        return got[:count]
    finally:
        conn.close()


def get_json(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    assert parts.hostname == LOOPBACK and parts.port is not None
    conn = http.client.HTTPConnection(LOOPBACK, parts.port, timeout=WAIT)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        assert response.status == 200
        data: dict[str, object] = json.loads(response.read())
        return data
    finally:
        conn.close()


def decode_all(images: list[bytes]) -> list[tuple[int, int]]:
    sizes = []
    for image in images:
        with Image.open(io.BytesIO(image)) as decoded:
            assert decoded.format == "JPEG"
            decoded.load()
            sizes.append(decoded.size)
    return sizes


# -- pipes -----------------------------------------------------------------------------------


def test_mjpeg_to_standard_output_decodes_frame_by_frame(fcli: FujiCli) -> None:
    done = fcli.run("liveview", "--mjpeg", "-", "--count", "12")
    assert done.returncode == 0, done.stderr
    splitter = JpegSplitter()
    images = splitter.feed(done.stdout)
    assert len(images) == 12 and splitter.pending == 0  # nothing else on standard output
    assert decode_all(images) == [(640, 480)] * 12
    assert b"12 frames written to standard output" in done.stderr


def test_mjpeg_to_a_file(fcli: FujiCli, tmp_path: Path) -> None:
    target = tmp_path / "out.mjpeg"
    done = fcli.run("liveview", "--mjpeg", str(target), "--count", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == f"5 frames written to {target} (5 frames)\n"
    assert len(decode_all(JpegSplitter().feed(target.read_bytes()))) == 5


def test_frames_into_a_folder_as_numbered_jpegs(fcli: FujiCli, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    assert fcli.run("liveview", "--frames", str(folder), "--count", "4").returncode == 0
    assert fcli.run("liveview", "--frames", str(folder), "--count", "2").returncode == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame-{n:06d}.jpg" for n in range(1, 7)]  # the second run went on
    for path in folder.iterdir():
        with Image.open(path) as image:
            image.verify()


def test_frames_never_go_through_a_planted_link(fcli: FujiCli, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    secret = tmp_path / "dotfile"
    secret.write_bytes(b"precious")
    for n in range(1, 4):  # the names the frames are written under
        (folder / f"frame-{n:06d}.jpg.part").symlink_to(secret)
    assert fcli.run("liveview", "--frames", str(folder), "--count", "3").returncode == 0
    assert secret.read_bytes() == b"precious"
    frames = sorted(p for p in folder.iterdir() if not p.is_symlink())
    assert [p.name for p in frames] == [f"frame-{n:06d}.jpg" for n in range(1, 4)]


def test_the_pipe_reader_going_away_ends_it_quietly(fcli: FujiCli) -> None:
    argv = [str(PTPIP), *fcli.target, "liveview", "--mjpeg", "-"]
    proc = subprocess.Popen(
        argv, env=fcli.cli.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(30_000)
        proc.stdout.close()  # as `| head -c 30000` does
        assert proc.wait(WAIT) == 0
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert "the reader closed the pipe" in err
    assert_no_traceback(err)


# -- the page --------------------------------------------------------------------------------


def test_the_page_runs_until_it_is_closed(fcli: FujiCli, fuji: RunningCamera) -> None:
    bg = fcli.start("liveview", "--no-browser")
    url = bg.out.wait_for(URL)["url"]
    assert "close the page or press Ctrl-C" in bg.err.wait_for(r"live view.*")[0]
    parts = read_stream(url, 5)
    assert len({p.headers["x-frame"] for p in parts}) == 5
    assert decode_all([p.body for p in parts]) == [(640, 480)] * 5
    # the page is closed: the command ends by itself, and the camera's stream with it
    assert bg.wait(WAIT) == 0
    out = bg.out.text(5)
    assert re.search(
        r"^live view stopped \(the page was closed\): \d+ frames sent to 1 viewer", out, re.M
    )
    wait_until(lambda: stream_connections(fuji) == 0, what="the camera's stream to close")


def test_ctrl_c_stops_it(fcli: FujiCli) -> None:
    bg = fcli.start("liveview", "--no-browser", "--stay")
    url = bg.out.wait_for(URL)["url"]
    read_stream(url, 2)
    time.sleep(0.5)  # --stay: a closed page does not end it
    assert bg.proc.poll() is None
    assert bg.stop(signal.SIGINT) == 0
    assert "live view stopped (interrupted)" in bg.out.text(5)


def test_it_opens_the_browser_on_the_page(fcli: FujiCli, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n', encoding="utf-8")
    browser.chmod(0o755)
    bg = fcli.start("liveview", env={**fcli.cli.env(), "BROWSER": str(browser)})
    url = bg.out.wait_for(URL)["url"]
    assert "opened in your browser" in bg.err.wait_for(r"live view.*")[0]
    wait_until(opened.exists, what="the browser to be started")
    assert opened.read_text().split() == [url]
    assert bg.stop(signal.SIGTERM) == 0


def test_a_given_port_and_json(fcli: FujiCli) -> None:
    port = free_port()
    bg = fcli.start("--json", "liveview", "--no-browser", "--port", str(port), "novf")
    line = bg.out.wait_for(r"^\{.*\}$")[0]
    assert json.loads(line) == {"url": f"http://127.0.0.1:{port}/"}
    state = get_json(f"http://127.0.0.1:{port}/api/state")
    assert state["overlay"] is False and state["items"] == []
    assert bg.stop(signal.SIGINT) == 0
    assert json.loads(bg.out.text(5).splitlines()[-1])["stopped"] == "signal"


def test_a_camera_without_live_view_says_so_in_one_line(tmp_path: Path) -> None:
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        for cli in make_cli(tmp_path, cam.port):
            for args in (["liveview", "--no-browser"], ["liveview", "--mjpeg", "-"]):
                run = cli(*args)
                assert run.returncode == 3, str(run)
                assert run.stdout == ""
                assert run.stderr.count("\n") == 1, run.stderr
                assert run.stderr.startswith("ptpip: liveview: generic cameras have no live view")
                assert "-t fuji" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "3"], "--count goes with --mjpeg or --frames"),
        (["--port", "http"], "--port wants a number"),
        (["--frames"], "--frames needs a value"),
        (["--zoom"], "unknown argument '--zoom'"),
    ],
)
def test_bad_arguments_exit_3(fcli: FujiCli, args: list[str], message: str) -> None:
    done = fcli.run("liveview", *args)
    assert done.returncode == 3
    assert message in done.stderr.decode()


def test_help(fcli: FujiCli) -> None:
    out = fcli.run("help", "liveview").stdout.decode()
    assert out.startswith('"liveview" shows the camera')
    assert "--mjpeg FILE|-" in out and "novf" in out


# -- in the command server: a page in the background, and other clients ---------------------


def test_server_mode_runs_the_page_beside_other_commands(
    fcli: FujiCli, fuji: RunningCamera, tmp_path: Path
) -> None:
    port = free_port()
    bg = fcli.start("-s", "-sp", str(port))
    token = server_token(bg)
    reply = server_send(port, f"liveview --no-browser --save {tmp_path / 'saved'}", token)
    m = re.fullmatch(
        r"liveview enabled: (http://127\.0\.0\.1:\d+/); `liveview stop` ends it\n", reply
    )
    assert m, reply
    url = m[1]
    assert server_send(port, "liveview", token) == f"liveview already enabled: {url}\n"
    read_stream(url, 3)
    # another client of the same ptpip sets the ISO: the page's overlay follows
    assert server_send(port, "set iso 800", token).startswith(
        "property iso successfully set to 800"
    )
    for _ in range(30):
        items = get_json(url + "api/state")["items"]
        assert isinstance(items, list)
        if {i["key"]: i["value"] for i in items}.get("iso") == "800":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the overlay did not follow the set")
    # `capture view` shows the image on the page
    reply = server_send(port, "capture view", token)
    m = re.search(r", shown at (http://127\.0\.0\.1:\d+/capture/(\d+)\.jpg)$", reply.strip())
    assert m, reply
    capture = get_json(url + "api/state")["capture"]
    assert isinstance(capture, dict) and capture["seq"] == int(m[2])
    assert server_send(port, "liveview stop", token) == f"liveview stopped ({url})\n"
    assert server_send(port, "liveview stop", token) == "liveview is not running\n"
    with pytest.raises(OSError):
        get_json(url + "api/state")
    wait_until(lambda: stream_connections(fuji) == 0, what="the camera's stream to close")
    assert bg.stop(signal.SIGTERM) == 0


def test_server_mode_stops_the_page_on_exit(fcli: FujiCli, fuji: RunningCamera) -> None:
    port = free_port()
    bg = fcli.start("-s", "-sp", str(port))
    token = server_token(bg)
    url = server_send(port, "liveview --no-browser", token).split()[2]
    read_stream(url, 2)
    assert bg.stop(signal.SIGTERM) == 0
    assert "Traceback" not in bg.err.text(5)
    wait_for_no_session(fuji)
    assert stream_connections(fuji) == 0


def test_pipe_in_server_mode_refuses_standard_output(fcli: FujiCli) -> None:
    port = free_port()
    bg = fcli.start("-s", "-sp", str(port))
    token = server_token(bg)
    assert "run it as a single command" in server_send(port, "liveview --mjpeg -", token)
    assert bg.stop(signal.SIGTERM) == 0


def test_frames_are_the_cameras_own_bytes(fcli: FujiCli, fuji: RunningCamera) -> None:
    personality = fuji.personality
    assert isinstance(personality, FujiCamera)
    done = fcli.run("liveview", "--mjpeg", "-", "--count", "8")
    assert done.returncode == 0
    future = personality._pictures
    assert future is not None
    pictures = set(future.result())
    assert all(image in pictures for image in JpegSplitter().feed(done.stdout))


def test_the_shell_runs_the_page_in_the_background(fuji: RunningCamera, tmp_path: Path) -> None:
    from tests.cli.test_shell import PROMPT, READY, Shell

    ports = fuji.ports

    class FujiShellCli(Cli):
        @property
        def target(self) -> list[str]:
            return ["-h", LOOPBACK, "-pc", str(ports["command"])]

    with contextlib.closing(FujiShellCli(tmp_path, ports["command"])) as cli:
        flags = ["-t", "fuji", "-pe", str(ports["event"]), "-ps", str(ports["stream"]), "-i"]
        shell = Shell(cli, *flags)
        try:
            shell.expect(READY)
            shell.expect(PROMPT)
            out = shell.command(f"liveview --no-browser --save {tmp_path / 'saved'}")
            m = re.match(r"liveview enabled: (http://127\.0\.0\.1:\d+/)", out)
            assert m, out
            read_stream(m[1], 3)
            assert "shown at http://127.0.0.1:" in shell.command("capture view")
            assert re.fullmatch(r"\S+ \(0x[0-9a-f]+\)\n", shell.command("get iso"))  # goes on
            assert shell.close() == 0  # quitting stops the page first
        finally:
            if shell.child.isalive():
                shell.child.terminate(force=True)
    wait_for_no_session(fuji)
    assert stream_connections(fuji) == 0


def _personality_available(vendor: str) -> bool:
    from ptpip.camera.factory import VENDORS
    from ptpip.ptp.codes import Vendor

    return Vendor(vendor) in VENDORS


@pytest.mark.parametrize("vendor", ["canon", "leica"])
def test_canon_and_leica_stream_too(vendor: str, tmp_path: Path) -> None:
    assert _personality_available(vendor)
    with RunningCamera(vendor, storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        for cli in make_cli(tmp_path, cam.port):
            target = tmp_path / "out.mjpeg"
            run = cli("-t", vendor, "liveview", "--mjpeg", str(target), "--count", "6")
            assert run.returncode == 0, str(run)
            assert len(decode_all(JpegSplitter().feed(target.read_bytes()))) == 6
        personality: Any = cam.personality
        if vendor == "canon":  # the EVF went back off when the command ended
            assert personality.liveview_on is False
