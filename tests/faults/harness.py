"""Running one fault-matrix row: the camera, the faulted operation, the four checks, the report.

Each row asserts that

1. the client raises the expected typed error (a :class:`ptpip.errors.PtpError`) within the
   row's deadline (wall time of the faulted call);
2. memory stays bounded: the tracemalloc peak above the row's baseline is under MEMORY_BOUND,
   also when the camera streams data without end;
3. a download leaves nothing under the final name, only ``NAME.part`` (or nothing), and never
   more bytes on disk than the object's announced size;
4. a new session works afterwards: the same client code connects again (to the hostile
   camera switched to behave, or the virtual camera with its faults cleared) and
   GetDeviceInfo succeeds;

and that no "Task/Future exception was never retrieved" (or any other loop exception) was
reported. Every observation is kept in :data:`RESULTS` for the summary table.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import re
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ptpip.camera.factory import make_camera
from ptpip.camera.server import Faults
from ptpip.client.camera import Camera, open_camera
from ptpip.client.identity import IdentityStore
from ptpip.errors import InitFailError, PtpError
from ptpip.ptp.codes import ObjectFormatCode, OperationCode
from ptpip.ptp.datasets import ObjectInfo
from tests.faults.hostile import HANDLE, HOLD, OBJECT_NAME, OBJECT_SIZE, HostileCamera, Plan

__all__ = ["MEMORY_BOUND", "RESULTS", "Observation", "Op", "Phase", "Row", "run_row"]

MiB = 1024 * 1024
#: tracemalloc peak allowed above the row's baseline.
MEMORY_BOUND = 16 * MiB
#: Client timeout of most rows (Connection.timeout and init_timeout).
TIMEOUT = 0.5
#: Slack on top of the timeout for a Timeout row (loaded 2-core machine).
MARGIN = 0.75
#: The faulted call is cancelled after its deadline plus this (then it "hangs"); longer
#: than a hostile fault lasts (HOLD), so a call the camera's giving up ends is seen ending.
HANG_GRACE = HOLD + 2.0
#: Size of the big data-out payload of the SetDevicePropValue rows.
DATA_OUT_SIZE = 8 * MiB
#: The file the virtual camera serves for its download rows.
VIRTUAL_OBJECT = ("DCIM/FAULT.BIN", 3 * MiB)


class Phase(StrEnum):
    BEFORE_INIT = "before Init"
    AFTER_INIT = "after Init"
    MID_TRANSACTION = "mid-transaction"
    MID_DATA_IN = "mid-data-in"
    MID_DATA_OUT = "mid-data-out"
    EVENTS = "event connection"


class Op(StrEnum):
    """What the client runs while the fault happens."""

    CONNECT = "open_camera"
    DEVICE_INFO = "device_info"
    STORAGE_IDS = "storage_ids"
    IDS_THEN_INFO = "storage_ids; device_info"
    DOWNLOAD = "download"
    FULL_DISK = "read_object, disk full"
    SET_PROP = "SetDevicePropValue 8 MiB"
    SEND_OBJECT_INFO = "SendObjectInfo"


@dataclass(frozen=True)
class Row:
    """One fault: where, what, the operation, the typed error expected and its deadline."""

    id: str
    phase: Phase
    fault: str
    op: Op
    expect: type[PtpError]
    #: the InitFail reason an InitFailError must carry
    reason: int | None = None
    #: a scripted hostile camera following this plan, or (plan None) the virtual camera
    plan: Plan | None = None
    #: the virtual camera's Faults (only without a plan)
    faults: dict[str, Any] = field(default_factory=dict)
    fuji: bool = False
    #: the hostile camera lists GetPartialObject (download in pieces) or not (GetObject)
    partial: bool = True
    timeout: float = TIMEOUT
    #: wall-time limit of the faulted call; default timeout + MARGIN
    deadline: float | None = None
    #: the error must be exactly this class, not a subclass
    exact: bool = False
    #: a regular expression the error message must match
    match: str | None = None
    #: point the client at a closed event port
    closed_event_port: bool = False

    @property
    def limit(self) -> float:
        return self.deadline if self.deadline is not None else self.timeout + MARGIN

    @property
    def expected(self) -> str:
        name = self.expect.__name__
        if self.reason is not None:
            name += f"(0x{self.reason:X})"
        return name


@dataclass
class Observation:
    row: Row
    raised: str = "-"
    message: str = ""
    elapsed: float = 0.0
    peak: int = 0
    #: bytes the hostile camera sent during the faulted session (None: virtual camera)
    sent: int | None = None
    disk: str = "-"
    reconnect: str = "-"
    loop_errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


#: Every row run in this session, in order (read by the terminal summary).
RESULTS: list[Observation] = []


# -- cameras ------------------------------------------------------------------------------------


@dataclass
class Target:
    """Where the client connects, and how to make the camera behave again."""

    port: int
    event_port: int | None
    stream_port: int | None
    behave: Callable[[], None]
    #: switches the virtual camera's faults on (after the session is open, but for CONNECT)
    arm: Callable[[], None] = lambda: None
    #: bytes the camera has sent so far (the hostile camera counts; the virtual one does not)
    sent: Callable[[], int] = lambda: 0
    handle: int = HANDLE
    #: the object's path on the card, when its handle must be looked up
    object_path: str | None = None
    object_name: str = OBJECT_NAME
    object_size: int = OBJECT_SIZE


@contextlib.asynccontextmanager
async def camera_for(row: Row, card: Path) -> AsyncIterator[Target]:
    if row.plan is not None:
        async with HostileCamera(row.plan, fuji=row.fuji, partial=row.partial) as hostile:
            yield Target(
                hostile.port,
                hostile.event_port if row.fuji else None,
                None,
                hostile.behave,
                sent=lambda: hostile.sent,
            )
        return
    vendor = "fuji" if row.fuji else "generic"
    vcam = make_camera(vendor, card, port=0, faults=Faults())
    await vcam.start()
    name, size = VIRTUAL_OBJECT
    (card / name).parent.mkdir(parents=True, exist_ok=True)
    with (card / name).open("wb") as fh:
        fh.write(bytes(range(256)) * (size // 256))

    def behave() -> None:
        vcam.faults = Faults()

    def arm() -> None:
        vcam.faults = Faults(**row.faults)

    try:
        yield Target(
            vcam.ports["command"],
            vcam.ports.get("event") if row.fuji else None,
            vcam.ports.get("stream") if row.fuji else None,
            behave,
            arm,
            object_path=name,
            object_name=Path(name).name,
            object_size=size,
        )
    finally:
        await vcam.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def connect(row: Row, target: Target, ids: IdentityStore, *, timeout: float) -> Camera:
    """The client code under test; the same call before and after the fault."""
    return await open_camera(
        "127.0.0.1",
        target.port,
        vendor="fuji" if row.fuji else "generic",
        event_port=target.event_port,
        stream_port=target.stream_port,
        timeout=timeout,
        init_timeout=timeout,
        identity_store=ids,
    )


# -- operations ---------------------------------------------------------------------------------


@dataclass
class Env:
    target: Target
    folder: Path
    payload: bytes = b""


async def _download(cam: Camera, env: Env) -> None:
    await cam.download(env.target.handle, env.folder)


async def _ids_then_info(cam: Camera, env: Env) -> None:
    await cam.storage_ids()
    await cam.device_info(refresh=True)


class _FullDisk:
    """A sink on a full disk: every write fails as a real one would."""

    def start(self, total: int | None) -> None:
        pass

    def write(self, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


async def _full_disk(cam: Camera, env: Env) -> None:
    await cam.read_object(env.target.handle, _FullDisk())


async def _device_info(cam: Camera, env: Env) -> None:
    await cam.device_info(refresh=True)


async def _storage_ids(cam: Camera, env: Env) -> None:
    await cam.storage_ids()


async def _set_prop(cam: Camera, env: Env) -> None:
    await cam.transact(OperationCode.SET_DEVICE_PROP_VALUE, (0x501E,), data=env.payload)


async def _send_object_info(cam: Camera, env: Env) -> None:
    await cam.transact(OperationCode.SEND_OBJECT_INFO, (0x0001_0001, 0), data=env.payload)


OPS: dict[Op, Callable[[Camera, Env], Awaitable[None]]] = {
    Op.DEVICE_INFO: _device_info,
    Op.STORAGE_IDS: _storage_ids,
    Op.IDS_THEN_INFO: _ids_then_info,
    Op.DOWNLOAD: _download,
    Op.FULL_DISK: _full_disk,
    Op.SET_PROP: _set_prop,
    Op.SEND_OBJECT_INFO: _send_object_info,
}


def payload_for(op: Op) -> bytes:
    if op is Op.SET_PROP:
        return b"\x04A\x00d\x00a\x00\x00\x00".ljust(DATA_OUT_SIZE, b"\x00")
    if op is Op.SEND_OBJECT_INFO:
        return ObjectInfo(
            storage_id=0x0001_0001,
            object_format=ObjectFormatCode.EXIF_JPEG,
            compressed_size=1234,
            filename="UP.JPG",
        ).encode()
    return b""


# -- loop exceptions --------------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def _origin(context: dict[str, Any]) -> str:
    """The source file of the task a loop report is about ("" when unknown)."""
    task = context.get("task") or context.get("future")
    get_coro = getattr(task, "get_coro", None)
    code = getattr(get_coro(), "cr_code", None) if get_coro is not None else None
    return str(getattr(code, "co_filename", ""))


#: Loop reports about tasks of these parts of ptpip are the client's (else: a note).
_CLIENT_SIDE = ("/ptpip/client/", "/ptpip/vendors/", "/ptpip/ip/", "/tests/faults/")


@contextlib.contextmanager
def loop_errors(into: list[str], notes: list[str]) -> Any:
    """Collect what the loop would report (exception handler) and asyncio's error log.

    "... exception was never retrieved" always counts; any other report counts unless it is
    about a task of the virtual camera (then it becomes a note: not the client's defect).
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        text = f"{context.get('message', '')} {exc!r}" if exc else context.get("message", "")
        origin = _origin(context)
        if origin:
            text += f" [{origin.rsplit('/src/', 1)[-1]}]"
        if "never retrieved" in text or not origin or any(p in origin for p in _CLIENT_SIDE):
            into.append(text)
        else:
            notes.append(f"loop reported (not the client): {_short(text, 100)}")

    capture = _Capture(into)
    logger = logging.getLogger("asyncio")
    loop.set_exception_handler(handler)
    logger.addHandler(capture)
    try:
        yield
    finally:
        gc.collect()
        gc.collect()
        loop.set_exception_handler(previous)
        logger.removeHandler(capture)


# -- one row ------------------------------------------------------------------------------------


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    if count >= MiB:
        return f"{count / MiB:.1f}Mi"
    return f"{count / 1024:.1f}Ki"


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_error(row: Row, obs: Observation, error: BaseException | None) -> None:
    if error is None:
        if obs.raised == "-":
            obs.raised = "no error"
        obs.problems.append(f"no typed error ({obs.raised})")
        return
    obs.raised = type(error).__name__
    obs.message = _short(str(error))
    if isinstance(error, InitFailError):
        obs.raised += f"(0x{error.reason:X})"
    if not isinstance(error, PtpError):
        obs.problems.append(f"untyped {type(error).__name__}: {obs.message}")
        return
    if row.exact and type(error) is not row.expect:
        obs.problems.append(f"raised {obs.raised}, expected exactly {row.expected}")
    elif not isinstance(error, row.expect):
        obs.problems.append(f"raised {obs.raised}, expected {row.expected}")
    elif row.reason is not None and getattr(error, "reason", None) != row.reason:
        obs.problems.append(f"InitFail reason {obs.raised}, expected {row.expected}")
    if row.match is not None and not re.search(row.match, str(error), re.IGNORECASE):
        obs.problems.append(f"message does not match {row.match!r}")


def _check_disk(obs: Observation, env: Env) -> None:
    final = env.folder / env.target.object_name
    files = sorted(p for p in env.folder.iterdir()) if env.folder.exists() else []
    sizes = {p.name: p.stat().st_size for p in files}
    obs.disk = ", ".join(f"{n}={s}" for n, s in sizes.items()) or "nothing"
    part = final.name + ".part"
    if final.exists():
        obs.problems.append(f"{final.name} exists under its final name")
    for name, size in sizes.items():
        # NAME.part holds the data; NAME.part.* is the client's resume bookkeeping
        if name not in (final.name, part) and not name.startswith(part + "."):
            obs.problems.append(f"unexpected file {name}")
        if name == part and size > env.target.object_size:
            obs.problems.append(f"{name}: {size} bytes on disk, {env.target.object_size} announced")


async def _run_op(
    obs: Observation, coro: Awaitable[Any], limit: float
) -> tuple[BaseException | None, Any]:
    """Run the faulted call with a hard cap; returns (error or None, result)."""
    task = asyncio.ensure_future(coro)
    began = time.monotonic()
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:  # late: note where it waits, then give it until the hard cap
        obs.notes.append("at the deadline it waited in " + " > ".join(_await_chain(task)))
        done, _ = await asyncio.wait({task}, timeout=HANG_GRACE)
    obs.elapsed = time.monotonic() - began
    if not done:
        obs.raised = f"hang (> {limit + HANG_GRACE:.1f} s)"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            async with asyncio.timeout(5):
                await task
        return None, None
    error = task.exception()
    return error, None if error is not None else task.result()


def _await_chain(task: asyncio.Future[Any]) -> list[str]:
    """Where a suspended task waits: its ptpip frames along the await chain, outermost first."""
    where: list[str] = []
    get_coro = getattr(task, "get_coro", None)
    coro = get_coro() if get_coro is not None else None
    for _ in range(64):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        path = frame.f_code.co_filename
        if "/ptpip/" in path:
            where.append(f"{path.rsplit('/ptpip/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return where or ["(no ptpip frame)"]


async def _close(obs: Observation, cam: Camera | None, what: str) -> None:
    if cam is None:
        return
    began = time.monotonic()
    try:
        async with asyncio.timeout(5):
            await cam.close()
    except TimeoutError:
        obs.problems.append(f"closing the {what} session hung > 5 s")
    except Exception as exc:
        obs.notes.append(f"close raised {type(exc).__name__}: {_short(str(exc), 60)}")
    spent = time.monotonic() - began
    if spent > 3.5:
        obs.notes.append(f"closing took {spent:.1f} s")


async def _reconnect(obs: Observation, row: Row, target: Target, ids: IdentityStore) -> None:
    target.behave()
    cam: Camera | None = None
    try:
        async with asyncio.timeout(10):
            cam = await connect(row, target, ids, timeout=5.0)
            info = await cam.device_info(refresh=True)
        obs.reconnect = "ok"
        del info
    except (TimeoutError, Exception) as exc:
        obs.reconnect = f"{type(exc).__name__}"
        obs.problems.append(f"new session failed: {type(exc).__name__}: {_short(str(exc), 80)}")
    finally:
        await _close(obs, cam, "new")


async def run_row(row: Row, tmp: Path) -> Observation:
    obs = Observation(row)
    RESULTS.append(obs)
    ids = IdentityStore(tmp / "ids.json")
    folder = tmp / "downloads"
    folder.mkdir()
    tracing = tracemalloc.is_tracing()
    with loop_errors(obs.loop_errors, obs.notes):
        async with camera_for(row, tmp / "card") as target:
            if row.closed_event_port:
                target.event_port = free_port()
            env = Env(target, folder, payload_for(row.op))
            if not tracing:
                tracemalloc.start()
            try:
                await _faulted(row, obs, target, env, ids)
                obs.peak = tracemalloc.get_traced_memory()[1] - obs.peak
                obs.sent = target.sent() if row.plan is not None else None
            finally:
                if not tracing:
                    tracemalloc.stop()
            if row.closed_event_port:
                target.event_port = None
            await _reconnect(obs, row, target, ids)
        await asyncio.sleep(0)
    if obs.peak > MEMORY_BOUND:
        obs.problems.append(f"memory peak {obs.peak / MiB:.1f} MiB > {MEMORY_BOUND // MiB} MiB")
    if row.op is Op.DOWNLOAD:
        _check_disk(obs, env)
    if obs.elapsed > row.limit and obs.raised != "no error":
        obs.problems.append(f"took {obs.elapsed:.2f} s > {row.limit:.2f} s")
    if obs.loop_errors:
        obs.problems.append(f"loop reported: {_short(obs.loop_errors[0], 120)}")
    return obs


async def _faulted(
    row: Row, obs: Observation, target: Target, env: Env, ids: IdentityStore
) -> None:
    """Connect (the faulted call itself for CONNECT rows), run the operation, close."""
    if row.op is Op.CONNECT:
        target.arm()
        tracemalloc.reset_peak()
        obs.peak = tracemalloc.get_traced_memory()[0]
        error, cam = await _run_op(obs, connect(row, target, ids, timeout=row.timeout), row.limit)
        _check_error(row, obs, error)
        await _close(obs, cam, "faulted")
        return
    try:
        async with asyncio.timeout(10):
            cam = await connect(row, target, ids, timeout=row.timeout)
            if target.object_path is not None and row.op is Op.DOWNLOAD:
                target.handle = (await cam.find(target.object_path)).handle
    except (TimeoutError, PtpError) as exc:
        obs.raised = f"set-up failed: {type(exc).__name__}"
        obs.problems.append(f"could not open the session before the fault: {exc}")
        return
    try:
        target.arm()
        tracemalloc.reset_peak()
        obs.peak = tracemalloc.get_traced_memory()[0]
        error, _ = await _run_op(obs, OPS[row.op](cam, env), row.limit)
        _check_error(row, obs, error)
    finally:
        await _close(obs, cam, "faulted")


# -- the summary --------------------------------------------------------------------------------


def summary_lines() -> list[str]:
    """The matrix as a table: one line per row run, then the details of each failure."""
    if not RESULTS:
        return []
    passed = sum(o.passed for o in RESULTS)
    header = (
        f"{'id':<4} {'phase':<16} {'fault':<46} {'operation':<24} {'expected':<22} "
        f"{'raised':<22} {'time':>6} {'limit':>5} {'peak':>7} {'sent':>7} {'next':<5} result"
    )
    lines = [
        f"fault matrix: {len(RESULTS)} rows, {passed} PASS, {len(RESULTS) - passed} FAIL "
        f"(memory bound {MEMORY_BOUND // MiB} MiB; time: the faulted call; peak: tracemalloc "
        "above the baseline; sent: bytes from the hostile camera; next: a new session)",
        header,
        "-" * len(header),
    ]
    for o in RESULTS:
        r = o.row
        dialect = "fuji " if r.fuji else ""
        lines.append(
            f"{r.id:<4} {r.phase.value:<16} {_short(dialect + r.fault, 46):<46} "
            f"{r.op.value:<24} {r.expected:<22} {_short(o.raised, 22):<22} "
            f"{o.elapsed:>5.2f}s {r.limit:>4.1f}s {o.peak / MiB:>5.1f}Mi {_size(o.sent):>7} "
            f"{o.reconnect:<5} "
            f"{'PASS' if o.passed else 'FAIL'}"
        )
    failures = [o for o in RESULTS if not o.passed]
    if failures:
        lines.append("")
        lines.append("failures:")
    for o in failures:
        lines.append(f"  {o.row.id} {o.row.fault}: " + "; ".join(o.problems))
        detail = f"      raised {o.raised}"
        if o.message:
            detail += f" '{o.message}'"
        if o.row.op is Op.DOWNLOAD:
            detail += f"; on disk: {o.disk}"
        lines.append(detail)
        for note in o.notes:
            lines.append(f"      note: {note}")
    noted = [o for o in RESULTS if o.passed and o.notes]
    if noted:
        lines.append("")
        lines.append("notes on passing rows:")
    for o in noted:
        for note in o.notes:
            lines.append(f"  {o.row.id} {o.row.fault}: {note}")
    return lines
