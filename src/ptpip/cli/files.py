"""Commands that move images: capture, ls, download, watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath

from ptpip.cli import render
from ptpip.cli.commands import CommandError, Output, UsageError, command
from ptpip.cli.context import Context
from ptpip.cli.render import shown
from ptpip.cli.settings import Settings
from ptpip.client.camera import CapturedImage, ObjectEntry
from ptpip.client.download import (
    Destination,
    Folder,
    Progress,
    atomic_file,
    open_folder,
    safe_filename,
)
from ptpip.errors import (
    ConnectionClosed,
    PtpError,
    RemoteProtocolError,
    ResponseError,
    StorageError,
    Timeout,
)
from ptpip.props import format_value, prop_label

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from ptpip.ptp.codes import EventCode
from ptpip.ptp.datasets import ObjectInfo
from ptpip.ptp.names import CodeKind, name

__all__ = ["capture_paths"]

_HISTORY = ".ptpip-history.json"
_HISTORY_LIMIT = 64 * 1024 * 1024
#: ``capture N`` takes at most this many pictures (a DCF folder holds 9999).
MAX_CAPTURES = 9999

log = logging.getLogger("ptpip.cli")
_ASCII_INT = re.compile(r"[0-9]+")


def capture_wait(settings: Settings) -> float:
    """How long a capture waits for the camera to announce its image: 30 s (a long exposure
    takes its time) unless ``--timeout`` says otherwise."""
    return settings.timeout if settings.timeout_explicit else max(30.0, settings.timeout)


def capture_path(target: Path, amount: int, index: int) -> Path:
    """The seed's naming: one image keeps the name; several get -1, -2, … before the suffix."""
    if amount == 1:
        return target
    return target.with_name(f"{target.stem}-{index}{target.suffix}")


def capture_paths(target: Path, amount: int) -> list[Path]:
    return [capture_path(target, amount, i) for i in range(1, amount + 1)]


@command(
    "capture",
    "capture [AMOUNT] [PATH|view]",
    "captures one or more images",
    f"AMOUNT images (default 1, at most {MAX_CAPTURES}). With PATH, each image is saved there\n"
    "(several get -1, -2, … added to the name); with `view` the image is shown on the\n"
    "live-view page when one runs (`liveview` in the shell or server), else opened in the\n"
    "browser.",
    aliases=("shoot", "shutter", "snap"),
)
async def _capture(ctx: Context, args: list[str]) -> Output:
    amount = 1
    usage = "capture [N] [PATH|view]"
    if args and args[0].lstrip("-+").isnumeric():  # an amount, well-formed or not ("²")
        word = args.pop(0)
        if not _ASCII_INT.fullmatch(word.lstrip("-")):
            raise CommandError(f"capture: {word!r} is not an amount (1 to {MAX_CAPTURES})")
        amount = int(word)
        if not 1 <= amount <= MAX_CAPTURES:
            raise CommandError(
                f"capture: the amount must be at least 1 and at most {MAX_CAPTURES}, not {word}",
                usage=usage,
            )
    if len(args) > 1:
        raise CommandError("capture takes an amount and one path", usage=usage)
    target = args[0] if args else None
    view = target is not None and target.lower() == "view"
    base = Path(target).expanduser() if target and not view else None
    if base is not None:
        try:
            folder = open_folder(base.parent)  # checked before the shutter is released
        except StorageError as exc:
            raise CommandError(f"capture: {exc}") from None
        folder.close()
    results = []
    lines = []
    for i in range(1, amount + 1):
        entries = await ctx.camera.capture(timeout=capture_wait(ctx.settings))
        if not entries:
            raise CommandError("the camera took the picture but announced no new image")
        for n, entry in enumerate(entries):
            saved: Path | None = None
            shown_at: str | None = None
            if base is not None:
                dest = capture_path(base, amount, i)
                if n:
                    dest = dest.with_name(f"{dest.stem}_{n}{dest.suffix}")
                saved = await _save_to(ctx, entry, dest)
            elif view:
                name = safe_filename(entry.filename, "capture.jpg")
                saved = await _save_to(ctx, entry, _view_folder() / name)
                shown_at = _view(ctx, entry.filename, saved)
            where = f", saved to {saved}" if saved else ""
            where += f", shown at {shown_at}" if shown_at else ""
            handle = f" (0x{entry.handle:X})" if entry.handle is not None else " (preview)"
            lines.append(f"Image captured: {shown(entry.filename)}{handle}{where}")
            size = entry.info.compressed_size if entry.info else len(entry.preview or b"")
            results.append(
                {
                    "handle": entry.handle,
                    "filename": entry.filename,
                    "size": size,
                    "saved": str(saved) if saved else None,
                }
            )
    return Output("\n".join(lines) + "\n", results)


