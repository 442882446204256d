"""Flags and config file of the `ptpip` command, compatible with the seed CLI (malc0mn-cli.md).

Seed flags are Go-style: single dash, multi-letter (``-pc 55740``, ``-version``), ``-h`` is the
host; GNU long forms work too (``--host``, ``--port``, ``--vendor``, ``--help``). As in the
seed, values from the ``-f`` config file override flags.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import select
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ptpip.errors import ExitStatus
from ptpip.ptp.codes import Vendor

__all__ = [
    "SEED_VENDORS",
    "CliError",
    "Settings",
    "build_parser",
    "parse_port",
    "parse_settings",
    "parse_timeout",
]

#: The seed's ``-t`` strings (malc0mn-cli.md §2.1). Those ptpip has no dialect for speak
#: standard PTP/IP as far as ptpip is concerned, so they map to the generic profile.
SEED_VENDORS: dict[str, Vendor] = {
    "generic": Vendor.GENERIC,
    "kodak": Vendor.GENERIC,
    "epson": Vendor.GENERIC,
    "agilent": Vendor.GENERIC,
    "polaroid": Vendor.GENERIC,
    "agfa": Vendor.GENERIC,
    "ms": Vendor.GENERIC,
    "equinox": Vendor.GENERIC,
    "vq": Vendor.GENERIC,
    "st": Vendor.GENERIC,
    "nikon": Vendor.NIKON,
    "canon": Vendor.CANON,
    "fn": Vendor.GENERIC,
    "pentax": Vendor.GENERIC,
    "fuji": Vendor.FUJI,
    "ndd": Vendor.GENERIC,
    "samsung": Vendor.GENERIC,
    "parrot": Vendor.GENERIC,
    "panasonic": Vendor.GENERIC,
    "leica": Vendor.LEICA,
    "sony": Vendor.SONY,
}

DEFAULT_HOST = "192.168.0.1"  # the seed's default: a camera's own access point
DEFAULT_SERVER_ADDRESS = "127.0.0.1"
DEFAULT_SERVER_PORT = 15740


class CliError(Exception):
    """A start-up error with the exit code to leave with."""

    def __init__(
        self,
        message: str,
        code: ExitStatus,
        *,
        usage: bool = False,
        fields: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.usage = usage
        #: the Settings fields whose values are wrong (tells a bad config from bad flags)
        self.fields = fields


@dataclass(slots=True)
class Settings:
    command: str | None = None
    words: list[str] = field(default_factory=list)
    config: Path | None = None
    guid: str | None = None
    host: str = DEFAULT_HOST
    interactive: bool = False
    name: str | None = None
    port: int | None = None
    cmd_port: int | None = None
    event_port: int | None = None
    stream_port: int | None = None
    server: bool = False
    server_address: str = DEFAULT_SERVER_ADDRESS
    server_port: int = DEFAULT_SERVER_PORT
    vendor: str = "generic"
    verbosity: int = 0
    version: bool = False
    help: bool = False
    json: bool = False
    pretty: bool = False
    record: Path | None = None
    timeout: float = 10.0
    #: --timeout was given: it then bounds the Init handshake too (pairing waits otherwise)
    timeout_explicit: bool = False
    #: -t (or the config's vendor) was given; without it the dialect is detected
    vendor_explicit: bool = False
    #: server mode asks TCP clients for the secret token (off: --no-auth, [server] auth = false)
    server_auth: bool = True
    #: --check: validate the flags and the config file, print the effective settings, exit
    check: bool = False
    #: the fields the config file set, and where: {"host": "[responder] host", ...}
    from_config: dict[str, str] = field(default_factory=dict)

    @property
    def vendor_enum(self) -> Vendor:
        return SEED_VENDORS[self.vendor]

    @property
    def command_text(self) -> str | None:
        if self.command is not None:
            return self.command
        return " ".join(self.words) if self.words else None


#: Go's uint flag forms, ASCII only: 0x/0o/0b prefixes, leading-0 octal, plain decimal. No
#: sign, no underscores, no other digits (Python's int() takes "1_5740" and "١٥٧٤٠").
_PORT_FORMS = (
    (re.compile(r"0x([0-9a-f]+)", re.ASCII), 16),
    (re.compile(r"0o([0-7]+)", re.ASCII), 8),
    (re.compile(r"0b([01]+)", re.ASCII), 2),
    (re.compile(r"0([0-7]+)", re.ASCII), 8),
    (re.compile(r"([1-9][0-9]*|0)", re.ASCII), 10),
)


def parse_port(text: str) -> int:
    """A port like Go's uint16 flag: 0x/0o/0b prefixes and leading-0 octal, 1..65535."""
    t = text.strip(" \t").lower()
    for pattern, base in _PORT_FORMS:
        m = pattern.fullmatch(t)
        if m:
            value = int(m[1], base)
            break
    else:
        raise argparse.ArgumentTypeError(f'invalid value "{text}": not a port number')
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f'invalid value "{text}": value out of range')
    return value


