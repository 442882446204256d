"""Cameras that behave like real third-party bodies did: objects on a storage the camera does
not list, captures it never announces."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptpip.camera.generic import GenericCamera
from ptpip.camera.server import ServerSession
from ptpip.ptp.codes import EventCode, OperationCode
from ptpip.ptp.datasets import ObjectInfo
from ptpip.testing import RunningCamera
from tests.cli.conftest import Cli, spy

FOLDER = "DCIM/100PTPIP"
ELSEWHERE = 0x0002_0001  # a storage ID the camera's GetStorageIDs does not list


def personality(camera: RunningCamera) -> GenericCamera:
    p = camera.personality
    assert isinstance(p, GenericCamera)
    return p


@pytest.fixture
def silent_captures(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The camera sends no ObjectAdded and no CaptureComplete (the rest of its events go)."""
    real = ServerSession.send_event

    def send_event(
        self: ServerSession, code: int, transaction_id: int, params: tuple[int, ...] = ()
    ) -> None:
        if code not in (EventCode.OBJECT_ADDED, EventCode.CAPTURE_COMPLETE):
            real(self, code, transaction_id, params)

    monkeypatch.setattr(ServerSession, "send_event", send_event)
    yield


def test_objects_on_an_unlisted_storage_are_listed_apart(
    fresh_cli: Cli, camera: RunningCamera
) -> None:
    """Seen on a Canon dump: ObjectInfo names a storage GetStorageIDs does not list."""
    store = personality(camera).store
    moved = store.lookup(f"{FOLDER}/IMG_0003.JPG")
    real = store.object_info

    def info(handle: int) -> ObjectInfo:
        found = real(handle)
        return dataclasses.replace(found, storage_id=ELSEWHERE) if handle == moved else found

    store.object_info = info  # type: ignore[method-assign]
    text = fresh_cli.ok("ls").stdout
    head, _, rest = text.partition("store_00020001")
    assert "IMG_0003.JPG" not in head
    assert rest.startswith("  unknown storage 0x00020001")
    assert re.search(rf"0x{moved:X} .* {FOLDER}/IMG_0003\.JPG", rest)
    data = json.loads(fresh_cli.ok("--json", "ls").stdout)
    assert {"id": "0x00020001", "listed": False}.items() <= data["storages"][-1].items()
    (entry,) = [o for o in data["objects"] if o["handle"] == moved]
    assert entry["storage"] == "0x00020001"


def test_a_capture_nobody_announces_is_found_on_the_card(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path, silent_captures: None
) -> None:
    before = set(personality(camera).store.handles())
    run = fresh_cli.ok("--timeout", "1", "capture", str(tmp_path / "shot.jpg"))
    (new,) = set(personality(camera).store.handles()) - before
    assert f"(0x{new:X}), saved to {tmp_path / 'shot.jpg'}" in run.stdout
    assert (tmp_path / "shot.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_a_capture_that_shows_nothing_is_a_failed_command_not_a_lost_camera(
    fresh_cli: Cli, camera: RunningCamera, silent_captures: None
) -> None:
    store = personality(camera).store
    existing = store.lookup(f"{FOLDER}/IMG_0001.JPG")
    store.add_capture = lambda *a, **k: existing  # type: ignore[method-assign]
    with spy(camera) as seen:
        run = fresh_cli("--timeout", "1", "capture")
    assert run.returncode == 3, str(run)  # the connection was fine: not 105
    assert seen.params_of(OperationCode.INITIATE_CAPTURE)
    line = run.stderr.strip()
    assert "ObjectAdded" in line and "CaptureComplete" in line and "no new object" in line
    assert len(line.splitlines()) == 1
