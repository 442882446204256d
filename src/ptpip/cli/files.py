"""Commands that move images: capture, ls, download, watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from ptpip.cli import render
from ptpip.cli.commands import CommandError, Output, command
from ptpip.cli.context import Context
from ptpip.client.camera import CapturedImage, ObjectEntry
from ptpip.client.download import Progress, safe_filename
from ptpip.errors import PtpError
from ptpip.props import format_value, prop_label
from ptpip.ptp.codes import EventCode
from ptpip.ptp.datasets import ObjectInfo
from ptpip.ptp.names import CodeKind, name

__all__ = ["capture_paths"]

_HISTORY = ".ptpip-history.json"


def capture_paths(target: Path, amount: int) -> list[Path]:
    """The seed's naming: one image keeps the name; several get -1, -2, … before the suffix."""
    if amount == 1:
        return [target]
    return [target.with_name(f"{target.stem}-{i}{target.suffix}") for i in range(1, amount + 1)]


@command(
    "capture",
    "capture [AMOUNT] [PATH|view]",
    "captures one or more images",
    "AMOUNT images (default 1). With PATH, each image is saved there (several get -1, -2, …\n"
    "added to the name); with `view` the image is shown on the live-view page when one runs\n"
    "(`liveview` in the shell or server), else opened in the browser.",
    aliases=("shoot", "shutter", "snap"),
)
async def _capture(ctx: Context, args: list[str]) -> Output:
    amount = 1
    if args and args[0].lstrip("-").isdigit():
        amount = int(args.pop(0))
        if amount < 1:
            raise CommandError("capture: the amount must be at least 1")
    target = args[0] if args else None
    if len(args) > 1:
        raise CommandError("capture takes an amount and one path", usage="capture [N] [PATH|view]")
    view = target is not None and target.lower() == "view"
    paths = capture_paths(Path(target).expanduser(), amount) if target and not view else []
    results = []
    lines = []
    for i in range(amount):
        entries = await ctx.camera.capture(timeout=max(30.0, ctx.settings.timeout))
        if not entries:
            raise CommandError("the camera took the picture but announced no new image")
        for n, entry in enumerate(entries):
            saved: Path | None = None
            shown: str | None = None
            if paths:
                dest = (
                    paths[i]
                    if n == 0
                    else paths[i].with_name(f"{paths[i].stem}_{n}{paths[i].suffix}")
                )
                saved = await _save_to(ctx, entry, dest)
            elif view:
                folder = Path(tempfile.mkdtemp(prefix="ptpip-view-"))
                saved = await _save_to(ctx, entry, folder / entry.filename)
                shown = _view(ctx, entry.filename, saved)
            where = f", saved to {saved}" if saved else ""
            where += f", shown at {shown}" if shown else ""
            handle = f" (0x{entry.handle:X})" if entry.handle is not None else " (preview)"
            lines.append(f"Image captured: {entry.filename}{handle}{where}")
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
    """Save to ``dest`` exactly (overwriting, as the seed does), via a .part file.

    The object itself when the camera made one; otherwise the preview it sent (Fuji).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with part.open("wb") as fh:
        if entry.handle is not None:
            await ctx.camera.download(entry.handle, fh, info=entry.info)
        elif entry.preview is not None:
            fh.write(entry.preview)
    os.replace(part, dest)
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
    lines = []
    for sid, s in storages:
        label = s.storage_description + (f' "{s.volume_label}"' if s.volume_label else "")
        lines.append(
            f"store_{sid:08x}  {label}  {render.human_size(s.free_space_bytes)} free"
            f" of {render.human_size(s.max_capacity)}"
        )
        rows = []
        for e in entries:
            if e.info.storage_id != sid:
                continue
            size = "" if e.is_folder else render.human_size(e.info.compressed_size)
            path = str(e.path) + ("/" if e.is_folder else "")
            rows.append([f"0x{e.handle:X}", size, _date(e.info), path])
        if rows:
            table = render.table(("Handle", "Size", "Date", "Path"), rows, dashes=False)
            lines.append(table.strip("\n"))
    data = {
        "storages": [
            {
                "id": f"{sid:#010x}",
                "description": s.storage_description,
                "volumeLabel": s.volume_label,
                "freeSpaceInBytes": s.free_space_bytes,
                "maxCapacity": s.max_capacity,
            }
            for sid, s in storages
        ],
        "objects": [_entry_json(e) for e in entries],
    }
    return Output("\n".join(lines) + "\n", data)


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
    }


@command(
    "download",
    "download [HANDLE|PATH...] [--to DIR] [--new]",
    "downloads files (all of them when none is named)",
    "Files are streamed to NAME.part and renamed when complete; an interrupted download\n"
    "resumes; files already complete are skipped. --to DIR picks the folder (default: the\n"
    "current one); --new skips every file downloaded into DIR before (even if moved since).",
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
    target.mkdir(parents=True, exist_ok=True)
    entries = [e for e in await ctx.camera.list_objects() if not e.is_folder]
    chosen = _select(entries, wanted)
    history = _load_history(target)
    serial = (await ctx.camera.device_info()).serial_number
    done, skipped, results = 0, 0, []
    with _progress(ctx) as (progress, note):
        for entry in chosen:
            key = _history_key(serial, entry)
            if only_new and key in history:
                skipped += 1
                continue
            dest = target / _local_name(entry)
            dest.parent.mkdir(parents=True, exist_ok=True)
            existed = dest.exists() and dest.stat().st_size == entry.info.compressed_size
            report = progress(entry.info.filename, entry.info.compressed_size)
            path = await ctx.camera.download(entry.handle, dest, info=entry.info, progress=report)
            history.add(key)
            _save_history(target, history)
            if existed:
                skipped += 1
            else:
                done += 1
            results.append({"handle": entry.handle, "path": str(path), "skipped": existed})
            if not ctx.json_output:
                state = "already there" if existed else "saved"
                note(f"{entry.path} -> {path} ({state})")
    text = f"{done} downloaded, {skipped} skipped, into {target.resolve()}\n"
    return Output(text, {"downloaded": done, "skipped": skipped, "files": results})


def _local_name(entry: ObjectEntry) -> Path:
    """The camera path, each part made safe: DCIM/100PTPIP/IMG_0001.JPG stays that way."""
    parts = [safe_filename(p, f"object_{entry.handle:08x}") for p in entry.path.parts]
    return Path(*parts)


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


def _load_history(folder: Path) -> set[str]:
    try:
        data = json.loads((folder / _HISTORY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(x) for x in data} if isinstance(data, list) else set()


def _save_history(folder: Path, history: set[str]) -> None:
    tmp = folder / (_HISTORY + ".tmp")
    tmp.write_text(json.dumps(sorted(history), indent=1), encoding="utf-8")
    os.replace(tmp, folder / _HISTORY)


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
            task = bar.add_task(filename, total=total)

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
    it = iter(args)
    for arg in it:
        value = next(it, None)
        try:
            if arg == "--count" and value is not None:
                count = int(value)
            elif arg == "--timeout" and value is not None:
                timeout = float(value)
            else:
                raise ValueError
        except ValueError:
            raise CommandError(
                f"watch: bad option {arg!r}", usage="watch [--count N] [--timeout S]"
            ) from None
    seen: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    with ctx.camera.events() as events:
        while count is None or len(seen) < count:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                event = await events.get(remaining)
            except (TimeoutError, StopAsyncIteration):
                break
            line, record = await _describe_event(
                ctx, event.code, event.params, event.transaction_id
            )
            seen.append(record)
            if ctx.json_output:
                ctx.emit(json.dumps(record) + "\n")
            else:
                ctx.emit(line + "\n")
    # Everything was written as it came (JSON Lines with --json): nothing more to print.
    return Output("", None)


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
