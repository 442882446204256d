"""Fuzz ptpip: mutated inputs through every decoder and through live loopback sockets.

``make fuzz`` runs the default: 1,000,000 mutated inputs through the decoders (ptp values and
datasets, every PTP/IP packet type and the Fuji Init forms, the framer in both dialects in
random chunkings, the initiator and responder state machines, the Canon, Fuji and Leica
codecs, property formatting, SSDP), then 100,000 through sockets on 127.0.0.1 in both
directions: a hostile client against the virtual camera of every personality, and a hostile
camera (a mutating proxy in front of the virtual camera) against ptpip's client of every
vendor profile. It prints the counts per target and the totals, writes each finding with its
input in hex under ``fuzz/findings/``, and exits with status 1 if there was any.

The only acceptable outcome of a decode is a value or ``RemoteProtocolError``; of a client
operation, a value or a ``PtpError`` within its timeout; the virtual camera must never log an
uncaught exception and must keep serving a fresh client. Everything else is a finding.

Examples::

    make fuzz                                          # the full default run
    python -m fuzz --seconds 60 --seed 1 --only decoders
    python -m fuzz --only decoders --inputs 200000 --target canon. --target fuji.
    python -m fuzz --only camera --socket-inputs 20000 --vendor fuji
    python -m fuzz --only client --socket-inputs 20000
    python -m fuzz --replay fuzz/findings/<file>.txt   # re-run a decoder finding's input

Options: ``--seed N`` (default 1) makes the mutations reproducible (decoders exactly; the
socket runs follow the same mutation stream, but background traffic such as Canon's GetEvent
polling depends on timing); ``--inputs N`` decoder inputs; ``--socket-inputs N`` socket inputs,
split evenly between the two directions and over the vendors; ``--seconds S`` bounds the whole
run (each phase gets its share; what was reached is printed); ``--only decoders|sockets|camera|
client``; ``--findings DIR``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fuzz.report import Findings, print_table

DEFAULT_INPUTS = 1_000_000
DEFAULT_SOCKET_INPUTS = 100_000
DEFAULT_SECONDS = 1500.0
FINDINGS = Path(__file__).resolve().parent / "findings"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--inputs", type=int, default=DEFAULT_INPUTS, help="decoder inputs")
    parser.add_argument(
        "--socket-inputs", type=int, default=DEFAULT_SOCKET_INPUTS, help="socket inputs"
    )
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="time bound")
    parser.add_argument(
        "--only", choices=("all", "decoders", "sockets", "camera", "client"), default="all"
    )
    parser.add_argument(
        "--target", action="append", default=[], help="decoder targets starting with this"
    )
    parser.add_argument(
        "--vendor", action="append", default=[], help="socket runs: only these vendors"
    )
    parser.add_argument("--findings", type=Path, default=FINDINGS)
    parser.add_argument("--replay", type=Path, help="re-run a saved decoder finding")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def _replay(path: Path) -> int:
    from fuzz.decoders import replay

    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key not in fields:
            fields[key] = value
    data_line = next((v for k, v in fields.items() if k.startswith("input")), None)
    if data_line is None:
        print(f"{path}: no input line", file=sys.stderr)
        return 2
    replay(fields["target"], bytes.fromhex(data_line))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.replay is not None:
        return _replay(args.replay)
    findings = Findings(args.findings)
    start = time.monotonic()
    deadline = start + args.seconds

    def progress(text: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - start:7.1f} s] {text}", flush=True)

    run_decoders = args.only in ("all", "decoders")
    run_camera = args.only in ("all", "sockets", "camera")
    run_client = args.only in ("all", "sockets", "client")
    socket_phases = int(run_camera) + int(run_client)
    summary: list[tuple[str, int, float]] = []

    if run_decoders:
        from fuzz.decoders import run_decoders as decoders

        share = args.seconds * (0.5 if socket_phases else 1.0)
        t0 = time.monotonic()
        rows = decoders(args.inputs, share, args.seed, findings, args.target, progress=progress)
        print_table("decoders", rows, "value", "rejected")
        summary.append(("decoders", sum(c.inputs for c in rows.values()), time.monotonic() - t0))

    per_phase = args.socket_inputs // max(1, socket_phases)
    if run_camera:
        from fuzz.sockets import fuzz_camera

        t0 = time.monotonic()
        left = deadline - time.monotonic()
        budget = left / (2 if run_client else 1)
        rows = fuzz_camera(per_phase, budget, args.seed, findings, args.vendor, progress)
        print_table("hostile client -> virtual camera", rows, "accepted", "closed")
        summary.append(("camera", sum(c.inputs for c in rows.values()), time.monotonic() - t0))

    if run_client:
        from fuzz.hostile_camera import fuzz_client

        t0 = time.monotonic()
        left = deadline - time.monotonic()
        rows = fuzz_client(per_phase, left, args.seed, findings, args.vendor, progress)
        print_table("hostile camera -> client", rows, "ok", "ptp-error")
        summary.append(("client", sum(c.inputs for c in rows.values()), time.monotonic() - t0))

    saved = findings.save()
    print("\nsummary")
    for what, inputs, seconds in summary:
        print(f"  {what:<10} {inputs:>10,} inputs in {seconds:7.1f} s")
    total = sum(s[1] for s in summary)
    print(f"  total      {total:>10,} inputs in {time.monotonic() - start:7.1f} s")
    print(f"  findings   {len(findings):>10,} distinct ({findings.total():,} occurrences)")
    for finding in findings.by_signature.values():
        print(
            f"    - {finding.target}: {finding.kind} at {finding.where or '?'}: "
            f"{finding.message[:120]} (x{finding.count})"
        )
    if saved:
        print(f"  saved under {args.findings}")
    return 1 if len(findings) else 0


if __name__ == "__main__":
    sys.exit(main())