#: Pictures ``capture view`` opened are kept this long in the view cache.
_VIEW_KEEP = 7 * 24 * 3600


def _view_folder() -> Path:
    """Where ``capture view`` puts what it opens: ``$XDG_CACHE_HOME/ptpip/view``, with what
    is older than a week removed (a browser may still be showing the newer ones)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "ptpip" / "view"
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        now = time.time()
        for item in entries:
            old = now - item.stat(follow_symlinks=False).st_mtime > _VIEW_KEEP
            if old and item.is_file(follow_symlinks=False):
                os.unlink(item.path)
    return folder


def _view(ctx: Context, name: str, path: Path) -> str | None:
    """Show a capture on the live-view page when one runs in this process (its address),
    else open the file in the browser."""
    from ptpip.liveview import show_capture
    from ptpip.liveview.browser import open_browser

    url = show_capture(ctx.camera, name, path)
    if url is None:
        open_browser(path.resolve().as_uri())
    return url


async def _save_to(ctx: Context, entry: CapturedImage, dest: Path) -> Path:
    """Save to ``dest`` exactly (replacing it, as the seed does), via a new temporary file:
    a link planted at ``dest`` is replaced, never written through.

    The object itself when the camera made one; otherwise the preview it sent (Fuji).
    """
    try:
        with open_folder(dest.parent) as folder, atomic_file(Destination(folder, dest.name)) as fh:
            if entry.handle is not None:
                await ctx.camera.download(entry.handle, fh, info=entry.info)
            elif entry.preview is not None:
                fh.write(entry.preview)
    except (StorageError, OSError) as exc:
        message = str(exc) if isinstance(exc, StorageError) else f"cannot write {dest}: {exc}"
        raise CommandError(f"capture: the picture was taken but not saved: {message}") from None
    return dest


def _date(info: ObjectInfo) -> str:
    d = info.capture_date or info.modification_date
    return d.strftime("%Y-%m-%d %H:%M:%S") if d else ""


@command(
    "ls",
    "ls [PATH]",
    "lists the storages and the folders and files on them",
    "PATH limits the listing to a folder or file, e.g. `ls DCIM/100PTPIP`.",
)
async def _ls(ctx: Context, args: list[str]) -> Output:
    prefix = args[0].strip("/") if args else ""
    storages = await ctx.camera.storages()
    entries = [e for e in await ctx.camera.list_objects() if _under(e, prefix)]
    if prefix and not entries:
        raise CommandError(f"no folder or file {prefix!r} on the camera")
    listed = {sid for sid, _ in storages}
    # Objects whose storage the camera does not list (seen on a Canon dump) still show.
    unknown = sorted({e.info.storage_id for e in entries} - listed)
    lines = []
    for sid, s in storages:
        label = shown(s.storage_description) + (
            f' "{shown(s.volume_label)}"' if s.volume_label else ""
        )
        lines.append(
            f"store_{sid:08x}  {label}  {render.human_size(s.free_space_bytes)} free"
            f" of {render.human_size(s.max_capacity)}"
        )
        lines.extend(_ls_table(entries, sid))
    for sid in unknown:
        lines.append(f"store_{sid:08x}  unknown storage 0x{sid:08X} (not in the camera's list)")
        lines.extend(_ls_table(entries, sid))
    data = {
        "storages": [
            {
                "id": f"{sid:#010x}",
                "description": s.storage_description,
                "volumeLabel": s.volume_label,
                "freeSpaceInBytes": s.free_space_bytes,
                "maxCapacity": s.max_capacity,
                "listed": True,
            }
            for sid, s in storages
        ]
        + [
            {
                "id": f"{sid:#010x}",
                "description": f"unknown storage 0x{sid:08X}",
                "volumeLabel": "",
                "freeSpaceInBytes": None,
                "maxCapacity": None,
                "listed": False,
            }
            for sid in unknown
        ],
        "objects": [_entry_json(e) for e in entries],
    }
    return Output("\n".join(lines) + "\n", data)


def _ls_table(entries: list[ObjectEntry], storage_id: int) -> list[str]:
    """The rows of one storage (nothing when it holds no object)."""
    rows = []
    for e in entries:
        if e.info.storage_id != storage_id:
            continue
        size = "" if e.is_folder else render.human_size(e.info.compressed_size)
        path = str(e.path) + ("/" if e.is_folder else "")
        if e.problem:
            path += f"  ({e.problem})"
        rows.append([f"0x{e.handle:X}", size, _date(e.info), shown(path)])
    if not rows:
        return []
    return [render.table(("Handle", "Size", "Date", "Path"), rows, dashes=False).strip("\n")]


def _under(entry: ObjectEntry, prefix: str) -> bool:
    path = str(entry.path)
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _entry_json(e: ObjectEntry) -> dict[str, object]:
    d = e.info.capture_date or e.info.modification_date
    return {
        "handle": e.handle,
        "path": str(e.path),
        "folder": e.is_folder,
        "size": None if e.is_folder else e.info.compressed_size,
        "format": f"{e.info.object_format:#06x}",
        "storage": f"{e.info.storage_id:#010x}",
        "date": d.isoformat() if d else None,
        "problem": e.problem,
    }


@command(
    "download",
    "download [HANDLE|PATH...] [--to DIR] [--new]",
    "downloads files (all of them when none is named)",
    "Files are streamed to NAME.part and renamed when complete; an interrupted download\n"
    "resumes; files already complete are skipped. --to DIR picks the folder (default: the\n"
    "current one); --new skips every file downloaded into DIR before (even if moved since).\n"
    "Two files that would land on the same name (two cards, names that differ only in case\n"
    "or in characters a file name cannot hold) both land: the later one gets -2, -3, ….\n"
    "Files that cannot be fetched are reported one per line and the rest go on (exit 3).",
    json_words=True,
)
async def _download(ctx: Context, args: list[str]) -> Output:
    target = Path(".")
    only_new = False
    wanted: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "--to":
            value = next(it, None)
            if value is None:
                raise CommandError("--to needs a folder", usage="download [...] --to DIR")
            target = Path(value).expanduser()
        elif arg.startswith("--to="):
            target = Path(arg[5:]).expanduser()
        elif arg == "--new":
            only_new = True
        else:
            wanted.append(arg)
    entries = [e for e in await ctx.camera.list_objects() if not e.is_folder]
    chosen = _select(entries, wanted)
    try:
        root = open_folder(target)
    except StorageError as exc:
        raise CommandError(f"download: {exc}") from None
    with root:
        history = _History(root)
        serial = (await ctx.camera.device_info()).serial_number
        names = _local_names(chosen)
        done, skipped, failed, results = 0, 0, 0, []
        with _progress(ctx) as (progress, note):
            for entry in chosen:
                key = _history_key(serial, entry)
                if only_new and key in history:
                    skipped += 1
                    continue
                record, state = await _fetch(ctx, root, entry, names[entry.handle], progress)
                results.append(record)
                if state == "failed":
                    failed += 1
                    note(f"ptpip: download: {_camera_path(entry)}: {record['error']}")
                    if not ctx.camera.connection.is_open:
                        break  # the camera is gone: the rest would fail the same way
                    continue
                history.add(key)
                if state == "saved":
                    done += 1
                else:
                    skipped += 1
                if not ctx.json_output:
                    word = "already there" if state == "skipped" else state
                    note(f"{_camera_path(entry)} -> {record['path']} ({word})")
    summary = f"{done} downloaded, {skipped} skipped" + (f", {failed} failed" if failed else "")
    text = f"{summary}, into {target.resolve()}\n"
    data = {"downloaded": done, "skipped": skipped, "failed": failed, "files": results}
    if failed and not ctx.camera.connection.is_open:
        raise ctx.camera.connection_lost()
    return Output(text, data, error=f"download: {summary}" if failed else None)


def _camera_path(entry: ObjectEntry) -> str:
    """The file as the camera names it (its folders as listed), for the user to recognise."""
    name = entry.info.filename or entry.path.name
    parent = entry.path.parent
    return shown(name if str(parent) == "." else f"{parent}/{name}")


async def _fetch(
    ctx: Context,
    root: Folder,
    entry: ObjectEntry,
    local: PurePosixPath,
    progress: _ProgressFactory,
) -> tuple[dict[str, object], str]:
    """Download one file; returns its JSON record and "saved", "skipped" or "failed"."""
    record: dict[str, object] = {"handle": entry.handle, "path": str(root.path / local)}
    if entry.problem is not None:
        record["error"] = f"skipped: {entry.problem}"
        return record, "failed"
    try:
        with open_folder(root.path, local.parent.parts) as folder:
            report = progress(entry.info.filename, entry.info.compressed_size)
            dest = Destination(folder, local.name)
            done = await ctx.camera.fetch(entry.handle, dest, info=entry.info, progress=report)
    except (StorageError, RemoteProtocolError, ResponseError, Timeout, ConnectionClosed) as exc:
        record["error"] = str(exc)
        return record, "failed"
    record["path"] = str(done.path)
    record["skipped"] = done.skipped
    return record, "skipped" if done.skipped else "saved"


def _local_names(entries: list[ObjectEntry]) -> dict[int, PurePosixPath]:
    """Where each file goes below the target: the camera's path, each part made safe, and
    unique: two files that would share a name (two cards, names that differ only in case or
    in characters no file name can hold) both land, the later one as NAME-2.EXT, …"""

    def key(path: PurePosixPath) -> str:
        return str(path).casefold()

    planned = {
        e.handle: PurePosixPath(*(safe_filename(p, f"object_{e.handle:08x}") for p in e.path.parts))
        for e in entries
    }
    taken: set[str] = set()
    clashes: list[ObjectEntry] = []
    # the first by card, then by the camera's own path, keeps the plain name
    for entry in sorted(entries, key=lambda e: (e.info.storage_id, str(e.path), e.handle)):
        k = key(planned[entry.handle])
        if k in taken:
            clashes.append(entry)
        taken.add(k)
    for entry in clashes:
        path = planned[entry.handle]
        stem, suffix = PurePosixPath(path.name).stem, PurePosixPath(path.name).suffix
        n = 2
        while key(path.with_name(f"{stem}-{n}{suffix}")) in taken:  # ends: taken is finite
            n += 1
        planned[entry.handle] = path.with_name(f"{stem}-{n}{suffix}")
        taken.add(key(planned[entry.handle]))
    return planned


def _select(entries: list[ObjectEntry], wanted: list[str]) -> list[ObjectEntry]:
    if not wanted:
        return entries
    chosen: list[ObjectEntry] = []
    for word in wanted:
        matches = []
        if word.lower().startswith("0x") or word.isdigit():
            try:
                handle = int(word, 0)
            except ValueError:
                raise CommandError(f"{word!r} is neither a handle nor a path") from None
            matches = [e for e in entries if e.handle == handle]
        else:
            prefix = word.strip("/")
            matches = [
                e
                for e in entries
                if str(e.path) == prefix
                or str(e.path).startswith(prefix + "/")
                or e.path.name == prefix
            ]
        if not matches:
            raise CommandError(f"no file {word!r} on the camera: see `ls`")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def _history_key(serial: str, entry: ObjectEntry) -> str:
    return f"{serial}|{entry.path}|{entry.info.compressed_size}|{_date(entry.info)}"


class _History:
    """The files downloaded into a folder before (``--new``), kept in ``.ptpip-history.json``.

    Every addition is merged with what is on disk under a lock and written to a new file
    that replaces the old one: concurrent downloads into one folder lose nothing, and a
    link planted under either name is never written through.
    """

    def __init__(self, folder: Folder) -> None:
        self.folder = folder
        self.keys = self._read()

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def _read(self) -> set[str]:
        try:
            fd = self.folder.open(_HISTORY, os.O_RDONLY)
        except StorageError:
            return set()
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(_HISTORY_LIMIT + 1)
        try:
            data = json.loads(raw) if len(raw) <= _HISTORY_LIMIT else None
        except (ValueError, UnicodeDecodeError):
            return set()
        return {str(x) for x in data} if isinstance(data, list) else set()

    def add(self, key: str) -> None:
        self.keys.add(key)
        try:
            with self._locked():
                self.keys |= self._read()
                with atomic_file(Destination(self.folder, _HISTORY)) as fh:
                    fh.write(json.dumps(sorted(self.keys), indent=1).encode())
        except (StorageError, OSError) as exc:
            log.warning("cannot record the download history in %s: %s", self.folder.path, exc)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The folder itself is the lock (no lock file left behind); held for the few
        milliseconds of a merge, never across an await."""
        fd = self.folder.fd
        if fd is None or fcntl is None:  # pragma: no cover - no dir fds (Windows)
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


