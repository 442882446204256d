"""The live-view page in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium), against the virtual Fuji and Canon cameras.

Chromium runs with a fresh profile and the flags that keep it from sending anything off the
machine; it loads only http://127.0.0.1:PORT pages, and its resolver knows no other host.
A screenshot of each page is kept in the test's tmp folder and in artifacts/ at the top of
the work tree (git-ignored).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ptpip.camera.factory import VENDORS as VIRTUAL
from ptpip.ptp.codes import Vendor
from ptpip.testing import RunningCamera
from tests.cli.conftest import (
    LOOPBACK,
    WAIT,
    Background,
    Cli,
    free_port,
    make_cli,
    server_send,
    server_token,
)
from tests.interop.conftest import unavailable

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.interop

REPO = Path(__file__).resolve().parents[2]
#: Chromium's switches: headless, and nothing that talks to the outside world.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1280,800",
)
#: Debian package of each program.
PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver"}


def canon_available() -> bool:
    return Vendor.CANON in VIRTUAL


VENDORS = [
    pytest.param("fuji", id="fuji"),
    pytest.param(
        "canon",
        id="canon",
        marks=pytest.mark.skipif(
            not canon_available(), reason="no virtual Canon camera in this version of ptpip"
        ),
    ),
]


def program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(
            f"{name} is not installed: apt-get install {PACKAGES[name]}"
            " (or run scripts/install-system-deps.sh as root)"
        )
    return path


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    chromium, chromedriver = program("chromium"), program("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed: pip install -e '.[dev]'")
    # selenium must not look for drivers or report anything: both programs are given
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(WAIT)
        driver.set_script_timeout(WAIT)
        yield driver
    finally:
        driver.quit()


@dataclass
class Target:
    """A virtual camera and the ptpip flags that reach it."""

    vendor: str
    camera: RunningCamera
    flags: list[str]


@pytest.fixture(params=VENDORS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    vendor: str = request.param
    if vendor == "fuji":
        cam = RunningCamera("fuji", storage=tmp_path / "card", port=0, liveview_fps=15.0)
    else:
        cam = RunningCamera(vendor, storage=tmp_path / "card", port=0)
    with cam:
        ports = cam.ports
        flags = ["-t", vendor, "-h", LOOPBACK, "-pc", str(ports["command"])]
        if "event" in ports:
            flags += ["-pe", str(ports["event"])]
        if "stream" in ports:
            flags += ["-ps", str(ports["stream"])]
        yield Target(vendor, cam, flags)


@pytest.fixture
def cli(target: Target, tmp_path: Path) -> Iterator[Cli]:
    yield from make_cli(tmp_path, target.camera.port)


def open_page(driver: WebDriver, url: str) -> None:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname == LOOPBACK, url  # nothing else, ever
    driver.get(url)


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def text_of(driver: WebDriver, css: str) -> str:
    """The text of an element, read in one step (the overlay is redrawn every second)."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''"
    text = driver.execute_script(script, css)
    return text.strip() if isinstance(text, str) else ""


def frame_number(driver: WebDriver) -> int:
    return int(text_of(driver, "#frames") or 0)


def overlay_value(driver: WebDriver, key: str) -> str:
    return text_of(driver, f'#vf [data-key="{key}"] .v')


def post_json(url: str, path: str, body: object) -> dict[str, object]:
    """Another client of the page's server (a second tab, a script)."""
    import http.client

    parts = urlsplit(url)
    assert parts.hostname == LOOPBACK and parts.port is not None
    conn = http.client.HTTPConnection(LOOPBACK, parts.port, timeout=WAIT)
    try:
        headers = {"Content-Type": "application/json"}
        conn.request("POST", path, json.dumps(body), headers)
        data: dict[str, object] = json.loads(conn.getresponse().read())
        return data
    finally:
        conn.close()


def save_screenshot(driver: WebDriver, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot))
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copyfile(shot, artifacts / name)
    return shot


def iso_choices(target: Target) -> tuple[str, str]:
    """(the virtual camera's ISO as the overlay shows it, another allowed value)."""
    return ("S6400", "800") if target.vendor == "fuji" else ("3200", "800")


