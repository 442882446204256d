"""The fault matrix's fixtures and its summary table at the end of the session."""

from __future__ import annotations

import pytest

from tests.client.conftest import _private_config
from tests.faults.harness import summary_lines

__all__ = ["_private_config"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = summary_lines()
    if not lines:
        return
    terminalreporter.section("fault matrix")
    for line in lines:
        terminalreporter.write_line(line)
