"""Hostile camera -> ptpip's client, for every vendor profile, on 127.0.0.1.

A virtual camera of the vendor runs in this event loop behind a :class:`MutatingProxy`; the
client connects to the proxy with short timeouts and runs random operations (device info,
storages, handles, object info, downloads to a temporary folder, thumbnails, partial reads,
property descriptions and values, the property list and state, events on the event
connection, live view, capture, raw operations). It may return values or raise ``PtpError``
subclasses, nothing else; an operation that outlives ``op_deadline`` is a hang, a
single-transaction one that outlives its timeout by more than ``overrun`` is a finding, and so
are ERROR log records, unretrieved task exceptions, a background task (polling, heartbeat)
dead of another exception, and a downloaded file under its final name whose bytes differ from
the camera's.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.decoders import rss_mb
from fuzz.mutate import Mutator
from fuzz.proxy import HOST, MutatingProxy, ProxyLimits
from fuzz.report import Counts, Finding, Findings, exception_finding
from fuzz.watch import Watch, run_vendors
from ptpip.camera.factory import make_camera
from ptpip.camera.server import VirtualCamera
from ptpip.client.camera import Camera, open_camera
from ptpip.client.download import safe_filename
from ptpip.client.identity import IdentityStore
from ptpip.errors import PtpError
from ptpip.ptp.datasets import ObjectInfo
from ptpip.vendors.canon.profile import CanonProfile

__all__ = ["ClientLimits", "fuzz_client"]

VENDORS = ("generic", "fuji", "canon", "leica", "nikon")
_RATES = (0.05, 0.1, 0.2, 0.35, 0.5)
_MAX_TRUTH_BYTES = 2 * 1024 * 1024
#: personality options that keep live view quick (the warm-up and frame rate cost waits)
_OPTIONS: dict[str, dict[str, Any]] = {
    "canon": {"liveview_warmup_calls": 0},
    "fuji": {"liveview_fps": 100.0},
    "leica": {"liveview_fps": 100.0},
    "nikon": {"liveview_fps": 100.0, "busy_time": 0.0, "liveview_busy_calls": 0},
}


@dataclass
class ClientLimits:
    timeout: float = 0.5
    #: an operation (however many transactions) must end within this
    op_deadline: float = 8.0
    #: a single-transaction operation may outlive the timeout by this much
    overrun: float = 1.0
    #: mutation rate while connecting (Init, session, vendor set-up)
    handshake_rate: float = 0.03
    #: reconnect after this many operations even when nothing broke
    ops_per_connection: int = 80
    max_growth_mb: float = 400.0


@dataclass
class _Run:
    name: str
    rng: random.Random
    proxy: MutatingProxy
    vcam: VirtualCamera
    store: IdentityStore
    downloads: Path
    watch: Watch
    limits: ClientLimits
    counts: Counts
    #: handle -> (the camera's ObjectInfo, its bytes), read with mutations off
    truth: dict[int, tuple[ObjectInfo, bytes]] = field(default_factory=dict)
    props: tuple[int, ...] = (0x5001,)

    def finding(self, kind: str, message: str, detail: str = "", where: str = "") -> None:
        self.watch._add(Finding(self.watch.target, kind, message, detail, where))
        self.counts.findings += 1


Op = Callable[[Camera, _Run], Awaitable[object]]


async def _op_download(cam: Camera, run: _Run) -> object:
    handle = run.rng.choice(sorted(run.truth))
    info, _ = run.truth[handle]
    if run.rng.random() < 0.5:  # sometimes resume from what an earlier attempt left
        for leftover in run.downloads.glob("*.part*"):
            leftover.unlink()
    chunk = run.rng.choice((512, 4096, 1 << 20))
    final = safe_filename(info.filename, f"object_{handle:08x}")
    part = run.downloads / f"{final}.part"
    resumed = part.stat().st_size if part.exists() else 0
    mark = run.proxy.inputs
    try:
        return await cam.download(handle, run.downloads, info=info, chunk_size=chunk)
    finally:
        _check_files(run, handle, f"chunk size {chunk}, a .part of {resumed} bytes before", mark)


def _check_files(run: _Run, handle: int, how: str, mark: int) -> None:
    """Only a right file may carry its final name; ``NAME.part*`` are work in progress."""
    info, data = run.truth[handle]
    final = safe_filename(info.filename, f"object_{handle:08x}")
    for path in run.downloads.iterdir():
        if ".part" in path.name:
            continue
        if path.name != final:
            run.finding(
                "unexpected file",
                f"{path.name} appeared downloading {final}",
                "",
                "client download",
            )
            path.unlink()
            continue
        got = path.read_bytes()
        if got != data:
            differ = next(
                (i for i, (a, b) in enumerate(zip(got, data, strict=False)) if a != b),
                min(len(got), len(data)),
            )
            run.finding(
                "corrupt final file",
                f"{path.name}: {len(got)} bytes under the final name, the camera has"
                f" {len(data)} (first difference at byte {differ}; {how})",
                "mutations during the download, oldest first:\n"
                + "\n".join(text for n, text in run.proxy.journal if n >= mark),
                "client download",
            )
        path.unlink()


async def _op_events(cam: Camera, run: _Run) -> object:
    with cam.events() as sub:
        written = run.proxy.inject_events(run.rng.randrange(1, 6))
        await asyncio.sleep(0.002)  # the events cross the loopback
        got = 0
        for _ in range(written):
            try:
                await sub.get(0)
                got += 1
            except (TimeoutError, StopAsyncIteration):  # the documented outcomes of get()
                break
        return got


async def _op_liveview(cam: Camera, run: _Run) -> object:
    frames = 0
    stream = cam.liveview()
    try:
        async for _frame in stream:
            frames += 1
            if frames >= run.rng.choice((1, 2, 3)):
                break
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return frames


async def _op_describe(cam: Camera, run: _Run) -> object:
    return await cam.describe(run.rng.choice(run.props))


async def _op_get(cam: Camera, run: _Run) -> object:
    return await cam.get_property(run.rng.choice(run.props))


async def _op_object_info(cam: Camera, run: _Run) -> object:
    return await cam.object_info(run.rng.choice(sorted(run.truth) or [1]))


async def _op_thumbnail(cam: Camera, run: _Run) -> object:
    return await cam.thumbnail(run.rng.choice(sorted(run.truth) or [1]))


async def _op_partial(cam: Camera, run: _Run) -> object:
    handle = run.rng.choice(sorted(run.truth) or [1])
    return await cam.read_partial(
        handle, run.rng.choice((0, 1, 100)), run.rng.choice((1, 64, 5000))
    )


async def _op_opreq(cam: Camera, run: _Run) -> object:
    code = run.rng.choice((0x1001, 0x1004, 0x1007, 0x1014, 0x1015, 0x902B, 0x9116, 0x9025, 0x9999))
    return await cam.opreq(code, (run.rng.choice((0, 1, 0x5001, 0xD212)),))


async def _op_poll(cam: Camera, run: _Run) -> object:
    if isinstance(cam.profile, CanonProfile):
        return await cam.profile.poll(cam)
    return await cam.device_info(refresh=True)


async def _op_capture(cam: Camera, run: _Run) -> object:
    return await cam.capture(timeout=0.5)


#: name -> (operation, weight, runs a single transaction)
OPS: dict[str, tuple[Op, float, bool]] = {
    "device_info": (lambda c, r: c.device_info(refresh=True), 2.0, True),
    "storage_ids": (lambda c, r: c.storage_ids(), 1.0, True),
    "storages": (lambda c, r: c.storages(), 1.0, False),
    "object_handles": (lambda c, r: c.object_handles(), 1.5, True),
    "object_info": (_op_object_info, 2.0, True),
    "list_objects": (lambda c, r: c.list_objects(), 0.7, False),
    "download": (_op_download, 3.0, False),
    "thumbnail": (_op_thumbnail, 1.0, True),
    "read_partial": (_op_partial, 1.0, True),
    "describe": (_op_describe, 2.0, False),
    "get_property": (_op_get, 1.5, False),
    "properties": (lambda c, r: c.properties(), 0.5, False),
    "state": (lambda c, r: c.state(), 0.7, False),
    "events": (_op_events, 1.5, False),
    "liveview": (_op_liveview, 0.5, False),
    "capture": (_op_capture, 0.05, False),
    "poll": (_op_poll, 1.0, False),
    "opreq": (_op_opreq, 1.0, True),
}


async def _guarded(run: _Run, what: str, coro: Awaitable[object], single: bool) -> bool:
    """Run one client call; True if it returned, False if it raised a PtpError."""
    started = time.monotonic()
    limits = run.limits
    try:
        async with asyncio.timeout(limits.op_deadline):
            await coro
        ok = True
    except TimeoutError:
        run.finding(
            "hang",
            f"{what} still running after {limits.op_deadline:g} s (timeout {limits.timeout:g} s)",
            "",
            f"client {what}",
        )
        return False
    except PtpError:
        ok = False
    except Exception as exc:  # what the client must never raise
        finding = exception_finding(run.watch.target, exc, run.watch._last())
        finding.message = f"{what}: {finding.message}"
        run.watch._add(finding)
        run.counts.findings += 1
        return False
    took = time.monotonic() - started
    if single and took > limits.timeout + limits.overrun:
        run.finding(
            "timeout overrun",
            f"{what} took {took:.2f} s with a {limits.timeout:g} s timeout",
            "",
            f"client {what}",
        )
    return ok


def _background_failures(run: _Run, cam: Camera) -> None:
    """A vendor's background job (polling, heartbeat) must not die of a non-PTP error."""
    for task in list(cam.connection._tasks):
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None and not isinstance(exc, PtpError):
                finding = exception_finding(run.watch.target, exc, run.watch._last())
                finding.kind = f"background {finding.kind}"
                run.watch._add(finding)
                run.counts.findings += 1


