"""info, state, opreq and help: the seed's output shapes, JSON with stable keys."""

from __future__ import annotations

import json
import re
import struct

import pytest

from tests.cli.conftest import Cli

COMMANDS = ("info", "state", "describe", "get", "set", "opreq", "help")
NEW_COMMANDS = ("capture", "ls", "download", "watch", "liveview")
PROPERTY_NAMES = ("delay", "effect", "exposure", "exp-bias", "flashmode", "focusmtr", "iso")


def go_hex_dump(data: bytes) -> str:
    """A line-by-line port of Go's encoding/hex Dumper (Write + Close)."""
    out: list[str] = []
    right = ""
    used = 0
    for n, byte in enumerate(data):
        if used == 0:
            out.append(f"{n:08x}  ")
        cell = f"{byte:02x} "
        if used == 7:
            cell += " "
        elif used == 15:
            cell += " |"
        out.append(cell)
        right += chr(byte) if 32 <= byte <= 126 else "."
        used += 1
        if used == 16:
            out.append(right + "|\n")
            right, used = "", 0
    if used:
        while used < 16:
            out.append("    " if used == 7 else "    |" if used == 15 else "   ")
            used += 1
        out.append(right + "|\n")
    return "".join(out)


def parse_opreq(text: str) -> list[bytes]:
    """The packets of ``opreq`` output, checking its layout on the way."""
    blocks = text.split("\nReceived ")
    assert blocks[0] == "", text  # output starts with "\nReceived"
    packets = []
    for block in blocks[1:]:
        head, _, dump = block.partition(" bytes. HEX dump:\n")
        size = int(head)
        data = bytearray()
        for line in dump.splitlines():
            data += bytes.fromhex(line[10:58].replace("  ", " "))
        assert len(data) == size
        assert dump == go_hex_dump(bytes(data)), (dump, go_hex_dump(bytes(data)))
        packets.append(bytes(data))
    return packets


# -- info and state --------------------------------------------------------------------------


def test_info_text(cli: Cli) -> None:
    out = cli.ok("info").stdout
    assert "Manufacturer:      ptpip\n" in out
    assert "Model:             ptpip virtual camera\n" in out
    assert "Serial number:     PTPIP0000001\n" in out
    assert (
        'Dialect:           generic (no dialect for Manufacturer "ptpip"; vendor extension 0x0)\n'
        in out
    )
    assert "GetDevicePropDesc (0x1014)" in out
    assert "DevicePropChanged (0x4006)" in out
    assert re.search(r"^Storage 00010001:  SD \"PTPIP\", .* free of ", out, re.M)


@pytest.mark.parametrize(
    "args", [["info", "json"], ["info", "json", "pretty"], ["--json", "info"], ["-c", "info json"]]
)
def test_info_json(cli: Cli, args: list[str]) -> None:
    out = cli.ok(*args).stdout
    assert ("\n    " in out) is ("pretty" in args)
    data = json.loads(out)
    assert list(data) == [
        "manufacturer",
        "model",
        "deviceVersion",
        "serialNumber",
        "vendor",
        "dialectReason",
        "vendorExtensionId",
        "vendorExtensionDesc",
        "standardVersion",
        "operations",
        "events",
        "properties",
        "captureFormats",
        "imageFormats",
        "storages",
    ]
    assert (data["model"], data["vendor"], data["standardVersion"]) == (
        "ptpip virtual camera",
        "generic",
        100,
    )
    assert {"code": "0x1014", "name": "GetDevicePropDesc"} in data["operations"]
    assert {"code": "0x500f", "name": "ISO"} in data["properties"]
    (storage,) = data["storages"]
    assert storage["id"] == "0x00010001"
    assert set(storage) == {
        "id",
        "description",
        "volumeLabel",
        "maxCapacity",
        "freeSpaceInBytes",
        "freeSpaceInImages",
    }


def test_state_text_is_the_seed_short_table(cli: Cli) -> None:
    cli.ok("set", "iso", "3200")
    cli.ok("set", "exp-bias", "-1/3")
    lines = cli.ok("state").stdout.splitlines()
    assert lines[0] == ""
    assert re.split(r"\s{2,}", lines[1]) == [
        "DevicePropCode",
        "Property name",
        "Value as string",
        "Value as int64",
        "Value in hex",
    ]
    assert re.split(r"\s{2,}", lines[2]) == [
        "--------------",
        "-------------",
        "---------------",
        "--------------",
        "------------",
    ]
    rows = {line.split()[0]: re.split(r"\s{2,}", line) for line in lines[3:]}
    assert rows["0x500f"] == ["0x500f", "ISO", "3200", "3200", "0x00000c80"]
    # the seed zero-extends negative values from their own width: INT16 -333 shows as 65203
    assert rows["0x5010"] == ["0x5010", "exposure bias compensation", "-1/3", "65203", "0x0000feb3"]
    assert rows["0x5005"][1] == "white balance"


