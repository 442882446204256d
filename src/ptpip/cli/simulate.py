"""`ptpip simulate`: run a virtual camera until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import math
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from ptpip.cli.settings import parse_port
from ptpip.errors import ExitStatus

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"ptpip simulate: {message}\n")
        raise SystemExit(ExitStatus.USAGE)


def _port(text: str) -> int:
    return 0 if text.strip() == "0" else parse_port(text)


#: Options every camera takes (the server's and the card's), never the cause of a TypeError.
_SERVER_OPTIONS = {
    "read_only",
    "handshake_timeout",
    "idle_timeout",
    "probe_timeout",
    "data_timeout",
}


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds (0: no limit)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ptpip.camera.factory import VENDORS, dialect_camera

    p = _Parser(
        prog="ptpip simulate",
        add_help=False,
        description="Run a virtual PTP/IP camera (stock gphoto2 works against it).",
        epilog="Example: ptpip simulate -p 0   (prints the port it picked)",
    )
    p.add_argument("-?", "--help", action="help", help="show this help and exit")
    p.add_argument(
        "-t",
        "--vendor",
        default="generic",
        choices=[v.value for v in VENDORS],
        help="camera dialect (default generic)",
    )
    p.add_argument("-h", "--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument(
        "-p",
        "--port",
        type=_port,
        default=None,
        help="command port (default 15740, fuji 55740; events and live view on +1, +2); "
        "0 picks free ones",
    )
    p.add_argument(
        "--storage",
        type=Path,
        help="folder served as the memory card (default: a temporary one with sample images)",
    )
    p.add_argument("--event-port", type=_port, help="event port (Fuji; default command + 1)")
    p.add_argument("--stream-port", type=_port, help="live-view port (Fuji; default command + 2)")
    p.add_argument(
        "--pairing",
        action="store_true",
        help="refuse unknown clients until confirmed (press Enter here, or --pairing-delay)",
    )
    p.add_argument(
        "--pairing-delay", type=float, metavar="S", help="confirm a pairing by itself after S s"
    )
    p.add_argument("--fps", type=float, help="live-view frames per second")
    p.add_argument("--model", help="the model name the camera reports")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="never write to the storage folder: deleting and capturing to the card answer "
        "StoreReadOnly (an empty folder gets no sample images)",
    )
    p.add_argument(
        "--handshake-timeout",
        type=_seconds,
        metavar="S",
        help="close a connection that sends no Init within S s (10; 0 = never)",
    )
    p.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="S",
        help="end a session with no traffic for S s (300; 0 = never)",
    )
    p.add_argument(
        "--probe-timeout",
        type=_seconds,
        metavar="S",
        help="when a new client asks in, a session silent for 30 s gets a probe and S s to "
        "answer it, or it ends and the new client gets in (5; 0 = never: busy)",
    )
    p.add_argument(
        "--data-timeout",
        type=_seconds,
        metavar="S",
        help="answer IncompleteTransfer when a client's data-out stops for S s (10; 0 = never)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log each request on stderr: operation, parameters, response, data bytes, time "
        "(-vv: and every packet, in hex)",
    )
    # Each dialect's own options (Canon's --upnp, Leica's --heartbeat-timeout, …), in a group
    # of its own; given for another dialect they are an error (see _options).
    for vendor in VENDORS:
        module = dialect_camera(vendor)
        add = getattr(module, "add_arguments", None)
        if add is not None:
            known = {a.dest for a in p._actions}
            add(p)
            _DIALECT_OPTIONS[vendor.value] = [
                (a.dest, a.option_strings[0], a.default) for a in p._actions if a.dest not in known
            ]
    return p


#: vendor -> the (dest, flag, default) of its own options; filled by build_parser
_DIALECT_OPTIONS: dict[str, list[tuple[str, str, object]]] = {}


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="ptpip simulate: %(message)s", stream=sys.stderr)
    for noisy in ("PIL", "asyncio"):  # their debug output is not ours
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            sys.stderr.write(
                f"warning: listening on {args.host}: anyone on that network can use this camera\n"
            )
    except ValueError:
        pass
    if args.port is None:
        from ptpip.camera.factory import default_port

        args.port = default_port(args.vendor)
    with contextlib.ExitStack() as stack:
        storage = args.storage
        if storage is None:
            storage = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ptpip-card-")))
            if args.read_only:  # a read-only card is never written: fill the temporary one now
                _sample_card(storage, args)
        try:
            return asyncio.run(_serve(args, storage))
        except OSError as exc:
            sys.stderr.write(f"ptpip simulate: cannot listen on {args.host}:{args.port}: {exc}\n")
            return ExitStatus.ERROR
        except KeyboardInterrupt:
            return ExitStatus.OK


def _options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, int]]:
    """Camera options (the personality's and the server's) and port overrides from the
    flags that were given."""
    options: dict[str, Any] = {}
    if args.pairing or args.pairing_delay is not None:
        options["pairing"] = True
        if args.pairing_delay is not None:
            options["pairing_delay"] = args.pairing_delay
    if args.fps is not None:
        if args.fps <= 0:
            raise ValueError("--fps must be positive")
        options["liveview_fps"] = args.fps
    for vendor, owned in _DIALECT_OPTIONS.items():
        for dest, flag, default in owned:
            if vendor != args.vendor and getattr(args, dest) != default:
                raise ValueError(f"{flag} needs -t {vendor}")
    from ptpip.camera.factory import dialect_camera

    own = getattr(dialect_camera(args.vendor), "options", None)
    if own is not None:
        options.update(own(args))
    if args.read_only:
        options["read_only"] = True
    for name in sorted(_SERVER_OPTIONS - {"read_only"}):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    ports = {}
    if args.event_port is not None:
        ports["event"] = args.event_port
    if args.stream_port is not None:
        ports["stream"] = args.stream_port
    return options, ports


async def _serve(args: argparse.Namespace, storage: Path) -> int:
    from ptpip.camera.factory import make_camera
    from ptpip.camera.personality import ServiceError

    vendor, host, port, model = args.vendor, args.host, args.port, args.model
    try:
        options, overrides = _options(args)
        camera = make_camera(
            vendor, storage, model=model, host=host, port=port, port_overrides=overrides, **options
        )
    except TypeError:
        given = ", ".join(sorted(set(options) - _SERVER_OPTIONS)) or "?"
        sys.stderr.write(f"ptpip simulate: a {vendor} camera has no option {given}\n")
        return ExitStatus.USAGE
    except ValueError as exc:
        sys.stderr.write(f"ptpip simulate: {exc}\n")
        return ExitStatus.USAGE
    except OSError as exc:
        sys.stderr.write(f"ptpip simulate: cannot serve {storage}: {exc}\n")
        return ExitStatus.USAGE
    if options.get("pairing"):
        _prompt_for_pairing(camera.personality)
    try:
        await camera.start()
    except ServiceError as exc:  # a service of the personality's (Canon's UPnP)
        sys.stderr.write(f"ptpip simulate: {exc}\n")
        await camera.stop()
        return ExitStatus.USAGE
    # the handlers before the "listening" line: whoever waits for it may signal right after
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    shown = f"[{camera.host}]" if ":" in camera.host else camera.host
    # Scripts parse the first line: keep it exactly "listening on HOST:PORT".
    lines = [f"listening on {shown}:{camera.port}"]
    deferred = {spec.name for spec in camera.personality.extra_listeners if spec.deferred}
    for name, extra in camera.ports.items():
        if name != "command":
            when = " (opened by InitiateOpenCapture)" if name in deferred else ""
            lines.append(f"{name} port {shown}:{extra}{when}")
    lines.extend(camera.personality.listening_lines(camera))
    print("\n".join(lines), flush=True)
    try:
        await stop.wait()
    finally:
        await camera.stop()
    return ExitStatus.OK


def _sample_card(storage: Path, args: argparse.Namespace) -> None:
    from ptpip.camera.factory import default_model
    from ptpip.camera.store import generate_sample_images

    model = args.model or default_model(args.vendor)
    generate_sample_images(storage / "DCIM" / "100PTPIP", model=model)


def _prompt_for_pairing(personality: object) -> None:
    """Show the camera's "accept this client?" prompt; Enter on a terminal accepts it."""
    if not hasattr(personality, "on_pairing_request"):
        return
    loop = asyncio.get_running_loop()

    def ask(name: str) -> None:
        sys.stderr.write(
            f"camera: client {name!r} asks to connect; press Enter to accept"
            + (
                "\n"
                if getattr(personality, "pairing_holds_ack", False)
                else " (it must then connect again)\n"
            )
        )
        sys.stderr.flush()
        if sys.stdin.isatty():
            waiter = loop.run_in_executor(None, sys.stdin.readline)
            waiter.add_done_callback(lambda _: personality.confirm_pairing(name))  # type: ignore[attr-defined]

    personality.on_pairing_request = ask
