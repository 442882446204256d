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
    "ptpip.vendors.nikon.codec",
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


#: The seed CLI's -t names map onto dialects by name: the one place outside vendors/ that may.
_SEED_NAMES = "ptpip/cli/settings.py"


def test_the_shared_layers_never_name_a_dialect() -> None:
    """A dialect is one folder: outside vendors/<dialect>/ nothing says Vendor.CANON or
    imports ptpip.vendors.canon (they go through ptpip.vendors.registry)."""
    import ast
    from pathlib import Path

    import ptpip
    from ptpip.ptp.codes import Vendor

    root = Path(ptpip.__file__).parent
    dialects = {v.name for v in Vendor if v is not Vendor.GENERIC}
    packages = {v.value for v in Vendor if v is not Vendor.GENERIC}
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        if relative.startswith("ptpip/vendors/") and path.parent.name in packages:
            continue
        if relative in ("ptpip/vendors/__init__.py", _SEED_NAMES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Vendor"
                and node.attr in dialects
            ):
                found.append(f"{relative}:{node.lineno}: Vendor.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["ptpip", "vendors"] and len(parts) > 2 and parts[2] in packages:
                    found.append(f"{relative}:{node.lineno}: from {node.module}")
    assert found == []
