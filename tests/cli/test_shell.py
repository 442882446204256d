"""The interactive shell (-i) in a pseudo-terminal: prompt, completion, history, Ctrl-C, Ctrl-D."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from ptpip.testing import RunningCamera
from tests.cli.conftest import LOOPBACK, PTPIP, WAIT, Cli, free_port, wait_for_session

PROMPT = "> "
READY = "Interactive shell ready to receive commands."


class Shell:
    def __init__(self, cli: Cli, *flags: str) -> None:
        self.cli = cli
        self.child = pexpect.spawn(
            str(PTPIP),
            [*cli.target, *(flags or ("-i",))],
            env={**cli.env(), "TERM": "xterm"},
            encoding="utf-8",
            timeout=WAIT,
            dimensions=(24, 200),
        )
        self.transcript: list[str] = []

    def expect(self, pattern: str) -> str:
        """Wait for the literal ``pattern``; returns what came before it."""
        self.child.expect_exact(pattern)
        before = self.child.before or ""
        self.transcript.append(before + pattern)
        return before

    def command(self, line: str) -> str:
        """Run ``line`` and return its output (without the echoed line)."""
        self.child.sendline(line)
        out = self.expect(PROMPT)
        echoed, _, rest = out.partition("\r\n")
        assert echoed.endswith(line), out
        return rest.replace("\r\n", "\n")

    def close(self) -> int:
        self.child.sendeof()
        self.child.expect(pexpect.EOF)
        self.transcript.append(self.child.before or "")
        self.child.close()
        assert "Traceback" not in "".join(self.transcript)
        status = self.child.exitstatus
        assert status is not None, self.transcript
        return status


@pytest.fixture
def shell(cli: Cli) -> Iterator[Shell]:
    sh = Shell(cli)
    sh.expect(READY)
    sh.expect(PROMPT)
    yield sh
    if sh.child.isalive():
        sh.child.terminate(force=True)


def test_prompt_command_and_ctrl_d(shell: Shell) -> None:
    shell.command("set iso 400")
    assert shell.command("get iso") == "400 (0x190)\n"
    assert shell.command("") == ""
    assert shell.close() == 0


def test_errors_keep_the_shell_going(shell: Shell) -> None:
    assert shell.command("get nonsense").startswith("error: unknown property 'nonsense'")
    assert shell.command("set iso") == "error: set: missing argument\nusage: set PROPERTY VALUE\n"
    assert shell.command("bogus") == "error: unknown command 'bogus': try `help`\n"
    assert '"liveview" ' in shell.command("help")
    assert shell.command("get iso json").startswith('{"property":"iso"')
    assert shell.close() == 0


def test_tab_completes_commands_and_property_names(shell: Shell) -> None:
    shell.child.send("ge\t")
    shell.expect("get")
    shell.child.send(" wh\t")
    shell.expect("whitebalance")
    shell.child.sendline("")
    out = shell.expect(PROMPT)
    assert "automatic (0x2)" in out or "(0x" in out
    shell.child.send("sna\t")
    shell.expect("snap")
    shell.child.sendcontrol("u")  # clear the line
    shell.child.send("set exp-\t")
    shell.expect("exp-bias")
    shell.child.send(" -2/\t")
    shell.expect("-2/3")
    shell.child.sendline("")
    assert "-2/3" in shell.expect(PROMPT)
    assert shell.close() == 0


def test_history_is_written_on_exit_and_read_back(cli: Cli, shell: Shell) -> None:
    shell.command("get iso")
    shell.command("get whitebalance")
    assert shell.close() == 0
    history = cli.home / "state" / "ptpip" / "history"
    assert history.read_text().splitlines()[-2:] == ["get iso", "get whitebalance"]
    again = Shell(cli, "--interactive")
    again.expect(PROMPT)
    again.child.send("\x1b[A")  # up arrow: the last command of the previous session
    again.expect("get whitebalance")
    again.child.sendline("")
    assert "(0x" in again.expect(PROMPT)
    again.child.sendline("exit")
    again.child.expect(pexpect.EOF)
    again.child.close()
    assert again.child.exitstatus == 0


def test_ctrl_c_at_the_prompt_keeps_the_shell(shell: Shell) -> None:
    shell.child.send("get is")
    # the echo shows readline is reading: a Ctrl-C in the first instants after the prompt
    # is printed, before CPython's readline loop waits for input, is only seen at the next key
    shell.expect("get is")
    shell.child.sendcontrol("c")
    shell.expect(PROMPT)
    assert shell.command("get iso").endswith(")\n")  # the half-typed line was dropped
    assert shell.close() == 0


def test_ctrl_c_cancels_the_running_command_not_the_shell(shell: Shell) -> None:
    shell.child.sendline("watch --timeout 30")
    shell.expect("watch --timeout 30")
    time.sleep(0.5)  # let it start waiting for events
    started = time.monotonic()
    shell.child.sendcontrol("c")
    assert "cancelled" in shell.expect(PROMPT)
    assert time.monotonic() - started < 10
    assert shell.command("get iso").endswith(")\n")
    assert shell.close() == 0


def test_no_sleep_before_each_prompt(shell: Shell) -> None:
    started = time.monotonic()
    for _ in range(5):
        shell.command("help get")
    assert time.monotonic() - started < 4  # the seed slept 1 s before every prompt
    assert shell.close() == 0


def test_connect_failure_exits_105(cli: Cli) -> None:
    child = pexpect.spawn(
        str(PTPIP),
        ["-h", LOOPBACK, "-p", str(free_port()), "-i"],
        env=cli.env(),
        encoding="utf-8",
        timeout=WAIT,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 105
    assert "Error connecting to responder" in (child.before or "")


def test_the_camera_going_away_ends_the_shell(tmp_path: Path) -> None:
    with RunningCamera(storage=tmp_path / "card", host=LOOPBACK, port=0) as cam:
        sh = Shell(Cli(tmp_path, cam.port))
        try:
            sh.expect(PROMPT)
            wait_for_session(cam)
        except BaseException:
            sh.child.terminate(force=True)
            raise
    try:
        sh.child.sendline("get iso")
        sh.child.expect(pexpect.EOF)
    finally:
        sh.child.close(force=True)
    out = sh.child.before or ""
    assert "the camera closed the connection" in out
    assert "Traceback" not in out
    assert sh.child.exitstatus == 105
