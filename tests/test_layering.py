"""The shape's rules: the protocol core does no I/O and imports nothing above it."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = [
    "ptpip.errors",
    "ptpip.ptp.codes",
    "ptpip.ptp.names",
    "ptpip.ptp.values",
    "ptpip.ptp.datasets",
    "ptpip.ip.packets",
    "ptpip.ip.framing",
    "ptpip.ip.initiator",
    "ptpip.ip.responder",
    "ptpip.vendors.canon.codec",
    "ptpip.vendors.fuji.codec",
    "ptpip.vendors.leica.codec",
]
FORBIDDEN = ["socket", "asyncio", "selectors", "ssl", "threading", "ptpip.client", "ptpip.camera"]


def test_core_imports_no_io_and_nothing_above_it() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    assert set(CORE) <= loaded
    bad = sorted(m for m in loaded for f in FORBIDDEN if m == f or m.startswith(f + "."))
    assert bad == []


def test_cli_help_starts_without_the_client() -> None:
    code = (
        "import sys, json\n"
        "from ptpip.cli.main import main\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    assert "ptpip.client.camera" not in loaded
    assert "ptpip.camera.server" not in loaded
