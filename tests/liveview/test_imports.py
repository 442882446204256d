"""The command stays light: registering `liveview` loads neither aiohttp nor the server."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_commands_load_without_aiohttp() -> None:
    code = (
        "import json, sys\n"
        "import ptpip.cli.files, ptpip.cli.main\n"
        "from ptpip.cli.commands import COMMANDS\n"
        "print(json.dumps({'liveview': 'liveview' in COMMANDS, 'modules': sorted(sys.modules)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    data = json.loads(out.stdout)
    assert data["liveview"] is True
    loaded = set(data["modules"])
    assert "aiohttp" not in loaded
    assert "ptpip.liveview.server" not in loaded
