"""Deterministic byte mutations: flips, replacements, insertions, deletions, truncation,
splicing, length-field tweaks and repeated blocks.

Every choice comes from the :class:`random.Random` handed in, so a seed replays a run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

__all__ = ["MAX_INPUT", "Mutator", "interesting_values"]

#: Mutated inputs are cut to this many bytes so one input never costs much.
MAX_INPUT = 256 * 1024

_INTERESTING_BYTES = (0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF, 0x08, 0x0C, 0x10, 0x20, 0x41)


def interesting_values(width: int, current: int, length: int) -> list[int]:
    """Values worth writing into a ``width``-byte length or count field."""
    top = (1 << (8 * width)) - 1
    half = 1 << (8 * width - 1)
    values = [0, 1, 2, 3, 4, 7, 8, 12, 13, 255, top, top - 1, half, half - 1]
    values += [current - 1, current + 1, current * 2, current // 2]
    values += [length, length - 1, length + 1, length - 8, length - 12, length + 4]
    values += [0x10000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF0]
    return [v & top for v in values]


class Mutator:
    """Mutates byte strings; ``pool`` supplies partners for splicing."""

    def __init__(self, rng: random.Random, pool: Callable[[], bytes]) -> None:
        self.rng = rng
        self.pool = pool
        self._ops: Sequence[Callable[[bytearray, Sequence[int]], bytearray]] = (
            self.bit_flip,
            self.bit_flip,
            self.byte_replace,
            self.byte_replace,
            self.insert,
            self.delete,
            self.truncate,
            self.splice,
            self.length_tweak,
            self.length_tweak,
            self.length_tweak,
            self.repeat_block,
            self.arith,
            self.random_bytes,
        )

    def mutate(self, data: bytes, length_offsets: Sequence[int] = ()) -> bytes:
        """One mutated copy of ``data`` (1 to 4 stacked mutations)."""
        rng = self.rng
        buf = bytearray(data)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            buf = self._ops[rng.randrange(len(self._ops))](buf, length_offsets)
            if len(buf) > MAX_INPUT:
                del buf[MAX_INPUT:]
        return bytes(buf)

    # -- the mutations -------------------------------------------------------------------------

    def bit_flip(self, buf: bytearray, offsets: Sequence[int]) -> bytearray:
        if buf:
            for _flip in range(self.rng.choice((1, 1, 2, 4, 8))):
                i = self.rng.randrange(len(buf))
                buf[i] ^= 1 << self.rng.randrange(8)
        return buf

    def byte_replace(self, buf: bytearray, offsets: Sequence[int]) -> bytearray:
        if buf:
            for _byte in range(self.rng.choice((1, 1, 2, 3))):
                i = self.rng.randrange(len(buf))
                if self.rng.random() < 0.5:
                    buf[i] = self.rng.choice(_INTERESTING_BYTES)
                else:
                    buf[i] = self.rng.randrange(256)
        return buf

    def insert(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        rng = self.rng
        at = rng.randrange(len(buf) + 1)
        if buf and rng.random() < 0.5:
            start = rng.randrange(len(buf))
            piece = buf[start : start + rng.randrange(1, 64)]
        else:
            piece = bytearray(rng.randbytes(rng.choice((1, 2, 4, 8, 16, 33))))
        buf[at:at] = piece
        return buf

    def delete(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        if buf:
            start = self.rng.randrange(len(buf))
            del buf[start : start + self.rng.choice((1, 2, 4, 8, 16, 64))]
        return buf

    def truncate(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        if buf:
            del buf[self.rng.randrange(len(buf)) :]
        return buf

    def splice(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        other = self.pool()
        rng = self.rng
        head = buf[: rng.randrange(len(buf) + 1)]
        tail = other[rng.randrange(len(other) + 1) :] if other else b""
        return head + tail

    def length_tweak(self, buf: bytearray, offsets: Sequence[int]) -> bytearray:
        """Write an interesting value into a u8/u16/u32/u64 field, known or guessed."""
        rng = self.rng
        if not buf:
            return buf
        width = rng.choice((4, 4, 4, 2, 2, 1, 8))
        if offsets and rng.random() < 0.6:
            at = rng.choice(offsets)
        elif rng.random() < 0.5:
            at = rng.randrange(0, max(1, len(buf) - width + 1), 2)
        else:
            at = rng.randrange(len(buf))
        if at + width > len(buf):
            width = max(1, len(buf) - at)
            if width not in (1, 2, 4, 8):
                width = 1
        if at >= len(buf):
            return buf
        current = int.from_bytes(buf[at : at + width], "little")
        value = rng.choice(interesting_values(width, current, len(buf)))
        buf[at : at + width] = value.to_bytes(width, "little")
        return buf

    def repeat_block(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        if not buf:
            return buf
        rng = self.rng
        start = rng.randrange(len(buf))
        block = buf[start : start + rng.choice((2, 4, 6, 8, 12, 16, 32, 128))]
        times = rng.choice((2, 3, 8, 64, 512))
        buf[start:start] = block * times
        return buf

    def arith(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        if buf:
            i = self.rng.randrange(len(buf))
            buf[i] = (buf[i] + self.rng.choice((-2, -1, 1, 2, 16, -16))) & 0xFF
        return buf

    def random_bytes(self, buf: bytearray, _: Sequence[int]) -> bytearray:
        rng = self.rng
        if rng.random() < 0.8 and buf:
            # overwrite a run in place
            start = rng.randrange(len(buf))
            n = min(len(buf) - start, rng.choice((2, 4, 8, 16)))
            buf[start : start + n] = rng.randbytes(n)
            return buf
        return bytearray(rng.randbytes(rng.choice((0, 1, 3, 7, 8, 12, 20, 64, 300))))