async def _session_gone(run: _Run) -> None:
    """Wait (bounded) until the camera has seen the last client go."""
    for _ in range(1000):
        if run.vcam.session is None and not run.proxy.links:
            return
        await asyncio.sleep(0.001)


async def _open(run: _Run) -> Camera | None:
    ports = run.proxy.ports
    run.proxy.rate = run.limits.handshake_rate
    t = run.limits.timeout
    holder: list[Camera] = []

    async def connect() -> None:
        holder.append(
            await open_camera(
                HOST,
                ports["command"],
                vendor=run.name,
                event_port=ports.get("event"),
                stream_port=ports.get("stream"),
                timeout=t,
                init_timeout=t,
                identity_store=run.store,
            )
        )

    if await _guarded(run, "open_camera", connect(), False) and holder:
        run.proxy.rate = run.rng.choice(_RATES)
        return holder[0]
    return None


async def _close(run: _Run, cam: Camera) -> None:
    _background_failures(run, cam)
    await _guarded(run, "close", cam.close(), False)
    run.proxy.close_all()
    await _session_gone(run)


async def _learn_truth(run: _Run) -> None:
    """The camera's objects and properties, read through the proxy with mutations off."""
    run.proxy.rate = 0.0
    t = run.limits.timeout
    cam = await open_camera(
        HOST,
        run.proxy.ports["command"],
        vendor=run.name,
        event_port=run.proxy.ports.get("event"),
        stream_port=run.proxy.ports.get("stream"),
        timeout=max(t, 5.0),
        init_timeout=5.0,
        identity_store=run.store,
    )
    try:
        info = await cam.device_info()
        run.props = tuple(info.device_properties_supported[:64]) or run.props
        try:
            objects = [(e.handle, e.info) for e in await cam.list_objects()]
        except PtpError:  # Fuji over Wi-Fi lists no handles: its objects are 1, 2, ...
            objects = []
            for handle in range(1, 9):
                with contextlib.suppress(PtpError):
                    objects.append((handle, await cam.object_info(handle)))
        for handle, obj in objects:
            if obj.is_folder or obj.compressed_size > _MAX_TRUTH_BYTES:
                continue
            path = await cam.download(handle, run.downloads, info=obj)
            assert path is not None
            run.truth[handle] = (obj, path.read_bytes())
            path.unlink()
    finally:
        await cam.close()
        run.proxy.close_all()
        await _session_gone(run)


