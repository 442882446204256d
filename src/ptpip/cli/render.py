"""Output shapes of the `ptpip` command: the seed's tables and hex dumps, JSON, sizes."""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["hex_dump", "human_size", "table", "to_json"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, dashes: bool = True) -> str:
    """Columns padded like Go's tabwriter (padding 2), a dash row under the header.

    The seed prints a leading blank line and leaves the last column unpadded.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*parts, cells[-1]]).rstrip()

    lines.append(line(headers))
    if dashes:
        lines.append(line(["-" * len(h) for h in headers]))
    lines.extend(line(row) for row in rows)
    return "\n" + "\n".join(lines) + "\n"


def hex_dump(data: bytes) -> str:
    """Go's ``hex.Dump`` layout, as the seed's ``opreq`` prints it."""
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        cells = []
        for i in range(16):
            cells.append(f"{chunk[i]:02x} " if i < len(chunk) else "   ")
            if i == 7:
                cells.append(" ")
        text = "".join(chr(b) if 32 <= b <= 126 else "." for b in chunk)
        out.append(f"{off:08x}  {''.join(cells)} |{text}|\n")
    return "".join(out)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def to_json(data: object, *, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"
