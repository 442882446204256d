"""Entry point of the `ptpip` command (kept light: heavy modules load only when needed)."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptpip._version import __version__
from ptpip.cli.settings import CliError, Settings, build_parser, parse_settings
from ptpip.errors import ExitStatus

if TYPE_CHECKING:
    from ptpip.cli.commands import Command
    from ptpip.cli.context import Context
    from ptpip.client.camera import Camera
    from ptpip.ptp.codes import Vendor
    from ptpip.record import PcapRecorder
    from ptpip.vendors.base import VendorProfile

__all__ = ["main"]

log = logging.getLogger("ptpip")

EXTRA_HELP = """
Commands (run `ptpip help COMMAND` for details; help needs no camera):
  info, state, describe, get, set, capture (shoot, shutter, snap), opreq, ls, download,
  watch, liveview, help
  simulate     run a virtual camera: ptpip simulate [-t VENDOR] [-h HOST] [-p PORT]
  discover     find cameras on the network (SSDP): ptpip discover [--timeout S]
  send         send one command to a running server (-s): ptpip send [-sp PORT] get iso

Examples:
  ptpip -h 192.168.0.1 info
  ptpip -h 127.0.0.1 -p 15740 -c "set iso 400"
  ptpip -t fuji -pc 55740 -pe 55741 -ps 55742 -c "capture 2 /tmp/x.jpg"
  ptpip -h 192.168.0.1 -s              then, from other programs: ptpip send get iso
  ptpip -f ptpip.conf --check          the effective settings, without connecting

Exit codes: 0 ok, 1 unspecified, 2 invalid arguments, 3 the command failed,
  102 config file, 104 creating the client, 105 connecting to the camera.
