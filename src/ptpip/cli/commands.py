"""The commands of the `ptpip` command line, shell and server: one table, one runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ptpip.cli import render
from ptpip.errors import ExitStatus, PtpError
from ptpip.props import (
    describe_values,
    format_value,
    parse_value,
    prop_label,
    resolve_property,
    unified_names,
)
from ptpip.ptp.codes import ARRAY_MASK, DataType, Vendor
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.names import CodeKind, name
from ptpip.ptp.values import Value

if TYPE_CHECKING:
    from ptpip.cli.context import Context

__all__ = [
    "COMMANDS",
    "Command",
    "CommandError",
    "Output",
    "UsageError",
    "find_command",
    "help_output",
    "run_command",
]


class CommandError(Exception):
    """A command failed in a way the user can fix; printed as one line.

    ``exit_code`` is 3 (the command failed) or 2 for a bad argument caught before any work.
    """

    def __init__(
        self,
        message: str,
        *,
        usage: str | None = None,
        exit_code: ExitStatus = ExitStatus.COMMAND_FAILED,
    ) -> None:
        super().__init__(message)
        self.usage = usage
        self.exit_code = exit_code


class UsageError(CommandError):
    """A bad argument, refused before any work (exit 2)."""

    def __init__(self, message: str, *, usage: str | None = None) -> None:
        super().__init__(message, usage=usage, exit_code=ExitStatus.USAGE)


@dataclass(slots=True)
class Output:
    """What a command produced: text for people, data for ``--json``.

    ``error`` is set when it did only part of its work (some files failed): the output
    stands, and the command fails with that message (exit 3).
    """

    text: str = ""
    data: object = None
    error: str | None = None


Runner = Callable[["Context", list[str]], Awaitable[Output]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    summary: str
    details: str
    run: Runner
    aliases: tuple[str, ...] = ()
    #: the trailing words "json" and "pretty" select JSON output (the seed's form)
    json_words: bool = True
    min_args: int = 0
    args_help: tuple[str, ...] = field(default_factory=tuple)


COMMANDS: dict[str, Command] = {}
_ALIASES: dict[str, str] = {}


def command(
    name: str,
    usage: str,
    summary: str,
    details: str = "",
    *,
    aliases: tuple[str, ...] = (),
    json_words: bool = True,
    min_args: int = 0,
) -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        COMMANDS[name] = Command(name, usage, summary, details, fn, aliases, json_words, min_args)
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return register


def find_command(word: str) -> Command | None:
    key = word.lower()
    return COMMANDS.get(_ALIASES.get(key, key))


async def run_command(ctx: Context, line: str) -> Output:
    """Run one command line; raises CommandError or PtpError on failure.

    What it prints, and the messages of its errors, can hold a camera's strings: they come
    out with terminal controls and bidi marks escaped (render.terminal_safe).
    """
    try:
        out = await _run(ctx, line)
    except (CommandError, PtpError) as exc:
        message = str(exc)
        safe = render.terminal_safe(message)
        if safe != message:
            exc.args = (safe, *exc.args[1:])
        raise
    out.text = render.terminal_safe(out.text)
    if out.error is not None:
        out.error = render.terminal_safe(out.error)
    return out


async def _run(ctx: Context, line: str) -> Output:
    words = line.split()
    if not words:
        raise CommandError("empty command: try `help`")
    cmd = find_command(words[0])
    if cmd is None:
        raise CommandError(f"unknown command {words[0]!r}: try `help`")
    args = words[1:]
    ctx.json_output, ctx.pretty = ctx.settings.json, ctx.settings.pretty
    if cmd.json_words:
        while len(args) > cmd.min_args and args[-1].lower() in ("json", "pretty"):
            word = args.pop().lower()
            ctx.json_output = True
            ctx.pretty = ctx.pretty or word == "pretty"
    if len(args) < cmd.min_args:
        raise UsageError(f"{cmd.name}: missing argument", usage=f"usage: {cmd.usage}")
    return await cmd.run(ctx, args)


# -- helpers ------------------------------------------------------------------------------------


def _hex(value: int) -> str:
    return f"{value:#x}"


def _as_int(value: Value) -> int | None:
    return value if isinstance(value, int) else None


_SIGNED_BITS: dict[int, int] = {
    DataType.INT8: 8,
    DataType.INT16: 16,
    DataType.INT32: 32,
    DataType.INT64: 64,
    DataType.INT128: 128,
}


def _unsigned(value: int, datatype: int | None) -> int:
    """A negative value zero-extended from its own width, as the seed shows it (INT16 -667 ->
    0xfd65, 64869); 32 bits when the type is not known. Other values are left alone."""
    if value >= 0:
        return value
    bits = _SIGNED_BITS.get(datatype & ~ARRAY_MASK, 32) if datatype is not None else 32
    return value & ((1 << bits) - 1)


async def _datatype_of(ctx: Context, code: int, value: Value) -> int | None:
    """The property's data type, needed only to show a negative value (cached by the client
    once the property was described or read, so normally no extra request)."""
    if not (isinstance(value, int) and value < 0):
        return None
    try:
        return (await ctx.camera.describe(code, refresh=False)).datatype
    except PtpError:
        return None


def _value_json(
    ctx: Context, code: int, value: Value, datatype: int | None = None
) -> dict[str, object]:
    raw: object = _hex(_unsigned(value, datatype)) if isinstance(value, int) else value
    if isinstance(value, tuple):
        raw = [_hex(_unsigned(v, datatype)) for v in value]
    return {"value": raw, "label": format_value(code, value, ctx.vendor)}


def _desc_json(ctx: Context, desc: DevicePropDesc) -> dict[str, object]:
    """The seed's describe JSON shape (malc0mn-cli.md §11), with our human labels."""
    form: object = None
    form_type = "none"
    if isinstance(desc.form, PropRange):
        form_type = "range"
        form = {
            "min": _hex(_unsigned(desc.form.minimum, desc.datatype)),
            "max": _hex(_unsigned(desc.form.maximum, desc.datatype)),
            "step": _hex(desc.form.step),
        }
    elif isinstance(desc.form, PropEnum):
        form_type = "enum"
        form = {"values": [_value_json(ctx, desc.code, v, desc.datatype) for v in desc.form.values]}
    return {
        "DevicePropertyCode": {"code": _hex(desc.code), "label": prop_label(desc.code, ctx.vendor)},
        "dataType": _datatype_name(desc.datatype),
        "readOnly": not desc.writable,
        "FactoryDefaultValue": _value_json(ctx, desc.code, desc.default, desc.datatype),
        "CurrentValue": _value_json(ctx, desc.code, desc.current, desc.datatype),
        "formType": form_type,
        "form": form,
    }


