"""``ptpip simulate`` (a virtual camera from the command line) and the demo script."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ptpip.camera.store import generate_sample_images
from ptpip.ip.packets import InitCommandRequest
from tests.cli.conftest import LOOPBACK, PTPIP, REPO, TIMEOUT, Background, Cli, free_port

LISTENING = r"^listening on 127\.0\.0\.1:(?P<port>\d+)$"


@pytest.fixture
def tool(tmp_path: Path) -> Cli:
    """A runner with no camera: ``simulate`` is the camera."""
    return Cli(tmp_path, 0)


def simulate(cli: Cli, *args: str) -> tuple[Background, int]:
    sim = cli.start("simulate", "-p", "0", *args, raw=True)
    port = int(sim.out.wait_for(LISTENING)["port"])
    return sim, port


def test_simulate_serves_a_camera_and_stops_on_sigint(tool: Cli) -> None:
    sim, port = simulate(tool, "--model", "Test Cam 1")
    client = Cli(tool.home, port)
    out = client.ok("info").stdout
    assert "Model:             Test Cam 1" in out
    assert "IMG_0001.JPG" in client.ok("ls").stdout  # the default card has sample images
    started = time.monotonic()
    assert sim.stop(signal.SIGINT) == 0
    assert time.monotonic() - started < 10
    assert "Traceback" not in sim.err.text(timeout=5)


def test_simulate_stops_on_sigterm(tool: Cli) -> None:
    sim, _ = simulate(tool, "--vendor", "generic")
    started = time.monotonic()
    assert sim.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert "Traceback" not in sim.err.text(timeout=5)


def test_simulate_on_a_chosen_port(tool: Cli) -> None:
    port = free_port()
    sim = tool.start("simulate", "--host", LOOPBACK, "--port", str(port), raw=True)
    assert int(sim.out.wait_for(LISTENING)["port"]) == port
    Cli(tool.home, port).ok("get", "iso")
    assert sim.stop() == 0


def test_simulate_serves_the_storage_folder(tool: Cli, tmp_path: Path) -> None:
    from PIL import Image

    card = tmp_path / "mycard"
    folder = card / "DCIM" / "100TEST"
    folder.mkdir(parents=True)
    image = folder / "MINE0001.JPG"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image, "JPEG")
    sim, port = simulate(tool, "--storage", str(card))
    client = Cli(tool.home, port)
    assert client.ok("ls").stdout.splitlines()[-1].endswith("DCIM/100TEST/MINE0001.JPG")
    client.ok("download", "MINE0001.JPG", "--to", str(tmp_path / "got"))
    got = tmp_path / "got" / "DCIM" / "100TEST" / "MINE0001.JPG"
    assert got.read_bytes() == image.read_bytes()
    client.ok("capture")  # a capture lands on that card too
    assert len(list(card.rglob("*.JPG"))) == 2
    assert sim.stop() == 0


def card_digest(root: Path) -> dict[str, str | None]:
    return {
        str(p.relative_to(root)): None if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def test_simulate_read_only_never_changes_the_card(tool: Cli, tmp_path: Path) -> None:
    card = tmp_path / "realcard"
    generate_sample_images(card / "DCIM" / "100CARD", count=2)
    before = card_digest(card)
    sim, port = simulate(tool, "--storage", str(card), "--read-only")
    client = Cli(tool.home, port)
    deleted = client("opreq", "0x100B", "0xFFFFFFFF")  # delete everything
    assert "StoreReadOnly (0x200E)" in deleted.stdout + deleted.stderr, str(deleted)
    captured = client("capture")
    assert captured.returncode != 0 and "StoreReadOnly" in captured.stderr, str(captured)
    assert client.ok("ls").stdout.count("IMG_000") == 2
    assert sim.stop() == 0
    assert card_digest(card) == before


def test_simulate_read_only_without_a_storage_serves_sample_images(tool: Cli) -> None:
    sim, port = simulate(tool, "--read-only")
    assert "IMG_0004.JPG" in Cli(tool.home, port).ok("ls").stdout
    assert sim.stop() == 0


def test_simulate_read_only_needs_an_existing_folder(tool: Cli, tmp_path: Path) -> None:
    run = tool.raw("simulate", "-p", "0", "--read-only", "--storage", str(tmp_path / "none"))
    assert run.returncode == 2, str(run)
    assert "cannot serve" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "none").exists()


def test_simulate_handshake_and_idle_timeouts(tool: Cli) -> None:
    sim, port = simulate(tool, "--handshake-timeout", "0.3", "--idle-timeout", "0.6")
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed: no Init
        assert time.monotonic() - started < 3
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as client:
        client.sendall(InitCommandRequest(bytes(16), "idle client").encode())
        ack = client.recv(8)
        assert ack[4:8] == b"\x02\0\0\0"  # InitCommandAck
        started = time.monotonic()
        while client.recv(4096):  # the rest of the ack, then the close
            pass
        assert 0.4 < time.monotonic() - started < 3  # idle for 0.6 s: the session ended
    assert sim.stop() == 0
    assert "Traceback" not in sim.err.text(timeout=5)


#: A request's line under -v: TID, operation name and code, parameters, response name and
#: code with its parameters, data bytes both ways, duration.
REQUEST_LINE = (
    r"^ptpip simulate: tid (?P<tid>\d+): (?P<op>\w+) \((?P<code>0x[0-9A-F]{4})\) "
    r"\[(?P<params>[0-9A-Fx, ]*)\] -> (?P<rc>\w+) \((?P<rcode>0x[0-9A-F]{4})\) "
    r"\[(?P<rparams>[0-9A-Fx, ]*)\], data-out (?P<out>\d+) B, data-in (?P<in>\d+) B, "
    r"(?P<ms>\d+\.\d) ms$"
)
PACKET_LINE = (
    r"^ptpip simulate: packet (?P<dir>in|out) \((?P<role>\w+) 127\.0\.0\.1\) "
    r"(?P<length>\d+) B: (?P<hex>(?:[0-9a-f]{2} ?)+)(?: \.\.\. \(\+(?P<more>\d+) B\))?$"
)


def request_lines(stderr: str) -> list[re.Match[str]]:
    return [m for line in stderr.splitlines() if (m := re.match(REQUEST_LINE, line))]


def test_simulate_v_logs_one_line_per_request(tool: Cli) -> None:
    sim, port = simulate(tool, "-v")
    client = Cli(tool.home, port)
    assert "Model:" in client.ok("info").stdout
    client.ok("set", "iso", "400")
    assert sim.stop() == 0
    err = sim.err.text(timeout=5)
    lines = request_lines(err)
    ops = [(m["op"], m["code"]) for m in lines]
    assert ("GetDeviceInfo", "0x1001") in ops and ("GetStorageIDs", "0x1004") in ops, err
    by_op = {m["op"]: m for m in lines}
    info = by_op["GetDeviceInfo"]
    assert (info["params"], info["rc"], info["rcode"], info["out"]) == ("", "OK", "0x2001", "0")
    assert int(info["in"]) > 100
    ids = by_op["GetStorageIDs"]
    assert (ids["rc"], ids["out"], ids["in"]) == ("OK", "0", "8")  # [0x00010001]
    opened = by_op["OpenSession"]
    assert re.fullmatch(r"0x[0-9A-F]+", opened["params"]) and opened["in"] == "0"
    iso = by_op["SetDevicePropValue"]
    assert (iso["code"], iso["params"], iso["rc"]) == ("0x1016", "0x500F", "OK")
    assert (iso["out"], iso["in"]) == ("2", "0")  # a UINT16 value
    assert all(float(m["ms"]) < 5000 for m in lines)
    # requests only: the packets are -vv's
    assert not re.search(r"^ptpip simulate: packet ", err, re.M)
    assert "Traceback" not in err


def test_simulate_vendor_names_in_the_request_log(tool: Cli) -> None:
    """Fuji's 0x902B has its Fuji name (vendor-aware), via raw containers."""
    from ptpip.ip.framing import ContainerType, encode_container
    from ptpip.ip.packets import FujiInitCommandRequest

    sim, port = simulate(tool, "-t", "fuji", "-v")
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as sock:
        sock.sendall(FujiInitCommandRequest(bytes(16), "log test").encode())
        reader = sock.makefile("rb")
        assert len(reader.read(68)) == 68
        for tid, code, params in ((1, 0x1002, (1,)), (2, 0x902B, ()), (3, 0x1003, ())):
            sock.sendall(encode_container(ContainerType.COMMAND, code, tid, params=params))
            for _ in range(2):
                head = reader.read(12)
                length, kind = int.from_bytes(head[:4], "little"), head[4]
                reader.read(length - 12)
                if kind == ContainerType.RESPONSE:
                    break
    assert sim.stop() == 0
    lines = {m["code"]: m for m in request_lines(sim.err.text(timeout=5))}
    assert lines["0x902B"]["op"] != "0x902B" and lines["0x902B"]["rc"] == "OK"
    assert int(lines["0x902B"]["in"]) > 0
    assert lines["0x1002"]["params"] == "0x1"


