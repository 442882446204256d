"""The PTP 1.1 StreamInfo dataset (GetStreamInfo 0x1024) and the live-view format codes.

vendor-leica.md §6: before LEGetStreamData a client sets EnabledStreams (0x5021) bit 0, runs
GetStreamInfo and reads VideoFormat (0x5022), a FourCC: 'MJPG' means JPEG frames. The layout
below is libgphoto2's ``ptp_unpack_StreamInfo`` (36 bytes); what a Leica puts in it is not
documented anywhere, so the virtual camera's values are invented. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptpip.errors import RemoteProtocolError
from ptpip.ptp.values import Reader, Writer

__all__ = ["ENABLE_VIDEO_STREAM", "MJPG", "STREAM_INFO_SIZE", "StreamInfo", "fourcc"]

#: VideoFormat 0x5022 of a JPEG stream: 'MJPG' as a little-endian u32 (0x47504A4D).
MJPG = int.from_bytes(b"MJPG", "little")
#: EnabledStreams 0x5021: bit 0 is the video stream (bit 1 would be audio).
ENABLE_VIDEO_STREAM = 0x0000_0001
STREAM_INFO_SIZE = 36


def fourcc(code: int) -> str:
    """A FourCC as text ('MJPG'), or its hex value when it is not printable."""
    raw = (code & 0xFFFF_FFFF).to_bytes(4, "little")
    return raw.decode("ascii") if all(0x20 <= b < 0x7F for b in raw) else f"0x{code:08X}"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """GetStreamInfo data: sizes of the frames and packets of a stream."""

    time_resolution: int = 0
    frame_header_size: int = 0
    frame_max_size: int = 0
    packet_header_size: int = 0
    packet_max_size: int = 0
    packet_alignment: int = 0

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> StreamInfo:
        """Decode the 36-byte dataset (its first field, DatasetSize, is not kept)."""
        if len(data) < STREAM_INFO_SIZE:
            raise RemoteProtocolError(f"StreamInfo of {len(data)} bytes, at least 36 expected")
        r = Reader(data)
        r.pull_u64()  # DatasetSize
        time_resolution = r.pull_u64()
        fields = [r.pull_u32() for _ in range(5)]
        return cls(time_resolution, *fields)

    def encode(self) -> bytes:
        w = Writer()
        w.push_u64(STREAM_INFO_SIZE)
        w.push_u64(self.time_resolution)
        for value in (
            self.frame_header_size,
            self.frame_max_size,
            self.packet_header_size,
            self.packet_max_size,
            self.packet_alignment,
        ):
            w.push_u32(value)
        return w.getvalue()