"""


def usage(prog: str = "ptpip") -> str:
    return build_parser(prog).format_help().replace("usage:", "Usage of ptpip:\n ", 1) + EXTRA_HELP


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "simulate":
        from ptpip.cli.simulate import main as simulate_main

        return simulate_main(args[1:])
    if args and args[0] == "discover":
        from ptpip.cli.discover import main as discover_main

        return discover_main(args[1:])
    if args and args[0] == "send":
        from ptpip.cli.remote import main as send_main

        return send_main(args[1:])
    if not args:
        sys.stderr.write(usage())
        return ExitStatus.ERROR  # the seed's exit code for "no arguments"
    try:
        settings = parse_settings(args)
        if settings.help:
            sys.stdout.write(usage())
            return ExitStatus.OK
        if settings.version:
            sys.stdout.write(f"ptpip version {__version__}\n")
            return ExitStatus.OK
        from ptpip.cli.settings import apply_config

        apply_config(settings)
        if settings.check:
            return check_settings(settings)
        cmd = _check_modes(settings)
    except CliError as exc:
        sys.stderr.write(f"ptpip: {exc}\n")
        if exc.usage:
            sys.stderr.write("Run `ptpip -?` for usage.\n")
        return exc.code
    _setup_logging(settings.verbosity)
    if cmd is not None and cmd.name == "help":  # needs no camera: never connects
        text = settings.command_text
        assert text is not None
        return _help(settings, text.split()[1:])
    try:
        if settings.interactive:
            from ptpip.cli.shell import run_shell_blocking

            return run_shell_blocking(settings)
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback with -vvv
        log.debug("internal error", exc_info=True)
        sys.stderr.write(
            f"ptpip: internal error: {type(exc).__name__}: {exc} (-vvv shows the details)\n"
        )
        return ExitStatus.ERROR


def _check_modes(s: Settings) -> Command | None:
    """Exactly one mode; for a single command, that it exists and has its arguments."""
    modes = sum((s.command_text is not None, s.interactive, s.server))
    if modes > 1:
        raise CliError(
            "Too many arguments: either run in server mode OR interactive mode OR execute a"
            " single command; not all at once!",
            ExitStatus.USAGE,
        )
    if modes == 0:
        raise CliError(
            "nothing to do: give a command (-c CMD or words after the flags), -i or -s",
            ExitStatus.USAGE,
            usage=True,
        )
    text = s.command_text
    if text is not None:
        from ptpip.cli.commands import find_command
        from ptpip.cli.files import capture_paths  # registers the file commands

        del capture_paths
        words = text.split()
        cmd = find_command(words[0]) if words else None
        if cmd is None:
            raise CliError(
                f"unknown command {words[0] if words else ''!r}", ExitStatus.USAGE, usage=True
            )
        plain = [w for w in words[1:] if not (cmd.json_words and w.lower() in ("json", "pretty"))]
        if len(plain) < cmd.min_args:
            raise CliError(f"{cmd.name}: missing argument; usage: {cmd.usage}", ExitStatus.USAGE)
        return cmd
    return None


def _dialect(s: Settings) -> Vendor:
    """The dialect a connection would speak (Nikon and Sony bodies: the generic one)."""
    from ptpip.vendors.base import profile_for

    try:
        return profile_for(s.vendor_enum).vendor
    except ValueError:
        return s.vendor_enum


def _help(s: Settings, args: list[str]) -> int:
    """`ptpip help [COMMAND]`: printed as a camera connection would, without one."""
    import ptpip.cli.files  # noqa: F401  (registers capture, ls, download, watch, liveview)
    from ptpip.cli.commands import CommandError, help_output
    from ptpip.cli.render import terminal_safe, to_json

    try:
        out = help_output(args, _dialect(s))
    except CommandError as exc:
        sys.stderr.write(f"ptpip: {terminal_safe(str(exc))}\n")
        return int(exc.exit_code)
    if s.json:
        sys.stdout.write(to_json(out.data, pretty=s.pretty))
    else:
        sys.stdout.write(terminal_safe(out.text))
    sys.stdout.flush()
    return ExitStatus.OK


def check_settings(s: Settings) -> int:
    """``--check``: validate the flags and the config file as a run would before connecting,
    print the effective settings and return 0; connect to nothing, write nothing.

    A wrong value from the config file is exit 102 naming its key; a wrong flag exits as the
    run would (2 usage, 104 client, 105 an invalid host name).
    """
    try:
        plan = client_plan(s)
        _check_server_address(s)
        if s.command_text is not None or s.interactive or s.server:
            _check_modes(s)  # an unknown command, a missing argument, two modes
    except CliError as exc:
        raise _blame_config(s, exc) from None
    report = _settings_report(s, plan)
    if s.json:
        from ptpip.cli.render import to_json

        sys.stdout.write(to_json(report, pretty=s.pretty))
    else:
        sys.stdout.write(_report_text(s, report))
    sys.stdout.flush()
    return ExitStatus.OK


def _check_server_address(s: Settings) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(s.server_address)
    except ValueError:
        raise CliError(
            f"invalid IP address {s.server_address!r} for -sa",
            ExitStatus.USAGE,
            fields=frozenset(["server_address"]),
        ) from None


def _blame_config(s: Settings, exc: CliError) -> CliError:
    """``exc`` as a config file error (102) when a value it is about came from the file."""
    keys = [s.from_config[f] for f in sorted(exc.fields) if f in s.from_config]
    if not keys:
        return exc
    detail = str(exc).removeprefix(_CLIENT_ERROR).removeprefix(_CONNECT_ERROR)
    return CliError(f"{s.config}: {', '.join(keys)}: {detail}", ExitStatus.CONFIG)


def _settings_report(s: Settings, plan: ClientPlan) -> dict[str, object]:
    from ptpip.client.identity import Identity, IdentityStore, default_name

    cmd, evt, stream = plan.ports
    dialect = plan.profile.vendor
    stored = IdentityStore().get(f"{dialect.value}@{s.host}")  # read only: nothing is created
    guid = plan.guid or (stored.guid if stored is not None else None)
    name = s.name or (stored.name if stored is not None else default_name())
    if s.server:
        mode: dict[str, object] = {"mode": "server"}
    elif s.interactive:
        mode = {"mode": "interactive"}
    elif s.command_text is not None:
        mode = {"mode": "command", "command": s.command_text}
    else:
        mode = {"mode": None}
    return {
        "config": str(s.config) if s.config is not None else None,
        "vendor": s.vendor,
        "dialect": dialect.value,
        "host": s.host,
        "ports": {"command": cmd, "event": evt, "stream": stream},
        "initiator": {
            "name": name,
            "guid": Identity(guid, name).guid_text if guid is not None else None,
            "stored": stored is not None,
        },
        "timeout": s.timeout,
        "record": str(s.record) if s.record is not None else None,
        **mode,
        "server": {
            "enabled": s.server,
            "address": s.server_address,
            "port": s.server_port,
            "auth": s.server_auth,
        },
        "fromConfig": dict(sorted(s.from_config.items())),
        "connected": False,
    }


def _report_text(s: Settings, r: dict[str, object]) -> str:
    from ptpip.cli.render import terminal_safe

    ports, initiator, server = r["ports"], r["initiator"], r["server"]
    assert isinstance(ports, dict) and isinstance(initiator, dict) and isinstance(server, dict)
    if initiator["guid"] is None:
        guid = "a new one, made and stored at the first connection"
    else:
        guid = str(initiator["guid"]) + (" (stored)" if s.guid is None else "")
    mode = {"server": "command server (-s)", "interactive": "interactive shell (-i)"}.get(
        str(r["mode"]), f"command: {r.get('command')}" if r["mode"] else "none"
    )
    rows: list[tuple[str, object, tuple[str, ...]]] = [
        ("config file", r["config"] or "none", ()),
        ("vendor", r["vendor"], ("vendor",)),
        ("dialect", r["dialect"], ("vendor",)),
        ("host", r["host"], ("host",)),
        ("command port", ports["command"], ("port", "cmd_port")),
        ("event port", ports["event"], ("port", "event_port")),
        ("stream port", ports["stream"] or "none", ("port", "stream_port")),
        ("initiator name", initiator["name"], ("name",)),
        ("initiator guid", guid, ("guid",)),
        ("timeout", f"{s.timeout:g} s", ()),
        ("record", r["record"] or "none", ()),
        ("mode", mode, ("server",)),
        ("server", "enabled" if server["enabled"] else "disabled", ("server",)),
        ("server address", server["address"], ("server_address",)),
        ("server port", server["port"], ("server_port",)),
        ("server auth", "on" if server["auth"] else "off (--no-auth)", ("server_auth",)),
    ]
    lines = []
    for label, value, fields in rows:
        where = [s.from_config[f] for f in fields if f in s.from_config]
        source = f"  (config: {', '.join(where)})" if where else ""
        lines.append(f"{label + ':':16}{value}{source}")
    lines.append("OK: the settings are valid; nothing was connected.")
    return terminal_safe("\n".join(lines) + "\n")


def _setup_logging(verbosity: int) -> None:
    level = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="ptpip: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("PIL").setLevel(logging.WARNING)


_CLIENT_ERROR = "Error creating PTP/IP client - "
_CONNECT_ERROR = "Error connecting to responder - "


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """What a connection would use, every value checked; nothing connected, nothing written."""

    guid: bytes | None
    profile: VendorProfile
    ports: tuple[int, int, int | None]


def client_plan(s: Settings) -> ClientPlan:
    """Check the client's settings as a connection does first; CliError names the fields."""
    from ptpip.cli.settings import effective_ports
    from ptpip.client.channel import check_host
    from ptpip.client.identity import parse_guid
    from ptpip.errors import PtpError
    from ptpip.vendors.base import profile_for

    def client_error(exc: Exception, name: str) -> CliError:
        return CliError(f"{_CLIENT_ERROR}{exc}", ExitStatus.CLIENT, fields=frozenset([name]))

    try:
        profile = profile_for(s.vendor_enum)
    except ValueError as exc:
        raise client_error(exc, "vendor") from None
    alias = profile.guid_aliases.get(s.guid.strip().lower()) if s.guid else None
    try:
        guid = alias or (parse_guid(s.guid) if s.guid else None)
    except ValueError as exc:
        raise client_error(exc, "guid") from None
    ports = effective_ports(s, profile.default_ports)
    if s.name is not None:
        _check_name(s.name, profile, s.vendor_enum.value)
    try:
        check_host(s.host)  # before the identity store remembers a camera by this name
    except PtpError as exc:
        raise CliError(
            f"{_CONNECT_ERROR}{exc}", ExitStatus.CONNECT, fields=frozenset(["host"])
        ) from None
    return ClientPlan(guid, profile, ports)


