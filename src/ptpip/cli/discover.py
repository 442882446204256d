"""`ptpip discover`: list the cameras that answer an SSDP search."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ptpip.cli.render import table, to_json
from ptpip.errors import ExitStatus

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"ptpip discover: {message}\n")
        raise SystemExit(ExitStatus.USAGE)


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        return text.strip("[]"), 1900
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad target {text!r}: HOST or HOST:PORT") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="ptpip discover",
        description="Find Canon cameras (and other UPnP cameras) on the local network.",
        epilog="Without --target, the search goes to the SSDP multicast group 239.255.255.250.",
    )
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to listen (3)")
    p.add_argument(
        "--target", type=_target, help="ask one address instead of the whole network (HOST[:PORT])"
    )
    p.add_argument("--st", action="append", help="search target URN (default: Canon's two)")
    p.add_argument("--json", action="store_true", help="JSON output")
    return p


def main(argv: list[str]) -> int:
    from ptpip.discovery.ssdp import CANON_URNS, SSDP_GROUP, discover

    args = build_parser().parse_args(argv)
    targets = tuple(args.st) if args.st else CANON_URNS
    try:
        found = asyncio.run(
            discover(args.timeout, targets=targets, address=args.target or SSDP_GROUP)
        )
    except OSError as exc:
        sys.stderr.write(f"ptpip discover: {exc}\n")
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        return 130
    if args.json:
        sys.stdout.write(
            to_json(
                [
                    {
                        "address": f.address,
                        "model": f.model,
                        "name": f.name,
                        "serial": f.serial,
                        "manufacturer": f.manufacturer,
                        "mac": f.mac,
                        "service": f.service,
                        "location": f.location,
                        "udn": f.udn,
                        "nickname": f.nickname,
                    }
                    for f in found
                ],
                pretty=True,
            )
        )
        return ExitStatus.OK
    if not found:
        sys.stdout.write("no camera answered\n")
        return ExitStatus.OK
    rows = [
        [f.address, f.model or f.name or "?", f.serial, _kind(f.service), f.nickname, f.location]
        for f in found
    ]
    headers = ("Address", "Model", "Serial", "Mode", "Nickname", "Description")
    sys.stdout.write(table(headers, rows).lstrip("\n"))
    return ExitStatus.OK


def _kind(service: str) -> str:
    if "WFTEOSSystemService" in service:
        return "remote control (EOS Utility)"
    if "SmartPhoneEOSSystemService" in service:
        return "smartphone"
    return service
