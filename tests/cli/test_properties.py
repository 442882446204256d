"""get, set and describe with human values both ways, hex codes and names; their JSON."""

from __future__ import annotations

import json

import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import Cli

ISO, WB, EXPOSURE, BIAS, BATTERY = 0x500F, 0x5005, 0x500D, 0x5010, 0x5001
DESCRIBE_KEYS = [
    "DevicePropertyCode",
    "dataType",
    "readOnly",
    "FactoryDefaultValue",
    "CurrentValue",
    "formType",
    "form",
]


def camera_value(cam: RunningCamera, code: int) -> object:
    return cam.personality.props.get(code)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("prop", "text", "code", "value", "shown"),
    [
        ("iso", "3200", ISO, 3200, "3200 (0xc80)"),
        ("iso", "0x320", ISO, 800, "800 (0x320)"),  # hex is still the raw value
        ("whitebalance", "daylight", WB, 4, "daylight (0x4)"),
        ("WhiteBalance", "tungsten", WB, 6, "tungsten (0x6)"),  # a code-table name
        ("0x5005", "flash", WB, 7, "flash (0x7)"),  # a hex code
        ("exposure", "1/250", EXPOSURE, 40, "1/250 s (0x28)"),
        ("exposure", "1/250 s", EXPOSURE, 40, "1/250 s (0x28)"),
        ("exp-bias", "-2/3", BIAS, -667, "-2/3 (0xfd65)"),  # INT16, zero-extended as the seed
        ("exp-bias", "+1 1/3", BIAS, 1333, "+1 1/3 (0x535)"),
        ("delay", "2", 0x5012, 2000, "2 s (0x7d0)"),
        ("effect", "sepia", 0x5017, 3, "sepia (0x3)"),
        ("flashmode", "fill", 0x500C, 3, "fill (0x3)"),
        ("focusmtr", "center spot", 0x501C, 1, "center spot (0x1)"),
    ],
)
def test_set_then_get_round_trips_human_values(
    cli: Cli,
    shared_camera: RunningCamera,
    prop: str,
    text: str,
    code: int,
    value: int,
    shown: str,
) -> None:
    run = cli.ok("set", prop, *text.split())
    assert run.stdout == f"property {prop} successfully set to {shown}\n"
    assert camera_value(shared_camera, code) == value
    assert cli.ok("get", prop).stdout == f"{shown}\n"


def test_set_with_the_c_flag_and_a_string_property(cli: Cli, shared_camera: RunningCamera) -> None:
    run = cli.ok("-c", "set 0x501e Jane Doe")
    assert run.stdout == "property 0x501e successfully set to 'Jane Doe'\n"
    assert camera_value(shared_camera, 0x501E) == "Jane Doe"
    assert cli.ok("get", "Artist").stdout == "Jane Doe\n"


def test_get_and_set_json(cli: Cli, shared_camera: RunningCamera) -> None:
    expected = {
        "property": "whitebalance",
        "code": "0x5005",
        "name": "white balance",
        "value": "0x4",
        "label": "daylight",
    }
    assert json.loads(cli.ok("--json", "set", "whitebalance", "daylight").stdout) == expected
    assert json.loads(cli.ok("--json", "get", "whitebalance").stdout) == expected
    assert json.loads(cli.ok("get", "whitebalance", "json").stdout) == expected
    pretty = cli.ok("get", "whitebalance", "json", "pretty").stdout
    assert json.loads(pretty) == expected
    assert '\n    "code": "0x5005",\n' in pretty
    cli.ok("set", "exp-bias", "-1/3")
    bias = json.loads(cli.ok("--json", "get", "exp-bias").stdout)
    assert (bias["value"], bias["label"]) == ("0xfeb3", "-1/3")


# -- describe --------------------------------------------------------------------------------


def test_describe_text_has_the_seed_table_and_human_values(cli: Cli) -> None:
    cli.ok("set", "iso", "400")
    out = cli.ok("describe", "iso").stdout
    lines = out.splitlines()
    assert lines[0] == ""  # the seed starts its tables with a blank line
    assert lines[1].split() == [
        "DevicePropCode",
        "Prop",
        "name",
        "Dflt",
        "val",
        "as",
        "str",
        "Dflt",
        "val",
        "as",
        "int64",
        "Dflt",
        "val",
        "in",
        "hex",
        "Cur",
        "val",
        "as",
        "str",
        "Cur",
        "val",
        "as",
        "int64",
        "Cur",
        "val",
        "in",
        "hex",
        "Vals",
        "allowed",
    ]
    assert set(lines[2].replace(" ", "")) == {"-"}
    row = lines[3].split()
    assert row[:8] == ["0x500f", "ISO", "100", "100", "0x00000064", "400", "400", "0x00000190"]
    assert "0x64," in row
    assert "ISO: 400 (read/write, uint16)" in lines
    assert "allowed: 100, 125, 160, 200" in out


def test_describe_exposure_shows_shutter_speeds(cli: Cli) -> None:
    cli.ok("set", "exposure", "1/250")
    out = cli.ok("describe", "exposure").stdout
    assert "exposure time: 1/250 s (read/write, uint32)" in out
    assert "1/250 s, 1/200 s" in out