async def _run_vendor(
    name: str,
    budget: int,
    deadline: float,
    seed: int,
    watch: Watch,
    limits: ClientLimits,
    progress: Callable[[str], None] | None,
) -> Counts:
    counts = Counts()
    rng = random.Random(zlib.crc32(f"{seed}:client:{name}".encode()))
    watch.target = f"client[{name}]"
    before = watch.count
    pool: list[bytes] = []
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(
        prefix="ptpip-fuzz-", dir=shm if shm.is_dir() else None
    ) as tmp:
        root = Path(tmp)
        downloads = root / "downloads"
        downloads.mkdir()
        vcam = make_camera(name, root / "card", port=0, **_OPTIONS.get(name, {}))
        await vcam.start()
        proxy = MutatingProxy(
            dict(vcam.ports),
            vcam.personality.fuji_dialect,
            rng,
            Mutator(rng, lambda: rng.choice(pool) if pool else b""),
            ProxyLimits(),
            watch.note,
        )
        await proxy.start()
        run = _Run(
            name, rng, proxy, vcam, IdentityStore(root / "id.json"), downloads, watch, limits,
            counts,
        )  # fmt: skip
        started = time.monotonic()
        names = [n for n in OPS if not (n == "liveview" and name == "generic")]
        weights = [OPS[n][1] for n in names]
        try:
            await _learn_truth(run)
            rss_base = rss_mb()
            next_report = budget // 4
            cam: Camera | None = None
            done_ops = 0
            while proxy.inputs < budget and time.monotonic() < deadline:
                if cam is None:
                    cam = await _open(run)
                    done_ops = 0
                    if cam is None:
                        counts.rejected += 1
                        proxy.close_all()
                        await _session_gone(run)
                        continue
                what = rng.choices(names, weights)[0]
                op, _, single = OPS[what]
                if not run.truth and what in ("download",):
                    continue
                counts.extra[what] = counts.extra.get(what, 0) + 1
                if await _guarded(run, what, op(cam, run), single):
                    counts.ok += 1
                else:
                    counts.rejected += 1
                done_ops += 1
                if not cam.connection.is_open or done_ops >= limits.ops_per_connection:
                    await _close(run, cam)
                    cam = None
                if progress is not None and proxy.inputs >= next_report:
                    next_report += budget // 4
                    progress(f"client[{name}]: {proxy.inputs:,} inputs")
            if cam is not None:
                await _close(run, cam)
            grown = rss_mb() - rss_base
            if grown > limits.max_growth_mb:
                run.finding("memory", f"RSS grew by {grown:.0f} MB", "", "client")
        except Exception as exc:  # the harness failed: report it, do not hide it
            watch._add(exception_finding(f"client[{name}] harness", exc, None))
        finally:
            await proxy.stop()
            await vcam.stop()
        counts.inputs = proxy.inputs
        counts.findings = watch.count - before
        counts.seconds = time.monotonic() - started
        shutil.rmtree(downloads, ignore_errors=True)
    return counts


def fuzz_client(
    total: int,
    seconds: float,
    seed: int,
    findings: Findings,
    vendors: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    limits: ClientLimits | None = None,
) -> dict[str, Counts]:
    """Answer ptpip's client with ``total`` mutated units (split over the vendors)."""
    chosen = [v for v in VENDORS if not vendors or v in vendors]
    given = limits or ClientLimits()

    async def one(name: str, budget: int, deadline: float, watch: Watch) -> Counts:
        return await _run_vendor(name, budget, deadline, seed, watch, given, progress)

    return run_vendors("client", chosen, total, seconds, findings, one)
