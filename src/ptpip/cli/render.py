"""Output shapes of the `ptpip` command: the seed's tables and hex dumps, JSON, sizes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

__all__ = ["hex_dump", "human_size", "shown", "table", "terminal_safe", "to_json"]

# What a camera could use to rewrite the user's terminal or make text read differently from
# what it is: C0 controls (ESC starts terminal sequences), DEL, C1 controls (0x9B is a CSI
# on some terminals), and the invisible bidi and format marks.
_MARKS = r"\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
_UNSAFE_LINE = re.compile(rf"[\x00-\x1f{_MARKS}]")
_UNSAFE_TEXT = re.compile(rf"[\x00-\x08\x0b-\x1f{_MARKS}]")  # keeps tabs and newlines
_UNSAFE_JSON = re.compile(f"[{_MARKS}]")  # json.dumps escapes C0 controls itself


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    """A camera's string (a model, a file name, a label) fit for one line of a terminal:
    every control, bidi and format character written as an escape (``\\x1b``)."""
    return _UNSAFE_LINE.sub(_escape, text)


def terminal_safe(text: str) -> str:
    """Output for a terminal: as :func:`shown`, but lines and tabs are kept."""
    return _UNSAFE_TEXT.sub(_escape, text)


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
    """JSON, with every character :func:`shown` escapes as a JSON escape (still the same
    strings to a parser, harmless on a terminal)."""
    if pretty:
        text = json.dumps(data, indent=4, ensure_ascii=False)
    else:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
