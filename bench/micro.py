"""Micro-benchmarks of the wire layer: framer and dataset decoding, against plain baselines."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path

from ptpip.ip.framing import DataChunk, Framer
from ptpip.ip.packets import Data, EndData, Event, OperationResponse, StartData
from ptpip.ptp.datasets import DeviceInfo, ObjectInfo

__all__ = ["run_micro"]

VECTOR = Path(__file__).resolve().parents[1].parent / "shared/vectors/fuji/xh1_device_info.bin"


def _timeit(fn: Callable[[], int], min_time: float = 0.6) -> tuple[float, int]:
    """Run ``fn`` repeatedly for at least ``min_time`` s; (seconds, units of work done)."""
    fn()  # warm-up
    start = time.perf_counter()
    total = 0
    while True:
        total += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed, total


def _bulk_stream() -> tuple[bytes, int]:
    payload = bytes(range(256)) * 256  # 64 KiB, the size libgphoto2 sends
    packets = [StartData(1, 64 * 65536).encode()]
    packets += [Data(1, payload).encode() for _ in range(63)]
    packets += [EndData(1, payload).encode(), OperationResponse(0x2001, 1).encode()]
    return b"".join(packets), 64 * 65536


def _small_stream(count: int = 2000) -> bytes:
    return b"".join(
        (Event(0x4006, 0xFFFF_FFFF, (0x5005,)) if i % 2 else OperationResponse(0x2001, i)).encode()
        for i in range(count)
    )


def bench_framer_bulk() -> dict[str, float]:
    stream, payload = _bulk_stream()
    chunks = [stream[i : i + 262144] for i in range(0, len(stream), 262144)]

    def framer() -> int:
        f = Framer()
        got = 0
        for c in chunks:
            f.feed(c)
            for e in f.events():
                if isinstance(e, DataChunk):
                    got += len(e.data)
        assert got == payload
        return len(stream)

    def baseline() -> int:
        # The least a reader must do: copy each received chunk once.
        got = 0
        for c in chunks:
            got += len(bytes(memoryview(c)))
        return got

    t, n = _timeit(framer)
    tb, nb = _timeit(baseline)
    mbps, base = n / t / 1e6, nb / tb / 1e6
    return {"framer_bulk_MBps": mbps, "copy_baseline_MBps": base, "ratio": mbps / base}


def bench_framer_small() -> dict[str, float]:
    stream = _small_stream()
    count = 2000

    def framer() -> int:
        f = Framer()
        f.feed(stream)
        n = sum(1 for _ in f.events())
        assert n == count
        return n

    def baseline() -> int:
        # Walk the same packets with bare struct unpacking and no objects.
        pos, n, end = 0, 0, len(stream)
        unpack = struct.Struct("<IIHI").unpack_from
        while pos < end:
            length, _, _, _ = unpack(stream, pos)
            pos += length
            n += 1
        return n

    t, n = _timeit(framer)
    tb, nb = _timeit(baseline)
    rate, base = n / t, nb / tb
    return {"framer_packets_per_s": rate, "unpack_baseline_per_s": base, "ratio": rate / base}


def bench_datasets() -> dict[str, float]:
    out: dict[str, float] = {}
    if VECTOR.exists():
        dataset = VECTOR.read_bytes()[12:]

        def device_info() -> int:
            DeviceInfo.decode(dataset)
            return len(dataset)

        t, n = _timeit(device_info)
        out["deviceinfo_decodes_per_s"] = n / len(dataset) / t
        out["deviceinfo_MBps"] = n / t / 1e6
    info = ObjectInfo(0x00010001, 0x3801, compressed_size=123456, filename="IMG_0001.JPG")
    raw = info.encode()

    def object_info() -> int:
        for _ in range(100):
            ObjectInfo.decode(raw)
        return 100

    t, n = _timeit(object_info)
    out["objectinfo_decodes_per_s"] = n / t

    def baseline() -> int:
        for _ in range(100):
            struct.unpack_from("<IHHIHIIIIIIIHII", raw)
        return 100

    tb, nb = _timeit(baseline)
    out["struct_baseline_per_s"] = nb / tb
    out["ratio"] = out["objectinfo_decodes_per_s"] / out["struct_baseline_per_s"]
    return out


def run_micro() -> dict[str, dict[str, float]]:
    return {
        "framer, 64 KiB data packets in 256 KiB reads": bench_framer_bulk(),
        "framer, small control packets": bench_framer_small(),
        "dataset decoding": bench_datasets(),
    }
