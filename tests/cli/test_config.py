"""The ``-f`` INI config file (malc0mn-cli.md §3): its values override the flags, as in the
seed; unlike the seed, an unknown section or key is an error (exit 102) that names it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, Cli, free_port, spy

TOO_MANY = "Too many arguments"


def write(tmp_path: Path, text: str, name: str = "ptpip.conf") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def seed_generic(port: int, guid: str, *, enabled: str = "false", sport: int = 15740) -> str:
    """The seed README's first example, aimed at the virtual camera."""
    return f"""; This is us
[initiator]
friendly_name = "Golang PTP/IP generic client"
; Generate a new random one using uuidgen or some other tool!
; Or simply do cat /proc/sys/kernel/random/uuid
guid = "{guid}"

; The target we will be connecting to
[responder]
host = "127.0.0.1"
port = {port}

; Config when running as a server
[server]
; Setting this to true will enable server mode
enabled = {enabled}
address = "127.0.0.1"
port = {sport}
"""


def test_the_seed_example_config_connects_and_identifies(
    cli: Cli, shared_camera: RunningCamera, tmp_path: Path
) -> None:
    guid = "cca455de-79ac-4b12-9731-91e433a899cf"
    conf = write(tmp_path, seed_generic(cli.port, guid))
    with spy(shared_camera) as seen:
        run = cli.raw("-h", LOOPBACK, "-f", str(conf), "get", "iso")
    assert run.returncode == 0, str(run)
    assert [(i.friendly_name, i.guid) for i in seen.inits] == [
        ("Golang PTP/IP generic client", uuid.UUID(guid).bytes)
    ]


@pytest.mark.parametrize("flag", ["-f", "--config"])
def test_config_values_override_the_flags(
    cli: Cli, shared_camera: RunningCamera, tmp_path: Path, flag: str
) -> None:
    conf = write(
        tmp_path,
        f'[initiator]\nfriendly_name = from config\n[responder]\nport = "{cli.port}"\n',
    )
    closed = str(free_port())
    with spy(shared_camera) as seen:
        run = cli.raw("-h", LOOPBACK, "-p", closed, "-n", "from flags", flag, str(conf), "info")
    assert run.returncode == 0, str(run)
    assert [i.friendly_name for i in seen.inits] == ["from config"]


def test_the_seed_multi_port_example(cli: Cli, tmp_path: Path) -> None:
    """The seed's second (Fuji) example has three ports and a vendor; a generic camera here."""
    p = cli.port
    conf = write(
        tmp_path,
        f"""; This is us
[initiator]
friendly_name = "Golang PTP/IP Fuji client"
guid = "9fe5160c-4951-404d-9505-10baaf725606"

; The target we will be connecting to
[responder]
vendor = "generic"
host = '127.0.0.1'
cmd_data_port = {p}   ; the command/data channel
event_port = {p:#x}
stream_port = {p}
""",
    )
    run = cli.raw("-h", LOOPBACK, "-p", str(free_port()), "-f", str(conf), "get", "iso")
    assert run.returncode == 0, str(run)


def test_a_config_port_in_hex(cli: Cli, tmp_path: Path) -> None:
    conf = write(tmp_path, f"[responder]\nport = {cli.port:#x}\n")
    cli.ok("-f", str(conf), "get", "iso")


def test_a_missing_config_file_exits_102(cli: Cli, tmp_path: Path) -> None:
    run = cli.fails(102, "-f", str(tmp_path / "nope.conf"), "info")
    assert "Error opening config file - " in run.stderr
    assert "nope.conf" in run.stderr


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # the seed's own test fixture test_fail2.conf misspells cmd_data_port
        ("[responder]\ncomm_data_port = 55740\n", "'comm_data_port'"),
        ("[initiator]\nfriendly = x\n", "'friendly'"),
        ("[server]\nhost = 127.0.0.1\n", "'host' in [server]"),
        ("[camera]\nhost = 127.0.0.1\n", "unknown section [camera]"),
        ("[Responder]\nport = 15740\n", "unknown section [Responder]"),
    ],
)
def test_unknown_sections_and_keys_exit_102_naming_them(
    cli: Cli, tmp_path: Path, text: str, named: str
) -> None:
    conf = write(tmp_path, text)
    run = cli.fails(102, "-f", str(conf), "info")
    assert named in run.stderr
    assert str(conf) in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[responder]\nport = 70000\n", "[responder] port"),
        ("[responder]\nport = 0\n", "[responder] port"),
        ("[responder]\nevent_port = abc\n", "[responder] event_port"),
        ("[server]\nport = 99999\n", "[server] port"),
        ("[server]\nenabled = maybe\n", "[server] enabled"),
        ("[server]\nauth = maybe\n", "[server] auth"),
        ("[responder]\nvendor = acme\n", "[responder] vendor"),
    ],
)
def test_bad_values_exit_102(cli: Cli, tmp_path: Path, text: str, named: str) -> None:
    conf = write(tmp_path, text)
    run = cli.fails(102, "-f", str(conf), "info")
    assert named in run.stderr


@pytest.mark.parametrize(
    "text",
    [
        "host = 127.0.0.1\n",  # no section header
        "[responder]\nport = 1\nport = 2\n",  # a key twice
        "[responder\nport = 1\n",
    ],
)
def test_malformed_files_exit_102(cli: Cli, tmp_path: Path, text: str) -> None:
    conf = write(tmp_path, text)
    run = cli.fails(102, "-f", str(conf), "info")
    assert "Error reading config file" in run.stderr
    assert str(conf) in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1  # configparser's messages span lines


@pytest.mark.parametrize("value", ["true", '"true"', "yes", "1", "on", "True"])
def test_server_enabled_with_a_command_exits_2(cli: Cli, tmp_path: Path, value: str) -> None:
    conf = write(tmp_path, seed_generic(cli.port, str(uuid.uuid4()), enabled=value))
    run = cli.fails(2, "-f", str(conf), "-c", "capture")
    assert TOO_MANY in run.stderr


@pytest.mark.parametrize("value", ["false", '"false"', "no", "0", "off"])
def test_server_disabled_lets_a_command_run(cli: Cli, tmp_path: Path, value: str) -> None:
    conf = write(tmp_path, seed_generic(cli.port, str(uuid.uuid4()), enabled=value))
    cli.ok("-f", str(conf), "-c", "get iso")


def test_an_empty_config_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    conf = write(tmp_path, "; nothing here\n# nor here\n")
    cli.ok("-f", str(conf), "get", "iso")


def test_a_config_guid_that_is_invalid_exits_104(cli: Cli, tmp_path: Path) -> None:
    conf = write(tmp_path, '[initiator]\nguid = "12345"\n')
    run = cli.fails(104, "-f", str(conf), "get", "iso")
    assert run.stderr.startswith("Error creating PTP/IP client - ")