async def connect_for_cli(s: Settings) -> tuple[Camera, PcapRecorder | None]:
    from ptpip.client.camera import open_camera
    from ptpip.errors import PtpError

    plan = client_plan(s)
    guid, profile, (cmd, evt, stream) = plan.guid, plan.profile, plan.ports
    recorder = None
    if s.record is not None:
        from ptpip.record import PcapRecorder

        try:
            recorder = PcapRecorder(s.record)
        except OSError as exc:
            raise CliError(f"cannot write {s.record}: {exc}", ExitStatus.USAGE) from None
    from ptpip.client.identity import IdentityStore

    identity = IdentityStore().identity_for(
        f"{profile.vendor.value}@{s.host}", guid=guid, name=s.name
    )
    # The seed prints these two lines on stdout; they are diagnostics, so stderr with -vv.
    log.info("Created new client with name '%s' and GUID '%s'.", identity.name, identity.guid_text)
    log.info("Attempting to connect to %s:%d (%s camera)", s.host, cmd, s.vendor_enum.value)
    try:
        camera = await open_camera(
            s.host,
            cmd,
            vendor=s.vendor_enum if s.vendor_explicit else None,
            event_port=evt,
            stream_port=stream,
            guid=identity.guid,
            name=identity.name,
            timeout=s.timeout,
            # an explicit --timeout bounds the Init too; else a pairing dialect's long wait
            init_timeout=s.timeout if s.timeout_explicit else None,
            recorder=recorder,
            notice=lambda text: print(text, file=sys.stderr, flush=True),
        )
    except PtpError as exc:
        if recorder is not None:
            recorder.close()
        raise CliError(f"{_CONNECT_ERROR}{exc}", ExitStatus.CONNECT) from None
    return camera, recorder


