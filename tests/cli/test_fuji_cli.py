"""The issue's Fuji command lines, run as a user would, against the virtual X-T1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, Cli, make_cli


@pytest.fixture(scope="module")
def fuji(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCamera]:
    card = tmp_path_factory.mktemp("fuji") / "card"
    with RunningCamera("fuji", storage=card, host=LOOPBACK, port=0) as cam:
        yield cam


@dataclass
class FujiCli:
    """``ptpip -t fuji -h 127.0.0.1 -pc P -pe P+1 -ps P+2 ...``, as in the issue."""

    cli: Cli
    target: list[str]


@pytest.fixture
def fcli(fuji: RunningCamera, tmp_path: Path) -> Iterator[FujiCli]:
    ports = fuji.ports
    target = ["-t", "fuji", "-h", LOOPBACK, "-pc", str(ports["command"])]
    target += ["-pe", str(ports["event"]), "-ps", str(ports["stream"])]
    for cli in make_cli(tmp_path, fuji.port):
        yield FujiCli(cli, target)


def run(fcli: FujiCli, *args: str) -> str:
    done = fcli.cli.raw(*fcli.target, *args)
    assert done.returncode == 0, str(done)
    return done.stdout


def test_info_json_lists_the_0x902b_properties(fcli: FujiCli) -> None:
    info = json.loads(run(fcli, "-c", "info json"))
    assert info["manufacturer"] == "FUJIFILM"
    assert info["vendor"] == "fuji"
    assert [p["code"] for p in info["propertyList"]] == [
        "0x5012", "0x500c", "0x5005", "0x5010", "0xd001", "0xd02a", "0xd019", "0xd17c",
    ]  # fmt: skip


def test_state_json_is_the_0xd212_list(fcli: FujiCli) -> None:
    state = json.loads(run(fcli, "-c", "state json"))
    by_code = {e["DevicePropertyCode"]["code"]: e["CurrentValue"] for e in state}
    assert by_code["0xd02a"] == {"value": "0x80001900", "label": "S6400"}
    assert by_code["0xd17c"]["label"] == "4x4"
    assert by_code["0x5001"]["label"] == "3/3"


def test_describe_iso_shows_fuji_labels(fcli: FujiCli) -> None:
    out = run(fcli, "-c", "describe iso")
    assert "0xd02a" in out
    assert "allowed: S400, S800, S1600, S3200, S6400, L100, 200" in out


def test_set_effect_classic_chrome_then_get(fcli: FujiCli, fuji: RunningCamera) -> None:
    assert "Classic Chrome (0xb)" in run(fcli, "-c", "set effect classic-chrome")
    assert fuji.personality.props.get(0xD001) == 11  # type: ignore[attr-defined]
    assert run(fcli, "-c", "get effect") == "Classic Chrome (0xb)\n"
    run(fcli, "-c", "set effect velvia")


def test_get_iso(fcli: FujiCli) -> None:
    assert run(fcli, "-c", "get iso") == "S6400 (0x80001900)\n"


def test_capture_two_previews_with_the_seed_names(fcli: FujiCli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = run(fcli, "-c", f"capture 2 {out}/p.jpg")
    assert text.count("Image captured") == 2
    for name in ("p-1.jpg", "p-2.jpg"):
        with Image.open(out / name) as image:
            assert image.format == "JPEG"
            assert image.size == (640, 480)
    assert sorted(p.name for p in out.iterdir()) == ["p-1.jpg", "p-2.jpg"]


def test_opreq_0x902b_shows_the_seeds_bytes(fcli: FujiCli) -> None:
    """Seed 004's `opreq 0x902B` dump: 356 bytes of data, then the response."""
    out = run(fcli, "-c", "opreq 0x902B")
    assert "Received 356 bytes. HEX dump:" in out
    assert "00000000  64 01 00 00 02 00 2b 90" in out
    assert "00000010  16 00 00 00 12 50 04 00  01 00 00 00 00 02 03 00  |.....P..........|" in out
    assert "Received 12 bytes. HEX dump:" in out
