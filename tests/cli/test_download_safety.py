"""`download`, `capture`, `ls` and `info` against hostile trees, names, folders and disks."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptpip.camera.generic import GenericCamera
from ptpip.ptp.codes import OperationCode
from ptpip.ptp.datasets import ObjectInfo
from ptpip.testing import RunningCamera
from tests.cli.conftest import (
    LOOPBACK,
    PTPIP,
    TIMEOUT,
    Cli,
    assert_no_traceback,
    spy,
    unavailable,
)

FOLDER = "DCIM/100PTPIP"


def store_of(camera: RunningCamera) -> GenericCamera:
    personality = camera.personality
    assert isinstance(personality, GenericCamera)
    return personality


def card(camera: RunningCamera) -> Path:
    return camera.storage


def rescan(camera: RunningCamera) -> None:
    async def scan() -> None:
        store_of(camera).store.rescan()

    camera.call(scan)


def lie_about_parents(camera: RunningCamera, parents: dict[str, str]) -> None:
    """ObjectInfo of each object (by path) names another object (by path) as its parent."""
    store = store_of(camera).store
    real = store.object_info
    by_handle = {store.lookup(child): store.lookup(parent) for child, parent in parents.items()}

    def lying(handle: int) -> ObjectInfo:
        info = real(handle)
        if handle in by_handle:
            return dataclasses.replace(info, parent=by_handle[handle])
        return info

    store.object_info = lying  # type: ignore[method-assign]


def one_line_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ptpip: download: ")]


# -- a hostile folder tree ----------------------------------------------------------------


def test_a_hostile_tree_downloads_what_it_can_and_reports_the_rest(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path
) -> None:
    root = card(camera)
    for folder in ("DCIM/LOOPA", "DCIM/LOOPB", "DCIM/FP"):
        (root / folder).mkdir(parents=True)
    (root / "DCIM/LOOPB/LOOP.JPG").write_bytes(b"loop")
    (root / "DCIM/FP/CHILD.JPG").write_bytes(b"child")
    deep = root / "DCIM" / Path(*[f"D{i:02d}" for i in range(40)])
    deep.mkdir(parents=True)
    (deep / "DEEP.JPG").write_bytes(b"deep")
    rescan(camera)
    lie_about_parents(
        camera,
        {
            "DCIM/LOOPA": "DCIM/LOOPB",  # LOOPA <-> LOOPB: a cycle
            "DCIM/LOOPB": "DCIM/LOOPA",
            "DCIM/FP/CHILD.JPG": f"{FOLDER}/IMG_0001.JPG",  # a file used as a folder
        },
    )
    out = tmp_path / "out"
    run = fresh_cli("download", "--to", str(out))
    assert run.returncode == 3, str(run)
    errors = one_line_errors(run.stderr)
    assert len(errors) == 4, run.stderr  # three files and the summary
    assert any("LOOP.JPG" in e and "loop" in e for e in errors)
    assert any("CHILD.JPG" in e and "is a file" in e for e in errors)
    assert any("DEEP.JPG" in e and "deep" in e for e in errors)
    for n in range(1, 5):
        name = f"IMG_{n:04d}.JPG"
        assert (out / FOLDER / name).read_bytes() == (root / FOLDER / name).read_bytes()
    assert "4 downloaded, 0 skipped, 3 failed" in run.stdout
    assert run.stderr.splitlines()[-1] == "ptpip: download: 4 downloaded, 0 skipped, 3 failed"
    # and ls lists everything without a traceback
    listed = fresh_cli.ok("ls").stdout
    assert "IMG_0004.JPG" in listed


# -- names that collide ---------------------------------------------------------------------


def test_files_that_map_to_one_local_name_all_land(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path
) -> None:
    root = card(camera) / FOLDER
    contents = {
        "A:B.JPG": b"colon",  # ':' is no file name character elsewhere: made "A_B.JPG"
        "A_B.JPG": b"underscore",
        "PIC.JPG": b"upper",  # differs only in case: one file on macOS/Windows disks
        "pic.jpg": b"lower",
    }
    for name, data in contents.items():
        (root / name).write_bytes(data)
    rescan(camera)
    out = tmp_path / "out"
    run = fresh_cli.ok("--json", "download", "--to", str(out))
    data = json.loads(run.stdout)
    assert data["downloaded"] == 8 and data["failed"] == 0
    landed = sorted(p.read_bytes() for p in (out / FOLDER).iterdir() if p.name[0] != ".")
    expected = [(root / f"IMG_000{n}.JPG").read_bytes() for n in range(1, 5)]
    assert landed == sorted([*contents.values(), *expected])
    names = {p.name.casefold() for p in (out / FOLDER).iterdir()}
    assert len(names) == 8  # no two differ only in case
    # a second run finds everything in place
    again = json.loads(fresh_cli.ok("--json", "download", "--to", str(out)).stdout)
    assert again["downloaded"] == 0 and again["skipped"] == 8


# -- a camera's strings on the terminal -----------------------------------------------------


@pytest.fixture
def evil_camera(tmp_path: Path) -> Iterator[RunningCamera]:
    with RunningCamera(
        storage=tmp_path / "card", host=LOOPBACK, port=0, model="Evil\x1b]0;pwned\x07\u202eCam"
    ) as cam:
        yield cam


def test_control_and_bidi_characters_from_the_camera_are_escaped(
    evil_camera: RunningCamera, tmp_path: Path
) -> None:
    name = "X\x1b[2J\u202egpj.exe"
    (card(evil_camera) / FOLDER / name).write_bytes(b"evil")
    rescan(evil_camera)
    cli = Cli(tmp_path, evil_camera.port)
    outputs = [
        cli.ok("info").stdout,
        cli.ok("ls").stdout,
        cli.ok("download", "--to", str(tmp_path / "out")).stderr,
        cli.ok("--json", "ls").stdout,
    ]
    for text in outputs:
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "Evil\\x1b]0;pwned\\x07\\u202eCam" in outputs[0]  # info: escaped
    assert f"{FOLDER}/X_[2J_gpj.exe" in outputs[1]  # paths: made plain names
    objects = json.loads(outputs[3])["objects"]
    assert f"{FOLDER}/X_[2J_gpj.exe" in [o["path"] for o in objects]
    saved = [p.name for p in (tmp_path / "out" / FOLDER).iterdir()]
    assert "X_[2J_gpj.exe" in saved  # and so on disk


# -- capture arguments and destinations -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["capture", "²"], "not an amount"),
        (["capture", "100000000", "x.jpg"], "at most 9999"),
        (["capture", "-1"], "at least 1"),
    ],
)
def test_bad_capture_amounts_are_refused_before_the_shutter(
    fresh_cli: Cli, camera: RunningCamera, args: list[str], message: str
) -> None:
    with spy(camera) as seen:
        began = time.monotonic()
        run = fresh_cli.fails(3, *args)
    assert time.monotonic() - began < 10
    assert message in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.startswith("ptpip:")]) == 1
    assert not seen.params_of(OperationCode.INITIATE_CAPTURE)


def test_capture_into_an_impossible_place_is_one_line(fresh_cli: Cli) -> None:
    run = fresh_cli.fails(3, "capture", "1", "/proc/x.jpg")
    assert "/proc/x.jpg" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["a-file", "/proc/nope/deeper"])
def test_download_into_a_file_or_an_impossible_folder_is_one_line(
    fresh_cli: Cli, tmp_path: Path, where: str
) -> None:
    target = tmp_path / where if where == "a-file" else Path(where)
    if where == "a-file":
        target.write_bytes(b"x")
    run = fresh_cli.fails(3, "download", "--to", str(target))
    assert str(target) in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_capture_replaces_a_planted_link_instead_of_writing_through_it(
    fresh_cli: Cli, tmp_path: Path
) -> None:
    secret = tmp_path / "dotfile"
    secret.write_bytes(b"precious")
    dest = tmp_path / "shot.jpg"
    dest.symlink_to(secret)
    fresh_cli.ok("capture", "1", str(dest))
    assert secret.read_bytes() == b"precious"
    assert not dest.is_symlink() and dest.read_bytes()[:2] == b"\xff\xd8"


# -- planted links, a second download, a full disk ------------------------------------------


def test_links_planted_in_the_download_folder_are_never_followed(
    fresh_cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "DCIM").symlink_to(elsewhere)
    secret = tmp_path / "dotfile"
    secret.write_bytes(b"precious")
    (out / ".ptpip-history.json").symlink_to(secret)
    run = fresh_cli("download", "--to", str(out))
    assert run.returncode == 3, str(run)
    assert len(one_line_errors(run.stderr)) == 5  # 4 files + the summary
    assert "symbolic link" in run.stderr
    assert list(elsewhere.iterdir()) == []
    assert secret.read_bytes() == b"precious"


def test_two_downloads_into_one_folder_at_once(tmp_path: Path) -> None:
    """A rig: two cameras with the same file names downloaded into one folder at once."""
    out = tmp_path / "out"
    with (
        RunningCamera(storage=tmp_path / "a", host=LOOPBACK, port=0, model="Cam A") as cam_a,
        RunningCamera(storage=tmp_path / "b", host=LOOPBACK, port=0, model="Cam B") as cam_b,
    ):
        for n in range(1, 5):  # camera B: the same names, other pictures
            (card(cam_b) / FOLDER / f"IMG_000{n}.JPG").write_bytes(os.urandom(20_000 + n))
        rescan(cam_b)
        clis = [Cli(tmp_path / "home", cam.port) for cam in (cam_a, cam_b, cam_b)]
        runs = [cli.start("download", "--to", str(out)) for cli in clis[:2]]
        codes = [bg.wait(TIMEOUT) for bg in runs]
        for bg in runs:
            assert_no_traceback(bg.out.text(), bg.err.text())
        assert codes == [0, 0], [bg.err.text() for bg in runs]
        again = clis[2].ok("--json", "download", "--to", str(out))
        assert json.loads(again.stdout)["skipped"] == 4
    mine = {p.read_bytes() for p in (out / FOLDER).iterdir()}
    expected = {
        (card(c) / FOLDER / f"IMG_000{n}.JPG").read_bytes()
        for c in (cam_a, cam_b)
        for n in range(1, 5)
    }
    assert mine == expected  # all eight pictures, none lost
    history = json.loads((out / ".ptpip-history.json").read_text())
    assert len(history) == 8
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".part", ".tmp", ".part.json"))]
    assert leftovers == []


def test_a_full_disk_is_exit_3_with_one_line(fresh_cli: Cli, tmp_path: Path) -> None:
    """A 64 KiB tmpfs (in a mount namespace of its own) fills during the download."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        unavailable("needs root and unshare(1) to mount a small tmpfs in its own namespace")
    small = tmp_path / "small"
    small.mkdir()
    script = f'mount -t tmpfs -o size=64k tmpfs "{small}" && exec "$@"'
    argv = [str(PTPIP), *fresh_cli.target, "download", "--to", str(small)]
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", *argv],
        env=fresh_cli.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert_no_traceback(done.stdout, done.stderr)
    assert done.returncode == 3, done.stderr
    assert "No space left on device" in done.stderr or "disk is full" in done.stderr
    assert all(len(line) < 300 for line in done.stderr.splitlines())