@pytest.mark.parametrize(
    "args", [["state", "json"], ["--json", "state"], ["state", "json", "pretty"]]
)
def test_state_json(cli: Cli, args: list[str]) -> None:
    cli.ok("set", "iso", "800")
    data = json.loads(cli.ok(*args).stdout)
    assert isinstance(data, list)
    for entry in data:
        assert list(entry) == ["DevicePropertyCode", "CurrentValue"]
    by_code = {e["DevicePropertyCode"]["code"]: e for e in data}
    assert by_code["0x500f"] == {
        "DevicePropertyCode": {"code": "0x500f", "label": "ISO"},
        "CurrentValue": {"value": "0x320", "label": "800"},
    }


# -- opreq -----------------------------------------------------------------------------------


def test_opreq_dumps_every_packet_like_the_seed(cli: Cli) -> None:
    run = cli.ok("opreq", "0x1014", "0x5003")
    start, data, response = parse_opreq(run.stdout)
    types = [struct.unpack_from("<I", p, 4)[0] for p in (start, data, response)]
    assert types == [9, 12, 7]  # StartData, EndData, OperationResponse
    assert struct.unpack_from("<I", start, 0)[0] == len(start) == 20
    assert struct.unpack_from("<H", data, 12)[0] == 0x5003  # the DevicePropDesc of 0x5003
    assert response[8:10] == b"\x01\x20"  # OK
    # one line, exactly as Go's hex.Dump lays it out (14 bytes: short line, padded)
    last = run.stdout.splitlines()[-1]
    tid = response[10:14]
    assert last == (
        "00000000  0e 00 00 00 07 00 00 00  01 20 "
        + " ".join(f"{b:02x}" for b in tid)
        + "        |......... "
        + "".join(chr(b) if 32 <= b <= 126 else "." for b in tid)
        + "|"
    )
    assert run.stdout.count("HEX dump:") == 3
    first = run.stdout.splitlines()[1:3]
    assert first[0] == "Received 20 bytes. HEX dump:"
    assert re.fullmatch(r"00000000  14 00 00 00 09 00 00 00  .{23}  \|.{16}\|", first[1])


def test_opreq_of_an_unknown_opcode_dumps_the_refusal(cli: Cli) -> None:
    run = cli.ok("opreq", "9999")
    (response,) = parse_opreq(run.stdout)
    assert struct.unpack_from("<IIH", response) == (14, 7, 0x2005)  # OperationNotSupported
    data = json.loads(cli.ok("--json", "opreq", "0x9999").stdout)
    assert data["operation"]["code"] == "0x9999"
    assert data["response"] == {"code": "0x2005", "name": "OperationNotSupported"}


def test_opreq_json(cli: Cli) -> None:
    data = json.loads(cli.ok("--json", "-c", "opreq 0x1015 0x500f").stdout)
    assert list(data) == ["operation", "response", "params", "data", "packets"]
    assert data["operation"] == {"code": "0x1015", "name": "GetDevicePropValue"}
    assert data["response"] == {"code": "0x2001", "name": "OK"}
    assert len(data["packets"]) == 3
    assert len(bytes.fromhex(data["data"])) == 2  # a UINT16 value


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["opreq", "xyz"], "opcode 'xyz' is not hexadecimal"),
        (["opreq", "0x10000"], "does not fit in 16 bits"),
        (["opreq", "0x1014", "0x100000000"], "does not fit in 32 bits"),
        (["opreq", "1", "2", "3", "4", "5", "6", "7"], "at most 5 parameters"),
    ],
)
def test_opreq_bad_arguments_exit_3(cli: Cli, args: list[str], message: str) -> None:
    run = cli.fails(3, *args)
    assert message in run.stderr


# -- help ------------------------------------------------------------------------------------


def test_help_lists_every_command(cli: Cli) -> None:
    out = cli.ok("help").stdout
    for command in (*COMMANDS, *NEW_COMMANDS):
        assert f'"{command}" ' in out
    names = re.search(r"^Property names: (.*)$", out, re.M)
    assert names is not None
    assert set(PROPERTY_NAMES) | {"whitebalance"} <= set(names.group(1).split(", "))


@pytest.mark.parametrize(
    ("word", "command"),
    [
        ("capture", "capture"),
        ("shoot", "capture"),
        ("shutter", "capture"),
        ("snap", "capture"),
        ("get", "get"),
        ("opreq", "opreq"),
        ("download", "download"),
    ],
)
def test_help_for_a_command_or_an_alias(cli: Cli, word: str, command: str) -> None:
    out = cli.ok("help", word).stdout
    assert out.startswith(f'"{command}" ')
    assert "\tusage: " in out
    if command == "capture":
        assert "\taliases: shoot, shutter, snap\n" in out


def test_help_for_an_unknown_command_exits_3(cli: Cli) -> None:
    run = cli.fails(3, "help", "teleport")
    assert "no command 'teleport'" in run.stderr


def test_help_json(cli: Cli) -> None:
    data = json.loads(cli.ok("--json", "help").stdout)
    assert [d["command"] for d in data] == [*COMMANDS, *NEW_COMMANDS]
    assert all(set(d) == {"command", "usage"} for d in data)
