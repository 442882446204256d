"""watch (the camera's events as they arrive) and --record (a pcap that tshark decodes)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from ptpip.ptp.codes import UNSOLICITED_TID, EventCode, PacketType
from ptpip.testing import RunningCamera
from tests.cli.conftest import TIMEOUT, Cli, require_tool, wait_for_session

ISO = 0x500F


def announce(cam: RunningCamera, code: int, *params: int) -> None:
    """The camera sends an event on the current session's event connection."""

    async def send() -> None:
        assert cam.camera is not None and cam.camera.session is not None
        cam.camera.session.send_event(code, UNSOLICITED_TID, params)

    cam.call(send)


def change_iso(cam: RunningCamera, value: int) -> None:
    """What a camera does when someone turns its ISO dial: new value, DevicePropChanged."""
    assert cam.personality.props.set(ISO, value)  # type: ignore[attr-defined]
    announce(cam, EventCode.DEVICE_PROP_CHANGED, ISO)


def test_watch_prints_a_property_change(fresh_cli: Cli, camera: RunningCamera) -> None:
    watch = fresh_cli.start("watch", "--count", "1", "--timeout", "10")
    wait_for_session(camera)
    change_iso(camera, 400)
    assert watch.wait() == 0, watch.err.text(timeout=5)
    out = watch.out.text(timeout=5)
    assert re.fullmatch(r"\d\d:\d\d:\d\d DevicePropChanged ISO = 400\n", out), out
    assert "Traceback" not in watch.err.text(timeout=5)


def test_watch_json_prints_one_object_per_event(fresh_cli: Cli, camera: RunningCamera) -> None:
    watch = fresh_cli.start("--json", "watch", "--count", "2", "--timeout", "10")
    wait_for_session(camera)
    change_iso(camera, 800)
    handle = camera.personality.store.add_capture()  # type: ignore[attr-defined]
    announce(camera, EventCode.OBJECT_ADDED, handle)
    assert watch.wait() == 0, watch.err.text(timeout=5)
    lines = watch.out.text(timeout=5).splitlines()
    changed, added = (json.loads(line) for line in lines[:2])
    assert (changed["code"], changed["name"], changed["property"], changed["value"]) == (
        "0x4006",
        "DevicePropChanged",
        "0x500f",
        "800",
    )
    assert changed["params"] == ["0x500f"]
    assert (added["name"], added["filename"], added["params"]) == (
        "ObjectAdded",
        "IMG_0005.JPG",
        [f"{handle:#x}"],
    )
    assert len(lines) == 2  # JSON Lines: one object per event and nothing else


def test_watch_ends_after_its_timeout(cli: Cli) -> None:
    started = time.monotonic()
    run = cli.ok("watch", "--timeout", "1")
    assert time.monotonic() - started < 15
    assert run.stdout == ""


def test_watch_fails_when_the_camera_goes_away(fresh_cli: Cli, camera: RunningCamera) -> None:
    watch = fresh_cli.start("watch")
    wait_for_session(camera)

    async def drop() -> None:
        assert camera.camera is not None and camera.camera.session is not None
        camera.camera.session.command_conn.abort()

    camera.call(drop)
    assert watch.wait() == 105, watch.err.text(timeout=5)
    err = watch.err.text(timeout=5)
    assert "Traceback" not in err and "never retrieved" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_watch_with_a_camera_string_escapes_it(fresh_cli: Cli, camera: RunningCamera) -> None:
    watch = fresh_cli.start("watch", "--count", "1", "--timeout", "10")
    wait_for_session(camera)
    store = camera.personality.store  # type: ignore[attr-defined]
    path = store.root / "DCIM" / "100PTPIP" / "E\x1b[31mVIL\u202e.JPG"
    path.write_bytes(b"\xff\xd8\xff\xd9")

    async def add() -> None:
        store.rescan()
        assert camera.camera is not None and camera.camera.session is not None
        handle = store.lookup("DCIM/100PTPIP/" + path.name)
        camera.camera.session.send_event(EventCode.OBJECT_ADDED, UNSOLICITED_TID, (handle,))

    camera.call(add)
    assert watch.wait() == 0, watch.err.text(timeout=5)
    out = watch.out.text(timeout=5)
    assert "\x1b" not in out and "\u202e" not in out
    assert "E\\x1b[31mVIL\\u202e.JPG" in out


@pytest.mark.parametrize(
    "args",
    [
        ["watch", "--timeout", "nan"],
        ["watch", "--timeout", "-1"],
        ["watch", "--timeout", "0"],
        ["watch", "--timeout", "inf"],
        ["watch", "--count", "-3"],
    ],
)
def test_watch_bad_values_exit_2_at_once(cli: Cli, args: list[str]) -> None:
    began = time.monotonic()
    run = cli.fails(2, *args)
    assert time.monotonic() - began < 10
    assert "watch:" in run.stderr and len(run.stderr.strip().splitlines()) == 2  # + usage


@pytest.mark.parametrize(
    "args", [["watch", "--count"], ["watch", "--count", "x"], ["watch", "--forever"]]
)
def test_watch_bad_options_exit_2(cli: Cli, args: list[str]) -> None:
    run = cli.fails(2, *args)
    assert "watch: bad option" in run.stderr
    assert "watch [--count N] [--timeout SECONDS]" in run.stderr


# -- --record --------------------------------------------------------------------------------


def tshark(cli: Cli, pcap: Path, *args: str) -> str:
    exe = require_tool("tshark", "tshark")
    try:
        done = subprocess.run(
            [exe, "-r", str(pcap), "-d", f"tcp.port=={cli.port},ptpip", *args],
            env=cli.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"tshark did not finish within {TIMEOUT} s")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_record_writes_a_pcap_that_tshark_decodes(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path
) -> None:
    pcap = tmp_path / "session.pcap"
    fresh_cli.ok("--record", str(pcap), "capture", str(tmp_path / "shot.jpg"))
    assert pcap.stat().st_size > 24
    bad = tshark(fresh_cli, pcap, "-Y", "_ws.malformed || _ws.expert.severity >= warning")
    assert bad == ""
    rows = [
        line.split("\t")
        for line in tshark(
            fresh_cli, pcap, "-T", "fields", "-e", "ptpip.pktType", "-e", "ptpip.eventcode"
        ).splitlines()
    ]
    types = {int(t, 16) for t, *_ in rows if t}
    assert types >= {
        PacketType.INIT_COMMAND_REQUEST,
        PacketType.INIT_COMMAND_ACK,
        PacketType.INIT_EVENT_REQUEST,
        PacketType.INIT_EVENT_ACK,
        PacketType.OPERATION_REQUEST,
        PacketType.OPERATION_RESPONSE,
        PacketType.EVENT,
        PacketType.START_DATA,
        PacketType.END_DATA,
    }
    events = {int(e, 16) for _, e in rows if e}
    assert events >= {EventCode.OBJECT_ADDED, EventCode.CAPTURE_COMPLETE}
    summary = tshark(fresh_cli, pcap)
    assert "Init Command Request" in summary
    assert "OpenSession" in summary
    assert "CloseSession" in summary


def test_record_to_an_unwritable_path_exits_2(cli: Cli, tmp_path: Path) -> None:
    run = cli.fails(2, "--record", str(tmp_path / "missing" / "x.pcap"), "get", "iso")
    assert "cannot write" in run.stderr