_ProgressFactory = Callable[[str, int | None], Progress | None]
_Note = Callable[[str], None]


@contextlib.contextmanager
def _progress(ctx: Context) -> Iterator[tuple[_ProgressFactory, _Note]]:
    """A progress bar with rate and ETA on a terminal; nothing when piped or in JSON mode.

    Also yields how to print a status line: above the bar while it is shown (a plain print
    would land in the middle of the bar's line)."""
    if ctx.json_output or not ctx.stderr.isatty():
        yield (lambda filename, total: None), ctx.note
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=ctx.stderr),
        transient=True,
    )
    with bar:

        def factory(filename: str, total: int | None) -> Progress | None:
            task = bar.add_task(escape(shown(filename)), total=total)  # no markup from a camera

            def report(done: int, size: int | None) -> None:
                bar.update(task, completed=done, total=size)

            return report

        def note(text: str) -> None:
            bar.console.print(text, markup=False, highlight=False, soft_wrap=True)

        yield factory, note


@command(
    "watch",
    "watch [--count N] [--timeout SECONDS]",
    "prints the camera's events as they arrive",
    "Runs until Ctrl-C, or until N events arrived or SECONDS passed.",
)
async def _watch(ctx: Context, args: list[str]) -> Output:
    count: int | None = None
    timeout: float | None = None
    usage = "watch [--count N] [--timeout SECONDS]"
    it = iter(args)
    for arg in it:
        value = next(it, None)
        if arg == "--count" and value is not None and _ASCII_INT.fullmatch(value):
            count = int(value)
        elif arg == "--timeout" and value is not None:
            timeout = _seconds(value, "watch: --timeout", usage)
        else:
            raise UsageError(f"watch: bad option {arg!r}", usage=usage)
    seen = 0
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    with ctx.camera.events() as events:
        while count is None or seen < count:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                event = await events.get(remaining)
            except TimeoutError:
                break
            except StopAsyncIteration:  # the camera went away: that is not a success
                raise ctx.camera.connection_lost() from None
            line, record = await _describe_event(
                ctx, event.code, event.params, event.transaction_id
            )
            seen += 1
            ctx.emit(render.to_json(record) if ctx.json_output else shown(line) + "\n")
    # Everything was written as it came (JSON Lines with --json): nothing more to print.
    return Output("", None)


