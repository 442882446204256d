"""capture (and its aliases), ls and download against a fresh virtual camera each."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pexpect
import pytest

from ptpip.ptp.codes import OperationCode
from ptpip.testing import RunningCamera
from tests.cli.conftest import PTPIP, WAIT, Cli, spy, wait_until

FOLDER = "DCIM/100PTPIP"
NAMES = [f"IMG_000{i}.JPG" for i in range(1, 5)]


def card_file(cam: RunningCamera, name: str) -> Path:
    return cam.storage / FOLDER / name


def is_jpeg(path: Path) -> bool:
    data = path.read_bytes()
    return data[:3] == b"\xff\xd8\xff" and data.rstrip(b"\0")[-2:] == b"\xff\xd9"


def handles(cli: Cli) -> dict[str, int]:
    data = json.loads(cli.ok("--json", "ls").stdout)
    return {o["path"]: o["handle"] for o in data["objects"]}


# -- capture ---------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["capture", "shoot", "shutter", "snap"])
def test_capture_and_its_aliases(fresh_cli: Cli, camera: RunningCamera, word: str) -> None:
    with spy(camera) as seen:
        run = fresh_cli.ok(word)
    assert len(seen.params_of(OperationCode.INITIATE_CAPTURE)) == 1
    assert re.fullmatch(r"Image captured: IMG_0005\.JPG \(0x[0-9A-F]+\)\n", run.stdout)
    assert card_file(camera, "IMG_0005.JPG").is_file()


def test_capture_several_into_numbered_files(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "p.jpg"
    run = fresh_cli.ok("capture", "2", str(target))
    assert sorted(p.name for p in target.parent.iterdir()) == ["p-1.jpg", "p-2.jpg"]
    for name, card in (("p-1.jpg", "IMG_0005.JPG"), ("p-2.jpg", "IMG_0006.JPG")):
        saved = target.parent / name
        assert is_jpeg(saved)
        assert saved.read_bytes() == card_file(camera, card).read_bytes()
        assert f"saved to {saved}" in run.stdout
    assert len(run.stdout.splitlines()) == 2


def test_capture_one_into_exactly_that_path(fresh_cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "one.jpg"
    fresh_cli.ok("-c", f"shoot {target}")
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".jpg"] == ["one.jpg"]
    assert is_jpeg(target)
    assert not target.with_name("one.jpg.part").exists()


def test_capture_json(fresh_cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "j.jpg"
    data = json.loads(fresh_cli.ok("--json", "capture", "1", str(target)).stdout)
    assert data == [
        {
            "handle": data[0]["handle"],
            "filename": "IMG_0005.JPG",
            "size": target.stat().st_size,
            "saved": str(target),
        }
    ]


def test_capture_view_opens_the_image_in_the_viewer(fresh_cli: Cli, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    viewer = tmp_path / "viewer.sh"
    viewer.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n', encoding="utf-8")
    viewer.chmod(0o755)
    # webbrowser runs $BROWSER URL; the image goes to the view cache (one folder, pruned)
    cache = tmp_path / "cache"
    stale = cache / "ptpip" / "view" / "OLD.JPG"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    os.utime(stale, (time.time() - 8 * 86400,) * 2)
    env = {**fresh_cli.env(), "BROWSER": str(viewer), "XDG_CACHE_HOME": str(cache)}
    run = fresh_cli.raw(*fresh_cli.target, "capture", "view", env=env)
    assert run.returncode == 0, str(run)
    m = re.fullmatch(r"Image captured: IMG_0005\.JPG \(0x[0-9A-F]+\), saved to (\S+)\n", run.stdout)
    assert m, run.stdout
    saved = Path(m[1])
    assert is_jpeg(saved)
    assert saved.parent == cache / "ptpip" / "view"
    assert not stale.exists()  # a week-old view is gone
    wait_until(opened.exists, what="the viewer to be started")
    assert opened.read_text().split() == [saved.resolve().as_uri()]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["capture", "0"], "at least 1"), (["capture", "a", "b"], "one path")],
)
def test_capture_bad_arguments_exit_3(fresh_cli: Cli, args: list[str], message: str) -> None:
    assert message in fresh_cli.fails(3, *args).stderr


# -- ls --------------------------------------------------------------------------------------


def test_ls_text(fresh_cli: Cli) -> None:
    lines = fresh_cli.ok("ls").stdout.splitlines()
    assert re.fullmatch(r'store_00010001  SD "PTPIP"  \S+ \S+ free of \S+ \S+', lines[0])
    assert lines[1].split() == ["Handle", "Size", "Date", "Path"]
    paths = [line.split()[-1] for line in lines[2:]]
    assert paths == ["DCIM/", f"{FOLDER}/", *(f"{FOLDER}/{n}" for n in NAMES)]
    assert re.fullmatch(r"0x3\s+\d+\.\d KB\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\S+", lines[4])


def test_ls_a_folder_and_a_missing_path(fresh_cli: Cli) -> None:
    out = fresh_cli.ok("ls", f"/{FOLDER}/").stdout
    assert f"{FOLDER}/IMG_0001.JPG" in out
    assert "DCIM/\n" not in out
    run = fresh_cli.fails(3, "ls", "NOPE")
    assert "no folder or file 'NOPE'" in run.stderr


@pytest.mark.parametrize("args", [["--json", "ls"], ["ls", "json"], ["ls", "json", "pretty"]])
def test_ls_json(fresh_cli: Cli, camera: RunningCamera, args: list[str]) -> None:
    data = json.loads(fresh_cli.ok(*args).stdout)
    assert list(data) == ["storages", "objects"]
    (storage,) = data["storages"]
    assert storage["id"] == "0x00010001"
    by_path = {o["path"]: o for o in data["objects"]}
    image = by_path[f"{FOLDER}/IMG_0001.JPG"]
    assert set(image) == {
        "handle",
        "path",
        "folder",
        "size",
        "format",
        "storage",
        "date",
        "problem",
    }
    assert image["size"] == card_file(camera, "IMG_0001.JPG").stat().st_size
    assert (image["folder"], image["format"]) == (False, "0x3801")
    assert by_path["DCIM"]["folder"] is True
    assert by_path["DCIM"]["size"] is None


# -- download --------------------------------------------------------------------------------


def test_download_everything_then_again(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path
) -> None:
    dest = tmp_path / "photos"
    run = fresh_cli.ok("download", "--to", str(dest))
    assert run.stdout == f"4 downloaded, 0 skipped, into {dest.resolve()}\n"
    for name in NAMES:
        got = dest / FOLDER / name
        assert got.read_bytes() == card_file(camera, name).read_bytes()
        assert f"{FOLDER}/{name} -> {got} (saved)" in run.stderr
    assert not list(dest.rglob("*.part"))
    assert "\x1b[" not in run.stderr  # no progress bar when stderr is not a terminal
    # complete files are skipped, without reading them again: only their last 4 KiB, to
    # tell them from another camera's files of the same names
    with spy(camera) as seen:
        again = fresh_cli.ok("download", "--to", str(dest))
    assert again.stdout == f"0 downloaded, 4 skipped, into {dest.resolve()}\n"
    assert "(already there)" in again.stderr
    assert not seen.params_of(OperationCode.GET_OBJECT)
    sizes = [card_file(camera, name).stat().st_size for name in NAMES]
    tails = [(offset, length) for _, offset, length in seen.params_of(0x101B)]
    assert sorted(tails) == sorted((size - 4096, 4096) for size in sizes)


def test_download_into_the_current_folder(fresh_cli: Cli, tmp_path: Path) -> None:
    cwd = tmp_path / "here"
    cwd.mkdir()
    fresh_cli.ok("download", "IMG_0004.JPG", cwd=cwd)
    assert [p.relative_to(cwd).as_posix() for p in cwd.rglob("*.JPG")] == [f"{FOLDER}/IMG_0004.JPG"]


def test_download_by_handle_path_and_name(fresh_cli: Cli, tmp_path: Path) -> None:
    by_path = handles(fresh_cli)
    handle = by_path[f"{FOLDER}/IMG_0002.JPG"]
    dest = tmp_path / "some"
    run = fresh_cli.ok(
        "download", f"{handle:#x}", f"{FOLDER}/IMG_0003.JPG", "IMG_0001.JPG", "--to", str(dest)
    )
    assert run.stdout.startswith("3 downloaded, 0 skipped")
    got = sorted(p.name for p in dest.rglob("*.JPG"))
    assert got == ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG"]
    # a decimal handle and --to=DIR work too
    fresh_cli.ok("download", str(by_path[f"{FOLDER}/IMG_0004.JPG"]), f"--to={dest}")
    assert (dest / FOLDER / "IMG_0004.JPG").is_file()


def test_download_a_folder(fresh_cli: Cli, tmp_path: Path) -> None:
    run = fresh_cli.ok("download", FOLDER, "--to", str(tmp_path / "f"))
    assert run.stdout.startswith("4 downloaded")


def test_download_new_skips_what_was_downloaded_before_even_if_moved(
    fresh_cli: Cli, tmp_path: Path
) -> None:
    dest = tmp_path / "new"
    assert fresh_cli.ok("download", "--new", "--to", str(dest)).stdout.startswith("4 downloaded")
    for jpeg in dest.rglob("*.JPG"):
        jpeg.rename(tmp_path / jpeg.name)  # moved away, e.g. into a photo library
    fresh_cli.ok("capture")
    run = fresh_cli.ok("download", "--new", "--to", str(dest))
    assert run.stdout.startswith("1 downloaded, 4 skipped")
    assert [p.name for p in dest.rglob("*.JPG")] == ["IMG_0005.JPG"]
    data = json.loads(fresh_cli.ok("--json", "download", "--new", "--to", str(dest)).stdout)
    assert data == {"downloaded": 0, "skipped": 5, "failed": 0, "files": []}


def test_download_resumes_a_partial_file(
    fresh_cli: Cli, camera: RunningCamera, tmp_path: Path
) -> None:
    original = card_file(camera, "IMG_0001.JPG").read_bytes()
    half = len(original) // 2
    part = tmp_path / "r" / FOLDER / "IMG_0001.JPG.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(original[:half])
    with spy(camera) as seen:
        fresh_cli.ok("download", "IMG_0001.JPG", "--to", str(tmp_path / "r"))
    assert (tmp_path / "r" / FOLDER / "IMG_0001.JPG").read_bytes() == original
    assert not part.exists()
    requested = seen.params_of(OperationCode.GET_PARTIAL_OBJECT)
    # the part's last 4 KiB compared with the camera's, then only the missing rest
    assert requested[0][1:] == (half - 4096, 4096)
    assert requested[1][1] == half
    assert not seen.params_of(OperationCode.GET_OBJECT)


def test_download_json(fresh_cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "j"
    run = fresh_cli.ok("--json", "download", "IMG_0001.JPG", "--to", str(dest))
    data = json.loads(run.stdout)
    assert list(data) == ["downloaded", "skipped", "failed", "files"]
    (entry,) = data["files"]
    assert entry == {
        "handle": entry["handle"],
        "path": str(dest / FOLDER / "IMG_0001.JPG"),
        "skipped": False,
    }
    assert run.stderr == ""  # no progress lines in JSON mode


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["download", "0x999"], "no file '0x999' on the camera"),
        (["download", "NOPE.JPG"], "no file 'NOPE.JPG' on the camera"),
        (["download", "--to"], "--to needs a folder"),
    ],
)
def test_download_failures_exit_3(fresh_cli: Cli, args: list[str], message: str) -> None:
    assert message in fresh_cli.fails(3, *args).stderr


def test_download_shows_a_progress_bar_on_a_terminal(fresh_cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "tty"
    child = pexpect.spawn(
        str(PTPIP),
        [*fresh_cli.target, "download", "--to", str(dest)],
        env={**fresh_cli.env(), "TERM": "xterm"},
        encoding="utf-8",
        timeout=WAIT,
        dimensions=(24, 120),
    )
    child.expect(pexpect.EOF)
    child.close()
    out = child.before or ""
    assert child.exitstatus == 0, out
    assert "Traceback" not in out
    assert "━" in out and "kB" in out  # the bar: rate, size
    assert "4 downloaded, 0 skipped" in out
    for name in NAMES:
        # each status line starts on a line of its own, above the bar
        assert re.search(rf"(^|[\r\n]|\x1b\[2K){FOLDER}/{name} -> ", out), out
