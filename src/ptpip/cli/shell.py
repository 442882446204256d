"""Interactive shell (``-i``): readline history, tab completion, Ctrl-C cancels the command.

The camera lives on an event loop in a worker thread; the prompt runs in the main thread so
that readline and Ctrl-C behave as in any shell: Ctrl-C at the prompt clears the line, Ctrl-C
during a command cancels that command (a PTP Cancel when a transfer is running), Ctrl-D quits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from ptpip.cli.commands import COMMANDS, CommandError, find_command, run_command
from ptpip.cli.context import Context
from ptpip.cli.render import to_json
from ptpip.cli.settings import CliError, Settings
from ptpip.errors import ExitStatus, PtpError

__all__ = ["history_path", "run_shell_blocking"]

T = TypeVar("T")
_PROP_COMMANDS = ("get", "set", "describe")


def history_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ptpip" / "history"


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ptpip-io", daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Wait for ``coro``; Ctrl-C cancels it and re-raises KeyboardInterrupt."""
        future = self.submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            with contextlib.suppress(BaseException):
                future.result(timeout=5)
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def run_shell_blocking(settings: Settings) -> int:
    """Connect, then read and run commands until EOF."""
    import ptpip.cli.files  # noqa: F401  (registers capture, ls, download, watch)
    from ptpip.cli.main import connect_for_cli

    io = _LoopThread()
    try:
        try:
            camera, recorder = io.run(connect_for_cli(settings))
        except KeyboardInterrupt:
            return 130
        except CliError as exc:
            sys.stderr.write(f"{exc}\n")
            return exc.code
        ctx = Context(camera, settings, interactive=True)
        try:
            return _repl(ctx, io)
        finally:
            from ptpip.cli.liveview import stop_background

            with contextlib.suppress(BaseException):
                io.run(stop_background(camera))  # a `liveview` page: live view off first
            with contextlib.suppress(BaseException):
                io.run(camera.close())
            if recorder is not None:
                recorder.close()
    finally:
        io.stop()


def _repl(ctx: Context, io: _LoopThread) -> int:
    readline = _setup_readline(ctx, io)
    print("Interactive shell ready to receive commands. Type `help`, or Ctrl-D to quit.")
    while True:
        try:
            line = input("> ")
        except EOFError:
            print()
            break
        except KeyboardInterrupt:
            print()
            continue
        line = line.strip()
        if not line:
            continue
        if line in ("exit", "quit"):
            break
        try:
            out = io.run(run_command(ctx, line))
        except KeyboardInterrupt:
            print("\ncancelled")
            continue
        except CommandError as exc:
            print(f"error: {exc}" + (f"\n{exc.usage}" if exc.usage else ""))
            continue
        except PtpError as exc:
            print(f"error: {exc}")
            if not ctx.camera.connection.is_open:
                print("the camera closed the connection; bye")
                _save_history(readline)
                return ExitStatus.CONNECT
            continue
        except OSError as exc:  # a file a command writes
            print(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
            continue
        text = out.text
        if ctx.json_output:
            text = to_json(out.data, pretty=ctx.pretty) if out.data is not None else ""
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
    _save_history(readline)
    return ExitStatus.OK


def _setup_readline(ctx: Context, io: _LoopThread) -> Any:
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return None
    path = history_path()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)
    readline.set_completer_delims(" \t")
    readline.parse_and_bind("tab: complete")
    completer = _Completer(ctx, io)
    readline.set_completer(completer.complete)
    return readline


def _save_history(readline: Any) -> None:
    if readline is None:
        return
    path = history_path()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(path)


class _Completer:
    """Completes command names, property names, and (for `set`) the allowed values."""

    def __init__(self, ctx: Context, io: _LoopThread) -> None:
        self.ctx = ctx
        self.io = io
        self.matches: list[str] = []
        self._values: dict[str, list[str]] = {}

    def candidates(self, line: str) -> list[str]:
        from ptpip.props import unified_names
        from ptpip.ptp.names import CodeKind, names

        words = line.split()
        if line.endswith(" "):
            words.append("")
        if len(words) <= 1:
            prefix = words[0] if words else ""
            pool = [*COMMANDS, *(a for c in COMMANDS.values() for a in c.aliases)]
            return sorted(w for w in pool if w.startswith(prefix))
        cmd = find_command(words[0])
        if cmd is None or cmd.name not in _PROP_COMMANDS:
            return []
        if len(words) == 2:
            vendor = self.ctx.vendor
            pool = [*unified_names(vendor), *names(CodeKind.PROPERTY, vendor).values()]
            # same-case matches first: "wh" must complete to "whitebalance" alone, not stop
            # at the ambiguity with the code-table name "WhiteBalance"
            exact = {w for w in pool if w.startswith(words[1])}
            return sorted(exact or {w for w in pool if w.lower().startswith(words[1].lower())})
        if cmd.name == "set" and len(words) == 3:
            return [v for v in self._allowed(words[1]) if v.lower().startswith(words[2].lower())]
        return []

    def _allowed(self, prop: str) -> list[str]:
        if prop not in self._values:
            from ptpip.props import describe_values, resolve_property

            try:
                code = resolve_property(prop, self.ctx.vendor)
                future = self.io.submit(self.ctx.camera.describe(code))
                desc = future.result(timeout=2)
                values = [v.replace(" ", "") for v in describe_values(desc, self.ctx.vendor)]
            except Exception:
                values = []
            self._values[prop] = values
        return self._values[prop]

    def complete(self, text: str, state: int) -> str | None:
        if state == 0:
            try:
                import readline

                line = readline.get_line_buffer()[: readline.get_endidx()]
            except ImportError:  # pragma: no cover
                line = text
            self.matches = self.candidates(line)
        return self.matches[state] if state < len(self.matches) else None