def left_live_view(target: Target) -> bool:
    """The virtual camera sends no live view any more (stream closed / EVF output off)."""
    cam = target.camera.camera
    assert cam is not None
    personality: Any = cam.personality
    if target.vendor == "canon":
        return not personality.liveview_on
    session = cam.session
    return session is None or not any(c.is_open for c in session.stream_conns)


def test_the_page_in_chromium(browser: WebDriver, target: Target, cli: Cli, tmp_path: Path) -> None:
    saved = tmp_path / "captures"
    bg: Background = cli.start(
        *target.flags, "liveview", "--no-browser", "--save", str(saved), raw=True
    )
    url = bg.out.wait_for(r"live view: (?P<url>http://127\.0\.0\.1:\d+/)$", timeout=30)["url"]
    open_page(browser, url)
    assert browser.title.endswith("ptpip live view")

    # frames advance
    first = wait_for("a first frame", lambda: frame_number(browser))
    wait_for("more frames", lambda: frame_number(browser) >= first + 5)

    # the overlay shows the camera's values, and follows a setting made by another client
    before, after = iso_choices(target)
    wait_for("the overlay", lambda: overlay_value(browser, "iso") == before)
    assert overlay_value(browser, "shots")
    assert overlay_value(browser, "whitebalance")
    reply = post_json(url, "/api/set", {"key": "iso", "value": after})
    assert reply.get("value") == after, reply
    wait_for(f"ISO {after} in the overlay", lambda: overlay_value(browser, "iso") == after)
    wait_for(
        "the ISO picker to follow",
        lambda: (
            browser.execute_script("return document.getElementById('control-iso').value") == after
        ),
    )

    # the capture button produces a file, shown on the page
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "capture").click()
    name = wait_for("the capture", lambda: text_of(browser, "#last-name"), timeout=30)
    files = [p for p in saved.iterdir() if p.is_file()]
    assert len(files) == 1 and files[0].stat().st_size > 0, files
    assert files[0].name in name
    assert files[0].read_bytes()[:2] == b"\xff\xd8"
    wait_for(
        "the capture's preview to load",
        lambda: browser.execute_script(
            "const i = document.getElementById('last-img'); return i.complete && i.naturalWidth"
        ),
    )
    wait_for("more frames after the capture", lambda: frame_number(browser) >= first + 10)
    shot = save_screenshot(
        browser,
        tmp_path,
        "liveview.png" if target.vendor == "fuji" else f"liveview-{target.vendor}.png",
    )
    assert shot.stat().st_size > 10_000

    # closing the page ends the command, and the camera leaves live view
    browser.get("about:blank")
    assert bg.wait(WAIT + 5) == 0
    assert "the page was closed" in bg.out.text(5)
    wait_for("the camera to leave live view", lambda: left_live_view(target))


def test_the_page_beside_the_command_server(
    browser: WebDriver, target: Target, cli: Cli, tmp_path: Path
) -> None:
    port = free_port()
    bg = cli.start(*target.flags, "-s", "-sp", str(port), raw=True)
    token = server_token(bg)
    reply = server_send(port, f"liveview --no-browser --save {tmp_path / 'saved'}", token)
    m = re.match(r"liveview enabled: (http://127\.0\.0\.1:\d+/)", reply)
    assert m, reply
    open_page(browser, m[1])
    first = wait_for("a first frame", lambda: frame_number(browser))
    # a `set` from another client of ptpip: the overlay follows within a second or two
    before, after = iso_choices(target)
    wait_for("the overlay", lambda: overlay_value(browser, "iso") == before)
    assert "successfully set" in server_send(port, f"set iso {after}", token)
    wait_for(f"ISO {after} in the overlay", lambda: overlay_value(browser, "iso") == after)
    # `capture view` puts the image on the page
    assert "shown at http://127.0.0.1:" in server_send(port, "capture view", token)
    wait_for("the capture on the page", lambda: text_of(browser, "#last-name"), timeout=30)
    wait_for("frames to go on", lambda: frame_number(browser) >= first + 5)
    assert server_send(port, "liveview stop", token).startswith("liveview stopped")
    wait_for("the camera to leave live view", lambda: left_live_view(target))
    assert bg.stop(signal.SIGTERM) == 0
