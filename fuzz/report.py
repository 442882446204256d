"""Findings (deduplicated, smallest input kept, saved as text with the input in hex) and the
per-target counts printed at the end of a run."""

from __future__ import annotations

import hashlib
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Counts", "Finding", "Findings", "exception_finding", "print_table"]

_PROJECT_FRAME = re.compile(r"[/\\](ptpip|fuzz)[/\\]")


@dataclass
class Finding:
    """Something other than a value or RemoteProtocolError came out of a target."""

    target: str
    #: exception type name, or "hang", "slow", "memory", "log", "unretrieved", "invariant", ...
    kind: str
    message: str
    #: the traceback, or what else explains it
    detail: str = ""
    #: where it was raised (innermost project frame), part of the signature
    where: str = ""
    data: bytes | None = None
    count: int = 1

    @property
    def signature(self) -> str:
        return f"{self.target}|{self.kind}|{self.where or self.message[:80]}"

    def render(self) -> str:
        lines = [
            f"target: {self.target}",
            f"kind: {self.kind}",
            f"where: {self.where}",
            f"count: {self.count}",
            f"message: {self.message}",
        ]
        if self.data is not None:
            lines.append(f"input ({len(self.data)} bytes): {self.data.hex()}")
        lines += ["", self.detail.rstrip(), ""]
        return "\n".join(lines)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if _PROJECT_FRAME.search(frame.filename) and "/fuzz/" not in frame.filename:
            path = frame.filename
            cut = path.rfind("/ptpip/")
            return f"{path[cut + 1 :] if cut >= 0 else path}:{frame.lineno} in {frame.name}"
    if frames:
        last = frames[-1]
        return f"{Path(last.filename).name}:{last.lineno} in {last.name}"
    return ""


def exception_finding(target: str, exc: BaseException, data: bytes | None) -> Finding:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Finding(target, type(exc).__name__, str(exc)[:500], detail, _where(exc), data)


@dataclass
class Findings:
    """Findings keyed by signature; the smallest input of each is kept."""

    folder: Path | None
    by_signature: dict[str, Finding] = field(default_factory=dict)

    def add(self, finding: Finding) -> bool:
        """Record ``finding``; True when its signature is new."""
        known = self.by_signature.get(finding.signature)
        if known is None:
            self.by_signature[finding.signature] = finding
            return True
        known.count += finding.count
        if finding.data is not None and (known.data is None or len(finding.data) < len(known.data)):
            known.data = finding.data
            known.detail = finding.detail
        return False

    def __len__(self) -> int:
        return len(self.by_signature)

    def total(self) -> int:
        return sum(f.count for f in self.by_signature.values())

    def for_target(self, prefix: str) -> int:
        return sum(f.count for f in self.by_signature.values() if f.target.startswith(prefix))

    def save(self) -> list[Path]:
        if self.folder is None or not self.by_signature:
            return []
        self.folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for sig, finding in sorted(self.by_signature.items()):
            digest = hashlib.sha1(sig.encode()).hexdigest()[:10]
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{finding.target}-{finding.kind}")
            path = self.folder / f"{safe}-{digest}.txt"
            path.write_text(finding.render(), encoding="utf-8")
            paths.append(path)
        return paths


@dataclass
class Counts:
    """What one target saw."""

    inputs: int = 0
    #: decoded to a value (decoders) / completed (sockets)
    ok: int = 0
    #: refused with RemoteProtocolError (decoders) / any PtpError (sockets)
    rejected: int = 0
    findings: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)


def print_table(title: str, rows: dict[str, Counts], ok_label: str, rejected_label: str) -> None:
    width = max([len(name) for name in rows] + [len(title), 6])
    print(f"\n{title}")
    header = f"  {'target':<{width}} {'inputs':>10} {ok_label:>10} {rejected_label:>10}"
    print(header + f" {'findings':>8} {'seconds':>8}")
    total = Counts()
    for name, c in rows.items():
        print(
            f"  {name:<{width}} {c.inputs:>10,} {c.ok:>10,} {c.rejected:>10,} {c.findings:>8,}"
            f" {c.seconds:>8.1f}"
        )
        total.inputs += c.inputs
        total.ok += c.ok
        total.rejected += c.rejected
        total.findings += c.findings
        total.seconds += c.seconds
    print(
        f"  {'total':<{width}} {total.inputs:>10,} {total.ok:>10,} {total.rejected:>10,}"
        f" {total.findings:>8,} {total.seconds:>8.1f}"
    )
