"""What must never happen while sockets are fuzzed, caught as findings: ERROR log records
(``log.exception`` in the camera, asyncio's "Task exception was never retrieved"), the event
loop's exception handler, and exceptions escaping a thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fuzz.report import Counts, Finding, Findings, exception_finding

__all__ = ["Watch", "run_vendors"]

#: One vendor's share of a socket run: (vendor, inputs, deadline, watch) -> its counts.
VendorRun = Callable[[str, int, float, "Watch"], Awaitable[Counts]]

_LOGGERS = ("ptpip", "asyncio")


class Watch(logging.Handler):
    """Turns ERROR records, loop exception contexts and thread exceptions into findings.

    ``target`` names what is being fuzzed now; ``recent`` holds the last inputs sent, so a
    finding that surfaces asynchronously shows what led to it.
    """

    def __init__(self, findings: Findings) -> None:
        super().__init__(logging.ERROR)
        self.findings = findings
        self.target = "sockets"
        self.recent: deque[bytes] = deque(maxlen=8)
        self.count = 0
        self._saved: list[tuple[logging.Logger, bool, int]] = []

    # -- sources ------------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            finding = exception_finding(self.target, record.exc_info[1], self._last())
            finding.kind = f"logged {finding.kind}"
            finding.message = f"{record.name}: {record.getMessage()}: {finding.message}"
        else:
            finding = Finding(
                self.target, "logged error", f"{record.name}: {record.getMessage()}"[:500]
            )
            finding.data = self._last()
        self._add(finding)

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message", ""))
        if isinstance(exc, BaseException):
            finding = exception_finding(self.target, exc, self._last())
            finding.kind = f"unretrieved {finding.kind}"
            finding.message = f"{message}: {finding.message}"
        else:
            finding = Finding(self.target, "loop error", message[:500], repr(context)[:2000])
        self._add(finding)

    def thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            finding = exception_finding(self.target, args.exc_value, self._last())
            finding.kind = f"thread {finding.kind}"
            self._add(finding)

    # -- plumbing -----------------------------------------------------------------------------

    def _last(self) -> bytes | None:
        return self.recent[-1] if self.recent else None

    def _add(self, finding: Finding) -> None:
        if self.recent:
            finding.detail += "\nlast inputs sent, oldest first:\n" + "\n".join(
                f"  {data[:512].hex()}" for data in self.recent
            )
        self.count += 1
        self.findings.add(finding)

    def note(self, data: bytes) -> None:
        self.recent.append(data)

    @contextmanager
    def installed(self) -> Iterator[Watch]:
        """Hook the loggers (kept off stderr: a hostile run logs a warning per bad input) and
        threading.excepthook for the duration."""
        previous_hook = threading.excepthook
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.propagate, logger.level))
            logger.addHandler(self)
            logger.propagate = False
            if logger.level == logging.NOTSET or logger.level > logging.ERROR:
                logger.setLevel(logging.ERROR)
        threading.excepthook = self.thread_exception
        try:
            yield self
        finally:
            threading.excepthook = previous_hook
            for logger, propagate, level in self._saved:
                logger.removeHandler(self)
                logger.propagate = propagate
                logger.setLevel(level)
            self._saved.clear()


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def run_vendors(
    label: str,
    vendors: Sequence[str],
    total: int,
    seconds: float,
    findings: Findings,
    run: VendorRun,
) -> dict[str, Counts]:
    """``run`` for each vendor in turn, on one loop under one :class:`Watch`, sharing
    ``total`` inputs and ``seconds`` (time one leaves over goes to the next)."""
    results: dict[str, Counts] = {}
    watch = Watch(findings)

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(watch.loop_exception)
        start = time.monotonic()
        for index, name in enumerate(vendors):
            left = seconds - (time.monotonic() - start)
            deadline = time.monotonic() + left / (len(vendors) - index)
            results[f"{label}[{name}]"] = await run(name, total // len(vendors), deadline, watch)

    with watch.installed():
        asyncio.run(main())
    return results
