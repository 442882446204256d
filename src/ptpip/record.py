"""Record a session's PTP/IP traffic as a pcap file that Wireshark and tshark decode.

Each TCP connection of the client becomes a synthetic TCP stream (IPv4 or IPv6, link type
RAW) with real addresses and ports, a handshake, and one segment per PTP/IP packet: the
Wireshark dissector does not reassemble (gphoto2-interop.md §12.2), so cutting at packet
boundaries is what makes every packet decode. Packets larger than one IP datagram are split.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["PcapRecorder"]

_LINKTYPE_RAW = 101
_MAX_SEGMENT = 65000
_SYN, _ACK, _PSH, _FIN = 0x02, 0x10, 0x08, 0x01


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class _Direction:
    """Cuts one direction of a stream at PTP/IP packet boundaries (u32 length prefix)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.left = 0
        self.raw = False  # gave up parsing lengths: pass bytes through as they come

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out: list[bytes] = []
        while self.buf:
            if self.raw:
                out.append(bytes(self.buf[:_MAX_SEGMENT]))
                del self.buf[:_MAX_SEGMENT]
                continue
            if self.left == 0:
                if len(self.buf) < 4:
                    break
                length = struct.unpack_from("<I", self.buf)[0]
                if length < 8:
                    self.raw = True
                    continue
                self.left = length
            n = min(self.left, len(self.buf), _MAX_SEGMENT)
            if n < min(self.left, _MAX_SEGMENT):
                break  # wait for the rest of this packet (or of this segment's worth)
            out.append(bytes(self.buf[:n]))
            del self.buf[:n]
            self.left -= n
        return out


class _Stream:
    def __init__(
        self,
        recorder: PcapRecorder,
        local: tuple[str, int],
        remote: tuple[str, int],
    ) -> None:
        self.recorder = recorder
        self.local = local
        self.remote = remote
        self.seq = {True: 1000, False: 5000}  # sent-by-us -> next sequence number
        self.dirs = {True: _Direction(), False: _Direction()}
        self._segment(True, _SYN, b"", syn=True)
        self._segment(False, _SYN | _ACK, b"", syn=True)
        self._segment(True, _ACK, b"")

    def __call__(self, sent: bool, data: bytes) -> None:
        for piece in self.dirs[sent].feed(data):
            self._segment(sent, _PSH | _ACK, piece)

    def close(self) -> None:
        self._segment(True, _FIN | _ACK, b"")

    def _segment(self, sent: bool, flags: int, payload: bytes, *, syn: bool = False) -> None:
        src, dst = (self.local, self.remote) if sent else (self.remote, self.local)
        seq = self.seq[sent] - (1 if syn else 0)
        ack = self.seq[not sent] if flags & _ACK else 0
        self.seq[sent] += len(payload) + (1 if flags & _FIN else 0)
        self.recorder._write_tcp(src, dst, seq, ack, flags, payload)


class PcapRecorder:
    """Writes pcap records; ``stream(local, remote)`` returns the tap for one connection."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._fh: BinaryIO = self.path.open("wb")
        self._clock = clock
        self._streams: list[_Stream] = []
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, _LINKTYPE_RAW))
        self.packets = 0

    def stream(
        self, local: tuple[str, int], remote: tuple[str, int]
    ) -> Callable[[bool, bytes], None]:
        s = _Stream(self, local, remote)
        self._streams.append(s)
        return s

    def close(self) -> None:
        if self._fh.closed:
            return
        for s in self._streams:
            s.close()
        self._fh.close()

    def _write_tcp(
        self,
        src: tuple[str, int],
        dst: tuple[str, int],
        seq: int,
        ack: int,
        flags: int,
        payload: bytes,
    ) -> None:
        saddr, daddr = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
        tcp = struct.pack(
            "!HHIIBBHHH",
            src[1],
            dst[1],
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            5 << 4,
            flags,
            65535,
            0,
            0,
        )
        segment = tcp + payload
        if saddr.version == 4:
            pseudo = saddr.packed + daddr.packed + struct.pack("!BBH", 0, 6, len(segment))
        else:
            pseudo = saddr.packed + daddr.packed + struct.pack("!IxxxB", len(segment), 6)
        csum = _checksum(pseudo + segment)
        segment = segment[:16] + struct.pack("!H", csum) + segment[18:]
        if saddr.version == 4:
            header = struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(segment),
                self.packets & 0xFFFF,
                0x4000,
                64,
                6,
                0,
                saddr.packed,
                daddr.packed,
            )
            header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        else:
            header = struct.pack("!IHBB", 6 << 28, len(segment), 6, 64) + saddr.packed
            header += daddr.packed
        packet = header + segment
        now = self._clock()
        sec = int(now)
        self._fh.write(struct.pack("<IIII", sec, int((now - sec) * 1e6), len(packet), len(packet)))
        self._fh.write(packet)
        self.packets += 1
