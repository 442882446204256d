"""The seed's flags (malc0mn-cli.md §2, §4, §5), their GNU long forms, ports, exit codes."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable

import pytest

from ptpip._version import __version__
from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, Cli, free_port, spy

TOO_MANY = (
    "Too many arguments: either run in server mode OR interactive mode OR execute a single"
    " command; not all at once!"
)
SEED_FLAGS = (
    "-?",
    "-c",
    "-f",
    "-g",
    "-h",
    "-i",
    "-n",
    "-p",
    "-pc",
    "-pe",
    "-ps",
    "-s",
    "-sa",
    "-sp",
    "-t",
    "-v",
    "-version",
)
LONG_FLAGS = (
    "--help",
    "--command",
    "--config",
    "--guid",
    "--host",
    "--interactive",
    "--name",
    "--port",
    "--cmd-port",
    "--event-port",
    "--stream-port",
    "--server",
    "--server-address",
    "--server-port",
    "--vendor",
    "--version",
    "--json",
    "--pretty",
    "--record",
    "--timeout",
    "--no-auth",
)


# -- usage, version --------------------------------------------------------------------------


def test_no_arguments_prints_the_usage_and_exits_1(cli: Cli) -> None:
    run = cli.raw()
    assert run.returncode == 1, str(run)
    assert "Usage of ptpip" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("flag", ["-?", "--help"])
def test_help_prints_the_usage_on_stdout(cli: Cli, flag: str) -> None:
    run = cli.raw(flag)
    assert run.returncode == 0, str(run)
    assert run.stdout.startswith("Usage of ptpip")
    assert run.stderr == ""
    for f in (*SEED_FLAGS, *LONG_FLAGS):
        assert f" {f}" in run.stdout, f
    assert "192.168.0.1" in run.stdout  # the seed's default host is documented
    for code in ("102", "104", "105"):
        assert code in run.stdout
    assert "liveview" in run.stdout  # listed with the other commands
    assert "ptpip send" in run.stdout  # the server's client


def test_help_wins_over_everything_else(cli: Cli) -> None:
    run = cli.raw("-h", LOOPBACK, "-p", "1", "-?", "-c", "info")
    assert run.returncode == 0, str(run)
    assert run.stdout.startswith("Usage of ptpip")


@pytest.mark.parametrize("flag", ["-version", "--version"])
def test_version(cli: Cli, flag: str) -> None:
    run = cli.raw(flag)
    assert run.returncode == 0, str(run)
    assert run.stdout == f"ptpip version {__version__}\n"


def test_dash_h_is_the_host_not_help(cli: Cli) -> None:
    run = cli.raw("-h")
    assert run.returncode == 2, str(run)
    assert "-h" in run.stderr
    assert "Usage of ptpip" not in run.stdout


def test_flags_without_anything_to_do_are_refused(cli: Cli) -> None:
    run = cli.raw("-h", LOOPBACK, "-p", str(cli.port))
    assert run.returncode == 2, str(run)
    assert "nothing to do" in run.stderr


@pytest.mark.parametrize("args", [["--bogus"], ["-x"], ["-c"], ["-p"]])
def test_bad_flags_exit_2(cli: Cli, args: list[str]) -> None:
    run = cli.raw("-h", LOOPBACK, *args)
    assert run.returncode == 2, str(run)
    assert run.stderr.startswith("ptpip: ")
    assert "ptpip -?" in run.stderr  # says where the usage is


def test_an_unknown_command_exits_2(cli: Cli) -> None:
    run = cli.fails(2, "-c", "bogus")
    assert "unknown command 'bogus'" in run.stderr


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_command_exits_2(cli: Cli, text: str) -> None:
    run = cli.fails(2, "-c", text)
    assert "-c needs a command" in run.stderr


# -- ports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        *((flag, value) for flag in ("-p", "-pc", "-pe", "-ps", "-sp") for value in ("0", "70000")),
        *(("-p", value) for value in ("abc", "-1", "65536", "0x10000", "0b", "9x")),
    ],
)
def test_bad_port_values_exit_2(cli: Cli, flag: str, value: str) -> None:
    run = cli.raw("-h", LOOPBACK, flag, value, "-c", "info")
    assert run.returncode == 2, str(run)
    assert f'invalid value "{value}"' in run.stderr
    assert ("value out of range" in run.stderr) or ("not a port number" in run.stderr)


@pytest.mark.parametrize("form", [hex, oct, bin, lambda p: f"0{p:o}"])
def test_ports_take_go_base_prefixes(cli: Cli, form: Callable[[int], str]) -> None:
    port = form(cli.port)
    run = cli.raw("-h", LOOPBACK, "-p", str(port), "get", "iso")
    assert run.returncode == 0, str(run)


def test_a_hex_port_like_0x3d7c_is_port_15740(cli: Cli) -> None:
    # A listener of our own on 15740 that accepts and hangs up: the client must come to
    # exactly that port, and then fail to connect (exit 105).
    accepted: list[int] = []
    with socket.create_server((LOOPBACK, 15740)) as server:
        server.settimeout(30)

        def hang_up() -> None:
            conn, _ = server.accept()
            accepted.append(conn.getsockname()[1])
            conn.close()

        thread = threading.Thread(target=hang_up)
        thread.start()
        run = cli.raw("-h", LOOPBACK, "-p", "0x3d7c", "-c", "info", "--timeout", "5")
        thread.join(30)
    assert accepted == [15740]
    assert run.returncode == 105, str(run)


@pytest.mark.parametrize(
    "flags",
    [
        ["-pc", "{p}", "-pe", "{p}"],
        ["--cmd-port", "{p}", "--event-port", "{p}", "--stream-port", "{p}"],
        ["-pc", "{p}"],  # unlike the seed, -pc alone is fine (the event port follows it)
        ["-p", "{p}", "-ps", "{p}"],
        ["--port", "{p}"],
        ["-p", "{p}", "-pc", "{p}", "-pe", "{p}"],  # the seed drops -p when both are given
    ],
)
def test_port_combinations_that_connect(cli: Cli, flags: list[str]) -> None:
    args = [f.format(p=cli.port) for f in flags]
    run = cli.raw("--host", LOOPBACK, *args, "get", "iso")
    assert run.returncode == 0, str(run)


@pytest.mark.parametrize("extra", [["-pc", "{p}"], ["-pe", "{p}"], ["--event-port", "{p}"]])
def test_one_port_plus_a_channel_port_is_ambiguous(cli: Cli, extra: list[str]) -> None:
    args = [f.format(p=cli.port) for f in extra]
    run = cli.fails(2, *args, "get", "iso")
    assert "ambiguous port specification" in run.stderr


# -- verbosity -------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [["-v"], ["-vv"], ["-vvv"], ["-v", "vvv"], ["-v=vv"]])
def test_verbosity_forms_are_accepted(cli: Cli, flags: list[str]) -> None:
    run = cli.ok(*flags, "get", "iso")
    assert run.stdout.strip()


def test_vvv_logs_debug_lines_on_stderr_and_silence_is_the_default(cli: Cli) -> None:
    loud = cli.ok("-vvv", "get", "iso")
    assert "DEBUG" in loud.stderr
    assert "Attempting to connect to 127.0.0.1" in loud.stderr
    assert "Created new client with name" in loud.stderr
    # the wire, byte by byte: the OpenSession request of seed 002's shape
    assert "command -> 22 bytes: 16 00 00 00 06 00 00 00 01 00 00 00 02 10" in loud.stderr
    assert "DEBUG" not in loud.stdout
    quiet = cli.ok("get", "iso")
    assert quiet.stderr == ""
    assert quiet.stdout == loud.stdout


def test_an_unknown_log_level_exits_2(cli: Cli) -> None:
    run = cli.fails(2, "-v=vvvv", "get", "iso")
    assert "unknown log level" in run.stderr


# -- modes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "info", "-i"],
        ["-c", "info", "-s"],
        ["--command", "info", "--interactive"],
        ["--command", "info", "--server"],
        ["-i", "-s"],
        ["-s", "info"],  # command words count as a command
    ],
)
def test_more_than_one_mode_exits_2(cli: Cli, args: list[str]) -> None:
    run = cli.fails(2, *args)
    assert TOO_MANY in run.stderr


def test_command_flag_and_command_words_do_the_same(cli: Cli) -> None:
    assert cli.ok("-c", "get iso").stdout == cli.ok("get", "iso").stdout
    assert cli.ok("--command", "get iso").stdout == cli.ok("get", "iso").stdout


def test_command_words_after_the_flags_with_seed_json_words(cli: Cli) -> None:
    run = cli.raw("-h", LOOPBACK, "-p", str(cli.port), "info", "json")
    assert run.returncode == 0, str(run)
    assert json.loads(run.stdout)["model"] == "ptpip virtual camera"


# -- vendor, timeout -------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [["-t", "generic"], ["--vendor", "generic"], ["-t", "kodak"]])
def test_vendor_flag(cli: Cli, flags: list[str]) -> None:
    cli.ok(*flags, "get", "iso")


def test_an_unknown_vendor_exits_2(cli: Cli) -> None:
    run = cli.fails(2, "-t", "nonsense", "get", "iso")
    assert "unknown vendor 'nonsense'" in run.stderr


def test_timeout_flag(cli: Cli) -> None:
    cli.ok("--timeout", "5", "get", "iso")
    assert cli.fails(2, "--timeout", "soon", "get", "iso").stderr.startswith("ptpip: ")


# -- client creation and connection failures ------------------------------------------------


@pytest.mark.parametrize("flag", ["-g", "--guid"])
@pytest.mark.parametrize("guid", ["nonsense", "1234", "0" * 30])
def test_an_invalid_guid_exits_104(cli: Cli, flag: str, guid: str) -> None:
    run = cli.fails(104, flag, guid, "get", "iso")
    assert run.stderr.startswith("Error creating PTP/IP client - ")
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_closed_port_exits_105(cli: Cli) -> None:
    port = free_port()
    run = cli.raw("-h", LOOPBACK, "-p", str(port), "-c", "info")
    assert run.returncode == 105, str(run)
    assert run.stderr.startswith("Error connecting to responder - ")
    assert f"127.0.0.1:{port}" in run.stderr
    assert run.stdout == ""


# -- what the camera sees: -n and -g ---------------------------------------------------------


@pytest.mark.parametrize(("name_flag", "guid_flag"), [("-n", "-g"), ("--name", "--guid")])
def test_name_and_guid_reach_the_camera(
    cli: Cli, shared_camera: RunningCamera, name_flag: str, guid_flag: str
) -> None:
    guid = uuid.uuid4()
    with spy(shared_camera) as seen:
        cli.ok(name_flag, "test initiator", guid_flag, str(guid), "get", "iso")
    assert [(i.friendly_name, i.guid) for i in seen.inits] == [("test initiator", guid.bytes)]


def test_guid_forms_without_dashes_and_with_colons(cli: Cli, shared_camera: RunningCamera) -> None:
    guid = uuid.uuid4()
    colons = ":".join(f"{b:02x}" for b in guid.bytes)
    with spy(shared_camera) as seen:
        cli.ok("-g", guid.hex.upper(), "get", "iso")
        cli.ok("-g", colons, "get", "iso")
    assert [i.guid for i in seen.inits] == [guid.bytes, guid.bytes]


def test_without_g_the_identity_is_kept_between_runs(
    cli: Cli, shared_camera: RunningCamera
) -> None:
    with spy(shared_camera) as seen:
        cli.ok("get", "iso")
        cli.ok("get", "iso")
    first, second = seen.inits
    assert first.guid == second.guid
    assert first.friendly_name == second.friendly_name
    assert first.friendly_name.startswith("ptpip")
    # kept in the private XDG_CONFIG_HOME of this test, never in the real home
    assert (cli.home / "config" / "ptpip").is_dir()
    assert not (cli.home / "home").exists()