#: Seconds, ASCII digits only: 10, 2.5, .5, 1e1 (no sign, nan or inf).
_SECONDS = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?", re.ASCII | re.IGNORECASE)
#: The longest wait --timeout may ask for: one day.
MAX_TIMEOUT = 86400.0


def parse_timeout(text: str) -> float:
    """A positive, finite number of seconds, at most :data:`MAX_TIMEOUT`."""
    if not _SECONDS.fullmatch(text.strip(" \t")):
        raise argparse.ArgumentTypeError(f'invalid value "{text}": not a number of seconds')
    value = float(text)
    if not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f'invalid value "{text}": must be more than 0 and at most {MAX_TIMEOUT:g} seconds'
        )
    return value


def _vendor(text: str) -> str:
    key = text.strip().strip('"').lower()
    if key not in SEED_VENDORS:
        known = ", ".join(sorted(SEED_VENDORS))
        raise argparse.ArgumentTypeError(f"unknown vendor {text!r} (one of: {known})")
    return key


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # "argument -p/--port: invalid value ..." names the flag and the problem: one line.
        # Other mistakes (unknown flags, a missing value) also point to the usage.
        raise CliError(message, ExitStatus.USAGE, usage=": invalid " not in message)


def build_parser(prog: str = "ptpip") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, add_help=False, allow_abbrev=False)
    add = p.add_argument
    add("-?", "--help", dest="help", action="store_true", help="Display usage information.")
    add("-c", "--command", dest="command", help="The command to send to the responder.")
    add("-f", "--config", dest="config", type=Path, help="Read all settings from a config file.")
    add("-g", "--guid", dest="guid", help="A custom GUID for the initiator (default: stored).")
    add("-h", "--host", dest="host", help=f'The responder host (default "{DEFAULT_HOST}").')
    add("-i", "--interactive", dest="interactive", action="store_true", help="Interactive shell.")
    add("-n", "--name", dest="name", help="A custom friendly name for the initiator.")
    add("-p", "--port", dest="port", type=parse_port, help="One port for all channels.")
    add("-pc", "--cmd-port", dest="cmd_port", type=parse_port, help="Command/data port.")
    add("-pe", "--event-port", dest="event_port", type=parse_port, help="Event port.")
    add("-ps", "--stream-port", dest="stream_port", type=parse_port, help="Live-view port.")
    add(
        "-s",
        "--server",
        dest="server",
        action="store_true",
        help="Run as a command server: TCP with a token, and a Unix socket (ptpip send -?).",
    )
    add("-sa", "--server-address", dest="server_address", help="Server address (127.0.0.1).")
    add("-sp", "--server-port", dest="server_port", type=parse_port, help="Server port (15740).")
    add("-t", "--vendor", dest="vendor", type=_vendor, help='Vendor (default "generic").')
    add("-v", dest="verbosity", help="Log verbosity: v, vv or vvv.")
    add("-version", "--version", dest="version", action="store_true", help="Version info.")
    add("--json", dest="json", action="store_true", help="Machine-readable JSON output.")
    add("--pretty", dest="pretty", action="store_true", help="Indent JSON output.")
    add("--record", dest="record", type=Path, help="Write the PTP/IP traffic to a pcap file.")
    add(
        "--timeout",
        dest="timeout",
        type=parse_timeout,
        help="Seconds to wait for the camera (10); when given, also for the Init handshake"
        " (which otherwise waits up to 180 s for a pairing confirmation on Canon and Fuji).",
    )
    add(
        "--no-auth",
        dest="no_auth",
        action="store_true",
        help="Server mode without authentication (the seed's plain TCP, for nc): any program"
        " on this machine can then control the camera.",
    )
    add(
        "--check",
        dest="check",
        action="store_true",
        help="Check the config file (-f) and the flags, print the effective settings and exit"
        " (0 when valid, 102 for a bad config file); connects to nothing.",
    )
    add("words", nargs=argparse.REMAINDER, help="a command and its arguments")
    return p