def _datatype_name(datatype: int) -> str:
    if datatype == DataType.STR:
        return "string"
    try:
        return DataType(datatype).name.lower()
    except ValueError:
        return f"0x{datatype:04x}"


def short_row(ctx: Context, code: int, value: Value, datatype: int | None = None) -> list[str]:
    as_int = _as_int(value)
    shown = _unsigned(as_int, datatype) if as_int is not None else None
    return [
        f"{code:#06x}",
        prop_label(code, ctx.vendor),
        format_value(code, value, ctx.vendor),
        str(shown) if shown is not None else "",
        f"{shown:#010x}" if shown is not None else "",
    ]


SHORT_HEADERS = (
    "DevicePropCode",
    "Property name",
    "Value as string",
    "Value as int64",
    "Value in hex",
)


def _output(ctx: Context, text: str, data: object) -> Output:
    return Output(text, data)


def _resolve(ctx: Context, text: str) -> int:
    try:
        return resolve_property(text, ctx.vendor)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


# -- info, state, describe, get, set ------------------------------------------------------------


@command(
    "info",
    "info [json [pretty]]",
    "displays the device info",
    "The camera's identity, what it supports and its storages.",
)
async def _info(ctx: Context, args: list[str]) -> Output:
    return await ctx.profile_info()


