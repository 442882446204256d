"""Live view: frames per second delivered to clients and CPU use, against the camera's rate.

The virtual camera runs in a process of its own (its CPU is not counted); ``ptpip liveview``
runs as users run it, in another; the clients read its MJPEG stream over loopback from this
process. Figures per vendor:

- the ceiling: what the camera delivers, read directly by the client library (Fuji: the rate
  it pushes on its stream port; Canon: the GetViewFinderData round trips one client manages);
- fps each HTTP client received with 1 and 4 clients, and ``--mjpeg -`` into a pipe;
- the CPU the ``ptpip liveview`` process used meanwhile, in % of one core (/proc, Linux);
- latency: from a frame's arrival from the camera to an HTTP client having it whole
  (median and 95th percentile, in ms), measured in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import aiohttp

from ptpip.client.camera import connect
from ptpip.client.identity import IdentityStore
from ptpip.liveview.mjpeg import JpegSplitter, MultipartReader
from ptpip.liveview.server import LiveServer

__all__ = ["run_liveview"]

PTPIP = Path(sys.executable).with_name("ptpip")
#: The virtual Fuji's push rate; the ceiling of what any client can show.
FUJI_FPS = 30.0
WINDOW = 4.0
WARMUP = 1.0
_CAMERA = """
import json, sys
from ptpip.testing import RunningCamera
vendor, fps = sys.argv[1], float(sys.argv[2])
options = {"liveview_fps": fps} if vendor == "fuji" else {}
with RunningCamera(vendor, port=0, **options) as cam:
    print(json.dumps(cam.ports), flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def _camera(vendor: str, fps: float) -> Iterator[dict[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CAMERA, vendor, str(fps)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ports: dict[str, int] = json.loads(proc.stdout.readline())
        yield ports
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _flags(vendor: str, ports: dict[str, int]) -> list[str]:
    flags = ["-t", vendor, "-h", "127.0.0.1", "-pc", str(ports["command"])]
    if "event" in ports:
        flags += ["-pe", str(ports["event"])]
    if "stream" in ports:
        flags += ["-ps", str(ports["stream"])]
    return flags


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Lines:
    def __init__(self, stream: IO[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line)

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line.strip()


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": str(home / "c"), "XDG_STATE_HOME": str(home / "s")}


def _read_http(url: str, seconds: float, counts: list[int], index: int) -> None:
    import http.client

    port = urlsplit(url).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/stream.mjpg")
        response = conn.getresponse()
        reader = MultipartReader()
        deadline = time.monotonic() + WARMUP
        while time.monotonic() < deadline:  # warm up: not counted
            reader.feed(response.read1(65536))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            counts[index] += len(reader.feed(response.read1(65536)))
    finally:
        conn.close()


def _http_clients(url: str, pid: int, clients: int) -> tuple[float, float]:
    """(the slowest client's fps, the server's CPU %) with ``clients`` readers."""
    counts = [0] * clients
    threads = [
        threading.Thread(target=_read_http, args=(url, WINDOW, counts, i)) for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(WARMUP)
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    for thread in threads:
        thread.join(WINDOW + 30)
    cpu = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
    return min(counts) / WINDOW, cpu


def _page_figures(flags: list[str], home: Path) -> dict[str, float]:
    proc = subprocess.Popen(
        [str(PTPIP), *flags, "liveview", "--no-browser", "--stay"],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = _Lines(proc.stdout).wait_for("live view: ").split()[-1]
        figures: dict[str, float] = {}
        for clients in (1, 4):
            fps, cpu = _http_clients(url, proc.pid, clients)
            figures[f"{clients} HTTP client(s): fps each"] = fps
            figures[f"{clients} HTTP client(s): CPU %"] = cpu
            time.sleep(0.5)
        return figures
    finally:
        proc.terminate()
        proc.wait(15)


def _pipe_figures(flags: list[str], home: Path) -> dict[str, float]:
    proc = subprocess.Popen(
        [str(PTPIP), *flags, "liveview", "--mjpeg", "-"],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        splitter = JpegSplitter()
        frames = 0
        pipe = proc.stdout
        deadline = time.monotonic() + WARMUP + 2.0  # start-up + warm-up
        while time.monotonic() < deadline:
            splitter.feed(os.read(pipe.fileno(), 65536))
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        while time.monotonic() < t0 + WINDOW:
            frames += len(splitter.feed(os.read(pipe.fileno(), 65536)))
        elapsed = time.monotonic() - t0
        cpu = (_cpu_seconds(proc.pid) - cpu0) / elapsed * 100
        return {"--mjpeg - pipe: fps": frames / elapsed, "--mjpeg - pipe: CPU %": cpu}
    finally:
        proc.terminate()
        proc.wait(15)


async def _ceiling_and_latency(vendor: str, ports: dict[str, int], home: Path) -> dict[str, float]:
    """The camera's own rate (the client library alone), then the one-process latency."""
    async with connect(
        "127.0.0.1",
        ports["command"],
        vendor=vendor,
        event_port=ports.get("event"),
        stream_port=ports.get("stream"),
        identity_store=IdentityStore(home / "id.json"),
    ) as camera:
        frames = camera.liveview()
        count = 0
        try:
            async for _ in frames:
                count += 1
                if count == 5:
                    t0 = time.monotonic()
                elif count > 5 and time.monotonic() - t0 >= WINDOW:
                    break
        finally:
            await frames.aclose()  # type: ignore[attr-defined]
        ceiling = (count - 5) / (time.monotonic() - t0)
        server = LiveServer(camera, overlay=False)
        url = await server.start()
        delays: list[float] = []
        try:
            received: dict[int, float] = {}
            hub = server.source.hub
            publish = hub.publish

            def stamped(jpeg: bytes, counter: int | None = None) -> object:
                frame = publish(jpeg, counter)
                received[frame.seq] = frame.received
                return frame

            hub.publish = stamped  # type: ignore[method-assign, assignment]
            timeout = aiohttp.ClientTimeout(total=WINDOW + 30)
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(url + "stream.mjpg") as response,
            ):
                reader = MultipartReader()
                end = time.monotonic() + WARMUP + WINDOW
                while time.monotonic() < end:
                    for part in reader.feed(await response.content.readany()):
                        seq = int(part.headers["x-frame"])
                        if seq in received and time.monotonic() > end - WINDOW:
                            delays.append((time.monotonic() - received[seq]) * 1000)
        finally:
            await server.close()
    delays.sort()
    return {
        "camera fps (ceiling)": ceiling,
        "latency median ms": statistics.median(delays),
        "latency p95 ms": delays[int(len(delays) * 0.95)],
    }


def _vendor_figures(vendor: str, fps: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ptpip-bench-lv-") as tmp:
        home = Path(tmp)
        with _camera(vendor, fps) as ports:
            flags = _flags(vendor, ports)
            figures = asyncio.run(_ceiling_and_latency(vendor, ports, home))
            time.sleep(0.5)
            figures.update(_page_figures(flags, home))
            time.sleep(0.5)
            figures.update(_pipe_figures(flags, home))
        return figures


def run_liveview() -> dict[str, dict[str, float]]:
    from ptpip.camera.factory import VENDORS
    from ptpip.ptp.codes import Vendor

    results = {f"live view: virtual Fuji X-T1 at {FUJI_FPS:g} fps": _vendor_figures("fuji", 30.0)}
    if Vendor.CANON in VENDORS:
        results["live view: virtual Canon EOS (0x9153 polling)"] = _vendor_figures("canon", 0.0)
    return results