_VERBOSE = re.compile(r"^-(v+)$")


def _normalise_verbosity(argv: list[str]) -> tuple[list[str], int]:
    """Accept ``-v``, ``-vv``, ``-vvv`` and the seed's ``-v vvv``; anything else is an error."""
    out: list[str] = []
    level = 0
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        m = _VERBOSE.match(arg)
        if m:
            level = max(level, len(m.group(1)))
            if arg == "-v" and i + 1 < len(argv) and re.fullmatch(r"v{1,3}", argv[i + 1]):
                level = len(argv[i + 1])
                i += 1
        elif arg.startswith("-v="):
            value = arg[3:]
            if not re.fullmatch(r"v{1,3}", value):
                raise CliError("unknown log level " + repr(value), ExitStatus.USAGE, usage=True)
            level = len(value)
        elif not arg.startswith("-") and (not out or not _takes_value(out[-1])):
            out.extend(argv[i:])  # the command words: stop interpreting flags
            break
        else:
            out.append(arg)
        i += 1
    return out, min(level, 3)


_VALUE_FLAGS = frozenset(
    [
        "-c",
        "-f",
        "-g",
        "-h",
        "-n",
        "-p",
        "-pc",
        "-pe",
        "-ps",
        "-sa",
        "-sp",
        "-t",
        "--command",
        "--config",
        "--guid",
        "--host",
        "--name",
        "--port",
        "--cmd-port",
        "--event-port",
        "--stream-port",
        "--server-address",
        "--server-port",
        "--vendor",
        "--record",
        "--timeout",
    ]
)


def _takes_value(flag: str) -> bool:
    return flag in _VALUE_FLAGS


def parse_settings(argv: list[str]) -> Settings:
    """Parse the command line (without the config file; see :func:`apply_config`)."""
    args, level = _normalise_verbosity(argv)
    ns = build_parser().parse_args(args)
    s = Settings(verbosity=level)
    for key in (
        "command",
        "config",
        "guid",
        "host",
        "name",
        "port",
        "cmd_port",
        "event_port",
        "stream_port",
        "server_address",
        "server_port",
        "vendor",
        "record",
        "timeout",
    ):
        value = getattr(ns, key)
        if value is not None:
            setattr(s, key, value)
    s.help, s.version, s.interactive, s.server = ns.help, ns.version, ns.interactive, ns.server
    s.json, s.pretty, s.check = ns.json, ns.pretty, ns.check
    s.timeout_explicit = ns.timeout is not None
    s.vendor_explicit = ns.vendor is not None
    s.server_auth = not ns.no_auth
    s.words = [w for w in ns.words if w != "--"]
    if s.command is not None and not s.command.strip():
        raise CliError("-c needs a command, e.g. -c info", ExitStatus.USAGE, usage=True)
    return s


# -- the config file ----------------------------------------------------------------------------

_CONFIG_KEYS: dict[str, dict[str, str]] = {
    "initiator": {"friendly_name": "name", "guid": "guid"},
    "responder": {
        "vendor": "vendor",
        "host": "host",
        "port": "port",
        "cmd_data_port": "cmd_port",
        "event_port": "event_port",
        "stream_port": "stream_port",
    },
    "server": {
        "enabled": "server",
        "address": "server_address",
        "port": "server_port",
        "auth": "server_auth",
    },
}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


#: A config file is a few lines; more than this is not one (/dev/zero, a log file, ...).
MAX_CONFIG_BYTES = 1 << 20
#: How long a config that is a pipe or a device may take to reach its end.
CONFIG_READ_SECONDS = 2.0