@command(
    "state",
    "state [json [pretty]]",
    "displays the current value of every property",
    "One row per property the camera lists: code, name, value in words, as a number, in hex.",
)
async def _state(ctx: Context, args: list[str]) -> Output:
    pairs = await ctx.state_values()
    types = [await _datatype_of(ctx, code, value) for code, value in pairs]
    rows = [short_row(ctx, code, value, t) for (code, value), t in zip(pairs, types, strict=True)]
    data = [
        {
            "DevicePropertyCode": {"code": _hex(code), "label": prop_label(code, ctx.vendor)},
            "CurrentValue": _value_json(ctx, code, value, t),
        }
        for (code, value), t in zip(pairs, types, strict=True)
    ]
    return _output(ctx, render.table(SHORT_HEADERS, rows), data)


@command(
    "describe",
    "describe PROPERTY [json [pretty]]",
    "describes a property: type, current and default value, allowed values",
    "PROPERTY is a name (iso, whitebalance, exposure, exp-bias, …), a code table name\n"
    "(WhiteBalance) or a hexadecimal code (0x5005).",
    min_args=1,
)
async def _describe(ctx: Context, args: list[str]) -> Output:
    code = _resolve(ctx, args[0])
    desc = await ctx.camera.describe(code)
    allowed = describe_values(desc, ctx.vendor)
    if isinstance(desc.form, PropRange):
        low, high = (_unsigned(v, desc.datatype) for v in (desc.form.minimum, desc.form.maximum))
        vals = f"Min: {low:#x}, max: {high:#x}, step: {desc.form.step:#x}"
    elif isinstance(desc.form, PropEnum):
        vals = ", ".join(
            _hex(_unsigned(v, desc.datatype)) if isinstance(v, int) else str(v)
            for v in desc.form.values
        )
    else:
        vals = ""
    d = short_row(ctx, code, desc.default, desc.datatype)
    c = short_row(ctx, code, desc.current, desc.datatype)
    headers = (
        "DevicePropCode",
        "Prop name",
        "Dflt val as str",
        "Dflt val as int64",
        "Dflt val in hex",
        "Cur val as str",
        "Cur val as int64",
        "Cur val in hex",
        "Vals allowed",
    )
    text = render.table(headers, [[d[0], d[1], d[2], d[3], d[4], c[2], c[3], c[4], vals]])
    access = "read/write" if desc.writable else "read only"
    text += f"\n{prop_label(code, ctx.vendor)}: {format_value(code, desc.current, ctx.vendor)}"
    text += f" ({access}, {_datatype_name(desc.datatype)})\n"
    if allowed:
        text += "allowed: " + ", ".join(allowed) + "\n"
    data = _desc_json(ctx, desc)
    data["allowed"] = allowed
    return Output(text, data)


@command(
    "get",
    "get PROPERTY",
    "gets the current value of a property",
    "Prints the value in words and in hex, e.g. `1/250 s (0x28)`.",
    min_args=1,
)
async def _get(ctx: Context, args: list[str]) -> Output:
    code = _resolve(ctx, args[0])
    value = await ctx.get_value(code)
    datatype = await _datatype_of(ctx, code, value)
    label = format_value(code, value, ctx.vendor)
    as_int = _as_int(value)
    text = f"{label} ({_unsigned(as_int, datatype):#x})\n" if as_int is not None else f"{label}\n"
    data: dict[str, object] = {
        "property": args[0],
        "code": _hex(code),
        "name": prop_label(code, ctx.vendor),
    }
    data.update(_value_json(ctx, code, value, datatype))
    return Output(text, data)


@command(
    "set",
    "set PROPERTY VALUE",
    "sets a property",
    "VALUE in words or numbers as `describe` shows them (3200, 1/250, f/5.6, -2/3, daylight,\n"
    "auto) or in hexadecimal (0x320). Depending on the exposure mode, not every property\n"
    "can be set.",
    json_words=False,
    min_args=2,
)
async def _set(ctx: Context, args: list[str]) -> Output:
    code = _resolve(ctx, args[0])
    desc = await ctx.camera.describe(code)
    if not desc.writable:
        raise CommandError(f"{prop_label(code, ctx.vendor)} is read only")
    text_value = " ".join(args[1:])
    try:
        value = parse_value(code, text_value, ctx.vendor, desc)
    except ValueError as exc:
        raise CommandError(f"set {args[0]}: {exc}") from None
    await ctx.set_value(code, value)
    label = format_value(code, value, ctx.vendor)
    as_int = _as_int(value)
    shown = (
        f"{label} ({_unsigned(as_int, desc.datatype):#x})" if as_int is not None else repr(label)
    )
    data: dict[str, object] = {
        "property": args[0],
        "code": _hex(code),
        "name": prop_label(code, ctx.vendor),
    }
    data.update(_value_json(ctx, code, value, desc.datatype))
    return Output(f"property {args[0]} successfully set to {shown}\n", data)