def test_simulate_vv_logs_the_packets_too(tool: Cli) -> None:
    sim, port = simulate(tool, "-vv")
    Cli(tool.home, port).ok("info")
    # a packet that arrives in pieces is still one line, with its bytes in order
    init = InitCommandRequest(bytes(range(16)), "pieces").encode()
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (init[:3], init[3:20], init[20:]):
            sock.sendall(piece)
            time.sleep(0.1)
        assert sock.recv(8)[4:8] == b"\x02\0\0\0"
    assert sim.stop() == 0
    err = sim.err.text(timeout=5)
    assert request_lines(err)  # -vv includes -v
    packets = [m for line in err.splitlines() if (m := re.match(PACKET_LINE, line))]
    assert packets, err
    for m in packets:
        shown = bytes.fromhex(m["hex"])
        length = int(m["length"])
        assert len(shown) == min(length, 64)  # bounded: 64 bytes at most
        assert int(m["more"] or 0) == length - len(shown)
        assert int.from_bytes(shown[:4], "little") == length
    ins = [bytes.fromhex(m["hex"]) for m in packets if m["dir"] == "in"]
    outs = [bytes.fromhex(m["hex"]) for m in packets if m["dir"] == "out"]
    assert any(p[4:8] == b"\x01\0\0\0" for p in ins)  # the Init Command Requests
    assert init in ins  # the one sent in pieces, whole (48 bytes: all shown)
    assert any(p[4:8] == b"\x06\0\0\0" and p[12:14] == b"\x01\x10" for p in ins)
    assert any(p[4:8] == b"\x02\0\0\0" for p in outs)  # the ack
    assert any(p[4:8] == b"\x07\0\0\0" and p[8:10] == b"\x01\x20" for p in outs)
    assert any(m["more"] for m in packets if m["dir"] == "out")  # DeviceInfo's End Data
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "nonsense"], "invalid choice: 'nonsense'"),
        (["-p", "70000"], "value out of range"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--idle-timeout", "-1"], "not a number of seconds: '-1'"),
        (["--handshake-timeout", "nan"], "not a number of seconds: 'nan'"),
        (["--data-timeout", "soon"], "not a number of seconds: 'soon'"),
        (["--probe-timeout", "inf"], "not a number of seconds: 'inf'"),
    ],
)
def test_simulate_bad_arguments_exit_2(tool: Cli, args: list[str], message: str) -> None:
    run = tool.raw("simulate", *args)
    assert run.returncode == 2, str(run)
    assert message in run.stderr