def _seconds(text: str, what: str, usage: str) -> float:
    """A positive, finite number of seconds (no nan, inf, 0 or negative)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0) or not text.isascii():
        raise UsageError(f"{what} must be a positive number of seconds, not {text!r}", usage=usage)
    return value


async def _describe_event(
    ctx: Context, code: int, params: tuple[int, ...], tid: int | None
) -> tuple[str, dict[str, object]]:
    stamp = datetime.now().strftime("%H:%M:%S")
    ev_name = name(CodeKind.EVENT, code, ctx.vendor)
    record: dict[str, object] = {
        "time": datetime.now().isoformat(timespec="milliseconds"),
        "code": f"{code:#06x}",
        "name": ev_name,
        "params": [f"{p:#x}" for p in params],
    }
    detail = ", ".join(f"0x{p:X}" for p in params)
    with contextlib.suppress(PtpError):
        if code == EventCode.DEVICE_PROP_CHANGED and params:
            prop = params[0]
            value = await ctx.get_value(prop)
            label = format_value(prop, value, ctx.vendor)
            detail = f"{prop_label(prop, ctx.vendor)} = {label}"
            record["property"] = f"{prop:#06x}"
            record["value"] = label
        elif code in (EventCode.OBJECT_ADDED, EventCode.OBJECT_INFO_CHANGED) and params:
            info = await ctx.camera.object_info(params[0])
            detail = f"{info.filename} (0x{params[0]:X})"
            record["filename"] = info.filename
    return f"{stamp} {ev_name} {detail}".rstrip(), record


import ptpip.cli.liveview  # noqa: E402, F401  (registers liveview)