def _check_name(name: str, profile: VendorProfile, vendor: str) -> None:
    """The friendly name must fit this dialect's Init packet (checked before connecting)."""
    from ptpip.client.identity import Identity
    from ptpip.errors import LocalProtocolError

    fields = frozenset(["name"])
    units = len(name.encode("utf-16-le", "surrogatepass")) // 2
    if units > profile.max_name_units:  # the dialect would shorten it (Fuji's 54-byte field)
        raise CliError(
            f"{_CLIENT_ERROR}friendly name of {units} UTF-16 units too long"
            f" for {vendor} cameras: at most {profile.max_name_units}",
            ExitStatus.CLIENT,
            fields=fields,
        )
    try:
        profile.init_request(Identity(bytes(16), name)).encode()
    except LocalProtocolError as exc:
        raise CliError(f"{_CLIENT_ERROR}{exc}", ExitStatus.CLIENT, fields=fields) from None


async def _run(s: Settings) -> int:
    from ptpip.cli.context import Context

    if s.server:
        from ptpip.cli.server import preflight

        code = preflight(s, sys.stderr)  # no camera connection for a server that cannot start
        if code is not None:
            return code
    try:
        camera, recorder = await connect_for_cli(s)
    except CliError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.code
    try:
        ctx = Context(camera, s)
        if s.server:
            from ptpip.cli.server import serve

            return await serve(ctx)
        text = s.command_text
        assert text is not None
        return await run_one(ctx, text)
    finally:
        from ptpip.cli.liveview import stop_background

        await stop_background(camera)  # a page started in server mode: live view off first
        await camera.close()
        if recorder is not None:
            recorder.close()


async def run_one(ctx: Context, line: str) -> int:
    """Run one command, print its output, and return the exit code."""
    import ptpip.cli.files  # noqa: F401  (registers capture, ls, download, watch)
    from ptpip.cli.commands import CommandError, run_command
    from ptpip.cli.render import to_json
    from ptpip.errors import PtpError

    try:
        out = await run_command(ctx, line)
    except CommandError as exc:
        sys.stderr.write(f"ptpip: {exc}\n")
        if exc.usage:
            sys.stderr.write(f"{exc.usage}\n")
        return int(exc.exit_code)
    except PtpError as exc:
        sys.stderr.write(f"ptpip: {exc}\n")
        return int(exc.exit_code)
    if ctx.json_output:
        if out.data is not None:
            sys.stdout.write(to_json(out.data, pretty=ctx.pretty))
    else:
        sys.stdout.write(out.text)
    sys.stdout.flush()
    if out.error is not None:  # it did part of its work (some files failed)
        sys.stderr.write(f"ptpip: {out.error}\n")
        return ExitStatus.COMMAND_FAILED
    if not ctx.camera.connection.is_open:  # e.g. `watch` ended because the camera went away
        sys.stderr.write("ptpip: the camera closed the connection\n")
        return ExitStatus.CONNECT
    return ExitStatus.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
