"""Where the shared seeds and binary vectors live, and a reader for the seeds' hex dumps."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["SEEDS", "VECTORS", "seed_dumps", "shared_dir"]


def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (CI clones the repo with shared/ beside it)."""
    return Path(__file__).resolve().parents[1].parent / "shared"


SEEDS = shared_dir() / "seeds"
VECTORS = shared_dir() / "vectors"

# A Wireshark/xxd-style line: an offset, then up to 16 hex byte pairs, then an ASCII column.
_DUMP_LINE = re.compile(r"^([0-9a-f]{4,8})\s{2,3}((?:[0-9a-f]{2}\s{1,2}){1,16})", re.IGNORECASE)


def seed_dumps(name: str) -> list[bytes]:
    """Every hex dump in a seed document, in order, each reassembled from its offset lines."""
    dumps: list[bytes] = []
    current = bytearray()
    expected = 0
    for line in (SEEDS / name).read_text(encoding="utf-8").splitlines():
        match = _DUMP_LINE.match(line.strip())
        if not match:
            continue
        offset = int(match.group(1), 16)
        if offset == 0 and current:
            dumps.append(bytes(current))
            current = bytearray()
            expected = 0
        if offset != expected:
            continue
        chunk = bytes.fromhex(match.group(2).replace(" ", ""))
        current += chunk
        expected += len(chunk)
    if current:
        dumps.append(bytes(current))
    return dumps