def apply_config(s: Settings) -> None:
    """Load ``s.config`` over the flags; any problem raises CliError with exit code 102."""
    if s.config is None:
        return
    path = s.config.expanduser()
    parser = configparser.ConfigParser(
        inline_comment_prefixes=(";", "#"), comment_prefixes=(";", "#"), interpolation=None
    )
    text = read_config_text(path)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        detail = " ".join(str(exc).split())  # its messages span lines; one line here
        if len(detail) > 300:
            detail = detail[:300] + " …"
        raise CliError(f"Error reading config file {path}: {detail}", ExitStatus.CONFIG) from None
    for section in parser.sections():
        keys = _CONFIG_KEYS.get(section)
        if keys is None:
            known = ", ".join(f"[{k}]" for k in _CONFIG_KEYS)
            raise CliError(
                f"{path}: unknown section [{section}] (known: {known})", ExitStatus.CONFIG
            )
        for key, raw in parser.items(section):
            target = keys.get(key)
            if target is None:
                known = ", ".join(keys)
                raise CliError(
                    f"{path}: unknown key {key!r} in [{section}] (known: {known})",
                    ExitStatus.CONFIG,
                )
            _set_from_config(s, path, section, key, target, _unquote(raw))


def read_config_text(path: Path) -> str:
    """The text of a config file, read safely: never more than :data:`MAX_CONFIG_BYTES`, never
    waiting more than :data:`CONFIG_READ_SECONDS` for a pipe or device to end, UTF-8 only."""

    def fail(problem: str) -> CliError:
        return CliError(f"Error opening config file - {path}: {problem}", ExitStatus.CONFIG)

    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise fail("is a directory, not a file")
        # a pipe (-f <(...)), a FIFO or a device: bounded in size and in time
        data = _read_file(fd, fail) if stat.S_ISREG(mode) else _read_stream(fd, fail)
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if b"\x00" in data:
        raise fail("a binary file (it contains NUL bytes), not an INI config file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise fail(f"not UTF-8 text (byte 0x{bad:02x} at offset {exc.start})") from None


def _too_big() -> str:
    return f"too big for a config file (more than {MAX_CONFIG_BYTES // 1024} KiB)"


def _read_file(fd: int, fail: Callable[[str], CliError]) -> bytes:
    if os.fstat(fd).st_size > MAX_CONFIG_BYTES:
        raise fail(_too_big())
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, 65536):  # ends: EOF, or the size check below
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_CONFIG_BYTES:  # it grew while we read it
            raise fail(_too_big())
    return b"".join(chunks)


def _read_stream(fd: int, fail: Callable[[str], CliError]) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + CONFIG_READ_SECONDS
    chunks: list[bytes] = []
    total = 0
    while True:  # ends: EOF, the size limit, or the deadline
        left = deadline - time.monotonic()
        if left <= 0:
            raise fail(
                f"no end of file within {CONFIG_READ_SECONDS:g} s (a pipe or device that never"
                " ends?)"
            )
        if not poller.poll(max(1, int(left * 1000))):
            continue
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_CONFIG_BYTES:
            raise fail(_too_big())


def _set_from_config(
    s: Settings, path: Path, section: str, key: str, target: str, value: str
) -> None:
    where = f"{path}: [{section}] {key}"
    s.from_config[target] = f"[{section}] {key}"
    try:
        if target in ("port", "cmd_port", "event_port", "stream_port", "server_port"):
            setattr(s, target, parse_port(value))
        elif target in ("server", "server_auth"):
            low = value.lower()
            if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise argparse.ArgumentTypeError(f"{value!r} is not true or false")
            setattr(s, target, low in ("true", "1", "yes", "on"))
        elif target == "vendor":
            s.vendor = _vendor(value)
            s.vendor_explicit = True
        else:
            setattr(s, target, value)
    except argparse.ArgumentTypeError as exc:
        raise CliError(f"{where}: {exc}", ExitStatus.CONFIG) from None


def effective_ports(
    s: Settings, defaults: tuple[int, int | None, int | None]
) -> tuple[int, int, int | None]:
    """(command, event, stream) ports from the flags and the vendor's defaults.

    Unlike the seed, ``-pc`` alone is fine; giving ``-p`` together with ``-pc``/``-pe`` is
    ambiguous and refused (exit 2).
    """
    one_of_them = (s.cmd_port is None) != (s.event_port is None)
    if s.port is not None and one_of_them:
        raise CliError(
            "ambiguous port specification: use a single port OR define multiple ports",
            ExitStatus.USAGE,
            fields=frozenset(["port", "cmd_port", "event_port"]),
        )
    cmd_default, evt_default, stream_default = defaults
    cmd = s.cmd_port or s.port or cmd_default
    evt = s.event_port or (s.port if s.cmd_port is None else None) or evt_default or cmd
    stream = s.stream_port or (s.port if s.port and s.cmd_port is None else None) or stream_default
    return cmd, evt, stream