def test_simulate_help(tool: Cli) -> None:
    run = tool.raw("simulate", "-?")
    assert run.returncode == 0, str(run)
    assert "usage: ptpip simulate" in run.stdout
    assert "--storage" in run.stdout


def test_simulate_on_a_busy_port_exits_1(tool: Cli) -> None:
    sim, port = simulate(tool)
    run = tool.raw("simulate", "-p", str(port))
    assert run.returncode == 1, str(run)
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert sim.stop() == 0


def test_the_demo_script(tmp_path: Path) -> None:
    """What ``make demo`` runs: simulate on a free port, then info, ls, capture, download,
    get and set, with the installed ``ptpip``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(PTPIP=str(PTPIP), HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path))
    try:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "demo.sh")],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 2,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"scripts/demo.sh did not finish within {TIMEOUT * 2} s")
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    assert "Traceback" not in out + done.stderr
    assert out.startswith("Virtual camera listening on 127.0.0.1:")
    steps = re.findall(r"^\$ ptpip -h 127\.0\.0\.1 -p \d+ (\w+)", out, re.M)
    assert steps == [
        "info",
        "ls",
        "capture",
        "download",
        "get",
        "set",
        "get",
        "get",
        "set",
        "describe",
    ]
    assert "Image captured: IMG_0005.JPG" in out
    assert "property iso successfully set to 800 (0x320)" in out
    assert "1/250 s" in out
    downloaded = out.split("Downloaded files:\n", 1)[1].split()
    assert downloaded == [f"./DCIM/100PTPIP/IMG_000{i}.JPG" for i in range(1, 6)]
    assert not list(tmp_path.glob("tmp.*"))  # the script cleaned up its work folder