def check_describe_json(data: object) -> dict[str, object]:
    assert isinstance(data, dict)
    assert list(data)[: len(DESCRIBE_KEYS)] == DESCRIBE_KEYS
    return data


@pytest.mark.parametrize(
    ("args", "pretty"),
    [
        (["describe", "whitebalance", "json"], False),
        (["describe", "whitebalance", "json", "pretty"], True),
        (["--json", "describe", "whitebalance"], False),
        (["--json", "--pretty", "describe", "whitebalance"], True),
        (["-c", "describe 0x5005 json pretty"], True),
    ],
)
def test_describe_json(cli: Cli, args: list[str], pretty: bool) -> None:
    cli.ok("set", "whitebalance", "daylight")
    out = cli.ok(*args).stdout
    assert out.endswith("}\n")
    assert ('\n    "dataType": "uint16",\n' in out) is pretty
    data = check_describe_json(json.loads(out))
    assert data["DevicePropertyCode"] == {"code": "0x5005", "label": "white balance"}
    assert data["dataType"] == "uint16"
    assert data["readOnly"] is False
    assert data["FactoryDefaultValue"] == {"value": "0x2", "label": "automatic"}
    assert data["CurrentValue"] == {"value": "0x4", "label": "daylight"}
    assert data["formType"] == "enum"
    form = data["form"]
    assert isinstance(form, dict)
    assert {"value": "0x4", "label": "daylight"} in form["values"]
    assert data["allowed"] == [
        "automatic",
        "daylight",
        "fluorescent",
        "tungsten",
        "flash",
        "manual",
    ]


def test_describe_json_of_a_read_only_range_and_a_signed_enum(cli: Cli) -> None:
    battery = check_describe_json(json.loads(cli.ok("describe", "0x5001", "json").stdout))
    assert battery["readOnly"] is True
    assert battery["dataType"] == "uint8"
    assert (battery["formType"], battery["form"]) == (
        "range",
        {"min": "0x0", "max": "0x64", "step": "0x1"},
    )
    cli.ok("set", "exp-bias", "-1/3")
    bias = check_describe_json(json.loads(cli.ok("describe", "exp-bias", "json").stdout))
    assert bias["dataType"] == "int16"
    assert bias["CurrentValue"] == {"value": "0xfeb3", "label": "-1/3"}
    form = bias["form"]
    assert isinstance(form, dict)
    assert form["values"][0] == {"value": "0xf448", "label": "-3"}
    artist = check_describe_json(json.loads(cli.ok("describe", "artist", "json").stdout))
    assert (artist["dataType"], artist["formType"], artist["form"]) == ("string", "none", None)


# -- failures: one line on stderr, exit 3 ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "0x5001", "50"], "battery level is read only"),
        (["set", "battery", "50"], "unknown property 'battery'"),
        (["set", "iso", "123"], "set iso: '123' is not an allowed ISO; allowed: "),
        (["set", "iso", "0x123"], "is not an allowed ISO"),
        (["set", "whitebalance", "purple"], "whitebalance"),
        (["set", "exposure", "1/99999"], "1/99999"),
        (["get", "nonsense"], "unknown property 'nonsense'"),
        (["describe", "nonsense"], "unknown property 'nonsense'"),
        (["get", "0x12345"], "0x12345"),
    ],
)
def test_failed_commands_exit_3_with_one_line(cli: Cli, args: list[str], message: str) -> None:
    run = cli.fails(3, *args)
    assert run.stdout == ""
    assert run.stderr.startswith("ptpip: ")
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_an_unknown_property_lists_the_names(cli: Cli) -> None:
    err = cli.fails(3, "get", "nonsense").stderr
    for name in ("delay", "effect", "exposure", "exp-bias", "flashmode", "focusmtr", "iso"):
        assert name in err
    assert "whitebalance" in err


@pytest.mark.parametrize("command", ["get 0x5002", "describe 0x5002"])
def test_a_camera_refusal_names_the_operation_response_and_remedy(cli: Cli, command: str) -> None:
    run = cli.fails(3, "-c", command)
    (line,) = run.stderr.strip().splitlines()
    assert "GetDevicePropDesc" in line
    assert "DevicePropNotSupported (0x200A)" in line
    assert "the camera does not have this property" in line


def test_set_a_read_only_property_leaves_it_alone(cli: Cli, shared_camera: RunningCamera) -> None:
    before = camera_value(shared_camera, BATTERY)
    cli.fails(3, "set", "0x5001", "0x10")
    assert camera_value(shared_camera, BATTERY) == before


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["get"], "usage: get PROPERTY"),
        (["set"], "usage: set PROPERTY VALUE"),
        (["set", "iso"], "usage: set PROPERTY VALUE"),
        (["describe"], "usage: describe PROPERTY"),
        (["describe", "json"], "usage: describe PROPERTY"),
        (["opreq"], "usage: opreq OPCODE"),
        (["-c", "get"], "usage: get PROPERTY"),
        (["-c", "set iso"], "usage: set PROPERTY VALUE"),
    ],
)
def test_a_missing_argument_prints_usage_and_exits_2(cli: Cli, args: list[str], usage: str) -> None:
    run = cli.fails(2, *args)
    assert "missing argument" in run.stderr
    assert usage in run.stderr
    assert run.stdout == ""
