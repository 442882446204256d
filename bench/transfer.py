"""End-to-end download throughput from the virtual camera, against same-run baselines.

Baselines: the same bytes over a raw loopback TCP socket (the ceiling of any protocol on this
machine), and stock gphoto2 fetching the same file from the same virtual camera.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ptpip.client.camera import connect
from ptpip.client.identity import IdentityStore
from ptpip.testing import RunningCamera

__all__ = ["run_transfer"]

SIZE = 256 * 1024 * 1024


def _raw_socket_mbps(path: Path) -> float:
    """Send the file over a loopback socket with sendfile, receive with recv_into."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def send() -> None:
        conn, _ = server.accept()
        with conn, path.open("rb") as fh:
            conn.sendfile(fh)

    thread = threading.Thread(target=send)
    thread.start()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got = 0
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while (n := sock.recv_into(view)) > 0:
            got += n
    elapsed = time.perf_counter() - start
    thread.join()
    server.close()
    assert got == path.stat().st_size
    return got / elapsed / 1e6


async def _ptpip_mbps(host: str, port: int, dest: Path, store: IdentityStore) -> float:
    async with connect(host, port, identity_store=store) as camera:
        entries = [e for e in await camera.list_objects() if e.path.name == "BIG.JPG"]
        start = time.perf_counter()
        path = await camera.download(entries[0].handle, dest, info=entries[0].info)
        elapsed = time.perf_counter() - start
    assert path is not None and path.stat().st_size == SIZE
    path.unlink()
    return SIZE / elapsed / 1e6


def _gphoto2_mbps(port: int, workdir: Path) -> float | None:
    if shutil.which("gphoto2") is None:
        return None
    env = {**os.environ, "HOME": str(workdir)}
    spec = f"ptpip:127.0.0.1:{port}:{port}"
    folder = "/store_00010001/DCIM/100PTPIP"
    start = time.perf_counter()
    proc = subprocess.run(
        ["gphoto2", "--port", spec, "--folder", folder, "--get-file", "1"],
        cwd=workdir,
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - start
    out = workdir / "BIG.JPG"
    if proc.returncode != 0 or not out.exists() or out.stat().st_size != SIZE:
        return None
    out.unlink()
    return SIZE / elapsed / 1e6


def run_transfer() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ptpip-bench-") as tmp:
        root = Path(tmp)
        card = root / "card" / "DCIM" / "100PTPIP"
        card.mkdir(parents=True)
        big = card / "BIG.JPG"
        with big.open("wb") as fh:
            block = os.urandom(1 << 20)
            for _ in range(SIZE >> 20):
                fh.write(block)
        results: dict[str, float] = {"size_MiB": SIZE / (1 << 20)}
        results["raw_socket_MBps"] = _raw_socket_mbps(big)
        with RunningCamera(storage=root / "card") as cam:
            store = IdentityStore(root / "identities.json")
            dest = root / "out"
            dest.mkdir()
            results["ptpip_MBps"] = asyncio.run(_ptpip_mbps(cam.host, cam.port, dest, store))
            g = _gphoto2_mbps(cam.port, root)
            if g is not None:
                results["gphoto2_MBps"] = g
        results["ptpip_vs_raw_socket"] = results["ptpip_MBps"] / results["raw_socket_MBps"]
        if "gphoto2_MBps" in results:
            results["ptpip_vs_gphoto2"] = results["ptpip_MBps"] / results["gphoto2_MBps"]
        return results