# -- opreq, help --------------------------------------------------------------------------------


def _parse_hex(text: str, what: str, bits: int) -> int:
    t = text.lower().removeprefix("0x")
    try:
        value = int(t, 16)
    except ValueError:
        raise CommandError(f"{what} {text!r} is not hexadecimal (e.g. 0x1014)") from None
    if value >= 1 << bits:
        raise CommandError(f"{what} {text!r} does not fit in {bits} bits")
    return value


@command(
    "opreq",
    "opreq OPCODE [PARAM...]",
    "sends a raw operation and dumps the packets received (reverse engineering)",
    "OPCODE and up to five PARAMs in hexadecimal, e.g. `opreq 0x1014 0x5003`.\n"
    "The output is a hexadecimal dump of every packet the responder sent back.",
    json_words=False,
    min_args=1,
)
async def _opreq(ctx: Context, args: list[str]) -> Output:
    code = _parse_hex(args[0], "opcode", 16)
    if len(args) > 6:
        raise CommandError("opreq takes at most 5 parameters")
    params = tuple(_parse_hex(a, "parameter", 32) for a in args[1:])
    result, packets = await ctx.opreq_packets(code, params)
    text = "".join(f"\nReceived {len(p)} bytes. HEX dump:\n{render.hex_dump(p)}" for p in packets)
    rc = name(CodeKind.RESPONSE, result.code, ctx.vendor)
    if not ctx.json_output:  # stdout stays the seed's dump; the names go beside it
        op = name(CodeKind.OPERATION, code, ctx.vendor)
        ctx.note(f"opreq: {op} (0x{code:04X}) -> {rc} (0x{result.code:04X})")
    data = {
        "operation": {"code": _hex(code), "name": name(CodeKind.OPERATION, code, ctx.vendor)},
        "response": {"code": _hex(result.code), "name": rc},
        "params": [_hex(p) for p in result.params],
        "data": result.data.hex(),
        "packets": [p.hex() for p in packets],
    }
    return Output(text, data)


@command(
    "help",
    "help [COMMAND]",
    "displays help for all commands or for one",
    json_words=False,
)
async def _help(ctx: Context, args: list[str]) -> Output:
    return help_output(args, ctx.vendor)


def help_output(args: list[str], vendor: Vendor) -> Output:
    """What `help [COMMAND]` shows. It needs no camera: the property names are the dialect's,
    so ``ptpip help`` is answered before (and without) connecting. Raises CommandError for an
    unknown COMMAND."""
    if args:
        cmd = find_command(args[0])
        if cmd is None:
            raise CommandError(f"no command {args[0]!r}: try `help`")
        return Output(help_text(cmd), {"command": cmd.name, "usage": cmd.usage})
    lines = [f'"{c.name}" {c.summary}.' for c in COMMANDS.values()]
    names = ", ".join(sorted(unified_names(vendor)))
    text = "\n".join(lines) + f"\n\nProperty names: {names}\nRun `help COMMAND` for details.\n"
    return Output(text, [{"command": c.name, "usage": c.usage} for c in COMMANDS.values()])


def help_text(cmd: Command, ctx: Context | None = None) -> str:
    text = f'"{cmd.name}" {cmd.summary}.\n\tusage: {cmd.usage}\n'
    if cmd.aliases:
        text += f"\taliases: {', '.join(cmd.aliases)}\n"
    if cmd.details:
        text += "".join(f"\t{line}\n" for line in cmd.details.splitlines())
    return text
