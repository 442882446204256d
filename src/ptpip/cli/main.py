"""Entry point of the `ptpip` command (kept light: heavy modules load only when needed)."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from ptpip._version import __version__
from ptpip.cli.settings import CliError, Settings, build_parser, parse_settings
from ptpip.errors import ExitStatus

if TYPE_CHECKING:
    from ptpip.cli.context import Context
    from ptpip.client.camera import Camera
    from ptpip.record import PcapRecorder
    from ptpip.vendors.base import VendorProfile

__all__ = ["main"]

log = logging.getLogger("ptpip")

EXTRA_HELP = """
Commands (run `ptpip -h HOST help COMMAND` for details):
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
        _check_modes(settings)
    except CliError as exc:
        sys.stderr.write(f"ptpip: {exc}\n")
        if exc.usage:
            sys.stderr.write("Run `ptpip -?` for usage.\n")
        return exc.code
    _setup_logging(settings.verbosity)
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


def _check_modes(s: Settings) -> None:
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


def _setup_logging(verbosity: int) -> None:
    level = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="ptpip: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("PIL").setLevel(logging.WARNING)


async def connect_for_cli(s: Settings) -> tuple[Camera, PcapRecorder | None]:
    from ptpip.client.camera import open_camera
    from ptpip.client.identity import parse_guid
    from ptpip.errors import PtpError
    from ptpip.vendors.base import profile_for

    try:
        guid = parse_guid(s.guid) if s.guid else None
        profile = profile_for(s.vendor_enum)
        from ptpip.cli.settings import effective_ports

        cmd, evt, stream = effective_ports(s, profile.default_ports)
    except ValueError as exc:
        raise CliError(f"Error creating PTP/IP client - {exc}", ExitStatus.CLIENT) from None
    if s.name is not None:
        _check_name(s.name, profile, s.vendor_enum.value)
    from ptpip.client.channel import check_host

    try:
        check_host(s.host)  # before the identity store remembers a camera by this name
    except PtpError as exc:
        raise CliError(f"Error connecting to responder - {exc}", ExitStatus.CONNECT) from None
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
            vendor=s.vendor_enum,
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
        raise CliError(f"Error connecting to responder - {exc}", ExitStatus.CONNECT) from None
    return camera, recorder


def _check_name(name: str, profile: VendorProfile, vendor: str) -> None:
    """The friendly name must fit this dialect's Init packet (checked before connecting)."""
    from ptpip.client.identity import Identity
    from ptpip.errors import LocalProtocolError

    units = len(name.encode("utf-16-le", "surrogatepass")) // 2
    if units > profile.max_name_units:  # the dialect would shorten it (Fuji's 54-byte field)
        raise CliError(
            f"Error creating PTP/IP client - friendly name of {units} UTF-16 units too long"
            f" for {vendor} cameras: at most {profile.max_name_units}",
            ExitStatus.CLIENT,
        )
    try:
        profile.init_request(Identity(bytes(16), name)).encode()
    except LocalProtocolError as exc:
        raise CliError(f"Error creating PTP/IP client - {exc}", ExitStatus.CLIENT) from None


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
